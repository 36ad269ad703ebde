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
//! Messages from this node come back to it over NATS and are ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::connection::State as NatsState;
use dashmap::DashMap;
use diesel::prelude::*;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::db::schema::{charger_owners, leases, nodes};
use crate::db::{DbConnection, now};
use crate::error::AppError;
use crate::events::Event;
use crate::ocpp::registry::CallFailure;
use crate::state::State;

/// How long a request to another node may take beyond the call's own timeout.
const ROUTING_MARGIN: Duration = Duration::from_secs(2);
/// How often the map of chargers held elsewhere is rebuilt from the database.
const RESYNC_EVERY: Duration = Duration::from_secs(15);

/// What this node tells the others (queued, sent by one task).
#[derive(Debug)]
enum Notice {
    Claim(Claim),
    Wake,
    Live(LiveEvent),
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
}

pub struct Cluster {
    pub node_id: String,
    client: async_nats::Client,
    prefix: String,
    /// Chargers held by other nodes: deviceId → (node, epoch).
    elsewhere: DashMap<String, (String, i64)>,
    /// Chargers held here: deviceId → epoch.
    here: DashMap<String, i64>,
    outbound: mpsc::UnboundedSender<Notice>,
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

impl Cluster {
    /// Connects to NATS (in the background: a node starts even if NATS is down, and reconnects by
    /// itself) and returns the cluster with the receiver of its outbound notices.
    pub async fn connect(
        url: &str,
        prefix: &str,
        node_id: &str,
        lease: Duration,
    ) -> Result<Arc<Cluster>, AppError> {
        let node = node_id.to_string();
        let client = async_nats::ConnectOptions::new()
            .name(format!("csms {node_id}"))
            .retry_on_initial_connect()
            .event_callback(move |event| {
                let node = node.clone();
                async move { log::info!("cluster {node}: NATS {event}") }
            })
            .connect(url)
            .await
            .map_err(|e| AppError::Config(format!("CSMS_NATS_URL {url}: {e}")))?;
        let (outbound, rx) = mpsc::unbounded_channel();
        let cluster = Arc::new(Cluster {
            node_id: node_id.to_string(),
            client,
            prefix: prefix.trim_end_matches('.').to_string(),
            elsewhere: DashMap::new(),
            here: DashMap::new(),
            outbound,
            last_beat_ms: AtomicU64::new(0),
            origin: Instant::now(),
            lease,
            routed: AtomicU64::new(0),
        });
        tokio::spawn(cluster.clone().send_notices(rx));
        Ok(cluster)
    }

    fn subject(&self, what: &str) -> String {
        format!("{}.{what}", self.prefix)
    }

    fn call_subject(&self, node: &str) -> String {
        format!("{}.node.{}.call", self.prefix, token(node))
    }

    pub fn nats_connected(&self) -> bool {
        self.client.connection_state() == NatsState::Connected
    }

    /// The node holding a charger when it is not this one.
    pub fn holder_elsewhere(&self, device_id: &str) -> Option<String> {
        self.elsewhere.get(device_id).map(|e| e.0.clone())
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
    pub async fn claim(&self, state: &State, device_id: &str) -> Result<i64, AppError> {
        let (device, node) = (device_id.to_string(), self.node_id.clone());
        let epoch = state.db.run(move |c| claim(c, &device, &node)).await?;
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
    pub async fn release(&self, state: &State, device_id: &str, epoch: i64) {
        self.here.remove_if(device_id, |_, e| *e == epoch);
        let (device, node) = (device_id.to_string(), self.node_id.clone());
        let result = state
            .db
            .run(move |c| {
                Ok(crate::db::relaxed_tx(c, |c| {
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
    pub async fn still_holds(&self, state: &State, device_id: &str, epoch: i64) -> bool {
        let device = device_id.to_string();
        let row = state
            .db
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
    pub async fn verify_all(&self, state: &State) {
        let me = self.node_id.clone();
        let rows = state
            .db
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
            state.registry.disconnect(&device);
        }
    }

    /// Whether a connection of this node at `epoch` must stop acting for `device_id`: only asked
    /// of the database while this node is stale.
    pub async fn fenced(&self, state: &State, device_id: &str, epoch: i64) -> bool {
        self.is_stale() && !self.still_holds(state, device_id, epoch).await
    }

    fn on_claim(&self, state: &State, claim: Claim) {
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
            state.registry.disconnect(&claim.device);
        }
    }

    /// Rebuilds the map of chargers held by other live nodes from the database, and removes the
    /// rows of nodes whose lease expired (their sockets are gone).
    async fn resync(&self, state: &State) -> Result<(), AppError> {
        let lease = self.lease;
        let me = self.node_id.clone();
        let rows = state
            .db
            .run(move |c| {
                let live = crate::node::live(c, lease)?;
                if !live.is_empty() {
                    crate::db::relaxed_tx(c, |c| {
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
        let request = CallRequest {
            device: device_id.to_string(),
            action: action.to_string(),
            payload,
            timeout_ms: timeout.as_millis() as u64,
        };
        let body = serde_json::to_vec(&request).map_err(|_| CallFailure::Unavailable)?;
        self.routed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("csms_cluster_routed_calls_total").increment(1);
        let answer = self
            .client
            .send_request(
                self.call_subject(&node),
                async_nats::Request::new()
                    .payload(body.into())
                    .timeout(Some(timeout + ROUTING_MARGIN)),
            )
            .await;
        use async_nats::client::RequestErrorKind;
        match answer {
            Ok(msg) => serde_json::from_slice::<Result<Value, CallFailure>>(&msg.payload)
                .unwrap_or(Err(CallFailure::Unavailable)),
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

    // --- notices ---------------------------------------------------------------------------------

    fn notify(&self, notice: Notice) {
        let _ = self.outbound.send(notice);
    }

    /// Wakes the other nodes' outbox tails (a commit here).
    pub fn wake_others(&self) {
        self.notify(Notice::Wake);
    }

    /// Sends a live-only event to the other nodes' subscribers.
    pub fn publish_live(&self, event: &Event) {
        self.notify(Notice::Live(LiveEvent {
            node: self.node_id.clone(),
            name: event.name.clone(),
            customer_id: event.customer_id,
            charger_id: event.charger_id,
            payload: event.payload.clone(),
        }));
    }

    /// Drops the other nodes' occupancy hints for a charger (`None`: every charger).
    pub fn release_occupancy(&self, device_id: Option<&str>) {
        self.notify(Notice::Release(device_id.map(str::to_string)));
    }

    /// Sends the queued notices, folding a run of wake-ups into one.
    async fn send_notices(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Notice>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let mut woke = false;
            for notice in batch {
                let (subject, body) = match notice {
                    Notice::Wake if woke => continue,
                    Notice::Wake => {
                        woke = true;
                        let w = Wake {
                            node: self.node_id.clone(),
                        };
                        (self.subject("outbox"), serde_json::to_vec(&w))
                    }
                    Notice::Claim(c) => (self.subject("claims"), serde_json::to_vec(&c)),
                    Notice::Live(e) => (self.subject("live"), serde_json::to_vec(&e)),
                    Notice::Release(device) => {
                        let o = Occupancy {
                            node: self.node_id.clone(),
                            device,
                        };
                        (self.subject("occupancy"), serde_json::to_vec(&o))
                    }
                };
                let Ok(body) = body else { continue };
                if let Err(e) = self.client.publish(subject, body.into()).await {
                    log::warn!("cluster: publish: {e}");
                }
            }
        }
    }

    /// Serves the other nodes' calls and applies their notices, forever.
    pub async fn run(self: Arc<Self>, state: State) {
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
        if let Err(e) = self.resync(&state).await {
            log::warn!("cluster: resync: {e}");
        }
        let mut resync = tokio::time::interval(RESYNC_EVERY);
        loop {
            tokio::select! {
                Some(msg) = calls.next() => {
                    let (state, cluster) = (state.clone(), self.clone());
                    tokio::spawn(async move { cluster.serve_call(&state, msg).await });
                }
                Some(msg) = claims.next() => {
                    if let Ok(claim) = serde_json::from_slice::<Claim>(&msg.payload) {
                        self.on_claim(&state, claim);
                    }
                }
                Some(msg) = wakes.next() => {
                    if let Ok(w) = serde_json::from_slice::<Wake>(&msg.payload)
                        && w.node != self.node_id
                    {
                        state.events.wake_local();
                    }
                }
                Some(msg) = live.next() => {
                    if let Ok(e) = serde_json::from_slice::<LiveEvent>(&msg.payload)
                        && e.node != self.node_id
                    {
                        state.events.send_local(Event {
                            id: None,
                            name: e.name,
                            customer_id: e.customer_id,
                            charger_id: e.charger_id,
                            payload: e.payload,
                        });
                    }
                }
                Some(msg) = occupancy.next() => {
                    if let Ok(o) = serde_json::from_slice::<Occupancy>(&msg.payload)
                        && o.node != self.node_id
                    {
                        match o.device {
                            Some(d) => state.occupancy.release_local(&d),
                            None => state.occupancy.release_all_local(),
                        }
                    }
                }
                _ = resync.tick() => {
                    if let Err(e) = self.resync(&state).await {
                        log::warn!("cluster: resync: {e}");
                    }
                }
            }
        }
    }

    async fn serve_call(&self, state: &State, msg: async_nats::Message) {
        let Some(reply) = msg.reply else { return };
        let answer = match serde_json::from_slice::<CallRequest>(&msg.payload) {
            Ok(req) => {
                state
                    .registry
                    .call_local(
                        &req.device,
                        &req.action,
                        req.payload,
                        Duration::from_millis(req.timeout_ms),
                    )
                    .await
            }
            Err(_) => Err(CallFailure::CallError {
                code: "FormationViolation".into(),
                description: "malformed cluster call".into(),
            }),
        };
        let Ok(body) = serde_json::to_vec(&answer) else {
            return;
        };
        if let Err(e) = self.client.publish(reply, body.into()).await {
            log::warn!("cluster: answering a routed call: {e}");
        }
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
    Ok(crate::db::relaxed_tx(c, |c| {
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
            started_at: crate::ocpp::messages::format_timestamp(started_at),
            heartbeat_at: crate::ocpp::messages::format_timestamp(heartbeat_at),
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
            expires_at: crate::ocpp::messages::format_timestamp(expires_at),
        })
        .collect())
}

/// `GET /api/admin/cluster`, as seen from this node.
pub async fn describe(state: State) -> Result<ClusterView, AppError> {
    let lease = state.settings.node_lease();
    let cluster = state.registry.cluster().cloned();
    let clustered = cluster.is_some();
    let (me, local) = (state.node_id.clone(), state.registry.len());
    let (nodes, leases) = state
        .db
        .run(move |c| Ok((view(c, lease, &me, local, clustered)?, leases(c)?)))
        .await?;
    Ok(ClusterView {
        success: true,
        clustered,
        node_id: state.node_id.clone(),
        nats_connected: cluster.map(|c| c.nats_connected()),
        lease_secs: lease.as_secs(),
        nodes,
        leases,
    })
}
