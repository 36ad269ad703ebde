//! A simulated OCPP 2.0.1 charging station (`csms simulate --ocpp 2.0.1`, and the 2.0.1 tests):
//! it boots, reports its EVSEs, beats, answers the central system's calls and charges when asked.
//! RequestStartTransaction: Accepted, then TransactionEvent Started with the given idToken and
//! remoteStartId, Updated with the energy register every `--meter-interval-secs` at `--power-kw`,
//! and Ended when asked (RequestStopTransaction), when the EV is full (`--ev-capacity-kwh`) or
//! after `--auto-stop-after-ms`; a Started whose answer refuses the idToken is ended at once, as
//! `StopTxOnInvalidId` asks. It honours the 1.6 simulator's fault flags: `--remote-start
//! reject|ignore|drop|reconnect`, `--remote-start-delay-ms` (a late answer), `--remote-stop
//! reject|ignore`, `--retry-start-transaction` (every Started sent twice, as firmware that missed
//! the answer does), `--no-start-transaction`, `--id-tag-case lower` and `--faulted`. Any other
//! call is answered Accepted.
//!
//! Like a real station it keeps its transactions when the connection drops: the TransactionEvents
//! of that time are queued with `offline: true` and sent in bulk once it is back (the CLI
//! reconnects by itself, without a boot, and sends them in order). The library adds the other
//! lifecycle faults of real firmware: [`Station201::reboot`] (losing its transactions, whose Ended
//! comes later with [`Station201::send_lost_end`]), [`Station201::flush_queue`] out of order,
//! [`Station201::retry_events`] (any event type sent twice) and [`Station201::reset_meter`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::device_model::DeviceModel;
use super::{RemoteStart, RemoteStop, SimConfig, SimError, TagCase, WsStream};

type Sink = SplitSink<WsStream, Message>;

/// A running 2.0.1 station (cheap to clone: every clone drives the same station). It keeps its
/// transactions, meters and queued events across reconnects and reboots.
#[derive(Clone)]
pub struct Station201 {
    cfg: Arc<Mutex<SimConfig>>,
    /// The current connection's sending half (`None` while it has none).
    sink: Arc<tokio::sync::Mutex<Option<Sink>>>,
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
    /// Transactions lost in a reboot (never ended): station id -> (EVSE, seqNo of the next event).
    lost: HashMap<String, (i64, i64)>,
    /// Energy register per EVSE, in Wh.
    meters: HashMap<i64, f64>,
    /// Answers to the station's TransactionEvents: (transaction id, answer).
    answers: Vec<(String, Value)>,
    /// TransactionEvents sent (answered or not): (transaction id, payload).
    sent: Vec<(String, Value)>,
    /// TransactionEvents waiting for a connection: (transaction id, payload).
    queue: Vec<(String, Value)>,
    /// Event types (`Started`, `Updated`, `Ended`) sent twice.
    retried: Vec<String>,
    tx_counter: u64,
    /// Set: answer RequestStartTransaction with this status and start nothing.
    start_status: Option<String>,
    /// RequestStartTransactions refused because their EVSE already had a transaction open: csms
    /// sent a start for an occupied EVSE (`csms bench start` counts them as double bookings).
    busy_rejections: u64,
    is_closed: bool,
    /// The current connection (a reader of an older one that ends closes nothing).
    generation: u64,
    /// The current connection's reader.
    reader: Option<tokio::task::JoinHandle<()>>,
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
        let retried = if cfg.retry_start_transaction {
            vec!["Started".to_string()]
        } else {
            Vec::new()
        };
        let station = Station201 {
            cfg: Arc::new(Mutex::new(cfg)),
            sink: Arc::default(),
            inner: Arc::new(Mutex::new(Inner {
                next: 1000,
                retried,
                ..Default::default()
            })),
            closed: Arc::default(),
        };
        station.attach(ws).await;
        station.boot().await?;
        Ok(station)
    }

    /// Makes `ws` the current connection and reads its frames until it closes.
    async fn attach(&self, ws: WsStream) {
        let (sink, mut stream) = ws.split();
        let mut current = self.sink.lock().await;
        *current = Some(sink);
        let generation = {
            let mut s = self.lock();
            s.generation += 1;
            s.is_closed = false;
            s.generation
        };
        let me = self.clone();
        let reader = tokio::spawn(async move {
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
            let mut s = me.lock();
            if s.generation == generation {
                s.is_closed = true;
                // Calls in flight get no answer on another connection.
                s.pending.clear();
                drop(s);
                me.closed.notify_waiters();
            }
        });
        self.lock().reader = Some(reader);
        drop(current);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cfg(&self) -> std::sync::MutexGuard<'_, SimConfig> {
        self.cfg.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the station's device model.
    fn with_model<T>(&self, f: impl FnOnce(&mut DeviceModel) -> T) -> T {
        let (model, interval) = ("Simulated 2.0.1", self.cfg().meter_interval_secs);
        f(self
            .lock()
            .model
            .get_or_insert_with(|| DeviceModel::new(model, interval)))
    }

    pub fn id(&self) -> String {
        self.cfg().id.clone()
    }

    /// BootNotification (must be Accepted), then every EVSE's status: `Occupied` where a
    /// transaction runs, `Faulted` for `--faulted` ones, `Available` elsewhere.
    pub async fn boot(&self) -> Result<(), SimError> {
        let (id, connectors, faulted) = {
            let cfg = self.cfg();
            (cfg.id.clone(), cfg.connectors, cfg.faulted.clone())
        };
        let boot = self
            .call(
                "BootNotification",
                json!({"reason": "PowerUp", "chargingStation": {
                    "vendorName": "csms", "model": "Simulated 2.0.1", "serialNumber": id,
                    "firmwareVersion": "sim-2.0.1"}}),
            )
            .await?;
        if boot["status"] != "Accepted" {
            return Err(SimError::Connect(format!(
                "BootNotification answered {boot}"
            )));
        }
        for evse in 1..=i64::from(connectors) {
            let busy = self.lock().open.values().any(|(e, _)| *e == evse);
            let status = if faulted.iter().any(|f| i64::from(*f) == evse) {
                "Faulted"
            } else if busy {
                "Occupied"
            } else {
                "Available"
            };
            self.status(evse, status).await?;
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

    /// Heartbeats every 60 s while connected (skipped while it is not).
    pub fn spawn_heartbeats(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                if !me.is_closed()
                    && let Err(e) = me.call("Heartbeat", json!({})).await
                {
                    log::warn!("{}: Heartbeat: {e}", me.id());
                }
            }
        });
    }

    /// Whether the current connection closed (or there is none).
    pub fn is_closed(&self) -> bool {
        self.lock().is_closed
    }

    /// Resolves once the current connection closed.
    pub async fn closed(&self) {
        let notified = self.closed.notified();
        if self.is_closed() {
            return;
        }
        notified.await;
    }

    /// Loses the connection (a network outage): it closes, and the station goes on as before,
    /// queueing its TransactionEvents until [`Station201::reconnect`].
    pub async fn disconnect(&self) {
        let sink = self.sink.lock().await.take();
        if let Some(mut sink) = sink {
            let _ = sink.close().await;
        }
        let reader = self.lock().reader.take();
        if let Some(mut reader) = reader
            && tokio::time::timeout(Duration::from_secs(10), &mut reader)
                .await
                .is_err()
        {
            reader.abort();
        }
        let mut s = self.lock();
        s.is_closed = true;
        s.pending.clear();
        drop(s);
        self.closed.notify_waiters();
    }

    /// A new connection after an outage, without a boot (the station did not restart). What it
    /// queued meanwhile stays queued ([`Station201::flush_queue`] sends it). (Boxed: a call the
    /// station answers may reconnect, and the connection's reader answers calls.)
    pub fn reconnect(&self) -> Pin<Box<dyn Future<Output = Result<(), SimError>> + Send + '_>> {
        Box::pin(async move {
            if !self.is_closed() {
                self.disconnect().await;
            }
            let cfg = self.cfg().clone();
            let ws = super::open_socket(&cfg, "ocpp2.0.1").await?;
            self.attach(ws).await;
            Ok(())
        })
    }

    /// Reboots: a new connection and a BootNotification. With `lose_transactions` (a power loss, a
    /// hard reset) its transactions are forgotten without an Ended, and their EVSEs come back
    /// `Available`; [`Station201::send_lost_end`] still sends their Ended later.
    pub async fn reboot(&self, lose_transactions: bool) -> Result<(), SimError> {
        if lose_transactions {
            let mut s = self.lock();
            let lost: Vec<(String, (i64, i64))> = s.open.drain().collect();
            s.lost.extend(lost);
        }
        self.disconnect().await;
        self.reconnect().await?;
        self.boot().await
    }

    /// The transactions lost in a reboot whose Ended was not sent yet.
    pub fn lost(&self) -> Vec<String> {
        self.lock().lost.keys().cloned().collect()
    }

    /// The Ended of a transaction lost in a reboot, sent late (from the station's memory, offline)
    /// with the energy register as it is now; its answer (`Null`: queued, the station is offline).
    pub async fn send_lost_end(&self, tx: &str) -> Result<Value, SimError> {
        let lost = self.lock().lost.remove(tx);
        let Some((evse, seq)) = lost else {
            return Err(SimError::Connect(format!("no lost transaction {tx}")));
        };
        let wh = self.meter(evse);
        let ended = json!({"offline": true, "triggerReason": "AbnormalCondition",
            "transactionInfo": {"transactionId": tx, "stoppedReason": "PowerLoss"}});
        self.event("Ended", tx, seq, evse, ended, Some(wh)).await
    }

    /// Sends a frame on the current connection (false: there is none).
    async fn send(&self, frame: Value) -> bool {
        let mut sink = self.sink.lock().await;
        match sink.as_mut() {
            Some(s) => s.send(Message::text(frame.to_string())).await.is_ok(),
            None => false,
        }
    }

    /// Sends a CALL; its CALLRESULT payload (a CALLERROR is an error).
    pub async fn call(&self, action: &str, payload: Value) -> Result<Value, SimError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = {
            let mut s = self.lock();
            if s.is_closed {
                return Err(SimError::Closed);
            }
            s.next += 1;
            let id = format!("s{}", s.next);
            s.pending.insert(id.clone(), tx);
            id
        };
        if !self.send(json!([2, id, action, payload])).await {
            self.lock().pending.remove(&id);
            return Err(SimError::Closed);
        }
        let f = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .map_err(|_| SimError::Timeout)?
            .map_err(|_| SimError::Closed)?;
        match f[0].as_i64() {
            Some(3) => Ok(f[2].clone()),
            _ => Err(SimError::CallError {
                code: f[2].as_str().unwrap_or_default().to_string(),
                description: f[3].as_str().unwrap_or_default().to_string(),
            }),
        }
    }

    /// A TransactionEvent of `tx` on `evse` (`extra` fields over the usual ones; `wh`: an energy
    /// register reading in the context its type calls for) and its answer. Sent twice when its
    /// type is retried ([`Station201::retry_events`]; the second answer is returned). While the
    /// station has no connection it is queued with `offline: true` and the answer is `Null`; one
    /// whose connection is lost before its answer is queued as it was.
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
        let times = if self.lock().retried.iter().any(|k| k == kind) {
            2
        } else {
            1
        };
        let mut answer = Value::Null;
        for _ in 0..times {
            answer = match self.send_event(tx, p.clone()).await? {
                Some(a) => a,
                None => return Ok(Value::Null),
            };
        }
        Ok(answer)
    }

    /// One TransactionEvent: its answer, or `None` when it was queued (no connection).
    async fn send_event(&self, tx: &str, mut payload: Value) -> Result<Option<Value>, SimError> {
        {
            let mut s = self.lock();
            if s.is_closed {
                payload["offline"] = json!(true);
                s.queue.push((tx.to_string(), payload));
                return Ok(None);
            }
        }
        self.lock().sent.push((tx.to_string(), payload.clone()));
        match self.call("TransactionEvent", payload.clone()).await {
            Ok(answer) => {
                self.lock().answers.push((tx.to_string(), answer.clone()));
                Ok(Some(answer))
            }
            Err(SimError::Closed) => {
                // Sent or not, the station never heard back: it sends it again later.
                self.lock().queue.push((tx.to_string(), payload));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The TransactionEvents waiting for a connection: (transaction id, payload), oldest first.
    pub fn queued(&self) -> Vec<(String, Value)> {
        self.lock().queue.clone()
    }

    /// Sends the queued TransactionEvents, oldest first or (`reversed`) newest first, and their
    /// answers in the order sent. The ones not sent (the connection dropped again) stay queued.
    pub async fn flush_queue(&self, reversed: bool) -> Result<Vec<Value>, SimError> {
        let mut batch = std::mem::take(&mut self.lock().queue);
        if reversed {
            batch.reverse();
        }
        let mut answers = Vec::new();
        let mut left = batch.into_iter();
        while let Some((tx, payload)) = left.next() {
            match self.send_event(&tx, payload).await {
                Ok(Some(a)) => answers.push(a),
                Ok(None) => {
                    // Queued again: so is the rest, behind it.
                    self.lock().queue.extend(left);
                    return Err(SimError::Closed);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(answers)
    }

    /// Sends every TransactionEvent of these types twice from now on (firmware that missed the
    /// answer), e.g. `&["Updated", "Ended"]`; `&[]`: once.
    pub fn retry_events(&self, kinds: &[&str]) {
        self.lock().retried = kinds.iter().map(|k| k.to_string()).collect();
    }

    /// How RequestStartTransaction is answered from now on.
    pub fn set_remote_start(&self, behaviour: RemoteStart) {
        self.cfg().remote_start = behaviour;
    }

    /// How late RequestStartTransaction is answered from now on (`None`: at once).
    pub fn set_remote_start_delay_ms(&self, delay: Option<u64>) {
        self.cfg().remote_start_delay_ms = delay;
    }

    /// How RequestStopTransaction is answered from now on.
    pub fn set_remote_stop(&self, behaviour: RemoteStop) {
        self.cfg().remote_stop = behaviour;
    }

    async fn on_call(&self, f: Value) {
        let (id, payload) = (f[1].clone(), f[3].clone());
        let action = f[2].as_str().unwrap_or_default().to_string();
        self.lock().received.push((action.clone(), payload.clone()));
        match action.as_str() {
            "RequestStartTransaction" => self.remote_start(id, payload).await,
            "RequestStopTransaction" => self.remote_stop(id, payload).await,
            "GetTransactionStatus" => {
                let (ongoing, queued) = {
                    let s = self.lock();
                    let tx = payload["transactionId"].as_str();
                    (
                        tx.is_some_and(|t| s.open.contains_key(t)),
                        s.queue.iter().any(|(t, _)| tx.is_none_or(|x| x == t)),
                    )
                };
                self.send(json!([3, id, {"ongoingIndicator": ongoing, "messagesInQueue": queued}]))
                    .await;
            }
            "GetBaseReport" => {
                self.send(json!([3, id, {"status": "Accepted"}])).await;
                let report = self.with_model(|m| m.report(&payload["requestId"], &now()));
                if let Err(e) = self.call("NotifyReport", report).await {
                    log::warn!("{}: NotifyReport: {e}", self.id());
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
                    self.id(),
                    payload["totalCost"],
                    payload["transactionId"]
                );
                self.send(json!([3, id, {}])).await;
            }
            _ => {
                self.send(json!([3, id, {"status": "Accepted"}])).await;
            }
        }
    }

    async fn remote_start(&self, id: Value, payload: Value) {
        let (behaviour, delay, no_start, case) = {
            let cfg = self.cfg();
            (
                cfg.remote_start,
                cfg.remote_start_delay_ms,
                cfg.no_start_transaction,
                cfg.id_tag_case,
            )
        };
        let status = self.lock().start_status.clone();
        let status = status.or(match behaviour {
            RemoteStart::Reject => Some("Rejected".to_string()),
            RemoteStart::Ignore => return,
            _ => None,
        });
        if let Some(ms) = delay {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if let Some(status) = status {
            self.send(json!([3, id, {"status": status}])).await;
            return;
        }
        // A start for an EVSE whose transaction is still open is refused (and counted).
        let evse = payload["evseId"].as_i64().unwrap_or(1);
        let busy = {
            let mut s = self.lock();
            let busy = s.open.values().any(|(e, _)| *e == evse);
            s.busy_rejections += u64::from(busy);
            busy
        };
        if busy {
            log::warn!("{}: a start for EVSE {evse}, which is occupied", self.id());
            self.send(json!([3, id, {"status": "Rejected"}])).await;
            return;
        }
        match behaviour {
            RemoteStart::Drop => {
                self.disconnect().await;
                return;
            }
            // The answer is lost with the connection; the station starts anyway.
            RemoteStart::Reconnect => {
                if let Err(e) = self.reconnect().await {
                    log::warn!("{}: reconnect failed: {e}", self.id());
                    return;
                }
            }
            _ => {
                self.send(json!([3, id, {"status": "Accepted"}])).await;
            }
        }
        if no_start {
            return;
        }
        let mut token = payload["idToken"].clone();
        if case == TagCase::Lower
            && let Some(t) = token["idToken"].as_str()
        {
            token["idToken"] = json!(t.to_lowercase());
        }
        let remote_start_id = payload["remoteStartId"].as_i64();
        if let Err(e) = self.start_transaction(evse, token, remote_start_id).await {
            log::warn!("{}: TransactionEvent Started: {e}", self.id());
        }
    }

    /// A transaction begins on `evse` (a remote start's, or one begun at the station): its
    /// TransactionEvent Started with `id_token` (and the `remoteStartId` csms gave, if any), then
    /// energy flows as configured. Its id and the Started's answer (`Null`: queued, the station is
    /// offline). A refused idToken ends it at once (`StopTxOnInvalidId`).
    pub async fn start_transaction(
        &self,
        evse: i64,
        id_token: Value,
        remote_start_id: Option<i64>,
    ) -> Result<(String, Value), SimError> {
        let tx = {
            let mut s = self.lock();
            s.tx_counter += 1;
            let tx = format!("TX-{}", s.tx_counter);
            s.open.insert(tx.clone(), (evse, 1));
            tx
        };
        let wh = self.meter(evse);
        let mut info = json!({"transactionId": tx, "chargingState": "Charging"});
        let trigger = match remote_start_id {
            Some(id) => {
                info["remoteStartId"] = json!(id);
                "RemoteStart"
            }
            None => "Authorized",
        };
        let started =
            json!({"triggerReason": trigger, "idToken": id_token, "transactionInfo": info});
        let answer = self.event("Started", &tx, 0, evse, started, Some(wh)).await;
        let refused = answer.as_ref().ok().and_then(|a| {
            a["idTokenInfo"]["status"]
                .as_str()
                .filter(|s| *s != "Accepted")
        });
        match refused {
            Some(status) => {
                log::info!("{}: {tx} refused ({status}): ending it", self.id());
                self.end(&tx, "Deauthorized", "DeAuthorized").await;
            }
            None => self.spawn_charging(tx.clone()),
        }
        answer.map(|a| (tx, a))
    }

    async fn remote_stop(&self, id: Value, payload: Value) {
        let behaviour = self.cfg().remote_stop;
        match behaviour {
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
            log::warn!("{}: TransactionEvent Ended {tx}: {e}", self.id());
        }
    }

    /// Energy flows while `tx` is open (connected or not): an Updated event every meter interval,
    /// and the end when the EV is full or the auto-stop time has come.
    fn spawn_charging(&self, tx: String) {
        let me = self.clone();
        let (interval, kw, capacity_wh, auto_stop) = {
            let cfg = self.cfg();
            (
                cfg.meter_interval_secs,
                cfg.power_kw,
                cfg.ev_capacity_kwh.map(|k| k * 1000.0),
                cfg.auto_stop_after_ms.map(Duration::from_millis),
            )
        };
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
                if !me.lock().open.contains_key(&tx) {
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
                    log::warn!("{}: TransactionEvent Updated {tx}: {e}", me.id());
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

    /// Energy that flows without being reported (yet): the register moves, no event is sent.
    pub fn add_energy_without_report(&self, evse: i64, wh: f64) {
        *self.lock().meters.entry(evse).or_insert(1000.0) += wh;
    }

    /// The energy register of `evse` restarts from 0 (a meter replaced, or reset by firmware).
    pub fn reset_meter(&self, evse: i64) {
        self.lock().meters.insert(evse, 0.0);
    }

    /// `wh` more flowed on `evse`: an Updated event of its open transaction, and its answer
    /// (`Null`: queued, the station is offline).
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

    /// RequestStartTransactions refused because their EVSE was occupied.
    pub fn busy_rejections(&self) -> u64 {
        self.lock().busy_rejections
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

    /// The TransactionEvents of `tx` sent so far (queued ones once sent), in order.
    pub fn sent_events(&self, tx: &str) -> Vec<Value> {
        self.lock()
            .sent
            .iter()
            .filter(|(t, _)| t == tx)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Answer RequestStartTransaction with `status` and start nothing (`None`: charge).
    pub fn answer_starts(&self, status: Option<&str>) {
        self.lock().start_status = status.map(str::to_string);
    }

    /// Forever: whenever the connection drops, reconnects (every `retry` until it succeeds; no
    /// boot, the station did not restart) and sends what it queued meanwhile, in order.
    pub async fn stay_connected(&self, retry: Duration) {
        loop {
            self.closed().await;
            log::info!(
                "{}: connection closed; reconnecting in {} s",
                self.id(),
                retry.as_secs()
            );
            loop {
                tokio::time::sleep(retry).await;
                match self.reconnect().await {
                    Ok(()) => break,
                    Err(e) => log::warn!("{}: reconnect failed: {e}", self.id()),
                }
            }
            match self.flush_queue(false).await {
                Ok(sent) if sent.is_empty() => {}
                Ok(sent) => log::info!("{}: sent {} queued event(s)", self.id(), sent.len()),
                Err(e) => log::warn!("{}: sending the queued events: {e}", self.id()),
            }
        }
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

/// `csms simulate --ocpp 2.0.1`: connect, boot, beat and serve until Ctrl-C; when the connection
/// drops it reconnects every 3 s (keeping its transactions, without a boot) and then sends the
/// events it queued meanwhile.
pub async fn run_cli(cfg: SimConfig) -> Result<(), SimError> {
    let st = Station201::connect(cfg).await?;
    log::info!("2.0.1 station {} connected and booted", st.id());
    st.spawn_heartbeats();
    tokio::select! {
        _ = st.stay_connected(Duration::from_secs(3)) => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
