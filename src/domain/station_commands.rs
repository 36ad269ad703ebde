//! How the charging core reaches charging stations: one port, implemented by the protocol side
//! (the registry of connections, which routes to other nodes in cluster mode). The core holds an
//! `Arc<dyn StationCommands>` and never names the protocol's modules.
//!
//! The core says what it wants in its own terms ([`Command`]) and reads the station's answer in
//! its own terms ([`Reply`]); the adapter of the station's protocol version writes the command in
//! that version's words, checks it against its schemas, and reads the answer back.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::error::AppError;

/// What the core asks a station to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start charging on `connector` for `id_tag` (the session's one-time tag); `remote_start_id`
    /// (the session's id) names the request, for stations that report it back.
    StartCharging {
        connector: i32,
        id_tag: String,
        remote_start_id: i64,
    },
    /// Stop the core's transaction `transaction_id`, which the station may name by its own id
    /// (`station_transaction_id`, OCPP 2.0.1).
    StopCharging {
        transaction_id: i64,
        station_transaction_id: Option<String>,
    },
    /// Hold `connector` (0: any) for `id_tag` until `expires_at`, under the id the station knows.
    Reserve {
        reservation_id: i64,
        connector: i32,
        expires_at: NaiveDateTime,
        id_tag: String,
        parent_id_tag: Option<String>,
    },
    /// Drop the station's reservation `reservation_id`.
    CancelReservation { reservation_id: i64 },
    /// Make the station's local authorization list version `version`: the whole list (`full`) or
    /// a change to it. Each entry is an idTag with, to add or change it, what is known of it
    /// (`status`, `expiryDate`, `parentIdTag`), or without, to remove it.
    SendLocalList {
        version: i32,
        full: bool,
        entries: Vec<(String, Option<Value>)>,
    },
    /// Which version of the local list the station holds.
    GetLocalListVersion,
    /// Install a charging profile on `connector` (0: the whole station). `profile` is in the
    /// form csms stores (chargingProfileId, stackLevel, chargingProfilePurpose,
    /// chargingProfileKind, chargingSchedule…).
    SetChargingProfile { connector: i32, profile: Value },
    /// Remove the profiles matching every criterion given (none: all of them).
    ClearChargingProfile {
        id: Option<i64>,
        connector: Option<i32>,
        purpose: Option<String>,
        stack_level: Option<i32>,
    },
    /// The schedule the station will follow on `connector` for the next `duration` seconds.
    GetCompositeSchedule {
        connector: i32,
        duration: i64,
        unit: Option<String>,
    },
    /// The station's values for `keys` (its configuration variables).
    GetConfiguration { keys: Vec<String> },
    /// Set one configuration variable.
    ChangeConfiguration { key: String, value: String },
    /// Ask the station to send its boot notification again.
    TriggerBoot,
    /// Download and install the firmware at `location` from `retrieve_at`.
    UpdateFirmware {
        location: String,
        retrieve_at: NaiveDateTime,
        retries: Retries,
    },
    /// Upload diagnostics (between `start` and `stop`) to `location`.
    GetDiagnostics {
        location: String,
        start: Option<NaiveDateTime>,
        stop: Option<NaiveDateTime>,
    },
    /// Upload the log `log_type` (SecurityLog or DiagnosticsLog) to `location`.
    GetLog {
        log_type: String,
        request_id: i64,
        location: String,
        oldest: Option<NaiveDateTime>,
        latest: Option<NaiveDateTime>,
        retries: Retries,
    },
    /// Download, verify and install the signed firmware at `location`.
    SignedUpdateFirmware {
        request_id: i64,
        location: String,
        retrieve_at: NaiveDateTime,
        install_at: Option<NaiveDateTime>,
        signing_certificate: String,
        signature: String,
        retries: Retries,
    },
    /// The certificate chain (PEM) csms signed for the station.
    CertificateSigned {
        chain: String,
        /// 2.0.1's certificateType, as the station asked for it (1.6: none)
        certificate_type: Option<String>,
    },
    /// Report and/or clear what the station holds on `customer`; `request_id` names the request
    /// in the station's reports.
    CustomerInformation {
        request_id: i64,
        customer: Customer,
        report: bool,
        clear: bool,
    },
    /// An operator's command in the station's own protocol words, sent as given.
    Given { action: String, payload: Value },
}

/// A customer as stations know them.
#[derive(Debug, Clone, PartialEq)]
pub enum Customer {
    /// By token: its value and type (Central, ISO14443, eMAID, ...)
    Token { id: String, kind: String },
    /// By the identifier the stations hold
    Identifier(String),
}

/// How often and how far apart a station retries a download or an upload (its own defaults when
/// not given).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Retries {
    pub retries: Option<i64>,
    pub interval: Option<i64>,
}

/// A station's answer, in the core's terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// The station's word for the outcome (Accepted, Rejected, Occupied, Faulted, Unavailable,
    /// NotSupported, RebootRequired, Unknown…); none for answers that carry no status.
    pub status: Option<String>,
    /// The name of the file the station will upload (diagnostics, logs).
    pub file_name: Option<String>,
    /// The version of the local list the station holds (-1: none).
    pub list_version: Option<i64>,
    /// Configuration values reported: key, value (if it has one) and whether it is read-only.
    pub configuration: Vec<(String, Option<String>, bool)>,
    /// The whole answer as the station sent it (relayed to the operator as is).
    pub body: Value,
}

impl Reply {
    /// The station accepted (its word is `Accepted`).
    pub fn accepted(&self) -> bool {
        self.status.as_deref() == Some("Accepted")
    }

    /// The station's word, or `otherwise` when it gave none.
    pub fn status_or<'a>(&'a self, otherwise: &'a str) -> &'a str {
        self.status.as_deref().unwrap_or(otherwise)
    }
}

/// Why a call to a charger produced no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum CallFailure {
    #[error("charger is offline")]
    Offline,
    #[error("charger did not answer in time")]
    Timeout,
    #[error("charger disconnected before answering")]
    Disconnected,
    #[error("charger answered with CALLERROR {code}: {description}")]
    CallError { code: String, description: String },
    /// The charger's BootNotification was not answered Accepted (pending approval, or rejected):
    /// OCPP 1.6 lets the central system send it only configuration and trigger requests.
    #[error("charger is not accepted (pending approval or rejected)")]
    NotAccepted,
    /// Cluster mode: the charger is held by another node and NATS cannot reach it now.
    #[error("the cluster's messaging (NATS) is unavailable")]
    Unavailable,
    /// The station's protocol version has no way (yet) to carry this command.
    #[error("not available for {protocol} stations yet: {what}")]
    NotSupported { protocol: String, what: String },
}

impl From<CallFailure> for AppError {
    fn from(f: CallFailure) -> Self {
        match f {
            CallFailure::Offline | CallFailure::Disconnected => AppError::ChargerOffline,
            CallFailure::Timeout => AppError::ChargerTimeout,
            CallFailure::CallError { code, description } => {
                AppError::ChargerCallError { code, description }
            }
            CallFailure::NotAccepted => AppError::Conflict(
                "Charger is not accepted: approve it first (it is pending or rejected)".into(),
            ),
            CallFailure::Unavailable => AppError::ClusterUnavailable,
            f @ CallFailure::NotSupported { .. } => {
                AppError::Conflict(format!("This charger's protocol cannot do that: {f}"))
            }
        }
    }
}

/// A station's answer, on its way.
pub type Answer<'a> = Pin<Box<dyn Future<Output = Result<Reply, CallFailure>> + Send + 'a>>;

/// Sends commands to stations and tells which are connected.
pub trait StationCommands: Send + Sync {
    /// Sends `command` to a station wherever it is connected (this node, or another one in
    /// cluster mode); one call in flight per station.
    fn send<'a>(&'a self, device_id: &'a str, command: Command, timeout: Duration) -> Answer<'a>;
    /// Connected to this node or, in cluster mode, to another live node.
    fn is_online(&self, device_id: &str) -> bool;
    /// Connected to this node (background work acts for these; each node for its own).
    fn is_local(&self, device_id: &str) -> bool;
    /// The stations connected to this node.
    fn devices(&self) -> Vec<String>;
    /// Whether `command`, written for this station's protocol, is valid there (its schema);
    /// `Err` says why not, in words.
    fn check(&self, device_id: &str, command: &Command) -> Result<(), String>;
    /// Records the operator's decision on a station's registration on its live connection here;
    /// false when it is not connected to this node.
    fn set_accepted(&self, device_id: &str, accepted: bool) -> bool;
}
