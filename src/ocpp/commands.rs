//! Remote commands an operator may send to a charger (OCPP 1.6 core), checked before they go out.

use serde_json::{Value, json};

use super::schemas::{Kind, schemas};
use crate::error::AppError;

/// Remote commands an operator may send (OCPP 1.6 core).
pub const COMMANDS: &[&str] = &[
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "Reset",
    "UnlockConnector",
    "ChangeAvailability",
    "GetConfiguration",
    "ChangeConfiguration",
    "ClearCache",
    "TriggerMessage",
    "DataTransfer",
];

/// The payload to send for `action` (none given: `{}`), validated against the official schema.
/// 404 for an action OCPP does not have, 400 for one that is not a remote command (yet) or a
/// payload its schema refuses.
pub fn check(action: &str, payload: Option<Value>) -> Result<Value, AppError> {
    if !COMMANDS.contains(&action) {
        return Err(if schemas().knows(action) {
            AppError::bad_request(format!("{action} is not available as a remote command yet"))
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
