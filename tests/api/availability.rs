//! What a storefront shows: the status against the low-stock threshold, the
//! display flags, and when not available the product's estimate with the date open
//! replenishments bring the stock back above the threshold. Also the statement counts of
//! availability lists, and the availability of the imported Liferay Minium data.

use std::{fmt::Write as _, path::Path};

use serde_json::{Value, json};

use crate::{
    estimates::{create_estimate, create_product_with_estimate},
    helpers::*,
    replenishment::{ServerProcess, create_replenishment, utc_dates_around, with_own_database},
};

const CONFIGURE: &str = "mutation($input: SetProductInventoryConfigurationInput!) {
    setProductInventoryConfiguration(input: $input) { product { id } } }";

/// Returns a year two years ahead, so the replenishments of these tests are never overdue. An
/// overdue replenishment counts as due today, which would change the dates they expect.
fn future_year() -> i32 {
    use chrono::Datelike as _;
    chrono::Utc::now().year() + 2
}

/// Returns the date `month_day` (`MM-DD`) of [`future_year`].
fn future_date(month_day: &str) -> String {
    format!("{}-{month_day}", future_year())
}

/// The availability of one SKU, with every field a storefront reads.
const SKU_AVAILABILITY: &str = "query($code: String!, $channel: ID!) {
    sku(code: $code) { availability(channelId: $channel) {
        status quantity displayAvailability displayStockQuantity
        estimate { title italian: title(locale: \"it_IT\") expectedOn availabilityEstimate { id } }
    } } }";

const MANY: &str = "query($skus: [String!]!, $channel: ID!) {
    availability(skus: $skus, channelId: $channel) {
        sku { code } status quantity estimate { title expectedOn } } }";

/// Sets inventory settings of a product from a JSON object of `SetProductInventoryConfigurationInput`
/// fields.
async fn configure(app: &TestApp, product: &str, settings: Value) {
    let mut input = settings;
    input["productId"] = json!(product);
    app.ok(CONFIGURE, json!({ "input": input })).await;
}

/// Reads `Sku.availability` of `code` in `channel`.
async fn availability(app: &TestApp, code: &str, channel: &str) -> Value {
    let data = app
        .ok(
            SKU_AVAILABILITY,
            json!({ "code": code, "channel": channel }),
        )
        .await;
    data["sku"]["availability"].clone()
}

/// A channel with two active linked warehouses and product `A-1`, threshold 5, status shown.
struct Shop {
    channel: String,
    first: String,
    second: String,
    product: String,
}

async fn shop(app: &TestApp) -> Shop {
    let (channel, warehouses) = app.channel_with_warehouses(2).await;
    let product = app.create_product_with_sku("A-1").await;
    configure(
        app,
        &product,
        json!({ "minStockQuantity": 5, "displayAvailability": true }),
    )
    .await;
    Shop {
        channel,
        first: warehouses[0].clone(),
        second: warehouses[1].clone(),
        product,
    }
}

/// Like [`shop`], with product `A-1` pointing at an estimate "3-5 days" / "3-5 giorni".
async fn shop_with_estimate(app: &TestApp) -> (Shop, Value) {
    let (channel, warehouses) = app.channel_with_warehouses(2).await;
    let estimate = create_estimate(app, &[("en_US", "3-5 days"), ("it_IT", "3-5 giorni")], 0).await;
    let product = create_product_with_estimate(app, "Pads", &estimate["id"]).await;
    app.create_sku(&product, "A-1").await;
    configure(
        app,
        &product,
        json!({ "minStockQuantity": 5, "displayAvailability": true }),
    )
    .await;
    let shop = Shop {
        channel,
        first: warehouses[0].clone(),
        second: warehouses[1].clone(),
        product,
    };
    (shop, estimate)
}

// ---------------------------------------------------------------- status and display flags

both_databases!(
    threshold_equal_to_available_is_unavailable,
    |app| async move {
        let shop = shop(app).await;
        app.set_on_hand("A-1", &shop.first, 3).await;
        app.set_on_hand("A-1", &shop.second, 2).await;

        let shown = availability(app, "A-1", &shop.channel).await;
        assert_eq!(
            shown["status"], "UNAVAILABLE",
            "5 available at a threshold of 5: {shown}"
        );
        assert_eq!(shown["displayAvailability"], true, "flag: {shown}");
        assert_eq!(shown["displayStockQuantity"], false, "flag: {shown}");
        assert!(
            shown["quantity"].is_null(),
            "the quantity is hidden without displayStockQuantity: {shown}"
        );
    }
);

both_databases!(above_threshold_is_available, |app| async move {
    let (shop, _) = shop_with_estimate(app).await;
    app.set_on_hand("A-1", &shop.first, 6).await;
    create_replenishment(app, &shop.first, "A-1", 10, &future_date("01-15")).await;

    let shown = availability(app, "A-1", &shop.channel).await;
    assert_eq!(
        shown["status"], "AVAILABLE",
        "6 available at a threshold of 5: {shown}"
    );
    assert!(
        shown["estimate"].is_null(),
        "no estimate while available: {shown}"
    );
});

both_databases!(
    status_hidden_without_display_availability,
    |app| async move {
        let shop = shop(app).await;
        app.set_on_hand("A-1", &shop.first, 6).await;
        configure(
            app,
            &shop.product,
            json!({ "displayAvailability": false, "displayStockQuantity": true }),
        )
        .await;

        let shown = availability(app, "A-1", &shop.channel).await;
        assert!(
            shown["status"].is_null(),
            "the status is hidden without displayAvailability: {shown}"
        );
        assert_eq!(shown["displayAvailability"], false, "flag: {shown}");
        assert_eq!(shown["quantity"], 6, "the quantity is shown: {shown}");
    }
);

both_databases!(status_hidden_when_unavailable_too, |app| async move {
    let shop = shop(app).await;
    configure(app, &shop.product, json!({ "displayAvailability": false })).await;

    let shown = availability(app, "A-1", &shop.channel).await;
    assert!(
        shown["status"].is_null(),
        "an unavailable status is hidden too: {shown}"
    );
});

both_databases!(
    back_orders_with_zero_stock_are_backorderable,
    |app| async move {
        let shop = shop(app).await;
        app.set_on_hand("A-1", &shop.first, 0).await;
        configure(
            app,
            &shop.product,
            json!({ "allowBackOrders": true, "displayStockQuantity": true }),
        )
        .await;

        let shown = availability(app, "A-1", &shop.channel).await;
        assert_eq!(
            shown["status"], "BACKORDERABLE",
            "nothing on hand, back orders on: {shown}"
        );
        assert_eq!(shown["quantity"], 0, "the quantity shown is 0: {shown}");
    }
);

// ---------------------------------------------------------------- estimate and expected date

both_databases!(estimate_shown_when_unavailable, |app| async move {
    let (shop, estimate) = shop_with_estimate(app).await;
    create_replenishment(app, &shop.first, "A-1", 6, &future_date("01-15")).await;

    let shown = availability(app, "A-1", &shop.channel).await;
    assert_eq!(shown["status"], "UNAVAILABLE", "nothing on hand: {shown}");
    let shown_estimate = &shown["estimate"];
    assert_eq!(
        shown_estimate["title"], "3-5 days",
        "the en_US title: {shown}"
    );
    assert_eq!(
        shown_estimate["italian"], "3-5 giorni",
        "the it_IT title: {shown}"
    );
    assert_eq!(
        shown_estimate["expectedOn"], future_date("01-15"),
        "6 units arrive then: {shown}"
    );
    assert_eq!(
        shown_estimate["availabilityEstimate"]["id"], estimate["id"],
        "the product's estimate: {shown}"
    );
});

both_databases!(
    inactive_and_unlinked_warehouses_are_not_counted,
    |app| async move {
        let (shop, _) = shop_with_estimate(app).await;
        let inactive = app.create_warehouse("Closed").await;
        app.link(&inactive, &shop.channel).await;
        let unlinked = app.create_warehouse("Elsewhere").await;
        for warehouse in [&inactive, &unlinked] {
            app.set_on_hand("A-1", warehouse, 50).await;
            create_replenishment(app, warehouse, "A-1", 50, &future_date("01-15")).await;
        }
        let deactivate = "mutation($id: ID!) {
        setWarehouseActive(input: { id: $id, active: false }) { warehouse { id } } }";
        app.ok(deactivate, json!({ "id": inactive })).await;
        configure(app, &shop.product, json!({ "displayStockQuantity": true })).await;

        let shown = availability(app, "A-1", &shop.channel).await;
        assert_eq!(
            shown["status"], "UNAVAILABLE",
            "stock outside the channel's active warehouses does not count: {shown}"
        );
        assert_eq!(
            shown["quantity"], 0,
            "nothing available in the channel: {shown}"
        );
        assert_eq!(
            shown["estimate"]["title"], "3-5 days",
            "the estimate is shown: {shown}"
        );
        assert!(
            shown["estimate"]["expectedOn"].is_null(),
            "replenishments outside the channel's active warehouses bring no date: {shown}"
        );
    }
);

both_databases!(second_replenishment_crosses_threshold, |app| async move {
    let (shop, _) = shop_with_estimate(app).await;
    app.set_on_hand("A-1", &shop.first, 2).await;
    // Created out of date order: 2 + 2 = 4 on the 5th, 4 + 3 = 7 > 5 on the 10th.
    create_replenishment(app, &shop.second, "A-1", 3, &future_date("01-10")).await;
    create_replenishment(app, &shop.first, "A-1", 2, &future_date("01-05")).await;

    let shown = availability(app, "A-1", &shop.channel).await;
    assert_eq!(
        shown["estimate"]["expectedOn"], future_date("01-10"),
        "only the second item takes 2 above the threshold of 5: {shown}"
    );
});

both_databases!(
    received_units_no_longer_count_as_incoming,
    |app| async move {
        let (shop, _) = shop_with_estimate(app).await;
        let early = create_replenishment(app, &shop.first, "A-1", 4, &future_date("01-05")).await;
        create_replenishment(app, &shop.first, "A-1", 2, &future_date("01-10")).await;
        let receive = "mutation($id: ID!) {
        receiveReplenishment(input: { id: $id }) { replenishment { open } } }";
        app.ok(receive, json!({ "id": early["id"] })).await;

        let shown = availability(app, "A-1", &shop.channel).await;
        assert_eq!(
            shown["estimate"]["expectedOn"], future_date("01-10"),
            "4 on hand plus 2 on the 10th is above 5: {shown}"
        );
    }
);

both_databases!(overdue_replenishment_counts_as_today, |app| async move {
    let (shop, _) = shop_with_estimate(app).await;
    create_replenishment(app, &shop.first, "A-1", 10, "2020-01-01").await;

    let (before, shown, after) = utc_dates_around(availability(app, "A-1", &shop.channel)).await;
    let expected_on = shown["estimate"]["expectedOn"].as_str().unwrap_or("none");
    assert!(
        expected_on == before || expected_on == after,
        "an overdue item is expected today, {before} in UTC, got {expected_on}: {shown}"
    );
});

both_databases!(insufficient_replenishments_give_no_date, |app| async move {
    let (shop, _) = shop_with_estimate(app).await;
    create_replenishment(app, &shop.first, "A-1", 2, &future_date("01-05")).await;
    create_replenishment(app, &shop.second, "A-1", 3, &future_date("01-10")).await;

    let shown = availability(app, "A-1", &shop.channel).await;
    assert!(
        shown["estimate"]["expectedOn"].is_null(),
        "5 incoming only reaches the threshold of 5: {shown}"
    );
    assert_eq!(
        shown["estimate"]["title"], "3-5 days",
        "the title is still shown: {shown}"
    );
});

both_databases!(no_estimate_and_no_date_shows_none, |app| async move {
    let shop = shop(app).await;
    let shown = availability(app, "A-1", &shop.channel).await;
    assert_eq!(shown["status"], "UNAVAILABLE", "nothing on hand: {shown}");
    assert!(
        shown["estimate"].is_null(),
        "neither an estimate nor a date: {shown}"
    );
});

both_databases!(date_without_estimate_is_shown, |app| async move {
    let shop = shop(app).await;
    create_replenishment(app, &shop.first, "A-1", 6, &future_date("01-15")).await;
    let shown = availability(app, "A-1", &shop.channel).await;
    assert_eq!(
        shown["estimate"]["expectedOn"], future_date("01-15"),
        "the date is shown without an estimate: {shown}"
    );
    assert!(
        shown["estimate"]["title"].is_null(),
        "no title without an estimate: {shown}"
    );
});

// ---------------------------------------------------------------- many SKUs, unknown ids

both_databases!(unknown_sku_is_null_with_not_found, |app| async move {
    let shop = shop(app).await;
    app.create_product_with_sku("A-2").await;
    app.set_on_hand("A-1", &shop.first, 9).await;

    let body = app
        .gql(
            MANY,
            json!({ "skus": ["a-2", "NOPE", "A-1"], "channel": shop.channel }),
        )
        .await;
    let list = &body["data"]["availability"];
    assert_eq!(list[0]["sku"]["code"], "A-2", "in the order asked: {body}");
    assert!(list[1].is_null(), "the unknown SKU is null: {body}");
    assert_eq!(list[2]["sku"]["code"], "A-1", "in the order asked: {body}");
    assert_eq!(
        list[2]["status"], "AVAILABLE",
        "the known SKU resolves: {body}"
    );

    let errors = body["errors"].as_array().expect("an error list");
    assert_eq!(errors.len(), 1, "one error: {body}");
    let err = api_error(&errors[0]);
    assert_eq!(err.code, "NOT_FOUND", "code: {err:?}");
    assert!(
        err.message.contains("NOPE"),
        "the message names the SKU: {err:?}"
    );
    assert_eq!(
        errors[0]["path"],
        json!(["availability", 1]),
        "the error points at position 1: {body}"
    );
});

both_databases!(unknown_channel_is_not_found, |app| async move {
    let shop = shop(app).await;
    let missing = missing_id("Channel");
    let cases = [
        (
            MANY,
            json!({ "skus": ["A-1"], "channel": missing }),
            "NOT_FOUND",
        ),
        (
            SKU_AVAILABILITY,
            json!({ "code": "A-1", "channel": missing }),
            "NOT_FOUND",
        ),
        (
            MANY,
            json!({ "skus": ["A-1"], "channel": shop.first }),
            "INVALID_INPUT",
        ),
        (
            SKU_AVAILABILITY,
            json!({ "code": "A-1", "channel": "garbage" }),
            "INVALID_INPUT",
        ),
    ];
    for (query, variables, code) in cases {
        let err = app.err(query, variables.clone()).await;
        assert_eq!(err.code, code, "channel of {variables}: {err:?}");
        assert_eq!(
            err.field.as_deref(),
            Some("channelId"),
            "field for {variables}: {err:?}"
        );
    }
});

// ---------------------------------------------------------------- statement counts

const SEEDED: usize = 200;

fn seeded_code(index: usize) -> String {
    format!("AV-{index:03}")
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

/// Seeds 200 SKUs, each of its own product, in a channel with two active warehouses and one
/// inactive one, and returns the channel id. Every product has threshold 5 and shows its
/// status, and two thirds of them point at one of two estimates. On hand cycles through 0, 5
/// and 10, and every SKU has an open replenishment.
async fn seed(app: &TestApp) -> String {
    let (channel, warehouses) = app.channel_with_warehouses(2).await;
    let inactive = app.create_inactive_warehouse("Closed").await;
    app.link(&inactive, &channel).await;
    let estimates = [
        create_estimate(app, &[("en_US", "3-5 days")], 0).await["id"].clone(),
        create_estimate(app, &[("en_US", "5-7 days")], 1).await["id"].clone(),
    ];

    let indexes: Vec<usize> = (0..SEEDED).collect();
    let mut products = Vec::with_capacity(SEEDED);
    for chunk in indexes.chunks(100) {
        let fields: Vec<String> = chunk
            .iter()
            .map(|index| {
                let estimate = match index % 3 {
                    2 => String::new(),
                    pick => format!(", availabilityEstimateId: {}", estimates[pick]),
                };
                format!(
                    "createProduct(input: {{ name: \"Product {index}\"{estimate} }}) {{ product {{ id }} }}"
                )
            })
            .collect();
        let data = aliased(app, &fields).await;
        products.extend((0..chunk.len()).map(|at| id_at(&data[format!("m{at}")]["product"])));
    }
    // Four aliased mutations per SKU, and the server takes at most 100 aliases per request
    // (--max-query-aliases).
    let year = future_year();
    for chunk in indexes.chunks(25) {
        let fields: Vec<String> = chunk
            .iter()
            .flat_map(|index| {
                let product = &products[*index];
                let code = seeded_code(*index);
                let warehouse = &warehouses[index % 2];
                let day = index % 28 + 1;
                [
                    format!("createSku(input: {{ productId: \"{product}\", code: \"{code}\" }}) {{ sku {{ id }} }}"),
                    format!(
                        "setProductInventoryConfiguration(input: {{ productId: \"{product}\", minStockQuantity: 5, displayAvailability: true }}) {{ product {{ id }} }}"
                    ),
                    format!(
                        "createReplenishment(input: {{ warehouseId: \"{warehouse}\", sku: \"{code}\", quantity: {}, expectedOn: \"{year}-02-{day:02}\" }}) {{ replenishment {{ id }} }}",
                        index % 7 + 1
                    ),
                    format!(
                        "setInventory(input: {{ sku: \"{code}\", warehouseId: \"{warehouse}\", onHand: {} }}) {{ warehouseItem {{ id }} }}",
                        (index % 3) * 5
                    ),
                ]
            })
            .collect();
        aliased(app, &fields).await;
    }
    channel
}

/// Runs `query` after resetting the counter, and returns the statement count and the data.
async fn count_statements(app: &TestApp, query: &str, variables: Value) -> (usize, Value) {
    app.statements.reset();
    let data = app.ok(query, variables).await;
    (app.statements.count(), data)
}

/// Fails with both statement lists when the counts differ.
fn assert_same_count(what: &str, few: (usize, Vec<String>), all: (usize, Vec<String>)) {
    assert_eq!(
        few.0,
        all.0,
        "{what}: {SEEDED} SKUs ran {} statements and 5 ran {}.\n5 SKUs: {:#?}\n{SEEDED} SKUs: {:#?}",
        all.0,
        few.0,
        few.1,
        &all.1[..all.1.len().min(40)]
    );
}

/// Stock of Minium SKUs in a channel, per warehouse.
const MINIUM_STOCK: &str = "query($skus: [String!]!, $channel: ID!) {
    stock(skus: $skus, channelId: $channel) {
        sku { code } onHand available byWarehouse { warehouse { name } onHand } } }";

const MANY_WITH_ESTIMATES: &str = "query($skus: [String!]!, $channel: ID!) {
    availability(skus: $skus, channelId: $channel) {
        status quantity estimate { title expectedOn availabilityEstimate { id priority } } } }";

const SKUS_PAGE: &str = "query($first: Int, $channel: ID!) {
    skus(first: $first) { edges { node {
        code availability(channelId: $channel) { status estimate { title expectedOn } } } } } }";

both_databases!(availability_list_statements_do_not_grow, |app| async move {
    let channel = seed(app).await;
    let few: Vec<String> = (0..5).map(|index| seeded_code(index * 37)).collect();
    let all: Vec<String> = (0..SEEDED).map(seeded_code).collect();

    let (few_count, _) = count_statements(
        app,
        MANY_WITH_ESTIMATES,
        json!({ "skus": few, "channel": channel }),
    )
    .await;
    let few_statements = app.statements.statements();
    let (all_count, all_data) = count_statements(
        app,
        MANY_WITH_ESTIMATES,
        json!({ "skus": all, "channel": channel }),
    )
    .await;
    let all_statements = app.statements.statements();
    eprintln!(
        "availability statements on {:?}: {few_count} for 5 SKUs, {all_count} for {SEEDED}",
        app.backend
    );

    let list = all_data["availability"].as_array().expect("a list");
    assert_eq!(list.len(), SEEDED, "one availability per SKU");
    // SKU 0: nothing on hand, 1 incoming, first estimate.
    assert_eq!(list[0]["status"], "UNAVAILABLE", "SKU 0: {}", list[0]);
    assert_eq!(
        list[0]["estimate"]["title"], "3-5 days",
        "SKU 0: {}",
        list[0]
    );
    // SKU 2: 10 on hand.
    assert_eq!(list[2]["status"], "AVAILABLE", "SKU 2: {}", list[2]);
    // SKU 6: nothing on hand, 7 incoming on February 7th, first estimate.
    assert_eq!(
        list[6]["estimate"]["expectedOn"], future_date("02-07"),
        "SKU 6: {}",
        list[6]
    );
    assert_same_count(
        "availability(skus:)",
        (few_count, few_statements),
        (all_count, all_statements),
    );
});

both_databases!(
    skus_page_availability_statements_do_not_grow,
    |app| async move {
        let channel = seed(app).await;

        let (few_count, few_data) =
            count_statements(app, SKUS_PAGE, json!({ "first": 5, "channel": channel })).await;
        let few_statements = app.statements.statements();
        let (all_count, all_data) = count_statements(
            app,
            SKUS_PAGE,
            json!({ "first": SEEDED, "channel": channel }),
        )
        .await;
        let all_statements = app.statements.statements();
        eprintln!(
            "skus page availability statements on {:?}: {few_count} for first: 5, {all_count} for first: {SEEDED}",
            app.backend
        );

        assert_eq!(
            few_data["skus"]["edges"].as_array().map(Vec::len),
            Some(5),
            "the small page"
        );
        let edges = all_data["skus"]["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), SEEDED, "the page holds every SKU");
        assert_eq!(
            edges[1]["node"]["availability"]["estimate"]["title"], "5-7 days",
            "SKU 1 shows the second estimate: {}",
            edges[1]
        );
        assert_same_count(
            "skus { availability }",
            (few_count, few_statements),
            (all_count, all_statements),
        );
    }
);

// ---------------------------------------------------------------- Liferay Minium

/// Imports the Minium files into a database of the test's own and reads the storefront
/// availability of three SKUs through a server process on it.
async fn minium_availability(backend: Backend) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/liferay-minium");
    if !data.join("products.json").exists() {
        println!(
            "skipping the Minium availability test: {} is absent",
            data.display()
        );
        return;
    }
    with_own_database(backend, |url| async move {
        let db = stockroom::db::Db::connect(&url).await.expect("connects");
        db.migrate().await.expect("migrates");
        let files = stockroom::import::LiferayFiles {
            warehouses: data.join("warehouses.json"),
            products: data.join("products.json"),
        };
        if let Err(err) = stockroom::import::liferay(&db, &files, "Minium Portal").await {
            panic!("the Minium import failed: {err}");
        }
        let _ = db.conn().clone().close().await;

        let server = ServerProcess::start(&url, "UTC").await;
        let channels = server
            .ok(
                "query { channels(first: 50) { nodes { id name } } }",
                json!({}),
            )
            .await;
        let channel = channels["channels"]["nodes"]
            .as_array()
            .expect("a list")
            .iter()
            .find(|c| c["name"] == "Minium Portal")
            .map(|c| c["id"].clone())
            .unwrap_or_else(|| panic!("no Minium Portal channel in {channels}"));
        let data = server
            .ok(
                MANY,
                json!({ "skus": ["MIN77822", "MIN00681", "MIN93015"], "channel": channel }),
            )
            .await;
        let stock = server
            .ok(
                MINIUM_STOCK,
                json!({ "skus": ["MIN00681", "MIN93015"], "channel": channel }),
            )
            .await;
        server.stop().await;

        // The imported quantities, as the `stock` query a new user runs in GraphiQL shows
        // them: warehouses.json names the warehouses, products.json gives Warehouse1..3.
        let by_warehouse = |summary: &Value| -> Vec<(String, i64)> {
            let mut rows: Vec<(String, i64)> = summary["byWarehouse"]
                .as_array()
                .expect("a list")
                .iter()
                .map(|row| (row["warehouse"]["name"].as_str().unwrap_or_default().to_owned(), row["onHand"].as_i64().unwrap_or(-1)))
                .collect();
            rows.sort();
            rows
        };
        let summaries = &stock["stock"];
        assert_eq!(summaries[0]["onHand"], 3, "MIN00681 on hand: {stock}");
        assert_eq!(
            by_warehouse(&summaries[0]),
            [("Italy".to_owned(), 0), ("United States - Northeast".to_owned(), 3), ("United States - Southwest".to_owned(), 0)],
            "MIN00681 per warehouse: {stock}"
        );
        assert_eq!(summaries[1]["onHand"], 140, "MIN93015 on hand: {stock}");
        assert_eq!(summaries[1]["available"], 140, "MIN93015 available, no safety stock or bookings: {stock}");
        assert_eq!(
            by_warehouse(&summaries[1]),
            [("Italy".to_owned(), 20), ("United States - Northeast".to_owned(), 60), ("United States - Southwest".to_owned(), 60)],
            "MIN93015 per warehouse: {stock}"
        );

        let list = &data["availability"];
        // Every Minium product has threshold 5 and back orders, status and quantity on, so an
        // SKU at or below 5 is BACKORDERABLE rather than UNAVAILABLE.
        assert_eq!(
            list[0]["status"], "BACKORDERABLE",
            "MIN77822 has nothing anywhere and allows back orders: {data}"
        );
        assert_eq!(list[0]["quantity"], 0, "MIN77822 shows 0: {data}");
        assert_eq!(
            list[0]["estimate"]["title"], "3-5 days",
            "MIN77822 is not available, so its product's imported estimate is shown: {data}"
        );
        assert_eq!(
            list[1]["status"], "BACKORDERABLE",
            "MIN00681 has 3, at most the threshold of 5: {data}"
        );
        assert_eq!(list[1]["quantity"], 3, "MIN00681 shows 3: {data}");
        assert_eq!(
            list[2]["status"], "AVAILABLE",
            "MIN93015 has 60 + 60 + 20: {data}"
        );
        assert_eq!(list[2]["quantity"], 140, "MIN93015 shows 140: {data}");
        assert!(list[2]["estimate"].is_null(), "an available SKU shows no estimate: {data}");
    })
    .await;
}

mod minium_storefront_availability {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        minium_availability(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        minium_availability(Backend::Postgres).await;
    }
}
