//! A minimal OCPP-J client for load: one socket, one call in flight, small buffers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::sync::Arc;

use tokio::net::TcpSocket;
use tokio_tungstenite::WebSocketStream;

use crate::simulator::tls::SimStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::protocol::frame::Frame;
use crate::simulator::Ocpp;

pub struct Client {
    ws: WebSocketStream<SimStream>,
    next: u64,
    /// The version this charger speaks (offered alone in the handshake).
    pub ocpp: Ocpp,
}

/// Source address for the i-th connection: 127.0.0.2, .3, ... in blocks of 20,000 (one source
/// address has about 28,000 ephemeral ports towards one server port).
pub fn source_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i / 20_000) as u8))
}

impl Client {
    pub async fn connect(port: u16, id: &str, source: IpAddr) -> Result<Client, String> {
        Self::connect_as(port, id, source, None).await
    }

    /// Like [`Client::connect`], with HTTP Basic auth (security profile 1) when a password is given.
    pub async fn connect_as(
        port: u16,
        id: &str,
        source: IpAddr,
        password: Option<&str>,
    ) -> Result<Client, String> {
        Self::connect_with(port, id, source, password, None).await
    }

    /// Like [`Client::connect_as`], over TLS (`wss://localhost`) when a client configuration is given.
    pub async fn connect_with(
        port: u16,
        id: &str,
        source: IpAddr,
        password: Option<&str>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Client, String> {
        Self::open(port, id, source, password, tls, Ocpp::V16).await
    }

    /// Like [`Client::connect`], speaking `ocpp` (over TLS when a client configuration is given).
    pub async fn connect_version(
        port: u16,
        id: &str,
        source: IpAddr,
        tls: Option<Arc<rustls::ClientConfig>>,
        ocpp: Ocpp,
    ) -> Result<Client, String> {
        Self::open(port, id, source, None, tls, ocpp).await
    }

    async fn open(
        port: u16,
        id: &str,
        source: IpAddr,
        password: Option<&str>,
        tls: Option<Arc<rustls::ClientConfig>>,
        ocpp: Ocpp,
    ) -> Result<Client, String> {
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("bind {source}: {e}"))?;
        let stream = socket
            .connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (stream, scheme) = match tls {
            None => (SimStream::Plain(stream), "ws"),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from("localhost")
                    .map_err(|e| e.to_string())?;
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, stream)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                (SimStream::Tls(Box::new(tls)), "wss")
            }
        };
        let mut req = format!("{scheme}://localhost:{port}/ocpp/{id}")
            .into_client_request()
            .map_err(|e| e.to_string())?;
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(match ocpp {
                Ocpp::V16 => "ocpp1.6",
                Ocpp::V201 => "ocpp2.0.1",
            }),
        );
        if let Some(pw) = password {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{pw}"));
            let value =
                HeaderValue::from_str(&format!("Basic {token}")).map_err(|e| e.to_string())?;
            req.headers_mut().insert("Authorization", value);
        }
        let (ws, _) = tokio_tungstenite::client_async_with_config(
            req,
            stream,
            Some(crate::protocol::server::ws_config()),
        )
        .await
        .map_err(|e| format!("handshake: {e}"))?;
        Ok(Client { ws, next: 0, ocpp })
    }

    /// Sends a CALL and waits for its CALLRESULT (answering nothing else meanwhile but a 2.0.1
    /// CostUpdated, whose answer is empty).
    pub async fn call(&mut self, action: &str, payload: Value) -> Result<Value, String> {
        self.exchange(action, payload)
            .await?
            .map_err(|(code, description)| format!("{code}: {description}"))
    }

    /// Sends a CALL and waits for its answer, a CALLERROR included (the server heard it).
    pub async fn call_answered(&mut self, action: &str, payload: Value) -> Result<(), String> {
        self.exchange(action, payload).await.map(|_| ())
    }

    /// A CALL and its answer: the CALLRESULT's payload or the CALLERROR's code and description.
    async fn exchange(
        &mut self,
        action: &str,
        payload: Value,
    ) -> Result<Result<Value, (String, String)>, String> {
        self.next += 1;
        let id = self.next.to_string();
        self.ws
            .send(Message::text(
                Frame::call(id.clone(), action, payload).to_text(),
            ))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => match Frame::parse(t.as_str()) {
                    Ok(Frame::CallResult { id: rid, payload }) if rid == id => {
                        return Ok(Ok(payload));
                    }
                    Ok(Frame::CallError {
                        id: rid,
                        code,
                        description,
                        ..
                    }) if rid == id => return Ok(Err((code, description))),
                    Ok(Frame::Call {
                        id: cid, action, ..
                    }) if self.ocpp == Ocpp::V201 && action == "CostUpdated" => {
                        let answer = Frame::CallResult {
                            id: cid,
                            payload: serde_json::json!({}),
                        };
                        self.ws
                            .send(Message::text(answer.to_text()))
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    _ => continue,
                },
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("closed".into()),
            }
        }
    }

    /// Boot, report connector 1 Available, heartbeat: what a charger does after connecting.
    pub async fn boot(&mut self) -> Result<(), String> {
        if self.ocpp == Ocpp::V201 {
            return self.boot_201().await;
        }
        let boot = self
            .call(
                "BootNotification",
                serde_json::json!({"chargePointVendor": "bench", "chargePointModel": "load"}),
            )
            .await?;
        if boot["status"] != "Accepted" {
            return Err(format!("boot not accepted: {boot}"));
        }
        self.call(
            "StatusNotification",
            serde_json::json!({"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
        )
        .await?;
        self.call("Heartbeat", serde_json::json!({})).await?;
        Ok(())
    }

    /// [`Client::boot`] in OCPP 2.0.1's words: EVSE 1's connector 1 is Available.
    async fn boot_201(&mut self) -> Result<(), String> {
        let boot = self
            .call(
                "BootNotification",
                serde_json::json!({"reason": "PowerUp",
                    "chargingStation": {"model": "load", "vendorName": "bench"}}),
            )
            .await?;
        if boot["status"] != "Accepted" {
            return Err(format!("boot not accepted: {boot}"));
        }
        self.call(
            "StatusNotification",
            serde_json::json!({"timestamp": crate::infra::timestamps::now_timestamp(),
                "connectorStatus": "Available", "evseId": 1, "connectorId": 1}),
        )
        .await?;
        self.call("Heartbeat", serde_json::json!({})).await?;
        Ok(())
    }

    /// Reads (which also answers the server's pings) for `d`; an error when the socket closed.
    pub async fn idle_for(&mut self, d: std::time::Duration) -> Result<(), String> {
        let until = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(until, self.ws.next()).await {
                Err(_) => return Ok(()),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(None) => return Err("closed".into()),
            }
        }
    }

    /// Keeps reading (which also answers the server's pings) until the socket closes.
    pub async fn idle(mut self) {
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}

/// Idle chargers held open by [`connect_all`] until `stop` is sent.
pub struct Held {
    pub connected: usize,
    pub failed: usize,
    /// When the last handshake (successful or not) finished, from the start (s).
    pub phase_s: f64,
    pub first_error: Option<String>,
    pub stop: tokio::sync::watch::Sender<bool>,
}

/// Connects and boots chargers `(i, chargeBoxId, port)` (charger `i` from [`source_ip`]`(i)`),
/// `parallel` handshakes at a time, until `deadline`; each then idles until [`Held::stop`].
pub async fn connect_all(
    chargers: Vec<(usize, String, u16)>,
    parallel: usize,
    deadline: tokio::time::Instant,
    tls: Option<Arc<rustls::ClientConfig>>,
    ocpp: Ocpp,
) -> Held {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let n = chargers.len();
    let slots = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let connected = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let last_done_us = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let t0 = std::time::Instant::now();
    for (k, (i, id, port)) in chargers.into_iter().enumerate() {
        let Ok(Ok(permit)) = tokio::time::timeout_at(deadline, slots.clone().acquire_owned()).await
        else {
            failed.fetch_add(n - k, Ordering::Relaxed);
            break;
        };
        let (connected, failed, last_done_us, first_error, mut stop) = (
            connected.clone(),
            failed.clone(),
            last_done_us.clone(),
            first_error.clone(),
            stop_rx.clone(),
        );
        let tls = tls.clone();
        tokio::spawn(async move {
            let attempt = tokio::time::timeout_at(deadline, async {
                let mut c = Client::connect_version(port, &id, source_ip(i), tls, ocpp).await?;
                c.boot().await?;
                Ok::<_, String>(c)
            })
            .await;
            drop(permit);
            last_done_us.fetch_max(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
            let error = match attempt {
                Ok(Ok(client)) => {
                    connected.fetch_add(1, Ordering::Relaxed);
                    tokio::select! {
                        _ = client.idle() => {}
                        _ = stop.changed() => {}
                    }
                    return;
                }
                Ok(Err(e)) => e,
                Err(_) => "timed out".to_string(),
            };
            failed.fetch_add(1, Ordering::Relaxed);
            first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(error);
        });
    }
    while connected.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < n
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ok = connected.load(Ordering::Relaxed);
    let first_error = first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Held {
        connected: ok,
        failed: n - ok,
        phase_s: std::time::Duration::from_micros(last_done_us.load(Ordering::Relaxed))
            .as_secs_f64(),
        first_error,
        stop,
    }
}
