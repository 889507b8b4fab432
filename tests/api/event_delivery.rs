//! Delivery of inventory events: several instances, restarts, slow subscribers and failing
//! low-stock activities.

use std::{sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use stockroom::service::{
    activities::{ActivityRegistry, LowStockActivity, LowStockCrossing},
    estimates::Titles,
};

use crate::{
    helpers::*,
    low_stock_events::{EVENT_FIELDS, low_stock_subscription},
    ws::{Subscriptions, WsProtocol},
};

const SETTINGS: &str = "mutation($input: SetProductInventoryConfigurationInput!) {
    setProductInventoryConfiguration(input: $input) { product { id } } }";

/// Creates `code` with threshold 5 and `on_hand` units in `warehouse`.
async fn stock_sku(api: &Api, code: &str, warehouse: &str, on_hand: i64, activity: Option<&str>) {
    let product = id_at(&api.ok("mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }", json!({ "input": { "name": code } })).await["createProduct"]["product"]);
    api.ok("mutation($input: CreateSkuInput!) { createSku(input: $input) { sku { id } } }", json!({ "input": { "productId": product, "code": code } })).await;
    api.ok(SETTINGS, json!({ "input": { "productId": product, "minStockQuantity": 5, "lowStockActivity": activity } })).await;
    api.ok(&set_inventory_mutation(), json!({ "input": { "sku": code, "warehouseId": warehouse, "onHand": on_hand } })).await;
}

/// Sets on hand through `api`.
async fn set_on_hand(api: &Api, code: &str, warehouse: &str, on_hand: i64) {
    api.ok(&set_inventory_mutation(), json!({ "input": { "sku": code, "warehouseId": warehouse, "onHand": on_hand } })).await;
}

fn event(data: &Value) -> &Value {
    &data["lowStockEvents"]
}

// Two instances on one PostgreSQL database: a change made through one reaches a subscriber of
// the other, in sequence order. SQLite has one instance per database, so this is PostgreSQL only.
#[tokio::test]
async fn other_instance_delivers_events() {
    let app = spawn_app(Backend::Postgres).await;
    let outcome = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(async {
        let warehouse = app.create_warehouse("Depot").await;
        let other = app.spawn_instance().await;
        let mut socket = Subscriptions::connect(&other.graphql_url(), WsProtocol::TransportWs).await;
        socket.subscribe("low", &low_stock_subscription(), json!({})).await;
        tokio::time::sleep(Duration::from_millis(300)).await;

        let api = app.api();
        for code in ["NORTH-1", "NORTH-2", "NORTH-3"] {
            stock_sku(&api, code, &warehouse, 10, None).await;
            set_on_hand(&api, code, &warehouse, 2).await;
        }

        let mut received = Vec::new();
        for _ in 0..3 {
            let data = socket.expect_data("low").await;
            received.push((event(&data)["skuCode"].as_str().unwrap().to_owned(), int(&event(&data)["sequence"])));
        }
        let codes: Vec<&str> = received.iter().map(|(code, _)| code.as_str()).collect();
        assert_eq!(codes, ["NORTH-1", "NORTH-2", "NORTH-3"], "every event, in commit order");
        assert!(received.windows(2).all(|pair| pair[0].1 < pair[1].1), "sequences increase: {received:?}");
        socket.expect_silence(Duration::from_millis(500)).await;
        socket.close().await;
        other.stop().await;
    }))
    .await;
    app.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

// A dashboard that saw one event, then lost its server, gets exactly the events it missed from
// the restarted server.
both_databases!(reconnect_after_restart_replays_missed, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    let api = app.api();
    stock_sku(&api, "LAMP-1", &warehouse, 10, None).await;

    let mut socket = Subscriptions::connect(&app.graphql_url(), WsProtocol::LegacyWs).await;
    socket.subscribe("low", &low_stock_subscription(), json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    set_on_hand(&api, "LAMP-1", &warehouse, 5).await;
    let seen = int(&event(&socket.expect_data("low").await)["sequence"]);
    socket.close().await;
    app.stop_server().await;

    // Changes while the dashboard is away, through a new server.
    let restarted = app.spawn_instance().await;
    set_on_hand(&restarted.api, "LAMP-1", &warehouse, 9).await; // BACK_IN_STOCK
    set_on_hand(&restarted.api, "LAMP-1", &warehouse, 0).await; // LOW_STOCK, OUT_OF_STOCK
    restarted.stop().await;

    let again = app.spawn_instance().await;
    let mut socket = Subscriptions::connect(&again.graphql_url(), WsProtocol::LegacyWs).await;
    socket.subscribe("low", &low_stock_subscription(), json!({ "after": seen })).await;
    let mut kinds = Vec::new();
    for _ in 0..3 {
        kinds.push(event(&socket.expect_data("low").await)["kind"].clone());
    }
    assert_eq!(kinds, ["BACK_IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK"]);
    socket.expect_silence(Duration::from_millis(500)).await;
    socket.close().await;
    again.stop().await;
});

// A subscriber that stops reading while thousands of events pass neither delays a healthy
// subscriber nor loses events: when it reads again, it gets every one in order.
both_databases!(multi_thread, stalled_subscriber_delays_nobody, |app| async move {
    let (channel, warehouses) = app.channel_with_warehouses(1).await;
    let warehouse = warehouses[0].clone();
    let _ = channel;
    let api = app.api();
    stock_sku(&api, "ALERT-1", &warehouse, 10, None).await;
    let mut codes = Vec::new();
    for index in 0..400 {
        let code = format!("BULK-{index}");
        app.create_product_with_sku(&code).await;
        codes.push(code);
    }

    let mut stalled = Subscriptions::connect(&app.graphql_url(), WsProtocol::TransportWs).await;
    stalled.subscribe("all", &format!("subscription {{ stockChanged {{ {EVENT_FIELDS} }} }}"), json!({})).await;
    let mut healthy = Subscriptions::connect(&app.graphql_url(), WsProtocol::TransportWs).await;
    healthy.subscribe("low", &low_stock_subscription(), json!({ "skus": ["ALERT-1"] })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Each round changes 400 items: 400 warehouse and 400 company events, plus 400 channel ones.
    let bulk = bulk_set_inventory_mutation();
    for round in 1..=4 {
        let items: Vec<Value> = codes.iter().map(|code| json!({ "sku": code, "warehouseId": warehouse, "onHand": 100 + round })).collect();
        app.ok(&bulk, json!({ "input": { "items": items } })).await;
    }
    set_on_hand(&api, "ALERT-1", &warehouse, 1).await;
    let alert = healthy.expect_data("low").await;
    assert_eq!(event(&alert)["skuCode"], "ALERT-1");
    assert_eq!(event(&alert)["kind"], "LOW_STOCK");

    // The stalled subscriber reads now: every STOCK_CHANGED of the default scopes, in order.
    let expected = 4 * 400 * 2 + 2;
    let mut last = 0;
    for index in 0..expected {
        let data = stalled.expect_data("all").await;
        let sequence = int(&data["stockChanged"]["sequence"]);
        assert!(sequence > last, "event {index}: sequence {sequence} after {last}");
        last = sequence;
    }
    stalled.expect_silence(Duration::from_millis(500)).await;
    stalled.close().await;
    healthy.close().await;
});

/// An activity that unpublishes the SKU and then fails, to show its own writes are undone.
struct Broken;

impl LowStockActivity for Broken {
    fn key(&self) -> &str {
        "broken"
    }

    fn labels(&self) -> Titles {
        Titles::from([("en_US".to_owned(), "Always fails".to_owned())])
    }

    fn priority(&self) -> i32 {
        99
    }

    fn run<'a>(&'a self, txn: &'a DatabaseTransaction, crossing: &'a LowStockCrossing) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            entity::sku::Entity::update_many()
                .col_expr(entity::sku::Column::Published, Expr::value(false))
                .filter(entity::sku::Column::Id.eq(crossing.sku_id))
                .exec(txn)
                .await?;
            anyhow::bail!("the mail server refused the alert for {}", crossing.sku_code)
        })
    }
}

async fn failing_activity_keeps_change(backend: Backend) {
    let mut activities = ActivityRegistry::default();
    activities.register(Arc::new(Broken));
    let app = spawn_app_with(backend, activities).await;
    let outcome = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(async {
        let warehouse = app.create_warehouse("Depot").await;
        stock_sku(&app.api(), "LAMP-9", &warehouse, 10, Some("broken")).await;

        let listed = app.ok("{ lowStockActivities { key label(locale: \"en_GB\") priority } }", json!({})).await;
        assert!(listed["lowStockActivities"].as_array().unwrap().iter().any(|a| a["key"] == "broken" && a["label"] == "Always fails"), "{}", pretty(&listed));

        app.adjust("LAMP-9", &warehouse, -6).await;

        assert_eq!(app.on_hand("LAMP-9", &warehouse).await, Some(4), "the stock change committed");
        let query = format!("{{ inventoryEvents(filter: {{ kinds: [LOW_STOCK] }}) {{ {EVENT_FIELDS} }} }}");
        let events = app.ok(&query, json!({})).await["inventoryEvents"].as_array().unwrap().clone();
        assert_eq!(events.len(), 1, "{}", pretty(&Value::Array(events.clone())));
        assert_eq!(events[0]["activity"]["key"], "broken");
        assert_eq!(events[0]["activity"]["status"], "FAILED");
        assert!(events[0]["activity"]["error"].as_str().unwrap().contains("mail server refused"), "{}", pretty(&events[0]));
        let sku = app.ok("{ sku(code: \"LAMP-9\") { published } }", json!({})).await;
        assert_eq!(sku["sku"]["published"], true, "the failed activity's own write was undone");
    }))
    .await;
    app.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

mod failing_activity_keeps_change {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        failing_activity_keeps_change(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        failing_activity_keeps_change(Backend::Postgres).await;
    }
}

// Concurrent changes of one SKU in two warehouses report its crossing exactly once, with
// availableBefore and availableAfter one unit apart.
both_databases!(multi_thread, concurrent_changes_cross_once, |app| async move {
    let first = app.create_warehouse("East").await;
    let second = app.create_warehouse("West").await;
    let api = app.api();
    stock_sku(&api, "RUSH-1", &first, 20, None).await;
    set_on_hand(&api, "RUSH-1", &second, 20).await;

    // 40 units, threshold 5: 36 single-unit takes end at 4, crossing at the 35th.
    let mut tasks = Vec::new();
    for index in 0..36 {
        let api = app.api();
        let warehouse = if index % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let input = json!({ "input": { "sku": "RUSH-1", "warehouseId": warehouse, "delta": -1 } });
            api.ok(&adjust_inventory_mutation(), input).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let query = format!("{{ inventoryEvents(filter: {{ kinds: [LOW_STOCK, OUT_OF_STOCK, BACK_IN_STOCK], scopes: [COMPANY] }}) {{ {EVENT_FIELDS} }} }}");
    let events = app.ok(&query, json!({})).await["inventoryEvents"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "{}", pretty(&Value::Array(events.clone())));
    assert_eq!(events[0]["kind"], "LOW_STOCK");
    assert_eq!(int(&events[0]["availableBefore"]), 6);
    assert_eq!(int(&events[0]["availableAfter"]), 5);

    // Every company STOCK_CHANGED reports a distinct total, one unit apart, in sequence order.
    let query = format!("{{ inventoryEvents(first: 500, filter: {{ kinds: [STOCK_CHANGED], scopes: [COMPANY] }}) {{ {EVENT_FIELDS} }} }}");
    let changes = app.ok(&query, json!({})).await["inventoryEvents"].as_array().unwrap().clone();
    let totals: Vec<i64> = changes.iter().map(|e| int(&e["availableAfter"])).collect();
    let expected: Vec<i64> = std::iter::once(20).chain((4..=40).rev()).collect();
    assert_eq!(totals, expected, "company totals in sequence order");
});
