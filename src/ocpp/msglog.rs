//! The OCPP message log: every frame in and out, written in batches by one background task (so the
//! connection never waits on it) and trimmed to the newest `message_log_limit` frames per charger.

use std::collections::HashSet;
use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::mpsc;

use super::frame::Frame;
use crate::db::models::NewOcppMessage;
use crate::db::schema::ocpp_messages;
use crate::db::{Db, now, relaxed_tx};
use crate::error::AppError;

pub struct MessageLog {
    tx: mpsc::Sender<NewOcppMessage>,
}

impl MessageLog {
    /// Starts the writer task and returns the handle the connections use.
    pub fn start(db: Db, limit_per_charger: i64) -> MessageLog {
        let (tx, rx) = mpsc::channel(16_384);
        tokio::spawn(writer(db, rx, limit_per_charger));
        MessageLog { tx }
    }

    pub fn record(
        &self,
        charger_id: i64,
        direction: &'static str,
        frame: &Frame,
        action: Option<&str>,
        text: String,
    ) {
        // A new charger password is never written to the log.
        let text = match frame {
            Frame::Call {
                id,
                action,
                payload,
            } if action == "ChangeConfiguration" && payload["key"] == "AuthorizationKey" => {
                let mut p = payload.clone();
                p["value"] = serde_json::Value::from("(hidden)");
                serde_json::json!([2, id, action, p]).to_string()
            }
            _ => text,
        };
        self.record_raw(
            charger_id,
            direction,
            i32::from(frame.message_type()),
            frame.id().to_string(),
            action.map(str::to_string),
            text,
        );
    }

    pub fn record_raw(
        &self,
        charger_id: i64,
        direction: &'static str,
        message_type: i32,
        message_id: String,
        action: Option<String>,
        payload: String,
    ) {
        let row = NewOcppMessage {
            charger_id,
            direction,
            message_type,
            message_id,
            action,
            payload,
            created_at: now(),
        };
        if self.tx.try_send(row).is_err() {
            metrics::counter!("csms_ocpp_message_log_dropped_total").increment(1);
        }
    }
}

/// How long the writer waits after a frame for the rest of its burst.
const LINGER: Duration = Duration::from_millis(5);

async fn writer(db: Db, mut rx: mpsc::Receiver<NewOcppMessage>, limit: i64) {
    let mut touched: HashSet<i64> = HashSet::new();
    let mut last_trim = tokio::time::Instant::now();
    let mut batch = Vec::with_capacity(512);
    loop {
        if rx.recv_many(&mut batch, 512).await == 0 {
            return; // every sender is gone: the server is shutting down
        }
        // Frames come in bursts (a call and its answer, a start's messages): lingering a moment
        // lets one transaction carry the burst instead of one transaction per frame.
        if batch.len() < 512 {
            tokio::time::sleep(LINGER).await;
            while batch.len() < 512
                && let Ok(m) = rx.try_recv()
            {
                batch.push(m);
            }
        }
        touched.extend(batch.iter().map(|m| m.charger_id));
        let rows = std::mem::take(&mut batch);
        if let Err(e) = db.run(move |c| insert(c, &rows)).await {
            log::warn!("message log: {e}");
        }
        if last_trim.elapsed() > Duration::from_secs(10) {
            last_trim = tokio::time::Instant::now();
            let ids: Vec<i64> = touched.drain().collect();
            if let Err(e) = db.run(move |c| trim(c, &ids, limit)).await {
                log::warn!("message log trim: {e}");
            }
        }
    }
}

fn insert(c: &mut crate::db::DbConnection, rows: &[NewOcppMessage]) -> Result<(), AppError> {
    relaxed_tx(c, |c| Ok(crate::db::insert_ocpp_messages(c, rows)?))
}

/// Deletes all but the newest `limit` frames of each charger, 100 chargers per relaxed write
/// transaction. (Each DELETE used to commit on its own: on SQLite that was an fsync and a fight for
/// the write lock per charger, thousands every 10 s with a large fleet, which the 10-minute soak
/// showed as start p99 rising to seconds once trimming began.)
pub fn trim(
    c: &mut crate::db::DbConnection,
    charger_ids: &[i64],
    limit: i64,
) -> Result<(), AppError> {
    for chunk in charger_ids.chunks(100) {
        relaxed_tx(c, |c| -> Result<(), AppError> {
            for &charger in chunk {
                let cutoff: Option<i64> = ocpp_messages::table
                    .filter(ocpp_messages::charger_id.eq(charger))
                    .order(ocpp_messages::id.desc())
                    .offset(limit)
                    .select(ocpp_messages::id)
                    .first(c)
                    .optional()?;
                if let Some(cutoff) = cutoff {
                    diesel::delete(
                        ocpp_messages::table
                            .filter(ocpp_messages::charger_id.eq(charger))
                            .filter(ocpp_messages::id.le(cutoff)),
                    )
                    .execute(c)?;
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// A logged frame as the operator API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: i64,
    /// `in` (from the charger) or `out`
    pub direction: String,
    /// 2 CALL, 3 CALLRESULT, 4 CALLERROR
    pub message_type: i32,
    pub message_id: String,
    pub action: Option<String>,
    /// The frame as JSON (as text when it was not valid JSON)
    #[schema(value_type = Object)]
    pub frame: serde_json::Value,
    pub created_at: String,
}

/// The newest `limit` (1 to 1,000) frames of a charger, newest first; 404 for an unknown charger.
pub fn list(
    c: &mut crate::db::DbConnection,
    device_id: &str,
    limit: i64,
) -> Result<Vec<MessageView>, AppError> {
    let id = crate::chargers::id_of(c, device_id)?;
    let rows = ocpp_messages::table
        .filter(ocpp_messages::charger_id.eq(id))
        .order(ocpp_messages::id.desc())
        .limit(limit.clamp(1, 1000))
        .select((
            ocpp_messages::id,
            ocpp_messages::direction,
            ocpp_messages::message_type,
            ocpp_messages::message_id,
            ocpp_messages::action,
            ocpp_messages::payload,
            ocpp_messages::created_at,
        ))
        .load::<(
            i64,
            String,
            i32,
            String,
            Option<String>,
            String,
            chrono::NaiveDateTime,
        )>(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, direction, message_type, message_id, action, text, at)| {
                let frame = serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or(serde_json::Value::String(text));
                MessageView {
                    id,
                    direction,
                    message_type,
                    message_id,
                    action,
                    frame,
                    created_at: crate::ocpp::messages::format_timestamp(at),
                }
            },
        )
        .collect())
}
