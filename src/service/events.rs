//! Inventory events: detecting low-stock crossings and stock changes, and the durable log.
//!
//! Every write transaction records which SKUs it touched through [`touch_sku`] and its
//! siblings. The ledger and the item writer call them, so no stock path can forget. Before the
//! transaction commits, [`crate::db::Db::write`] calls [`settle`], which judges each touched SKU in every
//! scope and compares the result with what was last reported, stored in `stock_watch`:
//!
//! - the company: available over all active warehouses against `minStockQuantity`;
//! - each channel: available over its active linked warehouses against `minStockQuantity`;
//! - each warehouse item: its own available against its `lowStockThreshold`, when set.
//!
//! A scope that goes from above its threshold to at or below it gets one LOW_STOCK event (and
//! OUT_OF_STOCK when it reaches zero); it gets nothing more until it rises above the threshold
//! (BACK_IN_STOCK). A scope judged for the first time counts as above its threshold before,
//! so a SKU first stocked at or below its threshold is reported once. Any change of a scope's
//! quantities also gets a STOCK_CHANGED event with the new ones.
//!
//! Events are written in the same transaction as the change, so a rolled-back change writes
//! none. On PostgreSQL, two locks keep this exact under concurrency: a lock per SKU while it is
//! judged, so two transactions never both report one crossing, and one lock around appending
//! to the log, held until commit, so sequences increase in commit order and a reader that has
//! seen sequence N has seen every event before it. The append also sends a NOTIFY, which
//! every server instance on the database listens to. On SQLite the write gate gives both.

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet, HashMap},
    future::Future,
};

use entity::{inventory_event, sku, stock_watch, warehouse, warehouse_channel, warehouse_item};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, FromQueryResult,
    JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait, Set, Statement, TransactionTrait,
    sea_query::OnConflict,
};

use super::{
    activities::{ActivityRegistry, LowStockCrossing},
    bookings, catalog, now,
};
use crate::error::Result;

/// The PostgreSQL channel that announces new events to every server instance.
pub const NOTIFY_CHANNEL: &str = "stockroom_inventory_events";

/// SKUs judged per round of statements; keeps every `IN (…)` list and batch insert small.
const CHUNK: usize = 500;

/// The kind of an inventory event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, async_graphql::Enum)]
pub enum InventoryEventKind {
    /// Available fell from above the threshold to at or below it.
    LowStock,
    /// Available fell to zero or below.
    OutOfStock,
    /// Available rose above the threshold after a LOW_STOCK.
    BackInStock,
    /// The scope's quantities changed; the event carries the new ones.
    StockChanged,
}

impl InventoryEventKind {
    /// Returns the stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            InventoryEventKind::LowStock => "LOW_STOCK",
            InventoryEventKind::OutOfStock => "OUT_OF_STOCK",
            InventoryEventKind::BackInStock => "BACK_IN_STOCK",
            InventoryEventKind::StockChanged => "STOCK_CHANGED",
        }
    }

    /// Parses the stored form.
    pub fn from_stored(text: &str) -> Option<InventoryEventKind> {
        [Self::LowStock, Self::OutOfStock, Self::BackInStock, Self::StockChanged]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    /// The kinds streamed by `lowStockEvents`.
    pub const LOW_STOCK_KINDS: [InventoryEventKind; 3] =
        [Self::LowStock, Self::OutOfStock, Self::BackInStock];
}

/// Whose quantity an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum)]
pub enum InventoryEventScope {
    /// The SKU over every active warehouse, against the product's `minStockQuantity`.
    Company,
    /// The SKU over a channel's active linked warehouses, against `minStockQuantity`.
    Channel,
    /// The SKU in one warehouse, against that warehouse item's own `lowStockThreshold`.
    Warehouse,
}

impl InventoryEventScope {
    /// Returns the stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            InventoryEventScope::Company => "COMPANY",
            InventoryEventScope::Channel => "CHANNEL",
            InventoryEventScope::Warehouse => "WAREHOUSE",
        }
    }

    /// Parses the stored form.
    pub fn from_stored(text: &str) -> Option<InventoryEventScope> {
        [Self::Company, Self::Channel, Self::Warehouse].into_iter().find(|scope| scope.as_str() == text)
    }
}

// ---------------------------------------------------------------- what a transaction touched

/// The SKUs, warehouses and products a transaction changed, to judge before it commits.
#[derive(Debug, Default)]
pub struct Touched {
    skus: BTreeSet<i64>,
    warehouses: BTreeSet<i64>,
    products: BTreeSet<i64>,
}

impl Touched {
    /// Returns true when nothing was touched.
    pub fn is_empty(&self) -> bool {
        self.skus.is_empty() && self.warehouses.is_empty() && self.products.is_empty()
    }
}

tokio::task_local! {
    static TOUCHED: RefCell<Touched>;
}

/// Runs `body` and returns what it touched along with its output.
pub async fn collect<T>(body: impl Future<Output = T>) -> (T, Touched) {
    TOUCHED
        .scope(RefCell::new(Touched::default()), async move {
            let output = body.await;
            let touched = TOUCHED.with(|touched| touched.take());
            (output, touched)
        })
        .await
}

fn touch(record: impl FnOnce(&mut Touched)) {
    // Outside `collect` (a read, or a test calling a service on a bare connection) there is no
    // transaction to settle.
    let _ = TOUCHED.try_with(|touched| record(&mut touched.borrow_mut()));
}

/// Marks a SKU's stock as changed.
pub fn touch_sku(sku_id: i64) {
    touch(|touched| {
        touched.skus.insert(sku_id);
    });
}

/// Marks every SKU stocked in a warehouse as changed, for activation and channel links.
pub fn touch_warehouse(warehouse_id: i64) {
    touch(|touched| {
        touched.warehouses.insert(warehouse_id);
    });
}

/// Marks every SKU of a product as changed, for threshold and back-order settings.
pub fn touch_product(product_id: i64) {
    touch(|touched| {
        touched.products.insert(product_id);
    });
}

// ---------------------------------------------------------------- settling

/// The current quantities of a SKU in one scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Quantities {
    on_hand: i64,
    safety_stock: i64,
    booked: i64,
    available: i64,
}

#[derive(Debug, FromQueryResult)]
struct ItemRow {
    sku_id: i64,
    warehouse_id: i64,
    on_hand: i64,
    safety_stock: i64,
    booked: i64,
    low_stock_threshold: Option<i64>,
    active: bool,
}

/// Judges every SKU `touched` names, writes the events of what changed and runs the low-stock
/// activities. Returns the number of events written.
pub async fn settle(txn: &DatabaseTransaction, touched: &Touched, activities: &ActivityRegistry) -> Result<usize> {
    if touched.is_empty() {
        return Ok(0);
    }
    let sku_ids = affected_skus(txn, touched).await?;
    let mut events = Vec::new();
    for chunk in sku_ids.chunks(CHUNK) {
        events.extend(settle_chunk(txn, chunk, activities).await?);
    }
    append(txn, events).await
}

/// The SKUs to judge: those touched, and those stocked in a touched warehouse or belonging to a
/// touched product, sorted so per-SKU locks are always taken in one order.
async fn affected_skus(conn: &impl ConnectionTrait, touched: &Touched) -> Result<Vec<i64>> {
    let mut ids = touched.skus.clone();
    let warehouses: Vec<i64> = touched.warehouses.iter().copied().collect();
    for chunk in warehouses.chunks(CHUNK) {
        let stocked: Vec<i64> = warehouse_item::Entity::find()
            .select_only()
            .column(warehouse_item::Column::SkuId)
            .filter(warehouse_item::Column::WarehouseId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        ids.extend(stocked);
    }
    let products: Vec<i64> = touched.products.iter().copied().collect();
    for chunk in products.chunks(CHUNK) {
        let owned: Vec<i64> = sku::Entity::find()
            .select_only()
            .column(sku::Column::Id)
            .filter(sku::Column::ProductId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        ids.extend(owned);
    }
    Ok(ids.into_iter().collect())
}

/// Judges up to [`CHUNK`] SKUs (sorted) and returns their new events.
async fn settle_chunk(
    txn: &DatabaseTransaction,
    sku_ids: &[i64],
    activities: &ActivityRegistry,
) -> Result<Vec<inventory_event::ActiveModel>> {
    lock_skus(txn, sku_ids).await?;

    // Read after the locks, so a concurrent transaction's committed change is seen.
    let skus = sku::Entity::find().filter(sku::Column::Id.is_in(sku_ids.iter().copied())).all(txn).await?;
    let settings = catalog::inventory_configurations(txn, skus.iter().map(|s| s.product_id)).await?;
    let items: Vec<ItemRow> = warehouse_item::Entity::find()
        .select_only()
        .columns([
            warehouse_item::Column::SkuId,
            warehouse_item::Column::WarehouseId,
            warehouse_item::Column::OnHand,
            warehouse_item::Column::SafetyStock,
            warehouse_item::Column::Booked,
            warehouse_item::Column::LowStockThreshold,
        ])
        .column(warehouse::Column::Active)
        .join(JoinType::InnerJoin, warehouse_item::Relation::Warehouse.def())
        .filter(warehouse_item::Column::SkuId.is_in(sku_ids.iter().copied()))
        .into_model()
        .all(txn)
        .await?;
    // A booking past its expiry reserves nothing, as in the stock queries, even before the
    // sweeper has marked it. Otherwise a change that does not sweep first would judge stale stock.
    let expired = bookings::expired_holds(txn, sku_ids).await?;
    let mut items = items;
    for item in &mut items {
        item.booked -= expired.get(&(item.warehouse_id, item.sku_id)).copied().unwrap_or(0);
    }
    let warehouse_ids: BTreeSet<i64> = items.iter().map(|item| item.warehouse_id).collect();
    let links: Vec<(i64, i64)> = if warehouse_ids.is_empty() {
        Vec::new()
    } else {
        warehouse_channel::Entity::find()
            .select_only()
            .columns([warehouse_channel::Column::WarehouseId, warehouse_channel::Column::ChannelId])
            .filter(warehouse_channel::Column::WarehouseId.is_in(warehouse_ids.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?
    };
    let watched = stock_watch::Entity::find()
        .filter(stock_watch::Column::SkuId.is_in(sku_ids.iter().copied()))
        .all(txn)
        .await?;

    let mut channels_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for (warehouse_id, channel_id) in links {
        channels_of.entry(warehouse_id).or_default().push(channel_id);
    }
    let mut items_of: HashMap<i64, Vec<ItemRow>> = HashMap::new();
    for item in items {
        items_of.entry(item.sku_id).or_default().push(item);
    }
    let mut watched_of: HashMap<i64, BTreeMap<(InventoryEventScope, i64), stock_watch::Model>> = HashMap::new();
    for row in watched {
        if let Some(scope) = InventoryEventScope::from_stored(&row.scope) {
            watched_of.entry(row.sku_id).or_default().insert((scope, row.scope_id), row);
        }
    }

    let mut events = Vec::new();
    let mut watch_rows = Vec::new();
    for sku in &skus {
        let settings = settings.get(&sku.product_id).cloned().unwrap_or_default();
        let items = items_of.remove(&sku.id).unwrap_or_default();
        let previous = watched_of.remove(&sku.id).unwrap_or_default();
        // A SKU is watched from its first warehouse item on; one never stocked anywhere is
        // not reported as out of stock.
        if items.is_empty() && previous.is_empty() {
            continue;
        }
        for judgement in judge_sku(&items, &channels_of, &previous, settings.min_stock_quantity, settings.allow_back_orders) {
            let last = previous.get(&(judgement.scope, judgement.scope_id));
            let (kinds, state) = transitions(last, &judgement);
            for kind in kinds {
                let mut event = event_row(sku, &judgement, last, kind);
                if kind == InventoryEventKind::LowStock
                    && judgement.scope == InventoryEventScope::Company
                    && let Some(key) = &settings.low_stock_activity
                {
                    let crossing = LowStockCrossing {
                        sku_id: sku.id,
                        sku_code: sku.code.clone(),
                        product_id: sku.product_id,
                        available_before: last.map(|row| row.available),
                        available_after: judgement.quantities.available,
                        threshold: settings.min_stock_quantity,
                    };
                    run_activity(txn, activities, key, &crossing, &mut event).await?;
                }
                events.push(event);
            }
            if last.is_none_or(|row| row_differs(row, &judgement, state)) {
                watch_rows.push(watch_row(sku.id, &judgement, state));
            }
        }
    }
    store_watch_rows(txn, watch_rows).await?;
    Ok(events)
}

/// Takes the per-SKU locks on PostgreSQL, in ascending order. They are transaction-level
/// advisory locks in a key space of their own (1), so nothing else contends for them.
async fn lock_skus(txn: &DatabaseTransaction, sku_ids: &[i64]) -> Result<()> {
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    txn.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT pg_advisory_xact_lock(1, (id % 2147483647)::int4) FROM unnest($1::bigint[]) AS id",
        [sku_ids.to_vec().into()],
    ))
    .await?;
    Ok(())
}

/// A SKU's quantities in one scope, judged now.
#[derive(Debug)]
struct Judgement {
    scope: InventoryEventScope,
    scope_id: i64,
    quantities: Quantities,
    threshold: Option<i64>,
}

/// Judges a SKU in every scope: the company, each channel its warehouses are linked to or that
/// was judged before (so unlinking the last warehouse reports the channel at zero), and each of
/// its warehouse items.
fn judge_sku(
    items: &[ItemRow],
    channels_of: &HashMap<i64, Vec<i64>>,
    previous: &BTreeMap<(InventoryEventScope, i64), stock_watch::Model>,
    min_stock_quantity: i64,
    back_orders: bool,
) -> Vec<Judgement> {
    let item_available = |item: &ItemRow| item.on_hand - item.safety_stock - item.booked;
    // The same sum as the stock queries: a warehouse in deficit hides no stock elsewhere.
    let sum = |items: &mut dyn Iterator<Item = &ItemRow>| {
        let mut total = Quantities::default();
        for item in items {
            total.on_hand += item.on_hand;
            total.safety_stock += item.safety_stock;
            total.booked += item.booked;
            let available = item_available(item);
            total.available += if back_orders { available } else { available.max(0) };
        }
        total
    };

    let mut judgements = vec![Judgement {
        scope: InventoryEventScope::Company,
        scope_id: 0,
        quantities: sum(&mut items.iter().filter(|item| item.active)),
        threshold: Some(min_stock_quantity),
    }];

    let mut channels: BTreeSet<i64> = previous
        .keys()
        .filter(|(scope, _)| *scope == InventoryEventScope::Channel)
        .map(|(_, id)| *id)
        .collect();
    for item in items {
        channels.extend(channels_of.get(&item.warehouse_id).into_iter().flatten());
    }
    for channel_id in channels {
        let in_channel = |item: &&ItemRow| {
            item.active && channels_of.get(&item.warehouse_id).is_some_and(|ids| ids.contains(&channel_id))
        };
        judgements.push(Judgement {
            scope: InventoryEventScope::Channel,
            scope_id: channel_id,
            quantities: sum(&mut items.iter().filter(in_channel)),
            threshold: Some(min_stock_quantity),
        });
    }

    for item in items {
        judgements.push(Judgement {
            scope: InventoryEventScope::Warehouse,
            scope_id: item.warehouse_id,
            quantities: Quantities {
                on_hand: item.on_hand,
                safety_stock: item.safety_stock,
                booked: item.booked,
                available: item_available(item),
            },
            threshold: item.low_stock_threshold,
        });
    }
    judgements
}

/// The low-stock state of a scope: at or below its threshold, and at or below zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    low: bool,
    out_of_stock: bool,
}

/// The events a new judgement causes, given the last stored one, and the new state.
///
/// The state only changes on a crossing: LOW_STOCK when the quantity reaches the threshold,
/// OUT_OF_STOCK when it reaches zero, BACK_IN_STOCK when it rises above the threshold again.
/// A scope without a threshold is never low.
fn transitions(last: Option<&stock_watch::Model>, now: &Judgement) -> (Vec<InventoryEventKind>, State) {
    let was = last.map_or(State { low: false, out_of_stock: false }, |row| State {
        low: row.low,
        out_of_stock: row.out_of_stock,
    });
    let available = now.quantities.available;
    let state = match now.threshold {
        Some(threshold) => State { low: available <= threshold, out_of_stock: available <= 0 },
        None => State { low: false, out_of_stock: false },
    };

    let mut kinds = Vec::new();
    if now.threshold.is_some() {
        if state.low && !was.low {
            kinds.push(InventoryEventKind::LowStock);
        }
        if state.out_of_stock && !was.out_of_stock {
            kinds.push(InventoryEventKind::OutOfStock);
        }
        if !state.low && was.low {
            kinds.push(InventoryEventKind::BackInStock);
        }
    }
    let quantities_changed = last.is_none_or(|row| quantities_of(row) != now.quantities);
    if quantities_changed {
        kinds.push(InventoryEventKind::StockChanged);
    }
    (kinds, state)
}

fn quantities_of(row: &stock_watch::Model) -> Quantities {
    Quantities {
        on_hand: row.on_hand,
        safety_stock: row.safety_stock,
        booked: row.booked,
        available: row.available,
    }
}

fn row_differs(row: &stock_watch::Model, now: &Judgement, state: State) -> bool {
    quantities_of(row) != now.quantities
        || row.threshold != now.threshold
        || row.low != state.low
        || row.out_of_stock != state.out_of_stock
}

fn event_row(
    sku: &sku::Model,
    judgement: &Judgement,
    last: Option<&stock_watch::Model>,
    kind: InventoryEventKind,
) -> inventory_event::ActiveModel {
    let (warehouse_id, channel_id) = match judgement.scope {
        InventoryEventScope::Company => (None, None),
        InventoryEventScope::Channel => (None, Some(judgement.scope_id)),
        InventoryEventScope::Warehouse => (Some(judgement.scope_id), None),
    };
    inventory_event::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        scope: Set(judgement.scope.as_str().to_owned()),
        sku_id: Set(sku.id),
        sku_code: Set(sku.code.clone()),
        warehouse_id: Set(warehouse_id),
        channel_id: Set(channel_id),
        on_hand: Set(judgement.quantities.on_hand),
        safety_stock: Set(judgement.quantities.safety_stock),
        booked: Set(judgement.quantities.booked),
        available_before: Set(last.map(|row| row.available)),
        available_after: Set(judgement.quantities.available),
        threshold: Set(judgement.threshold),
        activity_key: Set(None),
        activity_status: Set(None),
        activity_error: Set(None),
        occurred_at: Set(now()),
        ..Default::default()
    }
}

fn watch_row(sku_id: i64, judgement: &Judgement, state: State) -> stock_watch::ActiveModel {
    stock_watch::ActiveModel {
        sku_id: Set(sku_id),
        scope: Set(judgement.scope.as_str().to_owned()),
        scope_id: Set(judgement.scope_id),
        on_hand: Set(judgement.quantities.on_hand),
        safety_stock: Set(judgement.quantities.safety_stock),
        booked: Set(judgement.quantities.booked),
        available: Set(judgement.quantities.available),
        threshold: Set(judgement.threshold),
        low: Set(state.low),
        out_of_stock: Set(state.out_of_stock),
        updated_at: Set(now()),
        ..Default::default()
    }
}

/// Inserts or updates watch rows in batches.
async fn store_watch_rows(txn: &DatabaseTransaction, rows: Vec<stock_watch::ActiveModel>) -> Result<()> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<_> = rows.by_ref().take(CHUNK).collect();
        stock_watch::Entity::insert_many(batch)
            .on_conflict(
                OnConflict::columns([
                    stock_watch::Column::SkuId,
                    stock_watch::Column::Scope,
                    stock_watch::Column::ScopeId,
                ])
                .update_columns([
                    stock_watch::Column::OnHand,
                    stock_watch::Column::SafetyStock,
                    stock_watch::Column::Booked,
                    stock_watch::Column::Available,
                    stock_watch::Column::Threshold,
                    stock_watch::Column::Low,
                    stock_watch::Column::OutOfStock,
                    stock_watch::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Runs the product's low-stock activity in a savepoint and records the outcome on `event`.
/// A failure undoes only the activity's own writes and is logged with the SKU.
async fn run_activity(
    txn: &DatabaseTransaction,
    activities: &ActivityRegistry,
    key: &str,
    crossing: &LowStockCrossing,
    event: &mut inventory_event::ActiveModel,
) -> Result<()> {
    event.activity_key = Set(Some(key.to_owned()));
    let outcome = match activities.get(key) {
        None => Err(anyhow::anyhow!(
            "the low-stock activity {key:?} is not registered on this server; registered: {}",
            activities.keys().join(", ")
        )),
        Some(activity) => {
            let savepoint = txn.begin().await?;
            match activity.run(&savepoint, crossing).await {
                Ok(()) => savepoint.commit().await.map_err(anyhow::Error::from),
                Err(err) => {
                    savepoint.rollback().await?;
                    Err(err)
                }
            }
        }
    };
    match outcome {
        Ok(()) => event.activity_status = Set(Some("SUCCEEDED".to_owned())),
        Err(err) => {
            tracing::error!(sku = %crossing.sku_code, activity = key, error = format!("{err:#}"), "low-stock activity failed; the event and the stock change are kept");
            event.activity_status = Set(Some("FAILED".to_owned()));
            event.activity_error = Set(Some(truncate(&format!("{err:#}"), 1000)));
        }
    }
    Ok(())
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// Appends events to the log in commit order and announces them. Returns how many were written.
async fn append(txn: &DatabaseTransaction, events: Vec<inventory_event::ActiveModel>) -> Result<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let count = events.len();
    let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        // Held until commit: sequences are taken, and become visible, one transaction at a time.
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(2, 0)").await?;
    }
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let batch: Vec<_> = events.by_ref().take(CHUNK).collect();
        inventory_event::Entity::insert_many(batch).exec_without_returning(txn).await?;
    }
    if postgres {
        txn.execute_unprepared(&format!("NOTIFY {NOTIFY_CHANNEL}")).await?;
    }
    Ok(count)
}

// ---------------------------------------------------------------- reading the log

/// A reader's choice of events.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only these kinds; all when empty.
    pub kinds: Vec<InventoryEventKind>,
    /// Only these SKUs; all when `None`.
    pub sku_ids: Option<Vec<i64>>,
    /// Events of this channel's scope.
    pub channel_id: Option<i64>,
    /// Events of this warehouse's scope.
    pub warehouse_id: Option<i64>,
    /// Only these scopes. When empty: the channel and warehouse scopes asked for, or, when
    /// neither is asked for, the company and warehouse scopes.
    pub scopes: Vec<InventoryEventScope>,
    /// The only places whose events the reader may see, for an API token limited to channels;
    /// `None` for every place.
    pub places: Option<EventPlaces>,
}

/// The places a channel-limited reader may see: the channel scope of its channels and the
/// warehouse scope of the warehouses linked to them. Company-wide events are outside them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventPlaces {
    pub channel_ids: Vec<i64>,
    pub warehouse_ids: Vec<i64>,
}

impl EventPlaces {
    /// Reads the places of these channels: the channels and the warehouses linked to them now.
    pub async fn of_channels(conn: &impl ConnectionTrait, channel_ids: &[i64]) -> Result<EventPlaces> {
        let mut warehouse_ids: Vec<i64> = warehouse_channel::Entity::find()
            .select_only()
            .column(warehouse_channel::Column::WarehouseId)
            .filter(warehouse_channel::Column::ChannelId.is_in(channel_ids.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        warehouse_ids.sort_unstable();
        warehouse_ids.dedup();
        Ok(EventPlaces { channel_ids: channel_ids.to_vec(), warehouse_ids })
    }

    fn admits(&self, event: &inventory_event::Model) -> bool {
        match InventoryEventScope::from_stored(&event.scope) {
            Some(InventoryEventScope::Channel) => event.channel_id.is_some_and(|id| self.channel_ids.contains(&id)),
            Some(InventoryEventScope::Warehouse) => event.warehouse_id.is_some_and(|id| self.warehouse_ids.contains(&id)),
            _ => false,
        }
    }
}

impl EventFilter {
    /// Whether a stored event passes the filter; the same test as [`EventFilter::apply`].
    pub fn matches(&self, event: &inventory_event::Model) -> bool {
        let kind_ok = self.kinds.is_empty() || self.kinds.iter().any(|kind| kind.as_str() == event.kind);
        let sku_ok = self.sku_ids.as_ref().is_none_or(|ids| ids.contains(&event.sku_id));
        let place_ok = match (self.channel_id, self.warehouse_id) {
            (None, None) => true,
            (channel, warehouse) => {
                (channel.is_some() && event.channel_id == channel) || (warehouse.is_some() && event.warehouse_id == warehouse)
            }
        };
        let scope_ok = self.effective_scopes().iter().any(|scope| scope.as_str() == event.scope);
        let allowed = self.places.as_ref().is_none_or(|places| places.admits(event));
        kind_ok && sku_ok && place_ok && scope_ok && allowed
    }

    fn effective_scopes(&self) -> Vec<InventoryEventScope> {
        if !self.scopes.is_empty() {
            return self.scopes.clone();
        }
        match (self.channel_id, self.warehouse_id) {
            (None, None) => vec![InventoryEventScope::Company, InventoryEventScope::Warehouse],
            (Some(_), None) => vec![InventoryEventScope::Channel],
            (None, Some(_)) => vec![InventoryEventScope::Warehouse],
            (Some(_), Some(_)) => vec![InventoryEventScope::Channel, InventoryEventScope::Warehouse],
        }
    }

    /// Narrows a query of the log to the filter.
    pub fn apply(&self, mut query: sea_orm::Select<inventory_event::Entity>) -> sea_orm::Select<inventory_event::Entity> {
        use inventory_event::Column;
        if !self.kinds.is_empty() {
            query = query.filter(Column::Kind.is_in(self.kinds.iter().map(|kind| kind.as_str())));
        }
        if let Some(ids) = &self.sku_ids {
            query = query.filter(Column::SkuId.is_in(ids.iter().copied()));
        }
        match (self.channel_id, self.warehouse_id) {
            (None, None) => {}
            (Some(channel), None) => query = query.filter(Column::ChannelId.eq(channel)),
            (None, Some(warehouse)) => query = query.filter(Column::WarehouseId.eq(warehouse)),
            (Some(channel), Some(warehouse)) => {
                query = query.filter(Condition::any().add(Column::ChannelId.eq(channel)).add(Column::WarehouseId.eq(warehouse)));
            }
        }
        if let Some(places) = &self.places {
            query = query.filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(Column::Scope.eq(InventoryEventScope::Channel.as_str()))
                            .add(Column::ChannelId.is_in(places.channel_ids.iter().copied())),
                    )
                    .add(
                        Condition::all()
                            .add(Column::Scope.eq(InventoryEventScope::Warehouse.as_str()))
                            .add(Column::WarehouseId.is_in(places.warehouse_ids.iter().copied())),
                    ),
            );
        }
        query.filter(Column::Scope.is_in(self.effective_scopes().into_iter().map(InventoryEventScope::as_str)))
    }
}

/// Up to `limit` events after sequence `after` that pass `filter`, oldest first.
pub async fn events_after(
    conn: &impl ConnectionTrait,
    after: i64,
    filter: &EventFilter,
    limit: u64,
) -> Result<Vec<inventory_event::Model>> {
    let query = inventory_event::Entity::find().filter(inventory_event::Column::Sequence.gt(after));
    Ok(filter
        .apply(query)
        .order_by_asc(inventory_event::Column::Sequence)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The highest sequence written so far, 0 for an empty log.
pub async fn last_sequence(conn: &impl ConnectionTrait) -> Result<i64> {
    let last: Option<Option<i64>> = inventory_event::Entity::find()
        .select_only()
        .column_as(inventory_event::Column::Sequence.max(), "last")
        .into_tuple()
        .one(conn)
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

/// The highest sequence that retention has removed, 0 when none has been.
pub async fn pruned_through(conn: &impl ConnectionTrait) -> Result<i64> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT pruned_through FROM inventory_event_log WHERE id = 1",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<i64>("", "pruned_through")?,
        None => 0,
    })
}

/// Removes the events that occurred before `before` and records the highest removed sequence.
/// Returns the number removed.
pub async fn prune(db: &crate::db::Db, before: chrono::DateTime<chrono::Utc>) -> Result<u64> {
    db.write(|txn| {
        Box::pin(async move {
            let highest: Option<Option<i64>> = inventory_event::Entity::find()
                .select_only()
                .column_as(inventory_event::Column::Sequence.max(), "highest")
                .filter(inventory_event::Column::OccurredAt.lt(before))
                .into_tuple()
                .one(txn)
                .await?;
            let Some(highest) = highest.flatten() else { return Ok(0) };
            let removed = inventory_event::Entity::delete_many()
                .filter(inventory_event::Column::Sequence.lte(highest))
                .exec(txn)
                .await?
                .rows_affected;
            txn.execute_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                match txn.get_database_backend() {
                    DatabaseBackend::Postgres => {
                        "UPDATE inventory_event_log SET pruned_through = GREATEST(pruned_through, $1) WHERE id = 1"
                    }
                    _ => "UPDATE inventory_event_log SET pruned_through = MAX(pruned_through, ?) WHERE id = 1",
                },
                [highest.into()],
            ))
            .await?;
            Ok(removed)
        })
    })
    .await
}

/// Forgets what was reported about a deleted channel or warehouse, so it is not judged again.
pub async fn forget_scope(conn: &impl ConnectionTrait, scope: InventoryEventScope, id: i64) -> Result<()> {
    stock_watch::Entity::delete_many()
        .filter(stock_watch::Column::Scope.eq(scope.as_str()))
        .filter(stock_watch::Column::ScopeId.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judgement(available: i64, threshold: Option<i64>) -> Judgement {
        Judgement {
            scope: InventoryEventScope::Company,
            scope_id: 0,
            quantities: Quantities { on_hand: available, available, ..Default::default() },
            threshold,
        }
    }

    fn watched(available: i64, low: bool, out_of_stock: bool) -> stock_watch::Model {
        stock_watch::Model {
            id: 1,
            sku_id: 1,
            scope: "COMPANY".into(),
            scope_id: 0,
            on_hand: available,
            safety_stock: 0,
            booked: 0,
            available,
            threshold: Some(5),
            low,
            out_of_stock,
            updated_at: now(),
        }
    }

    use InventoryEventKind::*;

    #[test]
    fn falling_to_the_threshold_is_low_stock() {
        let (kinds, state) = transitions(Some(&watched(10, false, false)), &judgement(5, Some(5)));
        assert_eq!(kinds, [LowStock, StockChanged]);
        assert!(state.low);
        assert!(!state.out_of_stock);
    }

    #[test]
    fn staying_low_reports_only_the_change() {
        let (kinds, _) = transitions(Some(&watched(4, true, false)), &judgement(3, Some(5)));
        assert_eq!(kinds, [StockChanged]);
    }

    #[test]
    fn drop_to_zero_is_out_of_stock() {
        let (kinds, state) = transitions(Some(&watched(100, false, false)), &judgement(0, Some(5)));
        assert_eq!(kinds, [LowStock, OutOfStock, StockChanged]);
        assert!(state.low);
        assert!(state.out_of_stock);
    }

    #[test]
    fn rising_above_the_threshold_is_back_in_stock() {
        let (kinds, state) = transitions(Some(&watched(0, true, true)), &judgement(6, Some(5)));
        assert_eq!(kinds, [BackInStock, StockChanged]);
        assert!(!state.low);
        assert!(!state.out_of_stock);
    }

    #[test]
    fn rising_to_the_threshold_is_not_back_in_stock() {
        let (kinds, state) = transitions(Some(&watched(0, true, true)), &judgement(5, Some(5)));
        assert_eq!(kinds, [StockChanged]);
        assert!(state.low);
        assert!(!state.out_of_stock);
    }

    #[test]
    fn threshold_zero_fires_only_at_zero() {
        let (kinds, _) = transitions(Some(&watched(2, false, false)), &judgement(1, Some(0)));
        assert_eq!(kinds, [StockChanged]);
        let (kinds, _) = transitions(Some(&watched(1, false, false)), &judgement(0, Some(0)));
        assert_eq!(kinds, [LowStock, OutOfStock, StockChanged]);
    }

    #[test]
    fn no_threshold_is_never_low() {
        let (kinds, state) = transitions(None, &judgement(0, None));
        assert_eq!(kinds, [StockChanged]);
        assert!(!state.low);
    }

    #[test]
    fn first_judgement_at_the_threshold_is_reported() {
        let (kinds, _) = transitions(None, &judgement(3, Some(5)));
        assert_eq!(kinds, [LowStock, StockChanged]);
    }

    #[test]
    fn unchanged_quantities_report_nothing() {
        let (kinds, _) = transitions(Some(&watched(10, false, false)), &judgement(10, Some(5)));
        assert!(kinds.is_empty());
    }

    #[test]
    fn default_filter_skips_channel_scope() {
        let filter = EventFilter::default();
        assert_eq!(filter.effective_scopes(), [InventoryEventScope::Company, InventoryEventScope::Warehouse]);
    }
}
