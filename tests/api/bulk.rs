//! `bulkSetInventory` with both error policies.

use serde_json::json;

use crate::helpers::*;

/// Creates one warehouse and SKUs `B-1` and `B-2`, stocks `B-1`, and returns the warehouse id.
async fn setup(app: &TestApp) -> String {
    let warehouse = app.create_warehouse("Depot").await;
    app.create_product_with_sku("B-1").await;
    app.create_product_with_sku("B-2").await;
    app.set_on_hand("B-1", &warehouse, 1).await;
    warehouse
}

both_databases!(
    reject_all_with_invalid_item_changes_nothing,
    |app| async move {
        let warehouse = setup(app).await;
        let before = app.snapshot().await;

        let input = json!({ "input": { "errorPolicy": "REJECT_ALL", "items": [
        { "sku": "B-1", "warehouseId": warehouse, "onHand": 5 },
        { "sku": "B-2", "warehouseId": warehouse, "onHand": -1 },
    ] } });
        let err = app.err(&bulk_set_inventory_mutation(), input).await;
        assert_eq!(
            err.code, "INVALID_INPUT",
            "a negative quantity in item 1: {err:?}"
        );
        assert_eq!(
            err.field.as_deref(),
            Some("items.1.onHand"),
            "field of {err:?}"
        );
        app.assert_unchanged(&before, "a rejected REJECT_ALL bulk set")
            .await;
    }
);

both_databases!(
    reject_all_with_unknown_sku_changes_nothing,
    |app| async move {
        let warehouse = setup(app).await;
        let before = app.snapshot().await;

        // The unknown SKU is found only inside the transaction, after item 0 was written.
        let input = json!({ "input": { "errorPolicy": "REJECT_ALL", "items": [
        { "sku": "B-1", "warehouseId": warehouse, "onHand": 5 },
        { "sku": "B-2", "warehouseId": warehouse, "onHand": 6 },
        { "sku": "NOPE", "warehouseId": warehouse, "onHand": 7 },
    ] } });
        let err = app.err(&bulk_set_inventory_mutation(), input).await;
        assert_eq!(err.code, "NOT_FOUND", "an unknown SKU in item 2: {err:?}");
        assert_eq!(
            err.field.as_deref(),
            Some("items.2.sku"),
            "field of {err:?}"
        );
        app.assert_unchanged(&before, "a REJECT_ALL bulk set with an unknown SKU")
            .await;
    }
);

both_databases!(reject_all_is_the_default_policy, |app| async move {
    let warehouse = setup(app).await;
    let before = app.snapshot().await;

    let input = json!({ "input": { "items": [
        { "sku": "B-1", "warehouseId": warehouse, "onHand": 5 },
        { "sku": "B-2", "warehouseId": warehouse, "onHand": 2_147_483_648_i64 },
    ] } });
    let err = app.err(&bulk_set_inventory_mutation(), input).await;
    assert_eq!(err.code, "INVALID_INPUT", "2^31 in item 1: {err:?}");
    app.assert_unchanged(&before, "a bulk set without a policy")
        .await;
});

both_databases!(reject_failed_items_applies_the_rest, |app| async move {
    let warehouse = setup(app).await;
    let ledger_before = app.ledger_rows().await.len();

    let input = json!({ "input": { "errorPolicy": "REJECT_FAILED_ITEMS", "items": [
        { "sku": "B-1", "warehouseId": warehouse, "onHand": 5 },
        { "sku": "B-2", "warehouseId": warehouse, "onHand": -1 },
        { "sku": "NOPE", "warehouseId": warehouse, "onHand": 7 },
        { "sku": "B-2", "warehouseId": warehouse, "onHand": 8 },
    ] } });
    let data = app.ok(&bulk_set_inventory_mutation(), input).await;
    let payload = &data["bulkSetInventory"];
    assert_eq!(payload["appliedCount"], 2, "two valid items");
    assert_eq!(payload["rejectedCount"], 2, "two rejected items");

    let results = payload["results"].as_array().expect("results is a list");
    assert_eq!(results.len(), 4, "one result per item: {results:?}");
    for (index, result) in results.iter().enumerate() {
        assert_eq!(result["index"], index, "results are in request order");
    }
    assert!(
        results[0]["error"].is_null(),
        "item 0 applied: {}",
        results[0]
    );
    assert_eq!(
        results[0]["warehouseItem"]["onHand"], 5,
        "item 0's new on hand"
    );
    assert_eq!(
        results[0]["ledgerEntries"][0]["onHandDelta"], 4,
        "item 0's ledger row"
    );

    assert_eq!(
        results[1]["error"]["code"], "INVALID_INPUT",
        "item 1: {}",
        results[1]
    );
    assert_eq!(
        results[1]["error"]["field"], "items.1.onHand",
        "item 1's field"
    );
    assert!(results[1]["warehouseItem"].is_null(), "item 1 has no item");
    assert_eq!(
        results[1]["ledgerEntries"],
        json!([]),
        "item 1 wrote nothing"
    );

    assert_eq!(
        results[2]["error"]["code"], "NOT_FOUND",
        "item 2: {}",
        results[2]
    );
    assert_eq!(
        results[2]["error"]["field"], "items.2.sku",
        "item 2's field"
    );
    assert!(
        results[2]["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("NOPE"),
        "item 2's message names the SKU: {}",
        results[2]["error"]["message"]
    );

    assert!(
        results[3]["error"].is_null(),
        "item 3 applied: {}",
        results[3]
    );
    assert_eq!(
        results[3]["warehouseItem"]["onHand"], 8,
        "item 3's new on hand"
    );

    assert_eq!(app.on_hand("B-1", &warehouse).await, Some(5), "B-1 stored");
    assert_eq!(app.on_hand("B-2", &warehouse).await, Some(8), "B-2 stored");
    assert_eq!(
        app.ledger_rows().await.len(),
        ledger_before + 2,
        "one ledger row per change"
    );
    app.assert_ledger_balances().await;
});

both_databases!(
    reject_failed_items_numbers_malformed_ids,
    |app| async move {
        let warehouse = setup(app).await;

        // Item 0 is rejected before the service receives it, so the service numbers the others
        // differently from the request; every field must use the request's position.
        let input = json!({ "input": { "errorPolicy": "REJECT_FAILED_ITEMS", "items": [
        { "sku": "B-1", "warehouseId": "garbage", "onHand": 5 },
        { "sku": "B-1", "warehouseId": warehouse, "onHand": 2 },
        { "sku": "B-2", "warehouseId": warehouse, "safetyStock": -3 },
    ] } });
        let data = app.ok(&bulk_set_inventory_mutation(), input).await;
        let results = data["bulkSetInventory"]["results"]
            .as_array()
            .expect("results")
            .clone();
        assert_eq!(
            results[0]["error"]["code"], "INVALID_INPUT",
            "item 0: {}",
            results[0]
        );
        assert_eq!(
            results[0]["error"]["field"], "items.0.warehouseId",
            "item 0's field"
        );
        assert_eq!(results[1]["warehouseItem"]["onHand"], 2, "item 1 applied");
        assert_eq!(
            results[2]["error"]["field"], "items.2.safetyStock",
            "item 2's field"
        );
        assert_eq!(app.on_hand("B-1", &warehouse).await, Some(2), "B-1 stored");
    }
);

both_databases!(empty_bulk_is_invalid, |app| async move {
    let input = json!({ "input": { "items": [] } });
    let err = app.err(&bulk_set_inventory_mutation(), input).await;
    assert_eq!(err.code, "INVALID_INPUT", "no items: {err:?}");
    assert_eq!(err.field.as_deref(), Some("items"), "field of {err:?}");
});
