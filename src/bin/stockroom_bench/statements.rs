//! SQL statements per `stock` request, counted on an in-process server.

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::{
    graphql::{self, GraphqlClient},
    server::CountingServer,
};

/// Requests per size; the counts must agree, or the figure is not a property of the request.
const REPEATS: usize = 3;

/// Statement counts of `stock` requests of two sizes and of one booking.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StatementCounts {
    /// SKUs per request, and the statement count of each of its repeats.
    pub counts: Vec<(usize, Vec<usize>)>,
    /// The statements of the smallest request, shortened, as evidence of what runs.
    pub statements_of_smallest: Vec<String>,
    /// Statements of one `bookInventory` of one unit, as counted by the statement observer.
    pub booking_statements: usize,
    /// The booking's distinct statements, shortened, with how often each ran.
    pub statements_of_booking: Vec<(String, usize)>,
}

impl StatementCounts {
    /// Returns the count for `skus` SKUs, when every repeat agreed.
    pub fn count(&self, skus: usize) -> Option<usize> {
        let (_, repeats) = self.counts.iter().find(|(size, _)| *size == skus)?;
        let first = *repeats.first()?;
        repeats.iter().all(|count| *count == first).then_some(first)
    }
}

/// Sends `stock` requests for the first `sizes[i]` codes, [`REPEATS`] times each, then books
/// one unit of the SKU in the middle of `codes`, and counts the statements each request runs.
pub async fn count_statements(database_url: &str, codes: &[String], channel: &str, sizes: &[usize]) -> anyhow::Result<StatementCounts> {
    let server = CountingServer::start(database_url).await?;
    let outcome = async {
        let client = GraphqlClient::new(&server.graphql_url(), 1)?;
        let mut counts = StatementCounts::default();
        for &size in sizes {
            let page = &codes[..size];
            let mut repeats = Vec::with_capacity(REPEATS);
            for _ in 0..REPEATS {
                server.statements.take();
                let body = client.post(graphql::stock_body(page, channel), <[u8]>::to_vec).await.map_err(anyhow::Error::msg)?;
                graphql::verify_stock_page(&body, page)?;
                let statements = server.statements.take();
                repeats.push(statements.len());
                if size == sizes[0] {
                    counts.statements_of_smallest = statements.iter().map(|sql| shorten(sql)).collect();
                }
            }
            counts.counts.push((size, repeats));
        }
        if counts.statements_of_smallest.is_empty() {
            bail!("no statement was recorded: is the statement observer installed?");
        }

        server.statements.take();
        let body = graphql::booking_body("bench-statement-count", channel, &codes[codes.len() / 2]);
        match client.post(body, graphql::read_booking_response).await.map_err(anyhow::Error::msg)? {
            Ok(()) => {}
            Err(err) => bail!("the booking whose statements are counted failed: {err:?}"),
        }
        let statements = server.statements.take();
        counts.booking_statements = statements.len();
        counts.statements_of_booking = group(&statements);
        Ok(counts)
    }
    .await;
    server.stop().await?;
    outcome
}

/// Distinct statements in order of first appearance, with how often each ran.
fn group(statements: &[String]) -> Vec<(String, usize)> {
    let mut groups: Vec<(String, usize)> = Vec::new();
    for sql in statements {
        let text = shorten(sql);
        match groups.iter_mut().find(|(seen, _)| *seen == text) {
            Some((_, count)) => *count += 1,
            None => groups.push((text, 1)),
        }
    }
    groups
}

/// Puts a statement on one line. A long one keeps its first 120 and last 60 characters, so
/// both the table and a trailing `FOR UPDATE` show.
fn shorten(sql: &str) -> String {
    let text = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let characters: Vec<char> = text.chars().collect();
    if characters.len() <= 200 {
        return text;
    }
    let head: String = characters[..120].iter().collect();
    let tail: String = characters[characters.len() - 60..].iter().collect();
    format!("{head} … {tail}")
}
