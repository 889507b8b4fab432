//! Bookings under concurrency, and the checks that nothing was oversold.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use sea_orm::{ConnectionTrait, Statement};
use serde::{Deserialize, Serialize};
use stockroom::db::Db;

use crate::{
    graphql::{self, BookingError, GraphqlClient},
    load::{LoadSettings, Outcome, Rate, pick, run_load},
    seed::{SELL_OUT_UNITS_PER_WAREHOUSE, WAREHOUSES},
};

/// Successful bookings per SKU code, counted by the clients over every run, warm-ups included,
/// to compare with what the database holds.
#[derive(Clone, Default)]
pub struct BookedTally(Arc<Mutex<HashMap<String, u64>>>);

impl BookedTally {
    fn add(&self, code: &str) {
        *self.0.lock().expect("BUG: tally poisoned").entry(code.to_owned()).or_insert(0) += 1;
    }

    fn snapshot(&self) -> HashMap<String, u64> {
        self.0.lock().expect("BUG: tally poisoned").clone()
    }
}

/// Books one unit per request, of `codes[0]` when `codes` has one entry or of a random code
/// otherwise. `run` names the run in the order references, which must be unique.
pub async fn book(client: &GraphqlClient, channel: &str, codes: &[String], run: &'static str, tally: &BookedTally, settings: LoadSettings) -> Rate {
    let (client, channel, codes, tally) = (client.clone(), Arc::<str>::from(channel), Arc::new(codes.to_vec()), tally.clone());
    run_load(settings, move |client_index, sequence| {
        let (client, channel, codes, tally) = (client.clone(), Arc::clone(&channel), Arc::clone(&codes), tally.clone());
        async move {
            let code = &codes[(pick(client_index, sequence, 3) % codes.len() as u64) as usize];
            let reference = format!("bench-{run}-{client_index}-{sequence}");
            let body = graphql::booking_body(&reference, &channel, code);
            match client.post(body, graphql::read_booking_response).await {
                Ok(Ok(())) => {
                    tally.add(code);
                    Outcome::Done
                }
                Ok(Err(BookingError::Rejected(code))) => Outcome::Rejected(code),
                Ok(Err(BookingError::Malformed(text))) => Outcome::Failed(text),
                Err(message) => Outcome::Failed(message),
            }
        }
    })
    .await
}

/// The outcome of booking a SKU with few units from many clients at once.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SellOut {
    /// Units the channel had: the SKU's on hand summed over the 20 warehouses.
    pub units: i64,
    pub attempts: u64,
    pub booked: u64,
    /// Rejections with `INSUFFICIENT_STOCK`, the expected response once the stock is gone.
    pub insufficient_stock: u64,
    /// Any other rejection or failure.
    pub other: u64,
    /// Whether exactly `units` bookings succeeded and every other attempt got `INSUFFICIENT_STOCK`.
    pub exact: bool,
}

/// Attempts per client in the sell-out check: with 64 clients, 256 attempts on 100 units.
const SELL_OUT_ATTEMPTS_PER_CLIENT: u64 = 4;

/// Books the sell-out SKU one unit at a time from `clients` clients until each has tried
/// [`SELL_OUT_ATTEMPTS_PER_CLIENT`] times, more attempts than there are units.
pub async fn sell_out(client: &GraphqlClient, channel: &str, code: &str, tally: &BookedTally, clients: usize) -> SellOut {
    let settings = LoadSettings {
        clients,
        warmup: Duration::ZERO,
        // Only a bound: the attempts are done in a second or two.
        duration: Duration::from_secs(120),
        max_requests_per_client: SELL_OUT_ATTEMPTS_PER_CLIENT,
    };
    let rate = book(client, channel, &[code.to_owned()], "sell-out", tally, settings).await;
    let units = SELL_OUT_UNITS_PER_WAREHOUSE * WAREHOUSES as i64;
    let insufficient_stock = rate.rejected.get("INSUFFICIENT_STOCK").copied().unwrap_or(0);
    let other = rate.failed + rate.rejected.values().sum::<u64>() - insufficient_stock;
    let attempts = clients as u64 * SELL_OUT_ATTEMPTS_PER_CLIENT;
    SellOut {
        units,
        attempts,
        booked: rate.completed,
        insufficient_stock,
        other,
        exact: rate.completed == units as u64 && insufficient_stock == attempts - units as u64 && other == 0,
    }
}

/// The database's stock and bookings after the booking runs, compared with the clients' counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OversellCheck {
    pub items_checked: u64,
    /// Items whose booked quantity exceeds on hand less safety stock (back orders are off).
    pub items_over_available: u64,
    /// Items whose booked quantity exceeds on hand.
    pub items_booked_over_on_hand: u64,
    /// SKUs where the clients' successful bookings, the items' booked sum and the booking
    /// lines' held sum are not all equal.
    pub skus_mismatched: u64,
    pub successful_bookings: u64,
    pub booked_units: i64,
    pub first_problem: Option<String>,
}

impl OversellCheck {
    /// Returns whether nothing was oversold and every count agrees.
    pub fn passed(&self) -> bool {
        self.items_over_available == 0 && self.items_booked_over_on_hand == 0 && self.skus_mismatched == 0
    }
}

/// Reads every warehouse item and booking line and checks them against the clients' tally.
pub async fn check_oversell(db: &Db, tally: &BookedTally) -> anyhow::Result<OversellCheck> {
    let backend = db.backend();
    let items = db
        .conn()
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT s.code, i.warehouse_id, i.on_hand, i.safety_stock, i.booked FROM warehouse_item i JOIN sku s ON s.id = i.sku_id",
        ))
        .await?;
    let lines = db
        .conn()
        .query_all_raw(Statement::from_string(
            backend,
            // SUM of BIGINT is NUMERIC on PostgreSQL; the cast keeps it a 64-bit integer on both.
            "SELECT s.code, CAST(SUM(l.quantity - l.consumed_quantity - l.released_quantity) AS BIGINT) AS held \
             FROM booking_line l JOIN sku s ON s.id = l.sku_id GROUP BY s.code",
        ))
        .await?;

    let mut check = OversellCheck::default();
    let mut booked_by_code: BTreeMap<String, i64> = BTreeMap::new();
    for row in items {
        let code: String = row.try_get("", "code")?;
        let warehouse_id: i64 = row.try_get("", "warehouse_id")?;
        let (on_hand, safety, booked): (i64, i64, i64) =
            (row.try_get("", "on_hand")?, row.try_get("", "safety_stock")?, row.try_get("", "booked")?);
        check.items_checked += 1;
        if booked > on_hand - safety {
            check.items_over_available += 1;
            check.first_problem.get_or_insert(format!("{code} in warehouse {warehouse_id}: booked {booked} > on hand {on_hand} - safety {safety}"));
        }
        if booked > on_hand {
            check.items_booked_over_on_hand += 1;
        }
        *booked_by_code.entry(code).or_insert(0) += booked;
    }

    let mut held_by_code: BTreeMap<String, i64> = BTreeMap::new();
    for row in lines {
        held_by_code.insert(row.try_get("", "code")?, row.try_get("", "held")?);
    }

    let clients = tally.snapshot();
    check.successful_bookings = clients.values().sum();
    check.booked_units = booked_by_code.values().sum();
    for (code, booked) in &booked_by_code {
        let seen = clients.get(code).copied().unwrap_or(0) as i64;
        let held = held_by_code.get(code).copied().unwrap_or(0);
        if seen != *booked || held != *booked {
            check.skus_mismatched += 1;
            check.first_problem.get_or_insert(format!("{code}: clients booked {seen}, items hold {booked}, booking lines hold {held}"));
        }
    }
    Ok(check)
}
