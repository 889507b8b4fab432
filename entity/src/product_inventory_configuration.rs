//! A product's stored inventory settings. A product without a row uses the defaults.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_inventory_configuration")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: i64,
    /// Low-stock threshold: the SKU is low when its available quantity is at or below it.
    pub min_stock_quantity: i64,
    /// Key of the registered low-stock activity, if any.
    pub low_stock_activity: Option<String>,
    pub allow_back_orders: bool,
    pub display_availability: bool,
    pub display_stock_quantity: bool,
    pub min_order_quantity: i64,
    pub max_order_quantity: i64,
    pub multiple_order_quantity: i64,
    /// JSON array of positive integers; empty means any quantity.
    pub allowed_order_quantities: Json,
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
}

impl ActiveModelBehavior for ActiveModel {}
