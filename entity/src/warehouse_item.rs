//! The stock of one SKU in one warehouse.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "warehouse_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub warehouse_id: i64,
    pub sku_id: i64,
    /// Units physically in the warehouse.
    pub on_hand: i64,
    /// Units kept back and never sold.
    pub safety_stock: i64,
    /// Sum of the active booking lines allocated here.
    pub booked: i64,
    /// Low-stock threshold for this warehouse only, overriding nothing company-wide.
    pub low_stock_threshold: Option<i64>,
    /// Incremented on every change of the row.
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::warehouse::Entity",
        from = "Column::WarehouseId",
        to = "super::warehouse::Column::Id"
    )]
    Warehouse,
    #[sea_orm(
        belongs_to = "super::sku::Entity",
        from = "Column::SkuId",
        to = "super::sku::Column::Id"
    )]
    Sku,
}

impl Related<super::warehouse::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Warehouse.def()
    }
}

impl Related<super::sku::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sku.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
