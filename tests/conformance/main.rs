//! The OCA compliance cases for a 1.6 Central System (`../shared/spec/octt-1.6-csms-cases.md`),
//! run two ways, on SQLite and PostgreSQL:
//!
//! - **isolated**: one test per case id (`core::tc_001_cold_boot_charge_point::sqlite`, …), each
//!   on a fresh server with a charger of its own;
//! - **back to back** (`back_to_back::all_cases_in_id_order`): every case in id order against ONE
//!   server and ONE charge point identity, nothing reset in between, as a compliance tool runs
//!   them.
//!
//! Each case is an `async fn(Ctx)` (see `ctx`): it drives the real server with a charge point (the
//! simulator, scripted where the case needs a particular answer) and checks what csms sent and
//! answered, field by field, and every frame against the official OCPP 1.6 JSON schemas.

#[path = "../support/mod.rs"]
mod support;
use support::app as helpers;

mod back_to_back;
mod ctx;

mod core;
mod firmware;
mod local_list;
mod ocpp201;
mod remote_trigger;
mod reservation;
mod security;
mod smart_charging;

use std::future::Future;
use std::pin::Pin;

use csms::protocol::ocpp16::schemas::{Kind, schemas};
use csms::simulator::Simulator;
use diesel::prelude::*;
use serde_json::{Value, json};

pub use ctx::Ctx;
use helpers::TestApp;

/// A case as the back-to-back run calls it.
pub type CaseFn = fn(Ctx) -> Pin<Box<dyn Future<Output = ()>>>;

/// Generates the isolated tests of a case (`sqlite` and `postgres`, in a module named after the
/// case's function), each on a fresh server built with the optional settings tweak.
#[macro_export]
macro_rules! case {
    ($name:ident, $id:literal) => {
        $crate::case!($name, $id, |_s| {});
    };
    ($name:ident, $id:literal, $tweak:expr) => {
        $crate::both_backends!($name, $tweak, |app| {
            super::$name($crate::Ctx::isolated(app, $id).await).await
        });
    };
}

macro_rules! cases {
    ($($id:literal => $path:path),* $(,)?) => {
        /// Every case, in the order of the case document's tables (the order a tool runs them).
        pub const CASES: &[(&str, CaseFn)] = &[$(($id, |ctx| Box::pin($path(ctx)))),*];
    };
}

cases! {
    "TC_001" => core::tc_001_cold_boot_charge_point,
    "TC_003" => core::tc_003_regular_charging_session_plugin_first,
    "TC_004_1" => core::tc_004_1_regular_charging_session_identification_first,
    "TC_004_2" => core::tc_004_2_identification_first_connection_timeout,
    "TC_005_1" => core::tc_005_1_ev_side_disconnected,
    "TC_007" => core::tc_007_regular_start_charging_session_cached_id,
    "TC_010" => core::tc_010_remote_start_charging_session_cable_plugged_in_first,
    "TC_011_1" => core::tc_011_1_remote_start_charging_session_remote_start_first,
    "TC_011_2" => core::tc_011_2_remote_start_charging_session_time_out,
    "TC_012" => core::tc_012_remote_stop_charging_session,
    "TC_013" => core::tc_013_hard_reset,
    "TC_014" => core::tc_014_soft_reset,
    "TC_017_1" => core::tc_017_1_unlock_connector_no_charging_session_not_fixed_cable,
    "TC_017_2" => core::tc_017_2_unlock_connector_no_charging_session_fixed_cable,
    "TC_018_1" => core::tc_018_1_unlock_connector_with_charging_session,
    "TC_019_1" => core::tc_019_1_retrieve_all_configuration_keys,
    "TC_019_2" => core::tc_019_2_retrieve_specific_configuration_key,
    "TC_021" => core::tc_021_change_set_configuration,
    "TC_023_1" => core::tc_023_1_start_charging_session_authorize_invalid,
    "TC_023_2" => core::tc_023_2_start_charging_session_authorize_expired,
    "TC_023_3" => core::tc_023_3_start_charging_session_authorize_blocked,
    "TC_024" => core::tc_024_start_charging_session_lock_failure,
    "TC_026" => core::tc_026_remote_start_charging_session_rejected,
    "TC_028" => core::tc_028_remote_stop_transaction_rejected,
    "TC_030" => core::tc_030_unlock_connector_unlock_failure,
    "TC_031" => core::tc_031_unlock_connector_unknown_connector,
    "TC_032_1" => core::tc_032_1_power_failure_boot_charging_point_stop_transactions,
    "TC_037_1" => core::tc_037_1_offline_start_transaction_valid_idtag,
    "TC_037_3" => core::tc_037_3_offline_start_transaction_invalid_idtag,
    "TC_039" => core::tc_039_offline_transaction,
    "TC_040_1" => core::tc_040_1_configuration_keys_not_supported,
    "TC_040_2" => core::tc_040_2_configuration_keys_invalid_value,
    "TC_061" => core::tc_061_clear_authorization_data_in_authorization_cache,
    "TC_064" => core::tc_064_data_transfer_to_a_central_system,
    "TC_042_1" => local_list::tc_042_1_get_local_list_version_not_supported,
    "TC_042_2" => local_list::tc_042_2_get_local_list_version_empty,
    "TC_043_1" => local_list::tc_043_1_send_local_authorization_list_not_supported,
    "TC_043_3" => local_list::tc_043_3_send_local_authorization_list_failed,
    "TC_043_4" => local_list::tc_043_4_send_local_authorization_list_full,
    "TC_043_5" => local_list::tc_043_5_send_local_authorization_list_differential,
    "TC_044_1" => firmware::tc_044_1_firmware_update_download_and_install,
    "TC_044_2" => firmware::tc_044_2_firmware_update_download_failed,
    "TC_044_3" => firmware::tc_044_3_firmware_update_installation_failed,
    "TC_045_1" => firmware::tc_045_1_get_diagnostics,
    "TC_045_2" => firmware::tc_045_2_get_diagnostics_upload_failed,
    "TC_046" => reservation::tc_046_reservation_of_a_connector_transaction,
    "TC_047" => reservation::tc_047_reservation_of_a_connector_expire,
    "TC_048_1" => reservation::tc_048_1_reservation_of_a_connector_faulted,
    "TC_048_2" => reservation::tc_048_2_reservation_of_a_connector_occupied,
    "TC_048_3" => reservation::tc_048_3_reservation_of_a_connector_unavailable,
    "TC_048_4" => reservation::tc_048_4_reservation_of_a_connector_rejected,
    "TC_049" => reservation::tc_049_reservation_of_a_charge_point_transaction,
    "TC_051" => reservation::tc_051_cancel_reservation,
    "TC_052" => reservation::tc_052_cancel_reservation_rejected,
    "TC_053" => reservation::tc_053_use_a_reserved_connector_with_parentidtag,
    "TC_054" => remote_trigger::tc_054_trigger_message,
    "TC_055" => remote_trigger::tc_055_trigger_message_rejected,
    "TC_056" => smart_charging::tc_056_central_smart_charging_txdefaultprofile,
    "TC_057" => smart_charging::tc_057_central_smart_charging_txprofile,
    "TC_059" => smart_charging::tc_059_remote_start_transaction_with_charging_profile,
    "TC_066" => smart_charging::tc_066_get_composite_schedule,
    "TC_067" => smart_charging::tc_067_clear_charging_profile,
    "TC_073" => security::tc_073_update_charge_point_password_for_http_basic_authentication,
    "TC_074" => security::tc_074_update_charge_point_certificate_by_request_of_central_system,
    "TC_075_1" => security::tc_075_1_install_a_certificate_manufacturer_root_certificate,
    "TC_075_2" => security::tc_075_2_install_a_certificate_central_system_root_certificate,
    "TC_076" => security::tc_076_delete_a_specific_certificate,
    "TC_077" => security::tc_077_invalid_charge_point_certificate_security_event,
    "TC_078" => security::tc_078_invalid_central_system_certificate_security_event,
    "TC_079" => security::tc_079_get_security_log,
    "TC_080" => security::tc_080_secure_firmware_update,
    "TC_081" => security::tc_081_secure_firmware_update_invalid_signature,
    "TC_083" => security::tc_083_upgrade_charge_point_security_profile_accepted,
    "TC_085" => security::tc_085_basic_authentication_valid_username_password,
    "TC_086" => security::tc_086_tls_server_side_certificate_valid_certificate,
    "TC_087" => security::tc_087_tls_client_side_certificate_valid_certificate,
    "TC_088" => security::tc_088_websocket_subprotocol_negotiation,
}

/// Panics unless `payload` is a valid `action` request or response.
pub fn valid(action: &str, kind: Kind, payload: &Value) {
    if let Err(e) = schemas().validate(action, kind, payload) {
        panic!("{action} {kind:?} violates the schema: {e:?}: {payload}");
    }
}

/// A CP→CS call: the request and csms's answer are both checked against the schemas.
pub async fn call(sim: &Simulator, action: &str, payload: Value) -> Value {
    valid(action, Kind::Request, &payload);
    let answer = sim
        .call(action, payload)
        .await
        .unwrap_or_else(|e| panic!("{action}: {e}"));
    valid(action, Kind::Response, &answer);
    answer
}

/// What csms sent the charger for `action` (each checked against the request schema).
pub fn sent(sim: &Simulator, action: &str) -> Vec<Value> {
    sim.received()
        .into_iter()
        .filter(|(a, _)| a == action)
        .map(|(_, p)| {
            valid(action, Kind::Request, &p);
            p
        })
        .collect()
}

/// A CS→CP command through the operator API: 200, and the charger's answer (schema-checked).
pub async fn cmd(app: &TestApp, admin: &str, device: &str, action: &str, body: Value) -> Value {
    let (s, b) = app
        .post(
            &format!("/api/admin/chargers/{device}/commands/{action}"),
            Some(admin),
            body,
        )
        .await;
    assert_eq!(s, 200, "{action}: {b}");
    valid(action, Kind::Response, &b["response"]);
    b["response"].clone()
}

/// The tokens the test tool expects the central system to know (idempotent).
pub async fn tokens(app: &TestApp, admin: &str) {
    for body in [
        json!({"idTag": "VALID", "parentIdTag": "GROUP"}),
        json!({"idTag": "MEMBER", "parentIdTag": "GROUP"}),
        json!({"idTag": "BLOCKED", "status": "Blocked"}),
        json!({"idTag": "EXPIRED", "expiryDate": "2020-01-01T00:00:00Z"}),
    ] {
        let (s, b) = app.post("/api/admin/id-tags", Some(admin), body).await;
        // 409: known already (an earlier case of a back-to-back run created it).
        assert!(s == 201 || s == 409, "{s} {b}");
    }
}

/// A transaction as csms recorded it: (stopped, stop reason, reservationId).
pub async fn transaction(app: &TestApp, id: i64) -> (bool, Option<String>, Option<i32>) {
    app.db(move |c| {
        use csms::infra::db::schema::ocpp_transactions as t;
        let (stopped, reason, reservation) = t::table
            .find(id)
            .select((t::stopped_at, t::stop_reason, t::reservation_id))
            .first::<(Option<chrono::NaiveDateTime>, Option<String>, Option<i32>)>(c)
            .unwrap();
        (stopped.is_some(), reason, reservation)
    })
    .await
}

/// The message log of a charger after row `after` (oldest first): (direction, action, frame).
pub async fn log_since(
    app: &TestApp,
    admin: &str,
    device: &str,
    after: i64,
) -> Vec<(String, String, Value)> {
    let (_, b) = app
        .get(
            &format!("/api/admin/chargers/{device}/messages?limit=1000"),
            Some(admin),
        )
        .await;
    let mut out: Vec<(String, String, Value)> = b["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["id"].as_i64().unwrap_or(0) > after)
        .map(|m| {
            (
                m["direction"].as_str().unwrap_or_default().to_string(),
                m["action"].as_str().unwrap_or_default().to_string(),
                m["frame"].clone(),
            )
        })
        .collect();
    out.reverse();
    out
}

/// Whether `log` holds a CALLRESULT of csms to a charger's `action` whose payload has `field` =
/// `value`.
pub fn answered_in(
    log: &[(String, String, Value)],
    action: &str,
    field: &str,
    value: &str,
) -> bool {
    log.iter().any(|(dir, a, f)| {
        dir == "in"
            && a == action
            && f[3][field] == value
            && log
                .iter()
                .any(|(d2, a2, f2)| d2 == "out" && a2 == action && f2[0] == 3 && f2[1] == f[1])
    })
}

/// Waits (up to 15 s) until an async condition holds.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("not reached in 15 s: {what}");
}

/// A past timestamp (a message queued while offline).
pub fn minutes_ago(m: i64) -> String {
    csms::protocol::ocpp16::messages::format_timestamp(
        chrono::Utc::now().naive_utc() - chrono::Duration::minutes(m),
    )
}
