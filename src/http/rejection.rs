//! Responses for requests that are rejected before GraphQL execution starts.

use axum::{
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::media_type::ResponseMediaType;

/// An HTTP-level error with a message for the client: a malformed request, an
/// unsupported media type, or a mutation sent with GET.
///
/// The body is a GraphQL response with one error and no `data` entry, so
/// GraphQL clients show the message like any other request error.
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    message: String,
    /// Extra response headers. A `Vec` keeps `Result<_, Rejection>` small.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The error's `extensions.code`, for rejections that have one.
    code: Option<&'static str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    errors: [ErrorEntry<'a>; 1],
}

#[derive(Serialize)]
struct ErrorEntry<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    extensions: Option<ErrorExtensions>,
}

#[derive(Serialize)]
struct ErrorExtensions {
    code: &'static str,
}

impl Rejection {
    /// Creates a rejection with the given status code and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            headers: Vec::new(),
            code: None,
        }
    }

    /// Creates a 400 Bad Request rejection.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// Creates a 415 Unsupported Media Type rejection that names the accepted
    /// request media type in `Accept-Post`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message).with_header(
            HeaderName::from_static("accept-post"),
            HeaderValue::from_static("application/json"),
        )
    }

    /// Adds a response header, such as `Allow` for 405 Method Not Allowed.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Sets the error's `extensions.code`, such as `QUERY_TOO_COMPLEX` for a
    /// request past a limit.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// HTTP status code of the response.
    #[cfg(test)]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Message for the client.
    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Builds the response with a body of the given media type.
    pub fn into_response_as(self, media_type: ResponseMediaType) -> Response {
        tracing::debug!(status = %self.status, message = %self.message, "rejected GraphQL HTTP request");

        let body = ErrorBody {
            errors: [ErrorEntry {
                message: &self.message,
                extensions: self.code.map(|code| ErrorExtensions { code }),
            }],
        };
        // serde_json fails only on maps with non-string keys or on failing
        // `Serialize` impls, and this body has neither.
        let body = serde_json::to_vec(&body).expect("error body serializes to JSON");

        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media_type.content_type()),
        );
        // Most rejections pick their body's media type from `Accept`.
        headers.insert(header::VARY, HeaderValue::from_static("accept"));
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

impl IntoResponse for Rejection {
    /// Builds the response with an `application/json` body, for rejections
    /// that happen before the `Accept` header is read or because of it.
    fn into_response(self) -> Response {
        self.into_response_as(ResponseMediaType::Json)
    }
}
