//! Core profile (34 cases).

use csms::protocol::ocpp16::schemas::Kind;
use csms::simulator::{RemoteStart, RemoteStop, Simulator};
use serde_json::json;

use crate::{Ctx, call, case, eventually, minutes_ago, sent, transaction, valid};

async fn start(sim: &Simulator, connector: u32, tag: &str) -> i64 {
    let tx = sim.start_transaction(connector, tag).await.unwrap();
    assert!(tx > 0);
    tx
}

pub async fn tc_001_cold_boot_charge_point(ctx: Ctx) {
    ctx.register().await;
    let sim = ctx.connect_only(ctx.sim_config(2)).await;
    let boot = call(
        &sim,
        "BootNotification",
        json!({"chargePointVendor": "OCA", "chargePointModel": "TC001"}),
    )
    .await;
    assert_eq!(boot["status"], "Accepted");
    assert!(boot["interval"].as_i64().unwrap() > 0);
    assert!(
        csms::protocol::ocpp16::messages::parse_timestamp(boot["currentTime"].as_str().unwrap())
            .is_some()
    );
    for connector in 0..=2 {
        let a = call(
            &sim,
            "StatusNotification",
            json!({"connectorId": connector, "errorCode": "NoError", "status": "Available"}),
        )
        .await;
        assert_eq!(a, json!({}));
    }
    assert!(ctx.app.state.registry.is_online(ctx.device()));
}
case!(tc_001_cold_boot_charge_point, "TC_001");

pub async fn tc_003_regular_charging_session_plugin_first(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    sim.status(1, "Preparing").await.unwrap();
    let a = call(&sim, "Authorize", json!({"idTag": "VALID"})).await;
    assert_eq!(a["idTagInfo"]["status"], "Accepted");
    let tx = start(&sim, 1, "VALID").await;
    assert_eq!(sim.start_answers()[0].1, "Accepted");
    sim.add_energy(tx, 500.0).await.unwrap();
    let stop = sim.stop_transaction(tx, "Local").await.unwrap();
    valid("StopTransaction", Kind::Response, &stop);
    assert_eq!(
        transaction(&ctx.app, tx).await,
        (true, Some("Local".into()), None)
    );
    let s = ctx.session_of(tx).await;
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["energyKwh"], 0.5);
}
case!(tc_003_regular_charging_session_plugin_first, "TC_003");

pub async fn tc_004_1_regular_charging_session_identification_first(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let a = call(&sim, "Authorize", json!({"idTag": "VALID"})).await;
    assert_eq!(a["idTagInfo"]["status"], "Accepted");
    assert_eq!(a["idTagInfo"]["parentIdTag"], "GROUP");
    let tx = start(&sim, 1, "VALID").await;
    assert_eq!(sim.start_answers()[0].1, "Accepted");
    if ctx.stops_its_transaction() {
        sim.stop_transaction(tx, "Local").await.unwrap();
        assert!(transaction(&ctx.app, tx).await.0);
    }
}
case!(
    tc_004_1_regular_charging_session_identification_first,
    "TC_004_1"
);

pub async fn tc_004_2_identification_first_connection_timeout(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let a = call(&sim, "Authorize", json!({"idTag": "VALID"})).await;
    assert_eq!(a["idTagInfo"]["status"], "Accepted");
    sim.status(1, "Preparing").await.unwrap();
    sim.status(1, "Available").await.unwrap(); // no cable within ConnectionTimeOut
    assert_eq!(ctx.new_transactions().await, 0, "nothing opened");
    assert_eq!(ctx.new_sessions().await, Vec::<serde_json::Value>::new());
}
case!(tc_004_2_identification_first_connection_timeout, "TC_004_2");

pub async fn tc_005_1_ev_side_disconnected(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let tx = start(&sim, 1, "VALID").await;
    sim.add_energy(tx, 1000.0).await.unwrap();
    sim.stop_transaction(tx, "EVDisconnected").await.unwrap();
    assert_eq!(
        transaction(&ctx.app, tx).await,
        (true, Some("EVDisconnected".into()), None)
    );
    let s = ctx.session_of(tx).await;
    assert_eq!(s["status"], "completed");
    assert_eq!(s["stopReason"], "EVDisconnected");
    assert_eq!(s["cost"], 15.0, "1 kWh at the default tariff");
}
case!(tc_005_1_ev_side_disconnected, "TC_005_1");

pub async fn tc_007_regular_start_charging_session_cached_id(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    // No Authorize: the charger knew the tag from its cache.
    let tx = start(&sim, 1, "valid").await;
    assert_eq!(sim.start_answers()[0], (tx, "Accepted".into()));
    if ctx.stops_its_transaction() {
        sim.stop_transaction(tx, "Local").await.unwrap();
    }
}
case!(tc_007_regular_start_charging_session_cached_id, "TC_007");

async fn remote_start(ctx: &Ctx) -> (Simulator, i64) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let r = ctx
        .cmd(
            "RemoteStartTransaction",
            json!({"connectorId": 1, "idTag": "VALID"}),
        )
        .await;
    assert_eq!(r["status"], "Accepted");
    let sent = sent(&sim, "RemoteStartTransaction");
    assert_eq!(sent, vec![json!({"connectorId": 1, "idTag": "VALID"})]);
    ctx.app
        .wait_until(|| sim.open_transactions().len() == 1)
        .await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    assert_eq!(sim.start_answers()[0], (tx, "Accepted".into()));
    (sim, tx)
}

pub async fn tc_010_remote_start_charging_session_cable_plugged_in_first(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    sim.status(1, "Preparing").await.unwrap();
    let r = ctx
        .cmd(
            "RemoteStartTransaction",
            json!({"connectorId": 1, "idTag": "VALID"}),
        )
        .await;
    assert_eq!(r["status"], "Accepted");
    ctx.app
        .wait_until(|| sim.open_transactions().len() == 1)
        .await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    assert_eq!(sim.start_answers()[0], (tx, "Accepted".into()));
    if ctx.stops_its_transaction() {
        sim.stop_transaction(tx, "Local").await.unwrap();
    }
}
case!(
    tc_010_remote_start_charging_session_cable_plugged_in_first,
    "TC_010"
);

pub async fn tc_011_1_remote_start_charging_session_remote_start_first(ctx: Ctx) {
    let (sim, tx) = remote_start(&ctx).await;
    if ctx.stops_its_transaction() {
        sim.stop_transaction(tx, "Local").await.unwrap();
        assert!(transaction(&ctx.app, tx).await.0);
    }
}
case!(
    tc_011_1_remote_start_charging_session_remote_start_first,
    "TC_011_1"
);

pub async fn tc_011_2_remote_start_charging_session_time_out(ctx: Ctx) {
    ctx.tokens().await;
    ctx.register().await;
    let mut cfg = ctx.sim_config(1);
    cfg.no_start_transaction = true;
    let sim = ctx.connect(cfg).await;
    let r = ctx
        .cmd(
            "RemoteStartTransaction",
            json!({"connectorId": 1, "idTag": "VALID"}),
        )
        .await;
    assert_eq!(r["status"], "Accepted");
    sim.status(1, "Preparing").await.unwrap();
    sim.status(1, "Available").await.unwrap(); // no cable in time
    assert_eq!(
        ctx.new_transactions().await,
        0,
        "nothing opened, nothing billed"
    );
    ctx.app.assert_money_conserved().await;
}
case!(tc_011_2_remote_start_charging_session_time_out, "TC_011_2");

pub async fn tc_012_remote_stop_charging_session(ctx: Ctx) {
    let (sim, tx) = remote_start(&ctx).await;
    let r = ctx
        .cmd("RemoteStopTransaction", json!({"transactionId": tx}))
        .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(
        sent(&sim, "RemoteStopTransaction"),
        vec![json!({"transactionId": tx})]
    );
    eventually("stopped", || async { transaction(&ctx.app, tx).await.0 }).await;
    assert_eq!(transaction(&ctx.app, tx).await.1.as_deref(), Some("Remote"));
}
case!(tc_012_remote_stop_charging_session, "TC_012");

async fn reset(ctx: Ctx, kind: &str, reason: &str) {
    let (sim, tx) = remote_start(&ctx).await;
    let r = ctx.cmd("Reset", json!({"type": kind})).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "Reset"), vec![json!({"type": kind})]);
    // The charger stops its transaction, reboots, and boots again.
    let stop = sim.stop_transaction(tx, reason).await.unwrap();
    valid("StopTransaction", Kind::Response, &stop);
    sim.reboot(false).await.unwrap();
    assert_eq!(
        transaction(&ctx.app, tx).await,
        (true, Some(reason.into()), None)
    );
    assert!(ctx.app.state.registry.is_online(ctx.device()));
}

pub async fn tc_013_hard_reset(ctx: Ctx) {
    reset(ctx, "Hard", "HardReset").await;
}
case!(tc_013_hard_reset, "TC_013");

pub async fn tc_014_soft_reset(ctx: Ctx) {
    reset(ctx, "Soft", "SoftReset").await;
}
case!(tc_014_soft_reset, "TC_014");

pub async fn tc_017_1_unlock_connector_no_charging_session_not_fixed_cable(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    let r = ctx.cmd("UnlockConnector", json!({"connectorId": 1})).await;
    assert_eq!(r["status"], "Unlocked");
    assert_eq!(
        sent(&sim, "UnlockConnector"),
        vec![json!({"connectorId": 1})]
    );
}
case!(
    tc_017_1_unlock_connector_no_charging_session_not_fixed_cable,
    "TC_017_1"
);

pub async fn tc_017_2_unlock_connector_no_charging_session_fixed_cable(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    sim.set_answer("UnlockConnector", Some(json!({"status": "NotSupported"})));
    let r = ctx.cmd("UnlockConnector", json!({"connectorId": 1})).await;
    assert_eq!(r["status"], "NotSupported");
}
case!(
    tc_017_2_unlock_connector_no_charging_session_fixed_cable,
    "TC_017_2"
);

pub async fn tc_018_1_unlock_connector_with_charging_session(ctx: Ctx) {
    let (sim, tx) = remote_start(&ctx).await;
    let r = ctx.cmd("UnlockConnector", json!({"connectorId": 1})).await;
    assert_eq!(r["status"], "Unlocked");
    sim.stop_transaction(tx, "UnlockCommand").await.unwrap();
    assert_eq!(
        transaction(&ctx.app, tx).await,
        (true, Some("UnlockCommand".into()), None)
    );
}
case!(tc_018_1_unlock_connector_with_charging_session, "TC_018_1");

pub async fn tc_019_1_retrieve_all_configuration_keys(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    let r = ctx.cmd("GetConfiguration", json!({})).await;
    assert!(r["configurationKey"].as_array().unwrap().len() >= 3, "{r}");
    assert_eq!(sent(&sim, "GetConfiguration"), vec![json!({})]);
}
case!(tc_019_1_retrieve_all_configuration_keys, "TC_019_1");

pub async fn tc_019_2_retrieve_specific_configuration_key(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    let answer = json!({"configurationKey": [{"key": "SupportedFeatureProfiles", "readonly": true, "value": "Core,LocalAuthListManagement,Reservation,RemoteTrigger,SmartCharging,FirmwareManagement"}]});
    sim.set_answer("GetConfiguration", Some(answer.clone()));
    let r = ctx
        .cmd(
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
case!(tc_019_2_retrieve_specific_configuration_key, "TC_019_2");

pub async fn tc_021_change_set_configuration(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    let body = json!({"key": "MeterValueSampleInterval", "value": "60"});
    let r = ctx.cmd("ChangeConfiguration", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "ChangeConfiguration"), vec![body]);
}
case!(tc_021_change_set_configuration, "TC_021");

async fn authorize_is(ctx: Ctx, tag: &str, status: &str) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let a = call(&sim, "Authorize", json!({"idTag": tag})).await;
    assert_eq!(a["idTagInfo"]["status"], status);
    // Nothing may start with it either: StartTransaction gets the same answer, and a stop.
    let tx = start(&sim, 1, tag).await;
    assert_eq!(sim.start_answers()[0], (tx, status.to_string()));
    // (Back to back, csms may still be asking for an earlier case's transaction to stop.)
    let stop = json!({"transactionId": tx});
    ctx.app
        .wait_until(|| sent(&sim, "RemoteStopTransaction").contains(&stop))
        .await;
    if !ctx.is_shared() {
        assert_eq!(sent(&sim, "RemoteStopTransaction"), vec![stop]);
    }
}

pub async fn tc_023_1_start_charging_session_authorize_invalid(ctx: Ctx) {
    authorize_is(ctx, "UNKNOWN", "Invalid").await;
}
case!(
    tc_023_1_start_charging_session_authorize_invalid,
    "TC_023_1"
);

pub async fn tc_023_2_start_charging_session_authorize_expired(ctx: Ctx) {
    authorize_is(ctx, "EXPIRED", "Expired").await;
}
case!(
    tc_023_2_start_charging_session_authorize_expired,
    "TC_023_2"
);

pub async fn tc_023_3_start_charging_session_authorize_blocked(ctx: Ctx) {
    authorize_is(ctx, "BLOCKED", "Blocked").await;
}
case!(
    tc_023_3_start_charging_session_authorize_blocked,
    "TC_023_3"
);

pub async fn tc_024_start_charging_session_lock_failure(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    let a = call(
        &sim,
        "StatusNotification",
        json!({"connectorId": 1, "errorCode": "ConnectorLockFailure", "status": "Faulted"}),
    )
    .await;
    assert_eq!(a, json!({}));
    let c = ctx.customer(20.0).await;
    let (s, b) = ctx.app.start(&c.token, ctx.device(), 1, 10.0).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("Connector is not available"))
    );
    assert_eq!(ctx.app.balance(&c.token).await, 20.0);
}
case!(tc_024_start_charging_session_lock_failure, "TC_024");

pub async fn tc_026_remote_start_charging_session_rejected(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    sim.set_remote_start(RemoteStart::Reject);
    let r = ctx
        .cmd(
            "RemoteStartTransaction",
            json!({"connectorId": 1, "idTag": "VALID"}),
        )
        .await;
    assert_eq!(r["status"], "Rejected");
    if ctx.is_shared() {
        // The connector is free, and the charger says so (an earlier case may have left it
        // Faulted in csms's view); the customer path keeps its own rules.
        sim.status(1, "Available").await.unwrap();
    }
    let c = ctx.customer(20.0).await;
    let (s, b) = ctx.app.start(&c.token, ctx.device(), 1, 10.0).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("Charger rejected the start request"))
    );
    assert_eq!(ctx.app.balance(&c.token).await, 20.0, "nothing billed");
    assert_eq!(ctx.new_transactions().await, 0, "nothing opened");
    ctx.app.assert_money_conserved().await;
}
case!(tc_026_remote_start_charging_session_rejected, "TC_026");

pub async fn tc_028_remote_stop_transaction_rejected(ctx: Ctx) {
    let (sim, tx) = remote_start(&ctx).await;
    sim.set_remote_stop(RemoteStop::Reject);
    let r = ctx
        .cmd("RemoteStopTransaction", json!({"transactionId": tx}))
        .await;
    assert_eq!(r["status"], "Rejected");
    assert!(
        !transaction(&ctx.app, tx).await.0,
        "the transaction goes on"
    );
    assert_eq!(sim.open_transactions().len(), 1);
}
case!(tc_028_remote_stop_transaction_rejected, "TC_028");

pub async fn tc_030_unlock_connector_unlock_failure(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    sim.set_answer("UnlockConnector", Some(json!({"status": "UnlockFailed"})));
    let r = ctx.cmd("UnlockConnector", json!({"connectorId": 1})).await;
    assert_eq!(r["status"], "UnlockFailed");
}
case!(tc_030_unlock_connector_unlock_failure, "TC_030");

pub async fn tc_031_unlock_connector_unknown_connector(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    sim.set_answer("UnlockConnector", Some(json!({"status": "NotSupported"})));
    let r = ctx.cmd("UnlockConnector", json!({"connectorId": 9})).await;
    assert_eq!(r["status"], "NotSupported");
    assert_eq!(
        sent(&sim, "UnlockConnector"),
        vec![json!({"connectorId": 9})]
    );
}
case!(tc_031_unlock_connector_unknown_connector, "TC_031");

pub async fn tc_032_1_power_failure_boot_charging_point_stop_transactions(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
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
        transaction(&ctx.app, tx).await,
        (true, Some("PowerLoss".into()), None)
    );
    let s = ctx.session_of(tx).await;
    assert_eq!(s["status"], "completed");
    assert_eq!(s["energyKwh"], 2.0, "settled from the meter");
}
case!(
    tc_032_1_power_failure_boot_charging_point_stop_transactions,
    "TC_032_1"
);

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

pub async fn tc_037_1_offline_start_transaction_valid_idtag(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let (tx, status) = offline_start(&sim, "VALID", 30).await;
    assert_eq!(status, "Accepted");
    assert!(!transaction(&ctx.app, tx).await.0);
}
case!(tc_037_1_offline_start_transaction_valid_idtag, "TC_037_1");

pub async fn tc_037_3_offline_start_transaction_invalid_idtag(ctx: Ctx) {
    let sim = ctx.charger(1).await;
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
        transaction(&ctx.app, tx).await,
        (true, Some("DeAuthorized".into()), None)
    );
}
case!(tc_037_3_offline_start_transaction_invalid_idtag, "TC_037_3");

pub async fn tc_039_offline_transaction(ctx: Ctx) {
    ctx.tokens().await;
    let sim = ctx.charger(1).await;
    let (tx, status) = offline_start(&sim, "VALID", 60).await;
    assert_eq!(status, "Accepted");
    let stop = json!({"transactionId": tx, "meterStop": 3000, "timestamp": minutes_ago(10), "reason": "Local"});
    call(&sim, "StopTransaction", stop.clone()).await;
    call(&sim, "StopTransaction", stop).await; // delivered twice from the offline queue
    assert_eq!(
        transaction(&ctx.app, tx).await,
        (true, Some("Local".into()), None)
    );
    let sessions = ctx.new_sessions().await;
    assert_eq!(sessions.len(), 1, "settled once: {sessions:?}");
    assert_eq!(sessions[0]["transactionId"], tx);
    assert_eq!(sessions[0]["energyKwh"], 3.0);
    assert_eq!(sessions[0]["cost"], 45.0);
}
case!(tc_039_offline_transaction, "TC_039");

pub async fn tc_040_1_configuration_keys_not_supported(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    sim.set_answer(
        "ChangeConfiguration",
        Some(json!({"status": "NotSupported"})),
    );
    let r = ctx
        .cmd(
            "ChangeConfiguration",
            json!({"key": "UnknownKey", "value": "1"}),
        )
        .await;
    assert_eq!(r["status"], "NotSupported");
}
case!(tc_040_1_configuration_keys_not_supported, "TC_040_1");

pub async fn tc_040_2_configuration_keys_invalid_value(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    sim.set_answer("ChangeConfiguration", Some(json!({"status": "Rejected"})));
    let r = ctx
        .cmd(
            "ChangeConfiguration",
            json!({"key": "MeterValueSampleInterval", "value": "-1"}),
        )
        .await;
    assert_eq!(r["status"], "Rejected");
}
case!(tc_040_2_configuration_keys_invalid_value, "TC_040_2");

pub async fn tc_061_clear_authorization_data_in_authorization_cache(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    let r = ctx.cmd("ClearCache", json!({})).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "ClearCache"), vec![json!({})]);
}
case!(
    tc_061_clear_authorization_data_in_authorization_cache,
    "TC_061"
);

pub async fn tc_064_data_transfer_to_a_central_system(ctx: Ctx) {
    let sim = ctx.charger(1).await;
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
        ctx.answered("DataTransfer", "vendorId", "com.unknown.vendor")
            .await
    })
    .await;
}
case!(tc_064_data_transfer_to_a_central_system, "TC_064");
