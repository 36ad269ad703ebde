//! CustomerInformation on 2.0.1 (N09/N10): the operator's request, sent as given through the
//! commands API, is kept with the station's answer (`domain::customer_information`); the
//! station's NotifyCustomerInformation parts are kept as its report.

use serde_json::{Value, json};

use crate::domain::customer_information::{self, Asked};
use crate::error::AppError;
use crate::infra::timestamps::parse_timestamp;
use crate::protocol::frame::OcppError;
use crate::protocol::ocpp201::messages::NotifyCustomerInformation;
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

/// Before the operator's command goes out: a CustomerInformation is recorded pending; its row.
pub async fn opened(
    state: &State,
    device: &str,
    action: &str,
    payload: &Value,
) -> Result<Option<i64>, AppError> {
    if action != "CustomerInformation" {
        return Ok(None);
    }
    let (d, asked) = (device.to_string(), Asked::of_request(payload));
    let request_id = payload["requestId"].as_i64().unwrap_or(0);
    let row = state
        .db
        .run(move |c| customer_information::requested(c, &d, request_id, &asked))
        .await?;
    Ok(Some(row))
}

/// The station's answer to a request `opened` recorded (`Err`: no answer).
pub async fn answered(
    state: &State,
    row: Option<i64>,
    response: Result<&Value, String>,
) -> Result<(), AppError> {
    let Some(row) = row else {
        return Ok(());
    };
    let answer = response.map(|r| r["status"].as_str().unwrap_or("Rejected").to_string());
    state
        .db
        .run(move |c| {
            customer_information::answered(c, row, answer.as_deref().map_err(String::as_str))
        })
        .await
}

/// NotifyCustomerInformation: the part kept; answered empty.
pub async fn notified(
    state: &State,
    ctx: &ChargerCtx,
    req: NotifyCustomerInformation,
) -> Result<Value, OcppError> {
    log::info!(
        "{}: NotifyCustomerInformation requestId {} seqNo {}: {} character(s){}",
        ctx.device_id,
        req.request_id,
        req.seq_no,
        req.data.chars().count(),
        if req.tbc { ", more to come" } else { "" }
    );
    let charger_id = ctx.charger_id;
    let generated = parse_timestamp(&req.generated_at);
    state
        .db
        .run(move |c| {
            customer_information::reported(
                c,
                charger_id,
                req.request_id,
                req.seq_no,
                &req.data,
                req.tbc,
                generated,
            )
        })
        .await?;
    Ok(json!({}))
}
