//! Integration tests: the real server on random ports, real WebSockets, real HTTP, a real SQLite file
//! and (when CSMS_TEST_POSTGRES_URL is set) a fresh PostgreSQL database per test. The harness is
//! tests/support (shared with the other test crates); `helpers` is its in-process server.

#[path = "../support/mod.rs"]
mod support;
use support::app as helpers;

mod admin;
mod boot_policy;
mod certificates;
mod charging;
mod cluster;
mod firmware;
mod iso15118;
mod lifecycle;
mod lifecycle201;
mod local_list;
mod nodes;
mod ocpp;
mod ocpp201;
mod operator_commands;
mod plug_and_charge;
mod process;
mod property;
mod race;
mod reservations;
mod security;
mod smart_charging;
mod tls;
mod tokens;
mod transactions201;
mod trust;

pub fn race_in_use() -> &'static str {
    "This charger connector is currently in use by another customer. Please try a different connector or wait for the current session to end."
}
