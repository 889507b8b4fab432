//! Shipments: they consume booked stock from warehouses and can be cancelled once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("shipment")
                    .col(big_pk_auto("id"))
                    .col(big_integer("booking_id"))
                    .col(string("reference"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .check(Expr::cust("status IN ('SHIPPED', 'CANCELLED')"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("shipment", "booking_id")
                            .to("booking", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_shipment_booking").table("shipment").col("booking_id").to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("shipment_line")
                    .col(big_pk_auto("id"))
                    .col(big_integer("shipment_id"))
                    .col(big_integer("booking_line_id"))
                    .col(big_integer("sku_id"))
                    .col(big_integer("warehouse_id"))
                    .col(big_integer("quantity"))
                    .check(Expr::cust("quantity > 0"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("shipment_line", "shipment_id")
                            .to("shipment", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("shipment_line", "booking_line_id")
                            .to("booking_line", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_shipment_line_shipment")
                    .table("shipment_line")
                    .col("shipment_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["shipment_line", "shipment"] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
