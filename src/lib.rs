//! csms: an OCPP central system (1.6J today) with an embedded customer wallet.
//!
//! Layers, and what may import what (checked by `scripts/import-cycles.py`: no import cycle):
//! `http` (the REST API and the panels) and `protocol` (OCPP: shared plumbing plus one adapter per
//! version) call the charging core in `domain`, which stands on `infra` (database, configuration,
//! events, cluster). `startup` assembles `state` and runs everything; `bench` and `simulator` are
//! tools built on the same crate.

pub mod bench;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod infra;
pub mod protocol;
pub mod simulator;
pub mod startup;
pub mod state;
