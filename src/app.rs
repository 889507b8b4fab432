//! The application factory: configuration and a database in, an HTTP router out.
//!
//! `main` and the tests both start the server through [`serve`], so tests run exactly the
//! production stack on a port the operating system picks.

use std::net::SocketAddr;

use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::json;
use tokio::net::TcpListener;

use crate::{db::Db, graphql};

/// Builds the router: GraphQL at `/graphql`, GraphiQL at `/`, health at `/health`.
pub fn router(db: Db) -> Router {
    let schema = graphql::build_schema(db.clone());
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

/// Serves the app on an already bound listener until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    db: Db,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(db);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Binds `addr` and reports the address actually bound (useful with port 0).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
