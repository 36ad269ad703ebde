//! An in-memory hint of which connectors are taken, so that the losers of a start race are answered
//! without a database round trip.
//!
//! It is only ever used to say "in use" sooner; it never lets a start through. The partial unique
//! index in `start::reserve` still decides every race that reaches the database. A wrong hint can
//! therefore only delay a start, and three rules keep that short and rare:
//! - a connector is marked taken only from what the database said (a committed reservation, an open
//!   session seen by the start lookup, a unique violation), and only if no release of its charger was
//!   noted since that database work began (`epoch` compare-and-set), so a stale read cannot re-mark a
//!   connector that was just freed;
//! - everything that can end a session notes a release of the charger (a StartTransaction that
//!   superseded an old session; StopTransaction; a failed start; recovery) once its transaction has
//!   committed, which bumps the epoch and forgets every mark of that charger;
//! - a mark expires after [`TTL`], so a session ended by some other way (another node, a manual
//!   database edit) blocks nobody for longer than that.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long a mark is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(2);

/// A turn at a connector's queue. Its entry leaves the map with the last request that used it, so
/// requests naming chargers or connectors that do not exist cannot make the map grow.
pub struct Gate<'a> {
    guard: Option<OwnedMutexGuard<()>>,
    gates: &'a DashMap<(String, i32), std::sync::Arc<Mutex<()>>>,
    key: (String, i32),
}

impl Drop for Gate<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Only the map's own reference left: nobody holds or waits for this gate.
        self.gates
            .remove_if(&self.key, |_, g| std::sync::Arc::strong_count(g) == 1);
    }
}

#[derive(Default)]
struct ChargerMarks {
    epoch: u64,
    charging_point_id: String,
    taken: HashMap<i32, Instant>,
}

impl ChargerMarks {
    fn forget(&mut self) {
        self.epoch += 1;
        self.taken.clear();
    }
}

#[derive(Default)]
pub struct Occupancy {
    chargers: DashMap<String, ChargerMarks>,
    /// Bumped by [`Occupancy::release_all`], before it clears the chargers one by one.
    global: AtomicU64,
    /// One queue per connector in front of the reservation, see [`Occupancy::gate`].
    gates: DashMap<(String, i32), std::sync::Arc<Mutex<()>>>,
    /// Cluster mode: releases are told to the other nodes too.
    peers: std::sync::OnceLock<std::sync::Arc<dyn OccupancyPeers>>,
}

/// The other nodes of a cluster, as occupancy tells them about releases (implemented by the
/// cluster and plugged in at start-up, so this module does not depend on it).
pub trait OccupancyPeers: Send + Sync {
    /// Drops the other nodes' marks for a charger (`None`: every charger).
    fn release_occupancy(&self, device_id: Option<&str>);
}

/// What [`Occupancy::epoch`] returns: the release counts (all chargers, this charger).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Epoch(u64, u64);

impl Occupancy {
    /// The release epoch of a charger; read it before the database work whose result you mark.
    pub fn epoch(&self, device_id: &str) -> Epoch {
        let global = self.global.load(Ordering::SeqCst);
        Epoch(
            global,
            self.chargers.get(device_id).map(|m| m.epoch).unwrap_or(0),
        )
    }

    /// True if the connector was seen taken less than [`TTL`] ago and the request names no other
    /// charging point than the one the charger belongs to.
    pub fn is_taken(&self, device_id: &str, connector_id: i32, charging_point_id: &str) -> bool {
        let Some(marks) = self.chargers.get(device_id) else {
            return false;
        };
        if !charging_point_id.is_empty() && charging_point_id != marks.charging_point_id {
            return false;
        }
        marks
            .taken
            .get(&connector_id)
            .is_some_and(|at| at.elapsed() < TTL)
    }

    /// Marks a connector taken, unless the charger noted a release after `epoch` was read.
    pub fn mark_taken(
        &self,
        device_id: &str,
        charging_point_id: &str,
        connector_id: i32,
        epoch: Epoch,
    ) {
        let mut marks = self.chargers.entry(device_id.to_string()).or_default();
        if Epoch(self.global.load(Ordering::SeqCst), marks.epoch) != epoch {
            return;
        }
        if marks.charging_point_id != charging_point_id {
            marks.charging_point_id = charging_point_id.to_string();
        }
        marks.taken.insert(connector_id, Instant::now());
    }

    /// Something may have freed a connector of this charger: forget its marks.
    /// The entry is created if missing, so that a read that began before it cannot mark afterwards.
    pub fn release(&self, device_id: &str) {
        self.release_local(device_id);
        if let Some(c) = self.peers.get() {
            c.release_occupancy(Some(device_id));
        }
    }

    /// Cluster mode: releases reach the other nodes too.
    pub fn set_peers(&self, peers: std::sync::Arc<dyn OccupancyPeers>) {
        let _ = self.peers.set(peers);
    }

    /// A release noted by this node only (one another node told it about).
    pub fn release_local(&self, device_id: &str) {
        self.chargers
            .entry(device_id.to_string())
            .or_default()
            .forget();
    }

    /// Admission control, not a correctness check: start requests for the same connector take their
    /// turn here (waiting without holding a database connection) for the lookup and reservation,
    /// so that a burst of racers costs one reservation; the ones behind it find the winner's mark
    /// and lose without touching the database. The unique index still decides every race, also
    /// between nodes.
    pub async fn gate(&self, device_id: &str, connector_id: i32) -> Gate<'_> {
        let key = (device_id.to_string(), connector_id);
        let gate = self.gates.entry(key.clone()).or_default().clone();
        Gate {
            guard: Some(gate.lock_owned().await),
            gates: &self.gates,
            key,
        }
    }

    /// Forgets every mark (after recovery freed connectors of unknown chargers).
    pub fn release_all(&self) {
        self.release_all_local();
        if let Some(c) = self.peers.get() {
            c.release_occupancy(None);
        }
    }

    pub fn release_all_local(&self) {
        self.global.fetch_add(1, Ordering::SeqCst);
        for mut marks in self.chargers.iter_mut() {
            marks.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_expire_and_releases_win_over_stale_reads() {
        let o = Occupancy::default();
        // Connector 1 of CP1 marked taken by a read begun at `epoch`: whether it is taken then.
        let mark = |epoch| {
            o.mark_taken("CP1", "POINT1", 1, epoch);
            o.is_taken("CP1", 1, "")
        };
        assert!(!o.is_taken("CP1", 1, ""));
        assert!(mark(o.epoch("CP1")));
        assert!(o.is_taken("CP1", 1, "POINT1"));
        assert!(
            !o.is_taken("CP1", 1, "OTHER"),
            "a wrong charging point is not answered from memory"
        );
        assert!(!o.is_taken("CP1", 2, ""));

        // A read that began before a release must not re-mark the connector.
        let stale = o.epoch("CP1");
        o.release("CP1");
        assert!(!o.is_taken("CP1", 1, ""));
        assert!(!mark(stale), "stale read re-marked a freed connector");

        let fresh = o.epoch("CP1");
        assert!(mark(fresh));
        o.release_all();
        assert!(!o.is_taken("CP1", 1, ""));
        assert!(!mark(fresh), "read from before release_all re-marked");

        // A charger never seen before: its release must still invalidate an earlier read.
        let unseen = o.epoch("CP2");
        o.release("CP2");
        o.mark_taken("CP2", "POINT2", 1, unseen);
        assert!(!o.is_taken("CP2", 1, ""));
    }

    #[tokio::test]
    async fn gates_queue_and_leave_no_entries_behind() {
        let o = std::sync::Arc::new(Occupancy::default());
        let first = o.gate("CP1", 1).await;
        let o2 = o.clone();
        let waiter = tokio::spawn(async move {
            let _second = o2.gate("CP1", 1).await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiter.is_finished(),
            "second request did not wait its turn"
        );
        drop(first);
        waiter.await.unwrap();
        for i in 0..100 {
            drop(o.gate("NOPE", i).await);
        }
        assert!(o.gates.is_empty(), "{} gates left", o.gates.len());
    }
}
