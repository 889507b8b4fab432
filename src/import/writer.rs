//! The write steps both importers share. Every write goes through a service function that takes
//! the caller's transaction, so imported data passes the same checks and writes the same
//! ledger rows as the API.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use entity::{product, sku, warehouse};
use sea_orm::DatabaseTransaction;

use crate::service::activities::ActivityRegistry;

use super::{
    problem::{ImportError, Problem},
    summary::ImportSummary,
};
use crate::{
    db::{Db, TxFuture},
    domain::{Name, SkuCode},
    error::{Error, ErrorCode, Result},
    service::{
        ChangeContext,
        catalog::{self, NewProduct, NewSku},
        estimates,
        inventory::{self, SetInventory},
        stock,
        warehouses::{self, NewWarehouse},
    },
};

/// The origin of a row (file, line and name), for messages about it.
#[derive(Clone, Debug)]
pub struct RowLabel {
    /// The file name as shown in messages.
    pub file: String,
    /// The 1-based line where the row starts.
    pub line: u64,
    /// The row's name in messages, such as `product 2 ("Brake Fluid"), SKU "MIN93016A"`, or
    /// empty when the line number is enough.
    pub subject: String,
}

impl RowLabel {
    /// Builds the problem `message` of this row.
    pub fn problem(&self, message: &str) -> Problem {
        let message = if self.subject.is_empty() {
            message.to_owned()
        } else {
            format!("{}: {message}", self.subject)
        };
        Problem::at(&self.file, Some(self.line), message)
    }
}

/// One import's writes inside one transaction, with its counts and the rows the database
/// rejected.
pub struct Writer<'t> {
    /// The import's transaction.
    pub txn: &'t DatabaseTransaction,
    /// Actor and reason written on every ledger row.
    context: ChangeContext,
    /// The server's low-stock activities, which imported settings may name.
    pub activities: Arc<ActivityRegistry>,
    /// Counts so far.
    pub summary: ImportSummary,
    /// Rows that conflict with the database. When any is found, the import rolls back.
    pub problems: Vec<Problem>,
    /// Known SKUs by lookup key ([`SkuCode::key`]), loaded in batches by [`Writer::preload_skus`]
    /// and extended by each SKU the import creates.
    skus: HashMap<String, sku::Model>,
    /// On-hand quantities of the preloaded SKUs by (SKU id, warehouse id), loaded by
    /// [`Writer::preload_on_hand`].
    on_hand: HashMap<(i64, i64), i64>,
    /// Availability estimate ids by default-locale title, as found or created so far.
    estimates: HashMap<String, i64>,
}

impl<'t> Writer<'t> {
    fn new(txn: &'t DatabaseTransaction, activities: Arc<ActivityRegistry>, context: ChangeContext) -> Self {
        Writer {
            txn,
            activities,
            context,
            summary: ImportSummary::default(),
            problems: Vec::new(),
            skus: HashMap::new(),
            on_hand: HashMap::new(),
            estimates: HashMap::new(),
        }
    }

    /// Finds the warehouse with the input's external reference code, or creates it.
    pub async fn warehouse(&mut self, input: &NewWarehouse) -> Result<warehouse::Model> {
        let code = input
            .external_reference_code
            .as_ref()
            .expect("BUG: imported warehouses are keyed by external reference code");
        if let Some(found) = warehouses::find_warehouse_by_erc(self.txn, code.as_str()).await? {
            self.summary.warehouses_reused += 1;
            return Ok(found);
        }
        let created = warehouses::insert_warehouse(self.txn, input).await?;
        self.summary.warehouses_created += 1;
        Ok(created)
    }

    /// Finds the product with the input's external reference code, or creates it.
    pub async fn product(&mut self, input: &NewProduct) -> Result<product::Model> {
        let code = input
            .external_reference_code
            .as_ref()
            .expect("BUG: imported products are keyed by external reference code");
        if let Some(found) = catalog::find_product_by_erc(self.txn, code.as_str()).await? {
            self.summary.products_reused += 1;
            return Ok(found);
        }
        let created = catalog::insert_product(self.txn, input).await?;
        self.summary.products_created += 1;
        Ok(created)
    }

    /// Finds the availability estimate whose default-locale title is `title`, or creates it
    /// with that title, so each distinct estimate text exists once.
    pub async fn estimate(&mut self, title: &str) -> Result<i64> {
        if let Some(id) = self.estimates.get(title) {
            return Ok(*id);
        }
        let stored = estimates::select_estimates().all(self.txn).await?;
        let found = stored.iter().find(|estimate| {
            estimates::titles_of(estimate).get(estimates::DEFAULT_LOCALE).map(String::as_str) == Some(title)
        });
        let id = match found {
            Some(estimate) => {
                self.summary.estimates_reused += 1;
                estimate.id
            }
            None => {
                let titles = estimates::Titles::from([(estimates::DEFAULT_LOCALE.to_owned(), title.to_owned())]);
                // New estimates sort after the existing ones, in the order the file names them.
                let priority = stored.iter().map(|e| e.priority).max().map_or(0, |p| p + 1);
                self.summary.estimates_created += 1;
                estimates::insert_estimate(self.txn, &titles, priority).await?.id
            }
        };
        self.estimates.insert(title.to_owned(), id);
        Ok(id)
    }

    /// Loads the SKUs with these codes in a few batched queries, so the import does not look
    /// each one up alone.
    pub async fn preload_skus(&mut self, codes: &[SkuCode]) -> Result<()> {
        for found in catalog::find_skus(self.txn, codes).await? {
            self.skus.insert(found.code_key.clone(), found);
        }
        Ok(())
    }

    /// Loads the on-hand quantities of every preloaded SKU in `warehouses` in a few batched
    /// queries, so [`Writer::set_on_hand`] can skip quantities that are already right. That
    /// makes a re-run fast.
    pub async fn preload_on_hand(&mut self, warehouses: Vec<warehouse::Model>) -> Result<()> {
        let skus: Vec<sku::Model> = self.skus.values().cloned().collect();
        let scope = stock::Scope { warehouses: warehouses.into_iter().map(std::sync::Arc::new).collect() };
        for summary in stock::summarize(self.txn, &skus, &scope).await? {
            for stocked in summary.by_warehouse {
                let key = (stocked.item.sku_id, stocked.item.warehouse_id);
                self.on_hand.insert(key, stocked.item.on_hand);
            }
        }
        Ok(())
    }

    /// Returns the SKU with this code, if it was preloaded or created by this import.
    pub fn known_sku(&self, code: &SkuCode) -> Option<&sku::Model> {
        self.skus.get(&code.key())
    }

    /// Creates a SKU of `product_id`, published and purchasable as Liferay creates them.
    pub async fn create_sku(&mut self, product_id: i64, code: &SkuCode) -> Result<sku::Model> {
        let input = NewSku {
            product_id,
            code: code.clone(),
            published: true,
            purchasable: true,
        };
        let created = catalog::insert_sku(self.txn, &input).await?;
        self.summary.skus_created += 1;
        self.skus.insert(created.code_key.clone(), created.clone());
        Ok(created)
    }

    /// Sets the on-hand quantity of a SKU in a warehouse through
    /// [`inventory::apply_set`], which writes a SET ledger row only when the quantity changes.
    /// A rejection, such as a quantity below the units booked, becomes a problem of `row`.
    ///
    /// Each (SKU, warehouse) pair must be set at most once per import, because the quantities
    /// loaded by [`Writer::preload_on_hand`] are not updated. Both importers reject duplicate
    /// pairs before writing.
    pub async fn set_on_hand(
        &mut self,
        code: &SkuCode,
        warehouse_id: i64,
        quantity: i64,
        row: &RowLabel,
    ) -> Result<()> {
        self.summary.quantities_read += 1;

        // An item that already has the quantity needs no write. apply_set would find the same
        // and write nothing, at the cost of several statements. A missing item still goes
        // through apply_set, which creates it even for a quantity of 0.
        let sku_id = self.known_sku(code).map(|sku| sku.id);
        if let Some(sku_id) = sku_id
            && self.on_hand.get(&(sku_id, warehouse_id)) == Some(&quantity)
        {
            self.summary.items_unchanged += 1;
            return Ok(());
        }

        let request = SetInventory {
            sku: code.clone(),
            warehouse_id,
            on_hand: Some(quantity),
            expected_on_hand: None,
            safety_stock: None,
            low_stock_threshold: None,
        };
        let applied = match request.validate() {
            Ok(()) => inventory::apply_set(self.txn, &request, &self.context).await,
            Err(err) => Err(err),
        };
        match applied {
            Ok(change) if change.ledger_entry_ids.is_empty() => self.summary.items_unchanged += 1,
            Ok(change) => {
                self.summary.items_changed += 1;
                self.summary.ledger_rows += change.ledger_entry_ids.len();
            }
            Err(rejected @ Error::Rejected { .. }) => self.reject(row, rejected)?,
            Err(internal) => return Err(internal),
        }
        Ok(())
    }

    /// Records a service rejection as a problem of `row`; passes an internal error on.
    pub fn reject(&mut self, row: &RowLabel, err: Error) -> Result<()> {
        match err {
            Error::Rejected { message, .. } => {
                self.problems.push(row.problem(&message));
                Ok(())
            }
            internal => Err(internal),
        }
    }
}

/// Builds the name of a product or warehouse that the file names only by a code.
pub fn name_from_code(code: &str) -> Name {
    // Codes and names share one rule (trimmed, 1 to 255 characters), so a parsed code is
    // always a valid name.
    Name::parse("name", code).expect("BUG: a parsed code is a valid name")
}

/// Runs `write` in one transaction and commits it only when no row was rejected.
///
/// `write` may run more than once, because PostgreSQL transactions that lose a deadlock are
/// retried; each run starts with a fresh [`Writer`].
pub async fn write_all<F>(
    db: &Db,
    context: &ChangeContext,
    write: F,
) -> std::result::Result<ImportSummary, ImportError>
where
    F: for<'t> Fn(Writer<'t>) -> TxFuture<'t, Writer<'t>>,
{
    // The rows the database rejected leave the transaction through this slot, because the
    // service error that rolls the transaction back has room for only one message.
    let rejected: Arc<Mutex<Vec<Problem>>> = Arc::default();

    let outcome = db
        .write(|txn| {
            let rejected = Arc::clone(&rejected);
            let written = write(Writer::new(txn, db.activities(), context.clone()));
            Box::pin(async move {
                let writer = written.await?;
                if writer.problems.is_empty() {
                    return Ok(writer.summary);
                }
                let count = writer.problems.len();
                *rejected
                    .lock()
                    .expect("BUG: no code panics while holding this lock") = writer.problems;
                Err(Error::rejected(
                    ErrorCode::Conflict,
                    format!("{count} rows conflict with the database"),
                ))
            })
        })
        .await;

    match outcome {
        Ok(summary) => Ok(summary),
        Err(err) => {
            let problems =
                std::mem::take(&mut *rejected.lock().expect("BUG: the transaction has ended"));
            if problems.is_empty() {
                Err(ImportError::from(err))
            } else {
                Err(ImportError::Rejected(problems))
            }
        }
    }
}
