//! Charging sessions: the start and stop flows of the customer API, what the charger's OCPP messages
//! do to sessions, and recovery of sessions left behind by a crash or a silent charger.
//!
//! Every state change is a conditional UPDATE (`... WHERE status = <expected>`): whoever changes the
//! row does the follow-up (events, refunds), so no path can finish a session or refund it twice.

pub mod billing;
pub mod desk;
pub mod evidence;
pub mod meter_writer;
pub mod occupancy;
pub mod orphans;
pub mod recovery;
pub mod start;
pub mod station_transactions;
pub mod status;
pub mod stop;
pub mod stops;
pub mod tags;
pub mod transactions;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::domain::money;
use crate::domain::wallet;
use crate::error::AppError;
use crate::infra::db::models::{Charger, Session};
use crate::infra::db::schema::{chargers, charging_sessions, stations, tariffs};
use crate::infra::db::{DbConnection, filter_given, now};
use crate::infra::events::{self, Subject};

pub use billing::{WriteOffReason, WriteOffRow, finalize, settle_late, write_off};

pub use status::SessionStatus;

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
    let s = mark_active(c, session_id, now())?;
    if let Some(s) = &s {
        let v = match charger {
            Some(ids) => view_with(s, ids),
            None => view(c, s)?,
        };
        events::record(c, "charging.started", subject(s), v)?;
    }
    Ok(s)
}

/// The conditional `pending → active` UPDATE, returning the row it changed in the same round trip
/// (the multi-backend connection cannot RETURN a whole `Session`).
fn mark_active(
    c: &mut DbConnection,
    session_id: i64,
    t: NaiveDateTime,
) -> Result<Option<Session>, AppError> {
    use diesel::sql_types::{BigInt, Timestamp};
    const SQL: &str = "UPDATE charging_sessions SET status = 'active', started_at = $2, \
         updated_at = $2 WHERE id = $1 AND status = 'pending' RETURNING *";
    let rows: Vec<Session> =
        crate::infra::db::load_raw!(c, SQL, BigInt => session_id, Timestamp => t)?;
    Ok(rows.into_iter().next())
}

/// Why an app start failed (`failure_reason`), and the one rule for which of them a late
/// StartTransaction carrying the session's one-time idTag may still resume (re-open with a new
/// hold): only those where the charger may have started without csms knowing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The charger answered RemoteStartTransaction `Rejected` (or a CALLERROR), or is not accepted.
    Rejected,
    /// No answer within `CSMS_REMOTE_START_TIMEOUT_SECS`.
    Timeout,
    /// The cluster's nodes could not reach each other: the RemoteStart may have gone out.
    Unavailable,
    /// The charger was offline or its connection dropped during the call.
    Offline,
    /// The node running the start died (recovered by another).
    Interrupted,
    /// The charger rebooted before it sent StartTransaction.
    ChargerRebooted,
    /// Accepted, but no StartTransaction within `CSMS_START_TRANSACTION_TIMEOUT_SECS`.
    NoStartTransaction,
    /// The charger started another transaction on the connector.
    ConnectorTaken,
    /// The customer pressed Stop before the charger started.
    Cancelled,
    /// An operator force-closed it.
    ClosedByOperator,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Rejected => "rejected",
            Failure::Timeout => "timeout",
            Failure::Unavailable => "unavailable",
            Failure::Offline => "offline",
            Failure::Interrupted => "interrupted",
            Failure::ChargerRebooted => "charger_rebooted",
            Failure::NoStartTransaction => "no_start_transaction",
            Failure::ConnectorTaken => "connector_taken",
            Failure::Cancelled => "cancelled",
            Failure::ClosedByOperator => "closed_by_operator",
        }
    }

    pub const ALL: [Failure; 10] = [
        Failure::Rejected,
        Failure::Timeout,
        Failure::Unavailable,
        Failure::Offline,
        Failure::Interrupted,
        Failure::ChargerRebooted,
        Failure::NoStartTransaction,
        Failure::ConnectorTaken,
        Failure::Cancelled,
        Failure::ClosedByOperator,
    ];

    pub fn parse(text: &str) -> Option<Failure> {
        Failure::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// Whether a late StartTransaction may still resume a start that failed this way. Yes when the
    /// charger may have accepted and started without csms hearing of it (no answer, a dropped
    /// connection, a reboot, a node that died, a driver who plugged in late); no when the charger
    /// said no, another transaction took the connector, or a person ended it (the customer, an
    /// operator): those sessions are over, and their one-time idTag is spent.
    pub fn may_resume(self) -> bool {
        match self {
            Failure::Timeout
            | Failure::Unavailable
            | Failure::Offline
            | Failure::Interrupted
            | Failure::ChargerRebooted
            | Failure::NoStartTransaction => true,
            Failure::Rejected
            | Failure::ConnectorTaken
            | Failure::Cancelled
            | Failure::ClosedByOperator => false,
        }
    }
}

/// Fails a session that never started charging and refunds its hold in full. `from` lists the
/// statuses it may be failed from; only sessions without an OCPP transaction qualify.
pub fn fail(
    c: &mut DbConnection,
    session_id: i64,
    reason: Failure,
    from: &[SessionStatus],
) -> Result<bool, AppError> {
    fail_noted(c, session_id, reason, None, from)
}

/// [`fail`] with a note (who closed it and why) on the session and its refund.
pub fn fail_noted(
    c: &mut DbConnection,
    session_id: i64,
    reason: Failure,
    note: Option<&str>,
    from: &[SessionStatus],
) -> Result<bool, AppError> {
    let reason = reason.as_str();
    let t = now();
    let n = diesel::update(
        charging_sessions::table
            .find(session_id)
            .filter(charging_sessions::status.eq_any(from))
            .filter(charging_sessions::transaction_id.is_null()),
    )
    .set((
        charging_sessions::status.eq(SessionStatus::Failed),
        charging_sessions::failure_reason.eq(reason),
        charging_sessions::stop_note.eq(note),
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
        let note = match note {
            Some(n) => format!("Start failed: full refund ({n})"),
            None => "Start failed: full refund".to_string(),
        };
        wallet::apply(
            c,
            customer,
            s.amount,
            wallet::Kind::Refund,
            Some(s.id),
            Some(&note),
        )?;
    }
    let mut payload = view(c, &s)?;
    payload["reason"] = json!(reason);
    events::record(c, "charging.failed", subject(&s), payload)?;
    Ok(true)
}

/// What the rules of billing need from the settings.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Price per kWh (minor units) when neither the charger nor its station has a tariff.
    pub default_price: i64,
    /// The most power (W) a connector can deliver: energy beyond what it could have delivered in
    /// the elapsed time is logged and capped, never billed blindly.
    pub max_power_w: i64,
    /// The largest hold taken when a customer's own idTag (or a card linked to a customer) starts
    /// a transaction at the charger.
    pub rfid_hold: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default_price: 1500,
            max_power_w: 400_000,
            rfid_hold: 50_000,
        }
    }
}

/// How a session's transaction ended, and the evidence of the energy it delivered.
pub struct End<'a> {
    pub reason: &'a str,
    pub stopped_at: NaiveDateTime,
    /// The charger's meterStop, when it sent one.
    pub meter_stop: Option<i64>,
    /// Energy (Wh since meterStart) that other evidence shows: a meter register in
    /// StopTransaction.transactionData, or the next transaction's meterStart on the same connector.
    pub energy_hint: Option<i64>,
    /// Who or what closed it, for the session and its ledger rows (operator's reason, evidence).
    pub note: Option<&'a str>,
}

/// The most energy a connector could have delivered between `since` and `at` at its maximum
/// power, plus a minute of slack (clocks and message delays).
pub fn plausible_wh(since: NaiveDateTime, policy: &Policy, at: NaiveDateTime) -> i64 {
    let secs = (at - since).num_seconds().max(0).saturating_add(60);
    policy.max_power_w.saturating_mul(secs) / 3600
}

/// When a session began, for [`plausible_wh`]: the server's clock, or the charger's own start time
/// when that is earlier (a late start after an offline period), up to 48 h back.
fn began(s: &Session) -> NaiveDateTime {
    s.started_at
        .unwrap_or(s.created_at)
        .min(s.created_at)
        .max(s.created_at - chrono::Duration::hours(48))
}

/// The energy to bill: the largest of what was already metered, meterStop − meterStart and any
/// other evidence; never less than already metered (readings do not go backwards), and never more
/// than the connector could have delivered (logged).
pub fn best_energy(
    s: &Session,
    meter_stop: Option<i64>,
    hint: Option<i64>,
    policy: &Policy,
) -> i64 {
    let from_stop = meter_stop
        .zip(s.meter_start)
        .and_then(|(stop, start)| stop.checked_sub(start));
    if let Some(e) = from_stop
        && e < 0
    {
        log::warn!(
            "session {}: meterStop {} below meterStart {} (meter reset or replaced): billing the metered {} Wh",
            s.session_uid,
            meter_stop.unwrap_or_default(),
            s.meter_start.unwrap_or_default(),
            s.energy_wh
        );
    }
    let claimed = [from_stop, hint]
        .into_iter()
        .flatten()
        .filter(|e| *e >= 0)
        .fold(s.energy_wh, i64::max);
    let cap = plausible_wh(began(s), policy, now());
    if claimed > cap {
        log::warn!(
            "session {}: {claimed} Wh is more than the connector could deliver since it started ({cap} Wh at most): capped",
            s.session_uid
        );
        return cap.max(s.energy_wh);
    }
    claimed
}

/// A session as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// SESS_...
    pub session_id: String,
    /// pending, active, stopping, completed or failed
    pub status: String,
    pub device_id: String,
    pub charging_point_id: String,
    pub connector_id: i32,
    /// None: a session started by a token the operator bills
    pub customer_id: Option<i64>,
    /// app (started through the API) or charger (started at the charger with a card)
    pub origin: String,
    pub id_tag: String,
    /// Prepaid amount, major units
    #[schema(value_type = f64)]
    pub amount: money::Major,
    #[schema(value_type = f64)]
    pub price_per_kwh: money::Major,
    pub energy_kwh: f64,
    /// What the energy costs so far (including late charges), major units
    #[schema(value_type = f64)]
    pub cost: money::Major,
    /// What went back to the wallet when it ended
    #[schema(value_type = Option<f64>)]
    pub refund: Option<money::Major>,
    pub transaction_id: Option<i64>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    pub stop_reason: Option<String>,
    pub failure_reason: Option<String>,
    pub note: Option<String>,
    /// A failed start the charger may still begin (a late StartTransaction would re-open it with
    /// a new hold): its customer can cancel it with `POST /api/user/charging/stop`.
    pub resumable: bool,
}

impl SessionView {
    /// The view of a session on the charger with these (deviceId, chargingPointId).
    pub fn of(s: &Session, charger: (&str, &str)) -> Self {
        let ts = |t: Option<NaiveDateTime>| t.map(crate::infra::timestamps::format_timestamp);
        SessionView {
            session_id: s.session_uid.clone(),
            status: s.status.clone(),
            device_id: charger.0.to_string(),
            charging_point_id: charger.1.to_string(),
            connector_id: s.connector_id,
            customer_id: s.customer_id,
            origin: s.origin.clone(),
            id_tag: s.id_tag.clone(),
            amount: money::Major(s.amount),
            price_per_kwh: money::Major(s.price_per_kwh),
            energy_kwh: s.energy_wh as f64 / 1000.0,
            cost: money::Major(s.cost + s.late_cost),
            refund: s.refund.map(money::Major),
            transaction_id: s.transaction_id,
            created_at: crate::infra::timestamps::format_timestamp(s.created_at),
            started_at: ts(s.started_at),
            stopped_at: ts(s.stopped_at),
            stop_reason: s.stop_reason.clone(),
            failure_reason: s.failure_reason.clone(),
            note: s.stop_note.clone(),
            resumable: tags::resumable(s),
        }
    }

    pub fn load(c: &mut DbConnection, s: &Session) -> Result<Self, AppError> {
        let (device, cp): (String, String) = chargers::table
            .find(s.charger_id)
            .select((chargers::device_id, chargers::charging_point_id))
            .first(c)?;
        Ok(SessionView::of(s, (&device, &cp)))
    }
}

/// [`SessionView`] as JSON (for callers that pass it on untyped).
pub fn view_with(s: &Session, charger: (&str, &str)) -> Value {
    serde_json::to_value(SessionView::of(s, charger)).unwrap_or_default()
}

pub fn view(c: &mut DbConnection, s: &Session) -> Result<Value, AppError> {
    Ok(serde_json::to_value(SessionView::load(c, s)?).unwrap_or_default())
}

/// A customer's own session by its id (another customer's is `Session not found` too).
pub fn own(c: &mut DbConnection, customer_id: i64, uid: &str) -> Result<SessionView, AppError> {
    let s: Session = charging_sessions::table
        .filter(charging_sessions::session_uid.eq(uid))
        .filter(charging_sessions::customer_id.eq(customer_id))
        .select(Session::as_select())
        .first(c)
        .optional()?
        .ok_or(AppError::SessionNotFound)?;
    SessionView::load(c, &s)
}

/// Sessions with their charger's ids, newest first.
pub fn list(c: &mut DbConnection, filter: ListFilter) -> Result<Vec<SessionView>, AppError> {
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
    filter_given!(q,
        charging_sessions::customer_id => filter.customer_id,
        charging_sessions::status => filter.status,
        chargers::device_id => filter.device_id,
    );
    let rows: Vec<(Session, String, String)> = q.load(c)?;
    Ok(rows
        .iter()
        .map(|(s, d, cp)| SessionView::of(s, (d, cp)))
        .collect())
}

/// Which sessions to list; also the operator's query string (`limit` 200 when not given).
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListFilter {
    pub customer_id: Option<i64>,
    pub status: Option<String>,
    pub device_id: Option<String>,
    #[serde(default = "ListFilter::default_limit")]
    pub limit: i64,
}

impl ListFilter {
    fn default_limit() -> i64 {
        200
    }
}

/// Energy delivered that could not be billed, as the operator console shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteOffView {
    pub id: i64,
    pub device_id: String,
    pub connector_id: i32,
    pub transaction_id: Option<i64>,
    pub session_id: Option<String>,
    pub customer_id: Option<i64>,
    pub energy_kwh: f64,
    /// What the energy would have cost, major units
    #[schema(value_type = f64)]
    pub amount: money::Major,
    pub reason: String,
    pub created_at: String,
}

/// Write-offs, newest first, as the operator console shows them.
pub fn write_offs(c: &mut DbConnection, limit: i64) -> Result<Vec<WriteOffView>, AppError> {
    use crate::infra::db::models::WriteOff;
    use crate::infra::db::schema::write_offs;
    let rows: Vec<(WriteOff, String, Option<String>)> = write_offs::table
        .inner_join(chargers::table.on(chargers::id.eq(write_offs::charger_id)))
        .left_join(
            charging_sessions::table
                .on(charging_sessions::id.nullable().eq(write_offs::session_id)),
        )
        .order(write_offs::id.desc())
        .limit(limit.clamp(1, 1000))
        .select((
            WriteOff::as_select(),
            chargers::device_id,
            charging_sessions::session_uid.nullable(),
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(w, device_id, session_id)| WriteOffView {
            id: w.id,
            device_id,
            connector_id: w.connector_id,
            transaction_id: w.transaction_id,
            session_id,
            customer_id: w.customer_id,
            energy_kwh: w.energy_wh as f64 / 1000.0,
            amount: money::Major(w.amount),
            reason: w.reason,
            created_at: crate::infra::timestamps::format_timestamp(w.created_at),
        })
        .collect())
}
