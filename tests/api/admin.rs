//! Operator and customer accounts, authorization, stations, chargers, tariffs, wallets, system routes.

use serde_json::{Value, json};

use crate::dual;
use crate::helpers::TestApp;

async fn auth_rules(app: TestApp) {
    let (s, body) = app
        .post(
            "/api/admin/login",
            None,
            json!({"email": "admin@example.com", "password": "nope"}),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("Invalid email or password"))
    );
    let (s, _) = app
        .post(
            "/api/admin/login",
            None,
            json!({"email": "ghost@example.com", "password": "nope"}),
        )
        .await;
    assert_eq!(s, 401);
    let (s, body) = app.get("/api/admin/chargers", None).await;
    assert_eq!((s, body["success"].as_bool()), (401, Some(false)));
    let (s, _) = app.get("/api/admin/chargers", Some("garbage")).await;
    assert_eq!(s, 401);
    let c = app.customer("a@example.com", 0.0).await;
    let (s, _) = app.get("/api/admin/chargers", Some(&c.token)).await;
    assert_eq!(s, 403, "customer token on an operator route");
    let admin = app.admin().await;
    let (s, _) = app.get("/api/user/profile", Some(&admin)).await;
    assert_eq!(s, 403, "operator token on a customer route");

    // Customer accounts.
    let (s, body) = app
        .post(
            "/api/customer/register",
            None,
            json!({"name": "X", "email": "A@example.com", "password": "password"}),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (409, Some("Email is already registered"))
    );
    let (s, _) = app
        .post(
            "/api/customer/register",
            None,
            json!({"name": "X", "email": "not-an-email", "password": "password"}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .post(
            "/api/customer/register",
            None,
            json!({"name": "X", "email": "b@example.com", "password": "123"}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, body) = app
        .post(
            "/api/customer/login",
            None,
            json!({"email": "a@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("Invalid email or password"))
    );
    let (s, body) = app
        .post(
            "/api/customer/login",
            None,
            json!({"email": "nobody@example.com", "password": "password"}),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("Invalid email or password"))
    );
    let (s, body) = app
        .post(
            "/api/customer/login",
            None,
            json!({"email": "a@example.com", "password": "password"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, profile) = app
        .get("/api/user/profile", Some(body["token"].as_str().unwrap()))
        .await;
    assert_eq!(s, 200);
    assert_eq!(profile["customer"]["email"], "a@example.com");
    assert_eq!(profile["customer"]["walletBalance"], 0);
    let tag = profile["customer"]["idTag"].as_str().unwrap();
    assert!(!tag.is_empty() && tag.len() <= 20);
    let (s, body) = app
        .post("/api/customer/login", None, json!("not an object"))
        .await;
    assert_eq!((s, body["success"].as_bool()), (401, Some(false)));
    let resp = reqwest::Client::new()
        .post(format!("{}/api/customer/login", app.http))
        .header("content-type", "application/json")
        .body("{bad json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}
dual!(auth_rules);

async fn stations_chargers_tariffs(app: TestApp) {
    let admin = app.admin().await;
    let t = Some(admin.as_str());
    let (s, st) = app
        .post(
            "/api/admin/stations",
            t,
            json!({"name": "Main", "address": "1 Road"}),
        )
        .await;
    assert_eq!(s, 201);
    let station = st["station"]["id"].as_i64().unwrap();
    let (s, _) = app.post("/api/admin/stations", t, json!({})).await;
    assert_eq!(s, 400);
    let (s, ch) = app
        .post(
            "/api/admin/chargers",
            t,
            json!({"deviceId": "T1", "stationId": station}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(ch["charger"]["chargingPointId"], "CP-T1");
    assert_eq!(ch["charger"]["online"], false);
    let (s, _) = app
        .post(
            "/api/admin/chargers",
            t,
            json!({"deviceId": "T1", "stationId": station}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = app
        .post(
            "/api/admin/chargers",
            t,
            json!({"deviceId": "T2", "stationId": 999}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .post(
            "/api/admin/chargers",
            t,
            json!({"deviceId": "bad id/with slash", "stationId": station}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = app
        .post(
            "/api/admin/chargers",
            t,
            json!({"deviceId": "T3", "stationId": station, "ocppPassword": "short"}),
        )
        .await;
    assert_eq!(s, 400);
    for bad in [
        json!({"deviceId": "T3", "stationId": station, "securityProfile": -1}),
        json!({"deviceId": "T3", "stationId": station, "securityProfile": 7}),
        json!({"deviceId": "T3", "stationId": station, "securityProfile": "one"}),
        json!({"deviceId": "T3", "stationId": station, "securityProfile": 0, "ocppPassword": "0123456789abcdef"}),
    ] {
        let (s, body) = app.post("/api/admin/chargers", t, bad.clone()).await;
        assert_eq!(s, 400, "{bad} -> {body}");
    }

    // Tariffs: station price, then a charger-specific price; the default applies without either.
    let c = app.customer("a@example.com", 0.0).await;
    assert_eq!(price(&app, &c.token).await, json!(15));
    let (s, tariff) = app
        .post(
            "/api/admin/tariffs",
            t,
            json!({"name": "Peak", "pricePerKwh": 20.5}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = app
        .post(
            "/api/admin/tariffs",
            t,
            json!({"name": "Bad", "pricePerKwh": -1}),
        )
        .await;
    assert_eq!(s, 400);
    let tariff_id = tariff["tariff"]["id"].as_i64().unwrap();
    let (s, _) = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/admin/stations/{station}/tariff"),
            t,
            Some(json!({"tariffId": tariff_id})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(price(&app, &c.token).await, json!(20.5));
    let (_, cheap) = app
        .post(
            "/api/admin/tariffs",
            t,
            json!({"name": "Cheap", "pricePerKwh": "9.99"}),
        )
        .await;
    let (s, _) = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/chargers/T1/tariff",
            t,
            Some(json!({"tariffId": cheap["tariff"]["id"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(price(&app, &c.token).await, json!(9.99));
    let (_, tariffs) = app.get("/api/admin/tariffs", t).await;
    assert_eq!(tariffs["tariffs"].as_array().unwrap().len(), 2);

    // Delete: a charger without history goes; the list reflects it.
    let (s, _) = app
        .request(reqwest::Method::DELETE, "/api/admin/chargers/T1", t, None)
        .await;
    assert_eq!(s, 200);
    let (_, list) = app.get("/api/admin/chargers", t).await;
    assert!(list["chargers"].as_array().unwrap().is_empty());
    let (s, _) = app
        .request(reqwest::Method::DELETE, "/api/admin/chargers/T1", t, None)
        .await;
    assert_eq!(s, 404);
}
dual!(stations_chargers_tariffs);

async fn price(app: &TestApp, token: &str) -> serde_json::Value {
    app.get("/api/user/stations", Some(token)).await.1["stations"][0]["chargers"][0]["pricePerKwh"]
        .clone()
}

async fn wallet_credit_and_lists(app: TestApp) {
    let admin = app.admin().await;
    let t = Some(admin.as_str());
    let c = app.customer("a@example.com", 0.0).await;
    for bad in [
        json!({}),
        json!({"amount": 0}),
        json!({"amount": -10}),
        json!({"amount": 1.234}),
        json!({"amount": 1e10}),
    ] {
        let (s, body) = app
            .post(
                &format!("/api/admin/customers/{}/wallet/credit", c.id),
                t,
                bad.clone(),
            )
            .await;
        assert_eq!(
            (s, body["error"].as_str()),
            (400, Some("Invalid amount")),
            "{bad}"
        );
    }
    let (s, _) = app
        .post(
            "/api/admin/customers/9999/wallet/credit",
            t,
            json!({"amount": 5}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, body) = app
        .post(
            &format!("/api/admin/customers/{}/wallet/credit", c.id),
            t,
            json!({"amount": 12.34, "note": "welcome"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["customer"]["walletBalance"], 12.34);
    let (_, wallet) = app.get("/api/user/wallet", Some(&c.token)).await;
    assert_eq!(wallet["currency"], "INR");
    assert_eq!(wallet["transactions"][0]["type"], "credit");
    assert_eq!(wallet["transactions"][0]["note"], "welcome");
    assert_eq!(wallet["transactions"][0]["balanceAfter"], 12.34);
    let (_, customers) = app.get("/api/admin/customers", t).await;
    assert_eq!(customers["customers"][0]["walletBalance"], 12.34);
    let (s, sessions) = app.get("/api/admin/sessions?status=active", t).await;
    assert_eq!(s, 200);
    assert!(sessions["sessions"].as_array().unwrap().is_empty());
    app.assert_money_conserved().await;
}
dual!(wallet_credit_and_lists);

async fn system_routes(app: TestApp) {
    let (s, body) = app.get("/healthz", None).await;
    assert_eq!(s, 200);
    assert_eq!(body["status"], "ok");
    let _sim = app.charger("MET1", 1).await;
    let text = reqwest::get(format!("{}/metrics", app.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("csms_connected_chargers 1"), "{text}");
    assert!(text.contains("csms_ocpp_messages_in_total"), "{text}");
    assert!(text.contains("csms_http_requests_total"), "{text}");
    let (s, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].is_string());
    assert!(
        doc["paths"]["/api/user/charging/start"]["post"].is_object(),
        "{doc}"
    );
    assert!(doc["paths"]["/api/admin/chargers/{device_id}/commands/{action}"]["post"].is_object());
    let swagger = reqwest::get(format!("{}/swagger-ui/", app.http))
        .await
        .unwrap();
    assert_eq!(swagger.status().as_u16(), 200);
    let page = reqwest::get(format!("{}/", app.http)).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let (s, _) = app.get("/no-such-page.html", None).await;
    assert_eq!(s, 404);
}
dual!(system_routes);

/// The API's edges: a known path with an undeclared method is 405 with `Allow` (not the web panel's
/// 404); a body that is not a JSON object is 400; integral floats count as integers; every error
/// status in the OpenAPI document has the shared error body.
async fn api_edges(app: TestApp) {
    let t = app.admin().await;
    let resp = reqwest::Client::new()
        .patch(format!("{}/api/admin/stations", app.http))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST, GET")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"success": false, "error": "Method not allowed"})
    );
    let (s, _) = app
        .request(reqwest::Method::DELETE, "/healthz", None, None)
        .await;
    assert_eq!(s, 405);

    let (s, body) = app
        .post("/api/admin/stations", Some(&t), json!(["Main"]))
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["error"], "Invalid JSON body: expected a JSON object");
    let (s, body) = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/id-tags/NOPE",
            Some(&t),
            Some(json!([null, null])),
        )
        .await;
    assert_eq!(s, 400, "{body}");

    let (s, body) = app
        .post(
            "/api/admin/tariffs",
            Some(&t),
            json!({"name": "T", "pricePerKwh": 12.5}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let tariff = body["tariff"]["id"].as_i64().unwrap();
    let (s, body) = app
        .post(
            "/api/admin/stations",
            Some(&t),
            json!({"name": "S", "tariffId": tariff as f64}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["station"]["tariffId"], tariff);
    let (s, body) = app
        .post(
            "/api/admin/stations",
            Some(&t),
            json!({"name": "S", "address": 5}),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("address must be a string"))
    );

    let (_, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(
        doc["components"]["schemas"]["ErrorBody"]["required"],
        json!(["success", "error"])
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, answer) in op["responses"].as_object().unwrap() {
                let schema = &answer["content"]["application/json"]["schema"];
                if status.as_str() >= "400" && status != "503" {
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                } else {
                    assert!(
                        answer["content"].is_object(),
                        "{method} {path} {status}: no body documented"
                    );
                }
            }
        }
    }
}
dual!(api_edges);

/// `PUT /api/admin/chargers/{deviceId}`: profile 0 → 1 generates a password (shown once), a new
/// password takes effect at the next handshake, profiles outside 0..=3 are refused, unknown → 404.
async fn charger_settings(app: TestApp) {
    let t = app.admin().await;
    let t = Some(t.as_str());
    app.register_charger_with("SET1", json!({"securityProfile": 0}))
        .await;
    let put = |body: Value| {
        app.request(
            reqwest::Method::PUT,
            "/api/admin/chargers/SET1",
            t,
            Some(body),
        )
    };
    let (s, body) = put(json!({"name": "Bay 7", "securityProfile": 1})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["charger"]["name"], "Bay 7");
    assert_eq!(body["charger"]["securityProfile"], 1);
    let generated = body["ocppPassword"].as_str().unwrap().to_string();
    assert_eq!(generated.len(), 40);
    let mut cfg = csms::simulator::SimConfig::new(app.ocpp.clone(), "SET1", 1);
    assert!(
        csms::simulator::Simulator::connect(cfg.clone())
            .await
            .is_err(),
        "no password: refused"
    );
    cfg.password = Some(generated.clone());
    let sim = app.connect(cfg.clone()).await;
    // A password of the operator's choosing; the connected charger is not dropped.
    let (s, body) = put(json!({"ocppPassword": "operator-chosen-pw-1"})).await;
    assert_eq!(s, 200, "{body}");
    assert!(body["ocppPassword"].is_null(), "not generated, not shown");
    assert!(sim.call("Heartbeat", json!({})).await.is_ok());
    assert!(
        csms::simulator::Simulator::connect(cfg.clone())
            .await
            .is_err(),
        "old password refused"
    );
    cfg.password = Some("operator-chosen-pw-1".into());
    assert!(csms::simulator::Simulator::connect(cfg).await.is_ok());
    for bad in [
        json!({"securityProfile": 4}),
        json!({"securityProfile": -1}),
        json!({"ocppPassword": "short"}),
        json!({"ocppPassword": null}),
        json!({"chargingPointId": ""}),
        json!({"name": 5}),
    ] {
        let (s, body) = put(bad.clone()).await;
        assert_eq!(s, 400, "{bad} -> {body}");
    }
    let (s, body) = put(json!({"securityProfile": 0, "ocppPassword": null})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["charger"]["hasOcppPassword"], false);
    let (s, _) = app
        .request(
            reqwest::Method::PUT,
            "/api/admin/chargers/NOPE",
            t,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(s, 404);
}
dual!(charger_settings);

/// ChangeConfiguration `AuthorizationKey` through the commands API: a key csms would refuse is not
/// sent; an accepted one becomes the stored password (the charger's next handshake uses it, the old
/// one is refused), and the message log never shows it.
async fn authorization_key_rotates_the_password(app: TestApp) {
    let t = app.admin().await;
    app.register_charger("KEY1", None).await;
    let old = app.sim_config("KEY1", 1);
    let sim = app.connect(old.clone()).await;
    let path = "/api/admin/chargers/KEY1/commands/ChangeConfiguration";
    let (s, body) = app
        .post(
            path,
            Some(&t),
            json!({"key": "AuthorizationKey", "value": "short"}),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(sim.received_count("ChangeConfiguration"), 0, "not sent");
    let new_key = "0123456789abcdef0123456789abcdef01234567";
    let (s, body) = app
        .post(
            path,
            Some(&t),
            json!({"key": "AuthorizationKey", "value": new_key}),
        )
        .await;
    assert_eq!(
        (s, body["response"]["status"].as_str()),
        (200, Some("Accepted")),
        "{body}"
    );
    assert!(
        csms::simulator::Simulator::connect(old.clone())
            .await
            .is_err(),
        "the old password is refused"
    );
    sim.reconnect().await.unwrap(); // with the new key, as a real charger does
    assert!(sim.call("Heartbeat", json!({})).await.is_ok());
    let log = app
        .message_log_with(&t, "KEY1", |m| m["action"] == "ChangeConfiguration")
        .await;
    let text = Value::from(log).to_string();
    assert!(text.contains("AuthorizationKey"), "{text}");
    assert!(!text.contains(new_key), "the key is not logged");
}
dual!(authorization_key_rotates_the_password);

/// Configuration keys are CiString in OCPP: a charger takes `authorizationkey` as
/// `AuthorizationKey`. csms must too: the length check, the password store and the message log's
/// redaction apply to any case, and `securityprofile` is held to the "no downgrade" rule.
async fn configuration_keys_are_case_insensitive(app: TestApp) {
    let t = app.admin().await;
    app.register_charger("KEYCI", None).await;
    let sim = app.connect(app.sim_config("KEYCI", 1)).await;
    let path = "/api/admin/chargers/KEYCI/commands/ChangeConfiguration";
    let (s, body) = app
        .post(
            path,
            Some(&t),
            json!({"key": "authorizationkey", "value": "short"}),
        )
        .await;
    assert_eq!(s, 400, "the length check applies: {body}");
    assert_eq!(sim.received_count("ChangeConfiguration"), 0, "not sent");
    let (s, body) = app
        .post(
            path,
            Some(&t),
            json!({"key": "securityprofile", "value": "0"}),
        )
        .await;
    assert_eq!(s, 400, "no downgrade: {body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("only raise"),
        "{body}"
    );
    let new_key = "fedcba9876543210fedcba9876543210fedcba98";
    let (s, body) = app
        .post(
            path,
            Some(&t),
            json!({"key": "AUTHORIZATIONKEY", "value": new_key}),
        )
        .await;
    assert_eq!(
        (s, body["response"]["status"].as_str()),
        (200, Some("Accepted")),
        "{body}"
    );
    // The charger took the new key; csms stored it, so the charger is not locked out.
    sim.reconnect().await.unwrap();
    assert!(sim.call("Heartbeat", json!({})).await.is_ok());
    let log = app
        .message_log_with(&t, "KEYCI", |m| {
            m["action"] == "ChangeConfiguration" && m["direction"] == "in"
        })
        .await;
    let text = Value::from(log).to_string();
    assert!(text.contains("AUTHORIZATIONKEY"), "{text}");
    assert!(!text.contains(new_key), "the key is not logged: {text}");
}
dual!(configuration_keys_are_case_insensitive);
