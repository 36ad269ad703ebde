//! The operator's commands API: a command goes out in the words of the version the station is
//! connected with (checked against that version's schemas, sent as given); a station that is not
//! connected here is checked as 1.6 (it is offline, or held by another node: cluster mode serves
//! 1.6 only).

use serde_json::Value;

use crate::error::AppError;
pub use crate::protocol::as_given::Outcome;
use crate::protocol::version::Version;
use crate::protocol::{ocpp16, ocpp201};
use crate::state::State;

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
