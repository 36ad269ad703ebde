//! Stations as the operator API shows them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::infra::db::models::Station;

/// A station as the operator API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StationView {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub tariff_id: Option<i64>,
    pub created_at: String,
}

impl From<Station> for StationView {
    fn from(s: Station) -> Self {
        StationView {
            id: s.id,
            name: s.name,
            address: s.address,
            tariff_id: s.tariff_id,
            created_at: crate::http::timestamp(s.created_at),
        }
    }
}
