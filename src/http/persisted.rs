//! Persisted queries sent over HTTP with only their hash.
//!
//! An Apollo client sends a persisted query's hash in `extensions.persistedQuery` and leaves
//! out `query` (see `graphql::persisted` for the protocol). The handler cannot tell the
//! operation of such a request before the schema's persisted query cache gives its document,
//! so the rule that GET runs only queries is applied then, by [`PersistedQueryMethodRule`].

use std::{any::TypeId, sync::Arc};

use async_graphql::{
    Request, Response, ServerError, ServerResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest},
    parser::types::OperationType,
};

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

/// The source of the error that [`PersistedQueryMethodRule`] returns for a mutation sent with
/// GET. The handler then responds with 405, as for any mutation sent with GET.
pub struct MutationSentWithGet;

/// Tells whether [`PersistedQueryMethodRule`] rejected the request.
pub fn is_mutation_sent_with_get(response: &Response) -> bool {
    response.errors.iter().any(|error| error.source::<MutationSentWithGet>().is_some())
}

/// Schema extension that rejects a persisted mutation sent with GET. It must be registered after
/// the persisted query cache, so that it checks the document the cache found.
pub struct PersistedQueryMethodRule;

impl ExtensionFactory for PersistedQueryMethodRule {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PersistedQueryMethodRule)
    }
}

#[async_trait::async_trait]
impl Extension for PersistedQueryMethodRule {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if request.data.contains_key(&TypeId::of::<SentWithGet>()) {
            let operation_name = request.operation_name.clone();
            // A document that does not parse is left for async-graphql to report.
            if let Ok(document) = request.parsed_query()
                && selected_operation_type(document, operation_name.as_deref()) == Some(OperationType::Mutation)
            {
                let mut error = ServerError::new(mutation_sent_with_get_message(operation_name.as_deref()), None);
                error.source = Some(Arc::new(MutationSentWithGet));
                return Err(error);
            }
        }
        next.run(ctx, request).await
    }
}
