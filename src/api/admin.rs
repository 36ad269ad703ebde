//! Operator endpoints: login, stations, chargers, tariffs, customers and wallets, sessions, the OCPP
//! message log, and remote commands to chargers.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::security::ClientAddr;
use super::str_field;
use crate::auth::{self, OperatorId};
use crate::chargers::check_tariff;
use crate::charging::{self, ListFilter};
use crate::db::models::{Charger, Connector, Customer, Station, Tariff};
use crate::db::schema::*;
use crate::db::{DbConnection, now, write_tx};
use crate::error::AppError;
use crate::money;
use crate::ocpp::schemas::{Kind, schemas};
use crate::state::AppState;
use crate::wallet;

/// Remote commands an operator may send: every CS→CP action of OCPP 1.6 and its security extension.
pub const COMMANDS: &[&str] = crate::ocpp::schemas::CS_TO_CP;

/// Largest single wallet credit (major units 1,000,000.00).
const MAX_CREDIT: i64 = 100_000_000;

#[utoipa::path(post, path = "/api/admin/login", tag = "operator",
    request_body = crate::api::openapi::LoginBody,
    responses((status = 200, description = "{success, token, operator}"), (status = 401, description = "Invalid email or password"), (status = 429, description = "Too many failed login attempts (per account or client address); Retry-After gives the seconds to wait")),
)]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let credentials = super::login_credentials(&body, client.0);
    let (token, op) = auth::login::operator(&state, credentials).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "token": token, "operator": {"id": op.id, "email": op.email, "name": op.name}})))
}

fn station_json(s: &Station) -> Value {
    json!({"id": s.id, "name": s.name, "address": s.address, "tariffId": s.tariff_id, "createdAt": super::timestamp(s.created_at)})
}

fn tariff_json(t: &Tariff) -> Value {
    json!({"id": t.id, "name": t.name, "pricePerKwh": money::to_major(t.price_per_kwh), "createdAt": super::timestamp(t.created_at)})
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

#[utoipa::path(post, path = "/api/admin/stations", tag = "operator",
    request_body = crate::api::openapi::StationBody,
    responses((status = 201, description = "{success, station}")),
    security(("bearer" = [])),
)]
pub async fn create_station(
    state: web::Data<AppState>,
    _op: OperatorId,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let name = str_field(&body, "name")?.to_string();
    let address = body
        .get("address")
        .and_then(Value::as_str)
        .map(str::to_string);
    let tariff_id = optional_id(&body, "tariffId")?;
    let station = state
        .db
        .run(move |c| {
            check_tariff(c, tariff_id)?;
            let id: i64 = diesel::insert_into(stations::table)
                .values((
                    stations::name.eq(name),
                    stations::address.eq(address),
                    stations::tariff_id.eq(tariff_id),
                    stations::created_at.eq(now()),
                ))
                .returning(stations::id)
                .get_result(c)?;
            Ok(stations::table
                .find(id)
                .select(Station::as_select())
                .first(c)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"success": true, "station": station_json(&station)})))
}

#[utoipa::path(get, path = "/api/admin/stations", tag = "operator",
    responses((status = 200, description = "{success, stations}")),
    security(("bearer" = [])),
)]
pub async fn list_stations(
    state: web::Data<AppState>,
    _op: OperatorId,
) -> Result<HttpResponse, AppError> {
    let rows: Vec<Station> = state
        .db
        .run(|c| {
            Ok(stations::table
                .order(stations::id)
                .select(Station::as_select())
                .load(c)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(
        json!({"success": true, "stations": rows.iter().map(station_json).collect::<Vec<_>>()}),
    ))
}

#[utoipa::path(put, path = "/api/admin/stations/{id}/tariff", tag = "operator",
    request_body = crate::api::openapi::TariffAssignment,
    params(("id" = i64, Path)),
    responses((status = 200, description = "{success, station}"), (status = 404, description = "Station or tariff not found")),
    security(("bearer" = [])),
)]
pub async fn assign_station_tariff(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<i64>,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let tariff_id = optional_id(&body, "tariffId")?;
    let station = state
        .db
        .run(move |c| {
            check_tariff(c, tariff_id)?;
            let n = diesel::update(stations::table.find(id))
                .set(stations::tariff_id.eq(tariff_id))
                .execute(c)?;
            if n == 0 {
                return Err(AppError::NotFound("Station not found".into()));
            }
            Ok(stations::table
                .find(id)
                .select(Station::as_select())
                .first(c)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "station": station_json(&station)})))
}

fn charger_json(state: &AppState, ch: &Charger, conns: &[&Connector]) -> Value {
    let ts = |t: Option<chrono::NaiveDateTime>| t.map(super::timestamp);
    json!({
        "id": ch.id,
        "deviceId": ch.device_id,
        "chargingPointId": ch.charging_point_id,
        "stationId": ch.station_id,
        "name": ch.name,
        "tariffId": ch.tariff_id,
        "online": state.registry.is_online(&ch.device_id),
        "hasOcppPassword": ch.ocpp_password_hash.is_some(),
        "securityProfile": ch.security_profile,
        "vendor": ch.vendor,
        "model": ch.model,
        "serialNumber": ch.serial_number,
        "firmwareVersion": ch.firmware_version,
        "status": ch.status,
        "errorCode": ch.error_code,
        "lastBootAt": ts(ch.last_boot_at),
        "lastHeartbeat": ts(ch.last_heartbeat_at),
        "lastSeen": ts(ch.last_seen_at),
        "connectors": conns.iter().map(|k| json!({
            "connectorId": k.connector_id, "status": k.status, "errorCode": k.error_code,
            "info": k.info, "vendorErrorCode": k.vendor_error_code, "updatedAt": super::timestamp(k.updated_at),
        })).collect::<Vec<_>>(),
        "createdAt": super::timestamp(ch.created_at),
    })
}

fn valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 48
        && id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.:".contains(ch))
}

#[utoipa::path(post, path = "/api/admin/chargers", tag = "operator",
    request_body = crate::api::openapi::ChargerBody,
    responses((status = 201, description = "{success, charger}"), (status = 404, description = "Station not found"), (status = 409, description = "Duplicate deviceId or chargingPointId")),
    security(("bearer" = [])),
)]
pub async fn create_charger(
    state: web::Data<AppState>,
    _op: OperatorId,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let device_id = str_field(&body, "deviceId")?.to_string();
    if !valid_device_id(&device_id) {
        return Err(AppError::bad_request(
            "deviceId must be 1 to 48 characters: letters, digits, '-', '_', '.', ':'",
        ));
    }
    let cp_id = match body
        .get("chargingPointId")
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => format!("CP-{device_id}"),
    };
    let station_id = optional_id(&body, "stationId")?
        .ok_or_else(|| AppError::bad_request("stationId is required"))?;
    let tariff_id = optional_id(&body, "tariffId")?;
    let name = body.get("name").and_then(Value::as_str).map(str::to_string);
    let new = crate::chargers::NewCharger {
        device_id,
        charging_point_id: cp_id,
        station_id,
        name,
        tariff_id,
        credentials: credentials(&body)?,
    };
    let st = state.clone();
    let (charger, password) = state
        .db
        .run(move |c| {
            let saved = crate::chargers::create(c, new)?;
            Ok((
                charger_json(&st, &saved.charger, &[]),
                saved.generated_password,
            ))
        })
        .await?;
    let mut answer = json!({"success": true, "charger": charger});
    if let Some(p) = password {
        answer["ocppPassword"] = json!(p); // shown once: only its hash is stored
    }
    Ok(HttpResponse::Created().json(answer))
}

/// `securityProfile` and `ocppPassword` of a charger request body.
fn credentials(body: &Value) -> Result<crate::chargers::Credentials, AppError> {
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
    Ok(crate::chargers::Credentials {
        security_profile,
        password,
    })
}

#[utoipa::path(put, path = "/api/admin/chargers/{device_id}", tag = "operator",
    request_body = crate::api::openapi::ChargerSettingsBody,
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "{success, charger, ocppPassword?}: ocppPassword only when csms generated one"), (status = 400, description = "Invalid settings"), (status = 404, description = "Charger not found"), (status = 409, description = "Duplicate chargingPointId")),
    security(("bearer" = [])),
)]
pub async fn update_charger(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: web::Json<Value>,
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
    let changes = crate::chargers::Changes {
        name,
        charging_point_id,
        credentials: credentials(&body)?,
    };
    let st = state.clone();
    let (charger, password) = state
        .db
        .run(move |c| {
            let saved = crate::chargers::update(c, &device, changes)?;
            let (list, conns) = load_chargers(c, Some(&saved.charger.device_id))?;
            Ok((
                chargers_json(&st, &list, &conns).into_iter().next(),
                saved.generated_password,
            ))
        })
        .await?;
    let mut answer = json!({"success": true, "charger": charger});
    if let Some(p) = password {
        answer["ocppPassword"] = json!(p);
    }
    Ok(HttpResponse::Ok().json(answer))
}

fn load_chargers(
    c: &mut DbConnection,
    device: Option<&str>,
) -> Result<(Vec<Charger>, Vec<Connector>), AppError> {
    let mut q = chargers::table
        .order(chargers::id)
        .select(Charger::as_select())
        .into_boxed();
    if let Some(d) = device {
        q = q.filter(chargers::device_id.eq(d.to_string()));
    }
    let list: Vec<Charger> = q.load(c)?;
    let ids: Vec<i64> = list.iter().map(|c| c.id).collect();
    let conns = connectors::table
        .filter(connectors::charger_id.eq_any(ids))
        .order((connectors::charger_id, connectors::connector_id))
        .select(Connector::as_select())
        .load(c)?;
    Ok((list, conns))
}

fn chargers_json(state: &AppState, list: &[Charger], conns: &[Connector]) -> Vec<Value> {
    list.iter()
        .map(|ch| {
            charger_json(
                state,
                ch,
                &conns
                    .iter()
                    .filter(|k| k.charger_id == ch.id)
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

#[utoipa::path(get, path = "/api/admin/chargers", tag = "operator",
    responses((status = 200, description = "{success, chargers} with online flag, last heartbeat, connector statuses")),
    security(("bearer" = [])),
)]
pub async fn list_chargers(
    state: web::Data<AppState>,
    _op: OperatorId,
) -> Result<HttpResponse, AppError> {
    let (list, conns) = state.db.run(|c| load_chargers(c, None)).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"success": true, "chargers": chargers_json(&state, &list, &conns)})))
}

#[utoipa::path(get, path = "/api/admin/chargers/{device_id}", tag = "operator",
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "{success, charger}"), (status = 404, description = "Charger not found")),
    security(("bearer" = [])),
)]
pub async fn get_charger(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let (list, conns) = state
        .db
        .run(move |c| load_chargers(c, Some(&device)))
        .await?;
    let charger = chargers_json(&state, &list, &conns)
        .into_iter()
        .next()
        .ok_or(AppError::ChargerNotFound)?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "charger": charger})))
}

/// Deletes a charger that has no charging history; one with history is kept for the books (409).
#[utoipa::path(delete, path = "/api/admin/chargers/{device_id}", tag = "operator",
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Charger not found"), (status = 409, description = "Charger has charging history")),
    security(("bearer" = [])),
)]
pub async fn delete_charger(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let d = device.clone();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let id: i64 = chargers::table
                    .filter(chargers::device_id.eq(&d))
                    .select(chargers::id)
                    .first(c)
                    .optional()?
                    .ok_or(AppError::ChargerNotFound)?;
                let sessions: i64 = charging_sessions::table
                    .filter(charging_sessions::charger_id.eq(id))
                    .count()
                    .get_result(c)?;
                let txs: i64 = ocpp_transactions::table
                    .filter(ocpp_transactions::charger_id.eq(id))
                    .count()
                    .get_result(c)?;
                if sessions + txs > 0 {
                    return Err(AppError::Conflict(
                        "Charger has charging history and cannot be deleted".into(),
                    ));
                }
                diesel::delete(connectors::table.filter(connectors::charger_id.eq(id)))
                    .execute(c)?;
                diesel::delete(meter_values::table.filter(meter_values::charger_id.eq(id)))
                    .execute(c)?;
                diesel::delete(ocpp_messages::table.filter(ocpp_messages::charger_id.eq(id)))
                    .execute(c)?;
                diesel::delete(chargers::table.find(id)).execute(c)?;
                Ok(())
            })
        })
        .await?;
    state.registry.disconnect(&device);
    Ok(HttpResponse::Ok().json(json!({"success": true})))
}

#[utoipa::path(put, path = "/api/admin/chargers/{device_id}/tariff", tag = "operator",
    request_body = crate::api::openapi::TariffAssignment,
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "Assigned"), (status = 404, description = "Charger or tariff not found")),
    security(("bearer" = [])),
)]
pub async fn assign_charger_tariff(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let tariff_id = optional_id(&body, "tariffId")?;
    state
        .db
        .run(move |c| {
            check_tariff(c, tariff_id)?;
            let n = diesel::update(chargers::table.filter(chargers::device_id.eq(device)))
                .set(chargers::tariff_id.eq(tariff_id))
                .execute(c)?;
            if n == 0 {
                Err(AppError::ChargerNotFound)
            } else {
                Ok(())
            }
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "tariffId": tariff_id})))
}

#[utoipa::path(post, path = "/api/admin/tariffs", tag = "operator",
    request_body = crate::api::openapi::TariffBody,
    responses((status = 201, description = "{success, tariff}")),
    security(("bearer" = [])),
)]
pub async fn create_tariff(
    state: web::Data<AppState>,
    _op: OperatorId,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let name = str_field(&body, "name")?.to_string();
    let price = body
        .get("pricePerKwh")
        .and_then(money::parse_json)
        .filter(|p| *p <= 10_000_000)
        .ok_or_else(|| {
            AppError::bad_request(
                "pricePerKwh must be a non-negative amount with at most 2 decimals",
            )
        })?;
    let tariff = state
        .db
        .run(move |c| {
            let id: i64 = diesel::insert_into(tariffs::table)
                .values((
                    tariffs::name.eq(name),
                    tariffs::price_per_kwh.eq(price),
                    tariffs::created_at.eq(now()),
                ))
                .returning(tariffs::id)
                .get_result(c)?;
            Ok(tariffs::table
                .find(id)
                .select(Tariff::as_select())
                .first(c)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"success": true, "tariff": tariff_json(&tariff)})))
}

#[utoipa::path(get, path = "/api/admin/tariffs", tag = "operator",
    responses((status = 200, description = "{success, tariffs}")),
    security(("bearer" = [])),
)]
pub async fn list_tariffs(
    state: web::Data<AppState>,
    _op: OperatorId,
) -> Result<HttpResponse, AppError> {
    let rows: Vec<Tariff> = state
        .db
        .run(|c| {
            Ok(tariffs::table
                .order(tariffs::id)
                .select(Tariff::as_select())
                .load(c)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(
        json!({"success": true, "tariffs": rows.iter().map(tariff_json).collect::<Vec<_>>()}),
    ))
}

#[utoipa::path(get, path = "/api/admin/customers", tag = "operator",
    responses((status = 200, description = "{success, customers: [{id, name, email, idTag, walletBalance}]}")),
    security(("bearer" = [])),
)]
pub async fn list_customers(
    state: web::Data<AppState>,
    _op: OperatorId,
) -> Result<HttpResponse, AppError> {
    let rows: Vec<Customer> = state
        .db
        .run(|c| {
            Ok(customers::table
                .order(customers::id)
                .select(Customer::as_select())
                .load(c)?)
        })
        .await?;
    let list: Vec<Value> = rows.iter().map(super::customer::customer_json).collect();
    Ok(HttpResponse::Ok()
        .json(json!({"success": true, "currency": state.settings.currency, "customers": list})))
}

#[utoipa::path(post, path = "/api/admin/customers/{id}/wallet/credit", tag = "operator",
    request_body = crate::api::openapi::CreditBody,
    params(("id" = i64, Path)),
    responses((status = 200, description = "{success, customer}"), (status = 400, description = "Invalid amount"), (status = 404, description = "Customer not found")),
    security(("bearer" = [])),
)]
pub async fn credit_wallet(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<i64>,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let amount = body
        .get("amount")
        .and_then(money::parse_json)
        .filter(|a| *a > 0 && *a <= MAX_CREDIT)
        .ok_or(AppError::InvalidAmount)?;
    let note = body
        .get("note")
        .and_then(Value::as_str)
        .map(|s| s.chars().take(200).collect::<String>());
    let customer = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let exists: i64 = customers::table
                    .filter(customers::id.eq(id))
                    .count()
                    .get_result(c)?;
                if exists == 0 {
                    return Err(AppError::NotFound("Customer not found".into()));
                }
                wallet::apply(
                    c,
                    id,
                    amount,
                    wallet::Kind::Credit,
                    None,
                    Some(note.as_deref().unwrap_or("Operator credit")),
                )?;
                Ok(customers::table
                    .find(id)
                    .select(Customer::as_select())
                    .first(c)?)
            })
        })
        .await?;
    state.events.wake();
    Ok(HttpResponse::Ok()
        .json(json!({"success": true, "customer": super::customer::customer_json(&customer)})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionQuery {
    status: Option<String>,
    device_id: Option<String>,
    customer_id: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/admin/sessions", tag = "operator",
    params(("status" = Option<String>, Query), ("deviceId" = Option<String>, Query), ("customerId" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "{success, sessions}")),
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
    Ok(HttpResponse::Ok()
        .json(json!({"success": true, "currency": state.settings.currency, "sessions": sessions})))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CloseBody {
    /// Why the operator closes it (written to the session and its ledger rows)
    reason: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionAnswer {
    success: bool,
    message: String,
    /// The session afterwards
    #[schema(value_type = Object)]
    session: Value,
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
    body: web::Json<CloseBody>,
) -> Result<HttpResponse, AppError> {
    let uid = path.into_inner();
    let reason = body.into_inner().reason;
    let policy = state.derived.policy;
    let closed = state
        .db
        .run(move |c| {
            let done = charging::orphans::force_close(c, &uid, op.0, &reason, &policy)?;
            let view = charging::view(c, &done.session)?;
            Ok((done, view))
        })
        .await?;
    let (done, session) = closed;
    state.events.wake();
    let device = session["deviceId"].as_str().unwrap_or_default().to_string();
    state.occupancy.release(&device);
    if let Some((device, tx)) = done.stop {
        // The charger may still be running it: ask once (it was closed here, so nothing retries).
        let state = state.into_inner();
        tokio::spawn(async move {
            let answer = state
                .registry
                .call(
                    &device,
                    "RemoteStopTransaction",
                    json!({"transactionId": tx}),
                    state.settings.call_timeout(),
                )
                .await;
            log::info!("{device}: RemoteStopTransaction {tx} after force-close: {answer:?}");
        });
    }
    Ok(HttpResponse::Ok().json(SessionAnswer {
        success: true,
        message: "Session closed".into(),
        session,
    }))
}

#[utoipa::path(get, path = "/api/admin/write-offs", tag = "operator",
    params(("limit" = Option<i64>, Query)),
    responses((status = 200, description = "{success, currency, writeOffs}: energy delivered that could not be billed, newest first")),
    security(("bearer" = [])),
)]
pub async fn write_offs(
    state: web::Data<AppState>,
    _op: OperatorId,
    q: web::Query<LimitQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = q.limit.unwrap_or(200);
    let list = state
        .db
        .run(move |c| charging::write_offs(c, limit))
        .await?;
    Ok(HttpResponse::Ok()
        .json(json!({"success": true, "currency": state.settings.currency, "writeOffs": list})))
}

#[derive(Deserialize)]
pub struct LimitQuery {
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/admin/chargers/{device_id}/messages", tag = "operator",
    params(("device_id" = String, Path, description = "chargeBoxIdentity")),
    responses((status = 200, description = "{success, messages}: OCPP frames in and out, newest first")),
    security(("bearer" = [])),
)]
pub async fn messages(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    q: web::Query<LimitQuery>,
) -> Result<HttpResponse, AppError> {
    let device = path.into_inner();
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = state
        .db
        .run(move |c| {
            let id: i64 = chargers::table
                .filter(chargers::device_id.eq(device))
                .select(chargers::id)
                .first(c)
                .optional()?
                .ok_or(AppError::ChargerNotFound)?;
            Ok(ocpp_messages::table
                .filter(ocpp_messages::charger_id.eq(id))
                .order(ocpp_messages::id.desc())
                .limit(limit)
                .select((
                    ocpp_messages::id,
                    ocpp_messages::direction,
                    ocpp_messages::message_type,
                    ocpp_messages::message_id,
                    ocpp_messages::action,
                    ocpp_messages::payload,
                    ocpp_messages::created_at,
                ))
                .load::<(
                    i64,
                    String,
                    i32,
                    String,
                    Option<String>,
                    String,
                    chrono::NaiveDateTime,
                )>(c)?)
        })
        .await?;
    let list: Vec<Value> = rows
        .into_iter()
        .map(|(id, dir, mt, mid, action, text, at)| {
            let frame = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
            json!({"id": id, "direction": dir, "messageType": mt, "messageId": mid, "action": action, "frame": frame, "createdAt": super::timestamp(at)})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"success": true, "messages": list})))
}

/// Sends an OCPP command to a charger and returns its answer.
#[utoipa::path(post, path = "/api/admin/chargers/{device_id}/commands/{action}", tag = "operator",
    request_body = serde_json::Value,
    params(("device_id" = String, Path), ("action" = String, Path, description = "RemoteStartTransaction, RemoteStopTransaction, Reset, UnlockConnector, ChangeAvailability, GetConfiguration, ChangeConfiguration, ClearCache, TriggerMessage, DataTransfer")),
    responses((status = 200, description = "{success, action, response}: the charger's answer"), (status = 400, description = "Invalid payload / Charger is offline"), (status = 404, description = "Unknown command or charger"), (status = 502, description = "Charger answered with a CALLERROR"), (status = 504, description = "Charger did not respond")),
    security(("bearer" = [])),
)]
pub async fn command(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<(String, String)>,
    body: Option<web::Json<Value>>,
) -> Result<HttpResponse, AppError> {
    let (device, action) = path.into_inner();
    if !COMMANDS.contains(&action.as_str()) {
        return Err(if schemas().knows(&action) {
            AppError::bad_request(format!("{action} is sent by the charger, not to it"))
        } else {
            AppError::NotFound(format!("Unknown command {action}"))
        });
    }
    let payload = body.map(|b| b.into_inner()).unwrap_or_else(|| json!({}));
    schemas()
        .validate(&action, Kind::Request, &payload)
        .map_err(|e| {
            AppError::bad_request(format!("Invalid {action} payload: {}", e.description))
        })?;
    match action.as_str() {
        // Reservations go through the database like the API's, so that they exclude sessions.
        "ReserveNow" => {
            let mut request = super::reservations::from_reserve_now(&payload)?;
            request.device_id = device;
            let (r, status) =
                crate::reservations::reserve_answer(&state.into_inner(), request).await?;
            return Ok(HttpResponse::Ok().json(json!({"success": true, "action": action, "response": {"status": status}, "reservation": r})));
        }
        // The local list csms tracks per charger: sent from the tokens, never hand-written.
        "SendLocalList" => {
            let mode = match payload["updateType"].as_str() {
                Some("Full") => crate::local_list::Mode::Full,
                _ => crate::local_list::Mode::Auto,
            };
            let r = crate::local_list::sync(&state.into_inner(), &device, mode).await?;
            return Ok(HttpResponse::Ok().json(json!({"success": true, "action": action, "response": {"status": r.status}, "localList": r})));
        }
        "GetLocalListVersion" => {
            let v = crate::local_list::check(&state.into_inner(), &device).await?;
            return Ok(HttpResponse::Ok()
                .json(json!({"success": true, "action": action, "response": {"listVersion": v}})));
        }
        "CancelReservation" => {
            let (d, id) = (
                device.clone(),
                payload["reservationId"].as_i64().unwrap_or(-1),
            );
            state
                .db
                .run(move |c| crate::reservations::cancelled_by_command(c, &d, id))
                .await?;
        }
        _ => {}
    }
    let d = device.clone();
    let known: i64 = state
        .db
        .run(move |c| {
            Ok(chargers::table
                .filter(chargers::device_id.eq(d))
                .count()
                .get_result(c)?)
        })
        .await?;
    if known == 0 {
        return Err(AppError::ChargerNotFound);
    }
    let new_key = (action == "ChangeConfiguration" && payload["key"] == "AuthorizationKey")
        .then(|| payload["value"].as_str().unwrap_or_default().to_string());
    if let Some(key) = &new_key {
        crate::chargers::check_authorization_key(key)?;
    }
    let answer = state
        .registry
        .call(&device, &action, payload, state.settings.call_timeout())
        .await;
    let response = answer.map_err(AppError::from)?;
    if let Some(key) = new_key
        && matches!(
            response["status"].as_str(),
            Some("Accepted" | "RebootRequired")
        )
    {
        let d = device.clone();
        state
            .db
            .run(move |c| crate::chargers::authorization_key_accepted(c, &d, &key))
            .await?;
        log::info!("{device}: AuthorizationKey changed: the new password is stored");
    }
    Ok(HttpResponse::Ok().json(json!({"success": true, "action": action, "response": response})))
}
