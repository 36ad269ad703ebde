//! The OpenAPI document served at `/api/openapi.json` (browsable at `/swagger-ui/`), generated from
//! the handlers' `#[utoipa::path]` annotations and the request bodies below.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi, ToSchema};

// Request bodies as the handlers accept them (schemathesis checks both directions: what the schema
// allows must be accepted, what it forbids must be refused). `\S`: not only white space (the
// handlers trim).

#[derive(ToSchema)]
pub struct RegisterBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Stored in lower case
    #[schema(max_length = 254, pattern = r"^[^@\s\x85]+@[^@\s\x85]*\.[^@\s\x85]*$")]
    pub email: String,
    /// 6 to 72 characters (at most 72 bytes)
    #[schema(min_length = 6, max_length = 72)]
    pub password: String,
}

#[derive(ToSchema)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(ToSchema)]
#[allow(non_snake_case)]
pub struct StartBody {
    #[schema(min_length = 1, pattern = r"\S")]
    pub deviceId: String,
    #[schema(minimum = 1, maximum = 2147483647)]
    pub connectorId: i32,
    /// Prepaid amount in major units (e.g. 50 or 50.25): positive, at most 2 decimals, at most
    /// CSMS_MAX_AMOUNT (default 10000)
    #[schema(exclusive_minimum = 0, maximum = 10000, multiple_of = 0.01)]
    pub amount: f64,
    /// Optional; must match the charger when given
    pub chargingPointId: Option<String>,
}

#[derive(ToSchema)]
#[allow(non_snake_case)]
pub struct StopBody {
    #[schema(min_length = 1, pattern = r"\S")]
    pub sessionId: String,
}

#[derive(ToSchema)]
#[allow(non_snake_case)]
pub struct StationBody {
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    pub address: Option<String>,
    #[schema(minimum = 1)]
    pub tariffId: Option<i64>,
}

#[derive(ToSchema)]
#[allow(non_snake_case)]
pub struct ChargerBody {
    /// chargeBoxIdentity: 1-48 of letters, digits, '-', '_', '.', ':'
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,48}$")]
    pub deviceId: String,
    /// Defaults to CP-{deviceId}
    pub chargingPointId: Option<String>,
    #[schema(minimum = 1)]
    pub stationId: i64,
    pub name: Option<String>,
    /// 0 = no authentication (only when set explicitly, and then without ocppPassword), 1 (default)
    /// = HTTP Basic auth; 2 and 3 need the TLS listener (not available yet)
    #[schema(minimum = 0, maximum = 1)]
    pub securityProfile: Option<i32>,
    /// 16-40 characters, profile 1; when left out csms generates one and returns it once as
    /// `ocppPassword` in the 201 body. Stored as a salted hash
    #[schema(min_length = 16, max_length = 40)]
    pub ocppPassword: Option<String>,
    #[schema(minimum = 1)]
    pub tariffId: Option<i64>,
}

#[derive(ToSchema)]
#[allow(non_snake_case)]
pub struct ChargerSettingsBody {
    pub name: Option<String>,
    #[schema(min_length = 1, pattern = r"\S")]
    pub chargingPointId: Option<String>,
    /// 0 or 1 (2 and 3 need the TLS listener)
    #[schema(minimum = 0, maximum = 1)]
    pub securityProfile: Option<i32>,
    /// 16-40 characters; null removes it (profile 0 only). Moving to profile 1 without one
    /// generates a password, returned once as `ocppPassword`
    #[schema(min_length = 16, max_length = 40)]
    pub ocppPassword: Option<String>,
}

#[derive(ToSchema)]
#[allow(non_snake_case)]
pub struct TariffBody {
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    /// Major units per kWh, at most 2 decimals
    #[schema(minimum = 0, maximum = 100000, multiple_of = 0.01)]
    pub pricePerKwh: f64,
}

#[derive(ToSchema)]
#[allow(non_snake_case)]
pub struct TariffAssignment {
    /// null removes the assignment
    #[schema(minimum = 1)]
    pub tariffId: Option<i64>,
}

#[derive(ToSchema)]
pub struct CreditBody {
    /// Major units, positive, at most 2 decimals, at most 1,000,000
    #[schema(exclusive_minimum = 0, maximum = 1000000, multiple_of = 0.01)]
    pub amount: f64,
    /// Ledger note (the first 200 characters are kept)
    pub note: Option<String>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// Every error answer is an [`crate::error::ErrorBody`]; every operation documents the errors the
/// framework gives before a handler runs: 401 and 403 from the bearer token, 400 from a body,
/// query or path that does not parse.
struct ErrorAnswers;

impl Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let path_params = item.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let takes_input = path_params
                    || op.request_body.is_some()
                    || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let answers = &mut op.responses.responses;
                if secured {
                    answers
                        .entry("401".into())
                        .or_insert_with(|| Response::new("Missing, bad or expired token").into());
                    answers.entry("403".into()).or_insert_with(|| {
                        Response::new("A token of the other role (customer or operator)").into()
                    });
                }
                if takes_input {
                    answers.entry("400".into()).or_insert_with(|| {
                        Response::new("Invalid JSON body, query or path").into()
                    });
                }
                for (status, answer) in answers.iter_mut() {
                    if let RefOr::T(answer) = answer
                        && status.as_str() >= "400"
                        && answer.content.is_empty()
                    {
                        answer.content.insert(
                            "application/json".into(),
                            Content::new(Some(Ref::from_schema_name("ErrorBody"))).into(),
                        );
                    }
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "csms", description = "OCPP 1.6J central system with a customer wallet. Errors: {\"success\": false, \"error\": \"...\"}."),
    paths(crate::api::system::healthz, crate::api::system::metrics, crate::api::customer::register, crate::api::customer::login, crate::api::customer::profile, crate::api::customer::wallet, crate::api::customer::stations, crate::api::charging::start, crate::api::charging::stop, crate::api::charging::sessions, crate::api::charging::session, crate::api::charging::events, crate::api::charging::events_ticket, crate::api::admin::login, crate::api::admin::create_station, crate::api::admin::list_stations, crate::api::admin::assign_station_tariff, crate::api::admin::create_charger, crate::api::admin::list_chargers, crate::api::admin::get_charger, crate::api::admin::delete_charger, crate::api::admin::assign_charger_tariff, crate::api::admin::messages, crate::api::admin::command, crate::api::admin::create_tariff, crate::api::admin::list_tariffs, crate::api::admin::list_customers, crate::api::admin::credit_wallet, crate::api::admin::list_sessions, crate::api::admin::close_session, crate::api::admin::write_offs, crate::api::admin::cluster, crate::api::admin::update_charger, crate::api::admin::set_registration, crate::api::tokens::create, crate::api::tokens::list, crate::api::tokens::get, crate::api::tokens::update, crate::api::tokens::delete, crate::api::firmware::upload, crate::api::firmware::images, crate::api::firmware::download, crate::api::firmware::update_firmware, crate::api::firmware::get_diagnostics, crate::api::firmware::jobs, crate::api::firmware::receive, crate::api::firmware::receive_post, crate::api::firmware::file, crate::api::smart_charging::set, crate::api::smart_charging::list, crate::api::smart_charging::clear, crate::api::smart_charging::composite, crate::api::smart_charging::set_limit, crate::api::smart_charging::load, crate::api::local_list::local_list, crate::api::local_list::sync_local_list, crate::api::reservations::reserve, crate::api::reservations::mine, crate::api::reservations::cancel_mine, crate::api::reservations::operator_reserve, crate::api::reservations::list, crate::api::reservations::operator_cancel, crate::api::charger_security::certificates, crate::api::charger_security::events, crate::api::charger_security::get_log, crate::api::charger_security::signed_firmware, crate::api::charger_security::jobs, crate::api::charger_security::file, crate::api::charger_security::receive, crate::api::charger_security::receive_post),
    components(schemas(crate::error::ErrorBody, crate::cluster::ClusterView, crate::cluster::NodeView, crate::cluster::LeaseView, crate::api::admin::RegistrationBody, crate::firmware::Image, crate::firmware::Job, crate::api::firmware::ImageAnswer, crate::api::firmware::ImageList, crate::api::firmware::JobAnswer, crate::api::firmware::JobList, crate::api::firmware::UpdateBody, crate::api::firmware::DiagnosticsBody, crate::smart_charging::ChargingProfile, crate::smart_charging::ProfileInput, crate::smart_charging::ClearInput, crate::smart_charging::Share, crate::smart_charging::StationLoad, crate::api::smart_charging::ProfileAnswer, crate::api::smart_charging::ProfileList, crate::api::smart_charging::ChargerReply, crate::api::smart_charging::LoadAnswer, crate::api::smart_charging::LimitBody, crate::local_list::ListState, crate::local_list::SyncReport, crate::api::local_list::SyncBody, crate::api::local_list::LocalListAnswer, crate::api::local_list::SyncAnswer, crate::reservations::Reservation, crate::api::reservations::CustomerReservationInput, crate::api::reservations::OperatorReservationInput, crate::api::reservations::ReservationAnswer, crate::api::reservations::ReservationList, crate::api::Done, crate::tokens::Token, crate::api::tokens::TokenAnswer, crate::api::tokens::TokenList, crate::api::charging::EventsTicketResponse, RegisterBody, LoginBody, StartBody, StopBody, StationBody, ChargerBody, TariffBody, TariffAssignment, CreditBody, crate::api::admin::CloseBody, ChargerSettingsBody, crate::api::admin::SessionAnswer, crate::charging::SessionView, crate::certificates::ChargerCertificates, crate::certificates::IssuedCertificate, crate::certificates::InstalledCertificate, crate::security_events::SecurityEvent, crate::security_jobs::SecurityJob, crate::api::charger_security::CertificatesAnswer, crate::api::charger_security::SecurityEventList, crate::api::charger_security::SecurityJobAnswer, crate::api::charger_security::SecurityJobList, crate::api::charger_security::GetLogBody, crate::api::charger_security::SignedFirmwareBody)),
    modifiers(&BearerAuth, &ErrorAnswers)
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as served: [`document`] plus the rules between fields that utoipa's derive cannot
/// state (JSON Schema `not`), so that a schema-valid body is one the handlers accept.
pub fn json() -> &'static serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(document()).unwrap_or_default();
        // ocppPassword: no password with securityProfile 0; null (remove it) only with profile 0.
        let credentials = serde_json::json!({
            "anyOf": [
                {
                    "required": ["securityProfile", "ocppPassword"],
                    "properties": {"securityProfile": {"const": 0}, "ocppPassword": {"type": "string"}}
                },
                {
                    "required": ["ocppPassword"],
                    "properties": {"ocppPassword": {"type": "null"}},
                    "not": {"required": ["securityProfile"], "properties": {"securityProfile": {"const": 0}}}
                }
            ]
        });
        for name in ["ChargerBody", "ChargerSettingsBody"] {
            if let Some(schema) = doc
                .pointer_mut(&format!("/components/schemas/{name}"))
                .and_then(serde_json::Value::as_object_mut)
            {
                schema.insert("not".into(), credentials.clone());
            }
        }
        doc
    })
}
