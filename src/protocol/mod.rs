//! Speaking to charging stations: the OCPP-J plumbing every version shares (frames, the WebSocket
//! server and its TLS, one task per connection, the registry of connected stations, the message
//! log) and one adapter per OCPP version (`ocpp16`) that maps frames to the core and back.
//!
//! Earlier: OCPP 1.6J: framing, schemas, typed messages, the WebSocket server, per-charger connections,

pub(crate) use payloads::payloads;

pub mod as_given;
pub mod charging;
pub mod commands;
pub mod connection;
pub mod data_transfer;
pub mod frame;
pub mod msglog;
pub mod ocpp16;
pub mod ocpp201;
pub mod outgoing;
pub mod payloads;
pub mod registry;
pub mod schemas;
pub mod server;
pub mod stream;
pub mod tls;
pub mod version;
