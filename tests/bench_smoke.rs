//! Quick variants of each `csms bench` scenario: small N, a few seconds, correctness only (everything
//! connected, every answered MeterValues persisted, no double booking, money conserved). Never timing.

mod support;

use serde_json::Value;

fn bench(args: &[&str], postgres: bool) -> Option<Value> {
    let mut cmd = support::process::csms();
    cmd.arg("bench").args(args).env("RUST_LOG", "warn");
    if postgres {
        let url = support::postgres_base_or_skip()?;
        cmd.args(["--database-url", &url]);
    }
    let out = cmd.output().expect("run csms bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "csms bench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("JSON summary line");
    Some(serde_json::from_str(last).expect("summary is JSON"))
}

fn connections(postgres: bool, ocpp: &str) {
    let Some(r) = bench(
        &[
            "connections",
            "--chargers",
            "300",
            "--duration",
            "30",
            "--ocpp",
            ocpp,
        ],
        postgres,
    ) else {
        return;
    };
    assert_eq!(r["scenario"], "connections");
    assert_eq!(r["ocpp"], ocpp, "{r}");
    assert_eq!(r["connected"], 300, "{r}");
    assert_eq!(r["failed"], 0, "{r}");
    assert_eq!(r["online_reported"], 300, "{r}");
    assert!(r["rss_kib"].as_u64().unwrap() > 0);
}

fn ingest(postgres: bool, ocpp: &str) {
    let Some(r) = bench(
        &[
            "ingest",
            "--chargers",
            "10",
            "--duration",
            "2",
            "--pool-size",
            "8",
            "--ocpp",
            ocpp,
        ],
        postgres,
    ) else {
        return;
    };
    assert_eq!(r["scenario"], "ingest");
    assert_eq!(r["ocpp"], ocpp, "{r}");
    let acked = r["acked"].as_i64().unwrap();
    assert!(acked > 0, "{r}");
    assert!(
        r["persisted"].as_i64().unwrap() >= acked,
        "every answered MeterValues is persisted: {r}"
    );
    // Every charger sent in a live customer session, and every session was metered by it.
    assert_eq!(r["sessions_metered"], r["chargers"], "{r}");
    assert!(r["ceiling_msgs_per_s"].as_f64().unwrap() > 0.0);
    // The ceiling has the server's shape: its lanes (a quarter of the pool of 8 on PostgreSQL,
    // one on SQLite) and its mean batch, at most one message per session per batch.
    let lanes = if postgres { 2 } else { 1 };
    assert_eq!(r["ceiling_lanes"], lanes, "{r}");
    let batch = r["ceiling_batch"].as_u64().unwrap();
    assert!((1..=10u64.div_ceil(lanes)).contains(&batch), "{r}");
    // Both sides are rated on the whole work, the message log's rows included: the server's
    // log was drained and dropped nothing, so the ratio compares the same work.
    assert_eq!(r["log_rows_dropped"], 0, "{r}");
    assert!(r["log_drain_s"].as_f64().unwrap() >= 0.0, "{r}");
    assert!(r["msgs_with_log_per_s"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["ratio"].as_f64().unwrap() > 0.0, "{r}");
}

fn start(postgres: bool, ocpp: &str) {
    let Some(r) = bench(
        &[
            "start",
            "--concurrency",
            "8",
            "--connectors",
            "4",
            "--duration",
            "2",
            "--pool-size",
            "4",
            "--ocpp",
            ocpp,
        ],
        postgres,
    ) else {
        return;
    };
    assert_eq!(r["scenario"], "start");
    assert_eq!(r["ocpp"], ocpp, "{r}");
    assert!(r["starts"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["double_bookings"], 0, "{r}");
    assert_eq!(r["conservation_ok"], true, "{r}");
    assert_eq!(r["other_errors"], 0, "{r}");
    // The ceiling runs the whole cycle (reserve+debit, activate, StartTransaction, hold,
    // StopTransaction) and leaves the books balanced; the reserve-only figure is kept beside it.
    assert!(r["ceiling_starts_per_s"].as_f64().unwrap() > 0.0, "{r}");
    assert!(
        r["ceiling_reserve_only_per_s"].as_f64().unwrap() > 0.0,
        "{r}"
    );
    assert_eq!(r["conservation_after_ceiling_ok"], true, "{r}");
    assert_eq!(r["ceiling_cycle_per_s"], r["ceiling_starts_per_s"], "{r}");
    assert!(r["ratio_cycle"].as_f64().unwrap() > 0.0, "{r}");
}

/// A few seconds of soak: chargers sending MeterValues, customers starting and stopping, the
/// console polled; samples taken, nothing failed, the books balance.
fn soak(postgres: bool) {
    let Some(r) = bench(
        &[
            "soak",
            "--minutes",
            "0.2",
            "--chargers",
            "50",
            "--connectors",
            "8",
        ],
        postgres,
    ) else {
        return;
    };
    assert_eq!(r["scenario"], "soak");
    assert_eq!(r["chargers_connected"], 50, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert!(r["starts"].as_u64().unwrap() > 0, "{r}");
    assert!(r["meter_values"].as_u64().unwrap() > 0, "{r}");
    assert!(r["console_polls"].as_u64().unwrap() > 0, "{r}");
    assert!(r["sample_count"].as_u64().unwrap() >= 3, "{r}");
    let samples = r["samples"].as_array().unwrap();
    assert!(
        samples.iter().all(|s| s["rss_kib"].as_u64().unwrap() > 0
            && s["open_files"].as_u64().unwrap() > 0
            && s["db_bytes"].as_u64().unwrap() > 0),
        "{r}"
    );
    assert!(r["rss_slope_kib_per_min"].is_number(), "{r}");
    assert!(r["rss_slope_second_half_kib_per_min"].is_number(), "{r}");
    assert!(r["p99_slope_ms_per_min"].is_number(), "{r}");
    assert_eq!(r["open_sessions_left"], 0, "{r}");
    assert_eq!(r["double_bookings"], 0, "{r}");
    assert_eq!(r["audit_ok"], true, "{r}");
}

/// A small reconnect storm with customers starting meanwhile: every charger back, starts made,
/// no start error but lost races, the books balance.
/// With the default --duration (a bound, not the storm's length) the storm runs until it is over.
fn storm(postgres: bool) {
    let Some(r) = bench(
        &[
            "storm",
            "--chargers",
            "300",
            "--jitter-ms",
            "1000",
            "--connectors",
            "4",
        ],
        postgres,
    ) else {
        return;
    };
    assert_eq!(r["scenario"], "storm");
    assert_eq!(r["booted"], 300, "{r}");
    assert_eq!(r["not_booted"], 0, "{r}");
    assert_eq!(r["storm_finished"], true, "{r}");
    assert_eq!(r["gave_up"], 0, "{r}");
    assert_eq!(r["cut_off"], 0, "{r}");
    // Every charger booted: "until all booted" is a time, the storm's own length.
    assert!(r["all_booted_s"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(r["booted_within_s"], r["all_booted_s"], "{r}");
    assert_eq!(r["first_booted"], 300, "{r}");
    assert!(r["first_connect_s"].is_number(), "{r}");
    assert_eq!(r["customer_chargers_rebooted"], 2, "{r}");
    assert!(r["starts_during_storm"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["start_errors"], 0, "{r}");
    assert_eq!(r["open_sessions_left"], 0, "{r}");
    assert_eq!(r["double_bookings"], 0, "{r}");
    assert_eq!(r["audit_ok"], true, "{r}");
}

/// A storm cut short by its bound (jitter up to 3 s, bound 1 s): not every charger booted, so
/// there is no time "until all booted" (null), and the output says how many booted and how many
/// were still trying; the money side is still exact.
fn storm_cut_short(postgres: bool) {
    let Some(r) = bench(
        &[
            "storm",
            "--chargers",
            "50",
            "--duration",
            "1",
            "--jitter-ms",
            "3000",
            "--connectors",
            "4",
        ],
        postgres,
    ) else {
        return;
    };
    let booted = r["booted"].as_u64().unwrap();
    assert!(booted < 50, "{r}");
    assert_eq!(r["not_booted"], 50 - booted, "{r}");
    assert_eq!(
        booted + r["gave_up"].as_u64().unwrap() + r["cut_off"].as_u64().unwrap(),
        50,
        "every charger booted, gave up or was cut off: {r}"
    );
    assert!(r["cut_off"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["storm_finished"], false, "{r}");
    assert!(r["all_booted_s"].is_null(), "{r}");
    assert!(r["booted_within_s"].is_null(), "{r}");
    assert!(r["first_connect_s"].is_null(), "{r}");
    assert!(r["first_booted"].as_u64().unwrap() < 50, "{r}");
    assert_eq!(r["start_errors"], 0, "{r}");
    assert_eq!(r["open_sessions_left"], 0, "{r}");
    assert_eq!(r["double_bookings"], 0, "{r}");
    assert_eq!(r["audit_ok"], true, "{r}");
}

#[test]
fn connections_sqlite() {
    connections(false, "1.6")
}
#[test]
fn connections_postgres() {
    connections(true, "1.6")
}
/// The same on OCPP 2.0.1 chargers.
#[test]
fn connections_201_sqlite() {
    connections(false, "2.0.1")
}
#[test]
fn connections_201_postgres() {
    connections(true, "2.0.1")
}
#[test]
fn ingest_sqlite() {
    ingest(false, "1.6")
}
#[test]
fn ingest_postgres() {
    ingest(true, "1.6")
}
/// The same on OCPP 2.0.1 chargers.
#[test]
fn ingest_201_sqlite() {
    ingest(false, "2.0.1")
}
#[test]
fn ingest_201_postgres() {
    ingest(true, "2.0.1")
}
#[test]
fn start_sqlite() {
    start(false, "1.6")
}
#[test]
fn start_postgres() {
    start(true, "1.6")
}
/// The same on OCPP 2.0.1 chargers.
#[test]
fn start_201_sqlite() {
    start(false, "2.0.1")
}
#[test]
fn start_201_postgres() {
    start(true, "2.0.1")
}

#[test]
fn soak_sqlite() {
    soak(false)
}
#[test]
fn soak_postgres() {
    soak(true)
}
#[test]
fn storm_sqlite() {
    storm(false)
}
#[test]
fn storm_postgres() {
    storm(true)
}
#[test]
fn storm_cut_short_sqlite() {
    storm_cut_short(false)
}
#[test]
fn storm_cut_short_postgres() {
    storm_cut_short(true)
}

/// Whether the machine's NATS answers (cluster runs); required under CI.
fn nats_up() -> bool {
    let up = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:4222".parse().expect("address"),
        std::time::Duration::from_secs(2),
    )
    .is_ok();
    if !up {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "NATS is required under CI (nothing at 127.0.0.1:4222)"
        );
        eprintln!("skipped: cluster half (no NATS at 127.0.0.1:4222)");
    }
    up
}

/// `connections --nodes 3`: the chargers spread over three nodes, by two load-generator
/// processes when one would exceed its share.
#[test]
fn connections_cluster() {
    if !nats_up() {
        return;
    }
    let Some(r) = bench(
        &[
            "connections",
            "--nodes",
            "3",
            "--chargers",
            "300",
            "--per-generator",
            "150",
            "--duration",
            "30",
        ],
        true,
    ) else {
        return;
    };
    assert_eq!(r["nodes"], 3, "{r}");
    assert_eq!(r["load_generators"], 2, "{r}");
    assert_eq!(r["connected"], 300, "{r}");
    assert_eq!(r["failed"], 0, "{r}");
    let held: u64 = r["per_node"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["chargers"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(held, 300, "every charger held by exactly one node: {r}");
}

/// `start --nodes 2`: customers and chargers on different nodes race; still no double booking.
#[test]
fn start_cluster() {
    if !nats_up() {
        return;
    }
    let Some(r) = bench(
        &[
            "start",
            "--nodes",
            "2",
            "--concurrency",
            "8",
            "--connectors",
            "4",
            "--duration",
            "2",
            "--pool-size",
            "4",
        ],
        true,
    ) else {
        return;
    };
    assert_eq!(r["nodes"], 2, "{r}");
    assert!(r["starts"].as_u64().unwrap() > 0, "{r}");
    assert!(r["cross_node_share"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(r["double_bookings"], 0, "{r}");
    assert_eq!(r["conservation_ok"], true, "{r}");
    assert_eq!(r["other_errors"], 0, "{r}");
}
