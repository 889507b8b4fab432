//! Changing stock: set, adjust, bulk set and transfer, each with its ledger rows.
//!
//! Every change runs in one transaction that first locks the warehouse items it touches
//! (`SELECT … FOR UPDATE` on PostgreSQL; the write gate on SQLite), then checks the new
//! quantities against the locked values and writes the item and its ledger rows. No check is
//! ever made on a value that another transaction could change before the write.

use std::collections::BTreeMap;

use entity::{sku, warehouse_item};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::{
    ChangeContext, bookings, catalog, events, idempotency,
    ledger::{self, LedgerKind},
    now,
    warehouses::find_warehouse,
};
use crate::{
    db::Db,
    domain::{Delta, MAX_QUANTITY, Quantity, SkuCode},
    error::{Error, ErrorCode, Result},
};

/// Locks the item of `sku_id` in `warehouse_id` for the rest of the transaction, creating it
/// with zero quantities first when `create` is set. Returns `None` when the item does not exist
/// and `create` is not set.
pub async fn lock_item(
    conn: &impl ConnectionTrait,
    warehouse_id: i64,
    sku_id: i64,
    create: bool,
) -> Result<Option<warehouse_item::Model>> {
    if create {
        // A shared lock on the warehouse row keeps a concurrent deleteWarehouse, which takes
        // an exclusive one, from deleting the warehouse under the new item.
        if conn.get_database_backend() == DatabaseBackend::Postgres {
            let found = entity::warehouse::Entity::find_by_id(warehouse_id).lock_shared().one(conn).await?;
            if found.is_none() {
                return Err(Error::not_found("warehouseId", format!("warehouse {warehouse_id} not found")));
            }
        }
        let time = now();
        let row = warehouse_item::ActiveModel {
            warehouse_id: Set(warehouse_id),
            sku_id: Set(sku_id),
            on_hand: Set(0),
            safety_stock: Set(0),
            booked: Set(0),
            low_stock_threshold: Set(None),
            version: Set(0),
            created_at: Set(time),
            updated_at: Set(time),
            ..Default::default()
        };
        // A concurrent request may create the same item; the unique index then keeps one row
        // and this insert does nothing.
        warehouse_item::Entity::insert(row)
            .on_conflict_do_nothing_on([
                warehouse_item::Column::WarehouseId,
                warehouse_item::Column::SkuId,
            ])
            .exec(conn)
            .await?;
    }
    let mut query = warehouse_item::Entity::find()
        .filter(warehouse_item::Column::WarehouseId.eq(warehouse_id))
        .filter(warehouse_item::Column::SkuId.eq(sku_id));
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.one(conn).await?)
}

/// Locks the existing items of `sku_ids` in `warehouse_ids` with one statement and returns them
/// by (warehouse, SKU). On PostgreSQL the rows are locked in (warehouse, SKU) order, so two
/// callers of this function never wait for each other in a cycle. A deadlock with another
/// writer is still possible, and `Db::write` then retries the transaction. SQLite needs no row
/// lock because the server's write gate runs one write transaction at a time.
pub async fn lock_items(
    conn: &impl ConnectionTrait,
    warehouse_ids: &[i64],
    sku_ids: &[i64],
) -> Result<BTreeMap<(i64, i64), warehouse_item::Model>> {
    if warehouse_ids.is_empty() || sku_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut query = warehouse_item::Entity::find()
        .filter(warehouse_item::Column::WarehouseId.is_in(warehouse_ids.iter().copied()))
        .filter(warehouse_item::Column::SkuId.is_in(sku_ids.iter().copied()))
        // PostgreSQL locks the rows as the sort returns them.
        .order_by_asc(warehouse_item::Column::WarehouseId)
        .order_by_asc(warehouse_item::Column::SkuId);
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    let items = query.all(conn).await?;
    Ok(items.into_iter().map(|item| ((item.warehouse_id, item.sku_id), item)).collect())
}

/// Writes new quantities of a locked item and returns the stored row. Does not touch the
/// ledger; callers record each change.
pub async fn write_quantities(
    conn: &impl ConnectionTrait,
    item: &warehouse_item::Model,
    on_hand: i64,
    booked: i64,
    safety_stock: i64,
    low_stock_threshold: Option<i64>,
) -> Result<warehouse_item::Model> {
    for (field, value) in [("onHand", on_hand), ("safetyStock", safety_stock)] {
        if !(0..=MAX_QUANTITY).contains(&value) {
            return Err(Error::invalid(
                field,
                format!(
                    "{field} would become {value}, outside 0 to {MAX_QUANTITY} in warehouse {}",
                    item.warehouse_id
                ),
            ));
        }
    }
    events::touch_sku(item.sku_id);
    let mut row: warehouse_item::ActiveModel = item.clone().into();
    row.on_hand = Set(on_hand);
    row.booked = Set(booked);
    row.safety_stock = Set(safety_stock);
    row.low_stock_threshold = Set(low_stock_threshold);
    row.version = Set(item.version + 1);
    row.updated_at = Set(now());
    Ok(row.update(conn).await?)
}

/// The result of a change to one warehouse item: the item after the change and the ledger rows
/// written. Stored as the result of an idempotent call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ItemChange {
    pub warehouse_item_id: i64,
    pub ledger_entry_ids: Vec<i64>,
}

/// A request to set one item's quantities. `None` keeps the current value.
#[derive(Clone, Debug, Serialize)]
pub struct SetInventory {
    #[serde(serialize_with = "serialize_code")]
    pub sku: SkuCode,
    pub warehouse_id: i64,
    pub on_hand: Option<i64>,
    /// Compare-and-set: the change applies only if on hand is still this value.
    pub expected_on_hand: Option<i64>,
    pub safety_stock: Option<i64>,
    /// `Some(None)` removes the warehouse's own threshold.
    pub low_stock_threshold: Option<Option<i64>>,
}

impl SetInventory {
    /// Checks each quantity's range before any database work.
    pub fn validate(&self) -> Result<()> {
        if self.on_hand.is_none() && self.safety_stock.is_none() && self.low_stock_threshold.is_none()
        {
            return Err(Error::invalid(
                "onHand",
                "nothing to set: give onHand, safetyStock or lowStockThreshold",
            ));
        }
        if let Some(value) = self.on_hand {
            Quantity::parse("onHand", value)?;
        }
        if let Some(value) = self.expected_on_hand {
            Quantity::parse("expectedOnHand", value)?;
        }
        if let Some(value) = self.safety_stock {
            Quantity::parse("safetyStock", value)?;
        }
        if let Some(Some(value)) = self.low_stock_threshold {
            Quantity::parse("lowStockThreshold", value)?;
        }
        Ok(())
    }
}

fn serialize_code<S: serde::Serializer>(code: &SkuCode, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&code.key())
}

/// Sets an item's on-hand quantity, safety stock or threshold, creating the item when the SKU
/// is not stocked in the warehouse yet.
///
/// # Errors
/// `NOT_FOUND` for an unknown SKU or warehouse; `CONFLICT` when `expected_on_hand` is stale;
/// `INSUFFICIENT_STOCK` when on hand would fall below the booked quantity and the product does
/// not allow back orders.
pub async fn set_inventory(db: &Db, request: SetInventory, context: &ChangeContext) -> Result<ItemChange> {
    request.validate()?;
    idempotency::validate_key(context.idempotency_key.as_deref())?;
    db.write(|txn| {
        let (request, context) = (request.clone(), context.clone());
        Box::pin(async move {
            let key = context.idempotency_key.as_deref();
            if let Some(done) = idempotency::replay(txn, key, "setInventory", &request).await? {
                return Ok(done);
            }
            let change = apply_set(txn, &request, &context).await?;
            idempotency::remember(txn, key, &change).await?;
            Ok(change)
        })
    })
    .await
}

/// Applies a validated [`SetInventory`] inside a caller's transaction.
pub async fn apply_set(
    conn: &impl ConnectionTrait,
    request: &SetInventory,
    context: &ChangeContext,
) -> Result<ItemChange> {
    let sku = catalog::find_sku(conn, &request.sku).await?;
    find_warehouse(conn, request.warehouse_id).await?;
    let settings = catalog::inventory_configuration(conn, sku.product_id).await?;
    bookings::sweep_expired(conn, Some(&[sku.id]), context).await?;
    let item = lock_item(conn, request.warehouse_id, sku.id, true)
        .await?
        .ok_or_else(item_vanished)?;

    if let Some(expected) = request.expected_on_hand
        && expected != item.on_hand
    {
        return Err(Error::field(
            ErrorCode::Conflict,
            "expectedOnHand",
            format!(
                "expectedOnHand is {expected} but SKU {:?} has {} on hand in warehouse {}: read the current value and retry",
                sku.code, item.on_hand, request.warehouse_id
            ),
        ));
    }

    let on_hand = request.on_hand.unwrap_or(item.on_hand);
    let safety_stock = request.safety_stock.unwrap_or(item.safety_stock);
    let threshold = request.low_stock_threshold.unwrap_or(item.low_stock_threshold);
    if on_hand < item.booked && on_hand < item.on_hand && !settings.allow_back_orders {
        return Err(below_booked(&sku, &item, on_hand));
    }
    if on_hand == item.on_hand
        && safety_stock == item.safety_stock
        && threshold == item.low_stock_threshold
    {
        return Ok(ItemChange { warehouse_item_id: item.id, ledger_entry_ids: Vec::new() });
    }

    let updated = write_quantities(conn, &item, on_hand, item.booked, safety_stock, threshold).await?;
    let mut ledger_entry_ids = Vec::new();
    if on_hand != item.on_hand {
        let entry =
            ledger::record(conn, &updated, LedgerKind::Set, on_hand - item.on_hand, 0, None, context)
                .await?;
        ledger_entry_ids.push(entry.id);
    }
    Ok(ItemChange { warehouse_item_id: updated.id, ledger_entry_ids })
}

fn below_booked(sku: &sku::Model, item: &warehouse_item::Model, on_hand: i64) -> Error {
    Error::field(
        ErrorCode::InsufficientStock,
        "onHand",
        format!(
            "onHand {on_hand} would be below the {} units of SKU {:?} booked in warehouse {}: release or re-allocate those bookings first, or allow back orders for the product",
            item.booked, sku.code, item.warehouse_id
        ),
    )
}

/// A request to change one item's on-hand quantity by a delta.
#[derive(Clone, Debug, Serialize)]
pub struct AdjustInventory {
    #[serde(serialize_with = "serialize_code")]
    pub sku: SkuCode,
    pub warehouse_id: i64,
    pub delta: i64,
}

/// Adds a non-zero delta to an item's on-hand quantity. A positive delta creates the item when
/// the SKU is not stocked in the warehouse yet.
///
/// # Errors
/// `INVALID_INPUT` for a zero or out-of-range delta; `INSUFFICIENT_STOCK` when on hand would
/// fall below zero, or below the booked quantity without back orders.
pub async fn adjust_inventory(
    db: &Db,
    request: AdjustInventory,
    context: &ChangeContext,
) -> Result<ItemChange> {
    let delta = Delta::parse("delta", request.delta)?;
    idempotency::validate_key(context.idempotency_key.as_deref())?;
    db.write(|txn| {
        let (request, context) = (request.clone(), context.clone());
        Box::pin(async move {
            let key = context.idempotency_key.as_deref();
            if let Some(done) = idempotency::replay(txn, key, "adjustInventory", &request).await? {
                return Ok(done);
            }
            let change = apply_adjust(txn, &request, delta, &context).await?;
            idempotency::remember(txn, key, &change).await?;
            Ok(change)
        })
    })
    .await
}

async fn apply_adjust(
    conn: &impl ConnectionTrait,
    request: &AdjustInventory,
    delta: Delta,
    context: &ChangeContext,
) -> Result<ItemChange> {
    let sku = catalog::find_sku(conn, &request.sku).await?;
    find_warehouse(conn, request.warehouse_id).await?;
    let settings = catalog::inventory_configuration(conn, sku.product_id).await?;
    bookings::sweep_expired(conn, Some(&[sku.id]), context).await?;
    let delta = delta.get();
    let Some(item) = lock_item(conn, request.warehouse_id, sku.id, delta > 0).await? else {
        return Err(Error::field(
            ErrorCode::InsufficientStock,
            "delta",
            format!(
                "cannot remove {} units: SKU {:?} is not stocked in warehouse {}",
                -delta, sku.code, request.warehouse_id
            ),
        ));
    };

    let on_hand = item.on_hand + delta;
    if on_hand < 0 {
        return Err(Error::field(
            ErrorCode::InsufficientStock,
            "delta",
            format!(
                "cannot remove {} units: SKU {:?} has only {} on hand in warehouse {}",
                -delta, sku.code, item.on_hand, request.warehouse_id
            ),
        ));
    }
    if on_hand > MAX_QUANTITY {
        return Err(Error::invalid(
            "delta",
            format!(
                "delta {delta} would take on hand of SKU {:?} in warehouse {} to {on_hand}, above the maximum of {MAX_QUANTITY}",
                sku.code, request.warehouse_id
            ),
        ));
    }
    if delta < 0 && on_hand < item.booked && !settings.allow_back_orders {
        return Err(below_booked(&sku, &item, on_hand).with_field("delta"));
    }

    let updated = write_quantities(
        conn,
        &item,
        on_hand,
        item.booked,
        item.safety_stock,
        item.low_stock_threshold,
    )
    .await?;
    let entry = ledger::record(conn, &updated, LedgerKind::Adjusted, delta, 0, None, context).await?;
    Ok(ItemChange { warehouse_item_id: updated.id, ledger_entry_ids: vec![entry.id] })
}

/// What a bulk request does when some items are invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, async_graphql::Enum)]
pub enum BulkErrorPolicy {
    /// Change nothing if any item is rejected.
    RejectAll,
    /// Apply the valid items and report the rejected ones.
    RejectFailedItems,
}

/// The outcome of one item of a bulk request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BulkItemOutcome {
    pub index: usize,
    pub change: Option<ItemChange>,
    pub error: Option<BulkItemError>,
}

/// A rejected item of a bulk request, in a storable form.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BulkItemError {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

#[derive(Serialize)]
struct BulkRequest<'a> {
    items: &'a [SetInventory],
    policy: BulkErrorPolicy,
}

/// The largest number of items one bulk request may hold.
pub const MAX_BULK_ITEMS: usize = 10_000;

/// Sets many items in one transaction.
///
/// With [`BulkErrorPolicy::RejectAll`], the first rejected item rejects the whole request with
/// its error, its field prefixed by `items.N`, and nothing changes. With
/// [`BulkErrorPolicy::RejectFailedItems`], each item runs in a savepoint, so a rejected item
/// leaves no trace and the others are applied.
pub async fn bulk_set_inventory(
    db: &Db,
    items: Vec<SetInventory>,
    policy: BulkErrorPolicy,
    context: &ChangeContext,
) -> Result<Vec<BulkItemOutcome>> {
    if items.is_empty() {
        return Err(Error::invalid("items", "items is empty: give at least one item"));
    }
    if items.len() > MAX_BULK_ITEMS {
        return Err(Error::invalid(
            "items",
            format!(
                "{} items in one request, above the limit of {MAX_BULK_ITEMS}: split the request",
                items.len()
            ),
        ));
    }
    idempotency::validate_key(context.idempotency_key.as_deref())?;
    if policy == BulkErrorPolicy::RejectAll {
        for (index, item) in items.iter().enumerate() {
            item.validate().map_err(|err| err.within(&format!("items.{index}")))?;
        }
    }

    db.write(|txn| {
        let (items, context) = (items.clone(), context.clone());
        Box::pin(async move {
            let key = context.idempotency_key.as_deref();
            let request = BulkRequest { items: &items, policy };
            if let Some(done) = idempotency::replay(txn, key, "bulkSetInventory", &request).await? {
                return Ok(done);
            }
            let mut outcomes = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let outcome = match policy {
                    BulkErrorPolicy::RejectAll => apply_set(txn, item, &context)
                        .await
                        .map_err(|err| err.within(&format!("items.{index}")))?,
                    BulkErrorPolicy::RejectFailedItems => {
                        match apply_in_savepoint(txn, item, &context).await {
                            Ok(change) => change,
                            Err(Error::Rejected { code, message, field, .. }) => {
                                outcomes.push(BulkItemOutcome {
                                    index,
                                    change: None,
                                    error: Some(BulkItemError {
                                        code: code.as_str().to_owned(),
                                        message,
                                        field: Some(match field {
                                            Some(field) => format!("items.{index}.{field}"),
                                            None => format!("items.{index}"),
                                        }),
                                    }),
                                });
                                continue;
                            }
                            Err(internal) => return Err(internal),
                        }
                    }
                };
                outcomes.push(BulkItemOutcome { index, change: Some(outcome), error: None });
            }
            idempotency::remember(txn, key, &outcomes).await?;
            Ok(outcomes)
        })
    })
    .await
}

async fn apply_in_savepoint(
    txn: &sea_orm::DatabaseTransaction,
    item: &SetInventory,
    context: &ChangeContext,
) -> Result<ItemChange> {
    item.validate()?;
    let savepoint = txn.begin().await?;
    match apply_set(&savepoint, item, context).await {
        Ok(change) => {
            savepoint.commit().await?;
            Ok(change)
        }
        Err(err) => {
            savepoint.rollback().await?;
            Err(err)
        }
    }
}

/// A request to move stock between two warehouses.
#[derive(Clone, Debug, Serialize)]
pub struct TransferInventory {
    #[serde(serialize_with = "serialize_code")]
    pub sku: SkuCode,
    pub from_warehouse_id: i64,
    pub to_warehouse_id: i64,
    pub quantity: i64,
}

/// The result of a transfer: both items and the reference shared by its two ledger rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferOutcome {
    pub reference: String,
    pub from: ItemChange,
    pub to: ItemChange,
}

/// Moves on-hand stock from one warehouse to another atomically, creating the destination item
/// when missing. At most the source's available quantity can move: safety stock and booked
/// units stay where they are.
pub async fn transfer_inventory(
    db: &Db,
    request: TransferInventory,
    context: &ChangeContext,
) -> Result<TransferOutcome> {
    let quantity = Quantity::parse_positive("quantity", request.quantity)?.get();
    if request.from_warehouse_id == request.to_warehouse_id {
        return Err(Error::invalid(
            "toWarehouseId",
            "fromWarehouseId and toWarehouseId are the same warehouse: name two different warehouses",
        ));
    }
    idempotency::validate_key(context.idempotency_key.as_deref())?;
    db.write(|txn| {
        let (request, context) = (request.clone(), context.clone());
        Box::pin(async move {
            let key = context.idempotency_key.as_deref();
            if let Some(done) = idempotency::replay(txn, key, "transferInventory", &request).await? {
                return Ok(done);
            }
            let outcome = apply_transfer(txn, &request, quantity, &context).await?;
            idempotency::remember(txn, key, &outcome).await?;
            Ok(outcome)
        })
    })
    .await
}

async fn apply_transfer(
    conn: &impl ConnectionTrait,
    request: &TransferInventory,
    quantity: i64,
    context: &ChangeContext,
) -> Result<TransferOutcome> {
    let sku = catalog::find_sku(conn, &request.sku).await?;
    find_warehouse(conn, request.from_warehouse_id)
        .await
        .map_err(|err| err.with_field("fromWarehouseId"))?;
    find_warehouse(conn, request.to_warehouse_id)
        .await
        .map_err(|err| err.with_field("toWarehouseId"))?;

    bookings::sweep_expired(conn, Some(&[sku.id]), context).await?;

    // Lock both items in warehouse id order, so two opposite transfers cannot deadlock.
    let (from, to) = (request.from_warehouse_id, request.to_warehouse_id);
    let (source, target) = if from < to {
        let source = lock_item(conn, from, sku.id, false).await?;
        let target = lock_item(conn, to, sku.id, true).await?;
        (source, target)
    } else {
        let target = lock_item(conn, to, sku.id, true).await?;
        let source = lock_item(conn, from, sku.id, false).await?;
        (source, target)
    };
    let target = target.ok_or_else(item_vanished)?;
    let available = source
        .as_ref()
        .map(|item| item.on_hand - item.safety_stock - item.booked)
        .unwrap_or(0)
        .max(0);
    let Some(source) = source.filter(|_| quantity <= available) else {
        return Err(Error::field(
            ErrorCode::InsufficientStock,
            "quantity",
            format!(
                "cannot transfer {quantity} units of SKU {:?}: warehouse {from} has {available} available (on hand less safety stock and booked)",
                sku.code
            ),
        ));
    };
    if target.on_hand + quantity > MAX_QUANTITY {
        return Err(Error::invalid(
            "quantity",
            format!(
                "transfer would take on hand in warehouse {to} to {}, above the maximum of {MAX_QUANTITY}",
                target.on_hand + quantity
            ),
        ));
    }

    let reference = format!("transfer-{}", uuid::Uuid::new_v4());
    let source = write_quantities(
        conn,
        &source,
        source.on_hand - quantity,
        source.booked,
        source.safety_stock,
        source.low_stock_threshold,
    )
    .await?;
    let target = write_quantities(
        conn,
        &target,
        target.on_hand + quantity,
        target.booked,
        target.safety_stock,
        target.low_stock_threshold,
    )
    .await?;
    let out = ledger::record(conn, &source, LedgerKind::TransferredOut, -quantity, 0, Some(reference.clone()), context).await?;
    let into = ledger::record(conn, &target, LedgerKind::TransferredIn, quantity, 0, Some(reference.clone()), context).await?;
    Ok(TransferOutcome {
        reference,
        from: ItemChange { warehouse_item_id: source.id, ledger_entry_ids: vec![out.id] },
        to: ItemChange { warehouse_item_id: target.id, ledger_entry_ids: vec![into.id] },
    })
}

/// Loads a warehouse item by id.
pub async fn find_item(conn: &impl ConnectionTrait, id: i64) -> Result<warehouse_item::Model> {
    warehouse_item::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("id", format!("warehouse item {id} not found")))
}

/// The error for an item that `lock_item(.., true)` could not return, which the warehouse
/// lock should make impossible.
pub fn item_vanished() -> Error {
    Error::Internal(anyhow::anyhow!("a warehouse item created in this transaction could not be read back"))
}
