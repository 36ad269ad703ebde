//! What OCPP 2.0.1 stations tell in NotifyEvent: their monitors' alerts, periodic and delta
//! events and hard-wired notifications, one row per event, kept as the station's event history
//! (newest first for the operator).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::infra::db::schema::station_events;
use crate::infra::db::{DbConnection, now, write_tx};

/// One event as a station sent it.
#[derive(Debug, Clone, Default, PartialEq, Insertable)]
#[diesel(table_name = station_events)]
pub struct NewEvent {
    pub event_id: i64,
    pub station_timestamp: Option<NaiveDateTime>,
    pub event_trigger: String,
    pub event_notification_type: String,
    pub component: String,
    pub component_instance: Option<String>,
    pub evse_id: Option<i32>,
    pub connector_id: Option<i32>,
    pub variable: String,
    pub variable_instance: Option<String>,
    pub actual_value: String,
    pub cleared: bool,
    pub cause: Option<i64>,
    pub tech_code: Option<String>,
    pub tech_info: Option<String>,
    pub transaction_id: Option<String>,
    pub variable_monitoring_id: Option<i64>,
}

/// A stored event as the operator API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = station_events)]
#[serde(rename_all = "camelCase")]
pub struct StationEvent {
    pub id: i64,
    /// The station's eventId (stations reuse them)
    pub event_id: i64,
    /// The station's timestamp of the event
    #[serde(serialize_with = "crate::infra::timestamps::serialize_opt")]
    #[schema(value_type = Option<String>)]
    pub station_timestamp: Option<NaiveDateTime>,
    /// Alerting, Delta or Periodic
    #[serde(rename = "trigger")]
    pub event_trigger: String,
    /// HardWiredNotification, HardWiredMonitor, PreconfiguredMonitor or CustomMonitor
    pub event_notification_type: String,
    pub component: String,
    pub component_instance: Option<String>,
    pub evse_id: Option<i32>,
    pub connector_id: Option<i32>,
    pub variable: String,
    pub variable_instance: Option<String>,
    pub actual_value: String,
    /// The alert's condition no longer holds
    pub cleared: bool,
    /// The eventId of the event that caused this one
    pub cause: Option<i64>,
    pub tech_code: Option<String>,
    pub tech_info: Option<String>,
    pub transaction_id: Option<String>,
    pub variable_monitoring_id: Option<i64>,
    #[serde(serialize_with = "crate::infra::timestamps::serialize")]
    #[schema(value_type = String)]
    pub received_at: NaiveDateTime,
}

/// Stores a NotifyEvent's events; returns how many.
pub fn record(
    c: &mut DbConnection,
    charger_id: i64,
    events: &[NewEvent],
) -> Result<usize, AppError> {
    let t = now();
    write_tx(c, |c| {
        for e in events {
            diesel::insert_into(station_events::table)
                .values((
                    station_events::charger_id.eq(charger_id),
                    station_events::received_at.eq(t),
                    e,
                ))
                .execute(c)?;
        }
        Ok(events.len())
    })
}

/// A station's events, newest first (`limit` 1 to 1000).
pub fn list(
    c: &mut DbConnection,
    device_id: &str,
    limit: i64,
) -> Result<Vec<StationEvent>, AppError> {
    let cid = crate::domain::chargers::id_of(c, device_id)?;
    Ok(station_events::table
        .filter(station_events::charger_id.eq(cid))
        .order(station_events::id.desc())
        .limit(limit.clamp(1, 1000))
        .select(StationEvent::as_select())
        .load(c)?)
}
