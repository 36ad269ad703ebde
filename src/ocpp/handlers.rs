//! Handlers for the CALLs a charge point sends (the "command" layer): each gets a schema-valid payload,
//! does its database work off the async executor, and returns the CALLRESULT payload.

use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::connection::ChargerCtx;
use super::frame::{ErrorCode, OcppError};
use super::messages::{self, BootNotification, StatusNotification};
use crate::charging::transactions::{self, FollowUp};
use crate::db::schema::{chargers, connectors};
use crate::db::{now, relaxed_tx, write_tx};
use crate::error::AppError;
use crate::events::{self, Subject};
use crate::state::State;

fn parse<T: DeserializeOwned>(payload: Value) -> Result<T, OcppError> {
    serde_json::from_value(payload)
        .map_err(|e| OcppError::new(ErrorCode::FormationViolation, e.to_string()))
}

pub async fn handle(
    state: State,
    ctx: ChargerCtx,
    action: String,
    payload: Value,
) -> Result<Value, OcppError> {
    match action.as_str() {
        "BootNotification" => boot_notification(&state, &ctx, parse(payload)?).await,
        "Heartbeat" => heartbeat(&state, &ctx).await,
        "StatusNotification" => status_notification(&state, &ctx, parse(payload)?).await,
        "Authorize" => {
            let req: messages::Authorize = parse(payload)?;
            let (info, _) = state
                .db
                .run(move |c| transactions::authorize(c, &req.id_tag))
                .await?;
            Ok(json!({"idTagInfo": info}))
        }
        "StartTransaction" => {
            let req: messages::StartTransaction = parse(payload)?;
            let charger_id = ctx.charger_id;
            let started = state
                .db
                .run(move |c| transactions::start_transaction(c, charger_id, &req))
                .await?;
            if started.superseded {
                state.occupancy.release(&ctx.device_id);
            }
            state.events.wake();
            follow_up(&state, &ctx, started.follow_up);
            Ok(json!({"transactionId": started.transaction_id, "idTagInfo": started.id_tag_info}))
        }
        "MeterValues" => {
            let req: messages::MeterValues = parse(payload)?;
            let fu = state.meters.write(ctx.charger_id, req).await?;
            follow_up(&state, &ctx, fu);
            Ok(json!({}))
        }
        "StopTransaction" => {
            let req: messages::StopTransaction = parse(payload)?;
            let charger_id = ctx.charger_id;
            let info = state
                .db
                .run(move |c| transactions::stop_transaction(c, charger_id, &req))
                .await?;
            state.occupancy.release(&ctx.device_id);
            state.events.wake();
            Ok(match info {
                Some(info) => json!({"idTagInfo": info}),
                None => json!({}),
            })
        }
        "DataTransfer" => {
            let req: messages::DataTransfer = parse(payload)?;
            log::info!(
                "{}: DataTransfer from vendor {} (messageId {:?})",
                ctx.device_id,
                req.vendor_id,
                req.message_id
            );
            Ok(json!({"status": "UnknownVendorId"}))
        }
        "DiagnosticsStatusNotification" | "FirmwareStatusNotification" => {
            log::info!("{}: {action} {}", ctx.device_id, payload["status"]);
            Ok(json!({}))
        }
        other => Err(OcppError::new(
            ErrorCode::NotSupported,
            format!("{other} is not supported by this central system"),
        )),
    }
}

/// Work that must wait until the transaction committed: live progress and RemoteStopTransaction.
fn follow_up(state: &State, ctx: &ChargerCtx, fu: FollowUp) {
    if let Some((subject, session)) = fu.progress {
        state
            .events
            .publish_live("charging.progress", subject, session);
    }
    if let Some(transaction_id) = fu.remote_stop {
        let state = state.clone();
        let device = ctx.device_id.clone();
        tokio::spawn(async move {
            let result = state
                .registry
                .call(
                    &device,
                    "RemoteStopTransaction",
                    json!({"transactionId": transaction_id}),
                    state.settings.call_timeout(),
                )
                .await;
            log::info!("{device}: RemoteStopTransaction {transaction_id}: {result:?}");
        });
    }
}

async fn boot_notification(
    state: &State,
    ctx: &ChargerCtx,
    req: BootNotification,
) -> Result<Value, OcppError> {
    let charger_id = ctx.charger_id;
    state
        .db
        .run(move |c| {
            let t = now();
            let update = diesel::update(chargers::table.find(charger_id)).set((
                chargers::vendor.eq(req.charge_point_vendor),
                chargers::model.eq(req.charge_point_model),
                chargers::serial_number.eq(req
                    .charge_point_serial_number
                    .or(req.charge_box_serial_number)),
                chargers::firmware_version.eq(req.firmware_version),
                chargers::iccid.eq(req.iccid),
                chargers::imsi.eq(req.imsi),
                chargers::meter_type.eq(req.meter_type),
                chargers::meter_serial_number.eq(req.meter_serial_number),
                chargers::last_boot_at.eq(t),
                chargers::last_seen_at.eq(t),
            ));
            write_tx(c, |c| update.execute(c))?;
            Ok(())
        })
        .await?;
    Ok(json!({
        "status": "Accepted",
        "currentTime": messages::now_timestamp(),
        "interval": state.settings.heartbeat_interval_secs,
    }))
}

async fn heartbeat(state: &State, ctx: &ChargerCtx) -> Result<Value, OcppError> {
    let charger_id = ctx.charger_id;
    state
        .db
        .run(move |c| {
            let t = now();
            relaxed_tx(c, |c| {
                diesel::update(chargers::table.find(charger_id))
                    .set((
                        chargers::last_heartbeat_at.eq(t),
                        chargers::last_seen_at.eq(t),
                    ))
                    .execute(c)
            })?;
            Ok(())
        })
        .await?;
    Ok(json!({"currentTime": messages::now_timestamp()}))
}

async fn status_notification(
    state: &State,
    ctx: &ChargerCtx,
    req: StatusNotification,
) -> Result<Value, OcppError> {
    let charger_id = ctx.charger_id;
    let device = ctx.device_id.to_string();
    // Telemetry, not money: committed without waiting for the disk (`relaxed_tx`). A crash may
    // lose the last status; the charger reports every connector again after it reconnects.
    let changed = state
        .db
        .run(move |c| {
            relaxed_tx(c, |c| {
                let t = now();
                if req.connector_id == 0 {
                    diesel::update(chargers::table.find(charger_id))
                        .set((chargers::status.eq(&req.status), chargers::error_code.eq(&req.error_code), chargers::last_seen_at.eq(t)))
                        .execute(c)?;
                } else {
                    let old: Option<String> = connectors::table
                        .filter(connectors::charger_id.eq(charger_id))
                        .filter(connectors::connector_id.eq(req.connector_id))
                        .select(connectors::status)
                        .first(c)
                        .optional()?;
                    let values = (
                        connectors::status.eq(&req.status),
                        connectors::error_code.eq(&req.error_code),
                        connectors::info.eq(&req.info),
                        connectors::vendor_error_code.eq(&req.vendor_error_code),
                        connectors::updated_at.eq(t),
                    );
                    if old.is_some() {
                        diesel::update(connectors::table.filter(connectors::charger_id.eq(charger_id)).filter(connectors::connector_id.eq(req.connector_id)))
                            .set(values)
                            .execute(c)?;
                    } else {
                        diesel::insert_into(connectors::table)
                            .values((connectors::charger_id.eq(charger_id), connectors::connector_id.eq(req.connector_id), values))
                            .execute(c)?;
                    }
                    if old.as_deref() == Some(req.status.as_str()) {
                        return Ok::<_, AppError>(false);
                    }
                }
                events::record(
                    c,
                    "connector.status_changed",
                    Subject { charger_id: Some(charger_id), ..Default::default() },
                    json!({"deviceId": device, "connectorId": req.connector_id, "status": req.status, "errorCode": req.error_code}),
                )?;
                Ok(true)
            })
        })
        .await?;
    if changed {
        state.events.wake();
    }
    Ok(json!({}))
}
