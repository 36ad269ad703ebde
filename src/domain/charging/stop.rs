//! `POST /api/user/charging/stop`: the customer's own session → `stopping`, its transaction marked
//! to be stopped, and RemoteStopTransaction sent at once (and re-sent by `stops` until the charger
//! stops). The money is settled when the charger's StopTransaction arrives (see `transactions`).

use std::time::Duration;

use diesel::prelude::*;

use super::SessionView;
use super::desk::Charging;
use super::transactions::{self, request_stop};
use crate::domain::charging::status::SessionStatus;
use crate::error::AppError;
use crate::infra::db::models::Session;
use crate::infra::db::now;
use crate::infra::db::schema::{chargers, charging_sessions};

pub const STOPPED: &str = "Charging stopped";
pub const REQUESTED: &str = "Stop requested";
pub const START_CANCELLED: &str =
    "Start cancelled: the charger can no longer begin this session on your wallet";
pub const NOT_CONFIRMED: &str =
    "Stop requested: the charger has not confirmed yet; it will be asked again until it stops";

pub async fn stop(
    desk: &Charging,
    customer_id: i64,
    session_uid: String,
) -> Result<(String, SessionView), AppError> {
    let (s, device): (Session, String) = desk
        .db
        .run(move |c| {
            charging_sessions::table
                .inner_join(chargers::table)
                .filter(charging_sessions::session_uid.eq(&session_uid))
                .filter(charging_sessions::customer_id.eq(customer_id))
                .select((Session::as_select(), chargers::device_id))
                .first(c)
                .optional()?
                .ok_or(AppError::SessionNotFound)
        })
        .await?;
    let id = s.id;
    if super::tags::resumable(&s) {
        return cancel_failed_start(desk, id).await;
    }
    match SessionStatus::of(&s.status) {
        Some(SessionStatus::Completed | SessionStatus::Failed) => {
            return Err(AppError::bad_request("Session has already ended"));
        }
        Some(SessionStatus::Pending) => {
            return Err(AppError::bad_request(
                "Session is still starting; try again in a moment",
            ));
        }
        _ => {}
    }
    // active → stopping; a session already stopping is asked for again (its stop may have been
    // rejected or lost). The transaction is read again after the update, in the same transaction:
    // a StartTransaction linked since the read above would otherwise never be stopped (it saw the
    // session still active, so it did not stop it either). The row lock orders the two.
    let linked = s.transaction_id;
    let transaction_id = desk
        .db
        .write(move |c| {
            // The transaction's row before the session's, in the order the charger's messages
            // take them (a StopTransaction arriving now would otherwise deadlock with this).
            if let Some(tx) = linked {
                transactions::lock(c, tx)?;
            }
            diesel::update(
                charging_sessions::table
                    .find(id)
                    .filter(charging_sessions::status.eq(SessionStatus::Active)),
            )
            .set((
                charging_sessions::status.eq(SessionStatus::Stopping),
                charging_sessions::updated_at.eq(now()),
            ))
            .execute(c)?;
            let tx: Option<i64> = charging_sessions::table
                .find(id)
                .select(charging_sessions::transaction_id)
                .first(c)?;
            if let Some(tx) = tx {
                request_stop(c, tx)?;
            }
            Ok::<_, AppError>(tx)
        })
        .await?;
    let Some(transaction_id) = transaction_id else {
        // Accepted, but the charger has not sent StartTransaction yet: when it does, it is stopped at
        // once (see `transactions::start_transaction`); if it never does, recovery refunds it.
        return Ok((REQUESTED.into(), view(desk, id).await?));
    };
    let answer = desk.stops.attempt(transaction_id, &device).await?;
    desk.stops.wake();
    let sent = match &answer {
        Some(Ok(r)) => r.accepted(),
        Some(Err(_)) => false,
        None => true, // another attempt is in flight
    };
    if !sent {
        return Ok((NOT_CONFIRMED.into(), view(desk, id).await?));
    }
    // The charger normally sends StopTransaction right after accepting; show the settled session if it does.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let s = desk.db.run(move |c| super::load(c, id)).await?;
        if s.status == SessionStatus::Completed || tokio::time::Instant::now() >= deadline {
            let message = if s.status == SessionStatus::Completed {
                STOPPED
            } else {
                REQUESTED
            };
            let v = desk.db.run(move |c| SessionView::load(c, &s)).await?;
            return Ok((message.into(), v));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A failed start that a late StartTransaction could still resume (the charger may hold its
/// one-time idTag: a lost RemoteStart answer, a driver yet to plug in): the customer says no, and
/// the next transaction with that idTag is refused (`Invalid`) and stopped instead of re-opened on
/// their wallet.
async fn cancel_failed_start(desk: &Charging, id: i64) -> Result<(String, SessionView), AppError> {
    desk.db
        .write(move |c| {
            diesel::update(
                charging_sessions::table
                    .find(id)
                    .filter(charging_sessions::status.eq(SessionStatus::Failed))
                    .filter(charging_sessions::cancelled_at.is_null()),
            )
            .set((
                charging_sessions::cancelled_at.eq(now()),
                charging_sessions::updated_at.eq(now()),
            ))
            .execute(c)?;
            Ok(())
        })
        .await?;
    // Re-read: a late StartTransaction may have re-opened it first (a new session then charges).
    Ok((START_CANCELLED.into(), view(desk, id).await?))
}

async fn view(desk: &Charging, id: i64) -> Result<SessionView, AppError> {
    desk.db
        .run(move |c| {
            let s = super::load(c, id)?;
            SessionView::load(c, &s)
        })
        .await
}
