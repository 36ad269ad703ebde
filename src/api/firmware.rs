//! Firmware and diagnostics over HTTP (rules in `crate::firmware`): the operator uploads images and
//! starts UpdateFirmware / GetDiagnostics; chargers download images and upload diagnostics at
//! addresses with a secret token (no login).

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::OperatorId;
use crate::error::AppError;
use crate::firmware::{self, FirmwareRequest, Image, Job, MAX_FILE_BYTES};
use crate::ocpp::messages::parse_timestamp;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ImageAnswer {
    success: bool,
    image: Image,
}

#[derive(Serialize, ToSchema)]
pub struct ImageList {
    success: bool,
    images: Vec<Image>,
}

#[derive(Serialize, ToSchema)]
pub struct JobAnswer {
    success: bool,
    job: Job,
}

#[derive(Serialize, ToSchema)]
pub struct JobList {
    success: bool,
    jobs: Vec<Job>,
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

/// `POST /api/admin/chargers/{deviceId}/diagnostics`
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiagnosticsBody {
    #[schema(format = DateTime)]
    start_time: Option<String>,
    #[schema(format = DateTime)]
    stop_time: Option<String>,
}

/// Reads a request body up to `MAX_FILE_BYTES` (413 above).
pub(crate) async fn read(mut payload: web::Payload) -> Result<Vec<u8>, AppError> {
    let mut data = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::bad_request(format!("Upload failed: {e}")))?;
        if data.len() + chunk.len() > MAX_FILE_BYTES {
            return Err(AppError::TooLarge(format!(
                "Files are limited to {} MiB",
                MAX_FILE_BYTES / 1024 / 1024
            )));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// A file a charger uploads to an address csms gave it (`/files/{kind}/{token}/{name}`): the address
/// is checked before the body is read, then the file is stored. `known` and `store` are the
/// domain's (diagnostics or logs).
pub(crate) async fn receive_upload(
    state: &AppState,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    known: fn(&mut crate::db::DbConnection, &str) -> Result<(), AppError>,
    store: fn(&mut crate::db::DbConnection, &str, &str, Vec<u8>) -> Result<(), AppError>,
) -> Result<HttpResponse, AppError> {
    let (token, name) = path.into_inner();
    let t = token.clone();
    state.db.run(move |c| known(c, &t)).await?;
    let data = read(payload).await?;
    state.db.run(move |c| store(c, &token, &name, data)).await?;
    Ok(HttpResponse::Ok().json(crate::api::Done { success: true }))
}

/// A file download.
pub(crate) fn attachment(name: &str, data: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", name.replace('"', "")),
        ))
        .body(data)
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
    state: web::Data<AppState>,
    _op: OperatorId,
    q: web::Query<UploadQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let data = read(payload).await?;
    let (name, version) = (q.name, q.version);
    let image = state
        .db
        .run(move |c| firmware::upload(c, &name, &version, data))
        .await?;
    Ok(HttpResponse::Created().json(ImageAnswer {
        success: true,
        image,
    }))
}

#[utoipa::path(get, path = "/api/admin/firmware", tag = "operator",
    responses((status = 200, description = "Hosted images, newest first", body = ImageList)),
    security(("bearer" = [])),
)]
pub async fn images(state: web::Data<AppState>, _op: OperatorId) -> Result<HttpResponse, AppError> {
    let images = state.db.run(firmware::images).await?;
    Ok(HttpResponse::Ok().json(ImageList {
        success: true,
        images,
    }))
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
    let (name, data) = state.db.run(move |c| firmware::download(c, &token)).await?;
    Ok(attachment(&name, data))
}

#[utoipa::path(post, path = "/api/admin/chargers/{device_id}/firmware", tag = "operator",
    request_body = UpdateBody,
    params(("device_id" = String, Path)),
    responses((status = 201, description = "UpdateFirmware sent; the job follows the charger's status notifications", body = JobAnswer), (status = 400, description = "Invalid input"), (status = 404, description = "Charger or image not found"), (status = 409, description = "Charger is offline"), (status = 504, description = "Charger did not respond")),
    security(("bearer" = [])),
)]
pub async fn update_firmware(
    req: HttpRequest,
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: super::Body<UpdateBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let r = FirmwareRequest {
        image_id: b.image_id,
        retrieve_date: time("retrieveDate", b.retrieve_date)?,
        retries: b.retries,
        retry_interval: b.retry_interval,
    };
    if r.retries.is_some_and(|n| n < 0) || r.retry_interval.is_some_and(|n| n < 0) {
        return Err(AppError::bad_request(
            "retries and retryInterval must be 0 or more",
        ));
    }
    let job =
        firmware::update_firmware(&state.into_inner(), &path.into_inner(), &base_url(&req), r)
            .await
            .map_err(super::offline_is_conflict)?;
    Ok(HttpResponse::Created().json(JobAnswer { success: true, job }))
}

#[utoipa::path(post, path = "/api/admin/chargers/{device_id}/diagnostics", tag = "operator",
    request_body = DiagnosticsBody,
    params(("device_id" = String, Path)),
    responses((status = 201, description = "GetDiagnostics sent; the charger uploads to csms", body = JobAnswer), (status = 400, description = "Invalid input"), (status = 404, description = "Charger not found"), (status = 409, description = "Charger is offline"), (status = 504, description = "Charger did not respond")),
    security(("bearer" = [])),
)]
pub async fn get_diagnostics(
    req: HttpRequest,
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: super::Body<DiagnosticsBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let (start, stop) = (
        time("startTime", b.start_time)?,
        time("stopTime", b.stop_time)?,
    );
    let job = firmware::get_diagnostics(
        &state.into_inner(),
        &path.into_inner(),
        &base_url(&req),
        start,
        stop,
    )
    .await
    .map_err(super::offline_is_conflict)?;
    Ok(HttpResponse::Created().json(JobAnswer { success: true, job }))
}

#[utoipa::path(get, path = "/api/admin/chargers/{device_id}/maintenance", tag = "operator",
    params(("device_id" = String, Path)),
    responses((status = 200, description = "UpdateFirmware and GetDiagnostics jobs with every reported status, newest first", body = JobList), (status = 404, description = "Charger not found")),
    security(("bearer" = [])),
)]
pub async fn jobs(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let jobs = state.db.run(move |c| firmware::jobs(c, &device)).await?;
    Ok(HttpResponse::Ok().json(JobList {
        success: true,
        jobs,
    }))
}

#[utoipa::path(put, path = "/files/diagnostics/{token}/{name}", tag = "charger",
    params(("token" = String, Path), ("name" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "Received", body = crate::api::Done), (status = 404, description = "Upload address not found"), (status = 413, description = "Above 64 MiB")),
)]
pub async fn receive(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    receive_upload(
        &state,
        path,
        payload,
        firmware::upload_address,
        firmware::receive,
    )
    .await
}

#[utoipa::path(post, path = "/files/diagnostics/{token}/{name}", tag = "charger",
    params(("token" = String, Path), ("name" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "Received (as PUT)", body = crate::api::Done), (status = 404, description = "Upload address not found"), (status = 413, description = "Above 64 MiB")),
)]
pub async fn receive_post(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    receive(state, path, payload).await
}

#[utoipa::path(get, path = "/api/admin/maintenance/{id}/file", tag = "operator",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The diagnostics file the charger uploaded", content_type = "application/octet-stream", body = Vec<u8>), (status = 404, description = "Job not found, or no file received")),
    security(("bearer" = [])),
)]
pub async fn file(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (name, data) = state
        .db
        .run(move |c| firmware::diagnostics_file(c, id))
        .await?;
    Ok(attachment(&name, data))
}
