//! Delivering inventory events to subscribers: one relay per server instance reads the durable
//! log in sequence order and fans each event out to every local subscription.
//!
//! The relay wakes when this process commits events, when PostgreSQL announces events that
//! another instance committed (LISTEN/NOTIFY), and once a second in any case, so a lost
//! notification delays an event by at most that second and never loses it: the log, not the
//! notification, is what the relay reads. Because sequences become visible in order (see
//! [`crate::service::events`]), reading `sequence > last` never skips an event.
//!
//! A subscription first replays the stored events after the sequence it names, then follows
//! the relay. It subscribes to the relay before it reads the log and drops any event at or
//! below the last sequence it delivered, so the seam has no gap and no duplicate. Each
//! subscription's backlog in the relay is bounded; one that falls behind (a client that reads
//! slowly) is told so by the channel and goes back to reading the log from its last sequence,
//! so it neither slows the others nor loses events.
//!
//! When the server shuts down, [`EventHub::shut_down`] ends every subscription, each at the
//! last sequence it delivered. A WebSocket connection that runs its subscriptions inside a
//! [`ResumePoint`] learns the lowest of them, so it can tell the client where to resume.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_stream::stream;
use entity::inventory_event;
use futures_util::Stream;
use sea_orm::DatabaseBackend;
use tokio::{
    sync::{broadcast, mpsc, watch},
    task::JoinHandle,
};

use crate::{
    db::Db,
    error::{Error, Result},
    service::events::{self, EventFilter, InventoryEventScope},
};

/// How often the relay reads the log when nothing woke it.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Events read from the log per statement.
const PAGE: u64 = 500;

/// Events the relay keeps for subscriptions that have not taken them yet. A subscription
/// further behind reads the log instead.
const BACKLOG: usize = 4096;

/// One stored event, shared by every subscription that receives it.
pub type SharedEvent = Arc<inventory_event::Model>;

/// The relay of one server instance and the subscriptions it feeds.
pub struct EventHub {
    db: Db,
    sender: broadcast::Sender<SharedEvent>,
    /// The last sequence the relay has read; `None` until it has read the log once.
    // Read by the unit tests, which wait for the relay to reach a sequence.
    #[cfg_attr(not(test), allow(dead_code))]
    head: watch::Receiver<Option<i64>>,
    /// Becomes true when the server shuts down, which ends every subscription.
    stopping: watch::Sender<bool>,
    /// Subscriptions open now.
    subscribers: Arc<AtomicUsize>,
    /// Events the relay has read and broadcast since it started.
    relayed: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for EventHub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl EventHub {
    /// Starts the relay (and, on PostgreSQL, the listener) on a pool of its own. The tasks stop
    /// when the hub is dropped. Must be called inside a Tokio runtime.
    pub fn start(db: Db) -> Arc<EventHub> {
        EventHub::start_with_backlog(db, BACKLOG)
    }

    /// Like [`EventHub::start`], keeping `backlog` events for slow subscriptions.
    pub fn start_with_backlog(db: Db, backlog: usize) -> Arc<EventHub> {
        let (sender, _) = broadcast::channel(backlog);
        let (head_tx, head) = watch::channel(None);
        let mut tasks = Vec::new();

        let relay_sender = sender.clone();
        let local_commits = db.events_written();
        let main_db = db.clone();
        let relayed = Arc::new(AtomicU64::new(0));
        let relay_count = Arc::clone(&relayed);
        tasks.push(tokio::spawn(async move {
            let db = connect_background(&main_db).await;
            let (wake_tx, wake_rx) = mpsc::channel(1);
            let listener = (db.backend() == DatabaseBackend::Postgres).then(|| tokio::spawn(listen(db.clone(), wake_tx)));
            relay(db, relay_sender, head_tx, local_commits, wake_rx, relay_count).await;
            if let Some(listener) = listener {
                listener.abort();
            }
        }));
        Arc::new(EventHub {
            db,
            sender,
            head,
            stopping: watch::Sender::new(false),
            subscribers: Arc::new(AtomicUsize::new(0)),
            relayed,
            tasks,
        })
    }

    /// Ends every subscription, now and from now on. Each stops after the last event it
    /// delivered, and one made later ends at once. The server calls it when it shuts down.
    pub fn shut_down(&self) {
        self.stopping.send_replace(true);
    }

    /// Returns the number of subscriptions open now.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }

    /// Returns the number of events the relay has read from the log and broadcast since it
    /// started.
    pub fn events_relayed(&self) -> u64 {
        self.relayed.load(Ordering::Relaxed)
    }

    /// The stream of events passing `filter`: first the stored ones after `after`, then live
    /// ones. Without `after`, only events after the moment of the call.
    ///
    /// # Errors
    /// `INVALID_INPUT` when `after` is negative, beyond the last stored sequence, or older
    /// than what the retention policy kept.
    pub async fn subscribe(
        self: &Arc<Self>,
        filter: EventFilter,
        after: Option<i64>,
    ) -> Result<impl Stream<Item = Result<SharedEvent>> + use<>> {
        // Subscribe before reading anything, so no event falls between the replay and the live
        // stream.
        let mut live = self.sender.subscribe();
        let mut stopping = self.stopping.subscribe();
        let subscriber = Subscriber::count(&self.subscribers);
        let mut last = match after {
            Some(after) => {
                check_after(&self.db, after).await?;
                after
            }
            // The log's last sequence now, not the relay's: a relay still starting up would
            // otherwise count events committed after this call as older than the subscription.
            None => events::last_sequence(self.db.conn()).await?,
        };
        let hub = Arc::clone(self);

        Ok(stream! {
            // Counted while the stream lives.
            let _subscriber = subscriber;
            'replay: loop {
                // Replay from the log up to what is stored now.
                loop {
                    if *stopping.borrow() {
                        ResumePoint::note(last);
                        return;
                    }
                    if let Err(err) = check_retained(&hub.db, last).await {
                        yield Err(err);
                        return;
                    }
                    let page = match events::events_after(hub.db.conn(), last, &filter, PAGE).await {
                        Ok(page) => page,
                        Err(err) => {
                            yield Err(err);
                            return;
                        }
                    };
                    let full = page.len() as u64 == PAGE;
                    for event in page {
                        last = event.sequence;
                        yield Ok(Arc::new(event));
                    }
                    if !full {
                        break;
                    }
                }

                // Follow the relay; anything at or below `last` was replayed already.
                loop {
                    let received = tokio::select! {
                        // Stopping wins over queued events: the client gets them when it
                        // resumes after `last`.
                        biased;
                        _ = stopping.wait_for(|stopping| *stopping) => {
                            ResumePoint::note(last);
                            return;
                        }
                        received = live.recv() => received,
                    };
                    match received {
                        Ok(event) => {
                            if event.sequence <= last {
                                continue;
                            }
                            last = event.sequence;
                            if filter.matches(&event) {
                                yield Ok(event);
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(skipped)) => {
                            tracing::debug!(skipped, last, "subscription fell behind; resuming from the event log");
                            #[cfg(test)]
                            tests::LAGGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            continue 'replay;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        })
    }
}

/// Counts one open subscription until dropped.
struct Subscriber {
    subscribers: Arc<AtomicUsize>,
}

impl Subscriber {
    fn count(subscribers: &Arc<AtomicUsize>) -> Subscriber {
        subscribers.fetch_add(1, Ordering::Relaxed);
        Subscriber { subscribers: Arc::clone(subscribers) }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

tokio::task_local! {
    static RESUME_POINT: ResumePoint;
}

/// Where the subscriptions of one client connection can resume after [`EventHub::shut_down`]
/// ended them: the lowest sequence any of them had delivered. Resuming there with `after`
/// misses nothing; a subscription that had gone further sees a few events again.
#[derive(Clone, Debug, Default)]
pub struct ResumePoint(Arc<Mutex<Option<i64>>>);

impl ResumePoint {
    /// Runs `future` with this resume point noting the subscriptions that end inside it.
    pub async fn scope<F: Future>(&self, future: F) -> F::Output {
        RESUME_POINT.scope(self.clone(), future).await
    }

    /// The sequence to resume after, once a subscription of the scope has been shut down.
    pub fn sequence(&self) -> Option<i64> {
        *self.0.lock().expect("BUG: the lock is never held across a panic")
    }

    /// Notes, in the caller's scope if any, that a subscription stopped after `last`.
    fn note(last: i64) {
        let _ = RESUME_POINT.try_with(|point| {
            let mut sequence = point.0.lock().expect("BUG: the lock is never held across a panic");
            *sequence = Some(sequence.map_or(last, |sequence| sequence.min(last)));
        });
    }
}

/// The relay's own pool, retried until the database answers.
async fn connect_background(db: &Db) -> Db {
    loop {
        match db.background_pool().await {
            Ok(pool) => return pool,
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "event relay: cannot connect; retrying");
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }
}

/// Reads the log in sequence order and broadcasts every event, waking on local commits,
/// notifications from other instances, or the poll interval.
async fn relay(
    db: Db,
    sender: broadcast::Sender<SharedEvent>,
    head: watch::Sender<Option<i64>>,
    mut local_commits: watch::Receiver<u64>,
    mut notified: mpsc::Receiver<()>,
    relayed: Arc<AtomicU64>,
) {
    let every_scope = EventFilter {
        scopes: vec![InventoryEventScope::Company, InventoryEventScope::Channel, InventoryEventScope::Warehouse],
        ..EventFilter::default()
    };
    let mut last = loop {
        match events::last_sequence(db.conn()).await {
            Ok(last) => break last,
            Err(err) => {
                tracing::error!(error = %err.message(), "event relay: cannot read the event log; retrying");
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    };
    head.send_replace(Some(last));

    loop {
        loop {
            match events::events_after(db.conn(), last, &every_scope, PAGE).await {
                Ok(page) => {
                    let full = page.len() as u64 == PAGE;
                    for event in page {
                        last = event.sequence;
                        // No receiver is not an error: nobody is subscribed right now.
                        let _ = sender.send(Arc::new(event));
                        relayed.fetch_add(1, Ordering::Relaxed);
                    }
                    head.send_replace(Some(last));
                    if !full {
                        break;
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err.message(), "event relay: cannot read the event log; retrying");
                    break;
                }
            }
        }
        tokio::select! {
            changed = local_commits.changed() => {
                if changed.is_err() {
                    // The database handle is gone; so is the server.
                    return;
                }
            }
            // On SQLite there is no listener and the channel is closed; the branch is then off.
            Some(()) = notified.recv() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// Listens for NOTIFY from every instance on the database and wakes the relay.
async fn listen(db: Db, wake: mpsc::Sender<()>) {
    let pool = db.conn().get_postgres_connection_pool().clone();
    loop {
        let mut listener = match sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "event listener: cannot connect; the relay polls meanwhile");
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(events::NOTIFY_CHANNEL).await {
            tracing::warn!(error = %err, "event listener: LISTEN failed; the relay polls meanwhile");
            tokio::time::sleep(POLL_INTERVAL).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                // A full wake channel already holds a wake-up; one is enough.
                Ok(Some(_)) => {
                    let _ = wake.try_send(());
                }
                // The connection was lost and is reconnected on the next call; notifications
                // may have been lost meanwhile, so read the log now.
                Ok(None) => {
                    let _ = wake.try_send(());
                }
                Err(err) => {
                    tracing::warn!(error = %err, "event listener: connection failed; reconnecting");
                    tokio::time::sleep(POLL_INTERVAL).await;
                    break;
                }
            }
        }
    }
}

/// Rejects an `after` that is negative or beyond the last stored sequence (a client that
/// would otherwise silently skip events up to it).
async fn check_after(db: &Db, after: i64) -> Result<()> {
    if after < 0 {
        return Err(Error::invalid("after", format!("after must be a sequence of 0 or more, got {after}")));
    }
    let last = events::last_sequence(db.conn()).await?;
    if after > last {
        return Err(Error::invalid(
            "after",
            format!("after {after} is beyond the last stored sequence {last}: pass the last sequence you received, or omit after"),
        ));
    }
    Ok(())
}

/// Fails when events after `last` were removed by the retention policy.
async fn check_retained(db: &Db, last: i64) -> Result<()> {
    let pruned = events::pruned_through(db.conn()).await?;
    if last < pruned {
        return Err(Error::invalid(
            "after",
            format!(
                "events up to sequence {pruned} were removed by the retention policy, so the events after {last} cannot all be replayed; subscribe without after, or with after {pruned} or later, and reload the current stock"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use futures_util::StreamExt;
    use sea_orm::{EntityTrait, Set};

    use super::*;

    /// Times a subscription of this test binary resumed from the log after falling behind.
    pub(super) static LAGGED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    async fn write_events(db: &Db, count: usize) {
        db.write(|txn| {
            Box::pin(async move {
                let rows = (0..count).map(|_| inventory_event::ActiveModel {
                    kind: Set("STOCK_CHANGED".into()),
                    scope: Set("COMPANY".into()),
                    sku_id: Set(1),
                    sku_code: Set("SKU-1".into()),
                    warehouse_id: Set(None),
                    channel_id: Set(None),
                    on_hand: Set(1),
                    safety_stock: Set(0),
                    booked: Set(0),
                    available_before: Set(None),
                    available_after: Set(1),
                    threshold: Set(None),
                    activity_key: Set(None),
                    activity_status: Set(None),
                    activity_error: Set(None),
                    occurred_at: Set(chrono::Utc::now()),
                    ..Default::default()
                });
                inventory_event::Entity::insert_many(rows).exec_without_returning(txn).await?;
                Ok(())
            })
        })
        .await
        .unwrap();
    }

    async fn wait_for_head(hub: &EventHub, sequence: i64) {
        let mut head = hub.head.clone();
        tokio::time::timeout(Duration::from_secs(10), head.wait_for(|head| head.is_some_and(|h| h >= sequence)))
            .await
            .expect("the relay reads the log within 10 s")
            .unwrap();
    }

    #[tokio::test]
    async fn lagging_subscription_resumes_from_log() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("events.db").display())).await.unwrap();
        db.migrate().await.unwrap();
        let hub = EventHub::start_with_backlog(db.clone(), 4);
        wait_for_head(&hub, 0).await;
        let filter = EventFilter { scopes: vec![InventoryEventScope::Company], ..EventFilter::default() };
        let mut stream = pin!(hub.subscribe(filter, Some(0)).await.unwrap());

        // The first event puts the subscription in its live phase.
        write_events(&db, 1).await;
        wait_for_head(&hub, 1).await;
        assert_eq!(stream.next().await.unwrap().unwrap().sequence, 1);

        // Fifty more pass while it reads nothing: far more than its backlog of four.
        write_events(&db, 50).await;
        wait_for_head(&hub, 51).await;
        for sequence in 2..=51 {
            assert_eq!(stream.next().await.unwrap().unwrap().sequence, sequence);
        }
        assert_eq!(LAGGED.load(std::sync::atomic::Ordering::Relaxed), 1, "the subscription resumed from the log once");
    }

    #[tokio::test]
    async fn shut_down_ends_subscriptions_at_their_last_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("events.db").display())).await.unwrap();
        db.migrate().await.unwrap();
        let hub = EventHub::start(db.clone());
        wait_for_head(&hub, 0).await;
        let filter = EventFilter { scopes: vec![InventoryEventScope::Company], ..EventFilter::default() };
        let point = ResumePoint::default();

        point
            .scope(async {
                let mut stream = pin!(hub.subscribe(filter.clone(), Some(0)).await.unwrap());
                write_events(&db, 1).await;
                assert_eq!(stream.next().await.unwrap().unwrap().sequence, 1);
                assert_eq!(hub.subscriber_count(), 1, "while the subscription is open");

                hub.shut_down();
                assert!(stream.next().await.is_none(), "the subscription ends");
            })
            .await;

        assert_eq!(point.sequence(), Some(1), "the resume point is the last delivered sequence");
        assert_eq!(hub.subscriber_count(), 0, "after the subscription is dropped");
        let mut late = pin!(hub.subscribe(filter, None).await.unwrap());
        assert!(late.next().await.is_none(), "a subscription after the shutdown ends at once");
    }

    #[tokio::test]
    async fn replay_past_retention_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("events.db").display())).await.unwrap();
        db.migrate().await.unwrap();
        write_events(&db, 3).await;
        let removed = events::prune(&db, chrono::Utc::now() + chrono::Duration::seconds(1)).await.unwrap();
        assert_eq!(removed, 3);
        write_events(&db, 1).await;
        let hub = EventHub::start(db.clone());
        let filter = EventFilter { scopes: vec![InventoryEventScope::Company], ..EventFilter::default() };

        let mut refused = pin!(hub.subscribe(filter.clone(), Some(1)).await.unwrap());
        let err = refused.next().await.unwrap().unwrap_err();
        assert!(err.message().contains("removed by the retention policy"), "{}", err.message());

        let mut resumed = pin!(hub.subscribe(filter, Some(3)).await.unwrap());
        assert_eq!(resumed.next().await.unwrap().unwrap().sequence, 4);
    }
}
