//! The GraphQL schema.

pub mod access;
pub mod availability_api;
pub mod booking_api;
pub mod booking_types;
pub mod connection;
pub mod errors;
pub mod executor;
pub mod events_api;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod persisted;
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
    limits::Limits,
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

/// Builds the schema over a database and the event hub that feeds its subscriptions, inside
/// the executor that checks every request against `limits` and the access rules and gives it
/// its DataLoader.
pub fn build_schema(db: Db, hub: Arc<EventHub>, limits: &Limits) -> executor::ApiExecutor {
    // No extension: the executor does their work (see `executor` for why).
    let mut builder = Schema::build(QueryRoot::default(), MutationRoot::default(), events_api::SubscriptionRoot);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    let schema = builder.data(db.clone()).data(hub).finish();
    executor::ApiExecutor::new(
        schema,
        db,
        limits::QueryLimits::new(limits),
        persisted::PersistedQueries::new(limits.persisted_query_cache_size),
    )
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
