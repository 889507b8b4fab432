//! Automatic persisted queries, as Apollo clients send them.
//!
//! A client first sends only the SHA-256 hash of its query, as
//! `extensions: { persistedQuery: { version: 1, sha256Hash } }`, by POST or, with Apollo's
//! `useGETForHashedQueries`, in the URL of a GET. If the server does not have the hash, it
//! returns the error `PersistedQueryNotFound`, and the client sends the hash again with the
//! query. The server checks the query against the hash and stores it. async-graphql's
//! `ApolloPersistedQueries` extension implements this protocol over a least-recently-used cache
//! in memory.
//!
//! Each server instance keeps its own cache, and a restart empties it, so a client can get
//! `PersistedQueryNotFound` for a hash another instance has stored. Resending the query is then
//! the protocol working, not a failure, and Apollo clients do it without being told.

use std::{num::NonZeroUsize, sync::Arc};

use async_graphql::{
    Response,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextRequest,
        apollo_persisted_queries::{ApolloPersistedQueries, LruCacheStorage},
    },
};

use crate::error::ErrorCode;

/// The message async-graphql returns for an unknown hash. Older Apollo clients match this exact
/// text and newer ones the code `PERSISTED_QUERY_NOT_FOUND`, so the message stays unchanged.
const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";

/// Creates the persisted query extension over an in-memory cache of `size` queries.
pub fn cache(size: NonZeroUsize) -> ApolloPersistedQueries<LruCacheStorage> {
    ApolloPersistedQueries::new(LruCacheStorage::new(size.get()))
}

/// Schema extension that adds a code to each persisted query error and, where the client has
/// something to fix, replaces the message with one that states the fix.
pub struct PersistedQueryErrors;

impl ExtensionFactory for PersistedQueryErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PersistedQueryErrors)
    }
}

#[async_trait::async_trait]
impl Extension for PersistedQueryErrors {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_some() {
                continue;
            }
            let Some((code, message)) = describe(&error.message) else {
                continue;
            };
            extensions.set("code", code);
            if let Some(message) = message {
                extensions.set("field", "extensions.persistedQuery");
                error.message = message;
            }
        }
        response
    }
}

/// Returns the code, and the clearer message if any, of an error from the persisted query
/// extension, or `None` for any other error.
fn describe(message: &str) -> Option<(&'static str, Option<String>)> {
    if message == NOT_FOUND_MESSAGE {
        return Some((ErrorCode::PersistedQueryNotFound.as_str(), None));
    }
    let clearer = if message == "provided sha does not match query" {
        "the persisted query's sha256Hash is not the SHA-256 of the query sent with it: send the \
         lowercase hexadecimal SHA-256 of the exact query text"
            .to_owned()
    } else if message.starts_with("Only the \"PersistedQuery\" extension of version") {
        "this server supports version 1 of persisted queries only: send \
         extensions.persistedQuery.version 1"
            .to_owned()
    } else if message == "Invalid \"PersistedQuery\" extension configuration." {
        "extensions.persistedQuery must be an object with the integer `version` (1) and the \
         string `sha256Hash`"
            .to_owned()
    } else {
        return None;
    };
    Some((ErrorCode::InvalidInput.as_str(), Some(clearer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_keeps_apollo_message() {
        assert_eq!(describe(NOT_FOUND_MESSAGE), Some(("PERSISTED_QUERY_NOT_FOUND", None)));
    }

    #[test]
    fn other_errors_unchanged() {
        assert_eq!(describe("Query is too complex."), None);
    }
}
