//! Low-stock events on every path that changes a SKU's available quantity. A crossing of the
//! threshold writes one event with the right scope, quantities and threshold. A change that
//! stays on the same side writes none, and a rejected or retried change writes no event at all.
//!
//! Most checks read `inventoryEvents` after the last sequence before a step, and compare the
//! crossings as lines such as `LOW_STOCK COMPANY 10->5 of 5` (kind, scope, available before and
//! after, threshold).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    bookings::{book, booking_input, cancel, configure, instant_in, release_all, set_active, ship},
    helpers::*,
    low_stock_events::{EVENT_FIELDS, low_stock_subscription},
    replenishment::create_replenishment,
    ws::{Subscriptions, WsProtocol},
};

const SKU: &str = "EP-1";
/// The product's `minStockQuantity` in most tests.
const MIN_STOCK: i64 = 5;
/// Expected crossings of a step that writes none.
const NOTHING: [&str; 0] = [];

const UNLINK: &str = "mutation($input: WarehouseChannelInput!) {
    unlinkWarehouseFromChannel(input: $input) { warehouse { id } } }";
const RECEIVE: &str = "mutation($input: ReceiveReplenishmentInput!) {
    receiveReplenishment(input: $input) { replenishment { id } } }";

/// Reads up to 500 events after sequence `after` that pass `filter`, oldest first.
async fn events(app: &TestApp, after: i64, filter: Value) -> Vec<Value> {
    let query = format!(
        "query($after: Int, $filter: InventoryEventFilter) {{
            inventoryEvents(after: $after, first: 500, filter: $filter) {{ {EVENT_FIELDS} }} }}"
    );
    let data = app
        .ok(&query, json!({ "after": after, "filter": filter }))
        .await;
    data["inventoryEvents"]
        .as_array()
        .expect("inventoryEvents is a list")
        .clone()
}

/// Reads every event after `after`, of every kind and scope, page by page.
async fn all_events(app: &TestApp, mut after: i64) -> Vec<Value> {
    let mut found = Vec::new();
    loop {
        let page = events(
            app,
            after,
            json!({ "scopes": ["COMPANY", "CHANNEL", "WAREHOUSE"] }),
        )
        .await;
        let full = page.len() == 500;
        if let Some(last) = page.last() {
            after = int(&last["sequence"]);
        }
        found.extend(page);
        if !full {
            return found;
        }
    }
}

/// Returns the sequence of the last event written so far, 0 when there is none.
async fn mark(app: &TestApp) -> i64 {
    all_events(app, 0)
        .await
        .last()
        .map_or(0, |event| int(&event["sequence"]))
}

/// Formats a low-stock event as `KIND SCOPE before->after of threshold`.
fn crossing(event: &Value) -> String {
    let number = |value: &Value| value.as_i64().map_or("null".to_owned(), |n| n.to_string());
    format!(
        "{} {} {}->{} of {}",
        event["kind"].as_str().unwrap_or("?"),
        event["scope"].as_str().unwrap_or("?"),
        number(&event["availableBefore"]),
        number(&event["availableAfter"]),
        number(&event["threshold"]),
    )
}

/// Reads the LOW_STOCK, OUT_OF_STOCK and BACK_IN_STOCK events after `after` that pass `filter`.
async fn crossings_in(app: &TestApp, after: i64, mut filter: Value) -> Vec<String> {
    filter["kinds"] = json!(["LOW_STOCK", "OUT_OF_STOCK", "BACK_IN_STOCK"]);
    events(app, after, filter)
        .await
        .iter()
        .map(crossing)
        .collect()
}

/// Reads the crossings of `SKU` after `after` in the default scopes: the company and the
/// warehouses with their own threshold.
async fn crossings(app: &TestApp, after: i64) -> Vec<String> {
    crossings_in(app, after, json!({ "skus": [SKU] })).await
}

/// Reads the one company-scope STOCK_CHANGED event of `SKU` after `after`.
async fn company_change(app: &TestApp, after: i64) -> Value {
    let filter = json!({ "skus": [SKU], "kinds": ["STOCK_CHANGED"], "scopes": ["COMPANY"] });
    let found = events(app, after, filter).await;
    assert_eq!(
        found.len(),
        1,
        "one company STOCK_CHANGED event: {}",
        pretty(&json!(found))
    );
    found[0].clone()
}

/// Formats the quantities of a STOCK_CHANGED event.
fn quantities(event: &Value) -> String {
    format!(
        "{} onHand {} safetyStock {} booked {} available {}->{}",
        event["scope"].as_str().unwrap_or("?"),
        event["onHand"],
        event["safetyStock"],
        event["booked"],
        event["availableBefore"],
        event["availableAfter"],
    )
}

/// Creates a channel with one linked active warehouse per entry of `stocks`, and SKU `SKU`
/// with `minStockQuantity` [`MIN_STOCK`] and that many units in each warehouse. Returns the
/// channel, the warehouses and the product.
async fn stocked(app: &TestApp, stocks: &[i64]) -> (String, Vec<String>, String) {
    let (channel, warehouses) = app.channel_with_warehouses(stocks.len()).await;
    let product = app.create_product_with_sku(SKU).await;
    configure(app, &product, json!({ "minStockQuantity": MIN_STOCK })).await;
    for (warehouse, on_hand) in warehouses.iter().zip(stocks) {
        app.set_on_hand(SKU, warehouse, *on_hand).await;
    }
    (channel, warehouses, product)
}

/// Books `quantity` units of `SKU` in `channel` and returns the booking id.
async fn book_units(app: &TestApp, channel: &str, quantity: i64) -> String {
    id_at(&book(app, booking_input(channel, &[(SKU, quantity)])).await)
}

async fn bulk_set(app: &TestApp, items: Value) -> Value {
    let input = json!({ "input": { "errorPolicy": "REJECT_ALL", "items": items } });
    app.ok(&bulk_set_inventory_mutation(), input).await
}

async fn transfer(app: &TestApp, from: &str, to: &str, quantity: i64) {
    let input = json!({ "input": {
        "sku": SKU, "fromWarehouseId": from, "toWarehouseId": to, "quantity": quantity
    } });
    app.ok(&transfer_inventory_mutation(), input).await;
}

async fn receive(app: &TestApp, replenishment: &str, quantity: i64) {
    let input = json!({ "input": { "id": replenishment, "quantity": quantity } });
    app.ok(RECEIVE, input).await;
}

// ---------------------------------------------------------------- each path, company scope

both_databases!(adjust_crosses_once, |app| async move {
    let (_, warehouses, _) = stocked(app, &[10]).await;

    let start = mark(app).await;
    app.adjust(SKU, &warehouses[0], -5).await;
    assert_eq!(
        crossings(app, start).await,
        ["LOW_STOCK COMPANY 10->5 of 5"],
        "adjusting 10 to 5"
    );

    let start = mark(app).await;
    app.adjust(SKU, &warehouses[0], -1).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "adjusting 5 to 4 stays low"
    );
});

both_databases!(set_crosses_once, |app| async move {
    let (_, warehouses, _) = stocked(app, &[10]).await;

    let start = mark(app).await;
    app.set_on_hand(SKU, &warehouses[0], 3).await;
    assert_eq!(
        crossings(app, start).await,
        ["LOW_STOCK COMPANY 10->3 of 5"],
        "setting 10 to 3"
    );

    let start = mark(app).await;
    app.set_on_hand(SKU, &warehouses[0], 2).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "setting 3 to 2 stays low"
    );
});

both_databases!(bulk_set_crosses_once_per_request, |app| async move {
    let (_, warehouses, _) = stocked(app, &[10, 10]).await;

    // Two items that each leave the company above 5, but together take it to 5.
    let start = mark(app).await;
    bulk_set(
        app,
        json!([
            { "sku": SKU, "warehouseId": warehouses[0], "onHand": 3 },
            { "sku": SKU, "warehouseId": warehouses[1], "onHand": 2 },
        ]),
    )
    .await;
    assert_eq!(
        crossings(app, start).await,
        ["LOW_STOCK COMPANY 20->5 of 5"],
        "bulk set of 20 to 5"
    );

    let start = mark(app).await;
    bulk_set(
        app,
        json!([{ "sku": SKU, "warehouseId": warehouses[0], "onHand": 1 }]),
    )
    .await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "bulk set of 5 to 3 stays low"
    );
});

both_databases!(transfer_to_inactive_crosses_once, |app| async move {
    let (_, warehouses, _) = stocked(app, &[10, 0]).await;
    let inactive = app.create_inactive_warehouse("Inactive").await;

    let start = mark(app).await;
    transfer(app, &warehouses[0], &warehouses[1], 4).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "a transfer between active warehouses keeps 10"
    );

    let start = mark(app).await;
    transfer(app, &warehouses[0], &inactive, 6).await;
    assert_eq!(
        crossings(app, start).await,
        ["LOW_STOCK COMPANY 10->4 of 5"],
        "moving 6 into an inactive warehouse"
    );

    let start = mark(app).await;
    transfer(app, &warehouses[1], &inactive, 1).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "moving 1 more stays low"
    );
});

both_databases!(booking_crosses_once, |app| async move {
    let (channel, _, _) = stocked(app, &[10]).await;

    let start = mark(app).await;
    book_units(app, &channel, 5).await;
    assert_eq!(
        crossings(app, start).await,
        ["LOW_STOCK COMPANY 10->5 of 5"],
        "booking 5 of 10"
    );

    let start = mark(app).await;
    book_units(app, &channel, 1).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "booking 1 more stays low"
    );
});

both_databases!(release_is_back_in_stock_once, |app| async move {
    let (channel, _, _) = stocked(app, &[10]).await;
    let large = book_units(app, &channel, 6).await;
    let small = book_units(app, &channel, 1).await;

    let start = mark(app).await;
    release_all(app, &large).await;
    assert_eq!(
        crossings(app, start).await,
        ["BACK_IN_STOCK COMPANY 3->9 of 5"],
        "releasing 6"
    );

    let start = mark(app).await;
    release_all(app, &small).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "releasing 1 more stays above"
    );
});

// The server's sweeper, which runs every 5 s, writes the expiry and its events. Until then the
// stored quantities still count the booking.
both_databases!(expiry_is_back_in_stock_once, |app| async move {
    let (channel, _, _) = stocked(app, &[10]).await;
    book_units(app, &channel, 4).await;
    let mut input = booking_input(&channel, &[(SKU, 3)]);
    input["expiresAt"] = json!(instant_in(2000));

    let start = mark(app).await;
    book(app, input).await;
    assert_eq!(
        crossings(app, start).await,
        ["LOW_STOCK COMPANY 6->3 of 5"],
        "booking 3 that expire"
    );

    let start = mark(app).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while all_events(app, start).await.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        crossings(app, start).await,
        ["BACK_IN_STOCK COMPANY 3->6 of 5"],
        "the sweeper expiring 3"
    );
});

both_databases!(
    shipment_and_its_cancellation_keep_available,
    |app| async move {
        let (channel, warehouses, _) = stocked(app, &[10]).await;
        let booking = book_units(app, &channel, 6).await;

        // Shipping lowers on hand and booked together, so available stays 4.
        let start = mark(app).await;
        let shipment = ship(app, &booking, &[(SKU, &warehouses[0], 6)]).await;
        assert_eq!(crossings(app, start).await, NOTHING, "shipping a booking");
        assert_eq!(
            quantities(&company_change(app, start).await),
            "COMPANY onHand 4 safetyStock 0 booked 0 available 4->4",
            "the company after the shipment"
        );

        let start = mark(app).await;
        cancel(app, &id_at(&shipment["shipment"])).await;
        assert_eq!(
            crossings(app, start).await,
            NOTHING,
            "cancelling the shipment"
        );
        assert_eq!(
            quantities(&company_change(app, start).await),
            "COMPANY onHand 10 safetyStock 0 booked 6 available 4->4",
            "the company after the cancellation"
        );
    }
);

both_databases!(receiving_is_back_in_stock_once, |app| async move {
    let (_, warehouses, _) = stocked(app, &[10]).await;
    app.adjust(SKU, &warehouses[0], -7).await;
    let replenishment = create_replenishment(app, &warehouses[0], SKU, 10, "2030-01-15").await;
    let replenishment = id_at(&replenishment);

    let start = mark(app).await;
    receive(app, &replenishment, 5).await;
    assert_eq!(
        crossings(app, start).await,
        ["BACK_IN_STOCK COMPANY 3->8 of 5"],
        "receiving 5"
    );

    let start = mark(app).await;
    receive(app, &replenishment, 5).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "receiving 5 more stays above"
    );
});

both_databases!(
    warehouse_activation_crosses_once_each_way,
    |app| async move {
        let (_, warehouses, _) = stocked(app, &[8, 1, 3]).await;

        let start = mark(app).await;
        set_active(app, &warehouses[0], false).await;
        assert_eq!(
            crossings(app, start).await,
            ["LOW_STOCK COMPANY 12->4 of 5"],
            "deactivating 8 of 12"
        );

        let start = mark(app).await;
        set_active(app, &warehouses[1], false).await;
        assert_eq!(
            crossings(app, start).await,
            NOTHING,
            "deactivating 1 more stays low"
        );

        let start = mark(app).await;
        set_active(app, &warehouses[1], true).await;
        assert_eq!(
            crossings(app, start).await,
            NOTHING,
            "activating 1 again stays low"
        );

        let start = mark(app).await;
        set_active(app, &warehouses[0], true).await;
        assert_eq!(
            crossings(app, start).await,
            ["BACK_IN_STOCK COMPANY 4->12 of 5"],
            "activating 8 again"
        );
    }
);

both_databases!(min_stock_change_crosses_once_each_way, |app| async move {
    let (_, _, product) = stocked(app, &[10]).await;
    let set_min = |min: i64| configure(app, &product, json!({ "minStockQuantity": min }));

    let start = mark(app).await;
    set_min(12).await;
    assert_eq!(
        crossings(app, start).await,
        ["LOW_STOCK COMPANY 10->10 of 12"],
        "raising 5 to 12"
    );

    let start = mark(app).await;
    set_min(15).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "raising 12 to 15 stays low"
    );

    let start = mark(app).await;
    set_min(9).await;
    assert_eq!(
        crossings(app, start).await,
        ["BACK_IN_STOCK COMPANY 10->10 of 9"],
        "lowering 15 to 9"
    );

    let start = mark(app).await;
    set_min(3).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "lowering 9 to 3 stays above"
    );
});

// ---------------------------------------------------------------- channel and warehouse scopes

both_databases!(unlinking_crosses_only_the_channel, |app| async move {
    let (channel, warehouses, _) = stocked(app, &[10]).await;
    let unlinked = app.create_warehouse("Not in the channel").await;
    app.set_on_hand(SKU, &unlinked, 10).await;
    let link = json!({ "input": { "warehouseId": warehouses[0], "channelId": channel } });
    let in_channel = json!({ "skus": [SKU], "channelId": channel });

    let start = mark(app).await;
    app.ok(UNLINK, link.clone()).await;
    assert_eq!(
        crossings_in(app, start, in_channel.clone()).await,
        [
            "LOW_STOCK CHANNEL 10->0 of 5",
            "OUT_OF_STOCK CHANNEL 10->0 of 5"
        ],
        "unlinking the channel's only stocked warehouse"
    );
    assert_eq!(crossings(app, start).await, NOTHING, "the company keeps 20");

    let start = mark(app).await;
    app.link(&warehouses[0], &channel).await;
    assert_eq!(
        crossings_in(app, start, in_channel).await,
        ["BACK_IN_STOCK CHANNEL 0->10 of 5"],
        "linking it again"
    );
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "the company still keeps 20"
    );
});

both_databases!(
    item_threshold_crosses_the_warehouse_scope,
    |app| async move {
        let watched = app.create_warehouse("Watched").await;
        let other = app.create_warehouse("Other").await;
        app.create_product_with_sku(SKU).await;
        let input = json!({ "input": { "sku": SKU, "warehouseId": watched, "onHand": 10, "lowStockThreshold": 4 } });
        app.ok(&set_inventory_mutation(), input).await;
        app.set_on_hand(SKU, &other, 10).await;

        let start = mark(app).await;
        app.adjust(SKU, &watched, -6).await;
        let found = events(
            app,
            start,
            json!({ "skus": [SKU], "kinds": ["LOW_STOCK", "OUT_OF_STOCK", "BACK_IN_STOCK"] }),
        )
        .await;
        let lines: Vec<String> = found.iter().map(crossing).collect();
        assert_eq!(
            lines,
            ["LOW_STOCK WAREHOUSE 10->4 of 4"],
            "falling to the item's threshold"
        );
        assert_eq!(
            found[0]["warehouseId"],
            json!(watched),
            "warehouseId of the event"
        );
        assert_eq!(
            crossings_in(app, start, json!({ "warehouseId": watched })).await,
            ["LOW_STOCK WAREHOUSE 10->4 of 4"],
            "filtered by the watched warehouse"
        );
        assert_eq!(
            crossings_in(app, start, json!({ "warehouseId": other })).await,
            NOTHING,
            "filtered by the other warehouse"
        );

        let start = mark(app).await;
        app.adjust(SKU, &watched, -1).await;
        assert_eq!(
            crossings(app, start).await,
            NOTHING,
            "falling to 3 stays low"
        );
    }
);

both_databases!(zero_threshold_fires_only_at_zero, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    let product = app.create_product_with_sku(SKU).await;
    configure(app, &product, json!({ "minStockQuantity": 0 })).await;
    app.set_on_hand(SKU, &warehouse, 2).await;

    let start = mark(app).await;
    app.adjust(SKU, &warehouse, -1).await;
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "1 is above the threshold 0"
    );

    let start = mark(app).await;
    app.adjust(SKU, &warehouse, -1).await;
    assert_eq!(
        crossings(app, start).await,
        [
            "LOW_STOCK COMPANY 1->0 of 0",
            "OUT_OF_STOCK COMPANY 1->0 of 0"
        ],
        "reaching 0"
    );
});

// ---------------------------------------------------------------- rejected and retried changes

both_databases!(rejected_bulk_writes_no_event, |app| async move {
    let (_, warehouses, _) = stocked(app, &[10]).await;
    let before = all_events(app, 0).await;

    // Item 0 would cross the threshold, but the unknown SKU of item 1 rolls it back.
    let input = json!({ "input": { "errorPolicy": "REJECT_ALL", "items": [
        { "sku": SKU, "warehouseId": warehouses[0], "onHand": 0 },
        { "sku": "UNKNOWN", "warehouseId": warehouses[0], "onHand": 1 },
    ] } });
    let err = app.err(&bulk_set_inventory_mutation(), input).await;
    assert_eq!(err.code, "NOT_FOUND", "the unknown SKU of item 1: {err:?}");
    assert_eq!(
        all_events(app, 0).await,
        before,
        "the event log after the rejected bulk set"
    );
});

both_databases!(
    insufficient_stock_adjust_writes_no_event,
    |app| async move {
        let (channel, warehouses, _) = stocked(app, &[10]).await;
        book_units(app, &channel, 4).await;
        let before = all_events(app, 0).await;

        let input = json!({ "input": { "sku": SKU, "warehouseId": warehouses[0], "delta": -7 } });
        let err = app.err(&adjust_inventory_mutation(), input).await;
        assert_eq!(
            err.code, "INSUFFICIENT_STOCK",
            "on hand 3 below booked 4: {err:?}"
        );
        assert_eq!(
            all_events(app, 0).await,
            before,
            "the event log after the rejected adjust"
        );
    }
);

both_databases!(idempotent_retry_writes_no_second_event, |app| async move {
    let (_, warehouses, _) = stocked(app, &[10]).await;
    let input = json!({ "input": {
        "sku": SKU, "warehouseId": warehouses[0], "delta": -5, "idempotencyKey": "adjust-once"
    } });

    let start = mark(app).await;
    app.ok(&adjust_inventory_mutation(), input.clone()).await;
    assert_eq!(
        crossings(app, start).await,
        ["LOW_STOCK COMPANY 10->5 of 5"],
        "the first adjust"
    );

    let start = mark(app).await;
    app.ok(&adjust_inventory_mutation(), input).await;
    assert_eq!(
        all_events(app, start).await,
        Vec::<Value>::new(),
        "events of the retry"
    );
    assert_eq!(
        app.on_hand(SKU, &warehouses[0]).await,
        Some(5),
        "the delta applied once"
    );
});

// ---------------------------------------------------------------- STOCK_CHANGED

both_databases!(adjust_writes_stock_changed_per_scope, |app| async move {
    let (channel, warehouses, _) = stocked(app, &[10]).await;
    let elsewhere = app.create_warehouse("Not in the channel").await;
    app.set_stock(SKU, &warehouses[0], 10, 2).await;
    app.set_on_hand(SKU, &elsewhere, 4).await;
    book_units(app, &channel, 3).await;

    let start = mark(app).await;
    app.adjust(SKU, &warehouses[0], 5).await;
    let filter = json!({ "skus": [SKU], "kinds": ["STOCK_CHANGED"] });
    let changes = events(app, start, filter).await;
    let lines: Vec<String> = changes.iter().map(quantities).collect();
    assert_eq!(
        lines,
        [
            "COMPANY onHand 19 safetyStock 2 booked 3 available 9->14",
            "WAREHOUSE onHand 15 safetyStock 2 booked 3 available 5->10",
        ],
        "STOCK_CHANGED of adding 5"
    );
    assert_eq!(
        changes[0]["warehouseId"],
        Value::Null,
        "warehouseId of the company event"
    );
    assert_eq!(
        changes[1]["warehouseId"],
        json!(warehouses[0]),
        "warehouseId of the warehouse event"
    );

    let start = mark(app).await;
    app.set_on_hand(SKU, &warehouses[0], 15).await;
    assert_eq!(
        all_events(app, start).await,
        Vec::<Value>::new(),
        "events of setting the same on hand"
    );
});

// ---------------------------------------------------------------- subscriptions

both_databases!(
    subscriptions_filter_by_sku_and_warehouse,
    |app| async move {
        let (_, warehouses) = app.channel_with_warehouses(2).await;
        let (near, far) = (&warehouses[0], &warehouses[1]);
        for code in ["EP-A", "EP-B"] {
            let product = app.create_product_with_sku(code).await;
            configure(app, &product, json!({ "minStockQuantity": MIN_STOCK })).await;
            app.set_on_hand(code, near, 10).await;
        }
        let input = json!({ "input": { "sku": "EP-A", "warehouseId": far, "onHand": 10, "lowStockThreshold": 4 } });
        app.ok(&set_inventory_mutation(), input).await;

        let start = mark(app).await;
        let mut socket = Subscriptions::connect(&app.graphql_url(), WsProtocol::TransportWs).await;
        let query = low_stock_subscription();
        socket
            .subscribe("sku", &query, json!({ "skus": ["EP-A"], "after": start }))
            .await;
        socket
            .subscribe("far", &query, json!({ "warehouseId": far, "after": start }))
            .await;

        app.adjust("EP-B", near, -6).await; // B: company 10 -> 4
        app.adjust("EP-A", far, -6).await; // A: far warehouse 10 -> 4, company 20 -> 14
        app.adjust("EP-A", near, -10).await; // A: company 14 -> 4

        let received = |line: &Value| {
            format!(
                "{} {}",
                line["skuCode"].as_str().unwrap_or("?"),
                crossing(line)
            )
        };
        let mut by_sku = Vec::new();
        for _ in 0..2 {
            by_sku.push(received(&socket.expect_data("sku").await["lowStockEvents"]));
        }
        assert_eq!(
            by_sku,
            [
                "EP-A LOW_STOCK WAREHOUSE 10->4 of 4",
                "EP-A LOW_STOCK COMPANY 14->4 of 5"
            ],
            "lowStockEvents(skus: [EP-A])"
        );
        let at_far = socket.expect_data("far").await["lowStockEvents"].clone();
        assert_eq!(
            received(&at_far),
            "EP-A LOW_STOCK WAREHOUSE 10->4 of 4",
            "lowStockEvents(warehouseId: far)"
        );
        assert_eq!(
            at_far["warehouseId"],
            json!(far),
            "warehouseId of the far warehouse's event"
        );
        socket.expect_silence(Duration::from_millis(500)).await;
        socket.close().await;
    }
);

// ---------------------------------------------------------------- expired bookings

// An expired booking holds nothing from its `expiresAt` on, also before the sweeper writes the
// expiry. The sweeper runs when the server starts and then every 5 s, so the change below, about
// 1.7 s after the server started, comes before any sweep has seen the booking.
both_databases!(expired_hold_is_not_judged_low, |app| async move {
    let expiry = Instant::now() + Duration::from_millis(1500);
    let expires_at = instant_in(1500);
    let (channel, _, product) = stocked(app, &[10]).await;
    let mut input = booking_input(&channel, &[(SKU, 4)]);
    input["expiresAt"] = json!(expires_at);
    book(app, input).await;
    let now = Instant::now();
    assert!(
        now < expiry,
        "setup took too long: the booking expired {:?} ago",
        now - expiry
    );
    tokio::time::sleep(expiry + Duration::from_millis(150) - now).await;

    let start = mark(app).await;
    configure(app, &product, json!({ "minStockQuantity": 7 })).await;
    let stock = app
        .ok("{ stock(skus: [\"EP-1\"]) { available } }", json!({}))
        .await;
    assert_eq!(
        stock["stock"][0]["available"], 10,
        "available once the booking expired"
    );
    assert_eq!(
        crossings(app, start).await,
        NOTHING,
        "raising the threshold to 7 with 10 available"
    );
});
