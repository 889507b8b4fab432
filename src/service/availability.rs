//! What a storefront shows for a SKU in a channel: a status, the quantity it may display, and
//! when not available, the product's estimate with the first date stock is expected back.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{availability_estimate, product, sku};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{
    catalog, replenishments,
    stock::{self, ScopeRequest},
};
use crate::error::Result;

/// A SKU's availability status in a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum AvailabilityStatus {
    /// The channel's available quantity is above the low-stock threshold.
    Available,
    /// At or below the threshold, and back orders are off.
    Unavailable,
    /// At or below the threshold, but the product allows back orders.
    Backorderable,
}

/// The availability of one SKU in one channel, with the display flags applied.
#[derive(Clone, Debug)]
pub struct Availability {
    pub sku: sku::Model,
    /// The status, whether or not the product lets storefronts display it.
    pub status: AvailabilityStatus,
    pub display_availability: bool,
    pub display_stock_quantity: bool,
    /// The channel's available quantity (not floored with back orders).
    pub available: i64,
    /// The product's estimate, when the SKU is not available and the product has one.
    pub estimate: Option<availability_estimate::Model>,
    /// When not available: the first date on which open replenishments bring the available
    /// quantity above the threshold; `None` when they never do.
    pub expected_on: Option<NaiveDate>,
}

/// The first date on which `incoming` (date, warehouse, units), received in date order into
/// each warehouse's available quantity (`available` by warehouse id), takes the channel's
/// available quantity above `threshold`. The channel's quantity floors each warehouse at zero
/// unless `back_orders`, as everywhere else, so units arriving in a warehouse in deficit first
/// fill the deficit. A date before `today` counts as `today`, since the stock is overdue but
/// still expected.
pub fn expected_on(
    mut available: HashMap<i64, i64>,
    threshold: i64,
    back_orders: bool,
    mut incoming: Vec<(NaiveDate, i64, i64)>,
    today: NaiveDate,
) -> Option<NaiveDate> {
    incoming.sort_by_key(|(date, warehouse, _)| (*date, *warehouse));
    let channel_total = |available: &HashMap<i64, i64>| -> i64 {
        available.values().map(|a| if back_orders { *a } else { (*a).max(0) }).sum()
    };
    for (date, warehouse, units) in incoming {
        *available.entry(warehouse).or_insert(0) += units;
        if channel_total(&available) > threshold {
            return Some(date.max(today));
        }
    }
    None
}

/// Computes the availability of `skus` in a channel in a fixed number of statements.
///
/// # Errors
/// `NOT_FOUND` for an unknown channel.
pub async fn availability(conn: &impl ConnectionTrait, skus: &[sku::Model], channel_id: i64, today: NaiveDate) -> Result<Vec<Availability>> {
    let scope = stock::resolve_scope(conn, &ScopeRequest { channel_id: Some(channel_id), warehouse_ids: None }).await?;
    let summaries = stock::summarize(conn, skus, &scope).await?;

    let sku_ids: Vec<i64> = skus.iter().map(|s| s.id).collect();
    let warehouse_ids: Vec<i64> = scope.warehouses.iter().map(|w| w.id).collect();
    let open = replenishments::open_items(conn, &sku_ids, &warehouse_ids).await?;
    let mut incoming: HashMap<i64, Vec<(NaiveDate, i64, i64)>> = HashMap::new();
    for item in &open {
        incoming.entry(item.sku_id).or_default().push((item.expected_on, item.warehouse_id, replenishments::remaining(item)));
    }

    let product_ids: Vec<i64> = skus.iter().map(|s| s.product_id).collect();
    let settings = catalog::inventory_configurations(conn, product_ids.iter().copied()).await?;
    let estimates = estimates_of(conn, &product_ids).await?;

    let mut result = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let product_settings = settings.get(&summary.sku.product_id).cloned().unwrap_or_default();
        let threshold = product_settings.min_stock_quantity;
        let status = if summary.available > threshold {
            AvailabilityStatus::Available
        } else if product_settings.allow_back_orders {
            AvailabilityStatus::Backorderable
        } else {
            AvailabilityStatus::Unavailable
        };
        let (estimate, expected) = if status == AvailabilityStatus::Available {
            (None, None)
        } else {
            let dates = incoming.remove(&summary.sku.id).unwrap_or_default();
            let by_warehouse: HashMap<i64, i64> = summary.by_warehouse.iter().map(|w| (w.warehouse.id, w.available())).collect();
            let back_orders = product_settings.allow_back_orders;
            (estimates.get(&summary.sku.product_id).cloned(), expected_on(by_warehouse, threshold, back_orders, dates, today))
        };
        result.push(Availability {
            status,
            display_availability: product_settings.display_availability,
            display_stock_quantity: product_settings.display_stock_quantity,
            available: summary.available,
            estimate,
            expected_on: expected,
            sku: summary.sku,
        });
    }
    Ok(result)
}

/// The estimate of each product that has one, keyed by product id.
async fn estimates_of(conn: &impl ConnectionTrait, product_ids: &[i64]) -> Result<HashMap<i64, availability_estimate::Model>> {
    let products = product::Entity::find()
        .filter(product::Column::Id.is_in(product_ids.iter().copied()))
        .filter(product::Column::AvailabilityEstimateId.is_not_null())
        .all(conn)
        .await?;
    let estimate_ids: Vec<i64> = products.iter().filter_map(|p| p.availability_estimate_id).collect();
    if estimate_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let estimates: HashMap<i64, availability_estimate::Model> = availability_estimate::Entity::find()
        .filter(availability_estimate::Column::Id.is_in(estimate_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    Ok(products
        .into_iter()
        .filter_map(|p| p.availability_estimate_id.and_then(|id| estimates.get(&id)).map(|e| (p.id, e.clone())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn stock(pairs: &[(i64, i64)]) -> HashMap<i64, i64> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn second_replenishment_crosses_threshold() {
        let incoming = vec![(date("2027-01-10"), 1, 3), (date("2027-01-05"), 1, 2)];
        assert_eq!(expected_on(stock(&[(1, 0)]), 4, false, incoming, date("2027-01-01")), Some(date("2027-01-10")));
    }

    #[test]
    fn equal_to_threshold_is_not_enough() {
        let incoming = vec![(date("2027-01-05"), 1, 5)];
        assert_eq!(expected_on(stock(&[(1, 0)]), 5, false, incoming, date("2027-01-01")), None);
    }

    #[test]
    fn overdue_counts_as_today() {
        let incoming = vec![(date("2026-12-01"), 1, 10)];
        assert_eq!(expected_on(stock(&[(1, 0)]), 5, false, incoming, date("2026-12-04")), Some(date("2026-12-04")));
    }

    #[test]
    fn nothing_incoming_gives_no_date() {
        assert_eq!(expected_on(stock(&[(1, 0)]), 0, false, Vec::new(), date("2026-12-04")), None);
    }

    #[test]
    fn deficit_is_filled_first() {
        // On hand 0 below a safety stock of 5: two units arriving leave the warehouse at -3.
        let incoming = vec![(date("2030-01-01"), 1, 2)];
        assert_eq!(expected_on(stock(&[(1, -5)]), 0, false, incoming, date("2026-12-04")), None);
    }
}
