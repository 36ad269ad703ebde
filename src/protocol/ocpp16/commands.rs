//! Remote commands an operator may send to a charger (every CS→CP action), checked against the
//! official schema and sent **as given**: the charger is the authority on its own connectors, and
//! an operator's command is never replaced by csms's own. csms records what it needs from the
//! payload and the answer: ReserveNow and CancelReservation (`reservations`: the operator's
//! reservationId, recorded by the answer), an accepted RemoteStartTransaction (what csms still held
//! open on that connector has ended), SendLocalList and GetLocalListVersion (`local_list`, which
//! tracks each charger's list), and ChangeConfiguration `AuthorizationKey` and `SecurityProfile`
//! (the new password or profile is stored once the charger accepted it).
//! GetInstalledCertificateIds, InstallCertificate and DeleteCertificate update what csms knows is
//! installed (`certificates`); GetLog and SignedUpdateFirmware are jobs (`security_jobs`).

use serde_json::{Value, json};

use crate::error::AppError;
use crate::protocol::ocpp16::schemas::{Kind, schemas};

/// Remote commands an operator may send: every CS→CP action of OCPP 1.6 and its security extension.
pub const COMMANDS: &[&str] = crate::protocol::ocpp16::schemas::CS_TO_CP;

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
    pub reservation: Option<crate::domain::reservations::Reservation>,
    pub local_list: Option<crate::domain::local_list::SyncReport>,
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
    state
        .db
        .run(move |c| crate::domain::chargers::id_of(c, &d))
        .await?;
    match action {
        "ReserveNow" => {
            let (response, r) =
                crate::domain::reservations::reserve_as_given(&state.reservations, device, payload)
                    .await?;
            return Ok(Outcome {
                reservation: Some(r),
                ..Outcome::answer(response)
            });
        }
        "SendLocalList" => {
            let (response, r) =
                crate::domain::local_list::send_as_given(&state.local_lists, device, payload)
                    .await?;
            return Ok(Outcome {
                response,
                reservation: None,
                local_list: Some(r),
            });
        }
        "GetLocalListVersion" => {
            let v = crate::domain::local_list::check(&state.local_lists, device).await?;
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
                .run(move |c| crate::domain::firmware::command_job(c, &d, kind, &location))
                .await?;
        }
        "GetLog" | "SignedUpdateFirmware" => {
            let (d, a, p) = (device.to_string(), action.to_string(), payload.clone());
            state
                .db
                .run(move |c| crate::domain::security_jobs::command_job(c, &d, &a, &p))
                .await?;
        }
        _ => {}
    }
    let new_key =
        crate::protocol::ocpp16::messages::changes_key(action, &payload, "AuthorizationKey")
            .then(|| payload["value"].as_str().unwrap_or_default().to_string());
    if let Some(key) = &new_key {
        crate::domain::chargers::check_authorization_key(key)?;
        let (d, k) = (device.to_string(), key.clone());
        state
            .db
            .run(move |c| crate::domain::chargers::authorization_key_pending(c, &d, &k))
            .await?;
    }
    let new_profile =
        if crate::protocol::ocpp16::messages::changes_key(action, &payload, "SecurityProfile") {
            let (d, value) = (
                device.to_string(),
                payload["value"].as_str().unwrap_or_default().to_string(),
            );
            let tls = crate::domain::chargers::TlsOffer {
                listener: state.tls.is_some(),
                client_certificates: state.tls.as_ref().is_some_and(|t| t.client_auth()),
            };
            Some(
                state
                    .db
                    .run(move |c| {
                        crate::domain::chargers::check_security_profile(c, &d, &value, tls)
                    })
                    .await?,
            )
        } else {
            None
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
    // First: the charger may be reconnecting with the new password right now.
    if let Some(key) = new_key {
        let d = device.to_string();
        state
            .db
            .run(move |c| match accepted {
                true => crate::domain::chargers::authorization_key_accepted(c, &d, &key),
                false => crate::domain::chargers::authorization_key_refused(c, &d),
            })
            .await?;
        if accepted {
            log::info!("{device}: AuthorizationKey changed: the new password is stored");
        }
    }
    if let Some(profile) = new_profile
        && accepted
    {
        let d = device.to_string();
        state
            .db
            .run(move |c| crate::domain::chargers::security_profile_accepted(c, &d, profile))
            .await?;
        log::info!(
            "{device}: SecurityProfile {profile} accepted: connections below it are refused from now on"
        );
    }
    crate::domain::certificates::after_command(&state.db, device, action, &payload, &response)
        .await?;
    match action {
        // Whatever the charger answered, it holds no reservation with that id afterwards.
        "CancelReservation" => {
            let (d, id) = (
                device.to_string(),
                payload["reservationId"].as_i64().unwrap_or(-1),
            );
            state
                .db
                .run(move |c| crate::domain::reservations::cancelled_by_command(c, &d, id))
                .await?;
            state.events.wake();
        }
        // A charger accepts a remote start only on a free connector: what csms still holds open
        // there has ended (settled from its best evidence).
        "RemoteStartTransaction" if response["status"] == "Accepted" => {
            if let Some(connector) = payload["connectorId"]
                .as_i64()
                .and_then(|c| i32::try_from(c).ok())
            {
                let (d, policy) = (device.to_string(), state.derived.policy);
                let closed = state
                    .db
                    .run(move |c| {
                        let charger_id = crate::domain::chargers::id_of(c, &d)?;
                        crate::domain::charging::orphans::connector_free(
                            c,
                            charger_id,
                            connector,
                            "a remote start",
                            &policy,
                        )
                    })
                    .await?;
                if closed > 0 {
                    state.events.wake();
                    state.occupancy.release(device);
                }
            }
        }
        _ => {}
    }
    if let ("ChangeConfiguration", true, Some(key), Some(value)) = (
        action,
        accepted,
        payload["key"].as_str(),
        payload["value"].as_str(),
    ) {
        let (d, k, v) = (device.to_string(), key.to_string(), value.to_string());
        state
            .db
            .run(move |c| crate::domain::auth_cache::operator_changed(c, &d, &k, &v))
            .await?;
    }
    Ok(Outcome::answer(response))
}
