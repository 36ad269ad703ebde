//! What a 2.0.1 station reports that csms only acknowledges: DataTransfer (P01, answered by the
//! vendor handlers both versions share) and NotifyDisplayMessages (O), each logged and answered
//! `{}` (NotifyCustomerInformation is kept: `customer_information`).

use serde_json::{Value, json};

use crate::protocol::frame::OcppError;
use crate::protocol::ocpp201::messages::{DataTransfer, NotifyDisplayMessages};
use crate::protocol::registry::ChargerCtx;

/// DataTransfer: an unknown vendorId is answered `UnknownVendorId`, a known vendor's unknown
/// messageId `UnknownMessageId` (as for 1.6).
pub fn data_transfer(ctx: &ChargerCtx, req: DataTransfer) -> Result<Value, OcppError> {
    log::info!(
        "{}: DataTransfer from vendor {} (messageId {:?})",
        ctx.device_id,
        req.vendor_id,
        req.message_id
    );
    Ok(crate::protocol::data_transfer::answer(
        &req.vendor_id,
        req.message_id.as_deref(),
        req.data.as_ref(),
    ))
}

/// NotifyDisplayMessages: the station's display messages, logged (requestIds csms never issued
/// included).
pub fn display_messages(ctx: &ChargerCtx, req: NotifyDisplayMessages) -> Result<Value, OcppError> {
    let messages: Vec<String> = req
        .message_info
        .iter()
        .map(|m| {
            format!(
                "{} ({}{}{})",
                m.id,
                m.priority,
                m.state
                    .as_deref()
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default(),
                m.transaction_id
                    .as_deref()
                    .map(|t| format!(", transaction {t}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    log::info!(
        "{}: NotifyDisplayMessages requestId {}: {} message(s) [{}]{}",
        ctx.device_id,
        req.request_id,
        messages.len(),
        messages.join(", "),
        if req.tbc { ", more to come" } else { "" }
    );
    Ok(json!({}))
}
