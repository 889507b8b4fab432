//! The GraphQL schema.

pub mod availability_api;
pub mod booking_api;
pub mod booking_types;
pub mod connection;
pub mod errors;
pub mod events_api;
pub mod loaders;
pub mod mutation;
pub mod prefetch;
pub mod query;
pub mod scalars;
pub mod types;

use std::sync::Arc;

use async_graphql::{Context, ID, MergedObject, Schema};

use crate::{
    db::Db,
    error::Error,
    event_hub::EventHub,
    ids::{NodeType, decode},
    service::stock::ScopeRequest,
};

/// Entry point of every query.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    query::InventoryQuery,
    booking_api::BookingQuery,
    availability_api::AvailabilityQuery,
    events_api::EventQuery,
);

/// Entry point of every mutation.
#[derive(MergedObject, Default)]
pub struct MutationRoot(mutation::InventoryMutation, booking_api::BookingMutation, availability_api::AvailabilityMutation);

/// The schema type served over HTTP.
pub type AppSchema = Schema<QueryRoot, MutationRoot, events_api::SubscriptionRoot>;

/// The deepest query accepted. Channels and warehouses refer to each other, so each level can
/// multiply the response; 15 levels fit GraphiQL's introspection query and every real use.
pub const MAX_QUERY_DEPTH: usize = 15;

/// The most fields a query may select, counting each fragment spread in full, so a query that
/// doubles fragments (4 million fields in 1 kB) is rejected before it runs.
pub const MAX_QUERY_COMPLEXITY: usize = 5_000;

/// Builds the schema over a database and the event hub that feeds its subscriptions, with the
/// DataLoaders registered.
pub fn build_schema(db: Db, hub: Arc<EventHub>) -> AppSchema {
    Schema::build(QueryRoot::default(), MutationRoot::default(), events_api::SubscriptionRoot)
        .extension(loaders::PerRequestLoader::new(db.clone()))
        .extension(errors::CodedErrors)
        // TODO(limits): make the limits configurable and report them with QUERY_TOO_COMPLEX.
        .limit_depth(MAX_QUERY_DEPTH)
        .limit_complexity(MAX_QUERY_COMPLEXITY)
        .data(db)
        .data(hub)
        .finish()
}

/// The schema without a database, for printing and introspecting its types.
pub fn bare_schema() -> AppSchema {
    Schema::build(QueryRoot::default(), MutationRoot::default(), events_api::SubscriptionRoot).finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    bare_schema().sdl()
}

/// The database of the running schema.
fn db<'a>(ctx: &Context<'a>) -> &'a Db {
    ctx.data_unchecked::<Db>()
}

/// Parses the scope arguments of a stock query.
fn scope_request(channel_id: Option<&ID>, warehouse_ids: Option<&[ID]>) -> Result<ScopeRequest, Error> {
    let channel_id = channel_id.map(|id| decode("channelId", NodeType::Channel, id)).transpose()?;
    let warehouse_ids = match warehouse_ids {
        Some(ids) => {
            let mut decoded = ids
                .iter()
                .enumerate()
                .map(|(index, id)| decode(&format!("warehouseIds.{index}"), NodeType::Warehouse, id))
                .collect::<Result<Vec<_>, _>>()?;
            decoded.sort_unstable();
            decoded.dedup();
            Some(decoded)
        }
        None => None,
    };
    Ok(ScopeRequest { channel_id, warehouse_ids })
}
