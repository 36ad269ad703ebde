//! Cluster mode with real processes: three `csms serve` nodes on one PostgreSQL database, talking
//! over a real NATS server (the machine's, at 127.0.0.1:4222 or `CSMS_TEST_NATS_URL`; the test of
//! NATS going away starts its own `nats-server`). Each test uses its own subject prefix, so tests
//! running at once on one NATS server do not see each other.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use csms::simulator::Simulator;
use serde_json::{Value, json};

use crate::support::process::{Server, call, csms, settle_and_audit, setup};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestDb, fresh_database};

/// The NATS server the tests use, or `None` (skipped) when there is none outside CI.
fn nats_url() -> Option<String> {
    let url =
        std::env::var("CSMS_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let addr = url.trim_start_matches("nats://").to_string();
    if std::net::TcpStream::connect_timeout(
        &addr
            .parse()
            .expect("CSMS_TEST_NATS_URL is nats://host:port"),
        Duration::from_secs(2),
    )
    .is_ok()
    {
        return Some(url);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("NATS is required under CI (no server at {url})");
    }
    eprintln!("skipped: cluster tests need NATS at {url}");
    None
}

/// Three nodes (or `n`) on one database and one NATS, with short leases.
struct Cluster {
    nodes: Vec<Server>,
    ids: Vec<String>,
    url: String,
    _db: TestDb,
}

/// A subject prefix of a test's own.
fn new_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn node_env(nats: &str, prefix: &str, id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CSMS_NATS_URL", nats.to_string()),
        ("CSMS_NATS_PREFIX", prefix.to_string()),
        ("CSMS_NODE_ID", id.to_string()),
    ]
}

async fn cluster(n: usize, nats: &str) -> Option<Cluster> {
    cluster_with(n, nats, &new_prefix(), &[]).await
}

/// `n` nodes with this subject prefix and more settings (NATS credentials, …).
async fn cluster_with(
    n: usize,
    nats: &str,
    prefix: &str,
    extra: &[(&'static str, String)],
) -> Option<Cluster> {
    let (url, db) = fresh_database(Backend::Postgres).await?;
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-node{i}")).collect();
    let mut nodes = Vec::new();
    for id in &ids {
        let mut env = node_env(nats, prefix, id);
        env.extend(extra.iter().cloned());
        // One at a time: the first one runs the migrations.
        nodes.push(Server::spawn_with(&url, &env));
    }
    Some(Cluster {
        nodes,
        ids,
        url,
        _db: db,
    })
}

async fn admin_token(http: &reqwest::Client, base: &str) -> String {
    let (s, login) = call(
        http,
        format!("{base}/api/admin/login"),
        None,
        Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(s, 200, "{login}");
    login["token"].as_str().unwrap().to_string()
}

/// The charger as the node at `base` sees it.
async fn charger(http: &reqwest::Client, base: &str, admin: &str, device: &str) -> Value {
    let (s, list) = call(
        http,
        format!("{base}/api/admin/chargers"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    list["chargers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["deviceId"] == device)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Waits until every node says `device` is held by `node`.
async fn until_held(http: &reqwest::Client, c: &Cluster, admin: &str, device: &str, node: &str) {
    for _ in 0..100 {
        let mut all = true;
        for n in &c.nodes {
            let view = charger(http, &n.http, admin, device).await;
            all &= view["online"] == true && view["node"] == node;
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{device} is not seen held by {node} on every node");
}

/// Waits (up to 5 s) for what a simulated charger sees to change; the assertions that follow say
/// whether it did.
async fn until(done: impl Fn() -> bool) {
    for _ in 0..250 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    call(http, url, Some(token), Some(body)).await
}

/// The seed race with the two customers on two different nodes and the charger on a third,
/// 50 rounds: one winner, one exact in-use 400, no money moved for the loser.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_race_across_nodes() {
    let Some(nats) = nats_url() else { return };
    let Some(c) = cluster(3, &nats).await else {
        return;
    };
    let http = reqwest::Client::new();
    let fleet = setup(&c.nodes[2], 1, 2, "XRACE").await;
    let admin = admin_token(&http, &c.nodes[0].http).await;
    let device = fleet.devices[0].clone();
    until_held(&http, &c, &admin, &device, &c.ids[2]).await;
    let sim = &fleet.sims[0];
    let (a, b) = (c.nodes[0].http.clone(), c.nodes[1].http.clone());
    let mut wins = [0, 0];
    for round in 0..50 {
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let racers: Vec<_> = [(a.clone(), 0), (b.clone(), 1)]
            .into_iter()
            .map(|(base, who)| {
                let (http, barrier) = (http.clone(), barrier.clone());
                let token = fleet.tokens[who].clone();
                let device = device.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let body = json!({"deviceId": device, "connectorId": 1, "amount": 5});
                    let (s, v) = post(
                        &http,
                        format!("{base}/api/user/charging/start"),
                        &token,
                        body,
                    )
                    .await;
                    (who, base, s, v)
                })
            })
            .collect();
        let mut results = Vec::new();
        for r in racers {
            results.push(r.await.unwrap());
        }
        let won: Vec<_> = results.iter().filter(|r| r.2 == 200).collect();
        let lost: Vec<_> = results.iter().filter(|r| r.2 != 200).collect();
        assert_eq!(won.len(), 1, "round {round}: one winner: {results:?}");
        assert_eq!(lost[0].2, 400, "round {round}: {results:?}");
        assert_eq!(
            lost[0].3["error"],
            csms::error::CONNECTOR_IN_USE,
            "round {round}"
        );
        let (who, base, _, body) = won[0];
        wins[*who] += 1;
        // The winner stops through the node it started on; the charger on the third node stops.
        let sid = body["session"]["sessionId"].clone();
        until(|| sim.open_transactions().len() == 1).await;
        let (s, v) = post(
            &http,
            format!("{base}/api/user/charging/stop"),
            &fleet.tokens[*who],
            json!({"sessionId": sid}),
        )
        .await;
        assert_eq!(s, 200, "round {round}: stop {v}");
        until(|| sim.open_transactions().is_empty()).await;
        assert!(sim.open_transactions().is_empty(), "round {round}: stopped");
        // The release reaches the other nodes' occupancy hints over NATS.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    eprintln!("wins by node: {wins:?}");
    settle_and_audit(&fleet, &c.url).await;
    // Every round's loser paid nothing: each wallet lost only what its wins cost (nothing at
    // 0 kWh), so both are whole again.
    for (i, token) in fleet.tokens.iter().enumerate() {
        let (_, w) = call(
            &http,
            format!("{}/api/user/wallet", c.nodes[i].http),
            Some(token),
            None,
        )
        .await;
        assert_eq!(w["balance"].as_f64(), Some(500.0), "{w}");
    }
}

/// Operator commands sent to a node that does not hold the charger reach it; a charger connected
/// nowhere is offline on every node; the cluster view names the holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_commands_through_any_node() {
    let Some(nats) = nats_url() else { return };
    let Some(c) = cluster(3, &nats).await else {
        return;
    };
    let http = reqwest::Client::new();
    let fleet = setup(&c.nodes[1], 1, 0, "XCMD").await;
    let admin = admin_token(&http, &c.nodes[0].http).await;
    let device = fleet.devices[0].clone();
    until_held(&http, &c, &admin, &device, &c.ids[1]).await;
    for via in [0, 2] {
        let (s, v) = post(
            &http,
            format!(
                "{}/api/admin/chargers/{device}/commands/GetConfiguration",
                c.nodes[via].http
            ),
            &admin,
            json!({}),
        )
        .await;
        assert_eq!(s, 200, "via node {via}: {v}");
    }
    assert_eq!(fleet.sims[0].received_count("GetConfiguration"), 2);
    // Registered but connected nowhere.
    let (s, _) = post(
        &http,
        format!("{}/api/admin/chargers", c.nodes[0].http),
        &admin,
        json!({"deviceId": "XCMDGONE", "stationId": charger(&http, &c.nodes[0].http, &admin, &device).await["stationId"]}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, v) = post(
        &http,
        format!(
            "{}/api/admin/chargers/XCMDGONE/commands/GetConfiguration",
            c.nodes[2].http
        ),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("Charger is offline")));
    // The cluster view: three live nodes, the charger counted on its holder.
    let (s, view) = call(
        &http,
        format!("{}/api/admin/cluster", c.nodes[2].http),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["clustered"], true);
    assert_eq!(view["natsConnected"], true);
    let nodes = view["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{view}");
    assert!(nodes.iter().all(|n| n["live"] == true));
    let holder = nodes.iter().find(|n| n["nodeId"] == c.ids[1]).unwrap();
    assert_eq!(holder["chargers"], 1);
}

/// A customer's event stream on one node carries the events of a charger on another node,
/// stored ones (charging.started) and live ones (charging.progress).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_across_nodes() {
    use futures_util::StreamExt;
    let Some(nats) = nats_url() else { return };
    let Some(c) = cluster(3, &nats).await else {
        return;
    };
    let http = reqwest::Client::new();
    let fleet = setup(&c.nodes[2], 1, 1, "XSSE").await;
    let admin = admin_token(&http, &c.nodes[0].http).await;
    let device = fleet.devices[0].clone();
    until_held(&http, &c, &admin, &device, &c.ids[2]).await;
    let token = &fleet.tokens[0];
    let (s, ticket) = post(
        &http,
        format!("{}/api/user/events/ticket", c.nodes[0].http),
        token,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{ticket}");
    let resp = reqwest::get(format!(
        "{}/api/user/events?ticket={}",
        c.nodes[0].http,
        ticket["ticket"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut stream = resp.bytes_stream();
    let (s, body) = post(
        &http,
        format!("{}/api/user/charging/start", c.nodes[1].http),
        token,
        json!({"deviceId": device, "connectorId": 1, "amount": 20}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let sim = &fleet.sims[0];
    until(|| !sim.open_transactions().is_empty()).await;
    let tx = *sim
        .open_transactions()
        .keys()
        .next()
        .expect("a transaction");
    sim.add_energy(tx, 100.0).await.unwrap();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(seen.contains("event: charging.started") && seen.contains("event: charging.progress")) {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("events in time; so far: {seen}"))
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains(body["session"]["sessionId"].as_str().unwrap()));
    settle_and_audit(&fleet, &c.url).await;
}

/// A newer connection of a charger on another node fences the older one: the old node closes its
/// socket, and calls through it go to the new holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn newer_connection_fences_the_old_node() {
    let Some(nats) = nats_url() else { return };
    let Some(c) = cluster(2, &nats).await else {
        return;
    };
    let http = reqwest::Client::new();
    let fleet = setup(&c.nodes[0], 1, 0, "XFENCE").await;
    let admin = admin_token(&http, &c.nodes[0].http).await;
    let device = fleet.devices[0].clone();
    until_held(&http, &c, &admin, &device, &c.ids[0]).await;
    // The same charger (same password) connects to the other node, as after a network change.
    let old = &fleet.sims[0];
    let mut cfg = old.config();
    cfg.url = c.nodes[1].ocpp.clone();
    let new = Simulator::connect(cfg).await.expect("connects to node 1");
    tokio::time::timeout(Duration::from_secs(5), old.closed())
        .await
        .expect("node 0 closed its older connection");
    until_held(&http, &c, &admin, &device, &c.ids[1]).await;
    let (s, v) = post(
        &http,
        format!(
            "{}/api/admin/chargers/{device}/commands/GetConfiguration",
            c.nodes[0].http
        ),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(new.received_count("GetConfiguration"), 1);
}

/// `kill -9` of the node holding a charger mid-session: the charger reconnects to another node,
/// the session goes on there and is billed; the books balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_killed_mid_session() {
    let Some(nats) = nats_url() else { return };
    let Some(mut c) = cluster(3, &nats).await else {
        return;
    };
    let http = reqwest::Client::new();
    let fleet = setup(&c.nodes[2], 1, 1, "XKILL").await;
    let admin = admin_token(&http, &c.nodes[0].http).await;
    let device = fleet.devices[0].clone();
    until_held(&http, &c, &admin, &device, &c.ids[2]).await;
    let token = &fleet.tokens[0];
    let (s, body) = post(
        &http,
        format!("{}/api/user/charging/start", c.nodes[0].http),
        token,
        json!({"deviceId": device, "connectorId": 1, "amount": 40}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let sim = &fleet.sims[0];
    until(|| !sim.open_transactions().is_empty()).await;
    let tx = *sim
        .open_transactions()
        .keys()
        .next()
        .expect("a transaction");
    sim.add_energy(tx, 500.0).await.unwrap();
    // The charger knows the other nodes' addresses (as behind a load balancer that moves it).
    sim.set_fallback_urls(vec![c.nodes[1].ocpp.clone(), c.nodes[0].ocpp.clone()]);
    c.nodes.pop().unwrap().kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), sim.closed()).await;
    sim.reconnect().await.expect("reconnects to a survivor");
    assert_eq!(
        sim.config().url,
        c.nodes[1].ocpp,
        "the first survivor took it"
    );
    let _ = sim.report_statuses().await;
    until_held(&http, &c, &admin, &device, &c.ids[1]).await;
    sim.add_energy(tx, 500.0).await.unwrap();
    // The customer stops through the first node; it routes to the new holder.
    let (s, v) = post(
        &http,
        format!("{}/api/user/charging/stop", c.nodes[0].http),
        token,
        json!({"sessionId": body["session"]["sessionId"]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    until(|| sim.open_transactions().is_empty()).await;
    let (_, w) = call(
        &http,
        format!("{}/api/user/wallet", c.nodes[1].http),
        Some(token),
        None,
    )
    .await;
    // 1 kWh at the default price (15.00 a kWh), billed once: half metered on each node.
    assert_eq!(w["balance"].as_f64(), Some(485.0), "{w}");
    settle_and_audit(&fleet, &c.url).await;
}

/// A node holding many chargers dies: they all reconnect at once (with jitter) to the survivors,
/// which take them over; every one is online again, and commands reach them through any node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_death_rehomes_its_chargers() {
    let Some(nats) = nats_url() else { return };
    let Some(mut c) = cluster(3, &nats).await else {
        return;
    };
    let http = reqwest::Client::new();
    let n = 30;
    let fleet = setup(&c.nodes[2], n, 0, "XHOME").await;
    let admin = admin_token(&http, &c.nodes[0].http).await;
    let held_by = |view: &Value, node: &str| {
        view["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["nodeId"] == node)
            .map_or(0, |v| v["chargers"].as_i64().unwrap_or(0))
    };
    let first = c.nodes[0].http.clone();
    let cluster_view = || async {
        call(
            &http,
            format!("{first}/api/admin/cluster"),
            Some(&admin),
            None,
        )
        .await
        .1
    };
    for (i, sim) in fleet.sims.iter().enumerate() {
        // Half of them try node 0 first, half node 1 (as a load balancer would spread them).
        let (a, b) = (c.nodes[i % 2].ocpp.clone(), c.nodes[1 - i % 2].ocpp.clone());
        sim.set_fallback_urls(vec![a, b]);
    }
    c.nodes.pop().unwrap().kill();
    let reconnects: Vec<_> = fleet
        .sims
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, sim)| {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(10), sim.closed()).await;
                tokio::time::sleep(Duration::from_millis((i as u64 * 37) % 500)).await;
                sim.reconnect().await.map_err(|e| e.to_string())?;
                let _ = sim.report_statuses().await;
                Ok::<_, String>(())
            })
        })
        .collect();
    for r in reconnects {
        r.await.unwrap().expect("reconnects to a survivor");
    }
    let mut view = Value::Null;
    for _ in 0..100 {
        view = cluster_view().await;
        if held_by(&view, &c.ids[0]) + held_by(&view, &c.ids[1]) == n as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (h0, h1) = (held_by(&view, &c.ids[0]), held_by(&view, &c.ids[1]));
    assert_eq!(h0 + h1, n as i64, "{view}");
    assert!(h0 > 0 && h1 > 0, "spread over both survivors: {view}");
    for device in &fleet.devices {
        let ch = charger(&http, &c.nodes[0].http, &admin, device).await;
        assert_eq!(ch["online"], true, "{ch}");
        assert!(ch["node"] == c.ids[0] || ch["node"] == c.ids[1], "{ch}");
    }
    for (i, device) in fleet.devices.iter().enumerate().take(4) {
        let (s, v) = post(
            &http,
            format!(
                "{}/api/admin/chargers/{device}/commands/GetConfiguration",
                c.nodes[i % 2].http
            ),
            &admin,
            json!({}),
        )
        .await;
        assert_eq!(s, 200, "{device}: {v}");
    }
}

/// A `nats-server` of the test's own on a free port.
struct OwnNats {
    child: Child,
    port: u16,
}

impl OwnNats {
    fn start(port: u16) -> OwnNats {
        OwnNats::with_args(port, &["-a", "127.0.0.1", "-p", &port.to_string()])
    }

    /// With a configuration file (which must listen on 127.0.0.1:`port`).
    fn with_config(port: u16, config: &std::path::Path) -> OwnNats {
        OwnNats::with_args(port, &["-c", &config.display().to_string()])
    }

    fn with_args(port: u16, args: &[&str]) -> OwnNats {
        let bin = [
            "nats-server",
            "/usr/sbin/nats-server",
            "/usr/local/bin/nats-server",
        ]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .expect("nats-server is installed");
        let child = Command::new(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        OwnNats { child, port }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// NATS stops mid-test: a call for a charger on another node answers a clear 503 and no money
/// moves; each node keeps serving its own chargers; when NATS is back, routing is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_outage_gives_503_and_recovers() {
    if nats_url().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut nats = OwnNats::start(port);
    let url = format!("nats://127.0.0.1:{}", nats.port);
    let Some(c) = cluster(2, &url).await else {
        return;
    };
    let http = reqwest::Client::new();
    let fleet = setup(&c.nodes[1], 1, 1, "XNATS").await;
    let admin = admin_token(&http, &c.nodes[0].http).await;
    let device = fleet.devices[0].clone();
    until_held(&http, &c, &admin, &device, &c.ids[1]).await;
    let command = |via: usize| {
        let (http, admin, device) = (http.clone(), admin.clone(), device.clone());
        let base = c.nodes[via].http.clone();
        async move {
            post(
                &http,
                format!("{base}/api/admin/chargers/{device}/commands/GetConfiguration"),
                &admin,
                json!({}),
            )
            .await
        }
    };
    assert_eq!(command(0).await.0, 200);
    nats.stop();
    let mut outage = (0, Value::Null);
    for _ in 0..100 {
        outage = command(0).await;
        if outage.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outage.0, 503, "{}", outage.1);
    assert!(outage.1["error"].as_str().unwrap().contains("try again"));
    // A start through the cut-off node: 503, and the hold is refunded.
    let token = &fleet.tokens[0];
    let (s, v) = post(
        &http,
        format!("{}/api/user/charging/start", c.nodes[0].http),
        token,
        json!({"deviceId": device, "connectorId": 1, "amount": 10}),
    )
    .await;
    assert_eq!(s, 503, "{v}");
    // The holder still serves its own charger.
    assert_eq!(command(1).await.0, 200);
    let _nats = OwnNats::start(port);
    let mut back = 0;
    for _ in 0..150 {
        back = command(0).await.0;
        if back == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(back, 200, "routing is back with NATS");
    settle_and_audit(&fleet, &c.url).await;
    let (_, w) = call(
        &http,
        format!("{}/api/user/wallet", c.nodes[0].http),
        Some(token),
        None,
    )
    .await;
    assert_eq!(w["balance"].as_f64(), Some(500.0), "{w}");
}

/// `csms serve` with these settings must stop at start-up: its stderr. A start that found the
/// shared PostgreSQL out of connections (other tests at once) is tried again.
fn failed_start(database_url: &str, env: &[(&str, String)]) -> String {
    for _ in 0..10 {
        let err = failed_start_once(database_url, env);
        if !err.contains("too many clients") {
            return err;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!("PostgreSQL kept refusing connections");
}

fn failed_start_once(database_url: &str, env: &[(&str, String)]) -> String {
    let mut command = csms();
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("CSMS_HTTP_ADDR", "127.0.0.1:0")
        .env("CSMS_OCPP_ADDR", "127.0.0.1:0")
        .env("CSMS_BCRYPT_COST", "4")
        .env("CSMS_DB_POOL_SIZE", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("csms runs");
    for _ in 0..300 {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(!status.success());
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
                .expect("stderr");
            return err;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("csms kept running with {env:?}");
}

/// The value of a counter in a node's `/metrics` (0 when absent).
async fn counter(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A NATS server with TLS (client certificates verified) and authorization on, its users limited
/// to the cluster's subject prefix: nodes with credentials route an operator command through a
/// node that does not hold the charger; a node without credentials, or without the CA, stops at
/// start-up with a clear error. A NATS user that is not a node (with the same permissions) cannot
/// send a command through `<prefix>.node.<id>.call`: unsigned, forged and replayed calls are
/// refused and never reach the charger, and a forged claim fences nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_with_authorization_and_tls() {
    if nats_url().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pki = crate::helpers::TestPki::create();
    let (cert, key) = pki.client("csms-node", crate::helpers::ClientCert::Valid);
    let prefix = new_prefix();
    let dir = pki.dir.display().to_string();
    let config = pki.dir.join("nats.conf");
    std::fs::write(
        &config,
        format!(
            r#"listen: "127.0.0.1:{port}"
tls {{
  cert_file: "{dir}/server.pem"
  key_file: "{dir}/server.key"
  ca_file: "{dir}/ca.pem"
  verify: true
  timeout: 10
}}
authorization {{
  users = [
    {{ user: "csms", password: "node-secret", permissions: {{ publish: "{prefix}.>", subscribe: "{prefix}.>" }} }}
    {{ user: "intruder", password: "intruder-secret", permissions: {{ publish: "{prefix}.>", subscribe: "{prefix}.>" }} }}
  ]
}}
"#
        ),
    )
    .unwrap();
    let _nats = OwnNats::with_config(port, &config);
    let url = format!("tls://127.0.0.1:{port}");
    let tls = [
        ("CSMS_NATS_CA", pki.ca_cert().display().to_string()),
        ("CSMS_NATS_CLIENT_CERT", cert.display().to_string()),
        ("CSMS_NATS_CLIENT_KEY", key.display().to_string()),
    ];
    let login = [
        ("CSMS_NATS_USER", "csms".to_string()),
        ("CSMS_NATS_PASSWORD", "node-secret".to_string()),
    ];
    let Some(c) = cluster_with(2, &url, &prefix, &[tls.as_slice(), &login].concat()).await else {
        return;
    };
    let http = reqwest::Client::new();
    let fleet = setup(&c.nodes[1], 1, 0, "XAUTH").await;
    let admin = admin_token(&http, &c.nodes[0].http).await;
    let device = fleet.devices[0].clone();
    let sim = &fleet.sims[0];
    until_held(&http, &c, &admin, &device, &c.ids[1]).await;

    // A NATS user allowed on the cluster's subjects, but not a node: it records calls.
    let intruder = async_nats::ConnectOptions::with_user_and_password(
        "intruder".into(),
        "intruder-secret".into(),
    )
    .add_root_certificates(pki.ca_cert())
    .add_client_certificate(cert.clone(), key.clone())
    .connect(url.as_str())
    .await
    .expect("the intruder has NATS credentials");
    let call_subject = format!("{prefix}.node.{}.call", c.ids[1]);
    let mut recorded = intruder.subscribe(call_subject.clone()).await.unwrap();
    intruder.flush().await.unwrap();

    let command = |via: usize, action: &'static str| {
        let (http, admin, device) = (http.clone(), admin.clone(), device.clone());
        let base = c.nodes[via].http.clone();
        async move {
            post(
                &http,
                format!("{base}/api/admin/chargers/{device}/commands/{action}"),
                &admin,
                json!({}),
            )
            .await
        }
    };
    let (s, v) = command(0, "GetConfiguration").await;
    assert_eq!(s, 200, "routed through the node without the charger: {v}");
    assert_eq!(sim.received_count("GetConfiguration"), 1);
    let genuine = tokio::time::timeout(
        Duration::from_secs(5),
        futures_util::StreamExt::next(&mut recorded),
    )
    .await
    .expect("the routed call was seen on NATS")
    .expect("subscription");

    // Unsigned, forged, replayed: each refused by the holder, none reaches the charger.
    let call = serde_json::to_vec(&json!({
        "device": device, "action": "Reset", "payload": {"type": "Hard"}, "timeout_ms": 2000,
        "from": c.ids[0], "issued_ms": chrono::Utc::now().timestamp_millis(), "nonce": "intruder-1"
    }))
    .unwrap();
    let forged = [&[b'0'; 64][..], &call].concat();
    let answers = format!("{prefix}._inbox.intruder");
    let before = counter(
        &http,
        &c.nodes[1].http,
        "csms_cluster_refused_messages_total",
    )
    .await;
    for payload in [call.clone(), forged, genuine.payload.to_vec()] {
        intruder
            .publish_with_reply(call_subject.clone(), answers.clone(), payload.into())
            .await
            .unwrap();
    }
    // A forged claim with a huge epoch: a node that believed it would close the charger's socket
    // (the holder) or route its calls to a node that does not exist (the other).
    let fake = json!({"device": device, "node": "intruder", "epoch": 1_000_000, "released": false});
    intruder
        .publish(format!("{prefix}.claims"), fake.to_string().into())
        .await
        .unwrap();
    intruder.flush().await.unwrap();
    let mut refused = before;
    for _ in 0..100 {
        refused = counter(
            &http,
            &c.nodes[1].http,
            "csms_cluster_refused_messages_total",
        )
        .await;
        if refused >= before + 4.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        refused,
        before + 4.0,
        "unsigned, forged, replayed calls and the claim"
    );
    assert_eq!(sim.received_count("Reset"), 0);
    assert_eq!(
        sim.received_count("GetConfiguration"),
        1,
        "the replay did not run"
    );
    // The forged claim fenced nothing: the holder kept its connection and still gets calls.
    let (s, v) = command(0, "GetConfiguration").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(sim.received_count("GetConfiguration"), 2);
    assert_eq!(
        charger(&http, &c.nodes[0].http, &admin, &device).await["node"],
        c.ids[1]
    );

    // Without credentials, or without the CA: start-up stops with a clear error.
    let node = |id: &str| node_env(&url, &prefix, &format!("{prefix}-{id}"));
    let err = failed_start(&c.url, &[node("anon"), tls.to_vec()].concat());
    assert!(
        err.contains("cannot join the cluster") && err.contains("authorization violation"),
        "{err}"
    );
    let err = failed_start(&c.url, &[node("noca"), login.to_vec()].concat());
    assert!(
        err.contains("cannot join the cluster") && err.contains("certificate"),
        "{err}"
    );
}

/// A node stalled past its lease (SIGSTOP) loses its charger to another node; on resume it is
/// fenced: it closes its stale connection and acts for the charger only through the new holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_node_is_fenced_on_resume() {
    let Some(nats) = nats_url() else { return };
    let Some(c) = cluster(2, &nats).await else {
        return;
    };
    let http = reqwest::Client::new();
    let fleet = setup(&c.nodes[0], 1, 0, "XSTALL").await;
    let admin = admin_token(&http, &c.nodes[1].http).await;
    let device = fleet.devices[0].clone();
    until_held(&http, &c, &admin, &device, &c.ids[0]).await;
    let pid = c.nodes[0].child.id().to_string();
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    // Past the lease (4 heartbeats of 1 s): node 0 counts as gone.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let old = &fleet.sims[0];
    let mut cfg = old.config();
    cfg.url = c.nodes[1].ocpp.clone();
    let new = Simulator::connect(cfg).await.expect("connects to node 1");
    signal("-CONT");
    tokio::time::timeout(Duration::from_secs(10), old.closed())
        .await
        .expect("the resumed node closed its stale connection");
    until_held(&http, &c, &admin, &device, &c.ids[1]).await;
    let (s, v) = post(
        &http,
        format!(
            "{}/api/admin/chargers/{device}/commands/GetConfiguration",
            c.nodes[0].http
        ),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(new.received_count("GetConfiguration"), 1);
    assert_eq!(old.received_count("GetConfiguration"), 0);
}

/// Cluster mode on SQLite is a clear start-up error.
#[test]
fn cluster_mode_needs_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let out = csms()
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("c.db").display()),
        )
        .env("CSMS_NATS_URL", "nats://127.0.0.1:4222")
        .env("CSMS_HTTP_ADDR", "127.0.0.1:0")
        .env("CSMS_OCPP_ADDR", "127.0.0.1:0")
        .output()
        .expect("csms runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cluster mode (CSMS_NATS_URL) needs PostgreSQL"),
        "{err}"
    );
}
