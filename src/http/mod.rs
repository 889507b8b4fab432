//! Temporary HTTP routes; replaced by the GraphQL-over-HTTP module.

use async_graphql::Executor;
use async_graphql_axum::GraphQL;
use axum::{Router, routing::post_service};

/// Routes for GraphQL at `/graphql`.
pub fn graphql_routes<E: Executor>(executor: E) -> Router {
    Router::new().route("/graphql", post_service(GraphQL::new(executor)))
}
