//! How the charging core reaches charging stations: one port, implemented by the protocol side
//! (the registry of connections, which routes to other nodes in cluster mode). The core holds an
//! `Arc<dyn StationCommands>` and never names the protocol's modules.
//!
//! Commands still go by their OCPP action name and JSON payload; the adapter of the station's
//! protocol version checks them against its schemas.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

use crate::error::AppError;

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
        }
    }
}

/// A station's answer, on its way.
pub type Answer<'a> = Pin<Box<dyn Future<Output = Result<Value, CallFailure>> + Send + 'a>>;

/// Sends commands to stations and tells which are connected.
pub trait StationCommands: Send + Sync {
    /// A call to a station wherever it is connected (this node, or another one in cluster mode);
    /// one call in flight per station.
    fn call<'a>(
        &'a self,
        device_id: &'a str,
        action: &'a str,
        payload: Value,
        timeout: Duration,
    ) -> Answer<'a>;
    /// Connected to this node or, in cluster mode, to another live node.
    fn is_online(&self, device_id: &str) -> bool;
    /// Connected to this node (background work acts for these; each node for its own).
    fn is_local(&self, device_id: &str) -> bool;
    /// The stations connected to this node.
    fn devices(&self) -> Vec<String>;
    /// Whether `payload` is a valid `action` request for this station's protocol (its schema);
    /// `Err` says why not, in words.
    fn check(&self, device_id: &str, action: &str, payload: &Value) -> Result<(), String>;
    /// Records the operator's decision on a station's registration on its live connection here;
    /// false when it is not connected to this node.
    fn set_accepted(&self, device_id: &str, accepted: bool) -> bool;
}
