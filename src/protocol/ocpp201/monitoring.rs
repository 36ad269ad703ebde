//! OCPP 2.0.1 block N (diagnostics) beyond customer information: what csms keeps of monitoring
//! and logs.
//!
//! - The operator's GetLog through the commands API is a job (`command_jobs`).
//! - The values a station answers to GetVariables are learnt into its device model
//!   (`station_variables`), so that e.g. MonitoringCtrlr.ItemsPerMessage[ClearVariableMonitoring]
//!   limits how many ids one ClearVariableMonitoring carries.
//! - NotifyMonitoringReport (the answer to GetMonitoringReport): answered empty and logged.
//! - NotifyEvent: answered empty, logged and kept as the station's event history
//!   (`station_events`).
//!   SetMonitoringBase, SetMonitoringLevel, SetVariableMonitoring and GetMonitoringReport are
//!   relayed only.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::station_events::{self, NewEvent};
use crate::domain::station_variables::{self, Reported};
use crate::error::AppError;
use crate::protocol::frame::{OcppError, typed as parse};
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

crate::protocol::payloads! {
    /// A component as a GetVariables result names it.
    pub struct Component {
        name: String,
        instance: Option<String>,
        evse: Option<Evse>,
    }

    pub struct Evse {
        id: i32,
        connector_id: Option<i32>,
    }

    pub struct Variable {
        name: String,
        instance: Option<String>,
    }

    /// One GetVariables result.
    pub struct GetVariableResult {
        attribute_status: String,
        attribute_type: Option<String>,
        attribute_value: Option<String>,
        component: Component,
        variable: Variable,
    }
}

/// A station's GetVariables results: the accepted values are learnt into its device model.
pub async fn variables_answered(
    state: &State,
    device: &str,
    results: &[Value],
) -> Result<(), AppError> {
    let items: Vec<Reported> = results
        .iter()
        .filter_map(|r| GetVariableResult::deserialize(r).ok())
        .filter(|r| r.attribute_status == "Accepted" && r.attribute_value.is_some())
        .map(|r| Reported {
            evse_id: r.component.evse.as_ref().map(|e| e.id),
            connector_id: r.component.evse.as_ref().and_then(|e| e.connector_id),
            component: r.component.name,
            component_instance: r.component.instance,
            variable: r.variable.name,
            variable_instance: r.variable.instance,
            attribute_type: r.attribute_type,
            value: r.attribute_value,
            ..Reported::default()
        })
        .collect();
    if items.is_empty() {
        return Ok(());
    }
    let d = device.to_string();
    state
        .db
        .run(move |c| {
            let cid = crate::domain::chargers::id_of(c, &d)?;
            station_variables::answered(c, cid, &items)
        })
        .await?;
    Ok(())
}

crate::protocol::payloads! {
    /// NotifyMonitoringReport, as far as csms reads it.
    pub struct NotifyMonitoringReport {
        request_id: i64,
        seq_no: i64,
        tbc: Option<bool>,
        monitor: Option<Vec<Value>>,
    }
}

/// NotifyMonitoringReport: logged (how many variables and monitors), answered empty.
pub fn monitoring_report(ctx: &ChargerCtx, payload: Value) -> Result<Value, OcppError> {
    let r: NotifyMonitoringReport = parse(payload)?;
    let monitors = r.monitor.unwrap_or_default();
    let count: usize = monitors
        .iter()
        .map(|m| m["variableMonitoring"].as_array().map_or(0, Vec::len))
        .sum();
    log::info!(
        "{}: NotifyMonitoringReport {} seqNo {}: {count} monitor(s) on {} variable(s){}",
        ctx.device_id,
        r.request_id,
        r.seq_no,
        monitors.len(),
        if r.tbc.unwrap_or(false) {
            ", more to come"
        } else {
            ""
        }
    );
    Ok(json!({}))
}

crate::protocol::payloads! {
    /// NotifyEvent, as csms keeps it.
    pub struct NotifyEvent {
        seq_no: i64,
        tbc: Option<bool>,
        event_data: Vec<EventData>,
    }

    pub struct EventData {
        event_id: i64,
        timestamp: String,
        trigger: String,
        cause: Option<i64>,
        actual_value: String,
        tech_code: Option<String>,
        tech_info: Option<String>,
        cleared: Option<bool>,
        transaction_id: Option<String>,
        variable_monitoring_id: Option<i64>,
        event_notification_type: String,
        component: Component,
        variable: Variable,
    }
}

/// NotifyEvent: logged and kept as the station's event history
/// (`GET /api/admin/chargers/{deviceId}/station-events`); answered empty.
pub async fn notify_event(
    state: &State,
    ctx: &ChargerCtx,
    payload: Value,
) -> Result<Value, OcppError> {
    let r: NotifyEvent = parse(payload)?;
    let events: Vec<NewEvent> = r
        .event_data
        .into_iter()
        .map(|e| NewEvent {
            event_id: e.event_id,
            station_timestamp: crate::infra::timestamps::parse_timestamp(&e.timestamp),
            event_trigger: e.trigger,
            event_notification_type: e.event_notification_type,
            evse_id: e.component.evse.as_ref().map(|v| v.id),
            connector_id: e.component.evse.as_ref().and_then(|v| v.connector_id),
            component: e.component.name,
            component_instance: e.component.instance,
            variable: e.variable.name,
            variable_instance: e.variable.instance,
            actual_value: e.actual_value,
            cleared: e.cleared.unwrap_or(false),
            cause: e.cause,
            tech_code: e.tech_code,
            tech_info: e.tech_info,
            transaction_id: e.transaction_id,
            variable_monitoring_id: e.variable_monitoring_id,
        })
        .collect();
    log::info!(
        "{}: NotifyEvent seqNo {}: {} event(s){}",
        ctx.device_id,
        r.seq_no,
        events.len(),
        if r.tbc.unwrap_or(false) {
            ", more to come"
        } else {
            ""
        }
    );
    let charger_id = ctx.charger_id;
    state
        .db
        .run(move |c| station_events::record(c, charger_id, &events))
        .await?;
    Ok(json!({}))
}
