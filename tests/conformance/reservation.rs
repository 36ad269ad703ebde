//! Reservation (10 cases), through the operator's commands API (ReserveNow, CancelReservation): the
//! commands go out as given (the operator's reservationId and expiry), and csms records the
//! reservation by the charger's answer (so that it excludes app sessions; see `csms::domain::reservations`).

use serde_json::{Value, json};

use crate::{Ctx, call, case, minutes_ago, sent, transaction};

fn reserve_now(connector: i64, tag: &str) -> Value {
    json!({"connectorId": connector, "expiryDate": "2099-01-01T00:00:00.000Z", "idTag": tag, "reservationId": 1})
}

async fn reservation(ctx: &Ctx, id: i64) -> Value {
    let (_, b) = ctx
        .app
        .get("/api/admin/reservations", Some(&ctx.admin))
        .await;
    b["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("reservation {id}: {b}"))
}

/// Reserves `connector` for `tag` through the commands API: (csms's id of the reservation it
/// recorded, the reservationId the charger knows: the operator's, as given).
async fn reserve(ctx: &Ctx, connector: i64, tag: &str) -> (i64, i64) {
    let (s, b) = ctx
        .app
        .post(
            &format!("/api/admin/chargers/{}/commands/ReserveNow", ctx.device()),
            Some(&ctx.admin),
            reserve_now(connector, tag),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["response"]["status"], "Accepted");
    assert_eq!(b["reservation"]["reservationId"], 1, "as given: {b}");
    (
        b["reservation"]["id"].as_i64().unwrap(),
        b["reservation"]["reservationId"].as_i64().unwrap(),
    )
}

async fn reserved_then_used(ctx: Ctx, connector: i64, tag: &str) {
    ctx.tokens().await;
    let sim = ctx.charger(2).await;
    let (id, rid) = reserve(&ctx, connector, "VALID").await;
    let got = sent(&sim, "ReserveNow");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["reservationId"], rid);
    assert_eq!(got[0]["connectorId"], connector);
    assert_eq!(got[0]["idTag"], "VALID");
    assert_eq!(got[0]["expiryDate"], "2099-01-01T00:00:00.000Z");
    if tag != "VALID" {
        sim.hold_reservation(rid, connector as u32, tag); // the charger accepts the group member
    }
    let tx = sim
        .start_transaction(connector.max(1) as u32, tag)
        .await
        .unwrap();
    assert_eq!(sim.start_answers()[0], (tx, "Accepted".into()));
    assert_eq!(
        transaction(&ctx.app, tx).await.2,
        Some(rid as i32),
        "linked by reservationId"
    );
    let r = reservation(&ctx, id).await;
    assert_eq!(r["status"], "used", "{r}");
    if ctx.stops_its_transaction() {
        sim.stop_transaction(tx, "Local").await.unwrap();
    }
}

pub async fn tc_046_reservation_of_a_connector_transaction(ctx: Ctx) {
    reserved_then_used(ctx, 1, "VALID").await;
}
case!(tc_046_reservation_of_a_connector_transaction, "TC_046");

pub async fn tc_047_reservation_of_a_connector_expire(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let (s, b) = ctx
        .app
        .post(
            &format!("/api/admin/chargers/{}/commands/ReserveNow", ctx.device()),
            Some(&ctx.admin),
            json!({"connectorId": 1, "expiryDate": csms::protocol::ocpp16::messages::format_timestamp(chrono::Utc::now().naive_utc() + chrono::Duration::seconds(2)), "idTag": "VALID", "reservationId": 1}),
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
    assert_eq!(reservation(&ctx, id).await["status"], "expired");
    if ctx.customer_may_start() {
        let c = ctx.customer(20.0).await;
        let (s, b) = ctx.app.start(&c.token, ctx.device(), 1, 10.0).await;
        assert_eq!(s, 200, "the connector is free again: {b}");
    }
}
case!(tc_047_reservation_of_a_connector_expire, "TC_047");

async fn refused(ctx: Ctx, answer: &str) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    // Back to back, as the tool runs TC_048_3 (issue 20, item 1): the operator made the connector
    // Inoperative first, and the charger reported it Unavailable.
    let inoperative = ctx.is_shared() && answer == "Unavailable";
    if inoperative {
        let r = ctx
            .cmd(
                "ChangeAvailability",
                json!({"connectorId": 1, "type": "Inoperative"}),
            )
            .await;
        assert_eq!(r["status"], "Accepted");
        ctx.wait_connector(1, "Unavailable").await;
    }
    sim.set_reserve_answer(Some(answer));
    let (s, b) = ctx
        .app
        .post(
            &format!("/api/admin/chargers/{}/commands/ReserveNow", ctx.device()),
            Some(&ctx.admin),
            reserve_now(1, "VALID"),
        )
        .await;
    assert_eq!(
        (s, b["response"]["status"].as_str()),
        (200, Some(answer)),
        "{b}"
    );
    let id = b["reservation"]["id"].as_i64().unwrap();
    let r = reservation(&ctx, id).await;
    assert_eq!(
        (r["status"].as_str(), r["answer"].as_str()),
        (Some("refused"), Some(answer))
    );
    if inoperative {
        let r = ctx
            .cmd(
                "ChangeAvailability",
                json!({"connectorId": 1, "type": "Operative"}),
            )
            .await;
        assert_eq!(r["status"], "Accepted");
        ctx.wait_connector(1, "Available").await;
    }
    // Nothing left behind: a customer can start there.
    if ctx.customer_may_start() {
        let c = ctx.customer(20.0).await;
        let (s, b) = ctx.app.start(&c.token, ctx.device(), 1, 10.0).await;
        assert_eq!(s, 200, "{b}");
    }
}

pub async fn tc_048_1_reservation_of_a_connector_faulted(ctx: Ctx) {
    refused(ctx, "Faulted").await;
}
case!(tc_048_1_reservation_of_a_connector_faulted, "TC_048_1");

pub async fn tc_048_2_reservation_of_a_connector_occupied(ctx: Ctx) {
    refused(ctx, "Occupied").await;
}
case!(tc_048_2_reservation_of_a_connector_occupied, "TC_048_2");

pub async fn tc_048_3_reservation_of_a_connector_unavailable(ctx: Ctx) {
    refused(ctx, "Unavailable").await;
}
case!(tc_048_3_reservation_of_a_connector_unavailable, "TC_048_3");

pub async fn tc_048_4_reservation_of_a_connector_rejected(ctx: Ctx) {
    refused(ctx, "Rejected").await;
}
case!(tc_048_4_reservation_of_a_connector_rejected, "TC_048_4");

pub async fn tc_049_reservation_of_a_charge_point_transaction(ctx: Ctx) {
    reserved_then_used(ctx, 0, "VALID").await;
}
case!(tc_049_reservation_of_a_charge_point_transaction, "TC_049");

pub async fn tc_051_cancel_reservation(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let (id, rid) = reserve(&ctx, 1, "VALID").await;
    let r = ctx
        .cmd("CancelReservation", json!({"reservationId": rid}))
        .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(
        sent(&sim, "CancelReservation"),
        vec![json!({"reservationId": rid})]
    );
    assert_eq!(reservation(&ctx, id).await["status"], "cancelled");
    assert!(sim.reservations().is_empty());
}
case!(tc_051_cancel_reservation, "TC_051");

pub async fn tc_052_cancel_reservation_rejected(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    let r = ctx
        .cmd("CancelReservation", json!({"reservationId": 4242}))
        .await;
    assert_eq!(
        r["status"], "Rejected",
        "the charger holds no such reservation"
    );
    assert_eq!(sent(&sim, "CancelReservation").len(), 1);
}
case!(tc_052_cancel_reservation_rejected, "TC_052");

pub async fn tc_053_use_a_reserved_connector_with_parentidtag(ctx: Ctx) {
    // Reserved for VALID (group GROUP); MEMBER, of the same group, uses it.
    reserved_then_used(ctx, 1, "MEMBER").await;
}
case!(tc_053_use_a_reserved_connector_with_parentidtag, "TC_053");
