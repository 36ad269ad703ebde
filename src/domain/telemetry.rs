//! Group commit for charger telemetry ([`crate::infra::db::group_commit`], one lane): the Heartbeats and
//! StatusNotifications of many chargers are written together, like MeterValues
//! (`charging::meter_writer`), in one relaxed transaction per batch (telemetry, not money: a crash
//! may lose the last status, and the charger reports every connector again after it reconnects). Heartbeats are one UPDATE for the whole batch; statuses
//! keep their order per charger. Each charger gets its answer after the batch committed.

use diesel::prelude::*;
use serde_json::json;
use tokio::sync::oneshot;

use crate::error::AppError;
use crate::infra::db::group_commit::{self, Commit, GroupCommit};
use crate::infra::db::schema::{chargers, connectors};
use crate::infra::db::text_enum::text_enum;
use crate::infra::db::{Db, DbConnection, now, relaxed_tx};
use crate::infra::events::{self, Subject};

text_enum! {
    /// A connector's status word, stored as the station sent it: OCPP 1.6's ChargePointStatus
    /// and 2.0.1's ConnectorStatusEnum (which adds `Occupied`). The core reads it through
    /// [`ConnectorStatus::is_out_of_order`] and [`ConnectorStatus::is_free`].
    pub enum ConnectorStatus {
        Available,
        Preparing,
        Charging,
        SuspendedEvse = "SuspendedEVSE",
        SuspendedEv = "SuspendedEV",
        Finishing,
        Reserved,
        Unavailable,
        Faulted,
        Occupied,
    }
}

impl ConnectorStatus {
    /// Faulted or Unavailable: no session can start there.
    pub fn is_out_of_order(status: &str) -> bool {
        matches!(Self::of(status), Some(Self::Faulted | Self::Unavailable))
    }

    /// Available, or Preparing (a driver plugging in): nothing runs there, so a transaction
    /// csms still holds open on it from before a reboot is gone.
    pub fn is_free(status: &str) -> bool {
        matches!(Self::of(status), Some(Self::Available | Self::Preparing))
    }
}

/// A connector's status as a station reports it (connector 0: the station itself), in the core's
/// terms (OCPP 1.6 StatusNotification; 2.0.1 StatusNotification and NotifyEvent map to it).
#[derive(Clone, Debug)]
pub struct StatusReport {
    pub connector_id: i32,
    pub status: String,
    pub error_code: String,
    pub info: Option<String>,
    pub vendor_error_code: Option<String>,
}

enum Job {
    Heartbeat {
        charger_id: i64,
        reply: oneshot::Sender<Result<(), AppError>>,
    },
    Status {
        charger_id: i64,
        device_id: String,
        req: StatusReport,
        /// Whether the status changed (an event was recorded).
        reply: oneshot::Sender<Result<bool, AppError>>,
    },
}

pub struct TelemetryWriter {
    queue: GroupCommit<Job>,
}

impl TelemetryWriter {
    pub fn start(db: Db) -> TelemetryWriter {
        let config = group_commit::Config::writer(1);
        let queue = GroupCommit::start(config, |_| Writer { db: db.clone() });
        TelemetryWriter { queue }
    }

    /// A Heartbeat: the charger's last heartbeat and last seen times.
    pub async fn heartbeat(&self, charger_id: i64) -> Result<(), AppError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Heartbeat { charger_id, reply }).await?;
        rx.await.map_err(dropped)?
    }

    /// A StatusReport; returns whether the status changed.
    pub async fn status(
        &self,
        charger_id: i64,
        device_id: &str,
        req: StatusReport,
    ) -> Result<bool, AppError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Status {
            charger_id,
            device_id: device_id.to_string(),
            req,
            reply,
        })
        .await?;
        rx.await.map_err(dropped)?
    }

    async fn send(&self, job: Job) -> Result<(), AppError> {
        self.queue
            .push(0, job)
            .await
            .map_err(|_| AppError::Internal("telemetry writer stopped".into()))
    }
}

fn dropped(_: oneshot::error::RecvError) -> AppError {
    AppError::Internal("telemetry writer dropped a message".into())
}

struct Writer {
    db: Db,
}

impl Commit<Job> for Writer {
    async fn commit(&mut self, jobs: Vec<Job>) {
        metrics::histogram!("csms_telemetry_batch_messages").record(jobs.len() as f64);
        let done = self
            .db
            .run(move |c| {
                write_batch(c, jobs);
                Ok(())
            })
            .await;
        if let Err(e) = done {
            log::error!("telemetry writer: {e}");
        }
    }
}

/// Writes a batch in one transaction and answers every job; if the batch fails as a whole, each
/// message is retried in its own transaction so the others still succeed.
fn write_batch(c: &mut DbConnection, jobs: Vec<Job>) {
    let together = relaxed_tx(c, |c| write_all(c, &jobs));
    match together {
        Ok(changed) => answer(jobs, changed.into_iter().map(Ok).collect()),
        Err(e) if jobs.len() > 1 => {
            log::warn!(
                "telemetry batch of {} failed ({e}); retrying one by one",
                jobs.len()
            );
            let results = jobs
                .iter()
                .map(|job| {
                    relaxed_tx(c, |c| write_all(c, std::slice::from_ref(job)))
                        .map(|mut changed| changed.pop().unwrap_or(false))
                })
                .collect();
            answer(jobs, results)
        }
        Err(e) => answer(jobs, vec![Err(e)]),
    }
}

fn answer(jobs: Vec<Job>, results: Vec<Result<bool, AppError>>) {
    let mut results = results.into_iter();
    for job in jobs {
        let result = results
            .next()
            .unwrap_or_else(|| Err(AppError::Internal("telemetry batch failed".into())));
        match job {
            Job::Heartbeat { reply, .. } => {
                let _ = reply.send(result.map(|_| ()));
            }
            Job::Status { reply, .. } => {
                let _ = reply.send(result);
            }
        }
    }
}

/// Every job of the batch, inside the caller's transaction: one UPDATE for all heartbeats, then the
/// statuses in arrival order. Returns, per job, whether a status changed (false for heartbeats).
fn write_all(c: &mut DbConnection, jobs: &[Job]) -> Result<Vec<bool>, AppError> {
    let t = now();
    let mut beating: Vec<i64> = jobs
        .iter()
        .filter_map(|j| match j {
            Job::Heartbeat { charger_id, .. } => Some(*charger_id),
            Job::Status { .. } => None,
        })
        .collect();
    beating.sort_unstable();
    beating.dedup();
    if !beating.is_empty() {
        diesel::update(chargers::table.filter(chargers::id.eq_any(&beating)))
            .set((
                chargers::last_heartbeat_at.eq(t),
                chargers::last_seen_at.eq(t),
            ))
            .execute(c)?;
    }
    jobs.iter()
        .map(|j| match j {
            Job::Heartbeat { .. } => Ok(false),
            Job::Status {
                charger_id,
                device_id,
                req,
                ..
            } => record_status(c, *charger_id, device_id, req),
        })
        .collect()
}

/// Stores a connector's (or the charger's, connector 0) status; `status_since` moves only when the
/// status changes. Returns whether it changed (and then records `connector.status_changed`).
fn record_status(
    c: &mut DbConnection,
    charger_id: i64,
    device: &str,
    req: &StatusReport,
) -> Result<bool, AppError> {
    let t = now();
    if req.connector_id == 0 {
        diesel::update(chargers::table.find(charger_id))
            .set((
                chargers::status.eq(&req.status),
                chargers::error_code.eq(&req.error_code),
                chargers::last_seen_at.eq(t),
            ))
            .execute(c)?;
    } else {
        let this = connectors::table
            .filter(connectors::charger_id.eq(charger_id))
            .filter(connectors::connector_id.eq(req.connector_id));
        let old: Option<String> = this.select(connectors::status).first(c).optional()?;
        let values = (
            connectors::status.eq(&req.status),
            connectors::error_code.eq(&req.error_code),
            connectors::info.eq(&req.info),
            connectors::vendor_error_code.eq(&req.vendor_error_code),
            connectors::updated_at.eq(t),
        );
        match &old {
            Some(o) if *o == req.status => {
                diesel::update(this).set(values).execute(c)?;
                return Ok(false);
            }
            Some(_) => {
                diesel::update(this)
                    .set((values, connectors::status_since.eq(t)))
                    .execute(c)?;
            }
            None => {
                diesel::insert_into(connectors::table)
                    .values((
                        connectors::charger_id.eq(charger_id),
                        connectors::connector_id.eq(req.connector_id),
                        values,
                        connectors::status_since.eq(t),
                    ))
                    .execute(c)?;
            }
        }
    }
    events::record(
        c,
        "connector.status_changed",
        Subject {
            charger_id: Some(charger_id),
            ..Default::default()
        },
        json!({"deviceId": device, "connectorId": req.connector_id, "status": req.status, "errorCode": req.error_code}),
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::ConnectorStatus;

    #[test]
    fn connector_words_of_both_versions() {
        crate::infra::db::text_enum::check_words(
            ConnectorStatus::ALL,
            ConnectorStatus::as_str,
            ConnectorStatus::of,
        );
        assert_eq!(
            ConnectorStatus::of("SuspendedEVSE"),
            Some(ConnectorStatus::SuspendedEvse)
        );
        assert!(ConnectorStatus::is_free("Preparing") && !ConnectorStatus::is_free("Occupied"));
        assert!(ConnectorStatus::is_out_of_order("Faulted"));
        assert!(
            !ConnectorStatus::is_out_of_order("available"),
            "words are case-sensitive"
        );
    }
}
