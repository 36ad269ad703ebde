//! OCPP 1.6 messages in the charging core's terms: what the adapter hands to the core.

use crate::protocol::ocpp16::messages::StatusNotification;

impl From<StatusNotification> for crate::domain::telemetry::StatusReport {
    fn from(m: StatusNotification) -> Self {
        crate::domain::telemetry::StatusReport {
            connector_id: m.connector_id,
            status: m.status,
            error_code: m.error_code,
            info: m.info,
            vendor_error_code: m.vendor_error_code,
        }
    }
}
