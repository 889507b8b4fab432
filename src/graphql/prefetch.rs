//! Prefetching the relations a query selects under a list, in one batch per relation.
//!
//! A DataLoader batch leaves 1 ms after its first key, and a resolver walking a list of 500
//! items can still be registering keys then, so the statement count of a long list would depend
//! on timing. The list resolvers call these functions first: each reads the selection with
//! look-ahead and asks the request's loader for every key of the list at once. The loader
//! caches the results, so the item resolvers' own `load_one` calls run no statement.

use async_graphql::{Context, ID, Lookahead, SelectionField, Value};
use entity::sku;

use super::{
    loaders::{AppLoader, AvailabilityKey, EstimateId, ProductId, ProductSettings, StockKey, WarehouseChannels, WarehouseItemId},
    scope_request,
};
use crate::{error::Error, service::stock::StockSummary};

/// Prefetches what a selection of `Warehouse` fields needs for the warehouses of `warehouse_ids`.
pub async fn warehouses(ctx: &Context<'_>, selection: Lookahead<'_>, warehouse_ids: impl Iterator<Item = i64>) -> async_graphql::Result<()> {
    if selection.field("channels").exists() {
        let loader = ctx.data_unchecked::<AppLoader>();
        loader.load_many(warehouse_ids.map(WarehouseChannels)).await?;
    }
    Ok(())
}

/// Prefetches what a selection of `Sku` fields needs for `skus`: products, their settings and
/// estimates, and every `stock` and `availability` field with its own arguments.
pub async fn skus(ctx: &Context<'_>, selection: Lookahead<'_>, skus: &[sku::Model]) -> async_graphql::Result<()> {
    if skus.is_empty() {
        return Ok(());
    }
    let loader = ctx.data_unchecked::<AppLoader>();

    let product = selection.field("product");
    if product.exists() {
        let products = loader.load_many(skus.iter().map(|s| ProductId(s.product_id))).await?;
        if product.field("inventoryConfiguration").exists() {
            loader.load_many(skus.iter().map(|s| ProductSettings(s.product_id))).await?;
        }
        if product.field("availabilityEstimate").exists() {
            loader.load_many(products.values().filter_map(|p| p.availability_estimate_id).map(EstimateId)).await?;
        }
    }

    for field in fields_named(&selection, "stock") {
        let channel_id = id_argument(&field, "channelId")?;
        let warehouse_ids = id_list_argument(&field, "warehouseIds")?;
        let scope = scope_request(channel_id.as_ref(), warehouse_ids.as_deref())?;
        let summaries = loader.load_many(skus.iter().map(|sku| StockKey { sku: sku.clone(), scope: scope.clone() })).await?;
        stock_items(ctx, Lookahead::from(field), summaries.values()).await?;
    }

    for field in fields_named(&selection, "availability") {
        let Some(channel_id) = id_argument(&field, "channelId")? else { continue };
        let channel_id = crate::ids::decode("channelId", crate::ids::NodeType::Channel, &channel_id)?;
        loader.load_many(skus.iter().map(|sku| AvailabilityKey { sku: sku.clone(), channel_id })).await?;
    }
    Ok(())
}

/// Prefetches the whole warehouse items of `summaries` when the selection of `StockSummary`
/// fields asks for `byWarehouse { item }`, because the summaries hold only their quantities.
pub async fn stock_items<'s>(
    ctx: &Context<'_>,
    selection: Lookahead<'_>,
    summaries: impl Iterator<Item = &'s StockSummary>,
) -> async_graphql::Result<()> {
    if selection.field("byWarehouse").field("item").exists() {
        let mut item_ids = Vec::new();
        for summary in summaries {
            item_ids.extend(summary.by_warehouse.iter().map(|stock| WarehouseItemId(stock.item.id)));
        }
        ctx.data_unchecked::<AppLoader>().load_many(item_ids).await?;
    }
    Ok(())
}

/// Every selected field called `name`, aliases included.
fn fields_named<'a>(selection: &Lookahead<'a>, name: &str) -> Vec<SelectionField<'a>> {
    selection
        .selection_fields()
        .into_iter()
        .flat_map(|parent| parent.selection_set().collect::<Vec<_>>())
        .filter(|field| field.name() == name)
        .collect()
}

fn argument(field: &SelectionField<'_>, name: &str) -> async_graphql::Result<Option<Value>> {
    let arguments = field.arguments()?;
    Ok(arguments.into_iter().find(|(key, _)| key.as_str() == name).map(|(_, value)| value))
}

fn id_argument(field: &SelectionField<'_>, name: &str) -> async_graphql::Result<Option<ID>> {
    match argument(field, name)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(ID(text))),
        Some(Value::Number(number)) => Ok(Some(ID(number.to_string()))),
        Some(_) => Err(Error::invalid(name, format!("{name} must be an ID")).into()),
    }
}

fn id_list_argument(field: &SelectionField<'_>, name: &str) -> async_graphql::Result<Option<Vec<ID>>> {
    match argument(field, name)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::List(values)) => Ok(Some(
            values
                .into_iter()
                .map(|value| match value {
                    Value::String(text) => ID(text),
                    other => ID(other.to_string()),
                })
                .collect(),
        )),
        Some(Value::String(text)) => Ok(Some(vec![ID(text)])),
        Some(_) => Err(Error::invalid(name, format!("{name} must be a list of IDs")).into()),
    }
}
