//! Bookings and shipments: allocation across warehouses, order-quantity rules, rejected input,
//! the booking lifecycle, expiry, idempotency and the ledger invariant.
//!
//! The helpers at the top are also used by `booking_concurrency.rs`.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

const TWO_POW_31: i64 = 2_147_483_648;

/// Selection of a booking in every request of these tests.
pub const BOOKING_FIELDS: &str = "id orderReference status expiresAt channel { id }
    lines { lineNumber sku { code } warehouse { id } quantity consumedQuantity
            releasedQuantity heldQuantity }
    shipments { id cancelled reference }";

/// Selection of a shipment.
const SHIPMENT_FIELDS: &str =
    "id reference cancelled lines { sku { code } warehouse { id } quantity }";

/// `bookInventory` returning the booking.
pub fn book_mutation() -> String {
    format!(
        "mutation($input: BookInventoryInput!) {{
            bookInventory(input: $input) {{ booking {{ {BOOKING_FIELDS} }} }} }}"
    )
}

/// `releaseBooking` returning the booking.
pub fn release_mutation() -> String {
    format!(
        "mutation($input: ReleaseBookingInput!) {{
            releaseBooking(input: $input) {{ booking {{ {BOOKING_FIELDS} }} }} }}"
    )
}

/// `createShipment` returning the shipment and its booking.
pub fn ship_mutation() -> String {
    format!(
        "mutation($input: CreateShipmentInput!) {{ createShipment(input: $input) {{
            shipment {{ {SHIPMENT_FIELDS} }} booking {{ {BOOKING_FIELDS} }} }} }}"
    )
}

/// `cancelShipment` returning the shipment and its booking.
pub fn cancel_mutation() -> String {
    format!(
        "mutation($input: CancelShipmentInput!) {{ cancelShipment(input: $input) {{
            shipment {{ {SHIPMENT_FIELDS} }} booking {{ {BOOKING_FIELDS} }} }} }}"
    )
}

const SET_WAREHOUSE_ACTIVE: &str = "mutation($input: SetWarehouseActiveInput!) {
    setWarehouseActive(input: $input) { warehouse { id active } } }";

/// Builds the input of a booking of `(SKU code, quantity)` lines in `channel`, for order
/// `ORDER-1`.
pub fn booking_input(channel: &str, lines: &[(&str, i64)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, quantity)| json!({ "sku": sku, "quantity": quantity }))
        .collect();
    json!({ "orderReference": "ORDER-1", "channelId": channel, "lines": lines })
}

/// Builds the input of a shipment of `(SKU code, warehouse id, quantity)` lines.
pub fn shipment_input(booking: &str, lines: &[(&str, &str, i64)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, warehouse, quantity)| {
            json!({ "sku": sku, "warehouseId": warehouse, "quantity": quantity })
        })
        .collect();
    json!({ "bookingId": booking, "lines": lines })
}

/// Books with `input`, which must succeed, and returns the booking.
pub async fn book(app: &TestApp, input: Value) -> Value {
    app.ok(&book_mutation(), json!({ "input": input })).await["bookInventory"]["booking"].clone()
}

/// Releases a whole booking and returns it.
pub async fn release_all(app: &TestApp, booking: &str) -> Value {
    let input = json!({ "input": { "bookingId": booking } });
    app.ok(&release_mutation(), input).await["releaseBooking"]["booking"].clone()
}

/// Ships, which must succeed, and returns the `createShipment` payload.
pub async fn ship(app: &TestApp, booking: &str, lines: &[(&str, &str, i64)]) -> Value {
    let input = json!({ "input": shipment_input(booking, lines) });
    app.ok(&ship_mutation(), input).await["createShipment"].clone()
}

/// Cancels a shipment, which must succeed, and returns the `cancelShipment` payload.
pub async fn cancel(app: &TestApp, shipment: &str) -> Value {
    let input = json!({ "input": { "id": shipment } });
    app.ok(&cancel_mutation(), input).await["cancelShipment"].clone()
}

/// Activates or deactivates a warehouse.
pub async fn set_active(app: &TestApp, warehouse: &str, active: bool) {
    let input = json!({ "input": { "id": warehouse, "active": active } });
    app.ok(SET_WAREHOUSE_ACTIVE, input).await;
}

/// Creates an active warehouse with an allocation priority and optional coordinates, links it
/// to `channel`, and returns its id.
pub async fn linked_warehouse(
    app: &TestApp,
    channel: &str,
    priority: i64,
    coordinates: Option<(f64, f64)>,
) -> String {
    let mut input =
        json!({ "name": format!("Priority {priority}"), "active": true, "priority": priority });
    if let Some((latitude, longitude)) = coordinates {
        input["latitude"] = json!(latitude);
        input["longitude"] = json!(longitude);
    }
    let create = "mutation($input: CreateWarehouseInput!) {
        createWarehouse(input: $input) { warehouse { id } } }";
    let data = app.ok(create, json!({ "input": input })).await;
    let warehouse = id_at(&data["createWarehouse"]["warehouse"]);
    app.link(&warehouse, channel).await;
    warehouse
}

/// Sets the inventory settings of a product that `settings` lists, keeping the others.
pub async fn configure(app: &TestApp, product: &str, mut settings: Value) {
    settings["productId"] = json!(product);
    let mutation = "mutation($input: SetProductInventoryConfigurationInput!) {
        setProductInventoryConfiguration(input: $input) { product { id } } }";
    app.ok(mutation, json!({ "input": settings })).await;
}

/// Creates a channel with one linked warehouse per entry of `stocks` and SKU `sku` with that
/// many units on hand in each. Returns the channel, the warehouses and the product.
pub async fn stocked_channel(
    app: &TestApp,
    sku: &str,
    stocks: &[i64],
) -> (String, Vec<String>, String) {
    let (channel, warehouses) = app.channel_with_warehouses(stocks.len()).await;
    let product = app.create_product_with_sku(sku).await;
    for (warehouse, on_hand) in warehouses.iter().zip(stocks) {
        app.set_on_hand(sku, warehouse, *on_hand).await;
    }
    (channel, warehouses, product)
}

/// Quantities of one SKU, in one warehouse or summed over a channel, as `stock` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockLevel {
    pub on_hand: i64,
    pub booked: i64,
    pub available: i64,
}

impl StockLevel {
    fn from_json(value: &Value) -> StockLevel {
        StockLevel {
            on_hand: int(&value["onHand"]),
            booked: int(&value["booked"]),
            available: int(&value["available"]),
        }
    }
}

/// Reads the stock of `sku` in one warehouse, active or not. Fails when the SKU is not
/// stocked there.
pub async fn stock_in(app: &TestApp, sku: &str, warehouse: &str) -> StockLevel {
    let query = "query($skus: [String!]!, $warehouses: [ID!]) {
        stock(skus: $skus, warehouseIds: $warehouses) {
            byWarehouse { onHand booked available } } }";
    let data = app
        .ok(query, json!({ "skus": [sku], "warehouses": [warehouse] }))
        .await;
    let row = &data["stock"][0]["byWarehouse"][0];
    assert!(
        row.is_object(),
        "SKU {sku} is not stocked in warehouse {warehouse}: {}",
        pretty(&data)
    );
    StockLevel::from_json(row)
}

/// Reads the stock of `sku` summed over the active linked warehouses of `channel`.
pub async fn channel_stock(app: &TestApp, sku: &str, channel: &str) -> StockLevel {
    let query = "query($skus: [String!]!, $channel: ID) {
        stock(skus: $skus, channelId: $channel) { onHand booked available } }";
    let data = app
        .ok(query, json!({ "skus": [sku], "channel": channel }))
        .await;
    StockLevel::from_json(&data["stock"][0])
}

/// Reads a booking by id, or null when it does not exist.
pub async fn read_booking(app: &TestApp, booking: &str) -> Value {
    let query = format!("query($id: ID!) {{ booking(id: $id) {{ {BOOKING_FIELDS} }} }}");
    app.ok(&query, json!({ "id": booking })).await["booking"].clone()
}

/// Lists `(warehouse id, units)` of every line of a booking, sorted so that splits compare as
/// sets.
pub fn allocation(booking: &Value) -> Vec<(String, i64)> {
    let lines = booking["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("no lines in {}", pretty(booking)));
    let mut parts: Vec<(String, i64)> = lines
        .iter()
        .map(|line| {
            (
                line["warehouse"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                int(&line["quantity"]),
            )
        })
        .collect();
    parts.sort();
    parts
}

/// Sums the units a booking still holds over its lines.
pub fn held_total(booking: &Value) -> i64 {
    let lines = booking["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("no lines in {}", pretty(booking)));
    lines.iter().map(|line| int(&line["heldQuantity"])).sum()
}

/// Sorts pairs so an expected allocation compares with [`allocation`].
fn sorted(mut parts: Vec<(String, i64)>) -> Vec<(String, i64)> {
    parts.sort();
    parts
}

/// Formats the instant `millis` milliseconds from now (negative for the past) as RFC 3339.
pub fn instant_in(millis: i64) -> String {
    (Utc::now() + chrono::Duration::milliseconds(millis))
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Encodes the global id of a booking or shipment that was never created.
fn missing(node_type: stockroom::ids::NodeType) -> String {
    stockroom::ids::encode(node_type, 987_654_321).to_string()
}

/// Everything a rejected request must leave as it was: the tables, the bookings with their
/// lines and shipments, and the ledger count the API reports.
struct World {
    tables: Snapshot,
    bookings: Value,
    ledger_total: i64,
}

async fn world(app: &TestApp) -> World {
    let query = format!("{{ bookings(first: 500) {{ totalCount nodes {{ {BOOKING_FIELDS} }} }} }}");
    let bookings = app.ok(&query, json!({})).await["bookings"].clone();
    let ledger = app
        .ok("{ inventoryLedger { totalCount } }", json!({}))
        .await;
    World {
        tables: app.snapshot().await,
        bookings,
        ledger_total: int(&ledger["inventoryLedger"]["totalCount"]),
    }
}

/// Sends a request that must fail with `code` naming `field`, checks that nothing changed, and
/// returns the error's `extensions`.
async fn assert_rejected(
    app: &TestApp,
    query: &str,
    variables: Value,
    code: &str,
    field: Option<&str>,
) -> Value {
    let before = world(app).await;
    let body = app.gql(query, variables.clone()).await;
    let error = body["errors"][0].clone();
    assert!(
        error.is_object(),
        "expected {code} for {variables}, got {}",
        pretty(&body)
    );
    let err = api_error(&error);
    assert_eq!(err.code, code, "code for {variables}: {err:?}");
    assert_eq!(
        err.field.as_deref(),
        field,
        "field for {variables}: {err:?}"
    );
    assert!(!err.message.is_empty(), "a message for {variables}");

    let request_label = format!("the rejected request {variables}");
    app.assert_unchanged(&before.tables, &request_label).await;
    let after = world(app).await;
    assert_eq!(
        before.bookings, after.bookings,
        "bookings or shipments changed after {request_label}"
    );
    assert_eq!(
        before.ledger_total, after.ledger_total,
        "inventoryLedger totalCount changed after {request_label}"
    );
    error["extensions"].clone()
}

/// Rejects a booking of `input` with `code` naming `field`, changing nothing.
async fn assert_booking_rejected(
    app: &TestApp,
    input: Value,
    code: &str,
    field: Option<&str>,
) -> Value {
    assert_rejected(
        app,
        &book_mutation(),
        json!({ "input": input }),
        code,
        field,
    )
    .await
}

/// Reads the ledger rows of `kind`, oldest first, from the table.
async fn ledger_of_kind(app: &TestApp, kind: &str) -> Vec<entity::inventory_ledger::Model> {
    app.ledger_rows()
        .await
        .into_iter()
        .filter(|row| row.kind == kind)
        .collect()
}

/// Sums `onHandDelta` and `bookedDelta` of the ledger of `sku` in `warehouse`, read through
/// `inventoryLedger`.
async fn ledger_sums(app: &TestApp, sku: &str, warehouse: &str) -> (i64, i64) {
    let query = "query($filter: LedgerEntryFilter) {
        inventoryLedger(filter: $filter, first: 500) {
            totalCount nodes { onHandDelta bookedDelta } } }";
    let filter = json!({ "filter": { "sku": sku, "warehouseId": warehouse } });
    let data = app.ok(query, filter).await;
    let ledger = &data["inventoryLedger"];
    let rows = ledger["nodes"].as_array().expect("nodes is a list");
    assert_eq!(
        rows.len() as i64,
        int(&ledger["totalCount"]),
        "the whole ledger fits one page"
    );
    rows.iter().fold((0, 0), |(on_hand, booked), row| {
        (
            on_hand + int(&row["onHandDelta"]),
            booked + int(&row["bookedDelta"]),
        )
    })
}

// ---------------------------------------------------------------- booking and allocation

both_databases!(booking_holds_without_touching_on_hand, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "B-1", &[10]).await;

    let booking = book(app, booking_input(&channel, &[("B-1", 4)])).await;
    assert_eq!(booking["status"], "ACTIVE", "a new booking is active");
    assert_eq!(booking["orderReference"], "ORDER-1", "orderReference");
    assert_eq!(booking["channel"]["id"], channel.as_str(), "channel");
    assert_eq!(
        allocation(&booking),
        [(warehouses[0].clone(), 4)],
        "all units in the one warehouse"
    );
    assert_eq!(held_total(&booking), 4, "heldQuantity");

    let expected = StockLevel {
        on_hand: 10,
        booked: 4,
        available: 6,
    };
    assert_eq!(
        stock_in(app, "B-1", &warehouses[0]).await,
        expected,
        "the warehouse"
    );
    assert_eq!(
        channel_stock(app, "B-1", &channel).await,
        expected,
        "the channel"
    );
    let booked = ledger_of_kind(app, "BOOKED").await;
    assert_eq!(booked.len(), 1, "one BOOKED ledger row");
    assert_eq!(
        (booked[0].on_hand_delta, booked[0].booked_delta),
        (0, 4),
        "BOOKED deltas"
    );
    assert_eq!(
        booked[0].reference.as_deref(),
        Some("ORDER-1"),
        "the order is the ledger reference"
    );
    app.assert_ledger_balances().await;
});

both_databases!(failing_second_line_books_nothing, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "A-1", &[5]).await;
    app.create_product_with_sku("A-2").await;
    app.set_on_hand("A-2", &warehouses[0], 1).await;

    let input = booking_input(&channel, &[("A-1", 3), ("A-2", 2)]);
    let extensions =
        assert_booking_rejected(app, input, "INSUFFICIENT_STOCK", Some("lines.1.quantity")).await;
    assert_eq!(
        extensions["available"], 1,
        "extensions.available of the second line"
    );
    assert_eq!(
        stock_in(app, "A-1", &warehouses[0]).await.booked,
        0,
        "the first line holds nothing"
    );
});

both_databases!(
    priority_lowest_number_then_most_available,
    |app| async move {
        let channel = app.create_channel("Web").await;
        let last = linked_warehouse(app, &channel, 2, None).await;
        let small = linked_warehouse(app, &channel, 1, None).await;
        let large = linked_warehouse(app, &channel, 1, None).await;
        app.create_product_with_sku("P-1").await;
        for (warehouse, on_hand) in [(&last, 10), (&small, 3), (&large, 5)] {
            app.set_on_hand("P-1", warehouse, on_hand).await;
        }

        let booking = book(app, booking_input(&channel, &[("P-1", 6)])).await;
        assert_eq!(
            allocation(&booking),
            sorted(vec![(large.clone(), 5), (small.clone(), 1)]),
            "priority 1 before priority 2, and the fuller of the two first"
        );
        let numbers: Vec<i64> = booking["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| int(&l["lineNumber"]))
            .collect();
        assert_eq!(
            numbers,
            [1, 1],
            "both parts of the split line keep line number 1"
        );
        assert_eq!(
            stock_in(app, "P-1", &last).await.booked,
            0,
            "priority 2 is untouched"
        );
    }
);

both_databases!(
    nearest_puts_uncoordinated_warehouses_last,
    |app| async move {
        let channel = app.create_channel("Web").await;
        let paris = linked_warehouse(app, &channel, 5, Some((48.8566, 2.3522))).await;
        let rome = linked_warehouse(app, &channel, 0, Some((41.9028, 12.4964))).await;
        let nowhere = linked_warehouse(app, &channel, 0, None).await;
        app.create_product_with_sku("N-1").await;
        for (warehouse, on_hand) in [(&paris, 2), (&rome, 5), (&nowhere, 10)] {
            app.set_on_hand("N-1", warehouse, on_hand).await;
        }

        let mut input = booking_input(&channel, &[("N-1", 8)]);
        input["strategy"] = json!("NEAREST");
        input["shipTo"] = json!({ "latitude": 51.5074, "longitude": -0.1278 });
        let booking = book(app, input).await;
        assert_eq!(
            allocation(&booking),
            sorted(vec![
                (paris.clone(), 2),
                (rome.clone(), 5),
                (nowhere.clone(), 1)
            ]),
            "from London: Paris, then Rome, then the warehouse without coordinates"
        );
    }
);

both_databases!(fewest_splits_uses_one_warehouse, |app| async move {
    let channel = app.create_channel("Web").await;
    let first = linked_warehouse(app, &channel, 0, None).await;
    let second = linked_warehouse(app, &channel, 1, None).await;
    app.create_product_with_sku("F-1").await;
    app.set_on_hand("F-1", &first, 4).await;
    app.set_on_hand("F-1", &second, 8).await;

    let mut input = booking_input(&channel, &[("F-1", 6)]);
    input["strategy"] = json!("FEWEST_SPLITS");
    let booking = book(app, input).await;
    assert_eq!(
        allocation(&booking),
        [(second.clone(), 6)],
        "the one warehouse that covers 6"
    );
});

both_databases!(only_active_linked_warehouses_supply, |app| async move {
    let channel = app.create_channel("Web").await;
    let linked = linked_warehouse(app, &channel, 1, None).await;
    let inactive = linked_warehouse(app, &channel, 0, None).await;
    let unlinked = app.create_warehouse("Unlinked").await;
    app.create_product_with_sku("L-1").await;
    app.set_on_hand("L-1", &linked, 2).await;
    app.set_on_hand("L-1", &inactive, 100).await;
    app.set_on_hand("L-1", &unlinked, 100).await;
    set_active(app, &inactive, false).await;

    let extensions = assert_booking_rejected(
        app,
        booking_input(&channel, &[("L-1", 3)]),
        "INSUFFICIENT_STOCK",
        Some("lines.0.quantity"),
    )
    .await;
    assert_eq!(
        extensions["available"], 2,
        "only the active linked warehouse counts"
    );

    let booking = book(app, booking_input(&channel, &[("L-1", 2)])).await;
    assert_eq!(
        allocation(&booking),
        [(linked.clone(), 2)],
        "booked in the active linked warehouse"
    );
});

both_databases!(deficit_warehouse_hides_no_stock, |app| async move {
    let (channel, warehouses) = app.channel_with_warehouses(2).await;
    app.create_product_with_sku("DF-1").await;
    // On hand 2 under a safety stock of 5 leaves the first warehouse 3 units short.
    app.set_stock("DF-1", &warehouses[0], 2, 5).await;
    app.set_on_hand("DF-1", &warehouses[1], 4).await;
    assert_eq!(
        channel_stock(app, "DF-1", &channel).await.available,
        4,
        "the channel offers the 4 units"
    );

    let booking = book(app, booking_input(&channel, &[("DF-1", 4)])).await;
    assert_eq!(
        allocation(&booking),
        [(warehouses[1].clone(), 4)],
        "all 4 from the second warehouse"
    );
});

both_databases!(insufficient_stock_reports_available, |app| async move {
    let (channel, warehouses) = app.channel_with_warehouses(1).await;
    app.create_product_with_sku("I-1").await;
    app.set_stock("I-1", &warehouses[0], 5, 1).await;

    let input = booking_input(&channel, &[("I-1", 5)]);
    let extensions =
        assert_booking_rejected(app, input, "INSUFFICIENT_STOCK", Some("lines.0.quantity")).await;
    assert_eq!(extensions["available"], 4, "on hand 5 less safety stock 1");

    let booking = book(app, booking_input(&channel, &[("I-1", 4)])).await;
    assert_eq!(held_total(&booking), 4, "all available units can be booked");
});

both_databases!(back_orders_book_beyond_stock, |app| async move {
    let channel = app.create_channel("Web").await;
    let first = linked_warehouse(app, &channel, 0, None).await;
    let second = linked_warehouse(app, &channel, 1, None).await;
    let product = app.create_product_with_sku("BO-1").await;
    configure(app, &product, json!({ "allowBackOrders": true })).await;
    app.set_on_hand("BO-1", &first, 3).await;
    app.set_on_hand("BO-1", &second, 1).await;

    let booking = book(app, booking_input(&channel, &[("BO-1", 6)])).await;
    assert_eq!(held_total(&booking), 6, "the booking holds all 6 units");
    let (first_stock, second_stock) = (
        stock_in(app, "BO-1", &first).await,
        stock_in(app, "BO-1", &second).await,
    );
    assert_eq!(
        first_stock.available + second_stock.available,
        -2,
        "4 on hand, 6 booked"
    );
    assert_eq!(
        first_stock.available, -2,
        "the shortfall goes to the first warehouse by priority"
    );
    assert_eq!(
        second_stock.available, 0,
        "the second warehouse gives what it has"
    );
    app.assert_ledger_balances().await;
});

// ---------------------------------------------------------------- order-quantity rules

/// Stocks SKU `R-1` with 100 units under the rules minimum 4, maximum 12, allowed 6, 9, 10 and
/// 12, multiple of 3. Returns the channel and the warehouse.
async fn with_order_rules(app: &TestApp) -> (String, String) {
    let (channel, warehouses, product) = stocked_channel(app, "R-1", &[100]).await;
    let rules = json!({
        "minOrderQuantity": 4, "maxOrderQuantity": 12,
        "allowedOrderQuantities": [6, 9, 10, 12], "multipleOrderQuantity": 3
    });
    configure(app, &product, rules).await;
    (channel, warehouses[0].clone())
}

both_databases!(order_quantity_rules_apply_in_order, |app| async move {
    let (channel, _) = with_order_rules(app).await;
    // Each quantity breaks its rule and every later one, so only the order decides the report.
    let cases = [
        (2, "MIN_ORDER_QUANTITY", "minOrderQuantity", json!(4)),
        (14, "MAX_ORDER_QUANTITY", "maxOrderQuantity", json!(12)),
        (
            8,
            "ALLOWED_ORDER_QUANTITIES",
            "allowedOrderQuantities",
            json!([6, 9, 10, 12]),
        ),
        (
            10,
            "MULTIPLE_ORDER_QUANTITY",
            "multipleOrderQuantity",
            json!(3),
        ),
    ];
    for (quantity, rule, key, value) in cases {
        let input = booking_input(&channel, &[("R-1", quantity)]);
        let extensions =
            assert_booking_rejected(app, input, "ORDER_QUANTITY_RULE", Some("lines.0.quantity"))
                .await;
        assert_eq!(
            extensions["rule"], rule,
            "the rule {quantity} units break first"
        );
        assert_eq!(
            extensions[key], value,
            "extensions.{key} for {quantity} units"
        );
    }
});

both_databases!(order_quantity_rules_sum_a_skus_lines, |app| async move {
    let (channel, warehouse) = with_order_rules(app).await;

    // 9 and 6 are each allowed, but their sum 15 is above the maximum.
    let input = booking_input(&channel, &[("R-1", 9), ("R-1", 6)]);
    let extensions =
        assert_booking_rejected(app, input, "ORDER_QUANTITY_RULE", Some("lines.0.quantity")).await;
    assert_eq!(
        extensions["rule"], "MAX_ORDER_QUANTITY",
        "15 units in total break the maximum"
    );
    assert_eq!(
        extensions["requested"], 15,
        "extensions.requested is the SKU's total"
    );

    // 3 is below the minimum and not allowed, but 3 + 3, one spelled in lower case, is 6.
    let booking = book(app, booking_input(&channel, &[("R-1", 3), ("r-1", 3)])).await;
    assert_eq!(held_total(&booking), 6, "both lines are held");
    assert_eq!(
        stock_in(app, "R-1", &warehouse).await.booked,
        6,
        "6 units booked"
    );
});

both_databases!(unsellable_skus_cannot_be_booked, |app| async move {
    let (channel, warehouses, product) = stocked_channel(app, "OK-1", &[10]).await;
    let create = "mutation($input: CreateSkuInput!) { createSku(input: $input) { sku { id } } }";
    for (code, flag) in [("HIDDEN-1", "published"), ("DISPLAY-1", "purchasable")] {
        let mut input = json!({ "productId": product, "code": code });
        input[flag] = json!(false);
        app.ok(create, json!({ "input": input })).await;
        app.set_on_hand(code, &warehouses[0], 10).await;
    }

    for code in ["HIDDEN-1", "DISPLAY-1"] {
        let input = booking_input(&channel, &[("OK-1", 1), (code, 1)]);
        assert_booking_rejected(app, input, "INVALID_INPUT", Some("lines.1.sku")).await;
    }
});

// ---------------------------------------------------------------- rejected booking input

both_databases!(booking_rejects_bad_input, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "Q-1", &[10]).await;
    let valid = booking_input(&channel, &[("Q-1", 1)]);
    // Builds the valid booking with one field replaced.
    let valid_with = |key: &str, value: Value| {
        let mut input = valid.clone();
        input[key] = value;
        input
    };
    let two_lines = |quantity: i64| booking_input(&channel, &[("Q-1", 1), ("Q-1", quantity)]);
    let nearest_to = |ship_to: Value| {
        let mut input = valid_with("strategy", json!("NEAREST"));
        input["shipTo"] = ship_to;
        input
    };

    let cases = [
        (two_lines(0), "INVALID_INPUT", "lines.1.quantity"),
        (two_lines(-1), "INVALID_INPUT", "lines.1.quantity"),
        (two_lines(TWO_POW_31), "INVALID_INPUT", "lines.1.quantity"),
        (valid_with("lines", json!([])), "INVALID_INPUT", "lines"),
        (
            valid_with("orderReference", json!("  ")),
            "INVALID_INPUT",
            "orderReference",
        ),
        (
            booking_input(&channel, &[("Q-1", 1), ("NO-SUCH-SKU", 1)]),
            "NOT_FOUND",
            "lines.1.sku",
        ),
        (
            valid_with("channelId", json!(missing_id("Channel"))),
            "NOT_FOUND",
            "channelId",
        ),
        (
            valid_with("channelId", json!("not-an-id")),
            "INVALID_INPUT",
            "channelId",
        ),
        (
            valid_with("channelId", json!("")),
            "INVALID_INPUT",
            "channelId",
        ),
        (
            valid_with("channelId", json!(warehouses[0])),
            "INVALID_INPUT",
            "channelId",
        ),
        (
            valid_with("expiresAt", json!(instant_in(-60_000))),
            "INVALID_INPUT",
            "expiresAt",
        ),
        (
            valid_with("strategy", json!("NEAREST")),
            "INVALID_INPUT",
            "shipTo",
        ),
        (
            nearest_to(json!({ "latitude": 90.5, "longitude": 0.0 })),
            "INVALID_INPUT",
            "shipTo.latitude",
        ),
        (
            nearest_to(json!({ "latitude": -91.0, "longitude": 0.0 })),
            "INVALID_INPUT",
            "shipTo.latitude",
        ),
        (
            nearest_to(json!({ "latitude": 0.0, "longitude": 180.5 })),
            "INVALID_INPUT",
            "shipTo.longitude",
        ),
    ];
    for (input, code, field) in cases {
        assert_booking_rejected(app, input, code, Some(field)).await;
    }
});

both_databases!(booking_needs_an_active_linked_warehouse, |app| async move {
    let (_, warehouses, _) = stocked_channel(app, "W-1", &[10]).await;
    let unlinked = app.create_channel("No warehouses").await;
    let only_inactive = app.create_channel("Inactive warehouse").await;
    let inactive = app.create_inactive_warehouse("Closed").await;
    app.link(&inactive, &only_inactive).await;
    app.set_on_hand("W-1", &inactive, 10).await;

    for channel in [&unlinked, &only_inactive] {
        let input = booking_input(channel, &[("W-1", 1)]);
        assert_booking_rejected(app, input, "WAREHOUSE_INACTIVE", Some("channelId")).await;
    }
    assert_eq!(
        stock_in(app, "W-1", &warehouses[0]).await.booked,
        0,
        "no other channel's stock is used"
    );
});

// ---------------------------------------------------------------- rejected release and shipment

both_databases!(unknown_and_malformed_ids_are_rejected, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "ID-1", &[10]).await;
    let booking = book(app, booking_input(&channel, &[("ID-1", 2)])).await;
    let booking_id = booking["id"].as_str().unwrap().to_owned();
    let missing_booking = missing(stockroom::ids::NodeType::Booking);
    let missing_shipment = missing(stockroom::ids::NodeType::Shipment);
    let warehouse = warehouses[0].as_str();

    let release = release_mutation();
    let cases: [(&str, Value, &str, &str); 8] = [
        (
            &release,
            json!({ "bookingId": missing_booking }),
            "NOT_FOUND",
            "bookingId",
        ),
        (
            &release,
            json!({ "bookingId": "garbage" }),
            "INVALID_INPUT",
            "bookingId",
        ),
        (
            &release,
            json!({ "bookingId": channel }),
            "INVALID_INPUT",
            "bookingId",
        ),
        (
            &ship_mutation(),
            shipment_input(&missing_booking, &[("ID-1", warehouse, 1)]),
            "NOT_FOUND",
            "bookingId",
        ),
        (
            &ship_mutation(),
            shipment_input(&booking_id, &[("ID-1", "garbage", 1)]),
            "INVALID_INPUT",
            "lines.0.warehouseId",
        ),
        (
            &ship_mutation(),
            shipment_input(&booking_id, &[("ID-1", &missing_id("Warehouse"), 1)]),
            "NOT_FOUND",
            "lines.0.warehouseId",
        ),
        (
            &cancel_mutation(),
            json!({ "id": missing_shipment }),
            "NOT_FOUND",
            "id",
        ),
        (
            &cancel_mutation(),
            json!({ "id": booking_id }),
            "INVALID_INPUT",
            "id",
        ),
    ];
    for (mutation, input, code, field) in cases {
        assert_rejected(app, mutation, json!({ "input": input }), code, Some(field)).await;
    }
});

both_databases!(
    shipping_from_inactive_warehouse_is_rejected,
    |app| async move {
        let (channel, warehouses, _) = stocked_channel(app, "IN-1", &[10, 10]).await;
        let booking = book(app, booking_input(&channel, &[("IN-1", 3)])).await;
        let booking_id = booking["id"].as_str().unwrap();
        let (held_in, _) = allocation(&booking)[0].clone();
        set_active(app, &held_in, false).await;

        let input = shipment_input(booking_id, &[("IN-1", &held_in, 3)]);
        assert_rejected(
            app,
            &ship_mutation(),
            json!({ "input": input }),
            "WAREHOUSE_INACTIVE",
            Some("lines.0.warehouseId"),
        )
        .await;
        assert_eq!(
            stock_in(app, "IN-1", &held_in).await.on_hand,
            10,
            "nothing left the inactive warehouse"
        );
        assert!(
            warehouses.contains(&held_in),
            "the hold is in a warehouse of the channel"
        );
    }
);

both_databases!(shipping_more_than_held_is_rejected, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "MH-1", &[10]).await;
    let booking = book(app, booking_input(&channel, &[("MH-1", 3)])).await;
    let booking_id = booking["id"].as_str().unwrap();
    let warehouse = warehouses[0].as_str();

    let input = shipment_input(booking_id, &[("MH-1", warehouse, 4)]);
    let extensions = assert_rejected(
        app,
        &ship_mutation(),
        json!({ "input": input }),
        "INSUFFICIENT_STOCK",
        Some("lines.0.quantity"),
    )
    .await;
    assert_eq!(extensions["held"], 3, "extensions.held");

    // Two lines of 2 add up to more than the 3 held.
    let input = shipment_input(
        booking_id,
        &[("MH-1", warehouse, 2), ("MH-1", warehouse, 2)],
    );
    assert_rejected(
        app,
        &ship_mutation(),
        json!({ "input": input }),
        "INSUFFICIENT_STOCK",
        Some("lines.0.quantity"),
    )
    .await;
});

both_databases!(shipment_rejects_bad_lines, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "SL-1", &[10]).await;
    let other_channel = app.create_channel("Other").await;
    let foreign = linked_warehouse(app, &other_channel, 0, None).await;
    app.set_on_hand("SL-1", &foreign, 10).await;
    let booking = book(app, booking_input(&channel, &[("SL-1", 3)])).await;
    let booking_id = booking["id"].as_str().unwrap();
    let warehouse = warehouses[0].as_str();

    let cases = [
        (
            shipment_input(booking_id, &[("SL-1", warehouse, 0)]),
            "INVALID_INPUT",
            "lines.0.quantity",
        ),
        (
            shipment_input(booking_id, &[("SL-1", warehouse, -2)]),
            "INVALID_INPUT",
            "lines.0.quantity",
        ),
        (
            shipment_input(booking_id, &[("SL-1", warehouse, TWO_POW_31)]),
            "INVALID_INPUT",
            "lines.0.quantity",
        ),
        (shipment_input(booking_id, &[]), "INVALID_INPUT", "lines"),
        (
            shipment_input(booking_id, &[("NOPE-1", warehouse, 1)]),
            "NOT_FOUND",
            "lines.0.sku",
        ),
        (
            shipment_input(booking_id, &[("SL-1", &foreign, 1)]),
            "INVALID_INPUT",
            "lines.0.warehouseId",
        ),
    ];
    for (input, code, field) in cases {
        assert_rejected(
            app,
            &ship_mutation(),
            json!({ "input": input }),
            code,
            Some(field),
        )
        .await;
    }
});

both_databases!(release_rejects_what_is_not_held, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "RH-1", &[10]).await;
    app.create_product_with_sku("RH-2").await;
    app.set_on_hand("RH-2", &warehouses[0], 10).await;
    let booking = book(app, booking_input(&channel, &[("RH-1", 3)])).await;
    let booking_id = booking["id"].as_str().unwrap();

    let cases = [
        (
            json!([{ "sku": "RH-1", "quantity": 4 }]),
            "INVALID_INPUT",
            "lines.0.quantity",
        ),
        (
            json!([{ "sku": "RH-1", "quantity": 0 }]),
            "INVALID_INPUT",
            "lines.0.quantity",
        ),
        (
            json!([{ "sku": "RH-2" }]),
            "INVALID_INPUT",
            "lines.0.quantity",
        ),
        (json!([{ "sku": "NOPE-1" }]), "NOT_FOUND", "lines.0.sku"),
        (json!([]), "INVALID_INPUT", "lines"),
    ];
    for (lines, code, field) in cases {
        let input = json!({ "input": { "bookingId": booking_id, "lines": lines } });
        assert_rejected(app, &release_mutation(), input, code, Some(field)).await;
    }
});

both_databases!(double_release_is_booking_not_active, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "DR-1", &[10]).await;
    let booking = book(app, booking_input(&channel, &[("DR-1", 3)])).await;
    let booking_id = booking["id"].as_str().unwrap();
    release_all(app, booking_id).await;

    let input = json!({ "input": { "bookingId": booking_id } });
    let extensions = assert_rejected(
        app,
        &release_mutation(),
        input,
        "BOOKING_NOT_ACTIVE",
        Some("bookingId"),
    )
    .await;
    assert_eq!(extensions["status"], "RELEASED", "extensions.status");
    let ship = json!({ "input": shipment_input(booking_id, &[("DR-1", &warehouses[0], 1)]) });
    assert_rejected(
        app,
        &ship_mutation(),
        ship,
        "BOOKING_NOT_ACTIVE",
        Some("bookingId"),
    )
    .await;
    assert_eq!(
        stock_in(app, "DR-1", &warehouses[0]).await.booked,
        0,
        "released once"
    );
});

both_databases!(double_cancel_is_conflict, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "DC-1", &[10]).await;
    let booking = book(app, booking_input(&channel, &[("DC-1", 3)])).await;
    let shipped = ship(
        app,
        booking["id"].as_str().unwrap(),
        &[("DC-1", &warehouses[0], 3)],
    )
    .await;
    let shipment = shipped["shipment"]["id"].as_str().unwrap();
    cancel(app, shipment).await;

    let input = json!({ "input": { "id": shipment } });
    assert_rejected(app, &cancel_mutation(), input, "CONFLICT", Some("id")).await;
    let expected = StockLevel {
        on_hand: 10,
        booked: 3,
        available: 7,
    };
    assert_eq!(
        stock_in(app, "DC-1", &warehouses[0]).await,
        expected,
        "restored exactly once"
    );
});

// ---------------------------------------------------------------- lifecycle

both_databases!(release_all_gives_back_every_line, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "RA-1", &[10]).await;
    app.create_product_with_sku("RA-2").await;
    app.set_on_hand("RA-2", &warehouses[0], 5).await;
    let booking = book(app, booking_input(&channel, &[("RA-1", 4), ("RA-2", 5)])).await;

    let released = release_all(app, booking["id"].as_str().unwrap()).await;
    assert_eq!(
        released["status"], "RELEASED",
        "status after releasing everything"
    );
    assert_eq!(held_total(&released), 0, "nothing held");
    let first = StockLevel {
        on_hand: 10,
        booked: 0,
        available: 10,
    };
    assert_eq!(
        stock_in(app, "RA-1", &warehouses[0]).await,
        first,
        "RA-1 is available again"
    );
    let second = StockLevel {
        on_hand: 5,
        booked: 0,
        available: 5,
    };
    assert_eq!(
        stock_in(app, "RA-2", &warehouses[0]).await,
        second,
        "RA-2 is available again"
    );
    let rows = ledger_of_kind(app, "RELEASED").await;
    let deltas: Vec<(i64, i64)> = rows
        .iter()
        .map(|row| (row.on_hand_delta, row.booked_delta))
        .collect();
    assert_eq!(
        sorted_pairs(deltas),
        [(0, -5), (0, -4)],
        "one RELEASED row per line"
    );
    app.assert_ledger_balances().await;
});

fn sorted_pairs(mut pairs: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    pairs.sort();
    pairs
}

both_databases!(release_part_in_one_warehouse, |app| async move {
    let channel = app.create_channel("Web").await;
    let first = linked_warehouse(app, &channel, 0, None).await;
    let second = linked_warehouse(app, &channel, 1, None).await;
    app.create_product_with_sku("RP-1").await;
    app.set_on_hand("RP-1", &first, 3).await;
    app.set_on_hand("RP-1", &second, 5).await;
    let booking = book(app, booking_input(&channel, &[("RP-1", 6)])).await;
    let booking_id = booking["id"].as_str().unwrap();
    assert_eq!(
        allocation(&booking),
        sorted(vec![(first.clone(), 3), (second.clone(), 3)]),
        "split 3 + 3"
    );

    let part = json!({ "input": { "bookingId": booking_id,
        "lines": [{ "sku": "RP-1", "warehouseId": second, "quantity": 2 }] } });
    let released = app.ok(&release_mutation(), part).await["releaseBooking"]["booking"].clone();
    assert_eq!(
        released["status"], "ACTIVE",
        "a partly released booking stays active"
    );
    assert_eq!(held_total(&released), 4, "4 of 6 still held");
    assert_eq!(
        stock_in(app, "RP-1", &first).await.booked,
        3,
        "the first warehouse keeps its 3"
    );
    assert_eq!(
        stock_in(app, "RP-1", &second).await.booked,
        1,
        "the second warehouse keeps 1"
    );

    let rest = json!({ "input": { "bookingId": booking_id,
        "lines": [{ "sku": "RP-1", "quantity": 4 }] } });
    let released = app.ok(&release_mutation(), rest).await["releaseBooking"]["booking"].clone();
    assert_eq!(
        released["status"], "RELEASED",
        "releasing the rest releases the booking"
    );
    assert_eq!(
        stock_in(app, "RP-1", &first).await.booked,
        0,
        "first warehouse released"
    );
    assert_eq!(
        stock_in(app, "RP-1", &second).await.booked,
        0,
        "second warehouse released"
    );
    app.assert_ledger_balances().await;
});

both_databases!(shipment_consumes_on_hand_and_booked, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "SC-1", &[10]).await;
    let warehouse = warehouses[0].as_str();
    let booking = book(app, booking_input(&channel, &[("SC-1", 4)])).await;
    let booking_id = booking["id"].as_str().unwrap();

    let shipped = ship(app, booking_id, &[("SC-1", warehouse, 3)]).await;
    assert_eq!(
        shipped["booking"]["status"], "ACTIVE",
        "1 unit is still held"
    );
    assert_eq!(
        shipped["shipment"]["cancelled"], false,
        "a new shipment is not cancelled"
    );
    let expected = StockLevel {
        on_hand: 7,
        booked: 1,
        available: 6,
    };
    assert_eq!(
        stock_in(app, "SC-1", warehouse).await,
        expected,
        "on hand and booked both drop by 3"
    );
    let consumed = ledger_of_kind(app, "CONSUMED").await;
    assert_eq!(consumed.len(), 1, "one CONSUMED row");
    assert_eq!(
        (consumed[0].on_hand_delta, consumed[0].booked_delta),
        (-3, -3),
        "CONSUMED deltas"
    );
    let reference = shipped["shipment"]["reference"].as_str().unwrap();
    assert_eq!(
        consumed[0].reference.as_deref(),
        Some(reference),
        "the ledger names the shipment"
    );

    let shipped = ship(app, booking_id, &[("SC-1", warehouse, 1)]).await;
    assert_eq!(
        shipped["booking"]["status"], "CONSUMED",
        "everything shipped"
    );
    let expected = StockLevel {
        on_hand: 6,
        booked: 0,
        available: 6,
    };
    assert_eq!(
        stock_in(app, "SC-1", warehouse).await,
        expected,
        "after the second shipment"
    );
    app.assert_ledger_balances().await;
});

both_databases!(
    release_after_partial_shipment_is_consumed,
    |app| async move {
        let (channel, warehouses, _) = stocked_channel(app, "RC-1", &[10]).await;
        let booking = book(app, booking_input(&channel, &[("RC-1", 4)])).await;
        let booking_id = booking["id"].as_str().unwrap();
        ship(app, booking_id, &[("RC-1", &warehouses[0], 1)]).await;

        let released = release_all(app, booking_id).await;
        assert_eq!(
            released["status"], "CONSUMED",
            "a booking that shipped something ends CONSUMED"
        );
        let expected = StockLevel {
            on_hand: 9,
            booked: 0,
            available: 9,
        };
        assert_eq!(
            stock_in(app, "RC-1", &warehouses[0]).await,
            expected,
            "1 shipped, 3 released"
        );
    }
);

both_databases!(shipment_from_other_warehouse_moves_hold, |app| async move {
    let channel = app.create_channel("Web").await;
    let first = linked_warehouse(app, &channel, 0, None).await;
    let second = linked_warehouse(app, &channel, 1, None).await;
    app.create_product_with_sku("MV-1").await;
    app.set_on_hand("MV-1", &first, 5).await;
    app.set_on_hand("MV-1", &second, 5).await;
    let booking = book(app, booking_input(&channel, &[("MV-1", 3)])).await;
    assert_eq!(
        allocation(&booking),
        [(first.clone(), 3)],
        "booked in priority 0"
    );

    let shipped = ship(
        app,
        booking["id"].as_str().unwrap(),
        &[("MV-1", &second, 3)],
    )
    .await;
    assert_eq!(shipped["booking"]["status"], "CONSUMED", "all 3 shipped");
    let left = StockLevel {
        on_hand: 5,
        booked: 0,
        available: 5,
    };
    assert_eq!(
        stock_in(app, "MV-1", &first).await,
        left,
        "the hold left the first warehouse"
    );
    let shipped_from = StockLevel {
        on_hand: 2,
        booked: 0,
        available: 2,
    };
    assert_eq!(
        stock_in(app, "MV-1", &second).await,
        shipped_from,
        "the units left the second warehouse"
    );
    let moved_out = ledger_of_kind(app, "BOOKING_MOVED_OUT").await;
    assert_eq!(moved_out.len(), 1, "one BOOKING_MOVED_OUT row");
    assert_eq!(
        moved_out[0].booked_delta, -3,
        "BOOKING_MOVED_OUT bookedDelta"
    );
    let moved_in = ledger_of_kind(app, "BOOKING_MOVED_IN").await;
    assert_eq!(moved_in.len(), 1, "one BOOKING_MOVED_IN row");
    assert_eq!(moved_in[0].booked_delta, 3, "BOOKING_MOVED_IN bookedDelta");
    app.assert_ledger_balances().await;
});

both_databases!(moving_hold_needs_stock_there, |app| async move {
    let channel = app.create_channel("Web").await;
    let first = linked_warehouse(app, &channel, 0, None).await;
    let second = linked_warehouse(app, &channel, 1, None).await;
    app.create_product_with_sku("MN-1").await;
    app.set_on_hand("MN-1", &first, 5).await;
    app.set_on_hand("MN-1", &second, 1).await;
    let booking = book(app, booking_input(&channel, &[("MN-1", 3)])).await;

    let input = shipment_input(booking["id"].as_str().unwrap(), &[("MN-1", &second, 3)]);
    assert_rejected(
        app,
        &ship_mutation(),
        json!({ "input": input }),
        "INSUFFICIENT_STOCK",
        Some("lines.0.quantity"),
    )
    .await;
});

both_databases!(cancel_shipment_restores_once, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "CS-1", &[10]).await;
    let warehouse = warehouses[0].as_str();
    let booking = book(app, booking_input(&channel, &[("CS-1", 4)])).await;
    let shipped = ship(
        app,
        booking["id"].as_str().unwrap(),
        &[("CS-1", warehouse, 4)],
    )
    .await;
    assert_eq!(shipped["booking"]["status"], "CONSUMED", "all 4 shipped");

    let cancelled = cancel(app, shipped["shipment"]["id"].as_str().unwrap()).await;
    assert_eq!(
        cancelled["shipment"]["cancelled"], true,
        "the shipment reads cancelled"
    );
    assert_eq!(
        cancelled["booking"]["status"], "ACTIVE",
        "the booking holds the units again"
    );
    assert_eq!(held_total(&cancelled["booking"]), 4, "4 units held again");
    let expected = StockLevel {
        on_hand: 10,
        booked: 4,
        available: 6,
    };
    assert_eq!(
        stock_in(app, "CS-1", warehouse).await,
        expected,
        "on hand and booked restored"
    );
    let restored = ledger_of_kind(app, "RESTORED").await;
    assert_eq!(restored.len(), 1, "one RESTORED row");
    assert_eq!(
        (restored[0].on_hand_delta, restored[0].booked_delta),
        (4, 4),
        "RESTORED deltas"
    );
    app.assert_ledger_balances().await;
});

both_databases!(bookings_filter_by_each_field, |app| async move {
    let (web, warehouses, _) = stocked_channel(app, "FL-1", &[100]).await;
    app.create_product_with_sku("FL-2").await;
    app.set_on_hand("FL-2", &warehouses[0], 100).await;
    let shop = app.create_channel("Shop").await;
    app.link(&warehouses[0], &shop).await;

    let mut input = booking_input(&web, &[("FL-1", 1)]);
    input["orderReference"] = json!("WEB-1");
    let active = book(app, input).await;
    let mut input = booking_input(&web, &[("FL-2", 1)]);
    input["orderReference"] = json!("WEB-2");
    let released = book(app, input).await;
    release_all(app, released["id"].as_str().unwrap()).await;
    let mut input = booking_input(&shop, &[("FL-1", 1), ("FL-2", 1)]);
    input["orderReference"] = json!("SHOP-1");
    let shipped = book(app, input).await;
    let lines = [
        ("FL-1", warehouses[0].as_str(), 1),
        ("FL-2", warehouses[0].as_str(), 1),
    ];
    ship(app, shipped["id"].as_str().unwrap(), &lines).await;

    let ids = |booking: &Value| booking["id"].as_str().unwrap().to_owned();
    let query = "query($filter: BookingListFilter) {
        bookings(filter: $filter) { totalCount nodes { id } } }";
    let cases = [
        (json!({ "status": "ACTIVE" }), vec![ids(&active)]),
        (json!({ "status": "RELEASED" }), vec![ids(&released)]),
        (json!({ "status": "CONSUMED" }), vec![ids(&shipped)]),
        (json!({ "orderReference": "WEB-2" }), vec![ids(&released)]),
        (json!({ "channelId": shop }), vec![ids(&shipped)]),
        (
            json!({ "sku": "FL-2" }),
            vec![ids(&shipped), ids(&released)],
        ),
        (
            json!({ "channelId": web, "sku": "FL-1" }),
            vec![ids(&active)],
        ),
        (json!({ "sku": "NO-SUCH-SKU" }), vec![]),
        (json!({}), vec![ids(&shipped), ids(&released), ids(&active)]),
    ];
    for (filter, expected) in cases {
        let data = app.ok(query, json!({ "filter": filter })).await;
        assert_eq!(
            strings_at(&data["bookings"]["nodes"], "id"),
            expected,
            "bookings, newest first, for {filter}"
        );
        assert_eq!(
            int(&data["bookings"]["totalCount"]),
            expected.len() as i64,
            "totalCount for {filter}"
        );
    }
});

both_databases!(booking_and_node_find_both_types, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "ND-1", &[10]).await;
    let booking = book(app, booking_input(&channel, &[("ND-1", 2)])).await;
    let booking_id = booking["id"].as_str().unwrap();
    let shipped = ship(app, booking_id, &[("ND-1", &warehouses[0], 1)]).await;
    let shipment_id = shipped["shipment"]["id"].as_str().unwrap();

    let found = read_booking(app, booking_id).await;
    assert_eq!(found["id"], booking_id, "booking(id) finds the booking");
    assert_eq!(
        strings_at(&found["shipments"], "id"),
        [shipment_id],
        "the booking lists its shipment"
    );
    let missing_booking = read_booking(app, &missing(stockroom::ids::NodeType::Booking)).await;
    assert!(
        missing_booking.is_null(),
        "booking(id) of an unknown id is null"
    );

    let query = "query($id: ID!) { node(id: $id) { __typename id
        ... on Booking { orderReference } ... on Shipment { reference } } }";
    let node = app.ok(query, json!({ "id": booking_id })).await["node"].clone();
    assert_eq!(node["__typename"], "Booking", "node(id) of a booking");
    assert_eq!(
        node["orderReference"], "ORDER-1",
        "the booking's fields through node"
    );
    let node = app.ok(query, json!({ "id": shipment_id })).await["node"].clone();
    assert_eq!(node["__typename"], "Shipment", "node(id) of a shipment");
    assert_eq!(
        node["reference"], shipped["shipment"]["reference"],
        "the shipment's fields through node"
    );
    let node = app
        .ok(
            query,
            json!({ "id": missing(stockroom::ids::NodeType::Shipment) }),
        )
        .await;
    assert!(
        node["node"].is_null(),
        "node(id) of an unknown shipment is null"
    );
});

// ---------------------------------------------------------------- idempotency

both_databases!(idempotent_booking_books_once, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "IK-1", &[10]).await;
    let mut input = booking_input(&channel, &[("IK-1", 4)]);
    input["idempotencyKey"] = json!("order-1-attempt");

    let first = book(app, input.clone()).await;
    let again = book(app, input.clone()).await;
    assert_eq!(
        again["id"], first["id"],
        "the retry returns the first booking"
    );
    assert_eq!(
        stock_in(app, "IK-1", &warehouses[0]).await.booked,
        4,
        "booked once"
    );
    assert_eq!(
        ledger_of_kind(app, "BOOKED").await.len(),
        1,
        "one BOOKED ledger row"
    );

    input["lines"][0]["quantity"] = json!(5);
    assert_booking_rejected(app, input, "CONFLICT", Some("idempotencyKey")).await;
});

both_databases!(idempotent_shipment_ships_once, |app| async move {
    let (channel, warehouses, _) = stocked_channel(app, "IS-1", &[10]).await;
    let booking = book(app, booking_input(&channel, &[("IS-1", 4)])).await;
    let mut input = shipment_input(
        booking["id"].as_str().unwrap(),
        &[("IS-1", &warehouses[0], 2)],
    );
    input["idempotencyKey"] = json!("ship-1");

    let first = app
        .ok(&ship_mutation(), json!({ "input": input.clone() }))
        .await;
    let again = app.ok(&ship_mutation(), json!({ "input": input })).await;
    let id = |data: &Value| data["createShipment"]["shipment"]["id"].clone();
    assert_eq!(
        id(&again),
        id(&first),
        "the retry returns the first shipment"
    );
    let expected = StockLevel {
        on_hand: 8,
        booked: 2,
        available: 6,
    };
    assert_eq!(
        stock_in(app, "IS-1", &warehouses[0]).await,
        expected,
        "shipped once"
    );
});

// ---------------------------------------------------------------- expiry

/// Waits until `deadline`. Fails the test if the deadline has passed already, because the
/// timing would then prove nothing.
async fn sleep_until(deadline: Instant, step: &str) {
    let now = Instant::now();
    assert!(
        now < deadline,
        "setup took too long: {step} was due {:?} ago",
        now - deadline
    );
    tokio::time::sleep(deadline - now).await;
}

/// Polls the ledger until it has a row of `kind` or `limit` passes, and returns those rows.
async fn wait_for_ledger_kind(
    app: &TestApp,
    kind: &str,
    limit: Duration,
) -> Vec<entity::inventory_ledger::Model> {
    let deadline = Instant::now() + limit;
    loop {
        let rows = ledger_of_kind(app, kind).await;
        if !rows.is_empty() || Instant::now() >= deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// The server sweeps expired bookings when it starts and then every 5 seconds, so a booking
// that expires 2 seconds after the start is read at least once before any sweep has seen it.
both_databases!(expired_booking_holds_nothing_at_once, |app| async move {
    let started = Instant::now();
    let expires_at = instant_in(2000);
    let expiry = started + Duration::from_millis(2000);
    let (channel, warehouses, _) = stocked_channel(app, "EX-1", &[10]).await;
    let warehouse = warehouses[0].as_str();
    let mut input = booking_input(&channel, &[("EX-1", 4)]);
    input["expiresAt"] = json!(expires_at);
    let booking = book(app, input).await;
    let booking_id = booking["id"].as_str().unwrap();
    let holding = StockLevel {
        on_hand: 10,
        booked: 4,
        available: 6,
    };
    assert_eq!(
        stock_in(app, "EX-1", warehouse).await,
        holding,
        "held before expiry"
    );

    sleep_until(
        expiry + Duration::from_millis(150),
        "reading just after the expiry",
    )
    .await;
    let free = StockLevel {
        on_hand: 10,
        booked: 0,
        available: 10,
    };
    assert_eq!(
        stock_in(app, "EX-1", warehouse).await,
        free,
        "the warehouse right after expiry"
    );
    assert_eq!(
        channel_stock(app, "EX-1", &channel).await,
        free,
        "the channel right after expiry"
    );
    let expired = read_booking(app, booking_id).await;
    assert_eq!(expired["status"], "EXPIRED", "status right after expiry");
    assert_eq!(held_total(&expired), 0, "heldQuantity right after expiry");
    assert!(
        ledger_of_kind(app, "EXPIRED").await.is_empty(),
        "no sweep ran before these reads"
    );

    let input = json!({ "input": { "bookingId": booking_id } });
    let extensions = assert_rejected(
        app,
        &release_mutation(),
        input,
        "BOOKING_NOT_ACTIVE",
        Some("bookingId"),
    )
    .await;
    assert_eq!(
        extensions["status"], "EXPIRED",
        "extensions.status of the release"
    );

    let rows = wait_for_ledger_kind(app, "EXPIRED", Duration::from_secs(8)).await;
    assert_eq!(rows.len(), 1, "the sweeper writes one EXPIRED row");
    assert_eq!(
        (rows[0].on_hand_delta, rows[0].booked_delta),
        (0, -4),
        "EXPIRED deltas"
    );
    assert_eq!(
        stock_in(app, "EX-1", warehouse).await,
        free,
        "the same stock after the sweep"
    );
    assert_eq!(
        read_booking(app, booking_id).await["status"],
        "EXPIRED",
        "status after the sweep"
    );
    app.assert_ledger_balances().await;
});

both_databases!(expired_hold_frees_every_read, |app| async move {
    let started = Instant::now();
    let expires_at = instant_in(1500);
    let expiry = started + Duration::from_millis(1500);
    let (channel, warehouses, _) = stocked_channel(app, "EV-1", &[4]).await;
    let warehouse = warehouses[0].as_str();
    let mut input = booking_input(&channel, &[("EV-1", 4)]);
    input["expiresAt"] = json!(expires_at);
    let booking = book(app, input).await;
    let booking_id = booking["id"].as_str().unwrap();

    sleep_until(
        expiry + Duration::from_millis(150),
        "reading just after the expiry",
    )
    .await;
    let by_status = "query($status: BookingStatus) {
        bookings(filter: { status: $status }) { nodes { id } } }";
    let active = app.ok(by_status, json!({ "status": "ACTIVE" })).await;
    assert_eq!(
        strings_at(&active["bookings"]["nodes"], "id"),
        Vec::<String>::new(),
        "no ACTIVE booking"
    );
    let expired = app.ok(by_status, json!({ "status": "EXPIRED" })).await;
    assert_eq!(
        strings_at(&expired["bookings"]["nodes"], "id"),
        [booking_id],
        "the EXPIRED booking"
    );

    let item_query = "query($skus: [String!]!, $warehouses: [ID!]) {
        stock(skus: $skus, warehouseIds: $warehouses) {
            byWarehouse { item { booked available } } } }";
    let data = app
        .ok(
            item_query,
            json!({ "skus": ["EV-1"], "warehouses": [warehouse] }),
        )
        .await;
    let item = &data["stock"][0]["byWarehouse"][0]["item"];
    assert_eq!(item["booked"], 0, "WarehouseItem.booked right after expiry");
    assert_eq!(
        item["available"], 4,
        "WarehouseItem.available right after expiry"
    );

    let items_query =
        "query($id: ID) { warehouse(id: $id) { items { nodes { booked available } } } }";
    let data = app.ok(items_query, json!({ "id": warehouse })).await;
    let item = &data["warehouse"]["items"]["nodes"][0];
    assert_eq!(
        item["booked"], 0,
        "Warehouse.items booked right after expiry"
    );
    assert_eq!(
        item["available"], 4,
        "Warehouse.items available right after expiry"
    );
    assert!(
        ledger_of_kind(app, "EXPIRED").await.is_empty(),
        "no sweep ran before these reads"
    );
});

both_databases!(expired_hold_is_not_low_stock, |app| async move {
    let started = Instant::now();
    let expires_at = instant_in(1500);
    let expiry = started + Duration::from_millis(1500);
    let (channel, _, _) = stocked_channel(app, "EW-1", &[4]).await;
    let mut input = booking_input(&channel, &[("EW-1", 4)]);
    input["expiresAt"] = json!(expires_at);
    book(app, input).await;
    let low_query = "query($codes: [String!]) {
        skus(codes: $codes, filter: { lowStock: true }) { totalCount } }";
    let low = app.ok(low_query, json!({ "codes": ["EW-1"] })).await;
    assert_eq!(
        low["skus"]["totalCount"], 1,
        "all 4 units booked: low at the threshold 0"
    );

    sleep_until(
        expiry + Duration::from_millis(150),
        "reading just after the expiry",
    )
    .await;
    let low = app.ok(low_query, json!({ "codes": ["EW-1"] })).await;
    assert_eq!(
        low["skus"]["totalCount"], 0,
        "4 units available again, above the threshold 0"
    );
    assert!(
        ledger_of_kind(app, "EXPIRED").await.is_empty(),
        "no sweep ran before these reads"
    );
});

both_databases!(later_booking_sweeps_expired_holds, |app| async move {
    let started = Instant::now();
    let expires_at = instant_in(1500);
    let expiry = started + Duration::from_millis(1500);
    let (channel, warehouses, _) = stocked_channel(app, "EL-1", &[5]).await;
    let mut input = booking_input(&channel, &[("EL-1", 5)]);
    input["expiresAt"] = json!(expires_at);
    let first = book(app, input).await;

    sleep_until(
        expiry + Duration::from_millis(150),
        "booking again after the expiry",
    )
    .await;
    let second = book(app, booking_input(&channel, &[("EL-1", 5)])).await;
    assert_eq!(
        held_total(&second),
        5,
        "the expired units can be booked again"
    );
    let expired = ledger_of_kind(app, "EXPIRED").await;
    assert_eq!(
        expired.len(),
        1,
        "the booking wrote the EXPIRED row of the first booking"
    );
    assert_eq!(expired[0].booked_delta, -5, "EXPIRED bookedDelta");
    assert_eq!(
        read_booking(app, first["id"].as_str().unwrap()).await["status"],
        "EXPIRED",
        "first booking"
    );
    let expected = StockLevel {
        on_hand: 5,
        booked: 5,
        available: 0,
    };
    assert_eq!(
        stock_in(app, "EL-1", &warehouses[0]).await,
        expected,
        "only the second booking holds"
    );
    app.assert_ledger_balances().await;
});

both_databases!(retry_after_expiry_returns_first_booking, |app| async move {
    let started = Instant::now();
    let expires_at = instant_in(1500);
    let expiry = started + Duration::from_millis(1500);
    let (channel, warehouses, _) = stocked_channel(app, "ER-1", &[10]).await;
    let mut input = booking_input(&channel, &[("ER-1", 4)]);
    input["expiresAt"] = json!(expires_at);
    input["idempotencyKey"] = json!("expiring-order");
    let first = book(app, input.clone()).await;

    sleep_until(
        expiry + Duration::from_millis(150),
        "retrying after the expiry",
    )
    .await;
    let body = app.gql(&book_mutation(), json!({ "input": input })).await;
    assert!(
        body.get("errors").is_none(),
        "a retry with the same key returns the first result: {}",
        pretty(&body)
    );
    let again = &body["data"]["bookInventory"]["booking"];
    assert_eq!(
        again["id"], first["id"],
        "the retry returns the first booking"
    );
    assert_eq!(again["status"], "EXPIRED", "which has expired meanwhile");
    assert_eq!(
        stock_in(app, "ER-1", &warehouses[0]).await.booked,
        0,
        "the retry books nothing"
    );
});

// ---------------------------------------------------------------- ledger invariant

both_databases!(ledger_balances_after_every_step, |app| async move {
    let channel = app.create_channel("Web").await;
    let first = linked_warehouse(app, &channel, 0, None).await;
    let second = linked_warehouse(app, &channel, 1, None).await;
    app.create_product_with_sku("LG-1").await;
    app.create_product_with_sku("LG-2").await;
    app.set_on_hand("LG-1", &first, 6).await;
    app.set_on_hand("LG-1", &second, 6).await;
    app.set_on_hand("LG-2", &second, 9).await;

    // LG-1 is booked 6 in the first warehouse and 2 in the second. LG-2 is booked 5 in the
    // second.
    let booking = book(app, booking_input(&channel, &[("LG-1", 8), ("LG-2", 5)])).await;
    let booking_id = booking["id"].as_str().unwrap();
    let first_shipment = ship(
        app,
        booking_id,
        &[("LG-1", &first, 4), ("LG-2", &second, 2)],
    )
    .await;
    let second_shipment = ship(app, booking_id, &[("LG-1", &second, 1)]).await;
    let release = json!({ "input": { "bookingId": booking_id,
        "lines": [
            { "sku": "LG-2", "quantity": 1 },
            { "sku": "LG-1", "warehouseId": first, "quantity": 1 }
        ] } });
    app.ok(&release_mutation(), release).await;
    cancel(app, second_shipment["shipment"]["id"].as_str().unwrap()).await;
    assert_eq!(
        first_shipment["shipment"]["cancelled"], false,
        "the first shipment stands"
    );

    let expected = [
        (
            "LG-1",
            &first,
            StockLevel {
                on_hand: 2,
                booked: 1,
                available: 1,
            },
        ),
        (
            "LG-1",
            &second,
            StockLevel {
                on_hand: 6,
                booked: 2,
                available: 4,
            },
        ),
        (
            "LG-2",
            &second,
            StockLevel {
                on_hand: 7,
                booked: 2,
                available: 5,
            },
        ),
    ];
    for (sku, warehouse, level) in expected {
        let stock = stock_in(app, sku, warehouse).await;
        assert_eq!(stock, level, "{sku} in warehouse {warehouse}");
        let (on_hand, booked) = ledger_sums(app, sku, warehouse).await;
        assert_eq!(
            on_hand, stock.on_hand,
            "{sku} in {warehouse}: onHand equals the sum of onHandDelta"
        );
        assert_eq!(
            booked, stock.booked,
            "{sku} in {warehouse}: booked equals the sum of bookedDelta"
        );
    }
    assert_eq!(
        held_total(&read_booking(app, booking_id).await),
        5,
        "the booking holds 3 + 2"
    );

    // Every row names what caused it: the order for holds and releases, the shipment for
    // what it consumed and, once cancelled, restored.
    let shipment_reference = |shipped: &Value| shipped["shipment"]["reference"].as_str().unwrap().to_owned();
    let (first_reference, second_reference) = (shipment_reference(&first_shipment), shipment_reference(&second_shipment));
    for (kind, count, references) in [
        ("BOOKED", 3, vec!["ORDER-1".to_owned()]),
        ("RELEASED", 2, vec!["ORDER-1".to_owned()]),
        ("CONSUMED", 3, vec![first_reference.clone(), second_reference.clone()]),
        ("RESTORED", 1, vec![second_reference.clone()]),
    ] {
        let rows = ledger_of_kind(app, kind).await;
        assert_eq!(rows.len(), count, "{kind} rows: {rows:?}");
        for row in rows {
            let reference = row.reference.clone().unwrap_or_default();
            assert!(references.contains(&reference), "a {kind} row names {references:?}, not {reference:?}: {row:?}");
        }
    }
    app.assert_ledger_balances().await;
});
