//! Domain events: written to the `events` table (the outbox) inside the transaction that makes the
//! change, then published to in-process subscribers (SSE streams) by one relay task, in order.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use serde_json::Value;
use tokio::sync::{Notify, broadcast};

use crate::db::models::EventRow;
use crate::db::schema::events;
use crate::db::{Db, DbConnection, now};
use crate::error::AppError;

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
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(4096).0,
            wake: Notify::new(),
        }
    }
}

impl EventBus {
    /// Tells the relay that new rows were committed (it also polls, so a missed wake only delays).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Publishes a live-only event (not stored), such as charging progress from meter values.
    pub fn publish_live(&self, name: &str, subject: Subject, payload: Value) {
        let _ = self.tx.send(Arc::new(Event {
            id: None,
            name: name.to_string(),
            customer_id: subject.customer_id,
            charger_id: subject.charger_id,
            payload,
        }));
    }

    /// Publishes committed outbox rows, oldest first, and marks them published. Runs forever.
    pub async fn relay(self: Arc<Self>, db: Db) {
        loop {
            match self.publish_pending(&db).await {
                Ok(n) if n > 0 => continue, // more may be waiting
                Ok(_) => {}
                Err(e) => log::warn!("event relay: {e}"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn publish_pending(&self, db: &Db) -> Result<usize, AppError> {
        let rows: Vec<EventRow> = db
            .run(|c| {
                Ok(events::table
                    .filter(events::published_at.is_null())
                    .order(events::id.asc())
                    .limit(500)
                    .select(EventRow::as_select())
                    .load(c)?)
            })
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        for row in rows {
            let payload = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
            log::info!("Published {} event", row.name);
            let _ = self.tx.send(Arc::new(Event {
                id: Some(row.id),
                name: row.name,
                customer_id: row.customer_id,
                charger_id: row.charger_id,
                payload,
            }));
        }
        let n = ids.len();
        db.run(move |c| {
            crate::db::relaxed_tx(c, |c| {
                diesel::update(events::table.filter(events::id.eq_any(ids)))
                    .set(events::published_at.eq(now()))
                    .execute(c)
            })?;
            Ok(())
        })
        .await?;
        Ok(n)
    }
}
