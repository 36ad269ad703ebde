//! What the charger's StartTransaction, MeterValues and StopTransaction do to sessions and money.
//!
//! **Billing invariant.** Every transaction a charger reports is either billed against a funded hold
//! (an app start's session, a late start re-opened with a new hold, a customer's own idTag used at
//! the charger), belongs to an accepted fleet card that no wallet pays for, or is **refused**:
//! answered with a status other than `Accepted` *and* marked to be stopped, so that
//! RemoteStopTransaction is sent and re-sent until the charger stops it (see `stops`). No
//! transaction is ever accepted at price 0 for a customer.
//!
//! **Energy.** The energy billed is the best evidence: the largest of what MeterValues already
//! recorded, meterStop − meterStart and any other register reading; never less than already
//! metered, never more than the connector could have delivered (see `best_energy`).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::evidence::{
    Authorization, MeterReport, MeterValue, TransactionEnded, TransactionStarted,
};
use super::tags::{self, Payer, upper};
use super::{End, Policy};
use crate::domain::charging::status::SessionStatus;
use crate::error::AppError;
use crate::infra::db::models::{Charger, NewMeterValue, NewSession, OcppTransaction, Session};
use crate::infra::db::schema::{chargers, charging_sessions, customers, ocpp_transactions};
use crate::infra::db::{DbConnection, is_unique_violation, now, write_tx};
use crate::infra::events::Subject;
use crate::infra::timestamps;

/// Side effects the caller performs after the transaction committed.
#[derive(Default, Debug)]
pub struct FollowUp {
    /// A transaction was marked to be stopped: wake the stop retrier.
    pub stop: bool,
    /// A connector of this charger may have been freed: forget the occupancy hints.
    pub released: bool,
    /// Live progress of a session for SSE subscribers.
    pub progress: Option<(Subject, serde_json::Value)>,
}

pub struct Started {
    pub transaction_id: i64,
    pub id_tag_info: Authorization,
    pub follow_up: FollowUp,
    /// A customer's wallet pays for it (see `auth_cache`).
    pub wallet_paid: bool,
}

/// Marks an open transaction to be stopped: the stop retrier sends RemoteStopTransaction now and
/// again with back-off until the charger's StopTransaction closes it.
/// Takes the transaction's row lock for the rest of the database transaction (PostgreSQL; on
/// SQLite the write transaction already holds the whole database). A path that changes a
/// transaction and its session takes the transaction first, as the charger's StopTransaction and
/// MeterValues do: the reverse order deadlocks against them.
pub fn lock(c: &mut DbConnection, tx_id: i64) -> Result<(), AppError> {
    diesel::update(ocpp_transactions::table.find(tx_id))
        .set(ocpp_transactions::stop_reason.eq(ocpp_transactions::stop_reason))
        .execute(c)?;
    Ok(())
}

pub fn request_stop(c: &mut DbConnection, tx_id: i64) -> Result<bool, AppError> {
    let n = diesel::update(
        ocpp_transactions::table
            .find(tx_id)
            .filter(ocpp_transactions::stopped_at.is_null()),
    )
    .set(ocpp_transactions::stop_next_at.eq(now()))
    .execute(c)?;
    Ok(n == 1)
}

/// Whether the charger has a transaction open, or one csms still asks it to stop. Two existence
/// checks, each on its own partial index (`ocpp_transactions_open`, `ocpp_transactions_stopping`),
/// so the cost does not grow with the charger's history.
pub fn has_running(c: &mut DbConnection, charger_id: i64) -> Result<bool, AppError> {
    let open = ocpp_transactions::table
        .filter(ocpp_transactions::charger_id.eq(charger_id))
        .filter(ocpp_transactions::stopped_at.is_null());
    let stopping = ocpp_transactions::table
        .filter(ocpp_transactions::charger_id.eq(charger_id))
        .filter(ocpp_transactions::stop_next_at.is_not_null());
    Ok(
        diesel::select(diesel::dsl::exists(open)).get_result::<bool>(c)?
            || diesel::select(diesel::dsl::exists(stopping)).get_result::<bool>(c)?,
    )
}

/// StartTransaction. A repeat of a transaction already recorded (the same message again, or a retry
/// with a fresh timestamp: same connector, idTag in any case and meterStart, still open) gets the
/// same transactionId and the same answer. Otherwise the transaction is recorded, whatever the
/// charger left open on the connector is closed (it moved on), and the idTag decides who pays.
pub fn start_transaction(
    c: &mut DbConnection,
    charger_id: i64,
    req: &TransactionStarted,
    policy: &Policy,
) -> Result<Started, AppError> {
    let tag = tags::normalize(&req.id_tag);
    let started_at = timestamps::parse_timestamp(&req.timestamp).unwrap_or_else(now);
    let result = write_tx(c, |c| -> Result<Started, AppError> {
        // A station that names its transactions is recognised by that name (`station_transactions`):
        // another name is another transaction, whatever it shares with an earlier one.
        if req.station_transaction.is_none()
            && let Some(tx) = repeated(c, charger_id, req, &tag, started_at)?
        {
            return replayed(c, charger_id, &tx);
        }
        let tx_id: i64 = diesel::insert_into(ocpp_transactions::table)
            .values((
                ocpp_transactions::charger_id.eq(charger_id),
                ocpp_transactions::connector_id.eq(req.connector_id),
                ocpp_transactions::id_tag.eq(&req.id_tag),
                ocpp_transactions::meter_start.eq(req.meter_start),
                ocpp_transactions::started_at.eq(started_at),
                ocpp_transactions::reservation_id.eq(req.reservation_id),
                ocpp_transactions::created_at.eq(now()),
            ))
            .returning(ocpp_transactions::id)
            .get_result(c)?;
        if let Some(row) = req.station_transaction {
            super::station_transactions::linked(c, row, tx_id)?;
        }
        let mut follow_up = FollowUp {
            released: supersede(c, charger_id, req, tx_id, &tag, started_at, policy)?,
            ..Default::default()
        };
        let (info, session_id) = decide(c, charger_id, req, &tag, tx_id, started_at, policy)?;
        if let Some(reservation) = req.reservation_id {
            crate::domain::reservations::used_by_transaction(
                c,
                charger_id,
                i64::from(reservation),
                session_id,
                req.connector_id,
            )?;
        }
        let (linked_stopping, wallet_paid) = match session_id {
            Some(sid) => {
                let s = super::load(c, sid)?;
                (s.status == SessionStatus::Stopping, s.customer_id.is_some())
            }
            None => (false, false),
        };
        // Refused, or the customer pressed Stop before the charger started: stop it.
        let must_stop = info.status != "Accepted" || session_id.is_none() || linked_stopping;
        diesel::update(ocpp_transactions::table.find(tx_id))
            .set((
                ocpp_transactions::session_id.eq(session_id),
                ocpp_transactions::id_tag_status.eq(&info.status),
                ocpp_transactions::stop_next_at
                    .eq(must_stop.then(|| stop_from(req, linked_stopping))),
            ))
            .execute(c)?;
        if must_stop {
            log::warn!(
                "charger {charger_id} connector {}: transaction {tx_id} (idTag {}) {}: stopping it",
                req.connector_id,
                req.id_tag,
                if linked_stopping {
                    "was stopped by the customer before it began".to_string()
                } else {
                    format!("refused ({})", info.status)
                }
            );
            follow_up.stop = true;
        }
        Ok(Started {
            transaction_id: tx_id,
            id_tag_info: info,
            follow_up,
            wallet_paid,
        })
    });
    match result {
        // The same message twice at the same moment: the replay index decided; answer the same.
        Err(AppError::Database(e)) if is_unique_violation(&e) => {
            let tx: OcppTransaction = ocpp_transactions::table
                .filter(ocpp_transactions::charger_id.eq(charger_id))
                .filter(ocpp_transactions::connector_id.eq(req.connector_id))
                .filter(ocpp_transactions::id_tag.eq(&req.id_tag))
                .filter(ocpp_transactions::meter_start.eq(req.meter_start))
                .filter(ocpp_transactions::started_at.eq(started_at))
                .select(OcppTransaction::as_select())
                .first(c)?;
            replayed(c, charger_id, &tx)
        }
        other => other,
    }
}

/// A station that names its own transactions (OCPP 2.0.1) hears a refusal in the answer and stops
/// by itself (StopTxOnInvalidId): csms sends the stop only if it has not ended the transaction
/// within this grace, so that its own call does not cross the station's end. A transaction the
/// customer already asked to stop is stopped at once.
pub const SELF_STOP_GRACE: chrono::Duration = chrono::Duration::seconds(15);

/// When the stop of a transaction that must be stopped is first sent.
fn stop_from(req: &TransactionStarted, customer_stopped: bool) -> NaiveDateTime {
    match req.station_transaction {
        Some(_) if !customer_stopped => now() + SELF_STOP_GRACE,
        _ => now(),
    }
}

/// A transaction this StartTransaction repeats: the exact message again, or a retry with a fresh
/// timestamp of one that is still open.
fn repeated(
    c: &mut DbConnection,
    charger_id: i64,
    req: &TransactionStarted,
    tag: &str,
    started_at: NaiveDateTime,
) -> Result<Option<OcppTransaction>, AppError> {
    Ok(ocpp_transactions::table
        .filter(ocpp_transactions::charger_id.eq(charger_id))
        .filter(ocpp_transactions::connector_id.eq(req.connector_id))
        .filter(upper(ocpp_transactions::id_tag).eq(tag))
        .filter(ocpp_transactions::meter_start.eq(req.meter_start))
        .filter(
            ocpp_transactions::stopped_at
                .is_null()
                .or(ocpp_transactions::started_at.eq(started_at)),
        )
        .order(ocpp_transactions::id.desc())
        .select(OcppTransaction::as_select())
        .first(c)
        .optional()?)
}

fn replayed(
    c: &mut DbConnection,
    charger_id: i64,
    tx: &OcppTransaction,
) -> Result<Started, AppError> {
    log::info!(
        "charger {charger_id}: StartTransaction repeats transaction {}",
        tx.id
    );
    let info = tags::answer_again(c, tx)?;
    Ok(Started {
        transaction_id: tx.id,
        id_tag_info: info,
        follow_up: FollowUp::default(),
        wallet_paid: false,
    })
}

/// A new transaction on a connector means the charger moved on: transactions it left open there
/// (a lost StopTransaction) are closed and their sessions settled (the new meterStart is evidence of
/// the old one's energy), and app sessions still waiting there for another idTag are failed and
/// refunded. Returns whether anything was closed.
fn supersede(
    c: &mut DbConnection,
    charger_id: i64,
    req: &TransactionStarted,
    tx_id: i64,
    tag: &str,
    started_at: NaiveDateTime,
    policy: &Policy,
) -> Result<bool, AppError> {
    let stale: Vec<OcppTransaction> = ocpp_transactions::table
        .filter(ocpp_transactions::charger_id.eq(charger_id))
        .filter(ocpp_transactions::connector_id.eq(req.connector_id))
        .filter(ocpp_transactions::stopped_at.is_null())
        .filter(ocpp_transactions::id.ne(tx_id))
        .select(OcppTransaction::as_select())
        .load(c)?;
    let mut closed = false;
    for old in stale {
        log::warn!(
            "charger {charger_id} connector {}: transaction {} superseded by {tx_id}",
            req.connector_id,
            old.id
        );
        let hint = req
            .meter_start
            .checked_sub(old.meter_start)
            .filter(|e| *e >= 0);
        let how = super::orphans::Closing {
            reason: "Superseded",
            at: started_at,
            energy_hint: hint,
            note: Some("a newer transaction started on the connector"),
            keep_stopping: false,
        };
        closed |= super::orphans::close_transaction(c, &old, how, policy)?;
    }
    // Force-closed transactions csms was still asking the charger to stop: it moved on.
    let later = now() + chrono::Duration::days(1);
    closed |= super::orphans::no_longer_running(c, charger_id, req.connector_id, later)? > 0;
    let waiting: Vec<Session> = charging_sessions::table
        .filter(charging_sessions::charger_id.eq(charger_id))
        .filter(charging_sessions::connector_id.eq(req.connector_id))
        .filter(charging_sessions::status.eq_any(SessionStatus::OPEN))
        .filter(charging_sessions::transaction_id.is_null())
        .select(Session::as_select())
        .load(c)?;
    for s in waiting {
        if s.start_tag.as_deref() == Some(tag) {
            continue;
        }
        log::warn!(
            "session {}: charger {charger_id} started another transaction on connector {}: failed",
            s.session_uid,
            req.connector_id
        );
        closed |= super::fail(
            c,
            s.id,
            super::Failure::ConnectorTaken,
            &SessionStatus::OPEN,
        )?;
    }
    Ok(closed)
}

/// Who pays for the new transaction: its idTagInfo, and the session it belongs to (`None`: refused).
fn decide(
    c: &mut DbConnection,
    charger_id: i64,
    req: &TransactionStarted,
    tag: &str,
    tx_id: i64,
    started_at: NaiveDateTime,
    policy: &Policy,
) -> Result<(Authorization, Option<i64>), AppError> {
    let refused = |status: &str| Ok((Authorization::status(status), None));
    let opening = |customer_id, origin, amount, price, resumed_from| Opening {
        charger_id,
        connector_id: req.connector_id,
        customer_id,
        origin,
        id_tag: &req.id_tag,
        amount,
        price,
        resumed_from,
        tx_id,
        meter_start: req.meter_start,
        started_at,
    };
    match tags::identify(c, charger_id, tag, req.id_token_type.as_deref())? {
        Payer::AppStart(found) => {
            let mut s = super::load(c, found.id)?; // `supersede` may have changed it
            let open = SessionStatus::is_open(&s.status);
            if open && s.transaction_id.is_none() && s.connector_id == req.connector_id {
                if let Some(linked) = link(c, &s, tx_id, req.meter_start)? {
                    return Ok(linked);
                }
                // The session changed while this waited for its row: on PostgreSQL the start was
                // given up (offline, timeout) and refunded by a transaction that committed first.
                // Decide again on what it is now: usually a late start, billed with a new hold.
                s = super::load(c, found.id)?;
            }
            let open = SessionStatus::is_open(&s.status);
            if open {
                log::warn!(
                    "session {}: its idTag started transaction {tx_id} on connector {} instead of {}",
                    s.session_uid,
                    req.connector_id,
                    s.connector_id
                );
                return refused(if s.transaction_id.is_some() {
                    "ConcurrentTx"
                } else {
                    "Invalid"
                });
            }
            if !tags::resumable(&s) || s.connector_id != req.connector_id {
                return refused("Invalid"); // the session ended: its tag is spent
            }
            // A late start: the start was given up (timeout, offline, recovery), the charger
            // started anyway. It charges the same customer, at the same price, with a new hold.
            let Some(customer) = s.customer_id else {
                return refused("Invalid");
            };
            log::warn!(
                "session {}: late StartTransaction {tx_id} after the start was given up: re-opening it with a new hold",
                s.session_uid
            );
            let o = opening(Some(customer), "app", s.amount, s.price_per_kwh, Some(s.id));
            Ok(match open_session(c, &o)? {
                Ok(id) => (tags::wallet_accepted(None), Some(id)),
                Err(status) => (Authorization::status(status), None),
            })
        }
        Payer::Customer { .. } | Payer::Fleet(_) if tags::in_transaction(c, tag, Some(tx_id))? => {
            refused("ConcurrentTx") // the same card is charging elsewhere
        }
        Payer::Customer { customer_id, info } => {
            let balance: i64 = customers::table
                .find(customer_id)
                .select(customers::balance)
                .first(c)?;
            let hold = balance.min(policy.rfid_hold);
            if hold <= 0 {
                return refused("Blocked");
            }
            let price = price_of(c, charger_id, policy)?;
            let o = opening(Some(customer_id), "local", hold, price, None);
            Ok(match open_session(c, &o)? {
                Ok(id) => (info, Some(id)),
                Err(status) => (Authorization::status(status), None),
            })
        }
        Payer::Fleet(info) => {
            let price = price_of(c, charger_id, policy)?;
            let o = opening(None, "local", 0, price, None);
            Ok(match open_session(c, &o)? {
                Ok(id) => (info, Some(id)),
                Err(status) => (Authorization::status(status), None),
            })
        }
        Payer::Refused(info) => Ok((info, None)),
    }
}

/// The StartTransaction of a waiting app session: the session takes the transaction (and becomes
/// active if the RemoteStartTransaction answer has not arrived yet).
/// `None` when the session is no longer waiting (it was failed or linked meanwhile).
fn link(
    c: &mut DbConnection,
    s: &Session,
    tx_id: i64,
    meter_start: i64,
) -> Result<Option<(Authorization, Option<i64>)>, AppError> {
    super::activate(c, s.id, None)?; // StartTransaction may overtake the RemoteStart answer
    let linked = diesel::update(
        charging_sessions::table
            .find(s.id)
            .filter(charging_sessions::transaction_id.is_null())
            .filter(
                charging_sessions::status.eq_any([SessionStatus::Active, SessionStatus::Stopping]),
            ),
    )
    .set((
        charging_sessions::transaction_id.eq(tx_id),
        charging_sessions::meter_start.eq(meter_start),
        charging_sessions::meter_last.eq(meter_start),
        charging_sessions::updated_at.eq(now()),
    ))
    .execute(c)?;
    Ok((linked == 1).then(|| (tags::wallet_accepted(None), Some(s.id))))
}

fn price_of(c: &mut DbConnection, charger_id: i64, policy: &Policy) -> Result<i64, AppError> {
    let charger: Charger = chargers::table
        .find(charger_id)
        .select(Charger::as_select())
        .first(c)?;
    super::price_for(c, &charger, policy.default_price)
}

/// A session for a transaction the charger already runs.
struct Opening<'a> {
    charger_id: i64,
    connector_id: i32,
    customer_id: Option<i64>,
    origin: &'a str,
    id_tag: &'a str,
    /// The hold taken from the customer's wallet (0 for fleet cards).
    amount: i64,
    price: i64,
    resumed_from: Option<i64>,
    tx_id: i64,
    meter_start: i64,
    started_at: NaiveDateTime,
}

/// Opens an active session with its hold, in a savepoint. `Err(status)` (nothing written): the
/// wallet cannot fund the hold (`Blocked`), or another open session holds the connector.
fn open_session(c: &mut DbConnection, o: &Opening) -> Result<Result<i64, &'static str>, AppError> {
    let uid = format!("SESS_{}", uuid::Uuid::new_v4().simple());
    let t = now();
    let new = NewSession {
        session_uid: &uid,
        customer_id: o.customer_id,
        charger_id: o.charger_id,
        connector_id: o.connector_id,
        origin: o.origin,
        id_tag: o.id_tag,
        status: SessionStatus::Active.as_str(),
        amount: o.amount,
        price_per_kwh: o.price,
        transaction_id: Some(o.tx_id),
        meter_start: Some(o.meter_start),
        idempotency_key: None,
        created_at: t,
        started_at: Some(o.started_at),
        updated_at: t,
        start_tag: None,
        owner_node: None,
        request_hash: None,
        resumed_from: o.resumed_from,
    };
    // A savepoint: a unique violation or a short wallet must not abort the surrounding transaction.
    let opened = c.transaction(|c| -> Result<Session, AppError> {
        let id: i64 = diesel::insert_into(charging_sessions::table)
            .values(&new)
            .returning(charging_sessions::id)
            .get_result(c)?;
        let s = super::load(c, id)?;
        if let (Some(customer), true) = (s.customer_id, s.amount > 0) {
            let note = match s.resumed_from {
                Some(_) => "Late start: prepaid charging session",
                None => "Charging started at the charger",
            };
            crate::domain::wallet::apply(
                c,
                customer,
                -s.amount,
                crate::domain::wallet::Kind::ChargeHold,
                Some(s.id),
                Some(note),
            )?;
        }
        let v = super::view(c, &s)?;
        crate::infra::events::record(c, "charging.started", super::subject(&s), v)?;
        Ok(s)
    });
    match opened {
        Ok(s) => Ok(Ok(s.id)),
        Err(AppError::InsufficientBalance) => Ok(Err("Blocked")),
        Err(AppError::Database(e)) if is_unique_violation(&e) => {
            log::warn!(
                "charger {} connector {}: transaction {} while another session holds the connector",
                o.charger_id,
                o.connector_id,
                o.tx_id
            );
            Ok(Err("Invalid"))
        }
        Err(e) => Err(e),
    }
}

/// The rows a MeterValues (or StopTransaction.transactionData) stores, and the last energy register.
pub fn meter_rows(
    charger_id: i64,
    connector_id: i32,
    transaction_id: Option<i64>,
    values: &[MeterValue],
) -> (Vec<NewMeterValue>, Option<i64>) {
    let t = now();
    let mut last_energy = None;
    let rows = values
        .iter()
        .map(|mv| {
            let energy = mv.energy_wh();
            if energy.is_some() {
                last_energy = energy;
            }
            NewMeterValue {
                charger_id,
                connector_id,
                transaction_id,
                sampled_at: timestamps::parse_timestamp(&mv.timestamp).unwrap_or(t),
                energy_wh: energy,
                sampled_values: serde_json::to_string(&mv.sampled_value).unwrap_or_default(),
                created_at: t,
            }
        })
        .collect();
    (rows, last_energy)
}

fn store_meter_values(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
    transaction_id: Option<i64>,
    values: &[MeterValue],
) -> Result<Option<i64>, AppError> {
    let (rows, last_energy) = meter_rows(charger_id, connector_id, transaction_id, values);
    crate::infra::db::insert_meter_values(c, &rows)?;
    Ok(last_energy)
}

/// MeterValues: stored; for a session's transaction the energy and cost are updated, and when the
/// cost reaches the prepaid amount the transaction is marked to be stopped.
pub fn meter_values(
    c: &mut DbConnection,
    charger_id: i64,
    req: &MeterReport,
    policy: &Policy,
) -> Result<FollowUp, AppError> {
    let mut follow_ups = write_tx(c, |c| meter_values_batch(c, &[(charger_id, req)], policy))?;
    Ok(follow_ups.pop().unwrap_or_default())
}

/// Many MeterValues messages (of many chargers, in arrival order) stored set-wise inside the
/// caller's transaction: one multi-row insert for their meter rows, one read of the sessions their
/// transactions belong to (with their chargers' ids), and one UPDATE for all of those sessions,
/// however many messages the batch holds. Per message, the session's energy follows the best
/// evidence (a lower reading, from a meter reset or a late message, never takes it back) and
/// reaching the prepaid amount marks the transaction to be stopped (rare: one statement more for
/// each such session). Returns one follow-up per message, with the session as it stood after it.
pub fn meter_values_batch(
    c: &mut DbConnection,
    batch: &[(i64, &MeterReport)],
    policy: &Policy,
) -> Result<Vec<FollowUp>, AppError> {
    let mut rows = Vec::new();
    let mut readings = Vec::with_capacity(batch.len());
    for (charger_id, req) in batch {
        let (r, energy) = meter_rows(
            *charger_id,
            req.connector_id,
            req.transaction_id,
            &req.meter_value,
        );
        rows.extend(r);
        readings.push(req.transaction_id.zip(energy));
    }
    crate::infra::db::insert_meter_values(c, &rows)?;
    let mut follow_ups: Vec<FollowUp> = batch.iter().map(|_| FollowUp::default()).collect();
    let tx_ids: Vec<i64> = readings.iter().flatten().map(|(tx, _)| *tx).collect();
    if tx_ids.is_empty() {
        return Ok(follow_ups);
    }
    // The open sessions of those transactions, with their chargers' ids for the progress view.
    let mut sessions: HashMap<i64, (Session, String, String, bool)> = charging_sessions::table
        .inner_join(chargers::table)
        .filter(charging_sessions::transaction_id.eq_any(&tx_ids))
        .filter(charging_sessions::status.eq_any([SessionStatus::Active, SessionStatus::Stopping]))
        .select((
            Session::as_select(),
            chargers::device_id,
            chargers::charging_point_id,
        ))
        .load::<(Session, String, String)>(c)?
        .into_iter()
        .filter_map(|(s, device, cp)| Some((s.transaction_id?, (s, device, cp, false))))
        .collect();
    let t = now();
    let after_close: Vec<(i64, i64, i64)> = readings
        .iter()
        .zip(batch)
        .filter_map(|(r, (charger_id, _))| r.map(|(tx, e)| (*charger_id, tx, e)))
        .filter(|(_, tx, _)| !sessions.contains_key(tx))
        .collect();
    if !after_close.is_empty() {
        after_close_readings(c, &after_close, policy)?;
    }
    let mut to_stop = Vec::new();
    for ((charger_id, _), (reading, follow_up)) in batch
        .iter()
        .zip(readings.into_iter().zip(follow_ups.iter_mut()))
    {
        let Some((tx_id, register)) = reading else {
            continue;
        };
        let Some((s, device, cp, touched)) = sessions
            .get_mut(&tx_id)
            .filter(|(s, ..)| s.charger_id == *charger_id)
        else {
            continue;
        };
        let since_start = s.meter_start.and_then(|start| register.checked_sub(start));
        if since_start.is_some_and(|r| r < s.energy_wh) {
            log::info!(
                "session {}: register {register} Wh reads below what was metered ({} Wh since the start): meter reset or a late message, kept {} Wh",
                s.session_uid,
                s.energy_wh,
                s.energy_wh
            );
        }
        s.energy_wh = super::best_energy(s, None, since_start, policy);
        s.cost = super::billing::hold_cost(
            s,
            crate::domain::money::energy_cost(s.energy_wh, s.price_per_kwh),
        );
        s.meter_last = Some(register);
        s.updated_at = t;
        *touched = true;
        if s.amount > 0
            && crate::domain::money::energy_cost(s.energy_wh, s.price_per_kwh) >= s.amount
            && s.status == SessionStatus::Active
            && !s.remote_stop_sent
        {
            s.status = SessionStatus::Stopping.as_str().into();
            s.remote_stop_sent = true;
            to_stop.push(s.id);
            log::info!(
                "session {}: prepaid amount used up, stopping transaction {tx_id}",
                s.session_uid
            );
            follow_up.stop = request_stop(c, tx_id)?;
        }
        follow_up.progress = Some((super::subject(s), super::view_with(s, (device, cp))));
    }
    let touched: Vec<&Session> = sessions
        .values()
        .filter(|(.., touched)| *touched)
        .map(|(s, ..)| s)
        .collect();
    update_metered(c, &touched, t)?;
    if !to_stop.is_empty() {
        diesel::update(
            charging_sessions::table
                .filter(charging_sessions::id.eq_any(&to_stop))
                .filter(charging_sessions::remote_stop_sent.eq(false))
                .filter(charging_sessions::status.eq(SessionStatus::Active)),
        )
        .set((
            charging_sessions::remote_stop_sent.eq(true),
            charging_sessions::status.eq(SessionStatus::Stopping),
        ))
        .execute(c)?;
    }
    Ok(follow_ups)
}

/// Readings `(charger, transaction, register)` of transactions without an open session. Rare: a
/// transaction an operator force-closed that the charger still runs (it is still being asked to
/// stop) goes on delivering energy, and what it delivers after the close is written off as it is
/// reported (see `billing::settle_late`). Anything else (a refused transaction, a reading that
/// overtook its StopTransaction) is only stored.
fn after_close_readings(
    c: &mut DbConnection,
    readings: &[(i64, i64, i64)],
    policy: &Policy,
) -> Result<(), AppError> {
    let tx_ids: Vec<i64> = readings.iter().map(|(_, tx, _)| *tx).collect();
    let closed: HashMap<i64, (i64, i64, i64)> = ocpp_transactions::table
        .inner_join(
            charging_sessions::table.on(charging_sessions::id
                .nullable()
                .eq(ocpp_transactions::session_id)),
        )
        .filter(ocpp_transactions::id.eq_any(&tx_ids))
        .filter(ocpp_transactions::stopped_at.is_not_null())
        .filter(ocpp_transactions::stop_next_at.is_not_null())
        .filter(charging_sessions::status.eq(SessionStatus::Completed))
        .select((
            ocpp_transactions::id,
            ocpp_transactions::charger_id,
            charging_sessions::id,
            ocpp_transactions::meter_start,
        ))
        .load::<(i64, i64, i64, i64)>(c)?
        .into_iter()
        .map(|(tx, charger, session, start)| (tx, (charger, session, start)))
        .collect();
    for (charger_id, tx, register) in readings {
        let Some((owner, session_id, meter_start)) = closed.get(tx) else {
            continue;
        };
        if owner != charger_id {
            continue;
        }
        if let Some(energy) = register.checked_sub(*meter_start).filter(|e| *e >= 0) {
            super::settle_late(c, *session_id, None, Some(energy), policy)?;
        }
    }
    Ok(())
}

/// One UPDATE for many sessions' meter readings (`CASE id WHEN … THEN …` per column), for sessions
/// still open: a session settled meanwhile keeps its settlement. The values are integers formatted
/// by this function; the one timestamp is bound.
fn update_metered(
    c: &mut DbConnection,
    sessions: &[&Session],
    t: chrono::NaiveDateTime,
) -> Result<(), AppError> {
    use diesel::sql_types::Timestamp;
    use std::fmt::Write;
    for chunk in sessions.chunks(500) {
        let column = |name: &str, value: &dyn Fn(&Session) -> i64| {
            let mut sql = format!("{name} = CASE id");
            for s in chunk {
                let _ = write!(sql, " WHEN {} THEN {}", s.id, value(s));
            }
            sql + " END"
        };
        let ids: Vec<String> = chunk.iter().map(|s| s.id.to_string()).collect();
        let set = [
            column("meter_last", &|s| s.meter_last.unwrap_or_default()),
            column("energy_wh", &|s| s.energy_wh),
            column("cost", &|s| s.cost),
        ]
        .join(", ");
        let sql = |param: &str| {
            format!(
                "UPDATE charging_sessions SET {set}, updated_at = {param} \
                 WHERE id IN ({}) AND status IN ('active', 'stopping')",
                ids.join(",")
            )
        };
        match c {
            DbConnection::Postgresql(pg) => {
                diesel::sql_query(sql("$1"))
                    .bind::<Timestamp, _>(t)
                    .execute(pg)?;
            }
            DbConnection::Sqlite(lite) => {
                diesel::sql_query(sql("?"))
                    .bind::<Timestamp, _>(t)
                    .execute(lite)?;
            }
        }
    }
    Ok(())
}

pub struct Stopped {
    pub id_tag_info: Option<Authorization>,
    pub follow_up: FollowUp,
}

/// StopTransaction: closes the transaction exactly once and settles its session from the best
/// evidence. For a transaction csms had already closed (lost, superseded, force-closed), a late
/// StopTransaction bills what it shows beyond what was settled, as do readings taken before an end
/// that arrive after it (`later_readings`); a replay changes nothing and gets the same answer.
/// Either way the charger gets an answer.
pub fn stop_transaction(
    c: &mut DbConnection,
    charger_id: i64,
    req: &TransactionEnded,
    policy: &Policy,
) -> Result<Stopped, AppError> {
    let stopped_at = timestamps::parse_timestamp(&req.timestamp).unwrap_or_else(now);
    write_tx(c, |c| {
        let info = match &req.id_tag {
            Some(tag) => Some(tags::authorize(c, charger_id, tag, None)?),
            None => None,
        };
        let mut follow_up = FollowUp::default();
        let tx: Option<OcppTransaction> = ocpp_transactions::table
            .filter(ocpp_transactions::id.eq(req.transaction_id))
            .filter(ocpp_transactions::charger_id.eq(charger_id))
            .select(OcppTransaction::as_select())
            .first(c)
            .optional()?;
        let Some(tx) = tx else {
            log::warn!(
                "charger {charger_id}: StopTransaction for unknown transaction {}",
                req.transaction_id
            );
            return Ok(Stopped {
                id_tag_info: info,
                follow_up,
            });
        };
        let reason = req.reason.as_deref().unwrap_or("Local");
        let closed = diesel::update(
            ocpp_transactions::table
                .find(tx.id)
                .filter(ocpp_transactions::stopped_at.is_null()),
        )
        .set((
            ocpp_transactions::meter_stop.eq(req.meter_stop),
            ocpp_transactions::stopped_at.eq(stopped_at),
            ocpp_transactions::stop_reason.eq(reason),
            ocpp_transactions::stop_id_tag.eq(&req.id_tag),
            ocpp_transactions::stop_next_at.eq(None::<NaiveDateTime>),
        ))
        .execute(c)?;
        // Closed by csms without the charger's numbers: this is the late StopTransaction.
        let late = closed == 0
            && diesel::update(
                ocpp_transactions::table
                    .find(tx.id)
                    .filter(ocpp_transactions::meter_stop.is_null()),
            )
            .set((
                ocpp_transactions::meter_stop.eq(req.meter_stop),
                ocpp_transactions::late_stop_at.eq(now()),
                ocpp_transactions::stop_id_tag.eq(&req.id_tag),
                // A force-closed transaction was still being stopped: it has stopped now.
                ocpp_transactions::stop_next_at.eq(None::<NaiveDateTime>),
            ))
            .execute(c)?
                == 1;
        // Readings taken before the end that came after it (out of order) and show more than it
        // recorded: late evidence for the session (a repeated end is a replay, whatever it says).
        let raised = closed == 0
            && !late
            && req.later_readings
            && diesel::update(
                ocpp_transactions::table
                    .find(tx.id)
                    .filter(ocpp_transactions::session_id.is_not_null())
                    .filter(ocpp_transactions::meter_stop.lt(req.meter_stop)),
            )
            .set(ocpp_transactions::meter_stop.eq(req.meter_stop))
            .execute(c)?
                == 1;
        if closed == 0 && !late && !raised {
            return Ok(Stopped {
                id_tag_info: info,
                follow_up,
            }); // a replay: already settled
        }
        follow_up.released = true;
        let stored = store_meter_values(
            c,
            charger_id,
            tx.connector_id,
            Some(tx.id),
            &req.transaction_data,
        )?;
        let hint = stored
            .and_then(|r| r.checked_sub(tx.meter_start))
            .filter(|e| *e >= 0);
        match (tx.session_id, late || raised) {
            (Some(sid), false) => {
                let end = End {
                    reason,
                    stopped_at,
                    meter_stop: Some(req.meter_stop),
                    energy_hint: hint,
                    note: None,
                };
                super::finalize(c, sid, end, policy)?;
            }
            (Some(sid), true) => {
                super::settle_late(c, sid, Some(req.meter_stop), hint, policy)?;
            }
            (None, _) => refused_energy(c, &tx, req.meter_stop, hint, policy)?,
        }
        Ok(Stopped {
            id_tag_info: info,
            follow_up,
        })
    })
}

/// A refused transaction that delivered energy before it stopped: nobody can be billed, so it is
/// written off for the operator to see.
fn refused_energy(
    c: &mut DbConnection,
    tx: &OcppTransaction,
    meter_stop: i64,
    hint: Option<i64>,
    policy: &Policy,
) -> Result<(), AppError> {
    let claimed = meter_stop
        .checked_sub(tx.meter_start)
        .into_iter()
        .chain(hint)
        .filter(|e| *e >= 0)
        .max()
        .unwrap_or(0);
    let energy_wh = claimed.min(super::plausible_wh(tx.created_at, policy, now()));
    if energy_wh <= 0 {
        return Ok(());
    }
    let price = price_of(c, tx.charger_id, policy)?;
    super::write_off(
        c,
        super::WriteOffRow {
            charger_id: tx.charger_id,
            connector_id: tx.connector_id,
            transaction_id: Some(tx.id),
            session_id: None,
            customer_id: None,
            energy_wh,
            amount: crate::domain::money::energy_cost(energy_wh, price),
            reason: super::WriteOffReason::Refused,
        },
    )
}
