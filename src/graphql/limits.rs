//! The check of every query against the server's [`Limits`]. The executor
//! (`graphql::executor`) runs it before async-graphql validates the query.
//!
//! It measures the parsed document before async-graphql validates it, because async-graphql's
//! own checks walk the document with every fragment spread expanded. A document under 2 kB
//! that spreads each fragment twice, thirty levels down, selects a billion fields. This measure
//! counts each fragment once and reuses its size, so its time grows with the document's length
//! only. It runs after the persisted query cache, so that it measures the document the cache
//! found.

use std::collections::HashMap;

use async_graphql::{
    ErrorExtensionValues, Name, Positioned, Request, ServerError, ServerResult,
    parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet},
};

use crate::{
    error::ErrorCode,
    limits::{Limits, option},
};

/// Maximum nesting of selection sets (fields, fragment spreads and inline fragments) in a
/// document. async-graphql rejects deeper documents anyway (its default
/// `limit_recursive_depth`). Stopping the measure there also keeps a long chain of fragments
/// from exhausting the stack.
const MAX_NESTING: usize = 32;

/// Maximum nesting of selection sets that async-graphql's parser accepts.
const PARSER_MAX_NESTING: usize = 64;

/// Rejects queries past the depth, complexity, alias and introspection limits, and stores the
/// page size limit that the executor sets for the resolvers of each request.
#[derive(Clone, Debug)]
pub struct QueryLimits {
    limits: Limits,
}

impl QueryLimits {
    /// Creates the extension that enforces `limits`.
    pub fn new(limits: &Limits) -> Self {
        QueryLimits { limits: limits.clone() }
    }

    /// Checks one parsed document against the limits.
    fn check(&self, document: &ExecutableDocument) -> ServerResult<()> {
        let limits = &self.limits;
        let written = Written::of(document);
        if !limits.introspection && written.introspects {
            return Err(too_complex(
                format!(
                    "introspection (`__schema` and `__type`) is disabled on this server ({}): \
                     ask the server's operator for the schema",
                    option::NO_INTROSPECTION
                ),
                None,
            ));
        }

        let size = Expansion::measure(document)?;
        if size.depth > limits.max_depth {
            return Err(too_complex(
                format!(
                    "the query is nested {} levels deep; this server allows {} ({})",
                    size.depth,
                    limits.max_depth,
                    option::DEPTH
                ),
                Some(limits.max_depth),
            ));
        }
        if size.fields > limits.max_complexity {
            return Err(too_complex(
                format!(
                    "the query selects {} fields, counting each fragment spread in full; this \
                     server allows {} ({})",
                    size.fields,
                    limits.max_complexity,
                    option::COMPLEXITY
                ),
                Some(limits.max_complexity),
            ));
        }
        if written.aliases > limits.max_aliases {
            return Err(too_complex(
                format!(
                    "the query has {} aliased fields; this server allows {} ({})",
                    written.aliases,
                    limits.max_aliases,
                    option::ALIASES
                ),
                Some(limits.max_aliases),
            ));
        }
        Ok(())
    }

    /// Converts the parser's rejection of a deeply nested document into the depth limit's
    /// error. Other parse errors are only shortened when they quote a very long line.
    fn parse_error(&self, mut error: ServerError) -> ServerError {
        let nesting = if error.message.contains("recursion limit exceeded") {
            format!("nested more than {PARSER_MAX_NESTING} levels deep")
        } else if error.message.contains("stack limit reached") {
            "nested too deeply to parse".to_owned()
        } else {
            error.message = shorten_parse_error(&error.message);
            return error;
        };
        too_complex(
            format!(
                "the query is {nesting}; this server allows {} levels of fields ({})",
                self.limits.max_depth,
                option::DEPTH
            ),
            Some(self.limits.max_depth),
        )
    }
}

impl QueryLimits {
    /// Parses the request's document, unless the HTTP layer or the persisted query cache did
    /// already, and checks it against the limits.
    ///
    /// # Errors
    /// The parse error, shortened, or `QUERY_TOO_COMPLEX` naming the limit and its option.
    pub fn check_request(&self, request: &mut Request) -> ServerResult<()> {
        let checked = request.parsed_query().map_err(|error| self.parse_error(error)).and_then(|document| self.check(document));
        if let Err(error) = &checked {
            tracing::debug!(operation = ?request.operation_name, error = %error.message, "query rejected by a limit");
        }
        checked
    }

    /// Returns the largest page a request may ask for, from `--max-page-size`.
    pub fn max_page_size(&self) -> u64 {
        self.limits.max_page_size
    }
}

/// Builds a `QUERY_TOO_COMPLEX` error, with the limit as `extensions.maximum` where there is a
/// number to give.
fn too_complex(message: String, maximum: Option<usize>) -> ServerError {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", ErrorCode::QueryTooComplex.as_str());
    if let Some(maximum) = maximum {
        extensions.set("maximum", maximum as u64);
    }
    let mut error = ServerError::new(message, None);
    error.extensions = Some(extensions);
    error
}

/// Maximum length of a parse error message sent unchanged. The parser quotes the line where it stopped,
/// and a query sent on one line can be a megabyte long.
const MAX_PARSE_ERROR_LENGTH: usize = 1_000;

/// Drops the quoted line from a parse error message longer than [`MAX_PARSE_ERROR_LENGTH`],
/// keeping the position (the first line) and the reason (the last line).
fn shorten_parse_error(message: &str) -> String {
    if message.len() <= MAX_PARSE_ERROR_LENGTH {
        return message.to_owned();
    }
    let position = message.lines().next().unwrap_or_default().trim();
    let reason = message.lines().last().unwrap_or_default().trim().trim_start_matches("= ");
    let shortened = format!("{position}: {reason}");
    if shortened.len() <= MAX_PARSE_ERROR_LENGTH {
        shortened
    } else {
        "the query is not valid GraphQL".to_owned()
    }
}

/// Counts from the document as written: each definition read once, fragments not expanded.
#[derive(Debug, Default)]
struct Written {
    /// Fields with an alias.
    aliases: usize,
    /// Whether any field is `__schema` or `__type`.
    introspects: bool,
}

impl Written {
    fn of(document: &ExecutableDocument) -> Self {
        let mut written = Written::default();
        for (_, operation) in document.operations.iter() {
            written.add(&operation.node.selection_set.node);
        }
        for fragment in document.fragments.values() {
            written.add(&fragment.node.selection_set.node);
        }
        written
    }

    /// Adds the counts of one selection set. The parser rejects documents nested more than 64
    /// levels, which bounds this recursion.
    fn add(&mut self, set: &SelectionSet) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    self.aliases += usize::from(field.node.alias.is_some());
                    self.introspects |= matches!(field.node.name.node.as_str(), "__schema" | "__type");
                    self.add(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => self.add(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
}

/// The size of a selection set with every fragment spread counted in full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Size {
    /// The deepest nesting of fields, as async-graphql's depth counts it.
    depth: usize,
    /// The number of fields, as async-graphql's complexity counts it when no field sets its
    /// own complexity.
    fields: usize,
    /// The deepest nesting of selection sets, fragments included; 1 for a set of leaf fields.
    nesting: usize,
}

/// Measures operations, remembering the size of each fragment once measured.
struct Expansion<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    measured: HashMap<&'a str, Size>,
    /// The fragments being measured, outermost first, to find a fragment that spreads itself.
    open: Vec<&'a str>,
}

impl<'a> Expansion<'a> {
    /// Returns the combined size of every operation in the document: the greatest depth and the
    /// sum of the fields.
    fn measure(document: &'a ExecutableDocument) -> ServerResult<Size> {
        let mut expansion = Expansion { fragments: &document.fragments, measured: HashMap::new(), open: Vec::new() };
        let mut total = Size::default();
        for (_, operation) in document.operations.iter() {
            let size = expansion.selection_set(&operation.node.selection_set.node, 0)?;
            total = Size {
                depth: total.depth.max(size.depth),
                fields: total.fields.saturating_add(size.fields),
                nesting: total.nesting.max(size.nesting),
            };
        }
        // A fragment measured once is reused at any level, so the nesting is checked on the
        // total too, not only while descending.
        if total.nesting > MAX_NESTING + 1 {
            return Err(too_nested());
        }
        Ok(total)
    }

    /// Measures a selection set `level` sets below its operation's.
    fn selection_set(&mut self, set: &'a SelectionSet, level: usize) -> ServerResult<Size> {
        if level > MAX_NESTING {
            return Err(too_nested());
        }
        let mut total = Size { depth: 0, fields: 0, nesting: 1 };
        for selection in &set.items {
            let size = match &selection.node {
                Selection::Field(field) => {
                    let children = &field.node.selection_set.node;
                    let inner = if children.items.is_empty() { Size::default() } else { self.selection_set(children, level + 1)? };
                    Size { depth: inner.depth + 1, fields: inner.fields.saturating_add(1), nesting: inner.nesting }
                }
                Selection::InlineFragment(fragment) => self.selection_set(&fragment.node.selection_set.node, level + 1)?,
                Selection::FragmentSpread(spread) => self.fragment(spread.node.fragment_name.node.as_str(), level + 1)?,
            };
            total.depth = total.depth.max(size.depth);
            total.fields = total.fields.saturating_add(size.fields);
            total.nesting = total.nesting.max(size.nesting + 1);
        }
        Ok(total)
    }

    /// Measures a spread fragment, or returns its size measured before. An unknown fragment
    /// counts as empty here, and validation reports it later.
    fn fragment(&mut self, name: &'a str, level: usize) -> ServerResult<Size> {
        if let Some(size) = self.measured.get(name) {
            return Ok(*size);
        }
        if self.open.contains(&name) {
            // Validation would report the cycle too, but only after following it to its
            // recursion limit once per spread, so two spreads per fragment take exponential time.
            return Err(ServerError::new(
                format!("fragment `{name}` spreads itself, directly or through other fragments: remove the cycle"),
                None,
            ));
        }
        let Some(definition) = self.fragments.get(name) else {
            return Ok(Size::default());
        };

        self.open.push(name);
        let size = self.selection_set(&definition.node.selection_set.node, level);
        self.open.pop();
        let size = size?;
        self.measured.insert(name, size);
        Ok(size)
    }
}

fn too_nested() -> ServerError {
    too_complex(
        format!(
            "the query nests fields and fragments more than {MAX_NESTING} levels deep; this \
             server allows {MAX_NESTING}: spread fewer fragments inside one another"
        ),
        Some(MAX_NESTING),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size_of(query: &str) -> ServerResult<Size> {
        let document = async_graphql::parser::parse_query(query).expect("the test query parses");
        Expansion::measure(&document)
    }

    #[test]
    fn counts_through_fragments() {
        let size = size_of("{ a { b c ...F } } fragment F on T { d { e } }").unwrap();
        assert_eq!((size.depth, size.fields), (3, 5));
    }

    #[test]
    fn counts_each_spread_in_full() {
        let query = "{ ...F2 } fragment F2 on T { ...F1 ...F1 } fragment F1 on T { ...F0 ...F0 } \
                     fragment F0 on T { a b }";
        assert_eq!(size_of(query).unwrap().fields, 8);
    }

    #[test]
    fn rejects_fragment_cycle() {
        let err = size_of("{ ...A } fragment A on T { ...B } fragment B on T { x ...A }").unwrap_err();
        assert!(err.message.contains("spreads itself"), "{}", err.message);
    }

    #[test]
    fn rejects_long_fragment_chain() {
        let mut query = String::from("{ ...F0 }");
        for index in 0..200 {
            query.push_str(&format!(" fragment F{index} on T {{ ...F{} }}", index + 1));
        }
        query.push_str(" fragment F200 on T { a }");
        let err = size_of(&query).unwrap_err();
        assert!(err.message.contains("more than 32 levels"), "{}", err.message);
    }

    #[test]
    fn measures_doubling_without_expanding() {
        let mut query = String::from("{ ...F30 } fragment F0 on T { a }");
        for index in 1..=30 {
            query.push_str(&format!(" fragment F{index} on T {{ ...F{p} ...F{p} }}", p = index - 1));
        }
        assert_eq!(size_of(&query).unwrap().fields, 1 << 30);
    }

    #[test]
    fn shortens_long_parse_error() {
        let query = format!("{{ a(x: 1 1){}", " ".repeat(5_000));
        let error = async_graphql::parser::parse_query(&query).unwrap_err().to_string();
        let shortened = shorten_parse_error(&error);
        assert!(shortened.starts_with("--> 1:"), "{shortened}");
        assert!(shortened.len() < 200, "{shortened}");
    }

    #[test]
    fn counts_written_aliases() {
        let document = async_graphql::parser::parse_query("{ a: x b: x { c: y } ...F ...F } fragment F on T { d: z }").unwrap();
        assert_eq!(Written::of(&document).aliases, 4);
    }
}
