//! Building the application (database, state, listeners) and running it: the zero-to-production split
//! that lets tests start the real server on random ports.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::prelude::*;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::domain::auth::ratelimit::LoginLimiter;
use crate::domain::auth::{self, Jwt};
use crate::domain::charging::recovery;
use crate::domain::charging::stops::StopRetrier;
use crate::error::AppError;
use crate::infra::config::Settings;
use crate::infra::db::schema::{operators, settings as settings_table};
use crate::infra::db::{Db, now};
use crate::infra::events::EventBus;
use crate::protocol::msglog::MessageLog;
use crate::protocol::registry::Registry;
use crate::state::{AppState, State};

pub struct Application {
    pub http_port: u16,
    pub ocpp_port: u16,
    pub state: State,
    server: actix_web::dev::Server,
    ocpp_listener: TcpListener,
    /// The `wss://` listener and its port, when CSMS_OCPP_TLS_ADDR is set.
    pub ocpp_tls_port: Option<u16>,
    ocpp_tls_listener: Option<TcpListener>,
}

/// The process-wide Prometheus recorder (a recorder can be installed once per process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder().handle())
        })
        .clone()
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, AppError> {
        let derived = settings.derive()?;
        let db = {
            let (url, size) = (settings.database_url.clone(), settings.db_pool_size);
            tokio::task::spawn_blocking(move || Db::connect(&url, size))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))??
        };
        log::info!(
            "database: {} ({})",
            db.backend().name(),
            crate::infra::db::redact(&settings.database_url)
        );
        let secret = match &settings.jwt_secret {
            Some(s) if !s.is_empty() => s.clone(),
            _ => db.run(stored_jwt_secret).await?,
        };
        if let (Some(email), Some(password)) = (&settings.admin_email, &settings.admin_password) {
            bootstrap_admin(&db, email, password, settings.bcrypt_cost).await?;
        }
        let dummy_hash = auth::hash_password("not a password".into(), settings.bcrypt_cost).await?;
        let node_id = settings
            .node_id
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(crate::infra::node::default_id);
        {
            let id = node_id.clone();
            db.run(move |c| crate::infra::node::heartbeat(c, &id))
                .await?;
        }
        let cluster = match &settings.nats_url {
            None => None,
            Some(url) => {
                // An earlier run under the same CSMS_NODE_ID held sockets that are gone now.
                let id = node_id.clone();
                db.run(move |c| crate::infra::cluster::forget_node(c, &id))
                    .await?;
                let cluster =
                    crate::infra::cluster::Cluster::connect(&settings, &node_id, secret.as_bytes())
                        .await?;
                cluster.beat();
                log::info!(
                    "cluster mode: node {node_id}, NATS {}, subjects {}.*",
                    crate::infra::cluster::redact(url),
                    settings.nats_prefix
                );
                Some(cluster)
            }
        };
        let msglog = MessageLog::start(db.clone(), crate::protocol::msglog::Limits::of(&settings));
        // PostgreSQL commits several meter batches side by side (a quarter of the pool, up to 4);
        // SQLite has one writer at a time anyway.
        let meter_lanes =
            crate::domain::charging::meter_writer::lanes_for(db.backend(), db.pool_size());
        let telemetry = crate::domain::telemetry::TelemetryWriter::start(db.clone());
        let meters = crate::domain::charging::meter_writer::MeterWriter::start(
            db.clone(),
            derived.policy,
            meter_lanes,
        );
        let http_listener = std::net::TcpListener::bind(&settings.http_addr).map_err(|e| {
            AppError::Config(format!(
                "cannot listen on {} (CSMS_HTTP_ADDR): {e}",
                settings.http_addr
            ))
        })?;
        let ocpp_listener = TcpListener::bind(&settings.ocpp_addr).await.map_err(|e| {
            AppError::Config(format!(
                "cannot listen on {} (CSMS_OCPP_ADDR): {e}",
                settings.ocpp_addr
            ))
        })?;
        let (tls, ocpp_tls_listener) = match &settings.ocpp_tls_addr {
            None => (None, None),
            Some(addr) => {
                let (Some(cert), Some(key)) = (&settings.ocpp_tls_cert, &settings.ocpp_tls_key)
                else {
                    return Err(AppError::Config(
                        "CSMS_OCPP_TLS_ADDR needs CSMS_OCPP_TLS_CERT and CSMS_OCPP_TLS_KEY".into(),
                    ));
                };
                let files = crate::protocol::tls::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: settings.ocpp_tls_client_ca.clone(),
                    charger_ca_dir: Some(settings.ca_dir.clone().into()),
                };
                let tls =
                    tokio::task::spawn_blocking(move || crate::protocol::tls::Tls::load(files))
                        .await
                        .map_err(|e| AppError::Internal(e.to_string()))?
                        .map_err(|e| AppError::Config(format!("OCPP TLS: {e}")))?;
                let listener = TcpListener::bind(addr).await.map_err(|e| {
                    AppError::Config(format!("cannot listen on {addr} (CSMS_OCPP_TLS_ADDR): {e}"))
                })?;
                (Some(tls), Some(listener))
            }
        };
        let ocpp_tls_port = match &ocpp_tls_listener {
            Some(l) => Some(
                l.local_addr()
                    .map_err(|e| AppError::Internal(e.to_string()))?
                    .port(),
            ),
            None => None,
        };
        let http_port = http_listener
            .local_addr()
            .map_err(|e| AppError::Internal(e.to_string()))?
            .port();
        let ocpp_port = ocpp_listener
            .local_addr()
            .map_err(|e| AppError::Internal(e.to_string()))?
            .port();
        // The handles the domain's services share (each takes only what it uses).
        let registry: Arc<Registry> = Default::default();
        let stops = Arc::new(StopRetrier::new(
            db.clone(),
            registry.clone(),
            settings.call_timeout(),
            settings.stop_retry_secs,
        ));
        let auth_cache = Arc::new(crate::domain::auth_cache::AuthCache::new(
            db.clone(),
            registry.clone(),
            settings.disable_auth_cache,
            settings.call_timeout(),
        ));
        // One client for the services csms calls on stations' behalf, each call time-limited.
        let outbound = reqwest::Client::builder()
            .connect_timeout(settings.outbound_timeout())
            .build()
            .map_err(|e| AppError::Internal(format!("the outbound HTTP client: {e}")))?;
        let provisioning = Arc::new(crate::infra::provisioning::Provisioning::new(
            settings.iso15118_cps_url.clone(),
            outbound.clone(),
            settings.outbound_timeout(),
        ));
        let ocsp = Arc::new(crate::infra::ocsp::Ocsp::new(
            outbound.clone(),
            settings.outbound_timeout(),
        ));
        let local_lists = Arc::new(crate::domain::local_list::Updater::new(
            db.clone(),
            registry.clone(),
            settings.local_list_auto_sync,
            settings.call_timeout(),
        ));
        let load = Arc::new(crate::domain::smart_charging::LoadManager::new(
            db.clone(),
            registry.clone(),
            settings.call_timeout(),
        ));
        let occupancy: Arc<crate::domain::charging::occupancy::Occupancy> = Default::default();
        let events = Arc::new(EventBus::default());
        let reservations = Arc::new(crate::domain::reservations::Reservations {
            db: db.clone(),
            stations: registry.clone(),
            events: events.clone(),
            occupancy: occupancy.clone(),
            call_timeout: settings.call_timeout(),
            no_shows: crate::domain::reservations::NoShows::from_settings(&settings),
            policy: derived.policy,
        });
        let charging = Arc::new(crate::domain::charging::desk::Charging {
            db: db.clone(),
            stations: registry.clone(),
            events: events.clone(),
            occupancy: occupancy.clone(),
            stops: stops.clone(),
            reservations: reservations.clone(),
            node_id: node_id.clone(),
            max_amount: derived.max_amount,
            default_price_per_kwh: derived.default_price_per_kwh,
            fast_paths: settings.start_fast_paths,
            remote_start_timeout: settings.remote_start_timeout(),
        });
        let jwt = Arc::new(Jwt::new(
            secret.as_bytes(),
            settings.jwt_ttl_secs,
            settings.sse_ticket_ttl_secs,
        ));
        let accounts = Arc::new(crate::domain::auth::login::Accounts {
            db: db.clone(),
            jwt: jwt.clone(),
            limiter: LoginLimiter::new(derived.login_limits.clone()),
            dummy_hash,
            bcrypt_cost: settings.bcrypt_cost,
        });
        let file_jobs = Arc::new(crate::domain::file_jobs::FileJobs {
            db: db.clone(),
            stations: registry.clone(),
            call_timeout: settings.call_timeout(),
            upload_ttl: settings.upload_token_ttl(),
        });
        let certificates = Arc::new(crate::domain::certificates::Certificates {
            db: db.clone(),
            stations: registry.clone(),
            call_timeout: settings.call_timeout(),
            ca_dir: settings.ca_dir.clone(),
        });
        let state: State = Arc::new(AppState {
            jwt,
            accounts,
            derived,
            db,
            registry,
            occupancy,
            events,
            cluster: cluster.clone(),
            msglog,
            meters,
            telemetry,
            metrics: metrics_handle(),
            started_at: now(),
            node_id,
            stops,
            local_lists,
            load,
            reservations,
            charging,
            file_jobs,
            certificates,
            auth_cache,
            provisioning,
            ocsp,
            tls,
            settings,
        });
        if let Some(cluster) = cluster {
            state.registry.set_remote(cluster.clone());
            state.events.set_peers(cluster.clone());
            state.occupancy.set_peers(cluster);
        }
        let server = crate::http::server(http_listener, state.clone())
            .map_err(|e| AppError::Config(format!("HTTP server: {e}")))?;
        Ok(Application {
            http_port,
            ocpp_port,
            state,
            server,
            ocpp_listener,
            ocpp_tls_port,
            ocpp_tls_listener,
        })
    }

    /// Stops the HTTP server (tests and benches use it to shut an instance down).
    pub fn http_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the HTTP server stops; the OCPP endpoint and background tasks run beside it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state;
        tokio::spawn(
            state
                .events
                .clone()
                .relay(state.db.clone(), state.node_id.clone()),
        );
        tokio::spawn(crate::infra::cluster::heartbeats(
            state.db.clone(),
            state.node_id.clone(),
            state.settings.node_heartbeat(),
            state.cluster.clone(),
            state.registry.clone(),
        ));
        if let Some(cluster) = &state.cluster {
            tokio::spawn(cluster.clone().run(crate::infra::cluster::Local {
                db: state.db.clone(),
                registry: state.registry.clone(),
                events: state.events.clone(),
                occupancy: state.occupancy.clone(),
            }));
        }
        tokio::spawn(recovery::run(recovery::Recovery {
            db: state.db.clone(),
            occupancy: state.occupancy.clone(),
            events: state.events.clone(),
            policy: state.derived.policy,
            settings: state.settings.clone(),
        }));
        tokio::spawn(crate::domain::certificates::audit_at_startup(
            state.db.clone(),
        ));
        tokio::spawn(state.stops.clone().run());
        tokio::spawn(crate::domain::reservations::run(state.reservations.clone()));
        tokio::spawn(crate::domain::local_list::run(state.local_lists.clone()));
        tokio::spawn(crate::domain::smart_charging::run(state.load.clone()));
        tokio::spawn(crate::protocol::server::serve(
            self.ocpp_listener,
            state.clone(),
        ));
        if let (Some(listener), Some(tls)) = (self.ocpp_tls_listener, state.tls.clone()) {
            tokio::spawn(
                tls.clone()
                    .watch(Duration::from_secs(state.settings.ocpp_tls_reload_secs)),
            );
            tokio::spawn(crate::protocol::server::serve_tls(
                listener,
                state.clone(),
                tls,
            ));
            log::info!(
                "OCPP over TLS on {} (port {}){}",
                state.settings.ocpp_tls_addr.as_deref().unwrap_or(""),
                self.ocpp_tls_port.unwrap_or(0),
                if state.tls.as_ref().is_some_and(|t| t.client_auth()) {
                    ", client certificates verified"
                } else {
                    ""
                }
            );
        }
        log::info!(
            "csms node {} listening: HTTP on {} (port {}), OCPP on {} (port {})",
            state.node_id,
            state.settings.http_addr,
            self.http_port,
            state.settings.ocpp_addr,
            self.ocpp_port
        );
        self.server.await
    }
}

/// The JWT secret stored in the database, created on first start.
fn stored_jwt_secret(c: &mut crate::infra::db::DbConnection) -> Result<String, AppError> {
    let key = "jwt_secret";
    if let Some(v) = settings_table::table
        .find(key)
        .select(settings_table::value)
        .first::<String>(c)
        .optional()?
    {
        return Ok(v);
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    // Two processes starting at once: the unique key keeps the first one's secret.
    let _ = diesel::insert_into(settings_table::table)
        .values((
            settings_table::key.eq(key),
            settings_table::value.eq(&secret),
        ))
        .execute(c);
    Ok(settings_table::table
        .find(key)
        .select(settings_table::value)
        .first(c)?)
}

async fn bootstrap_admin(db: &Db, email: &str, password: &str, cost: u32) -> Result<(), AppError> {
    let email = email.trim().to_lowercase();
    let hash = auth::hash_password(password.to_string(), cost).await?;
    db.run(move |c| {
        let updated = diesel::update(operators::table.filter(operators::email.eq(&email)))
            .set(operators::password_hash.eq(&hash))
            .execute(c)?;
        if updated == 0 {
            diesel::insert_into(operators::table)
                .values((
                    operators::email.eq(&email),
                    operators::name.eq("Administrator"),
                    operators::password_hash.eq(&hash),
                    operators::created_at.eq(now()),
                ))
                .execute(c)?;
            log::info!("operator {email} created");
        }
        Ok(())
    })
    .await
}
