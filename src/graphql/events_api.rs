//! Inventory events and low-stock activities: the `inventoryEvents` and `lowStockActivities`
//! queries and the `lowStockEvents` and `stockChanged` subscriptions.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use super::{
    access, db,
    loaders::{AppLoader, ChannelId, SkuId, WarehouseId, new_loader},
    types::{Channel, Sku, Warehouse},
};
use crate::{
    auth::ChannelScope,
    domain::SkuCode,
    error::Error,
    event_hub::{EventHub, SharedEvent},
    ids::{NodeType, decode, encode},
    service::{
        activities,
        catalog,
        events::{self, EventFilter, EventPlaces, InventoryEventKind, InventoryEventScope},
    },
};

/// The maximum number of events on one `inventoryEvents` page.
pub const MAX_EVENTS_PER_PAGE: i32 = 500;

/// The most SKUs one event filter may name.
const MAX_FILTER_SKUS: usize = 1000;

/// A durable record of a low-stock crossing or a stock change.
pub struct InventoryEvent {
    event: SharedEvent,
    /// A loader of this event alone, for subscriptions: a loader that lived as long as the
    /// subscription would serve stale SKUs and grow without bound.
    loader: Option<AppLoader>,
}

impl InventoryEvent {
    fn loader<'a>(&'a self, ctx: &'a Context<'_>) -> &'a AppLoader {
        self.loader.as_ref().unwrap_or_else(|| ctx.data_unchecked::<AppLoader>())
    }
}

/// Outcome of a low-stock activity run for an event.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ActivityStatus {
    /// The activity finished; its changes committed with the event.
    Succeeded,
    /// The activity failed; its own changes were undone, the stock change and the event kept.
    Failed,
}

/// A low-stock activity run for a LOW_STOCK event.
#[derive(SimpleObject)]
pub struct ActivityRun {
    /// Key of the activity, such as `unpublish-sku`.
    pub key: String,
    /// Whether it succeeded.
    pub status: ActivityStatus,
    /// Why it failed; null when it succeeded.
    pub error: Option<String>,
}

/// A durable record of a low-stock crossing or a stock change.
#[Object]
impl InventoryEvent {
    /// Position in the event log; increases in commit order. Pass the last one received as
    /// `after` to resume.
    async fn sequence(&self) -> i64 {
        self.event.sequence
    }

    /// What happened; null for a kind written by a newer server version.
    async fn kind(&self) -> Option<InventoryEventKind> {
        InventoryEventKind::from_stored(&self.event.kind)
    }

    /// Whose quantity this is: the company, a channel or a warehouse.
    async fn scope(&self) -> Option<InventoryEventScope> {
        InventoryEventScope::from_stored(&self.event.scope)
    }

    /// Code of the SKU, as it was when the event happened. Costs no database read.
    async fn sku_code(&self) -> &str {
        &self.event.sku_code
    }

    /// The SKU; null when it has since been deleted. Costs a database read per event.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        Ok(self.loader(ctx).load_one(SkuId(self.event.sku_id)).await?.map(Sku))
    }

    /// Global id of the warehouse, for the warehouse scope.
    async fn warehouse_id(&self) -> Option<ID> {
        self.event.warehouse_id.map(|id| encode(NodeType::Warehouse, id))
    }

    /// The warehouse, for the warehouse scope; null otherwise or when deleted since.
    async fn warehouse(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Warehouse>> {
        let Some(id) = self.event.warehouse_id else { return Ok(None) };
        Ok(self.loader(ctx).load_one(WarehouseId(id)).await?.map(Warehouse::from))
    }

    /// Global id of the channel, for the channel scope.
    async fn channel_id(&self) -> Option<ID> {
        self.event.channel_id.map(|id| encode(NodeType::Channel, id))
    }

    /// The channel, for the channel scope; null otherwise or when deleted since.
    async fn channel(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Channel>> {
        let Some(id) = self.event.channel_id else { return Ok(None) };
        Ok(self.loader(ctx).load_one(ChannelId(id)).await?.map(Channel))
    }

    /// On hand in the scope after the change.
    async fn on_hand(&self) -> i64 {
        self.event.on_hand
    }

    /// Safety stock in the scope after the change.
    async fn safety_stock(&self) -> i64 {
        self.event.safety_stock
    }

    /// Booked in the scope after the change.
    async fn booked(&self) -> i64 {
        self.event.booked
    }

    /// Available in the scope before the change; null when the scope was judged for the
    /// first time.
    async fn available_before(&self) -> Option<i64> {
        self.event.available_before
    }

    /// Available in the scope after the change.
    async fn available_after(&self) -> i64 {
        self.event.available_after
    }

    /// The threshold judged against: `minStockQuantity` for the company and channel scopes,
    /// the item's `lowStockThreshold` for the warehouse scope (null when it has none).
    async fn threshold(&self) -> Option<i64> {
        self.event.threshold
    }

    /// When the change committed.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.event.occurred_at
    }

    /// The low-stock activity run for this event: only company-wide LOW_STOCK events of a
    /// product with a `lowStockActivity` have one.
    async fn activity(&self) -> Option<ActivityRun> {
        let key = self.event.activity_key.clone()?;
        let status = match self.event.activity_status.as_deref() {
            Some("SUCCEEDED") => ActivityStatus::Succeeded,
            _ => ActivityStatus::Failed,
        };
        Some(ActivityRun { key, status, error: self.event.activity_error.clone() })
    }
}

/// A registered low-stock activity, as products name it in `lowStockActivity`.
pub struct LowStockActivity(Arc<dyn activities::LowStockActivity>);

/// A registered low-stock activity, as products name it in `lowStockActivity`.
#[Object]
impl LowStockActivity {
    /// The key products store, such as `unpublish-sku`.
    async fn key(&self) -> &str {
        self.0.key()
    }

    /// Human-readable label.
    async fn label(
        &self,
        #[graphql(desc = "Locale such as `en_US` or `de`; falls back to the language, then `en_US`.")] locale: Option<String>,
    ) -> String {
        activities::label(self.0.as_ref(), locale.as_deref())
    }

    /// Ordering in pickers: lower first.
    async fn priority(&self) -> i32 {
        self.0.priority()
    }
}

/// Filter of `inventoryEvents`.
#[derive(InputObject, Default)]
pub struct InventoryEventFilter {
    /// Only these kinds.
    pub kinds: Option<Vec<InventoryEventKind>>,
    /// Only events of these SKUs.
    pub skus: Option<Vec<String>>,
    /// Events of this channel's scope (its active linked warehouses).
    pub channel_id: Option<ID>,
    /// Events of this warehouse's scope.
    pub warehouse_id: Option<ID>,
    /// Only these scopes. When not given: the scopes of the channel and warehouse asked for,
    /// or the company and warehouse scopes when neither is.
    pub scopes: Option<Vec<InventoryEventScope>>,
}

/// Queries of the event log and the activity registry.
#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// The durable event log, oldest first: events with a sequence greater than `after`.
    async fn inventory_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events after this sequence; 0 or omitted starts at the oldest kept.")] after: Option<i64>,
        #[graphql(desc = "Number of events, at most 500; 100 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Narrows the list.")] filter: Option<InventoryEventFilter>,
    ) -> async_graphql::Result<Vec<InventoryEvent>> {
        let max = MAX_EVENTS_PER_PAGE.min(i32::try_from(super::connection::max_page_size()).unwrap_or(MAX_EVENTS_PER_PAGE));
        let first = first.unwrap_or(max.min(100));
        if !(1..=max).contains(&first) {
            return Err(Error::invalid("first", format!("first must be from 1 to {max} (--max-page-size), got {first}")).into());
        }
        let after = after.unwrap_or(0);
        if after < 0 {
            return Err(Error::invalid("after", format!("after must be a sequence of 0 or more, got {after}")).into());
        }
        let filter = filter.unwrap_or_default();
        let filter = event_filter(
            ctx,
            filter.kinds.unwrap_or_default(),
            filter.skus.as_deref(),
            filter.channel_id.as_ref(),
            filter.warehouse_id.as_ref(),
            filter.scopes.unwrap_or_default(),
            "filter.",
        )
        .await?;
        // Like a replay, a read that starts before the retained range fails instead of
        // silently skipping the removed events.
        let pruned = events::pruned_through(db(ctx).conn()).await?;
        if after > 0 && after < pruned {
            return Err(Error::invalid(
                "after",
                format!("events up to sequence {pruned} were removed by the retention policy, so the events after {after} are incomplete; read from after {pruned} and reload the current stock"),
            )
            .into());
        }
        let found = events::events_after(db(ctx).conn(), after, &filter, first as u64).await?;
        Ok(found.into_iter().map(|event| InventoryEvent { event: Arc::new(event), loader: None }).collect())
    }

    /// The low-stock activities this server can run, by priority.
    async fn low_stock_activities(&self, ctx: &Context<'_>) -> Vec<LowStockActivity> {
        db(ctx).activities().by_priority().into_iter().map(|activity| LowStockActivity(Arc::clone(activity))).collect()
    }
}

/// Parses filter arguments shared by the query and the subscriptions.
async fn event_filter(
    ctx: &Context<'_>,
    kinds: Vec<InventoryEventKind>,
    skus: Option<&[String]>,
    channel_id: Option<&ID>,
    warehouse_id: Option<&ID>,
    scopes: Vec<InventoryEventScope>,
    prefix: &str,
) -> Result<EventFilter, Error> {
    let channel_id = channel_id.map(|id| decode(&format!("{prefix}channelId"), NodeType::Channel, id)).transpose()?;
    let warehouse_id = warehouse_id.map(|id| decode(&format!("{prefix}warehouseId"), NodeType::Warehouse, id)).transpose()?;
    let sku_ids = match skus {
        None => None,
        Some(codes) => {
            if codes.len() > MAX_FILTER_SKUS {
                return Err(Error::invalid(
                    format!("{prefix}skus"),
                    format!("{} SKUs named; a filter may name at most {MAX_FILTER_SKUS}", codes.len()),
                ));
            }
            let mut parsed = Vec::with_capacity(codes.len());
            for (index, code) in codes.iter().enumerate() {
                parsed.push(SkuCode::parse(&format!("{prefix}skus.{index}"), code)?);
            }
            let found = catalog::find_skus(db(ctx).conn(), &parsed).await?;
            if let Some((index, missing)) =
                parsed.iter().enumerate().find(|(_, code)| !found.iter().any(|sku| sku.code_key == code.key()))
            {
                return Err(Error::not_found(format!("{prefix}skus.{index}"), format!("SKU {:?} not found", missing.as_str())));
            }
            Some(found.iter().map(|sku| sku.id).collect())
        }
    };
    let mut filter = EventFilter { kinds, sku_ids, channel_id, warehouse_id, scopes, places: None };
    limit_to_callers_channels(ctx, &mut filter, prefix).await?;
    Ok(filter)
}

/// Narrows a filter to the events a token limited to channels may see: the channel scope of
/// its channels and the warehouse scope of the warehouses linked to them. Asking for another
/// channel, another warehouse or the company scope is `FORBIDDEN`; asking for nothing in
/// particular gets the caller's channels and warehouses.
// TODO(auth): a subscription keeps the warehouses linked when it started; one linked or
// unlinked later counts from the next subscription.
async fn limit_to_callers_channels(ctx: &Context<'_>, filter: &mut EventFilter, prefix: &str) -> Result<(), Error> {
    let ChannelScope::Only(channel_ids) = access::visible_channels(ctx)? else { return Ok(()) };
    if let Some(channel_id) = filter.channel_id {
        access::check_channel(ctx, &format!("{prefix}channelId"), channel_id)?;
    }
    if filter.scopes.contains(&InventoryEventScope::Company) {
        return Err(access::forbidden("company-wide events are outside this API token's channels").with_field(&format!("{prefix}scopes")));
    }
    let places = EventPlaces::of_channels(db(ctx).conn(), channel_ids).await?;
    if let Some(warehouse_id) = filter.warehouse_id
        && !places.warehouse_ids.contains(&warehouse_id)
    {
        return Err(access::forbidden("this API token is limited to the warehouses of other channels").with_field(&format!("{prefix}warehouseId")));
    }
    if filter.channel_id.is_none() && filter.warehouse_id.is_none() && filter.scopes.is_empty() {
        filter.scopes = vec![InventoryEventScope::Channel, InventoryEventScope::Warehouse];
    }
    filter.places = Some(places);
    Ok(())
}

/// Live streams of inventory events over WebSocket.
#[derive(Default)]
pub struct SubscriptionRoot;

/// Live streams of inventory events over WebSocket (`graphql-transport-ws` or `graphql-ws`).
#[Subscription]
impl SubscriptionRoot {
    /// LOW_STOCK, OUT_OF_STOCK and BACK_IN_STOCK events as they commit, on any server instance
    /// sharing the database. With `after`, every stored event after that sequence comes first,
    /// then live ones, with none missed or repeated. Without `channelId` and `warehouseId`,
    /// the company-wide events and those of warehouses with their own threshold.
    async fn low_stock_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Events of this channel's scope (its active linked warehouses).")] channel_id: Option<ID>,
        #[graphql(desc = "Events of this warehouse's own threshold.")] warehouse_id: Option<ID>,
        #[graphql(desc = "Only events of these SKUs.")] skus: Option<Vec<String>>,
        #[graphql(desc = "Replay stored events after this sequence first: the last sequence received.")] after: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<InventoryEvent>> + use<>> {
        let filter = event_filter(ctx, InventoryEventKind::LOW_STOCK_KINDS.to_vec(), skus.as_deref(), channel_id.as_ref(), warehouse_id.as_ref(), Vec::new(), "").await?;
        stream_events(ctx, filter, after).await
    }

    /// STOCK_CHANGED events with the new quantities, as they commit. With `after`, stored
    /// events after that sequence come first. Without `channelId` and `warehouseId`, the
    /// company-wide totals and each warehouse item.
    async fn stock_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events of these SKUs.")] skus: Option<Vec<String>>,
        #[graphql(desc = "Changes of this warehouse's items.")] warehouse_id: Option<ID>,
        #[graphql(desc = "Changes of this channel's totals (its active linked warehouses).")] channel_id: Option<ID>,
        #[graphql(desc = "Replay stored events after this sequence first: the last sequence received.")] after: Option<i64>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<InventoryEvent>> + use<>> {
        let filter = event_filter(ctx, vec![InventoryEventKind::StockChanged], skus.as_deref(), channel_id.as_ref(), warehouse_id.as_ref(), Vec::new(), "").await?;
        stream_events(ctx, filter, after).await
    }
}

async fn stream_events(
    ctx: &Context<'_>,
    filter: EventFilter,
    after: Option<i64>,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<InventoryEvent>> + use<>> {
    let hub = ctx.data_unchecked::<Arc<EventHub>>();
    let db = db(ctx).clone();
    let caller = access::caller(ctx)?.clone();
    let events = hub.subscribe(filter, after).await?;
    Ok(async_stream::stream! {
        let mut events = std::pin::pin!(events);
        let mut revoked = std::pin::pin!(caller.revoked());
        loop {
            // A subscription outlives the request that started it, so it ends, with an
            // UNAUTHENTICATED error, once its token is revoked.
            tokio::select! {
                err = &mut revoked => {
                    yield Err(err.into());
                    break;
                }
                event = events.next() => match event {
                    Some(Ok(event)) => yield Ok(InventoryEvent { event, loader: Some(new_loader(&db)) }),
                    Some(Err(err)) => yield Err(err.into()),
                    None => break,
                },
            }
        }
    })
}
