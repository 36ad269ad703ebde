//! Health, metrics, the OpenAPI document with Swagger UI, the web panels, and request metrics.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ErrorBody;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// ok or unavailable
    status: String,
    /// sqlite or postgres
    database: String,
    /// Chargers connected to this node
    chargers_online: usize,
}

#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "Database answers", body = Health), (status = 503, description = "Database unavailable", body = Health)),
)]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.run(crate::infra::db::ping).await;
    let body = Health {
        status: if db.is_ok() { "ok" } else { "unavailable" }.into(),
        database: state.db.backend().name().into(),
        chargers_online: state.registry.len(),
    };
    if db.is_ok() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")),
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    metrics::gauge!("csms_connected_chargers").set(state.registry.len() as f64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

/// Counts and times every request by route pattern (not raw path, so ids do not explode the labels).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "static".to_string());
    let status = res.status().as_u16().to_string();
    metrics::counter!("csms_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("csms_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(res)
}

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Web;

/// The web panels from `web/`, embedded in the binary so it runs from any folder.
pub async fn static_file(req: HttpRequest) -> HttpResponse {
    let path = req.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    match Web::get(path) {
        Some(file) => HttpResponse::Ok()
            .content_type(content_type(path))
            .insert_header(("Cache-Control", "no-cache"))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound().json(ErrorBody::new("Not found")),
    }
}

/// The Content-Type of a panel file, with `charset=utf-8` for text (HTML, CSS, JavaScript, JSON,
/// SVG): every file in `web/` is UTF-8.
fn content_type(path: &str) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let text = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            mime.essence_str(),
            "application/javascript" | "application/json" | "image/svg+xml"
        );
    if text && mime.get_param("charset").is_none() {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.to_string()
    }
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::openapi::json())
}

pub fn swagger() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new("/swagger-ui/{_:.*}")
        .config(utoipa_swagger_ui::Config::from("/api/openapi.json"))
}
