//! The security extension's messages with bad input: CSRs csms must refuse (and record as security
//! events), unknown chargers, invalid GetLog and SignedUpdateFirmware requests, unknown upload
//! addresses, and critical security events flagged.

use serde_json::json;

use crate::dual;
use crate::helpers::TestApp;

async fn events(app: &TestApp, admin: &str, device: &str) -> Vec<serde_json::Value> {
    let (s, b) = app
        .get(
            &format!("/api/admin/chargers/{device}/security-events"),
            Some(admin),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["events"].as_array().cloned().unwrap_or_default()
}

async fn issued(app: &TestApp, admin: &str, device: &str) -> Vec<serde_json::Value> {
    let (s, b) = app
        .get(
            &format!("/api/admin/chargers/{device}/certificates"),
            Some(admin),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["certificates"]["issued"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A CSR (PEM) for `cn` with a fresh key.
fn csr(cn: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.serialize_request(&key).unwrap().pem().unwrap()
}

async fn refused(app: &TestApp, admin: &str, device: &str, csr: &str, why: &str) {
    let sim = app.charger(device, 1).await;
    let a = sim
        .call("SignCertificate", json!({ "csr": csr }))
        .await
        .unwrap();
    assert_eq!(a, json!({"status": "Rejected"}));
    let ev = events(app, admin, device).await;
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["type"], "InvalidCertificateSigningRequest");
    assert_eq!(ev[0]["source"], "csms");
    assert!(
        ev[0]["techInfo"].as_str().unwrap().contains(why),
        "{}",
        ev[0]["techInfo"]
    );
    assert!(issued(app, admin, device).await.is_empty());
    // Nothing is sent after a refusal.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sim.received_count("CertificateSigned"), 0);
}

async fn csr_with_another_common_name_is_rejected(app: TestApp) {
    let admin = app.admin().await;
    refused(&app, &admin, "SECCN", &csr("SOMEONE-ELSE"), "SOMEONE-ELSE").await;
}
dual!(csr_with_another_common_name_is_rejected);

/// A CSR (PEM) whose subject is `entries` in order, with a fresh key. rcgen keeps one value per
/// attribute type, so a second common name goes in under CN's OID as a custom type.
fn csr_with(entries: &[(rcgen::DnType, &str)]) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for (ty, value) in entries {
        params.distinguished_name.push(ty.clone(), *value);
    }
    params.serialize_request(&key).unwrap().pem().unwrap()
}

/// The subject of a certificate or CSR as (OID, value) pairs in order.
fn subject_of(pem: &str, csr: bool) -> Vec<(String, String)> {
    use x509_parser::prelude::FromDer;
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let pairs = |name: &x509_parser::x509::X509Name<'_>| -> Vec<(String, String)> {
        name.iter_attributes()
            .map(|a| {
                (
                    a.attr_type().to_id_string(),
                    a.as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    if csr {
        let (_, r) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&p.contents)
                .unwrap();
        pairs(&r.certification_request_info.subject)
    } else {
        pairs(p.parse_x509().unwrap().subject())
    }
}

const CN: &str = "2.5.4.3";

/// Issue 19, item 1: the accepted charger M sends SignCertificate with a CSR whose subject is
/// exactly `CN=M, CN=VICTIM`. Its first common name is M's, and the certificate used to carry the
/// CSR's whole subject (rcgen keeps the last CN: VICTIM), which M could then use to connect as
/// VICTIM at profile 3. Rejected, recorded, and no certificate for anyone.
async fn csr_naming_another_charger_too_is_rejected(app: TestApp) {
    let admin = app.admin().await;
    app.register_charger("VICTIM", None).await;
    let csr = csr_with(&[
        (rcgen::DnType::CommonName, "M"),
        (rcgen::DnType::CustomDnType(vec![2, 5, 4, 3]), "VICTIM"),
    ]);
    assert_eq!(
        subject_of(&csr, true),
        vec![(CN.into(), "M".into()), (CN.into(), "VICTIM".into())],
        "exactly CN=M, CN=VICTIM"
    );
    refused(&app, &admin, "M", &csr, "2 common names").await;
    let rows: i64 = app
        .db(|c| {
            use csms::infra::db::schema::charger_certificates;
            use diesel::prelude::*;
            charger_certificates::table
                .count()
                .get_result::<i64>(c)
                .unwrap()
        })
        .await;
    assert_eq!(rows, 0, "no certificate row for M or VICTIM");
    assert!(events(&app, &admin, "VICTIM").await.is_empty());
}
dual!(csr_naming_another_charger_too_is_rejected);

/// Issue 19, item 1, the certificates issued before the fix: csms's CA signed `CN=VICTIM` for
/// M's CSR `CN=M, CN=VICTIM` and recorded it as M's. A node's start-up finds it among the issued
/// certificates and records it once as a security event of M (who asked for it) and of VICTIM (whom
/// it names); a certificate that reads as recorded is left alone.
async fn misissued_certificates_are_reported_at_start_up(app: TestApp) {
    let admin = app.admin().await;
    for device in ["M", "VICTIM", "FINE"] {
        app.register_charger(device, None).await;
    }
    let ca = csms::infra::ca::Ca::open(&app.settings.ca_dir).unwrap();
    let (forged, _) = ca.issue("VICTIM", &[], 30, true).unwrap();
    let serial = app.record_issued_certificate("M", &forged).await;
    let (fine, _) = ca.issue("FINE", &[], 30, true).unwrap();
    app.record_issued_certificate("FINE", &fine).await;
    let misissued = |events: Vec<serde_json::Value>| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["type"] == "InvalidChargePointCertificate" && e["source"] == "csms")
            .map(|e| e["techInfo"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(misissued(events(&app, &admin, "M").await).is_empty());
    // Another node starting on this database runs the audit. It records M's event, then
    // VICTIM's (one write each): wait for both before reading either.
    let _node = app.another_node(|_| {}).await;
    let (mut found, mut named) = (Vec::new(), Vec::new());
    for _ in 0..400 {
        found = misissued(events(&app, &admin, "M").await);
        named = misissued(events(&app, &admin, "VICTIM").await);
        if !found.is_empty() && !named.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(&serial) && found[0].contains("CN=VICTIM"),
        "{found:?}"
    );
    assert_eq!(named.len(), 1, "{named:?}");
    assert!(
        named[0].contains(&serial) && named[0].contains("\"M\""),
        "{named:?}"
    );
    assert!(misissued(events(&app, &admin, "FINE").await).is_empty());
    // Run again (every start-up does): the same serial found, nothing recorded twice.
    let again = app
        .db(|c| csms::domain::certificates::audit_issued(c).unwrap())
        .await;
    assert_eq!(again, vec![serial]);
    assert_eq!(misissued(events(&app, &admin, "M").await).len(), 1);
    assert_eq!(misissued(events(&app, &admin, "VICTIM").await).len(), 1);
}
dual!(misissued_certificates_are_reported_at_start_up);

/// A subject attribute csms neither puts in certificates nor ignores (here emailAddress) is
/// refused.
async fn csr_with_an_unexpected_subject_attribute_is_rejected(app: TestApp) {
    let admin = app.admin().await;
    let csr = csr_with(&[
        (rcgen::DnType::CommonName, "SECATTR"),
        (
            rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            "ops@example.com",
        ),
    ]);
    refused(&app, &admin, "SECATTR", &csr, "1.2.840.113549.1.9.1").await;
}
dual!(csr_with_an_unexpected_subject_attribute_is_rejected);

/// A CSR as the whitepaper describes it (O = the operator, CN = chargeBoxId) plus a country and an
/// alternative name: the certificate's subject is `CN=<chargeBoxId>` alone, with no alternative
/// name, for the CSR's key.
async fn issued_certificate_names_the_charger_alone(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("SECONE", 1).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["other.example".to_string()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CountryName, "IN");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Some CPO");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "SECONE");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let a = sim
        .call("SignCertificate", json!({ "csr": csr }))
        .await
        .unwrap();
    assert_eq!(a, json!({"status": "Accepted"}));
    app.wait_until(|| sim.received_count("CertificateSigned") == 1)
        .await;
    let certs = issued(&app, &admin, "SECONE").await;
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0]["commonName"], "SECONE");
    let pem = certs[0]["pem"].as_str().unwrap();
    assert_eq!(subject_of(pem, false), vec![(CN.into(), "SECONE".into())]);
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let cert = p.parse_x509().unwrap();
    assert!(cert.subject_alternative_name().unwrap().is_none());
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw()
    );
    // The simulator's own CSR (CN and O) is accepted the same way.
    assert_eq!(sim.sign_certificate().await.unwrap(), "Accepted");
    app.wait_until(|| sim.certificate().is_some()).await;
    let (chain, _) = sim.certificate().unwrap();
    assert_eq!(
        subject_of(&chain, false),
        vec![(CN.into(), "SECONE".into())]
    );
}
dual!(issued_certificate_names_the_charger_alone);

async fn garbage_csr_is_rejected(app: TestApp) {
    let admin = app.admin().await;
    refused(
        &app,
        &admin,
        "SECBAD",
        "not a CSR",
        "Invalid certificate signing request",
    )
    .await;
}
dual!(garbage_csr_is_rejected);

async fn csr_with_a_broken_signature_is_rejected(app: TestApp) {
    use base64::Engine;
    let admin = app.admin().await;
    let good = csr("SECSIG");
    let (_, pem) = x509_parser::pem::parse_x509_pem(good.as_bytes()).unwrap();
    let mut der = pem.contents;
    let last = der.len() - 1;
    der[last] ^= 0x01; // the last byte of the signature
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let bad = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        lines.join("\n")
    );
    refused(
        &app,
        &admin,
        "SECSIG",
        &bad,
        "Invalid certificate signing request",
    )
    .await;
}
dual!(csr_with_a_broken_signature_is_rejected);

async fn simulator_with_a_wrong_common_name_gets_no_certificate(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("SECSIM", 1).await;
    sim.set_csr_common_name(Some("OTHER"));
    assert_eq!(sim.sign_certificate().await.unwrap(), "Rejected");
    assert!(sim.certificate().is_none());
    sim.set_csr_common_name(None);
    assert_eq!(sim.sign_certificate().await.unwrap(), "Accepted");
    app.wait_until(|| sim.certificate().is_some()).await;
    let certs = issued(&app, &admin, "SECSIM").await;
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0]["commonName"], "SECSIM");
}
dual!(simulator_with_a_wrong_common_name_gets_no_certificate);

async fn critical_security_events_are_flagged(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("SECEV", 1).await;
    sim.security_event("TamperDetectionActivated", Some("lid opened"))
        .await
        .unwrap();
    sim.security_event("InvalidMessages", None).await.unwrap();
    let ev = events(&app, &admin, "SECEV").await;
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0]["type"], "InvalidMessages");
    assert_eq!(ev[0]["critical"], false);
    assert_eq!(ev[1]["type"], "TamperDetectionActivated");
    assert_eq!(ev[1]["critical"], true);
    assert_eq!(ev[1]["techInfo"], "lid opened");
    // A type longer than the schema allows is refused before it is stored.
    let e = sim
        .call(
            "SecurityEventNotification",
            json!({"type": "x".repeat(51), "timestamp": "2026-01-01T00:00:00Z"}),
        )
        .await;
    assert!(e.is_err(), "{e:?}");
    assert_eq!(events(&app, &admin, "SECEV").await.len(), 2);
}
dual!(critical_security_events_are_flagged);

async fn unknown_charger_is_404(app: TestApp) {
    let admin = app.admin().await;
    for path in ["certificates", "security-events", "security-jobs"] {
        let (s, b) = app
            .get(&format!("/api/admin/chargers/NOPE/{path}"), Some(&admin))
            .await;
        assert_eq!(s, 404, "{path}: {b}");
    }
    let (s, b) = app
        .post(
            "/api/admin/chargers/NOPE/logs",
            Some(&admin),
            json!({"logType": "SecurityLog"}),
        )
        .await;
    assert_eq!(s, 404, "{b}");
    // Operators only.
    let (s, _) = app.get("/api/admin/chargers/NOPE/certificates", None).await;
    assert_eq!(s, 401);
}
dual!(unknown_charger_is_404);

async fn bad_log_and_signed_firmware_requests_are_400(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("SECBODY", 1).await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECBODY/logs",
            Some(&admin),
            json!({"logType": "EverythingLog"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECBODY/logs",
            Some(&admin),
            json!({"logType": "SecurityLog", "oldestTimestamp": "2026-02-01T00:00:00Z", "latestTimestamp": "2026-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECBODY/signed-firmware",
            Some(&admin),
            json!({"imageId": 1, "signingCertificate": "not a certificate", "signature": "AAAA"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let dir = tempfile::tempdir().unwrap();
    let cert = csms::infra::ca::Ca::open(dir.path())
        .unwrap()
        .cert_pem()
        .to_string();
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECBODY/signed-firmware",
            Some(&admin),
            json!({"imageId": 1, "signingCertificate": cert, "signature": "***"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECBODY/signed-firmware",
            Some(&admin),
            json!({"imageId": 999, "signingCertificate": cert, "signature": "AAAA"}),
        )
        .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(sim.received_count("GetLog"), 0);
    assert_eq!(sim.received_count("SignedUpdateFirmware"), 0);
    // An offline charger: 409, no job.
    sim.disconnect().await;
    sim.closed().await;
    app.wait_until(|| !app.state.registry.is_online("SECBODY"))
        .await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECBODY/logs",
            Some(&admin),
            json!({"logType": "SecurityLog"}),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    let (s, b) = app
        .get("/api/admin/chargers/SECBODY/security-jobs", Some(&admin))
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["jobs"], json!([]));
}
dual!(bad_log_and_signed_firmware_requests_are_400);

async fn unknown_log_upload_address_is_404(app: TestApp) {
    let r = reqwest::Client::new()
        .put(format!("{}/files/logs/0123456789abcdef/x.log", app.http))
        .body("log")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
dual!(unknown_log_upload_address_is_404);

/// Deleting a charger (no charging history) takes its certificates, security events and jobs
/// with it, on both databases (foreign keys cascade).
async fn deleting_a_charger_takes_its_security_records(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("SECDEL", 1).await;
    assert_eq!(sim.sign_certificate().await.unwrap(), "Accepted");
    app.wait_until(|| sim.certificate().is_some()).await;
    sim.security_event("StartupOfTheDevice", None)
        .await
        .unwrap();
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECDEL/logs",
            Some(&admin),
            json!({"logType": "DiagnosticsLog"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(issued(&app, &admin, "SECDEL").await.len(), 1);
    sim.disconnect().await;
    let (s, b) = app
        .request(
            reqwest::Method::DELETE,
            "/api/admin/chargers/SECDEL",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = app
        .get("/api/admin/chargers/SECDEL/security-events", Some(&admin))
        .await;
    assert_eq!(s, 404);
    let left: i64 = app
        .db(|c| {
            use csms::infra::db::schema::{charger_certificates, security_events, security_jobs};
            use diesel::prelude::*;
            charger_certificates::table
                .count()
                .get_result::<i64>(c)
                .unwrap()
                + security_events::table.count().get_result::<i64>(c).unwrap()
                + security_jobs::table.count().get_result::<i64>(c).unwrap()
        })
        .await;
    assert_eq!(left, 0);
}
dual!(deleting_a_charger_takes_its_security_records);

/// GetLog through the commands API (the operator's own location and requestId) is tracked as a job
/// under that requestId, and GetInstalledCertificateIds NotFound clears what csms knew installed.
async fn commands_api_security_messages_are_tracked(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("SECCMD", 1).await;
    // An upload address csms made (and the charger did not use: each takes one upload).
    sim.set_answer("GetLog", Some(json!({"status": "Accepted"})));
    let (_, job) = app
        .post(
            "/api/admin/chargers/SECCMD/logs",
            Some(&admin),
            json!({"logType": "SecurityLog"}),
        )
        .await;
    sim.set_answer("GetLog", None);
    let location = job["job"]["location"].as_str().unwrap().to_string();
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECCMD/commands/GetLog",
            Some(&admin),
            json!({"logType": "DiagnosticsLog", "requestId": 4242, "log": {"remoteLocation": location}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["response"]["status"], "Accepted");
    let mut done = false;
    for _ in 0..300 {
        let (_, b) = app
            .get("/api/admin/chargers/SECCMD/security-jobs", Some(&admin))
            .await;
        let jobs = b["jobs"].as_array().cloned().unwrap_or_default();
        if jobs.iter().any(|j| {
            j["requestId"] == 4242 && j["kind"] == "DiagnosticsLog" && j["status"] == "Uploaded"
        }) {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        done,
        "the commands API's GetLog reached Uploaded under requestId 4242"
    );
    assert!(sim.uploaded_logs().iter().any(|(r, _)| *r == 4242));
    // A root installed, then the charger reports none of that type: csms forgets it.
    let dir = tempfile::tempdir().unwrap();
    let pem = csms::infra::ca::Ca::open(dir.path())
        .unwrap()
        .cert_pem()
        .to_string();
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECCMD/commands/InstallCertificate",
            Some(&admin),
            json!({"certificateType": "ManufacturerRootCertificate", "certificate": pem}),
        )
        .await;
    assert_eq!((s, &b["response"]["status"]), (200, &json!("Accepted")));
    let installed = |app: &TestApp, admin: String| {
        let app_http = app.http.clone();
        async move {
            let r = reqwest::Client::new()
                .get(format!("{app_http}/api/admin/chargers/SECCMD/certificates"))
                .bearer_auth(admin)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap();
            r["certificates"]["installed"].as_array().unwrap().len()
        }
    };
    assert_eq!(installed(&app, admin.clone()).await, 1);
    sim.set_answer(
        "GetInstalledCertificateIds",
        Some(json!({"status": "NotFound"})),
    );
    let (s, b) = app
        .post(
            "/api/admin/chargers/SECCMD/commands/GetInstalledCertificateIds",
            Some(&admin),
            json!({"certificateType": "ManufacturerRootCertificate"}),
        )
        .await;
    assert_eq!((s, &b["response"]["status"]), (200, &json!("NotFound")));
    assert_eq!(installed(&app, admin.clone()).await, 0);
}
dual!(commands_api_security_messages_are_tracked);
