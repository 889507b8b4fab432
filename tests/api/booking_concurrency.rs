//! Bookings, releases, shipments and cancellations under concurrent HTTP requests: no oversell,
//! no double count, and a ledger that balances afterwards.
//!
//! Each batch starts its requests together behind a barrier and must finish within
//! [`BATCH_TIMEOUT`]. On SQLite the server's write gate serializes the writers; on PostgreSQL
//! the row locks do.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::{bookings::*, helpers::*};

/// How long one batch of concurrent requests may take before the test fails.
const BATCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Sends all `requests` at once and returns their response bodies in the same order.
async fn race(app: &TestApp, requests: Vec<(String, Value)>) -> Vec<Value> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(query, variables)| {
            let (api, barrier) = (app.api(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                api.gql(&query, variables).await
            })
        })
        .collect();
    let joined = tokio::time::timeout(BATCH_TIMEOUT, futures_util::future::join_all(tasks))
        .await
        .unwrap_or_else(|_| {
            panic!("a batch of concurrent requests took longer than {BATCH_TIMEOUT:?}")
        });
    joined
        .into_iter()
        .map(|task| task.expect("a request task panicked"))
        .collect()
}

/// Reads the `extensions.code` of a response's first error, or `None` for a success.
fn error_code(body: &Value) -> Option<String> {
    body["errors"]
        .as_array()
        .and_then(|errors| errors.first())
        .map(|error| api_error(error).code)
}

/// Counts the successes among `bodies` and fails the test on any error whose code is not in
/// `allowed`.
fn count_successes(bodies: &[Value], allowed: &[&str], label: &str) -> usize {
    let mut successes = 0;
    for body in bodies {
        match error_code(body) {
            None => successes += 1,
            Some(code) => assert!(
                allowed.contains(&code.as_str()),
                "{label}: unexpected error {code}: {}",
                pretty(&body["errors"])
            ),
        }
    }
    successes
}

/// Builds a booking request of `quantity` units of `sku` in `channel`.
fn booking_request(channel: &str, sku: &str, quantity: i64) -> (String, Value) {
    (
        book_mutation(),
        json!({ "input": booking_input(channel, &[(sku, quantity)]) }),
    )
}

both_databases!(
    multi_thread,
    two_bookings_of_three_from_five,
    |app| async move {
        let (channel, warehouses) = app.channel_with_warehouses(1).await;
        let warehouse = warehouses[0].as_str();

        for round in 0..20 {
            let sku = format!("PAIR-{round}");
            app.create_product_with_sku(&sku).await;
            app.set_on_hand(&sku, warehouse, 5).await;

            let request = booking_request(&channel, &sku, 3);
            let bodies = race(app, vec![request.clone(), request]).await;
            let round_label = format!("round {round}");
            let successes = count_successes(&bodies, &["INSUFFICIENT_STOCK"], &round_label);
            assert_eq!(
                successes, 1,
                "{round_label}: exactly one booking of 3 out of 5 succeeds"
            );
            assert_eq!(
                stock_in(app, &sku, warehouse).await.booked,
                3,
                "{round_label}: 3 units booked"
            );
        }
        app.assert_ledger_balances().await;
    }
);

/// Reads the stock of `sku` in `channel` until `stop` is set. Returns the number of reads and
/// every read in which booked exceeded on hand or available was negative.
async fn watch_stock(
    api: Api,
    sku: String,
    channel: String,
    stop: Arc<AtomicBool>,
) -> (usize, Vec<Value>) {
    let query = "query($skus: [String!]!, $channel: ID) { stock(skus: $skus, channelId: $channel) {
        onHand booked available byWarehouse { onHand booked available } } }";
    let variables = json!({ "skus": [sku], "channel": channel });
    let (mut reads, mut violations) = (0, Vec::new());
    while !stop.load(Ordering::SeqCst) {
        let data = api.ok(query, variables.clone()).await;
        let summary = &data["stock"][0];
        let rows = summary["byWarehouse"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for level in std::iter::once(summary).chain(rows.iter()) {
            if int(&level["booked"]) > int(&level["onHand"]) || int(&level["available"]) < 0 {
                violations.push(level.clone());
            }
        }
        reads += 1;
    }
    (reads, violations)
}

both_databases!(
    multi_thread,
    fifty_bookings_of_one_from_ten,
    |app| async move {
        let (channel, warehouses, _) = stocked_channel(app, "FIFTY-1", &[10]).await;
        let stop = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(watch_stock(
            app.api(),
            "FIFTY-1".to_owned(),
            channel.clone(),
            Arc::clone(&stop),
        ));

        let bodies = race(app, vec![booking_request(&channel, "FIFTY-1", 1); 50]).await;
        stop.store(true, Ordering::SeqCst);
        let (reads, violations) = tokio::time::timeout(BATCH_TIMEOUT, reader)
            .await
            .expect("the stock reader did not stop")
            .expect("the stock reader panicked");

        let successes = count_successes(&bodies, &["INSUFFICIENT_STOCK"], "50 bookings of 1");
        assert_eq!(successes, 10, "exactly the 10 units on hand are booked");
        assert!(
            reads > 0,
            "the reader read the stock while the bookings ran"
        );
        assert!(
            violations.is_empty(),
            "{} of {reads} reads oversold: {violations:?}",
            violations.len()
        );
        let expected = StockLevel {
            on_hand: 10,
            booked: 10,
            available: 0,
        };
        assert_eq!(
            stock_in(app, "FIFTY-1", &warehouses[0]).await,
            expected,
            "stock after the race"
        );
        let booked_rows = app
            .ledger_rows()
            .await
            .into_iter()
            .filter(|row| row.kind == "BOOKED")
            .count();
        assert_eq!(
            booked_rows, 10,
            "one BOOKED ledger row per successful booking"
        );
        app.assert_ledger_balances().await;
    }
);

/// Units held per warehouse id by the active bookings with a line of `sku`.
async fn active_holds(app: &TestApp, sku: &str) -> Vec<(String, i64)> {
    let query = "query($filter: BookingListFilter) { bookings(filter: $filter, first: 500) {
        nodes { lines { sku { code } warehouse { id } heldQuantity } } } }";
    let filter = json!({ "filter": { "status": "ACTIVE", "sku": sku } });
    let data = app.ok(query, filter).await;
    let mut holds: Vec<(String, i64)> = Vec::new();
    for booking in data["bookings"]["nodes"]
        .as_array()
        .expect("nodes is a list")
    {
        for line in booking["lines"].as_array().expect("lines is a list") {
            if line["sku"]["code"] != sku {
                continue;
            }
            let warehouse = line["warehouse"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            match holds.iter_mut().find(|(id, _)| *id == warehouse) {
                Some(entry) => entry.1 += int(&line["heldQuantity"]),
                None => holds.push((warehouse, int(&line["heldQuantity"]))),
            }
        }
    }
    holds
}

both_databases!(
    multi_thread,
    booking_races_ship_release_and_deactivation,
    |app| async move {
        for round in 0..8 {
            let round_label = format!("round {round}");
            let sku = format!("MIX-{round}");
            let channel = app.create_channel(&format!("Channel {round}")).await;
            let first = linked_warehouse(app, &channel, 0, None).await;
            let second = linked_warehouse(app, &channel, 1, None).await;
            app.create_product_with_sku(&sku).await;
            app.set_on_hand(&sku, &first, 6).await;
            app.set_on_hand(&sku, &second, 6).await;
            // The shipped booking holds 5 in the first warehouse. The released one holds 1 there
            // and 3 in the second.
            let shipped = book(app, booking_input(&channel, &[(&sku, 5)])).await;
            let released = book(app, booking_input(&channel, &[(&sku, 4)])).await;

            // 4 units fit only after the release, and only while the second warehouse is active.
            let requests = vec![
                booking_request(&channel, &sku, 4),
                (
                    ship_mutation(),
                    json!({ "input": shipment_input(
                        shipped["id"].as_str().unwrap(),
                        &[(&sku, &first, 5)],
                    ) }),
                ),
                (
                    release_mutation(),
                    json!({ "input": { "bookingId": released["id"] } }),
                ),
                (
                    "mutation($input: SetWarehouseActiveInput!) {
                    setWarehouseActive(input: $input) { warehouse { id } } }"
                        .to_owned(),
                    json!({ "input": { "id": second, "active": false } }),
                ),
            ];
            let bodies = race(app, requests).await;
            count_successes(
                &bodies[..1],
                &["INSUFFICIENT_STOCK"],
                &format!("{round_label}: the booking"),
            );
            assert_eq!(
                count_successes(&bodies[1..], &[], &round_label),
                3,
                "{round_label}: ship, release and deactivate succeed"
            );

            let holds = active_holds(app, &sku).await;
            for (warehouse, on_hand) in [(&first, 1), (&second, 6)] {
                let stock = stock_in(app, &sku, warehouse).await;
                let held: i64 = holds
                    .iter()
                    .filter(|(id, _)| id == warehouse)
                    .map(|(_, units)| units)
                    .sum();
                assert_eq!(
                    stock.on_hand, on_hand,
                    "{round_label}: on hand in {warehouse}"
                );
                assert!(
                    stock.booked <= stock.on_hand,
                    "{round_label}: booked exceeds on hand in {warehouse}: {stock:?}"
                );
                assert_eq!(
                    stock.booked, held,
                    "{round_label}: booked in {warehouse} equals the active holds there"
                );
            }
        }
        app.assert_ledger_balances().await;
    }
);

both_databases!(
    multi_thread,
    concurrent_releases_count_once,
    |app| async move {
        let (channel, warehouses, _) = stocked_channel(app, "REL-1", &[10]).await;
        let booking = book(app, booking_input(&channel, &[("REL-1", 4)])).await;
        let request = (
            release_mutation(),
            json!({ "input": { "bookingId": booking["id"] } }),
        );

        let bodies = race(app, vec![request; 5]).await;
        let successes = count_successes(
            &bodies,
            &["BOOKING_NOT_ACTIVE"],
            "5 releases of one booking",
        );
        assert_eq!(successes, 1, "exactly one release succeeds");
        let expected = StockLevel {
            on_hand: 10,
            booked: 0,
            available: 10,
        };
        assert_eq!(
            stock_in(app, "REL-1", &warehouses[0]).await,
            expected,
            "released once"
        );
        let rows = app
            .ledger_rows()
            .await
            .into_iter()
            .filter(|row| row.kind == "RELEASED")
            .count();
        assert_eq!(rows, 1, "one RELEASED ledger row");
        app.assert_ledger_balances().await;
    }
);

both_databases!(
    multi_thread,
    concurrent_cancels_restore_once,
    |app| async move {
        let (channel, warehouses, _) = stocked_channel(app, "CAN-1", &[10]).await;
        let booking = book(app, booking_input(&channel, &[("CAN-1", 4)])).await;
        let shipped = ship(
            app,
            booking["id"].as_str().unwrap(),
            &[("CAN-1", &warehouses[0], 4)],
        )
        .await;
        let request = (
            cancel_mutation(),
            json!({ "input": { "id": shipped["shipment"]["id"] } }),
        );

        let bodies = race(app, vec![request; 5]).await;
        let successes = count_successes(&bodies, &["CONFLICT"], "5 cancels of one shipment");
        assert_eq!(successes, 1, "exactly one cancel succeeds");
        let expected = StockLevel {
            on_hand: 10,
            booked: 4,
            available: 6,
        };
        assert_eq!(
            stock_in(app, "CAN-1", &warehouses[0]).await,
            expected,
            "restored once"
        );
        app.assert_ledger_balances().await;
    }
);

both_databases!(
    multi_thread,
    concurrent_shipments_stay_within_hold,
    |app| async move {
        let (channel, warehouses, _) = stocked_channel(app, "SHP-1", &[10]).await;
        let booking = book(app, booking_input(&channel, &[("SHP-1", 4)])).await;
        let input = shipment_input(
            booking["id"].as_str().unwrap(),
            &[("SHP-1", &warehouses[0], 2)],
        );
        let request = (ship_mutation(), json!({ "input": input }));

        let bodies = race(app, vec![request; 5]).await;
        let allowed = ["INSUFFICIENT_STOCK", "BOOKING_NOT_ACTIVE"];
        let successes = count_successes(&bodies, &allowed, "5 shipments of 2 from a hold of 4");
        assert_eq!(successes, 2, "exactly two shipments of 2 fit the hold of 4");
        let expected = StockLevel {
            on_hand: 6,
            booked: 0,
            available: 6,
        };
        assert_eq!(
            stock_in(app, "SHP-1", &warehouses[0]).await,
            expected,
            "4 units shipped"
        );
        app.assert_ledger_balances().await;
    }
);

both_databases!(
    multi_thread,
    same_key_bookings_race_book_once,
    |app| async move {
        let (channel, warehouses, _) = stocked_channel(app, "KEY-1", &[4]).await;
        let mut input = booking_input(&channel, &[("KEY-1", 4)]);
        input["idempotencyKey"] = json!("order-1-retry");
        let request = (book_mutation(), json!({ "input": input }));

        // Stock for one booking only: a retry that books again instead of replaying must fail.
        let bodies = race(app, vec![request; 5]).await;
        let successes = count_successes(&bodies, &[], "5 retries of one booking");
        assert_eq!(successes, 5, "every retry returns the first booking");
        let ids: Vec<&Value> = bodies
            .iter()
            .map(|body| &body["data"]["bookInventory"]["booking"]["id"])
            .collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "all retries return one booking: {ids:?}"
        );
        let expected = StockLevel {
            on_hand: 4,
            booked: 4,
            available: 0,
        };
        assert_eq!(
            stock_in(app, "KEY-1", &warehouses[0]).await,
            expected,
            "booked once"
        );
        app.assert_ledger_balances().await;
    }
);

both_databases!(
    multi_thread,
    same_key_releases_race_release_once,
    |app| async move {
        let (channel, warehouses, _) = stocked_channel(app, "KEY-2", &[10]).await;
        let booking = book(app, booking_input(&channel, &[("KEY-2", 4)])).await;
        let input = json!({ "bookingId": booking["id"], "idempotencyKey": "release-1-retry" });
        let request = (release_mutation(), json!({ "input": input }));

        let bodies = race(app, vec![request; 5]).await;
        let successes = count_successes(&bodies, &[], "5 retries of one release");
        assert_eq!(successes, 5, "every retry returns the first result");
        let expected = StockLevel {
            on_hand: 10,
            booked: 0,
            available: 10,
        };
        assert_eq!(
            stock_in(app, "KEY-2", &warehouses[0]).await,
            expected,
            "released once"
        );
        app.assert_ledger_balances().await;
    }
);

both_databases!(
    multi_thread,
    adjustments_race_bookings_without_oversell,
    |app| async move {
        let (channel, warehouses, _) = stocked_channel(app, "ADJ-1", &[10]).await;
        let warehouse = warehouses[0].as_str();
        let adjustment = (
            adjust_inventory_mutation(),
            json!({ "input": { "sku": "ADJ-1", "warehouseId": warehouse, "delta": -1 } }),
        );
        let mut requests = vec![booking_request(&channel, "ADJ-1", 1); 10];
        requests.extend(vec![adjustment; 10]);

        // 20 requests each take one of the 10 free units, by booking it or by removing it.
        let bodies = race(app, requests).await;
        let booked = count_successes(&bodies[..10], &["INSUFFICIENT_STOCK"], "10 bookings of 1");
        let removed = count_successes(
            &bodies[10..],
            &["INSUFFICIENT_STOCK", "INVALID_INPUT"],
            "10 adjustments of -1",
        );
        assert_eq!(booked + removed, 10, "exactly the 10 free units are taken");
        let stock = stock_in(app, "ADJ-1", warehouse).await;
        assert_eq!(
            stock.on_hand,
            10 - removed as i64,
            "on hand lost one unit per successful adjustment"
        );
        assert_eq!(
            stock.booked, booked as i64,
            "booked gained one unit per successful booking"
        );
        assert!(
            stock.booked <= stock.on_hand,
            "booked exceeds on hand: {stock:?}"
        );
        app.assert_ledger_balances().await;
    }
);
