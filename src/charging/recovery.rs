//! Recovery of sessions that a crash or a silent charger left behind, at start-up and periodically.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::charging_sessions;
use crate::db::{DbConnection, now, write_tx};
use crate::error::AppError;
use crate::state::State;

/// Fails and refunds: `pending` sessions created before `pending_before` (their start request died
/// between commit and the charger's answer), and accepted app sessions whose charger sent no
/// StartTransaction before `active_before`. Returns how many were resolved.
pub fn run_once(
    c: &mut DbConnection,
    pending_before: NaiveDateTime,
    active_before: NaiveDateTime,
) -> Result<usize, AppError> {
    let pending: Vec<i64> = charging_sessions::table
        .filter(charging_sessions::status.eq("pending"))
        .filter(charging_sessions::created_at.lt(pending_before))
        .select(charging_sessions::id)
        .load(c)?;
    let silent: Vec<i64> = charging_sessions::table
        .filter(charging_sessions::status.eq_any(["active", "stopping"]))
        .filter(charging_sessions::origin.eq("app"))
        .filter(charging_sessions::transaction_id.is_null())
        .filter(charging_sessions::started_at.lt(active_before))
        .select(charging_sessions::id)
        .load(c)?;
    let mut resolved = 0;
    for id in pending {
        if write_tx(c, |c| super::fail(c, id, "interrupted", &["pending"]))? {
            log::warn!("recovered session {id}: start was interrupted, refunded");
            resolved += 1;
        }
    }
    for id in silent {
        if write_tx(c, |c| {
            super::fail(c, id, "no_start_transaction", &["active", "stopping"])
        })? {
            log::warn!("recovered session {id}: charger never started the transaction, refunded");
            resolved += 1;
        }
    }
    Ok(resolved)
}

/// At start-up every pending session belongs to a process that is gone; later, only old ones do.
pub async fn run(state: State) {
    let boot = state.started_at;
    let grace = chrono::Duration::seconds(state.settings.remote_start_timeout_secs as i64 + 15);
    let start_tx = chrono::Duration::seconds(state.settings.start_transaction_timeout_secs as i64);
    let mut first = true;
    loop {
        let t = now();
        let pending_before = if first { boot } else { t - grace };
        first = false;
        match state
            .db
            .run(move |c| run_once(c, pending_before, t - start_tx))
            .await
        {
            Ok(n) if n > 0 => {
                state.occupancy.release_all();
                state.events.wake();
            }
            Ok(_) => {}
            Err(e) => log::warn!("session recovery: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(
            state.settings.recovery_interval_secs.max(1),
        ))
        .await;
    }
}
