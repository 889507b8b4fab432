//! The test harness: a fresh database and a running server for each test, typed GraphQL
//! helpers, fixtures that create data through the API, and direct reads of the tables for
//! checks that the API cannot make on its own.
//!
//! Every test is written once with [`both_databases!`] and runs against SQLite and PostgreSQL.
//! PostgreSQL tests create a database named `stockroom_test_<uuid>` through the admin URL in
//! `STOCKROOM_TEST_POSTGRES_URL` (default [`DEFAULT_POSTGRES_ADMIN_URL`]) and drop it when the
//! test ends, whether it passed or failed.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use entity::{
    channel, inventory_ledger, product, product_inventory_configuration, sku, warehouse,
    warehouse_channel, warehouse_item,
};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryOrder,
};
use serde_json::{Value, json};
use stockroom::{app::Settings, db::Db, service::activities::ActivityRegistry};
use tokio::{sync::oneshot, task::JoinHandle};

/// Admin URL used to create and drop test databases when `STOCKROOM_TEST_POSTGRES_URL` is unset.
pub const DEFAULT_POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long one GraphQL request may take before the test fails instead of hanging.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Text that only a database or driver error would put in a message. A client must never
/// see it, so every response is checked for it.
const SQL_OR_DRIVER_TEXT: [&str; 17] = [
    "SELECT",
    "INSERT",
    "UPDATE ",
    "DELETE FROM",
    "sqlx",
    "sea_orm",
    "sea-orm",
    "DbErr",
    "RuntimeErr",
    "constraint",
    "syntax error at",
    "violates",
    "duplicate key",
    "SQLITE_",
    "error returned from database",
    "pool timed out",
    "no rows returned",
];

/// The database a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL.
///
/// `both_databases!(case_name, |app| async move { … })` generates the module `case_name` with
/// the tests `sqlite` and `postgres`; `app` is a `&TestApp`. Write
/// `both_databases!(multi_thread, case_name, |app| …)` to run the server on a two-thread
/// runtime instead of the default current-thread one, or
/// `both_databases!(settings = expr, case_name, |app| …)` to start the server with other
/// [`Settings`](stockroom::app::Settings), such as lower limits. The database is dropped after
/// the body ends, also when it panics.
macro_rules! both_databases {
    ($name:ident, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::helpers::Backend::Postgres).await;
            }

            async fn run(backend: $crate::helpers::Backend) {
                let test_app = $crate::helpers::spawn_app(backend).await;
                let outcome = {
                    let $app = &test_app;
                    futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe($body)).await
                };
                test_app.cleanup().await;
                if let Err(panic) = outcome {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    };
    (settings = $settings:expr, $name:ident, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::helpers::Backend::Postgres).await;
            }

            async fn run(backend: $crate::helpers::Backend) {
                let test_app = $crate::helpers::spawn_app_with_settings(backend, $settings).await;
                let outcome = {
                    let $app = &test_app;
                    futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe($body)).await
                };
                test_app.cleanup().await;
                if let Err(panic) = outcome {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    };
    (multi_thread, $name:ident, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::helpers::Backend::Postgres).await;
            }

            async fn run(backend: $crate::helpers::Backend) {
                let test_app = $crate::helpers::spawn_app(backend).await;
                let outcome = {
                    let $app = &test_app;
                    futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe($body)).await
                };
                test_app.cleanup().await;
                if let Err(panic) = outcome {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    };
}

// ---------------------------------------------------------------- GraphQL client

/// The first error of a GraphQL response, as a client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// `extensions.code`, or an empty string when the error has none.
    pub code: String,
    /// `extensions.field`, when the server named an input field.
    pub field: Option<String>,
    pub message: String,
}

/// A GraphQL-over-HTTP client for one test server; cheap to clone into spawned tasks.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    url: String,
    /// The `Authorization` header sent with every request, if any.
    authorization: Option<String>,
}

impl Api {
    /// This client sending `Authorization: Bearer <token>`.
    pub fn with_token(&self, token: &str) -> Api {
        self.with_authorization(&format!("Bearer {token}"))
    }

    /// This client sending `value` as the `Authorization` header, for malformed headers.
    pub fn with_authorization(&self, value: &str) -> Api {
        Api { authorization: Some(value.to_owned()), ..self.clone() }
    }

    /// This client sending no `Authorization` header.
    pub fn without_token(&self) -> Api {
        Api { authorization: None, ..self.clone() }
    }

    /// Sends a query with an `Accept` header and returns the raw HTTP response.
    pub async fn post_raw(&self, accept: &str, query: &str) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, accept)
            .json(&json!({ "query": query }));
        if let Some(value) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        request.send().await.unwrap_or_else(|err| panic!("POST {} failed: {err}", self.url))
    }

    /// Sends a query or mutation and returns the whole JSON response, whatever the HTTP status.
    /// Fails the test if any error message contains SQL or driver text.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "application/graphql-response+json, application/json",
            )
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(value) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("POST {} failed: {err}", self.url));
        let status = response.status();
        let text = response
            .text()
            .await
            .expect("failed to read the response body");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|err| {
            panic!("the response (HTTP {status}) is not JSON ({err}): {text}\nquery: {query}")
        });
        assert_no_internal_text(&body);
        body
    }

    /// Sends a request that must succeed and returns its `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables.clone()).await;
        assert!(
            body.get("errors")
                .is_none_or(|errors| errors.as_array().is_some_and(Vec::is_empty)),
            "expected no errors, got {}\nquery: {query}\nvariables: {variables}",
            pretty(&body["errors"])
        );
        assert!(
            !body["data"].is_null(),
            "the response has no data: {}",
            pretty(&body)
        );
        body["data"].clone()
    }

    /// Sends a request that must fail and returns its first error.
    pub async fn err(&self, query: &str, variables: Value) -> ApiError {
        let body = self.gql(query, variables.clone()).await;
        let Some(first) = body["errors"].as_array().and_then(|errors| errors.first()) else {
            panic!(
                "expected an error, got none: {}\nquery: {query}\nvariables: {variables}",
                pretty(&body)
            );
        };
        api_error(first)
    }
}

/// Reads one entry of a response's `errors` list.
pub fn api_error(error: &Value) -> ApiError {
    ApiError {
        code: error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        field: error["extensions"]["field"].as_str().map(str::to_owned),
        message: error["message"].as_str().unwrap_or_default().to_owned(),
    }
}

/// Fails the test if an error message of `body` contains text from SQL or the database driver.
pub fn assert_no_internal_text(body: &Value) {
    let Some(errors) = body["errors"].as_array() else {
        return;
    };
    for error in errors {
        let message = error["message"].as_str().unwrap_or_default();
        for text in SQL_OR_DRIVER_TEXT {
            assert!(
                !message.contains(text),
                "an error message exposes database text {text:?}: {message:?}"
            );
        }
    }
}

/// Formats JSON for failure messages.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

// ---------------------------------------------------------------- statement counter

/// Counts the statements the server runs, for tests that prove a query does not run one
/// statement per item.
#[derive(Clone, Debug, Default)]
pub struct StatementLog {
    count: Arc<AtomicUsize>,
    recent: Arc<Mutex<Vec<String>>>,
}

impl StatementLog {
    /// Forgets every statement seen so far.
    pub fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
        self.recent.lock().expect("statement log lock").clear();
    }

    /// Number of statements since the last reset.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Returns the SQL of the statements since the last reset, for failure messages.
    pub fn statements(&self) -> Vec<String> {
        self.recent.lock().expect("statement log lock").clone()
    }

    fn record(&self, sql: &str) {
        self.count.fetch_add(1, Ordering::SeqCst);
        let mut recent = self.recent.lock().expect("statement log lock");
        // Keeps memory bounded while a fixture writes thousands of rows.
        if recent.len() < 2000 {
            recent.push(sql.to_owned());
        }
    }
}

// ---------------------------------------------------------------- the app

/// Where a test's database lives, so it can be removed at the end.
enum Store {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

/// A running server on its own fresh database.
pub struct TestApp {
    pub backend: Backend,
    /// The database URL, for starting more server instances on the same database.
    url: String,
    pub statements: StatementLog,
    api: Api,
    /// The test's own connection, for reading tables directly.
    database: DatabaseConnection,
    db: Db,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    store: Store,
}

/// Creates a fresh database for `backend`, migrates it and starts the server on a free port,
/// without authentication (the library's default), so requests need no token.
///
/// Panics with instructions when PostgreSQL is unreachable: PostgreSQL tests never skip.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, ActivityRegistry::default()).await
}

/// Like [`spawn_app`], with the server running `activities` on low-stock crossings.
pub async fn spawn_app_with(backend: Backend, activities: ActivityRegistry) -> TestApp {
    spawn(backend, activities, Settings::default()).await
}

/// Like [`spawn_app`], with a server that requires an API token on every request. The app's own
/// client, which the fixtures use, carries an admin token; [`TestApp::create_token`] makes
/// others.
pub async fn spawn_app_with_auth(backend: Backend) -> TestApp {
    let settings = Settings { auth: stockroom::auth::AuthMode::Required, ..Settings::default() };
    let mut app = spawn_app_with_settings(backend, settings).await;
    let admin = app.create_token(stockroom::auth::Role::Admin, &[]).await;
    app.api = app.api.with_token(&admin.secret);
    app
}

/// A token made by [`TestApp::create_token`].
#[derive(Clone, Debug)]
pub struct TestToken {
    pub id: i64,
    pub secret: String,
}

impl TestApp {
    /// Creates an API token through the library, as `stockroom token create` does. `channels`
    /// are channel ids or external reference codes.
    pub async fn create_token(&self, role: stockroom::auth::Role, channels: &[&str]) -> TestToken {
        let new = stockroom::service::tokens::NewToken {
            role,
            channels: channels.iter().map(|channel| (*channel).to_owned()).collect(),
            name: Some(format!("test {}", role.as_str())),
        };
        let created = stockroom::service::tokens::create_token(&self.db, new)
            .await
            .unwrap_or_else(|err| panic!("failed to create a {} token: {}", role.as_str(), err.message()));
        TestToken { id: created.token.id, secret: created.secret }
    }

    /// Revokes an API token through the library, as `stockroom token revoke` does.
    pub async fn revoke_token(&self, id: i64) {
        stockroom::service::tokens::revoke_token(&self.db, id)
            .await
            .unwrap_or_else(|err| panic!("failed to revoke token {id}: {}", err.message()));
    }
}

/// Like [`spawn_app`], with the server started with `settings`, such as lower limits.
pub async fn spawn_app_with_settings(backend: Backend, settings: Settings) -> TestApp {
    spawn(backend, ActivityRegistry::default(), settings).await
}

async fn spawn(backend: Backend, activities: ActivityRegistry, settings: Settings) -> TestApp {
    let (url, store) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("failed to create a temporary directory");
            let path = dir.path().join("stockroom.db");
            (
                format!("sqlite://{}?mode=rwc", path.display()),
                Store::Sqlite { _dir: dir },
            )
        }
        Backend::Postgres => {
            let admin_url = std::env::var("STOCKROOM_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| DEFAULT_POSTGRES_ADMIN_URL.to_owned());
            let name = format!("stockroom_test_{}", uuid::Uuid::new_v4().simple());
            create_postgres_database(&admin_url, &name).await;
            (
                database_url(&admin_url, &name),
                Store::Postgres { admin_url, name },
            )
        }
    };

    match start(backend, &url, store, activities, settings).await {
        Ok(app) => app,
        Err((err, store)) => {
            drop_store(store).await;
            panic!("failed to start the test server on {backend:?}: {err:#}");
        }
    }
}

/// Connects, installs the statement counter, migrates and serves, and returns the store back on
/// failure so the caller can drop the database.
async fn start(
    backend: Backend,
    url: &str,
    store: Store,
    activities: ActivityRegistry,
    settings: Settings,
) -> Result<TestApp, (anyhow::Error, Store)> {
    let mut db = match Db::connect(url).await {
        Ok(db) => db,
        Err(err) => return Err((err, store)),
    };
    db.set_activities(activities);

    // The observer must be installed before the Db is cloned, so every clone reports to it.
    let statements = StatementLog::default();
    let log = statements.clone();
    db.observe_statements(move |sql| log.record(sql));

    if let Err(err) = db.migrate().await {
        return Err((err, store));
    }
    let database = match inspection_connection(url).await {
        Ok(conn) => conn,
        Err(err) => return Err((err.into(), store)),
    };
    let (listener, address) =
        match stockroom::app::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
            Ok(bound) => bound,
            Err(err) => return Err((err.into(), store)),
        };

    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(stockroom::app::serve_with(listener, db.clone(), settings, async move {
        let _ = shutdown_rx.await;
    }));
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("failed to build the HTTP client");
    let api = Api {
        http,
        url: format!("http://{address}/graphql"),
        authorization: None,
    };

    Ok(TestApp {
        backend,
        url: url.to_owned(),
        statements,
        api,
        database,
        db,
        shutdown: Mutex::new(Some(shutdown_tx)),
        server: Mutex::new(Some(server)),
        store,
    })
}

/// Opens a small pool of the test's own, separate from the server's and not counted.
async fn inspection_connection(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(2)
        .min_connections(0)
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Creates an empty PostgreSQL database, failing with instructions when the server is down.
async fn create_postgres_database(admin_url: &str, name: &str) {
    let admin = connect_admin(admin_url).await;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|err| panic!("failed to create the test database {name}: {err}"));
    let _ = admin.close().await;
}

/// Connects to the PostgreSQL admin database or fails with how to make it reachable.
async fn connect_admin(admin_url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(admin_url.to_owned());
    options
        .max_connections(1)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await.unwrap_or_else(|err| {
        panic!(
            "PostgreSQL is not reachable at {} ({err}). Start it (for example \
             `pg_ctlcluster 15 main start`, or `docker run -d -p 5432:5432 \
             -e POSTGRES_HOST_AUTH_METHOD=trust postgres`), or point \
             STOCKROOM_TEST_POSTGRES_URL at a server where this user may create databases. \
             The PostgreSQL tests do not skip.",
            stockroom::db::redact(admin_url)
        )
    })
}

/// Builds the URL of database `name` on the server of `admin_url`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |at| at + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Removes a test database: drops the PostgreSQL database, or deletes the SQLite directory.
async fn drop_store(store: Store) {
    match store {
        Store::Sqlite { _dir } => drop(_dir),
        Store::Postgres { admin_url, name } => {
            let admin = connect_admin(&admin_url).await;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .unwrap_or_else(|err| panic!("failed to drop the test database {name}: {err}"));
            let _ = admin.close().await;
        }
    }
}

impl TestApp {
    /// Stops the server, closes every connection and removes the database.
    pub async fn cleanup(self) {
        if let Some(shutdown) = self.shutdown.lock().expect("shutdown lock").take() {
            let _ = shutdown.send(());
        }
        let server = self.server.lock().expect("server lock").take();
        if let Some(mut server) = server {
            // Idle keep-alive connections can hold a graceful shutdown open; the database is
            // dropped with FORCE anyway, so a server that takes too long is aborted.
            if tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
        let _ = self.database.close().await;
        let _ = self.db.conn().clone().close().await;
        drop_store(self.store).await;
    }

    /// Stops this app's own server; the database stays, for a test that restarts the server
    /// with [`TestApp::spawn_instance`].
    pub async fn stop_server(&self) {
        if let Some(shutdown) = self.shutdown.lock().expect("shutdown lock").take() {
            let _ = shutdown.send(());
        }
        let server = self.server.lock().expect("server lock").take();
        if let Some(mut server) = server
            && tokio::time::timeout(Duration::from_secs(5), &mut server).await.is_err()
        {
            server.abort();
        }
    }

    /// Starts another server instance on this app's database, with its own pool and port.
    pub async fn spawn_instance(&self) -> Instance {
        let db = Db::connect(&self.url).await.expect("failed to connect another instance");
        let (listener, address) = stockroom::app::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("failed to bind another instance");
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(stockroom::app::serve(listener, db.clone(), async move {
            let _ = shutdown_rx.await;
        }));
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("failed to build the HTTP client");
        Instance {
            api: Api { http, url: format!("http://{address}/graphql"), authorization: None },
            db,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Returns a client for this server that can move into spawned tasks.
    pub fn api(&self) -> Api {
        self.api.clone()
    }

    /// Runs SQL on the test's own connection, for tests that break the database on purpose
    /// to see how the server fails.
    pub async fn execute_sql(&self, sql: &str) {
        self.database
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|err| panic!("the test's SQL failed: {err}\nSQL: {sql}"));
    }

    /// Returns the `http://` URL of this server's `/graphql` endpoint.
    pub fn graphql_url(&self) -> String {
        self.api.url.clone()
    }

    /// See [`Api::gql`].
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.api.gql(query, variables).await
    }

    /// See [`Api::ok`].
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        self.api.ok(query, variables).await
    }

    /// See [`Api::err`].
    pub async fn err(&self, query: &str, variables: Value) -> ApiError {
        self.api.err(query, variables).await
    }
}

/// A further server instance on a test's database, stopped by [`Instance::stop`].
pub struct Instance {
    pub api: Api,
    db: Db,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl Instance {
    /// The http:// URL of this instance's `/graphql`.
    pub fn graphql_url(&self) -> String {
        self.api.url.clone()
    }

    /// Stops the server and closes its pool.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut server).await.is_err()
        {
            server.abort();
        }
        let _ = self.db.conn().clone().close().await;
    }
}

// ---------------------------------------------------------------- fixtures

const CREATE_CHANNEL: &str = "mutation($input: CreateChannelInput!) {
    createChannel(input: $input) { channel { id } } }";
const CREATE_WAREHOUSE: &str = "mutation($input: CreateWarehouseInput!) {
    createWarehouse(input: $input) { warehouse { id } } }";
const LINK: &str = "mutation($input: WarehouseChannelInput!) {
    linkWarehouseToChannel(input: $input) { warehouse { id } } }";
const CREATE_PRODUCT: &str = "mutation($input: CreateProductInput!) {
    createProduct(input: $input) { product { id } } }";
const CREATE_SKU: &str = "mutation($input: CreateSkuInput!) {
    createSku(input: $input) { sku { id } } }";

/// Selection of `setInventory`, `adjustInventory` and `transferInventory` items and ledger rows.
pub const ITEM_FIELDS: &str = "id onHand safetyStock booked available version";
pub const LEDGER_FIELDS: &str =
    "id kind onHandDelta bookedDelta onHandAfter bookedAfter reference reason warehouseId";

/// `setInventory` returning the item and the ledger rows it wrote.
pub fn set_inventory_mutation() -> String {
    format!(
        "mutation($input: SetInventoryInput!) {{ setInventory(input: $input) {{
            warehouseItem {{ {ITEM_FIELDS} }} ledgerEntries {{ {LEDGER_FIELDS} }} }} }}"
    )
}

/// `adjustInventory` returning the item and the ledger rows it wrote.
pub fn adjust_inventory_mutation() -> String {
    format!(
        "mutation($input: AdjustInventoryInput!) {{ adjustInventory(input: $input) {{
            warehouseItem {{ {ITEM_FIELDS} }} ledgerEntries {{ {LEDGER_FIELDS} }} }} }}"
    )
}

/// `transferInventory` returning both items and both ledger rows.
pub fn transfer_inventory_mutation() -> String {
    format!(
        "mutation($input: TransferInventoryInput!) {{ transferInventory(input: $input) {{
            reference from {{ {ITEM_FIELDS} }} to {{ {ITEM_FIELDS} }}
            ledgerEntries {{ {LEDGER_FIELDS} }} }} }}"
    )
}

/// `bulkSetInventory` returning every result.
pub fn bulk_set_inventory_mutation() -> String {
    format!(
        "mutation($input: BulkSetInventoryInput!) {{ bulkSetInventory(input: $input) {{
            appliedCount rejectedCount
            results {{ index warehouseItem {{ {ITEM_FIELDS} }} ledgerEntries {{ {LEDGER_FIELDS} }}
                      error {{ code message field }} }} }} }}"
    )
}

/// Quantities of one warehouse item as the API reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemQuantities {
    pub on_hand: i64,
    pub safety_stock: i64,
    pub booked: i64,
}

impl TestApp {
    /// Creates an active channel and returns its id.
    pub async fn create_channel(&self, name: &str) -> String {
        let data = self
            .ok(CREATE_CHANNEL, json!({ "input": { "name": name } }))
            .await;
        id_at(&data["createChannel"]["channel"])
    }

    /// Creates an active warehouse and returns its id.
    pub async fn create_warehouse(&self, name: &str) -> String {
        let input = json!({ "input": { "name": name, "active": true } });
        id_at(&self.ok(CREATE_WAREHOUSE, input).await["createWarehouse"]["warehouse"])
    }

    /// Creates an inactive warehouse and returns its id.
    pub async fn create_inactive_warehouse(&self, name: &str) -> String {
        let input = json!({ "input": { "name": name, "active": false } });
        id_at(&self.ok(CREATE_WAREHOUSE, input).await["createWarehouse"]["warehouse"])
    }

    /// Links a warehouse to a channel.
    pub async fn link(&self, warehouse_id: &str, channel_id: &str) {
        let input = json!({ "input": { "warehouseId": warehouse_id, "channelId": channel_id } });
        self.ok(LINK, input).await;
    }

    /// Creates a channel with `count` active warehouses linked to it, and returns the channel id
    /// and the warehouse ids.
    pub async fn channel_with_warehouses(&self, count: usize) -> (String, Vec<String>) {
        let channel = self.create_channel("Web store").await;
        let mut warehouses = Vec::with_capacity(count);
        for index in 0..count {
            let warehouse = self.create_warehouse(&format!("Warehouse {index}")).await;
            self.link(&warehouse, &channel).await;
            warehouses.push(warehouse);
        }
        (channel, warehouses)
    }

    /// Creates a product and returns its id.
    pub async fn create_product(&self, name: &str) -> String {
        let input = json!({ "input": { "name": name } });
        id_at(&self.ok(CREATE_PRODUCT, input).await["createProduct"]["product"])
    }

    /// Creates a SKU of a product and returns its id.
    pub async fn create_sku(&self, product_id: &str, code: &str) -> String {
        let input = json!({ "input": { "productId": product_id, "code": code } });
        id_at(&self.ok(CREATE_SKU, input).await["createSku"]["sku"])
    }

    /// Creates a product named after `code` with that one SKU, and returns the product id.
    pub async fn create_product_with_sku(&self, code: &str) -> String {
        let product = self.create_product(&format!("Product {code}")).await;
        self.create_sku(&product, code).await;
        product
    }

    /// Sets on hand of a SKU in a warehouse and returns the `setInventory` payload.
    pub async fn set_on_hand(&self, sku: &str, warehouse_id: &str, on_hand: i64) -> Value {
        let input =
            json!({ "input": { "sku": sku, "warehouseId": warehouse_id, "onHand": on_hand } });
        self.ok(&set_inventory_mutation(), input).await["setInventory"].clone()
    }

    /// Sets on hand and safety stock of a SKU in a warehouse.
    pub async fn set_stock(&self, sku: &str, warehouse_id: &str, on_hand: i64, safety_stock: i64) {
        let input = json!({ "input": {
            "sku": sku, "warehouseId": warehouse_id, "onHand": on_hand, "safetyStock": safety_stock
        } });
        self.ok(&set_inventory_mutation(), input).await;
    }

    /// Adds `delta` to on hand of a SKU in a warehouse and returns the payload.
    pub async fn adjust(&self, sku: &str, warehouse_id: &str, delta: i64) -> Value {
        let input = json!({ "input": { "sku": sku, "warehouseId": warehouse_id, "delta": delta } });
        self.ok(&adjust_inventory_mutation(), input).await["adjustInventory"].clone()
    }

    /// Reads one warehouse item through the API; `None` when the SKU is not stocked there.
    pub async fn item(&self, sku: &str, warehouse_id: &str) -> Option<ItemQuantities> {
        let query = "query($skus: [String!]!, $warehouses: [ID!]) {
            stock(skus: $skus, warehouseIds: $warehouses) {
                byWarehouse { onHand safetyStock booked } } }";
        let data = self
            .ok(
                query,
                json!({ "skus": [sku], "warehouses": [warehouse_id] }),
            )
            .await;
        let rows = data["stock"][0]["byWarehouse"]
            .as_array()
            .expect("byWarehouse is a list");
        assert!(
            rows.len() <= 1,
            "one warehouse in scope gave {} rows",
            rows.len()
        );
        rows.first().map(|row| ItemQuantities {
            on_hand: int(&row["onHand"]),
            safety_stock: int(&row["safetyStock"]),
            booked: int(&row["booked"]),
        })
    }

    /// On hand of a SKU in a warehouse; `None` when the SKU is not stocked there.
    pub async fn on_hand(&self, sku: &str, warehouse_id: &str) -> Option<i64> {
        self.item(sku, warehouse_id).await.map(|item| item.on_hand)
    }
}

/// Reads the `id` of a payload object.
pub fn id_at(object: &Value) -> String {
    object["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", pretty(object)))
        .to_owned()
}

/// Reads a JSON integer.
pub fn int(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("expected an integer, got {value}"))
}

/// Reads a list of strings at `key` of every element of `list`.
pub fn strings_at(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {}", pretty(list)))
        .iter()
        .map(|item| item[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Encodes the global id of an entity of `type_name` that was never created, for NOT_FOUND
/// cases.
pub fn missing_id(type_name: &str) -> String {
    let node_type = match type_name {
        "Channel" => stockroom::ids::NodeType::Channel,
        "Warehouse" => stockroom::ids::NodeType::Warehouse,
        "Product" => stockroom::ids::NodeType::Product,
        "Sku" => stockroom::ids::NodeType::Sku,
        "WarehouseItem" => stockroom::ids::NodeType::WarehouseItem,
        "InventoryLedgerEntry" => stockroom::ids::NodeType::InventoryLedgerEntry,
        other => panic!("no global id type {other}"),
    };
    stockroom::ids::encode(node_type, 987_654_321).to_string()
}

// ---------------------------------------------------------------- direct table reads

/// Every row a failed request must leave as it was, read from the tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub channels: Vec<channel::Model>,
    pub warehouses: Vec<warehouse::Model>,
    pub links: Vec<warehouse_channel::Model>,
    pub products: Vec<product::Model>,
    pub configurations: Vec<product_inventory_configuration::Model>,
    pub skus: Vec<sku::Model>,
    pub items: Vec<warehouse_item::Model>,
    pub ledger: Vec<inventory_ledger::Model>,
}

impl TestApp {
    /// Reads every table a request can change.
    pub async fn snapshot(&self) -> Snapshot {
        let conn = &self.database;
        Snapshot {
            channels: all(
                conn,
                channel::Entity::find().order_by_asc(channel::Column::Id),
            )
            .await,
            warehouses: all(
                conn,
                warehouse::Entity::find().order_by_asc(warehouse::Column::Id),
            )
            .await,
            links: all(
                conn,
                warehouse_channel::Entity::find().order_by_asc(warehouse_channel::Column::Id),
            )
            .await,
            products: all(
                conn,
                product::Entity::find().order_by_asc(product::Column::Id),
            )
            .await,
            configurations: all(
                conn,
                product_inventory_configuration::Entity::find()
                    .order_by_asc(product_inventory_configuration::Column::ProductId),
            )
            .await,
            skus: all(conn, sku::Entity::find().order_by_asc(sku::Column::Id)).await,
            items: all(
                conn,
                warehouse_item::Entity::find().order_by_asc(warehouse_item::Column::Id),
            )
            .await,
            ledger: self.ledger_rows().await,
        }
    }

    /// Fails the test, naming the table, if any row differs from `before`.
    pub async fn assert_unchanged(&self, before: &Snapshot, after_what: &str) {
        let after = self.snapshot().await;
        assert_eq!(
            before.channels, after.channels,
            "channels changed after {after_what}"
        );
        assert_eq!(
            before.warehouses, after.warehouses,
            "warehouses changed after {after_what}"
        );
        assert_eq!(
            before.links, after.links,
            "warehouse links changed after {after_what}"
        );
        assert_eq!(
            before.products, after.products,
            "products changed after {after_what}"
        );
        assert_eq!(
            before.configurations, after.configurations,
            "inventory configurations changed after {after_what}"
        );
        assert_eq!(before.skus, after.skus, "SKUs changed after {after_what}");
        assert_eq!(
            before.items, after.items,
            "warehouse items changed after {after_what}"
        );
        assert_eq!(
            before.ledger, after.ledger,
            "ledger rows changed after {after_what}"
        );
    }

    /// Reads every ledger row, oldest first.
    pub async fn ledger_rows(&self) -> Vec<inventory_ledger::Model> {
        let query = inventory_ledger::Entity::find().order_by_asc(inventory_ledger::Column::Id);
        all(&self.database, query).await
    }

    /// Reads every warehouse item, by id.
    pub async fn item_rows(&self) -> Vec<warehouse_item::Model> {
        let query = warehouse_item::Entity::find().order_by_asc(warehouse_item::Column::Id);
        all(&self.database, query).await
    }

    /// Asserts that every warehouse item's on hand and booked equal the sums of the
    /// `onHandDelta` and `bookedDelta` of its ledger rows.
    pub async fn assert_ledger_balances(&self) {
        let ledger = self.ledger_rows().await;
        for item in self.item_rows().await {
            let rows = ledger
                .iter()
                .filter(|row| row.warehouse_id == item.warehouse_id && row.sku_id == item.sku_id);
            let (on_hand, booked) = rows.fold((0, 0), |(on_hand, booked), row| {
                (on_hand + row.on_hand_delta, booked + row.booked_delta)
            });
            assert_eq!(
                item.on_hand, on_hand,
                "on hand of SKU {} in warehouse {} differs from the sum of its ledger deltas",
                item.sku_id, item.warehouse_id
            );
            assert_eq!(
                item.booked, booked,
                "booked of SKU {} in warehouse {} differs from the sum of its ledger deltas",
                item.sku_id, item.warehouse_id
            );
        }
    }
}

/// Runs a select on the test's own connection.
async fn all<E: EntityTrait>(
    conn: &DatabaseConnection,
    select: sea_orm::Select<E>,
) -> Vec<E::Model> {
    select
        .all(conn)
        .await
        .unwrap_or_else(|err| panic!("failed to read the table: {err}"))
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_url_replaces_the_database() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
    }

    #[test]
    fn database_url_keeps_query_parameters() {
        assert_eq!(
            database_url("postgres://u:p@host/admin?sslmode=disable", "t1"),
            "postgres://u:p@host/t1?sslmode=disable"
        );
    }

    #[test]
    fn database_url_adds_a_missing_path() {
        assert_eq!(
            database_url("postgres://host:5432", "t1"),
            "postgres://host:5432/t1"
        );
    }
}
