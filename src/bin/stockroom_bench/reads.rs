//! Stock reads: through the server over HTTP, through the service functions in this process,
//! and as one hand-written SQL statement, the ceiling the other two are compared with.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};
use stockroom::{
    db::Db,
    domain::SkuCode,
    service::{catalog, stock},
};

use crate::{
    graphql::{self, GraphqlClient, SkuFigures},
    load::{LoadSettings, Outcome, Rate, pick, run_load},
    seed::{SKUS, service_error},
};

/// SKUs on one stock page.
pub const PAGE_SIZE: usize = 100;

/// Distinguishes the pseudo-random picks of each run.
const PAGE_SALT: u64 = 1;
const SINGLE_SALT: u64 = 2;

/// Picks which of the 901 windows of 100 consecutive SKUs, or which single SKU, a request reads.
fn page_offset(client: usize, sequence: u64) -> usize {
    (pick(client, sequence, PAGE_SALT) % (SKUS - PAGE_SIZE + 1) as u64) as usize
}

fn single_index(client: usize, sequence: u64) -> usize {
    (pick(client, sequence, SINGLE_SALT) % SKUS as u64) as usize
}

/// Reads random pages of 100 SKUs through the server.
pub async fn stock_page_over_http(client: &GraphqlClient, codes: &[String], channel: &str, settings: LoadSettings) -> Rate {
    // Bodies are built before the run so the clients spend their CPU on requests only.
    let bodies: Arc<Vec<String>> =
        Arc::new((0..=SKUS - PAGE_SIZE).map(|offset| graphql::stock_body(&codes[offset..offset + PAGE_SIZE], channel)).collect());
    let client = client.clone();
    run_load(settings, move |client_index, sequence| {
        let (client, bodies) = (client.clone(), Arc::clone(&bodies));
        async move {
            let body = bodies[page_offset(client_index, sequence)].clone();
            stock_outcome(client.post(body, graphql::is_clean_stock_response).await)
        }
    })
    .await
}

/// Reads one random SKU's stock across its 20 warehouses through the server.
pub async fn single_sku_over_http(client: &GraphqlClient, codes: &[String], channel: &str, settings: LoadSettings) -> Rate {
    let bodies: Arc<Vec<String>> = Arc::new(codes.iter().map(|code| graphql::stock_body(std::slice::from_ref(code), channel)).collect());
    let client = client.clone();
    run_load(settings, move |client_index, sequence| {
        let (client, bodies) = (client.clone(), Arc::clone(&bodies));
        async move {
            let body = bodies[single_index(client_index, sequence)].clone();
            stock_outcome(client.post(body, graphql::is_clean_stock_response).await)
        }
    })
    .await
}

fn stock_outcome(result: Result<bool, String>) -> Outcome {
    match result {
        Ok(true) => Outcome::Done,
        Ok(false) => Outcome::Failed("the stock response carried errors or was cut short".to_owned()),
        Err(message) => Outcome::Failed(message),
    }
}

/// Checks that the server and the raw SQL baseline return the same figures for the first page,
/// so the baseline reads the same data as the server.
pub async fn verify_page(client: &GraphqlClient, db: &Db, codes: &[String], channel_id: i64, channel: &str) -> anyhow::Result<()> {
    let page = &codes[..PAGE_SIZE];
    let body = client.post(graphql::stock_body(page, channel), <[u8]>::to_vec).await.map_err(anyhow::Error::msg)?;
    let served = graphql::verify_stock_page(&body, page)?;
    let queried = RawStock::new(db.backend(), PAGE_SIZE).read(db, channel_id, page).await?;
    if served != queried {
        bail!("the server and the raw SQL baseline disagree on the first page: {:?} vs {:?}", served.first(), queried.first());
    }
    if let Some(short) = served.iter().find(|sku| sku.warehouses != crate::seed::WAREHOUSES) {
        bail!("SKU {} is listed in {} warehouses, expected {}", short.code, short.warehouses, crate::seed::WAREHOUSES);
    }
    if !graphql::is_clean_stock_response(&body) {
        bail!("a clean stock response fails the quick check; its start: {}", String::from_utf8_lossy(&body[..body.len().min(80)]));
    }
    Ok(())
}

/// The baseline: the rows of a stock page in one statement, summed per SKU in Rust the way
/// the server sums them (on hand, and available floored at zero per warehouse).
///
/// The server also reads expired booking holds, open replenishments and inventory settings.
/// The data set has none of them, so the figures agree. The baseline leaves those statements
/// out because it is meant to be the least work that returns the page.
#[derive(Clone)]
pub struct RawStock {
    sql: Arc<str>,
    backend: DatabaseBackend,
}

impl RawStock {
    /// Builds the statement for `skus` codes on `backend`, once per run.
    pub fn new(backend: DatabaseBackend, skus: usize) -> RawStock {
        let placeholder = |position: usize| match backend {
            DatabaseBackend::Postgres => format!("${position}"),
            _ => "?".to_owned(),
        };
        // Parameters in the order they appear, since SQLite's `?` is positional: the codes,
        // then the channel.
        let keys: Vec<String> = (1..=skus).map(placeholder).collect();
        // Semi-joins on the SKU and warehouse ids let the planner walk the (sku_id,
        // warehouse_id) index, as the server's own item query does, instead of hashing the
        // whole item table.
        let sql = format!(
            "SELECT s.code, i.on_hand, i.on_hand - i.safety_stock - i.booked AS available, w.id, w.name \
             FROM warehouse_item i \
             JOIN sku s ON s.id = i.sku_id \
             JOIN warehouse w ON w.id = i.warehouse_id \
             WHERE i.sku_id IN (SELECT id FROM sku WHERE code_key IN ({})) \
             AND i.warehouse_id IN (SELECT l.warehouse_id FROM warehouse_channel l \
             JOIN warehouse a ON a.id = l.warehouse_id AND a.active WHERE l.channel_id = {}) \
             ORDER BY s.id, w.priority, w.id",
            keys.join(", "),
            placeholder(skus + 1)
        );
        RawStock { sql: Arc::from(sql), backend }
    }

    /// Reads the page of `codes` in channel `channel_id`.
    pub async fn read(&self, db: &Db, channel_id: i64, codes: &[String]) -> Result<Vec<SkuFigures>, DbErr> {
        let mut values: Vec<Value> = codes.iter().map(|code| Value::from(stockroom::domain::key_of(code))).collect();
        values.push(channel_id.into());
        let rows = db.conn().query_all_raw(Statement::from_sql_and_values(self.backend, &*self.sql, values)).await?;

        let mut figures: Vec<SkuFigures> = Vec::with_capacity(codes.len());
        for row in rows {
            let code: String = row.try_get("", "code")?;
            let on_hand: i64 = row.try_get("", "on_hand")?;
            let available: i64 = row.try_get("", "available")?;
            // The warehouse's id and name are read as the server reads them for the page.
            let _warehouse: (i64, String) = (row.try_get("", "id")?, row.try_get("", "name")?);
            match figures.last_mut() {
                Some(last) if last.code == code => {
                    last.on_hand += on_hand;
                    last.available += available.max(0);
                    last.warehouses += 1;
                }
                _ => figures.push(SkuFigures { code, on_hand, available: available.max(0), warehouses: 1 }),
            }
        }
        Ok(figures)
    }
}

/// Runs the baseline for pages of 100 SKUs (`page` true) or single SKUs.
pub async fn raw_sql(db: &Db, codes: &[String], channel_id: i64, page: bool, settings: LoadSettings) -> Rate {
    let size = if page { PAGE_SIZE } else { 1 };
    let raw = RawStock::new(db.backend(), size);
    let (db, codes) = (db.clone(), Arc::new(codes.to_vec()));
    run_load(settings, move |client_index, sequence| {
        let (raw, db, codes) = (raw.clone(), db.clone(), Arc::clone(&codes));
        async move {
            let offset = if page { page_offset(client_index, sequence) } else { single_index(client_index, sequence) };
            match raw.read(&db, channel_id, &codes[offset..offset + size]).await {
                Ok(figures) if figures.len() == size => Outcome::Done,
                Ok(figures) => Outcome::Failed(format!("raw SQL returned {} SKUs, expected {size}", figures.len())),
                Err(err) => Outcome::Failed(format!("raw SQL failed: {err}")),
            }
        }
    })
    .await
}

/// Parses the seeded codes into the domain type the services take.
pub fn parse_codes(codes: &[String]) -> anyhow::Result<Vec<SkuCode>> {
    codes.iter().map(|code| SkuCode::parse("skus", code).map_err(service_error)).collect::<anyhow::Result<_>>().context("invalid seeded code")
}

/// Runs the resolver's service calls for pages of 100 SKUs in this process: the server's work
/// without GraphQL and HTTP.
pub async fn service_page(db: &Db, codes: Vec<SkuCode>, channel_id: i64, settings: LoadSettings) -> Rate {
    let (db, codes) = (db.clone(), Arc::new(codes));
    run_load(settings, move |client_index, sequence| {
        let (db, codes) = (db.clone(), Arc::clone(&codes));
        async move {
            let offset = page_offset(client_index, sequence);
            let page = &codes[offset..offset + PAGE_SIZE];
            let request = stock::ScopeRequest { channel_id: Some(channel_id), warehouse_ids: None };
            let result = async {
                let scope = stock::resolve_scope(db.conn(), &request).await?;
                let skus = catalog::find_skus(db.conn(), page).await?;
                stock::summarize(db.conn(), &skus, &scope).await
            }
            .await;
            match result {
                Ok(summaries) if summaries.len() == PAGE_SIZE => Outcome::Done,
                Ok(summaries) => Outcome::Failed(format!("the service returned {} summaries, expected {PAGE_SIZE}", summaries.len())),
                Err(err) => Outcome::Failed(err.message()),
            }
        }
    })
    .await
}
