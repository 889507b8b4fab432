//! No N+1 queries: the number of statements a read runs does not grow with the number of
//! items it returns.
//!
//! The `stock` and `skus` tests seed 20 active warehouses linked to one channel and 500 SKUs,
//! each of its own product and stocked in two of the warehouses, then compare the statement
//! count of the same query for 5 items and for 500. Each failure message lists the statements
//! of both requests.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::helpers::*;

const WAREHOUSES: usize = 20;
const SKUS: usize = 500;

/// Returns the code of the `index`th seeded SKU.
fn code(index: usize) -> String {
    format!("NP-{index:03}")
}

/// Sends one mutation request made of `fields`, each under its own alias, and returns `data`.
async fn aliased(app: &TestApp, fields: &[String]) -> Value {
    let mut mutation = String::from("mutation {");
    for (index, field) in fields.iter().enumerate() {
        write!(mutation, " m{index}: {field}").expect("writing to a String cannot fail");
    }
    mutation.push_str(" }");
    app.ok(&mutation, json!({})).await
}

/// Seeds the data set described in the module docs and returns the channel id.
async fn seed(app: &TestApp) -> String {
    let channel = app.create_channel("Web").await;

    let fields: Vec<String> = (0..WAREHOUSES)
        .map(|index| {
            format!(
                "createWarehouse(input: {{ name: \"Warehouse {index}\", active: true, priority: {index} }}) {{ warehouse {{ id }} }}"
            )
        })
        .collect();
    let data = aliased(app, &fields).await;
    let warehouses: Vec<String> = (0..WAREHOUSES)
        .map(|index| id_at(&data[format!("m{index}")]["warehouse"]))
        .collect();
    let links: Vec<String> = warehouses
        .iter()
        .map(|warehouse| {
            format!(
                "linkWarehouseToChannel(input: {{ warehouseId: \"{warehouse}\", channelId: \"{channel}\" }}) {{ warehouse {{ id }} }}"
            )
        })
        .collect();
    aliased(app, &links).await;

    let mut products = Vec::with_capacity(SKUS);
    for chunk in (0..SKUS).collect::<Vec<_>>().chunks(100) {
        let fields: Vec<String> = chunk
            .iter()
            .map(|index| {
                format!(
                    "createProduct(input: {{ name: \"Product {index}\" }}) {{ product {{ id }} }}"
                )
            })
            .collect();
        let data = aliased(app, &fields).await;
        products.extend((0..chunk.len()).map(|at| id_at(&data[format!("m{at}")]["product"])));
    }
    for chunk in (0..SKUS).collect::<Vec<_>>().chunks(100) {
        let fields: Vec<String> = chunk
            .iter()
            .map(|index| {
                format!(
                    "createSku(input: {{ productId: \"{}\", code: \"{}\" }}) {{ sku {{ id }} }}",
                    products[*index],
                    code(*index)
                )
            })
            .collect();
        aliased(app, &fields).await;
    }

    // A few stored configurations, so both the stored rows and the defaults are read.
    let configure = "mutation($input: SetProductInventoryConfigurationInput!) {
        setProductInventoryConfiguration(input: $input) { product { id } } }";
    for product in products.iter().step_by(100) {
        app.ok(
            configure,
            json!({ "input": { "productId": product, "minStockQuantity": 3 } }),
        )
        .await;
    }

    let items: Vec<Value> = (0..SKUS)
        .flat_map(|index| {
            let first = &warehouses[index % WAREHOUSES];
            let second = &warehouses[(index + 7) % WAREHOUSES];
            [
                json!({ "sku": code(index), "warehouseId": first, "onHand": index + 1 }),
                json!({ "sku": code(index), "warehouseId": second, "onHand": 2, "safetyStock": 1 }),
            ]
        })
        .collect();
    let data = app
        .ok(
            &bulk_set_inventory_mutation(),
            json!({ "input": { "items": items } }),
        )
        .await;
    assert_eq!(
        data["bulkSetInventory"]["appliedCount"],
        2 * SKUS,
        "every seed item applied"
    );
    channel
}

/// Runs `query` with `variables` after resetting the counter, and returns the statement
/// count with the response data.
async fn count_statements(app: &TestApp, query: &str, variables: Value) -> (usize, Value) {
    app.statements.reset();
    let data = app.ok(query, variables).await;
    (app.statements.count(), data)
}

const STOCK: &str = "query($skus: [String!]!, $channel: ID) {
    stock(skus: $skus, channelId: $channel) {
        onHand available byWarehouse { warehouse { name channels { name } } onHand item { id onHand } } } }";

both_databases!(stock_query_statements_do_not_grow, |app| async move {
    let channel = seed(app).await;
    let few: Vec<String> = (0..5).map(|index| code(index * 97)).collect();
    let all: Vec<String> = (0..SKUS).map(code).collect();

    let (few_count, few_data) =
        count_statements(app, STOCK, json!({ "skus": few, "channel": channel })).await;
    let few_statements = app.statements.statements();
    let (all_count, all_data) =
        count_statements(app, STOCK, json!({ "skus": all, "channel": channel })).await;
    let all_statements = app.statements.statements();
    eprintln!(
        "stock statements on {:?}: {few_count} for 5 SKUs, {all_count} for 500",
        app.backend
    );

    let summaries = all_data["stock"].as_array().expect("stock is a list");
    assert_eq!(summaries.len(), SKUS, "one summary per SKU");
    assert!(
        summaries.iter().all(|s| s["byWarehouse"]
            .as_array()
            .is_some_and(|rows| rows.len() == 2)),
        "every SKU is in two warehouses"
    );
    assert_eq!(
        few_data["stock"][0]["byWarehouse"][0]["warehouse"]["channels"][0]["name"], "Web",
        "nested channels resolve"
    );
    let first_row = &all_data["stock"][0]["byWarehouse"][0];
    assert!(first_row["item"]["id"].is_string(), "the whole item resolves: {first_row}");
    assert_eq!(first_row["item"]["onHand"], first_row["onHand"], "the item has the row's on hand: {first_row}");
    assert_eq!(
        few_count,
        all_count,
        "500 SKUs ran {all_count} statements and 5 ran {few_count}.\n5 SKUs: {few_statements:#?}\n500 SKUs: {:#?}",
        &all_statements[..all_statements.len().min(40)]
    );
});

const SKUS_PAGE: &str = "query($first: Int, $channel: ID) {
    skus(first: $first) { edges { node {
        code product { name inventoryConfiguration { minStockQuantity } }
        stock(channelId: $channel) { available } } } } }";

both_databases!(skus_page_statements_do_not_grow, |app| async move {
    let channel = seed(app).await;

    let (few_count, few_data) =
        count_statements(app, SKUS_PAGE, json!({ "first": 5, "channel": channel })).await;
    let few_statements = app.statements.statements();
    let (all_count, all_data) =
        count_statements(app, SKUS_PAGE, json!({ "first": 500, "channel": channel })).await;
    let all_statements = app.statements.statements();
    eprintln!(
        "skus page statements on {:?}: {few_count} for first: 5, {all_count} for first: 500",
        app.backend
    );

    let edges = all_data["skus"]["edges"]
        .as_array()
        .expect("edges is a list");
    assert_eq!(edges.len(), SKUS, "the page holds every SKU");
    assert_eq!(
        few_data["skus"]["edges"].as_array().map(Vec::len),
        Some(5),
        "the small page"
    );
    assert_eq!(
        edges[0]["node"]["product"]["inventoryConfiguration"]["minStockQuantity"], 3,
        "a stored configuration"
    );
    assert_eq!(
        edges[1]["node"]["product"]["inventoryConfiguration"]["minStockQuantity"], 0,
        "a default configuration"
    );
    // SKU 0: 1 unit in one warehouse, 2 less a safety stock of 1 in the other.
    assert_eq!(
        edges[0]["node"]["stock"]["available"], 2,
        "available of the first SKU"
    );
    assert_eq!(
        few_count,
        all_count,
        "first: 500 ran {all_count} statements and first: 5 ran {few_count}.\nfirst: 5: {few_statements:#?}\nfirst: 500: {:#?}",
        &all_statements[..all_statements.len().min(40)]
    );
});

const NODES: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Sku { code } } }";

// NOTE: `nodes` is a list field too, so the same rule applies to it.
both_databases!(nodes_statements_do_not_grow, |app| async move {
    let product = app.create_product("Many").await;
    let mut ids = Vec::with_capacity(100);
    for index in 0..100 {
        ids.push(app.create_sku(&product, &code(index)).await);
    }

    let (few_count, _) = count_statements(app, NODES, json!({ "ids": &ids[..5] })).await;
    let (all_count, all_data) = count_statements(app, NODES, json!({ "ids": ids })).await;
    eprintln!(
        "nodes statements on {:?}: {few_count} for 5 ids, {all_count} for 100",
        app.backend
    );
    assert_eq!(
        all_data["nodes"].as_array().map(Vec::len),
        Some(100),
        "every node resolves"
    );
    assert_eq!(
        few_count, all_count,
        "100 ids ran {all_count} statements and 5 ran {few_count}"
    );
});
