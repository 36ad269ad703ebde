//! Local Authorization List Management: csms computes each charger's list from the tokens, sends a
//! Full update first and then Differential ones with only the change and a higher listVersion,
//! resyncs when GetLocalListVersion disagrees, and records NotSupported / Failed answers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::dual;
use crate::helpers::TestApp;

fn sent_lists(sim: &csms::simulator::Simulator) -> Vec<Value> {
    sim.received()
        .into_iter()
        .filter(|(a, _)| a == "SendLocalList")
        .map(|(_, p)| p)
        .collect()
}

/// Waits until csms recorded that the charger accepted list version `v`.
async fn recorded(app: &TestApp, admin: &str, device: &str, v: i64) {
    for _ in 0..300 {
        let (_, b) = app
            .get(
                &format!("/api/admin/chargers/{device}/local-list"),
                Some(admin),
            )
            .await;
        if b["localList"]["version"] == v && b["localList"]["lastStatus"] == "Accepted" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{device}: list version {v} not recorded in 15 s");
}

async fn token(app: &TestApp, admin: &str, body: Value) {
    let (s, b) = app.post("/api/admin/id-tags", Some(admin), body).await;
    assert_eq!(s, 201, "{b}");
}

async fn full_then_differential_updates(app: TestApp) {
    let admin = app.admin().await;
    let c = app.customer("c@example.com", 10.0).await;
    token(
        &app,
        &admin,
        json!({"idTag": "FLEET1", "parentIdTag": "GROUP", "expiryDate": "2099-01-01T00:00:00Z"}),
    )
    .await;
    token(
        &app,
        &admin,
        json!({"idTag": "BLOCK1", "status": "Blocked"}),
    )
    .await;
    token(&app, &admin, json!({"idTag": "CUST1", "customerId": c.id})).await;
    token(
        &app,
        &admin,
        json!({"idTag": "CUST2", "customerId": c.id, "status": "Blocked"}),
    )
    .await;

    // After boot: GetLocalListVersion (0), then the whole list.
    let sim = app.charger("LL1", 1).await;
    app.wait_until(|| sim.local_list().0 == 1).await;
    let full = &sent_lists(&sim)[0];
    assert_eq!(full["updateType"], "Full");
    assert_eq!(full["listVersion"], 1);
    let entries = full["localAuthorizationList"].as_array().unwrap();
    let tags: Vec<&str> = entries
        .iter()
        .map(|e| e["idTag"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        vec!["BLOCK1", "CUST2", "FLEET1"],
        "a customer's accepted card is online only"
    );
    assert!(
        entries.iter().all(|e| e["idTagInfo"]["status"].is_string()),
        "every entry carries idTagInfo"
    );
    let fleet = entries.iter().find(|e| e["idTag"] == "FLEET1").unwrap();
    assert_eq!(
        fleet["idTagInfo"],
        json!({"status": "Accepted", "parentIdTag": "GROUP", "expiryDate": "2099-01-01T00:00:00.000Z"})
    );

    // A change: a Differential update with only that change and a higher listVersion.
    let (s, b) = app
        .request(
            Method::PUT,
            "/api/admin/id-tags/FLEET1",
            Some(&admin),
            Some(json!({"status": "Blocked"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    app.wait_until(|| sim.local_list().0 == 2).await;
    let diff = sent_lists(&sim)[1].clone();
    assert_eq!(diff["updateType"], "Differential");
    assert_eq!(diff["listVersion"], 2);
    assert_eq!(
        diff["localAuthorizationList"],
        json!([{"idTag": "FLEET1", "idTagInfo": {"status": "Blocked", "parentIdTag": "GROUP", "expiryDate": "2099-01-01T00:00:00.000Z"}}])
    );
    // A removal: the entry without idTagInfo.
    let (s, _) = app
        .request(
            Method::DELETE,
            "/api/admin/id-tags/BLOCK1",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    app.wait_until(|| sim.local_list().0 == 3).await;
    assert_eq!(
        sent_lists(&sim)[2]["localAuthorizationList"],
        json!([{"idTag": "BLOCK1"}])
    );
    let (_, held) = sim.local_list();
    let mut held: Vec<&String> = held.keys().collect();
    held.sort();
    assert_eq!(held, vec!["CUST2", "FLEET1"]);

    recorded(&app, &admin, "LL1", 3).await;
    let (s, b) = app
        .get("/api/admin/chargers/LL1/local-list", Some(&admin))
        .await;
    assert_eq!(s, 200, "{b}");
    let l = &b["localList"];
    assert_eq!(
        (
            l["version"].as_i64(),
            l["entries"].as_i64(),
            l["inSync"].as_bool()
        ),
        (Some(3), Some(2), Some(true)),
        "{b}"
    );
    assert_eq!(l["lastStatus"], "Accepted");
    // Nothing changed: nothing sent.
    let (s, b) = app
        .post(
            "/api/admin/chargers/LL1/local-list",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, b["result"]["updateType"].as_str()),
        (200, Some("None")),
        "{b}"
    );
    assert_eq!(sent_lists(&sim).len(), 3);

    // The charger lost its list: GetLocalListVersion disagrees, csms sends it all again.
    sim.clear_local_list();
    let (s, b) = app
        .post(
            "/api/admin/chargers/LL1/commands/GetLocalListVersion",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, b["response"]["listVersion"].as_i64()),
        (200, Some(0)),
        "{b}"
    );
    app.wait_until(|| sim.local_list().0 == 4).await;
    assert_eq!(sent_lists(&sim)[3]["updateType"], "Full");
    assert_eq!(sim.local_list().1.len(), 2);
}
dual!(full_then_differential_updates);

async fn refusals_are_recorded(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("LL2", 1).await;
    // No tokens: nothing is sent at boot.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(sent_lists(&sim).is_empty());
    assert_eq!(sim.received_count("GetLocalListVersion"), 0);
    token(&app, &admin, json!({"idTag": "FLEET2"})).await;
    app.wait_until(|| sim.local_list().0 == 1).await;
    recorded(&app, &admin, "LL2", 1).await;

    for answer in ["NotSupported", "Failed"] {
        sim.set_answer("SendLocalList", Some(json!({"status": answer})));
        let (s, b) = app
            .post(
                "/api/admin/chargers/LL2/local-list",
                Some(&admin),
                json!({"full": true}),
            )
            .await;
        assert_eq!(
            (s, b["result"]["status"].as_str()),
            (200, Some(answer)),
            "{b}"
        );
        let (_, b) = app
            .get("/api/admin/chargers/LL2/local-list", Some(&admin))
            .await;
        assert_eq!(b["localList"]["lastStatus"], answer);
        assert_eq!(
            b["localList"]["version"], 1,
            "only an accepted update counts"
        );
    }
    // Through the commands API (the payload's list is csms's own).
    let (s, b) = app
        .post(
            "/api/admin/chargers/LL2/commands/SendLocalList",
            Some(&admin),
            json!({"listVersion": 9, "updateType": "Full", "localAuthorizationList": []}),
        )
        .await;
    assert_eq!(
        (s, b["response"]["status"].as_str()),
        (200, Some("Failed")),
        "{b}"
    );
    // VersionMismatch to a Differential update: a Full one follows.
    sim.set_answer("SendLocalList", None);
    token(&app, &admin, json!({"idTag": "FLEET3"})).await;
    app.wait_until(|| sim.local_list().0 == 2).await;
    recorded(&app, &admin, "LL2", 2).await;
    sim.set_answer("SendLocalList", Some(json!({"status": "VersionMismatch"})));
    token(&app, &admin, json!({"idTag": "FLEET4"})).await;
    app.wait_until(|| {
        let l = sent_lists(&sim);
        l.len() >= 2
            && l[l.len() - 2]["updateType"] == "Differential"
            && l[l.len() - 1]["updateType"] == "Full"
    })
    .await;
    // A charger without local lists answers -1: recorded, nothing sent.
    sim.set_answer("GetLocalListVersion", Some(json!({"listVersion": -1})));
    let before = sent_lists(&sim).len();
    let (s, b) = app
        .post(
            "/api/admin/chargers/LL2/commands/GetLocalListVersion",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, b["response"]["listVersion"].as_i64()),
        (200, Some(-1)),
        "{b}"
    );
    let (_, b) = app
        .get("/api/admin/chargers/LL2/local-list", Some(&admin))
        .await;
    assert_eq!(b["localList"]["chargerVersion"], -1);
    assert_eq!(sent_lists(&sim).len(), before);
    let (s, _) = app
        .get("/api/admin/chargers/NOPE/local-list", Some(&admin))
        .await;
    assert_eq!(s, 404);
}
dual!(refusals_are_recorded);

/// Connects `device` (registered) with tokens known, so that csms checks its list at boot and
/// sends a Full update; the charger takes three seconds to answer SendLocalList. Returns once
/// that automatic update has reached the charger (and is not answered yet).
async fn automatic_update_under_way(app: &TestApp, device: &str) -> csms::simulator::Simulator {
    // The background round for the tokens just created passes first (else it might reach the
    // charger before its answers are slowed down).
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    app.register_charger(device, None).await;
    let sim = csms::simulator::Simulator::connect_only(app.sim_config(device, 1))
        .await
        .unwrap();
    sim.set_answer_delay("SendLocalList", Some(3000));
    sim.boot().await.unwrap();
    app.wait_until(|| sim.received_count("SendLocalList") == 1)
        .await;
    assert_eq!(sent_lists(&sim)[0]["updateType"], "Full");
    sim
}

/// Issue 20, item 4: an operator's SendLocalList and GetLocalListVersion while csms's own update
/// at connect is under way are queued behind it (or, for the version check, answered as the
/// charger answered), never refused with "already in progress".
async fn operator_commands_wait_for_the_automatic_update(app: TestApp) {
    let admin = app.admin().await;
    token(&app, &admin, json!({"idTag": "FLEET1"})).await;
    let sim = automatic_update_under_way(&app, "LLQ1").await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/LLQ1/commands/SendLocalList",
            Some(&admin),
            json!({"listVersion": 5, "updateType": "Full", "localAuthorizationList": []}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["response"]["status"], "Accepted", "{b}");
    // The automatic Full update first, answered; then the operator's, after it, as given.
    let lists = sent_lists(&sim);
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert_eq!(lists[0]["listVersion"], 1);
    assert_eq!(
        lists[1],
        json!({"listVersion": 5, "updateType": "Full", "localAuthorizationList": []})
    );
    assert_eq!(sim.local_list().0, 5);
    recorded(&app, &admin, "LLQ1", 5).await;

    // The version check: csms's own check at connect and the operator's both find a version
    // other than the one recorded; csms resyncs once, and the operator gets the charger's answer
    // (it was refused with "already in progress" when csms's resync took the list first).
    token(&app, &admin, json!({"idTag": "FLEET2"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    app.register_charger("LLQ2", None).await;
    let sim = csms::simulator::Simulator::connect_only(app.sim_config("LLQ2", 1))
        .await
        .unwrap();
    sim.set_answer("GetLocalListVersion", Some(json!({"listVersion": 0})));
    sim.set_answer_delay("GetLocalListVersion", Some(1000));
    sim.set_answer_delay("SendLocalList", Some(1000));
    sim.boot().await.unwrap();
    app.wait_until(|| sim.received_count("GetLocalListVersion") == 1)
        .await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/LLQ2/commands/GetLocalListVersion",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["response"]["listVersion"], 0, "{b}");
    assert_eq!(sim.received_count("GetLocalListVersion"), 2);
    app.wait_until(|| sim.local_list().0 == 1).await;
    assert_eq!(sent_lists(&sim).len(), 1, "one resync");
}
dual!(operator_commands_wait_for_the_automatic_update);

/// `CSMS_LOCAL_LIST_AUTO_SYNC=false`: csms sends no list by itself (not at boot, not after a token
/// changes); the operator's commands still do.
async fn automatic_sync_can_be_turned_off(app: TestApp) {
    let admin = app.admin().await;
    token(&app, &admin, json!({"idTag": "FLEET1"})).await;
    let sim = app.charger("LLOFF", 1).await;
    token(&app, &admin, json!({"idTag": "FLEET2"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(sim.received_count("GetLocalListVersion"), 0);
    assert!(sent_lists(&sim).is_empty());
    let (s, b) = app
        .post(
            "/api/admin/chargers/LLOFF/commands/SendLocalList",
            Some(&admin),
            json!({"listVersion": 1, "updateType": "Full", "localAuthorizationList": []}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["response"]["status"], "Accepted");
    assert_eq!(sent_lists(&sim).len(), 1);
    let (s, b) = app
        .post(
            "/api/admin/chargers/LLOFF/commands/GetLocalListVersion",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["response"]["listVersion"], 1);
    assert_eq!(sent_lists(&sim).len(), 1, "no resync of its own");
}
dual!(automatic_sync_can_be_turned_off, |s| s
    .local_list_auto_sync =
    false);
