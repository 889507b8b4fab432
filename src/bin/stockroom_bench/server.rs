//! The servers under test: the release `stockroom` binary as a child process, whose memory
//! can be read from `/proc`, and an in-process server whose SQL statements are counted.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use stockroom::db::Db;
use tokio::{process::Child, sync::oneshot, task::JoinHandle};

/// How long the child may take to respond on `/health`. It is generous because under valgrind
/// the server starts tens of times slower.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(180);

/// How long the child may take to exit after SIGTERM before it is killed; callgrind writes its
/// profile during this time.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// The hidden first argument that makes this binary run the server instead of the benchmark.
pub const SERVE_ARGUMENT: &str = "__serve";

/// Returns the program and leading arguments that start the server: `--server-binary` when
/// given, else this binary in server mode.
///
/// Running this binary keeps the measured server built from exactly the sources the benchmark
/// was built from. Building the `stockroom` binary from here with a nested `cargo build` was
/// tried first, but under `cargo run` it rebuilt `ring`, `rustls` and `sqlx` each time.
///
/// # Errors
/// When `--server-binary` names no file or this binary's path cannot be found.
pub fn server_command(explicit: Option<PathBuf>) -> anyhow::Result<(PathBuf, Vec<String>)> {
    match explicit {
        Some(path) if path.is_file() => Ok((path, Vec::new())),
        Some(path) => bail!("server binary {} not found: build it with `cargo build --release --bin stockroom`", path.display()),
        None => {
            let own = std::env::current_exe().context("failed to find the benchmark's own path")?;
            Ok((own, vec![SERVE_ARGUMENT.to_owned()]))
        }
    }
}

/// Runs the server as `stockroom serve` does, with the arguments after [`SERVE_ARGUMENT`].
///
/// The logging set-up repeats `src/main.rs` (filter from `STOCKROOM_LOG`, default `info`,
/// text lines on standard error), so the process does the same work as the real binary.
pub async fn serve_as_child(arguments: Vec<String>) -> std::process::ExitCode {
    use clap::Parser as _;
    use tracing_subscriber::EnvFilter;

    let cli = stockroom::cli::Cli::parse_from(std::iter::once("stockroom".to_owned()).chain(arguments));
    let filter = EnvFilter::try_from_env("STOCKROOM_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match stockroom::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Memory of the server process, from `/proc/PID/status`, in MiB.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Memory {
    /// VmRSS: resident set size now.
    pub rss_mib: f64,
    /// VmHWM: the highest resident set size since the process started.
    pub peak_rss_mib: f64,
    /// RssAnon: the part of VmRSS that is the process's own memory (heap, stacks).
    #[serde(default)]
    pub anon_mib: f64,
    /// RssFile: the part of VmRSS that maps files, mostly the pages of the executable that ran.
    /// The kernel shares them between processes and can drop them at any time.
    #[serde(default)]
    pub file_mib: f64,
}

/// The release server running as a child process on 127.0.0.1.
pub struct ChildServer {
    child: Child,
    pid: u32,
    address: SocketAddr,
    log: PathBuf,
}

impl ChildServer {
    /// Starts `program leading serve` on a free loopback port over `database_url`, optionally
    /// under a wrapper command such as valgrind, and waits until `/health` responds with 200.
    pub async fn start(
        (program, leading): &(PathBuf, Vec<String>),
        wrapper: &[String],
        database_url: &str,
        log: PathBuf,
    ) -> anyhow::Result<ChildServer> {
        let address = free_loopback_address()?;
        let log_file = std::fs::File::create(&log).with_context(|| format!("failed to create {}", log.display()))?;
        let mut command = match wrapper.split_first() {
            Some((wrapper_program, wrapper_arguments)) => {
                let mut command = tokio::process::Command::new(wrapper_program);
                command.args(wrapper_arguments).arg(program);
                command
            }
            None => tokio::process::Command::new(program),
        };
        command
            .args(leading)
            .arg("serve")
            .arg("--listen")
            .arg(address.to_string())
            .arg("--database-url")
            .arg(database_url)
            // The clients send no API token. With tokens, a server reads each one once per
            // 10 s (see `stockroom::auth`), which would not move these figures.
            .arg("--no-auth")
            // Only the command-line options count, whatever the caller's environment sets.
            .env_remove("STOCKROOM_DATABASE_URL")
            .env_remove("STOCKROOM_LISTEN")
            .env_remove("STOCKROOM_DEMO")
            .env_remove("STOCKROOM_NO_AUTH")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        let child = command.spawn().with_context(|| format!("failed to start {}", program.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let mut server = ChildServer { child, pid, address, log };
        server.wait_until_healthy().await?;
        Ok(server)
    }

    /// Returns the URL of the GraphQL endpoint.
    pub fn graphql_url(&self) -> String {
        format!("http://{}/graphql", self.address)
    }

    /// Returns the URL of the GraphQL endpoint for WebSocket clients.
    pub fn websocket_url(&self) -> String {
        format!("ws://{}/graphql", self.address)
    }

    /// Returns the process id, for reading its CPU time.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    async fn wait_until_healthy(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let url = format!("http://{}/health", self.address);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited with {status} before responding; its log:\n{}", self.log_tail());
            }
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not respond on {url} within {STARTUP_TIMEOUT:?}; its log:\n{}", self.log_tail())
    }

    /// Reads the server's current and peak resident memory.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(&path).with_context(|| format!("failed to read {path}"))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let line = status.lines().find(|line| line.starts_with(name)).with_context(|| format!("{name} missing from {path}"))?;
            let kib: f64 = line[name.len()..].trim().trim_end_matches("kB").trim().parse().with_context(|| format!("unreadable line {line:?}"))?;
            Ok(kib / 1024.0)
        };
        Ok(Memory {
            rss_mib: field("VmRSS:")?,
            peak_rss_mib: field("VmHWM:")?,
            anon_mib: field("RssAnon:")?,
            file_mib: field("RssFile:")?,
        })
    }

    /// Asks the server to stop with SIGTERM, as a service manager would, and waits for it; kills
    /// it when it does not exit in time.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // std has no portable way to send SIGTERM; the `kill` utility does it without a libc crate.
        let sent = std::process::Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status();
        if sent.is_ok_and(|status| status.success())
            && let Ok(exited) = tokio::time::timeout(SHUTDOWN_TIMEOUT, self.child.wait()).await
        {
            exited?;
            return Ok(());
        }
        self.child.kill().await.context("failed to kill the server")?;
        bail!("the server did not stop within {SHUTDOWN_TIMEOUT:?} of SIGTERM and was killed")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// Finds a loopback address with a port that was free a moment ago. Another program could take
/// the port before the server binds it, and the server then fails to start with an error.
fn free_loopback_address() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("failed to find a free port")?;
    Ok(listener.local_addr()?)
}

/// Counts the SQL statements the server runs.
#[derive(Clone, Default)]
pub struct StatementLog {
    recorded: Arc<Mutex<Vec<String>>>,
}

impl StatementLog {
    fn record(&self, sql: &str) {
        self.recorded.lock().expect("BUG: statement log poisoned").push(sql.to_owned());
    }

    /// Takes the statements recorded since the last call, leaving the log empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.recorded.lock().expect("BUG: statement log poisoned"))
    }
}

/// The library's router served in this process, with every statement counted.
///
/// It is served with `axum::serve` and not `stockroom::app::serve`, because the latter also
/// runs the expiry sweeper, whose statements would be counted with the request's.
pub struct CountingServer {
    pub statements: StatementLog,
    address: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl CountingServer {
    /// Connects to `database_url` with the server's pool settings and starts serving.
    pub async fn start(database_url: &str) -> anyhow::Result<CountingServer> {
        let mut db = Db::connect(database_url).await?;
        let statements = StatementLog::default();
        let log = statements.clone();
        // Installed before the router clones the Db, so every clone reports to it.
        db.observe_statements(move |sql| log.record(sql));

        let (listener, address) = stockroom::app::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let router = stockroom::app::router(db);
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.await;
                })
                .await
        });
        Ok(CountingServer { statements, address, shutdown, task })
    }

    /// Returns the URL of the GraphQL endpoint.
    pub fn graphql_url(&self) -> String {
        format!("http://{}/graphql", self.address)
    }

    /// Stops serving and waits for the server task.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.context("the in-process server panicked")?.context("the in-process server failed")
    }
}
