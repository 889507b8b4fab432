//! GraphQL surface of replenishment, availability estimates and storefront availability.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{availability_estimate, replenishment_item};

use super::{
    connection::{KeyOrder, Page, PageArgs, paginate},
    db,
    loaders::{AppLoader, AvailabilityKey, SkuId, WarehouseId},
    scalars::Date,
    types::{Sku, Warehouse},
};
use crate::{
    domain::{ExternalReferenceCode, SkuCode},
    error::Error,
    ids::{NodeType, decode, encode},
    service::{
        availability::{self, AvailabilityStatus},
        catalog, estimates, replenishments,
    },
};

/// A localized text.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "LocalizedTextInput")]
pub struct LocalizedText {
    /// Locale: a language code with an optional country, such as `en` or `en_US`.
    pub locale: String,
    /// The text in that locale.
    pub text: String,
}

/// A text shown to shoppers while a product is unavailable, such as "3-5 days".
pub struct AvailabilityEstimate(pub availability_estimate::Model);

/// A text shown to shoppers while a product is unavailable, such as "3-5 days".
#[Object]
impl AvailabilityEstimate {
    /// Opaque global id.
    pub(crate) async fn id(&self) -> ID {
        encode(NodeType::AvailabilityEstimate, self.0.id)
    }

    /// The title in `locale`, falling back to its language, then to `en_US`, then to any stored
    /// locale.
    async fn title(&self, #[graphql(desc = "Locale such as `en_US`; `en_US` when omitted.")] locale: Option<String>) -> Option<String> {
        let titles = estimates::titles_of(&self.0);
        estimates::localized(&titles, locale.as_deref()).map(str::to_owned)
    }

    /// Every stored title, by locale.
    async fn titles(&self) -> Vec<LocalizedText> {
        estimates::titles_of(&self.0).into_iter().map(|(locale, text)| LocalizedText { locale, text }).collect()
    }

    /// Ordering in pickers: lower first.
    async fn priority(&self) -> i32 {
        self.0.priority
    }

    /// When the estimate was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Incoming stock: units of a SKU expected in a warehouse on a date.
pub struct ReplenishmentItem(pub replenishment_item::Model);

/// Incoming stock: units of a SKU expected in a warehouse on a date.
#[Object]
impl ReplenishmentItem {
    /// Opaque global id.
    pub(crate) async fn id(&self) -> ID {
        encode(NodeType::ReplenishmentItem, self.0.id)
    }

    /// The warehouse the stock arrives in.
    async fn warehouse(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Warehouse>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(WarehouseId(self.0.warehouse_id)).await?.map(Warehouse::from))
    }

    /// The SKU.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        let loader = ctx.data_unchecked::<AppLoader>();
        Ok(loader.load_one(SkuId(self.0.sku_id)).await?.map(Sku))
    }

    /// Units expected in all.
    async fn quantity(&self) -> i64 {
        self.0.quantity
    }

    /// Units received so far.
    async fn received_quantity(&self) -> i64 {
        self.0.received_quantity
    }

    /// Units still to arrive; they count as `incoming`.
    async fn remaining_quantity(&self) -> i64 {
        replenishments::remaining(&self.0)
    }

    /// Whether units are still to arrive.
    async fn open(&self) -> bool {
        replenishments::remaining(&self.0) > 0
    }

    /// Calendar date of arrival.
    async fn expected_on(&self) -> Date {
        Date(self.0.expected_on)
    }

    /// Identifier in an external system, unique among replenishment items.
    async fn external_reference_code(&self) -> Option<&str> {
        self.0.external_reference_code.as_deref()
    }

    /// When the item was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// What a storefront may show for a SKU in a channel.
pub struct Availability(pub availability::Availability);

/// What a storefront may show for a SKU in a channel.
#[Object]
impl Availability {
    /// The SKU.
    async fn sku(&self) -> Sku {
        Sku(self.0.sku.clone())
    }

    /// AVAILABLE when the channel's available quantity is above the product's
    /// `minStockQuantity`, else BACKORDERABLE (back orders allowed) or UNAVAILABLE. Null unless
    /// the product's `displayAvailability` is on.
    async fn status(&self) -> Option<AvailabilityStatus> {
        self.0.display_availability.then_some(self.0.status)
    }

    /// The channel's available quantity, never below 0. Null unless the product's
    /// `displayStockQuantity` is on.
    async fn quantity(&self) -> Option<i64> {
        self.0.display_stock_quantity.then_some(self.0.available.max(0))
    }

    /// Whether the product lets storefronts show the status.
    async fn display_availability(&self) -> bool {
        self.0.display_availability
    }

    /// Whether the product lets storefronts show the quantity.
    async fn display_stock_quantity(&self) -> bool {
        self.0.display_stock_quantity
    }

    /// When the SKU is not available: the product's estimate and the date stock is expected
    /// back. Null when available, or when there is neither an estimate nor an expected date.
    async fn estimate(&self) -> Option<ShownEstimate> {
        if self.0.status == AvailabilityStatus::Available || (self.0.estimate.is_none() && self.0.expected_on.is_none()) {
            return None;
        }
        Some(ShownEstimate { estimate: self.0.estimate.clone(), expected_on: self.0.expected_on })
    }
}

/// The estimate shown for an unavailable SKU.
pub struct ShownEstimate {
    estimate: Option<availability_estimate::Model>,
    expected_on: Option<chrono::NaiveDate>,
}

/// The estimate shown for an unavailable SKU.
#[Object]
impl ShownEstimate {
    /// The product's estimate text in `locale` (with the usual fallbacks); null when the
    /// product has no estimate.
    async fn title(&self, #[graphql(desc = "Locale such as `en_US`; `en_US` when omitted.")] locale: Option<String>) -> Option<String> {
        let titles = estimates::titles_of(self.estimate.as_ref()?);
        estimates::localized(&titles, locale.as_deref()).map(str::to_owned)
    }

    /// The first date on which open replenishments of the channel's active warehouses, added
    /// in date order, bring the available quantity above the threshold (an overdue one counts
    /// as today, in UTC); null when they never do.
    async fn expected_on(&self) -> Option<Date> {
        self.expected_on.map(Date)
    }

    /// The product's estimate, if it has one.
    async fn availability_estimate(&self) -> Option<AvailabilityEstimate> {
        self.estimate.clone().map(AvailabilityEstimate)
    }
}

/// Filter of the replenishment list.
#[derive(InputObject, Default)]
pub struct ReplenishmentFilter {
    /// Only items of this SKU.
    pub sku: Option<String>,
    /// Only items arriving in this warehouse.
    pub warehouse_id: Option<ID>,
    /// Only items expected on or before this date.
    pub expected_before: Option<Date>,
    /// Only items with units still to arrive (true), or only fully received ones (false).
    pub open: Option<bool>,
}

/// Queries of replenishment, estimates and availability.
#[derive(Default)]
pub struct AvailabilityQuery;

/// Queries of replenishment, estimates and availability.
#[Object]
impl AvailabilityQuery {
    /// Every availability estimate, by priority then id.
    async fn availability_estimates(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AvailabilityEstimate>> {
        let found = estimates::select_estimates().all(db(ctx).conn()).await.map_err(Error::from)?;
        Ok(found.into_iter().map(AvailabilityEstimate).collect())
    }

    /// Replenishment items, by id.
    async fn replenishments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<ReplenishmentFilter>,
        #[graphql(desc = "Number of items from the start, at most 500.")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Number of items from the end, at most 500.")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> async_graphql::Result<Page<ReplenishmentItem>> {
        let filter = filter.unwrap_or_default();
        let conn = db(ctx).conn();
        let sku_id = match &filter.sku {
            Some(code) => {
                let code = SkuCode::parse("filter.sku", code)?;
                Some(catalog::find_sku_or_none(conn, &code).await?.map(|sku| sku.id).unwrap_or(0))
            }
            None => None,
        };
        let service_filter = replenishments::ReplenishmentFilter {
            sku_id,
            warehouse_id: filter.warehouse_id.as_ref().map(|id| decode("filter.warehouseId", NodeType::Warehouse, id)).transpose()?,
            expected_before: filter.expected_before.map(|d| d.0),
            open: filter.open,
        };
        let select = replenishments::select_replenishments(&service_filter);
        let args = PageArgs { first, after, last, before };
        Ok(paginate(conn, select, replenishment_item::Column::Id, |m| m.id, KeyOrder::Ascending, args, ReplenishmentItem).await?)
    }

    /// Availability of many SKUs in one channel, in the order asked. An unknown SKU gives null
    /// at its position and a `NOT_FOUND` error naming it. A storefront token may ask only for
    /// its own channels.
    async fn availability(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "SKU codes, at most 1000.")] skus: Vec<String>,
        #[graphql(desc = "The channel whose storefront asks.")] channel_id: ID,
    ) -> async_graphql::Result<Vec<Option<Availability>>> {
        let codes = super::query::parse_codes("skus", &skus)?;
        let channel_id = decode("channelId", NodeType::Channel, &channel_id)?;
        super::access::check_channel(ctx, "channelId", channel_id)?;
        let conn = db(ctx).conn();
        crate::service::channels::find_channel(conn, channel_id).await?;
        let found = catalog::find_skus(conn, &codes).await?;
        let loader = ctx.data_unchecked::<AppLoader>();
        let keys = found.into_iter().map(|sku| AvailabilityKey { sku, channel_id });
        let shown = loader.load_many(keys).await?;
        let by_code: std::collections::HashMap<String, availability::Availability> =
            shown.into_values().map(|a| (a.sku.code_key.clone(), a)).collect();
        let mut list = Vec::with_capacity(codes.len());
        for (index, code) in codes.iter().enumerate() {
            match by_code.get(&code.key()) {
                Some(found) => list.push(Some(Availability(found.clone()))),
                None => {
                    super::query::add_error_at(ctx, index, Error::not_found(format!("skus.{index}"), format!("SKU {:?} not found", code.as_str())));
                    list.push(None);
                }
            }
        }
        Ok(list)
    }
}

/// Input of `createAvailabilityEstimate`.
#[derive(InputObject)]
pub struct CreateAvailabilityEstimateInput {
    /// Localized titles, at least one; `en_US` is the fallback locale.
    pub titles: Vec<LocalizedText>,
    /// Ordering in pickers, lower first. Default 0.
    #[graphql(default = 0)]
    pub priority: i32,
}

/// Input of `updateAvailabilityEstimate`.
#[derive(InputObject)]
pub struct UpdateAvailabilityEstimateInput {
    /// The estimate.
    pub id: ID,
    /// New titles, replacing all stored ones.
    pub titles: Option<Vec<LocalizedText>>,
    /// New priority.
    pub priority: Option<i32>,
}

/// Input of `deleteAvailabilityEstimate`.
#[derive(InputObject)]
pub struct DeleteAvailabilityEstimateInput {
    /// The estimate.
    pub id: ID,
    /// Remove the estimate from the products that use it; without this, deleting an estimate
    /// in use is `CONFLICT`.
    #[graphql(default = false)]
    pub unlink_products: bool,
}

/// Result of an estimate mutation.
#[derive(SimpleObject)]
pub struct AvailabilityEstimatePayload {
    /// The estimate after the change (for a deletion, as it was).
    pub availability_estimate: AvailabilityEstimate,
}

/// Input of `createReplenishment`.
#[derive(InputObject)]
pub struct CreateReplenishmentInput {
    /// The warehouse the stock arrives in.
    pub warehouse_id: ID,
    /// SKU code.
    pub sku: String,
    /// Units expected, 1 to 1,000,000,000.
    pub quantity: i64,
    /// Calendar date of arrival.
    pub expected_on: Date,
    /// Identifier in an external system, such as a purchase order line.
    pub external_reference_code: Option<String>,
}

/// Input of `updateReplenishment`; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateReplenishmentInput {
    /// The replenishment item.
    pub id: ID,
    /// New quantity; not below the units already received.
    pub quantity: Option<i64>,
    /// New date of arrival.
    pub expected_on: Option<Date>,
    /// New external reference code; null removes it.
    pub external_reference_code: MaybeUndefined<String>,
}

/// Input of `receiveReplenishment`.
#[derive(InputObject)]
pub struct ReceiveReplenishmentInput {
    /// The replenishment item.
    pub id: ID,
    /// Units received; all remaining units by default.
    pub quantity: Option<i64>,
    /// Free text recorded in the ledger.
    pub reason: Option<String>,
    /// Makes a retried request return the first result and change nothing.
    pub idempotency_key: Option<String>,
}

/// Input of `deleteReplenishment`.
#[derive(InputObject)]
pub struct DeleteReplenishmentInput {
    /// The replenishment item.
    pub id: ID,
}

/// Result of a replenishment mutation.
#[derive(SimpleObject)]
pub struct ReplenishmentPayload {
    /// The item after the change (for a deletion, as it was).
    pub replenishment: ReplenishmentItem,
}

/// Result of `receiveReplenishment`.
#[derive(SimpleObject)]
pub struct ReceiveReplenishmentPayload {
    /// The item after receiving.
    pub replenishment: ReplenishmentItem,
    /// The warehouse item that received the stock.
    pub warehouse_item: super::types::WarehouseItem,
    /// The `RECEIVED` ledger row.
    pub ledger_entries: Vec<super::types::InventoryLedgerEntry>,
}

fn titles_of(field: &str, texts: Vec<LocalizedText>) -> Result<estimates::Titles, Error> {
    let mut titles = estimates::Titles::new();
    for text in texts {
        if titles.insert(text.locale.trim().to_owned(), text.text).is_some() {
            return Err(Error::invalid(field, format!("locale {:?} is given twice", text.locale.trim())));
        }
    }
    Ok(titles)
}

/// Mutations of replenishment and estimates.
#[derive(Default)]
pub struct AvailabilityMutation;

/// Mutations of replenishment and estimates.
#[Object]
impl AvailabilityMutation {
    /// Creates an availability estimate.
    async fn create_availability_estimate(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: CreateAvailabilityEstimateInput) -> async_graphql::Result<AvailabilityEstimatePayload> {
        let titles = titles_of("titles", input.titles)?;
        let created = estimates::create_estimate(db(ctx), titles, input.priority).await?;
        Ok(AvailabilityEstimatePayload { availability_estimate: AvailabilityEstimate(created) })
    }

    /// Replaces an estimate's titles or changes its priority.
    async fn update_availability_estimate(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: UpdateAvailabilityEstimateInput) -> async_graphql::Result<AvailabilityEstimatePayload> {
        let id = decode("id", NodeType::AvailabilityEstimate, &input.id)?;
        let titles = input.titles.map(|texts| titles_of("titles", texts)).transpose()?;
        let updated = estimates::update_estimate(db(ctx), id, titles, input.priority).await?;
        Ok(AvailabilityEstimatePayload { availability_estimate: AvailabilityEstimate(updated) })
    }

    /// Deletes an estimate. While products use it, this is `CONFLICT` naming them, unless
    /// `unlinkProducts` removes it from them in the same step.
    async fn delete_availability_estimate(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: DeleteAvailabilityEstimateInput) -> async_graphql::Result<AvailabilityEstimatePayload> {
        let id = decode("id", NodeType::AvailabilityEstimate, &input.id)?;
        let deleted = estimates::delete_estimate(db(ctx), id, input.unlink_products).await?;
        Ok(AvailabilityEstimatePayload { availability_estimate: AvailabilityEstimate(deleted) })
    }

    /// Records stock expected to arrive in a warehouse on a date. It counts as `incoming`
    /// until received, and is never sellable before.
    async fn create_replenishment(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: CreateReplenishmentInput) -> async_graphql::Result<ReplenishmentPayload> {
        let new = replenishments::NewReplenishment {
            warehouse_id: decode("warehouseId", NodeType::Warehouse, &input.warehouse_id)?,
            sku: SkuCode::parse("sku", &input.sku)?,
            quantity: input.quantity,
            expected_on: input.expected_on.0,
            external_reference_code: ExternalReferenceCode::parse_optional("externalReferenceCode", input.external_reference_code.as_deref())?,
        };
        let created = replenishments::create_replenishment(db(ctx), new).await?;
        Ok(ReplenishmentPayload { replenishment: ReplenishmentItem(created) })
    }

    /// Changes a replenishment item's quantity, date or external reference code.
    async fn update_replenishment(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: UpdateReplenishmentInput) -> async_graphql::Result<ReplenishmentPayload> {
        let id = decode("id", NodeType::ReplenishmentItem, &input.id)?;
        let changes = replenishments::ReplenishmentChanges {
            quantity: input.quantity,
            expected_on: input.expected_on.map(|d| d.0),
            external_reference_code: match input.external_reference_code {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(text) => Some(ExternalReferenceCode::parse_optional("externalReferenceCode", Some(&text))?),
            },
        };
        let updated = replenishments::update_replenishment(db(ctx), id, changes).await?;
        Ok(ReplenishmentPayload { replenishment: ReplenishmentItem(updated) })
    }

    /// Receives all remaining units of a replenishment item, or `quantity` of them, into on
    /// hand. Receiving a fully received item is `CONFLICT`.
    async fn receive_replenishment(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: ReceiveReplenishmentInput) -> async_graphql::Result<ReceiveReplenishmentPayload> {
        let id = decode("id", NodeType::ReplenishmentItem, &input.id)?;
        let context = super::mutation::change_context(input.idempotency_key, input.reason)?;
        let outcome = replenishments::receive_replenishment(db(ctx), id, input.quantity, &context).await?;
        let conn = db(ctx).conn();
        let item = replenishments::find_replenishment(conn, outcome.replenishment_id).await?;
        let (warehouse_item, ledger_entries) = super::mutation::load_change(ctx, &outcome.change).await?;
        Ok(ReceiveReplenishmentPayload { replenishment: ReplenishmentItem(item), warehouse_item, ledger_entries })
    }

    /// Deletes a replenishment item. Units already received stay on hand.
    async fn delete_replenishment(&self, ctx: &Context<'_>, #[graphql(desc = "The request.")] input: DeleteReplenishmentInput) -> async_graphql::Result<ReplenishmentPayload> {
        let id = decode("id", NodeType::ReplenishmentItem, &input.id)?;
        let deleted = replenishments::delete_replenishment(db(ctx), id).await?;
        Ok(ReplenishmentPayload { replenishment: ReplenishmentItem(deleted) })
    }
}
