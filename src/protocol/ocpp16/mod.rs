//! The OCPP 1.6J adapter (with the security extension): its messages and schemas, the handlers of
//! the charger's CALLs (mapped to the core's terms in `convert`), and the operator's commands.

pub mod commands;
pub mod convert;
pub mod handlers;
pub mod messages;
pub mod outgoing;
pub mod schemas;
