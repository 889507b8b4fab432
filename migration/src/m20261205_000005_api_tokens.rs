//! API tokens: who may call the server, with which role and for which channels.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Only a hash of each token is stored; the token itself is shown once, when created.
        // Channel ids are a JSON array without a foreign key on purpose: deleting a channel must
        // not turn a token limited to it into one valid for every channel.
        manager
            .create_table(
                Table::create()
                    .table("api_token")
                    .col(big_pk_auto("id"))
                    .col(string_null("name"))
                    .col(string_len("role", 32))
                    .col(text("channel_ids"))
                    .col(string_len("hash", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("ux_api_token_hash").table("api_token").col("hash").unique().to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("api_token").if_exists().to_owned()).await
    }
}
