//! Tests of the HTTP routes against a real server on 127.0.0.1 with a small
//! schema. `tests/http-audit/` covers the rest of the GraphQL-over-HTTP rules.

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::Duration,
};

use async_graphql::{
    Context, EmptySubscription, Object, Result as GraphQLResult, Schema, Subscription,
};
use futures_util::{SinkExt, Stream, StreamExt};
use reqwest::{Client, StatusCode, header};
use serde_json::{Value as JsonValue, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use super::graphql_routes;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

struct QueryRoot;

#[Object]
impl QueryRoot {
    async fn hello(&self) -> &str {
        "world"
    }

    /// A nullable field whose resolver fails.
    async fn failing(&self) -> GraphQLResult<Option<String>> {
        Err("failing resolver".into())
    }

    /// A non-null field whose resolver fails, so `data` becomes null.
    async fn failing_non_null(&self) -> GraphQLResult<String> {
        Err("failing resolver".into())
    }

    async fn counter(&self, context: &Context<'_>) -> i64 {
        context.data_unchecked::<AtomicI64>().load(Ordering::SeqCst)
    }
}

struct MutationRoot;

#[Object]
impl MutationRoot {
    async fn increment(&self, context: &Context<'_>) -> i64 {
        context
            .data_unchecked::<AtomicI64>()
            .fetch_add(1, Ordering::SeqCst)
            + 1
    }
}

struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    async fn ticks(&self, count: u32) -> impl Stream<Item = u32> {
        futures_util::stream::iter(1..=count)
    }
}

/// Starts a server with the test schema and returns its base URL.
async fn start_server() -> String {
    let schema = Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(AtomicI64::new(0))
        .finish();
    start_server_with(graphql_routes(schema)).await
}

async fn start_server_with(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// Sends a POST with a JSON body and the given `Accept` header, if any.
async fn post(base: &str, accept: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = Client::new()
        .post(format!("{base}/graphql"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    request.send().await.unwrap()
}

async fn get(base: &str, accept: Option<&str>, parameters: &[(&str, &str)]) -> reqwest::Response {
    let mut request = Client::new()
        .get(format!("{base}/graphql"))
        .query(parameters);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    request.send().await.unwrap()
}

fn content_type(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .map_or("", |value| value.to_str().unwrap())
}

/// Returns the message of the only error in a response body.
fn only_error_message(body: &JsonValue) -> &str {
    let errors = body["errors"]
        .as_array()
        .expect("body has an `errors` array");
    assert_eq!(errors.len(), 1, "errors: {errors:?}");
    errors[0]["message"].as_str().expect("error has a message")
}

#[tokio::test]
async fn post_query_as_graphql_response_json() {
    let base = start_server().await;

    let response = post(
        &base,
        Some("application/graphql-response+json"),
        r#"{"query": "{ hello }"}"#,
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), GRAPHQL_RESPONSE_JSON);
    assert_eq!(
        response.json::<JsonValue>().await.unwrap(),
        json!({"data": {"hello": "world"}})
    );
}

#[tokio::test]
async fn post_without_accept_uses_json() {
    let base = start_server().await;

    let response = post(&base, None, r#"{"query": "{ hello }"}"#).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), JSON);
}

#[tokio::test]
async fn post_unacceptable_accept_is_406() {
    let base = start_server().await;

    let response = post(&base, Some("text/html"), r#"{"query": "{ hello }"}"#).await;

    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
    let body: JsonValue = response.json().await.unwrap();
    assert!(only_error_message(&body).contains("`text/html`"));
}

#[tokio::test]
async fn post_unsupported_content_type_is_415() {
    let base = start_server().await;
    let client = Client::new();
    let url = format!("{base}/graphql");

    let missing = client
        .post(&url)
        .body(r#"{"query": "{ hello }"}"#)
        .send()
        .await
        .unwrap();
    let text_plain = client
        .post(&url)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(r#"{"query": "{ hello }"}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(missing.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(text_plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(text_plain.headers()["accept-post"], "application/json");
    let body: JsonValue = missing.json().await.unwrap();
    assert!(only_error_message(&body).starts_with("The Content-Type header is missing."));
}

#[tokio::test]
async fn post_malformed_requests_are_400() {
    let base = start_server().await;
    let cases = [
        ("", "The request body is empty."),
        (r#"{ "not a JSON"#, "The request body is not valid JSON: "),
        (
            r#"{"notquery": "{ hello }"}"#,
            "The `query` parameter is missing.",
        ),
        (
            r#"{"query": 1}"#,
            "The `query` parameter must be a string, but it is a number.",
        ),
        (
            r#"{"query": "{ hello }", "variables": "x"}"#,
            "The `variables` parameter must be a JSON object",
        ),
    ];

    for accept in ["application/json", "application/graphql-response+json"] {
        for (body, expected_start) in cases {
            let response = post(&base, Some(accept), body).await;

            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "body {body:?}, Accept {accept}"
            );
            let body_json: JsonValue = response.json().await.unwrap();
            assert!(
                body_json.get("data").is_none(),
                "body {body:?} gave {body_json}"
            );
            let message = only_error_message(&body_json);
            assert!(
                message.starts_with(expected_start),
                "body {body:?} gave message {message:?}"
            );
        }
    }
}

#[tokio::test]
async fn request_errors_status_depends_on_accept() {
    let base = start_server().await;
    let cases = [
        ("parse error", r#"{"query": "{"}"#),
        ("validation error", r#"{"query": "{ noSuchField }"}"#),
        (
            "variable coercion error",
            r#"{"query": "query Q($id: ID!) { hello }", "variables": {"id": null}}"#,
        ),
        (
            "unknown operation",
            r#"{"query": "query A { hello }", "operationName": "B"}"#,
        ),
    ];

    for (case, body) in cases {
        let strict = post(&base, Some("application/graphql-response+json"), body).await;
        let legacy = post(&base, Some("application/json"), body).await;

        assert_eq!(strict.status(), StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(legacy.status(), StatusCode::OK, "{case}");
        for response in [strict, legacy] {
            let body_json: JsonValue = response.json().await.unwrap();
            assert!(body_json.get("data").is_none(), "{case} gave {body_json}");
            assert!(
                body_json["errors"]
                    .as_array()
                    .is_some_and(|errors| !errors.is_empty()),
                "{case}"
            );
        }
    }
}

#[tokio::test]
async fn field_error_keeps_data_and_200() {
    let base = start_server().await;

    let response = post(
        &base,
        Some("application/graphql-response+json"),
        r#"{"query": "{ hello failing }"}"#,
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: JsonValue = response.json().await.unwrap();
    // async-graphql 7.2 leaves the failed nullable field out of `data`.
    assert_eq!(body["data"]["hello"], "world");
    assert_eq!(body["errors"][0]["path"], json!(["failing"]));
}

#[tokio::test]
async fn non_null_root_error_keeps_null_data() {
    let base = start_server().await;

    let response = post(
        &base,
        Some("application/graphql-response+json"),
        r#"{"query": "{ failingNonNull }"}"#,
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: JsonValue = response.json().await.unwrap();
    assert_eq!(body.get("data"), Some(&JsonValue::Null));
    assert_eq!(body["errors"][0]["path"], json!(["failingNonNull"]));
}

#[tokio::test]
async fn post_mutation_runs() {
    let base = start_server().await;

    let response = post(&base, None, r#"{"query": "mutation { increment }"}"#).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<JsonValue>().await.unwrap(),
        json!({"data": {"increment": 1}})
    );
}

#[tokio::test]
async fn post_batch_runs_in_order() {
    let base = start_server().await;
    let body = r#"[{"query": "mutation { increment }"}, {"query": "{ counter }"}, {"query": "{"}]"#;

    let response = post(&base, Some("application/graphql-response+json"), body).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: JsonValue = response.json().await.unwrap();
    assert_eq!(body[0], json!({"data": {"increment": 1}}));
    assert_eq!(body[1], json!({"data": {"counter": 1}}));
    assert!(
        body[2].get("data").is_none(),
        "parse error entry: {}",
        body[2]
    );
}

#[tokio::test]
async fn post_batch_with_invalid_entry_is_400() {
    let base = start_server().await;

    let response = post(
        &base,
        None,
        r#"[{"query": "{ hello }"}, {"variables": {}}]"#,
    )
    .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: JsonValue = response.json().await.unwrap();
    assert!(only_error_message(&body).starts_with("Request 1 of the batch is invalid."));
}

#[tokio::test]
async fn get_query_runs() {
    let base = start_server().await;

    let response = get(
        &base,
        None,
        &[
            ("query", "query Q($x: Boolean!) { hello @include(if: $x) }"),
            ("variables", r#"{"x": true}"#),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(&response), JSON);
    assert_eq!(response.headers()[header::VARY], "accept");
    assert_eq!(
        response.json::<JsonValue>().await.unwrap(),
        json!({"data": {"hello": "world"}})
    );
}

#[tokio::test]
async fn get_mutation_is_405_with_allow_post() {
    let base = start_server().await;
    let document = "query Read { counter } mutation Write { increment }";
    let cases: [&[(&str, &str)]; 3] = [
        &[("query", "mutation { increment }")],
        &[("query", "mutation Write { increment }")],
        &[("query", document), ("operationName", "Write")],
    ];

    for parameters in cases {
        let response = get(&base, Some("application/graphql-response+json"), parameters).await;

        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{parameters:?}"
        );
        assert_eq!(response.headers()[header::ALLOW], "POST", "{parameters:?}");
        let body: JsonValue = response.json().await.unwrap();
        assert!(
            only_error_message(&body).contains("Send mutations with POST"),
            "{parameters:?}"
        );
    }

    // The mutation must not have run.
    let response = get(
        &base,
        None,
        &[("query", document), ("operationName", "Read")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<JsonValue>().await.unwrap(),
        json!({"data": {"counter": 0}})
    );
}

#[tokio::test]
async fn get_without_query_is_400() {
    let base = start_server().await;

    let response = get(&base, None, &[]).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: JsonValue = response.json().await.unwrap();
    assert!(only_error_message(&body).starts_with("The `query` parameter is missing."));
}

#[tokio::test]
async fn subscription_over_http_is_request_error() {
    let base = start_server().await;

    let get_response = get(
        &base,
        Some("application/graphql-response+json"),
        &[("query", "subscription { ticks(count: 1) }")],
    )
    .await;
    let post_response = post(
        &base,
        Some("application/graphql-response+json"),
        r#"{"query": "subscription { ticks(count: 1) }"}"#,
    )
    .await;

    for response in [get_response, post_response] {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: JsonValue = response.json().await.unwrap();
        assert!(
            only_error_message(&body).starts_with("Subscriptions are not served over plain HTTP.")
        );
    }
}

#[tokio::test]
async fn other_methods_are_405() {
    let base = start_server().await;

    let response = Client::new()
        .put(format!("{base}/graphql"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "GET,HEAD,POST");
    let body: JsonValue = response.json().await.unwrap();
    assert!(only_error_message(&body).starts_with("The PUT method is not allowed here."));
}

#[tokio::test]
async fn schema_without_subscriptions_serves_queries() {
    let schema = Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .data(AtomicI64::new(0))
        .finish();
    let base = start_server_with(graphql_routes(schema)).await;

    let response = post(&base, None, r#"{"query": "{ hello }"}"#).await;

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn graphiql_page_and_assets() {
    let base = start_server().await;
    let client = Client::new();

    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(content_type(&page), "text/html; charset=utf-8");
    let html = page.text().await.unwrap();

    let asset_paths = super::graphiql::asset_paths();
    if cfg!(stockroom_graphiql) {
        assert_eq!(asset_paths.len(), 4);
        assert!(html.contains("GraphiQL.createFetcher"));
        assert!(!html.contains("{{"), "unfilled placeholder in page");
    } else {
        assert!(html.contains("GraphiQL was not built"));
    }
    for path in asset_paths {
        assert!(html.contains(&path), "page does not link {path}");
        let asset = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(asset.status(), StatusCode::OK, "{path}");
        assert_eq!(
            asset.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let expected_type = if path.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        assert_eq!(content_type(&asset), expected_type, "{path}");
        assert!(!asset.bytes().await.unwrap().is_empty(), "{path}");
    }

    let missing = client
        .get(format!("{base}/graphiql/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// Opens a WebSocket to `/graphql` offering `protocols`, and returns the
/// socket and the subprotocol the server selected.
async fn connect_websocket(
    base: &str,
    protocols: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    String,
) {
    let url = format!("{}/graphql", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(protocols).unwrap(),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    let selected = response.headers()["sec-websocket-protocol"]
        .to_str()
        .unwrap()
        .to_owned();
    (socket, selected)
}

/// Receives JSON text messages until one has `type` equal to `until`, and
/// returns all of them, skipping keep-alive messages.
async fn receive_until<S>(socket: &mut S, until: &str) -> Vec<JsonValue>
where
    S: Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut messages = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), socket.next()).await;
        let message = next
            .expect("no WebSocket message within 5 s")
            .expect("WebSocket closed")
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let json: JsonValue = serde_json::from_str(&text).unwrap();
        if json["type"] == "ka" {
            continue;
        }
        let done = json["type"] == until;
        messages.push(json);
        if done {
            return messages;
        }
    }
}

#[tokio::test]
async fn websocket_graphql_transport_ws() {
    let base = start_server().await;
    let (mut socket, selected) = connect_websocket(&base, "graphql-transport-ws").await;
    assert_eq!(selected, "graphql-transport-ws");

    socket
        .send(Message::text(
            json!({"type": "connection_init"}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(receive_until(&mut socket, "connection_ack").await.len(), 1);
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { ticks(count: 2) }"}});
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    let messages = receive_until(&mut socket, "complete").await;

    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(
        messages[0],
        json!({"id": "1", "type": "next", "payload": {"data": {"ticks": 1}}})
    );
    assert_eq!(
        messages[1],
        json!({"id": "1", "type": "next", "payload": {"data": {"ticks": 2}}})
    );
}

#[tokio::test]
async fn websocket_legacy_graphql_ws() {
    let base = start_server().await;
    // The client lists the legacy protocol first, so the server must pick it.
    let (mut socket, selected) = connect_websocket(&base, "graphql-ws, graphql-transport-ws").await;
    assert_eq!(selected, "graphql-ws");

    socket
        .send(Message::text(
            json!({"type": "connection_init"}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(receive_until(&mut socket, "connection_ack").await.len(), 1);
    let start = json!({"id": "1", "type": "start", "payload": {"query": "subscription { ticks(count: 2) }"}});
    socket.send(Message::text(start.to_string())).await.unwrap();
    let messages = receive_until(&mut socket, "complete").await;

    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(
        messages[0],
        json!({"id": "1", "type": "data", "payload": {"data": {"ticks": 1}}})
    );
    assert_eq!(
        messages[1],
        json!({"id": "1", "type": "data", "payload": {"data": {"ticks": 2}}})
    );
}

#[tokio::test]
async fn websocket_without_graphql_protocol_is_400() {
    let base = start_server().await;
    let response = Client::new()
        .get(format!("{base}/graphql"))
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
        .header(header::SEC_WEBSOCKET_PROTOCOL, "chat")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: JsonValue = response.json().await.unwrap();
    assert!(
        only_error_message(&body)
            .starts_with("The WebSocket subprotocols `chat` include no GraphQL protocol.")
    );
}
