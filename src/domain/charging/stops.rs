//! A stop is re-sent until the charger stops. A transaction marked to be stopped (the customer's
//! Stop, the prepaid amount used up, a refused idTag) carries `stop_next_at`: RemoteStopTransaction
//! is sent when it is due and the charger is connected to this process, then again with back-off
//! (`CSMS_STOP_RETRY_SECS`, 5 s, doubling to 5 min; 60 s after an `Accepted` that was not followed by StopTransaction), and
//! at once when the charger reconnects or boots. The charger's StopTransaction (or csms closing the
//! transaction) ends it.
//!
//! Every attempt is claimed with a conditional update on `stop_attempts`, so that several tasks or
//! processes never send the same attempt twice.
//!
//! "To be stopped" is `stop_next_at IS NOT NULL`, also for a transaction csms already closed on its
//! side while the charger may still run it (an operator's force-close, see `orphans`): every path
//! that learns the charger stopped (StopTransaction, even a late one; a reboot; a newer transaction
//! on the connector) clears it.

use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::Notify;

use crate::domain::station_commands::{CallFailure, Command, Reply, StationCommands};
use crate::error::AppError;
use crate::infra::db::Db;
use crate::infra::db::schema::{chargers, ocpp_transactions};
use crate::infra::db::{DbConnection, now, write_tx};

/// Wait after the charger accepted RemoteStopTransaction without sending StopTransaction.
const AFTER_ACCEPTED: Duration = Duration::from_secs(60);
const MAX_BACKOFF_SECS: u64 = 300;

/// Back-off before the next attempt after `attempt` (1-based) failed: `base`, doubling, at most 5 min.
pub fn backoff(base_secs: u64, attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 16) as u32 - 1;
    Duration::from_secs((base_secs.max(1) << exp).min(MAX_BACKOFF_SECS))
}

/// Sends RemoteStopTransaction for transactions marked to be stopped, again until they stop.
pub struct StopRetrier {
    wake: Notify,
    db: Db,
    stations: std::sync::Arc<dyn StationCommands>,
    /// How long a charger has to answer.
    call_timeout: Duration,
    /// The first back-off after a refused or failed stop (`CSMS_STOP_RETRY_SECS`), doubling.
    base_secs: u64,
}

impl StopRetrier {
    pub fn new(
        db: Db,
        stations: std::sync::Arc<dyn StationCommands>,
        call_timeout: Duration,
        base_secs: u64,
    ) -> Self {
        StopRetrier {
            wake: Notify::new(),
            db,
            stations,
            call_timeout,
            base_secs,
        }
    }

    /// A transaction became due: look now instead of at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The charger (re)connected or booted: its transactions waiting to be stopped are due now. A read
/// first: in a reconnect storm almost no charger has one, and a write would cost each a commit.
pub fn charger_back(c: &mut DbConnection, charger_id: i64) -> Result<usize, AppError> {
    let waiting: i64 = ocpp_transactions::table
        .filter(ocpp_transactions::charger_id.eq(charger_id))
        .filter(ocpp_transactions::stop_next_at.is_not_null())
        .count()
        .get_result(c)?;
    if waiting == 0 {
        return Ok(0);
    }
    Ok(write_tx(c, |c| {
        diesel::update(
            ocpp_transactions::table
                .filter(ocpp_transactions::charger_id.eq(charger_id))
                .filter(ocpp_transactions::stop_next_at.is_not_null()),
        )
        .set(ocpp_transactions::stop_next_at.eq(now()))
        .execute(c)
    })?)
}

/// Claims the next attempt for a transaction: true if this caller may send it now. The next one
/// falls due after this call's timeout plus the back-off, so a slow charger never has two queued.
fn claim(
    c: &mut DbConnection,
    tx_id: i64,
    seen_attempts: i32,
    call_timeout: Duration,
    base_secs: u64,
) -> Result<bool, AppError> {
    let wait = call_timeout + backoff(base_secs, seen_attempts + 1);
    let next = now() + chrono::Duration::from_std(wait).unwrap_or_default();
    let n = write_tx(c, |c| {
        diesel::update(
            ocpp_transactions::table
                .find(tx_id)
                .filter(ocpp_transactions::stop_next_at.is_not_null())
                .filter(ocpp_transactions::stop_attempts.eq(seen_attempts)),
        )
        .set((
            ocpp_transactions::stop_attempts.eq(seen_attempts + 1),
            ocpp_transactions::stop_next_at.eq(next),
        ))
        .execute(c)
    })?;
    Ok(n == 1)
}

/// Transactions due to be stopped, with their charger's device id.
fn due(c: &mut DbConnection) -> Result<Vec<(i64, String)>, AppError> {
    Ok(ocpp_transactions::table
        .inner_join(chargers::table.on(chargers::id.eq(ocpp_transactions::charger_id)))
        .filter(ocpp_transactions::stop_next_at.le(now()))
        .order(ocpp_transactions::stop_next_at.asc())
        .limit(500)
        .select((ocpp_transactions::id, chargers::device_id))
        .load(c)?)
}

impl StopRetrier {
    /// Sends one RemoteStopTransaction for a transaction marked to be stopped, if no one else is
    /// sending this attempt. `None`: not sent (already stopped, or another attempt is in flight).
    pub async fn attempt(
        &self,
        tx_id: i64,
        device_id: &str,
    ) -> Result<Option<Result<Reply, CallFailure>>, AppError> {
        let seen: Option<(i32, Option<String>)> = self
            .db
            .run(move |c| {
                let seen: Option<i32> = ocpp_transactions::table
                    .find(tx_id)
                    .filter(ocpp_transactions::stop_next_at.is_not_null())
                    .select(ocpp_transactions::stop_attempts)
                    .first(c)
                    .optional()?;
                match seen {
                    Some(n) => Ok(Some((
                        n,
                        super::station_transactions::station_id(c, tx_id)?,
                    ))),
                    None => Ok(None),
                }
            })
            .await?;
        let Some((seen, station_transaction_id)) = seen else {
            return Ok(None);
        };
        let (timeout, base) = (self.call_timeout, self.base_secs);
        if !self
            .db
            .run(move |c| claim(c, tx_id, seen, timeout, base))
            .await?
        {
            return Ok(None);
        }
        let answer = self
            .stations
            .send(
                device_id,
                Command::StopCharging {
                    transaction_id: tx_id,
                    station_transaction_id,
                },
                timeout,
            )
            .await;
        let accepted = matches!(&answer, Ok(r) if r.accepted());
        log::info!(
            "{device_id}: RemoteStopTransaction {tx_id} (attempt {}): {}",
            seen + 1,
            match &answer {
                Ok(r) => r.status_or("?").to_string(),
                Err(e) => e.to_string(),
            }
        );
        // After an answer (Accepted: wait for its StopTransaction; anything else: back off); after
        // a timeout the claim already covered the wait.
        let wait = match &answer {
            _ if accepted => Some(AFTER_ACCEPTED),
            Err(CallFailure::Timeout) => None,
            _ => Some(backoff(base, seen + 1)),
        };
        if let Some(wait) = wait {
            let next = now() + chrono::Duration::from_std(wait).unwrap_or_default();
            self.db
                .write(move |c| {
                    diesel::update(
                        ocpp_transactions::table
                            .find(tx_id)
                            .filter(ocpp_transactions::stop_next_at.is_not_null())
                            .filter(ocpp_transactions::stop_attempts.eq(seen + 1)),
                    )
                    .set(ocpp_transactions::stop_next_at.eq(next))
                    .execute(c)?;
                    Ok(())
                })
                .await?;
        }
        Ok(Some(answer))
    }

    /// Runs forever: sends the due stops of chargers connected to this process.
    pub async fn run(self: std::sync::Arc<Self>) {
        loop {
            match self.db.run(due).await {
                Ok(list) => {
                    for (tx_id, device) in list {
                        if !self.stations.is_local(&device) {
                            continue; // its node sends it, or it is sent when it reconnects (`charger_back`)
                        }
                        let this = self.clone();
                        tokio::spawn(async move {
                            if let Err(e) = this.attempt(tx_id, &device).await {
                                log::warn!("{device}: stopping transaction {tx_id}: {e}");
                            }
                        });
                    }
                }
                Err(e) => log::warn!("stop retrier: {e}"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let secs: Vec<u64> = (1..=9).map(|a| backoff(5, a).as_secs()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(5, 0).as_secs(), 5);
        assert_eq!(backoff(5, i32::MAX).as_secs(), 300);
        assert_eq!(backoff(0, 1).as_secs(), 1);
    }
}
