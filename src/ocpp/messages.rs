//! Typed OCPP 1.6 payloads for what the central system reads and writes. Payloads are validated
//! against the official schemas before they are parsed into these types.

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotification {
    pub charge_point_vendor: String,
    pub charge_point_model: String,
    pub charge_point_serial_number: Option<String>,
    pub charge_box_serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub iccid: Option<String>,
    pub imsi: Option<String>,
    pub meter_type: Option<String>,
    pub meter_serial_number: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotificationResponse {
    pub status: &'static str,
    pub current_time: String,
    pub interval: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusNotification {
    pub connector_id: i32,
    pub error_code: String,
    pub status: String,
    pub info: Option<String>,
    pub timestamp: Option<String>,
    pub vendor_id: Option<String>,
    pub vendor_error_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorize {
    pub id_tag: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdTagInfo {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id_tag: Option<String>,
}

impl IdTagInfo {
    pub fn status(status: &str) -> Self {
        IdTagInfo {
            status: status.to_string(),
            expiry_date: None,
            parent_id_tag: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTransaction {
    pub connector_id: i32,
    pub id_tag: String,
    pub meter_start: i64,
    pub reservation_id: Option<i32>,
    pub timestamp: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopTransaction {
    pub id_tag: Option<String>,
    pub meter_stop: i64,
    pub timestamp: String,
    pub transaction_id: i64,
    pub reason: Option<String>,
    #[serde(default)]
    pub transaction_data: Vec<MeterValue>,
}

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

impl MeterValue {
    /// The active energy import register in Wh, if this sample carries one (Wh or kWh).
    /// A sample without a measurand is the energy register by the OCPP default.
    pub fn energy_wh(&self) -> Option<i64> {
        self.sampled_value.iter().find_map(|sv| {
            let measurand = sv
                .measurand
                .as_deref()
                .unwrap_or("Energy.Active.Import.Register");
            if measurand != "Energy.Active.Import.Register"
                || sv.format.as_deref() == Some("SignedData")
            {
                return None;
            }
            let value: f64 = sv.value.trim().parse().ok()?;
            let wh = match sv.unit.as_deref() {
                Some("kWh") => value * 1000.0,
                _ => value,
            };
            (wh.is_finite() && wh >= 0.0).then(|| wh.round() as i64)
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValues {
    pub connector_id: i32,
    pub transaction_id: Option<i64>,
    pub meter_value: Vec<MeterValue>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataTransfer {
    pub vendor_id: String,
    pub message_id: Option<String>,
    pub data: Option<String>,
}

/// Parses an OCPP timestamp (RFC 3339) into naive UTC.
pub fn parse_timestamp(text: &str) -> Option<chrono::NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.naive_utc())
}

pub fn format_timestamp(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn now_timestamp() -> String {
    format_timestamp(chrono::Utc::now().naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_register_units() {
        let mv: MeterValue = serde_json::from_value(serde_json::json!({
            "timestamp": "2026-01-01T00:00:00Z",
            "sampledValue": [{"value": "230", "measurand": "Voltage"}, {"value": "1.5", "unit": "kWh", "measurand": "Energy.Active.Import.Register"}]
        }))
        .unwrap();
        assert_eq!(mv.energy_wh(), Some(1500));
        let plain: MeterValue = serde_json::from_value(serde_json::json!({"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "42"}]})).unwrap();
        assert_eq!(plain.energy_wh(), Some(42));
    }
}
