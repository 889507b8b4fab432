//! HTTP routes of the GraphQL API and of the GraphiQL IDE.
//!
//! - `POST /graphql` and `GET /graphql` serve GraphQL over HTTP as the
//!   GraphQL-over-HTTP specification describes it, checked with the
//!   `graphql-http` audit in `tests/http-audit/`.
//! - `GET /graphql` with `Upgrade: websocket` serves subscriptions with the
//!   `graphql-transport-ws` and `graphql-ws` subprotocols.
//! - `GET /` serves GraphiQL, and `GET /graphiql/{file}` its files, all
//!   compiled into the binary (see `build.rs`).

mod auth;
mod connection;
pub mod cors;
mod graphiql;
mod graphql;
mod media_type;
mod params;
mod persisted;
mod rejection;
mod websocket;

#[cfg(test)]
mod tests;

use async_graphql::Executor;
use axum::{Router, routing::get};

pub use persisted::check_method as check_persisted_query_method;

/// Builds the routes for GraphQL over HTTP and WebSocket at `/graphql` and for
/// GraphiQL at `/`.
///
/// `executor` is usually an `async_graphql::Schema`. Other methods on
/// `/graphql` get 405 Method Not Allowed, and HEAD runs the GET handler and
/// drops the body.
pub fn graphql_routes<E: Executor>(executor: E) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql::<E>)
                .post(graphql::post_graphql::<E>)
                .fallback(graphql::method_not_allowed),
        )
        .merge(graphiql::routes())
        .with_state(executor)
}
