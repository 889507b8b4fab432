//! Automatic persisted queries, as Apollo clients send them.
//!
//! A client first sends only the SHA-256 hash of its query, as
//! `extensions: { persistedQuery: { version: 1, sha256Hash } }`, by POST or, with Apollo's
//! `useGETForHashedQueries`, in the URL of a GET. If the server does not have the hash, it
//! returns the error `PersistedQueryNotFound`, and the client sends the hash again with the
//! query. The server checks the query against the hash and stores it, in async-graphql's
//! least-recently-used cache in memory. The protocol is applied by the executor
//! (`graphql::executor`) rather than by async-graphql's extension, because a schema with any
//! extension resolves every field more slowly.
//!
//! Each server instance keeps its own cache, and a restart empties it, so a client can get
//! `PersistedQueryNotFound` for a hash another instance has stored. Resending the query is then
//! the protocol working, not a failure, and Apollo clients do it without being told.

use std::num::NonZeroUsize;

use async_graphql::{
    Request, ServerError, ServerResult,
    extensions::apollo_persisted_queries::{CacheStorage, LruCacheStorage},
    parser::types::ExecutableDocument,
};
use serde::Deserialize;

use crate::error::ErrorCode;

/// The message async-graphql returns for an unknown hash. Older Apollo clients match this exact
/// text and newer ones the code `PERSISTED_QUERY_NOT_FOUND`, so the message stays unchanged.
const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";

/// The persisted queries of one server: the documents of the hashes clients sent with their
/// queries, in async-graphql's least-recently-used cache.
#[derive(Clone)]
pub struct PersistedQueries {
    storage: LruCacheStorage,
}

/// `extensions.persistedQuery` as a client sends it.
#[derive(Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

impl PersistedQueries {
    /// Creates an empty cache of at most `size` queries.
    pub fn new(size: NonZeroUsize) -> Self {
        PersistedQueries { storage: LruCacheStorage::new(size.get()) }
    }

    /// Applies the protocol to a request. A request with a hash and no query gets the stored
    /// document. A request with a hash and its query is checked against the hash, and the hash
    /// is returned, so the caller stores the document once it has parsed it ([`Self::store`]).
    ///
    /// # Errors
    /// `PERSISTED_QUERY_NOT_FOUND` for an unknown hash; `INVALID_INPUT` for a malformed
    /// `extensions.persistedQuery`, another version than 1, or a hash that is not the query's.
    pub async fn resolve(&self, request: &mut Request) -> ServerResult<Option<String>> {
        let Some(value) = request.extensions.remove(EXTENSION) else {
            return Ok(None);
        };
        let persisted: PersistedQuery = async_graphql::from_value(value).map_err(|_| {
            invalid(
                "extensions.persistedQuery must be an object with the integer `version` (1) and the \
                 string `sha256Hash`",
            )
        })?;
        if persisted.version != 1 {
            return Err(invalid(
                "this server supports version 1 of persisted queries only: send \
                 extensions.persistedQuery.version 1",
            ));
        }
        if request.query.is_empty() {
            let document = self.storage.get(persisted.sha256_hash).await.ok_or_else(not_found)?;
            request.set_parsed_query(document);
            return Ok(None);
        }
        let hash = crate::auth::sha256_hex(&request.query);
        if persisted.sha256_hash != hash {
            return Err(invalid(
                "the persisted query's sha256Hash is not the SHA-256 of the query sent with it: \
                 send the lowercase hexadecimal SHA-256 of the exact query text",
            ));
        }
        Ok(Some(hash))
    }

    /// Stores the parsed document of a query sent with its hash.
    pub async fn store(&self, hash: String, document: ExecutableDocument) {
        self.storage.set(hash, document).await;
    }
}

/// The member of a request's `extensions` that carries a persisted query.
const EXTENSION: &str = "persistedQuery";

/// Builds the error for a hash the cache does not have. Older Apollo clients match its exact
/// message and newer ones the code.
fn not_found() -> ServerError {
    let mut error = ServerError::new(NOT_FOUND_MESSAGE, None);
    error.extensions.get_or_insert_with(Default::default).set("code", ErrorCode::PersistedQueryNotFound.as_str());
    error
}

/// Builds an `INVALID_INPUT` error about `extensions.persistedQuery`.
fn invalid(message: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", ErrorCode::InvalidInput.as_str());
    extensions.set("field", "extensions.persistedQuery");
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        request.extensions.insert(
            EXTENSION.to_owned(),
            async_graphql::Value::from_json(serde_json::json!({ "version": 1, "sha256Hash": hash })).unwrap(),
        );
        request
    }

    fn code(error: &ServerError) -> Option<String> {
        match error.extensions.as_ref()?.get("code")? {
            async_graphql::Value::String(code) => Some(code.clone()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn unknown_hash_keeps_apollo_message() {
        let cache = PersistedQueries::new(NonZeroUsize::new(4).unwrap());

        let error = cache.resolve(&mut with_hash("", "abc")).await.unwrap_err();

        assert_eq!(error.message, "PersistedQueryNotFound");
        assert_eq!(code(&error).as_deref(), Some("PERSISTED_QUERY_NOT_FOUND"));
    }

    #[tokio::test]
    async fn stored_hash_gives_its_document() {
        let cache = PersistedQueries::new(NonZeroUsize::new(4).unwrap());
        let query = "{ channels { totalCount } }";
        let hash = crate::auth::sha256_hex(query);
        let mut first = with_hash(query, &hash);
        let to_store = cache.resolve(&mut first).await.unwrap().expect("a query sent with its hash is stored");
        cache.store(to_store, first.parsed_query().unwrap().clone()).await;

        let mut second = with_hash("", &hash);
        cache.resolve(&mut second).await.unwrap();

        assert!(second.extensions.is_empty());
        assert_eq!(second.parsed_query().unwrap().operations.iter().count(), 1);
    }

    #[tokio::test]
    async fn wrong_hash_is_invalid_input() {
        let cache = PersistedQueries::new(NonZeroUsize::new(4).unwrap());

        let error = cache.resolve(&mut with_hash("{ channels { totalCount } }", "abc")).await.unwrap_err();

        assert_eq!(code(&error).as_deref(), Some("INVALID_INPUT"));
        assert!(error.message.contains("sha256Hash"), "{}", error.message);
    }
}
