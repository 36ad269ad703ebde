//! The charging core: what csms decides, in its own terms and for any OCPP version. Money (wallet,
//! charging sessions and their billing), reservations, tokens and local lists, smart charging and
//! load management, stations and chargers, firmware and certificates. It reaches stations only
//! through `station_commands::StationCommands` and stores through `infra::db`.

pub mod auth;
pub mod auth_cache;
pub mod certificates;
pub mod chargers;
pub mod charging;
pub mod contracts;
pub mod customer_information;
pub mod customers;
pub mod file_jobs;
pub mod firmware;
pub mod local_list;
pub mod money;
pub mod presence;
pub mod reservations;
pub mod security_events;
pub mod security_jobs;
pub mod smart_charging;
pub mod station_commands;
pub mod station_events;
pub mod station_variables;
pub mod stations;
pub mod tariffs;
pub mod telemetry;
pub mod tokens;
pub mod wallet;
