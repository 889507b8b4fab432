//! An API token: its role and channels, and a hash of the secret the client sends.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// A label for people, such as "web store".
    pub name: Option<String>,
    /// `admin`, `inventory`, `storefront` or `alerts`.
    pub role: String,
    /// JSON array of channel ids the token is limited to; `[]` for every channel.
    pub channel_ids: String,
    /// Lower-case hex SHA-256 of the token; unique.
    #[sea_orm(unique)]
    pub hash: String,
    pub created_at: DateTimeUtc,
    /// Set when the token was revoked; a revoked token authenticates nothing.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
