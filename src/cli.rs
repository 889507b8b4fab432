//! The command line: `serve`, `migrate`, `schema`, `import` and `token`.

use std::{net::SocketAddr, num::NonZeroUsize, path::PathBuf};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{app, auth, db::{self, Db}, demo, graphql, graphql::connection::MAX_PAGE_SIZE, import, limits::Limits};
use crate::http::cors::CorsOrigins;
use std::time::Duration;

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

/// Limits on the size and shape of requests, described in [`crate::limits`]. Every option is
/// also an environment variable.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Maximum nesting depth of fields in a query. GraphiQL's schema query needs 15.
    #[arg(long, env = "STOCKROOM_MAX_QUERY_DEPTH", default_value_t = Limits::default().max_depth)]
    pub max_query_depth: usize,
    /// Maximum number of fields a query may select, counting each fragment spread in full.
    #[arg(long, env = "STOCKROOM_MAX_QUERY_COMPLEXITY", default_value_t = Limits::default().max_complexity)]
    pub max_query_complexity: usize,
    /// Maximum number of aliased fields in one query document.
    #[arg(long, env = "STOCKROOM_MAX_QUERY_ALIASES", default_value_t = Limits::default().max_aliases)]
    pub max_query_aliases: usize,
    /// Maximum page size of a list (`first` or `last`), from 1 to 500.
    #[arg(long, env = "STOCKROOM_MAX_PAGE_SIZE", default_value_t = Limits::default().max_page_size,
          value_parser = clap::value_parser!(u64).range(1..=MAX_PAGE_SIZE))]
    pub max_page_size: u64,
    /// Maximum number of requests in one batch (a JSON array of requests in one POST).
    #[arg(long, env = "STOCKROOM_MAX_BATCH_SIZE", default_value_t = Limits::default().max_batch_size)]
    pub max_batch_size: usize,
    /// Maximum POST body size in bytes. A larger body gets HTTP 413.
    #[arg(long, env = "STOCKROOM_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Disable introspection (`__schema`, `__type`). GraphiQL and schema tools then stop working.
    #[arg(long, env = "STOCKROOM_NO_INTROSPECTION")]
    pub no_introspection: bool,
    /// Number of automatic persisted queries this server instance keeps in memory.
    #[arg(long, env = "STOCKROOM_PERSISTED_QUERY_CACHE_SIZE", default_value_t = Limits::default().persisted_query_cache_size)]
    pub persisted_query_cache_size: NonZeroUsize,
}

/// How the server shuts down and which web pages may call it.
#[derive(Debug, Args)]
pub struct OperationArgs {
    /// Seconds that in-flight requests and WebSocket operations get to finish after SIGTERM
    /// or Ctrl-C; what still runs then is cut off.
    #[arg(long, env = "STOCKROOM_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
    /// A web origin that may call the API from a browser, such as
    /// `https://shop.example.com`; repeat for more (comma-separated in the environment
    /// variable). `*` allows any origin, for development. Without it, only pages served by
    /// Stockroom itself may.
    #[arg(long = "cors-origin", env = "STOCKROOM_CORS_ORIGINS", value_name = "ORIGIN", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
}

impl From<LimitArgs> for Limits {
    fn from(args: LimitArgs) -> Self {
        Limits {
            max_depth: args.max_query_depth,
            max_complexity: args.max_query_complexity,
            max_aliases: args.max_query_aliases,
            max_page_size: args.max_page_size,
            max_batch_size: args.max_batch_size,
            max_body_bytes: args.max_body_bytes,
            introspection: !args.no_introspection,
            persisted_query_cache_size: args.persisted_query_cache_size,
        }
    }
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
        /// Serve without API tokens: every request may read and change everything. For
        /// development only. On by default with `--demo`; `--no-auth=false` requires tokens
        /// there too.
        #[arg(long, env = "STOCKROOM_NO_AUTH", num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
        no_auth: Option<bool>,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        operations: OperationArgs,
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
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create {
        /// The role, which decides the operations the token may use.
        #[arg(long, env = "STOCKROOM_TOKEN_ROLE", value_enum)]
        role: auth::Role,
        /// Limit a storefront or alerts token to this channel, given by its `id` or its
        /// external reference code; repeat for more channels. Without it such a token is valid
        /// for every channel.
        #[arg(long = "channel", env = "STOCKROOM_TOKEN_CHANNELS", value_name = "ID", value_delimiter = ',')]
        channels: Vec<String>,
        /// A label for people, such as "web store".
        #[arg(long, env = "STOCKROOM_TOKEN_NAME")]
        name: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List every token (never its secret): id, name, role, channels, created, revoked.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token; running servers reject it within seconds.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Load Liferay Commerce site-initializer files (warehouses.json and products.json) into
    /// one channel linked to every warehouse.
    Liferay {
        /// Path of warehouses.json.
        #[arg(long, env = "STOCKROOM_IMPORT_WAREHOUSES")]
        warehouses: PathBuf,
        /// Path of products.json.
        #[arg(long, env = "STOCKROOM_IMPORT_PRODUCTS")]
        products: PathBuf,
        /// Name of the channel to create or reuse.
        #[arg(long, env = "STOCKROOM_IMPORT_CHANNEL_NAME", default_value = "Minium Portal")]
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
        #[arg(long, env = "STOCKROOM_IMPORT_SKU_COLUMN", default_value = "sku")]
        sku_column: String,
        /// Header of the on-hand quantity column.
        #[arg(long, env = "STOCKROOM_IMPORT_QUANTITY_COLUMN", default_value = "quantityOnStock")]
        quantity_column: String,
        /// Header of the warehouse column; its values are warehouse external reference codes.
        #[arg(long, env = "STOCKROOM_IMPORT_WAREHOUSE_COLUMN", default_value = "supplyChannel")]
        warehouse_column: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen, database, demo: with_demo, event_retention_days, no_auth, limits, operations } => {
            let cors_origins = CorsOrigins::parse(&operations.cors_origins).map_err(anyhow::Error::msg).context("invalid --cors-origin")?;
            let db = open(&database.database_url).await?;
            if with_demo {
                demo::fill_if_empty(&db).await.map_err(|err| anyhow::anyhow!(err.message())).context("failed to write the demo inventory")?;
            }
            let auth = auth_mode(&db, no_auth.unwrap_or(with_demo)).await?;
            let (listener, local) = app::bind(listen)
                .await
                .with_context(|| format!("failed to listen on {listen}: is another server using the port? Pick another with --listen"))?;
            tracing::info!(address = %local, database = %db::redact(&database.database_url), "Stockroom listening; GraphiQL at http://{local}/");
            let settings = app::Settings {
                event_retention: (event_retention_days > 0).then(|| chrono::Duration::days(i64::from(event_retention_days))),
                auth,
                limits: limits.into(),
                shutdown_grace: Duration::from_secs(operations.shutdown_grace_seconds),
                cors_origins,
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
        Command::Token(command) => auth::command::run(command).await,
    }
}

/// Chooses whether the server requires tokens, and logs the choice.
async fn auth_mode(db: &Db, no_auth: bool) -> anyhow::Result<auth::AuthMode> {
    if no_auth {
        tracing::warn!("authentication is off (--no-auth, or --demo without --no-auth=false): every request may read and change everything; never expose this server");
        return Ok(auth::AuthMode::Disabled);
    }
    let active = crate::service::tokens::count_active(db.conn()).await.map_err(|err| anyhow::anyhow!(err.message()))?;
    if active == 0 {
        tracing::warn!("no API token exists yet, so every request will be rejected: create one with `stockroom token create --role admin`");
    }
    Ok(auth::AuthMode::Required)
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
    // `app::serve_with` logs the start and the end of the shutdown.
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
