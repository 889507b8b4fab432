//! GraphQL over HTTP handlers for `GET` and `POST /graphql`.
//!
//! Status codes follow the GraphQL-over-HTTP specification:
//!
//! - 400 for malformed requests, such as invalid JSON or a missing `query`.
//! - 405 for mutations sent with GET.
//! - 406 and 415 for unsupported response and request media types.
//! - For GraphQL request errors (document parse, validation and variable
//!   coercion errors), 400 when the response is
//!   `application/graphql-response+json` and 200 when it is `application/json`.

use async_graphql::{
    BatchRequest, BatchResponse, Executor, Request, Response as GraphQLResponse, ServerError,
    Value,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};
use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::{
    auth,
    media_type::{ResponseMediaType, check_request_content_type, negotiate_response_type},
    params::{parse_json_body, parse_query_pairs},
    persisted,
    rejection::Rejection,
    websocket,
};
use crate::{
    error::ErrorCode,
    limits::{Limits, option},
};

/// Serves `GET /graphql`: a WebSocket upgrade for subscriptions, or else a
/// query sent in the URL query string.
pub async fn get_graphql<E: Executor>(
    State(executor): State<E>,
    request: axum::extract::Request,
) -> Response {
    if websocket::is_websocket_upgrade(request.headers()) {
        return websocket::serve_websocket(executor, request).await;
    }

    let media_type = match negotiate_response_type(request.headers()) {
        Ok(media_type) => media_type,
        Err(rejection) => return rejection.into_response(),
    };
    let caller = match auth::http_caller(request.headers(), request.extensions()).await {
        Ok(caller) => caller,
        Err(error) => return outcome_response(request_error(error), media_type),
    };
    let pairs = match Query::<Vec<(String, String)>>::try_from_uri(request.uri()) {
        Ok(Query(pairs)) => pairs,
        Err(error) => {
            return Rejection::bad_request(format!(
                "The URL query string is not valid: {}. Send URL-encoded `query`, \
                 `operationName`, `variables` and `extensions` parameters.",
                error.body_text()
            ))
            .into_response_as(media_type);
        }
    };
    let graphql_request = match parse_query_pairs(pairs) {
        Ok(graphql_request) => graphql_request,
        Err(rejection) => return rejection.into_response_as(media_type),
    };

    match execute(&executor, auth::with_caller(graphql_request, caller.as_ref()), &Method::GET).await {
        Ok(outcome) => outcome_response(outcome, media_type),
        Err(rejection) => rejection.into_response_as(media_type),
    }
}

/// Serves `POST /graphql`: one request as a JSON object, or a batch as a JSON
/// array of request objects.
///
/// Batch entries run one after another in array order, so mutations in a
/// batch apply in that order. A batch response always has status 200, and
/// each entry with a request error has no `data` entry.
pub async fn post_graphql<E: Executor>(
    State(executor): State<E>,
    request: axum::extract::Request,
) -> Response {
    let media_type = match negotiate_response_type(request.headers()) {
        Ok(media_type) => media_type,
        Err(rejection) => return rejection.into_response(),
    };
    if let Err(rejection) = check_request_content_type(request.headers()) {
        return rejection.into_response_as(media_type);
    }
    // Before the body is read, so a client without a valid token cannot make the server read
    // a large one.
    let caller = match auth::http_caller(request.headers(), request.extensions()).await {
        Ok(caller) => caller,
        Err(error) => return outcome_response(request_error(error), media_type),
    };
    // The app puts its limits in the request extensions; a router built without them, as in
    // the HTTP tests, gets the defaults.
    let limits = request.extensions().get::<Limits>().cloned().unwrap_or_default();
    let body = match read_body(request, limits.max_body_bytes).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response_as(media_type),
    };
    let batch = match parse_json_body(&body) {
        Ok(batch) => batch,
        Err(rejection) => return rejection.into_response_as(media_type),
    };

    match batch {
        BatchRequest::Batch(graphql_requests) if graphql_requests.len() > limits.max_batch_size => {
            Rejection::bad_request(format!(
                "The batch has {} requests; this server allows {} ({}). Send fewer requests \
                 per batch.",
                graphql_requests.len(),
                limits.max_batch_size,
                option::BATCH_SIZE
            ))
            .with_code(ErrorCode::QueryTooComplex.as_str())
            .into_response_as(media_type)
        }
        BatchRequest::Single(graphql_request) => {
            match execute(&executor, auth::with_caller(graphql_request, caller.as_ref()), &Method::POST).await {
                Ok(outcome) => outcome_response(outcome, media_type),
                Err(rejection) => rejection.into_response_as(media_type),
            }
        }
        BatchRequest::Batch(graphql_requests) => {
            let mut outcomes = Vec::with_capacity(graphql_requests.len());
            for graphql_request in graphql_requests {
                match execute(&executor, auth::with_caller(graphql_request, caller.as_ref()), &Method::POST).await {
                    Ok(outcome) => outcomes.push(outcome),
                    // `execute` rejects only GET mutations, which a POST batch never has.
                    Err(rejection) => return rejection.into_response_as(media_type),
                }
            }
            batch_response(outcomes, media_type)
        }
    }
}

/// Reads the whole request body.
///
/// # Errors
///
/// Returns a 413 rejection when the body is longer than `max_bytes` (before
/// reading it when its `Content-Length` header is larger), and a 400
/// rejection when the body cannot be read.
async fn read_body(request: axum::extract::Request, max_bytes: usize) -> Result<Bytes, Rejection> {
    let too_large = || {
        Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The request body is larger than this server's limit of {max_bytes} bytes ({}). \
                 Send a smaller request.",
                option::BODY_BYTES
            ),
        )
        .with_code(ErrorCode::QueryTooComplex.as_str())
    };
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > max_bytes as u64) {
        return Err(too_large());
    }

    match axum::body::to_bytes(request.into_body(), max_bytes).await {
        Ok(body) => Ok(body),
        Err(error) => {
            let error = error.into_inner();
            if error.is::<http_body_util::LengthLimitError>() {
                Err(too_large())
            } else {
                Err(Rejection::bad_request(format!("Reading the request body failed: {error}")))
            }
        }
    }
}

/// Rejects methods other than GET, HEAD and POST on `/graphql`. The router
/// adds the `Allow` header.
pub async fn method_not_allowed(method: Method) -> Rejection {
    Rejection::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "The {method} method is not allowed here. Send queries with GET or POST, and \
             mutations with POST."
        ),
    )
}

/// Result of one GraphQL request.
struct Outcome {
    response: GraphQLResponse,
    /// True when the request failed before execution: a document parse,
    /// validation or variable coercion error. Such a response has no `data`.
    is_request_error: bool,
}

/// Parses the document, applies the method rules, and runs the request.
///
/// # Errors
///
/// Returns a 405 rejection for a mutation sent with GET.
async fn execute<E: Executor>(
    executor: &E,
    mut request: Request,
    method: &Method,
) -> Result<Outcome, Rejection> {
    // Parsing here, rather than in the executor, lets the method rules use the
    // operation type. The executor reuses the parsed document. A request with
    // only a persisted query's hash has no document until the schema's cache
    // gives one; `persisted::check_method` applies the GET rule then.
    let operation_name = request.operation_name.clone();
    let operation_type = if persisted::is_hash_only(&request) {
        None
    } else {
        match request.parsed_query() {
            Ok(document) => selected_operation_type(document, operation_name.as_deref()),
            // The executor reports the error, with a code for some parse errors.
            Err(_) => None,
        }
    };
    if method == Method::GET {
        request = request.data(persisted::SentWithGet);
    }

    match operation_type {
        Some(OperationType::Mutation) if method == Method::GET => {
            return Err(mutation_sent_with_get(operation_name.as_deref()));
        }
        Some(OperationType::Subscription) => {
            return Ok(request_error(ServerError::new(
                "Subscriptions are not served over plain HTTP. Open a WebSocket connection to this \
                 URL with the `graphql-transport-ws` or `graphql-ws` subprotocol.",
                None,
            )));
        }
        _ => {}
    }

    let response = executor.execute(request).await;
    if persisted::is_mutation_sent_with_get(&response) {
        return Err(mutation_sent_with_get(operation_name.as_deref()));
    }
    let is_request_error = is_request_error(&response);
    Ok(Outcome {
        response,
        is_request_error,
    })
}

/// Builds the 405 rejection of a mutation sent with GET.
fn mutation_sent_with_get(operation_name: Option<&str>) -> Rejection {
    Rejection::new(StatusCode::METHOD_NOT_ALLOWED, mutation_sent_with_get_message(operation_name))
        .with_header(header::ALLOW, HeaderValue::from_static("POST"))
}

/// Returns the message of the rejection of a mutation sent with GET.
pub(super) fn mutation_sent_with_get_message(operation_name: Option<&str>) -> String {
    let operation = operation_name.map_or_else(
        || "The mutation".to_owned(),
        |name| format!("Mutation `{name}`"),
    );
    format!("{operation} was sent with GET, which only runs queries. Send mutations with POST.")
}

/// Returns the type of the operation that `operation_name` selects, or `None`
/// when it selects no operation. The executor then reports that error.
pub(super) fn selected_operation_type(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    match (&document.operations, operation_name) {
        // An anonymous operation has no name to select it by.
        (DocumentOperations::Single(operation), None) => Some(operation.node.ty),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .values()
            .next()
            .map(|operation| operation.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

fn request_error(error: ServerError) -> Outcome {
    Outcome {
        response: GraphQLResponse::from_errors(vec![error]),
        is_request_error: true,
    }
}

/// Tells whether the executor rejected the request before running any resolver.
///
/// async-graphql 7.2 returns `data: null` both for request errors and when a
/// non-null root field fails, but only the errors of resolvers carry a `path`.
// NOTE: an error added without a path during execution (for example by a
// custom extension's `execute` hook) together with `data: null` is also
// treated as a request error, so it gets status 400 and no `data` entry.
fn is_request_error(response: &GraphQLResponse) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// JSON body of one GraphQL response. Unlike `async_graphql::Response`, it
/// leaves out `data` for request errors, as the GraphQL specification requires.
#[derive(Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: &'a Vec<ServerError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, Value>,
}

impl<'a> From<&'a Outcome> for ResponseBody<'a> {
    fn from(outcome: &'a Outcome) -> Self {
        Self {
            errors: &outcome.response.errors,
            data: (!outcome.is_request_error).then_some(&outcome.response.data),
            extensions: &outcome.response.extensions,
        }
    }
}

fn outcome_response(outcome: Outcome, media_type: ResponseMediaType) -> Response {
    let status = if outcome.is_request_error && media_type == ResponseMediaType::GraphQLResponseJson
    {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = serde_json::to_vec(&ResponseBody::from(&outcome));
    json_response(
        status,
        body,
        media_type,
        BatchResponse::Single(outcome.response),
    )
}

fn batch_response(outcomes: Vec<Outcome>, media_type: ResponseMediaType) -> Response {
    let bodies: Vec<ResponseBody<'_>> = outcomes.iter().map(ResponseBody::from).collect();
    let body = serde_json::to_vec(&bodies);
    let responses = outcomes
        .into_iter()
        .map(|outcome| outcome.response)
        .collect();
    json_response(
        StatusCode::OK,
        body,
        media_type,
        BatchResponse::Batch(responses),
    )
}

/// Builds the HTTP response with the headers that resolvers set and the
/// `Cache-Control` value derived from the schema's cache hints.
fn json_response(
    status: StatusCode,
    body: Result<Vec<u8>, serde_json::Error>,
    media_type: ResponseMediaType,
    graphql_response: BatchResponse,
) -> Response {
    // GraphQL values always serialize to JSON, so a failure here is a bug.
    let body = match body {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "serializing a GraphQL response failed");
            return Rejection::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Serializing the GraphQL response failed: {error}"),
            )
            .into_response_as(media_type);
        }
    };

    let mut headers = HeaderMap::new();
    for (name, value) in graphql_response.http_headers_iter() {
        headers.append(name, value);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type.content_type()),
    );
    // The body depends on `Accept`, so caches must key GET responses on it.
    headers.append(header::VARY, HeaderValue::from_static("accept"));
    if graphql_response.is_ok()
        && let Some(cache_control) = graphql_response.cache_control().value()
        && let Ok(value) = HeaderValue::from_str(&cache_control)
    {
        headers.insert(header::CACHE_CONTROL, value);
    }

    (status, headers, body).into_response()
}
