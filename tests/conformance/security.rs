//! Security extension: the cases that csms passes today. TC_073 (password rotation with
//! ChangeConfiguration AuthorizationKey), TC_085 (Basic auth) and TC_088 (subprotocol). The TLS and
//! certificate cases belong to the security issue.

use csms::simulator::Simulator;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::TestApp;
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
