//! `bench connections --nodes N`: chargers held by a cluster. One process may hold only so many
//! sockets (the open-files cap, 20,000 on this machine kind), on the server side and on the load
//! generator's side alike; so the chargers are spread over the nodes, and the load generator runs as
//! several worker processes (`--worker FIRST:COUNT:PORTS`, each holding at most one cap's worth).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::client::connect_all;
use super::fixtures::chargers_online;
use super::{BenchArgs, Figures, ServerProcess, round, rounded, usage_of};
use crate::error::AppError;

/// What one worker reports once its chargers are connected (one JSON line on stdout).
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct WorkerReport {
    connected: usize,
    failed: usize,
    phase_s: f64,
    first_error: Option<String>,
}

/// Worker mode: connects and boots chargers `LOAD{FIRST}` … `LOAD{FIRST+COUNT-1}`, charger `i` to
/// `PORTS[i % len]`, reports, and holds them until its stdin closes.
pub async fn worker(spec: &str, args: &BenchArgs) -> Result<(), AppError> {
    let bad = || {
        AppError::Config(format!(
            "--worker FIRST:COUNT:PORT,PORT… expected, got {spec}"
        ))
    };
    let mut parts = spec.splitn(3, ':');
    let first: usize = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let count: usize = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let ports: Vec<u16> = parts
        .next()
        .ok_or_else(bad)?
        .split(',')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if ports.is_empty() {
        return Err(bad());
    }
    super::raise_nofile_limit();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.duration());
    let chargers = (first..first + count)
        .map(|i| (i, format!("LOAD{i}"), ports[i % ports.len()]))
        .collect();
    let held = connect_all(
        chargers,
        args.parallel_handshakes,
        deadline,
        None,
        crate::simulator::Ocpp::V16,
    )
    .await;
    let report = WorkerReport {
        connected: held.connected,
        failed: held.failed,
        phase_s: held.phase_s,
        first_error: held.first_error.clone(),
    };
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
    // Hold the connections until the parent closes our stdin.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    let _ = held.stop.send(true);
    Ok(())
}

/// Chargers connected to every node of the cluster at once, by as many load-generator processes as
/// the open-files cap requires.
pub async fn connections(args: &BenchArgs, server: &ServerProcess) -> Result<Figures, AppError> {
    let n = args.chargers.unwrap_or(10_000);
    let db = server.db(4)?;
    super::fixtures::register_chargers(&db, "LOAD", n).await?;
    let nodes = server.nodes();
    let ports: Vec<String> = nodes.iter().map(|(_, _, p)| p.to_string()).collect();
    let cap = (super::nofile_limit() as usize)
        .saturating_sub(300)
        .max(1_000);
    let budget = args.per_generator.unwrap_or(cap).clamp(1, cap);
    let workers = n.div_ceil(budget).max(1);
    let per = n.div_ceil(workers);
    println!(
        "registered {n} chargers; {} nodes, {workers} load-generator processes of up to {per} chargers...",
        nodes.len()
    );
    let before: Vec<(u64, f64)> = nodes.iter().map(|(pid, _, _)| usage_of(*pid)).collect();
    let exe = std::env::current_exe().map_err(|e| AppError::Internal(e.to_string()))?;
    let mut children = Vec::new();
    let mut lines = Vec::new();
    for w in 0..workers {
        let first = w * per;
        let count = per.min(n - first);
        let mut child = tokio::process::Command::new(&exe)
            .args(["bench", "connections", "--worker"])
            .arg(format!("{first}:{count}:{}", ports.join(",")))
            .args(["--duration", &args.duration().to_string()])
            .args([
                "--parallel-handshakes",
                &(args.parallel_handshakes / workers).max(16).to_string(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| AppError::Internal(format!("cannot start a load generator: {e}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| AppError::Internal("no stdout".into()))?;
        lines.push(BufReader::new(stdout).lines());
        children.push(child);
    }
    let mut total = WorkerReport::default();
    let wait = Duration::from_secs(args.duration() + 60);
    for reader in &mut lines {
        let line = tokio::time::timeout(wait, reader.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten())
            .unwrap_or_default();
        let r: WorkerReport = serde_json::from_str(&line).unwrap_or(WorkerReport {
            failed: per,
            first_error: Some(format!("load generator said: {line}")),
            ..Default::default()
        });
        total.connected += r.connected;
        total.failed += r.failed;
        total.phase_s = total.phase_s.max(r.phase_s);
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
    }
    println!(
        "{} connected, {} failed in {:.1} s; letting the nodes settle...",
        total.connected, total.failed, total.phase_s
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut per_node = Vec::new();
    for (i, (pid, base, _)) in nodes.iter().enumerate() {
        let (rss, cpu) = usage_of(*pid);
        let online = chargers_online(&http, base).await;
        let held = online.unwrap_or(0).max(1) as f64;
        per_node.push(json!({
            "node": i,
            "chargers": online,
            "rss_kib": rss,
            "kib_per_charger": round(rss.saturating_sub(before[i].0) as f64 / held, 2),
            "cpu_s": round(cpu - before[i].1, 2),
        }));
    }
    for mut child in children {
        drop(child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    }
    let mut figures: Figures = vec![
        ("nodes", "csms nodes", json!(nodes.len())),
        (
            "load_generators",
            "load-generator processes",
            json!(workers),
        ),
        (
            "connected",
            "chargers connected and booted",
            json!(total.connected),
        ),
        ("failed", "chargers failed", json!(total.failed)),
        (
            "handshakes_per_s",
            "handshakes+boot per second (whole cluster)",
            rounded(total.connected as f64 / total.phase_s.max(1e-3), 1),
        ),
        (
            "nofile_limit",
            "open-file limit per process",
            json!(super::nofile_limit()),
        ),
        (
            "per_node",
            "per node: chargers held (/healthz), RSS, KiB per charger, CPU",
            Value::Array(per_node),
        ),
    ];
    if let Some(e) = total.first_error {
        figures.push(("first_error", "first error", json!(e)));
    }
    Ok(figures)
}
