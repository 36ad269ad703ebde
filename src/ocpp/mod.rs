//! OCPP 1.6J: framing, schemas, typed messages, the WebSocket server, per-charger connections,
//! the registry of connected chargers, and the handlers for charge-point-initiated messages.

pub mod commands;
pub mod connection;
pub mod convert;
pub mod data_transfer;
pub mod frame;
pub mod handlers;
pub mod messages;
pub mod msglog;
pub mod registry;
pub mod schemas;
pub mod server;
pub mod stream;
pub mod tls;
