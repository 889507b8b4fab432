//! Concurrent adjustments of one item lose no update and write one ledger row each.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::{Barrier, Semaphore};

use crate::helpers::*;

/// Maximum number of requests in flight at once in [`send_at_once`]. The rest wait for a permit.
const MAX_IN_FLIGHT: usize = 10;

/// Adjustments sent at once: all of them.
const ADJUSTMENTS: usize = 50;

both_databases!(
    multi_thread,
    concurrent_adjustments_sum_exactly,
    |app| async move {
        let warehouse = app.create_warehouse("Busy").await;
        app.create_product_with_sku("C-1").await;
        app.set_on_hand("C-1", &warehouse, 100).await;

        // Every request waits at the barrier until all 50 are ready, so they reach the server
        // together.
        let ready = Arc::new(Barrier::new(ADJUSTMENTS));
        let mut tasks = Vec::with_capacity(ADJUSTMENTS);
        let deltas = std::iter::repeat_n(2, ADJUSTMENTS / 2).chain(std::iter::repeat_n(-1, ADJUSTMENTS / 2));
        for (index, delta) in deltas.enumerate() {
            let api = app.api();
            let ready = Arc::clone(&ready);
            let warehouse = warehouse.clone();
            tasks.push(tokio::spawn(async move {
                ready.wait().await;
                let input = json!({ "input": {
                "sku": "C-1", "warehouseId": warehouse, "delta": delta,
                "reason": format!("concurrent {index}")
            } });
                api.gql(&adjust_inventory_mutation(), input).await
            }));
        }

        let mut failures = Vec::new();
        for task in tasks {
            let body = task.await.expect("a request task panicked");
            if body.get("errors").is_some() {
                failures.push(body["errors"].clone());
            }
        }
        assert!(
            failures.is_empty(),
            "{} adjustments failed: {failures:?}",
            failures.len()
        );

        assert_eq!(
            app.on_hand("C-1", &warehouse).await,
            Some(125),
            "100 + 25 * 2 - 25 * 1"
        );
        let adjusted = app
            .ledger_rows()
            .await
            .into_iter()
            .filter(|row| row.kind == "ADJUSTED")
            .count();
        assert_eq!(adjusted, 50, "one ledger row per adjustment");
        app.assert_ledger_balances().await;
    }
);

/// Sends `count` copies of one request at once and returns every response body.
async fn send_at_once(
    app: &TestApp,
    count: usize,
    query: &'static str,
    variables: serde_json::Value,
) -> Vec<serde_json::Value> {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let (api, permits, variables) = (app.api(), Arc::clone(&permits), variables.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            api.gql(query, variables).await
        }));
    }
    let mut bodies = Vec::with_capacity(count);
    for task in tasks {
        bodies.push(task.await.expect("a request task panicked"));
    }
    bodies
}

/// Counts the successes of `bodies` and checks that every failure has `code`.
fn successes_and_codes(bodies: &[serde_json::Value], code: &str) -> usize {
    let mut successes = 0;
    for body in bodies {
        match body["errors"].as_array().and_then(|errors| errors.first()) {
            None => successes += 1,
            Some(error) => {
                let err = api_error(error);
                assert_eq!(
                    err.code, code,
                    "a concurrent duplicate failed otherwise: {err:?}"
                );
            }
        }
    }
    successes
}

both_databases!(
    multi_thread,
    concurrent_duplicate_skus_create_one,
    |app| async move {
        let product = app.create_product("Racy").await;
        let create =
            "mutation($input: CreateSkuInput!) { createSku(input: $input) { sku { id } } }";
        let input = json!({ "input": { "productId": product, "code": "RACE-1" } });

        let bodies = send_at_once(app, 10, create, input).await;
        assert_eq!(
            successes_and_codes(&bodies, "DUPLICATE"),
            1,
            "exactly one create succeeds"
        );
        let count = app.ok("{ skus { totalCount } }", json!({})).await;
        assert_eq!(count["skus"]["totalCount"], 1, "one SKU is stored");
    }
);

both_databases!(
    multi_thread,
    concurrent_duplicate_links_create_one,
    |app| async move {
        let channel = app.create_channel("Web").await;
        let warehouse = app.create_warehouse("Depot").await;
        let link = "mutation($input: WarehouseChannelInput!) {
        linkWarehouseToChannel(input: $input) { warehouse { id } } }";
        let input = json!({ "input": { "warehouseId": warehouse, "channelId": channel } });

        let bodies = send_at_once(app, 10, link, input).await;
        assert_eq!(
            successes_and_codes(&bodies, "DUPLICATE"),
            1,
            "exactly one link succeeds"
        );
        let data = app
            .ok(
                "query($id: ID) { channel(id: $id) { warehouses { id } } }",
                json!({ "id": channel }),
            )
            .await;
        assert_eq!(
            strings_at(&data["channel"]["warehouses"], "id"),
            [warehouse],
            "one link is stored"
        );
    }
);

both_databases!(
    multi_thread,
    concurrent_first_stock_creates_one_item,
    |app| async move {
        let warehouse = app.create_warehouse("Depot").await;
        app.create_product_with_sku("FIRST-1").await;
        let adjust = "mutation($input: AdjustInventoryInput!) {
        adjustInventory(input: $input) { warehouseItem { id } } }";
        let input = json!({ "input": { "sku": "FIRST-1", "warehouseId": warehouse, "delta": 3 } });

        let bodies = send_at_once(app, 10, adjust, input).await;
        assert_eq!(
            successes_and_codes(&bodies, "none"),
            10,
            "every adjustment succeeds"
        );
        assert_eq!(app.item_rows().await.len(), 1, "one item is created");
        assert_eq!(
            app.on_hand("FIRST-1", &warehouse).await,
            Some(30),
            "10 adjustments of 3"
        );
        app.assert_ledger_balances().await;
    }
);
