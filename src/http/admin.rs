//! Operator endpoints: login, stations, chargers, tariffs, customers and wallets, sessions, the OCPP
//! message log, and remote commands to chargers (HTTP only; rules and queries in `crate::domain::stations`,
//! `crate::domain::chargers`, `crate::domain::tariffs`, `crate::domain::customers`, `crate::domain::charging` and the protocol's commands).

use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::identity::OperatorId;
use super::input::{Amount, Field};
use super::security::ClientAddr;
use super::views::customers::CustomerView;
use super::views::tariffs::TariffView;
use super::{Done, LimitQuery};
use crate::domain::chargers::{self, ChargerView};
use crate::domain::charging::{self, ListFilter, SessionView, WriteOffView};
use crate::domain::customers;
use crate::domain::stations::{self, Station};
use crate::domain::tariffs;
use crate::error::AppError;
use crate::infra::db::models::Operator;
use crate::protocol::commands;
use crate::protocol::msglog;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct OperatorView {
    pub id: i64,
    pub email: String,
    pub name: String,
}

super::answers! {
    pub struct OperatorLogin {
        /// Bearer token for the operator routes
        token: String,
        operator: OperatorView,
    }
}

super::operation! {
    post "/api/admin/login", "operator" (
        request_body = super::LoginBody,
        responses((status = 200, description = "Logged in", body = OperatorLogin), (status = 401, description = "Invalid email or password"), (status = 429, description = "Too many failed login attempts (per account or client address); Retry-After gives the seconds to wait")),
    )
    pub async fn login(state, client: ClientAddr, body: web::Json<super::Login>) {
        let (token, op) = body.into_inner().log_in::<Operator>(&state, client).await?;
        let operator = OperatorView {
            id: op.id,
            email: op.email,
            name: op.name,
        };
        super::ok(OperatorLogin::new(token, operator))
    }
}

// `POST /api/admin/stations`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StationBody {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = r"\S")]
    name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    address: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1)]
    tariff_id: Field<i64>,
}

impl StationBody {
    pub fn validate(self) -> Result<stations::NewStation, AppError> {
        Ok(stations::NewStation {
            name: self.name.required("name")?,
            address: self.address.optional("address")?,
            tariff_id: self.tariff_id.optional_id("tariffId")?,
        })
    }
}

// `PUT /api/admin/stations/{id}/tariff` and `PUT /api/admin/chargers/{deviceId}/tariff`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TariffAssignment {
    /// null removes the assignment
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1)]
    tariff_id: Field<i64>,
}

impl TariffAssignment {
    /// The tariff to assign; `None` removes the assignment.
    pub fn validate(self) -> Result<Option<i64>, AppError> {
        self.tariff_id.optional_id("tariffId")
    }
}

super::answers! {
    pub struct StationAnswer { station: Station }
    pub struct StationList { stations: Vec<Station> }
}

super::operation! {
    post "/api/admin/stations", "operator", "bearer" (
        request_body = StationBody,
        responses((status = 201, description = "Created", body = StationAnswer), (status = 400, description = "name is required / tariffId must be a positive integer"), (status = 404, description = "Tariff not found")),
    )
    pub async fn create_station(state, _op: OperatorId, body: super::Body<StationBody>) {
        let new = body.0.validate()?;
        let station = state.db.run(move |c| stations::create(c, new)).await?;
        super::created(StationAnswer::new(station))
    }

    get "/api/admin/stations", "operator", "bearer" (
        responses((status = 200, description = "Stations in creation order", body = StationList)),
    )
    pub async fn list_stations(state, _op: OperatorId) {
        let stations = state.db.run(stations::list).await?;
        super::ok(StationList::new(stations))
    }

    put "/api/admin/stations/{id}/tariff", "operator", "bearer" (
        request_body = TariffAssignment,
        params(("id" = i64, Path)),
        responses((status = 200, description = "Assigned", body = StationAnswer), (status = 400, description = "tariffId must be a positive integer"), (status = 404, description = "Station or tariff not found")),
    )
    pub async fn assign_station_tariff(state, _op: OperatorId, path: web::Path<i64>, body: super::Body<TariffAssignment>) {
        let id = path.into_inner();
        let tariff_id = body.0.validate()?;
        let station = state
            .db
            .run(move |c| stations::assign_tariff(c, id, tariff_id))
            .await?;
        super::ok(StationAnswer::new(station))
    }
}

super::answers! {
    #[serde(rename_all = "camelCase")]
    pub struct ChargerAnswer {
        charger: ChargerView,
        /// Only when csms generated the charger's password: shown once, only its hash is stored
        #[serde(skip_serializing_if = "Option::is_none")]
        ocpp_password: Option<String>,
    }
    pub struct ChargerList { chargers: Vec<ChargerView> }
}

/// Whether a chargeBoxIdentity is connected to this node now.
fn online(state: &web::Data<AppState>) -> impl Fn(&str) -> bool + Send + 'static {
    let state = state.clone();
    move |device| state.registry.is_online(device)
}

// `POST /api/admin/chargers`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChargerBody {
    /// chargeBoxIdentity: 1-48 of letters, digits, '-', '_', '.', ':'
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = r"^[A-Za-z0-9._:-]{1,48}$")]
    device_id: Field<String>,
    /// Defaults to CP-{deviceId}
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    charging_point_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = i64, required = true, minimum = 1)]
    station_id: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    name: Field<String>,
    /// 0 = no authentication (only when set explicitly, and then without ocppPassword), 1 (default)
    /// = HTTP Basic auth, 2 = HTTP Basic auth over TLS, 3 = a TLS client certificate; 2 and 3
    /// connect to the TLS listener (CSMS_OCPP_TLS_ADDR)
    #[serde(default)]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 3)]
    security_profile: Field<i64>,
    /// 16-40 characters (profiles 1 to 3); when left out csms generates one and returns it once as
    /// `ocppPassword` in the 201 body. Stored as a salted hash
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 16, max_length = 40)]
    ocpp_password: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1)]
    tariff_id: Field<i64>,
}

impl ChargerBody {
    pub fn validate(self) -> Result<chargers::NewCharger, AppError> {
        let device_id = self.device_id.required("deviceId")?;
        chargers::valid_device_id(&device_id)?;
        let charging_point_id = match self.charging_point_id.optional("chargingPointId")? {
            Some(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => format!("CP-{device_id}"),
        };
        let station_id = self
            .station_id
            .optional_id("stationId")?
            .ok_or_else(|| AppError::bad_request("stationId is required"))?;
        let tariff_id = self.tariff_id.optional_id("tariffId")?;
        let name = self.name.optional("name")?;
        Ok(chargers::NewCharger {
            device_id,
            charging_point_id,
            station_id,
            name,
            tariff_id,
            credentials: credentials(self.security_profile, self.ocpp_password)?,
        })
    }
}

// `PUT /api/admin/chargers/{deviceId}`: what is given changes.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChargerSettingsBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, pattern = r"\S")]
    charging_point_id: Field<String>,
    /// 0 to 3, as on creation (2 and 3 connect to the TLS listener, CSMS_OCPP_TLS_ADDR)
    #[serde(default)]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 3)]
    security_profile: Field<i64>,
    /// 16-40 characters; null removes it (profile 0 only). Moving to profile 1 without one
    /// generates a password, returned once as `ocppPassword`
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 16, max_length = 40)]
    ocpp_password: Field<String>,
    /// The one OCPP version the charger may connect with from its next handshake (ocpp1.6 or
    /// ocpp2.0.1; null: any version csms serves)
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^(ocpp1\.6|ocpp2\.0\.1)$")]
    ocpp_version_pin: Field<String>,
    /// OCPP 2.0.1: the most items one GetVariables request may carry (the station's
    /// DeviceDataCtrlr.ItemsPerMessage); null: as the station's reports tell
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 2147483647)]
    items_per_message_get_variables: Field<i64>,
    /// The same for SetVariables
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 2147483647)]
    items_per_message_set_variables: Field<i64>,
    /// The same for GetReport
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 2147483647)]
    items_per_message_get_report: Field<i64>,
}

impl ChargerSettingsBody {
    pub fn validate(self) -> Result<chargers::Changes, AppError> {
        let name = self.name.nullable("name")?;
        let charging_point_id = match self.charging_point_id {
            Field::Absent | Field::Null => None,
            Field::Given(cp) if !cp.trim().is_empty() => Some(cp.trim().to_string()),
            _ => {
                return Err(AppError::bad_request(
                    "chargingPointId must be a non-empty string",
                ));
            }
        };
        Ok(chargers::Changes {
            name,
            charging_point_id,
            credentials: credentials(self.security_profile, self.ocpp_password)?,
            ocpp_version_pin: self.ocpp_version_pin.nullable("ocppVersionPin")?,
            items_per_message: [
                limit(self.items_per_message_get_variables)?,
                limit(self.items_per_message_set_variables)?,
                limit(self.items_per_message_get_report)?,
            ],
        })
    }
}

/// An ItemsPerMessage limit of a charger request body: left out, null (cleared) or an integer.
fn limit(f: Field<i64>) -> Result<Option<Option<i64>>, AppError> {
    match f {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(None)),
        Field::Given(n) => Ok(Some(Some(n))),
        Field::Wrong => Err(AppError::bad_request(
            "itemsPerMessage limits must be integers of 1 or more (null clears one)",
        )),
    }
}

/// `securityProfile` and `ocppPassword` of a charger request body (the profile's range and the
/// password's rules are the domain's).
fn credentials(
    profile: Field<i64>,
    password: Field<String>,
) -> Result<chargers::Credentials, AppError> {
    let security_profile = match profile {
        Field::Absent | Field::Null => None,
        p => Some(
            p.given()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| AppError::bad_request("securityProfile must be 0, 1, 2 or 3"))?,
        ),
    };
    Ok(chargers::Credentials {
        security_profile,
        password: password.nullable("ocppPassword")?,
    })
}

super::operation! {
    post "/api/admin/chargers", "operator", "bearer" (
        request_body = ChargerBody,
        responses((status = 201, description = "Registered; ocppPassword when csms generated it", body = ChargerAnswer), (status = 400, description = "Invalid deviceId, stationId, tariffId, securityProfile or ocppPassword"), (status = 404, description = "Station or tariff not found"), (status = 409, description = "Duplicate deviceId or chargingPointId")),
    )
    pub async fn create_charger(state, _op: OperatorId, body: super::Body<ChargerBody>) {
        let new = body.0.validate()?;
        let online = online(&state);
        let saved = state
            .db
            .run(move |c| chargers::register(c, new, online))
            .await?;
        super::created(ChargerAnswer::new(saved.charger, saved.generated_password))
    }
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

super::operation! {
    put "/api/admin/chargers/{device_id}/registration", "operator", "bearer" (
        request_body = RegistrationBody,
        params(("device_id" = String, Path, description = "chargeBoxIdentity")),
        responses((status = 200, description = "Set; a connected charger that is now accepted is asked to boot again", body = crate::http::Done), (status = 400, description = "Invalid status"), (status = 404, description = "Charger not found")),
    )
    pub async fn set_registration(state, _op: OperatorId, path: web::Path<String>, body: super::Body<RegistrationBody>) {
        let device = path.into_inner();
        chargers::decide_registration(
            &state.db,
            state.registry.clone(),
            state.settings.call_timeout(),
            &device,
            &body.0.status,
        )
        .await?;
        super::done()
    }

    put "/api/admin/chargers/{device_id}", "operator", "bearer" (
        request_body = ChargerSettingsBody,
        params(("device_id" = String, Path, description = "chargeBoxIdentity")),
        responses((status = 200, description = "Changed; ocppPassword only when csms generated one", body = ChargerAnswer), (status = 400, description = "Invalid settings"), (status = 404, description = "Charger not found"), (status = 409, description = "Duplicate chargingPointId")),
    )
    pub async fn update_charger(state, _op: OperatorId, path: web::Path<String>, body: super::Body<ChargerSettingsBody>) {
        let device = path.into_inner();
        let changes = body.0.validate()?;
        let online = online(&state);
        let saved = state
            .db
            .run(move |c| chargers::change(c, &device, changes, online))
            .await?;
        super::ok(ChargerAnswer::new(saved.charger, saved.generated_password))
    }

    get "/api/admin/chargers", "operator", "bearer" (
        responses((status = 200, description = "Chargers with online flag, last heartbeat, connector statuses", body = ChargerList)),
    )
    pub async fn list_chargers(state, _op: OperatorId) {
        let online = online(&state);
        let mut chargers = state.db.run(move |c| chargers::list(c, online)).await?;
        for ch in &mut chargers {
            ch.node = state.registry.holder(&ch.device_id, &state.node_id);
            ch.seen_at(state.registry.last_frame(&ch.device_id));
        }
        super::ok(ChargerList::new(chargers))
    }

    get "/api/admin/chargers/{device_id}", "operator", "bearer" (
        params(("device_id" = String, Path, description = "chargeBoxIdentity")),
        responses((status = 200, description = "The charger", body = ChargerAnswer), (status = 404, description = "Charger not found")),
    )
    pub async fn get_charger(state, _op: OperatorId, path: web::Path<String>) {
        let device = path.into_inner();
        let online = online(&state);
        let mut charger = state
            .db
            .run(move |c| chargers::get(c, &device, online))
            .await?;
        charger.seen_at(state.registry.last_frame(&charger.device_id));
        super::ok(ChargerAnswer::new(charger, None))
    }

    /// Deletes a charger that has no charging history; one with history is kept for the books (409).
    delete "/api/admin/chargers/{device_id}", "operator", "bearer" (
        params(("device_id" = String, Path, description = "chargeBoxIdentity")),
        responses((status = 200, description = "Deleted", body = Done), (status = 404, description = "Charger not found"), (status = 409, description = "Charger has charging history")),
    )
    pub async fn delete_charger(state, _op: OperatorId, path: web::Path<String>) {
        let device = path.into_inner();
        let d = device.clone();
        state.db.run(move |c| chargers::delete(c, &d)).await?;
        state.registry.disconnect(&device);
        super::done()
    }
}

super::answers! {
    #[serde(rename_all = "camelCase")]
    pub struct TariffAssigned {
        /// The charger's own tariff now (null: none)
        tariff_id: Option<i64>,
    }
}

super::operation! {
    put "/api/admin/chargers/{device_id}/tariff", "operator", "bearer" (
        request_body = TariffAssignment,
        params(("device_id" = String, Path, description = "chargeBoxIdentity")),
        responses((status = 200, description = "Assigned", body = TariffAssigned), (status = 400, description = "tariffId must be a positive integer"), (status = 404, description = "Charger or tariff not found")),
    )
    pub async fn assign_charger_tariff(state, _op: OperatorId, path: web::Path<String>, body: super::Body<TariffAssignment>) {
        let device = path.into_inner();
        let tariff_id = body.0.validate()?;
        state
            .db
            .run(move |c| chargers::assign_tariff(c, &device, tariff_id))
            .await?;
        super::ok(TariffAssigned::new(tariff_id))
    }
}

super::answers! {
    pub struct TariffAnswer { tariff: TariffView }
    pub struct TariffList { tariffs: Vec<TariffView> }
}

// `POST /api/admin/tariffs`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TariffBody {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = r"\S")]
    name: Field<String>,
    /// Major units per kWh, at most 2 decimals
    #[serde(default)]
    #[schema(value_type = f64, required = true, minimum = 0, maximum = 100000, multiple_of = 0.01)]
    price_per_kwh: Field<Amount>,
}

impl TariffBody {
    /// The name and the price in minor units per kWh.
    pub fn validate(self) -> Result<(String, i64), AppError> {
        let name = self.name.required("name")?;
        let price = tariffs::valid_price(self.price_per_kwh.minor())?;
        Ok((name, price))
    }
}

super::operation! {
    post "/api/admin/tariffs", "operator", "bearer" (
        request_body = TariffBody,
        responses((status = 201, description = "Created", body = TariffAnswer), (status = 400, description = "name is required / pricePerKwh must be a non-negative amount with at most 2 decimals")),
    )
    pub async fn create_tariff(state, _op: OperatorId, body: super::Body<TariffBody>) {
        let (name, price) = body.0.validate()?;
        let tariff = state
            .db
            .run(move |c| tariffs::create(c, &name, price))
            .await?
            .into();
        super::created(TariffAnswer::new(tariff))
    }

    get "/api/admin/tariffs", "operator", "bearer" (
        responses((status = 200, description = "Tariffs in creation order", body = TariffList)),
    )
    pub async fn list_tariffs(state, _op: OperatorId) {
        let tariffs = state
            .db
            .run(tariffs::list)
            .await?
            .into_iter()
            .map(TariffView::from)
            .collect();
        super::ok(TariffList::new(tariffs))
    }
}

super::answers! {
    pub struct CustomerList {
        /// Currency code of every amount
        currency: String,
        customers: Vec<CustomerView>,
    }
    pub struct CustomerAnswer { customer: CustomerView }
}

super::operation! {
    get "/api/admin/customers", "operator", "bearer" (
        responses((status = 200, description = "Customers in registration order", body = CustomerList)),
    )
    pub async fn list_customers(state, _op: OperatorId) {
        let customers = state
            .db
            .run(customers::list)
            .await?
            .into_iter()
            .map(CustomerView::from)
            .collect();
        super::ok(CustomerList::new(
            state.settings.currency.clone(),
            customers,
        ))
    }
}

// `POST /api/admin/customers/{id}/wallet/credit`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreditBody {
    /// Major units, positive, at most 2 decimals, at most 1,000,000
    #[serde(default)]
    #[schema(value_type = f64, required = true, exclusive_minimum = 0, maximum = 1000000, multiple_of = 0.01)]
    amount: Field<Amount>,
    /// Ledger note (the first 200 characters are kept)
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    note: Field<String>,
}

impl CreditBody {
    /// The amount in minor units and the ledger note.
    pub fn validate(self) -> Result<(i64, Option<String>), AppError> {
        let amount = customers::valid_credit(self.amount.minor())?;
        Ok((amount, self.note.optional("note")?))
    }
}

super::operation! {
    post "/api/admin/customers/{id}/wallet/credit", "operator", "bearer" (
        request_body = CreditBody,
        params(("id" = i64, Path)),
        responses((status = 200, description = "Credited: the customer afterwards", body = CustomerAnswer), (status = 400, description = "Invalid amount"), (status = 404, description = "Customer not found")),
    )
    pub async fn credit_wallet(state, _op: OperatorId, path: web::Path<i64>, body: super::Body<CreditBody>) {
        let id = path.into_inner();
        let (amount, note) = body.0.validate()?;
        let customer = state
            .db
            .run(move |c| customers::credit(c, id, amount, note.as_deref()))
            .await?
            .into();
        state.events.wake();
        super::ok(CustomerAnswer::new(customer))
    }
}

super::answers! {
    pub struct SessionList {
        /// Currency code of every amount
        currency: String,
        sessions: Vec<SessionView>,
    }
}

super::operation! {
    get "/api/admin/sessions", "operator", "bearer" (
        params(("status" = Option<String>, Query), ("deviceId" = Option<String>, Query), ("customerId" = Option<i64>, Query), ("limit" = Option<i64>, Query, description = "1 to 1000 (default 200)")),
        responses((status = 200, description = "Sessions, newest first", body = SessionList)),
    )
    pub async fn list_sessions(state, _op: OperatorId, q: web::Query<ListFilter>) {
        let filter = q.into_inner();
        let sessions = state.db.run(move |c| charging::list(c, filter)).await?;
        super::ok(SessionList::new(state.settings.currency.clone(), sessions))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CloseBody {
    /// Why the operator closes it (written to the session and its ledger rows)
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    reason: String,
}

super::answers! {
    pub struct SessionAnswer {
        message: String,
        /// The session afterwards
        session: SessionView,
    }
}

super::operation! {
    /// Force-closes a session the charger lost: settled from its last meter reading, the rest refunded.
    post "/api/admin/sessions/{session_id}/close", "operator", "bearer" (
        request_body = CloseBody,
        params(("session_id" = String, Path, description = "SESS_...")),
        responses((status = 200, description = "Closed and settled", body = SessionAnswer), (status = 400, description = "reason is required"), (status = 404, description = "Session not found"), (status = 409, description = "Session has already ended")),
    )
    pub async fn close_session(state, op: OperatorId, path: web::Path<String>, body: super::Body<CloseBody>) {
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
        super::ok(SessionAnswer::new("Session closed".into(), session))
    }
}

super::answers! {
    #[serde(rename_all = "camelCase")]
    pub struct WriteOffList {
        /// Currency code of every amount
        currency: String,
        write_offs: Vec<WriteOffView>,
    }
}

super::operation! {
    get "/api/admin/write-offs", "operator", "bearer" (
        params(("limit" = Option<i64>, Query, description = "1 to 1000 (default 200)")),
        responses((status = 200, description = "Energy delivered that could not be billed, newest first", body = WriteOffList)),
    )
    pub async fn write_offs(state, _op: OperatorId, q: web::Query<LimitQuery>) {
        let limit = q.limit.unwrap_or(200);
        let write_offs = state
            .db
            .run(move |c| charging::write_offs(c, limit))
            .await?;
        super::ok(WriteOffList::new(
            state.settings.currency.clone(),
            write_offs,
        ))
    }
}

super::answers! {
    pub struct MessageList { messages: Vec<msglog::MessageView> }
}

super::charger_reads! {
    messages at "/api/admin/chargers/{device_id}/messages" (description = "chargeBoxIdentity"),
        query q: LimitQuery [("limit" = Option<i64>, Query, description = "1 to 1000 (default 100)")]
        => MessageList from |c, device| msglog::list(c, device, q.limit.unwrap_or(100)),
        "OCPP frames in and out, newest first";
}

super::answers! {
    pub struct CommandAnswer {
        action: String,
        /// The charger's CALLRESULT payload
        #[schema(value_type = Object)]
        response: Value,
        /// ReserveNow: the reservation csms recorded (its id is the reservationId sent)
        #[serde(skip_serializing_if = "Option::is_none")]
        reservation: Option<crate::domain::reservations::Reservation>,
        /// SendLocalList: the update csms sent from its tokens
        #[serde(skip_serializing_if = "Option::is_none", rename = "localList")]
        local_list: Option<crate::domain::local_list::SyncReport>,
    }
}

super::operation! {
    /// Sends an OCPP command to a charger and returns its answer.
    post "/api/admin/chargers/{device_id}/commands/{action}", "operator", "bearer" (
        request_body = serde_json::Value,
        params(("device_id" = String, Path), ("action" = String, Path, description = "Any CS→CP action of OCPP 1.6 and its security extension, or (a station connected with 2.0.1) any CSMS→station action of OCPP 2.0.1, by its OCPP name")),
        responses((status = 200, description = "The charger's answer", body = CommandAnswer), (status = 400, description = "Invalid payload / Charger is offline"), (status = 404, description = "Unknown command or charger"), (status = 502, description = "Charger answered with a CALLERROR"), (status = 504, description = "Charger did not respond")),
    )
    pub async fn command(state, _op: OperatorId, path: web::Path<(String, String)>, body: Option<web::Json<Value>>) {
        let (device, action) = path.into_inner();
        let outcome = commands::run(
            &state.into_inner(),
            &device,
            &action,
            body.map(|b| b.into_inner()),
        )
        .await?;
        super::ok(CommandAnswer::new(
            action,
            outcome.response,
            outcome.reservation,
            outcome.local_list,
        ))
    }

    get "/api/admin/cluster", "operator", "bearer" (
        responses((status = 200, description = "The nodes sharing this database (heartbeat, lease, chargers held), and the named leases", body = crate::infra::cluster::ClusterView)),
    )
    pub async fn cluster(state, _op: OperatorId) {
        let view = crate::infra::cluster::describe(
            &state.db,
            state.cluster.as_ref(),
            &state.node_id,
            state.registry.len(),
            state.settings.node_lease(),
        )
        .await?;
        super::ok(view)
    }
}
