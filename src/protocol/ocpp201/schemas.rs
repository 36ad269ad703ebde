//! The official OCPP 2.0.1 JSON schemas (`ocpp-schemas/2.0.1/`), embedded in the binary and
//! compiled once, with 2.0.1's CALLERROR codes.

use std::sync::OnceLock;

use crate::protocol::frame::ErrorCode;
pub use crate::protocol::schemas::Kind;
use crate::protocol::schemas::{SchemaSet, Violation};

macro_rules! schema_files {
    ($($name:literal),* $(,)?) => {
        &[$(
            ($name,
             include_str!(concat!("../../../ocpp-schemas/2.0.1/", $name, "Request.json")),
             include_str!(concat!("../../../ocpp-schemas/2.0.1/", $name, "Response.json"))),
        )*]
    };
}

/// (action, request schema, response schema) for the 64 actions of OCPP 2.0.1.
const FILES: &[(&str, &str, &str)] = schema_files!(
    "Authorize",
    "BootNotification",
    "CancelReservation",
    "CertificateSigned",
    "ChangeAvailability",
    "ClearCache",
    "ClearChargingProfile",
    "ClearDisplayMessage",
    "ClearVariableMonitoring",
    "ClearedChargingLimit",
    "CostUpdated",
    "CustomerInformation",
    "DataTransfer",
    "DeleteCertificate",
    "FirmwareStatusNotification",
    "Get15118EVCertificate",
    "GetBaseReport",
    "GetCertificateStatus",
    "GetChargingProfiles",
    "GetCompositeSchedule",
    "GetDisplayMessages",
    "GetInstalledCertificateIds",
    "GetLocalListVersion",
    "GetLog",
    "GetMonitoringReport",
    "GetReport",
    "GetTransactionStatus",
    "GetVariables",
    "Heartbeat",
    "InstallCertificate",
    "LogStatusNotification",
    "MeterValues",
    "NotifyChargingLimit",
    "NotifyCustomerInformation",
    "NotifyDisplayMessages",
    "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule",
    "NotifyEvent",
    "NotifyMonitoringReport",
    "NotifyReport",
    "PublishFirmware",
    "PublishFirmwareStatusNotification",
    "ReportChargingProfiles",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReservationStatusUpdate",
    "ReserveNow",
    "Reset",
    "SecurityEventNotification",
    "SendLocalList",
    "SetChargingProfile",
    "SetDisplayMessage",
    "SetMonitoringBase",
    "SetMonitoringLevel",
    "SetNetworkProfile",
    "SetVariableMonitoring",
    "SetVariables",
    "SignCertificate",
    "StatusNotification",
    "TransactionEvent",
    "TriggerMessage",
    "UnlockConnector",
    "UnpublishFirmware",
    "UpdateFirmware",
);

/// Actions a charging station sends to the CSMS.
pub const STATION_TO_CSMS: &[&str] = &[
    "Authorize",
    "BootNotification",
    "ClearedChargingLimit",
    "DataTransfer",
    "FirmwareStatusNotification",
    "Get15118EVCertificate",
    "GetCertificateStatus",
    "Heartbeat",
    "LogStatusNotification",
    "MeterValues",
    "NotifyChargingLimit",
    "NotifyCustomerInformation",
    "NotifyDisplayMessages",
    "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule",
    "NotifyEvent",
    "NotifyMonitoringReport",
    "NotifyReport",
    "PublishFirmwareStatusNotification",
    "ReportChargingProfiles",
    "ReservationStatusUpdate",
    "SecurityEventNotification",
    "SignCertificate",
    "StatusNotification",
    "TransactionEvent",
];

/// Actions the CSMS sends to a charging station.
pub const CSMS_TO_STATION: &[&str] = &[
    "CancelReservation",
    "CertificateSigned",
    "ChangeAvailability",
    "ClearCache",
    "ClearChargingProfile",
    "ClearDisplayMessage",
    "ClearVariableMonitoring",
    "CostUpdated",
    "CustomerInformation",
    "DataTransfer",
    "DeleteCertificate",
    "GetBaseReport",
    "GetChargingProfiles",
    "GetCompositeSchedule",
    "GetDisplayMessages",
    "GetInstalledCertificateIds",
    "GetLocalListVersion",
    "GetLog",
    "GetMonitoringReport",
    "GetReport",
    "GetTransactionStatus",
    "GetVariables",
    "InstallCertificate",
    "PublishFirmware",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "SetDisplayMessage",
    "SetMonitoringBase",
    "SetMonitoringLevel",
    "SetNetworkProfile",
    "SetVariableMonitoring",
    "SetVariables",
    "TriggerMessage",
    "UnlockConnector",
    "UnpublishFirmware",
    "UpdateFirmware",
];

/// The compiled 2.0.1 schemas, built on first use and shared by every connection.
pub fn schemas() -> &'static SchemaSet {
    static SCHEMAS: OnceLock<SchemaSet> = OnceLock::new();
    SCHEMAS.get_or_init(|| SchemaSet::compile(FILES, code))
}

/// 2.0.1's CALLERROR code for a violation: a missing field or a list of the wrong size is an
/// occurrence violation, a field the message does not define a format violation.
fn code(v: Violation) -> ErrorCode {
    match v {
        Violation::UnknownAction => ErrorCode::NotImplemented,
        Violation::Required | Violation::Occurrence => ErrorCode::OccurrenceConstraintViolation,
        Violation::Type => ErrorCode::TypeConstraintViolation,
        Violation::Additional => ErrorCode::FormatViolation,
        Violation::Property => ErrorCode::PropertyConstraintViolation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn all_schemas_compile_and_map_errors() {
        let s = schemas();
        assert_eq!(s.actions().count(), 64);
        let mut both: Vec<&str> = STATION_TO_CSMS
            .iter()
            .chain(CSMS_TO_STATION)
            .copied()
            .collect();
        both.sort_unstable();
        both.dedup();
        let mut all: Vec<&str> = s.actions().collect();
        all.sort_unstable();
        assert_eq!(both, all, "every action has a direction");
        let boot = json!({
            "reason": "PowerUp",
            "chargingStation": {"model": "M", "vendorName": "V"}
        });
        assert!(s.validate("BootNotification", Kind::Request, &boot).is_ok());
        let code = |p: Value| {
            s.validate("BootNotification", Kind::Request, &p)
                .unwrap_err()
                .code
        };
        assert_eq!(
            code(json!({"chargingStation": {"model": "M", "vendorName": "V"}})),
            ErrorCode::OccurrenceConstraintViolation
        );
        assert_eq!(
            code(json!({"reason": "PowerUp", "chargingStation": {"model": 1, "vendorName": "V"}})),
            ErrorCode::TypeConstraintViolation
        );
        assert_eq!(
            code(
                json!({"reason": "Sunrise", "chargingStation": {"model": "M", "vendorName": "V"}})
            ),
            ErrorCode::PropertyConstraintViolation
        );
        assert_eq!(
            code(
                json!({"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}, "x": 1})
            ),
            ErrorCode::FormatViolation
        );
        // customData with a vendorId is allowed in every object.
        let custom = json!({
            "reason": "PowerUp",
            "chargingStation": {"model": "M", "vendorName": "V", "customData": {"vendorId": "X", "k": 1}}
        });
        assert!(
            s.validate("BootNotification", Kind::Request, &custom)
                .is_ok()
        );
        assert_eq!(
            s.validate("Nope", Kind::Request, &json!({}))
                .unwrap_err()
                .code,
            ErrorCode::NotImplemented
        );
        let answer =
            json!({"currentTime": "2026-12-07T08:00:00Z", "interval": 300, "status": "Accepted"});
        assert!(
            s.validate("BootNotification", Kind::Response, &answer)
                .is_ok()
        );
    }
}
