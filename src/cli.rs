//! The command line: `serve`, `migrate`, `schema` and `import`.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{app, db::{self, Db}, demo, graphql, import};

/// Stockroom: a GraphQL inventory server for warehouses, channels, stock and bookings.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on standard error.
    #[arg(long, env = "STOCKROOM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// Log output formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Database selection shared by every command that touches the database.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` (the default, a file in the working directory)
    /// or `postgres://USER@HOST:PORT/DATABASE`.
    #[arg(long, env = "STOCKROOM_DATABASE_URL", default_value = db::DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the GraphQL server (GraphiQL at `/`, the API at `/graphql`).
    Serve {
        /// Address and port to listen on.
        #[arg(long, env = "STOCKROOM_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Fill an empty database with a small demo inventory (two channels, four warehouses,
        /// three dozen SKUs, some low or out of stock). Does nothing if the database has data.
        #[arg(long, env = "STOCKROOM_DEMO")]
        demo: bool,
        /// Days inventory events are kept for subscribers to replay with `after`; 0 keeps
        /// them forever.
        #[arg(long, env = "STOCKROOM_EVENT_RETENTION_DAYS", default_value_t = 30)]
        event_retention_days: u32,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print the GraphQL schema (SDL) to standard output.
    Schema,
    /// Load inventory data from files.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Load Liferay Commerce site-initializer files (warehouses.json and products.json) into
    /// one channel linked to every warehouse.
    Liferay {
        /// Path of warehouses.json.
        #[arg(long)]
        warehouses: PathBuf,
        /// Path of products.json.
        #[arg(long)]
        products: PathBuf,
        /// Name of the channel to create or reuse.
        #[arg(long, default_value = "Minium Portal")]
        channel_name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Load on-hand quantities from a CSV file with a header row, creating missing warehouses
    /// and SKUs.
    StockCsv {
        /// Path of the CSV file.
        file: PathBuf,
        /// Header of the SKU code column.
        #[arg(long, default_value = "sku")]
        sku_column: String,
        /// Header of the on-hand quantity column.
        #[arg(long, default_value = "quantityOnStock")]
        quantity_column: String,
        /// Header of the warehouse column; its values are warehouse external reference codes.
        #[arg(long, default_value = "supplyChannel")]
        warehouse_column: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen, database, demo: with_demo, event_retention_days } => {
            let db = open(&database.database_url).await?;
            if with_demo {
                demo::fill_if_empty(&db).await.map_err(|err| anyhow::anyhow!(err.message())).context("failed to write the demo inventory")?;
            }
            let (listener, local) = app::bind(listen)
                .await
                .with_context(|| format!("failed to listen on {listen}: is another server using the port? Pick another with --listen"))?;
            tracing::info!(address = %local, database = %db::redact(&database.database_url), "Stockroom listening; GraphiQL at http://{local}/");
            let settings = app::Settings {
                event_retention: (event_retention_days > 0).then(|| chrono::Duration::days(i64::from(event_retention_days))),
            };
            app::serve_with(listener, db, settings, shutdown_signal()).await.context("server failed")?;
            tracing::info!("Stockroom stopped");
            Ok(())
        }
        Command::Migrate { database } => {
            open(&database.database_url).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Import(command) => import::run(command).await,
    }
}

/// Connects and migrates.
pub async fn open(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url).await?;
    db.migrate().await?;
    Ok(db)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
