//! Transfers move stock between two warehouses in one step.

use serde_json::json;

use crate::helpers::*;

/// Creates two warehouses and a SKU `T-1` with `on_hand` units and `safety_stock` in the
/// first, and returns both warehouse ids.
async fn source_and_target(app: &TestApp, on_hand: i64, safety_stock: i64) -> (String, String) {
    let source = app.create_warehouse("Source").await;
    let target = app.create_warehouse("Target").await;
    app.create_product_with_sku("T-1").await;
    app.set_stock("T-1", &source, on_hand, safety_stock).await;
    (source, target)
}

both_databases!(transfer_moves_and_creates_destination, |app| async move {
    let (source, target) = source_and_target(app, 10, 0).await;
    assert_eq!(
        app.item("T-1", &target).await,
        None,
        "the target does not stock T-1 yet"
    );

    let input = json!({ "input": {
        "sku": "T-1", "fromWarehouseId": source, "toWarehouseId": target, "quantity": 4
    } });
    let data = app.ok(&transfer_inventory_mutation(), input).await;
    let payload = &data["transferInventory"];
    assert_eq!(payload["from"]["onHand"], 6, "the source keeps 6");
    assert_eq!(
        payload["to"]["onHand"], 4,
        "the new destination item holds 4"
    );

    let entries = payload["ledgerEntries"]
        .as_array()
        .expect("ledgerEntries is a list");
    assert_eq!(entries.len(), 2, "two ledger rows: {entries:?}");
    assert_eq!(
        entries[0]["kind"], "TRANSFERRED_OUT",
        "first row leaves the source"
    );
    assert_eq!(entries[0]["onHandDelta"], -4, "delta out");
    assert_eq!(
        entries[0]["warehouseId"], source,
        "the out row names the source"
    );
    assert_eq!(
        entries[1]["kind"], "TRANSFERRED_IN",
        "second row enters the target"
    );
    assert_eq!(entries[1]["onHandDelta"], 4, "delta in");
    assert_eq!(
        entries[1]["warehouseId"], target,
        "the in row names the target"
    );
    assert_eq!(
        entries[0]["reference"], payload["reference"],
        "the out row has the reference"
    );
    assert_eq!(
        entries[1]["reference"], payload["reference"],
        "the in row has the reference"
    );

    assert_eq!(app.on_hand("T-1", &source).await, Some(6), "stored source");
    assert_eq!(app.on_hand("T-1", &target).await, Some(4), "stored target");
    app.assert_ledger_balances().await;
});

both_databases!(transfer_limited_by_available, |app| async move {
    // 10 on hand, 3 kept back as safety stock: 7 can move.
    let (source, target) = source_and_target(app, 10, 3).await;
    let before = app.snapshot().await;

    let input = |quantity: i64| {
        json!({ "input": {
            "sku": "T-1", "fromWarehouseId": source, "toWarehouseId": target, "quantity": quantity
        } })
    };
    let err = app.err(&transfer_inventory_mutation(), input(8)).await;
    assert_eq!(err.code, "INSUFFICIENT_STOCK", "8 of 7 available: {err:?}");
    assert_eq!(err.field.as_deref(), Some("quantity"), "field of {err:?}");
    app.assert_unchanged(&before, "a transfer above the available quantity")
        .await;
    assert_eq!(
        app.item("T-1", &target).await,
        None,
        "no destination item is left behind"
    );

    let data = app.ok(&transfer_inventory_mutation(), input(7)).await;
    assert_eq!(
        data["transferInventory"]["from"]["onHand"], 3,
        "the safety stock stays"
    );
    assert_eq!(
        data["transferInventory"]["to"]["onHand"], 7,
        "all of the available moved"
    );
});

both_databases!(
    transfer_from_unstocked_source_is_insufficient,
    |app| async move {
        let source = app.create_warehouse("Source").await;
        let target = app.create_warehouse("Target").await;
        app.create_product_with_sku("T-2").await;
        app.set_on_hand("T-2", &target, 5).await;
        let before = app.snapshot().await;

        let input = json!({ "input": {
        "sku": "T-2", "fromWarehouseId": source, "toWarehouseId": target, "quantity": 1
    } });
        let err = app.err(&transfer_inventory_mutation(), input).await;
        assert_eq!(err.code, "INSUFFICIENT_STOCK", "nothing to move: {err:?}");
        app.assert_unchanged(&before, "a transfer from an unstocked warehouse")
            .await;
    }
);

both_databases!(transfer_to_same_warehouse_is_invalid, |app| async move {
    let (source, _target) = source_and_target(app, 10, 0).await;
    let before = app.snapshot().await;

    let input = json!({ "input": {
        "sku": "T-1", "fromWarehouseId": source, "toWarehouseId": source, "quantity": 1
    } });
    let err = app.err(&transfer_inventory_mutation(), input).await;
    assert_eq!(err.code, "INVALID_INPUT", "same warehouse: {err:?}");
    assert_eq!(
        err.field.as_deref(),
        Some("toWarehouseId"),
        "field of {err:?}"
    );
    app.assert_unchanged(&before, "a transfer to the same warehouse")
        .await;
});

both_databases!(transfer_rejects_bad_quantities, |app| async move {
    let (source, target) = source_and_target(app, 10, 0).await;
    let before = app.snapshot().await;

    for quantity in [0, -1, 2_147_483_648_i64, 1_000_000_001] {
        let input = json!({ "input": {
            "sku": "T-1", "fromWarehouseId": source, "toWarehouseId": target, "quantity": quantity
        } });
        let err = app.err(&transfer_inventory_mutation(), input).await;
        assert_eq!(err.code, "INVALID_INPUT", "quantity {quantity}: {err:?}");
        assert_eq!(
            err.field.as_deref(),
            Some("quantity"),
            "field for {quantity}: {err:?}"
        );
    }
    app.assert_unchanged(&before, "transfers with bad quantities")
        .await;
});

both_databases!(
    transfer_between_unknown_warehouses_is_not_found,
    |app| async move {
        let (source, target) = source_and_target(app, 10, 0).await;
        let before = app.snapshot().await;

        let cases = [
            (source.clone(), missing_id("Warehouse"), "toWarehouseId"),
            (missing_id("Warehouse"), target.clone(), "fromWarehouseId"),
        ];
        for (from, to, field) in cases {
            let input = json!({ "input": {
            "sku": "T-1", "fromWarehouseId": from, "toWarehouseId": to, "quantity": 1
        } });
            let err = app.err(&transfer_inventory_mutation(), input).await;
            assert_eq!(err.code, "NOT_FOUND", "unknown {field}: {err:?}");
            assert_eq!(err.field.as_deref(), Some(field), "field of {err:?}");
        }
        app.assert_unchanged(&before, "transfers naming unknown warehouses")
            .await;
    }
);
