//! An availability estimate ("3-5 days") shown to shoppers while a product is out of stock.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "availability_estimate")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// JSON object from locale (`en_US`) to the localized title.
    pub title: Json,
    /// Ordering in pickers: lower first.
    pub priority: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
