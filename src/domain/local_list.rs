//! Local Authorization List Management: csms computes each charger's list from the tokens and keeps
//! the charger's copy in step with SendLocalList: a Full update first (and whenever the charger's
//! version disagrees with the one csms recorded), then Differential updates carrying only what
//! changed, with increasing listVersion. What each charger accepted is stored per charger.
//!
//! **What goes in the list.** Every fleet token (no customer) with its status, expiry and group, and
//! the tokens of customers whose status is not `Accepted` (so that a blocked card is refused offline
//! too). A customer's accepted card is *not* listed: it charges against a hold on the customer's
//! wallet, which needs the central system (billing invariant 1), so a charger that is offline must
//! not start it on its own.
//!
//! When it is sent: after a token changes (to every connected charger, as a Differential update),
//! after a charger boots (GetLocalListVersion first; a disagreement gets a Full update), and when
//! the operator asks (`POST /api/admin/chargers/{deviceId}/local-list`, or the SendLocalList and
//! GetLocalListVersion commands). The first two are automatic and can be turned off
//! (`CSMS_LOCAL_LIST_AUTO_SYNC=false`); the operator's requests always go out.
//!
//! **One update at a time per charger** (a lease on its row, any process). An automatic update
//! never displaces the operator's: an operator's update that finds one under way waits for it and
//! then goes out; an automatic one that finds any update under way gives way (the running one, or
//! the background's next round, brings the list in step). The operator's GetLocalListVersion always
//! returns the charger's answer; the resync csms adds when the version disagrees is automatic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::domain::station_commands::{CallFailure, Command, Reply, StationCommands};
use crate::error::AppError;
use crate::infra::db::schema::{chargers, id_tags, local_lists};
use crate::infra::db::{Db, DbConnection, is_unique_violation, now, write_tx};
use crate::infra::timestamps::format_timestamp;

/// How long one update may hold a charger's list before another may take it over.
const SYNC_LEASE_SECS: i64 = 60;

/// Who asks for an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// An operator's request: waits for an update under way, then goes out.
    Operator,
    /// csms's own (after a boot, after a token change): gives way to an update under way.
    Automatic,
}

/// The list a charger should hold: idTag → idTagInfo.
pub fn desired(c: &mut DbConnection) -> Result<BTreeMap<String, Value>, AppError> {
    type Row = (
        String,
        String,
        Option<NaiveDateTime>,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = id_tags::table
        .select((
            id_tags::id_tag,
            id_tags::status,
            id_tags::expiry_date,
            id_tags::parent_id_tag,
            id_tags::customer_id,
        ))
        .load(c)?;
    let mut list = BTreeMap::new();
    for (tag, status, expiry, parent, customer) in rows {
        let expired = status == "Accepted" && expiry.is_some_and(|e| e < now());
        let status = if expired {
            "Expired".to_string()
        } else {
            status
        };
        if customer.is_some() && status == "Accepted" {
            continue; // billed against a wallet hold: online only
        }
        let mut info = json!({ "status": status });
        if let Some(e) = expiry {
            info["expiryDate"] = json!(format_timestamp(e));
        }
        if let Some(p) = parent {
            info["parentIdTag"] = json!(p);
        }
        list.insert(tag, info);
    }
    Ok(list)
}

/// A charger's list as the operator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListState {
    pub device_id: String,
    /// The listVersion the charger accepted last (0: none sent yet)
    pub version: i32,
    /// Entries the charger holds, as csms sent them
    pub entries: usize,
    /// Entries it should hold now
    pub desired_entries: usize,
    /// Whether the charger's list is the desired one
    pub in_sync: bool,
    /// The charger's answer to the last GetLocalListVersion (-1: not supported)
    pub charger_version: Option<i32>,
    /// Full or Differential
    pub last_update: Option<String>,
    /// Accepted, Failed, NotSupported, VersionMismatch, or why it could not be sent
    pub last_status: Option<String>,
    pub synced_at: Option<String>,
    /// Whether csms keeps the list in step by itself (`CSMS_LOCAL_LIST_AUTO_SYNC`); off, lists go
    /// out only on the operator's request
    pub auto_sync: bool,
}

struct Stored {
    charger_id: i64,
    version: i32,
    entries: BTreeMap<String, Value>,
    charger_version: Option<i32>,
    last_update: Option<String>,
    last_status: Option<String>,
    synced_at: Option<NaiveDateTime>,
}

/// The charger's row, created empty the first time.
fn stored(c: &mut DbConnection, device_id: &str) -> Result<Stored, AppError> {
    let id = crate::domain::chargers::id_of(c, device_id)?;
    type Row = (
        i32,
        String,
        Option<i32>,
        Option<String>,
        Option<String>,
        Option<NaiveDateTime>,
    );
    let select = || {
        local_lists::table.find(id).select((
            local_lists::version,
            local_lists::entries,
            local_lists::charger_version,
            local_lists::last_update,
            local_lists::last_status,
            local_lists::synced_at,
        ))
    };
    let mut row: Option<Row> = select().first(c).optional()?;
    if row.is_none() {
        let inserted = diesel::insert_into(local_lists::table)
            .values((
                local_lists::charger_id.eq(id),
                local_lists::updated_at.eq(now()),
            ))
            .execute(c);
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {} // another process created it
            Err(e) => return Err(e.into()),
        }
        row = Some(select().first(c)?);
    }
    let Some((version, entries, charger_version, last_update, last_status, synced_at)) = row else {
        return Err(AppError::Internal("local list row vanished".into()));
    };
    Ok(Stored {
        charger_id: id,
        version,
        entries: serde_json::from_str(&entries).unwrap_or_default(),
        charger_version,
        last_update,
        last_status,
        synced_at,
    })
}

/// What the background tasks need to know of a charger's list, without creating its row.
struct Peek {
    version: i32,
    /// Not known to answer NotSupported or -1.
    supported: bool,
}

fn peek(c: &mut DbConnection, device_id: &str) -> Result<Option<Peek>, AppError> {
    let row: Option<(i32, Option<String>, Option<i32>)> = local_lists::table
        .inner_join(chargers::table)
        .filter(chargers::device_id.eq(device_id))
        .select((
            local_lists::version,
            local_lists::last_status,
            local_lists::charger_version,
        ))
        .first(c)
        .optional()?;
    Ok(row.map(|(version, status, theirs)| Peek {
        version,
        supported: status.as_deref() != Some("NotSupported") && theirs != Some(-1),
    }))
}

/// A charger's list state for the operator; `auto_sync`: `Settings::local_list_auto_sync`.
pub fn state_of(
    c: &mut DbConnection,
    device_id: &str,
    auto_sync: bool,
) -> Result<ListState, AppError> {
    let s = stored(c, device_id)?;
    let want = desired(c)?;
    Ok(ListState {
        device_id: device_id.to_string(),
        version: s.version,
        entries: s.entries.len(),
        desired_entries: want.len(),
        in_sync: s.version > 0 && s.entries == want,
        charger_version: s.charger_version,
        last_update: s.last_update,
        last_status: s.last_status,
        synced_at: s.synced_at.map(format_timestamp),
        auto_sync,
    })
}

/// The entries of a Differential update from `have` to `want`: changed and new ones with their
/// idTagInfo, removed ones without.
pub fn difference(
    have: &BTreeMap<String, Value>,
    want: &BTreeMap<String, Value>,
) -> Vec<(String, Option<Value>)> {
    let mut out = Vec::new();
    for (tag, info) in want {
        if have.get(tag) != Some(info) {
            out.push((tag.clone(), Some(info.clone())));
        }
    }
    for tag in have.keys() {
        if !want.contains_key(tag) {
            out.push((tag.clone(), None));
        }
    }
    out
}

/// Which update to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A Differential update with what changed (a Full one if none was ever accepted); nothing
    /// when the charger is up to date.
    Auto,
    Full,
}

/// What an update did.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    /// Full, Differential, or None (already up to date)
    pub update_type: String,
    pub list_version: i32,
    /// The charger's answer (Accepted, Failed, NotSupported, VersionMismatch)
    pub status: String,
    /// Entries sent
    pub sent: usize,
    pub list: ListState,
}

/// Takes the charger's list for one update (any process), or says another update is running.
fn claim(c: &mut DbConnection, device_id: &str) -> Result<Stored, AppError> {
    write_tx(c, |c| {
        let s = stored(c, device_id)?;
        let t = now();
        let n = diesel::update(
            local_lists::table.find(s.charger_id).filter(
                local_lists::syncing_until
                    .is_null()
                    .or(local_lists::syncing_until.lt(t)),
            ),
        )
        .set(local_lists::syncing_until.eq(t + chrono::Duration::seconds(SYNC_LEASE_SECS)))
        .execute(c)?;
        if n == 0 {
            return Err(AppError::Conflict(
                "A local list update for this charger is already in progress".into(),
            ));
        }
        Ok(s)
    })
}

/// Sends a list update: the charger's answer, and its status in words (on a failure, why there is
/// none).
async fn send_list(
    lists: &Updater,
    device_id: &str,
    command: Command,
) -> (Result<Reply, CallFailure>, String) {
    let answer = lists
        .stations
        .send(device_id, command, lists.call_timeout)
        .await;
    let status = match &answer {
        Ok(r) => r.status_or("Failed").to_string(),
        Err(e) => e.to_string(),
    };
    (answer, status)
}

/// Ends the charger's lease on its list (taken by `claim`).
fn unlock(c: &mut DbConnection, charger_id: i64) -> Result<(), AppError> {
    write_tx(c, |c| {
        diesel::update(local_lists::table.find(charger_id))
            .set(local_lists::syncing_until.eq(None::<NaiveDateTime>))
            .execute(c)
    })?;
    Ok(())
}

/// Gives the charger's list up without an update (nothing was sent).
async fn release(lists: &Updater, charger_id: i64) {
    let freed = lists.db.run(move |c| unlock(c, charger_id)).await;
    if let Err(e) = freed {
        log::warn!("local list of charger {charger_id}: not released: {e}");
    }
}

/// Records the charger's answer to a SendLocalList (`taken`: the version and entries it took, if
/// it took them) and ends the lease; returns the list's state.
async fn answered(
    lists: &Updater,
    device_id: &str,
    charger_id: i64,
    taken: Option<(i32, BTreeMap<String, Value>)>,
    update: &str,
    status: &str,
) -> Result<ListState, AppError> {
    let (d, up, st) = (
        device_id.to_string(),
        update.to_string(),
        status.to_string(),
    );
    let auto = lists.auto_sync;
    lists
        .db
        .run(move |c| {
            finish(
                c,
                charger_id,
                taken.as_ref().map(|(v, e)| (*v, e)),
                &up,
                &st,
            )?;
            state_of(c, &d, auto)
        })
        .await
}

fn finish(
    c: &mut DbConnection,
    charger_id: i64,
    accepted: Option<(i32, &BTreeMap<String, Value>)>,
    update: &str,
    status: &str,
) -> Result<(), AppError> {
    write_tx(c, |c| {
        let row = local_lists::table.find(charger_id);
        if let Some((version, entries)) = accepted {
            let text = serde_json::to_string(entries).unwrap_or_else(|_| "{}".into());
            diesel::update(row)
                .set((
                    local_lists::version.eq(version),
                    local_lists::entries.eq(text),
                    local_lists::charger_version.eq(version),
                    local_lists::synced_at.eq(now()),
                ))
                .execute(c)?;
        }
        diesel::update(row)
            .set((
                local_lists::last_update.eq(update),
                local_lists::last_status.eq(status),
                local_lists::syncing_until.eq(None::<NaiveDateTime>),
                local_lists::updated_at.eq(now()),
            ))
            .execute(c)?;
        Ok(())
    })
}

/// Brings a charger's list up to date (see [`Mode`]) on the operator's request: an update under
/// way (csms's own at connect, say) is waited for, never a reason to refuse. A Differential update
/// the charger answers `VersionMismatch` is followed by a Full one.
pub async fn sync(lists: &Updater, device_id: &str, mode: Mode) -> Result<SyncReport, AppError> {
    sync_to(lists, device_id, mode, None, Origin::Operator, None).await
}

/// Takes the charger's list for one update; the operator's request waits (polling the lease, which
/// any process may hold) until the update under way is done, or its lease ran out.
async fn claim_for(lists: &Updater, device_id: &str, origin: Origin) -> Result<Stored, AppError> {
    let deadline =
        std::time::Instant::now() + Duration::from_secs(SYNC_LEASE_SECS.unsigned_abs() + 5);
    loop {
        let d = device_id.to_string();
        match lists.db.run(move |c| claim(c, &d)).await {
            Err(AppError::Conflict(_))
                if origin == Origin::Operator && std::time::Instant::now() < deadline =>
            {
                if !lists.stations.is_online(device_id) {
                    return Err(AppError::ChargerOffline);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// [`sync`] to a list already computed (`None`: compute it now), so that one round over many
/// chargers reads the tokens once. With `seen`, only while csms still records that version (a
/// resync decided on an answer that an update finished meanwhile has made stale is not sent:
/// `Conflict`).
async fn sync_to(
    lists: &Updater,
    device_id: &str,
    mode: Mode,
    want: Option<BTreeMap<String, Value>>,
    origin: Origin,
    seen: Option<i32>,
) -> Result<SyncReport, AppError> {
    if !lists.stations.is_online(device_id) {
        return Err(AppError::ChargerOffline);
    }
    let s = claim_for(lists, device_id, origin).await?;
    if seen.is_some_and(|v| v != s.version) {
        release(lists, s.charger_id).await;
        return Err(AppError::Conflict(
            "The local list changed while this update waited".into(),
        ));
    }
    let want = match want {
        Some(w) => w,
        None => match lists.db.run(desired).await {
            Ok(w) => w,
            Err(e) => {
                release(lists, s.charger_id).await;
                return Err(e);
            }
        },
    };
    let charger_id = s.charger_id;
    // A first list, or after an update that was not accepted (lost, failed, mismatched): what the
    // charger holds is not known, so it gets the whole list.
    let mut full = mode == Mode::Full
        || s.version == 0
        || s.last_status.as_deref().is_some_and(|st| st != "Accepted");
    let mut version = s.version;
    loop {
        let (update, entries) = if full {
            let all: Vec<(String, Option<Value>)> = want
                .iter()
                .map(|(tag, info)| (tag.clone(), Some(info.clone())))
                .collect();
            ("Full", all)
        } else {
            ("Differential", difference(&s.entries, &want))
        };
        if !full && entries.is_empty() {
            let d = device_id.to_string();
            let auto = lists.auto_sync;
            let list = lists
                .db
                .run(move |c| {
                    unlock(c, charger_id)?;
                    state_of(c, &d, auto)
                })
                .await?;
            return Ok(SyncReport {
                update_type: "None".into(),
                list_version: version,
                status: "Accepted".into(),
                sent: 0,
                list,
            });
        }
        let next = version + 1;
        let sent = entries.len();
        let command = Command::SendLocalList {
            version: next,
            full,
            entries,
        };
        let (answer, status) = send_list(lists, device_id, command).await;
        let taken = (status == "Accepted").then(|| (next, want.clone()));
        let list = answered(lists, device_id, charger_id, taken, update, &status).await?;
        if status == "VersionMismatch" && !full {
            // The charger's list is not what csms recorded: start over with a Full update.
            claim_for(lists, device_id, origin).await?;
            full = true;
            version = next;
            continue;
        }
        log::info!("{device_id}: SendLocalList {update} v{next} ({sent} entries): {status}");
        return match answer {
            Err(e) => Err(e.into()),
            Ok(_) => Ok(SyncReport {
                update_type: update.into(),
                list_version: next,
                status,
                sent,
                list,
            }),
        };
    }
}

/// An operator's list update in the station's own protocol words (sent as given), with what csms
/// records of it: the version, whether it replaces the list, and its entries (an idTag with what
/// is known of it, or without to remove it).
pub struct Given {
    pub version: i32,
    pub full: bool,
    pub entries: Vec<(String, Option<Value>)>,
    pub command: Command,
}

/// The commands API's SendLocalList, sent **as given** (the operator's listVersion, updateType and
/// entries), after any update under way (an operator's command waits, it is never replaced by csms's
/// own list). What the charger accepted is recorded as its list: a Full update replaces the entries,
/// a Differential one applies onto them (an entry without idTagInfo is removed). Returns the
/// charger's answer as it was, with the list as csms now records it. With automatic sync on, csms
/// later brings the list back to the one it computes from the tokens (a Differential update).
pub async fn send_as_given(
    lists: &Updater,
    device_id: &str,
    given: Given,
) -> Result<(Reply, SyncReport), AppError> {
    if !lists.stations.is_online(device_id) {
        return Err(AppError::ChargerOffline);
    }
    let s = claim_for(lists, device_id, Origin::Operator).await?;
    let charger_id = s.charger_id;
    let Given {
        version,
        full,
        entries: given,
        command,
    } = given;
    let update = if full { "Full" } else { "Differential" }.to_string();
    let (answer, status) = send_list(lists, device_id, command).await;
    let mut entries = if full { BTreeMap::new() } else { s.entries };
    for (tag, info) in &given {
        let tag = crate::domain::charging::tags::normalize(tag);
        match info {
            Some(info) => {
                entries.insert(tag, info.clone());
            }
            None => {
                entries.remove(&tag);
            }
        }
    }
    let taken = (status == "Accepted").then_some((version, entries));
    let list = answered(lists, device_id, charger_id, taken, &update, &status).await?;
    log::info!(
        "{device_id}: the operator's SendLocalList {update} v{version} ({} entries): {status}",
        given.len()
    );
    let response = answer?;
    Ok((
        response,
        SyncReport {
            update_type: update,
            list_version: version,
            status,
            sent: given.len(),
            list,
        },
    ))
}

/// Asks the charger for its list version (recorded) and returns it. With automatic sync on, a
/// version other than the one csms recorded is followed by a Full update, unless an update is
/// under way already (it brings the list in step); that resync is csms's own and never fails the
/// request (its outcome is logged and recorded with the list).
pub async fn check(lists: &Updater, device_id: &str) -> Result<i32, AppError> {
    let answer = lists
        .stations
        .send(device_id, Command::GetLocalListVersion, lists.call_timeout)
        .await?;
    let theirs = answer
        .list_version
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(-1);
    let d = device_id.to_string();
    let ours = lists
        .db
        .run(move |c| {
            let s = stored(c, &d)?;
            write_tx(c, |c| {
                diesel::update(local_lists::table.find(s.charger_id))
                    .set(local_lists::charger_version.eq(theirs))
                    .execute(c)
            })?;
            let want = desired(c)?;
            Ok((s.version, want.is_empty()))
        })
        .await?;
    let (version, nothing_listed) = ours;
    // -1: the charger has no local list. Otherwise a version other than the one csms recorded, or
    // a charger that never got csms's list, gets the whole list.
    let never_sent = version == 0 && !nothing_listed;
    if lists.auto_sync && theirs >= 0 && (theirs != version || never_sent) {
        log::info!("{device_id}: local list version {theirs}, csms recorded {version}: resync");
        let resync = sync_to(
            lists,
            device_id,
            Mode::Full,
            None,
            Origin::Automatic,
            Some(version),
        );
        match resync.await {
            Ok(_) => {}
            Err(AppError::Conflict(_)) => {
                log::info!("{device_id}: local list resync left to the update under way or done")
            }
            Err(e) => log::info!("{device_id}: local list resync: {e}"),
        }
    }
    Ok(theirs)
}

/// Wakes the background updater (a token changed).
/// Sends Local Authorization List updates after tokens change (automatic sync), and the
/// operator's updates; holds what that takes: the database, the stations and the settings.
pub struct Updater {
    wake: Notify,
    db: Db,
    stations: Arc<dyn StationCommands>,
    /// `CSMS_LOCAL_LIST_AUTO_SYNC`.
    auto_sync: bool,
    call_timeout: Duration,
}

impl Updater {
    pub fn new(
        db: Db,
        stations: Arc<dyn StationCommands>,
        auto_sync: bool,
        call_timeout: Duration,
    ) -> Self {
        Updater {
            wake: Notify::new(),
            db,
            stations,
            auto_sync,
            call_timeout,
        }
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Background: after a token changes (and every 10 minutes), every connected charger whose list is
/// out of date gets a Differential update. Chargers that answered NotSupported are left alone.
/// Nothing when automatic sync is off (`CSMS_LOCAL_LIST_AUTO_SYNC=false`).
pub async fn run(lists: Arc<Updater>) {
    if !lists.auto_sync {
        return;
    }
    let mut again = false;
    loop {
        if !again {
            tokio::select! {
                _ = lists.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            }
        }
        again = false;
        // Let a burst of token changes settle into one update.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let want = match lists.db.run(desired).await {
            Ok(w) => w,
            Err(e) => {
                log::warn!("local lists: {e}");
                continue;
            }
        };
        for device in lists.stations.devices() {
            let (d, listed) = (device.clone(), !want.is_empty());
            let due = lists
                .db
                .run(move |c| {
                    Ok(match peek(c, &d)? {
                        Some(p) => p.supported && (p.version > 0 || listed),
                        None => listed,
                    })
                })
                .await;
            if let Ok(true) = due {
                match sync_to(
                    &lists,
                    &device,
                    Mode::Auto,
                    Some(want.clone()),
                    Origin::Automatic,
                    None,
                )
                .await
                {
                    Ok(_) => {}
                    // An update in flight may have computed its list before this change: go again.
                    Err(AppError::Conflict(_)) => again = true,
                    Err(e) => log::info!("{device}: local list not updated: {e}"),
                }
            }
        }
        if again {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// After a charger booted: check its list version (only where csms has a list for it, and only
/// with automatic sync on).
pub fn after_boot(lists: &Arc<Updater>, device_id: &str) {
    if !lists.auto_sync {
        return;
    }
    let (lists, device) = (lists.clone(), device_id.to_string());
    tokio::spawn(async move {
        // After the BootNotification answer has gone out.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let d = device.clone();
        // Two reads (no token list, no write): a reconnect storm costs little here.
        let wanted = lists
            .db
            .run(move |c| {
                let sent = peek(c, &d)?.is_some_and(|p| p.version > 0);
                let any: i64 = id_tags::table.count().get_result(c)?;
                Ok(sent || any > 0)
            })
            .await;
        if let Ok(true) = wanted
            && let Err(e) = check(&lists, &device).await
        {
            log::info!("{device}: local list check: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differential_carries_only_the_change() {
        let have: BTreeMap<String, Value> = [
            ("A".to_string(), json!({"status": "Accepted"})),
            ("B".to_string(), json!({"status": "Accepted"})),
            ("C".to_string(), json!({"status": "Accepted"})),
        ]
        .into();
        let want: BTreeMap<String, Value> = [
            ("A".to_string(), json!({"status": "Accepted"})),
            ("B".to_string(), json!({"status": "Blocked"})),
            ("D".to_string(), json!({"status": "Accepted"})),
        ]
        .into();
        let d = difference(&have, &want);
        assert_eq!(
            d,
            vec![
                ("B".to_string(), Some(json!({"status": "Blocked"}))),
                ("D".to_string(), Some(json!({"status": "Accepted"}))),
                ("C".to_string(), None),
            ]
        );
        assert!(difference(&want, &want).is_empty());
    }
}
