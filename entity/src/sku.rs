//! A stock keeping unit of a product.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sku")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    /// The code as given, with surrounding whitespace trimmed.
    pub code: String,
    /// The trimmed code in lower case; the unique index on it makes codes unique
    /// case-insensitively.
    pub code_key: String,
    pub published: bool,
    pub purchasable: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::product::Entity",
        from = "Column::ProductId",
        to = "super::product::Column::Id"
    )]
    Product,
    #[sea_orm(has_many = "super::warehouse_item::Entity")]
    WarehouseItem,
}

impl Related<super::product::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Product.def()
    }
}

impl Related<super::warehouse_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WarehouseItem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
