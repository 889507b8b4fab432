//! GraphQL types of bookings and shipments.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use entity::{booking, booking_line, shipment, shipment_line};

use super::{
    loaders::{AppLoader, BookingLines, BookingShipments, ChannelId, ShipmentLines, SkuId, WarehouseId},
    types::{Channel, Sku, Warehouse},
};
use crate::{
    ids::{NodeType, encode},
    service::{bookings, now},
};

/// Where a booking is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum BookingStatus {
    /// Holding stock.
    Active,
    /// Given back before everything shipped; holds nothing.
    Released,
    /// Everything it held has shipped, or the rest was released after a shipment.
    Consumed,
    /// Past `expiresAt`: holds nothing from that instant on.
    Expired,
}

impl BookingStatus {
    fn from_stored(status: &str) -> BookingStatus {
        match status {
            bookings::status::RELEASED => BookingStatus::Released,
            bookings::status::CONSUMED => BookingStatus::Consumed,
            bookings::status::EXPIRED => BookingStatus::Expired,
            _ => BookingStatus::Active,
        }
    }

    /// The stored form, for filters.
    pub fn as_stored(self) -> &'static str {
        match self {
            BookingStatus::Active => bookings::status::ACTIVE,
            BookingStatus::Released => bookings::status::RELEASED,
            BookingStatus::Consumed => bookings::status::CONSUMED,
            BookingStatus::Expired => bookings::status::EXPIRED,
        }
    }
}

/// Stock held for an order in a channel, allocated to warehouses.
pub struct Booking(pub booking::Model);

/// Stock held for an order in a channel, allocated to warehouses.
#[Object]
impl Booking {
    /// Opaque global id.
    pub(crate) async fn id(&self) -> ID {
        encode(NodeType::Booking, self.0.id)
    }

    /// The order this booking holds stock for.
    async fn order_reference(&self) -> &str {
        &self.0.order_reference
    }

    /// The channel the order was placed in.
    async fn channel(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Channel>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(ChannelId(self.0.channel_id)).await?.map(Channel))
    }

    /// Current status. An active booking past `expiresAt` reads as `EXPIRED` at once.
    async fn status(&self) -> BookingStatus {
        BookingStatus::from_stored(bookings::effective_status(&self.0, now()))
    }

    /// From this instant the booking holds nothing; null for no expiry.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }

    /// The allocation: one line per order line and warehouse, by order line.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BookingLine>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let lines = loader.load_one(BookingLines(self.0.id)).await?.unwrap_or_default();
        let holding = bookings::is_holding(&self.0, now());
        Ok(lines.into_iter().map(|line| BookingLine { line, holding }).collect())
    }

    /// Shipments made from this booking, oldest first.
    async fn shipments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Shipment>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let found = loader.load_one(BookingShipments(self.0.id)).await?.unwrap_or_default();
        Ok(found.into_iter().map(Shipment).collect())
    }

    /// When the booking was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the booking last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The part of an order line allocated to one warehouse.
pub struct BookingLine {
    line: booking_line::Model,
    /// Whether the booking still holds stock (active and not expired).
    holding: bool,
}

/// The part of an order line allocated to one warehouse.
#[Object]
impl BookingLine {
    /// Position of the order line in the booking request, from 1. An order line split across
    /// warehouses has several booking lines with the same number.
    async fn line_number(&self) -> i32 {
        self.line.line_number
    }

    /// The SKU.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(SkuId(self.line.sku_id)).await?.map(Sku))
    }

    /// The warehouse the units are allocated to.
    async fn warehouse(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Warehouse>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(WarehouseId(self.line.warehouse_id)).await?.map(Warehouse::from))
    }

    /// Units allocated here when booked (or moved here by a shipment).
    async fn quantity(&self) -> i64 {
        self.line.quantity
    }

    /// Units shipped.
    async fn consumed_quantity(&self) -> i64 {
        self.line.consumed_quantity
    }

    /// Units released, expired or moved to another warehouse.
    async fn released_quantity(&self) -> i64 {
        self.line.released_quantity
    }

    /// Units still held: 0 once the booking is no longer active.
    async fn held_quantity(&self) -> i64 {
        if self.holding { bookings::held(&self.line) } else { 0 }
    }
}

/// Booked stock that left its warehouses.
pub struct Shipment(pub shipment::Model);

/// Booked stock that left its warehouses.
#[Object]
impl Shipment {
    /// Opaque global id.
    pub(crate) async fn id(&self) -> ID {
        encode(NodeType::Shipment, self.0.id)
    }

    /// Reference on the shipment's ledger rows.
    async fn reference(&self) -> &str {
        &self.0.reference
    }

    /// Whether the shipment was cancelled (its stock restored).
    async fn cancelled(&self) -> bool {
        self.0.status == bookings::shipment_status::CANCELLED
    }

    /// Units shipped per SKU and warehouse.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ShipmentLine>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let found = loader.load_one(ShipmentLines(self.0.id)).await?.unwrap_or_default();
        Ok(found.into_iter().map(ShipmentLine).collect())
    }

    /// When the shipment was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the shipment was cancelled, if it was.
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.0.cancelled_at
    }
}

/// Units of one SKU that left one warehouse in a shipment.
pub struct ShipmentLine(pub shipment_line::Model);

/// Units of one SKU that left one warehouse in a shipment.
#[Object]
impl ShipmentLine {
    /// The SKU.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(SkuId(self.0.sku_id)).await?.map(Sku))
    }

    /// The warehouse the units left.
    async fn warehouse(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Warehouse>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(WarehouseId(self.0.warehouse_id)).await?.map(Warehouse::from))
    }

    /// Units shipped.
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }
}
