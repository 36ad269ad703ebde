//! What a customer's start and stop work with: the database, the stations, the events, the
//! connector occupancy, the stop retrier and the reservations (built once in `startup.rs`).

use std::sync::Arc;
use std::time::Duration;

use crate::domain::charging::occupancy::Occupancy;
use crate::domain::charging::stops::StopRetrier;
use crate::domain::reservations::Reservations;
use crate::domain::station_commands::StationCommands;
use crate::infra::db::Db;
use crate::infra::events::EventBus;

pub struct Charging {
    pub db: Db,
    pub stations: Arc<dyn StationCommands>,
    pub events: Arc<EventBus>,
    pub occupancy: Arc<Occupancy>,
    pub stops: Arc<StopRetrier>,
    pub reservations: Arc<Reservations>,
    /// This node, the owner of the sessions it starts (cluster mode).
    pub node_id: String,
    /// The largest amount a customer may authorize for one session (minor units).
    pub max_amount: i64,
    /// The price of a connector with no tariff (minor units per kWh).
    pub default_price_per_kwh: i64,
    /// The occupancy hint and the per-connector queue before the reserving transaction.
    pub fast_paths: bool,
    /// How long a RemoteStartTransaction may wait for its answer.
    pub remote_start_timeout: Duration,
}
