//! Charging sessions: the start and stop flows of the customer API, what the charger's OCPP messages
//! do to sessions, and recovery of sessions left behind by a crash or a silent charger.
//!
//! Every state change is a conditional UPDATE (`... WHERE status = <expected>`): whoever changes the
//! row does the follow-up (events, refunds), so no path can finish a session or refund it twice.

pub mod meter_writer;
pub mod occupancy;
pub mod recovery;
pub mod start;
pub mod stop;
pub mod transactions;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::db::models::{Charger, Session};
use crate::db::schema::{chargers, charging_sessions, stations, tariffs};
use crate::db::{DbConnection, now};
use crate::error::AppError;
use crate::events::{self, Subject};
use crate::money;
use crate::wallet;

pub const OPEN_STATUSES: [&str; 3] = ["pending", "active", "stopping"];

/// Price per kWh in minor units: the charger's tariff, else its station's, else the default.
pub fn price_for(c: &mut DbConnection, charger: &Charger, default: i64) -> Result<i64, AppError> {
    let tariff_id = match charger.tariff_id {
        Some(t) => Some(t),
        None => stations::table
            .find(charger.station_id)
            .select(stations::tariff_id)
            .first::<Option<i64>>(c)
            .optional()?
            .flatten(),
    };
    Ok(match tariff_id {
        Some(t) => tariffs::table
            .find(t)
            .select(tariffs::price_per_kwh)
            .first(c)
            .optional()?
            .unwrap_or(default),
        None => default,
    })
}

fn subject(s: &Session) -> Subject {
    Subject {
        customer_id: s.customer_id,
        charger_id: Some(s.charger_id),
        session_id: Some(s.id),
    }
}

pub fn load(c: &mut DbConnection, session_id: i64) -> Result<Session, AppError> {
    Ok(charging_sessions::table
        .find(session_id)
        .select(Session::as_select())
        .first(c)?)
}

/// pending → active (the charger accepted RemoteStartTransaction). Returns the session if this call
/// did it. `charger` is the charger's (deviceId, chargingPointId) when the caller knows them.
pub fn activate(
    c: &mut DbConnection,
    session_id: i64,
    charger: Option<(&str, &str)>,
) -> Result<Option<Session>, AppError> {
    let t = now();
    let n = diesel::update(
        charging_sessions::table
            .find(session_id)
            .filter(charging_sessions::status.eq("pending")),
    )
    .set((
        charging_sessions::status.eq("active"),
        charging_sessions::started_at.eq(t),
        charging_sessions::updated_at.eq(t),
    ))
    .execute(c)?;
    // (The multi-backend connection cannot RETURN a whole `Session`.)
    let s = if n == 1 {
        Some(load(c, session_id)?)
    } else {
        None
    };
    if let Some(s) = &s {
        let v = match charger {
            Some(ids) => view_with(s, ids),
            None => view(c, s)?,
        };
        events::record(c, "charging.started", subject(s), v)?;
    }
    Ok(s)
}

/// Fails a session that never started charging and refunds its hold in full. `from` lists the
/// statuses it may be failed from; only sessions without an OCPP transaction qualify.
pub fn fail(
    c: &mut DbConnection,
    session_id: i64,
    reason: &str,
    from: &[&str],
) -> Result<bool, AppError> {
    let t = now();
    let n = diesel::update(
        charging_sessions::table
            .find(session_id)
            .filter(charging_sessions::status.eq_any(from))
            .filter(charging_sessions::transaction_id.is_null()),
    )
    .set((
        charging_sessions::status.eq("failed"),
        charging_sessions::failure_reason.eq(reason),
        charging_sessions::refund.eq(charging_sessions::amount.nullable()),
        charging_sessions::stopped_at.eq(t),
        charging_sessions::updated_at.eq(t),
    ))
    .execute(c)?;
    if n == 0 {
        return Ok(false);
    }
    let s = load(c, session_id)?;
    if let (Some(customer), true) = (s.customer_id, s.amount > 0) {
        wallet::apply(
            c,
            customer,
            s.amount,
            wallet::Kind::Refund,
            Some(s.id),
            Some("Start failed: full refund"),
        )?;
    }
    let mut payload = view(c, &s)?;
    payload["reason"] = json!(reason);
    events::record(c, "charging.failed", subject(&s), payload)?;
    Ok(true)
}

/// Ends an open session exactly once: energy from the meter, cost capped at the prepaid amount,
/// and the unused part refunded. Returns false if the session was already closed.
pub fn finalize(
    c: &mut DbConnection,
    session_id: i64,
    meter_stop: Option<i64>,
    reason: &str,
    stopped_at: NaiveDateTime,
) -> Result<bool, AppError> {
    let s = load(c, session_id)?;
    let energy_wh = match (meter_stop, s.meter_start) {
        (Some(stop), Some(start)) => (stop - start).max(0),
        _ => s.energy_wh,
    };
    let app = s.origin == "app";
    let mut cost = money::energy_cost(energy_wh, s.price_per_kwh);
    if app {
        cost = cost.min(s.amount);
    }
    let refund = if app { s.amount - cost } else { 0 };
    let n = diesel::update(
        charging_sessions::table
            .find(session_id)
            .filter(charging_sessions::status.eq_any(["active", "stopping"])),
    )
    .set((
        charging_sessions::status.eq("completed"),
        charging_sessions::energy_wh.eq(energy_wh),
        charging_sessions::cost.eq(cost),
        charging_sessions::refund.eq(refund),
        charging_sessions::meter_last.eq(meter_stop.or(s.meter_last)),
        charging_sessions::stop_reason.eq(reason),
        charging_sessions::stopped_at.eq(stopped_at),
        charging_sessions::updated_at.eq(now()),
    ))
    .execute(c)?;
    if n == 0 {
        return Ok(false);
    }
    if let (Some(customer), true) = (s.customer_id, refund > 0) {
        wallet::apply(
            c,
            customer,
            refund,
            wallet::Kind::Refund,
            Some(s.id),
            Some("Unused prepaid amount"),
        )?;
    }
    let s = load(c, session_id)?;
    let v = view(c, &s)?;
    events::record(c, "charging.stopped", subject(&s), v)?;
    Ok(true)
}

fn ts(t: Option<NaiveDateTime>) -> Value {
    t.map(crate::api::timestamp)
        .map(Value::String)
        .unwrap_or(Value::Null)
}

/// A session as the API shows it.
pub fn view_with(s: &Session, charger: (&str, &str)) -> Value {
    json!({
        "sessionId": s.session_uid,
        "status": s.status,
        "deviceId": charger.0,
        "chargingPointId": charger.1,
        "connectorId": s.connector_id,
        "customerId": s.customer_id,
        "origin": s.origin,
        "idTag": s.id_tag,
        "amount": money::to_major(s.amount),
        "pricePerKwh": money::to_major(s.price_per_kwh),
        "energyKwh": s.energy_wh as f64 / 1000.0,
        "cost": money::to_major(s.cost),
        "refund": s.refund.map(money::to_major),
        "transactionId": s.transaction_id,
        "createdAt": crate::api::timestamp(s.created_at),
        "startedAt": ts(s.started_at),
        "stoppedAt": ts(s.stopped_at),
        "stopReason": s.stop_reason,
        "failureReason": s.failure_reason,
    })
}

pub fn view(c: &mut DbConnection, s: &Session) -> Result<Value, AppError> {
    let (device, cp): (String, String) = chargers::table
        .find(s.charger_id)
        .select((chargers::device_id, chargers::charging_point_id))
        .first(c)?;
    Ok(view_with(s, (&device, &cp)))
}

/// Sessions with their charger's ids, newest first.
pub fn list(c: &mut DbConnection, filter: ListFilter) -> Result<Vec<Value>, AppError> {
    let mut q = charging_sessions::table
        .inner_join(chargers::table)
        .select((
            Session::as_select(),
            chargers::device_id,
            chargers::charging_point_id,
        ))
        .order(charging_sessions::id.desc())
        .limit(filter.limit.clamp(1, 1000))
        .into_boxed();
    if let Some(customer) = filter.customer_id {
        q = q.filter(charging_sessions::customer_id.eq(customer));
    }
    if let Some(status) = filter.status {
        q = q.filter(charging_sessions::status.eq(status));
    }
    if let Some(device) = filter.device_id {
        q = q.filter(chargers::device_id.eq(device));
    }
    let rows: Vec<(Session, String, String)> = q.load(c)?;
    Ok(rows
        .iter()
        .map(|(s, d, cp)| view_with(s, (d, cp)))
        .collect())
}

#[derive(Default)]
pub struct ListFilter {
    pub customer_id: Option<i64>,
    pub status: Option<String>,
    pub device_id: Option<String>,
    pub limit: i64,
}
