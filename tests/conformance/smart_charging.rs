//! Smart Charging (5 cases): profiles are sent as the schemas say, and the charger's answers come
//! back to the operator.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::{cmd, dual, minutes_ago, sent, tokens};

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

async fn tc_056_central_smart_charging_txdefaultprofile(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC056", 1).await;
    let body =
        json!({"connectorId": 0, "csChargingProfiles": profile(1, "TxDefaultProfile", None)});
    let r = cmd(&app, &admin, "TC056", "SetChargingProfile", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    let got = sent(&sim, "SetChargingProfile");
    assert_eq!(got, vec![body]);
    assert!(got[0]["csChargingProfiles"].get("transactionId").is_none());
    assert_eq!(sim.profiles().len(), 1);
}
dual!(tc_056_central_smart_charging_txdefaultprofile);

async fn tc_057_central_smart_charging_txprofile(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC057", 1).await;
    let tx = sim.start_transaction(1, "VALID").await.unwrap();
    let body = json!({"connectorId": 1, "csChargingProfiles": profile(2, "TxProfile", Some(tx))});
    let r = cmd(&app, &admin, "TC057", "SetChargingProfile", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(
        sent(&sim, "SetChargingProfile")[0]["csChargingProfiles"]["transactionId"],
        tx
    );
    sim.stop_transaction(tx, "Local").await.unwrap();
}
dual!(tc_057_central_smart_charging_txprofile);

async fn tc_059_remote_start_transaction_with_charging_profile(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC059", 1).await;
    let mut p = profile(3, "TxProfile", None);
    p["chargingProfileKind"] = json!("Relative");
    p.as_object_mut().unwrap().remove("validFrom");
    p["chargingSchedule"]
        .as_object_mut()
        .unwrap()
        .remove("startSchedule");
    let body = json!({"connectorId": 1, "idTag": "VALID", "chargingProfile": p});
    let r = cmd(
        &app,
        &admin,
        "TC059",
        "RemoteStartTransaction",
        body.clone(),
    )
    .await;
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
    app.wait_until(|| sim.open_transactions().len() == 1).await;
}
dual!(tc_059_remote_start_transaction_with_charging_profile);

async fn tc_066_get_composite_schedule(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC066", 1).await;
    let body = json!({"connectorId": 1, "duration": 3600, "chargingRateUnit": "W"});
    let r = cmd(&app, &admin, "TC066", "GetCompositeSchedule", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(r["chargingSchedule"]["chargingRateUnit"], "W");
    assert_eq!(sent(&sim, "GetCompositeSchedule"), vec![body]);
}
dual!(tc_066_get_composite_schedule);

async fn tc_067_clear_charging_profile(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC067", 1).await;
    for (id, level) in [(10, 1), (11, 2), (12, 3)] {
        let mut p = profile(id, "TxDefaultProfile", None);
        p["stackLevel"] = json!(level);
        let body = json!({"connectorId": 1, "csChargingProfiles": p});
        cmd(&app, &admin, "TC067", "SetChargingProfile", body).await;
    }
    assert_eq!(sim.profiles().len(), 3);
    // By id.
    let r = cmd(
        &app,
        &admin,
        "TC067",
        "ClearChargingProfile",
        json!({"id": 10}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sim.profiles().len(), 2);
    // By connector, purpose and stack level.
    let r = cmd(
        &app,
        &admin,
        "TC067",
        "ClearChargingProfile",
        json!({"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 2}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sim.profiles().len(), 1);
    // With an empty payload: everything.
    let r = cmd(&app, &admin, "TC067", "ClearChargingProfile", json!({})).await;
    assert_eq!(r["status"], "Accepted");
    assert!(sim.profiles().is_empty());
    // Nothing left: Unknown.
    let r = cmd(&app, &admin, "TC067", "ClearChargingProfile", json!({})).await;
    assert_eq!(r["status"], "Unknown");
    assert_eq!(sent(&sim, "ClearChargingProfile").len(), 4);
}
dual!(tc_067_clear_charging_profile);
