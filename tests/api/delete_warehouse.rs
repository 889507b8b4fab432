//! Deleting a warehouse: rejected while it contains stock, unless the stock moves elsewhere.

use serde_json::json;

use crate::helpers::*;

const DELETE: &str = "mutation($input: DeleteWarehouseInput!) {
    deleteWarehouse(input: $input) { warehouse { id name } } }";
const WAREHOUSE: &str = "query($id: ID) { warehouse(id: $id) { id } }";
const LEDGER_BY_KIND: &str = "query($kind: LedgerEntryKind) {
    inventoryLedger(filter: { kind: $kind }) {
        nodes { kind onHandDelta reference warehouseId sku { code } } } }";

/// Creates two active warehouses linked to a channel, SKU `W-1` with 10 on hand and 2 safety
/// stock in the first and 4 on hand in the second, and returns both warehouse ids.
async fn two_stocked_warehouses(app: &TestApp) -> (String, String) {
    let (_channel, warehouses) = app.channel_with_warehouses(2).await;
    app.create_product_with_sku("W-1").await;
    app.set_stock("W-1", &warehouses[0], 10, 2).await;
    app.set_on_hand("W-1", &warehouses[1], 4).await;
    (warehouses[0].clone(), warehouses[1].clone())
}

both_databases!(delete_with_stock_is_refused, |app| async move {
    let (doomed, _) = two_stocked_warehouses(app).await;
    let before = app.snapshot().await;

    let err = app.err(DELETE, json!({ "input": { "id": doomed } })).await;
    assert_eq!(
        err.code, "WAREHOUSE_NOT_EMPTY",
        "a warehouse with stock: {err:?}"
    );
    assert_eq!(err.field.as_deref(), Some("id"), "field of {err:?}");
    assert!(
        err.message.contains("10"),
        "the message says what it holds: {}",
        err.message
    );
    app.assert_unchanged(&before, "a refused deletion").await;

    let data = app.ok(WAREHOUSE, json!({ "id": doomed })).await;
    assert_eq!(
        data["warehouse"]["id"], doomed,
        "the warehouse still exists"
    );
});

both_databases!(delete_moving_stock_elsewhere, |app| async move {
    let (doomed, heir) = two_stocked_warehouses(app).await;

    let input = json!({ "input": { "id": doomed, "moveStockTo": heir } });
    let data = app.ok(DELETE, input).await;
    assert_eq!(
        data["deleteWarehouse"]["warehouse"]["id"], doomed,
        "the deleted warehouse"
    );
    let data = app.ok(WAREHOUSE, json!({ "id": doomed })).await;
    assert!(data["warehouse"].is_null(), "the warehouse is gone");

    let item = app.item("W-1", &heir).await.expect("the heir stocks W-1");
    assert_eq!(
        item.on_hand, 14,
        "the heir has its 4 units and the 10 moved"
    );
    assert_eq!(
        item.safety_stock, 2,
        "the safety stock moved with the stock"
    );

    let out = app
        .ok(LEDGER_BY_KIND, json!({ "kind": "TRANSFERRED_OUT" }))
        .await;
    let out = out["inventoryLedger"]["nodes"]
        .as_array()
        .expect("nodes is a list")
        .clone();
    assert_eq!(out.len(), 1, "one row out: {out:?}");
    assert_eq!(
        out[0]["onHandDelta"], -10,
        "10 units left the deleted warehouse"
    );
    assert_eq!(
        out[0]["warehouseId"], doomed,
        "the out row keeps the deleted warehouse's id"
    );

    let into = app
        .ok(LEDGER_BY_KIND, json!({ "kind": "TRANSFERRED_IN" }))
        .await;
    let into = into["inventoryLedger"]["nodes"]
        .as_array()
        .expect("nodes is a list")
        .clone();
    assert_eq!(into.len(), 1, "one row in: {into:?}");
    assert_eq!(into[0]["onHandDelta"], 10, "10 units arrived in the heir");
    assert_eq!(into[0]["warehouseId"], heir, "the in row names the heir");
    assert!(
        out[0]["reference"].is_string(),
        "the move has a reference: {}",
        out[0]["reference"]
    );
    assert_eq!(
        out[0]["reference"], into[0]["reference"],
        "both rows share the reference"
    );

    app.assert_ledger_balances().await;
});

both_databases!(delete_empty_warehouse_needs_no_target, |app| async move {
    let warehouse = app.create_warehouse("Empty").await;
    app.create_product_with_sku("E-1").await;
    app.set_on_hand("E-1", &warehouse, 3).await;
    app.adjust("E-1", &warehouse, -3).await;

    app.ok(DELETE, json!({ "input": { "id": warehouse } }))
        .await;
    let data = app.ok(WAREHOUSE, json!({ "id": warehouse })).await;
    assert!(
        data["warehouse"].is_null(),
        "an emptied warehouse is deleted"
    );
    assert!(
        app.item_rows().await.is_empty(),
        "its zero item is removed with it"
    );
});

both_databases!(delete_moving_to_itself_is_invalid, |app| async move {
    let (doomed, _) = two_stocked_warehouses(app).await;
    let before = app.snapshot().await;

    let err = app
        .err(
            DELETE,
            json!({ "input": { "id": doomed, "moveStockTo": doomed } }),
        )
        .await;
    assert_eq!(err.code, "INVALID_INPUT", "moving to itself: {err:?}");
    assert_eq!(
        err.field.as_deref(),
        Some("moveStockTo"),
        "field of {err:?}"
    );
    app.assert_unchanged(&before, "a deletion moving stock to itself")
        .await;
});

both_databases!(delete_moving_to_unknown_is_not_found, |app| async move {
    let (doomed, _) = two_stocked_warehouses(app).await;
    let before = app.snapshot().await;

    let input = json!({ "input": { "id": doomed, "moveStockTo": missing_id("Warehouse") } });
    let err = app.err(DELETE, input).await;
    assert_eq!(err.code, "NOT_FOUND", "an unknown target: {err:?}");
    assert_eq!(
        err.field.as_deref(),
        Some("moveStockTo"),
        "field of {err:?}"
    );
    app.assert_unchanged(&before, "a deletion moving stock to an unknown warehouse")
        .await;
});

both_databases!(delete_unknown_warehouse_is_not_found, |app| async move {
    let err = app
        .err(
            DELETE,
            json!({ "input": { "id": missing_id("Warehouse") } }),
        )
        .await;
    assert_eq!(err.code, "NOT_FOUND", "an unknown warehouse: {err:?}");
    assert_eq!(err.field.as_deref(), Some("id"), "field of {err:?}");
});
