//! Domain events: written to the `events` table (the outbox) inside the transaction that makes the
//! change, then published to in-process subscribers (SSE streams) by one relay task, in order.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use serde_json::Value;
use tokio::sync::{Notify, broadcast};

use crate::error::AppError;
use crate::infra::db::models::EventRow;
use crate::infra::db::schema::events;
use crate::infra::db::{Db, DbConnection, now};

#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Outbox id; `None` for live-only events (meter progress) that are not stored.
    pub id: Option<i64>,
    pub name: String,
    #[serde(skip)]
    pub customer_id: Option<i64>,
    #[serde(skip)]
    pub charger_id: Option<i64>,
    pub payload: Value,
}

/// Who and what an event is about.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject {
    pub customer_id: Option<i64>,
    pub charger_id: Option<i64>,
    pub session_id: Option<i64>,
}

/// Writes an event into the outbox; call it inside the transaction that makes the change.
pub fn record(
    conn: &mut DbConnection,
    name: &str,
    subject: Subject,
    payload: Value,
) -> QueryResult<()> {
    diesel::insert_into(events::table)
        .values((
            events::name.eq(name),
            events::customer_id.eq(subject.customer_id),
            events::charger_id.eq(subject.charger_id),
            events::session_id.eq(subject.session_id),
            events::payload.eq(payload.to_string()),
            events::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    wake: Notify,
    /// Cluster mode: wake-ups and live events reach the other nodes too.
    peers: std::sync::OnceLock<Arc<dyn EventPeers>>,
}

/// The other nodes of a cluster, as the event bus reaches them (implemented by the cluster and
/// plugged in at start-up, so this module does not depend on it).
pub trait EventPeers: Send + Sync {
    /// Wakes the other nodes' outbox tails (a commit here).
    fn wake_others(&self);
    /// Sends a live-only event to the other nodes' subscribers.
    fn publish_live(&self, event: &Event);
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(4096).0,
            wake: Notify::new(),
            peers: Default::default(),
        }
    }
}

impl EventBus {
    /// Tells the relay that new rows were committed (it also polls, so a missed wake only delays);
    /// in cluster mode every node's relay.
    pub fn wake(&self) {
        self.wake_local();
        if let Some(c) = self.peers.get() {
            c.wake_others();
        }
    }

    /// Wakes this node's relay only.
    pub fn wake_local(&self) {
        self.wake.notify_one();
    }

    pub fn set_peers(&self, peers: Arc<dyn EventPeers>) {
        let _ = self.peers.set(peers);
    }

    /// Delivers an event to this node's subscribers only.
    pub fn send_local(&self, event: Event) {
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Publishes a live-only event (not stored), such as charging progress from meter values.
    pub fn publish_live(&self, name: &str, subject: Subject, payload: Value) {
        let event = Event {
            id: None,
            name: name.to_string(),
            customer_id: subject.customer_id,
            charger_id: subject.charger_id,
            payload,
        };
        if let Some(c) = self.peers.get() {
            c.publish_live(&event);
        }
        self.send_local(event);
    }

    /// Relays committed outbox rows to this process's subscribers, forever. Every process tails the
    /// outbox itself (several processes may share the database), and one of them at a time, the
    /// holder of the `outbox-relay` lease, marks rows published and logs `Published <name> event`.
    ///
    /// Rows are delivered as they become visible, which is the order their transactions committed:
    /// a row whose id was taken by a transaction that has not committed yet (a gap below rows
    /// already seen) is waited for up to [`GAP_WAIT`], then given up (a rolled-back transaction
    /// leaves such a gap for good). Events about one session or wallet come from transactions that
    /// update the same row, so they are delivered in the order those committed.
    pub async fn relay(self: Arc<Self>, db: Db, node_id: String) {
        let mut tail = match db.run(Tail::start).await {
            Ok(t) => t,
            Err(e) => {
                log::error!("event relay could not start: {e}");
                return;
            }
        };
        let mut leader = false;
        let mut lease_checked = std::time::Instant::now() - LEASE_RENEW;
        loop {
            if lease_checked.elapsed() >= LEASE_RENEW {
                let id = node_id.clone();
                leader = db
                    .run(move |c| crate::infra::node::try_lease(c, "outbox-relay", &id, LEASE_TTL))
                    .await
                    .unwrap_or(false);
                lease_checked = std::time::Instant::now();
            }
            match self.publish_pending(&db, &mut tail, leader).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => log::warn!("event relay: {e}"),
            }
            tokio::select! {
                _ = self.wake.notified() => {
                    // Commits come in bursts (a start writes its events in two transactions, the
                    // charger's messages follow): lingering a moment lets one pass carry them all,
                    // instead of two or three statements per commit.
                    tokio::time::sleep(RELAY_LINGER).await;
                }
                _ = tokio::time::sleep(Duration::from_millis(if tail.gaps.is_empty() { 1000 } else { 100 })) => {}
            }
        }
    }

    /// Delivers the rows above the cursor; `true` when more may be waiting.
    async fn publish_pending(
        &self,
        db: &Db,
        tail: &mut Tail,
        leader: bool,
    ) -> Result<bool, AppError> {
        let after = tail.cursor;
        let rows: Vec<EventRow> = db
            .run(move |c| {
                Ok(events::table
                    .filter(events::id.gt(after))
                    .order(events::id.asc())
                    .limit(PAGE as i64)
                    .select(EventRow::as_select())
                    .load(c)?)
            })
            .await?;
        // A full page with something new in it: more rows may be waiting right behind it.
        let more = rows.len() >= PAGE;
        let mut fresh = false;
        let seen: Vec<i64> = rows.iter().map(|r| r.id).collect();
        for row in rows {
            if tail.delivered.contains(&row.id) {
                continue;
            }
            fresh = true;
            let payload = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
            if leader {
                log::info!("Published {} event", row.name);
            }
            let _ = self.tx.send(Arc::new(Event {
                id: Some(row.id),
                name: row.name,
                customer_id: row.customer_id,
                charger_id: row.charger_id,
                payload,
            }));
        }
        let before = tail.cursor;
        tail.advance(&seen, std::time::Instant::now());
        if leader && tail.cursor > before {
            let upto = tail.cursor;
            db.run(move |c| {
                crate::infra::db::relaxed_tx(c, |c| {
                    diesel::update(
                        events::table
                            .filter(events::published_at.is_null())
                            .filter(events::id.le(upto)),
                    )
                    .set(events::published_at.eq(now()))
                    .execute(c)
                })?;
                Ok(())
            })
            .await?;
        }
        Ok(more && fresh)
    }
}

/// Rows the relay reads per pass.
const PAGE: usize = 500;
/// How long the relay waits after a wake-up before reading, to gather the commits of a burst.
const RELAY_LINGER: Duration = Duration::from_millis(5);

/// How long a gap in the outbox ids is waited for before it is taken for a rollback.
pub const GAP_WAIT: Duration = Duration::from_secs(5);
const LEASE_TTL: Duration = Duration::from_secs(10);
const LEASE_RENEW: Duration = Duration::from_secs(3);

/// A process's position in the outbox: every id up to `cursor` was delivered or given up; above
/// it, `delivered` holds the ids already delivered and `gaps` the missing ones with when they were
/// first missed.
#[derive(Debug, Default)]
pub struct Tail {
    pub cursor: i64,
    pub delivered: std::collections::BTreeSet<i64>,
    pub gaps: std::collections::BTreeMap<i64, std::time::Instant>,
}

impl Tail {
    /// Starts at the oldest unpublished row (nothing committed before a crash is lost), or after the
    /// newest row.
    fn start(c: &mut DbConnection) -> Result<Tail, AppError> {
        let oldest: Option<i64> = events::table
            .filter(events::published_at.is_null())
            .select(diesel::dsl::min(events::id))
            .first(c)?;
        let newest: Option<i64> = events::table
            .select(diesel::dsl::max(events::id))
            .first(c)?;
        Ok(Tail {
            cursor: oldest.map(|o| o - 1).or(newest).unwrap_or(0),
            ..Default::default()
        })
    }

    /// Records the ids seen above the cursor (delivered now or before) and moves the cursor over
    /// every id that is delivered, or missing for longer than [`GAP_WAIT`].
    pub fn advance(&mut self, seen: &[i64], at: std::time::Instant) {
        self.delivered.extend(seen.iter().copied());
        let Some(&top) = self.delivered.last() else {
            return;
        };
        for id in self.cursor + 1..top {
            if !self.delivered.contains(&id) {
                self.gaps.entry(id).or_insert(at);
            }
        }
        loop {
            let next = self.cursor + 1;
            let given_up = self
                .gaps
                .get(&next)
                .is_some_and(|first| at.duration_since(*first) >= GAP_WAIT);
            if !(self.delivered.remove(&next) || given_up) {
                break;
            }
            self.gaps.remove(&next);
            self.cursor = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn tail_waits_for_gaps_then_gives_them_up() {
        let t0 = Instant::now();
        let mut t = Tail {
            cursor: 10,
            ..Default::default()
        };
        // 12 and 13 are visible; 11 is not committed yet.
        t.advance(&[12, 13], t0);
        assert_eq!(t.cursor, 10);
        assert!(t.gaps.contains_key(&11));
        // 11 commits: the cursor moves over all three.
        t.advance(&[11, 12, 13], t0 + Duration::from_secs(1));
        assert_eq!(t.cursor, 13);
        assert!(t.delivered.is_empty() && t.gaps.is_empty());
        // 14 rolled back: given up after GAP_WAIT, not before.
        t.advance(&[15], t0);
        assert_eq!(t.cursor, 13);
        t.advance(&[15], t0 + GAP_WAIT / 2);
        assert_eq!(t.cursor, 13);
        t.advance(&[15], t0 + GAP_WAIT);
        assert_eq!(t.cursor, 15);
    }
}
