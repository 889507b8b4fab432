//! Importers against fresh SQLite and PostgreSQL databases.
//!
//! Every test runs twice, once per backend. The PostgreSQL server is taken from
//! `STOCKROOM_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); each
//! test creates its own database named `stockroom_test_import_…` there and drops it at the end.
//!
//! Tests of real data sets read the Liferay Minium and commercetools Sunrise files from the
//! folder `../shared/data` next to the crate, which is not part of the repository. When it is
//! absent those tests print why and pass without checking anything.

use std::path::{Path, PathBuf};

use entity::{
    channel, inventory_ledger, product, sku, warehouse, warehouse_channel, warehouse_item,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use stockroom::{
    db::Db,
    domain::{ExternalReferenceCode, Name, SkuCode},
    import::{self, CsvColumns, ImportError, ImportSummary, LiferayFiles},
    service::{
        catalog::{self, NewProduct, NewSku},
        channels::{self, NewChannel},
    },
};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Databases

/// A fresh, migrated database that is removed when the test ends, even when it fails.
struct TestDatabase {
    db: Db,
    /// Holds the SQLite file.
    _dir: Option<TempDir>,
    /// Declared after `db`, so the pool closes before the database is dropped.
    _postgres: Option<DropDatabase>,
}

impl TestDatabase {
    async fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("failed to create a temporary folder");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("stockroom.db").display()
        );
        let db = stockroom::cli::open(&url)
            .await
            .expect("failed to open the SQLite database");
        TestDatabase {
            db,
            _dir: Some(dir),
            _postgres: None,
        }
    }

    async fn postgres() -> TestDatabase {
        let server = std::env::var("STOCKROOM_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let Some((base, _)) = server.rsplit_once('/') else {
            panic!("STOCKROOM_TEST_POSTGRES_URL {server:?} names no database");
        };
        let name = format!("stockroom_test_import_{}", uuid::Uuid::new_v4().simple());
        let url = format!("{base}/{name}");

        let admin = Database::connect(&server).await.unwrap_or_else(|err| {
            panic!("cannot reach PostgreSQL at {server}: {err}; start it or set STOCKROOM_TEST_POSTGRES_URL")
        });
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|err| panic!("failed to create database {name}: {err}"));
        admin.close().await.ok();

        // Created before opening, so a failing open drops the database too.
        let guard = DropDatabase { server, name };
        let db = stockroom::cli::open(&url)
            .await
            .expect("failed to open the PostgreSQL test database");
        TestDatabase {
            db,
            _dir: None,
            _postgres: Some(guard),
        }
    }
}

/// Drops a PostgreSQL test database when it goes out of scope.
struct DropDatabase {
    server: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop cannot await, and the test's runtime may be shutting down, so the database is
        // dropped from a runtime of its own on another thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = Database::connect(&server).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await?;
                anyhow::Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("failed to drop test database {}: {err:#}", self.name),
            Err(_) => eprintln!(
                "failed to drop test database {}: the dropping thread panicked",
                self.name
            ),
        }
    }
}

/// Runs a test once on SQLite and once on PostgreSQL, as two tests `NAME::sqlite` and
/// `NAME::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let database = super::TestDatabase::sqlite().await;
                    super::$name(&database.db).await;
                }

                #[tokio::test]
                async fn postgres() {
                    let database = super::TestDatabase::postgres().await;
                    super::$name(&database.db).await;
                }
            }
        )*
    };
}

on_both_backends!(
    liferay_counts,
    liferay_quantities,
    liferay_warehouse_fields,
    liferay_channel_links,
    liferay_inventory_configuration,
    liferay_estimates,
    liferay_rerun_changes_nothing,
    liferay_bad_rows_rejected,
    liferay_sku_of_other_product_rejected,
    liferay_ambiguous_channel_rejected,
    csv_real_file_and_rerun,
    csv_bad_rows_rejected,
    csv_missing_column_rejected,
    csv_custom_columns_reuse_sku,
    csv_rerun_changes_only_differences,
);

// ---------------------------------------------------------------------------------------------
// Data and queries

/// Returns the folder of real data sets, or `None` after printing why the test is skipped.
fn data_dir(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "skipping {test}: the data folder {} is absent",
            dir.display()
        );
        None
    }
}

fn minium_files(dir: &Path) -> LiferayFiles {
    LiferayFiles {
        warehouses: dir.join("liferay-minium/warehouses.json"),
        products: dir.join("liferay-minium/products.json"),
    }
}

async fn import_minium(db: &Db, dir: &Path) -> ImportSummary {
    match import::liferay(db, &minium_files(dir), "Minium Portal").await {
        Ok(summary) => summary,
        Err(err) => panic!("the Minium import failed: {err}"),
    }
}

/// Row counts of the tables an import writes.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    warehouses: u64,
    channels: u64,
    links: u64,
    products: u64,
    skus: u64,
    items: u64,
    ledger_rows: u64,
}

async fn counts(db: &Db) -> Counts {
    let conn = db.conn();
    Counts {
        warehouses: warehouse::Entity::find().count(conn).await.unwrap(),
        channels: channel::Entity::find().count(conn).await.unwrap(),
        links: warehouse_channel::Entity::find().count(conn).await.unwrap(),
        products: product::Entity::find().count(conn).await.unwrap(),
        skus: sku::Entity::find().count(conn).await.unwrap(),
        items: warehouse_item::Entity::find().count(conn).await.unwrap(),
        ledger_rows: inventory_ledger::Entity::find().count(conn).await.unwrap(),
    }
}

const EMPTY: Counts = Counts {
    warehouses: 0,
    channels: 0,
    links: 0,
    products: 0,
    skus: 0,
    items: 0,
    ledger_rows: 0,
};

/// Returns the on-hand quantity of a SKU in the warehouse with this external reference code, or
/// `None` when the SKU has no item there.
async fn on_hand(db: &Db, sku_code: &str, warehouse_code: &str) -> Option<i64> {
    let conn = db.conn();
    let code = SkuCode::parse("sku", sku_code).unwrap();
    let sku = catalog::find_sku(conn, &code)
        .await
        .expect("the SKU exists");
    let warehouse = warehouse::Entity::find()
        .filter(warehouse::Column::ExternalReferenceCode.eq(warehouse_code))
        .one(conn)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("warehouse {warehouse_code} exists"));
    warehouse_item::Entity::find()
        .filter(warehouse_item::Column::SkuId.eq(sku.id))
        .filter(warehouse_item::Column::WarehouseId.eq(warehouse.id))
        .one(conn)
        .await
        .unwrap()
        .map(|item| item.on_hand)
}

/// The Minium warehouses in the order of warehouses.json.
const MINIUM_WAREHOUSES: [&str; 3] = ["840NM87544", "840VA50309", "380RI2021"];

async fn minium_quantities(db: &Db, sku_code: &str) -> Vec<Option<i64>> {
    let mut quantities = Vec::new();
    for warehouse in MINIUM_WAREHOUSES {
        quantities.push(on_hand(db, sku_code, warehouse).await);
    }
    quantities
}

fn rejected_problems(result: Result<ImportSummary, ImportError>) -> Vec<String> {
    match result {
        Ok(summary) => panic!("the import was accepted: {summary}"),
        Err(ImportError::Failed(err)) => {
            panic!("the import failed instead of rejecting rows: {err:#}")
        }
        Err(ImportError::Rejected(problems)) => problems.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts that some problem contains every one of `parts`.
fn assert_problem(problems: &[String], parts: &[&str]) {
    assert!(
        problems
            .iter()
            .any(|problem| parts.iter().all(|part| problem.contains(part))),
        "no problem contains all of {parts:?}; problems:\n{}",
        problems.join("\n")
    );
}

fn write_file(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------
// Liferay

// Needs the real Minium files.
async fn liferay_counts(db: &Db) {
    let Some(dir) = data_dir("liferay_counts") else {
        return;
    };

    let summary = import_minium(db, &dir).await;

    assert_eq!(
        counts(db).await,
        Counts {
            warehouses: 3,
            channels: 1,
            links: 3,
            products: 50,
            skus: 54,
            items: 162,
            ledger_rows: 154
        }
    );
    assert_eq!(summary.warehouses_created, 3);
    assert_eq!(summary.products_created, 50);
    assert_eq!(summary.skus_created, 54);
    assert_eq!(summary.quantities_read, 162);
    // Eight quantities are 0, which a new item already has, so they write no ledger row.
    assert_eq!(summary.items_changed, 154);
    assert_eq!(summary.items_unchanged, 8);
    assert_eq!(summary.ledger_rows, 154);
}

// Needs the real Minium files.
async fn liferay_quantities(db: &Db) {
    let Some(dir) = data_dir("liferay_quantities") else {
        return;
    };

    import_minium(db, &dir).await;

    assert_eq!(
        minium_quantities(db, "MIN93015").await,
        [Some(60), Some(60), Some(20)]
    );
    assert_eq!(
        minium_quantities(db, "MIN00681").await,
        [Some(0), Some(3), Some(0)]
    );
    assert_eq!(
        minium_quantities(db, "MIN77822").await,
        [Some(0), Some(0), Some(0)]
    );
    // SKUs listed under Skus of Brake Fluid and Hoses.
    assert_eq!(
        minium_quantities(db, "MIN93016A").await,
        [Some(100), Some(40), Some(100)]
    );
    assert_eq!(
        minium_quantities(db, "MIN93022C").await,
        [Some(40), Some(100), Some(100)]
    );

    // Totals per warehouse over all 54 SKUs.
    for (code, total) in MINIUM_WAREHOUSES.into_iter().zip([2940, 2863, 2780]) {
        let warehouse = warehouse::Entity::find()
            .filter(warehouse::Column::ExternalReferenceCode.eq(code))
            .one(db.conn())
            .await
            .unwrap()
            .unwrap();
        let items = warehouse_item::Entity::find()
            .filter(warehouse_item::Column::WarehouseId.eq(warehouse.id))
            .all(db.conn())
            .await
            .unwrap();
        assert_eq!(
            items.iter().map(|item| item.on_hand).sum::<i64>(),
            total,
            "total of {code}"
        );
    }
}

// Needs the real Minium files.
async fn liferay_warehouse_fields(db: &Db) {
    let Some(dir) = data_dir("liferay_warehouse_fields") else {
        return;
    };

    import_minium(db, &dir).await;

    let italy = warehouse::Entity::find()
        .filter(warehouse::Column::ExternalReferenceCode.eq("380RI2021"))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(italy.name, "Italy");
    assert!(italy.active);
    assert_eq!(italy.country_code.as_deref(), Some("IT"));
    assert_eq!(italy.region_code.as_deref(), Some("RI"));
    assert_eq!(italy.city.as_deref(), Some("Borgorose"));
    assert_eq!(italy.street1.as_deref(), Some("Via delle Coste 24"));
    // Kept as the file has it, without its lost leading zero.
    assert_eq!(italy.zip.as_deref(), Some("2021"));
    assert_eq!(italy.latitude, Some(42.214601));
    assert_eq!(italy.longitude, Some(12.796434));

    let southwest = warehouse::Entity::find()
        .filter(warehouse::Column::ExternalReferenceCode.eq("840NM87544"))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(southwest.country_code.as_deref(), Some("US"));
}

// Needs the real Minium files.
async fn liferay_channel_links(db: &Db) {
    let Some(dir) = data_dir("liferay_channel_links") else {
        return;
    };

    import_minium(db, &dir).await;

    let found = channels::find_channels_by_name(db.conn(), "Minium Portal")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].active);
    let links = warehouse_channel::Entity::find()
        .filter(warehouse_channel::Column::ChannelId.eq(found[0].id))
        .count(db.conn())
        .await
        .unwrap();
    assert_eq!(links, 3);
}

// Needs the real Minium files.
async fn liferay_estimates(db: &Db) {
    let Some(dir) = data_dir("liferay_estimates") else {
        return;
    };

    let summary = import_minium(db, &dir).await;
    assert_eq!(summary.estimates_created, 3, "one estimate per distinct text");

    let stored = stockroom::service::estimates::select_estimates().all(db.conn()).await.unwrap();
    let titles: Vec<String> = stored
        .iter()
        .filter_map(|e| stockroom::service::estimates::titles_of(e).get("en_US").cloned())
        .collect();
    assert_eq!(titles, ["3-5 days", "5-7 days", "7-14 days"], "estimate titles in file order");

    // MIN77822 has no stock in any warehouse; its product allows back orders and names
    // "3-5 days", so a storefront shows it as back-orderable with that estimate.
    let channel = channels::find_channels_by_name(db.conn(), "Minium Portal").await.unwrap().remove(0);
    let code = stockroom::domain::SkuCode::parse("sku", "MIN77822").unwrap();
    let sku = stockroom::service::catalog::find_sku(db.conn(), &code).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    let shown = stockroom::service::availability::availability(db.conn(), &[sku], channel.id, today)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(shown.status, stockroom::service::availability::AvailabilityStatus::Backorderable);
    assert_eq!(shown.available, 0, "no stock anywhere");
    let estimate = shown.estimate.expect("the product's estimate is shown while not available");
    assert_eq!(
        stockroom::service::estimates::titles_of(&estimate).get("en_US").map(String::as_str),
        Some("3-5 days")
    );

    let again = import_minium(db, &dir).await;
    assert_eq!(again.estimates_created, 0, "a re-run creates no estimate");
    assert_eq!(again.estimates_reused, 3, "a re-run reuses each estimate once");
}

// Needs the real Minium files.
async fn liferay_inventory_configuration(db: &Db) {
    let Some(dir) = data_dir("liferay_inventory_configuration") else {
        return;
    };

    import_minium(db, &dir).await;

    let abs_sensor = catalog::find_product_by_erc(db.conn(), "MIN93015")
        .await
        .unwrap()
        .unwrap();
    let settings = catalog::inventory_configuration(db.conn(), abs_sensor.id)
        .await
        .unwrap();
    assert_eq!(settings.min_stock_quantity, 5);
    assert!(settings.allow_back_orders);
    assert!(settings.display_availability);
    assert!(settings.display_stock_quantity);
    // Settings the file does not give keep Liferay's defaults.
    assert_eq!(settings.min_order_quantity, 1);
    assert_eq!(settings.max_order_quantity, 10_000);

    let wear_sensors = catalog::find_product_by_erc(db.conn(), "MIN93027")
        .await
        .unwrap()
        .unwrap();
    let settings = catalog::inventory_configuration(db.conn(), wear_sensors.id)
        .await
        .unwrap();
    assert!(!settings.allow_back_orders);
}

// Needs the real Minium files.
async fn liferay_rerun_changes_nothing(db: &Db) {
    let Some(dir) = data_dir("liferay_rerun_changes_nothing") else {
        return;
    };
    import_minium(db, &dir).await;
    let before = counts(db).await;

    let summary = import_minium(db, &dir).await;

    assert_eq!(counts(db).await, before);
    assert_eq!(
        summary,
        ImportSummary {
            warehouses_reused: 3,
            channels_reused: 1,
            products_reused: 50,
            estimates_reused: 3,
            skus_reused: 54,
            quantities_read: 162,
            items_unchanged: 162,
            ..ImportSummary::default()
        }
    );
}

async fn liferay_bad_rows_rejected(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let warehouses = write_file(
        &dir,
        "warehouses.json",
        r#"[
  {"Name": "North", "ExternalReferenceCode": "N1", "Country": 840, "Latitude": 40.0, "Longitude": -73.0},
  {"Name": "Nowhere", "ExternalReferenceCode": "X1", "Country": 999},
  {"Name": "Half", "ExternalReferenceCode": "H1", "Latitude": 10.0}
]"#,
    );
    let products = write_file(
        &dir,
        "products.json",
        r#"[
  {"Name": "Good", "ExternalReferenceCode": "P1", "Sku": "S1", "Warehouse1": 4},
  {"Name": "Brake Fluid", "ExternalReferenceCode": "P2",
   "Skus": [
     {"Sku": "S2A", "Warehouse1": 1, "Warehouse2": -3},
     {"Sku": "S2B", "Warehouse1": "lots"}
   ]},
  {"Name": "No code", "Sku": "S3"},
  {"Name": "Too far", "ExternalReferenceCode": "P4", "Sku": "S4", "Warehouse9": 1},
  {"Name": "Twice", "ExternalReferenceCode": "P5", "Sku": "s1", "MinStockQuantity": -1},
  {"Name": "Odd keys", "ExternalReferenceCode": "P6", "Sku": "S6", "Warehouse0": 1, "Warehouse1": 2, "Warehouse01": 3}
]"#,
    );
    let files = LiferayFiles {
        warehouses,
        products,
    };

    let problems = rejected_problems(import::liferay(db, &files, "Test").await);

    assert_problem(
        &problems,
        &[
            "warehouses.json line 3",
            "warehouse 2 (\"Nowhere\")",
            "Country 999",
        ],
    );
    assert_problem(
        &problems,
        &["warehouses.json line 4", "longitude is missing"],
    );
    assert_problem(
        &problems,
        &[
            "products.json line 3",
            "SKU \"S2A\"",
            "Warehouse2 is -3",
            "between 0 and 1000000000",
        ],
    );
    assert_problem(
        &problems,
        &[
            "products.json line 3",
            "SKU \"S2B\"",
            "Warehouse1 is \"lots\"",
            "whole number",
        ],
    );
    assert_problem(
        &problems,
        &[
            "products.json line 8",
            "product 3 (\"No code\")",
            "ExternalReferenceCode is missing",
        ],
    );
    assert_problem(&problems, &["products.json line 9", "Warehouse9"]);
    assert_problem(
        &problems,
        &["products.json line 10", "MinStockQuantity is -1"],
    );
    assert_problem(
        &problems,
        &["products.json line 10", "SKU \"s1\"", "line 2"],
    );
    assert_problem(
        &problems,
        &["products.json line 11", "Warehouse0 names no warehouse"],
    );
    assert_problem(
        &problems,
        &[
            "products.json line 11",
            "Warehouse01 and Warehouse1 both name warehouse 1",
        ],
    );
    assert_eq!(problems.len(), 10, "problems:\n{}", problems.join("\n"));
    assert_eq!(counts(db).await, EMPTY);
}

// Needs the real Minium files.
async fn liferay_sku_of_other_product_rejected(db: &Db) {
    let Some(dir) = data_dir("liferay_sku_of_other_product_rejected") else {
        return;
    };
    let other = catalog::create_product(
        db,
        NewProduct {
            name: Name::parse("name", "Other").unwrap(),
            external_reference_code: Some(ExternalReferenceCode::parse("erc", "OTHER").unwrap()),
        },
    )
    .await
    .unwrap();
    catalog::create_sku(
        db,
        NewSku {
            product_id: other.id,
            code: SkuCode::parse("code", "min93015").unwrap(),
            published: true,
            purchasable: true,
        },
    )
    .await
    .unwrap();

    let problems =
        rejected_problems(import::liferay(db, &minium_files(&dir), "Minium Portal").await);

    assert_problem(
        &problems,
        &[
            "products.json line 2",
            "SKU \"MIN93015\"",
            "another product",
            "OTHER",
        ],
    );
    assert_eq!(problems.len(), 1, "problems:\n{}", problems.join("\n"));
    assert_eq!(
        counts(db).await,
        Counts {
            products: 1,
            skus: 1,
            ..EMPTY
        }
    );
}

// Needs the real Minium files.
async fn liferay_ambiguous_channel_rejected(db: &Db) {
    let Some(dir) = data_dir("liferay_ambiguous_channel_rejected") else {
        return;
    };
    for _ in 0..2 {
        let input = NewChannel {
            name: Name::parse("name", "Minium Portal").unwrap(),
            external_reference_code: None,
            active: true,
        };
        channels::create_channel(db, input).await.unwrap();
    }

    let problems =
        rejected_problems(import::liferay(db, &minium_files(&dir), "Minium Portal").await);

    assert_problem(
        &problems,
        &["--channel-name", "2 channels are named \"Minium Portal\""],
    );
    assert_eq!(
        counts(db).await,
        Counts {
            channels: 2,
            ..EMPTY
        }
    );
}

// ---------------------------------------------------------------------------------------------
// CSV

// Needs the real commercetools Sunrise file. One test, because each import of 14,538 rows
// takes seconds.
async fn csv_real_file_and_rerun(db: &Db) {
    let Some(dir) = data_dir("csv_real_file_and_rerun") else {
        return;
    };
    let file = dir.join("commercetools-sunrise/inventory-stores.csv");

    let first = import::stock_csv(db, &file, &CsvColumns::default())
        .await
        .expect("first import");

    assert_eq!(
        counts(db).await,
        Counts {
            warehouses: 5,
            channels: 0,
            links: 0,
            products: 11_623,
            skus: 11_623,
            items: 14_538,
            ledger_rows: 14_538 - 1_575
        }
    );
    assert_eq!(first.warehouses_created, 5);
    assert_eq!(first.skus_created, 11_623);
    assert_eq!(first.items_changed, 14_538 - 1_575);
    assert_eq!(
        on_hand(db, "M0E20000000DJ2M", "sunrise-store-vienna").await,
        Some(5)
    );
    assert_eq!(
        on_hand(db, "M0E20000000DQ28", "sunrise-store-cologne").await,
        Some(684)
    );
    assert_eq!(
        on_hand(db, "M0E20000000DQ28", "sunrise-store-munich").await,
        Some(7)
    );
    assert_eq!(
        on_hand(db, "M0E20000000DQ28", "sunrise-store-berlin").await,
        None
    );
    assert_eq!(
        on_hand(db, "M0E20000000DX1P", "sunrise-store-munich").await,
        Some(0)
    );
    let vienna = warehouse::Entity::find()
        .filter(warehouse::Column::ExternalReferenceCode.eq("sunrise-store-vienna"))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(vienna.name, "sunrise-store-vienna");
    assert!(vienna.active);
    let product = catalog::find_product_by_erc(db.conn(), "M0E20000000DJ2M")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(product.name, "M0E20000000DJ2M");

    let before = counts(db).await;
    let second = import::stock_csv(db, &file, &CsvColumns::default())
        .await
        .expect("second import");

    assert_eq!(counts(db).await, before);
    assert_eq!(second.warehouses_reused, 5);
    assert_eq!(second.skus_reused, 11_623);
    assert_eq!(second.items_unchanged, 14_538);
    assert_eq!(second.ledger_rows, 0);
}

async fn csv_bad_rows_rejected(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "stock.csv",
        "sku,quantityOnStock,supplyChannel\n\
         A1,5,store-1\n\
         A2,-3,store-1\n\
         A3,abc,store-1\n\
         ,4,store-1\n\
         A5,4\n\
         a1,6,store-1\n\
         A7,1.5,\n\
         A8,2,store-2",
    );

    let problems = rejected_problems(import::stock_csv(db, &file, &CsvColumns::default()).await);

    assert_problem(
        &problems,
        &[
            "stock.csv line 3",
            "quantityOnStock is -3",
            "between 0 and 1000000000",
        ],
    );
    assert_problem(
        &problems,
        &[
            "stock.csv line 4",
            "quantityOnStock \"abc\" is not a whole number",
        ],
    );
    assert_problem(&problems, &["stock.csv line 5", "sku is empty"]);
    assert_problem(
        &problems,
        &["stock.csv line 6", "has 2 fields but the header row has 3"],
    );
    assert_problem(
        &problems,
        &[
            "stock.csv line 7",
            "SKU \"a1\" in warehouse \"store-1\"",
            "line 2",
        ],
    );
    assert_problem(&problems, &["stock.csv line 8", "quantityOnStock \"1.5\""]);
    assert_problem(&problems, &["stock.csv line 8", "supplyChannel is empty"]);
    assert_eq!(problems.len(), 7, "problems:\n{}", problems.join("\n"));
    assert_eq!(counts(db).await, EMPTY);
}

async fn csv_missing_column_rejected(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, "stock.csv", "sku,qty,supplyChannel\nA1,5,store-1\n");

    let problems = rejected_problems(import::stock_csv(db, &file, &CsvColumns::default()).await);

    assert_problem(
        &problems,
        &[
            "stock.csv line 1",
            "\"quantityOnStock\"",
            "--quantity-column",
            "found \"sku\", \"qty\", \"supplyChannel\"",
        ],
    );
    assert_eq!(problems.len(), 1);
    assert_eq!(counts(db).await, EMPTY);
}

async fn csv_custom_columns_reuse_sku(db: &Db) {
    // A SKU that exists keeps its product; a new one gets a product of its own.
    let existing = catalog::create_product(
        db,
        NewProduct {
            name: Name::parse("name", "Kettle").unwrap(),
            external_reference_code: None,
        },
    )
    .await
    .unwrap();
    catalog::create_sku(
        db,
        NewSku {
            product_id: existing.id,
            code: SkuCode::parse("code", "KETTLE-1").unwrap(),
            published: true,
            purchasable: true,
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "levels.csv",
        "store,note,code,stock\nwest,x,kettle-1,12\nwest,,NEW-2,3\n",
    );
    let columns = CsvColumns {
        sku: "code".to_owned(),
        quantity: "stock".to_owned(),
        warehouse: "store".to_owned(),
    };

    let summary = import::stock_csv(db, &file, &columns)
        .await
        .expect("import");

    assert_eq!(summary.skus_reused, 1);
    assert_eq!(summary.skus_created, 1);
    assert_eq!(summary.products_created, 1);
    assert_eq!(on_hand(db, "KETTLE-1", "west").await, Some(12));
    assert_eq!(on_hand(db, "NEW-2", "west").await, Some(3));
    let kettle = catalog::find_sku(db.conn(), &SkuCode::parse("code", "kettle-1").unwrap())
        .await
        .unwrap();
    assert_eq!(kettle.product_id, existing.id);
    let ledger = inventory_ledger::Entity::find()
        .all(db.conn())
        .await
        .unwrap();
    assert_eq!(ledger.len(), 2);
    assert!(ledger.iter().all(|row| row.kind == "SET"));
    assert!(
        ledger
            .iter()
            .all(|row| row.actor.as_deref() == Some("import"))
    );
    assert!(
        ledger
            .iter()
            .all(|row| row.reason.as_deref() == Some("import stock-csv levels.csv"))
    );
}

async fn csv_rerun_changes_only_differences(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let first = write_file(
        &dir,
        "first.csv",
        "sku,quantityOnStock,supplyChannel\nA1,5,s1\nA2,0,s1\nA3,7,s2\n",
    );
    let second = write_file(
        &dir,
        "second.csv",
        "sku,quantityOnStock,supplyChannel\nA1,5,s1\nA2,4,s1\nA3,6,s2\nA4,1,s1\n",
    );
    import::stock_csv(db, &first, &CsvColumns::default())
        .await
        .expect("first import");

    let summary = import::stock_csv(db, &second, &CsvColumns::default())
        .await
        .expect("second import");

    assert_eq!(
        summary,
        ImportSummary {
            warehouses_reused: 2,
            products_created: 1,
            skus_created: 1,
            skus_reused: 3,
            quantities_read: 4,
            items_changed: 3,
            items_unchanged: 1,
            ledger_rows: 3,
            ..ImportSummary::default()
        }
    );
    assert_eq!(on_hand(db, "A2", "s1").await, Some(4));
    assert_eq!(on_hand(db, "A3", "s2").await, Some(6));
    assert_eq!(on_hand(db, "A4", "s1").await, Some(1));
    let a3 = catalog::find_sku(db.conn(), &SkuCode::parse("code", "A3").unwrap())
        .await
        .unwrap();
    let a3_rows = inventory_ledger::Entity::find()
        .filter(inventory_ledger::Column::SkuId.eq(a3.id))
        .order_by_asc(inventory_ledger::Column::Id)
        .all(db.conn())
        .await
        .unwrap();
    let deltas: Vec<i64> = a3_rows.iter().map(|row| row.on_hand_delta).collect();
    assert_eq!(deltas, [7, -1]);
    assert_eq!(
        a3_rows[1].reason.as_deref(),
        Some("import stock-csv second.csv")
    );
}
