//! A simulated OCPP 2.0.1 charging station (`csms simulate --ocpp 2.0.1`, and the 2.0.1 tests):
//! it boots, reports its EVSEs, beats, answers the central system's calls and charges when asked.
//! RequestStartTransaction: Accepted, then TransactionEvent Started with the given idToken and
//! remoteStartId, Updated with the energy register every `--meter-interval-secs` at `--power-kw`,
//! and Ended when asked (RequestStopTransaction), when the EV is full (`--ev-capacity-kwh`) or
//! after `--auto-stop-after-ms`. The 1.6 simulator's fault flags it honours: `--remote-start
//! reject|ignore`, `--remote-start-delay-ms` (a late answer), `--remote-stop reject|ignore`,
//! `--retry-start-transaction` (every Started sent twice, as firmware that missed the answer does),
//! `--faulted`. Any other call is answered Accepted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::device_model::DeviceModel;
use super::{RemoteStart, RemoteStop, SimConfig, SimError, WsStream};

/// A running 2.0.1 station (cheap to clone: every clone drives the same connection).
#[derive(Clone)]
pub struct Station201 {
    cfg: Arc<SimConfig>,
    sink: Arc<tokio::sync::Mutex<SplitSink<WsStream, Message>>>,
    inner: Arc<Mutex<Inner>>,
    closed: Arc<tokio::sync::Notify>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    pending: HashMap<String, tokio::sync::oneshot::Sender<Value>>,
    received: Vec<(String, Value)>,
    /// Open transactions: station id -> (EVSE, seqNo of the next event).
    open: HashMap<String, (i64, i64)>,
    /// Energy register per EVSE, in Wh.
    meters: HashMap<i64, f64>,
    /// Answers to the station's TransactionEvents: (transaction id, answer).
    answers: Vec<(String, Value)>,
    tx_counter: u64,
    /// Set: answer RequestStartTransaction with this status and start nothing.
    start_status: Option<String>,
    is_closed: bool,
    /// Its device model (made on first use).
    model: Option<DeviceModel>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Station201 {
    /// Connects offering `ocpp2.0.1`, boots (Accepted), reports its EVSEs and runs.
    pub async fn connect(cfg: SimConfig) -> Result<Station201, SimError> {
        let ws = super::open_socket(&cfg, "ocpp2.0.1").await?;
        let (sink, mut stream) = ws.split();
        let station = Station201 {
            cfg: Arc::new(cfg),
            sink: Arc::new(tokio::sync::Mutex::new(sink)),
            inner: Arc::new(Mutex::new(Inner {
                next: 1000,
                ..Default::default()
            })),
            closed: Arc::default(),
        };
        let me = station.clone();
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
                    Some(3 | 4) => {
                        let id = f[1].as_str().unwrap_or_default().to_string();
                        let waiter = me.lock().pending.remove(&id);
                        if let Some(w) = waiter {
                            let _ = w.send(f);
                        }
                    }
                    _ => {}
                }
            }
            me.lock().is_closed = true;
            me.closed.notify_waiters();
        });
        station.boot().await?;
        Ok(station)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the station's device model.
    fn with_model<T>(&self, f: impl FnOnce(&mut DeviceModel) -> T) -> T {
        let (model, interval) = ("Simulated 2.0.1", self.cfg.meter_interval_secs);
        f(self
            .lock()
            .model
            .get_or_insert_with(|| DeviceModel::new(model, interval)))
    }

    pub fn id(&self) -> &str {
        &self.cfg.id
    }

    /// BootNotification (must be Accepted), then every EVSE's status.
    pub async fn boot(&self) -> Result<(), SimError> {
        let boot = self
            .call(
                "BootNotification",
                json!({"reason": "PowerUp", "chargingStation": {
                    "vendorName": "csms", "model": "Simulated 2.0.1", "serialNumber": self.cfg.id,
                    "firmwareVersion": "sim-2.0.1"}}),
            )
            .await?;
        if boot["status"] != "Accepted" {
            return Err(SimError::Connect(format!(
                "BootNotification answered {boot}"
            )));
        }
        for evse in 1..=i64::from(self.cfg.connectors) {
            let faulted = self.cfg.faulted.iter().any(|f| i64::from(*f) == evse);
            self.status(evse, if faulted { "Faulted" } else { "Available" })
                .await?;
        }
        Ok(())
    }

    pub async fn status(&self, evse: i64, status: &str) -> Result<Value, SimError> {
        self.call(
            "StatusNotification",
            json!({"timestamp": now(), "connectorStatus": status, "evseId": evse, "connectorId": 1}),
        )
        .await
    }

    /// Heartbeats every 60 s while connected.
    pub fn spawn_heartbeats(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            while !me.is_closed() {
                tokio::time::sleep(Duration::from_secs(60)).await;
                if me.call("Heartbeat", json!({})).await.is_err() {
                    break;
                }
            }
        });
    }

    pub fn is_closed(&self) -> bool {
        self.lock().is_closed
    }

    /// Resolves once the connection closed.
    pub async fn closed(&self) {
        let notified = self.closed.notified();
        if self.is_closed() {
            return;
        }
        notified.await;
    }

    async fn send(&self, frame: Value) {
        let _ = self
            .sink
            .lock()
            .await
            .send(Message::text(frame.to_string()))
            .await;
    }

    /// Sends a CALL; its CALLRESULT payload (a CALLERROR is an error).
    pub async fn call(&self, action: &str, payload: Value) -> Result<Value, SimError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = {
            let mut s = self.lock();
            s.next += 1;
            let id = format!("s{}", s.next);
            s.pending.insert(id.clone(), tx);
            id
        };
        self.send(json!([2, id, action, payload])).await;
        let f = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .map_err(|_| SimError::Timeout)?
            .map_err(|_| SimError::Connect("connection closed".into()))?;
        match f[0].as_i64() {
            Some(3) => Ok(f[2].clone()),
            _ => Err(SimError::CallError {
                code: f[2].as_str().unwrap_or_default().to_string(),
                description: f[3].as_str().unwrap_or_default().to_string(),
            }),
        }
    }

    /// A TransactionEvent of `tx` on `evse` (`extra` fields over the usual ones; `wh`: an energy
    /// register reading in the context its type calls for) and its answer.
    pub async fn event(
        &self,
        kind: &str,
        tx: &str,
        seq: i64,
        evse: i64,
        extra: Value,
        wh: Option<f64>,
    ) -> Result<Value, SimError> {
        let at = now();
        let mut p = json!({
            "eventType": kind,
            "timestamp": at,
            "triggerReason": match kind {
                "Started" => "Authorized",
                "Ended" => "StopAuthorized",
                _ => "MeterValuePeriodic",
            },
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
            p["meterValue"] = json!([{"timestamp": at, "sampledValue": [{
                "value": wh, "context": context, "measurand": "Energy.Active.Import.Register",
                "unitOfMeasure": {"unit": "Wh"}}]}]);
        }
        merge(&mut p, extra);
        let answer = self.call("TransactionEvent", p).await?;
        self.lock().answers.push((tx.to_string(), answer.clone()));
        Ok(answer)
    }

    async fn on_call(&self, f: Value) {
        let (id, payload) = (f[1].clone(), f[3].clone());
        let action = f[2].as_str().unwrap_or_default().to_string();
        self.lock().received.push((action.clone(), payload.clone()));
        match action.as_str() {
            "RequestStartTransaction" => self.remote_start(id, payload).await,
            "RequestStopTransaction" => self.remote_stop(id, payload).await,
            "GetTransactionStatus" => {
                let ongoing = payload["transactionId"]
                    .as_str()
                    .is_some_and(|t| self.lock().open.contains_key(t));
                self.send(json!([3, id, {"ongoingIndicator": ongoing, "messagesInQueue": false}]))
                    .await;
            }
            "GetBaseReport" => {
                self.send(json!([3, id, {"status": "Accepted"}])).await;
                let report = self.with_model(|m| m.report(&payload["requestId"], &now()));
                if let Err(e) = self.call("NotifyReport", report).await {
                    log::warn!("{}: NotifyReport: {e}", self.cfg.id);
                }
            }
            "GetVariables" => {
                let answer = self.with_model(|m| m.get(&payload));
                self.send(json!([3, id, answer])).await;
            }
            "SetVariables" => {
                let answer = self.with_model(|m| m.set(&payload));
                self.send(json!([3, id, answer])).await;
            }
            "CostUpdated" => {
                log::info!(
                    "{}: display shows {} for {}",
                    self.cfg.id,
                    payload["totalCost"],
                    payload["transactionId"]
                );
                self.send(json!([3, id, {}])).await;
            }
            _ => self.send(json!([3, id, {"status": "Accepted"}])).await,
        }
    }

    async fn remote_start(&self, id: Value, payload: Value) {
        let status = self.lock().start_status.clone();
        let status = status.or(match self.cfg.remote_start {
            RemoteStart::Reject => Some("Rejected".to_string()),
            RemoteStart::Ignore => return,
            _ => None,
        });
        if let Some(ms) = self.cfg.remote_start_delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(status) = status {
            self.send(json!([3, id, {"status": status}])).await;
            return;
        }
        let evse = payload["evseId"].as_i64().unwrap_or(1);
        let tx = {
            let mut s = self.lock();
            s.tx_counter += 1;
            let tx = format!("TX-{}", s.tx_counter);
            s.open.insert(tx.clone(), (evse, 1));
            tx
        };
        self.send(json!([3, id, {"status": "Accepted"}])).await;
        let wh = self.meter(evse);
        let started = json!({"triggerReason": "RemoteStart", "idToken": payload["idToken"],
            "transactionInfo": {"transactionId": tx, "remoteStartId": payload["remoteStartId"],
                "chargingState": "Charging"}});
        let times = if self.cfg.retry_start_transaction {
            2
        } else {
            1
        };
        for _ in 0..times {
            if let Err(e) = self
                .event("Started", &tx, 0, evse, started.clone(), Some(wh))
                .await
            {
                log::warn!("{}: TransactionEvent Started {tx}: {e}", self.cfg.id);
            }
        }
        self.spawn_charging(tx);
    }

    async fn remote_stop(&self, id: Value, payload: Value) {
        match self.cfg.remote_stop {
            RemoteStop::Ignore => return,
            RemoteStop::Reject => {
                self.send(json!([3, id, {"status": "Rejected"}])).await;
                return;
            }
            RemoteStop::Accept => {}
        }
        let tx = payload["transactionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let known = self.lock().open.contains_key(&tx);
        let status = if known { "Accepted" } else { "Rejected" };
        self.send(json!([3, id, {"status": status}])).await;
        if known {
            self.end(&tx, "RemoteStop", "Remote").await;
        }
    }

    /// Ends `tx` (if still open) with `trigger` and `reason`.
    pub async fn end(&self, tx: &str, trigger: &str, reason: &str) {
        let open = self.lock().open.remove(tx);
        let Some((evse, seq)) = open else { return };
        let wh = self.meter(evse);
        let ended = json!({"triggerReason": trigger,
            "transactionInfo": {"transactionId": tx, "stoppedReason": reason}});
        if let Err(e) = self.event("Ended", tx, seq, evse, ended, Some(wh)).await {
            log::warn!("{}: TransactionEvent Ended {tx}: {e}", self.cfg.id);
        }
    }

    /// Energy flows while `tx` is open: an Updated event every meter interval, and the end when
    /// the EV is full or the auto-stop time has come.
    fn spawn_charging(&self, tx: String) {
        let me = self.clone();
        let (interval, kw) = (self.cfg.meter_interval_secs, self.cfg.power_kw);
        let capacity_wh = self.cfg.ev_capacity_kwh.map(|k| k * 1000.0);
        let auto_stop = self.cfg.auto_stop_after_ms.map(Duration::from_millis);
        tokio::spawn(async move {
            let began = tokio::time::Instant::now();
            let mut delivered = 0.0;
            loop {
                let tick = match (interval, auto_stop) {
                    (0, Some(d)) => d.saturating_sub(began.elapsed()),
                    (0, None) => return,
                    (s, _) => Duration::from_secs(s),
                };
                tokio::time::sleep(tick).await;
                if me.is_closed() || !me.lock().open.contains_key(&tx) {
                    return;
                }
                if auto_stop.is_some_and(|d| began.elapsed() >= d) {
                    me.end(&tx, "StopAuthorized", "Local").await;
                    return;
                }
                let mut wh = kw * 1000.0 * tick.as_secs_f64() / 3600.0;
                if let Some(cap) = capacity_wh {
                    wh = wh.min(cap - delivered);
                }
                delivered += wh;
                let evse = me.lock().open.get(&tx).map(|(e, _)| *e).unwrap_or(1);
                if let Err(e) = me.charge(evse, wh).await {
                    log::warn!("{}: TransactionEvent Updated {tx}: {e}", me.cfg.id);
                }
                if capacity_wh.is_some_and(|cap| delivered >= cap) {
                    me.end(&tx, "ChargingStateChanged", "SOCLimitReached").await;
                    return;
                }
            }
        });
    }

    /// The energy register of `evse`, in Wh.
    pub fn meter(&self, evse: i64) -> f64 {
        *self.lock().meters.entry(evse).or_insert(1000.0)
    }

    /// `wh` more flowed on `evse`: an Updated event of its open transaction, and its answer.
    pub async fn charge(&self, evse: i64, wh: f64) -> Result<Value, SimError> {
        let (tx, seq, reading) = {
            let mut s = self.lock();
            let m = s.meters.entry(evse).or_insert(1000.0);
            *m += wh;
            let reading = *m;
            let Some((tx, entry)) = s.open.iter_mut().find(|(_, (e, _))| *e == evse) else {
                return Err(SimError::Connect(format!("no transaction on EVSE {evse}")));
            };
            let seq = entry.1;
            entry.1 += 1;
            (tx.clone(), seq, reading)
        };
        self.event("Updated", &tx, seq, evse, json!({}), Some(reading))
            .await
    }

    pub fn received(&self) -> Vec<(String, Value)> {
        self.lock().received.clone()
    }

    pub fn received_count(&self, action: &str) -> usize {
        self.lock()
            .received
            .iter()
            .filter(|(a, _)| a == action)
            .count()
    }

    /// The open transactions' ids.
    pub fn open(&self) -> Vec<String> {
        self.lock().open.keys().cloned().collect()
    }

    /// The answers to the TransactionEvents of `tx`, in order.
    pub fn answers(&self, tx: &str) -> Vec<Value> {
        self.lock()
            .answers
            .iter()
            .filter(|(t, _)| t == tx)
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// Answer RequestStartTransaction with `status` and start nothing (`None`: charge).
    pub fn answer_starts(&self, status: Option<&str>) {
        self.lock().start_status = status.map(str::to_string);
    }
}

/// `extra`'s fields over `base`'s, objects merged one level down.
fn merge(base: &mut Value, extra: Value) {
    let (Value::Object(base), Value::Object(extra)) = (base, extra) else {
        return;
    };
    for (k, v) in extra {
        match (base.get_mut(&k), v) {
            (Some(Value::Object(b)), Value::Object(v)) => b.extend(v),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// `csms simulate --ocpp 2.0.1`: connect, boot, beat and serve; reconnects when the connection
/// drops, until Ctrl-C.
pub async fn run_cli(cfg: SimConfig) -> Result<(), SimError> {
    let mut first = true;
    loop {
        match Station201::connect(cfg.clone()).await {
            Ok(st) => {
                log::info!("2.0.1 station {} connected and booted", st.id());
                st.spawn_heartbeats();
                tokio::select! {
                    _ = st.closed() => log::info!("connection closed; reconnecting in 3 s"),
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
            Err(e) if first => return Err(e),
            Err(e) => log::warn!("reconnect to {} failed: {e}; retrying in 3 s", cfg.url),
        }
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
