//! Query root.

use async_graphql::{Context, Guard as _, ID, InputObject, Object};
use entity::{channel, inventory_ledger, product, sku, warehouse, warehouse_item};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    access::{self, Restricted},
    connection::{KeyOrder, Page, PageArgs, paginate},
    db, scope_request,
    types::{
        Channel, InventoryLedgerEntry, Node, Product, Sku, StockSummary, Warehouse, WarehouseItem,
    },
};
use crate::{
    auth::ChannelScope,
    domain::SkuCode,
    error::Error,
    ids::{NodeType, decode, decode_any},
    graphql::{
        availability_api::{AvailabilityEstimate, ReplenishmentItem},
        booking_types::{Booking, Shipment},
    },
    service::{
        catalog, channels,
        ledger::{self, LedgerFilter, LedgerKind},
        stock, warehouses,
    },
};

/// The largest number of SKUs one `stock` or `skus(codes:)` request may name.
pub const MAX_SKUS_PER_REQUEST: usize = 1000;

/// Queries of channels, warehouses, products, SKUs, stock and the inventory ledger.
#[derive(Default)]
pub struct InventoryQuery;

/// Filter of the warehouse list.
#[derive(InputObject, Default)]
pub struct WarehouseFilter {
    /// Only active (true) or inactive (false) warehouses.
    pub active: Option<bool>,
    /// Only warehouses linked to this channel.
    pub channel_id: Option<ID>,
    /// Case-insensitive substring of the name, city or external reference code.
    pub search: Option<String>,
}

/// Filter of the product list.
#[derive(InputObject, Default)]
pub struct ProductFilter {
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
}

/// Filter of the SKU list.
#[derive(InputObject, Default)]
pub struct SkuFilter {
    /// Case-insensitive substring of the code.
    pub search: Option<String>,
    /// Only SKUs whose company-wide available quantity is at or below their product's
    /// `minStockQuantity` (true), or only those above it (false).
    pub low_stock: Option<bool>,
}

/// Filter of the inventory ledger.
#[derive(InputObject, Default)]
pub struct LedgerEntryFilter {
    /// Only entries of this SKU.
    pub sku: Option<String>,
    /// Only entries of this warehouse.
    pub warehouse_id: Option<ID>,
    /// Only entries of this kind.
    pub kind: Option<LedgerKind>,
    /// Only entries with this reference (order, shipment, transfer or replenishment).
    pub reference: Option<String>,
    /// Only entries made at or after this instant.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only entries made before this instant.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

fn page_args(first: Option<i32>, after: Option<String>, last: Option<i32>, before: Option<String>) -> PageArgs {
    PageArgs { first, after, last, before }
}

/// Queries of channels, warehouses, products, SKUs, stock and the inventory ledger.
#[Object]
impl InventoryQuery {
    /// Any entity by its global id; null when it does not exist.
    async fn node(&self, ctx: &Context<'_>, #[graphql(desc = "A global id.")] id: ID) -> async_graphql::Result<Option<Node>> {
        Ok(load_nodes(ctx, std::slice::from_ref(&id)).await?.pop().flatten())
    }

    /// Entities by global id, in the order given; null where one does not exist.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, at most 500.")] ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > super::connection::MAX_PAGE_SIZE as usize {
            return Err(Error::invalid("ids", format!("{} ids in one request, above the limit of {}", ids.len(), super::connection::MAX_PAGE_SIZE)).into());
        }
        Ok(load_nodes(ctx, &ids).await?)
    }

    /// Sales channels, by id.
    async fn channels(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Number of channels from the start, at most 500.")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Number of channels from the end, at most 500.")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> async_graphql::Result<Page<Channel>> {
        let mut select = channel::Entity::find();
        if let ChannelScope::Only(ids) = access::visible_channels(ctx)? {
            select = select.filter(channel::Column::Id.is_in(ids.iter().copied()));
        }
        Ok(paginate(db(ctx).conn(), select, channel::Column::Id, |m| m.id, KeyOrder::Ascending, page_args(first, after, last, before), Channel).await?)
    }

    /// One channel by id or by external reference code (give exactly one); null when none
    /// matches.
    async fn channel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id.")] id: Option<ID>,
        #[graphql(desc = "External reference code.")] external_reference_code: Option<String>,
    ) -> async_graphql::Result<Option<Channel>> {
        let conn = db(ctx).conn();
        let found = match one_key(id, external_reference_code)? {
            Key::Id(id) => {
                let id = decode("id", NodeType::Channel, &id)?;
                channel::Entity::find_by_id(id).one(conn).await.map_err(Error::from)?
            }
            Key::Erc(code) => channels::find_channel_by_erc(conn, &code).await?,
        };
        // A channel outside the caller's channels looks like one that does not exist.
        let visible = access::visible_channels(ctx)?;
        Ok(found.filter(|channel| visible.contains(channel.id)).map(Channel))
    }

    /// Warehouses, by id.
    async fn warehouses(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<WarehouseFilter>,
        #[graphql(desc = "Number of warehouses from the start, at most 500.")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Number of warehouses from the end, at most 500.")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> async_graphql::Result<Page<Warehouse>> {
        let filter = filter.unwrap_or_default();
        let service_filter = warehouses::WarehouseFilter {
            active: filter.active,
            channel_id: filter.channel_id.as_ref().map(|id| decode("filter.channelId", NodeType::Channel, id)).transpose()?,
            search: filter.search,
        };
        let select = warehouses::select_warehouses(&service_filter);
        let page = paginate(db(ctx).conn(), select, warehouse::Column::Id, |m| m.id, KeyOrder::Ascending, page_args(first, after, last, before), Warehouse::from).await?;
        let listed: Vec<i64> = page.edges.iter().map(|edge| edge.node.0.id).collect();
        super::prefetch::warehouses(ctx, ctx.look_ahead().field("edges").field("node"), listed.iter().copied()).await?;
        super::prefetch::warehouses(ctx, ctx.look_ahead().field("nodes"), listed.iter().copied()).await?;
        Ok(page)
    }

    /// One warehouse by id or by external reference code (give exactly one); null when none
    /// matches.
    async fn warehouse(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id.")] id: Option<ID>,
        #[graphql(desc = "External reference code.")] external_reference_code: Option<String>,
    ) -> async_graphql::Result<Option<Warehouse>> {
        let conn = db(ctx).conn();
        let found = match one_key(id, external_reference_code)? {
            Key::Id(id) => {
                let id = decode("id", NodeType::Warehouse, &id)?;
                warehouse::Entity::find_by_id(id).one(conn).await.map_err(Error::from)?
            }
            Key::Erc(code) => warehouses::find_warehouse_by_erc(conn, &code).await?,
        };
        Ok(found.map(Warehouse::from))
    }

    /// Products, by id.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<ProductFilter>,
        #[graphql(desc = "Number of products from the start, at most 500.")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Number of products from the end, at most 500.")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> async_graphql::Result<Page<Product>> {
        let filter = filter.unwrap_or_default();
        let select = catalog::select_products(filter.search.as_deref());
        Ok(paginate(db(ctx).conn(), select, product::Column::Id, |m| m.id, KeyOrder::Ascending, page_args(first, after, last, before), Product).await?)
    }

    /// One product by id or by external reference code (give exactly one); null when none
    /// matches.
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id.")] id: Option<ID>,
        #[graphql(desc = "External reference code.")] external_reference_code: Option<String>,
    ) -> async_graphql::Result<Option<Product>> {
        let conn = db(ctx).conn();
        let found = match one_key(id, external_reference_code)? {
            Key::Id(id) => {
                let id = decode("id", NodeType::Product, &id)?;
                product::Entity::find_by_id(id).one(conn).await.map_err(Error::from)?
            }
            Key::Erc(code) => catalog::find_product_by_erc(conn, &code).await?,
        };
        Ok(found.map(Product))
    }

    /// One SKU by code, ignoring letter case and surrounding spaces; null when none matches.
    async fn sku(&self, ctx: &Context<'_>, #[graphql(desc = "The SKU code.")] code: String) -> async_graphql::Result<Option<Sku>> {
        let code = SkuCode::parse("code", &code)?;
        Ok(catalog::find_sku_or_none(db(ctx).conn(), &code).await?.map(Sku))
    }

    /// SKUs, by id.
    async fn skus(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only SKUs with these codes, at most 1000.")] codes: Option<Vec<String>>,
        #[graphql(desc = "Narrows the list.")] filter: Option<SkuFilter>,
        #[graphql(desc = "Number of SKUs from the start, at most 500.")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Number of SKUs from the end, at most 500.")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> async_graphql::Result<Page<Sku>> {
        let filter = filter.unwrap_or_default();
        if filter.low_stock.is_some() {
            // Whether a SKU is low tells its stock level.
            Restricted::StockQuantities.check(ctx).await?;
        }
        let mut select = catalog::select_skus(db(ctx).backend(), filter.search.as_deref(), filter.low_stock);
        if let Some(codes) = codes {
            let keys = parse_codes("codes", &codes)?.iter().map(SkuCode::key).collect::<Vec<_>>();
            select = select.filter(sku::Column::CodeKey.is_in(keys));
        }
        let page = paginate(db(ctx).conn(), select, sku::Column::Id, |m| m.id, KeyOrder::Ascending, page_args(first, after, last, before), Sku).await?;
        let listed: Vec<sku::Model> = page.edges.iter().map(|edge| edge.node.0.clone()).collect();
        let node = ctx.look_ahead().field("edges").field("node");
        super::prefetch::skus(ctx, node, &listed).await?;
        let nodes = ctx.look_ahead().field("nodes");
        super::prefetch::skus(ctx, nodes, &listed).await?;
        Ok(page)
    }

    /// Stock of many SKUs in one request, in the order asked. An unknown SKU gives null at its
    /// position and a `NOT_FOUND` error naming it; the others still resolve. The scope is the
    /// channel's active linked warehouses, the given warehouses, both (their intersection), or
    /// every active warehouse when neither is given.
    async fn stock(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "SKU codes, at most 1000.")] skus: Vec<String>,
        #[graphql(desc = "Count only this channel's active linked warehouses.")] channel_id: Option<ID>,
        #[graphql(desc = "Count only these warehouses, active or not.")] warehouse_ids: Option<Vec<ID>>,
    ) -> async_graphql::Result<Vec<Option<StockSummary>>> {
        let codes = parse_codes("skus", &skus)?;
        let scope_request = scope_request(channel_id.as_ref(), warehouse_ids.as_deref())?;
        let conn = db(ctx).conn();
        let scope = stock::resolve_scope(conn, &scope_request).await?;
        let found = catalog::find_skus(conn, &codes).await?;
        let summaries = stock::summarize(conn, &found, &scope).await?;

        let selection = ctx.look_ahead();
        super::prefetch::warehouses(ctx, selection.field("byWarehouse").field("warehouse"), scope.warehouses.iter().map(|w| w.id)).await?;
        super::prefetch::skus(ctx, selection.field("sku"), &found).await?;
        super::prefetch::stock_items(ctx, selection, summaries.iter()).await?;

        let mut by_key: std::collections::HashMap<String, stock::StockSummary> =
            summaries.into_iter().map(|s| (s.sku.code_key.clone(), s)).collect();
        let mut first_position = std::collections::HashMap::new();
        let mut list: Vec<Option<StockSummary>> = Vec::with_capacity(codes.len());
        for (index, code) in codes.iter().enumerate() {
            let key = code.key();
            if let Some(summary) = by_key.remove(&key) {
                first_position.insert(key, index);
                list.push(Some(StockSummary(summary)));
            } else if let Some(&first) = first_position.get(&key) {
                // A code asked twice gets the same summary twice.
                let again = list[first].as_ref().map(|summary| StockSummary(summary.0.clone()));
                list.push(again);
            } else {
                let err = Error::not_found(format!("skus.{index}"), format!("SKU {:?} not found", code.as_str()));
                add_error_at(ctx, index, err);
                list.push(None);
            }
        }
        Ok(list)
    }

    /// The inventory ledger, newest first.
    async fn inventory_ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<LedgerEntryFilter>,
        #[graphql(desc = "Number of entries from the newest, at most 500.")] first: Option<i32>,
        #[graphql(desc = "Cursor after which the page starts.")] after: Option<String>,
        #[graphql(desc = "Number of entries from the oldest, at most 500.")] last: Option<i32>,
        #[graphql(desc = "Cursor before which the page ends.")] before: Option<String>,
    ) -> async_graphql::Result<Page<InventoryLedgerEntry>> {
        let filter = filter.unwrap_or_default();
        let conn = db(ctx).conn();
        let sku_ids = match &filter.sku {
            Some(code) => {
                let code = SkuCode::parse("filter.sku", code)?;
                Some(catalog::find_sku_or_none(conn, &code).await?.map(|s| vec![s.id]).unwrap_or_default())
            }
            None => None,
        };
        let service_filter = LedgerFilter {
            sku_ids,
            warehouse_id: filter.warehouse_id.as_ref().map(|id| decode("filter.warehouseId", NodeType::Warehouse, id)).transpose()?,
            kind: filter.kind,
            reference: filter.reference,
            since: filter.since,
            until: filter.until,
        };
        let select = ledger::select(&service_filter);
        Ok(paginate(conn, select, inventory_ledger::Column::Id, |m| m.id, KeyOrder::Descending, page_args(first, after, last, before), InventoryLedgerEntry).await?)
    }
}

/// The items page of a warehouse, for `Warehouse.items`.
pub async fn warehouse_items(ctx: &Context<'_>, warehouse_id: i64, args: PageArgs) -> async_graphql::Result<Page<WarehouseItem>> {
    let select = warehouse_item::Entity::find().filter(warehouse_item::Column::WarehouseId.eq(warehouse_id));
    Ok(paginate(db(ctx).conn(), select, warehouse_item::Column::Id, |m| m.id, KeyOrder::Ascending, args, WarehouseItem).await?)
}

/// Reports an error for one position of a list field, next to a null at that position.
pub(super) fn add_error_at(ctx: &Context<'_>, index: usize, err: Error) {
    let mut server_error = async_graphql::Error::from(err).into_server_error(ctx.item.pos);
    server_error.path = vec![
        async_graphql::PathSegment::Field(ctx.item.node.response_key().node.to_string()),
        async_graphql::PathSegment::Index(index),
    ];
    ctx.add_error(server_error);
}

enum Key {
    Id(ID),
    Erc(String),
}

fn one_key(id: Option<ID>, external_reference_code: Option<String>) -> Result<Key, Error> {
    match (id, external_reference_code) {
        (Some(id), None) => Ok(Key::Id(id)),
        (None, Some(code)) => Ok(Key::Erc(code)),
        _ => Err(Error::invalid("id", "give exactly one of id and externalReferenceCode")),
    }
}

pub(super) fn parse_codes(field: &str, codes: &[String]) -> Result<Vec<SkuCode>, Error> {
    if codes.len() > MAX_SKUS_PER_REQUEST {
        return Err(Error::invalid(
            field,
            format!("{} SKUs in one request, above the limit of {MAX_SKUS_PER_REQUEST}: split the request", codes.len()),
        ));
    }
    codes
        .iter()
        .enumerate()
        .map(|(index, code)| SkuCode::parse(&format!("{field}.{index}"), code))
        .collect()
}

/// Loads entities by global id with one statement per entity type, in the order given.
async fn load_nodes(ctx: &Context<'_>, ids: &[ID]) -> Result<Vec<Option<Node>>, Error> {
    let conn = db(ctx).conn();
    let decoded = ids
        .iter()
        .enumerate()
        .map(|(index, id)| decode_any(if ids.len() == 1 { "id" } else { "ids" }, id).map_err(|err| if ids.len() == 1 { err } else { err.with_field(&format!("ids.{index}")) }))
        .collect::<Result<Vec<_>, _>>()?;
    let keys_of = |wanted: NodeType| -> Vec<i64> { decoded.iter().filter(|(t, _)| *t == wanted).map(|(_, key)| *key).collect() };
    for (index, (node_type, _)) in decoded.iter().enumerate() {
        let field = if ids.len() == 1 { "id".to_owned() } else { format!("ids.{index}") };
        access::check_node_type(ctx, &field, *node_type)?;
    }
    let visible = access::visible_channels(ctx)?;

    let mut found: std::collections::HashMap<(NodeType, i64), Node> = std::collections::HashMap::new();
    macro_rules! load_type {
        ($node_type:expr, $entity:path, $column:expr, $wrap:expr) => {
            let keys = keys_of($node_type);
            if !keys.is_empty() {
                for model in <$entity>::find().filter($column.is_in(keys)).all(conn).await? {
                    found.insert(($node_type, model.id), $wrap(model));
                }
            }
        };
    }
    load_type!(NodeType::Channel, channel::Entity, channel::Column::Id, |m| Node::Channel(Channel(m)));
    load_type!(NodeType::Warehouse, warehouse::Entity, warehouse::Column::Id, |m| Node::Warehouse(Warehouse::from(m)));
    load_type!(NodeType::Product, product::Entity, product::Column::Id, |m| Node::Product(Product(m)));
    load_type!(NodeType::Sku, sku::Entity, sku::Column::Id, |m| Node::Sku(Sku(m)));
    load_type!(NodeType::WarehouseItem, warehouse_item::Entity, warehouse_item::Column::Id, |m| Node::WarehouseItem(WarehouseItem(m)));
    load_type!(NodeType::InventoryLedgerEntry, inventory_ledger::Entity, inventory_ledger::Column::Id, |m| Node::InventoryLedgerEntry(InventoryLedgerEntry(m)));
    load_type!(NodeType::Booking, entity::booking::Entity, entity::booking::Column::Id, |m| Node::Booking(Booking(m)));
    load_type!(NodeType::Shipment, entity::shipment::Entity, entity::shipment::Column::Id, |m| Node::Shipment(Shipment(m)));
    load_type!(NodeType::AvailabilityEstimate, entity::availability_estimate::Entity, entity::availability_estimate::Column::Id, |m| Node::AvailabilityEstimate(AvailabilityEstimate(m)));
    load_type!(NodeType::ReplenishmentItem, entity::replenishment_item::Entity, entity::replenishment_item::Column::Id, |m| Node::ReplenishmentItem(ReplenishmentItem(m)));

    // A channel outside the caller's channels looks like one that does not exist.
    found.retain(|(node_type, id), _| *node_type != NodeType::Channel || visible.contains(*id));

    // An id asked twice gets the entity twice.
    Ok(decoded
        .iter()
        .map(|key| found.get(key).map(clone_node))
        .collect())
}

fn clone_node(node: &Node) -> Node {
    match node {
        Node::Channel(x) => Node::Channel(Channel(x.0.clone())),
        Node::Warehouse(x) => Node::Warehouse(Warehouse(x.0.clone())),
        Node::Product(x) => Node::Product(Product(x.0.clone())),
        Node::Sku(x) => Node::Sku(Sku(x.0.clone())),
        Node::WarehouseItem(x) => Node::WarehouseItem(WarehouseItem(x.0.clone())),
        Node::InventoryLedgerEntry(x) => Node::InventoryLedgerEntry(InventoryLedgerEntry(x.0.clone())),
        Node::Booking(x) => Node::Booking(Booking(x.0.clone())),
        Node::Shipment(x) => Node::Shipment(Shipment(x.0.clone())),
        Node::AvailabilityEstimate(x) => Node::AvailabilityEstimate(AvailabilityEstimate(x.0.clone())),
        Node::ReplenishmentItem(x) => Node::ReplenishmentItem(ReplenishmentItem(x.0.clone())),
    }
}
