//! Remote commands an operator may send to a charger (every CS→CP action), checked before they go
//! out. Those csms keeps state for go through their domain: ReserveNow and CancelReservation
//! (`reservations`, so that they exclude app sessions), SendLocalList and GetLocalListVersion
//! (`local_list`, which tracks each charger's list), and ChangeConfiguration `AuthorizationKey`
//! and `SecurityProfile` (the new password or profile is stored once the charger accepted it).
//! GetInstalledCertificateIds, InstallCertificate and DeleteCertificate update what csms knows is
//! installed (`certificates`); GetLog and SignedUpdateFirmware are jobs (`security_jobs`).

use serde_json::{Value, json};

use super::schemas::{Kind, schemas};
use crate::error::AppError;

/// Remote commands an operator may send: every CS→CP action of OCPP 1.6 and its security extension.
pub const COMMANDS: &[&str] = super::schemas::CS_TO_CP;

/// The payload to send for `action` (none given: `{}`), validated against the official schema.
/// 404 for an action OCPP does not have, 400 for one that is not a remote command (yet) or a
/// payload its schema refuses.
pub fn check(action: &str, payload: Option<Value>) -> Result<Value, AppError> {
    if !COMMANDS.contains(&action) {
        return Err(if schemas().knows(action) {
            AppError::bad_request(format!("{action} is sent by the charger, not to it"))
        } else {
            AppError::NotFound(format!("Unknown command {action}"))
        });
    }
    let payload = payload.unwrap_or_else(|| json!({}));
    schemas()
        .validate(action, Kind::Request, &payload)
        .map_err(|e| {
            AppError::bad_request(format!("Invalid {action} payload: {}", e.description))
        })?;
    Ok(payload)
}

/// What a command did: the charger's answer, and what csms recorded with it.
pub struct Outcome {
    pub response: Value,
    pub reservation: Option<crate::reservations::Reservation>,
    pub local_list: Option<crate::local_list::SyncReport>,
}

impl Outcome {
    fn answer(response: Value) -> Self {
        Outcome {
            response,
            reservation: None,
            local_list: None,
        }
    }
}

/// Checks and sends a command; see the module documentation for the ones csms keeps state for.
pub async fn run(
    state: &crate::state::State,
    device: &str,
    action: &str,
    body: Option<Value>,
) -> Result<Outcome, AppError> {
    let payload = check(action, body)?;
    let d = device.to_string();
    state.db.run(move |c| crate::chargers::id_of(c, &d)).await?;
    match action {
        "ReserveNow" => {
            let request = crate::reservations::Request::from_reserve_now(device, &payload)?;
            let (r, status) = crate::reservations::reserve_answer(state, request).await?;
            return Ok(Outcome {
                reservation: Some(r),
                ..Outcome::answer(json!({ "status": status }))
            });
        }
        "SendLocalList" => {
            let mode = match payload["updateType"].as_str() {
                Some("Full") => crate::local_list::Mode::Full,
                _ => crate::local_list::Mode::Auto,
            };
            let r = crate::local_list::sync(state, device, mode).await?;
            return Ok(Outcome {
                response: json!({ "status": r.status }),
                reservation: None,
                local_list: Some(r),
            });
        }
        "GetLocalListVersion" => {
            let v = crate::local_list::check(state, device).await?;
            return Ok(Outcome::answer(json!({ "listVersion": v })));
        }
        "UpdateFirmware" | "GetDiagnostics" => {
            let kind = if action == "UpdateFirmware" {
                "firmware"
            } else {
                "diagnostics"
            };
            let (d, location) = (
                device.to_string(),
                payload["location"].as_str().unwrap_or_default().to_string(),
            );
            state
                .db
                .run(move |c| crate::firmware::command_job(c, &d, kind, &location))
                .await?;
        }
        "GetLog" | "SignedUpdateFirmware" => {
            let (d, a, p) = (device.to_string(), action.to_string(), payload.clone());
            state
                .db
                .run(move |c| crate::security_jobs::command_job(c, &d, &a, &p))
                .await?;
        }
        "CancelReservation" => {
            let (d, id) = (
                device.to_string(),
                payload["reservationId"].as_i64().unwrap_or(-1),
            );
            state
                .db
                .run(move |c| crate::reservations::cancelled_by_command(c, &d, id))
                .await?;
        }
        _ => {}
    }
    let new_key = (action == "ChangeConfiguration" && payload["key"] == "AuthorizationKey")
        .then(|| payload["value"].as_str().unwrap_or_default().to_string());
    if let Some(key) = &new_key {
        crate::chargers::check_authorization_key(key)?;
    }
    let new_profile = match (action, payload["key"].as_str()) {
        ("ChangeConfiguration", Some("SecurityProfile")) => {
            let (d, value) = (
                device.to_string(),
                payload["value"].as_str().unwrap_or_default().to_string(),
            );
            let tls = crate::chargers::TlsOffer {
                listener: state.tls.is_some(),
                client_certificates: state.tls.as_ref().is_some_and(|t| t.client_auth()),
            };
            Some(
                state
                    .db
                    .run(move |c| crate::chargers::check_security_profile(c, &d, &value, tls))
                    .await?,
            )
        }
        _ => None,
    };
    let response = state
        .registry
        .call(
            device,
            action,
            payload.clone(),
            state.settings.call_timeout(),
        )
        .await?;
    let accepted = matches!(
        response["status"].as_str(),
        Some("Accepted" | "RebootRequired")
    );
    if let Some(profile) = new_profile
        && accepted
    {
        let d = device.to_string();
        state
            .db
            .run(move |c| crate::chargers::security_profile_accepted(c, &d, profile))
            .await?;
        log::info!(
            "{device}: SecurityProfile {profile} accepted: connections below it are refused from now on"
        );
    }
    crate::certificates::after_command(state, device, action, &payload, &response).await?;
    if let Some(key) = new_key
        && accepted
    {
        let d = device.to_string();
        state
            .db
            .run(move |c| crate::chargers::authorization_key_accepted(c, &d, &key))
            .await?;
        log::info!("{device}: AuthorizationKey changed: the new password is stored");
    }
    Ok(Outcome::answer(response))
}
