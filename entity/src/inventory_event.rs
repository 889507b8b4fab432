//! One entry of the durable inventory event log, read by subscriptions and replays.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inventory_event")]
pub struct Model {
    /// Increases with every event, in commit order.
    #[sea_orm(primary_key)]
    pub sequence: i64,
    /// `LOW_STOCK`, `OUT_OF_STOCK`, `BACK_IN_STOCK` or `STOCK_CHANGED`.
    pub kind: String,
    /// `COMPANY`, `CHANNEL` or `WAREHOUSE`.
    pub scope: String,
    pub sku_id: i64,
    /// The SKU's code when the event happened.
    pub sku_code: String,
    /// Set for the warehouse scope.
    pub warehouse_id: Option<i64>,
    /// Set for the channel scope.
    pub channel_id: Option<i64>,
    pub on_hand: i64,
    pub safety_stock: i64,
    pub booked: i64,
    /// Null when the scope had never been judged before.
    pub available_before: Option<i64>,
    pub available_after: i64,
    pub threshold: Option<i64>,
    /// The low-stock activity run for this event, if any.
    pub activity_key: Option<String>,
    /// `SUCCEEDED` or `FAILED`.
    pub activity_status: Option<String>,
    pub activity_error: Option<String>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
