//! Idempotency keys: a mutation called again with the same key returns its first result and
//! changes nothing.
//!
//! The record is written in the same transaction as the change, so a result is stored exactly
//! when the change is committed. Two concurrent requests with one key both try to insert the
//! record; the loser's transaction fails on the primary key, is retried by
//! [`crate::db::Db::write`], finds the record and returns it.

use entity::idempotency_record;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::{Serialize, de::DeserializeOwned};

use super::now;
use crate::error::{Error, ErrorCode, Result};

/// The longest accepted idempotency key, in characters.
pub const MAX_KEY_LENGTH: usize = 255;

/// Checks the shape of a key before any work is done.
pub fn validate_key(key: Option<&str>) -> Result<()> {
    let Some(key) = key else { return Ok(()) };
    let length = key.chars().count();
    if key.trim().is_empty() || length > MAX_KEY_LENGTH || key.chars().any(char::is_control) {
        return Err(Error::invalid(
            "idempotencyKey",
            format!(
                "idempotencyKey must have 1 to {MAX_KEY_LENGTH} printable, non-blank characters; got {length} characters"
            ),
        ));
    }
    Ok(())
}

/// Returns the stored result for `key`, or `None` when the key is new.
///
/// A key used before by another operation or with another request is a `CONFLICT`: the client
/// reused a key by mistake, and returning the other result would mislead it.
pub async fn replay<T: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    key: Option<&str>,
    operation: &str,
    request: &impl Serialize,
) -> Result<Option<T>> {
    let Some(key) = key else { return Ok(None) };
    let Some(record) = idempotency_record::Entity::find_by_id(key.to_owned()).one(conn).await?
    else {
        return Ok(None);
    };
    if record.operation != operation || record.request_fingerprint != fingerprint(request)? {
        return Err(Error::field(
            ErrorCode::Conflict,
            "idempotencyKey",
            format!(
                "idempotencyKey {key:?} was already used for a different {} request; use a new key for a new request",
                record.operation
            ),
        ));
    }
    let result = serde_json::from_value(record.response).map_err(|err| {
        Error::Internal(anyhow::Error::new(err).context("stored idempotent result is unreadable"))
    })?;
    Ok(Some(result))
}

/// Stores the result of the first call with `key`.
pub async fn remember(
    conn: &impl ConnectionTrait,
    key: Option<&str>,
    operation: &str,
    request: &impl Serialize,
    result: &impl Serialize,
) -> Result<()> {
    let Some(key) = key else { return Ok(()) };
    let response = serde_json::to_value(result)
        .map_err(|err| Error::Internal(anyhow::Error::new(err).context("result is not storable")))?;
    idempotency_record::ActiveModel {
        idempotency_key: Set(key.to_owned()),
        operation: Set(operation.to_owned()),
        request_fingerprint: Set(fingerprint(request)?),
        response: Set(response),
        created_at: Set(now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

fn fingerprint(request: &impl Serialize) -> Result<String> {
    serde_json::to_string(request)
        .map_err(|err| Error::Internal(anyhow::Error::new(err).context("request is not storable")))
}
