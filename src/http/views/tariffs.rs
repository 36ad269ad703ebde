//! Tariffs as the API shows them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::money::Major;
use crate::infra::db::models::Tariff;

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
            created_at: crate::http::timestamp(t.created_at),
        }
    }
}
