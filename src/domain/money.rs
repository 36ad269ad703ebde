//! Money: integer minor units (paise) inside, decimal major units (rupees, at most 2 decimals) outside.

use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Parses a decimal text such as `"50"`, `"50.5"` or `"50.25"` into minor units.
/// `None` for negative values, more than 2 decimals, exponents, or anything that is not a number.
pub fn parse_str(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || text.contains(['e', 'E']) {
        return None;
    }
    let d = Decimal::from_str_exact(text).ok()?;
    if d.is_sign_negative() && !d.is_zero() {
        return None;
    }
    if d.normalize().scale() > 2 {
        return None;
    }
    (d * Decimal::from(100)).trunc().to_i64()
}

/// Parses a JSON amount (a number, or a string holding one) into minor units.
pub fn parse_json(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => parse_number(n),
        serde_json::Value::String(s) => parse_str(s),
        _ => None,
    }
}

/// Parses a JSON number into minor units, as [`parse_str`] parses its text.
pub fn parse_number(n: &serde_json::Number) -> Option<i64> {
    // serde_json prints the shortest text that reads back as the same f64, so 50.1 stays "50.1".
    let text = n.to_string();
    let text = text.strip_suffix(".0").unwrap_or(&text);
    parse_str(text)
}

/// Minor units as a JSON number in major units (5050 → 50.5).
pub fn to_major(minor: i64) -> serde_json::Value {
    let d = Decimal::new(minor, 2);
    serde_json::Number::from_str(&d.normalize().to_string())
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

/// Minor units as text in major units with both decimals, for a display (5050 → "50.50").
pub fn display(minor: i64) -> String {
    Decimal::new(minor, 2).to_string()
}

/// Minor units that serialize as [`to_major`] does: a JSON number in major units. In OpenAPI
/// schemas, fields of this type are declared `#[schema(value_type = f64)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Major(pub i64);

impl serde::Serialize for Major {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&to_major(self.0), s)
    }
}

/// Cost of `energy_wh` at `price_per_kwh` minor units, rounded half up to the minor unit.
pub fn energy_cost(energy_wh: i64, price_per_kwh: i64) -> i64 {
    let wh = i128::from(energy_wh.max(0));
    let cost = (wh * i128::from(price_per_kwh) + 500) / 1000;
    i64::try_from(cost).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_keeps_both_decimals() {
        assert_eq!(display(5050), "50.50");
        assert_eq!(display(0), "0.00");
        assert_eq!(display(7), "0.07");
        assert_eq!(display(123456), "1234.56");
    }
    use serde_json::json;

    #[test]
    fn parses_amounts() {
        assert_eq!(parse_json(&json!(50)), Some(5000));
        assert_eq!(parse_json(&json!(50.5)), Some(5050));
        assert_eq!(parse_json(&json!(0.01)), Some(1));
        assert_eq!(parse_json(&json!(50.25)), Some(5025));
        assert_eq!(parse_json(&json!("12.30")), Some(1230));
        assert_eq!(parse_json(&json!(1.005)), None);
        assert_eq!(parse_json(&json!(-1)), None);
        assert_eq!(parse_json(&json!("abc")), None);
        assert_eq!(parse_json(&json!(1e30)), None);
        assert_eq!(parse_json(&json!(null)), None);
        assert_eq!(parse_json(&json!(true)), None);
        assert_eq!(parse_str("1e3"), None);
        assert_eq!(parse_str("0"), Some(0));
    }

    #[test]
    fn formats_and_prices() {
        assert_eq!(to_major(5050), json!(50.5));
        assert_eq!(to_major(10000), json!(100));
        assert_eq!(to_major(1), json!(0.01));
        assert_eq!(energy_cost(1000, 1500), 1500);
        assert_eq!(energy_cost(1, 1500), 2); // 1.5 paise rounds half up
        assert_eq!(energy_cost(-5, 1500), 0);
    }
}
