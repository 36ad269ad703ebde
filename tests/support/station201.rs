//! An OCPP 2.0.1 charging station speaking raw OCPP-J over a real WebSocket (the simulator speaks
//! 1.6): CALLs, their answers, and the CALLs csms sends it; over `ws://`, or `wss://` with the
//! TLS client configuration given (security profiles 2 and 3).

use std::sync::Arc;

use csms::simulator::tls::SimStream;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

pub struct Station {
    pub ws: WebSocketStream<SimStream>,
    next: u64,
}

/// Why a `wss://` connection did not open.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The WebSocket upgrade was answered with this HTTP status.
    Status(u16),
    /// The TLS handshake (or the connection under it) failed.
    Tls(String),
}

impl Station {
    /// Connects to `{base}/{device}` offering `protocols`, with Basic auth when `password` is
    /// given; the subprotocol the server chose, or the HTTP status that refused the handshake.
    pub async fn connect(
        base: &str,
        device: &str,
        protocols: &str,
        auth: Option<(&str, &str)>,
    ) -> Result<(Station, String), u16> {
        match Station::open(base, device, protocols, auth, None).await {
            Ok(done) => Ok(done),
            Err(Refused::Status(s)) => Err(s),
            Err(Refused::Tls(e)) => panic!("unexpected handshake error {e}"),
        }
    }

    /// Connected over 2.0.1 to `{base}/{device}` with its password and booted (Accepted).
    pub async fn booted(base: &str, device: &str, password: &str) -> Station {
        let (mut st, _) = Station::connect(base, device, "ocpp2.0.1", Some((device, password)))
            .await
            .expect("connected");
        let boot = st.call("BootNotification", boot_payload("PowerUp")).await;
        assert_eq!(boot.unwrap()["status"], "Accepted");
        st
    }

    /// [`Station::connect`] over `wss://` with `tls` (the CA it trusts, its client certificate
    /// if any): the subprotocol, or why it was refused (an HTTP status, or at the TLS level).
    pub async fn connect_tls(
        base: &str,
        device: &str,
        protocols: &str,
        auth: Option<(&str, &str)>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<(Station, String), Refused> {
        Station::open(base, device, protocols, auth, Some(tls)).await
    }

    async fn open(
        base: &str,
        device: &str,
        protocols: &str,
        auth: Option<(&str, &str)>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<(Station, String), Refused> {
        let mut req = format!("{base}/{device}").into_client_request().unwrap();
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(protocols).unwrap(),
        );
        if let Some((user, password)) = auth {
            use base64::Engine;
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            req.headers_mut().insert(
                "Authorization",
                HeaderValue::from_str(&format!("Basic {b}")).unwrap(),
            );
        }
        let stream = csms::simulator::tls::connect(req.uri(), tls)
            .await
            .map_err(Refused::Tls)?;
        match tokio_tungstenite::client_async(req, stream).await {
            Ok((ws, resp)) => {
                let chosen = resp
                    .headers()
                    .get("Sec-WebSocket-Protocol")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                Ok((Station { ws, next: 0 }, chosen))
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                Err(Refused::Status(resp.status().as_u16()))
            }
            Err(e) => Err(Refused::Tls(e.to_string())),
        }
    }

    /// The next text frame, as JSON (10 s at most).
    pub async fn frame(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(10), self.ws.next())
                .await
                .expect("a frame within 10 s")
                .expect("the connection is open")
                .expect("a readable frame");
            if let Message::Text(t) = msg {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    /// Sends a CALL; its CALLRESULT payload, or the CALLERROR's (code, description).
    pub async fn call(&mut self, action: &str, payload: Value) -> Result<Value, (String, String)> {
        self.next += 1;
        let id = format!("m{}", self.next);
        self.send(json!([2, id, action, payload])).await;
        let f = self.frame().await;
        assert_eq!(f[1], json!(id), "the answer to {action}: {f}");
        match f[0].as_i64() {
            Some(3) => Ok(f[2].clone()),
            Some(4) => Err((
                f[2].as_str().unwrap().to_string(),
                f[3].as_str().unwrap_or_default().to_string(),
            )),
            _ => panic!("not an answer: {f}"),
        }
    }

    /// Waits for a CALL from csms and answers it with `answer`; returns its action and payload.
    pub async fn answer_next_call(&mut self, answer: Value) -> (String, Value) {
        let f = self.frame().await;
        assert_eq!(f[0], 2, "a CALL: {f}");
        self.send(json!([3, f[1], answer])).await;
        (f[2].as_str().unwrap().to_string(), f[3].clone())
    }
}

/// A BootNotification payload with `reason`.
pub fn boot_payload(reason: &str) -> Value {
    json!({
        "reason": reason,
        "chargingStation": {
            "vendorName": "Acme", "model": "Two", "serialNumber": "SN-201",
            "firmwareVersion": "2.0.1-fw", "modem": {"iccid": "8991", "imsi": "4040"}
        }
    })
}
