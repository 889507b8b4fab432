//! Error hygiene: clients get coded errors, never database or driver text. Every response of
//! every test is checked for such text by `Api::gql`; the cases here aim at the database's
//! own limits.

use serde_json::json;

use crate::helpers::*;

both_databases!(nul_character_in_name_is_not_internal, |app| async move {
    let create = "mutation($input: CreateChannelInput!) {
        createChannel(input: $input) { channel { id name } } }";
    let name = "Web\u{0}store";
    let body = app.gql(create, json!({ "input": { "name": name } })).await;

    match body["errors"].as_array().and_then(|errors| errors.first()) {
        Some(error) => {
            let err = api_error(error);
            assert_eq!(
                err.code, "INVALID_INPUT",
                "a NUL character must be a coded input error: {err:?}"
            );
            assert_eq!(err.field.as_deref(), Some("name"), "field of {err:?}");
        }
        None => {
            let id = id_at(&body["data"]["createChannel"]["channel"]);
            let data = app
                .ok(
                    "query($id: ID) { channel(id: $id) { name } }",
                    json!({ "id": id }),
                )
                .await;
            assert_eq!(
                data["channel"]["name"], name,
                "a stored name reads back unchanged"
            );
        }
    }
});

both_databases!(
    nul_character_in_sku_code_is_not_internal,
    |app| async move {
        let product = app.create_product("Mug").await;
        let create =
            "mutation($input: CreateSkuInput!) { createSku(input: $input) { sku { code } } }";
        let body = app
            .gql(
                create,
                json!({ "input": { "productId": product, "code": "A\u{0}1" } }),
            )
            .await;
        if let Some(error) = body["errors"].as_array().and_then(|errors| errors.first()) {
            let err = api_error(error);
            assert_eq!(
                err.code, "INVALID_INPUT",
                "a NUL character must be a coded input error: {err:?}"
            );
        }
    }
);

both_databases!(duplicate_codes_are_coded, |app| async move {
    let create = "mutation($input: CreateWarehouseInput!) {
        createWarehouse(input: $input) { warehouse { id } } }";
    app.ok(
        create,
        json!({ "input": { "name": "A", "externalReferenceCode": "dup" } }),
    )
    .await;
    let err = app
        .err(
            create,
            json!({ "input": { "name": "B", "externalReferenceCode": "dup" } }),
        )
        .await;
    assert_eq!(err.code, "DUPLICATE", "a duplicate warehouse code: {err:?}");
    assert_eq!(
        err.field.as_deref(),
        Some("externalReferenceCode"),
        "field of {err:?}"
    );

    let product =
        "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }";
    app.ok(
        product,
        json!({ "input": { "name": "A", "externalReferenceCode": "dup" } }),
    )
    .await;
    let err = app
        .err(
            product,
            json!({ "input": { "name": "B", "externalReferenceCode": "dup" } }),
        )
        .await;
    assert_eq!(err.code, "DUPLICATE", "a duplicate product code: {err:?}");
});

#[test]
fn hygiene_check_catches_driver_text() {
    let driver_text =
        "error returned from database: duplicate key value violates unique constraint";
    let leaked = json!({ "errors": [{ "message": driver_text }] });
    let caught = std::panic::catch_unwind(|| assert_no_internal_text(&leaked));
    assert!(
        caught.is_err(),
        "the check must reject a message with driver text"
    );

    let coded = "SKU \"A-1\" not found: create it with createSku first";
    let clean = json!({ "errors": [{ "message": coded }] });
    assert_no_internal_text(&clean);
}
