//! Request bodies as they arrive: the [`Body`] extractor, and [`Field`], one field read as it was
//! sent so that a body struct's `validate` refuses it with that field's own message. Each body is
//! one `Deserialize + ToSchema` struct (the OpenAPI schema is the struct the handler reads), and
//! its `validate` turns it into the domain's request: a handler never sees an unchecked value.

use actix_web::web;
use serde::{Deserialize, Deserializer};

use crate::error::AppError;

/// A JSON request body that must be an object (an array or a scalar is 400, like a body that does
/// not parse), read as `T`. Numbers with no fractional part (`5.0`) count as integers, as JSON
/// Schema says they are. A field `T` does not know is refused (400) where `T` denies unknown
/// fields, as every request body does.
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let web::Json(mut value) = json.await?;
            if !value.is_object() {
                return Err(
                    AppError::bad_request("Invalid JSON body: expected a JSON object").into(),
                );
            }
            integral_numbers(&mut value);
            serde_json::from_value(value)
                .map(Body)
                .map_err(|e| AppError::bad_request(format!("Invalid JSON body: {e}")).into())
        })
    }
}

impl<T> std::ops::Deref for Body<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Turns `5.0` into `5` throughout a JSON value (within ±2^53, where f64 is exact).
fn integral_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() <= 9_007_199_254_740_992.0
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// One field of a request body as it was sent: left out, `null`, a `T`, or a value of another JSON
/// type. Declared `#[serde(default)]` (left out is [`Field::Absent`]) with the schema of `T`
/// (`#[schema(value_type = ..)]`); reading it never fails, so the body's `validate` gives the
/// field's own message ("deviceId is required", "address must be a string") rather than a parser's.
#[derive(Debug, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Given(T),
    /// Another JSON type, or a number out of `T`'s range.
    Wrong,
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if value.is_null() {
            return Ok(Field::Null);
        }
        Ok(serde_json::from_value(value).map_or(Field::Wrong, Field::Given))
    }
}

impl<T> Field<T> {
    /// The value when one of type `T` was sent.
    pub fn given(self) -> Option<T> {
        match self {
            Field::Given(v) => Some(v),
            _ => None,
        }
    }
}

impl Field<String> {
    /// Required text, trimmed: left out, null, not a string or only white space is
    /// "`{name}` is required".
    pub fn required(self, name: &str) -> Result<String, AppError> {
        self.given()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AppError::bad_request(format!("{name} is required")))
    }

    /// Optional text as sent: left out or null is `None`; another type is "`{name}` must be a
    /// string".
    pub fn optional(self, name: &str) -> Result<Option<String>, AppError> {
        match self {
            Field::Absent | Field::Null => Ok(None),
            Field::Given(s) => Ok(Some(s)),
            Field::Wrong => Err(AppError::bad_request(format!("{name} must be a string"))),
        }
    }

    /// Text that may be removed: left out is `None` (unchanged), null is `Some(None)` (remove it),
    /// another type is "`{name}` must be a string".
    pub fn nullable(self, name: &str) -> Result<Option<Option<String>>, AppError> {
        match self {
            Field::Absent => Ok(None),
            Field::Null => Ok(Some(None)),
            Field::Given(s) => Ok(Some(Some(s))),
            Field::Wrong => Err(AppError::bad_request(format!("{name} must be a string"))),
        }
    }
}

impl Field<i64> {
    /// An optional id: left out or null is `None`; anything but a positive integer is "`{name}`
    /// must be a positive integer".
    pub fn optional_id(self, name: &str) -> Result<Option<i64>, AppError> {
        match self {
            Field::Absent | Field::Null => Ok(None),
            Field::Given(n) if n > 0 => Ok(Some(n)),
            _ => Err(AppError::bad_request(format!(
                "{name} must be a positive integer"
            ))),
        }
    }
}

/// An amount in major units as sent: a JSON number (`50`, `50.25`), or a string holding one
/// (`"50.25"`, as a form field gives it).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Number(serde_json::Number),
    Text(String),
}

impl Field<Amount> {
    /// Minor units, when an amount with at most 2 decimals and not negative was sent.
    pub fn minor(self) -> Option<i64> {
        match self.given()? {
            Amount::Number(n) => crate::domain::money::parse_number(&n),
            Amount::Text(s) => crate::domain::money::parse_str(&s),
        }
    }
}
