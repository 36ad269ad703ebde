//! Smart Charging (5 cases): profiles are sent as the schemas say, and the charger's answers come
//! back to the operator.

use serde_json::{Value, json};

use crate::{Ctx, case, minutes_ago, sent};

fn profile(id: i64, purpose: &str, tx: Option<i64>) -> Value {
    let mut p = json!({
        "chargingProfileId": id,
        "stackLevel": 1,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "validFrom": minutes_ago(1),
        "validTo": "2099-01-01T00:00:00.000Z",
        "chargingSchedule": {
            "startSchedule": minutes_ago(1),
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}, {"startPeriod": 3600, "limit": 8.0}]
        }
    });
    if let Some(t) = tx {
        p["transactionId"] = json!(t);
    }
    p
}

pub async fn tc_056_central_smart_charging_txdefaultprofile(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    let body =
        json!({"connectorId": 0, "csChargingProfiles": profile(1, "TxDefaultProfile", None)});
    let r = ctx.cmd("SetChargingProfile", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    let got = sent(&sim, "SetChargingProfile");
    assert_eq!(got, vec![body]);
    assert!(got[0]["csChargingProfiles"].get("transactionId").is_none());
    assert_eq!(sim.profiles().len(), 1);
}
case!(tc_056_central_smart_charging_txdefaultprofile, "TC_056");

pub async fn tc_057_central_smart_charging_txprofile(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let tx = sim.start_transaction(1, "VALID").await.unwrap();
    let body = json!({"connectorId": 1, "csChargingProfiles": profile(2, "TxProfile", Some(tx))});
    let r = ctx.cmd("SetChargingProfile", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(
        sent(&sim, "SetChargingProfile")[0]["csChargingProfiles"]["transactionId"],
        tx
    );
    if ctx.stops_its_transaction() {
        sim.stop_transaction(tx, "Local").await.unwrap();
    }
}
case!(tc_057_central_smart_charging_txprofile, "TC_057");

pub async fn tc_059_remote_start_transaction_with_charging_profile(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let mut p = profile(3, "TxProfile", None);
    p["chargingProfileKind"] = json!("Relative");
    p.as_object_mut().unwrap().remove("validFrom");
    p["chargingSchedule"]
        .as_object_mut()
        .unwrap()
        .remove("startSchedule");
    let body = json!({"connectorId": 1, "idTag": "VALID", "chargingProfile": p});
    let r = ctx.cmd("RemoteStartTransaction", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    let got = &sent(&sim, "RemoteStartTransaction")[0];
    assert_eq!(got, &body);
    assert_eq!(
        got["chargingProfile"]["chargingProfilePurpose"],
        "TxProfile"
    );
    assert!(got["chargingProfile"].get("transactionId").is_none());
    assert_eq!(
        got["chargingProfile"]["chargingSchedule"]["chargingSchedulePeriod"][0]["startPeriod"],
        0
    );
    ctx.app
        .wait_until(|| sim.open_transactions().len() == 1)
        .await;
}
case!(
    tc_059_remote_start_transaction_with_charging_profile,
    "TC_059"
);

pub async fn tc_066_get_composite_schedule(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    let body = json!({"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"});
    let r = ctx.cmd("GetCompositeSchedule", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(r["chargingSchedule"]["chargingRateUnit"], "W");
    assert_eq!(sent(&sim, "GetCompositeSchedule"), vec![body]);
}
case!(tc_066_get_composite_schedule, "TC_066");

pub async fn tc_067_clear_charging_profile(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    for (id, level) in [(10, 1), (11, 2), (12, 3)] {
        let mut p = profile(id, "TxDefaultProfile", None);
        p["stackLevel"] = json!(level);
        let body = json!({"connectorId": 1, "csChargingProfiles": p});
        ctx.cmd("SetChargingProfile", body).await;
    }
    assert_eq!(sim.profiles().len(), 3);
    // By id.
    let r = ctx.cmd("ClearChargingProfile", json!({"id": 10})).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sim.profiles().len(), 2);
    // By connector, purpose and stack level.
    let r = ctx.cmd("ClearChargingProfile",
        json!({"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 2}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sim.profiles().len(), 1);
    // With an empty payload: everything.
    let r = ctx.cmd("ClearChargingProfile", json!({})).await;
    assert_eq!(r["status"], "Accepted");
    assert!(sim.profiles().is_empty());
    // Nothing left: Unknown.
    let r = ctx.cmd("ClearChargingProfile", json!({})).await;
    assert_eq!(r["status"], "Unknown");
    assert_eq!(sent(&sim, "ClearChargingProfile").len(), 4);
}
case!(tc_067_clear_charging_profile, "TC_067");
