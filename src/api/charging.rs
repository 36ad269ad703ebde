//! The customer's charging endpoints, including the live event stream (SSE).

use std::time::Duration;

use actix_web::http::header::AUTHORIZATION;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::auth::CustomerId;
use crate::charging::{self, ListFilter, SessionView, start::StartRequest};
use crate::error::AppError;
use crate::money;
use crate::state::AppState;

/// The answer of start and stop.
#[derive(Serialize, ToSchema)]
pub struct ChargingAnswer {
    success: bool,
    message: String,
    #[schema(value_type = SessionView)]
    session: Value,
}

#[derive(Serialize, ToSchema)]
pub struct OwnSessions {
    success: bool,
    sessions: Vec<SessionView>,
}

#[derive(Serialize, ToSchema)]
pub struct OwnSession {
    success: bool,
    session: SessionView,
}

#[utoipa::path(post, path = "/api/user/charging/start", tag = "charging",
    request_body = crate::api::openapi::StartBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 128 visible characters; retries with the same key return the first answer", pattern = r"^[!-~]([ -~]{0,126}[!-~])?$")),
    responses((status = 200, description = "Charging started successfully", body = ChargingAnswer), (status = 400, description = "In use / Insufficient wallet balance / Charger is offline / Connector is not available / Invalid amount / Charger rejected the start request"), (status = 404, description = "Charger not found / Connector not found"), (status = 504, description = "Charger did not respond")),
    security(("bearer" = [])),
)]
pub async fn start(
    state: web::Data<AppState>,
    who: CustomerId,
    req: HttpRequest,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let device_id = super::str_field(&body, "deviceId")?.to_string();
    let connector_id = body
        .get("connectorId")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
        .filter(|n| *n > 0 && *n <= i64::from(i32::MAX))
        .ok_or_else(|| AppError::bad_request("connectorId must be a positive integer"))?
        as i32;
    let amount = body
        .get("amount")
        .and_then(money::parse_json)
        .ok_or(AppError::InvalidAmount)?;
    let charging_point_id = body
        .get("chargingPointId")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_string());
    let idempotency_key = match req.headers().get("Idempotency-Key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .map(str::trim)
                .filter(|k| !k.is_empty() && k.len() <= 128)
                .ok_or_else(|| {
                    AppError::bad_request("Idempotency-Key must be 1 to 128 visible characters")
                })?
                .to_string(),
        ),
    };
    let request = StartRequest {
        device_id,
        connector_id,
        amount,
        charging_point_id,
        idempotency_key,
    };
    let session = charging::start::start(&state.into_inner(), who.0, request).await?;
    Ok(HttpResponse::Ok().json(ChargingAnswer {
        success: true,
        message: "Charging started successfully".into(),
        session,
    }))
}

#[utoipa::path(post, path = "/api/user/charging/stop", tag = "charging",
    request_body = crate::api::openapi::StopBody,
    responses((status = 200, description = "Stopped, or stop requested (message says which)", body = ChargingAnswer), (status = 400, description = "Session cannot be stopped now / Charger rejected the stop request"), (status = 404, description = "Session not found (or not yours)")),
    security(("bearer" = [])),
)]
pub async fn stop(
    state: web::Data<AppState>,
    who: CustomerId,
    body: super::Body<Value>,
) -> Result<HttpResponse, AppError> {
    let session_id = super::str_field(&body, "sessionId")?.to_string();
    let (message, session) = charging::stop::stop(&state.into_inner(), who.0, session_id).await?;
    Ok(HttpResponse::Ok().json(ChargingAnswer {
        success: true,
        message,
        session,
    }))
}

#[utoipa::path(get, path = "/api/user/charging/sessions", tag = "charging",
    responses((status = 200, description = "Own sessions, newest first", body = OwnSessions)),
    security(("bearer" = [])),
)]
pub async fn sessions(
    state: web::Data<AppState>,
    who: CustomerId,
) -> Result<HttpResponse, AppError> {
    let filter = ListFilter {
        customer_id: Some(who.0),
        limit: 200,
        ..Default::default()
    };
    let sessions = state.db.run(move |c| charging::list(c, filter)).await?;
    Ok(HttpResponse::Ok().json(OwnSessions {
        success: true,
        sessions,
    }))
}

#[utoipa::path(get, path = "/api/user/charging/sessions/{session_id}", tag = "charging",
    params(("session_id" = String, Path, description = "SESS_...")),
    responses((status = 200, description = "The session", body = OwnSession), (status = 404, description = "Session not found")),
    security(("bearer" = [])),
)]
pub async fn session(
    state: web::Data<AppState>,
    who: CustomerId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let uid = path.into_inner();
    let customer = who.0;
    let session = state
        .db
        .run(move |c| charging::own(c, customer, &uid))
        .await?;
    Ok(HttpResponse::Ok().json(OwnSession {
        success: true,
        session,
    }))
}

/// `POST /api/user/events/ticket`: what `GET /api/user/events?ticket=` needs.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsTicketResponse {
    pub success: bool,
    /// Opens this customer's event stream once or many times until it expires; useless as an API token
    pub ticket: String,
    /// Seconds until the ticket expires
    pub expires_in: u64,
}

/// A short-lived ticket for the event stream: browsers' EventSource cannot send an Authorization
/// header, and a 24-hour token in a URL would end up in logs and history.
#[utoipa::path(post, path = "/api/user/events/ticket", tag = "charging",
    responses((status = 200, description = "A ticket for GET /api/user/events?ticket=", body = EventsTicketResponse), (status = 401, description = "Missing or bad token")),
    security(("bearer" = [])),
)]
pub async fn events_ticket(
    state: web::Data<AppState>,
    who: CustomerId,
) -> Result<web::Json<EventsTicketResponse>, AppError> {
    let t = state.jwt.issue_events_ticket(who.0)?;
    Ok(web::Json(EventsTicketResponse {
        success: true,
        ticket: t.ticket,
        expires_in: t.expires_in_secs,
    }))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    ticket: Option<String>,
}

/// `GET /api/user/events`: the customer's session and wallet events as Server-Sent Events, opened
/// with the Authorization header or (browsers) with `?ticket=` from `POST /api/user/events/ticket`.
#[utoipa::path(get, path = "/api/user/events", tag = "charging",
    params(("ticket" = Option<String>, Query, description = "Ticket from POST /api/user/events/ticket (for EventSource, which cannot send headers); API tokens are not accepted here")),
    responses((status = 200, description = "Own session and wallet events (Server-Sent Events)", body = String, content_type = "text/event-stream"), (status = 401, description = "Missing, bad or expired token or ticket")),
    security(("bearer" = [])),
)]
pub async fn events(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, AppError> {
    let customer = match (&query.ticket, req.headers().contains_key(AUTHORIZATION)) {
        (Some(ticket), false) => state.jwt.verify_events_ticket(ticket)?,
        _ => CustomerId::extract(&req).await?.0,
    };
    let live = tokio_stream::wrappers::BroadcastStream::new(state.events.subscribe()).filter_map(
        move |ev| {
            let out = match ev {
                Ok(ev) if ev.customer_id == Some(customer) => {
                    let data = json!({"id": ev.id, "name": ev.name, "payload": ev.payload});
                    Some(Ok::<_, actix_web::Error>(Bytes::from(format!(
                        "event: {}\ndata: {data}\n\n",
                        ev.name
                    ))))
                }
                _ => None,
            };
            std::future::ready(out)
        },
    );
    let keepalive =
        tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(Duration::from_secs(15)))
            .map(|_| Ok::<_, actix_web::Error>(Bytes::from_static(b": keepalive\n\n")));
    let stream = futures_util::stream::select(live, keepalive);
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/event-stream"))
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
