//! Security extension: TC_073 (password rotation with ChangeConfiguration AuthorizationKey),
//! TC_074 to TC_081 (certificates, security events, security log, signed firmware), TC_083 (the
//! security profile upgrade), TC_085 (Basic auth), TC_086 and TC_087 (TLS with a server certificate,
//! and with client certificates) and TC_088 (subprotocol).
//!
//! Back to back, the identity moves on through these cases as a tool's charge point does: TC_073
//! rotates its password, TC_083 raises it to profile 2 (`wss://` and Basic auth), TC_087 to
//! profile 3 (a client certificate); each later case connects as the identity now must.

use csms::simulator::{SimConfig, Simulator};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::helpers::{ClientCert, TestApp, TestPki};
use crate::{Ctx, call, case, eventually, sent};

pub async fn tc_073_update_charge_point_password_for_http_basic_authentication(ctx: Ctx) {
    ctx.register().await;
    let old = ctx.sim_config(1);
    let sim = ctx.connect(old.clone()).await;
    if ctx.is_shared() {
        // As the tool's charge point does (issue 20, item 5): it answers Accepted and reconnects
        // with the new password at once, without waiting for anything.
        sim.set_reconnect_after(Some("ChangeConfiguration"));
    }
    let key = "a1b2c3d4e5f60718293a4b5c6d7e8f9001122334"; // 20 bytes, hex
    let r = ctx
        .cmd(
            "ChangeConfiguration",
            json!({"key": "AuthorizationKey", "value": key}),
        )
        .await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "ChangeConfiguration")[0]["value"], key);
    if ctx.is_shared() {
        // It came back by itself: with the new password it is accepted.
        let mut back = false;
        for _ in 0..100 {
            if !sim.is_closed() && sim.call("Heartbeat", json!({})).await.is_ok() {
                back = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            back,
            "the charger's reconnect with the new password was refused"
        );
        sim.set_reconnect_after(None);
    } else {
        sim.reconnect().await.unwrap();
    }
    sim.call("Heartbeat", json!({})).await.unwrap();
    assert!(
        Simulator::connect(old).await.is_err(),
        "the old password is refused"
    );
}
case!(
    tc_073_update_charge_point_password_for_http_basic_authentication,
    "TC_073"
);

pub async fn tc_085_basic_authentication_valid_username_password(ctx: Ctx) {
    // Isolated: registered with this password. Back to back: the identity's password as it is
    // now (rotated by TC_073), over `wss://` since TC_083.
    ctx.register_with(json!({"ocppPassword": "valid-password-0123"}))
        .await;
    let sim = ctx.connect(ctx.sim_config(1)).await; // Basic auth, the known password
    sim.call("Heartbeat", json!({})).await.unwrap();
    let mut wrong = ctx.sim_config(1);
    wrong.password = Some("wrong-password-0123".into());
    assert!(Simulator::connect(wrong).await.is_err());
}
case!(
    tc_085_basic_authentication_valid_username_password,
    "TC_085"
);

/// A WebSocket handshake as `cfg`'s charge point makes it (its address, TLS and client
/// certificate, Basic auth), offering `protocols`: the subprotocol csms chose, or its HTTP status.
async fn handshake(cfg: &SimConfig, protocols: &str) -> Result<Option<String>, u16> {
    let url = format!("{}/{}", cfg.url.trim_end_matches('/'), cfg.id);
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(protocols).unwrap(),
    );
    if let Some(pw) = &cfg.password {
        use base64::Engine;
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{pw}", cfg.id))
        );
        req.headers_mut()
            .insert("Authorization", HeaderValue::from_str(&auth).unwrap());
    }
    let tls = cfg.ca_cert.as_ref().map(|ca| {
        csms::simulator::tls::client_config(
            ca,
            cfg.client_cert.as_deref(),
            cfg.client_key.as_deref(),
        )
        .unwrap()
    });
    let stream = csms::simulator::tls::connect(req.uri(), tls).await.unwrap();
    match tokio_tungstenite::client_async(req, stream).await {
        Ok((_, resp)) => Ok(resp
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap().to_string())),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected handshake error {e}"),
    }
}

pub async fn tc_088_websocket_subprotocol_negotiation(ctx: Ctx) {
    ctx.register().await;
    let cfg = ctx.sim_config(1);
    assert!(cfg.password.is_some() || cfg.client_cert.is_some());
    assert_eq!(handshake(&cfg, "ocpp2.0.1").await, Err(400));
    assert_eq!(
        handshake(&cfg, "ocpp2.0.1, ocpp1.6").await,
        Ok(Some("ocpp1.6".into()))
    );
}
case!(tc_088_websocket_subprotocol_negotiation, "TC_088");

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

pub async fn tc_074_update_charge_point_certificate_by_request_of_central_system(ctx: Ctx) {
    let (app, admin, device) = (&ctx.app, &ctx.admin, ctx.device());
    let sim = ctx.charger(1).await;
    let issued_before = certificates(app, admin, device).await["issued"]
        .as_array()
        .map_or(0, |a| a.len());
    let r = ctx
        .cmd(
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
    let ca = csms::infra::ca::Ca::open(&app.settings.ca_dir).unwrap();
    assert!(chain.ends_with(ca.cert_pem()));
    let (_, leaf) = x509_parser::pem::parse_x509_pem(chain.as_bytes()).unwrap();
    let leaf = leaf.parse_x509().unwrap();
    let (_, root) = x509_parser::pem::parse_x509_pem(ca.cert_pem().as_bytes()).unwrap();
    let root = root.parse_x509().unwrap();
    leaf.verify_signature(Some(root.public_key()))
        .expect("signed by the charger CA");
    // Exactly one common name: the charger's.
    assert_eq!(
        csms::infra::ca::single_common_name(leaf.subject()).unwrap(),
        device
    );
    let hash = csms::infra::ca::hash_data(&chain, Some(ca.cert_pem())).unwrap();
    // Stored with the charger's answer to CertificateSigned.
    eventually("CertificateSigned answer stored", || async {
        certificates(app, admin, device).await["issued"][0]["status"] == "Accepted"
    })
    .await;
    let issued = &certificates(app, admin, device).await["issued"];
    assert_eq!(issued.as_array().unwrap().len(), issued_before + 1);
    assert_eq!(issued[0]["serial"], hash.serial_number.as_str());
    assert_eq!(issued[0]["commonName"], device);
    assert_eq!(issued[0]["expired"], false);
    assert_eq!(
        issued[0]["notAfter"],
        csms::protocol::ocpp16::messages::format_timestamp(hash.not_after).as_str()
    );
    let days = (hash.not_after - chrono::Utc::now().naive_utc()).num_days();
    assert!((363..=365).contains(&days), "{days} days");
}
case!(
    tc_074_update_charge_point_certificate_by_request_of_central_system,
    "TC_074"
);

/// A root certificate made for the test (self-signed, as roots are).
fn root_certificate() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let pem = csms::infra::ca::Ca::open(dir.path())
        .unwrap()
        .cert_pem()
        .to_string();
    (dir, pem)
}

async fn install_certificate(ctx: Ctx, kind: &str) {
    let sim = ctx.charger(1).await;
    let (_dir, pem) = root_certificate();
    let body = json!({"certificateType": kind, "certificate": pem});
    let r = ctx.cmd("InstallCertificate", body.clone()).await;
    assert_eq!(r["status"], "Accepted");
    assert_eq!(sent(&sim, "InstallCertificate"), vec![body]);
    assert_eq!(
        sim.installed_certificates(),
        vec![(kind.to_string(), pem.clone())]
    );
    // csms knows it is installed, with the hash data the charger will report.
    let hash = csms::infra::ca::hash_data(&pem, None).unwrap();
    let installed = certificates(&ctx.app, &ctx.admin, ctx.device()).await["installed"].clone();
    let all = installed.as_array().unwrap();
    if !ctx.is_shared() {
        assert_eq!(all.len(), 1, "{installed}");
    }
    // Back to back, earlier cases' certificates may be listed too: this one is, once.
    let this: Vec<&serde_json::Value> = all
        .iter()
        .filter(|c| c["serialNumber"] == hash.serial_number.as_str())
        .collect();
    assert_eq!(this.len(), 1, "{installed}");
    assert_eq!(this[0]["certificateType"], kind);
    assert_eq!(this[0]["issuerNameHash"], hash.issuer_name_hash.as_str());
    assert_eq!(this[0]["issuerKeyHash"], hash.issuer_key_hash.as_str());
}

pub async fn tc_075_1_install_a_certificate_manufacturer_root_certificate(ctx: Ctx) {
    install_certificate(ctx, "ManufacturerRootCertificate").await;
}
case!(
    tc_075_1_install_a_certificate_manufacturer_root_certificate,
    "TC_075_1"
);

pub async fn tc_075_2_install_a_certificate_central_system_root_certificate(ctx: Ctx) {
    install_certificate(ctx, "CentralSystemRootCertificate").await;
}
case!(
    tc_075_2_install_a_certificate_central_system_root_certificate,
    "TC_075_2"
);

pub async fn tc_076_delete_a_specific_certificate(ctx: Ctx) {
    let (app, admin, device) = (&ctx.app, &ctx.admin, ctx.device());
    let sim = ctx.charger(1).await;
    let (_d1, first) = root_certificate();
    let (_d2, second) = root_certificate();
    for pem in [&first, &second] {
        let r = ctx
            .cmd(
                "InstallCertificate",
                json!({"certificateType": "CentralSystemRootCertificate", "certificate": pem}),
            )
            .await;
        assert_eq!(r["status"], "Accepted");
    }
    let r = ctx
        .cmd(
            "GetInstalledCertificateIds",
            json!({"certificateType": "CentralSystemRootCertificate"}),
        )
        .await;
    assert_eq!(r["status"], "Accepted");
    let hashes = r["certificateHashData"].as_array().unwrap().clone();
    assert_eq!(hashes.len(), 2);
    let first_hash = csms::infra::ca::hash_data(&first, None).unwrap();
    assert_eq!(hashes[0]["serialNumber"], first_hash.serial_number.as_str());
    assert_eq!(hashes[0]["hashAlgorithm"], "SHA256");
    // What the charger reported is what csms shows.
    let roots = || async {
        let installed = certificates(app, admin, device).await["installed"].clone();
        let roots: Vec<serde_json::Value> = installed
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["certificateType"] == "CentralSystemRootCertificate")
            .cloned()
            .collect();
        if !ctx.is_shared() {
            assert_eq!(
                installed.as_array().unwrap().len(),
                roots.len(),
                "{installed}"
            );
        }
        roots
    };
    assert_eq!(roots().await.len(), 2);
    // Delete the first with the hash data received.
    let r = ctx
        .cmd(
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
    let installed = roots().await;
    assert_eq!(installed.len(), 1, "{installed:?}");
    assert_eq!(installed[0]["serialNumber"], hashes[1]["serialNumber"]);
    // Gone: a second delete finds nothing.
    let r = ctx
        .cmd(
            "DeleteCertificate",
            json!({"certificateHashData": hashes[0]}),
        )
        .await;
    assert_eq!(r["status"], "NotFound");
}
case!(tc_076_delete_a_specific_certificate, "TC_076");

async fn security_event_case(ctx: Ctx, kind: &str) {
    let (app, admin, device) = (&ctx.app, &ctx.admin, ctx.device());
    let sim = ctx.charger(1).await;
    let before = security_events(app, admin, device).await.len();
    let ts = crate::minutes_ago(1);
    let a = call(
        &sim,
        "SecurityEventNotification",
        json!({"type": kind, "timestamp": ts, "techInfo": "certificate expired"}),
    )
    .await;
    assert_eq!(a, json!({}));
    let events = security_events(app, admin, device).await;
    assert_eq!(events.len(), before + 1, "{events:?}");
    assert_eq!(events[0]["type"], kind);
    assert_eq!(events[0]["techInfo"], "certificate expired");
    assert_eq!(events[0]["source"], "charger");
    assert_eq!(events[0]["critical"], false);
    assert_eq!(events[0]["timestamp"], ts.as_str());
}

pub async fn tc_077_invalid_charge_point_certificate_security_event(ctx: Ctx) {
    security_event_case(ctx, "InvalidChargePointCertificate").await;
}
case!(
    tc_077_invalid_charge_point_certificate_security_event,
    "TC_077"
);

pub async fn tc_078_invalid_central_system_certificate_security_event(ctx: Ctx) {
    security_event_case(ctx, "InvalidCentralSystemCertificate").await;
}
case!(
    tc_078_invalid_central_system_certificate_security_event,
    "TC_078"
);

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

pub async fn tc_079_get_security_log(ctx: Ctx) {
    let (app, admin, device) = (&ctx.app, &ctx.admin, ctx.device());
    let sim = ctx.charger(1).await;
    let (s, b) = app
        .post(
            &format!("/api/admin/chargers/{device}/logs"),
            Some(admin),
            json!({"logType": "SecurityLog"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let job = &b["job"];
    assert_eq!(job["kind"], "SecurityLog");
    assert_eq!(job["fileName"], format!("SecurityLog-{device}.log"));
    let got = sent(&sim, "GetLog");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["logType"], "SecurityLog");
    assert_eq!(got[0]["requestId"], job["requestId"]);
    assert_eq!(got[0]["log"]["remoteLocation"], job["location"]);
    for status in ["Uploading", "Uploaded"] {
        eventually(status, || async {
            ctx.answered("LogStatusNotification", "status", status)
                .await
        })
        .await;
    }
    let jobs = security_jobs(app, admin, device).await;
    assert_eq!(history(&jobs[0]), ["Requested", "Uploading", "Uploaded"]);
    assert_eq!(jobs[0]["status"], "Uploaded");
    // The log itself reached csms.
    let file = reqwest::Client::new()
        .get(format!(
            "{}/api/admin/security-jobs/{}/file",
            app.http, jobs[0]["id"]
        ))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.text().await.unwrap(),
        format!("security log of {device}\n")
    );
}
case!(tc_079_get_security_log, "TC_079");

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
    let ca = csms::infra::ca::Ca::open(dir.path()).unwrap();
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

pub async fn tc_080_secure_firmware_update(ctx: Ctx) {
    let (app, admin, device) = (&ctx.app, &ctx.admin, ctx.device());
    let sim = ctx.charger(1).await;
    let (_dir, image, cert, signature) = signed_image(app, admin).await;
    let (s, b) = app
        .post(
            &format!("/api/admin/chargers/{device}/signed-firmware"),
            Some(admin),
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
            ctx.answered("SignedFirmwareStatusNotification", "status", status)
                .await
        })
        .await;
    }
    let jobs = security_jobs(app, admin, device).await;
    let mut expected = vec!["Requested"];
    expected.extend(steps);
    assert_eq!(history(&jobs[0]), expected);
    assert_eq!(sim.downloaded(), vec![b"signed firmware image".to_vec()]);
}
case!(tc_080_secure_firmware_update, "TC_080");

pub async fn tc_081_secure_firmware_update_invalid_signature(ctx: Ctx) {
    let (app, admin, device) = (&ctx.app, &ctx.admin, ctx.device());
    let sim = ctx.charger(1).await;
    let (_dir, image, cert, _) = signed_image(app, admin).await;
    // Signed with another key than the signing certificate's: the charger's check fails.
    let (_other_dir, _, _, signature) = signed_image(app, admin).await;
    let (s, b) = app
        .post(
            &format!("/api/admin/chargers/{device}/signed-firmware"),
            Some(admin),
            json!({"imageId": image, "signingCertificate": cert, "signature": signature}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    eventually("InvalidFirmwareSignature event", || async {
        security_events(app, admin, device)
            .await
            .iter()
            .any(|e| e["type"] == "InvalidFirmwareSignature" && e["source"] == "charger")
    })
    .await;
    // The status came before the event, but the message log is written behind (group commit).
    eventually(
        "SignedFirmwareStatusNotification InvalidSignature answered",
        || async {
            ctx.answered(
                "SignedFirmwareStatusNotification",
                "status",
                "InvalidSignature",
            )
            .await
        },
    )
    .await;
    let jobs = security_jobs(app, admin, device).await;
    assert_eq!(jobs[0]["status"], "InvalidSignature");
    assert_eq!(
        history(&jobs[0]),
        ["Requested", "Downloading", "Downloaded", "InvalidSignature"]
    );
    // Not installed: no reboot.
    assert_eq!(sim.received_count("SignedUpdateFirmware"), 1);
    assert_eq!(ctx.received_from_charger("BootNotification").await, 1);
}
case!(tc_081_secure_firmware_update_invalid_signature, "TC_081");

pub async fn tc_083_upgrade_charge_point_security_profile_accepted(ctx: Ctx) {
    let (app, admin, device) = (&ctx.app, &ctx.admin, ctx.device());
    ctx.register_with(json!({"ocppPassword": "tc083-password-0001"}))
        .await;
    let plain = ctx.sim_config(1);
    assert!(plain.url.starts_with("ws://"), "{}", plain.url);
    let mut cfg = plain.clone();
    cfg.tls_url = app.wss.clone();
    cfg.ca_cert = Some(TestPki::of(app).ca_cert());
    let sim = ctx.connect(cfg).await;
    // Lowering, or a profile csms cannot serve, is refused before anything is sent.
    for (value, why) in [
        ("1", "only raise"),
        ("0", "only raise"),
        ("7", "0, 1, 2 or 3"),
    ] {
        let (s, b) = app
            .post(
                &format!("/api/admin/chargers/{device}/commands/ChangeConfiguration"),
                Some(admin),
                json!({"key": "SecurityProfile", "value": value}),
            )
            .await;
        assert_eq!(s, 400, "{value}: {b}");
        assert!(b["error"].as_str().unwrap_or_default().contains(why), "{b}");
    }
    let r = ctx
        .cmd(
            "ChangeConfiguration",
            json!({"key": "SecurityProfile", "value": "2"}),
        )
        .await;
    assert_eq!(r["status"], "Accepted");
    let r = ctx.cmd("Reset", json!({"type": "Hard"})).await;
    assert_eq!(r["status"], "Accepted");
    // The charger comes back at profile 2 (wss + Basic auth) and is accepted.
    sim.reconnect().await.unwrap();
    sim.call("Heartbeat", json!({})).await.unwrap();
    let (_, charger) = app
        .get(&format!("/api/admin/chargers/{device}"), Some(admin))
        .await;
    assert_eq!(charger["charger"]["securityProfile"], 2, "{charger}");
    // The old profile is refused from now on.
    let e = Simulator::connect(plain).await.err().expect("ws refused");
    assert!(e.to_string().contains("403"), "{e}");
}
case!(
    tc_083_upgrade_charge_point_security_profile_accepted,
    "TC_083",
    crate::helpers::tls
);

/// The case's charge point over `wss://` (isolated: trusting the test CA, with `client` when
/// given; back to back: as the identity connects now, which must be `wss://` by then).
fn tls_config(ctx: &Ctx, client: Option<(std::path::PathBuf, std::path::PathBuf)>) -> SimConfig {
    if !ctx.is_shared() {
        return ctx.app.tls_config(ctx.device(), 1, client);
    }
    let mut cfg = ctx.sim_config(1);
    assert!(cfg.url.starts_with("wss://"), "{}", cfg.url);
    if let Some((cert, key)) = client {
        cfg.client_cert = Some(cert);
        cfg.client_key = Some(key);
    }
    cfg
}

pub async fn tc_086_tls_server_side_certificate_valid_certificate(ctx: Ctx) {
    ctx.register_with(json!({"securityProfile": 2, "ocppPassword": "tc086-password-0001"}))
        .await;
    let sim = ctx.connect(tls_config(&ctx, None)).await;
    sim.call("Heartbeat", json!({})).await.unwrap();
    // The client checked csms's certificate against the CA it trusts: another CA fails.
    let mut untrusting = tls_config(&ctx, None);
    untrusting.ca_cert = Some(TestPki::create().ca_cert());
    assert!(Simulator::connect(untrusting).await.is_err());
}
case!(
    tc_086_tls_server_side_certificate_valid_certificate,
    "TC_086",
    crate::helpers::tls
);

pub async fn tc_087_tls_client_side_certificate_valid_certificate(ctx: Ctx) {
    let (app, device) = (&ctx.app, ctx.device());
    ctx.register_with(json!({"securityProfile": 3})).await;
    let pki = TestPki::of(app);
    let cert = pki.client(device, ClientCert::Valid);
    let sim = ctx.connect(tls_config(&ctx, Some(cert))).await;
    if ctx.is_shared() {
        // The identity is at profile 2: the charge point, given a client certificate, is
        // raised to profile 3 by the operator and comes back with it.
        let r = ctx
            .cmd(
                "ChangeConfiguration",
                json!({"key": "SecurityProfile", "value": "3"}),
            )
            .await;
        assert_eq!(r["status"], "Accepted");
        let r = ctx.cmd("Reset", json!({"type": "Hard"})).await;
        assert_eq!(r["status"], "Accepted");
        sim.reconnect().await.unwrap();
        let (_, charger) = app
            .get(&format!("/api/admin/chargers/{device}"), Some(&ctx.admin))
            .await;
        assert_eq!(charger["charger"]["securityProfile"], 3, "{charger}");
    }
    sim.call("Heartbeat", json!({})).await.unwrap();
    let e = Simulator::connect(tls_config(&ctx, None))
        .await
        .err()
        .expect("no client certificate: refused");
    assert!(e.to_string().contains("403"), "{e}");
}
case!(
    tc_087_tls_client_side_certificate_valid_certificate,
    "TC_087",
    crate::helpers::tls
);
