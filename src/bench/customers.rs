//! Customers and the chargers they start on, for the scenarios that run them beside something else
//! (the storm, the soak): customers with large wallets logged in through the real API, simulated
//! chargers that accept RemoteStart, the start and stop calls, and the settle-then-audit at the end.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};

use super::ServerProcess;
use super::fixtures::register_chargers;
use crate::domain::charging::status::SessionStatus;
use crate::error::AppError;
use crate::infra::db::schema::{charging_sessions, customers};
use crate::infra::db::{Db, now, write_tx};
use crate::simulator::{SimConfig, Simulator};

/// `connectors` connectors on `connectors / 2` (rounded up) simulated chargers named `{prefix}{i}`,
/// two connectors each, connected and booted. `auto_stop_ms`: each charge ends by itself after so
/// long (None: the customer stops it); `meter_interval_secs`: MeterValues while charging (0: none).
pub(super) async fn charge_points(
    server: &ServerProcess,
    db: &Db,
    prefix: &str,
    connectors: usize,
    auto_stop_ms: Option<u64>,
    meter_interval_secs: u64,
) -> Result<(Vec<String>, Vec<Simulator>), AppError> {
    let ids = register_chargers(db, prefix, connectors.max(1).div_ceil(2)).await?;
    let mut sims = Vec::new();
    for id in &ids {
        let mut cfg = SimConfig::new(
            format!("ws://127.0.0.1:{}/ocpp", server.ocpp_port),
            id.clone(),
            2,
        );
        cfg.auto_stop_after_ms = auto_stop_ms;
        cfg.meter_interval_secs = meter_interval_secs;
        sims.push(
            Simulator::connect(cfg)
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?,
        );
    }
    Ok((ids, sims))
}

/// `n` customers `{prefix}{i}` (email `{prefix}{i}@example.com` in lower case, password
/// "password") with large wallets, created straight in the database (credited through the
/// ledger). Returns their ids.
pub(super) async fn create(db: &Db, prefix: &str, n: usize) -> Result<Vec<i64>, AppError> {
    let hash = crate::domain::auth::hash_password("password".into(), 4).await?;
    let p = prefix.to_string();
    db.run(move |c| {
        write_tx(c, |c| {
            let mut ids = Vec::with_capacity(n);
            for i in 0..n {
                let id: i64 = diesel::insert_into(customers::table)
                    .values((
                        customers::name.eq(format!("{p} {i}")),
                        customers::email.eq(format!("{}{i}@example.com", p.to_lowercase())),
                        customers::password_hash.eq(&hash),
                        customers::id_tag.eq(format!("{}{i}", p.to_uppercase())),
                        customers::balance.eq(0i64),
                        customers::created_at.eq(now()),
                    ))
                    .returning(customers::id)
                    .get_result(c)?;
                crate::domain::wallet::apply(
                    c,
                    id,
                    100_000_000,
                    crate::domain::wallet::Kind::Credit,
                    None,
                    Some("bench"),
                )?;
                ids.push(id);
            }
            Ok::<_, AppError>(ids)
        })
    })
    .await
}

/// `n` customers `{prefix}{i}` with large wallets, created straight in the database; their tokens
/// through the real login.
pub(super) async fn customers(
    db: &Db,
    http: &reqwest::Client,
    base: &str,
    prefix: &str,
    n: usize,
) -> Result<Vec<String>, AppError> {
    create(db, prefix, n).await?;
    let mut tokens = Vec::new();
    for i in 0..n {
        let email = format!("{}{i}@example.com", prefix.to_lowercase());
        let body: Value = http
            .post(format!("{base}/api/customer/login"))
            .json(&json!({"email": email, "password": "password"}))
            .send()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .json()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let token = body["token"]
            .as_str()
            .ok_or_else(|| AppError::Internal(format!("customer login failed: {body}")))?;
        tokens.push(token.to_string());
    }
    Ok(tokens)
}

/// The answer to one start request.
pub(super) enum Started {
    /// 200: the latency (µs) and the session's id
    Ok(f64, String),
    /// 400 "currently in use": a lost race, expected when customers share connectors
    InUse,
    /// Anything else
    Other(String),
}

/// `POST /api/user/charging/start` for `device`/`connector` with 1 (major unit) prepaid.
pub(super) async fn start(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    device: &str,
    connector: usize,
) -> Started {
    let body = json!({"deviceId": device, "connectorId": connector, "amount": 1});
    let t = Instant::now();
    let resp = http
        .post(format!("{base}/api/user/charging/start"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await;
    let micros = t.elapsed().as_micros() as f64;
    match resp {
        Ok(r) if r.status().as_u16() == 200 => {
            let v: Value = r.json().await.unwrap_or_default();
            Started::Ok(
                micros,
                v["session"]["sessionId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
        Ok(r) if r.status().as_u16() == 400 => {
            let text = r.text().await.unwrap_or_default();
            if text.contains("currently in use") {
                Started::InUse
            } else {
                Started::Other(format!("400 {text}"))
            }
        }
        Ok(r) => Started::Other(format!(
            "{} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        )),
        Err(e) => Started::Other(e.to_string()),
    }
}

/// `POST /api/user/charging/stop`, then waits (polling the session as the app does) until the
/// session has ended. An error names what went wrong.
pub(super) async fn stop_and_wait(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    session: &str,
    wait: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    // A session whose StartTransaction has not arrived yet is still "pending": ask again shortly.
    loop {
        let r = http
            .post(format!("{base}/api/user/charging/stop"))
            .bearer_auth(token)
            .json(&json!({ "sessionId": session }))
            .send()
            .await
            .map_err(|e| format!("stop: {e}"))?;
        let status = r.status().as_u16();
        if status == 200 {
            break;
        }
        let text = r.text().await.unwrap_or_default();
        if status == 400 && text.contains("still starting") && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        if status == 400 && text.contains("already ended") {
            return Ok(());
        }
        return Err(format!("stop: {status} {text}"));
    }
    loop {
        let r = http
            .get(format!("{base}/api/user/charging/sessions/{session}"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("session: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("session: {}", r.status()));
        }
        let v: Value = r.json().await.map_err(|e| format!("session: {e}"))?;
        match v["session"]["status"].as_str() {
            Some("completed") | Some("failed") => return Ok(()),
            _ if Instant::now() > deadline => {
                return Err(format!("session {session} still open after {wait:?}"));
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// What a customer's start loop saw: the latencies of the starts that succeeded (µs), the in-use
/// answers (lost races), the other answers and the first of those.
pub(super) type Starts = (Vec<f64>, u64, u64, Option<String>);

/// The starts of every customer's task together (a task that failed counts for nothing; the first
/// other answer is the first task's that had one).
pub(super) async fn gather(tasks: Vec<tokio::task::JoinHandle<Starts>>) -> Starts {
    let (mut lat, mut in_use, mut other, mut first_other) = (Vec::new(), 0, 0, None);
    for t in tasks {
        if let Ok((l, u, o, f)) = t.await {
            lat.extend(l);
            in_use += u;
            other += o;
            if first_other.is_none() {
                first_other = f;
            }
        }
    }
    (lat, in_use, other, first_other)
}

/// Waits (at most `secs`) until no session is open; returns how many still are.
pub(super) async fn settle(db: &Db, secs: u64) -> Result<i64, AppError> {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let open: i64 = db
            .run(|c| {
                Ok(charging_sessions::table
                    .filter(charging_sessions::status.eq_any(SessionStatus::OPEN))
                    .count()
                    .get_result(c)?)
            })
            .await?;
        if open == 0 || Instant::now() > until {
            return Ok(open);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
