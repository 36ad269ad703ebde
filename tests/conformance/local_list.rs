//! Local Auth List Management (6 cases). csms computes the list from its tokens (see
//! `csms::local_list`); the charger's answers are scripted where the case needs them.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::{cmd, dual, sent, tokens};

async fn wait_version(app: &TestApp, admin: &str, device: &str, v: i64) -> Value {
    for _ in 0..300 {
        let (_, b) = app
            .get(
                &format!("/api/admin/chargers/{device}/local-list"),
                Some(admin),
            )
            .await;
        if b["localList"]["version"] == v && b["localList"]["lastStatus"].is_string() {
            return b["localList"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{device}: list version {v} not recorded");
}

async fn tc_042_1_get_local_list_version_not_supported(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0421", 1).await;
    sim.set_answer("GetLocalListVersion", Some(json!({"listVersion": -1})));
    let r = cmd(&app, &admin, "TC0421", "GetLocalListVersion", json!({})).await;
    assert_eq!(r["listVersion"], -1);
    assert_eq!(sent(&sim, "GetLocalListVersion"), vec![json!({})]);
    let (_, b) = app
        .get("/api/admin/chargers/TC0421/local-list", Some(&admin))
        .await;
    assert_eq!(b["localList"]["chargerVersion"], -1);
    assert!(sent(&sim, "SendLocalList").is_empty());
}
dual!(tc_042_1_get_local_list_version_not_supported);

async fn tc_042_2_get_local_list_version_empty(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0422", 1).await;
    let r = cmd(&app, &admin, "TC0422", "GetLocalListVersion", json!({})).await;
    assert_eq!(r["listVersion"], 0);
    assert!(sent(&sim, "SendLocalList").is_empty(), "nothing to send");
}
dual!(tc_042_2_get_local_list_version_empty);

async fn refused(app: TestApp, device: &str, answer: &str) {
    let admin = app.admin().await;
    let sim = app.charger(device, 1).await;
    sim.set_answer("SendLocalList", Some(json!({"status": answer})));
    tokens(&app, &admin).await;
    let (s, b) = app
        .post(
            &format!("/api/admin/chargers/{device}/local-list"),
            Some(&admin),
            json!({"full": true}),
        )
        .await;
    assert!(s == 200 || s == 409, "{b}"); // 409: the background update is sending it right now
    let l = wait_version(&app, &admin, device, 0).await;
    assert_eq!(l["lastStatus"], answer);
    assert!(!sent(&sim, "SendLocalList").is_empty());
}

async fn tc_043_1_send_local_authorization_list_not_supported(app: TestApp) {
    refused(app, "TC0431", "NotSupported").await;
}
dual!(tc_043_1_send_local_authorization_list_not_supported);

async fn tc_043_3_send_local_authorization_list_failed(app: TestApp) {
    refused(app, "TC0433", "Failed").await;
}
dual!(tc_043_3_send_local_authorization_list_failed);

async fn tc_043_4_send_local_authorization_list_full(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC0434", 1).await;
    wait_version(&app, &admin, "TC0434", 1).await;
    let r = cmd(
        &app,
        &admin,
        "TC0434",
        "SendLocalList",
        json!({"listVersion": 1, "updateType": "Full", "localAuthorizationList": []}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    let lists = sent(&sim, "SendLocalList");
    let full = lists.last().unwrap();
    assert_eq!(full["updateType"], "Full");
    assert_eq!(full["listVersion"], 2);
    let entries = full["localAuthorizationList"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{full}");
    assert!(entries.iter().all(|e| e["idTagInfo"]["status"].is_string()));
    assert_eq!(sim.local_list().0, 2);
}
dual!(tc_043_4_send_local_authorization_list_full);

async fn tc_043_5_send_local_authorization_list_differential(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC0435", 1).await;
    wait_version(&app, &admin, "TC0435", 1).await;
    let (s, b) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "NEWCARD"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    wait_version(&app, &admin, "TC0435", 2).await;
    let lists = sent(&sim, "SendLocalList");
    let diff = lists.last().unwrap();
    assert_eq!(diff["updateType"], "Differential");
    assert_eq!(diff["listVersion"], 2);
    assert_eq!(
        diff["localAuthorizationList"],
        json!([{"idTag": "NEWCARD", "idTagInfo": {"status": "Accepted"}}])
    );
}
dual!(tc_043_5_send_local_authorization_list_differential);
