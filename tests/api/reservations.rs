//! Reservations: a customer reserves a connector from the user API, everyone else is refused with
//! the exact message, the holder's start consumes it (the StartTransaction carries its
//! reservationId); races between reservations, and between a reservation and a start, have one
//! winner decided by the database; refusals, expiry, cancellation, the whole charger (connector 0),
//! groups (parentIdTag), and the commands API.

use std::sync::Arc;

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::dual;
use crate::helpers::TestApp;

const RESERVED: &str = "This connector is reserved by another customer.";

async fn reserve(app: &TestApp, token: &str, device: &str, connector: i64) -> (u16, Value) {
    app.post(
        "/api/user/reservations",
        Some(token),
        json!({"deviceId": device, "connectorId": connector, "minutes": 10}),
    )
    .await
}

async fn cancel(app: &TestApp, token: &str, id: i64) -> (u16, Value) {
    app.request(
        Method::DELETE,
        &format!("/api/user/reservations/{id}"),
        Some(token),
        None,
    )
    .await
}

/// Stops a session and waits (up to 15 s) until it has ended in the database.
async fn stop(app: &TestApp, token: &str, session: &Value) {
    let (s, b) = app
        .post(
            "/api/user/charging/stop",
            Some(token),
            json!({"sessionId": session["sessionId"]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let path = format!(
        "/api/user/charging/sessions/{}",
        session["sessionId"].as_str().unwrap()
    );
    for _ in 0..300 {
        let (_, b) = app.get(&path, Some(token)).await;
        if matches!(
            b["session"]["status"].as_str(),
            Some("completed" | "failed")
        ) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let admin = app.admin().await;
    let (_, log) = app
        .get(
            &format!(
                "/api/admin/chargers/{}/messages",
                session["deviceId"].as_str().unwrap()
            ),
            Some(&admin),
        )
        .await;
    panic!(
        "session {} did not end in 15 s: {log}",
        session["sessionId"]
    );
}

/// Waits until customers see the connector `Available` again (the charger reports it after its
/// StopTransaction was answered, so every trace of the session is gone by then).
async fn wait_available(app: &TestApp, token: &str, device: &str, connector: i64) {
    for _ in 0..300 {
        let (_, b) = app.get("/api/user/stations", Some(token)).await;
        let status = b["stations"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["chargers"].as_array().cloned().unwrap_or_default())
            .filter(|c| c["deviceId"] == device)
            .flat_map(|c| c["connectors"].as_array().cloned().unwrap_or_default())
            .find(|k| k["connectorId"] == connector)
            .map(|k| k["status"].clone());
        if status == Some(json!("Available")) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{device} connector {connector} not Available in 15 s");
}

/// The reservationId each of a charger's transactions carried, by transactionId.
async fn transaction_reservations(app: &TestApp) -> Vec<(i64, Option<i32>)> {
    app.db(|c| {
        use csms::infra::db::schema::ocpp_transactions as t;
        t::table
            .select((t::id, t::reservation_id))
            .order(t::id)
            .load::<(i64, Option<i32>)>(c)
            .unwrap()
    })
    .await
}

async fn customer_reserves_and_the_holder_starts(app: TestApp) {
    let sim = app.charger("RES1", 2).await;
    let a = app.customer("a@example.com", 50.0).await;
    let b = app.customer("b@example.com", 50.0).await;

    let (s, body) = reserve(&app, &a.token, "RES1", 1).await;
    assert_eq!(s, 201, "{body}");
    let r = body["reservation"].clone();
    let rid = r["id"].as_i64().unwrap();
    assert_eq!(r["status"], "active");
    assert_eq!(r["connectorId"], 1);
    assert_eq!(r["customerId"], a.id);
    let sent: Vec<Value> = sim
        .received()
        .into_iter()
        .filter(|(a, _)| a == "ReserveNow")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["reservationId"], rid);
    assert_eq!(sent[0]["connectorId"], 1);
    assert_eq!(sent[0]["idTag"], r["idTag"]);
    assert_eq!(sent[0]["expiryDate"], r["expiresAt"]);
    assert_ne!(
        r["idTag"], a.id_tag,
        "a one-time idTag, not the customer's own"
    );
    assert_eq!(sim.reservations().len(), 1);

    // Everyone else: refused with the exact message, no money moved, no session.
    let (s, body) = app.start(&b.token, "RES1", 1, 10.0).await;
    assert_eq!((s, body["error"].as_str()), (400, Some(RESERVED)));
    assert_eq!(app.balance(&b.token).await, 50.0);
    assert!(app.sessions(&b.token).await.is_empty());
    let (s, body) = reserve(&app, &b.token, "RES1", 1).await;
    assert_eq!((s, body["error"].as_str()), (400, Some(RESERVED)));
    let (s, body) = reserve(&app, &a.token, "RES1", 2).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (409, Some("You already have a reservation"))
    );
    // The other connector is free.
    let (s, body) = app.start(&b.token, "RES1", 2, 10.0).await;
    assert_eq!(s, 200, "{body}");
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    stop(&app, &b.token, &body["session"]).await;

    // The holder starts: the reservation's idTag goes to the charger, the StartTransaction carries
    // the reservationId, the reservation is used by the session.
    let (s, body) = app.start(&a.token, "RES1", 1, 10.0).await;
    assert_eq!(s, 200, "{body}");
    let session = body["session"].clone();
    assert_eq!(session["idTag"], r["idTag"]);
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let txs = transaction_reservations(&app).await;
    assert_eq!(txs.len(), 2, "{txs:?}");
    assert_eq!(txs.last().unwrap().1, Some(rid as i32), "{txs:?}");
    let (_, body) = app.get("/api/user/reservations", Some(&a.token)).await;
    let mine = &body["reservations"][0];
    assert_eq!(mine["status"], "used", "{body}");
    assert_eq!(mine["sessionId"], session["sessionId"]);
    // A reservation now meets the open session: in use.
    let (s, body) = reserve(&app, &b.token, "RES1", 1).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some(csms::error::CONNECTOR_IN_USE))
    );
    stop(&app, &a.token, &session).await;
    app.wait_until(|| sim.open_transactions().is_empty()).await;
    app.assert_money_conserved().await;
}
dual!(customer_reserves_and_the_holder_starts);

/// Two customers reserve one connector at once, 50 rounds: one 201, one 400, and the database never
/// holds two. Then a reservation races a start: one of them wins, never both.
async fn reservation_races_have_one_winner(app: TestApp) {
    let app = Arc::new(app);
    let sim = app.charger("RACE-R", 1).await;
    let a = app.customer("a@example.com", 1000.0).await;
    let b = app.customer("b@example.com", 1000.0).await;
    for round in 0..50 {
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = Vec::new();
        for token in [a.token.clone(), b.token.clone()] {
            let (app, barrier) = (app.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                (reserve(&app, &token, "RACE-R", 1).await, token)
            }));
        }
        let mut won = Vec::new();
        for t in tasks {
            let ((s, body), token) = t.await.unwrap();
            match s {
                201 => won.push((token, body["reservation"]["id"].as_i64().unwrap())),
                400 => assert_eq!(body["error"], RESERVED, "round {round}"),
                _ => panic!("round {round}: {s} {body}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one winner");
        let (token, id) = &won[0];
        let (s, body) = cancel(&app, token, *id).await;
        assert_eq!(s, 200, "{body}");
        app.wait_until(|| sim.reservations().is_empty()).await;
    }

    // A reservation against a start, 20 rounds.
    for round in 0..20 {
        let barrier = Arc::new(Barrier::new(2));
        let (app1, b1, t1) = (app.clone(), barrier.clone(), a.token.clone());
        let reserving = tokio::spawn(async move {
            b1.wait().await;
            reserve(&app1, &t1, "RACE-R", 1).await
        });
        let (app2, b2, t2) = (app.clone(), barrier.clone(), b.token.clone());
        let starting = tokio::spawn(async move {
            b2.wait().await;
            app2.start(&t2, "RACE-R", 1, 5.0).await
        });
        let (rs, rbody) = reserving.await.unwrap();
        let (ss, sbody) = starting.await.unwrap();
        match (rs, ss) {
            (201, 400) => {
                assert_eq!(sbody["error"], RESERVED, "round {round}");
                let id = rbody["reservation"]["id"].as_i64().unwrap();
                assert_eq!(cancel(&app, &a.token, id).await.0, 200);
                app.wait_until(|| sim.reservations().is_empty()).await;
            }
            (400, 200) => {
                assert!(
                    rbody["error"] == csms::error::CONNECTOR_IN_USE
                        || rbody["error"]
                            .as_str()
                            .is_some_and(|e| e.starts_with("Charger refused")),
                    "round {round}: {rbody}"
                );
                stop(&app, &b.token, &sbody["session"]).await;
                wait_available(&app, &b.token, "RACE-R", 1).await;
            }
            other => panic!("round {round}: {other:?} {rbody} {sbody}"),
        }
    }
    let holding = app
        .db(|c| {
            use csms::infra::db::schema::reservations as r;
            r::table
                .filter(r::status.eq_any(["pending", "active"]))
                .count()
                .get_result::<i64>(c)
                .unwrap()
        })
        .await;
    assert_eq!(holding, 0);
    app.assert_money_conserved().await;
}
dual!(reservation_races_have_one_winner);

/// Faulted, Occupied, Unavailable or Rejected from the charger leave nothing holding: the same
/// customer can reserve again, another can start.
async fn charger_refusals_leave_nothing_behind(app: TestApp) {
    let sim = app.charger("RES-NO", 1).await;
    let a = app.customer("a@example.com", 50.0).await;
    let b = app.customer("b@example.com", 50.0).await;
    for answer in ["Faulted", "Occupied", "Unavailable", "Rejected"] {
        sim.set_reserve_answer(Some(answer));
        let (s, body) = reserve(&app, &a.token, "RES-NO", 1).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (
                400,
                Some(format!("Charger refused the reservation: {answer}").as_str())
            )
        );
    }
    let (_, body) = app.get("/api/user/reservations", Some(&a.token)).await;
    let statuses: Vec<&str> = body["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["refused"; 4]);
    assert_eq!(body["reservations"][0]["answer"], "Rejected");
    let (s, body) = app.start(&b.token, "RES-NO", 1, 10.0).await;
    assert_eq!(s, 200, "{body}");
    stop(&app, &b.token, &body["session"]).await;
    app.wait_until(|| sim.open_transactions().is_empty()).await;
    sim.set_reserve_answer(None);
    let (s, body) = reserve(&app, &a.token, "RES-NO", 1).await;
    assert_eq!(s, 201, "{body}");

    // Bad input and unknown targets: clear errors, nothing written.
    for (bad, status) in [
        (
            json!({"deviceId": "RES-NO", "connectorId": 1, "minutes": 0}),
            400,
        ),
        (
            json!({"deviceId": "RES-NO", "connectorId": 1, "minutes": 121}),
            400,
        ),
        (json!({"deviceId": "RES-NO", "connectorId": -1}), 400),
        (json!({"deviceId": "RES-NO", "connectorId": 9}), 404),
        (json!({"deviceId": "NOPE", "connectorId": 1}), 404),
        (json!({"deviceId": "RES-NO"}), 400),
    ] {
        let (s, body) = app
            .post("/api/user/reservations", Some(&b.token), bad.clone())
            .await;
        assert_eq!(s, status, "{bad} -> {body}");
    }
    app.assert_money_conserved().await;
}
dual!(charger_refusals_leave_nothing_behind);

/// Cancellation (by the holder only, once) sends CancelReservation; expiry frees the connector.
async fn cancel_and_expiry_free_the_connector(app: TestApp) {
    let sim = app.charger("RES-EX", 1).await;
    let a = app.customer("a@example.com", 50.0).await;
    let b = app.customer("b@example.com", 50.0).await;
    let (s, body) = reserve(&app, &a.token, "RES-EX", 1).await;
    assert_eq!(s, 201, "{body}");
    let id = body["reservation"]["id"].as_i64().unwrap();
    assert_eq!(cancel(&app, &b.token, id).await.0, 404, "not theirs");
    let (s, body) = cancel(&app, &a.token, id).await;
    assert_eq!(
        (s, body["reservation"]["status"].as_str()),
        (200, Some("cancelled"))
    );
    app.wait_until(|| sim.received_count("CancelReservation") == 1)
        .await;
    app.wait_until(|| sim.reservations().is_empty()).await;
    let (s, body) = cancel(&app, &a.token, id).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (409, Some("Reservation is already cancelled"))
    );

    let (s, body) = reserve(&app, &a.token, "RES-EX", 1).await;
    assert_eq!(s, 201, "{body}");
    let id = body["reservation"]["id"].as_i64().unwrap();
    let (s, _) = app.start(&b.token, "RES-EX", 1, 10.0).await;
    assert_eq!(s, 400);
    // Time passes: the reservation's expiry is now (for csms and for the charger).
    sim.drop_reservations();
    app.db(move |c| {
        use csms::infra::db::schema::reservations as r;
        diesel::update(r::table.find(id))
            .set(r::expires_at.eq(chrono::Utc::now().naive_utc()))
            .execute(c)
            .unwrap()
    })
    .await;
    let (s, body) = app.start(&b.token, "RES-EX", 1, 10.0).await;
    assert_eq!(s, 200, "an expired reservation holds nothing: {body}");
    let (_, list) = app.get("/api/user/reservations", Some(&a.token)).await;
    assert_eq!(list["reservations"][0]["status"], "expired");
    stop(&app, &b.token, &body["session"]).await;
    app.assert_money_conserved().await;
}
dual!(cancel_and_expiry_free_the_connector);

/// The operator reserves the whole charger (connector 0) for a token with a group: app customers are
/// refused on every connector; a group member's card starts with the reservationId and uses it up.
/// ReserveNow and CancelReservation through the commands API go through the same rules.
async fn operator_reserves_whole_charger_for_a_group(app: TestApp) {
    let admin = app.admin().await;
    for tag in ["CARD-A", "CARD-B"] {
        let (s, b) = app
            .post(
                "/api/admin/id-tags",
                Some(&admin),
                json!({"idTag": tag, "parentIdTag": "GROUP"}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let sim = app.charger("RES-OP", 2).await;
    let c = app.customer("c@example.com", 50.0).await;
    let (s, body) = app
        .post(
            "/api/admin/reservations",
            Some(&admin),
            json!({"deviceId": "RES-OP", "connectorId": 0, "idTag": "card-a", "parentIdTag": "group", "minutes": 30}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let rid = body["reservation"]["id"].as_i64().unwrap();
    assert_eq!(body["reservation"]["idTag"], "CARD-A");
    let sent = sim
        .received()
        .into_iter()
        .find(|(a, _)| a == "ReserveNow")
        .unwrap()
        .1;
    assert_eq!(sent["parentIdTag"], "GROUP");
    assert_eq!(sent["connectorId"], 0);
    for connector in [1, 2] {
        let (s, body) = app.start(&c.token, "RES-OP", connector, 10.0).await;
        assert_eq!((s, body["error"].as_str()), (400, Some(RESERVED)));
    }
    // The charger lets CARD-B (same group) use the reservation.
    sim.hold_reservation(rid, 0, "CARD-B");
    let tx = sim.start_transaction(2, "card-b").await.unwrap();
    assert_eq!(sim.start_answers(), vec![(tx, "Accepted".to_string())]);
    let (_, list) = app
        .get("/api/admin/reservations?deviceId=RES-OP", Some(&admin))
        .await;
    assert_eq!(list["reservations"][0]["status"], "used", "{list}");
    sim.stop_transaction(tx, "Local").await.unwrap();
    let (s, body) = app.start(&c.token, "RES-OP", 1, 10.0).await;
    assert_eq!(s, 200, "{body}");
    stop(&app, &c.token, &body["session"]).await;
    app.wait_until(|| sim.open_transactions().is_empty()).await;

    // The commands API.
    let (s, body) = app
        .post(
            "/api/admin/chargers/RES-OP/commands/ReserveNow",
            Some(&admin),
            json!({"connectorId": 2, "expiryDate": "2099-01-01T00:00:00Z", "idTag": "CARD-A", "reservationId": 999}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["response"]["status"], "Accepted");
    // Sent as given: the charger knows it by the operator's id.
    assert_eq!(body["reservation"]["reservationId"], 999);
    let rid = body["reservation"]["id"].as_i64().unwrap();
    let (s, body) = app.start(&c.token, "RES-OP", 2, 10.0).await;
    assert_eq!((s, body["error"].as_str()), (400, Some(RESERVED)));
    let (s, body) = app
        .post(
            "/api/admin/chargers/RES-OP/commands/CancelReservation",
            Some(&admin),
            json!({"reservationId": 999}),
        )
        .await;
    assert_eq!(
        (s, body["response"]["status"].as_str()),
        (200, Some("Accepted")),
        "{body}"
    );
    let (_, list) = app
        .get("/api/admin/reservations?status=cancelled", Some(&admin))
        .await;
    assert_eq!(list["reservations"][0]["id"], rid, "{list}");
    let (s, body) = app.start(&c.token, "RES-OP", 2, 10.0).await;
    assert_eq!(s, 200, "{body}");
    stop(&app, &c.token, &body["session"]).await;
    app.assert_money_conserved().await;
}
dual!(operator_reserves_whole_charger_for_a_group);

/// The holder's start is rejected by the charger: the reservation is given back (same id, idTag and
/// expiry; the charger still holds it, so no CancelReservation), everyone else is still refused, and
/// the holder starts on it again. A start that fails after the reservation's time is up ends it.
async fn failed_start_gives_the_reservation_back(app: TestApp) {
    use csms::simulator::RemoteStart;
    let sim = app.charger("RES-BACK", 2).await;
    let a = app.customer("a@example.com", 50.0).await;
    let b = app.customer("b@example.com", 50.0).await;
    let (s, body) = reserve(&app, &a.token, "RES-BACK", 1).await;
    assert_eq!(s, 201, "{body}");
    let r = body["reservation"].clone();
    let rid = r["id"].as_i64().unwrap();

    sim.set_remote_start(RemoteStart::Reject);
    let (s, body) = app.start(&a.token, "RES-BACK", 1, 10.0).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("Charger rejected the start request"))
    );
    assert_eq!(app.balance(&a.token).await, 50.0);
    let (_, list) = app.get("/api/user/reservations", Some(&a.token)).await;
    let back = &list["reservations"][0];
    assert_eq!(back["id"], rid, "{list}");
    assert_eq!(back["status"], "active", "{list}");
    assert_eq!(back["idTag"], r["idTag"]);
    assert_eq!(back["expiresAt"], r["expiresAt"]);
    assert_eq!(back["sessionId"], Value::Null);
    // The charger still holds it: csms does not tell it to let go.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sim.received_count("CancelReservation"), 0);
    assert!(sim.reservations().contains_key(&rid));

    // Everyone else is still refused.
    let (s, body) = app.start(&b.token, "RES-BACK", 1, 10.0).await;
    assert_eq!((s, body["error"].as_str()), (400, Some(RESERVED)));
    let (s, body) = reserve(&app, &b.token, "RES-BACK", 1).await;
    assert_eq!((s, body["error"].as_str()), (400, Some(RESERVED)));
    assert_eq!(app.balance(&b.token).await, 50.0);

    // The holder starts on it again: same idTag, the StartTransaction carries the reservationId.
    sim.set_remote_start(RemoteStart::Accept);
    let (s, body) = app.start(&a.token, "RES-BACK", 1, 10.0).await;
    assert_eq!(s, 200, "{body}");
    let session = body["session"].clone();
    assert_eq!(session["idTag"], r["idTag"]);
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let txs = transaction_reservations(&app).await;
    assert_eq!(txs, vec![(txs[0].0, Some(rid as i32))]);
    let (_, list) = app.get("/api/user/reservations", Some(&a.token)).await;
    assert_eq!(list["reservations"][0]["status"], "used", "{list}");
    assert_eq!(list["reservations"][0]["sessionId"], session["sessionId"]);
    stop(&app, &a.token, &session).await;
    wait_available(&app, &a.token, "RES-BACK", 1).await;

    // A start that fails once the reservation's time is up ends it, and the charger is told.
    let (s, body) = reserve(&app, &a.token, "RES-BACK", 1).await;
    assert_eq!(s, 201, "{body}");
    let rid = body["reservation"]["id"].as_i64().unwrap();
    sim.set_remote_start(RemoteStart::Ignore);
    let starting = {
        let (http, token) = (app.http.clone(), a.token.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{http}/api/user/charging/start"))
                .bearer_auth(token)
                .json(&json!({"deviceId": "RES-BACK", "connectorId": 1, "amount": 10.0}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let status_of = |id: i64| {
        app.db(move |c| {
            use csms::infra::db::schema::reservations as r;
            r::table
                .find(id)
                .select(r::status)
                .first::<String>(c)
                .unwrap()
        })
    };
    for _ in 0..200 {
        if status_of(rid).await == "used" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(status_of(rid).await, "used");
    app.db(move |c| {
        use csms::infra::db::schema::reservations as r;
        diesel::update(r::table.find(rid))
            .set(r::expires_at.eq(chrono::Utc::now().naive_utc()))
            .execute(c)
            .unwrap()
    })
    .await;
    assert_eq!(starting.await.unwrap(), 504);
    assert_eq!(status_of(rid).await, "cancelled");
    app.wait_until(|| sim.received_count("CancelReservation") == 1)
        .await;
    app.wait_until(|| sim.reservations().is_empty()).await;
    // The connector is free again (this charger still ignores starts).
    let (s, body) = app.start(&b.token, "RES-BACK", 1, 10.0).await;
    assert_eq!(s, 504, "{body}");

    // While the start was waiting, the customer reserved another connector: they hold one
    // reservation at a time, so the one the failed start used ends (and the charger is told).
    let (s, body) = reserve(&app, &a.token, "RES-BACK", 1).await;
    assert_eq!(s, 201, "{body}");
    let rid = body["reservation"]["id"].as_i64().unwrap();
    let starting = {
        let (http, token) = (app.http.clone(), a.token.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{http}/api/user/charging/start"))
                .bearer_auth(token)
                .json(&json!({"deviceId": "RES-BACK", "connectorId": 1, "amount": 10.0}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    for _ in 0..200 {
        if status_of(rid).await == "used" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let (s, body) = reserve(&app, &a.token, "RES-BACK", 2).await;
    assert_eq!(s, 201, "{body}");
    let other = body["reservation"]["id"].as_i64().unwrap();
    assert_eq!(starting.await.unwrap(), 504);
    assert_eq!(status_of(rid).await, "cancelled");
    assert_eq!(status_of(other).await, "active");
    app.wait_until(|| sim.received_count("CancelReservation") == 2)
        .await;
    app.wait_until(|| sim.reservations().keys().copied().collect::<Vec<_>>() == vec![other])
        .await;
    app.assert_money_conserved().await;
}
dual!(failed_start_gives_the_reservation_back, |s| s
    .remote_start_timeout_secs =
    2);

const WHOLE_CHARGER: &str = "A customer reserves one connector (connectorId 1 or more): only the operator can reserve a whole charger";

/// Sets a reservation's expiry (time passing), for csms; the charger forgets it too.
async fn set_expiry(app: &TestApp, id: i64, at: chrono::NaiveDateTime) {
    app.db(move |c| {
        use csms::infra::db::schema::reservations as r;
        diesel::update(r::table.find(id))
            .set(r::expires_at.eq(at))
            .execute(c)
            .unwrap()
    })
    .await;
}

fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// A customer reserves one connector, never the whole charger (the operator still can), and holds
/// one reservation at a time: the unique index decides between two at once, and an expired one
/// (not yet swept) does not count.
async fn customers_hold_one_connector_at_a_time(app: TestApp) {
    let app = Arc::new(app);
    let sim1 = app.charger("ONE-1", 2).await;
    let sim2 = app.charger("ONE-2", 1).await;
    let a = app.customer("a@example.com", 50.0).await;

    let (s, body) = reserve(&app, &a.token, "ONE-1", 0).await;
    assert_eq!((s, body["error"].as_str()), (400, Some(WHOLE_CHARGER)));
    assert!(sim1.reservations().is_empty());
    let admin = app.admin().await;
    let (s, body) = app
        .post(
            "/api/admin/reservations",
            Some(&admin),
            json!({"deviceId": "ONE-2", "connectorId": 0, "idTag": "FLEET-1"}),
        )
        .await;
    assert_eq!(s, 201, "the operator reserves a whole charger: {body}");
    let (s, body) = app
        .request(
            Method::DELETE,
            &format!("/api/admin/reservations/{}", body["reservation"]["id"]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    app.wait_until(|| sim2.reservations().is_empty()).await;

    // One at a time, whichever charger.
    let (s, body) = reserve(&app, &a.token, "ONE-1", 1).await;
    assert_eq!(s, 201, "{body}");
    let first = body["reservation"]["id"].as_i64().unwrap();
    for (device, connector) in [("ONE-1", 2), ("ONE-2", 1)] {
        let (s, body) = reserve(&app, &a.token, device, connector).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (409, Some("You already have a reservation")),
            "{device}/{connector}"
        );
    }
    // Two at once, on two chargers: the database admits one.
    assert_eq!(cancel(&app, &a.token, first).await.0, 200);
    for round in 0..10 {
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = Vec::new();
        for device in ["ONE-1", "ONE-2"] {
            let (app, barrier, token) = (app.clone(), barrier.clone(), a.token.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                reserve(&app, &token, device, 1).await
            }));
        }
        let mut won = Vec::new();
        for t in tasks {
            let (s, body) = t.await.unwrap();
            match s {
                201 => won.push(body["reservation"]["id"].as_i64().unwrap()),
                409 => assert_eq!(body["error"], "You already have a reservation"),
                _ => panic!("round {round}: {s} {body}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one");
        assert_eq!(cancel(&app, &a.token, won[0]).await.0, 200);
    }
    let holding = app
        .db(|c| {
            use csms::infra::db::schema::reservations as r;
            r::table
                .filter(r::status.eq_any(["pending", "active"]))
                .count()
                .get_result::<i64>(c)
                .unwrap()
        })
        .await;
    assert_eq!(holding, 0);

    // An expired reservation (the sweeper has not run yet) is not the customer's one reservation.
    let (s, body) = reserve(&app, &a.token, "ONE-1", 1).await;
    assert_eq!(s, 201, "{body}");
    let id = body["reservation"]["id"].as_i64().unwrap();
    sim1.drop_reservations();
    set_expiry(&app, id, now()).await;
    let (s, body) = reserve(&app, &a.token, "ONE-2", 1).await;
    assert_eq!(s, 201, "{body}");
    let (_, list) = app.get("/api/user/reservations", Some(&a.token)).await;
    assert_eq!(list["reservations"][1]["status"], "expired", "{list}");
}
dual!(customers_hold_one_connector_at_a_time);

/// The no-show rule (here: 2 within an hour → refused for 6 hours after the second): a customer
/// whose reservations expired unused is refused new ones until then, with the time in the message
/// and Retry-After, on every node; cancelled and used reservations do not count, nor do no-shows
/// further apart than the window; other customers are not affected.
async fn no_shows_suspend_reservations(app: TestApp) {
    let sim = app.charger("NOSHOW", 1).await;
    let a = app.customer("a@example.com", 50.0).await;
    let b = app.customer("b@example.com", 50.0).await;

    // Cancelled and used reservations are not no-shows.
    for _ in 0..3 {
        let (s, body) = reserve(&app, &b.token, "NOSHOW", 1).await;
        assert_eq!(s, 201, "{body}");
        let id = body["reservation"]["id"].as_i64().unwrap();
        assert_eq!(cancel(&app, &b.token, id).await.0, 200);
        app.wait_until(|| sim.reservations().is_empty()).await;
    }
    let (s, body) = reserve(&app, &b.token, "NOSHOW", 1).await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = app.start(&b.token, "NOSHOW", 1, 10.0).await;
    assert_eq!(s, 200, "{body}");
    stop(&app, &b.token, &body["session"]).await;
    wait_available(&app, &b.token, "NOSHOW", 1).await;

    // Two of A's expire unused, two hours apart: further apart than the window.
    let mut expired = Vec::new();
    for ago in [7200, 1] {
        let (s, body) = reserve(&app, &a.token, "NOSHOW", 1).await;
        assert_eq!(s, 201, "{body}");
        let id = body["reservation"]["id"].as_i64().unwrap();
        sim.drop_reservations();
        set_expiry(&app, id, now() - chrono::Duration::seconds(ago)).await;
        expired.push(id);
    }
    let (s, body) = reserve(&app, &a.token, "NOSHOW", 1).await;
    assert_eq!(s, 201, "not within one window: {body}");
    let id = body["reservation"]["id"].as_i64().unwrap();
    assert_eq!(cancel(&app, &a.token, id).await.0, 200);
    app.wait_until(|| sim.reservations().is_empty()).await;

    // The first one 30 minutes before the second: refused for 6 hours after the second.
    set_expiry(&app, expired[0], now() - chrono::Duration::seconds(1800)).await;
    let last = now() - chrono::Duration::seconds(1);
    set_expiry(&app, expired[1], last).await;
    let until =
        csms::protocol::ocpp16::messages::format_timestamp(last + chrono::Duration::hours(6));
    let message = format!(
        "You let 2 reservations go unused within 1 hour: new reservations are refused until {until}."
    );
    let other = app.another_node(|_| {}).await;
    for node in [&app, &other] {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/user/reservations", node.http))
            .bearer_auth(&a.token)
            .json(&json!({"deviceId": "NOSHOW", "connectorId": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 429);
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((6 * 3600 - 60..=6 * 3600).contains(&retry), "{retry}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], message.as_str());
    }
    assert!(sim.reservations().is_empty(), "nothing was sent");
    // Others still reserve; A still starts without a reservation.
    let (s, body) = reserve(&app, &b.token, "NOSHOW", 1).await;
    assert_eq!(s, 201, "{body}");
    let id = body["reservation"]["id"].as_i64().unwrap();
    assert_eq!(cancel(&app, &b.token, id).await.0, 200);
    app.wait_until(|| sim.reservations().is_empty()).await;

    // The cool-down over: A reserves again.
    set_expiry(&app, expired[1], now() - chrono::Duration::hours(6)).await;
    set_expiry(
        &app,
        expired[0],
        now() - chrono::Duration::hours(6) - chrono::Duration::seconds(60),
    )
    .await;
    let (s, body) = reserve(&app, &a.token, "NOSHOW", 1).await;
    assert_eq!(s, 201, "{body}");
    let id = body["reservation"]["id"].as_i64().unwrap();
    assert_eq!(cancel(&app, &a.token, id).await.0, 200);
    app.wait_until(|| sim.reservations().is_empty()).await;

    // Holding a connector for most of a reservation, cancelling and reserving again is a no-show
    // too (else one account holds a connector forever); a quick change of mind is not.
    let c = app.customer("c@example.com", 50.0).await;
    for _ in 0..2 {
        let (s, body) = reserve(&app, &c.token, "NOSHOW", 1).await;
        assert_eq!(s, 201, "{body}");
        let id = body["reservation"]["id"].as_i64().unwrap();
        app.db(move |conn| {
            use csms::infra::db::schema::reservations as r;
            diesel::update(r::table.find(id))
                .set(r::created_at.eq(now() - chrono::Duration::minutes(110)))
                .execute(conn)
                .unwrap()
        })
        .await;
        assert_eq!(cancel(&app, &c.token, id).await.0, 200);
        app.wait_until(|| sim.reservations().is_empty()).await;
    }
    let (s, body) = reserve(&app, &c.token, "NOSHOW", 1).await;
    assert_eq!(s, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("You let 2 reservations go unused within 1 hour"),
        "{body}"
    );
    drop(other);
    app.assert_money_conserved().await;
}
dual!(no_shows_suspend_reservations, |s| {
    s.reservation_no_shows = 2;
    s.reservation_no_show_window_secs = 3600;
    s.reservation_no_show_cooldown_secs = 6 * 3600;
});
