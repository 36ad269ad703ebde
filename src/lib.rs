//! csms: an OCPP 1.6J central system with an embedded customer wallet.

pub mod api;
pub mod auth;
pub mod bench;
pub mod ca;
pub mod chargers;
pub mod charging;
pub mod config;
pub mod customers;
pub mod db;
pub mod demo;
pub mod error;
pub mod events;
pub mod firmware;
pub mod local_list;
pub mod money;
pub mod node;
pub mod ocpp;
pub mod reservations;
pub mod simulator;
pub mod smart_charging;
pub mod startup;
pub mod state;
pub mod stations;
pub mod tariffs;
pub mod tokens;
pub mod wallet;
