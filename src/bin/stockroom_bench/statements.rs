//! SQL statements per `stock` request, counted on an in-process server.

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::{
    graphql::{self, GraphqlClient},
    server::CountingServer,
};

/// Requests per size; the counts must agree, or the figure is not a property of the request.
const REPEATS: usize = 3;

/// Statement counts of `stock` requests of two sizes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StatementCounts {
    /// SKUs per request, and the statement count of each of its repeats.
    pub counts: Vec<(usize, Vec<usize>)>,
    /// The statements of the smallest request, shortened, as evidence of what runs.
    pub statements_of_smallest: Vec<String>,
}

impl StatementCounts {
    /// The count for `skus` SKUs, when every repeat agreed.
    pub fn count(&self, skus: usize) -> Option<usize> {
        let (_, repeats) = self.counts.iter().find(|(size, _)| *size == skus)?;
        let first = *repeats.first()?;
        repeats.iter().all(|count| *count == first).then_some(first)
    }
}

/// Sends `stock` requests for the first `sizes[i]` codes, [`REPEATS`] times each, and counts
/// the statements each one runs.
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
        Ok(counts)
    }
    .await;
    server.stop().await?;
    outcome
}

/// The first 160 characters of a statement, on one line.
fn shorten(sql: &str) -> String {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let text = words.join(" ");
    match text.char_indices().nth(160) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}
