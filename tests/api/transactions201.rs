//! The wallet on an OCPP 2.0.1 station (issue 22, blocks E and J): a customer's start sends
//! RequestStartTransaction with a one-time idToken and a remoteStartId, TransactionEvent Started
//! links the session, Updated meters it, a stop sends RequestStopTransaction and Ended settles it
//! with the final cost. The seed race is decided by the database as on 1.6, and events that come
//! out of order, twice, offline or for a transaction first seen part way through bill exactly
//! once and never beyond the authorized amount.

use std::sync::Arc;

use diesel::prelude::*;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::dual;
use crate::helpers::TestApp;
use csms::simulator::Ocpp;
use csms::simulator::v201::Station201;

const IN_USE: &str = "This charger connector is currently in use by another customer. Please try a different connector or wait for the current session to end.";

fn both(s: &mut csms::infra::config::Settings) {
    s.ocpp_versions = vec!["ocpp1.6".into(), "ocpp2.0.1".into()];
}

/// Registers `device` and runs it as a simulated 2.0.1 station with `evses` EVSEs.
async fn station(app: &TestApp, device: &str, evses: u32) -> Station201 {
    app.register_charger(device, None).await;
    let mut cfg = app.sim_config(device, evses);
    cfg.ocpp = Ocpp::V201;
    Station201::connect(cfg)
        .await
        .expect("connected and booted")
}

async fn session(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, body) = app
        .get(&format!("/api/user/charging/sessions/{id}"), Some(token))
        .await;
    assert_eq!(s, 200, "{body}");
    body["session"].clone()
}

/// A customer's start and stop on a 2.0.1 station, end to end, with the money.
async fn customer_start_meter_stop(app: TestApp) {
    let st = station(&app, "E201A", 2).await;
    let c = app.customer("e201a@example.com", 100.0).await;
    // 80 held: the 4 kWh below (60.00) stay within it, so csms does not stop the session itself
    // before the customer does (with 50 the automatic stop raced the customer's).
    let (s, body) = app.start(&c.token, "E201A", 1, 80.0).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["message"], "Charging started successfully");
    let sid = body["session"]["sessionId"].as_str().unwrap().to_string();
    assert_eq!(app.balance(&c.token).await, 20.0, "the hold");

    // What went out: RequestStartTransaction in 2.0.1 words, with a one-time idToken.
    let (_, req) = st
        .received()
        .into_iter()
        .find(|(a, _)| a == "RequestStartTransaction")
        .expect("a RequestStartTransaction");
    assert_eq!(req["evseId"], 1);
    assert_eq!(req["idToken"]["type"], "Central");
    assert_ne!(
        req["idToken"]["idToken"],
        json!(c.id_tag),
        "a one-time token"
    );
    assert!(req["remoteStartId"].as_i64().is_some(), "{req}");

    // Started linked the session (its answer accepted the token).
    app.wait_until(|| !st.answers("TX-1").is_empty()).await;
    assert_eq!(st.answers("TX-1")[0]["idTokenInfo"]["status"], "Accepted");
    let v = session(&app, &c.token, &sid).await;
    assert_eq!(v["status"], "active", "{v}");
    assert!(v["transactionId"].as_i64().is_some(), "{v}");

    // 4 kWh flow, reported in Updated events; the session shows them.
    st.charge(1, 2500.0).await.unwrap();
    let a = st.charge(1, 1500.0).await.unwrap();
    assert!(
        a.get("idTokenInfo").is_none(),
        "no token, no idTokenInfo: {a}"
    );
    // The running cost, for the station's display.
    let shown = a["updatedPersonalMessage"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(shown.contains("INR so far (4.0 kWh)"), "{a}");
    let amount = shown.split(' ').next().unwrap_or_default();
    assert_eq!(
        amount.split_once('.').map(|(_, d)| d.len()),
        Some(2),
        "the cost with both decimals: {shown}"
    );
    let v = session(&app, &c.token, &sid).await;
    assert_eq!(v["energyKwh"], 4.0, "{v}");

    // The customer stops: RequestStopTransaction names the station's transaction; Ended settles.
    let (s, stop) = app
        .post(
            "/api/user/charging/stop",
            Some(&c.token),
            json!({"sessionId": sid}),
        )
        .await;
    assert_eq!(s, 200, "{stop}");
    let (_, req) = st
        .received()
        .into_iter()
        .find(|(a, _)| a == "RequestStopTransaction")
        .expect("a RequestStopTransaction");
    assert_eq!(req, json!({"transactionId": "TX-1"}));
    app.wait_until(|| st.answers("TX-1").len() == 4).await;
    let v = session(&app, &c.token, &sid).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["energyKwh"], 4.0, "{v}");
    let cost = v["cost"].as_f64().unwrap();
    assert!(cost > 0.0, "energy is never free: {v}");
    let ended = &st.answers("TX-1")[3];
    assert_eq!(ended["totalCost"].as_f64(), Some(cost), "{ended}");
    assert_eq!(app.balance(&c.token).await, 100.0 - cost);
    app.assert_money_conserved().await;
}
dual!(customer_start_meter_stop, super::both);

/// The seed on a 2.0.1 station: two customers, one connector, at once; 50 rounds. Exactly one
/// wins, the loser gets the exact message and keeps their money, and one RequestStartTransaction
/// reaches the station per round.
async fn seed_race_on_201(app: TestApp) {
    let app = Arc::new(app);
    let st = station(&app, "E201SEED", 2).await;
    let c1 = app.customer("seed201a@example.com", 1000.0).await;
    let c2 = app.customer("seed201b@example.com", 1000.0).await;
    for round in 0..50 {
        let before = (app.balance(&c1.token).await, app.balance(&c2.token).await);
        let counts = (
            app.sessions(&c1.token).await.len(),
            app.sessions(&c2.token).await.len(),
        );
        let starts = st.received_count("RequestStartTransaction");
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = Vec::new();
        for token in [c1.token.clone(), c2.token.clone()] {
            let (app, barrier) = (app.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                app.start(&token, "E201SEED", 1, 50.0).await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let winners: Vec<usize> = (0..2).filter(|&i| results[i].0 == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let (w, l) = (winners[0], 1 - winners[0]);
        assert_eq!(results[w].1["message"], "Charging started successfully");
        assert_eq!(results[l].0, 400, "round {round}: {results:?}");
        assert_eq!(results[l].1, json!({"success": false, "error": IN_USE}));
        assert_eq!(st.received_count("RequestStartTransaction"), starts + 1);
        let tokens = [&c1.token, &c2.token];
        let after = (app.balance(&c1.token).await, app.balance(&c2.token).await);
        let after_counts = (
            app.sessions(&c1.token).await.len(),
            app.sessions(&c2.token).await.len(),
        );
        let pick = |p: (f64, f64), i: usize| if i == 0 { p.0 } else { p.1 };
        let pick_n = |p: (usize, usize), i: usize| if i == 0 { p.0 } else { p.1 };
        assert_eq!(pick(after, w), pick(before, w) - 50.0, "the winner's hold");
        assert_eq!(
            pick(after, l),
            pick(before, l),
            "the loser keeps their money"
        );
        assert_eq!(
            pick_n(after_counts, l),
            pick_n(counts, l),
            "no session for the loser"
        );

        let sid = results[w].1["session"]["sessionId"]
            .as_str()
            .unwrap()
            .to_string();
        app.wait_until(|| !st.open().is_empty()).await;
        let (s, stop) = app
            .post(
                "/api/user/charging/stop",
                Some(tokens[w]),
                json!({"sessionId": sid}),
            )
            .await;
        assert_eq!(s, 200, "{stop}");
        let tx = format!("TX-{}", round + 1);
        app.wait_until(|| st.answers(&tx).len() == 2).await;
        assert_eq!(session(&app, tokens[w], &sid).await["status"], "completed");
    }
    app.assert_money_conserved().await;
}
dual!(seed_race_on_201, super::both);

/// A transaction's events out of order, offline, twice, first seen part way through: the session
/// is billed once, from the earliest register to the last, and a gap in seqNo asks the station.
async fn events_out_of_order_bill_once(app: TestApp) {
    let st = station(&app, "E201OOO", 1).await;
    let c = app.customer("ooo201@example.com", 100.0).await;
    // The station accepts the start but its events come later, in another order.
    st.answer_starts(Some("Accepted"));
    let (s, body) = app.start(&c.token, "E201OOO", 1, 50.0).await;
    assert_eq!(s, 200, "{body}");
    let sid = body["session"]["sessionId"].as_str().unwrap().to_string();
    let (_, req) = st
        .received()
        .into_iter()
        .find(|(a, _)| a == "RequestStartTransaction")
        .unwrap();
    let token = req["idToken"].clone();
    let offline = json!({"offline": true});

    // seqNo 1 first: no identifier yet, nothing to bill, and nothing asked (first seen part way).
    let a = st
        .event("Updated", "OOO-1", 1, 1, offline.clone(), Some(3000.0))
        .await
        .unwrap();
    assert_eq!(a, json!({}), "{a}");
    // The end (seqNo 4) before the start: 2 and 3 are missing, so csms asks the station.
    let a = st
        .event("Ended", "OOO-1", 4, 1, offline.clone(), Some(6000.0))
        .await
        .unwrap();
    assert_eq!(a, json!({}), "not begun yet: {a}");
    app.wait_until(|| st.received_count("GetTransactionStatus") == 1)
        .await;
    let (_, ask) = st
        .received()
        .into_iter()
        .find(|(a, _)| a == "GetTransactionStatus")
        .unwrap();
    assert_eq!(ask, json!({"transactionId": "OOO-1"}));
    assert_eq!(session(&app, &c.token, &sid).await["status"], "active");
    // The missing ones, offline, still without an identifier.
    st.event("Updated", "OOO-1", 2, 1, offline.clone(), Some(4000.0))
        .await
        .unwrap();
    st.event("Updated", "OOO-1", 3, 1, offline.clone(), Some(5000.0))
        .await
        .unwrap();
    // The start (seqNo 0, register 1000 Wh) arrives last: begun and ended at once.
    let started = json!({"offline": true, "idToken": token,
        "transactionInfo": {"transactionId": "OOO-1", "remoteStartId": req["remoteStartId"]}});
    let a = st
        .event("Started", "OOO-1", 0, 1, started.clone(), Some(1000.0))
        .await
        .unwrap();
    assert_eq!(a["idTokenInfo"]["status"], "Accepted", "{a}");
    let v = session(&app, &c.token, &sid).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["energyKwh"], 5.0, "from 1000 Wh to 6000 Wh: {v}");
    let cost = v["cost"].as_f64().unwrap();
    assert_eq!(a["totalCost"].as_f64(), Some(cost), "{a}");
    let balance = app.balance(&c.token).await;
    assert_eq!(balance, 100.0 - cost);

    // Every event again: the same answers, nothing billed twice.
    let again = st
        .event("Started", "OOO-1", 0, 1, started, Some(1000.0))
        .await
        .unwrap();
    assert_eq!(again["idTokenInfo"]["status"], "Accepted", "{again}");
    st.event("Updated", "OOO-1", 1, 1, offline.clone(), Some(3000.0))
        .await
        .unwrap();
    st.event("Ended", "OOO-1", 2, 1, offline, Some(6000.0))
        .await
        .unwrap();
    let v = session(&app, &c.token, &sid).await;
    assert_eq!(v["energyKwh"], 5.0, "{v}");
    assert_eq!(v["cost"].as_f64(), Some(cost));
    assert_eq!(app.balance(&c.token).await, balance);
    app.assert_money_conserved().await;
}
dual!(events_out_of_order_bill_once, super::both);

/// A card used at the station (its owner's idTag), the transaction first seen mid-session with
/// the card in an Updated event; more energy than the hold covers: the customer pays the hold
/// and no more. An unknown card is refused and the station is asked to stop.
async fn local_card_capped_at_the_hold(app: TestApp) {
    let st = station(&app, "E201CARD", 2).await;
    let c = app.customer("card201@example.com", 30.0).await;
    let card = json!({"idToken": {"idToken": c.id_tag.to_lowercase(), "type": "ISO14443"}});
    let auth = st.call("Authorize", card.clone()).await.unwrap();
    assert_eq!(auth["idTokenInfo"]["status"], "Accepted", "{auth}");
    let unknown = st
        .call(
            "Authorize",
            json!({"idToken": {"idToken": "NOPE", "type": "ISO14443"}}),
        )
        .await
        .unwrap();
    assert_ne!(unknown["idTokenInfo"]["status"], "Accepted", "{unknown}");

    // First seen at seqNo 3, mid-session, with the card: it begins there.
    let mut first = card.clone();
    first["triggerReason"] = json!("Authorized");
    let a = st
        .event("Updated", "CARD-1", 3, 1, first, Some(10_000.0))
        .await
        .unwrap();
    assert_eq!(a["idTokenInfo"]["status"], "Accepted", "{a}");
    let sessions = app.sessions(&c.token).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let sid = sessions[0]["sessionId"].as_str().unwrap().to_string();
    let held = 30.0 - app.balance(&c.token).await;
    assert!(held > 0.0, "a hold was taken");
    // A huge amount of energy: far beyond the hold.
    let a = st
        .event(
            "Ended",
            "CARD-1",
            4,
            1,
            json!({"transactionInfo": {"transactionId": "CARD-1", "stoppedReason": "Local"}}),
            Some(900_000.0),
        )
        .await
        .unwrap();
    let v = session(&app, &c.token, &sid).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert!(
        v["cost"].as_f64().unwrap() <= held,
        "never beyond the hold: {v}"
    );
    assert_eq!(a["totalCost"].as_f64(), v["cost"].as_f64(), "{a}");
    assert!(app.balance(&c.token).await >= 30.0 - held);

    // An unknown card starts a transaction: refused, and its stop is scheduled; the station,
    // told so in the answer, ends it within the grace, and csms sends no stop of its own.
    let stranger = json!({"idToken": {"idToken": "STRANGER", "type": "ISO14443"}});
    let a = st
        .event("Started", "CARD-2", 0, 2, stranger, Some(500.0))
        .await
        .unwrap();
    assert_ne!(a["idTokenInfo"]["status"], "Accepted", "{a}");
    let scheduled = app
        .db(|c| {
            use csms::infra::db::schema::{ocpp_transactions as t, station_transactions as s};
            let tx: i64 = s::table
                .filter(s::station_tx_id.eq("CARD-2"))
                .select(s::transaction_id.assume_not_null())
                .first(c)
                .unwrap();
            t::table
                .find(tx)
                .select(t::stop_next_at)
                .first::<Option<chrono::NaiveDateTime>>(c)
                .unwrap()
        })
        .await;
    let due = scheduled.expect("a stop is scheduled");
    assert!(
        due > chrono::Utc::now().naive_utc() + chrono::Duration::seconds(5),
        "after the station's own grace: {due}"
    );
    st.event(
        "Ended",
        "CARD-2",
        1,
        2,
        json!({"triggerReason": "Deauthorized", "transactionInfo": {"transactionId": "CARD-2", "stoppedReason": "DeAuthorized"}}),
        Some(500.0),
    )
    .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(st.received_count("RequestStopTransaction"), 0);
    app.assert_money_conserved().await;
}
dual!(local_card_capped_at_the_hold, super::both);

/// A customer's reservation on a 2.0.1 station: ReserveNow in 2.0.1 words for the EVSE, then the
/// reserving customer's start uses it and the station's Started names it.
async fn customer_reservation_on_201(app: TestApp) {
    let st = station(&app, "E201RES", 1).await;
    let c = app.customer("res201@example.com", 100.0).await;
    let (s, body) = app
        .post(
            "/api/user/reservations",
            Some(&c.token),
            json!({"deviceId": "E201RES", "connectorId": 1, "minutes": 10}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let (_, req) = st
        .received()
        .into_iter()
        .find(|(a, _)| a == "ReserveNow")
        .expect("a ReserveNow");
    assert_eq!(req["evseId"], 1, "{req}");
    assert_eq!(req["idToken"]["type"], "Central", "{req}");
    assert!(
        req["id"].as_i64().is_some() && req["expiryDateTime"].is_string(),
        "{req}"
    );
    let (s, body) = app.start(&c.token, "E201RES", 1, 20.0).await;
    assert_eq!(s, 200, "{body}");
    app.wait_until(|| !st.answers("TX-1").is_empty()).await;
    let (_, mine) = app.get("/api/user/reservations", Some(&c.token)).await;
    assert_eq!(mine["reservations"][0]["status"], "used", "{mine}");
    app.assert_money_conserved().await;
}
dual!(customer_reservation_on_201, super::both);

/// The simulator's own charging (`csms simulate --ocpp 2.0.1`): readings every second at its
/// power, and the end when the EV is full; the session is billed for exactly that energy.
async fn simulated_station_stops_when_full(app: TestApp) {
    app.register_charger("E201SIM", None).await;
    let mut cfg = app.sim_config("E201SIM", 1);
    cfg.ocpp = Ocpp::V201;
    cfg.meter_interval_secs = 1;
    cfg.power_kw = 36.0; // 10 Wh a second
    cfg.ev_capacity_kwh = Some(0.02);
    let st = Station201::connect(cfg).await.unwrap();
    let c = app.customer("sim201@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "E201SIM", 1, 20.0).await;
    assert_eq!(s, 200, "{body}");
    let sid = body["session"]["sessionId"].as_str().unwrap().to_string();
    let mut v = Value::Null;
    for _ in 0..100 {
        v = session(&app, &c.token, &sid).await;
        if v["status"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["energyKwh"], 0.02, "{v}");
    assert!(
        st.received_count("RequestStopTransaction") == 0,
        "it stopped by itself"
    );
    app.assert_money_conserved().await;
}
dual!(simulated_station_stops_when_full, super::both);

fn both_with_cost_updates(s: &mut csms::infra::config::Settings) {
    both(s);
    s.cost_update_secs = 1;
}

/// CostUpdated during a customer's session (`CSMS_COST_UPDATE_SECS`, 1 s here): not for the
/// first reading (the clock starts), then with the running cost the customer's panel shows and
/// the station's transaction id; none once the transaction ended, whose answer has the total.
async fn cost_updated_during_a_session(app: TestApp) {
    let st = station(&app, "E201COST", 1).await;
    let c = app.customer("e201cost@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "E201COST", 1, 50.0).await;
    assert_eq!(s, 200, "{body}");
    let sid = body["session"]["sessionId"].as_str().unwrap().to_string();
    app.wait_until(|| !st.answers("TX-1").is_empty()).await;

    st.charge(1, 1000.0).await.unwrap();
    assert_eq!(
        st.received_count("CostUpdated"),
        0,
        "the clock starts with the transaction: a reading within the interval shows nothing"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    st.charge(1, 2000.0).await.unwrap();
    app.wait_until(|| st.received_count("CostUpdated") >= 1)
        .await;
    let (_, shown) = st
        .received()
        .into_iter()
        .find(|(a, _)| a == "CostUpdated")
        .expect("a CostUpdated");
    assert_eq!(shown["transactionId"], "TX-1", "{shown}");
    let v = session(&app, &c.token, &sid).await;
    assert_eq!(v["energyKwh"], 3.0, "{v}");
    assert_eq!(
        shown["totalCost"], v["cost"],
        "the display shows the panel's cost: {v}"
    );
    assert!(v["cost"].as_f64().unwrap() > 0.0, "{v}");

    // The end (its readings more than the interval after the last cost shown) shows nothing:
    // its answer carries the total.
    let shown_before = st.received_count("CostUpdated");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, stop) = app
        .post(
            "/api/user/charging/stop",
            Some(&c.token),
            json!({"sessionId": sid}),
        )
        .await;
    assert_eq!(s, 200, "{stop}");
    app.wait_until(|| {
        st.answers("TX-1")
            .iter()
            .any(|a| a.get("totalCost").is_some())
    })
    .await;
    let v = session(&app, &c.token, &sid).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(
        st.received_count("CostUpdated"),
        shown_before,
        "no CostUpdated for the end"
    );
    app.assert_money_conserved().await;
}
dual!(cost_updated_during_a_session, super::both_with_cost_updates);

/// A token registered with an idToken type (contract, third round) matches an idToken of that type
/// only, in Authorize and in a Started event; an untyped token matches any type. The type is shown,
/// can be changed or cleared, and an unknown type is refused.
async fn typed_tokens_match_their_type(app: TestApp) {
    let st = station(&app, "E201T", 1).await;
    let admin = app.admin().await;
    let (s, b) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "CARDT1", "idTokenType": "ISO14443"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["idTag"]["idTokenType"], "ISO14443", "{b}");
    let (s, b) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "CARDU1"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["idTag"]["idTokenType"], Value::Null, "{b}");
    let (s, b) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "CARDX1", "idTokenType": "Barcode"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"].as_str().unwrap().contains("idTokenType"), "{b}");

    let authorize = |token: &str, kind: &str| {
        let st = &st;
        let body = json!({"idToken": {"idToken": token, "type": kind}});
        async move { st.call("Authorize", body).await.unwrap()["idTokenInfo"]["status"].clone() }
    };
    assert_eq!(authorize("CARDT1", "ISO14443").await, "Accepted");
    assert_eq!(
        authorize("cardt1", "ISO14443").await,
        "Accepted",
        "any case"
    );
    assert_eq!(
        authorize("CARDT1", "Central").await,
        "Invalid",
        "another type"
    );
    assert_eq!(
        authorize("CARDU1", "eMAID").await,
        "Accepted",
        "untyped: any type"
    );
    assert_eq!(authorize("CARDU1", "KeyCode").await, "Accepted");

    // A Started event with the wrong type is refused as well.
    let started = json!({"eventType": "Started", "timestamp": "2026-12-07T10:00:00Z",
        "triggerReason": "Authorized", "seqNo": 0, "transactionInfo": {"transactionId": "TT-1"},
        "evse": {"id": 1, "connectorId": 1}, "idToken": {"idToken": "CARDT1", "type": "Local"}});
    let a = st.call("TransactionEvent", started).await.unwrap();
    assert_eq!(a["idTokenInfo"]["status"], "Invalid", "{a}");

    // Changed, then cleared: then any type matches.
    let (s, b) = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/id-tags/CARDT1",
            Some(&admin),
            Some(json!({"idTokenType": "Central"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["idTag"]["idTokenType"], "Central", "{b}");
    assert_eq!(authorize("CARDT1", "Central").await, "Accepted");
    assert_eq!(authorize("CARDT1", "ISO14443").await, "Invalid");
    let (s, b) = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/id-tags/CARDT1",
            Some(&admin),
            Some(json!({"idTokenType": null})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["idTag"]["idTokenType"], Value::Null, "{b}");
    assert_eq!(authorize("CARDT1", "ISO14443").await, "Accepted");
}
dual!(typed_tokens_match_their_type, super::both);

/// A customer's card that expires in 30 s: the Started's answer and the answer to the same
/// Started sent again both expire with the card, not a minute from now, and carry its group.
async fn repeated_start_keeps_the_cards_expiry(app: TestApp) {
    let st = station(&app, "E201X", 1).await;
    let admin = app.admin().await;
    let c = app.customer("e201x@example.com", 50.0).await;
    let expiry = chrono::Utc::now() + chrono::Duration::seconds(30);
    let (s, b) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "SOONGONE1", "customerId": c.id, "parentIdTag": "FAMILY1",
                "expiryDate": expiry.to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let started = json!({"eventType": "Started", "timestamp": "2026-12-07T10:00:00Z",
        "triggerReason": "Authorized", "seqNo": 0, "transactionInfo": {"transactionId": "SG-1"},
        "evse": {"id": 1, "connectorId": 1}, "idToken": {"idToken": "SOONGONE1", "type": "ISO14443"}});
    for round in ["first", "repeated"] {
        let a = st.call("TransactionEvent", started.clone()).await.unwrap();
        let info = &a["idTokenInfo"];
        assert_eq!(info["status"], "Accepted", "{round}: {a}");
        assert_eq!(info["groupIdToken"]["idToken"], "FAMILY1", "{round}: {a}");
        let until =
            chrono::DateTime::parse_from_rfc3339(info["cacheExpiryDateTime"].as_str().unwrap())
                .unwrap();
        assert!(
            until.timestamp() <= expiry.timestamp() + 1,
            "{round}: valid until {until}, the card expires at {expiry}"
        );
    }
    let ended = json!({"eventType": "Ended", "timestamp": "2026-12-07T10:05:00Z",
        "triggerReason": "StopAuthorized", "seqNo": 1,
        "transactionInfo": {"transactionId": "SG-1", "stoppedReason": "Local"},
        "evse": {"id": 1, "connectorId": 1}});
    st.call("TransactionEvent", ended).await.unwrap();
}
dual!(repeated_start_keeps_the_cards_expiry, super::both);
