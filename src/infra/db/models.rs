//! Row types (crates.io style: `Queryable` for reading, `Insertable` structs named `New*` for writing).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::*;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = operators)]
pub struct Operator {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub id_tag: String,
    pub balance: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = customers)]
pub struct NewCustomer<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub id_tag: &'a str,
    pub balance: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = tariffs)]
pub struct Tariff {
    pub id: i64,
    pub name: String,
    pub price_per_kwh: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = chargers)]
pub struct Charger {
    pub id: i64,
    pub device_id: String,
    pub charging_point_id: String,
    pub station_id: i64,
    pub name: Option<String>,
    pub ocpp_password_hash: Option<String>,
    pub tariff_id: Option<i64>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub meter_type: Option<String>,
    pub meter_serial_number: Option<String>,
    pub status: Option<String>,
    pub error_code: Option<String>,
    pub last_boot_at: Option<NaiveDateTime>,
    pub last_heartbeat_at: Option<NaiveDateTime>,
    pub last_seen_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub security_profile: i32,
    /// accepted, pending (awaiting approval) or rejected (disabled)
    pub registration: String,
    /// The OCPP version of its last connection (ocpp1.6, ocpp2.0.1)
    pub ocpp_version: Option<String>,
    /// The one version it may connect with (an operator's pin)
    pub ocpp_version_pin: Option<String>,
    pub items_per_message_get_variables: Option<i32>,
    pub items_per_message_set_variables: Option<i32>,
    pub items_per_message_get_report: Option<i32>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = connectors)]
pub struct Connector {
    pub id: i64,
    pub charger_id: i64,
    pub connector_id: i32,
    pub status: String,
    pub error_code: String,
    pub info: Option<String>,
    pub vendor_error_code: Option<String>,
    pub updated_at: NaiveDateTime,
    pub status_since: Option<NaiveDateTime>,
}

#[derive(Clone, Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = charging_sessions)]
pub struct Session {
    pub id: i64,
    pub session_uid: String,
    pub customer_id: Option<i64>,
    pub charger_id: i64,
    pub connector_id: i32,
    pub origin: String,
    pub id_tag: String,
    pub status: String,
    pub amount: i64,
    pub price_per_kwh: i64,
    pub transaction_id: Option<i64>,
    pub meter_start: Option<i64>,
    pub meter_last: Option<i64>,
    pub energy_wh: i64,
    pub cost: i64,
    pub refund: Option<i64>,
    pub stop_reason: Option<String>,
    pub failure_reason: Option<String>,
    pub remote_stop_sent: bool,
    pub idempotency_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub stopped_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub start_tag: Option<String>,
    pub owner_node: Option<String>,
    pub late_cost: i64,
    pub request_hash: Option<String>,
    pub resumed_from: Option<i64>,
    pub stop_note: Option<String>,
    /// The customer cancelled this failed start: a late StartTransaction never resumes it.
    pub cancelled_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = charging_sessions)]
pub struct NewSession<'a> {
    pub session_uid: &'a str,
    pub customer_id: Option<i64>,
    pub charger_id: i64,
    pub connector_id: i32,
    pub origin: &'a str,
    pub id_tag: &'a str,
    pub status: &'a str,
    pub amount: i64,
    pub price_per_kwh: i64,
    pub transaction_id: Option<i64>,
    pub meter_start: Option<i64>,
    pub idempotency_key: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub start_tag: Option<&'a str>,
    pub owner_node: Option<&'a str>,
    pub request_hash: Option<&'a str>,
    pub resumed_from: Option<i64>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = wallet_ledger)]
pub struct LedgerRow {
    pub id: i64,
    pub customer_id: i64,
    pub kind: String,
    pub amount: i64,
    pub balance_after: i64,
    pub session_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = ocpp_transactions)]
pub struct OcppTransaction {
    pub id: i64,
    pub charger_id: i64,
    pub connector_id: i32,
    pub id_tag: String,
    pub meter_start: i64,
    pub started_at: NaiveDateTime,
    pub reservation_id: Option<i32>,
    pub session_id: Option<i64>,
    pub meter_stop: Option<i64>,
    pub stopped_at: Option<NaiveDateTime>,
    pub stop_reason: Option<String>,
    pub stop_id_tag: Option<String>,
    pub created_at: NaiveDateTime,
    pub id_tag_status: Option<String>,
    pub stop_next_at: Option<NaiveDateTime>,
    pub stop_attempts: i32,
    pub late_stop_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = meter_values)]
pub struct NewMeterValue {
    pub charger_id: i64,
    pub connector_id: i32,
    pub transaction_id: Option<i64>,
    pub sampled_at: NaiveDateTime,
    pub energy_wh: Option<i64>,
    pub sampled_values: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = ocpp_messages)]
pub struct NewOcppMessage {
    pub charger_id: i64,
    pub direction: &'static str,
    pub message_type: i32,
    pub message_id: String,
    pub action: Option<String>,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub name: String,
    pub customer_id: Option<i64>,
    pub charger_id: Option<i64>,
    pub session_id: Option<i64>,
    pub payload: String,
    pub created_at: NaiveDateTime,
    pub published_at: Option<NaiveDateTime>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = write_offs)]
pub struct WriteOff {
    pub id: i64,
    pub charger_id: i64,
    pub connector_id: i32,
    pub transaction_id: Option<i64>,
    pub session_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub energy_wh: i64,
    pub amount: i64,
    pub reason: String,
    pub created_at: NaiveDateTime,
}
