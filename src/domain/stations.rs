//! Stations: the sites chargers belong to, with an optional tariff for all their chargers; and the
//! station list customers choose a charger from.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::chargers::{check_tariff, connectors_of};
use crate::domain::charging::status::SessionStatus;
use crate::domain::money::Major;
use crate::error::AppError;
use crate::infra::db::models::{Charger, Connector};
use crate::infra::db::schema::{chargers, charging_sessions, connectors, stations};
use crate::infra::db::{DbConnection, now};
use crate::infra::timestamps;

/// A station as the operator API shows it.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = stations)]
#[serde(rename_all = "camelCase")]
#[schema(as = StationView)]
pub struct Station {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub tariff_id: Option<i64>,
    #[serde(serialize_with = "timestamps::serialize")]
    #[schema(value_type = String)]
    pub created_at: NaiveDateTime,
}

pub struct NewStation {
    pub name: String,
    pub address: Option<String>,
    pub tariff_id: Option<i64>,
}

fn load(c: &mut DbConnection, id: i64) -> Result<Station, AppError> {
    Ok(stations::table
        .find(id)
        .select(Station::as_select())
        .first(c)?)
}

/// Creates a station; 404 when its tariff does not exist.
pub fn create(c: &mut DbConnection, new: NewStation) -> Result<Station, AppError> {
    check_tariff(c, new.tariff_id)?;
    let id: i64 = diesel::insert_into(stations::table)
        .values((
            stations::name.eq(new.name),
            stations::address.eq(new.address),
            stations::tariff_id.eq(new.tariff_id),
            stations::created_at.eq(now()),
        ))
        .returning(stations::id)
        .get_result(c)?;
    load(c, id)
}

pub fn list(c: &mut DbConnection) -> Result<Vec<Station>, AppError> {
    Ok(stations::table
        .order(stations::id)
        .select(Station::as_select())
        .load(c)?)
}

/// Sets (or with `None` removes) the station's tariff.
pub fn assign_tariff(
    c: &mut DbConnection,
    id: i64,
    tariff_id: Option<i64>,
) -> Result<Station, AppError> {
    check_tariff(c, tariff_id)?;
    let n = diesel::update(stations::table.find(id))
        .set(stations::tariff_id.eq(tariff_id))
        .execute(c)?;
    if n == 0 {
        return Err(AppError::NotFound("Station not found".into()));
    }
    load(c, id)
}

/// A station in the customers' list.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicStation {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub chargers: Vec<PublicCharger>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicCharger {
    pub device_id: String,
    pub charging_point_id: String,
    pub name: Option<String>,
    /// Connected to this csms now
    pub online: bool,
    /// The charger's last StatusNotification for connector 0
    pub status: Option<String>,
    /// Major units per kWh, as a session started now would pay
    #[schema(value_type = f64)]
    pub price_per_kwh: Major,
    pub connectors: Vec<PublicConnector>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicConnector {
    pub connector_id: i32,
    pub status: String,
    pub error_code: String,
    /// A session of this csms is open on it
    pub in_use: bool,
}

/// Stations with chargers, connectors, live status and price, as the user panel shows them.
pub fn for_customers(
    c: &mut DbConnection,
    default_price: i64,
    online: impl Fn(&str) -> bool,
) -> Result<Vec<PublicStation>, AppError> {
    let stations: Vec<Station> = stations::table
        .order(stations::id)
        .select(Station::as_select())
        .load(c)?;
    let chargers: Vec<Charger> = chargers::table
        .order(chargers::id)
        .select(Charger::as_select())
        .load(c)?;
    let connectors: Vec<Connector> = connectors::table
        .order((connectors::charger_id, connectors::connector_id))
        .select(Connector::as_select())
        .load(c)?;
    let busy: HashSet<(i64, i32)> = charging_sessions::table
        .filter(charging_sessions::status.eq_any(SessionStatus::OPEN))
        .select((
            charging_sessions::charger_id,
            charging_sessions::connector_id,
        ))
        .load::<(i64, i32)>(c)?
        .into_iter()
        .collect();
    let mut prices = HashMap::new();
    for ch in &chargers {
        prices.insert(
            ch.id,
            crate::domain::charging::price_for(c, ch, default_price)?,
        );
    }
    Ok(stations
        .into_iter()
        .map(|st| PublicStation {
            chargers: chargers
                .iter()
                .filter(|ch| ch.station_id == st.id)
                .map(|ch| PublicCharger {
                    device_id: ch.device_id.clone(),
                    charging_point_id: ch.charging_point_id.clone(),
                    name: ch.name.clone(),
                    online: online(&ch.device_id),
                    status: ch.status.clone(),
                    price_per_kwh: Major(prices.get(&ch.id).copied().unwrap_or(default_price)),
                    connectors: connectors_of(&connectors, ch.id)
                        .map(|k| PublicConnector {
                            connector_id: k.connector_id,
                            status: k.status.clone(),
                            error_code: k.error_code.clone(),
                            in_use: busy.contains(&(ch.id, k.connector_id)),
                        })
                        .collect(),
                })
                .collect(),
            id: st.id,
            name: st.name,
            address: st.address,
        })
        .collect())
}
