//! The official OCPP 1.6 JSON schemas (`ocpp-schemas/`), embedded in the binary and compiled once.

use std::sync::OnceLock;

use crate::protocol::frame::ErrorCode;
pub use crate::protocol::schemas::Kind;
use crate::protocol::schemas::{SchemaSet, Violation};

macro_rules! schema_files {
    ($($name:literal),* $(,)?) => {
        &[$(
            ($name,
             include_str!(concat!("../../../ocpp-schemas/", $name, ".json")),
             include_str!(concat!("../../../ocpp-schemas/", $name, "Response.json"))),
        )*]
    };
}

/// (action, request schema, response schema) for the 28 core actions and the 11 of the security extension.
const FILES: &[(&str, &str, &str)] = schema_files!(
    "Authorize",
    "BootNotification",
    "CancelReservation",
    "CertificateSigned",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "DataTransfer",
    "DeleteCertificate",
    "DiagnosticsStatusNotification",
    "ExtendedTriggerMessage",
    "FirmwareStatusNotification",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetInstalledCertificateIds",
    "GetLocalListVersion",
    "GetLog",
    "Heartbeat",
    "InstallCertificate",
    "LogStatusNotification",
    "MeterValues",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SecurityEventNotification",
    "SendLocalList",
    "SetChargingProfile",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
    "SignedUpdateFirmware",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
);

/// Actions the central system may send to a charge point (OCPP 1.6 + security extension).
pub const CS_TO_CP: &[&str] = &[
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "DataTransfer",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
    "CertificateSigned",
    "DeleteCertificate",
    "ExtendedTriggerMessage",
    "GetInstalledCertificateIds",
    "GetLog",
    "InstallCertificate",
    "SignedUpdateFirmware",
];

/// Actions a charge point may send to the central system (OCPP 1.6 + security extension).
pub const CP_TO_CS: &[&str] = &[
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "LogStatusNotification",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
];

/// The compiled 1.6 schemas, built on first use and shared by every connection.
pub fn schemas() -> &'static SchemaSet {
    static SCHEMAS: OnceLock<SchemaSet> = OnceLock::new();
    SCHEMAS.get_or_init(|| SchemaSet::compile(FILES, code))
}

/// 1.6's CALLERROR code for a violation: a missing field is a protocol error, a field the message
/// does not define a formation violation (1.6's spelling).
fn code(v: Violation) -> ErrorCode {
    match v {
        Violation::UnknownAction => ErrorCode::NotImplemented,
        Violation::Required => ErrorCode::ProtocolError,
        Violation::Type => ErrorCode::TypeConstraintViolation,
        Violation::Additional => ErrorCode::FormationViolation,
        Violation::Occurrence => ErrorCode::OccurenceConstraintViolation,
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
        assert_eq!(s.actions().count(), 39);
        let ok = json!({"chargePointVendor": "V", "chargePointModel": "M"});
        assert!(s.validate("BootNotification", Kind::Request, &ok).is_ok());
        let code = |p: Value| {
            s.validate("BootNotification", Kind::Request, &p)
                .unwrap_err()
                .code
        };
        assert_eq!(
            code(json!({"chargePointVendor": "V"})),
            ErrorCode::ProtocolError
        );
        assert_eq!(
            code(json!({"chargePointVendor": 1, "chargePointModel": "M"})),
            ErrorCode::TypeConstraintViolation
        );
        assert_eq!(
            code(json!({"chargePointVendor": "V".repeat(30), "chargePointModel": "M"})),
            ErrorCode::PropertyConstraintViolation
        );
        assert_eq!(
            code(json!({"chargePointVendor": "V", "chargePointModel": "M", "x": 1})),
            ErrorCode::FormationViolation
        );
        let bad_time =
            json!({"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "yesterday"});
        assert_eq!(
            s.validate("StartTransaction", Kind::Request, &bad_time)
                .unwrap_err()
                .code,
            ErrorCode::PropertyConstraintViolation
        );
        assert_eq!(
            s.validate("Nope", Kind::Request, &json!({}))
                .unwrap_err()
                .code,
            ErrorCode::NotImplemented
        );
    }
}
