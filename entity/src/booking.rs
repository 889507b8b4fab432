//! Stock held for an order in a channel.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "booking")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_reference: String,
    pub channel_id: i64,
    /// `ACTIVE`, `RELEASED`, `CONSUMED` or `EXPIRED`.
    pub status: String,
    /// From this instant the booking holds nothing, even before a sweeper marks it `EXPIRED`.
    pub expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::booking_line::Entity")]
    BookingLine,
}

impl Related<super::booking_line::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::BookingLine.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
