//! A small demo inventory for `serve --demo`, so a new user has something to query.
//!
//! Two channels share four warehouses (one of them inactive), and twelve products have three
//! SKUs each. The quantities follow a fixed pattern, so the same data appears on every run:
//! most SKUs are well stocked, some sit at or below their low-stock threshold, and some are out
//! of stock everywhere. Everything is written through the services, ledger rows included.

use entity::{channel, warehouse};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

use crate::{
    db::Db,
    domain::{Coordinates, CountryCode, ExternalReferenceCode, Name, SkuCode},
    error::Result,
    service::{
        ChangeContext,
        activities::ActivityRegistry,
        catalog::{self, ConfigurationChanges, NewProduct, NewSku},
        channels::{self, NewChannel},
        inventory::{self, SetInventory},
        warehouses::{self, Address, NewWarehouse},
    },
};

/// A demo warehouse: code, name, city, country, coordinates, active, priority, channels.
struct DemoWarehouse {
    code: &'static str,
    name: &'static str,
    city: &'static str,
    country: &'static str,
    coordinates: (f64, f64),
    active: bool,
    channels: &'static [usize],
}

const CHANNELS: [(&str, &str); 2] = [("web-store", "Web Store"), ("b2b-portal", "B2B Portal")];

const WAREHOUSES: [DemoWarehouse; 4] = [
    DemoWarehouse { code: "berlin", name: "Berlin", city: "Berlin", country: "DE", coordinates: (52.52, 13.405), active: true, channels: &[0] },
    DemoWarehouse { code: "milan", name: "Milan", city: "Milan", country: "IT", coordinates: (45.4642, 9.19), active: true, channels: &[0, 1] },
    DemoWarehouse { code: "chicago", name: "Chicago", city: "Chicago", country: "US", coordinates: (41.8781, -87.6298), active: true, channels: &[0, 1] },
    DemoWarehouse { code: "austin", name: "Austin (opening soon)", city: "Austin", country: "US", coordinates: (30.2672, -97.7431), active: false, channels: &[1] },
];

const PRODUCTS: [&str; 12] = [
    "Brake Pads", "Oil Filter", "Spark Plug", "Wiper Blade", "Air Filter", "Headlight Bulb",
    "Timing Belt", "Radiator Cap", "Fuel Pump", "Battery Terminal", "Cabin Filter", "Brake Disc",
];

const VARIANTS: [&str; 3] = ["S", "M", "L"];

/// Writes the demo inventory when the database holds no channel and no warehouse; otherwise
/// leaves it untouched, so restarting with `--demo` never duplicates or overwrites data.
pub async fn fill_if_empty(db: &Db) -> Result<()> {
    let conn = db.conn();
    let existing = channel::Entity::find().count(conn).await? + warehouse::Entity::find().count(conn).await?;
    if existing > 0 {
        tracing::info!("database already has data; demo inventory not written");
        return Ok(());
    }
    db.write(|txn| {
        let activities = db.activities();
        Box::pin(async move { write_demo(txn, &activities).await })
    })
    .await?;
    tracing::info!(
        channels = CHANNELS.len(),
        warehouses = WAREHOUSES.len(),
        skus = PRODUCTS.len() * VARIANTS.len(),
        "demo inventory written"
    );
    Ok(())
}

async fn write_demo(conn: &impl ConnectionTrait, activities: &ActivityRegistry) -> Result<()> {
    let context = ChangeContext { reason: Some("demo inventory".to_owned()), ..ChangeContext::by("demo") };

    let mut channel_ids = Vec::new();
    for (code, name) in CHANNELS {
        let channel = channels::insert_channel(conn, &NewChannel {
            name: Name::parse("name", name)?,
            external_reference_code: Some(ExternalReferenceCode::parse("externalReferenceCode", code)?),
            active: true,
        })
        .await?;
        channel_ids.push(channel.id);
    }

    let mut warehouse_ids = Vec::new();
    for (priority, demo) in WAREHOUSES.iter().enumerate() {
        let warehouse = warehouses::insert_warehouse(conn, &NewWarehouse {
            name: Name::parse("name", demo.name)?,
            external_reference_code: Some(ExternalReferenceCode::parse("externalReferenceCode", demo.code)?),
            description: None,
            active: demo.active,
            address: Address {
                city: Some(demo.city.to_owned()),
                country_code: Some(CountryCode::parse("countryCode", demo.country)?),
                ..Default::default()
            },
            coordinates: Coordinates::parse(Some(demo.coordinates.0), Some(demo.coordinates.1))?,
            priority: priority as i32,
        })
        .await?;
        for channel in demo.channels {
            warehouses::insert_link(conn, warehouse.id, channel_ids[*channel]).await?;
        }
        warehouse_ids.push(warehouse.id);
    }

    for (product_index, name) in PRODUCTS.iter().enumerate() {
        let product = catalog::insert_product(conn, &NewProduct {
            name: Name::parse("name", name)?,
            external_reference_code: Some(ExternalReferenceCode::parse("externalReferenceCode", &format!("DEMO-{:02}", product_index + 1))?),
        })
        .await?;
        catalog::store_inventory_configuration(conn, activities, product.id, settings_for(product_index)).await?;

        for (variant_index, variant) in VARIANTS.iter().enumerate() {
            let code = SkuCode::parse("code", &format!("DEMO-{:02}-{variant}", product_index + 1))?;
            catalog::insert_sku(conn, &NewSku { product_id: product.id, code: code.clone(), published: true, purchasable: true }).await?;
            for (warehouse_index, warehouse_id) in warehouse_ids.iter().enumerate() {
                let on_hand = demo_quantity(product_index, variant_index, warehouse_index);
                let request = SetInventory {
                    sku: code.clone(),
                    warehouse_id: *warehouse_id,
                    on_hand: Some(on_hand),
                    expected_on_hand: None,
                    safety_stock: Some(if on_hand >= 20 { 2 } else { 0 }),
                    low_stock_threshold: None,
                };
                inventory::apply_set(conn, &request, &context).await?;
            }
        }
    }
    Ok(())
}

/// Inventory settings: a threshold of 5 everywhere, back orders on every fourth product, and
/// the display flags on for most products.
fn settings_for(product_index: usize) -> ConfigurationChanges {
    ConfigurationChanges {
        min_stock_quantity: Some(5),
        allow_back_orders: Some(product_index % 4 == 3),
        display_availability: Some(product_index % 3 != 2),
        display_stock_quantity: Some(product_index.is_multiple_of(2)),
        ..Default::default()
    }
}

/// On hand of one SKU in one warehouse. Products 5 and 11 are out of stock everywhere; the M
/// variant of products 2 and 8 has 2 units in one warehouse only, below the threshold of 5.
fn demo_quantity(product_index: usize, variant_index: usize, warehouse_index: usize) -> i64 {
    if product_index == 5 || product_index == 11 {
        return 0;
    }
    if variant_index == 1 && (product_index == 2 || product_index == 8) {
        return if warehouse_index == 1 { 2 } else { 0 };
    }
    let base = [40, 12, 75, 30][warehouse_index];
    base + (product_index as i64 * 7 + variant_index as i64 * 13) % 25
}
