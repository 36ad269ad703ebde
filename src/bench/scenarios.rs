//! The three load scenarios. Each returns its figures; `mod.rs` prints them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};

use super::client::{Client, connect_all, source_ip};
use super::fixtures::{chargers_online, register_chargers};
use super::{
    BenchArgs, Figures, ServerProcess, audit_problems, first_error, latency_ms, round, rounded,
};
use crate::domain::charging::status::SessionStatus;
use crate::error::AppError;
use crate::infra::db::models::NewOcppMessage;
use crate::infra::db::schema::{chargers, charging_sessions, customers, meter_values};
use crate::infra::db::{Db, DbConnection, now, relaxed_tx, write_tx};
use crate::simulator::{Ocpp, SimConfig, Simulator};

/// Reads `<name>_sum` and `<name>_count` from Prometheus text.
fn metric_mean(text: &str, name: &str) -> Option<f64> {
    let get = |suffix: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}_{suffix}")))
            .and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok())
    };
    let (sum, count) = (get("sum")?, get("count")?);
    (count > 0.0).then(|| sum / count)
}

pub async fn connections(args: &BenchArgs, server: &ServerProcess) -> Result<Figures, AppError> {
    let n = args.chargers.unwrap_or(10_000);
    let db = server.db(4)?;
    let ids = register_chargers(&db, "LOAD", n).await?;
    println!(
        "registered {n} chargers; connecting ({} handshakes in flight)...",
        args.parallel_handshakes
    );
    let (rss_before, cpu_before) = server.usage();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.duration());
    let (port, tls) = match &server.tls {
        Some((port, config)) => (*port, Some(config.clone())),
        None => (server.ocpp_port, None),
    };
    let chargers = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| (i, id, port))
        .collect();
    let held = connect_all(chargers, args.parallel_handshakes, deadline, tls, args.ocpp).await;
    let (ok, bad) = (held.connected, held.failed);
    let phase = held.phase_s.max(1e-3);
    println!("{ok} connected, {bad} failed in {phase:.1} s; letting the server settle...");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, cpu) = server.usage();
    // With every descriptor in use the server may not accept one more HTTP connection: bounded wait.
    let online = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(http) => chargers_online(&http, &server.http).await,
        Err(_) => None,
    };
    let _ = held.stop.send(true);
    let per = if ok > 0 {
        rss.saturating_sub(rss_before) as f64 / ok as f64
    } else {
        0.0
    };
    let mut figures: Figures = vec![
        (
            "transport",
            "transport",
            json!(if server.tls.is_some() { "wss" } else { "ws" }),
        ),
        ("connected", "chargers connected and booted", json!(ok)),
        ("failed", "chargers failed", json!(bad)),
        (
            "online_reported",
            "online per /healthz (null: no descriptor left for HTTP)",
            json!(online),
        ),
        (
            "nofile_limit",
            "open-file limit per process",
            json!(super::nofile_limit()),
        ),
        (
            "handshakes_per_s",
            "handshakes+boot per second",
            rounded(ok as f64 / phase, 1),
        ),
        ("rss_kib", "server RSS (KiB)", json!(rss)),
        (
            "rss_kib_before",
            "server RSS before connecting (KiB)",
            json!(rss_before),
        ),
        (
            "rss_kib_per_connection",
            "server RSS per connection (KiB, delta)",
            rounded(per, 2),
        ),
        (
            "cpu_s",
            "server CPU during the run (s)",
            rounded(cpu - cpu_before, 2),
        ),
    ];
    if let Some(e) = held.first_error {
        figures.push(("first_error", "first error", json!(e)));
    }
    Ok(figures)
}

/// A MeterValues payload for transaction `tx` with the energy register at `register` Wh.
fn meter_payload(tx: i64, register: u64) -> Value {
    json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": crate::infra::timestamps::now_timestamp(),
        "sampledValue": [{"value": register.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]})
}

/// A reading of transaction `tx` at `register` Wh in its version's words: a MeterValues (1.6), or
/// a TransactionEvent Updated with the next seqNo (2.0.1).
fn meter_call(tx: &Tx, seq: &mut i64, register: u64) -> (&'static str, Value) {
    match tx {
        Tx::Station(id) => {
            *seq += 1;
            (
                "TransactionEvent",
                event_payload("Updated", id, *seq, register),
            )
        }
        Tx::Csms(id) => ("MeterValues", meter_payload(*id, register)),
    }
}

/// A 2.0.1 TransactionEvent `kind` of the station's transaction `id` on EVSE 1, with an energy
/// register reading of `register` Wh in the context its type calls for.
fn event_payload(kind: &str, id: &str, seq: i64, register: u64) -> Value {
    let at = crate::infra::timestamps::now_timestamp();
    let (trigger, context) = match kind {
        "Started" => ("Authorized", "Transaction.Begin"),
        _ => ("MeterValuePeriodic", "Sample.Periodic"),
    };
    json!({"eventType": kind, "timestamp": at, "triggerReason": trigger, "seqNo": seq,
        "transactionInfo": {"transactionId": id}, "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": at, "sampledValue": [{"value": register,
            "context": context, "measurand": "Energy.Active.Import.Register",
            "unitOfMeasure": {"unit": "Wh"}}]}]})
}

/// A bench charger's transaction: csms's number (1.6) or the station's identifier (2.0.1).
#[derive(Clone, Debug)]
enum Tx {
    Csms(i64),
    Station(String),
}

/// An energy register that grows by 10 Wh per second (a 36 kW charge) from the start of the run:
/// plausible for the session's connector, so every reading is billed, not capped.
fn register_at(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64 / 100
}

/// Rows the server's message-log writer commits together at most (`ocpp::msglog`: up to 512 frames
/// per relaxed transaction, after a 5 ms linger when fewer are waiting).
const LOG_BATCH_ROWS: usize = 512;
/// Frames the server's message-log queue holds (`ocpp::msglog`); beyond it the server drops rows.
const LOG_QUEUE_ROWS: usize = 16_384;
/// The message-log writer's linger (`ocpp::msglog::LINGER`).
const LOG_LINGER: Duration = Duration::from_millis(5);

/// How the ingest ceiling writes: the server's own shape of the work.
#[derive(Clone, Copy, Debug)]
struct CeilingPlan {
    /// Meter writer lanes, as many as the server runs (`meter_writer::lanes_for`).
    lanes: usize,
    /// Messages per meter transaction: the server's mean batch (at most one message per session
    /// per batch, as in the server, where a charger has one call in flight).
    per_tx: usize,
    /// With the message log's two rows per message, written by one writer beside the lanes.
    with_log: bool,
    secs: u64,
}

/// One lane of the ceiling: its sessions, and the index of the next one to meter.
struct LaneSessions {
    sessions: Vec<(i64, i64)>,
    next: usize,
}

impl LaneSessions {
    /// The next `n` sessions of this lane (each at most once).
    fn take(&mut self, n: usize) -> Vec<(i64, i64)> {
        let n = n.min(self.sessions.len());
        let out = (0..n)
            .map(|k| self.sessions[(self.next + k) % self.sessions.len()])
            .collect();
        self.next = (self.next + n) % self.sessions.len().max(1);
        out
    }
}

/// Messages per second persisted straight to the database in the shape the server gives the same
/// work (no WebSocket, no frame parsing, no waiting for chargers):
/// - `plan.lanes` meter writers, each metering the sessions of its own chargers (charger id modulo
///   the lanes, as `MeterWriter` routes them): `plan.per_tx` messages per transaction through the
///   domain function the server's writer calls (`meter_values_batch`: meter rows, the set-wise
///   session update with price, prepaid limit and auto-stop check), committed durably;
/// - with `plan.with_log`, one message-log writer beside them, as the server has: the CALL and
///   CALLRESULT rows of every message committed, in relaxed transactions of up to 512 rows after a
///   5 ms linger, through a queue of the server's size (a lane waits when it is full, where the
///   server would drop rows).
///
/// The lanes write for `plan.secs`; the rate is every message they committed over the time until
/// the last of them is done, its log rows included (the log writer drains its queue after the
/// lanes stop): the way the server's rate is taken (`log_drain`). The registers go on from where
/// the run left them (`run_t0`).
fn ingest_ceiling(db: &Db, plan: CeilingPlan, sessions: &[(i64, i64)], run_t0: Instant) -> f64 {
    use std::sync::mpsc;
    let written = Arc::new(AtomicU64::new(0));
    let c0 = Instant::now();
    let deadline = c0 + Duration::from_secs(plan.secs);
    let lanes = plan.lanes.max(1);
    let mut by_lane: Vec<LaneSessions> = (0..lanes)
        .map(|_| LaneSessions {
            sessions: Vec::new(),
            next: 0,
        })
        .collect();
    for &(charger, tx) in sessions {
        by_lane[charger.rem_euclid(lanes as i64) as usize]
            .sessions
            .push((charger, tx));
    }
    let per_tx = plan.per_tx.max(1);
    let (log_tx, log_rx) =
        mpsc::sync_channel::<Vec<NewOcppMessage>>((LOG_QUEUE_ROWS / (2 * per_tx)).max(1));
    let log_writer = plan.with_log.then(|| {
        let db = db.clone();
        std::thread::spawn(move || -> Result<(), AppError> {
            let mut conn = db.get()?;
            let mut pending: Vec<NewOcppMessage> = Vec::new();
            loop {
                if pending.is_empty() {
                    match log_rx.recv() {
                        Ok(rows) => pending.extend(rows),
                        // Every lane has stopped and everything queued is committed.
                        Err(_) => return Ok(()),
                    }
                }
                if pending.len() < LOG_BATCH_ROWS {
                    std::thread::sleep(LOG_LINGER);
                    while pending.len() < LOG_BATCH_ROWS
                        && let Ok(rows) = log_rx.try_recv()
                    {
                        pending.extend(rows);
                    }
                }
                let take = pending.len().min(LOG_BATCH_ROWS);
                let rows: Vec<NewOcppMessage> = pending.drain(..take).collect();
                relaxed_tx(&mut conn, |c: &mut DbConnection| {
                    Ok::<_, AppError>(crate::infra::db::insert_ocpp_messages(c, &rows)?)
                })?;
            }
        })
    });
    let threads: Vec<_> = by_lane
        .into_iter()
        .enumerate()
        .filter(|(_, lane)| !lane.sessions.is_empty())
        .map(|(w, mut lane)| {
            let (db, written, log_tx) = (db.clone(), written.clone(), log_tx.clone());
            let with_log = plan.with_log;
            std::thread::spawn(move || -> Result<(), AppError> {
                let mut conn = db.get()?;
                let policy = crate::domain::charging::Policy::default();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let t = now();
                    let register = 1_000_000 + register_at(run_t0);
                    let batch: Vec<(i64, crate::domain::charging::evidence::MeterReport, Value)> =
                        lane.take(per_tx)
                            .into_iter()
                            .map(|(charger, tx)| {
                                let payload = meter_payload(tx, register);
                                let req: crate::domain::charging::evidence::MeterReport =
                                    serde_json::from_value(payload.clone())
                                        .map_err(|e| AppError::Internal(e.to_string()))?;
                                Ok((charger, req, payload))
                            })
                            .collect::<Result<_, AppError>>()?;
                    let refs: Vec<(i64, &crate::domain::charging::evidence::MeterReport)> = batch
                        .iter()
                        .map(|(charger, req, _)| (*charger, req))
                        .collect();
                    write_tx(&mut conn, |c: &mut DbConnection| {
                        crate::domain::charging::transactions::meter_values_batch(c, &refs, &policy)
                    })?;
                    written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if !with_log {
                        continue;
                    }
                    let log: Vec<NewOcppMessage> = batch
                        .iter()
                        .flat_map(|(charger_id, _, payload)| {
                            n += 1;
                            let id = format!("{w}-{n}");
                            [
                                NewOcppMessage {
                                    charger_id: *charger_id,
                                    direction: "in",
                                    message_type: 2,
                                    message_id: id.clone(),
                                    action: Some("MeterValues".into()),
                                    payload: format!(r#"[2,"{id}","MeterValues",{payload}]"#),
                                    created_at: t,
                                },
                                NewOcppMessage {
                                    charger_id: *charger_id,
                                    direction: "out",
                                    message_type: 3,
                                    message_id: id.clone(),
                                    action: Some("MeterValues".into()),
                                    payload: format!(r#"[3,"{id}",{{}}]"#),
                                    created_at: t,
                                },
                            ]
                        })
                        .collect();
                    // Waits while the log writer is a whole queue behind (the server would
                    // drop rows there; the ceiling does all the work).
                    if log_tx.send(log).is_err() {
                        return Ok(());
                    }
                }
                Ok(())
            })
        })
        .collect();
    drop(log_tx);
    for t in threads.into_iter().chain(log_writer) {
        if let Ok(Err(e)) = t.join() {
            log::warn!("ingest ceiling writer: {e}");
        }
    }
    // Until the last lane stopped and (with the log) the log writer committed the last rows.
    written.load(Ordering::Relaxed) as f64 / c0.elapsed().as_secs_f64()
}

/// How long after `since` the server's message log has committed every frame logged before it (s):
/// the charger `charger_id` sends a DataTransfer, logged behind them in the log's one queue, and
/// the time is taken when its row is in the database (the writer commits its queue in order).
/// The probe is re-sent every second in case its row was dropped (a full queue); None after 60 s.
async fn log_drain(
    db: &Db,
    probe: &mut Client,
    charger_id: i64,
    since: Instant,
) -> Result<Option<f64>, AppError> {
    use crate::infra::db::schema::ocpp_messages;
    let give_up = since + Duration::from_secs(60);
    while Instant::now() < give_up {
        // Answered or refused, it is logged in the same queue.
        let sent = probe
            .call_answered(
                "DataTransfer",
                json!({"vendorId": "csms-bench", "messageId": "log-drain"}),
            )
            .await;
        if let Err(e) = sent {
            log::warn!("ingest: the message-log probe failed: {e}");
            return Ok(None);
        }
        let next_probe = Instant::now() + Duration::from_secs(1);
        while Instant::now() < next_probe {
            let logged: i64 = db
                .run(move |c| {
                    Ok(ocpp_messages::table
                        .filter(ocpp_messages::charger_id.eq(charger_id))
                        .filter(ocpp_messages::action.eq("DataTransfer"))
                        .filter(ocpp_messages::direction.eq("in"))
                        .count()
                        .get_result(c)?)
                })
                .await?;
            if logged > 0 {
                return Ok(Some(since.elapsed().as_secs_f64()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(None)
}

/// Opens a customer session on connector 1 of each charger (reserve + debit and activate straight
/// in the database, as the start API does), then the charger's start over OCPP (StartTransaction,
/// or a 2.0.1 TransactionEvent Started with the session's idToken). Returns each session's id and
/// transaction. Price 0.30 per kWh, a prepaid amount far beyond the run.
async fn open_sessions(
    db: &Db,
    clients: &mut [Client],
    charger_ids: &[i64],
    customers: &[i64],
) -> Result<Vec<(i64, Tx)>, AppError> {
    let mut txs = Vec::with_capacity(clients.len());
    for ((client, charger), customer) in clients.iter_mut().zip(charger_ids).zip(customers) {
        let (charger, customer) = (*charger, *customer);
        let (session, tag) = db
            .run(move |c| {
                let r = crate::domain::charging::start::Reservation {
                    customer_id: customer,
                    charger_id: charger,
                    connector_id: 1,
                    amount: 10_000_000,
                    price: 30,
                    key: None,
                    request_hash: None,
                    owner_node: None,
                };
                let s = crate::domain::charging::start::reserve(c, &r)
                    .map_err(|_| AppError::Internal("bench: cannot open a session".into()))?;
                write_tx(c, |c| crate::domain::charging::activate(c, s.id, None))?;
                Ok((s.id, s.id_tag))
            })
            .await?;
        let tx = match client.ocpp {
            Ocpp::V16 => {
                let answer = client
                    .call(
                        "StartTransaction",
                        json!({"connectorId": 1, "idTag": tag, "meterStart": 1_000_000,
                            "timestamp": crate::infra::timestamps::now_timestamp()}),
                    )
                    .await
                    .map_err(AppError::Internal)?;
                if answer["idTagInfo"]["status"] != "Accepted" {
                    return Err(AppError::Internal(format!(
                        "bench: StartTransaction not accepted: {answer}"
                    )));
                }
                Tx::Csms(answer["transactionId"].as_i64().unwrap_or_default())
            }
            Ocpp::V201 => {
                let id = format!("BENCH-{session}");
                let mut started = event_payload("Started", &id, 0, 1_000_000);
                started["idToken"] = json!({"idToken": tag, "type": "Central"});
                let answer = client
                    .call("TransactionEvent", started)
                    .await
                    .map_err(AppError::Internal)?;
                if answer["idTokenInfo"]["status"] != "Accepted" {
                    return Err(AppError::Internal(format!(
                        "bench: TransactionEvent Started not accepted: {answer}"
                    )));
                }
                Tx::Station(id)
            }
        };
        txs.push((session, tx));
    }
    Ok(txs)
}

/// K chargers, each in a live customer session, send MeterValues with their transaction's energy
/// register, one call in flight each, as fast as the answers come: every message is stored and
/// updates its session (energy, cost, prepaid limit).
pub async fn ingest(args: &BenchArgs, server: &ServerProcess) -> Result<Figures, AppError> {
    let k = args.chargers.unwrap_or(100);
    let db = server.db(args.pool_size)?;
    let ids = register_chargers(&db, "ING", k).await?;
    let mut clients = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let mut c = Client::connect_version(server.ocpp_port, id, source_ip(i), None, args.ocpp)
            .await
            .map_err(AppError::Internal)?;
        c.boot().await.map_err(AppError::Internal)?;
        clients.push(c);
    }
    let customers = super::customers::create(&db, "Bench", k).await?;
    let list = ids.clone();
    let charger_ids: Vec<i64> = db
        .run(move |c| {
            let mut out = Vec::with_capacity(list.len());
            for id in &list {
                out.push(
                    chargers::table
                        .filter(chargers::device_id.eq(id))
                        .select(chargers::id)
                        .first(c)?,
                );
            }
            Ok(out)
        })
        .await?;
    let opened = open_sessions(&db, &mut clients, &charger_ids, &customers).await?;
    let session_ids: Vec<i64> = opened.iter().map(|(s, _)| *s).collect();
    let list = session_ids.clone();
    // csms's transaction of each session, in the chargers' order (for the ceiling).
    let csms_txs: Vec<i64> = db
        .run(move |c| {
            let rows: Vec<(i64, Option<i64>)> = charging_sessions::table
                .filter(charging_sessions::id.eq_any(&list))
                .select((charging_sessions::id, charging_sessions::transaction_id))
                .load(c)?;
            let by_session: std::collections::HashMap<i64, i64> = rows
                .into_iter()
                .filter_map(|(s, tx)| Some((s, tx?)))
                .collect();
            Ok(list
                .iter()
                .map(|s| by_session.get(s).copied().unwrap_or_default())
                .collect())
        })
        .await?;
    let txs: Vec<Tx> = opened.into_iter().map(|(_, tx)| tx).collect();
    let message = match args.ocpp {
        Ocpp::V16 => "MeterValues",
        Ocpp::V201 => "TransactionEvent Updated",
    };
    let rows_before: i64 = db
        .run(|c| Ok(meter_values::table.count().get_result(c)?))
        .await?;
    println!(
        "{k} chargers connected, each in a customer session; sending {message} for {} s...",
        args.duration()
    );
    let (_, cpu_before) = server.usage();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(args.duration());
    let tasks: Vec<_> = clients
        .into_iter()
        .zip(txs)
        .zip(charger_ids.clone())
        .map(|((mut c, tx), charger)| {
            tokio::spawn(async move {
                let (mut lat, mut seq) = (Vec::new(), 0);
                while Instant::now() < deadline {
                    let register = 1_000_000 + register_at(t0);
                    let (action, payload) = meter_call(&tx, &mut seq, register);
                    let t = Instant::now();
                    if let Err(e) = c.call(action, payload).await {
                        log::warn!("ingest: {action}: {e}");
                        break;
                    }
                    lat.push(t.elapsed().as_micros() as f64);
                }
                (lat, c, charger)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut clients = Vec::new();
    for t in tasks {
        if let Ok((l, c, charger)) = t.await {
            lat.extend(l);
            clients.push((c, charger));
        }
    }
    let load_end = Instant::now();
    let elapsed = (load_end - t0).as_secs_f64();
    let server_cores = (server.usage().1 - cpu_before) / elapsed;
    let acked = lat.len() as i64;
    // The message log is written behind the answers: the server's rate for the whole work counts
    // until the log rows of the last answered message are committed too.
    let drain = match clients.first_mut() {
        Some((probe, charger)) => log_drain(&db, probe, *charger, load_end).await?,
        None => None,
    };
    let msgs_with_log_per_s = drain.map(|d| acked as f64 / (elapsed + d));
    let rows_after: i64 = db
        .run(|c| Ok(meter_values::table.count().get_result(c)?))
        .await?;
    // Every session was metered by what its charger sent (energy and cost moved on).
    let (metered, billed): (i64, i64) = db
        .run(move |c| {
            let rows: Vec<(i64, i64)> = charging_sessions::table
                .filter(charging_sessions::id.eq_any(&session_ids))
                .select((charging_sessions::energy_wh, charging_sessions::cost))
                .load(c)?;
            Ok((
                rows.iter().filter(|(e, _)| *e > 0).count() as i64,
                rows.iter().map(|(_, cost)| cost).sum(),
            ))
        })
        .await?;
    drop(clients);
    let persisted = rows_after - rows_before;
    let msgs_per_s = acked as f64 / elapsed;
    let (p50, p99, max) = latency_ms(&mut lat);
    let metrics = server.metrics().await;
    let batch = metric_mean(&metrics, "csms_meter_batch_messages")
        .unwrap_or(1.0)
        .max(1.0);
    let log_dropped =
        super::fixtures::metric_sum(&metrics, "csms_ocpp_message_log_dropped_total") as u64;

    // Ceiling: the same work in the server's own shape, straight to the same database, with no
    // WebSocket, no frame parsing and no waiting for chargers (see `ingest_ceiling`): as many meter
    // lanes as the server runs, its mean batch per durable commit, and the message log's two rows
    // per message written beside them in relaxed transactions of up to 512 rows. The figure
    // without the log rows is reported beside it.
    let lanes = crate::domain::charging::meter_writer::lanes_for(server.backend, args.pool_size);
    let sessions: Vec<(i64, i64)> = charger_ids.iter().copied().zip(csms_txs).collect();
    let per_lane = sessions.len().div_ceil(lanes).max(1);
    let rows_per_tx = (batch.round() as usize).clamp(1, per_lane);
    let ceiling_secs = args.duration().clamp(1, 10);
    let mut ceilings = Vec::new();
    for with_log in [false, true] {
        println!(
            "ceiling ({}): {lanes} lanes x {rows_per_tx} messages per transaction{} for {ceiling_secs} s...",
            if with_log {
                "meter rows + session updates + message-log rows"
            } else {
                "meter rows + session updates"
            },
            if with_log {
                " + one message-log writer"
            } else {
                ""
            },
        );
        let plan = CeilingPlan {
            lanes,
            per_tx: rows_per_tx,
            with_log,
            secs: ceiling_secs,
        };
        let (db, sessions) = (db.clone(), sessions.clone());
        ceilings.push(
            tokio::task::spawn_blocking(move || ingest_ceiling(&db, plan, &sessions, t0))
                .await
                .unwrap_or(0.0),
        );
    }
    let (ceiling_meter_only, ceiling) = (ceilings[0], ceilings[1]);
    Ok(vec![
        (
            "chargers",
            "chargers sending, each in a customer session",
            json!(k),
        ),
        ("acked", "meter messages answered", json!(acked)),
        ("persisted", "meter rows persisted", json!(persisted)),
        (
            "sessions_metered",
            "sessions whose energy moved on",
            json!(metered),
        ),
        (
            "billed",
            "energy cost on those sessions (minor units)",
            json!(billed),
        ),
        (
            "msgs_per_s",
            "persisted meter messages per second",
            rounded(msgs_per_s, 1),
        ),
        ("p50_ms", "round trip p50 (ms)", json!(p50)),
        ("p99_ms", "round trip p99 (ms)", json!(p99)),
        ("max_ms", "round trip max (ms)", json!(max)),
        (
            "batch_mean",
            "server batch size (messages per commit)",
            rounded(batch, 1),
        ),
        (
            "server_cores",
            "server CPU use during load (cores)",
            rounded(server_cores, 2),
        ),
        (
            "log_drain_s",
            "after the load: until the server's message log had committed every row (s)",
            json!(drain.map(|d| round(d, 3))),
        ),
        (
            "msgs_with_log_per_s",
            "the whole work (meter + session + log rows) per second, until the log's last row",
            json!(msgs_with_log_per_s.map(|r| round(r, 1))),
        ),
        (
            "log_rows_dropped",
            "message-log rows the server dropped (queue full; must be 0 for a fair ratio)",
            json!(log_dropped),
        ),
        (
            "ceiling_lanes",
            "ceiling: meter lanes (the server's)",
            json!(lanes),
        ),
        (
            "ceiling_batch",
            "ceiling: messages per meter transaction (the server's mean batch)",
            json!(rows_per_tx),
        ),
        (
            "ceiling_meter_only_msgs_per_s",
            "ceiling without the message log (/s)",
            rounded(ceiling_meter_only, 1),
        ),
        (
            "ceiling_msgs_per_s",
            "ceiling: the same work in the server's shape (lanes, batch, log writer), straight to the database (/s)",
            rounded(ceiling, 1),
        ),
        (
            "ratio",
            "ratio (server's whole work / ceiling)",
            json!(msgs_with_log_per_s.map(|r| round(r / ceiling.max(1e-9), 3))),
        ),
    ])
}

/// A simulated charger of the start scenario, in the version it speaks.
enum Sim {
    V16(Simulator),
    V201(crate::simulator::v201::Station201),
}

impl Sim {
    async fn connect(cfg: SimConfig) -> Result<Sim, crate::simulator::SimError> {
        Ok(match cfg.ocpp {
            Ocpp::V16 => Sim::V16(Simulator::connect(cfg).await?),
            Ocpp::V201 => Sim::V201(crate::simulator::v201::Station201::connect(cfg).await?),
        })
    }

    /// Starts csms sent for a connector that was still busy.
    fn busy_rejections(&self) -> u64 {
        match self {
            Sim::V16(s) => s.busy_rejections(),
            Sim::V201(s) => s.busy_rejections(),
        }
    }

    async fn disconnect(&self) {
        match self {
            Sim::V16(s) => s.disconnect().await,
            Sim::V201(s) => s.disconnect().await,
        }
    }
}

pub async fn start(args: &BenchArgs, server: &ServerProcess) -> Result<Figures, AppError> {
    let k = args.connectors.max(1);
    let chargers_n = k.div_ceil(2);
    let c_n = args.concurrency.max(1);
    let db = server.db(args.pool_size)?;
    let ids = register_chargers(&db, "STRT", chargers_n).await?;
    // With --nodes: charger j on node j % N, customer i on node i % N.
    let nodes = server.nodes();
    let mut sims = Vec::new();
    for (j, id) in ids.iter().enumerate() {
        let mut cfg = SimConfig::new(
            format!("ws://127.0.0.1:{}/ocpp", nodes[j % nodes.len()].2),
            id.clone(),
            2,
        );
        cfg.auto_stop_after_ms = Some(args.hold_ms);
        cfg.ocpp = args.ocpp;
        sims.push(
            Sim::connect(cfg)
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?,
        );
    }
    // Customers with large wallets, created straight in the database; tokens through the real login.
    let http = reqwest::Client::new();
    let tokens = super::customers::customers(&db, &http, &server.http, "Bench", c_n).await?;
    println!(
        "{c_n} customers racing for {k} connectors on {chargers_n} chargers for {} s...",
        args.duration()
    );
    let (_, cpu_before) = server.usage();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(args.duration());
    let cross = Arc::new(AtomicU64::new(0));
    let nodes_n = nodes.len();
    let tasks: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let (http, base, ids) = (http.clone(), nodes[i % nodes_n].1.clone(), ids.clone());
            let cross = cross.clone();
            let retry = Duration::from_millis(args.retry_ms);
            tokio::spawn(async move {
                let (mut ok_lat, mut in_use, mut other, mut first_other) = (Vec::new(), 0u64, 0u64, None::<String>);
                let mut round_no = i;
                while Instant::now() < deadline {
                    round_no += 7;
                    let slot = round_no % k;
                    let body = json!({"deviceId": ids[slot / 2], "connectorId": slot % 2 + 1, "amount": 1});
                    let t = Instant::now();
                    let resp = http.post(format!("{base}/api/user/charging/start")).bearer_auth(&token).json(&body).send().await;
                    let elapsed = t.elapsed().as_micros() as f64;
                    match resp {
                        Ok(r) if r.status().as_u16() == 200 => {
                            ok_lat.push(elapsed);
                            if i % nodes_n != (slot / 2) % nodes_n {
                                cross.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(r) if r.status().as_u16() == 400 => {
                            let text = r.text().await.unwrap_or_default();
                            if text.contains("currently in use") {
                                in_use += 1;
                                if !retry.is_zero() {
                                    tokio::time::sleep(retry).await;
                                }
                            } else {
                                other += 1;
                                first_other.get_or_insert(text);
                            }
                        }
                        Ok(r) => {
                            other += 1;
                            first_other.get_or_insert(format!("{} {}", r.status(), r.text().await.unwrap_or_default()));
                        }
                        Err(e) => {
                            other += 1;
                            first_other.get_or_insert(e.to_string());
                        }
                    }
                }
                (ok_lat, in_use, other, first_other)
            })
        })
        .collect();
    let (mut lat, in_use, other, first_other) = super::customers::gather(tasks).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let server_cores = (server.usage().1 - cpu_before) / elapsed;
    let requests_per_s = (lat.len() as u64 + in_use + other) as f64 / elapsed;
    let starts = lat.len();
    let (p50, p99, max) = latency_ms(&mut lat);
    // Where a start's time goes, from the server's own histograms (first node): the lookup and
    // reservation (every request that reached the database), RemoteStartTransaction to the
    // charger and back, and the activation.
    let metrics = server.metrics().await;
    let phase = |name: &str| {
        let ms = |v: Option<f64>| rounded(v.unwrap_or(0.0) * 1000.0, 2);
        json!({"mean_ms": ms(metric_mean(&metrics, name)), "p99_ms": ms(super::metric_quantile(&metrics, &format!("{name}{{"), "0.99"))})
    };
    let phases = json!({
        "reserve": phase("csms_start_reserve_seconds"),
        "remote_start": phase("csms_start_remote_start_seconds"),
        "activate": phase("csms_start_activate_seconds"),
    });
    // Let the chargers finish their transactions, then audit.
    super::customers::settle(&db, 20).await?;
    let double_bookings: u64 = sims.iter().map(|s| s.busy_rejections()).sum();
    let audit = db.run(crate::domain::wallet::audit).await?;
    for s in &sims {
        s.disconnect().await;
    }

    // Ceiling: the same start cycle straight against the database at the same concurrency and
    // hold ([`start_ceiling`]); beside it, reserve+debit alone (the earlier ceiling).
    let charger_ids: Vec<i64> = {
        let ids = ids.clone();
        db.run(move |c| {
            Ok(chargers::table
                .filter(chargers::device_id.eq_any(ids))
                .order(chargers::id)
                .select(chargers::id)
                .load(c)?)
        })
        .await?
    };
    let customer_ids: Vec<(i64, String)> = db
        .run(|c| {
            Ok(customers::table
                .select((customers::id, customers::id_tag))
                .load(c)?)
        })
        .await?;
    let ceiling_secs = args.duration().clamp(1, 10);
    println!(
        "ceiling: {c_n} concurrent start cycles straight to the database for {ceiling_secs} s..."
    );
    let hold = Duration::from_millis(args.hold_ms);
    let ceiling = start_ceiling(
        &db,
        &customer_ids,
        &charger_ids,
        k,
        ceiling_secs,
        Some(hold),
    )
    .await;
    println!("ceiling: {c_n} concurrent reserve+debit transactions alone for {ceiling_secs} s...");
    let reserve_ceiling =
        start_ceiling(&db, &customer_ids, &charger_ids, k, ceiling_secs, None).await;
    // The ceiling's own cycles settled and refunded like the server's: the books still balance.
    let audit_after_ceiling = db.run(crate::domain::wallet::audit).await?;
    let starts_per_s = starts as f64 / elapsed;
    // The server's starts per second over a ceiling's.
    let ratio_to = |ceiling: f64| rounded(starts_per_s / ceiling.max(1e-9), 3);
    let mut figures: Figures = vec![
        ("concurrency", "concurrent customers", json!(c_n)),
        (
            "retry_ms",
            "a loser waits before retrying (ms)",
            json!(args.retry_ms),
        ),
        ("hold_ms", "a charger charges for (ms)", json!(args.hold_ms)),
        ("connectors", "connectors", json!(k)),
        ("starts", "successful starts", json!(starts)),
        ("in_use", "in-use answers (lost races)", json!(in_use)),
        ("other_errors", "other answers", json!(other)),
        (
            "starts_per_s",
            "starts per second",
            rounded(starts_per_s, 1),
        ),
        (
            "requests_per_s",
            "start requests answered per second (all outcomes)",
            rounded(requests_per_s, 1),
        ),
        (
            "server_cores",
            "server CPU use during load (cores)",
            rounded(server_cores, 2),
        ),
        ("p50_ms", "start latency p50 (ms)", json!(p50)),
        ("p99_ms", "start latency p99 (ms)", json!(p99)),
        ("max_ms", "start latency max (ms)", json!(max)),
        (
            "phases",
            "server-side phases of a start: mean and p99 (ms)",
            phases,
        ),
        (
            "double_bookings",
            "double bookings (must be 0)",
            json!(double_bookings),
        ),
        (
            "nodes",
            "csms nodes (customers and chargers spread over them)",
            json!(nodes_n),
        ),
        (
            "cross_node_share",
            "share of the starts whose customer and charger were on different nodes",
            json!(round(
                cross.load(Ordering::Relaxed) as f64 / starts.max(1) as f64,
                3
            )),
        ),
        (
            "conservation_ok",
            "money conserved (must be true)",
            json!(audit.ok()),
        ),
        (
            "conservation_after_ceiling_ok",
            "money conserved after the ceiling's cycles (must be true)",
            json!(audit_after_ceiling.ok()),
        ),
        (
            "ceiling_starts_per_s",
            "ceiling: the same cycle straight to the database (/s)",
            rounded(ceiling, 1),
        ),
        ("ratio", "ratio (server / ceiling)", ratio_to(ceiling)),
        (
            "ceiling_cycle_per_s",
            "(the same ceiling, under the name issue 13 asks for)",
            rounded(ceiling, 1),
        ),
        (
            "ratio_cycle",
            "(the same ratio, under the name issue 13 asks for)",
            ratio_to(ceiling),
        ),
        (
            "ceiling_reserve_only_per_s",
            "reserve+debit alone, no hold (/s; the earlier ceiling)",
            rounded(reserve_ceiling, 1),
        ),
        (
            "ratio_reserve_only",
            "ratio (server / reserve+debit alone)",
            ratio_to(reserve_ceiling),
        ),
    ];
    let first = first_other.as_deref();
    figures.extend(first_error(
        "first_other_error",
        "first other answer",
        first,
        200,
    ));
    figures.extend(audit_problems(&audit));
    Ok(figures)
}

/// The start ceiling: `customers` workers run the start cycle straight against the database for
/// `secs`, with no HTTP and no WebSocket, each on a rotating connector as in the scenario. With a
/// `hold`, the whole cycle the server runs: reserve+debit, activate (the charger accepted),
/// StartTransaction, the charge itself (`hold`, no connection held), StopTransaction (settle and
/// refund). Without, reserve+debit alone, failed and refunded at once. Returns cycles per second.
async fn start_ceiling(
    db: &Db,
    customers: &[(i64, String)],
    charger_ids: &[i64],
    k: usize,
    secs: u64,
    hold: Option<Duration>,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let c0 = Instant::now();
    let deadline = c0 + Duration::from_secs(secs);
    let workers: Vec<_> = customers
        .iter()
        .enumerate()
        .map(|(i, (customer, _))| {
            let (db, done, charger_ids, customer) =
                (db.clone(), done.clone(), charger_ids.to_vec(), *customer);
            tokio::spawn(async move {
                let mut round_no = i;
                while Instant::now() < deadline {
                    round_no += 7;
                    let slot = round_no % k;
                    let (charger, connector) = (
                        charger_ids[(slot / 2).min(charger_ids.len() - 1)],
                        (slot % 2 + 1) as i32,
                    );
                    let started = db
                        .run(move |c| Ok(ceiling_start(c, customer, charger, connector, hold)))
                        .await;
                    let Ok(Some(tx)) = started else { continue };
                    if let (Some(hold), Some(tx)) = (hold, tx) {
                        tokio::time::sleep(hold).await;
                        let stopped = db
                            .run(move |c| {
                                let req = crate::domain::charging::evidence::TransactionEnded {
                                    id_tag: None,
                                    meter_stop: 0,
                                    timestamp: crate::infra::timestamps::now_timestamp(),
                                    transaction_id: tx,
                                    reason: Some("EVDisconnected".into()),
                                    transaction_data: Vec::new(),
                                    later_readings: false,
                                };
                                crate::domain::charging::transactions::stop_transaction(
                                    c,
                                    charger,
                                    &req,
                                    &crate::domain::charging::Policy::default(),
                                )
                            })
                            .await;
                        if stopped.is_err() {
                            continue;
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    done.load(Ordering::Relaxed) as f64 / c0.elapsed().as_secs_f64()
}

/// One start as the server makes it, on one pooled connection: `None` when the connector was
/// taken; `Some(Some(transactionId))` when a charge began (with a hold), `Some(None)` when the
/// reservation alone was measured (and refunded).
fn ceiling_start(
    c: &mut crate::infra::db::DbConnection,
    customer: i64,
    charger: i64,
    connector: i32,
    hold: Option<Duration>,
) -> Option<Option<i64>> {
    let r = crate::domain::charging::start::Reservation {
        customer_id: customer,
        charger_id: charger,
        connector_id: connector,
        amount: 100,
        price: 1500,
        key: None,
        request_hash: None,
        owner_node: None,
    };
    let s = crate::domain::charging::start::reserve(c, &r).ok()?;
    if hold.is_none() {
        write_tx(c, |c| {
            crate::domain::charging::fail(
                c,
                s.id,
                crate::domain::charging::Failure::Rejected,
                &[SessionStatus::Pending],
            )
        })
        .ok()?;
        return Some(None);
    }
    write_tx(c, |c| crate::domain::charging::activate(c, s.id, None)).ok()?;
    let req = crate::domain::charging::evidence::TransactionStarted {
        connector_id: connector,
        id_tag: s.id_tag.clone(),
        id_token_type: None,
        meter_start: 0,
        reservation_id: None,
        timestamp: crate::infra::timestamps::now_timestamp(),
        station_transaction: None,
    };
    let started = crate::domain::charging::transactions::start_transaction(
        c,
        charger,
        &req,
        &crate::domain::charging::Policy::default(),
    )
    .ok()?;
    Some(Some(started.transaction_id))
}
