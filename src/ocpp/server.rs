//! The OCPP-J WebSocket endpoint: accepts TCP connections, applies the handshake rules (known charger,
//! HTTP Basic auth, `ocpp1.6` subprotocol), then hands the socket to a connection task.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use diesel::prelude::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::connection::{self, ChargerCtx};
use super::registry::ChargerHandle;
use crate::chargers::Verified;
use crate::db::now;
use crate::db::schema::chargers;
use crate::events::{self, Subject};
use crate::state::State;

pub const SUBPROTOCOL: &str = "ocpp1.6";

/// Small buffers: a charger sends small frames, and one node holds tens of thousands of sockets.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(2048)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

pub async fn serve(listener: TcpListener, state: State) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(handle_socket(stream, state.clone()));
            }
            Err(e) => {
                log::warn!("OCPP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

struct RequestHead {
    path: String,
    authorization: Option<String>,
}

/// Reads the HTTP upgrade request without consuming it, so the decision (404/401) can use the
/// database asynchronously before tungstenite performs the handshake.
async fn peek_head(stream: &TcpStream) -> Option<RequestHead> {
    let mut buf = vec![0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..n]) {
            Ok(httparse::Status::Complete(_)) => {
                let authorization = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("authorization"))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .map(str::to_string);
                return Some(RequestHead {
                    path: req.path?.to_string(),
                    authorization,
                });
            }
            Ok(httparse::Status::Partial) if n < buf.len() => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            _ => return None,
        }
    }
}

/// `/ocpp/{id}` or `/{id}`, percent-decoded.
pub fn charge_box_id(path: &str) -> Option<String> {
    let path = path.split('?').next()?;
    let raw = path
        .strip_prefix("/ocpp/")
        .or_else(|| path.strip_prefix('/'))?;
    let id = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?
        .into_owned();
    (!id.is_empty() && id.len() <= 64 && !id.contains('/')).then_some(id)
}

enum Verdict {
    /// The charger's id, and whether it is accepted (not pending or rejected).
    Accept(i64, bool),
    Refuse(StatusCode),
}

/// Who may connect (see `chargers` for the security profiles): an unknown chargeBoxId gets 404; a
/// charger of profile 0 connects without credentials; profile 1 needs HTTP Basic auth with user =
/// chargeBoxId and its password (a fast salted hash, so a reconnect storm costs no bcrypt runs).
async fn decide(state: &State, head: &RequestHead) -> Verdict {
    let Some(device_id) = charge_box_id(&head.path) else {
        return Verdict::Refuse(StatusCode::NOT_FOUND);
    };
    let credentials = head.authorization.as_deref().and_then(basic_credentials);
    let admit = state.settings.admit_unknown_chargers;
    let verdict = state
        .db
        .run(move |c| {
            let Some(access) = crate::chargers::access(c, &device_id)? else {
                if admit {
                    // An unknown charger, admitted to wait for an operator's approval.
                    return Ok(match crate::chargers::admit_unknown(c, &device_id)? {
                        Some(id) => Verdict::Accept(id, false),
                        None => Verdict::Refuse(StatusCode::NOT_FOUND),
                    });
                }
                return Ok(Verdict::Refuse(StatusCode::NOT_FOUND));
            };
            let ok = access.accepted;
            if access.security_profile == 0 {
                return Ok(Verdict::Accept(access.charger_id, ok));
            }
            let Some(hash) = access.password_hash else {
                log::warn!(
                    "{device_id}: security profile {} but no password set: refused",
                    access.security_profile
                );
                return Ok(Verdict::Refuse(StatusCode::UNAUTHORIZED));
            };
            let Some((user, password)) = credentials else {
                return Ok(Verdict::Refuse(StatusCode::UNAUTHORIZED));
            };
            if user != device_id {
                log::warn!("{device_id}: Basic auth user {user:?} is not the chargeBoxId: refused");
                return Ok(Verdict::Refuse(StatusCode::UNAUTHORIZED));
            }
            Ok(match crate::chargers::verify_secret(&password, &hash) {
                Verified::Yes => Verdict::Accept(access.charger_id, ok),
                Verified::YesRehash => {
                    crate::chargers::rehash(c, access.charger_id, &password)?;
                    Verdict::Accept(access.charger_id, ok)
                }
                Verified::No => {
                    log::warn!("{device_id}: wrong OCPP password: refused");
                    Verdict::Refuse(StatusCode::UNAUTHORIZED)
                }
            })
        })
        .await;
    verdict.unwrap_or_else(|e| {
        log::error!("OCPP handshake lookup failed: {e}");
        Verdict::Refuse(StatusCode::SERVICE_UNAVAILABLE)
    })
}

fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    // OCPP allows any bytes in the password; compare the UTF-8 text form.
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[allow(clippy::result_large_err)] // the type is tungstenite's
fn refuse(status: StatusCode) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(
        status.canonical_reason().unwrap_or("refused").to_string(),
    ));
    *resp.status_mut() = status;
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            "WWW-Authenticate",
            HeaderValue::from_static("Basic realm=\"OCPP\""),
        );
    }
    resp
}

async fn handle_socket(stream: TcpStream, state: State) {
    // Taken before anything can await: the order of acceptance decides which connection of a
    // charger is the newest.
    let conn_id = state.registry.next_conn_id();
    let Some(head) = peek_head(&stream).await else {
        return;
    };
    let verdict = decide(&state, &head).await;
    #[allow(clippy::result_large_err)] // the callback's type is tungstenite's
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if let Verdict::Refuse(status) = verdict {
            return Err(refuse(status));
        }
        let offered: Vec<String> = req
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
            .collect();
        if offered.iter().any(|p| p == SUBPROTOCOL) {
            resp.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static(SUBPROTOCOL),
            );
        } else if !offered.is_empty() {
            return Err(refuse(StatusCode::BAD_REQUEST));
        }
        Ok(resp)
    };
    let ws =
        match tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config()))
            .await
        {
            Ok(ws) => ws,
            Err(e) => {
                log::info!("OCPP handshake refused for {}: {e}", head.path);
                return;
            }
        };
    let Verdict::Accept(charger_id, accepted) = verdict else {
        return;
    };
    let Some(device_id) = charge_box_id(&head.path) else {
        return;
    };
    let accepted = Arc::new(std::sync::atomic::AtomicBool::new(accepted));
    let ctx = ChargerCtx {
        charger_id,
        device_id: Arc::from(device_id.as_str()),
        accepted: accepted.clone(),
    };

    let (tx, commands) = mpsc::channel(64);
    let close = Arc::new(Notify::new());
    let handle = ChargerHandle {
        conn_id,
        charger_id,
        connected_at: now(),
        accepted,
        tx,
        close: close.clone(),
    };
    if !state.registry.register(&device_id, handle) {
        let mut ws = ws;
        let _ = ws.close(None).await;
        return;
    }
    log::info!("{device_id}: connected");
    presence(&state, charger_id, &device_id, "charger.connected").await;
    // Transactions it was asked to stop while it was away are asked again now.
    match state
        .db
        .run(move |c| crate::charging::stops::charger_back(c, charger_id))
        .await
    {
        Ok(n) if n > 0 => state.stops.wake(),
        Ok(_) => {}
        Err(e) => log::warn!("{device_id}: {e}"),
    }

    let reason = connection::run(ws, state.clone(), ctx, commands, close).await;

    if state.registry.unregister(&device_id, conn_id) {
        log::info!("{device_id}: disconnected ({reason})");
        presence(&state, charger_id, &device_id, "charger.disconnected").await;
    } else {
        log::info!("{device_id}: old connection closed ({reason})");
    }
}

async fn presence(state: &State, charger_id: i64, device_id: &str, event: &'static str) {
    let payload = serde_json::json!({"deviceId": device_id});
    let result = state
        .db
        .run(move |c| {
            // Presence is telemetry: committed without waiting for the disk.
            crate::db::relaxed_tx(c, |c| {
                diesel::update(chargers::table.find(charger_id))
                    .set(chargers::last_seen_at.eq(now()))
                    .execute(c)?;
                events::record(
                    c,
                    event,
                    Subject {
                        charger_id: Some(charger_id),
                        ..Default::default()
                    },
                    payload,
                )?;
                Ok::<_, crate::error::AppError>(())
            })
        })
        .await;
    match result {
        Ok(()) => state.events.wake(),
        Err(e) => log::warn!("{device_id}: could not record {event}: {e}"),
    }
}
