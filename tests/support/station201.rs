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

/// A 2.0.1 station that runs on its own (a task reads every frame): it answers csms's CALLs,
/// charges when asked (RequestStartTransaction: Accepted, then TransactionEvent Started with the
/// given idToken and remoteStartId; RequestStopTransaction: Accepted, then TransactionEvent Ended),
/// and lets the test send its own CALLs meanwhile. Every EVSE has one meter, in Wh.
#[derive(Clone)]
pub struct Auto {
    sink: std::sync::Arc<
        tokio::sync::Mutex<
            futures_util::stream::SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>,
        >,
    >,
    inner: std::sync::Arc<std::sync::Mutex<AutoState>>,
}

#[derive(Default)]
struct AutoState {
    next: u64,
    pending: std::collections::HashMap<String, tokio::sync::oneshot::Sender<Value>>,
    received: Vec<(String, Value)>,
    /// Open transactions: station id -> (EVSE, seqNo of the next event).
    open: std::collections::HashMap<String, (i64, i64)>,
    meters: std::collections::HashMap<i64, f64>,
    /// Answers to the station's own TransactionEvents, by transaction id.
    answers: Vec<(String, Value)>,
    tx_counter: u64,
    /// Set: answer RequestStartTransaction with this status and start nothing.
    start_status: Option<String>,
}

impl Auto {
    /// Boots `station` (already connected), reports its `evses` EVSEs Available and runs it.
    pub async fn run(mut station: Station, evses: i64) -> Auto {
        let boot = station
            .call("BootNotification", boot_payload("PowerUp"))
            .await
            .unwrap();
        assert_eq!(boot["status"], "Accepted", "{boot}");
        for evse in 1..=evses {
            station
                .call(
                    "StatusNotification",
                    json!({"timestamp": chrono::Utc::now().to_rfc3339(), "connectorStatus": "Available",
                        "evseId": evse, "connectorId": 1}),
                )
                .await
                .unwrap();
        }
        let (sink, mut stream) = station.ws.split();
        let auto = Auto {
            sink: std::sync::Arc::new(tokio::sync::Mutex::new(sink)),
            inner: std::sync::Arc::new(std::sync::Mutex::new(AutoState {
                next: 1000,
                ..Default::default()
            })),
        };
        let me = auto.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(t) = msg else { continue };
                let Ok(f) = serde_json::from_str::<Value>(&t) else {
                    continue;
                };
                match f[0].as_i64() {
                    Some(2) => {
                        let me = me.clone();
                        tokio::spawn(async move { me.on_call(f).await });
                    }
                    Some(3) | Some(4) => {
                        let id = f[1].as_str().unwrap_or_default().to_string();
                        let waiter = me.inner.lock().unwrap().pending.remove(&id);
                        if let Some(w) = waiter {
                            let _ = w.send(f);
                        }
                    }
                    _ => {}
                }
            }
        });
        auto
    }

    async fn send(&self, frame: Value) {
        let _ = self
            .sink
            .lock()
            .await
            .send(Message::text(frame.to_string()))
            .await;
    }

    /// Sends a CALL; its CALLRESULT payload, or the CALLERROR's (code, description).
    pub async fn call(&self, action: &str, payload: Value) -> Result<Value, (String, String)> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = {
            let mut s = self.inner.lock().unwrap();
            s.next += 1;
            let id = format!("a{}", s.next);
            s.pending.insert(id.clone(), tx);
            id
        };
        self.send(json!([2, id, action, payload])).await;
        let f = tokio::time::timeout(std::time::Duration::from_secs(10), rx)
            .await
            .expect("an answer within 10 s")
            .expect("the station runs");
        match f[0].as_i64() {
            Some(3) => Ok(f[2].clone()),
            _ => Err((
                f[2].as_str().unwrap_or_default().to_string(),
                f[3].as_str().unwrap_or_default().to_string(),
            )),
        }
    }

    /// A transaction event (meter in Wh as an energy register reading) and its answer.
    pub async fn event(
        &self,
        kind: &str,
        tx: &str,
        seq: i64,
        evse: i64,
        extra: Value,
        wh: Option<f64>,
    ) -> Value {
        let mut p = json!({
            "eventType": kind,
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "triggerReason": match kind { "Started" => "Authorized", "Ended" => "StopAuthorized", _ => "MeterValuePeriodic" },
            "seqNo": seq,
            "transactionInfo": {"transactionId": tx},
            "evse": {"id": evse, "connectorId": 1},
        });
        if let Some(wh) = wh {
            let context = match kind {
                "Started" => "Transaction.Begin",
                "Ended" => "Transaction.End",
                _ => "Sample.Periodic",
            };
            p["meterValue"] = json!([{
                "timestamp": p["timestamp"],
                "sampledValue": [{"value": wh, "context": context,
                    "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}}]
            }]);
        }
        merge(&mut p, extra);
        let answer = self.call("TransactionEvent", p).await.expect("answered");
        self.inner
            .lock()
            .unwrap()
            .answers
            .push((tx.to_string(), answer.clone()));
        answer
    }

    async fn on_call(&self, f: Value) {
        let (id, action, payload) = (
            f[1].clone(),
            f[2].as_str().unwrap_or("").to_string(),
            f[3].clone(),
        );
        self.inner
            .lock()
            .unwrap()
            .received
            .push((action.clone(), payload.clone()));
        match action.as_str() {
            "RequestStartTransaction" => {
                let refused = self.inner.lock().unwrap().start_status.clone();
                if let Some(status) = refused {
                    self.send(json!([3, id, {"status": status}])).await;
                    return;
                }
                let evse = payload["evseId"].as_i64().unwrap_or(1);
                let tx = {
                    let mut s = self.inner.lock().unwrap();
                    s.tx_counter += 1;
                    let tx = format!("TX-{}", s.tx_counter);
                    s.open.insert(tx.clone(), (evse, 1));
                    tx
                };
                self.send(json!([3, id, {"status": "Accepted"}])).await;
                let wh = self.meter(evse);
                self.event(
                    "Started",
                    &tx,
                    0,
                    evse,
                    json!({"triggerReason": "RemoteStart", "idToken": payload["idToken"],
                        "transactionInfo": {"transactionId": tx, "remoteStartId": payload["remoteStartId"]}}),
                    Some(wh),
                )
                .await;
            }
            "RequestStopTransaction" => {
                let tx = payload["transactionId"].as_str().unwrap_or("").to_string();
                let open = self.inner.lock().unwrap().open.remove(&tx);
                let Some((evse, seq)) = open else {
                    self.send(json!([3, id, {"status": "Rejected"}])).await;
                    return;
                };
                self.send(json!([3, id, {"status": "Accepted"}])).await;
                let wh = self.meter(evse);
                self.event(
                    "Ended",
                    &tx,
                    seq,
                    evse,
                    json!({"triggerReason": "RemoteStop", "transactionInfo": {"transactionId": tx, "stoppedReason": "Remote"}}),
                    Some(wh),
                )
                .await;
            }
            "GetTransactionStatus" => {
                self.send(json!([3, id, {"messagesInQueue": false}])).await;
            }
            _ => self.send(json!([3, id, {"status": "Accepted"}])).await,
        }
    }

    /// The meter of `evse`, in Wh.
    pub fn meter(&self, evse: i64) -> f64 {
        *self
            .inner
            .lock()
            .unwrap()
            .meters
            .entry(evse)
            .or_insert(1000.0)
    }

    /// Energy flows on `evse` and the station reports it in an Updated event of its open
    /// transaction there; the answer.
    pub async fn charge(&self, evse: i64, wh: f64) -> Value {
        let (tx, seq, reading) = {
            let mut s = self.inner.lock().unwrap();
            let m = s.meters.entry(evse).or_insert(1000.0);
            *m += wh;
            let reading = *m;
            let (tx, entry) = s
                .open
                .iter_mut()
                .find(|(_, (e, _))| *e == evse)
                .expect("an open transaction on the EVSE");
            let seq = entry.1;
            entry.1 += 1;
            (tx.clone(), seq, reading)
        };
        self.event("Updated", &tx, seq, evse, json!({}), Some(reading))
            .await
    }

    pub fn received_count(&self, action: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|(a, _)| a == action)
            .count()
    }

    pub fn received(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The open transactions' station ids.
    pub fn open(&self) -> Vec<String> {
        self.inner.lock().unwrap().open.keys().cloned().collect()
    }

    /// The answers to the station's TransactionEvents for `tx`, in order.
    pub fn answers(&self, tx: &str) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .answers
            .iter()
            .filter(|(t, _)| t == tx)
            .map(|(_, a)| a.clone())
            .collect()
    }

    pub fn refuse_starts(&self, status: Option<&str>) {
        self.inner.lock().unwrap().start_status = status.map(str::to_string);
    }
}

/// `extra`'s fields over `base`'s, objects merged one level down.
fn merge(base: &mut Value, extra: Value) {
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            match (base.get_mut(&k), v) {
                (Some(Value::Object(b)), Value::Object(v)) => {
                    for (k2, v2) in v {
                        b.insert(k2, v2);
                    }
                }
                (_, v) => {
                    base[&k] = v;
                }
            }
        }
    }
}
