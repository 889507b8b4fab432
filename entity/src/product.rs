//! A product: a named catalog entry that owns SKUs and an inventory configuration.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// Unique when set.
    pub external_reference_code: Option<String>,
    /// Estimate shown to shoppers while the product is unavailable.
    pub availability_estimate_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::sku::Entity")]
    Sku,
    #[sea_orm(
        belongs_to = "super::availability_estimate::Entity",
        from = "Column::AvailabilityEstimateId",
        to = "super::availability_estimate::Column::Id"
    )]
    AvailabilityEstimate,
}

impl Related<super::sku::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sku.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
