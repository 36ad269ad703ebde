//! The operator's 2.0.1 commands that are jobs (`security_jobs`), as their 1.6 counterparts are:
//! UpdateFirmware (kind SignedFirmware) and GetLog (kind the logType), under the operator's
//! requestId and location. An answer other than Accepted (Rejected, AcceptedCanceled, ...) is the
//! job's status; the station's FirmwareStatusNotification and LogStatusNotification add their own.

use serde_json::Value;

use crate::domain::{chargers, security_jobs};
use crate::error::AppError;
use crate::state::State;

/// The job an operator's command opens: whether it is a firmware job, its kind and location.
fn job_of(action: &str, payload: &Value) -> Option<(bool, String, String)> {
    let text = |v: &Value, default: &str| v.as_str().unwrap_or(default).to_string();
    match action {
        "UpdateFirmware" => Some((
            true,
            "SignedFirmware".into(),
            text(&payload["firmware"]["location"], ""),
        )),
        "GetLog" => Some((
            false,
            text(&payload["logType"], "DiagnosticsLog"),
            text(&payload["log"]["remoteLocation"], ""),
        )),
        _ => None,
    }
}

/// Before the operator's command goes out: its job, when it is one.
pub async fn opened(
    state: &State,
    device: &str,
    action: &str,
    payload: &Value,
) -> Result<(), AppError> {
    let Some((_, kind, location)) = job_of(action, payload) else {
        return Ok(());
    };
    let request_id = payload["requestId"].as_i64().unwrap_or(0);
    let d = device.to_string();
    state
        .db
        .run(move |c| security_jobs::command_job(c, &d, &kind, request_id, &location))
        .await?;
    Ok(())
}

/// The station answered the operator's command: an answer other than Accepted is its job's status.
pub async fn answered(
    state: &State,
    device: &str,
    action: &str,
    payload: &Value,
    response: &Value,
) -> Result<(), AppError> {
    let Some((firmware, _, _)) = job_of(action, payload) else {
        return Ok(());
    };
    let status = response["status"].as_str().unwrap_or_default().to_string();
    if status.is_empty() || status == "Accepted" {
        return Ok(());
    }
    let request_id = payload["requestId"].as_i64().unwrap_or(0);
    let d = device.to_string();
    state
        .db
        .run(move |c| {
            let cid = chargers::id_of(c, &d)?;
            security_jobs::status_notification(c, cid, firmware, Some(request_id), &status)
        })
        .await
}
