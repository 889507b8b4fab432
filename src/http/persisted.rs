//! Persisted queries sent over HTTP with only their hash.
//!
//! An Apollo client sends a persisted query's hash in `extensions.persistedQuery` and leaves
//! out `query` (see `graphql::persisted` for the protocol). The handler cannot tell the
//! operation of such a request before the schema's persisted query cache gives its document,
//! so the rule that GET runs only queries is applied then, by [`check_method`].

use std::{any::TypeId, sync::Arc};

use async_graphql::{Request, Response, ServerError, ServerResult, parser::types::OperationType};

use super::graphql::{mutation_sent_with_get_message, selected_operation_type};

/// The request parameter `extensions` member that carries a persisted query's hash.
const PERSISTED_QUERY: &str = "persistedQuery";

/// Tells whether `extensions` carries a persisted query, so `query` may be left out.
pub fn has_persisted_query<'a>(mut extension_names: impl Iterator<Item = &'a String>) -> bool {
    extension_names.any(|name| name == PERSISTED_QUERY)
}

/// Tells whether a request sent a persisted query's hash without the query.
pub fn is_hash_only(request: &Request) -> bool {
    request.query.is_empty() && has_persisted_query(request.extensions.keys())
}

/// Request data marking a request sent with GET.
pub struct SentWithGet;

/// The source of the error that [`check_method`] returns for a mutation sent with
/// GET. The handler then responds with 405, as for any mutation sent with GET.
pub struct MutationSentWithGet;

/// Tells whether [`check_method`] rejected the request.
pub fn is_mutation_sent_with_get(response: &Response) -> bool {
    response.errors.iter().any(|error| error.source::<MutationSentWithGet>().is_some())
}

/// Rejects a mutation sent with GET whose document the persisted query cache gave. The
/// executor (`graphql::executor`) calls it after the cache, with the document it found.
///
/// # Errors
/// An error with [`MutationSentWithGet`] as its source; the handler responds with 405.
pub fn check_method(request: &mut Request) -> ServerResult<()> {
    if !request.data.contains_key(&TypeId::of::<SentWithGet>()) {
        return Ok(());
    }
    let operation_name = request.operation_name.clone();
    // A document that does not parse is left for the executor to report.
    if let Ok(document) = request.parsed_query()
        && selected_operation_type(document, operation_name.as_deref()) == Some(OperationType::Mutation)
    {
        let mut error = ServerError::new(mutation_sent_with_get_message(operation_name.as_deref()), None);
        error.source = Some(Arc::new(MutationSentWithGet));
        return Err(error);
    }
    Ok(())
}
