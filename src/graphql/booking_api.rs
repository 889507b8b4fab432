//! Queries and mutations of bookings and shipments.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::booking;

use super::{
    booking_types::{Booking, BookingStatus, Shipment},
    connection::{KeyOrder, Page, PageArgs, paginate},
    db,
};
use crate::{
    domain::SkuCode,
    error::Error,
    ids::{NodeType, decode},
    service::{
        allocation::AllocationStrategy,
        bookings::{self, BookInventory, BookingFilter, OrderLine, ReleaseLine, ShipmentLineRequest},
        catalog,
    },
};

use super::mutation::change_context;

/// Filter of the booking list.
#[derive(InputObject, Default)]
pub struct BookingListFilter {
    /// Only bookings with this status (an active booking past its expiry counts as `EXPIRED`).
    pub status: Option<BookingStatus>,
    /// Only bookings of this order.
    pub order_reference: Option<String>,
    /// Only bookings made in this channel.
    pub channel_id: Option<ID>,
    /// Only bookings with a line of this SKU.
    pub sku: Option<String>,
}

/// Queries of bookings.
#[derive(Default)]
pub struct BookingQuery;

/// Queries of bookings.
#[Object]
impl BookingQuery {
    /// Bookings, newest first.
    async fn bookings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<BookingListFilter>,
        #[graphql(desc = "Number of bookings from the newest, at most 500.")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Number of bookings from the oldest, at most 500.")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> async_graphql::Result<Page<Booking>> {
        let filter = filter.unwrap_or_default();
        let conn = db(ctx).conn();
        let sku_id = match &filter.sku {
            Some(code) => {
                let code = SkuCode::parse("filter.sku", code)?;
                Some(catalog::find_sku_or_none(conn, &code).await?.map(|sku| sku.id).unwrap_or(0))
            }
            None => None,
        };
        let service_filter = BookingFilter {
            status: filter.status.map(BookingStatus::as_stored),
            order_reference: filter.order_reference,
            channel_id: filter.channel_id.as_ref().map(|id| decode("filter.channelId", NodeType::Channel, id)).transpose()?,
            sku_id,
        };
        let select = bookings::select_bookings(&service_filter);
        let args = PageArgs { first, after, last, before };
        Ok(paginate(conn, select, booking::Column::Id, |m| m.id, KeyOrder::Descending, args, Booking).await?)
    }

    /// One booking by id; null when it does not exist.
    async fn booking(&self, ctx: &Context<'_>, #[graphql(desc = "Global id.")] id: ID) -> async_graphql::Result<Option<Booking>> {
        let id = decode("id", NodeType::Booking, &id)?;
        Ok(bookings::find_booking(db(ctx).conn(), id).await?.map(Booking))
    }
}

/// One order line of `bookInventory`.
#[derive(InputObject)]
pub struct BookingLineInput {
    /// SKU code.
    pub sku: String,
    /// Units to hold, 1 to 1,000,000,000.
    pub quantity: i64,
}

/// A delivery point.
#[derive(InputObject)]
pub struct ShipToInput {
    /// Latitude in degrees, -90 to 90.
    pub latitude: f64,
    /// Longitude in degrees, -180 to 180.
    pub longitude: f64,
}

/// Input of `bookInventory`.
#[derive(InputObject)]
pub struct BookInventoryInput {
    /// The order, 1 to 255 characters; written on the ledger rows as their reference.
    pub order_reference: String,
    /// The channel the order was placed in; only its active linked warehouses supply it.
    pub channel_id: ID,
    /// Order lines, 1 to 1000. The same SKU on two lines counts as their sum for the
    /// order-quantity rules.
    pub lines: Vec<BookingLineInput>,
    /// From this instant the booking holds nothing; must be in the future. Null for no expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// How lines are spread across warehouses. Default `PRIORITY`.
    #[graphql(default_with = "AllocationStrategy::Priority")]
    pub strategy: AllocationStrategy,
    /// Delivery point, required by `NEAREST`.
    pub ship_to: Option<ShipToInput>,
    /// Free text recorded in the ledger.
    pub reason: Option<String>,
    /// Makes a retried request return the first result and change nothing.
    pub idempotency_key: Option<String>,
}

/// Result of a booking mutation.
#[derive(SimpleObject)]
pub struct BookingPayload {
    /// The booking after the change, with its allocation in `lines`.
    pub booking: Booking,
}

/// Part of a booking to release.
#[derive(InputObject)]
pub struct ReleaseLineInput {
    /// SKU code.
    pub sku: String,
    /// Only the units held in this warehouse.
    pub warehouse_id: Option<ID>,
    /// Units to release; all held units of the SKU (in the warehouse, when given) by default.
    pub quantity: Option<i64>,
}

/// Input of `releaseBooking`.
#[derive(InputObject)]
pub struct ReleaseBookingInput {
    /// The booking.
    pub booking_id: ID,
    /// Parts to release; omit to release everything the booking holds.
    pub lines: Option<Vec<ReleaseLineInput>>,
    /// Free text recorded in the ledger.
    pub reason: Option<String>,
    /// Makes a retried request return the first result and change nothing.
    pub idempotency_key: Option<String>,
}

/// One line of `createShipment`.
#[derive(InputObject)]
pub struct ShipmentLineInput {
    /// SKU code.
    pub sku: String,
    /// The active warehouse the units leave; another warehouse of the booking's channel than
    /// the allocated one moves the hold there first.
    pub warehouse_id: ID,
    /// Units shipped, 1 to 1,000,000,000.
    pub quantity: i64,
}

/// Input of `createShipment`.
#[derive(InputObject)]
pub struct CreateShipmentInput {
    /// The booking whose held stock ships.
    pub booking_id: ID,
    /// Lines, 1 to 1000.
    pub lines: Vec<ShipmentLineInput>,
    /// Reference written on the ledger rows, such as a tracking number; `shipment-ID` by
    /// default.
    pub reference: Option<String>,
    /// Free text recorded in the ledger.
    pub reason: Option<String>,
    /// Makes a retried request return the first result and change nothing.
    pub idempotency_key: Option<String>,
}

/// Input of `cancelShipment`.
#[derive(InputObject)]
pub struct CancelShipmentInput {
    /// The shipment.
    pub id: ID,
    /// Free text recorded in the ledger.
    pub reason: Option<String>,
    /// Makes a retried request return the first result and change nothing.
    pub idempotency_key: Option<String>,
}

/// Result of a shipment mutation.
#[derive(SimpleObject)]
pub struct ShipmentPayload {
    /// The shipment.
    pub shipment: Shipment,
    /// Its booking after the change.
    pub booking: Booking,
}

/// Mutations of bookings and shipments.
#[derive(Default)]
pub struct BookingMutation;

/// Mutations of bookings and shipments.
#[Object]
impl BookingMutation {
    /// Holds stock for every line of an order, atomically: all lines or none. Lines are
    /// checked against the product's order-quantity rules and the channel's available stock
    /// (unless back orders are allowed), then allocated to warehouses by `strategy`.
    async fn book_inventory(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: BookInventoryInput) -> async_graphql::Result<BookingPayload> {
        let lines = input
            .lines
            .iter()
            .enumerate()
            .map(|(index, line)| {
                Ok(OrderLine { sku: SkuCode::parse(&format!("lines.{index}.sku"), &line.sku)?, quantity: line.quantity })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let request = BookInventory {
            order_reference: input.order_reference,
            channel_id: decode("channelId", NodeType::Channel, &input.channel_id)?,
            lines,
            expires_at: input.expires_at,
            strategy: input.strategy,
            ship_to: input.ship_to.map(|point| (point.latitude, point.longitude)),
        };
        let context = change_context(input.idempotency_key, input.reason)?;
        let outcome = bookings::book_inventory(db(ctx), request, &context).await?;
        booking_payload(ctx, outcome.booking_id).await
    }

    /// Gives back everything a booking holds, or the given parts. The stock is available
    /// again; on hand does not change. Releasing a booking that is not active is
    /// `BOOKING_NOT_ACTIVE`.
    async fn release_booking(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: ReleaseBookingInput) -> async_graphql::Result<BookingPayload> {
        let booking_id = decode("bookingId", NodeType::Booking, &input.booking_id)?;
        let lines = match input.lines {
            None => None,
            Some(lines) => Some(
                lines
                    .iter()
                    .enumerate()
                    .map(|(index, line)| {
                        Ok(ReleaseLine {
                            sku: SkuCode::parse(&format!("lines.{index}.sku"), &line.sku)?,
                            warehouse_id: line.warehouse_id.as_ref().map(|id| decode(&format!("lines.{index}.warehouseId"), NodeType::Warehouse, id)).transpose()?,
                            quantity: line.quantity,
                        })
                    })
                    .collect::<Result<Vec<_>, Error>>()?,
            ),
        };
        let context = change_context(input.idempotency_key, input.reason)?;
        let outcome = bookings::release_booking(db(ctx), booking_id, lines, &context).await?;
        booking_payload(ctx, outcome.booking_id).await
    }

    /// Ships booked stock: on hand and booked both drop in the named warehouses. Shipping more
    /// than the booking holds is `INSUFFICIENT_STOCK`.
    async fn create_shipment(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: CreateShipmentInput) -> async_graphql::Result<ShipmentPayload> {
        let booking_id = decode("bookingId", NodeType::Booking, &input.booking_id)?;
        let lines = input
            .lines
            .iter()
            .enumerate()
            .map(|(index, line)| {
                Ok(ShipmentLineRequest {
                    sku: SkuCode::parse(&format!("lines.{index}.sku"), &line.sku)?,
                    warehouse_id: decode(&format!("lines.{index}.warehouseId"), NodeType::Warehouse, &line.warehouse_id)?,
                    quantity: line.quantity,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let context = change_context(input.idempotency_key, input.reason)?;
        let outcome = bookings::create_shipment(db(ctx), booking_id, lines, input.reference, &context).await?;
        shipment_payload(ctx, outcome.shipment_id).await
    }

    /// Cancels a shipment: its units go back on hand and are held by the booking again. A
    /// second cancel is `CONFLICT`.
    async fn cancel_shipment(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: CancelShipmentInput) -> async_graphql::Result<ShipmentPayload> {
        let id = decode("id", NodeType::Shipment, &input.id)?;
        let context = change_context(input.idempotency_key, input.reason)?;
        let outcome = bookings::cancel_shipment(db(ctx), id, &context).await?;
        shipment_payload(ctx, outcome.shipment_id).await
    }
}

async fn booking_payload(ctx: &Context<'_>, booking_id: i64) -> async_graphql::Result<BookingPayload> {
    let booking = bookings::find_booking(db(ctx).conn(), booking_id).await?;
    let booking = booking.ok_or_else(|| Error::not_found("bookingId", format!("booking {booking_id} not found")))?;
    Ok(BookingPayload { booking: Booking(booking) })
}

async fn shipment_payload(ctx: &Context<'_>, shipment_id: i64) -> async_graphql::Result<ShipmentPayload> {
    let conn = db(ctx).conn();
    let (shipment, booking) = bookings::find_shipment(conn, shipment_id).await?;
    Ok(ShipmentPayload { shipment: Shipment(shipment), booking: Booking(booking) })
}
