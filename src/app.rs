//! The application factory: configuration and a database in, an HTTP router out.
//!
//! `main` and the tests both start the server through [`serve`], so tests run exactly the
//! production stack on a port the operating system picks.

use std::{net::SocketAddr, time::Duration};

use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::json;
use tokio::net::TcpListener;

use crate::{
    db::Db,
    event_hub::EventHub,
    graphql,
    service::{bookings, events},
};

/// Builds the router with default [`Settings`]; see [`router_with`].
pub fn router(db: Db) -> Router {
    router_with(db, &Settings::default())
}

/// Builds the router: GraphQL at `/graphql`, GraphiQL at `/`, health at `/health`. Starts the
/// event relay that feeds subscriptions; it stops when the router is dropped.
pub fn router_with(db: Db, settings: &Settings) -> Router {
    let _ = settings;
    let schema = graphql::build_schema(db.clone(), EventHub::start(db.clone()));
    crate::http::graphql_routes(schema)
        .route("/health", get(health))
        .layer(axum::Extension(db))
        .layer(tower_http::trace::TraceLayer::new_for_http())
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings { event_retention: Some(chrono::Duration::days(30)) }
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
/// bookings and removing events past their retention in the background meanwhile.
pub async fn serve_with(
    listener: TcpListener,
    db: Db,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut background = vec![tokio::spawn(sweep_expired_bookings(db.clone()))];
    if let Some(retention) = settings.event_retention {
        background.push(tokio::spawn(prune_events(db.clone(), retention)));
    }
    let app = router_with(db, &settings);
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    for task in background {
        task.abort();
    }
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
