//! Customer accounts, wallet and the station list (HTTP only; rules and queries in
//! `crate::customers`, `crate::wallet` and `crate::stations`).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::security::ClientAddr;
use super::str_field;
use crate::auth::{self, CustomerId, Role};
use crate::customers::{self, CustomerView, Registration};
use crate::error::AppError;
use crate::money::Major;
use crate::state::AppState;
use crate::stations::{self, PublicStation};
use crate::wallet::{self, LedgerEntry};

#[derive(Serialize, ToSchema)]
pub struct CustomerLogin {
    success: bool,
    /// Bearer token for the customer routes
    token: String,
    customer: CustomerView,
}

#[derive(Serialize, ToSchema)]
pub struct Profile {
    success: bool,
    customer: CustomerView,
}

#[utoipa::path(post, path = "/api/customer/register", tag = "customer",
    request_body = crate::api::openapi::RegisterBody,
    responses((status = 201, description = "Registered", body = CustomerLogin), (status = 400, description = "Invalid input"), (status = 409, description = "Email is already registered"), (status = 429, description = "Too many registrations from this client address; Retry-After gives the seconds to wait")),
)]
pub async fn register(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let r = Registration {
        name: str_field(&body, "name")?.to_string(),
        email: str_field(&body, "email")?.to_lowercase(),
        password: body
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    };
    let customer = customers::register(&state, r, client.0).await?;
    let token = state.jwt.issue(Role::Customer, customer.id)?;
    Ok(HttpResponse::Created().json(CustomerLogin {
        success: true,
        token,
        customer,
    }))
}

#[utoipa::path(post, path = "/api/customer/login", tag = "customer",
    request_body = crate::api::openapi::LoginBody,
    responses((status = 200, description = "Logged in", body = CustomerLogin), (status = 401, description = "Invalid email or password"), (status = 429, description = "Too many failed login attempts (per account or client address); Retry-After gives the seconds to wait")),
)]
pub async fn login(
    state: web::Data<AppState>,
    client: ClientAddr,
    body: web::Json<Value>,
) -> Result<HttpResponse, AppError> {
    let credentials = super::login_credentials(&body, client.0);
    let (token, customer) = auth::login::customer(&state, credentials).await?;
    Ok(HttpResponse::Ok().json(CustomerLogin {
        success: true,
        token,
        customer: customer.into(),
    }))
}

#[utoipa::path(get, path = "/api/user/profile", tag = "customer",
    responses((status = 200, description = "The customer's account", body = Profile), (status = 401, description = "Missing or bad token")),
    security(("bearer" = [])),
)]
pub async fn profile(
    state: web::Data<AppState>,
    who: CustomerId,
) -> Result<HttpResponse, AppError> {
    let customer = state.db.run(move |c| customers::profile(c, who.0)).await?;
    Ok(HttpResponse::Ok().json(Profile {
        success: true,
        customer,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Wallet {
    success: bool,
    /// Major units
    #[schema(value_type = f64)]
    balance: Major,
    currency: String,
    /// The ledger, newest first (at most 500 rows)
    transactions: Vec<LedgerEntry>,
}

#[utoipa::path(get, path = "/api/user/wallet", tag = "customer",
    responses((status = 200, description = "Balance and ledger (newest first)", body = Wallet)),
    security(("bearer" = [])),
)]
pub async fn wallet(state: web::Data<AppState>, who: CustomerId) -> Result<HttpResponse, AppError> {
    let id = who.0;
    let (customer, transactions) = state
        .db
        .run(move |c| Ok((customers::profile(c, id)?, wallet::history(c, id, 500)?)))
        .await?;
    Ok(HttpResponse::Ok().json(Wallet {
        success: true,
        balance: customer.wallet_balance,
        currency: state.settings.currency.clone(),
        transactions,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct StationCatalogue {
    success: bool,
    currency: String,
    stations: Vec<PublicStation>,
}

/// Stations with chargers, connectors, live status and price, as the user panel shows them.
#[utoipa::path(get, path = "/api/user/stations", tag = "customer",
    responses((status = 200, description = "Stations with chargers, connectors, live status, online flag and price", body = StationCatalogue)),
    security(("bearer" = [])),
)]
pub async fn stations(
    state: web::Data<AppState>,
    _who: CustomerId,
) -> Result<HttpResponse, AppError> {
    let default_price = state.derived.default_price_per_kwh;
    let st = state.clone();
    let stations = state
        .db
        .run(move |c| stations::for_customers(c, default_price, |d| st.registry.is_online(d)))
        .await?;
    Ok(HttpResponse::Ok().json(StationCatalogue {
        success: true,
        currency: state.settings.currency.clone(),
        stations,
    }))
}
