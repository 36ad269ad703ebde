//! Remote commands an operator may send to an OCPP 2.0.1 station (every CSMS→station action),
//! checked against the official 2.0.1 schema and sent **as given**. What csms records of them
//! (reservations, local lists, passwords, …) comes with their blocks (issue 22); until then they
//! are relayed only. GetVariables and SetVariables with more items than the station takes in one
//! message (DeviceDataCtrlr.ItemsPerMessage: the operator's setting, else its reports) go out as
//! several calls, and the answer holds every item's result.

use serde_json::{Value, json};

use crate::domain::station_variables::{self, Limited};

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
    Ok(Outcome::answer(json!({ results: answered })))
}
