//! Security extension: password rotation (TC_073), the security profile upgrade (TC_083), Basic
//! auth (TC_085), TLS with a server certificate (TC_086) and with client certificates (TC_087), and
//! subprotocol negotiation (TC_088).

use csms::simulator::Simulator;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{ClientCert, TestApp, TestPki};
use crate::{cmd, dual, sent};

async fn tc_073_update_charge_point_password_for_http_basic_authentication(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("TC073", None).await;
    let old = app.sim_config("TC073", 1);
    let sim = app.connect(old.clone()).await;
    let key = "a1b2c3d4e5f60718293a4b5c6d7e8f9001122334"; // 20 bytes, hex
    let r = cmd(
        &app,
        &admin,
        "TC073",
        "ChangeConfiguration",
        json!({"key": "AuthorizationKey", "value": key}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "ChangeConfiguration")[0]["value"], key);
    sim.reconnect().await.unwrap();
    sim.call("Heartbeat", json!({})).await.unwrap();
    assert!(
        Simulator::connect(old).await.is_err(),
        "the old password is refused"
    );
}
dual!(tc_073_update_charge_point_password_for_http_basic_authentication);

async fn tc_085_basic_authentication_valid_username_password(app: TestApp) {
    app.register_charger("TC085", Some("valid-password-0123"))
        .await;
    let sim = app.connect(app.sim_config("TC085", 1)).await; // Basic auth, registered password
    sim.call("Heartbeat", json!({})).await.unwrap();
    let mut wrong = app.sim_config("TC085", 1);
    wrong.password = Some("wrong-password-0123".into());
    assert!(Simulator::connect(wrong).await.is_err());
}
dual!(tc_085_basic_authentication_valid_username_password);

async fn handshake(url: &str, protocols: &str, auth: &str) -> Result<Option<String>, u16> {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocols).unwrap(),
    );
    req.headers_mut()
        .insert("Authorization", HeaderValue::from_str(auth).unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => Ok(resp
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap().to_string())),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected handshake error {e}"),
    }
}

async fn tc_088_websocket_subprotocol_negotiation(app: TestApp) {
    app.register_charger("TC088", None).await;
    let url = format!("{}/TC088", app.ocpp);
    let auth = app.basic_auth("TC088").unwrap();
    assert_eq!(handshake(&url, "ocpp2.0.1", &auth).await, Err(400));
    assert_eq!(
        handshake(&url, "ocpp2.0.1, ocpp1.6", &auth).await,
        Ok(Some("ocpp1.6".into()))
    );
}
dual!(tc_088_websocket_subprotocol_negotiation);

async fn tc_083_upgrade_charge_point_security_profile_accepted(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("TC083", Some("tc083-password-0001"))
        .await;
    let plain = app.sim_config("TC083", 1);
    let mut cfg = plain.clone();
    let over_tls = app.tls_config("TC083", 1, None);
    cfg.tls_url = Some(over_tls.url.clone());
    cfg.ca_cert = over_tls.ca_cert.clone();
    let sim = app.connect(cfg).await;
    // Lowering, or a profile csms cannot serve, is refused before anything is sent.
    for (value, why) in [
        ("1", "only raise"),
        ("0", "only raise"),
        ("7", "0, 1, 2 or 3"),
    ] {
        let (s, b) = app
            .post(
                "/api/admin/chargers/TC083/commands/ChangeConfiguration",
                Some(&admin),
                json!({"key": "SecurityProfile", "value": value}),
            )
            .await;
        assert_eq!(s, 400, "{value}: {b}");
        assert!(b["error"].as_str().unwrap_or_default().contains(why), "{b}");
    }
    let r = cmd(
        &app,
        &admin,
        "TC083",
        "ChangeConfiguration",
        json!({"key": "SecurityProfile", "value": "2"}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    let r = cmd(&app, &admin, "TC083", "Reset", json!({"type": "Hard"})).await;
    assert_eq!(r["status"], "Accepted");
    // The charger comes back at profile 2 (wss + Basic auth) and is accepted.
    sim.reconnect().await.unwrap();
    sim.call("Heartbeat", json!({})).await.unwrap();
    let (_, charger) = app.get("/api/admin/chargers/TC083", Some(&admin)).await;
    assert_eq!(charger["charger"]["securityProfile"], 2, "{charger}");
    // The old profile is refused from now on.
    let e = Simulator::connect(plain).await.err().expect("ws refused");
    assert!(e.to_string().contains("403"), "{e}");
}
dual!(
    tc_083_upgrade_charge_point_security_profile_accepted,
    crate::helpers::tls
);

async fn tc_086_tls_server_side_certificate_valid_certificate(app: TestApp) {
    app.register_charger_with(
        "TC086",
        json!({"securityProfile": 2, "ocppPassword": "tc086-password-0001"}),
    )
    .await;
    let sim = app.connect(app.tls_config("TC086", 1, None)).await;
    sim.call("Heartbeat", json!({})).await.unwrap();
    // The client checked csms's certificate against the CA it trusts: another CA fails.
    let mut untrusting = app.tls_config("TC086", 1, None);
    untrusting.ca_cert = Some(TestPki::create().ca_cert());
    assert!(Simulator::connect(untrusting).await.is_err());
}
dual!(
    tc_086_tls_server_side_certificate_valid_certificate,
    crate::helpers::tls
);

async fn tc_087_tls_client_side_certificate_valid_certificate(app: TestApp) {
    app.register_charger_with("TC087", json!({"securityProfile": 3}))
        .await;
    let pki = TestPki::of(&app);
    let cert = pki.client("TC087", ClientCert::Valid);
    let sim = app.connect(app.tls_config("TC087", 1, Some(cert))).await;
    sim.call("Heartbeat", json!({})).await.unwrap();
    let e = Simulator::connect(app.tls_config("TC087", 1, None))
        .await
        .err()
        .expect("no client certificate: refused");
    assert!(e.to_string().contains("403"), "{e}");
}
dual!(
    tc_087_tls_client_side_certificate_valid_certificate,
    crate::helpers::tls
);
