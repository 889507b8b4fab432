//! Liferay Commerce site-initializer files: `warehouses.json` and `products.json`.
//!
//! `warehouses.json` is an array of warehouses with `Name`, `ExternalReferenceCode`, an address
//! (`Street1`, `City`, `Region`, `Zip`, and `Country` as an ISO 3166-1 numeric code) and
//! `Latitude`/`Longitude`. `products.json` is an array of products with `Name`,
//! `ExternalReferenceCode`, inventory settings (`MinStockQuantity`, `BackOrders`,
//! `DisplayAvailability`, `DisplayStockQuantity`) and either a top-level `Sku` with quantities
//! `Warehouse1` to `WarehouseN`, or `Skus`, a list of objects each with its own `Sku` and
//! quantities. `WarehouseK` is the on-hand quantity in the K-th warehouse of
//! `warehouses.json`, in file order. When `WarehouseK` is missing, the SKU gets no item in that
//! warehouse. Fields that Stockroom does not model (prices, images, categories,
//! specifications, dimensions) are ignored.
//!
//! Like Liferay's initializer, the import creates one channel linked to every warehouse and
//! creates the warehouses active. Entities are found again on a re-run by their keys:
//! warehouses and products by external reference code, SKUs by code, and the channel by its
//! exact name. An entity that exists is reused as it is: a reused warehouse keeps its address
//! and its active flag, and a reused SKU keeps its published flag (a low-stock activity may have
//! unpublished it on purpose).

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::Arc,
};

use serde_json::{Map, Value};

use super::{
    json::{self, JsonRecord},
    problem::{ImportError, Problem, file_label, read_text},
    summary::ImportSummary,
    writer::{RowLabel, Writer, write_all},
};
use crate::{
    db::Db,
    domain::{
        Coordinates, CountryCode, ExternalReferenceCode, MAX_QUANTITY, MAX_TEXT_LENGTH, Name,
        SkuCode, parse_optional_text,
    },
    error::Result,
    service::{
        ChangeContext,
        catalog::{self, ConfigurationChanges, InventoryConfiguration, NewProduct},
        channels::{self, NewChannel},
        estimates,
        warehouses::{self, Address, NewWarehouse, WarehouseFilter},
    },
};

/// The two files of a Liferay Commerce site initializer that hold inventory.
#[derive(Clone, Debug)]
pub struct LiferayFiles {
    /// Path of `warehouses.json`.
    pub warehouses: PathBuf,
    /// Path of `products.json`.
    pub products: PathBuf,
}

/// A checked warehouse of `warehouses.json`.
struct WarehouseEntry {
    input: NewWarehouse,
}

/// A checked product of `products.json`.
struct ProductEntry {
    line: u64,
    /// The product's name in messages, such as `product 2 ("Brake Fluid")`.
    label: String,
    name: Name,
    code: ExternalReferenceCode,
    settings: ConfigurationChanges,
    /// The `AvailabilityEstimate` text, such as "3-5 days", in the default locale.
    estimate: Option<String>,
    skus: Vec<SkuEntry>,
}

/// A checked SKU with its on-hand quantities by warehouse position (0-based).
struct SkuEntry {
    code: SkuCode,
    quantities: Vec<(usize, i64)>,
}

/// The checked content of both files.
struct LiferayPlan {
    products_file: String,
    channel_name: Name,
    warehouses: Vec<WarehouseEntry>,
    products: Vec<ProductEntry>,
}

/// Imports Liferay Commerce site-initializer files into the channel named `channel_name`.
///
/// Every warehouse, product and SKU is checked before anything is written, and every problem
/// is reported with its file and line; then nothing is imported. The writes run in one
/// transaction. A second run with the same files finds every entity again and writes no
/// ledger row.
///
/// # Errors
/// [`ImportError::Rejected`] with every problem found, in the files or against the database
/// (a SKU owned by another product, several channels with the name); [`ImportError::Failed`]
/// when the database fails.
pub async fn liferay(
    db: &Db,
    files: &LiferayFiles,
    channel_name: &str,
) -> std::result::Result<ImportSummary, ImportError> {
    let plan = Arc::new(read_plan(files, channel_name).map_err(ImportError::Rejected)?);
    let context = ChangeContext {
        reason: Some(format!("import liferay {}", plan.products_file)),
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
    summary.log("liferay");
    Ok(summary)
}

/// Reads and checks both files, collecting every problem.
fn read_plan(
    files: &LiferayFiles,
    channel_name: &str,
) -> std::result::Result<LiferayPlan, Vec<Problem>> {
    let mut problems = Vec::new();
    let channel_name = Name::parse("--channel-name", channel_name)
        .map_err(|err| problems.push(Problem::in_file("--channel-name", err.message())))
        .ok();

    let warehouses_file = file_label(&files.warehouses);
    let mut warehouse_count = None;
    let warehouses = match read_text(&files.warehouses) {
        Ok(text) => {
            let before = problems.len();
            let records = json::parse_records(&warehouses_file, &text, &mut problems);
            // The positions of WarehouseK can be checked only when the whole array was read.
            if problems.len() == before {
                warehouse_count = Some(records.len());
            }
            parse_warehouses(&warehouses_file, &records, &mut problems)
        }
        Err(problem) => {
            problems.push(problem);
            Vec::new()
        }
    };

    let products_file = file_label(&files.products);
    let products = match read_text(&files.products) {
        Ok(text) => {
            let records = json::parse_records(&products_file, &text, &mut problems);
            let context = ProductContext {
                file: &products_file,
                warehouses_file: &warehouses_file,
                warehouse_count,
            };
            parse_products(&context, &records, &mut problems)
        }
        Err(problem) => {
            problems.push(problem);
            Vec::new()
        }
    };

    match channel_name {
        Some(channel_name) if problems.is_empty() => Ok(LiferayPlan {
            products_file,
            channel_name,
            warehouses,
            products,
        }),
        _ => Err(problems),
    }
}

fn parse_warehouses(
    file: &str,
    records: &[JsonRecord],
    problems: &mut Vec<Problem>,
) -> Vec<WarehouseEntry> {
    let mut entries = Vec::with_capacity(records.len());
    let mut line_of_code: HashMap<String, u64> = HashMap::new();
    for record in records {
        let label = record_label("warehouse", record);
        let mut messages = Vec::new();
        if let Some(input) = parse_warehouse(&record.fields, &mut messages) {
            let code = input
                .external_reference_code
                .as_ref()
                .map(|code| code.as_str().to_owned())
                .expect("BUG: parse_warehouse requires a code");
            if let Some(first) = line_of_code.get(&code) {
                messages.push(format!(
                    "ExternalReferenceCode {code:?} is already used by the warehouse on line {first}: give each warehouse its own code"
                ));
            } else {
                line_of_code.insert(code, record.line);
                entries.push(WarehouseEntry { input });
            }
        }
        problems.extend(
            messages
                .into_iter()
                .map(|message| Problem::at(file, Some(record.line), format!("{label}: {message}"))),
        );
    }
    entries
}

/// Checks one warehouse; pushes a message for each bad field.
fn parse_warehouse(
    fields: &Map<String, Value>,
    messages: &mut Vec<String>,
) -> Option<NewWarehouse> {
    let name = required_text(fields, "Name", messages).and_then(|text| {
        Name::parse("Name", &text)
            .map_err(|err| messages.push(err.message()))
            .ok()
    });
    let code = required_code(fields, "ExternalReferenceCode", "a warehouse", messages);

    let mut optional = |key: &str| -> Option<String> {
        match json::text(fields, key) {
            Ok(value) => parse_optional_text(key, value.as_deref(), MAX_TEXT_LENGTH)
                .map_err(|err| messages.push(err.message()))
                .ok()
                .flatten(),
            Err(message) => {
                messages.push(message);
                None
            }
        }
    };
    let street1 = optional("Street1");
    let city = optional("City");
    let region_code = optional("Region");
    let zip = optional("Zip");
    let country_code = country(fields, messages);
    let coordinates = coordinates(fields, messages);

    let name = name?;
    let code = code?;
    if !messages.is_empty() {
        return None;
    }
    Some(NewWarehouse {
        name,
        external_reference_code: Some(code),
        description: None,
        // Liferay's initializer activates the warehouses it creates.
        active: true,
        address: Address {
            street1,
            street2: None,
            street3: None,
            city,
            zip,
            region_code,
            country_code,
        },
        coordinates: coordinates.flatten(),
        priority: 0,
    })
}

/// Maps the ISO 3166-1 numeric `Country` to its alpha-2 code.
fn country(fields: &Map<String, Value>, messages: &mut Vec<String>) -> Option<CountryCode> {
    let number = match json::whole_number(fields, "Country") {
        Ok(number) => number?,
        Err(message) => {
            messages.push(message);
            return None;
        }
    };
    let Some(country) = usize::try_from(number)
        .ok()
        .and_then(|number| celes::Country::from_value(number).ok())
    else {
        messages.push(format!(
            "Country {number} is not an ISO 3166-1 numeric country code: use codes such as 840 (United States) or 380 (Italy)"
        ));
        return None;
    };
    CountryCode::parse("Country", country.alpha2)
        .map_err(|err| messages.push(err.message()))
        .ok()
}

fn coordinates(
    fields: &Map<String, Value>,
    messages: &mut Vec<String>,
) -> Option<Option<Coordinates>> {
    let latitude = json::decimal(fields, "Latitude")
        .map_err(|message| messages.push(message))
        .ok()?;
    let longitude = json::decimal(fields, "Longitude")
        .map_err(|message| messages.push(message))
        .ok()?;
    Coordinates::parse(latitude, longitude)
        .map_err(|err| messages.push(err.message()))
        .ok()
}

/// Facts from outside a product that its checks need.
struct ProductContext<'a> {
    file: &'a str,
    warehouses_file: &'a str,
    /// Number of warehouses in `warehouses.json`, which bounds `WarehouseK`; `None` when that
    /// file could not be read.
    warehouse_count: Option<usize>,
}

fn parse_products(
    context: &ProductContext<'_>,
    records: &[JsonRecord],
    problems: &mut Vec<Problem>,
) -> Vec<ProductEntry> {
    let mut entries: Vec<ProductEntry> = Vec::with_capacity(records.len());
    let mut line_of_code: HashMap<String, u64> = HashMap::new();
    let mut line_of_sku: HashMap<String, u64> = HashMap::new();
    for record in records {
        let mut row_problems = Vec::new();
        let entry = parse_product(context, record, &mut row_problems);
        check_keys_unique(
            context.file,
            record,
            &mut line_of_code,
            &mut line_of_sku,
            &mut row_problems,
        );
        if let Some(entry) = entry.filter(|_| row_problems.is_empty()) {
            entries.push(entry);
        }
        problems.extend(row_problems);
    }
    entries
}

/// Reports a product code or SKU code that an earlier product already used, because a re-run
/// could not tell the two apart. Works on the raw fields, so a product with other problems is
/// checked too.
fn check_keys_unique(
    file: &str,
    record: &JsonRecord,
    line_of_code: &mut HashMap<String, u64>,
    line_of_sku: &mut HashMap<String, u64>,
    problems: &mut Vec<Problem>,
) {
    let label = record_label("product", record);
    let mut problem = |message: String| {
        problems.push(Problem::at(
            file,
            Some(record.line),
            format!("{label}: {message}"),
        ))
    };

    if let Ok(Some(code)) = json::text(&record.fields, "ExternalReferenceCode") {
        let code = code.trim().to_owned();
        match line_of_code.get(&code) {
            Some(first) => problem(format!(
                "ExternalReferenceCode {code:?} is already used by the product on line {first}: give each product its own code"
            )),
            None => {
                line_of_code.insert(code, record.line);
            }
        }
    }

    let mut sku_fields = vec![&record.fields];
    if let Some(Value::Array(entries)) = record.fields.get("Skus") {
        sku_fields.extend(entries.iter().filter_map(Value::as_object));
    }
    for fields in sku_fields {
        let Some(Ok(code)) = fields
            .get("Sku")
            .and_then(Value::as_str)
            .map(|text| SkuCode::parse("Sku", text))
        else {
            continue;
        };
        match line_of_sku.get(&code.key()) {
            Some(first) => problem(format!(
                "SKU {:?} is already given by the product on line {first}: SKU codes are unique regardless of letter case",
                code.as_str()
            )),
            None => {
                line_of_sku.insert(code.key(), record.line);
            }
        }
    }
}

/// Checks one product and its SKUs; pushes a problem for each bad field to `problems`, which
/// must start empty.
fn parse_product(
    context: &ProductContext<'_>,
    record: &JsonRecord,
    problems: &mut Vec<Problem>,
) -> Option<ProductEntry> {
    let fields = &record.fields;
    let label = record_label("product", record);
    let mut messages = Vec::new();

    let name = required_text(fields, "Name", &mut messages).and_then(|text| {
        Name::parse("Name", &text)
            .map_err(|err| messages.push(err.message()))
            .ok()
    });
    let code = required_code(fields, "ExternalReferenceCode", "a product", &mut messages);
    let settings = parse_settings(fields, &mut messages);
    let estimate = match json::text(fields, "AvailabilityEstimate") {
        Ok(Some(text)) if !text.trim().is_empty() => {
            let titles = estimates::Titles::from([(estimates::DEFAULT_LOCALE.to_owned(), text.trim().to_owned())]);
            match estimates::validate_titles(&titles) {
                Ok(()) => Some(text.trim().to_owned()),
                Err(err) => {
                    messages.push(format!("AvailabilityEstimate: {}", err.message()));
                    None
                }
            }
        }
        Ok(_) => None,
        Err(message) => {
            messages.push(message);
            None
        }
    };
    let skus = match (fields.get("Skus"), fields.contains_key("Sku")) {
        (Some(_), true) => {
            messages.push(
                "has both Sku and Skus: give the single SKU in Sku, or every SKU in Skus"
                    .to_owned(),
            );
            Vec::new()
        }
        (Some(list), false) => {
            let own_quantities = warehouse_keys(fields);
            if let Some((key, _)) = own_quantities.first() {
                messages.push(format!(
                    "has Skus and also its own {key}: put the quantities in each entry of Skus"
                ));
            }
            parse_sku_list(context, list, &label, record.line, problems)
        }
        (None, true) => {
            let mut sku_messages = Vec::new();
            let sku = parse_sku(context, fields, &mut sku_messages);
            let sku_label = match fields.get("Sku") {
                Some(Value::String(code)) => format!("{label}, SKU {code:?}"),
                _ => label.clone(),
            };
            problems.extend(sku_messages.into_iter().map(|message| {
                Problem::at(
                    context.file,
                    Some(record.line),
                    format!("{sku_label}: {message}"),
                )
            }));
            sku.into_iter().collect()
        }
        (None, false) => {
            messages.push("has no SKU: give one in Sku, or several in Skus".to_owned());
            Vec::new()
        }
    };

    problems.extend(messages.into_iter().map(|message| {
        Problem::at(
            context.file,
            Some(record.line),
            format!("{label}: {message}"),
        )
    }));
    if !problems.is_empty() {
        return None;
    }
    Some(ProductEntry {
        line: record.line,
        label,
        name: name?,
        code: code?,
        settings: settings?,
        estimate,
        skus,
    })
}

/// Checks the entries of `Skus`.
fn parse_sku_list(
    context: &ProductContext<'_>,
    list: &Value,
    label: &str,
    line: u64,
    problems: &mut Vec<Problem>,
) -> Vec<SkuEntry> {
    let at = |message: String| Problem::at(context.file, Some(line), message);
    let Value::Array(entries) = list else {
        problems.push(at(format!(
            "{label}: Skus is {}, but a list of SKU objects is expected",
            json::shown(list)
        )));
        return Vec::new();
    };
    if entries.is_empty() {
        problems.push(at(format!("{label}: Skus is empty: give at least one SKU")));
    }
    let mut skus = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let entry_label = match entry.get("Sku") {
            Some(Value::String(code)) => format!("{label}, SKU {code:?}"),
            _ => format!("{label}, Skus entry {}", index + 1),
        };
        let Value::Object(fields) = entry else {
            problems.push(at(format!(
                "{entry_label}: is {}, but an object is expected",
                json::shown(entry)
            )));
            continue;
        };
        let mut messages = Vec::new();
        if let Some(sku) = parse_sku(context, fields, &mut messages) {
            skus.push(sku);
        }
        problems.extend(
            messages
                .into_iter()
                .map(|message| at(format!("{entry_label}: {message}"))),
        );
    }
    skus
}

/// Checks the `Sku` code and the `WarehouseK` quantities of an object.
fn parse_sku(
    context: &ProductContext<'_>,
    fields: &Map<String, Value>,
    messages: &mut Vec<String>,
) -> Option<SkuEntry> {
    let code = required_text(fields, "Sku", messages).and_then(|text| {
        SkuCode::parse("Sku", &text)
            .map_err(|err| messages.push(err.message()))
            .ok()
    });

    let mut quantities = Vec::new();
    let mut key_of_position: HashMap<usize, String> = HashMap::new();
    for (key, position) in warehouse_keys(fields) {
        if position == 0 {
            messages.push(format!(
                "{key} names no warehouse: the first one is Warehouse1"
            ));
            continue;
        }
        if let Some(count) = context.warehouse_count
            && position > count
        {
            messages.push(format!(
                "{key} names warehouse {position}, but {} lists {count} warehouses, so only Warehouse1 to Warehouse{count} are allowed",
                context.warehouses_file
            ));
            continue;
        }
        if let Some(other) = key_of_position.get(&position) {
            messages.push(format!(
                "{other} and {key} both name warehouse {position}: keep one of them"
            ));
            continue;
        }
        key_of_position.insert(position, key.clone());
        match json::whole_number(fields, &key) {
            Ok(Some(quantity)) if (0..=MAX_QUANTITY).contains(&quantity) => {
                quantities.push((position - 1, quantity))
            }
            Ok(Some(quantity)) => messages.push(format!(
                "{key} is {quantity}, but quantities must be between 0 and {MAX_QUANTITY}"
            )),
            Ok(None) => {}
            Err(message) => messages.push(message),
        }
    }
    quantities.sort_unstable();
    Some(SkuEntry {
        code: code?,
        quantities,
    })
}

/// Returns the `WarehouseK` keys of an object with their K, in key order.
fn warehouse_keys(fields: &Map<String, Value>) -> Vec<(String, usize)> {
    fields
        .keys()
        .filter_map(|key| {
            let digits = key.strip_prefix("Warehouse")?;
            let position = digits
                .parse::<usize>()
                .ok()
                .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))?;
            Some((key.clone(), position))
        })
        .collect()
}

/// Checks the product's inventory settings; absent settings keep the stored value.
fn parse_settings(
    fields: &Map<String, Value>,
    messages: &mut Vec<String>,
) -> Option<ConfigurationChanges> {
    let before = messages.len();
    let min_stock_quantity = match json::whole_number(fields, "MinStockQuantity") {
        Ok(Some(value)) if !(0..=MAX_QUANTITY).contains(&value) => {
            messages.push(format!(
                "MinStockQuantity is {value}, but it must be between 0 and {MAX_QUANTITY}"
            ));
            None
        }
        Ok(value) => value,
        Err(message) => {
            messages.push(message);
            None
        }
    };
    let mut flag = |key: &str| {
        json::boolean(fields, key)
            .map_err(|message| messages.push(message))
            .ok()
            .flatten()
    };
    let allow_back_orders = flag("BackOrders");
    let display_availability = flag("DisplayAvailability");
    let display_stock_quantity = flag("DisplayStockQuantity");
    if messages.len() > before {
        return None;
    }
    Some(ConfigurationChanges {
        min_stock_quantity,
        allow_back_orders,
        display_availability,
        display_stock_quantity,
        ..ConfigurationChanges::default()
    })
}

fn required_text(
    fields: &Map<String, Value>,
    key: &str,
    messages: &mut Vec<String>,
) -> Option<String> {
    match json::text(fields, key) {
        Ok(Some(text)) => Some(text),
        Ok(None) => {
            messages.push(format!("{key} is missing"));
            None
        }
        Err(message) => {
            messages.push(message);
            None
        }
    }
}

fn required_code(
    fields: &Map<String, Value>,
    key: &str,
    entity: &str,
    messages: &mut Vec<String>,
) -> Option<ExternalReferenceCode> {
    match json::text(fields, key) {
        Ok(Some(text)) => ExternalReferenceCode::parse(key, &text)
            .map_err(|err| messages.push(err.message()))
            .ok(),
        Ok(None) => {
            messages.push(format!(
                "{key} is missing: the import finds {entity} again by this code on the next run, so every one needs it"
            ));
            None
        }
        Err(message) => {
            messages.push(message);
            None
        }
    }
}

/// Returns the name of a record in messages: `product 2 ("Brake Fluid")`, or `product 2`
/// when it has no name.
fn record_label(kind: &str, record: &JsonRecord) -> String {
    match record.fields.get("Name") {
        Some(Value::String(name)) => format!("{kind} {} ({name:?})", record.number),
        _ => format!("{kind} {}", record.number),
    }
}

/// Writes the checked plan: warehouses, the channel and its links, products with their
/// settings, SKUs, then quantities.
async fn write_plan(writer: &mut Writer<'_>, plan: &LiferayPlan) -> Result<()> {
    let mut warehouses = Vec::with_capacity(plan.warehouses.len());
    for entry in &plan.warehouses {
        warehouses.push(writer.warehouse(&entry.input).await?);
    }
    let warehouse_ids: Vec<i64> = warehouses.iter().map(|warehouse| warehouse.id).collect();

    if let Some(channel_id) = channel(writer, &plan.channel_name).await? {
        link_all(writer, channel_id, &warehouse_ids).await?;
    }

    let codes: Vec<SkuCode> = plan
        .products
        .iter()
        .flat_map(|product| product.skus.iter().map(|sku| sku.code.clone()))
        .collect();
    writer.preload_skus(&codes).await?;
    writer.preload_on_hand(warehouses).await?;

    for entry in &plan.products {
        write_product(writer, &plan.products_file, entry, &warehouse_ids).await?;
    }
    Ok(())
}

/// Finds the channel by name or creates it. Returns `None` after recording a problem when
/// several channels have the name.
async fn channel(writer: &mut Writer<'_>, name: &Name) -> Result<Option<i64>> {
    let name_text = name.clone().into_inner();
    let found = channels::find_channels_by_name(writer.txn, &name_text).await?;
    match found.as_slice() {
        [] => {
            let input = NewChannel {
                name: name.clone(),
                external_reference_code: None,
                active: true,
            };
            let created = channels::insert_channel(writer.txn, &input).await?;
            writer.summary.channels_created += 1;
            Ok(Some(created.id))
        }
        [channel] => {
            writer.summary.channels_reused += 1;
            Ok(Some(channel.id))
        }
        several => {
            let ids: Vec<String> = several
                .iter()
                .map(|channel| channel.id.to_string())
                .collect();
            writer.problems.push(Problem::in_file(
                "--channel-name",
                format!(
                    "{} channels are named {name_text:?} (ids {}), so the import cannot tell which one to use: rename all but one, or pick another name with --channel-name",
                    several.len(),
                    ids.join(", ")
                ),
            ));
            Ok(None)
        }
    }
}

/// Links every warehouse to the channel, keeping the links that exist.
async fn link_all(writer: &mut Writer<'_>, channel_id: i64, warehouse_ids: &[i64]) -> Result<()> {
    let filter = WarehouseFilter {
        channel_id: Some(channel_id),
        ..WarehouseFilter::default()
    };
    let linked: HashSet<i64> = warehouses::select_warehouses(&filter)
        .all(writer.txn)
        .await?
        .into_iter()
        .map(|w| w.id)
        .collect();
    for &warehouse_id in warehouse_ids {
        if !linked.contains(&warehouse_id) {
            warehouses::insert_link(writer.txn, warehouse_id, channel_id).await?;
            writer.summary.links_created += 1;
        }
    }
    Ok(())
}

async fn write_product(
    writer: &mut Writer<'_>,
    file: &str,
    entry: &ProductEntry,
    warehouse_ids: &[i64],
) -> Result<()> {
    let product_label = RowLabel {
        file: file.to_owned(),
        line: entry.line,
        subject: entry.label.clone(),
    };
    let input = NewProduct {
        name: entry.name.clone(),
        external_reference_code: Some(entry.code.clone()),
    };
    let product = writer.product(&input).await?;
    store_settings(writer, product.id, &entry.settings, &product_label).await?;
    if let Some(title) = &entry.estimate {
        let estimate_id = writer.estimate(title).await?;
        estimates::link_product(writer.txn, product.id, Some(estimate_id)).await?;
    }

    for sku in &entry.skus {
        let label = RowLabel {
            subject: format!("{}, SKU {:?}", entry.label, sku.code.as_str()),
            ..product_label.clone()
        };
        match writer
            .known_sku(&sku.code)
            .map(|found| (found.product_id, found.code.clone()))
        {
            Some((owner_id, _)) if owner_id == product.id => writer.summary.skus_reused += 1,
            Some((owner_id, stored_code)) => {
                let owner = catalog::find_product(writer.txn, owner_id).await?;
                writer.problems.push(label.problem(&format!(
                    "SKU {stored_code:?} already exists under another product (id {owner_id}, {:?}, ExternalReferenceCode {:?}): move it with updateSku or change the file",
                    owner.name,
                    owner.external_reference_code.unwrap_or_default()
                )));
                continue;
            }
            None => {
                if let Err(err) = writer.create_sku(product.id, &sku.code).await {
                    writer.reject(&label, err)?;
                    continue;
                }
            }
        }
        for &(position, quantity) in &sku.quantities {
            writer
                .set_on_hand(&sku.code, warehouse_ids[position], quantity, &label)
                .await?;
        }
    }
    Ok(())
}

/// Stores the settings the file gives when they differ from the product's current ones.
async fn store_settings(
    writer: &mut Writer<'_>,
    product_id: i64,
    changes: &ConfigurationChanges,
    label: &RowLabel,
) -> Result<()> {
    let current = catalog::inventory_configuration(writer.txn, product_id).await?;
    if !settings_differ(&current, changes) {
        return Ok(());
    }
    match catalog::store_inventory_configuration(writer.txn, &writer.activities, product_id, changes.clone()).await {
        Ok(_) => writer.summary.configurations_changed += 1,
        Err(err) => writer.reject(label, err)?,
    }
    Ok(())
}

/// Returns whether storing `changes` would change any of the settings a Liferay file can give.
fn settings_differ(current: &InventoryConfiguration, changes: &ConfigurationChanges) -> bool {
    changes
        .min_stock_quantity
        .is_some_and(|value| value != current.min_stock_quantity)
        || changes
            .allow_back_orders
            .is_some_and(|value| value != current.allow_back_orders)
        || changes
            .display_availability
            .is_some_and(|value| value != current.display_availability)
        || changes
            .display_stock_quantity
            .is_some_and(|value| value != current.display_stock_quantity)
}
