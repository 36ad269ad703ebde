//! Reservation (10 cases), through the operator's commands API (ReserveNow, CancelReservation),
//! which goes through csms's reservations (so they exclude app sessions; see `csms::reservations`).

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::{call, cmd, dual, minutes_ago, sent, tokens, transaction};

fn reserve_now(connector: i64, tag: &str) -> Value {
    json!({"connectorId": connector, "expiryDate": "2099-01-01T00:00:00.000Z", "idTag": tag, "reservationId": 1})
}

async fn reservation(app: &TestApp, admin: &str, id: i64) -> Value {
    let (_, b) = app.get("/api/admin/reservations", Some(admin)).await;
    b["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("reservation {id}: {b}"))
}

/// Reserves `connector` for `tag` through the commands API; the reservationId csms used.
async fn reserve(app: &TestApp, admin: &str, device: &str, connector: i64, tag: &str) -> i64 {
    let (s, b) = app
        .post(
            &format!("/api/admin/chargers/{device}/commands/ReserveNow"),
            Some(admin),
            reserve_now(connector, tag),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["response"]["status"], "Accepted");
    b["reservation"]["id"].as_i64().unwrap()
}

async fn reserved_then_used(app: TestApp, device: &str, connector: i64, tag: &str) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger(device, 2).await;
    let id = reserve(&app, &admin, device, connector, "VALID").await;
    let got = sent(&sim, "ReserveNow");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["reservationId"], id);
    assert_eq!(got[0]["connectorId"], connector);
    assert_eq!(got[0]["idTag"], "VALID");
    assert_eq!(got[0]["expiryDate"], "2099-01-01T00:00:00.000Z");
    if tag != "VALID" {
        sim.hold_reservation(id, connector as u32, tag); // the charger accepts the group member
    }
    let tx = sim
        .start_transaction(connector.max(1) as u32, tag)
        .await
        .unwrap();
    assert_eq!(sim.start_answers()[0], (tx, "Accepted".into()));
    assert_eq!(
        transaction(&app, tx).await.2,
        Some(id as i32),
        "linked by reservationId"
    );
    let r = reservation(&app, &admin, id).await;
    assert_eq!(r["status"], "used", "{r}");
    sim.stop_transaction(tx, "Local").await.unwrap();
}

async fn tc_046_reservation_of_a_connector_transaction(app: TestApp) {
    reserved_then_used(app, "TC046", 1, "VALID").await;
}
dual!(tc_046_reservation_of_a_connector_transaction);

async fn tc_047_reservation_of_a_connector_expire(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC047", 1).await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/TC047/commands/ReserveNow",
            Some(&admin),
            json!({"connectorId": 1, "expiryDate": csms::ocpp::messages::format_timestamp(chrono::Utc::now().naive_utc() + chrono::Duration::seconds(2)), "idTag": "VALID", "reservationId": 1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["reservation"]["id"].as_i64().unwrap();
    // The charger lets it expire and reports the connector Available.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    sim.drop_reservations();
    let a = call(
        &sim,
        "StatusNotification",
        json!({"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": minutes_ago(0)}),
    )
    .await;
    assert_eq!(a, json!({}));
    assert_eq!(reservation(&app, &admin, id).await["status"], "expired");
    let c = app.customer("c@example.com", 20.0).await;
    let (s, b) = app.start(&c.token, "TC047", 1, 10.0).await;
    assert_eq!(s, 200, "the connector is free again: {b}");
}
dual!(tc_047_reservation_of_a_connector_expire);

async fn refused(app: TestApp, device: &str, answer: &str) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger(device, 1).await;
    sim.set_reserve_answer(Some(answer));
    let (s, b) = app
        .post(
            &format!("/api/admin/chargers/{device}/commands/ReserveNow"),
            Some(&admin),
            reserve_now(1, "VALID"),
        )
        .await;
    assert_eq!(
        (s, b["response"]["status"].as_str()),
        (200, Some(answer)),
        "{b}"
    );
    let id = b["reservation"]["id"].as_i64().unwrap();
    let r = reservation(&app, &admin, id).await;
    assert_eq!(
        (r["status"].as_str(), r["answer"].as_str()),
        (Some("refused"), Some(answer))
    );
    // Nothing left behind: a customer can start there.
    let c = app.customer("c@example.com", 20.0).await;
    let (s, b) = app.start(&c.token, device, 1, 10.0).await;
    assert_eq!(s, 200, "{b}");
}

async fn tc_048_1_reservation_of_a_connector_faulted(app: TestApp) {
    refused(app, "TC0481", "Faulted").await;
}
dual!(tc_048_1_reservation_of_a_connector_faulted);

async fn tc_048_2_reservation_of_a_connector_occupied(app: TestApp) {
    refused(app, "TC0482", "Occupied").await;
}
dual!(tc_048_2_reservation_of_a_connector_occupied);

async fn tc_048_3_reservation_of_a_connector_unavailable(app: TestApp) {
    refused(app, "TC0483", "Unavailable").await;
}
dual!(tc_048_3_reservation_of_a_connector_unavailable);

async fn tc_048_4_reservation_of_a_connector_rejected(app: TestApp) {
    refused(app, "TC0484", "Rejected").await;
}
dual!(tc_048_4_reservation_of_a_connector_rejected);

async fn tc_049_reservation_of_a_charge_point_transaction(app: TestApp) {
    reserved_then_used(app, "TC049", 0, "VALID").await;
}
dual!(tc_049_reservation_of_a_charge_point_transaction);

async fn tc_051_cancel_reservation(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC051", 1).await;
    let id = reserve(&app, &admin, "TC051", 1, "VALID").await;
    let r = cmd(
        &app,
        &admin,
        "TC051",
        "CancelReservation",
        json!({"reservationId": id}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(
        sent(&sim, "CancelReservation"),
        vec![json!({"reservationId": id})]
    );
    assert_eq!(reservation(&app, &admin, id).await["status"], "cancelled");
    assert!(sim.reservations().is_empty());
}
dual!(tc_051_cancel_reservation);

async fn tc_052_cancel_reservation_rejected(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC052", 1).await;
    let r = cmd(
        &app,
        &admin,
        "TC052",
        "CancelReservation",
        json!({"reservationId": 4242}),
    )
    .await;
    assert_eq!(
        r["status"], "Rejected",
        "the charger holds no such reservation"
    );
    assert_eq!(sent(&sim, "CancelReservation").len(), 1);
}
dual!(tc_052_cancel_reservation_rejected);

async fn tc_053_use_a_reserved_connector_with_parentidtag(app: TestApp) {
    // Reserved for VALID (group GROUP); MEMBER, of the same group, uses it.
    reserved_then_used(app, "TC053", 1, "MEMBER").await;
}
dual!(tc_053_use_a_reserved_connector_with_parentidtag);
