//! Recovery of what a crash, a silent charger or a lost transaction left behind, run periodically.
//! Safe with several processes on one database: a `pending` start belongs to the node that created
//! it, and is failed only when that node is gone (its heartbeat is older than its lease) or the
//! start is older than any start request waits; a live node's starts are never touched.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Policy;
use crate::domain::charging::occupancy::Occupancy;
use crate::domain::charging::status::SessionStatus;
use crate::error::AppError;
use crate::infra::config::Settings;
use crate::infra::db::Db;
use crate::infra::db::schema::charging_sessions;
use crate::infra::db::{DbConnection, now, write_tx};
use crate::infra::events::EventBus;

/// What one pass looks at.
pub struct Cutoffs {
    /// A pending start older than this is abandoned whoever owns it (no start request waits so long).
    pub pending_before: NaiveDateTime,
    /// Nodes alive now: their younger pending starts are theirs to finish.
    pub live_nodes: Vec<String>,
    /// Accepted app sessions without a StartTransaction since before this are cancelled.
    pub active_before: NaiveDateTime,
    /// Transactions on connectors reported `Available` for longer than this are settled.
    pub orphan_grace: chrono::Duration,
}

/// One pass; returns how many sessions or transactions were resolved.
pub fn run_once(c: &mut DbConnection, cut: &Cutoffs, policy: &Policy) -> Result<usize, AppError> {
    let pending: Vec<(i64, Option<String>, NaiveDateTime)> = charging_sessions::table
        .filter(charging_sessions::status.eq(SessionStatus::Pending))
        .select((
            charging_sessions::id,
            charging_sessions::owner_node,
            charging_sessions::created_at,
        ))
        .load(c)?;
    let silent: Vec<(i64, String)> = charging_sessions::table
        .filter(charging_sessions::status.eq_any([SessionStatus::Active, SessionStatus::Stopping]))
        .filter(charging_sessions::origin.eq("app"))
        .filter(charging_sessions::transaction_id.is_null())
        .filter(charging_sessions::started_at.lt(cut.active_before))
        .select((charging_sessions::id, charging_sessions::status))
        .load(c)?;
    let mut resolved = 0;
    for (id, owner, created) in pending {
        let owner_gone = owner.is_some_and(|o| !cut.live_nodes.contains(&o));
        if !(owner_gone || created < cut.pending_before) {
            continue;
        }
        if write_tx(c, |c| {
            super::fail(
                c,
                id,
                super::Failure::Interrupted,
                &[SessionStatus::Pending],
            )
        })? {
            log::warn!("recovered session {id}: its start was interrupted, refunded");
            resolved += 1;
        }
    }
    for (id, status) in silent {
        // The customer pressed Stop before the charger started: a later StartTransaction with its
        // tag must not re-open it.
        let Some(state) = SessionStatus::of(&status) else {
            continue;
        };
        let reason = match state {
            SessionStatus::Stopping => super::Failure::Cancelled,
            _ => super::Failure::NoStartTransaction,
        };
        if write_tx(c, |c| super::fail(c, id, reason, &[state]))? {
            log::warn!(
                "recovered session {id}: the charger never started the transaction, refunded"
            );
            resolved += 1;
        }
    }
    resolved += super::orphans::by_grace(c, cut.orphan_grace, policy)?;
    Ok(resolved)
}

/// The background recovery: what it works with and how often it runs (from the settings).
pub struct Recovery {
    pub db: Db,
    pub occupancy: Arc<Occupancy>,
    pub events: Arc<EventBus>,
    pub policy: Policy,
    pub settings: Settings,
}

pub async fn run(r: Recovery) {
    let grace = chrono::Duration::seconds(r.settings.remote_start_timeout_secs as i64 + 15);
    let start_tx = chrono::Duration::seconds(r.settings.start_transaction_timeout_secs as i64);
    let orphan_grace = chrono::Duration::seconds(r.settings.orphan_grace_secs as i64);
    let lease = r.settings.node_lease();
    let policy = r.policy;
    loop {
        let result =
            r.db.run(move |c| {
                let t = now();
                let cut = Cutoffs {
                    pending_before: t - grace,
                    live_nodes: crate::infra::node::live(c, lease)?,
                    active_before: t - start_tx,
                    orphan_grace,
                };
                run_once(c, &cut, &policy)
            })
            .await;
        match result {
            Ok(n) if n > 0 => {
                r.occupancy.release_all();
                r.events.wake();
            }
            Ok(_) => {}
            Err(e) => log::warn!("session recovery: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(
            r.settings.recovery_interval_secs.max(1),
        ))
        .await;
    }
}
