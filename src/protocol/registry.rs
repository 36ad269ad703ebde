//! Connected chargers: `chargeBoxId → handle`. A handle sends calls from the central system to the
//! charger's connection task, which keeps one call in flight at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use serde_json::Value;
use tokio::sync::{Notify, mpsc, oneshot};

pub use crate::domain::station_commands::CallFailure;
use crate::domain::station_commands::{Answer, Command as CoreCommand, StationCommands};
use crate::protocol::outgoing;
use crate::protocol::version::Version;

pub(crate) struct Command {
    pub action: String,
    pub payload: Value,
    pub timeout: Duration,
    pub reply: oneshot::Sender<Result<Value, CallFailure>>,
}

#[derive(Clone)]
pub struct ChargerHandle {
    pub conn_id: u64,
    pub charger_id: i64,
    /// The OCPP version the connection speaks.
    pub version: crate::protocol::version::Version,
    pub connected_at: chrono::NaiveDateTime,
    /// Whether the charger is accepted (registration `accepted`); shared with its connection.
    pub accepted: Arc<std::sync::atomic::AtomicBool>,
    /// When its connection last received a frame; shared with the connection.
    pub last_frame: Arc<LastFrame>,
    /// Boxed: the channel allocates its first block of 32 slots with the connection, so each slot
    /// is a pointer (256 bytes per idle charger) rather than a whole command (2.5 KiB).
    pub(crate) tx: mpsc::Sender<Box<Command>>,
    pub(crate) close: Arc<Notify>,
}

impl ChargerHandle {
    /// Sends a CALL and waits for its answer. `timeout` covers waiting in the queue too.
    pub async fn call(
        &self,
        action: &str,
        payload: Value,
        timeout: Duration,
    ) -> Result<Value, CallFailure> {
        // While Pending or Rejected, only what lets the operator look at and configure it, and
        // the stop of a transaction it still runs (it was accepted when it began).
        if !self.accepted.load(std::sync::atomic::Ordering::Acquire)
            && !self.version.allowed_while_not_accepted(action)
        {
            return Err(CallFailure::NotAccepted);
        }
        let (reply, rx) = oneshot::channel();
        let cmd = Command {
            action: action.to_string(),
            payload,
            timeout,
            reply,
        };
        let started = tokio::time::Instant::now();
        let sent = tokio::time::timeout(timeout, self.tx.send(Box::new(cmd))).await;
        match sent {
            Err(_) => return Err(CallFailure::Timeout),
            Ok(Err(_)) => return Err(CallFailure::Disconnected),
            Ok(Ok(())) => {}
        }
        let left = timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, rx).await {
            Err(_) => Err(CallFailure::Timeout),
            Ok(Err(_)) => Err(CallFailure::Disconnected),
            Ok(Ok(result)) => result,
        }
    }
}

/// When a connection last received a frame (any frame: a charger busy sending meter values is
/// seen even when it sends no Heartbeat). Kept in memory, written to the database at most every
/// [`LastFrame::PERSIST_EVERY`] (see `connection::run`); the operator's views read the later of the two.
#[derive(Debug)]
pub struct LastFrame {
    /// Unix milliseconds.
    at: AtomicI64,
}

impl LastFrame {
    /// How often a busy connection writes `chargers.last_seen_at` at most.
    pub const PERSIST_EVERY: Duration = Duration::from_secs(30);

    pub fn new(at: chrono::NaiveDateTime) -> Self {
        LastFrame {
            at: AtomicI64::new(at.and_utc().timestamp_millis()),
        }
    }

    /// A frame arrived now.
    pub fn touch(&self) {
        self.at
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    pub fn get(&self) -> Option<chrono::NaiveDateTime> {
        chrono::DateTime::from_timestamp_millis(self.at.load(Ordering::Relaxed))
            .map(|t| t.naive_utc())
    }
}

/// What a connection knows about its charger.
#[derive(Clone, Debug)]
pub struct ChargerCtx {
    pub charger_id: i64,
    pub device_id: Arc<str>,
    /// The OCPP version the connection speaks.
    pub version: crate::protocol::version::Version,
    /// Whether the charger is accepted (see `ChargerHandle::accepted`).
    pub accepted: Arc<std::sync::atomic::AtomicBool>,
    /// When the last frame arrived (see `ChargerHandle::last_frame`).
    pub last_frame: Arc<LastFrame>,
    /// When each running transaction's cost was last shown on a 2.0.1 station's display.
    pub cost_shown: Arc<crate::protocol::ocpp201::cost::CostShown>,
    /// What a 2.0.1 station's EVs asked for (ISO 15118), and whose schedule awaits a new profile.
    pub ev_schedules: Arc<crate::protocol::ocpp201::ev_schedules::EvSchedules>,
}

/// A call's answer (the frame's payload), on its way from another node.
pub type RemoteAnswer<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, CallFailure>> + Send + 'a>>;

/// Chargers held by other nodes of a cluster (implemented by the cluster and plugged in at
/// start-up, so the registry does not depend on it).
pub trait RemoteStations: Send + Sync {
    /// The node holding a charger when it is not this one.
    fn holder_elsewhere(&self, device_id: &str) -> Option<String>;
    /// A call for a charger held by another node, sent to that node.
    fn call_remote<'a>(
        &'a self,
        device_id: &'a str,
        action: &'a str,
        payload: Value,
        timeout: Duration,
    ) -> RemoteAnswer<'a>;
}

#[derive(Default)]
pub struct Registry {
    chargers: DashMap<String, ChargerHandle>,
    next_conn_id: AtomicU64,
    /// Cluster mode: chargers held by other nodes.
    remote: std::sync::OnceLock<Arc<dyn RemoteStations>>,
}

impl Registry {
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Registers a connection; an older one for the same charger is told to close. Connections are
    /// ordered by `conn_id`, taken when the TCP connection was accepted: a connection whose
    /// handshake finished late (a slow password check, a stalled thread) never replaces one that
    /// was accepted after it. Returns false when this connection is the stale one and must close.
    pub fn register(&self, device_id: &str, handle: ChargerHandle) -> bool {
        use dashmap::mapref::entry::Entry;
        let registered = match self.chargers.entry(device_id.to_string()) {
            Entry::Vacant(v) => {
                v.insert(handle);
                true
            }
            Entry::Occupied(mut o) if o.get().conn_id < handle.conn_id => {
                log::info!("{device_id}: new connection replaces the old one");
                let old = o.insert(handle);
                old.close.notify_one();
                true
            }
            Entry::Occupied(_) => {
                log::info!(
                    "{device_id}: a newer connection is already registered: this one closes"
                );
                false
            }
        };
        metrics::gauge!("csms_connected_chargers").set(self.chargers.len() as f64);
        registered
    }

    /// Removes the entry if it still belongs to this connection (a replacement may have taken it).
    pub fn unregister(&self, device_id: &str, conn_id: u64) -> bool {
        let removed = self
            .chargers
            .remove_if(device_id, |_, h| h.conn_id == conn_id)
            .is_some();
        metrics::gauge!("csms_connected_chargers").set(self.chargers.len() as f64);
        removed
    }

    /// Closes the connection of a charger, if any (used when it is deleted).
    pub fn disconnect(&self, device_id: &str) {
        if let Some(h) = self.chargers.get(device_id) {
            h.close.notify_one();
        }
    }

    pub fn get(&self, device_id: &str) -> Option<ChargerHandle> {
        self.chargers.get(device_id).map(|h| h.clone())
    }

    /// When a charger connected to this node last sent a frame (None: not connected here).
    pub fn last_frame(&self, device_id: &str) -> Option<chrono::NaiveDateTime> {
        self.chargers
            .get(device_id)
            .and_then(|h| h.last_frame.get())
    }

    /// Connected to this node (background work acts for these; each node for its own).
    pub fn is_local(&self, device_id: &str) -> bool {
        self.chargers.contains_key(device_id)
    }

    /// Connected to this node or, in cluster mode, to another live node.
    pub fn is_online(&self, device_id: &str) -> bool {
        self.chargers.contains_key(device_id)
            || self
                .remote
                .get()
                .is_some_and(|c| c.holder_elsewhere(device_id).is_some())
    }

    /// The node holding a charger's connection: this one, another one (cluster mode), or none.
    pub fn holder(&self, device_id: &str, me: &str) -> Option<String> {
        if self.chargers.contains_key(device_id) {
            return Some(me.to_string());
        }
        self.remote.get()?.holder_elsewhere(device_id)
    }

    /// Turns on cluster mode: calls to chargers held by other nodes go to them.
    pub fn set_remote(&self, remote: Arc<dyn RemoteStations>) {
        let _ = self.remote.set(remote);
    }

    /// The chargers connected to this process.
    pub fn devices(&self) -> Vec<String> {
        self.chargers.iter().map(|e| e.key().clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.chargers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chargers.is_empty()
    }

    /// A call to a charger wherever it is connected: here, or (cluster mode) on the node that
    /// holds it, which queues it like its own (one call in flight per charger).
    pub async fn call(
        &self,
        device_id: &str,
        action: &str,
        payload: Value,
        timeout: Duration,
    ) -> Result<Value, CallFailure> {
        if let Some(handle) = self.get(device_id) {
            return handle.call(action, payload, timeout).await;
        }
        match self.remote.get() {
            Some(remote) => {
                remote
                    .call_remote(device_id, action, payload, timeout)
                    .await
            }
            None => Err(CallFailure::Offline),
        }
    }
}

impl StationCommands for Registry {
    /// The adapter of the station's version writes the command and reads the answer. (A station
    /// held by another node speaks 1.6: cluster mode serves only 1.6 so far.)
    fn send<'a>(
        &'a self,
        device_id: &'a str,
        command: CoreCommand,
        timeout: Duration,
    ) -> Answer<'a> {
        Box::pin(async move {
            let version = self.get(device_id).map_or(Version::V16, |h| h.version);
            let (action, payload) = outgoing::encode(version, &command)?;
            Registry::call(self, device_id, &action, payload, timeout)
                .await
                .map(|answer| outgoing::decode(version, answer))
        })
    }

    fn is_online(&self, device_id: &str) -> bool {
        Registry::is_online(self, device_id)
    }

    fn is_local(&self, device_id: &str) -> bool {
        Registry::is_local(self, device_id)
    }

    fn devices(&self) -> Vec<String> {
        Registry::devices(self)
    }

    fn check(&self, device_id: &str, command: &CoreCommand) -> Result<(), String> {
        let version = self.get(device_id).map_or(Version::V16, |h| h.version);
        let (action, payload) = outgoing::encode(version, command).map_err(|e| e.to_string())?;
        version
            .schemas()
            .validate(&action, crate::protocol::schemas::Kind::Request, &payload)
            .map_err(|e| e.description)
    }

    fn set_accepted(&self, device_id: &str, accepted: bool) -> bool {
        match self.get(device_id) {
            Some(handle) => {
                handle.accepted.store(accepted, Ordering::Release);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(conn_id: u64) -> ChargerHandle {
        let (tx, _rx) = mpsc::channel(1);
        ChargerHandle {
            conn_id,
            charger_id: 1,
            version: Version::V16,
            connected_at: chrono::Utc::now().naive_utc(),
            accepted: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            last_frame: Arc::new(LastFrame::new(chrono::Utc::now().naive_utc())),
            tx,
            close: Arc::new(Notify::new()),
        }
    }

    /// A connection accepted earlier whose handshake finishes later never replaces the newer one.
    #[test]
    fn the_newest_accepted_connection_wins() {
        let r = Registry::default();
        let older = r.next_conn_id();
        let newer = r.next_conn_id();
        assert!(r.register("CP", handle(newer)));
        assert!(
            !r.register("CP", handle(older)),
            "the stale connection is refused"
        );
        assert_eq!(r.get("CP").map(|h| h.conn_id), Some(newer));
        let newest = r.next_conn_id();
        assert!(r.register("CP", handle(newest)));
        assert_eq!(r.get("CP").map(|h| h.conn_id), Some(newest));
        assert!(!r.unregister("CP", newer));
        assert!(r.unregister("CP", newest));
    }
}
