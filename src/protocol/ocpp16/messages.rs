//! Typed OCPP 1.6 payloads for what the central system reads and writes. Payloads are validated
//! against the official schemas before they are parsed into these types.

use serde::Serialize;

crate::protocol::payloads! {
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

    pub struct StatusNotification {
        pub connector_id: i32,
        pub error_code: String,
        pub status: String,
        pub info: Option<String>,
        pub timestamp: Option<String>,
        pub vendor_id: Option<String>,
        pub vendor_error_code: Option<String>,
    }

    pub struct Authorize {
        pub id_tag: String,
    }

    pub struct DataTransfer {
        pub vendor_id: String,
        pub message_id: Option<String>,
        pub data: Option<String>,
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotificationResponse {
    pub status: &'static str,
    pub current_time: String,
    pub interval: u32,
}

/// The core's types the 1.6 messages carry as they are (same JSON shape).
pub use crate::domain::charging::evidence::{
    Authorization as IdTagInfo, MeterReport as MeterValues, MeterValue, SampledValue,
    TransactionEnded as StopTransaction, TransactionStarted as StartTransaction,
};

/// Timestamp helpers, kept here for the protocol code and the fuzz targets that name them
/// through this module; they live in [`crate::infra::timestamps`].
pub use crate::infra::timestamps::{format_timestamp, now_timestamp, parse_timestamp};

/// Whether `action`/`payload` is a ChangeConfiguration of `key`. Configuration keys are CiString in
/// OCPP (a charger takes `authorizationkey` as `AuthorizationKey`), so every check csms attaches to
/// a key (the password's length and store, its redaction in the message log, the security profile's
/// "no downgrade") compares them case-insensitively.
pub fn changes_key(action: &str, payload: &serde_json::Value, key: &str) -> bool {
    action == "ChangeConfiguration"
        && payload["key"]
            .as_str()
            .is_some_and(|k| k.eq_ignore_ascii_case(key))
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

    fn sample(values: serde_json::Value) -> MeterValue {
        serde_json::from_value(
            serde_json::json!({"timestamp": "2026-01-01T00:00:00Z", "sampledValue": values}),
        )
        .unwrap()
    }

    #[test]
    fn energy_register_phases_locations_and_garbage() {
        let e = "Energy.Active.Import.Register";
        // Phases are summed when there is no total; the total wins when there is one.
        let phases = sample(serde_json::json!([
            {"value": "100", "measurand": e, "phase": "L1"},
            {"value": "200", "measurand": e, "phase": "L2"},
            {"value": "0.3", "measurand": e, "phase": "L3", "unit": "kWh"}
        ]));
        assert_eq!(phases.energy_wh(), Some(600));
        let with_total = sample(serde_json::json!([
            {"value": "100", "measurand": e, "phase": "L1"},
            {"value": "1000", "measurand": e}
        ]));
        assert_eq!(with_total.energy_wh(), Some(1000));
        let to_neutral = sample(serde_json::json!([
            {"value": "5", "measurand": e, "phase": "L1-N"},
            {"value": "7", "measurand": e, "phase": "L2-N"}
        ]));
        assert_eq!(to_neutral.energy_wh(), Some(12));
        // The EV's or the inlet's register is not the outlet's.
        let ev = sample(serde_json::json!([
            {"value": "999", "measurand": e, "location": "EV"},
            {"value": "10", "measurand": e, "location": "Outlet"}
        ]));
        assert_eq!(ev.energy_wh(), Some(10));
        let inlet_only =
            sample(serde_json::json!([{"value": "999", "measurand": e, "location": "Inlet"}]));
        assert_eq!(inlet_only.energy_wh(), None);
        // Garbage is no reading.
        for bad in ["-5", "NaN", "inf", "1e30", "abc", ""] {
            assert_eq!(
                sample(serde_json::json!([{"value": bad, "measurand": e}])).energy_wh(),
                None,
                "{bad}"
            );
        }
        let varh = sample(serde_json::json!([{"value": "5", "measurand": e, "unit": "varh"}]));
        assert_eq!(varh.energy_wh(), None);
    }

    /// Found by fuzzing (fuzz/, target decode_structured; the first input is the crash as found):
    /// the schemas bound no integer, the typed payloads do (i32 connector ids, i64 transaction ids
    /// and meter readings, as in the database). Such a schema-valid CALL must be refused when it is
    /// deserialized, which the handler answers with a CALLERROR, and never truncated or wrapped.
    #[test]
    fn schema_valid_integers_past_the_field_type_are_refused() {
        use super::super::schemas::{Kind, schemas}; // also under fuzz/, which includes this file
        let meter_values = r#"{"connectorId":9.223372036854776e+18,"meterValue":[{"sampledValue":[{"value":""}],"timestamp":"1970-01-01T00:00:00z"}]}"#;
        let status = r#"{"connectorId":2147483648,"errorCode":"NoError","status":"Available"}"#;
        let stop = r#"{"meterStop":1,"timestamp":"2026-01-01T00:00:00Z","transactionId":9223372036854775808}"#;
        for (action, text) in [
            ("MeterValues", meter_values),
            ("StatusNotification", status),
            ("StopTransaction", stop),
        ] {
            let payload: serde_json::Value = serde_json::from_str(text).unwrap();
            assert!(
                schemas().validate(action, Kind::Request, &payload).is_ok(),
                "{action} {text}"
            );
        }
        assert!(serde_json::from_str::<MeterValues>(meter_values).is_err());
        assert!(serde_json::from_str::<StatusNotification>(status).is_err());
        assert!(serde_json::from_str::<StopTransaction>(stop).is_err());
        // The largest values that fit still decode.
        let fits: StopTransaction = serde_json::from_str(
            r#"{"meterStop":9223372036854775807,"timestamp":"2026-01-01T00:00:00Z","transactionId":-9223372036854775808}"#,
        )
        .unwrap();
        assert_eq!((fits.meter_stop, fits.transaction_id), (i64::MAX, i64::MIN));
    }
}
