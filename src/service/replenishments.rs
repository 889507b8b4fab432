//! Replenishment: incoming stock expected on a calendar date, received into on hand.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::replenishment_item as replenishment;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, ModelTrait, QueryFilter,
    QuerySelect, Select, Set,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use super::{
    ChangeContext, catalog, idempotency,
    inventory::{ItemChange, lock_item, write_quantities},
    ledger::{self, LedgerKind},
    now,
    warehouses::find_warehouse,
};
use crate::{
    db::Db,
    domain::{ExternalReferenceCode, MAX_QUANTITY, Quantity, SkuCode},
    error::{Error, ErrorCode, Result, map_unique_violation},
};

/// Fields of a new replenishment item.
#[derive(Clone, Debug)]
pub struct NewReplenishment {
    pub warehouse_id: i64,
    pub sku: SkuCode,
    pub quantity: i64,
    pub expected_on: NaiveDate,
    pub external_reference_code: Option<ExternalReferenceCode>,
}

/// Changes to a replenishment item; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct ReplenishmentChanges {
    pub quantity: Option<i64>,
    pub expected_on: Option<NaiveDate>,
    /// `Some(None)` removes the code.
    pub external_reference_code: Option<Option<ExternalReferenceCode>>,
}

/// Filter of the replenishment list.
#[derive(Clone, Debug, Default)]
pub struct ReplenishmentFilter {
    pub sku_id: Option<i64>,
    pub warehouse_id: Option<i64>,
    /// Only items expected on or before this date.
    pub expected_before: Option<NaiveDate>,
    /// Only items not fully received (true) or only fully received ones (false).
    pub open: Option<bool>,
}

/// Units of an item still to arrive.
pub fn remaining(item: &replenishment::Model) -> i64 {
    item.quantity - item.received_quantity
}

/// Finds a replenishment item by id.
pub async fn find_replenishment(conn: &impl ConnectionTrait, id: i64) -> Result<replenishment::Model> {
    replenishment::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("id", format!("replenishment item {id} not found")))
}

/// The replenishment list for a filter, unordered.
pub fn select_replenishments(filter: &ReplenishmentFilter) -> Select<replenishment::Entity> {
    let mut query = replenishment::Entity::find();
    if let Some(sku_id) = filter.sku_id {
        query = query.filter(replenishment::Column::SkuId.eq(sku_id));
    }
    if let Some(warehouse_id) = filter.warehouse_id {
        query = query.filter(replenishment::Column::WarehouseId.eq(warehouse_id));
    }
    if let Some(date) = filter.expected_before {
        query = query.filter(replenishment::Column::ExpectedOn.lte(date));
    }
    match filter.open {
        Some(true) => query = query.filter(Expr::col(replenishment::Column::ReceivedQuantity).lt(Expr::col(replenishment::Column::Quantity))),
        Some(false) => query = query.filter(Expr::col(replenishment::Column::ReceivedQuantity).eq(Expr::col(replenishment::Column::Quantity))),
        None => {}
    }
    query
}

/// Open items of the given SKUs in the given warehouses, in one query.
pub async fn open_items(conn: &impl ConnectionTrait, sku_ids: &[i64], warehouse_ids: &[i64]) -> Result<Vec<replenishment::Model>> {
    if sku_ids.is_empty() || warehouse_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for chunk in sku_ids.chunks(1000) {
        found.extend(
            replenishment::Entity::find()
                .filter(replenishment::Column::SkuId.is_in(chunk.iter().copied()))
                .filter(replenishment::Column::WarehouseId.is_in(warehouse_ids.iter().copied()))
                .filter(Expr::col(replenishment::Column::ReceivedQuantity).lt(Expr::col(replenishment::Column::Quantity)))
                .all(conn)
                .await?,
        );
    }
    Ok(found)
}

/// Units still to arrive per (warehouse, SKU).
pub fn incoming_by_item(items: &[replenishment::Model]) -> HashMap<(i64, i64), i64> {
    let mut incoming = HashMap::new();
    for item in items {
        *incoming.entry((item.warehouse_id, item.sku_id)).or_insert(0) += remaining(item);
    }
    incoming
}

/// Creates a replenishment item.
///
/// # Errors
/// `NOT_FOUND` for an unknown warehouse or SKU; `INVALID_INPUT` for a quantity outside 1 to
/// 1,000,000,000; `DUPLICATE` for a taken external reference code.
pub async fn create_replenishment(db: &Db, input: NewReplenishment) -> Result<replenishment::Model> {
    Quantity::parse_positive("quantity", input.quantity)?;
    db.write(|txn| {
        let input = input.clone();
        Box::pin(async move {
            find_warehouse(txn, input.warehouse_id).await?;
            let sku = catalog::find_sku(txn, &input.sku).await?;
            if let Some(code) = &input.external_reference_code {
                ensure_erc_free(txn, code, None).await?;
            }
            let time = now();
            replenishment::ActiveModel {
                warehouse_id: Set(input.warehouse_id),
                sku_id: Set(sku.id),
                quantity: Set(input.quantity),
                received_quantity: Set(0),
                expected_on: Set(input.expected_on),
                external_reference_code: Set(input.external_reference_code.clone().map(ExternalReferenceCode::into_inner)),
                created_at: Set(time),
                updated_at: Set(time),
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(|err| duplicate_erc(err, input.external_reference_code.as_ref()))
        })
    })
    .await
}

/// Changes an item's quantity, date or external reference code. The quantity cannot fall
/// below what was already received.
pub async fn update_replenishment(db: &Db, id: i64, changes: ReplenishmentChanges) -> Result<replenishment::Model> {
    if let Some(quantity) = changes.quantity {
        Quantity::parse_positive("quantity", quantity)?;
    }
    db.write(|txn| {
        let changes = changes.clone();
        Box::pin(async move {
            let current = lock(txn, id).await?;
            let mut row: replenishment::ActiveModel = current.clone().into();
            if let Some(quantity) = changes.quantity {
                if quantity < current.received_quantity {
                    return Err(Error::invalid(
                        "quantity",
                        format!("quantity {quantity} is below the {} units already received", current.received_quantity),
                    ));
                }
                row.quantity = Set(quantity);
            }
            if let Some(date) = changes.expected_on {
                row.expected_on = Set(date);
            }
            if let Some(code) = &changes.external_reference_code {
                if let Some(code) = code {
                    ensure_erc_free(txn, code, Some(id)).await?;
                }
                row.external_reference_code = Set(code.clone().map(ExternalReferenceCode::into_inner));
            }
            row.updated_at = Set(now());
            let code = changes.external_reference_code.flatten();
            row.update(txn).await.map_err(|err| duplicate_erc(err, code.as_ref()))
        })
    })
    .await
}

/// Deletes a replenishment item. Units already received stay on hand.
pub async fn delete_replenishment(db: &Db, id: i64) -> Result<replenishment::Model> {
    db.write(|txn| {
        Box::pin(async move {
            let current = lock(txn, id).await?;
            current.clone().delete(txn).await?;
            Ok(current)
        })
    })
    .await
}

/// The result of receiving: the item and the stock change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceiveOutcome {
    pub replenishment_id: i64,
    pub change: ItemChange,
}

/// Receives all of an item's remaining units, or `quantity` of them, into on hand, with a
/// `RECEIVED` ledger row. Receiving a fully received item is `CONFLICT`.
pub async fn receive_replenishment(db: &Db, id: i64, quantity: Option<i64>, context: &ChangeContext) -> Result<ReceiveOutcome> {
    if let Some(quantity) = quantity {
        Quantity::parse_positive("quantity", quantity)?;
    }
    idempotency::validate_key(context.idempotency_key.as_deref())?;
    db.write(|txn| {
        let context = context.clone();
        Box::pin(async move {
            let key = context.idempotency_key.as_deref();
            let request = (id, quantity);
            if let Some(done) = idempotency::replay(txn, key, "receiveReplenishment", &request).await? {
                return Ok(done);
            }
            let outcome = apply_receive(txn, id, quantity, &context).await?;
            idempotency::remember(txn, key, &outcome).await?;
            Ok(outcome)
        })
    })
    .await
}

async fn apply_receive(conn: &impl ConnectionTrait, id: i64, quantity: Option<i64>, context: &ChangeContext) -> Result<ReceiveOutcome> {
    let current = lock(conn, id).await?;
    let open = remaining(&current);
    if open == 0 {
        return Err(Error::field(
            ErrorCode::Conflict,
            "id",
            format!("replenishment item {id} was already received in full ({} units)", current.quantity),
        ));
    }
    let quantity = quantity.unwrap_or(open);
    if quantity > open {
        return Err(Error::invalid("quantity", format!("cannot receive {quantity} units: replenishment item {id} has {open} still to arrive")));
    }

    let item = lock_item(conn, current.warehouse_id, current.sku_id, true).await?.ok_or_else(super::inventory::item_vanished)?;
    if item.on_hand + quantity > MAX_QUANTITY {
        return Err(Error::invalid("quantity", format!("receiving {quantity} units would take on hand above {MAX_QUANTITY}")));
    }
    let updated = write_quantities(conn, &item, item.on_hand + quantity, item.booked, item.safety_stock, item.low_stock_threshold).await?;
    let reference = Some(current.external_reference_code.clone().unwrap_or_else(|| format!("replenishment-{id}")));
    let entry = ledger::record(conn, &updated, LedgerKind::Received, quantity, 0, reference, context).await?;

    let received = current.received_quantity + quantity;
    let mut row: replenishment::ActiveModel = current.into();
    row.received_quantity = Set(received);
    row.updated_at = Set(now());
    row.update(conn).await?;
    Ok(ReceiveOutcome { replenishment_id: id, change: ItemChange { warehouse_item_id: updated.id, ledger_entry_ids: vec![entry.id] } })
}

/// Moves every open item of warehouse `from` to warehouse `to`, for warehouse deletion.
pub async fn move_open_items(conn: &impl ConnectionTrait, from: i64, to: i64) -> Result<u64> {
    let result = replenishment::Entity::update_many()
        .col_expr(replenishment::Column::WarehouseId, Expr::value(to))
        .filter(replenishment::Column::WarehouseId.eq(from))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Counts the open items of a warehouse.
pub async fn count_open(conn: &impl ConnectionTrait, warehouse_id: i64) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    let filter = ReplenishmentFilter { warehouse_id: Some(warehouse_id), open: Some(true), ..Default::default() };
    Ok(select_replenishments(&filter).count(conn).await?)
}

async fn lock(conn: &impl ConnectionTrait, id: i64) -> Result<replenishment::Model> {
    let mut query = replenishment::Entity::find_by_id(id);
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(conn).await?.ok_or_else(|| Error::not_found("id", format!("replenishment item {id} not found")))
}

async fn ensure_erc_free(conn: &impl ConnectionTrait, code: &ExternalReferenceCode, except_id: Option<i64>) -> Result<()> {
    let found = replenishment::Entity::find()
        .filter(replenishment::Column::ExternalReferenceCode.eq(code.as_str()))
        .one(conn)
        .await?;
    match found {
        Some(other) if Some(other.id) != except_id => Err(Error::field(
            ErrorCode::Duplicate,
            "externalReferenceCode",
            format!("a replenishment item with externalReferenceCode {:?} already exists", code.as_str()),
        )),
        _ => Ok(()),
    }
}

fn duplicate_erc(err: sea_orm::DbErr, code: Option<&ExternalReferenceCode>) -> Error {
    let code = code.map(|c| c.as_str().to_owned()).unwrap_or_default();
    map_unique_violation(err, "externalReferenceCode", || {
        format!("a replenishment item with externalReferenceCode {code:?} already exists")
    })
}
