//! Sales channels.

use entity::{booking, channel, warehouse_channel};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

use super::{
    events::{self, InventoryEventScope},
    now,
};
use crate::{
    db::Db,
    domain::{ExternalReferenceCode, Name},
    error::{Error, ErrorCode, Result, map_unique_violation},
};

/// Fields of a new channel.
#[derive(Clone, Debug)]
pub struct NewChannel {
    pub name: Name,
    pub external_reference_code: Option<ExternalReferenceCode>,
    pub active: bool,
}

/// Changes to a channel; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct ChannelChanges {
    pub name: Option<Name>,
    /// `Some(None)` removes the code.
    pub external_reference_code: Option<Option<ExternalReferenceCode>>,
    pub active: Option<bool>,
}

/// Finds a channel by id.
pub async fn find_channel(conn: &impl ConnectionTrait, id: i64) -> Result<channel::Model> {
    channel::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("channelId", format!("channel {id} not found")))
}

/// Finds a channel by its external reference code.
pub async fn find_channel_by_erc(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<channel::Model>> {
    Ok(channel::Entity::find()
        .filter(channel::Column::ExternalReferenceCode.eq(code.trim()))
        .one(conn)
        .await?)
}

/// Finds the channels named exactly `name` (trimmed), oldest first. Names are not unique, so
/// there may be several.
pub async fn find_channels_by_name(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<Vec<channel::Model>> {
    Ok(channel::Entity::find()
        .filter(channel::Column::Name.eq(name.trim()))
        .order_by_asc(channel::Column::Id)
        .all(conn)
        .await?)
}

/// Creates a channel.
pub async fn create_channel(db: &Db, input: NewChannel) -> Result<channel::Model> {
    db.write(|txn| {
        let input = input.clone();
        Box::pin(async move { insert_channel(txn, &input).await })
    })
    .await
}

/// Inserts a channel inside a caller's transaction.
pub async fn insert_channel(conn: &impl ConnectionTrait, input: &NewChannel) -> Result<channel::Model> {
    if let Some(code) = &input.external_reference_code {
        ensure_erc_free(conn, code, None).await?;
    }
    let time = now();
    channel::ActiveModel {
        name: Set(input.name.clone().into_inner()),
        external_reference_code: Set(
            input.external_reference_code.clone().map(ExternalReferenceCode::into_inner)
        ),
        active: Set(input.active),
        created_at: Set(time),
        updated_at: Set(time),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|err| duplicate_erc(err, input.external_reference_code.as_ref()))
}

/// Updates a channel.
pub async fn update_channel(db: &Db, id: i64, changes: ChannelChanges) -> Result<channel::Model> {
    db.write(|txn| {
        let changes = changes.clone();
        Box::pin(async move {
            let current = find_channel(txn, id).await.map_err(|err| err.with_field("id"))?;
            let mut row: channel::ActiveModel = current.into();
            if let Some(name) = changes.name {
                row.name = Set(name.into_inner());
            }
            if let Some(code) = &changes.external_reference_code {
                if let Some(code) = code {
                    ensure_erc_free(txn, code, Some(id)).await?;
                }
                row.external_reference_code =
                    Set(code.clone().map(ExternalReferenceCode::into_inner));
            }
            if let Some(active) = changes.active {
                row.active = Set(active);
            }
            row.updated_at = Set(now());
            let code = changes.external_reference_code.flatten();
            row.update(txn).await.map_err(|err| duplicate_erc(err, code.as_ref()))
        })
    })
    .await
}

/// Deletes a channel and its warehouse links. A channel with bookings is kept, because the
/// bookings' history refers to it.
pub async fn delete_channel(db: &Db, id: i64) -> Result<channel::Model> {
    db.write(|txn| {
        Box::pin(async move {
            let current = find_channel(txn, id).await.map_err(|err| err.with_field("id"))?;
            let bookings =
                booking::Entity::find().filter(booking::Column::ChannelId.eq(id)).count(txn).await?;
            if bookings > 0 {
                return Err(Error::field(
                    ErrorCode::Conflict,
                    "id",
                    format!(
                        "channel {id} has {bookings} bookings and cannot be deleted: deactivate it with updateChannel(active: false) instead"
                    ),
                ));
            }
            warehouse_channel::Entity::delete_many()
                .filter(warehouse_channel::Column::ChannelId.eq(id))
                .exec(txn)
                .await?;
            current.clone().delete(txn).await?;
            events::forget_scope(txn, InventoryEventScope::Channel, id).await?;
            Ok(current)
        })
    })
    .await
}

async fn ensure_erc_free(
    conn: &impl ConnectionTrait,
    code: &ExternalReferenceCode,
    except_id: Option<i64>,
) -> Result<()> {
    match find_channel_by_erc(conn, code.as_str()).await? {
        Some(other) if Some(other.id) != except_id => Err(Error::field(
            ErrorCode::Duplicate,
            "externalReferenceCode",
            format!("a channel with externalReferenceCode {:?} already exists", code.as_str()),
        )),
        _ => Ok(()),
    }
}

fn duplicate_erc(err: sea_orm::DbErr, code: Option<&ExternalReferenceCode>) -> Error {
    let code = code.map(|c| c.as_str().to_owned()).unwrap_or_default();
    map_unique_violation(err, "externalReferenceCode", || {
        format!("a channel with externalReferenceCode {code:?} already exists")
    })
}
