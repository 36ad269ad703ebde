//! Smart Charging: the operator's charging profiles (ChargePointMaxProfile, TxDefaultProfile,
//! TxProfile; Absolute, Recurring or Relative; in A or W), sent with SetChargingProfile, cleared with
//! ClearChargingProfile, read back with GetCompositeSchedule; and **load management**: a station's
//! power limit shared between the transactions running there.
//!
//! Load management sends every open transaction at a station with a limit `L` a TxProfile (in W)
//! of `L / n` whenever a transaction starts or stops there (and every 30 s). **The sum of the
//! installed profiles never exceeds `L`:** limits are lowered before any is raised, and a profile
//! is only raised (or a new transaction given one) when the sum of what the chargers accepted, with
//! the new value, stays within `L`. A charger that rejects a lower limit blocks raises for the
//! others until it accepts (the next round tries again). A 2.0.1 transaction's profile names the
//! station's transaction id.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::domain::chargers::id_of;
use crate::domain::station_commands::{Command, StationCommands};
use crate::error::AppError;
use crate::infra::db::schema::{
    chargers, charging_profiles, charging_sessions, ocpp_transactions, stations,
};
use crate::infra::db::{Db, DbConnection, filter_given, now, write_tx};
use crate::infra::timestamps::format_timestamp;

/// A charging profile csms sent, as the operator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChargingProfile {
    /// The chargingProfileId
    pub id: i64,
    pub device_id: String,
    pub connector_id: i32,
    pub purpose: String,
    pub stack_level: i32,
    pub transaction_id: Option<i64>,
    /// The csChargingProfiles object as sent
    #[schema(value_type = Object)]
    pub profile: Value,
    /// operator, or load (the station's load management)
    pub origin: String,
    /// pending, installed (Accepted), rejected, cleared, failed (no answer)
    pub status: String,
    pub answer: Option<String>,
    pub limit_w: Option<i64>,
    pub updated_at: String,
}

/// A profile as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = charging_profiles)]
struct Row {
    id: i64,
    connector_id: i32,
    purpose: String,
    stack_level: i32,
    transaction_id: Option<i64>,
    profile: String,
    origin: String,
    status: String,
    answer: Option<String>,
    limit_w: Option<i64>,
    updated_at: NaiveDateTime,
}

fn view(device_id: &str, r: Row) -> ChargingProfile {
    ChargingProfile {
        id: r.id,
        device_id: device_id.to_string(),
        connector_id: r.connector_id,
        purpose: r.purpose,
        stack_level: r.stack_level,
        transaction_id: r.transaction_id,
        profile: serde_json::from_str(&r.profile).unwrap_or(Value::Null),
        origin: r.origin,
        status: r.status,
        answer: r.answer,
        limit_w: r.limit_w,
        updated_at: format_timestamp(r.updated_at),
    }
}

/// `POST /api/admin/chargers/{deviceId}/charging-profiles`: `csChargingProfiles` as OCPP has it;
/// csms assigns `chargingProfileId`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileInput {
    /// 0: the whole charger
    #[schema(minimum = 0)]
    pub connector_id: i32,
    /// A csChargingProfiles object (chargingProfileId is assigned by csms)
    #[schema(value_type = Object)]
    pub charging_profile: Value,
}

/// Who sends a profile: the operator, or load management for csms's transaction `tx` (its row
/// `reuse`d when it has one).
enum Origin {
    Operator,
    Load { reuse: Option<i64>, tx: i64 },
}

/// Records a profile (`pending`) and builds the command that installs it; 400 when the
/// station's protocol says no (`check`: `StationCommands::check` for the station).
fn prepare(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
    mut profile: Value,
    from: Origin,
    check: &dyn Fn(&Command) -> Result<(), String>,
) -> Result<(i64, Command), AppError> {
    let (origin, reuse, transaction) = match from {
        Origin::Operator => ("operator", None, None),
        Origin::Load { reuse, tx } => ("load", reuse, Some(tx)),
    };
    if !profile.is_object() {
        return Err(AppError::bad_request("chargingProfile must be an object"));
    }
    let purpose = profile["chargingProfilePurpose"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let stack_level = profile["stackLevel"].as_i64().unwrap_or(-1);
    let tx = transaction.or(profile["transactionId"].as_i64());
    profile["chargingProfileId"] = json!(reuse.unwrap_or(1));
    check(&Command::SetChargingProfile {
        connector: connector_id,
        profile: profile.clone(),
    })
    .map_err(|e| AppError::bad_request(format!("Invalid charging profile: {e}")))?;
    if purpose == "TxProfile" && connector_id == 0 {
        return Err(AppError::bad_request(
            "A TxProfile applies to a connector, not connectorId 0",
        ));
    }
    if purpose == "ChargePointMaxProfile" && connector_id != 0 {
        return Err(AppError::bad_request(
            "A ChargePointMaxProfile applies to connectorId 0",
        ));
    }
    let stack_level = i32::try_from(stack_level).unwrap_or(0);
    write_tx(c, |c| {
        let t = now();
        let id = match reuse {
            // A new value for the same profile: the row keeps the last accepted limit (and status)
            // until the charger answers, so a lost or refused answer never counts as less.
            Some(id) => id,
            None => diesel::insert_into(charging_profiles::table)
                .values((
                    charging_profiles::charger_id.eq(charger_id),
                    charging_profiles::connector_id.eq(connector_id),
                    charging_profiles::purpose.eq(&purpose),
                    charging_profiles::stack_level.eq(stack_level),
                    charging_profiles::transaction_id.eq(tx),
                    charging_profiles::profile.eq("{}"),
                    charging_profiles::origin.eq(origin),
                    charging_profiles::status.eq("pending"),
                    charging_profiles::created_at.eq(t),
                    charging_profiles::updated_at.eq(t),
                ))
                .returning(charging_profiles::id)
                .get_result(c)?,
        };
        let mut profile = profile.clone();
        profile["chargingProfileId"] = json!(id);
        diesel::update(charging_profiles::table.find(id))
            .set(charging_profiles::profile.eq(profile.to_string()))
            .execute(c)?;
        Ok((
            id,
            Command::SetChargingProfile {
                connector: connector_id,
                profile,
            },
        ))
    })
}

/// Locks profile `id` and the live profiles of its slot (same charger, connector, purpose and
/// stack level), in id order. Two answers settled at once (csms's profile and the operator's for
/// one transaction) each replace the other: without one order, PostgreSQL found them waiting on
/// each other's row (a deadlock, the operator's command answered 500). SQLite has one writer at a
/// time (`write_tx`), so nothing to lock there.
fn lock_slot(c: &mut DbConnection, id: i64) -> diesel::QueryResult<()> {
    if let DbConnection::Postgresql(pg) = c {
        diesel::sql_query(
            "SELECT p.id FROM charging_profiles p, charging_profiles t \
             WHERE t.id = $1 AND (p.id = t.id OR (p.charger_id = t.charger_id \
               AND p.connector_id = t.connector_id AND p.purpose = t.purpose \
               AND p.stack_level = t.stack_level AND p.status IN ('pending', 'installed'))) \
             ORDER BY p.id FOR UPDATE OF p",
        )
        .bind::<diesel::sql_types::BigInt, _>(id)
        .execute(pg)?;
    }
    Ok(())
}

fn settle(
    c: &mut DbConnection,
    id: i64,
    status: &str,
    answer: &str,
    limit_w: Option<i64>,
) -> Result<(), AppError> {
    write_tx(c, |c| {
        lock_slot(c, id)?;
        diesel::update(charging_profiles::table.find(id))
            .set((
                charging_profiles::status.eq(status),
                charging_profiles::answer.eq(answer),
                charging_profiles::updated_at.eq(now()),
            ))
            .execute(c)?;
        if status == "installed" {
            // What the charger now enforces (load profiles): only an accepted value is recorded.
            if limit_w.is_some() {
                diesel::update(charging_profiles::table.find(id))
                    .set(charging_profiles::limit_w.eq(limit_w))
                    .execute(c)?;
            }
            // OCPP 1.6: a profile with the same stackLevel and purpose (on the same connector)
            // replaces the one the charger had.
            let (charger, connector, purpose, level): (i64, i32, String, i32) =
                charging_profiles::table
                    .find(id)
                    .select((
                        charging_profiles::charger_id,
                        charging_profiles::connector_id,
                        charging_profiles::purpose,
                        charging_profiles::stack_level,
                    ))
                    .first(c)?;
            diesel::update(
                charging_profiles::table
                    .filter(charging_profiles::charger_id.eq(charger))
                    .filter(charging_profiles::connector_id.eq(connector))
                    .filter(charging_profiles::purpose.eq(purpose))
                    .filter(charging_profiles::stack_level.eq(level))
                    .filter(charging_profiles::id.ne(id))
                    .filter(charging_profiles::status.eq_any(["pending", "installed"])),
            )
            .set((
                charging_profiles::status.eq("cleared"),
                charging_profiles::answer.eq(format!("Replaced by profile {id}")),
                charging_profiles::updated_at.eq(now()),
            ))
            .execute(c)?;
        }
        Ok::<_, AppError>(())
    })?;
    Ok(())
}

/// Sends a recorded profile and records the charger's answer (and, for a load profile, the limit
/// it accepted). `Ok(true)`: installed.
async fn send(
    load: &LoadManager,
    device_id: &str,
    id: i64,
    command: Command,
    limit_w: Option<i64>,
) -> Result<bool, AppError> {
    let answer = load
        .stations
        .send(device_id, command, load.call_timeout)
        .await;
    let (status, text) = match &answer {
        Ok(r) if r.accepted() => ("installed", "Accepted".to_string()),
        Ok(r) => ("rejected", r.status_or("Rejected").to_string()),
        Err(e) => ("failed", e.to_string()),
    };
    load.db
        .run(move |c| settle(c, id, status, &text, limit_w))
        .await?;
    answer.map_err(AppError::from)?;
    Ok(status == "installed")
}

/// The operator's SetChargingProfile. The answer is recorded (installed or rejected).
pub async fn set(
    load: &LoadManager,
    device_id: &str,
    input: ProfileInput,
) -> Result<ChargingProfile, AppError> {
    if input.connector_id < 0 {
        return Err(AppError::bad_request("connectorId must be 0 or more"));
    }
    if !load.stations.is_online(device_id) {
        let d = device_id.to_string();
        load.db.run(move |c| id_of(c, &d)).await?;
        return Err(AppError::ChargerOffline);
    }
    let (d, stations) = (device_id.to_string(), load.stations.clone());
    let (id, payload) = load
        .db
        .run(move |c| {
            let cid = id_of(c, &d)?;
            prepare(
                c,
                cid,
                input.connector_id,
                input.charging_profile,
                Origin::Operator,
                &|p| stations.check(&d, p),
            )
        })
        .await?;
    send(load, device_id, id, payload, None).await?;
    let d = device_id.to_string();
    load.db.run(move |c| get(c, &d, id)).await
}

pub fn get(c: &mut DbConnection, device_id: &str, id: i64) -> Result<ChargingProfile, AppError> {
    let cid = id_of(c, device_id)?;
    let row: Row = charging_profiles::table
        .find(id)
        .filter(charging_profiles::charger_id.eq(cid))
        .select(Row::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| AppError::NotFound("Charging profile not found".into()))?;
    Ok(view(device_id, row))
}

/// A charger's profiles, newest first (cleared ones too, unless `current`).
pub fn list(
    c: &mut DbConnection,
    device_id: &str,
    current: bool,
) -> Result<Vec<ChargingProfile>, AppError> {
    let cid = id_of(c, device_id)?;
    let mut q = charging_profiles::table
        .filter(charging_profiles::charger_id.eq(cid))
        .order(charging_profiles::id.desc())
        .limit(500)
        .select(Row::as_select())
        .into_boxed();
    if current {
        q = q.filter(charging_profiles::status.eq_any(["pending", "installed"]));
    }
    let rows: Vec<Row> = q.load(c)?;
    Ok(rows.into_iter().map(|r| view(device_id, r)).collect())
}

/// `ClearChargingProfile` criteria (all optional; none: every profile).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClearInput {
    #[schema(minimum = 0)]
    pub id: Option<i64>,
    #[schema(minimum = 0)]
    pub connector_id: Option<i32>,
    #[schema(pattern = "^(ChargePointMaxProfile|TxDefaultProfile|TxProfile)$")]
    pub charging_profile_purpose: Option<String>,
    #[schema(minimum = 0)]
    pub stack_level: Option<i32>,
}

/// Sends ClearChargingProfile; on `Accepted` the profiles it names are marked cleared. Returns the
/// charger's status (Accepted or Unknown).
pub async fn clear(
    load: &LoadManager,
    device_id: &str,
    input: ClearInput,
) -> Result<String, AppError> {
    let command = Command::ClearChargingProfile {
        id: input.id,
        connector: input.connector_id,
        purpose: input.charging_profile_purpose.clone(),
        stack_level: input.stack_level,
    };
    load.stations
        .check(device_id, &command)
        .map_err(|e| AppError::bad_request(format!("Invalid criteria: {e}")))?;
    let d = device_id.to_string();
    let cid = load.db.run(move |c| id_of(c, &d)).await?;
    let answer = load
        .stations
        .send(device_id, command, load.call_timeout)
        .await?;
    let status = answer.status_or("Unknown").to_string();
    if status == "Accepted" {
        load.db
            .run(move |c| {
                write_tx(c, |c| {
                    let mut q = diesel::update(charging_profiles::table)
                        .filter(charging_profiles::charger_id.eq(cid))
                        .filter(charging_profiles::status.eq_any(["pending", "installed"]))
                        .into_boxed();
                    if let Some(id) = input.id {
                        q = q.filter(charging_profiles::id.eq(id));
                    } else {
                        filter_given!(q,
                            charging_profiles::connector_id => input.connector_id,
                            charging_profiles::purpose => input.charging_profile_purpose,
                            charging_profiles::stack_level => input.stack_level,
                        );
                    }
                    q.set((
                        charging_profiles::status.eq("cleared"),
                        charging_profiles::limit_w.eq(None::<i64>),
                        charging_profiles::updated_at.eq(now()),
                    ))
                    .execute(c)
                })?;
                Ok(())
            })
            .await?;
    }
    Ok(status)
}

/// GetCompositeSchedule, relayed.
pub async fn composite(
    load: &LoadManager,
    device_id: &str,
    connector_id: i32,
    duration: i64,
    unit: Option<String>,
) -> Result<Value, AppError> {
    let command = Command::GetCompositeSchedule {
        connector: connector_id,
        duration,
        unit,
    };
    load.stations
        .check(device_id, &command)
        .map_err(|e| AppError::bad_request(format!("Invalid request: {e}")))?;
    let d = device_id.to_string();
    load.db.run(move |c| id_of(c, &d)).await?;
    Ok(load
        .stations
        .send(device_id, command, load.call_timeout)
        .await?
        .body)
}

// ---- load management ----

/// A transaction at a station with a limit, and its load profile.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Share {
    pub transaction_id: i64,
    pub device_id: String,
    pub connector_id: i32,
    /// The limit the charger accepted (none yet: no load profile installed)
    pub limit_w: Option<i64>,
    /// What it draws: its average power since it started, from its meter readings (none before a
    /// reading, or for a transaction without a session)
    pub draw_w: Option<i64>,
}

/// A station's power limit and how it is shared now.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StationLoad {
    pub station_id: i64,
    pub max_power_w: Option<i64>,
    /// Sum of the installed load profiles (never above maxPowerW)
    pub allocated_w: i64,
    pub transactions: Vec<Share>,
}

struct Running {
    tx: i64,
    charger_id: i64,
    device: String,
    connector: i32,
    profile_id: Option<i64>,
    installed: Option<i64>,
    session: Option<i64>,
    /// The station's own id of the transaction (2.0.1 stations name theirs).
    station_tx: Option<String>,
}

fn running(c: &mut DbConnection, station_id: i64) -> Result<(Option<i64>, Vec<Running>), AppError> {
    let limit: Option<i64> = stations::table
        .find(station_id)
        .select(stations::max_power_w)
        .first::<Option<i64>>(c)
        .optional()?
        .ok_or_else(|| AppError::NotFound("Station not found".into()))?;
    let open: Vec<(i64, i64, String, i32, Option<i64>)> = ocpp_transactions::table
        .inner_join(chargers::table.on(chargers::id.eq(ocpp_transactions::charger_id)))
        .filter(chargers::station_id.eq(station_id))
        .filter(ocpp_transactions::stopped_at.is_null())
        .order(ocpp_transactions::id)
        .select((
            ocpp_transactions::id,
            chargers::id,
            chargers::device_id,
            ocpp_transactions::connector_id,
            ocpp_transactions::session_id,
        ))
        .load(c)?;
    let mut out = Vec::with_capacity(open.len());
    for (tx, charger_id, device, connector, session) in open {
        let p: Option<(i64, String, Option<i64>)> = charging_profiles::table
            .filter(charging_profiles::origin.eq("load"))
            .filter(charging_profiles::transaction_id.eq(tx))
            .select((
                charging_profiles::id,
                charging_profiles::status,
                charging_profiles::limit_w,
            ))
            .first(c)
            .optional()?;
        let station_tx: Option<String> = {
            use crate::infra::db::schema::station_transactions as st;
            st::table
                .filter(st::transaction_id.eq(tx))
                .select(st::station_tx_id)
                .first(c)
                .optional()?
        };
        out.push(Running {
            station_tx,
            tx,
            charger_id,
            device,
            connector,
            profile_id: p.as_ref().map(|p| p.0),
            // The last limit the charger accepted (kept through later refused or lost sends).
            installed: p.and_then(|(_, s, l)| if s == "cleared" { None } else { l }),
            session,
        });
    }
    Ok((limit, out))
}

/// A session's average power (W) since it started: its energy over the time since.
fn average_power(c: &mut DbConnection, session_id: i64) -> Result<Option<i64>, AppError> {
    let row: Option<(i64, Option<NaiveDateTime>)> = charging_sessions::table
        .find(session_id)
        .select((charging_sessions::energy_wh, charging_sessions::started_at))
        .first(c)
        .optional()?;
    let Some((wh, Some(started))) = row else {
        return Ok(None);
    };
    let secs = (now() - started).num_seconds();
    Ok((secs > 0 && wh > 0).then(|| wh.saturating_mul(3600) / secs))
}

pub fn station_load(c: &mut DbConnection, station_id: i64) -> Result<StationLoad, AppError> {
    let (limit, txs) = running(c, station_id)?;
    let mut transactions = Vec::with_capacity(txs.len());
    for t in &txs {
        transactions.push(Share {
            transaction_id: t.tx,
            device_id: t.device.clone(),
            connector_id: t.connector,
            limit_w: t.installed,
            draw_w: match t.session {
                Some(id) => average_power(c, id)?,
                None => None,
            },
        });
    }
    Ok(StationLoad {
        station_id,
        max_power_w: limit,
        allocated_w: txs.iter().filter_map(|t| t.installed).sum(),
        transactions,
    })
}

/// Sets (or with `None` removes) a station's power limit, and rebalances it.
pub fn set_limit(
    c: &mut DbConnection,
    station_id: i64,
    max_power_w: Option<i64>,
) -> Result<(), AppError> {
    if max_power_w.is_some_and(|w| !(1..=100_000_000).contains(&w)) {
        return Err(AppError::bad_request(
            "maxPowerW must be 1 to 100000000 W, or null",
        ));
    }
    let n = write_tx(c, |c| {
        diesel::update(stations::table.find(station_id))
            .set(stations::max_power_w.eq(max_power_w))
            .execute(c)
    })?;
    if n == 0 {
        return Err(AppError::NotFound("Station not found".into()));
    }
    Ok(())
}

/// One station's round: lower what must be lowered, then give new transactions and raises what
/// the limit still allows.
pub async fn rebalance(load: &LoadManager, station_id: i64) -> Result<(), AppError> {
    // One round at a time in this process (the API's and the background task's).
    let _round = load.round.lock().await;
    let (limit, txs) = load.db.run(move |c| running(c, station_id)).await?;
    let Some(limit) = limit else {
        // No limit (any more): clear the load profiles still installed.
        for t in txs.iter().filter(|t| t.installed.is_some()) {
            if let Some(pid) = t.profile_id {
                let _ = clear(
                    load,
                    &t.device,
                    ClearInput {
                        id: Some(pid),
                        ..Default::default()
                    },
                )
                .await;
            }
        }
        return Ok(());
    };
    if txs.is_empty() {
        return Ok(());
    }
    let share = limit / txs.len() as i64;
    let mut sum: i64 = txs.iter().filter_map(|t| t.installed).sum();
    // Lowering first, then transactions without a profile, then raises.
    let mut order: Vec<&Running> = txs.iter().filter(|t| t.installed != Some(share)).collect();
    order.sort_by_key(|t| match t.installed {
        Some(w) if w > share => 0,
        None => 1,
        Some(_) => 2,
    });
    for t in order {
        if !load.stations.is_local(&t.device) {
            continue; // connected elsewhere, or away: its accepted limit still counts
        }
        let current = t.installed.unwrap_or(0);
        if sum - current + share > limit {
            continue; // a lower limit was not accepted yet: try again next round
        }
        // A 2.0.1 transaction is named by the station's id.
        let tx_id = match &t.station_tx {
            Some(station_tx) => json!(station_tx),
            None => json!(t.tx),
        };
        let profile = json!({
            "chargingProfileId": 1,
            "transactionId": tx_id,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": share as f64}]
            }
        });
        let (cid, connector, reuse, tx) = (t.charger_id, t.connector, t.profile_id, t.tx);
        let (stations, d) = (load.stations.clone(), t.device.clone());
        let check = move |p: &Command| stations.check(&d, p);
        let (id, payload) = load
            .db
            .run(move |c| {
                prepare(
                    c,
                    cid,
                    connector,
                    profile,
                    Origin::Load { reuse, tx },
                    &check,
                )
            })
            .await?;
        match send(load, &t.device, id, payload, Some(share)).await {
            Ok(true) => sum = sum - current + share,
            Ok(false) | Err(_) => {
                // Rejected or lost: the charger keeps what it had (the row no longer says installed,
                // so a later round sends it again).
                log::info!(
                    "{}: load profile for transaction {} not installed",
                    t.device,
                    t.tx
                );
            }
        }
    }
    Ok(())
}

/// Shares stations' power limits between their transactions: queues the stations whose
/// transactions changed, and holds what a rebalance takes (the database, the stations).
pub struct LoadManager {
    chargers: Mutex<HashSet<i64>>,
    wake: Notify,
    round: tokio::sync::Mutex<()>,
    db: Db,
    stations: Arc<dyn StationCommands>,
    call_timeout: Duration,
}

impl LoadManager {
    pub fn new(db: Db, stations: Arc<dyn StationCommands>, call_timeout: Duration) -> Self {
        LoadManager {
            chargers: Default::default(),
            wake: Notify::new(),
            round: Default::default(),
            db,
            stations,
            call_timeout,
        }
    }

    /// A transaction started or stopped on this charger.
    pub fn touch(&self, charger_id: i64) {
        self.chargers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(charger_id);
        self.wake.notify_one();
    }
}

/// Background: rebalances the stations with a limit whose transactions changed, and every station
/// with a limit every 30 s. One station at a time, so rounds never overlap in this process.
pub async fn run(load: Arc<LoadManager>) {
    loop {
        let tick = tokio::select! {
            _ = load.wake.notified() => false,
            _ = tokio::time::sleep(Duration::from_secs(30)) => true,
        };
        let touched: Vec<i64> = load
            .chargers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        let found = load
            .db
            .run(move |c| {
                let mut q = stations::table
                    .inner_join(chargers::table)
                    .filter(stations::max_power_w.is_not_null())
                    .select(stations::id)
                    .distinct()
                    .into_boxed();
                if !tick {
                    q = q.filter(chargers::id.eq_any(touched));
                }
                Ok(q.load::<i64>(c)?)
            })
            .await;
        match found {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = rebalance(&load, id).await {
                        log::warn!("station {id}: load management: {e}");
                    }
                }
            }
            Err(e) => log::warn!("load management: {e}"),
        }
    }
}

// ---- ISO 15118 charging needs ----
//
// An EV that talks ISO 15118 tells the station what it needs; csms answers with a TxProfile for its
// transaction within what it allows there: the connector's maximum, and the station's power limit
// shared as load management shares it (`L / n`). That profile is the transaction's load profile
// (origin `load`, one per transaction), so the station's allocation counts it. The schedule the EV
// then proposes must fit the transaction's current TxProfile (csms's, or the operator's).

/// Volts per phase csms assumes to turn an AC limit in W into A and back.
pub const AC_VOLTS: f64 = 230.0;

/// What the EV needs, in the core's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvNeeds {
    /// AC: the phases it charges on (1 to 3); DC: none.
    pub phases: Option<u8>,
    /// The most it takes: A per phase (AC) or W (DC), when it said.
    pub max: Option<f64>,
}

/// A schedule's rate unit: A per phase on `phases` phases (AC), or W.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    Amps { phases: u8 },
    Watts,
}

impl Rate {
    /// `limit` in this unit, in W.
    pub fn watts(self, limit: f64) -> f64 {
        match self {
            Rate::Amps { phases } => limit * AC_VOLTS * f64::from(phases),
            Rate::Watts => limit,
        }
    }
}

/// One schedule period: from `start` seconds after the schedule's start, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Period {
    pub start: i64,
    pub limit: f64,
    pub rate: Rate,
}

/// The limit in force `at` seconds into a schedule (the first period's before it starts); none for
/// an empty schedule.
fn limit_at(periods: &[Period], at: i64) -> Option<Period> {
    let mut found = periods.first().copied();
    for p in periods {
        if p.start <= at && found.is_none_or(|f| p.start >= f.start) {
            found = Some(*p);
        }
    }
    found
}

/// Whether the EV's `proposed` schedule stays within `allowed` at every period (offsets from each
/// schedule's start; A compared per phase when both are in A, else in W).
pub fn fits(proposed: &[Period], allowed: &[Period]) -> bool {
    proposed.iter().all(|p| {
        let Some(a) = limit_at(allowed, p.start) else {
            return true;
        };
        match (p.rate, a.rate) {
            (Rate::Amps { .. }, Rate::Amps { .. }) => p.limit <= a.limit + 1e-6,
            _ => p.rate.watts(p.limit) <= a.rate.watts(a.limit) + 0.5,
        }
    })
}

/// The one period csms offers for `needs` within `limit_w`: A per phase rounded down to 0.1 A
/// (AC), W (DC); never above what the EV takes.
pub fn offer(limit_w: i64, needs: EvNeeds) -> Period {
    let (rate, mut limit) = match needs.phases {
        Some(phases) => {
            let phases = phases.clamp(1, 3);
            let amps = limit_w as f64 / (AC_VOLTS * f64::from(phases));
            (Rate::Amps { phases }, (amps * 10.0).floor() / 10.0)
        }
        None => (Rate::Watts, limit_w as f64),
    };
    if let Some(max) = needs.max.filter(|m| *m > 0.0) {
        limit = limit.min(max);
    }
    Period {
        start: 0,
        limit,
        rate,
    }
}

/// The most power (W) csms allows transaction `tx` on `charger_id`: `connector_max_w`, and the
/// station's limit shared between its open transactions when it has one (never more than the
/// others leave: the sum of the transactions' limits stays within the station's).
pub fn transaction_limit_w(
    c: &mut DbConnection,
    charger_id: i64,
    tx: i64,
    connector_max_w: i64,
) -> Result<i64, AppError> {
    let station_id: i64 = chargers::table
        .find(charger_id)
        .select(chargers::station_id)
        .first(c)?;
    let (limit, txs) = running(c, station_id)?;
    let Some(limit) = limit else {
        return Ok(connector_max_w);
    };
    // Its share, within what the others hold now (load management lowers them first).
    let n = txs.len() + usize::from(!txs.iter().any(|t| t.tx == tx));
    let others: i64 = txs
        .iter()
        .filter(|t| t.tx != tx)
        .filter_map(|t| t.installed)
        .sum();
    let share = (limit / n.max(1) as i64).min(limit - others).max(0);
    Ok(connector_max_w.min(share))
}

/// The transaction running on `evse` of `charger_id` as the station names it (the newest not
/// ended): csms's id and the station's.
pub fn running_at(
    c: &mut DbConnection,
    charger_id: i64,
    evse: i32,
) -> Result<Option<(i64, String)>, AppError> {
    use crate::infra::db::schema::station_transactions as st;
    let found: Option<(Option<i64>, String)> = st::table
        .filter(st::charger_id.eq(charger_id))
        .filter(st::connector_id.eq(evse))
        .filter(st::ended_at.is_null())
        .filter(st::transaction_id.is_not_null())
        .order(st::id.desc())
        .select((st::transaction_id, st::station_tx_id))
        .first(c)
        .optional()?;
    Ok(found.and_then(|(tx, station)| tx.map(|tx| (tx, station))))
}

/// csms's id of the station's transaction `station_tx` on `charger_id`.
fn transaction_of(
    c: &mut DbConnection,
    charger_id: i64,
    station_tx: &str,
) -> Result<Option<i64>, AppError> {
    use crate::infra::db::schema::station_transactions as st;
    Ok(st::table
        .filter(st::charger_id.eq(charger_id))
        .filter(st::station_tx_id.eq(station_tx))
        .select(st::transaction_id)
        .first::<Option<i64>>(c)
        .optional()?
        .flatten())
}

/// The TxProfile transaction `tx` has now (the newest sent and not refused, csms's or the
/// operator's): its row id, origin and the profile as sent.
pub fn current_tx_profile(
    c: &mut DbConnection,
    tx: i64,
) -> Result<Option<(i64, String, Value)>, AppError> {
    let row: Option<(i64, String, String)> = charging_profiles::table
        .filter(charging_profiles::transaction_id.eq(tx))
        .filter(charging_profiles::purpose.eq("TxProfile"))
        .filter(charging_profiles::status.eq_any(["pending", "installed"]))
        .order(charging_profiles::updated_at.desc())
        .then_order_by(charging_profiles::id.desc())
        .select((
            charging_profiles::id,
            charging_profiles::origin,
            charging_profiles::profile,
        ))
        .first(c)
        .optional()?;
    Ok(row.map(|(id, origin, p)| (id, origin, serde_json::from_str(&p).unwrap_or(Value::Null))))
}

/// Records the TxProfile csms offers transaction `tx` (on `evse`) as its load profile (`pending`;
/// the transaction's row is reused). `build` makes the profile from the row id; it is returned.
pub fn offered(
    c: &mut DbConnection,
    charger_id: i64,
    evse: i32,
    tx: i64,
    stack_level: i32,
    build: &dyn Fn(i64) -> Value,
) -> Result<(i64, Value), AppError> {
    write_tx(c, |c| {
        let t = now();
        let existing: Option<i64> = charging_profiles::table
            .filter(charging_profiles::origin.eq("load"))
            .filter(charging_profiles::transaction_id.eq(tx))
            .select(charging_profiles::id)
            .first(c)
            .optional()?;
        let id = match existing {
            Some(id) => id,
            None => diesel::insert_into(charging_profiles::table)
                .values((
                    charging_profiles::charger_id.eq(charger_id),
                    charging_profiles::connector_id.eq(evse),
                    charging_profiles::purpose.eq("TxProfile"),
                    charging_profiles::stack_level.eq(stack_level),
                    charging_profiles::transaction_id.eq(Some(tx)),
                    charging_profiles::profile.eq("{}"),
                    charging_profiles::origin.eq("load"),
                    charging_profiles::status.eq("pending"),
                    charging_profiles::created_at.eq(t),
                    charging_profiles::updated_at.eq(t),
                ))
                .returning(charging_profiles::id)
                .get_result(c)?,
        };
        let profile = build(id);
        diesel::update(charging_profiles::table.find(id))
            .set((
                charging_profiles::profile.eq(profile.to_string()),
                charging_profiles::stack_level.eq(stack_level),
                charging_profiles::status.eq("pending"),
                charging_profiles::updated_at.eq(t),
            ))
            .execute(c)?;
        Ok((id, profile))
    })
}

/// Records the operator's TxProfile for the station's transaction `station_tx` (sent as given,
/// `pending`): the row id, none when csms does not know the transaction.
pub fn operator_tx_profile(
    c: &mut DbConnection,
    device_id: &str,
    evse: i32,
    station_tx: &str,
    profile: &Value,
) -> Result<Option<i64>, AppError> {
    let charger_id = id_of(c, device_id)?;
    let Some(tx) = transaction_of(c, charger_id, station_tx)? else {
        return Ok(None);
    };
    let stack_level = i32::try_from(profile["stackLevel"].as_i64().unwrap_or(0)).unwrap_or(0);
    let t = now();
    let id = write_tx(c, |c| {
        diesel::insert_into(charging_profiles::table)
            .values((
                charging_profiles::charger_id.eq(charger_id),
                charging_profiles::connector_id.eq(evse),
                charging_profiles::purpose.eq("TxProfile"),
                charging_profiles::stack_level.eq(stack_level),
                charging_profiles::transaction_id.eq(Some(tx)),
                charging_profiles::profile.eq(profile.to_string()),
                charging_profiles::origin.eq("operator"),
                charging_profiles::status.eq("pending"),
                charging_profiles::created_at.eq(t),
                charging_profiles::updated_at.eq(t),
            ))
            .returning(charging_profiles::id)
            .get_result(c)
    })?;
    Ok(Some(id))
}

/// The station's answer to a profile recorded by `offered` or `operator_tx_profile` (with the
/// limit in W it holds the transaction to, for csms's own).
pub fn profile_answered(
    c: &mut DbConnection,
    id: i64,
    answer: Result<&str, &str>,
    limit_w: Option<i64>,
) -> Result<(), AppError> {
    match answer {
        Ok("Accepted") => settle(c, id, "installed", "Accepted", limit_w),
        Ok(status) => settle(c, id, "rejected", status, None),
        Err(e) => settle(c, id, "failed", e, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amps(start: i64, limit: f64) -> Period {
        Period {
            start,
            limit,
            rate: Rate::Amps { phases: 3 },
        }
    }

    #[test]
    fn the_offer_stays_within_the_limit_and_the_ev() {
        let ac = EvNeeds {
            phases: Some(3),
            max: Some(32.0),
        };
        assert_eq!(
            offer(11_040, ac).limit,
            16.0,
            "16 A on three phases of 230 V"
        );
        assert_eq!(offer(400_000, ac).limit, 32.0, "no more than the EV takes");
        assert_eq!(offer(5_000, ac).limit, 7.2, "rounded down");
        let dc = EvNeeds {
            phases: None,
            max: Some(50_000.0),
        };
        assert_eq!(
            offer(22_000, dc),
            Period {
                start: 0,
                limit: 22_000.0,
                rate: Rate::Watts
            }
        );
    }

    #[test]
    fn a_schedule_fits_period_by_period() {
        let allowed = [amps(0, 16.0), amps(600, 8.0)];
        assert!(fits(&[amps(0, 16.0), amps(600, 8.0)], &allowed));
        assert!(
            !fits(&[amps(0, 16.0), amps(900, 10.0)], &allowed),
            "above later"
        );
        assert!(!fits(&[amps(0, 16.5)], &allowed));
        let watts = [Period {
            start: 0,
            limit: 11_040.0,
            rate: Rate::Watts,
        }];
        assert!(fits(&[amps(0, 16.0)], &watts));
        assert!(!fits(&[amps(0, 17.0)], &watts));
    }
}
