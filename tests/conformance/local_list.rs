//! Local Auth List Management (6 cases). csms computes the list from its tokens (see
//! `csms::domain::local_list`); the charger's answers are scripted where the case needs them.

use csms::simulator::Simulator;
use serde_json::{Value, json};

use crate::{Ctx, case, sent};

/// The charger's list as csms records it.
async fn list_state(ctx: &Ctx) -> Value {
    let (s, b) = ctx
        .app
        .get(
            &format!("/api/admin/chargers/{}/local-list", ctx.device()),
            Some(&ctx.admin),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["localList"].clone()
}

/// Waits until csms recorded an answer to version `v` of the list.
async fn wait_version(ctx: &Ctx, v: i64) -> Value {
    for _ in 0..300 {
        let l = list_state(ctx).await;
        if l["version"] == v && l["lastStatus"].is_string() {
            return l;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{}: list version {v} not recorded", ctx.device());
}

/// Waits until the charger holds the list version csms recorded as accepted (the update csms sends
/// at connect has settled; isolated, the first one); returns that version.
async fn wait_in_step(ctx: &Ctx, sim: &Simulator) -> i64 {
    for _ in 0..300 {
        let l = list_state(ctx).await;
        let v = l["version"].as_i64().unwrap_or(0);
        if v > 0 && l["lastStatus"] == "Accepted" && sim.local_list().0 == v {
            assert_eq!(v, 1);
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{}: the charger's list never matched csms's: {}",
        ctx.device(),
        list_state(ctx).await
    );
}

pub async fn tc_042_1_get_local_list_version_not_supported(ctx: Ctx) {
    // The charge point of this case has no local list: it answers -1 from the start.
    let sim = ctx
        .charger_answering(1, "GetLocalListVersion", json!({"listVersion": -1}))
        .await;
    let r = ctx.cmd("GetLocalListVersion", json!({})).await;
    assert_eq!(r["listVersion"], -1);
    let asked = sent(&sim, "GetLocalListVersion");
    assert_eq!(asked.last(), Some(&json!({})));
    if !ctx.is_shared() {
        assert_eq!(asked, vec![json!({})]);
    }
    assert_eq!(list_state(&ctx).await["chargerVersion"], -1);
    assert!(sent(&sim, "SendLocalList").is_empty());
}
case!(tc_042_1_get_local_list_version_not_supported, "TC_042_1");

pub async fn tc_042_2_get_local_list_version_empty(ctx: Ctx) {
    // The charge point of this case holds an empty list (0), whatever it was sent before.
    let sim = ctx
        .charger_answering(1, "GetLocalListVersion", json!({"listVersion": 0}))
        .await;
    let r = ctx.cmd("GetLocalListVersion", json!({})).await;
    assert_eq!(r["listVersion"], 0);
    assert_eq!(sent(&sim, "GetLocalListVersion").last(), Some(&json!({})));
    if !ctx.is_shared() {
        assert!(sent(&sim, "SendLocalList").is_empty(), "nothing to send");
    }
}
case!(tc_042_2_get_local_list_version_empty, "TC_042_2");

async fn refused(ctx: Ctx, answer: &str) {
    // The charge point of this case answers every SendLocalList so, from the start.
    let sim = ctx
        .charger_answering(1, "SendLocalList", json!({"status": answer}))
        .await;
    let before = list_state(&ctx).await["version"].as_i64().unwrap_or(0);
    ctx.tokens().await;
    let (s, b) = ctx
        .app
        .post(
            &format!("/api/admin/chargers/{}/local-list", ctx.device()),
            Some(&ctx.admin),
            json!({"full": true}),
        )
        .await;
    // 409: the background update was sending it right now (before issue 20, item 4).
    assert!(s == 200 || s == 409, "{b}");
    let l = wait_version(&ctx, before).await;
    assert_eq!(l["lastStatus"], answer);
    assert!(!sent(&sim, "SendLocalList").is_empty());
}

pub async fn tc_043_1_send_local_authorization_list_not_supported(ctx: Ctx) {
    refused(ctx, "NotSupported").await;
}
case!(
    tc_043_1_send_local_authorization_list_not_supported,
    "TC_043_1"
);

pub async fn tc_043_3_send_local_authorization_list_failed(ctx: Ctx) {
    refused(ctx, "Failed").await;
}
case!(tc_043_3_send_local_authorization_list_failed, "TC_043_3");

/// Back to back, as the tool runs TC_043_4 and TC_043_5 (issue 20, item 4): the operator's
/// SendLocalList goes in while csms's own update at connect is under way (the charge point takes
/// a second to store a list). Returns the charger and the highest listVersion it was sent so far.
async fn operator_at_connect(ctx: &Ctx) -> (Simulator, i64) {
    let sim = ctx
        .charger_with(1, |sim| sim.set_answer_delay("SendLocalList", Some(1000)))
        .await;
    ctx.app
        .wait_until(|| sim.received_count("SendLocalList") >= 1)
        .await;
    let highest = sent(&sim, "SendLocalList")
        .iter()
        .filter_map(|l| l["listVersion"].as_i64())
        .max()
        .unwrap_or(0);
    (sim, highest)
}

pub async fn tc_043_4_send_local_authorization_list_full(ctx: Ctx) {
    ctx.tokens().await;
    if ctx.is_shared() {
        let (sim, highest) = operator_at_connect(&ctx).await;
        let r = ctx
            .cmd(
                "SendLocalList",
                json!({"listVersion": highest + 1, "updateType": "Full", "localAuthorizationList": [
                    {"idTag": "VALID", "idTagInfo": {"status": "Accepted", "parentIdTag": "GROUP"}}
                ]}),
            )
            .await;
        assert_eq!(r["status"], "Accepted");
        // The tool's check: a Full update with a higher version, every entry with idTagInfo.
        let lists = sent(&sim, "SendLocalList");
        let full = lists.last().unwrap();
        assert_eq!(full["updateType"], "Full", "{full}");
        let v = full["listVersion"].as_i64().unwrap();
        assert!(v > highest, "{full}");
        let entries = full["localAuthorizationList"].as_array().unwrap();
        assert!(entries.iter().all(|e| e["idTagInfo"]["status"].is_string()));
        ctx.app.wait_until(|| sim.local_list().0 == v).await;
        return;
    }
    let sim = ctx.charger(1).await;
    let v = wait_in_step(&ctx, &sim).await;
    // The operator's list goes out as given (not csms's own).
    let payload = json!({"listVersion": v + 1, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "VALID", "idTagInfo": {"status": "Accepted", "parentIdTag": "GROUP"}},
        {"idTag": "BLOCKED", "idTagInfo": {"status": "Blocked"}}
    ]});
    let r = ctx.cmd("SendLocalList", payload.clone()).await;
    assert_eq!(r["status"], "Accepted");
    let lists = sent(&sim, "SendLocalList");
    assert_eq!(lists.last().unwrap(), &payload);
    assert_eq!(sim.local_list().0, v + 1);
    // csms records what the charger now holds.
    let (_, b) = ctx
        .app
        .get(
            &format!("/api/admin/chargers/{}/local-list", ctx.device()),
            Some(&ctx.admin),
        )
        .await;
    assert_eq!(b["localList"]["version"], v + 1, "{b}");
    assert_eq!(b["localList"]["entries"], 2, "{b}");
}
case!(tc_043_4_send_local_authorization_list_full, "TC_043_4");

pub async fn tc_043_5_send_local_authorization_list_differential(ctx: Ctx) {
    ctx.tokens().await;
    if ctx.is_shared() {
        let (sim, highest) = operator_at_connect(&ctx).await;
        let change = json!([{"idTag": "NEWCARD", "idTagInfo": {"status": "Accepted"}}]);
        let r = ctx
            .cmd(
                "SendLocalList",
                json!({"listVersion": highest + 1, "updateType": "Differential", "localAuthorizationList": change}),
            )
            .await;
        assert_eq!(r["status"], "Accepted");
        // The tool's check: a Differential update with only the change, and a higher version.
        let lists = sent(&sim, "SendLocalList");
        let diff = lists.last().unwrap();
        assert_eq!(
            diff["updateType"], "Differential",
            "the operator's Differential update did not reach the charger; its last SendLocalList: {diff}"
        );
        assert!(diff["listVersion"].as_i64().unwrap() > highest, "{diff}");
        assert_eq!(diff["localAuthorizationList"], change);
        return;
    }
    let sim = ctx.charger(1).await;
    let v = wait_in_step(&ctx, &sim).await;
    let (s, b) = ctx
        .app
        .post(
            "/api/admin/id-tags",
            Some(&ctx.admin),
            json!({"idTag": "NEWCARD"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    wait_version(&ctx, v + 1).await;
    let lists = sent(&sim, "SendLocalList");
    let diff = lists.last().unwrap();
    assert_eq!(diff["updateType"], "Differential");
    assert_eq!(diff["listVersion"], v + 1);
    assert_eq!(
        diff["localAuthorizationList"],
        json!([{"idTag": "NEWCARD", "idTagInfo": {"status": "Accepted"}}])
    );
}
case!(
    tc_043_5_send_local_authorization_list_differential,
    "TC_043_5"
);
