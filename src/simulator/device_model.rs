//! The simulated 2.0.1 station's device model: a few components and variables it reports
//! (GetBaseReport → NotifyReport), reads (GetVariables) and lets the central system set
//! (SetVariables, stored; read-only ones refused).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// One variable: its value, whether it may be set, its data type and unit.
#[derive(Clone, Debug)]
struct Var {
    value: String,
    writable: bool,
    data_type: &'static str,
    unit: Option<&'static str>,
}

/// The station's variables by (component, variable, variable instance).
#[derive(Clone, Debug)]
pub struct DeviceModel(BTreeMap<(String, String, String), Var>);

impl DeviceModel {
    /// What a simulated station starts with (`meter_interval_secs`: its TxUpdatedInterval).
    pub fn new(model: &str, meter_interval_secs: u64) -> DeviceModel {
        let mut m = BTreeMap::new();
        let mut put = |c: &str, v: &str, i: &str, value: String, writable, data_type, unit| {
            let var = Var {
                value,
                writable,
                data_type,
                unit,
            };
            m.insert((c.to_string(), v.to_string(), i.to_string()), var);
        };
        put(
            "ChargingStation",
            "Model",
            "",
            model.into(),
            false,
            "string",
            None,
        );
        put(
            "ChargingStation",
            "AvailabilityState",
            "",
            "Available".into(),
            false,
            "OptionList",
            None,
        );
        put(
            "OCPPCommCtrlr",
            "HeartbeatInterval",
            "",
            "60".into(),
            true,
            "integer",
            Some("s"),
        );
        put(
            "SampledDataCtrlr",
            "TxUpdatedInterval",
            "",
            meter_interval_secs.to_string(),
            true,
            "integer",
            Some("s"),
        );
        put(
            "AuthCtrlr",
            "Enabled",
            "",
            "true".into(),
            true,
            "boolean",
            None,
        );
        put(
            "AuthCacheCtrlr",
            "Enabled",
            "",
            "true".into(),
            true,
            "boolean",
            None,
        );
        put(
            "DeviceDataCtrlr",
            "ItemsPerMessage",
            "GetVariables",
            "16".into(),
            false,
            "integer",
            None,
        );
        put(
            "DeviceDataCtrlr",
            "ItemsPerMessage",
            "SetVariables",
            "16".into(),
            false,
            "integer",
            None,
        );
        DeviceModel(m)
    }

    /// The NotifyReport of a GetBaseReport `request_id`: every variable, in one message.
    pub fn report(&self, request_id: &Value, generated_at: &str) -> Value {
        let data: Vec<Value> = self
            .0
            .iter()
            .map(|((c, v, i), var)| {
                let mut variable = json!({"name": v});
                if !i.is_empty() {
                    variable["instance"] = json!(i);
                }
                let mut characteristics =
                    json!({"dataType": var.data_type, "supportsMonitoring": false});
                if let Some(unit) = var.unit {
                    characteristics["unit"] = json!(unit);
                }
                json!({
                    "component": {"name": c},
                    "variable": variable,
                    "variableAttribute": [{
                        "type": "Actual",
                        "value": var.value,
                        "mutability": if var.writable { "ReadWrite" } else { "ReadOnly" },
                    }],
                    "variableCharacteristics": characteristics,
                })
            })
            .collect();
        json!({"requestId": request_id, "generatedAt": generated_at, "seqNo": 0, "tbc": false,
            "reportData": data})
    }

    fn key(item: &Value) -> (String, String, String) {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        (
            text(&item["component"]["name"]),
            text(&item["variable"]["name"]),
            text(&item["variable"]["instance"]),
        )
    }

    fn unknown(&self, key: &(String, String, String)) -> &'static str {
        if self.0.keys().any(|(c, ..)| *c == key.0) {
            "UnknownVariable"
        } else {
            "UnknownComponent"
        }
    }

    /// The answer to GetVariables.
    pub fn get(&self, payload: &Value) -> Value {
        let results: Vec<Value> = items(payload, "getVariableData")
            .map(|item| {
                let key = Self::key(item);
                let mut r = json!({"component": item["component"], "variable": item["variable"]});
                match self.0.get(&key) {
                    Some(var) => {
                        r["attributeStatus"] = json!("Accepted");
                        r["attributeType"] = json!("Actual");
                        r["attributeValue"] = json!(var.value);
                    }
                    None => r["attributeStatus"] = json!(self.unknown(&key)),
                }
                r
            })
            .collect();
        json!({"getVariableResult": results})
    }

    /// The answer to SetVariables; accepted values are kept.
    pub fn set(&mut self, payload: &Value) -> Value {
        let results: Vec<Value> = items(payload, "setVariableData")
            .map(|item| {
                let key = Self::key(item);
                let unknown = self.unknown(&key);
                let status = match self.0.get_mut(&key) {
                    Some(var) if var.writable => {
                        var.value = item["attributeValue"].as_str().unwrap_or_default().into();
                        "Accepted"
                    }
                    Some(_) => "Rejected",
                    None => unknown,
                };
                json!({"attributeStatus": status, "component": item["component"],
                    "variable": item["variable"]})
            })
            .collect();
        json!({"setVariableResult": results})
    }
}

fn items<'a>(payload: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    payload[field].as_array().into_iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_reads_and_sets_what_may_be_set() {
        let mut m = DeviceModel::new("Sim", 10);
        let report = m.report(&json!(7), "2026-12-07T10:00:00Z");
        assert_eq!(report["requestId"], 7);
        assert_eq!(report["reportData"].as_array().map(Vec::len), Some(8));
        let item = |c: &str, v: &str| json!({"component": {"name": c}, "variable": {"name": v}});
        let mut set = item("OCPPCommCtrlr", "HeartbeatInterval");
        set["attributeValue"] = json!("30");
        let mut ro = item("ChargingStation", "Model");
        ro["attributeValue"] = json!("X");
        let r = m.set(&json!({"setVariableData": [set, ro, item("Nope", "X")]}));
        let statuses: Vec<&Value> = r["setVariableResult"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["attributeStatus"])
            .collect();
        assert_eq!(
            statuses,
            [
                &json!("Accepted"),
                &json!("Rejected"),
                &json!("UnknownComponent")
            ]
        );
        let got = m.get(
            &json!({"getVariableData": [item("OCPPCommCtrlr", "HeartbeatInterval"),
            item("OCPPCommCtrlr", "Nope")]}),
        );
        assert_eq!(got["getVariableResult"][0]["attributeValue"], "30");
        assert_eq!(
            got["getVariableResult"][1]["attributeStatus"],
            "UnknownVariable"
        );
    }
}
