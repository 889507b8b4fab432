//! `setProductInventoryConfiguration` and the defaults of a product that has none.

use serde_json::json;

use crate::helpers::*;

const CONFIGURATION_FIELDS: &str = "minStockQuantity lowStockActivity allowBackOrders
    displayAvailability displayStockQuantity minOrderQuantity maxOrderQuantity
    multipleOrderQuantity allowedOrderQuantities";

fn set_configuration() -> String {
    format!(
        "mutation($input: SetProductInventoryConfigurationInput!) {{
            setProductInventoryConfiguration(input: $input) {{
                product {{ id }} inventoryConfiguration {{ {CONFIGURATION_FIELDS} }} }} }}"
    )
}

fn read_configuration() -> String {
    format!(
        "query($id: ID) {{ product(id: $id) {{ inventoryConfiguration {{ {CONFIGURATION_FIELDS} }} }} }}"
    )
}

/// Returns the configuration of a product that never had one stored.
fn defaults() -> serde_json::Value {
    json!({
        "minStockQuantity": 0,
        "lowStockActivity": null,
        "allowBackOrders": false,
        "displayAvailability": false,
        "displayStockQuantity": false,
        "minOrderQuantity": 1,
        "maxOrderQuantity": 10000,
        "multipleOrderQuantity": 1,
        "allowedOrderQuantities": [],
    })
}

both_databases!(defaults_when_never_set, |app| async move {
    let product = app.create_product("Plain").await;
    let data = app
        .ok(&read_configuration(), json!({ "id": product }))
        .await;
    assert_eq!(
        data["product"]["inventoryConfiguration"],
        defaults(),
        "Liferay's defaults"
    );
});

both_databases!(set_keeps_omitted_settings, |app| async move {
    let product = app.create_product("Configured").await;
    let input = json!({ "input": {
        "productId": product, "minStockQuantity": 5, "lowStockActivity": "unpublish-sku",
        "allowBackOrders": true, "displayAvailability": true, "displayStockQuantity": true,
        "minOrderQuantity": 2, "maxOrderQuantity": 50, "multipleOrderQuantity": 2
    } });
    let data = app.ok(&set_configuration(), input).await;
    let settings = &data["setProductInventoryConfiguration"]["inventoryConfiguration"];
    assert_eq!(settings["minStockQuantity"], 5, "minStockQuantity");
    assert_eq!(
        settings["lowStockActivity"], "unpublish-sku",
        "lowStockActivity"
    );
    assert_eq!(settings["allowBackOrders"], true, "allowBackOrders");
    assert_eq!(settings["maxOrderQuantity"], 50, "maxOrderQuantity");

    let input = json!({ "input": { "productId": product, "maxOrderQuantity": 60 } });
    app.ok(&set_configuration(), input).await;
    let data = app
        .ok(&read_configuration(), json!({ "id": product }))
        .await;
    let stored = &data["product"]["inventoryConfiguration"];
    assert_eq!(stored["maxOrderQuantity"], 60, "the changed setting");
    assert_eq!(
        stored["minStockQuantity"], 5,
        "an omitted setting keeps its value"
    );
    assert_eq!(
        stored["minOrderQuantity"], 2,
        "another omitted setting keeps its value"
    );
    assert_eq!(
        stored["lowStockActivity"], "unpublish-sku",
        "the activity is kept"
    );

    let input = json!({ "input": { "productId": product, "lowStockActivity": null } });
    let data = app.ok(&set_configuration(), input).await;
    let settings = &data["setProductInventoryConfiguration"]["inventoryConfiguration"];
    assert!(
        settings["lowStockActivity"].is_null(),
        "null removes the activity"
    );
});

both_databases!(max_below_min_is_invalid, |app| async move {
    let product = app.create_product("Strict").await;
    let before = app.snapshot().await;

    let input =
        json!({ "input": { "productId": product, "minOrderQuantity": 5, "maxOrderQuantity": 4 } });
    let err = app.err(&set_configuration(), input).await;
    assert_eq!(err.code, "INVALID_INPUT", "max 4 below min 5: {err:?}");
    assert_eq!(
        err.field.as_deref(),
        Some("maxOrderQuantity"),
        "field of {err:?}"
    );
    app.assert_unchanged(&before, "max below min").await;

    // The check applies to the stored minimum as well as to one given in the same request.
    let input = json!({ "input": { "productId": product, "minOrderQuantity": 20 } });
    app.ok(&set_configuration(), input).await;
    let input = json!({ "input": { "productId": product, "maxOrderQuantity": 10 } });
    let err = app.err(&set_configuration(), input).await;
    assert_eq!(
        err.code, "INVALID_INPUT",
        "max 10 below the stored min 20: {err:?}"
    );
});

both_databases!(allowed_quantities_come_back_sorted, |app| async move {
    let product = app.create_product("Boxes").await;
    let input =
        json!({ "input": { "productId": product, "allowedOrderQuantities": [12, 6, 24, 6] } });
    let data = app.ok(&set_configuration(), input).await;
    let settings = &data["setProductInventoryConfiguration"]["inventoryConfiguration"];
    assert_eq!(
        settings["allowedOrderQuantities"],
        json!([6, 12, 24]),
        "sorted, without repeats"
    );

    let data = app
        .ok(&read_configuration(), json!({ "id": product }))
        .await;
    assert_eq!(
        data["product"]["inventoryConfiguration"]["allowedOrderQuantities"],
        json!([6, 12, 24]),
        "stored sorted"
    );
});

both_databases!(unknown_activity_is_invalid, |app| async move {
    let product = app.create_product("Odd").await;
    let before = app.snapshot().await;
    let input = json!({ "input": { "productId": product, "lowStockActivity": "explode" } });
    let err = app.err(&set_configuration(), input).await;
    assert_eq!(err.code, "INVALID_INPUT", "an unknown activity: {err:?}");
    assert_eq!(
        err.field.as_deref(),
        Some("lowStockActivity"),
        "field of {err:?}"
    );
    assert!(
        err.message.contains("explode"),
        "the message names the key: {}",
        err.message
    );
    app.assert_unchanged(&before, "an unknown activity").await;
});

both_databases!(out_of_range_settings_are_invalid, |app| async move {
    let product = app.create_product("Ranges").await;
    let before = app.snapshot().await;
    let cases = [
        ("minStockQuantity", json!(-1)),
        ("minOrderQuantity", json!(0)),
        ("maxOrderQuantity", json!(0)),
        ("multipleOrderQuantity", json!(-2)),
        ("minStockQuantity", json!(2_147_483_648_i64)),
        ("allowedOrderQuantities", json!([3, 0])),
    ];
    for (field, value) in cases {
        let mut input = json!({ "productId": product });
        input[field] = value.clone();
        let err = app
            .err(&set_configuration(), json!({ "input": input }))
            .await;
        assert_eq!(err.code, "INVALID_INPUT", "{field} = {value}: {err:?}");
        assert_eq!(
            err.field.as_deref(),
            Some(field),
            "field for {field} = {value}: {err:?}"
        );
    }
    app.assert_unchanged(&before, "out-of-range settings").await;
});

both_databases!(
    configuration_of_unknown_product_is_not_found,
    |app| async move {
        let input =
            json!({ "input": { "productId": missing_id("Product"), "minStockQuantity": 1 } });
        let err = app.err(&set_configuration(), input).await;
        assert_eq!(err.code, "NOT_FOUND", "an unknown product: {err:?}");
        assert_eq!(err.field.as_deref(), Some("productId"), "field of {err:?}");
    }
);
