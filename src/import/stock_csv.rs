//! Stock levels from a CSV file: one row per (SKU, warehouse) with the on-hand quantity.
//!
//! Missing warehouses are created active, with the column value as both name and external
//! reference code, and linked to no channel. The file names no products, so a missing SKU is
//! created under a product of its own whose name and external reference code are the SKU code.
//! That product is reused when it exists already. A SKU that exists keeps its product.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::Arc,
};

use super::{
    problem::{ImportError, Problem, file_label, read_text},
    summary::ImportSummary,
    writer::{RowLabel, Writer, name_from_code, write_all},
};
use crate::{
    db::Db,
    domain::{ExternalReferenceCode, MAX_QUANTITY, SkuCode},
    error::Result,
    service::{
        ChangeContext,
        catalog::NewProduct,
        warehouses::{Address, NewWarehouse},
    },
};

/// The headers of the three columns the CSV importer reads. Other columns are ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvColumns {
    /// Header of the SKU code column.
    pub sku: String,
    /// Header of the on-hand quantity column.
    pub quantity: String,
    /// Header of the column holding warehouse external reference codes.
    pub warehouse: String,
}

impl Default for CsvColumns {
    /// Returns the headers of commercetools' inventory export: `sku`, `quantityOnStock` and
    /// `supplyChannel`.
    fn default() -> Self {
        CsvColumns {
            sku: "sku".to_owned(),
            quantity: "quantityOnStock".to_owned(),
            warehouse: "supplyChannel".to_owned(),
        }
    }
}

/// One valid row.
struct StockRow {
    line: u64,
    sku: SkuCode,
    warehouse: ExternalReferenceCode,
    quantity: i64,
}

/// The checked content of a file.
struct StockPlan {
    file: String,
    rows: Vec<StockRow>,
}

/// Imports the on-hand quantities of a CSV file with a header row.
///
/// Every row is checked before anything is written. A bad quantity, an empty SKU or warehouse,
/// a row with the wrong number of fields and a (SKU, warehouse) pair given twice are all
/// reported with their line numbers, and then nothing is imported. The writes run in one transaction. A
/// second run with the same file finds every entity again and writes no ledger row.
///
/// # Errors
/// [`ImportError::Rejected`] with every problem found, in the file or against the database;
/// [`ImportError::Failed`] when the database fails.
pub async fn stock_csv(
    db: &Db,
    path: &Path,
    columns: &CsvColumns,
) -> std::result::Result<ImportSummary, ImportError> {
    let plan = Arc::new(read_plan(path, columns).map_err(ImportError::Rejected)?);
    let context = ChangeContext {
        reason: Some(format!("import stock-csv {}", plan.file)),
        ..ChangeContext::by("import")
    };
    let summary = write_all(db, &context, |mut writer| {
        let plan = Arc::clone(&plan);
        Box::pin(async move {
            write_plan(&mut writer, &plan).await?;
            Ok(writer)
        })
    })
    .await?;
    summary.log("stock-csv");
    Ok(summary)
}

/// Reads and checks every row of the file.
fn read_plan(path: &Path, columns: &CsvColumns) -> std::result::Result<StockPlan, Vec<Problem>> {
    let file = file_label(path);
    let text = read_text(path).map_err(|problem| vec![problem])?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());

    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(err) => {
            return Err(vec![Problem::in_file(
                &file,
                format!("has no readable header row: {err}"),
            )]);
        }
    };
    if headers.is_empty() || (headers.len() == 1 && headers[0].trim().is_empty()) {
        return Err(vec![Problem::in_file(
            &file,
            format!(
                "is empty: the first line must be a header row naming the columns {}",
                expected_headers(columns)
            ),
        )]);
    }
    let indexes = column_indexes(&file, &headers, columns)?;

    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut first_line_of: HashMap<(String, String), u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map(csv::Position::line);
                problems.push(Problem::at(&file, line, format!("cannot be read: {err}")));
                continue;
            }
        };
        let line = record
            .position()
            .map(csv::Position::line)
            .unwrap_or_default();
        if record.len() == 1 && record[0].trim().is_empty() {
            // A blank line, such as one at the end of the file, contains no row.
            continue;
        }
        match parse_row(&record, line, &indexes, columns, headers.len()) {
            Ok(row) => {
                let key = (row.sku.key(), row.warehouse.as_str().to_owned());
                if let Some(first) = first_line_of.get(&key) {
                    problems.push(Problem::at(
                        &file,
                        Some(line),
                        format!(
                            "SKU {:?} in warehouse {:?} was already given on line {first}: keep one of the two rows",
                            row.sku.as_str(),
                            row.warehouse.as_str()
                        ),
                    ));
                } else {
                    first_line_of.insert(key, line);
                    rows.push(row);
                }
            }
            Err(messages) => {
                problems.extend(
                    messages
                        .into_iter()
                        .map(|message| Problem::at(&file, Some(line), message)),
                );
            }
        }
    }

    if problems.is_empty() {
        Ok(StockPlan { file, rows })
    } else {
        Err(problems)
    }
}

/// Positions of the SKU, quantity and warehouse columns.
struct ColumnIndexes {
    sku: usize,
    quantity: usize,
    warehouse: usize,
}

fn column_indexes(
    file: &str,
    headers: &csv::StringRecord,
    columns: &CsvColumns,
) -> std::result::Result<ColumnIndexes, Vec<Problem>> {
    let find = |name: &str| {
        headers
            .iter()
            .position(|header| header.trim() == name.trim())
    };
    let mut missing = Vec::new();
    let mut index_of = |name: &str, option: &str| {
        find(name).unwrap_or_else(|| {
            missing.push(format!("{name:?} (set another header with {option})"));
            0
        })
    };
    let indexes = ColumnIndexes {
        sku: index_of(&columns.sku, "--sku-column"),
        quantity: index_of(&columns.quantity, "--quantity-column"),
        warehouse: index_of(&columns.warehouse, "--warehouse-column"),
    };
    if missing.is_empty() {
        return Ok(indexes);
    }
    let found: Vec<String> = headers.iter().map(|header| format!("{header:?}")).collect();
    Err(vec![Problem::at(
        file,
        Some(1),
        format!(
            "the header row lacks the column {}; expected the columns {}, found {}",
            missing.join(" and the column "),
            expected_headers(columns),
            found.join(", ")
        ),
    )])
}

fn expected_headers(columns: &CsvColumns) -> String {
    format!(
        "{:?}, {:?} and {:?}",
        columns.sku, columns.quantity, columns.warehouse
    )
}

/// Checks one record; returns every message about it.
fn parse_row(
    record: &csv::StringRecord,
    line: u64,
    indexes: &ColumnIndexes,
    columns: &CsvColumns,
    header_count: usize,
) -> std::result::Result<StockRow, Vec<String>> {
    if record.len() != header_count {
        return Err(vec![format!(
            "has {} fields but the header row has {header_count}; quote values that contain commas",
            record.len()
        )]);
    }
    let mut messages = Vec::new();

    let sku = SkuCode::parse(&columns.sku, &record[indexes.sku])
        .map_err(|err| messages.push(err.message()))
        .ok();
    let warehouse = ExternalReferenceCode::parse(&columns.warehouse, &record[indexes.warehouse])
        .map_err(|err| messages.push(err.message()))
        .ok();
    let quantity = parse_quantity(&columns.quantity, &record[indexes.quantity])
        .map_err(|message| messages.push(message))
        .ok();

    match (sku, warehouse, quantity) {
        (Some(sku), Some(warehouse), Some(quantity)) if messages.is_empty() => Ok(StockRow {
            line,
            sku,
            warehouse,
            quantity,
        }),
        _ => Err(messages),
    }
}

fn parse_quantity(column: &str, value: &str) -> std::result::Result<i64, String> {
    let quantity: i64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{column} {value:?} is not a whole number"))?;
    if !(0..=MAX_QUANTITY).contains(&quantity) {
        return Err(format!(
            "{column} is {quantity}, but quantities must be between 0 and {MAX_QUANTITY}"
        ));
    }
    Ok(quantity)
}

/// Writes the checked rows: warehouses, then SKUs (with their products), then quantities.
async fn write_plan(writer: &mut Writer<'_>, plan: &StockPlan) -> Result<()> {
    // Warehouses, in the order the file first names them.
    let mut warehouse_ids: HashMap<&str, i64> = HashMap::new();
    let mut warehouses = Vec::new();
    for row in &plan.rows {
        let code = row.warehouse.as_str();
        if warehouse_ids.contains_key(code) {
            continue;
        }
        let input = NewWarehouse {
            name: name_from_code(code),
            external_reference_code: Some(row.warehouse.clone()),
            description: None,
            active: true,
            address: Address::default(),
            coordinates: None,
            priority: 0,
        };
        let warehouse = writer.warehouse(&input).await?;
        warehouse_ids.insert(code, warehouse.id);
        warehouses.push(warehouse);
    }

    // SKUs: the existing ones in batches, then the missing ones one by one.
    let mut distinct_skus = Vec::new();
    let mut seen = HashSet::new();
    for row in &plan.rows {
        if seen.insert(row.sku.key()) {
            distinct_skus.push(row.sku.clone());
        }
    }
    writer.preload_skus(&distinct_skus).await?;
    writer.preload_on_hand(warehouses).await?;
    for code in &distinct_skus {
        if writer.known_sku(code).is_some() {
            writer.summary.skus_reused += 1;
            continue;
        }
        let erc = ExternalReferenceCode::parse("sku", code.as_str())
            .expect("BUG: a parsed SKU code is a valid external reference code");
        let product = writer
            .product(&NewProduct {
                name: name_from_code(code.as_str()),
                external_reference_code: Some(erc),
            })
            .await?;
        writer.create_sku(product.id, code).await?;
    }

    // Quantities.
    for row in &plan.rows {
        let label = RowLabel {
            file: plan.file.clone(),
            line: row.line,
            subject: String::new(),
        };
        writer
            .set_on_hand(
                &row.sku,
                warehouse_ids[row.warehouse.as_str()],
                row.quantity,
                &label,
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_must_be_whole_and_in_range() {
        assert_eq!(parse_quantity("q", " 7 "), Ok(7));
        assert!(
            parse_quantity("q", "abc")
                .unwrap_err()
                .contains("\"abc\" is not a whole number")
        );
        assert!(parse_quantity("q", "1.5").is_err());
        assert!(parse_quantity("q", "-3").unwrap_err().contains("is -3"));
        assert!(parse_quantity("q", "1000000001").is_err());
    }
}
