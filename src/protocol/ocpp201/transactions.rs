//! OCPP 2.0.1 transactions, authorization and meter values mapped to the charging core:
//! TransactionEvent (Started / Updated / Ended, in any order, twice, offline) through
//! `station_transactions`, whose begin and end run the same core as 1.6's StartTransaction and
//! StopTransaction (who pays, the hold, the best energy, the authorized amount as the most it
//! costs); Authorize and MeterValues as 1.6's.

use std::time::Duration;

use serde_json::{Value, json};

use crate::domain::charging::evidence::{Authorization, MeterReport};
use crate::domain::charging::station_transactions::{self, Stage};
use crate::domain::charging::{tags, transactions};
use crate::domain::station_commands::{Command, StationCommands};
use crate::protocol::charging::{live_follow_up, transaction};
use crate::protocol::frame::{ErrorCode, OcppError};
use crate::protocol::ocpp201::{messages, plug_and_charge};
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

/// How long csms waits for the station's GetTransactionStatus answer.
const STATUS_TIMEOUT: Duration = Duration::from_secs(30);

/// The core's answer about an identifier as 2.0.1's idTokenInfo.
pub fn id_token_info(a: Authorization) -> Value {
    let mut info = json!({"status": a.status});
    if let Some(expiry) = a.expiry_date {
        info["cacheExpiryDateTime"] = json!(expiry);
    }
    if let Some(group) = a.parent_id_tag {
        info["groupIdToken"] = json!({"idToken": group, "type": "Central"});
    }
    info
}

/// Authorize: the same decision as 1.6's (a customer's own card, a fleet card, a session's
/// one-time tag), answered as idTokenInfo.
pub async fn authorize(
    state: &State,
    ctx: &ChargerCtx,
    req: messages::Authorize,
) -> Result<Value, OcppError> {
    let kind = req.id_token.kind.clone();
    // Plug & Charge: the contract's certificates are checked first; any verdict but valid refuses.
    let contract = plug_and_charge::contract_status(state, &req).await;
    let Some(tag) = req.id_token.tag() else {
        return Ok(json!({"idTokenInfo": {"status": "Invalid"}}));
    };
    if let Some((status, false)) = contract {
        return Ok(json!({"idTokenInfo": {"status": "Invalid"}, "certificateStatus": status}));
    }
    let charger_id = ctx.charger_id;
    let (info, wallet) = state
        .db
        .run(move |c| tags::authorize_payer(c, charger_id, &tag, Some(&kind)))
        .await?;
    if wallet && info.status == "Accepted" {
        state
            .auth_cache
            .wallet_tag_accepted(&ctx.device_id, charger_id);
    }
    let mut answer = json!({"idTokenInfo": id_token_info(info)});
    if let Some((status, _)) = contract {
        answer["certificateStatus"] = json!(status);
    }
    Ok(answer)
}

/// MeterValues outside a transaction event: readings of the EVSE, stored like 1.6's.
pub async fn meter_values(
    state: &State,
    ctx: &ChargerCtx,
    req: messages::MeterValues,
) -> Result<Value, OcppError> {
    let report = MeterReport {
        connector_id: req.evse_id,
        transaction_id: None,
        meter_value: req
            .meter_value
            .into_iter()
            .map(messages::MeterValue::into_core)
            .collect(),
    };
    let fu = state.meters.write(ctx.charger_id, report).await?;
    live_follow_up(state, ctx, fu);
    Ok(json!({}))
}

/// TransactionEvent: noted, then begun, metered and ended in the core as it allows; answered with
/// the identifier's status when the event carries one, and the final cost once it ended.
pub async fn transaction_event(
    state: &State,
    ctx: &ChargerCtx,
    req: messages::TransactionEvent,
) -> Result<Value, OcppError> {
    let token = req.id_token.as_ref().map(|t| t.id_token.clone());
    let kind = req.id_token.as_ref().map(|t| t.kind.clone());
    let needs_auth = req
        .id_token
        .as_ref()
        .is_some_and(|t| t.kind != "NoAuthorization");
    if req.offline {
        log::info!(
            "{}: offline TransactionEvent {} seqNo {} for {} ({})",
            ctx.device_id,
            req.event_type,
            req.seq_no,
            req.transaction_info.transaction_id,
            req.trigger_reason
        );
    }
    let Some(ev) = req.into_core() else {
        return Err(OcppError::new(
            ErrorCode::PropertyConstraintViolation,
            "eventType must be Started, Updated or Ended",
        ));
    };
    let (charger_id, station_tx) = (ctx.charger_id, ev.station_tx_id.clone());
    let ended = ev.stage == Stage::Ended;
    let noted = state
        .db
        .run(move |c| station_transactions::note(c, charger_id, &ev))
        .await?;
    let mut tx = noted.transaction_id;
    // A repeat carrying the transaction's own identifier gets the answer it got; another
    // identifier (a stop by a card of the same group, a master pass) is answered for itself.
    let own = |t: &String| {
        noted
            .id_tag
            .as_deref()
            .is_some_and(|o| tags::normalize(o) == tags::normalize(t))
    };
    let mut info = match &token {
        Some(t) if own(t) => noted.id_tag_info.clone(),
        _ => None,
    };
    let began = noted.begin.is_some();
    if began && !ended {
        ctx.cost_shown.started(&station_tx);
    }
    if let Some(begin) = noted.begin {
        let started = transaction(state, ctx, begin, transactions::start_transaction, |s| {
            &mut s.follow_up
        })
        .await?;
        let id = started.transaction_id;
        if started.wallet_paid && started.id_tag_info.status == "Accepted" {
            state
                .auth_cache
                .wallet_tag_accepted(&ctx.device_id, charger_id);
        }
        tx = Some(id);
        info = Some(started.id_tag_info);
    }
    let mut running = None;
    let mut show_cost = None;
    if let Some(id) = tx.filter(|_| !noted.readings.is_empty()) {
        let report = MeterReport {
            connector_id: noted.connector_id,
            transaction_id: Some(id),
            meter_value: noted.readings,
        };
        let fu = state.meters.write(charger_id, report).await?;
        // The running cost for the station's display: what the customer's phone shows.
        running = fu.progress.as_ref().map(|(_, view)| {
            let cost = crate::domain::money::parse_json(&view["cost"]).unwrap_or_default();
            format!(
                "{} {} so far ({} kWh)",
                crate::domain::money::display(cost),
                state.settings.currency,
                view["energyKwh"]
            )
        });
        let every = Duration::from_secs(state.settings.cost_update_secs);
        show_cost = fu
            .progress
            .as_ref()
            .filter(|_| !ended && ctx.cost_shown.due(&station_tx, every))
            .map(|(_, view)| view["cost"].clone());
        live_follow_up(state, ctx, fu);
    }
    let mut total_cost = None;
    if let (Some(id), Some(mut end)) = (tx, noted.end) {
        end.transaction_id = id;
        let stopped = transaction(state, ctx, end, transactions::stop_transaction, |s| {
            &mut s.follow_up
        })
        .await?;
        if ended {
            info = stopped.id_tag_info.or(info);
        }
        // The cost once, with the event that ended it (an end that came before its start ends
        // it when the start arrives).
        if ended || began {
            total_cost = state
                .db
                .run(move |c| station_transactions::final_cost(c, id))
                .await?;
        }
    }
    if ended {
        ctx.cost_shown.forget(&station_tx);
    } else if let Some(cost) = show_cost.filter(|_| total_cost.is_none()) {
        show(state, ctx, station_tx.clone(), cost);
    }
    crate::protocol::ocpp201::charging_needs::after_event(state, ctx, &station_tx, ended);
    if noted.gap {
        ask_status(state, ctx, station_tx);
    }
    let mut answer = json!({});
    if needs_auth {
        let info = match info {
            Some(info) => info,
            None => {
                let tag = token.unwrap_or_default();
                state
                    .db
                    .run(move |c| tags::authorize(c, charger_id, &tag, kind.as_deref()))
                    .await?
            }
        };
        answer["idTokenInfo"] = id_token_info(info);
    }
    if let Some(cost) = total_cost {
        // In the currency's units (the wallet keeps minor units).
        answer["totalCost"] = crate::domain::money::to_major(cost);
    } else if let Some(text) = running {
        answer["updatedPersonalMessage"] = json!({"format": "UTF8", "content": text});
    }
    Ok(answer)
}

/// The customer's running cost on the station's display (CostUpdated, in the currency's units),
/// sent once this CALL was answered; a refusal or silence only costs the display.
fn show(state: &State, ctx: &ChargerCtx, station_tx: String, total_cost: Value) {
    let (registry, device) = (state.registry.clone(), ctx.device_id.clone());
    tokio::spawn(async move {
        let command = Command::Given {
            action: "CostUpdated".into(),
            payload: json!({"totalCost": total_cost, "transactionId": station_tx}),
        };
        if let Err(e) = registry.send(&device, command, STATUS_TIMEOUT).await {
            log::info!("{device}: CostUpdated for {station_tx}: {e}");
        }
    });
}

/// A gap in a transaction's sequence numbers: ask the station whether it still holds events of
/// it (it sends them on its own; the answer is logged). Sent once this CALL was answered.
fn ask_status(state: &State, ctx: &ChargerCtx, station_tx: String) {
    let (registry, device) = (state.registry.clone(), ctx.device_id.clone());
    tokio::spawn(async move {
        let command = Command::Given {
            action: "GetTransactionStatus".into(),
            payload: json!({"transactionId": station_tx}),
        };
        match registry.send(&device, command, STATUS_TIMEOUT).await {
            Ok(reply) => log::info!(
                "{device}: transaction {station_tx} has a gap in its events; the station says {}",
                reply.body
            ),
            Err(e) => log::warn!("{device}: GetTransactionStatus {station_tx}: {e}"),
        }
    });
}
