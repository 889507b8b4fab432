//! Connection paging: `first`/`after`, `last`/`before`, `pageInfo`, `totalCount` and the
//! maximum page size.

use serde_json::{Value, json};

use crate::helpers::*;

const CHANNEL_PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
    channels(first: $first, after: $after, last: $last, before: $before) {
        totalCount
        edges { cursor node { name } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

/// Creates channels named `C0` to `C{count - 1}`, in that order.
async fn create_channels(app: &TestApp, count: usize) {
    for index in 0..count {
        app.create_channel(&format!("C{index}")).await;
    }
}

/// Returns the node names of a connection page.
fn names(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .expect("edges is a list")
        .iter()
        .map(|edge| edge["node"]["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

both_databases!(forward_paging_visits_every_channel, |app| async move {
    create_channels(app, 7).await;

    let first = app.ok(CHANNEL_PAGE, json!({ "first": 3 })).await["channels"].clone();
    assert_eq!(names(&first), ["C0", "C1", "C2"], "first page");
    assert_eq!(first["totalCount"], 7, "totalCount counts every channel");
    assert_eq!(
        first["pageInfo"]["hasNextPage"], true,
        "more after the first page"
    );
    assert_eq!(
        first["pageInfo"]["hasPreviousPage"], false,
        "nothing before the first page"
    );
    assert_eq!(
        first["pageInfo"]["endCursor"], first["edges"][2]["cursor"],
        "endCursor is the last edge's cursor"
    );
    assert_eq!(
        first["pageInfo"]["startCursor"], first["edges"][0]["cursor"],
        "startCursor is the first edge's cursor"
    );

    let after = first["pageInfo"]["endCursor"].clone();
    let second = app
        .ok(CHANNEL_PAGE, json!({ "first": 3, "after": after }))
        .await["channels"]
        .clone();
    assert_eq!(names(&second), ["C3", "C4", "C5"], "second page");
    assert_eq!(
        second["pageInfo"]["hasNextPage"], true,
        "more after the second page"
    );
    assert_eq!(
        second["pageInfo"]["hasPreviousPage"], true,
        "the first page is before it"
    );

    let after = second["pageInfo"]["endCursor"].clone();
    let third = app
        .ok(CHANNEL_PAGE, json!({ "first": 3, "after": after }))
        .await["channels"]
        .clone();
    assert_eq!(names(&third), ["C6"], "last page");
    assert_eq!(
        third["pageInfo"]["hasNextPage"], false,
        "nothing after the last page"
    );
    assert_eq!(
        third["totalCount"], 7,
        "totalCount does not depend on the page"
    );
});

both_databases!(backward_paging_visits_every_channel, |app| async move {
    create_channels(app, 5).await;

    let last = app.ok(CHANNEL_PAGE, json!({ "last": 2 })).await["channels"].clone();
    assert_eq!(names(&last), ["C3", "C4"], "last page, in list order");
    assert_eq!(
        last["pageInfo"]["hasPreviousPage"], true,
        "more before the last page"
    );
    assert_eq!(
        last["pageInfo"]["hasNextPage"], false,
        "nothing after the last page"
    );

    let before = last["pageInfo"]["startCursor"].clone();
    let middle = app
        .ok(CHANNEL_PAGE, json!({ "last": 2, "before": before }))
        .await["channels"]
        .clone();
    assert_eq!(names(&middle), ["C1", "C2"], "page before the last one");
    assert_eq!(
        middle["pageInfo"]["hasPreviousPage"], true,
        "C0 is still before it"
    );
    assert_eq!(
        middle["pageInfo"]["hasNextPage"], true,
        "the last page is after it"
    );

    let before = middle["pageInfo"]["startCursor"].clone();
    let start = app
        .ok(CHANNEL_PAGE, json!({ "last": 2, "before": before }))
        .await["channels"]
        .clone();
    assert_eq!(names(&start), ["C0"], "first page, reached backwards");
    assert_eq!(
        start["pageInfo"]["hasPreviousPage"], false,
        "nothing before C0"
    );
});

both_databases!(default_page_and_empty_list, |app| async move {
    let empty = app.ok(CHANNEL_PAGE, json!({})).await["channels"].clone();
    assert_eq!(empty["edges"], json!([]), "no channels yet");
    assert_eq!(empty["totalCount"], 0, "totalCount of an empty list");
    assert_eq!(empty["pageInfo"]["hasNextPage"], false, "no next page");
    assert!(
        empty["pageInfo"]["endCursor"].is_null(),
        "no end cursor on an empty page"
    );
});

both_databases!(malformed_cursor_is_invalid, |app| async move {
    create_channels(app, 2).await;
    let err = app
        .err(CHANNEL_PAGE, json!({ "first": 1, "after": "not a cursor" }))
        .await;
    assert_eq!(err.code, "INVALID_INPUT", "garbage cursor: {err:?}");
    assert_eq!(err.field.as_deref(), Some("after"), "field of {err:?}");
});

both_databases!(page_size_above_500_is_invalid, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    let lists = [
        "query($n: Int) { channels(first: $n) { edges { cursor } } }",
        "query($n: Int) { warehouses(first: $n) { edges { cursor } } }",
        "query($n: Int) { products(first: $n) { edges { cursor } } }",
        "query($n: Int) { skus(first: $n) { edges { cursor } } }",
        "query($n: Int) { inventoryLedger(first: $n) { edges { cursor } } }",
    ];
    for query in lists {
        let err = app.err(query, json!({ "n": 501 })).await;
        assert_eq!(err.code, "INVALID_INPUT", "first: 501 in {query}: {err:?}");
        assert_eq!(
            err.field.as_deref(),
            Some("first"),
            "field of {err:?} in {query}"
        );
        assert!(
            err.message.contains("500"),
            "the message names the limit: {}",
            err.message
        );

        let last_query = query.replace("first:", "last:");
        let err = app.err(&last_query, json!({ "n": 501 })).await;
        assert_eq!(
            err.code, "INVALID_INPUT",
            "last: 501 in {last_query}: {err:?}"
        );
        assert_eq!(
            err.field.as_deref(),
            Some("last"),
            "field of {err:?} in {last_query}"
        );
    }

    let items =
        "query($id: ID, $n: Int) { warehouse(id: $id) { items(first: $n) { edges { cursor } } } }";
    let err = app.err(items, json!({ "id": warehouse, "n": 501 })).await;
    assert_eq!(
        err.code, "INVALID_INPUT",
        "Warehouse.items(first: 501): {err:?}"
    );
    assert!(
        err.message.contains("500"),
        "the message names the limit: {}",
        err.message
    );

    let data = app.ok(lists[0], json!({ "n": 500 })).await;
    assert!(
        data["channels"]["edges"].is_array(),
        "first: 500 is accepted"
    );
});

both_databases!(paging_through_warehouse_items, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    for index in 0..4 {
        let code = format!("P-{index}");
        app.create_product_with_sku(&code).await;
        app.set_on_hand(&code, &warehouse, index + 1).await;
    }
    let query = "query($id: ID, $after: String) { warehouse(id: $id) {
        items(first: 3, after: $after) { totalCount edges { node { onHand sku { code } } }
            pageInfo { hasNextPage endCursor } } } }";
    let page = app.ok(query, json!({ "id": warehouse })).await["warehouse"]["items"].clone();
    assert_eq!(page["totalCount"], 4, "four items in the warehouse");
    assert_eq!(
        page["edges"].as_array().map(Vec::len),
        Some(3),
        "first page of items"
    );
    assert_eq!(
        page["pageInfo"]["hasNextPage"], true,
        "a second page of items"
    );
    let after = page["pageInfo"]["endCursor"].clone();
    let rest = app
        .ok(query, json!({ "id": warehouse, "after": after }))
        .await["warehouse"]["items"]
        .clone();
    assert_eq!(
        rest["edges"][0]["node"]["sku"]["code"], "P-3",
        "the second page has the last item"
    );
    assert_eq!(
        rest["edges"][0]["node"]["onHand"], 4,
        "on hand of the last item"
    );
});
