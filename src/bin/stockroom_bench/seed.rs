//! The benchmark's data set, written through the library's services so every row, ledger
//! entries included, is what the API would have written.
//!
//! Two channels, both linked to all 20 active warehouses (priorities 1 to 20), so a channel's
//! stock of one SKU spans 20 warehouses. 1,000 SKUs `SKU-00001` to `SKU-01000`, ten per
//! product, each stocked in every warehouse. `SKU-01000` has only a few units per warehouse,
//! so the sell-out check can book it to zero.

use std::time::Instant;

use sea_orm::{ConnectionTrait, DatabaseBackend};
use stockroom::{
    db::Db,
    domain::{Coordinates, ExternalReferenceCode, Name, SkuCode},
    service::{
        ChangeContext,
        catalog::{self, NewProduct, NewSku},
        channels::{self, NewChannel},
        inventory::{self, BulkErrorPolicy, MAX_BULK_ITEMS, SetInventory},
        warehouses::{self, Address, NewWarehouse},
    },
};

/// Number of warehouses, all active and linked to both channels.
pub const WAREHOUSES: usize = 20;
/// Number of SKUs.
pub const SKUS: usize = 1000;
const SKUS_PER_PRODUCT: usize = 10;
/// Safety stock of every item except the sell-out SKU's.
const SAFETY_STOCK: i64 = 5;
/// On hand of the sell-out SKU in each warehouse; it has no safety stock.
pub const SELL_OUT_UNITS_PER_WAREHOUSE: i64 = 5;

/// Ids and codes of the seeded data that the measurements need.
pub struct DataSet {
    /// The channel that every measurement reads and books in.
    pub channel_id: i64,
    /// SKU codes in order, `SKU-00001` first.
    pub sku_codes: Vec<String>,
    /// Seconds spent writing the data set.
    pub seconds: f64,
}

impl DataSet {
    /// Returns the SKU every client books in the hot-SKU run.
    pub fn hot_sku(&self) -> &str {
        &self.sku_codes[0]
    }

    /// Returns the SKU with few units, booked to zero by the sell-out check.
    pub fn sell_out_sku(&self) -> &str {
        &self.sku_codes[SKUS - 1]
    }

    /// Returns the SKUs the random-SKU run picks from: every SKU but the hot and the sell-out one.
    pub fn random_skus(&self) -> &[String] {
        &self.sku_codes[1..SKUS - 1]
    }
}

/// Formats the code of the SKU at `index`, counting from 0.
pub fn sku_code(index: usize) -> String {
    format!("SKU-{:05}", index + 1)
}

/// Writes the data set into an empty, migrated database.
pub async fn seed(db: &Db) -> anyhow::Result<DataSet> {
    let started = Instant::now();
    let context = ChangeContext { reason: Some("benchmark data set".to_owned()), ..ChangeContext::by("stockroom-bench") };

    let (channel_ids, warehouse_ids) = db
        .write(|txn| Box::pin(async move { write_catalog(txn).await }))
        .await
        .map_err(service_error)?;

    // Stock goes in through the same bulk service as `bulkSetInventory`, at most
    // MAX_BULK_ITEMS items (one transaction) per call.
    let sku_codes: Vec<String> = (0..SKUS).map(sku_code).collect();
    let mut items = Vec::with_capacity(SKUS * WAREHOUSES);
    for (sku_index, code) in sku_codes.iter().enumerate() {
        for (warehouse_index, warehouse_id) in warehouse_ids.iter().enumerate() {
            items.push(stock_item(code, sku_index, *warehouse_id, warehouse_index)?);
        }
    }
    for chunk in items.chunks(MAX_BULK_ITEMS) {
        inventory::bulk_set_inventory(db, chunk.to_vec(), BulkErrorPolicy::RejectAll, &context)
            .await
            .map_err(service_error)?;
    }

    // PostgreSQL's autovacuum would gather statistics on the new rows within a minute or so.
    // Until then the planner guesses, and in one run it read all 20,000 items for a 100-SKU
    // page. Analyzing now gives every run the same, realistic plans. SQLite stays as the
    // server leaves it, without statistics.
    if db.backend() == DatabaseBackend::Postgres {
        db.conn().execute_unprepared("ANALYZE").await?;
    }
    Ok(DataSet { channel_id: channel_ids[0], sku_codes, seconds: started.elapsed().as_secs_f64() })
}

/// Inserts the channels, warehouses, links, products and SKUs in one transaction.
async fn write_catalog(conn: &sea_orm::DatabaseTransaction) -> stockroom::error::Result<(Vec<i64>, Vec<i64>)> {
    let mut channel_ids = Vec::new();
    for (code, name) in [("bench-web", "Benchmark Web Store"), ("bench-b2b", "Benchmark B2B Portal")] {
        let channel = channels::insert_channel(conn, &NewChannel {
            name: Name::parse("name", name)?,
            external_reference_code: Some(ExternalReferenceCode::parse("externalReferenceCode", code)?),
            active: true,
        })
        .await?;
        channel_ids.push(channel.id);
    }

    let mut warehouse_ids = Vec::new();
    for index in 0..WAREHOUSES {
        let number = index + 1;
        let warehouse = warehouses::insert_warehouse(conn, &NewWarehouse {
            name: Name::parse("name", &format!("Benchmark Warehouse {number:02}"))?,
            external_reference_code: Some(ExternalReferenceCode::parse("externalReferenceCode", &format!("bench-wh-{number:02}"))?),
            description: None,
            active: true,
            address: Address::default(),
            // Spread over Europe, so NEAREST would have distances to compare.
            coordinates: Coordinates::parse(Some(40.0 + index as f64 * 0.5), Some(-5.0 + index as f64))?,
            priority: number as i32,
        })
        .await?;
        for channel_id in &channel_ids {
            warehouses::insert_link(conn, warehouse.id, *channel_id).await?;
        }
        warehouse_ids.push(warehouse.id);
    }

    for product_index in 0..SKUS / SKUS_PER_PRODUCT {
        let number = product_index + 1;
        let product = catalog::insert_product(conn, &NewProduct {
            name: Name::parse("name", &format!("Benchmark Product {number:03}"))?,
            external_reference_code: Some(ExternalReferenceCode::parse("externalReferenceCode", &format!("bench-product-{number:03}"))?),
        })
        .await?;
        for variant in 0..SKUS_PER_PRODUCT {
            let code = SkuCode::parse("code", &sku_code(product_index * SKUS_PER_PRODUCT + variant))?;
            catalog::insert_sku(conn, &NewSku { product_id: product.id, code, published: true, purchasable: true }).await?;
        }
    }
    Ok((channel_ids, warehouse_ids))
}

/// Builds the stock of one SKU in one warehouse: thousands of units (varied so sums are not
/// all alike), except the sell-out SKU's few units.
fn stock_item(code: &str, sku_index: usize, warehouse_id: i64, warehouse_index: usize) -> anyhow::Result<SetInventory> {
    let (on_hand, safety_stock) = if sku_index == SKUS - 1 {
        (SELL_OUT_UNITS_PER_WAREHOUSE, 0)
    } else {
        (10_000 + ((sku_index * 7 + warehouse_index * 13) % 500) as i64, SAFETY_STOCK)
    };
    Ok(SetInventory {
        sku: SkuCode::parse("sku", code).map_err(service_error)?,
        warehouse_id,
        on_hand: Some(on_hand),
        expected_on_hand: None,
        safety_stock: Some(safety_stock),
        low_stock_threshold: None,
    })
}

/// Turns a service error, which has no `Display` on purpose, into an `anyhow` error.
pub fn service_error(err: stockroom::error::Error) -> anyhow::Error {
    anyhow::anyhow!(err.message())
}
