//! The 2.0.1 messages in the core's terms: what the adapter hands the core of a report, a reading,
//! a transaction event or a contract's hash data. Kept apart from `messages` (the wire types
//! alone, which the fuzz targets compile on their own).

use crate::domain::charging::evidence;
use crate::domain::charging::station_transactions::{Stage, TransactionEvent as Event};
use crate::domain::contracts::HashData;
use crate::domain::station_variables::Reported;
use crate::protocol::ocpp201::messages::{
    IdToken, MeterValue, NotifyReport, OcspRequestData, TransactionEvent,
};

impl NotifyReport {
    /// Each reported attribute, in the core's terms.
    pub fn attributes(self) -> Vec<Reported> {
        let mut out = Vec::new();
        for d in self.report_data {
            let (unit, data_type) = match d.variable_characteristics {
                Some(v) => (v.unit, Some(v.data_type)),
                None => (None, None),
            };
            for a in d.variable_attribute {
                out.push(Reported {
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

impl MeterValue {
    /// The readings in the core's terms: the value scaled by its multiplier, in its unit.
    pub fn into_core(self) -> evidence::MeterValue {
        evidence::MeterValue {
            timestamp: self.timestamp,
            sampled_value: self
                .sampled_value
                .into_iter()
                .map(|sv| {
                    let (unit, multiplier) = match sv.unit_of_measure {
                        Some(u) => (u.unit, u.multiplier.unwrap_or(0)),
                        None => (None, 0),
                    };
                    let value = sv.value * 10f64.powi(multiplier.clamp(-30, 30));
                    evidence::SampledValue {
                        value: value.to_string(),
                        context: sv.context,
                        format: None,
                        measurand: sv.measurand,
                        phase: sv.phase,
                        location: sv.location,
                        unit,
                    }
                })
                .collect(),
        }
    }
}

impl TransactionEvent {
    /// The event in the core's terms (`None`: an event type the schema does not know).
    pub fn into_core(self) -> Option<Event> {
        let stage = match self.event_type.as_str() {
            "Started" => Stage::Started,
            "Updated" => Stage::Updated,
            "Ended" => Stage::Ended,
            _ => return None,
        };
        Some(Event {
            stage,
            station_tx_id: self.transaction_info.transaction_id,
            seq_no: self.seq_no,
            connector_id: self.evse.map(|e| e.id),
            id_token_type: self.id_token.as_ref().map(|t| t.kind.clone()),
            id_tag: self.id_token.and_then(IdToken::tag),
            master_pass: self.transaction_info.stopped_reason.as_deref() == Some("MasterPass"),
            remote_start_id: self.transaction_info.remote_start_id,
            reservation_id: self.reservation_id,
            timestamp: self.timestamp,
            meter_value: self
                .meter_value
                .into_iter()
                .map(MeterValue::into_core)
                .collect(),
            stopped_reason: self.transaction_info.stopped_reason,
        })
    }
}

impl OcspRequestData {
    pub fn to_core(&self) -> HashData {
        HashData {
            hash_algorithm: self.hash_algorithm.clone(),
            issuer_name_hash: self.issuer_name_hash.clone(),
            issuer_key_hash: self.issuer_key_hash.clone(),
            serial_number: self.serial_number.clone(),
            responder_url: self.responder_url.clone(),
        }
    }
}
