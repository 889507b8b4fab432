//! DataLoaders: every relation a resolver follows is batched into one `IN (…)` query per
//! request tick, so a list of N items costs the same number of statements as one item.
//!
//! One [`Store`] implements [`Loader`] for each key type below. The executor
//! (`graphql::executor`), the single place where production and tests create it, gives every
//! request a fresh loader with a cache, so a key asked for again in the same request (the same
//! warehouse under 500 SKUs) is served from memory and never read twice, and no request gets
//! another request's data.

use std::{collections::HashMap, hash::Hash};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{availability_estimate, booking_line, channel, product, shipment, shipment_line, sku, warehouse, warehouse_channel, warehouse_item};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    db::Db,
    service::{
        availability,
        catalog::{self, InventoryConfiguration},
        stock::{self, ScopeRequest, StockSummary},
    },
};

/// The loader of one request.
pub type AppLoader = DataLoader<Store, HashMapCache>;

/// Builds a loader over a database, with a cache that lives as long as the loader. Its batches
/// run in tasks that keep the request's id and log span.
///
/// Batching alone depends on timing: a batch leaves 1 ms
/// after its first key, and a long list can still be registering keys then. The list resolvers
/// whose statement count is tested therefore prefetch their relations and feed them into this
/// cache (see `graphql::prefetch`).
pub fn new_loader(db: &Db) -> AppLoader {
    DataLoader::with_cache(Store { conn: db.conn().clone() }, crate::telemetry::spawn_in_request, HashMapCache::default())
}

/// The database behind every loader.
pub struct Store {
    conn: DatabaseConnection,
}

type LoadResult<K, V> = Result<HashMap<K, V>, async_graphql::Error>;

/// A warehouse by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WarehouseId(pub i64);
/// A channel by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelId(pub i64);

/// A warehouse item by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WarehouseItemId(pub i64);
/// A product by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProductId(pub i64);
/// A SKU by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SkuId(pub i64);
/// The warehouses linked to a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelWarehouses(pub i64);
/// The channels a warehouse is linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WarehouseChannels(pub i64);
/// The SKUs of a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProductSkus(pub i64);
/// A product's inventory settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProductSettings(pub i64);

/// An availability estimate by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EstimateId(pub i64);

/// The availability of a SKU in a channel.
#[derive(Clone, Debug)]
pub struct AvailabilityKey {
    pub sku: sku::Model,
    pub channel_id: i64,
}

impl PartialEq for AvailabilityKey {
    fn eq(&self, other: &Self) -> bool {
        self.sku.id == other.sku.id && self.channel_id == other.channel_id
    }
}

impl Eq for AvailabilityKey {}

impl Hash for AvailabilityKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.sku.id.hash(state);
        self.channel_id.hash(state);
    }
}

/// Units that active bookings past their expiry still show as booked in one warehouse item,
/// until the sweeper records the expiry; reads subtract them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExpiredHold {
    pub warehouse_id: i64,
    pub sku_id: i64,
}

/// The lines of a booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BookingLines(pub i64);
/// The shipments of a booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BookingShipments(pub i64);
/// The lines of a shipment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShipmentLines(pub i64);

/// The stock summary of a SKU over a scope.
#[derive(Clone, Debug)]
pub struct StockKey {
    pub sku: sku::Model,
    pub scope: ScopeRequest,
}

impl PartialEq for StockKey {
    fn eq(&self, other: &Self) -> bool {
        self.sku.id == other.sku.id && self.scope == other.scope
    }
}

impl Eq for StockKey {}

impl Hash for StockKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.sku.id.hash(state);
        self.scope.hash(state);
    }
}

fn ids<K: Copy>(keys: &[K], id: fn(K) -> i64) -> Vec<i64> {
    keys.iter().map(|key| id(*key)).collect()
}

fn internal(err: sea_orm::DbErr) -> async_graphql::Error {
    crate::error::Error::from(err).into()
}

impl Loader<WarehouseId> for Store {
    type Value = warehouse::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[WarehouseId]) -> LoadResult<WarehouseId, warehouse::Model> {
        let rows = warehouse::Entity::find()
            .filter(warehouse::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.conn)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|row| (WarehouseId(row.id), row)).collect())
    }
}

impl Loader<ChannelId> for Store {
    type Value = channel::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ChannelId]) -> LoadResult<ChannelId, channel::Model> {
        let rows = channel::Entity::find()
            .filter(channel::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.conn)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|row| (ChannelId(row.id), row)).collect())
    }
}

impl Loader<ProductId> for Store {
    type Value = product::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ProductId]) -> LoadResult<ProductId, product::Model> {
        let rows = product::Entity::find()
            .filter(product::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.conn)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|row| (ProductId(row.id), row)).collect())
    }
}

impl Loader<SkuId> for Store {
    type Value = sku::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[SkuId]) -> LoadResult<SkuId, sku::Model> {
        let rows = sku::Entity::find()
            .filter(sku::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.conn)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|row| (SkuId(row.id), row)).collect())
    }
}

impl Loader<WarehouseItemId> for Store {
    type Value = warehouse_item::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[WarehouseItemId]) -> LoadResult<WarehouseItemId, warehouse_item::Model> {
        let rows = warehouse_item::Entity::find()
            .filter(warehouse_item::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.conn)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|row| (WarehouseItemId(row.id), row)).collect())
    }
}

impl Loader<ChannelWarehouses> for Store {
    type Value = Vec<warehouse::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[ChannelWarehouses],
    ) -> LoadResult<ChannelWarehouses, Vec<warehouse::Model>> {
        let pairs = warehouse_channel::Entity::find()
            .filter(warehouse_channel::Column::ChannelId.is_in(ids(keys, |k| k.0)))
            .find_also_related(warehouse::Entity)
            .order_by_asc(warehouse_channel::Column::WarehouseId)
            .all(&self.conn)
            .await
            .map_err(internal)?;
        let mut found: HashMap<ChannelWarehouses, Vec<warehouse::Model>> =
            keys.iter().map(|key| (*key, Vec::new())).collect();
        for (link, warehouse) in pairs {
            if let Some(warehouse) = warehouse {
                found.entry(ChannelWarehouses(link.channel_id)).or_default().push(warehouse);
            }
        }
        Ok(found)
    }
}

impl Loader<WarehouseChannels> for Store {
    type Value = Vec<channel::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[WarehouseChannels],
    ) -> LoadResult<WarehouseChannels, Vec<channel::Model>> {
        let pairs = warehouse_channel::Entity::find()
            .filter(warehouse_channel::Column::WarehouseId.is_in(ids(keys, |k| k.0)))
            .find_also_related(channel::Entity)
            .order_by_asc(warehouse_channel::Column::ChannelId)
            .all(&self.conn)
            .await
            .map_err(internal)?;
        let mut found: HashMap<WarehouseChannels, Vec<channel::Model>> =
            keys.iter().map(|key| (*key, Vec::new())).collect();
        for (link, channel) in pairs {
            if let Some(channel) = channel {
                found.entry(WarehouseChannels(link.warehouse_id)).or_default().push(channel);
            }
        }
        Ok(found)
    }
}

impl Loader<ProductSkus> for Store {
    type Value = Vec<sku::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ProductSkus]) -> LoadResult<ProductSkus, Vec<sku::Model>> {
        let rows = sku::Entity::find()
            .filter(sku::Column::ProductId.is_in(ids(keys, |k| k.0)))
            .order_by_asc(sku::Column::Id)
            .all(&self.conn)
            .await
            .map_err(internal)?;
        let mut found: HashMap<ProductSkus, Vec<sku::Model>> =
            keys.iter().map(|key| (*key, Vec::new())).collect();
        for row in rows {
            found.entry(ProductSkus(row.product_id)).or_default().push(row);
        }
        Ok(found)
    }
}

impl Loader<ProductSettings> for Store {
    type Value = InventoryConfiguration;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[ProductSettings],
    ) -> LoadResult<ProductSettings, InventoryConfiguration> {
        let stored = catalog::inventory_configurations(&self.conn, ids(keys, |k| k.0)).await?;
        Ok(keys
            .iter()
            .map(|key| (*key, stored.get(&key.0).cloned().unwrap_or_default()))
            .collect())
    }
}

impl Loader<StockKey> for Store {
    type Value = StockSummary;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[StockKey]) -> LoadResult<StockKey, StockSummary> {
        // Keys of one request usually share a scope; each distinct scope costs one batch.
        let mut by_scope: HashMap<&ScopeRequest, Vec<sku::Model>> = HashMap::new();
        for key in keys {
            by_scope.entry(&key.scope).or_default().push(key.sku.clone());
        }
        let mut found = HashMap::with_capacity(keys.len());
        for (scope_request, skus) in by_scope {
            let scope = stock::resolve_scope(&self.conn, scope_request).await?;
            for summary in stock::summarize(&self.conn, &skus, &scope).await? {
                let key = StockKey { sku: summary.sku.clone(), scope: scope_request.clone() };
                found.insert(key, summary);
            }
        }
        Ok(found)
    }
}

/// Groups rows under their keys, giving every key an entry (empty when it has no rows).
fn group<K: Copy + Eq + Hash, V>(keys: &[K], rows: Vec<V>, key_of: impl Fn(&V) -> K) -> HashMap<K, Vec<V>> {
    let mut found: HashMap<K, Vec<V>> = keys.iter().map(|key| (*key, Vec::new())).collect();
    for row in rows {
        found.entry(key_of(&row)).or_default().push(row);
    }
    found
}

impl Loader<BookingLines> for Store {
    type Value = Vec<booking_line::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[BookingLines]) -> LoadResult<BookingLines, Vec<booking_line::Model>> {
        let rows = booking_line::Entity::find()
            .filter(booking_line::Column::BookingId.is_in(ids(keys, |k| k.0)))
            .order_by_asc(booking_line::Column::LineNumber)
            .order_by_asc(booking_line::Column::Id)
            .all(&self.conn)
            .await
            .map_err(internal)?;
        Ok(group(keys, rows, |row| BookingLines(row.booking_id)))
    }
}

impl Loader<BookingShipments> for Store {
    type Value = Vec<shipment::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[BookingShipments]) -> LoadResult<BookingShipments, Vec<shipment::Model>> {
        let rows = shipment::Entity::find()
            .filter(shipment::Column::BookingId.is_in(ids(keys, |k| k.0)))
            .order_by_asc(shipment::Column::Id)
            .all(&self.conn)
            .await
            .map_err(internal)?;
        Ok(group(keys, rows, |row| BookingShipments(row.booking_id)))
    }
}

impl Loader<ShipmentLines> for Store {
    type Value = Vec<shipment_line::Model>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ShipmentLines]) -> LoadResult<ShipmentLines, Vec<shipment_line::Model>> {
        let rows = shipment_line::Entity::find()
            .filter(shipment_line::Column::ShipmentId.is_in(ids(keys, |k| k.0)))
            .order_by_asc(shipment_line::Column::Id)
            .all(&self.conn)
            .await
            .map_err(internal)?;
        Ok(group(keys, rows, |row| ShipmentLines(row.shipment_id)))
    }
}

impl Loader<EstimateId> for Store {
    type Value = availability_estimate::Model;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[EstimateId]) -> LoadResult<EstimateId, availability_estimate::Model> {
        let rows = availability_estimate::Entity::find()
            .filter(availability_estimate::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.conn)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|row| (EstimateId(row.id), row)).collect())
    }
}

impl Loader<AvailabilityKey> for Store {
    type Value = availability::Availability;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[AvailabilityKey]) -> LoadResult<AvailabilityKey, availability::Availability> {
        let mut by_channel: HashMap<i64, Vec<sku::Model>> = HashMap::new();
        for key in keys {
            by_channel.entry(key.channel_id).or_default().push(key.sku.clone());
        }
        let today = crate::service::now().date_naive();
        let mut found = HashMap::with_capacity(keys.len());
        for (channel_id, skus) in by_channel {
            for shown in availability::availability(&self.conn, &skus, channel_id, today).await? {
                found.insert(AvailabilityKey { sku: shown.sku.clone(), channel_id }, shown);
            }
        }
        Ok(found)
    }
}

impl Loader<ExpiredHold> for Store {
    type Value = i64;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[ExpiredHold]) -> LoadResult<ExpiredHold, i64> {
        let sku_ids: Vec<i64> = keys.iter().map(|key| key.sku_id).collect();
        let holds = crate::service::bookings::expired_holds(&self.conn, &sku_ids).await?;
        Ok(keys
            .iter()
            .map(|key| (*key, holds.get(&(key.warehouse_id, key.sku_id)).copied().unwrap_or(0)))
            .collect())
    }
}
