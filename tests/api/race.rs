//! The seed scenario and its harder variants: concurrent starts decided by the database.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Barrier;

use crate::dual;
use crate::helpers::TestApp;

const IN_USE: &str = "This charger connector is currently in use by another customer. Please try a different connector or wait for the current session to end.";

/// Fires all requests at once (a barrier releases them together) and returns (status, body) in order.
async fn race(
    app: &Arc<TestApp>,
    tokens: Vec<String>,
    device: &str,
    connector: i64,
    amount: f64,
) -> Vec<(u16, Value)> {
    let barrier = Arc::new(Barrier::new(tokens.len()));
    let mut tasks = Vec::new();
    for token in tokens {
        let (app, barrier, device) = (app.clone(), barrier.clone(), device.to_string());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            app.start(&token, &device, connector, amount).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// The seed: two customers, one connector, at once; 50 rounds. Exactly one wins, the loser gets the
/// exact message and keeps their money, and only one RemoteStartTransaction reaches the charger.
async fn two_customers_simultaneous_start(app: TestApp) {
    let app = Arc::new(app);
    let sim = app.charger("DEVAFGKV1UW", 2).await;
    let c1 = app.customer("customer1@example.com", 100.0).await;
    let c2 = app.customer("customer2@example.com", 100.0).await;
    for round in 0..50 {
        let before = (app.balance(&c1.token).await, app.balance(&c2.token).await);
        let sessions_before = (
            app.sessions(&c1.token).await.len(),
            app.sessions(&c2.token).await.len(),
        );
        let remote_starts = sim.received_count("RemoteStartTransaction");
        let results = race(
            &app,
            vec![c1.token.clone(), c2.token.clone()],
            "DEVAFGKV1UW",
            1,
            50.0,
        )
        .await;
        let winners: Vec<usize> = (0..2).filter(|&i| results[i].0 == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one winner: {results:?}"
        );
        let (w, l) = (winners[0], 1 - winners[0]);
        assert_eq!(results[w].1["success"], true);
        assert_eq!(results[w].1["message"], "Charging started successfully");
        assert_eq!(results[w].1["session"]["status"], "active");
        assert!(
            results[w].1["session"]["sessionId"]
                .as_str()
                .unwrap()
                .starts_with("SESS_")
        );
        assert_eq!(results[l].0, 400, "round {round}: {results:?}");
        assert_eq!(
            results[l].1,
            serde_json::json!({"success": false, "error": IN_USE})
        );
        assert_eq!(
            sim.received_count("RemoteStartTransaction"),
            remote_starts + 1,
            "one RemoteStartTransaction per round"
        );

        let tokens = [&c1.token, &c2.token];
        let after = (app.balance(&c1.token).await, app.balance(&c2.token).await);
        let (before_w, after_w, before_l, after_l) = if w == 0 {
            (before.0, after.0, before.1, after.1)
        } else {
            (before.1, after.1, before.0, after.0)
        };
        assert_eq!(after_w, before_w - 50.0, "winner paid the hold");
        assert_eq!(after_l, before_l, "loser's balance unchanged");
        let loser_sessions = app.sessions(tokens[l]).await.len();
        assert_eq!(
            loser_sessions,
            if l == 0 {
                sessions_before.0
            } else {
                sessions_before.1
            },
            "no session for the loser"
        );

        // End the winner's session so the next round starts from a free connector; refund restores 50.
        let sid = results[w].1["session"]["sessionId"]
            .as_str()
            .unwrap()
            .to_string();
        app.wait_until(|| !sim.open_transactions().is_empty()).await;
        let (s, stop) = app
            .post(
                "/api/user/charging/stop",
                Some(tokens[w]),
                serde_json::json!({"sessionId": sid}),
            )
            .await;
        assert_eq!(s, 200, "{stop}");
        assert_eq!(stop["session"]["status"], "completed", "{stop}");
        assert_eq!(
            app.balance(tokens[w]).await,
            before_w,
            "nothing charged without energy"
        );
    }
    app.assert_money_conserved().await;
}
dual!(two_customers_simultaneous_start);

/// The seed again with the fast paths off (no occupancy hint, no per-connector queue, no read-only
/// lookup answer): both racers reach the reserving transaction, and the unique index alone decides.
async fn seed_decided_by_the_database_alone(app: TestApp) {
    two_customers_simultaneous_start(app).await
}
dual!(seed_decided_by_the_database_alone, |s| s.start_fast_paths =
    false);

/// The seed's "what to test next": different connectors, after the session ends, different chargers.
async fn seed_follow_ups(app: TestApp) {
    let app = Arc::new(app);
    let sim_a = app.charger("CHARGER_A", 2).await;
    let _sim_b = app.charger("CHARGER_B", 1).await;
    let c1 = app.customer("c1@example.com", 100.0).await;
    let c2 = app.customer("c2@example.com", 100.0).await;

    // Different connectors of one charger, at once: both succeed.
    let barrier = Arc::new(Barrier::new(2));
    let (a1, b1, t1, t2) = (
        app.clone(),
        barrier.clone(),
        c1.token.clone(),
        c2.token.clone(),
    );
    let (a2, b2) = (app.clone(), barrier.clone());
    let h1 = tokio::spawn(async move {
        b1.wait().await;
        a1.start(&t1, "CHARGER_A", 1, 20.0).await
    });
    let h2 = tokio::spawn(async move {
        b2.wait().await;
        a2.start(&t2, "CHARGER_A", 2, 20.0).await
    });
    let (r1, r2) = (h1.await.unwrap(), h2.await.unwrap());
    assert_eq!((r1.0, r2.0), (200, 200), "{r1:?} {r2:?}");

    // After the session ends, the other customer gets that connector.
    app.wait_until(|| sim_a.open_transactions().len() == 2)
        .await;
    let sid = r1.1["session"]["sessionId"].as_str().unwrap();
    let (s, _) = app
        .post(
            "/api/user/charging/stop",
            Some(&c1.token),
            serde_json::json!({"sessionId": sid}),
        )
        .await;
    assert_eq!(s, 200);
    let sid2 = r2.1["session"]["sessionId"].as_str().unwrap();
    let (s, _) = app
        .post(
            "/api/user/charging/stop",
            Some(&c2.token),
            serde_json::json!({"sessionId": sid2}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, body) = app.start(&c2.token, "CHARGER_A", 1, 20.0).await;
    assert_eq!(s, 200, "{body}");

    // Different chargers at once: both succeed.
    let results = race(&app, vec![c1.token.clone()], "CHARGER_B", 1, 20.0).await;
    assert_eq!(results[0].0, 200, "{results:?}");
    app.assert_money_conserved().await;
}
dual!(seed_follow_ups);

/// Fifty customers on one connector: one winner, 49 exact in-use errors, 49 untouched wallets.
async fn fifty_customers_one_connector(app: TestApp) {
    let app = Arc::new(app);
    let sim = app.charger("BUSY1", 1).await;
    let mut customers = Vec::new();
    for i in 0..50 {
        customers.push(app.customer(&format!("racer{i}@example.com"), 30.0).await);
    }
    let results = race(
        &app,
        customers.iter().map(|c| c.token.clone()).collect(),
        "BUSY1",
        1,
        25.0,
    )
    .await;
    let ok = results.iter().filter(|r| r.0 == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    for (i, r) in results.iter().enumerate() {
        if r.0 != 200 {
            assert_eq!(r.0, 400);
            assert_eq!(r.1["error"], IN_USE);
            assert_eq!(app.balance(&customers[i].token).await, 30.0);
            assert!(app.sessions(&customers[i].token).await.is_empty());
        }
    }
    assert_eq!(sim.received_count("RemoteStartTransaction"), 1);
    app.assert_money_conserved().await;
}
dual!(fifty_customers_one_connector);

/// Fifty racers with the fast paths off: every one reaches the reserving transaction.
async fn fifty_customers_database_alone(app: TestApp) {
    fifty_customers_one_connector(app).await
}
dual!(fifty_customers_database_alone, |s| s.start_fast_paths =
    false);

/// One wallet racing for many connectors at once: never below zero, exactly as many wins as it can pay.
async fn one_wallet_many_connectors(app: TestApp) {
    let app = Arc::new(app);
    let _sim = app.charger("WIDE1", 10).await;
    let c = app.customer("rich@example.com", 100.0).await;
    let barrier = Arc::new(Barrier::new(10));
    let mut tasks = Vec::new();
    for connector in 1..=10 {
        let (app, barrier, token) = (app.clone(), barrier.clone(), c.token.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            app.start(&token, "WIDE1", connector, 30.0).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        let (s, body) = t.await.unwrap();
        match s {
            200 => wins += 1,
            400 => assert_eq!(body["error"], "Insufficient wallet balance"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(wins, 3, "100.00 pays for three holds of 30.00");
    assert_eq!(app.balance(&c.token).await, 10.0);
    app.assert_money_conserved().await;
}
dual!(one_wallet_many_connectors);

/// The database alone decides: 32 threads call the reserve transaction for one connector at the same
/// instant (no HTTP, no fast path). Exactly one reserves; the others get ConnectorInUse and write nothing.
async fn reserve_decides_races_in_the_database(app: TestApp) {
    let _sim = app.charger("DBRACE1", 1).await;
    let mut customers = Vec::new();
    for i in 0..32 {
        let c = app.customer(&format!("db{i}@example.com"), 10.0).await;
        customers.push(c.id);
    }
    let charger_id = app.state.registry.get("DBRACE1").unwrap().charger_id;
    for round in 0..5 {
        let barrier = Arc::new(std::sync::Barrier::new(customers.len()));
        let mut threads = Vec::new();
        for id in customers.clone() {
            let (db, barrier) = (app.state.db.clone(), barrier.clone());
            threads.push(std::thread::spawn(move || {
                let mut conn = db.get().unwrap();
                barrier.wait();
                let r = csms::domain::charging::start::Reservation {
                    customer_id: id,
                    charger_id,
                    connector_id: 1,
                    amount: 100,
                    price: 1500,
                    key: None,
                    request_hash: None,
                    owner_node: None,
                };
                match csms::domain::charging::start::reserve(&mut conn, &r) {
                    Ok(s) => Some(s.id),
                    Err(csms::domain::charging::start::Reserve::Failed(
                        csms::error::AppError::ConnectorInUse,
                    )) => None,
                    Err(_) => panic!("unexpected reserve error"),
                }
            }));
        }
        let winners: Vec<i64> = threads
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        app.assert_money_conserved().await;
        let session = winners[0];
        app.db(move |c| {
            csms::infra::db::write_tx(c, |c| {
                csms::domain::charging::fail(
                    c,
                    session,
                    csms::domain::charging::Failure::Rejected,
                    &[csms::domain::charging::SessionStatus::Pending],
                )
            })
            .unwrap()
        })
        .await;
    }
    app.assert_money_conserved().await;
}
dual!(reserve_decides_races_in_the_database, |s| s.db_pool_size =
    40);

/// A customer's Stop and the charger's own StopTransaction for one session at once, round after
/// round: whichever comes first, the other is answered (never a 500: on PostgreSQL the two once
/// took the transaction's and the session's row locks in opposite orders and deadlocked), the
/// session settles once, and the books balance.
async fn customer_stop_races_the_chargers_stop(app: TestApp) {
    let sim = app.charger("RACESTOP", 1).await;
    let customer = app.customer("stopper@example.com", 500.0).await;
    for round in 0..15 {
        let (s, body) = app.start(&customer.token, &sim.id(), 1, 10.0).await;
        assert_eq!(s, 200, "round {round}: {body}");
        let sid = body["session"]["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        app.wait_until(|| !sim.open_transactions().is_empty()).await;
        let tx = *sim.open_transactions().keys().next().expect("open");
        sim.add_energy(tx, 150.0).await.expect("meter values");
        let barrier = Barrier::new(2);
        let by_customer = async {
            barrier.wait().await;
            app.post(
                "/api/user/charging/stop",
                Some(&customer.token),
                serde_json::json!({"sessionId": sid}),
            )
            .await
        };
        let by_charger = async {
            barrier.wait().await;
            // May find the transaction already stopped by the customer's RemoteStop: fine.
            let _ = sim.stop_transaction(tx, "Local").await;
        };
        let ((code, answer), ()) = tokio::join!(by_customer, by_charger);
        assert!(matches!(code, 200 | 400), "round {round}: {code} {answer}");
        app.wait_until(|| sim.open_transactions().is_empty()).await;
        let mut settled = false;
        for _ in 0..200 {
            let sessions = app.sessions(&customer.token).await;
            let this = sessions.iter().find(|s| s["sessionId"] == sid.as_str());
            if this.is_some_and(|s| s["status"] == "completed") {
                settled = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(settled, "round {round}: session {sid} settled");
    }
    app.assert_money_conserved().await;
}
dual!(customer_stop_races_the_chargers_stop);
