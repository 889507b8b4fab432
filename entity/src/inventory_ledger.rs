//! The inventory ledger: one row per change of a warehouse item's on-hand or booked quantity.
//! Rows are only ever inserted. They keep the warehouse and SKU ids without foreign keys, so
//! the history survives the deletion of a warehouse.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inventory_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub sku_id: i64,
    pub warehouse_id: i64,
    /// What caused the change, such as `ADJUSTED` or `TRANSFERRED_IN`.
    pub kind: String,
    pub on_hand_delta: i64,
    pub booked_delta: i64,
    /// On hand after the change.
    pub on_hand_after: i64,
    /// Booked after the change.
    pub booked_after: i64,
    pub reason: Option<String>,
    /// Order, shipment, transfer or replenishment this change belongs to.
    pub reference: Option<String>,
    pub actor: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
