//! Invalid input everywhere: each gets its coded error naming the field, and changes nothing.

use serde_json::{Value, json};

use crate::helpers::*;

const TWO_POW_31: i64 = 2_147_483_648;

/// Sends each `(mutation, variables, code, field)` case and checks its error and that no row
/// changed.
async fn assert_rejections(app: &TestApp, cases: &[(&str, Value, &str, &str)]) {
    let before = app.snapshot().await;
    for (mutation, variables, code, field) in cases {
        let err = app.err(mutation, variables.clone()).await;
        assert_eq!(err.code, *code, "code for {variables}: {err:?}");
        assert_eq!(
            err.field.as_deref(),
            Some(*field),
            "field for {variables}: {err:?}"
        );
        assert!(!err.message.is_empty(), "a message for {variables}");
        app.assert_unchanged(&before, &format!("rejected input {variables}"))
            .await;
    }
}

/// Creates a channel, an active warehouse linked to it and SKU `X-1` with 5 units there,
/// and returns the channel and warehouse ids.
async fn stocked(app: &TestApp) -> (String, String) {
    let (channel, warehouses) = app.channel_with_warehouses(1).await;
    app.create_product_with_sku("X-1").await;
    app.set_stock("X-1", &warehouses[0], 5, 1).await;
    (channel, warehouses[0].clone())
}

both_databases!(bad_quantities_in_stock_mutations, |app| async move {
    let (_, warehouse) = stocked(app).await;
    let other = app.create_warehouse("Other").await;
    let set = set_inventory_mutation();
    let adjust = adjust_inventory_mutation();
    let transfer = transfer_inventory_mutation();
    // On hand 5 is the current value, so only the field under test can be wrong.
    let set_input = |field: &str, value: i64| {
        let mut input = json!({ "sku": "X-1", "warehouseId": warehouse, "onHand": 5 });
        input[field] = json!(value);
        json!({ "input": input })
    };
    let transfer_input = |quantity: i64| {
        json!({ "input": {
            "sku": "X-1", "fromWarehouseId": warehouse, "toWarehouseId": other, "quantity": quantity
        } })
    };
    let adjust_input =
        |delta: i64| json!({ "input": { "sku": "X-1", "warehouseId": warehouse, "delta": delta } });

    let cases = [
        (
            set.as_str(),
            set_input("onHand", -1),
            "INVALID_INPUT",
            "onHand",
        ),
        (
            set.as_str(),
            set_input("onHand", TWO_POW_31),
            "INVALID_INPUT",
            "onHand",
        ),
        (
            set.as_str(),
            set_input("safetyStock", -1),
            "INVALID_INPUT",
            "safetyStock",
        ),
        (
            set.as_str(),
            set_input("safetyStock", TWO_POW_31),
            "INVALID_INPUT",
            "safetyStock",
        ),
        (
            set.as_str(),
            set_input("expectedOnHand", -1),
            "INVALID_INPUT",
            "expectedOnHand",
        ),
        (
            set.as_str(),
            set_input("lowStockThreshold", -1),
            "INVALID_INPUT",
            "lowStockThreshold",
        ),
        (adjust.as_str(), adjust_input(0), "INVALID_INPUT", "delta"),
        (
            adjust.as_str(),
            adjust_input(TWO_POW_31),
            "INVALID_INPUT",
            "delta",
        ),
        (
            transfer.as_str(),
            transfer_input(0),
            "INVALID_INPUT",
            "quantity",
        ),
        (
            transfer.as_str(),
            transfer_input(-1),
            "INVALID_INPUT",
            "quantity",
        ),
        (
            transfer.as_str(),
            transfer_input(TWO_POW_31),
            "INVALID_INPUT",
            "quantity",
        ),
    ];
    assert_rejections(app, &cases).await;
});

both_databases!(
    set_inventory_with_nothing_to_set_is_invalid,
    |app| async move {
        let (_, warehouse) = stocked(app).await;
        let input = json!({ "input": { "sku": "X-1", "warehouseId": warehouse } });
        let cases = [(set_inventory_mutation(), input, "INVALID_INPUT", "onHand")];
        let cases: Vec<(&str, Value, &str, &str)> = cases
            .iter()
            .map(|(m, v, c, f)| (m.as_str(), v.clone(), *c, *f))
            .collect();
        assert_rejections(app, &cases).await;
    }
);

const CREATE_CHANNEL: &str = "mutation($input: CreateChannelInput!) {
    createChannel(input: $input) { channel { id name } } }";
const CREATE_WAREHOUSE: &str = "mutation($input: CreateWarehouseInput!) {
    createWarehouse(input: $input) { warehouse { id name latitude longitude countryCode } } }";
const CREATE_PRODUCT: &str = "mutation($input: CreateProductInput!) {
    createProduct(input: $input) { product { id name } } }";
const CREATE_SKU: &str = "mutation($input: CreateSkuInput!) {
    createSku(input: $input) { sku { id code } } }";
const UPDATE_CHANNEL: &str = "mutation($input: UpdateChannelInput!) {
    updateChannel(input: $input) { channel { id name } } }";
const UPDATE_WAREHOUSE: &str = "mutation($input: UpdateWarehouseInput!) {
    updateWarehouse(input: $input) { warehouse { id name latitude longitude countryCode } } }";
const UPDATE_PRODUCT: &str = "mutation($input: UpdateProductInput!) {
    updateProduct(input: $input) { product { id name } } }";

both_databases!(names_must_have_1_to_255_chars, |app| async move {
    let channel = app.create_channel("Web").await;
    let warehouse = app.create_warehouse("Depot").await;
    let product = app.create_product("Mug").await;
    let long = "n".repeat(256);

    let mut cases = Vec::new();
    for bad in ["", "   ", long.as_str()] {
        cases.push((
            CREATE_CHANNEL,
            json!({ "input": { "name": bad } }),
            "INVALID_INPUT",
            "name",
        ));
        cases.push((
            CREATE_WAREHOUSE,
            json!({ "input": { "name": bad } }),
            "INVALID_INPUT",
            "name",
        ));
        cases.push((
            CREATE_PRODUCT,
            json!({ "input": { "name": bad } }),
            "INVALID_INPUT",
            "name",
        ));
        cases.push((
            CREATE_SKU,
            json!({ "input": { "productId": product, "code": bad } }),
            "INVALID_INPUT",
            "code",
        ));
        cases.push((
            UPDATE_CHANNEL,
            json!({ "input": { "id": channel, "name": bad } }),
            "INVALID_INPUT",
            "name",
        ));
        cases.push((
            UPDATE_WAREHOUSE,
            json!({ "input": { "id": warehouse, "name": bad } }),
            "INVALID_INPUT",
            "name",
        ));
        cases.push((
            UPDATE_PRODUCT,
            json!({ "input": { "id": product, "name": bad } }),
            "INVALID_INPUT",
            "name",
        ));
    }
    assert_rejections(app, &cases).await;
});

both_databases!(names_of_255_chars_are_accepted, |app| async move {
    // Multi-byte characters: the limit counts characters, not bytes.
    let longest = "é".repeat(255);
    let data = app
        .ok(CREATE_CHANNEL, json!({ "input": { "name": longest } }))
        .await;
    assert_eq!(
        data["createChannel"]["channel"]["name"], longest,
        "channel name of 255"
    );
    let data = app
        .ok(CREATE_WAREHOUSE, json!({ "input": { "name": longest } }))
        .await;
    assert_eq!(
        data["createWarehouse"]["warehouse"]["name"], longest,
        "warehouse name of 255"
    );
    let data = app
        .ok(CREATE_PRODUCT, json!({ "input": { "name": longest } }))
        .await;
    assert_eq!(
        data["createProduct"]["product"]["name"], longest,
        "product name of 255"
    );
    let product = id_at(&data["createProduct"]["product"]);
    let code = "c".repeat(255);
    let data = app
        .ok(
            CREATE_SKU,
            json!({ "input": { "productId": product, "code": code } }),
        )
        .await;
    assert_eq!(data["createSku"]["sku"]["code"], code, "SKU code of 255");
});

both_databases!(coordinates_out_of_range_or_unpaired, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    let create = |latitude: Value, longitude: Value| {
        let input = json!({ "name": "New", "latitude": latitude, "longitude": longitude });
        json!({ "input": input })
    };
    let update = |latitude: Value, longitude: Value| {
        let input = json!({ "id": warehouse, "latitude": latitude, "longitude": longitude });
        json!({ "input": input })
    };
    let cases = [
        (
            CREATE_WAREHOUSE,
            create(json!(90.5), json!(0)),
            "INVALID_INPUT",
            "latitude",
        ),
        (
            CREATE_WAREHOUSE,
            create(json!(-91), json!(0)),
            "INVALID_INPUT",
            "latitude",
        ),
        (
            CREATE_WAREHOUSE,
            create(json!(0), json!(180.01)),
            "INVALID_INPUT",
            "longitude",
        ),
        (
            CREATE_WAREHOUSE,
            create(json!(0), json!(-181)),
            "INVALID_INPUT",
            "longitude",
        ),
        (
            CREATE_WAREHOUSE,
            create(json!(45), Value::Null),
            "INVALID_INPUT",
            "longitude",
        ),
        (
            CREATE_WAREHOUSE,
            create(Value::Null, json!(9)),
            "INVALID_INPUT",
            "latitude",
        ),
        (
            UPDATE_WAREHOUSE,
            update(json!(95), json!(9)),
            "INVALID_INPUT",
            "latitude",
        ),
        (
            UPDATE_WAREHOUSE,
            update(json!(45), json!(200)),
            "INVALID_INPUT",
            "longitude",
        ),
        (
            UPDATE_WAREHOUSE,
            json!({ "input": { "id": warehouse, "latitude": 45 } }),
            "INVALID_INPUT",
            "longitude",
        ),
        (
            UPDATE_WAREHOUSE,
            json!({ "input": { "id": warehouse, "longitude": 9 } }),
            "INVALID_INPUT",
            "latitude",
        ),
    ];
    assert_rejections(app, &cases).await;

    let data = app
        .ok(CREATE_WAREHOUSE, create(json!(-90), json!(180)))
        .await;
    let created = &data["createWarehouse"]["warehouse"];
    assert_eq!(created["latitude"], -90.0, "the range includes -90");
    assert_eq!(created["longitude"], 180.0, "the range includes 180");
});

both_databases!(country_code_must_be_alpha_2, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    let mut cases = Vec::new();
    for bad in ["ITA", "I", "1T", "I-"] {
        cases.push((
            CREATE_WAREHOUSE,
            json!({ "input": { "name": "New", "countryCode": bad } }),
            "INVALID_INPUT",
            "countryCode",
        ));
        cases.push((
            UPDATE_WAREHOUSE,
            json!({ "input": { "id": warehouse, "countryCode": bad } }),
            "INVALID_INPUT",
            "countryCode",
        ));
    }
    assert_rejections(app, &cases).await;
});

both_databases!(unknown_and_malformed_ids, |app| async move {
    let (channel, warehouse) = stocked(app).await;
    let set = set_inventory_mutation();
    let set_in = |warehouse_id: &str| {
        let input = json!({ "sku": "X-1", "warehouseId": warehouse_id, "onHand": 9 });
        json!({ "input": input })
    };
    let link = "mutation($input: WarehouseChannelInput!) {
        linkWarehouseToChannel(input: $input) { warehouse { id } } }";
    let link_in = |warehouse_id: &str, channel_id: &str| {
        let input = json!({ "warehouseId": warehouse_id, "channelId": channel_id });
        json!({ "input": input })
    };
    let activate = "mutation($input: SetWarehouseActiveInput!) {
        setWarehouseActive(input: $input) { warehouse { id } } }";
    let missing_warehouse = missing_id("Warehouse");
    let missing_channel = missing_id("Channel");

    let cases = [
        (
            set.as_str(),
            set_in(&missing_warehouse),
            "NOT_FOUND",
            "warehouseId",
        ),
        (
            set.as_str(),
            set_in("garbage"),
            "INVALID_INPUT",
            "warehouseId",
        ),
        (set.as_str(), set_in(""), "INVALID_INPUT", "warehouseId"),
        (
            set.as_str(),
            set_in(&channel),
            "INVALID_INPUT",
            "warehouseId",
        ),
        (
            link,
            link_in(&channel, &warehouse),
            "INVALID_INPUT",
            "warehouseId",
        ),
        (
            link,
            link_in(&warehouse, &missing_channel),
            "NOT_FOUND",
            "channelId",
        ),
        (
            link,
            link_in(&missing_warehouse, &channel),
            "NOT_FOUND",
            "warehouseId",
        ),
        (
            link,
            link_in(&warehouse, "%%%"),
            "INVALID_INPUT",
            "channelId",
        ),
        (
            activate,
            json!({ "input": { "id": channel, "active": false } }),
            "INVALID_INPUT",
            "id",
        ),
        (
            activate,
            json!({ "input": { "id": missing_warehouse, "active": false } }),
            "NOT_FOUND",
            "id",
        ),
        (
            UPDATE_CHANNEL,
            json!({ "input": { "id": missing_channel, "name": "x" } }),
            "NOT_FOUND",
            "id",
        ),
        (
            UPDATE_PRODUCT,
            json!({ "input": { "id": missing_id("Product"), "name": "x" } }),
            "NOT_FOUND",
            "id",
        ),
        (
            CREATE_SKU,
            json!({ "input": { "productId": warehouse, "code": "Y-1" } }),
            "INVALID_INPUT",
            "productId",
        ),
    ];
    assert_rejections(app, &cases).await;

    let err = app.err(&set, set_in(&channel)).await;
    assert!(
        err.message.contains("Channel"),
        "the message names the wrong type: {}",
        err.message
    );
});

both_databases!(unknown_sku_in_stock_mutations, |app| async move {
    let (_, warehouse) = stocked(app).await;
    let other = app.create_warehouse("Other").await;
    let transfer = transfer_inventory_mutation();
    let set = set_inventory_mutation();
    let adjust = adjust_inventory_mutation();
    let cases = [
        (
            set.as_str(),
            json!({ "input": { "sku": "NOPE", "warehouseId": warehouse, "onHand": 1 } }),
            "NOT_FOUND",
            "sku",
        ),
        (
            adjust.as_str(),
            json!({ "input": { "sku": "NOPE", "warehouseId": warehouse, "delta": 1 } }),
            "NOT_FOUND",
            "sku",
        ),
        (
            transfer.as_str(),
            json!({ "input": {
                "sku": "NOPE", "fromWarehouseId": warehouse, "toWarehouseId": other, "quantity": 1
            } }),
            "NOT_FOUND",
            "sku",
        ),
        (
            set.as_str(),
            json!({ "input": { "sku": "  ", "warehouseId": warehouse, "onHand": 1 } }),
            "INVALID_INPUT",
            "sku",
        ),
    ];
    assert_rejections(app, &cases).await;
});

both_databases!(bad_ids_in_queries, |app| async move {
    let (channel, warehouse) = stocked(app).await;
    let cases = [
        (
            "query($id: ID) { channel(id: $id) { id } }",
            json!({ "id": "garbage" }),
            "INVALID_INPUT",
            "id",
        ),
        (
            "query($id: ID) { channel(id: $id) { id } }",
            json!({ "id": warehouse }),
            "INVALID_INPUT",
            "id",
        ),
        (
            "query($id: ID) { warehouse(id: $id) { id } }",
            json!({ "id": channel }),
            "INVALID_INPUT",
            "id",
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": "bm9wZTox" }),
            "INVALID_INPUT",
            "id",
        ),
        (
            "query($c: ID) { stock(skus: [\"X-1\"], channelId: $c) { onHand } }",
            json!({ "c": warehouse }),
            "INVALID_INPUT",
            "channelId",
        ),
        (
            "query($c: ID) { stock(skus: [\"X-1\"], channelId: $c) { onHand } }",
            json!({ "c": missing_id("Channel") }),
            "NOT_FOUND",
            "channelId",
        ),
        (
            "query($w: [ID!]) { stock(skus: [\"X-1\"], warehouseIds: $w) { onHand } }",
            json!({ "w": [warehouse, channel] }),
            "INVALID_INPUT",
            "warehouseIds.1",
        ),
        (
            "query($w: [ID!]) { stock(skus: [\"X-1\"], warehouseIds: $w) { onHand } }",
            json!({ "w": [missing_id("Warehouse")] }),
            "NOT_FOUND",
            "warehouseIds",
        ),
        (
            "query($c: ID) { sku(code: \"X-1\") { stock(channelId: $c) { onHand } } }",
            json!({ "c": missing_id("Channel") }),
            "NOT_FOUND",
            "channelId",
        ),
        (
            "query($f: WarehouseFilter) { warehouses(filter: $f) { totalCount } }",
            json!({ "f": { "channelId": warehouse } }),
            "INVALID_INPUT",
            "filter.channelId",
        ),
    ];
    assert_rejections(app, &cases).await;
});

both_databases!(too_many_skus_in_one_request, |app| async move {
    let codes: Vec<String> = (0..1001).map(|index| format!("S-{index}")).collect();
    let query = "query($skus: [String!]!) { stock(skus: $skus) { onHand } }";
    let err = app.err(query, json!({ "skus": codes })).await;
    assert_eq!(err.code, "INVALID_INPUT", "1001 codes: {err:?}");
    assert_eq!(err.field.as_deref(), Some("skus"), "field of {err:?}");
    assert!(
        err.message.contains("1000"),
        "the message names the limit: {}",
        err.message
    );
});

both_databases!(idempotency_key_too_long_is_invalid, |app| async move {
    let (_, warehouse) = stocked(app).await;
    let input = json!({ "input": {
        "sku": "X-1", "warehouseId": warehouse, "delta": 1, "idempotencyKey": "k".repeat(256)
    } });
    let cases = [(
        adjust_inventory_mutation(),
        input,
        "INVALID_INPUT",
        "idempotencyKey",
    )];
    let cases: Vec<(&str, Value, &str, &str)> = cases
        .iter()
        .map(|(m, v, c, f)| (m.as_str(), v.clone(), *c, *f))
        .collect();
    assert_rejections(app, &cases).await;
});
