//! Tariffs as the API shows them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::models::Tariff;
use crate::money::Major;

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
            created_at: crate::api::timestamp(t.created_at),
        }
    }
}
