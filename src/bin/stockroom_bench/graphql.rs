//! The GraphQL requests the clients send, and a small client for them.

use std::{sync::Arc, time::Duration};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// A page of stock: totals and the per-warehouse figures a storefront or back office lists.
const STOCK_QUERY: &str = "query Stock($skus: [String!]!, $channel: ID!) { \
    stock(skus: $skus, channelId: $channel) { \
    sku { code } onHand available byWarehouse { warehouse { id name } onHand available } } }";

/// One booking of one unit, asking back only the new booking's id.
const BOOK_MUTATION: &str = "mutation Book($input: BookInventoryInput!) { \
    bookInventory(input: $input) { booking { id } } }";

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Builds the JSON body of a `stock` query for `codes` in `channel`.
pub fn stock_body(codes: &[String], channel: &str) -> String {
    json!({ "query": STOCK_QUERY, "variables": { "skus": codes, "channel": channel } }).to_string()
}

/// Builds the JSON body of a booking of one unit of `code` with the `PRIORITY` strategy.
pub fn booking_body(order_reference: &str, channel: &str, code: &str) -> String {
    json!({
        "query": BOOK_MUTATION,
        "variables": { "input": {
            "orderReference": order_reference,
            "channelId": channel,
            "lines": [{ "sku": code, "quantity": 1 }],
            "strategy": "PRIORITY",
        } },
    })
    .to_string()
}

/// Returns whether a `stock` response is a plain success, judged without parsing it.
///
/// A full parse of every 100-SKU page (about 180 kB) would take client CPU from the server,
/// which runs on the same two cores. async-graphql writes `data` first and
/// appends `errors` only when there are some, so a success is exactly a body that opens with
/// the `stock` list and closes right after it. [`verify_stock_page`] parses one response fully
/// before each run.
pub fn is_clean_stock_response(body: &[u8]) -> bool {
    body.starts_with(br#"{"data":{"stock":["#) && body.ends_with(b"]}}")
}

/// Per-SKU figures of a stock page, for comparing the server with the raw SQL baseline.
#[derive(Debug, PartialEq, Eq)]
pub struct SkuFigures {
    pub code: String,
    pub on_hand: i64,
    pub available: i64,
    pub warehouses: usize,
}

/// Reads a full `stock` response and checks it has no errors and one entry per requested code.
pub fn verify_stock_page(body: &[u8], codes: &[String]) -> anyhow::Result<Vec<SkuFigures>> {
    let response: Value = serde_json::from_slice(body).context("the stock response is not JSON")?;
    if let Some(errors) = response.get("errors") {
        bail!("the stock query returned errors: {errors}");
    }
    let list = response["data"]["stock"].as_array().context("the stock response has no data.stock list")?;
    if list.len() != codes.len() {
        bail!("asked for {} SKUs, got {} summaries", codes.len(), list.len());
    }
    let mut figures = Vec::with_capacity(list.len());
    for (summary, code) in list.iter().zip(codes) {
        let found = summary["sku"]["code"].as_str().unwrap_or_default();
        if found != code {
            bail!("expected SKU {code} in the stock response, found {found:?}");
        }
        figures.push(SkuFigures {
            code: code.clone(),
            on_hand: summary["onHand"].as_i64().context("onHand missing")?,
            available: summary["available"].as_i64().context("available missing")?,
            warehouses: summary["byWarehouse"].as_array().map_or(0, Vec::len),
        });
    }
    Ok(figures)
}

/// Reads a booking response: the new booking, an expected rejection, or neither.
pub fn read_booking_response(body: &[u8]) -> Result<(), BookingError> {
    let response: Value = serde_json::from_slice(body).map_err(|err| BookingError::Malformed(format!("not JSON: {err}")))?;
    if response["data"]["bookInventory"]["booking"]["id"].is_string() {
        return Ok(());
    }
    match response["errors"][0]["extensions"]["code"].as_str() {
        Some(code) => Err(BookingError::Rejected(code.to_owned())),
        None => Err(BookingError::Malformed(String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned())),
    }
}

/// The reason a booking did not succeed.
#[derive(Debug)]
pub enum BookingError {
    /// The server rejected it with this `extensions.code`.
    Rejected(String),
    /// The response was neither a booking nor a GraphQL error.
    Malformed(String),
}

/// An HTTP client for one GraphQL endpoint, cheap to clone into every load task.
#[derive(Clone)]
pub struct GraphqlClient {
    http: reqwest::Client,
    url: Arc<str>,
}

impl GraphqlClient {
    /// Creates a client that keeps up to `connections` idle keep-alive connections, one per
    /// load task.
    pub fn new(url: &str, connections: usize) -> anyhow::Result<GraphqlClient> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(connections)
            .build()
            .context("failed to build the HTTP client")?;
        Ok(GraphqlClient { http, url: Arc::from(url) })
    }

    /// Sends `body` and hands the response body to `read` when the status is 200; otherwise
    /// returns a message with the status or transport error.
    pub async fn post<T>(&self, body: String, read: impl FnOnce(&[u8]) -> T) -> Result<T, String> {
        let response = self
            .http
            .post(&*self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|err| format!("request failed: {err}"))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|err| format!("reading the response failed: {err}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)])));
        }
        Ok(read(&bytes))
    }
}
