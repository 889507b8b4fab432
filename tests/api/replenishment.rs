//! Replenishment: incoming stock recorded, updated, received into on hand and deleted, listed
//! with filters and pages, and its calendar dates read back the same in any server time zone.
//!
//! This file also contains what the estimate and availability tests share with it: the
//! replenishment fixtures and a fuller "nothing changed" check that includes replenishment
//! items. It also has a database and server of a test's own, for cases the harness cannot
//! host, such as another time zone or an imported data set.

use std::{panic::AssertUnwindSafe, process::Stdio, time::Duration};

use futures_util::FutureExt as _;
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::*;

const TWO_POW_31: i64 = 2_147_483_648;

/// Fields of a replenishment item read by every test.
pub const REPLENISHMENT_FIELDS: &str = "id quantity receivedQuantity remainingQuantity open \
    expectedOn externalReferenceCode warehouse { id } sku { code }";

/// `createReplenishment` returning the item.
pub fn create_mutation() -> String {
    format!(
        "mutation($input: CreateReplenishmentInput!) {{ createReplenishment(input: $input) {{
            replenishment {{ {REPLENISHMENT_FIELDS} }} }} }}"
    )
}

fn update_mutation() -> String {
    format!(
        "mutation($input: UpdateReplenishmentInput!) {{ updateReplenishment(input: $input) {{
            replenishment {{ {REPLENISHMENT_FIELDS} }} }} }}"
    )
}

fn receive_mutation() -> String {
    format!(
        "mutation($input: ReceiveReplenishmentInput!) {{ receiveReplenishment(input: $input) {{
            replenishment {{ {REPLENISHMENT_FIELDS} }}
            warehouseItem {{ {ITEM_FIELDS} }}
            ledgerEntries {{ {LEDGER_FIELDS} }} }} }}"
    )
}

fn delete_mutation() -> String {
    format!(
        "mutation($input: DeleteReplenishmentInput!) {{ deleteReplenishment(input: $input) {{
            replenishment {{ {REPLENISHMENT_FIELDS} }} }} }}"
    )
}

/// `replenishments` with a filter and `first`, returning nodes and page info.
fn list_query() -> String {
    format!(
        "query($filter: ReplenishmentFilter, $first: Int, $after: String) {{
            replenishments(filter: $filter, first: $first, after: $after) {{
                totalCount
                pageInfo {{ hasNextPage hasPreviousPage endCursor }}
                nodes {{ {REPLENISHMENT_FIELDS} }} }} }}"
    )
}

const STOCK: &str = "query($skus: [String!]!, $channel: ID, $warehouses: [ID!]) {
    stock(skus: $skus, channelId: $channel, warehouseIds: $warehouses) {
        onHand available incoming
        byWarehouse { warehouse { id } onHand available incoming } } }";

const RECEIVED_ROWS: &str = "query {
    inventoryLedger(filter: { kind: RECEIVED }) {
        nodes { id kind onHandDelta onHandAfter reference reason warehouseId sku { code } } } }";

/// Encodes the global id of a replenishment item that was never created.
pub fn missing_replenishment_id() -> String {
    stockroom::ids::encode(stockroom::ids::NodeType::ReplenishmentItem, 987_654_321).to_string()
}

/// Creates a replenishment item and returns it as the payload shows it.
pub async fn create_replenishment(
    app: &TestApp,
    warehouse_id: &str,
    sku: &str,
    quantity: i64,
    expected_on: &str,
) -> Value {
    let input = json!({ "input": {
        "warehouseId": warehouse_id, "sku": sku, "quantity": quantity, "expectedOn": expected_on
    } });
    app.ok(&create_mutation(), input).await["createReplenishment"]["replenishment"].clone()
}

/// Receives `quantity` units (all remaining ones when `None`) and returns the payload.
async fn receive(app: &TestApp, id: &str, quantity: Option<i64>) -> Value {
    let mut input = json!({ "id": id });
    if let Some(quantity) = quantity {
        input["quantity"] = json!(quantity);
    }
    app.ok(&receive_mutation(), json!({ "input": input })).await["receiveReplenishment"].clone()
}

/// Lists replenishment items matching `filter` (at most 500) and returns the nodes.
async fn list(app: &TestApp, filter: Value) -> Vec<Value> {
    let data = app
        .ok(&list_query(), json!({ "filter": filter, "first": 500 }))
        .await;
    data["replenishments"]["nodes"]
        .as_array()
        .expect("nodes is a list")
        .clone()
}

/// External reference codes of listed items, in list order.
fn codes_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            item["externalReferenceCode"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// Reads the stock summary of one SKU in a scope.
async fn stock(app: &TestApp, sku: &str, channel: Option<&str>) -> Value {
    let data = app
        .ok(STOCK, json!({ "skus": [sku], "channel": channel }))
        .await;
    data["stock"][0].clone()
}

/// Finds the `byWarehouse` row of `warehouse_id` in a stock summary.
fn row_of<'a>(summary: &'a Value, warehouse_id: &str) -> &'a Value {
    summary["byWarehouse"]
        .as_array()
        .expect("byWarehouse is a list")
        .iter()
        .find(|row| row["warehouse"]["id"] == warehouse_id)
        .unwrap_or_else(|| panic!("no row of {warehouse_id} in {}", pretty(summary)))
}

/// Every row a rejected request must leave as it was: the harness snapshot plus the
/// replenishment items and the estimates, read through the API.
pub struct State {
    rows: Snapshot,
    replenishments: Value,
    estimates: Value,
}

/// Reads the [`State`].
pub async fn state(app: &TestApp) -> State {
    let replenishments =
        app.ok(&list_query(), json!({ "first": 500 })).await["replenishments"]["nodes"].clone();
    let estimates = app
        .ok(
            "query { availabilityEstimates { id priority titles { locale text } } }",
            json!({}),
        )
        .await["availabilityEstimates"]
        .clone();
    State {
        rows: app.snapshot().await,
        replenishments,
        estimates,
    }
}

/// Fails the test if anything in `before` changed.
pub async fn assert_same_state(app: &TestApp, before: &State, after_what: &str) {
    app.assert_unchanged(&before.rows, after_what).await;
    let after = state(app).await;
    assert_eq!(
        before.replenishments, after.replenishments,
        "replenishment items changed after {after_what}"
    );
    assert_eq!(
        before.estimates, after.estimates,
        "availability estimates changed after {after_what}"
    );
}

/// Sends each `(request, variables, code, field)` case, checks its error, and checks that
/// nothing changed.
pub async fn assert_rejected(app: &TestApp, cases: &[(&str, Value, &str, &str)]) {
    let before = state(app).await;
    for (request, variables, code, field) in cases {
        let err = app.err(request, variables.clone()).await;
        assert_eq!(err.code, *code, "code for {variables}: {err:?}");
        assert_eq!(
            err.field.as_deref(),
            Some(*field),
            "field for {variables}: {err:?}"
        );
        assert!(!err.message.is_empty(), "a message for {variables}");
        assert_same_state(app, &before, &format!("rejected input {variables}")).await;
    }
}

/// The channel and its two active linked warehouses, with SKU `R-1` stocked at 5 in the first.
struct Setup {
    channel: String,
    first: String,
    second: String,
}

async fn setup(app: &TestApp) -> Setup {
    let (channel, warehouses) = app.channel_with_warehouses(2).await;
    app.create_product_with_sku("R-1").await;
    app.set_on_hand("R-1", &warehouses[0], 5).await;
    Setup {
        channel,
        first: warehouses[0].clone(),
        second: warehouses[1].clone(),
    }
}

// ---------------------------------------------------------------- create

both_databases!(create_reads_back, |app| async move {
    let fixture = setup(app).await;
    let input = json!({ "input": {
        "warehouseId": fixture.first, "sku": "r-1", "quantity": 12,
        "expectedOn": "2027-01-15", "externalReferenceCode": "PO-1"
    } });
    let created =
        app.ok(&create_mutation(), input).await["createReplenishment"]["replenishment"].clone();

    assert_eq!(created["quantity"], 12, "quantity: {created}");
    assert_eq!(
        created["receivedQuantity"], 0,
        "nothing received: {created}"
    );
    assert_eq!(created["remainingQuantity"], 12, "all to arrive: {created}");
    assert_eq!(created["open"], true, "open: {created}");
    assert_eq!(created["expectedOn"], "2027-01-15", "date: {created}");
    assert_eq!(created["externalReferenceCode"], "PO-1", "code: {created}");
    assert_eq!(
        created["warehouse"]["id"], fixture.first,
        "warehouse: {created}"
    );
    assert_eq!(
        created["sku"]["code"], "R-1",
        "the SKU is found ignoring case: {created}"
    );

    let listed = list(app, json!({})).await;
    assert_eq!(
        listed,
        vec![created.clone()],
        "the list reads the same item"
    );
    let node = app
        .ok(
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on ReplenishmentItem {{ {REPLENISHMENT_FIELDS} }} }} }}"),
            json!({ "id": created["id"] }),
        )
        .await;
    assert_eq!(node["node"], created, "node(id) reads the same item");
    assert_eq!(
        app.on_hand("R-1", &fixture.first).await,
        Some(5),
        "recording incoming stock leaves on hand alone"
    );
});

both_databases!(create_accepts_the_largest_quantity, |app| async move {
    let fixture = setup(app).await;
    let created =
        create_replenishment(app, &fixture.first, "R-1", 1_000_000_000, "2027-01-15").await;
    assert_eq!(
        created["quantity"], 1_000_000_000,
        "1,000,000,000 is in range: {created}"
    );
});

both_databases!(create_rejects_bad_quantities, |app| async move {
    let fixture = setup(app).await;
    let mutation = create_mutation();
    let input = |quantity: i64| {
        json!({ "input": {
            "warehouseId": fixture.first, "sku": "R-1", "quantity": quantity, "expectedOn": "2027-01-15"
        } })
    };
    let cases: Vec<(&str, Value, &str, &str)> = [0, -1, TWO_POW_31, 1_000_000_001]
        .into_iter()
        .map(|quantity| {
            (
                mutation.as_str(),
                input(quantity),
                "INVALID_INPUT",
                "quantity",
            )
        })
        .collect();
    assert_rejected(app, &cases).await;
});

both_databases!(create_rejects_unknown_and_malformed_ids, |app| async move {
    let fixture = setup(app).await;
    let mutation = create_mutation();
    let input = |warehouse: &str, sku: &str| {
        json!({ "input": {
            "warehouseId": warehouse, "sku": sku, "quantity": 3, "expectedOn": "2027-01-15"
        } })
    };
    let missing = missing_id("Warehouse");
    let cases = [
        (
            mutation.as_str(),
            input(&missing, "R-1"),
            "NOT_FOUND",
            "warehouseId",
        ),
        (
            mutation.as_str(),
            input(&fixture.first, "NOPE"),
            "NOT_FOUND",
            "sku",
        ),
        (
            mutation.as_str(),
            input("garbage", "R-1"),
            "INVALID_INPUT",
            "warehouseId",
        ),
        (
            mutation.as_str(),
            input(&fixture.channel, "R-1"),
            "INVALID_INPUT",
            "warehouseId",
        ),
        (
            mutation.as_str(),
            input(&fixture.first, "  "),
            "INVALID_INPUT",
            "sku",
        ),
    ];
    assert_rejected(app, &cases).await;
});

both_databases!(create_with_taken_code_is_duplicate, |app| async move {
    let fixture = setup(app).await;
    let mutation = create_mutation();
    let input = |warehouse: &str| {
        json!({ "input": {
            "warehouseId": warehouse, "sku": "R-1", "quantity": 3,
            "expectedOn": "2027-01-15", "externalReferenceCode": "PO-7"
        } })
    };
    app.ok(&mutation, input(&fixture.first)).await;

    let cases = [(
        mutation.as_str(),
        input(&fixture.second),
        "DUPLICATE",
        "externalReferenceCode",
    )];
    assert_rejected(app, &cases).await;
});

both_databases!(create_rejects_invalid_dates, |app| async move {
    let fixture = setup(app).await;
    let before = state(app).await;
    for date in [
        "2026-13-01",
        "12/24/2026",
        "2026-02-30",
        "2026-12-24T00:00:00Z",
        "",
    ] {
        let input = json!({ "input": {
            "warehouseId": fixture.first, "sku": "R-1", "quantity": 3, "expectedOn": date
        } });
        let err = app.err(&create_mutation(), input).await;
        assert_eq!(
            err.code, "INVALID_INPUT",
            "expectedOn {date:?} is invalid input: {err:?}"
        );
        assert!(
            err.message.contains(date),
            "the message names the date {date:?}: {}",
            err.message
        );
        assert_same_state(app, &before, &format!("expectedOn {date:?}")).await;
    }
});

// ---------------------------------------------------------------- update

both_databases!(update_changes_quantity_date_and_code, |app| async move {
    let fixture = setup(app).await;
    let created = create_replenishment(app, &fixture.first, "R-1", 10, "2027-01-15").await;

    let input = json!({ "input": {
        "id": created["id"], "quantity": 14, "expectedOn": "2027-02-01",
        "externalReferenceCode": "PO-2"
    } });
    let updated =
        app.ok(&update_mutation(), input).await["updateReplenishment"]["replenishment"].clone();
    assert_eq!(updated["quantity"], 14, "new quantity: {updated}");
    assert_eq!(
        updated["remainingQuantity"], 14,
        "all still to arrive: {updated}"
    );
    assert_eq!(updated["expectedOn"], "2027-02-01", "new date: {updated}");
    assert_eq!(
        updated["externalReferenceCode"], "PO-2",
        "new code: {updated}"
    );

    let input = json!({ "input": { "id": created["id"], "externalReferenceCode": null } });
    let cleared =
        app.ok(&update_mutation(), input).await["updateReplenishment"]["replenishment"].clone();
    assert!(
        cleared["externalReferenceCode"].is_null(),
        "null removes the code: {cleared}"
    );
    assert_eq!(
        cleared["quantity"], 14,
        "an omitted quantity is kept: {cleared}"
    );
    assert_eq!(
        cleared["expectedOn"], "2027-02-01",
        "an omitted date is kept: {cleared}"
    );
    assert_eq!(
        list(app, json!({})).await,
        vec![cleared.clone()],
        "the list reads the updated item"
    );
});

both_databases!(update_below_received_is_invalid, |app| async move {
    let fixture = setup(app).await;
    let created = create_replenishment(app, &fixture.first, "R-1", 10, "2027-01-15").await;
    let id = created["id"].as_str().expect("an id").to_owned();
    receive(app, &id, Some(4)).await;

    let cases = [(
        update_mutation(),
        json!({ "input": { "id": id, "quantity": 3 } }),
        "INVALID_INPUT",
        "quantity",
    )];
    let cases: Vec<(&str, Value, &str, &str)> = cases
        .iter()
        .map(|(m, v, c, f)| (m.as_str(), v.clone(), *c, *f))
        .collect();
    assert_rejected(app, &cases).await;

    let input = json!({ "input": { "id": id, "quantity": 4 } });
    let closed =
        app.ok(&update_mutation(), input).await["updateReplenishment"]["replenishment"].clone();
    assert_eq!(
        closed["open"], false,
        "a quantity equal to what was received closes the item: {closed}"
    );
    assert_eq!(closed["remainingQuantity"], 0, "nothing left: {closed}");
});

both_databases!(update_rejects_bad_input, |app| async move {
    let fixture = setup(app).await;
    let created = create_replenishment(app, &fixture.first, "R-1", 10, "2027-01-15").await;
    let second_item = app
        .ok(
            &create_mutation(),
            json!({ "input": {
                "warehouseId": fixture.first, "sku": "R-1", "quantity": 1,
                "expectedOn": "2027-01-20", "externalReferenceCode": "PO-9"
            } }),
        )
        .await;
    assert!(!second_item.is_null(), "the second item exists");
    let mutation = update_mutation();
    let id = created["id"].clone();
    let cases = [
        (
            mutation.as_str(),
            json!({ "input": { "id": id, "quantity": 0 } }),
            "INVALID_INPUT",
            "quantity",
        ),
        (
            mutation.as_str(),
            json!({ "input": { "id": id, "quantity": 1_000_000_001 } }),
            "INVALID_INPUT",
            "quantity",
        ),
        (
            mutation.as_str(),
            json!({ "input": { "id": id, "externalReferenceCode": "PO-9" } }),
            "DUPLICATE",
            "externalReferenceCode",
        ),
        (
            mutation.as_str(),
            json!({ "input": { "id": missing_replenishment_id(), "quantity": 2 } }),
            "NOT_FOUND",
            "id",
        ),
        (
            mutation.as_str(),
            json!({ "input": { "id": fixture.first, "quantity": 2 } }),
            "INVALID_INPUT",
            "id",
        ),
    ];
    assert_rejected(app, &cases).await;
});

// ---------------------------------------------------------------- receive

both_databases!(partial_receive_adds_to_on_hand, |app| async move {
    let fixture = setup(app).await;
    let input = json!({ "input": {
        "warehouseId": fixture.first, "sku": "R-1", "quantity": 10,
        "expectedOn": "2027-01-15", "externalReferenceCode": "PO-3"
    } });
    let created =
        app.ok(&create_mutation(), input).await["createReplenishment"]["replenishment"].clone();

    let input =
        json!({ "input": { "id": created["id"], "quantity": 4, "reason": "first pallet" } });
    let payload = app.ok(&receive_mutation(), input).await["receiveReplenishment"].clone();
    let item = &payload["replenishment"];
    assert_eq!(item["receivedQuantity"], 4, "4 received: {item}");
    assert_eq!(item["remainingQuantity"], 6, "6 to arrive: {item}");
    assert_eq!(item["open"], true, "still open: {item}");
    assert_eq!(
        payload["warehouseItem"]["onHand"], 9,
        "on hand rose from 5 by 4: {payload}"
    );

    let rows = payload["ledgerEntries"].as_array().expect("ledgerEntries");
    assert_eq!(rows.len(), 1, "one ledger row: {payload}");
    assert_eq!(rows[0]["kind"], "RECEIVED", "kind: {}", rows[0]);
    assert_eq!(rows[0]["onHandDelta"], 4, "delta: {}", rows[0]);
    assert_eq!(rows[0]["onHandAfter"], 9, "on hand after: {}", rows[0]);
    assert_eq!(rows[0]["reference"], "PO-3", "reference: {}", rows[0]);
    assert_eq!(rows[0]["reason"], "first pallet", "reason: {}", rows[0]);
    assert_eq!(
        rows[0]["warehouseId"], fixture.first,
        "warehouse: {}",
        rows[0]
    );

    let ledger = app.ok(RECEIVED_ROWS, json!({})).await;
    assert_eq!(
        ledger["inventoryLedger"]["nodes"],
        json!([{
            "id": rows[0]["id"], "kind": "RECEIVED", "onHandDelta": 4, "onHandAfter": 9,
            "reference": "PO-3", "reason": "first pallet", "warehouseId": fixture.first,
            "sku": { "code": "R-1" }
        }]),
        "the ledger lists the one RECEIVED row"
    );

    let summary = stock(app, "R-1", Some(&fixture.channel)).await;
    assert_eq!(summary["onHand"], 9, "summary on hand: {summary}");
    assert_eq!(summary["incoming"], 6, "incoming dropped to 6: {summary}");
    assert_eq!(
        summary["available"], 9,
        "available counts no incoming: {summary}"
    );
    assert_eq!(
        row_of(&summary, &fixture.first)["incoming"],
        6,
        "incoming of the warehouse: {summary}"
    );
    app.assert_ledger_balances().await;
});

both_databases!(receive_rest_closes_item, |app| async move {
    let fixture = setup(app).await;
    let created = create_replenishment(app, &fixture.first, "R-1", 10, "2027-01-15").await;
    let id = created["id"].as_str().expect("an id").to_owned();
    receive(app, &id, Some(4)).await;

    let payload = receive(app, &id, None).await;
    let item = &payload["replenishment"];
    assert_eq!(item["receivedQuantity"], 10, "everything received: {item}");
    assert_eq!(item["remainingQuantity"], 0, "nothing to arrive: {item}");
    assert_eq!(item["open"], false, "closed: {item}");
    assert_eq!(
        payload["ledgerEntries"][0]["onHandDelta"], 6,
        "the rest is 6 units: {payload}"
    );
    assert_eq!(
        payload["warehouseItem"]["onHand"], 15,
        "5 on hand plus 10 received: {payload}"
    );

    let summary = stock(app, "R-1", Some(&fixture.channel)).await;
    assert_eq!(summary["incoming"], 0, "no incoming left: {summary}");
    assert_eq!(summary["available"], 15, "all 15 sellable: {summary}");
    app.assert_ledger_balances().await;
});

both_databases!(receive_creates_missing_item, |app| async move {
    let fixture = setup(app).await;
    let created = create_replenishment(app, &fixture.second, "R-1", 3, "2027-01-15").await;
    assert_eq!(
        app.on_hand("R-1", &fixture.second).await,
        None,
        "R-1 is not stocked in the second warehouse yet"
    );

    receive(app, created["id"].as_str().expect("an id"), None).await;
    assert_eq!(
        app.on_hand("R-1", &fixture.second).await,
        Some(3),
        "receiving stocked the SKU there"
    );
    app.assert_ledger_balances().await;
});

both_databases!(receive_twice_is_conflict, |app| async move {
    let fixture = setup(app).await;
    let created = create_replenishment(app, &fixture.first, "R-1", 10, "2027-01-15").await;
    let id = created["id"].as_str().expect("an id").to_owned();
    receive(app, &id, None).await;

    let mutation = receive_mutation();
    let cases = [
        (
            mutation.as_str(),
            json!({ "input": { "id": id } }),
            "CONFLICT",
            "id",
        ),
        (
            mutation.as_str(),
            json!({ "input": { "id": id, "quantity": 1 } }),
            "CONFLICT",
            "id",
        ),
    ];
    assert_rejected(app, &cases).await;
});

both_databases!(receive_rejects_bad_quantities, |app| async move {
    let fixture = setup(app).await;
    let created = create_replenishment(app, &fixture.first, "R-1", 10, "2027-01-15").await;
    let id = created["id"].as_str().expect("an id").to_owned();
    receive(app, &id, Some(4)).await;

    let mutation = receive_mutation();
    let input = |quantity: i64| json!({ "input": { "id": id, "quantity": quantity } });
    let mut cases: Vec<(&str, Value, &str, &str)> = [7, 0, -1, TWO_POW_31, 1_000_000_001]
        .into_iter()
        .map(|quantity| {
            (
                mutation.as_str(),
                input(quantity),
                "INVALID_INPUT",
                "quantity",
            )
        })
        .collect();
    cases.push((
        mutation.as_str(),
        json!({ "input": { "id": missing_replenishment_id() } }),
        "NOT_FOUND",
        "id",
    ));
    cases.push((
        mutation.as_str(),
        json!({ "input": { "id": "garbage" } }),
        "INVALID_INPUT",
        "id",
    ));
    assert_rejected(app, &cases).await;

    let err = app.err(&mutation, input(7)).await;
    assert!(
        err.message.contains('6'),
        "the message says 6 units are left: {}",
        err.message
    );
});

both_databases!(
    receive_with_same_key_returns_first_result,
    |app| async move {
        let fixture = setup(app).await;
        let created = create_replenishment(app, &fixture.first, "R-1", 10, "2027-01-15").await;
        let input =
            json!({ "input": { "id": created["id"], "quantity": 3, "idempotencyKey": "rcv-1" } });
        let first = app.ok(&receive_mutation(), input.clone()).await;
        let after_first = state(app).await;

        let again = app.ok(&receive_mutation(), input).await;
        assert_eq!(again, first, "the retry returns the first result");
        assert_same_state(app, &after_first, "a retried receive").await;

        let other =
            json!({ "input": { "id": created["id"], "quantity": 2, "idempotencyKey": "rcv-1" } });
        let err = app.err(&receive_mutation(), other).await;
        assert_eq!(
            err.code, "CONFLICT",
            "the key with another quantity: {err:?}"
        );
        assert_same_state(app, &after_first, "a reused key").await;
    }
);

both_databases!(receive_above_max_on_hand_is_invalid, |app| async move {
    let fixture = setup(app).await;
    app.set_on_hand("R-1", &fixture.first, 999_999_998).await;
    let created = create_replenishment(app, &fixture.first, "R-1", 5, "2027-01-15").await;

    let cases = [(
        receive_mutation(),
        json!({ "input": { "id": created["id"] } }),
        "INVALID_INPUT",
        "quantity",
    )];
    let cases: Vec<(&str, Value, &str, &str)> = cases
        .iter()
        .map(|(m, v, c, f)| (m.as_str(), v.clone(), *c, *f))
        .collect();
    assert_rejected(app, &cases).await;
});

both_databases!(
    multi_thread,
    concurrent_receives_apply_once,
    |app| async move {
        let fixture = setup(app).await;
        let created = create_replenishment(app, &fixture.first, "R-1", 10, "2027-01-15").await;

        let mut tasks = Vec::new();
        for _ in 0..6 {
            let api = app.api();
            let input = json!({ "input": { "id": created["id"] } });
            tasks.push(tokio::spawn(async move {
                api.gql(&receive_mutation(), input).await
            }));
        }
        let mut received = 0;
        for task in tasks {
            let body = task.await.expect("the request task panicked");
            match body["errors"].as_array().and_then(|errors| errors.first()) {
                None => received += 1,
                Some(error) => assert_eq!(
                    api_error(error).code,
                    "CONFLICT",
                    "a losing receive is a conflict: {body}"
                ),
            }
        }
        assert_eq!(received, 1, "exactly one receive succeeds");
        assert_eq!(
            app.on_hand("R-1", &fixture.first).await,
            Some(15),
            "the 10 units arrive once"
        );
        let ledger = app.ok(RECEIVED_ROWS, json!({})).await;
        assert_eq!(
            ledger["inventoryLedger"]["nodes"].as_array().map(Vec::len),
            Some(1),
            "one RECEIVED row: {ledger}"
        );
        app.assert_ledger_balances().await;
    }
);

// ---------------------------------------------------------------- delete

both_databases!(delete_keeps_received_units, |app| async move {
    let fixture = setup(app).await;
    let created = create_replenishment(app, &fixture.first, "R-1", 10, "2027-01-15").await;
    let id = created["id"].as_str().expect("an id").to_owned();
    receive(app, &id, Some(4)).await;

    let data = app
        .ok(&delete_mutation(), json!({ "input": { "id": id } }))
        .await;
    let deleted = &data["deleteReplenishment"]["replenishment"];
    assert_eq!(deleted["id"], id.as_str(), "the deleted item: {deleted}");
    assert_eq!(
        deleted["receivedQuantity"], 4,
        "the item as it was: {deleted}"
    );
    assert!(list(app, json!({})).await.is_empty(), "the item is gone");
    assert_eq!(
        app.on_hand("R-1", &fixture.first).await,
        Some(9),
        "received units stay on hand"
    );
    let summary = stock(app, "R-1", Some(&fixture.channel)).await;
    assert_eq!(summary["incoming"], 0, "no incoming left: {summary}");

    let cases = [(
        delete_mutation(),
        json!({ "input": { "id": id } }),
        "NOT_FOUND",
        "id",
    )];
    let cases: Vec<(&str, Value, &str, &str)> = cases
        .iter()
        .map(|(m, v, c, f)| (m.as_str(), v.clone(), *c, *f))
        .collect();
    assert_rejected(app, &cases).await;
});

// ---------------------------------------------------------------- list

both_databases!(list_filters, |app| async move {
    let fixture = setup(app).await;
    app.create_product_with_sku("R-2").await;
    let mutation = create_mutation();
    for (warehouse, sku, date, code) in [
        (&fixture.first, "R-1", "2027-01-10", "A"),
        (&fixture.first, "R-2", "2027-01-20", "B"),
        (&fixture.second, "R-1", "2027-01-20", "C"),
        (&fixture.second, "R-2", "2027-02-01", "D"),
    ] {
        let input = json!({ "input": {
            "warehouseId": warehouse, "sku": sku, "quantity": 5,
            "expectedOn": date, "externalReferenceCode": code
        } });
        app.ok(&mutation, input).await;
    }
    let item_c = list(app, json!({ "sku": "R-1", "warehouseId": fixture.second })).await;
    receive(app, item_c[0]["id"].as_str().expect("an id"), None).await;

    let cases = [
        (json!({}), vec!["A", "B", "C", "D"]),
        (json!({ "sku": "R-1" }), vec!["A", "C"]),
        (json!({ "sku": " r-2 " }), vec!["B", "D"]),
        (json!({ "sku": "NOPE" }), vec![]),
        (json!({ "warehouseId": fixture.first }), vec!["A", "B"]),
        (
            json!({ "expectedBefore": "2027-01-20" }),
            vec!["A", "B", "C"],
        ),
        (json!({ "expectedBefore": "2027-01-19" }), vec!["A"]),
        (json!({ "open": true }), vec!["A", "B", "D"]),
        (json!({ "open": false }), vec!["C"]),
        (
            json!({ "sku": "R-2", "warehouseId": fixture.second, "expectedBefore": "2027-02-01", "open": true }),
            vec!["D"],
        ),
    ];
    for (filter, expected) in cases {
        let found = codes_of(&list(app, filter.clone()).await);
        assert_eq!(found, expected, "items matching {filter}");
    }
});

both_databases!(list_rejects_bad_filters, |app| async move {
    let fixture = setup(app).await;
    let query = list_query();
    let cases = [
        (
            query.as_str(),
            json!({ "filter": { "warehouseId": fixture.channel } }),
            "INVALID_INPUT",
            "filter.warehouseId",
        ),
        (
            query.as_str(),
            json!({ "filter": { "sku": " " } }),
            "INVALID_INPUT",
            "filter.sku",
        ),
        (
            query.as_str(),
            json!({ "first": 501 }),
            "INVALID_INPUT",
            "first",
        ),
    ];
    assert_rejected(app, &cases).await;
});

both_databases!(list_pages, |app| async move {
    let fixture = setup(app).await;
    let mut ids = Vec::new();
    for day in 1..=5 {
        let date = format!("2027-01-{day:02}");
        ids.push(create_replenishment(app, &fixture.first, "R-1", day, &date).await["id"].clone());
    }

    let first = app.ok(&list_query(), json!({ "first": 2 })).await["replenishments"].clone();
    assert_eq!(first["totalCount"], 5, "total count: {first}");
    assert_eq!(
        first["pageInfo"]["hasNextPage"], true,
        "more after the first page: {first}"
    );
    let page_ids: Vec<Value> = first["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(
        page_ids,
        ids[..2].to_vec(),
        "the first page is the first two by id"
    );

    let cursor = first["pageInfo"]["endCursor"].clone();
    let rest = app
        .ok(&list_query(), json!({ "first": 10, "after": cursor }))
        .await["replenishments"]
        .clone();
    let rest_ids: Vec<Value> = rest["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(
        rest_ids,
        ids[2..].to_vec(),
        "the next page holds the other three"
    );
    assert_eq!(
        rest["pageInfo"]["hasNextPage"], false,
        "nothing after the last page: {rest}"
    );
});

// ---------------------------------------------------------------- incoming in stock

both_databases!(
    incoming_shows_in_stock_but_not_in_available,
    |app| async move {
        let fixture = setup(app).await;
        app.set_on_hand("R-1", &fixture.second, 0).await;
        let unlinked = app.create_warehouse("Unlinked").await;
        app.set_on_hand("R-1", &unlinked, 1).await;
        create_replenishment(app, &fixture.first, "R-1", 7, "2027-01-15").await;
        create_replenishment(app, &fixture.first, "R-1", 2, "2027-02-15").await;
        create_replenishment(app, &fixture.second, "R-1", 4, "2027-01-15").await;
        create_replenishment(app, &unlinked, "R-1", 100, "2027-01-15").await;

        let summary = stock(app, "R-1", Some(&fixture.channel)).await;
        assert_eq!(
            summary["incoming"], 13,
            "7 + 2 + 4 in the channel, not the unlinked 100: {summary}"
        );
        assert_eq!(
            summary["available"], 5,
            "incoming is never available: {summary}"
        );
        assert_eq!(
            row_of(&summary, &fixture.first)["incoming"],
            9,
            "both items of the first warehouse: {summary}"
        );
        assert_eq!(
            row_of(&summary, &fixture.first)["available"],
            5,
            "the first warehouse sells only its on hand: {summary}"
        );
        assert_eq!(
            row_of(&summary, &fixture.second)["incoming"],
            4,
            "the second warehouse: {summary}"
        );

        let everywhere = stock(app, "R-1", None).await;
        assert_eq!(
            everywhere["incoming"], 113,
            "company-wide counts every active warehouse: {everywhere}"
        );
        assert_eq!(
            everywhere["available"], 6,
            "company-wide available is on hand only: {everywhere}"
        );
    }
);

// ---------------------------------------------------------------- deleting a warehouse

const DELETE_WAREHOUSE: &str = "mutation($input: DeleteWarehouseInput!) {
    deleteWarehouse(input: $input) { warehouse { id } } }";

both_databases!(
    delete_warehouse_with_open_item_is_not_empty,
    |app| async move {
        let fixture = setup(app).await;
        create_replenishment(app, &fixture.second, "R-1", 4, "2027-01-15").await;

        let cases = [(
            DELETE_WAREHOUSE,
            json!({ "input": { "id": fixture.second } }),
            "WAREHOUSE_NOT_EMPTY",
            "id",
        )];
        assert_rejected(app, &cases).await;
        let err = app
            .err(
                DELETE_WAREHOUSE,
                json!({ "input": { "id": fixture.second } }),
            )
            .await;
        assert!(
            err.message.contains("replenishment"),
            "the message names the open replenishment: {}",
            err.message
        );
    }
);

both_databases!(delete_warehouse_moves_open_items, |app| async move {
    let fixture = setup(app).await;
    let created = create_replenishment(app, &fixture.second, "R-1", 4, "2027-01-15").await;

    let input = json!({ "input": { "id": fixture.second, "moveStockTo": fixture.first } });
    app.ok(DELETE_WAREHOUSE, input).await;

    let items = list(app, json!({})).await;
    assert_eq!(items.len(), 1, "the item survives: {items:?}");
    assert_eq!(items[0]["id"], created["id"], "the same item: {items:?}");
    assert_eq!(
        items[0]["warehouse"]["id"], fixture.first,
        "it now arrives in the heir: {items:?}"
    );
    assert_eq!(
        items[0]["remainingQuantity"], 4,
        "still 4 to arrive: {items:?}"
    );
    let summary = stock(app, "R-1", Some(&fixture.channel)).await;
    assert_eq!(
        row_of(&summary, &fixture.first)["incoming"],
        4,
        "the heir expects the 4 units: {summary}"
    );

    let payload = receive(app, created["id"].as_str().expect("an id"), None).await;
    assert_eq!(
        payload["warehouseItem"]["onHand"], 9,
        "receiving after the move fills the heir: {payload}"
    );
});

both_databases!(
    delete_warehouse_with_received_items_only,
    |app| async move {
        let fixture = setup(app).await;
        let created = create_replenishment(app, &fixture.second, "R-1", 4, "2027-01-15").await;
        receive(app, created["id"].as_str().expect("an id"), None).await;
        app.set_on_hand("R-1", &fixture.second, 0).await;

        let data = app
            .ok(
                DELETE_WAREHOUSE,
                json!({ "input": { "id": fixture.second } }),
            )
            .await;
        assert_eq!(
            data["deleteWarehouse"]["warehouse"]["id"], fixture.second,
            "a warehouse with no stock and only received items can be deleted: {data}"
        );
        assert!(
            list(app, json!({})).await.is_empty(),
            "its received items go with it"
        );
    }
);

// ---------------------------------------------------------------- calendar dates

/// Dates on which clocks change in Europe (2027-03-28) and in the United States (2026-11-01):
/// a date read as a midnight instant in a local zone is off by one there.
const EU_CHANGE: &str = "2027-03-28";
const US_CHANGE: &str = "2026-11-01";

both_databases!(dates_round_trip, |app| async move {
    let fixture = setup(app).await;
    let eu = create_replenishment(app, &fixture.first, "R-1", 1, EU_CHANGE).await;
    let us = create_replenishment(app, &fixture.first, "R-1", 1, US_CHANGE).await;
    assert_eq!(eu["expectedOn"], EU_CHANGE, "the European date: {eu}");
    assert_eq!(us["expectedOn"], US_CHANGE, "the US date: {us}");

    let listed = list(app, json!({})).await;
    let dates: Vec<&str> = listed
        .iter()
        .map(|i| i["expectedOn"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        dates,
        vec![EU_CHANGE, US_CHANGE],
        "the list reads both dates"
    );

    let cases = [
        (EU_CHANGE, vec![&eu["id"], &us["id"]]),
        ("2027-03-27", vec![&us["id"]]),
        (US_CHANGE, vec![&us["id"]]),
        ("2026-10-31", vec![]),
    ];
    for (date, expected) in cases {
        let found = list(app, json!({ "expectedBefore": date })).await;
        let ids: Vec<&Value> = found.iter().map(|item| &item["id"]).collect();
        assert_eq!(
            ids, expected,
            "items expected on or before {date}: {found:?}"
        );
    }

    let input = json!({ "input": { "id": us["id"], "expectedOn": "2027-10-31" } });
    let moved =
        app.ok(&update_mutation(), input).await["updateReplenishment"]["replenishment"].clone();
    assert_eq!(
        moved["expectedOn"], "2027-10-31",
        "an updated date on the European autumn change: {moved}"
    );
});

// ---------------------------------------------------------------- own database and server

/// A database created by a test itself, removed by [`OwnDatabase::remove`].
pub struct OwnDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl OwnDatabase {
    /// Creates an empty database: a SQLite file in a temporary folder, or a PostgreSQL database
    /// named `stockroom_test_<uuid>` on the server of `STOCKROOM_TEST_POSTGRES_URL`.
    pub async fn create(backend: Backend) -> OwnDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("failed to create a temporary folder");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("own.db").display());
                OwnDatabase {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin = std::env::var("STOCKROOM_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_ADMIN_URL.to_owned());
                let name = format!("stockroom_test_{}", uuid::Uuid::new_v4().simple());
                run_admin(&admin, &format!("CREATE DATABASE \"{name}\"")).await;
                OwnDatabase {
                    url: sibling_database(&admin, &name),
                    _dir: None,
                    postgres: Some((admin, name)),
                }
            }
        }
    }

    /// Drops the PostgreSQL database or deletes the SQLite folder.
    pub async fn remove(self) {
        if let Some((admin, name)) = &self.postgres {
            run_admin(
                admin,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            )
            .await;
        }
    }
}

/// Runs one statement on the PostgreSQL admin database.
async fn run_admin(admin_url: &str, sql: &str) {
    let mut options = ConnectOptions::new(admin_url.to_owned());
    options.max_connections(1).sqlx_logging(false);
    let admin = Database::connect(options)
        .await
        .unwrap_or_else(|err| panic!("PostgreSQL is not reachable for {sql:?}: {err}"));
    admin
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|err| panic!("{sql:?} failed: {err}"));
    let _ = admin.close().await;
}

/// Builds the URL of database `name` on the same server as `admin_url`.
fn sibling_database(admin_url: &str, name: &str) -> String {
    let (without_query, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(url, query)| (url, Some(query)));
    let authority_start = without_query.find("://").map_or(0, |at| at + 3);
    let server = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Runs `body` with a database of the test's own and removes the database afterwards, also
/// when the body panics.
pub async fn with_own_database<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let database = OwnDatabase::create(backend).await;
    let outcome = AssertUnwindSafe(body(database.url.clone()))
        .catch_unwind()
        .await;
    database.remove().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The `stockroom serve` binary running in a process of its own, on 127.0.0.1 and a free port.
pub struct ServerProcess {
    child: tokio::process::Child,
    http: reqwest::Client,
    pub url: String,
}

impl ServerProcess {
    /// Starts the server binary on `database_url` with the environment variable `TZ` set to
    /// `time_zone`, and waits until it listens.
    pub async fn start(database_url: &str, time_zone: &str) -> ServerProcess {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stockroom"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--no-auth"])
            .env("STOCKROOM_DATABASE_URL", database_url)
            .env("STOCKROOM_LOG", "info")
            .env("TZ", time_zone)
            .env_remove("STOCKROOM_DEMO")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("failed to start the stockroom binary");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();

        let address = tokio::time::timeout(Duration::from_secs(60), async {
            let mut seen = Vec::new();
            while let Some(line) = lines
                .next_line()
                .await
                .expect("failed to read the server log")
            {
                let address = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|entry| entry["fields"]["address"].as_str().map(str::to_owned));
                if let Some(address) = address {
                    return address;
                }
                seen.push(line);
            }
            panic!("the server under TZ={time_zone} exited before listening: {seen:#?}");
        })
        .await
        .unwrap_or_else(|_| panic!("the server under TZ={time_zone} did not listen within 60 s"));

        // Keeps reading the log, so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess {
            child,
            http: reqwest::Client::new(),
            url: format!("http://{address}/graphql"),
        }
    }

    /// Sends a request that must succeed and returns its `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap_or_else(|err| panic!("POST {} failed: {err}", self.url))
            .json()
            .await
            .expect("the response is not JSON");
        assert!(
            body.get("errors").is_none(),
            "expected no errors from {}: {}\nquery: {query}",
            self.url,
            pretty(&body)
        );
        body["data"].clone()
    }

    /// Stops the process.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Awaits `request` and returns its value between the UTC dates just before and just after
/// it, so a test can allow a request that runs across midnight.
pub async fn utc_dates_around<F: std::future::Future<Output = Value>>(
    request: F,
) -> (String, Value, String) {
    let before = chrono::Utc::now().date_naive().to_string();
    let value = request.await;
    let after = chrono::Utc::now().date_naive().to_string();
    (before, value, after)
}

/// Time zones for the server process: New York and Berlin, whose clock changes fall on the
/// dates above, and the two zones farthest from UTC, one of which is always on another date.
const TIME_ZONES: [&str; 4] = [
    "America/New_York",
    "Europe/Berlin",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
];

/// Creates items through servers in two time zones and reads them through servers in four.
async fn dates_under_time_zones(backend: Backend) {
    with_own_database(backend, |url| async move {
        // Migrates the database and creates the fixtures through a New York server.
        let new_york = ServerProcess::start(&url, TIME_ZONES[0]).await;
        let ids = setup_through(&new_york).await;
        new_york.stop().await;
        let berlin = ServerProcess::start(&url, TIME_ZONES[1]).await;
        let input = json!({ "input": {
            "warehouseId": ids.warehouse, "sku": "TZ-1", "quantity": 1,
            "expectedOn": EU_CHANGE, "externalReferenceCode": "EU"
        } });
        berlin.ok(&create_mutation(), input).await;
        berlin.stop().await;

        for zone in TIME_ZONES {
            let server = ServerProcess::start(&url, zone).await;
            check_dates_through(&server, zone, &ids).await;
            server.stop().await;
        }
    })
    .await;
}

/// Ids made by [`setup_through`].
struct ZoneIds {
    channel: String,
    warehouse: String,
}

/// Creates a channel, a linked active warehouse, SKU `TZ-1` shown as unavailable with nothing
/// on hand, and the US item, through `server`.
async fn setup_through(server: &ServerProcess) -> ZoneIds {
    let channel = id_at(
        &server
            .ok(
                "mutation { createChannel(input: { name: \"Zones\" }) { channel { id } } }",
                json!({}),
            )
            .await["createChannel"]["channel"],
    );
    let warehouse = id_at(
        &server
            .ok(
                "mutation { createWarehouse(input: { name: \"East\", active: true }) { warehouse { id } } }",
                json!({}),
            )
            .await["createWarehouse"]["warehouse"],
    );
    server
        .ok(
            "mutation($w: ID!, $c: ID!) {
                linkWarehouseToChannel(input: { warehouseId: $w, channelId: $c }) { warehouse { id } } }",
            json!({ "w": warehouse, "c": channel }),
        )
        .await;
    let product = id_at(
        &server
            .ok(
                "mutation { createProduct(input: { name: \"Zone product\" }) { product { id } } }",
                json!({}),
            )
            .await["createProduct"]["product"],
    );
    server
        .ok(
            "mutation($p: ID!) {
                createSku(input: { productId: $p, code: \"TZ-1\" }) { sku { id } }
                setProductInventoryConfiguration(input: { productId: $p, displayAvailability: true }) {
                    product { id } } }",
            json!({ "p": product }),
        )
        .await;
    let input = json!({ "input": {
        "warehouseId": warehouse, "sku": "TZ-1", "quantity": 1,
        "expectedOn": US_CHANGE, "externalReferenceCode": "US"
    } });
    server.ok(&create_mutation(), input).await;
    ZoneIds { channel, warehouse }
}

/// Reads both items, filters on the exact dates and reads the overdue date through `server`.
async fn check_dates_through(server: &ServerProcess, zone: &str, ids: &ZoneIds) {
    let query = list_query();
    let listed = |filter: Value| {
        let query = query.clone();
        async move {
            let data = server
                .ok(&query, json!({ "filter": filter, "first": 10 }))
                .await;
            let nodes = data["replenishments"]["nodes"]
                .as_array()
                .expect("nodes")
                .clone();
            nodes
                .iter()
                .map(|n| {
                    format!(
                        "{}={}",
                        n["externalReferenceCode"].as_str().unwrap_or(""),
                        n["expectedOn"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let us = format!("US={US_CHANGE}");
    let eu = format!("EU={EU_CHANGE}");
    assert_eq!(
        listed(json!({})).await,
        vec![us.clone(), eu.clone()],
        "both dates read back under TZ={zone}"
    );
    assert_eq!(
        listed(json!({ "expectedBefore": US_CHANGE })).await,
        vec![us.clone()],
        "expectedBefore {US_CHANGE} includes that day under TZ={zone}"
    );
    assert_eq!(
        listed(json!({ "expectedBefore": "2026-10-31" })).await,
        Vec::<String>::new(),
        "expectedBefore the day before excludes it under TZ={zone}"
    );
    assert_eq!(
        listed(json!({ "expectedBefore": EU_CHANGE })).await,
        vec![us.clone(), eu.clone()],
        "expectedBefore {EU_CHANGE} includes that day under TZ={zone}"
    );
    assert_eq!(
        listed(json!({ "expectedBefore": "2027-03-27" })).await,
        vec![us],
        "expectedBefore the day before the EU change under TZ={zone}"
    );

    // The US date has passed, so the item is overdue and counts as expected today in UTC.
    let availability = "query($c: ID!) { sku(code: \"TZ-1\") { availability(channelId: $c) {
        status estimate { expectedOn } } } }";
    let (before, data, after) =
        utc_dates_around(server.ok(availability, json!({ "c": ids.channel }))).await;
    let shown = &data["sku"]["availability"];
    assert_eq!(
        shown["status"], "UNAVAILABLE",
        "nothing on hand under TZ={zone}: {shown}"
    );
    let expected_on = shown["estimate"]["expectedOn"].as_str().unwrap_or("none");
    // Before the US date itself, the item is not overdue yet and keeps its date.
    let not_before_us = |today: String| today.max(US_CHANGE.to_owned());
    let (before, after) = (not_before_us(before), not_before_us(after));
    assert!(
        expected_on == before || expected_on == after,
        "the overdue item is expected on the UTC date {before} under TZ={zone}, got {expected_on}"
    );
}

mod dates_under_server_time_zones {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        dates_under_time_zones(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        dates_under_time_zones(Backend::Postgres).await;
    }
}
