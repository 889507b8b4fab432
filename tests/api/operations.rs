//! Operations: request ids, `/metrics`, CORS and graceful shutdown.

use std::{sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use reqwest::{StatusCode, header::HeaderMap};
use sea_orm::DatabaseTransaction;
use serde_json::{Value, json};
use stockroom::{
    app::Settings,
    http::cors::CorsOrigins,
    service::{
        activities::{ActivityRegistry, LowStockActivity, LowStockCrossing},
        estimates::Titles,
    },
};
use tokio::{sync::Notify, time::Instant};

use crate::{
    helpers::*,
    low_stock_events::low_stock_subscription,
    ws::{Subscriptions, WsMessage, WsProtocol},
};

const SETTINGS: &str = "mutation($input: SetProductInventoryConfigurationInput!) {
    setProductInventoryConfiguration(input: $input) { product { id } } }";

/// A named query that succeeds.
const LIST_WAREHOUSES: &str = "query ListWarehouses { warehouses(first: 1) { nodes { id } } }";

/// A named mutation that fails: the SKU does not exist.
const MISADJUST: &str = "mutation Misadjust($input: AdjustInventoryInput!) {
    adjustInventory(input: $input) { warehouseItem { id } } }";

/// The origin that the CORS tests allow.
const SHOP: &str = "https://shop.example.com";

/// How long a test waits for a gauge to reach a value.
const GAUGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Returns the `http://host:port` of the server.
fn base_url(app: &TestApp) -> String {
    app.graphql_url().trim_end_matches("/graphql").to_owned()
}

/// Posts `query` with extra headers and returns the headers and the JSON body.
async fn post(app: &TestApp, query: &str, variables: Value, headers: &[(&str, &str)]) -> (HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(app.graphql_url())
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": variables }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("POST /graphql");
    let headers = response.headers().clone();
    let body: Value = response.json().await.expect("a JSON body");
    assert_no_internal_text(&body);
    (headers, body)
}

/// Returns the `x-request-id` of a response.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .expect("every response has an x-request-id")
        .to_str()
        .expect("the id is ASCII")
        .to_owned()
}

/// Fetches `GET /metrics` as text.
async fn scrape(app: &TestApp) -> String {
    let response = reqwest::get(format!("{}/metrics", base_url(app))).await.expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK, "GET /metrics");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "content type {content_type}");
    response.text().await.expect("the metrics text")
}

/// Returns the value of the sample `name` whose labels include `labels`, from Prometheus
/// text.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, label_text) = match series.split_once('{') {
            Some((metric, rest)) => (metric, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        let matches = metric == name
            && labels
                .iter()
                .all(|(key, expected)| label_text.split(',').any(|pair| pair == format!("{key}=\"{expected}\"")));
        matches.then(|| value.parse().ok()).flatten()
    })
}

/// Scrapes until the sample reaches `expected`, failing after 10 s.
async fn wait_for_sample(app: &TestApp, name: &str, labels: &[(&str, &str)], expected: f64) {
    let deadline = Instant::now() + GAUGE_TIMEOUT;
    loop {
        let value = sample(&scrape(app).await, name, labels);
        if value == Some(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "{name}{labels:?} is {value:?}, not {expected}, after {GAUGE_TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates a SKU with a low-stock threshold of 5 and `on_hand` units in a new warehouse, and
/// returns the warehouse id.
async fn stock_with_threshold(app: &TestApp, code: &str, on_hand: i64, activity: Option<&str>) -> String {
    let warehouse = app.create_warehouse("Depot").await;
    let product = app.create_product_with_sku(code).await;
    let input = json!({ "input": { "productId": product, "minStockQuantity": 5, "lowStockActivity": activity } });
    app.ok(SETTINGS, input).await;
    app.set_on_hand(code, &warehouse, on_hand).await;
    warehouse
}

// ---------------------------------------------------------------- request ids

both_databases!(response_carries_a_new_request_id, |app| async move {
    let (headers, _) = post(app, "{ __typename }", json!({}), &[]).await;

    let id = request_id(&headers);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a generated id is a UUID: {id}");
});

both_databases!(sent_request_id_is_echoed, |app| async move {
    let (headers, _) = post(app, "{ __typename }", json!({}), &[("x-request-id", "checkout-7f3a")]).await;

    assert_eq!(request_id(&headers), "checkout-7f3a");
});

both_databases!(invalid_request_id_is_replaced, |app| async move {
    let (headers, _) = post(app, "{ __typename }", json!({}), &[("x-request-id", "two words")]).await;

    let id = request_id(&headers);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "an invalid id is replaced by a UUID: {id}");
});

both_databases!(internal_error_carries_the_request_id, |app| async move {
    // A missing table is a failure no input can cause, so it is an internal error.
    app.execute_sql("ALTER TABLE warehouse RENAME TO warehouse_gone").await;

    let (headers, body) = post(app, LIST_WAREHOUSES, json!({}), &[("x-request-id", "ops-internal-1")]).await;

    let extensions = &body["errors"][0]["extensions"];
    assert_eq!(extensions["code"], "INTERNAL", "{}", pretty(&body));
    assert_eq!(extensions["requestId"], "ops-internal-1", "{}", pretty(&body));
    assert!(extensions["errorId"].is_string(), "the error id stays: {}", pretty(&body));
    assert_eq!(request_id(&headers), "ops-internal-1");
});

// ---------------------------------------------------------------- metrics

both_databases!(metrics_count_requests_by_operation_and_outcome, |app| async move {
    post(app, LIST_WAREHOUSES, json!({}), &[]).await;
    let warehouse = app.create_warehouse("Depot").await;
    let input = json!({ "input": { "sku": "NO-SUCH-SKU", "warehouseId": warehouse, "delta": 1 } });
    let failed = app.err(MISADJUST, input).await;

    let text = scrape(app).await;
    let ok = [("operation", "ListWarehouses"), ("type", "query"), ("outcome", "ok")];
    assert_eq!(sample(&text, "stockroom_graphql_requests_total", &ok), Some(1.0), "{text}");
    let failure = [("operation", "Misadjust"), ("type", "mutation"), ("outcome", failed.code.as_str())];
    assert_eq!(sample(&text, "stockroom_graphql_requests_total", &failure), Some(1.0), "{text}");
    let timed = [("operation", "ListWarehouses"), ("type", "query")];
    assert_eq!(sample(&text, "stockroom_graphql_request_duration_seconds_count", &timed), Some(1.0), "{text}");
    let anonymous = [("operation", "(anonymous)"), ("type", "mutation"), ("outcome", "ok")];
    assert_eq!(sample(&text, "stockroom_graphql_requests_total", &anonymous), Some(1.0), "createWarehouse: {text}");
});

both_databases!(metrics_report_the_pool_and_events, |app| async move {
    stock_with_threshold(app, "LAMP-1", 10, None).await;

    let text = scrape(app).await;
    let max = match app.backend {
        Backend::Sqlite => 8.0,
        Backend::Postgres => 20.0,
    };
    assert_eq!(sample(&text, "stockroom_db_pool_max_connections", &[]), Some(max), "{text}");
    let in_use = sample(&text, "stockroom_db_pool_connections", &[("state", "in_use")]).expect("in-use connections");
    let idle = sample(&text, "stockroom_db_pool_connections", &[("state", "idle")]).expect("idle connections");
    assert!(in_use + idle >= 1.0, "the pool has a connection: in use {in_use}, idle {idle}");
    assert!(in_use + idle <= max, "the pool is within its maximum: in use {in_use}, idle {idle}");
    let written = sample(&text, "stockroom_inventory_events_written_total", &[]).expect("events written");
    assert!(written >= 1.0, "setting stock writes events: {written}");
    let responses = sample(&text, "stockroom_http_responses_total", &[("route", "/graphql"), ("status", "200")]);
    assert!(responses.is_some_and(|count| count >= 4.0), "{responses:?}");
});

both_databases!(
    settings = Settings { auth: stockroom::auth::AuthMode::Required, ..Settings::default() },
    metrics_need_no_token,
    |app| async move {
        let text = scrape(app).await;

        assert!(sample(&text, "stockroom_db_pool_max_connections", &[]).is_some(), "{text}");
    }
);

both_databases!(subscriber_gauge_follows_open_subscriptions, |app| async move {
    let mut socket = Subscriptions::connect(&app.graphql_url(), WsProtocol::TransportWs).await;
    wait_for_sample(app, "stockroom_websocket_connections", &[], 1.0).await;

    socket.subscribe("low", &low_stock_subscription(), json!({})).await;
    wait_for_sample(app, "stockroom_subscriptions_active", &[], 1.0).await;

    socket.stop("low").await;
    wait_for_sample(app, "stockroom_subscriptions_active", &[], 0.0).await;

    socket.close().await;
    wait_for_sample(app, "stockroom_websocket_connections", &[], 0.0).await;
});

// ---------------------------------------------------------------- CORS

/// Sends a CORS preflight for a POST from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.graphql_url())
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization,x-request-id")
        .send()
        .await
        .expect("OPTIONS /graphql")
}

both_databases!(
    settings = Settings { cors_origins: CorsOrigins::parse(&[SHOP]).unwrap(), ..Settings::default() },
    preflight_from_an_allowed_origin_is_allowed,
    |app| async move {
        let response = preflight(app, SHOP).await;

        assert!(response.status().is_success(), "status {}", response.status());
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], SHOP);
        let methods = headers["access-control-allow-methods"].to_str().unwrap().to_ascii_uppercase();
        assert!(methods.contains("GET"), "{methods}");
        assert!(methods.contains("POST"), "{methods}");
        let allowed = headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
        for header in ["content-type", "authorization", "x-request-id"] {
            assert!(allowed.contains(header), "{header} in {allowed}");
        }
    }
);

both_databases!(
    settings = Settings { cors_origins: CorsOrigins::parse(&[SHOP]).unwrap(), ..Settings::default() },
    preflight_from_another_origin_is_not_allowed,
    |app| async move {
        let response = preflight(app, "https://elsewhere.example.com").await;

        assert_eq!(response.headers().get("access-control-allow-origin"), None);
    }
);

both_databases!(
    settings = Settings { cors_origins: CorsOrigins::parse(&[SHOP]).unwrap(), ..Settings::default() },
    allowed_origin_can_read_the_request_id,
    |app| async move {
        let (headers, _) = post(app, "{ __typename }", json!({}), &[("origin", SHOP)]).await;

        assert_eq!(headers["access-control-allow-origin"], SHOP);
        let exposed = headers["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
        assert!(exposed.contains("x-request-id"), "{exposed}");
    }
);

both_databases!(
    settings = Settings { cors_origins: CorsOrigins::parse(&["*"]).unwrap(), ..Settings::default() },
    star_allows_any_origin,
    |app| async move {
        let response = preflight(app, "https://anywhere.example.com").await;

        assert_eq!(response.headers()["access-control-allow-origin"], "*");
    }
);

both_databases!(no_cors_headers_by_default, |app| async move {
    let response = preflight(app, SHOP).await;

    assert_eq!(response.headers().get("access-control-allow-origin"), None);
});

// ---------------------------------------------------------------- graceful shutdown

/// A low-stock activity that takes a while, to keep a mutation in flight.
struct Slow {
    started: Arc<Notify>,
}

/// How long [`Slow`] takes.
const SLOW_ACTIVITY: Duration = Duration::from_millis(1500);

impl LowStockActivity for Slow {
    fn key(&self) -> &str {
        "slow"
    }

    fn labels(&self) -> Titles {
        Titles::from([("en_US".to_owned(), "Takes its time".to_owned())])
    }

    fn priority(&self) -> i32 {
        99
    }

    fn run<'a>(&'a self, _txn: &'a DatabaseTransaction, _crossing: &'a LowStockCrossing) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.started.notify_one();
            tokio::time::sleep(SLOW_ACTIVITY).await;
            Ok(())
        })
    }
}

/// Checks that a mutation running when the shutdown starts finishes, and that the server
/// then accepts no new connection.
async fn in_flight_mutation_finishes(backend: Backend) {
    let started = Arc::new(Notify::new());
    let mut activities = ActivityRegistry::default();
    activities.register(Arc::new(Slow { started: Arc::clone(&started) }));
    let app = spawn_app_with(backend, activities).await;
    let outcome = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(async {
        let warehouse = stock_with_threshold(&app, "LAMP-1", 10, Some("slow")).await;

        let api = app.api();
        let input = json!({ "input": { "sku": "LAMP-1", "warehouseId": warehouse, "onHand": 2 } });
        let mutation = tokio::spawn(async move { api.ok(&set_inventory_mutation(), input).await });
        started.notified().await;
        app.stop_server().await;

        let data = mutation.await.expect("the mutation's task");
        assert_eq!(data["setInventory"]["warehouseItem"]["onHand"], 2, "{}", pretty(&data));
        let after_stop = reqwest::Client::new().post(app.graphql_url()).body("{}").send().await;
        assert!(after_stop.is_err(), "a stopped server accepts no connection: {after_stop:?}");
    }))
    .await;
    app.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

mod in_flight_mutation_finishes_at_shutdown {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        in_flight_mutation_finishes(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        in_flight_mutation_finishes(Backend::Postgres).await;
    }
}

both_databases!(shutdown_completes_subscriptions_and_closes, |app| async move {
    let warehouse = stock_with_threshold(app, "LAMP-1", 10, None).await;
    let mut sockets = Vec::new();
    for protocol in [WsProtocol::TransportWs, WsProtocol::LegacyWs] {
        let mut socket = Subscriptions::connect(&app.graphql_url(), protocol).await;
        socket.subscribe("low", &low_stock_subscription(), json!({})).await;
        sockets.push(socket);
    }
    wait_for_sample(app, "stockroom_subscriptions_active", &[], 2.0).await;
    app.set_on_hand("LAMP-1", &warehouse, 2).await;
    let mut seen = Vec::new();
    for socket in &mut sockets {
        seen.push(int(&socket.expect_data("low").await["lowStockEvents"]["sequence"]));
    }

    app.stop_server().await;

    for (socket, seen) in sockets.into_iter().zip(seen) {
        let (messages, frame) = socket.expect_close().await;
        assert!(messages.contains(&WsMessage::Complete { id: "low".to_owned() }), "complete before the close: {messages:?}");
        let frame = frame.expect("the close frame has a code");
        assert_eq!(u16::from(frame.code), 1001, "going away");
        let after = frame
            .reason
            .strip_prefix("server shutting down; reconnect with after: ")
            .unwrap_or_else(|| panic!("the reason says where to resume: {}", frame.reason));
        let after: i64 = after.parse().expect("a sequence");
        assert!(after >= seen, "resuming after {after} misses nothing up to {seen}");
    }
});
