//! Start/stop charging end to end: failures that must refund, RFID, replays, prepaid exhaustion,
//! idempotency, recovery, and a money-conservation property test.

use std::time::Duration;

use csms::simulator::RemoteStart;
use serde_json::json;

use crate::dual;
use crate::helpers::TestApp;

async fn start_stop_settles_energy(app: TestApp) {
    let sim = app.charger("DEV1", 2).await;
    let c = app.customer("a@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "DEV1", 1, 50.0).await;
    assert_eq!(s, 200, "{body}");
    let sid = body["session"]["sessionId"].as_str().unwrap().to_string();
    assert_eq!(app.balance(&c.token).await, 50.0);
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    sim.add_energy(tx, 1500.0).await.unwrap(); // 1.5 kWh at the default 15.00/kWh = 22.50
    let (_, one) = app
        .get(
            &format!("/api/user/charging/sessions/{sid}"),
            Some(&c.token),
        )
        .await;
    assert_eq!(one["session"]["energyKwh"], 1.5);
    assert_eq!(one["session"]["cost"], 22.5);
    assert_eq!(one["session"]["transactionId"], tx);
    let (s, stop) = app
        .post(
            "/api/user/charging/stop",
            Some(&c.token),
            json!({"sessionId": sid}),
        )
        .await;
    assert_eq!(s, 200, "{stop}");
    assert_eq!(stop["session"]["status"], "completed");
    assert_eq!(stop["session"]["cost"], 22.5);
    assert_eq!(stop["session"]["refund"], 27.5);
    assert_eq!(app.balance(&c.token).await, 77.5);
    let (_, wallet) = app.get("/api/user/wallet", Some(&c.token)).await;
    let kinds: Vec<&str> = wallet["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["refund", "charge_hold", "credit"]);
    // Another customer cannot see or stop it.
    let other = app.customer("b@example.com", 0.0).await;
    let (s, _) = app
        .post(
            "/api/user/charging/stop",
            Some(&other.token),
            json!({"sessionId": sid}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .get(
            &format!("/api/user/charging/sessions/{sid}"),
            Some(&other.token),
        )
        .await;
    assert_eq!(s, 404);
    // Outbox events were written in the same transactions.
    let names = app
        .db(|c| {
            use csms::infra::db::schema::events;
            use diesel::prelude::*;
            events::table
                .select(events::name)
                .load::<String>(c)
                .unwrap()
        })
        .await;
    for e in [
        "charging.started",
        "charging.stopped",
        "wallet.debited",
        "wallet.refunded",
        "wallet.credited",
        "charger.connected",
    ] {
        assert!(names.iter().any(|n| n == e), "missing event {e}: {names:?}");
    }
    app.assert_money_conserved().await;
}
dual!(start_stop_settles_energy);

async fn charger_rejects_or_is_silent_or_drops(app: TestApp) {
    let c = app.customer("a@example.com", 100.0).await;
    let reject = app.charger("REJ1", 1).await;
    reject.set_remote_start(RemoteStart::Reject);
    let (s, body) = app.start(&c.token, "REJ1", 1, 40.0).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("Charger rejected the start request")),
        "{body}"
    );

    let silent = app.charger("SIL1", 1).await;
    silent.set_remote_start(RemoteStart::Ignore);
    let (s, body) = app.start(&c.token, "SIL1", 1, 40.0).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (504, Some("Charger did not respond")),
        "{body}"
    );

    let dropper = app.charger("DROP1", 1).await;
    dropper.set_remote_start(RemoteStart::Drop);
    let (s, body) = app.start(&c.token, "DROP1", 1, 40.0).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("Charger is offline")),
        "{body}"
    );

    assert_eq!(
        app.balance(&c.token).await,
        100.0,
        "every failed start is refunded in full"
    );
    let sessions = app.sessions(&c.token).await;
    assert_eq!(sessions.len(), 3);
    assert!(
        sessions
            .iter()
            .all(|s| s["status"] == "failed" && s["refund"] == 40.0),
        "{sessions:?}"
    );
    // The connector is free again after a failure.
    reject.set_remote_start(RemoteStart::Accept);
    let (s, body) = app.start(&c.token, "REJ1", 1, 40.0).await;
    assert_eq!(s, 200, "{body}");
    app.assert_money_conserved().await;
}
dual!(charger_rejects_or_is_silent_or_drops, |s| s
    .remote_start_timeout_secs =
    2);

async fn start_validation_errors(app: TestApp) {
    app.register_charger("VAL1", None).await;
    let mut cfg = app.sim_config("VAL1", 2);
    cfg.faulted = vec![2];
    let _sim = app.connect(cfg).await;
    app.register_charger("OFF1", None).await;
    let c = app.customer("a@example.com", 20.0).await;
    let t = Some(c.token.as_str());
    let cases = [
        (
            json!({"deviceId": "VAL1", "connectorId": 1, "amount": 50}),
            400,
            "Insufficient wallet balance",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": 1}),
            400,
            "Invalid amount",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": 1, "amount": 0}),
            400,
            "Invalid amount",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": 1, "amount": -5}),
            400,
            "Invalid amount",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": 1, "amount": 1.005}),
            400,
            "Invalid amount",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": 1, "amount": "ten"}),
            400,
            "Invalid amount",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": 1, "amount": 1e12}),
            400,
            "Invalid amount",
        ),
        (
            json!({"deviceId": "NOPE", "connectorId": 1, "amount": 5}),
            404,
            "Charger not found",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": 1, "amount": 5, "chargingPointId": "CP-OTHER"}),
            404,
            "Charger not found",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": 9, "amount": 5}),
            404,
            "Connector not found",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": 2, "amount": 5}),
            400,
            "Connector is not available",
        ),
        (
            json!({"deviceId": "VAL1", "connectorId": -1, "amount": 5}),
            400,
            "connectorId must be a positive integer",
        ),
        (
            json!({"connectorId": 1, "amount": 5}),
            400,
            "deviceId is required",
        ),
    ];
    for (body, status, error) in cases {
        let (s, resp) = app.post("/api/user/charging/start", t, body.clone()).await;
        assert_eq!((s, resp["error"].as_str()), (status, Some(error)), "{body}");
        assert_eq!(resp["success"], false);
    }
    // The offline charger needs a connector row to get past "Connector not found": it never connected.
    let (s, resp) = app
        .post(
            "/api/user/charging/start",
            t,
            json!({"deviceId": "OFF1", "connectorId": 1, "amount": 5}),
        )
        .await;
    assert_eq!(
        (s, resp["error"].as_str()),
        (404, Some("Connector not found"))
    );
    let (s, _) = app
        .post(
            "/api/user/charging/start",
            None,
            json!({"deviceId": "VAL1", "connectorId": 1, "amount": 5}),
        )
        .await;
    assert_eq!(s, 401);
    assert_eq!(app.balance(&c.token).await, 20.0);
    assert!(
        app.sessions(&c.token).await.is_empty(),
        "no session for any rejected start"
    );
    app.assert_money_conserved().await;
}
dual!(start_validation_errors);

async fn offline_charger_is_refused(app: TestApp) {
    let sim = app.charger("GONE1", 1).await;
    sim.disconnect().await;
    app.wait_until(|| !app.state.registry.is_online("GONE1"))
        .await;
    let c = app.customer("a@example.com", 20.0).await;
    let (s, body) = app.start(&c.token, "GONE1", 1, 5.0).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("Charger is offline"))
    );
    assert_eq!(app.balance(&c.token).await, 20.0);
}
dual!(offline_charger_is_refused);

/// A customer's own idTag used at the charger (an RFID card with the customer's tag) is billed
/// against a hold on that customer's wallet, and occupies the connector for app customers.
async fn rfid_transaction_blocks_the_app(app: TestApp) {
    let sim = app.charger("RFID1", 1).await;
    let card = app.customer("card@example.com", 20.0).await;
    let tx = sim
        .start_transaction(1, &card.id_tag.to_lowercase())
        .await
        .unwrap();
    assert_eq!(sim.start_answers()[0].1, "Accepted");
    assert_eq!(
        app.balance(&card.token).await,
        0.0,
        "the whole wallet (less than the RFID hold) is held"
    );
    let c = app.customer("a@example.com", 50.0).await;
    let (s, body) = app.start(&c.token, "RFID1", 1, 10.0).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some(crate::race_in_use()))
    );
    assert_eq!(app.balance(&c.token).await, 50.0);
    sim.add_energy(tx, 500.0).await.unwrap(); // 0.5 kWh at 15.00 = 7.50
    sim.stop_transaction(tx, "Local").await.unwrap();
    assert_eq!(app.balance(&card.token).await, 12.5);
    let (s, body) = app.start(&c.token, "RFID1", 1, 10.0).await;
    assert_eq!(s, 200, "{body}");
    app.assert_money_conserved().await;
}
dual!(rfid_transaction_blocks_the_app);

/// An unknown card is refused (Invalid) *and* stopped: the charger is sent RemoteStopTransaction,
/// and the connector is free again once it stops.
async fn unknown_card_is_refused_and_stopped(app: TestApp) {
    let sim = app.charger("UNK1", 1).await;
    let tx = sim.start_transaction(1, "NOBODYS-CARD").await.unwrap();
    assert_eq!(sim.start_answers(), vec![(tx, "Invalid".to_string())]);
    app.wait_until(|| sim.received_count("RemoteStopTransaction") == 1)
        .await;
    app.wait_until(|| sim.open_transactions().is_empty()).await;
    let c = app.customer("a@example.com", 50.0).await;
    let (s, body) = app.start(&c.token, "UNK1", 1, 10.0).await;
    assert_eq!(s, 200, "{body}");
    app.assert_money_conserved().await;
}
dual!(unknown_card_is_refused_and_stopped);

/// A replayed StopTransaction gets the same answer and moves no money; a replayed StartTransaction
/// gets the same transactionId.
async fn replays_move_no_money(app: TestApp) {
    let sim = app.charger("REP1", 1).await;
    let c = app.customer("a@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "REP1", 1, 30.0).await;
    assert_eq!(s, 200, "{body}");
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    sim.add_energy(tx, 1000.0).await.unwrap();
    let stop = json!({"transactionId": tx, "meterStop": 1000, "timestamp": "2026-11-24T10:00:00Z", "reason": "Local", "idTag": c.id_tag});
    let first = sim.call("StopTransaction", stop.clone()).await.unwrap();
    let balance = app.balance(&c.token).await;
    assert_eq!(balance, 85.0, "30 held, 15 charged for 1 kWh, 15 refunded");
    let again = sim.call("StopTransaction", stop).await.unwrap();
    // The same answer (a wallet-paid idTag's expiryDate is a minute from each answer).
    assert_eq!(first["idTagInfo"]["status"], again["idTagInfo"]["status"]);
    assert_eq!(first["idTagInfo"]["status"], "Accepted");
    assert_eq!(
        app.balance(&c.token).await,
        balance,
        "replay moved no money"
    );

    let start = json!({"connectorId": 1, "idTag": "CARD42", "meterStart": 5000, "timestamp": "2026-11-24T11:00:00Z"});
    let a = sim.call("StartTransaction", start.clone()).await.unwrap();
    let b = sim.call("StartTransaction", start).await.unwrap();
    assert_eq!(a["transactionId"], b["transactionId"]);
    assert_eq!(a["idTagInfo"]["status"], "Invalid", "unknown card");
    app.assert_money_conserved().await;
}
dual!(replays_move_no_money);

/// When the cost reaches the prepaid amount, the server sends RemoteStopTransaction exactly once.
async fn prepaid_exhaustion_stops_once(app: TestApp) {
    let sim = app.charger("EXH1", 1).await;
    let c = app.customer("a@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "EXH1", 1, 15.0).await; // 1 kWh at 15.00
    assert_eq!(s, 200, "{body}");
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    sim.add_energy(tx, 600.0).await.unwrap();
    assert_eq!(sim.received_count("RemoteStopTransaction"), 0);
    sim.add_energy(tx, 600.0).await.unwrap(); // 1.2 kWh: over the prepaid amount
    app.wait_until(|| sim.received_count("RemoteStopTransaction") == 1)
        .await;
    app.wait_until(|| sim.open_transactions().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.received_count("RemoteStopTransaction"), 1);
    let sessions = app.sessions(&c.token).await;
    assert_eq!(sessions[0]["status"], "completed");
    assert_eq!(
        sessions[0]["cost"], 15.0,
        "1.2 kWh: the hold pays the 15.00 authorized; the 3.00 beyond it is written off"
    );
    assert_eq!(sessions[0]["refund"], 0.0);
    assert_eq!(app.balance(&c.token).await, 85.0);
    let (_, w) = app
        .get("/api/admin/write-offs", Some(&app.admin().await))
        .await;
    assert_eq!(w["writeOffs"][0]["amount"], 3.0, "{w}");
    app.assert_money_conserved().await;
}
dual!(prepaid_exhaustion_stops_once);

/// MeterValues of many sessions arriving at once are stored together (one batch, set-wise session
/// updates): every session is metered by its own charger's readings only, a lower reading never
/// takes energy back, and the one session whose prepaid amount runs out amid the others is stopped
/// exactly once.
async fn meter_values_of_many_sessions_at_once(app: TestApp) {
    const N: usize = 12;
    let mut sims = Vec::new();
    let mut customers = Vec::new();
    for i in 0..N {
        let device = format!("BATCH{i}");
        sims.push(app.charger(&device, 1).await);
        let c = app.customer(&format!("b{i}@example.com"), 100.0).await;
        // Customer 0 prepays 15.00 (1 kWh); the others 50.00.
        let amount = if i == 0 { 15.0 } else { 50.0 };
        let (s, body) = app.start(&c.token, &device, 1, amount).await;
        assert_eq!(s, 200, "{body}");
        customers.push(c);
    }
    let mut txs = Vec::new();
    for sim in &sims {
        app.wait_until(|| sim.open_transactions().len() == 1).await;
        txs.push(*sim.open_transactions().keys().next().unwrap());
    }
    // Four rounds, every charger at once: 300 Wh each round (customer 0 passes 1 kWh in round 4);
    // charger i also sends a stale register (below what it already reported) in round 3.
    for round in 0..4 {
        let sends = sims
            .iter()
            .zip(&txs)
            .map(|(sim, tx)| sim.add_energy(*tx, 300.0));
        for r in futures_util::future::join_all(sends).await {
            r.unwrap();
        }
        if round == 2 {
            let stale = sims.iter().zip(&txs).map(|(sim, tx)| {
                sim.call(
                    "MeterValues",
                    json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": "2026-11-24T10:00:00Z",
                        "sampledValue": [{"value": "1", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}),
                )
            });
            for r in futures_util::future::join_all(stale).await {
                r.unwrap();
            }
        }
    }
    app.wait_until(|| sims[0].received_count("RemoteStopTransaction") == 1)
        .await;
    app.wait_until(|| sims[0].open_transactions().is_empty())
        .await;
    for (i, c) in customers.iter().enumerate().skip(1) {
        let sessions = app.sessions(&c.token).await;
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        assert_eq!(
            sessions[0]["status"], "active",
            "customer {i}: {sessions:?}"
        );
        assert_eq!(sessions[0]["energyKwh"], 1.2, "customer {i}: {sessions:?}");
        assert_eq!(sessions[0]["cost"], 18.0, "customer {i}: {sessions:?}");
        assert_eq!(sims[i].received_count("RemoteStopTransaction"), 0);
    }
    for (sim, tx) in sims.iter().zip(&txs).skip(1) {
        sim.stop_transaction(*tx, "Local").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sims[0].received_count("RemoteStopTransaction"), 1);
    let first = app.sessions(&customers[0].token).await;
    assert_eq!(first[0]["status"], "completed", "{first:?}");
    assert_eq!(
        first[0]["cost"], 15.0,
        "the authorized amount, no more: {first:?}"
    );
    assert_eq!(app.balance(&customers[0].token).await, 85.0);
    for c in &customers[1..] {
        assert_eq!(app.balance(&c.token).await, 82.0);
    }
    app.assert_money_conserved().await;
}
dual!(meter_values_of_many_sessions_at_once);

/// A retried request with the same Idempotency-Key returns the first answer and does not start twice.
async fn idempotency_key(app: TestApp) {
    let sim = app.charger("IDEM1", 2).await;
    let c = app.customer("a@example.com", 100.0).await;
    let client = reqwest::Client::new();
    let send = |connector: i64| {
        client
            .post(format!("{}/api/user/charging/start", app.http))
            .bearer_auth(&c.token)
            .header("Idempotency-Key", "click-1")
            .json(&json!({"deviceId": "IDEM1", "connectorId": connector, "amount": 10}))
            .send()
    };
    let (a, b) = tokio::join!(send(1), send(1));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let (a, b): (serde_json::Value, serde_json::Value) =
        (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["session"]["sessionId"], b["session"]["sessionId"]);
    let again: serde_json::Value = send(1).await.unwrap().json().await.unwrap();
    assert_eq!(
        again["session"]["sessionId"], a["session"]["sessionId"],
        "same key, same answer"
    );
    let other = send(2).await.unwrap();
    assert_eq!(other.status().as_u16(), 422, "same key, different body");
    let other: serde_json::Value = other.json().await.unwrap();
    assert_eq!(
        other["error"],
        "Idempotency-Key was already used for a different request"
    );
    assert_eq!(app.balance(&c.token).await, 90.0);
    assert_eq!(sim.received_count("RemoteStartTransaction"), 1);
}
dual!(idempotency_key);

/// Recovery: a session left pending by a crash is refunded at start-up; an accepted session whose
/// charger never sends StartTransaction is cancelled and refunded.
async fn recovery_refunds_stuck_sessions(app: TestApp) {
    app.register_charger("STUCK1", None).await;
    let mut cfg = app.sim_config("STUCK1", 2);
    cfg.no_start_transaction = true;
    let sim = app.connect(cfg).await;
    let c = app.customer("a@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "STUCK1", 1, 20.0).await;
    assert_eq!(s, 200, "{body}");
    // Simulate a crash between commit and the charger's answer: a pending session nobody waits for.
    sim.set_remote_start(RemoteStart::Ignore);
    let charger_id = app.state.registry.get("STUCK1").unwrap().charger_id;
    let customer = c.id;
    let tag = c.id_tag.clone();
    app.db(move |conn| {
        use csms::infra::db::schema::charging_sessions;
        use diesel::prelude::*;
        let old = csms::infra::db::now() - chrono::Duration::minutes(10);
        csms::infra::db::write_tx(conn, |conn| {
            diesel::insert_into(charging_sessions::table)
                .values((
                    charging_sessions::session_uid.eq("SESS_crashed"),
                    charging_sessions::customer_id.eq(customer),
                    charging_sessions::charger_id.eq(charger_id),
                    charging_sessions::connector_id.eq(2),
                    charging_sessions::origin.eq("app"),
                    charging_sessions::id_tag.eq(&tag),
                    charging_sessions::status.eq("pending"),
                    charging_sessions::amount.eq(1000i64),
                    charging_sessions::price_per_kwh.eq(1500i64),
                    charging_sessions::created_at.eq(old),
                    charging_sessions::updated_at.eq(old),
                ))
                .execute(conn)?;
            let sid: i64 = charging_sessions::table
                .filter(charging_sessions::session_uid.eq("SESS_crashed"))
                .select(charging_sessions::id)
                .first(conn)?;
            csms::domain::wallet::apply(
                conn,
                customer,
                -1000,
                csms::domain::wallet::Kind::ChargeHold,
                Some(sid),
                None,
            )
            .map_err(|_| diesel::result::Error::RollbackTransaction)?;
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    })
    .await;
    assert_eq!(app.balance(&c.token).await, 70.0);
    let mut statuses = Vec::new();
    for _ in 0..100 {
        let sessions = app.sessions(&c.token).await;
        statuses = sessions
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        if statuses.iter().all(|s| s == "failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses, vec!["failed", "failed"]);
    assert_eq!(app.balance(&c.token).await, 100.0);
    app.assert_money_conserved().await;
}
dual!(recovery_refunds_stuck_sessions, |s| {
    s.start_transaction_timeout_secs = 1;
    s.recovery_interval_secs = 1;
    s.remote_start_timeout_secs = 1;
});

/// The customer's own events arrive live over Server-Sent Events; another customer sees none of them.
async fn events_stream_over_sse(app: TestApp) {
    use futures_util::StreamExt;
    let sim = app.charger("SSE1", 1).await;
    let c = app.customer("a@example.com", 100.0).await;
    let other = app.customer("b@example.com", 0.0).await;
    let open = |token: String| {
        let app = &app;
        async move {
            // As a browser does: a short-lived ticket first, then the stream with it in the URL.
            let (s, ticket) = app
                .request(
                    reqwest::Method::POST,
                    "/api/user/events/ticket",
                    Some(&token),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{ticket}");
            let url = format!(
                "{}/api/user/events?ticket={}",
                app.http,
                ticket["ticket"].as_str().unwrap()
            );
            let resp = reqwest::get(url).await.unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            assert_eq!(resp.headers()["content-type"], "text/event-stream");
            resp.bytes_stream()
        }
    };
    let mut mine = open(c.token.clone()).await;
    let mut theirs = open(other.token.clone()).await;
    let (s, body) = app.start(&c.token, "SSE1", 1, 20.0).await;
    assert_eq!(s, 200, "{body}");
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    sim.add_energy(tx, 100.0).await.unwrap();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(seen.contains("event: charging.started")
        && seen.contains("event: wallet.debited")
        && seen.contains("event: charging.progress"))
    {
        let chunk = tokio::time::timeout_at(deadline, mine.next())
            .await
            .expect("events in time")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains(&body["session"]["sessionId"].as_str().unwrap().to_string()));
    // The other customer's stream carries nothing of this (at most keepalive comments).
    if let Ok(Some(Ok(chunk))) =
        tokio::time::timeout(Duration::from_millis(500), theirs.next()).await
    {
        let text = String::from_utf8_lossy(&chunk);
        assert!(!text.contains("event:"), "{text}");
    }
    // A bad ticket is refused, and so is the API token in the URL.
    let resp = reqwest::get(format!("{}/api/user/events?ticket=bad", app.http))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = reqwest::get(format!("{}/api/user/events?token={}", app.http, c.token))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
dual!(events_stream_over_sse);
