//! The counts an import reports when it succeeds.

use std::fmt;

/// Counts of what an import created, reused and changed.
///
/// "Reused" means the entity existed already, found by its key (external reference code,
/// SKU code or channel name), and was left as it was.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Warehouses created by this import.
    pub warehouses_created: usize,
    /// Warehouses found by external reference code.
    pub warehouses_reused: usize,
    /// Channels created by this import (the Liferay importer creates at most one).
    pub channels_created: usize,
    /// Channels found by name.
    pub channels_reused: usize,
    /// Warehouse-channel links created; links that existed are kept.
    pub links_created: usize,
    /// Products created by this import.
    pub products_created: usize,
    /// Products found by external reference code.
    pub products_reused: usize,
    /// Availability estimates created, one per distinct text.
    pub estimates_created: usize,
    /// Availability estimates found by their default-locale title.
    pub estimates_reused: usize,
    /// Products whose stored inventory configuration was changed to match the file.
    pub configurations_changed: usize,
    /// SKUs created by this import.
    pub skus_created: usize,
    /// SKUs found by code.
    pub skus_reused: usize,
    /// (SKU, warehouse) quantities read from the files.
    pub quantities_read: usize,
    /// Warehouse items whose on-hand quantity changed.
    pub items_changed: usize,
    /// Warehouse items that already had the quantity of the file.
    pub items_unchanged: usize,
    /// Inventory ledger rows written; zero when a re-run finds nothing to change.
    pub ledger_rows: usize,
}

impl ImportSummary {
    /// Logs the counts as one structured `info` event.
    pub fn log(&self, importer: &str) {
        tracing::info!(
            importer,
            warehouses_created = self.warehouses_created,
            warehouses_reused = self.warehouses_reused,
            channels_created = self.channels_created,
            channels_reused = self.channels_reused,
            links_created = self.links_created,
            products_created = self.products_created,
            products_reused = self.products_reused,
            estimates_created = self.estimates_created,
            estimates_reused = self.estimates_reused,
            configurations_changed = self.configurations_changed,
            skus_created = self.skus_created,
            skus_reused = self.skus_reused,
            quantities_read = self.quantities_read,
            items_changed = self.items_changed,
            items_unchanged = self.items_unchanged,
            ledger_rows = self.ledger_rows,
            "import finished"
        );
    }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "warehouses:   {} created, {} reused",
            self.warehouses_created, self.warehouses_reused
        )?;
        if self.channels_created + self.channels_reused > 0 {
            writeln!(
                f,
                "channels:     {} created, {} reused, {} warehouse links created",
                self.channels_created, self.channels_reused, self.links_created
            )?;
        }
        writeln!(
            f,
            "products:     {} created, {} reused, {} inventory configurations changed",
            self.products_created, self.products_reused, self.configurations_changed
        )?;
        if self.estimates_created + self.estimates_reused > 0 {
            writeln!(
                f,
                "estimates:    {} created, {} reused",
                self.estimates_created, self.estimates_reused
            )?;
        }
        writeln!(
            f,
            "SKUs:         {} created, {} reused",
            self.skus_created, self.skus_reused
        )?;
        writeln!(
            f,
            "quantities:   {} read, {} items changed, {} items already matched",
            self.quantities_read, self.items_changed, self.items_unchanged
        )?;
        write!(f, "ledger rows:  {} written", self.ledger_rows)
    }
}
