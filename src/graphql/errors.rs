//! The one conversion from service errors to GraphQL errors.

use async_graphql::ErrorExtensions;

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
                // The client gets an id to quote; the log gets the whole cause chain once.
                let error_id = uuid::Uuid::new_v4().to_string();
                tracing::error!(error_id = %error_id, error = %format!("{cause:#}"), "internal error");
                async_graphql::Error::new(format!(
                    "internal server error (error id {error_id}); the server log has the details"
                ))
                .extend_with(|_, extensions| {
                    extensions.set("code", "INTERNAL");
                    extensions.set("errorId", error_id.as_str());
                })
            }
        }
    }
}
