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
    // The operations bring the schemas of their bodies and answers; listed here only what none of
    // them names as a body: the error answer (see [`ErrorAnswers`]) and a path parameter's enum.
    components(schemas(crate::error::ErrorBody, crate::http::uploads::UploadKind))
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
