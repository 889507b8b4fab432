//! The server's metrics, served at `GET /metrics` in the Prometheus text format.
//!
//! Each server has a registry of its own, so several servers in one process (the tests) do
//! not mix their counts. Request counts and latencies are recorded as requests end. The rest
//! (database pool, subscriptions, WebSocket connections, inventory events) is read from the
//! database handle, the event hub and the shutdown signal at each scrape, so those modules
//! keep plain counters and do not depend on this one.
//!
//! Operation names are chosen by clients, so a label made of them could grow without bound.
//! Only the first [`MAX_OPERATION_NAMES`] distinct names a server receives get series of
//! their own. Later names, like names longer than [`MAX_OPERATION_NAME_LENGTH`], are counted
//! as `(other)`.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_graphql::Response as GraphQLResponse;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder, core::Collector, proto::MetricFamily,
};

use crate::{
    db::Db,
    event_hub::EventHub,
    shutdown::Shutdown,
    telemetry::{SelectedOperation, operation_type_name},
};

/// How many distinct operation names get series of their own.
pub const MAX_OPERATION_NAMES: usize = 100;

/// Operation names longer than this are counted as `(other)`.
pub const MAX_OPERATION_NAME_LENGTH: usize = 100;

/// The `operation` label of a request whose operation has no name.
const ANONYMOUS: &str = "(anonymous)";

/// The `operation` label past the cap. Parentheses cannot occur in a GraphQL name, so these
/// labels never collide with a real operation's.
const OTHER: &str = "(other)";

/// The `operation` and `type` labels of a request that selected no operation.
const NONE: &str = "(none)";

/// The `outcome` of a request whose first error has no code, such as a request rejected by
/// validation before it ran.
const UNCODED: &str = "INVALID_REQUEST";

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    graphql_requests: IntCounterVec,
    graphql_duration: HistogramVec,
    http_responses: IntCounterVec,
    operation_names: OperationNames,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every metric, reading the sampled ones from `db`, `hub` and `shutdown`.
    pub fn new(db: Db, hub: Arc<EventHub>, shutdown: Shutdown) -> Metrics {
        let graphql_requests = IntCounterVec::new(
            Opts::new(
                "stockroom_graphql_requests_total",
                "GraphQL requests over HTTP, by operation name, operation type and outcome (ok or the first error's code)",
            ),
            &["operation", "type", "outcome"],
        )
        .expect("BUG: the metric's name and labels are valid");
        let graphql_duration = HistogramVec::new(
            HistogramOpts::new(
                "stockroom_graphql_request_duration_seconds",
                "Time to run a GraphQL request over HTTP, from parsing to the response, by operation name and type",
            ),
            &["operation", "type"],
        )
        .expect("BUG: the metric's name and labels are valid");
        let http_responses = IntCounterVec::new(
            Opts::new("stockroom_http_responses_total", "HTTP responses, by route and status code"),
            &["route", "status"],
        )
        .expect("BUG: the metric's name and labels are valid");

        let registry = Registry::new();
        for collector in [
            Box::new(graphql_requests.clone()) as Box<dyn Collector>,
            Box::new(graphql_duration.clone()),
            Box::new(http_responses.clone()),
            Box::new(Sampled::new(db, hub, shutdown)),
        ] {
            registry.register(collector).expect("BUG: every metric has a name of its own");
        }

        Metrics { registry, graphql_requests, graphql_duration, http_responses, operation_names: OperationNames::default() }
    }

    /// Counts a GraphQL request over HTTP and its duration. `operation` is what the request
    /// selected, `None` when it selected nothing.
    pub fn observe_graphql_request(&self, operation: Option<&SelectedOperation>, response: &GraphQLResponse, duration: Duration) {
        let (name, kind) = match operation {
            Some(operation) => (self.operation_names.label(operation.name.as_deref()), operation_type_name(operation.kind)),
            None => (NONE.to_owned(), NONE),
        };
        let outcome = outcome(response);
        self.graphql_requests.with_label_values(&[name.as_str(), kind, outcome.as_str()]).inc();
        self.graphql_duration.with_label_values(&[name.as_str(), kind]).observe(duration.as_secs_f64());
    }

    /// Counts an HTTP response. `route` is the matched route, such as `/graphql`, or `None`
    /// for a path that no route serves.
    pub fn observe_http_response(&self, route: Option<&str>, status: StatusCode) {
        let route = route.unwrap_or("(unmatched)");
        self.http_responses.with_label_values(&[route, status.as_str()]).inc();
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("BUG: encoding into memory cannot fail");
        String::from_utf8(text).expect("BUG: the text format is UTF-8")
    }
}

/// The operation names that have series of their own.
#[derive(Debug, Default)]
struct OperationNames(Mutex<HashSet<String>>);

impl OperationNames {
    /// Returns the `operation` label for an operation named `name`, within the cap.
    fn label(&self, name: Option<&str>) -> String {
        let Some(name) = name else { return ANONYMOUS.to_owned() };
        if name.len() > MAX_OPERATION_NAME_LENGTH {
            return OTHER.to_owned();
        }
        let mut names = self.0.lock().expect("BUG: the lock is never held across a panic");
        if names.contains(name) {
            return name.to_owned();
        }
        if names.len() < MAX_OPERATION_NAMES {
            names.insert(name.to_owned());
            return name.to_owned();
        }
        OTHER.to_owned()
    }
}

/// Serves `GET /metrics`.
pub async fn serve(metrics: Arc<Metrics>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
        metrics.render(),
    )
        .into_response()
}

/// Returns the `outcome` label: `ok`, or the code of the first error.
fn outcome(response: &GraphQLResponse) -> String {
    let Some(error) = response.errors.first() else { return "ok".to_owned() };
    let code = error.extensions.as_ref().and_then(|extensions| extensions.get("code"));
    match code {
        // Codes come from the server, but an unexpected one must not open the label either.
        Some(async_graphql::Value::String(code)) if is_error_code(code) => code.clone(),
        Some(_) => "INTERNAL".to_owned(),
        None => UNCODED.to_owned(),
    }
}

/// Returns whether `code` looks like one of the server's error codes (`NOT_FOUND`).
fn is_error_code(code: &str) -> bool {
    (1..=40).contains(&code.len()) && code.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}

/// The metrics read when Prometheus scrapes.
struct Sampled {
    db: Db,
    hub: Arc<EventHub>,
    shutdown: Shutdown,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    subscriptions: IntGauge,
    websockets: IntGauge,
    // The counters are made anew at each scrape from the totals; these only describe them.
    events_written: IntCounter,
    events_relayed: IntCounter,
}

impl Sampled {
    fn new(db: Db, hub: Arc<EventHub>, shutdown: Shutdown) -> Sampled {
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("BUG: the metric's name is valid");
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("BUG: the metric's name is valid");
        Sampled {
            db,
            hub,
            shutdown,
            pool_connections: IntGaugeVec::new(
                Opts::new("stockroom_db_pool_connections", "Connections of the request pool, by state (in_use or idle)"),
                &["state"],
            )
            .expect("BUG: the metric's name and labels are valid"),
            pool_max: gauge("stockroom_db_pool_max_connections", "The most connections the request pool opens"),
            subscriptions: gauge("stockroom_subscriptions_active", "Inventory event subscriptions open on this server"),
            websockets: gauge("stockroom_websocket_connections", "WebSocket connections open on this server"),
            events_written: counter(
                "stockroom_inventory_events_written_total",
                "Inventory events this server committed to the event log",
            ),
            events_relayed: counter(
                "stockroom_inventory_events_relayed_total",
                "Inventory events the relay read from the log and passed to subscriptions, whichever server wrote them",
            ),
        }
    }
}

impl Collector for Sampled {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        [
            self.pool_connections.desc(),
            self.pool_max.desc(),
            self.subscriptions.desc(),
            self.websockets.desc(),
            self.events_written.desc(),
            self.events_relayed.desc(),
        ]
        .concat()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let pool = self.db.pool_usage();
        self.pool_connections.with_label_values(&["in_use"]).set(i64::from(pool.in_use));
        self.pool_connections.with_label_values(&["idle"]).set(i64::from(pool.idle));
        self.pool_max.set(i64::from(pool.max));
        self.subscriptions.set(i64::try_from(self.hub.subscriber_count()).unwrap_or(i64::MAX));
        self.websockets.set(i64::try_from(self.shutdown.open_connections()).unwrap_or(i64::MAX));

        let total = |template: &IntCounter, value: u64| {
            let counter = IntCounter::with_opts(Opts::new(template.desc()[0].fq_name.clone(), template.desc()[0].help.clone()))
                .expect("BUG: the template's name is valid");
            counter.inc_by(value);
            counter.collect()
        };
        [
            self.pool_connections.collect(),
            self.pool_max.collect(),
            self.subscriptions.collect(),
            self.websockets.collect(),
            total(&self.events_written, self.db.events_written_total()),
            total(&self.events_relayed, self.hub.events_relayed()),
        ]
        .concat()
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{ErrorExtensionValues, ServerError};

    use super::*;

    fn error_with_code(code: Option<&str>) -> GraphQLResponse {
        let mut error = ServerError::new("failed", None);
        if let Some(code) = code {
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", code);
            error.extensions = Some(extensions);
        }
        GraphQLResponse::from_errors(vec![error])
    }

    #[test]
    fn outcome_is_ok_or_the_first_code() {
        assert_eq!(outcome(&GraphQLResponse::default()), "ok");
        assert_eq!(outcome(&error_with_code(Some("NOT_FOUND"))), "NOT_FOUND");
        assert_eq!(outcome(&error_with_code(None)), UNCODED);
        assert_eq!(outcome(&error_with_code(Some("made up by someone"))), "INTERNAL");
    }

    #[test]
    fn operation_names_past_the_cap_are_other() {
        let names = OperationNames::default();
        for index in 0..MAX_OPERATION_NAMES {
            assert_eq!(names.label(Some(&format!("Op{index}"))), format!("Op{index}"));
        }

        assert_eq!(names.label(Some("OneTooMany")), OTHER);
        assert_eq!(names.label(Some("Op7")), "Op7", "a name seen before keeps its series");
        assert_eq!(names.label(None), ANONYMOUS);
    }

    #[test]
    fn long_operation_names_are_other() {
        let names = OperationNames::default();
        assert_eq!(names.label(Some(&"A".repeat(MAX_OPERATION_NAME_LENGTH + 1))), OTHER);
    }
}
