//! The core's commands in OCPP 1.6 words, and the charger's answers back in the core's terms.

use serde_json::{Value, json};

use crate::domain::station_commands::{Command, Reply, Retries};
use crate::infra::timestamps::format_timestamp;

/// The 1.6 action and payload for `command`.
pub fn encode(command: &Command) -> (String, Value) {
    let (action, payload) = match command {
        Command::StartCharging { connector, id_tag } => (
            "RemoteStartTransaction",
            json!({"connectorId": connector, "idTag": id_tag}),
        ),
        Command::StopCharging { transaction_id } => (
            "RemoteStopTransaction",
            json!({"transactionId": transaction_id}),
        ),
        Command::Reserve {
            reservation_id,
            connector,
            expires_at,
            id_tag,
            parent_id_tag,
        } => {
            let mut p = json!({
                "connectorId": connector,
                "expiryDate": format_timestamp(*expires_at),
                "idTag": id_tag,
                "reservationId": reservation_id,
            });
            if let Some(parent) = parent_id_tag {
                p["parentIdTag"] = json!(parent);
            }
            ("ReserveNow", p)
        }
        Command::CancelReservation { reservation_id } => (
            "CancelReservation",
            json!({"reservationId": reservation_id}),
        ),
        Command::SendLocalList {
            version,
            full,
            entries,
        } => {
            let list: Vec<Value> = entries
                .iter()
                .map(|(tag, info)| match info {
                    Some(info) => json!({"idTag": tag, "idTagInfo": info}),
                    None => json!({ "idTag": tag }),
                })
                .collect();
            (
                "SendLocalList",
                json!({
                    "listVersion": version,
                    "updateType": if *full { "Full" } else { "Differential" },
                    "localAuthorizationList": list,
                }),
            )
        }
        Command::GetLocalListVersion => ("GetLocalListVersion", json!({})),
        Command::SetChargingProfile { connector, profile } => (
            "SetChargingProfile",
            json!({"connectorId": connector, "csChargingProfiles": profile}),
        ),
        Command::ClearChargingProfile {
            id,
            connector,
            purpose,
            stack_level,
        } => {
            let mut p = json!({});
            set(&mut p, "id", id.map(|v| json!(v)));
            set(&mut p, "connectorId", connector.map(|v| json!(v)));
            set(
                &mut p,
                "chargingProfilePurpose",
                purpose.as_ref().map(|v| json!(v)),
            );
            set(&mut p, "stackLevel", stack_level.map(|v| json!(v)));
            ("ClearChargingProfile", p)
        }
        Command::GetCompositeSchedule {
            connector,
            duration,
            unit,
        } => {
            let mut p = json!({"connectorId": connector, "duration": duration});
            set(&mut p, "chargingRateUnit", unit.as_ref().map(|u| json!(u)));
            ("GetCompositeSchedule", p)
        }
        Command::GetConfiguration { keys } => ("GetConfiguration", json!({ "key": keys })),
        Command::ChangeConfiguration { key, value } => {
            ("ChangeConfiguration", json!({"key": key, "value": value}))
        }
        Command::TriggerBoot => (
            "TriggerMessage",
            json!({"requestedMessage": "BootNotification"}),
        ),
        Command::UpdateFirmware {
            location,
            retrieve_at,
            retries,
        } => {
            let mut p = json!({
                "location": location,
                "retrieveDate": format_timestamp(*retrieve_at),
            });
            add_retries(&mut p, retries);
            ("UpdateFirmware", p)
        }
        Command::GetDiagnostics {
            location,
            start,
            stop,
        } => {
            let mut p = json!({ "location": location });
            set(
                &mut p,
                "startTime",
                start.map(|t| json!(format_timestamp(t))),
            );
            set(&mut p, "stopTime", stop.map(|t| json!(format_timestamp(t))));
            ("GetDiagnostics", p)
        }
        Command::GetLog {
            log_type,
            request_id,
            location,
            oldest,
            latest,
            retries,
        } => {
            let mut log = json!({ "remoteLocation": location });
            set(
                &mut log,
                "oldestTimestamp",
                oldest.map(|t| json!(format_timestamp(t))),
            );
            set(
                &mut log,
                "latestTimestamp",
                latest.map(|t| json!(format_timestamp(t))),
            );
            let mut p = json!({"logType": log_type, "requestId": request_id, "log": log});
            add_retries(&mut p, retries);
            ("GetLog", p)
        }
        Command::SignedUpdateFirmware {
            request_id,
            location,
            retrieve_at,
            install_at,
            signing_certificate,
            signature,
            retries,
        } => {
            let mut firmware = json!({
                "location": location,
                "retrieveDateTime": format_timestamp(*retrieve_at),
                "signingCertificate": signing_certificate,
                "signature": signature,
            });
            set(
                &mut firmware,
                "installDateTime",
                install_at.map(|t| json!(format_timestamp(t))),
            );
            let mut p = json!({"requestId": request_id, "firmware": firmware});
            add_retries(&mut p, retries);
            ("SignedUpdateFirmware", p)
        }
        Command::CertificateSigned { chain } => {
            ("CertificateSigned", json!({ "certificateChain": chain }))
        }
        Command::Given { action, payload } => return (action.clone(), payload.clone()),
    };
    (action.to_string(), payload)
}

fn set(payload: &mut Value, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        payload[key] = v;
    }
}

fn add_retries(payload: &mut Value, r: &Retries) {
    set(payload, "retries", r.retries.map(|n| json!(n)));
    set(payload, "retryInterval", r.interval.map(|n| json!(n)));
}

/// A 1.6 answer in the core's terms (every answer: the fields a core command reads, where the
/// answer has them).
pub fn decode(answer: Value) -> Reply {
    let text = |k: &str| answer[k].as_str().map(str::to_string);
    Reply {
        status: text("status"),
        // GetDiagnostics says fileName, GetLog filename.
        file_name: text("fileName").or_else(|| text("filename")),
        list_version: answer["listVersion"].as_i64(),
        configuration: answer["configurationKey"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| {
                        Some((
                            k["key"].as_str()?.to_string(),
                            k["value"].as_str().map(str::to_string),
                            k["readonly"].as_bool().unwrap_or(false),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        body: answer,
    }
}
