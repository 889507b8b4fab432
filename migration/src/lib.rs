//! SeaORM migrations of the Stockroom inventory schema.
//!
//! The server runs them at start-up and `stockroom migrate` runs them on demand. Every migration
//! works on both SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261204_000001_inventory_schema;
mod m20261204_000002_shipments;
mod m20261204_000003_replenishment;
mod m20261205_000004_inventory_events;
mod m20261205_000005_api_tokens;

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261204_000001_inventory_schema::Migration),
            Box::new(m20261204_000002_shipments::Migration),
            Box::new(m20261204_000003_replenishment::Migration),
            Box::new(m20261205_000004_inventory_events::Migration),
            Box::new(m20261205_000005_api_tokens::Migration),
        ]
    }
}
