//! Bookings and shipments: holding stock for orders, releasing it, letting it expire, and
//! consuming it when it ships.
//!
//! Correct under any concurrency by construction: every step locks the booking row and then the
//! warehouse items it changes, in (warehouse, SKU) order, re-reads them under the lock, checks,
//! and writes within the same transaction. On SQLite the write gate serializes these
//! transactions; on PostgreSQL the row locks do, and a deadlock is retried by
//! [`crate::db::Db::write`]. The availability check and the write therefore see the same values.
//!
//! Lock order everywhere: booking rows (by id), then warehouse items (by warehouse, then SKU).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entity::{booking, booking_line, shipment, shipment_line, sku, warehouse_item};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::{
    ChangeContext,
    allocation::{self, AllocationStrategy, Candidate},
    catalog::{self, InventoryConfiguration},
    channels::find_channel,
    idempotency,
    inventory::{lock_item, lock_items, write_quantities},
    ledger::{self, LedgerKind},
    now,
    warehouses::{channel_active_warehouses, find_warehouse},
};
use crate::{
    db::Db,
    domain::{Coordinates, MAX_QUANTITY, Quantity, SkuCode, parse_text},
    error::{Error, ErrorCode, Result},
};

/// The most lines one booking or shipment may have.
pub const MAX_LINES: usize = 1000;

/// Stored booking statuses.
pub mod status {
    pub const ACTIVE: &str = "ACTIVE";
    pub const RELEASED: &str = "RELEASED";
    pub const CONSUMED: &str = "CONSUMED";
    pub const EXPIRED: &str = "EXPIRED";
}

/// Stored shipment statuses.
pub mod shipment_status {
    pub const SHIPPED: &str = "SHIPPED";
    pub const CANCELLED: &str = "CANCELLED";
}

/// Units a booking line still holds.
pub fn held(line: &booking_line::Model) -> i64 {
    line.quantity - line.consumed_quantity - line.released_quantity
}

/// Whether a stored booking still holds stock at `at`: active and not past its expiry.
pub fn is_holding(booking: &booking::Model, at: DateTime<Utc>) -> bool {
    booking.status == status::ACTIVE && booking.expires_at.is_none_or(|expiry| expiry > at)
}

/// The status a client sees: an active booking past its expiry reads as `EXPIRED` even before
/// the sweeper has marked it.
pub fn effective_status(booking: &booking::Model, at: DateTime<Utc>) -> &str {
    if booking.status == status::ACTIVE && !is_holding(booking, at) {
        status::EXPIRED
    } else {
        &booking.status
    }
}

// ------------------------------------------------------------------------------------ booking

/// One order line of a booking request.
#[derive(Clone, Debug, Serialize)]
pub struct OrderLine {
    #[serde(serialize_with = "serialize_code")]
    pub sku: SkuCode,
    pub quantity: i64,
}

fn serialize_code<S: serde::Serializer>(code: &SkuCode, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&code.key())
}

/// A request to hold stock for an order.
#[derive(Clone, Debug, Serialize)]
pub struct BookInventory {
    pub order_reference: String,
    pub channel_id: i64,
    pub lines: Vec<OrderLine>,
    pub expires_at: Option<DateTime<Utc>>,
    pub strategy: AllocationStrategy,
    /// Latitude and longitude of the delivery address, for `NEAREST`.
    pub ship_to: Option<(f64, f64)>,
}

impl BookInventory {
    /// Checks everything that needs neither the database nor the clock: text, counts,
    /// quantities, ship-to.
    pub fn validate(&self) -> Result<()> {
        parse_text("orderReference", "order reference", &self.order_reference)?;
        if self.lines.is_empty() {
            return Err(Error::invalid("lines", "lines is empty: a booking needs at least one line"));
        }
        if self.lines.len() > MAX_LINES {
            return Err(Error::invalid(
                "lines",
                format!("{} lines in one booking, above the limit of {MAX_LINES}", self.lines.len()),
            ));
        }
        for (index, line) in self.lines.iter().enumerate() {
            Quantity::parse_positive("quantity", line.quantity).map_err(|err| err.within(&format!("lines.{index}")))?;
        }
        match (self.strategy, self.ship_to) {
            (AllocationStrategy::Nearest, None) => Err(Error::invalid(
                "shipTo",
                "the NEAREST strategy needs shipTo with latitude and longitude: give them, or use PRIORITY",
            )),
            (_, Some((latitude, longitude))) => {
                Coordinates::parse(Some(latitude), Some(longitude)).map_err(|err| err.within("shipTo"))?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Checks that the expiry is in the future. It runs after the idempotency check, so a retry
    /// of a booking whose expiry has passed since still returns the first result.
    pub fn validate_expiry(&self, at: DateTime<Utc>) -> Result<()> {
        use chrono::Datelike;
        if let Some(expiry) = self.expires_at
            && expiry.year() > 9999
        {
            return Err(Error::invalid("expiresAt", format!("expiresAt {} is after the year 9999: give an earlier instant or none", expiry.to_rfc3339())));
        }
        if let Some(expiry) = self.expires_at
            && expiry <= at
        {
            return Err(Error::invalid(
                "expiresAt",
                format!("expiresAt {} is not in the future (now {}): give a later instant or none", expiry.to_rfc3339(), at.to_rfc3339()),
            ));
        }
        Ok(())
    }
}

/// The id of the booking a request created. Stored as the result of an idempotent call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BookingOutcome {
    pub booking_id: i64,
}

/// Books every line of an order in a channel, atomically: all lines are held or none is.
///
/// # Errors
/// `NOT_FOUND` for an unknown channel or SKU; `INVALID_INPUT` for a SKU that is not published or
/// not purchasable; `ORDER_QUANTITY_RULE` when a SKU's total breaks its product's minimum,
/// maximum, allowed list or multiple (checked in that order); `WAREHOUSE_INACTIVE` when the
/// channel has no active linked warehouse; `INSUFFICIENT_STOCK` when the channel's available
/// quantity is too small and the product does not allow back orders.
pub async fn book_inventory(db: &Db, request: BookInventory, context: &ChangeContext) -> Result<BookingOutcome> {
    request.validate()?;
    idempotency::validate_key(context.idempotency_key.as_deref())?;
    db.write(|txn| {
        let (request, context) = (request.clone(), context.clone());
        Box::pin(async move {
            let key = context.idempotency_key.as_deref();
            if let Some(done) = idempotency::replay(txn, key, "bookInventory", &request).await? {
                return Ok(done);
            }
            request.validate_expiry(now())?;
            let outcome = apply_booking(txn, &request, &context).await?;
            idempotency::remember(txn, key, &outcome).await?;
            Ok(outcome)
        })
    })
    .await
}

/// A SKU of a booking request with its settings and the total asked over all its lines.
struct RequestedSku {
    sku: sku::Model,
    settings: InventoryConfiguration,
    total: i64,
    /// Index of the SKU's first line in the request, for error fields.
    first_line: usize,
}

async fn apply_booking(conn: &impl ConnectionTrait, request: &BookInventory, context: &ChangeContext) -> Result<BookingOutcome> {
    let channel = find_channel(conn, request.channel_id).await?;
    let warehouses = channel_active_warehouses(conn, channel.id).await?;
    if warehouses.is_empty() {
        return Err(Error::field(
            ErrorCode::WarehouseInactive,
            "channelId",
            format!(
                "channel {} ({:?}) has no active linked warehouse to book from: link one with linkWarehouseToChannel or activate one with setWarehouseActive",
                channel.id, channel.name
            ),
        ));
    }

    let requested = resolve_skus(conn, &request.lines).await?;
    for entry in requested.values() {
        check_order_quantity(entry).map_err(|err| err.within(&format!("lines.{}", entry.first_line)))?;
    }

    // Expired bookings on these SKUs give their holds back first, so `booked` is current.
    let sku_ids: Vec<i64> = requested.keys().copied().collect();
    sweep_expired(conn, Some(&sku_ids), context).await?;

    // Lock every item the booking could draw from, in (warehouse, SKU) order, in one statement.
    let warehouse_ids: Vec<i64> = warehouses.iter().map(|w| w.id).collect();
    let mut items = lock_items(conn, &warehouse_ids, &sku_ids).await?;

    // The whole request must fit before anything is allocated.
    for entry in requested.values() {
        let available: i64 = warehouses
            .iter()
            .filter_map(|w| items.get(&(w.id, entry.sku.id)))
            .map(|item| (item.on_hand - item.safety_stock - item.booked).max(0))
            .sum();
        if entry.total > available && !entry.settings.allow_back_orders {
            return Err(Error::field(
                ErrorCode::InsufficientStock,
                format!("lines.{}.quantity", entry.first_line),
                format!(
                    "cannot book {} units of SKU {:?}: {available} available in channel {} ({:?})",
                    entry.total, entry.sku.code, channel.id, channel.name
                ),
            )
            .with_detail("available", available)
            .with_detail("requested", entry.total));
        }
    }

    // Allocate line by line; each part lowers the candidate's available for the next line.
    let mut available: HashMap<(i64, i64), i64> =
        items.iter().map(|(key, item)| (*key, item.on_hand - item.safety_stock - item.booked)).collect();
    let mut parts: Vec<(i32, i64, i64, i64)> = Vec::new();
    for (index, line) in request.lines.iter().enumerate() {
        let entry = &requested[&sku_id_of(&requested, &line.sku)];
        let candidates: Vec<Candidate> = warehouses
            .iter()
            .map(|w| Candidate {
                warehouse_id: w.id,
                priority: w.priority,
                distance_km: match (request.ship_to, w.latitude, w.longitude) {
                    (Some(to), Some(lat), Some(lon)) => Some(allocation::distance_km(to, (lat, lon))),
                    _ => None,
                },
                available: available.get(&(w.id, entry.sku.id)).copied().unwrap_or(0),
            })
            .collect();
        let split = allocation::allocate(line.quantity, &candidates, request.strategy, entry.settings.allow_back_orders)
            .expect("BUG: the channel total was checked above");
        for (warehouse_id, quantity) in split {
            *available.entry((warehouse_id, entry.sku.id)).or_insert(0) -= quantity;
            parts.push(((index + 1) as i32, entry.sku.id, warehouse_id, quantity));
        }
    }

    // Write the booking, its lines, the items and the ledger.
    let time = now();
    let booking = booking::ActiveModel {
        order_reference: Set(request.order_reference.trim().to_owned()),
        channel_id: Set(channel.id),
        status: Set(status::ACTIVE.to_owned()),
        expires_at: Set(request.expires_at),
        created_at: Set(time),
        updated_at: Set(time),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let reference = Some(booking.order_reference.clone());
    for (line_number, sku_id, warehouse_id, quantity) in parts {
        booking_line::ActiveModel {
            booking_id: Set(booking.id),
            line_number: Set(line_number),
            sku_id: Set(sku_id),
            warehouse_id: Set(warehouse_id),
            quantity: Set(quantity),
            consumed_quantity: Set(0),
            released_quantity: Set(0),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        let item = match items.remove(&(warehouse_id, sku_id)) {
            Some(item) => item,
            // Only back orders allocate to a warehouse where the SKU is not stocked yet.
            None => lock_item(conn, warehouse_id, sku_id, true).await?.ok_or_else(super::inventory::item_vanished)?,
        };
        let updated = change_booked(conn, &item, quantity).await?;
        ledger::record(conn, &updated, LedgerKind::Booked, 0, quantity, reference.clone(), context).await?;
        items.insert((warehouse_id, sku_id), updated);
    }
    Ok(BookingOutcome { booking_id: booking.id })
}

fn sku_id_of(requested: &BTreeMap<i64, RequestedSku>, code: &SkuCode) -> i64 {
    let key = code.key();
    requested.values().find(|entry| entry.sku.code_key == key).map(|entry| entry.sku.id).expect("BUG: every line's SKU was resolved")
}

/// Finds the request's SKUs, checks they can be sold, and adds up each SKU's lines.
async fn resolve_skus(conn: &impl ConnectionTrait, lines: &[OrderLine]) -> Result<BTreeMap<i64, RequestedSku>> {
    let codes: Vec<SkuCode> = lines.iter().map(|line| line.sku.clone()).collect();
    let found = catalog::find_skus(conn, &codes).await?;
    let settings = catalog::inventory_configurations(conn, found.iter().map(|s| s.product_id)).await?;

    let mut requested: BTreeMap<i64, RequestedSku> = BTreeMap::new();
    for (index, line) in lines.iter().enumerate() {
        let field = format!("lines.{index}.sku");
        let Some(sku) = found.iter().find(|s| s.code_key == line.sku.key()) else {
            return Err(Error::not_found(field, format!("SKU {:?} not found", line.sku.as_str())));
        };
        if !sku.published || !sku.purchasable {
            let why = if sku.published { "not purchasable" } else { "not published" };
            return Err(Error::invalid(field, format!("SKU {:?} is {why} and cannot be booked", sku.code)));
        }
        let entry = requested.entry(sku.id).or_insert_with(|| RequestedSku {
            sku: sku.clone(),
            settings: settings.get(&sku.product_id).cloned().unwrap_or_default(),
            total: 0,
            first_line: index,
        });
        entry.total += line.quantity;
    }
    Ok(requested)
}

/// Checks a SKU's total against its product's order-quantity rules: minimum, maximum, allowed
/// list, multiple, in that order.
fn check_order_quantity(entry: &RequestedSku) -> Result<()> {
    let settings = &entry.settings;
    let (total, code) = (entry.total, &entry.sku.code);
    let rule = |rule: &str, message: String| {
        Error::field(ErrorCode::OrderQuantityRule, "quantity", message).with_detail("rule", rule).with_detail("requested", total)
    };
    if total < settings.min_order_quantity {
        return Err(rule("MIN_ORDER_QUANTITY", format!("SKU {code:?}: {total} units is below the minimum order quantity of {}", settings.min_order_quantity))
            .with_detail("minOrderQuantity", settings.min_order_quantity));
    }
    if total > settings.max_order_quantity {
        return Err(rule("MAX_ORDER_QUANTITY", format!("SKU {code:?}: {total} units is above the maximum order quantity of {}", settings.max_order_quantity))
            .with_detail("maxOrderQuantity", settings.max_order_quantity));
    }
    if !settings.allowed_order_quantities.is_empty() && !settings.allowed_order_quantities.contains(&total) {
        let allowed = settings.allowed_order_quantities.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        return Err(rule("ALLOWED_ORDER_QUANTITIES", format!("SKU {code:?}: {total} units is not an allowed order quantity; allowed: {allowed}"))
            .with_detail("allowedOrderQuantities", settings.allowed_order_quantities.clone()));
    }
    if total % settings.multiple_order_quantity != 0 {
        return Err(rule("MULTIPLE_ORDER_QUANTITY", format!("SKU {code:?}: {total} units is not a multiple of {}", settings.multiple_order_quantity))
            .with_detail("multipleOrderQuantity", settings.multiple_order_quantity));
    }
    Ok(())
}

/// Adds `delta` to a locked item's booked quantity. Booked never goes below zero.
async fn change_booked(conn: &impl ConnectionTrait, item: &warehouse_item::Model, delta: i64) -> Result<warehouse_item::Model> {
    let booked = item.booked + delta;
    if booked < 0 {
        return Err(Error::Internal(anyhow::anyhow!(
            "booked of SKU {} in warehouse {} would become {booked}: the item and its booking lines disagree",
            item.sku_id,
            item.warehouse_id
        )));
    }
    write_quantities(conn, item, item.on_hand, booked, item.safety_stock, item.low_stock_threshold).await
}

// ------------------------------------------------------------------------------------ expiry

/// Marks active bookings past their expiry as `EXPIRED` and gives their holds back, with
/// `EXPIRED` ledger rows. With `sku_ids`, only bookings that hold one of those SKUs. Returns the
/// number of bookings expired.
pub async fn sweep_expired(conn: &impl ConnectionTrait, sku_ids: Option<&[i64]>, context: &ChangeContext) -> Result<usize> {
    let at = now();
    let due = match sku_ids {
        None => expired_active_bookings(conn, at, Some(SWEEP_BATCH)).await?,
        Some(sku_ids) => {
            let mut due = BTreeSet::new();
            for chunk in expired_active_bookings(conn, at, None).await?.chunks(ID_CHUNK) {
                let booking_ids: Vec<i64> = booking_line::Entity::find()
                    .select_only()
                    .column(booking_line::Column::BookingId)
                    .filter(booking_line::Column::BookingId.is_in(chunk.iter().copied()))
                    .filter(booking_line::Column::SkuId.is_in(sku_ids.iter().copied()))
                    .into_tuple()
                    .all(conn)
                    .await?;
                due.extend(booking_ids);
            }
            due.into_iter().take(SWEEP_BATCH as usize).collect()
        }
    };

    let mut expired = 0;
    for booking_id in due {
        let Some(booking) = lock_booking(conn, booking_id).await? else { continue };
        // Another transaction may have released, shipped or expired it meanwhile.
        if booking.status != status::ACTIVE || is_holding(&booking, at) {
            continue;
        }
        give_back_holds(conn, &booking, None, LedgerKind::Expired, context).await?;
        set_status(conn, &booking, status::EXPIRED).await?;
        expired += 1;
    }
    Ok(expired)
}

/// Finds the ids of bookings still marked active whose expiry has passed at `at`, oldest
/// first, at most `limit` of them.
///
/// The sweeper marks such bookings expired every few seconds, so there are few of them. They
/// are found by the `(status, expires_at)` index first and only then matched with SKUs. A
/// query that starts from a SKU's booking lines reads every booking the SKU ever had, so each
/// booking of a much-booked SKU was slower than the last (BENCHMARKS.md).
async fn expired_active_bookings(conn: &impl ConnectionTrait, at: DateTime<Utc>, limit: Option<u64>) -> Result<Vec<i64>> {
    Ok(booking::Entity::find()
        .select_only()
        .column(booking::Column::Id)
        .filter(booking::Column::Status.eq(status::ACTIVE))
        .filter(booking::Column::ExpiresAt.lte(at))
        .order_by_asc(booking::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Maximum number of expired bookings one sweep handles. The next sweep takes the rest.
const SWEEP_BATCH: u64 = 500;

/// Maximum number of ids in one `IN (…)` list.
const ID_CHUNK: usize = 1000;

/// Runs [`sweep_expired`] over all SKUs in its own transaction; the server calls it
/// periodically.
pub async fn sweep_all_expired(db: &Db) -> Result<usize> {
    let context = ChangeContext { reason: Some("booking expired".to_owned()), ..ChangeContext::by("expiry-sweeper") };
    db.write(|txn| {
        let context = context.clone();
        Box::pin(async move { sweep_expired(txn, None, &context).await })
    })
    .await
}

/// Units of active but expired bookings per (warehouse, SKU), which reads subtract from the
/// stored `booked` until the sweeper has run.
pub async fn expired_holds(conn: &impl ConnectionTrait, sku_ids: &[i64]) -> Result<HashMap<(i64, i64), i64>> {
    if sku_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut holds = HashMap::new();
    for chunk in expired_active_bookings(conn, now(), None).await?.chunks(ID_CHUNK) {
        let rows: Vec<(i64, i64, i64, i64, i64)> = booking_line::Entity::find()
            .select_only()
            .column(booking_line::Column::WarehouseId)
            .column(booking_line::Column::SkuId)
            .column(booking_line::Column::Quantity)
            .column(booking_line::Column::ConsumedQuantity)
            .column(booking_line::Column::ReleasedQuantity)
            .filter(booking_line::Column::BookingId.is_in(chunk.iter().copied()))
            .filter(booking_line::Column::SkuId.is_in(sku_ids.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        for (warehouse_id, sku_id, quantity, consumed, released) in rows {
            *holds.entry((warehouse_id, sku_id)).or_insert(0) += quantity - consumed - released;
        }
    }
    Ok(holds)
}

// ------------------------------------------------------------------------------------ release

/// Part of a booking to release: a SKU, optionally only in one warehouse, optionally only some
/// units (all it holds there by default).
#[derive(Clone, Debug, Serialize)]
pub struct ReleaseLine {
    #[serde(serialize_with = "serialize_code")]
    pub sku: SkuCode,
    pub warehouse_id: Option<i64>,
    pub quantity: Option<i64>,
}

/// Gives back all of a booking's holds, or the given parts of them.
///
/// # Errors
/// `BOOKING_NOT_ACTIVE` when the booking was already released, consumed or expired;
/// `INVALID_INPUT` when a part names a SKU the booking does not hold or more units than it holds.
pub async fn release_booking(db: &Db, booking_id: i64, lines: Option<Vec<ReleaseLine>>, context: &ChangeContext) -> Result<BookingOutcome> {
    if let Some(lines) = &lines {
        if lines.is_empty() {
            return Err(Error::invalid("lines", "lines is empty: omit it to release the whole booking"));
        }
        for (index, line) in lines.iter().enumerate() {
            if let Some(quantity) = line.quantity {
                Quantity::parse_positive("quantity", quantity).map_err(|err| err.within(&format!("lines.{index}")))?;
            }
        }
    }
    idempotency::validate_key(context.idempotency_key.as_deref())?;
    db.write(|txn| {
        let (lines, context) = (lines.clone(), context.clone());
        Box::pin(async move {
            let key = context.idempotency_key.as_deref();
            let request = (booking_id, &lines);
            if let Some(done) = idempotency::replay(txn, key, "releaseBooking", &request).await? {
                return Ok(done);
            }
            let booking = active_booking(txn, booking_id, &context).await?;
            let amounts = match &lines {
                None => None,
                Some(lines) => Some(release_amounts(txn, &booking, lines).await?),
            };
            give_back_holds(txn, &booking, amounts.as_ref(), LedgerKind::Released, &context).await?;
            settle_status(txn, &booking).await?;
            let outcome = BookingOutcome { booking_id };
            idempotency::remember(txn, key, &outcome).await?;
            Ok(outcome)
        })
    })
    .await
}

/// Turns requested release parts into units per booking line.
async fn release_amounts(conn: &impl ConnectionTrait, booking: &booking::Model, parts: &[ReleaseLine]) -> Result<HashMap<i64, i64>> {
    let lines = booking_lines(conn, booking.id).await?;
    let mut amounts: HashMap<i64, i64> = HashMap::new();
    for (index, part) in parts.iter().enumerate() {
        let field = format!("lines.{index}");
        let sku = catalog::find_sku(conn, &part.sku).await.map_err(|err| err.with_field(&format!("{field}.sku")))?;
        let matching: Vec<&booking_line::Model> = lines
            .iter()
            .filter(|line| line.sku_id == sku.id && part.warehouse_id.is_none_or(|w| w == line.warehouse_id))
            .collect();
        let holding: i64 = matching.iter().map(|line| held(line) - amounts.get(&line.id).copied().unwrap_or(0)).sum();
        let quantity = part.quantity.unwrap_or(holding);
        if holding == 0 || quantity > holding {
            let place = part.warehouse_id.map(|w| format!(" in warehouse {w}")).unwrap_or_default();
            return Err(Error::invalid(
                format!("{field}.quantity"),
                format!("cannot release {quantity} units of SKU {:?}{place}: booking {} holds {holding}", sku.code, booking.id),
            ));
        }
        let mut remaining = quantity;
        for line in matching {
            let free = held(line) - amounts.get(&line.id).copied().unwrap_or(0);
            let take = free.min(remaining);
            if take > 0 {
                *amounts.entry(line.id).or_insert(0) += take;
                remaining -= take;
            }
        }
    }
    Ok(amounts)
}

/// Releases holds of a locked booking: every line's whole hold, or `amounts` per line id.
async fn give_back_holds(
    conn: &impl ConnectionTrait,
    booking: &booking::Model,
    amounts: Option<&HashMap<i64, i64>>,
    kind: LedgerKind,
    context: &ChangeContext,
) -> Result<()> {
    let mut lines = booking_lines(conn, booking.id).await?;
    lines.sort_by_key(|line| (line.warehouse_id, line.sku_id, line.id));
    let reference = Some(booking.order_reference.clone());
    for line in lines {
        let quantity = match amounts {
            None => held(&line),
            Some(amounts) => amounts.get(&line.id).copied().unwrap_or(0),
        };
        if quantity <= 0 {
            continue;
        }
        let item = lock_item(conn, line.warehouse_id, line.sku_id, false)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("booking line {} points to a missing warehouse item", line.id)))?;
        let updated = change_booked(conn, &item, -quantity).await?;
        ledger::record(conn, &updated, kind, 0, -quantity, reference.clone(), context).await?;
        let released = line.released_quantity + quantity;
        let mut row: booking_line::ActiveModel = line.into();
        row.released_quantity = Set(released);
        row.update(conn).await?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------ shipment

/// One line of a shipment: units of a SKU leaving a warehouse.
#[derive(Clone, Debug, Serialize)]
pub struct ShipmentLineRequest {
    #[serde(serialize_with = "serialize_code")]
    pub sku: SkuCode,
    pub warehouse_id: i64,
    pub quantity: i64,
}

/// The id of the shipment a request created or cancelled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShipmentOutcome {
    pub shipment_id: i64,
}

/// Ships booked stock: on hand and booked both drop in the named warehouses. A line may name
/// another active warehouse of the booking's channel than the one allocated; the hold then
/// moves there first (which needs available stock there).
///
/// # Errors
/// `BOOKING_NOT_ACTIVE` for a released, consumed or expired booking; `WAREHOUSE_INACTIVE` for an
/// inactive warehouse; `INSUFFICIENT_STOCK` when a SKU ships more than the booking holds, or a
/// warehouse lacks the units.
pub async fn create_shipment(
    db: &Db,
    booking_id: i64,
    lines: Vec<ShipmentLineRequest>,
    reference: Option<String>,
    context: &ChangeContext,
) -> Result<ShipmentOutcome> {
    if lines.is_empty() {
        return Err(Error::invalid("lines", "lines is empty: a shipment needs at least one line"));
    }
    if lines.len() > MAX_LINES {
        return Err(Error::invalid("lines", format!("{} lines in one shipment, above the limit of {MAX_LINES}", lines.len())));
    }
    for (index, line) in lines.iter().enumerate() {
        Quantity::parse_positive("quantity", line.quantity).map_err(|err| err.within(&format!("lines.{index}")))?;
    }
    let reference = reference.map(|text| parse_text("reference", "shipment reference", &text)).transpose()?;
    idempotency::validate_key(context.idempotency_key.as_deref())?;
    db.write(|txn| {
        let (lines, reference, context) = (lines.clone(), reference.clone(), context.clone());
        Box::pin(async move {
            let key = context.idempotency_key.as_deref();
            let request = (booking_id, &lines, &reference);
            if let Some(done) = idempotency::replay(txn, key, "createShipment", &request).await? {
                return Ok(done);
            }
            let outcome = apply_shipment(txn, booking_id, &lines, reference.clone(), &context).await?;
            idempotency::remember(txn, key, &outcome).await?;
            Ok(outcome)
        })
    })
    .await
}

async fn apply_shipment(
    conn: &impl ConnectionTrait,
    booking_id: i64,
    requests: &[ShipmentLineRequest],
    reference: Option<String>,
    context: &ChangeContext,
) -> Result<ShipmentOutcome> {
    let booking = active_booking(conn, booking_id, context).await?;
    let channel_warehouses = channel_active_warehouses(conn, booking.channel_id).await?;
    let mut lines = booking_lines(conn, booking.id).await?;

    // Check each line's warehouse and SKU, and each SKU's total against what the booking holds.
    let mut resolved: Vec<(usize, sku::Model, i64, i64)> = Vec::new();
    let mut totals: BTreeMap<i64, (usize, i64)> = BTreeMap::new();
    for (index, request) in requests.iter().enumerate() {
        let warehouse = find_warehouse(conn, request.warehouse_id).await.map_err(|err| err.with_field(&format!("lines.{index}.warehouseId")))?;
        if !warehouse.active {
            return Err(Error::field(
                ErrorCode::WarehouseInactive,
                format!("lines.{index}.warehouseId"),
                format!("warehouse {} ({:?}) is inactive and cannot ship: activate it with setWarehouseActive or ship from another", warehouse.id, warehouse.name),
            ));
        }
        if !channel_warehouses.iter().any(|w| w.id == warehouse.id) {
            return Err(Error::invalid(
                format!("lines.{index}.warehouseId"),
                format!("warehouse {} ({:?}) is not linked to the booking's channel {}", warehouse.id, warehouse.name, booking.channel_id),
            ));
        }
        let sku = catalog::find_sku(conn, &request.sku).await.map_err(|err| err.with_field(&format!("lines.{index}.sku")))?;
        totals.entry(sku.id).or_insert((index, 0)).1 += request.quantity;
        resolved.push((index, sku, warehouse.id, request.quantity));
    }
    for (sku_id, (index, total)) in &totals {
        let holding: i64 = lines.iter().filter(|line| line.sku_id == *sku_id).map(held).sum();
        if *total > holding {
            let code = &resolved.iter().find(|r| r.1.id == *sku_id).expect("BUG: totals come from resolved lines").1.code;
            return Err(Error::field(
                ErrorCode::InsufficientStock,
                format!("lines.{index}.quantity"),
                format!("cannot ship {total} units of SKU {code:?}: booking {} holds {holding}", booking.id),
            )
            .with_detail("held", holding));
        }
    }

    // Lock every item the shipment touches: the shipping warehouses and those the holds sit in.
    let mut keys: Vec<(i64, i64)> = resolved.iter().map(|r| (r.2, r.1.id)).collect();
    keys.extend(lines.iter().filter(|line| totals.contains_key(&line.sku_id)).map(|line| (line.warehouse_id, line.sku_id)));
    keys.sort_unstable();
    keys.dedup();
    let mut items: HashMap<(i64, i64), warehouse_item::Model> = HashMap::new();
    for (warehouse_id, sku_id) in keys {
        let item = lock_item(conn, warehouse_id, sku_id, true).await?.ok_or_else(super::inventory::item_vanished)?;
        items.insert((warehouse_id, sku_id), item);
    }
    let settings = catalog::inventory_configurations(conn, resolved.iter().map(|r| r.1.product_id)).await?;

    let shipment = insert_shipment(conn, booking.id, reference).await?;
    let shipment_reference = Some(shipment.reference.clone());
    for (index, sku, warehouse_id, quantity) in resolved {
        let back_orders = settings.get(&sku.product_id).is_some_and(|s| s.allow_back_orders);
        let mut remaining = quantity;

        // Holds already in the shipping warehouse first, then holds moved in from elsewhere.
        let mut order: Vec<usize> = (0..lines.len()).filter(|i| lines[*i].sku_id == sku.id && held(&lines[*i]) > 0).collect();
        order.sort_by_key(|i| (lines[*i].warehouse_id != warehouse_id, lines[*i].id));
        for position in order {
            if remaining == 0 {
                break;
            }
            let take = held(&lines[position]).min(remaining);
            let line_index = if lines[position].warehouse_id == warehouse_id {
                position
            } else {
                move_hold(conn, &booking, &mut lines, position, warehouse_id, take, back_orders, &mut items, context)
                    .await
                    .map_err(|err| err.with_field(&format!("lines.{index}.quantity")))?
            };
            consume(conn, &mut lines[line_index], take, &mut items, &shipment, shipment_reference.clone(), context)
                .await
                .map_err(|err| err.with_field(&format!("lines.{index}.quantity")))?;
            remaining -= take;
        }
    }
    settle_status(conn, &booking).await?;
    Ok(ShipmentOutcome { shipment_id: shipment.id })
}

async fn insert_shipment(conn: &impl ConnectionTrait, booking_id: i64, reference: Option<String>) -> Result<shipment::Model> {
    let placeholder = reference.is_none();
    let row = shipment::ActiveModel {
        booking_id: Set(booking_id),
        reference: Set(reference.unwrap_or_default()),
        status: Set(shipment_status::SHIPPED.to_owned()),
        created_at: Set(now()),
        cancelled_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    if !placeholder {
        return Ok(row);
    }
    // Without a client reference, the ledger rows name the shipment by its id.
    let reference = format!("shipment-{}", row.id);
    let mut update: shipment::ActiveModel = row.into();
    update.reference = Set(reference);
    Ok(update.update(conn).await?)
}

/// Moves `quantity` units of the hold of `lines[from]` to `warehouse_id` and returns the index
/// of the booking line that now holds them there.
#[allow(clippy::too_many_arguments)]
async fn move_hold(
    conn: &impl ConnectionTrait,
    booking: &booking::Model,
    lines: &mut Vec<booking_line::Model>,
    from: usize,
    warehouse_id: i64,
    quantity: i64,
    back_orders: bool,
    items: &mut HashMap<(i64, i64), warehouse_item::Model>,
    context: &ChangeContext,
) -> Result<usize> {
    let source_line = lines[from].clone();
    let target_key = (warehouse_id, source_line.sku_id);
    let target = items[&target_key].clone();
    let target_available = target.on_hand - target.safety_stock - target.booked;
    if quantity > target_available && !back_orders {
        return Err(Error::rejected(
            ErrorCode::InsufficientStock,
            format!(
                "cannot ship {quantity} units from warehouse {warehouse_id}: the booking holds them in warehouse {} and warehouse {warehouse_id} has {} available to take the hold",
                source_line.warehouse_id,
                target_available.max(0)
            ),
        ));
    }
    let reference = Some(booking.order_reference.clone());

    let source = items[&(source_line.warehouse_id, source_line.sku_id)].clone();
    let source = change_booked(conn, &source, -quantity).await?;
    ledger::record(conn, &source, LedgerKind::BookingMovedOut, 0, -quantity, reference.clone(), context).await?;
    items.insert((source.warehouse_id, source.sku_id), source);
    let mut row: booking_line::ActiveModel = source_line.clone().into();
    row.released_quantity = Set(source_line.released_quantity + quantity);
    lines[from] = row.update(conn).await?;

    let target = change_booked(conn, &target, quantity).await?;
    ledger::record(conn, &target, LedgerKind::BookingMovedIn, 0, quantity, reference, context).await?;
    items.insert(target_key, target);
    let moved = booking_line::ActiveModel {
        booking_id: Set(booking.id),
        line_number: Set(source_line.line_number),
        sku_id: Set(source_line.sku_id),
        warehouse_id: Set(warehouse_id),
        quantity: Set(quantity),
        consumed_quantity: Set(0),
        released_quantity: Set(0),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    lines.push(moved);
    Ok(lines.len() - 1)
}

/// Ships `quantity` held units of a booking line from its warehouse.
async fn consume(
    conn: &impl ConnectionTrait,
    line: &mut booking_line::Model,
    quantity: i64,
    items: &mut HashMap<(i64, i64), warehouse_item::Model>,
    shipment: &shipment::Model,
    reference: Option<String>,
    context: &ChangeContext,
) -> Result<()> {
    let key = (line.warehouse_id, line.sku_id);
    let item = items[&key].clone();
    if item.on_hand < quantity {
        return Err(Error::rejected(
            ErrorCode::InsufficientStock,
            format!(
                "cannot ship {quantity} units from warehouse {}: it has {} on hand (back orders booked more than it holds; add stock first)",
                line.warehouse_id, item.on_hand
            ),
        ));
    }
    let updated = write_quantities(conn, &item, item.on_hand - quantity, item.booked - quantity, item.safety_stock, item.low_stock_threshold).await?;
    ledger::record(conn, &updated, LedgerKind::Consumed, -quantity, -quantity, reference, context).await?;
    items.insert(key, updated);

    let mut row: booking_line::ActiveModel = line.clone().into();
    row.consumed_quantity = Set(line.consumed_quantity + quantity);
    *line = row.update(conn).await?;
    shipment_line::ActiveModel {
        shipment_id: Set(shipment.id),
        booking_line_id: Set(line.id),
        sku_id: Set(line.sku_id),
        warehouse_id: Set(line.warehouse_id),
        quantity: Set(quantity),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Cancels a shipment once: its units go back on hand and are held by the booking again.
///
/// # Errors
/// `NOT_FOUND` for an unknown shipment; `CONFLICT` when it was already cancelled.
pub async fn cancel_shipment(db: &Db, shipment_id: i64, context: &ChangeContext) -> Result<ShipmentOutcome> {
    idempotency::validate_key(context.idempotency_key.as_deref())?;
    db.write(|txn| {
        let context = context.clone();
        Box::pin(async move {
            let key = context.idempotency_key.as_deref();
            if let Some(done) = idempotency::replay(txn, key, "cancelShipment", &shipment_id).await? {
                return Ok(done);
            }
            let outcome = apply_cancel(txn, shipment_id, &context).await?;
            idempotency::remember(txn, key, &outcome).await?;
            Ok(outcome)
        })
    })
    .await
}

async fn apply_cancel(conn: &impl ConnectionTrait, shipment_id: i64, context: &ChangeContext) -> Result<ShipmentOutcome> {
    let found = shipment::Entity::find_by_id(shipment_id).one(conn).await?;
    let shipment = found.ok_or_else(|| Error::not_found("id", format!("shipment {shipment_id} not found")))?;
    let booking = lock_booking(conn, shipment.booking_id).await?.expect("BUG: a shipment without its booking");
    let mut shipment = locked(conn, shipment).await?;
    if shipment.status == shipment_status::CANCELLED {
        return Err(Error::field(ErrorCode::Conflict, "id", format!("shipment {shipment_id} is already cancelled; its stock was restored then")));
    }

    let mut shipped = shipment_line::Entity::find().filter(shipment_line::Column::ShipmentId.eq(shipment.id)).all(conn).await?;
    shipped.sort_by_key(|line| (line.warehouse_id, line.sku_id, line.id));
    let reference = Some(shipment.reference.clone());
    for part in shipped {
        let item = lock_item(conn, part.warehouse_id, part.sku_id, false)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("shipment line {} points to a missing warehouse item", part.id)))?;
        if item.on_hand + part.quantity > MAX_QUANTITY {
            return Err(Error::invalid("id", format!("restoring {} units would take on hand in warehouse {} above {MAX_QUANTITY}", part.quantity, part.warehouse_id)));
        }
        let updated = write_quantities(conn, &item, item.on_hand + part.quantity, item.booked + part.quantity, item.safety_stock, item.low_stock_threshold).await?;
        ledger::record(conn, &updated, LedgerKind::Restored, part.quantity, part.quantity, reference.clone(), context).await?;
        let line = booking_line::Entity::find_by_id(part.booking_line_id).one(conn).await?.expect("BUG: a shipment line without its booking line");
        let consumed = line.consumed_quantity - part.quantity;
        let mut row: booking_line::ActiveModel = line.into();
        row.consumed_quantity = Set(consumed);
        row.update(conn).await?;
    }

    let mut row: shipment::ActiveModel = shipment.clone().into();
    row.status = Set(shipment_status::CANCELLED.to_owned());
    row.cancelled_at = Set(Some(now()));
    shipment = row.update(conn).await?;
    // The booking holds the restored units again; past its expiry the sweeper gives them back.
    if booking.status != status::ACTIVE {
        set_status(conn, &booking, status::ACTIVE).await?;
    }
    Ok(ShipmentOutcome { shipment_id: shipment.id })
}

// ------------------------------------------------------------------------------------ helpers

/// Locks a booking row for the rest of the transaction.
async fn lock_booking(conn: &impl ConnectionTrait, id: i64) -> Result<Option<booking::Model>> {
    let mut query = booking::Entity::find_by_id(id);
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.one(conn).await?)
}

async fn locked(conn: &impl ConnectionTrait, shipment: shipment::Model) -> Result<shipment::Model> {
    if conn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(shipment);
    }
    Ok(shipment::Entity::find_by_id(shipment.id).lock_exclusive().one(conn).await?.unwrap_or(shipment))
}

/// Locks a booking that must still hold stock. An active booking past its expiry is expired
/// here first, so the caller gets `BOOKING_NOT_ACTIVE` and the ledger is complete.
async fn active_booking(conn: &impl ConnectionTrait, id: i64, context: &ChangeContext) -> Result<booking::Model> {
    let booking = lock_booking(conn, id).await?.ok_or_else(|| Error::not_found("bookingId", format!("booking {id} not found")))?;
    let at = now();
    if booking.status == status::ACTIVE && !is_holding(&booking, at) {
        give_back_holds(conn, &booking, None, LedgerKind::Expired, context).await?;
        set_status(conn, &booking, status::EXPIRED).await?;
        return Err(not_active(&booking, status::EXPIRED));
    }
    if booking.status != status::ACTIVE {
        return Err(not_active(&booking, &booking.status));
    }
    Ok(booking)
}

fn not_active(booking: &booking::Model, current: &str) -> Error {
    Error::field(
        ErrorCode::BookingNotActive,
        "bookingId",
        format!("booking {} is {current}, not ACTIVE, so it holds no stock to release or ship", booking.id),
    )
    .with_detail("status", current)
}

async fn booking_lines(conn: &impl ConnectionTrait, booking_id: i64) -> Result<Vec<booking_line::Model>> {
    Ok(booking_line::Entity::find()
        .filter(booking_line::Column::BookingId.eq(booking_id))
        .order_by_asc(booking_line::Column::Id)
        .all(conn)
        .await?)
}

async fn set_status(conn: &impl ConnectionTrait, booking: &booking::Model, status: &str) -> Result<()> {
    let mut row: booking::ActiveModel = booking.clone().into();
    row.status = Set(status.to_owned());
    row.updated_at = Set(now());
    row.update(conn).await?;
    Ok(())
}

/// Marks a booking that holds nothing any more as `CONSUMED` (something shipped) or `RELEASED`.
async fn settle_status(conn: &impl ConnectionTrait, booking: &booking::Model) -> Result<()> {
    let lines = booking_lines(conn, booking.id).await?;
    if lines.iter().any(|line| held(line) > 0) {
        return Ok(());
    }
    let shipped = lines.iter().any(|line| line.consumed_quantity > 0);
    set_status(conn, booking, if shipped { status::CONSUMED } else { status::RELEASED }).await
}

/// Finds a booking by id.
pub async fn find_booking(conn: &impl ConnectionTrait, id: i64) -> Result<Option<booking::Model>> {
    Ok(booking::Entity::find_by_id(id).one(conn).await?)
}

/// Finds a shipment and its booking.
pub async fn find_shipment(conn: &impl ConnectionTrait, id: i64) -> Result<(shipment::Model, booking::Model)> {
    let shipment = shipment::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("id", format!("shipment {id} not found")))?;
    let booking = find_booking(conn, shipment.booking_id).await?.expect("BUG: a shipment without its booking");
    Ok((shipment, booking))
}

/// Filter of the booking list; every set field narrows it.
#[derive(Clone, Debug, Default)]
pub struct BookingFilter {
    /// A stored status; `ACTIVE` excludes and `EXPIRED` includes active bookings past expiry.
    pub status: Option<&'static str>,
    pub order_reference: Option<String>,
    pub channel_id: Option<i64>,
    pub sku_id: Option<i64>,
}

/// The booking list for a filter, unordered.
pub fn select_bookings(filter: &BookingFilter) -> sea_orm::Select<booking::Entity> {
    use sea_orm::{Condition, sea_query::Query};

    let mut query = booking::Entity::find();
    let at = now();
    if let Some(wanted) = filter.status {
        let past_expiry = Condition::all()
            .add(booking::Column::Status.eq(status::ACTIVE))
            .add(booking::Column::ExpiresAt.lte(at));
        query = match wanted {
            status::ACTIVE => query.filter(booking::Column::Status.eq(status::ACTIVE)).filter(
                Condition::any().add(booking::Column::ExpiresAt.is_null()).add(booking::Column::ExpiresAt.gt(at)),
            ),
            status::EXPIRED => query.filter(Condition::any().add(booking::Column::Status.eq(status::EXPIRED)).add(past_expiry)),
            other => query.filter(booking::Column::Status.eq(other)),
        };
    }
    if let Some(reference) = &filter.order_reference {
        query = query.filter(booking::Column::OrderReference.eq(reference.trim()));
    }
    if let Some(channel_id) = filter.channel_id {
        query = query.filter(booking::Column::ChannelId.eq(channel_id));
    }
    if let Some(sku_id) = filter.sku_id {
        query = query.filter(
            booking::Column::Id.in_subquery(
                Query::select()
                    .column(booking_line::Column::BookingId)
                    .from(booking_line::Entity)
                    .and_where(booking_line::Column::SkuId.eq(sku_id))
                    .to_owned(),
            ),
        );
    }
    query
}
