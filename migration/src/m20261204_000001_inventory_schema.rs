//! The first inventory schema: channels, warehouses and their links, products, SKUs, inventory
//! configuration, availability estimates, warehouse items, bookings, the inventory ledger and
//! idempotency records.
//!
//! Rules that protect stored data are enforced by the database as well as by the services:
//! unique keys, non-negative quantities and coordinates within range.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The largest quantity any column may hold (one billion units).
const MAX_QUANTITY: i64 = 1_000_000_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_channels(manager).await?;
        create_warehouses(manager).await?;
        create_catalog(manager).await?;
        create_stock(manager).await?;
        create_bookings(manager).await?;
        create_ledger_and_idempotency(manager).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "idempotency_record",
            "inventory_ledger",
            "booking_line",
            "booking",
            "warehouse_item",
            "product_inventory_configuration",
            "sku",
            "product",
            "availability_estimate",
            "warehouse_channel",
            "warehouse",
            "channel",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

fn created_at() -> ColumnDef {
    timestamp_with_time_zone("created_at")
}

fn updated_at() -> ColumnDef {
    timestamp_with_time_zone("updated_at")
}

fn check(sql: &str) -> Expr {
    Expr::cust(sql.to_owned())
}

async fn create_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: &'static str,
    columns: &[&'static str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

async fn create_channels(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("channel")
                .col(big_pk_auto("id"))
                .col(string("name"))
                .col(string_null("external_reference_code"))
                .col(boolean("active"))
                .col(created_at())
                .col(updated_at())
                .check(check("length(name) BETWEEN 1 AND 255"))
                .to_owned(),
        )
        .await?;
    create_index(manager, "ux_channel_erc", "channel", &["external_reference_code"], true).await
}

async fn create_warehouses(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("warehouse")
                .col(big_pk_auto("id"))
                .col(string("name"))
                .col(string_null("external_reference_code"))
                .col(text_null("description"))
                .col(boolean("active"))
                .col(string_null("street1"))
                .col(string_null("street2"))
                .col(string_null("street3"))
                .col(string_null("city"))
                .col(string_null("zip"))
                .col(string_null("region_code"))
                .col(string_null("country_code"))
                .col(double_null("latitude"))
                .col(double_null("longitude"))
                .col(integer("priority"))
                .col(created_at())
                .col(updated_at())
                .check(check("length(name) BETWEEN 1 AND 255"))
                .check(check("latitude IS NULL OR latitude BETWEEN -90 AND 90"))
                .check(check("longitude IS NULL OR longitude BETWEEN -180 AND 180"))
                .check(check("(latitude IS NULL) = (longitude IS NULL)"))
                .to_owned(),
        )
        .await?;
    create_index(manager, "ux_warehouse_erc", "warehouse", &["external_reference_code"], true)
        .await?;

    manager
        .create_table(
            Table::create()
                .table("warehouse_channel")
                .col(big_pk_auto("id"))
                .col(big_integer("warehouse_id"))
                .col(big_integer("channel_id"))
                .col(created_at())
                .foreign_key(
                    ForeignKey::create()
                        .from("warehouse_channel", "warehouse_id")
                        .to("warehouse", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("warehouse_channel", "channel_id")
                        .to("channel", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    create_index(
        manager,
        "ux_warehouse_channel",
        "warehouse_channel",
        &["warehouse_id", "channel_id"],
        true,
    )
    .await?;
    create_index(manager, "ix_warehouse_channel_channel", "warehouse_channel", &["channel_id"], false)
        .await
}

async fn create_catalog(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("availability_estimate")
                .col(big_pk_auto("id"))
                .col(json_binary("title"))
                .col(integer("priority"))
                .col(created_at())
                .col(updated_at())
                .to_owned(),
        )
        .await?;

    manager
        .create_table(
            Table::create()
                .table("product")
                .col(big_pk_auto("id"))
                .col(string("name"))
                .col(string_null("external_reference_code"))
                .col(big_integer_null("availability_estimate_id"))
                .col(created_at())
                .col(updated_at())
                .check(check("length(name) BETWEEN 1 AND 255"))
                .foreign_key(
                    ForeignKey::create()
                        .from("product", "availability_estimate_id")
                        .to("availability_estimate", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
    create_index(manager, "ux_product_erc", "product", &["external_reference_code"], true).await?;
    create_index(manager, "ix_product_estimate", "product", &["availability_estimate_id"], false)
        .await?;

    manager
        .create_table(
            Table::create()
                .table("sku")
                .col(big_pk_auto("id"))
                .col(big_integer("product_id"))
                .col(string("code"))
                .col(string("code_key"))
                .col(boolean("published"))
                .col(boolean("purchasable"))
                .col(created_at())
                .col(updated_at())
                .check(check("length(code) BETWEEN 1 AND 255"))
                .foreign_key(
                    ForeignKey::create()
                        .from("sku", "product_id")
                        .to("product", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
    create_index(manager, "ux_sku_code_key", "sku", &["code_key"], true).await?;
    create_index(manager, "ix_sku_product", "sku", &["product_id"], false).await?;

    manager
        .create_table(
            Table::create()
                .table("product_inventory_configuration")
                .col(big_integer("product_id").primary_key())
                .col(big_integer("min_stock_quantity"))
                .col(string_null("low_stock_activity"))
                .col(boolean("allow_back_orders"))
                .col(boolean("display_availability"))
                .col(boolean("display_stock_quantity"))
                .col(big_integer("min_order_quantity"))
                .col(big_integer("max_order_quantity"))
                .col(big_integer("multiple_order_quantity"))
                .col(json_binary("allowed_order_quantities"))
                .col(updated_at())
                .check(check("min_stock_quantity >= 0"))
                .check(check("min_order_quantity > 0"))
                .check(check("max_order_quantity >= min_order_quantity"))
                .check(check("multiple_order_quantity > 0"))
                .foreign_key(
                    ForeignKey::create()
                        .from("product_inventory_configuration", "product_id")
                        .to("product", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
}

async fn create_stock(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("warehouse_item")
                .col(big_pk_auto("id"))
                .col(big_integer("warehouse_id"))
                .col(big_integer("sku_id"))
                .col(big_integer("on_hand"))
                .col(big_integer("safety_stock"))
                .col(big_integer("booked"))
                .col(big_integer_null("low_stock_threshold"))
                .col(big_integer("version"))
                .col(created_at())
                .col(updated_at())
                .check(check(&format!("on_hand BETWEEN 0 AND {MAX_QUANTITY}")))
                .check(check(&format!("safety_stock BETWEEN 0 AND {MAX_QUANTITY}")))
                .check(check("booked >= 0"))
                .check(check("low_stock_threshold IS NULL OR low_stock_threshold >= 0"))
                .foreign_key(
                    ForeignKey::create()
                        .from("warehouse_item", "warehouse_id")
                        .to("warehouse", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("warehouse_item", "sku_id")
                        .to("sku", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
    create_index(
        manager,
        "ux_warehouse_item",
        "warehouse_item",
        &["warehouse_id", "sku_id"],
        true,
    )
    .await?;
    create_index(manager, "ix_warehouse_item_sku", "warehouse_item", &["sku_id", "warehouse_id"], false)
        .await
}

async fn create_bookings(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("booking")
                .col(big_pk_auto("id"))
                .col(string("order_reference"))
                .col(big_integer("channel_id"))
                .col(string("status"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(created_at())
                .col(updated_at())
                .check(check("status IN ('ACTIVE', 'RELEASED', 'CONSUMED', 'EXPIRED')"))
                .foreign_key(
                    ForeignKey::create()
                        .from("booking", "channel_id")
                        .to("channel", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
    create_index(manager, "ix_booking_order", "booking", &["order_reference"], false).await?;
    create_index(manager, "ix_booking_channel_status", "booking", &["channel_id", "status"], false)
        .await?;
    create_index(manager, "ix_booking_status_expiry", "booking", &["status", "expires_at"], false)
        .await?;

    manager
        .create_table(
            Table::create()
                .table("booking_line")
                .col(big_pk_auto("id"))
                .col(big_integer("booking_id"))
                .col(integer("line_number"))
                .col(big_integer("sku_id"))
                .col(big_integer("warehouse_id"))
                .col(big_integer("quantity"))
                .col(big_integer("consumed_quantity"))
                .col(big_integer("released_quantity"))
                .check(check("quantity > 0"))
                .check(check("consumed_quantity >= 0 AND released_quantity >= 0"))
                .check(check("consumed_quantity + released_quantity <= quantity"))
                .foreign_key(
                    ForeignKey::create()
                        .from("booking_line", "booking_id")
                        .to("booking", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("booking_line", "sku_id")
                        .to("sku", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("booking_line", "warehouse_id")
                        .to("warehouse", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
    create_index(manager, "ix_booking_line_booking", "booking_line", &["booking_id"], false).await?;
    create_index(
        manager,
        "ix_booking_line_stock",
        "booking_line",
        &["warehouse_id", "sku_id"],
        false,
    )
    .await?;
    create_index(manager, "ix_booking_line_sku", "booking_line", &["sku_id"], false).await
}

async fn create_ledger_and_idempotency(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table("inventory_ledger")
                .col(big_pk_auto("id"))
                .col(big_integer("sku_id"))
                .col(big_integer("warehouse_id"))
                .col(string("kind"))
                .col(big_integer("on_hand_delta"))
                .col(big_integer("booked_delta"))
                .col(big_integer("on_hand_after"))
                .col(big_integer("booked_after"))
                .col(text_null("reason"))
                .col(string_null("reference"))
                .col(string_null("actor"))
                .col(created_at())
                .to_owned(),
        )
        .await?;
    create_index(
        manager,
        "ix_ledger_item",
        "inventory_ledger",
        &["sku_id", "warehouse_id"],
        false,
    )
    .await?;
    create_index(manager, "ix_ledger_warehouse", "inventory_ledger", &["warehouse_id"], false)
        .await?;
    create_index(manager, "ix_ledger_reference", "inventory_ledger", &["reference"], false).await?;
    create_index(manager, "ix_ledger_created", "inventory_ledger", &["created_at"], false).await?;

    manager
        .create_table(
            Table::create()
                .table("idempotency_record")
                .col(string("idempotency_key").primary_key())
                .col(string("operation"))
                .col(string("request_fingerprint"))
                .col(json_binary("response"))
                .col(created_at())
                .to_owned(),
        )
        .await
}
