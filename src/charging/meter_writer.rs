//! Group commit for MeterValues: one task collects the messages of many chargers and writes them in
//! one transaction with multi-row inserts; each charger gets its answer only after its rows are
//! committed. This is what lets one node persist tens of thousands of MeterValues per second.

use tokio::sync::{mpsc, oneshot};

use super::Policy;
use super::transactions::{self, FollowUp};
use crate::db::{Db, DbConnection, write_tx};
use crate::error::AppError;
use crate::ocpp::messages::MeterValues;

struct Job {
    charger_id: i64,
    req: MeterValues,
    reply: oneshot::Sender<Result<FollowUp, AppError>>,
}

pub struct MeterWriter {
    tx: mpsc::Sender<Job>,
}

/// Largest number of MeterValues messages committed together.
const MAX_BATCH: usize = 2000;

impl MeterWriter {
    pub fn start(db: Db, policy: Policy) -> MeterWriter {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(writer(db, policy, rx));
        MeterWriter { tx }
    }

    /// Stores one MeterValues message; resolves once it is durable.
    pub async fn write(&self, charger_id: i64, req: MeterValues) -> Result<FollowUp, AppError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job {
                charger_id,
                req,
                reply,
            })
            .await
            .map_err(|_| AppError::Internal("meter writer stopped".into()))?;
        rx.await
            .map_err(|_| AppError::Internal("meter writer dropped a message".into()))?
    }
}

async fn writer(db: Db, policy: Policy, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let jobs = std::mem::take(&mut batch);
        metrics::histogram!("csms_meter_batch_messages").record(jobs.len() as f64);
        let done = db
            .run(move |c| {
                write_batch(c, jobs, &policy);
                Ok(())
            })
            .await;
        if let Err(e) = done {
            log::error!("meter writer: {e}");
        }
    }
}

/// Writes a batch in one transaction and answers every job. If the batch fails as a whole (one bad
/// message), each message is retried in its own transaction so the others still succeed.
fn write_batch(c: &mut DbConnection, jobs: Vec<Job>, policy: &Policy) {
    let together = write_tx(c, |c| -> Result<Vec<FollowUp>, AppError> {
        let mut rows = Vec::new();
        let mut readings = Vec::new();
        for job in &jobs {
            let (r, energy) = transactions::meter_rows(
                job.charger_id,
                job.req.connector_id,
                job.req.transaction_id,
                &job.req.meter_value,
            );
            rows.extend(r);
            readings.push(job.req.transaction_id.zip(energy));
        }
        crate::db::insert_meter_values(c, &rows)?;
        let mut follow_ups = Vec::with_capacity(jobs.len());
        for (job, reading) in jobs.iter().zip(readings) {
            follow_ups.push(match reading {
                Some((tx_id, register)) => {
                    transactions::apply_energy(c, job.charger_id, tx_id, register, policy)?
                }
                None => FollowUp::default(),
            });
        }
        Ok(follow_ups)
    });
    match together {
        Ok(follow_ups) => {
            for (job, fu) in jobs.into_iter().zip(follow_ups) {
                let _ = job.reply.send(Ok(fu));
            }
        }
        Err(e) if jobs.len() > 1 => {
            log::warn!(
                "meter batch of {} failed ({e}); retrying one by one",
                jobs.len()
            );
            for job in jobs {
                let result = transactions::meter_values(c, job.charger_id, &job.req, policy);
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(AppError::Internal(e.to_string())));
            }
        }
    }
}
