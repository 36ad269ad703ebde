//! The core's commands in OCPP 2.0.1 words, and the station's answers back in the core's terms.
//! So far: starting and stopping a charge, reserving and cancelling, the boot trigger, the local
//! list version, load management's profiles (Set/ClearChargingProfile, GetCompositeSchedule) and
//! the operator's commands as given; the rest come with their blocks (issue 22).

use serde_json::{Value, json};

use crate::domain::station_commands::{CallFailure, Command, Customer, Reply};

/// The 2.0.1 action and payload for `command`.
pub fn encode(command: &Command) -> Result<(String, Value), CallFailure> {
    let (action, payload) = match command {
        Command::TriggerBoot => (
            "TriggerMessage",
            json!({"requestedMessage": "BootNotification"}),
        ),
        Command::GetLocalListVersion => ("GetLocalListVersion", json!({})),
        Command::StartCharging {
            connector,
            id_tag,
            remote_start_id,
        } => (
            "RequestStartTransaction",
            json!({
                "evseId": connector,
                "remoteStartId": remote_start_id,
                "idToken": {"idToken": id_tag, "type": "Central"},
            }),
        ),
        Command::StopCharging {
            station_transaction_id: Some(id),
            ..
        } => ("RequestStopTransaction", json!({"transactionId": id})),
        Command::Reserve {
            reservation_id,
            connector,
            expires_at,
            id_tag,
            parent_id_tag,
        } => {
            let mut p = json!({
                "id": reservation_id,
                "expiryDateTime": crate::infra::timestamps::format_timestamp(*expires_at),
                "idToken": {"idToken": id_tag, "type": "Central"},
            });
            // Connector 0 (any): no EVSE named, the station picks one.
            if *connector > 0 {
                p["evseId"] = json!(connector);
            }
            if let Some(group) = parent_id_tag {
                p["groupIdToken"] = json!({"idToken": group, "type": "Central"});
            }
            ("ReserveNow", p)
        }
        Command::CancelReservation { reservation_id } => (
            "CancelReservation",
            json!({"reservationId": reservation_id}),
        ),
        Command::CertificateSigned {
            chain,
            certificate_type,
        } => {
            let mut p = json!({ "certificateChain": chain });
            if let Some(t) = certificate_type {
                p["certificateType"] = json!(t);
            }
            ("CertificateSigned", p)
        }
        // A transaction named by csms's own id (not the station's) cannot be named in 2.0.1.
        Command::SetChargingProfile { profile, .. } if profile["transactionId"].is_number() => {
            return Err(CallFailure::NotSupported {
                protocol: "OCPP 2.0.1".into(),
                what: "a profile of a transaction the station never named".into(),
            });
        }
        Command::SetChargingProfile { connector, profile } => (
            "SetChargingProfile",
            json!({"evseId": connector, "chargingProfile": charging_profile(profile)}),
        ),
        Command::ClearChargingProfile {
            id,
            connector,
            purpose,
            stack_level,
        } => {
            let mut p = json!({});
            if let Some(id) = id {
                p["chargingProfileId"] = json!(id);
            } else {
                let mut criteria = json!({});
                if let Some(c) = connector {
                    criteria["evseId"] = json!(c);
                }
                if let Some(purpose) = purpose {
                    criteria["chargingProfilePurpose"] = json!(purpose_201(purpose));
                }
                if let Some(level) = stack_level {
                    criteria["stackLevel"] = json!(level);
                }
                p["chargingProfileCriteria"] = criteria;
            }
            ("ClearChargingProfile", p)
        }
        Command::GetCompositeSchedule {
            connector,
            duration,
            unit,
        } => {
            let mut p = json!({"evseId": connector, "duration": duration});
            if let Some(unit) = unit {
                p["chargingRateUnit"] = json!(unit);
            }
            ("GetCompositeSchedule", p)
        }
        Command::CustomerInformation {
            request_id,
            customer,
            report,
            clear,
        } => {
            let mut p = json!({"requestId": request_id, "report": report, "clear": clear});
            match customer {
                Customer::Token { id, kind } => p["idToken"] = json!({"idToken": id, "type": kind}),
                Customer::Identifier(id) => p["customerIdentifier"] = json!(id),
            }
            ("CustomerInformation", p)
        }
        Command::Given { action, payload } => return Ok((action.clone(), payload.clone())),
        other => {
            return Err(CallFailure::NotSupported {
                protocol: "OCPP 2.0.1".into(),
                what: name(other).into(),
            });
        }
    };
    Ok((action.to_string(), payload))
}

/// 2.0.1's name of a profile purpose (1.6's ChargePointMaxProfile is ChargingStationMaxProfile).
fn purpose_201(purpose: &str) -> &str {
    match purpose {
        "ChargePointMaxProfile" => "ChargingStationMaxProfile",
        other => other,
    }
}

/// The core's profile (1.6's csChargingProfiles: `chargingProfileId`, one `chargingSchedule`;
/// for a 2.0.1 transaction its `transactionId` is the station's) as 2.0.1's chargingProfile.
fn charging_profile(core: &Value) -> Value {
    let id = core["chargingProfileId"].clone();
    let mut schedule = core["chargingSchedule"].clone();
    if schedule.is_object() {
        schedule["id"] = id.clone();
    }
    let mut p = json!({
        "id": id,
        "stackLevel": core["stackLevel"],
        "chargingProfilePurpose": purpose_201(core["chargingProfilePurpose"].as_str().unwrap_or_default()),
        "chargingProfileKind": core["chargingProfileKind"],
        "chargingSchedule": [schedule],
    });
    for key in ["recurrencyKind", "validFrom", "validTo"] {
        if !core[key].is_null() {
            p[key] = core[key].clone();
        }
    }
    if let Value::String(tx) = &core["transactionId"] {
        p["transactionId"] = json!(tx);
    }
    p
}

/// What a command is, in words (for the error that says it cannot be sent).
fn name(command: &Command) -> &'static str {
    match command {
        Command::StartCharging { .. } => "starting a charge",
        Command::StopCharging { .. } => "stopping a transaction the station never named",
        Command::SendLocalList { .. } => "sending a local list",
        Command::SetChargingProfile { .. }
        | Command::ClearChargingProfile { .. }
        | Command::GetCompositeSchedule { .. } => "smart charging",
        Command::GetConfiguration { .. } | Command::ChangeConfiguration { .. } => {
            "reading or changing a setting by its 1.6 key"
        }
        Command::UpdateFirmware { .. }
        | Command::GetDiagnostics { .. }
        | Command::GetLog { .. }
        | Command::SignedUpdateFirmware { .. } => "file transfers",
        Command::TriggerBoot
        | Command::Reserve { .. }
        | Command::GetLocalListVersion
        | Command::CancelReservation { .. }
        | Command::CertificateSigned { .. }
        | Command::CustomerInformation { .. }
        | Command::Given { .. } => "this command",
    }
}

/// A 2.0.1 answer in the core's terms.
pub fn decode(answer: Value) -> Reply {
    Reply {
        status: answer["status"].as_str().map(str::to_string),
        file_name: answer["filename"].as_str().map(str::to_string),
        list_version: answer["versionNumber"].as_i64(),
        configuration: Vec::new(),
        body: answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ocpp201::schemas::{Kind, schemas};

    #[test]
    fn what_it_carries_is_valid_and_the_rest_is_refused() {
        for command in [
            Command::StartCharging {
                connector: 1,
                id_tag: "ONE-TIME".into(),
                remote_start_id: 42,
            },
            Command::StopCharging {
                transaction_id: 7,
                station_transaction_id: Some("tx-7".into()),
            },
            Command::Reserve {
                reservation_id: 9,
                connector: 1,
                expires_at: chrono::DateTime::from_timestamp(1_800_000_000, 0)
                    .unwrap()
                    .naive_utc(),
                id_tag: "T1".into(),
                parent_id_tag: Some("G1".into()),
            },
            Command::TriggerBoot,
            Command::GetLocalListVersion,
            Command::CancelReservation { reservation_id: 3 },
            Command::CertificateSigned {
                chain: "-----BEGIN CERTIFICATE-----".into(),
                certificate_type: Some("V2GCertificate".into()),
            },
            // Load management's profile of a 2.0.1 transaction (named by the station's id).
            Command::SetChargingProfile {
                connector: 1,
                profile: json!({"chargingProfileId": 12, "transactionId": "tx-7", "stackLevel": 0,
                    "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                    "chargingSchedule": {"chargingRateUnit": "W",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 5520.0}]}}),
            },
            Command::ClearChargingProfile {
                id: Some(12),
                connector: None,
                purpose: None,
                stack_level: None,
            },
            Command::ClearChargingProfile {
                id: None,
                connector: Some(1),
                purpose: Some("ChargePointMaxProfile".into()),
                stack_level: Some(0),
            },
            Command::GetCompositeSchedule {
                connector: 1,
                duration: 300,
                unit: Some("A".into()),
            },
        ] {
            let (action, payload) = encode(&command).unwrap();
            if let Err(e) = schemas().validate(&action, Kind::Request, &payload) {
                panic!("{action} {payload}: {}", e.description);
            }
        }
        // A transaction the station never named cannot be stopped by its id.
        let refused = encode(&Command::StopCharging {
            transaction_id: 1,
            station_transaction_id: None,
        });
        assert!(matches!(refused, Err(CallFailure::NotSupported { .. })));
        // Nor given a profile by csms's id of it.
        let refused = encode(&Command::SetChargingProfile {
            connector: 1,
            profile: json!({"chargingProfileId": 1, "transactionId": 7}),
        });
        assert!(matches!(refused, Err(CallFailure::NotSupported { .. })));
        let r = decode(json!({"versionNumber": 4}));
        assert_eq!(r.list_version, Some(4));
        assert!(decode(json!({"status": "Accepted"})).accepted());
    }
}
