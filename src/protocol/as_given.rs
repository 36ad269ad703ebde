//! An operator's command as given, whatever the station's version: its check against that
//! version's schema, and what it did (the station's answer, and what csms recorded with it).

use serde_json::{Value, json};

use crate::error::AppError;
use crate::protocol::version::Version;

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

/// What a command did: the charger's answer, and what csms recorded with it.
pub struct Outcome {
    pub response: Value,
    pub reservation: Option<crate::domain::reservations::Reservation>,
    pub local_list: Option<crate::domain::local_list::SyncReport>,
}

impl Outcome {
    pub fn answer(response: Value) -> Self {
        Outcome {
            response,
            reservation: None,
            local_list: None,
        }
    }
}
