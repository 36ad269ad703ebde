//! BootNotification policy: with `CSMS_ADMIT_UNKNOWN_CHARGERS`, an unknown charger is admitted as
//! pending (Pending; nothing but BootNotification accepted from it; only configuration and trigger
//! requests sent to it) until an operator accepts it; a rejected (disabled) charger hears Rejected.

use csms::simulator::{SimConfig, SimError, Simulator};
use serde_json::json;

use crate::dual;
use crate::helpers::TestApp;

async fn boot(sim: &Simulator) -> serde_json::Value {
    sim.call(
        "BootNotification",
        json!({"chargePointVendor": "Acme", "chargePointModel": "X1"}),
    )
    .await
    .unwrap()
}

async fn registration(app: &TestApp, admin: &str, status: &str) -> u16 {
    app.request(
        reqwest::Method::PUT,
        "/api/admin/chargers/NEW1/registration",
        Some(admin),
        Some(json!({ "status": status })),
    )
    .await
    .0
}

async fn unknown_charger_waits_for_approval(app: TestApp) {
    let admin = app.admin().await;
    let sim = Simulator::connect_only(SimConfig::new(app.ocpp.clone(), "NEW1", 1))
        .await
        .unwrap();
    let b = boot(&sim).await;
    assert_eq!(b["status"], "Pending", "{b}");
    assert!(b["interval"].as_i64().unwrap() <= 60);
    // Nothing else is taken from it, and nothing but configuration requests is sent to it.
    for (action, payload) in [
        (
            "StatusNotification",
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
        ),
        (
            "StartTransaction",
            json!({"connectorId": 1, "idTag": "ANY", "meterStart": 0, "timestamp": "2026-11-27T10:00:00Z"}),
        ),
    ] {
        match sim.call(action, payload).await {
            Err(SimError::CallError { code, .. }) => assert_eq!(code, "SecurityError", "{action}"),
            other => panic!("{action}: {other:?}"),
        }
    }
    let (s, b) = app.get("/api/admin/chargers/NEW1", Some(&admin)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["charger"]["registration"], "pending");
    assert_eq!(
        b["charger"]["vendor"], "Acme",
        "what it said at boot, for the operator"
    );
    let (s, b) = app
        .post(
            "/api/admin/chargers/NEW1/commands/Reset",
            Some(&admin),
            json!({"type": "Soft"}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(sim.received_count("Reset"), 0);
    let (s, _) = app
        .post(
            "/api/admin/chargers/NEW1/commands/GetConfiguration",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "configuration may be read while pending");

    // Accepted: csms asks it to boot again, and from then on it is a charger like any other.
    assert_eq!(registration(&app, &admin, "accepted").await, 200);
    app.wait_until(|| sim.received_count("TriggerMessage") == 1)
        .await;
    let b = boot(&sim).await;
    assert_eq!(b["status"], "Accepted");
    sim.status(1, "Available").await.unwrap();
    let (s, b) = app
        .post(
            "/api/admin/chargers/NEW1/commands/Reset",
            Some(&admin),
            json!({"type": "Soft"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // Rejected (disabled): commands refused, its next boot hears Rejected.
    assert_eq!(registration(&app, &admin, "rejected").await, 200);
    let (s, _) = app
        .post(
            "/api/admin/chargers/NEW1/commands/Reset",
            Some(&admin),
            json!({"type": "Soft"}),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(boot(&sim).await["status"], "Rejected");
    assert_eq!(registration(&app, &admin, "maybe").await, 400);
    let (s, _) = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/chargers/NOPE/registration",
            Some(&admin),
            Some(json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(s, 404);
}
dual!(unknown_charger_waits_for_approval, |s| s
    .admit_unknown_chargers =
    true);

/// Without the setting, an unknown charger is refused at the handshake, and registered chargers
/// are accepted as before.
async fn unknown_charger_refused_by_default(app: TestApp) {
    let r = Simulator::connect_only(SimConfig::new(app.ocpp.clone(), "NEW2", 1)).await;
    assert!(r.is_err(), "404 at the handshake");
    let sim = app.charger("KNOWN1", 1).await;
    assert_eq!(boot(&sim).await["status"], "Accepted");
}
dual!(unknown_charger_refused_by_default);
