//! This process among the processes that share one database: a node id, a heartbeat row in `nodes`
//! (a node whose heartbeat is older than its lease is gone), and named leases that one holder at a
//! time may take (the outbox relay's leadership).

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::error::AppError;
use crate::infra::db::schema::{leases, nodes};
use crate::infra::db::{DbConnection, is_unique_violation, now, relaxed_tx, write_tx};

/// `hostname-pid-xxxx`: unique among live processes, recognisable in logs.
pub fn default_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "csms".into());
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..4];
    format!("{host}-{}-{suffix}", std::process::id())
}

fn ago(d: Duration) -> NaiveDateTime {
    now() - chrono::Duration::from_std(d).unwrap_or_default()
}

/// Records that this node is alive (creating its row the first time).
pub fn heartbeat(c: &mut DbConnection, node_id: &str) -> Result<(), AppError> {
    let t = now();
    let beat = |c: &mut DbConnection| {
        relaxed_tx(c, |c| {
            diesel::update(nodes::table.find(node_id))
                .set(nodes::heartbeat_at.eq(t))
                .execute(c)
        })
    };
    let row = (
        nodes::node_id.eq(node_id),
        nodes::started_at.eq(t),
        nodes::heartbeat_at.eq(t),
    );
    // A node that inserted the same id first is this one a moment ago: alive either way.
    update_or_insert(c, beat, |c| {
        diesel::insert_into(nodes::table).values(row).execute(c)
    })?;
    Ok(())
}

/// Runs `update` (in its own transaction), and when it changed no row runs `insert` in a write
/// transaction: `Ok(true)` when either wrote, `Ok(false)` when the insert found the key taken (by
/// another node, in between).
fn update_or_insert(
    c: &mut DbConnection,
    update: impl FnOnce(&mut DbConnection) -> QueryResult<usize>,
    insert: impl FnOnce(&mut DbConnection) -> QueryResult<usize>,
) -> Result<bool, AppError> {
    if update(c)? > 0 {
        return Ok(true);
    }
    match write_tx(c, insert) {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Nodes whose heartbeat is younger than `lease`.
pub fn live(c: &mut DbConnection, lease: Duration) -> Result<Vec<String>, AppError> {
    Ok(nodes::table
        .filter(nodes::heartbeat_at.ge(ago(lease)))
        .select(nodes::node_id)
        .load(c)?)
}

/// Takes or renews the lease `name` for `ttl` if it is free, expired or already ours.
pub fn try_lease(
    c: &mut DbConnection,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, AppError> {
    let t = now();
    let until = t + chrono::Duration::from_std(ttl).unwrap_or_default();
    let ours = leases::holder.eq(holder).or(leases::expires_at.lt(t));
    let renew = |c: &mut DbConnection| {
        write_tx(c, |c| {
            diesel::update(leases::table.find(name).filter(ours))
                .set((leases::holder.eq(holder), leases::expires_at.eq(until)))
                .execute(c)
        })
    };
    let row = (
        leases::name.eq(name),
        leases::holder.eq(holder),
        leases::expires_at.eq(until),
    );
    update_or_insert(c, renew, |c| {
        diesel::insert_into(leases::table).values(row).execute(c)
    })
}

/// [`heartbeat`], and removes the rows of nodes gone for a day.
pub fn heartbeat_and_prune(c: &mut DbConnection, node_id: &str) -> Result<(), AppError> {
    heartbeat(c, node_id)?;
    let day = ago(Duration::from_secs(86_400));
    relaxed_tx(c, |c| {
        diesel::delete(nodes::table.filter(nodes::heartbeat_at.lt(day))).execute(c)
    })?;
    Ok(())
}
