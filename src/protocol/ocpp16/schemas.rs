//! The official OCPP 1.6 JSON schemas (`ocpp-schemas/`), embedded in the binary and compiled once.

use crate::protocol::frame::ErrorCode;
pub use crate::protocol::schemas::Kind;
use crate::protocol::schemas::{Violation, ocpp_actions};

// The 28 core actions and the 11 of the security extension, and their schemas.
ocpp_actions! {
    "../../../ocpp-schemas/", "", code;
    /// Actions the central system may send to a charge point (OCPP 1.6 + security extension).
    pub const CS_TO_CP = [
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
    pub const CP_TO_CS = [
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
    use crate::protocol::schemas::check_version;
    use serde_json::json;

    #[test]
    fn all_schemas_compile_and_map_errors() {
        let s = schemas();
        check_version(
            s,
            39,
            &[CS_TO_CP, CP_TO_CS],
            json!({"chargePointVendor": "V", "chargePointModel": "M"}),
            &[
                (json!({"chargePointVendor": "V"}), ErrorCode::ProtocolError),
                (
                    json!({"chargePointVendor": 1, "chargePointModel": "M"}),
                    ErrorCode::TypeConstraintViolation,
                ),
                (
                    json!({"chargePointVendor": "V".repeat(30), "chargePointModel": "M"}),
                    ErrorCode::PropertyConstraintViolation,
                ),
                (
                    json!({"chargePointVendor": "V", "chargePointModel": "M", "x": 1}),
                    ErrorCode::FormationViolation,
                ),
            ],
        );
        let bad_time =
            json!({"connectorId": 1, "idTag": "A", "meterStart": 0, "timestamp": "yesterday"});
        assert_eq!(
            s.validate("StartTransaction", Kind::Request, &bad_time)
                .unwrap_err()
                .code,
            ErrorCode::PropertyConstraintViolation
        );
    }
}
