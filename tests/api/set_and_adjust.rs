//! Setting and adjusting on hand: compare-and-set, deltas and the 0 to 1,000,000,000 range.

use serde_json::json;

use crate::helpers::*;

/// One billion: the largest quantity Stockroom stores.
const MAX_QUANTITY: i64 = 1_000_000_000;

/// 2^31: one past the largest 32-bit signed integer.
const TWO_POW_31: i64 = 2_147_483_648;

/// Creates a warehouse and a SKU `Q-1` with `on_hand` units there, and returns the
/// warehouse id.
async fn stocked(app: &TestApp, on_hand: i64) -> String {
    let warehouse = app.create_warehouse("Depot").await;
    app.create_product_with_sku("Q-1").await;
    app.set_on_hand("Q-1", &warehouse, on_hand).await;
    warehouse
}

both_databases!(stale_expected_on_hand_is_conflict, |app| async move {
    let warehouse = stocked(app, 10).await;
    let before = app.snapshot().await;

    let input = json!({ "input": {
        "sku": "Q-1", "warehouseId": warehouse, "onHand": 20, "expectedOnHand": 9
    } });
    let err = app.err(&set_inventory_mutation(), input).await;
    assert_eq!(err.code, "CONFLICT", "stale expectedOnHand: {err:?}");
    assert_eq!(
        err.field.as_deref(),
        Some("expectedOnHand"),
        "field of {err:?}"
    );
    assert!(
        err.message.contains("10"),
        "the message gives the current value: {}",
        err.message
    );
    app.assert_unchanged(&before, "a stale compare-and-set")
        .await;
});

both_databases!(current_expected_on_hand_applies, |app| async move {
    let warehouse = stocked(app, 10).await;
    let input = json!({ "input": {
        "sku": "Q-1", "warehouseId": warehouse, "onHand": 20, "expectedOnHand": 10
    } });
    let data = app.ok(&set_inventory_mutation(), input).await;
    assert_eq!(
        data["setInventory"]["warehouseItem"]["onHand"], 20,
        "the write applies"
    );
    assert_eq!(
        app.on_hand("Q-1", &warehouse).await,
        Some(20),
        "stored on hand"
    );
});

both_databases!(
    expected_on_hand_on_missing_item_is_conflict,
    |app| async move {
        let warehouse = app.create_warehouse("Depot").await;
        app.create_product_with_sku("Q-2").await;
        let before = app.snapshot().await;

        let input = json!({ "input": {
        "sku": "Q-2", "warehouseId": warehouse, "onHand": 5, "expectedOnHand": 3
    } });
        let err = app.err(&set_inventory_mutation(), input).await;
        assert_eq!(
            err.code, "CONFLICT",
            "an unstocked SKU has 0 on hand, not 3: {err:?}"
        );
        app.assert_unchanged(&before, "a stale compare-and-set on a new item")
            .await;
    }
);

both_databases!(adjust_adds_and_removes, |app| async move {
    let warehouse = stocked(app, 10).await;
    let payload = app.adjust("Q-1", &warehouse, 5).await;
    assert_eq!(payload["warehouseItem"]["onHand"], 15, "after +5");
    assert_eq!(
        payload["ledgerEntries"][0]["kind"], "ADJUSTED",
        "kind of the ledger row"
    );
    assert_eq!(
        payload["ledgerEntries"][0]["onHandDelta"], 5,
        "delta of the ledger row"
    );

    let payload = app.adjust("Q-1", &warehouse, -15).await;
    assert_eq!(
        payload["warehouseItem"]["onHand"], 0,
        "down to exactly zero is allowed"
    );
});

both_databases!(adjust_rejects_bad_deltas, |app| async move {
    let warehouse = stocked(app, 3).await;
    let before = app.snapshot().await;

    let cases = [
        (0, "INVALID_INPUT", "a zero delta"),
        (-4, "INSUFFICIENT_STOCK", "a delta past zero"),
        (TWO_POW_31, "INVALID_INPUT", "2^31"),
        (-TWO_POW_31, "INVALID_INPUT", "-2^31"),
        (MAX_QUANTITY + 1, "INVALID_INPUT", "one past one billion"),
    ];
    for (delta, code, case) in cases {
        let input = json!({ "input": { "sku": "Q-1", "warehouseId": warehouse, "delta": delta } });
        let err = app.err(&adjust_inventory_mutation(), input).await;
        assert_eq!(err.code, code, "{case}: {err:?}");
        assert_eq!(
            err.field.as_deref(),
            Some("delta"),
            "field for {case}: {err:?}"
        );
        app.assert_unchanged(&before, case).await;
    }
});

both_databases!(
    remove_from_unstocked_sku_is_insufficient,
    |app| async move {
        let warehouse = app.create_warehouse("Depot").await;
        app.create_product_with_sku("Q-3").await;
        let before = app.snapshot().await;

        let input = json!({ "input": { "sku": "Q-3", "warehouseId": warehouse, "delta": -1 } });
        let err = app.err(&adjust_inventory_mutation(), input).await;
        assert_eq!(err.code, "INSUFFICIENT_STOCK", "nothing to remove: {err:?}");
        app.assert_unchanged(&before, "removing from an unstocked SKU")
            .await;
    }
);

both_databases!(one_billion_accepted_one_more_rejected, |app| async move {
    let warehouse = stocked(app, 0).await;

    let payload = app.set_on_hand("Q-1", &warehouse, MAX_QUANTITY).await;
    assert_eq!(
        payload["warehouseItem"]["onHand"], MAX_QUANTITY,
        "one billion is accepted"
    );

    let before = app.snapshot().await;
    let input =
        json!({ "input": { "sku": "Q-1", "warehouseId": warehouse, "onHand": MAX_QUANTITY + 1 } });
    let err = app.err(&set_inventory_mutation(), input).await;
    assert_eq!(err.code, "INVALID_INPUT", "1,000,000,001 on hand: {err:?}");
    assert_eq!(err.field.as_deref(), Some("onHand"), "field of {err:?}");

    let input = json!({ "input": { "sku": "Q-1", "warehouseId": warehouse, "delta": 1 } });
    let err = app.err(&adjust_inventory_mutation(), input).await;
    assert_eq!(
        err.code, "INVALID_INPUT",
        "a delta past one billion: {err:?}"
    );
    assert_eq!(err.field.as_deref(), Some("delta"), "field of {err:?}");
    app.assert_unchanged(&before, "quantities past one billion")
        .await;
});

both_databases!(adjust_up_to_one_billion_accepted, |app| async move {
    let warehouse = stocked(app, 1).await;
    let payload = app.adjust("Q-1", &warehouse, MAX_QUANTITY - 1).await;
    assert_eq!(
        payload["warehouseItem"]["onHand"], MAX_QUANTITY,
        "exactly one billion"
    );
});

both_databases!(safety_stock_may_exceed_on_hand, |app| async move {
    let warehouse = stocked(app, 4).await;
    let input = json!({ "input": { "sku": "Q-1", "warehouseId": warehouse, "safetyStock": 6 } });
    let data = app.ok(&set_inventory_mutation(), input).await;
    let item = &data["setInventory"]["warehouseItem"];
    assert_eq!(item["safetyStock"], 6, "safety stock is set");
    assert_eq!(item["onHand"], 4, "on hand is kept");
    assert_eq!(item["available"], -2, "the item is in deficit");
    assert_eq!(
        data["setInventory"]["ledgerEntries"],
        json!([]),
        "no ledger row when on hand does not change"
    );
});
