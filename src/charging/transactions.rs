//! What the charger's StartTransaction, MeterValues and StopTransaction do to sessions and money.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::{NewMeterValue, OcppTransaction, Session};
use crate::db::schema::{charging_sessions, customers, id_tags, ocpp_transactions};
use crate::db::{DbConnection, is_unique_violation, now, write_tx};
use crate::error::AppError;
use crate::events::Subject;
use crate::money;
use crate::ocpp::messages::{self, IdTagInfo, MeterValue};

/// Authorization of an idTag: a customer's app tag, or an RFID card from `id_tags`.
pub fn authorize(c: &mut DbConnection, id_tag: &str) -> Result<(IdTagInfo, Option<i64>), AppError> {
    let customer: Option<i64> = customers::table
        .filter(customers::id_tag.eq(id_tag))
        .select(customers::id)
        .first(c)
        .optional()?;
    if let Some(id) = customer {
        return Ok((IdTagInfo::status("Accepted"), Some(id)));
    }
    type Card = (String, Option<NaiveDateTime>, Option<String>, Option<i64>);
    let card: Option<Card> = id_tags::table
        .filter(id_tags::id_tag.eq(id_tag))
        .select((
            id_tags::status,
            id_tags::expiry_date,
            id_tags::parent_id_tag,
            id_tags::customer_id,
        ))
        .first(c)
        .optional()?;
    Ok(match card {
        None => (IdTagInfo::status("Invalid"), None),
        Some((status, expiry, parent, customer)) => {
            let expired = expiry.is_some_and(|e| e < now());
            let info = IdTagInfo {
                status: if expired {
                    "Expired".to_string()
                } else {
                    status
                },
                expiry_date: expiry.map(messages::format_timestamp),
                parent_id_tag: parent,
            };
            (info, customer)
        }
    })
}

/// Side effects the caller performs after the transaction committed.
#[derive(Default, Debug)]
pub struct FollowUp {
    /// Send RemoteStopTransaction for this transaction id.
    pub remote_stop: Option<i64>,
    /// Live progress of a session for SSE subscribers.
    pub progress: Option<(Subject, serde_json::Value)>,
}

pub struct Started {
    pub transaction_id: i64,
    pub id_tag_info: IdTagInfo,
    pub follow_up: FollowUp,
    /// An older session on the connector was settled ("Superseded"): the connector changed hands.
    pub superseded: bool,
}

/// StartTransaction: records the transaction (a replay gets the same id back), links it to the app
/// session waiting on that connector for that idTag, or opens a local (RFID) session that blocks the
/// connector for the app. Transactions left open on the connector are closed: the charger moved on.
pub fn start_transaction(
    c: &mut DbConnection,
    charger_id: i64,
    req: &messages::StartTransaction,
) -> Result<Started, AppError> {
    let started_at = messages::parse_timestamp(&req.timestamp).unwrap_or_else(now);
    let result = write_tx(c, |c| -> Result<Started, AppError> {
        let (mut info, tag_customer) = authorize(c, &req.id_tag)?;
        let tx_id: i64 = diesel::insert_into(ocpp_transactions::table)
            .values((
                ocpp_transactions::charger_id.eq(charger_id),
                ocpp_transactions::connector_id.eq(req.connector_id),
                ocpp_transactions::id_tag.eq(&req.id_tag),
                ocpp_transactions::meter_start.eq(req.meter_start),
                ocpp_transactions::started_at.eq(started_at),
                ocpp_transactions::reservation_id.eq(req.reservation_id),
                ocpp_transactions::created_at.eq(now()),
            ))
            .returning(ocpp_transactions::id)
            .get_result(c)?;

        // Close whatever the charger left open on this connector (a lost StopTransaction).
        let stale: Vec<OcppTransaction> = ocpp_transactions::table
            .filter(ocpp_transactions::charger_id.eq(charger_id))
            .filter(ocpp_transactions::connector_id.eq(req.connector_id))
            .filter(ocpp_transactions::stopped_at.is_null())
            .filter(ocpp_transactions::id.ne(tx_id))
            .select(OcppTransaction::as_select())
            .load(c)?;
        let mut superseded = false;
        for old in stale {
            log::warn!(
                "charger {charger_id} connector {}: transaction {} superseded by {tx_id}",
                req.connector_id,
                old.id
            );
            diesel::update(ocpp_transactions::table.find(old.id))
                .set((
                    ocpp_transactions::stopped_at.eq(started_at),
                    ocpp_transactions::stop_reason.eq("Superseded"),
                ))
                .execute(c)?;
            if let Some(sid) = old.session_id {
                superseded |= super::finalize(c, sid, None, "Superseded", started_at)?;
            }
        }

        let mut follow_up = FollowUp::default();
        let waiting: Option<Session> = charging_sessions::table
            .filter(charging_sessions::charger_id.eq(charger_id))
            .filter(charging_sessions::connector_id.eq(req.connector_id))
            .filter(charging_sessions::origin.eq("app"))
            .filter(charging_sessions::id_tag.eq(&req.id_tag))
            .filter(charging_sessions::transaction_id.is_null())
            .filter(charging_sessions::status.eq_any(super::OPEN_STATUSES))
            .select(Session::as_select())
            .first(c)
            .optional()?;
        let session_id = match waiting {
            Some(s) => {
                super::activate(c, s.id, None)?; // StartTransaction may overtake the RemoteStart answer
                let t = now();
                let linked = diesel::update(
                    charging_sessions::table
                        .find(s.id)
                        .filter(charging_sessions::transaction_id.is_null())
                        .filter(charging_sessions::status.eq_any(["active", "stopping"])),
                )
                .set((
                    charging_sessions::transaction_id.eq(tx_id),
                    charging_sessions::meter_start.eq(req.meter_start),
                    charging_sessions::meter_last.eq(req.meter_start),
                    charging_sessions::updated_at.eq(t),
                ))
                .execute(c)?;
                if linked == 1 {
                    info = IdTagInfo::status("Accepted");
                    if s.status == "stopping" {
                        follow_up.remote_stop = Some(tx_id); // the customer stopped before the charger started
                    }
                    Some(s.id)
                } else {
                    None
                }
            }
            None => open_local_session(c, charger_id, req, tx_id, tag_customer, started_at)?,
        };
        if let Some(sid) = session_id {
            diesel::update(ocpp_transactions::table.find(tx_id))
                .set(ocpp_transactions::session_id.eq(sid))
                .execute(c)?;
        }
        Ok(Started {
            transaction_id: tx_id,
            id_tag_info: info,
            follow_up,
            superseded,
        })
    });
    match result {
        Err(AppError::Database(e)) if is_unique_violation(&e) => {
            // A replay of a StartTransaction we already recorded: answer with the same transaction.
            let tx: OcppTransaction = ocpp_transactions::table
                .filter(ocpp_transactions::charger_id.eq(charger_id))
                .filter(ocpp_transactions::connector_id.eq(req.connector_id))
                .filter(ocpp_transactions::id_tag.eq(&req.id_tag))
                .filter(ocpp_transactions::meter_start.eq(req.meter_start))
                .filter(ocpp_transactions::started_at.eq(started_at))
                .select(OcppTransaction::as_select())
                .first(c)?;
            let info = if tx.session_id.is_some() {
                IdTagInfo::status("Accepted")
            } else {
                authorize(c, &req.id_tag)?.0
            };
            Ok(Started {
                transaction_id: tx.id,
                id_tag_info: info,
                follow_up: FollowUp::default(),
                superseded: false,
            })
        }
        other => other,
    }
}

/// A transaction the charger started by itself (RFID, free vend): a session without money, which
/// occupies the connector like any other. If an app session already holds the connector, the
/// transaction is recorded without a session.
fn open_local_session(
    c: &mut DbConnection,
    charger_id: i64,
    req: &messages::StartTransaction,
    tx_id: i64,
    customer_id: Option<i64>,
    started_at: NaiveDateTime,
) -> Result<Option<i64>, AppError> {
    let uid = format!("SESS_{}", uuid::Uuid::new_v4().simple());
    let t = now();
    let new = crate::db::models::NewSession {
        session_uid: &uid,
        customer_id,
        charger_id,
        connector_id: req.connector_id,
        origin: "local",
        id_tag: &req.id_tag,
        status: "active",
        amount: 0,
        price_per_kwh: 0,
        transaction_id: Some(tx_id),
        meter_start: Some(req.meter_start),
        idempotency_key: None,
        created_at: t,
        started_at: Some(started_at),
        updated_at: t,
    };
    // A savepoint, so that a unique violation does not abort the surrounding transaction (PostgreSQL).
    let inserted = c.transaction(|c| {
        diesel::insert_into(charging_sessions::table)
            .values(&new)
            .returning(charging_sessions::id)
            .get_result::<i64>(c)
    });
    match inserted {
        Ok(id) => {
            let s = super::load(c, id)?;
            let v = super::view(c, &s)?;
            crate::events::record(c, "charging.started", super::subject(&s), v)?;
            Ok(Some(id))
        }
        Err(e) if is_unique_violation(&e) => {
            log::warn!(
                "charger {charger_id} connector {}: local transaction {tx_id} while another session holds the connector",
                req.connector_id
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The rows a MeterValues (or StopTransaction.transactionData) stores, and the last energy register.
pub fn meter_rows(
    charger_id: i64,
    connector_id: i32,
    transaction_id: Option<i64>,
    values: &[MeterValue],
) -> (Vec<NewMeterValue>, Option<i64>) {
    let t = now();
    let mut last_energy = None;
    let rows = values
        .iter()
        .map(|mv| {
            let energy = mv.energy_wh();
            if energy.is_some() {
                last_energy = energy;
            }
            NewMeterValue {
                charger_id,
                connector_id,
                transaction_id,
                sampled_at: messages::parse_timestamp(&mv.timestamp).unwrap_or(t),
                energy_wh: energy,
                sampled_values: serde_json::to_string(&mv.sampled_value).unwrap_or_default(),
                created_at: t,
            }
        })
        .collect();
    (rows, last_energy)
}

fn store_meter_values(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
    transaction_id: Option<i64>,
    values: &[MeterValue],
) -> Result<Option<i64>, AppError> {
    let (rows, last_energy) = meter_rows(charger_id, connector_id, transaction_id, values);
    crate::db::insert_meter_values(c, &rows)?;
    Ok(last_energy)
}

/// MeterValues: stored; for a session's transaction the energy and cost are updated, and when the
/// cost reaches the prepaid amount the session is marked for exactly one RemoteStopTransaction.
pub fn meter_values(
    c: &mut DbConnection,
    charger_id: i64,
    req: &messages::MeterValues,
) -> Result<FollowUp, AppError> {
    write_tx(c, |c| {
        let energy = store_meter_values(
            c,
            charger_id,
            req.connector_id,
            req.transaction_id,
            &req.meter_value,
        )?;
        match (req.transaction_id, energy) {
            (Some(tx_id), Some(register)) => apply_energy(c, charger_id, tx_id, register),
            _ => Ok(FollowUp::default()),
        }
    })
}

/// A new energy register reading for a transaction: the session's energy and cost follow it, and
/// reaching the prepaid amount marks the session for one RemoteStopTransaction. Runs inside the
/// caller's transaction.
pub fn apply_energy(
    c: &mut DbConnection,
    charger_id: i64,
    tx_id: i64,
    register: i64,
) -> Result<FollowUp, AppError> {
    {
        let mut follow_up = FollowUp::default();
        let session: Option<Session> = charging_sessions::table
            .filter(charging_sessions::transaction_id.eq(tx_id))
            .filter(charging_sessions::charger_id.eq(charger_id))
            .filter(charging_sessions::status.eq_any(["active", "stopping"]))
            .select(Session::as_select())
            .first(c)
            .optional()?;
        let Some(s) = session else {
            return Ok(follow_up);
        };
        let energy_wh = (register - s.meter_start.unwrap_or(register)).max(0);
        let mut cost = money::energy_cost(energy_wh, s.price_per_kwh);
        let app = s.origin == "app";
        if app {
            cost = cost.min(s.amount);
        }
        diesel::update(
            charging_sessions::table
                .find(s.id)
                .filter(charging_sessions::status.eq_any(["active", "stopping"])),
        )
        .set((
            charging_sessions::meter_last.eq(register),
            charging_sessions::energy_wh.eq(energy_wh),
            charging_sessions::cost.eq(cost),
            charging_sessions::updated_at.eq(now()),
        ))
        .execute(c)?;
        if app && cost >= s.amount {
            let marked = diesel::update(
                charging_sessions::table
                    .find(s.id)
                    .filter(charging_sessions::remote_stop_sent.eq(false))
                    .filter(charging_sessions::status.eq("active")),
            )
            .set((
                charging_sessions::remote_stop_sent.eq(true),
                charging_sessions::status.eq("stopping"),
            ))
            .execute(c)?;
            if marked == 1 {
                log::info!(
                    "session {}: prepaid amount used up, stopping transaction {tx_id}",
                    s.session_uid
                );
                follow_up.remote_stop = Some(tx_id);
            }
        }
        let s = super::load(c, s.id)?;
        follow_up.progress = Some((super::subject(&s), super::view(c, &s)?));
        Ok(follow_up)
    }
}

/// StopTransaction: closes the transaction exactly once and settles its session; a replay changes
/// nothing and gets the same answer.
pub fn stop_transaction(
    c: &mut DbConnection,
    charger_id: i64,
    req: &messages::StopTransaction,
) -> Result<Option<IdTagInfo>, AppError> {
    let stopped_at = messages::parse_timestamp(&req.timestamp).unwrap_or_else(now);
    write_tx(c, |c| {
        let tx: Option<OcppTransaction> = ocpp_transactions::table
            .filter(ocpp_transactions::id.eq(req.transaction_id))
            .filter(ocpp_transactions::charger_id.eq(charger_id))
            .select(OcppTransaction::as_select())
            .first(c)
            .optional()?;
        let info = req.id_tag.as_ref().map(|_| IdTagInfo::status("Accepted"));
        let Some(tx) = tx else {
            log::warn!(
                "charger {charger_id}: StopTransaction for unknown transaction {}",
                req.transaction_id
            );
            return Ok(info);
        };
        let closed = diesel::update(
            ocpp_transactions::table
                .find(tx.id)
                .filter(ocpp_transactions::stopped_at.is_null()),
        )
        .set((
            ocpp_transactions::meter_stop.eq(req.meter_stop),
            ocpp_transactions::stopped_at.eq(stopped_at),
            ocpp_transactions::stop_reason.eq(req.reason.as_deref().unwrap_or("Local")),
            ocpp_transactions::stop_id_tag.eq(&req.id_tag),
        ))
        .execute(c)?;
        if closed == 0 {
            return Ok(info); // replay: already settled
        }
        store_meter_values(
            c,
            charger_id,
            tx.connector_id,
            Some(tx.id),
            &req.transaction_data,
        )?;
        if let Some(sid) = tx.session_id {
            super::finalize(
                c,
                sid,
                Some(req.meter_stop),
                req.reason.as_deref().unwrap_or("Local"),
                stopped_at,
            )?;
        }
        Ok(info)
    })
}
