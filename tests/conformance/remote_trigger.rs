//! Remote Trigger (2 cases).

use serde_json::json;

use crate::{Ctx, case, eventually, sent};

pub async fn tc_054_trigger_message(ctx: Ctx) {
    let sim = ctx.charger(1).await;
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
        let r = ctx.cmd("TriggerMessage", body.clone()).await;
        assert_eq!(r["status"], "Accepted", "{requested}");
        assert_eq!(sent(&sim, "TriggerMessage").last(), Some(&body));
        // The triggered message arrives and is answered.
        eventually(requested, || async {
            ctx.log()
                .await
                .iter()
                .filter(|(d, a, f)| d == "out" && a == requested && f[0] == 3)
                .count()
                >= 1
        })
        .await;
    }
    assert!(
        ctx.answered("StatusNotification", "status", "Available")
            .await
    );
}
case!(tc_054_trigger_message, "TC_054");

pub async fn tc_055_trigger_message_rejected(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    sim.set_answer("TriggerMessage", Some(json!({"status": "Rejected"})));
    let r = ctx
        .cmd(
            "TriggerMessage",
            json!({"requestedMessage": "MeterValues", "connectorId": 1}),
        )
        .await;
    assert_eq!(r["status"], "Rejected");
}
case!(tc_055_trigger_message_rejected, "TC_055");
