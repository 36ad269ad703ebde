//! The core's commands in the words of a station's OCPP version, and its answers back in the
//! core's terms: each version's adapter does the writing and reading.

use serde_json::Value;

use crate::domain::station_commands::{CallFailure, Command, Reply};
use crate::protocol::version::Version;

/// The action and payload that carry `command` in `version`; `NotSupported` for a command that
/// version's adapter does not carry yet.
pub fn encode(version: Version, command: &Command) -> Result<(String, Value), CallFailure> {
    match version {
        Version::V16 => crate::protocol::ocpp16::outgoing::encode(command),
        Version::V201 => crate::protocol::ocpp201::outgoing::encode(command),
    }
}

/// A station's answer in the core's terms.
pub fn decode(version: Version, answer: Value) -> Reply {
    match version {
        Version::V16 => crate::protocol::ocpp16::outgoing::decode(answer),
        Version::V201 => crate::protocol::ocpp201::outgoing::decode(answer),
    }
}
