//! Transactions a station names by its own id (OCPP 2.0.1's `transactionId`, text), reported as a
//! stream of events: started, updated, ended, each with a sequence number. Stations send them late,
//! twice, out of order, offline and in bulk, for transactions csms never saw start, and with the
//! identifier that says who pays only part way through (a cable plugged in first, authorized
//! later).
//!
//! Each event is noted first on the station's row (`station_transactions`): the earliest time seen,
//! the lowest energy register, the identifier once one is known, the highest sequence number and
//! the end. From that the core decides what the event means in its own terms:
//! - the transaction **begins** (a [`TransactionStarted`] for `transactions::start_transaction`, which
//!   decides who pays exactly as for any station) as soon as an identifier is known, whatever event
//!   brings it, and at the earliest time and register seen;
//! - its **readings** are stored (`MeterReport`) once it has begun;
//! - it **ends** (a [`TransactionEnded`]) once it has begun and an end has been seen, whichever came
//!   first.
//!
//! Every step is idempotent: a repeated event finds the row as it left it, a begin that is retried
//! is recognised by `start_transaction` as a repeat, an end by `stop_transaction`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::evidence::{Authorization, MeterValue, TransactionEnded, TransactionStarted};
use crate::error::AppError;
use crate::infra::db::models::OcppTransaction;
use crate::infra::db::schema::{charging_sessions, ocpp_transactions, station_transactions};
use crate::infra::db::{DbConnection, now, relaxed_tx, write_tx};
use crate::infra::timestamps;

/// Where a transaction is in its life, as the station reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Started,
    Updated,
    Ended,
}

/// One event of a transaction the station names.
#[derive(Clone, Debug)]
pub struct TransactionEvent {
    pub stage: Stage,
    pub station_tx_id: String,
    pub seq_no: i64,
    /// The connector (for OCPP 2.0.1, the EVSE), when the event says.
    pub connector_id: Option<i32>,
    /// The identifier the event carries: the one that authorized it, or the one that stopped it.
    pub id_tag: Option<String>,
    /// Its kind, where the station says (OCPP 2.0.1's idToken type).
    pub id_token_type: Option<String>,
    /// Stopped with a master pass (an identifier that may stop any transaction): `id_tag` only
    /// stopped it and never pays for it.
    pub master_pass: bool,
    /// The id csms gave the start request that began it (the session's id).
    pub remote_start_id: Option<i64>,
    pub reservation_id: Option<i32>,
    pub timestamp: String,
    pub meter_value: Vec<MeterValue>,
    pub stopped_reason: Option<String>,
}

/// What an event means once noted.
#[derive(Debug)]
pub struct Noted {
    pub row_id: i64,
    /// The core's transaction, if the station's transaction already is one.
    pub transaction_id: Option<i64>,
    /// The identifier that pays for it, once known.
    pub id_tag: Option<String>,
    /// The answer already given about that identifier (a repeated event gets it again, see
    /// `tags::answer_again`).
    pub id_tag_info: Option<Authorization>,
    /// The transaction begins now.
    pub begin: Option<TransactionStarted>,
    /// Readings to store once it has begun (not with its end: those go with the end).
    pub readings: Vec<MeterValue>,
    pub connector_id: i32,
    /// It ends now (its `transaction_id` is filled in once it has one).
    pub end: Option<TransactionEnded>,
    /// The sequence jumped past the highest number seen: events are missing.
    pub gap: bool,
}

/// What is known of a station's transaction: written whole on its first event and on every
/// later one.
#[derive(Queryable, Selectable, Insertable, AsChangeset, Debug, Clone, PartialEq)]
#[diesel(table_name = station_transactions)]
#[diesel(treat_none_as_null = true, treat_none_as_default_value = false)]
struct Known {
    connector_id: Option<i32>,
    id_tag: Option<String>,
    reservation_id: Option<i32>,
    started_at: NaiveDateTime,
    meter_start: Option<i64>,
    seq_max: i64,
    ended_at: Option<NaiveDateTime>,
    meter_stop: Option<i64>,
    stopped_reason: Option<String>,
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = station_transactions)]
struct Row {
    id: i64,
    transaction_id: Option<i64>,
    #[diesel(embed)]
    known: Known,
}

/// The lowest and highest energy register among `readings`.
fn registers(readings: &[MeterValue]) -> (Option<i64>, Option<i64>) {
    let all: Vec<i64> = readings.iter().filter_map(MeterValue::energy_wh).collect();
    (all.iter().min().copied(), all.iter().max().copied())
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// What is known of a transaction once `ev` (at `at`, naming payer `tag`) is added to `old`.
fn merged(old: &Known, ev: &TransactionEvent, at: NaiveDateTime, tag: Option<String>) -> Known {
    let ended = ev.stage == Stage::Ended;
    let (low, high) = registers(&ev.meter_value);
    Known {
        connector_id: old.connector_id.or(ev.connector_id),
        id_tag: old.id_tag.clone().or(tag),
        reservation_id: old.reservation_id.or(ev.reservation_id),
        started_at: if ended {
            old.started_at
        } else {
            old.started_at.min(at)
        },
        meter_start: min_opt(old.meter_start, low),
        seq_max: old.seq_max.max(ev.seq_no),
        ended_at: old.ended_at.or(ended.then_some(at)),
        // Readings that come after the end raise what it ended at.
        meter_stop: if ended || old.ended_at.is_some() {
            max_opt(old.meter_stop, high)
        } else {
            old.meter_stop
        },
        stopped_reason: old.stopped_reason.clone().or(ev.stopped_reason.clone()),
    }
}

/// The common event of a running transaction: an Updated with readings and nothing new (no
/// identifier, the transaction begun and not ended, no earlier time or lower register). Only its
/// sequence number is news: it is noted in a transaction that does not wait for the disk (a
/// sequence number lost in a crash costs at most one needless GetTransactionStatus), and the
/// readings go on to the meter writer, which stores them durably. `None`: not such an event (its
/// row is left as it was; [`note`] notes it).
fn note_running(
    c: &mut DbConnection,
    charger_id: i64,
    ev: &TransactionEvent,
    at: NaiveDateTime,
) -> Result<Option<Noted>, AppError> {
    if ev.stage != Stage::Updated || ev.id_tag.is_some() || ev.remote_start_id.is_some() {
        return Ok(None);
    }
    relaxed_tx(c, |c| {
        let found: Option<Row> = station_transactions::table
            .filter(station_transactions::charger_id.eq(charger_id))
            .filter(station_transactions::station_tx_id.eq(&ev.station_tx_id))
            .select(Row::as_select())
            .first(c)
            .optional()?;
        let Some(Row {
            id,
            transaction_id: Some(transaction_id),
            known: old,
        }) = found
        else {
            return Ok(None);
        };
        let known = merged(&old, ev, at, None);
        let news = Known {
            seq_max: old.seq_max,
            ..known.clone()
        } != old;
        if news || old.ended_at.is_some() || old.id_tag.is_none() || old.meter_start.is_none() {
            return Ok(None);
        }
        // Raised only (two events noted at once keep the higher).
        diesel::update(
            station_transactions::table
                .find(id)
                .filter(station_transactions::seq_max.lt(known.seq_max)),
        )
        .set(station_transactions::seq_max.eq(known.seq_max))
        .execute(c)?;
        Ok(Some(Noted {
            row_id: id,
            transaction_id: Some(transaction_id),
            id_tag: old.id_tag,
            id_tag_info: None,
            begin: None,
            readings: ev.meter_value.clone(),
            connector_id: old.connector_id.unwrap_or(0),
            end: None,
            gap: ev.seq_no > old.seq_max + 1,
        }))
    })
}

/// Notes one event on the station's row (created on its first event) and says what it means.
pub fn note(
    c: &mut DbConnection,
    charger_id: i64,
    ev: &TransactionEvent,
) -> Result<Noted, AppError> {
    let at = timestamps::parse_timestamp(&ev.timestamp).unwrap_or_else(now);
    if let Some(noted) = note_running(c, charger_id, ev, at)? {
        return Ok(noted);
    }
    let (low, high) = registers(&ev.meter_value);
    write_tx(c, |c| {
        // No identifier, but the start request csms sent: the session's one-time tag. A master
        // pass is who stopped it: a transaction first seen at that stop is nobody's to bill.
        let payer = ev.id_tag.as_ref().filter(|_| !ev.master_pass);
        let tag = match (payer, ev.remote_start_id) {
            (Some(tag), _) => Some(tag.clone()),
            (None, Some(session)) => charging_sessions::table
                .find(session)
                .filter(charging_sessions::charger_id.eq(charger_id))
                .select(charging_sessions::id_tag)
                .first::<String>(c)
                .optional()?,
            (None, None) => None,
        };
        let found: Option<Row> = station_transactions::table
            .filter(station_transactions::charger_id.eq(charger_id))
            .filter(station_transactions::station_tx_id.eq(&ev.station_tx_id))
            .select(Row::as_select())
            .first(c)
            .optional()?;
        let ended = ev.stage == Stage::Ended;
        let (row_id, transaction_id, row, gap, was_ended) = match found {
            None => {
                let known = Known {
                    connector_id: ev.connector_id,
                    id_tag: tag,
                    reservation_id: ev.reservation_id,
                    started_at: at,
                    meter_start: low,
                    seq_max: ev.seq_no,
                    ended_at: ended.then_some(at),
                    meter_stop: if ended { high } else { None },
                    stopped_reason: ev.stopped_reason.clone(),
                };
                let id: i64 = diesel::insert_into(station_transactions::table)
                    .values((
                        station_transactions::charger_id.eq(charger_id),
                        station_transactions::station_tx_id.eq(&ev.station_tx_id),
                        &known,
                        station_transactions::created_at.eq(now()),
                    ))
                    .returning(station_transactions::id)
                    .get_result(c)?;
                // First seen part way through (a station csms did not hear from, a compliance
                // tool starting mid-session): nothing seen is missing, so nothing is asked.
                (id, None, known, false, false)
            }
            Some(Row {
                id,
                transaction_id,
                known: old,
            }) => {
                let gap = ev.seq_no > old.seq_max + 1;
                let known = merged(&old, ev, at, tag);
                diesel::update(station_transactions::table.find(id))
                    .set(&known)
                    .execute(c)?;
                // The first register known for a transaction that began without one.
                if let (Some(tx), None, Some(wh)) = (transaction_id, old.meter_start, low) {
                    register_known(c, tx, wh)?;
                }
                let was_ended = old.ended_at.is_some();
                (id, transaction_id, known, gap, was_ended)
            }
        };
        let connector_id = row.connector_id.unwrap_or(0);
        let begin = match (&transaction_id, &row.id_tag) {
            (None, Some(tag)) => Some(TransactionStarted {
                connector_id,
                id_tag: tag.clone(),
                // The kind this event gave it (an identifier an earlier event gave: unknown).
                id_token_type: ev
                    .id_tag
                    .as_deref()
                    .filter(|t| super::tags::normalize(t) == super::tags::normalize(tag))
                    .and(ev.id_token_type.clone()),
                meter_start: row.meter_start.unwrap_or(0),
                reservation_id: row.reservation_id,
                timestamp: timestamps::format_timestamp(row.started_at),
                station_transaction: Some(row_id),
            }),
            _ => None,
        };
        let id_tag_info = match transaction_id {
            Some(tx) => {
                let tx: OcppTransaction = ocpp_transactions::table
                    .find(tx)
                    .select(OcppTransaction::as_select())
                    .first(c)?;
                tx.id_tag_status
                    .is_some()
                    .then(|| super::tags::answer_again(c, &tx))
                    .transpose()?
            }
            None => None,
        };
        let begun = transaction_id.is_some() || begin.is_some();
        let end = match row.ended_at {
            Some(ended_at) if begun => Some(TransactionEnded {
                transaction_id: transaction_id.unwrap_or(0),
                id_tag: if ended { ev.id_tag.clone() } else { None },
                meter_stop: row
                    .meter_stop
                    .or(row.meter_start)
                    .unwrap_or(0)
                    .max(row.meter_start.unwrap_or(0)),
                timestamp: timestamps::format_timestamp(ended_at),
                reason: row.stopped_reason.clone(),
                transaction_data: if ended {
                    ev.meter_value.clone()
                } else {
                    Vec::new()
                },
                later_readings: !ended && was_ended,
            }),
            _ => None,
        };
        Ok(Noted {
            row_id,
            transaction_id,
            id_tag: row.id_tag.clone(),
            id_tag_info,
            begin,
            readings: if row.ended_at.is_some() || !begun {
                Vec::new()
            } else {
                ev.meter_value.clone()
            },
            connector_id,
            end,
            gap,
        })
    })
}

/// The station's transaction became the core's transaction `tx_id` (called by
/// `start_transaction`, in the transaction that records it, so that a stop sent at once names it).
pub fn linked(c: &mut DbConnection, row_id: i64, tx_id: i64) -> Result<(), AppError> {
    diesel::update(
        station_transactions::table
            .find(row_id)
            .filter(station_transactions::transaction_id.is_null()),
    )
    .set(station_transactions::transaction_id.eq(tx_id))
    .execute(c)?;
    Ok(())
}

/// A transaction that began before any energy register was seen starts from the first one.
fn register_known(c: &mut DbConnection, tx_id: i64, wh: i64) -> Result<(), AppError> {
    diesel::update(ocpp_transactions::table.find(tx_id))
        .set(ocpp_transactions::meter_start.eq(wh))
        .execute(c)?;
    diesel::update(
        charging_sessions::table
            .filter(charging_sessions::transaction_id.eq(tx_id))
            .filter(charging_sessions::energy_wh.eq(0)),
    )
    .set((
        charging_sessions::meter_start.eq(wh),
        charging_sessions::meter_last.eq(wh),
    ))
    .execute(c)?;
    Ok(())
}

/// The station's own id for the core's transaction `tx_id` (`None`: a station that numbers its
/// transactions as csms does, OCPP 1.6).
pub fn station_id(c: &mut DbConnection, tx_id: i64) -> Result<Option<String>, AppError> {
    Ok(station_transactions::table
        .filter(station_transactions::transaction_id.eq(tx_id))
        .select(station_transactions::station_tx_id)
        .first(c)
        .optional()?)
}

/// The core's transaction and the EVSE of the station's transaction `station_tx` on `charger_id`
/// (`None`: unknown, or not linked to a core transaction or an EVSE yet).
pub fn linked_on(
    c: &mut DbConnection,
    charger_id: i64,
    station_tx: &str,
) -> Result<Option<(i64, i32)>, AppError> {
    let found: Option<(Option<i64>, Option<i32>)> = station_transactions::table
        .filter(station_transactions::charger_id.eq(charger_id))
        .filter(station_transactions::station_tx_id.eq(station_tx))
        .select((
            station_transactions::transaction_id,
            station_transactions::connector_id,
        ))
        .first(c)
        .optional()?;
    Ok(found.and_then(|(tx, evse)| Some((tx?, evse?))))
}

/// What the customer pays for the core's transaction `tx_id` once it ended, in minor units, late
/// charges included (a late end after csms settled it bills more) (`None`: still running, or no
/// session bills it).
pub fn final_cost(c: &mut DbConnection, tx_id: i64) -> Result<Option<i64>, AppError> {
    Ok(charging_sessions::table
        .filter(charging_sessions::transaction_id.eq(tx_id))
        .filter(charging_sessions::stopped_at.is_not_null())
        .select((charging_sessions::cost, charging_sessions::late_cost))
        .first::<(i64, i64)>(c)
        .optional()?
        .map(|(cost, late)| cost + late))
}
