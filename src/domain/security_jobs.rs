//! GetLog and SignedUpdateFirmware (OCPP 1.6 security extension) as desk, like UpdateFirmware and
//! GetDiagnostics in `crate::domain::firmware`: each has a requestId, and the charger's
//! LogStatusNotification / SignedFirmwareStatusNotification statuses are kept with their times.
//! Logs are uploaded to csms over HTTP (`PUT` or `POST /files/logs/{token}/{fileName}`, the token
//! random and per request); signed firmware is an image csms hosts (`/files/firmware/...`), sent
//! with the operator's signing certificate and signature.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::domain::chargers::id_of;
use crate::domain::file_jobs::FileJobs;
use crate::domain::file_jobs::reachable;
use crate::domain::firmware::{Download, image_path, stored, text, token};
use crate::domain::station_commands::CallFailure;
use crate::domain::station_commands::{Command, Reply, Retries};
use crate::error::AppError;
use crate::infra::db::schema::security_jobs;
use crate::infra::db::{DbConnection, now, write_tx};
use crate::infra::files::Received;
use crate::infra::timestamps::format_timestamp;

/// The kinds of log GetLog asks for.
pub const LOG_TYPES: &[&str] = &["SecurityLog", "DiagnosticsLog"];

/// A new job; `request_id` None: the job's own id is the requestId; `token`: its upload address
/// and how long that accepts an upload.
fn new_job(
    c: &mut DbConnection,
    charger_id: i64,
    kind: &str,
    request_id: Option<i64>,
    image_id: Option<i64>,
    location: &str,
    token: Option<(&str, chrono::Duration)>,
) -> Result<(i64, i64), AppError> {
    write_tx(c, |c| {
        let id = insert_job(
            c,
            charger_id,
            kind,
            request_id.unwrap_or(0),
            image_id,
            location,
            token,
        )?;
        let request_id = match request_id {
            Some(r) => r,
            None => {
                diesel::update(security_jobs::table.find(id))
                    .set(security_jobs::request_id.eq(id))
                    .execute(c)?;
                id
            }
        };
        Ok((id, request_id))
    })
}

/// Sends the CALL once the charger's protocol accepts its payload; a failure or an answer other
/// than Accepted is the job's status.
async fn send_checked(
    desk: &FileJobs,
    device_id: &str,
    id: i64,
    action: &str,
    command: Command,
) -> Result<Reply, AppError> {
    if let Err(e) = desk.stations.check(device_id, &command) {
        let why = format!("Invalid {action}: {e}");
        set_status(desk, id, format!("Failed: {why}")).await?;
        return Err(AppError::bad_request(why));
    }
    let outcome = |answer: &Result<Reply, CallFailure>| match answer {
        Err(e) => Some(format!("Failed: {}", AppError::from(e.clone()))),
        Ok(r) if !r.accepted() => Some(r.status_or("Rejected").to_string()),
        Ok(_) => None,
    };
    send(desk, device_id, id, command, outcome).await
}

/// What the operator asks for with GetLog.
pub struct LogRequest {
    pub log_type: String,
    pub oldest: Option<NaiveDateTime>,
    pub latest: Option<NaiveDateTime>,
    pub retries: Option<i64>,
    pub retry_interval: Option<i64>,
}

fn check_retries(retries: Option<i64>, interval: Option<i64>) -> Result<(), AppError> {
    if retries.is_some_and(|n| !(0..=i64::from(i32::MAX)).contains(&n))
        || interval.is_some_and(|n| !(0..=i64::from(i32::MAX)).contains(&n))
    {
        return Err(AppError::bad_request(
            "retries and retryInterval must be 0 or more",
        ));
    }
    Ok(())
}

/// Sends GetLog; the charger uploads the log to csms (`base_url` is csms's HTTP address).
pub async fn get_log(
    desk: &FileJobs,
    device_id: &str,
    base_url: &str,
    r: LogRequest,
) -> Result<SecurityJob, AppError> {
    // The charger first (404, then 409 when offline), then the request.
    let cid = reachable(desk, device_id).await?;
    check_retries(r.retries, r.retry_interval)?;
    if !LOG_TYPES.contains(&r.log_type.as_str()) {
        return Err(AppError::bad_request(
            "logType must be SecurityLog or DiagnosticsLog",
        ));
    }
    if let (Some(o), Some(l)) = (r.oldest, r.latest)
        && o > l
    {
        return Err(AppError::bad_request(
            "oldestTimestamp must not be after latestTimestamp",
        ));
    }
    let tok = token();
    let location = format!("{base_url}/files/logs/{tok}/");
    let (loc, kind) = (location.clone(), r.log_type.clone());
    let ttl = desk.upload_ttl;
    let (id, request_id) = desk
        .db
        .run(move |c| new_job(c, cid, &kind, None, None, &loc, Some((&tok, ttl))))
        .await?;
    let command = Command::GetLog {
        log_type: r.log_type,
        request_id,
        location,
        oldest: r.oldest,
        latest: r.latest,
        retries: Retries {
            retries: r.retries,
            interval: r.retry_interval,
        },
    };
    let answer = send_checked(desk, device_id, id, "GetLog", command).await?;
    set_file_name(desk, id, answer.file_name.as_deref()).await?;
    desk.db.run(move |c| job(c, id)).await
}

/// What the operator asks for with SignedUpdateFirmware.
pub struct SignedFirmwareRequest {
    pub image_id: i64,
    /// PEM, the certificate whose key signed the image
    pub signing_certificate: String,
    /// Base64, the image's signature
    pub signature: String,
    pub retrieve_date: Option<NaiveDateTime>,
    pub install_date: Option<NaiveDateTime>,
    pub retries: Option<i64>,
    pub retry_interval: Option<i64>,
}

/// Sends SignedUpdateFirmware for a hosted image.
pub async fn signed_update_firmware(
    desk: &FileJobs,
    device_id: &str,
    base_url: &str,
    r: SignedFirmwareRequest,
) -> Result<SecurityJob, AppError> {
    let cid = reachable(desk, device_id).await?;
    check_retries(r.retries, r.retry_interval)?;
    // A certificate (PEM) the charger can read, and a base64 signature.
    crate::infra::ca::hash_data(&r.signing_certificate, None).map_err(|e| {
        AppError::bad_request(format!("signingCertificate must be a PEM certificate: {e}"))
    })?;
    if r.signing_certificate.len() > 5500 || r.signature.trim().len() > 800 {
        return Err(AppError::bad_request(
            "signingCertificate is limited to 5500 characters, signature to 800",
        ));
    }
    {
        use base64::Engine;
        let sig = r.signature.trim();
        if sig.is_empty()
            || base64::engine::general_purpose::STANDARD
                .decode(sig)
                .is_err()
        {
            return Err(AppError::bad_request("signature must be base64"));
        }
    }
    let image = r.image_id;
    let path = desk.db.run(move |c| image_path(c, image)).await?;
    let location = format!("{base_url}{path}");
    let loc = location.clone();
    let (id, request_id) = desk
        .db
        .run(move |c| new_job(c, cid, "SignedFirmware", None, Some(image), &loc, None))
        .await?;
    let command = Command::SignedUpdateFirmware {
        request_id,
        location,
        retrieve_at: r.retrieve_date.unwrap_or_else(now),
        install_at: r.install_date,
        signature: r.signature.trim().to_string(),
        signing_certificate: r.signing_certificate,
        retries: Retries {
            retries: r.retries,
            interval: r.retry_interval,
        },
    };
    send_checked(desk, device_id, id, "SignedUpdateFirmware", command).await?;
    desk.db.run(move |c| job(c, id)).await
}

/// A log upload (`kind` SecurityLog or DiagnosticsLog) or a signed firmware update
/// (SignedFirmware) sent through the commands API (the operator's location and requestId): a job
/// all the same, so that the charger's notifications are tracked.
pub fn command_job(
    c: &mut DbConnection,
    device_id: &str,
    kind: &str,
    request_id: i64,
    location: &str,
) -> Result<i64, AppError> {
    let cid = id_of(c, device_id)?;
    Ok(new_job(c, cid, kind, Some(request_id), None, location, None)?.0)
}

/// A LogStatusNotification (`signed_firmware` false) or SignedFirmwareStatusNotification: the
/// charger's job with that requestId (without one: its latest job of that kind) takes the status.
/// `Idle` changes nothing.
pub fn status_notification(
    c: &mut DbConnection,
    charger_id: i64,
    signed_firmware: bool,
    request_id: Option<i64>,
    status: &str,
) -> Result<(), AppError> {
    if status == "Idle" {
        return Ok(());
    }
    let kinds: &[&str] = if signed_firmware {
        &["SignedFirmware"]
    } else {
        LOG_TYPES
    };
    write_tx(c, |c| {
        let mut q = security_jobs::table
            .filter(security_jobs::charger_id.eq(charger_id))
            .filter(security_jobs::kind.eq_any(kinds))
            .into_boxed();
        if let Some(r) = request_id {
            q = q.filter(security_jobs::request_id.eq(r));
        }
        let latest: Option<(i64, String)> = q
            .order(security_jobs::id.desc())
            .select((security_jobs::id, security_jobs::status))
            .first(c)
            .optional()?;
        if !reported(c, latest, status)? {
            log::info!("charger {charger_id}: status {status} for unknown request {request_id:?}");
        }
        Ok(())
    })
}

// SecurityJob, desk, record, upload_address, receive, received_file and the rest for the security
// desk.
crate::domain::file_jobs::job_table! {
    security_jobs, "log",
    /// A GetLog or SignedUpdateFirmware request and what the charger reported.
    pub struct SecurityJob {
        /// SecurityLog, DiagnosticsLog or SignedFirmware
        kind,
        /// Requested, then what the charger answered when it was not Accepted, and every status it
        /// reported (Uploading, Uploaded, UploadFailure…; Downloading, SignatureVerified, Installed,
        /// InvalidSignature…), or Failed: <why>
        status,
        /// Bytes received for a log
        received_bytes,
        /// The requestId sent to the charger
        request_id: i64,
    }
}
