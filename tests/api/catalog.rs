//! Channels, warehouses, products and SKUs: create, read, update, delete, look-up by id and by
//! external reference code, and the `node` and `nodes` fields.

use serde_json::json;

use crate::helpers::*;

const CHANNEL_FIELDS: &str = "id name externalReferenceCode active";

both_databases!(channel_create_read_update_delete, |app| async move {
    let create = format!(
        "mutation($input: CreateChannelInput!) {{
            createChannel(input: $input) {{ channel {{ {CHANNEL_FIELDS} }} }} }}"
    );
    let data = app
        .ok(
            &create,
            json!({ "input": { "name": "Web store", "externalReferenceCode": "web" } }),
        )
        .await;
    let created = &data["createChannel"]["channel"];
    let id = id_at(created);
    assert_eq!(created["name"], "Web store", "name of the new channel");
    assert_eq!(
        created["externalReferenceCode"], "web",
        "code of the new channel"
    );
    assert_eq!(
        created["active"], true,
        "a new channel is active by default"
    );

    let by_id = format!("query($id: ID) {{ channel(id: $id) {{ {CHANNEL_FIELDS} }} }}");
    let data = app.ok(&by_id, json!({ "id": id })).await;
    assert_eq!(
        data["channel"], *created,
        "channel(id) returns the created channel"
    );

    let update = format!(
        "mutation($input: UpdateChannelInput!) {{
            updateChannel(input: $input) {{ channel {{ {CHANNEL_FIELDS} }} }} }}"
    );
    let data = app
        .ok(
            &update,
            json!({ "input": { "id": id, "name": "B2B portal", "active": false } }),
        )
        .await;
    let updated = &data["updateChannel"]["channel"];
    assert_eq!(
        updated["name"], "B2B portal",
        "updateChannel changes the name"
    );
    assert_eq!(
        updated["active"], false,
        "updateChannel changes the active flag"
    );
    assert_eq!(
        updated["externalReferenceCode"], "web",
        "an omitted field keeps its value"
    );

    let data = app.ok(&by_id, json!({ "id": id })).await;
    assert_eq!(
        data["channel"]["name"], "B2B portal",
        "the update is stored"
    );

    let delete = "mutation($input: DeleteChannelInput!) {
        deleteChannel(input: $input) { channel { id name } } }";
    let data = app.ok(delete, json!({ "input": { "id": id } })).await;
    assert_eq!(
        data["deleteChannel"]["channel"]["id"], id,
        "deleteChannel returns the channel"
    );
    let data = app.ok(&by_id, json!({ "id": id })).await;
    assert!(
        data["channel"].is_null(),
        "a deleted channel is gone: {}",
        data["channel"]
    );
});

both_databases!(channel_by_external_reference_code, |app| async move {
    let create = "mutation($input: CreateChannelInput!) {
        createChannel(input: $input) { channel { id } } }";
    let data = app
        .ok(
            create,
            json!({ "input": { "name": "Market", "externalReferenceCode": "mkt-1" } }),
        )
        .await;
    let id = id_at(&data["createChannel"]["channel"]);
    app.create_channel("Other").await;

    let query = "query($erc: String) { channel(externalReferenceCode: $erc) { id } }";
    let data = app.ok(query, json!({ "erc": "mkt-1" })).await;
    assert_eq!(
        data["channel"]["id"], id,
        "look-up by external reference code"
    );
    let data = app.ok(query, json!({ "erc": "nope" })).await;
    assert!(data["channel"].is_null(), "an unknown code gives null");

    let err = app
        .err(
            create,
            json!({ "input": { "name": "Again", "externalReferenceCode": "mkt-1" } }),
        )
        .await;
    assert_eq!(
        err.code, "DUPLICATE",
        "a second channel with the same code: {err:?}"
    );
    assert_eq!(
        err.field.as_deref(),
        Some("externalReferenceCode"),
        "field of {err:?}"
    );
});

const WAREHOUSE_FIELDS: &str = "id name externalReferenceCode description active street1 street2
    street3 city zip regionCode countryCode latitude longitude priority";

both_databases!(warehouse_create_read_update_delete, |app| async move {
    let create = format!(
        "mutation($input: CreateWarehouseInput!) {{
            createWarehouse(input: $input) {{ warehouse {{ {WAREHOUSE_FIELDS} }} }} }}"
    );
    let input = json!({ "input": {
        "name": "Milan North", "externalReferenceCode": "mi-n", "description": "Main hub",
        "street1": "Via Roma 1", "street2": "Building B", "street3": "Dock 4", "city": "Milan",
        "zip": "20100", "regionCode": "MI", "countryCode": "it",
        "latitude": 45.4642, "longitude": 9.19, "priority": 3
    } });
    let data = app.ok(&create, input).await;
    let created = data["createWarehouse"]["warehouse"].clone();
    let id = id_at(&created);
    assert_eq!(
        created["active"], false,
        "a new warehouse is inactive by default"
    );
    assert_eq!(created["name"], "Milan North", "name");
    assert_eq!(
        created["externalReferenceCode"], "mi-n",
        "external reference code"
    );
    assert_eq!(created["description"], "Main hub", "description");
    assert_eq!(created["street1"], "Via Roma 1", "street1");
    assert_eq!(created["street2"], "Building B", "street2");
    assert_eq!(created["street3"], "Dock 4", "street3");
    assert_eq!(created["city"], "Milan", "city");
    assert_eq!(created["zip"], "20100", "zip");
    assert_eq!(created["regionCode"], "MI", "region code");
    assert_eq!(
        created["countryCode"], "IT",
        "the country code is stored in upper case"
    );
    assert_eq!(created["latitude"], 45.4642, "latitude");
    assert_eq!(created["longitude"], 9.19, "longitude");
    assert_eq!(created["priority"], 3, "priority");

    let by_id = format!("query($id: ID) {{ warehouse(id: $id) {{ {WAREHOUSE_FIELDS} }} }}");
    let data = app.ok(&by_id, json!({ "id": id })).await;
    assert_eq!(
        data["warehouse"], created,
        "warehouse(id) returns the created warehouse"
    );
    let by_erc = format!(
        "query($erc: String) {{ warehouse(externalReferenceCode: $erc) {{ {WAREHOUSE_FIELDS} }} }}"
    );
    let data = app.ok(&by_erc, json!({ "erc": "mi-n" })).await;
    assert_eq!(
        data["warehouse"], created,
        "warehouse(externalReferenceCode) finds it"
    );

    let update = format!(
        "mutation($input: UpdateWarehouseInput!) {{
            updateWarehouse(input: $input) {{ warehouse {{ {WAREHOUSE_FIELDS} }} }} }}"
    );
    let data = app
        .ok(
            &update,
            json!({ "input": {
            "id": id, "name": "Milan South", "city": null, "latitude": null, "longitude": null
        } }),
        )
        .await;
    let updated = &data["updateWarehouse"]["warehouse"];
    assert_eq!(
        updated["name"], "Milan South",
        "updateWarehouse changes the name"
    );
    assert!(
        updated["city"].is_null(),
        "null clears the city: {}",
        updated["city"]
    );
    assert!(updated["latitude"].is_null(), "null clears the latitude");
    assert!(updated["longitude"].is_null(), "null clears the longitude");
    assert_eq!(updated["zip"], "20100", "an omitted field keeps its value");

    let activate = "mutation($input: SetWarehouseActiveInput!) {
        setWarehouseActive(input: $input) { warehouse { active } } }";
    let data = app
        .ok(activate, json!({ "input": { "id": id, "active": true } }))
        .await;
    assert_eq!(
        data["setWarehouseActive"]["warehouse"]["active"], true,
        "activated"
    );

    let delete = "mutation($input: DeleteWarehouseInput!) {
        deleteWarehouse(input: $input) { warehouse { id } } }";
    let data = app.ok(delete, json!({ "input": { "id": id } })).await;
    assert_eq!(
        data["deleteWarehouse"]["warehouse"]["id"], id,
        "deleteWarehouse returns it"
    );
    let data = app.ok(&by_id, json!({ "id": id })).await;
    assert!(data["warehouse"].is_null(), "a deleted warehouse is gone");
});

both_databases!(product_create_read_update, |app| async move {
    let create = "mutation($input: CreateProductInput!) {
        createProduct(input: $input) { product { id name externalReferenceCode skus { code } } } }";
    let data = app
        .ok(
            create,
            json!({ "input": { "name": "Espresso cup", "externalReferenceCode": "cup" } }),
        )
        .await;
    let created = data["createProduct"]["product"].clone();
    let id = id_at(&created);
    assert_eq!(created["name"], "Espresso cup", "name");
    assert_eq!(created["skus"], json!([]), "a new product has no SKUs");

    let by_id = "query($id: ID) { product(id: $id) { id name externalReferenceCode } }";
    let data = app.ok(by_id, json!({ "id": id })).await;
    assert_eq!(data["product"]["name"], "Espresso cup", "product(id)");
    let by_erc = "query($erc: String) { product(externalReferenceCode: $erc) { id } }";
    let data = app.ok(by_erc, json!({ "erc": "cup" })).await;
    assert_eq!(data["product"]["id"], id, "product(externalReferenceCode)");

    let update = "mutation($input: UpdateProductInput!) {
        updateProduct(input: $input) { product { name externalReferenceCode } } }";
    let data = app
        .ok(
            update,
            json!({ "input": { "id": id, "name": "Tea cup", "externalReferenceCode": null } }),
        )
        .await;
    let updated = &data["updateProduct"]["product"];
    assert_eq!(updated["name"], "Tea cup", "updateProduct changes the name");
    assert!(
        updated["externalReferenceCode"].is_null(),
        "null removes the code"
    );
    let data = app.ok(by_erc, json!({ "erc": "cup" })).await;
    assert!(data["product"].is_null(), "the removed code finds nothing");
});

const SKU_FIELDS: &str = "id code published purchasable product { id }";

both_databases!(sku_create_read_update, |app| async move {
    let product = app.create_product("Espresso cup").await;
    let create = format!(
        "mutation($input: CreateSkuInput!) {{ createSku(input: $input) {{ sku {{ {SKU_FIELDS} }} }} }}"
    );
    let data = app
        .ok(
            &create,
            json!({ "input": { "productId": product, "code": "  CUP-RED  " } }),
        )
        .await;
    let created = data["createSku"]["sku"].clone();
    let id = id_at(&created);
    assert_eq!(created["code"], "CUP-RED", "the code is stored trimmed");
    assert_eq!(
        created["published"], true,
        "a new SKU is published by default"
    );
    assert_eq!(
        created["purchasable"], true,
        "a new SKU is purchasable by default"
    );
    assert_eq!(
        created["product"]["id"], product,
        "the SKU belongs to its product"
    );

    let by_code = format!("query($code: String!) {{ sku(code: $code) {{ {SKU_FIELDS} }} }}");
    let data = app.ok(&by_code, json!({ "code": "CUP-RED" })).await;
    assert_eq!(data["sku"], created, "sku(code) finds the SKU");

    let product_skus = "query($id: ID) { product(id: $id) { skus { id code } } }";
    let data = app.ok(product_skus, json!({ "id": product })).await;
    assert_eq!(
        strings_at(&data["product"]["skus"], "code"),
        ["CUP-RED"],
        "Product.skus"
    );

    let update = format!(
        "mutation($input: UpdateSkuInput!) {{ updateSku(input: $input) {{ sku {{ {SKU_FIELDS} }} }} }}"
    );
    let data = app
        .ok(
            &update,
            json!({ "input": { "id": id, "code": "CUP-BLUE", "published": false } }),
        )
        .await;
    let updated = &data["updateSku"]["sku"];
    assert_eq!(updated["code"], "CUP-BLUE", "updateSku changes the code");
    assert_eq!(updated["published"], false, "updateSku changes published");
    assert_eq!(
        updated["purchasable"], true,
        "an omitted flag keeps its value"
    );
    let data = app.ok(&by_code, json!({ "code": "cup-blue" })).await;
    assert_eq!(data["sku"]["id"], id, "the new code finds the SKU");
    let data = app.ok(&by_code, json!({ "code": "CUP-RED" })).await;
    assert!(data["sku"].is_null(), "the old code finds nothing");
});

both_databases!(sku_code_ignores_case_and_spaces, |app| async move {
    let product = app.create_product("Mug").await;
    let sku_id = app.create_sku(&product, "ABC-1").await;

    let by_code = "query($code: String!) { sku(code: $code) { id code } }";
    for variant in ["ABC-1", "abc-1", " ABC-1 ", "  aBc-1"] {
        let data = app.ok(by_code, json!({ "code": variant })).await;
        assert_eq!(
            data["sku"]["id"], sku_id,
            "sku(code: {variant:?}) finds ABC-1"
        );
    }

    let before = app.snapshot().await;
    let create = "mutation($input: CreateSkuInput!) { createSku(input: $input) { sku { id } } }";
    for variant in ["ABC-1", "abc-1", " ABC-1 "] {
        let err = app
            .err(
                create,
                json!({ "input": { "productId": product, "code": variant } }),
            )
            .await;
        assert_eq!(err.code, "DUPLICATE", "creating {variant:?} again: {err:?}");
        assert_eq!(err.field.as_deref(), Some("code"), "field of {err:?}");
    }
    app.assert_unchanged(&before, "duplicate createSku").await;

    let count = "query { skus { totalCount } }";
    assert_eq!(
        app.ok(count, json!({})).await["skus"]["totalCount"],
        1,
        "still one SKU"
    );
});

both_databases!(sku_of_unknown_product_is_not_found, |app| async move {
    let create = "mutation($input: CreateSkuInput!) { createSku(input: $input) { sku { id } } }";
    let input = json!({ "input": { "productId": missing_id("Product"), "code": "X-1" } });
    let err = app.err(create, input).await;
    assert_eq!(err.code, "NOT_FOUND", "unknown product: {err:?}");
    assert_eq!(err.field.as_deref(), Some("productId"), "field of {err:?}");
});

const NODE_QUERY: &str = "query($id: ID!) { node(id: $id) { __typename id
    ... on Channel { name } ... on Warehouse { name } ... on Product { name }
    ... on Sku { code } ... on WarehouseItem { onHand } ... on InventoryLedgerEntry { onHandDelta } } }";

both_databases!(node_resolves_every_type, |app| async move {
    let channel = app.create_channel("Web").await;
    let warehouse = app.create_warehouse("Depot").await;
    let product = app.create_product_with_sku("N-1").await;
    let sku = id_at(&app.ok("{ sku(code: \"N-1\") { id } }", json!({})).await["sku"]);
    let payload = app.set_on_hand("N-1", &warehouse, 7).await;
    let item = id_at(&payload["warehouseItem"]);
    let entry = id_at(&payload["ledgerEntries"][0]);

    let cases = [
        (&channel, "Channel", "name", json!("Web")),
        (&warehouse, "Warehouse", "name", json!("Depot")),
        (&product, "Product", "name", json!("Product N-1")),
        (&sku, "Sku", "code", json!("N-1")),
        (&item, "WarehouseItem", "onHand", json!(7)),
        (&entry, "InventoryLedgerEntry", "onHandDelta", json!(7)),
    ];
    for (id, type_name, field, expected) in cases {
        let data = app.ok(NODE_QUERY, json!({ "id": id })).await;
        assert_eq!(data["node"]["__typename"], type_name, "type of node({id})");
        assert_eq!(data["node"]["id"], **id, "id of the {type_name} node");
        assert_eq!(
            data["node"][field], expected,
            "{field} of the {type_name} node"
        );
    }

    for type_name in [
        "Channel",
        "Warehouse",
        "Product",
        "Sku",
        "WarehouseItem",
        "InventoryLedgerEntry",
    ] {
        let data = app
            .ok(NODE_QUERY, json!({ "id": missing_id(type_name) }))
            .await;
        assert!(
            data["node"].is_null(),
            "node of a missing {type_name} is null"
        );
    }
});

both_databases!(nodes_keeps_order_with_nulls, |app| async move {
    let channel = app.create_channel("Web").await;
    let warehouse = app.create_warehouse("Depot").await;
    let product = app.create_product_with_sku("N-2").await;

    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }";
    let ids = json!([warehouse, missing_id("Channel"), product, channel]);
    let data = app.ok(query, json!({ "ids": ids })).await;
    let nodes = data["nodes"].as_array().expect("nodes is a list");
    assert_eq!(nodes.len(), 4, "one entry per id: {nodes:?}");
    assert_eq!(nodes[0]["__typename"], "Warehouse", "first entry");
    assert_eq!(nodes[0]["id"], warehouse, "first entry id");
    assert!(
        nodes[1].is_null(),
        "a missing channel gives null in place: {}",
        nodes[1]
    );
    assert_eq!(nodes[2]["__typename"], "Product", "third entry");
    assert_eq!(nodes[3]["__typename"], "Channel", "fourth entry");
    assert_eq!(nodes[3]["id"], channel, "fourth entry id");
});

both_databases!(nodes_above_500_ids_is_invalid, |app| async move {
    let ids: Vec<String> = (0..501).map(|_| missing_id("Channel")).collect();
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
    let err = app.err(query, json!({ "ids": ids })).await;
    assert_eq!(err.code, "INVALID_INPUT", "501 ids: {err:?}");
    assert_eq!(err.field.as_deref(), Some("ids"), "field of {err:?}");
    assert!(
        err.message.contains("500"),
        "the message names the limit: {}",
        err.message
    );
});
