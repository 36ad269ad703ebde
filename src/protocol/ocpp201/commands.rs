//! Remote commands an operator may send to an OCPP 2.0.1 station (every CSMS→station action),
//! checked against the official 2.0.1 schema and sent **as given**. What csms records of them
//! (reservations, local lists, passwords, …) comes with their blocks (issue 22); until then they
//! are relayed only.

use serde_json::Value;

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
    let response = state
        .registry
        .call(device, action, payload, state.settings.call_timeout())
        .await?;
    Ok(Outcome::answer(response))
}
