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
