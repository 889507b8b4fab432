//! GraphQL object types. Each wraps a stored row and resolves its relations through the
//! DataLoaders.

use std::sync::Arc;

use async_graphql::{Context, ID, Interface, Object};
use chrono::{DateTime, Utc};
use entity::{channel, inventory_ledger, product, sku, warehouse, warehouse_item};

use super::{
    access::{self, Restricted},
    loaders::{
        AppLoader, ChannelWarehouses, ProductId, ProductSettings, ProductSkus, SkuId,
        StockKey, WarehouseChannels, WarehouseId, WarehouseItemId,
    },
    scope_request,
};
use crate::{
    ids::{NodeType, encode},
    service::{
        catalog::InventoryConfiguration,
        ledger::LedgerKind,
        stock::{self, StockSummary as Summary},
    },
};

/// Any entity with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id, usable with `node`."))]
pub enum Node {
    Channel(Channel),
    Warehouse(Warehouse),
    Product(Product),
    Sku(Sku),
    WarehouseItem(WarehouseItem),
    InventoryLedgerEntry(InventoryLedgerEntry),
    Booking(super::booking_types::Booking),
    Shipment(super::booking_types::Shipment),
    AvailabilityEstimate(super::availability_api::AvailabilityEstimate),
    ReplenishmentItem(super::availability_api::ReplenishmentItem),
}

/// A sales channel (web store, B2B portal, marketplace) that sells the stock of its linked
/// warehouses.
pub struct Channel(pub channel::Model);

/// A sales channel (web store, B2B portal, marketplace) that sells the stock of its linked
/// warehouses.
#[Object]
impl Channel {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode(NodeType::Channel, self.0.id)
    }

    /// Display name, 1 to 255 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Identifier in an external system, unique among channels.
    async fn external_reference_code(&self) -> Option<&str> {
        self.0.external_reference_code.as_deref()
    }

    /// Whether the channel is in use.
    async fn active(&self) -> bool {
        self.0.active
    }

    /// Warehouses linked to this channel, active or not, by id. Only the active ones count
    /// toward the channel's available stock.
    #[graphql(guard = "Restricted::WarehouseLinks")]
    async fn warehouses(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Warehouse>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let found = loader.load_one(ChannelWarehouses(self.0.id)).await?.unwrap_or_default();
        Ok(found.into_iter().map(Warehouse::from).collect())
    }

    /// When the channel was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the channel was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A physical stock location. Shared, because a stock page shows the same few warehouses under
/// every SKU.
pub struct Warehouse(pub Arc<warehouse::Model>);

impl From<warehouse::Model> for Warehouse {
    fn from(model: warehouse::Model) -> Self {
        Warehouse(Arc::new(model))
    }
}

/// A physical stock location.
#[Object]
impl Warehouse {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode(NodeType::Warehouse, self.0.id)
    }

    /// Display name, 1 to 255 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Identifier in an external system, unique among warehouses.
    async fn external_reference_code(&self) -> Option<&str> {
        self.0.external_reference_code.as_deref()
    }

    /// Free text about the warehouse.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Whether the warehouse's stock counts toward available quantities. New warehouses start
    /// inactive.
    async fn active(&self) -> bool {
        self.0.active
    }

    /// First street line.
    async fn street1(&self) -> Option<&str> {
        self.0.street1.as_deref()
    }

    /// Second street line.
    async fn street2(&self) -> Option<&str> {
        self.0.street2.as_deref()
    }

    /// Third street line.
    async fn street3(&self) -> Option<&str> {
        self.0.street3.as_deref()
    }

    /// City.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }

    /// Postal code.
    async fn zip(&self) -> Option<&str> {
        self.0.zip.as_deref()
    }

    /// Region, state or province code.
    async fn region_code(&self) -> Option<&str> {
        self.0.region_code.as_deref()
    }

    /// ISO 3166-1 alpha-2 country code.
    async fn country_code(&self) -> Option<&str> {
        self.0.country_code.as_deref()
    }

    /// Latitude in degrees (-90 to 90); null when the warehouse has no coordinates.
    async fn latitude(&self) -> Option<f64> {
        self.0.latitude
    }

    /// Longitude in degrees (-180 to 180); null when the warehouse has no coordinates.
    async fn longitude(&self) -> Option<f64> {
        self.0.longitude
    }

    /// Allocation priority: bookings draw from the lowest number first.
    async fn priority(&self) -> i32 {
        self.0.priority
    }

    /// Channels this warehouse serves, by id.
    #[graphql(guard = "Restricted::WarehouseLinks")]
    async fn channels(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Channel>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let found = loader.load_one(WarehouseChannels(self.0.id)).await?.unwrap_or_default();
        Ok(found.into_iter().map(Channel).collect())
    }

    /// The stock kept here, one item per SKU, by item id.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn items(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Number of items from the start, at most 500.")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Number of items from the end, at most 500.")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> async_graphql::Result<super::connection::Page<WarehouseItem>> {
        super::query::warehouse_items(ctx, self.0.id, super::connection::PageArgs { first, after, last, before }).await
    }

    /// When the warehouse was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the warehouse was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A catalog product that owns SKUs and inventory settings.
pub struct Product(pub product::Model);

/// A catalog product that owns SKUs and inventory settings.
#[Object]
impl Product {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode(NodeType::Product, self.0.id)
    }

    /// Display name, 1 to 255 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Identifier in an external system, unique among products.
    async fn external_reference_code(&self) -> Option<&str> {
        self.0.external_reference_code.as_deref()
    }

    /// The product's SKUs, by id.
    async fn skus(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Sku>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let found = loader.load_one(ProductSkus(self.0.id)).await?.unwrap_or_default();
        Ok(found.into_iter().map(Sku).collect())
    }

    /// Estimate shown to shoppers while the product is unavailable, if any.
    async fn availability_estimate(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<super::availability_api::AvailabilityEstimate>> {
        let Some(id) = self.0.availability_estimate_id else { return Ok(None) };
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(super::loaders::EstimateId(id)).await?.map(super::availability_api::AvailabilityEstimate))
    }

    /// Inventory settings; the defaults when none were set.
    async fn inventory_configuration(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<ProductInventoryConfiguration> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let settings = loader.load_one(ProductSettings(self.0.id)).await?.unwrap_or_default();
        Ok(ProductInventoryConfiguration(settings))
    }

    /// When the product was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the product was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A product's inventory settings.
pub struct ProductInventoryConfiguration(pub InventoryConfiguration);

/// A product's inventory settings.
#[Object]
impl ProductInventoryConfiguration {
    /// Low-stock threshold: a SKU is low when its available quantity is at or below it.
    /// Default 0.
    async fn min_stock_quantity(&self) -> i64 {
        self.0.min_stock_quantity
    }

    /// Key of the low-stock activity run when a SKU becomes low, or null for none.
    async fn low_stock_activity(&self) -> Option<&str> {
        self.0.low_stock_activity.as_deref()
    }

    /// Whether bookings may exceed the available stock. Default false.
    async fn allow_back_orders(&self) -> bool {
        self.0.allow_back_orders
    }

    /// Whether storefronts show the availability status. Default false.
    async fn display_availability(&self) -> bool {
        self.0.display_availability
    }

    /// Whether storefronts show the available quantity. Default false.
    async fn display_stock_quantity(&self) -> bool {
        self.0.display_stock_quantity
    }

    /// Smallest quantity of one order line. Default 1.
    async fn min_order_quantity(&self) -> i64 {
        self.0.min_order_quantity
    }

    /// Largest quantity of one order line. Default 10000.
    async fn max_order_quantity(&self) -> i64 {
        self.0.max_order_quantity
    }

    /// Order quantities must be a multiple of this. Default 1.
    async fn multiple_order_quantity(&self) -> i64 {
        self.0.multiple_order_quantity
    }

    /// When not empty, the only quantities an order line may have, ascending.
    async fn allowed_order_quantities(&self) -> &[i64] {
        &self.0.allowed_order_quantities
    }
}

/// A stock keeping unit.
pub struct Sku(pub sku::Model);

/// A stock keeping unit.
#[Object]
impl Sku {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode(NodeType::Sku, self.0.id)
    }

    /// The SKU code, unique regardless of letter case.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// Whether the SKU is visible in the catalog.
    async fn published(&self) -> bool {
        self.0.published
    }

    /// Whether the SKU can be ordered.
    async fn purchasable(&self) -> bool {
        self.0.purchasable
    }

    /// The product the SKU belongs to.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let found = loader.load_one(ProductId(self.0.product_id)).await?;
        found.map(Product).ok_or_else(|| "BUG: a SKU without its product".into())
    }

    /// Stock summed over a scope: the channel's active linked warehouses, the given
    /// warehouses, both (their intersection), or every active warehouse when neither is given.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn stock(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Count only this channel's active linked warehouses.")] channel_id: Option<ID>,
        #[graphql(desc = "Count only these warehouses, active or not.")] warehouse_ids: Option<Vec<ID>>,
    ) -> async_graphql::Result<StockSummary> {
        let scope = scope_request(channel_id.as_ref(), warehouse_ids.as_deref())?;
        let loader = ctx.data_unchecked::<AppLoader>();
        let key = StockKey { sku: self.0.clone(), scope };
        let summary = loader.load_one(key).await?;
        summary.map(StockSummary).ok_or_else(|| "BUG: no stock summary for a loaded SKU".into())
    }

    /// What a storefront of the channel may show: status, quantity and, when not available,
    /// the estimate and the date stock is expected back. A storefront token may ask only for
    /// its own channels.
    #[graphql(guard = "Restricted::Availability")]
    async fn availability(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The channel whose storefront asks.")] channel_id: ID,
    ) -> async_graphql::Result<super::availability_api::Availability> {
        let channel_id = crate::ids::decode("channelId", NodeType::Channel, &channel_id)?;
        access::check_channel(ctx, "channelId", channel_id)?;
        let loader = ctx.data_unchecked::<AppLoader>();
        let key = super::loaders::AvailabilityKey { sku: self.0.clone(), channel_id };
        let found = loader.load_one(key).await?;
        found.map(super::availability_api::Availability).ok_or_else(|| "BUG: no availability for a loaded SKU".into())
    }

    /// When the SKU was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The stock of one SKU summed over a scope of warehouses.
pub struct StockSummary(pub Summary);

/// The stock of one SKU summed over a scope of warehouses.
/// Its quantities are for admin and inventory tokens only.
#[Object]
impl StockSummary {
    /// The SKU.
    async fn sku(&self) -> Sku {
        Sku(self.0.sku.clone())
    }

    /// Units physically in the warehouses of the scope.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn on_hand(&self) -> i64 {
        self.0.on_hand
    }

    /// Units kept back and never sold.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn safety_stock(&self) -> i64 {
        self.0.safety_stock
    }

    /// Units held by active bookings.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn booked(&self) -> i64 {
        self.0.booked
    }

    /// Units that can be sold: each warehouse's on hand less safety stock and booked, summed
    /// with warehouses in deficit counting as zero (unless the product allows back orders, when
    /// the plain sum is used and may be negative).
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn available(&self) -> i64 {
        self.0.available
    }

    /// Units of open replenishment items still to arrive in the scope; not sellable until
    /// received.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn incoming(&self) -> i64 {
        self.0.incoming
    }

    /// Each warehouse of the scope where the SKU is stocked (has an item, even at zero), by
    /// allocation priority.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn by_warehouse(&self) -> Vec<WarehouseStock> {
        // Cheap: each entry shares its warehouse.
        self.0.by_warehouse.iter().cloned().map(WarehouseStock).collect()
    }
}

/// The stock of one SKU in one warehouse.
pub struct WarehouseStock(pub stock::WarehouseStock);

/// The stock of one SKU in one warehouse.
/// Its quantities are for admin and inventory tokens only.
#[Object]
impl WarehouseStock {
    /// The warehouse.
    async fn warehouse(&self) -> Warehouse {
        Warehouse(Arc::clone(&self.0.warehouse))
    }

    /// The warehouse item behind these figures.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn item(&self, ctx: &Context<'_>) -> async_graphql::Result<WarehouseItem> {
        // The summary read only the quantities; the whole item is loaded when asked for.
        let loader = ctx.data_unchecked::<AppLoader>();
        let found = loader.load_one(WarehouseItemId(self.0.item.id)).await?;
        found.map(WarehouseItem).ok_or_else(|| "BUG: a summarized item that does not exist".into())
    }

    /// Units physically here.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn on_hand(&self) -> i64 {
        self.0.item.on_hand
    }

    /// Units kept back here and never sold.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn safety_stock(&self) -> i64 {
        self.0.item.safety_stock
    }

    /// Units held here by active bookings.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn booked(&self) -> i64 {
        self.0.booked()
    }

    /// On hand less safety stock and booked; negative when the warehouse is in deficit.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn available(&self) -> i64 {
        self.0.available()
    }

    /// Units of open replenishment items still to arrive here.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn incoming(&self) -> i64 {
        self.0.incoming
    }

    /// This warehouse's own low-stock threshold, if set.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn low_stock_threshold(&self) -> Option<i64> {
        self.0.item.low_stock_threshold
    }
}

/// The stock of one SKU in one warehouse, as stored.
pub struct WarehouseItem(pub warehouse_item::Model);

/// The stock of one SKU in one warehouse, as stored.
/// Its quantities are for admin and inventory tokens only.
#[Object]
impl WarehouseItem {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode(NodeType::WarehouseItem, self.0.id)
    }

    /// The warehouse.
    async fn warehouse(&self, ctx: &Context<'_>) -> async_graphql::Result<Warehouse> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let found = loader.load_one(WarehouseId(self.0.warehouse_id)).await?;
        found.map(Warehouse::from).ok_or_else(|| "BUG: an item without its warehouse".into())
    }

    /// The SKU.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Sku> {
        let loader = ctx.data_unchecked::<AppLoader>();
        let found = loader.load_one(SkuId(self.0.sku_id)).await?;
        found.map(Sku).ok_or_else(|| "BUG: an item without its SKU".into())
    }

    /// Units physically here.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn on_hand(&self) -> i64 {
        self.0.on_hand
    }

    /// Units kept back and never sold.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn safety_stock(&self) -> i64 {
        self.0.safety_stock
    }

    /// Units held by active bookings; a booking past its expiry holds nothing.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn booked(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        self.effective_booked(ctx).await
    }

    /// On hand less safety stock and booked; negative when in deficit.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn available(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        Ok(self.0.on_hand - self.0.safety_stock - self.effective_booked(ctx).await?)
    }

    /// This warehouse's own low-stock threshold for the SKU, if set.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn low_stock_threshold(&self) -> Option<i64> {
        self.0.low_stock_threshold
    }

    /// Incremented on every change of the item.
    async fn version(&self) -> i64 {
        self.0.version
    }

    /// When the item last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl WarehouseItem {
    /// The stored booked quantity less the holds of bookings past their expiry that the
    /// sweeper has not recorded yet.
    async fn effective_booked(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        if self.0.booked == 0 {
            return Ok(0);
        }
        let loader = ctx.data_unchecked::<AppLoader>();
        let key = super::loaders::ExpiredHold { warehouse_id: self.0.warehouse_id, sku_id: self.0.sku_id };
        let expired = loader.load_one(key).await?.unwrap_or(0);
        Ok((self.0.booked - expired).max(0))
    }
}

/// One change of a warehouse item's on-hand or booked quantity. Entries are never edited.
pub struct InventoryLedgerEntry(pub inventory_ledger::Model);

/// One change of a warehouse item's on-hand or booked quantity. Entries are never edited.
/// Its quantities are for admin and inventory tokens only.
#[Object]
impl InventoryLedgerEntry {
    /// Opaque global id.
    async fn id(&self) -> ID {
        encode(NodeType::InventoryLedgerEntry, self.0.id)
    }

    /// The SKU whose stock changed.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(SkuId(self.0.sku_id)).await?.map(Sku))
    }

    /// The warehouse; null when it has since been deleted.
    async fn warehouse(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Warehouse>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(WarehouseId(self.0.warehouse_id)).await?.map(Warehouse::from))
    }

    /// Global id of the warehouse, kept after the warehouse is deleted.
    async fn warehouse_id(&self) -> ID {
        encode(NodeType::Warehouse, self.0.warehouse_id)
    }

    /// What caused the change; null for a kind written by a newer server version.
    async fn kind(&self) -> Option<LedgerKind> {
        LedgerKind::from_stored(&self.0.kind)
    }

    /// Change of on hand.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn on_hand_delta(&self) -> i64 {
        self.0.on_hand_delta
    }

    /// Change of booked.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn booked_delta(&self) -> i64 {
        self.0.booked_delta
    }

    /// On hand after the change.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn on_hand_after(&self) -> i64 {
        self.0.on_hand_after
    }

    /// Booked after the change.
    #[graphql(guard = "Restricted::StockQuantities")]
    async fn booked_after(&self) -> i64 {
        self.0.booked_after
    }

    /// Free text given with the change.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// Order, shipment, transfer or replenishment the change belongs to.
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }

    /// The client or tool that made the change.
    async fn actor(&self) -> Option<&str> {
        self.0.actor.as_deref()
    }

    /// When the change was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
