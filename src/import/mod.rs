//! Importers of real data sets: Liferay Commerce site-initializer files and CSV stock levels.
//!
//! Each importer runs in two phases. First it reads and checks every row of its files without
//! touching the database, and reports every bad row with its file and line. Then it writes
//! everything in one transaction through the same service functions as the API, so imported
//! stock passes the same checks and every change of on-hand stock gets a SET ledger row (actor
//! `import`). A row that conflicts with the database, such as a quantity below the units
//! booked, rolls the whole import back and is reported like a bad row.
//!
//! Imports are idempotent: a re-run finds the entities it created by their keys and reuses
//! them, and writes no ledger row for a quantity that did not change.
//!
//! The CLI calls [`run`]; tests and tools call [`liferay`] and [`stock_csv`] with an open
//! [`Db`] and read the returned [`ImportSummary`].

mod json;
mod liferay;
mod problem;
mod stock_csv;
mod summary;
mod writer;

pub use liferay::{LiferayFiles, liferay};
pub use problem::{ImportError, Problem};
pub use stock_csv::{CsvColumns, stock_csv};
pub use summary::ImportSummary;

use crate::{
    cli::{self, ImportCommand},
    db::Db,
};

/// Runs an import command: connects, migrates, imports, and prints the summary to stdout.
///
/// # Errors
/// Fails with every problem found when the files are rejected, and when the database cannot
/// be opened or fails.
pub async fn run(command: ImportCommand) -> anyhow::Result<()> {
    let summary = match command {
        ImportCommand::Liferay {
            warehouses,
            products,
            channel_name,
            database,
        } => {
            let db = open(&database.database_url).await?;
            let files = LiferayFiles {
                warehouses,
                products,
            };
            liferay(&db, &files, &channel_name).await?
        }
        ImportCommand::StockCsv {
            file,
            sku_column,
            quantity_column,
            warehouse_column,
            database,
        } => {
            let db = open(&database.database_url).await?;
            let columns = CsvColumns {
                sku: sku_column,
                quantity: quantity_column,
                warehouse: warehouse_column,
            };
            stock_csv(&db, &file, &columns).await?
        }
    };
    println!("{summary}");
    Ok(())
}

async fn open(url: &str) -> anyhow::Result<Db> {
    let db = cli::open(url).await?;
    tracing::info!(database = %crate::db::redact(url), "importing");
    Ok(db)
}
