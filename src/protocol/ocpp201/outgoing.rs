//! The core's commands in OCPP 2.0.1 words, and the station's answers back in the core's terms.
//! So far: the boot trigger, the local list version, cancelling a reservation and the operator's
//! commands as given; the rest come with their blocks (issue 22).

use serde_json::{Value, json};

use crate::domain::station_commands::{CallFailure, Command, Reply};

/// The 2.0.1 action and payload for `command`.
pub fn encode(command: &Command) -> Result<(String, Value), CallFailure> {
    let (action, payload) = match command {
        Command::TriggerBoot => (
            "TriggerMessage",
            json!({"requestedMessage": "BootNotification"}),
        ),
        Command::GetLocalListVersion => ("GetLocalListVersion", json!({})),
        Command::CancelReservation { reservation_id } => (
            "CancelReservation",
            json!({"reservationId": reservation_id}),
        ),
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

/// What a command is, in words (for the error that says it cannot be sent).
fn name(command: &Command) -> &'static str {
    match command {
        Command::StartCharging { .. } => "starting a charge",
        Command::StopCharging { .. } => "stopping a charge",
        Command::Reserve { .. } => "reserving",
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
        Command::CertificateSigned { .. } => "certificates",
        Command::TriggerBoot
        | Command::GetLocalListVersion
        | Command::CancelReservation { .. }
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
            Command::TriggerBoot,
            Command::GetLocalListVersion,
            Command::CancelReservation { reservation_id: 3 },
        ] {
            let (action, payload) = encode(&command).unwrap();
            if let Err(e) = schemas().validate(&action, Kind::Request, &payload) {
                panic!("{action} {payload}: {}", e.description);
            }
        }
        let refused = encode(&Command::StopCharging { transaction_id: 1 });
        assert!(matches!(refused, Err(CallFailure::NotSupported { .. })));
        let r = decode(json!({"versionNumber": 4}));
        assert_eq!(r.list_version, Some(4));
        assert!(decode(json!({"status": "Accepted"})).accepted());
    }
}
