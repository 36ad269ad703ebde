//! What both OCPP adapters do around the charging core's transaction records: run a start or an
//! end off the executor with the charger's policy, then what it leaves to do once committed
//! (events, live progress, freed connectors, stops to send, the station's load shared again).

use crate::domain::charging::transactions::{self, FollowUp};
use crate::domain::charging::{Policy, orphans};
use crate::domain::telemetry::{ConnectorStatus, StatusReport};
use crate::error::AppError;
use crate::infra::db::DbConnection;
use crate::protocol::frame::OcppError;
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

/// Whether a CALL from a charger that is not accepted is evidence for transactions it runs.
pub async fn billing_evidence(
    state: &State,
    ctx: &ChargerCtx,
    action: &str,
) -> Result<bool, OcppError> {
    match action {
        "StopTransaction" | "TransactionEvent" => Ok(true),
        "MeterValues" | "StatusNotification" => {
            let charger_id = ctx.charger_id;
            Ok(state
                .db
                .run(move |c| transactions::has_running(c, charger_id))
                .await?)
        }
        _ => Ok(false),
    }
}

/// A transaction's start or end goes to the core (off the executor, with the charger's policy);
/// then what it leaves to do is done ([`follow_up`]) and the station's load is shared again.
pub async fn transaction<R, T>(
    state: &State,
    ctx: &ChargerCtx,
    req: R,
    core: fn(&mut DbConnection, i64, &R, &Policy) -> Result<T, AppError>,
    follow: fn(&mut T) -> &mut FollowUp,
) -> Result<T, OcppError>
where
    R: Send + 'static,
    T: Send + 'static,
{
    let (charger_id, policy) = (ctx.charger_id, state.derived.policy);
    let mut done = state
        .db
        .run(move |c| core(c, charger_id, &req, &policy))
        .await?;
    follow_up(state, ctx, std::mem::take(follow(&mut done)));
    state.load.touch(ctx.charger_id);
    Ok(done)
}

/// Work that must wait until the transaction committed: events, live progress, freed connectors
/// and stops to send (the connection sends no CALL of its own until this CALL is answered, so a
/// RemoteStopTransaction never overtakes the StartTransaction answer it refers to).
pub fn follow_up(state: &State, ctx: &ChargerCtx, fu: FollowUp) {
    state.events.wake();
    live_follow_up(state, ctx, fu);
}

/// [`follow_up`] for work that recorded no events (MeterValues): no outbox wake-up, which in a
/// cluster would be one NATS message per MeterValues.
pub fn live_follow_up(state: &State, ctx: &ChargerCtx, fu: FollowUp) {
    if fu.released {
        state.occupancy.release(&ctx.device_id);
    }
    if let Some((subject, session)) = fu.progress {
        state
            .events
            .publish_live("charging.progress", subject, session);
    }
    if fu.stop {
        state.stops.wake();
    }
}

/// A connector's status: telemetry, and a connector free after a reboot closes what began there
/// before the boot (for either protocol).
pub async fn connector_status(
    state: &State,
    ctx: &ChargerCtx,
    report: StatusReport,
) -> Result<(), OcppError> {
    let charger_id = ctx.charger_id;
    let policy = state.derived.policy;
    let (connector_id, status) = (report.connector_id, report.status.clone());
    // Telemetry, not money: group-committed without waiting for the disk (see `telemetry`).
    let changed = state
        .telemetry
        .status(charger_id, &ctx.device_id, report)
        .await?;
    // A connector free after a reboot: what began there before the boot is gone. Money: its own
    // durable transaction, only when there is something to close.
    let closed = if connector_id > 0 && ConnectorStatus::is_free(&status) {
        state
            .db
            .run(move |c| orphans::after_status(c, charger_id, connector_id, &status, &policy))
            .await?
    } else {
        0
    };
    if changed || closed > 0 {
        state.events.wake();
    }
    if closed > 0 {
        state.occupancy.release(&ctx.device_id);
        state.load.touch(ctx.charger_id);
    }
    Ok(())
}

/// A station's status notification about a job of its `requestId` (1.6's
/// SignedFirmwareStatusNotification and LogStatusNotification, 2.0.1's FirmwareStatusNotification
/// and LogStatusNotification, the same jobs): logged, and the status recorded on the station's
/// firmware job (`firmware`) or log job of that requestId. Answered empty.
pub async fn job_status(
    state: &State,
    ctx: &ChargerCtx,
    action: &str,
    firmware: bool,
    payload: &serde_json::Value,
) -> Result<serde_json::Value, OcppError> {
    log::info!(
        "{}: {action} {} (requestId {})",
        ctx.device_id,
        payload["status"],
        payload["requestId"]
    );
    let status = payload["status"].as_str().unwrap_or_default().to_string();
    let request_id = payload["requestId"].as_i64();
    let charger_id = ctx.charger_id;
    state
        .db
        .run(move |c| {
            crate::domain::security_jobs::status_notification(
                c, charger_id, firmware, request_id, &status,
            )
        })
        .await?;
    Ok(serde_json::json!({}))
}
