//! SeaORM entities of the Stockroom inventory schema.
//!
//! One module per table. The tables themselves, with their constraints and indexes, are created
//! by the `migration` crate; these entities only describe rows. Quantities are `i64` whole units
//! and timestamps are UTC.

pub mod api_token;
pub mod availability_estimate;
pub mod booking;
pub mod booking_line;
pub mod channel;
pub mod idempotency_record;
pub mod inventory_event;
pub mod inventory_ledger;
pub mod product;
pub mod product_inventory_configuration;
pub mod replenishment_item;
pub mod shipment;
pub mod shipment_line;
pub mod sku;
pub mod stock_watch;
pub mod warehouse;
pub mod warehouse_channel;
pub mod warehouse_item;

pub mod prelude {
    pub use super::api_token::Entity as ApiToken;
    pub use super::availability_estimate::Entity as AvailabilityEstimate;
    pub use super::booking::Entity as Booking;
    pub use super::booking_line::Entity as BookingLine;
    pub use super::channel::Entity as Channel;
    pub use super::idempotency_record::Entity as IdempotencyRecord;
    pub use super::inventory_event::Entity as InventoryEvent;
    pub use super::inventory_ledger::Entity as InventoryLedger;
    pub use super::product::Entity as Product;
    pub use super::product_inventory_configuration::Entity as ProductInventoryConfiguration;
    pub use super::replenishment_item::Entity as ReplenishmentItem;
    pub use super::shipment::Entity as Shipment;
    pub use super::shipment_line::Entity as ShipmentLine;
    pub use super::sku::Entity as Sku;
    pub use super::stock_watch::Entity as StockWatch;
    pub use super::warehouse::Entity as Warehouse;
    pub use super::warehouse_channel::Entity as WarehouseChannel;
    pub use super::warehouse_item::Entity as WarehouseItem;
}
