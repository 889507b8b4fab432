//! Authentication of GraphQL requests: the token of an HTTP request's `Authorization` header
//! or of a WebSocket's `connection_init` payload becomes the [`Caller`] the schema sees.
//!
//! The app puts its [`Authenticator`] in the request extensions. A router built without one,
//! as in this module's own tests, authenticates nothing and attaches no caller.

use std::future::Future;

use async_graphql::{Data, ServerError};
use axum::http::{Extensions, HeaderMap};

use crate::{
    auth::{self, Authenticator, Caller},
    error::Error,
};

/// Maximum length of a WebSocket close reason, in bytes.
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// Authenticates an HTTP request by its `Authorization: Bearer` header and returns its caller.
///
/// # Errors
/// An `UNAUTHENTICATED` GraphQL error, for the handler to send as a request error.
pub(super) async fn http_caller(headers: &HeaderMap, extensions: &Extensions) -> Result<Option<Caller>, ServerError> {
    let Some(authenticator) = extensions.get::<Authenticator>() else { return Ok(None) };
    let caller = async {
        let token = auth::bearer_token(headers)?;
        authenticator.authenticate(token).await
    };
    match caller.await {
        Ok(caller) => Ok(Some(caller)),
        Err(err) => {
            if err.code().is_some() {
                tracing::debug!(reason = %err.message(), "GraphQL request rejected: not authenticated");
            }
            Err(server_error(err))
        }
    }
}

/// Attaches the caller, when there is one, to a GraphQL request.
pub(super) fn with_caller(request: async_graphql::Request, caller: Option<&Caller>) -> async_graphql::Request {
    match caller {
        Some(caller) => request.data(caller.clone()),
        None => request,
    }
}

/// The `connection_init` handler of a WebSocket: it authenticates the payload's token and
/// keeps the caller for the connection's operations. A rejected token closes the connection
/// with a reason that starts with the error code: a close frame (`graphql-transport-ws`) or
/// a `connection_error` message (`graphql-ws`), as async-graphql sends them.
pub(super) fn on_connection_init(
    extensions: &Extensions,
) -> impl FnOnce(serde_json::Value) -> std::pin::Pin<Box<dyn Future<Output = async_graphql::Result<Data>> + Send>> + Send + 'static {
    let authenticator = extensions.get::<Authenticator>().cloned();
    move |payload| {
        Box::pin(async move {
            let mut data = Data::default();
            let Some(authenticator) = authenticator else { return Ok(data) };
            let caller = match auth::connection_init_token(&payload) {
                Ok(token) => authenticator.authenticate(token).await,
                Err(err) => Err(err),
            };
            match caller {
                Ok(caller) => {
                    data.insert(caller);
                    Ok(data)
                }
                Err(err) => {
                    if err.code().is_some() {
                        tracing::debug!(reason = %err.message(), "WebSocket connection rejected: not authenticated");
                    }
                    Err(async_graphql::Error::new(close_reason(err)))
                }
            }
        })
    }
}

fn server_error(err: Error) -> ServerError {
    async_graphql::Error::from(err).into_server_error(async_graphql::Pos::default())
}

/// `CODE: message`, cut to what a close frame can carry. An internal error gives its generic
/// client message, never its cause.
fn close_reason(err: Error) -> String {
    let code = err.code().map_or("INTERNAL", |code| code.as_str());
    let mut reason = format!("{code}: {}", async_graphql::Error::from(err).message);
    if reason.len() > MAX_CLOSE_REASON_BYTES {
        let mut end = MAX_CLOSE_REASON_BYTES;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn close_reason_fits_a_close_frame() {
        let err = Error::rejected(ErrorCode::Unauthenticated, "é".repeat(100));
        let reason = close_reason(err);
        assert!(reason.len() <= MAX_CLOSE_REASON_BYTES);
        assert!(reason.starts_with("UNAUTHENTICATED: "));
    }
}
