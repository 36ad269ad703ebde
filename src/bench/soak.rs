//! `csms bench soak`: steady load for `--minutes`. Chargers send MeterValues every 10 s, customers
//! start and stop sessions through the HTTP API all the time, an operator polls the console's APIs;
//! every interval the server's memory, open files, database size, message-log rows and the start
//! p99 of the interval are sampled. Reported: the samples, their least-squares slopes, every error,
//! and the money audit at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

use super::client::{Client, source_ip};
use super::customers::{self, Started};
use super::fixtures::{metric_sum, register_chargers};
use super::{
    BenchArgs, Figures, ServerProcess, audit_problems, first_error, latency_ms, money, round,
    rounded, slope,
};
use crate::error::AppError;
use crate::infra::db::schema::{meter_values, ocpp_messages};
use crate::infra::db::{DbConnection, DbUrl};

/// The server's message-log limit during a soak (frames per charger; the server's default is
/// 1000): low enough that trimming reaches its steady state within a few minutes (a charger logs
/// 12 frames a minute here).
pub const MESSAGE_LOG_LIMIT: i64 = 50;

/// Errors of the run, by kind, with the first message of each.
#[derive(Default)]
struct Errors {
    counts: std::collections::BTreeMap<&'static str, u64>,
    first: Option<String>,
}

type Shared<T> = Arc<Mutex<T>>;

fn error(errors: &Shared<Errors>, kind: &'static str, what: String) {
    let mut e = errors.lock().unwrap_or_else(|p| p.into_inner());
    *e.counts.entry(kind).or_default() += 1;
    e.first.get_or_insert(format!("{kind}: {what}"));
}

fn take(v: &Shared<Vec<f64>>) -> Vec<f64> {
    std::mem::take(&mut *v.lock().unwrap_or_else(|p| p.into_inner()))
}

/// The database's size in bytes: `pg_database_size`, or the SQLite file with its -wal and -shm.
fn database_bytes(c: &mut DbConnection, url: &str) -> u64 {
    match c {
        DbConnection::Postgresql(pg) => diesel::select(
            diesel::dsl::sql::<diesel::sql_types::BigInt>("pg_database_size(current_database())"),
        )
        .get_result::<i64>(pg)
        .map(|b| b as u64)
        .unwrap_or(0),
        DbConnection::Sqlite(_) => {
            let Ok(parsed) = DbUrl::parse(url) else {
                return 0;
            };
            ["", "-wal", "-shm"]
                .iter()
                .filter_map(|s| std::fs::metadata(format!("{}{s}", parsed.target)).ok())
                .map(|m| m.len())
                .sum()
        }
    }
}

fn open_files(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
/// One meter-only charger: connects, boots, then sends MeterValues every `every` (starting at a
/// random point of the first period) until `stop`; between them it reads, answering pings.
async fn meter_charger(
    port: u16,
    id: String,
    i: usize,
    every: Duration,
    slots: Arc<Semaphore>,
    connected: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
    errors: Shared<Errors>,
    mut stop: watch::Receiver<bool>,
) {
    use rand::RngExt;
    let client = {
        let Ok(_slot) = slots.acquire().await else {
            return;
        };
        let attempt = tokio::time::timeout(Duration::from_secs(30), async {
            let mut c = Client::connect(port, &id, source_ip(i)).await?;
            c.boot().await?;
            Ok::<_, String>(c)
        })
        .await;
        match attempt {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return error(&errors, "connect", e),
            Err(_) => return error(&errors, "connect", "timed out".into()),
        }
    };
    let mut client = client;
    connected.fetch_add(1, Ordering::Relaxed);
    let offset = rand::rng().random_range(0..every.as_millis().max(1) as u64);
    let mut next = tokio::time::Instant::now() + Duration::from_millis(offset);
    let mut register = 0u64;
    loop {
        let wait = next.saturating_duration_since(tokio::time::Instant::now());
        tokio::select! {
            r = client.idle_for(wait) => {
                if let Err(e) = r {
                    return error(&errors, "charger connection", e);
                }
            }
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        register += 10;
        let payload = json!({"connectorId": 1, "meterValue": [{"timestamp": crate::infra::timestamps::now_timestamp(),
            "sampledValue": [{"value": register.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]});
        match tokio::time::timeout(Duration::from_secs(30), client.call("MeterValues", payload))
            .await
        {
            Ok(Ok(_)) => {
                sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(e)) => return error(&errors, "MeterValues", e),
            Err(_) => return error(&errors, "MeterValues", "no answer within 30 s".into()),
        }
        next += every;
    }
}

/// One customer on a connector of their own: start, charge `hold` (plus up to half as much
/// again), stop and wait until the session has ended, pause, again; until `deadline` (the last
/// session is always stopped).
#[allow(clippy::too_many_arguments)]
async fn customer(
    http: reqwest::Client,
    base: String,
    token: String,
    device: String,
    connector: usize,
    hold: Duration,
    deadline: Instant,
    latencies: Shared<Vec<f64>>,
    counts: Arc<[AtomicU64; 2]>,
    errors: Shared<Errors>,
) {
    use rand::RngExt;
    while Instant::now() < deadline {
        let pause = hold / 2;
        match customers::start(&http, &base, &token, &device, connector).await {
            Started::Ok(micros, session) => {
                latencies
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(micros);
                counts[0].fetch_add(1, Ordering::Relaxed);
                let extra = rand::rng().random_range(0..=hold.as_millis() as u64 / 2);
                tokio::time::sleep(hold + Duration::from_millis(extra)).await;
                if let Err(e) = customers::stop_and_wait(
                    &http,
                    &base,
                    &token,
                    &session,
                    Duration::from_secs(30),
                )
                .await
                {
                    error(&errors, "stop", e);
                }
            }
            Started::InUse => {
                // Their own connector: only possible while the previous session's end is still
                // being recorded. Counted apart; a moment, then again.
                counts[1].fetch_add(1, Ordering::Relaxed);
            }
            Started::Other(e) => error(&errors, "start", e),
        }
        tokio::time::sleep(pause).await;
    }
}

#[allow(clippy::too_many_arguments)]
/// The operator's console: the chargers list every 3 s; sessions, reservations and one charger's
/// message log every 5 s; /healthz and /metrics with them (all scaled with `scale`), until `stop`.
async fn operator(
    http: reqwest::Client,
    base: String,
    devices: Vec<String>,
    scale: f64,
    latencies: Shared<Vec<f64>>,
    polls: Arc<AtomicU64>,
    errors: Shared<Errors>,
    stop: watch::Receiver<bool>,
) {
    use rand::RngExt;
    let login = http
        .post(format!("{base}/api/admin/login"))
        .json(&json!({"email": "bench@example.com", "password": "bench-password"}))
        .send()
        .await;
    let token = match login {
        Ok(r) => r
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v["token"].as_str().map(str::to_string)),
        Err(_) => None,
    };
    let Some(token) = token else {
        return error(&errors, "operator", "login failed".into());
    };
    let tick = Duration::from_secs_f64(1.0 * scale);
    let mut n = 0u64;
    while !*stop.borrow() {
        let mut paths = Vec::new();
        if n.is_multiple_of(3) {
            paths.push("/api/admin/chargers".to_string());
            paths.push("/healthz".into());
        }
        if n.is_multiple_of(5) {
            let device = &devices[rand::rng().random_range(0..devices.len())];
            paths.push("/api/admin/sessions?limit=200".into());
            paths.push("/api/admin/reservations".into());
            paths.push(format!("/api/admin/chargers/{device}/messages?limit=100"));
            paths.push("/metrics".into());
        }
        for path in paths {
            let t = Instant::now();
            match http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    let _ = r.bytes().await;
                    polls.fetch_add(1, Ordering::Relaxed);
                    if path == "/api/admin/chargers" {
                        latencies
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(t.elapsed().as_micros() as f64);
                    }
                }
                Ok(r) => error(&errors, "operator", format!("{path}: {}", r.status())),
                Err(e) => error(&errors, "operator", format!("{path}: {e}")),
            }
        }
        n += 1;
        tokio::time::sleep(tick).await;
    }
}

/// One sample of the server.
struct Sample {
    t_min: f64,
    rss_kib: u64,
    open_files: u64,
    db_bytes: u64,
    msglog_rows: i64,
    meter_rows: i64,
    threads: u64,
    starts: usize,
    start_p99_ms: f64,
    console_p99_ms: f64,
}

impl Sample {
    fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }

    fn db_mib(&self) -> f64 {
        self.db_bytes as f64 / 1_048_576.0
    }
}

pub async fn soak(args: &BenchArgs, server: &ServerProcess) -> Result<Figures, AppError> {
    let n = args.chargers.unwrap_or(2000);
    let total = Duration::from_secs_f64(args.minutes.max(0.01) * 60.0);
    let sample_every = if args.minutes >= 2.0 {
        Duration::from_secs(60)
    } else {
        total / 6
    };
    let meter_every = Duration::from_secs(10).min(sample_every / 2);
    // Everything else the run does (the customers' charge, the console's polling) scaled alike.
    let scale = meter_every.as_secs_f64() / 10.0;
    let connectors = args.connectors.max(1);
    let log_limit = args.message_log_limit.unwrap_or(MESSAGE_LOG_LIMIT);
    let db = server.db(4)?;
    let http = reqwest::Client::new();

    let (cp_ids, sims) =
        customers::charge_points(server, &db, "SOAKC", connectors, None, 1).await?;
    let m = n.saturating_sub(cp_ids.len());
    let ids = register_chargers(&db, "SOAK", m).await?;
    let tokens = customers::customers(&db, &http, &server.http, "soak", connectors).await?;
    println!(
        "{} chargers for {connectors} customers, {m} chargers sending MeterValues every {:.1} s; connecting...",
        cp_ids.len(),
        meter_every.as_secs_f64()
    );
    let errors: Shared<Errors> = Arc::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let connected = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let slots = Arc::new(Semaphore::new(args.parallel_handshakes.max(1)));
    let meters: Vec<_> = ids
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, id)| {
            tokio::spawn(meter_charger(
                server.ocpp_port,
                id,
                i,
                meter_every,
                slots.clone(),
                connected.clone(),
                sent.clone(),
                errors.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();
    let connect_until = Instant::now() + Duration::from_secs(120);
    while (connected.load(Ordering::Relaxed) as usize) < m && Instant::now() < connect_until {
        if errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .counts
            .contains_key("connect")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{} connected; soaking for {:.1} min (a sample every {:.0} s)...",
        connected.load(Ordering::Relaxed),
        args.minutes,
        sample_every.as_secs_f64()
    );

    let t0 = Instant::now();
    let deadline = t0 + total;
    let (_, cpu_before) = server.usage();
    let start_lat: Shared<Vec<f64>> = Arc::default();
    let console_lat: Shared<Vec<f64>> = Arc::default();
    let counts: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let hold = Duration::from_secs_f64(2.0 * scale);
    let customers: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            tokio::spawn(customer(
                http.clone(),
                server.http.clone(),
                token,
                cp_ids[i / 2].clone(),
                i % 2 + 1,
                hold,
                deadline,
                start_lat.clone(),
                counts.clone(),
                errors.clone(),
            ))
        })
        .collect();
    let polls = Arc::new(AtomicU64::new(0));
    let console = tokio::spawn(operator(
        http.clone(),
        server.http.clone(),
        ids.iter().chain(&cp_ids).cloned().collect(),
        scale,
        console_lat.clone(),
        polls.clone(),
        errors.clone(),
        stop_rx.clone(),
    ));

    let mut samples = Vec::new();
    let intervals = ((total.as_secs_f64() / sample_every.as_secs_f64()).round() as u32).max(1);
    let url = server.database_url.clone();
    for k in 1..=intervals {
        tokio::time::sleep_until((t0 + sample_every * k).into()).await;
        let (rss_kib, _) = server.usage();
        let url = url.clone();
        let (db_bytes, msglog_rows, meter_rows) = db
            .run(move |c| {
                let rows: i64 = ocpp_messages::table.count().get_result(c)?;
                let meters: i64 = meter_values::table.count().get_result(c)?;
                Ok((database_bytes(c, &url), rows, meters))
            })
            .await?;
        let mut lat = take(&start_lat);
        let s = Sample {
            t_min: t0.elapsed().as_secs_f64() / 60.0,
            rss_kib,
            open_files: open_files(server.pid),
            db_bytes,
            msglog_rows,
            meter_rows,
            // The runtime's blocking pool grows and shrinks with the load.
            threads: super::status_field(server.pid, "Threads:"),
            starts: lat.len(),
            start_p99_ms: latency_ms(&mut lat).1,
            console_p99_ms: latency_ms(&mut take(&console_lat)).1,
        };
        println!(
            "  {:5.2} min: RSS {:.1} MiB, {} threads, {} open files, database {:.1} MiB, {} message-log rows, {} meter rows, {} starts (p99 {} ms), chargers list p99 {} ms",
            s.t_min,
            s.rss_mib(),
            s.threads,
            s.open_files,
            s.db_mib(),
            s.msglog_rows,
            s.meter_rows,
            s.starts,
            s.start_p99_ms,
            s.console_p99_ms
        );
        samples.push(s);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let (_, cpu) = server.usage();
    // The customers end their last session; then the chargers and the console stop.
    for c in customers {
        let _ = c.await;
    }
    let _ = stop_tx.send(true);
    let _ = console.await;
    for t in meters {
        let _ = t.await;
    }
    let open_left = customers::settle(&db, 30).await?;
    let double_bookings: u64 = sims.iter().map(|s| s.busy_rejections()).sum();
    let sims_dropped = sims.iter().filter(|s| s.is_closed()).count();
    if sims_dropped > 0 {
        error(
            &errors,
            "charger connection",
            format!("{sims_dropped} customers' chargers lost their connection"),
        );
    }
    let audit = db.run(crate::domain::wallet::audit).await?;
    for s in &sims {
        s.disconnect().await;
    }
    let dropped = metric_sum(
        &server.metrics().await,
        "csms_ocpp_message_log_dropped_total",
    );

    let xs: Vec<f64> = samples.iter().map(|s| s.t_min).collect();
    let of = |f: &dyn Fn(&Sample) -> f64| samples.iter().map(f).collect::<Vec<f64>>();
    let rss_slope = slope(&xs, &of(&|s| s.rss_kib as f64));
    let p99_slope = slope(&xs, &of(&|s| s.start_p99_ms));
    // The same slope over the second half only: warm-up (caches filling, the message log growing
    // to its cap) is over by then, so a leak shows here and warm-up does not.
    let half = samples.len() / 2;
    let rss_slope_late = slope(&xs[half..], &of(&|s| s.rss_kib as f64)[half..]);
    let fd_slope = slope(&xs, &of(&|s| s.open_files as f64));
    let db_slope = slope(&xs, &of(&|s| s.db_bytes as f64 / 1024.0));
    let console_slope = slope(&xs, &of(&|s| s.console_p99_ms));
    let errors = errors.lock().unwrap_or_else(|p| p.into_inner());
    let error_total: u64 = errors.counts.values().sum();
    let starts = counts[0].load(Ordering::Relaxed);
    let in_use = counts[1].load(Ordering::Relaxed);

    let mut figures: Figures = vec![
        ("minutes", "minutes of load", rounded(elapsed / 60.0, 2)),
        ("chargers", "chargers", json!(n)),
        (
            "chargers_connected",
            "chargers connected",
            json!(connected.load(Ordering::Relaxed) as usize + cp_ids.len()),
        ),
        (
            "meter_interval_s",
            "MeterValues every (s)",
            rounded(meter_every.as_secs_f64(), 2),
        ),
        (
            "meter_values",
            "MeterValues answered",
            json!(sent.load(Ordering::Relaxed)),
        ),
        (
            "customers",
            "customers (one connector each)",
            json!(connectors),
        ),
        (
            "hold_s",
            "a charge lasts (s, plus up to half again)",
            rounded(hold.as_secs_f64(), 2),
        ),
        ("starts", "sessions started (and stopped)", json!(starts)),
        (
            "in_use",
            "start: in-use answers on the customer's own connector",
            json!(in_use),
        ),
        (
            "console_polls",
            "console requests answered",
            json!(polls.load(Ordering::Relaxed)),
        ),
        (
            "message_log_limit",
            "message-log limit (frames per charger)",
            json!(log_limit),
        ),
        (
            "message_log_cap_rows",
            "message-log rows at most (chargers x limit)",
            json!(n as i64 * log_limit),
        ),
        (
            "message_log_dropped",
            "message-log frames dropped (queue full)",
            json!(dropped.round() as u64),
        ),
        (
            "server_cores",
            "server CPU use (cores)",
            json!(round((cpu - cpu_before) / elapsed.max(1e-3), 2)),
        ),
    ];
    let mut sample_json = Vec::new();
    for s in &samples {
        // A row of the table per sample (labels are static: a few small leaks, once per run).
        let label: &'static str = Box::leak(format!("t = {:.2} min", s.t_min).into_boxed_str());
        figures.push((
            "",
            label,
            json!(format!(
                "RSS {:.1} MiB | {} threads | {} fds | db {:.1} MiB | {} log rows | {} starts, p99 {} ms | console p99 {} ms",
                s.rss_mib(),
                s.threads,
                s.open_files,
                s.db_mib(),
                s.msglog_rows,
                s.starts,
                s.start_p99_ms,
                s.console_p99_ms
            )),
        ));
        sample_json.push(json!({
            "t_min": round(s.t_min, 2),
            "rss_kib": s.rss_kib,
            "open_files": s.open_files,
            "db_bytes": s.db_bytes,
            "msglog_rows": s.msglog_rows,
            "meter_rows": s.meter_rows,
            "threads": s.threads,
            "starts": s.starts,
            "start_p99_ms": s.start_p99_ms,
            "console_p99_ms": s.console_p99_ms,
        }));
    }
    figures.extend([
        ("samples", "", json!(sample_json)),
        ("sample_count", "samples taken", json!(samples.len())),
        (
            "rss_slope_kib_per_min",
            "RSS slope (KiB/min, least squares)",
            rounded(rss_slope, 1),
        ),
        (
            "rss_slope_second_half_kib_per_min",
            "RSS slope over the second half (KiB/min)",
            rounded(rss_slope_late, 1),
        ),
        (
            "p99_slope_ms_per_min",
            "start p99 slope (ms/min)",
            rounded(p99_slope, 3),
        ),
        (
            "open_files_slope_per_min",
            "open-files slope (/min)",
            rounded(fd_slope, 2),
        ),
        (
            "db_slope_kib_per_min",
            "database size slope (KiB/min)",
            rounded(db_slope, 1),
        ),
        (
            "console_p99_slope_ms_per_min",
            "chargers-list p99 slope (ms/min)",
            rounded(console_slope, 3),
        ),
        ("errors", "errors (must be 0)", json!(error_total)),
        ("errors_by_kind", "errors by kind", json!(errors.counts)),
        (
            "open_sessions_left",
            "sessions still open at the end (must be 0)",
            json!(open_left),
        ),
    ]);
    figures.extend(money(double_bookings, &audit));
    let first = errors.first.as_deref();
    figures.extend(first_error("first_error", "first error", first, 300));
    figures.extend(audit_problems(&audit));
    Ok(figures)
}
