//! The HTTP side: REST for customers and operators, health, metrics, OpenAPI, and the web panels.

pub mod admin;
pub mod charging;
pub mod customer;
pub mod openapi;
pub mod security;
pub mod system;
pub mod tokens;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use chrono::NaiveDateTime;

use crate::error::AppError;
use crate::state::State;

pub fn timestamp(t: NaiveDateTime) -> String {
    crate::ocpp::messages::format_timestamp(t)
}

pub fn server(listener: std::net::TcpListener, state: State) -> std::io::Result<Server> {
    let data = web::Data::from(state.clone());
    let workers = match state.settings.http_workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(256 * 1024)
                    .error_handler(|err, _| {
                        AppError::bad_request(format!("Invalid JSON body: {err}")).into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                AppError::bad_request(format!("Invalid query: {err}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|err, _| {
                AppError::bad_request(format!("Invalid path: {err}")).into()
            }))
            .wrap(actix_web::middleware::from_fn(system::observe))
            .wrap(actix_web::middleware::from_fn(security::headers))
            .configure(routes)
    })
    .workers(workers)
    // Open SSE streams never end by themselves; do not let them hold a shutdown for 30 s.
    .shutdown_timeout(3)
    .listen(listener)?
    .run();
    Ok(server)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(system::healthz))
        .route("/metrics", web::get().to(system::metrics))
        .route("/api/openapi.json", web::get().to(system::openapi))
        // customers
        .route("/api/customer/register", web::post().to(customer::register))
        .route("/api/customer/login", web::post().to(customer::login))
        .route("/api/user/profile", web::get().to(customer::profile))
        .route("/api/user/wallet", web::get().to(customer::wallet))
        .route("/api/user/stations", web::get().to(customer::stations))
        .route("/api/user/charging/start", web::post().to(charging::start))
        .route("/api/user/charging/stop", web::post().to(charging::stop))
        .route(
            "/api/user/charging/sessions",
            web::get().to(charging::sessions),
        )
        .route(
            "/api/user/charging/sessions/{session_id}",
            web::get().to(charging::session),
        )
        .route("/api/user/events", web::get().to(charging::events))
        .route(
            "/api/user/events/ticket",
            web::post().to(charging::events_ticket),
        )
        // operators
        .route("/api/admin/login", web::post().to(admin::login))
        .route("/api/admin/stations", web::post().to(admin::create_station))
        .route("/api/admin/stations", web::get().to(admin::list_stations))
        .route(
            "/api/admin/stations/{id}/tariff",
            web::put().to(admin::assign_station_tariff),
        )
        .route("/api/admin/chargers", web::post().to(admin::create_charger))
        .route("/api/admin/chargers", web::get().to(admin::list_chargers))
        .route(
            "/api/admin/chargers/{device_id}",
            web::get().to(admin::get_charger),
        )
        .route(
            "/api/admin/chargers/{device_id}",
            web::delete().to(admin::delete_charger),
        )
        .route(
            "/api/admin/chargers/{device_id}",
            web::put().to(admin::update_charger),
        )
        .route(
            "/api/admin/chargers/{device_id}/tariff",
            web::put().to(admin::assign_charger_tariff),
        )
        .route(
            "/api/admin/chargers/{device_id}/messages",
            web::get().to(admin::messages),
        )
        .route(
            "/api/admin/chargers/{device_id}/commands/{action}",
            web::post().to(admin::command),
        )
        .route("/api/admin/tariffs", web::post().to(admin::create_tariff))
        .route("/api/admin/tariffs", web::get().to(admin::list_tariffs))
        .route("/api/admin/customers", web::get().to(admin::list_customers))
        .route(
            "/api/admin/customers/{id}/wallet/credit",
            web::post().to(admin::credit_wallet),
        )
        .route("/api/admin/sessions", web::get().to(admin::list_sessions))
        .route(
            "/api/admin/sessions/{session_id}/close",
            web::post().to(admin::close_session),
        )
        .route("/api/admin/write-offs", web::get().to(admin::write_offs))
        .route("/api/admin/id-tags", web::post().to(tokens::create))
        .route("/api/admin/id-tags", web::get().to(tokens::list))
        .route("/api/admin/id-tags/{id_tag}", web::get().to(tokens::get))
        .route("/api/admin/id-tags/{id_tag}", web::put().to(tokens::update))
        .route(
            "/api/admin/id-tags/{id_tag}",
            web::delete().to(tokens::delete),
        )
        .service(system::swagger())
        .default_service(web::get().to(system::static_file));
}

/// `{"success": true}`: done, nothing else to say.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Done {
    pub success: bool,
}

/// The email and password of a login body (missing fields are empty: they fail like wrong ones).
pub fn login_credentials(
    body: &serde_json::Value,
    client: Option<std::net::IpAddr>,
) -> crate::auth::login::Credentials {
    let field = |name: &str| {
        body.get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    crate::auth::login::Credentials {
        email: field("email"),
        password: field("password"),
        client,
    }
}

/// Reads a required string field from a JSON body.
pub fn str_field<'a>(body: &'a serde_json::Value, name: &str) -> Result<&'a str, AppError> {
    body.get(name)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::bad_request(format!("{name} is required")))
}
