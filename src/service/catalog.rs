//! Products, SKUs and product inventory configuration.

use entity::{product, product_inventory_configuration as config, sku};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use serde::{Deserialize, Serialize};

use super::{activities::ActivityRegistry, events, now};
use crate::{
    db::Db,
    domain::{ExternalReferenceCode, MAX_QUANTITY, Name, SkuCode},
    error::{Error, ErrorCode, Result, map_unique_violation},
};


/// A product's inventory settings, with Liferay Commerce's defaults where none are stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryConfiguration {
    pub min_stock_quantity: i64,
    pub low_stock_activity: Option<String>,
    pub allow_back_orders: bool,
    pub display_availability: bool,
    pub display_stock_quantity: bool,
    pub min_order_quantity: i64,
    pub max_order_quantity: i64,
    pub multiple_order_quantity: i64,
    pub allowed_order_quantities: Vec<i64>,
}

impl Default for InventoryConfiguration {
    fn default() -> Self {
        InventoryConfiguration {
            min_stock_quantity: 0,
            low_stock_activity: None,
            allow_back_orders: false,
            display_availability: false,
            display_stock_quantity: false,
            min_order_quantity: 1,
            max_order_quantity: 10_000,
            multiple_order_quantity: 1,
            allowed_order_quantities: Vec::new(),
        }
    }
}

impl InventoryConfiguration {
    /// Reads a stored row.
    pub fn from_model(model: &config::Model) -> Self {
        let allowed = serde_json::from_value::<Vec<i64>>(model.allowed_order_quantities.clone())
            // The column is only written from a validated Vec<i64>.
            .unwrap_or_default();
        InventoryConfiguration {
            min_stock_quantity: model.min_stock_quantity,
            low_stock_activity: model.low_stock_activity.clone(),
            allow_back_orders: model.allow_back_orders,
            display_availability: model.display_availability,
            display_stock_quantity: model.display_stock_quantity,
            min_order_quantity: model.min_order_quantity,
            max_order_quantity: model.max_order_quantity,
            multiple_order_quantity: model.multiple_order_quantity,
            allowed_order_quantities: allowed,
        }
    }

    /// Checks every rule of the settings as a whole; `lowStockActivity` must be registered in
    /// `activities`. Allowed quantities come back sorted and without repeats.
    pub fn validate(mut self, activities: &ActivityRegistry) -> Result<Self> {
        if !(0..=MAX_QUANTITY).contains(&self.min_stock_quantity) {
            return Err(Error::invalid(
                "minStockQuantity",
                format!(
                    "minStockQuantity must be between 0 and {MAX_QUANTITY}, got {}",
                    self.min_stock_quantity
                ),
            ));
        }
        for (field, value) in [
            ("minOrderQuantity", self.min_order_quantity),
            ("maxOrderQuantity", self.max_order_quantity),
            ("multipleOrderQuantity", self.multiple_order_quantity),
        ] {
            if !(1..=MAX_QUANTITY).contains(&value) {
                return Err(Error::invalid(
                    field,
                    format!("{field} must be between 1 and {MAX_QUANTITY}, got {value}"),
                ));
            }
        }
        if self.max_order_quantity < self.min_order_quantity {
            return Err(Error::invalid(
                "maxOrderQuantity",
                format!(
                    "maxOrderQuantity {} is below minOrderQuantity {}: raise the maximum or lower the minimum",
                    self.max_order_quantity, self.min_order_quantity
                ),
            ));
        }
        if let Some(bad) =
            self.allowed_order_quantities.iter().find(|q| !(1..=MAX_QUANTITY).contains(*q))
        {
            return Err(Error::invalid(
                "allowedOrderQuantities",
                format!(
                    "allowedOrderQuantities must hold quantities between 1 and {MAX_QUANTITY}, got {bad}"
                ),
            ));
        }
        if let Some(key) = &self.low_stock_activity
            && activities.get(key).is_none()
        {
            return Err(Error::invalid(
                "lowStockActivity",
                format!(
                    "unknown low-stock activity {key:?}: use one of {}",
                    activities.keys().join(", ")
                ),
            ));
        }
        self.allowed_order_quantities.sort_unstable();
        self.allowed_order_quantities.dedup();
        Ok(self)
    }
}

/// Changes to a product's inventory settings; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct ConfigurationChanges {
    pub min_stock_quantity: Option<i64>,
    /// `Some(None)` removes the activity.
    pub low_stock_activity: Option<Option<String>>,
    pub allow_back_orders: Option<bool>,
    pub display_availability: Option<bool>,
    pub display_stock_quantity: Option<bool>,
    pub min_order_quantity: Option<i64>,
    pub max_order_quantity: Option<i64>,
    pub multiple_order_quantity: Option<i64>,
    pub allowed_order_quantities: Option<Vec<i64>>,
}

/// Fields of a new product.
#[derive(Clone, Debug)]
pub struct NewProduct {
    pub name: Name,
    pub external_reference_code: Option<ExternalReferenceCode>,
}

/// Changes to a product; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct ProductChanges {
    pub name: Option<Name>,
    /// `Some(None)` removes the code.
    pub external_reference_code: Option<Option<ExternalReferenceCode>>,
    /// `Some(None)` removes the availability estimate.
    pub availability_estimate_id: Option<Option<i64>>,
}

/// Fields of a new SKU.
#[derive(Clone, Debug)]
pub struct NewSku {
    pub product_id: i64,
    pub code: SkuCode,
    pub published: bool,
    pub purchasable: bool,
}

/// Changes to a SKU; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct SkuChanges {
    pub code: Option<SkuCode>,
    pub published: Option<bool>,
    pub purchasable: Option<bool>,
}

/// Finds a product by id.
pub async fn find_product(conn: &impl ConnectionTrait, id: i64) -> Result<product::Model> {
    product::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("id", format!("product {id} not found")))
}

/// Finds a product by its external reference code.
pub async fn find_product_by_erc(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<product::Model>> {
    Ok(product::Entity::find()
        .filter(product::Column::ExternalReferenceCode.eq(code.trim()))
        .one(conn)
        .await?)
}

/// Products whose name contains `search`, case-insensitively.
pub fn select_products(search: Option<&str>) -> Select<product::Entity> {
    let mut query = product::Entity::find();
    if let Some(term) = search.map(str::trim).filter(|t| !t.is_empty()) {
        query = query.filter(
            Expr::expr(Func::lower(Expr::col(product::Column::Name))).like(like_pattern(term)),
        );
    }
    query
}

/// Finds a SKU by code, ignoring letter case and surrounding spaces.
pub async fn find_sku(conn: &impl ConnectionTrait, code: &SkuCode) -> Result<sku::Model> {
    find_sku_or_none(conn, code).await?.ok_or_else(|| {
        Error::not_found(
            "sku",
            format!("SKU {:?} not found: create it with createSku first", code.as_str()),
        )
    })
}

/// Finds a SKU by code, or `None`.
pub async fn find_sku_or_none(
    conn: &impl ConnectionTrait,
    code: &SkuCode,
) -> Result<Option<sku::Model>> {
    Ok(sku::Entity::find().filter(sku::Column::CodeKey.eq(code.key())).one(conn).await?)
}

/// Finds a SKU by id.
pub async fn find_sku_by_id(conn: &impl ConnectionTrait, id: i64) -> Result<sku::Model> {
    sku::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("id", format!("SKU {id} not found")))
}

/// Loads the SKUs with the given codes in one query; unknown codes are missing from the result.
pub async fn find_skus(conn: &impl ConnectionTrait, codes: &[SkuCode]) -> Result<Vec<sku::Model>> {
    let keys: Vec<String> = codes.iter().map(SkuCode::key).collect();
    let mut found = Vec::with_capacity(keys.len());
    // Keeps each statement well below the bind-parameter limits of SQLite and PostgreSQL.
    for chunk in keys.chunks(1000) {
        found.extend(
            sku::Entity::find()
                .filter(sku::Column::CodeKey.is_in(chunk.iter().cloned()))
                .all(conn)
                .await?,
        );
    }
    Ok(found)
}

/// SKUs matching a search term and, when `low_stock` is set, only those whose company-wide
/// available quantity is at or below their product's `minStockQuantity` (or only those above
/// it, when `low_stock` is false).
pub fn select_skus(backend: sea_orm::DatabaseBackend, search: Option<&str>, low_stock: Option<bool>) -> Select<sku::Entity> {
    let mut query = sku::Entity::find();
    if let Some(term) = search.map(str::trim).filter(|t| !t.is_empty()) {
        query = query.filter(sku::Column::CodeKey.like(like_pattern(term)));
    }
    if let Some(low) = low_stock {
        // Company-wide available per DOMAIN rules: the sum over active warehouses of each
        // warehouse's available quantity, floored at zero unless the product allows back orders.
        // Holds of bookings past their expiry count for nothing, as in every other read.
        let low_skus = "sku.id IN (
            SELECT s.id FROM sku s
            LEFT JOIN product_inventory_configuration c ON c.product_id = s.product_id
            LEFT JOIN (
                SELECT wi.sku_id AS sku_id,
                       SUM(CASE WHEN wi.on_hand - wi.safety_stock - (wi.booked - COALESCE(x.held, 0)) > 0
                                THEN wi.on_hand - wi.safety_stock - (wi.booked - COALESCE(x.held, 0)) ELSE 0 END) AS floored,
                       SUM(wi.on_hand - wi.safety_stock - (wi.booked - COALESCE(x.held, 0))) AS raw
                FROM warehouse_item wi
                JOIN warehouse w ON w.id = wi.warehouse_id AND w.active = TRUE
                LEFT JOIN (
                    SELECT bl.warehouse_id AS warehouse_id, bl.sku_id AS sku_id,
                           SUM(bl.quantity - bl.consumed_quantity - bl.released_quantity) AS held
                    FROM booking_line bl
                    JOIN booking b ON b.id = bl.booking_id
                    WHERE b.status = 'ACTIVE' AND b.expires_at <= $1
                    GROUP BY bl.warehouse_id, bl.sku_id
                ) x ON x.warehouse_id = wi.warehouse_id AND x.sku_id = wi.sku_id
                GROUP BY wi.sku_id
            ) a ON a.sku_id = s.id
            WHERE CASE WHEN COALESCE(c.allow_back_orders, FALSE) = TRUE
                       THEN COALESCE(a.raw, 0) ELSE COALESCE(a.floored, 0) END
                  <= COALESCE(c.min_stock_quantity, 0)
        )";
        let at = super::now();
        // sea-query keeps the backend's own placeholder in custom SQL: `$1` or `?`.
        let low_skus = match backend {
            sea_orm::DatabaseBackend::Postgres => low_skus.to_owned(),
            _ => low_skus.replace("$1", "?"),
        };
        query = if low {
            query.filter(Expr::cust_with_values(low_skus.clone(), [at]))
        } else {
            query.filter(Expr::cust_with_values(format!("NOT ({low_skus})"), [at]))
        };
    }
    query
}

/// Escapes `term` for a case-insensitive `LIKE … ESCAPE`-free substring match.
fn like_pattern(term: &str) -> String {
    // `%` and `_` in a search term are matched literally by dropping them from the pattern's
    // wildcard role: neither backend agrees on a default escape character.
    let cleaned: String = term.to_lowercase().replace(['%', '_'], "");
    format!("%{cleaned}%")
}

/// Creates a product.
pub async fn create_product(db: &Db, input: NewProduct) -> Result<product::Model> {
    create_product_with_estimate(db, input, None).await
}

/// Creates a product that points at an availability estimate, in one transaction.
pub async fn create_product_with_estimate(db: &Db, input: NewProduct, estimate_id: Option<i64>) -> Result<product::Model> {
    db.write(|txn| {
        let input = input.clone();
        Box::pin(async move {
            let product = insert_product(txn, &input).await?;
            match estimate_id {
                Some(_) => super::estimates::link_product(txn, product.id, estimate_id).await,
                None => Ok(product),
            }
        })
    })
    .await
}

/// Inserts a product inside a caller's transaction.
pub async fn insert_product(conn: &impl ConnectionTrait, input: &NewProduct) -> Result<product::Model> {
    if let Some(code) = &input.external_reference_code {
        ensure_product_erc_free(conn, code, None).await?;
    }
    let time = now();
    let erc = input.external_reference_code.clone().map(ExternalReferenceCode::into_inner);
    product::ActiveModel {
        name: Set(input.name.clone().into_inner()),
        external_reference_code: Set(erc),
        created_at: Set(time),
        updated_at: Set(time),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|err| duplicate_product_erc(err, input.external_reference_code.as_ref()))
}

/// Updates a product's name or external reference code.
pub async fn update_product(db: &Db, id: i64, changes: ProductChanges) -> Result<product::Model> {
    db.write(|txn| {
        let changes = changes.clone();
        Box::pin(async move {
            let current = find_product(txn, id).await?;
            let mut row: product::ActiveModel = current.into();
            if let Some(name) = changes.name {
                row.name = Set(name.into_inner());
            }
            if let Some(code) = &changes.external_reference_code {
                if let Some(code) = code {
                    ensure_product_erc_free(txn, code, Some(id)).await?;
                }
                row.external_reference_code = Set(code.clone().map(ExternalReferenceCode::into_inner));
            }
            if let Some(Some(estimate_id)) = changes.availability_estimate_id {
                super::estimates::find_estimate(txn, estimate_id).await.map_err(|err| err.with_field("availabilityEstimateId"))?;
            }
            if let Some(estimate_id) = changes.availability_estimate_id {
                row.availability_estimate_id = Set(estimate_id);
            }
            row.updated_at = Set(now());
            let erc = changes.external_reference_code.flatten();
            row.update(txn).await.map_err(|err| duplicate_product_erc(err, erc.as_ref()))
        })
    })
    .await
}

async fn ensure_product_erc_free(
    conn: &impl ConnectionTrait,
    code: &ExternalReferenceCode,
    except_id: Option<i64>,
) -> Result<()> {
    match find_product_by_erc(conn, code.as_str()).await? {
        Some(other) if Some(other.id) != except_id => Err(Error::field(
            ErrorCode::Duplicate,
            "externalReferenceCode",
            format!(
                "a product with externalReferenceCode {:?} already exists",
                code.as_str()
            ),
        )),
        _ => Ok(()),
    }
}

fn duplicate_product_erc(err: sea_orm::DbErr, code: Option<&ExternalReferenceCode>) -> Error {
    let code = code.map(|c| c.as_str().to_owned()).unwrap_or_default();
    map_unique_violation(err, "externalReferenceCode", || {
        format!("a product with externalReferenceCode {code:?} already exists")
    })
}

/// Creates a SKU of an existing product.
pub async fn create_sku(db: &Db, input: NewSku) -> Result<sku::Model> {
    db.write(|txn| {
        let input = input.clone();
        Box::pin(async move { insert_sku(txn, &input).await })
    })
    .await
}

/// Inserts a SKU inside a caller's transaction.
pub async fn insert_sku(conn: &impl ConnectionTrait, input: &NewSku) -> Result<sku::Model> {
    find_product(conn, input.product_id)
        .await
        .map_err(|err| err.with_field("productId"))?;
    ensure_sku_code_free(conn, &input.code, None).await?;
    let time = now();
    sku::ActiveModel {
        product_id: Set(input.product_id),
        code: Set(input.code.as_str().to_owned()),
        code_key: Set(input.code.key()),
        published: Set(input.published),
        purchasable: Set(input.purchasable),
        created_at: Set(time),
        updated_at: Set(time),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|err| duplicate_sku(err, &input.code))
}

/// Updates a SKU's code or flags.
pub async fn update_sku(db: &Db, id: i64, changes: SkuChanges) -> Result<sku::Model> {
    db.write(|txn| {
        let changes = changes.clone();
        Box::pin(async move {
            let current = find_sku_by_id(txn, id).await?;
            let mut row: sku::ActiveModel = current.into();
            if let Some(code) = &changes.code {
                ensure_sku_code_free(txn, code, Some(id)).await?;
                row.code = Set(code.as_str().to_owned());
                row.code_key = Set(code.key());
            }
            if let Some(published) = changes.published {
                row.published = Set(published);
            }
            if let Some(purchasable) = changes.purchasable {
                row.purchasable = Set(purchasable);
            }
            row.updated_at = Set(now());
            let result = row.update(txn).await;
            match &changes.code {
                Some(code) => result.map_err(|err| duplicate_sku(err, code)),
                None => Ok(result?),
            }
        })
    })
    .await
}

async fn ensure_sku_code_free(
    conn: &impl ConnectionTrait,
    code: &SkuCode,
    except_id: Option<i64>,
) -> Result<()> {
    match find_sku_or_none(conn, code).await? {
        Some(other) if Some(other.id) != except_id => Err(Error::field(
            ErrorCode::Duplicate,
            "code",
            format!(
                "SKU {:?} already exists as {:?}: SKU codes are unique regardless of letter case and surrounding spaces",
                code.as_str(),
                other.code
            ),
        )),
        _ => Ok(()),
    }
}

fn duplicate_sku(err: sea_orm::DbErr, code: &SkuCode) -> Error {
    map_unique_violation(err, "code", || format!("SKU {:?} already exists", code.as_str()))
}

/// Reads a product's inventory settings, or the defaults when none are stored.
pub async fn inventory_configuration(
    conn: &impl ConnectionTrait,
    product_id: i64,
) -> Result<InventoryConfiguration> {
    Ok(config::Entity::find_by_id(product_id)
        .one(conn)
        .await?
        .map(|model| InventoryConfiguration::from_model(&model))
        .unwrap_or_default())
}

/// Reads the settings of many products in one query; products without a row are missing.
pub async fn inventory_configurations(
    conn: &impl ConnectionTrait,
    product_ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, InventoryConfiguration>> {
    let ids: Vec<i64> = product_ids.into_iter().collect();
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        for model in config::Entity::find()
            .filter(config::Column::ProductId.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            found.insert(model.product_id, InventoryConfiguration::from_model(&model));
        }
    }
    Ok(found)
}

/// Applies changes to a product's inventory settings, checking the result as a whole.
pub async fn set_inventory_configuration(
    db: &Db,
    product_id: i64,
    changes: ConfigurationChanges,
) -> Result<InventoryConfiguration> {
    db.write(|txn| {
        let changes = changes.clone();
        let activities = db.activities();
        Box::pin(async move { store_inventory_configuration(txn, &activities, product_id, changes).await })
    })
    .await
}

/// Applies changes to a product's inventory settings inside a caller's transaction.
pub async fn store_inventory_configuration(
    conn: &impl ConnectionTrait,
    activities: &ActivityRegistry,
    product_id: i64,
    changes: ConfigurationChanges,
) -> Result<InventoryConfiguration> {
    find_product(conn, product_id).await.map_err(|err| err.with_field("productId"))?;
    let existing = config::Entity::find_by_id(product_id).one(conn).await?;
    let mut settings =
        existing.as_ref().map(InventoryConfiguration::from_model).unwrap_or_default();

    if let Some(value) = changes.min_stock_quantity {
        settings.min_stock_quantity = value;
    }
    if let Some(value) = changes.low_stock_activity {
        settings.low_stock_activity = value;
    }
    if let Some(value) = changes.allow_back_orders {
        settings.allow_back_orders = value;
    }
    if let Some(value) = changes.display_availability {
        settings.display_availability = value;
    }
    if let Some(value) = changes.display_stock_quantity {
        settings.display_stock_quantity = value;
    }
    if let Some(value) = changes.min_order_quantity {
        settings.min_order_quantity = value;
    }
    if let Some(value) = changes.max_order_quantity {
        settings.max_order_quantity = value;
    }
    if let Some(value) = changes.multiple_order_quantity {
        settings.multiple_order_quantity = value;
    }
    if let Some(value) = changes.allowed_order_quantities {
        settings.allowed_order_quantities = value;
    }
    let settings = settings.validate(activities)?;
    events::touch_product(product_id);

    let row = config::ActiveModel {
        product_id: Set(product_id),
        min_stock_quantity: Set(settings.min_stock_quantity),
        low_stock_activity: Set(settings.low_stock_activity.clone()),
        allow_back_orders: Set(settings.allow_back_orders),
        display_availability: Set(settings.display_availability),
        display_stock_quantity: Set(settings.display_stock_quantity),
        min_order_quantity: Set(settings.min_order_quantity),
        max_order_quantity: Set(settings.max_order_quantity),
        multiple_order_quantity: Set(settings.multiple_order_quantity),
        allowed_order_quantities: Set(serde_json::json!(settings.allowed_order_quantities)),
        updated_at: Set(now()),
    };
    if existing.is_some() {
        row.update(conn).await?;
    } else {
        row.insert(conn).await?;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(InventoryConfiguration::default().validate(&ActivityRegistry::default()).is_ok());
    }

    #[test]
    fn max_below_min_is_rejected() {
        let settings = InventoryConfiguration {
            min_order_quantity: 5,
            max_order_quantity: 4,
            ..Default::default()
        };
        let err = settings.validate(&ActivityRegistry::default()).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidInput));
    }

    #[test]
    fn allowed_quantities_are_sorted_and_unique() {
        let settings = InventoryConfiguration {
            allowed_order_quantities: vec![12, 6, 12],
            ..Default::default()
        };
        assert_eq!(settings.validate(&ActivityRegistry::default()).unwrap().allowed_order_quantities, vec![6, 12]);
    }

    #[test]
    fn unknown_activity_is_rejected() {
        let settings = InventoryConfiguration {
            low_stock_activity: Some("explode".into()),
            ..Default::default()
        };
        assert!(settings.validate(&ActivityRegistry::default()).is_err());
    }
}
