//! A shipment: stock of a booking that left its warehouses.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "shipment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub booking_id: i64,
    /// Reference written on the ledger rows of the shipment, such as a carrier's tracking id.
    pub reference: String,
    /// `SHIPPED`, or `CANCELLED` once its stock has been restored.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub cancelled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::shipment_line::Entity")]
    ShipmentLine,
}

impl Related<super::shipment_line::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ShipmentLine.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
