//! Cluster mode: several csms nodes on one PostgreSQL database, talking over NATS.
//!
//! PostgreSQL stays the single source of truth; NATS only carries what must reach another node now:
//! - **ownership**: a charger's WebSocket lives on one node. When it connects, the node takes the
//!   charger's `charger_owners` row with one upsert that raises its epoch, and broadcasts the claim
//!   (`<prefix>.claims`). A node holding an older epoch closes its socket on that broadcast (the
//!   newer connection fences the older one). A node that missed broadcasts because it stalled (its
//!   heartbeat is older than its lease) checks its row before it handles anything for a charger;
//!
//! - **routing**: a call for a charger held elsewhere is a NATS request to the holder
//!   (`<prefix>.node.<id>.call`), which queues it like a call of its own (one call in flight per
//!   charger, same timeouts). No holder: `Charger is offline`. NATS down: 503;
//! - **wake-ups and live events**: every node tails the outbox in commit order itself (the database
//!   is the record; nothing is lost when NATS is down); a commit on one node wakes the others'
//!   tails at once (`<prefix>.outbox`), live-only events (meter progress) go to every node's
//!   subscribers (`<prefix>.live`), and occupancy hints are dropped cluster-wide
//!   (`<prefix>.occupancy`).
//!
//! Every message is sealed with an HMAC-SHA256 over its subject and body, keyed from the JWT secret
//! all nodes share ([`Seal`]); a node ignores what does not verify, so a NATS user that is not a node
//! of this cluster can neither send OCPP commands through `<prefix>.node.<id>.call` nor fake claims
//! or events. Routed calls also carry a timestamp and a nonce, so a recorded call cannot be replayed.
//!
//! What this node tells the others waits in a bounded queue while NATS is unreachable
//! ([`Pending`]): claims (the latest per charger), one wake-up and the occupancy releases are kept;
//! live progress events are dropped first.
//!
//! Messages from this node come back to it over NATS and are ignored.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_nats::connection::State as NatsState;
use dashmap::DashMap;
use diesel::prelude::*;
use futures_util::StreamExt;
use ring::hmac;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

use crate::domain::charging::occupancy::{Occupancy as Marks, OccupancyPeers};
use crate::error::AppError;
use crate::infra::config::{NatsAuth, Settings};
use crate::infra::db::schema::{charger_owners, leases, nodes};
use crate::infra::db::{Db, DbConnection, now};
use crate::infra::events::{Event, EventBus, EventPeers};
use crate::protocol::registry::{CallFailure, Registry, RemoteAnswer, RemoteStations};

/// How long a request to another node may take beyond the call's own timeout.
const ROUTING_MARGIN: Duration = Duration::from_secs(2);
/// How often the map of chargers held elsewhere is rebuilt from the database.
const RESYNC_EVERY: Duration = Duration::from_secs(15);
/// Live events kept while NATS cannot take them: the newest this many …
const LIVE_QUEUE_EVENTS: usize = 1024;
/// … and at most this many bytes of them.
const LIVE_QUEUE_BYTES: usize = 1 << 20;
/// A live event older than this is dropped rather than delivered late.
const LIVE_MAX_AGE: Duration = Duration::from_secs(10);
/// Occupancy releases kept charger by charger; past this, one release of every charger.
const RELEASES_KEPT: usize = 4096;
/// How far a routed call's timestamp may be from the receiving node's clock.
const CALL_FRESHNESS: Duration = Duration::from_secs(30);
/// A refused message is logged at most this often (the metric counts every one).
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

/// What this node tells the others (queued, sent by one task).
#[derive(Debug)]
enum Notice {
    Claim(Claim),
    Wake,
    /// A serialized [`LiveEvent`].
    Live(Vec<u8>),
    Release(Option<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claim {
    device: String,
    node: String,
    epoch: i64,
    /// The node let the charger go (it disconnected); otherwise it took it.
    released: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LiveEvent {
    node: String,
    name: String,
    customer_id: Option<i64>,
    charger_id: Option<i64>,
    payload: Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct Occupancy {
    node: String,
    /// `None`: every charger.
    device: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Wake {
    node: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CallRequest {
    device: String,
    action: String,
    payload: Value,
    timeout_ms: u64,
    /// The sending node (for the logs).
    from: String,
    /// Unix time of sending, in milliseconds: a call older than [`CALL_FRESHNESS`] is refused.
    issued_ms: i64,
    /// Unique per call: a call whose nonce was seen is a replay and is refused. The answer is
    /// sealed over it, so an answer cannot be replayed either.
    nonce: String,
}

/// Authenticity of cluster messages: HMAC-SHA256 with a key every node derives from the JWT
/// secret they share. A sealed message is the 64 hex digits of the MAC over `context NUL body`,
/// then the body; the context is the NATS subject (an answer: the call's nonce), so a message
/// sealed for one subject does not verify on another.
pub struct Seal {
    key: hmac::Key,
}

impl Seal {
    /// The key for cluster messages, derived from (not equal to) the JWT secret.
    pub fn derive(secret: &[u8]) -> Seal {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let key = hmac::sign(&root, b"csms cluster messages v1");
        Seal {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()),
        }
    }

    fn signed(context: &str, body: &[u8]) -> Vec<u8> {
        let mut data = Vec::with_capacity(context.len() + 1 + body.len());
        data.extend_from_slice(context.as_bytes());
        data.push(0);
        data.extend_from_slice(body);
        data
    }

    pub fn seal(&self, context: &str, body: &[u8]) -> Vec<u8> {
        let tag = hmac::sign(&self.key, &Self::signed(context, body));
        let mut out = Vec::with_capacity(64 + body.len());
        out.extend_from_slice(hex::encode(tag.as_ref()).as_bytes());
        out.extend_from_slice(body);
        out
    }

    /// The body of a message sealed for `context` with this key, or `None` (constant-time check).
    pub fn open<'a>(&self, context: &str, message: &'a [u8]) -> Option<&'a [u8]> {
        let (tag, body) = message.split_at_checked(64)?;
        let tag = hex::decode(tag).ok()?;
        hmac::verify(&self.key, &Self::signed(context, body), &tag).ok()?;
        Some(body)
    }
}

/// The notices waiting to be published, bounded whatever the length of a NATS outage:
/// - claims: the latest per charger (the highest epoch; a release after the take of the same
///   epoch), so at most one per charger this node held;
/// - wake-ups: one (the others' outbox tails read everything committed since);
/// - occupancy releases: one per charger up to [`RELEASES_KEPT`], then one for every charger
///   (a release only makes the others ask the database sooner);
/// - live events: the newest [`LIVE_QUEUE_EVENTS`] within [`LIVE_QUEUE_BYTES`]; older ones are
///   dropped (counted in `csms_cluster_live_events_dropped_total`).
#[derive(Default, Debug)]
struct Pending {
    wake: bool,
    claims: HashMap<String, Claim>,
    releases: HashSet<String>,
    release_all: bool,
    live: VecDeque<(Instant, Vec<u8>)>,
    live_bytes: usize,
}

impl Pending {
    /// Queues a notice; returns how many live events it pushed out.
    fn push(&mut self, notice: Notice) -> u64 {
        match notice {
            Notice::Wake => self.wake = true,
            Notice::Claim(claim) => {
                let newer = self
                    .claims
                    .get(&claim.device)
                    .is_none_or(|queued| queued.epoch <= claim.epoch);
                if newer {
                    self.claims.insert(claim.device.clone(), claim);
                }
            }
            Notice::Release(None) => {
                self.release_all = true;
                self.releases.clear();
            }
            Notice::Release(Some(device)) => {
                if !self.release_all {
                    self.releases.insert(device);
                    if self.releases.len() > RELEASES_KEPT {
                        self.release_all = true;
                        self.releases.clear();
                    }
                }
            }
            Notice::Live(body) => {
                self.live_bytes += body.len();
                self.live.push_back((Instant::now(), body));
                let mut dropped = 0;
                while self.live.len() > LIVE_QUEUE_EVENTS || self.live_bytes > LIVE_QUEUE_BYTES {
                    let Some((_, old)) = self.live.pop_front() else {
                        break;
                    };
                    self.live_bytes -= old.len();
                    dropped += 1;
                }
                return dropped;
            }
        }
        0
    }

    /// Notices queued.
    fn len(&self) -> usize {
        usize::from(self.wake)
            + self.claims.len()
            + self.releases.len()
            + usize::from(self.release_all)
            + self.live.len()
    }
}

pub struct Cluster {
    pub node_id: String,
    client: async_nats::Client,
    prefix: String,
    /// Chargers held by other nodes: deviceId → (node, epoch).
    elsewhere: DashMap<String, (String, i64)>,
    /// Chargers held here: deviceId → epoch.
    here: DashMap<String, i64>,
    /// Notices waiting for NATS (bounded), and the sender's wake-up.
    pending: Mutex<Pending>,
    queued: Notify,
    /// Live events are being dropped (logged once per outage).
    dropping: AtomicBool,
    seal: Seal,
    /// Nonces of routed calls served recently → when they may be forgotten.
    nonces: DashMap<String, Instant>,
    /// Milliseconds since `origin` of the last refused message logged.
    refusal_logged_ms: AtomicU64,
    /// Milliseconds since `origin` of this node's last recorded heartbeat.
    last_beat_ms: AtomicU64,
    origin: Instant,
    lease: Duration,
    /// Calls routed to other nodes (for `/metrics` and the cluster view).
    pub routed: AtomicU64,
}

/// A NATS subject token made of a node id (dots and wildcards are not allowed in a token).
fn token(node: &str) -> String {
    node.chars()
        .map(|c| match c {
            '.' | '*' | '>' | ' ' | '\t' => '_',
            c => c,
        })
        .collect()
}

fn unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A NATS URL without the credentials it may carry (`nats://user:pass@host`), for the logs.
pub fn redact(url: &str) -> String {
    crate::infra::db::redact(url)
}

/// The connection options of the settings: authentication (one way), TLS, and this cluster's
/// inbox prefix (answers to routed calls stay under `<prefix>.`, so one permission covers all).
async fn nats_options(
    settings: &Settings,
    node_id: &str,
    prefix: &str,
) -> Result<async_nats::ConnectOptions, AppError> {
    async fn readable(path: &std::path::Path, name: &str) -> Result<(), AppError> {
        tokio::fs::metadata(path)
            .await
            .map(|_| ())
            .map_err(|e| AppError::Config(format!("{name} {}: {e}", path.display())))
    }
    let mut options = async_nats::ConnectOptions::new();
    match settings.nats_auth()? {
        NatsAuth::None => {}
        NatsAuth::Creds(path) => {
            options = options.credentials_file(&path).await.map_err(|e| {
                AppError::Config(format!("CSMS_NATS_CREDS {}: {e}", path.display()))
            })?;
        }
        NatsAuth::NkeySeed(seed) => options = options.nkey(seed),
        NatsAuth::NkeySeedFile(path) => {
            let seed = tokio::fs::read_to_string(&path).await.map_err(|e| {
                AppError::Config(format!("CSMS_NATS_NKEY_SEED_FILE {}: {e}", path.display()))
            })?;
            options = options.nkey(seed.trim().to_string());
        }
        NatsAuth::UserPassword(user, password) => {
            options = options.user_and_password(user, password);
        }
        NatsAuth::Token(token) => options = options.token(token),
    }
    let (ca, client) = settings.nats_tls();
    if let Some(ca) = ca {
        readable(&ca, "CSMS_NATS_CA").await?;
        options = options.add_root_certificates(ca).require_tls(true);
    }
    if let Some((cert, key)) = client {
        readable(&cert, "CSMS_NATS_CLIENT_CERT").await?;
        readable(&key, "CSMS_NATS_CLIENT_KEY").await?;
        options = options.add_client_certificate(cert, key).require_tls(true);
    }
    let node = node_id.to_string();
    Ok(options
        .name(format!("csms {node_id}"))
        .custom_inbox_prefix(format!("{prefix}._inbox"))
        .event_callback(move |event| {
            let node = node.clone();
            async move {
                use async_nats::{ClientError, Event, ServerError};
                let refused = |why: &str| {
                    log::error!(
                        "cluster {node}: NATS refused this node ({why}): check its credentials \
                         (CSMS_NATS_CREDS, CSMS_NATS_NKEY_SEED[_FILE], \
                         CSMS_NATS_USER/CSMS_NATS_PASSWORD, CSMS_NATS_TOKEN) and permissions"
                    )
                };
                match event {
                    Event::ServerError(ServerError::AuthorizationViolation) => {
                        refused("authorization violation")
                    }
                    Event::ClientError(ClientError::Other(e)) if e.contains("authoriz") => {
                        refused(&e)
                    }
                    Event::ClientError(ClientError::Other(e)) => {
                        log::warn!("cluster {node}: NATS: {e}")
                    }
                    Event::Disconnected => log::warn!("cluster {node}: NATS disconnected"),
                    event => log::info!("cluster {node}: NATS {event}"),
                }
            }
        }))
}

impl Cluster {
    /// Connects to NATS and returns the cluster (its notice sender runs in the background).
    ///
    /// A node starts even if NATS is unreachable, and reconnects by itself. A NATS server that
    /// answers but refuses this node (credentials, TLS) is a configuration error: start-up stops.
    pub async fn connect(
        settings: &Settings,
        node_id: &str,
        secret: &[u8],
    ) -> Result<Arc<Cluster>, AppError> {
        let url = settings
            .nats_url
            .clone()
            .ok_or_else(|| AppError::Config("cluster mode needs CSMS_NATS_URL".into()))?;
        let prefix = settings.nats_prefix.trim_end_matches('.').to_string();
        let shown = redact(&url);
        let first = nats_options(settings, node_id, &prefix)
            .await?
            .connection_timeout(Duration::from_secs(5))
            .connect(url.as_str())
            .await;
        use async_nats::ConnectErrorKind as Kind;
        let client = match first {
            Ok(client) => client,
            Err(e)
                if matches!(
                    e.kind(),
                    Kind::AuthorizationViolation
                        | Kind::Authentication
                        | Kind::Tls
                        | Kind::ServerParse
                ) || e.to_string().contains("certificate") =>
            {
                return Err(AppError::Config(format!(
                    "CSMS_NATS_URL {shown}: this node cannot join the cluster: {e} (check \
                     CSMS_NATS_CREDS, CSMS_NATS_NKEY_SEED[_FILE], CSMS_NATS_USER/CSMS_NATS_PASSWORD, \
                     CSMS_NATS_TOKEN, CSMS_NATS_CA, CSMS_NATS_CLIENT_CERT/KEY)"
                )));
            }
            Err(e) => {
                log::warn!(
                    "cluster {node_id}: NATS {shown} is not reachable now ({e}): starting \
                     anyway, connecting in the background; calls for chargers on other nodes \
                     answer 503 until then"
                );
                nats_options(settings, node_id, &prefix)
                    .await?
                    .retry_on_initial_connect()
                    .connect(url.as_str())
                    .await
                    .map_err(|e| AppError::Config(format!("CSMS_NATS_URL {shown}: {e}")))?
            }
        };
        let cluster = Arc::new(Cluster {
            node_id: node_id.to_string(),
            client,
            prefix,
            elsewhere: DashMap::new(),
            here: DashMap::new(),
            pending: Mutex::new(Pending::default()),
            queued: Notify::new(),
            dropping: AtomicBool::new(false),
            seal: Seal::derive(secret),
            nonces: DashMap::new(),
            refusal_logged_ms: AtomicU64::new(0),
            last_beat_ms: AtomicU64::new(0),
            origin: Instant::now(),
            lease: settings.node_lease(),
            routed: AtomicU64::new(0),
        });
        tokio::spawn(cluster.clone().send_notices());
        Ok(cluster)
    }

    fn subject(&self, what: &str) -> String {
        format!("{}.{what}", self.prefix)
    }

    fn call_subject(&self, node: &str) -> String {
        format!("{}.node.{}.call", self.prefix, token(node))
    }

    /// What the answer to a routed call is sealed for.
    fn answer_context(&self, nonce: &str) -> String {
        format!("{}.answer.{nonce}", self.prefix)
    }

    pub fn nats_connected(&self) -> bool {
        self.client.connection_state() == NatsState::Connected
    }

    /// The node holding a charger when it is not this one.
    pub fn holder_elsewhere(&self, device_id: &str) -> Option<String> {
        self.elsewhere.get(device_id).map(|e| e.0.clone())
    }

    /// A message that failed verification (not sealed by a node of this cluster, or replayed):
    /// counted, and logged at most every [`REFUSAL_LOG_EVERY`].
    fn refused(&self, what: &str, why: &str) {
        metrics::counter!("csms_cluster_refused_messages_total").increment(1);
        let now = self.origin.elapsed().as_millis() as u64 + 1;
        let last = self.refusal_logged_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= REFUSAL_LOG_EVERY.as_millis() as u64;
        if due
            && self
                .refusal_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log::warn!(
                "cluster {}: refused {what}: {why} (sent by a NATS user that is not a node of this \
                 cluster, or by a node with another CSMS_JWT_SECRET; further refusals within {}s \
                 are only counted in csms_cluster_refused_messages_total)",
                self.node_id,
                REFUSAL_LOG_EVERY.as_secs()
            );
        }
    }

    /// The body of a message received on `msg.subject`, if a node of this cluster sealed it.
    fn open<'a>(&self, msg: &'a async_nats::Message) -> Option<&'a [u8]> {
        let body = self.seal.open(msg.subject.as_str(), &msg.payload);
        if body.is_none() {
            self.refused(
                &format!("a message on {}", msg.subject),
                "its seal does not verify",
            );
        }
        body
    }

    // --- heartbeat and staleness ---------------------------------------------------------------

    /// Records that this node's heartbeat reached the database.
    pub fn beat(&self) {
        let ms = self.origin.elapsed().as_millis() as u64;
        self.last_beat_ms.store(ms.max(1), Ordering::Release);
    }

    /// True when this node's last heartbeat is older than its lease: the others may have taken its
    /// chargers and its work, so it must check before it acts.
    pub fn is_stale(&self) -> bool {
        let last = Duration::from_millis(self.last_beat_ms.load(Ordering::Acquire));
        self.origin.elapsed().saturating_sub(last) > self.lease
    }

    // --- ownership -------------------------------------------------------------------------------

    /// Takes a charger that just connected here: raises its epoch in the database and tells the
    /// other nodes, whose older connections close.
    pub async fn claim(&self, db: &Db, device_id: &str) -> Result<i64, AppError> {
        let (device, node) = (device_id.to_string(), self.node_id.clone());
        let epoch = db.run(move |c| claim(c, &device, &node)).await?;
        self.elsewhere.remove(device_id);
        self.here.insert(device_id.to_string(), epoch);
        self.notify(Notice::Claim(Claim {
            device: device_id.to_string(),
            node: self.node_id.clone(),
            epoch,
            released: false,
        }));
        Ok(epoch)
    }

    /// Lets a charger go after its connection here closed (if no newer claim took it meanwhile).
    pub async fn release(&self, db: &Db, device_id: &str, epoch: i64) {
        self.here.remove_if(device_id, |_, e| *e == epoch);
        let (device, node) = (device_id.to_string(), self.node_id.clone());
        let result = db
            .run(move |c| {
                Ok(crate::infra::db::relaxed_tx(c, |c| {
                    diesel::delete(
                        charger_owners::table
                            .find(&device)
                            .filter(charger_owners::node_id.eq(&node))
                            .filter(charger_owners::epoch.eq(epoch)),
                    )
                    .execute(c)
                })?)
            })
            .await;
        match result {
            Ok(1) => self.notify(Notice::Claim(Claim {
                device: device_id.to_string(),
                node: self.node_id.clone(),
                epoch,
                released: true,
            })),
            Ok(_) => {}
            Err(e) => log::warn!("cluster: releasing {device_id}: {e}"),
        }
    }

    /// Whether this node still holds `device_id` at `epoch` (asked by a stale node before it acts).
    pub async fn still_holds(&self, db: &Db, device_id: &str, epoch: i64) -> bool {
        let device = device_id.to_string();
        let row = db
            .run(move |c| {
                Ok(charger_owners::table
                    .find(&device)
                    .select((charger_owners::node_id, charger_owners::epoch))
                    .first::<(String, i64)>(c)
                    .optional()?)
            })
            .await;
        matches!(row, Ok(Some((node, e))) if node == self.node_id && e == epoch)
    }

    /// After a stall: closes every connection of this node whose charger another node has taken.
    pub async fn verify_all(&self, db: &Db, registry: &Registry) {
        let me = self.node_id.clone();
        let rows = db
            .run(move |c| {
                Ok(charger_owners::table
                    .filter(charger_owners::node_id.eq(&me))
                    .select((charger_owners::device_id, charger_owners::epoch))
                    .load::<(String, i64)>(c)?)
            })
            .await;
        let Ok(rows) = rows else { return };
        let held: std::collections::HashMap<String, i64> = rows.into_iter().collect();
        let lost: Vec<(String, i64)> = self
            .here
            .iter()
            .filter(|e| held.get(e.key()) != Some(e.value()))
            .map(|e| (e.key().clone(), *e.value()))
            .collect();
        for (device, epoch) in lost {
            log::warn!("{device}: taken by another node while this one stalled: closing");
            self.here.remove_if(&device, |_, e| *e == epoch);
            registry.disconnect(&device);
        }
    }

    /// Whether a connection of this node at `epoch` must stop acting for `device_id`: only asked
    /// of the database while this node is stale.
    pub async fn fenced(&self, db: &Db, device_id: &str, epoch: i64) -> bool {
        self.is_stale() && !self.still_holds(db, device_id, epoch).await
    }

    fn on_claim(&self, registry: &Registry, claim: Claim) {
        if claim.node == self.node_id {
            return;
        }
        if claim.released {
            self.elsewhere.remove_if(&claim.device, |_, (n, e)| {
                *n == claim.node && *e == claim.epoch
            });
            return;
        }
        let newer = self
            .elsewhere
            .get(&claim.device)
            .is_none_or(|held| held.1 < claim.epoch);
        if newer {
            self.elsewhere
                .insert(claim.device.clone(), (claim.node.clone(), claim.epoch));
        }
        // Fenced: a newer connection of this charger is on another node.
        let ours = self.here.get(&claim.device).map(|e| *e);
        if let Some(epoch) = ours
            && epoch < claim.epoch
        {
            log::info!(
                "{}: claimed by node {} (epoch {} > {epoch}): closing this node's connection",
                claim.device,
                claim.node,
                claim.epoch
            );
            self.here.remove_if(&claim.device, |_, e| *e == epoch);
            registry.disconnect(&claim.device);
        }
    }

    /// Rebuilds the map of chargers held by other live nodes from the database, and removes the
    /// rows of nodes whose lease expired (their sockets are gone).
    async fn resync(&self, db: &Db) -> Result<(), AppError> {
        let lease = self.lease;
        let me = self.node_id.clone();
        let rows = db
            .run(move |c| {
                let live = crate::infra::node::live(c, lease)?;
                if !live.is_empty() {
                    crate::infra::db::relaxed_tx(c, |c| {
                        diesel::delete(
                            charger_owners::table.filter(charger_owners::node_id.ne_all(&live)),
                        )
                        .execute(c)
                    })?;
                }
                Ok(charger_owners::table
                    .filter(charger_owners::node_id.ne(&me))
                    .select((
                        charger_owners::device_id,
                        charger_owners::node_id,
                        charger_owners::epoch,
                    ))
                    .load::<(String, String, i64)>(c)?)
            })
            .await?;
        let fresh: std::collections::HashMap<String, (String, i64)> =
            rows.into_iter().map(|(d, n, e)| (d, (n, e))).collect();
        self.elsewhere.retain(|d, _| fresh.contains_key(d));
        for (device, held) in fresh {
            if !self.here.contains_key(&device) {
                self.elsewhere.insert(device, held);
            }
        }
        Ok(())
    }

    // --- routing ---------------------------------------------------------------------------------

    /// A call for a charger held by another node, sent to that node over NATS.
    pub async fn call_remote(
        &self,
        device_id: &str,
        action: &str,
        payload: Value,
        timeout: Duration,
    ) -> Result<Value, CallFailure> {
        let Some(node) = self.holder_elsewhere(device_id) else {
            return Err(CallFailure::Offline);
        };
        if !self.nats_connected() {
            return Err(CallFailure::Unavailable);
        }
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let request = CallRequest {
            device: device_id.to_string(),
            action: action.to_string(),
            payload,
            timeout_ms: timeout.as_millis() as u64,
            from: self.node_id.clone(),
            issued_ms: unix_ms(),
            nonce: nonce.clone(),
        };
        let body = serde_json::to_vec(&request).map_err(|_| CallFailure::Unavailable)?;
        let subject = self.call_subject(&node);
        let body = self.seal.seal(&subject, &body);
        self.routed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("csms_cluster_routed_calls_total").increment(1);
        let answer = self
            .client
            .send_request(
                subject,
                async_nats::Request::new()
                    .payload(body.into())
                    .timeout(Some(timeout + ROUTING_MARGIN)),
            )
            .await;
        use async_nats::client::RequestErrorKind;
        match answer {
            Ok(msg) => match self.seal.open(&self.answer_context(&nonce), &msg.payload) {
                Some(body) => serde_json::from_slice::<Result<Value, CallFailure>>(body)
                    .unwrap_or(Err(CallFailure::Unavailable)),
                None => {
                    self.refused(
                        &format!("the answer to {action} for {device_id} from {node}"),
                        "its seal does not verify",
                    );
                    Err(CallFailure::Unavailable)
                }
            },
            // Nobody listens there: the node is gone.
            Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                self.elsewhere.remove_if(device_id, |_, (n, _)| *n == node);
                Err(CallFailure::Offline)
            }
            Err(e) if e.kind() == RequestErrorKind::TimedOut => Err(CallFailure::Timeout),
            Err(e) => {
                log::warn!("cluster: call {action} to {device_id} on {node}: {e}");
                Err(CallFailure::Unavailable)
            }
        }
    }

    /// Whether a verified call may run: recent, and not seen before (a replay).
    fn admit(&self, request: &CallRequest) -> Result<(), &'static str> {
        let skew = unix_ms().saturating_sub(request.issued_ms).unsigned_abs();
        if skew > CALL_FRESHNESS.as_millis() as u64 {
            return Err("its timestamp is too far from this node's clock");
        }
        match self.nonces.entry(request.nonce.clone()) {
            dashmap::Entry::Occupied(_) => Err("it was served before (a replay)"),
            dashmap::Entry::Vacant(slot) => {
                slot.insert(Instant::now() + 2 * CALL_FRESHNESS);
                Ok(())
            }
        }
    }

    // --- notices ---------------------------------------------------------------------------------

    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self, notice: Notice) {
        let dropped = self.lock_pending().push(notice);
        if dropped > 0 {
            metrics::counter!("csms_cluster_live_events_dropped_total").increment(dropped);
            if !self.dropping.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "cluster {}: NATS is not taking notices: dropping the oldest live progress \
                     events (claims and wake-ups are kept)",
                    self.node_id
                );
            }
        }
        self.queued.notify_one();
    }

    /// Notices waiting for NATS.
    fn pending_len(&self) -> usize {
        self.lock_pending().len()
    }

    /// Wakes the other nodes' outbox tails (a commit here).
    pub fn wake_others(&self) {
        self.notify(Notice::Wake);
    }

    /// Sends a live-only event to the other nodes' subscribers.
    pub fn publish_live(&self, event: &Event) {
        let live = LiveEvent {
            node: self.node_id.clone(),
            name: event.name.clone(),
            customer_id: event.customer_id,
            charger_id: event.charger_id,
            payload: event.payload.clone(),
        };
        if let Ok(body) = serde_json::to_vec(&live) {
            self.notify(Notice::Live(body));
        }
    }

    /// Drops the other nodes' occupancy hints for a charger (`None`: every charger).
    pub fn release_occupancy(&self, device_id: Option<&str>) {
        self.notify(Notice::Release(device_id.map(str::to_string)));
    }

    /// Publishes the queued notices, forever. While NATS is unreachable they wait in [`Pending`]
    /// (bounded) rather than in the NATS client's buffer, whose publishers block once it is full.
    async fn send_notices(self: Arc<Self>) {
        loop {
            self.queued.notified().await;
            while !self.nats_connected() {
                metrics::gauge!("csms_cluster_notices_pending").set(self.pending_len() as f64);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let batch = std::mem::take(&mut *self.lock_pending());
            metrics::gauge!("csms_cluster_notices_pending").set(0.0);
            self.dropping.store(false, Ordering::Relaxed);
            self.send(batch).await;
        }
    }

    /// Claims first (they fence connections), then the wake-up, releases and live events.
    async fn send(&self, batch: Pending) {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        for claim in batch.claims.into_values() {
            if let Ok(body) = serde_json::to_vec(&claim) {
                out.push((self.subject("claims"), body));
            }
        }
        if batch.wake
            && let Ok(body) = serde_json::to_vec(&Wake {
                node: self.node_id.clone(),
            })
        {
            out.push((self.subject("outbox"), body));
        }
        let releases: Vec<Option<String>> = if batch.release_all {
            vec![None]
        } else {
            batch.releases.into_iter().map(Some).collect()
        };
        for device in releases {
            let o = Occupancy {
                node: self.node_id.clone(),
                device,
            };
            if let Ok(body) = serde_json::to_vec(&o) {
                out.push((self.subject("occupancy"), body));
            }
        }
        let mut stale = 0;
        for (at, body) in batch.live {
            if at.elapsed() > LIVE_MAX_AGE {
                stale += 1;
            } else {
                out.push((self.subject("live"), body));
            }
        }
        if stale > 0 {
            metrics::counter!("csms_cluster_live_events_dropped_total").increment(stale);
        }
        for (subject, body) in out {
            let sealed = self.seal.seal(&subject, &body);
            if let Err(e) = self.client.publish(subject, sealed.into()).await {
                log::warn!("cluster: publish: {e}");
            }
        }
    }

    /// Serves the other nodes' calls and applies their notices, forever.
    pub async fn run(self: Arc<Self>, local: Local) {
        let subscribe = |subject: String| {
            let client = self.client.clone();
            async move {
                loop {
                    match client.subscribe(subject.clone()).await {
                        Ok(s) => return s,
                        Err(e) => {
                            log::warn!("cluster: subscribe {subject}: {e}");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }
        };
        let mut calls = subscribe(self.call_subject(&self.node_id)).await;
        let mut claims = subscribe(self.subject("claims")).await;
        let mut wakes = subscribe(self.subject("outbox")).await;
        let mut live = subscribe(self.subject("live")).await;
        let mut occupancy = subscribe(self.subject("occupancy")).await;
        if let Err(e) = self.resync(&local.db).await {
            log::warn!("cluster: resync: {e}");
        }
        let mut resync = tokio::time::interval(RESYNC_EVERY);
        loop {
            tokio::select! {
                Some(msg) = calls.next() => {
                    let (registry, cluster) = (local.registry.clone(), self.clone());
                    tokio::spawn(async move { cluster.serve_call(&registry, msg).await });
                }
                Some(msg) = claims.next() => {
                    if let Some(claim) = self.open(&msg).and_then(|b| serde_json::from_slice::<Claim>(b).ok()) {
                        self.on_claim(&local.registry, claim);
                    }
                }
                Some(msg) = wakes.next() => {
                    if let Some(w) = self.open(&msg).and_then(|b| serde_json::from_slice::<Wake>(b).ok())
                        && w.node != self.node_id
                    {
                        local.events.wake_local();
                    }
                }
                Some(msg) = live.next() => {
                    if let Some(e) = self.open(&msg).and_then(|b| serde_json::from_slice::<LiveEvent>(b).ok())
                        && e.node != self.node_id
                    {
                        local.events.send_local(Event {
                            id: None,
                            name: e.name,
                            customer_id: e.customer_id,
                            charger_id: e.charger_id,
                            payload: e.payload,
                        });
                    }
                }
                Some(msg) = occupancy.next() => {
                    if let Some(o) = self.open(&msg).and_then(|b| serde_json::from_slice::<Occupancy>(b).ok())
                        && o.node != self.node_id
                    {
                        match o.device {
                            Some(d) => local.occupancy.release_local(&d),
                            None => local.occupancy.release_all_local(),
                        }
                    }
                }
                _ = resync.tick() => {
                    let now = Instant::now();
                    self.nonces.retain(|_, forget_at| *forget_at > now);
                    if let Err(e) = self.resync(&local.db).await {
                        log::warn!("cluster: resync: {e}");
                    }
                }
            }
        }
    }

    /// Runs a call another node routed here, if a node of this cluster sealed it, recently and
    /// once. A refused call is never sent to the charger; it is answered (sealed, `Unavailable`)
    /// only when its seal verified, so nothing is published for a forger.
    async fn serve_call(&self, registry: &Registry, msg: async_nats::Message) {
        let Some(reply) = msg.reply.clone() else {
            return;
        };
        let Some(body) = self.open(&msg) else { return };
        let request = match serde_json::from_slice::<CallRequest>(body) {
            Ok(request) => request,
            Err(_) => {
                self.refused("a routed call", "it is malformed");
                return;
            }
        };
        let answer = match self.admit(&request) {
            // A charger connected to this node only: the other node asked because it holds it.
            Ok(()) => match registry.get(&request.device) {
                Some(handle) => {
                    let timeout = Duration::from_millis(request.timeout_ms);
                    handle.call(&request.action, request.payload, timeout).await
                }
                None => Err(CallFailure::Offline),
            },
            Err(why) => {
                self.refused(
                    &format!(
                        "{} for {} from {}",
                        request.action, request.device, request.from
                    ),
                    why,
                );
                Err(CallFailure::Unavailable)
            }
        };
        let Ok(body) = serde_json::to_vec(&answer) else {
            return;
        };
        let sealed = self.seal.seal(&self.answer_context(&request.nonce), &body);
        if let Err(e) = self.client.publish(reply, sealed.into()).await {
            log::warn!("cluster: answering a routed call: {e}");
        }
    }
}

/// What the cluster acts on in this node when other nodes tell it something: its database, its
/// connections, its event bus and its occupancy marks.
#[derive(Clone)]
pub struct Local {
    pub db: Db,
    pub registry: Arc<Registry>,
    pub events: Arc<EventBus>,
    pub occupancy: Arc<Marks>,
}

impl RemoteStations for Cluster {
    fn holder_elsewhere(&self, device_id: &str) -> Option<String> {
        Cluster::holder_elsewhere(self, device_id)
    }

    fn call_remote<'a>(
        &'a self,
        device_id: &'a str,
        action: &'a str,
        payload: Value,
        timeout: Duration,
    ) -> RemoteAnswer<'a> {
        Box::pin(Cluster::call_remote(
            self, device_id, action, payload, timeout,
        ))
    }
}

impl EventPeers for Cluster {
    fn wake_others(&self) {
        Cluster::wake_others(self)
    }

    fn publish_live(&self, event: &Event) {
        Cluster::publish_live(self, event)
    }
}

impl OccupancyPeers for Cluster {
    fn release_occupancy(&self, device_id: Option<&str>) {
        Cluster::release_occupancy(self, device_id)
    }
}

/// `INSERT … ON CONFLICT DO UPDATE`: the charger's row now names this node, one epoch higher.
fn claim(c: &mut DbConnection, device: &str, node: &str) -> Result<i64, AppError> {
    #[derive(QueryableByName)]
    struct Epoch {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        epoch: i64,
    }
    let DbConnection::Postgresql(pg) = c else {
        return Err(AppError::Config("cluster mode needs PostgreSQL".into()));
    };
    let row: Epoch = diesel::sql_query(
        "INSERT INTO charger_owners (device_id, node_id, epoch, claimed_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (device_id) DO UPDATE SET node_id = EXCLUDED.node_id, \
         epoch = charger_owners.epoch + 1, claimed_at = EXCLUDED.claimed_at RETURNING epoch",
    )
    .bind::<diesel::sql_types::Text, _>(device)
    .bind::<diesel::sql_types::Text, _>(node)
    .bind::<diesel::sql_types::Timestamp, _>(now())
    .get_result(pg)?;
    Ok(row.epoch)
}

/// Forgets what an earlier run of this node (same `CSMS_NODE_ID`) held: its sockets are gone.
pub fn forget_node(c: &mut DbConnection, node: &str) -> Result<usize, AppError> {
    Ok(crate::infra::db::relaxed_tx(c, |c| {
        diesel::delete(charger_owners::table.filter(charger_owners::node_id.eq(node))).execute(c)
    })?)
}

// --- the operator's view ---------------------------------------------------------------------------

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    pub node_id: String,
    pub started_at: String,
    pub heartbeat_at: String,
    /// Its heartbeat is younger than the lease.
    pub live: bool,
    /// Chargers whose WebSocket it holds.
    pub chargers: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaseView {
    pub name: String,
    pub holder: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    pub success: bool,
    /// Cluster mode is on (`CSMS_NATS_URL` is set).
    pub clustered: bool,
    /// The node that answered.
    pub node_id: String,
    /// Whether that node is connected to NATS (null when not clustered).
    pub nats_connected: Option<bool>,
    /// Lease of a node: it counts as gone when its heartbeat is older than this.
    pub lease_secs: u64,
    pub nodes: Vec<NodeView>,
    pub leases: Vec<LeaseView>,
}

/// Nodes with their heartbeats and chargers, and the named leases. Without cluster mode the
/// answering node counts its own connections (there is no ownership table to read).
pub fn view(
    c: &mut DbConnection,
    lease: Duration,
    me: &str,
    local_chargers: usize,
    clustered: bool,
) -> Result<Vec<NodeView>, AppError> {
    let cutoff = now() - chrono::Duration::from_std(lease).unwrap_or_default();
    let rows: Vec<(String, chrono::NaiveDateTime, chrono::NaiveDateTime)> = nodes::table
        .order(nodes::node_id.asc())
        .select((nodes::node_id, nodes::started_at, nodes::heartbeat_at))
        .load(c)?;
    let counts: Vec<(String, i64)> = if clustered {
        charger_owners::table
            .group_by(charger_owners::node_id)
            .select((charger_owners::node_id, diesel::dsl::count_star()))
            .load(c)?
    } else {
        vec![(me.to_string(), local_chargers as i64)]
    };
    Ok(rows
        .into_iter()
        .map(|(node_id, started_at, heartbeat_at)| NodeView {
            chargers: counts
                .iter()
                .find(|(n, _)| *n == node_id)
                .map_or(0, |(_, k)| *k),
            live: heartbeat_at >= cutoff,
            node_id,
            started_at: crate::infra::timestamps::format_timestamp(started_at),
            heartbeat_at: crate::infra::timestamps::format_timestamp(heartbeat_at),
        })
        .collect())
}

pub fn leases(c: &mut DbConnection) -> Result<Vec<LeaseView>, AppError> {
    Ok(leases::table
        .order(leases::name.asc())
        .select((leases::name, leases::holder, leases::expires_at))
        .load::<(String, String, chrono::NaiveDateTime)>(c)?
        .into_iter()
        .map(|(name, holder, expires_at)| LeaseView {
            name,
            holder,
            expires_at: crate::infra::timestamps::format_timestamp(expires_at),
        })
        .collect())
}

/// This node's heartbeat (every node's, clustered or not), every `every` until the process ends;
/// old rows of nodes gone for a day are removed. In cluster mode the cluster learns of each beat
/// and, back from a stall, checks this node's connections (`registry`).
pub async fn heartbeats(
    db: Db,
    node_id: String,
    every: Duration,
    cluster: Option<Arc<Cluster>>,
    registry: Arc<Registry>,
) {
    loop {
        let id = node_id.clone();
        let was_stale = cluster.as_ref().is_some_and(|c| c.is_stale());
        let result = db
            .run(move |c| crate::infra::node::heartbeat_and_prune(c, &id))
            .await;
        match (result, &cluster) {
            (Err(e), _) => log::warn!("node heartbeat: {e}"),
            (Ok(()), Some(cluster)) => {
                // Back from a stall longer than the lease: other nodes may have taken chargers
                // (and missed claims cannot be trusted): check every connection before trusting
                // this node's view again.
                if was_stale {
                    cluster.verify_all(&db, &registry).await;
                }
                cluster.beat();
            }
            (Ok(()), None) => {}
        }
        tokio::time::sleep(every).await;
    }
}

/// `GET /api/admin/cluster`, as seen from this node.
/// `lease`: how long a node stays live without a heartbeat; `local`: chargers connected here.
pub async fn describe(
    db: &Db,
    cluster: Option<&Arc<Cluster>>,
    node_id: &str,
    local: usize,
    lease: Duration,
) -> Result<ClusterView, AppError> {
    let clustered = cluster.is_some();
    let me = node_id.to_string();
    let (nodes, leases) = db
        .run(move |c| Ok((view(c, lease, &me, local, clustered)?, leases(c)?)))
        .await?;
    Ok(ClusterView {
        success: true,
        clustered,
        node_id: node_id.to_string(),
        nats_connected: cluster.map(|c| c.nats_connected()),
        lease_secs: lease.as_secs(),
        nodes,
        leases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(device: &str, epoch: i64, released: bool) -> Notice {
        Notice::Claim(Claim {
            device: device.into(),
            node: "n1".into(),
            epoch,
            released,
        })
    }

    #[test]
    fn pending_notices_stay_bounded_and_keep_what_matters() {
        let mut p = Pending::default();
        let mut dropped = 0;
        for i in 0..100_000u32 {
            dropped += p.push(Notice::Live(format!("{{\"i\":{i}}}").into_bytes()));
            if i % 10 == 0 {
                p.push(Notice::Wake);
            }
        }
        assert_eq!(p.live.len(), LIVE_QUEUE_EVENTS);
        assert_eq!(dropped, 100_000 - LIVE_QUEUE_EVENTS as u64);
        assert_eq!(p.live.back().expect("newest").1, b"{\"i\":99999}");
        assert!(p.wake, "one wake-up stands for them all");
        // The byte bound, with large events.
        for _ in 0..10 {
            p.push(Notice::Live(vec![b'x'; 300_000]));
        }
        assert!(p.live_bytes <= LIVE_QUEUE_BYTES, "{}", p.live_bytes);
        assert_eq!(
            p.live_bytes,
            p.live.iter().map(|(_, b)| b.len()).sum::<usize>()
        );
        // Claims: the latest per charger; an older epoch never replaces a newer one.
        p.push(claim("A", 1, false));
        p.push(claim("A", 2, false));
        p.push(claim("A", 1, true));
        p.push(claim("B", 5, false));
        p.push(claim("B", 5, true));
        assert_eq!(p.claims.len(), 2);
        assert_eq!((p.claims["A"].epoch, p.claims["A"].released), (2, false));
        assert_eq!((p.claims["B"].epoch, p.claims["B"].released), (5, true));
        // Releases: one per charger, then one for all.
        for i in 0..RELEASES_KEPT {
            p.push(Notice::Release(Some(format!("CP{i}"))));
            p.push(Notice::Release(Some(format!("CP{i}"))));
        }
        assert_eq!((p.releases.len(), p.release_all), (RELEASES_KEPT, false));
        p.push(Notice::Release(Some("one more".into())));
        assert!(p.release_all && p.releases.is_empty());
        p.push(Notice::Release(Some("CP1".into())));
        assert!(p.releases.is_empty());
        assert_eq!(p.len(), 1 + 2 + 1 + p.live.len());
    }

    #[test]
    fn seal_binds_key_subject_and_body() {
        let seal = Seal::derive(b"the shared secret of this cluster, 32+ bytes");
        let sealed = seal.seal("p.claims", b"{\"x\":1}");
        assert_eq!(seal.open("p.claims", &sealed), Some(&b"{\"x\":1}"[..]));
        assert_eq!(seal.open("p.live", &sealed), None, "another subject");
        let other = Seal::derive(b"another cluster's secret, also 32+ bytes");
        assert_eq!(other.open("p.claims", &sealed), None, "another key");
        let mut tampered = sealed.clone();
        *tampered.last_mut().expect("body") = b'2';
        assert_eq!(seal.open("p.claims", &tampered), None, "a changed body");
        assert_eq!(seal.open("p.claims", b"{\"x\":1}"), None, "unsealed");
        assert_eq!(seal.open("p.claims", &sealed[..40]), None, "cut short");
        let zeros = [&[b'0'; 64][..], b"{\"x\":1}"].concat();
        assert_eq!(seal.open("p.claims", &zeros), None, "a made-up seal");
    }

    /// The machine's `nats-server`, or `None` (skipped) outside CI.
    fn nats_server() -> Option<&'static str> {
        let found = [
            "nats-server",
            "/usr/sbin/nats-server",
            "/usr/local/bin/nats-server",
        ]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok()
        });
        if found.is_none() && std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("nats-server is required under CI");
        }
        found
    }

    struct Killed(std::process::Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// NATS is unreachable while the node keeps producing notices: the queue stays bounded (live
    /// events dropped, oldest first); when NATS is back, the latest claims, the wake-up and the
    /// newest live events arrive, sealed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn notices_wait_out_an_outage() {
        let Some(bin) = nats_server() else {
            eprintln!("skipped: no nats-server");
            return;
        };
        let nats_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let _server = Killed(
            std::process::Command::new(bin)
                .args(["-a", "127.0.0.1", "-p", &nats_port.to_string()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("nats-server starts"),
        );
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", nats_port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The node reaches NATS through a proxy that drops every connection until `up`.
        let up = Arc::new(AtomicBool::new(false));
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy");
        let proxy_port = proxy.local_addr().expect("proxy port").port();
        let gate = up.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = proxy.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", nats_port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        let prefix = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let settings = Settings {
            nats_url: Some(format!("nats://127.0.0.1:{proxy_port}")),
            nats_prefix: prefix.clone(),
            ..Settings::default()
        };
        let secret = b"the shared secret of this cluster, 32+ bytes";
        let cluster = Cluster::connect(&settings, "n1", secret)
            .await
            .expect("starts while NATS is unreachable");
        assert!(!cluster.nats_connected());
        let observer = async_nats::connect(format!("nats://127.0.0.1:{nats_port}"))
            .await
            .expect("observer");
        let mut seen = observer
            .subscribe(format!("{prefix}.>"))
            .await
            .expect("subscribe");
        observer.flush().await.expect("flush");

        for epoch in 1..=3 {
            cluster.notify(claim("CP1", epoch, false));
        }
        cluster.notify(claim("CP2", 7, false));
        let total = 20_000;
        for i in 0..total {
            cluster.publish_live(&Event {
                id: None,
                name: "charging.progress".into(),
                customer_id: Some(1),
                charger_id: Some(1),
                payload: serde_json::json!({ "i": i }),
            });
            if i % 100 == 0 {
                cluster.wake_others();
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        {
            let p = cluster.lock_pending();
            assert_eq!(p.live.len(), LIVE_QUEUE_EVENTS, "live events bounded");
            assert!(p.wake);
            assert_eq!(p.claims.len(), 2);
            assert_eq!(p.claims["CP1"].epoch, 3);
        }
        assert_eq!(cluster.pending_len(), 1 + 2 + LIVE_QUEUE_EVENTS);

        up.store(true, Ordering::SeqCst);
        let seal = Seal::derive(secret);
        let (mut claims, mut woke, mut live) = (HashMap::new(), false, Vec::new());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !(claims.len() == 2 && woke && live.len() == LIVE_QUEUE_EVENTS) {
            let msg = tokio::time::timeout_at(deadline, seen.next())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "in time: claims {claims:?}, woke {woke}, {} live events",
                        live.len()
                    )
                })
                .expect("subscription open");
            let body = seal
                .open(msg.subject.as_str(), &msg.payload)
                .expect("sealed by the node");
            match msg
                .subject
                .as_str()
                .trim_start_matches(&format!("{prefix}."))
            {
                "claims" => {
                    let c: Claim = serde_json::from_slice(body).expect("a claim");
                    claims.insert(c.device, c.epoch);
                }
                "outbox" => woke = true,
                "live" => {
                    let e: LiveEvent = serde_json::from_slice(body).expect("an event");
                    live.push(e.payload["i"].as_i64().expect("i"));
                }
                other => panic!("unexpected subject {other}"),
            }
        }
        assert_eq!(
            claims,
            HashMap::from([("CP1".into(), 3), ("CP2".into(), 7)])
        );
        // The newest live events, in order.
        let first = (total - LIVE_QUEUE_EVENTS) as i64;
        assert_eq!(live, (first..total as i64).collect::<Vec<_>>());
        assert_eq!(cluster.pending_len(), 0);
    }
}
