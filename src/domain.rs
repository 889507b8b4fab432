//! Input values parsed at the API boundary into types that cannot hold invalid values.
//!
//! Each `parse` takes the client's field name, so its error names the field, the rejected value
//! and the accepted range. Services take these types and never see raw strings or counts.

use crate::error::{Error, Result};

/// The largest quantity Stockroom accepts or stores: one billion units.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// The longest name, code or external reference code, in characters.
pub const MAX_TEXT_LENGTH: usize = 255;

/// A number of units from 0 to [`MAX_QUANTITY`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i64);

impl Quantity {
    /// Parses a quantity that may be zero.
    pub fn parse(field: &str, value: i64) -> Result<Quantity> {
        if !(0..=MAX_QUANTITY).contains(&value) {
            return Err(Error::invalid(
                field,
                format!("{field} must be between 0 and {MAX_QUANTITY}, got {value}"),
            ));
        }
        Ok(Quantity(value))
    }

    /// Parses a quantity that must be at least one unit.
    pub fn parse_positive(field: &str, value: i64) -> Result<Quantity> {
        if !(1..=MAX_QUANTITY).contains(&value) {
            return Err(Error::invalid(
                field,
                format!("{field} must be between 1 and {MAX_QUANTITY}, got {value}"),
            ));
        }
        Ok(Quantity(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A non-zero change of a quantity, at most [`MAX_QUANTITY`] either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delta(i64);

impl Delta {
    pub fn parse(field: &str, value: i64) -> Result<Delta> {
        if value == 0 {
            return Err(Error::invalid(
                field,
                format!("{field} must not be 0: send a positive delta to add stock or a negative one to remove it"),
            ));
        }
        if value.abs() > MAX_QUANTITY {
            return Err(Error::invalid(
                field,
                format!("{field} must be between -{MAX_QUANTITY} and {MAX_QUANTITY}, got {value}"),
            ));
        }
        Ok(Delta(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A SKU code: trimmed, 1 to 255 characters. Two codes that differ only in letter case are
/// the same SKU, so lookups and the unique index use [`SkuCode::key`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SkuCode(String);

impl SkuCode {
    pub fn parse(field: &str, value: &str) -> Result<SkuCode> {
        Ok(SkuCode(parse_text(field, "SKU code", value)?))
    }

    /// The code as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive lookup key.
    pub fn key(&self) -> String {
        key_of(&self.0)
    }
}

/// The lookup key of a stored or requested SKU code.
pub fn key_of(code: &str) -> String {
    code.trim().to_lowercase()
}

/// A required name: trimmed, 1 to 255 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(field: &str, value: &str) -> Result<Name> {
        Ok(Name(parse_text(field, "name", value)?))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An external reference code: trimmed, 1 to 255 characters, unique per entity type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalReferenceCode(String);

impl ExternalReferenceCode {
    pub fn parse(field: &str, value: &str) -> Result<ExternalReferenceCode> {
        Ok(ExternalReferenceCode(parse_text(field, "external reference code", value)?))
    }

    /// Parses an optional code; an empty or blank string means none.
    pub fn parse_optional(field: &str, value: Option<&str>) -> Result<Option<ExternalReferenceCode>> {
        match value {
            Some(text) if !text.trim().is_empty() => Ok(Some(Self::parse(field, text)?)),
            _ => Ok(None),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Optional free text such as a street or a description: trimmed, empty means none.
pub fn parse_optional_text(field: &str, value: Option<&str>, max_chars: usize) -> Result<Option<String>> {
    let Some(text) = value.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    // PostgreSQL text cannot store U+0000; line breaks and tabs are fine in free text.
    if text.contains('\0') {
        return Err(Error::invalid(field, format!("{field} contains a NUL character (U+0000): remove it")));
    }
    let length = text.chars().count();
    if length > max_chars {
        return Err(Error::invalid(
            field,
            format!("{field} must be at most {max_chars} characters, got {length}"),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// Parses required text: trimmed, 1 to 255 characters. `what` names it in the message.
pub fn parse_text(field: &str, what: &str, value: &str) -> Result<String> {
    let trimmed = value.trim();
    if let Some(bad) = trimmed.chars().find(|c| c.is_control()) {
        return Err(Error::invalid(
            field,
            format!("{field} contains the control character U+{:04X}: a {what} may hold only printable characters", bad as u32),
        ));
    }
    if trimmed.is_empty() {
        return Err(Error::invalid(field, format!("{field} is empty: a {what} needs 1 to {MAX_TEXT_LENGTH} characters")));
    }
    let length = trimmed.chars().count();
    if length > MAX_TEXT_LENGTH {
        return Err(Error::invalid(
            field,
            format!("{field} is {length} characters long: a {what} may have at most {MAX_TEXT_LENGTH}"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// An ISO 3166-1 alpha-2 country code, stored in upper case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(field: &str, value: &str) -> Result<CountryCode> {
        let code = value.trim().to_ascii_uppercase();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::invalid(
                field,
                format!("{field} must be an ISO 3166-1 alpha-2 code such as \"US\" or \"IT\", got {value:?}"),
            ));
        }
        Ok(CountryCode(code))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A latitude and longitude in degrees, both in range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    /// Parses a pair that must be given together: both or neither.
    pub fn parse(latitude: Option<f64>, longitude: Option<f64>) -> Result<Option<Coordinates>> {
        match (latitude, longitude) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(Error::invalid(
                "longitude",
                "longitude is missing: give latitude and longitude together, or neither",
            )),
            (None, Some(_)) => Err(Error::invalid(
                "latitude",
                "latitude is missing: give latitude and longitude together, or neither",
            )),
            (Some(latitude), Some(longitude)) => {
                if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
                    return Err(Error::invalid(
                        "latitude",
                        format!("latitude must be between -90 and 90 degrees, got {latitude}"),
                    ));
                }
                if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
                    return Err(Error::invalid(
                        "longitude",
                        format!("longitude must be between -180 and 180 degrees, got {longitude}"),
                    ));
                }
                Ok(Some(Coordinates { latitude, longitude }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_bounds() {
        assert!(Quantity::parse("onHand", 0).is_ok());
        assert!(Quantity::parse("onHand", MAX_QUANTITY).is_ok());
        assert!(Quantity::parse("onHand", -1).is_err());
        assert!(Quantity::parse("onHand", MAX_QUANTITY + 1).is_err());
        assert!(Quantity::parse_positive("quantity", 0).is_err());
    }

    #[test]
    fn delta_rejects_zero_and_huge() {
        assert!(Delta::parse("delta", 0).is_err());
        assert!(Delta::parse("delta", -MAX_QUANTITY).is_ok());
        assert!(Delta::parse("delta", 1 << 31).is_err());
    }

    #[test]
    fn sku_code_trims_and_folds_case() {
        let a = SkuCode::parse("sku", " ABC-1 ").unwrap();
        let b = SkuCode::parse("sku", "abc-1").unwrap();
        assert_eq!(a.as_str(), "ABC-1");
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn control_characters_are_rejected() {
        assert!(Name::parse("name", "Web\u{0}store").is_err());
        assert!(SkuCode::parse("code", "A\u{7}1").is_err());
        assert!(parse_optional_text("reason", Some("a\u{0}b"), 100).is_err());
        assert!(parse_optional_text("reason", Some("line one\nline two"), 100).is_ok());
    }

    #[test]
    fn sku_code_length() {
        assert!(SkuCode::parse("sku", "   ").is_err());
        assert!(SkuCode::parse("sku", &"x".repeat(255)).is_ok());
        assert!(SkuCode::parse("sku", &"x".repeat(256)).is_err());
    }

    #[test]
    fn coordinates_pairs_and_ranges() {
        assert!(Coordinates::parse(None, None).unwrap().is_none());
        assert!(Coordinates::parse(Some(1.0), None).is_err());
        assert!(Coordinates::parse(Some(90.5), Some(0.0)).is_err());
        assert!(Coordinates::parse(Some(0.0), Some(-180.1)).is_err());
        assert!(Coordinates::parse(Some(f64::NAN), Some(0.0)).is_err());
        assert!(Coordinates::parse(Some(-90.0), Some(180.0)).unwrap().is_some());
    }

    #[test]
    fn country_code_shape() {
        assert_eq!(CountryCode::parse("countryCode", "it").unwrap().into_inner(), "IT");
        assert!(CountryCode::parse("countryCode", "ITA").is_err());
        assert!(CountryCode::parse("countryCode", "1A").is_err());
    }
}
