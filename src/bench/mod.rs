//! `csms bench <scenario>`: starts its own `csms serve` child on a fresh database, drives it over real
//! WebSockets and HTTP from this process, measures the same work straight against the database as a
//! ceiling, prints a table and, as the last line, one JSON object with every figure.

mod client;
mod cluster;
mod customers;
mod fixtures;
mod scenarios;
mod soak;
mod storm;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::AppError;
use crate::infra::db::{Backend, Db, DbUrl};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// N chargers connect, boot, report status and heartbeat; memory and CPU of the server
    Connections,
    /// K chargers send MeterValues as fast as OCPP-J allows; persisted messages per second
    Ingest,
    /// C customers race for K connectors through the start API
    Start,
    /// N chargers with passwords are connected, the server is killed and restarted, and all of them
    /// reconnect at once (with jitter): time until every one is booted again, while customers start
    /// charging on other chargers
    Storm,
    /// --minutes of steady load (chargers sending MeterValues, customers starting and stopping, an
    /// operator polling the console): memory, open files, database size and start p99 per interval
    Soak,
}

#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Database server to benchmark on: a fresh database is created on it (and dropped after).
    /// Default: a fresh SQLite file.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Upper bound in seconds for the load phase (default 20). storm: the bound of each wave
    /// (default 300), which ends as soon as every charger has booted or given up
    #[arg(long)]
    pub duration: Option<u64>,
    /// Chargers (default: connections and storm 10000, ingest 100, soak 2000)
    #[arg(long)]
    pub chargers: Option<usize>,
    /// start: concurrent customers (storm: 12; soak: one per connector)
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// start, storm, soak: connectors the customers start on (on chargers with two connectors each)
    #[arg(long, default_value_t = 16)]
    pub connectors: usize,
    /// Database pool size of the server (and of the ceiling measurement)
    #[arg(long, default_value_t = 16)]
    pub pool_size: u32,
    /// connections: handshakes in flight at once
    #[arg(long, default_value_t = 256)]
    pub parallel_handshakes: usize,
    /// start: how long a customer who lost a race waits before trying again (0: at once, which
    /// keeps the machine saturated with losing requests)
    #[arg(long, default_value_t = 0)]
    pub retry_ms: u64,
    /// start: how long a simulated charger charges before it stops by itself
    #[arg(long, default_value_t = 20)]
    pub hold_ms: u64,
    /// start: run the server with CSMS_START_FAST_PATHS=false (every request reaches the database)
    #[arg(long)]
    pub no_fast_paths: bool,
    /// storm: each charger waits a random 0..jitter ms before reconnecting
    #[arg(long, default_value_t = 1000)]
    pub jitter_ms: u64,
    /// connections: chargers connect over `wss://` (TLS 1.3, a CA and server certificate made for
    /// the run), to compare memory per charger and handshakes/s with plain `ws://`
    #[arg(long)]
    pub tls: bool,
    /// soak: how long, in minutes (fractions allowed: 0.2 is a 12-second smoke run). Samples are
    /// taken every minute (runs under 2 minutes: every sixth of the run) and chargers send
    /// MeterValues every 10 s (at most every half sample interval)
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// OCPP frames kept per charger in the server's message log (default: the server's 1000; soak:
    /// 50, so that trimming reaches its steady state within minutes)
    #[arg(long)]
    pub message_log_limit: Option<i64>,
    /// connections, ingest, start: the OCPP version the chargers speak (2.0.1: the server serves
    /// both; ingest sends TransactionEvent Updated with the energy register instead of
    /// MeterValues). Not with --nodes: 2.0.1 is not served in cluster mode
    #[arg(long, value_enum, default_value_t = crate::simulator::Ocpp::V16)]
    pub ocpp: crate::simulator::Ocpp,
    /// The csms binary to benchmark (default: this one)
    #[arg(long)]
    pub server: Option<PathBuf>,
    /// Cluster mode: this many csms nodes on the one database (PostgreSQL: --database-url), talking
    /// over --nats-url; chargers and customers are spread over the nodes
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// The NATS server of --nodes
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// connections --nodes: chargers per load-generator process (default: what the open-files cap
    /// of one process allows)
    #[arg(long)]
    pub per_generator: Option<usize>,
    /// (internal) one load-generator process of `connections`: `FIRST:COUNT:PORT,PORT…`
    #[arg(long, hide = true)]
    pub worker: Option<String>,
}

impl BenchArgs {
    /// `--duration`, or the scenario's default: a storm runs until it is over, so its default is
    /// only a bound far beyond a healthy storm.
    pub fn duration(&self) -> u64 {
        self.duration.unwrap_or(match self.scenario {
            Scenario::Storm => storm::DEFAULT_DEADLINE_S,
            _ => 20,
        })
    }
}

/// Rows of the printed table, then the JSON line.
pub struct Report {
    pub rows: Vec<(String, String)>,
    pub json: serde_json::Map<String, Value>,
}

impl Report {
    fn new(scenario: &str, backend: Backend, duration: f64) -> Self {
        let mut json = serde_json::Map::new();
        json.insert("scenario".into(), scenario.into());
        json.insert("backend".into(), backend.name().into());
        json.insert("duration_s".into(), round(duration, 2).into());
        Report {
            rows: Vec::new(),
            json,
        }
    }

    fn add(&mut self, key: &str, label: &str, value: Value) {
        let shown = match &value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        // An empty label: in the JSON only; an empty key: a row of the table only.
        if !label.is_empty() {
            self.rows.push((label.to_string(), shown));
        }
        if !key.is_empty() {
            self.json.insert(key.to_string(), value);
        }
    }

    fn print(&self) {
        let width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(10);
        println!();
        println!("{:width$}  value", "figure");
        println!("{:-<width$}  {:-<12}", "", "");
        for (label, value) in &self.rows {
            println!("{label:width$}  {value}");
        }
        println!();
        println!("{}", Value::Object(self.json.clone()));
    }
}

pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// A figure's value: `x` rounded to `digits` decimals.
pub fn rounded(x: f64, digits: i32) -> Value {
    serde_json::json!(round(x, digits))
}

/// The figure of the first error of a kind, its first `chars` characters (none: there was none).
pub fn first_error(
    key: &'static str,
    label: &'static str,
    error: Option<&str>,
    chars: usize,
) -> Option<Figure> {
    error.map(|e| {
        (
            key,
            label,
            Value::from(e.chars().take(chars).collect::<String>()),
        )
    })
}

/// The figures of the money after a load with sessions: no connector booked twice, the audit exact.
pub fn money(double_bookings: u64, audit: &crate::domain::wallet::Audit) -> [Figure; 2] {
    [
        (
            "double_bookings",
            "double bookings (must be 0)",
            double_bookings.into(),
        ),
        (
            "audit_ok",
            "money audit exact (must be true)",
            audit.ok().into(),
        ),
    ]
}

/// What the audit found, when it is not exact.
pub fn audit_problems(audit: &crate::domain::wallet::Audit) -> Option<Figure> {
    (!audit.ok()).then(|| {
        (
            "audit_problems",
            "audit problems",
            Value::from(audit.problems.clone()),
        )
    })
}

/// p50, p99 and max, in milliseconds (2 decimals), of latencies in microseconds (sorted here).
pub fn latency_ms(micros: &mut [f64]) -> (f64, f64, f64) {
    micros.sort_by(|a, b| a.total_cmp(b));
    let to_ms = |v: f64| round(v / 1000.0, 2);
    (
        to_ms(percentile(micros, 50.0)),
        to_ms(percentile(micros, 99.0)),
        to_ms(micros.last().copied().unwrap_or(0.0)),
    )
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Raises this process's open-file limit (children inherit it): one socket per simulated charger.
pub fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            let want: libc::rlim_t = 1 << 20;
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: want.max(lim.rlim_max),
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

/// The soft open-file limit of this process (the server child inherits it).
pub fn nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid pointer to a local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        0
    }
}

/// The server under test: a `csms serve` child process on a fresh database.
pub struct ServerProcess {
    child: tokio::process::Child,
    exe: PathBuf,
    env: Vec<(String, String)>,
    pub pid: u32,
    pub http: String,
    pub ocpp_port: u16,
    /// With --tls: the `wss://` port and a client configuration trusting the run's CA.
    pub tls: Option<(u16, std::sync::Arc<rustls::ClientConfig>)>,
    pub database_url: String,
    pub backend: Backend,
    drop_database: Option<(String, String)>,
    pub log_path: PathBuf,
    /// Cluster mode (--nodes): the other nodes, on the same database.
    pub peers: Vec<Peer>,
    _dir: tempfile_dir::Dir,
}

/// Another node of a cluster run.
pub struct Peer {
    child: tokio::process::Child,
    pub pid: u32,
    pub http: String,
    pub ocpp_port: u16,
}

mod tempfile_dir {
    /// A temporary folder removed on drop (the bench has no dev-dependencies).
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn spawn_child(
    exe: &std::path::Path,
    env: &[(String, String)],
    log_path: &std::path::Path,
) -> Result<tokio::process::Child, AppError> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    tokio::process::Command::new(exe)
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| AppError::Internal(format!("cannot start the server: {e}")))
}

fn free_port() -> Result<u16, AppError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| AppError::Internal(format!("no free port: {e}")))
}

impl ServerProcess {
    pub async fn start(args: &BenchArgs) -> Result<ServerProcess, AppError> {
        let dir =
            std::env::temp_dir().join(format!("csms-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| AppError::Internal(e.to_string()))?;
        let dir = tempfile_dir::Dir(dir);
        let (database_url, backend, drop_database) = match &args.database_url {
            None => (
                format!("sqlite://{}", dir.0.join("bench.db").display()),
                Backend::Sqlite,
                None,
            ),
            Some(url) => {
                let parsed = DbUrl::parse(url)?;
                match parsed.backend {
                    Backend::Sqlite => (url.clone(), Backend::Sqlite, None),
                    Backend::Postgres => {
                        let name = format!("csms_bench_{}", uuid::Uuid::new_v4().simple());
                        let admin = url.clone();
                        let n = name.clone();
                        tokio::task::spawn_blocking(move || {
                            use diesel::{Connection, RunQueryDsl};
                            let mut c = diesel::PgConnection::establish(&admin)
                                .map_err(|e| AppError::Config(e.to_string()))?;
                            diesel::sql_query(format!("CREATE DATABASE {n}")).execute(&mut c)?;
                            Ok::<_, AppError>(())
                        })
                        .await
                        .map_err(|e| AppError::Internal(e.to_string()))??;
                        let base = match url.rfind('/') {
                            Some(i) if i > "postgres://".len() => url[..i].to_string(),
                            _ => url.clone(),
                        };
                        (
                            format!("{base}/{name}"),
                            Backend::Postgres,
                            Some((url.clone(), name)),
                        )
                    }
                }
            }
        };
        let (http_port, ocpp_port) = (free_port()?, free_port()?);
        let exe = match &args.server {
            Some(p) => p.clone(),
            None => std::env::current_exe().map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let log_path = dir.0.join("server.log");
        let env = vec![
            ("DATABASE_URL".to_string(), database_url.clone()),
            ("CSMS_HTTP_ADDR".into(), format!("127.0.0.1:{http_port}")),
            ("CSMS_OCPP_ADDR".into(), format!("127.0.0.1:{ocpp_port}")),
            ("CSMS_ADMIN_EMAIL".into(), "bench@example.com".into()),
            ("CSMS_ADMIN_PASSWORD".into(), "bench-password".into()),
            ("CSMS_BCRYPT_COST".into(), "4".into()),
            ("CSMS_DB_POOL_SIZE".into(), args.pool_size.to_string()),
            ("CSMS_REMOTE_START_TIMEOUT_SECS".into(), "10".into()),
            (
                "CSMS_START_FAST_PATHS".into(),
                (!args.no_fast_paths).to_string(),
            ),
            // Bench chargers answer no calls of csms's own; a real charger is asked about its
            // authorization cache once in its life (`auth_cache`), not at every start.
            ("CSMS_DISABLE_AUTH_CACHE".into(), "false".into()),
            ("RUST_LOG".into(), "warn".into()),
        ];
        let log_limit = args
            .message_log_limit
            .or((args.scenario == Scenario::Soak).then_some(soak::MESSAGE_LOG_LIMIT));
        let mut env = env;
        if args.ocpp == crate::simulator::Ocpp::V201 {
            env.push(("CSMS_OCPP_VERSIONS".into(), "ocpp1.6,ocpp2.0.1".into()));
        }
        if let Some(limit) = log_limit {
            env.push(("CSMS_MESSAGE_LOG_LIMIT".into(), limit.to_string()));
        }
        let tls = if args.tls {
            let tls_port = free_port()?;
            let files = bench_certificates(&dir.0)?;
            env.extend([
                (
                    "CSMS_OCPP_TLS_ADDR".to_string(),
                    format!("127.0.0.1:{tls_port}"),
                ),
                (
                    "CSMS_OCPP_TLS_CERT".into(),
                    files.cert.display().to_string(),
                ),
                ("CSMS_OCPP_TLS_KEY".into(), files.key.display().to_string()),
            ]);
            let client = crate::simulator::tls::client_config(&files.ca, None, None)
                .map_err(AppError::Internal)?;
            Some((tls_port, client))
        } else {
            None
        };
        if args.nodes > 1 {
            if backend != Backend::Postgres {
                return Err(AppError::Config(
                    "--nodes needs a PostgreSQL --database-url (cluster mode)".into(),
                ));
            }
            if args.tls {
                return Err(AppError::Config(
                    "--nodes with --tls is not measured".into(),
                ));
            }
            let prefix = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            env.extend([
                ("CSMS_NATS_URL".to_string(), args.nats_url.clone()),
                ("CSMS_NATS_PREFIX".into(), prefix),
                ("CSMS_NODE_ID".into(), "bench-node0".into()),
            ]);
        }
        raise_nofile_limit();
        let child = spawn_child(&exe, &env, &log_path)?;
        let pid = child.id().unwrap_or(0);
        let server = ServerProcess {
            child,
            exe,
            env,
            pid,
            http: format!("http://127.0.0.1:{http_port}"),
            ocpp_port,
            tls,
            database_url,
            backend,
            drop_database,
            log_path,
            peers: Vec::new(),
            _dir: dir,
        };
        server.wait_healthy().await?;
        let mut server = server;
        for i in 1..args.nodes {
            let (http_port, ocpp_port) = (free_port()?, free_port()?);
            let mut env = server.env.clone();
            for (k, v) in env.iter_mut() {
                match k.as_str() {
                    "CSMS_HTTP_ADDR" => *v = format!("127.0.0.1:{http_port}"),
                    "CSMS_OCPP_ADDR" => *v = format!("127.0.0.1:{ocpp_port}"),
                    "CSMS_NODE_ID" => *v = format!("bench-node{i}"),
                    _ => {}
                }
            }
            let log = server._dir.0.join(format!("node{i}.log"));
            let child = spawn_child(&server.exe, &env, &log)?;
            let peer = Peer {
                pid: child.id().unwrap_or(0),
                child,
                http: format!("http://127.0.0.1:{http_port}"),
                ocpp_port,
            };
            wait_healthy_at(&peer.http, &log).await?;
            server.peers.push(peer);
        }
        Ok(server)
    }

    /// Every node: (pid, HTTP base URL, OCPP port); the first is this one.
    pub fn nodes(&self) -> Vec<(u32, String, u16)> {
        std::iter::once((self.pid, self.http.clone(), self.ocpp_port))
            .chain(
                self.peers
                    .iter()
                    .map(|p| (p.pid, p.http.clone(), p.ocpp_port)),
            )
            .collect()
    }

    async fn wait_healthy(&self) -> Result<(), AppError> {
        wait_healthy_at(&self.http, &self.log_path).await
    }

    /// kill -9 and start again on the same database and ports (a crash and its restart).
    pub async fn restart(&mut self) -> Result<(), AppError> {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.child = spawn_child(&self.exe, &self.env, &self.log_path)?;
        self.pid = self.child.id().unwrap_or(0);
        self.wait_healthy().await
    }

    /// A pool on the server's database, for setup, checks and the ceiling.
    pub fn db(&self, pool_size: u32) -> Result<Db, AppError> {
        Db::connect(&self.database_url, pool_size)
    }

    /// (VmRSS in KiB, user+system CPU seconds) from /proc.
    pub fn usage(&self) -> (u64, f64) {
        usage_of(self.pid)
    }

    pub async fn metrics(&self) -> String {
        match reqwest::get(format!("{}/metrics", self.http)).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn stop(mut self) {
        for mut peer in std::mem::take(&mut self.peers) {
            let _ = peer.child.start_kill();
            let _ = peer.child.wait().await;
        }
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        if let Some((admin, name)) = self.drop_database.take() {
            let _ = tokio::task::spawn_blocking(move || {
                use diesel::{Connection, RunQueryDsl};
                if let Ok(mut c) = diesel::PgConnection::establish(&admin) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut c);
                }
            })
            .await;
        }
    }
}

/// The run's TLS files: a CA, and a server certificate for localhost signed by it.
struct BenchCertificates {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn bench_certificates(dir: &std::path::Path) -> Result<BenchCertificates, AppError> {
    let fail = |e: String| AppError::Internal(format!("bench certificates: {e}"));
    let ca = crate::infra::ca::Ca::open(dir.join("ca")).map_err(|e| fail(e.to_string()))?;
    let (cert, key) = ca
        .issue("localhost", &["localhost".to_string()], 2, false)
        .map_err(|e| fail(e.to_string()))?;
    let files = BenchCertificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    for (path, pem) in [
        (&files.ca, ca.cert_pem()),
        (&files.cert, cert.as_str()),
        (&files.key, key.as_str()),
    ] {
        std::fs::write(path, pem).map_err(|e| fail(e.to_string()))?;
    }
    Ok(files)
}

pub async fn run(args: BenchArgs) -> Result<(), AppError> {
    if let Some(spec) = &args.worker {
        return cluster::worker(spec, &args).await;
    }
    if args.ocpp == crate::simulator::Ocpp::V201 {
        if !matches!(
            args.scenario,
            Scenario::Connections | Scenario::Ingest | Scenario::Start
        ) {
            return Err(AppError::Config(
                "--ocpp 2.0.1 is measured by connections, ingest and start".into(),
            ));
        }
        if args.nodes > 1 {
            return Err(AppError::Config(
                "--ocpp 2.0.1 is not served in cluster mode (--nodes) yet".into(),
            ));
        }
    }
    raise_nofile_limit();
    let limit = nofile_limit();
    let wanted = args.chargers.unwrap_or(10_000) as u64 + 100;
    if matches!(
        args.scenario,
        Scenario::Connections | Scenario::Storm | Scenario::Soak
    ) && limit < wanted
    {
        println!(
            "note: the open-file limit is {limit} per process and cannot be raised here (no CAP_SYS_RESOURCE); \
             at most about {} chargers can connect",
            limit.saturating_sub(100)
        );
    }
    let mut server = ServerProcess::start(&args).await?;
    println!(
        "csms bench {:?} on {} (server pid {}, log {})",
        args.scenario,
        server.backend.name(),
        server.pid,
        server.log_path.display()
    );
    let started = Instant::now();
    let result = match args.scenario {
        Scenario::Connections if args.nodes > 1 => cluster::connections(&args, &server).await,
        Scenario::Connections => scenarios::connections(&args, &server).await,
        Scenario::Ingest => scenarios::ingest(&args, &server).await,
        Scenario::Start => scenarios::start(&args, &server).await,
        Scenario::Storm => storm::storm(&args, &mut server).await,
        Scenario::Soak => soak::soak(&args, &server).await,
    };
    let name = format!("{:?}", args.scenario).to_lowercase();
    let backend = server.backend;
    let log_path = server.log_path.clone();
    let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
    server.stop().await;
    let mut report = Report::new(&name, backend, started.elapsed().as_secs_f64());
    if matches!(
        args.scenario,
        Scenario::Connections | Scenario::Ingest | Scenario::Start
    ) {
        let version = match args.ocpp {
            crate::simulator::Ocpp::V16 => "1.6",
            crate::simulator::Ocpp::V201 => "2.0.1",
        };
        report.add("ocpp", "OCPP version of the chargers", version.into());
    }
    match result {
        Ok(figures) => {
            for (key, label, value) in figures {
                report.add(key, label, value);
            }
            report.print();
            Ok(())
        }
        Err(e) => {
            let last: Vec<&str> = tail.lines().rev().take(20).collect();
            eprintln!(
                "server log (last lines):\n{}",
                last.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
            Err(e)
        }
    }
}

/// A result's name, its label and its value.
pub type Figure = (&'static str, &'static str, Value);
pub type Figures = Vec<Figure>;

async fn wait_healthy_at(http: &str, log_path: &std::path::Path) -> Result<(), AppError> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{http}/healthz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(log_path).unwrap_or_default();
            return Err(AppError::Internal(format!(
                "server did not become healthy:\n{log}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// CPU time so far (s) of every process named `postgres` on this machine (the PostgreSQL server
/// and its backends; backends that ended are not counted), from /proc.
pub fn postgres_cpu_s() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim() == "postgres")
                .unwrap_or(false)
        })
        .map(|pid| usage_of(pid).1)
        .sum()
}

/// Least-squares slope of `ys` over `xs` (0 with fewer than two points).
pub fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return 0.0;
    }
    let (mx, my) = (
        xs[..n].iter().sum::<f64>() / n as f64,
        ys[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..n {
        num += (xs[i] - mx) * (ys[i] - my);
        den += (xs[i] - mx) * (xs[i] - mx);
    }
    if den == 0.0 { 0.0 } else { num / den }
}

/// A process's resident memory (KiB) and CPU time so far (s), from /proc.
/// A number from `/proc/<pid>/status` (`VmRSS:` in KiB, `Threads:`...); 0 when unreadable.
pub fn status_field(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A quantile of a Prometheus summary from its text: the first line that starts with `prefix` (the
/// name and any labels before `quantile`) and carries `quantile="<q>"`.
pub fn metric_quantile(text: &str, prefix: &str, q: &str) -> Option<f64> {
    let quantile = format!("quantile=\"{q}\"");
    text.lines()
        .find(|l| l.starts_with(prefix) && l.contains(&quantile))
        .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok())
}

pub fn usage_of(pid: u32) -> (u64, f64) {
    let rss = status_field(pid, "VmRSS:");
    let cpu = std::fs::read_to_string(format!("/proc/{}/stat", pid))
        .ok()
        .and_then(|s| {
            let after = s.rsplit(')').next()?.split_whitespace().collect::<Vec<_>>();
            // fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command name
            let ticks: f64 =
                after.get(11)?.parse::<f64>().ok()? + after.get(12)?.parse::<f64>().ok()?;
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
            Some(ticks / hz.max(1.0))
        })
        .unwrap_or(0.0);
    (rss, cpu)
}
