//! Operator endpoints: login, stations, chargers, tariffs, customers and wallets, sessions, the OCPP
//! message log, and remote commands to chargers (HTTP only; rules and queries in `crate::stations`,
//! `crate::chargers`, `crate::tariffs`, `crate::customers`, `crate::charging` and `crate::ocpp`).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::security::ClientAddr;
use super::{Done, str_field};
use crate::auth::{self, OperatorId};
use crate::chargers::{self, ChargerView};
use crate::charging::{self, ListFilter, SessionView, WriteOffView};
use crate::customers::{self, CustomerView};
use crate::error::AppError;
use crate::money;
use crate::ocpp::{commands, msglog};
use crate::state::AppState;
use crate::stations::{self, StationView};
use crate::tariffs::{self, TariffView};

#[derive(Serialize, ToSchema)]
pub struct OperatorView {
    pub id: i64,
    pub email: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct OperatorLogin {
    success: bool,
    /// Bearer token for the operator routes
    token: String,
    operator: OperatorView,
}

#[utoipa::path(post, path = "/api/admin/login", tag = "operator",
    request_body = crate::api::openapi::LoginBody,
    responses((status = 200, description = "Logged in", body = OperatorLogin), (status = 401, description = "Invalid email or password"), (status = 429, description = "Too many failed login attempts (per account or client address); Retry-After gives the seconds to wait")),
)]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let credentials = super::login_credentials(&body, client.0);
    let (token, op) = auth::login::operator(&state, credentials).await?;
    Ok(HttpResponse::Ok().json(OperatorLogin {
        success: true,
        token,
        operator: OperatorView {
            id: op.id,
            email: op.email,
            name: op.name,
        },
    }))
}

/// An optional string field: absent or null is `None`; any other non-string is 400.
fn optional_str(body: &Value, name: &str) -> Result<Option<String>, AppError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AppError::bad_request(format!("{name} must be a string"))),
    }
}

fn optional_id(body: &Value, name: &str) -> Result<Option<i64>, AppError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| AppError::bad_request(format!("{name} must be a positive integer"))),
    }
}

#[derive(Serialize, ToSchema)]
pub struct StationAnswer {
    success: bool,
    station: StationView,
}

#[derive(Serialize, ToSchema)]
pub struct StationList {
    success: bool,
    stations: Vec<StationView>,
}

#[utoipa::path(post, path = "/api/admin/stations", tag = "operator",
    request_body = crate::api::openapi::StationBody,
    responses((status = 201, description = "Created", body = StationAnswer), (status = 400, description = "name is required / tariffId must be a positive integer"), (status = 404, description = "Tariff not found")),
    security(("bearer" = [])),
)]
pub async fn create_station(
    state: web::Data<AppState>,
    _op: OperatorId,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let new = stations::NewStation {
        name: str_field(&body, "name")?.to_string(),
        address: optional_str(&body, "address")?,
        tariff_id: optional_id(&body, "tariffId")?,
    };
    let station = state.db.run(move |c| stations::create(c, new)).await?;
    Ok(HttpResponse::Created().json(StationAnswer {
        success: true,
        station,
    }))
}

#[utoipa::path(get, path = "/api/admin/stations", tag = "operator",
    responses((status = 200, description = "Stations in creation order", body = StationList)),
    security(("bearer" = [])),
)]
pub async fn list_stations(
    state: web::Data<AppState>,
    _op: OperatorId,
) -> Result<HttpResponse, AppError> {
    let stations = state.db.run(stations::list).await?;
    Ok(HttpResponse::Ok().json(StationList {
        success: true,
        stations,
    }))
}

#[utoipa::path(put, path = "/api/admin/stations/{id}/tariff", tag = "operator",
    request_body = crate::api::openapi::TariffAssignment,
    params(("id" = i64, Path)),
    responses((status = 200, description = "Assigned", body = StationAnswer), (status = 400, description = "tariffId must be a positive integer"), (status = 404, description = "Station or tariff not found")),
    security(("bearer" = [])),
)]
pub async fn assign_station_tariff(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<i64>,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let tariff_id = optional_id(&body, "tariffId")?;
    let station = state
        .db
        .run(move |c| stations::assign_tariff(c, id, tariff_id))
        .await?;
    Ok(HttpResponse::Ok().json(StationAnswer {
        success: true,
        station,
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChargerAnswer {
    success: bool,
    charger: ChargerView,
    /// Only when csms generated the charger's password: shown once, only its hash is stored
    #[serde(skip_serializing_if = "Option::is_none")]
    ocpp_password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChargerList {
    success: bool,
    chargers: Vec<ChargerView>,
}

/// Whether a chargeBoxIdentity is connected to this node now.
fn online(state: &web::Data<AppState>) -> impl Fn(&str) -> bool + Send + 'static {
    let state = state.clone();
    move |device| state.registry.is_online(device)
}

#[utoipa::path(post, path = "/api/admin/chargers", tag = "operator",
    request_body = crate::api::openapi::ChargerBody,
    responses((status = 201, description = "Registered; ocppPassword when csms generated it", body = ChargerAnswer), (status = 400, description = "Invalid deviceId, stationId, tariffId, securityProfile or ocppPassword"), (status = 404, description = "Station or tariff not found"), (status = 409, description = "Duplicate deviceId or chargingPointId")),
    security(("bearer" = [])),
)]
pub async fn create_charger(
    state: web::Data<AppState>,
    _op: OperatorId,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let device_id = str_field(&body, "deviceId")?.to_string();
    chargers::valid_device_id(&device_id)?;
    let cp_id = match optional_str(&body, "chargingPointId")? {
        Some(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => format!("CP-{device_id}"),
    };
    let station_id = optional_id(&body, "stationId")?
        .ok_or_else(|| AppError::bad_request("stationId is required"))?;
    let tariff_id = optional_id(&body, "tariffId")?;
    let name = optional_str(&body, "name")?;
    let new = chargers::NewCharger {
        device_id,
        charging_point_id: cp_id,
        station_id,
        name,
        tariff_id,
        credentials: credentials(&body)?,
    };
    let online = online(&state);
    let saved = state
        .db
        .run(move |c| chargers::register(c, new, online))
        .await?;
    Ok(HttpResponse::Created().json(ChargerAnswer {
        success: true,
        charger: saved.charger,
        ocpp_password: saved.generated_password,
    }))
}

/// `securityProfile` and `ocppPassword` of a charger request body.
fn credentials(body: &Value) -> Result<chargers::Credentials, AppError> {
    let security_profile = match body.get("securityProfile") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| AppError::bad_request("securityProfile must be 0, 1, 2 or 3"))?,
        ),
    };
    let password = match body.get("ocppPassword") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(p)) => Some(Some(p.clone())),
        Some(_) => return Err(AppError::bad_request("ocppPassword must be a string")),
    };
    Ok(chargers::Credentials {
        security_profile,
        password,
    })
}

/// `PUT /api/admin/chargers/{deviceId}/registration`
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    /// accepted (BootNotification Accepted), pending (Pending: awaiting approval), rejected (Rejected:
    /// disabled)
    #[schema(pattern = "^(accepted|pending|rejected)$")]
    status: String,
}

#[utoipa::path(put, path = "/api/admin/chargers/{device_id}/registration", tag = "operator",
    request_body = RegistrationBody,
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "Set; a connected charger that is now accepted is asked to boot again", body = crate::api::Done), (status = 400, description = "Invalid status"), (status = 404, description = "Charger not found")),
    security(("bearer" = [])),
)]
pub async fn set_registration(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: super::Body<RegistrationBody>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    chargers::decide_registration(&state.into_inner(), &device, &body.0.status).await?;
    Ok(HttpResponse::Ok().json(crate::api::Done { success: true }))
}

#[utoipa::path(put, path = "/api/admin/chargers/{device_id}", tag = "operator",
    request_body = crate::api::openapi::ChargerSettingsBody,
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "Changed; ocppPassword only when csms generated one", body = ChargerAnswer), (status = 400, description = "Invalid settings"), (status = 404, description = "Charger not found"), (status = 409, description = "Duplicate chargingPointId")),
    security(("bearer" = [])),
)]
pub async fn update_charger(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let name = match body.get("name") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(n)) => Some(Some(n.clone())),
        Some(_) => return Err(AppError::bad_request("name must be a string")),
    };
    let charging_point_id = match body.get("chargingPointId") {
        None | Some(Value::Null) => None,
        Some(Value::String(cp)) if !cp.trim().is_empty() => Some(cp.trim().to_string()),
        Some(_) => {
            return Err(AppError::bad_request(
                "chargingPointId must be a non-empty string",
            ));
        }
    };
    let changes = chargers::Changes {
        name,
        charging_point_id,
        credentials: credentials(&body)?,
    };
    let online = online(&state);
    let saved = state
        .db
        .run(move |c| chargers::change(c, &device, changes, online))
        .await?;
    Ok(HttpResponse::Ok().json(ChargerAnswer {
        success: true,
        charger: saved.charger,
        ocpp_password: saved.generated_password,
    }))
}

#[utoipa::path(get, path = "/api/admin/chargers", tag = "operator",
    responses((status = 200, description = "Chargers with online flag, last heartbeat, connector statuses", body = ChargerList)),
    security(("bearer" = [])),
)]
pub async fn list_chargers(
    state: web::Data<AppState>,
    _op: OperatorId,
) -> Result<HttpResponse, AppError> {
    let online = online(&state);
    let mut chargers = state.db.run(move |c| chargers::list(c, online)).await?;
    for ch in &mut chargers {
        ch.node = state.registry.holder(&ch.device_id, &state.node_id);
        ch.seen_at(state.registry.last_frame(&ch.device_id));
    }
    Ok(HttpResponse::Ok().json(ChargerList {
        success: true,
        chargers,
    }))
}

#[utoipa::path(get, path = "/api/admin/chargers/{device_id}", tag = "operator",
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "The charger", body = ChargerAnswer), (status = 404, description = "Charger not found")),
    security(("bearer" = [])),
)]
pub async fn get_charger(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let online = online(&state);
    let mut charger = state
        .db
        .run(move |c| chargers::get(c, &device, online))
        .await?;
    charger.seen_at(state.registry.last_frame(&charger.device_id));
    Ok(HttpResponse::Ok().json(ChargerAnswer {
        success: true,
        charger,
        ocpp_password: None,
    }))
}

/// Deletes a charger that has no charging history; one with history is kept for the books (409).
#[utoipa::path(delete, path = "/api/admin/chargers/{device_id}", tag = "operator",
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "Deleted", body = Done), (status = 404, description = "Charger not found"), (status = 409, description = "Charger has charging history")),
    security(("bearer" = [])),
)]
pub async fn delete_charger(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let d = device.clone();
    state.db.run(move |c| chargers::delete(c, &d)).await?;
    state.registry.disconnect(&device);
    Ok(HttpResponse::Ok().json(Done { success: true }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TariffAssigned {
    success: bool,
    /// The charger's own tariff now (null: none)
    tariff_id: Option<i64>,
}

#[utoipa::path(put, path = "/api/admin/chargers/{device_id}/tariff", tag = "operator",
    request_body = crate::api::openapi::TariffAssignment,
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "Assigned", body = TariffAssigned), (status = 400, description = "tariffId must be a positive integer"), (status = 404, description = "Charger or tariff not found")),
    security(("bearer" = [])),
)]
pub async fn assign_charger_tariff(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let tariff_id = optional_id(&body, "tariffId")?;
    state
        .db
        .run(move |c| chargers::assign_tariff(c, &device, tariff_id))
        .await?;
    Ok(HttpResponse::Ok().json(TariffAssigned {
        success: true,
        tariff_id,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TariffAnswer {
    success: bool,
    tariff: TariffView,
}

#[derive(Serialize, ToSchema)]
pub struct TariffList {
    success: bool,
    tariffs: Vec<TariffView>,
}

#[utoipa::path(post, path = "/api/admin/tariffs", tag = "operator",
    request_body = crate::api::openapi::TariffBody,
    responses((status = 201, description = "Created", body = TariffAnswer), (status = 400, description = "name is required / pricePerKwh must be a non-negative amount with at most 2 decimals")),
    security(("bearer" = [])),
)]
pub async fn create_tariff(
    state: web::Data<AppState>,
    _op: OperatorId,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let name = str_field(&body, "name")?.to_string();
    let price = tariffs::valid_price(body.get("pricePerKwh").and_then(money::parse_json))?;
    let tariff = state
        .db
        .run(move |c| tariffs::create(c, &name, price))
        .await?;
    Ok(HttpResponse::Created().json(TariffAnswer {
        success: true,
        tariff,
    }))
}

#[utoipa::path(get, path = "/api/admin/tariffs", tag = "operator",
    responses((status = 200, description = "Tariffs in creation order", body = TariffList)),
    security(("bearer" = [])),
)]
pub async fn list_tariffs(
    state: web::Data<AppState>,
    _op: OperatorId,
) -> Result<HttpResponse, AppError> {
    let tariffs = state.db.run(tariffs::list).await?;
    Ok(HttpResponse::Ok().json(TariffList {
        success: true,
        tariffs,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CustomerList {
    success: bool,
    /// Currency code of every amount
    currency: String,
    customers: Vec<CustomerView>,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerAnswer {
    success: bool,
    customer: CustomerView,
}

#[utoipa::path(get, path = "/api/admin/customers", tag = "operator",
    responses((status = 200, description = "Customers in registration order", body = CustomerList)),
    security(("bearer" = [])),
)]
pub async fn list_customers(
    state: web::Data<AppState>,
    _op: OperatorId,
) -> Result<HttpResponse, AppError> {
    let customers = state.db.run(customers::list).await?;
    Ok(HttpResponse::Ok().json(CustomerList {
        success: true,
        currency: state.settings.currency.clone(),
        customers,
    }))
}

#[utoipa::path(post, path = "/api/admin/customers/{id}/wallet/credit", tag = "operator",
    request_body = crate::api::openapi::CreditBody,
    params(("id" = i64, Path)),
    responses((status = 200, description = "Credited: the customer afterwards", body = CustomerAnswer), (status = 400, description = "Invalid amount"), (status = 404, description = "Customer not found")),
    security(("bearer" = [])),
)]
pub async fn credit_wallet(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<i64>,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let amount = customers::valid_credit(body.get("amount").and_then(money::parse_json))?;
    let note = optional_str(&body, "note")?;
    let customer = state
        .db
        .run(move |c| customers::credit(c, id, amount, note.as_deref()))
        .await?;
    state.events.wake();
    Ok(HttpResponse::Ok().json(CustomerAnswer {
        success: true,
        customer,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionQuery {
    status: Option<String>,
    device_id: Option<String>,
    customer_id: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    success: bool,
    /// Currency code of every amount
    currency: String,
    sessions: Vec<SessionView>,
}

#[utoipa::path(get, path = "/api/admin/sessions", tag = "operator",
    params(("status" = Option<String>, Query), ("deviceId" = Option<String>, Query), ("customerId" = Option<i64>, Query), ("limit" = Option<i64>, Query, description = "1 to 1000 (default 200)")),
    responses((status = 200, description = "Sessions, newest first", body = SessionList)),
    security(("bearer" = [])),
)]
pub async fn list_sessions(
    state: web::Data<AppState>,
    _op: OperatorId,
    q: web::Query<SessionQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let filter = ListFilter {
        customer_id: q.customer_id,
        status: q.status,
        device_id: q.device_id,
        limit: q.limit.unwrap_or(200),
    };
    let sessions = state.db.run(move |c| charging::list(c, filter)).await?;
    Ok(HttpResponse::Ok().json(SessionList {
        success: true,
        currency: state.settings.currency.clone(),
        sessions,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CloseBody {
    /// Why the operator closes it (written to the session and its ledger rows)
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionAnswer {
    success: bool,
    message: String,
    /// The session afterwards
    session: SessionView,
}

/// Force-closes a session the charger lost: settled from its last meter reading, the rest refunded.
#[utoipa::path(post, path = "/api/admin/sessions/{session_id}/close", tag = "operator",
    request_body = CloseBody,
    params(("session_id" = String, Path, description = "SESS_...")),
    responses((status = 200, description = "Closed and settled", body = SessionAnswer), (status = 400, description = "reason is required"), (status = 404, description = "Session not found"), (status = 409, description = "Session has already ended")),
    security(("bearer" = [])),
)]
pub async fn close_session(
    state: web::Data<AppState>,
    op: OperatorId,
    path: web::Path<String>,
    body: super::Body<CloseBody>,
) -> Result<HttpResponse, AppError> {
    let uid = path.into_inner();
    let reason = body.0.reason;
    let policy = state.derived.policy;
    let (done, session) = state
        .db
        .run(move |c| {
            let done = charging::orphans::force_close(c, &uid, op.0, &reason, &policy)?;
            let view = SessionView::load(c, &done.session)?;
            Ok((done, view))
        })
        .await?;
    state.events.wake();
    state.occupancy.release(&session.device_id);
    if done.stop.is_some() {
        // The charger may still be running it: it is asked to stop, and asked again, like any stop.
        state.stops.wake();
    }
    Ok(HttpResponse::Ok().json(SessionAnswer {
        success: true,
        message: "Session closed".into(),
        session,
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteOffList {
    success: bool,
    /// Currency code of every amount
    currency: String,
    write_offs: Vec<WriteOffView>,
}

#[utoipa::path(get, path = "/api/admin/write-offs", tag = "operator",
    params(("limit" = Option<i64>, Query, description = "1 to 1000 (default 200)")),
    responses((status = 200, description = "Energy delivered that could not be billed, newest first", body = WriteOffList)),
    security(("bearer" = [])),
)]
pub async fn write_offs(
    state: web::Data<AppState>,
    _op: OperatorId,
    q: web::Query<LimitQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = q.limit.unwrap_or(200);
    let write_offs = state
        .db
        .run(move |c| charging::write_offs(c, limit))
        .await?;
    Ok(HttpResponse::Ok().json(WriteOffList {
        success: true,
        currency: state.settings.currency.clone(),
        write_offs,
    }))
}

#[derive(Deserialize)]
pub struct LimitQuery {
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageList {
    success: bool,
    messages: Vec<msglog::MessageView>,
}

#[utoipa::path(get, path = "/api/admin/chargers/{device_id}/messages", tag = "operator",
    params(("device_id" = String, Path, description = "chargeBoxIdentity"), ("limit" = Option<i64>, Query, description = "1 to 1000 (default 100)")),
    responses((status = 200, description = "OCPP frames in and out, newest first", body = MessageList), (status = 404, description = "Charger not found")),
    security(("bearer" = [])),
)]
pub async fn messages(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    q: web::Query<LimitQuery>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let limit = q.limit.unwrap_or(100);
    let messages = state
        .db
        .run(move |c| msglog::list(c, &device, limit))
        .await?;
    Ok(HttpResponse::Ok().json(MessageList {
        success: true,
        messages,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CommandAnswer {
    success: bool,
    action: String,
    /// The charger's CALLRESULT payload
    #[schema(value_type = Object)]
    response: Value,
    /// ReserveNow: the reservation csms recorded (its id is the reservationId sent)
    #[serde(skip_serializing_if = "Option::is_none")]
    reservation: Option<crate::reservations::Reservation>,
    /// SendLocalList: the update csms sent from its tokens
    #[serde(skip_serializing_if = "Option::is_none", rename = "localList")]
    local_list: Option<crate::local_list::SyncReport>,
}

/// Sends an OCPP command to a charger and returns its answer.
#[utoipa::path(post, path = "/api/admin/chargers/{device_id}/commands/{action}", tag = "operator",
    request_body = serde_json::Value,
    params(("device_id" = String, Path), ("action" = String, Path, description = "Any CS→CP action of OCPP 1.6 and its security extension, by its OCPP name")),
    responses((status = 200, description = "The charger's answer", body = CommandAnswer), (status = 400, description = "Invalid payload / Charger is offline"), (status = 404, description = "Unknown command or charger"), (status = 502, description = "Charger answered with a CALLERROR"), (status = 504, description = "Charger did not respond")),
    security(("bearer" = [])),
)]
pub async fn command(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<(String, String)>,
    body: Option<web::Json<Value>>,
) -> Result<HttpResponse, AppError> {
    let (device, action) = path.into_inner();
    let outcome = commands::run(
        &state.into_inner(),
        &device,
        &action,
        body.map(|b| b.into_inner()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(CommandAnswer {
        success: true,
        action,
        response: outcome.response,
        reservation: outcome.reservation,
        local_list: outcome.local_list,
    }))
}

#[utoipa::path(get, path = "/api/admin/cluster", tag = "operator",
    responses((status = 200, description = "The nodes sharing this database (heartbeat, lease, chargers held), and the named leases", body = crate::cluster::ClusterView)),
    security(("bearer" = [])),
)]
pub async fn cluster(
    state: web::Data<AppState>,
    _op: OperatorId,
) -> Result<HttpResponse, AppError> {
    let view = crate::cluster::describe(state.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}
