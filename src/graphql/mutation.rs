//! Mutation root: each resolver parses its input into domain types, calls one service
//! function and wraps the result in a payload.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use entity::{inventory_ledger, warehouse_item};

use super::{
    db,
    types::{Channel, InventoryLedgerEntry, Product, ProductInventoryConfiguration, Sku, Warehouse, WarehouseItem},
};
use crate::{
    domain::{Coordinates, CountryCode, ExternalReferenceCode, Name, SkuCode, parse_optional_text},
    error::Error,
    ids::{NodeType, decode},
    service::{
        ChangeContext, catalog, channels,
        inventory::{self, BulkErrorPolicy, ItemChange},
        ledger, warehouses,
    },
};

/// Mutations of the catalog, warehouses and stock.
#[derive(Default)]
pub struct InventoryMutation;

/// Longest description of a warehouse, in characters.
const MAX_DESCRIPTION_LENGTH: usize = 4000;

/// Longest `reason`, in characters.
const MAX_REASON_LENGTH: usize = 1000;

/// Parses the `reason` and `idempotencyKey` every stock mutation takes.
pub(super) fn change_context(idempotency_key: Option<String>, reason: Option<String>) -> Result<ChangeContext, Error> {
    Ok(ChangeContext {
        reason: parse_optional_text("reason", reason.as_deref(), MAX_REASON_LENGTH)?,
        idempotency_key,
        actor: Some("graphql".to_owned()),
    })
}

fn optional_erc(field: &str, value: MaybeUndefined<String>) -> Result<Option<Option<ExternalReferenceCode>>, Error> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(text) => Ok(Some(ExternalReferenceCode::parse_optional(field, Some(&text))?)),
    }
}

fn optional_text(field: &str, value: MaybeUndefined<String>, max: usize) -> Result<Option<Option<String>>, Error> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(text) => Ok(Some(parse_optional_text(field, Some(&text), max)?)),
    }
}

// ---------------------------------------------------------------- channels

/// Input of `createChannel`.
#[derive(InputObject)]
pub struct CreateChannelInput {
    /// Display name, 1 to 255 characters.
    pub name: String,
    /// Identifier in an external system, unique among channels.
    pub external_reference_code: Option<String>,
    /// Whether the channel is in use. Default true.
    #[graphql(default = true)]
    pub active: bool,
}

/// Input of `updateChannel`; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateChannelInput {
    /// The channel.
    pub id: ID,
    /// New name.
    pub name: Option<String>,
    /// New external reference code; null removes it.
    pub external_reference_code: MaybeUndefined<String>,
    /// New active flag.
    pub active: Option<bool>,
}

/// Input of `deleteChannel`.
#[derive(InputObject)]
pub struct DeleteChannelInput {
    /// The channel.
    pub id: ID,
}

/// Result of a channel mutation.
#[derive(SimpleObject)]
pub struct ChannelPayload {
    /// The channel after the change (for a deletion, as it was).
    pub channel: Channel,
}

// ---------------------------------------------------------------- warehouses

/// Input of `createWarehouse`.
#[derive(InputObject)]
pub struct CreateWarehouseInput {
    /// Display name, 1 to 255 characters.
    pub name: String,
    /// Identifier in an external system, unique among warehouses.
    pub external_reference_code: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether the warehouse's stock counts. Default false: activate it once it is set up.
    #[graphql(default = false)]
    pub active: bool,
    /// First street line.
    pub street1: Option<String>,
    /// Second street line.
    pub street2: Option<String>,
    /// Third street line.
    pub street3: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Postal code.
    pub zip: Option<String>,
    /// Region, state or province code.
    pub region_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: Option<String>,
    /// Latitude in degrees, -90 to 90; give it with longitude.
    pub latitude: Option<f64>,
    /// Longitude in degrees, -180 to 180; give it with latitude.
    pub longitude: Option<f64>,
    /// Allocation priority, lowest first. Default 0.
    #[graphql(default = 0)]
    pub priority: i32,
}

/// Input of `updateWarehouse`; omitted fields keep their value and null clears an optional one.
#[derive(InputObject)]
pub struct UpdateWarehouseInput {
    /// The warehouse.
    pub id: ID,
    /// New name.
    pub name: Option<String>,
    /// New external reference code.
    pub external_reference_code: MaybeUndefined<String>,
    /// New description.
    pub description: MaybeUndefined<String>,
    /// New first street line.
    pub street1: MaybeUndefined<String>,
    /// New second street line.
    pub street2: MaybeUndefined<String>,
    /// New third street line.
    pub street3: MaybeUndefined<String>,
    /// New city.
    pub city: MaybeUndefined<String>,
    /// New postal code.
    pub zip: MaybeUndefined<String>,
    /// New region code.
    pub region_code: MaybeUndefined<String>,
    /// New ISO 3166-1 alpha-2 country code.
    pub country_code: MaybeUndefined<String>,
    /// New latitude; give it with longitude, or set both to null to remove the coordinates.
    pub latitude: MaybeUndefined<f64>,
    /// New longitude; give it with latitude.
    pub longitude: MaybeUndefined<f64>,
    /// New allocation priority.
    pub priority: Option<i32>,
}

/// Input of `setWarehouseActive`.
#[derive(InputObject)]
pub struct SetWarehouseActiveInput {
    /// The warehouse.
    pub id: ID,
    /// True to count its stock, false to stop counting it.
    pub active: bool,
}

/// Input of `deleteWarehouse`.
#[derive(InputObject)]
pub struct DeleteWarehouseInput {
    /// The warehouse.
    pub id: ID,
    /// Another warehouse that receives the stock and bookings first; required when the
    /// warehouse holds any.
    pub move_stock_to: Option<ID>,
    /// Free text recorded on the ledger rows of the move.
    pub reason: Option<String>,
    /// Makes a retried request return the first result.
    pub idempotency_key: Option<String>,
}

/// Input of `linkWarehouseToChannel` and `unlinkWarehouseFromChannel`.
#[derive(InputObject)]
pub struct WarehouseChannelInput {
    /// The warehouse.
    pub warehouse_id: ID,
    /// The channel.
    pub channel_id: ID,
}

/// Result of a warehouse mutation.
#[derive(SimpleObject)]
pub struct WarehousePayload {
    /// The warehouse after the change (for a deletion, as it was).
    pub warehouse: Warehouse,
}

/// Result of linking or unlinking a warehouse and a channel.
#[derive(SimpleObject)]
pub struct WarehouseChannelPayload {
    /// The warehouse.
    pub warehouse: Warehouse,
    /// The channel.
    pub channel: Channel,
}

// ---------------------------------------------------------------- catalog

/// Input of `createProduct`.
#[derive(InputObject)]
pub struct CreateProductInput {
    /// Display name, 1 to 255 characters.
    pub name: String,
    /// Identifier in an external system, unique among products.
    pub external_reference_code: Option<String>,
    /// Estimate shown to shoppers while the product is unavailable.
    pub availability_estimate_id: Option<ID>,
}

/// Input of `updateProduct`; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateProductInput {
    /// The product.
    pub id: ID,
    /// New name.
    pub name: Option<String>,
    /// New external reference code; null removes it.
    pub external_reference_code: MaybeUndefined<String>,
    /// New availability estimate; null removes it.
    pub availability_estimate_id: MaybeUndefined<ID>,
}

/// Result of a product mutation.
#[derive(SimpleObject)]
pub struct ProductPayload {
    /// The product after the change.
    pub product: Product,
}

/// Input of `createSku`.
#[derive(InputObject)]
pub struct CreateSkuInput {
    /// The owning product.
    pub product_id: ID,
    /// SKU code, 1 to 255 characters, unique regardless of letter case; surrounding spaces are
    /// removed.
    pub code: String,
    /// Whether the SKU is visible in the catalog. Default true.
    #[graphql(default = true)]
    pub published: bool,
    /// Whether the SKU can be ordered. Default true.
    #[graphql(default = true)]
    pub purchasable: bool,
}

/// Input of `updateSku`; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateSkuInput {
    /// The SKU.
    pub id: ID,
    /// New code.
    pub code: Option<String>,
    /// New published flag.
    pub published: Option<bool>,
    /// New purchasable flag.
    pub purchasable: Option<bool>,
}

/// Result of a SKU mutation.
#[derive(SimpleObject)]
pub struct SkuPayload {
    /// The SKU after the change.
    pub sku: Sku,
}

/// Input of `setProductInventoryConfiguration`; omitted fields keep their value (or default).
#[derive(InputObject)]
pub struct SetProductInventoryConfigurationInput {
    /// The product.
    pub product_id: ID,
    /// Low-stock threshold, 0 or more.
    pub min_stock_quantity: Option<i64>,
    /// Key of a low-stock activity (`notify`, `unpublish-sku`); null removes it.
    pub low_stock_activity: MaybeUndefined<String>,
    /// Whether bookings may exceed available stock.
    pub allow_back_orders: Option<bool>,
    /// Whether storefronts show the availability status.
    pub display_availability: Option<bool>,
    /// Whether storefronts show the available quantity.
    pub display_stock_quantity: Option<bool>,
    /// Smallest order-line quantity, 1 or more.
    pub min_order_quantity: Option<i64>,
    /// Largest order-line quantity, at least the minimum.
    pub max_order_quantity: Option<i64>,
    /// Order-line quantities must be a multiple of this, 1 or more.
    pub multiple_order_quantity: Option<i64>,
    /// The only quantities allowed; an empty list allows any.
    pub allowed_order_quantities: Option<Vec<i64>>,
}

/// Result of `setProductInventoryConfiguration`.
#[derive(SimpleObject)]
pub struct ProductInventoryConfigurationPayload {
    /// The product.
    pub product: Product,
    /// Its settings after the change.
    pub inventory_configuration: ProductInventoryConfiguration,
}

// ---------------------------------------------------------------- stock

/// Input of `setInventory`.
#[derive(InputObject)]
pub struct SetInventoryInput {
    /// SKU code.
    pub sku: String,
    /// The warehouse. The SKU becomes stocked there if it was not.
    pub warehouse_id: ID,
    /// New on-hand quantity, 0 to 1,000,000,000.
    pub on_hand: Option<i64>,
    /// Compare-and-set: apply only if on hand is still this value, else `CONFLICT`.
    pub expected_on_hand: Option<i64>,
    /// New safety stock, 0 to 1,000,000,000.
    pub safety_stock: Option<i64>,
    /// This warehouse's own low-stock threshold; null removes it.
    pub low_stock_threshold: MaybeUndefined<i64>,
    /// Free text recorded in the ledger.
    pub reason: Option<String>,
    /// Makes a retried request return the first result and change nothing.
    pub idempotency_key: Option<String>,
}

/// Input of `adjustInventory`.
#[derive(InputObject)]
pub struct AdjustInventoryInput {
    /// SKU code.
    pub sku: String,
    /// The warehouse.
    pub warehouse_id: ID,
    /// Units to add (positive) or remove (negative); not 0.
    pub delta: i64,
    /// Free text recorded in the ledger.
    pub reason: Option<String>,
    /// Makes a retried request return the first result and change nothing.
    pub idempotency_key: Option<String>,
}

/// Result of `setInventory` and `adjustInventory`.
#[derive(SimpleObject)]
pub struct InventoryPayload {
    /// The warehouse item now.
    pub warehouse_item: WarehouseItem,
    /// The ledger rows the change wrote; empty when nothing changed.
    pub ledger_entries: Vec<InventoryLedgerEntry>,
}

/// One item of `bulkSetInventory`.
#[derive(InputObject)]
pub struct BulkSetInventoryItem {
    /// SKU code.
    pub sku: String,
    /// The warehouse.
    pub warehouse_id: ID,
    /// New on-hand quantity.
    pub on_hand: Option<i64>,
    /// Compare-and-set on the current on-hand quantity.
    pub expected_on_hand: Option<i64>,
    /// New safety stock.
    pub safety_stock: Option<i64>,
    /// This warehouse's own low-stock threshold; null removes it.
    pub low_stock_threshold: MaybeUndefined<i64>,
}

/// Input of `bulkSetInventory`.
#[derive(InputObject)]
pub struct BulkSetInventoryInput {
    /// Items to set, 1 to 10,000, applied in order.
    pub items: Vec<BulkSetInventoryItem>,
    /// What to do when some items are rejected. Default `REJECT_ALL`.
    #[graphql(default_with = "BulkErrorPolicy::RejectAll")]
    pub error_policy: BulkErrorPolicy,
    /// Free text recorded in the ledger.
    pub reason: Option<String>,
    /// Makes a retried request return the first result and change nothing.
    pub idempotency_key: Option<String>,
}

/// A rejected item of a bulk request.
#[derive(SimpleObject)]
pub struct BulkItemError {
    /// Error code, as in `extensions.code`.
    pub code: String,
    /// What was wrong.
    pub message: String,
    /// The offending input field, such as `items.3.onHand`.
    pub field: Option<String>,
}

/// The outcome of one item of a bulk request.
#[derive(SimpleObject)]
pub struct BulkSetInventoryResult {
    /// Position of the item in the request, from 0.
    pub index: i32,
    /// The warehouse item, when the item was applied.
    pub warehouse_item: Option<WarehouseItem>,
    /// Ledger rows the item wrote.
    pub ledger_entries: Vec<InventoryLedgerEntry>,
    /// Why the item was rejected, when it was.
    pub error: Option<BulkItemError>,
}

/// Result of `bulkSetInventory`.
#[derive(SimpleObject)]
pub struct BulkSetInventoryPayload {
    /// One result per item, in request order.
    pub results: Vec<BulkSetInventoryResult>,
    /// Number of items applied.
    pub applied_count: i32,
    /// Number of items rejected.
    pub rejected_count: i32,
}

/// Input of `transferInventory`.
#[derive(InputObject)]
pub struct TransferInventoryInput {
    /// SKU code.
    pub sku: String,
    /// Warehouse the stock leaves; at most its available quantity can move.
    pub from_warehouse_id: ID,
    /// Warehouse the stock arrives in; the SKU becomes stocked there if it was not.
    pub to_warehouse_id: ID,
    /// Units to move, 1 to 1,000,000,000.
    pub quantity: i64,
    /// Free text recorded in the ledger.
    pub reason: Option<String>,
    /// Makes a retried request return the first result and change nothing.
    pub idempotency_key: Option<String>,
}

/// Result of `transferInventory`.
#[derive(SimpleObject)]
pub struct TransferInventoryPayload {
    /// Reference shared by the transfer's two ledger rows.
    pub reference: String,
    /// The source item now.
    pub from: WarehouseItem,
    /// The destination item now.
    pub to: WarehouseItem,
    /// The two ledger rows: out of the source, into the destination.
    pub ledger_entries: Vec<InventoryLedgerEntry>,
}

pub(super) async fn load_change(ctx: &Context<'_>, change: &ItemChange) -> Result<(WarehouseItem, Vec<InventoryLedgerEntry>), Error> {
    let conn = db(ctx).conn();
    let item: warehouse_item::Model = inventory::find_item(conn, change.warehouse_item_id).await?;
    let entries: Vec<inventory_ledger::Model> = ledger::find_by_ids(conn, &change.ledger_entry_ids).await?;
    Ok((WarehouseItem(item), entries.into_iter().map(InventoryLedgerEntry).collect()))
}

fn set_request(
    sku: &str,
    warehouse_id: &ID,
    on_hand: Option<i64>,
    expected_on_hand: Option<i64>,
    safety_stock: Option<i64>,
    low_stock_threshold: MaybeUndefined<i64>,
) -> Result<inventory::SetInventory, Error> {
    Ok(inventory::SetInventory {
        sku: SkuCode::parse("sku", sku)?,
        warehouse_id: decode("warehouseId", NodeType::Warehouse, warehouse_id)?,
        on_hand,
        expected_on_hand,
        safety_stock,
        low_stock_threshold: match low_stock_threshold {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(value) => Some(Some(value)),
        },
    })
}

/// Mutations of the catalog, warehouses and stock.
#[Object]
impl InventoryMutation {
    /// Creates a sales channel.
    async fn create_channel(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: CreateChannelInput) -> async_graphql::Result<ChannelPayload> {
        let new = channels::NewChannel {
            name: Name::parse("name", &input.name)?,
            external_reference_code: ExternalReferenceCode::parse_optional("externalReferenceCode", input.external_reference_code.as_deref())?,
            active: input.active,
        };
        let channel = channels::create_channel(db(ctx), new).await?;
        Ok(ChannelPayload { channel: Channel(channel) })
    }

    /// Changes a channel's name, external reference code or active flag.
    async fn update_channel(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: UpdateChannelInput) -> async_graphql::Result<ChannelPayload> {
        let id = decode("id", NodeType::Channel, &input.id)?;
        let changes = channels::ChannelChanges {
            name: input.name.as_deref().map(|name| Name::parse("name", name)).transpose()?,
            external_reference_code: optional_erc("externalReferenceCode", input.external_reference_code)?,
            active: input.active,
        };
        let channel = channels::update_channel(db(ctx), id, changes).await?;
        Ok(ChannelPayload { channel: Channel(channel) })
    }

    /// Deletes a channel and its warehouse links. A channel with bookings cannot be deleted
    /// (`CONFLICT`); deactivate it instead.
    async fn delete_channel(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: DeleteChannelInput) -> async_graphql::Result<ChannelPayload> {
        let id = decode("id", NodeType::Channel, &input.id)?;
        let channel = channels::delete_channel(db(ctx), id).await?;
        Ok(ChannelPayload { channel: Channel(channel) })
    }

    /// Creates a warehouse, inactive unless `active` is true.
    async fn create_warehouse(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: CreateWarehouseInput) -> async_graphql::Result<WarehousePayload> {
        let text = |field: &str, value: &Option<String>| parse_optional_text(field, value.as_deref(), crate::domain::MAX_TEXT_LENGTH);
        let new = warehouses::NewWarehouse {
            name: Name::parse("name", &input.name)?,
            external_reference_code: ExternalReferenceCode::parse_optional("externalReferenceCode", input.external_reference_code.as_deref())?,
            description: parse_optional_text("description", input.description.as_deref(), MAX_DESCRIPTION_LENGTH)?,
            active: input.active,
            address: warehouses::Address {
                street1: text("street1", &input.street1)?,
                street2: text("street2", &input.street2)?,
                street3: text("street3", &input.street3)?,
                city: text("city", &input.city)?,
                zip: text("zip", &input.zip)?,
                region_code: text("regionCode", &input.region_code)?,
                country_code: input.country_code.as_deref().filter(|c| !c.trim().is_empty()).map(|c| CountryCode::parse("countryCode", c)).transpose()?,
            },
            coordinates: Coordinates::parse(input.latitude, input.longitude)?,
            priority: input.priority,
        };
        let warehouse = warehouses::create_warehouse(db(ctx), new).await?;
        Ok(WarehousePayload { warehouse: Warehouse::from(warehouse) })
    }

    /// Changes a warehouse's descriptive fields, address, coordinates or priority.
    async fn update_warehouse(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: UpdateWarehouseInput) -> async_graphql::Result<WarehousePayload> {
        let id = decode("id", NodeType::Warehouse, &input.id)?;
        let max = crate::domain::MAX_TEXT_LENGTH;
        let coordinates = match (&input.latitude, &input.longitude) {
            (MaybeUndefined::Undefined, MaybeUndefined::Undefined) => None,
            (MaybeUndefined::Null, MaybeUndefined::Null) => Some(None),
            (latitude, longitude) => Some(Coordinates::parse(latitude.value().copied(), longitude.value().copied())?),
        };
        let changes = warehouses::WarehouseChanges {
            name: input.name.as_deref().map(|name| Name::parse("name", name)).transpose()?,
            external_reference_code: optional_erc("externalReferenceCode", input.external_reference_code)?,
            description: optional_text("description", input.description, MAX_DESCRIPTION_LENGTH)?,
            street1: optional_text("street1", input.street1, max)?,
            street2: optional_text("street2", input.street2, max)?,
            street3: optional_text("street3", input.street3, max)?,
            city: optional_text("city", input.city, max)?,
            zip: optional_text("zip", input.zip, max)?,
            region_code: optional_text("regionCode", input.region_code, max)?,
            country_code: match input.country_code {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(code) => Some(Some(CountryCode::parse("countryCode", &code)?)),
            },
            coordinates,
            priority: input.priority,
        };
        let warehouse = warehouses::update_warehouse(db(ctx), id, changes).await?;
        Ok(WarehousePayload { warehouse: Warehouse::from(warehouse) })
    }

    /// Activates or deactivates a warehouse. Inactive warehouses keep their stock, but it no
    /// longer counts as available.
    async fn set_warehouse_active(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: SetWarehouseActiveInput) -> async_graphql::Result<WarehousePayload> {
        let id = decode("id", NodeType::Warehouse, &input.id)?;
        let warehouse = warehouses::set_warehouse_active(db(ctx), id, input.active).await?;
        Ok(WarehousePayload { warehouse: Warehouse::from(warehouse) })
    }

    /// Deletes a warehouse. One that holds stock or bookings is refused with
    /// `WAREHOUSE_NOT_EMPTY` unless `moveStockTo` names another warehouse to move them to.
    async fn delete_warehouse(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: DeleteWarehouseInput) -> async_graphql::Result<WarehousePayload> {
        let id = decode("id", NodeType::Warehouse, &input.id)?;
        let move_to = input.move_stock_to.as_ref().map(|target| decode("moveStockTo", NodeType::Warehouse, target)).transpose()?;
        let context = change_context(input.idempotency_key, input.reason)?;
        let warehouse = warehouses::delete_warehouse(db(ctx), id, move_to, &context).await?;
        Ok(WarehousePayload { warehouse: Warehouse::from(warehouse) })
    }

    /// Links a warehouse to a channel, so its stock serves the channel. Linking twice is
    /// `DUPLICATE`.
    async fn link_warehouse_to_channel(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: WarehouseChannelInput) -> async_graphql::Result<WarehouseChannelPayload> {
        let warehouse_id = decode("warehouseId", NodeType::Warehouse, &input.warehouse_id)?;
        let channel_id = decode("channelId", NodeType::Channel, &input.channel_id)?;
        let (warehouse, channel) = warehouses::link_warehouse(db(ctx), warehouse_id, channel_id).await?;
        Ok(WarehouseChannelPayload { warehouse: Warehouse::from(warehouse), channel: Channel(channel) })
    }

    /// Removes the link between a warehouse and a channel.
    async fn unlink_warehouse_from_channel(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: WarehouseChannelInput) -> async_graphql::Result<WarehouseChannelPayload> {
        let warehouse_id = decode("warehouseId", NodeType::Warehouse, &input.warehouse_id)?;
        let channel_id = decode("channelId", NodeType::Channel, &input.channel_id)?;
        let (warehouse, channel) = warehouses::unlink_warehouse(db(ctx), warehouse_id, channel_id).await?;
        Ok(WarehouseChannelPayload { warehouse: Warehouse::from(warehouse), channel: Channel(channel) })
    }

    /// Creates a product.
    async fn create_product(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: CreateProductInput) -> async_graphql::Result<ProductPayload> {
        let new = catalog::NewProduct {
            name: Name::parse("name", &input.name)?,
            external_reference_code: ExternalReferenceCode::parse_optional("externalReferenceCode", input.external_reference_code.as_deref())?,
        };
        let estimate_id = input.availability_estimate_id.as_ref().map(|id| decode("availabilityEstimateId", NodeType::AvailabilityEstimate, id)).transpose()?;
        let product = catalog::create_product_with_estimate(db(ctx), new, estimate_id).await?;
        Ok(ProductPayload { product: Product(product) })
    }

    /// Changes a product's name or external reference code.
    async fn update_product(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: UpdateProductInput) -> async_graphql::Result<ProductPayload> {
        let id = decode("id", NodeType::Product, &input.id)?;
        let changes = catalog::ProductChanges {
            name: input.name.as_deref().map(|name| Name::parse("name", name)).transpose()?,
            external_reference_code: optional_erc("externalReferenceCode", input.external_reference_code)?,
            availability_estimate_id: match &input.availability_estimate_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(id) => Some(Some(decode("availabilityEstimateId", NodeType::AvailabilityEstimate, id)?)),
            },
        };
        let product = catalog::update_product(db(ctx), id, changes).await?;
        Ok(ProductPayload { product: Product(product) })
    }

    /// Creates a SKU of a product. Codes are unique regardless of letter case and surrounding
    /// spaces: a second `ABC-1`, `abc-1` or ` ABC-1 ` is `DUPLICATE`.
    async fn create_sku(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: CreateSkuInput) -> async_graphql::Result<SkuPayload> {
        let new = catalog::NewSku {
            product_id: decode("productId", NodeType::Product, &input.product_id)?,
            code: SkuCode::parse("code", &input.code)?,
            published: input.published,
            purchasable: input.purchasable,
        };
        let sku = catalog::create_sku(db(ctx), new).await?;
        Ok(SkuPayload { sku: Sku(sku) })
    }

    /// Changes a SKU's code or flags.
    async fn update_sku(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: UpdateSkuInput) -> async_graphql::Result<SkuPayload> {
        let id = decode("id", NodeType::Sku, &input.id)?;
        let changes = catalog::SkuChanges {
            code: input.code.as_deref().map(|code| SkuCode::parse("code", code)).transpose()?,
            published: input.published,
            purchasable: input.purchasable,
        };
        let sku = catalog::update_sku(db(ctx), id, changes).await?;
        Ok(SkuPayload { sku: Sku(sku) })
    }

    /// Sets a product's inventory settings. Omitted settings keep their current value (the
    /// default when never set); the result is checked as a whole.
    async fn set_product_inventory_configuration(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: SetProductInventoryConfigurationInput) -> async_graphql::Result<ProductInventoryConfigurationPayload> {
        let product_id = decode("productId", NodeType::Product, &input.product_id)?;
        let changes = catalog::ConfigurationChanges {
            min_stock_quantity: input.min_stock_quantity,
            low_stock_activity: match input.low_stock_activity {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(key) => Some(Some(key.trim().to_owned())),
            },
            allow_back_orders: input.allow_back_orders,
            display_availability: input.display_availability,
            display_stock_quantity: input.display_stock_quantity,
            min_order_quantity: input.min_order_quantity,
            max_order_quantity: input.max_order_quantity,
            multiple_order_quantity: input.multiple_order_quantity,
            allowed_order_quantities: input.allowed_order_quantities,
        };
        let settings = catalog::set_inventory_configuration(db(ctx), product_id, changes).await?;
        let product = catalog::find_product(db(ctx).conn(), product_id).await?;
        Ok(ProductInventoryConfigurationPayload { product: Product(product), inventory_configuration: ProductInventoryConfiguration(settings) })
    }

    /// Sets a SKU's on-hand quantity, safety stock or low-stock threshold in one warehouse.
    /// With `expectedOnHand`, a stale value is rejected with `CONFLICT`. On hand may not fall
    /// below the booked quantity unless the product allows back orders (`INSUFFICIENT_STOCK`).
    async fn set_inventory(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: SetInventoryInput) -> async_graphql::Result<InventoryPayload> {
        let request = set_request(&input.sku, &input.warehouse_id, input.on_hand, input.expected_on_hand, input.safety_stock, input.low_stock_threshold)?;
        let context = change_context(input.idempotency_key, input.reason)?;
        let change = inventory::set_inventory(db(ctx), request, &context).await?;
        let (warehouse_item, ledger_entries) = load_change(ctx, &change).await?;
        Ok(InventoryPayload { warehouse_item, ledger_entries })
    }

    /// Adds units to or removes units from a SKU's on-hand quantity in one warehouse.
    async fn adjust_inventory(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: AdjustInventoryInput) -> async_graphql::Result<InventoryPayload> {
        let request = inventory::AdjustInventory {
            sku: SkuCode::parse("sku", &input.sku)?,
            warehouse_id: decode("warehouseId", NodeType::Warehouse, &input.warehouse_id)?,
            delta: input.delta,
        };
        let context = change_context(input.idempotency_key, input.reason)?;
        let change = inventory::adjust_inventory(db(ctx), request, &context).await?;
        let (warehouse_item, ledger_entries) = load_change(ctx, &change).await?;
        Ok(InventoryPayload { warehouse_item, ledger_entries })
    }

    /// Sets many items in one transaction. With `REJECT_ALL`, one rejected item rejects the
    /// request and nothing changes; with `REJECT_FAILED_ITEMS`, the valid items are applied and
    /// each rejected one is reported in `results`.
    async fn bulk_set_inventory(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: BulkSetInventoryInput) -> async_graphql::Result<BulkSetInventoryPayload> {
        let mut requests = Vec::with_capacity(input.items.len());
        let mut early_errors = Vec::new();
        for (index, item) in input.items.into_iter().enumerate() {
            match set_request(&item.sku, &item.warehouse_id, item.on_hand, item.expected_on_hand, item.safety_stock, item.low_stock_threshold) {
                Ok(request) => requests.push((index, request)),
                Err(err) if input.error_policy == BulkErrorPolicy::RejectAll => return Err(err.within(&format!("items.{index}")).into()),
                Err(err) => early_errors.push((index, err.within(&format!("items.{index}")))),
            }
        }
        let context = change_context(input.idempotency_key, input.reason)?;
        let positions: Vec<usize> = requests.iter().map(|(index, _)| *index).collect();
        let outcomes = if requests.is_empty() {
            Vec::new()
        } else {
            inventory::bulk_set_inventory(db(ctx), requests.into_iter().map(|(_, r)| r).collect(), input.error_policy, &context).await?
        };

        let mut results = Vec::with_capacity(outcomes.len() + early_errors.len());
        for outcome in outcomes {
            let index = positions[outcome.index];
            let (warehouse_item, ledger_entries) = match &outcome.change {
                Some(change) => {
                    let (item, entries) = load_change(ctx, change).await?;
                    (Some(item), entries)
                }
                None => (None, Vec::new()),
            };
            let error = outcome.error.map(|e| BulkItemError {
                code: e.code,
                message: e.message,
                // The service numbers the items it saw; renumber to the request's positions.
                field: e.field.map(|f| renumber(&f, outcome.index, index)),
            });
            results.push(BulkSetInventoryResult { index: index as i32, warehouse_item, ledger_entries, error });
        }
        for (index, err) in early_errors {
            let Error::Rejected { code, message, field, .. } = err else { continue };
            results.push(BulkSetInventoryResult { index: index as i32, warehouse_item: None, ledger_entries: Vec::new(), error: Some(BulkItemError { code: code.as_str().to_owned(), message, field }) });
        }
        results.sort_by_key(|r| r.index);
        let rejected = results.iter().filter(|r| r.error.is_some()).count() as i32;
        if results.is_empty() {
            return Err(Error::invalid("items", "items is empty: give at least one item").into());
        }
        Ok(BulkSetInventoryPayload { applied_count: results.len() as i32 - rejected, rejected_count: rejected, results })
    }

    /// Moves on-hand stock of a SKU from one warehouse to another in one step. At most the
    /// source's available quantity (on hand less safety stock and booked) can move.
    async fn transfer_inventory(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: TransferInventoryInput) -> async_graphql::Result<TransferInventoryPayload> {
        let request = inventory::TransferInventory {
            sku: SkuCode::parse("sku", &input.sku)?,
            from_warehouse_id: decode("fromWarehouseId", NodeType::Warehouse, &input.from_warehouse_id)?,
            to_warehouse_id: decode("toWarehouseId", NodeType::Warehouse, &input.to_warehouse_id)?,
            quantity: input.quantity,
        };
        let context = change_context(input.idempotency_key, input.reason)?;
        let outcome = inventory::transfer_inventory(db(ctx), request, &context).await?;
        let (from, mut entries) = load_change(ctx, &outcome.from).await?;
        let (to, more) = load_change(ctx, &outcome.to).await?;
        entries.extend(more);
        Ok(TransferInventoryPayload { reference: outcome.reference, from, to, ledger_entries: entries })
    }
}

fn renumber(field: &str, from: usize, to: usize) -> String {
    match field.strip_prefix(&format!("items.{from}")) {
        Some(rest) => format!("items.{to}{rest}"),
        None => field.to_owned(),
    }
}
