//! Replenishment items: stock expected to arrive in a warehouse on a calendar date.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("replenishment_item")
                    .col(big_pk_auto("id"))
                    .col(big_integer("warehouse_id"))
                    .col(big_integer("sku_id"))
                    .col(big_integer("quantity"))
                    .col(big_integer("received_quantity"))
                    .col(date("expected_on"))
                    .col(string_null("external_reference_code"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .check(Expr::cust("quantity BETWEEN 1 AND 1000000000"))
                    .check(Expr::cust("received_quantity BETWEEN 0 AND quantity"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("replenishment_item", "warehouse_id")
                            .to("warehouse", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from("replenishment_item", "sku_id")
                            .to("sku", "id")
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns, unique) in [
            ("ux_replenishment_erc", &["external_reference_code"][..], true),
            ("ix_replenishment_sku_date", &["sku_id", "expected_on"][..], false),
            ("ix_replenishment_warehouse", &["warehouse_id"][..], false),
        ] {
            let mut index = Index::create();
            index.name(name).table("replenishment_item");
            for column in columns {
                index.col(*column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("replenishment_item").if_exists().to_owned()).await
    }
}
