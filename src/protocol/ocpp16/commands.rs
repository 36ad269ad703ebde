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

use crate::domain::station_commands::Command;
use crate::error::AppError;
use crate::protocol::as_given::Outcome;
use crate::protocol::version::Version;

/// What csms records for a certificate command the charger answered: what is installed.
async fn certificates_known(
    db: &crate::infra::db::Db,
    device_id: &str,
    action: &str,
    payload: &Value,
    response: &Value,
) -> Result<(), AppError> {
    use crate::domain::certificates::{deleted, installed, installed_reported};
    let (d, p, r) = (device_id.to_string(), payload.clone(), response.clone());
    let accepted = r["status"] == "Accepted";
    let certificate_type = move || {
        p["certificateType"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    match action {
        "GetInstalledCertificateIds" => {
            db.run(move |c| {
                let hashes = r["certificateHashData"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                installed_reported(c, &d, &certificate_type(), accepted, &hashes)
            })
            .await
        }
        "InstallCertificate" if accepted => {
            let pem = payload["certificate"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            db.run(move |c| installed(c, &d, &certificate_type(), &pem))
                .await
        }
        "DeleteCertificate" if accepted => {
            let hash = payload["certificateHashData"].clone();
            db.run(move |c| deleted(c, &d, &hash)).await
        }
        _ => Ok(()),
    }
}

/// The operator's command, sent as given.
fn given(action: &str, payload: Value) -> Command {
    Command::Given {
        action: action.to_string(),
        payload,
    }
}

/// Checks and sends a command; see the module documentation for the ones csms keeps state for.
pub async fn run(
    state: &crate::state::State,
    device: &str,
    action: &str,
    body: Option<Value>,
) -> Result<Outcome, AppError> {
    let payload = crate::protocol::as_given::check(Version::V16, action, body)?;
    crate::domain::chargers::find(&state.db, device).await?;
    match action {
        "ReserveNow" => {
            let given = crate::domain::reservations::Given {
                reservation_id: payload["reservationId"].as_i64().unwrap_or_default(),
                connector_id: payload["connectorId"]
                    .as_i64()
                    .and_then(|c| i32::try_from(c).ok())
                    .unwrap_or_default(),
                id_tag: payload["idTag"].as_str().unwrap_or_default().to_string(),
                parent_id_tag: payload["parentIdTag"].as_str().map(str::to_string),
                expires_at: payload["expiryDate"]
                    .as_str()
                    .and_then(crate::infra::timestamps::parse_timestamp)
                    .unwrap_or_else(crate::infra::db::now),
                command: given(action, payload),
            };
            let (reply, r) =
                crate::domain::reservations::reserve_as_given(&state.reservations, device, given)
                    .await?;
            return Ok(Outcome {
                reservation: Some(r),
                ..Outcome::answer(reply.body)
            });
        }
        "SendLocalList" => {
            let given = crate::domain::local_list::Given {
                version: payload["listVersion"]
                    .as_i64()
                    .and_then(|v| i32::try_from(v).ok())
                    .unwrap_or_default(),
                full: payload["updateType"] == "Full",
                entries: payload["localAuthorizationList"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| {
                        let tag = e["idTag"].as_str()?.to_string();
                        Some((tag, e.get("idTagInfo").cloned()))
                    })
                    .collect(),
                command: given(action, payload),
            };
            let (reply, r) =
                crate::domain::local_list::send_as_given(&state.local_lists, device, given).await?;
            return Ok(Outcome {
                response: reply.body,
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
            let (kind, location) = if action == "GetLog" {
                (
                    payload["logType"].as_str().unwrap_or("DiagnosticsLog"),
                    &payload["log"]["remoteLocation"],
                )
            } else {
                ("SignedFirmware", &payload["firmware"]["location"])
            };
            let (d, kind, location) = (
                device.to_string(),
                kind.to_string(),
                location.as_str().unwrap_or_default().to_string(),
            );
            let request_id = payload["requestId"].as_i64().unwrap_or(0);
            state
                .db
                .run(move |c| {
                    crate::domain::security_jobs::command_job(c, &d, &kind, request_id, &location)
                })
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
    let sent_at = crate::infra::db::now();
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
        crate::domain::chargers::password_answered(&state.db, device, key, accepted).await?;
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
    certificates_known(&state.db, device, action, &payload, &response).await?;
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
                            sent_at,
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
