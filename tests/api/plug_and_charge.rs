//! Plug & Charge on 2.0.1 beyond the compliance cases: a responder that answers about the very
//! certificate asked, one that is down, a contract certificate out of its dates or not its own
//! issuer, and GetCertificateStatus without a usable answer. Never a CALLERROR: the station is
//! answered and goes on.

use serde_json::{Value, json};

use crate::dual;
use crate::helpers::TestApp;
use crate::support::ocsp::responder;
use crate::support::station201::Station;

fn both(s: &mut csms::infra::config::Settings) {
    s.ocpp_versions = vec!["ocpp1.6".into(), "ocpp2.0.1".into()];
    s.outbound_timeout_secs = 2;
}

async fn booted(app: &TestApp, device: &str) -> Station {
    let admin = app.admin().await;
    let body = json!({"idTag": "EMAID-PNC", "idTokenType": "eMAID"});
    let (s, b) = app.post("/api/admin/id-tags", Some(&admin), body).await;
    assert!(s == 201 || s == 409, "{b}");
    app.register_charger(device, None).await;
    let password = app.password(device).expect("a password");
    Station::booted(&app.ocpp, device, &password).await
}

/// Authorize EMAID-PNC with `contract`: (idTokenInfo.status, certificateStatus).
async fn authorize(st: &mut Station, contract: Value) -> (String, String) {
    let mut body = json!({"idToken": {"idToken": "EMAID-PNC", "type": "eMAID"}});
    if let (Value::Object(b), Value::Object(extra)) = (&mut body, contract) {
        b.extend(extra);
    }
    let a = st.call("Authorize", body).await.unwrap();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        text(&a["idTokenInfo"]["status"]),
        text(&a["certificateStatus"]),
    )
}

fn chain(url: &str, serial: &str) -> Value {
    json!({"iso15118CertificateHashData": [{"hashAlgorithm": "SHA256",
        "issuerNameHash": "0011223344", "issuerKeyHash": "5566778899", "serialNumber": serial,
        "responderURL": url}]})
}

/// A certificate `days` old that ended yesterday, or a chain certificate issued by another
/// (not its own issuer): PEM.
fn certificate(expired: bool) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "EMAID-PNC");
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        return params.self_signed(&key).unwrap().pem();
    }
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Some MO");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = rcgen::Issuer::new(ca, ca_key);
    params.signed_by(&key, &issuer).unwrap().pem()
}

async fn contracts_checked_by_ocsp(app: TestApp) {
    let mut st = booted(&app, "PNC-1").await;
    // Responders that answer about the very certificate asked.
    let good = responder("good", true).await;
    let revoked = responder("revoked", true).await;
    let unknown = responder("unknown", true).await;
    let a = authorize(&mut st, chain(&good.url, "01")).await;
    assert_eq!(a, ("Accepted".into(), "Accepted".into()));
    let a = authorize(&mut st, chain(&revoked.url, "02")).await;
    assert_eq!(a, ("Invalid".into(), "CertificateRevoked".into()));
    let a = authorize(&mut st, chain(&unknown.url, "03")).await;
    assert_eq!(a, ("Invalid".into(), "CertChainError".into()));
    // A responder that is down: no status, the token refused, the station answered.
    let a = authorize(&mut st, chain("http://127.0.0.1:9/ocsp", "04")).await;
    assert_eq!(a, ("Invalid".into(), "NoCertificateAvailable".into()));
    // Certificates: out of its dates; issued by an MO csms cannot name.
    let a = authorize(&mut st, json!({"certificate": certificate(true)})).await;
    assert_eq!(a, ("Invalid".into(), "CertificateExpired".into()));
    let a = authorize(&mut st, json!({"certificate": certificate(false)})).await;
    assert_eq!(a, ("Invalid".into(), "CertChainError".into()));
    let a = authorize(&mut st, json!({"certificate": "not a certificate"})).await;
    assert_eq!(a, ("Invalid".into(), "CertChainError".into()));
    // Each responder was asked once.
    for r in [&good, &revoked, &unknown] {
        assert_eq!(r.bodies().len(), 1);
    }
    // Without a contract, no certificateStatus.
    let a = authorize(&mut st, json!({})).await;
    assert_eq!(a, ("Accepted".into(), String::new()));
}
dual!(contracts_checked_by_ocsp, super::both);

async fn certificate_status_without_an_answer(app: TestApp) {
    let mut st = booted(&app, "PNC-2").await;
    let data = json!({"hashAlgorithm": "SHA256", "issuerNameHash": "00", "issuerKeyHash": "11",
        "serialNumber": "22", "responderURL": "http://127.0.0.1:9/ocsp"});
    let a = st
        .call("GetCertificateStatus", json!({"ocspRequestData": data}))
        .await
        .unwrap();
    assert_eq!(a["status"], "Failed", "{a}");
    assert_eq!(a["statusInfo"]["reasonCode"], "OCSPFailed", "{a}");
    assert!(a.get("ocspResult").is_none(), "{a}");
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
}
dual!(certificate_status_without_an_answer, super::both);
