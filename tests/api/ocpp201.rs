//! OCPP 2.0.1 on the same endpoint (issue 22, first steps): the handshake picks `ocpp2.0.1` when it
//! is served and offered, and a 2.0.1 station boots (Accepted / Pending / Rejected as the operator
//! decided), beats, reports connector status and security events, and hears 2.0.1's error codes.
//! A raw WebSocket client speaks 2.0.1 here (the simulator speaks 1.6).

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::dual;
use crate::helpers::TestApp;
use crate::support::station201::{Station as Raw, boot_payload};

fn both(s: &mut csms::infra::config::Settings) {
    s.ocpp_versions = vec!["ocpp1.6".into(), "ocpp2.0.1".into()];
}

/// The raw 2.0.1 station of the test harness, connected to `app` with the password the test knows.
struct Station;

impl Station {
    async fn connect(app: &TestApp, device: &str, protocols: &str) -> Result<(Raw, String), u16> {
        let password = app.password(device);
        Raw::connect(
            &app.ocpp,
            device,
            protocols,
            password.as_deref().map(|p| (device, p)),
        )
        .await
    }
}

async fn negotiation(app: TestApp) {
    app.register_charger_with("NEG1", json!({"securityProfile": 0}))
        .await;
    for (offered, chosen) in [
        ("ocpp1.6, ocpp2.0.1", "ocpp2.0.1"),
        ("ocpp2.0.1, ocpp1.6", "ocpp2.0.1"),
        ("ocpp0.1, ocpp2.0.1", "ocpp2.0.1"),
        ("ocpp1.6", "ocpp1.6"),
    ] {
        let (_, got) = Station::connect(&app, "NEG1", offered)
            .await
            .unwrap_or_else(|s| panic!("{offered}: refused with {s}"));
        assert_eq!(got, chosen, "offered {offered}");
    }
    assert!(matches!(
        Station::connect(&app, "NEG1", "ocpp2.0, ocpp1.5").await,
        Err(400)
    ));
}
dual!(negotiation, super::both);

/// Without 2.0.1 served (the default), a station offering both speaks 1.6.
async fn not_served_by_default(app: TestApp) {
    app.register_charger_with("NEG2", json!({"securityProfile": 0}))
        .await;
    let (mut st, got) = Station::connect(&app, "NEG2", "ocpp2.0.1, ocpp1.6")
        .await
        .unwrap();
    assert_eq!(got, "ocpp1.6");
    let boot = st
        .call(
            "BootNotification",
            json!({"chargePointVendor": "V", "chargePointModel": "M"}),
        )
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted", "a 1.6 boot: {boot}");
    let admin = app.admin().await;
    let (_, body) = app.get("/api/admin/chargers/NEG2", Some(&admin)).await;
    assert_eq!(body["charger"]["ocppVersion"], "ocpp1.6");
    assert!(matches!(
        Station::connect(&app, "NEG2", "ocpp2.0.1").await,
        Err(400)
    ));
}
dual!(not_served_by_default);

async fn boot_heartbeat_status(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("TWO1", None).await;
    let (mut st, v) = Station::connect(&app, "TWO1", "ocpp2.0.1").await.unwrap();
    assert_eq!(v, "ocpp2.0.1");
    let boot = st
        .call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted", "{boot}");
    assert!(boot["interval"].as_i64().unwrap() > 0);
    assert!(boot["currentTime"].as_str().unwrap().ends_with('Z'));
    let hb = st.call("Heartbeat", json!({})).await.unwrap();
    assert!(hb["currentTime"].is_string(), "{hb}");
    let s = st
        .call(
            "StatusNotification",
            json!({"timestamp": "2026-12-07T10:00:00Z", "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}),
        )
        .await
        .unwrap();
    assert_eq!(s, json!({}));
    let (code, body) = app.get("/api/admin/chargers/TWO1", Some(&admin)).await;
    assert_eq!(code, 200, "{body}");
    let charger = &body["charger"];
    assert_eq!(charger["vendor"], "Acme");
    assert_eq!(charger["model"], "Two");
    assert_eq!(charger["serialNumber"], "SN-201");
    assert_eq!(charger["firmwareVersion"], "2.0.1-fw");
    assert_eq!(
        charger["ocppVersion"], "ocpp2.0.1",
        "the version it connected with"
    );
    let connector = charger["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["connectorId"] == 1)
        .cloned()
        .unwrap_or_else(|| panic!("connector 1 in {charger}"));
    assert_eq!(connector["status"], "Occupied");

    // 2.0.1's error codes: a payload its schema refuses, a 1.6 action and a CSMS-only action.
    let (code, _) = st
        .call("StatusNotification", json!({"evseId": "one"}))
        .await
        .unwrap_err();
    assert!(
        [
            "FormatViolation",
            "OccurrenceConstraintViolation",
            "TypeConstraintViolation",
            "PropertyConstraintViolation"
        ]
        .contains(&code.as_str()),
        "{code}"
    );
    assert_eq!(
        st.call("StartTransaction", json!({})).await.unwrap_err().0,
        "NotImplemented"
    );
    assert_eq!(
        st.call("RequestStartTransaction", json!({}))
            .await
            .unwrap_err()
            .0,
        "NotSupported"
    );
    // NotifyMonitoringReport (block N) is answered empty.
    let answer = st
        .call(
            "NotifyMonitoringReport",
            json!({"seqNo": 0, "generatedAt": "2026-12-07T10:00:00Z", "requestId": 1}),
        )
        .await;
    assert_eq!(answer, Ok(json!({})));
    // A frame that is not JSON at all: FormatViolation (1.6 says FormationViolation).
    st.ws.send(Message::text("[2, \"x\", ")).await.unwrap();
    let f = st.frame().await;
    assert_eq!(f[0], 4, "{f}");
    assert_ne!(f[2], "FormationViolation", "{f}");

    let ev = st
        .call(
            "SecurityEventNotification",
            json!({"type": "FirmwareUpdated", "timestamp": "2026-12-07T10:01:00Z", "techInfo": "v2"}),
        )
        .await
        .unwrap();
    assert_eq!(ev, json!({}));
    let (_, events) = app
        .get("/api/admin/chargers/TWO1/security-events", Some(&admin))
        .await;
    assert!(
        events.to_string().contains("FirmwareUpdated"),
        "the station's security event is stored: {events}"
    );
    // Its device model, reported in two parts; the second corrects a value of the first.
    let item = |component: Value, variable: Value, attrs: Value| {
        json!({"component": component, "variable": variable, "variableAttribute": attrs,
               "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": false, "unit": "s"}})
    };
    let r = st
        .call(
            "NotifyReport",
            json!({"requestId": 1, "generatedAt": "2026-12-07T10:02:00Z", "seqNo": 0, "tbc": true,
                "reportData": [
                    item(json!({"name": "OCPPCommCtrlr"}), json!({"name": "HeartbeatInterval"}),
                         json!([{"value": "300", "mutability": "ReadWrite"}])),
                    item(json!({"name": "DeviceDataCtrlr"}), json!({"name": "ItemsPerMessage", "instance": "GetVariables"}),
                         json!([{"type": "Actual", "value": "4", "mutability": "ReadOnly"}])),
                    item(json!({"name": "EVSE", "evse": {"id": 1}}), json!({"name": "Power"}),
                         json!([{"type": "Actual", "value": "0"}, {"type": "MaxSet", "value": "22000"}])),
                ]}),
        )
        .await
        .unwrap();
    assert_eq!(r, json!({}));
    let r = st
        .call(
            "NotifyReport",
            json!({"requestId": 1, "generatedAt": "2026-12-07T10:02:01Z", "seqNo": 1,
                "reportData": [item(json!({"name": "OCPPCommCtrlr"}), json!({"name": "HeartbeatInterval"}),
                    json!([{"value": "60", "mutability": "ReadWrite"}]))]}),
        )
        .await
        .unwrap();
    assert_eq!(r, json!({}));
    let (s, model) = app
        .get("/api/admin/chargers/TWO1/variables", Some(&admin))
        .await;
    assert_eq!(s, 200, "{model}");
    let vars = model["variables"].as_array().unwrap();
    assert_eq!(vars.len(), 4, "{model}");
    let find = |component: &str, variable: &str, kind: &str| {
        vars.iter()
            .find(|v| {
                v["component"] == component
                    && v["variable"] == variable
                    && v["attributeType"] == kind
            })
            .cloned()
            .unwrap_or_else(|| panic!("{component}.{variable} {kind} in {model}"))
    };
    let hb = find("OCPPCommCtrlr", "HeartbeatInterval", "Actual");
    assert_eq!(hb["value"], "60", "the later report wins");
    assert_eq!(hb["unit"], "s");
    assert_eq!(hb["evseId"], -1);
    let items = find("DeviceDataCtrlr", "ItemsPerMessage", "Actual");
    assert_eq!(items["variableInstance"], "GetVariables");
    assert_eq!(items["mutability"], "ReadOnly");
    assert_eq!(find("EVSE", "Power", "MaxSet")["value"], "22000");
    assert_eq!(find("EVSE", "Power", "Actual")["evseId"], 1);
}
dual!(boot_heartbeat_status, super::both);

async fn registration_decides_the_boot(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("TWO2", None).await;
    let set = |status: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.request(
                reqwest::Method::PUT,
                "/api/admin/chargers/TWO2/registration",
                Some(&admin),
                Some(json!({ "status": status })),
            )
            .await
            .0
        }
    };
    assert_eq!(set("pending").await, 200);
    let (mut st, _) = Station::connect(&app, "TWO2", "ocpp2.0.1").await.unwrap();
    let boot = st
        .call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Pending", "{boot}");
    assert!(boot["interval"].as_i64().unwrap() <= 60);
    assert_eq!(
        st.call("Heartbeat", json!({})).await.unwrap_err().0,
        "SecurityError",
        "nothing but BootNotification while pending"
    );
    // Accepted by the operator: csms asks the station, in 2.0.1 words, to boot again.
    let accept = app.spawn_request(
        reqwest::Method::PUT,
        "/api/admin/chargers/TWO2/registration",
        &admin,
        json!({"status": "accepted"}),
    );
    let (action, payload) = st.answer_next_call(json!({"status": "Accepted"})).await;
    assert_eq!(action, "TriggerMessage");
    assert_eq!(payload, json!({"requestedMessage": "BootNotification"}));
    assert_eq!(accept.await.unwrap().0, 200);
    let boot = st
        .call("BootNotification", boot_payload("Triggered"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted", "{boot}");
    assert!(st.call("Heartbeat", json!({})).await.is_ok());

    assert_eq!(set("rejected").await, 200);
    let boot = st
        .call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Rejected", "{boot}");
}
dual!(registration_decides_the_boot, super::both);

/// The operator's commands API speaks the version the station is connected with: a 2.0.1
/// command, checked against its 2.0.1 schema, is sent as given; 1.6 words are refused.
async fn operator_commands_in_201(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("TWO3", None).await;
    let (mut st, _) = Station::connect(&app, "TWO3", "ocpp2.0.1").await.unwrap();
    let boot = st
        .call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted");
    let send = |action: &'static str, body: Value| {
        app.spawn_request(
            reqwest::Method::POST,
            &format!("/api/admin/chargers/TWO3/commands/{action}"),
            &admin,
            body,
        )
    };
    let reset = send("Reset", json!({"type": "OnIdle", "evseId": 1}));
    let (action, payload) = st.answer_next_call(json!({"status": "Scheduled"})).await;
    assert_eq!(action, "Reset");
    assert_eq!(
        payload,
        json!({"type": "OnIdle", "evseId": 1}),
        "sent as given"
    );
    let (status, body) = reset.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["status"], "Scheduled");
    // 1.6's Reset words, a 1.6 action, and an action the station sends.
    let (status, body) = send("Reset", json!({"type": "Hard"})).await.unwrap();
    assert_eq!(status, 400, "{body}");
    let (status, body) = send("RemoteStartTransaction", json!({"idTag": "X"}))
        .await
        .unwrap();
    assert_eq!(status, 404, "{body}");
    let (status, body) = send("BootNotification", json!({})).await.unwrap();
    assert_eq!(status, 400, "{body}");
    // A station that does not answer: 504, as for 1.6.
    let (status, _) = app
        .post(
            "/api/admin/chargers/TWO3/commands/GetLocalListVersion",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 504);
}
dual!(operator_commands_in_201, super::both);

/// An operator pins a charger to one version: from its next handshake it gets only that one.
async fn pinning_a_version(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger_with("PIN1", json!({"securityProfile": 0}))
        .await;
    let pin = |v: Value| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.request(
                reqwest::Method::PUT,
                "/api/admin/chargers/PIN1",
                Some(&admin),
                Some(json!({ "ocppVersionPin": v })),
            )
            .await
        }
    };
    let (s, b) = pin(json!("ocpp1.6")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["charger"]["ocppVersionPin"], "ocpp1.6");
    let chosen = |offered: &'static str| {
        let app = &app;
        async move { Station::connect(app, "PIN1", offered).await.map(|(_, v)| v) }
    };
    assert_eq!(chosen("ocpp2.0.1, ocpp1.6").await, Ok("ocpp1.6".into()));
    assert_eq!(chosen("ocpp2.0.1").await, Err(400));
    let (s, _) = pin(json!("ocpp2.0.1")).await;
    assert_eq!(s, 200);
    assert_eq!(chosen("ocpp1.6, ocpp2.0.1").await, Ok("ocpp2.0.1".into()));
    assert_eq!(chosen("ocpp1.6").await, Err(400));
    let (s, b) = pin(json!("ocpp2.0")).await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = pin(Value::Null).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["charger"]["ocppVersionPin"], Value::Null);
    assert_eq!(chosen("ocpp1.6").await, Ok("ocpp1.6".into()));
}
dual!(pinning_a_version, super::both);

/// GetVariables / SetVariables with more items than the station's ItemsPerMessage go out as
/// several calls (the limit from its report, or as the operator set it), and the operator gets
/// every item's result, in order.
async fn variables_split_by_items_per_message(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("TWO4", None).await;
    let (mut st, _) = Station::connect(&app, "TWO4", "ocpp2.0.1").await.unwrap();
    st.call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    st.call(
        "NotifyReport",
        json!({"requestId": 1, "generatedAt": "2026-12-07T10:02:00Z", "seqNo": 0, "reportData": [
            {"component": {"name": "DeviceDataCtrlr"}, "variable": {"name": "ItemsPerMessage", "instance": "GetVariables"},
             "variableAttribute": [{"value": "2", "mutability": "ReadOnly"}]}]}),
    )
    .await
    .unwrap();
    let send = |action: &'static str, body: Value| {
        app.spawn_request(
            reqwest::Method::POST,
            &format!("/api/admin/chargers/TWO4/commands/{action}"),
            &admin,
            body,
        )
    };
    let names: Vec<String> = (1..=5).map(|i| format!("Var{i}")).collect();
    let data: Vec<Value> = names
        .iter()
        .map(|n| json!({"component": {"name": "Test"}, "variable": {"name": n}}))
        .collect();
    let request = send("GetVariables", json!({ "getVariableData": data }));
    let mut sizes = Vec::new();
    for _ in 0..3 {
        let f = st.frame().await;
        assert_eq!(f[2], "GetVariables", "{f}");
        let part = f[3]["getVariableData"].as_array().unwrap().clone();
        sizes.push(part.len());
        let results: Vec<Value> = part
            .iter()
            .map(|d| json!({"attributeStatus": "Accepted", "component": d["component"], "variable": d["variable"], "attributeValue": "x"}))
            .collect();
        st.ws
            .send(Message::text(
                json!([3, f[1], {"getVariableResult": results}]).to_string(),
            ))
            .await
            .unwrap();
    }
    assert_eq!(sizes, vec![2, 2, 1], "at most ItemsPerMessage (2) per call");
    let (s, body) = request.await.unwrap();
    assert_eq!(s, 200, "{body}");
    let got: Vec<&str> = body["response"]["getVariableResult"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["variable"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, names, "every result, in order");

    // The operator's limit for SetVariables.
    let (s, b) = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/chargers/TWO4",
            Some(&admin),
            Some(json!({"itemsPerMessageSetVariables": 3})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["charger"]["itemsPerMessageSetVariables"], 3);
    let (s, b) = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/chargers/TWO4",
            Some(&admin),
            Some(json!({"itemsPerMessageGetVariables": 0})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let data: Vec<Value> = (1..=4)
        .map(|i| json!({"component": {"name": "Test"}, "variable": {"name": format!("S{i}")}, "attributeValue": "1"}))
        .collect();
    let request = send("SetVariables", json!({ "setVariableData": data }));
    let mut sizes = Vec::new();
    for _ in 0..2 {
        let f = st.frame().await;
        assert_eq!(f[2], "SetVariables", "{f}");
        let part = f[3]["setVariableData"].as_array().unwrap().clone();
        sizes.push(part.len());
        let results: Vec<Value> = part
            .iter()
            .map(|d| json!({"attributeStatus": "Accepted", "component": d["component"], "variable": d["variable"]}))
            .collect();
        st.ws
            .send(Message::text(
                json!([3, f[1], {"setVariableResult": results}]).to_string(),
            ))
            .await
            .unwrap();
    }
    assert_eq!(sizes, vec![3, 1]);
    let (s, body) = request.await.unwrap();
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["response"]["setVariableResult"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
dual!(variables_split_by_items_per_message, super::both);

/// SetVariables SecurityCtrlr.BasicAuthPassword: checked before it is sent (16-40 characters),
/// the station's password once it answers Accepted (its next handshake uses it, the old one no
/// longer works), and never written to the message log.
async fn basic_auth_password_through_set_variables(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("TWO5", None).await;
    let old = app.password("TWO5").unwrap();
    let (mut st, _) = Station::connect(&app, "TWO5", "ocpp2.0.1").await.unwrap();
    st.call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    let item = |value: &str| {
        json!({"setVariableData": [{"component": {"name": "SecurityCtrlr"},
            "variable": {"name": "BasicAuthPassword"}, "attributeValue": value}]})
    };
    let (s, b) = app
        .post(
            "/api/admin/chargers/TWO5/commands/SetVariables",
            Some(&admin),
            item("too-short"),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let new = "brand-new-password-2026";
    let request = app.spawn_request(
        reqwest::Method::POST,
        "/api/admin/chargers/TWO5/commands/SetVariables",
        &admin,
        item(new),
    );
    let f = st.frame().await;
    assert_eq!(f[2], "SetVariables");
    assert_eq!(
        f[3]["setVariableData"][0]["attributeValue"], new,
        "sent as given"
    );
    let result = json!({"setVariableResult": [{"attributeStatus": "Accepted",
        "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]});
    st.ws
        .send(Message::text(json!([3, f[1], result]).to_string()))
        .await
        .unwrap();
    let (s, b) = request.await.unwrap();
    assert_eq!(s, 200, "{b}");
    let handshake = |password: String| {
        let url = format!("{}/TWO5", app.ocpp);
        async move {
            use base64::Engine;
            let mut req = url.into_client_request().unwrap();
            req.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static("ocpp2.0.1"),
            );
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("TWO5:{password}"));
            req.headers_mut().insert(
                "Authorization",
                HeaderValue::from_str(&format!("Basic {auth}")).unwrap(),
            );
            match tokio_tungstenite::connect_async(req).await {
                Ok(_) => 101,
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
                Err(e) => panic!("{e}"),
            }
        }
    };
    assert_eq!(
        handshake(new.to_string()).await,
        101,
        "the new password works"
    );
    assert_eq!(handshake(old).await, 401, "the old one no longer does");
    let log = app
        .message_log_with(&admin, "TWO5", |m| m["action"] == "SetVariables")
        .await;
    let text = serde_json::to_string(&log).unwrap();
    assert!(
        !text.contains(new),
        "the password is not in the message log"
    );
    assert!(text.contains("(hidden)"), "{text}");
}
dual!(basic_auth_password_through_set_variables, super::both);

/// A station reconnects (no reboot) and the operator's command follows the moment the handshake
/// ends: it reaches the new connection, never the old one (the connection is registered before
/// the handshake's answer leaves). Twenty reconnects in a row.
async fn command_right_after_reconnect(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("TWO9", None).await;
    let (mut old, _) = Station::connect(&app, "TWO9", "ocpp2.0.1").await.unwrap();
    let boot = old
        .call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted");
    for round in 0..20 {
        let (mut st, _) = Station::connect(&app, "TWO9", "ocpp2.0.1").await.unwrap();
        let request = app.spawn_request(
            reqwest::Method::POST,
            "/api/admin/chargers/TWO9/commands/GetTransactionStatus",
            &admin,
            json!({}),
        );
        let (action, _) = st.answer_next_call(json!({"messagesInQueue": false})).await;
        assert_eq!(action, "GetTransactionStatus", "round {round}");
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 200, "round {round}: {body}");
        assert_eq!(body["response"], json!({"messagesInQueue": false}));
        old = st;
    }
    drop(old);
}
dual!(command_right_after_reconnect, super::both);

/// A report in parts that arrive out of order and one twice is kept once, in seqNo order, and
/// complete only when nothing is missing; a report csms never asked for is kept as `unknown`.
async fn customer_reports_in_parts(app: TestApp) {
    app.register_charger("CI-201", None).await;
    let password = app.password("CI-201").unwrap();
    let mut st = Raw::booted(&app.ocpp, "CI-201", &password).await;
    let admin = app.admin().await;
    let path = "/api/admin/chargers/CI-201/customer-information";
    let body = json!({"requestId": 7, "report": true, "clear": false,
        "customerIdentifier": "C-7"});
    let request = app.spawn_request(
        reqwest::Method::POST,
        "/api/admin/chargers/CI-201/commands/CustomerInformation",
        &admin,
        body,
    );
    let (action, _) = st.answer_next_call(json!({"status": "Accepted"})).await;
    assert_eq!(action, "CustomerInformation");
    assert_eq!(request.await.unwrap().0, 200);
    let part = |seq: i64, data: &str, tbc: bool| {
        json!({"requestId": 7, "seqNo": seq, "data": data, "tbc": tbc,
            "generatedAt": "2026-12-07T10:00:00Z"})
    };
    let request_7 = |b: &Value| {
        b["requests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["requestId"] == 7)
            .cloned()
            .unwrap()
    };
    for (seq, data, tbc) in [(2, "three", false), (0, "one ", true), (0, "one ", true)] {
        let a = st
            .call("NotifyCustomerInformation", part(seq, data, tbc))
            .await;
        assert_eq!(a, Ok(json!({})));
    }
    let (s, b) = app.get(path, Some(&admin)).await;
    assert_eq!(s, 200, "{b}");
    let r = request_7(&b);
    assert_eq!(r["customer"], "customerIdentifier C-7", "{r}");
    assert_eq!(r["status"], "Accepted", "{r}");
    assert_eq!(
        (r["data"].clone(), r["parts"].clone()),
        (json!("one three"), json!(2))
    );
    assert_eq!(r["complete"], false, "seqNo 1 is missing: {r}");
    let a = st
        .call("NotifyCustomerInformation", part(1, "two ", true))
        .await;
    assert_eq!(a, Ok(json!({})));
    let r = request_7(&app.get(path, Some(&admin)).await.1);
    assert_eq!(r["data"], "one two three", "{r}");
    assert_eq!(r["complete"], true, "{r}");
    // Never asked for.
    let a = st
        .call(
            "NotifyCustomerInformation",
            json!({"requestId": 99, "seqNo": 0,
            "data": "x", "tbc": false, "generatedAt": "2026-12-07T10:00:00Z"}),
        )
        .await;
    assert_eq!(a, Ok(json!({})));
    let (_, b) = app.get(path, Some(&admin)).await;
    let unasked = b["requests"][0].clone();
    assert_eq!(
        (
            unasked["requestId"].clone(),
            unasked["customer"].clone(),
            unasked["status"].clone()
        ),
        (json!(99), json!("unknown"), json!("unrequested"))
    );
}
dual!(customer_reports_in_parts, super::both);

/// The operator asks about one customer once: every connected 2.0.1 station is sent
/// CustomerInformation under a requestId of its own (a 1.6 charger has no such message and is
/// left out), and each answer is kept; bad requests are refused before anything goes out.
async fn customer_information_to_every_station(app: TestApp) {
    let admin = app.admin().await;
    let mut stations = Vec::new();
    for device in ["CI-A", "CI-B"] {
        app.register_charger(device, None).await;
        let password = app.password(device).unwrap();
        stations.push(Raw::booted(&app.ocpp, device, &password).await);
    }
    let _old = app.charger("CI-16", 1).await;
    let body = json!({"idToken": "TAG-9", "idTokenType": "ISO14443", "ask": "reportAndClear"});
    let request = app.spawn_request(
        reqwest::Method::POST,
        "/api/admin/customer-information",
        &admin,
        body,
    );
    for (st, answer) in stations.iter_mut().zip(["Accepted", "Rejected"]) {
        let (action, p) = st.answer_next_call(json!({"status": answer})).await;
        assert_eq!(action, "CustomerInformation");
        assert_eq!(
            p["idToken"],
            json!({"idToken": "TAG-9", "type": "ISO14443"}),
            "{p}"
        );
        assert_eq!(
            (p["report"].clone(), p["clear"].clone()),
            (json!(true), json!(true))
        );
        assert_eq!(p["requestId"], 1, "{p}");
    }
    let (s, b) = request.await.unwrap();
    assert_eq!(s, 200, "{b}");
    let sent: Vec<(String, String)> = b["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let t = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (t("deviceId"), t("status"))
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("CI-A".into(), "Accepted".into()),
            ("CI-B".into(), "Rejected".into())
        ]
    );
    let (_, b) = app
        .get(
            "/api/admin/chargers/CI-B/customer-information",
            Some(&admin),
        )
        .await;
    let kept = &b["requests"][0];
    assert_eq!(kept["customer"], "idToken ISO14443 TAG-9", "{b}");
    assert_eq!(
        (kept["status"].clone(), kept["clear"].clone()),
        (json!("Rejected"), json!(true))
    );
    for bad in [
        json!({"ask": "report"}),
        json!({"idToken": "T", "customerIdentifier": "C", "ask": "report"}),
        json!({"customerIdentifier": "C", "ask": "nothing"}),
        json!({"customerIdentifier": "", "ask": "clear"}),
        json!({"idToken": "T", "idTokenType": "Passport", "ask": "report"}),
        json!({"customerIdentifier": "C", "ask": "report", "extra": 1}),
    ] {
        let (s, b) = app
            .post("/api/admin/customer-information", Some(&admin), bad.clone())
            .await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    // Nothing more went out.
    for st in &mut stations {
        assert!(st.call("Heartbeat", json!({})).await.is_ok());
    }
}
dual!(customer_information_to_every_station, super::both);
