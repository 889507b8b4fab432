//! The one error type that services return and clients see.
//!
//! An expected failure is a [`Error::Rejected`] with a stable [`ErrorCode`] that becomes the
//! GraphQL error's `extensions.code`, a message that names the wrong value and what to do, and
//! the offending input field where there is one. Anything else is [`Error::Internal`]: it is
//! logged once with its cause chain and an error id, and the client sees only the id.

use std::fmt;

use sea_orm::{DbErr, SqlErr};

/// Stable codes of expected failures, sent to clients as `extensions.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The entity named by an id, code or external reference code does not exist.
    NotFound,
    /// An input value is malformed or out of range.
    InvalidInput,
    /// The request would create something that exists already.
    Duplicate,
    /// Not enough stock for the request.
    InsufficientStock,
    /// An order quantity breaks a product's minimum, maximum, allowed or multiple rule.
    OrderQuantityRule,
    /// A compare-and-set saw another value, or an idempotency key was reused for another request.
    Conflict,
    /// The booking is not active any more.
    BookingNotActive,
    /// The warehouse is inactive.
    WarehouseInactive,
    /// The warehouse still holds stock, bookings or replenishments.
    WarehouseNotEmpty,
    /// The request carries no valid API token.
    Unauthenticated,
    /// The token's role or channels do not allow the operation.
    Forbidden,
    /// The query is deeper, larger or more complex than the server's limits allow.
    QueryTooComplex,
    /// The server does not know the hash of an automatic persisted query: the client sends the
    /// query again with its hash (Apollo's protocol, whose name for the code this is).
    PersistedQueryNotFound,
}

impl ErrorCode {
    /// The code as sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InvalidInput => "INVALID_INPUT",
            ErrorCode::Duplicate => "DUPLICATE",
            ErrorCode::InsufficientStock => "INSUFFICIENT_STOCK",
            ErrorCode::OrderQuantityRule => "ORDER_QUANTITY_RULE",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::BookingNotActive => "BOOKING_NOT_ACTIVE",
            ErrorCode::WarehouseInactive => "WAREHOUSE_INACTIVE",
            ErrorCode::WarehouseNotEmpty => "WAREHOUSE_NOT_EMPTY",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::QueryTooComplex => "QUERY_TOO_COMPLEX",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service failure.
///
/// It deliberately does not implement `Display`: async-graphql converts any `Display` error
/// into a client message, and an internal error's text must never reach a client. The one
/// conversion to a GraphQL error is in `graphql::errors`.
#[derive(Debug)]
pub enum Error {
    /// An expected failure; the message is sent to the client as it is.
    Rejected {
        code: ErrorCode,
        message: String,
        /// The input field at fault, in the client's spelling (`onHand`, `lines.0.quantity`).
        field: Option<String>,
        /// Machine-readable facts for the client, sent as further `extensions` entries (for
        /// example the rule and allowed values of an order-quantity failure).
        details: Vec<(&'static str, serde_json::Value)>,
    },
    /// A failure of the server or the database. Its text is never sent to a client.
    Internal(anyhow::Error),
}

/// Result of a service call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an expected failure without a field.
    pub fn rejected(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Rejected { code, message: message.into(), field: None, details: Vec::new() }
    }

    /// Builds an expected failure caused by one input field.
    pub fn field(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Rejected { code, message: message.into(), field: Some(field.into()), details: Vec::new() }
    }

    /// Builds an `INVALID_INPUT` failure caused by one input field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::field(ErrorCode::InvalidInput, field, message)
    }

    /// Builds a `NOT_FOUND` failure.
    pub fn not_found(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::field(ErrorCode::NotFound, field, message)
    }

    /// The client-facing message of an expected failure, or the full cause chain of an
    /// internal one (for logs only).
    pub fn message(&self) -> String {
        match self {
            Error::Rejected { message, .. } => message.clone(),
            Error::Internal(err) => format!("internal error: {err:#}"),
        }
    }

    /// The code of an expected failure; `None` for an internal error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Rejected { code, .. } => Some(*code),
            Error::Internal(_) => None,
        }
    }

    /// Adds a machine-readable fact to an expected failure.
    pub fn with_detail(mut self, key: &'static str, value: impl Into<serde_json::Value>) -> Self {
        if let Error::Rejected { details, .. } = &mut self {
            details.push((key, value.into()));
        }
        self
    }

    /// Replaces the field of an expected failure, for a check whose own field name differs
    /// from the input field that caused it.
    pub fn with_field(self, field: &str) -> Self {
        match self {
            Error::Rejected { code, message, details, .. } => {
                Error::Rejected { code, message, field: Some(field.to_owned()), details }
            }
            internal => internal,
        }
    }

    /// Prefixes the field of an expected failure, so an error in the third item of a bulk
    /// request names `items.2.onHand`.
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Error::Rejected { code, message, field, details } => Error::Rejected {
                code,
                message,
                field: Some(match field {
                    Some(field) => format!("{prefix}.{field}"),
                    None => prefix.to_owned(),
                }),
                details,
            },
            internal => internal,
        }
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_nul_in_text(&err) {
            // Input checks reject NUL in stored text; this catches it in any other argument,
            // such as a search term, before PostgreSQL's message could reach the client.
            return Error::rejected(
                ErrorCode::InvalidInput,
                "a text argument contains a NUL character (U+0000), which cannot be stored or searched: remove it",
            );
        }
        Error::Internal(anyhow::Error::new(err).context("database request failed"))
    }
}

/// Whether PostgreSQL rejected a text value holding U+0000 (SQLSTATE 22021).
fn is_nul_in_text(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let (DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner))) = err else {
        return false;
    };
    matches!(inner.as_ref(), sqlx::Error::Database(db) if db.code().as_deref() == Some("22021"))
}

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Self {
        Error::Internal(err)
    }
}

/// Maps a unique-constraint violation to a `DUPLICATE` error with the given field and message,
/// and any other database error to an internal one.
///
/// Services check for duplicates before writing, so this only decides races between two
/// concurrent requests that both passed that check.
pub fn map_unique_violation(err: DbErr, field: &str, message: impl FnOnce() -> String) -> Error {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            Error::field(ErrorCode::Duplicate, field, message())
        }
        _ => err.into(),
    }
}

/// Builds an anyhow context message for an internal step.
pub trait Context<T> {
    /// Wraps a database error with what was being done.
    fn context(self, what: &'static str) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, DbErr> {
    fn context(self, what: &'static str) -> Result<T> {
        self.map_err(|err| Error::Internal(anyhow::Error::new(err).context(what)))
    }
}
