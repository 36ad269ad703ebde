//! Typed payloads of the OCPP 2.0.1 CALLs csms handles so far (each already valid against its
//! official schema when it is read here).

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotification {
    pub charging_station: ChargingStation,
    /// PowerUp, Triggered, RemoteReset, FirmwareUpdate, …
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingStation {
    pub vendor_name: String,
    pub model: String,
    pub serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub modem: Option<Modem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Modem {
    pub iccid: Option<String>,
    pub imsi: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusNotification {
    pub timestamp: String,
    /// Available, Occupied, Reserved, Unavailable, Faulted
    pub connector_status: String,
    pub evse_id: i32,
    pub connector_id: i32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityEventNotification {
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: String,
    pub tech_info: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyReport {
    pub request_id: i64,
    pub seq_no: i64,
    #[serde(default)]
    pub tbc: bool,
    #[serde(default)]
    pub report_data: Vec<ReportData>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportData {
    pub component: Component,
    pub variable: Variable,
    pub variable_attribute: Vec<VariableAttribute>,
    pub variable_characteristics: Option<VariableCharacteristics>,
}

#[derive(Debug, Deserialize)]
pub struct Component {
    pub name: String,
    pub instance: Option<String>,
    pub evse: Option<Evse>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evse {
    pub id: i32,
    pub connector_id: Option<i32>,
}

#[derive(Debug, Deserialize)]
pub struct Variable {
    pub name: String,
    pub instance: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct VariableAttribute {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub value: Option<String>,
    pub mutability: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableCharacteristics {
    pub unit: Option<String>,
    pub data_type: String,
}

impl NotifyReport {
    /// Each reported attribute, in the core's terms.
    pub fn attributes(self) -> Vec<crate::domain::station_variables::Reported> {
        let mut out = Vec::new();
        for d in self.report_data {
            let (unit, data_type) = match d.variable_characteristics {
                Some(v) => (v.unit, Some(v.data_type)),
                None => (None, None),
            };
            for a in d.variable_attribute {
                out.push(crate::domain::station_variables::Reported {
                    component: d.component.name.clone(),
                    component_instance: d.component.instance.clone(),
                    evse_id: d.component.evse.as_ref().map(|e| e.id),
                    connector_id: d.component.evse.as_ref().and_then(|e| e.connector_id),
                    variable: d.variable.name.clone(),
                    variable_instance: d.variable.instance.clone(),
                    attribute_type: a.kind,
                    value: a.value,
                    mutability: a.mutability,
                    data_type: data_type.clone(),
                    unit: unit.clone(),
                });
            }
        }
        out
    }
}

/// Whether a SetVariables item sets the station's Basic auth password
/// (`SecurityCtrlr.BasicAuthPassword`, names in any case).
pub fn is_basic_auth_password(item: &serde_json::Value) -> bool {
    let named = |v: &serde_json::Value, name: &str| {
        v["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    };
    named(&item["component"], "SecurityCtrlr") && named(&item["variable"], "BasicAuthPassword")
}
