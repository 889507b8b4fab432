//! A physical stock location with an address, optional coordinates and an allocation priority.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "warehouse")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// Unique when set.
    pub external_reference_code: Option<String>,
    pub description: Option<String>,
    /// A new warehouse starts inactive; inactive warehouses count for nothing in availability.
    pub active: bool,
    pub street1: Option<String>,
    pub street2: Option<String>,
    pub street3: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub region_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
    /// Degrees, -90..90; set together with `longitude` or not at all.
    pub latitude: Option<f64>,
    /// Degrees, -180..180.
    pub longitude: Option<f64>,
    /// Allocation order: the lowest number is allocated first.
    pub priority: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::warehouse_channel::Entity")]
    WarehouseChannel,
    #[sea_orm(has_many = "super::warehouse_item::Entity")]
    WarehouseItem,
}

impl Related<super::warehouse_channel::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WarehouseChannel.def()
    }
}

impl Related<super::warehouse_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WarehouseItem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
