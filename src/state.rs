//! Everything a request handler or a charger connection needs, shared behind one `Arc`.

use std::sync::Arc;

use chrono::NaiveDateTime;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::domain::auth::Jwt;
use crate::infra::config::{Derived, Settings};
use crate::infra::db::Db;
use crate::infra::events::EventBus;
use crate::protocol::msglog::MessageLog;
use crate::protocol::registry::Registry;

pub struct AppState {
    pub settings: Settings,
    pub derived: Derived,
    pub db: Db,
    pub registry: Arc<Registry>,
    /// Cluster mode (`CSMS_NATS_URL`): the other nodes sharing this database.
    pub cluster: Option<Arc<crate::infra::cluster::Cluster>>,
    /// Which connectors are taken, as last seen: answers lost start races without the database.
    pub occupancy: Arc<crate::domain::charging::occupancy::Occupancy>,
    pub events: Arc<EventBus>,
    pub msglog: MessageLog,
    pub meters: crate::domain::charging::meter_writer::MeterWriter,
    /// Group commit for Heartbeats and StatusNotifications.
    pub telemetry: crate::domain::telemetry::TelemetryWriter,
    pub jwt: Arc<Jwt>,
    /// Logins and registrations: their throttle (per account and client address, in memory, per
    /// process), the keys and the dummy hash.
    pub accounts: Arc<crate::domain::auth::login::Accounts>,
    pub metrics: PrometheusHandle,
    pub started_at: NaiveDateTime,
    /// This process's id in the `nodes` table (pending starts it owns are its to finish).
    pub node_id: String,
    /// Sends RemoteStopTransaction for transactions marked to be stopped, again until they stop.
    pub stops: Arc<crate::domain::charging::stops::StopRetrier>,
    /// Sends Local Authorization List updates after tokens change.
    pub local_lists: Arc<crate::domain::local_list::Updater>,
    /// Shares stations' power limits between their transactions.
    pub load: Arc<crate::domain::smart_charging::LoadManager>,
    /// Holds, sends and cancels reservations.
    pub reservations: Arc<crate::domain::reservations::Reservations>,
    /// Customers' starts and stops (`charging::start`, `charging::stop`).
    pub charging: Arc<crate::domain::charging::desk::Charging>,
    /// Firmware updates, diagnostics, logs and signed firmware.
    pub file_jobs: Arc<crate::domain::file_jobs::FileJobs>,
    /// Chargers' certificates signed by csms's CA.
    pub certificates: Arc<crate::domain::certificates::Certificates>,
    /// The `wss://` listener's certificates (security profiles 2 and 3), when it is configured.
    pub tls: Option<Arc<crate::protocol::tls::Tls>>,
    /// Which chargers were asked about their authorization cache (see `auth_cache`).
    pub auth_cache: Arc<crate::domain::auth_cache::AuthCache>,
    /// The ISO 15118 certificate provisioning service stations' EV certificate requests go to.
    pub provisioning: Arc<crate::infra::provisioning::Provisioning>,
    /// The OCSP client (and its cache) Plug & Charge certificates are checked with.
    pub ocsp: Arc<crate::infra::ocsp::Ocsp>,
}

pub type State = Arc<AppState>;
