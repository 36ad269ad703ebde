//! An OCPP 2.0.1 charging station speaking raw OCPP-J over a real WebSocket (the simulator speaks
//! 1.6): CALLs, their answers, and the CALLs csms sends it.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct Station {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next: u64,
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
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, resp)) => {
                let chosen = resp
                    .headers()
                    .get("Sec-WebSocket-Protocol")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                Ok((Station { ws, next: 0 }, chosen))
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("unexpected handshake error {e}"),
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
