//! The built `csms` binary as a child process (`CARGO_BIN_EXE_csms`, one binary shared by every
//! process-level test): `csms serve` on random ports against a given database, ready once it
//! printed its ports, killed with SIGKILL; plain HTTP calls to it; a fleet of chargers (simulators)
//! and funded customers set up through its API; and the end of every scenario (the chargers stop,
//! recovery resolves the rest, then nothing is open and the books balance).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use csms::simulator::{SimConfig, Simulator};
use diesel::prelude::*;
use serde_json::{Value, json};

use super::{ADMIN_EMAIL, ADMIN_PASSWORD};

/// A command running the `csms` binary cargo built for the tests.
pub fn csms() -> Command {
    Command::new(env!("CARGO_BIN_EXE_csms"))
}

/// A `csms serve` child process.
pub struct Server {
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
        let mut command = csms();
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

pub async fn call(
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
pub struct Fleet {
    pub sims: Vec<Simulator>,
    pub tokens: Vec<String>,
    pub devices: Vec<String>,
}

pub async fn setup(server: &Server, chargers: usize, customers: usize, tag: &str) -> Fleet {
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

/// The end of every scenario: the chargers stop what they still run, recovery resolves the rest;
/// then nothing is open and the books balance.
pub async fn settle_and_audit(fleet: &Fleet, database_url: &str) {
    for sim in &fleet.sims {
        let _ = sim.report_statuses().await;
        for tx in sim.open_transactions().keys() {
            let _ = sim.stop_transaction(*tx, "Local").await;
        }
    }
    let url = database_url.to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        let db = csms::infra::db::Db::connect(&url, 2).expect("database");
        let mut c = db.get().unwrap();
        use csms::infra::db::schema::{charging_sessions as s, ocpp_transactions as t};
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
        (open, rows, csms::domain::wallet::audit(&mut c).unwrap())
    })
    .await
    .unwrap();
    let (open, rows, audit) = outcome;
    assert_eq!(open, (0, 0), "sessions / transactions left open: {rows:?}");
    assert!(audit.ok(), "money not conserved: {audit:?}");
}
