//! `POST /api/user/charging/stop`: the customer's own session → `stopping` → RemoteStopTransaction.
//! The money is settled when the charger's StopTransaction arrives (see `transactions`).

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::db::models::Session;
use crate::db::schema::charging_sessions;
use crate::db::{now, write_tx};
use crate::error::AppError;
use crate::ocpp::registry::CallFailure;
use crate::state::State;

pub async fn stop(
    state: &State,
    customer_id: i64,
    session_uid: String,
) -> Result<(String, Value), AppError> {
    let s: Session = state
        .db
        .run(move |c| {
            charging_sessions::table
                .filter(charging_sessions::session_uid.eq(&session_uid))
                .filter(charging_sessions::customer_id.eq(customer_id))
                .select(Session::as_select())
                .first(c)
                .optional()?
                .ok_or(AppError::SessionNotFound)
        })
        .await?;
    let id = s.id;
    match s.status.as_str() {
        "completed" | "failed" => return Err(AppError::bad_request("Session has already ended")),
        "pending" => {
            return Err(AppError::bad_request(
                "Session is still starting; try again in a moment",
            ));
        }
        "stopping" => {
            let view = state.db.run(move |c| crate::charging::view(c, &s)).await?;
            return Ok(("Stop already requested".into(), view));
        }
        _ => {}
    }
    let marked = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                Ok(diesel::update(
                    charging_sessions::table
                        .find(id)
                        .filter(charging_sessions::status.eq("active")),
                )
                .set((
                    charging_sessions::status.eq("stopping"),
                    charging_sessions::updated_at.eq(now()),
                ))
                .execute(c)?)
            })
        })
        .await?;
    let Some(transaction_id) = s.transaction_id else {
        // Accepted, but the charger has not sent StartTransaction yet: when it does, it is stopped at
        // once (see `transactions::start_transaction`); if it never does, recovery refunds it.
        let view = state
            .db
            .run(move |c| {
                let s = crate::charging::load(c, id)?;
                crate::charging::view(c, &s)
            })
            .await?;
        return Ok(("Stop requested".into(), view));
    };
    if marked == 1 {
        let device = state.db.run(move |c| crate::charging::view(c, &s)).await?["deviceId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let answer = state
            .registry
            .call(
                &device,
                "RemoteStopTransaction",
                json!({"transactionId": transaction_id}),
                state.settings.call_timeout(),
            )
            .await;
        let error = match answer {
            Ok(v) if v["status"] == "Accepted" => None,
            Ok(_) | Err(CallFailure::CallError { .. }) => Some(AppError::ChargerRejectedStop),
            Err(e) => Some(AppError::from(e)),
        };
        if let Some(error) = error {
            // Back to active so the customer can try again; only if nothing settled it meanwhile.
            state
                .db
                .run(move |c| {
                    write_tx(c, |c| {
                        diesel::update(
                            charging_sessions::table
                                .find(id)
                                .filter(charging_sessions::status.eq("stopping")),
                        )
                        .set(charging_sessions::status.eq("active"))
                        .execute(c)?;
                        Ok(())
                    })
                })
                .await?;
            return Err(error);
        }
    }
    // The charger normally sends StopTransaction right after accepting; show the settled session if it does.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let s = state.db.run(move |c| crate::charging::load(c, id)).await?;
        if s.status == "completed" || tokio::time::Instant::now() >= deadline {
            let message = if s.status == "completed" {
                "Charging stopped"
            } else {
                "Stop requested"
            };
            let view = state.db.run(move |c| crate::charging::view(c, &s)).await?;
            return Ok((message.into(), view));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
