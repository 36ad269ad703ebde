//! Authorization tokens (RFID cards, fleet tokens): the operator's CRUD, and what chargers are told
//! on Authorize and StartTransaction: Accepted, Blocked, Expired, Invalid, ConcurrentTx, with
//! `parentIdTag` and `expiryDate`; a card linked to a customer is billed against that customer's
//! wallet, a refused card is stopped.

use reqwest::Method;
use serde_json::{Value, json};

use crate::dual;
use crate::helpers::TestApp;

async fn token(app: &TestApp, admin: &str, body: Value) -> (u16, Value) {
    app.post("/api/admin/id-tags", Some(admin), body).await
}

async fn authorize(sim: &csms::simulator::Simulator, tag: &str) -> Value {
    sim.call("Authorize", json!({ "idTag": tag }))
        .await
        .unwrap()["idTagInfo"]
        .clone()
}

async fn tokens_crud_is_case_insensitive_and_validated(app: TestApp) {
    let admin = app.admin().await;
    let (s, _) = token(&app, "not-a-token", json!({"idTag": "CARD1"})).await;
    assert_eq!(s, 401);

    let (s, body) = token(
        &app,
        &admin,
        json!({"idTag": "card-1", "expiryDate": "2099-01-01T00:00:00Z", "parentIdTag": "fleet-a", "note": "van 7"}),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["success"], true);
    let t = &body["idTag"];
    assert_eq!(t["idTag"], "CARD-1", "stored upper case");
    assert_eq!(t["status"], "Accepted", "default status");
    assert_eq!(t["effectiveStatus"], "Accepted");
    assert_eq!(t["parentIdTag"], "FLEET-A");
    assert_eq!(t["expiryDate"], "2099-01-01T00:00:00.000Z");
    assert_eq!(t["customerId"], Value::Null);

    // Unique whatever the case, and never a customer's own idTag.
    let (s, body) = token(&app, &admin, json!({"idTag": "Card-1"})).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (409, Some("A token with this idTag already exists"))
    );
    let c = app.customer("owner@example.com", 0.0).await;
    let (s, body) = token(&app, &admin, json!({"idTag": c.id_tag.to_lowercase()})).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (409, Some("This idTag already belongs to a customer"))
    );

    // Bad input: a clear 400 (or 404 for an unknown customer), nothing written.
    for (bad, status) in [
        (json!({}), 400),
        (json!({"idTag": ""}), 400),
        (json!({"idTag": "has space"}), 400),
        (json!({"idTag": "X".repeat(21)}), 400),
        (json!({"idTag": "OK1", "status": "accepted"}), 400),
        (json!({"idTag": "OK1", "status": "ConcurrentTx"}), 400),
        (json!({"idTag": "OK1", "expiryDate": "tomorrow"}), 400),
        (json!({"idTag": "OK1", "parentIdTag": "bad parent"}), 400),
        (json!({"idTag": "OK1", "customerId": 999_999}), 404),
        (json!({"idTag": "OK1", "bogus": 1}), 400),
    ] {
        let (s, body) = token(&app, &admin, bad.clone()).await;
        assert_eq!(s, status, "{bad} -> {body}");
        assert!(body["error"].is_string(), "{bad} -> {body}");
    }
    let (s, body) = app.get("/api/admin/id-tags", Some(&admin)).await;
    assert_eq!(s, 200);
    assert_eq!(body["idTags"].as_array().unwrap().len(), 1, "{body}");

    // Read in any case; change; clear with null.
    let (s, body) = app.get("/api/admin/id-tags/card-1", Some(&admin)).await;
    assert_eq!((s, body["idTag"]["note"].as_str()), (200, Some("van 7")));
    let (s, body) = app
        .request(
            Method::PUT,
            "/api/admin/id-tags/Card-1",
            Some(&admin),
            Some(json!({"status": "Blocked", "expiryDate": null, "customerId": c.id})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["idTag"]["status"], "Blocked");
    assert_eq!(body["idTag"]["expiryDate"], Value::Null);
    assert_eq!(body["idTag"]["parentIdTag"], "FLEET-A", "untouched");
    assert_eq!(body["idTag"]["customerId"], c.id);
    let (s, body) = app
        .get(
            &format!("/api/admin/id-tags?customerId={}", c.id),
            Some(&admin),
        )
        .await;
    assert_eq!((s, body["idTags"].as_array().unwrap().len()), (200, 1));
    let (s, body) = app
        .request(
            Method::PUT,
            "/api/admin/id-tags/CARD-1",
            Some(&admin),
            Some(json!({"idTag": "CARD-2"})),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("idTag cannot be changed: register a new token"))
    );
    let (s, _) = app
        .request(
            Method::PUT,
            "/api/admin/id-tags/NOPE",
            Some(&admin),
            Some(json!({"status": "Blocked"})),
        )
        .await;
    assert_eq!(s, 404);

    let (s, _) = app
        .request(
            Method::DELETE,
            "/api/admin/id-tags/card-1",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, body) = app.get("/api/admin/id-tags/CARD-1", Some(&admin)).await;
    assert_eq!((s, body["error"].as_str()), (404, Some("Token not found")));
    let (s, _) = app
        .request(
            Method::DELETE,
            "/api/admin/id-tags/card-1",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 404);
}
dual!(tokens_crud_is_case_insensitive_and_validated);

/// Authorize answers from the tokens: Accepted (with parentIdTag and expiryDate), Blocked, Expired
/// once the expiry date has passed, Invalid for unknown and `Invalid`-status tags; ConcurrentTx only
/// for a StartTransaction while the same card charges on another charger (OCPP 1.6: Authorize
/// answers the card's own status).
async fn authorize_answers_from_tokens(app: TestApp) {
    let admin = app.admin().await;
    for body in [
        json!({"idTag": "GOOD", "parentIdTag": "GROUP", "expiryDate": "2099-01-01T00:00:00Z"}),
        json!({"idTag": "BLOCKED", "status": "Blocked"}),
        json!({"idTag": "OLD", "expiryDate": "2020-01-01T00:00:00Z"}),
        json!({"idTag": "MARKED", "status": "Expired"}),
        json!({"idTag": "VOID", "status": "Invalid"}),
        json!({"idTag": "FLEET"}),
    ] {
        let (s, b) = token(&app, &admin, body).await;
        assert_eq!(s, 201, "{b}");
    }
    let (_, b) = app.get("/api/admin/id-tags/OLD", Some(&admin)).await;
    assert_eq!(
        (
            b["idTag"]["status"].as_str(),
            b["idTag"]["effectiveStatus"].as_str()
        ),
        (Some("Accepted"), Some("Expired"))
    );

    let sim = app.charger("AUTH1", 1).await;
    let good = authorize(&sim, "good").await; // re-cased by the charger
    assert_eq!(good["status"], "Accepted");
    assert_eq!(good["parentIdTag"], "GROUP");
    assert_eq!(good["expiryDate"], "2099-01-01T00:00:00.000Z");
    assert_eq!(authorize(&sim, "BLOCKED").await["status"], "Blocked");
    let old = authorize(&sim, "OLD").await;
    assert_eq!(old["status"], "Expired");
    assert_eq!(old["expiryDate"], "2020-01-01T00:00:00.000Z");
    assert_eq!(authorize(&sim, "MARKED").await["status"], "Expired");
    assert_eq!(authorize(&sim, "VOID").await["status"], "Invalid");
    assert_eq!(authorize(&sim, "UNKNOWN").await["status"], "Invalid");

    // The fleet card charges on AUTH1; on AUTH2 Authorize answers its own status (Accepted), and
    // a StartTransaction is ConcurrentTx, and stopped.
    let tx = sim.start_transaction(1, "fleet").await.unwrap();
    assert_eq!(sim.start_answers(), vec![(tx, "Accepted".to_string())]);
    let other = app.charger("AUTH2", 1).await;
    assert_eq!(authorize(&other, "FLEET").await["status"], "Accepted");
    assert_eq!(authorize(&sim, "FLEET").await["status"], "Accepted");
    let tx2 = other.start_transaction(1, "FLEET").await.unwrap();
    assert_eq!(
        other.start_answers(),
        vec![(tx2, "ConcurrentTx".to_string())]
    );
    app.wait_until(|| other.received_count("RemoteStopTransaction") == 1)
        .await;
    // Once the first transaction ends, the card is free again.
    sim.stop_transaction(tx, "Local").await.unwrap();
    assert_eq!(authorize(&other, "FLEET").await["status"], "Accepted");
    app.assert_money_conserved().await;
}
dual!(authorize_answers_from_tokens);

/// A card linked to a customer charges that customer's wallet under the billing invariant: a hold
/// at StartTransaction, the energy at the tariff at StopTransaction, the rest back. A fleet card
/// (no customer) moves no wallet money. A blocked card is refused and stopped, and moves nothing.
async fn linked_card_bills_the_customer(app: TestApp) {
    let admin = app.admin().await;
    let c = app.customer("driver@example.com", 20.0).await;
    let (s, b) = token(
        &app,
        &admin,
        json!({"idTag": "DRIVER-CARD", "customerId": c.id}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = token(
        &app,
        &admin,
        json!({"idTag": "STOLEN", "customerId": c.id, "status": "Blocked"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = token(&app, &admin, json!({"idTag": "DEPOT"})).await;
    assert_eq!(s, 201, "{b}");

    let sim = app.charger("CARD1", 2).await;
    let tx = sim.start_transaction(1, "driver-card").await.unwrap();
    assert_eq!(sim.start_answers()[0], (tx, "Accepted".to_string()));
    assert_eq!(
        app.balance(&c.token).await,
        0.0,
        "the wallet (less than the RFID hold) is held"
    );
    let sessions = app.sessions(&c.token).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["status"], "active");
    sim.add_energy(tx, 400.0).await.unwrap(); // 0.4 kWh at 15.00 = 6.00
    sim.stop_transaction(tx, "Local").await.unwrap();
    assert_eq!(app.balance(&c.token).await, 14.0);

    let blocked = sim.start_transaction(2, "stolen").await.unwrap();
    assert_eq!(sim.start_answers()[1], (blocked, "Blocked".to_string()));
    app.wait_until(|| sim.received_count("RemoteStopTransaction") == 1)
        .await;
    assert_eq!(
        app.balance(&c.token).await,
        14.0,
        "a refused card moves nothing"
    );
    assert_eq!(app.sessions(&c.token).await.len(), 1);

    let fleet = sim.start_transaction(1, "depot").await.unwrap();
    assert_eq!(sim.start_answers()[2], (fleet, "Accepted".to_string()));
    sim.add_energy(fleet, 1000.0).await.unwrap();
    sim.stop_transaction(fleet, "Local").await.unwrap();
    assert_eq!(
        app.balance(&c.token).await,
        14.0,
        "a fleet card is not the customer's"
    );
    let (s, b) = app.get("/api/admin/sessions", Some(&admin)).await;
    assert_eq!(s, 200, "{b}");
    let fleet_session = b["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["transactionId"] == fleet)
        .cloned()
        .unwrap_or_else(|| panic!("fleet session listed: {b}"));
    assert_eq!(fleet_session["status"], "completed", "{fleet_session}");
    assert_eq!(fleet_session["customerId"], Value::Null);
    assert_eq!(
        fleet_session["cost"], 15.0,
        "1 kWh at 15.00, billed by the operator"
    );
    app.assert_money_conserved().await;
}
dual!(linked_card_bills_the_customer);
