//! Money conservation under random, concurrent interleavings of credits, starts, meter values,
//! stops (customer and charger side), rejections and replays, and the faults of real chargers:
//! late accepts, reboots that lose transactions (and their late StopTransaction), meter resets,
//! retried and re-cased StartTransaction, rejected or ignored stops, reconnects, customers' own
//! idTags at the charger, and operators force-closing sessions.

use std::sync::{Arc, Mutex};

use csms::simulator::{RemoteStart, RemoteStop, Simulator, TagCase};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::dual;
use crate::helpers::{Customer, TestApp};

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone)]
enum Op {
    Credit(usize, f64),
    Start(usize, usize, i64, f64),
    Meter(usize, f64),
    StopByCustomer(usize),
    StopAtCharger(usize),
    ReplayStop,
    ReplayStart(usize),
    Behaviour(usize, bool),
    /// The next accept arrives after csms gave up (or on time again).
    LateAccept(usize, bool),
    Reboot(usize, bool),
    LateStop(usize),
    MeterReset(usize),
    StopBehaviour(usize, u64),
    Quirks(usize, bool, bool),
    Reconnect(usize),
    OwnTagAtCharger(usize, usize),
    ForceClose(usize),
}

async fn run_op(
    app: &TestApp,
    sims: &[Simulator],
    customers: &[Customer],
    stops: &Mutex<Vec<(usize, Value)>>,
    op: Op,
) {
    match op {
        Op::Credit(c, amount) => {
            let admin = app.admin().await;
            let (s, _) = app
                .post(
                    &format!("/api/admin/customers/{}/wallet/credit", customers[c].id),
                    Some(&admin),
                    json!({"amount": amount}),
                )
                .await;
            assert_eq!(s, 200);
        }
        Op::Start(c, ch, connector, amount) => {
            let (s, body) = app
                .start(&customers[c].token, &sims[ch].id(), connector, amount)
                .await;
            assert!(matches!(s, 200 | 400 | 504), "{s} {body}");
        }
        Op::Meter(ch, wh) => {
            if let Some((&tx, _)) = sims[ch].open_transactions().iter().next() {
                let _ = sims[ch].add_energy(tx, wh).await;
            }
        }
        Op::StopByCustomer(c) => {
            let sessions = app.sessions(&customers[c].token).await;
            if let Some(s) = sessions.iter().find(|s| s["status"] == "active") {
                let (code, body) = app
                    .post(
                        "/api/user/charging/stop",
                        Some(&customers[c].token),
                        json!({"sessionId": s["sessionId"]}),
                    )
                    .await;
                assert!(matches!(code, 200 | 400 | 504), "{code} {body}");
            }
        }
        Op::StopAtCharger(ch) => {
            if let Some((&tx, _)) = sims[ch].open_transactions().iter().next() {
                let meter = sims[ch].meter_wh(sims[ch].open_transactions()[&tx]).round() as i64;
                let payload = json!({"transactionId": tx, "meterStop": meter, "timestamp": csms::protocol::ocpp16::messages::now_timestamp(), "reason": "EVDisconnected"});
                if sims[ch]
                    .stop_transaction(tx, "EVDisconnected")
                    .await
                    .is_ok()
                {
                    stops.lock().unwrap().push((ch, payload));
                }
            }
        }
        Op::ReplayStop => {
            let last = stops.lock().unwrap().last().cloned();
            if let Some((ch, mut payload)) = last {
                // Same transaction again (the meter value may differ: a replay must still move nothing).
                payload["meterStop"] = json!(payload["meterStop"].as_i64().unwrap_or(0) + 10_000);
                let _ = sims[ch].call("StopTransaction", payload).await;
            }
        }
        Op::ReplayStart(ch) => {
            let start = json!({"connectorId": 2, "idTag": "PROPCARD", "meterStart": 7, "timestamp": "2026-01-01T00:00:00Z"});
            let a = sims[ch].call("StartTransaction", start.clone()).await;
            let b = sims[ch].call("StartTransaction", start).await;
            if let (Ok(a), Ok(b)) = (a, b) {
                assert_eq!(a["transactionId"], b["transactionId"]);
            }
        }
        Op::Behaviour(ch, accept) => sims[ch].set_remote_start(if accept {
            RemoteStart::Accept
        } else {
            RemoteStart::Reject
        }),
        Op::LateAccept(ch, late) => sims[ch].set_remote_start_delay_ms(late.then_some(3_500)),
        Op::Reboot(ch, lose) => {
            let _ = sims[ch].reboot(lose).await;
        }
        Op::LateStop(ch) => {
            if let Some((&tx, _)) = sims[ch].lost_transactions().iter().next() {
                let _ = sims[ch].send_lost_stop(tx).await;
            }
        }
        Op::MeterReset(ch) => sims[ch].reset_meter(1),
        Op::StopBehaviour(ch, which) => sims[ch].set_remote_stop(match which {
            0 => RemoteStop::Reject,
            1 => RemoteStop::Ignore,
            _ => RemoteStop::Accept,
        }),
        Op::Quirks(ch, retry, lower) => {
            sims[ch].set_quirks(retry, if lower { TagCase::Lower } else { TagCase::AsIs })
        }
        Op::Reconnect(ch) => {
            let _ = sims[ch].reconnect().await;
            let _ = sims[ch].report_statuses().await;
        }
        Op::OwnTagAtCharger(ch, c) => {
            let busy: Vec<u32> = sims[ch].open_transactions().values().copied().collect();
            if !busy.contains(&2) {
                let _ = sims[ch].start_transaction(2, &customers[c].id_tag).await;
            }
        }
        Op::ForceClose(c) => {
            let sessions = app.sessions(&customers[c].token).await;
            if let Some(s) = sessions.iter().find(|s| s["status"] == "active") {
                let admin = app.admin().await;
                let (code, body) = app
                    .post(
                        &format!(
                            "/api/admin/sessions/{}/close",
                            s["sessionId"].as_str().unwrap_or("")
                        ),
                        Some(&admin),
                        json!({"reason": "property test"}),
                    )
                    .await;
                assert!(matches!(code, 200 | 409), "{code} {body}");
            }
        }
    }
}

async fn money_is_conserved_under_random_interleavings(app: TestApp) {
    let app = Arc::new(app);
    let mut sims = Vec::new();
    for i in 0..3 {
        sims.push(app.charger(&format!("PROP{i}"), 2).await);
    }
    let mut customers = Vec::new();
    for i in 0..5 {
        customers.push(
            app.customer(&format!("p{i}@example.com"), 40.0 + 10.0 * i as f64)
                .await,
        );
    }
    let stops = Mutex::new(Vec::new());
    for seed in [7u64, 1234, 987_654_321] {
        let mut rng = Rng(seed);
        for _round in 0..15 {
            let ops: Vec<Op> = (0..4)
                .map(|_| match rng.below(20) {
                    10 => Op::LateAccept(rng.below(3) as usize, rng.below(2) == 0),
                    11 => Op::Reboot(rng.below(3) as usize, rng.below(2) == 0),
                    12 => Op::LateStop(rng.below(3) as usize),
                    13 => Op::MeterReset(rng.below(3) as usize),
                    14 => Op::StopBehaviour(rng.below(3) as usize, rng.below(4)),
                    15 => Op::Quirks(rng.below(3) as usize, rng.below(2) == 0, rng.below(2) == 0),
                    16 => Op::Reconnect(rng.below(3) as usize),
                    17 => Op::OwnTagAtCharger(rng.below(3) as usize, rng.below(5) as usize),
                    18 => Op::ForceClose(rng.below(5) as usize),
                    0 => Op::Credit(rng.below(5) as usize, (1 + rng.below(3000)) as f64 / 100.0),
                    1..=3 => Op::Start(
                        rng.below(5) as usize,
                        rng.below(3) as usize,
                        1 + rng.below(2) as i64,
                        (1 + rng.below(4000)) as f64 / 100.0,
                    ),
                    4 | 5 => Op::Meter(rng.below(3) as usize, rng.below(3000) as f64),
                    6 => Op::StopByCustomer(rng.below(5) as usize),
                    7 => Op::StopAtCharger(rng.below(3) as usize),
                    8 => {
                        if rng.below(2) == 0 {
                            Op::ReplayStop
                        } else {
                            Op::ReplayStart(rng.below(3) as usize)
                        }
                    }
                    _ => Op::Behaviour(rng.below(3) as usize, rng.below(3) != 0),
                })
                .collect();
            join_all(
                ops.into_iter()
                    .map(|op| run_op(&app, &sims, &customers, &stops, op)),
            )
            .await;
            app.assert_money_conserved().await;
        }
    }
    // Finish everything: the chargers behave again, stop what they run and report their
    // connectors; every session settles (recovery handles what they lost), and the books balance.
    for sim in &sims {
        sim.set_remote_stop(RemoteStop::Accept);
        sim.set_remote_start_delay_ms(None);
    }
    // A late accept may still be on its way (up to 3.5 s): keep stopping until nothing is open.
    for _ in 0..120 {
        for sim in &sims {
            for tx in sim.lost_transactions().keys() {
                let _ = sim.send_lost_stop(*tx).await;
            }
            for tx in sim.open_transactions().keys() {
                let _ = sim.stop_transaction(*tx, "Local").await;
            }
        }
        let open = app
            .db(|c| {
                use csms::infra::db::schema::charging_sessions;
                use diesel::prelude::*;
                charging_sessions::table
                    .filter(charging_sessions::status.eq_any(["pending", "active", "stopping"]))
                    .count()
                    .get_result::<i64>(c)
                    .unwrap()
            })
            .await;
        if open == 0 {
            break;
        }
        for sim in &sims {
            let _ = sim.report_statuses().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    app.assert_money_conserved().await;
    let open = app
        .db(|c| {
            use csms::infra::db::schema::charging_sessions;
            use diesel::prelude::*;
            charging_sessions::table
                .filter(charging_sessions::status.eq_any(["pending", "active", "stopping"]))
                .select((charging_sessions::session_uid, charging_sessions::status))
                .load::<(String, String)>(c)
                .unwrap()
        })
        .await;
    if !open.is_empty() {
        let detail = app
            .db(|c| {
                use csms::infra::db::models::{OcppTransaction, Session};
                use csms::infra::db::schema::{charging_sessions, connectors, ocpp_transactions};
                use diesel::prelude::*;
                let s: Vec<Session> = charging_sessions::table
                    .filter(charging_sessions::status.eq_any(["pending", "active", "stopping"]))
                    .select(Session::as_select())
                    .load(c)
                    .unwrap();
                let t: Vec<OcppTransaction> = ocpp_transactions::table
                    .select(OcppTransaction::as_select())
                    .load(c)
                    .unwrap();
                let k: Vec<(i64, i32, String, Option<chrono::NaiveDateTime>)> = connectors::table
                    .select((
                        connectors::charger_id,
                        connectors::connector_id,
                        connectors::status,
                        connectors::status_since,
                    ))
                    .load(c)
                    .unwrap();
                format!("{s:#?}\n{t:#?}\n{k:?}")
            })
            .await;
        panic!("sessions left open: {open:?}\n{detail}");
    }
    // The run exercised what it claims to: paid sessions, failed (refunded) starts, refunds.
    let statuses = app
        .db(|c| {
            use csms::infra::db::schema::charging_sessions;
            use diesel::prelude::*;
            charging_sessions::table
                .filter(charging_sessions::origin.eq("app"))
                .select((charging_sessions::status, charging_sessions::cost))
                .load::<(String, i64)>(c)
                .unwrap()
        })
        .await;
    eprintln!(
        "property run: {} app sessions: {statuses:?}",
        statuses.len()
    );
    assert!(
        statuses
            .iter()
            .any(|(s, cost)| s == "completed" && *cost > 0),
        "no paid session"
    );
    assert!(
        statuses.iter().any(|(s, _)| s == "failed"),
        "no failed start"
    );
}
dual!(money_is_conserved_under_random_interleavings, |s| {
    s.remote_start_timeout_secs = 3;
    s.ocpp_call_timeout_secs = 2;
    s.stop_retry_secs = 1;
    s.orphan_grace_secs = 2;
    s.recovery_interval_secs = 1;
    s.start_transaction_timeout_secs = 4;
});
