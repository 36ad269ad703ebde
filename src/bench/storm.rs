//! `csms bench storm`: chargers with passwords reconnect all at once after a server restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;
use tokio::sync::Semaphore;

use super::client::{Client, source_ip};
use super::customers::{self, Started};
use super::fixtures::register_chargers;
use super::{
    BenchArgs, Figures, ServerProcess, audit_problems, first_error, latency_ms, money, round,
    rounded,
};
use crate::error::AppError;
use crate::infra::db::schema::chargers;
use crate::infra::db::write_tx;

/// The password of the i-th storm charger (security profile 1).
fn storm_password(i: usize) -> String {
    format!("storm-secret-{i:08}")
}

/// The default bound of each wave (`--duration`): far beyond a healthy storm (10,000 chargers
/// boot in about 10–30 s on two cores), so the storm ends when it is over, not when a timer does.
pub const DEFAULT_DEADLINE_S: u64 = 300;

/// One connect + authenticate + boot attempt that has not finished by then has failed (and is
/// retried), as a charger's connection timeout would.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Back-off after a failed attempt, as OCPP 2.0.1 specifies for reconnecting (1.6 leaves it to
/// the charger): the first retry after `RetryBackOffWaitMinimum` (1 s here) plus a random
/// 0..`RetryBackOffRandomRange` (the storm's `--jitter-ms`), the wait doubling with every further
/// failure `RetryBackOffRepeatTimes` (3) times, so at most 8 s plus the random part.
fn back_off(failures: u32, jitter_ms: u64) -> Duration {
    use rand::RngExt;
    let minimum = 1000u64 << failures.saturating_sub(1).min(3);
    Duration::from_millis(minimum + rand::rng().random_range(0..=jitter_ms))
}

/// A refusal no retry can change: the server answered the handshake with 4xx (unknown charger,
/// wrong password, below its security profile, bad request). 5xx (e.g. 503 when the lookup failed),
/// a refused or reset connection, a timeout or a failed boot are retried.
fn definitive(error: &str) -> bool {
    error
        .split_once("HTTP error: ")
        .is_some_and(|(_, status)| status.starts_with('4'))
}

/// How one storm charger's reconnection ended.
enum Outcome {
    Booted(Box<Client>),
    /// Refused definitively (see [`definitive`]): it stopped trying.
    GaveUp,
    /// Still trying at the wave's deadline.
    CutOff,
}

/// Counters of one wave, shared by its chargers.
#[derive(Default)]
struct WaveCounters {
    booted: AtomicUsize,
    /// Attempts that failed and were retried (not counting the ones the deadline cut short).
    failed_attempts: AtomicUsize,
    last_boot_us: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl WaveCounters {
    fn error(&self, e: &str) {
        self.first_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(|| e.to_string());
    }
}

/// One storm charger: after a random 0..jitter ms it connects with its password and boots; a failed
/// attempt is retried with back-off and jitter ([`back_off`]) as real chargers do, until it booted,
/// was refused definitively, or the wave's deadline passed.
#[allow(clippy::too_many_arguments)]
async fn storm_charger(
    port: u16,
    id: String,
    i: usize,
    jitter_ms: u64,
    deadline: tokio::time::Instant,
    t0: Instant,
    counters: Arc<WaveCounters>,
    slots: Arc<Semaphore>,
) -> Outcome {
    use rand::RngExt;
    let password = storm_password(i);
    let mut wait = Duration::from_millis(rand::rng().random_range(0..=jitter_ms));
    let mut failures = 0u32;
    loop {
        tokio::time::sleep_until((tokio::time::Instant::now() + wait).min(deadline)).await;
        if tokio::time::Instant::now() >= deadline {
            return Outcome::CutOff;
        }
        // At most --parallel-handshakes attempts in flight (the load generator's bound).
        let Ok(Ok(_slot)) = tokio::time::timeout_at(deadline, slots.acquire()).await else {
            return Outcome::CutOff;
        };
        let until = (tokio::time::Instant::now() + ATTEMPT_TIMEOUT).min(deadline);
        let attempt = tokio::time::timeout_at(until, async {
            let mut c = Client::connect_as(port, &id, source_ip(i), Some(&password)).await?;
            c.boot().await?;
            Ok::<_, String>(c)
        })
        .await;
        let error = match attempt {
            Ok(Ok(c)) => {
                counters.booted.fetch_add(1, Ordering::Relaxed);
                counters
                    .last_boot_us
                    .fetch_max(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
                return Outcome::Booted(Box::new(c));
            }
            Err(_) if tokio::time::Instant::now() >= deadline => return Outcome::CutOff,
            Err(_) => "no answer within 30 s".to_string(),
            Ok(Err(e)) => e,
        };
        counters.error(&format!("{id}: {error}"));
        if definitive(&error) {
            return Outcome::GaveUp;
        }
        counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
        failures += 1;
        wait = back_off(failures, jitter_ms);
    }
}

/// What one wave of `n` chargers came to.
struct Wave {
    booted: usize,
    failed_attempts: usize,
    gave_up: usize,
    cut_off: usize,
    /// From the start of the wave until the last charger booted (s).
    last_boot_s: f64,
    /// From the start of the wave until it ended: every charger booted or gave up, or the
    /// deadline (s).
    wave_s: f64,
    first_error: Option<String>,
    clients: Vec<Client>,
}

impl Wave {
    fn all_booted(&self, n: usize) -> bool {
        self.booted == n
    }

    /// Until every charger booted (s); None unless every one did: there is no such time then.
    fn all_booted_s(&self, n: usize) -> Option<f64> {
        self.all_booted(n).then_some(self.last_boot_s)
    }
}

/// Connects the chargers `ids` at once and waits until the wave is over: every charger booted or
/// gave up, or `--duration` (default [`DEFAULT_DEADLINE_S`]) passed.
async fn storm_wave(args: &BenchArgs, port: u16, ids: &[String]) -> Wave {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.duration());
    let counters = Arc::new(WaveCounters::default());
    let slots = Arc::new(Semaphore::new(args.parallel_handshakes.max(1)));
    let t0 = Instant::now();
    let tasks: Vec<_> = ids
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, id)| {
            tokio::spawn(storm_charger(
                port,
                id,
                i,
                args.jitter_ms,
                deadline,
                t0,
                counters.clone(),
                slots.clone(),
            ))
        })
        .collect();
    let (mut clients, mut gave_up, mut cut_off) = (Vec::new(), 0, 0);
    for t in tasks {
        match t.await {
            Ok(Outcome::Booted(c)) => clients.push(*c),
            Ok(Outcome::GaveUp) => gave_up += 1,
            Ok(Outcome::CutOff) | Err(_) => cut_off += 1,
        }
    }
    let wave_s = t0.elapsed().as_secs_f64();
    let first_error = counters
        .first_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Wave {
        booted: counters.booted.load(Ordering::Relaxed),
        failed_attempts: counters.failed_attempts.load(Ordering::Relaxed),
        gave_up,
        cut_off,
        last_boot_s: Duration::from_micros(counters.last_boot_us.load(Ordering::Relaxed))
            .as_secs_f64(),
        wave_s,
        first_error,
        clients,
    }
}

/// N chargers with passwords (security profile 1, salted SHA-256) are connected; the server is
/// killed (-9) and restarted; all reconnect at once with 0..jitter ms of jitter. Reported: time until
/// every charger has booted again, handshakes per second, failed attempts, the server's peak RSS
/// and CPU during the storm, and what the same storm would cost with bcrypt-hashed passwords.
pub async fn storm(args: &BenchArgs, server: &mut ServerProcess) -> Result<Figures, AppError> {
    // What bcrypt at the default cost would take per handshake, measured here on an idle machine.
    let bcrypt_ms = tokio::task::spawn_blocking(|| {
        let hash = bcrypt::hash("storm-secret-00000000", 12).unwrap_or_default();
        let t = Instant::now();
        for _ in 0..4 {
            let _ = bcrypt::verify("storm-secret-00000000", &hash);
        }
        t.elapsed().as_secs_f64() * 1000.0 / 4.0
    })
    .await
    .unwrap_or(0.0);
    let n = args.chargers.unwrap_or(10_000);
    let db = server.db(4)?;
    let ids = register_chargers(&db, "STORM", n).await?;
    println!("registered {n} chargers; setting their passwords...");
    let list = ids.clone();
    db.run(move |c| {
        write_tx(c, |c| {
            for (i, id) in list.iter().enumerate() {
                diesel::update(chargers::table.filter(chargers::device_id.eq(id)))
                    .set((
                        chargers::security_profile.eq(1),
                        chargers::ocpp_password_hash
                            .eq(crate::domain::chargers::hash_secret(&storm_password(i))),
                    ))
                    .execute(c)?;
            }
            Ok::<_, AppError>(())
        })
    })
    .await?;
    // Customers who start charging during the storm, on chargers of their own (no password).
    let http = reqwest::Client::new();
    let connectors = args.connectors.max(1);
    let (cp_ids, sims) =
        customers::charge_points(server, &db, "STC", connectors, Some(args.hold_ms), 0).await?;
    let tokens = customers::customers(&db, &http, &server.http, "storm", STORM_CUSTOMERS).await?;
    let port = server.ocpp_port;
    println!("first connection of all {n} chargers...");
    let mut first = storm_wave(args, port, &ids).await;
    println!(
        "{} booted in {:.1} s; killing and restarting the server...",
        first.booted, first.last_boot_s
    );
    server.restart().await?;
    drop(std::mem::take(&mut first.clients)); // their sockets died with the server
    let (rss_before, cpu_before) = server.usage();
    let peak_rss = Arc::new(AtomicU64::new(rss_before));
    let sampling = {
        let (pid, peak) = (server.pid, peak_rss.clone());
        tokio::spawn(async move {
            loop {
                let (rss, _) = super::usage_of(pid);
                peak.fetch_max(rss, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let bench_cpu_before = super::usage_of(std::process::id()).1;
    let pg_cpu_before = super::postgres_cpu_s();
    // The customers' chargers come back at once (no jitter); their customers start charging on
    // them until every storm charger has booted again.
    let mut rebooted = 0;
    for sim in &sims {
        if sim.reboot(false).await.is_ok() {
            rebooted += 1;
        }
    }
    let (storm_done, done_rx) = tokio::sync::watch::channel(false);
    let workers = start_during_storm(
        &http,
        &server.http,
        tokens,
        cp_ids,
        connectors,
        args.retry_ms,
        done_rx,
    );
    println!(
        "storm: {n} chargers reconnect at once (jitter 0..{} ms); {STORM_CUSTOMERS} customers start \
         charging on {connectors} other connectors meanwhile...",
        args.jitter_ms
    );
    let mut wave = storm_wave(args, port, &ids).await;
    let _ = storm_done.send(true);
    if !wave.all_booted(n) {
        println!(
            "the storm did not finish: {} of {n} chargers booted again, {} refused for good, {} still \
             retrying when the wave's bound of {} s (--duration) passed",
            wave.booted,
            wave.gave_up,
            wave.cut_off,
            args.duration()
        );
    }
    sampling.abort();
    // The server's own view (it restarted just before the storm): how long it took to answer the
    // start requests (every answer, lost races included) and the chargers to answer RemoteStart.
    let metrics = server.metrics().await;
    let server_start_p99 = quantile_ms(
        &metrics,
        "csms_http_request_duration_seconds{method=\"POST\",route=\"/api/user/charging/start\",",
    );
    let remote_start_p99 = quantile_ms(
        &metrics,
        "csms_ocpp_call_duration_seconds{action=\"RemoteStartTransaction\",",
    );
    let (_, cpu) = server.usage();
    let bench_cpu = super::usage_of(std::process::id()).1 - bench_cpu_before;
    let pg_cpu = super::postgres_cpu_s() - pg_cpu_before;
    let (mut lat, in_use, other, first_other) = customers::gather(workers).await;
    drop(std::mem::take(&mut wave.clients));
    let open_left = customers::settle(&db, 20).await?;
    let double_bookings: u64 = sims.iter().map(|s| s.busy_rejections()).sum();
    let audit = db.run(crate::domain::wallet::audit).await?;
    for s in &sims {
        s.disconnect().await;
    }
    let starts = lat.len();
    let (start_p50, start_p99, start_max) = latency_ms(&mut lat);
    let cores = std::thread::available_parallelism()
        .map(|c| c.get())
        .unwrap_or(1) as f64;
    let booted = wave.booted;
    let all_booted_s = wave.all_booted_s(n).map(|s| round(s, 2));
    let mut figures: Figures = vec![
        ("chargers", "chargers (security profile 1)", json!(n)),
        ("jitter_ms", "reconnect jitter (ms)", json!(args.jitter_ms)),
        (
            "first_booted",
            "first connection: chargers booted",
            json!(first.booted),
        ),
        (
            "first_connect_s",
            "first connection of all (s; null unless all booted)",
            json!(first.all_booted_s(n).map(|s| round(s, 2))),
        ),
        ("booted", "booted again after the restart", json!(booted)),
        (
            "all_booted_s",
            "restart → every charger booted again (s, jitter included; null unless all did)",
            json!(all_booted_s),
        ),
        (
            "booted_within_s",
            "the same: booted within (s)",
            json!(all_booted_s),
        ),
        (
            "storm_finished",
            "the storm ended by itself (every charger booted or refused) before the bound",
            json!(wave.cut_off == 0),
        ),
        (
            "storm_s",
            "the storm's length: restart → its end or the bound (s)",
            rounded(wave.wave_s, 2),
        ),
        (
            "handshakes_per_s",
            "authenticated handshakes + boot per second (until the last boot)",
            rounded(booted as f64 / wave.last_boot_s.max(1e-3), 1),
        ),
        (
            "failed_handshakes",
            "failed attempts (connect, authenticate or boot), each retried after a back-off",
            json!(wave.failed_attempts),
        ),
        (
            "gave_up",
            "chargers refused for good (4xx to the handshake; not retried)",
            json!(wave.gave_up),
        ),
        (
            "cut_off",
            "chargers still retrying at the bound (--duration)",
            json!(wave.cut_off),
        ),
        ("not_booted", "chargers not booted again", json!(n - booted)),
        (
            "customer_connectors",
            "customers' connectors (reconnected right after the restart)",
            json!(connectors),
        ),
        (
            "customer_chargers_rebooted",
            "customers' chargers back after the restart",
            json!(rebooted),
        ),
        (
            "customers",
            "customers starting during the storm",
            json!(STORM_CUSTOMERS),
        ),
        (
            "starts_during_storm",
            "successful starts during the storm",
            json!(starts),
        ),
        (
            "start_p50_during_storm_ms",
            "start latency p50 during the storm (ms)",
            json!(start_p50),
        ),
        (
            "start_p99_during_storm_ms",
            "start latency p99 during the storm (ms)",
            json!(start_p99),
        ),
        (
            "start_max_during_storm_ms",
            "start latency max during the storm (ms)",
            json!(start_max),
        ),
        (
            "server_start_p99_ms",
            "the server's p99 to answer a start request (all answers, from /metrics; ms)",
            json!(server_start_p99),
        ),
        (
            "remote_start_p99_ms",
            "the server's p99 for RemoteStartTransaction to be answered (from /metrics; ms)",
            json!(remote_start_p99),
        ),
        (
            "start_in_use",
            "start: in-use answers (lost races, expected)",
            json!(in_use),
        ),
        (
            "start_errors",
            "start: other answers (must be 0)",
            json!(other),
        ),
        (
            "open_sessions_left",
            "sessions still open 20 s after the storm (must be 0)",
            json!(open_left),
        ),
    ];
    figures.extend(money(double_bookings, &audit));
    figures.extend([
        (
            "peak_rss_kib",
            "server peak RSS during the storm (KiB)",
            json!(peak_rss.load(Ordering::Relaxed)),
        ),
        (
            "cpu_s",
            "server CPU during the storm (s)",
            rounded(cpu - cpu_before, 2),
        ),
        (
            "bench_cpu_s",
            "load generator (this process) CPU during the storm (s)",
            rounded(bench_cpu, 2),
        ),
        (
            "postgres_cpu_s",
            "PostgreSQL (all its processes) CPU during the storm (s)",
            rounded(pg_cpu, 2),
        ),
        (
            "machine_cpu_s",
            "CPU the machine had during the storm (s: cores x duration)",
            rounded(cores * wave.wave_s, 2),
        ),
        (
            "bcrypt_verify_ms",
            "one bcrypt verify at cost 12 here (ms)",
            rounded(bcrypt_ms, 1),
        ),
        (
            "bcrypt_storm_cpu_s",
            "the same storm with bcrypt-hashed passwords: CPU for the verifies alone (s)",
            rounded(bcrypt_ms * n as f64 / 1000.0, 1),
        ),
        (
            "bcrypt_storm_min_s",
            "…spread over every core, at best (s)",
            rounded(bcrypt_ms * n as f64 / 1000.0 / cores, 1),
        ),
    ]);
    let (handshake, start) = (wave.first_error.as_deref(), first_other.as_deref());
    figures.extend(first_error(
        "first_handshake_error",
        "first failed attempt",
        handshake,
        200,
    ));
    figures.extend(first_error(
        "first_start_error",
        "first other start answer",
        start,
        200,
    ));
    figures.extend(audit_problems(&audit));
    Ok(figures)
}

/// The 0.99 quantile (in ms) of a Prometheus summary, given its name and first labels.
fn quantile_ms(metrics: &str, prefix: &str) -> Option<f64> {
    super::metric_quantile(metrics, prefix, "0.99").map(|s| round(s * 1000.0, 2))
}

/// Customers during the storm.
const STORM_CUSTOMERS: usize = 12;

/// One task per customer: starts on a rotating connector (as the start scenario does) until
/// `done`; returns the successful starts' latencies (µs), the in-use answers, the other answers and
/// the first of those.
fn start_during_storm(
    http: &reqwest::Client,
    base: &str,
    tokens: Vec<String>,
    cp_ids: Vec<String>,
    k: usize,
    retry_ms: u64,
    done: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<customers::Starts>> {
    tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let (http, base, ids, done) =
                (http.clone(), base.to_string(), cp_ids.clone(), done.clone());
            tokio::spawn(async move {
                let (mut lat, mut in_use, mut other, mut first) = (Vec::new(), 0u64, 0u64, None);
                let mut round_no = i;
                while !*done.borrow() {
                    round_no += 7;
                    let slot = round_no % k;
                    match customers::start(&http, &base, &token, &ids[slot / 2], slot % 2 + 1).await
                    {
                        Started::Ok(micros, _) => lat.push(micros),
                        Started::InUse => {
                            in_use += 1;
                            // A lost race: a moment (--retry-ms, at least 10 ms) before the next try.
                            tokio::time::sleep(Duration::from_millis(retry_ms.max(10))).await;
                        }
                        Started::Other(e) => {
                            other += 1;
                            first.get_or_insert(e);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                (lat, in_use, other, first)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_4xx_refusal_is_definitive() {
        for (error, refused_for_good) in [
            ("handshake: HTTP error: 401 Unauthorized", true),
            ("handshake: HTTP error: 404 Not Found", true),
            ("handshake: HTTP error: 403 Forbidden", true),
            ("handshake: HTTP error: 503 Service Unavailable", false),
            ("connect: Connection refused (os error 111)", false),
            ("closed", false),
            ("no answer within 30 s", false),
        ] {
            assert_eq!(definitive(error), refused_for_good, "{error}");
        }
    }

    #[test]
    fn back_off_doubles_three_times_plus_jitter() {
        for (failures, minimum) in [(1, 1000), (2, 2000), (3, 4000), (4, 8000), (9, 8000)] {
            for _ in 0..20 {
                let ms = back_off(failures, 500).as_millis() as u64;
                assert!((minimum..=minimum + 500).contains(&ms), "{failures}: {ms}");
            }
        }
        assert_eq!(back_off(1, 0), Duration::from_millis(1000));
    }

    #[test]
    fn a_time_until_all_booted_only_when_all_booted() {
        let wave = |booted| Wave {
            booted,
            failed_attempts: 0,
            gave_up: 0,
            cut_off: 10 - booted,
            last_boot_s: 4.5,
            wave_s: 20.0,
            first_error: None,
            clients: Vec::new(),
        };
        assert_eq!(wave(10).all_booted_s(10), Some(4.5));
        assert_eq!(wave(9).all_booted_s(10), None);
    }
}
