//! The official OCPP 2.0.1 JSON schemas (`ocpp-schemas/2.0.1/`), embedded in the binary and
//! compiled once, with 2.0.1's CALLERROR codes.

use crate::protocol::frame::ErrorCode;
pub use crate::protocol::schemas::Kind;
use crate::protocol::schemas::{Violation, ocpp_actions};

// The 64 actions of OCPP 2.0.1 and their schemas.
ocpp_actions! {
    "../../../ocpp-schemas/2.0.1/", "Request", code;
    /// Actions a charging station sends to the CSMS.
    pub const STATION_TO_CSMS = [
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
    pub const CSMS_TO_STATION = [
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
    use crate::protocol::schemas::check_version;
    use serde_json::json;

    #[test]
    fn all_schemas_compile_and_map_errors() {
        let s = schemas();
        check_version(
            s,
            64,
            &[STATION_TO_CSMS, CSMS_TO_STATION],
            json!({
                "reason": "PowerUp",
                "chargingStation": {"model": "M", "vendorName": "V"}
            }),
            &[
                (
                    json!({"chargingStation": {"model": "M", "vendorName": "V"}}),
                    ErrorCode::OccurrenceConstraintViolation,
                ),
                (
                    json!({"reason": "PowerUp", "chargingStation": {"model": 1, "vendorName": "V"}}),
                    ErrorCode::TypeConstraintViolation,
                ),
                (
                    json!({"reason": "Sunrise", "chargingStation": {"model": "M", "vendorName": "V"}}),
                    ErrorCode::PropertyConstraintViolation,
                ),
                (
                    json!({"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}, "x": 1}),
                    ErrorCode::FormatViolation,
                ),
            ],
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
        let answer =
            json!({"currentTime": "2026-12-07T08:00:00Z", "interval": 300, "status": "Accepted"});
        assert!(
            s.validate("BootNotification", Kind::Response, &answer)
                .is_ok()
        );
    }
}
