//! Customer accounts, wallet and the station list.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use serde_json::{Value, json};

use super::security::ClientAddr;
use super::str_field;
use crate::auth::{self, CustomerId, Role};
use crate::db::models::{Charger, Connector, Customer, LedgerRow, NewCustomer, Station};
use crate::db::schema::{
    chargers, charging_sessions, connectors, customers, stations, wallet_ledger,
};
use crate::db::{is_unique_violation, now};
use crate::error::AppError;
use crate::money;
use crate::state::AppState;

pub fn customer_json(c: &Customer) -> Value {
    json!({"id": c.id, "name": c.name, "email": c.email, "idTag": c.id_tag, "walletBalance": money::to_major(c.balance)})
}

pub fn valid_email(email: &str) -> bool {
    let parts: Vec<&str> = email.split('@').collect();
    email.len() <= 254
        && parts.len() == 2
        && !parts[0].is_empty()
        && parts[1].contains('.')
        && !email.contains(char::is_whitespace)
}

/// A fresh idTag for a customer: 20 characters at most, as OCPP's IdToken allows.
fn new_id_tag() -> String {
    format!(
        "C{}",
        &uuid::Uuid::new_v4().simple().to_string()[..15].to_uppercase()
    )
}

#[utoipa::path(post, path = "/api/customer/register", tag = "customer",
    request_body = crate::api::openapi::RegisterBody,
    responses((status = 201, description = "Registered: {success, token, customer}"), (status = 400, description = "Invalid input"), (status = 409, description = "Email is already registered")),
)]
pub async fn register(
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let name = str_field(&body, "name")?.to_string();
    let email = str_field(&body, "email")?.to_lowercase();
    let password = body
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if name.chars().count() > 100 {
        return Err(AppError::bad_request("name must be at most 100 characters"));
    }
    if !valid_email(&email) {
        return Err(AppError::bad_request("A valid email is required"));
    }
    if password.chars().count() < 6 || password.len() > 72 {
        return Err(AppError::bad_request("password must be 6 to 72 characters"));
    }
    let hash = auth::hash_password(password, state.settings.bcrypt_cost).await?;
    let customer = state
        .db
        .run(move |c| {
            let tag = new_id_tag();
            let new = NewCustomer {
                name: &name,
                email: &email,
                password_hash: &hash,
                id_tag: &tag,
                balance: 0,
                created_at: now(),
            };
            let id: i64 = diesel::insert_into(customers::table)
                .values(&new)
                .returning(customers::id)
                .get_result(c)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        AppError::Conflict("Email is already registered".into())
                    } else {
                        AppError::from(e)
                    }
                })?;
            Ok(customers::table
                .find(id)
                .select(Customer::as_select())
                .first(c)?)
        })
        .await?;
    let token = state.jwt.issue(Role::Customer, customer.id)?;
    Ok(HttpResponse::Created()
        .json(json!({"success": true, "token": token, "customer": customer_json(&customer)})))
}

#[utoipa::path(post, path = "/api/customer/login", tag = "customer",
    request_body = crate::api::openapi::LoginBody,
    responses((status = 200, description = "{success, token, customer}"), (status = 401, description = "Invalid email or password"), (status = 429, description = "Too many failed login attempts (per account or client address); Retry-After gives the seconds to wait")),
)]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let credentials = super::login_credentials(&body, client.0);
    let (token, customer) = auth::login::customer(&state, credentials).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"success": true, "token": token, "customer": customer_json(&customer)})))
}

async fn load_customer(state: &AppState, id: i64) -> Result<Customer, AppError> {
    state
        .db
        .run(move |c| {
            customers::table
                .find(id)
                .select(Customer::as_select())
                .first(c)
                .optional()?
                .ok_or_else(|| AppError::Unauthorized("Account no longer exists".into()))
        })
        .await
}

#[utoipa::path(get, path = "/api/user/profile", tag = "customer",
    responses((status = 200, description = "{success, customer: {id, name, email, idTag, walletBalance}}"), (status = 401, description = "Missing or bad token")),
    security(("bearer" = [])),
)]
pub async fn profile(
    state: web::Data<AppState>,
    who: CustomerId,
) -> Result<HttpResponse, AppError> {
    let customer = load_customer(&state, who.0).await?;
    Ok(HttpResponse::Ok().json(json!({"success": true, "customer": customer_json(&customer)})))
}

#[utoipa::path(get, path = "/api/user/wallet", tag = "customer",
    responses((status = 200, description = "{success, balance, currency, transactions (ledger, newest first)}")),
    security(("bearer" = [])),
)]
pub async fn wallet(state: web::Data<AppState>, who: CustomerId) -> Result<HttpResponse, AppError> {
    let id = who.0;
    let customer = load_customer(&state, id).await?;
    let rows: Vec<(LedgerRow, Option<String>)> = state
        .db
        .run(move |c| {
            Ok(wallet_ledger::table
                .left_join(
                    charging_sessions::table.on(charging_sessions::id
                        .nullable()
                        .eq(wallet_ledger::session_id)),
                )
                .filter(wallet_ledger::customer_id.eq(id))
                .order(wallet_ledger::id.desc())
                .limit(500)
                .select((
                    LedgerRow::as_select(),
                    charging_sessions::session_uid.nullable(),
                ))
                .load(c)?)
        })
        .await?;
    let transactions: Vec<Value> = rows
        .iter()
        .map(|(r, uid)| crate::wallet::ledger_json(r, uid.as_deref()))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "balance": money::to_major(customer.balance),
        "currency": state.settings.currency,
        "transactions": transactions,
    })))
}

/// Stations with chargers, connectors, live status and price, as the user panel shows them.
#[utoipa::path(get, path = "/api/user/stations", tag = "customer",
    responses((status = 200, description = "Stations with chargers, connectors, live status, online flag and price")),
    security(("bearer" = [])),
)]
pub async fn stations(
    state: web::Data<AppState>,
    _who: CustomerId,
) -> Result<HttpResponse, AppError> {
    let default_price = state.derived.default_price_per_kwh;
    let (stations, chargers, connectors, busy, prices) = state
        .db
        .run(move |c| {
            let stations: Vec<Station> = stations::table
                .order(stations::id)
                .select(Station::as_select())
                .load(c)?;
            let chargers: Vec<Charger> = chargers::table
                .order(chargers::id)
                .select(Charger::as_select())
                .load(c)?;
            let connectors: Vec<Connector> = connectors::table
                .order((connectors::charger_id, connectors::connector_id))
                .select(Connector::as_select())
                .load(c)?;
            let busy: HashSet<(i64, i32)> = charging_sessions::table
                .filter(charging_sessions::status.eq_any(crate::charging::OPEN_STATUSES))
                .select((
                    charging_sessions::charger_id,
                    charging_sessions::connector_id,
                ))
                .load::<(i64, i32)>(c)?
                .into_iter()
                .collect();
            let mut prices = HashMap::new();
            for ch in &chargers {
                prices.insert(ch.id, crate::charging::price_for(c, ch, default_price)?);
            }
            Ok((stations, chargers, connectors, busy, prices))
        })
        .await?;
    let list: Vec<Value> = stations
        .iter()
        .map(|st| {
            let chargers: Vec<Value> = chargers
                .iter()
                .filter(|ch| ch.station_id == st.id)
                .map(|ch| {
                    let conns: Vec<Value> = connectors
                        .iter()
                        .filter(|k| k.charger_id == ch.id)
                        .map(|k| json!({"connectorId": k.connector_id, "status": k.status, "errorCode": k.error_code, "inUse": busy.contains(&(ch.id, k.connector_id))}))
                        .collect();
                    json!({
                        "deviceId": ch.device_id,
                        "chargingPointId": ch.charging_point_id,
                        "name": ch.name,
                        "online": state.registry.is_online(&ch.device_id),
                        "status": ch.status,
                        "pricePerKwh": money::to_major(prices.get(&ch.id).copied().unwrap_or(default_price)),
                        "connectors": conns,
                    })
                })
                .collect();
            json!({"id": st.id, "name": st.name, "address": st.address, "chargers": chargers})
        })
        .collect();
    Ok(HttpResponse::Ok()
        .json(json!({"success": true, "currency": state.settings.currency, "stations": list})))
}
