//! The executor that serves the schema over HTTP and WebSocket: it runs the server's checks on
//! each request before async-graphql executes it, and completes the errors of each response.
//!
//! Before a request runs, these steps run in order. The persisted query cache gives or stores
//! its document (`persisted`), and the operation is recorded on the request's span
//! (`telemetry`). A mutation sent with GET is rejected (`http::persisted`), and the document
//! is parsed and checked against the limits (`limits`). The caller's role is checked against
//! the operation's root fields (`access`), and the request gets its own DataLoader
//! (`loaders`). While it runs, pages are held to `--max-page-size` (`connection`). Afterwards
//! every execution error gets a code (`errors`) and an HTTP request is counted in the metrics.
//!
//! These steps are not async-graphql extensions on purpose. With any extension registered,
//! async-graphql 7.2 resolves every field through the extension chain. For each field it looks
//! the field up in the registry, builds a `ResolveInfo` and boxes one more future per
//! extension, and a stock page of 100 SKUs in 20 warehouses has about 10,000 fields. None of the steps needs a
//! field's resolution, so they run around `Schema::execute` and the schema has no extension
//! (BENCHMARKS.md gives the measured difference).

use std::{sync::Arc, time::Instant};

use async_graphql::{
    Data, Executor, Request, Response, ServerResult,
    futures_util::stream::{self, BoxStream, StreamExt as _},
};

use super::{AppSchema, access, connection, errors, limits::QueryLimits, loaders, persisted::PersistedQueries};
use crate::{db::Db, http::check_persisted_query_method, telemetry};

/// The schema with the server's checks around it; cloning it is cheap.
#[derive(Clone)]
pub struct ApiExecutor {
    schema: AppSchema,
    checks: Arc<Checks>,
}

/// The state of the checks, shared by every request.
struct Checks {
    db: Db,
    limits: QueryLimits,
    persisted: PersistedQueries,
}

impl ApiExecutor {
    pub(super) fn new(schema: AppSchema, db: Db, limits: QueryLimits, persisted: PersistedQueries) -> Self {
        ApiExecutor { schema, checks: Arc::new(Checks { db, limits, persisted }) }
    }

    /// Returns the schema, without the checks.
    pub fn schema(&self) -> &AppSchema {
        &self.schema
    }

    /// Runs the checks on `request`, in the order of the module's documentation, and gives it
    /// its DataLoader. `selected` receives the operation as soon as the document parses, so a
    /// request rejected by a later check is still counted under its operation.
    async fn prepare(
        &self,
        mut request: Request,
        session: Option<&Data>,
        selected: &mut Option<telemetry::SelectedOperation>,
    ) -> ServerResult<Request> {
        let checks = &self.checks;
        let store_as = checks.persisted.resolve(&mut request).await?;
        let operation_name = request.operation_name.clone();
        if let Ok(document) = request.parsed_query() {
            *selected = telemetry::record_operation(document, operation_name.as_deref());
            // Stored even if a limit rejects it, so a client that later sends only the hash
            // gets the same rejection rather than `PERSISTED_QUERY_NOT_FOUND`.
            if let Some(hash) = store_as {
                let document = document.clone();
                checks.persisted.store(hash, document).await;
            }
        }
        check_persisted_query_method(&mut request)?;
        checks.limits.check_request(&mut request)?;
        access::authorize(&mut request, session).await?;
        Ok(request.data(loaders::new_loader(&checks.db)))
    }
}

impl Executor for ApiExecutor {
    async fn execute(&self, request: Request) -> Response {
        let started = Instant::now();
        let mut selected = None;
        let response = match self.prepare(request, None, &mut selected).await {
            Ok(request) => {
                let max_page_size = self.checks.limits.max_page_size();
                let mut response = connection::with_max_page_size(max_page_size, self.schema.execute(request)).await;
                errors::code_execution_errors(&mut response);
                response
            }
            Err(error) => Response::from_errors(vec![error]),
        };
        telemetry::observe_graphql_request(selected.as_ref(), &response, started.elapsed());
        response
    }

    /// Runs an operation on a WebSocket connection: a subscription's stream of events, or the
    /// one response of a query or mutation.
    fn execute_stream(&self, request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        // Counted from now, while the connection's scope is current, until the stream ends.
        let running = telemetry::start_operation();
        let executor = self.clone();
        let max_page_size = self.checks.limits.max_page_size();
        let responses = stream::once(async move {
            match executor.prepare(request, session_data.as_deref(), &mut None).await {
                Ok(request) => executor.schema.execute_stream_with_session_data(request, session_data.unwrap_or_default()),
                Err(error) => stream::iter([Response::from_errors(vec![error])]).boxed(),
            }
        })
        .flatten()
        .map(move |mut response| {
            let _ = &running;
            errors::code_execution_errors(&mut response);
            response
        });
        connection::with_max_page_size_stream(max_page_size, responses).boxed()
    }
}
