//! Remote commands an operator may send to an OCPP 2.0.1 station (every CSMS→station action),
//! checked against the official 2.0.1 schema and sent **as given**. csms records reservations
//! (ReserveNow, CancelReservation), the station password (SetVariables BasicAuthPassword), firmware
//! jobs and installed certificates (`station_reports`); the rest are relayed only. GetVariables
//! and SetVariables with more items than the station takes in one message
//! (DeviceDataCtrlr.ItemsPerMessage: the operator's setting, else its reports) go out as several
//! calls, and the answer holds every item's result; so does ClearVariableMonitoring
//! (MonitoringCtrlr.ItemsPerMessage, as the station reported or answered to GetVariables). GetLog
//! is a job (`monitoring`).

use serde_json::{Value, json};

use crate::domain::station_variables::{self, Limited};
use crate::protocol::ocpp201::messages::is_basic_auth_password;
use crate::protocol::ocpp201::{
    charging_needs, command_jobs, customer_information, monitoring, station_reports,
};

use crate::error::AppError;
use crate::protocol::as_given::Outcome;
use crate::protocol::version::Version;
use crate::state::State;

/// Checks and sends a command; the station's answer, whatever its status.
pub async fn run(
    state: &State,
    device: &str,
    action: &str,
    body: Option<Value>,
) -> Result<Outcome, AppError> {
    let payload = crate::protocol::as_given::check(Version::V201, action, body)?;
    let d = device.to_string();
    state
        .db
        .run(move |c| crate::domain::chargers::id_of(c, &d))
        .await?;
    let limited = match action {
        "GetVariables" => Some((
            Limited::GetVariables,
            "getVariableData",
            "getVariableResult",
        )),
        "SetVariables" => Some((
            Limited::SetVariables,
            "setVariableData",
            "setVariableResult",
        )),
        "ClearVariableMonitoring" => Some((
            Limited::ClearVariableMonitoring,
            "id",
            "clearMonitoringResult",
        )),
        _ => None,
    };
    let Some((request, items, results)) = limited else {
        return recorded(state, device, action, payload).await;
    };
    // More items than the station takes in one message go out as several calls, one after the
    // other; the answer holds every item's result, in order.
    let d = device.to_string();
    let limit = state
        .db
        .run(move |c| station_variables::items_per_message(c, &d, request))
        .await?;
    let all = payload[items].as_array().cloned().unwrap_or_default();
    // SecurityCtrlr.BasicAuthPassword: checked before it is sent, let in as the station's password
    // from now (it may reconnect with it at once), and stored once the station accepted it.
    let password = all
        .iter()
        .find(|i| is_basic_auth_password(i))
        .map(|i| i["attributeValue"].as_str().unwrap_or_default().to_string());
    if let Some(p) = &password {
        let (d, p) = (device.to_string(), p.clone());
        state
            .db
            .run(move |c| crate::domain::chargers::authorization_key_pending(c, &d, &p))
            .await?;
    }
    let size = limit.unwrap_or(all.len()).max(1);
    let mut answered = Vec::with_capacity(all.len());
    for part in all.chunks(size) {
        let mut p = payload.clone();
        p[items] = Value::Array(part.to_vec());
        let response = state
            .registry
            .call(device, action, p, state.settings.call_timeout())
            .await?;
        answered.extend(response[results].as_array().cloned().unwrap_or_default());
    }
    if action == "GetVariables" {
        monitoring::variables_answered(state, device, &answered).await?;
    }
    if let Some(p) = password {
        let accepted = answered.iter().any(|r| {
            is_basic_auth_password(r)
                && matches!(
                    r["attributeStatus"].as_str(),
                    Some("Accepted" | "RebootRequired")
                )
        });
        let d = device.to_string();
        state
            .db
            .run(move |c| match accepted {
                true => crate::domain::chargers::authorization_key_accepted(c, &d, &p),
                false => crate::domain::chargers::authorization_key_refused(c, &d),
            })
            .await?;
        if accepted {
            log::info!("{device}: BasicAuthPassword changed: the new password is stored");
        }
    }
    Ok(Outcome::answer(json!({ results: answered })))
}

/// A command csms keeps records of (reservations) or only relays.
async fn recorded(
    state: &State,
    device: &str,
    action: &str,
    payload: Value,
) -> Result<Outcome, AppError> {
    if action == "ReserveNow" {
        let given = crate::domain::reservations::Given {
            reservation_id: payload["id"].as_i64().unwrap_or_default(),
            // No EVSE: any (the station picks one).
            connector_id: payload["evseId"]
                .as_i64()
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or_default(),
            id_tag: payload["idToken"]["idToken"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            parent_id_tag: payload["groupIdToken"]["idToken"]
                .as_str()
                .map(str::to_string),
            expires_at: payload["expiryDateTime"]
                .as_str()
                .and_then(crate::infra::timestamps::parse_timestamp)
                .unwrap_or_else(crate::infra::db::now),
            command: crate::domain::station_commands::Command::Given {
                action: action.to_string(),
                payload,
            },
        };
        let (reply, r) =
            crate::domain::reservations::reserve_as_given(&state.reservations, device, given)
                .await?;
        return Ok(Outcome {
            reservation: Some(r),
            ..Outcome::answer(reply.body)
        });
    }
    let id = payload["reservationId"].as_i64();
    command_jobs::opened(state, device, action, &payload).await?;
    let asked = customer_information::opened(state, device, action, &payload).await?;
    // The operator's TxProfile of a running transaction: the EV's schedule is checked against it.
    let profile = match action {
        "SetChargingProfile" => charging_needs::operator_profile(state, device, &payload).await?,
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
        .await;
    let answer = response.as_ref().map_err(|e| e.to_string());
    charging_needs::operator_answered(state, profile, answer.clone()).await?;
    customer_information::answered(state, asked, answer).await?;
    let response = response?;
    command_jobs::answered(state, device, action, &payload, &response).await?;
    station_reports::after_command(state, device, action, &payload, &response).await?;
    // Whatever the station answered, it holds no reservation with that id afterwards.
    if action == "CancelReservation" {
        let d = device.to_string();
        let id = id.unwrap_or(-1);
        state
            .db
            .run(move |c| crate::domain::reservations::cancelled_by_command(c, &d, id))
            .await?;
        state.events.wake();
    }
    Ok(Outcome::answer(response))
}
