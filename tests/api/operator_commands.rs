//! Operator commands reach the charger as given (issue 20): the charger is the authority on its own
//! connectors. ReserveNow goes out with the operator's reservationId and expiry whatever csms thinks
//! of the connector, and csms records the charger's answer; an accepted remote start or reservation
//! on a connector where csms still holds a transaction open settles that stale transaction; an
//! answer that arrives just before the charger reconnects is not lost.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::dual;
use crate::helpers::TestApp;

async fn command(app: &TestApp, admin: &str, device: &str, action: &str, body: Value) -> Value {
    let (s, b) = app
        .post(
            &format!("/api/admin/chargers/{device}/commands/{action}"),
            Some(admin),
            body,
        )
        .await;
    assert_eq!(s, 200, "{action}: {b}");
    b
}

/// ReserveNow is sent as given (the operator's reservationId 42 and expiry), for a connector csms
/// has heard nothing about, for one the operator made Inoperative and for one where csms still holds
/// a stale transaction: none of them is second-guessed. What the charger answers is relayed and
/// recorded, and the StartTransaction carrying reservationId 42 uses the operator's reservation.
async fn reserve_now_goes_out_as_given(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("RAW1", None).await;
    // Boots, reports nothing about its connectors.
    let sim = csms::simulator::Simulator::connect_only(app.sim_config("RAW1", 3))
        .await
        .unwrap();
    sim.call(
        "BootNotification",
        json!({"chargePointVendor": "v", "chargePointModel": "m"}),
    )
    .await
    .unwrap();
    let (s, b) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "FLEETR"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let payload = json!({"connectorId": 1, "expiryDate": "2099-01-01T00:00:00.000Z", "idTag": "FLEETR", "reservationId": 42});
    let b = command(&app, &admin, "RAW1", "ReserveNow", payload.clone()).await;
    assert_eq!(b["response"], json!({"status": "Accepted"}));
    assert_eq!(b["reservation"]["reservationId"], 42);
    assert_eq!(b["reservation"]["status"], "active");
    let sent: Vec<Value> = sim
        .received()
        .into_iter()
        .filter(|(a, _)| a == "ReserveNow")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(sent, vec![payload], "exactly as given");
    // A customer's start there meets the reservation.
    let c = app.customer("a@example.com", 50.0).await;
    sim.status(1, "Reserved").await.unwrap();
    let (s, body) = app.start(&c.token, "RAW1", 1, 10.0).await;
    assert_eq!(s, 400, "{body}");
    // Its StartTransaction uses it.
    let answer = sim
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "FLEETR", "meterStart": 0, "reservationId": 42, "timestamp": csms::protocol::ocpp16::messages::now_timestamp()}),
        )
        .await
        .unwrap();
    assert_eq!(answer["idTagInfo"]["status"], "Accepted", "{answer}");
    let (_, list) = app
        .get("/api/admin/reservations?deviceId=RAW1", Some(&admin))
        .await;
    assert_eq!(list["reservations"][0]["status"], "used", "{list}");

    // Connector 2 made Inoperative by the operator: sent anyway, the charger's answer relayed.
    sim.status(2, "Unavailable").await.unwrap();
    sim.set_reserve_answer(Some("Unavailable"));
    let b = command(
        &app,
        &admin,
        "RAW1",
        "ReserveNow",
        json!({"connectorId": 2, "expiryDate": "2099-01-01T00:00:00.000Z", "idTag": "FLEETR", "reservationId": 43}),
    )
    .await;
    assert_eq!(b["response"], json!({"status": "Unavailable"}));
    assert_eq!(b["reservation"]["status"], "refused");
    sim.set_reserve_answer(None);

    // Connector 3: csms still holds a transaction the charger forgot (no StopTransaction). The
    // charger accepts the reservation there: that transaction has ended, and is settled.
    let (s, b) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "FLEETR3"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let tx = sim.start_transaction(3, "FLEETR3").await.unwrap();
    assert_eq!(
        sim.start_answers().last().unwrap(),
        &(tx, "Accepted".to_string())
    );
    let stale = app
        .db(|c| {
            use csms::infra::db::schema::ocpp_transactions as t;
            use diesel::prelude::*;
            t::table
                .filter(t::connector_id.eq(3))
                .filter(t::stopped_at.is_null())
                .count()
                .get_result::<i64>(c)
                .unwrap()
        })
        .await;
    assert_eq!(stale, 1);
    sim.drop_transactions();
    let b = command(
        &app,
        &admin,
        "RAW1",
        "ReserveNow",
        json!({"connectorId": 3, "expiryDate": "2099-01-01T00:00:00.000Z", "idTag": "FLEETR", "reservationId": 44}),
    )
    .await;
    assert_eq!(b["response"], json!({"status": "Accepted"}), "{b}");
    let open = app
        .db(|c| {
            use csms::infra::db::schema::ocpp_transactions as t;
            use diesel::prelude::*;
            t::table
                .filter(t::connector_id.eq(3))
                .filter(t::stopped_at.is_null())
                .count()
                .get_result::<i64>(c)
                .unwrap()
        })
        .await;
    assert_eq!(open, 0, "the stale transaction is settled");
    // The same reservationId again replaces it (as the charger does).
    let b = command(
        &app,
        &admin,
        "RAW1",
        "ReserveNow",
        json!({"connectorId": 3, "expiryDate": "2099-01-02T00:00:00.000Z", "idTag": "FLEETR", "reservationId": 44}),
    )
    .await;
    assert_eq!(b["response"]["status"], "Accepted");
    let (_, list) = app
        .get(
            "/api/admin/reservations?deviceId=RAW1&status=active",
            Some(&admin),
        )
        .await;
    let held: Vec<&Value> = list["reservations"].as_array().unwrap().iter().collect();
    assert_eq!(held.len(), 1, "{list}");
    assert_eq!(held[0]["expiresAt"], "2099-01-02T00:00:00.000Z");
    // CancelReservation as given, by the charger's id.
    let b = command(
        &app,
        &admin,
        "RAW1",
        "CancelReservation",
        json!({"reservationId": 44}),
    )
    .await;
    assert_eq!(b["response"]["status"], "Accepted");
    let (_, list) = app
        .get(
            "/api/admin/reservations?deviceId=RAW1&status=active",
            Some(&admin),
        )
        .await;
    assert_eq!(list["reservations"], json!([]), "{list}");
    app.assert_money_conserved().await;
}
dual!(reserve_now_goes_out_as_given);

/// A customer's session whose transaction the charger forgot: the operator's RemoteStartTransaction
/// on that connector is accepted by the charger, so the old transaction has ended: settled from its
/// last reading (the customer pays for what was metered, the rest is refunded), and the connector
/// is no longer "in use".
async fn accepted_remote_start_settles_a_stale_transaction(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("RAW2", 1).await;
    let c = app.customer("a@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "RAW2", 1, 50.0).await;
    assert_eq!(s, 200, "{body}");
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    sim.add_energy(tx, 1000.0).await.unwrap();
    sim.drop_transactions(); // lost, without a reboot
    let (s, b) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "FLEETS"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let b = command(
        &app,
        &admin,
        "RAW2",
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "FLEETS"}),
    )
    .await;
    assert_eq!(b["response"]["status"], "Accepted");
    let sessions = app.sessions(&c.token).await;
    assert_eq!(sessions[0]["status"], "completed", "{sessions:?}");
    assert_eq!(sessions[0]["stopReason"], "Superseded");
    assert_eq!(app.balance(&c.token).await, 85.0);
    app.assert_money_conserved().await;
}
dual!(accepted_remote_start_settles_a_stale_transaction);

/// A charger that begins the transaction of an operator's RemoteStartTransaction before it answers
/// the RemoteStart (its StartTransaction overtakes the answer): the transaction is the command's
/// own, and stays open (only what csms held before the command is superseded). Every ordering of
/// the two is allowed on the wire; this one used to close the new transaction as Superseded.
async fn start_transaction_before_the_remote_start_answer(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("RAW4", None).await;
    let (s, b) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "FLEET4"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let password = app.password("RAW4").unwrap();
    let mut ws = raw_charger(&app, "RAW4", &password).await.unwrap();
    app.wait_until(|| app.state.registry.is_online("RAW4"))
        .await;
    let request = app.spawn_request(
        reqwest::Method::POST,
        "/api/admin/chargers/RAW4/commands/RemoteStartTransaction",
        &admin,
        json!({"connectorId": 1, "idTag": "FLEET4"}),
    );
    let call = next_frame(&mut ws).await;
    assert_eq!(call[2], "RemoteStartTransaction", "{call}");
    ws.send(Message::text(
        json!([2, "s1", "StartTransaction", {"connectorId": 1, "idTag": "FLEET4",
            "meterStart": 0, "timestamp": "2026-12-07T10:00:00Z"}])
        .to_string(),
    ))
    .await
    .unwrap();
    let started = next_frame(&mut ws).await;
    assert_eq!(started[1], "s1", "{started}");
    let tx = started[2]["transactionId"]
        .as_i64()
        .expect("a transactionId");
    ws.send(Message::text(
        json!([3, call[1], {"status": "Accepted"}]).to_string(),
    ))
    .await
    .unwrap();
    let (s, b) = request.await.unwrap();
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["response"]["status"], "Accepted");
    let stopped: Option<String> = app
        .db(move |c| {
            use csms::infra::db::schema::ocpp_transactions;
            use diesel::prelude::*;
            ocpp_transactions::table
                .find(tx)
                .select(ocpp_transactions::stop_reason)
                .first::<Option<String>>(c)
                .unwrap()
        })
        .await;
    assert_eq!(stopped, None, "the new transaction is still open");
}
dual!(start_transaction_before_the_remote_start_answer);

/// The next text frame, as JSON.
async fn next_frame(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("closed: {other:?}"),
        }
    }
}

/// A minimal charger: Basic auth, ocpp1.6, BootNotification.
async fn raw_charger(
    app: &TestApp,
    device: &str,
    password: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    String,
> {
    use base64::Engine;
    let mut req = format!("{}/{device}", app.ocpp)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("ocpp1.6"),
    );
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{device}:{password}"));
    req.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Basic {auth}")).unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| e.to_string())?;
    ws.send(Message::text(
        json!([2, "b1", "BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}])
            .to_string(),
    ))
    .await
    .unwrap();
    loop {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            return Err("closed before the boot answer".into());
        };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        if v[0] == 3 && v[1] == "b1" {
            return Ok(ws);
        }
    }
}

/// A charger accepts ChangeConfiguration AuthorizationKey and reconnects at once with the new
/// password, before csms has processed its answer (both ways: closing the old socket first, and
/// opening the new one while the old is still open). The operator gets the charger's Accepted, the
/// new password is stored, and the reconnect is let in. Twenty rounds.
async fn answer_before_a_reconnect_is_not_lost(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("RAW3", None).await;
    let mut password = app.password("RAW3").unwrap();
    for round in 0..20 {
        let mut old = raw_charger(&app, "RAW3", &password).await.unwrap();
        app.wait_until(|| app.state.registry.is_online("RAW3"))
            .await;
        let key = format!("{round:02}-new-password-0123456789abcd");
        let body = json!({"key": "AuthorizationKey", "value": key});
        let request = app.spawn_request(
            reqwest::Method::POST,
            "/api/admin/chargers/RAW3/commands/ChangeConfiguration",
            &admin,
            body,
        );
        // The CALL arrives; answer it and reconnect at once.
        let id = loop {
            let Some(Ok(Message::Text(t))) = old.next().await else {
                panic!("round {round}: closed before the ChangeConfiguration");
            };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v[0] == 2 && v[2] == "ChangeConfiguration" {
                break v[1].clone();
            }
        };
        old.send(Message::text(
            json!([3, id, {"status": "Accepted"}]).to_string(),
        ))
        .await
        .unwrap();
        let new = if round % 2 == 0 {
            drop(old); // abruptly, as a rebooting charger does
            raw_charger(&app, "RAW3", &key).await
        } else {
            let new = raw_charger(&app, "RAW3", &key).await;
            drop(old);
            new
        };
        assert!(
            new.is_ok(),
            "round {round}: the reconnect with the new key: {new:?}"
        );
        let (s, b) = request.await.unwrap();
        assert_eq!(
            (s, b["response"]["status"].as_str()),
            (200, Some("Accepted")),
            "round {round}: {b}"
        );
        password = key;
        drop(new);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
dual!(answer_before_a_reconnect_is_not_lost);
