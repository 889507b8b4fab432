//! Availability estimates: localized titles with fallbacks, validation, ordering, updates,
//! deletion while products use them, and the estimate a product points to.

use serde_json::{Value, json};

use crate::{
    helpers::*,
    replenishment::{State, assert_rejected, assert_same_state, state},
};

/// Fields of an estimate read by every test.
const ESTIMATE_FIELDS: &str = "id priority title titles { locale text }";

fn create_mutation() -> String {
    format!(
        "mutation($input: CreateAvailabilityEstimateInput!) {{
            createAvailabilityEstimate(input: $input) {{ availabilityEstimate {{ {ESTIMATE_FIELDS} }} }} }}"
    )
}

fn update_mutation() -> String {
    format!(
        "mutation($input: UpdateAvailabilityEstimateInput!) {{
            updateAvailabilityEstimate(input: $input) {{ availabilityEstimate {{ {ESTIMATE_FIELDS} }} }} }}"
    )
}

fn delete_mutation() -> String {
    format!(
        "mutation($input: DeleteAvailabilityEstimateInput!) {{
            deleteAvailabilityEstimate(input: $input) {{ availabilityEstimate {{ {ESTIMATE_FIELDS} }} }} }}"
    )
}

const LIST: &str = "query { availabilityEstimates { id priority title } }";

const CREATE_PRODUCT: &str = "mutation($input: CreateProductInput!) {
    createProduct(input: $input) { product { id availabilityEstimate { id title } } } }";
const UPDATE_PRODUCT: &str = "mutation($input: UpdateProductInput!) {
    updateProduct(input: $input) { product { id availabilityEstimate { id title } } } }";
const PRODUCT: &str = "query($id: ID) { product(id: $id) { availabilityEstimate { id title } } }";

/// Builds `titles` input from `(locale, text)` pairs.
fn titles(pairs: &[(&str, &str)]) -> Value {
    pairs
        .iter()
        .map(|(locale, text)| json!({ "locale": locale, "text": text }))
        .collect()
}

/// Creates an estimate with the given titles and priority and returns it.
pub async fn create_estimate(app: &TestApp, pairs: &[(&str, &str)], priority: i64) -> Value {
    let input = json!({ "input": { "titles": titles(pairs), "priority": priority } });
    app.ok(&create_mutation(), input).await["createAvailabilityEstimate"]["availabilityEstimate"]
        .clone()
}

/// Creates a product pointing at `estimate_id` and returns its id.
pub async fn create_product_with_estimate(
    app: &TestApp,
    name: &str,
    estimate_id: &Value,
) -> String {
    let input = json!({ "input": { "name": name, "availabilityEstimateId": estimate_id } });
    id_at(&app.ok(CREATE_PRODUCT, input).await["createProduct"]["product"])
}

/// Encodes the global id of an estimate that was never created.
pub fn missing_estimate_id() -> String {
    stockroom::ids::encode(stockroom::ids::NodeType::AvailabilityEstimate, 987_654_321).to_string()
}

/// Reads the estimate a product points to through `Product.availabilityEstimate`.
async fn estimate_of(app: &TestApp, product: &str) -> Value {
    app.ok(PRODUCT, json!({ "id": product })).await["product"]["availabilityEstimate"].clone()
}

/// Sends a create with `titles` that must be rejected as `INVALID_INPUT` on the titles, and
/// checks that nothing changed.
async fn assert_titles_rejected(app: &TestApp, before: &State, titles: Value, case: &str) {
    let input = json!({ "input": { "titles": titles } });
    let err = app.err(&create_mutation(), input).await;
    assert_eq!(err.code, "INVALID_INPUT", "{case}: {err:?}");
    assert!(
        err.field
            .as_deref()
            .is_some_and(|field| field.starts_with("titles")),
        "{case}: the error names the input field `titles`, got {err:?}"
    );
    assert_same_state(app, before, case).await;
}

both_databases!(create_with_localized_titles, |app| async move {
    let created = create_estimate(app, &[("it_IT", "3-5 giorni"), ("en_US", "3-5 days")], 3).await;
    assert_eq!(created["priority"], 3, "priority: {created}");
    assert_eq!(
        created["title"], "3-5 days",
        "title defaults to en_US: {created}"
    );
    assert_eq!(
        created["titles"],
        titles(&[("en_US", "3-5 days"), ("it_IT", "3-5 giorni")]),
        "both titles, by locale: {created}"
    );

    let node = app
        .ok(
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on AvailabilityEstimate {{ {ESTIMATE_FIELDS} }} }} }}"),
            json!({ "id": created["id"] }),
        )
        .await;
    assert_eq!(node["node"], created, "node(id) reads the same estimate");
});

both_databases!(create_defaults_priority_to_zero, |app| async move {
    let input = json!({ "input": { "titles": titles(&[("en_US", "Soon")]) } });
    let created = app.ok(&create_mutation(), input).await;
    assert_eq!(
        created["createAvailabilityEstimate"]["availabilityEstimate"]["priority"], 0,
        "default priority: {created}"
    );
});

both_databases!(title_falls_back, |app| async move {
    let created = create_estimate(
        app,
        &[
            ("en_US", "3-5 days"),
            ("it_IT", "3-5 giorni"),
            ("de", "3-5 Tage"),
        ],
        0,
    )
    .await;
    let only_italian = create_estimate(app, &[("it_IT", "presto")], 0).await;
    let query = "query($id: ID!, $locale: String) {
        node(id: $id) { ... on AvailabilityEstimate { title(locale: $locale) } } }";

    let cases = [
        (
            &created["id"],
            Some("it_IT"),
            "3-5 giorni",
            "the exact locale",
        ),
        (
            &created["id"],
            Some("de_AT"),
            "3-5 Tage",
            "the language of de_AT",
        ),
        (
            &created["id"],
            Some("it_CH"),
            "3-5 giorni",
            "another country of the language",
        ),
        (
            &created["id"],
            Some("fr_FR"),
            "3-5 days",
            "en_US for an absent language",
        ),
        (
            &created["id"],
            None,
            "3-5 days",
            "en_US when no locale is asked",
        ),
        (
            &only_italian["id"],
            Some("fr_FR"),
            "presto",
            "any stored title without en_US",
        ),
        (
            &only_italian["id"],
            None,
            "presto",
            "any stored title with no locale asked",
        ),
    ];
    for (id, locale, expected, case) in cases {
        let data = app.ok(query, json!({ "id": id, "locale": locale })).await;
        assert_eq!(data["node"]["title"], expected, "{case} ({locale:?})");
    }
});

both_databases!(invalid_titles_are_rejected, |app| async move {
    create_estimate(app, &[("en_US", "Existing")], 0).await;
    let before = state(app).await;
    let long = "x".repeat(256);
    let cases = [
        (titles(&[("EN", "3-5 days")]), "upper-case locale EN"),
        (
            titles(&[("en-US", "3-5 days")]),
            "locale en-US with a hyphen",
        ),
        (
            titles(&[("en_us", "3-5 days")]),
            "locale en_us with a lower-case country",
        ),
        (titles(&[("", "3-5 days")]), "an empty locale"),
        (titles(&[("en_US", "")]), "an empty title"),
        (titles(&[("en_US", "   ")]), "a blank title"),
        (titles(&[("en_US", long.as_str())]), "a 256-character title"),
        (
            titles(&[("en_US", "ok"), ("it_IT", "")]),
            "one empty title among good ones",
        ),
        (titles(&[]), "no title at all"),
        (
            titles(&[("en_US", "3-5 days"), ("en_US", "5-7 days")]),
            "the same locale twice",
        ),
    ];
    for (titles, case) in cases {
        assert_titles_rejected(app, &before, titles, case).await;
    }
});

both_databases!(title_of_255_characters_is_accepted, |app| async move {
    let long = "x".repeat(255);
    let created = create_estimate(app, &[("en_US", long.as_str())], 0).await;
    assert_eq!(
        created["title"].as_str().map(str::len),
        Some(255),
        "the whole title is kept"
    );
});

both_databases!(list_ordered_by_priority_then_id, |app| async move {
    let mut ids = Vec::new();
    for (name, priority) in [("b", 2), ("a", 1), ("c", 2), ("z", 0)] {
        ids.push(create_estimate(app, &[("en_US", name)], priority).await["id"].clone());
    }
    let data = app.ok(LIST, json!({})).await;
    let listed: Vec<&Value> = data["availabilityEstimates"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(
        listed,
        vec![&ids[3], &ids[1], &ids[0], &ids[2]],
        "priority 0, 1, then the two of priority 2 by id: {data}"
    );
});

both_databases!(update_replaces_titles_and_priority, |app| async move {
    let created = create_estimate(app, &[("en_US", "3-5 days"), ("it_IT", "3-5 giorni")], 1).await;

    let input =
        json!({ "input": { "id": created["id"], "titles": titles(&[("en_US", "1 week")]) } });
    let updated = app.ok(&update_mutation(), input).await["updateAvailabilityEstimate"]
        ["availabilityEstimate"]
        .clone();
    assert_eq!(
        updated["titles"],
        titles(&[("en_US", "1 week")]),
        "the new titles replace all stored ones: {updated}"
    );
    assert_eq!(
        updated["priority"], 1,
        "an omitted priority is kept: {updated}"
    );

    let input = json!({ "input": { "id": created["id"], "priority": 9 } });
    let updated = app.ok(&update_mutation(), input).await["updateAvailabilityEstimate"]
        ["availabilityEstimate"]
        .clone();
    assert_eq!(updated["priority"], 9, "new priority: {updated}");
    assert_eq!(
        updated["title"], "1 week",
        "omitted titles are kept: {updated}"
    );
});

both_databases!(update_rejects_bad_input, |app| async move {
    let created = create_estimate(app, &[("en_US", "3-5 days")], 1).await;
    let mutation = update_mutation();
    let cases = [
        (
            mutation.as_str(),
            json!({ "input": { "id": missing_estimate_id(), "priority": 2 } }),
            "NOT_FOUND",
            "id",
        ),
        (
            mutation.as_str(),
            json!({ "input": { "id": "garbage", "priority": 2 } }),
            "INVALID_INPUT",
            "id",
        ),
        (
            mutation.as_str(),
            json!({ "input": { "id": created["id"], "titles": titles(&[("en-US", "x")]) } }),
            "INVALID_INPUT",
            "titles",
        ),
        (
            mutation.as_str(),
            json!({ "input": { "id": created["id"], "titles": titles(&[]) } }),
            "INVALID_INPUT",
            "titles",
        ),
    ];
    assert_rejected(app, &cases).await;
});

both_databases!(
    delete_in_use_is_conflict_naming_products,
    |app| async move {
        let created = create_estimate(app, &[("en_US", "3-5 days")], 0).await;
        create_product_with_estimate(app, "Brake Pads", &created["id"]).await;
        create_product_with_estimate(app, "Oil Filter", &created["id"]).await;
        app.create_product("Unrelated").await;
        let before = state(app).await;

        let err = app
            .err(
                &delete_mutation(),
                json!({ "input": { "id": created["id"] } }),
            )
            .await;
        assert_eq!(err.code, "CONFLICT", "an estimate in use: {err:?}");
        for name in ["Brake Pads", "Oil Filter"] {
            assert!(
                err.message.contains(name),
                "the message names {name}: {}",
                err.message
            );
        }
        assert!(
            !err.message.contains("Unrelated"),
            "the message names only the products using it: {}",
            err.message
        );
        assert_same_state(app, &before, "a refused estimate deletion").await;
    }
);

both_databases!(delete_with_unlink_products, |app| async move {
    let created = create_estimate(app, &[("en_US", "3-5 days")], 0).await;
    let other = create_estimate(app, &[("en_US", "Other")], 0).await;
    let first = create_product_with_estimate(app, "Brake Pads", &created["id"]).await;
    let second = create_product_with_estimate(app, "Oil Filter", &created["id"]).await;
    let keeps = create_product_with_estimate(app, "Keeps", &other["id"]).await;

    let input = json!({ "input": { "id": created["id"], "unlinkProducts": true } });
    let data = app.ok(&delete_mutation(), input).await;
    assert_eq!(
        data["deleteAvailabilityEstimate"]["availabilityEstimate"]["id"], created["id"],
        "the deleted estimate: {data}"
    );
    for product in [&first, &second] {
        assert!(
            estimate_of(app, product).await.is_null(),
            "product {product} lost the estimate"
        );
    }
    assert_eq!(
        estimate_of(app, &keeps).await["id"],
        other["id"],
        "a product of another estimate keeps it"
    );
    let list = app.ok(LIST, json!({})).await;
    assert_eq!(
        list["availabilityEstimates"].as_array().map(Vec::len),
        Some(1),
        "only the other estimate is left: {list}"
    );
});

both_databases!(delete_unused_then_again_is_not_found, |app| async move {
    let created = create_estimate(app, &[("en_US", "3-5 days")], 0).await;
    let input = json!({ "input": { "id": created["id"] } });
    let data = app.ok(&delete_mutation(), input.clone()).await;
    assert_eq!(
        data["deleteAvailabilityEstimate"]["availabilityEstimate"]["title"], "3-5 days",
        "the estimate as it was: {data}"
    );
    let cases = [(delete_mutation(), input, "NOT_FOUND", "id")];
    let cases: Vec<(&str, Value, &str, &str)> = cases
        .iter()
        .map(|(m, v, c, f)| (m.as_str(), v.clone(), *c, *f))
        .collect();
    assert_rejected(app, &cases).await;
});

both_databases!(product_estimate_set_changed_and_removed, |app| async move {
    let first = create_estimate(app, &[("en_US", "3-5 days")], 0).await;
    let second = create_estimate(app, &[("en_US", "5-7 days")], 0).await;

    let input = json!({ "input": { "name": "Pads", "availabilityEstimateId": first["id"] } });
    let created = app.ok(CREATE_PRODUCT, input).await["createProduct"]["product"].clone();
    assert_eq!(
        created["availabilityEstimate"]["title"], "3-5 days",
        "createProduct sets the estimate: {created}"
    );
    let product = id_at(&created);

    let input = json!({ "input": { "id": product, "availabilityEstimateId": second["id"] } });
    app.ok(UPDATE_PRODUCT, input).await;
    assert_eq!(
        estimate_of(app, &product).await["id"],
        second["id"],
        "updateProduct changes the estimate"
    );

    let input = json!({ "input": { "id": product, "name": "Brake pads" } });
    app.ok(UPDATE_PRODUCT, input).await;
    assert_eq!(
        estimate_of(app, &product).await["id"],
        second["id"],
        "an update without the field keeps the estimate"
    );

    let input = json!({ "input": { "id": product, "availabilityEstimateId": null } });
    app.ok(UPDATE_PRODUCT, input).await;
    assert!(
        estimate_of(app, &product).await.is_null(),
        "null removes the estimate"
    );
});

both_databases!(unknown_estimate_id_is_not_found, |app| async move {
    let product = app.create_product("Pads").await;
    let warehouse = app.create_warehouse("Not an estimate").await;
    let cases = [
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": "New", "availabilityEstimateId": missing_estimate_id() } }),
            "NOT_FOUND",
            "availabilityEstimateId",
        ),
        (
            UPDATE_PRODUCT,
            json!({ "input": { "id": product, "availabilityEstimateId": missing_estimate_id() } }),
            "NOT_FOUND",
            "availabilityEstimateId",
        ),
        (
            CREATE_PRODUCT,
            json!({ "input": { "name": "New", "availabilityEstimateId": warehouse } }),
            "INVALID_INPUT",
            "availabilityEstimateId",
        ),
        (
            UPDATE_PRODUCT,
            json!({ "input": { "id": product, "availabilityEstimateId": "garbage" } }),
            "INVALID_INPUT",
            "availabilityEstimateId",
        ),
    ];
    assert_rejected(app, &cases).await;
});
