//! What was last reported about a SKU in one scope (the company, a channel or a warehouse), so
//! each low-stock crossing is reported exactly once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_watch")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sku_id: i64,
    /// `COMPANY`, `CHANNEL` or `WAREHOUSE`.
    pub scope: String,
    /// 0 for the company, else the id of the channel or warehouse.
    pub scope_id: i64,
    pub on_hand: i64,
    pub safety_stock: i64,
    pub booked: i64,
    pub available: i64,
    /// The threshold the state was judged against; null when the scope has none.
    pub threshold: Option<i64>,
    /// At or below the threshold when last judged.
    pub low: bool,
    /// At or below zero when last judged.
    pub out_of_stock: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
