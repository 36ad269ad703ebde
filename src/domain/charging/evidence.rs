//! What a station reports about its transactions and what the core answers, in the charging
//! core's own terms: no OCPP version. A protocol adapter maps its messages to these (OCPP 1.6:
//! StartTransaction, MeterValues, StopTransaction, idTagInfo; 2.0.1: TransactionEvent, idTokenInfo).
//!
//! Meter readings keep the field names both OCPP versions give them (`timestamp`, `sampledValue`
//! with `measurand`, `phase`, `location`, `unit`), which is also how they are stored. A transaction's
//! start, end and readings keep 1.6's (StartTransaction, StopTransaction, MeterValues): the 1.6
//! adapter reads those payloads into them as they are.

use serde::{Deserialize, Serialize};

/// The core's answer about an identifier (an idTag or idToken): its status, until when it may be
/// trusted, and the group it belongs to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id_tag: Option<String>,
}

impl Authorization {
    pub fn status(status: &str) -> Self {
        Authorization {
            status: status.to_string(),
            expiry_date: None,
            parent_id_tag: None,
        }
    }
}

/// A transaction began on a connector.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionStarted {
    pub connector_id: i32,
    pub id_tag: String,
    /// The identifier's kind, where the station says (OCPP 2.0.1's idToken type; a token
    /// registered with a type matches that type only).
    #[serde(skip)]
    pub id_token_type: Option<String>,
    /// The energy register at the start, in Wh.
    pub meter_start: i64,
    pub reservation_id: Option<i32>,
    /// When it began, as the station says (RFC 3339).
    pub timestamp: String,
    /// The station's own record of it (`station_transactions`), for a station that names its
    /// transactions: linked in the same database transaction that records the start.
    #[serde(skip)]
    pub station_transaction: Option<i64>,
}

/// Readings a station sent on its own (not with the end of a transaction).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterReport {
    pub connector_id: i32,
    pub transaction_id: Option<i64>,
    pub meter_value: Vec<MeterValue>,
}

/// A transaction ended.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionEnded {
    pub transaction_id: i64,
    /// Who ended it, if the station says.
    pub id_tag: Option<String>,
    /// The energy register at the end, in Wh.
    pub meter_stop: i64,
    pub timestamp: String,
    /// Why, as the station says (`None`: the driver, locally).
    pub reason: Option<String>,
    /// Readings taken during the transaction, sent with its end.
    #[serde(default)]
    pub transaction_data: Vec<MeterValue>,
    /// Not the end itself but readings taken before it that arrived after it (a 2.0.1 station's
    /// events sent out of order): a `meter_stop` above the one recorded is late evidence of energy
    /// rather than a replay.
    #[serde(skip)]
    pub later_readings: bool,
}

/// Readings taken at one instant.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValue {
    pub timestamp: String,
    pub sampled_value: Vec<SampledValue>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampledValue {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Readings above this (a petawatt-hour) are garbage, not energy.
const MAX_REGISTER_WH: f64 = 1e15;

impl MeterValue {
    /// The active energy import register in Wh, if this sample carries one: the reading without a
    /// phase, else the sum of the phases (L1, L2, L3, or L1-N, L2-N, L3-N), at location `Outlet`
    /// or none, in Wh or kWh. A sample without a measurand is the energy register by the OCPP
    /// default. Other locations (EV, Inlet, Cable), units, signed data and non-numbers are ignored.
    pub fn energy_wh(&self) -> Option<i64> {
        let mut total = None;
        let mut lines = [None; 3];
        let mut to_neutral = [None; 3];
        for sv in &self.sampled_value {
            let measurand = sv
                .measurand
                .as_deref()
                .unwrap_or("Energy.Active.Import.Register");
            if measurand != "Energy.Active.Import.Register"
                || sv.format.as_deref() == Some("SignedData")
                || !matches!(sv.location.as_deref(), None | Some("Outlet"))
            {
                continue;
            }
            let scale = match sv.unit.as_deref() {
                None | Some("Wh") => 1.0,
                Some("kWh") => 1000.0,
                Some(_) => continue,
            };
            let Ok(value) = sv.value.trim().parse::<f64>() else {
                continue;
            };
            let wh = value * scale;
            if !wh.is_finite() || !(0.0..MAX_REGISTER_WH).contains(&wh) {
                continue;
            }
            let wh = wh.round() as i64;
            match sv.phase.as_deref() {
                None => total = total.or(Some(wh)),
                Some("L1") => lines[0] = Some(wh),
                Some("L2") => lines[1] = Some(wh),
                Some("L3") => lines[2] = Some(wh),
                Some("L1-N") => to_neutral[0] = Some(wh),
                Some("L2-N") => to_neutral[1] = Some(wh),
                Some("L3-N") => to_neutral[2] = Some(wh),
                Some(_) => {}
            }
        }
        let sum = |phases: [Option<i64>; 3]| -> Option<i64> {
            phases
                .iter()
                .flatten()
                .try_fold(None::<i64>, |acc, v| {
                    Some(Some(acc.unwrap_or(0).checked_add(*v)?))
                })
                .flatten()
        };
        total.or_else(|| sum(lines)).or_else(|| sum(to_neutral))
    }
}
