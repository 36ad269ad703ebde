//! Remote Trigger (2 cases).

use serde_json::json;

use crate::helpers::TestApp;
use crate::{answered, cmd, dual, eventually, sent};

async fn tc_054_trigger_message(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC054", 1).await;
    for (requested, connector) in [
        ("MeterValues", Some(1)),
        ("Heartbeat", None),
        ("StatusNotification", Some(1)),
        ("DiagnosticsStatusNotification", None),
        ("FirmwareStatusNotification", None),
        ("BootNotification", None),
    ] {
        let mut body = json!({"requestedMessage": requested});
        if let Some(c) = connector {
            body["connectorId"] = json!(c);
        }
        let r = cmd(&app, &admin, "TC054", "TriggerMessage", body.clone()).await;
        assert_eq!(r["status"], "Accepted", "{requested}");
        assert_eq!(sent(&sim, "TriggerMessage").last(), Some(&body));
        // The triggered message arrives and is answered.
        eventually(requested, || async {
            crate::log(&app, &admin, "TC054")
                .await
                .iter()
                .filter(|(d, a, f)| d == "out" && a == requested && f[0] == 3)
                .count()
                >= 1
        })
        .await;
    }
    assert!(
        answered(
            &app,
            &admin,
            "TC054",
            "StatusNotification",
            "status",
            "Available"
        )
        .await
    );
}
dual!(tc_054_trigger_message);

async fn tc_055_trigger_message_rejected(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC055", 1).await;
    sim.set_answer("TriggerMessage", Some(json!({"status": "Rejected"})));
    let r = cmd(
        &app,
        &admin,
        "TC055",
        "TriggerMessage",
        json!({"requestedMessage": "MeterValues", "connectorId": 1}),
    )
    .await;
    assert_eq!(r["status"], "Rejected");
}
dual!(tc_055_trigger_message_rejected);
