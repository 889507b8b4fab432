//! Idempotency keys: a mutation called again with the same key returns its first result and
//! changes nothing.
//!
//! A request with a key first claims it by inserting a placeholder record in its own
//! transaction, before it reads any stock, and fills in the result at the end. The record is
//! committed with the change or not at all. A concurrent request with the same key blocks on
//! that insert (PostgreSQL waits for the holder of a unique key to commit or roll back; on
//! SQLite the write gate serializes the two), then finds the finished record and returns it,
//! so the change is never made twice and the loser never fails on stock the winner took.

use entity::idempotency_record;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TryInsertResult, sea_query::Expr};
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

/// Returns the stored result for `key`, or claims the key and returns `None` when it is new.
/// After `None`, the caller does the work and calls [`remember`] in the same transaction.
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
    let fingerprint = fingerprint(request)?;

    // Claim the key. If another transaction holds it, this waits until that one ends.
    let claimed = idempotency_record::Entity::insert(idempotency_record::ActiveModel {
        idempotency_key: Set(key.to_owned()),
        operation: Set(operation.to_owned()),
        request_fingerprint: Set(fingerprint.clone()),
        response: Set(serde_json::json!({})),
        created_at: Set(now()),
    })
    .on_conflict_do_nothing_on([idempotency_record::Column::IdempotencyKey])
    .exec(conn)
    .await?;
    if matches!(claimed, TryInsertResult::Inserted(_)) {
        return Ok(None);
    }

    let record = idempotency_record::Entity::find_by_id(key.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("idempotency record {key:?} vanished after a conflict")))?;
    if record.operation != operation || record.request_fingerprint != fingerprint {
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

/// Stores the result of the first call with `key`, which [`replay`] claimed in this
/// transaction.
pub async fn remember(
    conn: &impl ConnectionTrait,
    key: Option<&str>,
    result: &impl Serialize,
) -> Result<()> {
    let Some(key) = key else { return Ok(()) };
    let response = serde_json::to_value(result)
        .map_err(|err| Error::Internal(anyhow::Error::new(err).context("result is not storable")))?;
    idempotency_record::Entity::update_many()
        .col_expr(idempotency_record::Column::Response, Expr::value(response))
        .filter(idempotency_record::Column::IdempotencyKey.eq(key))
        .exec(conn)
        .await?;
    Ok(())
}

fn fingerprint(request: &impl Serialize) -> Result<String> {
    serde_json::to_string(request)
        .map_err(|err| Error::Internal(anyhow::Error::new(err).context("request is not storable")))
}
