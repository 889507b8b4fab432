//! Importers of real data sets. They call the same services as the API.

use crate::cli::ImportCommand;

/// Runs an import command.
pub async fn run(_command: ImportCommand) -> anyhow::Result<()> {
    anyhow::bail!("importers are not built yet")
}
