//! The HTTP side: REST for customers and operators, health, metrics, OpenAPI, and the web panels.

pub mod admin;
pub mod charger_security;
pub mod charging;
pub mod customer;
pub mod firmware;
pub mod identity;
pub mod input;
pub mod local_list;
pub mod openapi;
pub mod reservations;
pub mod security;
pub mod smart_charging;
pub mod system;
pub mod tokens;
pub mod uploads;
pub mod views;

use actix_web::dev::Server;
use actix_web::http::{Method, header};
use actix_web::{App, HttpResponse, HttpServer, Resource, Route, web};
use chrono::NaiveDateTime;

pub use self::input::{Body, Field};
use crate::error::{AppError, ErrorBody};
use crate::state::State;

pub fn timestamp(t: NaiveDateTime) -> String {
    crate::infra::timestamps::format_timestamp(t)
}

pub fn server(listener: std::net::TcpListener, state: State) -> std::io::Result<Server> {
    let data = web::Data::from(state.clone());
    let jwt = web::Data::from(state.jwt.clone());
    let workers = match state.settings.http_workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(jwt.clone())
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

/// The API, declared once: each handler listed is served at the method and path of its
/// `#[utoipa::path]`, and documented with it in the OpenAPI document ([`Operations`]). The order is
/// the order of the methods in a 405's `Allow`.
macro_rules! api {
    ($($module:ident :: $handler:ident),+ $(,)?) => {
        /// Every operation of the API: its path, method and handler.
        fn operations() -> Vec<(String, Method, Route)> {
            let mut all = Vec::new();
            $(pastey::paste! {{
                type Doc = $module::[<__path_ $handler>];
                let path = <Doc as utoipa::Path>::path();
                for m in <Doc as utoipa::Path>::methods() {
                    let m = http_method(m);
                    all.push((path.clone(), m.clone(), web::method(m).to($module::$handler)));
                }
            }})+
            all
        }

        /// The paths of the OpenAPI document (with the schemas they use), from the same list.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($module::$handler),+))]
        pub struct Operations;
    };
}

api! {
    system::healthz,
    system::metrics,
    // customers
    customer::register,
    customer::login,
    customer::profile,
    customer::wallet,
    customer::stations,
    charging::start,
    charging::stop,
    charging::sessions,
    charging::session,
    charging::events,
    charging::events_ticket,
    // operators
    admin::login,
    admin::cluster,
    admin::create_station,
    admin::list_stations,
    admin::assign_station_tariff,
    admin::create_charger,
    admin::list_chargers,
    admin::get_charger,
    admin::update_charger,
    admin::delete_charger,
    admin::set_registration,
    admin::assign_charger_tariff,
    admin::messages,
    admin::command,
    admin::create_tariff,
    admin::list_tariffs,
    admin::list_customers,
    admin::credit_wallet,
    admin::list_sessions,
    admin::close_session,
    admin::write_offs,
    tokens::create,
    tokens::list,
    tokens::get,
    tokens::update,
    tokens::delete,
    reservations::reserve,
    reservations::mine,
    reservations::cancel_mine,
    reservations::operator_reserve,
    reservations::list,
    reservations::operator_cancel,
    local_list::local_list,
    local_list::sync_local_list,
    smart_charging::set,
    smart_charging::list,
    smart_charging::clear,
    smart_charging::composite,
    smart_charging::set_limit,
    smart_charging::load,
    firmware::upload,
    firmware::images,
    firmware::update_firmware,
    firmware::get_diagnostics,
    firmware::jobs,
    firmware::file,
    charger_security::certificates,
    charger_security::events,
    charger_security::get_log,
    charger_security::signed_firmware,
    charger_security::jobs,
    charger_security::variables,
    charger_security::station_events,
    charger_security::customer_information,
    charger_security::ask_customer_information,
    charger_security::file,
    // chargers (no login: the token in the address is the secret)
    // the download before the uploads: actix takes the first path that matches, and
    // /files/firmware/… also matches /files/{kind}/…
    firmware::download,
    uploads::receive,
    uploads::receive_post,
}

fn http_method(m: utoipa::openapi::path::HttpMethod) -> Method {
    use utoipa::openapi::path::HttpMethod as M;
    match m {
        M::Get => Method::GET,
        M::Post => Method::POST,
        M::Put => Method::PUT,
        M::Delete => Method::DELETE,
        M::Options => Method::OPTIONS,
        M::Head => Method::HEAD,
        M::Patch => Method::PATCH,
        M::Trace => Method::TRACE,
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // The document does not describe itself.
    let mut paths = vec![(
        "/api/openapi.json".to_string(),
        vec![(Method::GET, web::get().to(system::openapi))],
    )];
    for (path, method, route) in operations() {
        match paths.iter_mut().find(|(p, _)| *p == path) {
            Some((_, methods)) => methods.push((method, route)),
            None => paths.push((path, vec![(method, route)])),
        }
    }
    for (path, methods) in paths {
        cfg.service(resource(&path, methods));
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

/// `?limit=`: how many rows at most (each list has its default and its bounds).
#[derive(serde::Deserialize)]
pub struct LimitQuery {
    pub limit: Option<i64>,
}

/// `{"success": true}`: done, nothing else to say.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Done {
    pub success: bool,
}

/// `200 OK` with `body` as JSON.
pub fn ok(body: impl serde::Serialize) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(body))
}

/// `201 Created` with `body` as JSON.
pub fn created(body: impl serde::Serialize) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Created().json(body))
}

/// `200 OK` with [`Done`].
pub fn done() -> Result<HttpResponse, AppError> {
    ok(Done { success: true })
}

/// Declares the API's answers, written as structs: each becomes `{"success": true, ...}` with the
/// fields given (`Serialize + ToSchema`, `success` first), and `new` takes those fields in order.
macro_rules! answers {
    ($(
        $(#[$attr:meta])*
        pub struct $name:ident {
            $($(#[$field_attr:meta])* $field:ident: $ty:ty),+ $(,)?
        }
    )+) => {$(
        #[derive(serde::Serialize, utoipa::ToSchema)]
        $(#[$attr])*
        pub struct $name {
            success: bool,
            $($(#[$field_attr])* $field: $ty,)+
        }

        impl $name {
            pub fn new($($field: $ty),+) -> Self {
                $name { success: true, $($field),+ }
            }
        }
    )+};
}
pub(crate) use answers;

/// An operator's `GET` of what the one path parameter (of type `$param`) names, with the query
/// string as `q` when a type is given for it, and `v` taken from the state (`given v = |state|
/// ...`) when asked: `query(conn, &param)` runs on the database and `answer(&state, found)` makes
/// the response. The attributes given (the operation's `#[utoipa::path]`) go on the handler.
macro_rules! operator_get {
    (
        $(#[$attr:meta])* $handler:ident($param:ty $(, $q:ident: $query_ty:ty)?)
        $(given $v:ident = $setting:expr)?, $query:expr, $answer:expr
    ) => {
        $(#[$attr])*
        pub async fn $handler(
            state: actix_web::web::Data<$crate::state::AppState>,
            _op: $crate::http::identity::OperatorId,
            path: actix_web::web::Path<$param>,
            $($q: actix_web::web::Query<$query_ty>,)?
        ) -> Result<actix_web::HttpResponse, $crate::error::AppError> {
            let named = path.into_inner();
            $(let $v = ($setting)(&state);)?
            let found = state.db.run(move |c| ($query)(c, &named)).await?;
            ($answer)(&state, found)
        }
    };
}
pub(crate) use operator_get;

/// Declares operators' reads of one charger's records, each `handler at "path" (device_id's
/// documentation), query q: Query [its parameters], given v = |state| setting => Answer from query,
/// "description of the answer";` (the parenthesis, the query and the given value only when there
/// are): `GET` at the path (the charger's chargeBoxIdentity as `{device_id}`), answered with
/// `Answer::new` of what `query(conn, device)` finds (404 when there is no such charger).
macro_rules! charger_reads {
    ($(
        $handler:ident at $path:tt $(($($device_doc:tt)*))?
            $(, query $q:ident: $query_ty:ty [$($query_params:tt)*])?
            $(, given $v:ident = $setting:expr)?
            => $answer:ident from $query:expr, $found:tt;
    )+) => {$(
        $crate::http::operator_get! {
            #[utoipa::path(get, path = $path, tag = "operator",
                params(("device_id" = String, Path $(, $($device_doc)*)?) $(, $($query_params)*)?),
                responses((status = 200, description = $found, body = $answer), (status = 404, description = "Charger not found")),
                security(("bearer" = [])),
            )]
            $handler(String $(, $q: $query_ty)?) $(given $v = $setting)?,
            |c, device: &String| ($query)(c, device),
            |_, found| $crate::http::ok($answer::new(found))
        }
    )+};
}
pub(crate) use charger_reads;

/// Declares operators' downloads of the file a charger uploaded for a job, each `handler at "path"
/// => received_file, "description of the file";`: `GET` at the path (the job's id as `{id}`), the
/// file `received_file(conn, id)` finds sent as an attachment (404: no such job, or no file yet).
macro_rules! job_files {
    ($($handler:ident at $path:tt => $find:path, $file:tt;)+) => {$(
        $crate::http::operator_get! {
            #[utoipa::path(get, path = $path, tag = "operator",
                params(("id" = i64, Path)),
                responses((status = 200, description = $file, content_type = "application/octet-stream", body = Vec<u8>), (status = 404, description = "Job not found, or no file received")),
                security(("bearer" = [])),
            )]
            $handler(i64),
            |c, id: &i64| $find(c, *id),
            |state, file| Ok($crate::http::firmware::attachment(state, file))
        }
    )+};
}
pub(crate) use job_files;

/// Declares operators' requests that a charger transfer a file, each `handler at "path", Body =>
/// Answer, "sent", "invalid", "not found", |jobs, device, base_url, body| start;`: `POST` at the path
/// (the charger's chargeBoxIdentity as `{device_id}`) with a JSON `Body`; `start` asks the charger
/// (through the file-job desk, telling it csms's address as the caller reached it) and the job it
/// starts is the 201 answer. A charger that is not connected is a conflict (409).
macro_rules! file_jobs {
    ($(
        $handler:ident at $path:tt, $body:ident => $answer:ident, $sent:tt, $invalid:tt, $not_found:tt,
        |$jobs:ident, $device:ident, $base:ident, $b:ident| $start:expr;
    )+) => {$(
        #[utoipa::path(post, path = $path, tag = "operator",
            request_body = $body,
            params(("device_id" = String, Path)),
            responses((status = 201, description = $sent, body = $answer), (status = 400, description = $invalid), (status = 404, description = $not_found), (status = 409, description = "Charger is offline"), (status = 504, description = "Charger did not respond")),
            security(("bearer" = [])),
        )]
        pub async fn $handler(
            req: actix_web::HttpRequest,
            state: actix_web::web::Data<$crate::state::AppState>,
            _op: $crate::http::identity::OperatorId,
            path: actix_web::web::Path<String>,
            body: $crate::http::Body<$body>,
        ) -> Result<actix_web::HttpResponse, $crate::error::AppError> {
            let (device, base) = (path.into_inner(), $crate::http::firmware::base_url(&req));
            let ($jobs, $device, $base) = (&state.file_jobs, device.as_str(), base.as_str());
            let $b = body.0;
            let job = $start.await.map_err($crate::http::offline_is_conflict)?;
            $crate::http::created($answer::new(job))
        }
    )+};
}
pub(crate) use file_jobs;

/// Declares operations of the API, each `method "path", "tag", "security scheme" (the rest of its
/// `#[utoipa::path]`: request_body, params, responses, each followed by a comma) pub async fn
/// handler(state, extractors...) { ... }` (the scheme only when the operation takes a token): the
/// handler's first argument (named as given) is the `web::Data<AppState>`, its answer
/// `Result<HttpResponse, AppError>`, and its `#[utoipa::path]` the method, path, tag and security
/// given, the rest as written.
macro_rules! operation {
    ($(
        $(#[$attr:meta])*
        $method:ident $path:tt, $tag:tt $(, $scheme:tt)? ($($doc:tt)*)
        pub async fn $handler:ident($state:ident $(, $arg:ident: $ty:ty)* $(,)?) $body:block
    )+) => {$(
        $(#[$attr])*
        #[utoipa::path($method, path = $path, tag = $tag, $($doc)* $(security(($scheme = [])))?)]
        pub async fn $handler(
            $state: actix_web::web::Data<$crate::state::AppState>,
            $($arg: $ty),*
        ) -> Result<actix_web::HttpResponse, $crate::error::AppError> $body
    )+};
}
pub(crate) use operation;

// `POST /api/customer/login` and `POST /api/admin/login`. A field left out or not a string counts
// as empty: the login fails like a wrong one (401).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    email: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    password: Field<String>,
}

/// A login's body: a [`LoginBody`], or a JSON value that is not an object, which holds no
/// credentials (401 like wrong ones, not 400).
pub struct Login(Option<LoginBody>);

impl<'de> serde::Deserialize<'de> for Login {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if !value.is_object() {
            return Ok(Login(None));
        }
        LoginBody::deserialize(value)
            .map(|body| Login(Some(body)))
            .map_err(serde::de::Error::custom)
    }
}

impl Login {
    /// Logs in the account (customer or operator) these credentials name, from this client: its
    /// token and the account.
    pub async fn log_in<A: crate::domain::auth::login::Account>(
        self,
        state: &crate::state::AppState,
        client: security::ClientAddr,
    ) -> Result<(String, A), AppError> {
        crate::domain::auth::login::log_in::<A>(&state.accounts, self.credentials(client.0)).await
    }

    pub fn credentials(
        self,
        client: Option<std::net::IpAddr>,
    ) -> crate::domain::auth::login::Credentials {
        let (email, password) = match self.0 {
            Some(b) => (b.email.given(), b.password.given()),
            None => (None, None),
        };
        crate::domain::auth::login::Credentials {
            email: email.unwrap_or_default(),
            password: password.unwrap_or_default(),
            client,
        }
    }
}
