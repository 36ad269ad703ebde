//! The OCPP message log: every frame in and out, written in batches by one background task (so the
//! connection never waits on it), and bounded everywhere:
//!
//! - in memory, the frames waiting for the writer hold at most `queue_bytes` (a frame beyond it is
//!   dropped and counted in `csms_ocpp_message_log_dropped_total`): a charger flooding csms cannot
//!   grow the queue, whatever its frames;
//! - a frame longer than `frame_bytes` is logged cut to that length, with a marker;
//! - in the database, a charger's log never holds more than `per_charger` frames: the write that
//!   would pass it trims the charger's log to its newest half in the same transaction.
//!
//! Passwords (ChangeConfiguration `AuthorizationKey`, in any case) and the tokens of csms's file
//! addresses (UpdateFirmware, SignedUpdateFirmware, GetDiagnostics, GetLog) are never logged.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use serde_json::Value;

use crate::error::AppError;
use crate::infra::db::group_commit::{self, Commit, GroupCommit};
use crate::infra::db::models::NewOcppMessage;
use crate::infra::db::schema::ocpp_messages;
use crate::infra::db::{Db, now, relaxed_tx};
use crate::protocol::frame::Frame;

/// The message log's bounds (`CSMS_MESSAGE_LOG_*`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most frames kept per charger in the database.
    pub per_charger: i64,
    /// Most bytes of frames waiting for the writer.
    pub queue_bytes: usize,
    /// Longest frame logged whole; a longer one is cut to this length (marker included).
    pub frame_bytes: usize,
}

impl Limits {
    pub fn of(settings: &crate::infra::config::Settings) -> Limits {
        Limits {
            per_charger: settings.message_log_limit.max(1),
            queue_bytes: settings.message_log_queue_bytes,
            frame_bytes: settings.message_log_frame_bytes.max(256),
        }
    }

    /// What a trim leaves of a charger's log: its newest half. A trim costs a walk over what it
    /// keeps (the OFFSET) and the rows it deletes; trimming to half makes that two index entries
    /// per logged frame, and one DELETE per half a limit of frames (to 90 % it was ten, and one
    /// DELETE per tenth: 7 % of ingest on PostgreSQL, BENCHMARKS.md 2026-12-06).
    fn keep(&self) -> i64 {
        self.per_charger - self.per_charger / 2
    }
}

pub struct MessageLog {
    queue: GroupCommit<NewOcppMessage>,
    /// Bytes of the frames sent to the writer and not written yet.
    queued: Arc<AtomicUsize>,
    limits: Limits,
    /// Chargers whose log another process may have written since this one last did (they connected
    /// here again): the writer no longer trusts its count of their rows.
    reconnected: Arc<Mutex<Vec<i64>>>,
}

/// What a queued frame costs in memory: its text and the row around it.
fn row_bytes(m: &NewOcppMessage) -> usize {
    std::mem::size_of::<NewOcppMessage>()
        + m.payload.len()
        + m.message_id.len()
        + m.action.as_ref().map_or(0, String::len)
}

/// Cuts `text` to at most `max` bytes (at a character boundary), marked with its full length.
/// Returns whether it was cut.
pub fn truncate(text: &mut String, max: usize) -> bool {
    let total = text.len();
    if total <= max {
        return false;
    }
    let marker = format!("...[truncated: {total} bytes]");
    let mut cut = max.saturating_sub(marker.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&marker);
    text.shrink_to_fit(); // the memory of the long frame goes back now, not when it is written
    true
}

/// `location` with the token of a csms file address (`…/files/{kind}/{token}/…`) and a URL
/// password (`user:password@`) hidden; `None` when there is neither.
fn hide_secrets(location: &str) -> Option<String> {
    let mut out = location.to_string();
    let mut changed = false;
    if let Some(i) = out.find("/files/") {
        let rest = &out[i + "/files/".len()..];
        if let Some(kind_end) = rest.find('/') {
            let token_start = i + "/files/".len() + kind_end + 1;
            let token_end = out[token_start..]
                .find('/')
                .map_or(out.len(), |j| token_start + j);
            if token_end > token_start {
                out.replace_range(token_start..token_end, "(hidden)");
                changed = true;
            }
        }
    }
    if let Some(scheme) = out.find("://") {
        let auth_start = scheme + 3;
        let auth_end = out[auth_start..]
            .find('/')
            .map_or(out.len(), |j| auth_start + j);
        if let Some(at) = out[auth_start..auth_end].rfind('@')
            && let Some(colon) = out[auth_start..auth_start + at].find(':')
        {
            out.replace_range(auth_start + colon + 1..auth_start + at, "(hidden)");
            changed = true;
        }
    }
    changed.then_some(out)
}

/// The text to log for a CALL of ours that carries a secret, with the secret hidden; `None` for
/// every other frame (logged as sent).
fn redacted(frame: &Frame) -> Option<String> {
    let Frame::Call {
        id,
        action,
        payload,
    } = frame
    else {
        return None;
    };
    let mut p: Value = match action.as_str() {
        "ChangeConfiguration"
            if crate::protocol::ocpp16::messages::changes_key(
                action,
                payload,
                "AuthorizationKey",
            ) =>
        {
            let mut p = payload.clone();
            p["value"] = Value::from("(hidden)");
            p
        }
        // OCPP 2.0.1: a new Basic auth password among the variables set.
        "SetVariables" => {
            let mut p = payload.clone();
            let items = p["setVariableData"].as_array_mut()?;
            let mut hid = false;
            for item in items.iter_mut() {
                if crate::protocol::ocpp201::messages::is_basic_auth_password(item) {
                    item["attributeValue"] = Value::from("(hidden)");
                    hid = true;
                }
            }
            if !hid {
                return None;
            }
            p
        }
        "UpdateFirmware" | "GetDiagnostics" | "SignedUpdateFirmware" | "GetLog" => {
            let pointer = match action.as_str() {
                "SignedUpdateFirmware" => "/firmware/location",
                "GetLog" => "/log/remoteLocation",
                _ => "/location",
            };
            let hidden = hide_secrets(payload.pointer(pointer)?.as_str()?)?;
            let mut p = payload.clone();
            *p.pointer_mut(pointer)? = Value::from(hidden);
            p
        }
        _ => return None,
    };
    if p.is_null() {
        p = Value::Object(Default::default());
    }
    Some(serde_json::json!([2, id, action, p]).to_string())
}

impl MessageLog {
    /// Starts the writer task and returns the handle the connections use.
    pub fn start(db: Db, limits: Limits) -> MessageLog {
        let queued = Arc::new(AtomicUsize::new(0));
        let reconnected = Arc::<Mutex<Vec<i64>>>::default();
        let queue = GroupCommit::start(CONFIG, |_| Writer {
            db: db.clone(),
            queued: queued.clone(),
            reconnected: reconnected.clone(),
            limits,
            stored: HashMap::new(),
        });
        MessageLog {
            queue,
            queued,
            limits,
            reconnected,
        }
    }

    /// The handle and the receiving end its writer would read (for tests).
    #[cfg(test)]
    fn unstarted(limits: Limits) -> (MessageLog, tokio::sync::mpsc::Receiver<NewOcppMessage>) {
        let (queue, mut rx) = GroupCommit::unstarted(CONFIG);
        let log = MessageLog {
            queue,
            queued: Arc::new(AtomicUsize::new(0)),
            limits,
            reconnected: Arc::default(),
        };
        (log, rx.remove(0))
    }

    /// A charger connected to this process: another one may have written its log meanwhile.
    pub fn reconnected(&self, charger_id: i64) {
        if let Ok(mut v) = self.reconnected.lock() {
            v.push(charger_id);
        }
    }

    /// Bytes of frames waiting for the writer.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub fn record(
        &self,
        charger_id: i64,
        direction: &'static str,
        frame: &Frame,
        action: Option<&str>,
        text: String,
    ) -> bool {
        let text = redacted(frame).unwrap_or(text);
        self.record_raw(
            charger_id,
            direction,
            i32::from(frame.message_type()),
            frame.id().to_string(),
            action.map(str::to_string),
            text,
        )
    }

    /// Queues a frame for the log; false when it was dropped (the queue's bytes are spent).
    pub fn record_raw(
        &self,
        charger_id: i64,
        direction: &'static str,
        message_type: i32,
        message_id: String,
        action: Option<String>,
        mut payload: String,
    ) -> bool {
        if truncate(&mut payload, self.limits.frame_bytes) {
            metrics::counter!("csms_ocpp_message_log_truncated_total").increment(1);
        }
        let mut message_id = message_id;
        truncate(&mut message_id, 64);
        let row = NewOcppMessage {
            charger_id,
            direction,
            message_type,
            message_id,
            action,
            payload,
            created_at: now(),
        };
        let size = row_bytes(&row);
        let before = self.queued.fetch_add(size, Ordering::Relaxed);
        if before + size > self.limits.queue_bytes || self.queue.try_push(charger_id, row).is_err()
        {
            self.queued.fetch_sub(size, Ordering::Relaxed);
            metrics::counter!("csms_ocpp_message_log_dropped_total").increment(1);
            return false;
        }
        true
    }
}

/// One writer task (one lane: a charger's rows counted in one place), 16 384 frames queued at most
/// (the bytes bound is [`Limits::queue_bytes`]; a frame beyond either is dropped, never waited
/// for), 512 frames per transaction; it waits 5 ms after a frame for the rest of its burst.
const CONFIG: group_commit::Config = group_commit::Config {
    lanes: 1,
    queue: 16_384,
    max_batch: 512,
    linger: Some(Duration::from_millis(5)),
};

/// The writer: inserts a batch, trims the logs it would take past their limit, and gives the
/// batch's bytes back to the queue.
struct Writer {
    db: Db,
    queued: Arc<AtomicUsize>,
    reconnected: Arc<Mutex<Vec<i64>>>,
    limits: Limits,
    /// Per charger, at most how many rows its log holds since this writer's last commit; absent:
    /// unknown (not written by this process yet, or another process may have), so the next write
    /// trims it.
    stored: HashMap<i64, i64>,
}

impl Commit<NewOcppMessage> for Writer {
    async fn commit(&mut self, rows: Vec<NewOcppMessage>) {
        if let Ok(mut v) = self.reconnected.lock() {
            for id in v.drain(..) {
                self.stored.remove(&id);
            }
        }
        let mut added: HashMap<i64, i64> = HashMap::new();
        let mut bytes = 0;
        for m in &rows {
            *added.entry(m.charger_id).or_default() += 1;
            bytes += row_bytes(m);
        }
        let limits = self.limits;
        let trim: HashSet<i64> = added
            .iter()
            .filter(|(id, n)| {
                self.stored
                    .get(id)
                    .is_none_or(|s| s + **n > limits.per_charger)
            })
            .map(|(id, _)| *id)
            .collect();
        let to_trim: Vec<i64> = trim.iter().copied().collect();
        let keep = limits.keep();
        let result = self
            .db
            .run(move |c| insert_and_trim(c, &rows, &to_trim, keep))
            .await;
        self.queued.fetch_sub(bytes, Ordering::Relaxed);
        metrics::gauge!("csms_ocpp_message_log_queue_bytes")
            .set(self.queued.load(Ordering::Relaxed) as f64);
        match result {
            Ok(()) => {
                for (id, n) in added {
                    if trim.contains(&id) {
                        self.stored.insert(id, keep);
                    } else if let Some(s) = self.stored.get_mut(&id) {
                        *s += n;
                    }
                }
            }
            // Nothing was written, and what the counts say still holds.
            Err(e) => log::warn!("message log: {e}"),
        }
    }
}

/// Writes a batch and, in the same transaction, trims the log of each charger in `trim` to its
/// newest `keep` frames (one DELETE each): a commit never leaves a charger with more frames than
/// the limit.
fn insert_and_trim(
    c: &mut crate::infra::db::DbConnection,
    rows: &[NewOcppMessage],
    trim: &[i64],
    keep: i64,
) -> Result<(), AppError> {
    relaxed_tx(c, |c| -> Result<(), AppError> {
        crate::infra::db::insert_ocpp_messages(c, rows)?;
        for &charger in trim {
            trim_one(c, charger, keep)?;
        }
        Ok(())
    })
}

/// Deletes all but the newest `keep` frames of a charger (one statement).
pub fn trim_one(
    c: &mut crate::infra::db::DbConnection,
    charger: i64,
    keep: i64,
) -> Result<(), AppError> {
    use diesel::sql_types::BigInt;
    const SQL: &str = "DELETE FROM ocpp_messages WHERE charger_id = $1 AND id <= \
        (SELECT id FROM ocpp_messages WHERE charger_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)";
    match c {
        crate::infra::db::DbConnection::Postgresql(pg) => diesel::sql_query(SQL)
            .bind::<BigInt, _>(charger)
            .bind::<BigInt, _>(keep)
            .execute(pg)?,
        // SQLite numbers its parameters ?1, ?2 (each may appear more than once).
        crate::infra::db::DbConnection::Sqlite(lite) => diesel::sql_query(SQL.replace('$', "?"))
            .bind::<BigInt, _>(charger)
            .bind::<BigInt, _>(keep)
            .execute(lite)?,
    };
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
    c: &mut crate::infra::db::DbConnection,
    device_id: &str,
    limit: i64,
) -> Result<Vec<MessageView>, AppError> {
    let id = crate::domain::chargers::id_of(c, device_id)?;
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
                    created_at: crate::infra::timestamps::format_timestamp(at),
                }
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(queue_bytes: usize) -> Limits {
        Limits {
            per_charger: 1000,
            queue_bytes,
            frame_bytes: 64 << 10,
        }
    }

    /// A writer that cannot keep up (here: none at all) never lets the queue hold more than its
    /// bytes: a flood of large frames is dropped and counted, not buffered.
    #[test]
    fn the_queue_is_bounded_in_bytes() {
        let (log, _rx) = MessageLog::unstarted(limits(1 << 20));
        let frame = format!(
            r#"[2,"x","DataTransfer",{{"data":"{}"}}]"#,
            "x".repeat(60_000)
        );
        let (mut queued, mut dropped) = (0, 0);
        for _ in 0..1000 {
            if log.record_raw(1, "in", 2, "x".into(), None, frame.clone()) {
                queued += 1;
            } else {
                dropped += 1;
            }
            assert!(log.queued_bytes() <= 1 << 20, "{}", log.queued_bytes());
        }
        assert!((15..=17).contains(&queued), "{queued} queued");
        assert_eq!(dropped, 1000 - queued);
        // Small frames still fit where a large one does not.
        assert!(log.record_raw(
            1,
            "in",
            2,
            "y".into(),
            None,
            "[2,\"y\",\"Heartbeat\",{}]".into()
        ));
    }

    #[test]
    fn long_frames_are_cut_with_a_marker() {
        let (log, mut rx) = MessageLog::unstarted(Limits {
            frame_bytes: 1024,
            ..limits(1 << 20)
        });
        let long = format!(
            "[2,\"x\",\"DataTransfer\",{{\"data\":\"{}\"}}]",
            "é".repeat(5000)
        );
        assert!(log.record_raw(1, "in", 2, "x".repeat(1000), None, long.clone()));
        let row = rx.try_recv().expect("queued");
        assert!(row.payload.len() <= 1024, "{}", row.payload.len());
        assert!(
            row.payload
                .ends_with(&format!("...[truncated: {} bytes]", long.len())),
            "{}",
            &row.payload[row.payload.len() - 40..]
        );
        assert!(long.starts_with(row.payload.split("...[truncated").next().unwrap()));
        assert!(row.message_id.len() <= 64);
        let mut short = "short".to_string();
        assert!(!truncate(&mut short, 1024));
        assert_eq!(short, "short");
    }

    #[test]
    fn file_tokens_and_passwords_are_hidden() {
        let call = |action: &str, payload: Value| Frame::Call {
            id: "1".into(),
            action: action.into(),
            payload,
        };
        let tok = "0123456789abcdef0123456789abcdef";
        for (action, payload) in [
            (
                "UpdateFirmware",
                serde_json::json!({"location": format!("http://csms:3000/files/firmware/{tok}/fw.bin"), "retrieveDate": "2026-01-01T00:00:00Z"}),
            ),
            (
                "GetDiagnostics",
                serde_json::json!({"location": format!("http://csms:3000/files/diagnostics/{tok}/")}),
            ),
            (
                "GetLog",
                serde_json::json!({"logType": "SecurityLog", "requestId": 1, "log": {"remoteLocation": format!("https://h/files/logs/{tok}/")}}),
            ),
            (
                "SignedUpdateFirmware",
                serde_json::json!({"requestId": 1, "firmware": {"location": format!("http://h/files/firmware/{tok}/a"), "retrieveDateTime": "2026-01-01T00:00:00Z", "signingCertificate": "c", "signature": "s"}}),
            ),
            (
                "ChangeConfiguration",
                serde_json::json!({"key": "authorizationKEY", "value": tok}),
            ),
            (
                "SetVariables",
                serde_json::json!({"setVariableData": [
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}, "attributeValue": "60"},
                    {"component": {"name": "securityctrlr"}, "variable": {"name": "BasicAuthPassword"}, "attributeValue": tok}
                ]}),
            ),
            (
                "UpdateFirmware",
                serde_json::json!({"location": format!("ftp://user:{tok}@host/fw.bin"), "retrieveDate": "2026-01-01T00:00:00Z"}),
            ),
        ] {
            let text = redacted(&call(action, payload.clone())).expect("redacted");
            assert!(!text.contains(tok), "{text}");
            assert!(text.contains("(hidden)"), "{text}");
            // Everything else is as sent.
            let logged: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(logged[2], action);
        }
        assert!(
            redacted(&call(
                "UpdateFirmware",
                serde_json::json!({"location": "http://example.com/fw.bin", "retrieveDate": "x"})
            ))
            .is_none()
        );
        assert!(redacted(&call("Heartbeat", serde_json::json!({}))).is_none());
    }
}
