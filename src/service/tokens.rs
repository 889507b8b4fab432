//! API tokens: creating, listing, revoking and finding them by hash.
//!
//! The secret of a token never reaches the database: [`create_token`] stores its SHA-256 hash
//! and returns the secret once. Tokens are never deleted, only revoked, so `token list` keeps
//! the history of who had access.

use entity::{api_token, channel};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};

use super::now;
use crate::{
    auth::{self, ChannelScope, Role},
    db::Db,
    error::{Context as _, Error, ErrorCode, Result},
    ids::{self, NodeType},
};

/// Maximum length of a token name, in characters.
const MAX_NAME_LENGTH: usize = 255;

/// Fields of a new token.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub role: Role,
    /// Channels as given on the command line: global ids or external reference codes.
    pub channels: Vec<String>,
    pub name: Option<String>,
}

/// A token just created: the stored row and the secret, which nothing can show again.
#[derive(Debug)]
pub struct CreatedToken {
    pub token: api_token::Model,
    pub secret: String,
}

/// A stored token, as `token list` shows it.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    pub id: i64,
    pub name: Option<String>,
    /// `None` for a role written by a newer Stockroom.
    pub role: Option<Role>,
    pub channels: ChannelScope,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Creates a token and returns its secret.
///
/// # Errors
/// `INVALID_INPUT` when the name is blank or too long, when channels are given for a role that
/// is not limited by channel, or when a channel is given twice. `NOT_FOUND` when a channel
/// matches neither a channel id nor an external reference code.
pub async fn create_token(db: &Db, new: NewToken) -> Result<CreatedToken> {
    let name = parse_name(new.name.as_deref())?;
    if !new.channels.is_empty() && !new.role.is_limited_by_channel() {
        return Err(Error::invalid(
            "channel",
            format!(
                "the {} role reaches every channel; --channel applies only to the storefront and alerts roles",
                new.role.as_str()
            ),
        ));
    }
    let mut channel_ids = Vec::with_capacity(new.channels.len());
    for given in &new.channels {
        channel_ids.push(resolve_channel(db.conn(), given).await?.id);
    }
    channel_ids.sort_unstable();
    if channel_ids.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(Error::invalid("channel", "a channel is given twice: name each channel once"));
    }

    let secret = auth::generate_token()?;
    let row = api_token::ActiveModel {
        name: Set(name),
        role: Set(new.role.as_str().to_owned()),
        channel_ids: Set(serde_json::to_string(&channel_ids).expect("BUG: a list of integers always serializes")),
        hash: Set(auth::hash_token(&secret)),
        created_at: Set(now()),
        revoked_at: Set(None),
        ..Default::default()
    };
    let token = db
        .write(|txn| {
            let row = row.clone();
            Box::pin(async move { row.insert(txn).await.context("storing the new API token") })
        })
        .await?;
    Ok(CreatedToken { token, secret })
}

/// Every token, oldest first, without secrets (the database has none).
pub async fn list_tokens(conn: &impl ConnectionTrait) -> Result<Vec<TokenInfo>> {
    let rows = api_token::Entity::find().order_by_asc(api_token::Column::Id).all(conn).await?;
    Ok(rows.iter().map(info).collect())
}

/// Revokes a token: from then on it authenticates nothing (running servers notice within
/// [`auth::TOKEN_CACHE_TTL`]).
///
/// # Errors
/// `NOT_FOUND` for an unknown id; `CONFLICT` when the token was revoked already.
pub async fn revoke_token(db: &Db, id: i64) -> Result<TokenInfo> {
    let revoked = db
        .write(|txn| {
            Box::pin(async move {
                let found = api_token::Entity::find_by_id(id).one(txn).await?;
                let found = found.ok_or_else(|| Error::not_found("id", format!("no API token has the id {id}: `stockroom token list` shows them")))?;
                if let Some(at) = found.revoked_at {
                    return Err(Error::rejected(ErrorCode::Conflict, format!("API token {id} was revoked already, at {}", at.to_rfc3339())));
                }
                let mut row: api_token::ActiveModel = found.into();
                row.revoked_at = Set(Some(now()));
                row.update(txn).await.context("revoking the API token")
            })
        })
        .await?;
    Ok(info(&revoked))
}

/// The token with this hash, revoked or not.
pub async fn find_by_hash(conn: &impl ConnectionTrait, hash: &str) -> Result<Option<api_token::Model>> {
    api_token::Entity::find().filter(api_token::Column::Hash.eq(hash)).one(conn).await.context("looking up an API token")
}

/// How many tokens are not revoked.
pub async fn count_active(conn: &impl ConnectionTrait) -> Result<u64> {
    api_token::Entity::find().filter(api_token::Column::RevokedAt.is_null()).count(conn).await.context("counting API tokens")
}

/// The channels a stored token is limited to. Unreadable JSON (only a hand-edited row could
/// hold it) limits the token to no channel rather than to every one.
pub fn channel_scope(token: &api_token::Model) -> ChannelScope {
    match serde_json::from_str::<Vec<i64>>(&token.channel_ids) {
        Ok(ids) => ChannelScope::from_ids(ids),
        Err(_) => ChannelScope::Only(Vec::new()),
    }
}

fn info(token: &api_token::Model) -> TokenInfo {
    TokenInfo {
        id: token.id,
        name: token.name.clone(),
        role: Role::from_stored(&token.role),
        channels: channel_scope(token),
        created_at: token.created_at,
        revoked_at: token.revoked_at,
    }
}

fn parse_name(name: Option<&str>) -> Result<Option<String>> {
    let Some(name) = name else { return Ok(None) };
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "the name is blank: give a label such as \"web store\", or leave --name out"));
    }
    if name.chars().count() > MAX_NAME_LENGTH || name.contains('\0') {
        return Err(Error::invalid("name", format!("the name must be at most {MAX_NAME_LENGTH} characters, without NUL")));
    }
    Ok(Some(name.to_owned()))
}

/// Finds a channel by its global id, or else by its external reference code.
async fn resolve_channel(conn: &impl ConnectionTrait, given: &str) -> Result<channel::Model> {
    if let Ok((NodeType::Channel, id)) = ids::decode_any("channel", given)
        && let Some(found) = channel::Entity::find_by_id(id).one(conn).await?
    {
        return Ok(found);
    }
    let by_code = channel::Entity::find().filter(channel::Column::ExternalReferenceCode.eq(given.trim())).one(conn).await?;
    by_code.ok_or_else(|| {
        Error::not_found(
            "channel",
            format!("no channel has the id or external reference code {given:?}: the `channels` query lists them"),
        )
    })
}
