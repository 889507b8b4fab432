//! The application factory: configuration and a database in, an HTTP router out.
//!
//! `main` and the tests both start the server through [`serve`], so tests run exactly the
//! production stack on a port the operating system picks.

use std::{net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::json;
use tokio::{net::TcpListener, time::Instant};

use crate::{
    auth::{AuthMode, Authenticator},
    db::Db,
    event_hub::EventHub,
    graphql,
    http::cors::{self, CorsOrigins},
    limits::Limits,
    metrics::Metrics,
    service::{bookings, events},
    shutdown::Shutdown,
    telemetry,
};

/// Builds the router with default [`Settings`]; see [`router_with`].
pub fn router(db: Db) -> Router {
    router_with(db, &Settings::default())
}

/// Builds the router: GraphQL at `/graphql`, GraphiQL at `/`, health at `/health`, metrics at
/// `/metrics`. Starts the event relay that feeds subscriptions; it stops when the router is
/// dropped.
pub fn router_with(db: Db, settings: &Settings) -> Router {
    App::build(db, settings).router
}

/// A built app: its router, and what its shutdown has to reach.
struct App {
    router: Router,
    hub: Arc<EventHub>,
    shutdown: Shutdown,
}

impl App {
    /// Builds the router, the event hub and the shutdown signal of one server.
    fn build(db: Db, settings: &Settings) -> App {
        let hub = EventHub::start(db.clone());
        let shutdown = Shutdown::default();
        let metrics = Arc::new(Metrics::new(db.clone(), Arc::clone(&hub), shutdown.clone()));
        let schema = graphql::build_schema(db.clone(), Arc::clone(&hub), &settings.limits);
        let scrape = Arc::clone(&metrics);
        let router = crate::http::graphql_routes(schema)
            .route("/health", get(health))
            // Public like /health, because it shows counts and operation names, never inventory
            // data (see the README's "Operations").
            .route("/metrics", get(move || crate::metrics::serve(Arc::clone(&scrape))))
            .layer(axum::Extension(Authenticator::new(db.clone(), settings.auth)))
            .layer(axum::Extension(db))
            // The GraphQL handler reads the body and batch limits from here.
            .layer(axum::Extension(settings.limits.clone()))
            // WebSocket connections watch it to close at shutdown.
            .layer(axum::Extension(shutdown.clone()));
        let router = match cors::layer(&settings.cors_origins) {
            Some(cors) => router.layer(cors),
            None => router,
        };
        // Outermost, so every response (preflights too) gets an id and every log line a span.
        let router = router
            .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(telemetry::request_span))
            .layer(axum::middleware::from_fn_with_state(metrics, telemetry::track_request));
        App { router, hub, shutdown }
    }
}

/// Reports liveness and whether the database answers.
async fn health(axum::Extension(db): axum::Extension<Db>) -> impl IntoResponse {
    match db.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok", "database": "ok" }))),
        Err(err) => {
            tracing::error!(error = %err.message(), "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}

/// How often expired bookings are marked `EXPIRED` and their ledger rows written. Reads treat
/// an expired booking as holding nothing from its expiry instant, so this only delays the
/// bookkeeping, never the stock.
const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// How often events older than the retention period are removed.
const EVENT_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// Settings of a running server beyond its database.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long inventory events are kept for replay; `None` keeps them forever.
    pub event_retention: Option<chrono::Duration>,
    /// Whether requests need an API token. Off by default, so tests and tools that embed the
    /// server need none; the `serve` command turns it on unless given `--no-auth`.
    pub auth: AuthMode,
    /// Limits on the size and shape of requests.
    pub limits: Limits,
    /// How long in-flight requests and WebSocket operations get to finish once shutdown
    /// starts. What still runs then is cut off.
    pub shutdown_grace: Duration,
    /// The web origins that may call the API from a browser, none by default.
    pub cors_origins: CorsOrigins,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            event_retention: Some(chrono::Duration::days(30)),
            auth: AuthMode::Disabled,
            limits: Limits::default(),
            shutdown_grace: Duration::from_secs(10),
            cors_origins: CorsOrigins::SameOrigin,
        }
    }
}

/// Serves the app with default [`Settings`]; see [`serve_with`].
pub async fn serve(
    listener: TcpListener,
    db: Db,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, db, Settings::default(), shutdown).await
}

/// Serves the app on an already bound listener until `shutdown` completes, sweeping expired
/// bookings and removing events past their retention in the background meanwhile. Then shuts
/// down gracefully within `settings.shutdown_grace`; see [`shut_down`].
pub async fn serve_with(
    listener: TcpListener,
    db: Db,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The sweeper and the pruner use a pool of their own, so they never wait behind requests for
    // a connection (nor show up in a test's count of the requests' statements).
    let chores = match db.background_pool().await {
        Ok(pool) => pool,
        Err(err) => {
            tracing::warn!(error = format!("{err:#}"), "no separate pool for background work; sharing the request pool");
            db.clone()
        }
    };
    let mut background = vec![tokio::spawn(sweep_expired_bookings(chores.clone()))];
    if let Some(retention) = settings.event_retention {
        background.push(tokio::spawn(prune_events(chores.clone(), retention)));
    }
    let app = App::build(db, &settings);
    let stopping = app.shutdown.clone();
    let serving = axum::serve(listener, app.router)
        .with_graceful_shutdown(async move { stopping.started().await; })
        .into_future();
    tokio::pin!(serving);

    let ended_early = tokio::select! {
        result = &mut serving => Some(result),
        () = shutdown => None,
    };
    let result = match ended_early {
        Some(result) => result,
        None => shut_down(serving, &app.shutdown, &app.hub, settings.shutdown_grace).await,
    };
    for task in background {
        task.abort();
    }
    result
}

/// Shuts the server down within `grace`. axum stops accepting connections and lets in-flight
/// requests finish, the event hub ends every subscription, and each WebSocket connection
/// closes once its operations have ended. What still runs when `grace` is over is cut off,
/// because the process exits (embedded, those tasks are no longer awaited).
async fn shut_down(
    serving: Pin<&mut impl Future<Output = std::io::Result<()>>>,
    shutdown: &Shutdown,
    hub: &EventHub,
    grace: Duration,
) -> std::io::Result<()> {
    let started = Instant::now();
    tracing::info!(
        grace_seconds = grace.as_secs_f64(),
        websocket_connections = shutdown.open_connections(),
        subscriptions = hub.subscriber_count(),
        "shutdown started: refusing new connections, finishing in-flight requests, ending subscriptions"
    );
    shutdown.begin(started + grace);
    hub.shut_down();

    let finished = tokio::time::timeout(grace, async {
        let result = serving.await;
        shutdown.connections_closed().await;
        result
    })
    .await;
    let result = finished.unwrap_or_else(|_| {
        tracing::warn!(
            grace_seconds = grace.as_secs_f64(),
            websocket_connections = shutdown.open_connections(),
            "the shutdown grace period is over with requests or connections still open; they are cut off"
        );
        Ok(())
    });
    tracing::info!(duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX), "shutdown finished");
    result
}

async fn prune_events(db: Db, retention: chrono::Duration) {
    let mut ticks = tokio::time::interval(EVENT_PRUNE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match events::prune(&db, chrono::Utc::now() - retention).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "inventory events past their retention removed"),
            Err(err) => tracing::error!(error = %err.message(), "removing old inventory events failed; retrying at the next tick"),
        }
    }
}

async fn sweep_expired_bookings(db: Db) {
    let mut ticks = tokio::time::interval(EXPIRY_SWEEP_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match bookings::sweep_all_expired(&db).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "expired bookings swept"),
            Err(err) => tracing::error!(error = %err.message(), "sweeping expired bookings failed; retrying at the next tick"),
        }
    }
}

/// Binds `addr` and reports the address actually bound (useful with port 0).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
