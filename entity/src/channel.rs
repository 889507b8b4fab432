//! A sales channel (web store, B2B portal, marketplace) that sells from its linked warehouses.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channel")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// Unique when set.
    pub external_reference_code: Option<String>,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::warehouse_channel::Entity")]
    WarehouseChannel,
}

impl Related<super::warehouse_channel::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WarehouseChannel.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
