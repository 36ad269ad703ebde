//! The OCA compliance cases for a 1.6 Central System (`../shared/spec/octt-1.6-csms-cases.md`),
//! one test per case id, on SQLite and PostgreSQL. Each drives the real server with a charge point
//! (the simulator, scripted where the case needs a particular answer) and checks what csms sent and
//! answered, field by field, and every frame against the official OCPP 1.6 JSON schemas.
//!
//! Of the "Security extension" cases, TC_073 … TC_081, TC_085 and TC_088 are here (`security`); the
//! TLS ones (TC_083, TC_086, TC_087) belong to the TLS work.

#[path = "../api/helpers.rs"]
mod helpers;

mod core;
mod firmware;
mod local_list;
mod remote_trigger;
mod reservation;
mod security;
mod smart_charging;

use csms::ocpp::schemas::{Kind, schemas};
use csms::simulator::Simulator;
use diesel::prelude::*;
use serde_json::{Value, json};

use helpers::TestApp;

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

/// The tokens the test tool expects the central system to know.
pub async fn tokens(app: &TestApp, admin: &str) {
    for body in [
        json!({"idTag": "VALID", "parentIdTag": "GROUP"}),
        json!({"idTag": "MEMBER", "parentIdTag": "GROUP"}),
        json!({"idTag": "BLOCKED", "status": "Blocked"}),
        json!({"idTag": "EXPIRED", "expiryDate": "2020-01-01T00:00:00Z"}),
    ] {
        let (s, b) = app.post("/api/admin/id-tags", Some(admin), body).await;
        assert_eq!(s, 201, "{b}");
    }
}

/// A transaction as csms recorded it: (stopped, stop reason, reservationId).
pub async fn transaction(app: &TestApp, id: i64) -> (bool, Option<String>, Option<i32>) {
    app.db(move |c| {
        use csms::db::schema::ocpp_transactions as t;
        let (stopped, reason, reservation) = t::table
            .find(id)
            .select((t::stopped_at, t::stop_reason, t::reservation_id))
            .first::<(Option<chrono::NaiveDateTime>, Option<String>, Option<i32>)>(c)
            .unwrap();
        (stopped.is_some(), reason, reservation)
    })
    .await
}

/// How many transactions csms recorded.
pub async fn transactions(app: &TestApp) -> i64 {
    app.db(|c| {
        use csms::db::schema::ocpp_transactions as t;
        t::table.count().get_result::<i64>(c).unwrap()
    })
    .await
}

/// The message log of a charger (oldest first): (direction, action, frame).
pub async fn log(app: &TestApp, admin: &str, device: &str) -> Vec<(String, String, Value)> {
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

/// Whether csms answered (CALLRESULT) a `action` from the charger whose payload has `field` = `value`.
pub async fn answered(
    app: &TestApp,
    admin: &str,
    device: &str,
    action: &str,
    field: &str,
    value: &str,
) -> bool {
    let l = log(app, admin, device).await;
    l.iter().any(|(dir, a, f)| {
        dir == "in"
            && a == action
            && f[3][field] == value
            && l.iter()
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
    csms::ocpp::messages::format_timestamp(
        chrono::Utc::now().naive_utc() - chrono::Duration::minutes(m),
    )
}
