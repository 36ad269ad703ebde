//! A charge-point simulator: a real OCPP 1.6J client over WebSocket. `csms simulate` runs it against
//! any central system; the tests and `csms demo` use it as a library.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::infra::timestamps::now_timestamp;
use crate::protocol::frame::Frame;

mod device_model;
mod security;
pub mod tls;
pub mod v201;

type WsStream = tokio_tungstenite::WebSocketStream<tls::SimStream>;

/// How the simulated charger answers RemoteStartTransaction.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RemoteStart {
    /// Accept, then start a transaction and charge
    #[default]
    Accept,
    /// Answer Rejected
    Reject,
    /// Never answer
    Ignore,
    /// Close the connection instead of answering
    Drop,
    /// Lose the connection instead of answering, reconnect, and start the transaction anyway (a
    /// charger that accepted but whose answer never arrived)
    Reconnect,
}

/// How the simulated charger answers RemoteStopTransaction.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RemoteStop {
    /// Accept and stop the transaction
    #[default]
    Accept,
    /// Answer Rejected and charge on
    Reject,
    /// Never answer and charge on
    Ignore,
}

/// How the simulated charger writes the idTag it was given into StartTransaction.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TagCase {
    /// As received
    #[default]
    AsIs,
    /// In lower case (OCPP idTags are case-insensitive)
    Lower,
}

/// The OCPP version the simulated station speaks.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Ocpp {
    #[default]
    #[value(name = "1.6")]
    V16,
    /// See `simulator::v201` for what it does
    #[value(name = "2.0.1")]
    V201,
}

#[derive(clap::Args, Clone, Debug)]
pub struct SimConfig {
    /// The OCPP version to speak
    #[arg(long, value_enum, default_value_t = Ocpp::V16)]
    pub ocpp: Ocpp,
    /// Central system URL; the charger id is appended as the last path segment
    #[arg(long, default_value = "ws://127.0.0.1:9000/ocpp")]
    pub url: String,
    /// chargeBoxIdentity
    #[arg(long, default_value = "DEV1")]
    pub id: String,
    #[arg(long, default_value_t = 2)]
    pub connectors: u32,
    /// OCPP password (HTTP Basic auth, security profile 1)
    #[arg(long)]
    pub password: Option<String>,
    #[arg(long, value_enum, default_value_t = RemoteStart::Accept)]
    pub remote_start: RemoteStart,
    /// Answer RemoteStartTransaction only after this many milliseconds (after the central system
    /// gave up, when longer than its timeout), then start the transaction
    #[arg(long)]
    pub remote_start_delay_ms: Option<u64>,
    #[arg(long, value_enum, default_value_t = RemoteStop::Accept)]
    pub remote_stop: RemoteStop,
    /// The idTag's case in StartTransaction
    #[arg(long, value_enum, default_value_t = TagCase::AsIs)]
    pub id_tag_case: TagCase,
    /// Send every StartTransaction twice (the retry with a fresh timestamp, as firmware does when
    /// it missed the answer); the second answer's transactionId is used
    #[arg(long)]
    pub retry_start_transaction: bool,
    /// Charging power in kW
    #[arg(long, default_value_t = 7.4)]
    pub power_kw: f64,
    /// Seconds between MeterValues during a transaction (0: none)
    #[arg(long, default_value_t = 10)]
    pub meter_interval_secs: u64,
    /// Stop by itself once this much energy went in (the EV is full)
    #[arg(long)]
    pub ev_capacity_kwh: Option<f64>,
    /// Report these connectors as Faulted
    #[arg(long, value_delimiter = ',')]
    pub faulted: Vec<u32>,
    /// Accept RemoteStartTransaction but never send StartTransaction
    #[arg(long)]
    pub no_start_transaction: bool,
    /// Stop every transaction by itself this many milliseconds after starting it
    #[arg(long)]
    pub auto_stop_after_ms: Option<u64>,
    /// The `wss://` URL to use once ChangeConfiguration SecurityProfile 2 or 3 was accepted
    #[arg(long)]
    pub tls_url: Option<String>,
    /// Other addresses of the central system (nodes of a cluster), tried in turn when a reconnect
    /// to the current one fails; the first that answers becomes the current one
    #[arg(long = "fallback-url")]
    pub fallback_urls: Vec<String>,
    /// PEM CA certificate(s) trusted for a `wss://` URL (security profiles 2 and 3)
    #[arg(long)]
    pub ca_cert: Option<std::path::PathBuf>,
    /// PEM client certificate presented over TLS (security profile 3), with --client-key
    #[arg(long, requires = "client_key")]
    pub client_cert: Option<std::path::PathBuf>,
    /// PEM private key of --client-cert
    #[arg(long, requires = "client_cert")]
    pub client_key: Option<std::path::PathBuf>,
}

impl SimConfig {
    pub fn new(url: impl Into<String>, id: impl Into<String>, connectors: u32) -> Self {
        SimConfig {
            ocpp: Ocpp::V16,
            url: url.into(),
            id: id.into(),
            connectors,
            password: None,
            remote_start: RemoteStart::Accept,
            remote_start_delay_ms: None,
            remote_stop: RemoteStop::Accept,
            id_tag_case: TagCase::AsIs,
            retry_start_transaction: false,
            power_kw: 7.4,
            meter_interval_secs: 0,
            ev_capacity_kwh: None,
            faulted: Vec::new(),
            no_start_transaction: false,
            auto_stop_after_ms: None,
            tls_url: None,
            fallback_urls: Vec::new(),
            ca_cert: None,
            client_cert: None,
            client_key: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("connect: {0}")]
    Connect(String),
    #[error("central system answered {code}: {description}")]
    CallError { code: String, description: String },
    #[error("no answer within 30 s")]
    Timeout,
    #[error("connection closed")]
    Closed,
}

type Reply = oneshot::Sender<Result<Value, SimError>>;

/// How a simulated charger learns the version of an image it downloaded (a real charger reads it
/// from the image): given the UpdateFirmware location, the version, if known.
pub type FirmwareVersionOf = Arc<
    dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>>
        + Send
        + Sync,
>;

enum Out {
    Frame(String),
    Close,
}

#[derive(Default)]
struct Shared {
    /// CALLs received from the central system, in order: (action, payload).
    received: Vec<(String, Value)>,
    /// transactionId → (connectorId, meter register Wh at start)
    transactions: HashMap<i64, (u32, f64)>,
    /// Energy register per connector in Wh.
    meters: HashMap<u32, f64>,
    config_keys: HashMap<String, String>,
    boot_interval: u64,
    /// RemoteStartTransaction requests for a connector that already had a transaction.
    busy_rejections: u64,
    /// Transactions lost in a reboot: transactionId → (connectorId, meter register Wh at start).
    lost: HashMap<i64, (u32, f64)>,
    /// Every StartTransaction answer: (transactionId, idTagInfo.status).
    start_answers: Vec<(i64, String)>,
    /// Reservations held: reservationId → (connectorId, idTag).
    reservations: HashMap<i64, (u32, String)>,
    /// What ReserveNow is answered (None: Accepted).
    reserve_answer: Option<String>,
    /// Scripted answers: action → the payload to answer with (nothing else happens).
    answers: HashMap<String, Value>,
    /// The Local Authorization List: its version and entries (idTag → idTagInfo).
    local_list_version: i64,
    local_list: HashMap<String, Value>,
    /// Charging profiles installed: chargingProfileId → (connectorId, profile).
    profiles: HashMap<i64, (u32, Value)>,
    /// The firmware version it reports at boot (None: the crate's version).
    firmware_version: Option<String>,
    /// What an UpdateFirmware installs: (version, whether it sends the Installed notification).
    next_firmware: Option<(String, bool)>,
    /// Without `next_firmware`: where the version of a downloaded image comes from.
    firmware_version_of: Option<FirmwareVersionOf>,
    /// The firmware images it downloaded (bytes).
    downloaded: Vec<Vec<u8>>,
    /// The security extension's state (certificates, logs, signed firmware).
    security: security::SecurityState,
    /// After answering this action, close the connection at once and reconnect.
    reconnect_after: Option<String>,
    /// Actions answered (and carried out) only after this many milliseconds.
    delays: HashMap<String, u64>,
}

/// One WebSocket connection of a simulated charger.
#[derive(Clone)]
struct Link {
    out: mpsc::Sender<Out>,
    closed: Arc<tokio::sync::Notify>,
    is_closed: Arc<std::sync::atomic::AtomicBool>,
}

/// A connected simulated charger. Cloning gives another handle to the same charger; it keeps its
/// transactions and meters across reconnects and reboots, as a real one does.
#[derive(Clone)]
pub struct Simulator {
    cfg: Arc<Mutex<SimConfig>>,
    link: Arc<Mutex<Link>>,
    pending: Arc<Mutex<HashMap<String, Reply>>>,
    shared: Arc<Mutex<Shared>>,
    call_lock: Arc<tokio::sync::Mutex<()>>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
}

/// Uploads a file the way csms asks for it (PUT to its location + the file name); whether it was
/// taken.
async fn upload(location: &str, file: &str, body: String) -> bool {
    let sent = reqwest::Client::new()
        .put(format!("{location}{file}"))
        .body(body)
        .send()
        .await;
    matches!(sent, Ok(r) if r.status().is_success())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Simulator {
    /// Connects and performs the charger's start-up: BootNotification, then a StatusNotification for
    /// the charger (connector 0) and each connector.
    pub async fn connect(cfg: SimConfig) -> Result<Simulator, SimError> {
        let sim = Self::connect_only(cfg).await?;
        sim.boot().await?;
        Ok(sim)
    }

    /// Opens the WebSocket without sending anything.
    pub async fn connect_only(cfg: SimConfig) -> Result<Simulator, SimError> {
        let link = Self::open(&cfg).await?;
        let sim = Simulator {
            cfg: Arc::new(Mutex::new(cfg)),
            link: Arc::new(Mutex::new(link.0.clone())),
            pending: Arc::default(),
            shared: Arc::new(Mutex::new(Shared {
                boot_interval: 300,
                ..Default::default()
            })),
            call_lock: Arc::default(),
            next_id: Arc::default(),
        };
        sim.serve(link);
        Ok(sim)
    }

    /// A new WebSocket for this charger's id and credentials; the frames it reads are handed over
    /// by [`Simulator::serve`].
    async fn open(
        cfg: &SimConfig,
    ) -> Result<(Link, futures_util::stream::SplitStream<WsStream>), SimError> {
        let ws = open_socket(cfg, "ocpp1.6").await?;
        let (mut sink, stream) = ws.split();
        let (out, mut out_rx) = mpsc::channel::<Out>(256);
        tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                match msg {
                    Out::Frame(text) => {
                        if sink.send(Message::text(text)).await.is_err() {
                            break;
                        }
                    }
                    Out::Close => {
                        let _ = sink.close().await;
                        break;
                    }
                }
            }
        });
        let link = Link {
            out,
            closed: Arc::default(),
            is_closed: Arc::default(),
        };
        Ok((link, stream))
    }

    /// Reads a connection's frames until it closes.
    fn serve(&self, (link, mut stream): (Link, futures_util::stream::SplitStream<WsStream>)) {
        let reader = self.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                reader.on_frame(text.as_str()).await;
            }
            for (_, tx) in lock(&reader.pending).drain() {
                let _ = tx.send(Err(SimError::Closed));
            }
            link.is_closed
                .store(true, std::sync::atomic::Ordering::SeqCst);
            link.closed.notify_waiters();
            let _ = link.out.send(Out::Close).await;
        });
    }

    fn link(&self) -> Link {
        lock(&self.link).clone()
    }

    async fn send(&self, text: String) -> Result<(), SimError> {
        self.link()
            .out
            .send(Out::Frame(text))
            .await
            .map_err(|_| SimError::Closed)
    }

    /// Drops the connection and opens a new one, keeping transactions and meters (a network
    /// outage: no BootNotification). CALLs in flight on the old connection fail.
    pub async fn reconnect(&self) -> Result<(), SimError> {
        self.disconnect().await;
        self.closed().await;
        let cfg = lock(&self.cfg).clone();
        let mut failure = None;
        for url in std::iter::once(&cfg.url).chain(&cfg.fallback_urls) {
            let mut attempt = cfg.clone();
            attempt.url = url.clone();
            match Self::open(&attempt).await {
                Ok(link) => {
                    if *url != cfg.url {
                        // This node answered: it is the current one, the old one a fallback.
                        let mut c = lock(&self.cfg);
                        c.fallback_urls.retain(|u| u != url);
                        let old = std::mem::replace(&mut c.url, url.clone());
                        c.fallback_urls.push(old);
                    }
                    *lock(&self.link) = link.0.clone();
                    self.serve(link);
                    return Ok(());
                }
                Err(e) => failure = Some(e),
            }
        }
        Err(failure.unwrap_or(SimError::Closed))
    }

    /// Other addresses tried in turn when a reconnect fails (see [`SimConfig::fallback_urls`]).
    pub fn set_fallback_urls(&self, urls: Vec<String>) {
        lock(&self.cfg).fallback_urls = urls;
    }

    /// Reboots: reconnects and boots again. With `lose_transactions` (power loss, hard reset) the
    /// running transactions are forgotten without StopTransaction and their connectors come back
    /// `Available`; [`Simulator::send_lost_stop`] can still send their StopTransaction later.
    pub async fn reboot(&self, lose_transactions: bool) -> Result<(), SimError> {
        if lose_transactions {
            let mut shared = lock(&self.shared);
            let lost: Vec<(i64, (u32, f64))> = shared.transactions.drain().collect();
            shared.lost.extend(lost);
        }
        self.reconnect().await?;
        self.boot().await
    }

    /// The central system's answers to this charger's StartTransactions: (transactionId, status).
    pub fn start_answers(&self) -> Vec<(i64, String)> {
        lock(&self.shared).start_answers.clone()
    }

    /// Transactions lost in a reboot: transactionId → connectorId.
    pub fn lost_transactions(&self) -> HashMap<i64, u32> {
        lock(&self.shared)
            .lost
            .iter()
            .map(|(t, (c, _))| (*t, *c))
            .collect()
    }

    /// The StopTransaction of a transaction lost in a reboot, sent late (from the charger's queue),
    /// with the meter as it is now.
    pub async fn send_lost_stop(&self, transaction_id: i64) -> Result<Value, SimError> {
        let connector = lock(&self.shared)
            .lost
            .remove(&transaction_id)
            .map(|l| l.0)
            .unwrap_or(1);
        let meter = self.meter_wh(connector).round() as i64;
        self.call("StopTransaction", json!({"transactionId": transaction_id, "meterStop": meter, "timestamp": now_timestamp(), "reason": "PowerLoss"})).await
    }

    /// Energy that flows without being reported (yet): the register moves, no MeterValues is sent.
    pub fn add_energy_without_report(&self, connector: u32, wh: f64) {
        *lock(&self.shared).meters.entry(connector).or_insert(0.0) += wh;
    }

    /// The meter restarts from zero (replaced, or reset by a reboot).
    pub fn reset_meter(&self, connector: u32) {
        lock(&self.shared).meters.insert(connector, 0.0);
    }

    /// The connectors running a transaction.
    fn charging_connectors(&self) -> Vec<u32> {
        lock(&self.shared)
            .transactions
            .values()
            .map(|t| t.0)
            .collect()
    }

    /// Reports every connector's status as the charger sees it (after a reconnect, as chargers
    /// do): `Charging` where it runs a transaction, `Available` elsewhere.
    pub async fn report_statuses(&self) -> Result<(), SimError> {
        let n = lock(&self.cfg).connectors;
        let charging = self.charging_connectors();
        for c in 1..=n {
            let status = if charging.contains(&c) {
                "Charging"
            } else {
                "Available"
            };
            self.status(c, status).await?;
        }
        Ok(())
    }

    /// Where the next (re)connection goes (a charger behind a load balancer that moved it).
    /// This charger's settings (to connect the same charger again elsewhere).
    pub fn config(&self) -> SimConfig {
        lock(&self.cfg).clone()
    }

    pub fn set_url(&self, url: impl Into<String>) {
        lock(&self.cfg).url = url.into();
    }

    /// Firmware quirks: StartTransaction sent twice (retried with a fresh timestamp), idTag case.
    pub fn set_quirks(&self, retry_start_transaction: bool, id_tag_case: TagCase) {
        let mut cfg = lock(&self.cfg);
        cfg.retry_start_transaction = retry_start_transaction;
        cfg.id_tag_case = id_tag_case;
    }

    /// Answer ReserveNow with this status (`Faulted`, `Occupied`, `Rejected`, `Unavailable`);
    /// `None`: Accepted when the connector is free, else Occupied.
    /// Sets a configuration key as GetConfiguration reports it (a real charger's defaults).
    pub fn set_config_key(&self, key: &str, value: &str) {
        lock(&self.shared)
            .config_keys
            .insert(key.to_string(), value.to_string());
    }

    pub fn set_reserve_answer(&self, answer: Option<&str>) {
        lock(&self.shared).reserve_answer = answer.map(str::to_string);
    }

    /// The reservations the charger holds: reservationId → (connectorId, idTag).
    pub fn reservations(&self) -> HashMap<i64, (u32, String)> {
        lock(&self.shared).reservations.clone()
    }

    /// Answers `action` with `answer` from now on (and does nothing else); `None` restores the
    /// simulator's own behaviour.
    pub fn set_answer(&self, action: &str, answer: Option<Value>) {
        let mut shared = lock(&self.shared);
        match answer {
            Some(a) => shared.answers.insert(action.to_string(), a),
            None => shared.answers.remove(action),
        };
    }

    /// The Local Authorization List the charger holds: (listVersion, idTag → idTagInfo).
    pub fn local_list(&self) -> (i64, HashMap<String, Value>) {
        let shared = lock(&self.shared);
        (shared.local_list_version, shared.local_list.clone())
    }

    /// What the next UpdateFirmware installs: the version it then reports at boot, and whether it
    /// sends the Installed notification (some chargers only reboot).
    pub fn set_next_firmware(&self, version: &str, send_installed: bool) {
        lock(&self.shared).next_firmware = Some((version.to_string(), send_installed));
    }

    /// Without [`Simulator::set_next_firmware`], an UpdateFirmware installs the version this tells
    /// for the image's location (`csms demo`: the version of the image csms hosts there), or
    /// `installed` when it does not know.
    pub fn set_firmware_version_of(&self, f: FirmwareVersionOf) {
        lock(&self.shared).firmware_version_of = Some(f);
    }

    /// The firmware images it downloaded.
    pub fn downloaded(&self) -> Vec<Vec<u8>> {
        lock(&self.shared).downloaded.clone()
    }

    fn firmware_version(&self) -> String {
        lock(&self.shared)
            .firmware_version
            .clone()
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string())
    }

    async fn notify(&self, action: &str, status: &str) {
        let _ = self.call(action, json!({ "status": status })).await;
    }

    /// UpdateFirmware: download over HTTP, install, reboot into the new version.
    async fn install_firmware(&self, location: &str) {
        self.notify("FirmwareStatusNotification", "Downloading")
            .await;
        let image = match reqwest::get(location).await {
            Ok(r) if r.status().is_success() => r.bytes().await.ok(),
            _ => None,
        };
        let Some(image) = image else {
            self.notify("FirmwareStatusNotification", "DownloadFailed")
                .await;
            return;
        };
        lock(&self.shared).downloaded.push(image.to_vec());
        self.notify("FirmwareStatusNotification", "Downloaded")
            .await;
        self.notify("FirmwareStatusNotification", "Installing")
            .await;
        let (next, version_of) = {
            let shared = lock(&self.shared);
            (
                shared.next_firmware.clone(),
                shared.firmware_version_of.clone(),
            )
        };
        let (version, send_installed) = match (next, version_of) {
            (Some(next), _) => next,
            (None, Some(version_of)) => (
                version_of(location.to_string())
                    .await
                    .unwrap_or_else(|| "installed".to_string()),
                true,
            ),
            (None, None) => ("installed".to_string(), true),
        };
        lock(&self.shared).firmware_version = Some(version);
        if self.reboot(false).await.is_ok() && send_installed {
            self.notify("FirmwareStatusNotification", "Installed").await;
        }
    }

    /// GetDiagnostics: upload a file over HTTP (PUT `location` + file name).
    async fn upload_diagnostics(&self, location: &str, file: &str) {
        self.notify("DiagnosticsStatusNotification", "Uploading")
            .await;
        let ok = upload(location, file, format!("diagnostics of {}\n", self.id())).await;
        let status = if ok { "Uploaded" } else { "UploadFailed" };
        self.notify("DiagnosticsStatusNotification", status).await;
    }

    /// Empties the Local Authorization List (version 0), as a charger reset to factory settings.
    pub fn clear_local_list(&self) {
        let mut shared = lock(&self.shared);
        shared.local_list.clear();
        shared.local_list_version = 0;
    }

    /// The charging profiles installed: chargingProfileId → (connectorId, profile).
    pub fn profiles(&self) -> HashMap<i64, (u32, Value)> {
        lock(&self.shared).profiles.clone()
    }

    /// Forgets every reservation (they expired on the charger's clock).
    /// Forgets its open transactions without a StopTransaction (lost, without a reboot).
    pub fn drop_transactions(&self) {
        lock(&self.shared).transactions.clear();
    }

    pub fn drop_reservations(&self) {
        lock(&self.shared).reservations.clear();
    }

    /// Holds a reservation the central system did not send (for a StartTransaction that carries a
    /// reservationId, e.g. a group member's card).
    pub fn hold_reservation(&self, reservation_id: i64, connector: u32, id_tag: &str) {
        lock(&self.shared)
            .reservations
            .insert(reservation_id, (connector, id_tag.to_string()));
    }

    /// After answering `action` (with its own or a scripted answer), close the connection at once
    /// and reconnect with the credentials it has then (as chargers do after accepting a new
    /// AuthorizationKey); `None`: stay connected.
    pub fn set_reconnect_after(&self, action: Option<&str>) {
        lock(&self.shared).reconnect_after = action.map(str::to_string);
    }

    /// Answers (and carries out) `action` only after `ms` milliseconds from now on (a charger busy
    /// with it, e.g. storing a long list); `None`: at once.
    pub fn set_answer_delay(&self, action: &str, ms: Option<u64>) {
        let mut shared = lock(&self.shared);
        match ms {
            Some(ms) => shared.delays.insert(action.to_string(), ms),
            None => shared.delays.remove(action),
        };
    }

    pub fn set_remote_stop(&self, behaviour: RemoteStop) {
        lock(&self.cfg).remote_stop = behaviour;
    }

    pub fn set_remote_start_delay_ms(&self, delay: Option<u64>) {
        lock(&self.cfg).remote_start_delay_ms = delay;
    }

    pub fn id(&self) -> String {
        lock(&self.cfg).id.clone()
    }

    pub fn set_remote_start(&self, behaviour: RemoteStart) {
        lock(&self.cfg).remote_start = behaviour;
    }

    /// The CALLs the central system sent, in order.
    pub fn received(&self) -> Vec<(String, Value)> {
        lock(&self.shared).received.clone()
    }

    pub fn received_count(&self, action: &str) -> usize {
        lock(&self.shared)
            .received
            .iter()
            .filter(|(a, _)| a == action)
            .count()
    }

    /// RemoteStartTransaction requests that arrived while the connector already had a transaction
    /// (a double booking seen from the charger's side).
    pub fn busy_rejections(&self) -> u64 {
        lock(&self.shared).busy_rejections
    }

    /// Transactions this charger is running: transactionId → connectorId.
    pub fn open_transactions(&self) -> HashMap<i64, u32> {
        lock(&self.shared)
            .transactions
            .iter()
            .map(|(t, (c, _))| (*t, *c))
            .collect()
    }

    pub async fn boot(&self) -> Result<(), SimError> {
        let resp = self
            .call("BootNotification", json!({"chargePointVendor": "csms", "chargePointModel": "Simulator", "firmwareVersion": self.firmware_version(), "chargePointSerialNumber": format!("SIM-{}", self.id())}))
            .await?;
        lock(&self.shared).boot_interval = resp["interval"].as_u64().unwrap_or(300).max(1);
        self.status(0, "Available").await?;
        let (n, faulted) = {
            let cfg = lock(&self.cfg);
            (cfg.connectors, cfg.faulted.clone())
        };
        let charging = self.charging_connectors();
        for c in 1..=n {
            if faulted.contains(&c) {
                self.call("StatusNotification", json!({"connectorId": c, "errorCode": "GroundFailure", "status": "Faulted", "timestamp": now_timestamp()})).await?;
            } else if charging.contains(&c) {
                self.status(c, "Charging").await?; // a transaction kept across the reboot
            } else {
                self.status(c, "Available").await?;
            }
        }
        Ok(())
    }

    /// Sends heartbeats at the interval the central system asked for, until the connection closes.
    pub fn spawn_heartbeats(&self) {
        let sim = self.clone();
        tokio::spawn(async move {
            loop {
                let every = lock(&sim.shared).boot_interval;
                tokio::time::sleep(Duration::from_secs(every)).await;
                if sim.call("Heartbeat", json!({})).await.is_err() {
                    break;
                }
            }
        });
    }

    pub async fn status(&self, connector: u32, status: &str) -> Result<Value, SimError> {
        self.call("StatusNotification", json!({"connectorId": connector, "errorCode": "NoError", "status": status, "timestamp": now_timestamp()})).await
    }

    /// A CP→CS CALL; one at a time, as OCPP-J requires.
    pub async fn call(&self, action: &str, payload: Value) -> Result<Value, SimError> {
        let _one_at_a_time = self.call_lock.lock().await;
        let id = format!(
            "sim-{}",
            self.next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        let text = Frame::call(id.clone(), action, payload).to_text();
        self.send(text).await?;
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(SimError::Closed),
            Err(_) => {
                lock(&self.pending).remove(&id);
                Err(SimError::Timeout)
            }
        }
    }

    /// Sends any text and returns the central system's reply to the message id `reply_to`.
    pub async fn send_raw(&self, text: &str, reply_to: &str) -> Result<Value, SimError> {
        let _one_at_a_time = self.call_lock.lock().await;
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(reply_to.to_string(), tx);
        self.send(text.to_string()).await?;
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(r)) => r,
            _ => Err(SimError::Timeout),
        }
    }

    pub fn meter_wh(&self, connector: u32) -> f64 {
        lock(&self.shared)
            .meters
            .get(&connector)
            .copied()
            .unwrap_or(0.0)
    }

    /// Starts a transaction as if a driver presented `id_tag` (RFID) on `connector`.
    pub async fn start_transaction(&self, connector: u32, id_tag: &str) -> Result<i64, SimError> {
        let _ = self.status(connector, "Preparing").await;
        let meter = self.meter_wh(connector);
        let (case, retry) = {
            let cfg = lock(&self.cfg);
            (cfg.id_tag_case, cfg.retry_start_transaction)
        };
        let id_tag = match case {
            TagCase::AsIs => id_tag.to_string(),
            TagCase::Lower => id_tag.to_lowercase(),
        };
        // A reservation for this idTag on this connector (or the whole charger) is used up by it.
        let reservation = {
            let mut shared = lock(&self.shared);
            let found = shared
                .reservations
                .iter()
                .find(|(_, (c, t))| (*c == connector || *c == 0) && t.eq_ignore_ascii_case(&id_tag))
                .map(|(id, _)| *id);
            if let Some(id) = found {
                shared.reservations.remove(&id);
            }
            found
        };
        let body = |timestamp: String| {
            let mut b = json!({"connectorId": connector, "idTag": id_tag, "meterStart": meter.round() as i64, "timestamp": timestamp});
            if let Some(id) = reservation {
                b["reservationId"] = json!(id);
            }
            b
        };
        let answered = |resp: &Value| -> Result<i64, SimError> {
            let tx = resp["transactionId"].as_i64().ok_or(SimError::Closed)?;
            let status = resp["idTagInfo"]["status"]
                .as_str()
                .unwrap_or("")
                .to_string();
            lock(&self.shared).start_answers.push((tx, status));
            Ok(tx)
        };
        let mut tx = answered(&self.call("StartTransaction", body(now_timestamp())).await?)?;
        if retry {
            // The firmware missed the answer and sends the message again, freshly stamped.
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx = answered(&self.call("StartTransaction", body(now_timestamp())).await?)?;
        }
        lock(&self.shared)
            .transactions
            .insert(tx, (connector, meter));
        let _ = self.status(connector, "Charging").await;
        let interval = lock(&self.cfg).meter_interval_secs;
        if interval > 0 {
            let sim = self.clone();
            tokio::spawn(async move { sim.meter_loop(tx, connector, interval).await });
        }
        Ok(tx)
    }

    /// Adds energy to a connector's register and reports it with MeterValues.
    pub async fn add_energy(&self, transaction_id: i64, wh: f64) -> Result<Value, SimError> {
        let connector = lock(&self.shared)
            .transactions
            .get(&transaction_id)
            .map(|t| t.0)
            .unwrap_or(1);
        let register = {
            let mut shared = lock(&self.shared);
            let m = shared.meters.entry(connector).or_insert(0.0);
            *m += wh;
            *m
        };
        let power = lock(&self.cfg).power_kw * 1000.0;
        self.call(
            "MeterValues",
            json!({"connectorId": connector, "transactionId": transaction_id, "meterValue": [{"timestamp": now_timestamp(), "sampledValue": [
                {"value": format!("{}", register.round() as i64), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
                {"value": format!("{power:.0}"), "measurand": "Power.Active.Import", "unit": "W", "context": "Sample.Periodic"}
            ]}]}),
        )
        .await
    }

    async fn meter_loop(&self, tx: i64, connector: u32, interval: u64) {
        loop {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            let running = lock(&self.shared).transactions.contains_key(&tx);
            if !running {
                return;
            }
            let (kw, cap) = {
                let cfg = lock(&self.cfg);
                (cfg.power_kw, cfg.ev_capacity_kwh)
            };
            let wh = kw * 1000.0 * interval as f64 / 3600.0;
            if self.add_energy(tx, wh).await.is_err() {
                return;
            }
            let start = lock(&self.shared)
                .transactions
                .get(&tx)
                .map(|t| t.1)
                .unwrap_or(0.0);
            if cap.is_some_and(|cap| self.meter_wh(connector) - start >= cap * 1000.0) {
                let _ = self.stop_transaction(tx, "EVDisconnected").await;
                return;
            }
        }
    }

    /// Ends a transaction with StopTransaction and frees the connector.
    pub async fn stop_transaction(
        &self,
        transaction_id: i64,
        reason: &str,
    ) -> Result<Value, SimError> {
        let entry = {
            let mut shared = lock(&self.shared);
            // A TxProfile ends with its transaction.
            shared
                .profiles
                .retain(|_, (_, p)| p["transactionId"].as_i64() != Some(transaction_id));
            shared.transactions.remove(&transaction_id)
        };
        let connector = entry.map(|e| e.0).unwrap_or(1);
        let _ = self.status(connector, "Finishing").await;
        let meter = self.meter_wh(connector).round() as i64;
        let resp = self
            .call("StopTransaction", json!({"transactionId": transaction_id, "meterStop": meter, "timestamp": now_timestamp(), "reason": reason}))
            .await;
        let _ = self.status(connector, "Available").await;
        resp
    }

    /// Closes the WebSocket.
    pub async fn disconnect(&self) {
        let _ = self.link().out.send(Out::Close).await;
    }

    /// Resolves when the current connection is gone.
    pub async fn closed(&self) {
        let link = self.link();
        let notified = link.closed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if link.is_closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        notified.await
    }

    pub fn is_closed(&self) -> bool {
        self.link()
            .is_closed
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Answers a TriggerMessage or ExtendedTriggerMessage: Accepted when the message it requests
    /// is one of `supported`, else NotImplemented. Returns the requested message.
    async fn answer_trigger(&self, id: &str, payload: &Value, supported: &[&str]) -> String {
        let requested = payload["requestedMessage"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let status = if supported.contains(&requested.as_str()) {
            "Accepted"
        } else {
            "NotImplemented"
        };
        self.reply(id, json!({ "status": status })).await;
        requested
    }

    /// A triggered status notification (`action`) while nothing is in progress: Idle.
    async fn report_idle(&self, action: &str) {
        let _ = self.call(action, json!({"status": "Idle"})).await;
    }

    async fn reply(&self, id: &str, payload: Value) {
        let frame = Frame::CallResult {
            id: id.to_string(),
            payload,
        };
        let _ = self.send(frame.to_text()).await;
    }

    async fn on_frame(&self, text: &str) {
        let frame = match Frame::parse(text) {
            Ok(f) => f,
            Err(e) => {
                log::warn!("simulator: bad frame from central system: {}", e.error);
                return;
            }
        };
        match frame {
            Frame::CallResult { id, payload } => {
                if let Some(tx) = lock(&self.pending).remove(&id) {
                    let _ = tx.send(Ok(payload));
                }
            }
            Frame::CallError {
                id,
                code,
                description,
                ..
            } => {
                if let Some(tx) = lock(&self.pending).remove(&id) {
                    let _ = tx.send(Err(SimError::CallError { code, description }));
                }
            }
            Frame::Call {
                id,
                action,
                payload,
            } => {
                lock(&self.shared)
                    .received
                    .push((action.clone(), payload.clone()));
                // Answer from a task so the reader keeps reading answers to our own calls.
                let sim = self.clone();
                tokio::spawn(async move { sim.on_call(id, action, payload).await });
            }
        }
    }

    async fn on_call(&self, id: String, action: String, payload: Value) {
        let (again, delay) = {
            let shared = lock(&self.shared);
            (
                shared.reconnect_after.as_deref() == Some(action.as_str()),
                shared.delays.get(&action).copied(),
            )
        };
        if let Some(ms) = delay {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        self.answer_call(id, action, payload).await;
        if again && let Err(e) = self.reconnect().await {
            log::warn!("simulator {}: reconnect failed: {e}", self.id());
        }
    }

    async fn answer_call(&self, id: String, action: String, payload: Value) {
        let scripted = lock(&self.shared).answers.get(&action).cloned();
        if let Some(answer) = scripted {
            self.reply(&id, answer).await;
            return;
        }
        if self.on_security_call(&id, &action, &payload).await {
            return;
        }
        match action.as_str() {
            "RemoteStartTransaction" => {
                let behaviour = lock(&self.cfg).remote_start;
                match behaviour {
                    RemoteStart::Ignore => {}
                    RemoteStart::Drop => self.disconnect().await,
                    RemoteStart::Reject => self.reply(&id, json!({"status": "Rejected"})).await,
                    RemoteStart::Accept | RemoteStart::Reconnect => {
                        let connector = payload["connectorId"].as_u64().unwrap_or(1) as u32;
                        let tag = payload["idTag"].as_str().unwrap_or_default();
                        let busy = {
                            let shared = lock(&self.shared);
                            shared.transactions.values().any(|t| t.0 == connector)
                                || shared
                                    .reservations
                                    .values()
                                    .any(|(c, t)| *c == connector && !t.eq_ignore_ascii_case(tag))
                        };
                        if busy {
                            lock(&self.shared).busy_rejections += 1;
                            self.reply(&id, json!({"status": "Rejected"})).await;
                            return;
                        }
                        let delay = lock(&self.cfg).remote_start_delay_ms;
                        if let Some(ms) = delay {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                        if behaviour == RemoteStart::Reconnect {
                            // The answer is lost with the connection; the charger starts anyway.
                            if let Err(e) = self.reconnect().await {
                                log::warn!("simulator {}: reconnect failed: {e}", self.id());
                                return;
                            }
                        } else {
                            self.reply(&id, json!({"status": "Accepted"})).await;
                        }
                        if !lock(&self.cfg).no_start_transaction {
                            let tag = payload["idTag"].as_str().unwrap_or_default().to_string();
                            match self.start_transaction(connector, &tag).await {
                                Err(e) => log::warn!(
                                    "simulator {}: StartTransaction failed: {e}",
                                    self.id()
                                ),
                                Ok(tx) => {
                                    let auto_stop = lock(&self.cfg).auto_stop_after_ms;
                                    if let Some(ms) = auto_stop {
                                        tokio::time::sleep(Duration::from_millis(ms)).await;
                                        let _ = self.stop_transaction(tx, "Local").await;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            "RemoteStopTransaction" => {
                let tx = payload["transactionId"].as_i64().unwrap_or(-1);
                let behaviour = lock(&self.cfg).remote_stop;
                match behaviour {
                    RemoteStop::Accept => {}
                    RemoteStop::Ignore => return,
                    RemoteStop::Reject => {
                        self.reply(&id, json!({"status": "Rejected"})).await;
                        return;
                    }
                }
                let known = lock(&self.shared).transactions.contains_key(&tx);
                self.reply(
                    &id,
                    json!({"status": if known { "Accepted" } else { "Rejected" }}),
                )
                .await;
                if known {
                    let _ = self.stop_transaction(tx, "Remote").await;
                }
            }
            "Reset" | "ClearCache" | "ChangeAvailability" => {
                self.reply(&id, json!({"status": "Accepted"})).await;
                if action == "ChangeAvailability" {
                    let c = payload["connectorId"].as_u64().unwrap_or(0) as u32;
                    let status = if payload["type"] == "Inoperative" {
                        "Unavailable"
                    } else {
                        "Available"
                    };
                    let _ = self.status(c, status).await;
                }
            }
            "UnlockConnector" => self.reply(&id, json!({"status": "Unlocked"})).await,
            "GetLocalListVersion" => {
                let v = lock(&self.shared).local_list_version;
                self.reply(&id, json!({"listVersion": v})).await;
            }
            "SendLocalList" => {
                let version = payload["listVersion"].as_i64().unwrap_or(0);
                let full = payload["updateType"] == "Full";
                {
                    let mut shared = lock(&self.shared);
                    if full {
                        shared.local_list.clear();
                    }
                    for entry in payload["localAuthorizationList"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                    {
                        let tag = entry["idTag"].as_str().unwrap_or_default().to_string();
                        match entry.get("idTagInfo") {
                            Some(info) => {
                                shared.local_list.insert(tag, info.clone());
                            }
                            None => {
                                shared.local_list.remove(&tag);
                            }
                        }
                    }
                    shared.local_list_version = version;
                }
                self.reply(&id, json!({"status": "Accepted"})).await;
            }
            "SetChargingProfile" => {
                let connector = payload["connectorId"].as_u64().unwrap_or(0) as u32;
                let profile = payload["csChargingProfiles"].clone();
                let pid = profile["chargingProfileId"].as_i64().unwrap_or(0);
                {
                    let mut shared = lock(&self.shared);
                    // The same stackLevel and purpose on the same connector: replaced.
                    shared.profiles.retain(|_, (c, p)| {
                        !(*c == connector
                            && p["stackLevel"] == profile["stackLevel"]
                            && p["chargingProfilePurpose"] == profile["chargingProfilePurpose"])
                    });
                    shared.profiles.insert(pid, (connector, profile));
                }
                self.reply(&id, json!({"status": "Accepted"})).await;
            }
            "ClearChargingProfile" => {
                let removed = {
                    let mut shared = lock(&self.shared);
                    let before = shared.profiles.len();
                    shared.profiles.retain(|pid, (c, p)| {
                        let by_id = payload["id"].as_i64().is_some_and(|i| i == *pid);
                        let by_connector = payload["connectorId"]
                            .as_u64()
                            .is_none_or(|x| x as u32 == *c);
                        let by_purpose = payload["chargingProfilePurpose"]
                            .as_str()
                            .is_none_or(|x| p["chargingProfilePurpose"] == x);
                        let by_level = payload["stackLevel"]
                            .as_i64()
                            .is_none_or(|x| p["stackLevel"] == x);
                        let matches = if payload.get("id").is_some() {
                            by_id
                        } else {
                            by_connector && by_purpose && by_level
                        };
                        !matches
                    });
                    before - shared.profiles.len()
                };
                let status = if removed > 0 { "Accepted" } else { "Unknown" };
                self.reply(&id, json!({"status": status})).await;
            }
            "GetCompositeSchedule" => {
                let connector = payload["connectorId"].as_u64().unwrap_or(0);
                let duration = payload["duration"].as_i64().unwrap_or(0);
                let unit = payload["chargingRateUnit"].as_str().unwrap_or("A");
                let limit = if unit == "W" { 11_000.0 } else { 16.0 };
                self.reply(
                    &id,
                    json!({"status": "Accepted", "connectorId": connector, "scheduleStart": now_timestamp(),
                        "chargingSchedule": {"duration": duration, "chargingRateUnit": unit,
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}}),
                )
                .await;
            }
            "UpdateFirmware" => {
                self.reply(&id, json!({})).await;
                let sim = self.clone();
                let location = payload["location"].as_str().unwrap_or_default().to_string();
                tokio::spawn(async move { sim.install_firmware(&location).await });
            }
            "GetDiagnostics" => {
                let file = format!("diagnostics-{}.log", self.id());
                self.reply(&id, json!({"fileName": file})).await;
                let sim = self.clone();
                let location = payload["location"].as_str().unwrap_or_default().to_string();
                tokio::spawn(async move { sim.upload_diagnostics(&location, &file).await });
            }
            "ReserveNow" => {
                let connector = payload["connectorId"].as_u64().unwrap_or(0) as u32;
                let reservation = payload["reservationId"].as_i64().unwrap_or(-1);
                let tag = payload["idTag"].as_str().unwrap_or_default().to_string();
                let answer = {
                    let mut shared = lock(&self.shared);
                    let occupied = shared.transactions.values().any(|t| t.0 == connector)
                        || shared
                            .reservations
                            .iter()
                            .any(|(id, (c, _))| *c == connector && *id != reservation);
                    let answer = match shared.reserve_answer.clone() {
                        Some(a) => a,
                        None if occupied => "Occupied".to_string(),
                        None => "Accepted".to_string(),
                    };
                    if answer == "Accepted" {
                        shared.reservations.insert(reservation, (connector, tag));
                    }
                    answer
                };
                self.reply(&id, json!({"status": answer})).await;
                if answer == "Accepted" && connector > 0 {
                    let _ = self.status(connector, "Reserved").await;
                }
            }
            "CancelReservation" => {
                let reservation = payload["reservationId"].as_i64().unwrap_or(-1);
                let removed = lock(&self.shared).reservations.remove(&reservation);
                let status = if removed.is_some() {
                    "Accepted"
                } else {
                    "Rejected"
                };
                self.reply(&id, json!({"status": status})).await;
                if let Some((connector, _)) = removed
                    && connector > 0
                {
                    let _ = self.status(connector, "Available").await;
                }
            }
            "DataTransfer" => {
                self.reply(&id, json!({"status": "Accepted", "data": "ok"}))
                    .await
            }
            "GetConfiguration" => {
                let wanted: Vec<String> = payload["key"]
                    .as_array()
                    .map(|k| {
                        k.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let (keys, unknown) = {
                    let shared = lock(&self.shared);
                    let cfg = lock(&self.cfg);
                    let mut all: Vec<(String, String, bool)> = vec![
                        (
                            "HeartbeatInterval".into(),
                            shared.boot_interval.to_string(),
                            false,
                        ),
                        (
                            "MeterValueSampleInterval".into(),
                            cfg.meter_interval_secs.to_string(),
                            false,
                        ),
                        (
                            "NumberOfConnectors".into(),
                            cfg.connectors.to_string(),
                            true,
                        ),
                    ];
                    for (k, v) in &shared.config_keys {
                        if !all.iter().any(|(n, _, _)| n == k) {
                            all.push((k.clone(), v.clone(), false));
                        }
                    }
                    let pick: Vec<Value> = all
                        .iter()
                        .filter(|(k, _, _)| wanted.is_empty() || wanted.contains(k))
                        .map(|(k, v, ro)| json!({"key": k, "readonly": ro, "value": v}))
                        .collect();
                    let unknown: Vec<String> = wanted
                        .iter()
                        .filter(|w| !all.iter().any(|(k, _, _)| k == *w))
                        .cloned()
                        .collect();
                    (pick, unknown)
                };
                let mut resp = json!({"configurationKey": keys});
                if !unknown.is_empty() {
                    resp["unknownKey"] = json!(unknown);
                }
                self.reply(&id, resp).await;
            }
            "ChangeConfiguration" => {
                let key = payload["key"].as_str().unwrap_or_default().to_string();
                let value = payload["value"].as_str().unwrap_or_default().to_string();
                // Keys are CiString (case-insensitive), as on a real charger.
                if key.eq_ignore_ascii_case("MeterValueSampleInterval")
                    && let Ok(v) = value.parse()
                {
                    lock(&self.cfg).meter_interval_secs = v;
                }
                if key.eq_ignore_ascii_case("AuthorizationKey") {
                    // The next connection authenticates with it.
                    lock(&self.cfg).password = Some(value.clone());
                }
                if key.eq_ignore_ascii_case("SecurityProfile")
                    && value.parse::<u8>().is_ok_and(|p| p >= 2)
                {
                    // From the next connection on (after a Reset), over TLS.
                    let mut cfg = lock(&self.cfg);
                    if let Some(url) = cfg.tls_url.clone() {
                        cfg.url = url;
                    }
                }
                lock(&self.shared).config_keys.insert(key, value);
                self.reply(&id, json!({"status": "Accepted"})).await;
            }
            "TriggerMessage" => {
                let requested = self
                    .answer_trigger(
                        &id,
                        &payload,
                        &[
                            "BootNotification",
                            "Heartbeat",
                            "StatusNotification",
                            "MeterValues",
                            "DiagnosticsStatusNotification",
                            "FirmwareStatusNotification",
                        ],
                    )
                    .await;
                match requested.as_str() {
                    "BootNotification" => {
                        let _ = self.call("BootNotification", json!({"chargePointVendor": "csms", "chargePointModel": "Simulator"})).await;
                    }
                    "Heartbeat" => {
                        let _ = self.call("Heartbeat", json!({})).await;
                    }
                    "DiagnosticsStatusNotification" | "FirmwareStatusNotification" => {
                        self.report_idle(&requested).await;
                    }
                    "StatusNotification" => {
                        let c = payload["connectorId"].as_u64().unwrap_or(0) as u32;
                        let _ = self.status(c, "Available").await;
                    }
                    "MeterValues" => {
                        let c = payload["connectorId"].as_u64().unwrap_or(1) as u32;
                        let wh = self.meter_wh(c).round() as i64;
                        let _ = self.call("MeterValues", json!({"connectorId": c, "meterValue": [{"timestamp": now_timestamp(), "sampledValue": [{"value": wh.to_string()}]}]})).await;
                    }
                    _ => {}
                }
            }
            other => {
                let e = crate::protocol::frame::OcppError::new(
                    crate::protocol::frame::ErrorCode::NotImplemented,
                    format!("{other} is not implemented by the simulator"),
                );
                let _ = self.send(Frame::error(id, &e).to_text()).await;
            }
        }
    }
}

/// A WebSocket to the central system for `cfg`'s charger id and credentials (TLS when a CA is
/// given), offering `protocol`.
pub(crate) async fn open_socket(
    cfg: &SimConfig,
    protocol: &'static str,
) -> Result<WsStream, SimError> {
    let url = format!("{}/{}", cfg.url.trim_end_matches('/'), cfg.id);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| SimError::Connect(e.to_string()))?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
    if let Some(pw) = &cfg.password {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{pw}", cfg.id));
        let value = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|e| SimError::Connect(e.to_string()))?;
        request.headers_mut().insert("Authorization", value);
    }
    let tls = match &cfg.ca_cert {
        Some(ca) => Some(
            tls::client_config(ca, cfg.client_cert.as_deref(), cfg.client_key.as_deref())
                .map_err(SimError::Connect)?,
        ),
        None => None,
    };
    let stream = tls::connect(request.uri(), tls)
        .await
        .map_err(SimError::Connect)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, None)
        .await
        .map_err(|e| SimError::Connect(e.to_string()))?;
    Ok(ws)
}

/// `csms simulate`: connect, boot, heartbeat, and serve; reconnects when the connection drops
/// (as a real charger does), until Ctrl-C.
pub async fn run_cli(cfg: SimConfig) -> Result<(), SimError> {
    if cfg.ocpp == Ocpp::V201 {
        return v201::run_cli(cfg).await;
    }
    let mut cfg = cfg;
    let mut first = true;
    loop {
        match Simulator::connect(cfg.clone()).await {
            Ok(sim) => {
                log::info!("simulator {} connected and booted", sim.id());
                sim.spawn_heartbeats();
                tokio::select! {
                    _ = sim.closed() => log::info!("connection closed; reconnecting in 3 s"),
                    _ = tokio::signal::ctrl_c() => {
                        sim.disconnect().await;
                        return Ok(());
                    }
                }
            }
            // A wrong URL or a refused handshake at start-up is an error to report, not to retry.
            Err(e) if first => return Err(e),
            Err(e) => {
                log::warn!("reconnect to {} failed: {e}; retrying in 3 s", cfg.url);
                // The next address of the central system (another node of a cluster), if any.
                if !cfg.fallback_urls.is_empty() {
                    let next = cfg.fallback_urls.remove(0);
                    let old = std::mem::replace(&mut cfg.url, next);
                    cfg.fallback_urls.push(old);
                }
            }
        }
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(3)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
