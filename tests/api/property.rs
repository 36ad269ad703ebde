//! Money conservation under random, concurrent interleavings of credits, starts, meter values,
//! stops (customer and charger side), rejections and replays.

use std::sync::{Arc, Mutex};

use csms::simulator::{RemoteStart, Simulator};
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
                let payload = json!({"transactionId": tx, "meterStop": meter, "timestamp": csms::ocpp::messages::now_timestamp(), "reason": "EVDisconnected"});
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
                .map(|_| match rng.below(10) {
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
    // Finish everything: every session settles, and the books still balance.
    for sim in &sims {
        for tx in sim.open_transactions().keys() {
            let _ = sim.stop_transaction(*tx, "Local").await;
        }
    }
    app.assert_money_conserved().await;
    // The run exercised what it claims to: paid sessions, failed (refunded) starts, refunds.
    let statuses = app
        .db(|c| {
            use csms::db::schema::charging_sessions;
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
dual!(money_is_conserved_under_random_interleavings, |s| s
    .remote_start_timeout_secs =
    3);
