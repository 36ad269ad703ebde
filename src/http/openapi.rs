//! The OpenAPI document served at `/api/openapi.json` (browsable at `/swagger-ui/`), generated from
//! the handlers' `#[utoipa::path]` annotations and the structs they read and answer: the paths come
//! from the route list in `crate::http` ([`crate::http::Operations`]), so a route the server serves is
//! a route the document describes. Request bodies deny unknown fields (`additionalProperties:
//! false`); schemathesis checks both directions (what the schema allows must be accepted, what it
//! forbids must be refused).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};

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
    info(
        title = "csms",
        description = "OCPP 1.6J central system with a customer wallet. Errors: {\"success\": false, \"error\": \"...\"}."
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::infra::cluster::ClusterView,
        crate::infra::cluster::NodeView,
        crate::infra::cluster::LeaseView,
        crate::http::admin::RegistrationBody,
        crate::domain::firmware::Image,
        crate::domain::firmware::Job,
        crate::http::firmware::ImageAnswer,
        crate::http::firmware::ImageList,
        crate::http::firmware::JobAnswer,
        crate::http::firmware::JobList,
        crate::http::firmware::UpdateBody,
        crate::http::firmware::DiagnosticsBody,
        crate::http::uploads::UploadKind,
        crate::domain::smart_charging::ChargingProfile,
        crate::domain::smart_charging::ProfileInput,
        crate::domain::smart_charging::ClearInput,
        crate::domain::smart_charging::Share,
        crate::domain::smart_charging::StationLoad,
        crate::http::smart_charging::ProfileAnswer,
        crate::http::smart_charging::ProfileList,
        crate::http::smart_charging::ChargerReply,
        crate::http::smart_charging::LoadAnswer,
        crate::http::smart_charging::LimitBody,
        crate::domain::local_list::ListState,
        crate::domain::local_list::SyncReport,
        crate::http::local_list::SyncBody,
        crate::http::local_list::LocalListAnswer,
        crate::http::local_list::SyncAnswer,
        crate::domain::reservations::Reservation,
        crate::http::reservations::CustomerReservationInput,
        crate::http::reservations::OperatorReservationInput,
        crate::http::reservations::ReservationAnswer,
        crate::http::reservations::ReservationList,
        crate::http::Done,
        crate::http::views::tokens::Token,
        crate::http::tokens::TokenAnswer,
        crate::http::tokens::TokenList,
        crate::http::charging::EventsTicketResponse,
        crate::http::customer::RegisterBody,
        crate::http::LoginBody,
        crate::http::charging::StartBody,
        crate::http::charging::StopBody,
        crate::http::admin::StationBody,
        crate::http::admin::ChargerBody,
        crate::http::admin::TariffBody,
        crate::http::admin::TariffAssignment,
        crate::http::admin::CreditBody,
        crate::http::admin::CloseBody,
        crate::http::admin::ChargerSettingsBody,
        crate::http::admin::SessionAnswer,
        crate::domain::charging::SessionView,
        crate::domain::certificates::ChargerCertificates,
        crate::domain::certificates::IssuedCertificate,
        crate::domain::certificates::InstalledCertificate,
        crate::domain::security_events::SecurityEvent,
        crate::domain::security_jobs::SecurityJob,
        crate::http::charger_security::CertificatesAnswer,
        crate::http::charger_security::SecurityEventList,
        crate::http::charger_security::SecurityJobAnswer,
        crate::http::charger_security::SecurityJobList,
        crate::http::charger_security::GetLogBody,
        crate::http::charger_security::SignedFirmwareBody
    ))
)]
struct ApiDoc;

/// The document: [`ApiDoc`]'s title and schemas, the API's operations, the bearer scheme and the
/// error answers every operation shares.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::http::Operations::openapi());
    BearerAuth.modify(&mut doc);
    ErrorAnswers.modify(&mut doc);
    doc
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
