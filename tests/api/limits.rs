//! Request limits: query depth, complexity and aliases, page size, batch size, body size,
//! introspection, and automatic persisted queries. Each limit is tried at its bound and just
//! past it, with the defaults and with lower values set through `Settings`.

use std::{num::NonZeroUsize, time::Instant};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stockroom::{app::Settings, limits::Limits};

use crate::helpers::*;

// ---------------------------------------------------------------- raw HTTP

/// An HTTP response as a client sees it.
struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    /// Returns the first error of the body.
    fn error(&self) -> ApiError {
        let first = self.body["errors"]
            .as_array()
            .and_then(|errors| errors.first())
            .unwrap_or_else(|| panic!("expected an error, got {}", pretty(&self.body)));
        api_error(first)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Reads a response as JSON and checks it exposes no database text.
async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let text = response.text().await.expect("failed to read the response body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("the response (HTTP {status}) is not JSON ({err}): {text}"));
    assert_no_internal_text(&body);
    Reply { status, body }
}

/// Sends `body` as it is with POST, asking for `application/graphql-response+json`.
async fn post_bytes(app: &TestApp, body: impl Into<reqwest::Body>) -> Reply {
    let response = client()
        .post(app.graphql_url())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/graphql-response+json")
        .body(body)
        .send()
        .await
        .expect("POST /graphql failed");
    reply(response).await
}

/// Sends a JSON body with POST.
async fn post(app: &TestApp, body: Value) -> Reply {
    post_bytes(app, body.to_string()).await
}

/// Sends URL parameters with GET, as Apollo sends hashed queries.
async fn get(app: &TestApp, parameters: &[(&str, String)]) -> Reply {
    let response = client()
        .get(app.graphql_url())
        .query(parameters)
        .header(header::ACCEPT, "application/graphql-response+json")
        .send()
        .await
        .expect("GET /graphql failed");
    reply(response).await
}

/// Asserts a `QUERY_TOO_COMPLEX` request error whose message contains every piece of `parts`.
fn assert_too_complex(reply: &Reply, parts: &[&str]) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "status of {}", pretty(&reply.body));
    assert!(reply.body.get("data").is_none(), "a request error has no data: {}", pretty(&reply.body));
    let err = reply.error();
    assert_eq!(err.code, "QUERY_TOO_COMPLEX", "code of {err:?}");
    for part in parts {
        assert!(err.message.contains(part), "the message names {part:?}: {}", err.message);
    }
}

/// Asserts a response with data and no errors.
fn assert_ok(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "status of {}", pretty(&reply.body));
    assert!(reply.body.get("errors").is_none(), "unexpected errors: {}", pretty(&reply.body));
    assert!(!reply.body["data"].is_null(), "no data in {}", pretty(&reply.body));
}

// ---------------------------------------------------------------- queries

/// Builds a query whose deepest field is `depth` levels down: channels, their warehouses, those
/// warehouses' channels, and so on, ending in `id`.
fn nested_query(depth: usize) -> String {
    assert!(depth >= 4, "the shortest nested query has 4 levels");
    let mut names = vec!["channels", "edges", "node"];
    while names.len() < depth - 1 {
        names.push(if names.len() % 2 == 1 { "warehouses" } else { "channels" });
    }
    format!("{{ {} {{ id{} }}", names.join(" { "), " }".repeat(names.len()))
}

/// Builds a query that selects `count` fields, all `__typename`.
fn wide_query(count: usize) -> String {
    format!("{{ {} }}", "__typename ".repeat(count))
}

/// Builds a query with `count` aliased fields.
fn aliased_query(count: usize) -> String {
    let fields: Vec<String> = (0..count).map(|index| format!("a{index}: __typename")).collect();
    format!("{{ {} }}", fields.join(" "))
}

/// Builds a query of a few hundred bytes that selects 2^`levels` fields, because each fragment
/// spreads the one below it twice.
fn doubling_query(levels: usize) -> String {
    let mut query = format!("{{ ...F{levels} }} fragment F0 on QueryRoot {{ __typename }}");
    for level in 1..=levels {
        query.push_str(&format!(" fragment F{level} on QueryRoot {{ ...F{p} ...F{p} }}", p = level - 1));
    }
    query
}

/// The schema query GraphiQL sends, in the same shape: 15 levels deep at `ofType`.
const INTROSPECTION_QUERY: &str = "
query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  } } } } } } } } }
}";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Builds the `extensions` of a request that sends a persisted query's hash.
fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// Settings with every limit low enough to reach in a few bytes.
fn low_limits() -> Settings {
    Settings {
        limits: Limits {
            max_depth: 5,
            max_complexity: 40,
            max_aliases: 3,
            max_page_size: 20,
            max_batch_size: 2,
            max_body_bytes: 1000,
            ..Limits::default()
        },
        ..Settings::default()
    }
}

// ---------------------------------------------------------------- depth

both_databases!(depth_15_ok_16_rejected, |app| async move {
    assert_ok(&post(app, json!({ "query": nested_query(15) })).await);

    let reply = post(app, json!({ "query": nested_query(16) })).await;
    assert_too_complex(&reply, &["nested 16 levels deep", "allows 15", "--max-query-depth"]);
});

both_databases!(parser_nesting_limit_rejected, |app| async move {
    let deep = format!("{}__typename{}", "{ channels ".repeat(100), " }".repeat(100));
    let reply = post(app, json!({ "query": deep })).await;
    assert_too_complex(&reply, &["nested more than 64 levels", "allows 15", "--max-query-depth"]);

    // A megabyte of brackets must not exhaust the server's stack.
    let brackets = format!("{{ a(x: {}1{}) }}", "[".repeat(400_000), "]".repeat(400_000));
    let reply = post(app, json!({ "query": brackets })).await;
    assert_too_complex(&reply, &["nested too deeply to parse", "--max-query-depth"]);
    assert_ok(&post(app, json!({ "query": "{ __typename }" })).await);
});

// ---------------------------------------------------------------- complexity

both_databases!(complexity_5000_ok_5001_rejected, |app| async move {
    assert_ok(&post(app, json!({ "query": wide_query(5_000) })).await);

    let reply = post(app, json!({ "query": wide_query(5_001) })).await;
    assert_too_complex(&reply, &["selects 5001 fields", "allows 5000", "--max-query-complexity"]);
});

both_databases!(doubling_fragments_rejected_quickly, |app| async move {
    let query = doubling_query(30);
    assert!(query.len() < 2_000, "the attack fits in {} bytes", query.len());

    let started = Instant::now();
    let reply = post(app, json!({ "query": query })).await;
    assert_too_complex(&reply, &["selects 1073741824 fields", "--max-query-complexity"]);
    assert!(started.elapsed().as_secs() < 5, "rejecting took {:?}", started.elapsed());
});

both_databases!(fragment_cycles_rejected_quickly, |app| async move {
    let query = "{ ...A } fragment A on QueryRoot { __typename ...B ...B } \
                 fragment B on QueryRoot { __typename ...A ...A }";
    let started = Instant::now();
    let reply = post(app, json!({ "query": query })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", pretty(&reply.body));
    assert!(reply.error().message.contains("spreads itself"), "{:?}", reply.error());
    assert!(started.elapsed().as_secs() < 5, "rejecting took {:?}", started.elapsed());
});

// ---------------------------------------------------------------- aliases

both_databases!(aliases_100_ok_101_rejected, |app| async move {
    assert_ok(&post(app, json!({ "query": aliased_query(100) })).await);

    let reply = post(app, json!({ "query": aliased_query(101) })).await;
    assert_too_complex(&reply, &["101 aliased fields", "allows 100", "--max-query-aliases"]);
});

// ---------------------------------------------------------------- page size

both_databases!(page_500_ok_501_rejected, |app| async move {
    app.ok("{ channels(first: 500) { edges { cursor } } }", json!({})).await;

    let err = app.err("{ channels(first: 501) { edges { cursor } } }", json!({})).await;
    assert_eq!(err.code, "INVALID_INPUT", "{err:?}");
    assert_eq!(err.field.as_deref(), Some("first"), "{err:?}");
    assert!(err.message.contains("between 0 and 500"), "{}", err.message);
    assert!(err.message.contains("--max-page-size"), "{}", err.message);
});

// ---------------------------------------------------------------- batches

both_databases!(batch_10_ok_11_rejected, |app| async move {
    let batch = |count: usize| Value::Array(vec![json!({ "query": "{ __typename }" }); count]);

    let reply = post(app, batch(10)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", pretty(&reply.body));
    assert_eq!(reply.body.as_array().map(Vec::len), Some(10), "{}", pretty(&reply.body));

    let reply = post(app, batch(11)).await;
    assert_too_complex(&reply, &["11 requests", "allows 10", "--max-batch-size"]);
});

// ---------------------------------------------------------------- body

both_databases!(body_1_mib_ok_one_more_rejected, |app| async move {
    let limit = Limits::default().max_body_bytes;
    let padded = |length: usize| {
        let mut body = json!({ "query": "{ __typename }" }).to_string();
        body.push_str(&" ".repeat(length - body.len()));
        body
    };

    assert_ok(&post_bytes(app, padded(limit)).await);

    let reply = post_bytes(app, padded(limit + 1)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", pretty(&reply.body));
    let err = reply.error();
    assert_eq!(err.code, "QUERY_TOO_COMPLEX", "{err:?}");
    assert!(err.message.contains("1048576 bytes"), "{}", err.message);
    assert!(err.message.contains("--max-body-bytes"), "{}", err.message);
});

both_databases!(body_10_mb_gets_413, |app| async move {
    let body = format!("{{\"query\": \"{{ __typename }}\", \"padding\": \"{}\"}}", "x".repeat(10_000_000));
    let reply = post_bytes(app, body).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", pretty(&reply.body));
    assert!(reply.error().message.contains("--max-body-bytes"), "{:?}", reply.error());

    assert_ok(&post(app, json!({ "query": "{ __typename }" })).await);
});

both_databases!(malformed_json_gets_400, |app| async move {
    let reply = post_bytes(app, r#"{"query": "{ __typename }""#).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", pretty(&reply.body));
    let err = reply.error();
    assert!(err.message.starts_with("The request body is not valid JSON"), "{}", err.message);
});

// ---------------------------------------------------------------- introspection

both_databases!(graphiql_introspection_fits_defaults, |app| async move {
    let reply = post(app, json!({ "query": INTROSPECTION_QUERY })).await;
    assert_ok(&reply);
    assert!(
        reply.body["data"]["__schema"]["types"].as_array().is_some_and(|types| !types.is_empty()),
        "the schema lists its types"
    );
});

both_databases!(
    settings = Settings { limits: Limits { introspection: false, ..Limits::default() }, ..Settings::default() },
    disabled_introspection_rejected,
    |app| async move {
        let reply = post(app, json!({ "query": "{ __schema { queryType { name } } }" })).await;
        assert_too_complex(&reply, &["introspection", "--no-introspection"]);

        let reply = post(app, json!({ "query": "{ __type(name: \"Channel\") { name } }" })).await;
        assert_too_complex(&reply, &["--no-introspection"]);

        assert_ok(&post(app, json!({ "query": "{ __typename }" })).await);
    }
);

// ---------------------------------------------------------------- lower limits

both_databases!(settings = low_limits(), lower_limits_apply_at_bounds, |app| async move {
    assert_ok(&post(app, json!({ "query": nested_query(5) })).await);
    assert_too_complex(&post(app, json!({ "query": nested_query(6) })).await, &["nested 6 levels deep", "allows 5"]);

    assert_ok(&post(app, json!({ "query": wide_query(40) })).await);
    assert_too_complex(&post(app, json!({ "query": wide_query(41) })).await, &["selects 41 fields", "allows 40"]);

    assert_ok(&post(app, json!({ "query": aliased_query(3) })).await);
    assert_too_complex(&post(app, json!({ "query": aliased_query(4) })).await, &["4 aliased fields", "allows 3"]);

    let batch = |count: usize| Value::Array(vec![json!({ "query": "{ __typename }" }); count]);
    assert_eq!(post(app, batch(2)).await.status, StatusCode::OK);
    assert_too_complex(&post(app, batch(3)).await, &["3 requests", "allows 2"]);

    let padded = |length: usize| {
        let mut body = json!({ "query": "{ __typename }" }).to_string();
        body.push_str(&" ".repeat(length - body.len()));
        body
    };
    assert_ok(&post_bytes(app, padded(1000)).await);
    let reply = post_bytes(app, padded(1001)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", pretty(&reply.body));
    assert!(reply.error().message.contains("1000 bytes"), "{:?}", reply.error());
});

both_databases!(settings = low_limits(), lower_page_size_applies, |app| async move {
    for index in 0..25 {
        app.create_channel(&format!("Channel {index}")).await;
    }
    let data = app.ok("{ channels(first: 20) { edges { cursor } } }", json!({})).await;
    assert_eq!(data["channels"]["edges"].as_array().map(Vec::len), Some(20));

    let data = app.ok("{ channels { edges { cursor } pageInfo { hasNextPage } } }", json!({})).await;
    assert_eq!(
        data["channels"]["edges"].as_array().map(Vec::len),
        Some(20),
        "a page without first holds at most the limit"
    );

    let err = app.err("{ channels(last: 21) { edges { cursor } } }", json!({})).await;
    assert_eq!(err.field.as_deref(), Some("last"), "{err:?}");
    assert!(err.message.contains("between 0 and 20"), "{}", err.message);
    assert!(err.message.contains("--max-page-size is 20"), "{}", err.message);
});

// ---------------------------------------------------------------- persisted queries

both_databases!(persisted_query_post_and_get, |app| async move {
    let query = "query Channels { channels { edges { node { name } } } }";
    let hash = sha256_hex(query);

    let reply = post(app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", pretty(&reply.body));
    let err = reply.error();
    assert_eq!(err.message, "PersistedQueryNotFound", "{err:?}");
    assert_eq!(err.code, "PERSISTED_QUERY_NOT_FOUND", "{err:?}");

    assert_ok(&post(app, json!({ "query": query, "extensions": persisted(&hash) })).await);
    assert_ok(&post(app, json!({ "extensions": persisted(&hash) })).await);

    let reply = get(app, &[("operationName", "Channels".to_owned()), ("extensions", persisted(&hash).to_string())]).await;
    assert_ok(&reply);
});

both_databases!(persisted_query_wrong_hash_rejected, |app| async move {
    let query = "{ __typename }";
    let wrong = sha256_hex("{ channels { edges { cursor } } }");

    let reply = post(app, json!({ "query": query, "extensions": persisted(&wrong) })).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", pretty(&reply.body));
    let err = reply.error();
    assert_eq!(err.code, "INVALID_INPUT", "{err:?}");
    assert!(err.message.contains("not the SHA-256 of the query"), "{}", err.message);

    let reply = post(app, json!({ "extensions": persisted(&wrong) })).await;
    assert_eq!(reply.error().code, "PERSISTED_QUERY_NOT_FOUND", "the wrong hash was not kept");

    let reply = post(app, json!({ "query": query, "extensions": { "persistedQuery": { "version": 2, "sha256Hash": wrong } } })).await;
    assert_eq!(reply.error().code, "INVALID_INPUT", "{:?}", reply.error());
});

both_databases!(persisted_mutation_get_405, |app| async move {
    let mutation = "mutation { createChannel(input: { name: \"Web\" }) { channel { id } } }";
    let hash = sha256_hex(mutation);
    assert_ok(&post(app, json!({ "query": mutation, "extensions": persisted(&hash) })).await);

    let response = client()
        .get(app.graphql_url())
        .query(&[("extensions", persisted(&hash).to_string())])
        .header(header::ACCEPT, "application/graphql-response+json")
        .send()
        .await
        .expect("GET /graphql failed");
    assert_eq!(
        response.headers().get(header::ALLOW).and_then(|value| value.to_str().ok()),
        Some("POST")
    );
    let reply = reply(response).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{}", pretty(&reply.body));

    let data = app.ok("{ channels { edges { node { name } } } }", json!({})).await;
    assert_eq!(data["channels"]["edges"].as_array().map(Vec::len), Some(1), "GET created nothing");
});

both_databases!(persisted_queries_meet_limits, |app| async move {
    let query = nested_query(16);
    let hash = sha256_hex(&query);
    assert_too_complex(&post(app, json!({ "query": query, "extensions": persisted(&hash) })).await, &["nested 16"]);
    assert_too_complex(&post(app, json!({ "extensions": persisted(&hash) })).await, &["nested 16"]);
});

both_databases!(
    settings = Settings {
        limits: Limits { persisted_query_cache_size: NonZeroUsize::MIN, ..Limits::default() },
        ..Settings::default()
    },
    persisted_cache_evicts_oldest,
    |app| async move {
        let first = "query First { __typename }";
        let second = "query Second { __typename }";
        for query in [first, second] {
            assert_ok(&post(app, json!({ "query": query, "extensions": persisted(&sha256_hex(query)) })).await);
        }

        assert_ok(&post(app, json!({ "extensions": persisted(&sha256_hex(second)) })).await);
        let reply = post(app, json!({ "extensions": persisted(&sha256_hex(first)) })).await;
        assert_eq!(reply.error().code, "PERSISTED_QUERY_NOT_FOUND", "a cache of one keeps the last query only");
    }
);
