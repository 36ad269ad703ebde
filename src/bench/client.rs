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

use crate::ocpp::frame::Frame;

pub struct Client {
    ws: WebSocketStream<SimStream>,
    next: u64,
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
            HeaderValue::from_static("ocpp1.6"),
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
            Some(crate::ocpp::server::ws_config()),
        )
        .await
        .map_err(|e| format!("handshake: {e}"))?;
        Ok(Client { ws, next: 0 })
    }

    /// Sends a CALL and waits for its CALLRESULT (answering nothing else meanwhile).
    pub async fn call(&mut self, action: &str, payload: Value) -> Result<Value, String> {
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
                    Ok(Frame::CallResult { id: rid, payload }) if rid == id => return Ok(payload),
                    Ok(Frame::CallError {
                        id: rid,
                        code,
                        description,
                        ..
                    }) if rid == id => return Err(format!("{code}: {description}")),
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

    /// Keeps reading (which also answers the server's pings) until the socket closes.
    pub async fn idle(mut self) {
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}
