//! Tariffs: named energy prices an operator assigns to stations and chargers (which price applies
//! to a session is `charging::price_for`).

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::models::Tariff;
use crate::db::schema::tariffs;
use crate::db::{DbConnection, now};
use crate::error::AppError;
use crate::money::Major;
use crate::ocpp::messages::format_timestamp;

/// The highest price per kWh (minor units: 100,000.00 in major units).
pub const MAX_PRICE: i64 = 10_000_000;

/// A tariff as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TariffView {
    pub id: i64,
    pub name: String,
    /// Major units per kWh
    #[schema(value_type = f64)]
    pub price_per_kwh: Major,
    pub created_at: String,
}

impl From<Tariff> for TariffView {
    fn from(t: Tariff) -> Self {
        TariffView {
            id: t.id,
            name: t.name,
            price_per_kwh: Major(t.price_per_kwh),
            created_at: format_timestamp(t.created_at),
        }
    }
}

/// A price in minor units per kWh, or 400.
pub fn valid_price(price: Option<i64>) -> Result<i64, AppError> {
    price.filter(|p| *p <= MAX_PRICE).ok_or_else(|| {
        AppError::bad_request("pricePerKwh must be a non-negative amount with at most 2 decimals")
    })
}

pub fn create(
    c: &mut DbConnection,
    name: &str,
    price_per_kwh: i64,
) -> Result<TariffView, AppError> {
    let id: i64 = diesel::insert_into(tariffs::table)
        .values((
            tariffs::name.eq(name),
            tariffs::price_per_kwh.eq(price_per_kwh),
            tariffs::created_at.eq(now()),
        ))
        .returning(tariffs::id)
        .get_result(c)?;
    Ok(tariffs::table
        .find(id)
        .select(Tariff::as_select())
        .first(c)?
        .into())
}

pub fn list(c: &mut DbConnection) -> Result<Vec<TariffView>, AppError> {
    Ok(tariffs::table
        .order(tariffs::id)
        .select(Tariff::as_select())
        .load(c)?
        .into_iter()
        .map(TariffView::from)
        .collect())
}
