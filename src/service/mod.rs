//! Services: every read and write of the inventory, independent of GraphQL.
//!
//! Resolvers, importers and the demo data all call these functions, so every path applies the
//! same checks and writes the same ledger rows. Write services own their transactions (see
//! [`crate::db::Db::write`]).

pub mod activities;
pub mod allocation;
pub mod availability;
pub mod bookings;
pub mod catalog;
pub mod channels;
pub mod estimates;
pub mod events;
pub mod idempotency;
pub mod inventory;
pub mod ledger;
pub mod replenishments;
pub mod stock;
pub mod tokens;
pub mod warehouses;

use chrono::{DateTime, Utc};

/// Who made a change and why, recorded on every ledger row it writes.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ChangeContext {
    /// Free text explaining the change.
    pub reason: Option<String>,
    /// Makes a retried mutation return its first result instead of changing stock twice.
    pub idempotency_key: Option<String>,
    /// The client or tool that made the change, such as `import`.
    pub actor: Option<String>,
}

impl ChangeContext {
    /// A context with only an actor, for tools such as importers.
    pub fn by(actor: &str) -> Self {
        ChangeContext { actor: Some(actor.to_owned()), ..Default::default() }
    }
}

/// The current time, the one clock every service uses.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}
