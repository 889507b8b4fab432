//! The part of a booking's order line allocated to one warehouse. An order line that splits
//! across warehouses has one row per warehouse, sharing its `line_number`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "booking_line")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub booking_id: i64,
    /// Position of the order line in the booking request, from 1.
    pub line_number: i32,
    pub sku_id: i64,
    pub warehouse_id: i64,
    /// Units allocated here when booked.
    pub quantity: i64,
    /// Units shipped so far.
    pub consumed_quantity: i64,
    /// Units released so far. The line holds `quantity - consumed - released`.
    pub released_quantity: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::booking::Entity",
        from = "Column::BookingId",
        to = "super::booking::Column::Id"
    )]
    Booking,
}

impl Related<super::booking::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Booking.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
