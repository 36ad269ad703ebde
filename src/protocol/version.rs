//! The OCPP versions csms speaks, and which one a connection speaks: chosen in the WebSocket
//! handshake from the subprotocols the station offers.

use crate::protocol::schemas::SchemaSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// OCPP 1.6J with its security extension.
    V16,
    /// OCPP 2.0.1.
    V201,
}

impl Version {
    /// Most preferred first.
    pub const PREFERENCE: [Version; 2] = [Version::V201, Version::V16];

    /// The WebSocket subprotocol that names it.
    pub const fn subprotocol(self) -> &'static str {
        match self {
            Version::V16 => "ocpp1.6",
            Version::V201 => "ocpp2.0.1",
        }
    }

    pub fn of_subprotocol(name: &str) -> Option<Version> {
        Self::PREFERENCE
            .into_iter()
            .find(|v| v.subprotocol() == name)
    }

    /// Its official JSON schemas.
    pub fn schemas(self) -> &'static SchemaSet {
        match self {
            Version::V16 => crate::protocol::ocpp16::schemas::schemas(),
            Version::V201 => crate::protocol::ocpp201::schemas::schemas(),
        }
    }

    /// Whether a station sends `action` (rather than the central system).
    pub fn sent_by_station(self, action: &str) -> bool {
        match self {
            Version::V16 => crate::protocol::ocpp16::schemas::CP_TO_CS.contains(&action),
            Version::V201 => crate::protocol::ocpp201::schemas::STATION_TO_CSMS.contains(&action),
        }
    }

    /// A CALLERROR code in this version's spelling (the frame layer speaks 1.6's).
    pub fn error_code(self, code: &str) -> &str {
        match (self, code) {
            (Version::V201, "FormationViolation") => "FormatViolation",
            (Version::V201, "OccurenceConstraintViolation") => "OccurrenceConstraintViolation",
            _ => code,
        }
    }

    /// What a station may be sent while it is not accepted (pending or rejected): what lets the
    /// operator look at and configure it, and the stop of a transaction it still runs.
    pub fn allowed_while_not_accepted(self, action: &str) -> bool {
        match self {
            Version::V16 => matches!(
                action,
                "GetConfiguration"
                    | "ChangeConfiguration"
                    | "TriggerMessage"
                    | "RemoteStopTransaction"
            ),
            Version::V201 => matches!(
                action,
                "GetVariables"
                    | "SetVariables"
                    | "GetBaseReport"
                    | "GetReport"
                    | "TriggerMessage"
                    | "RequestStopTransaction"
            ),
        }
    }

    /// Whether the central system sends `action` (a command an operator may send).
    pub fn sent_by_csms(self, action: &str) -> bool {
        match self {
            Version::V16 => crate::protocol::ocpp16::schemas::CS_TO_CP.contains(&action),
            Version::V201 => crate::protocol::ocpp201::schemas::CSMS_TO_STATION.contains(&action),
        }
    }

    /// The version a handshake speaks: the most preferred of those `served` that the station
    /// offers. A station that offers none at all speaks 1.6 (as early 1.6 firmware does) when
    /// 1.6 is served; `None` when it offers only others.
    pub fn negotiate(offered: &[String], served: &[Version]) -> Option<Version> {
        if offered.is_empty() {
            return served.contains(&Version::V16).then_some(Version::V16);
        }
        Self::PREFERENCE
            .into_iter()
            .filter(|v| served.contains(v))
            .find(|v| offered.iter().any(|p| p == v.subprotocol()))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.subprotocol())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(list: &str) -> Vec<String> {
        list.split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    }

    #[test]
    fn prefers_201_when_served() {
        let both = [Version::V16, Version::V201];
        let v16 = [Version::V16];
        assert_eq!(
            Version::negotiate(&offer("ocpp1.6, ocpp2.0.1"), &both),
            Some(Version::V201)
        );
        assert_eq!(
            Version::negotiate(&offer("ocpp0.1, ocpp2.0.1"), &both),
            Some(Version::V201)
        );
        assert_eq!(
            Version::negotiate(&offer("ocpp2.0.1, ocpp1.6"), &v16),
            Some(Version::V16)
        );
        assert_eq!(Version::negotiate(&offer("ocpp2.0.1"), &v16), None);
        assert_eq!(Version::negotiate(&offer("ocpp2.0, ocpp1.5"), &both), None);
        assert_eq!(Version::negotiate(&offer(""), &both), Some(Version::V16));
        assert_eq!(
            Version::negotiate(&offer("ocpp1.6"), &[Version::V201]),
            None
        );
        assert_eq!(Version::of_subprotocol("ocpp2.0.1"), Some(Version::V201));
        assert_eq!(Version::V16.to_string(), "ocpp1.6");
    }
}
