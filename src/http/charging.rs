//! The customer's charging endpoints, including the live event stream (SSE).

use std::time::Duration;

use actix_web::http::header::AUTHORIZATION;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::identity::CustomerId;
use super::input::{Amount, Field};
use crate::domain::charging::{self, ListFilter, SessionView, start::StartRequest};
use crate::error::AppError;
use crate::state::AppState;

super::answers! {
    /// The answer of start and stop.
    pub struct ChargingAnswer {
        message: String,
        session: SessionView,
    }
    pub struct OwnSessions { sessions: Vec<SessionView> }
    pub struct OwnSession { session: SessionView }
}

// `POST /api/user/charging/start`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartBody {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = r"\S")]
    device_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = i32, required = true, minimum = 1, maximum = 2147483647)]
    connector_id: Field<i64>,
    /// Prepaid amount in major units (e.g. 50 or 50.25): positive, at most 2 decimals, at most
    /// CSMS_MAX_AMOUNT (default 10000)
    #[serde(default)]
    #[schema(value_type = f64, required = true, exclusive_minimum = 0, maximum = 10000, multiple_of = 0.01)]
    amount: Field<Amount>,
    /// Optional; must match the charger when given
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    charging_point_id: Field<String>,
}

impl StartBody {
    /// The start request (without an idempotency key: that is a header). The amount's range
    /// (positive, at most CSMS_MAX_AMOUNT) is the domain's to check.
    pub fn validate(self) -> Result<StartRequest, AppError> {
        let device_id = self.device_id.required("deviceId")?;
        let connector_id = self
            .connector_id
            .given()
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| AppError::bad_request("connectorId must be a positive integer"))?;
        let amount = self.amount.minor().ok_or(AppError::InvalidAmount)?;
        let charging_point_id = self
            .charging_point_id
            .optional("chargingPointId")?
            .map(|s| s.trim().to_string());
        Ok(StartRequest {
            device_id,
            connector_id,
            amount,
            charging_point_id,
            idempotency_key: None,
        })
    }
}

// `POST /api/user/charging/stop`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StopBody {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = r"\S")]
    session_id: Field<String>,
}

/// `Idempotency-Key`: 1 to 128 visible characters (trimmed), when given.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(v) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .map(|k| Some(k.to_string()))
        .ok_or_else(|| AppError::bad_request("Idempotency-Key must be 1 to 128 visible characters"))
}

super::operation! {
    post "/api/user/charging/start", "charging", "bearer" (
        request_body = StartBody,
        params(("Idempotency-Key" = Option<String>, Header, description = "1 to 128 visible characters; retries with the same key return the first answer", pattern = r"^[!-~]([ -~]{0,126}[!-~])?$")),
        responses((status = 200, description = "Charging started successfully", body = ChargingAnswer), (status = 400, description = "In use / Insufficient wallet balance / Charger is offline / Connector is not available / Invalid amount / Charger rejected the start request"), (status = 404, description = "Charger not found / Connector not found"), (status = 504, description = "Charger did not respond")),
    )
    pub async fn start(state, who: CustomerId, req: HttpRequest, body: super::Body<StartBody>) {
        let mut request = body.0.validate()?;
        request.idempotency_key = idempotency_key(&req)?;
        let session = charging::start::start(&state.charging, who.0, request).await?;
        let message = "Charging started successfully".into();
        super::ok(ChargingAnswer::new(message, session))
    }

    post "/api/user/charging/stop", "charging", "bearer" (
        request_body = StopBody,
        responses((status = 200, description = "Stopped, or stop requested (message says which)", body = ChargingAnswer), (status = 400, description = "Session cannot be stopped now / Charger rejected the stop request"), (status = 404, description = "Session not found (or not yours)")),
    )
    pub async fn stop(state, who: CustomerId, body: super::Body<StopBody>) {
        let session_id = body.0.session_id.required("sessionId")?;
        let (message, session) = charging::stop::stop(&state.charging, who.0, session_id).await?;
        super::ok(ChargingAnswer::new(message, session))
    }

    get "/api/user/charging/sessions", "charging", "bearer" (
        responses((status = 200, description = "Own sessions, newest first", body = OwnSessions)),
    )
    pub async fn sessions(state, who: CustomerId) {
        let filter = ListFilter {
            customer_id: Some(who.0),
            limit: 200,
            ..Default::default()
        };
        let sessions = state.db.run(move |c| charging::list(c, filter)).await?;
        super::ok(OwnSessions::new(sessions))
    }

    get "/api/user/charging/sessions/{session_id}", "charging", "bearer" (
        params(("session_id" = String, Path, description = "SESS_...")),
        responses((status = 200, description = "The session", body = OwnSession), (status = 404, description = "Session not found")),
    )
    pub async fn session(state, who: CustomerId, path: web::Path<String>) {
        let uid = path.into_inner();
        let customer = who.0;
        let session = state
            .db
            .run(move |c| charging::own(c, customer, &uid))
            .await?;
        super::ok(OwnSession::new(session))
    }
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

super::operation! {
    /// `GET /api/user/events`: the customer's session and wallet events as Server-Sent Events, opened
    /// with the Authorization header or (browsers) with `?ticket=` from `POST /api/user/events/ticket`.
    get "/api/user/events", "charging", "bearer" (
        params(("ticket" = Option<String>, Query, description = "Ticket from POST /api/user/events/ticket (for EventSource, which cannot send headers); API tokens are not accepted here")),
        responses((status = 200, description = "Own session and wallet events (Server-Sent Events)", body = String, content_type = "text/event-stream"), (status = 401, description = "Missing, bad or expired token or ticket")),
    )
    pub async fn events(state, req: HttpRequest, query: web::Query<EventsQuery>) {
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
}
