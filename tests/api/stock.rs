//! Reading stock: `Sku.stock` and the top-level `stock` query count only the active
//! warehouses in scope, and a warehouse in deficit never hides stock in another.

use serde_json::{Value, json};

use crate::helpers::*;

const SKU_STOCK: &str = "query($code: String!, $channel: ID, $warehouses: [ID!]) {
    sku(code: $code) { stock(channelId: $channel, warehouseIds: $warehouses) {
        onHand safetyStock booked available
        byWarehouse { warehouse { id name } onHand safetyStock available } } } }";

const STOCK: &str = "query($skus: [String!]!, $channel: ID, $warehouses: [ID!]) {
    stock(skus: $skus, channelId: $channel, warehouseIds: $warehouses) {
        sku { code } onHand safetyStock available
        byWarehouse { warehouse { id } onHand } } }";

/// Returns the warehouse ids of a summary's `byWarehouse`, sorted.
fn warehouse_ids(summary: &Value) -> Vec<String> {
    let mut ids: Vec<String> = summary["byWarehouse"]
        .as_array()
        .expect("byWarehouse is a list")
        .iter()
        .map(|row| {
            row["warehouse"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

both_databases!(set_inventory_creates_item, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    app.create_product_with_sku("NEW-1").await;
    assert_eq!(
        app.item("NEW-1", &warehouse).await,
        None,
        "not stocked before setInventory"
    );

    let payload = app.set_on_hand("NEW-1", &warehouse, 12).await;
    assert_eq!(
        payload["warehouseItem"]["onHand"], 12,
        "the payload shows the new item"
    );
    let entries = payload["ledgerEntries"]
        .as_array()
        .expect("ledgerEntries is a list");
    assert_eq!(entries.len(), 1, "one ledger row: {entries:?}");
    assert_eq!(entries[0]["kind"], "SET", "kind of the ledger row");
    assert_eq!(entries[0]["onHandDelta"], 12, "delta of the ledger row");
    assert_eq!(entries[0]["onHandAfter"], 12, "on hand after the change");

    let item = app
        .item("NEW-1", &warehouse)
        .await
        .expect("the item now exists");
    assert_eq!(item.on_hand, 12, "stored on hand");
    assert_eq!(item.safety_stock, 0, "a new item has no safety stock");
    assert_eq!(item.booked, 0, "a new item has nothing booked");
});

/// Builds a channel with an active linked warehouse (10 units), a second active linked one
/// (5 units), an inactive linked one (100 units) and an active unlinked one (1000 units).
async fn four_warehouses(app: &TestApp) -> (String, [String; 4]) {
    let channel = app.create_channel("Web").await;
    let first = app.create_warehouse("Linked A").await;
    let second = app.create_warehouse("Linked B").await;
    let inactive = app.create_inactive_warehouse("Linked inactive").await;
    let unlinked = app.create_warehouse("Unlinked").await;
    for warehouse in [&first, &second, &inactive] {
        app.link(warehouse, &channel).await;
    }
    app.create_product_with_sku("S-1").await;
    app.set_on_hand("S-1", &first, 10).await;
    app.set_on_hand("S-1", &second, 5).await;
    app.set_on_hand("S-1", &inactive, 100).await;
    app.set_on_hand("S-1", &unlinked, 1000).await;
    (channel, [first, second, inactive, unlinked])
}

both_databases!(channel_stock_counts_active_linked_only, |app| async move {
    let (channel, [first, second, _inactive, _unlinked]) = four_warehouses(app).await;

    let data = app
        .ok(SKU_STOCK, json!({ "code": "S-1", "channel": channel }))
        .await;
    let stock = &data["sku"]["stock"];
    assert_eq!(
        stock["onHand"], 15,
        "on hand of the two active linked warehouses"
    );
    assert_eq!(
        stock["available"], 15,
        "available of the two active linked warehouses"
    );
    assert_eq!(
        warehouse_ids(stock),
        sorted(vec![first.clone(), second.clone()]),
        "byWarehouse"
    );

    let data = app
        .ok(STOCK, json!({ "skus": ["S-1"], "channel": channel }))
        .await;
    let stock = &data["stock"][0];
    assert_eq!(stock["onHand"], 15, "top-level stock: on hand");
    assert_eq!(stock["available"], 15, "top-level stock: available");
    assert_eq!(
        warehouse_ids(stock),
        sorted(vec![first, second]),
        "top-level byWarehouse"
    );
});

both_databases!(unscoped_stock_counts_all_active, |app| async move {
    let (_channel, [first, second, _inactive, unlinked]) = four_warehouses(app).await;

    let data = app.ok(SKU_STOCK, json!({ "code": "S-1" })).await;
    let stock = &data["sku"]["stock"];
    assert_eq!(
        stock["onHand"], 1015,
        "every active warehouse, linked or not"
    );
    assert_eq!(
        stock["available"], 1015,
        "available of every active warehouse"
    );
    assert_eq!(
        warehouse_ids(stock),
        sorted(vec![first, second, unlinked]),
        "byWarehouse"
    );
});

both_databases!(explicit_warehouses_count_even_inactive, |app| async move {
    let (channel, [first, _second, inactive, unlinked]) = four_warehouses(app).await;

    let data = app
        .ok(
            SKU_STOCK,
            json!({ "code": "S-1", "warehouses": [inactive, first] }),
        )
        .await;
    assert_eq!(
        data["sku"]["stock"]["onHand"], 110,
        "the listed warehouses, active or not"
    );

    let both = json!({ "code": "S-1", "channel": channel, "warehouses": [first, unlinked] });
    let data = app.ok(SKU_STOCK, both).await;
    assert_eq!(
        data["sku"]["stock"]["onHand"], 10,
        "channel and list: their intersection"
    );
});

both_databases!(deactivating_warehouse_removes_its_stock, |app| async move {
    let (channel, [first, ..]) = four_warehouses(app).await;
    let deactivate = "mutation($input: SetWarehouseActiveInput!) {
        setWarehouseActive(input: $input) { warehouse { active } } }";
    app.ok(
        deactivate,
        json!({ "input": { "id": first, "active": false } }),
    )
    .await;

    let data = app
        .ok(SKU_STOCK, json!({ "code": "S-1", "channel": channel }))
        .await;
    assert_eq!(
        data["sku"]["stock"]["available"], 5,
        "only the other active warehouse counts"
    );
});

both_databases!(unlinking_warehouse_removes_its_stock, |app| async move {
    let (channel, [first, ..]) = four_warehouses(app).await;
    let unlink = "mutation($input: WarehouseChannelInput!) {
        unlinkWarehouseFromChannel(input: $input) { warehouse { id } } }";
    app.ok(
        unlink,
        json!({ "input": { "warehouseId": first, "channelId": channel } }),
    )
    .await;

    let data = app
        .ok(SKU_STOCK, json!({ "code": "S-1", "channel": channel }))
        .await;
    assert_eq!(
        data["sku"]["stock"]["available"], 5,
        "only the linked warehouse counts"
    );
});

both_databases!(deficit_never_hides_other_stock, |app| async move {
    let (channel, warehouses) = app.channel_with_warehouses(2).await;
    app.create_product_with_sku("D-1").await;
    // On hand 2 below a safety stock of 5: this warehouse offers nothing, and is -3 alone.
    app.set_stock("D-1", &warehouses[0], 2, 5).await;
    app.set_on_hand("D-1", &warehouses[1], 4).await;

    let data = app
        .ok(SKU_STOCK, json!({ "code": "D-1", "channel": channel }))
        .await;
    let stock = &data["sku"]["stock"];
    assert_eq!(
        stock["available"], 4,
        "the deficit counts as zero, not as -3"
    );
    assert_eq!(stock["onHand"], 6, "on hand is the plain sum");
    assert_eq!(stock["safetyStock"], 5, "safety stock is the plain sum");
    let rows = stock["byWarehouse"]
        .as_array()
        .expect("byWarehouse is a list");
    let deficit = rows
        .iter()
        .find(|row| row["warehouse"]["id"] == warehouses[0]);
    let deficit = deficit.expect("the warehouse in deficit is listed");
    assert_eq!(
        deficit["available"], -3,
        "the warehouse's own available is negative"
    );

    let data = app
        .ok(STOCK, json!({ "skus": ["D-1"], "channel": channel }))
        .await;
    assert_eq!(
        data["stock"][0]["available"], 4,
        "top-level stock floors the deficit too"
    );
});

both_databases!(by_warehouse_lists_zero_stock, |app| async move {
    let (channel, warehouses) = app.channel_with_warehouses(3).await;
    app.create_product_with_sku("Z-1").await;
    app.set_on_hand("Z-1", &warehouses[0], 5).await;
    app.adjust("Z-1", &warehouses[0], -5).await;
    app.set_on_hand("Z-1", &warehouses[1], 1).await;

    let data = app
        .ok(SKU_STOCK, json!({ "code": "Z-1", "channel": channel }))
        .await;
    let stock = &data["sku"]["stock"];
    assert_eq!(
        warehouse_ids(stock),
        sorted(vec![warehouses[0].clone(), warehouses[1].clone()]),
        "stocked warehouses are listed, the one at zero included, the unstocked one not"
    );
    let rows = stock["byWarehouse"]
        .as_array()
        .expect("byWarehouse is a list");
    let zero = rows
        .iter()
        .find(|row| row["warehouse"]["id"] == warehouses[0]);
    assert_eq!(
        zero.expect("listed")["onHand"],
        0,
        "the emptied warehouse shows zero"
    );
});

both_databases!(stock_keeps_order_and_reports_unknown, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    for (code, on_hand) in [("A-1", 1), ("B-1", 2), ("C-1", 3)] {
        app.create_product_with_sku(code).await;
        app.set_on_hand(code, &warehouse, on_hand).await;
    }

    let body = app
        .gql(STOCK, json!({ "skus": ["C-1", "NOPE-9", "a-1", "B-1"] }))
        .await;
    let list = body["data"]["stock"].as_array().expect("stock is a list");
    assert_eq!(list.len(), 4, "one entry per requested code: {list:?}");
    assert_eq!(list[0]["sku"]["code"], "C-1", "first entry");
    assert_eq!(list[0]["onHand"], 3, "first entry's on hand");
    assert!(
        list[1].is_null(),
        "the unknown SKU gives null in place: {}",
        list[1]
    );
    assert_eq!(
        list[2]["sku"]["code"], "A-1",
        "a code in another case resolves"
    );
    assert_eq!(list[2]["onHand"], 1, "third entry's on hand");
    assert_eq!(list[3]["sku"]["code"], "B-1", "fourth entry");

    let errors = body["errors"]
        .as_array()
        .expect("the unknown SKU is reported");
    assert_eq!(errors.len(), 1, "one error: {errors:?}");
    let err = api_error(&errors[0]);
    assert_eq!(err.code, "NOT_FOUND", "code of {err:?}");
    assert!(
        err.message.contains("NOPE-9"),
        "the message names the SKU: {}",
        err.message
    );
    assert_eq!(
        errors[0]["path"],
        json!(["stock", 1]),
        "the error points at the null"
    );
});

both_databases!(sku_codes_differing_in_case_are_one, |app| async move {
    let warehouse = app.create_warehouse("Depot").await;
    app.create_product_with_sku("Mix-Case").await;
    app.set_on_hand(" mix-case ", &warehouse, 4).await;
    app.adjust("MIX-CASE", &warehouse, 3).await;

    let data = app.ok(STOCK, json!({ "skus": ["mix-CASE"] })).await;
    assert_eq!(
        data["stock"][0]["onHand"], 7,
        "every spelling changed the same item"
    );
    assert_eq!(
        data["stock"][0]["sku"]["code"], "Mix-Case",
        "the stored spelling is kept"
    );
    assert_eq!(app.item_rows().await.len(), 1, "one warehouse item");
});
