//! Request ids and the request span: what ties a response, its log lines, its metrics and its
//! internal errors together.
//!
//! [`track_request`] runs around every HTTP request. It takes the client's `x-request-id`
//! when it is valid, or makes a new one, and returns it in the response header. It runs the
//! request inside a [`RequestScope`], a Tokio task-local that code deep inside the request
//! reads without having it passed along. [`crate::graphql::errors`] reads it to put the id
//! into an `INTERNAL` error.
//!
//! [`request_span`] creates the tracing span that every log line of the request is written
//! in. The executor (`graphql::executor`) records the GraphQL operation's name and type on that
//! span once the document is parsed ([`record_operation`]), and counts the request in the
//! server's [`Metrics`] ([`observe_graphql_request`]).
//!
//! A WebSocket connection runs in a scope of its own, with the connection's id (see
//! [`crate::http`]'s connection module), so its operations' internal errors carry that id.

use std::{sync::Arc, time::Duration};

use async_graphql::{
    Response as GraphQLResponse,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};
use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tokio::sync::watch;
use tracing::{Instrument as _, Span, field::Empty};

use crate::metrics::Metrics;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Maximum length of a request id taken from a client.
const MAX_REQUEST_ID_LENGTH: usize = 128;

/// The id of one HTTP request or WebSocket connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// Generates a new random id (a UUID).
    pub fn generate() -> RequestId {
        RequestId(uuid::Uuid::new_v4().to_string().into())
    }

    /// Parses an id a client sent, which must be 1 to 128 ASCII letters, digits, `-`, `_`,
    /// `.` and `:`. Such an id is safe in a header, a log line and a JSON string unescaped.
    pub fn parse(value: &str) -> Option<RequestId> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        let valid = (1..=MAX_REQUEST_ID_LENGTH).contains(&value.len()) && value.chars().all(allowed);
        valid.then(|| RequestId(value.into()))
    }

    /// Returns the id of the request with these headers: the client's when valid, else a new
    /// one.
    pub fn from_headers(headers: &HeaderMap) -> RequestId {
        let Some(sent) = headers.get(&REQUEST_ID_HEADER) else {
            return RequestId::generate();
        };
        match sent.to_str().ok().and_then(RequestId::parse) {
            Some(id) => id,
            None => {
                let id = RequestId::generate();
                tracing::debug!(request_id = %id, "the x-request-id header is not a valid id; a new one replaces it");
                id
            }
        }
    }

    /// Returns the id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.0).expect("BUG: a request id contains only header-safe ASCII")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

tokio::task_local! {
    static REQUEST: RequestScope;
}

/// The context of one request or WebSocket connection, readable by the code running for it.
#[derive(Clone, Debug)]
pub struct RequestScope {
    id: RequestId,
    /// The metrics that count GraphQL requests over HTTP, `None` on a WebSocket connection.
    metrics: Option<Arc<Metrics>>,
    /// On a WebSocket connection, the number of its operations still running.
    operations: Option<Arc<watch::Sender<usize>>>,
}

impl RequestScope {
    /// Creates a scope with an id only, for work outside HTTP and WebSocket (tests and tools).
    pub fn new(id: RequestId) -> RequestScope {
        RequestScope { id, metrics: None, operations: None }
    }

    /// Creates the scope of one WebSocket connection, which counts its running operations in
    /// `operations`.
    pub fn websocket(id: RequestId, operations: Arc<watch::Sender<usize>>) -> RequestScope {
        RequestScope { id, metrics: None, operations: Some(operations) }
    }

    /// Runs `future` inside this scope.
    pub async fn run<F: Future>(self, future: F) -> F::Output {
        REQUEST.scope(self, future).await
    }
}

/// Returns the id of the request or WebSocket connection the caller is running for, if any.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST.try_with(|scope| scope.id.clone()).ok()
}

/// Spawns `future` as a task that stays in the caller's request scope and span, so what it
/// logs and the errors it makes carry the request's id. The DataLoaders spawn their batches
/// with it.
pub fn spawn_in_request<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let span = Span::current();
    match REQUEST.try_with(Clone::clone) {
        Ok(scope) => tokio::spawn(scope.run(future).instrument(span)),
        Err(_) => tokio::spawn(future.instrument(span)),
    }
}

/// Middleware around every HTTP request: picks its id, runs it in its [`RequestScope`],
/// counts the response by route and status, and returns the id in `x-request-id`.
pub async fn track_request(State(metrics): State<Arc<Metrics>>, mut request: Request, next: Next) -> Response {
    let id = RequestId::from_headers(request.headers());
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    request.extensions_mut().insert(id.clone());

    let scope = RequestScope { id: id.clone(), metrics: Some(Arc::clone(&metrics)), operations: None };
    let mut response = scope.run(next.run(request)).await;

    metrics.observe_http_response(route.as_deref(), response.status());
    response.headers_mut().insert(REQUEST_ID_HEADER, id.header_value());
    response
}

/// Creates the span of one HTTP request, for `TraceLayer::make_span_with`. It carries the
/// request id that [`track_request`] chose, the method and the path, and the GraphQL
/// operation's name and type once [`record_operation`] has recorded them. The query string is left
/// out because it can contain a whole GraphQL document and its variables.
pub fn request_span<B>(request: &axum::http::Request<B>) -> Span {
    let id = request.extensions().get::<RequestId>().map(RequestId::as_str).unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        operation_name = Empty,
        operation_type = Empty,
    )
}

/// The operation a request runs, as its document and `operationName` select it.
#[derive(Clone, Debug)]
pub struct SelectedOperation {
    /// `None` for an anonymous operation.
    pub name: Option<String>,
    pub kind: OperationType,
}

/// Returns the operation `operation_name` selects in `document`, and records its name and type
/// on the current span, the request's. `None` when it selects none (the executor then reports
/// that error).
pub fn record_operation(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<SelectedOperation> {
    let selected = select_operation(document, operation_name);
    if let Some(operation) = &selected {
        let span = Span::current();
        if let Some(name) = &operation.name {
            span.record("operation_name", name.as_str());
        }
        span.record("operation_type", operation_type_name(operation.kind));
    }
    selected
}

/// Counts a GraphQL request over HTTP, with the operation it selected, in the [`Metrics`] of
/// the request's scope. Outside such a scope (a WebSocket connection, a test) it does nothing.
pub fn observe_graphql_request(selected: Option<&SelectedOperation>, response: &GraphQLResponse, elapsed: Duration) {
    if let Ok(Some(metrics)) = REQUEST.try_with(|scope| scope.metrics.clone()) {
        metrics.observe_graphql_request(selected, response, elapsed);
    }
}

/// Counts an operation on the WebSocket connection of the current scope until the returned
/// value is dropped. At shutdown the connection waits for the count to reach zero before it
/// closes. `None` outside a WebSocket connection.
pub fn start_operation() -> Option<RunningOperation> {
    REQUEST.try_with(|scope| scope.operations.clone()).ok().flatten().map(RunningOperation::start)
}

/// One operation running on a WebSocket connection, counted until dropped.
pub struct RunningOperation {
    operations: Arc<watch::Sender<usize>>,
}

impl RunningOperation {
    fn start(operations: Arc<watch::Sender<usize>>) -> RunningOperation {
        operations.send_modify(|count| *count += 1);
        RunningOperation { operations }
    }
}

impl Drop for RunningOperation {
    fn drop(&mut self) {
        self.operations.send_modify(|count| *count -= 1);
    }
}

/// Returns the operation `requested` selects in `document`, or `None` when it selects none
/// (the executor then reports that error).
fn select_operation(document: &ExecutableDocument, requested: Option<&str>) -> Option<SelectedOperation> {
    match (&document.operations, requested) {
        // The parser keeps a lone anonymous operation as `Single`; named ones go in the map.
        (DocumentOperations::Single(operation), None) => Some(SelectedOperation { name: None, kind: operation.node.ty }),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get(name)
            .map(|operation| SelectedOperation { name: Some(name.to_owned()), kind: operation.node.ty }),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .iter()
            .next()
            .map(|(name, operation)| SelectedOperation { name: Some(name.to_string()), kind: operation.node.ty }),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Returns the keyword of an operation type, as logs and metrics name it.
pub fn operation_type_name(kind: OperationType) -> &'static str {
    match kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_uuids_and_simple_ids() {
        for id in ["0b6f4c8e-8a4f-4f1e-9f59-3c8d2d7c1a2b", "req_01HZX", "edge:42.7"] {
            assert_eq!(RequestId::parse(id).map(|id| id.to_string()), Some(id.to_owned()), "{id}");
        }
    }

    #[test]
    fn parse_rejects_unsafe_or_long_ids() {
        let long = "a".repeat(MAX_REQUEST_ID_LENGTH + 1);
        for id in ["", "two words", "line\nbreak", "quote\"d", "ünïcode", long.as_str()] {
            assert_eq!(RequestId::parse(id), None, "{id:?}");
        }
    }

    #[test]
    fn invalid_header_gets_a_new_id() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("not valid!"));

        let id = RequestId::from_headers(&headers);

        assert!(uuid::Uuid::parse_str(id.as_str()).is_ok(), "{id}");
    }

    #[test]
    fn select_operation_follows_operation_name() {
        let document = async_graphql::parser::parse_query("query A { a } mutation B { b }").unwrap();

        let selected = select_operation(&document, Some("B")).unwrap();
        assert_eq!(selected.name.as_deref(), Some("B"));
        assert_eq!(selected.kind, OperationType::Mutation);
        assert!(select_operation(&document, None).is_none(), "two operations and no name");
        assert!(select_operation(&document, Some("C")).is_none(), "an unknown name");
    }

    #[test]
    fn select_operation_takes_a_lone_operation() {
        let anonymous = async_graphql::parser::parse_query("{ a }").unwrap();
        let named = async_graphql::parser::parse_query("query Only { a }").unwrap();

        assert_eq!(select_operation(&anonymous, None).unwrap().name, None);
        assert_eq!(select_operation(&named, None).unwrap().name.as_deref(), Some("Only"));
    }

    #[tokio::test]
    async fn request_id_reaches_spawned_tasks() {
        let id = RequestId::generate();
        let scope = RequestScope::new(id.clone());

        let (inside, spawned) = scope
            .run(async { (current_request_id(), spawn_in_request(async { current_request_id() }).await.unwrap()) })
            .await;

        assert_eq!(inside, Some(id.clone()));
        assert_eq!(spawned, Some(id));
        assert_eq!(current_request_id(), None, "outside any scope");
    }
}
