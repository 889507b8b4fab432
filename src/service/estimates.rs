//! Availability estimates: localized texts such as "3-5 days" shown to shoppers while a product
//! is unavailable.

use std::collections::BTreeMap;

use entity::{availability_estimate as estimate, product};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, Set,
    sea_query::Expr,
};

use super::now;
use crate::{
    db::Db,
    domain::MAX_TEXT_LENGTH,
    error::{Error, ErrorCode, Result},
};

/// The locale used when a title has no text for the requested locale or its language.
pub const DEFAULT_LOCALE: &str = "en_US";

/// Localized titles keyed by locale, such as `en_US` or `it`.
pub type Titles = BTreeMap<String, String>;

/// Checks titles: at least one, locales shaped `ll` or `ll_CC`, texts of 1 to 255 characters.
pub fn validate_titles(titles: &Titles) -> Result<()> {
    if titles.is_empty() {
        return Err(Error::invalid("titles", "title is empty: give at least one localized text, such as en_US"));
    }
    for (locale, text) in titles {
        if !is_locale(locale) {
            return Err(Error::invalid(
                "titles",
                format!("locale {locale:?} is invalid: use a language code with an optional country, such as \"en\" or \"en_US\""),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(Error::invalid("titles", format!("the {locale} title contains a control character: use printable text")));
        }
        let length = text.trim().chars().count();
        if length == 0 || length > MAX_TEXT_LENGTH {
            return Err(Error::invalid(
                "titles",
                format!("the {locale} title has {length} characters: give 1 to {MAX_TEXT_LENGTH}"),
            ));
        }
    }
    Ok(())
}

fn is_locale(text: &str) -> bool {
    let (language, country) = match text.split_once('_') {
        Some((language, country)) => (language, Some(country)),
        None => (text, None),
    };
    let language_ok = (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase());
    let country_ok = country.is_none_or(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
    language_ok && country_ok
}

/// Reads the stored titles of an estimate.
pub fn titles_of(model: &estimate::Model) -> Titles {
    // The column is only written from validated titles.
    serde_json::from_value(model.title.clone()).unwrap_or_default()
}

/// Picks the title for `locale`: the exact locale, then its language (`en` for `en_GB`), then
/// another locale of that language, then [`DEFAULT_LOCALE`], then the first stored one.
pub fn localized<'a>(titles: &'a Titles, locale: Option<&str>) -> Option<&'a str> {
    if let Some(locale) = locale {
        if let Some(text) = titles.get(locale) {
            return Some(text);
        }
        let language = locale.split('_').next().unwrap_or(locale);
        if let Some(text) = titles.get(language) {
            return Some(text);
        }
        let prefix = format!("{language}_");
        if let Some((_, text)) = titles.iter().find(|(key, _)| key.starts_with(&prefix)) {
            return Some(text);
        }
    }
    titles.get(DEFAULT_LOCALE).or_else(|| titles.values().next()).map(String::as_str)
}

/// All estimates by priority, then id.
pub fn select_estimates() -> Select<estimate::Entity> {
    estimate::Entity::find().order_by_asc(estimate::Column::Priority).order_by_asc(estimate::Column::Id)
}

/// Finds an estimate by id.
pub async fn find_estimate(conn: &impl ConnectionTrait, id: i64) -> Result<estimate::Model> {
    estimate::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("id", format!("availability estimate {id} not found")))
}

/// Creates an estimate.
pub async fn create_estimate(db: &Db, titles: Titles, priority: i32) -> Result<estimate::Model> {
    validate_titles(&titles)?;
    db.write(|txn| {
        let titles = titles.clone();
        Box::pin(async move { insert_estimate(txn, &titles, priority).await })
    })
    .await
}

/// Inserts an estimate inside a caller's transaction.
pub async fn insert_estimate(conn: &impl ConnectionTrait, titles: &Titles, priority: i32) -> Result<estimate::Model> {
    validate_titles(titles)?;
    let time = now();
    let trimmed: Titles = titles.iter().map(|(k, v)| (k.clone(), v.trim().to_owned())).collect();
    Ok(estimate::ActiveModel {
        title: Set(serde_json::json!(trimmed)),
        priority: Set(priority),
        created_at: Set(time),
        updated_at: Set(time),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// Changes an estimate's titles (replacing all of them) or priority.
pub async fn update_estimate(db: &Db, id: i64, titles: Option<Titles>, priority: Option<i32>) -> Result<estimate::Model> {
    if let Some(titles) = &titles {
        validate_titles(titles)?;
    }
    db.write(|txn| {
        let titles = titles.clone();
        Box::pin(async move {
            let current = find_estimate(txn, id).await?;
            let mut row: estimate::ActiveModel = current.into();
            if let Some(titles) = titles {
                let trimmed: Titles = titles.into_iter().map(|(k, v)| (k, v.trim().to_owned())).collect();
                row.title = Set(serde_json::json!(trimmed));
            }
            if let Some(priority) = priority {
                row.priority = Set(priority);
            }
            row.updated_at = Set(now());
            Ok(row.update(txn).await?)
        })
    })
    .await
}

/// Deletes an estimate. While products point to it, the deletion is rejected with `CONFLICT`
/// naming them, unless `unlink_products` is set: then those products lose their estimate.
pub async fn delete_estimate(db: &Db, id: i64, unlink_products: bool) -> Result<estimate::Model> {
    db.write(|txn| {
        Box::pin(async move {
            let current = find_estimate(txn, id).await?;
            let users: Vec<(i64, String)> = product::Entity::find()
                .select_only()
                .column(product::Column::Id)
                .column(product::Column::Name)
                .filter(product::Column::AvailabilityEstimateId.eq(id))
                .order_by_asc(product::Column::Id)
                .into_tuple()
                .all(txn)
                .await?;
            if !users.is_empty() && !unlink_products {
                let names: Vec<String> = users.iter().take(5).map(|(id, name)| format!("{name:?} ({id})")).collect();
                let more = if users.len() > 5 { format!(" and {} more", users.len() - 5) } else { String::new() };
                return Err(Error::field(
                    ErrorCode::Conflict,
                    "id",
                    format!(
                        "availability estimate {id} is used by {} products ({}{more}): set unlinkProducts to remove it from them, or give them another estimate first",
                        users.len(),
                        names.join(", ")
                    ),
                )
                .with_detail("productCount", users.len()));
            }
            if !users.is_empty() {
                product::Entity::update_many()
                    .col_expr(product::Column::AvailabilityEstimateId, Expr::value(Option::<i64>::None))
                    .col_expr(product::Column::UpdatedAt, Expr::value(now()))
                    .filter(product::Column::AvailabilityEstimateId.eq(id))
                    .exec(txn)
                    .await?;
            }
            current.clone().delete(txn).await?;
            Ok(current)
        })
    })
    .await
}

/// Points a product at an estimate, or at none.
pub async fn set_product_estimate(db: &Db, product_id: i64, estimate_id: Option<i64>) -> Result<product::Model> {
    db.write(|txn| Box::pin(async move { link_product(txn, product_id, estimate_id).await })).await
}

/// Points a product at an estimate inside a caller's transaction; a no-op when unchanged.
pub async fn link_product(conn: &impl ConnectionTrait, product_id: i64, estimate_id: Option<i64>) -> Result<product::Model> {
    let product = super::catalog::find_product(conn, product_id).await.map_err(|err| err.with_field("productId"))?;
    if let Some(estimate_id) = estimate_id {
        find_estimate(conn, estimate_id).await.map_err(|err| err.with_field("availabilityEstimateId"))?;
    }
    if product.availability_estimate_id == estimate_id {
        return Ok(product);
    }
    let mut row: product::ActiveModel = product.into();
    row.availability_estimate_id = Set(estimate_id);
    row.updated_at = Set(now());
    Ok(row.update(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(pairs: &[(&str, &str)]) -> Titles {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn localized_prefers_exact_then_language_then_default() {
        let all = titles(&[("en_US", "3-5 days"), ("it_IT", "3-5 giorni"), ("de", "3-5 Tage")]);
        assert_eq!(localized(&all, Some("it_IT")), Some("3-5 giorni"));
        assert_eq!(localized(&all, Some("de_AT")), Some("3-5 Tage"));
        assert_eq!(localized(&all, Some("it_CH")), Some("3-5 giorni"));
        assert_eq!(localized(&all, Some("fr_FR")), Some("3-5 days"));
        assert_eq!(localized(&all, None), Some("3-5 days"));
    }

    #[test]
    fn locale_shapes() {
        assert!(validate_titles(&titles(&[("en_US", "x")])).is_ok());
        assert!(validate_titles(&titles(&[("en", "x")])).is_ok());
        assert!(validate_titles(&titles(&[("EN", "x")])).is_err());
        assert!(validate_titles(&titles(&[("en-US", "x")])).is_err());
        assert!(validate_titles(&titles(&[("en_US", " ")])).is_err());
        assert!(validate_titles(&Titles::new()).is_err());
    }
}
