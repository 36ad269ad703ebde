//! Firmware and diagnostics without an FTP server: csms hosts the firmware images an operator
//! uploads (chargers download them over HTTP from `/files/firmware/{token}`) and receives
//! diagnostics uploads over HTTP (`PUT` or `POST /files/diagnostics/{token}/{fileName}`). Every
//! UpdateFirmware and GetDiagnostics is a job with the statuses the charger reported; a charger that
//! boots with the new image's version after Installing is recognised as Installed even if it never
//! says so.
//!
//! The tokens in the addresses are random (128 bits) and per image / per diagnostics request: the
//! download and upload addresses need no login, as chargers have none to give. An upload address
//! accepts one upload, within `CSMS_UPLOAD_TOKEN_TTL_SECS` of its request. Files are stored and
//! served in chunks (`crate::infra::files`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::domain::chargers::id_of;
use crate::domain::file_jobs::FileJobs;
use crate::domain::file_jobs::reachable;
use crate::domain::station_commands::CallFailure;
use crate::domain::station_commands::{Command, Reply, Retries};
use crate::error::AppError;
use crate::infra::db::schema::{firmware_images, maintenance_jobs};
use crate::infra::db::{DbConnection, now, write_tx};
use crate::infra::files::Received;
use crate::infra::timestamps::format_timestamp;

pub use crate::infra::files::MAX_FILE_BYTES;

/// A hosted firmware image.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub size: i64,
    /// Where chargers download it (relative to csms's HTTP address)
    pub path: String,
    pub created_at: String,
}

pub(crate) fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(crate) fn text(field: &str, v: &str) -> Result<String, AppError> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 100 || v.chars().any(|c| c.is_control() || c == '/') {
        return Err(AppError::bad_request(format!(
            "{field} must be 1 to 100 characters without '/'"
        )));
    }
    Ok(v.to_string())
}

/// A firmware image as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = firmware_images)]
struct ImageRow {
    id: i64,
    name: String,
    version: String,
    token: String,
    sha256: String,
    size: i64,
    created_at: NaiveDateTime,
}

fn image_view(r: ImageRow) -> Image {
    Image {
        id: r.id,
        path: download_path(&r.token, &r.name),
        name: r.name,
        version: r.version,
        sha256: r.sha256,
        size: r.size,
        created_at: format_timestamp(r.created_at),
    }
}

/// Where chargers download an image (relative to csms's HTTP address).
fn download_path(token: &str, name: &str) -> String {
    format!("/files/firmware/{token}/{}", url_name(name))
}

/// The download path of a hosted image; 404 for an unknown one.
pub(crate) fn image_path(c: &mut DbConnection, image_id: i64) -> Result<String, AppError> {
    let (token, name): (String, String) = firmware_images::table
        .find(image_id)
        .select((firmware_images::token, firmware_images::name))
        .first(c)
        .optional()?
        .ok_or_else(|| AppError::NotFound("Firmware image not found".into()))?;
    Ok(download_path(&token, &name))
}

/// Stores an uploaded image (its file received by `crate::infra::files::receive`; the caller discards it
/// when this fails).
pub fn upload(
    c: &mut DbConnection,
    name: &str,
    version: &str,
    file: &Received,
) -> Result<Image, AppError> {
    let (name, version) = (text("name", name)?, text("version", version)?);
    if file.size == 0 {
        return Err(AppError::bad_request("The image is empty"));
    }
    write_tx(c, |c| {
        crate::infra::files::complete(c, file)?;
        let id: i64 = diesel::insert_into(firmware_images::table)
            .values((
                firmware_images::name.eq(&name),
                firmware_images::version.eq(&version),
                firmware_images::token.eq(token()),
                firmware_images::sha256.eq(&file.sha256),
                firmware_images::size.eq(file.size),
                firmware_images::file_id.eq(file.file_id),
                firmware_images::created_at.eq(now()),
            ))
            .returning(firmware_images::id)
            .get_result(c)?;
        Ok(image_view(
            firmware_images::table
                .find(id)
                .select(ImageRow::as_select())
                .first(c)?,
        ))
    })
}

/// A file name safe in a URL path segment (the download address a charger is given).
pub(crate) fn url_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn images(c: &mut DbConnection) -> Result<Vec<Image>, AppError> {
    Ok(firmware_images::table
        .order(firmware_images::id.desc())
        .select(ImageRow::as_select())
        .load(c)?
        .into_iter()
        .map(image_view)
        .collect())
}

/// A stored file to send: its name, file id and size.
pub type Download = (String, i64, i64);

/// The image behind a download address.
pub fn download(c: &mut DbConnection, token: &str) -> Result<Download, AppError> {
    let (name, file): (String, Option<i64>) = firmware_images::table
        .filter(firmware_images::token.eq(token))
        .select((firmware_images::name, firmware_images::file_id))
        .first(c)
        .optional()?
        .ok_or_else(|| AppError::NotFound("File not found".into()))?;
    stored(c, name, file)
}

/// A complete stored file as a [`Download`]; 404 when there is none.
pub(crate) fn stored(
    c: &mut DbConnection,
    name: String,
    file: Option<i64>,
) -> Result<Download, AppError> {
    let Some(file) = file else {
        return Err(AppError::NotFound("No file received".into()));
    };
    let size = crate::infra::files::size(c, file)?
        .ok_or_else(|| AppError::NotFound("No file received".into()))?;
    Ok((name, file, size))
}

/// A new job; `token`: its upload address and how long that accepts an upload.
fn new_job(
    c: &mut DbConnection,
    charger_id: i64,
    kind: &str,
    image_id: Option<i64>,
    location: &str,
    token: Option<(&str, chrono::Duration)>,
) -> Result<i64, AppError> {
    write_tx(c, |c| {
        insert_job(c, charger_id, kind, image_id, location, token)
    })
}

/// What the operator asks for.
pub struct FirmwareRequest {
    pub image_id: i64,
    pub retrieve_date: Option<NaiveDateTime>,
    pub retries: Option<i64>,
    pub retry_interval: Option<i64>,
}

/// Sends UpdateFirmware for a hosted image; `base_url` is csms's HTTP address as the operator
/// reached it (chargers download from there).
pub async fn update_firmware(
    desk: &FileJobs,
    device_id: &str,
    base_url: &str,
    r: FirmwareRequest,
) -> Result<Job, AppError> {
    let (d, image) = (device_id.to_string(), r.image_id);
    let (cid, path) = desk
        .db
        .run(move |c| Ok((id_of(c, &d)?, image_path(c, image)?)))
        .await?;
    if !desk.stations.is_online(device_id) {
        return Err(AppError::ChargerOffline);
    }
    let location = format!("{base_url}{path}");
    let loc = location.clone();
    let id = desk
        .db
        .run(move |c| new_job(c, cid, "firmware", Some(image), &loc, None))
        .await?;
    let command = Command::UpdateFirmware {
        location,
        retrieve_at: r.retrieve_date.unwrap_or_else(now),
        retries: Retries {
            retries: r.retries,
            interval: r.retry_interval,
        },
    };
    send(desk, device_id, id, command, failed).await?;
    desk.db.run(move |c| job(c, id)).await
}

/// Sends GetDiagnostics; the charger uploads to csms.
pub async fn get_diagnostics(
    desk: &FileJobs,
    device_id: &str,
    base_url: &str,
    start: Option<NaiveDateTime>,
    stop: Option<NaiveDateTime>,
) -> Result<Job, AppError> {
    let cid = reachable(desk, device_id).await?;
    let tok = token();
    let location = format!("{base_url}/files/diagnostics/{tok}/");
    let loc = location.clone();
    let ttl = desk.upload_ttl;
    let id = desk
        .db
        .run(move |c| new_job(c, cid, "diagnostics", None, &loc, Some((&tok, ttl))))
        .await?;
    let command = Command::GetDiagnostics {
        location,
        start,
        stop,
    };
    let answer = send(desk, device_id, id, command, failed).await?;
    set_file_name(desk, id, answer.file_name.as_deref()).await?;
    desk.db.run(move |c| job(c, id)).await
}

/// A call that failed fails its job; the charger's answer changes nothing (its status
/// notifications do).
fn failed(answer: &Result<Reply, CallFailure>) -> Option<String> {
    answer.as_ref().err().map(|e| format!("Failed: {e}"))
}

/// UpdateFirmware or GetDiagnostics sent through the commands API (a location of the operator's
/// choosing): a job, so that the charger's status notifications are tracked all the same.
pub fn command_job(
    c: &mut DbConnection,
    device_id: &str,
    kind: &str,
    location: &str,
) -> Result<i64, AppError> {
    let cid = id_of(c, device_id)?;
    new_job(c, cid, kind, None, location, None)
}

/// A FirmwareStatusNotification (`kind` firmware) or DiagnosticsStatusNotification (diagnostics):
/// the charger's latest job of that kind takes the status. `Idle` (nothing in progress, e.g. when
/// triggered) changes nothing.
pub fn status_notification(
    c: &mut DbConnection,
    charger_id: i64,
    kind: &str,
    status: &str,
) -> Result<(), AppError> {
    if status == "Idle" {
        return Ok(());
    }
    write_tx(c, |c| {
        let latest: Option<(i64, String)> = maintenance_jobs::table
            .filter(maintenance_jobs::charger_id.eq(charger_id))
            .filter(maintenance_jobs::kind.eq(kind))
            .order(maintenance_jobs::id.desc())
            .select((maintenance_jobs::id, maintenance_jobs::status))
            .first(c)
            .optional()?;
        if !reported(c, latest, status)? {
            log::info!("charger {charger_id}: {kind} status {status} without a request");
        }
        Ok(())
    })
}

/// A BootNotification: if the charger was installing an image and now runs that image's version,
/// the job is Installed (some chargers never send the Installed notification).
pub fn after_boot(
    c: &mut DbConnection,
    charger_id: i64,
    firmware_version: Option<&str>,
) -> Result<(), AppError> {
    let Some(running) = firmware_version else {
        return Ok(());
    };
    let latest: Option<(i64, String, Option<i64>)> = maintenance_jobs::table
        .filter(maintenance_jobs::charger_id.eq(charger_id))
        .filter(maintenance_jobs::kind.eq("firmware"))
        .order(maintenance_jobs::id.desc())
        .select((
            maintenance_jobs::id,
            maintenance_jobs::status,
            maintenance_jobs::image_id,
        ))
        .first(c)
        .optional()?;
    let Some((id, status, Some(image))) = latest else {
        return Ok(());
    };
    if !matches!(status.as_str(), "Downloaded" | "Installing") {
        return Ok(());
    }
    let version: String = firmware_images::table
        .find(image)
        .select(firmware_images::version)
        .first(c)?;
    if version == running {
        log::info!("charger {charger_id} booted with firmware {version}: installed");
        write_tx(c, |c| record(c, id, "Installed"))?;
    }
    Ok(())
}

// Job, desk, record, upload_address, receive, received_file and the rest for the maintenance desk.
crate::domain::file_jobs::job_table! {
    maintenance_jobs, "diagnostics",
    /// An UpdateFirmware or GetDiagnostics request and what the charger reported.
    pub struct Job {
        /// firmware or diagnostics
        kind,
        /// Requested, then what the charger reported (Downloading, Downloaded, Installing, Installed,
        /// DownloadFailed, InstallationFailed; Uploading, Uploaded, UploadFailed), or Failed: <why>
        status,
        /// Bytes received for a diagnostics job
        received_bytes,
    }
}
