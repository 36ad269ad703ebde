//! Tariffs: named energy prices an operator assigns to stations and chargers (which price applies
//! to a session is `charging::price_for`).

use diesel::prelude::*;

use crate::error::AppError;
use crate::infra::db::models::Tariff;
use crate::infra::db::schema::tariffs;
use crate::infra::db::{DbConnection, now};

/// The highest price per kWh (minor units: 100,000.00 in major units).
pub const MAX_PRICE: i64 = 10_000_000;

/// A price in minor units per kWh, or 400.
pub fn valid_price(price: Option<i64>) -> Result<i64, AppError> {
    price.filter(|p| *p <= MAX_PRICE).ok_or_else(|| {
        AppError::bad_request("pricePerKwh must be a non-negative amount with at most 2 decimals")
    })
}

pub fn create(c: &mut DbConnection, name: &str, price_per_kwh: i64) -> Result<Tariff, AppError> {
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
        .first(c)?)
}

pub fn list(c: &mut DbConnection) -> Result<Vec<Tariff>, AppError> {
    Ok(tariffs::table
        .order(tariffs::id)
        .select(Tariff::as_select())
        .load(c)?)
}
