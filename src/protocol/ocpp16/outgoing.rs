//! The core's commands in OCPP 1.6 words, and the charger's answers back in the core's terms.

use serde_json::{Value, json};

use crate::domain::station_commands::{CallFailure, Command, Reply, Retries};
use crate::infra::timestamps::format_timestamp;

/// The 1.6 action and payload for `command`.
pub fn encode(command: &Command) -> Result<(String, Value), CallFailure> {
    let (action, payload) = match command {
        Command::StartCharging {
            connector, id_tag, ..
        } => (
            "RemoteStartTransaction",
            json!({"connectorId": connector, "idTag": id_tag}),
        ),
        Command::StopCharging { transaction_id, .. } => (
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
        Command::CertificateSigned { chain, .. } => {
            ("CertificateSigned", json!({ "certificateChain": chain }))
        }
        Command::Given { action, payload } => return Ok((action.clone(), payload.clone())),
        Command::CustomerInformation { .. } => {
            return Err(CallFailure::NotSupported {
                protocol: "OCPP 1.6".into(),
                what: "customer information".into(),
            });
        }
    };
    Ok((action.to_string(), payload))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ocpp16::schemas::{Kind, schemas};

    fn at(s: &str) -> chrono::NaiveDateTime {
        crate::infra::timestamps::parse_timestamp(s).unwrap()
    }

    /// Every command the core sends is a valid 1.6 request, under the action 1.6 has for it.
    #[test]
    fn every_command_is_a_valid_request() {
        let retries = Retries {
            retries: Some(3),
            interval: Some(60),
        };
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let commands = [
            (
                Command::StartCharging {
                    connector: 1,
                    id_tag: "T1".into(),
                    remote_start_id: 5,
                },
                "RemoteStartTransaction",
            ),
            (
                Command::StopCharging {
                    transaction_id: 7,
                    station_transaction_id: None,
                },
                "RemoteStopTransaction",
            ),
            (
                Command::Reserve {
                    reservation_id: 9,
                    connector: 2,
                    expires_at: at("2026-12-07T12:00:00Z"),
                    id_tag: "T1".into(),
                    parent_id_tag: Some("P".into()),
                },
                "ReserveNow",
            ),
            (
                Command::CancelReservation { reservation_id: 9 },
                "CancelReservation",
            ),
            (
                Command::SendLocalList {
                    version: 4,
                    full: false,
                    entries: vec![
                        ("A".into(), Some(json!({"status": "Accepted"}))),
                        ("B".into(), None),
                    ],
                },
                "SendLocalList",
            ),
            (Command::GetLocalListVersion, "GetLocalListVersion"),
            (
                Command::SetChargingProfile {
                    connector: 1,
                    profile: json!({
                        "chargingProfileId": 3, "stackLevel": 0,
                        "chargingProfilePurpose": "TxDefaultProfile",
                        "chargingProfileKind": "Absolute",
                        "chargingSchedule": {"chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}]}
                    }),
                },
                "SetChargingProfile",
            ),
            (
                Command::ClearChargingProfile {
                    id: None,
                    connector: Some(1),
                    purpose: Some("TxProfile".into()),
                    stack_level: None,
                },
                "ClearChargingProfile",
            ),
            (
                Command::GetCompositeSchedule {
                    connector: 0,
                    duration: 3600,
                    unit: Some("A".into()),
                },
                "GetCompositeSchedule",
            ),
            (
                Command::GetConfiguration {
                    keys: vec!["HeartbeatInterval".into()],
                },
                "GetConfiguration",
            ),
            (
                Command::ChangeConfiguration {
                    key: "HeartbeatInterval".into(),
                    value: "60".into(),
                },
                "ChangeConfiguration",
            ),
            (Command::TriggerBoot, "TriggerMessage"),
            (
                Command::UpdateFirmware {
                    location: "http://csms/fw.bin".into(),
                    retrieve_at: at("2026-12-07T12:00:00Z"),
                    retries,
                },
                "UpdateFirmware",
            ),
            (
                Command::GetDiagnostics {
                    location: "http://csms/up/".into(),
                    start: Some(at("2026-12-06T00:00:00Z")),
                    stop: None,
                },
                "GetDiagnostics",
            ),
            (
                Command::GetLog {
                    log_type: "SecurityLog".into(),
                    request_id: 5,
                    location: "http://csms/up/".into(),
                    oldest: None,
                    latest: Some(at("2026-12-07T00:00:00Z")),
                    retries,
                },
                "GetLog",
            ),
            (
                Command::SignedUpdateFirmware {
                    request_id: 6,
                    location: "http://csms/fw.bin".into(),
                    retrieve_at: at("2026-12-07T12:00:00Z"),
                    install_at: Some(at("2026-12-07T13:00:00Z")),
                    signing_certificate: pem.into(),
                    signature: "c2ln".into(),
                    retries: Retries::default(),
                },
                "SignedUpdateFirmware",
            ),
            (
                Command::CertificateSigned {
                    chain: pem.into(),
                    certificate_type: None,
                },
                "CertificateSigned",
            ),
            (
                Command::Given {
                    action: "Reset".into(),
                    payload: json!({"type": "Soft"}),
                },
                "Reset",
            ),
        ];
        for (command, expected) in commands {
            let (action, payload) = encode(&command).unwrap();
            assert_eq!(action, expected);
            if let Err(e) = schemas().validate(&action, Kind::Request, &payload) {
                panic!("{action} {payload}: {}", e.description);
            }
        }
    }

    #[test]
    fn the_words_csms_reads_in_answers() {
        let (_, p) = encode(&Command::SendLocalList {
            version: 2,
            full: true,
            entries: vec![("A".into(), None)],
        })
        .unwrap();
        assert_eq!(p["updateType"], "Full");
        assert_eq!(p["localAuthorizationList"], json!([{"idTag": "A"}]));
        let r = decode(json!({"status": "Accepted", "fileName": "diag.zip"}));
        assert!(r.accepted());
        assert_eq!(r.file_name.as_deref(), Some("diag.zip"));
        let r = decode(json!({"status": "Rejected", "filename": "log.txt"}));
        assert!(!r.accepted());
        assert_eq!(r.status_or("?"), "Rejected");
        assert_eq!(r.file_name.as_deref(), Some("log.txt"));
        assert_eq!(decode(json!({"listVersion": -1})).list_version, Some(-1));
        let r = decode(json!({"configurationKey": [
            {"key": "AuthorizationCacheEnabled", "readonly": true, "value": "true"},
            {"key": "NoValue", "readonly": false}
        ], "unknownKey": ["X"]}));
        assert_eq!(
            r.configuration,
            vec![
                (
                    "AuthorizationCacheEnabled".to_string(),
                    Some("true".to_string()),
                    true
                ),
                ("NoValue".to_string(), None, false),
            ]
        );
        assert_eq!(r.status_or("none"), "none");
    }
}
