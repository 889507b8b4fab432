//! Idempotency keys: a repeated request returns the first result and changes nothing; the
//! same key on another request is a conflict.

use serde_json::{Value, json};

use crate::helpers::*;

/// Returns the ledger entry ids of a payload, in order.
fn entry_ids(payload: &Value) -> Vec<String> {
    strings_at(&payload["ledgerEntries"], "id")
}

/// Creates two warehouses and SKU `I-1` with 10 units in the first, and returns both ids.
async fn setup(app: &TestApp) -> (String, String) {
    let first = app.create_warehouse("First").await;
    let second = app.create_warehouse("Second").await;
    app.create_product_with_sku("I-1").await;
    app.set_on_hand("I-1", &first, 10).await;
    (first, second)
}

both_databases!(repeated_adjust_returns_first_result, |app| async move {
    let (warehouse, _) = setup(app).await;
    let input = json!({ "input": {
        "sku": "I-1", "warehouseId": warehouse, "delta": 5, "idempotencyKey": "adjust-1"
    } });
    let first =
        app.ok(&adjust_inventory_mutation(), input.clone()).await["adjustInventory"].clone();
    let after_first = app.snapshot().await;

    let second = app.ok(&adjust_inventory_mutation(), input).await["adjustInventory"].clone();
    assert_eq!(
        entry_ids(&second),
        entry_ids(&first),
        "the same ledger entries come back"
    );
    assert_eq!(entry_ids(&first).len(), 1, "the first call wrote one row");
    assert_eq!(
        second["warehouseItem"]["id"], first["warehouseItem"]["id"],
        "the same item"
    );
    assert_eq!(
        app.on_hand("I-1", &warehouse).await,
        Some(15),
        "the delta applied once"
    );
    app.assert_unchanged(&after_first, "a repeated adjustInventory")
        .await;
});

both_databases!(repeated_set_returns_first_result, |app| async move {
    let (warehouse, _) = setup(app).await;
    let input = json!({ "input": {
        "sku": "I-1", "warehouseId": warehouse, "onHand": 30, "idempotencyKey": "set-1"
    } });
    let first = app.ok(&set_inventory_mutation(), input.clone()).await["setInventory"].clone();
    // Another client changes the stock between the two calls, and the retry must not undo it.
    app.adjust("I-1", &warehouse, -4).await;
    let after_change = app.snapshot().await;

    let second = app.ok(&set_inventory_mutation(), input).await["setInventory"].clone();
    assert_eq!(
        entry_ids(&second),
        entry_ids(&first),
        "the same ledger entries come back"
    );
    assert_eq!(
        app.on_hand("I-1", &warehouse).await,
        Some(26),
        "the retry did not set 30 again"
    );
    app.assert_unchanged(&after_change, "a repeated setInventory")
        .await;
});

both_databases!(repeated_transfer_returns_first_result, |app| async move {
    let (from, to) = setup(app).await;
    let input = json!({ "input": {
        "sku": "I-1", "fromWarehouseId": from, "toWarehouseId": to, "quantity": 3,
        "idempotencyKey": "transfer-1"
    } });
    let first =
        app.ok(&transfer_inventory_mutation(), input.clone()).await["transferInventory"].clone();
    let after_first = app.snapshot().await;

    let second = app.ok(&transfer_inventory_mutation(), input).await["transferInventory"].clone();
    assert_eq!(
        second["reference"], first["reference"],
        "the same transfer reference"
    );
    assert_eq!(
        entry_ids(&second),
        entry_ids(&first),
        "the same ledger entries come back"
    );
    assert_eq!(
        app.on_hand("I-1", &from).await,
        Some(7),
        "moved once from the source"
    );
    assert_eq!(
        app.on_hand("I-1", &to).await,
        Some(3),
        "moved once into the target"
    );
    app.assert_unchanged(&after_first, "a repeated transferInventory")
        .await;
});

both_databases!(repeated_bulk_set_returns_first_result, |app| async move {
    let (first_warehouse, second_warehouse) = setup(app).await;
    let input = json!({ "input": { "idempotencyKey": "bulk-1", "items": [
        { "sku": "I-1", "warehouseId": first_warehouse, "onHand": 1 },
        { "sku": "I-1", "warehouseId": second_warehouse, "onHand": 2 },
    ] } });
    let first =
        app.ok(&bulk_set_inventory_mutation(), input.clone()).await["bulkSetInventory"].clone();
    let after_first = app.snapshot().await;

    let second = app.ok(&bulk_set_inventory_mutation(), input).await["bulkSetInventory"].clone();
    for index in 0..2 {
        assert_eq!(
            entry_ids(&second["results"][index]),
            entry_ids(&first["results"][index]),
            "item {index}: the same ledger entries come back"
        );
    }
    app.assert_unchanged(&after_first, "a repeated bulkSetInventory")
        .await;
});

both_databases!(same_key_other_request_is_conflict, |app| async move {
    let (warehouse, _) = setup(app).await;
    let input = |delta: i64| {
        json!({ "input": {
            "sku": "I-1", "warehouseId": warehouse, "delta": delta, "idempotencyKey": "reused"
        } })
    };
    app.ok(&adjust_inventory_mutation(), input(5)).await;
    let before = app.snapshot().await;

    let err = app.err(&adjust_inventory_mutation(), input(6)).await;
    assert_eq!(
        err.code, "CONFLICT",
        "the same key with another delta: {err:?}"
    );
    assert_eq!(
        err.field.as_deref(),
        Some("idempotencyKey"),
        "field of {err:?}"
    );
    app.assert_unchanged(&before, "a reused key with another delta")
        .await;

    let set = json!({ "input": {
        "sku": "I-1", "warehouseId": warehouse, "onHand": 1, "idempotencyKey": "reused"
    } });
    let err = app.err(&set_inventory_mutation(), set).await;
    assert_eq!(
        err.code, "CONFLICT",
        "the same key on another mutation: {err:?}"
    );
    app.assert_unchanged(&before, "a reused key on another mutation")
        .await;
});

both_databases!(rejected_call_does_not_burn_key, |app| async move {
    let (warehouse, _) = setup(app).await;
    let input = json!({ "input": {
        "sku": "I-1", "warehouseId": warehouse, "delta": -11, "idempotencyKey": "retry-me"
    } });
    let err = app.err(&adjust_inventory_mutation(), input).await;
    assert_eq!(err.code, "INSUFFICIENT_STOCK", "11 of 10: {err:?}");

    app.adjust("I-1", &warehouse, 1).await;
    let input = json!({ "input": {
        "sku": "I-1", "warehouseId": warehouse, "delta": -11, "idempotencyKey": "retry-me"
    } });
    let data = app.ok(&adjust_inventory_mutation(), input).await;
    assert_eq!(
        data["adjustInventory"]["warehouseItem"]["onHand"], 0,
        "the retry applies"
    );
});
