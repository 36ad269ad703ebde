//! ISO 15118 smart charging on 2.0.1 (K15–K17): NotifyEVChargingNeeds is answered Accepted and
//! followed by csms's own SetChargingProfile (a TxProfile of the EVSE's running transaction, within
//! what the core allows it: `smart_charging::transaction_limit_w`, capped by what the EV takes);
//! NotifyEVChargingSchedule is Accepted when the EV's schedule fits the transaction's current
//! TxProfile (csms's or the operator's), else Rejected, and csms offers a new profile after the
//! transaction's next event. One profile per needs or rejection, never more.

use serde_json::{Value, json};

use crate::domain::charging::station_transactions;
use crate::domain::smart_charging::{self, EvNeeds, Period, Rate};
use crate::domain::station_commands::{Command, StationCommands};
use crate::protocol::frame::{ErrorCode, OcppError};
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

use super::ev_schedules::lock;

fn invalid(what: &str) -> OcppError {
    OcppError::new(ErrorCode::PropertyConstraintViolation, what.to_string())
}

/// The EV's needs in the core's terms (AC: phases and A per phase; DC: W).
fn ev_needs(needs: &Value) -> EvNeeds {
    let phases = match needs["requestedEnergyTransfer"].as_str() {
        Some("AC_single_phase") => Some(1),
        Some("AC_two_phase") => Some(2),
        Some("AC_three_phase") => Some(3),
        _ => None,
    };
    let max = match phases {
        Some(_) => needs["acChargingParameters"]["evMaxCurrent"].as_f64(),
        None => {
            let dc = &needs["dcChargingParameters"];
            dc["evMaxPower"]
                .as_f64()
                .or_else(|| Some(dc["evMaxCurrent"].as_f64()? * dc["evMaxVoltage"].as_f64()?))
        }
    };
    EvNeeds { phases, max }
}

/// A 2.0.1 chargingSchedule's periods (A periods on their numberPhases, 3 when absent).
fn periods(schedule: &Value) -> Vec<Period> {
    let amps = schedule["chargingRateUnit"] == "A";
    schedule["chargingSchedulePeriod"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let phases = p["numberPhases"].as_u64().unwrap_or(3).clamp(1, 3) as u8;
            Some(Period {
                start: p["startPeriod"].as_i64()?,
                limit: p["limit"].as_f64()?,
                rate: if amps {
                    Rate::Amps { phases }
                } else {
                    Rate::Watts
                },
            })
        })
        .collect()
}

/// A recorded profile's schedule: 2.0.1's first, or the one of a load profile in the core's
/// (1.6) shape.
fn schedule_of(profile: &Value) -> &Value {
    let s = &profile["chargingSchedule"];
    if s.is_array() { &s[0] } else { s }
}

fn evse_of(payload: &Value) -> Result<i32, OcppError> {
    payload["evseId"]
        .as_i64()
        .and_then(|e| i32::try_from(e).ok())
        .filter(|e| *e > 0)
        .ok_or_else(|| invalid("evseId must be an EVSE (1 or more)"))
}

/// NotifyEVChargingNeeds: Accepted, and csms's TxProfile follows once answered; Rejected when
/// csms knows no transaction running on that EVSE (a TxProfile needs one).
pub async fn needs(state: &State, ctx: &ChargerCtx, payload: Value) -> Result<Value, OcppError> {
    let evse = evse_of(&payload)?;
    if !payload["chargingNeeds"].is_object() {
        return Err(invalid("chargingNeeds is required"));
    }
    let needs = ev_needs(&payload["chargingNeeds"]);
    let charger_id = ctx.charger_id;
    let running = state
        .db
        .run(move |c| smart_charging::running_at(c, charger_id, evse))
        .await?;
    let Some((tx, station_tx)) = running else {
        log::info!(
            "{}: NotifyEVChargingNeeds for EVSE {evse} without a running transaction",
            ctx.device_id
        );
        return Ok(json!({"status": "Rejected",
            "statusInfo": {"reasonCode": "NoTransaction"}}));
    };
    log::info!(
        "{}: EV on EVSE {evse} (transaction {station_tx}) needs {needs:?}",
        ctx.device_id
    );
    lock(&ctx.ev_schedules.needs).insert(station_tx.clone(), needs);
    lock(&ctx.ev_schedules.rejected).remove(&station_tx);
    offer(state, ctx, evse, tx, station_tx, Some(needs));
    Ok(json!({"status": "Accepted"}))
}

/// NotifyEVChargingSchedule: Accepted when it fits the transaction's current TxProfile (or, with
/// none, what csms allows it), else Rejected and a new profile is offered after the transaction's
/// next event.
pub async fn schedule(state: &State, ctx: &ChargerCtx, payload: Value) -> Result<Value, OcppError> {
    let evse = evse_of(&payload)?;
    let proposed = periods(&payload["chargingSchedule"]);
    if proposed.is_empty() {
        return Err(invalid("chargingSchedule needs chargingSchedulePeriod"));
    }
    let (charger_id, max_w) = (ctx.charger_id, connector_max_w(state));
    let found = state
        .db
        .run(move |c| {
            let Some((tx, station_tx)) = smart_charging::running_at(c, charger_id, evse)? else {
                return Ok(None);
            };
            let current = smart_charging::current_tx_profile(c, tx)?;
            let limit_w = smart_charging::transaction_limit_w(c, charger_id, tx, max_w)?;
            Ok(Some((station_tx, current, limit_w)))
        })
        .await?;
    let Some((station_tx, current, limit_w)) = found else {
        return Ok(json!({"status": "Rejected",
            "statusInfo": {"reasonCode": "NoTransaction"}}));
    };
    let allowed = match &current {
        Some((_, _, profile)) => periods(schedule_of(profile)),
        None => vec![Period {
            start: 0,
            limit: limit_w as f64,
            rate: Rate::Watts,
        }],
    };
    if smart_charging::fits(&proposed, &allowed) {
        log::info!(
            "{}: the EV's schedule for {station_tx} fits its profile",
            ctx.device_id
        );
        lock(&ctx.ev_schedules.rejected).remove(&station_tx);
        return Ok(json!({"status": "Accepted"}));
    }
    log::info!(
        "{}: the EV's schedule for {station_tx} exceeds its profile: Rejected, a new one follows",
        ctx.device_id
    );
    lock(&ctx.ev_schedules.rejected).insert(station_tx);
    Ok(
        json!({"status": "Rejected", "statusInfo": {"reasonCode": "LimitExceeded",
        "additionalInfo": "The schedule exceeds the charging profile's limits"}}),
    )
}

/// After a TransactionEvent of `station_tx` was answered: a transaction whose EV schedule was
/// rejected gets its new profile (once); an ended one is forgotten.
pub fn after_event(state: &State, ctx: &ChargerCtx, station_tx: &str, ended: bool) {
    if ended {
        lock(&ctx.ev_schedules.needs).remove(station_tx);
        lock(&ctx.ev_schedules.rejected).remove(station_tx);
        return;
    }
    if !lock(&ctx.ev_schedules.rejected).remove(station_tx) {
        return;
    }
    let needs = lock(&ctx.ev_schedules.needs).get(station_tx).copied();
    let (state2, ctx2, station_tx) = (state.clone(), ctx.clone(), station_tx.to_string());
    tokio::spawn(async move {
        let charger_id = ctx2.charger_id;
        let s = station_tx.clone();
        let tx = state2
            .db
            .run(move |c| station_transactions::linked_on(c, charger_id, &s))
            .await;
        match tx {
            Ok(Some((tx, evse))) => offer(&state2, &ctx2, evse, tx, station_tx, needs),
            Ok(None) => {}
            Err(e) => log::warn!("{}: new profile for {station_tx}: {e}", ctx2.device_id),
        }
    });
}

fn connector_max_w(state: &State) -> i64 {
    i64::from(state.settings.max_connector_kw) * 1000
}

/// Sends csms's TxProfile for `tx` on `evse` once this CALL was answered: within what the core
/// allows the transaction, capped by `needs`; recorded with the station's answer. It replaces
/// the transaction's current TxProfile (same id and stack level) when it has one.
fn offer(
    state: &State,
    ctx: &ChargerCtx,
    evse: i32,
    tx: i64,
    station_tx: String,
    needs: Option<EvNeeds>,
) {
    let (state, device, charger_id) = (state.clone(), ctx.device_id.clone(), ctx.charger_id);
    let max_w = connector_max_w(&state);
    tokio::spawn(async move {
        let s = station_tx.clone();
        let recorded = state
            .db
            .run(move |c| {
                let limit_w = smart_charging::transaction_limit_w(c, charger_id, tx, max_w)?;
                let current = smart_charging::current_tx_profile(c, tx)?;
                let (reuse, stack_level) = match &current {
                    Some((_, _, p)) => (
                        p["id"].as_i64().or(p["chargingProfileId"].as_i64()),
                        i32::try_from(p["stackLevel"].as_i64().unwrap_or(0)).unwrap_or(0),
                    ),
                    None => (None, 0),
                };
                let needs = needs.unwrap_or(EvNeeds {
                    phases: None,
                    max: None,
                });
                let period = smart_charging::offer(limit_w, needs);
                let build = |row: i64| {
                    let id = reuse.unwrap_or(row);
                    let mut p = json!({"startPeriod": 0, "limit": period.limit});
                    let unit = match period.rate {
                        Rate::Amps { phases } => {
                            p["numberPhases"] = json!(phases);
                            "A"
                        }
                        Rate::Watts => "W",
                    };
                    json!({"id": id, "stackLevel": stack_level,
                        "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                        "transactionId": s,
                        "chargingSchedule": [{"id": id, "chargingRateUnit": unit,
                            "chargingSchedulePeriod": [p]}]})
                };
                let (row, profile) =
                    smart_charging::offered(c, charger_id, evse, tx, stack_level, &build)?;
                Ok((row, profile, period.rate.watts(period.limit) as i64))
            })
            .await;
        let (row, profile, limit_w) = match recorded {
            Ok(r) => r,
            Err(e) => {
                log::warn!("{device}: TxProfile for {station_tx}: {e}");
                return;
            }
        };
        let command = Command::Given {
            action: "SetChargingProfile".into(),
            payload: json!({"evseId": evse, "chargingProfile": profile}),
        };
        let answer = state
            .registry
            .send(&device, command, state.settings.call_timeout())
            .await;
        let text = match &answer {
            Ok(r) => Ok(r.status_or("Rejected").to_string()),
            Err(e) => Err(e.to_string()),
        };
        log::info!("{device}: TxProfile for {station_tx} (EV schedule): {text:?}");
        let settled = state
            .db
            .run(move |c| {
                let a = text.as_deref().map_err(String::as_str);
                smart_charging::profile_answered(c, row, a, Some(limit_w))
            })
            .await;
        if let Err(e) = settled {
            log::warn!("{device}: TxProfile for {station_tx}: {e}");
        }
    });
}

/// The operator's SetChargingProfile through the commands API: a TxProfile of a running
/// transaction is recorded (`pending`) before it goes out, so the EV's schedule is checked
/// against it; the row id.
pub async fn operator_profile(
    state: &State,
    device: &str,
    payload: &Value,
) -> Result<Option<i64>, crate::error::AppError> {
    let profile = &payload["chargingProfile"];
    let (Some(station_tx), Some(evse)) = (
        profile["transactionId"].as_str().map(str::to_string),
        payload["evseId"]
            .as_i64()
            .and_then(|e| i32::try_from(e).ok()),
    ) else {
        return Ok(None);
    };
    if profile["chargingProfilePurpose"] != "TxProfile" {
        return Ok(None);
    }
    let (d, p) = (device.to_string(), profile.clone());
    state
        .db
        .run(move |c| smart_charging::operator_tx_profile(c, &d, evse, &station_tx, &p))
        .await
}

/// The station's answer to the operator's profile recorded by `operator_profile`.
/// (`Err`: no answer).
pub async fn operator_answered(
    state: &State,
    row: Option<i64>,
    response: Result<&Value, String>,
) -> Result<(), crate::error::AppError> {
    let Some(row) = row else {
        return Ok(());
    };
    let answer = response.map(|r| r["status"].as_str().unwrap_or("Rejected").to_string());
    state
        .db
        .run(move |c| {
            let a = answer.as_deref().map_err(String::as_str);
            smart_charging::profile_answered(c, row, a, None)
        })
        .await
}
