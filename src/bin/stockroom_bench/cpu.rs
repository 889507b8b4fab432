//! CPU time spent during a run by the server, by this benchmark process (the clients, or the
//! raw SQL and service calls) and by the PostgreSQL backends of the benchmark's database,
//! read from `/proc/PID/stat`.
//!
//! CPU time per request holds up better than requests per second on a machine that other
//! programs also load, and it shows which process a figure's cost sits in.

use std::{collections::HashMap, time::Instant};

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde::{Deserialize, Serialize};
use stockroom::db::Db;

/// CPU used during one run: cores busy on average, and milliseconds per request.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CpuUse {
    pub server_cores: Option<f64>,
    pub server_ms_per_request: Option<f64>,
    pub benchmark_cores: f64,
    pub benchmark_ms_per_request: f64,
    /// PostgreSQL backends serving the benchmark's database; `None` on SQLite, whose work runs
    /// inside the server or the benchmark process.
    pub database_cores: Option<f64>,
    pub database_ms_per_request: Option<f64>,
}

/// CPU times at the start of a run.
pub struct CpuMeter {
    started: Instant,
    server: Option<(u32, f64)>,
    benchmark: f64,
    database: Option<HashMap<u32, f64>>,
}

impl CpuMeter {
    /// Reads the starting CPU times of the server (when there is one), this process and, on
    /// PostgreSQL, every backend connected to `db`'s database.
    pub async fn start(server_pid: Option<u32>, db: &Db) -> CpuMeter {
        CpuMeter {
            started: Instant::now(),
            server: server_pid.and_then(|pid| cpu_seconds(pid).map(|seconds| (pid, seconds))),
            benchmark: cpu_seconds(std::process::id()).unwrap_or(0.0),
            database: database_cpu(db).await,
        }
    }

    /// Returns the CPU used since [`CpuMeter::start`], spread over `requests` requests.
    pub async fn finish(self, requests: u64, db: &Db) -> CpuUse {
        let wall = self.started.elapsed().as_secs_f64();
        let per_request = |seconds: f64| if requests == 0 { 0.0 } else { seconds * 1000.0 / requests as f64 };

        let server = self.server.and_then(|(pid, before)| cpu_seconds(pid).map(|after| after - before));
        let benchmark = cpu_seconds(std::process::id()).unwrap_or(0.0) - self.benchmark;
        // A backend that connected during the run counts from zero; one that disconnected
        // during it is lost, which the pools' 10-minute idle timeout makes unlikely.
        let database = match (self.database, database_cpu(db).await) {
            (Some(before), Some(after)) => {
                Some(after.iter().map(|(pid, seconds)| seconds - before.get(pid).copied().unwrap_or(0.0)).sum::<f64>())
            }
            _ => None,
        };
        CpuUse {
            server_cores: server.map(|seconds| seconds / wall),
            server_ms_per_request: server.map(per_request),
            benchmark_cores: benchmark / wall,
            benchmark_ms_per_request: per_request(benchmark),
            database_cores: database.map(|seconds| seconds / wall),
            database_ms_per_request: database.map(per_request),
        }
    }
}

/// CPU seconds of the backends connected to `db`'s database, by process id; `None` on SQLite
/// or when they cannot be read.
async fn database_cpu(db: &Db) -> Option<HashMap<u32, f64>> {
    if db.backend() != DatabaseBackend::Postgres {
        return None;
    }
    let statement = Statement::from_string(
        DatabaseBackend::Postgres,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
    );
    let rows = db.conn().query_all_raw(statement).await.ok()?;
    let pids = rows.iter().filter_map(|row| row.try_get::<i32>("", "pid").ok()).filter_map(|pid| u32::try_from(pid).ok());
    Some(pids.filter_map(|pid| cpu_seconds(pid).map(|seconds| (pid, seconds))).collect())
}

/// User plus system CPU seconds of a process, all threads included.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in field 2 may contain spaces, so fields are counted after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / clock_ticks_per_second())
}

/// Returns the kernel's clock tick rate for `/proc` CPU times, from `getconf CLK_TCK`, or 100
/// (the usual Linux value) when that fails.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
