//! Group commit for meter reports (MeterValues) ([`crate::infra::db::group_commit`]): one task per lane collects the
//! messages of many chargers and writes them in one transaction with multi-row inserts; each
//! charger gets its answer only after its rows are committed (a full lane makes it wait). This is
//! what lets one node persist tens of thousands of meter reports per second.

use tokio::sync::oneshot;

use super::Policy;
use super::evidence::MeterReport;
use super::transactions::{self, FollowUp};
use crate::error::AppError;
use crate::infra::db::group_commit::{self, Commit, GroupCommit};
use crate::infra::db::{Db, DbConnection, write_tx};

struct Job {
    charger_id: i64,
    req: MeterReport,
    reply: oneshot::Sender<Result<FollowUp, AppError>>,
}

pub struct MeterWriter {
    lanes: GroupCommit<Job>,
}

/// How many lanes a server runs on `backend` with a pool of `pool_size`: on PostgreSQL a quarter
/// of the pool, 1 to 4 (batches commit side by side); on SQLite 1 (one writer at a time anyway).
/// `csms bench ingest` runs its ceiling with the same number.
pub fn lanes_for(backend: crate::infra::db::Backend, pool_size: u32) -> usize {
    match backend {
        crate::infra::db::Backend::Postgres => (pool_size as usize / 4).clamp(1, 4),
        crate::infra::db::Backend::Sqlite => 1,
    }
}

impl MeterWriter {
    /// `lanes` writers commit batches side by side; a charger's messages always go through the same
    /// lane, so they are stored (and its sessions updated) in the order it sent them, and no two
    /// lanes ever update the same session (no lock waits or deadlocks between lanes).
    pub fn start(db: Db, policy: Policy, lanes: usize) -> MeterWriter {
        let config = group_commit::Config::writer(lanes);
        let lanes = GroupCommit::start(config, |_| Lane {
            db: db.clone(),
            policy,
        });
        MeterWriter { lanes }
    }

    /// Stores one meter report; resolves once it is durable.
    pub async fn write(&self, charger_id: i64, req: MeterReport) -> Result<FollowUp, AppError> {
        let (reply, rx) = oneshot::channel();
        self.lanes
            .push(
                charger_id,
                Job {
                    charger_id,
                    req,
                    reply,
                },
            )
            .await
            .map_err(|_| AppError::Internal("meter writer stopped".into()))?;
        rx.await
            .map_err(|_| AppError::Internal("meter writer dropped a message".into()))?
    }
}

/// One lane's commits (a lane per key group: see [`MeterWriter::start`]).
struct Lane {
    db: Db,
    policy: Policy,
}

impl Commit<Job> for Lane {
    async fn commit(&mut self, jobs: Vec<Job>) {
        metrics::histogram!("csms_meter_batch_messages").record(jobs.len() as f64);
        let policy = self.policy;
        let done = self
            .db
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

/// Writes a batch in one transaction, set-wise ([`transactions::meter_values_batch`]), and answers
/// every job. If the batch fails as a whole (one bad message), each message is retried in its own
/// transaction so the others still succeed.
fn write_batch(c: &mut DbConnection, jobs: Vec<Job>, policy: &Policy) {
    let together = write_tx(c, |c| {
        let batch: Vec<(i64, &MeterReport)> = jobs.iter().map(|j| (j.charger_id, &j.req)).collect();
        transactions::meter_values_batch(c, &batch, policy)
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
