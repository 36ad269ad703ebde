//! OCPP 1.6 messages in the charging core's terms: what the adapter hands to the core.

use crate::domain::charging::evidence::{MeterReport, TransactionEnded, TransactionStarted};
use crate::protocol::ocpp16::messages::{
    MeterValues, StartTransaction, StatusNotification, StopTransaction,
};

impl From<StartTransaction> for TransactionStarted {
    fn from(m: StartTransaction) -> Self {
        TransactionStarted {
            connector_id: m.connector_id,
            id_tag: m.id_tag,
            meter_start: m.meter_start,
            reservation_id: m.reservation_id,
            timestamp: m.timestamp,
        }
    }
}

impl From<MeterValues> for MeterReport {
    fn from(m: MeterValues) -> Self {
        MeterReport {
            connector_id: m.connector_id,
            transaction_id: m.transaction_id,
            meter_value: m.meter_value,
        }
    }
}

impl From<StopTransaction> for TransactionEnded {
    fn from(m: StopTransaction) -> Self {
        TransactionEnded {
            transaction_id: m.transaction_id,
            id_tag: m.id_tag,
            meter_stop: m.meter_stop,
            timestamp: m.timestamp,
            reason: m.reason,
            transaction_data: m.transaction_data,
        }
    }
}

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
