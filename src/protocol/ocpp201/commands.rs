//! Remote commands an operator may send to an OCPP 2.0.1 station (every CSMS→station action),
//! checked against the official 2.0.1 schema and sent **as given**. What csms records of them
//! (reservations, local lists, passwords, …) comes with their blocks (issue 22); until then they
//! are relayed only. GetVariables and SetVariables with more items than the station takes in one
//! message (DeviceDataCtrlr.ItemsPerMessage: the operator's setting, else its reports) go out as
//! several calls, and the answer holds every item's result.

use serde_json::{Value, json};

use crate::domain::station_variables::{self, Limited};
use crate::protocol::ocpp201::messages::is_basic_auth_password;

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
        _ => None,
    };
    let Some((request, items, results)) = limited else {
        let response = state
            .registry
            .call(device, action, payload, state.settings.call_timeout())
            .await?;
        return Ok(Outcome::answer(response));
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
