//! `stockroom-bench`: measures Stockroom's stock reads, bookings and subscriptions on SQLite and
//! PostgreSQL.
//!
//! For each database it creates a fresh store and writes a data set through the services (20
//! warehouses, 2 channels, 1,000 SKUs stocked everywhere). It starts the server (`stockroom
//! serve`, run by this binary) as a child process on 127.0.0.1 and measures stock pages, single SKUs and bookings
//! with concurrent HTTP clients. It measures the same reads as raw SQL and as direct service
//! calls in this process, checks that nothing was oversold, and counts the SQL statements of a
//! `stock` request on an in-process server. It opens thousands of WebSocket subscribers of
//! low-stock events and times the delivery of each crossing to each of them. It reads the
//! server's memory from `/proc` and removes the store at the end. BENCHMARKS.md explains the
//! figures, and `--help` lists the options.
//!
//! Layout: `load` is the generic client loop, `reads`, `bookings` and `subscriptions` the
//! measurements, `seed` the data set, `server` the servers under test, `store` the databases,
//! `report` the output.

#[path = "stockroom_bench/bookings.rs"]
mod bookings;
#[path = "stockroom_bench/cpu.rs"]
mod cpu;
#[path = "stockroom_bench/graphql.rs"]
mod graphql;
#[path = "stockroom_bench/load.rs"]
mod load;
#[path = "stockroom_bench/reads.rs"]
mod reads;
#[path = "stockroom_bench/report.rs"]
mod report;
#[path = "stockroom_bench/seed.rs"]
mod seed;
#[path = "stockroom_bench/server.rs"]
mod server;
#[path = "stockroom_bench/statements.rs"]
mod statements;
#[path = "stockroom_bench/store.rs"]
mod store;
#[path = "stockroom_bench/subscriptions.rs"]
mod subscriptions;

use std::{
    future::Future,
    path::PathBuf,
    process::ExitCode,
    time::Duration,
};

use anyhow::bail;
use clap::{Parser, ValueEnum};
use stockroom::{db::Db, ids::NodeType};

use crate::{
    bookings::BookedTally,
    cpu::CpuMeter,
    graphql::GraphqlClient,
    load::{LoadSettings, Rate},
    report::{DatabaseReport, Machine, Report, Settings},
    seed::DataSet,
    server::ChildServer,
    store::{Backend, Store},
    subscriptions::SubscriptionSettings,
};

/// The PostgreSQL URL used to create and drop the benchmark's database when none is given.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A per-client bound on requests, so every load loop also stops by count.
const MAX_REQUESTS_PER_CLIENT: u64 = 1_000_000;

/// Measures Stockroom's stock reads, bookings and subscriptions against a real server on
/// 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "stockroom-bench", version)]
struct Options {
    /// Database to benchmark.
    #[arg(long, value_enum, default_value_t = Databases::Both)]
    database: Databases,

    /// Seconds each load run measures, after a warm-up of a fifth of that (0.5 to 2 seconds).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,

    /// PostgreSQL URL of a user that may create and drop databases. The benchmark creates
    /// `stockroom_bench_<random>` on that server and drops it at the end.
    #[arg(long, env = "STOCKROOM_BENCH_POSTGRES_URL", default_value = DEFAULT_POSTGRES_URL)]
    postgres_url: String,

    /// Concurrent clients of the read runs (stock page, single SKU, raw SQL, service calls).
    #[arg(long, default_value_t = 16)]
    clients: usize,

    /// Concurrent clients of the booking runs.
    #[arg(long, default_value_t = 64)]
    booking_clients: usize,

    /// WebSocket subscriber counts of the subscription runs, separated by commas. Each count
    /// runs on a freshly started server.
    #[arg(long, value_delimiter = ',', default_values_t = [1000, 10000])]
    subscribers: Vec<usize>,

    /// Low-stock crossings measured per subscriber count.
    #[arg(long, default_value_t = 100)]
    subscription_events: usize,

    /// Low-stock crossings made per second, one mutation at a time.
    #[arg(long, default_value_t = 2.0)]
    event_rate: f64,

    /// Also write the results as JSON to this file; `--report` prints it again later.
    #[arg(long)]
    json: Option<PathBuf>,

    /// Print the tables of a JSON file written by `--json` and run nothing.
    #[arg(long)]
    report: Option<PathBuf>,

    /// Server binary to run, such as target/release/stockroom. Default: this binary in server
    /// mode, which runs the same `stockroom serve` code built from the same sources.
    #[arg(long)]
    server_binary: Option<PathBuf>,

    /// Command to run the server under, split at spaces, for profiling: for example
    /// "valgrind --tool=callgrind --callgrind-out-file=callgrind.out".
    #[arg(long)]
    server_wrapper: Option<String>,

    /// Measurements to run, separated by commas.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Phase::ALL)]
    phases: Vec<Phase>,
}

/// The `--database` choices.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Databases {
    Sqlite,
    Postgres,
    Both,
}

/// The measurements `--phases` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Phase {
    /// `stock` of 100 SKUs over HTTP.
    StockPage,
    /// `stock` of one SKU over HTTP.
    SingleSku,
    /// The same reads as one SQL statement each, in this process.
    RawSql,
    /// The resolver's service calls for a page, in this process.
    Service,
    /// Hot-SKU and random-SKU bookings, the sell-out and the oversell check.
    Bookings,
    /// Statements per `stock` request of 5 and 500 SKUs.
    Statements,
    /// WebSocket subscribers of `lowStockEvents` and the delivery of low-stock crossings.
    Subscriptions,
}

impl Phase {
    const ALL: [Phase; 7] =
        [Phase::StockPage, Phase::SingleSku, Phase::RawSql, Phase::Service, Phase::Bookings, Phase::Statements, Phase::Subscriptions];

    fn name(self) -> String {
        self.to_possible_value().map_or_else(String::new, |value| value.get_name().to_owned())
    }
}

impl Options {
    fn wants(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }

    /// Returns whether any selected measurement needs the child server.
    fn needs_server(&self) -> bool {
        [Phase::StockPage, Phase::SingleSku, Phase::Bookings, Phase::Subscriptions].into_iter().any(|phase| self.wants(phase))
    }

    /// Returns whether any selected measurement needs the seeded data set of 1,000 SKUs. The
    /// subscription runs write their own.
    fn needs_data_set(&self) -> bool {
        self.phases.iter().any(|phase| *phase != Phase::Subscriptions)
    }

    fn subscription_settings(&self) -> SubscriptionSettings {
        SubscriptionSettings {
            subscriber_counts: self.subscribers.clone(),
            events: self.subscription_events,
            events_per_second: self.event_rate,
        }
    }

    fn backends(&self) -> Vec<Backend> {
        match self.database {
            Databases::Sqlite => vec![Backend::Sqlite],
            Databases::Postgres => vec![Backend::Postgres],
            Databases::Both => vec![Backend::Sqlite, Backend::Postgres],
        }
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs_f64((self.duration * 0.2).clamp(0.5, 2.0))
    }

    fn load_settings(&self, clients: usize) -> LoadSettings {
        LoadSettings {
            clients,
            warmup: self.warmup(),
            duration: Duration::from_secs_f64(self.duration),
            max_requests_per_client: MAX_REQUESTS_PER_CLIENT,
        }
    }

    fn wrapper(&self) -> Vec<String> {
        self.server_wrapper.as_deref().map(|text| text.split_whitespace().map(str::to_owned).collect()).unwrap_or_default()
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !(self.duration > 0.0 && self.duration <= 600.0) {
            bail!("--duration {} is out of range: give 0 to 600 seconds", self.duration);
        }
        for (name, clients) in [("--clients", self.clients), ("--booking-clients", self.booking_clients)] {
            if !(1..=1024).contains(&clients) {
                bail!("{name} {clients} is out of range: give 1 to 1024");
            }
        }
        if let Some(count) = self.subscribers.iter().find(|count| !(1..=50_000).contains(*count)) {
            bail!("--subscribers {count} is out of range: give 1 to 50,000 per count");
        }
        if self.subscribers.is_empty() {
            bail!("--subscribers names no count");
        }
        if !(1..=10_000).contains(&self.subscription_events) {
            bail!("--subscription-events {} is out of range: give 1 to 10,000", self.subscription_events);
        }
        if !(self.event_rate > 0.0 && self.event_rate <= 1000.0) {
            bail!("--event-rate {} is out of range: give more than 0 and at most 1,000 per second", self.event_rate);
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut arguments = std::env::args().skip(1);
    if arguments.next().as_deref() == Some(server::SERVE_ARGUMENT) {
        return server::serve_as_child(arguments.collect()).await;
    }

    let options = Options::parse();
    let outcome = match &options.report {
        Some(path) => report::load(path).map(|saved| print!("{}", report::render(&saved))),
        None => run(&options).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Benchmarks every selected database, prints the tables and writes the JSON file.
async fn run(options: &Options) -> anyhow::Result<()> {
    options.validate()?;
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; its figures say little. Use `cargo run --release --bin stockroom-bench`.");
    }
    let server_command = if options.needs_server() { Some(server::server_command(options.server_binary.clone())?) } else { None };

    let started_at = report::now();
    let load_average_before = report::load_average();
    let mut databases = Vec::new();
    for backend in options.backends() {
        eprintln!("== {}", backend.label());
        databases.push(bench_database(backend, options, server_command.as_ref()).await);
    }

    let report = Report {
        started_at,
        finished_at: report::now(),
        settings: Settings {
            duration_seconds: options.duration,
            warmup_seconds: options.warmup().as_secs_f64(),
            read_clients: options.clients,
            booking_clients: options.booking_clients,
            subscribers: options.subscribers.clone(),
            subscription_events: options.subscription_events,
            event_rate: options.event_rate,
            phases: options.phases.iter().map(|phase| phase.name()).collect(),
            server_wrapper: options.wrapper(),
        },
        machine: Machine::read(),
        load_average_before,
        load_average_after: report::load_average(),
        databases,
    };
    print!("{}", report::render(&report));
    if let Some(path) = &options.json {
        report::save(&report, path)?;
        eprintln!("results written to {}", path.display());
    }
    if let Some(failed) = report.databases.iter().find(|db| db.error.is_some()) {
        bail!("the {} run stopped early; see the tables above", failed.backend.label());
    }
    if let Some(failed) = report.databases.iter().find(|db| db.subscriptions.iter().flatten().any(|run| run.error.is_some())) {
        bail!("a {} subscription run stopped early; see the tables above", failed.backend.label());
    }
    Ok(())
}

/// Runs every selected measurement on a fresh store of `backend` and removes the store, also
/// when a measurement fails. A failure is recorded in the report, not returned, so the other
/// database still runs.
async fn bench_database(backend: Backend, options: &Options, server_command: Option<&(PathBuf, Vec<String>)>) -> DatabaseReport {
    let mut report = DatabaseReport::new(backend);
    let store = match Store::create(backend, &options.postgres_url).await {
        Ok(store) => store,
        Err(err) => {
            report.error = Some(format!("{err:#}"));
            return report;
        }
    };
    if let Err(err) = measure(&store, options, server_command, &mut report).await {
        eprintln!("[{}] failed: {err:#}", backend.label());
        report.error = Some(format!("{err:#}"));
    }
    if let Err(err) = store.remove().await {
        eprintln!("warning: {err:#}");
    }
    report
}

async fn measure(store: &Store, options: &Options, server_command: Option<&(PathBuf, Vec<String>)>, report: &mut DatabaseReport) -> anyhow::Result<()> {
    let db = Db::connect(&store.url).await?;
    db.migrate().await?;
    if options.needs_data_set() {
        measure_data_set(store, options, server_command, &db, report).await?;
    }
    if options.wants(Phase::Subscriptions)
        && let Some(command) = server_command
    {
        let settings = options.subscription_settings();
        let runs = subscriptions::run(command, &options.wrapper(), &store.url, &store.folder, &db, &settings, store.backend.label()).await?;
        report.subscriptions = Some(runs);
    }
    db.conn().clone().close().await?;
    Ok(())
}

/// Seeds the data set and runs the selected measurements of reads, bookings and statements.
async fn measure_data_set(
    store: &Store,
    options: &Options,
    server_command: Option<&(PathBuf, Vec<String>)>,
    db: &Db,
    report: &mut DatabaseReport,
) -> anyhow::Result<()> {
    let label = store.backend.label();
    eprintln!("[{label}] writing the data set");
    let data = seed::seed(db).await?;
    report.seed_seconds = Some(data.seconds);
    eprintln!("[{label}] data set written in {:.1} s", data.seconds);

    let tally = BookedTally::default();
    match server_command {
        Some(command) => {
            let server = ChildServer::start(command, &options.wrapper(), &store.url, store.folder.join("server.log")).await?;
            // Let start-up work (pool, first sweep) finish before reading idle memory.
            tokio::time::sleep(Duration::from_secs(1)).await;
            report.memory_idle = Some(server.memory()?);
            let client = GraphqlClient::new(&server.graphql_url(), options.clients.max(options.booking_clients))?;
            let outcome = load_runs(options, db, &data, Some((&client, server.pid())), &tally, report).await;
            report.memory_after_load = server.memory().ok();
            let stopped = server.stop().await;
            outcome?;
            stopped?;
        }
        None => load_runs(options, db, &data, None, &tally, report).await?,
    }

    if options.wants(Phase::Bookings) {
        let check = bookings::check_oversell(db, &tally).await?;
        eprintln!("[{label}] oversell check: {}", if check.passed() { "passed" } else { "FAILED" });
        report.oversell = Some(check);
    }
    if options.wants(Phase::Statements) {
        let channel = channel_id_text(data.channel_id);
        let counts = statements::count_statements(&store.url, &data.sku_codes, &channel, &[5, 500]).await?;
        eprintln!("[{label}] statements per stock request: {:?}; per booking: {}", counts.counts, counts.booking_statements);
        report.statements = Some(counts);
    }
    Ok(())
}

/// Runs the selected load runs, reads before bookings so bookings leave the reads' data
/// untouched. `server` is the child server's client and process id, when one runs.
async fn load_runs(
    options: &Options,
    db: &Db,
    data: &DataSet,
    server: Option<(&GraphqlClient, u32)>,
    tally: &BookedTally,
    report: &mut DatabaseReport,
) -> anyhow::Result<()> {
    let label = report.backend.label();
    let channel = channel_id_text(data.channel_id);
    let codes = &data.sku_codes;
    let reads = options.load_settings(options.clients);

    if let Some((client, pid)) = server {
        reads::verify_page(client, db, codes, data.channel_id, &channel).await?;
        if options.wants(Phase::StockPage) {
            let rate = metered(Some(pid), db, reads::stock_page_over_http(client, codes, &channel, reads)).await;
            report.stock_page = Some(announce(label, "stock page", rate));
        }
        if options.wants(Phase::SingleSku) {
            let rate = metered(Some(pid), db, reads::single_sku_over_http(client, codes, &channel, reads)).await;
            report.single_sku = Some(announce(label, "single SKU", rate));
        }
    }
    // The in-process runs leave the idle server out of their CPU figures.
    if options.wants(Phase::RawSql) {
        let rate = metered(None, db, reads::raw_sql(db, codes, data.channel_id, true, reads)).await;
        report.raw_sql_page = Some(announce(label, "raw SQL page", rate));
        let rate = metered(None, db, reads::raw_sql(db, codes, data.channel_id, false, reads)).await;
        report.raw_sql_single = Some(announce(label, "raw SQL single SKU", rate));
    }
    if options.wants(Phase::Service) {
        let parsed = reads::parse_codes(codes)?;
        let rate = metered(None, db, reads::service_page(db, parsed, data.channel_id, reads)).await;
        report.service_page = Some(announce(label, "service page", rate));
    }
    if let Some((client, pid)) = server
        && options.wants(Phase::Bookings)
    {
        let settings = options.load_settings(options.booking_clients);
        let hot = [data.hot_sku().to_owned()];
        let rate = metered(Some(pid), db, bookings::book(client, &channel, &hot, "hot", tally, settings)).await;
        report.bookings_hot = Some(announce(label, "bookings, hot SKU", rate));
        let rate = metered(Some(pid), db, bookings::book(client, &channel, data.random_skus(), "random", tally, settings)).await;
        report.bookings_random = Some(announce(label, "bookings, random SKUs", rate));
        let sell_out = bookings::sell_out(client, &channel, data.sell_out_sku(), tally, options.booking_clients).await;
        eprintln!("[{label}] sell-out: {} units, {} booked, exact: {}", sell_out.units, sell_out.booked, sell_out.exact);
        report.sell_out = Some(sell_out);
    }
    Ok(())
}

/// Runs `run` and attaches the CPU that the server, this process and the database used
/// meanwhile to its figures.
async fn metered(server_pid: Option<u32>, db: &Db, run: impl Future<Output = Rate>) -> Rate {
    let meter = CpuMeter::start(server_pid, db).await;
    let mut rate = run.await;
    rate.cpu = Some(meter.finish(rate.all_requests, db).await);
    rate
}

/// Prints a run's headline figures as it finishes, and passes the figures on.
fn announce(label: &str, name: &str, rate: Rate) -> Rate {
    eprintln!(
        "[{label}] {name}: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, {} completed, {} rejected, {} failed; CPU ms per request: {}",
        rate.per_second,
        rate.p50_ms,
        rate.p99_ms,
        rate.completed,
        rate.rejected.values().sum::<u64>(),
        rate.failed,
        report::cpu_text(&rate),
    );
    rate
}

/// Encodes the channel's global id, as clients send it.
fn channel_id_text(id: i64) -> String {
    stockroom::ids::encode(NodeType::Channel, id).0
}
