//! API tokens and callers: who is calling, with which role, for which channels.
//!
//! A token is `srk_` followed by 43 URL-safe base64 characters, 32 bytes from the operating
//! system's random source. The database keeps only its SHA-256 hash: with that much entropy a
//! plain hash cannot be reversed, so no slow password hash is needed.
//!
//! Authentication happens where a request enters: the HTTP handlers read
//! `Authorization: Bearer …` and the WebSocket reads the `connection_init` payload (see
//! [`crate::http`]). Both hand the token to the [`Authenticator`], which returns the [`Caller`]
//! that the GraphQL layer receives as request data. What each role may do is decided in one
//! place, [`crate::graphql::access`].
//!
//! Look-ups are cached for [`TOKEN_CACHE_TTL`]. Tokens are revoked by another process (the
//! `token revoke` command), which cannot notify running servers. So the cache bounds how long
//! a revoked token keeps working: new requests are rejected within that time, and a running
//! subscription ends within twice that time.

pub mod command;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

use crate::{
    db::Db,
    error::{Error, ErrorCode, Result},
    service::tokens,
};

/// The start of every token, so that people and secret scanners recognize one.
pub const TOKEN_PREFIX: &str = "srk_";

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;

/// How long a token look-up is reused, and so how long a revoked token may keep working on a
/// running server.
///
/// Why cache: the look-up is one indexed read, cheap next to a request, but without a cache
/// every request would add it to the database's load although its result changes only when
/// the token is revoked. Ten seconds leaves one look-up per token every ten seconds and keeps
/// the revocation delay short.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);

/// Maximum number of cached look-ups. A full cache drops its stale entries, and all entries
/// when none is stale.
const TOKEN_CACHE_CAPACITY: usize = 10_000;

/// The role of a token, which decides the operations it may use. The rules of each role are
/// in [`crate::graphql::access`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Role {
    /// Everything, including creating and deleting channels and warehouses and linking them.
    Admin,
    /// Reads and changes stock, bookings, shipments, replenishments, the catalog and
    /// estimates; reads the events. Not the channel and warehouse set-up.
    Inventory,
    /// Reads the catalog and the availability of its channels; never stock quantities.
    Storefront,
    /// Reads the inventory events of its channels, as a query and as subscriptions.
    Alerts,
}

impl Role {
    /// Every role, for listings.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Inventory, Role::Storefront, Role::Alerts];

    /// The stored and printed form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Inventory => "inventory",
            Role::Storefront => "storefront",
            Role::Alerts => "alerts",
        }
    }

    /// Parses the stored form.
    pub fn from_stored(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Whether tokens of this role can be limited to channels.
    pub fn is_limited_by_channel(self) -> bool {
        matches!(self, Role::Storefront | Role::Alerts)
    }
}

/// The channels a caller may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelScope {
    /// Every channel, also the ones created later.
    All,
    /// Only these channel ids, ascending.
    Only(Vec<i64>),
}

impl ChannelScope {
    /// The scope of a stored list: an empty list means every channel.
    pub fn from_ids(mut ids: Vec<i64>) -> ChannelScope {
        if ids.is_empty() {
            return ChannelScope::All;
        }
        ids.sort_unstable();
        ids.dedup();
        ChannelScope::Only(ids)
    }

    /// Whether the channel is in scope.
    pub fn contains(&self, channel_id: i64) -> bool {
        match self {
            ChannelScope::All => true,
            ChannelScope::Only(ids) => ids.binary_search(&channel_id).is_ok(),
        }
    }
}

/// Authentication setting of a server: whether requests need an API token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// Every request acts as an admin, without a token: for development, tests and the demo.
    /// The library's default, so tools and tests that embed the server need no tokens. The
    /// `serve` command requires tokens unless given `--no-auth`.
    #[default]
    Disabled,
    /// Every request needs a valid token.
    Required,
}

/// The identity of a request: the role and channels of the token it carried.
#[derive(Clone, Debug)]
pub struct Caller {
    role: Role,
    channels: ChannelScope,
    /// The token behind the caller, to check that it is still valid; `None` when
    /// authentication is disabled.
    token: Option<TokenCheck>,
}

#[derive(Clone, Debug)]
struct TokenCheck {
    hash: String,
    checked_at: Instant,
    authenticator: Authenticator,
}

impl Caller {
    /// The caller of a server without authentication: an admin of every channel.
    pub fn unauthenticated_admin() -> Caller {
        Caller { role: Role::Admin, channels: ChannelScope::All, token: None }
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The channels the caller may see.
    pub fn channels(&self) -> &ChannelScope {
        &self.channels
    }

    /// Checks that the token is still valid, when its last check is older than
    /// [`TOKEN_CACHE_TTL`]. A WebSocket connection keeps one caller for its whole life, so
    /// each operation it starts calls this.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` when the token has been revoked since.
    pub async fn ensure_current(&self) -> Result<()> {
        match &self.token {
            Some(check) if check.checked_at.elapsed() >= TOKEN_CACHE_TTL => {
                check.authenticator.grant(&check.hash).await.map(drop)
            }
            _ => Ok(()),
        }
    }

    /// Completes with an `UNAUTHENTICATED` error once the token is no longer valid, checking
    /// every [`TOKEN_CACHE_TTL`]; never completes for a server without authentication.
    /// Subscriptions end when it completes.
    pub async fn revoked(&self) -> Error {
        let Some(check) = &self.token else { return std::future::pending().await };
        let mut ticks = tokio::time::interval(TOKEN_CACHE_TTL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match check.authenticator.grant(&check.hash).await {
                Ok(_) => {}
                Err(err) if err.code() == Some(ErrorCode::Unauthenticated) => return err,
                // A database that is briefly unreachable must not end every subscription.
                Err(err) => tracing::warn!(error = %err.message(), "checking an API token failed; checking again later"),
            }
        }
    }
}

/// The role and channels stored for a valid token.
#[derive(Clone, Debug)]
struct Grant {
    role: Role,
    channels: ChannelScope,
}

/// Turns tokens into callers, with a short-lived cache of look-ups. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    mode: AuthMode,
    cache: Mutex<HashMap<String, (Grant, Instant)>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("mode", &self.inner.mode).finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator reading tokens from `db`.
    pub fn new(db: Db, mode: AuthMode) -> Authenticator {
        Authenticator { inner: Arc::new(Inner { db, mode, cache: Mutex::new(HashMap::new()) }) }
    }

    /// Whether tokens are required.
    pub fn mode(&self) -> AuthMode {
        self.inner.mode
    }

    /// The caller a request acts as, given the token it carried, if any. Without
    /// authentication every request is an admin and a token is not even read.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` when the token is missing, malformed, unknown or revoked; the
    /// message never repeats the token.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Caller> {
        if self.inner.mode == AuthMode::Disabled {
            return Ok(Caller::unauthenticated_admin());
        }
        let Some(token) = token else {
            return Err(unauthenticated(
                "an API token is required: send `Authorization: Bearer <token>` (WebSocket: in connection_init)",
            ));
        };
        if !is_well_formed(token) {
            let expected = TOKEN_PREFIX.len() + URL_SAFE_NO_PAD.encode([0u8; TOKEN_BYTES]).len();
            return Err(unauthenticated(&format!(
                "the API token is malformed: a Stockroom token is `{TOKEN_PREFIX}` followed by letters, digits, `-` and `_`, {expected} characters in all; copy it again from `stockroom token create`"
            )));
        }
        let hash = hash_token(token);
        let grant = self.grant(&hash).await?;
        Ok(Caller {
            role: grant.role,
            channels: grant.channels,
            token: Some(TokenCheck { hash, checked_at: Instant::now(), authenticator: self.clone() }),
        })
    }

    /// The grant of a token hash, from the cache when fresh, else from the database.
    async fn grant(&self, hash: &str) -> Result<Grant> {
        if let Some(grant) = self.cached(hash) {
            return Ok(grant);
        }

        let found = tokens::find_by_hash(self.inner.db.conn(), hash).await?;
        let Some(found) = found else { return Err(unauthenticated("the API token is unknown")) };
        if found.revoked_at.is_some() {
            return Err(unauthenticated("the API token has been revoked"));
        }
        let Some(role) = Role::from_stored(&found.role) else {
            return Err(unauthenticated("the API token has a role this server does not know"));
        };
        let grant = Grant { role, channels: tokens::channel_scope(&found) };

        self.remember(hash, &grant);
        Ok(grant)
    }

    fn cached(&self, hash: &str) -> Option<Grant> {
        let cache = self.inner.cache.lock().expect("BUG: the token cache lock is poisoned");
        let (grant, fetched) = cache.get(hash)?;
        (fetched.elapsed() < TOKEN_CACHE_TTL).then(|| grant.clone())
    }

    fn remember(&self, hash: &str, grant: &Grant) {
        let mut cache = self.inner.cache.lock().expect("BUG: the token cache lock is poisoned");
        if cache.len() >= TOKEN_CACHE_CAPACITY {
            cache.retain(|_, (_, fetched)| fetched.elapsed() < TOKEN_CACHE_TTL);
            if cache.len() >= TOKEN_CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(hash.to_owned(), (grant.clone(), Instant::now()));
    }
}

fn unauthenticated(message: &str) -> Error {
    Error::rejected(ErrorCode::Unauthenticated, message)
}

/// Makes a new token from the operating system's random source.
///
/// # Errors
/// An internal error when the random source fails.
pub fn generate_token() -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| Error::Internal(anyhow::anyhow!("the random source failed: {err}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a token: its SHA-256 in lower-case hex.
pub fn hash_token(token: &str) -> String {
    sha256_hex(token)
}

/// Returns the SHA-256 of `text` in lower-case hex, the form of stored tokens and of
/// persisted query hashes.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Checks that `token` has the shape of a Stockroom token, so that garbage is rejected without
/// a database read.
fn is_well_formed(token: &str) -> bool {
    let Some(body) = token.strip_prefix(TOKEN_PREFIX) else { return false };
    body.len() == URL_SAFE_NO_PAD.encode([0u8; TOKEN_BYTES]).len()
        && body.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// Reads the token of an `Authorization: Bearer <token>` header; `None` without the header.
///
/// # Errors
/// `UNAUTHENTICATED` when the header is there but is not a bearer token.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Result<Option<&str>> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().unwrap_or_default().trim();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(unauthenticated("the Authorization header must be `Bearer <token>`")),
    }
}

/// Reads the token of a WebSocket `connection_init` payload: `{"Authorization": "Bearer …"}`
/// (any letter case of the key) or `{"token": "…"}`; `None` when the payload has neither.
///
/// # Errors
/// `UNAUTHENTICATED` when one of those keys holds something else than a token.
pub fn connection_init_token(payload: &serde_json::Value) -> Result<Option<&str>> {
    let Some(object) = payload.as_object() else { return Ok(None) };
    if let Some(token) = object.get("token") {
        return match token.as_str() {
            Some(token) if !token.trim().is_empty() => Ok(Some(token.trim())),
            _ => Err(unauthenticated("`token` in connection_init must be a string holding the API token")),
        };
    }
    let authorization = object.iter().find(|(key, _)| key.eq_ignore_ascii_case("authorization"));
    let Some((_, value)) = authorization else { return Ok(None) };
    match value.as_str().and_then(|text| text.trim().split_once(' ')) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(unauthenticated("`Authorization` in connection_init must be `Bearer <token>`")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn generated_tokens_are_well_formed_and_differ() {
        let first = generate_token().unwrap();
        let second = generate_token().unwrap();
        assert!(is_well_formed(&first), "{first}");
        assert_ne!(first, second);
    }

    #[test]
    fn malformed_tokens_are_recognised() {
        let good = generate_token().unwrap();
        for bad in ["", "srk_", "abc", &good[1..], &format!("{good}x"), &good.replace('s', "S"), &format!("srk_{}", "!".repeat(43))] {
            assert!(!is_well_formed(bad), "{bad:?} passed");
        }
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn bearer_header_forms() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(bearer_token(&headers).unwrap(), None);
        headers.insert("authorization", "bearer  srk_x ".parse().unwrap());
        assert_eq!(bearer_token(&headers).unwrap(), Some("srk_x"));
        headers.insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
        assert_eq!(bearer_token(&headers).unwrap_err().code(), Some(ErrorCode::Unauthenticated));
    }

    #[test]
    fn connection_init_forms() {
        assert_eq!(connection_init_token(&json!({})).unwrap(), None);
        assert_eq!(connection_init_token(&json!(null)).unwrap(), None);
        assert_eq!(connection_init_token(&json!({ "token": "srk_a" })).unwrap(), Some("srk_a"));
        assert_eq!(connection_init_token(&json!({ "Authorization": "Bearer srk_b" })).unwrap(), Some("srk_b"));
        assert_eq!(connection_init_token(&json!({ "authorization": "Bearer srk_c" })).unwrap(), Some("srk_c"));
        assert!(connection_init_token(&json!({ "token": 5 })).is_err());
        assert!(connection_init_token(&json!({ "authorization": "srk_d" })).is_err());
    }

    #[test]
    fn empty_channel_list_is_every_channel() {
        assert_eq!(ChannelScope::from_ids(vec![]), ChannelScope::All);
        let some = ChannelScope::from_ids(vec![3, 1, 3]);
        assert_eq!(some, ChannelScope::Only(vec![1, 3]));
        assert!(some.contains(3));
        assert!(!some.contains(2));
    }
}
