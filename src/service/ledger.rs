//! Writing and reading the inventory ledger.

use entity::{inventory_ledger, warehouse_item};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select,
    Set,
};

use super::{ChangeContext, events, now};
use crate::error::Result;

/// What caused a ledger row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "LedgerEntryKind")]
pub enum LedgerKind {
    /// On hand set to an absolute value (`setInventory`, `bulkSetInventory`, imports).
    Set,
    /// On hand changed by a delta (`adjustInventory`).
    Adjusted,
    /// On hand moved out of this warehouse by a transfer.
    TransferredOut,
    /// On hand moved into this warehouse by a transfer.
    TransferredIn,
    /// Bookings moved out of this warehouse, for example when it was deleted.
    BookingMovedOut,
    /// Bookings moved into this warehouse.
    BookingMovedIn,
    /// Stock held for an order (`bookInventory`).
    Booked,
    /// A hold given back (`releaseBooking`).
    Released,
    /// A hold given back because its booking expired.
    Expired,
    /// Booked stock that left the warehouse in a shipment: on hand and booked both drop.
    Consumed,
    /// A cancelled shipment's stock back on hand and held again.
    Restored,
    /// Incoming stock received from a replenishment item.
    Received,
}

impl LedgerKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Set => "SET",
            LedgerKind::Adjusted => "ADJUSTED",
            LedgerKind::TransferredOut => "TRANSFERRED_OUT",
            LedgerKind::TransferredIn => "TRANSFERRED_IN",
            LedgerKind::BookingMovedOut => "BOOKING_MOVED_OUT",
            LedgerKind::BookingMovedIn => "BOOKING_MOVED_IN",
            LedgerKind::Booked => "BOOKED",
            LedgerKind::Released => "RELEASED",
            LedgerKind::Expired => "EXPIRED",
            LedgerKind::Consumed => "CONSUMED",
            LedgerKind::Restored => "RESTORED",
            LedgerKind::Received => "RECEIVED",
        }
    }

    /// Parses the stored form; `None` for a kind written by a newer version.
    pub fn from_stored(text: &str) -> Option<LedgerKind> {
        [
            LedgerKind::Set,
            LedgerKind::Adjusted,
            LedgerKind::TransferredOut,
            LedgerKind::TransferredIn,
            LedgerKind::BookingMovedOut,
            LedgerKind::BookingMovedIn,
            LedgerKind::Booked,
            LedgerKind::Released,
            LedgerKind::Expired,
            LedgerKind::Consumed,
            LedgerKind::Restored,
            LedgerKind::Received,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// Appends the ledger row for a change of `item`, which must already hold the new quantities.
pub async fn record(
    conn: &impl ConnectionTrait,
    item: &warehouse_item::Model,
    kind: LedgerKind,
    on_hand_delta: i64,
    booked_delta: i64,
    reference: Option<String>,
    context: &ChangeContext,
) -> Result<inventory_ledger::Model> {
    events::touch_sku(item.sku_id);
    let row = inventory_ledger::ActiveModel {
        sku_id: Set(item.sku_id),
        warehouse_id: Set(item.warehouse_id),
        kind: Set(kind.as_str().to_owned()),
        on_hand_delta: Set(on_hand_delta),
        booked_delta: Set(booked_delta),
        on_hand_after: Set(item.on_hand),
        booked_after: Set(item.booked),
        reason: Set(context.reason.clone()),
        reference: Set(reference),
        actor: Set(context.actor.clone()),
        created_at: Set(now()),
        ..Default::default()
    };
    Ok(row.insert(conn).await?)
}

/// Filter of the ledger query; every set field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct LedgerFilter {
    pub sku_ids: Option<Vec<i64>>,
    pub warehouse_id: Option<i64>,
    pub kind: Option<LedgerKind>,
    pub reference: Option<String>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// The ledger query for a filter, unordered; callers page it newest first.
pub fn select(filter: &LedgerFilter) -> Select<inventory_ledger::Entity> {
    let mut query = inventory_ledger::Entity::find();
    if let Some(sku_ids) = &filter.sku_ids {
        query = query.filter(inventory_ledger::Column::SkuId.is_in(sku_ids.iter().copied()));
    }
    if let Some(warehouse_id) = filter.warehouse_id {
        query = query.filter(inventory_ledger::Column::WarehouseId.eq(warehouse_id));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(inventory_ledger::Column::Kind.eq(kind.as_str()));
    }
    if let Some(reference) = &filter.reference {
        query = query.filter(inventory_ledger::Column::Reference.eq(reference.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(inventory_ledger::Column::CreatedAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(inventory_ledger::Column::CreatedAt.lt(until));
    }
    query
}

/// Loads ledger rows by id, in the order given.
pub async fn find_by_ids(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<inventory_ledger::Model>> {
    let rows = inventory_ledger::Entity::find()
        .filter(inventory_ledger::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(inventory_ledger::Column::Id)
        .all(conn)
        .await?;
    Ok(rows)
}
