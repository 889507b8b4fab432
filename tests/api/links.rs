//! Warehouse-channel links and the warehouse list filters.

use serde_json::json;

use crate::helpers::*;

const LINK: &str = "mutation($input: WarehouseChannelInput!) {
    linkWarehouseToChannel(input: $input) {
        warehouse { id channels { id } } channel { id warehouses { id } } } }";
const UNLINK: &str = "mutation($input: WarehouseChannelInput!) {
    unlinkWarehouseFromChannel(input: $input) {
        warehouse { id channels { id } } channel { id warehouses { id } } } }";
const CHANNEL_WAREHOUSES: &str = "query($id: ID) { channel(id: $id) { warehouses { id name } } }";
const WAREHOUSE_CHANNELS: &str = "query($id: ID) { warehouse(id: $id) { channels { id name } } }";

both_databases!(link_shows_on_both_sides, |app| async move {
    let channel = app.create_channel("Web").await;
    let warehouse = app.create_warehouse("Depot").await;

    let input = json!({ "input": { "warehouseId": warehouse, "channelId": channel } });
    let data = app.ok(LINK, input).await["linkWarehouseToChannel"].clone();
    assert_eq!(
        strings_at(&data["warehouse"]["channels"], "id"),
        std::slice::from_ref(&channel),
        "payload warehouse"
    );
    assert_eq!(
        strings_at(&data["channel"]["warehouses"], "id"),
        std::slice::from_ref(&warehouse),
        "payload channel"
    );

    let data = app.ok(CHANNEL_WAREHOUSES, json!({ "id": channel })).await;
    assert_eq!(
        strings_at(&data["channel"]["warehouses"], "id"),
        std::slice::from_ref(&warehouse),
        "Channel.warehouses"
    );
    let data = app.ok(WAREHOUSE_CHANNELS, json!({ "id": warehouse })).await;
    assert_eq!(
        strings_at(&data["warehouse"]["channels"], "id"),
        [channel],
        "Warehouse.channels"
    );
});

both_databases!(link_twice_is_duplicate, |app| async move {
    let channel = app.create_channel("Web").await;
    let warehouse = app.create_warehouse("Depot").await;
    app.link(&warehouse, &channel).await;

    let before = app.snapshot().await;
    let input = json!({ "input": { "warehouseId": warehouse, "channelId": channel } });
    let err = app.err(LINK, input).await;
    assert_eq!(err.code, "DUPLICATE", "second link: {err:?}");
    assert_eq!(
        err.field.as_deref(),
        Some("warehouseId"),
        "field of {err:?}"
    );
    app.assert_unchanged(&before, "a duplicate link").await;

    let data = app.ok(CHANNEL_WAREHOUSES, json!({ "id": channel })).await;
    assert_eq!(
        strings_at(&data["channel"]["warehouses"], "id"),
        [warehouse],
        "still exactly one link"
    );
});

both_databases!(unlink_removes_link, |app| async move {
    let channel = app.create_channel("Web").await;
    let remaining = app.create_warehouse("Remaining").await;
    let unlinked = app.create_warehouse("Unlinked").await;
    app.link(&remaining, &channel).await;
    app.link(&unlinked, &channel).await;

    let input = json!({ "input": { "warehouseId": unlinked, "channelId": channel } });
    let data = app.ok(UNLINK, input.clone()).await["unlinkWarehouseFromChannel"].clone();
    assert_eq!(
        data["warehouse"]["channels"],
        json!([]),
        "the warehouse serves no channel"
    );
    assert_eq!(
        strings_at(&data["channel"]["warehouses"], "id"),
        std::slice::from_ref(&remaining),
        "the channel keeps its other warehouse"
    );

    let data = app.ok(CHANNEL_WAREHOUSES, json!({ "id": channel })).await;
    assert_eq!(
        strings_at(&data["channel"]["warehouses"], "id"),
        [remaining],
        "Channel.warehouses"
    );

    let err = app.err(UNLINK, input).await;
    assert_eq!(
        err.code, "NOT_FOUND",
        "unlinking a pair that is not linked: {err:?}"
    );
});

both_databases!(channel_lists_inactive_linked_warehouses, |app| async move {
    let channel = app.create_channel("Web").await;
    let active = app.create_warehouse("Active").await;
    let inactive = app.create_inactive_warehouse("Inactive").await;
    app.link(&active, &channel).await;
    app.link(&inactive, &channel).await;

    let data = app.ok(CHANNEL_WAREHOUSES, json!({ "id": channel })).await;
    let mut ids = strings_at(&data["channel"]["warehouses"], "id");
    ids.sort();
    let mut expected = vec![active, inactive];
    expected.sort();
    assert_eq!(
        ids, expected,
        "Channel.warehouses lists active and inactive links"
    );
});

both_databases!(warehouse_lists_every_channel, |app| async move {
    let web = app.create_channel("Web").await;
    let b2b = app.create_channel("B2B").await;
    app.create_channel("Unlinked").await;
    let warehouse = app.create_warehouse("Depot").await;
    app.link(&warehouse, &web).await;
    app.link(&warehouse, &b2b).await;

    let data = app.ok(WAREHOUSE_CHANNELS, json!({ "id": warehouse })).await;
    let mut names = strings_at(&data["warehouse"]["channels"], "name");
    names.sort();
    assert_eq!(
        names,
        ["B2B", "Web"],
        "Warehouse.channels lists the linked channels only"
    );
});

const FILTERED: &str = "query($filter: WarehouseFilter) {
    warehouses(filter: $filter) { totalCount nodes { name } } }";

both_databases!(
    warehouses_filter_by_channel_active_search,
    |app| async move {
        let web = app.create_channel("Web").await;
        let b2b = app.create_channel("B2B").await;
        let milan = app.create_warehouse("Milan North").await;
        let rome = app.create_inactive_warehouse("Rome").await;
        let create = "mutation($input: CreateWarehouseInput!) {
        createWarehouse(input: $input) { warehouse { id } } }";
        let input = json!({ "input": {
        "name": "Depot 7", "city": "Torino", "externalReferenceCode": "TO-MIL-7", "active": true
    } });
        let turin = id_at(&app.ok(create, input).await["createWarehouse"]["warehouse"]);
        app.link(&milan, &web).await;
        app.link(&rome, &web).await;
        app.link(&turin, &b2b).await;

        let names = |data: serde_json::Value| {
            let mut names = strings_at(&data["warehouses"]["nodes"], "name");
            names.sort();
            names
        };
        let by_channel = app
            .ok(FILTERED, json!({ "filter": { "channelId": web } }))
            .await;
        assert_eq!(
            names(by_channel),
            ["Milan North", "Rome"],
            "filter by channel"
        );

        let active = app
            .ok(FILTERED, json!({ "filter": { "active": true } }))
            .await;
        assert_eq!(names(active), ["Depot 7", "Milan North"], "filter active");
        let inactive = app
            .ok(FILTERED, json!({ "filter": { "active": false } }))
            .await;
        assert_eq!(names(inactive), ["Rome"], "filter inactive");

        let by_name = app
            .ok(FILTERED, json!({ "filter": { "search": "mILan" } }))
            .await;
        assert_eq!(
            names(by_name),
            ["Milan North"],
            "search matches the name in any case"
        );
        let by_city = app
            .ok(FILTERED, json!({ "filter": { "search": "torino" } }))
            .await;
        assert_eq!(names(by_city), ["Depot 7"], "search matches the city");
        let by_code = app
            .ok(FILTERED, json!({ "filter": { "search": "to-mil" } }))
            .await;
        assert_eq!(
            names(by_code),
            ["Depot 7"],
            "search matches the external reference code"
        );

        let combined = json!({ "filter": { "channelId": web, "active": true, "search": "north" } });
        let data = app.ok(FILTERED, combined).await;
        assert_eq!(
            data["warehouses"]["totalCount"], 1,
            "filters combine: {data}"
        );
        assert_eq!(
            names(data),
            ["Milan North"],
            "channel, active and search together"
        );
    }
);
