//! Process-level tests with the real `csms` binary (the one cargo built for these tests):
//! - crash tests: `kill -9` at random points of starts, meter values, stops and settlements under
//!   load, many rounds, restart on the same database, then the audit;
//! - two processes on one database, both starting, recovering and relaying at once, one of them
//!   killed, its chargers moving to the survivor.
//!
//! After each: no money created or lost (wallet == ledger, credits == wallets + held + paid, no
//! transaction accepted without a hold), and no session or transaction left open once the chargers
//! have stopped what they run and recovery has had its time.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use csms::simulator::{SimConfig, Simulator};
use diesel::prelude::*;
use rand::RngExt;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, fresh_database};

/// A `csms serve` child process.
pub(crate) struct Server {
    pub child: Child,
    pub http: String,
    pub ocpp: String,
}

impl Server {
    pub fn spawn(database_url: &str) -> Server {
        Server::spawn_with(database_url, &[])
    }

    /// With more settings (`CSMS_…` variables) than the test defaults.
    pub fn spawn_with(database_url: &str, extra: &[(&str, String)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_csms"));
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut child = command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("CSMS_HTTP_ADDR", "127.0.0.1:0")
            .env("CSMS_OCPP_ADDR", "127.0.0.1:0")
            .env("CSMS_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("CSMS_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CSMS_BCRYPT_COST", "4")
            .env("CSMS_REGISTER_ADDR_MAX", "100000")
            .env("CSMS_REMOTE_START_TIMEOUT_SECS", "2")
            .env("CSMS_OCPP_CALL_TIMEOUT_SECS", "2")
            .env("CSMS_START_TRANSACTION_TIMEOUT_SECS", "3")
            .env("CSMS_RECOVERY_INTERVAL_SECS", "1")
            .env("CSMS_NODE_HEARTBEAT_SECS", "1")
            .env("CSMS_STOP_RETRY_SECS", "1")
            .env("CSMS_ORPHAN_GRACE_SECS", "2")
            .env("CSMS_HTTP_WORKERS", "2")
            .env("CSMS_DB_POOL_SIZE", "8")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("csms starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut ports = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(" ERROR ") || line.contains("panicked") {
                    eprintln!("csms: {line}");
                }
                if let Some(tx) = ports.take_if(|_| line.contains("listening: HTTP on")) {
                    let found: Vec<u16> = line
                        .split("(port ")
                        .skip(1)
                        .filter_map(|p| p.split(')').next()?.parse().ok())
                        .collect();
                    let _ = tx.send(found);
                }
            }
        });
        let ports = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("csms printed its ports");
        Server {
            child,
            http: format!("http://127.0.0.1:{}", ports[0]),
            ocpp: format!("ws://127.0.0.1:{}/ocpp", ports[1]),
        }
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn call(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = match body {
        Some(b) => http.post(url).json(&b),
        None => http.get(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.timeout(Duration::from_secs(20)).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

/// Chargers, customers and their tokens, set up through the API of the first server.
pub(crate) struct Fleet {
    pub sims: Vec<Simulator>,
    pub tokens: Vec<String>,
    pub devices: Vec<String>,
}

pub(crate) async fn setup(server: &Server, chargers: usize, customers: usize, tag: &str) -> Fleet {
    let http = reqwest::Client::new();
    let (s, login) = call(
        &http,
        format!("{}/api/admin/login", server.http),
        None,
        Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(s, 200, "{login}");
    let admin = login["token"].as_str().unwrap().to_string();
    let (_, station) = call(
        &http,
        format!("{}/api/admin/stations", server.http),
        Some(&admin),
        Some(json!({"name": "Crash"})),
    )
    .await;
    let mut sims = Vec::new();
    let mut devices = Vec::new();
    for i in 0..chargers {
        let device = format!("{tag}{i}");
        let (s, created) = call(
            &http,
            format!("{}/api/admin/chargers", server.http),
            Some(&admin),
            Some(json!({"deviceId": device, "stationId": station["station"]["id"]})),
        )
        .await;
        assert_eq!(s, 201, "{created}");
        let mut cfg = SimConfig::new(server.ocpp.clone(), &device, 2);
        cfg.password = created["ocppPassword"].as_str().map(str::to_string);
        sims.push(Simulator::connect(cfg).await.expect("charger connects"));
        devices.push(device);
    }
    let mut tokens = Vec::new();
    for i in 0..customers {
        let (s, body) = call(&http, format!("{}/api/customer/register", server.http), None, Some(json!({"name": "c", "email": format!("{tag}{i}@example.com"), "password": "password"}))).await;
        assert_eq!(s, 201, "{body}");
        let id = body["customer"]["id"].as_i64().unwrap();
        let (s, _) = call(
            &http,
            format!("{}/api/admin/customers/{id}/wallet/credit", server.http),
            Some(&admin),
            Some(json!({"amount": 500})),
        )
        .await;
        assert_eq!(s, 200);
        tokens.push(body["token"].as_str().unwrap().to_string());
    }
    Fleet {
        sims,
        tokens,
        devices,
    }
}

/// Customers start, charge and stop on random connectors until `stop`; which server each charger
/// is reached through is `route[charger]` (the HTTP base URL of the node that holds it).
fn load(
    fleet: &Fleet,
    route: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    started: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let http = reqwest::Client::new();
    fleet
        .tokens
        .iter()
        .cloned()
        .map(|token| {
            let (http, route, stop, started) = (http.clone(), route.clone(), stop.clone(), started.clone());
            let sims = fleet.sims.clone();
            let devices = fleet.devices.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let (i, connector, amount, energy, local_stop, wait) = {
                        let mut r = rand::rng();
                        (r.random_range(0..sims.len()), r.random_range(1..=2u32), r.random_range(5..40), r.random_range(50.0..2000.0), r.random_bool(0.3), r.random_range(20..200))
                    };
                    let base = route.lock().unwrap()[i].clone();
                    let (s, body) = call(&http, format!("{base}/api/user/charging/start"), Some(&token), Some(json!({"deviceId": devices[i], "connectorId": connector, "amount": amount}))).await;
                    if s != 200 {
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                        continue;
                    }
                    started.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    let sim = &sims[i];
                    let tx = sim.open_transactions().into_iter().find(|(_, c)| *c == connector).map(|(t, _)| t);
                    if let Some(tx) = tx {
                        let _ = sim.add_energy(tx, energy).await;
                        if local_stop {
                            let _ = sim.stop_transaction(tx, "Local").await;
                            continue;
                        }
                    }
                    let sid = body["session"]["sessionId"].clone();
                    let _ = call(&http, format!("{base}/api/user/charging/stop"), Some(&token), Some(json!({"sessionId": sid}))).await;
                }
            })
        })
        .collect()
}

/// The end of every scenario: the chargers stop what they still run, recovery resolves the rest;
/// then nothing is open and the books balance.
pub(crate) async fn settle_and_audit(fleet: &Fleet, database_url: &str) {
    for sim in &fleet.sims {
        let _ = sim.report_statuses().await;
        for tx in sim.open_transactions().keys() {
            let _ = sim.stop_transaction(*tx, "Local").await;
        }
    }
    let url = database_url.to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        let db = csms::db::Db::connect(&url, 2).expect("database");
        let mut c = db.get().unwrap();
        use csms::db::schema::{charging_sessions as s, ocpp_transactions as t};
        let mut open = (0, 0);
        for _ in 0..120 {
            open = (
                s::table
                    .filter(s::status.eq_any(["pending", "active", "stopping"]))
                    .count()
                    .get_result::<i64>(&mut c)
                    .unwrap(),
                t::table
                    .filter(t::stopped_at.is_null())
                    .count()
                    .get_result::<i64>(&mut c)
                    .unwrap(),
            );
            if open == (0, 0) {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let rows: Vec<(String, String, Option<i64>)> = s::table
            .filter(s::status.eq_any(["pending", "active", "stopping"]))
            .select((s::session_uid, s::status, s::transaction_id))
            .load(&mut c)
            .unwrap();
        (open, rows, csms::wallet::audit(&mut c).unwrap())
    })
    .await
    .unwrap();
    let (open, rows, audit) = outcome;
    assert_eq!(open, (0, 0), "sessions / transactions left open: {rows:?}");
    assert!(audit.ok(), "money not conserved: {audit:?}");
}

/// kill -9 at random moments under load, restart, many rounds; then the audit.
async fn crash_rounds(backend: Backend) {
    let Some((url, _db)) = fresh_database(backend).await else {
        return;
    };
    let mut server = Server::spawn(&url);
    let fleet = setup(&server, 3, 6, "CRASH").await;
    let started = Arc::new(AtomicU64::new(0));
    // Six rounds in CI; `CSMS_CRASH_ROUNDS=100` for a longer campaign.
    let rounds: usize = std::env::var("CSMS_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    for round in 0..rounds {
        let route = Arc::new(std::sync::Mutex::new(vec![
            server.http.clone();
            fleet.sims.len()
        ]));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = load(&fleet, route, stop.clone(), started.clone());
        let ms = rand::rng().random_range(300..2500);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        server.kill(); // wherever it was: reserving, starting, metering, stopping, settling
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            let _ = w.await;
        }
        server = Server::spawn(&url);
        for sim in &fleet.sims {
            sim.set_url(server.ocpp.clone());
            sim.reconnect()
                .await
                .unwrap_or_else(|e| panic!("round {round}: reconnect: {e}"));
            let _ = sim.report_statuses().await;
        }
    }
    assert!(
        started.load(Ordering::Relaxed) > 0,
        "the load started sessions"
    );
    let t = std::time::Instant::now();
    settle_and_audit(&fleet, &url).await;
    eprintln!(
        "{backend:?}: {rounds} kills under load, {} sessions started, all settled in {:?}",
        started.load(Ordering::Relaxed),
        t.elapsed()
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_rounds_sqlite() {
    crash_rounds(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_rounds_postgres() {
    crash_rounds(Backend::Postgres).await;
}

/// Two processes on one PostgreSQL database: chargers on both, customers starting through the node
/// that holds their charger, both relays and recoveries running; one node is killed mid-load and
/// its chargers reconnect to the survivor, which resolves the dead node's starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_one_database() {
    let Some((url, _db)) = fresh_database(Backend::Postgres).await else {
        return;
    };
    let a = Server::spawn(&url);
    let b = Server::spawn(&url);
    let fleet = setup(&a, 4, 8, "DUO").await;
    // Half of the chargers move to B.
    let mut homes: HashMap<usize, &Server> = HashMap::new();
    for (i, sim) in fleet.sims.iter().enumerate() {
        let home = if i % 2 == 0 { &a } else { &b };
        if i % 2 == 1 {
            sim.set_url(b.ocpp.clone());
            sim.reconnect().await.unwrap();
        }
        homes.insert(i, home);
    }
    let route = Arc::new(std::sync::Mutex::new(
        (0..fleet.sims.len())
            .map(|i| homes[&i].http.clone())
            .collect::<Vec<_>>(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicU64::new(0));
    let workers = load(&fleet, route.clone(), stop.clone(), started.clone());
    tokio::time::sleep(Duration::from_millis(3000)).await;
    // B dies; its chargers reconnect to A, and the customers follow them there.
    let a_http = a.http.clone();
    b.kill();
    for (i, sim) in fleet.sims.iter().enumerate() {
        if i % 2 == 1 {
            sim.set_url(a.ocpp.clone());
            sim.reconnect().await.unwrap();
            let _ = sim.report_statuses().await;
            route.lock().unwrap()[i] = a_http.clone();
        }
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    assert!(
        started.load(Ordering::Relaxed) > 0,
        "the load started sessions"
    );
    settle_and_audit(&fleet, &url).await;
    drop(a);
}
