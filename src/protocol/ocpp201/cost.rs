//! The running cost on a 2.0.1 station's display (block I): csms sends CostUpdated for a running
//! transaction that has a price (a customer's session, or a fleet card's, priced by the station's
//! tariff as its bill is) at most every `CSMS_COST_UPDATE_SECS`, counted from the transaction's
//! start, so the charger's screen shows what the customer's phone shows between the
//! TransactionEvent answers' `updatedPersonalMessage`s. The final cost is the Ended answer's
//! `totalCost` (2.0.1 sends totalCost only once charging has ended).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When each running transaction's cost was last shown on one connection (by the station's
/// transaction id). Kept in memory: a new connection starts counting again.
#[derive(Debug, Default)]
pub struct CostShown(Mutex<HashMap<String, Instant>>);

impl CostShown {
    /// Whether `tx`'s cost is due on the display: `every` has passed since it was last shown,
    /// or since the first reading seen (the cost is nearly zero then, and a short session needs
    /// none). When due, now counts as shown. `every` zero: never.
    pub fn due(&self, tx: &str, every: Duration) -> bool {
        self.due_at(tx, every, Instant::now())
    }

    fn due_at(&self, tx: &str, every: Duration, now: Instant) -> bool {
        if every.is_zero() {
            return false;
        }
        let mut shown = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match shown.get(tx) {
            None => {
                shown.insert(tx.to_string(), now);
                false
            }
            Some(at) if now.duration_since(*at) >= every => {
                shown.insert(tx.to_string(), now);
                true
            }
            Some(_) => false,
        }
    }

    /// The transaction started now (its Started event): the clock starts. A transaction csms
    /// first sees by a later event starts it with its first reading instead.
    pub fn started(&self, tx: &str) {
        self.started_at(tx, Instant::now())
    }

    fn started_at(&self, tx: &str, now: Instant) {
        let mut shown = self.0.lock().unwrap_or_else(|e| e.into_inner());
        shown.entry(tx.to_string()).or_insert(now);
    }

    /// The transaction ended: nothing more to show.
    pub fn forget(&self, tx: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(tx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_once_per_interval_after_the_first_reading() {
        let shown = CostShown::default();
        let every = Duration::from_secs(60);
        let t0 = Instant::now();
        assert!(
            !shown.due_at("tx", every, t0),
            "the first reading starts the clock"
        );
        assert!(!shown.due_at("tx", every, t0 + Duration::from_secs(59)));
        assert!(shown.due_at("tx", every, t0 + Duration::from_secs(60)));
        assert!(!shown.due_at("tx", every, t0 + Duration::from_secs(61)));
        assert!(shown.due_at("tx", every, t0 + Duration::from_secs(120)));
        assert!(!shown.due_at("other", every, t0 + Duration::from_secs(120)));
        shown.forget("tx");
        assert!(!shown.due_at("tx", every, t0 + Duration::from_secs(500)));
        assert!(
            !shown.due_at("tx", Duration::ZERO, t0 + Duration::from_secs(900)),
            "zero: off"
        );
        // Started: the clock runs from the start, so the first reading after the interval shows.
        shown.started_at("s", t0);
        assert!(!shown.due_at("s", every, t0 + Duration::from_secs(30)));
        assert!(shown.due_at("s", every, t0 + Duration::from_secs(60)));
    }
}
