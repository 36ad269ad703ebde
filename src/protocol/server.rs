//! The OCPP-J WebSocket endpoint: accepts TCP connections, applies the handshake rules (known charger,
//! HTTP Basic auth, the OCPP subprotocol (`ocpp2.0.1` or `ocpp1.6`, as served)), then hands the socket to a connection task.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::domain::chargers::Verified;
use crate::domain::presence::{self, Presence};
use crate::infra::db::now;
use crate::protocol::connection;
use crate::protocol::registry::{ChargerCtx, ChargerHandle, LastFrame};
use crate::protocol::stream::{Link, OcppStream, RequestHead, Transport};
use crate::protocol::tls::Tls;
use crate::protocol::version::Version;
use crate::state::State;

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
                // Taken before anything can await: the order of acceptance decides which
                // connection of a charger is the newest.
                let conn_id = state.registry.next_conn_id();
                let stream = OcppStream::new(Transport::Plain(stream));
                tokio::spawn(handle_socket(
                    conn_id,
                    stream,
                    Link::default(),
                    state.clone(),
                ));
            }
            Err(e) => {
                log::warn!("OCPP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The `wss://` listener (security profiles 2 and 3): the TLS handshake, then the same rules.
pub async fn serve_tls(listener: TcpListener, state: State, tls: Arc<Tls>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let conn_id = state.registry.next_conn_id();
                let acceptor = tls.acceptor();
                let (state, tls) = (state.clone(), tls.clone());
                tokio::spawn(async move {
                    let accepted =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                            .await;
                    let stream = match accepted {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            metrics::counter!("csms_ocpp_tls_handshake_failures_total")
                                .increment(1);
                            log::warn!("OCPP TLS handshake with {peer} failed: {e}");
                            return;
                        }
                        Err(_) => {
                            metrics::counter!("csms_ocpp_tls_handshake_failures_total")
                                .increment(1);
                            log::info!("OCPP TLS handshake with {peer} timed out");
                            return;
                        }
                    };
                    let client = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|certs| certs.first())
                        .map(|cert| tls.client_cert(cert));
                    let link = Link { tls: true, client };
                    let stream = OcppStream::new(Transport::Tls(Box::new(stream)));
                    handle_socket(conn_id, stream, link, state).await;
                });
            }
            Err(e) => {
                log::warn!("OCPP TLS accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
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
/// chargeBoxId and its password (a fast salted hash, so a reconnect storm costs no bcrypt runs);
/// profile 2 the same over TLS; profile 3 a TLS client certificate, chained to the configured CA,
/// whose subject has exactly one common name, the chargeBoxId, and which, when csms's own charger
/// CA issued it, csms recorded issuing to this charger (one read by its serial, unique). A charger
/// arriving below its profile gets 403, and the refusal is a security event of that charger.
/// Also returns the one OCPP version the charger is pinned to, if an operator pinned it.
async fn decide(state: &State, head: &RequestHead, link: &Link) -> (Verdict, Option<String>) {
    let Some(device_id) = charge_box_id(&head.path) else {
        return (Verdict::Refuse(StatusCode::NOT_FOUND), None);
    };
    let credentials = head.authorization.as_deref().and_then(basic_credentials);
    let admit = state.settings.admit_unknown_chargers;
    let link = link.clone();
    let verdict = state
        .db
        .run(move |c| {
            let access = crate::domain::chargers::access(c, &device_id)?;
            let pin = access.as_ref().and_then(|a| a.version_pin.clone());
            let judge = || -> Result<Verdict, crate::error::AppError> {
                let Some(access) = access else {
                    if admit {
                        // An unknown charger, admitted to wait for an operator's approval.
                        return Ok(
                            match crate::domain::chargers::admit_unknown(c, &device_id)? {
                                Some(id) => Verdict::Accept(id, false),
                                None => Verdict::Refuse(StatusCode::NOT_FOUND),
                            },
                        );
                    }
                    return Ok(Verdict::Refuse(StatusCode::NOT_FOUND));
                };
                let ok = access.accepted;
                let profile = access.security_profile;
                if profile == 0 {
                    return Ok(Verdict::Accept(access.charger_id, ok));
                }
                if profile >= 2 && !link.tls {
                    below_profile(
                        c,
                        access.charger_id,
                        &device_id,
                        format!("security profile {profile} charger connected without TLS"),
                    )?;
                    return Ok(Verdict::Refuse(StatusCode::FORBIDDEN));
                }
                if profile == 3 {
                    let refusal = match &link.client {
                        Some(cert) => match &cert.cn {
                            // csms's own CA: only a certificate csms recorded issuing to this charger.
                            Ok(cn) if *cn == device_id => match &cert.from_csms {
                                None => None,
                                Some(issued) => crate::domain::certificates::not_issued_to(
                                    c,
                                    access.charger_id,
                                    issued,
                                )?,
                            },
                            Ok(cn) => Some(format!(
                                "client certificate common name {cn:?} is not the chargeBoxId"
                            )),
                            Err(why) => Some(format!("client certificate refused: {why}")),
                        },
                        None => {
                            Some("security profile 3 charger sent no client certificate".into())
                        }
                    };
                    return Ok(match refusal {
                        None => Verdict::Accept(access.charger_id, ok),
                        Some(reason) => {
                            below_profile(c, access.charger_id, &device_id, reason)?;
                            Verdict::Refuse(StatusCode::FORBIDDEN)
                        }
                    });
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
                    log::warn!(
                        "{device_id}: Basic auth user {user:?} is not the chargeBoxId: refused"
                    );
                    return Ok(Verdict::Refuse(StatusCode::UNAUTHORIZED));
                }
                Ok(
                    match crate::domain::chargers::verify_secret(&password, &hash) {
                        Verified::Yes => Verdict::Accept(access.charger_id, ok),
                        Verified::YesRehash => {
                            crate::domain::chargers::rehash(c, access.charger_id, &password)?;
                            Verdict::Accept(access.charger_id, ok)
                        }
                        Verified::No
                            if access.pending_password_hash.as_deref().is_some_and(|p| {
                                crate::domain::chargers::verify_secret(&password, p) != Verified::No
                            }) =>
                        {
                            // The new AuthorizationKey, before its answer was processed: the charger took it.
                            log::info!(
                                "{device_id}: connected with its new AuthorizationKey: stored"
                            );
                            crate::domain::chargers::authorization_key_accepted(
                                c, &device_id, &password,
                            )?;
                            Verdict::Accept(access.charger_id, ok)
                        }
                        Verified::No => {
                            log::warn!("{device_id}: wrong OCPP password: refused");
                            Verdict::Refuse(StatusCode::UNAUTHORIZED)
                        }
                    },
                )
            };
            Ok((judge()?, pin))
        })
        .await;
    verdict.unwrap_or_else(|e| {
        log::error!("OCPP handshake lookup failed: {e}");
        (Verdict::Refuse(StatusCode::SERVICE_UNAVAILABLE), None)
    })
}

/// A charger that connected below its security profile: refused, logged, and recorded as a
/// security event of the charger.
fn below_profile(
    c: &mut crate::infra::db::DbConnection,
    charger_id: i64,
    device_id: &str,
    reason: String,
) -> Result<(), crate::error::AppError> {
    log::warn!("{device_id}: {reason}: refused");
    metrics::counter!("csms_ocpp_security_refusals_total").increment(1);
    crate::domain::security_events::record_throttled(
        c,
        charger_id,
        crate::domain::security_events::REFUSED_CONNECTION,
        &reason,
    )?;
    Ok(())
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

async fn handle_socket(conn_id: u64, mut stream: OcppStream, link: Link, state: State) {
    let Some(head) = stream.read_head().await else {
        return;
    };
    let (verdict, pin) = decide(&state, &head, &link).await;
    // The versions csms serves; a charger pinned to one gets only that one.
    let served: Vec<Version> = state
        .settings
        .ocpp_versions
        .iter()
        .filter_map(|v| Version::of_subprotocol(v.trim()))
        .filter(|v| pin.as_deref().is_none_or(|p| p == v.subprotocol()))
        .collect();
    let chosen = std::sync::OnceLock::new();
    // The connection's handle is registered before the handshake's answer leaves: a command sent
    // the moment the charger sees its (re)connection open reaches this connection, not the old
    // one (it waits in the channel until the connection runs).
    let device_id = charge_box_id(&head.path);
    let accepted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let last_frame = Arc::new(LastFrame::new(now()));
    let (tx, commands) = mpsc::channel(64);
    let close = Arc::new(Notify::new());
    let registered = std::sync::OnceLock::new();
    #[allow(clippy::result_large_err)] // the callback's type is tungstenite's
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let (charger_id, is_accepted) = match verdict {
            Verdict::Refuse(status) => return Err(refuse(status)),
            Verdict::Accept(charger_id, is_accepted) => (charger_id, is_accepted),
        };
        let offered: Vec<String> = req
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
            .collect();
        let Some(version) = Version::negotiate(&offered, &served) else {
            return Err(refuse(StatusCode::BAD_REQUEST));
        };
        if !offered.is_empty() {
            resp.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static(version.subprotocol()),
            );
        }
        let _ = chosen.set(version);
        if let Some(device_id) = &device_id {
            accepted.store(is_accepted, std::sync::atomic::Ordering::SeqCst);
            let handle = ChargerHandle {
                conn_id,
                charger_id,
                version,
                connected_at: now(),
                accepted: accepted.clone(),
                last_frame: last_frame.clone(),
                tx: tx.clone(),
                close: close.clone(),
            };
            let _ = registered.set(state.registry.register(device_id, handle));
        }
        Ok(resp)
    };
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config())).await;
    let registered = registered.get().copied().unwrap_or(false);
    let ws = match handshake {
        Ok(ws) => ws,
        Err(e) => {
            log::info!("OCPP handshake refused for {}: {e}", head.path);
            if let (true, Some(device_id)) = (registered, &device_id) {
                state.registry.unregister(device_id, conn_id);
            }
            return;
        }
    };
    let Verdict::Accept(charger_id, _) = verdict else {
        return;
    };
    let Some(device_id) = device_id else {
        return;
    };
    let version = chosen.get().copied().unwrap_or(Version::V16);
    let ctx = ChargerCtx {
        charger_id,
        device_id: Arc::from(device_id.as_str()),
        version,
        accepted,
        last_frame,
        cost_shown: Arc::default(),
        ev_schedules: Arc::default(),
    };
    drop(tx);
    if !registered {
        let mut ws = ws;
        let _ = ws.close(None).await;
        return;
    }
    // Cluster mode: this node takes the charger (a newer epoch closes an older connection on
    // another node).
    let epoch = match &state.cluster {
        None => None,
        Some(cluster) => match cluster.claim(&state.db, &device_id).await {
            Ok(epoch) => Some(epoch),
            Err(e) => {
                log::warn!("{device_id}: could not take ownership: {e}");
                state.registry.unregister(&device_id, conn_id);
                let mut ws = ws;
                let _ = ws.close(None).await;
                return;
            }
        },
    };
    log::info!("{device_id}: connected ({version})");
    presence(
        &state,
        charger_id,
        &device_id,
        Presence::Connected(version.subprotocol()),
    )
    .await;
    // Transactions it was asked to stop while it was away are asked again now.
    match state
        .db
        .run(move |c| crate::domain::charging::stops::charger_back(c, charger_id))
        .await
    {
        Ok(n) if n > 0 => state.stops.wake(),
        Ok(_) => {}
        Err(e) => log::warn!("{device_id}: {e}"),
    }

    let reason = connection::run(ws, state.clone(), ctx, commands, close, epoch).await;

    if state.registry.unregister(&device_id, conn_id) {
        log::info!("{device_id}: disconnected ({reason})");
        if let (Some(cluster), Some(epoch)) = (&state.cluster, epoch) {
            cluster.release(&state.db, &device_id, epoch).await;
        }
        presence(&state, charger_id, &device_id, Presence::Disconnected).await;
    } else {
        log::info!("{device_id}: old connection closed ({reason})");
    }
}

async fn presence(state: &State, charger_id: i64, device_id: &str, presence: Presence) {
    let device = device_id.to_string();
    let result = state
        .db
        .run(move |c| presence::linked(c, charger_id, &device, presence))
        .await;
    match result {
        Ok(()) => state.events.wake(),
        Err(e) => log::warn!("{device_id}: could not record {presence:?}: {e}"),
    }
}
