//! What the core stands on: the database (diesel, both backends), configuration, the event outbox,
//! cluster membership and routing (NATS), the certificate authority, stored files and timestamps.

pub mod ca;
pub mod cluster;
pub mod config;
pub mod db;
pub mod events;
pub mod files;
pub mod node;
pub mod ocsp;
pub mod provisioning;
pub mod timestamps;
