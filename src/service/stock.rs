//! Reading stock: summaries of SKUs over a scope of warehouses.
//!
//! A scope is the set of warehouses whose items count: a channel's active linked warehouses,
//! an explicit list of warehouses, both (their intersection), or when neither is given every
//! active warehouse. [`summarize`] reads the items of many SKUs in one statement, so a page of
//! SKUs costs the same number of statements as one SKU.

use std::{collections::HashMap, sync::Arc};

use entity::{sku, warehouse, warehouse_item};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QueryResult, QuerySelect,
    Select,
    sea_query::{Expr, Func},
};

use super::{bookings, catalog, channels::find_channel, replenishments, warehouses};
use crate::error::{Error, Result};

/// Which warehouses a stock query covers, as the client asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScopeRequest {
    pub channel_id: Option<i64>,
    /// Sorted and without repeats.
    pub warehouse_ids: Option<Vec<i64>>,
}

/// The warehouses a stock query covers, resolved.
#[derive(Clone, Debug)]
pub struct Scope {
    /// In allocation order: priority, then id. Shared by every [`WarehouseStock`] of a summary.
    pub warehouses: Vec<Arc<warehouse::Model>>,
}

/// Resolves a scope.
///
/// # Errors
/// `NOT_FOUND` for an unknown channel or warehouse id.
pub async fn resolve_scope(conn: &impl ConnectionTrait, request: &ScopeRequest) -> Result<Scope> {
    let mut warehouses = match (&request.channel_id, &request.warehouse_ids) {
        (Some(channel_id), _) => {
            find_channel(conn, *channel_id).await?;
            warehouses::channel_active_warehouses(conn, *channel_id).await?
        }
        (None, Some(_)) => Vec::new(),
        (None, None) => {
            warehouse::Entity::find()
                .filter(warehouse::Column::Active.eq(true))
                .order_by_asc(warehouse::Column::Priority)
                .order_by_asc(warehouse::Column::Id)
                .all(conn)
                .await?
        }
    };
    if let Some(ids) = &request.warehouse_ids {
        let listed = warehouse::Entity::find()
            .filter(warehouse::Column::Id.is_in(ids.iter().copied()))
            .order_by_asc(warehouse::Column::Priority)
            .order_by_asc(warehouse::Column::Id)
            .all(conn)
            .await?;
        if let Some(missing) = ids.iter().find(|id| !listed.iter().any(|w| w.id == **id)) {
            return Err(Error::not_found("warehouseIds", format!("warehouse {missing} not found")));
        }
        warehouses = match request.channel_id {
            Some(_) => warehouses.into_iter().filter(|w| ids.contains(&w.id)).collect(),
            None => listed,
        };
    }
    Ok(Scope { warehouses: warehouses.into_iter().map(Arc::new).collect() })
}

/// The columns of a warehouse item that stock figures need. Reading only these, rather than
/// whole items, spares decoding the other columns (the timestamps above all) of every row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemStock {
    pub id: i64,
    pub warehouse_id: i64,
    pub sku_id: i64,
    pub on_hand: i64,
    pub safety_stock: i64,
    pub booked: i64,
    pub low_stock_threshold: Option<i64>,
}

/// Stands for "no threshold" in [`ItemStock::select`]. The database keeps thresholds at zero
/// or above.
const NO_THRESHOLD: i64 = -1;

impl ItemStock {
    /// Selects the columns in the order [`FromQueryResult`] reads them.
    ///
    /// The rows are read by position and the threshold arrives as [`NO_THRESHOLD`] instead of
    /// NULL: SeaORM finds a column by comparing names and builds an error message for each
    /// NULL it reads as an `Option`, which cost a stock page of 2,000 rows about 6 % of its
    /// instructions (BENCHMARKS.md).
    fn select() -> Select<warehouse_item::Entity> {
        use warehouse_item::Column;
        warehouse_item::Entity::find()
            .select_only()
            .columns([Column::Id, Column::WarehouseId, Column::SkuId, Column::OnHand, Column::SafetyStock, Column::Booked])
            .expr(Func::coalesce([Expr::col(Column::LowStockThreshold), Expr::val(NO_THRESHOLD)]))
    }
}

impl FromQueryResult for ItemStock {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> std::result::Result<Self, DbErr> {
        let threshold: i64 = row.try_get_by_index(6)?;
        Ok(ItemStock {
            id: row.try_get_by_index(0)?,
            warehouse_id: row.try_get_by_index(1)?,
            sku_id: row.try_get_by_index(2)?,
            on_hand: row.try_get_by_index(3)?,
            safety_stock: row.try_get_by_index(4)?,
            booked: row.try_get_by_index(5)?,
            low_stock_threshold: (threshold != NO_THRESHOLD).then_some(threshold),
        })
    }
}

/// The stock of one SKU in one warehouse of the scope.
#[derive(Clone, Debug)]
pub struct WarehouseStock {
    pub warehouse: Arc<warehouse::Model>,
    /// The item's quantities as stored.
    pub item: ItemStock,
    /// Units of open replenishment items still to arrive here.
    pub incoming: i64,
    /// Units that bookings past their expiry still hold in the stored `booked`, until the
    /// sweeper records the expiry; they count for nothing.
    pub expired_hold: i64,
}

impl WarehouseStock {
    /// Units held by bookings that have not expired.
    pub fn booked(&self) -> i64 {
        (self.item.booked - self.expired_hold).max(0)
    }

    /// On hand less safety stock and booked; negative when the warehouse is in deficit.
    pub fn available(&self) -> i64 {
        self.item.on_hand - self.item.safety_stock - self.booked()
    }
}

/// The stock of one SKU summed over a scope.
#[derive(Clone, Debug)]
pub struct StockSummary {
    pub sku: sku::Model,
    pub on_hand: i64,
    pub safety_stock: i64,
    pub booked: i64,
    /// With back orders off, the sum of each warehouse's available quantity floored at zero,
    /// so a warehouse in deficit never hides stock in another; with back orders on, the plain
    /// sum, which may be negative.
    pub available: i64,
    /// Units of open replenishment items still to arrive in the scope; never sellable until
    /// received.
    pub incoming: i64,
    /// Warehouses of the scope where the SKU has an item, in allocation order.
    pub by_warehouse: Vec<WarehouseStock>,
}

/// Computes the summaries of `skus` over `scope` in four statements: items, holds of expired
/// bookings, open replenishments and settings.
pub async fn summarize(
    conn: &impl ConnectionTrait,
    skus: &[sku::Model],
    scope: &Scope,
) -> Result<Vec<StockSummary>> {
    let warehouse_ids: Vec<i64> = scope.warehouses.iter().map(|w| w.id).collect();
    let mut items_by_sku: HashMap<i64, Vec<ItemStock>> = HashMap::new();
    if !warehouse_ids.is_empty() && !skus.is_empty() {
        for chunk in skus.chunks(1000) {
            let items = ItemStock::select()
                .filter(warehouse_item::Column::SkuId.is_in(chunk.iter().map(|s| s.id)))
                .filter(warehouse_item::Column::WarehouseId.is_in(warehouse_ids.iter().copied()))
                .into_model::<ItemStock>()
                .all(conn)
                .await?;
            for item in items {
                items_by_sku.entry(item.sku_id).or_default().push(item);
            }
        }
    }
    // Holds of bookings past their expiry count for nothing, even before the sweeper runs.
    let sku_ids: Vec<i64> = items_by_sku.keys().copied().collect();
    let expired = bookings::expired_holds(conn, &sku_ids).await?;
    let all_sku_ids: Vec<i64> = skus.iter().map(|s| s.id).collect();
    let incoming = replenishments::incoming_by_item(&replenishments::open_items(conn, &all_sku_ids, &warehouse_ids).await?);
    let settings = catalog::inventory_configurations(conn, skus.iter().map(|s| s.product_id)).await?;
    let position: HashMap<i64, usize> =
        scope.warehouses.iter().enumerate().map(|(i, w)| (w.id, i)).collect();

    let summaries = skus
        .iter()
        .map(|sku| {
            let mut items = items_by_sku.remove(&sku.id).unwrap_or_default();
            items.sort_by_key(|item| position[&item.warehouse_id]);
            let by_warehouse: Vec<WarehouseStock> = items
                .into_iter()
                .map(|item| WarehouseStock {
                    warehouse: Arc::clone(&scope.warehouses[position[&item.warehouse_id]]),
                    incoming: incoming.get(&(item.warehouse_id, item.sku_id)).copied().unwrap_or(0),
                    expired_hold: expired.get(&(item.warehouse_id, item.sku_id)).copied().unwrap_or(0),
                    item,
                })
                .collect();
            let back_orders = settings.get(&sku.product_id).is_some_and(|s| s.allow_back_orders);
            let sku_incoming = scope.warehouses.iter().filter_map(|w| incoming.get(&(w.id, sku.id))).sum();
            summary_of(sku.clone(), by_warehouse, back_orders, sku_incoming)
        })
        .collect();
    Ok(summaries)
}

fn summary_of(sku: sku::Model, by_warehouse: Vec<WarehouseStock>, back_orders: bool, incoming: i64) -> StockSummary {
    let sum = |f: fn(&ItemStock) -> i64| by_warehouse.iter().map(|w| f(&w.item)).sum();
    let available = by_warehouse
        .iter()
        .map(|w| if back_orders { w.available() } else { w.available().max(0) })
        .sum();
    StockSummary {
        on_hand: sum(|i| i.on_hand),
        safety_stock: sum(|i| i.safety_stock),
        booked: by_warehouse.iter().map(WarehouseStock::booked).sum(),
        available,
        incoming,
        sku,
        by_warehouse,
    }
}
