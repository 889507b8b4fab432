//! Incoming stock: units of a SKU expected in a warehouse on a calendar date.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "replenishment_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub warehouse_id: i64,
    pub sku_id: i64,
    /// Units expected in all.
    pub quantity: i64,
    /// Units received so far; the item is open while this is below `quantity`.
    pub received_quantity: i64,
    /// Calendar date of arrival, without a time zone.
    pub expected_on: Date,
    /// Unique when set.
    pub external_reference_code: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
