//! Settings: every one is a command-line flag and an environment variable (the flag wins).

use std::net::IpAddr;
use std::time::Duration;

use crate::domain::auth::ratelimit::LoginLimits;
use crate::domain::money;
use crate::error::AppError;

#[derive(clap::Args, Clone, Debug)]
pub struct Settings {
    /// `sqlite://PATH` (embedded, default) or `postgres://...`
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/csms.db")]
    pub database_url: String,
    /// REST API, web panels, /healthz, /metrics
    #[arg(long, env = "CSMS_HTTP_ADDR", default_value = "0.0.0.0:3000")]
    pub http_addr: String,
    /// OCPP-J WebSocket endpoint
    #[arg(long, env = "CSMS_OCPP_ADDR", default_value = "0.0.0.0:9000")]
    pub ocpp_addr: String,
    /// OCPP-J over TLS (`wss://`, security profiles 2 and 3), e.g. `0.0.0.0:9443`; needs
    /// --ocpp-tls-cert and --ocpp-tls-key. Unset: no TLS listener
    #[arg(long, env = "CSMS_OCPP_TLS_ADDR")]
    pub ocpp_tls_addr: Option<String>,
    /// PEM certificate chain of the TLS listener (leaf first; RSA >= 2048 bits or EC >= 224 bits)
    #[arg(long, env = "CSMS_OCPP_TLS_CERT")]
    pub ocpp_tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of the TLS listener (PKCS#8, PKCS#1 or SEC1)
    #[arg(long, env = "CSMS_OCPP_TLS_KEY")]
    pub ocpp_tls_key: Option<std::path::PathBuf>,
    /// PEM CA certificate(s) that charger client certificates must chain to: turns on client
    /// certificate verification (security profile 3)
    #[arg(long, env = "CSMS_OCPP_TLS_CLIENT_CA")]
    pub ocpp_tls_client_ca: Option<std::path::PathBuf>,
    /// How often the TLS files are checked for changes (they are also reloaded on SIGHUP); a reload
    /// never drops connected chargers
    #[arg(long, env = "CSMS_OCPP_TLS_RELOAD_SECS", default_value_t = 10)]
    pub ocpp_tls_reload_secs: u64,
    /// HS256 secret for tokens; generated once and stored in the database when not given
    #[arg(long, env = "CSMS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Lifetime of customer and operator tokens
    #[arg(long, env = "CSMS_JWT_TTL_SECS", default_value_t = 86_400)]
    pub jwt_ttl_secs: u64,
    /// With --admin-password: an operator with these credentials exists after start-up
    #[arg(long, env = "CSMS_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    #[arg(long, env = "CSMS_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// How long the start API waits for the charger's RemoteStartTransaction answer
    #[arg(long, env = "CSMS_REMOTE_START_TIMEOUT_SECS", default_value_t = 30)]
    pub remote_start_timeout_secs: u64,
    /// How long an operator's remote command waits for the charger's answer
    #[arg(long, env = "CSMS_OCPP_CALL_TIMEOUT_SECS", default_value_t = 30)]
    pub ocpp_call_timeout_secs: u64,
    /// How often a 2.0.1 station's display gets a customer's running cost (CostUpdated) during a
    /// session, in seconds; 0: never (the TransactionEvent answers still carry it)
    #[arg(long, env = "CSMS_COST_UPDATE_SECS", default_value_t = 60)]
    pub cost_update_secs: u64,
    /// Interval sent in BootNotification.conf
    #[arg(long, env = "CSMS_HEARTBEAT_INTERVAL_SECS", default_value_t = 300)]
    pub heartbeat_interval_secs: u32,
    /// WebSocket ping interval; a charger silent for two intervals is disconnected and marked offline
    #[arg(long, env = "CSMS_WS_PING_INTERVAL_SECS", default_value_t = 30)]
    pub ws_ping_interval_secs: u64,
    /// Accepted sessions whose charger sends no StartTransaction within this time are cancelled and refunded
    #[arg(
        long,
        env = "CSMS_START_TRANSACTION_TIMEOUT_SECS",
        default_value_t = 180
    )]
    pub start_transaction_timeout_secs: u64,
    /// How often stuck sessions are looked for
    #[arg(long, env = "CSMS_RECOVERY_INTERVAL_SECS", default_value_t = 30)]
    pub recovery_interval_secs: u64,
    /// Currency code shown in the API
    #[arg(long, env = "CSMS_CURRENCY", default_value = "INR")]
    pub currency: String,
    /// Energy price (major units per kWh) when no tariff applies
    #[arg(long, env = "CSMS_DEFAULT_PRICE_PER_KWH", default_value = "15.00")]
    pub default_price_per_kwh: String,
    /// Largest amount one charging session may prepay (major units)
    #[arg(long, env = "CSMS_MAX_AMOUNT", default_value = "10000.00")]
    pub max_amount: String,
    /// bcrypt cost for customer and operator passwords
    #[arg(long, env = "CSMS_BCRYPT_COST", default_value_t = 12)]
    pub bcrypt_cost: u32,
    /// Database connection pool size
    #[arg(long, env = "CSMS_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,
    /// Most OCPP frames kept per charger in the message log (a write that would pass it trims the
    /// charger's log to the newest half in the same transaction)
    #[arg(long, env = "CSMS_MESSAGE_LOG_LIMIT", default_value_t = 1000)]
    pub message_log_limit: i64,
    /// Bytes of frames waiting for the message log's writer, at most; frames beyond it are not
    /// logged (counted in csms_ocpp_message_log_dropped_total)
    #[arg(long, env = "CSMS_MESSAGE_LOG_QUEUE_BYTES", default_value_t = 32 << 20)]
    pub message_log_queue_bytes: usize,
    /// A frame longer than this (bytes) is logged cut to this length, with a marker
    #[arg(long, env = "CSMS_MESSAGE_LOG_FRAME_BYTES", default_value_t = 64 << 10)]
    pub message_log_frame_bytes: usize,
    /// A charger that sends this many frames that are not OCPP-J (unparseable, binary, or an
    /// answer to no call of ours) within --ocpp-bad-frame-window-secs is disconnected and a
    /// security event (InvalidMessages, source csms) recorded; 0: never
    #[arg(long, env = "CSMS_OCPP_BAD_FRAME_LIMIT", default_value_t = 20)]
    pub ocpp_bad_frame_limit: u32,
    /// The window of --ocpp-bad-frame-limit
    #[arg(long, env = "CSMS_OCPP_BAD_FRAME_WINDOW_SECS", default_value_t = 60)]
    pub ocpp_bad_frame_window_secs: u64,
    /// Lifetime of a diagnostics or log upload address (GetDiagnostics, GetLog); each accepts one
    /// upload
    #[arg(long, env = "CSMS_UPLOAD_TOKEN_TTL_SECS", default_value_t = 86_400)]
    pub upload_token_ttl_secs: u64,
    /// Answer lost start races early: from the in-memory occupancy hint, a per-connector queue and a
    /// read-only lookup. `false` sends every start request to the reserving transaction (the
    /// database decides either way; tests use `false` to prove that it alone suffices)
    #[arg(long, env = "CSMS_START_FAST_PATHS", default_value_t = true, action = clap::ArgAction::Set)]
    pub start_fast_paths: bool,
    /// Admit chargers nobody registered: they connect (no authentication) as `pending`, are answered
    /// BootNotification Pending and wait for an operator's approval in the console (at most 1000
    /// pending at a time). `false`: an unknown chargeBoxId gets 404 at the handshake
    #[arg(long, env = "CSMS_ADMIT_UNKNOWN_CHARGERS", default_value_t = false, action = clap::ArgAction::Set)]
    pub admit_unknown_chargers: bool,
    /// An open session whose connector is reported Available for this long (since after its
    /// transaction began), or whose charger rebooted and reports the connector free, is settled
    /// from its last meter reading
    #[arg(long, env = "CSMS_ORPHAN_GRACE_SECS", default_value_t = 60)]
    pub orphan_grace_secs: u64,
    /// The most power a connector can deliver (kW): energy beyond what it could have delivered in
    /// the elapsed time is logged and capped, never billed
    #[arg(long, env = "CSMS_MAX_CONNECTOR_KW", default_value_t = 400)]
    pub max_connector_kw: u32,
    /// The largest hold (major units) taken when a customer's own idTag, or a card linked to a
    /// customer, starts a transaction at the charger (less if the wallet holds less)
    #[arg(long, env = "CSMS_RFID_HOLD", default_value = "500.00")]
    pub rfid_hold: String,
    /// Turn a charger's authorization cache off (ChangeConfiguration AuthorizationCacheEnabled=false)
    /// when it is on, asked the first time a wallet-paid idTag is accepted there, so that cached
    /// wallet-paid idTags cannot start offline; asked once per charger (again after a firmware
    /// change), never against an operator's own setting
    #[arg(long, env = "CSMS_DISABLE_AUTH_CACHE", default_value_t = true, action = clap::ArgAction::Set)]
    pub disable_auth_cache: bool,
    /// The OCPP versions the endpoint serves (subprotocols, comma-separated: `ocpp1.6`,
    /// `ocpp2.0.1`); a station offering several gets the most recent. OCPP 2.0.1 charges with the
    /// wallet; its local lists, smart charging, firmware and certificates are being built
    #[arg(
        long,
        env = "CSMS_OCPP_VERSIONS",
        default_value = "ocpp1.6",
        value_delimiter = ','
    )]
    pub ocpp_versions: Vec<String>,
    /// Keep connected chargers' Local Authorization Lists in step by itself: check a charger's list
    /// version after it boots (a Full update when it disagrees) and send Differential updates
    /// after tokens change. `false`: lists go out only on the operator's commands
    #[arg(long, env = "CSMS_LOCAL_LIST_AUTO_SYNC", default_value_t = true, action = clap::ArgAction::Set)]
    pub local_list_auto_sync: bool,
    /// First back-off (seconds) before RemoteStopTransaction is sent again to a charger that did not
    /// stop; it doubles up to 5 minutes
    #[arg(long, env = "CSMS_STOP_RETRY_SECS", default_value_t = 5)]
    pub stop_retry_secs: u64,
    /// ISO 15118 certificate provisioning service: a 2.0.1 station's Get15118EVCertificate is POSTed
    /// there as JSON `{stationId, request: {action, iso15118SchemaVersion, exiRequest}}` and its
    /// `{status, exiResponse}` relayed. Unset: answered Failed
    #[arg(long, env = "CSMS_ISO15118_CPS_URL")]
    pub iso15118_cps_url: Option<String>,
    /// Longest wait (seconds) for a call csms makes to another service on a station's behalf: an
    /// OCSP responder, the certificate provisioning service. Past it, the station is answered as
    /// if the service were down
    #[arg(long, env = "CSMS_OUTBOUND_TIMEOUT_SECS", default_value_t = 5)]
    pub outbound_timeout_secs: u64,
    /// This process's name among the processes sharing the database (default: hostname-pid-random)
    #[arg(long, env = "CSMS_NODE_ID")]
    pub node_id: Option<String>,
    /// Cluster mode: the NATS server the nodes talk through (e.g. nats://127.0.0.1:4222). Needs
    /// PostgreSQL; unset, the node runs alone
    #[arg(long, env = "CSMS_NATS_URL")]
    pub nats_url: Option<String>,
    /// First token of this cluster's NATS subjects (clusters sharing one NATS server need different
    /// prefixes)
    #[arg(long, env = "CSMS_NATS_PREFIX", default_value = "csms")]
    pub nats_prefix: String,
    /// NATS authentication: a credentials file (`.creds`: user JWT and nkey seed, as `nsc` writes it)
    #[arg(long, env = "CSMS_NATS_CREDS")]
    pub nats_creds: Option<std::path::PathBuf>,
    /// NATS authentication: an nkey seed (`SU…`)
    #[arg(long, env = "CSMS_NATS_NKEY_SEED", hide_env_values = true)]
    pub nats_nkey_seed: Option<String>,
    /// NATS authentication: a file holding the nkey seed (instead of --nats-nkey-seed)
    #[arg(long, env = "CSMS_NATS_NKEY_SEED_FILE")]
    pub nats_nkey_seed_file: Option<std::path::PathBuf>,
    /// NATS authentication: user name (with --nats-password)
    #[arg(long, env = "CSMS_NATS_USER")]
    pub nats_user: Option<String>,
    /// NATS authentication: password (with --nats-user)
    #[arg(long, env = "CSMS_NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,
    /// NATS authentication: a token
    #[arg(long, env = "CSMS_NATS_TOKEN", hide_env_values = true)]
    pub nats_token: Option<String>,
    /// PEM CA certificate(s) the NATS server's certificate must chain to (instead of the system's
    /// roots); turns TLS on, as does a `tls://` URL
    #[arg(long, env = "CSMS_NATS_CA")]
    pub nats_ca: Option<std::path::PathBuf>,
    /// PEM client certificate for a NATS server that verifies clients (with --nats-client-key)
    #[arg(long, env = "CSMS_NATS_CLIENT_CERT")]
    pub nats_client_cert: Option<std::path::PathBuf>,
    /// PEM private key of --nats-client-cert
    #[arg(long, env = "CSMS_NATS_CLIENT_KEY")]
    pub nats_client_key: Option<std::path::PathBuf>,
    /// How often this process records that it is alive; it counts as gone after four intervals
    #[arg(long, env = "CSMS_NODE_HEARTBEAT_SECS", default_value_t = 5)]
    pub node_heartbeat_secs: u64,
    /// HTTP worker threads (0 = one per CPU core)
    #[arg(long, env = "CSMS_HTTP_WORKERS", default_value_t = 0)]
    pub http_workers: usize,
    /// Consecutive failed logins for one account (email) before it is locked
    #[arg(long, env = "CSMS_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,
    /// First lock of an account; it doubles with every further failure
    #[arg(long, env = "CSMS_LOGIN_LOCK_SECS", default_value_t = 30)]
    pub login_lock_secs: u64,
    /// Longest lock of an account
    #[arg(long, env = "CSMS_LOGIN_LOCK_MAX_SECS", default_value_t = 900)]
    pub login_lock_max_secs: u64,
    /// Failed logins allowed from one client address within --login-addr-window-secs
    #[arg(long, env = "CSMS_LOGIN_ADDR_MAX_FAILURES", default_value_t = 20)]
    pub login_addr_max_failures: u32,
    /// The sliding window of --login-addr-max-failures
    #[arg(long, env = "CSMS_LOGIN_ADDR_WINDOW_SECS", default_value_t = 600)]
    pub login_addr_window_secs: u64,
    /// Customer registrations allowed from one client address within --register-addr-window-secs
    #[arg(long, env = "CSMS_REGISTER_ADDR_MAX", default_value_t = 10)]
    pub register_addr_max: u32,
    /// The sliding window of --register-addr-max
    #[arg(long, env = "CSMS_REGISTER_ADDR_WINDOW_SECS", default_value_t = 3600)]
    pub register_addr_window_secs: u64,
    /// Reservations a customer may let expire unused within --reservation-no-show-window-secs before
    /// new ones are refused (0: no limit)
    #[arg(long, env = "CSMS_RESERVATION_NO_SHOWS", default_value_t = 3)]
    pub reservation_no_shows: u32,
    /// The window of --reservation-no-shows
    #[arg(
        long,
        env = "CSMS_RESERVATION_NO_SHOW_WINDOW_SECS",
        default_value_t = 86400
    )]
    pub reservation_no_show_window_secs: u64,
    /// How long new reservations are refused after the last of those no-shows
    #[arg(
        long,
        env = "CSMS_RESERVATION_NO_SHOW_COOLDOWN_SECS",
        default_value_t = 86400
    )]
    pub reservation_no_show_cooldown_secs: u64,
    /// Comma-separated IP addresses of reverse proxies whose X-Forwarded-For is believed (the client
    /// address is then the right-most entry that is not one of them); empty: the peer address counts
    #[arg(long, env = "CSMS_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Lifetime of the ticket that opens the customer's event stream (GET /api/user/events?ticket=)
    #[arg(long, env = "CSMS_SSE_TICKET_TTL_SECS", default_value_t = 60)]
    pub sse_ticket_ttl_secs: u64,
    /// The charger CA's directory (its key, 0600, and certificate; created on first use): it signs
    /// the chargers' certificates (SignCertificate)
    #[arg(long, env = "CSMS_CA_DIR", default_value = "data/ca")]
    pub ca_dir: String,
}

/// How a node authenticates to NATS (at most one way; TLS settings are separate).
#[derive(Clone, Debug, PartialEq)]
pub enum NatsAuth {
    None,
    Creds(std::path::PathBuf),
    NkeySeed(String),
    NkeySeedFile(std::path::PathBuf),
    UserPassword(String, String),
    Token(String),
}

/// A setting given with an empty value (as docker-compose passes `${VAR:-}`) counts as unset.
fn given(s: &Option<String>) -> Option<String> {
    s.clone().filter(|v| !v.is_empty())
}

fn given_path(p: &Option<std::path::PathBuf>) -> Option<std::path::PathBuf> {
    p.clone().filter(|v| !v.as_os_str().is_empty())
}

/// Shortest accepted `CSMS_JWT_SECRET`, in bytes (HS256 wants a key of at least its 256-bit output).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Default for Settings {
    fn default() -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            settings: Settings,
        }
        // Defaults only; the environment is deliberately ignored here (tests build settings in code).
        Wrapper::parse_from(["csms"]).settings
    }
}

/// Values derived from [`Settings`] once at start-up.
#[derive(Clone, Debug)]
pub struct Derived {
    pub default_price_per_kwh: i64,
    pub max_amount: i64,
    /// The billing rules that depend on settings.
    pub policy: crate::domain::charging::Policy,
    /// Reverse proxies whose X-Forwarded-For is believed (`CSMS_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpAddr>,
    pub login_limits: LoginLimits,
}

impl Settings {
    pub fn derive(&self) -> Result<Derived, AppError> {
        let default_price_per_kwh = money::parse_str(&self.default_price_per_kwh).ok_or_else(|| {
            AppError::Config(format!(
                "CSMS_DEFAULT_PRICE_PER_KWH must be a non-negative amount with at most 2 decimals, got {:?}",
                self.default_price_per_kwh
            ))
        })?;
        let max_amount = money::parse_str(&self.max_amount)
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                AppError::Config(format!(
                    "CSMS_MAX_AMOUNT must be a positive amount with at most 2 decimals, got {:?}",
                    self.max_amount
                ))
            })?;
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err(AppError::Config(
                "CSMS_BCRYPT_COST must be between 4 and 31".into(),
            ));
        }
        let rfid_hold = money::parse_str(&self.rfid_hold).ok_or_else(|| {
            AppError::Config(format!(
                "CSMS_RFID_HOLD must be a non-negative amount with at most 2 decimals, got {:?}",
                self.rfid_hold
            ))
        })?;
        if self.nats_url.is_some() {
            if !(self.database_url.starts_with("postgres://")
                || self.database_url.starts_with("postgresql://"))
            {
                return Err(AppError::Config(
                    "cluster mode (CSMS_NATS_URL) needs PostgreSQL: set DATABASE_URL to a postgres:// URL shared by every node (SQLite is for one node)".into(),
                ));
            }
            self.nats_auth()?;
            let p = &self.nats_prefix;
            if p.is_empty()
                || p.split('.').any(str::is_empty)
                || p.chars().any(|c| c.is_whitespace() || c == '*' || c == '>')
            {
                return Err(AppError::Config(format!(
                    "CSMS_NATS_PREFIX must be NATS subject tokens without wildcards, got {p:?}"
                )));
            }
        }
        if self.max_connector_kw == 0 {
            return Err(AppError::Config(
                "CSMS_MAX_CONNECTOR_KW must be at least 1".into(),
            ));
        }
        if let Some(secret) = self.jwt_secret.as_deref()
            && !secret.is_empty()
            && secret.len() < MIN_JWT_SECRET_BYTES
        {
            return Err(AppError::Config(format!(
                "CSMS_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes long (got {}); \
                 use a long random value, or leave it unset to have one generated and stored in the database",
                secret.len()
            )));
        }
        let trusted_proxies = self
            .trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpAddr>().map_err(|_| {
                    AppError::Config(format!(
                        "CSMS_TRUSTED_PROXIES must be comma-separated IP addresses, got {s:?}"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let positive = |value: u64, name: &str| {
            if value == 0 {
                Err(AppError::Config(format!("{name} must be at least 1")))
            } else {
                Ok(Duration::from_secs(value))
            }
        };
        if self.login_max_failures == 0 || self.login_addr_max_failures == 0 {
            return Err(AppError::Config(
                "CSMS_LOGIN_MAX_FAILURES and CSMS_LOGIN_ADDR_MAX_FAILURES must be at least 1"
                    .into(),
            ));
        }
        let login_limits = LoginLimits {
            max_failures: self.login_max_failures,
            lock: positive(self.login_lock_secs, "CSMS_LOGIN_LOCK_SECS")?,
            lock_max: positive(self.login_lock_max_secs, "CSMS_LOGIN_LOCK_MAX_SECS")?,
            addr_max_failures: self.login_addr_max_failures,
            addr_window: positive(self.login_addr_window_secs, "CSMS_LOGIN_ADDR_WINDOW_SECS")?,
            register_addr_max: self.register_addr_max,
            register_addr_window: positive(
                self.register_addr_window_secs,
                "CSMS_REGISTER_ADDR_WINDOW_SECS",
            )?,
            ..LoginLimits::default()
        };
        if self.register_addr_max == 0 {
            return Err(AppError::Config(
                "CSMS_REGISTER_ADDR_MAX must be at least 1".into(),
            ));
        }
        // A year at most: the no-show rule's times are added to dates.
        let year = 366 * 24 * 3600;
        for (value, name) in [
            (
                self.reservation_no_show_window_secs,
                "CSMS_RESERVATION_NO_SHOW_WINDOW_SECS",
            ),
            (
                self.reservation_no_show_cooldown_secs,
                "CSMS_RESERVATION_NO_SHOW_COOLDOWN_SECS",
            ),
        ] {
            if !(1..=year).contains(&value) {
                return Err(AppError::Config(format!(
                    "{name} must be between 1 and {year}"
                )));
            }
        }
        if login_limits.lock_max < login_limits.lock {
            return Err(AppError::Config(
                "CSMS_LOGIN_LOCK_MAX_SECS must not be below CSMS_LOGIN_LOCK_SECS".into(),
            ));
        }
        if self.message_log_queue_bytes < 1 << 20 || self.message_log_frame_bytes < 1024 {
            return Err(AppError::Config(
                "CSMS_MESSAGE_LOG_QUEUE_BYTES must be at least 1 MiB and CSMS_MESSAGE_LOG_FRAME_BYTES at least 1024".into(),
            ));
        }
        positive(
            self.ocpp_bad_frame_window_secs,
            "CSMS_OCPP_BAD_FRAME_WINDOW_SECS",
        )?;
        positive(self.upload_token_ttl_secs, "CSMS_UPLOAD_TOKEN_TTL_SECS")?;
        if self.ocpp_versions.is_empty()
            || self
                .ocpp_versions
                .iter()
                .any(|v| !["ocpp1.6", "ocpp2.0.1"].contains(&v.trim()))
        {
            return Err(AppError::Config(format!(
                "CSMS_OCPP_VERSIONS must list ocpp1.6 and/or ocpp2.0.1, got {:?}",
                self.ocpp_versions.join(",")
            )));
        }
        if self.nats_url.is_some() && self.ocpp_versions.iter().any(|v| v.trim() != "ocpp1.6") {
            return Err(AppError::Config(
                "OCPP 2.0.1 is not served in cluster mode yet (CSMS_NATS_URL): set CSMS_OCPP_VERSIONS=ocpp1.6".into(),
            ));
        }
        if !(1..=3600).contains(&self.sse_ticket_ttl_secs) {
            return Err(AppError::Config(
                "CSMS_SSE_TICKET_TTL_SECS must be between 1 and 3600".into(),
            ));
        }
        Ok(Derived {
            default_price_per_kwh,
            max_amount,
            policy: crate::domain::charging::Policy {
                default_price: default_price_per_kwh,
                max_power_w: i64::from(self.max_connector_kw) * 1000,
                rfid_hold,
            },
            trusted_proxies,
            login_limits,
        })
    }

    /// The NATS authentication configured, or why the settings do not make one.
    pub fn nats_auth(&self) -> Result<NatsAuth, AppError> {
        let (user, password) = (given(&self.nats_user), given(&self.nats_password));
        let mut ways = Vec::new();
        if let Some(p) = given_path(&self.nats_creds) {
            ways.push(("CSMS_NATS_CREDS", NatsAuth::Creds(p)));
        }
        if let Some(seed) = given(&self.nats_nkey_seed) {
            ways.push(("CSMS_NATS_NKEY_SEED", NatsAuth::NkeySeed(seed)));
        }
        if let Some(p) = given_path(&self.nats_nkey_seed_file) {
            ways.push(("CSMS_NATS_NKEY_SEED_FILE", NatsAuth::NkeySeedFile(p)));
        }
        match (user, password) {
            (Some(u), Some(p)) => ways.push(("CSMS_NATS_USER", NatsAuth::UserPassword(u, p))),
            (None, None) => {}
            _ => {
                return Err(AppError::Config(
                    "CSMS_NATS_USER and CSMS_NATS_PASSWORD go together: set both or neither".into(),
                ));
            }
        }
        if let Some(token) = given(&self.nats_token) {
            ways.push(("CSMS_NATS_TOKEN", NatsAuth::Token(token)));
        }
        if ways.len() > 1 {
            let names: Vec<&str> = ways.iter().map(|w| w.0).collect();
            return Err(AppError::Config(format!(
                "NATS authentication: set one of CSMS_NATS_CREDS, CSMS_NATS_NKEY_SEED, \
                 CSMS_NATS_NKEY_SEED_FILE, CSMS_NATS_USER/CSMS_NATS_PASSWORD, CSMS_NATS_TOKEN, \
                 not several (got {})",
                names.join(", ")
            )));
        }
        if given_path(&self.nats_client_cert).is_some()
            != given_path(&self.nats_client_key).is_some()
        {
            return Err(AppError::Config(
                "CSMS_NATS_CLIENT_CERT and CSMS_NATS_CLIENT_KEY go together: set both or neither"
                    .into(),
            ));
        }
        Ok(ways.pop().map_or(NatsAuth::None, |w| w.1))
    }

    /// The NATS TLS files: CA, and client certificate with its key.
    pub fn nats_tls(
        &self,
    ) -> (
        Option<std::path::PathBuf>,
        Option<(std::path::PathBuf, std::path::PathBuf)>,
    ) {
        let client = given_path(&self.nats_client_cert).zip(given_path(&self.nats_client_key));
        (given_path(&self.nats_ca), client)
    }

    pub fn remote_start_timeout(&self) -> Duration {
        Duration::from_secs(self.remote_start_timeout_secs)
    }

    pub fn call_timeout(&self) -> Duration {
        Duration::from_secs(self.ocpp_call_timeout_secs)
    }

    /// The longest wait for a service csms calls on a station's behalf (at least 1 s).
    pub fn outbound_timeout(&self) -> Duration {
        Duration::from_secs(self.outbound_timeout_secs.max(1))
    }

    /// How long a diagnostics or log upload address accepts its upload.
    pub fn upload_token_ttl(&self) -> chrono::Duration {
        chrono::Duration::seconds(
            i64::try_from(self.upload_token_ttl_secs)
                .unwrap_or(i64::MAX / 1000)
                .min(10 * 365 * 86_400),
        )
    }

    pub fn node_heartbeat(&self) -> Duration {
        Duration::from_secs(self.node_heartbeat_secs.max(1))
    }

    /// A node whose heartbeat is older than this is gone.
    pub fn node_lease(&self) -> Duration {
        self.node_heartbeat() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::default()
    }

    #[test]
    fn jwt_secret_must_be_32_bytes() {
        let mut s = settings();
        s.jwt_secret = Some("x".repeat(31));
        let err = s.derive().expect_err("31 bytes accepted").to_string();
        assert!(
            err.contains("CSMS_JWT_SECRET") && err.contains("at least 32 bytes"),
            "{err}"
        );
        s.jwt_secret = Some("x".repeat(32));
        assert!(s.derive().is_ok());
        // Unset, or set to nothing (docker-compose passes an empty value): generated and stored.
        s.jwt_secret = Some(String::new());
        assert!(s.derive().is_ok());
        s.jwt_secret = None;
        assert!(s.derive().is_ok());
    }

    #[test]
    fn login_settings_are_checked() {
        let mut s = settings();
        s.trusted_proxies = " 10.0.0.1, ::1 ".into();
        assert_eq!(
            s.derive().expect("valid").trusted_proxies,
            vec![
                "10.0.0.1".parse::<IpAddr>().expect("ip"),
                "::1".parse().expect("ip")
            ]
        );
        s.trusted_proxies = "10.0.0.0/8".into();
        assert!(s.derive().is_err(), "networks are not addresses");
        let mut s = settings();
        s.login_lock_max_secs = 10;
        assert!(s.derive().is_err(), "cap below the first lock");
        let mut s = settings();
        s.login_max_failures = 0;
        assert!(s.derive().is_err());
        let mut s = settings();
        s.sse_ticket_ttl_secs = 0;
        assert!(s.derive().is_err());
        let mut s = settings();
        s.register_addr_max = 0;
        assert!(s.derive().is_err());
        let mut s = settings();
        s.register_addr_window_secs = 0;
        assert!(s.derive().is_err());
        let mut s = settings();
        s.reservation_no_show_cooldown_secs = 0;
        assert!(s.derive().is_err());
        let mut s = settings();
        s.reservation_no_show_window_secs = 400 * 24 * 3600;
        assert!(s.derive().is_err());
    }

    #[test]
    fn nats_authentication_is_one_way() {
        let cluster = || {
            let mut s = settings();
            s.database_url = "postgres://localhost/csms".into();
            s.nats_url = Some("tls://nats:4222".into());
            s
        };
        let s = cluster();
        assert_eq!(s.nats_auth().expect("none"), NatsAuth::None);
        assert!(s.derive().is_ok());
        let mut s = cluster();
        s.nats_user = Some("csms".into());
        let err = s
            .derive()
            .expect_err("a user without a password")
            .to_string();
        assert!(err.contains("CSMS_NATS_PASSWORD"), "{err}");
        s.nats_password = Some("pw".into());
        assert_eq!(
            s.nats_auth().expect("user and password"),
            NatsAuth::UserPassword("csms".into(), "pw".into())
        );
        s.nats_token = Some("t".into());
        let err = s.derive().expect_err("two ways").to_string();
        assert!(
            err.contains("CSMS_NATS_USER") && err.contains("CSMS_NATS_TOKEN"),
            "{err}"
        );
        // Empty values (docker-compose's `${VAR:-}`) are unset.
        let mut s = cluster();
        s.nats_user = Some(String::new());
        s.nats_password = Some(String::new());
        s.nats_token = Some("t".into());
        assert_eq!(s.nats_auth().expect("token"), NatsAuth::Token("t".into()));
        let mut s = cluster();
        s.nats_nkey_seed_file = Some("seed.nk".into());
        assert_eq!(
            s.nats_auth().expect("seed file"),
            NatsAuth::NkeySeedFile("seed.nk".into())
        );
        s.nats_creds = Some("a.creds".into());
        assert!(s.derive().is_err(), "creds and a seed");
        let mut s = cluster();
        s.nats_client_cert = Some("c.pem".into());
        assert!(s.derive().is_err(), "a client certificate without its key");
        s.nats_client_key = Some("c.key".into());
        s.nats_ca = Some("ca.pem".into());
        assert!(s.derive().is_ok());
        assert_eq!(
            s.nats_tls(),
            (
                Some("ca.pem".into()),
                Some(("c.pem".into(), "c.key".into()))
            )
        );
    }
}
