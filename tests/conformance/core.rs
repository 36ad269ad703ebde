//! Core profile (34 cases).

use csms::ocpp::schemas::Kind;
use csms::simulator::{RemoteStart, RemoteStop, Simulator};
use serde_json::json;

use crate::helpers::TestApp;
use crate::{
    answered, call, cmd, dual, eventually, minutes_ago, sent, tokens, transaction, transactions,
    valid,
};

async fn start(sim: &Simulator, connector: u32, tag: &str) -> i64 {
    let tx = sim.start_transaction(connector, tag).await.unwrap();
    assert!(tx > 0);
    tx
}

async fn tc_001_cold_boot_charge_point(app: TestApp) {
    app.register_charger("TC001", None).await;
    let sim = Simulator::connect_only(app.sim_config("TC001", 2))
        .await
        .unwrap();
    let boot = call(
        &sim,
        "BootNotification",
        json!({"chargePointVendor": "OCA", "chargePointModel": "TC001"}),
    )
    .await;
    assert_eq!(boot["status"], "Accepted");
    assert!(boot["interval"].as_i64().unwrap() > 0);
    assert!(csms::ocpp::messages::parse_timestamp(boot["currentTime"].as_str().unwrap()).is_some());
    for connector in 0..=2 {
        let a = call(
            &sim,
            "StatusNotification",
            json!({"connectorId": connector, "errorCode": "NoError", "status": "Available"}),
        )
        .await;
        assert_eq!(a, json!({}));
    }
    assert!(app.state.registry.is_online("TC001"));
}
dual!(tc_001_cold_boot_charge_point);

async fn tc_003_regular_charging_session_plugin_first(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC003", 1).await;
    sim.status(1, "Preparing").await.unwrap();
    let a = call(&sim, "Authorize", json!({"idTag": "VALID"})).await;
    assert_eq!(a["idTagInfo"]["status"], "Accepted");
    let tx = start(&sim, 1, "VALID").await;
    assert_eq!(sim.start_answers()[0].1, "Accepted");
    sim.add_energy(tx, 500.0).await.unwrap();
    let stop = sim.stop_transaction(tx, "Local").await.unwrap();
    valid("StopTransaction", Kind::Response, &stop);
    assert_eq!(
        transaction(&app, tx).await,
        (true, Some("Local".into()), None)
    );
    let (_, b) = app.get("/api/admin/sessions", Some(&admin)).await;
    assert_eq!(b["sessions"][0]["status"], "completed", "{b}");
    assert_eq!(b["sessions"][0]["energyKwh"], 0.5);
}
dual!(tc_003_regular_charging_session_plugin_first);

async fn tc_004_1_regular_charging_session_identification_first(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC0041", 1).await;
    let a = call(&sim, "Authorize", json!({"idTag": "VALID"})).await;
    assert_eq!(a["idTagInfo"]["status"], "Accepted");
    assert_eq!(a["idTagInfo"]["parentIdTag"], "GROUP");
    let tx = start(&sim, 1, "VALID").await;
    assert_eq!(sim.start_answers()[0].1, "Accepted");
    sim.stop_transaction(tx, "Local").await.unwrap();
    assert!(transaction(&app, tx).await.0);
}
dual!(tc_004_1_regular_charging_session_identification_first);

async fn tc_004_2_identification_first_connection_timeout(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC0042", 1).await;
    let a = call(&sim, "Authorize", json!({"idTag": "VALID"})).await;
    assert_eq!(a["idTagInfo"]["status"], "Accepted");
    sim.status(1, "Preparing").await.unwrap();
    sim.status(1, "Available").await.unwrap(); // no cable within ConnectionTimeOut
    assert_eq!(transactions(&app).await, 0, "nothing opened");
    let (_, b) = app.get("/api/admin/sessions", Some(&admin)).await;
    assert_eq!(b["sessions"], json!([]));
}
dual!(tc_004_2_identification_first_connection_timeout);

async fn tc_005_1_ev_side_disconnected(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC0051", 1).await;
    let tx = start(&sim, 1, "VALID").await;
    sim.add_energy(tx, 1000.0).await.unwrap();
    sim.stop_transaction(tx, "EVDisconnected").await.unwrap();
    assert_eq!(
        transaction(&app, tx).await,
        (true, Some("EVDisconnected".into()), None)
    );
    let (_, b) = app.get("/api/admin/sessions", Some(&admin)).await;
    assert_eq!(b["sessions"][0]["status"], "completed");
    assert_eq!(b["sessions"][0]["stopReason"], "EVDisconnected");
    assert_eq!(
        b["sessions"][0]["cost"], 15.0,
        "1 kWh at the default tariff"
    );
}
dual!(tc_005_1_ev_side_disconnected);

async fn tc_007_regular_start_charging_session_cached_id(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC007", 1).await;
    // No Authorize: the charger knew the tag from its cache.
    let tx = start(&sim, 1, "valid").await;
    assert_eq!(sim.start_answers()[0], (tx, "Accepted".into()));
    sim.stop_transaction(tx, "Local").await.unwrap();
}
dual!(tc_007_regular_start_charging_session_cached_id);

async fn remote_start(app: &TestApp, admin: &str, device: &str) -> (Simulator, i64) {
    tokens(app, admin).await;
    let sim = app.charger(device, 1).await;
    let r = cmd(
        app,
        admin,
        device,
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "VALID"}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    let sent = sent(&sim, "RemoteStartTransaction");
    assert_eq!(sent, vec![json!({"connectorId": 1, "idTag": "VALID"})]);
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    assert_eq!(sim.start_answers()[0], (tx, "Accepted".into()));
    (sim, tx)
}

async fn tc_010_remote_start_charging_session_cable_plugged_in_first(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC010", 1).await;
    sim.status(1, "Preparing").await.unwrap();
    let r = cmd(
        &app,
        &admin,
        "TC010",
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "VALID"}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    assert_eq!(sim.start_answers()[0], (tx, "Accepted".into()));
    sim.stop_transaction(tx, "Local").await.unwrap();
}
dual!(tc_010_remote_start_charging_session_cable_plugged_in_first);

async fn tc_011_1_remote_start_charging_session_remote_start_first(app: TestApp) {
    let admin = app.admin().await;
    let (sim, tx) = remote_start(&app, &admin, "TC0111").await;
    sim.stop_transaction(tx, "Local").await.unwrap();
    assert!(transaction(&app, tx).await.0);
}
dual!(tc_011_1_remote_start_charging_session_remote_start_first);

async fn tc_011_2_remote_start_charging_session_time_out(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    app.register_charger("TC0112", None).await;
    let mut cfg = app.sim_config("TC0112", 1);
    cfg.no_start_transaction = true;
    let sim = app.connect(cfg).await;
    let r = cmd(
        &app,
        &admin,
        "TC0112",
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "VALID"}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    sim.status(1, "Preparing").await.unwrap();
    sim.status(1, "Available").await.unwrap(); // no cable in time
    assert_eq!(
        transactions(&app).await,
        0,
        "nothing opened, nothing billed"
    );
    app.assert_money_conserved().await;
}
dual!(tc_011_2_remote_start_charging_session_time_out);

async fn tc_012_remote_stop_charging_session(app: TestApp) {
    let admin = app.admin().await;
    let (sim, tx) = remote_start(&app, &admin, "TC012").await;
    let r = cmd(
        &app,
        &admin,
        "TC012",
        "RemoteStopTransaction",
        json!({"transactionId": tx}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(
        sent(&sim, "RemoteStopTransaction"),
        vec![json!({"transactionId": tx})]
    );
    eventually("stopped", || async { transaction(&app, tx).await.0 }).await;
    assert_eq!(transaction(&app, tx).await.1.as_deref(), Some("Remote"));
}
dual!(tc_012_remote_stop_charging_session);

async fn reset(app: TestApp, kind: &str, device: &str, reason: &str) {
    let admin = app.admin().await;
    let (sim, tx) = remote_start(&app, &admin, device).await;
    let r = cmd(&app, &admin, device, "Reset", json!({"type": kind})).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "Reset"), vec![json!({"type": kind})]);
    // The charger stops its transaction, reboots, and boots again.
    let stop = sim.stop_transaction(tx, reason).await.unwrap();
    valid("StopTransaction", Kind::Response, &stop);
    sim.reboot(false).await.unwrap();
    assert_eq!(
        transaction(&app, tx).await,
        (true, Some(reason.into()), None)
    );
    assert!(app.state.registry.is_online(device));
}

async fn tc_013_hard_reset(app: TestApp) {
    reset(app, "Hard", "TC013", "HardReset").await;
}
dual!(tc_013_hard_reset);

async fn tc_014_soft_reset(app: TestApp) {
    reset(app, "Soft", "TC014", "SoftReset").await;
}
dual!(tc_014_soft_reset);

async fn tc_017_1_unlock_connector_no_charging_session_not_fixed_cable(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0171", 1).await;
    let r = cmd(
        &app,
        &admin,
        "TC0171",
        "UnlockConnector",
        json!({"connectorId": 1}),
    )
    .await;
    assert_eq!(r["status"], "Unlocked");
    assert_eq!(
        sent(&sim, "UnlockConnector"),
        vec![json!({"connectorId": 1})]
    );
}
dual!(tc_017_1_unlock_connector_no_charging_session_not_fixed_cable);

async fn tc_017_2_unlock_connector_no_charging_session_fixed_cable(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0172", 1).await;
    sim.set_answer("UnlockConnector", Some(json!({"status": "NotSupported"})));
    let r = cmd(
        &app,
        &admin,
        "TC0172",
        "UnlockConnector",
        json!({"connectorId": 1}),
    )
    .await;
    assert_eq!(r["status"], "NotSupported");
}
dual!(tc_017_2_unlock_connector_no_charging_session_fixed_cable);

async fn tc_018_1_unlock_connector_with_charging_session(app: TestApp) {
    let admin = app.admin().await;
    let (sim, tx) = remote_start(&app, &admin, "TC0181").await;
    let r = cmd(
        &app,
        &admin,
        "TC0181",
        "UnlockConnector",
        json!({"connectorId": 1}),
    )
    .await;
    assert_eq!(r["status"], "Unlocked");
    sim.stop_transaction(tx, "UnlockCommand").await.unwrap();
    assert_eq!(
        transaction(&app, tx).await,
        (true, Some("UnlockCommand".into()), None)
    );
}
dual!(tc_018_1_unlock_connector_with_charging_session);

async fn tc_019_1_retrieve_all_configuration_keys(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0191", 1).await;
    let r = cmd(&app, &admin, "TC0191", "GetConfiguration", json!({})).await;
    assert!(r["configurationKey"].as_array().unwrap().len() >= 3, "{r}");
    assert_eq!(sent(&sim, "GetConfiguration"), vec![json!({})]);
}
dual!(tc_019_1_retrieve_all_configuration_keys);

async fn tc_019_2_retrieve_specific_configuration_key(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0192", 1).await;
    let answer = json!({"configurationKey": [{"key": "SupportedFeatureProfiles", "readonly": true, "value": "Core,LocalAuthListManagement,Reservation,RemoteTrigger,SmartCharging,FirmwareManagement"}]});
    sim.set_answer("GetConfiguration", Some(answer.clone()));
    let r = cmd(
        &app,
        &admin,
        "TC0192",
        "GetConfiguration",
        json!({"key": ["SupportedFeatureProfiles"]}),
    )
    .await;
    assert_eq!(r, answer);
    assert_eq!(
        sent(&sim, "GetConfiguration"),
        vec![json!({"key": ["SupportedFeatureProfiles"]})]
    );
}
dual!(tc_019_2_retrieve_specific_configuration_key);

async fn tc_021_change_set_configuration(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC021", 1).await;
    let body = json!({"key": "MeterValueSampleInterval", "value": "60"});
    let r = cmd(&app, &admin, "TC021", "ChangeConfiguration", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "ChangeConfiguration"), vec![body]);
}
dual!(tc_021_change_set_configuration);

async fn authorize_is(app: TestApp, device: &str, tag: &str, status: &str) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger(device, 1).await;
    let a = call(&sim, "Authorize", json!({"idTag": tag})).await;
    assert_eq!(a["idTagInfo"]["status"], status);
    // Nothing may start with it either: StartTransaction gets the same answer, and a stop.
    let tx = start(&sim, 1, tag).await;
    assert_eq!(sim.start_answers()[0], (tx, status.to_string()));
    app.wait_until(|| sim.received_count("RemoteStopTransaction") == 1)
        .await;
}

async fn tc_023_1_start_charging_session_authorize_invalid(app: TestApp) {
    authorize_is(app, "TC0231", "UNKNOWN", "Invalid").await;
}
dual!(tc_023_1_start_charging_session_authorize_invalid);

async fn tc_023_2_start_charging_session_authorize_expired(app: TestApp) {
    authorize_is(app, "TC0232", "EXPIRED", "Expired").await;
}
dual!(tc_023_2_start_charging_session_authorize_expired);

async fn tc_023_3_start_charging_session_authorize_blocked(app: TestApp) {
    authorize_is(app, "TC0233", "BLOCKED", "Blocked").await;
}
dual!(tc_023_3_start_charging_session_authorize_blocked);

async fn tc_024_start_charging_session_lock_failure(app: TestApp) {
    let sim = app.charger("TC024", 1).await;
    let a = call(
        &sim,
        "StatusNotification",
        json!({"connectorId": 1, "errorCode": "ConnectorLockFailure", "status": "Faulted"}),
    )
    .await;
    assert_eq!(a, json!({}));
    let c = app.customer("c@example.com", 20.0).await;
    let (s, b) = app.start(&c.token, "TC024", 1, 10.0).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("Connector is not available"))
    );
    assert_eq!(app.balance(&c.token).await, 20.0);
}
dual!(tc_024_start_charging_session_lock_failure);

async fn tc_026_remote_start_charging_session_rejected(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC026", 1).await;
    sim.set_remote_start(RemoteStart::Reject);
    let r = cmd(
        &app,
        &admin,
        "TC026",
        "RemoteStartTransaction",
        json!({"connectorId": 1, "idTag": "VALID"}),
    )
    .await;
    assert_eq!(r["status"], "Rejected");
    let c = app.customer("c@example.com", 20.0).await;
    let (s, b) = app.start(&c.token, "TC026", 1, 10.0).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("Charger rejected the start request"))
    );
    assert_eq!(app.balance(&c.token).await, 20.0, "nothing billed");
    assert_eq!(transactions(&app).await, 0, "nothing opened");
    app.assert_money_conserved().await;
}
dual!(tc_026_remote_start_charging_session_rejected);

async fn tc_028_remote_stop_transaction_rejected(app: TestApp) {
    let admin = app.admin().await;
    let (sim, tx) = remote_start(&app, &admin, "TC028").await;
    sim.set_remote_stop(RemoteStop::Reject);
    let r = cmd(
        &app,
        &admin,
        "TC028",
        "RemoteStopTransaction",
        json!({"transactionId": tx}),
    )
    .await;
    assert_eq!(r["status"], "Rejected");
    assert!(!transaction(&app, tx).await.0, "the transaction goes on");
    assert_eq!(sim.open_transactions().len(), 1);
}
dual!(tc_028_remote_stop_transaction_rejected);

async fn tc_030_unlock_connector_unlock_failure(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC030", 1).await;
    sim.set_answer("UnlockConnector", Some(json!({"status": "UnlockFailed"})));
    let r = cmd(
        &app,
        &admin,
        "TC030",
        "UnlockConnector",
        json!({"connectorId": 1}),
    )
    .await;
    assert_eq!(r["status"], "UnlockFailed");
}
dual!(tc_030_unlock_connector_unlock_failure);

async fn tc_031_unlock_connector_unknown_connector(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC031", 1).await;
    sim.set_answer("UnlockConnector", Some(json!({"status": "NotSupported"})));
    let r = cmd(
        &app,
        &admin,
        "TC031",
        "UnlockConnector",
        json!({"connectorId": 9}),
    )
    .await;
    assert_eq!(r["status"], "NotSupported");
    assert_eq!(
        sent(&sim, "UnlockConnector"),
        vec![json!({"connectorId": 9})]
    );
}
dual!(tc_031_unlock_connector_unknown_connector);

async fn tc_032_1_power_failure_boot_charging_point_stop_transactions(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC0321", 1).await;
    let tx = start(&sim, 1, "VALID").await;
    sim.add_energy(tx, 2000.0).await.unwrap();
    // Power loss: the charger comes back, boots, and sends the StopTransaction it stored.
    sim.reconnect().await.unwrap();
    let boot = call(
        &sim,
        "BootNotification",
        json!({"chargePointVendor": "OCA", "chargePointModel": "TC032"}),
    )
    .await;
    assert_eq!(boot["status"], "Accepted");
    call(
        &sim,
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 2000, "timestamp": minutes_ago(0), "reason": "PowerLoss"}),
    )
    .await;
    sim.status(1, "Available").await.unwrap();
    assert_eq!(
        transaction(&app, tx).await,
        (true, Some("PowerLoss".into()), None)
    );
    let (_, b) = app.get("/api/admin/sessions", Some(&admin)).await;
    assert_eq!(b["sessions"][0]["status"], "completed");
    assert_eq!(b["sessions"][0]["energyKwh"], 2.0, "settled from the meter");
}
dual!(tc_032_1_power_failure_boot_charging_point_stop_transactions);

async fn offline_start(sim: &Simulator, tag: &str, minutes: i64) -> (i64, String) {
    let a = call(
        sim,
        "StartTransaction",
        json!({"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": minutes_ago(minutes)}),
    )
    .await;
    let tx = a["transactionId"].as_i64().unwrap();
    assert!(tx > 0, "{a}");
    (tx, a["idTagInfo"]["status"].as_str().unwrap().to_string())
}

async fn tc_037_1_offline_start_transaction_valid_idtag(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC0371", 1).await;
    let (tx, status) = offline_start(&sim, "VALID", 30).await;
    assert_eq!(status, "Accepted");
    assert!(!transaction(&app, tx).await.0);
}
dual!(tc_037_1_offline_start_transaction_valid_idtag);

async fn tc_037_3_offline_start_transaction_invalid_idtag(app: TestApp) {
    let sim = app.charger("TC0373", 1).await;
    let (tx, status) = offline_start(&sim, "UNKNOWN", 30).await;
    assert_eq!(status, "Invalid");
    let a = call(
        &sim,
        "StopTransaction",
        json!({"transactionId": tx, "meterStop": 100, "timestamp": minutes_ago(29), "reason": "DeAuthorized"}),
    )
    .await;
    valid("StopTransaction", Kind::Response, &a);
    assert_eq!(
        transaction(&app, tx).await,
        (true, Some("DeAuthorized".into()), None)
    );
}
dual!(tc_037_3_offline_start_transaction_invalid_idtag);

async fn tc_039_offline_transaction(app: TestApp) {
    let admin = app.admin().await;
    tokens(&app, &admin).await;
    let sim = app.charger("TC039", 1).await;
    let (tx, status) = offline_start(&sim, "VALID", 60).await;
    assert_eq!(status, "Accepted");
    let stop = json!({"transactionId": tx, "meterStop": 3000, "timestamp": minutes_ago(10), "reason": "Local"});
    call(&sim, "StopTransaction", stop.clone()).await;
    call(&sim, "StopTransaction", stop).await; // delivered twice from the offline queue
    assert_eq!(
        transaction(&app, tx).await,
        (true, Some("Local".into()), None)
    );
    let (_, b) = app.get("/api/admin/sessions", Some(&admin)).await;
    let sessions = b["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "settled once: {b}");
    assert_eq!(sessions[0]["energyKwh"], 3.0);
    assert_eq!(sessions[0]["cost"], 45.0);
}
dual!(tc_039_offline_transaction);

async fn tc_040_1_configuration_keys_not_supported(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0401", 1).await;
    sim.set_answer(
        "ChangeConfiguration",
        Some(json!({"status": "NotSupported"})),
    );
    let r = cmd(
        &app,
        &admin,
        "TC0401",
        "ChangeConfiguration",
        json!({"key": "UnknownKey", "value": "1"}),
    )
    .await;
    assert_eq!(r["status"], "NotSupported");
}
dual!(tc_040_1_configuration_keys_not_supported);

async fn tc_040_2_configuration_keys_invalid_value(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0402", 1).await;
    sim.set_answer("ChangeConfiguration", Some(json!({"status": "Rejected"})));
    let r = cmd(
        &app,
        &admin,
        "TC0402",
        "ChangeConfiguration",
        json!({"key": "MeterValueSampleInterval", "value": "-1"}),
    )
    .await;
    assert_eq!(r["status"], "Rejected");
}
dual!(tc_040_2_configuration_keys_invalid_value);

async fn tc_061_clear_authorization_data_in_authorization_cache(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC061", 1).await;
    let r = cmd(&app, &admin, "TC061", "ClearCache", json!({})).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "ClearCache"), vec![json!({})]);
}
dual!(tc_061_clear_authorization_data_in_authorization_cache);

async fn tc_064_data_transfer_to_a_central_system(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC064", 1).await;
    let a = call(
        &sim,
        "DataTransfer",
        json!({"vendorId": "com.unknown.vendor", "messageId": "Hello", "data": "x"}),
    )
    .await;
    assert_eq!(a["status"], "UnknownVendorId");
    // The registry's own vendor: a known message, and one it does not handle.
    let a = call(
        &sim,
        "DataTransfer",
        json!({"vendorId": "org.csms", "messageId": "Echo", "data": "ping"}),
    )
    .await;
    assert_eq!(a, json!({"status": "Accepted", "data": "ping"}));
    let a = call(
        &sim,
        "DataTransfer",
        json!({"vendorId": "org.csms", "messageId": "Nope"}),
    )
    .await;
    assert_eq!(a["status"], "UnknownMessageId");
    eventually("logged", || async {
        answered(
            &app,
            &admin,
            "TC064",
            "DataTransfer",
            "vendorId",
            "com.unknown.vendor",
        )
        .await
    })
    .await;
}
dual!(tc_064_data_transfer_to_a_central_system);
