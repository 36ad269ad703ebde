//! Remote commands an operator may send to an OCPP 2.0.1 station (every CSMS→station action),
//! checked against the official 2.0.1 schema and sent **as given**. What csms records of them
//! (reservations, local lists, passwords, …) comes with their blocks (issue 22); until then they
//! are relayed only.

use serde_json::{Value, json};

use crate::error::AppError;
use crate::protocol::ocpp16::commands::Outcome;
use crate::protocol::ocpp201::schemas::{CSMS_TO_STATION, Kind, schemas};
use crate::state::State;

/// The payload to send for `action` (none given: `{}`), valid against its 2.0.1 schema: 404 for
/// an action 2.0.1 does not have, 400 for one a station sends or a payload the schema refuses.
pub fn check(action: &str, payload: Option<Value>) -> Result<Value, AppError> {
    if !CSMS_TO_STATION.contains(&action) {
        return Err(if schemas().knows(action) {
            AppError::bad_request(format!("{action} is sent by the station, not to it"))
        } else {
            AppError::NotFound(format!("Unknown command {action} (OCPP 2.0.1)"))
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

/// Checks and sends a command; the station's answer, whatever its status.
pub async fn run(
    state: &State,
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
    let response = state
        .registry
        .call(device, action, payload, state.settings.call_timeout())
        .await?;
    Ok(Outcome::answer(response))
}
