//! Firmware and diagnostics over HTTP (rules in `crate::domain::firmware`): the operator uploads images and
//! starts UpdateFirmware / GetDiagnostics; chargers download images and upload diagnostics at
//! addresses with a secret token (no login). Uploads and downloads are streamed through
//! `crate::infra::files` (a chunk at a time), never held whole in memory.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use serde::Deserialize;
use utoipa::ToSchema;

use super::identity::OperatorId;
use crate::domain::firmware::{self, Download, FirmwareRequest, Image, Job};
use crate::error::AppError;
use crate::infra::timestamps::parse_timestamp;
use crate::state::AppState;

super::answers! {
    pub struct ImageAnswer { image: Image }
    pub struct ImageList { images: Vec<Image> }
    pub struct JobAnswer { job: Job }
    pub struct JobList { jobs: Vec<Job> }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file name (1 to 100 characters, no '/')
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^/\x00-\x1f\x7f-\x9f]*[^/\s\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// The firmware version the charger reports after installing it
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^/\x00-\x1f\x7f-\x9f]*[^/\s\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*$"
    )]
    version: String,
}

/// `POST /api/admin/chargers/{deviceId}/firmware`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateBody {
    image_id: i64,
    /// RFC 3339; default now
    #[schema(format = DateTime)]
    retrieve_date: Option<String>,
    #[schema(minimum = 0)]
    retries: Option<i64>,
    #[schema(minimum = 0)]
    retry_interval: Option<i64>,
}

impl UpdateBody {
    fn request(self) -> Result<FirmwareRequest, AppError> {
        let r = FirmwareRequest {
            image_id: self.image_id,
            retrieve_date: time("retrieveDate", self.retrieve_date)?,
            retries: self.retries,
            retry_interval: self.retry_interval,
        };
        if r.retries.is_some_and(|n| n < 0) || r.retry_interval.is_some_and(|n| n < 0) {
            return Err(AppError::bad_request(
                "retries and retryInterval must be 0 or more",
            ));
        }
        Ok(r)
    }
}

/// `POST /api/admin/chargers/{deviceId}/diagnostics`
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiagnosticsBody {
    #[schema(format = DateTime)]
    start_time: Option<String>,
    #[schema(format = DateTime)]
    stop_time: Option<String>,
}

impl DiagnosticsBody {
    /// The start and the stop of the diagnostics asked for.
    fn window(self) -> Result<(Option<NaiveDateTime>, Option<NaiveDateTime>), AppError> {
        Ok((
            time("startTime", self.start_time)?,
            time("stopTime", self.stop_time)?,
        ))
    }
}

/// 413 at once for a body that says it is larger than a file may be (a body without a length is
/// cut off while it streams, as soon as it passes the limit).
pub(crate) fn declared_size(req: &HttpRequest) -> Result<(), AppError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > crate::infra::files::MAX_FILE_BYTES as u64) {
        return Err(AppError::TooLarge(format!(
            "Files are limited to {} MiB",
            crate::infra::files::MAX_FILE_BYTES / 1024 / 1024
        )));
    }
    Ok(())
}

/// A stored file, sent as an attachment a chunk at a time (with its Content-Length).
pub(crate) fn attachment(state: &AppState, (name, file, size): Download) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", name.replace('"', "")),
        ))
        .no_chunking(u64::try_from(size).unwrap_or(0))
        .streaming(crate::infra::files::read(state.db.clone(), file))
}

/// csms's HTTP address as the caller reached it: where chargers are told to download and upload.
pub(crate) fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

pub(crate) fn time(
    field: &str,
    v: Option<String>,
) -> Result<Option<chrono::NaiveDateTime>, AppError> {
    match v {
        None => Ok(None),
        Some(t) => parse_timestamp(&t)
            .map(Some)
            .ok_or_else(|| AppError::bad_request(format!("{field} must be an RFC 3339 date-time"))),
    }
}

#[utoipa::path(post, path = "/api/admin/firmware", tag = "operator",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "Stored; chargers download it from `path`", body = ImageAnswer), (status = 400, description = "Missing name or version, or an empty file"), (status = 413, description = "Above 64 MiB")),
    security(("bearer" = [])),
)]
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    _op: OperatorId,
    q: web::Query<UploadQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    // The cheap checks before a byte is stored.
    let (name, version) = (
        firmware::text("name", &q.name)?,
        firmware::text("version", &q.version)?,
    );
    declared_size(&req)?;
    let file = crate::infra::files::receive(&state.db, payload).await?;
    let id = file.file_id;
    let image = state
        .db
        .run(move |c| firmware::upload(c, &name, &version, &file))
        .await;
    let image = match image {
        Ok(image) => image,
        Err(e) => {
            crate::infra::files::discard(&state.db, id).await;
            return Err(e);
        }
    };
    super::created(ImageAnswer::new(image))
}

super::operation! {
    get "/api/admin/firmware", "operator", "bearer" (
        responses((status = 200, description = "Hosted images, newest first", body = ImageList)),
    )
    pub async fn images(state, _op: OperatorId) {
        let images = state.db.run(firmware::images).await?;
        super::ok(ImageList::new(images))
    }
}

#[utoipa::path(get, path = "/files/firmware/{token}/{name}", tag = "charger",
    params(("token" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The image", content_type = "application/octet-stream", body = Vec<u8>), (status = 404, description = "File not found")),
)]
pub async fn download(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (token, _) = path.into_inner();
    let file = state.db.run(move |c| firmware::download(c, &token)).await?;
    Ok(attachment(&state, file))
}

super::file_jobs! {
    update_firmware at "/api/admin/chargers/{device_id}/firmware", UpdateBody => JobAnswer,
        "UpdateFirmware sent; the job follows the charger's status notifications", "Invalid input",
        "Charger or image not found",
        |jobs, device, base, body| firmware::update_firmware(jobs, device, base, body.request()?);
    get_diagnostics at "/api/admin/chargers/{device_id}/diagnostics", DiagnosticsBody => JobAnswer,
        "GetDiagnostics sent; the charger uploads to csms", "Invalid input", "Charger not found",
        |jobs, device, base, body| {
            let (start, stop) = body.window()?;
            firmware::get_diagnostics(jobs, device, base, start, stop)
        };
}

super::charger_reads! {
    jobs at "/api/admin/chargers/{device_id}/maintenance" => JobList from firmware::jobs,
        "UpdateFirmware and GetDiagnostics jobs with every reported status, newest first";
}

super::job_files! {
    file at "/api/admin/maintenance/{id}/file" => firmware::received_file,
        "The diagnostics file the charger uploaded";
}
