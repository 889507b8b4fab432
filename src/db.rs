//! Database connection, pool settings and transactions for SQLite and PostgreSQL.
//!
//! SQLite allows one writer at a time. Instead of letting concurrent write transactions fail
//! with `SQLITE_BUSY` when they upgrade their locks, Stockroom queues its own writers behind an
//! in-process gate, so on SQLite one server instance owns the database. PostgreSQL needs no
//! gate: services lock the rows they change, and transactions that lose a deadlock or a
//! serialization check are retried.

use std::{future::Future, pin::Pin, str::FromStr, sync::Arc, time::Duration};

use anyhow::Context as _;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    DbErr, RuntimeErr, SqlErr, TransactionTrait,
    sqlx::{self, sqlite::SqliteConnectOptions},
};
use tokio::sync::{Mutex, MutexGuard, watch};

use crate::{
    error::{Error, Result},
    service::{activities::ActivityRegistry, events},
};

/// The database used when no URL is given: a file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://stockroom.db?mode=rwc";

/// How long an SQLite connection waits for a lock held by another process before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a PostgreSQL transaction is retried after a deadlock or serialization failure.
const MAX_TRANSACTION_ATTEMPTS: u32 = 5;

/// A pooled connection to the Stockroom database.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    /// Present on SQLite only: held by each write transaction for its whole life.
    write_gate: Option<Arc<Mutex<()>>>,
    /// The low-stock activities that write transactions run.
    activities: Arc<ActivityRegistry>,
    /// Counts the inventory events this process has committed. Its event relay wakes at each
    /// change instead of waiting for its next poll, and `/metrics` reports the total.
    events_written: Arc<watch::Sender<u64>>,
    /// The URL connected to, when known, so the event relay can open a pool of its own.
    url: Option<Arc<str>>,
}

/// Connections of a pool at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections lent to a request or transaction.
    pub in_use: u32,
    /// Open connections waiting to be lent.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// Boxed future returned by a transaction body.
pub type TxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) with pool settings that fit the
    /// backend. Does not run migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));

        let is_sqlite = url.starts_with("sqlite:");
        if is_sqlite {
            // Readers run in parallel under WAL; writers are serialized by the write gate, so a
            // handful of connections is enough.
            options.max_connections(8).min_connections(1).map_sqlx_sqlite_opts(
                |opts: SqliteConnectOptions| {
                    opts.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                        .foreign_keys(true)
                },
            );
            // Validate the URL here, so a typo is reported as such and not as a pool error.
            SqliteConnectOptions::from_str(url)
                .with_context(|| format!("invalid SQLite database URL {url:?}"))?;
        } else {
            options.max_connections(20).min_connections(1);
        }

        let conn = sea_orm::Database::connect(options)
            .await
            .with_context(|| format!("failed to connect to the database at {}", redact(url)))?;
        let mut db = Db::from_connection(conn);
        db.url = Some(url.into());
        Ok(db)
    }

    /// Wraps an existing connection, for tests that instrument it.
    pub fn from_connection(conn: DatabaseConnection) -> Db {
        let write_gate = (conn.get_database_backend() == DatabaseBackend::Sqlite)
            .then(|| Arc::new(Mutex::new(())));
        Db {
            conn,
            write_gate,
            activities: Arc::new(ActivityRegistry::default()),
            events_written: Arc::new(watch::Sender::new(0)),
            url: None,
        }
    }

    /// A second, small pool on the same database that shares this one's activities and commit
    /// signal, for background readers (the event relay and subscription replays) so they
    /// never wait behind requests. Without a known URL it is this pool.
    pub async fn background_pool(&self) -> anyhow::Result<Db> {
        let Some(url) = &self.url else { return Ok(self.clone()) };
        let mut options = ConnectOptions::new(url.to_string());
        options
            .sqlx_logging(false)
            .max_connections(4)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        if self.backend() == DatabaseBackend::Sqlite {
            options.map_sqlx_sqlite_opts(|opts: SqliteConnectOptions| opts.busy_timeout(SQLITE_BUSY_TIMEOUT));
        }
        let conn = sea_orm::Database::connect(options)
            .await
            .with_context(|| format!("failed to connect the background pool to {}", redact(url)))?;
        Ok(Db { conn, ..self.clone() })
    }

    /// Replaces the low-stock activities (the built-ins by default). Call it before the `Db`
    /// is cloned into the app, so every clone runs the same ones.
    pub fn set_activities(&mut self, activities: ActivityRegistry) {
        self.activities = Arc::new(activities);
    }

    /// The low-stock activities this server runs.
    pub fn activities(&self) -> Arc<ActivityRegistry> {
        Arc::clone(&self.activities)
    }

    /// A receiver that changes whenever this process commits inventory events.
    pub fn events_written(&self) -> watch::Receiver<u64> {
        self.events_written.subscribe()
    }

    /// How many inventory events this process has committed since it connected.
    pub fn events_written_total(&self) -> u64 {
        *self.events_written.borrow()
    }

    /// Returns how many connections the request pool has in use and idle, and its maximum.
    pub fn pool_usage(&self) -> PoolUsage {
        let (size, idle, max) = match self.backend() {
            DatabaseBackend::Sqlite => {
                let pool = self.conn.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            DatabaseBackend::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            // Only SQLite and PostgreSQL URLs are accepted by `connect`.
            _ => (0, 0, 0),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
        PoolUsage { in_use: size - idle, idle, max }
    }

    /// Calls `observer` with the SQL of every statement run from now on. Tests use it to count
    /// statements; it must be set before the `Db` is cloned.
    pub fn observe_statements(&mut self, observer: impl Fn(&str) + Send + Sync + 'static) {
        self.conn.set_metric_callback(move |info| observer(&info.statement.sql));
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.conn, None).await.context("failed to run database migrations")
    }

    /// The connection pool, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The database backend in use.
    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        self.conn.ping().await.map_err(Error::from)
    }

    /// Runs `body` in a write transaction and commits it when it returns `Ok`.
    ///
    /// On SQLite the transaction waits for the write gate first. On PostgreSQL a transaction
    /// that fails with a deadlock, a serialization failure or a unique violation of a row that
    /// a concurrent request has just inserted is retried from the start, so `body` must be
    /// safe to run more than once: it may only change the database.
    pub async fn write<T, F>(&self, body: F) -> Result<T>
    where
        T: Send,
        F: for<'c> Fn(&'c DatabaseTransaction) -> TxFuture<'c, T>,
    {
        let _writer: Option<MutexGuard<'_, ()>> = match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };

        let mut attempt = 1;
        loop {
            let txn = self.conn.begin().await?;
            let (outcome, touched) = events::collect(body(&txn)).await;
            // Every write settles the stock events of what it touched before it commits, so no
            // stock path can forget them and a rolled-back change writes none.
            let outcome = match outcome {
                Ok(value) => events::settle(&txn, &touched, &self.activities).await.map(|written| (value, written)),
                Err(err) => Err(err),
            };
            let outcome = match outcome {
                Ok((value, written)) => txn.commit().await.map(|()| (value, written)).map_err(Error::from),
                Err(err) => {
                    // Rolling back can only fail if the connection is gone, and then the
                    // database discards the transaction anyway.
                    let _ = txn.rollback().await;
                    Err(err)
                }
            };
            let outcome = outcome.map(|(value, written)| {
                if written > 0 {
                    self.events_written.send_modify(|count| *count += written as u64);
                }
                value
            });
            match outcome {
                Err(err) if attempt < MAX_TRANSACTION_ATTEMPTS && is_retryable(&err) => {
                    tracing::debug!(attempt, error = %err.message(), "retrying transaction");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(2 * u64::from(attempt))).await;
                }
                outcome => return outcome,
            }
        }
    }
}

/// Whether a failed transaction may succeed when run again.
fn is_retryable(err: &Error) -> bool {
    let Error::Internal(err) = err else { return false };
    let Some(db_err) = err.chain().find_map(|cause| cause.downcast_ref::<DbErr>()) else {
        return false;
    };
    if matches!(db_err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return true;
    }
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx_err))
    | DbErr::Query(RuntimeErr::SqlxError(sqlx_err))
    | DbErr::Conn(RuntimeErr::SqlxError(sqlx_err))) = db_err
    else {
        return false;
    };
    match sqlx_err.as_ref() {
        // 40001: serialization failure, 40P01: deadlock detected.
        sqlx::Error::Database(e) => matches!(e.code().as_deref(), Some("40001" | "40P01")),
        _ => false,
    }
}

/// Removes the password from a database URL for messages and logs.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Runs a statement and discards its result; a shorthand for services.
pub async fn execute(conn: &impl ConnectionTrait, sql: sea_orm::Statement) -> Result<u64> {
    Ok(conn.execute_raw(sql).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_password() {
        assert_eq!(redact("postgres://app:secret@db:5432/x"), "postgres://app:***@db:5432/x");
    }

    #[test]
    fn redact_keeps_url_without_credentials() {
        assert_eq!(redact("sqlite://stockroom.db"), "sqlite://stockroom.db");
    }
}
