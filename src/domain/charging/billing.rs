//! Settlement: what a session's energy costs, who pays it and what is written off.
//!
//! **The amount given at start is the most a session ever costs its customer** (an app start's
//! `amount`; for a customer's own idTag at the charger, the hold taken then). The energy is priced
//! at the session's price; the customer pays it from the hold, and a late StopTransaction that
//! shows more energy than was settled may take from the wallet what is left of the authorized
//! amount (the wallet's balance permitting). Everything beyond that is the operator's loss: a
//! write-off row with its reason, never a debit. Sessions without a hold (fleet cards) are billed by
//! the operator: their cost is the energy's price and no money moves.
//!
//! Every closed session with a hold reconciles: `price(energy) = cost + late_cost + written off`,
//! and `cost + late_cost <= amount` (checked by `wallet::audit`). Each step below computes what is
//! still unaccounted from the session's totals (never from a difference it computed before), so
//! settling again, late or in pieces never counts the same energy twice.

use diesel::prelude::*;

use super::{End, Policy, best_energy, load, subject, view};
use crate::domain::charging::status::SessionStatus;
use crate::domain::{money, wallet};
use crate::error::AppError;
use crate::infra::db::models::Session;
use crate::infra::db::schema::{charging_sessions, customers, write_offs};
use crate::infra::db::{DbConnection, now};
use crate::infra::events;

/// Why energy was delivered and not billed. The text is what the operator sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOffReason {
    /// The session's energy cost more than the amount the customer authorized (the charger
    /// stopped late, ignored the stops, or a late StopTransaction showed more).
    BeyondAuthorized,
    /// Within the authorized amount, but the wallet no longer held it when a late
    /// StopTransaction showed the energy.
    WalletShort,
    /// The charger went on after an operator force-closed the session.
    AfterForceClose,
    /// The transaction was refused (no one pays for it) but delivered energy before it stopped.
    Refused,
}

impl WriteOffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOffReason::BeyondAuthorized => "Energy beyond the amount the customer authorized",
            WriteOffReason::WalletShort => {
                "Late StopTransaction: the wallet could not cover the energy"
            }
            WriteOffReason::AfterForceClose => "Energy after an operator closed the session",
            WriteOffReason::Refused => "Refused transaction delivered energy before it stopped",
        }
    }

    pub const ALL: [WriteOffReason; 4] = [
        WriteOffReason::BeyondAuthorized,
        WriteOffReason::WalletShort,
        WriteOffReason::AfterForceClose,
        WriteOffReason::Refused,
    ];
}

pub struct WriteOffRow {
    pub charger_id: i64,
    pub connector_id: i32,
    pub transaction_id: Option<i64>,
    pub session_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub energy_wh: i64,
    pub amount: i64,
    pub reason: WriteOffReason,
}

/// Records energy that was delivered but could not be billed.
pub fn write_off(c: &mut DbConnection, w: WriteOffRow) -> Result<(), AppError> {
    log::warn!(
        "write-off: charger {} connector {} transaction {:?}: {} Wh, {} unbilled: {}",
        w.charger_id,
        w.connector_id,
        w.transaction_id,
        w.energy_wh,
        w.amount,
        w.reason.as_str()
    );
    diesel::insert_into(write_offs::table)
        .values((
            write_offs::charger_id.eq(w.charger_id),
            write_offs::connector_id.eq(w.connector_id),
            write_offs::transaction_id.eq(w.transaction_id),
            write_offs::session_id.eq(w.session_id),
            write_offs::customer_id.eq(w.customer_id),
            write_offs::energy_wh.eq(w.energy_wh.max(0)),
            write_offs::amount.eq(w.amount.max(0)),
            write_offs::reason.eq(w.reason.as_str()),
            write_offs::created_at.eq(now()),
        ))
        .execute(c)?;
    Ok(())
}

/// What was already written off for a session.
pub fn written_off(c: &mut DbConnection, session_id: i64) -> Result<i64, AppError> {
    // `sum()` of a BIGINT is NUMERIC on PostgreSQL and INTEGER on SQLite: add the few rows here.
    let rows: Vec<i64> = write_offs::table
        .filter(write_offs::session_id.eq(session_id))
        .select(write_offs::amount)
        .load(c)?;
    Ok(rows.into_iter().sum())
}

/// The part of `total` a session's hold pays (at most its amount). Sessions without a hold
/// (fleet cards) have a cost but no money moves.
pub(crate) fn hold_cost(s: &Session, total: i64) -> i64 {
    if s.amount > 0 {
        total.min(s.amount)
    } else {
        total
    }
}

/// The energy a kind of unbilled amount stands for (for the write-off row), at most `energy_wh`.
fn energy_of(amount: i64, price: i64, energy_wh: i64) -> i64 {
    match price {
        0 => energy_wh,
        p => (i128::from(amount) * 1000 / i128::from(p)).min(i128::from(energy_wh)) as i64,
    }
}

/// Brings a closed session's money in line with its energy `s.energy_wh` (already updated by the
/// caller): what the energy costs beyond what was paid and written off is taken from the wallet,
/// up to what is left of the authorized amount and the balance, when `may_charge`; the rest is
/// written off. Returns what was charged (the caller adds it to `late_cost`).
fn reconcile(
    c: &mut DbConnection,
    s: &Session,
    may_charge: bool,
    otherwise: WriteOffReason,
) -> Result<i64, AppError> {
    let Some(customer) = s.customer_id.filter(|_| s.amount > 0) else {
        return Ok(0);
    };
    let total = money::energy_cost(s.energy_wh, s.price_per_kwh);
    let paid = s.cost + s.late_cost;
    let missing = total - paid - written_off(c, s.id)?;
    if missing <= 0 {
        return Ok(0);
    }
    let room = (s.amount - paid).max(0);
    let charged = if may_charge && room > 0 {
        let balance: i64 = customers::table
            .find(customer)
            .select(customers::balance)
            .first(c)?;
        missing.min(room).min(balance).max(0)
    } else {
        0
    };
    if charged > 0 {
        wallet::apply(
            c,
            customer,
            -charged,
            wallet::Kind::Charge,
            Some(s.id),
            Some("Late StopTransaction: energy beyond what was settled"),
        )?;
    }
    // What is left: beyond the authorized amount, or (within it) what the wallet could not cover.
    let beyond = (missing - room).max(0);
    let short = missing - charged - beyond;
    let row = |amount: i64, reason| WriteOffRow {
        charger_id: s.charger_id,
        connector_id: s.connector_id,
        transaction_id: s.transaction_id,
        session_id: Some(s.id),
        customer_id: Some(customer),
        energy_wh: energy_of(amount, s.price_per_kwh, s.energy_wh),
        amount,
        reason,
    };
    let (beyond_reason, short_reason) = if may_charge {
        (
            WriteOffReason::BeyondAuthorized,
            WriteOffReason::WalletShort,
        )
    } else {
        (otherwise, otherwise)
    };
    if beyond > 0 {
        write_off(c, row(beyond, beyond_reason))?;
    }
    if short > 0 {
        write_off(c, row(short, short_reason))?;
    }
    Ok(charged)
}

/// Ends an open session exactly once from the best evidence of its energy: the cost is paid from
/// the hold (at most the authorized amount), the unused part refunded, and energy beyond the hold
/// written off. Returns false if the session was already closed.
pub fn finalize(
    c: &mut DbConnection,
    session_id: i64,
    end: End,
    policy: &Policy,
) -> Result<bool, AppError> {
    let s = load(c, session_id)?;
    if !SessionStatus::is_running(&s.status) {
        return Ok(false);
    }
    let energy_wh = best_energy(&s, end.meter_stop, end.energy_hint, policy);
    let cost = hold_cost(&s, money::energy_cost(energy_wh, s.price_per_kwh));
    let refund = if s.amount > 0 { s.amount - cost } else { 0 };
    let n = diesel::update(charging_sessions::table.find(session_id).filter(
        charging_sessions::status.eq_any([SessionStatus::Active, SessionStatus::Stopping]),
    ))
    .set((
        charging_sessions::status.eq(SessionStatus::Completed),
        charging_sessions::energy_wh.eq(energy_wh),
        charging_sessions::cost.eq(cost),
        charging_sessions::refund.eq(refund),
        charging_sessions::meter_last.eq(end.meter_stop.or(s.meter_last)),
        charging_sessions::stop_reason.eq(end.reason),
        charging_sessions::stop_note.eq(end.note),
        charging_sessions::stopped_at.eq(end.stopped_at),
        charging_sessions::updated_at.eq(now()),
    ))
    .execute(c)?;
    if n == 0 {
        return Ok(false);
    }
    if let (Some(customer), true) = (s.customer_id, refund > 0) {
        let note = match end.note {
            Some(n) => format!("Unused prepaid amount ({n})"),
            None => "Unused prepaid amount".to_string(),
        };
        wallet::apply(
            c,
            customer,
            refund,
            wallet::Kind::Refund,
            Some(s.id),
            Some(&note),
        )?;
    }
    let s = load(c, session_id)?;
    // The hold paid all it may: the rest (if any) is beyond the authorized amount.
    reconcile(c, &s, false, WriteOffReason::BeyondAuthorized)?;
    let v = view(c, &s)?;
    events::record(c, "charging.stopped", subject(&s), v)?;
    Ok(true)
}

/// Whether an operator force-closed the session (energy after that is the operator's).
fn force_closed(s: &Session) -> bool {
    s.stop_reason.as_deref() == Some(super::orphans::FORCE_CLOSED)
}

/// Evidence of more energy for a session csms already closed: a late StopTransaction (the charger
/// lost the transaction, rebooted, was superseded or force-closed), or a reading of a force-closed
/// transaction the charger still runs. The difference is charged from what is left of the
/// authorized amount, the wallet permitting, and the rest written off; after a force-close all of
/// it is written off. Never touches another session. Returns whether anything changed.
pub fn settle_late(
    c: &mut DbConnection,
    session_id: i64,
    meter_stop: Option<i64>,
    energy_hint: Option<i64>,
    policy: &Policy,
) -> Result<bool, AppError> {
    let mut s = load(c, session_id)?;
    if s.status != SessionStatus::Completed {
        return Ok(false);
    }
    let energy_wh = best_energy(&s, meter_stop, energy_hint, policy);
    if energy_wh <= s.energy_wh {
        return Ok(false);
    }
    log::info!(
        "session {}: late evidence shows {energy_wh} Wh (settled {} Wh)",
        s.session_uid,
        s.energy_wh
    );
    s.energy_wh = energy_wh;
    let total = money::energy_cost(energy_wh, s.price_per_kwh);
    let (cost, late_cost) = if s.amount > 0 {
        let charged = reconcile(c, &s, !force_closed(&s), WriteOffReason::AfterForceClose)?;
        (s.cost, s.late_cost + charged)
    } else {
        (total, 0)
    };
    diesel::update(charging_sessions::table.find(session_id))
        .set((
            charging_sessions::energy_wh.eq(energy_wh),
            charging_sessions::cost.eq(cost),
            charging_sessions::late_cost.eq(late_cost),
            charging_sessions::meter_last.eq(meter_stop.or(s.meter_last)),
            charging_sessions::updated_at.eq(now()),
        ))
        .execute(c)?;
    Ok(true)
}
