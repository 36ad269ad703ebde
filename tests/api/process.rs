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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rand::RngExt;
use serde_json::json;

use crate::support::process::{Fleet, Server, call, settle_and_audit, setup};
use crate::support::{Backend, fresh_database};

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
