//! Customer accounts, wallet and the station list (HTTP only; rules and queries in
//! `crate::domain::customers`, `crate::domain::wallet` and `crate::domain::stations`).

use actix_web::web;
use serde::Deserialize;
use utoipa::ToSchema;

use super::identity::CustomerId;
use super::input::Field;
use super::security::ClientAddr;
use super::views::customers::CustomerView;
use crate::domain::auth::Role;
use crate::domain::customers::{self, Registration};
use crate::domain::money::Major;
use crate::domain::stations::{self, PublicStation};
use crate::domain::wallet::{self, LedgerEntry};
use crate::error::AppError;
use crate::infra::db::models::Customer;

super::answers! {
    pub struct CustomerLogin {
        /// Bearer token for the customer routes
        token: String,
        customer: CustomerView,
    }
    pub struct Profile { customer: CustomerView }
}

// `POST /api/customer/register`. `\S`: not only white space (names and emails are trimmed).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, pattern = r"\S")]
    name: Field<String>,
    /// Stored in lower case
    #[serde(default)]
    #[schema(value_type = String, required = true, max_length = 254, pattern = r"^[^@\s\x85]+@[^@\s\x85]*\.[^@\s\x85]*$")]
    email: Field<String>,
    /// 6 to 72 characters (at most 72 bytes)
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 6, max_length = 72)]
    password: Field<String>,
}

impl RegisterBody {
    /// Name and email are required (trimmed; the email in lower case); a missing password is empty
    /// and fails the password rule of [`customers::register`].
    pub fn validate(self) -> Result<Registration, AppError> {
        Ok(Registration {
            name: self.name.required("name")?,
            email: self.email.required("email")?.to_lowercase(),
            password: self.password.given().unwrap_or_default(),
        })
    }
}

super::operation! {
    post "/api/customer/register", "customer" (
        request_body = RegisterBody,
        responses((status = 201, description = "Registered", body = CustomerLogin), (status = 400, description = "Invalid input"), (status = 409, description = "Email is already registered"), (status = 429, description = "Too many registrations from this client address; Retry-After gives the seconds to wait")),
    )
    pub async fn register(state, client: ClientAddr, body: super::Body<RegisterBody>) {
        let r = body.0.validate()?;
        let customer = CustomerView::from(customers::register(&state.accounts, r, client.0).await?);
        let token = state.jwt.issue(Role::Customer, customer.id)?;
        super::created(CustomerLogin::new(token, customer))
    }

    post "/api/customer/login", "customer" (
        request_body = super::LoginBody,
        responses((status = 200, description = "Logged in", body = CustomerLogin), (status = 401, description = "Invalid email or password"), (status = 429, description = "Too many failed login attempts (per account or client address); Retry-After gives the seconds to wait")),
    )
    pub async fn login(state, client: ClientAddr, body: web::Json<super::Login>) {
        let (token, customer) = body.into_inner().log_in::<Customer>(&state, client).await?;
        super::ok(CustomerLogin::new(token, customer.into()))
    }

    get "/api/user/profile", "customer", "bearer" (
        responses((status = 200, description = "The customer's account", body = Profile), (status = 401, description = "Missing or bad token")),
    )
    pub async fn profile(state, who: CustomerId) {
        let customer = state
            .db
            .run(move |c| customers::profile(c, who.0))
            .await?
            .into();
        super::ok(Profile::new(customer))
    }
}

super::answers! {
    pub struct Wallet {
        /// Major units
        #[schema(value_type = f64)]
        balance: Major,
        currency: String,
        /// The ledger, newest first (at most 500 rows)
        transactions: Vec<LedgerEntry>,
    }
}

super::operation! {
    get "/api/user/wallet", "customer", "bearer" (
        responses((status = 200, description = "Balance and ledger (newest first)", body = Wallet)),
    )
    pub async fn wallet(state, who: CustomerId) {
        let id = who.0;
        let (customer, transactions) = state
            .db
            .run(move |c| Ok((customers::profile(c, id)?, wallet::history(c, id, 500)?)))
            .await?;
        let currency = state.settings.currency.clone();
        super::ok(Wallet::new(Major(customer.balance), currency, transactions))
    }
}

super::answers! {
    pub struct StationCatalogue {
        currency: String,
        stations: Vec<PublicStation>,
    }
}

super::operation! {
    /// Stations with chargers, connectors, live status and price, as the user panel shows them.
    get "/api/user/stations", "customer", "bearer" (
        responses((status = 200, description = "Stations with chargers, connectors, live status, online flag and price", body = StationCatalogue)),
    )
    pub async fn stations(state, _who: CustomerId) {
        let default_price = state.derived.default_price_per_kwh;
        let st = state.clone();
        let stations = state
            .db
            .run(move |c| stations::for_customers(c, default_price, |d| st.registry.is_online(d)))
            .await?;
        super::ok(StationCatalogue::new(
            state.settings.currency.clone(),
            stations,
        ))
    }
}
