//! What an OCPP 2.0.1 station reports about smart charging, firmware and certificates, and what
//! csms keeps of it:
//!
//! - ReportChargingProfiles (the answer to GetChargingProfiles), NotifyChargingLimit and
//!   ClearedChargingLimit (an external limit, e.g. an EMS): answered empty and logged (csms keeps
//!   the profiles it sets itself, not the ones a station reports);
//! - the operator's UpdateFirmware through the commands API is a job (`command_jobs`);
//! - PublishFirmwareStatusNotification: answered empty and logged;
//! - GetInstalledCertificateIds, InstallCertificate and DeleteCertificate update what csms knows is
//!   installed on the station (`certificates`), as for 1.6.

use serde_json::{Value, json};

use crate::error::AppError;
use crate::protocol::frame::OcppError;
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

/// The certificate types GetInstalledCertificateIds reports (all of them when it names none).
const CERTIFICATE_TYPES: &[&str] = &[
    "V2GRootCertificate",
    "MORootCertificate",
    "CSMSRootCertificate",
    "V2GCertificateChain",
    "ManufacturerRootCertificate",
];

/// ReportChargingProfiles, NotifyChargingLimit and ClearedChargingLimit: logged, answered empty.
pub fn charging_report(
    ctx: &ChargerCtx,
    action: &str,
    payload: &Value,
) -> Result<Value, OcppError> {
    let evse = match payload["evseId"].as_i64() {
        Some(e) => format!(" EVSE {e}"),
        None => String::new(),
    };
    match action {
        "ReportChargingProfiles" => log::info!(
            "{}: ReportChargingProfiles {}{evse}: {} profile(s) from {}{}",
            ctx.device_id,
            payload["requestId"],
            payload["chargingProfile"].as_array().map_or(0, Vec::len),
            payload["chargingLimitSource"],
            if payload["tbc"].as_bool().unwrap_or(false) {
                ", more to come"
            } else {
                ""
            }
        ),
        "NotifyChargingLimit" => log::info!(
            "{}: NotifyChargingLimit{evse} from {} (grid critical: {}), {} schedule(s)",
            ctx.device_id,
            payload["chargingLimit"]["chargingLimitSource"],
            payload["chargingLimit"]["isGridCritical"],
            payload["chargingSchedule"].as_array().map_or(0, Vec::len)
        ),
        _ => log::info!(
            "{}: {action}{evse}: the limit of {} is released",
            ctx.device_id,
            payload["chargingLimitSource"]
        ),
    }
    Ok(json!({}))
}

/// PublishFirmwareStatusNotification: logged (csms keeps no job of a publication: the station
/// serves the image to its local peers, nothing in csms waits on it); answered empty.
pub fn publish_firmware_status(ctx: &ChargerCtx, payload: &Value) -> Result<Value, OcppError> {
    log::info!(
        "{}: PublishFirmwareStatusNotification {} (requestId {}){}",
        ctx.device_id,
        payload["status"],
        payload["requestId"],
        match payload["location"].as_array() {
            Some(l) => format!(", published at {}", Value::Array(l.clone())),
            None => String::new(),
        }
    );
    Ok(json!({}))
}

/// The station answered an operator's command: certificate commands update what csms knows is
/// installed.
pub async fn after_command(
    state: &State,
    device: &str,
    action: &str,
    payload: &Value,
    response: &Value,
) -> Result<(), AppError> {
    let (d, p, r) = (device.to_string(), payload.clone(), response.clone());
    let accepted = response["status"] == "Accepted";
    use crate::domain::certificates::{deleted, installed, installed_reported};
    match action {
        "GetInstalledCertificateIds" => {
            state
                .db
                .run(move |c| {
                    let asked: Vec<String> = match p["certificateType"].as_array() {
                        Some(types) => types
                            .iter()
                            .filter_map(|t| t.as_str().map(str::to_string))
                            .collect(),
                        None => CERTIFICATE_TYPES.iter().map(|t| t.to_string()).collect(),
                    };
                    let chain = r["certificateHashDataChain"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    for t in asked {
                        let hashes: Vec<Value> = chain
                            .iter()
                            .filter(|h| h["certificateType"] == t.as_str())
                            .map(|h| h["certificateHashData"].clone())
                            .collect();
                        installed_reported(c, &d, &t, accepted, &hashes)?;
                    }
                    Ok(())
                })
                .await
        }
        "InstallCertificate" if accepted => {
            state
                .db
                .run(move |c| {
                    let pem = p["certificate"].as_str().unwrap_or_default();
                    let kind = p["certificateType"].as_str().unwrap_or_default();
                    installed(c, &d, kind, pem)
                })
                .await
        }
        "DeleteCertificate" if accepted => {
            state
                .db
                .run(move |c| deleted(c, &d, &p["certificateHashData"]))
                .await
        }
        _ => Ok(()),
    }
}
