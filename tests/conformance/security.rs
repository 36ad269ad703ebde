//! Security extension: TC_073 (password rotation with ChangeConfiguration AuthorizationKey),
//! TC_074 to TC_081 (certificates, security events, security log, signed firmware), TC_083 (the
//! security profile upgrade), TC_085 (Basic auth), TC_086 and TC_087 (TLS with a server certificate,
//! and with client certificates) and TC_088 (subprotocol).

use csms::simulator::Simulator;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{ClientCert, TestApp, TestPki};
use crate::{answered, call, cmd, dual, eventually, sent};

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

/// The charger's certificates as csms shows them to operators.
async fn certificates(app: &TestApp, admin: &str, device: &str) -> serde_json::Value {
    let (s, b) = app
        .get(
            &format!("/api/admin/chargers/{device}/certificates"),
            Some(admin),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["certificates"].clone()
}

/// The charger's security events (newest first).
async fn security_events(app: &TestApp, admin: &str, device: &str) -> Vec<serde_json::Value> {
    let (s, b) = app
        .get(
            &format!("/api/admin/chargers/{device}/security-events"),
            Some(admin),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["events"].as_array().cloned().unwrap_or_default()
}

async fn tc_074_update_charge_point_certificate_by_request_of_central_system(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC074", 1).await;
    let r = cmd(
        &app,
        &admin,
        "TC074",
        "ExtendedTriggerMessage",
        json!({"requestedMessage": "SignChargePointCertificate"}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    eventually("CertificateSigned received", || async {
        sim.certificate().is_some()
    })
    .await;
    assert_eq!(sim.sign_answers(), vec!["Accepted".to_string()]);
    let (chain, _) = sim.certificate().unwrap();
    let got = sent(&sim, "CertificateSigned");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["certificateChain"], chain.as_str());
    // Issued by the charger CA in CSMS_CA_DIR, for the CSR's key (checked by the simulator), to
    // the charger's identity, and the chain ends with the CA certificate.
    let ca = csms::ca::Ca::open(&app.settings.ca_dir).unwrap();
    assert!(chain.ends_with(ca.cert_pem()));
    let (_, leaf) = x509_parser::pem::parse_x509_pem(chain.as_bytes()).unwrap();
    let leaf = leaf.parse_x509().unwrap();
    let (_, root) = x509_parser::pem::parse_x509_pem(ca.cert_pem().as_bytes()).unwrap();
    let root = root.parse_x509().unwrap();
    leaf.verify_signature(Some(root.public_key()))
        .expect("signed by the charger CA");
    assert_eq!(
        leaf.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "TC074"
    );
    let hash = csms::ca::hash_data(&chain, Some(ca.cert_pem())).unwrap();
    // Stored with the charger's answer to CertificateSigned.
    eventually("CertificateSigned answer stored", || async {
        certificates(&app, &admin, "TC074").await["issued"][0]["status"] == "Accepted"
    })
    .await;
    let issued = &certificates(&app, &admin, "TC074").await["issued"];
    assert_eq!(issued.as_array().unwrap().len(), 1);
    assert_eq!(issued[0]["serial"], hash.serial_number.as_str());
    assert_eq!(issued[0]["commonName"], "TC074");
    assert_eq!(issued[0]["expired"], false);
    assert_eq!(
        issued[0]["notAfter"],
        csms::ocpp::messages::format_timestamp(hash.not_after).as_str()
    );
    let days = (hash.not_after - chrono::Utc::now().naive_utc()).num_days();
    assert!((363..=365).contains(&days), "{days} days");
}
dual!(tc_074_update_charge_point_certificate_by_request_of_central_system);

/// A root certificate made for the test (self-signed, as roots are).
fn root_certificate() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let pem = csms::ca::Ca::open(dir.path())
        .unwrap()
        .cert_pem()
        .to_string();
    (dir, pem)
}

async fn install_certificate(app: TestApp, device: &str, kind: &str) {
    let admin = app.admin().await;
    let sim = app.charger(device, 1).await;
    let (_dir, pem) = root_certificate();
    let body = json!({"certificateType": kind, "certificate": pem});
    let r = cmd(&app, &admin, device, "InstallCertificate", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "InstallCertificate"), vec![body]);
    assert_eq!(
        sim.installed_certificates(),
        vec![(kind.to_string(), pem.clone())]
    );
    // csms knows it is installed, with the hash data the charger will report.
    let hash = csms::ca::hash_data(&pem, None).unwrap();
    let installed = &certificates(&app, &admin, device).await["installed"];
    assert_eq!(installed.as_array().unwrap().len(), 1, "{installed}");
    assert_eq!(installed[0]["certificateType"], kind);
    assert_eq!(installed[0]["serialNumber"], hash.serial_number.as_str());
    assert_eq!(
        installed[0]["issuerNameHash"],
        hash.issuer_name_hash.as_str()
    );
    assert_eq!(installed[0]["issuerKeyHash"], hash.issuer_key_hash.as_str());
}

async fn tc_075_1_install_a_certificate_manufacturer_root_certificate(app: TestApp) {
    install_certificate(app, "TC0751", "ManufacturerRootCertificate").await;
}
dual!(tc_075_1_install_a_certificate_manufacturer_root_certificate);

async fn tc_075_2_install_a_certificate_central_system_root_certificate(app: TestApp) {
    install_certificate(app, "TC0752", "CentralSystemRootCertificate").await;
}
dual!(tc_075_2_install_a_certificate_central_system_root_certificate);

async fn tc_076_delete_a_specific_certificate(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC076", 1).await;
    let (_d1, first) = root_certificate();
    let (_d2, second) = root_certificate();
    for pem in [&first, &second] {
        let r = cmd(
            &app,
            &admin,
            "TC076",
            "InstallCertificate",
            json!({"certificateType": "CentralSystemRootCertificate", "certificate": pem}),
        )
        .await;
        assert_eq!(r["status"], "Accepted");
    }
    let r = cmd(
        &app,
        &admin,
        "TC076",
        "GetInstalledCertificateIds",
        json!({"certificateType": "CentralSystemRootCertificate"}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    let hashes = r["certificateHashData"].as_array().unwrap().clone();
    assert_eq!(hashes.len(), 2);
    let first_hash = csms::ca::hash_data(&first, None).unwrap();
    assert_eq!(hashes[0]["serialNumber"], first_hash.serial_number.as_str());
    assert_eq!(hashes[0]["hashAlgorithm"], "SHA256");
    // What the charger reported is what csms shows.
    let installed = certificates(&app, &admin, "TC076").await["installed"].clone();
    assert_eq!(installed.as_array().unwrap().len(), 2);
    // Delete the first with the hash data received.
    let r = cmd(
        &app,
        &admin,
        "TC076",
        "DeleteCertificate",
        json!({"certificateHashData": hashes[0]}),
    )
    .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(
        sent(&sim, "DeleteCertificate")[0]["certificateHashData"],
        hashes[0]
    );
    assert_eq!(
        sim.installed_certificates(),
        vec![("CentralSystemRootCertificate".to_string(), second.clone())]
    );
    let installed = certificates(&app, &admin, "TC076").await["installed"].clone();
    assert_eq!(installed.as_array().unwrap().len(), 1, "{installed}");
    assert_eq!(installed[0]["serialNumber"], hashes[1]["serialNumber"]);
    // Gone: a second delete finds nothing.
    let r = cmd(
        &app,
        &admin,
        "TC076",
        "DeleteCertificate",
        json!({"certificateHashData": hashes[0]}),
    )
    .await;
    assert_eq!(r["status"], "NotFound");
}
dual!(tc_076_delete_a_specific_certificate);

async fn security_event_case(app: TestApp, device: &str, kind: &str) {
    let admin = app.admin().await;
    let sim = app.charger(device, 1).await;
    let ts = crate::minutes_ago(1);
    let a = call(
        &sim,
        "SecurityEventNotification",
        json!({"type": kind, "timestamp": ts, "techInfo": "certificate expired"}),
    )
    .await;
    assert_eq!(a, json!({}));
    let events = security_events(&app, &admin, device).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], kind);
    assert_eq!(events[0]["techInfo"], "certificate expired");
    assert_eq!(events[0]["source"], "charger");
    assert_eq!(events[0]["critical"], false);
    assert_eq!(events[0]["timestamp"], ts.as_str());
}

async fn tc_077_invalid_charge_point_certificate_security_event(app: TestApp) {
    security_event_case(app, "TC077", "InvalidChargePointCertificate").await;
}
dual!(tc_077_invalid_charge_point_certificate_security_event);

async fn tc_078_invalid_central_system_certificate_security_event(app: TestApp) {
    security_event_case(app, "TC078", "InvalidCentralSystemCertificate").await;
}
dual!(tc_078_invalid_central_system_certificate_security_event);

/// The charger's GetLog / SignedUpdateFirmware jobs (newest first).
async fn security_jobs(app: &TestApp, admin: &str, device: &str) -> Vec<serde_json::Value> {
    let (s, b) = app
        .get(
            &format!("/api/admin/chargers/{device}/security-jobs"),
            Some(admin),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["jobs"].as_array().cloned().unwrap_or_default()
}

fn history(job: &serde_json::Value) -> Vec<String> {
    job["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap().to_string())
        .collect()
}

async fn tc_079_get_security_log(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC079", 1).await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/TC079/logs",
            Some(&admin),
            json!({"logType": "SecurityLog"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let job = &b["job"];
    assert_eq!(job["kind"], "SecurityLog");
    assert_eq!(job["fileName"], "SecurityLog-TC079.log");
    let got = sent(&sim, "GetLog");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["logType"], "SecurityLog");
    assert_eq!(got[0]["requestId"], job["requestId"]);
    assert_eq!(got[0]["log"]["remoteLocation"], job["location"]);
    for status in ["Uploading", "Uploaded"] {
        eventually(status, || async {
            answered(
                &app,
                &admin,
                "TC079",
                "LogStatusNotification",
                "status",
                status,
            )
            .await
        })
        .await;
    }
    let jobs = security_jobs(&app, &admin, "TC079").await;
    assert_eq!(history(&jobs[0]), ["Requested", "Uploading", "Uploaded"]);
    assert_eq!(jobs[0]["status"], "Uploaded");
    // The log itself reached csms.
    let file = reqwest::Client::new()
        .get(format!(
            "{}/api/admin/security-jobs/{}/file",
            app.http, jobs[0]["id"]
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.text().await.unwrap(), "security log of TC079\n");
}
dual!(tc_079_get_security_log);

/// A hosted image and a real signature of it by a signing certificate of the test's CA.
async fn signed_image(app: &TestApp, admin: &str) -> (tempfile::TempDir, i64, String, String) {
    let image = b"signed firmware image".to_vec();
    let (s, b) = {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/api/admin/firmware?name=signed.bin&version=2.0",
                app.http
            ))
            .bearer_auth(admin)
            .body(image.clone())
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.unwrap(),
        )
    };
    assert_eq!(s, 201, "{b}");
    let dir = tempfile::tempdir().unwrap();
    let ca = csms::ca::Ca::open(dir.path()).unwrap();
    let (cert, key) = ca.issue("firmware signer", &[], 30, false).unwrap();
    use base64::Engine;
    use rcgen::SigningKey;
    let signature = rcgen::KeyPair::from_pem(&key)
        .unwrap()
        .sign(&image)
        .unwrap();
    let signature = base64::engine::general_purpose::STANDARD.encode(signature);
    (dir, b["image"]["id"].as_i64().unwrap(), cert, signature)
}

async fn tc_080_secure_firmware_update(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC080", 1).await;
    let (_dir, image, cert, signature) = signed_image(&app, &admin).await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/TC080/signed-firmware",
            Some(&admin),
            json!({"imageId": image, "signingCertificate": cert, "signature": signature}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let got = sent(&sim, "SignedUpdateFirmware");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["requestId"], b["job"]["requestId"]);
    assert_eq!(got[0]["firmware"]["signingCertificate"], cert.as_str());
    assert_eq!(got[0]["firmware"]["signature"], signature.as_str());
    assert_eq!(got[0]["firmware"]["location"], b["job"]["location"]);
    let steps = [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "Installed",
    ];
    for status in steps {
        eventually(status, || async {
            answered(
                &app,
                &admin,
                "TC080",
                "SignedFirmwareStatusNotification",
                "status",
                status,
            )
            .await
        })
        .await;
    }
    let jobs = security_jobs(&app, &admin, "TC080").await;
    let mut expected = vec!["Requested"];
    expected.extend(steps);
    assert_eq!(history(&jobs[0]), expected);
    assert_eq!(sim.downloaded(), vec![b"signed firmware image".to_vec()]);
}
dual!(tc_080_secure_firmware_update);

async fn tc_081_secure_firmware_update_invalid_signature(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC081", 1).await;
    let (_dir, image, cert, _) = signed_image(&app, &admin).await;
    // Signed with another key than the signing certificate's: the charger's check fails.
    let (_other_dir, _, _, signature) = signed_image(&app, &admin).await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/TC081/signed-firmware",
            Some(&admin),
            json!({"imageId": image, "signingCertificate": cert, "signature": signature}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    eventually("InvalidFirmwareSignature event", || async {
        security_events(&app, &admin, "TC081")
            .await
            .iter()
            .any(|e| e["type"] == "InvalidFirmwareSignature" && e["source"] == "charger")
    })
    .await;
    assert!(
        answered(
            &app,
            &admin,
            "TC081",
            "SignedFirmwareStatusNotification",
            "status",
            "InvalidSignature"
        )
        .await
    );
    let jobs = security_jobs(&app, &admin, "TC081").await;
    assert_eq!(jobs[0]["status"], "InvalidSignature");
    assert_eq!(
        history(&jobs[0]),
        ["Requested", "Downloading", "Downloaded", "InvalidSignature"]
    );
    // Not installed: no reboot.
    assert_eq!(sim.received_count("SignedUpdateFirmware"), 1);
    let boots = crate::log(&app, &admin, "TC081")
        .await
        .iter()
        .filter(|(d, a, _)| d == "in" && a == "BootNotification")
        .count();
    assert_eq!(boots, 1);
}
dual!(tc_081_secure_firmware_update_invalid_signature);

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
