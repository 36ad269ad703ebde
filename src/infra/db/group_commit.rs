//! Group commit: many producers hand items to a background task that commits them in batches, one
//! transaction carrying the items of many chargers. Used by the MeterValues writer
//! (`charging::meter_writer`), the telemetry writer (`telemetry`) and the OCPP message log
//! (`ocpp::msglog`); what a batch does in the database is theirs ([`Commit`]), the machinery is
//! here:
//!
//! - **lanes**: `lanes` queues, each with its own task and committing side by side; an item goes
//!   to the lane of its key (`key mod lanes`), so the items of one key are committed in the order
//!   they were queued, and never by two lanes at once;
//! - **queue bound**: each lane queues at most `queue` items;
//! - **full queue**: the caller's choice per call: [`GroupCommit::push`] waits for room
//!   (backpressure: the charger's answer waits), [`GroupCommit::try_push`] hands the item back at
//!   once (the caller drops it and counts it);
//! - **batch**: a task takes what is queued, up to `max_batch` items; with a `linger`, a batch
//!   smaller than that waits that long after its wake-up for the rest of a burst, so that one
//!   transaction carries the burst instead of one transaction per item;
//! - **shutdown**: when every handle is dropped, each task commits what is still queued and ends.
//!
//! No allocation or lock per item beyond the queue's own: a batch is one `Vec`, handed whole to
//! [`Commit::commit`].

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;

/// How a [`GroupCommit`] batches.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Queues (and tasks) committing side by side; at least 1.
    pub lanes: usize,
    /// Most items waiting in one lane.
    pub queue: usize,
    /// Most items committed together.
    pub max_batch: usize,
    /// How long a batch smaller than `max_batch` waits after its wake-up for more items.
    pub linger: Option<Duration>,
}

impl Config {
    /// A writer's batching: `lanes` lanes of batches of up to 2000 items, each lane queueing four
    /// batches' worth, no linger (a batch is what has queued since the last commit).
    pub const fn writer(lanes: usize) -> Config {
        const MAX_BATCH: usize = 2000;
        Config {
            lanes,
            queue: MAX_BATCH * 4,
            max_batch: MAX_BATCH,
            linger: None,
        }
    }
}

/// What a batch does: called by the lane's task for each batch, in queue order, one at a time.
/// Database work goes through `Db::run` (never blocking the executor); errors are the
/// implementation's to answer, log or count.
pub trait Commit<T>: Send + 'static {
    fn commit(&mut self, batch: Vec<T>) -> impl Future<Output = ()> + Send;
}

/// The producers' handle (cheap to share behind the state; dropping the last one stops the tasks
/// once they have committed what is queued).
pub struct GroupCommit<T> {
    lanes: Box<[mpsc::Sender<T>]>,
}

impl<T: Send + 'static> GroupCommit<T> {
    /// Starts one task per lane, each committing through `committer(lane)`.
    pub fn start<C: Commit<T>>(config: Config, mut committer: impl FnMut(usize) -> C) -> Self {
        let (handle, receivers) = GroupCommit::unstarted(config);
        for (lane, rx) in receivers.into_iter().enumerate() {
            tokio::spawn(run(rx, config, committer(lane)));
        }
        handle
    }

    /// The handle and the lanes' receiving ends, no task reading them (for tests).
    pub fn unstarted(config: Config) -> (Self, Vec<mpsc::Receiver<T>>) {
        let (senders, receivers) = (0..config.lanes.max(1))
            .map(|_| mpsc::channel(config.queue.max(1)))
            .unzip::<_, _, Vec<_>, Vec<_>>();
        (
            GroupCommit {
                lanes: senders.into_boxed_slice(),
            },
            receivers,
        )
    }

    fn lane(&self, key: i64) -> &mpsc::Sender<T> {
        match self.lanes.len() {
            1 => &self.lanes[0],
            n => &self.lanes[key.rem_euclid(n as i64) as usize],
        }
    }

    /// Queues `item` on the lane of `key`, waiting for room when the lane is full. Fails (handing
    /// the item back) only when the lane's task has ended.
    pub async fn push(&self, key: i64, item: T) -> Result<(), mpsc::error::SendError<T>> {
        self.lane(key).send(item).await
    }

    /// Queues `item` on the lane of `key` if there is room now; otherwise hands it back.
    pub fn try_push(&self, key: i64, item: T) -> Result<(), mpsc::error::TrySendError<T>> {
        self.lane(key).try_send(item)
    }
}

/// One lane's task: batches until every handle is gone and the queue is empty.
async fn run<T: Send + 'static, C: Commit<T>>(
    mut rx: mpsc::Receiver<T>,
    config: Config,
    mut committer: C,
) {
    let max = config.max_batch.max(1);
    let mut batch = Vec::with_capacity(max);
    loop {
        if rx.recv_many(&mut batch, max).await == 0 {
            return; // every handle is gone and everything queued is committed
        }
        if let Some(linger) = config.linger
            && batch.len() < max
        {
            tokio::time::sleep(linger).await;
            while batch.len() < max
                && let Ok(item) = rx.try_recv()
            {
                batch.push(item);
            }
        }
        committer.commit(std::mem::take(&mut batch)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Each batch committed, as (lane, items).
    type Seen = Arc<Mutex<Vec<(usize, Vec<i64>)>>>;

    /// Records each batch.
    struct Recorder {
        lane: usize,
        seen: Seen,
    }

    impl Commit<i64> for Recorder {
        async fn commit(&mut self, batch: Vec<i64>) {
            self.seen.lock().unwrap().push((self.lane, batch));
        }
    }

    /// A started group commit whose lanes record every batch in the [`Seen`] returned with it.
    fn recording(config: Config) -> (GroupCommit<i64>, Seen) {
        let seen = Seen::default();
        let gc = GroupCommit::start(config, |lane| Recorder {
            lane,
            seen: seen.clone(),
        });
        (gc, seen)
    }

    fn config(lanes: usize, max_batch: usize, linger: Option<Duration>) -> Config {
        Config {
            lanes,
            queue: 1000,
            max_batch,
            linger,
        }
    }

    #[tokio::test]
    async fn keys_keep_their_lane_and_order_and_shutdown_drains() {
        let (gc, seen) = recording(config(3, 4, Some(Duration::from_millis(5))));
        for i in 0..30i64 {
            gc.push(i % 3, i).await.unwrap();
        }
        drop(gc);
        for _ in 0..200 {
            if seen
                .lock()
                .unwrap()
                .iter()
                .map(|(_, b)| b.len())
                .sum::<usize>()
                == 30
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let seen = seen.lock().unwrap();
        let mut per_lane: Vec<Vec<i64>> = vec![Vec::new(); 3];
        for (lane, batch) in seen.iter() {
            assert!(!batch.is_empty() && batch.len() <= 4, "{batch:?}");
            per_lane[*lane].extend(batch);
        }
        for (lane, items) in per_lane.iter().enumerate() {
            let want: Vec<i64> = (0..30).filter(|i| i % 3 == lane as i64).collect();
            assert_eq!(items, &want, "lane {lane}");
        }
    }

    #[tokio::test]
    async fn a_full_lane_hands_the_item_back() {
        let (gc, mut rx) = GroupCommit::<i64>::unstarted(Config {
            queue: 2,
            ..config(1, 10, None)
        });
        assert!(gc.try_push(7, 1).is_ok());
        assert!(gc.try_push(-7, 2).is_ok());
        assert!(matches!(
            gc.try_push(0, 3),
            Err(mpsc::error::TrySendError::Full(3))
        ));
        assert_eq!(rx[0].try_recv().ok(), Some(1));
    }

    #[tokio::test]
    async fn linger_gathers_a_burst() {
        let (gc, seen) = recording(config(1, 100, Some(Duration::from_millis(50))));
        gc.push(0, 1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        gc.push(0, 2).await.unwrap();
        for _ in 0..400 {
            if !seen.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(*seen.lock().unwrap(), vec![(0, vec![1, 2])]);
    }
}
