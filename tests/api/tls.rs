//! The `wss://` listener and security profiles 2 and 3: TLS handshakes with valid, expired, foreign
//! and wrongly named client certificates, charging at each profile, connections below a charger's
//! profile refused, and certificates reloaded without dropping connected chargers.

use std::sync::Arc;

use csms::simulator::Simulator;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;

use crate::dual;
use crate::helpers::{ClientCert, TestApp, TestPki};

/// The certificate the TLS listener presents now, and the protocol version and suite it chose.
async fn served_certificate(
    app: &TestApp,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (CertificateDer<'static>, String, String) {
    let pki = TestPki::of(app);
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.ca_cert()).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let port = app.wss.as_ref().unwrap().rsplit(':').next().unwrap();
    let port: u16 = port.trim_end_matches("/ocpp").parse().unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake");
    let conn = stream.get_ref().1;
    (
        conn.peer_certificates().unwrap()[0].clone().into_owned(),
        format!("{:?}", conn.protocol_version().unwrap()),
        format!("{:?}", conn.negotiated_cipher_suite().unwrap().suite()),
    )
}

/// Security profile 2: Basic auth over TLS. Plain ws is refused with 403 even with the right
/// password; TLS without the password is refused with 401; TLS 1.2 and 1.3 both negotiate a suite
/// of the whitepaper.
async fn profile_2_is_basic_auth_over_tls(app: TestApp) {
    app.register_charger_with(
        "SP2",
        json!({"securityProfile": 2, "ocppPassword": "profile-two-password"}),
    )
    .await;
    let cfg = app.tls_config("SP2", 1, None);
    let sim = app.connect(cfg.clone()).await;
    sim.call("Heartbeat", json!({})).await.unwrap();
    drop(sim);

    let plain = app.sim_config("SP2", 1);
    let err = Simulator::connect(plain)
        .await
        .err()
        .expect("plain ws refused");
    assert!(err.to_string().contains("403"), "{err}");
    let mut no_password = cfg.clone();
    no_password.password = None;
    let err = Simulator::connect(no_password)
        .await
        .err()
        .expect("no password refused");
    assert!(err.to_string().contains("401"), "{err}");
    let mut wrong = cfg;
    wrong.password = Some("not-the-password-00".into());
    let err = Simulator::connect(wrong)
        .await
        .err()
        .expect("wrong password refused");
    assert!(err.to_string().contains("401"), "{err}");

    for versions in [
        &[&rustls::version::TLS12][..],
        &[&rustls::version::TLS13][..],
    ] {
        let (_, version, suite) = served_certificate(&app, versions).await;
        let allowed = [
            "TLS13_AES_128_GCM_SHA256",
            "TLS13_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ];
        assert!(allowed.contains(&suite.as_str()), "{version} {suite}");
    }
}
dual!(profile_2_is_basic_auth_over_tls, crate::helpers::tls);

/// Security profile 3: a client certificate chained to the configured CA whose common name is the
/// chargeBoxId. Expired, foreign and absent certificates, a certificate of another charger, and
/// plain ws are all refused.
async fn profile_3_is_a_client_certificate(app: TestApp) {
    app.register_charger_with("SP3", json!({"securityProfile": 3}))
        .await;
    let pki = TestPki::of(&app);
    let good = pki.client("SP3", ClientCert::Valid);
    let sim = app
        .connect(app.tls_config("SP3", 1, Some(good.clone())))
        .await;
    sim.call("Heartbeat", json!({})).await.unwrap();
    // It charges like any other charger.
    let customer = app.customer("sp3@example.com", 100.0).await;
    let (s, body) = app.start(&customer.token, "SP3", 1, 20.0).await;
    assert_eq!(s, 200, "{body}");
    drop(sim);

    let refused = |cfg: csms::simulator::SimConfig| async move {
        Simulator::connect(cfg)
            .await
            .err()
            .expect("refused")
            .to_string()
    };
    // No client certificate: the TLS handshake passes (profile 2 chargers share the listener), the
    // WebSocket handshake is refused.
    let e = refused(app.tls_config("SP3", 1, None)).await;
    assert!(e.contains("403"), "{e}");
    // Another charger's certificate.
    let other = pki.client("SOMEONE-ELSE", ClientCert::Valid);
    let e = refused(app.tls_config("SP3", 1, Some(other))).await;
    assert!(e.contains("403"), "{e}");
    // Expired, or from a CA csms does not trust: the TLS handshake itself fails.
    for kind in [ClientCert::Expired, ClientCert::Foreign] {
        let bad = pki.client("SP3", kind);
        let e = refused(app.tls_config("SP3", 1, Some(bad))).await;
        assert!(!e.contains("403") && !e.contains("401"), "TLS-level: {e}");
    }
    // Plain ws, even with the password csms generated.
    let e = refused(app.sim_config("SP3", 1)).await;
    assert!(e.contains("403"), "{e}");
    // The good certificate still works.
    let sim = app.connect(app.tls_config("SP3", 1, Some(good))).await;
    sim.call("Heartbeat", json!({})).await.unwrap();
    // The refusals are a security event of the charger: recorded once a minute, not once per try.
    let admin = app.admin().await;
    let (s, b) = app
        .get("/api/admin/chargers/SP3/security-events", Some(&admin))
        .await;
    assert_eq!(s, 200, "{b}");
    let refused: Vec<_> = b["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "FailedToAuthenticateAtCentralSystem" && e["source"] == "csms")
        .collect();
    assert_eq!(refused.len(), 1, "{b}");
    assert!(
        refused[0]["techInfo"]
            .as_str()
            .unwrap()
            .contains("no client certificate"),
        "{b}"
    );
}
dual!(profile_3_is_a_client_certificate, crate::helpers::tls);

/// Issue 19, item 1: a client certificate from the trusted CA whose subject has two common names,
/// one of them the charger's id, names no single charger: refused at the profile-3 handshake (403)
/// in either order, like a wrongly named one, and recorded. A certificate with no common name too.
async fn profile_3_refuses_a_certificate_with_two_common_names(app: TestApp) {
    use rcgen::DnType;
    app.register_charger_with("SP3TWO", json!({"securityProfile": 3}))
        .await;
    app.register_charger_with("OTHER", json!({"securityProfile": 3}))
        .await;
    let pki = TestPki::of(&app);
    let cn_again = || DnType::CustomDnType(vec![2, 5, 4, 3]);
    let first = pki.client_with_subject(
        "sp3two-first",
        &[(DnType::CommonName, "SP3TWO"), (cn_again(), "OTHER")],
    );
    let last = pki.client_with_subject(
        "sp3two-last",
        &[(DnType::CommonName, "OTHER"), (cn_again(), "SP3TWO")],
    );
    let both = pki.client_with_subject(
        "sp3two-both",
        &[(DnType::CommonName, "SP3TWO"), (cn_again(), "SP3TWO")],
    );
    let none = pki.client_with_subject("sp3two-none", &[(DnType::OrganizationName, "SP3TWO")]);
    for (device, cert) in [
        ("SP3TWO", &first),
        ("SP3TWO", &last),
        ("OTHER", &first),
        ("OTHER", &last),
        ("SP3TWO", &both),
        ("SP3TWO", &none),
    ] {
        let e = Simulator::connect(app.tls_config(device, 1, Some(cert.clone())))
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("403"), "{device} {cert:?}: {e}");
    }
    assert!(!app.state.registry.is_online("SP3TWO"));
    assert!(!app.state.registry.is_online("OTHER"));
    let admin = app.admin().await;
    let (s, b) = app
        .get("/api/admin/chargers/SP3TWO/security-events", Some(&admin))
        .await;
    assert_eq!(s, 200, "{b}");
    let refused: Vec<_> = b["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "FailedToAuthenticateAtCentralSystem" && e["source"] == "csms")
        .collect();
    assert_eq!(refused.len(), 1, "{b}");
    assert!(
        refused[0]["techInfo"]
            .as_str()
            .unwrap()
            .contains("2 common names"),
        "{b}"
    );
    // A certificate naming the charger alone still connects.
    let good = pki.client("SP3TWO", ClientCert::Valid);
    let sim = app.connect(app.tls_config("SP3TWO", 1, Some(good))).await;
    sim.call("Heartbeat", json!({})).await.unwrap();
}
dual!(
    profile_3_refuses_a_certificate_with_two_common_names,
    crate::helpers::tls
);

/// `csms_ocpp_security_refusals_total` now.
async fn refusals_counted(app: &TestApp) -> u64 {
    let text = reqwest::get(format!("{}/metrics", app.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("csms_ocpp_security_refusals_total "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// csms's refusals recorded for `device` (FailedToAuthenticateAtCentralSystem): their techInfo.
async fn refusals_of(app: &TestApp, device: &str) -> Vec<String> {
    let admin = app.admin().await;
    let (s, b) = app
        .get(
            &format!("/api/admin/chargers/{device}/security-events"),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "FailedToAuthenticateAtCentralSystem" && e["source"] == "csms")
        .map(|e| e["techInfo"].as_str().unwrap().to_string())
        .collect()
}

/// Issue 19, item 1, the certificates issued before the fix: csms's CA signed `CN=VICTIM` for the
/// CSR `CN=M, CN=VICTIM` that charger M sent, and recorded it as M's. Such a certificate chains to
/// a trusted CA and names VICTIM alone, but csms never issued it to VICTIM: refused at VICTIM's
/// profile-3 handshake (403, a security event naming M, counted), and so is a certificate of
/// csms's CA that csms has no record of at all, or one that reuses the serial of VICTIM's own
/// certificate. The certificate csms issued to VICTIM through SignCertificate connects; a
/// manufacturer's certificate (another CA) keeps the common-name rule.
async fn profile_3_takes_a_csms_certificate_only_from_its_charger(app: TestApp) {
    let pki = TestPki::of(&app);
    app.register_charger("M", None).await;
    app.register_charger_with("VICTIM", json!({"securityProfile": 3}))
        .await;
    app.register_charger_with("NOROW", json!({"securityProfile": 3}))
        .await;
    let ca = csms::infra::ca::Ca::open(&app.settings.ca_dir).unwrap();
    let files = |tag: &str, cert: &str, key: &str| {
        let (c, k) = (
            pki.dir.join(format!("csms-{tag}.pem")),
            pki.dir.join(format!("csms-{tag}.key")),
        );
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        (c, k)
    };
    let refused = |cfg: csms::simulator::SimConfig| async move {
        Simulator::connect(cfg)
            .await
            .err()
            .expect("refused")
            .to_string()
    };
    let counted = refusals_counted(&app).await;

    // The forged certificate of before the fix, on csms's record as M's.
    let (forged, forged_key) = ca.issue("VICTIM", &[], 30, true).unwrap();
    let der = csms::infra::ca::cert_der(&forged).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(
        csms::infra::ca::single_common_name(cert.subject()).unwrap(),
        "VICTIM",
        "it names VICTIM alone"
    );
    let serial = app.record_issued_certificate("M", &forged).await;
    let forged = files("forged", &forged, &forged_key);
    let e = refused(app.tls_config("VICTIM", 1, Some(forged.clone()))).await;
    assert!(e.contains("403"), "{e}");
    assert!(!app.state.registry.is_online("VICTIM"));
    let events = refusals_of(&app, "VICTIM").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains("issued by csms to another charger, \"M\"")
            && events[0].contains(&serial),
        "{events:?}"
    );

    // A certificate of csms's CA that csms has no record of.
    let (unrecorded, unrecorded_key) = ca.issue("NOROW", &[], 30, true).unwrap();
    let unrecorded = files("unrecorded", &unrecorded, &unrecorded_key);
    let e = refused(app.tls_config("NOROW", 1, Some(unrecorded))).await;
    assert!(e.contains("403"), "{e}");
    let events = refusals_of(&app, "NOROW").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains("not issued by csms to this charger"),
        "{events:?}"
    );
    assert!(refusals_counted(&app).await >= counted + 2);

    // VICTIM, on a manufacturer's certificate (the common-name rule), asks csms for its own.
    let maker = pki.client("VICTIM", ClientCert::Valid);
    let sim = app.connect(app.tls_config("VICTIM", 1, Some(maker))).await;
    assert_eq!(sim.sign_certificate().await.unwrap(), "Accepted");
    app.wait_until(|| sim.certificate().is_some()).await;
    let (chain, key) = sim.certificate().unwrap();
    drop(sim);
    let own = files("own", &chain, &key);
    let sim = app.connect(app.tls_config("VICTIM", 1, Some(own))).await;
    sim.call("Heartbeat", json!({})).await.unwrap();
    drop(sim);
    // The forged one is still refused.
    let e = refused(app.tls_config("VICTIM", 1, Some(forged))).await;
    assert!(e.contains("403"), "{e}");

    // Another certificate from csms's CA key with the serial of VICTIM's own: not the one issued.
    let own_serial = csms::infra::ca::hash_data(&chain, Some(ca.cert_pem()))
        .unwrap()
        .serial_number;
    let ca_key = rcgen::KeyPair::from_pem(
        &std::fs::read_to_string(ca.dir().join(csms::infra::ca::KEY_FILE)).unwrap(),
    )
    .unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(ca.cert_pem(), ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "VICTIM");
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    p.serial_number = Some(rcgen::SerialNumber::from_slice(
        &hex::decode(&own_serial).unwrap(),
    ));
    let twin = p.signed_by(&key, &issuer).unwrap().pem();
    assert_eq!(
        csms::infra::ca::hash_data(&twin, Some(ca.cert_pem()))
            .unwrap()
            .serial_number,
        own_serial
    );
    let twin = files("twin", &twin, &key.serialize_pem());
    let e = refused(app.tls_config("VICTIM", 1, Some(twin))).await;
    assert!(e.contains("403"), "{e}");
}
dual!(
    profile_3_takes_a_csms_certificate_only_from_its_charger,
    crate::helpers::tls_and_csms_ca
);

/// Profiles 0 and 1 may also use TLS; a wss URL with a server certificate csms did not sign for
/// the client's CA fails the handshake on the client side.
async fn lower_profiles_may_use_tls(app: TestApp) {
    app.register_charger_with("SP0", json!({"securityProfile": 0}))
        .await;
    app.register_charger("SP1", Some("profile-one-password"))
        .await;
    for id in ["SP0", "SP1"] {
        let sim = app.connect(app.tls_config(id, 1, None)).await;
        sim.call("Heartbeat", json!({})).await.unwrap();
    }
    let other = TestPki::create();
    let mut cfg = app.tls_config("SP0", 1, None);
    cfg.ca_cert = Some(other.ca_cert());
    assert!(Simulator::connect(cfg).await.is_err(), "unknown server CA");
}
dual!(lower_profiles_may_use_tls, crate::helpers::tls);

/// A new certificate on disk is served to new connections within the reload interval; chargers
/// connected before keep their connection.
async fn certificates_reload_without_dropping_chargers(app: TestApp) {
    app.register_charger("RELOAD1", Some("reload-password-0001"))
        .await;
    let sim = app.connect(app.tls_config("RELOAD1", 1, None)).await;
    let (before, _, _) = served_certificate(&app, &[&rustls::version::TLS13]).await;
    // Files changed in place, as certbot or an operator would.
    let pki = TestPki::of(&app);
    let (c, k) = pki.server_certificate("next");
    std::fs::copy(&k, app.settings.ocpp_tls_key.as_ref().unwrap()).unwrap();
    std::fs::copy(&c, app.settings.ocpp_tls_cert.as_ref().unwrap()).unwrap();
    let expected = CertificateDer::from_pem_file(&c).unwrap();
    let mut served = before.clone();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        served = served_certificate(&app, &[&rustls::version::TLS13]).await.0;
        if served != before {
            break;
        }
    }
    assert_eq!(served, expected, "the new certificate is served");
    sim.call("Heartbeat", json!({}))
        .await
        .expect("the charger connected before the reload is still connected");
    // A broken file is not taken: the current certificate stays.
    std::fs::write(
        app.settings.ocpp_tls_cert.as_ref().unwrap(),
        "not a certificate",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        served_certificate(&app, &[&rustls::version::TLS13]).await.0,
        expected
    );
    let again = app.connect(app.tls_config("RELOAD1", 1, None)).await;
    again.call("Heartbeat", json!({})).await.unwrap();
}
dual!(
    certificates_reload_without_dropping_chargers,
    crate::helpers::tls
);
