//! The one conversion from service errors to GraphQL errors.

use async_graphql::{ErrorExtensions, Response};

use crate::error::Error;

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Rejected { code, message, field, details } => {
                async_graphql::Error::new(message).extend_with(|_, extensions| {
                    extensions.set("code", code.as_str());
                    if let Some(field) = &field {
                        extensions.set("field", field.as_str());
                    }
                    for (key, value) in &details {
                        if let Ok(value) = async_graphql::Value::from_json(value.clone()) {
                            extensions.set(*key, value);
                        }
                    }
                })
            }
            Error::Internal(cause) => {
                // The client gets ids to quote; the log gets the whole cause chain once, in the
                // span of the request, which carries the request id.
                let error_id = uuid::Uuid::new_v4().to_string();
                let request_id = crate::telemetry::current_request_id();
                tracing::error!(error_id = %error_id, error = %format!("{cause:#}"), "internal error");
                async_graphql::Error::new(format!(
                    "internal server error (error id {error_id}); the server log has the details"
                ))
                .extend_with(|_, extensions| {
                    extensions.set("code", "INTERNAL");
                    extensions.set("errorId", error_id.as_str());
                    if let Some(request_id) = &request_id {
                        extensions.set("requestId", request_id.as_str());
                    }
                })
            }
        }
    }
}

/// Gives every execution error of `response` a `code`.
///
/// Errors raised by resolvers carry one already. The others come from async-graphql itself,
/// mostly when an argument cannot be converted to its type (an invalid `Date`, an integer out
/// of range): those become `INVALID_INPUT`, and anything else `INTERNAL`. Errors without a
/// path come from parsing and validation, before any resolver ran, and are left as they are.
pub fn code_execution_errors(response: &mut Response) {
    for error in response.errors.iter_mut().filter(|error| !error.path.is_empty()) {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_some() {
            continue;
        }
        let code = if error.message.starts_with("Failed to parse") || error.message.starts_with("Invalid value") {
            "INVALID_INPUT"
        } else {
            "INTERNAL"
        };
        extensions.set("code", code);
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::Value;

    use super::*;
    use crate::telemetry::{RequestId, RequestScope};

    #[tokio::test]
    async fn internal_error_carries_the_request_id() {
        let id = RequestId::generate();

        let error = RequestScope::new(id.clone())
            .run(async { async_graphql::Error::from(Error::Internal(anyhow::anyhow!("the disk is full"))) })
            .await;

        let extensions = error.extensions.expect("an internal error has extensions");
        assert_eq!(extensions.get("requestId"), Some(&Value::from(id.as_str())));
        assert_eq!(extensions.get("code"), Some(&Value::from("INTERNAL")));
        assert!(extensions.get("errorId").is_some(), "the error id stays");
    }

    #[test]
    fn internal_error_outside_request_lacks_id() {
        let error = async_graphql::Error::from(Error::Internal(anyhow::anyhow!("the disk is full")));

        let extensions = error.extensions.expect("an internal error has extensions");
        assert_eq!(extensions.get("requestId"), None);
    }
}
