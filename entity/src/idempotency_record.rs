//! The stored result of a mutation called with an idempotency key, returned again when the
//! same key is used again.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_record")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub idempotency_key: String,
    /// Name of the mutation that used the key.
    pub operation: String,
    /// Fingerprint of the request, so a key reused for another request is rejected.
    pub request_fingerprint: String,
    /// The result of the first call, in the operation's own JSON form.
    pub response: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
