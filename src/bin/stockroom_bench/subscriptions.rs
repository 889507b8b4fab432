//! Subscriptions: N WebSocket subscribers of `lowStockEvents` on a fresh server, a stream of
//! low-stock crossings made with `adjustInventory`, and the latency of every delivery.
//!
//! The data set is written through GraphQL on a server of its own: one active warehouse
//! linked to no channel, one product with `minStockQuantity` 5 and `SUBS-00000`, … SKUs
//! stocked at 6 units there. Taking one unit of a SKU that was never touched makes its
//! company-wide available quantity fall from 6 to 5, which is one `LOW_STOCK` event, the only
//! event a subscription without filters receives for it.
//!
//! Each subscriber count then gets a freshly started server, so its memory starts from the
//! same idle state. The subscribers speak `graphql-transport-ws` from this process. They are
//! split over a few driver tasks, each reading its share of the sockets through one
//! `SelectAll`, and each stamps a message with the wall clock when it takes it from its socket.
//! The server stamps `occurredAt` with the same clock (the same machine) before the change
//! commits, so receipt minus `occurredAt` is the full delay: commit, relay, fan-out, GraphQL
//! output, WebSocket and this process's reading.

use std::{
    borrow::Cow,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context as _, bail};
use futures_util::{
    SinkExt as _, StreamExt as _,
    stream::{self, SelectAll},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stockroom::db::Db;
use tokio::{net::TcpStream, sync::watch};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest as _, http::HeaderValue, protocol::WebSocketConfig},
};

use crate::{
    cpu::{CpuMeter, CpuUse},
    graphql::GraphqlClient,
    server::{ChildServer, Memory},
};

/// The subscription every subscriber opens.
const SUBSCRIPTION: &str = "subscription { lowStockEvents { sequence occurredAt skuCode } }";

/// One unit taken from a SKU, asking back its new on-hand quantity.
const ADJUST_MUTATION: &str = "mutation Adjust($input: AdjustInventoryInput!) { \
    adjustInventory(input: $input) { warehouseItem { onHand } } }";

/// The product's low-stock threshold, and each SKU's starting stock one above it.
const MIN_STOCK_QUANTITY: i64 = 5;
const STARTING_ON_HAND: i64 = MIN_STOCK_QUANTITY + 1;

/// Prefix of the benchmark's SKU codes, followed by a five-digit number from 0.
const SKU_PREFIX: &str = "SUBS-";

/// Crossings made before measuring, until every subscriber has received one. A subscription
/// is live only once the server has handled its `subscribe` message, and the protocol does
/// not acknowledge that, so the first crossing can miss subscribers still being set up.
const WARMUP_CROSSINGS: usize = 5;

/// WebSocket handshakes in flight at once while the subscribers connect.
const CONNECTING_AT_ONCE: usize = 64;

/// How long one subscriber may take from TCP connect to sending `subscribe`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Tasks that read the subscribers' sockets, each its share through one `SelectAll`.
const DRIVERS: usize = 4;

/// Waiting for deliveries ends when none arrived for this long.
const QUIET_TIMEOUT: Duration = Duration::from_secs(15);

/// Waiting for deliveries ends after this long in any case.
const WAIT_LIMIT: Duration = Duration::from_secs(300);

/// `createSku` mutations per request while writing the data set.
const SKUS_PER_REQUEST: usize = 50;

/// Open files this process keeps for itself beyond one per subscriber.
const SPARE_OPEN_FILES: u64 = 512;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Settings of the subscription runs: subscriber counts, crossings per count and their rate.
#[derive(Clone, Debug)]
pub struct SubscriptionSettings {
    pub subscriber_counts: Vec<usize>,
    pub events: usize,
    pub events_per_second: f64,
}

/// Percentiles of a set of durations, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Spread {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Spread {
    /// Returns the nearest-rank percentiles of microsecond values, which may be negative, or
    /// `None` when there are none.
    fn of(mut micros: Vec<i64>) -> Option<Spread> {
        if micros.is_empty() {
            return None;
        }
        micros.sort_unstable();
        let at = |fraction: f64| {
            let rank = (fraction * micros.len() as f64).ceil() as usize;
            micros[rank.clamp(1, micros.len()) - 1] as f64 / 1000.0
        };
        Some(Spread { count: micros.len() as u64, p50_ms: at(0.50), p99_ms: at(0.99), max_ms: at(1.0) })
    }
}

/// The figures of one subscriber count.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SubscriptionRun {
    /// Subscribers asked for.
    pub subscribers: usize,
    /// Subscribers that completed the handshake, got `connection_ack` and sent `subscribe`.
    pub connected: usize,
    pub connect_failures: usize,
    pub first_connect_failure: Option<String>,
    /// Seconds to open every subscriber, `CONNECTING_AT_ONCE` handshakes at a time.
    pub connect_seconds: f64,
    /// CPU while the subscribers connected, where "per request" means per subscriber.
    pub connect_cpu: Option<CpuUse>,
    /// Soft open-file limits of this process and of the server.
    pub open_files_limit: Option<u64>,
    pub server_open_files_limit: Option<u64>,
    /// Crossings made before measuring, and subscribers that had received one by then.
    pub warmup_crossings: usize,
    pub live_subscribers: usize,
    /// Crossings asked for, their rate, and those whose mutation succeeded.
    pub events_planned: usize,
    pub events_per_second: f64,
    pub events_sent: usize,
    /// Seconds from the first measured mutation until the last one's response. Mutations go
    /// one at a time, so when they take longer than the interval the rate falls behind.
    #[serde(default)]
    pub sending_seconds: f64,
    pub mutation_failures: usize,
    pub mutation_latency: Option<Spread>,
    /// Live subscribers × crossings sent, and what arrived of it.
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub missing: u64,
    pub duplicates: u64,
    /// Subscribers that lacked at least one measured event.
    pub subscribers_missing_events: u64,
    /// Events of SKUs this run did not change, or that could not be read.
    pub unexpected_messages: u64,
    /// `error` and `complete` messages, and connections that closed or failed while measuring.
    pub error_messages: u64,
    pub complete_messages: u64,
    pub dropped_connections: u64,
    pub first_problem: Option<String>,
    /// From `occurredAt` to receipt, over every first delivery.
    pub latency_from_occurred: Option<Spread>,
    /// From the mutation's HTTP response to receipt, negative when the event arrived first.
    pub latency_from_response: Option<Spread>,
    /// Per crossing, from `occurredAt` to its receipt by the last subscriber.
    pub time_to_all: Option<Spread>,
    /// Per crossing, from its first receipt to its last.
    pub fan_out: Option<Spread>,
    /// Server memory: idle after start-up, with every subscriber live, and after the crossings.
    pub memory_before: Option<Memory>,
    pub memory_subscribed: Option<Memory>,
    pub memory_after: Option<Memory>,
    /// CPU from the first measured crossing until the last delivery, where "per request" means
    /// per delivery.
    pub cpu: Option<CpuUse>,
    /// Seconds from the first measured crossing until waiting for deliveries ended.
    pub measured_seconds: f64,
    /// The reason this count stopped early, if it did.
    pub error: Option<String>,
}

impl SubscriptionRun {
    /// Crossings per second actually made, which is below the set rate when mutations were slow.
    pub fn achieved_events_per_second(&self) -> Option<f64> {
        (self.events_sent > 1 && self.sending_seconds > 0.0).then(|| (self.events_sent - 1) as f64 / self.sending_seconds)
    }

    /// Server RSS added per live subscriber, in KiB.
    pub fn memory_per_subscriber_kib(&self) -> Option<f64> {
        let (before, after) = (self.memory_before?, self.memory_subscribed?);
        (self.live_subscribers > 0).then(|| (after.rss_mib - before.rss_mib) * 1024.0 / self.live_subscribers as f64)
    }
}

/// Writes the data set, then measures each subscriber count on a fresh server. A count that
/// fails is recorded in its run, and the next count still runs.
///
/// # Errors
/// When the data set cannot be written.
pub async fn run(
    command: &(std::path::PathBuf, Vec<String>),
    wrapper: &[String],
    database_url: &str,
    folder: &Path,
    db: &Db,
    settings: &SubscriptionSettings,
    label: &str,
) -> anyhow::Result<Vec<SubscriptionRun>> {
    let per_run = WARMUP_CROSSINGS + settings.events;
    let codes: Vec<String> = (0..per_run * settings.subscriber_counts.len()).map(sku_code).collect();

    eprintln!("[{label}] subscriptions: writing {} SKUs through GraphQL", codes.len());
    let server = ChildServer::start(command, wrapper, database_url, folder.join("subscriptions-setup.log")).await?;
    let written = match GraphqlClient::new(&server.graphql_url(), 2) {
        Ok(client) => write_data_set(&client, &codes).await,
        Err(err) => Err(err),
    };
    let stopped = server.stop().await;
    let warehouse = written?;
    stopped?;

    let mut runs = Vec::new();
    for (index, &subscribers) in settings.subscriber_counts.iter().enumerate() {
        let first = index * per_run;
        let plan = EventPlan { first: first as u32, measured_from: (first + WARMUP_CROSSINGS) as u32, measured: settings.events as u32 };
        let run_codes = &codes[first..first + per_run];
        let log = folder.join(format!("subscriptions-{subscribers}.log"));
        let mut run = SubscriptionRun {
            subscribers,
            events_planned: settings.events,
            events_per_second: settings.events_per_second,
            ..SubscriptionRun::default()
        };
        let started = ChildServerStart { command, wrapper, database_url, log: &log };
        if let Err(err) = measure(started, db, &warehouse, run_codes, plan, settings, &mut run).await {
            eprintln!("[{label}] subscriptions, {subscribers} subscribers: failed: {err:#}");
            run.error = Some(format!("{err:#}"));
        }
        announce(label, &run);
        runs.push(run);
    }
    Ok(runs)
}

/// The command, wrapper, database and log file that start the server of one subscriber count.
struct ChildServerStart<'a> {
    command: &'a (std::path::PathBuf, Vec<String>),
    wrapper: &'a [String],
    database_url: &'a str,
    log: &'a Path,
}

/// The SKU numbers of one subscriber count: warm-up crossings from `first`, then `measured`
/// crossings from `measured_from`.
#[derive(Clone, Copy, Debug)]
struct EventPlan {
    first: u32,
    measured_from: u32,
    measured: u32,
}

enum EventClass {
    Warmup,
    Measured(u32),
    Unexpected,
}

impl EventPlan {
    fn classify(self, sku_code: &str) -> EventClass {
        let Some(number) = sku_code.strip_prefix(SKU_PREFIX).and_then(|digits| digits.parse::<u32>().ok()) else {
            return EventClass::Unexpected;
        };
        if (self.first..self.measured_from).contains(&number) {
            EventClass::Warmup
        } else if (self.measured_from..self.measured_from + self.measured).contains(&number) {
            EventClass::Measured(number - self.measured_from)
        } else {
            EventClass::Unexpected
        }
    }
}

/// Formats the code of the benchmark's SKU number `index`.
fn sku_code(index: usize) -> String {
    format!("{SKU_PREFIX}{index:05}")
}

/// Measures one subscriber count on a server of its own, which it stops at the end.
async fn measure(
    start: ChildServerStart<'_>,
    db: &Db,
    warehouse: &str,
    codes: &[String],
    plan: EventPlan,
    settings: &SubscriptionSettings,
    run: &mut SubscriptionRun,
) -> anyhow::Result<()> {
    run.open_files_limit = Some(ensure_open_files(run.subscribers as u64 + SPARE_OPEN_FILES)?);
    let server = ChildServer::start(start.command, start.wrapper, start.database_url, start.log.to_path_buf()).await?;
    let outcome = measure_on(&server, db, warehouse, codes, plan, settings, run).await;
    let stopped = server.stop().await;
    outcome?;
    stopped
}

async fn measure_on(
    server: &ChildServer,
    db: &Db,
    warehouse: &str,
    codes: &[String],
    plan: EventPlan,
    settings: &SubscriptionSettings,
    run: &mut SubscriptionRun,
) -> anyhow::Result<()> {
    run.server_open_files_limit = open_files_limit(server.pid()).map(|(soft, _)| soft);
    // Let start-up work (pools, the relay's first read) finish before reading idle memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.memory_before = Some(server.memory()?);

    let meter = CpuMeter::start(Some(server.pid()), db).await;
    let started = Instant::now();
    let opened = open_subscribers(&server.websocket_url(), run.subscribers).await;
    run.connect_seconds = started.elapsed().as_secs_f64();
    run.connected = opened.sockets.len();
    run.connect_failures = opened.failures;
    run.first_connect_failure = opened.first_failure;
    run.connect_cpu = Some(meter.finish(run.connected as u64, db).await);
    if run.connected == 0 {
        bail!("no subscriber connected");
    }

    let progress = Arc::new(Progress::default());
    let (stop, stopped) = watch::channel(false);
    let mut drivers = Vec::new();
    let mut sockets = opened.sockets;
    let share = run.connected.div_ceil(DRIVERS);
    let mut first_subscriber = run.connected;
    while !sockets.is_empty() {
        let take = sockets.len().min(share);
        first_subscriber -= take;
        let mine: Vec<Socket> = sockets.split_off(sockets.len() - take);
        drivers.push(tokio::spawn(drive(mine, first_subscriber as u32, plan, Arc::clone(&progress), stopped.clone())));
    }

    let client = GraphqlClient::new(&server.graphql_url(), 2)?;
    let outcome = cross_and_wait(server, db, &client, warehouse, codes, settings, &progress, run).await;
    let _ = stop.send(true);
    let mut tallies = Vec::new();
    for driver in drivers {
        tallies.push(driver.await.context("a subscriber driver panicked")?);
    }
    let sent = outcome?;
    summarize(run, tallies, &sent, plan.measured as usize);
    Ok(())
}

/// Makes the warm-up crossings until every subscriber is live, reads the memory, then makes
/// the measured crossings at the set rate and waits for their deliveries. Returns the wall
/// clock of each measured mutation's response, `None` for one that failed.
#[expect(clippy::too_many_arguments, reason = "one caller; the arguments are the run's state")]
async fn cross_and_wait(
    server: &ChildServer,
    db: &Db,
    client: &GraphqlClient,
    warehouse: &str,
    codes: &[String],
    settings: &SubscriptionSettings,
    progress: &Progress,
    run: &mut SubscriptionRun,
) -> anyhow::Result<Vec<Option<i64>>> {
    let connected = run.connected as u64;
    for code in &codes[..WARMUP_CROSSINGS] {
        adjust(client, code, warehouse).await.map_err(|message| anyhow::anyhow!("warm-up crossing of {code} failed: {message}"))?;
        run.warmup_crossings += 1;
        if wait_for(&progress.live, connected, Duration::from_secs(10)).await {
            break;
        }
    }
    run.live_subscribers = progress.live.load(Ordering::Relaxed) as usize;
    if run.live_subscribers < run.connected {
        note(&mut run.first_problem, format!("only {} of {} subscribers received a warm-up event", run.live_subscribers, run.connected));
    }
    // The memory with every subscription set up and having delivered one event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.memory_subscribed = Some(server.memory()?);

    let meter = CpuMeter::start(Some(server.pid()), db).await;
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / settings.events_per_second));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = Vec::with_capacity(settings.events);
    let mut mutation_micros = Vec::with_capacity(settings.events);
    for code in &codes[WARMUP_CROSSINGS..] {
        ticks.tick().await;
        let began = Instant::now();
        match adjust(client, code, warehouse).await {
            Ok(()) => {
                sent.push(Some(now_micros()));
                mutation_micros.push(micros(began.elapsed()));
            }
            Err(message) => {
                sent.push(None);
                run.mutation_failures += 1;
                note(&mut run.first_problem, format!("crossing of {code} failed: {message}"));
            }
        }
    }
    run.sending_seconds = started.elapsed().as_secs_f64();
    run.events_sent = sent.iter().flatten().count();
    run.mutation_latency = Spread::of(mutation_micros);
    run.deliveries_expected = run.live_subscribers as u64 * run.events_sent as u64;
    wait_for(&progress.measured, run.deliveries_expected, QUIET_TIMEOUT).await;
    run.measured_seconds = started.elapsed().as_secs_f64();
    run.cpu = Some(meter.finish(progress.measured.load(Ordering::Relaxed), db).await);
    run.memory_after = Some(server.memory()?);
    Ok(sent)
}

/// Waits until `counter` reaches `target`, and returns whether it did. Gives up when the
/// counter has not moved for `quiet`, or after [`WAIT_LIMIT`].
async fn wait_for(counter: &AtomicU64, target: u64, quiet: Duration) -> bool {
    let started = Instant::now();
    let mut last = counter.load(Ordering::Relaxed);
    let mut last_change = Instant::now();
    loop {
        let now = counter.load(Ordering::Relaxed);
        if now >= target {
            return true;
        }
        if now != last {
            last = now;
            last_change = Instant::now();
        }
        if last_change.elapsed() >= quiet || started.elapsed() >= WAIT_LIMIT {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Counters the drivers share with the run.
#[derive(Default)]
struct Progress {
    /// Subscribers that received at least one event of this run.
    live: AtomicU64,
    /// Deliveries of measured crossings, duplicates included.
    measured: AtomicU64,
}

/// The sockets that connected, and why the others did not.
struct Opened {
    sockets: Vec<Socket>,
    failures: usize,
    first_failure: Option<String>,
}

/// Opens `count` subscribers, [`CONNECTING_AT_ONCE`] at a time.
async fn open_subscribers(url: &str, count: usize) -> Opened {
    let results: Vec<Result<Socket, String>> = stream::iter(0..count).map(|_| open_subscriber(url)).buffer_unordered(CONNECTING_AT_ONCE).collect().await;
    let mut opened = Opened { sockets: Vec::with_capacity(count), failures: 0, first_failure: None };
    for result in results {
        match result {
            Ok(socket) => opened.sockets.push(socket),
            Err(message) => {
                opened.failures += 1;
                opened.first_failure.get_or_insert(message);
            }
        }
    }
    opened
}

/// Connects one subscriber: the WebSocket handshake with the `graphql-transport-ws`
/// subprotocol, `connection_init`, the wait for `connection_ack`, then `subscribe`.
async fn open_subscriber(url: &str) -> Result<Socket, String> {
    let connecting = async {
        let mut request = url.into_client_request().map_err(|err| format!("bad URL {url}: {err}"))?;
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
        // Small buffers: the messages are about 150 bytes, and 10,000 sockets with the default
        // 128 KiB read buffers would take over a GiB of this process's memory.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
            .await
            .map_err(|err| format!("WebSocket handshake failed: {err}"))?;
        send_text(&mut socket, json!({ "type": "connection_init" }).to_string()).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).map_err(|err| format!("unreadable message {text:?}: {err}"))?;
                    match message["type"].as_str() {
                        Some("connection_ack") => break,
                        Some("ping") => send_text(&mut socket, json!({ "type": "pong" }).to_string()).await?,
                        _ => return Err(format!("expected connection_ack, got {text}")),
                    }
                }
                Some(Ok(Message::Close(frame))) => return Err(format!("closed before connection_ack: {frame:?}")),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(format!("failed before connection_ack: {err}")),
                None => return Err("closed before connection_ack".to_owned()),
            }
        }
        let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } });
        send_text(&mut socket, subscribe.to_string()).await?;
        Ok(socket)
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting)
        .await
        .unwrap_or_else(|_| Err(format!("not subscribed within {HANDSHAKE_TIMEOUT:?}")))
}

async fn send_text(socket: &mut Socket, text: String) -> Result<(), String> {
    socket.send(Message::text(text)).await.map_err(|err| format!("sending failed: {err}"))
}

/// One measured event as one subscriber received it.
#[derive(Clone, Copy)]
struct Delivery {
    subscriber: u32,
    event: u32,
    occurred_micros: i64,
    received_micros: i64,
}

/// Deliveries and problems that one driver recorded on its sockets.
#[derive(Default)]
struct DriverTally {
    deliveries: Vec<Delivery>,
    unexpected: u64,
    errors: u64,
    completes: u64,
    dropped: u64,
    first_problem: Option<String>,
}

/// A `next` message of the subscription. Other messages fail to deserialize as one and are
/// read as plain JSON instead.
#[derive(Deserialize)]
struct NextMessage<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    payload: Option<NextPayload<'a>>,
}

#[derive(Deserialize)]
struct NextPayload<'a> {
    #[serde(borrow)]
    data: Option<EventData<'a>>,
}

#[derive(Deserialize)]
struct EventData<'a> {
    #[serde(rename = "lowStockEvents", borrow)]
    event: EventFields<'a>,
}

#[derive(Deserialize)]
struct EventFields<'a> {
    #[expect(dead_code, reason = "asked for as a client would; the SKU code identifies the crossing")]
    sequence: i64,
    #[serde(rename = "occurredAt", borrow)]
    occurred_at: Cow<'a, str>,
    #[serde(rename = "skuCode", borrow)]
    sku_code: Cow<'a, str>,
}

/// Reads `sockets` (subscribers `first_subscriber`, … in order) until `stop` changes, replies
/// to `ping` with `pong`, and records every event.
async fn drive(sockets: Vec<Socket>, first_subscriber: u32, plan: EventPlan, progress: Arc<Progress>, mut stop: watch::Receiver<bool>) -> DriverTally {
    let mut tally = DriverTally { deliveries: Vec::with_capacity(sockets.len() * plan.measured as usize), ..DriverTally::default() };
    let mut live = vec![false; sockets.len()];
    let mut sinks = Vec::with_capacity(sockets.len());
    let mut incoming = SelectAll::new();
    for (local, socket) in sockets.into_iter().enumerate() {
        let (sink, messages) = socket.split();
        sinks.push(sink);
        // `scan` ends a socket's stream after its first error, and `chain` then yields one
        // `None`, so each closed connection is counted once.
        let messages = messages
            .scan(false, |failed, message| {
                let item = if *failed { None } else { Some(message) };
                *failed |= matches!(item, Some(Err(_)));
                std::future::ready(item)
            })
            .map(move |message| (local, Some(message)))
            .chain(stream::once(std::future::ready((local, None))));
        incoming.push(Box::pin(messages));
    }

    loop {
        let next = tokio::select! {
            biased;
            _ = stop.changed() => break,
            next = incoming.next() => next,
        };
        let Some((local, message)) = next else { break };
        let received_micros = now_micros();
        let subscriber = first_subscriber + local as u32;
        match message {
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<NextMessage>(&text) {
                Ok(NextMessage { kind, payload: Some(NextPayload { data: Some(EventData { event }) }) }) if kind == "next" => {
                    let occurred = chrono::DateTime::parse_from_rfc3339(&event.occurred_at).map(|at| at.timestamp_micros());
                    match (plan.classify(&event.sku_code), occurred) {
                        (EventClass::Unexpected, _) | (_, Err(_)) => {
                            tally.unexpected += 1;
                            note(&mut tally.first_problem, format!("subscriber {subscriber}: unexpected event {text}"));
                        }
                        (class, Ok(occurred_micros)) => {
                            if !live[local] {
                                live[local] = true;
                                progress.live.fetch_add(1, Ordering::Relaxed);
                            }
                            if let EventClass::Measured(event) = class {
                                tally.deliveries.push(Delivery { subscriber, event, occurred_micros, received_micros });
                                progress.measured.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
                Ok(NextMessage { kind, .. }) if kind == "ping" => {
                    let _ = sinks[local].send(Message::text(json!({ "type": "pong" }).to_string())).await;
                }
                Ok(NextMessage { kind, .. }) if kind == "pong" => {}
                Ok(NextMessage { kind, .. }) if kind == "complete" => {
                    tally.completes += 1;
                    note(&mut tally.first_problem, format!("subscriber {subscriber}: the server completed the subscription"));
                }
                _ => {
                    tally.errors += 1;
                    note(&mut tally.first_problem, format!("subscriber {subscriber}: {text}"));
                }
            },
            Some(Ok(Message::Close(frame))) => note(&mut tally.first_problem, format!("subscriber {subscriber}: closed by the server: {frame:?}")),
            Some(Ok(_)) => {}
            Some(Err(err)) => note(&mut tally.first_problem, format!("subscriber {subscriber}: {err}")),
            None => {
                tally.dropped += 1;
                note(&mut tally.first_problem, format!("subscriber {subscriber}: connection closed"));
            }
        }
    }
    tally
}

/// Counts what arrived against what was sent and computes the latencies.
fn summarize(run: &mut SubscriptionRun, tallies: Vec<DriverTally>, sent: &[Option<i64>], events: usize) {
    let subscribers = run.connected;
    let mut seen = vec![false; subscribers * events];
    let mut from_occurred = Vec::new();
    let mut from_response = Vec::new();
    // Per event: when it occurred, and its first and last receipt.
    let mut per_event: Vec<Option<(i64, i64, i64)>> = vec![None; events];

    for tally in tallies {
        run.unexpected_messages += tally.unexpected;
        run.error_messages += tally.errors;
        run.complete_messages += tally.completes;
        run.dropped_connections += tally.dropped;
        if let Some(problem) = tally.first_problem {
            note(&mut run.first_problem, problem);
        }
        for delivery in tally.deliveries {
            let (subscriber, event) = (delivery.subscriber as usize, delivery.event as usize);
            let slot = &mut seen[subscriber * events + event];
            if *slot {
                run.duplicates += 1;
                continue;
            }
            *slot = true;
            run.deliveries += 1;
            from_occurred.push(delivery.received_micros - delivery.occurred_micros);
            if let Some(Some(response)) = sent.get(event) {
                from_response.push(delivery.received_micros - response);
            }
            let entry = per_event[event].get_or_insert((delivery.occurred_micros, delivery.received_micros, delivery.received_micros));
            entry.1 = entry.1.min(delivery.received_micros);
            entry.2 = entry.2.max(delivery.received_micros);
        }
    }

    run.missing = run.deliveries_expected.saturating_sub(run.deliveries);
    run.subscribers_missing_events = (0..subscribers)
        .filter(|subscriber| {
            let row = &seen[subscriber * events..(subscriber + 1) * events];
            row.iter().zip(sent).any(|(received, sent)| sent.is_some() && !received)
        })
        .count() as u64;

    run.latency_from_occurred = Spread::of(from_occurred);
    run.latency_from_response = Spread::of(from_response);
    run.time_to_all = Spread::of(per_event.iter().flatten().map(|(occurred, _, last)| last - occurred).collect());
    run.fan_out = Spread::of(per_event.iter().flatten().map(|(_, first, last)| last - first).collect());
}

/// Prints a count's headline figures as it finishes.
fn announce(label: &str, run: &SubscriptionRun) {
    let spread = |spread: &Option<Spread>| spread.map_or_else(|| "—".to_owned(), |s| format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", s.p50_ms, s.p99_ms, s.max_ms));
    eprintln!(
        "[{label}] subscriptions, {} subscribers: {} connected in {:.1} s ({} failed), {} live; {} of {} deliveries, {} missing, {} duplicates; \
         from occurredAt: {}; memory per subscriber {}",
        run.subscribers,
        run.connected,
        run.connect_seconds,
        run.connect_failures,
        run.live_subscribers,
        run.deliveries,
        run.deliveries_expected,
        run.missing,
        run.duplicates,
        spread(&run.latency_from_occurred),
        run.memory_per_subscriber_kib().map_or_else(|| "—".to_owned(), |kib| format!("{kib:.1} KiB")),
    );
    if let Some(problem) = &run.first_problem {
        eprintln!("[{label}] subscriptions, {} subscribers: first problem: {problem}", run.subscribers);
    }
}

/// Keeps the first problem of a run.
fn note(first: &mut Option<String>, problem: String) {
    first.get_or_insert(problem);
}

fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Takes one unit of `code` in `warehouse`, which must leave 5 on hand.
async fn adjust(client: &GraphqlClient, code: &str, warehouse: &str) -> Result<(), String> {
    let body = json!({
        "query": ADJUST_MUTATION,
        "variables": { "input": { "sku": code, "warehouseId": warehouse, "delta": -1, "reason": "subscription benchmark" } },
    });
    let response = client.post(body.to_string(), |bytes| serde_json::from_slice::<Value>(bytes)).await?.map_err(|err| format!("not JSON: {err}"))?;
    match response["data"]["adjustInventory"]["warehouseItem"]["onHand"].as_i64() {
        Some(MIN_STOCK_QUANTITY) => Ok(()),
        _ => Err(format!("unexpected response {response}")),
    }
}

/// Sends one GraphQL request and returns its `data`, failing on any error.
async fn call(client: &GraphqlClient, query: &str, variables: Value) -> anyhow::Result<Value> {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let mut response = client
        .post(body, |bytes| serde_json::from_slice::<Value>(bytes))
        .await
        .map_err(|message| anyhow::anyhow!(message))?
        .context("the response is not JSON")?;
    if let Some(errors) = response.get("errors") {
        bail!("the request returned errors: {errors}");
    }
    Ok(response["data"].take())
}

/// Writes the warehouse, the product with its threshold, the SKUs and their stock, and
/// returns the warehouse's global id.
async fn write_data_set(client: &GraphqlClient, codes: &[String]) -> anyhow::Result<String> {
    let data = call(
        client,
        "mutation($input: CreateWarehouseInput!) { createWarehouse(input: $input) { warehouse { id } } }",
        json!({ "input": { "name": "Subscription Benchmark Warehouse", "externalReferenceCode": "bench-subscriptions", "active": true } }),
    )
    .await?;
    let warehouse = data["createWarehouse"]["warehouse"]["id"].as_str().context("createWarehouse returned no id")?.to_owned();

    let data = call(
        client,
        "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }",
        json!({ "input": { "name": "Subscription Benchmark Product", "externalReferenceCode": "bench-subscriptions" } }),
    )
    .await?;
    let product = data["createProduct"]["product"]["id"].as_str().context("createProduct returned no id")?.to_owned();
    call(
        client,
        "mutation($input: SetProductInventoryConfigurationInput!) { \
         setProductInventoryConfiguration(input: $input) { inventoryConfiguration { minStockQuantity } } }",
        json!({ "input": { "productId": product, "minStockQuantity": MIN_STOCK_QUANTITY } }),
    )
    .await?;

    for chunk in codes.chunks(SKUS_PER_REQUEST) {
        // One aliased `createSku` per SKU, each taking its code from its own variable.
        let declarations: String = (0..chunk.len()).map(|index| format!(", $code{index}: String!")).collect();
        let fields: String = (0..chunk.len())
            .map(|index| format!(" s{index}: createSku(input: {{ productId: $product, code: $code{index} }}) {{ sku {{ id }} }}"))
            .collect();
        let mutation = format!("mutation($product: ID!{declarations}) {{{fields} }}");
        let mut variables = serde_json::Map::new();
        variables.insert("product".to_owned(), json!(product));
        for (index, code) in chunk.iter().enumerate() {
            variables.insert(format!("code{index}"), json!(code));
        }
        call(client, &mutation, Value::Object(variables)).await?;
    }

    let items: Vec<Value> = codes.iter().map(|code| json!({ "sku": code, "warehouseId": warehouse, "onHand": STARTING_ON_HAND })).collect();
    let data = call(
        client,
        "mutation($input: BulkSetInventoryInput!) { bulkSetInventory(input: $input) { appliedCount rejectedCount } }",
        json!({ "input": { "items": items, "reason": "subscription benchmark" } }),
    )
    .await?;
    let applied = data["bulkSetInventory"]["appliedCount"].as_u64().unwrap_or(0);
    if applied != codes.len() as u64 {
        bail!("bulkSetInventory applied {applied} of {} items: {data}", codes.len());
    }
    Ok(warehouse)
}

/// Returns the soft and hard open-file limits of a process, from `/proc/PID/limits`.
fn open_files_limit(pid: u32) -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    let mut values = line["Max open files".len()..].split_whitespace().map(|value| if value == "unlimited" { Some(u64::MAX) } else { value.parse().ok() });
    Some((values.next()??, values.next()??))
}

/// Makes sure this process, and so the server it starts next, may open `needed` files, and
/// returns the soft limit. Raises the limit with util-linux's `prlimit` when it is lower, because
/// no dependency of this package offers `setrlimit`.
///
/// # Errors
/// When the limit is too low and cannot be raised (raising the hard limit needs root).
fn ensure_open_files(needed: u64) -> anyhow::Result<u64> {
    let pid = std::process::id();
    let (soft, hard) = open_files_limit(pid).context("cannot read this process's open-file limit from /proc")?;
    if soft >= needed {
        return Ok(soft);
    }
    let raised = std::process::Command::new("prlimit").arg(format!("--pid={pid}")).arg(format!("--nofile={needed}:{}", hard.max(needed))).status();
    let (soft, hard) = open_files_limit(pid).context("cannot read this process's open-file limit from /proc")?;
    if soft >= needed {
        eprintln!("raised the open-file limit to {soft} with prlimit");
        return Ok(soft);
    }
    let outcome = match raised {
        Ok(status) => format!("`prlimit` exited with {status}"),
        Err(err) => format!("`prlimit` failed to start: {err}"),
    };
    bail!(
        "{needed} open files are needed but the limit is {soft} (hard limit {hard}) and {outcome}; raise it with `ulimit -n {needed}` in the shell, as root if the hard limit is lower"
    )
}

#[cfg(test)]
mod tests {
    use super::{EventClass, EventPlan, Spread};

    #[test]
    fn spread_of_negative_values() {
        let spread = Spread::of((-50..50).map(|ms| ms * 1000).collect()).expect("values given");
        assert_eq!(spread.count, 100);
        assert_eq!(spread.p50_ms, -1.0);
        assert_eq!(spread.p99_ms, 48.0);
        assert_eq!(spread.max_ms, 49.0);
    }

    #[test]
    fn spread_of_nothing_is_none() {
        assert!(Spread::of(Vec::new()).is_none());
    }

    #[test]
    fn plan_classifies_sku_codes() {
        let plan = EventPlan { first: 105, measured_from: 110, measured: 100 };
        assert!(matches!(plan.classify("SUBS-00104"), EventClass::Unexpected));
        assert!(matches!(plan.classify("SUBS-00105"), EventClass::Warmup));
        assert!(matches!(plan.classify("SUBS-00109"), EventClass::Warmup));
        assert!(matches!(plan.classify("SUBS-00110"), EventClass::Measured(0)));
        assert!(matches!(plan.classify("SUBS-00209"), EventClass::Measured(99)));
        assert!(matches!(plan.classify("SUBS-00210"), EventClass::Unexpected));
        assert!(matches!(plan.classify("SKU-00110"), EventClass::Unexpected));
    }
}
