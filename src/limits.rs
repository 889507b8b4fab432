//! Limits on what one request may ask of the server.
//!
//! A GraphQL document a few kilobytes long can request millions of fields, because channels and
//! warehouses refer to each other and fragments can spread each other twice over. So every
//! request is measured before it runs. The schema checks the shape of the document
//! (`graphql::limits`) and the page size of connections (`graphql::connection`). The HTTP
//! handler checks the body size and the number of requests in a batch (`http::graphql`). A
//! request past a limit gets an error with the code `QUERY_TOO_COMPLEX` (HTTP 413 for the body)
//! whose message names the limit, its value and the `serve` option that sets it.

use std::num::NonZeroUsize;

use crate::graphql::connection::MAX_PAGE_SIZE;

/// The `serve` options that set each limit, named in the error messages so that a client's
/// developer can tell the operator what to raise.
pub mod option {
    /// Sets [`super::Limits::max_depth`].
    pub const DEPTH: &str = "--max-query-depth";
    /// Sets [`super::Limits::max_complexity`].
    pub const COMPLEXITY: &str = "--max-query-complexity";
    /// Sets [`super::Limits::max_aliases`].
    pub const ALIASES: &str = "--max-query-aliases";
    /// Sets [`super::Limits::max_page_size`].
    pub const PAGE_SIZE: &str = "--max-page-size";
    /// Sets [`super::Limits::max_batch_size`].
    pub const BATCH_SIZE: &str = "--max-batch-size";
    /// Sets [`super::Limits::max_body_bytes`].
    pub const BODY_BYTES: &str = "--max-body-bytes";
    /// Clears [`super::Limits::introspection`].
    pub const NO_INTROSPECTION: &str = "--no-introspection";
    /// Sets [`super::Limits::persisted_query_cache_size`].
    pub const PERSISTED_QUERY_CACHE_SIZE: &str = "--persisted-query-cache-size";

    /// Every option above, for the test that checks `serve` accepts each of them.
    pub const ALL: [&str; 8] = [
        DEPTH,
        COMPLEXITY,
        ALIASES,
        PAGE_SIZE,
        BATCH_SIZE,
        BODY_BYTES,
        NO_INTROSPECTION,
        PERSISTED_QUERY_CACHE_SIZE,
    ];
}

/// Limits on the size and shape of requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting depth of fields in a query. GraphiQL's schema query (introspection) is
    /// 15 levels deep, so a lower value breaks GraphiQL and schema tools.
    pub max_depth: usize,
    /// Maximum number of fields a query may select, counting each fragment spread in full, so
    /// that a query doubling fragments is rejected before it runs.
    pub max_complexity: usize,
    /// Maximum number of aliased fields in one document. Each alias runs its field again, so
    /// aliases multiply the work of one request.
    pub max_aliases: usize,
    /// Maximum page size of a connection (`first` or `last`). Values above [`MAX_PAGE_SIZE`]
    /// (500) act as 500.
    pub max_page_size: u64,
    /// Maximum number of requests in one batch (a JSON array of requests in one POST).
    pub max_batch_size: usize,
    /// Maximum POST body size in bytes.
    pub max_body_bytes: usize,
    /// Whether the schema runs introspection queries (`__schema` and `__type`), which GraphiQL
    /// and code generators need.
    pub introspection: bool,
    /// Number of automatic persisted queries each server instance keeps in memory. The least
    /// recently used query is dropped first.
    pub persisted_query_cache_size: NonZeroUsize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 15,
            max_complexity: 5_000,
            max_aliases: 100,
            max_page_size: MAX_PAGE_SIZE,
            max_batch_size: 10,
            max_body_bytes: 1024 * 1024,
            introspection: true,
            persisted_query_cache_size: NonZeroUsize::new(1_000).expect("BUG: 1000 is not zero"),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn serve_accepts_every_option() {
        let cli = crate::cli::Cli::command();
        let serve = cli.find_subcommand("serve").expect("BUG: no serve command");
        for name in option::ALL {
            let long = name.trim_start_matches("--");
            assert!(
                serve.get_arguments().any(|argument| argument.get_long() == Some(long)),
                "`serve` has no {name} option"
            );
        }
    }

    #[test]
    fn serve_defaults_match_limits() {
        let cli = crate::cli::Cli::try_parse_from(["stockroom", "serve"]).expect("BUG: serve parses");
        let crate::cli::Command::Serve { limits, .. } = cli.command else {
            panic!("BUG: not the serve command");
        };
        assert_eq!(Limits::from(limits), Limits::default());
    }
}
