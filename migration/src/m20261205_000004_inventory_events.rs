//! The durable inventory event log and the watch state that detects low-stock crossings.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per SKU and scope (the company, a channel or a warehouse): the quantities and
        // low-stock state last reported, so each crossing is reported once.
        manager
            .create_table(
                Table::create()
                    .table("stock_watch")
                    .col(big_pk_auto("id"))
                    .col(big_integer("sku_id"))
                    .col(string_len("scope", 16))
                    // 0 for the company scope, else the channel's or warehouse's id.
                    .col(big_integer("scope_id"))
                    .col(big_integer("on_hand"))
                    .col(big_integer("safety_stock"))
                    .col(big_integer("booked"))
                    .col(big_integer("available"))
                    .col(big_integer_null("threshold"))
                    .col(boolean("low"))
                    .col(boolean("out_of_stock"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("stock_watch", "sku_id")
                            .to("sku", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_stock_watch_scope")
                    .table("stock_watch")
                    .col("sku_id")
                    .col("scope")
                    .col("scope_id")
                    .unique()
                    .to_owned(),
            )
            .await?;

        // Events keep the SKU code and no foreign keys, like the ledger: they outlive what
        // they describe.
        manager
            .create_table(
                Table::create()
                    .table("inventory_event")
                    .col(big_pk_auto("sequence"))
                    .col(string_len("kind", 32))
                    .col(string_len("scope", 16))
                    .col(big_integer("sku_id"))
                    .col(string("sku_code"))
                    .col(big_integer_null("warehouse_id"))
                    .col(big_integer_null("channel_id"))
                    .col(big_integer("on_hand"))
                    .col(big_integer("safety_stock"))
                    .col(big_integer("booked"))
                    .col(big_integer_null("available_before"))
                    .col(big_integer("available_after"))
                    .col(big_integer_null("threshold"))
                    .col(string_null("activity_key"))
                    .col(string_len_null("activity_status", 16))
                    .col(text_null("activity_error"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_inventory_event_occurred_at")
                    .table("inventory_event")
                    .col("occurred_at")
                    .to_owned(),
            )
            .await?;

        // The highest sequence removed by the retention policy, so a replay that asks for
        // removed events is told so instead of silently starting later.
        manager
            .create_table(
                Table::create()
                    .table("inventory_event_log")
                    .col(integer("id").primary_key())
                    .col(big_integer("pruned_through"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("inventory_event_log")
                    .columns(["id", "pruned_through"])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["inventory_event_log", "inventory_event", "stock_watch"] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
