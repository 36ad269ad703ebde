//! No session stays open without evidence. A charger that loses a transaction (power loss, hard
//! reset) never sends its StopTransaction; csms closes what the charger can no longer be running,
//! settles it from the last meter reading and refunds the unused hold, when:
//! - the charger booted after the transaction began and then reports the connector `Available` or
//!   `Preparing` ([`after_status`]), or starts another transaction there (`transactions::supersede`);
//! - the connector has been reported `Available` for longer than `CSMS_ORPHAN_GRACE_SECS`, since
//!   after the transaction began ([`by_grace`]);
//! - an operator force-closes the session ([`force_close`]).
//!
//! A StopTransaction that turns up later is still answered and may bill more (`settle_late`),
//! never beyond the amount the customer authorized.
//!
//! A force-closed transaction may still be running on the charger: it stays marked to be stopped
//! (`stop_next_at`), so RemoteStopTransaction is re-sent like any stop until the charger's
//! StopTransaction arrives, it reboots and reports the connector free, the connector is reported
//! `Available` past the grace period, or another transaction starts there. Energy it delivers
//! after the close is written off (see `billing`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{End, Policy};
use crate::domain::charging::status::SessionStatus;
use crate::domain::telemetry::ConnectorStatus;
use crate::error::AppError;
use crate::infra::db::models::{OcppTransaction, Session};
use crate::infra::db::schema::{chargers, charging_sessions, connectors, ocpp_transactions};
use crate::infra::db::{DbConnection, now, write_tx};

/// The stop reason of a session an operator force-closed.
pub const FORCE_CLOSED: &str = "ForceClosed";

/// How csms closes a transaction on its own side.
pub struct Closing<'a> {
    pub reason: &'a str,
    pub at: NaiveDateTime,
    /// Energy (Wh since meterStart) that other evidence shows.
    pub energy_hint: Option<i64>,
    pub note: Option<&'a str>,
    /// The charger may still be running it (an operator's force-close): keep asking it to stop.
    /// Otherwise the charger is known to have moved on, and no stop is sent any more.
    pub keep_stopping: bool,
}

/// Closes an open transaction on csms's side (its `meterStop` stays unknown, so a late
/// StopTransaction can still settle the difference) and settles its session. Exactly once: returns
/// false if it was already closed.
pub fn close_transaction(
    c: &mut DbConnection,
    tx: &OcppTransaction,
    how: Closing,
    policy: &Policy,
) -> Result<bool, AppError> {
    let Closing {
        reason,
        at,
        energy_hint,
        note,
        keep_stopping,
    } = how;
    let n = diesel::update(
        ocpp_transactions::table
            .find(tx.id)
            .filter(ocpp_transactions::stopped_at.is_null()),
    )
    .set((
        ocpp_transactions::stopped_at.eq(at),
        ocpp_transactions::stop_reason.eq(reason),
        ocpp_transactions::stop_next_at.eq(keep_stopping.then(now)),
    ))
    .execute(c)?;
    if n == 0 {
        return Ok(false);
    }
    if let Some(sid) = tx.session_id {
        let end = End {
            reason,
            stopped_at: at,
            meter_stop: None,
            energy_hint,
            note,
        };
        super::finalize(c, sid, end, policy)?;
    }
    Ok(true)
}

/// Settles a transaction the charger no longer runs, now, from its last meter reading. 1 when it
/// closed it (0: another path closed it first).
fn settle_left_open(
    c: &mut DbConnection,
    tx: &OcppTransaction,
    reason: &str,
    note: &str,
    policy: &Policy,
) -> Result<usize, AppError> {
    let how = Closing {
        reason,
        at: now(),
        energy_hint: None,
        note: Some(note),
        keep_stopping: false,
    };
    Ok(usize::from(close_transaction(c, tx, how, policy)?))
}

/// The transactions csms holds open on a connector.
#[diesel::dsl::auto_type]
fn open_on(charger_id: i64, connector_id: i32) -> _ {
    ocpp_transactions::table
        .filter(ocpp_transactions::charger_id.eq(charger_id))
        .filter(ocpp_transactions::connector_id.eq(connector_id))
        .filter(ocpp_transactions::stopped_at.is_null())
}

/// Closes everything on a connector that began before `before`: open transactions (settled), and
/// app sessions still waiting for their StartTransaction (failed and refunded). Returns how many.
pub fn close_connector(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
    before: NaiveDateTime,
    reason: &str,
    policy: &Policy,
) -> Result<usize, AppError> {
    let open: Vec<OcppTransaction> = open_on(charger_id, connector_id)
        .filter(ocpp_transactions::created_at.lt(before))
        .select(OcppTransaction::as_select())
        .load(c)?;
    let mut closed = 0;
    let note = format!("closed by csms: {reason}");
    for tx in open {
        log::warn!(
            "charger {charger_id} connector {connector_id}: transaction {} left open ({reason}): settling it from its last meter reading",
            tx.id
        );
        closed += settle_left_open(c, &tx, reason, &note, policy)?;
    }
    // Force-closed transactions still being stopped: the charger no longer runs them.
    closed += no_longer_running(c, charger_id, connector_id, before)?;
    let waiting: Vec<i64> = charging_sessions::table
        .filter(charging_sessions::charger_id.eq(charger_id))
        .filter(charging_sessions::connector_id.eq(connector_id))
        .filter(charging_sessions::status.eq_any(SessionStatus::OPEN))
        .filter(charging_sessions::transaction_id.is_null())
        .filter(charging_sessions::created_at.lt(before))
        .select(charging_sessions::id)
        .load(c)?;
    for id in waiting {
        if super::fail(c, id, super::Failure::ChargerRebooted, &SessionStatus::OPEN)? {
            closed += 1;
        }
    }
    Ok(closed)
}

/// The charger accepted something only a free connector accepts (an operator's
/// RemoteStartTransaction or ReserveNow for it): whatever transaction csms still holds open there
/// has ended (a connector carries one transaction at a time). Each is closed and settled from its
/// best evidence (invariant 4; a late StopTransaction may still bill the rest, never beyond the
/// authorized amount). Only transactions csms recorded before `sent_at` (when the command went
/// out) are concerned: one the charger began after accepting it (a StartTransaction that overtook
/// the answer's handling) is the command's own. Returns how many were closed.
pub fn connector_free(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
    sent_at: NaiveDateTime,
    what: &str,
    policy: &Policy,
) -> Result<usize, AppError> {
    if connector_id <= 0 {
        return Ok(0);
    }
    let before = ocpp_transactions::created_at.lt(sent_at);
    let open: i64 = open_on(charger_id, connector_id)
        .filter(before)
        .count()
        .get_result(c)?;
    if open == 0 {
        return Ok(0);
    }
    let note = format!("the charger accepted {what} on the connector");
    write_tx(c, |c| {
        let stale: Vec<OcppTransaction> = open_on(charger_id, connector_id)
            .filter(before)
            .select(OcppTransaction::as_select())
            .load(c)?;
        let mut closed = 0;
        for tx in stale {
            log::warn!(
                "charger {charger_id} connector {connector_id}: transaction {} left open, but {note}: settling it",
                tx.id
            );
            closed += settle_left_open(c, &tx, "Superseded", &note, policy)?;
        }
        Ok(closed)
    })
}

/// StatusNotification `Available` or `Preparing` for a connector after the charger booted: what
/// began there before the boot is gone. Cheap when there is nothing to do (one indexed read).
pub fn after_status(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
    status: &str,
    policy: &Policy,
) -> Result<usize, AppError> {
    if connector_id == 0 || !ConnectorStatus::is_free(status) {
        return Ok(0);
    }
    let booted: Option<NaiveDateTime> = chargers::table
        .find(charger_id)
        .select(chargers::last_boot_at)
        .first(c)?;
    let Some(booted) = booted else {
        return Ok(0);
    };
    let stale_tx: i64 = ocpp_transactions::table
        .filter(ocpp_transactions::charger_id.eq(charger_id))
        .filter(ocpp_transactions::connector_id.eq(connector_id))
        .filter(
            ocpp_transactions::stopped_at
                .is_null()
                .or(ocpp_transactions::stop_next_at.is_not_null()),
        )
        .filter(ocpp_transactions::created_at.lt(booted))
        .count()
        .get_result(c)?;
    let stale_wait: i64 = charging_sessions::table
        .filter(charging_sessions::charger_id.eq(charger_id))
        .filter(charging_sessions::connector_id.eq(connector_id))
        .filter(charging_sessions::status.eq_any(SessionStatus::OPEN))
        .filter(charging_sessions::transaction_id.is_null())
        .filter(charging_sessions::created_at.lt(booted))
        .count()
        .get_result(c)?;
    if stale_tx + stale_wait == 0 {
        return Ok(0);
    }
    write_tx(c, |c| {
        close_connector(c, charger_id, connector_id, booted, "Rebooted", policy)
    })
}

/// Transactions (with their connectors) whose connector has been reported `Available` since before
/// `cutoff` and since after they began.
#[diesel::dsl::auto_type]
fn available_since(cutoff: NaiveDateTime) -> _ {
    let available: ConnectorStatus = ConnectorStatus::Available;
    ocpp_transactions::table
        .inner_join(
            connectors::table.on(connectors::charger_id
                .eq(ocpp_transactions::charger_id)
                .and(connectors::connector_id.eq(ocpp_transactions::connector_id))),
        )
        .filter(connectors::status.eq(available))
        .filter(connectors::status_since.lt(cutoff))
        .filter(
            ocpp_transactions::created_at
                .nullable()
                .lt(connectors::status_since),
        )
}

/// Transactions whose connector has been reported `Available` for longer than `grace`, since after
/// they began: the charger is not running them. Closed and settled; returns how many.
pub fn by_grace(
    c: &mut DbConnection,
    grace: chrono::Duration,
    policy: &Policy,
) -> Result<usize, AppError> {
    let cutoff = now() - grace;
    let candidates: Vec<OcppTransaction> = available_since(cutoff)
        .filter(ocpp_transactions::stopped_at.is_null())
        .select(OcppTransaction::as_select())
        .load(c)?;
    let mut closed = 0;
    for tx in candidates {
        log::warn!(
            "charger {} connector {}: transaction {} open while the connector is Available for more than {} s: settling it",
            tx.charger_id,
            tx.connector_id,
            tx.id,
            grace.num_seconds()
        );
        let how = || Closing {
            reason: "Orphaned",
            at: now(),
            energy_hint: None,
            note: Some("connector reported Available without a StopTransaction"),
            keep_stopping: false,
        };
        if write_tx(c, |c| close_transaction(c, &tx, how(), policy))? {
            closed += 1;
        }
    }
    // Force-closed transactions still being stopped on such connectors: the charger is not running
    // them either.
    let still_stopping: Vec<(i64, i32, NaiveDateTime)> = available_since(cutoff)
        .filter(ocpp_transactions::stopped_at.is_not_null())
        .filter(ocpp_transactions::stop_next_at.is_not_null())
        .select((
            ocpp_transactions::charger_id,
            ocpp_transactions::connector_id,
            ocpp_transactions::created_at,
        ))
        .load(c)?;
    for (charger_id, connector_id, created) in still_stopping {
        let after = created + chrono::Duration::microseconds(1);
        closed += write_tx(c, |c| no_longer_running(c, charger_id, connector_id, after))?;
    }
    Ok(closed)
}

/// Transactions csms closed on its side but was still asking the charger to stop (force-closed),
/// on this connector and begun before `before`: the charger moved on (it rebooted and reported
/// the connector free, another transaction started there, or the connector stayed Available).
/// Stops asking; returns how many.
pub fn no_longer_running(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
    before: NaiveDateTime,
) -> Result<usize, AppError> {
    let n = diesel::update(
        ocpp_transactions::table
            .filter(ocpp_transactions::charger_id.eq(charger_id))
            .filter(ocpp_transactions::connector_id.eq(connector_id))
            .filter(ocpp_transactions::stopped_at.is_not_null())
            .filter(ocpp_transactions::stop_next_at.is_not_null())
            .filter(ocpp_transactions::created_at.lt(before)),
    )
    .set(ocpp_transactions::stop_next_at.eq(None::<NaiveDateTime>))
    .execute(c)?;
    if n > 0 {
        log::info!(
            "charger {charger_id} connector {connector_id}: {n} force-closed transaction(s) no longer running: not asked to stop any more"
        );
    }
    Ok(n)
}

/// What an operator's force-close did: the session afterwards, and the transaction to ask the
/// charger to stop (device id, transaction id) when there was one.
pub struct ForceClosed {
    pub session: Session,
    pub stop: Option<(String, i64)>,
}

/// `POST /api/admin/sessions/{sessionId}/close`: settles an open session from its last meter
/// reading (or fails a start that never began) and refunds the rest; the operator and the reason
/// are written to the session and its ledger rows.
pub fn force_close(
    c: &mut DbConnection,
    session_uid: &str,
    operator_id: i64,
    reason: &str,
    policy: &Policy,
) -> Result<ForceClosed, AppError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::bad_request(
            "reason is required (at most 500 characters)",
        ));
    }
    let operator: String = crate::infra::db::schema::operators::table
        .find(operator_id)
        .select(crate::infra::db::schema::operators::email)
        .first(c)?;
    let note = format!("closed by operator {operator}: {reason}");
    write_tx(c, |c| {
        let s: Session = charging_sessions::table
            .filter(charging_sessions::session_uid.eq(session_uid))
            .select(Session::as_select())
            .first(c)
            .optional()?
            .ok_or(AppError::SessionNotFound)?;
        if !SessionStatus::is_open(&s.status) {
            return Err(AppError::Conflict("Session has already ended".into()));
        }
        let tx: Option<OcppTransaction> = match s.transaction_id {
            Some(id) => Some(
                ocpp_transactions::table
                    .find(id)
                    .select(OcppTransaction::as_select())
                    .first(c)?,
            ),
            None => None,
        };
        let mut stop = None;
        match tx {
            Some(tx) if tx.stopped_at.is_none() => {
                let how = Closing {
                    reason: FORCE_CLOSED,
                    at: now(),
                    energy_hint: None,
                    note: Some(&note),
                    keep_stopping: true,
                };
                close_transaction(c, &tx, how, policy)?;
                let device: String = chargers::table
                    .find(tx.charger_id)
                    .select(chargers::device_id)
                    .first(c)?;
                stop = Some((device, tx.id));
            }
            Some(_) => {
                // The transaction is closed but the session is not (should not happen): settle it.
                let end = End {
                    reason: FORCE_CLOSED,
                    stopped_at: now(),
                    meter_stop: None,
                    energy_hint: None,
                    note: Some(&note),
                };
                super::finalize(c, s.id, end, policy)?;
            }
            None => {
                super::fail_noted(
                    c,
                    s.id,
                    super::Failure::ClosedByOperator,
                    Some(&note),
                    &SessionStatus::OPEN,
                )?;
            }
        }
        log::warn!("session {}: {note}", s.session_uid);
        Ok(ForceClosed {
            session: super::load(c, s.id)?,
            stop,
        })
    })
}
