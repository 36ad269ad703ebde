//! The operator's commands API: a command goes out in the words of the version the station is
//! connected with (checked against that version's schemas, sent as given); a station that is not
//! connected here is checked as 1.6 (it is offline, or held by another node: cluster mode serves
//! 1.6 only).

use serde_json::{Value, json};

use crate::error::AppError;
pub use crate::protocol::ocpp16::commands::Outcome;
use crate::protocol::version::Version;
use crate::protocol::{ocpp16, ocpp201};
use crate::state::State;

/// The payload to send for `action` (none given: `{}`), valid against `version`'s schema: 404 for
/// an action that version does not have, 400 for one a station sends or a payload the schema
/// refuses.
pub fn check(version: Version, action: &str, payload: Option<Value>) -> Result<Value, AppError> {
    let schemas = version.schemas();
    if !version.sent_by_csms(action) {
        return Err(if schemas.knows(action) {
            AppError::bad_request(format!("{action} is sent by the charger, not to it"))
        } else {
            AppError::NotFound(format!("Unknown command {action}"))
        });
    }
    let payload = payload.unwrap_or_else(|| json!({}));
    schemas
        .validate(action, crate::protocol::schemas::Kind::Request, &payload)
        .map_err(|e| {
            AppError::bad_request(format!("Invalid {action} payload: {}", e.description))
        })?;
    Ok(payload)
}

/// Checks and sends an operator's command; see the module documentation.
pub async fn run(
    state: &State,
    device: &str,
    action: &str,
    body: Option<Value>,
) -> Result<Outcome, AppError> {
    match state.registry.get(device).map(|h| h.version) {
        Some(Version::V201) => ocpp201::commands::run(state, device, action, body).await,
        _ => ocpp16::commands::run(state, device, action, body).await,
    }
}
