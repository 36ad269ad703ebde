//! The OCPP 1.6 security extension over HTTP (rules in `crate::domain::certificates`,
//! `crate::domain::security_events` and `crate::domain::security_jobs`): a charger's certificates and security
//! events, GetLog and SignedUpdateFirmware for operators, and the log upload address for chargers.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::firmware::{base_url, received, time};
use super::identity::OperatorId;
use crate::domain::certificates::{self, ChargerCertificates};
use crate::domain::security_events::{self, SecurityEvent};
use crate::domain::security_jobs::{self, LogRequest, SecurityJob, SignedFirmwareRequest};
use crate::error::AppError;
use crate::state::AppState;

super::answers! {
    pub struct CertificatesAnswer { certificates: ChargerCertificates }
    pub struct SecurityEventList { events: Vec<SecurityEvent> }
    pub struct SecurityJobAnswer { job: SecurityJob }
    pub struct SecurityJobList { jobs: Vec<SecurityJob> }
}

#[derive(Deserialize)]
pub struct EventsQuery {
    limit: Option<i64>,
}

/// `POST /api/admin/chargers/{deviceId}/logs`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetLogBody {
    /// SecurityLog or DiagnosticsLog
    #[schema(pattern = "^(SecurityLog|DiagnosticsLog)$")]
    log_type: String,
    #[schema(format = DateTime)]
    oldest_timestamp: Option<String>,
    #[schema(format = DateTime)]
    latest_timestamp: Option<String>,
    #[schema(minimum = 0)]
    retries: Option<i64>,
    #[schema(minimum = 0)]
    retry_interval: Option<i64>,
}

/// `POST /api/admin/chargers/{deviceId}/signed-firmware`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedFirmwareBody {
    /// A hosted image (`POST /api/admin/firmware`)
    image_id: i64,
    /// PEM certificate of the key that signed the image (at most 5500 characters)
    #[schema(
        min_length = 1,
        max_length = 5500,
        pattern = "-----BEGIN CERTIFICATE-----"
    )]
    signing_certificate: String,
    /// Base64 signature of the image (at most 800 characters)
    #[schema(
        min_length = 1,
        max_length = 800,
        pattern = r"^\s*[A-Za-z0-9+/]+={0,2}\s*$"
    )]
    signature: String,
    /// RFC 3339; default now
    #[schema(format = DateTime)]
    retrieve_date_time: Option<String>,
    #[schema(format = DateTime)]
    install_date_time: Option<String>,
    #[schema(minimum = 0)]
    retries: Option<i64>,
    #[schema(minimum = 0)]
    retry_interval: Option<i64>,
}

#[utoipa::path(get, path = "/api/admin/chargers/{device_id}/certificates", tag = "operator",
    params(("device_id" = String, Path)),
    responses((status = 200, description = "Certificates csms issued to the charger (with expiry and the charger's CertificateSigned answer) and those it reported installed", body = CertificatesAnswer), (status = 404, description = "Charger not found")),
    security(("bearer" = [])),
)]
pub async fn certificates(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let certificates = state
        .db
        .run(move |c| certificates::list(c, &device))
        .await?;
    super::ok(CertificatesAnswer::new(certificates))
}

#[utoipa::path(get, path = "/api/admin/chargers/{device_id}/security-events", tag = "operator",
    params(("device_id" = String, Path), ("limit" = Option<i64>, Query, description = "1 to 1000 (default 100)")),
    responses((status = 200, description = "Security events, newest first (critical ones flagged)", body = SecurityEventList), (status = 404, description = "Charger not found")),
    security(("bearer" = [])),
)]
pub async fn events(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, AppError> {
    let (device, limit) = (path.into_inner(), q.limit.unwrap_or(100));
    let events = state
        .db
        .run(move |c| security_events::list(c, &device, limit))
        .await?;
    super::ok(SecurityEventList::new(events))
}

#[utoipa::path(post, path = "/api/admin/chargers/{device_id}/logs", tag = "operator",
    request_body = GetLogBody,
    params(("device_id" = String, Path)),
    responses((status = 201, description = "GetLog sent; the charger uploads the log to csms", body = SecurityJobAnswer), (status = 400, description = "Invalid input"), (status = 404, description = "Charger not found"), (status = 409, description = "Charger is offline"), (status = 504, description = "Charger did not respond")),
    security(("bearer" = [])),
)]
pub async fn get_log(
    req: HttpRequest,
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: super::Body<GetLogBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let r = LogRequest {
        log_type: b.log_type,
        oldest: time("oldestTimestamp", b.oldest_timestamp)?,
        latest: time("latestTimestamp", b.latest_timestamp)?,
        retries: b.retries,
        retry_interval: b.retry_interval,
    };
    let job = security_jobs::get_log(&state.file_jobs, &path.into_inner(), &base_url(&req), r)
        .await
        .map_err(super::offline_is_conflict)?;
    super::created(SecurityJobAnswer::new(job))
}

#[utoipa::path(post, path = "/api/admin/chargers/{device_id}/signed-firmware", tag = "operator",
    request_body = SignedFirmwareBody,
    params(("device_id" = String, Path)),
    responses((status = 201, description = "SignedUpdateFirmware sent; the job follows the charger's SignedFirmwareStatusNotifications", body = SecurityJobAnswer), (status = 400, description = "Invalid input (e.g. not a PEM certificate, not a base64 signature)"), (status = 404, description = "Charger or image not found"), (status = 409, description = "Charger is offline"), (status = 504, description = "Charger did not respond")),
    security(("bearer" = [])),
)]
pub async fn signed_firmware(
    req: HttpRequest,
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: super::Body<SignedFirmwareBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let r = SignedFirmwareRequest {
        image_id: b.image_id,
        signing_certificate: b.signing_certificate,
        signature: b.signature,
        retrieve_date: time("retrieveDateTime", b.retrieve_date_time)?,
        install_date: time("installDateTime", b.install_date_time)?,
        retries: b.retries,
        retry_interval: b.retry_interval,
    };
    let job = security_jobs::signed_update_firmware(
        &state.file_jobs,
        &path.into_inner(),
        &base_url(&req),
        r,
    )
    .await
    .map_err(super::offline_is_conflict)?;
    super::created(SecurityJobAnswer::new(job))
}

#[utoipa::path(get, path = "/api/admin/chargers/{device_id}/security-jobs", tag = "operator",
    params(("device_id" = String, Path)),
    responses((status = 200, description = "GetLog and SignedUpdateFirmware requests with every reported status, newest first", body = SecurityJobList), (status = 404, description = "Charger not found")),
    security(("bearer" = [])),
)]
pub async fn jobs(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let jobs = state
        .db
        .run(move |c| security_jobs::jobs(c, &device))
        .await?;
    super::ok(SecurityJobList::new(jobs))
}

#[utoipa::path(get, path = "/api/admin/security-jobs/{id}/file", tag = "operator",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The log the charger uploaded", content_type = "application/octet-stream", body = Vec<u8>), (status = 404, description = "Job not found, or no file received")),
    security(("bearer" = [])),
)]
pub async fn file(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    received(&state, path.into_inner(), security_jobs::received_file).await
}
