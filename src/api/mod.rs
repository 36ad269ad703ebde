//! The HTTP side: REST for customers and operators, health, metrics, OpenAPI, and the web panels.

pub mod admin;
pub mod charger_security;
pub mod charging;
pub mod customer;
pub mod firmware;
pub mod local_list;
pub mod openapi;
pub mod reservations;
pub mod security;
pub mod smart_charging;
pub mod system;
pub mod tokens;

use actix_web::dev::Server;
use actix_web::http::{Method, header};
use actix_web::{App, HttpResponse, HttpServer, Resource, Route, web};
use chrono::NaiveDateTime;

use crate::error::{AppError, ErrorBody};
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

/// One path with its methods; any other method gets 405 with `Allow` (not the web panel's 404).
fn resource(path: &str, routes: Vec<(Method, Route)>) -> Resource {
    let allow = routes
        .iter()
        .map(|(m, _)| m.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut r = web::resource(path);
    for (_, route) in routes {
        r = r.route(route);
    }
    r.default_service(web::to(move || {
        let allow = allow.clone();
        async move {
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allow))
                .json(ErrorBody::new("Method not allowed"))
        }
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let get = |r: Route| (Method::GET, r);
    let post = |r: Route| (Method::POST, r);
    let put = |r: Route| (Method::PUT, r);
    let delete = |r: Route| (Method::DELETE, r);
    let paths = vec![
        ("/healthz", vec![get(web::get().to(system::healthz))]),
        ("/metrics", vec![get(web::get().to(system::metrics))]),
        (
            "/api/openapi.json",
            vec![get(web::get().to(system::openapi))],
        ),
        // customers
        (
            "/api/customer/register",
            vec![post(web::post().to(customer::register))],
        ),
        (
            "/api/customer/login",
            vec![post(web::post().to(customer::login))],
        ),
        (
            "/api/user/profile",
            vec![get(web::get().to(customer::profile))],
        ),
        (
            "/api/user/wallet",
            vec![get(web::get().to(customer::wallet))],
        ),
        (
            "/api/user/stations",
            vec![get(web::get().to(customer::stations))],
        ),
        (
            "/api/user/charging/start",
            vec![post(web::post().to(charging::start))],
        ),
        (
            "/api/user/charging/stop",
            vec![post(web::post().to(charging::stop))],
        ),
        (
            "/api/user/charging/sessions",
            vec![get(web::get().to(charging::sessions))],
        ),
        (
            "/api/user/charging/sessions/{session_id}",
            vec![get(web::get().to(charging::session))],
        ),
        (
            "/api/user/events",
            vec![get(web::get().to(charging::events))],
        ),
        (
            "/api/user/events/ticket",
            vec![post(web::post().to(charging::events_ticket))],
        ),
        // operators
        ("/api/admin/login", vec![post(web::post().to(admin::login))]),
        (
            "/api/admin/cluster",
            vec![get(web::get().to(admin::cluster))],
        ),
        (
            "/api/admin/stations",
            vec![
                post(web::post().to(admin::create_station)),
                get(web::get().to(admin::list_stations)),
            ],
        ),
        (
            "/api/admin/stations/{id}/tariff",
            vec![put(web::put().to(admin::assign_station_tariff))],
        ),
        (
            "/api/admin/chargers",
            vec![
                post(web::post().to(admin::create_charger)),
                get(web::get().to(admin::list_chargers)),
            ],
        ),
        (
            "/api/admin/chargers/{device_id}",
            vec![
                get(web::get().to(admin::get_charger)),
                put(web::put().to(admin::update_charger)),
                delete(web::delete().to(admin::delete_charger)),
            ],
        ),
        (
            "/api/admin/chargers/{device_id}/registration",
            vec![put(web::put().to(admin::set_registration))],
        ),
        (
            "/api/admin/chargers/{device_id}/tariff",
            vec![put(web::put().to(admin::assign_charger_tariff))],
        ),
        (
            "/api/admin/chargers/{device_id}/messages",
            vec![get(web::get().to(admin::messages))],
        ),
        (
            "/api/admin/chargers/{device_id}/commands/{action}",
            vec![post(web::post().to(admin::command))],
        ),
        (
            "/api/admin/tariffs",
            vec![
                post(web::post().to(admin::create_tariff)),
                get(web::get().to(admin::list_tariffs)),
            ],
        ),
        (
            "/api/admin/customers",
            vec![get(web::get().to(admin::list_customers))],
        ),
        (
            "/api/admin/customers/{id}/wallet/credit",
            vec![post(web::post().to(admin::credit_wallet))],
        ),
        (
            "/api/admin/sessions",
            vec![get(web::get().to(admin::list_sessions))],
        ),
        (
            "/api/admin/sessions/{session_id}/close",
            vec![post(web::post().to(admin::close_session))],
        ),
        (
            "/api/admin/write-offs",
            vec![get(web::get().to(admin::write_offs))],
        ),
        (
            "/api/admin/id-tags",
            vec![
                post(web::post().to(tokens::create)),
                get(web::get().to(tokens::list)),
            ],
        ),
        (
            "/api/admin/id-tags/{id_tag}",
            vec![
                get(web::get().to(tokens::get)),
                put(web::put().to(tokens::update)),
                delete(web::delete().to(tokens::delete)),
            ],
        ),
        (
            "/api/user/reservations",
            vec![
                post(web::post().to(reservations::reserve)),
                get(web::get().to(reservations::mine)),
            ],
        ),
        (
            "/api/user/reservations/{id}",
            vec![delete(web::delete().to(reservations::cancel_mine))],
        ),
        (
            "/api/admin/reservations",
            vec![
                post(web::post().to(reservations::operator_reserve)),
                get(web::get().to(reservations::list)),
            ],
        ),
        (
            "/api/admin/reservations/{id}",
            vec![delete(web::delete().to(reservations::operator_cancel))],
        ),
        (
            "/api/admin/chargers/{device_id}/local-list",
            vec![
                get(web::get().to(local_list::local_list)),
                post(web::post().to(local_list::sync_local_list)),
            ],
        ),
        (
            "/api/admin/chargers/{device_id}/charging-profiles",
            vec![
                post(web::post().to(smart_charging::set)),
                get(web::get().to(smart_charging::list)),
            ],
        ),
        (
            "/api/admin/chargers/{device_id}/charging-profiles/clear",
            vec![post(web::post().to(smart_charging::clear))],
        ),
        (
            "/api/admin/chargers/{device_id}/composite-schedule",
            vec![get(web::get().to(smart_charging::composite))],
        ),
        (
            "/api/admin/stations/{id}/power-limit",
            vec![put(web::put().to(smart_charging::set_limit))],
        ),
        (
            "/api/admin/stations/{id}/load",
            vec![get(web::get().to(smart_charging::load))],
        ),
        (
            "/api/admin/firmware",
            vec![
                post(web::post().to(firmware::upload)),
                get(web::get().to(firmware::images)),
            ],
        ),
        (
            "/api/admin/chargers/{device_id}/firmware",
            vec![post(web::post().to(firmware::update_firmware))],
        ),
        (
            "/api/admin/chargers/{device_id}/diagnostics",
            vec![post(web::post().to(firmware::get_diagnostics))],
        ),
        (
            "/api/admin/chargers/{device_id}/maintenance",
            vec![get(web::get().to(firmware::jobs))],
        ),
        (
            "/api/admin/maintenance/{id}/file",
            vec![get(web::get().to(firmware::file))],
        ),
        (
            "/api/admin/chargers/{device_id}/certificates",
            vec![get(web::get().to(charger_security::certificates))],
        ),
        (
            "/api/admin/chargers/{device_id}/security-events",
            vec![get(web::get().to(charger_security::events))],
        ),
        (
            "/api/admin/chargers/{device_id}/logs",
            vec![post(web::post().to(charger_security::get_log))],
        ),
        (
            "/api/admin/chargers/{device_id}/signed-firmware",
            vec![post(web::post().to(charger_security::signed_firmware))],
        ),
        (
            "/api/admin/chargers/{device_id}/security-jobs",
            vec![get(web::get().to(charger_security::jobs))],
        ),
        (
            "/api/admin/security-jobs/{id}/file",
            vec![get(web::get().to(charger_security::file))],
        ),
        // chargers (no login: the token in the address is the secret)
        (
            "/files/logs/{token}/{name}",
            vec![
                put(web::put().to(charger_security::receive)),
                post(web::post().to(charger_security::receive_post)),
            ],
        ),
        (
            "/files/firmware/{token}/{name}",
            vec![get(web::get().to(firmware::download))],
        ),
        (
            "/files/diagnostics/{token}/{name}",
            vec![
                put(web::put().to(firmware::receive)),
                post(web::post().to(firmware::receive_post)),
            ],
        ),
    ];
    for (path, methods) in paths {
        cfg.service(resource(path, methods));
    }
    cfg.service(system::swagger())
        .default_service(web::get().to(system::static_file));
}

/// For the operator's charger operations beyond the contract's (reservations, profiles, local
/// lists, firmware): a charger that is not connected is a conflict with its current state (409),
/// not a bad request. The contract's start and commands keep 400.
pub fn offline_is_conflict(e: crate::error::AppError) -> crate::error::AppError {
    match e {
        crate::error::AppError::ChargerOffline => {
            crate::error::AppError::Conflict("Charger is offline".into())
        }
        e => e,
    }
}

/// A JSON request body that must be an object (an array or a scalar is 400, like a body that does
/// not parse), read as `T`. Numbers with no fractional part (`5.0`) count as integers, as JSON
/// Schema says they are.
pub struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let json = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let web::Json(mut value) = json.await?;
            if !value.is_object() {
                return Err(
                    AppError::bad_request("Invalid JSON body: expected a JSON object").into(),
                );
            }
            integral_numbers(&mut value);
            serde_json::from_value(value)
                .map(Body)
                .map_err(|e| AppError::bad_request(format!("Invalid JSON body: {e}")).into())
        })
    }
}

impl<T> std::ops::Deref for Body<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Turns `5.0` into `5` throughout a JSON value (within ±2^53, where f64 is exact).
fn integral_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() <= 9_007_199_254_740_992.0
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
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
