//! Relay cursor connections over keyset pagination.
//!
//! Every list is ordered by its primary key (ascending, or descending for newest-first lists),
//! and a cursor holds the key of its row, so pages stay stable while rows are added. The total
//! count costs a second statement and runs only when a client selects `totalCount`.

use std::sync::Arc;

use async_graphql::{
    Object, OutputType,
    connection::{Connection, CursorType, Edge},
    futures_util::future::BoxFuture,
};
use futures_util::Stream;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::error::{Error, Result};

/// Page size when a client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 50;

/// The largest page a client may request, whatever `--max-page-size` is set to. The schema
/// documents `first` and `last` as "at most 500", so the option can only lower it.
pub const MAX_PAGE_SIZE: u64 = 500;

tokio::task_local! {
    /// The largest page of the request being executed, from `--max-page-size`.
    //
    // `paginate` is called from many resolvers that pass a database connection but no GraphQL
    // context. The executor (`graphql::executor`) sets this around the execution of each
    // request, and resolvers run inside that future, so the limit reaches `paginate` without
    // threading the context through every call.
    static REQUEST_MAX_PAGE_SIZE: u64;
}

/// Runs `execution` (one request's resolvers) with pages limited to `max` items, or to
/// [`MAX_PAGE_SIZE`] if `max` is larger.
pub async fn with_max_page_size<F: std::future::Future>(max: u64, execution: F) -> F::Output {
    REQUEST_MAX_PAGE_SIZE.scope(max.min(MAX_PAGE_SIZE), execution).await
}

/// Polls `stream` (one operation's responses on a WebSocket) with pages limited to `max`, as
/// [`with_max_page_size`] runs a future.
pub fn with_max_page_size_stream<S: Stream>(max: u64, stream: S) -> impl Stream<Item = S::Item> {
    let max = max.min(MAX_PAGE_SIZE);
    let mut stream = Box::pin(stream);
    futures_util::stream::poll_fn(move |cx| REQUEST_MAX_PAGE_SIZE.sync_scope(max, || stream.as_mut().poll_next(cx)))
}

/// Returns the largest page of the current request, or [`MAX_PAGE_SIZE`] outside a request's
/// execution.
pub fn max_page_size() -> u64 {
    REQUEST_MAX_PAGE_SIZE.try_with(|max| *max).unwrap_or(MAX_PAGE_SIZE)
}

/// A cursor: the opaque form of a row's primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyCursor(pub i64);

impl CursorType for KeyCursor {
    type Error = String;

    fn decode_cursor(text: &str) -> std::result::Result<Self, Self::Error> {
        let invalid = || format!("invalid cursor {text:?}: use a cursor returned by this server");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let decoded = String::from_utf8(bytes).map_err(|_| invalid())?;
        decoded
            .strip_prefix("cursor:")
            .and_then(|key| key.parse().ok())
            .map(KeyCursor)
            .ok_or_else(invalid)
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("cursor:{}", self.0))
    }
}

/// Extra connection fields: `totalCount`, computed on demand.
pub struct ConnectionInfo {
    count: Arc<dyn Fn() -> BoxFuture<'static, Result<u64>> + Send + Sync>,
}

#[Object]
impl ConnectionInfo {
    /// Number of items in the whole list, across all pages. Costs one extra query, so it is
    /// computed only when selected.
    async fn total_count(&self) -> async_graphql::Result<u64> {
        Ok((self.count)().await?)
    }
}

/// A connection of `T` with `totalCount`.
pub type Page<T> = Connection<KeyCursor, T, ConnectionInfo>;

/// Paging arguments as the client sent them.
#[derive(Clone, Debug, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Sort direction of the primary key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrder {
    Ascending,
    Descending,
}

/// Runs one page of `select`, keyed on `key`, and wraps each row with `wrap`.
pub async fn paginate<E, C, T>(
    conn: &DatabaseConnection,
    select: Select<E>,
    key: C,
    key_of: fn(&E::Model) -> i64,
    order: KeyOrder,
    args: PageArgs,
    wrap: fn(E::Model) -> T,
) -> Result<Page<T>>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ColumnTrait + Copy + Send + Sync + 'static,
    T: OutputType,
{
    let size = page_size(&args)?;
    let after = decode(args.after.as_deref(), "after")?;
    let before = decode(args.before.as_deref(), "before")?;

    // "After" means further along the list's order, which is a smaller key when descending.
    let mut page = select.clone();
    let (past_after, before_before): (fn(C, i64) -> _, fn(C, i64) -> _) = match order {
        KeyOrder::Ascending => (|c: C, v| c.gt(v), |c: C, v| c.lt(v)),
        KeyOrder::Descending => (|c: C, v| c.lt(v), |c: C, v| c.gt(v)),
    };
    if let Some(KeyCursor(value)) = after {
        page = page.filter(past_after(key, value));
    }
    if let Some(KeyCursor(value)) = before {
        page = page.filter(before_before(key, value));
    }

    // With `last`, read from the end backwards and restore the list's order afterwards.
    let from_end = args.last.is_some() && args.first.is_none();
    let ascending = (order == KeyOrder::Ascending) != from_end;
    page = if ascending { page.order_by_asc(key) } else { page.order_by_desc(key) };
    let mut rows = page.limit(size + 1).all(conn).await?;
    let has_more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    if from_end {
        rows.reverse();
    }

    let (has_previous, has_next) = if from_end {
        (has_more, before.is_some())
    } else {
        (after.is_some(), has_more)
    };
    let counter_conn = conn.clone();
    let info = ConnectionInfo {
        count: Arc::new(move || {
            let (conn, select) = (counter_conn.clone(), select.clone());
            Box::pin(async move { Ok(select.count(&conn).await?) })
        }),
    };
    let mut connection = Connection::with_additional_fields(has_previous, has_next, info);
    connection.edges.extend(
        rows.into_iter().map(|row| Edge::new(KeyCursor(key_of(&row)), wrap(row))),
    );
    Ok(connection)
}

fn page_size(args: &PageArgs) -> Result<u64> {
    if args.first.is_some() && args.last.is_some() {
        return Err(Error::invalid("first", "give either first or last, not both"));
    }
    let max = max_page_size();
    let (field, requested) = match (args.first, args.last) {
        (Some(first), _) => ("first", first),
        (_, Some(last)) => ("last", last),
        _ => return Ok(DEFAULT_PAGE_SIZE.min(max)),
    };
    if requested < 0 || requested as u64 > max {
        return Err(Error::invalid(
            field,
            format!(
                "{field} must be between 0 and {max}, got {requested}: page through longer lists with cursors \
                 (this server's {} is {max})",
                crate::limits::option::PAGE_SIZE
            ),
        ));
    }
    Ok(requested as u64)
}

fn decode(cursor: Option<&str>, field: &str) -> Result<Option<KeyCursor>> {
    cursor.map(|text| KeyCursor::decode_cursor(text).map_err(|message| Error::invalid(field, message))).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let cursor = KeyCursor(17);
        assert_eq!(KeyCursor::decode_cursor(&cursor.encode_cursor()).unwrap(), cursor);
    }

    #[test]
    fn page_size_limits() {
        let args = PageArgs { first: Some(MAX_PAGE_SIZE as i32 + 1), ..Default::default() };
        assert!(page_size(&args).is_err());
        let args = PageArgs { last: Some(-1), ..Default::default() };
        assert!(page_size(&args).is_err());
        assert_eq!(page_size(&PageArgs::default()).unwrap(), DEFAULT_PAGE_SIZE);
    }

    #[tokio::test]
    async fn page_size_follows_request_limit() {
        let args = PageArgs { first: Some(20), ..Default::default() };
        assert!(with_max_page_size(10, async { page_size(&args) }).await.is_err());
        assert_eq!(with_max_page_size(20, async { page_size(&args) }).await.unwrap(), 20);
        let args = PageArgs { first: Some(MAX_PAGE_SIZE as i32 + 1), ..Default::default() };
        assert!(with_max_page_size(10_000, async { page_size(&args) }).await.is_err());
    }
}
