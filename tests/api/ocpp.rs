//! The OCPP-J endpoint: handshake rules, every charge-point action, schema errors, remote commands,
//! replacement of a duplicate connection, offline detection, and the message log.

use std::time::Duration;

use csms::simulator::{RemoteStart, SimError, Simulator};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::dual;
use crate::helpers::TestApp;

async fn handshake_status(
    url: &str,
    protocol: Option<&str>,
    auth: Option<&str>,
) -> Result<Option<String>, u16> {
    let mut req = url.into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    if let Some(a) = auth {
        req.headers_mut()
            .insert("Authorization", HeaderValue::from_str(a).unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => Ok(resp
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap().to_string())),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected handshake error {e}"),
    }
}

fn basic(user: &str, pw: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

async fn handshake_rules(app: TestApp) {
    app.register_charger_with("OPEN1", json!({"securityProfile": 0}))
        .await;
    app.register_charger("LOCKED1", Some("s3cret-passw0rd-16"))
        .await;
    let base = app.ocpp.clone();
    let port_base = base.trim_end_matches("/ocpp");
    assert_eq!(
        handshake_status(&format!("{base}/UNKNOWN"), Some("ocpp1.6"), None).await,
        Err(404)
    );
    assert_eq!(
        handshake_status(&format!("{base}/OPEN1"), Some("ocpp1.6"), None).await,
        Ok(Some("ocpp1.6".into()))
    );
    assert_eq!(
        handshake_status(
            &format!("{port_base}/OPEN1"),
            Some("ocpp2.0.1, ocpp1.6"),
            None
        )
        .await,
        Ok(Some("ocpp1.6".into())),
        "/{{id}} works too"
    );
    assert_eq!(
        handshake_status(&format!("{base}/OPEN1"), Some("ocpp2.0.1"), None).await,
        Err(400),
        "only other protocols offered"
    );
    assert_eq!(
        handshake_status(&format!("{base}/LOCKED1"), Some("ocpp1.6"), None).await,
        Err(401)
    );
    assert_eq!(
        handshake_status(
            &format!("{base}/LOCKED1"),
            Some("ocpp1.6"),
            Some(&basic("LOCKED1", "wrong-password"))
        )
        .await,
        Err(401)
    );
    assert_eq!(
        handshake_status(
            &format!("{base}/LOCKED1"),
            Some("ocpp1.6"),
            Some(&basic("OPEN1", "s3cret-passw0rd-16"))
        )
        .await,
        Err(401),
        "user must be the chargeBoxId"
    );
    assert_eq!(
        handshake_status(
            &format!("{base}/LOCKED1"),
            Some("ocpp1.6"),
            Some(&basic("LOCKED1", "s3cret-passw0rd-16"))
        )
        .await,
        Ok(Some("ocpp1.6".into()))
    );
    // The password is stored hashed.
    let hash = app
        .db(|c| {
            use csms::infra::db::schema::chargers;
            use diesel::prelude::*;
            chargers::table
                .filter(chargers::device_id.eq("LOCKED1"))
                .select(chargers::ocpp_password_hash)
                .first::<Option<String>>(c)
                .unwrap()
        })
        .await
        .unwrap();
    assert!(
        hash.starts_with("sha256$") && !hash.contains("s3cret"),
        "{hash}"
    );
    let mut cfg = app.sim_config("LOCKED1", 1);
    cfg.password = Some("s3cret-passw0rd-16".into());
    let sim = app.connect(cfg).await;
    sim.call("Heartbeat", json!({})).await.unwrap();

    // Without a password and without profile 0, csms generates one, shows it once, requires it.
    let created = app.register_charger_with("GEN1", json!({})).await;
    let generated = created["ocppPassword"].as_str().unwrap().to_string();
    assert_eq!(generated.len(), 40);
    assert!(generated.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(created["charger"]["securityProfile"], 1);
    let (_, again) = app
        .get("/api/admin/chargers/GEN1", Some(&app.admin().await))
        .await;
    assert!(again["ocppPassword"].is_null(), "shown only once: {again}");
    assert_eq!(
        handshake_status(&format!("{base}/GEN1"), Some("ocpp1.6"), None).await,
        Err(401)
    );
    assert_eq!(
        handshake_status(
            &format!("{base}/GEN1"),
            Some("ocpp1.6"),
            Some(&basic("GEN1", &generated))
        )
        .await,
        Ok(Some("ocpp1.6".into()))
    );
    // A hash written by an earlier version (bcrypt) still works, and is replaced by the fast form.
    let old = bcrypt::hash("legacy-password-0001", 4).unwrap();
    app.db(move |c| {
        use csms::infra::db::schema::chargers;
        use diesel::prelude::*;
        diesel::update(chargers::table.filter(chargers::device_id.eq("GEN1")))
            .set(chargers::ocpp_password_hash.eq(old))
            .execute(c)
            .unwrap()
    })
    .await;
    assert_eq!(
        handshake_status(
            &format!("{base}/GEN1"),
            Some("ocpp1.6"),
            Some(&basic("GEN1", "legacy-password-0001"))
        )
        .await,
        Ok(Some("ocpp1.6".into()))
    );
    let upgraded = app
        .db(|c| {
            use csms::infra::db::schema::chargers;
            use diesel::prelude::*;
            chargers::table
                .filter(chargers::device_id.eq("GEN1"))
                .select(chargers::ocpp_password_hash)
                .first::<Option<String>>(c)
                .unwrap()
        })
        .await
        .unwrap();
    assert!(upgraded.starts_with("sha256$"), "{upgraded}");
}
dual!(handshake_rules);

async fn every_charge_point_action(app: TestApp) {
    let sim = app.charger("ACT1", 2).await;
    let c = app.customer("a@example.com", 50.0).await;
    let broke = app.customer("broke@example.com", 0.0).await;
    let charger = app
        .get("/api/admin/chargers/ACT1", Some(&app.admin().await))
        .await
        .1["charger"]
        .clone();
    assert_eq!(charger["vendor"], "csms");
    assert_eq!(charger["model"], "Simulator");
    assert_eq!(charger["serialNumber"], "SIM-ACT1");
    assert_eq!(charger["online"], true);
    assert_eq!(charger["connectors"].as_array().unwrap().len(), 2);
    assert_eq!(charger["connectors"][0]["status"], "Available");

    let boot = sim
        .call(
            "BootNotification",
            json!({"chargePointVendor": "V", "chargePointModel": "M"}),
        )
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted");
    assert_eq!(boot["interval"], 300);
    let hb = sim.call("Heartbeat", json!({})).await.unwrap();
    assert!(hb["currentTime"].as_str().unwrap().ends_with('Z'));
    // A frame many times the server's 2 KiB read buffer arrives whole.
    let big = sim
        .call(
            "DataTransfer",
            json!({"vendorId": "V", "messageId": "dump", "data": "x".repeat(60_000)}),
        )
        .await
        .unwrap();
    assert_eq!(big["status"], "UnknownVendorId");
    sim.call(
        "StatusNotification",
        json!({"connectorId": 2, "errorCode": "HighTemperature", "status": "Faulted"}),
    )
    .await
    .unwrap();
    let charger = app
        .get("/api/admin/chargers/ACT1", Some(&app.admin().await))
        .await
        .1["charger"]
        .clone();
    assert_eq!(charger["connectors"][1]["status"], "Faulted");
    assert_eq!(charger["connectors"][1]["errorCode"], "HighTemperature");
    assert_eq!(charger["vendor"], "V");
    assert!(charger["lastHeartbeat"].is_string());

    let ok = sim
        .call("Authorize", json!({"idTag": c.id_tag}))
        .await
        .unwrap();
    assert_eq!(ok["idTagInfo"]["status"], "Accepted");
    let lower = sim
        .call("Authorize", json!({"idTag": c.id_tag.to_lowercase()}))
        .await
        .unwrap();
    assert_eq!(
        lower["idTagInfo"]["status"], "Accepted",
        "idTags are CiString"
    );
    let empty = sim
        .call("Authorize", json!({"idTag": broke.id_tag}))
        .await
        .unwrap();
    assert_eq!(empty["idTagInfo"]["status"], "Blocked", "an empty wallet");
    let bad = sim
        .call("Authorize", json!({"idTag": "NOBODY"}))
        .await
        .unwrap();
    assert_eq!(bad["idTagInfo"]["status"], "Invalid");

    let tx = sim.start_transaction(1, &c.id_tag).await.unwrap();
    assert!(tx > 0);
    sim.add_energy(tx, 250.0).await.unwrap();
    sim.call("MeterValues", json!({"connectorId": 1, "meterValue": [{"timestamp": "2026-11-24T10:00:00Z", "sampledValue": [{"value": "12.5", "measurand": "Voltage", "unit": "V"}]}]})).await.unwrap();
    let rows = app
        .db(move |c| {
            use csms::infra::db::schema::meter_values;
            use diesel::prelude::*;
            meter_values::table
                .select((meter_values::transaction_id, meter_values::energy_wh))
                .load::<(Option<i64>, Option<i64>)>(c)
                .unwrap()
        })
        .await;
    assert!(rows.contains(&(Some(tx), Some(250))), "{rows:?}");
    assert!(rows.contains(&(None, None)), "{rows:?}");
    let stop = sim.stop_transaction(tx, "Local").await.unwrap();
    assert_eq!(
        stop["idTagInfo"],
        Value::Null,
        "no idTag in the request, no idTagInfo in the answer"
    );

    let dt = sim
        .call(
            "DataTransfer",
            json!({"vendorId": "com.example", "messageId": "x", "data": "y"}),
        )
        .await
        .unwrap();
    assert_eq!(dt["status"], "UnknownVendorId");
    assert_eq!(
        sim.call(
            "DiagnosticsStatusNotification",
            json!({"status": "Uploaded"})
        )
        .await
        .unwrap(),
        json!({})
    );
    assert_eq!(
        sim.call("FirmwareStatusNotification", json!({"status": "Installed"}))
            .await
            .unwrap(),
        json!({})
    );
}
dual!(every_charge_point_action);

async fn code_of(sim: &Simulator, text: &str, id: &str) -> String {
    match sim.send_raw(text, id).await {
        Err(SimError::CallError { code, .. }) => code,
        other => panic!("expected a CALLERROR for {text}, got {other:?}"),
    }
}

async fn schema_errors_keep_the_connection(app: TestApp) {
    let sim = app.charger("SCH1", 1).await;
    let cases = [
        (
            r#"[2,"e1","BootNotification",{"chargePointVendor":"V"}]"#,
            "e1",
            "ProtocolError",
        ),
        (
            r#"[2,"e2","BootNotification",{"chargePointVendor":1,"chargePointModel":"M"}]"#,
            "e2",
            "TypeConstraintViolation",
        ),
        (
            r#"[2,"e3","Heartbeat",{"unexpected":1}]"#,
            "e3",
            "FormationViolation",
        ),
        (
            r#"[2,"e4","StatusNotification",{"connectorId":1,"errorCode":"Bogus","status":"Available"}]"#,
            "e4",
            "PropertyConstraintViolation",
        ),
        (
            r#"[2,"e5","StartTransaction",{"connectorId":1,"idTag":"A","meterStart":0,"timestamp":"yesterday"}]"#,
            "e5",
            "PropertyConstraintViolation",
        ),
        (r#"[2,"e6","FooBar",{}]"#, "e6", "NotImplemented"),
        (r#"[2,"e7","Reset",{"type":"Soft"}]"#, "e7", "NotSupported"),
        (r#"[2,"e8","Heartbeat"]"#, "e8", "FormationViolation"),
        (r#"[7,"e9",{}]"#, "e9", "ProtocolError"),
        ("this is not json", "-1", "FormationViolation"),
        // Schema-valid, but beyond what the field (i32) holds: found by the fuzzer.
        (
            r#"[2,"e10","MeterValues",{"connectorId":2147483648,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1"}]}]}]"#,
            "e10",
            "PropertyConstraintViolation",
        ),
    ];
    for (text, id, code) in cases {
        assert_eq!(code_of(&sim, text, id).await, code, "{text}");
    }
    // Still connected and usable.
    assert!(sim.call("Heartbeat", json!({})).await.is_ok());
    assert!(app.state.registry.is_online("SCH1"));
}
dual!(schema_errors_keep_the_connection);

async fn remote_commands_round_trip(app: TestApp) {
    let sim = app.charger("CMD1", 2).await;
    // An operator's remote start is billed like any transaction: to the customer whose idTag it is.
    let payer = app.customer("payer@example.com", 50.0).await;
    let admin = app.admin().await;
    let cmd = |action: &str, body: Value| {
        let (app, admin, action) = (&app, admin.clone(), action.to_string());
        async move {
            app.post(
                &format!("/api/admin/chargers/CMD1/commands/{action}"),
                Some(&admin),
                body,
            )
            .await
        }
    };
    let expect = [
        (
            "Reset",
            json!({"type": "Soft"}),
            "status",
            json!("Accepted"),
        ),
        (
            "UnlockConnector",
            json!({"connectorId": 1}),
            "status",
            json!("Unlocked"),
        ),
        (
            "ChangeAvailability",
            json!({"connectorId": 2, "type": "Inoperative"}),
            "status",
            json!("Accepted"),
        ),
        (
            "ChangeConfiguration",
            json!({"key": "MeterValueSampleInterval", "value": "15"}),
            "status",
            json!("Accepted"),
        ),
        ("ClearCache", json!({}), "status", json!("Accepted")),
        (
            "TriggerMessage",
            json!({"requestedMessage": "Heartbeat"}),
            "status",
            json!("Accepted"),
        ),
        (
            "DataTransfer",
            json!({"vendorId": "com.example"}),
            "status",
            json!("Accepted"),
        ),
        (
            "RemoteStartTransaction",
            json!({"connectorId": 1, "idTag": payer.id_tag}),
            "status",
            json!("Accepted"),
        ),
    ];
    for (action, body, field, value) in expect {
        let (s, resp) = cmd(action, body).await;
        assert_eq!(s, 200, "{action}: {resp}");
        assert_eq!(resp["response"][field], value, "{action}: {resp}");
    }
    let (s, resp) = cmd(
        "GetConfiguration",
        json!({"key": ["MeterValueSampleInterval", "Nope"]}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(resp["response"]["configurationKey"][0]["value"], "15");
    assert_eq!(resp["response"]["unknownKey"], json!(["Nope"]));
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let tx = *sim.open_transactions().keys().next().unwrap();
    let (s, resp) = cmd("RemoteStopTransaction", json!({"transactionId": tx})).await;
    assert_eq!((s, &resp["response"]["status"]), (200, &json!("Accepted")));
    // Every command reached the charger, in order, one at a time.
    let received: Vec<String> = sim.received().into_iter().map(|(a, _)| a).collect();
    for a in [
        "Reset",
        "UnlockConnector",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "TriggerMessage",
        "DataTransfer",
        "RemoteStartTransaction",
        "GetConfiguration",
        "RemoteStopTransaction",
    ] {
        assert!(
            received.iter().any(|r| r == a),
            "{a} not received: {received:?}"
        );
    }
    // Bad payload, unknown command, unknown charger: refused before anything is sent.
    let (s, resp) = cmd("Reset", json!({"type": "Bogus"})).await;
    assert_eq!(s, 400, "{resp}");
    assert!(
        resp["error"]
            .as_str()
            .unwrap()
            .starts_with("Invalid Reset payload")
    );
    let (s, _) = cmd("SelfDestruct", json!({})).await;
    assert_eq!(s, 404);
    let (s, _) = app
        .post(
            "/api/admin/chargers/NOPE/commands/Reset",
            Some(&admin),
            json!({"type": "Soft"}),
        )
        .await;
    assert_eq!(s, 404);
    // A charger that never answers: 504.
    sim.set_remote_start(RemoteStart::Ignore);
    let (s, resp) = cmd(
        "RemoteStartTransaction",
        json!({"connectorId": 2, "idTag": "X"}),
    )
    .await;
    assert_eq!(
        (s, resp["error"].as_str()),
        (504, Some("Charger did not respond"))
    );
    // The queue moves on after a timeout.
    let (s, _) = cmd("ClearCache", json!({})).await;
    assert_eq!(s, 200);
    // Offline charger: 400.
    sim.disconnect().await;
    app.wait_until(|| !app.state.registry.is_online("CMD1"))
        .await;
    let (s, resp) = cmd("Reset", json!({"type": "Hard"})).await;
    assert_eq!(
        (s, resp["error"].as_str()),
        (400, Some("Charger is offline"))
    );
    // The message log holds frames in both directions.
    let mut messages = Value::Null;
    for _ in 0..100 {
        messages = app
            .get("/api/admin/chargers/CMD1/messages?limit=500", Some(&admin))
            .await
            .1["messages"]
            .clone();
        if messages
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["action"] == "ClearCache" && m["direction"] == "in")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = messages.as_array().unwrap();
    assert!(list.iter().any(|m| m["direction"] == "in"
        && m["action"] == "BootNotification"
        && m["frame"][0] == 2));
    assert!(list.iter().any(|m| m["direction"] == "out"
        && m["action"] == "BootNotification"
        && m["frame"][0] == 3));
    assert!(
        list.iter()
            .any(|m| m["direction"] == "out" && m["action"] == "Reset")
    );
}
dual!(remote_commands_round_trip, |s| s.ocpp_call_timeout_secs = 2);

async fn duplicate_connection_replaces_the_old(app: TestApp) {
    let first = app.charger("DUP1", 1).await;
    let old_conn = app.state.registry.get("DUP1").unwrap().conn_id;
    let second = Simulator::connect(app.sim_config("DUP1", 1)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), first.closed())
        .await
        .expect("old socket closed");
    assert_ne!(app.state.registry.get("DUP1").unwrap().conn_id, old_conn);
    assert!(second.call("Heartbeat", json!({})).await.is_ok());
    assert!(app.state.registry.is_online("DUP1"));
}
dual!(duplicate_connection_replaces_the_old);

/// A charger that stops answering pings is disconnected and shown offline.
async fn dead_connection_goes_offline(app: TestApp) {
    app.register_charger("DEAD1", None).await;
    let ws = raw_socket(&app, "DEAD1").await;
    app.wait_until(|| app.state.registry.is_online("DEAD1"))
        .await;
    // Never read: pings go unanswered.
    for _ in 0..100 {
        if !app.state.registry.is_online("DEAD1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !app.state.registry.is_online("DEAD1"),
        "silent charger still online"
    );
    let admin = app.admin().await;
    let (_, body) = app.get("/api/admin/chargers/DEAD1", Some(&admin)).await;
    assert_eq!(body["charger"]["online"], false);
    drop(ws);
}
dual!(dead_connection_goes_offline, |s| s.ws_ping_interval_secs =
    1);

/// Opens a raw OCPP WebSocket (no simulator) for a registered charger.
async fn raw_socket(
    app: &TestApp,
    device: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("{}/{device}", app.ocpp)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("ocpp1.6"),
    );
    if let Some(auth) = app.basic_auth(device) {
        req.headers_mut()
            .insert("Authorization", HeaderValue::from_str(&auth).unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws
}

/// OCPP-J: a CALLRESULT or CALLERROR that cannot be parsed is logged, never answered with a
/// CALLERROR. Pipelined CALLs (more than OCPP-J allows) are all answered, in order.
async fn broken_answers_are_not_answered_and_calls_stay_in_order(app: TestApp) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    app.register_charger("RAW1", None).await;
    let mut ws = raw_socket(&app, "RAW1").await;
    for broken in [
        r#"[3,"r1"]"#,
        r#"[4,"r2","GenericError"]"#,
        r#"[3,"r3",{},"extra"]"#,
    ] {
        ws.send(Message::text(broken)).await.unwrap();
    }
    // 20 CALLs without waiting for answers: handled one at a time, answered in order.
    for i in 0..20 {
        ws.send(Message::text(format!(r#"[2,"h{i}","Heartbeat",{{}}]"#)))
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    while ids.len() < 20 {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer")
            .unwrap()
            .unwrap();
        let Message::Text(text) = msg else { continue };
        let frame: Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(
            frame[0], 3,
            "only CALLRESULTs, no CALLERROR for the broken answers: {frame}"
        );
        ids.push(frame[1].as_str().unwrap().to_string());
    }
    let expected: Vec<String> = (0..20).map(|i| format!("h{i}")).collect();
    assert_eq!(ids, expected);
}
dual!(broken_answers_are_not_answered_and_calls_stay_in_order);

/// A frame above the size limit (1 MiB) closes the connection instead of being buffered.
async fn oversized_frames_close_the_connection(app: TestApp) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    app.register_charger("BIG1", None).await;
    let mut ws = raw_socket(&app, "BIG1").await;
    app.wait_until(|| app.state.registry.is_online("BIG1"))
        .await;
    let huge = format!(
        r#"[2,"b1","DataTransfer",{{"vendorId":"V","data":"{}"}}]"#,
        "x".repeat(2 << 20)
    );
    let _ = ws.send(Message::text(huge)).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server closed the connection");
    app.wait_until(|| !app.state.registry.is_online("BIG1"))
        .await;
}
dual!(oversized_frames_close_the_connection);

/// Frames that are not OCPP-J (unparseable, binary, answers to no call) mostly get no reply, so
/// nothing slowed a charger flooding them. The limit's worth within the window closes the
/// connection (close code 1008) and records the security event InvalidMessages (source csms);
/// fewer keep it open, and good frames in between do not count.
async fn garbage_frames_close_the_connection_with_a_security_event(app: TestApp) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    app.register_charger("JUNK1", None).await;
    let mut ws = raw_socket(&app, "JUNK1").await;
    app.wait_until(|| app.state.registry.is_online("JUNK1"))
        .await;
    let junk = [
        Message::text("this is not json"),
        Message::text(r#"[3,"nobody-asked",{}]"#),
        Message::text(r#"[4,"nobody-asked","GenericError","",{}]"#),
        Message::text(r#"[3,"r1"]"#),
        Message::binary(vec![0u8, 1, 2]),
    ];
    // 9 of them (the limit is 10), then a good CALL: still answered.
    for m in junk.iter().cycle().take(9) {
        ws.send(m.clone()).await.unwrap();
    }
    ws.send(Message::text(r#"[2,"ok1","Heartbeat",{}]"#))
        .await
        .unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m
                && t.contains("\"ok1\"")
                && t.starts_with("[3")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(answered, Ok(true), "still connected after 9 invalid frames");
    assert!(app.state.registry.is_online("JUNK1"));
    // The 10th closes it, with a reason.
    ws.send(Message::text("}{")).await.unwrap();
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("the server closed the connection");
    assert_eq!(close, Some(1008), "policy violation");
    app.wait_until(|| !app.state.registry.is_online("JUNK1"))
        .await;
    let admin = app.admin().await;
    let (_, body) = app
        .get("/api/admin/chargers/JUNK1/security-events", Some(&admin))
        .await;
    let events = body["events"].as_array().cloned().unwrap_or_default();
    let ours: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "InvalidMessages" && e["source"] == "csms")
        .collect();
    assert_eq!(ours.len(), 1, "{body}");
    assert!(
        ours[0]["techInfo"]
            .as_str()
            .unwrap_or_default()
            .contains("10 frames that are not OCPP-J"),
        "{body}"
    );
    // A charger that reconnects and floods again is cut off again, without a second event
    // within the minute.
    let mut ws = raw_socket(&app, "JUNK1").await;
    for _ in 0..10 {
        let _ = ws.send(Message::text("nope")).await;
    }
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok());
    app.wait_until(|| !app.state.registry.is_online("JUNK1"))
        .await;
    let (_, body) = app
        .get("/api/admin/chargers/JUNK1/security-events", Some(&admin))
        .await;
    let n = body["events"].as_array().map_or(0, |e| {
        e.iter().filter(|e| e["type"] == "InvalidMessages").count()
    });
    assert_eq!(n, 1, "{body}");
}
dual!(
    garbage_frames_close_the_connection_with_a_security_event,
    |s| {
        s.ocpp_bad_frame_limit = 10;
    }
);

/// The rows of a charger's message log, straight from the database.
async fn logged_frames(app: &TestApp, device: &'static str) -> i64 {
    app.db(move |c| {
        use csms::infra::db::schema::{chargers, ocpp_messages};
        use diesel::prelude::*;
        let id: i64 = chargers::table
            .filter(chargers::device_id.eq(device))
            .select(chargers::id)
            .first(c)
            .unwrap();
        ocpp_messages::table
            .filter(ocpp_messages::charger_id.eq(id))
            .count()
            .get_result::<i64>(c)
            .unwrap()
    })
    .await
}

/// A charger's message log never holds more than CSMS_MESSAGE_LOG_LIMIT frames in the database,
/// not even between trims: the write that would pass it trims it in the same transaction (to the
/// newest half). Frames above CSMS_MESSAGE_LOG_FRAME_BYTES are logged cut, with a marker.
async fn the_message_log_is_capped_per_charger(app: TestApp) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    app.register_charger("LOGCAP", None).await;
    let mut ws = raw_socket(&app, "LOGCAP").await;
    let mut most = 0;
    for round in 0..10 {
        // 10 Heartbeats pipelined: 20 frames (in and out).
        for i in 0..10 {
            ws.send(Message::text(format!(
                r#"[2,"h{round}-{i}","Heartbeat",{{}}]"#
            )))
            .await
            .unwrap();
        }
        let mut answers = 0;
        while answers < 10 {
            if let Some(Ok(Message::Text(_))) = ws.next().await {
                answers += 1;
            }
        }
        most = most.max(logged_frames(&app, "LOGCAP").await);
        assert!(most <= 50, "{most} frames logged: above the limit of 50");
    }
    // 200 frames went through; the newest are the ones kept.
    let admin = app.admin().await;
    let log = app
        .message_log_with(&admin, "LOGCAP", |m| m["messageId"] == "h9-9")
        .await;
    assert!(log.len() <= 50 && log.len() >= 25, "{}", log.len());
    let now = logged_frames(&app, "LOGCAP").await;
    assert!((25..=50).contains(&now), "{now} frames logged");
    // A long frame is logged cut, with a marker.
    let long = format!(
        r#"[2,"big","DataTransfer",{{"vendorId":"V","data":"{}"}}]"#,
        "x".repeat(10_000)
    );
    ws.send(Message::text(long.clone())).await.unwrap();
    let log = app
        .message_log_with(&admin, "LOGCAP", |m| {
            m["messageId"] == "big" && m["direction"] == "in"
        })
        .await;
    let big = log
        .iter()
        .find(|m| m["messageId"] == "big" && m["direction"] == "in")
        .unwrap();
    let text = big["frame"]
        .as_str()
        .expect("no longer JSON: shown as text");
    assert!(text.len() <= 1024, "{}", text.len());
    assert!(
        text.ends_with(&format!("...[truncated: {} bytes]", long.len())),
        "{text}"
    );
}
dual!(the_message_log_is_capped_per_charger, |s| {
    s.message_log_limit = 50;
    s.message_log_frame_bytes = 1024;
});
