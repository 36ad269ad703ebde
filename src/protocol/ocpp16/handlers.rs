//! Handlers for the CALLs a charge point sends (the "command" layer): each gets a schema-valid payload,
//! does its database work off the async executor, and returns the CALLRESULT payload.

use serde_json::{Value, json};

use crate::domain::chargers::Registration;
use crate::domain::charging::evidence::{MeterReport, TransactionEnded, TransactionStarted};
use crate::domain::charging::tags;
use crate::domain::charging::transactions;
use crate::domain::presence::{self, Boot, Booted, Modem};
use crate::infra::timestamps;
use crate::protocol::charging::{billing_evidence, live_follow_up, transaction};
use crate::protocol::frame::{ErrorCode, OcppError, typed as parse};
use crate::protocol::ocpp16::messages::{
    self, BootNotification, BootNotificationResponse, StatusNotification,
};
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

pub async fn handle(
    state: State,
    ctx: ChargerCtx,
    action: String,
    payload: Value,
) -> Result<Value, OcppError> {
    // OCPP 1.6: a charger whose BootNotification was not Accepted sends nothing else (it may not
    // charge): anything else is refused until an operator accepts it. The billing evidence of
    // transactions it already runs (an operator set it back to Pending or rejected it mid-session)
    // is still taken: StopTransaction always (it only ever closes what exists), MeterValues and
    // StatusNotification while it has a transaction open or being stopped.
    if action != "BootNotification"
        && !ctx.accepted.load(std::sync::atomic::Ordering::Acquire)
        && !billing_evidence(&state, &ctx, &action).await?
    {
        return Err(OcppError::new(
            ErrorCode::SecurityError,
            format!(
                "{action} refused: this charger is not accepted by the central system (BootNotification first)"
            ),
        ));
    }
    match action.as_str() {
        "BootNotification" => boot_notification(&state, &ctx, parse(payload)?).await,
        "Heartbeat" => heartbeat(&state, &ctx).await,
        "StatusNotification" => status_notification(&state, &ctx, parse(payload)?).await,
        "Authorize" => {
            let req: messages::Authorize = parse(payload)?;
            let charger_id = ctx.charger_id;
            let (info, wallet) = state
                .db
                .run(move |c| tags::authorize_payer(c, charger_id, &req.id_tag, None))
                .await?;
            if wallet && info.status == "Accepted" {
                state
                    .auth_cache
                    .wallet_tag_accepted(&ctx.device_id, charger_id);
            }
            Ok(json!({"idTagInfo": info}))
        }
        "StartTransaction" => {
            let req: TransactionStarted = parse(payload)?;
            let started = transaction(&state, &ctx, req, transactions::start_transaction, |s| {
                &mut s.follow_up
            })
            .await?;
            if started.wallet_paid && started.id_tag_info.status == "Accepted" {
                state
                    .auth_cache
                    .wallet_tag_accepted(&ctx.device_id, ctx.charger_id);
            }
            Ok(json!({"transactionId": started.transaction_id, "idTagInfo": started.id_tag_info}))
        }
        "MeterValues" => {
            let req: MeterReport = parse(payload)?;
            let fu = state.meters.write(ctx.charger_id, req).await?;
            live_follow_up(&state, &ctx, fu);
            Ok(json!({}))
        }
        "StopTransaction" => {
            let req: TransactionEnded = parse(payload)?;
            let stopped = transaction(&state, &ctx, req, transactions::stop_transaction, |s| {
                &mut s.follow_up
            })
            .await?;
            Ok(match stopped.id_tag_info {
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
            Ok(crate::protocol::data_transfer::answer(
                &req.vendor_id,
                req.message_id.as_deref(),
                req.data.map(Value::String).as_ref(),
            ))
        }
        "DiagnosticsStatusNotification"
        | "FirmwareStatusNotification"
        | "LogStatusNotification"
        | "SignedFirmwareStatusNotification" => job_status(&state, &ctx, &action, &payload).await,
        "SecurityEventNotification" => {
            let kind = payload["type"].as_str().unwrap_or_default().to_string();
            let tech_info = payload["techInfo"].as_str().map(str::to_string);
            let timestamp = payload["timestamp"]
                .as_str()
                .and_then(timestamps::parse_timestamp);
            crate::domain::security_events::record_charger(
                &state.db,
                ctx.charger_id,
                kind,
                tech_info,
                timestamp,
            )
            .await?;
            Ok(json!({}))
        }
        "SignCertificate" => {
            let csr = payload["csr"].as_str().unwrap_or_default().to_string();
            let status = crate::domain::certificates::sign_certificate(
                &state.certificates,
                ctx.charger_id,
                &ctx.device_id,
                csr,
                crate::infra::ca::CertUse::ChargingStation,
                None,
            )
            .await?;
            Ok(json!({ "status": status }))
        }
        other => Err(OcppError::new(
            ErrorCode::NotSupported,
            format!("{other} is not supported by this central system"),
        )),
    }
}

/// A job's status notification (diagnostics, firmware, log, signed firmware): logged, and its
/// `status` word recorded off the executor; the answer is empty.
async fn job_status(
    state: &State,
    ctx: &ChargerCtx,
    action: &str,
    payload: &Value,
) -> Result<Value, OcppError> {
    let kind = match action {
        "FirmwareStatusNotification" => "firmware",
        "DiagnosticsStatusNotification" => "diagnostics",
        // The security whitepaper's jobs, which 2.0.1 has too.
        _ => {
            let signed_firmware = action == "SignedFirmwareStatusNotification";
            return crate::protocol::charging::job_status(
                state,
                ctx,
                action,
                signed_firmware,
                payload,
            )
            .await;
        }
    };
    log::info!("{}: {action} {}", ctx.device_id, payload["status"]);
    let status = payload["status"].as_str().unwrap_or_default().to_string();
    let charger_id = ctx.charger_id;
    state
        .db
        .run(move |c| crate::domain::firmware::status_notification(c, charger_id, kind, &status))
        .await?;
    Ok(json!({}))
}

async fn boot_notification(
    state: &State,
    ctx: &ChargerCtx,
    req: BootNotification,
) -> Result<Value, OcppError> {
    let charger_id = ctx.charger_id;
    let boot = Boot {
        vendor: req.charge_point_vendor,
        model: req.charge_point_model,
        serial_number: req
            .charge_point_serial_number
            .or(req.charge_box_serial_number),
        firmware_version: req.firmware_version,
        modem: Modem {
            iccid: req.iccid,
            imsi: req.imsi,
        },
        meter: (req.meter_type, req.meter_serial_number),
    };
    let Booted {
        registration,
        cache_known,
    } = state
        .db
        .run(move |c| presence::booted(c, charger_id, boot))
        .await?;
    let answer = |status, interval| {
        json!(BootNotificationResponse {
            status,
            current_time: timestamps::now_timestamp(),
            interval,
        })
    };
    let accepted = registration == Registration::Accepted;
    ctx.accepted
        .store(accepted, std::sync::atomic::Ordering::Release);
    if !accepted {
        // Pending: it boots again after `interval` (or when an operator accepts it and csms
        // triggers a BootNotification); Rejected: it may try again after `interval`.
        log::info!(
            "{}: BootNotification answered {registration}",
            ctx.device_id
        );
        let status = if registration == Registration::Pending {
            "Pending"
        } else {
            "Rejected"
        };
        return Ok(answer(
            status,
            state.settings.heartbeat_interval_secs.min(60),
        ));
    }
    state.stops.wake();
    crate::domain::local_list::after_boot(&state.local_lists, &ctx.device_id);
    if !cache_known {
        state.auth_cache.forget(charger_id);
    }
    Ok(answer("Accepted", state.settings.heartbeat_interval_secs))
}

async fn heartbeat(state: &State, ctx: &ChargerCtx) -> Result<Value, OcppError> {
    state.telemetry.heartbeat(ctx.charger_id).await?;
    Ok(json!({"currentTime": timestamps::now_timestamp()}))
}

async fn status_notification(
    state: &State,
    ctx: &ChargerCtx,
    req: StatusNotification,
) -> Result<Value, OcppError> {
    crate::protocol::charging::connector_status(state, ctx, req.into()).await?;
    Ok(json!({}))
}
