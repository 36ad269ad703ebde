//! Handlers for the CALLs an OCPP 2.0.1 station sends, mapped to the core's terms:
//! BootNotification (Accepted / Pending / Rejected, as the operator decided), Heartbeat,
//! StatusNotification, NotifyReport (the device model, stored), NotifyEvent (stored:
//! `monitoring`), SecurityEventNotification (stored), FirmwareStatusNotification and
//! LogStatusNotification (recorded on the job, as 1.6's), Authorize, TransactionEvent and MeterValues
//! (`transactions`), SignCertificate (`certificates`), NotifyEVChargingNeeds and
//! NotifyEVChargingSchedule (`charging_needs`), DataTransfer, NotifyDisplayMessages and
//! NotifyCustomerInformation (`notify`), and NotifyMonitoringReport (`monitoring`). The other
//! actions are answered NotSupported until their blocks land.

use serde_json::{Value, json};

use crate::domain::chargers::Registration;
use crate::domain::presence::{self, Boot, Booted, Modem};
use crate::domain::telemetry::StatusReport;
use crate::infra::timestamps;
use crate::protocol::frame::{ErrorCode, OcppError, typed as parse};
use crate::protocol::ocpp201::messages::{
    BootNotification, NotifyReport, SecurityEventNotification, StatusNotification,
};
use crate::protocol::ocpp201::{
    certificates, charging_needs, customer_information, monitoring, notify, plug_and_charge,
    station_reports, transactions,
};
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

pub async fn handle(
    state: State,
    ctx: ChargerCtx,
    action: String,
    payload: Value,
) -> Result<Value, OcppError> {
    // B02/B03: a station that is Pending or Rejected sends nothing but BootNotification until it
    // is accepted.
    // The billing evidence of transactions it runs is still taken (as for 1.6).
    if action != "BootNotification"
        && !ctx.accepted.load(std::sync::atomic::Ordering::Acquire)
        && !crate::protocol::charging::billing_evidence(&state, &ctx, &action).await?
    {
        return Err(OcppError::new(
            ErrorCode::SecurityError,
            format!(
                "{action} refused: this station is not accepted by the central system (BootNotification first)"
            ),
        ));
    }
    match action.as_str() {
        "BootNotification" => boot_notification(&state, &ctx, parse(payload)?).await,
        "Heartbeat" => {
            state.telemetry.heartbeat(ctx.charger_id).await?;
            Ok(json!({"currentTime": timestamps::now_timestamp()}))
        }
        "StatusNotification" => status_notification(&state, &ctx, parse(payload)?).await,
        "Authorize" => transactions::authorize(&state, &ctx, parse(payload)?).await,
        "TransactionEvent" => transactions::transaction_event(&state, &ctx, parse(payload)?).await,
        "MeterValues" => transactions::meter_values(&state, &ctx, parse(payload)?).await,
        "ReservationStatusUpdate" => {
            let id = payload["reservationId"].as_i64().unwrap_or(-1);
            let expired = payload["reservationUpdateStatus"] == "Expired";
            let charger_id = ctx.charger_id;
            let ended = state
                .db
                .run(move |c| {
                    crate::domain::reservations::ended_by_station(c, charger_id, id, expired)
                })
                .await?;
            log::info!(
                "{}: reservation {id} {} on the station{}",
                ctx.device_id,
                payload["reservationUpdateStatus"],
                if ended { "" } else { " (csms held none)" }
            );
            if ended {
                state.events.wake();
                state.occupancy.release(&ctx.device_id);
            }
            Ok(json!({}))
        }
        "NotifyReport" => {
            let report: NotifyReport = parse(payload)?;
            let (request, seq, tbc) = (report.request_id, report.seq_no, report.tbc);
            let items = report.attributes();
            let charger_id = ctx.charger_id;
            let n = state
                .db
                .run(move |c| crate::domain::station_variables::reported(c, charger_id, &items))
                .await?;
            log::info!(
                "{}: NotifyReport {request} seqNo {seq}: {n} variable attribute(s){}",
                ctx.device_id,
                if tbc { ", more to come" } else { "" }
            );
            Ok(json!({}))
        }
        "NotifyEvent" => monitoring::notify_event(&state, &ctx, payload).await,
        "SecurityEventNotification" => {
            let req: SecurityEventNotification = parse(payload)?;
            let timestamp = timestamps::parse_timestamp(&req.timestamp);
            crate::domain::security_events::record_charger(
                &state.db,
                ctx.charger_id,
                req.kind,
                req.tech_info,
                timestamp,
            )
            .await?;
            Ok(json!({}))
        }
        "ReportChargingProfiles" | "NotifyChargingLimit" | "ClearedChargingLimit" => {
            station_reports::charging_report(&ctx, &action, &payload)
        }
        "PublishFirmwareStatusNotification" => {
            station_reports::publish_firmware_status(&ctx, &payload)
        }
        "FirmwareStatusNotification" | "LogStatusNotification" => {
            // 2.0.1's firmware update is the signed one (also sent when an operator triggers
            // them: status Idle).
            let firmware = action == "FirmwareStatusNotification";
            crate::protocol::charging::job_status(&state, &ctx, &action, firmware, &payload).await
        }
        "SignCertificate" => certificates::sign_certificate(&state, &ctx, parse(payload)?).await,
        "GetCertificateStatus" => {
            plug_and_charge::certificate_status(&state, &ctx, parse(payload)?).await
        }
        "Get15118EVCertificate" => {
            plug_and_charge::ev_certificate(&state, &ctx, parse(payload)?).await
        }
        "NotifyEVChargingNeeds" => charging_needs::needs(&state, &ctx, payload).await,
        "NotifyEVChargingSchedule" => charging_needs::schedule(&state, &ctx, payload).await,
        "DataTransfer" => notify::data_transfer(&ctx, parse(payload)?),
        "NotifyDisplayMessages" => notify::display_messages(&ctx, parse(payload)?),
        "NotifyCustomerInformation" => {
            customer_information::notified(&state, &ctx, parse(payload)?).await
        }
        "NotifyMonitoringReport" => monitoring::monitoring_report(&ctx, payload),
        other => Err(OcppError::new(
            ErrorCode::NotSupported,
            format!("{other} is not supported for OCPP 2.0.1 stations yet"),
        )),
    }
}

async fn boot_notification(
    state: &State,
    ctx: &ChargerCtx,
    req: BootNotification,
) -> Result<Value, OcppError> {
    let charger_id = ctx.charger_id;
    let station = req.charging_station;
    let modem = station
        .modem
        .unwrap_or(crate::protocol::ocpp201::messages::Modem {
            iccid: None,
            imsi: None,
        });
    let boot = Boot {
        vendor: station.vendor_name,
        model: station.model,
        serial_number: station.serial_number,
        firmware_version: station.firmware_version,
        modem: Modem {
            iccid: modem.iccid,
            imsi: modem.imsi,
        },
        meter: (None, None),
    };
    let Booted { registration, .. } = state
        .db
        .run(move |c| presence::booted(c, charger_id, boot))
        .await?;
    let accepted = registration == Registration::Accepted;
    ctx.accepted
        .store(accepted, std::sync::atomic::Ordering::Release);
    log::info!(
        "{}: BootNotification ({}) answered {registration}",
        ctx.device_id,
        req.reason
    );
    let (status, interval) = match registration {
        Registration::Accepted => ("Accepted", state.settings.heartbeat_interval_secs),
        // Pending: it boots again after `interval` (or when an operator accepts it and csms
        // triggers a BootNotification); Rejected: it may try again after `interval`.
        Registration::Pending => ("Pending", state.settings.heartbeat_interval_secs.min(60)),
        Registration::Rejected => ("Rejected", state.settings.heartbeat_interval_secs.min(60)),
    };
    Ok(json!({
        "status": status,
        "currentTime": timestamps::now_timestamp(),
        "interval": interval,
    }))
}

/// A connector's status. The core numbers a 2.0.1 station's connectors by EVSE (one connector
/// per EVSE, as nearly every station has); evseId 0 is the station itself.
async fn status_notification(
    state: &State,
    ctx: &ChargerCtx,
    req: StatusNotification,
) -> Result<Value, OcppError> {
    if req.connector_id > 1 {
        log::info!(
            "{}: EVSE {} connector {} is {} (counted as EVSE {})",
            ctx.device_id,
            req.evse_id,
            req.connector_id,
            req.connector_status,
            req.evse_id
        );
    }
    let report = StatusReport {
        connector_id: req.evse_id,
        status: req.connector_status,
        error_code: "NoError".into(),
        info: None,
        vendor_error_code: None,
    };
    crate::protocol::charging::connector_status(state, ctx, report).await?;
    Ok(json!({}))
}
