//! The OCPP 2.0.1 adapter (being built, issue 22): its schemas, typed messages, the handlers of
//! the station's CALLs (block B's basics so far) and the core's commands in 2.0.1 words. Served
//! only when `CSMS_OCPP_VERSIONS` names `ocpp2.0.1`.

pub mod certificates;
pub mod charging_needs;
pub mod command_jobs;
pub mod commands;
pub mod cost;
pub mod customer_information;
pub mod ev_schedules;
pub mod handlers;
pub mod into_core;
pub mod messages;
pub mod monitoring;
pub mod notify;
pub mod outgoing;
pub mod plug_and_charge;
pub mod schemas;
pub mod station_reports;
pub mod transactions;
