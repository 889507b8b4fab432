//! The inventory ledger: every change of on hand has a row, and only changes do.

use serde_json::json;

use crate::helpers::*;

const LEDGER: &str = "query($filter: LedgerEntryFilter) {
    inventoryLedger(filter: $filter, first: 500) {
        totalCount nodes { kind onHandDelta onHandAfter reference sku { code } warehouseId } } }";

/// Runs a mixed sequence of stock changes over two SKUs and three warehouses.
async fn run_sequence(app: &TestApp) -> Vec<String> {
    let (_channel, warehouses) = app.channel_with_warehouses(3).await;
    let [a, b, c] = [&warehouses[0], &warehouses[1], &warehouses[2]];
    app.create_product_with_sku("L-1").await;
    app.create_product_with_sku("L-2").await;

    app.set_on_hand("L-1", a, 50).await;
    app.adjust("L-1", a, -8).await;
    app.adjust("L-1", a, 3).await;
    app.set_on_hand("L-1", a, 40).await;
    app.set_stock("L-1", a, 40, 5).await;
    let transfer = json!({ "input": {
        "sku": "L-1", "fromWarehouseId": a, "toWarehouseId": b, "quantity": 12
    } });
    app.ok(&transfer_inventory_mutation(), transfer).await;
    app.adjust("L-1", b, -2).await;

    let bulk = json!({ "input": { "items": [
        { "sku": "L-2", "warehouseId": a, "onHand": 9 },
        { "sku": "L-2", "warehouseId": c, "onHand": 1 },
        { "sku": "L-1", "warehouseId": c, "onHand": 6 },
    ] } });
    app.ok(&bulk_set_inventory_mutation(), bulk).await;
    app.set_on_hand("L-2", c, 0).await;
    app.adjust("L-2", a, 100).await;
    warehouses
}

both_databases!(on_hand_equals_sum_of_ledger_deltas, |app| async move {
    run_sequence(app).await;
    app.assert_ledger_balances().await;

    let items = app.item_rows().await;
    assert_eq!(items.len(), 5, "items: L-1 in a, b, c and L-2 in a, c");
});

both_databases!(ledger_query_matches_stock, |app| async move {
    let warehouses = run_sequence(app).await;

    for warehouse in &warehouses {
        for sku in ["L-1", "L-2"] {
            let filter = json!({ "filter": { "sku": sku, "warehouseId": warehouse } });
            let data = app.ok(LEDGER, filter).await;
            let rows = data["inventoryLedger"]["nodes"]
                .as_array()
                .expect("nodes is a list");
            let sum: i64 = rows.iter().map(|row| int(&row["onHandDelta"])).sum();
            let on_hand = app.on_hand(sku, warehouse).await.unwrap_or(0);
            assert_eq!(
                sum, on_hand,
                "{sku} in {warehouse}: ledger sum against on hand"
            );
            for row in rows {
                assert_eq!(row["sku"]["code"], sku, "the filter keeps only {sku}");
                assert_eq!(
                    row["warehouseId"], **warehouse,
                    "the filter keeps only {warehouse}"
                );
            }
            if let Some(newest) = rows.first() {
                assert_eq!(
                    newest["onHandAfter"], on_hand,
                    "the newest row ends at on hand"
                );
            }
        }
    }
});

both_databases!(ledger_filters_by_kind_and_reference, |app| async move {
    run_sequence(app).await;

    let data = app
        .ok(LEDGER, json!({ "filter": { "kind": "TRANSFERRED_OUT" } }))
        .await;
    let rows = data["inventoryLedger"]["nodes"]
        .as_array()
        .expect("nodes is a list")
        .clone();
    assert_eq!(rows.len(), 1, "one transfer out: {rows:?}");
    let reference = rows[0]["reference"]
        .as_str()
        .expect("a transfer has a reference");

    let data = app
        .ok(LEDGER, json!({ "filter": { "reference": reference } }))
        .await;
    let kinds = strings_at(&data["inventoryLedger"]["nodes"], "kind");
    assert_eq!(
        kinds,
        ["TRANSFERRED_IN", "TRANSFERRED_OUT"],
        "both rows, newest first"
    );

    let data = app
        .ok(LEDGER, json!({ "filter": { "kind": "ADJUSTED" } }))
        .await;
    assert_eq!(data["inventoryLedger"]["totalCount"], 4, "four adjustments");
});

both_databases!(rejected_request_writes_no_ledger_row, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    app.create_product_with_sku("R-1").await;
    app.set_on_hand("R-1", &warehouse, 5).await;
    let rows_before = app.ledger_rows().await;

    let rejected = [
        (
            adjust_inventory_mutation(),
            json!({ "sku": "R-1", "warehouseId": warehouse, "delta": -6 }),
        ),
        (
            adjust_inventory_mutation(),
            json!({ "sku": "R-1", "warehouseId": warehouse, "delta": 0 }),
        ),
        (
            set_inventory_mutation(),
            json!({ "sku": "R-1", "warehouseId": warehouse, "onHand": -1 }),
        ),
        (
            set_inventory_mutation(),
            json!({ "sku": "R-1", "warehouseId": warehouse, "onHand": 9, "expectedOnHand": 4 }),
        ),
        (
            set_inventory_mutation(),
            json!({ "sku": "NOPE", "warehouseId": warehouse, "onHand": 1 }),
        ),
    ];
    for (mutation, input) in rejected {
        app.err(&mutation, json!({ "input": input })).await;
        assert_eq!(
            app.ledger_rows().await,
            rows_before,
            "a rejected {input} wrote a ledger row"
        );
    }
});

both_databases!(no_op_writes_no_ledger_row, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    app.create_product_with_sku("N-1").await;
    app.set_on_hand("N-1", &warehouse, 5).await;
    let before = app.snapshot().await;

    let payload = app.set_on_hand("N-1", &warehouse, 5).await;
    assert_eq!(
        payload["ledgerEntries"],
        json!([]),
        "setting the same value reports no row"
    );
    assert_eq!(
        payload["warehouseItem"]["onHand"], 5,
        "on hand is unchanged"
    );
    app.assert_unchanged(&before, "setting the same value")
        .await;

    let bulk =
        json!({ "input": { "items": [{ "sku": "N-1", "warehouseId": warehouse, "onHand": 5 }] } });
    app.ok(&bulk_set_inventory_mutation(), bulk).await;
    app.assert_unchanged(&before, "a bulk set to the same value")
        .await;
});
