//! Warehouses, their links to channels, activation and deletion.

use entity::{booking_line, warehouse, warehouse_channel, warehouse_item};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Set,
    sea_query::{Expr, ExprTrait, Func},
};

use super::{
    ChangeContext,
    channels::find_channel,
    events::{self, InventoryEventScope},
    inventory::{self, lock_item},
    ledger::{self, LedgerKind},
    now, replenishments,
};
use crate::{
    db::Db,
    domain::{Coordinates, CountryCode, ExternalReferenceCode, Name},
    error::{Error, ErrorCode, Result, map_unique_violation},
};

/// Postal address of a warehouse; every part is optional.
#[derive(Clone, Debug, Default)]
pub struct Address {
    pub street1: Option<String>,
    pub street2: Option<String>,
    pub street3: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub region_code: Option<String>,
    pub country_code: Option<CountryCode>,
}

/// Fields of a new warehouse.
#[derive(Clone, Debug)]
pub struct NewWarehouse {
    pub name: Name,
    pub external_reference_code: Option<ExternalReferenceCode>,
    pub description: Option<String>,
    pub active: bool,
    pub address: Address,
    pub coordinates: Option<Coordinates>,
    pub priority: i32,
}

/// Changes to a warehouse; `None` keeps the current value, `Some(None)` clears an optional one.
#[derive(Clone, Debug, Default)]
pub struct WarehouseChanges {
    pub name: Option<Name>,
    pub external_reference_code: Option<Option<ExternalReferenceCode>>,
    pub description: Option<Option<String>>,
    pub street1: Option<Option<String>>,
    pub street2: Option<Option<String>>,
    pub street3: Option<Option<String>>,
    pub city: Option<Option<String>>,
    pub zip: Option<Option<String>>,
    pub region_code: Option<Option<String>>,
    pub country_code: Option<Option<CountryCode>>,
    pub coordinates: Option<Option<Coordinates>>,
    pub priority: Option<i32>,
}

/// Filter of the warehouse list.
#[derive(Clone, Debug, Default)]
pub struct WarehouseFilter {
    pub active: Option<bool>,
    pub channel_id: Option<i64>,
    /// Case-insensitive substring of the name, city or external reference code.
    pub search: Option<String>,
}

/// Finds a warehouse by id and locks its row exclusively for the rest of the transaction.
async fn lock_warehouse(conn: &impl ConnectionTrait, id: i64) -> Result<warehouse::Model> {
    let mut query = warehouse::Entity::find_by_id(id);
    if conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(conn).await?.ok_or_else(|| Error::not_found("warehouseId", format!("warehouse {id} not found")))
}

/// Finds a warehouse by id.
pub async fn find_warehouse(conn: &impl ConnectionTrait, id: i64) -> Result<warehouse::Model> {
    warehouse::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("warehouseId", format!("warehouse {id} not found")))
}

/// Finds a warehouse by its external reference code.
pub async fn find_warehouse_by_erc(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<warehouse::Model>> {
    Ok(warehouse::Entity::find()
        .filter(warehouse::Column::ExternalReferenceCode.eq(code.trim()))
        .one(conn)
        .await?)
}

/// The warehouse list for a filter, unordered.
pub fn select_warehouses(filter: &WarehouseFilter) -> Select<warehouse::Entity> {
    let mut query = warehouse::Entity::find();
    if let Some(active) = filter.active {
        query = query.filter(warehouse::Column::Active.eq(active));
    }
    if let Some(channel_id) = filter.channel_id {
        query = query.filter(
            warehouse::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(warehouse_channel::Column::WarehouseId)
                    .from(warehouse_channel::Entity)
                    .and_where(warehouse_channel::Column::ChannelId.eq(channel_id))
                    .to_owned(),
            ),
        );
    }
    if let Some(term) = filter.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", term.to_lowercase().replace(['%', '_'], ""));
        let mut any = sea_orm::Condition::any();
        for column in [
            warehouse::Column::Name,
            warehouse::Column::City,
            warehouse::Column::ExternalReferenceCode,
        ] {
            any = any.add(Expr::expr(Func::lower(Expr::col(column))).like(pattern.clone()));
        }
        query = query.filter(any);
    }
    query
}

/// The active warehouses linked to a channel, by allocation priority then id.
pub async fn channel_active_warehouses(
    conn: &impl ConnectionTrait,
    channel_id: i64,
) -> Result<Vec<warehouse::Model>> {
    let filter = WarehouseFilter { active: Some(true), channel_id: Some(channel_id), search: None };
    Ok(select_warehouses(&filter)
        .order_by_asc(warehouse::Column::Priority)
        .order_by_asc(warehouse::Column::Id)
        .all(conn)
        .await?)
}

/// Creates a warehouse.
pub async fn create_warehouse(db: &Db, input: NewWarehouse) -> Result<warehouse::Model> {
    db.write(|txn| {
        let input = input.clone();
        Box::pin(async move { insert_warehouse(txn, &input).await })
    })
    .await
}

/// Inserts a warehouse inside a caller's transaction.
pub async fn insert_warehouse(
    conn: &impl ConnectionTrait,
    input: &NewWarehouse,
) -> Result<warehouse::Model> {
    if let Some(code) = &input.external_reference_code {
        ensure_erc_free(conn, code, None).await?;
    }
    let time = now();
    let address = input.address.clone();
    warehouse::ActiveModel {
        name: Set(input.name.clone().into_inner()),
        external_reference_code: Set(
            input.external_reference_code.clone().map(ExternalReferenceCode::into_inner)
        ),
        description: Set(input.description.clone()),
        active: Set(input.active),
        street1: Set(address.street1),
        street2: Set(address.street2),
        street3: Set(address.street3),
        city: Set(address.city),
        zip: Set(address.zip),
        region_code: Set(address.region_code),
        country_code: Set(address.country_code.map(CountryCode::into_inner)),
        latitude: Set(input.coordinates.map(|c| c.latitude)),
        longitude: Set(input.coordinates.map(|c| c.longitude)),
        priority: Set(input.priority),
        created_at: Set(time),
        updated_at: Set(time),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|err| duplicate_erc(err, input.external_reference_code.as_ref()))
}

/// Updates a warehouse's descriptive fields. Activation has its own call.
pub async fn update_warehouse(
    db: &Db,
    id: i64,
    changes: WarehouseChanges,
) -> Result<warehouse::Model> {
    db.write(|txn| {
        let changes = changes.clone();
        Box::pin(async move {
            let current = find_warehouse(txn, id).await.map_err(|err| err.with_field("id"))?;
            let mut row: warehouse::ActiveModel = current.into();
            if let Some(name) = changes.name {
                row.name = Set(name.into_inner());
            }
            if let Some(code) = &changes.external_reference_code {
                if let Some(code) = code {
                    ensure_erc_free(txn, code, Some(id)).await?;
                }
                row.external_reference_code =
                    Set(code.clone().map(ExternalReferenceCode::into_inner));
            }
            if let Some(value) = changes.description {
                row.description = Set(value);
            }
            if let Some(value) = changes.street1 {
                row.street1 = Set(value);
            }
            if let Some(value) = changes.street2 {
                row.street2 = Set(value);
            }
            if let Some(value) = changes.street3 {
                row.street3 = Set(value);
            }
            if let Some(value) = changes.city {
                row.city = Set(value);
            }
            if let Some(value) = changes.zip {
                row.zip = Set(value);
            }
            if let Some(value) = changes.region_code {
                row.region_code = Set(value);
            }
            if let Some(value) = changes.country_code {
                row.country_code = Set(value.map(CountryCode::into_inner));
            }
            if let Some(value) = changes.coordinates {
                row.latitude = Set(value.map(|c| c.latitude));
                row.longitude = Set(value.map(|c| c.longitude));
            }
            if let Some(priority) = changes.priority {
                row.priority = Set(priority);
            }
            row.updated_at = Set(now());
            let code = changes.external_reference_code.flatten();
            row.update(txn).await.map_err(|err| duplicate_erc(err, code.as_ref()))
        })
    })
    .await
}

/// Activates or deactivates a warehouse. Inactive warehouses count for nothing in available
/// quantities, but keep their stock and bookings.
pub async fn set_warehouse_active(db: &Db, id: i64, active: bool) -> Result<warehouse::Model> {
    db.write(|txn| {
        Box::pin(async move {
            let current = find_warehouse(txn, id).await.map_err(|err| err.with_field("id"))?;
            if current.active == active {
                return Ok(current);
            }
            events::touch_warehouse(id);
            let mut row: warehouse::ActiveModel = current.into();
            row.active = Set(active);
            row.updated_at = Set(now());
            Ok(row.update(txn).await?)
        })
    })
    .await
}

/// Links a warehouse to a channel; linking a linked pair again is a `DUPLICATE`.
pub async fn link_warehouse(
    db: &Db,
    warehouse_id: i64,
    channel_id: i64,
) -> Result<(warehouse::Model, entity::channel::Model)> {
    db.write(|txn| Box::pin(async move { insert_link(txn, warehouse_id, channel_id).await }))
        .await
}

/// Links a warehouse to a channel inside a caller's transaction.
pub async fn insert_link(
    conn: &impl ConnectionTrait,
    warehouse_id: i64,
    channel_id: i64,
) -> Result<(warehouse::Model, entity::channel::Model)> {
    let warehouse = find_warehouse(conn, warehouse_id).await?;
    let channel = find_channel(conn, channel_id).await?;
    let duplicate = || {
        Error::field(
            ErrorCode::Duplicate,
            "warehouseId",
            format!(
                "warehouse {warehouse_id} is already linked to channel {channel_id}; nothing to do"
            ),
        )
    };
    if find_link(conn, warehouse_id, channel_id).await?.is_some() {
        return Err(duplicate());
    }
    events::touch_warehouse(warehouse_id);
    warehouse_channel::ActiveModel {
        warehouse_id: Set(warehouse_id),
        channel_id: Set(channel_id),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|err| map_unique_violation(err, "warehouseId", || duplicate().message()))?;
    Ok((warehouse, channel))
}

/// Removes the link between a warehouse and a channel.
pub async fn unlink_warehouse(
    db: &Db,
    warehouse_id: i64,
    channel_id: i64,
) -> Result<(warehouse::Model, entity::channel::Model)> {
    db.write(|txn| {
        Box::pin(async move {
            let warehouse = find_warehouse(txn, warehouse_id).await?;
            let channel = find_channel(txn, channel_id).await?;
            let Some(link) = find_link(txn, warehouse_id, channel_id).await? else {
                return Err(Error::field(
                    ErrorCode::NotFound,
                    "warehouseId",
                    format!("warehouse {warehouse_id} is not linked to channel {channel_id}"),
                ));
            };
            link.delete(txn).await?;
            events::touch_warehouse(warehouse_id);
            Ok((warehouse, channel))
        })
    })
    .await
}

async fn find_link(
    conn: &impl ConnectionTrait,
    warehouse_id: i64,
    channel_id: i64,
) -> Result<Option<warehouse_channel::Model>> {
    Ok(warehouse_channel::Entity::find()
        .filter(warehouse_channel::Column::WarehouseId.eq(warehouse_id))
        .filter(warehouse_channel::Column::ChannelId.eq(channel_id))
        .one(conn)
        .await?)
}

/// Deletes a warehouse. A warehouse that holds stock or bookings is refused with
/// `WAREHOUSE_NOT_EMPTY` unless `move_stock_to` names another warehouse: then its on-hand
/// stock, safety stock and bookings move there first, each move in the ledger.
pub async fn delete_warehouse(
    db: &Db,
    id: i64,
    move_stock_to: Option<i64>,
    context: &ChangeContext,
) -> Result<warehouse::Model> {
    db.write(|txn| {
        let context = context.clone();
        Box::pin(async move {
            // The exclusive lock waits for every write that holds a shared lock on the row (a
            // new item in this warehouse), and makes later ones wait, then fail as not found.
            let warehouse = lock_warehouse(txn, id).await.map_err(|err| err.with_field("id"))?;
            let items = warehouse_item::Entity::find()
                .filter(warehouse_item::Column::WarehouseId.eq(id))
                .order_by_asc(warehouse_item::Column::SkuId)
                .all(txn)
                .await?;
            let holding: Vec<&warehouse_item::Model> =
                items.iter().filter(|item| item.on_hand > 0 || item.booked > 0).collect();
            let booking_lines = booking_line::Entity::find()
                .filter(booking_line::Column::WarehouseId.eq(id))
                .count(txn)
                .await?;
            let shipped_lines = entity::shipment_line::Entity::find()
                .filter(entity::shipment_line::Column::WarehouseId.eq(id))
                .count(txn)
                .await?;
            let open_replenishments = replenishments::count_open(txn, id).await?;

            if !holding.is_empty() || booking_lines > 0 || shipped_lines > 0 || open_replenishments > 0 {
                let Some(target_id) = move_stock_to else {
                    let on_hand: i64 = holding.iter().map(|item| item.on_hand).sum();
                    let booked: i64 = holding.iter().map(|item| item.booked).sum();
                    return Err(Error::field(
                        ErrorCode::WarehouseNotEmpty,
                        "id",
                        format!(
                            "warehouse {id} holds {on_hand} units on hand and {booked} booked across {} SKUs, {open_replenishments} open replenishment items, and {} booking or shipment lines that name it: name another warehouse in moveStockTo to move them there",
                            holding.len(),
                            booking_lines + shipped_lines
                        ),
                    ));
                };
                if target_id == id {
                    return Err(Error::invalid(
                        "moveStockTo",
                        "moveStockTo names the warehouse being deleted: name another warehouse",
                    ));
                }
                let target = find_warehouse(txn, target_id).await.map_err(|err| err.with_field("moveStockTo"))?;
                if !target.active {
                    return Err(Error::field(
                        ErrorCode::WarehouseInactive,
                        "moveStockTo",
                        format!("warehouse {target_id} ({:?}) is inactive, so stock and bookings moved there would not count: activate it first or name an active one", target.name),
                    ));
                }
                move_contents(txn, id, target_id, &items, &context).await?;
                replenishments::move_open_items(txn, id, target_id).await?;
            }

            // Fully received replenishment items keep no stock; they go with the warehouse.
            entity::replenishment_item::Entity::delete_many()
                .filter(entity::replenishment_item::Column::WarehouseId.eq(id))
                .exec(txn)
                .await?;
            warehouse_item::Entity::delete_many()
                .filter(warehouse_item::Column::WarehouseId.eq(id))
                .exec(txn)
                .await?;
            warehouse.clone().delete(txn).await?;
            events::forget_scope(txn, InventoryEventScope::Warehouse, id).await?;
            Ok(warehouse)
        })
    })
    .await
}

/// Moves every item's stock and every booking line of warehouse `from` to warehouse `to`.
async fn move_contents(
    conn: &impl ConnectionTrait,
    from: i64,
    to: i64,
    items: &[warehouse_item::Model],
    context: &ChangeContext,
) -> Result<()> {
    let reference = Some(format!("warehouse-deletion-{from}"));
    for item in items {
        let source = lock_item(conn, from, item.sku_id, false)
            .await?
            .expect("BUG: the item was read in this transaction");
        let target = lock_item(conn, to, item.sku_id, true)
            .await?
            .ok_or_else(super::inventory::item_vanished)?;

        let new_target = inventory::write_quantities(
            conn,
            &target,
            target.on_hand + source.on_hand,
            target.booked + source.booked,
            target.safety_stock + source.safety_stock,
            target.low_stock_threshold,
        )
        .await
        .map_err(|err| err.within("moveStockTo"))?;
        let new_source =
            inventory::write_quantities(conn, &source, 0, 0, 0, source.low_stock_threshold).await?;

        if source.on_hand > 0 {
            ledger::record(conn, &with_booked(&new_source, source.booked), LedgerKind::TransferredOut, -source.on_hand, 0, reference.clone(), context).await?;
            ledger::record(conn, &with_booked(&new_target, target.booked), LedgerKind::TransferredIn, source.on_hand, 0, reference.clone(), context).await?;
        }
        if source.booked > 0 {
            ledger::record(conn, &new_source, LedgerKind::BookingMovedOut, 0, -source.booked, reference.clone(), context).await?;
            ledger::record(conn, &new_target, LedgerKind::BookingMovedIn, 0, source.booked, reference.clone(), context).await?;
        }
    }
    booking_line::Entity::update_many()
        .col_expr(booking_line::Column::WarehouseId, Expr::value(to))
        .filter(booking_line::Column::WarehouseId.eq(from))
        .exec(conn)
        .await?;
    // A cancelled shipment restores its units where the stock now is.
    entity::shipment_line::Entity::update_many()
        .col_expr(entity::shipment_line::Column::WarehouseId, Expr::value(to))
        .filter(entity::shipment_line::Column::WarehouseId.eq(from))
        .exec(conn)
        .await?;
    Ok(())
}

/// The item as it was between the on-hand move and the booking move, for the ledger row of
/// the on-hand move.
fn with_booked(item: &warehouse_item::Model, booked: i64) -> warehouse_item::Model {
    warehouse_item::Model { booked, ..item.clone() }
}

async fn ensure_erc_free(
    conn: &impl ConnectionTrait,
    code: &ExternalReferenceCode,
    except_id: Option<i64>,
) -> Result<()> {
    match find_warehouse_by_erc(conn, code.as_str()).await? {
        Some(other) if Some(other.id) != except_id => Err(Error::field(
            ErrorCode::Duplicate,
            "externalReferenceCode",
            format!("a warehouse with externalReferenceCode {:?} already exists", code.as_str()),
        )),
        _ => Ok(()),
    }
}

fn duplicate_erc(err: sea_orm::DbErr, code: Option<&ExternalReferenceCode>) -> Error {
    let code = code.map(|c| c.as_str().to_owned()).unwrap_or_default();
    map_unique_violation(err, "externalReferenceCode", || {
        format!("a warehouse with externalReferenceCode {code:?} already exists")
    })
}
