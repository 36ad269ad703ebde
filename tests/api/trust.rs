//! Trust at the edges (issue 19): no customer ever pays more than the amount they authorized, an
//! operator's action never undoes a money invariant, and a charger's authorization cache cannot
//! start a wallet-paid idTag offline. Every scenario ends with the audit, which reconciles each
//! session's energy x price with what the customer paid plus what was written off.

use std::time::Duration;

use csms::simulator::RemoteStop;
use serde_json::{Value, json};

use crate::dual;
use crate::helpers::{Customer, TestApp};

async fn session(app: &TestApp, token: &str, sid: &str) -> Value {
    let (s, body) = app
        .get(&format!("/api/user/charging/sessions/{sid}"), Some(token))
        .await;
    assert_eq!(s, 200, "{body}");
    body["session"].clone()
}

/// Waits (up to 20 s) until an async condition holds.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not reached in 20 s: {what}");
}

/// The write-offs (newest first) and their total, for one charger.
async fn write_offs(app: &TestApp, device: &str) -> (Vec<Value>, f64) {
    let (s, body) = app
        .get("/api/admin/write-offs", Some(&app.admin().await))
        .await;
    assert_eq!(s, 200, "{body}");
    let rows: Vec<Value> = body["writeOffs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["deviceId"] == device)
        .cloned()
        .collect();
    let total: f64 = rows.iter().map(|w| w["amount"].as_f64().unwrap()).sum();
    (rows, (total * 100.0_f64).round() / 100.0)
}

async fn started(app: &TestApp, c: &Customer, device: &str, amount: f64) -> String {
    let (s, body) = app.start(&c.token, device, 1, amount).await;
    assert_eq!(s, 200, "{body}");
    body["session"]["sessionId"].as_str().unwrap().to_string()
}

/// ₹100 in the wallet, `amount: 10` at start; the charger rejects every RemoteStop (the automatic one
/// at the limit and the re-sent ones) and stops only after 2 kWh (₹30). The customer pays ₹10: the
/// ₹20 beyond is the operator's write-off, with its reason. (Before: ₹30 was taken from the wallet.)
async fn ignored_stops_never_charge_beyond_the_authorized_amount(app: TestApp) {
    let sim = app.charger("CAP1", 1).await;
    sim.set_remote_stop(RemoteStop::Reject);
    let c = app.customer("a@example.com", 100.0).await;
    let sid = started(&app, &c, "CAP1", 10.0).await;
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    sim.add_energy(tx, 1000.0).await.unwrap(); // ₹15: beyond the ₹10, the automatic stop
    app.wait_until(|| sim.received_count("RemoteStopTransaction") >= 1)
        .await;
    sim.add_energy(tx, 1000.0).await.unwrap(); // ₹30 in all
    app.wait_until(|| sim.received_count("RemoteStopTransaction") >= 2)
        .await; // re-sent, rejected again
    sim.stop_transaction(tx, "Local").await.unwrap();
    let s = session(&app, &c.token, &sid).await;
    assert_eq!(s["status"], "completed");
    assert_eq!(s["energyKwh"], 2.0);
    assert_eq!(s["cost"], 10.0, "{s}");
    assert_eq!(
        app.balance(&c.token).await,
        90.0,
        "exactly the ₹10 authorized"
    );
    let (rows, total) = write_offs(&app, "CAP1").await;
    assert_eq!(total, 20.0, "{rows:?}");
    assert_eq!(
        rows[0]["reason"],
        "Energy beyond the amount the customer authorized"
    );
    assert_eq!(rows[0]["sessionId"], sid.as_str());
    app.assert_money_conserved().await;
}
dual!(
    ignored_stops_never_charge_beyond_the_authorized_amount,
    |s| s.stop_retry_secs = 1
);

/// A reboot loses the transaction: it is settled from the last reading (₹3 of the ₹15 authorized)
/// and ₹12 refunded. The late StopTransaction shows 2 kWh (₹30): the customer pays what is left of
/// the ₹15 they authorized, as far as the wallet holds it, and the rest is written off. The wallet
/// holds only ₹7 then (another session holds ₹10), so ₹7 is charged, ₹5 written off as the wallet's
/// shortfall and ₹15 as beyond the authorized amount. (Before: up to the wallet's whole balance.)
async fn late_stop_after_an_orphan_settlement_stays_within_the_authorized_amount(app: TestApp) {
    let sim = app.charger("CAP2", 2).await;
    let c = app.customer("a@example.com", 20.0).await;
    let sid = started(&app, &c, "CAP2", 15.0).await;
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    sim.add_energy(tx, 200.0).await.unwrap(); // ₹3
    sim.add_energy_without_report(1, 1800.0); // 2 kWh in all: ₹30
    sim.reboot(true).await.unwrap();
    eventually("settled after the reboot", || async {
        session(&app, &c.token, &sid).await["status"] == "completed"
    })
    .await;
    assert_eq!(app.balance(&c.token).await, 17.0, "₹3 paid, ₹12 refunded");
    // Another session holds ₹10 of the wallet.
    let (s, body) = app.start(&c.token, "CAP2", 2, 10.0).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(app.balance(&c.token).await, 7.0);
    sim.send_lost_stop(tx).await.unwrap();
    let s1 = session(&app, &c.token, &sid).await;
    assert_eq!(s1["energyKwh"], 2.0);
    assert_eq!(s1["cost"], 10.0, "₹3 + ₹7 charged late: {s1}");
    assert_eq!(app.balance(&c.token).await, 0.0);
    let (rows, total) = write_offs(&app, "CAP2").await;
    assert_eq!(total, 20.0, "₹30 - ₹10 paid: {rows:?}");
    let reasons: Vec<(&str, f64)> = rows
        .iter()
        .map(|w| (w["reason"].as_str().unwrap(), w["amount"].as_f64().unwrap()))
        .collect();
    assert!(
        reasons.contains(&("Energy beyond the amount the customer authorized", 15.0))
            && reasons.contains(&(
                "Late StopTransaction: the wallet could not cover the energy",
                5.0
            )),
        "{reasons:?}"
    );
    // The same StopTransaction again moves nothing.
    sim.send_lost_stop(tx).await.unwrap();
    assert_eq!(write_offs(&app, "CAP2").await.1, 20.0);
    app.assert_money_conserved().await;
}
dual!(late_stop_after_an_orphan_settlement_stays_within_the_authorized_amount);

/// Settled with energy beyond the hold (written off at once), then a late StopTransaction shows
/// more: only the increment is written off, and nothing is charged (the hold already paid the
/// authorized amount). Before, the first write-off was counted again and charged to the wallet.
async fn late_stop_after_a_write_off_counts_it_once(app: TestApp) {
    let sim = app.charger("CAP3", 1).await;
    sim.set_remote_stop(RemoteStop::Ignore);
    let c = app.customer("a@example.com", 100.0).await;
    let sid = started(&app, &c, "CAP3", 15.0).await;
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    sim.add_energy(tx, 2000.0).await.unwrap(); // ₹30 metered
    sim.add_energy_without_report(1, 500.0); // ₹37.50 in all
    sim.reboot(true).await.unwrap();
    eventually("settled after the reboot", || async {
        session(&app, &c.token, &sid).await["status"] == "completed"
    })
    .await;
    assert_eq!(app.balance(&c.token).await, 85.0);
    assert_eq!(write_offs(&app, "CAP3").await.1, 15.0);
    sim.send_lost_stop(tx).await.unwrap();
    let s1 = session(&app, &c.token, &sid).await;
    assert_eq!(s1["energyKwh"], 2.5);
    assert_eq!(s1["cost"], 15.0);
    assert_eq!(app.balance(&c.token).await, 85.0, "nothing charged late");
    assert_eq!(write_offs(&app, "CAP3").await.1, 22.5, "₹15 + ₹7.50");
    app.assert_money_conserved().await;
}
dual!(late_stop_after_a_write_off_counts_it_once);

/// The charger accepts RemoteStart after csms gave up (refunded); its StartTransaction re-opens the
/// session with a new hold of the same ₹10. It ignores every stop and delivers ₹30 of energy: the
/// customer pays ₹10 in all.
async fn late_start_reopened_pays_at_most_the_authorized_amount(app: TestApp) {
    app.register_charger("CAP4", None).await;
    let mut cfg = app.sim_config("CAP4", 1);
    cfg.remote_start_delay_ms = Some(1_500); // the start API waits 1 s
    cfg.remote_stop = RemoteStop::Reject;
    let sim = app.connect(cfg).await;
    let c = app.customer("a@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "CAP4", 1, 10.0).await;
    assert_eq!(s, 504, "{body}");
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    eventually("a new hold", || async {
        app.balance(&c.token).await == 90.0
    })
    .await;
    sim.add_energy(tx, 2000.0).await.unwrap();
    sim.stop_transaction(tx, "Local").await.unwrap();
    assert_eq!(app.balance(&c.token).await, 90.0);
    assert_eq!(write_offs(&app, "CAP4").await.1, 20.0);
    app.assert_money_conserved().await;
}
dual!(
    late_start_reopened_pays_at_most_the_authorized_amount,
    |s| {
        s.remote_start_timeout_secs = 1;
        s.stop_retry_secs = 1;
    }
);

/// An operator force-closes a running session whose charger ignores stops: the stop is re-sent
/// (not sent once), the energy delivered after the close is written off as it is reported (the
/// customer pays nothing more), and once the charger stops, nothing is sent any more.
async fn force_closed_session_is_stopped_until_the_charger_stops(app: TestApp) {
    let sim = app.charger("FC1", 1).await;
    sim.set_remote_stop(RemoteStop::Ignore);
    let c = app.customer("a@example.com", 100.0).await;
    let sid = started(&app, &c, "FC1", 50.0).await;
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    sim.add_energy(tx, 1000.0).await.unwrap(); // ₹15
    let admin = app.admin().await;
    let (s, body) = app
        .post(
            &format!("/api/admin/sessions/{sid}/close"),
            Some(&admin),
            json!({"reason": "stuck"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(app.balance(&c.token).await, 85.0);
    // Asked again and again while it ignores the stops.
    app.wait_until(|| sim.received_count("RemoteStopTransaction") >= 3)
        .await;
    // It goes on charging: what it reports after the close is written off, never charged.
    sim.add_energy(tx, 1000.0).await.unwrap();
    eventually("written off as reported", || async {
        write_offs(&app, "FC1").await.1 == 15.0
    })
    .await;
    let (rows, _) = write_offs(&app, "FC1").await;
    assert_eq!(
        rows[0]["reason"],
        "Energy after an operator closed the session"
    );
    assert_eq!(app.balance(&c.token).await, 85.0);
    sim.add_energy(tx, 500.0).await.unwrap();
    sim.set_remote_stop(RemoteStop::Accept);
    app.wait_until(|| sim.open_transactions().is_empty()).await;
    let s1 = session(&app, &c.token, &sid).await;
    assert_eq!(s1["energyKwh"], 2.5);
    assert_eq!(s1["cost"], 15.0, "{s1}");
    assert_eq!(write_offs(&app, "FC1").await.1, 22.5);
    assert_eq!(app.balance(&c.token).await, 85.0);
    // Stopped: no more RemoteStopTransaction.
    let sent = sim.received_count("RemoteStopTransaction");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sim.received_count("RemoteStopTransaction"), sent);
    app.assert_money_conserved().await;
}
dual!(
    force_closed_session_is_stopped_until_the_charger_stops,
    |s| {
        s.stop_retry_secs = 1;
        s.ocpp_call_timeout_secs = 1;
    }
);

/// A force-closed transaction the charger lost in a reboot is not asked to stop forever: the
/// charger's boot and the connector reported free end it.
async fn force_closed_transaction_lost_in_a_reboot_is_no_longer_stopped(app: TestApp) {
    let sim = app.charger("FC2", 1).await;
    sim.set_remote_stop(RemoteStop::Reject);
    let c = app.customer("a@example.com", 100.0).await;
    let sid = started(&app, &c, "FC2", 50.0).await;
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let admin = app.admin().await;
    let (s, body) = app
        .post(
            &format!("/api/admin/sessions/{sid}/close"),
            Some(&admin),
            json!({"reason": "stuck"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    app.wait_until(|| sim.received_count("RemoteStopTransaction") >= 2)
        .await;
    sim.reboot(true).await.unwrap(); // boots and reports the connector Available
    let must_stop = || {
        app.db(|c| {
            use csms::infra::db::schema::ocpp_transactions as t;
            use diesel::prelude::*;
            t::table
                .filter(t::stop_next_at.is_not_null())
                .count()
                .get_result::<i64>(c)
                .unwrap()
        })
    };
    eventually("no longer asked to stop", || async {
        must_stop().await == 0
    })
    .await;
    // An attempt claimed just before may still be on its way (the call timeout is 1 s).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = sim.received_count("RemoteStopTransaction");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sim.received_count("RemoteStopTransaction"), sent);
    app.assert_money_conserved().await;
}
dual!(
    force_closed_transaction_lost_in_a_reboot_is_no_longer_stopped,
    |s| {
        s.stop_retry_secs = 1;
        s.ocpp_call_timeout_secs = 1;
    }
);

/// An operator force-closes a start the charger accepted but has not begun: when the driver plugs in
/// later, the StartTransaction with its idTag is refused and stopped, and the wallet is not debited
/// again. (Before: `closed_by_operator` was resumable, and the session was re-opened with a new hold.)
async fn force_closed_start_is_never_resumed(app: TestApp) {
    app.register_charger("FC3", None).await;
    let mut cfg = app.sim_config("FC3", 1);
    cfg.no_start_transaction = true;
    let sim = app.connect(cfg).await;
    let c = app.customer("a@example.com", 100.0).await;
    let sid = started(&app, &c, "FC3", 50.0).await;
    let tag = session(&app, &c.token, &sid).await["idTag"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = app.admin().await;
    let (s, body) = app
        .post(
            &format!("/api/admin/sessions/{sid}/close"),
            Some(&admin),
            json!({"reason": "customer called: cancel it"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["session"]["status"], "failed");
    assert_eq!(body["session"]["resumable"], false);
    assert_eq!(app.balance(&c.token).await, 100.0);
    let answer = sim
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": csms::protocol::ocpp16::messages::now_timestamp()}),
        )
        .await
        .unwrap();
    assert_eq!(answer["idTagInfo"]["status"], "Invalid", "{answer}");
    assert_eq!(app.balance(&c.token).await, 100.0, "not debited again");
    app.assert_money_conserved().await;
}
dual!(force_closed_start_is_never_resumed);

/// A start whose answer was lost (timeout) could still be begun by the charger, which holds its
/// one-time idTag: the customer cancels it, and the next StartTransaction with that idTag is refused
/// instead of charging their wallet (the next driver to plug in is not billed to them).
async fn customer_cancels_a_failed_start_that_could_resume(app: TestApp) {
    app.register_charger("CAN1", None).await;
    let mut cfg = app.sim_config("CAN1", 1);
    cfg.no_start_transaction = true;
    cfg.remote_start_delay_ms = Some(1_500);
    let sim = app.connect(cfg).await;
    let c = app.customer("a@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "CAN1", 1, 50.0).await;
    assert_eq!(s, 504, "{body}");
    let s1 = &app.sessions(&c.token).await[0];
    let sid = s1["sessionId"].as_str().unwrap().to_string();
    let tag = s1["idTag"].as_str().unwrap().to_string();
    assert_eq!(s1["status"], "failed");
    assert_eq!(s1["resumable"], true, "{s1}");
    let (s, body) = app
        .post(
            "/api/user/charging/stop",
            Some(&c.token),
            json!({"sessionId": sid}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["message"],
        "Start cancelled: the charger can no longer begin this session on your wallet"
    );
    assert_eq!(body["session"]["resumable"], false);
    // Cancelling twice: it has ended.
    let (s, _) = app
        .post(
            "/api/user/charging/stop",
            Some(&c.token),
            json!({"sessionId": sid}),
        )
        .await;
    assert_eq!(s, 400);
    let auth = sim.call("Authorize", json!({"idTag": tag})).await.unwrap();
    assert_eq!(auth["idTagInfo"]["status"], "Invalid");
    let answer = sim
        .call(
            "StartTransaction",
            json!({"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": csms::protocol::ocpp16::messages::now_timestamp()}),
        )
        .await
        .unwrap();
    assert_eq!(answer["idTagInfo"]["status"], "Invalid", "{answer}");
    assert_eq!(app.balance(&c.token).await, 100.0);
    app.assert_money_conserved().await;
}
dual!(customer_cancels_a_failed_start_that_could_resume, |s| {
    s.remote_start_timeout_secs = 1;
});

/// An operator rejects (or sets back to Pending) a charger in the middle of a session: it may not
/// start new ones, but what it reports about the running one is still taken and billed, and the
/// customer's stop still reaches it.
async fn rejected_charger_mid_session_is_still_billed(app: TestApp) {
    let sim = app.charger("REJ1", 1).await;
    let c = app.customer("a@example.com", 100.0).await;
    let sid = started(&app, &c, "REJ1", 50.0).await;
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    let admin = app.admin().await;
    let (s, body) = app.get("/api/admin/chargers/REJ1", Some(&admin)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["charger"]["openSessions"], 1, "{body}");
    for status in ["pending", "rejected"] {
        let (s, body) = app
            .request(
                reqwest::Method::PUT,
                "/api/admin/chargers/REJ1/registration",
                Some(&admin),
                Some(json!({"status": status})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        sim.add_energy(tx, 500.0).await.expect("MeterValues taken");
        sim.status(1, "SuspendedEV").await.expect("status taken");
    }
    // Nothing else is taken from it.
    let err = sim.call("Heartbeat", json!({})).await.unwrap_err();
    assert!(err.to_string().contains("SecurityError"), "{err}");
    assert_eq!(session(&app, &c.token, &sid).await["energyKwh"], 1.0);
    // The customer's stop goes out; the StopTransaction is billed.
    let (s, body) = app
        .post(
            "/api/user/charging/stop",
            Some(&c.token),
            json!({"sessionId": sid}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    app.wait_until(|| sim.open_transactions().is_empty()).await;
    eventually("settled", || async {
        session(&app, &c.token, &sid).await["status"] == "completed"
    })
    .await;
    assert_eq!(app.balance(&c.token).await, 85.0);
    app.assert_money_conserved().await;
}
dual!(rejected_charger_mid_session_is_still_billed);

/// Wallet-paid idTags are never answered as if a charger could keep them: a customer's own idTag
/// and an app start's one-time idTag are Accepted with an expiryDate at most a minute ahead; a
/// fleet card keeps its own (none).
async fn wallet_tags_expire_soon_in_the_chargers_cache(app: TestApp) {
    let sim = app.charger("EXP1", 2).await;
    let c = app.customer("a@example.com", 100.0).await;
    let soon = |info: &Value| {
        let t = chrono::DateTime::parse_from_rfc3339(info["expiryDate"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
        let ahead = t - chrono::Utc::now();
        ahead > chrono::Duration::seconds(30) && ahead <= chrono::Duration::seconds(61)
    };
    let auth = sim
        .call("Authorize", json!({"idTag": c.id_tag}))
        .await
        .unwrap();
    assert_eq!(auth["idTagInfo"]["status"], "Accepted");
    assert!(soon(&auth["idTagInfo"]), "{auth}");
    let tx = sim.start_transaction(2, &c.id_tag).await.unwrap();
    sim.stop_transaction(tx, "Local").await.unwrap();
    let sid = started(&app, &c, "EXP1", 10.0).await;
    let tag = session(&app, &c.token, &sid).await["idTag"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let auth = sim.call("Authorize", json!({"idTag": tag})).await.unwrap();
    assert_eq!(auth["idTagInfo"]["status"], "Accepted");
    assert!(soon(&auth["idTagInfo"]), "{auth}");
    let admin = app.admin().await;
    let (s, body) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "FLEET1"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let auth = sim
        .call("Authorize", json!({"idTag": "FLEET1"}))
        .await
        .unwrap();
    assert_eq!(auth["idTagInfo"], json!({"status": "Accepted"}));
    app.assert_money_conserved().await;
}
dual!(wallet_tags_expire_soon_in_the_chargers_cache);

/// A charger whose authorization cache is on is told to turn it off, the first time a wallet-paid
/// idTag is accepted there (not at boot: until then it caches none, and a compliance run with
/// fleet cards sees no call of csms's own); asked once; an operator who turns it on again is not
/// overruled.
async fn chargers_authorization_cache_is_turned_off_once(app: TestApp) {
    let sim = app.charger("CACHE1", 1).await;
    sim.set_config_key("AuthorizationCacheEnabled", "true");
    let admin = app.admin().await;
    let (s, body) = app
        .post(
            "/api/admin/id-tags",
            Some(&admin),
            json!({"idTag": "FLEET2"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    sim.call("Authorize", json!({"idTag": "FLEET2"}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sim.received_count("GetConfiguration"),
        0,
        "nothing asked yet"
    );
    let c = app.customer("a@example.com", 100.0).await;
    sim.call("Authorize", json!({"idTag": c.id_tag}))
        .await
        .unwrap();
    app.wait_until(|| sim.received_count("ChangeConfiguration") == 1)
        .await;
    let change = sim
        .received()
        .into_iter()
        .find(|(a, _)| a == "ChangeConfiguration")
        .unwrap()
        .1;
    assert_eq!(
        change,
        json!({"key": "AuthorizationCacheEnabled", "value": "false"})
    );
    let cache = || {
        app.db(|c| {
            use csms::infra::db::schema::chargers;
            use diesel::prelude::*;
            chargers::table
                .filter(chargers::device_id.eq("CACHE1"))
                .select(chargers::auth_cache)
                .first::<Option<String>>(c)
                .unwrap()
        })
    };
    eventually("recorded", || async {
        cache().await.as_deref() == Some("off")
    })
    .await;
    // Asked once: not again at the next wallet tag, nor after a reboot.
    sim.boot().await.unwrap();
    started(&app, &c, "CACHE1", 10.0).await;
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sim.received_count("GetConfiguration"), 1);
    // The operator turns it on: theirs from now on.
    let (s, body) = app
        .post(
            "/api/admin/chargers/CACHE1/commands/ChangeConfiguration",
            Some(&admin),
            json!({"key": "AuthorizationCacheEnabled", "value": "true"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(cache().await.as_deref(), Some("operator"));
    sim.boot().await.unwrap();
    sim.call("Authorize", json!({"idTag": c.id_tag}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sim.received_count("ChangeConfiguration"),
        2,
        "only the operator's"
    );
    assert_eq!(sim.received_count("GetConfiguration"), 1);
    // A charger whose cache is off is only asked; after it boots with another firmware (an update
    // may reset its configuration) it is asked again.
    let other = app.charger("CACHE2", 1).await;
    other.set_config_key("AuthorizationCacheEnabled", "false");
    let d = app.customer("d@example.com", 100.0).await;
    other
        .call("Authorize", json!({"idTag": d.id_tag}))
        .await
        .unwrap();
    app.wait_until(|| other.received_count("GetConfiguration") == 1)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        other.received_count("ChangeConfiguration"),
        0,
        "already off"
    );
    other
        .call(
            "BootNotification",
            json!({"chargePointVendor": "csms", "chargePointModel": "Simulator", "firmwareVersion": "9.9.9"}),
        )
        .await
        .unwrap();
    other
        .call("Authorize", json!({"idTag": d.id_tag}))
        .await
        .unwrap();
    app.wait_until(|| other.received_count("GetConfiguration") == 2)
        .await;
}
dual!(chargers_authorization_cache_is_turned_off_once);

/// Which failed starts a late StartTransaction may resume, decided in one place.
#[test]
fn which_failed_starts_may_resume() {
    use csms::domain::charging::Failure;
    let resumable: Vec<&str> = Failure::ALL
        .into_iter()
        .filter(|f| f.may_resume())
        .map(Failure::as_str)
        .collect();
    assert_eq!(
        resumable,
        vec![
            "timeout",
            "unavailable",
            "offline",
            "interrupted",
            "charger_rebooted",
            "no_start_transaction"
        ]
    );
    for f in Failure::ALL {
        assert_eq!(Failure::parse(f.as_str()), Some(f));
    }
}
