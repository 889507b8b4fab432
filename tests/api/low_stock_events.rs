//! Low-stock events and their subscriptions: each crossing reported once, on every path.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::*,
    ws::{Subscriptions, WsProtocol},
};

const SETTINGS: &str = "mutation($input: SetProductInventoryConfigurationInput!) {
    setProductInventoryConfiguration(input: $input) { product { id } } }";
const BOOK: &str = "mutation($input: BookInventoryInput!) {
    bookInventory(input: $input) { booking { id } } }";
pub const EVENT_FIELDS: &str = "sequence kind scope skuCode warehouseId channelId onHand safetyStock booked
    availableBefore availableAfter threshold occurredAt activity { key status error }";

/// The `lowStockEvents` subscription with every argument as a variable.
pub fn low_stock_subscription() -> String {
    format!(
        "subscription($channelId: ID, $warehouseId: ID, $skus: [String!], $after: Int) {{
            lowStockEvents(channelId: $channelId, warehouseId: $warehouseId, skus: $skus, after: $after) {{ {EVENT_FIELDS} }} }}"
    )
}

/// A product with one SKU, a low-stock threshold and an activity, stocked in one warehouse of
/// one channel. Returns (product id, channel id, warehouse id).
async fn stocked_sku(app: &TestApp, code: &str, threshold: i64, on_hand: i64, activity: Option<&str>) -> (String, String, String) {
    let (channel, warehouses) = app.channel_with_warehouses(1).await;
    let product = app.create_product_with_sku(code).await;
    app.ok(
        SETTINGS,
        json!({ "input": { "productId": product, "minStockQuantity": threshold, "lowStockActivity": activity } }),
    )
    .await;
    app.set_on_hand(code, &warehouses[0], on_hand).await;
    (product, channel, warehouses[0].clone())
}

async fn book(app: &TestApp, channel: &str, sku: &str, quantity: i64) -> String {
    let input = json!({ "input": { "orderReference": "ORDER-1", "channelId": channel, "lines": [{ "sku": sku, "quantity": quantity }] } });
    id_at(&app.ok(BOOK, input).await["bookInventory"]["booking"])
}

async fn low_stock_events(app: &TestApp, after: i64) -> Vec<Value> {
    let query = format!(
        "query($after: Int) {{ inventoryEvents(after: $after, first: 500, filter: {{ kinds: [LOW_STOCK, OUT_OF_STOCK, BACK_IN_STOCK] }}) {{ {EVENT_FIELDS} }} }}"
    );
    app.ok(&query, json!({ "after": after })).await["inventoryEvents"].as_array().unwrap().clone()
}

async fn last_sequence(app: &TestApp) -> i64 {
    let data = app.ok("{ inventoryEvents(first: 500, filter: { scopes: [COMPANY, CHANNEL, WAREHOUSE] }) { sequence } }", json!({})).await;
    data["inventoryEvents"].as_array().unwrap().iter().map(|e| int(&e["sequence"])).max().unwrap_or(0)
}

async fn one_booking_far_below_the_threshold(app: &TestApp, protocol: WsProtocol) {
    let (_, channel, _) = stocked_sku(app, "LAMP-1", 5, 100, Some("unpublish-sku")).await;
    let mut socket = Subscriptions::connect(&app.graphql_url(), protocol).await;
    socket.subscribe("low", &low_stock_subscription(), json!({})).await;
    // Let the subscription reach the server before the change.
    tokio::time::sleep(Duration::from_millis(200)).await;

    book(app, &channel, "LAMP-1", 99).await;

    let low = socket.expect_data("low").await["lowStockEvents"].clone();
    assert_eq!(low["kind"], "LOW_STOCK", "{}", pretty(&low));
    assert_eq!(low["scope"], "COMPANY");
    assert_eq!(low["skuCode"], "LAMP-1");
    assert_eq!(int(&low["availableBefore"]), 100);
    assert_eq!(int(&low["availableAfter"]), 1);
    assert_eq!(int(&low["threshold"]), 5);
    assert_eq!(low["activity"]["key"], "unpublish-sku");
    assert_eq!(low["activity"]["status"], "SUCCEEDED");
    socket.expect_silence(Duration::from_millis(500)).await;
    socket.close().await;

    let published = app.ok("{ sku(code: \"LAMP-1\") { published } }", json!({})).await;
    assert_eq!(published["sku"]["published"], false, "unpublish-sku ran");
}

both_databases!(one_booking_far_below_the_threshold_transport_ws, |app| async move {
    one_booking_far_below_the_threshold(app, WsProtocol::TransportWs).await;
});

both_databases!(one_booking_far_below_the_threshold_legacy_ws, |app| async move {
    one_booking_far_below_the_threshold(app, WsProtocol::LegacyWs).await;
});

// The server reads WebSocket messages 4 KiB at a time; a longer one still arrives whole.
both_databases!(long_subscribe_message_is_read_whole, |app| async move {
    let (_, _, warehouse) = stocked_sku(app, "LAMP-3", 5, 10, None).await;
    let padding = format!("# {}\n", "x".repeat(20_000));
    let query = format!("{padding}{}", low_stock_subscription());
    let mut socket = Subscriptions::connect(&app.graphql_url(), WsProtocol::TransportWs).await;
    socket.subscribe("low", &query, json!({ "after": 0 })).await;
    app.adjust("LAMP-3", &warehouse, -5).await;
    assert_eq!(socket.expect_data("low").await["lowStockEvents"]["skuCode"], "LAMP-3");
    socket.close().await;
});

both_databases!(restock_rearms_and_reconnect_replays, |app| async move {
    let (_, _, warehouse) = stocked_sku(app, "LAMP-2", 5, 10, Some("notify")).await;
    let start = last_sequence(app).await;

    app.adjust("LAMP-2", &warehouse, -5).await; // 5: LOW_STOCK
    app.adjust("LAMP-2", &warehouse, -1).await; // 4: still low, nothing
    app.adjust("LAMP-2", &warehouse, 10).await; // 14: BACK_IN_STOCK
    app.adjust("LAMP-2", &warehouse, -14).await; // 0: LOW_STOCK, OUT_OF_STOCK

    let kinds: Vec<Value> = low_stock_events(app, start).await.iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds, ["LOW_STOCK", "BACK_IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK"]);

    // A subscriber that saw only the first event gets exactly the later ones.
    let first = int(&low_stock_events(app, start).await[0]["sequence"]);
    let mut socket = Subscriptions::connect(&app.graphql_url(), WsProtocol::TransportWs).await;
    socket.subscribe("low", &low_stock_subscription(), json!({ "after": first })).await;
    let mut replayed = Vec::new();
    for _ in 0..3 {
        replayed.push(socket.expect_data("low").await["lowStockEvents"]["kind"].clone());
    }
    assert_eq!(replayed, ["BACK_IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK"]);
    socket.expect_silence(Duration::from_millis(500)).await;

    // And then live ones.
    app.adjust("LAMP-2", &warehouse, 6).await;
    assert_eq!(socket.expect_data("low").await["lowStockEvents"]["kind"], "BACK_IN_STOCK");
    socket.close().await;
});

// Reading the log from before the retained range fails instead of skipping removed events.
both_databases!(events_before_retention_rejected, |app| async move {
    let (_, _, warehouse) = stocked_sku(app, "LAMP-4", 5, 10, None).await;
    app.adjust("LAMP-4", &warehouse, -1).await;
    let last = last_sequence(app).await;
    app.execute_sql(&format!("UPDATE inventory_event_log SET pruned_through = {last}")).await;

    let err = app.err("query($after: Int) { inventoryEvents(after: $after) { sequence } }", json!({ "after": last - 1 })).await;
    assert_eq!(err.code, "INVALID_INPUT");
    assert_eq!(err.field.as_deref(), Some("after"));
    assert!(err.message.contains("removed by the retention policy"), "{}", err.message);

    let data = app.ok("query($after: Int) { inventoryEvents(after: $after) { sequence } }", json!({ "after": last })).await;
    assert_eq!(data["inventoryEvents"], json!([]), "reading from the pruned sequence on works");
});
