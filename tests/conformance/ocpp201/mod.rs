//! The OCA compliance cases for an OCPP 2.0.1 CSMS (`../shared/spec/octt-2.0.1-csms-cases.md`)
//! that csms passes so far (issues 22, 23): blocks A (Basic auth, the station password, TLS;
//! certificate signing: `a_signing`), B (provisioning), C (Authorize, groups, cache), D (local
//! list, `d_local_list`), E (transactions), F (remote control), G (availability), H
//! (reservations), I (cost: `i_cost`), J (meter values), K (smart charging), L (firmware), M
//! (certificates), N (customer information: `n_customer`; monitoring, logs and events:
//! `n_monitoring`), O (display messages, `o_display`) and P (DataTransfer, customData:
//! `p_data_transfer`). Run two ways on SQLite and PostgreSQL, like the 1.6 ones:
//! each case alone on a fresh server with a station of its own (`tc_b_01_…::sqlite`), and every
//! case in id order against ONE server and ONE station identity (`all_201_cases_in_id_order`),
//! nothing reset in between. The station is a raw 2.0.1 client (`support::station201`); each
//! case connects it anew with the password the identity has by then.

use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::support::station201::{Refused, Station, boot_payload};

mod a_signing;
use a_signing::*;
mod i_cost;
use i_cost::*;
mod k_iso15118;
mod k_smart_charging;
use k_iso15118::*;
use k_smart_charging::*;
mod l_firmware;
use l_firmware::*;
mod m_certificates;
use m_certificates::*;
mod c_contracts;
mod d_local_list;
mod n_customer;
mod n_monitoring;
mod o_display;
mod p_data_transfer;
use c_contracts::*;
use d_local_list::*;
use n_customer::*;
use n_monitoring::*;
use o_display::*;
use p_data_transfer::*;

/// The settings every 2.0.1 case runs with: both versions served, and the `wss://` listener that
/// block A's profile 2 and 3 stations use (a test PKI made for the server: `helpers::tls`).
pub fn both(s: &mut csms::infra::config::Settings) {
    crate::helpers::tls_and_csms_ca(s);
    s.ocpp_versions = vec!["ocpp1.6".into(), "ocpp2.0.1".into()];
    // Block I: the running cost every 2 s (from the start), so TC_I_01 sees it without waiting
    // a minute while the other cases' sessions, a few events in a row, see none.
    s.cost_update_secs = 2;
    // Block M: Get15118EVCertificate goes to a stand-in provisioning service.
    s.iso15118_cps_url = Some(m_certificates::provisioning_service());
}

/// What a 2.0.1 case works with: the server, the operator's token, and the station identity
/// (its id and current password).
pub struct C201<'a> {
    pub app: &'a TestApp,
    pub admin: String,
    pub device: String,
    password: Mutex<String>,
}

impl<'a> C201<'a> {
    /// Registers `device` (security profile 1, a password csms generates).
    pub async fn provision(app: &'a TestApp, device: &str) -> C201<'a> {
        app.register_charger(device, None).await;
        C201 {
            app,
            admin: app.admin().await,
            device: device.to_string(),
            password: Mutex::new(app.password(device).expect("a password")),
        }
    }

    fn password(&self) -> String {
        self.password.lock().unwrap().clone()
    }

    /// The station connects (offering 2.0.1) with its current password.
    async fn connect(&self) -> Station {
        let password = self.password();
        let (st, v) = Station::connect(
            &self.app.ocpp,
            &self.device,
            "ocpp2.0.1",
            Some((&self.device, &password)),
        )
        .await
        .unwrap_or_else(|s| panic!("handshake refused with {s}"));
        assert_eq!(v, "ocpp2.0.1");
        st
    }

    /// Connected and booted (Accepted).
    async fn booted(&self) -> Station {
        let mut st = self.connect().await;
        let boot = st
            .call("BootNotification", boot_payload("PowerUp"))
            .await
            .unwrap();
        assert_eq!(boot["status"], "Accepted", "{boot}");
        st
    }

    /// An operator's request, sent while the station answers (the handle gives status and body).
    fn operator(
        &self,
        method: reqwest::Method,
        path: String,
        body: Value,
    ) -> tokio::task::JoinHandle<(u16, Value)> {
        self.app.spawn_request(method, &path, &self.admin, body)
    }

    /// The operator's command through the commands API.
    fn command(&self, action: &str, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
        self.operator(
            reqwest::Method::POST,
            format!("/api/admin/chargers/{}/commands/{action}", self.device),
            body,
        )
    }

    async fn registration(&self, status: &str) {
        let (s, b) = self
            .app
            .request(
                reqwest::Method::PUT,
                &format!("/api/admin/chargers/{}/registration", self.device),
                Some(&self.admin),
                Some(json!({ "status": status })),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }

    async fn settings(&self, body: Value) -> Value {
        let (s, b) = self
            .app
            .request(
                reqwest::Method::PUT,
                &format!("/api/admin/chargers/{}", self.device),
                Some(&self.admin),
                Some(body),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }
}

fn status(connector: i32, status: &str) -> Value {
    json!({"timestamp": "2026-12-07T10:00:00Z", "connectorStatus": status, "evseId": if connector == 0 { 0 } else { 1 }, "connectorId": connector})
}

fn notify_event() -> Value {
    json!({"generatedAt": "2026-12-07T10:00:00Z", "seqNo": 0, "tbc": false, "eventData": [{
        "eventId": 1, "timestamp": "2026-12-07T10:00:00Z", "trigger": "Delta", "actualValue": "Available",
        "eventNotificationType": "HardWiredNotification",
        "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
        "variable": {"name": "AvailabilityState"}}]})
}

/// Answers the operator's command with `answer`, checks what was sent, and returns the
/// operator's answer.
async fn relayed(
    st: &mut Station,
    request: tokio::task::JoinHandle<(u16, Value)>,
    action: &str,
    sent: Value,
    answer: Value,
) -> Value {
    let (a, p) = st.answer_next_call(answer.clone()).await;
    assert_eq!(a, action);
    assert_eq!(p, sent, "{action} as given");
    let (s, b) = request.await.unwrap();
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["response"], answer);
    b
}

// ---- A Security ----

pub async fn tc_a_01(c: &C201<'_>) {
    let mut st = c.booted().await;
    for connector in [0, 1] {
        assert_eq!(
            st.call("StatusNotification", status(connector, "Available"))
                .await
                .unwrap(),
            json!({})
        );
    }
}

pub async fn tc_a_02(c: &C201<'_>) {
    let password = c.password();
    let refused = Station::connect(
        &c.app.ocpp,
        &c.device,
        "ocpp2.0.1",
        Some(("SOMEONE-ELSE", &password)),
    )
    .await;
    assert_eq!(refused.err(), Some(401));
}

pub async fn tc_a_03(c: &C201<'_>) {
    let none = Station::connect(&c.app.ocpp, &c.device, "ocpp2.0.1", None).await;
    assert_eq!(none.err(), Some(401));
    let random = Station::connect(
        &c.app.ocpp,
        &c.device,
        "ocpp2.0.1",
        Some((&c.device, "random-password-9f8e7d6c5b")),
    )
    .await;
    assert_eq!(random.err(), Some(401));
}

async fn set_password(c: &C201<'_>, outcome: &str) -> String {
    let mut st = c.booted().await;
    let new = format!("{outcome}-password-{}", &uuid_like());
    let item = json!({"setVariableData": [{"component": {"name": "SecurityCtrlr"},
        "variable": {"name": "BasicAuthPassword"}, "attributeValue": new}]});
    let request = c.command("SetVariables", item.clone());
    let result = json!({"setVariableResult": [{"attributeStatus": outcome,
        "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]});
    relayed(&mut st, request, "SetVariables", item, result).await;
    new
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

pub async fn tc_a_09(c: &C201<'_>) {
    let old = c.password();
    let new = set_password(c, "Accepted").await;
    *c.password.lock().unwrap() = new;
    c.booted().await;
    let with_old =
        Station::connect(&c.app.ocpp, &c.device, "ocpp2.0.1", Some((&c.device, &old))).await;
    assert_eq!(
        with_old.err(),
        Some(401),
        "only the new password opens the connection"
    );
}

pub async fn tc_a_10(c: &C201<'_>) {
    let new = set_password(c, "Rejected").await;
    c.booted().await; // the old password keeps working
    let with_new =
        Station::connect(&c.app.ocpp, &c.device, "ocpp2.0.1", Some((&c.device, &new))).await;
    assert_eq!(with_new.err(), Some(401));
}

// ---- A Security: TLS (security profiles 2 and 3) ----
//
// The compliance tool's profile 2 station (Basic auth over TLS) and profile 3 station (a client
// certificate whose commonName is its id) are stations of their own beside the profile 1 one:
// `{device}SP2` and `{device}SP3`, registered by the first case that needs them, so these cases
// run alone and back to back alike. The four TLS 1.2 suites of TC_A_04 include two with static
// RSA key exchange (an RSA server certificate beside the EC one): left to TC_A_07's issue; here
// the two ECDHE-ECDSA suites are checked.

const SP2_PASSWORD: &str = "profile-two-password-0042";

/// The case's profile 2 or 3 station: its id, registered at that profile if csms does not know it.
async fn tls_station(c: &C201<'_>, profile: u8) -> String {
    let device = format!("{}SP{profile}", c.device);
    let (s, _) = c
        .app
        .get(&format!("/api/admin/chargers/{device}"), Some(&c.admin))
        .await;
    if s == 404 {
        let body = match profile {
            2 => json!({"securityProfile": 2, "ocppPassword": SP2_PASSWORD}),
            _ => json!({"securityProfile": 3}),
        };
        c.app.register_charger_with(&device, body).await;
    }
    device
}

/// A TLS client trusting the test CA, offering `versions` (and only `suites` when given), with the
/// profile 3 station's certificate when `client` is given.
fn tls_client(
    c: &C201<'_>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    suites: Option<Vec<rustls::SupportedCipherSuite>>,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Arc<rustls::ClientConfig> {
    let pki = crate::helpers::TestPki::of(c.app);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.ca_cert()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(suites) = suites {
        provider.cipher_suites = suites;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match client {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    })
}

/// A client certificate of the test CA naming `device` (the compliance tool's), as rustls takes it.
fn valid_certificate(
    c: &C201<'_>,
    device: &str,
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let (cert, key) =
        crate::helpers::TestPki::of(c.app).client(device, crate::helpers::ClientCert::Valid);
    (
        CertificateDer::pem_file_iter(cert)
            .unwrap()
            .map(|c| c.unwrap())
            .collect(),
        PrivateKeyDer::from_pem_file(key).unwrap(),
    )
}

/// The profile 2 station (its password) or the profile 3 station (its certificate) connects over
/// TLS with `versions` / `suites`: the station, or why it was refused.
async fn tls_connect(
    c: &C201<'_>,
    device: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    suites: Option<Vec<rustls::SupportedCipherSuite>>,
) -> Result<Station, Refused> {
    let (auth, client) = if device.ends_with("SP2") {
        (Some((device, SP2_PASSWORD)), None)
    } else {
        (None, Some(valid_certificate(c, device)))
    };
    let tls = tls_client(c, versions, suites, client);
    let wss = c.app.wss.as_deref().expect("the wss:// listener");
    let (st, v) = Station::connect_tls(wss, device, "ocpp2.0.1", auth, tls).await?;
    assert_eq!(v, "ocpp2.0.1");
    Ok(st)
}

/// BootNotification with the station's id as serialNumber → Accepted.
async fn boot_accepted(st: &mut Station, device: &str) {
    let mut boot = boot_payload("PowerUp");
    boot["chargingStation"]["serialNumber"] = json!(device);
    let answer = st.call("BootNotification", boot).await.unwrap();
    assert_eq!(answer["status"], "Accepted", "{answer}");
}

/// The TLS session under a connected station: protocol version, cipher suite, server certificate.
fn tls_session(st: &Station) -> (rustls::ProtocolVersion, rustls::CipherSuite, Vec<u8>) {
    let csms::protocol::stream::MaybeTls::Tls(tls) = st.ws.get_ref() else {
        panic!("not a TLS connection");
    };
    let conn = tls.get_ref().1;
    (
        conn.protocol_version().unwrap(),
        conn.negotiated_cipher_suite().unwrap().suite(),
        conn.peer_certificates().unwrap()[0].to_vec(),
    )
}

/// What the compliance tool checks of the server certificate: a serial number, CN = the host it
/// dialled, an EC key of at least 224 bits or an RSA key of at least 2048.
fn check_server_certificate(der: &[u8]) {
    use x509_parser::public_key::PublicKey;
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    assert!(!cert.raw_serial().is_empty(), "a serial number");
    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert_eq!(cn, ["localhost"]);
    let bits = match cert.public_key().parsed().unwrap() {
        PublicKey::EC(p) => (p.key_size() >= 224, p.key_size()),
        PublicKey::RSA(r) => (r.key_size() >= 2048, r.key_size()),
        other => panic!("{other:?}"),
    };
    assert!(bits.0, "{} bits", bits.1);
}

/// TC_A_04 for one station: TLS 1.2 and 1.3 each with a suite of at least 128 bits, the server
/// certificate as the tool wants it, each ECDHE-ECDSA TLS 1.2 suite alone completes a
/// handshake; Boot → Accepted, then StatusNotification and NotifyEvent.
async fn valid_server_certificate(c: &C201<'_>, profile: u8) {
    use rustls::crypto::ring::cipher_suite as cs;
    let device = tls_station(c, profile).await;
    let strong = [
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384,
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    for (version, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let mut st = tls_connect(c, &device, &[version], None).await.unwrap();
        let (v, suite, cert) = tls_session(&st);
        assert_eq!(v, expected);
        assert!(strong.contains(&suite), "{suite:?}");
        check_server_certificate(&cert);
        boot_accepted(&mut st, &device).await;
    }
    for suite in [
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ] {
        let mut st = tls_connect(c, &device, &[&rustls::version::TLS12], Some(vec![suite]))
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e:?}", suite.suite()));
        assert_eq!(tls_session(&st).1, suite.suite());
        boot_accepted(&mut st, &device).await;
        for connector in [0, 1] {
            assert_eq!(
                st.call("StatusNotification", status(connector, "Available"))
                    .await
                    .unwrap(),
                json!({})
            );
        }
        assert_eq!(
            st.call("NotifyEvent", notify_event()).await.unwrap(),
            json!({})
        );
    }
}

pub async fn tc_a_04(c: &C201<'_>) {
    valid_server_certificate(c, 2).await;
    valid_server_certificate(c, 3).await;
}

/// A TLS ClientHello offering at most `version` (0x0302: TLS 1.1, 0x0303: TLS 1.2) with ECDHE-ECDSA
/// suites (GCM, and the CBC ones TLS 1.1 has), as a client capped at that version sends it.
fn client_hello(version: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend([7u8; 32]); // random
    body.push(0); // no session id
    let suites: [u16; 5] = [0xc02b, 0xc02c, 0xc009, 0xc00a, 0x002f];
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null only
    let host = b"localhost";
    let mut ext = vec![0, 0]; // server_name
    ext.extend(((host.len() + 5) as u16).to_be_bytes());
    ext.extend(((host.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend((host.len() as u16).to_be_bytes());
    ext.extend(host);
    ext.extend([0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17]); // supported_groups: P-256
    ext.extend([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]); // ec_point_formats: uncompressed
    ext.extend([0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]); // ecdsa_secp256r1_sha256
    ext.extend([0x00, 0x17, 0x00, 0x00]); // extended_master_secret
    ext.extend([0xff, 0x01, 0x00, 0x01, 0x00]); // renegotiation_info
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut handshake = vec![1]; // ClientHello
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// What the `wss://` listener answers `hello` with: its first bytes (none: it closed).
async fn server_answer(c: &C201<'_>, hello: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let wss = c.app.wss.as_deref().expect("the wss:// listener");
    let port: u16 = wss
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/ocpp")
        .parse()
        .unwrap();
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(hello).await.unwrap();
    let mut buf = vec![0; 7];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .expect("an answer within 10 s")
        .unwrap_or(0);
    buf.truncate(n);
    buf
}

/// TC_A_06 for one station: a handshake capped at TLS 1.1 fails (a fatal alert or the connection
/// closed, never a ServerHello; the same hello offering TLS 1.2 gets one), then a normal one
/// succeeds and Boot → Accepted.
async fn version_too_low(c: &C201<'_>, profile: u8) {
    let device = tls_station(c, profile).await;
    let answer = server_answer(c, &client_hello(0x0303)).await;
    assert_eq!(
        answer.first(),
        Some(&0x16),
        "a ServerHello to TLS 1.2: {answer:?}"
    );
    let answer = server_answer(c, &client_hello(0x0302)).await;
    assert!(
        answer.is_empty() || (answer[0] == 0x15 && answer.get(5).is_none_or(|l| *l == 2)),
        "a fatal alert or the connection closed, no handshake: {answer:?}"
    );
    let mut st = tls_connect(c, &device, rustls::DEFAULT_VERSIONS, None)
        .await
        .unwrap();
    boot_accepted(&mut st, &device).await;
}

pub async fn tc_a_06(c: &C201<'_>) {
    version_too_low(c, 2).await;
    version_too_low(c, 3).await;
}

/// A self-signed client certificate naming the profile 3 station is refused (at the TLS
/// handshake or the upgrade); the valid one is then accepted, Boot (serialNumber = its id) →
/// Accepted.
pub async fn tc_a_08(c: &C201<'_>) {
    let device = tls_station(c, 3).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, device.clone());
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let own = p.self_signed(&key).unwrap();
    let chain = vec![own.der().clone()];
    let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let tls = tls_client(c, &[version], None, Some((chain.clone(), key.clone_key())));
        let wss = c.app.wss.as_deref().unwrap();
        let refused = Station::connect_tls(wss, &device, "ocpp2.0.1", None, tls).await;
        assert!(
            matches!(refused, Err(Refused::Tls(_)) | Err(Refused::Status(403))),
            "{version:?}: {:?}",
            refused.err()
        );
    }
    assert!(!c.app.state.registry.is_online(&device));
    let mut st = tls_connect(c, &device, rustls::DEFAULT_VERSIONS, None)
        .await
        .unwrap();
    boot_accepted(&mut st, &device).await;
}

// ---- B Provisioning ----

pub async fn tc_b_01(c: &C201<'_>) {
    let mut st = c.connect().await;
    let boot = st
        .call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted");
    assert!(
        boot["currentTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(boot["interval"].as_i64().unwrap() > 0);
    assert_eq!(
        st.call("StatusNotification", status(1, "Available"))
            .await
            .unwrap(),
        json!({})
    );
}

/// The station is pending: Boot → Pending (a short interval: the tool waits that long); the
/// operator accepts it: TriggerMessage BootNotification; its Boot (Triggered) → Accepted.
async fn pending_then_accepted(c: &C201<'_>) -> Station {
    c.registration("pending").await;
    let mut st = c.connect().await;
    let boot = st
        .call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Pending");
    assert!(
        boot["interval"].as_i64().unwrap() <= 60,
        "the tool waits this long"
    );
    let accept = c.operator(
        reqwest::Method::PUT,
        format!("/api/admin/chargers/{}/registration", c.device),
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
    assert_eq!(boot["status"], "Accepted");
    st
}

pub async fn tc_b_02(c: &C201<'_>) {
    let mut st = pending_then_accepted(c).await;
    assert_eq!(
        st.call("StatusNotification", status(1, "Available"))
            .await
            .unwrap(),
        json!({})
    );
    assert_eq!(
        st.call("NotifyEvent", notify_event()).await.unwrap(),
        json!({})
    );
}

fn get(component: &str, variable: &str, instance: Option<&str>) -> Value {
    let mut v = json!({"name": variable});
    if let Some(i) = instance {
        v["instance"] = json!(i);
    }
    json!({"component": {"name": component}, "variable": v})
}

fn results(items: &[Value], key: &str) -> Value {
    let r: Vec<Value> = items
        .iter()
        .map(|i| json!({"attributeStatus": "Accepted", "component": i["component"], "variable": i["variable"], "attributeValue": "1"}))
        .collect();
    json!({ key: r })
}

/// GetVariables (`get` true) or SetVariables of `items`, relayed as given; every item accepted.
async fn variables(c: &C201<'_>, get: bool, items: Vec<Value>) {
    let (action, data, result) = if get {
        ("GetVariables", "getVariableData", "getVariableResult")
    } else {
        ("SetVariables", "setVariableData", "setVariableResult")
    };
    let mut st = c.booted().await;
    let body = json!({ data: items });
    let request = c.command(action, body.clone());
    relayed(&mut st, request, action, body, results(&items, result)).await;
}

async fn get_variables(c: &C201<'_>, items: Vec<Value>) {
    variables(c, true, items).await;
}

pub async fn tc_b_06(c: &C201<'_>) {
    get_variables(c, vec![get("OCPPCommCtrlr", "OfflineThreshold", None)]).await;
}

pub async fn tc_b_07(c: &C201<'_>) {
    get_variables(
        c,
        vec![
            get("OCPPCommCtrlr", "OfflineThreshold", None),
            get("AuthCtrlr", "AuthorizeRemoteStart", None),
        ],
    )
    .await;
}

pub async fn tc_b_08(c: &C201<'_>) {
    c.settings(json!({"itemsPerMessageGetVariables": 4})).await;
    let mut st = c.booted().await;
    let items = vec![
        get("DeviceDataCtrlr", "ItemsPerMessage", Some("GetReport")),
        get("DeviceDataCtrlr", "ItemsPerMessage", Some("GetVariables")),
        get("DeviceDataCtrlr", "BytesPerMessage", Some("GetReport")),
        get("DeviceDataCtrlr", "BytesPerMessage", Some("GetVariables")),
        get("AuthCtrlr", "AuthorizeRemoteStart", None),
    ];
    let request = c.command("GetVariables", json!({ "getVariableData": items }));
    let mut seen = Vec::new();
    for expected in [4, 1] {
        let f = st.frame().await;
        assert_eq!(f[2], "GetVariables");
        let part = f[3]["getVariableData"].as_array().unwrap().clone();
        assert_eq!(part.len(), expected);
        st.send(json!([3, f[1], results(&part, "getVariableResult")]))
            .await;
        seen.extend(part);
    }
    assert_eq!(seen, items, "together exactly those five");
    let (s, b) = request.await.unwrap();
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["response"]["getVariableResult"].as_array().unwrap().len(),
        5
    );
    c.settings(json!({"itemsPerMessageGetVariables": null}))
        .await;
}

async fn set_variables(c: &C201<'_>, items: Vec<Value>) {
    variables(c, false, items).await;
}

pub async fn tc_b_09(c: &C201<'_>) {
    let mut item = get("OCPPCommCtrlr", "OfflineThreshold", None);
    item["attributeValue"] = json!("123");
    set_variables(c, vec![item]).await;
}

pub async fn tc_b_10(c: &C201<'_>) {
    let mut a = get("OCPPCommCtrlr", "OfflineThreshold", None);
    a["attributeValue"] = json!("123");
    let mut b = get("AuthCtrlr", "AuthorizeRemoteStart", None);
    b["attributeValue"] = json!("false");
    set_variables(c, vec![a, b]).await;
}

async fn base_report(c: &C201<'_>, base: &str) {
    let mut st = c.booted().await;
    let body = json!({"requestId": 7, "reportBase": base});
    let request = c.command("GetBaseReport", body.clone());
    relayed(
        &mut st,
        request,
        "GetBaseReport",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    let report = json!({"requestId": 7, "generatedAt": "2026-12-07T10:00:00Z", "seqNo": 0, "tbc": false, "reportData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
         "variableAttribute": [{"value": "300", "mutability": "ReadWrite"}],
         "variableCharacteristics": {"dataType": "integer", "supportsMonitoring": true, "unit": "s"}}]});
    assert_eq!(st.call("NotifyReport", report).await.unwrap(), json!({}));
}

pub async fn tc_b_12(c: &C201<'_>) {
    base_report(c, "ConfigurationInventory").await;
}

pub async fn tc_b_13(c: &C201<'_>) {
    base_report(c, "FullInventory").await;
}

pub async fn tc_b_14(c: &C201<'_>) {
    base_report(c, "SummaryInventory").await;
}

pub async fn tc_b_18(c: &C201<'_>) {
    let mut st = c.booted().await;
    let variable = json!([{"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "AvailabilityState"}}]);
    for (criteria, answer) in [("Problem", "EmptyResultSet"), ("Available", "Accepted")] {
        let body =
            json!({"requestId": 8, "componentCriteria": [criteria], "componentVariable": variable});
        let request = c.command("GetReport", body.clone());
        relayed(
            &mut st,
            request,
            "GetReport",
            body,
            json!({ "status": answer }),
        )
        .await;
    }
    let report = json!({"requestId": 8, "generatedAt": "2026-12-07T10:00:00Z", "seqNo": 0, "reportData": [
        {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "AvailabilityState"},
         "variableAttribute": [{"value": "Available", "mutability": "ReadOnly"}]}]});
    assert_eq!(st.call("NotifyReport", report).await.unwrap(), json!({}));
}

async fn reset(c: &C201<'_>, body: Value) {
    let mut st = c.booted().await;
    let request = c.command("Reset", body.clone());
    relayed(
        &mut st,
        request,
        "Reset",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    drop(st); // it reboots
    let mut st = c.connect().await;
    let boot = st
        .call("BootNotification", boot_payload("RemoteReset"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted");
}

pub async fn tc_b_20(c: &C201<'_>) {
    reset(c, json!({"type": "OnIdle"})).await;
}

pub async fn tc_b_25(c: &C201<'_>) {
    reset(c, json!({"type": "OnIdle", "evseId": 1})).await;
}

/// A charging session of TAG-001 on a fresh transaction: Started (Authorized, seqNo 0), then
/// Updated ChargingStateChanged Charging (seqNo 1). The station and the transaction id.
async fn charging(c: &C201<'_>) -> (Station, String) {
    tokens(c).await;
    let mut st = c.booted().await;
    let (tx, a) = start_with(&mut st, "TAG-001", "ISO14443").await;
    status_in(&a, &["Accepted"]);
    let a = send_event(
        &mut st,
        event(
            "Updated",
            &tx,
            1,
            "ChargingStateChanged",
            json!({"transactionInfo": {"transactionId": tx, "chargingState": "Charging"}}),
        ),
    )
    .await;
    assert_eq!(a, json!({}));
    (st, tx)
}

/// What csms recorded of the station's transaction `tx`: the core transaction's idTag, whether it
/// stopped, and its stop reason.
async fn recorded(c: &C201<'_>, tx: &str) -> (String, bool, Option<String>) {
    let tx = tx.to_string();
    c.app
        .db(move |conn| {
            use csms::infra::db::schema::{ocpp_transactions as o, station_transactions as t};
            use diesel::prelude::*;
            let id: i64 = t::table
                .filter(t::station_tx_id.eq(&tx))
                .select(t::transaction_id.assume_not_null())
                .first(conn)
                .unwrap();
            o::table
                .find(id)
                .select((o::id_tag, o::stopped_at.is_not_null(), o::stop_reason))
                .first(conn)
                .unwrap()
        })
        .await
}

/// Asserts csms ended TAG-001's transaction `tx` for the station's `reason`.
async fn ended(c: &C201<'_>, tx: &str, reason: &str) {
    let (tag, stopped, why) = recorded(c, tx).await;
    assert_eq!(tag, "TAG-001");
    assert!(stopped, "transaction {tx} ended in csms");
    assert_eq!(why.as_deref(), Some(reason));
}

/// The operator's Reset `body` during charging, relayed as given and answered `answer`.
async fn reset_during_charging(c: &C201<'_>, body: Value, answer: &str) -> (Station, String) {
    let (mut st, tx) = charging(c).await;
    let request = c.command("Reset", body.clone());
    relayed(&mut st, request, "Reset", body, json!({"status": answer})).await;
    (st, tx)
}

/// Reset immediately: the station ends the transaction (ResetCommand, ImmediateReset).
async fn ended_by_reset(c: &C201<'_>, st: &mut Station, tx: &str) {
    end_with(st, tx, 2, "ResetCommand", "ImmediateReset").await;
    ended(c, tx, "ImmediateReset").await;
}

/// The station reboots after a reset: Boot `reason` → Accepted, its connector Available.
async fn rebooted(c: &C201<'_>, reason: &str) {
    let mut st = c.connect().await;
    let boot = st
        .call("BootNotification", boot_payload(reason))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted", "{boot}");
    available(&mut st).await;
}

async fn available(st: &mut Station) {
    assert_eq!(
        st.call("StatusNotification", status(1, "Available"))
            .await
            .unwrap(),
        json!({})
    );
}

/// Scheduled until idle: the driver stops (StopAuthorized), unplugs (EVDisconnected); then the
/// station resets.
pub async fn tc_b_21(c: &C201<'_>) {
    let (mut st, tx) = reset_during_charging(c, json!({"type": "OnIdle"}), "Scheduled").await;
    let tag = token("TAG-001", "ISO14443");
    let a = send_event(
        &mut st,
        event("Updated", &tx, 2, "StopAuthorized", json!({"idToken": tag})),
    )
    .await;
    status_in(&a, &["Accepted"]);
    available(&mut st).await;
    send_event(
        &mut st,
        event("Ended", &tx, 3, "EVCommunicationLost",
            json!({"transactionInfo": {"transactionId": tx, "chargingState": "Idle", "stoppedReason": "EVDisconnected"}})),
    )
    .await;
    ended(c, &tx, "EVDisconnected").await;
    drop(st);
    rebooted(c, "ScheduledReset").await;
}

pub async fn tc_b_22(c: &C201<'_>) {
    let (mut st, tx) = reset_during_charging(c, json!({"type": "Immediate"}), "Accepted").await;
    ended_by_reset(c, &mut st, &tx).await;
    drop(st);
    rebooted(c, "RemoteReset").await;
}

/// The EVSE only: no reboot of the station.
pub async fn tc_b_26(c: &C201<'_>) {
    let body = json!({"type": "OnIdle", "evseId": 1});
    let (mut st, tx) = reset_during_charging(c, body, "Scheduled").await;
    end_tag_session(&mut st, &tx, 2, "Local").await;
    ended(c, &tx, "Local").await;
    available(&mut st).await;
}

pub async fn tc_b_27(c: &C201<'_>) {
    let body = json!({"type": "Immediate", "evseId": 1});
    let (mut st, tx) = reset_during_charging(c, body, "Accepted").await;
    ended_by_reset(c, &mut st, &tx).await;
    available(&mut st).await;
}

pub async fn tc_b_30(c: &C201<'_>) {
    c.registration("pending").await;
    let mut st = c.connect().await;
    let boot = st
        .call("BootNotification", boot_payload("PowerUp"))
        .await
        .unwrap();
    assert!(["Pending", "Rejected"].contains(&boot["status"].as_str().unwrap()));
    assert_eq!(
        st.call("StatusNotification", status(1, "Available"))
            .await
            .unwrap_err()
            .0,
        "SecurityError"
    );
    assert_eq!(
        st.call("NotifyEvent", notify_event()).await.unwrap_err().0,
        "SecurityError"
    );
    c.registration("accepted").await;
}

pub async fn tc_b_31(c: &C201<'_>) {
    pending_then_accepted(c).await;
}

async fn network_profile(c: &C201<'_>, answer: &str) {
    let before = c.settings(json!({})).await["charger"]["securityProfile"].clone();
    let mut st = c.booted().await;
    let body = json!({"configurationSlot": 1, "connectionData": {"messageTimeout": 30,
        "ocppCsmsUrl": format!("{}/", c.app.ocpp), "ocppInterface": "Wired0", "ocppTransport": "JSON",
        "ocppVersion": "OCPP20", "securityProfile": 2}});
    let request = c.command("SetNetworkProfile", body.clone());
    relayed(
        &mut st,
        request,
        "SetNetworkProfile",
        body,
        json!({ "status": answer }),
    )
    .await;
    let after = c.settings(json!({})).await["charger"]["securityProfile"].clone();
    assert_eq!(after, before, "the profile csms enforces does not change");
}

pub async fn tc_b_42(c: &C201<'_>) {
    network_profile(c, "Accepted").await;
}

pub async fn tc_b_44(c: &C201<'_>) {
    network_profile(c, "Failed").await;
}

pub async fn tc_b_58(c: &C201<'_>) {
    let password = c.password();
    let auth = Some((c.device.as_str(), password.as_str()));
    assert_eq!(
        Station::connect(&c.app.ocpp, &c.device, "ocpp0.1", auth)
            .await
            .err(),
        Some(400)
    );
    let (_, v) = Station::connect(&c.app.ocpp, &c.device, "ocpp0.1, ocpp2.0.1", auth)
        .await
        .unwrap_or_else(|s| panic!("{s}"));
    assert_eq!(v, "ocpp2.0.1");
}

// ---- F Remote control (without transactions) ----

pub async fn tc_f_06(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"evseId": 1, "connectorId": 1});
    let request = c.command("UnlockConnector", body.clone());
    relayed(
        &mut st,
        request,
        "UnlockConnector",
        body,
        json!({"status": "Unlocked"}),
    )
    .await;
}

/// The operator's TriggerMessage `body`, answered Accepted; then the station sends `action`.
async fn triggered(c: &C201<'_>, body: Value) -> Station {
    let mut st = c.booted().await;
    let request = c.command("TriggerMessage", body.clone());
    relayed(
        &mut st,
        request,
        "TriggerMessage",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    st
}

/// The operator's RequestStartTransaction for TAG-001 on EVSE 1 (`remote_start_id`), relayed as
/// given and answered Accepted (with the station's transaction id when it has one already).
async fn remote_start(c: &C201<'_>, st: &mut Station, remote_start_id: i64, tx: Option<&str>) {
    let body = json!({"idToken": token("TAG-001", "ISO14443"), "remoteStartId": remote_start_id,
        "evseId": 1});
    let request = c.command("RequestStartTransaction", body.clone());
    let mut answer = json!({"status": "Accepted"});
    if let Some(tx) = tx {
        answer["transactionId"] = json!(tx);
    }
    relayed(st, request, "RequestStartTransaction", body, answer).await;
}

/// A `kind` event of `tx` (seqNo `seq`), triggerReason RemoteStart, with the remoteStartId and
/// TAG-001: accepted.
async fn remote_started(st: &mut Station, kind: &str, tx: &str, seq: i64, remote_start_id: i64) {
    let a = send_event(
        st,
        event(
            kind,
            tx,
            seq,
            "RemoteStart",
            json!({"idToken": token("TAG-001", "ISO14443"),
            "transactionInfo": {"transactionId": tx, "remoteStartId": remote_start_id,
            "chargingState": "EVConnected"}}),
        ),
    )
    .await;
    status_in(&a, &["Accepted"]);
}

/// Charging (seqNo `seq`), then the driver stops with TAG-001; csms ended the transaction.
async fn charged_and_ended(c: &C201<'_>, st: &mut Station, tx: &str, seq: i64) {
    let a = send_event(
        st,
        event(
            "Updated",
            tx,
            seq,
            "ChargingStateChanged",
            json!({"transactionInfo": {"transactionId": tx, "chargingState": "Charging"}}),
        ),
    )
    .await;
    assert_eq!(a, json!({}));
    end_tag_session(st, tx, seq + 1, "Local").await;
    ended(c, tx, "Local").await;
    available(st).await;
}

/// The EV is plugged in first: the transaction runs already, the remote start authorizes it.
pub async fn tc_f_01(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    assert_eq!(
        st.call("StatusNotification", status(1, "Occupied"))
            .await
            .unwrap(),
        json!({})
    );
    let tx = uuid_like();
    let a = send_event(
        &mut st,
        event(
            "Started",
            &tx,
            0,
            "CablePluggedIn",
            json!({"transactionInfo": {"transactionId": tx, "chargingState": "EVConnected"}}),
        ),
    )
    .await;
    assert_eq!(a, json!({}));
    remote_start(c, &mut st, 2101, Some(&tx)).await;
    remote_started(&mut st, "Updated", &tx, 1, 2101).await;
    charged_and_ended(c, &mut st, &tx, 2).await;
}

/// The remote start first (AuthorizeRemoteStart true: the station asks Authorize), then the
/// transaction starts with it.
pub async fn tc_f_02(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    remote_start(c, &mut st, 2102, None).await;
    authorize(&mut st, "TAG-001", "ISO14443", &["Accepted"]).await;
    let tx = uuid_like();
    remote_started(&mut st, "Started", &tx, 0, 2102).await;
    charged_and_ended(c, &mut st, &tx, 1).await;
}

pub async fn tc_f_03(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    remote_start(c, &mut st, 2103, None).await;
    let tx = uuid_like();
    remote_started(&mut st, "Started", &tx, 0, 2103).await;
    charged_and_ended(c, &mut st, &tx, 1).await;
}

/// No cable within the timeout: the station says so and ends the transaction.
pub async fn tc_f_04(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    remote_start(c, &mut st, 2104, None).await;
    let tx = uuid_like();
    remote_started(&mut st, "Started", &tx, 0, 2104).await;
    let a = send_event(
        &mut st,
        event("Updated", &tx, 1, "EVConnectTimeout", json!({})),
    )
    .await;
    assert_eq!(a, json!({}));
    end_with(&mut st, &tx, 2, "EVConnectTimeout", "Timeout").await;
    ended(c, &tx, "Timeout").await;
}

/// TriggerMessage MeterValues (`evse` when given): the station's readings (context Trigger).
async fn triggered_meter_values(c: &C201<'_>, evse: Option<Value>) {
    let mut body = json!({"requestedMessage": "MeterValues"});
    if let Some(e) = evse {
        body["evse"] = e;
    }
    let mut st = triggered(c, body).await;
    let a = st
        .call(
            "MeterValues",
            json!({"evseId": 1, "meterValue": meter("Trigger", 7000.0, 1)}),
        )
        .await
        .unwrap();
    assert_eq!(a, json!({}));
}

pub async fn tc_f_11(c: &C201<'_>) {
    triggered_meter_values(c, Some(json!({"id": 1}))).await;
}

pub async fn tc_f_12(c: &C201<'_>) {
    triggered_meter_values(c, None).await;
}

/// During charging, TriggerMessage TransactionEvent (`evse` when given): the station's Updated
/// (triggerReason Trigger, readings of context Trigger) answered; then the session ends.
async fn triggered_transaction_event(c: &C201<'_>, evse: Option<Value>) {
    let (mut st, tx) = charging(c).await;
    let mut body = json!({"requestedMessage": "TransactionEvent"});
    if let Some(e) = evse {
        body["evse"] = e;
    }
    let request = c.command("TriggerMessage", body.clone());
    relayed(
        &mut st,
        request,
        "TriggerMessage",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    let a = send_event(
        &mut st,
        event(
            "Updated",
            &tx,
            2,
            "Trigger",
            json!({"meterValue": meter("Trigger", 3000.0, 1)}),
        ),
    )
    .await;
    assert!(
        a.get("idTokenInfo").is_none() && a.get("totalCost").is_none(),
        "{a}"
    );
    end_tag_session(&mut st, &tx, 3, "Local").await;
    ended(c, &tx, "Local").await;
    available(&mut st).await;
}

pub async fn tc_f_13(c: &C201<'_>) {
    triggered_transaction_event(c, Some(json!({"id": 1}))).await;
}

pub async fn tc_f_14(c: &C201<'_>) {
    triggered_transaction_event(c, None).await;
}

pub async fn tc_f_15(c: &C201<'_>) {
    let mut st = triggered(c, json!({"requestedMessage": "LogStatusNotification"})).await;
    let a = st
        .call("LogStatusNotification", json!({"status": "Idle"}))
        .await
        .unwrap();
    assert_eq!(a, json!({}));
}

pub async fn tc_f_18(c: &C201<'_>) {
    let mut st = triggered(c, json!({"requestedMessage": "FirmwareStatusNotification"})).await;
    let a = st
        .call("FirmwareStatusNotification", json!({"status": "Idle"}))
        .await
        .unwrap();
    assert_eq!(a, json!({}));
}

pub async fn tc_f_20(c: &C201<'_>) {
    let mut st = triggered(c, json!({"requestedMessage": "Heartbeat"})).await;
    let hb = st.call("Heartbeat", json!({})).await.unwrap();
    assert!(hb["currentTime"].is_string(), "{hb}");
}

pub async fn tc_f_23(c: &C201<'_>) {
    let mut st = triggered(
        c,
        json!({"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}}),
    )
    .await;
    assert_eq!(
        st.call("StatusNotification", status(1, "Available"))
            .await
            .unwrap(),
        json!({})
    );
    assert_eq!(
        st.call("NotifyEvent", notify_event()).await.unwrap(),
        json!({})
    );
}

pub async fn tc_f_24(c: &C201<'_>) {
    let mut st = c.booted().await;
    assert_eq!(
        st.call("StatusNotification", status(1, "Occupied"))
            .await
            .unwrap(),
        json!({})
    );
    let body =
        json!({"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}});
    let request = c.command("TriggerMessage", body.clone());
    relayed(
        &mut st,
        request,
        "TriggerMessage",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    assert_eq!(
        st.call("StatusNotification", status(1, "Occupied"))
            .await
            .unwrap(),
        json!({})
    );
}

pub async fn tc_f_27(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"requestedMessage": "PublishFirmwareStatusNotification"});
    let request = c.command("TriggerMessage", body.clone());
    let f = st.frame().await;
    assert_eq!(f[2], "TriggerMessage");
    assert_eq!(f[3], body);
    st.send(json!([4, f[1], "NotImplemented", "not here", {}]))
        .await;
    let (s, b) = request.await.unwrap();
    assert_eq!(s, 502, "the station's CALLERROR, relayed: {b}");
    // Handled: the station goes on as before.
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
}

// ---- G Availability ----

async fn availability(c: &C201<'_>, body: Value, reported: &str) {
    let mut st = c.booted().await;
    let request = c.command("ChangeAvailability", body.clone());
    relayed(
        &mut st,
        request,
        "ChangeAvailability",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    assert_eq!(
        st.call("StatusNotification", status(1, reported))
            .await
            .unwrap(),
        json!({})
    );
    assert_eq!(
        st.call("NotifyEvent", notify_event()).await.unwrap(),
        json!({})
    );
    let (_, view) = c
        .app
        .get(&format!("/api/admin/chargers/{}", c.device), Some(&c.admin))
        .await;
    let connector = view["charger"]["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["connectorId"] == 1)
        .cloned()
        .unwrap_or_default();
    assert_eq!(connector["status"], reported, "{view}");
}

pub async fn tc_g_03(c: &C201<'_>) {
    availability(
        c,
        json!({"operationalStatus": "Inoperative", "evse": {"id": 1}}),
        "Unavailable",
    )
    .await;
}

pub async fn tc_g_04(c: &C201<'_>) {
    availability(
        c,
        json!({"operationalStatus": "Operative", "evse": {"id": 1}}),
        "Available",
    )
    .await;
}

pub async fn tc_g_05(c: &C201<'_>) {
    availability(
        c,
        json!({"operationalStatus": "Inoperative"}),
        "Unavailable",
    )
    .await;
}

pub async fn tc_g_06(c: &C201<'_>) {
    availability(c, json!({"operationalStatus": "Operative"}), "Available").await;
}

pub async fn tc_g_07(c: &C201<'_>) {
    availability(
        c,
        json!({"operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 1}}),
        "Unavailable",
    )
    .await;
}

pub async fn tc_g_08(c: &C201<'_>) {
    availability(
        c,
        json!({"operationalStatus": "Operative", "evse": {"id": 1, "connectorId": 1}}),
        "Available",
    )
    .await;
}

/// The connector's status as csms shows it to the operator.
async fn connector_status(c: &C201<'_>) -> Value {
    let (_, view) = c
        .app
        .get(&format!("/api/admin/chargers/{}", c.device), Some(&c.admin))
        .await;
    view["charger"]["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["connectorId"] == 1)
        .map(|k| k["status"].clone())
        .unwrap_or_default()
}

/// During charging, ChangeAvailability Inoperative (for `evse` when given) answered Scheduled; the
/// session ends, then the station reports the connector Unavailable, and csms shows it so. The
/// operator makes it Operative again (Accepted, Available) for what comes next.
async fn inoperative_during_charging(c: &C201<'_>, evse: Option<Value>) {
    let (mut st, tx) = charging(c).await;
    let mut body = json!({"operationalStatus": "Inoperative"});
    if let Some(e) = &evse {
        body["evse"] = e.clone();
    }
    let request = c.command("ChangeAvailability", body.clone());
    relayed(
        &mut st,
        request,
        "ChangeAvailability",
        body,
        json!({"status": "Scheduled"}),
    )
    .await;
    end_tag_session(&mut st, &tx, 2, "Local").await;
    ended(c, &tx, "Local").await;
    assert_eq!(
        st.call("StatusNotification", status(1, "Unavailable"))
            .await
            .unwrap(),
        json!({})
    );
    let mut unavailable = notify_event();
    unavailable["eventData"][0]["actualValue"] = json!("Unavailable");
    assert_eq!(
        st.call("NotifyEvent", unavailable).await.unwrap(),
        json!({})
    );
    assert_eq!(connector_status(c).await, "Unavailable");
    let mut body = json!({"operationalStatus": "Operative"});
    if let Some(e) = evse {
        body["evse"] = e;
    }
    let request = c.command("ChangeAvailability", body.clone());
    relayed(
        &mut st,
        request,
        "ChangeAvailability",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    available(&mut st).await;
    assert_eq!(connector_status(c).await, "Available");
}

pub async fn tc_g_11(c: &C201<'_>) {
    inoperative_during_charging(c, Some(json!({"id": 1}))).await;
}

pub async fn tc_g_14(c: &C201<'_>) {
    inoperative_during_charging(c, None).await;
}

pub async fn tc_g_17(c: &C201<'_>) {
    inoperative_during_charging(c, Some(json!({"id": 1, "connectorId": 1}))).await;
}

pub async fn tc_g_20(c: &C201<'_>) {
    let mut st = c.booted().await;
    let event = json!({"generatedAt": "2026-12-07T10:00:00Z", "seqNo": 0, "eventData": [{
        "eventId": 2, "timestamp": "2026-12-07T10:00:00Z", "trigger": "Delta", "actualValue": "true",
        "eventNotificationType": "HardWiredNotification",
        "component": {"name": "ConnectorPlugRetentionLock", "evse": {"id": 1, "connectorId": 1}},
        "variable": {"name": "Problem"}}]});
    assert_eq!(st.call("NotifyEvent", event).await.unwrap(), json!({}));
}

/// The idTokens the compliance tool expects csms to know (once per server; 409: known already).
async fn tokens(c: &C201<'_>) {
    for body in [
        json!({"idTag": "TAG-001", "parentIdTag": "GROUP001"}),
        json!({"idTag": "100000C39B", "parentIdTag": "GROUP001"}),
        json!({"idTag": "MASTERC47", "parentIdTag": "GROUP001"}),
        json!({"idTag": "100000C06", "status": "Blocked"}),
        json!({"idTag": "100000C07", "expiryDate": "2020-01-01T00:00:00Z"}),
    ] {
        let (s, b) = c.app.post("/api/admin/id-tags", Some(&c.admin), body).await;
        assert!(s == 201 || s == 409, "{s} {b}");
    }
}

fn token(id: &str, kind: &str) -> Value {
    json!({"idToken": id, "type": kind})
}

/// A TransactionEvent of the compliance tool's transaction `tx` on EVSE 1, with `extra` fields.
fn event(kind: &str, tx: &str, seq: i64, trigger: &str, extra: Value) -> Value {
    let mut e = json!({
        "eventType": kind, "timestamp": now_micros(), "triggerReason": trigger,
        "seqNo": seq, "transactionInfo": {"transactionId": tx}, "evse": {"id": 1, "connectorId": 1},
    });
    if let (Value::Object(e), Value::Object(extra)) = (&mut e, extra) {
        for (k, v) in extra {
            e.insert(k, v);
        }
    }
    e
}

/// Now, with six fractional digits (as the compliance tool writes it).
fn now_micros() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Energy register readings in `context`, `n` samples from `wh` up.
fn meter(context: &str, wh: f64, n: usize) -> Value {
    json!((0..n).map(|i| json!({"timestamp": "2026-12-07T10:00:00.123456Z", "sampledValue": [{
        "value": wh + 100.0 * i as f64, "context": context, "measurand": "Energy.Active.Import.Register",
        "unitOfMeasure": {"unit": "Wh"}}]})).collect::<Vec<_>>())
}

/// Sends a TransactionEvent: its answer (never a CALLERROR).
async fn send_event(st: &mut Station, e: Value) -> Value {
    st.call("TransactionEvent", e.clone())
        .await
        .unwrap_or_else(|err| panic!("{e}: {err:?}"))
}

/// Started (triggerReason Authorized) with the idToken `id` of `kind` on a fresh transaction:
/// its id and the answer.
async fn start_with(st: &mut Station, id: &str, kind: &str) -> (String, Value) {
    let tx = uuid_like();
    let a = authorized(st, "Started", &tx, 0, id, kind).await;
    (tx, a)
}

/// A `kind` event (triggerReason Authorized) of `tx` carrying the idToken `id` of `ty`.
async fn authorized(st: &mut Station, kind: &str, tx: &str, seq: i64, id: &str, ty: &str) -> Value {
    let e = event(
        kind,
        tx,
        seq,
        "Authorized",
        json!({"idToken": token(id, ty)}),
    );
    send_event(st, e).await
}

/// Ended by `trigger` with `reason`, without an idToken: the answer.
async fn end_with(st: &mut Station, tx: &str, seq: i64, trigger: &str, reason: &str) -> Value {
    let info = json!({"transactionInfo": {"transactionId": tx, "stoppedReason": reason}});
    send_event(st, event("Ended", tx, seq, trigger, info)).await
}

/// Asserts an answer's idTokenInfo status is one of `statuses`.
fn status_in(answer: &Value, statuses: &[&str]) {
    let got = answer["idTokenInfo"]["status"].as_str().unwrap_or_default();
    assert!(statuses.contains(&got), "{statuses:?}: {answer}");
}

async fn authorize(st: &mut Station, id: &str, kind: &str, statuses: &[&str]) -> Value {
    let a = st
        .call("Authorize", json!({"idToken": token(id, kind)}))
        .await
        .unwrap();
    status_in(&a, statuses);
    a
}

/// A charging session of TAG-001 on a fresh transaction id, started by `start` (with the
/// idToken, or without it and authorized in an Updated event), charging, then ended.
async fn tag_session(c: &C201<'_>, start_trigger: &str, state: &str, token_first: bool) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = uuid_like();
    authorize(&mut st, "TAG-001", "ISO14443", &["Accepted"]).await;
    let tag = token("TAG-001", "ISO14443");
    let mut seq = 0;
    if token_first {
        let a = send_event(
            &mut st,
            event("Started", &tx, 0, start_trigger,
                json!({"idToken": tag, "transactionInfo": {"transactionId": tx, "chargingState": state}})),
        )
        .await;
        status_in(&a, &["Accepted"]);
    } else {
        let a = send_event(
            &mut st,
            event(
                "Started",
                &tx,
                0,
                start_trigger,
                json!({"transactionInfo": {"transactionId": tx, "chargingState": state}}),
            ),
        )
        .await;
        assert!(a.get("idTokenInfo").is_none(), "{a}");
        seq += 1;
        let a = send_event(
            &mut st,
            event("Updated", &tx, seq, "Authorized", json!({"idToken": tag})),
        )
        .await;
        status_in(&a, &["Accepted"]);
        assert_eq!(
            a["idTokenInfo"]["groupIdToken"]["idToken"], "GROUP001",
            "{a}"
        );
    }
    seq += 1;
    let a = send_event(
        &mut st,
        event(
            "Updated",
            &tx,
            seq,
            "ChargingStateChanged",
            json!({"transactionInfo": {"transactionId": tx, "chargingState": "Charging"}}),
        ),
    )
    .await;
    assert_eq!(a, json!({}));
    end_tag_session(&mut st, &tx, seq + 1, "Local").await;
}

/// The driver stops with TAG-001: StopAuthorized, then Ended.
async fn end_tag_session(st: &mut Station, tx: &str, seq: i64, reason: &str) {
    let tag = token("TAG-001", "ISO14443");
    let a = send_event(
        st,
        event(
            "Updated",
            tx,
            seq,
            "StopAuthorized",
            json!({"idToken": tag}),
        ),
    )
    .await;
    status_in(&a, &["Accepted"]);
    let a = send_event(
        st,
        event(
            "Ended",
            tx,
            seq + 1,
            "StopAuthorized",
            json!({"idToken": tag, "transactionInfo":
            {"transactionId": tx, "stoppedReason": reason, "chargingState": "EVConnected"}}),
        ),
    )
    .await;
    status_in(&a, &["Accepted"]);
}

pub async fn tc_c_02(c: &C201<'_>) {
    let mut st = c.booted().await;
    authorize(&mut st, "100000C02", "ISO14443", &["Invalid", "Unknown"]).await;
}

pub async fn tc_c_06(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    authorize(&mut st, "100000C06", "Central", &["Blocked", "Invalid"]).await;
}

pub async fn tc_c_07(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    authorize(&mut st, "100000C07", "Central", &["Expired", "Invalid"]).await;
}

/// Authorized from the station's cache: no Authorize, the token first seen in an Updated event.
pub async fn tc_c_08(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = uuid_like();
    let a = authorized(&mut st, "Updated", &tx, 1, "TAG-001", "ISO14443").await;
    status_in(&a, &["Accepted"]);
    end_tag_session(&mut st, &tx, 2, "Local").await;
}

/// The same with an unknown card: refused; the station deauthorizes and ends it by itself.
pub async fn tc_c_20(c: &C201<'_>) {
    let mut st = c.booted().await;
    let tx = uuid_like();
    let a = authorized(&mut st, "Updated", &tx, 1, "100000C02", "ISO14443").await;
    status_in(&a, &["Invalid", "Unknown"]);
    end_with(&mut st, &tx, 2, "Deauthorized", "DeAuthorized").await;
}

/// A card of the same group may stop the transaction.
pub async fn tc_c_39(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let a = authorize(&mut st, "100000C39B", "Central", &["Accepted"]).await;
    assert_eq!(
        a["idTokenInfo"]["groupIdToken"]["idToken"], "GROUP001",
        "{a}"
    );
    let (tx, a) = start_with(&mut st, "TAG-001", "ISO14443").await;
    status_in(&a, &["Accepted"]);
    assert_eq!(
        a["idTokenInfo"]["groupIdToken"]["idToken"], "GROUP001",
        "{a}"
    );
    authorize(&mut st, "100000C39B", "Central", &["Accepted"]).await;
    let other = token("100000C39B", "Central");
    let a = send_event(
        &mut st,
        event(
            "Updated",
            &tx,
            1,
            "StopAuthorized",
            json!({"idToken": other}),
        ),
    )
    .await;
    status_in(&a, &["Accepted"]);
    assert_eq!(
        a["idTokenInfo"]["groupIdToken"]["idToken"], "GROUP001",
        "{a}"
    );
    end_with(&mut st, &tx, 2, "StopAuthorized", "Local").await;
}

/// The operator clears the station's authorization cache: ClearCache as given, answered
/// `answer`, which the operator sees; the station goes on as before.
async fn clear_cache(c: &C201<'_>, answer: &str) {
    let mut st = c.booted().await;
    let request = c.command("ClearCache", json!({}));
    relayed(
        &mut st,
        request,
        "ClearCache",
        json!({}),
        json!({ "status": answer }),
    )
    .await;
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
}

pub async fn tc_c_37(c: &C201<'_>) {
    clear_cache(c, "Accepted").await;
}

pub async fn tc_c_38(c: &C201<'_>) {
    clear_cache(c, "Rejected").await;
}

/// Asserts an answer says Accepted, in GROUP001.
fn in_group(answer: &Value) {
    status_in(answer, &["Accepted"]);
    assert_eq!(
        answer["idTokenInfo"]["groupIdToken"]["idToken"], "GROUP001",
        "{answer}"
    );
}

/// `e` on EVSE `evse` (connector 1).
fn at_evse(mut e: Value, evse: i64) -> Value {
    e["evse"] = json!({"id": evse, "connectorId": 1});
    e
}

/// How csms closed the station's transaction `tx`: its stop reason and the identifier that
/// stopped it (`None`: still running).
async fn closed(c: &C201<'_>, tx: &str) -> Option<(Option<String>, Option<String>)> {
    let tx = tx.to_string();
    c.app
        .db(move |conn| {
            use csms::infra::db::schema::{ocpp_transactions as o, station_transactions as t};
            use diesel::prelude::*;
            let id: i64 = t::table
                .filter(t::station_tx_id.eq(&tx))
                .select(t::transaction_id.assume_not_null())
                .first(conn)
                .unwrap();
            let (stopped, reason, by) = o::table
                .find(id)
                .select((o::stopped_at, o::stop_reason, o::stop_id_tag))
                .first::<(
                    Option<chrono::NaiveDateTime>,
                    Option<String>,
                    Option<String>,
                )>(conn)
                .unwrap();
            stopped.map(|_| (reason, by))
        })
        .await
}

/// TAG-001 charges; 100000C39B of the same group stops it, from the station's local list
/// (`asked` false: no Authorize) or after an Authorize: GROUP001 in every answer.
async fn group_stop(c: &C201<'_>, asked: bool) {
    tokens(c).await;
    let mut st = c.booted().await;
    let (tx, a) = start_with(&mut st, "TAG-001", "ISO14443").await;
    in_group(&a);
    let charging = json!({"transactionInfo": {"transactionId": tx, "chargingState": "Charging"}});
    let a = send_event(
        &mut st,
        event("Updated", &tx, 1, "ChargingStateChanged", charging),
    )
    .await;
    assert_eq!(a, json!({}));
    if asked {
        in_group(&authorize(&mut st, "100000C39B", "Central", &["Accepted"]).await);
    }
    let other = json!({"idToken": token("100000C39B", "Central")});
    let a = send_event(&mut st, event("Updated", &tx, 2, "StopAuthorized", other)).await;
    in_group(&a);
    assert_eq!(closed(c, &tx).await, None, "still running until it ends");
    end_with(&mut st, &tx, 3, "StopAuthorized", "Local").await;
    assert_eq!(closed(c, &tx).await, Some((Some("Local".into()), None)));
}

pub async fn tc_c_40(c: &C201<'_>) {
    group_stop(c, false).await;
}

pub async fn tc_c_43(c: &C201<'_>) {
    group_stop(c, true).await;
}

/// Charging on EVSE 1 with TAG-001 and on EVSE 2 with 100000C39B (both of GROUP001, the
/// master-pass group): their transaction ids. Unless `seen_start`, csms first hears of EVSE 2's
/// transaction part way through (an Updated event without an idToken), as the tool may send it.
async fn charging_on_two(st: &mut Station, seen_start: bool) -> [String; 2] {
    let mut txs = Vec::new();
    for (evse, id, kind) in [(1, "TAG-001", "ISO14443"), (2, "100000C39B", "Central")] {
        let tx = uuid_like();
        if evse == 1 || seen_start {
            let start = json!({"idToken": token(id, kind)});
            let a = send_event(
                st,
                at_evse(event("Started", &tx, 0, "Authorized", start), evse),
            )
            .await;
            in_group(&a);
        }
        let charging =
            json!({"transactionInfo": {"transactionId": tx, "chargingState": "Charging"}});
        let a = send_event(
            st,
            at_evse(
                event("Updated", &tx, 1, "ChargingStateChanged", charging),
                evse,
            ),
        )
        .await;
        assert_eq!(a, json!({}));
        txs.push(tx);
    }
    [txs[0].clone(), txs[1].clone()]
}

/// Who pays for the station's transaction `tx`: the identifier of the core's transaction
/// (`None`: csms knows nobody who does, so it never began one).
async fn payer(c: &C201<'_>, tx: &str) -> Option<String> {
    let tx = tx.to_string();
    c.app
        .db(move |conn| {
            use csms::infra::db::schema::{ocpp_transactions as o, station_transactions as t};
            use diesel::prelude::*;
            let id: Option<i64> = t::table
                .filter(t::station_tx_id.eq(&tx))
                .select(t::transaction_id)
                .first(conn)
                .unwrap();
            id.map(|id| {
                o::table
                    .find(id)
                    .select(o::id_tag)
                    .first::<String>(conn)
                    .unwrap()
            })
        })
        .await
}

/// The master pass ends `tx` on `evse`: Ended, StopAuthorized, stoppedReason MasterPass, with the
/// idToken `id` of `kind`; answered Accepted in GROUP001, and csms closes it as the master
/// pass's stop.
async fn master_pass_end(
    c: &C201<'_>,
    st: &mut Station,
    tx: &str,
    evse: i64,
    id: &str,
    kind: &str,
) {
    let e = event(
        "Ended",
        tx,
        2,
        "StopAuthorized",
        json!({"idToken": token(id, kind),
        "transactionInfo": {"transactionId": tx, "stoppedReason": "MasterPass", "chargingState": "EVConnected"}}),
    );
    in_group(&send_event(st, at_evse(e, evse)).await);
    assert_eq!(
        closed(c, tx).await,
        Some((Some("MasterPass".into()), Some(id.to_string())))
    );
}

/// With a UI: the master pass stops every transaction. EVSE 2's transaction csms hears of
/// only part way through, without an idToken: the master pass that ends it is answered, but it is
/// who stopped it, never who pays.
pub async fn tc_c_47(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let [one, two] = charging_on_two(&mut st, false).await;
    in_group(&authorize(&mut st, "MASTERC47", "Central", &["Accepted"]).await);
    master_pass_end(c, &mut st, &one, 1, "MASTERC47", "Central").await;
    assert_eq!(payer(c, &one).await.as_deref(), Some("TAG-001"));
    let e = event(
        "Ended",
        &two,
        2,
        "StopAuthorized",
        json!({"idToken": token("MASTERC47", "Central"),
        "transactionInfo": {"transactionId": two, "stoppedReason": "MasterPass", "chargingState": "EVConnected"}}),
    );
    in_group(&send_event(&mut st, at_evse(e, 2)).await);
    assert_eq!(
        payer(c, &two).await,
        None,
        "the master pass pays for nothing"
    );
}

/// With a UI, a chosen transaction: the master pass (here TAG-001, of the master-pass group)
/// stops the one on EVSE 1; the one on EVSE 2 charges on until its driver stops it.
pub async fn tc_c_48(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let [one, two] = charging_on_two(&mut st, true).await;
    in_group(&authorize(&mut st, "TAG-001", "ISO14443", &["Accepted"]).await);
    master_pass_end(c, &mut st, &one, 1, "MASTERC47", "Central").await;
    assert_eq!(closed(c, &two).await, None, "EVSE 2 charges on");
    let e = event(
        "Ended",
        &two,
        2,
        "StopAuthorized",
        json!({"idToken": token("100000C39B", "Central"),
        "transactionInfo": {"transactionId": two, "stoppedReason": "Local"}}),
    );
    in_group(&send_event(&mut st, at_evse(e, 2)).await);
    assert_eq!(
        closed(c, &two).await,
        Some((Some("Local".into()), Some("100000C39B".into())))
    );
}

/// Without a UI: the master pass stops every transaction; each Ended carries the transaction's
/// own idToken.
pub async fn tc_c_49(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let [one, two] = charging_on_two(&mut st, true).await;
    in_group(&authorize(&mut st, "MASTERC47", "Central", &["Accepted"]).await);
    master_pass_end(c, &mut st, &one, 1, "TAG-001", "ISO14443").await;
    master_pass_end(c, &mut st, &two, 2, "100000C39B", "Central").await;
}

pub async fn tc_e_01(c: &C201<'_>) {
    tag_session(c, "ChargingStateChanged", "SuspendedEVSE", true).await;
}

pub async fn tc_e_02(c: &C201<'_>) {
    tag_session(c, "ChargingStateChanged", "Charging", true).await;
}

pub async fn tc_e_03(c: &C201<'_>) {
    tag_session(c, "CablePluggedIn", "EVConnected", false).await;
}

pub async fn tc_e_09(c: &C201<'_>) {
    let mut st = c.booted().await;
    let tx = uuid_like();
    let a = send_event(
        &mut st,
        event(
            "Started",
            &tx,
            0,
            "CablePluggedIn",
            json!({"transactionInfo": {"transactionId": tx, "chargingState": "EVConnected"}}),
        ),
    )
    .await;
    assert_eq!(a, json!({}));
    send_event(
        &mut st,
        event("Ended", &tx, 1, "EVCommunicationLost",
            json!({"transactionInfo": {"transactionId": tx, "chargingState": "Idle", "stoppedReason": "EVDisconnected"}})),
    )
    .await;
}

pub async fn tc_e_10(c: &C201<'_>) {
    tag_session(c, "Authorized", "EVConnected", true).await;
}

/// Started by a car in the bay: no idToken, no EVSE.
pub async fn tc_e_12(c: &C201<'_>) {
    let mut st = c.booted().await;
    let tx = uuid_like();
    let mut e = event("Started", &tx, 0, "EVDetected", json!({}));
    e.as_object_mut().unwrap().remove("evse");
    assert_eq!(send_event(&mut st, e).await, json!({}));
    let mut e = event(
        "Ended",
        &tx,
        1,
        "EVDeparted",
        json!({"transactionInfo": {"transactionId": tx, "stoppedReason": "Local"}}),
    );
    e.as_object_mut().unwrap().remove("evse");
    send_event(&mut st, e).await;
}

pub async fn tc_e_15(c: &C201<'_>) {
    tag_session(c, "Authorized", "Charging", true).await;
}

/// Started with an unknown card: refused, and ended by the station (Deauthorized) with no stop
/// from csms in between.
pub async fn tc_e_16(c: &C201<'_>) {
    let mut st = c.booted().await;
    let (tx, a) = start_with(&mut st, "100000C02", "ISO14443").await;
    status_in(&a, &["Invalid", "Unknown"]);
    end_with(&mut st, &tx, 1, "Deauthorized", "DeAuthorized").await;
}

/// The operator stops the running transaction: RequestStopTransaction with its id as given.
pub async fn tc_e_21(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let (tx, a) = start_with(&mut st, "TAG-001", "ISO14443").await;
    status_in(&a, &["Accepted"]);
    let request = c.command("RequestStopTransaction", json!({"transactionId": tx}));
    relayed(
        &mut st,
        request,
        "RequestStopTransaction",
        json!({"transactionId": tx}),
        json!({"status": "Accepted"}),
    )
    .await;
    end_with(&mut st, &tx, 1, "RemoteStop", "Remote").await;
}

/// Ended offline with two seqNos missing: csms asks GetTransactionStatus on its own, then takes
/// the two queued events.
pub async fn tc_e_31(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let (tx, a) = start_with(&mut st, "TAG-001", "ISO14443").await;
    status_in(&a, &["Accepted"]);
    st.call("StatusNotification", status(1, "Available"))
        .await
        .unwrap();
    send_event(
        &mut st,
        event(
            "Ended",
            &tx,
            3,
            "EVCommunicationLost",
            json!({"offline": true,
            "transactionInfo": {"transactionId": tx, "stoppedReason": "EVDisconnected"}}),
        ),
    )
    .await;
    let (action, asked) = st
        .answer_next_call(json!({"ongoingIndicator": false, "messagesInQueue": true}))
        .await;
    assert_eq!(action, "GetTransactionStatus");
    assert_eq!(asked, json!({"transactionId": tx}));
    for seq in [1, 2] {
        let a = send_event(
            &mut st,
            event(
                "Updated",
                &tx,
                seq,
                "MeterValuePeriodic",
                json!({"offline": true,
                "meterValue": meter("Sample.Periodic", 1000.0 * seq as f64, 1)}),
            ),
        )
        .await;
        assert_eq!(a, json!({}));
    }
}

/// Two sessions in a row on one connector, each numbering its events from 0.
pub async fn tc_e_53(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    for _ in 0..2 {
        let (tx, a) = start_with(&mut st, "TAG-001", "ISO14443").await;
        status_in(&a, &["Accepted"]);
        end_tag_session(&mut st, &tx, 1, "Local").await;
    }
}

/// The Authorized state: Authorize TAG-001, then Started (triggerReason Authorized) with it, both
/// Accepted: the transaction id.
async fn authorized_start(st: &mut Station) -> String {
    authorize(st, "TAG-001", "ISO14443", &["Accepted"]).await;
    let (tx, a) = start_with(st, "TAG-001", "ISO14443").await;
    status_in(&a, &["Accepted"]);
    tx
}

/// The tokens, the station booted and TAG-001's transaction authorized and started: the station
/// and the transaction id.
async fn authorized_session(c: &C201<'_>) -> (Station, String) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = authorized_start(&mut st).await;
    (st, tx)
}

/// `authorized_session`, then charging (seqNo 1, ChargingStateChanged).
async fn charging_session(c: &C201<'_>) -> (Station, String) {
    let (mut st, tx) = authorized_session(c).await;
    state_change(&mut st, &tx, 1, "ChargingStateChanged", "Charging").await;
    (st, tx)
}

/// An Updated event of `tx` by `trigger` into chargingState `state`, without an idToken:
/// answered with nothing.
async fn state_change(st: &mut Station, tx: &str, seq: i64, trigger: &str, state: &str) {
    let info = json!({"transactionInfo": {"transactionId": tx, "chargingState": state}});
    let a = send_event(st, event("Updated", tx, seq, trigger, info)).await;
    assert_eq!(a, json!({}), "{trigger} {state}");
}

/// Connector 1 reported `state`: StatusNotification and its NotifyEvent.
async fn connector_is(st: &mut Station, state: &str) {
    assert_eq!(
        st.call("StatusNotification", status(1, state))
            .await
            .unwrap(),
        json!({})
    );
    let mut e = notify_event();
    e["eventData"][0]["actualValue"] = json!(state);
    assert_eq!(st.call("NotifyEvent", e).await.unwrap(), json!({}));
}

/// The EVDisconnected state: connector Available, then Ended (EVCommunicationLost, Idle,
/// stoppedReason EVDisconnected) as event `seq` of `tx`.
async fn ev_disconnected(st: &mut Station, tx: &str, seq: i64) {
    connector_is(st, "Available").await;
    let info = json!({"transactionInfo": {"transactionId": tx, "chargingState": "Idle",
        "stoppedReason": "EVDisconnected"}});
    let a = send_event(st, event("Ended", tx, seq, "EVCommunicationLost", info)).await;
    assert!(a.get("idTokenInfo").is_none(), "{a}");
}

/// Asserts csms closed `tx` for `reason`.
async fn closed_for(c: &C201<'_>, tx: &str, reason: &str) {
    let got = closed(c, tx).await;
    assert_eq!(
        got.as_ref().map(|(r, _)| r.as_deref()),
        Some(Some(reason)),
        "{got:?}"
    );
}

/// Authorization first, then the cable and the energy (EnergyTransferStarted), stopped by the
/// driver.
pub async fn tc_e_04(c: &C201<'_>) {
    let (mut st, tx) = authorized_session(c).await;
    connector_is(&mut st, "Occupied").await;
    state_change(&mut st, &tx, 1, "CablePluggedIn", "EVConnected").await;
    state_change(&mut st, &tx, 2, "ChargingStateChanged", "Charging").await;
    end_tag_session(&mut st, &tx, 3, "Local").await;
    closed_for(c, &tx, "Local").await;
}

/// Charging, then Ended by the driver's card (StopAuthorized, Local) with the power path closed.
pub async fn tc_e_07(c: &C201<'_>) {
    let (mut st, tx) = charging_session(c).await;
    let e = event(
        "Ended",
        &tx,
        2,
        "StopAuthorized",
        json!({"idToken": token("TAG-001", "ISO14443"),
        "transactionInfo": {"transactionId": tx, "stoppedReason": "Local"}}),
    );
    status_in(&send_event(&mut st, e).await, &["Accepted"]);
    closed_for(c, &tx, "Local").await;
}

/// Charging, StopAuthorized (Accepted), then Ended when the energy stopped (ChargingStateChanged,
/// EVConnected, Local).
pub async fn tc_e_08(c: &C201<'_>) {
    let (mut st, tx) = charging_session(c).await;
    let stop = json!({"idToken": token("TAG-001", "ISO14443")});
    let a = send_event(&mut st, event("Updated", &tx, 2, "StopAuthorized", stop)).await;
    status_in(&a, &["Accepted"]);
    let info = json!({"transactionInfo": {"transactionId": tx, "chargingState": "EVConnected",
        "stoppedReason": "Local"}});
    let a = send_event(
        &mut st,
        event("Ended", &tx, 3, "ChargingStateChanged", info),
    )
    .await;
    assert!(a.get("idTokenInfo").is_none(), "{a}");
    closed_for(c, &tx, "Local").await;
}

/// Started when the signed data came in (SignedDataReceived, SuspendedEVSE) with the idToken.
pub async fn tc_e_11(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    authorize(&mut st, "TAG-001", "ISO14443", &["Accepted"]).await;
    let tx = uuid_like();
    let e = event(
        "Started",
        &tx,
        0,
        "SignedDataReceived",
        json!({"idToken": token("TAG-001", "ISO14443"),
        "transactionInfo": {"transactionId": tx, "chargingState": "SuspendedEVSE"}}),
    );
    status_in(&send_event(&mut st, e).await, &["Accepted"]);
    state_change(&mut st, &tx, 1, "ChargingStateChanged", "Charging").await;
    end_tag_session(&mut st, &tx, 2, "Local").await;
    closed_for(c, &tx, "Local").await;
}

/// A whole session: authorized, charging, stopped by the card, the EV still connected, then
/// unplugged at the station: csms ends it when the cable goes.
pub async fn tc_e_14(c: &C201<'_>) {
    let (mut st, tx) = authorized_session(c).await;
    connector_is(&mut st, "Occupied").await;
    state_change(&mut st, &tx, 1, "CablePluggedIn", "EVConnected").await;
    state_change(&mut st, &tx, 2, "ChargingStateChanged", "Charging").await;
    let stop = json!({"idToken": token("TAG-001", "ISO14443")});
    let a = send_event(&mut st, event("Updated", &tx, 3, "StopAuthorized", stop)).await;
    status_in(&a, &["Accepted"]);
    state_change(&mut st, &tx, 4, "ChargingStateChanged", "EVConnected").await;
    assert_eq!(closed(c, &tx).await, None, "running until the cable goes");
    ev_disconnected(&mut st, &tx, 5).await;
    closed_for(c, &tx, "EVDisconnected").await;
}

/// Suspended by the EV, then the EV side is unplugged: Ended (EVCommunicationLost, Idle,
/// EVDisconnected).
pub async fn tc_e_17(c: &C201<'_>) {
    let (mut st, tx) = charging_session(c).await;
    state_change(&mut st, &tx, 2, "ChargingStateChanged", "SuspendedEV").await;
    let info = json!({"transactionInfo": {"transactionId": tx, "chargingState": "Idle",
        "stoppedReason": "EVDisconnected"}});
    send_event(&mut st, event("Ended", &tx, 3, "EVCommunicationLost", info)).await;
    closed_for(c, &tx, "EVDisconnected").await;
}

/// Stopped by the card, unplugged, then the car leaves the bay: Ended (EVDeparted, Local).
pub async fn tc_e_19(c: &C201<'_>) {
    let (mut st, tx) = charging_session(c).await;
    let stop = json!({"idToken": token("TAG-001", "ISO14443")});
    let a = send_event(&mut st, event("Updated", &tx, 2, "StopAuthorized", stop)).await;
    status_in(&a, &["Accepted"]);
    state_change(&mut st, &tx, 3, "ChargingStateChanged", "EVConnected").await;
    connector_is(&mut st, "Available").await;
    state_change(&mut st, &tx, 4, "EVCommunicationLost", "Idle").await;
    assert_eq!(closed(c, &tx).await, None, "running until the bay is free");
    end_with(&mut st, &tx, 5, "EVDeparted", "Local").await;
    closed_for(c, &tx, "Local").await;
}

/// Suspended by the EV, then the EVDisconnected state.
pub async fn tc_e_20(c: &C201<'_>) {
    let (mut st, tx) = charging_session(c).await;
    state_change(&mut st, &tx, 2, "ChargingStateChanged", "SuspendedEV").await;
    ev_disconnected(&mut st, &tx, 3).await;
    closed_for(c, &tx, "EVDisconnected").await;
}

/// The EV stops taking energy: Ended (ChargingStateChanged, SuspendedEV, StoppedByEV).
pub async fn tc_e_22(c: &C201<'_>) {
    let (mut st, tx) = charging_session(c).await;
    let info = json!({"transactionInfo": {"transactionId": tx, "chargingState": "SuspendedEV",
        "stoppedReason": "StoppedByEV"}});
    send_event(
        &mut st,
        event("Ended", &tx, 2, "ChargingStateChanged", info),
    )
    .await;
    closed_for(c, &tx, "StoppedByEV").await;
}

/// The cable is pulled on the EV side and plugged in again: the transaction is only suspended,
/// charges on, and ends when the driver stops it.
pub async fn tc_e_26(c: &C201<'_>) {
    let (mut st, tx) = charging_session(c).await;
    state_change(&mut st, &tx, 2, "ChargingStateChanged", "SuspendedEV").await;
    state_change(&mut st, &tx, 3, "EVCommunicationLost", "Idle").await;
    connector_is(&mut st, "Available").await;
    connector_is(&mut st, "Occupied").await;
    state_change(&mut st, &tx, 4, "CablePluggedIn", "EVConnected").await;
    state_change(&mut st, &tx, 5, "ChargingStateChanged", "Charging").await;
    assert_eq!(closed(c, &tx).await, None, "suspended, not ended");
    end_tag_session(&mut st, &tx, 6, "Local").await;
    closed_for(c, &tx, "Local").await;
}

/// The station connects again without rebooting: csms sends to this connection from the moment
/// the handshake ends (the operator's command may follow at once).
async fn reconnected(c: &C201<'_>) -> Station {
    c.connect().await
}

/// The station dropped mid-transaction and reconnects (no reboot); the operator asks for the
/// transaction's status: GetTransactionStatus with its id as given, answered ongoing with or
/// without `queued` events; the queued one is then answered, and the driver stops.
async fn running_status(c: &C201<'_>, queued: bool) {
    let (st, tx) = charging_session(c).await;
    drop(st);
    let mut st = reconnected(c).await;
    let body = json!({"transactionId": tx});
    let request = c.command("GetTransactionStatus", body.clone());
    let answer = json!({"ongoingIndicator": true, "messagesInQueue": queued});
    relayed(&mut st, request, "GetTransactionStatus", body, answer).await;
    let mut seq = 2;
    if queued {
        let e = event(
            "Updated",
            &tx,
            seq,
            "MeterValuePeriodic",
            json!({"offline": true,
            "meterValue": meter("Sample.Periodic", 1000.0, 1)}),
        );
        let a = send_event(&mut st, e).await;
        assert!(a.get("idTokenInfo").is_none(), "{a}");
        seq += 1;
    }
    assert_eq!(closed(c, &tx).await, None, "still running");
    end_tag_session(&mut st, &tx, seq, "Local").await;
    closed_for(c, &tx, "Local").await;
}

pub async fn tc_e_29(c: &C201<'_>) {
    running_status(c, true).await;
}

pub async fn tc_e_30(c: &C201<'_>) {
    running_status(c, false).await;
}

/// After a reconnect the operator asks whether the station holds events: GetTransactionStatus
/// without a transactionId, as given. With `queued`, the station ended a transaction offline
/// and then sends that Ended event; csms closes the transaction with it.
async fn queue_status(c: &C201<'_>, queued: bool) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = if queued {
        let tx = authorized_start(&mut st).await;
        state_change(&mut st, &tx, 1, "ChargingStateChanged", "Charging").await;
        Some(tx)
    } else {
        None
    };
    drop(st);
    let mut st = reconnected(c).await;
    let request = c.command("GetTransactionStatus", json!({}));
    let answer = json!({ "messagesInQueue": queued });
    relayed(&mut st, request, "GetTransactionStatus", json!({}), answer).await;
    if let Some(tx) = tx {
        let e = event(
            "Ended",
            &tx,
            2,
            "EVCommunicationLost",
            json!({"offline": true,
            "transactionInfo": {"transactionId": tx, "chargingState": "Idle", "stoppedReason": "EVDisconnected"}}),
        );
        send_event(&mut st, e).await;
        closed_for(c, &tx, "EVDisconnected").await;
    }
}

pub async fn tc_e_33(c: &C201<'_>) {
    queue_status(c, true).await;
}

pub async fn tc_e_34(c: &C201<'_>) {
    queue_status(c, false).await;
}

/// Authorized, plugged in, but the EV is not ready (SuspendedEV); the driver stops.
pub async fn tc_e_38(c: &C201<'_>) {
    let (mut st, tx) = authorized_session(c).await;
    connector_is(&mut st, "Occupied").await;
    state_change(&mut st, &tx, 1, "CablePluggedIn", "EVConnected").await;
    state_change(&mut st, &tx, 2, "ChargingStateChanged", "SuspendedEV").await;
    end_tag_session(&mut st, &tx, 3, "Local").await;
    closed_for(c, &tx, "Local").await;
}

/// Authorized, but no cable within the timeout: Ended (EVConnectTimeout, Timeout), nothing
/// delivered.
pub async fn tc_e_39(c: &C201<'_>) {
    let (mut st, tx) = authorized_session(c).await;
    end_with(&mut st, &tx, 1, "EVConnectTimeout", "Timeout").await;
    closed_for(c, &tx, "Timeout").await;
    assert_eq!(billed_wh(c, &tx).await, 0);
}

/// Clock-aligned readings with no transaction: MeterValues for EVSE 0 and EVSE 1, and the
/// fiscal metering event.
pub async fn tc_j_01(c: &C201<'_>) {
    let mut st = c.booted().await;
    for evse in [0, 1, 0, 1, 0, 1] {
        let a = st
            .call(
                "MeterValues",
                json!({"evseId": evse, "meterValue": meter("Sample.Clock", 5000.0, 1)}),
            )
            .await
            .unwrap();
        assert_eq!(a, json!({}));
    }
    let e = json!({"generatedAt": "2026-12-07T10:00:00Z", "seqNo": 0, "eventData": [{
        "eventId": 3, "timestamp": "2026-12-07T10:00:00Z", "trigger": "Periodic", "actualValue": "5000",
        "eventNotificationType": "HardWiredMonitor",
        "component": {"name": "FiscalMetering"}, "variable": {"name": "EnergyImport"}}]});
    assert_eq!(st.call("NotifyEvent", e).await.unwrap(), json!({}));
}

/// Readings at the start, periodic ones, and the end's: billed from the first to the last.
async fn metered_session(c: &C201<'_>, signed: bool) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = uuid_like();
    let sign = |mut m: Value| {
        if signed {
            for mv in m.as_array_mut().unwrap() {
                for sv in mv["sampledValue"].as_array_mut().unwrap() {
                    sv["signedMeterValue"] = json!({"signedMeterData": "AAEC", "signingMethod": "ECDSA-secp256r1-SHA256",
                        "encodingMethod": "OCMF", "publicKey": "AAEC"});
                }
            }
        }
        m
    };
    let a = send_event(
        &mut st,
        event(
            "Started",
            &tx,
            0,
            "Authorized",
            json!({"idToken": token("TAG-001", "ISO14443"),
            "meterValue": sign(meter("Transaction.Begin", 10_000.0, 1))}),
        ),
    )
    .await;
    status_in(&a, &["Accepted"]);
    for seq in 1..=3 {
        let a = send_event(
            &mut st,
            event("Updated", &tx, seq, "MeterValuePeriodic",
                json!({"meterValue": sign(meter("Sample.Periodic", 10_000.0 + 500.0 * seq as f64, 1))})),
        )
        .await;
        assert!(
            a.get("idTokenInfo").is_none() && a.get("totalCost").is_none(),
            "{a}"
        );
    }
    let mut readings = sign(meter("Sample.Periodic", 12_000.0, 2));
    readings.as_array_mut().unwrap().extend(
        sign(meter("Transaction.End", 13_000.0, 1))
            .as_array()
            .unwrap()
            .clone(),
    );
    let a = send_event(
        &mut st,
        event("Ended", &tx, 4, "StopAuthorized", json!({"idToken": token("TAG-001", "ISO14443"),
            "meterValue": readings, "transactionInfo": {"transactionId": tx, "stoppedReason": "Local"}})),
    )
    .await;
    status_in(&a, &["Accepted"]);
    let energy = c
        .app
        .db(move |conn| {
            use csms::infra::db::schema::{charging_sessions as s, station_transactions as t};
            use diesel::prelude::*;
            let id: i64 = t::table
                .filter(t::station_tx_id.eq(&tx))
                .select(t::transaction_id.assume_not_null())
                .first(conn)
                .unwrap();
            s::table
                .filter(s::transaction_id.eq(id))
                .select(s::energy_wh)
                .first::<i64>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(
        energy, 3000,
        "from 10 000 Wh at the start to 13 000 Wh at the end"
    );
}

pub async fn tc_j_07(c: &C201<'_>) {
    let mut st = c.booted().await;
    tokens(c).await;
    let tx = uuid_like();
    let a = send_event(
        &mut st,
        event(
            "Started",
            &tx,
            0,
            "Authorized",
            json!({"idToken": token("TAG-001", "ISO14443"),
            "meterValue": meter("Transaction.Begin", 2_000.0, 1)}),
        ),
    )
    .await;
    status_in(&a, &["Accepted"]);
    end_tag_session(&mut st, &tx, 1, "Local").await;
}

pub async fn tc_j_10(c: &C201<'_>) {
    metered_session(c, false).await;
}

pub async fn tc_j_11(c: &C201<'_>) {
    metered_session(c, true).await;
}

/// The energy csms billed for the station's transaction `tx`, in Wh.
async fn billed_wh(c: &C201<'_>, tx: &str) -> i64 {
    session_of(c, tx).await.0
}

/// The session of the station's transaction `tx`: the energy billed (Wh) and its price per kWh
/// (minor units).
async fn session_of(c: &C201<'_>, tx: &str) -> (i64, i64) {
    let tx = tx.to_string();
    c.app
        .db(move |conn| {
            use csms::infra::db::schema::{charging_sessions as s, station_transactions as t};
            use diesel::prelude::*;
            let id: i64 = t::table
                .filter(t::station_tx_id.eq(&tx))
                .select(t::transaction_id.assume_not_null())
                .first(conn)
                .unwrap();
            s::table
                .filter(s::transaction_id.eq(id))
                .select((s::energy_wh, s::price_per_kwh))
                .first::<(i64, i64)>(conn)
                .unwrap()
        })
        .await
}

/// Readings of `meter` signed, as a station with a signing meter sends them.
fn signed(mut m: Value) -> Value {
    for mv in m.as_array_mut().unwrap() {
        for sv in mv["sampledValue"].as_array_mut().unwrap() {
            sv["signedMeterValue"] = json!({"signedMeterData": "AAEC", "signingMethod": "ECDSA-secp256r1-SHA256",
                "encodingMethod": "OCMF", "publicKey": "AAEC"});
        }
    }
    m
}

/// Started with TAG-001 and a Transaction.Begin reading of `wh`, then charging: the id.
async fn charging_from(st: &mut Station, wh: f64) -> String {
    let tx = uuid_like();
    let e = event(
        "Started",
        &tx,
        0,
        "Authorized",
        json!({"idToken": token("TAG-001", "ISO14443"),
        "meterValue": meter("Transaction.Begin", wh, 1)}),
    );
    status_in(&send_event(st, e).await, &["Accepted"]);
    state_change(st, &tx, 1, "ChargingStateChanged", "Charging").await;
    tx
}

/// Ended by the driver (event `seq` of `tx`) with `readings`: Accepted.
async fn ended_with(st: &mut Station, tx: &str, seq: i64, readings: Value) {
    let e = event(
        "Ended",
        tx,
        seq,
        "StopAuthorized",
        json!({"idToken": token("TAG-001", "ISO14443"),
        "meterValue": readings, "transactionInfo": {"transactionId": tx, "stoppedReason": "Local"}}),
    );
    status_in(&send_event(st, e).await, &["Accepted"]);
}

/// Sample.Clock readings `clock` and a last Transaction.End at `end` Wh, as one list.
fn clock_then_end(clock: f64, end: f64, sign: bool) -> Value {
    let mut readings = meter("Sample.Clock", clock, 2);
    readings
        .as_array_mut()
        .unwrap()
        .extend(meter("Transaction.End", end, 1).as_array().unwrap().clone());
    if sign { signed(readings) } else { readings }
}

/// During charging: a clock-aligned MeterValues and an Updated MeterValueClock event, both with
/// Sample.Clock readings; billed from the start's register to the end's.
pub async fn tc_j_02(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = charging_from(&mut st, 20_000.0).await;
    let a = st
        .call(
            "MeterValues",
            json!({"evseId": 1, "meterValue": meter("Sample.Clock", 20_500.0, 1)}),
        )
        .await
        .unwrap();
    assert_eq!(a, json!({}));
    let e = event(
        "Updated",
        &tx,
        2,
        "MeterValueClock",
        json!({"meterValue": meter("Sample.Clock", 21_000.0, 1)}),
    );
    let a = send_event(&mut st, e).await;
    assert!(
        a.get("idTokenInfo").is_none() && a.get("totalCost").is_none(),
        "{a}"
    );
    ended_with(&mut st, &tx, 3, meter("Transaction.End", 21_500.0, 1)).await;
    assert_eq!(billed_wh(c, &tx).await, 1_500);
}

async fn clock_ended(c: &C201<'_>, sign: bool) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = charging_from(&mut st, 30_000.0).await;
    ended_with(&mut st, &tx, 2, clock_then_end(30_500.0, 31_500.0, sign)).await;
    assert_eq!(
        billed_wh(c, &tx).await,
        1_500,
        "from 30 000 Wh at the start to 31 500 Wh at the end"
    );
}

/// Ended with clock-aligned readings and a last Transaction.End.
pub async fn tc_j_03(c: &C201<'_>) {
    clock_ended(c, false).await;
}

/// The same, every sampled value signed.
pub async fn tc_j_04(c: &C201<'_>) {
    clock_ended(c, true).await;
}

/// Authorized before the EVSE is known (Started without one); the Transaction.Begin readings
/// come with the Updated event that names it; billed from them.
pub async fn tc_j_08(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    authorize(&mut st, "TAG-001", "ISO14443", &["Accepted"]).await;
    let tx = uuid_like();
    let mut e = event(
        "Started",
        &tx,
        0,
        "Authorized",
        json!({"idToken": token("TAG-001", "ISO14443")}),
    );
    e.as_object_mut().unwrap().remove("evse");
    status_in(&send_event(&mut st, e).await, &["Accepted"]);
    connector_is(&mut st, "Occupied").await;
    let e = event(
        "Updated",
        &tx,
        1,
        "CablePluggedIn",
        json!({"meterValue": meter("Transaction.Begin", 40_000.0, 1),
        "transactionInfo": {"transactionId": tx, "chargingState": "EVConnected"}}),
    );
    let a = send_event(&mut st, e).await;
    assert!(a.get("idTokenInfo").is_none(), "{a}");
    state_change(&mut st, &tx, 2, "ChargingStateChanged", "Charging").await;
    ended_with(&mut st, &tx, 3, meter("Transaction.End", 41_000.0, 1)).await;
    assert_eq!(billed_wh(c, &tx).await, 1_000);
}

/// Three periodic readings in Updated events, then the end's.
pub async fn tc_j_09(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = charging_from(&mut st, 50_000.0).await;
    for seq in 2..=4 {
        let wh = 50_000.0 + 500.0 * (seq - 1) as f64;
        let e = event(
            "Updated",
            &tx,
            seq,
            "MeterValuePeriodic",
            json!({"meterValue": meter("Sample.Periodic", wh, 1)}),
        );
        let a = send_event(&mut st, e).await;
        assert!(
            a.get("idTokenInfo").is_none() && a.get("totalCost").is_none(),
            "{a}"
        );
    }
    ended_with(&mut st, &tx, 5, meter("Transaction.End", 52_000.0, 1)).await;
    assert_eq!(billed_wh(c, &tx).await, 2_000);
}

// ---- H Reservation ----

/// The operator's ReserveNow `id` (TAG-001, ten minutes, `extra` fields), answered `answer`:
/// the operator's answer.
async fn reserve(c: &C201<'_>, st: &mut Station, id: i64, extra: Value, answer: &str) -> Value {
    tokens(c).await;
    let expiry = (chrono::Utc::now() + chrono::Duration::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut body =
        json!({"id": id, "expiryDateTime": expiry, "idToken": token("TAG-001", "ISO14443")});
    if let (Value::Object(b), Value::Object(extra)) = (&mut body, extra) {
        b.extend(extra);
    }
    let request = c.command("ReserveNow", body.clone());
    relayed(st, request, "ReserveNow", body, json!({"status": answer})).await
}

/// What csms recorded of the reservation the station knows as `id`.
async fn reservation_status(c: &C201<'_>, id: i64) -> String {
    c.app
        .db(move |conn| {
            use csms::infra::db::schema::reservations as r;
            use diesel::prelude::*;
            r::table
                .filter(r::ocpp_id.eq(id))
                .order(r::id.desc())
                .select(r::status)
                .first::<String>(conn)
                .unwrap()
        })
        .await
}

/// Reserved on EVSE 1 (`extra`), then the station's Reserved status and event.
async fn reserved(c: &C201<'_>, id: i64, extra: Value) -> Station {
    let mut st = c.booted().await;
    let b = reserve(c, &mut st, id, extra, "Accepted").await;
    assert_eq!(b["reservation"]["status"], "active", "{b}");
    assert_eq!(
        st.call("StatusNotification", status(1, "Reserved"))
            .await
            .unwrap(),
        json!({})
    );
    assert_eq!(reservation_status(c, id).await, "active");
    st
}

pub async fn tc_h_01(c: &C201<'_>) {
    let mut st = reserved(c, 2011, json!({"evseId": 1})).await;
    cancel(c, &mut st, 2011).await;
}

/// Not used: the station lets it expire and says so.
pub async fn tc_h_07(c: &C201<'_>) {
    let mut st = reserved(c, 2017, json!({"evseId": 1})).await;
    station_ends(c, &mut st, 2017, "Available", "Expired", "expired").await;
}

/// The station ends reservation `id` itself: the EVSE goes `connector`, ReservationStatusUpdate
/// `update` is answered empty, and the reservation is `ends` for csms.
async fn station_ends(
    c: &C201<'_>,
    st: &mut Station,
    id: i64,
    connector: &str,
    update: &str,
    ends: &str,
) {
    st.call("StatusNotification", status(1, connector))
        .await
        .unwrap();
    let update = json!({"reservationId": id, "reservationUpdateStatus": update});
    assert_eq!(
        st.call("ReservationStatusUpdate", update).await.unwrap(),
        json!({})
    );
    assert_eq!(reservation_status(c, id).await, ends);
}

/// No EVSE named: the station picks one.
pub async fn tc_h_08(c: &C201<'_>) {
    let mut st = reserved(c, 2018, json!({})).await;
    cancel(c, &mut st, 2018).await;
}

pub async fn tc_h_14(c: &C201<'_>) {
    let mut st = reserved(c, 2114, json!({})).await;
    cancel(c, &mut st, 2114).await;
}

pub async fn tc_h_15(c: &C201<'_>) {
    let mut st = reserved(c, 2115, json!({"connectorType": "cType2"})).await;
    cancel(c, &mut st, 2115).await;
}

/// The operator cancels: CancelReservation with the station's id; the EVSE is free again.
async fn cancel(c: &C201<'_>, st: &mut Station, id: i64) {
    let request = c.command("CancelReservation", json!({"reservationId": id}));
    relayed(
        st,
        request,
        "CancelReservation",
        json!({"reservationId": id}),
        json!({"status": "Accepted"}),
    )
    .await;
    st.call("StatusNotification", status(1, "Available"))
        .await
        .unwrap();
    assert_eq!(reservation_status(c, id).await, "cancelled");
}

pub async fn tc_h_17(c: &C201<'_>) {
    let mut st = reserved(c, 2117, json!({"evseId": 1})).await;
    cancel(c, &mut st, 2117).await;
}

pub async fn tc_h_19(c: &C201<'_>) {
    let group = json!({"evseId": 1, "groupIdToken": token("GROUP001", "Central")});
    let mut st = reserved(c, 2119, group).await;
    cancel(c, &mut st, 2119).await;
}

/// The EVSE faults: the station removes the reservation and says so.
pub async fn tc_h_20(c: &C201<'_>) {
    let mut st = reserved(c, 2120, json!({"evseId": 1})).await;
    station_ends(c, &mut st, 2120, "Faulted", "Removed", "cancelled").await;
    st.call("StatusNotification", status(1, "Available"))
        .await
        .unwrap();
}

/// Configured to reject: recorded as refused, nothing held.
pub async fn tc_h_22(c: &C201<'_>) {
    let mut st = c.booted().await;
    let b = reserve(c, &mut st, 2122, json!({"evseId": 1}), "Rejected").await;
    assert_eq!(b["reservation"]["status"], "refused", "{b}");
}

macro_rules! cases201 {
    ($($id:literal => $f:ident),* $(,)?) => {
        $(
            $crate::both_backends!($f, super::both, |app| {
                let c = super::C201::provision(&app, &$id.replace('_', "")).await;
                super::$f(&c).await
            });
        )*

        /// Every case, in the order of the case document (the order a tool runs them).
        async fn run_all(c: &C201<'_>) -> Vec<(&'static str, String)> {
            use futures_util::FutureExt;
            let mut failed = Vec::new();
            $(
                let outcome = tokio::time::timeout(
                    std::time::Duration::from_secs(60),
                    std::panic::AssertUnwindSafe(Box::pin($f(c))).catch_unwind(),
                )
                .await;
                match outcome {
                    Ok(Ok(())) => println!("{} passed", $id),
                    Ok(Err(p)) => failed.push(($id, p.downcast_ref::<String>().cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default())),
                    Err(_) => failed.push(($id, "timed out".to_string())),
                }
            )*
            failed
        }
    };
}

cases201! {
    "TC_A_01" => tc_a_01,
    "TC_A_02" => tc_a_02,
    "TC_A_03" => tc_a_03,
    "TC_A_04" => tc_a_04,
    "TC_A_06" => tc_a_06,
    "TC_A_08" => tc_a_08,
    "TC_A_09" => tc_a_09,
    "TC_A_10" => tc_a_10,
    "TC_A_11" => tc_a_11,
    "TC_A_12" => tc_a_12,
    "TC_A_13" => tc_a_13,
    "TC_A_14" => tc_a_14,
    "TC_A_19" => tc_a_19,
    "TC_B_01" => tc_b_01,
    "TC_B_02" => tc_b_02,
    "TC_B_06" => tc_b_06,
    "TC_B_07" => tc_b_07,
    "TC_B_08" => tc_b_08,
    "TC_B_09" => tc_b_09,
    "TC_B_10" => tc_b_10,
    "TC_B_12" => tc_b_12,
    "TC_B_13" => tc_b_13,
    "TC_B_14" => tc_b_14,
    "TC_B_18" => tc_b_18,
    "TC_B_20" => tc_b_20,
    "TC_B_21" => tc_b_21,
    "TC_B_22" => tc_b_22,
    "TC_B_25" => tc_b_25,
    "TC_B_26" => tc_b_26,
    "TC_B_27" => tc_b_27,
    "TC_B_30" => tc_b_30,
    "TC_B_31" => tc_b_31,
    "TC_B_42" => tc_b_42,
    "TC_B_44" => tc_b_44,
    "TC_B_58" => tc_b_58,
    "TC_C_02" => tc_c_02,
    "TC_C_06" => tc_c_06,
    "TC_C_07" => tc_c_07,
    "TC_C_08" => tc_c_08,
    "TC_C_20" => tc_c_20,
    "TC_C_37" => tc_c_37,
    "TC_C_38" => tc_c_38,
    "TC_C_39" => tc_c_39,
    "TC_C_40" => tc_c_40,
    "TC_C_43" => tc_c_43,
    "TC_C_47" => tc_c_47,
    "TC_C_48" => tc_c_48,
    "TC_C_49" => tc_c_49,
    "TC_C_50" => tc_c_50,
    "TC_C_51" => tc_c_51,
    "TC_C_52" => tc_c_52,
    "TC_D_01" => tc_d_01,
    "TC_D_02" => tc_d_02,
    "TC_D_03" => tc_d_03,
    "TC_D_04" => tc_d_04,
    "TC_D_08" => tc_d_08,
    "TC_D_09" => tc_d_09,
    "TC_E_01" => tc_e_01,
    "TC_E_02" => tc_e_02,
    "TC_E_03" => tc_e_03,
    "TC_E_04" => tc_e_04,
    "TC_E_07" => tc_e_07,
    "TC_E_08" => tc_e_08,
    "TC_E_09" => tc_e_09,
    "TC_E_10" => tc_e_10,
    "TC_E_11" => tc_e_11,
    "TC_E_12" => tc_e_12,
    "TC_E_14" => tc_e_14,
    "TC_E_15" => tc_e_15,
    "TC_E_16" => tc_e_16,
    "TC_E_17" => tc_e_17,
    "TC_E_19" => tc_e_19,
    "TC_E_20" => tc_e_20,
    "TC_E_21" => tc_e_21,
    "TC_E_22" => tc_e_22,
    "TC_E_26" => tc_e_26,
    "TC_E_29" => tc_e_29,
    "TC_E_30" => tc_e_30,
    "TC_E_31" => tc_e_31,
    "TC_E_33" => tc_e_33,
    "TC_E_34" => tc_e_34,
    "TC_E_38" => tc_e_38,
    "TC_E_39" => tc_e_39,
    "TC_E_53" => tc_e_53,
    "TC_F_01" => tc_f_01,
    "TC_F_02" => tc_f_02,
    "TC_F_03" => tc_f_03,
    "TC_F_04" => tc_f_04,
    "TC_F_06" => tc_f_06,
    "TC_F_11" => tc_f_11,
    "TC_F_12" => tc_f_12,
    "TC_F_13" => tc_f_13,
    "TC_F_14" => tc_f_14,
    "TC_F_15" => tc_f_15,
    "TC_F_18" => tc_f_18,
    "TC_F_20" => tc_f_20,
    "TC_F_23" => tc_f_23,
    "TC_F_24" => tc_f_24,
    "TC_F_27" => tc_f_27,
    "TC_G_03" => tc_g_03,
    "TC_G_04" => tc_g_04,
    "TC_G_05" => tc_g_05,
    "TC_G_06" => tc_g_06,
    "TC_G_07" => tc_g_07,
    "TC_G_08" => tc_g_08,
    "TC_G_11" => tc_g_11,
    "TC_G_14" => tc_g_14,
    "TC_G_17" => tc_g_17,
    "TC_G_20" => tc_g_20,
    "TC_H_01" => tc_h_01,
    "TC_H_07" => tc_h_07,
    "TC_H_08" => tc_h_08,
    "TC_H_14" => tc_h_14,
    "TC_H_15" => tc_h_15,
    "TC_H_17" => tc_h_17,
    "TC_H_19" => tc_h_19,
    "TC_H_20" => tc_h_20,
    "TC_H_22" => tc_h_22,
    "TC_I_01" => tc_i_01,
    "TC_I_02" => tc_i_02,
    "TC_J_01" => tc_j_01,
    "TC_J_02" => tc_j_02,
    "TC_J_03" => tc_j_03,
    "TC_J_04" => tc_j_04,
    "TC_J_07" => tc_j_07,
    "TC_J_08" => tc_j_08,
    "TC_J_09" => tc_j_09,
    "TC_J_10" => tc_j_10,
    "TC_J_11" => tc_j_11,
    "TC_K_01" => tc_k_01,
    "TC_K_02" => tc_k_02,
    "TC_K_03" => tc_k_03,
    "TC_K_04" => tc_k_04,
    "TC_K_05" => tc_k_05,
    "TC_K_06" => tc_k_06,
    "TC_K_08" => tc_k_08,
    "TC_K_10" => tc_k_10,
    "TC_K_15" => tc_k_15,
    "TC_K_19" => tc_k_19,
    "TC_K_29" => tc_k_29,
    "TC_K_30" => tc_k_30,
    "TC_K_31" => tc_k_31,
    "TC_K_32" => tc_k_32,
    "TC_K_33" => tc_k_33,
    "TC_K_34" => tc_k_34,
    "TC_K_35" => tc_k_35,
    "TC_K_36" => tc_k_36,
    "TC_K_37" => tc_k_37,
    "TC_K_43" => tc_k_43,
    "TC_K_44" => tc_k_44,
    "TC_K_48" => tc_k_48,
    "TC_K_50" => tc_k_50,
    "TC_K_51" => tc_k_51,
    "TC_K_52" => tc_k_52,
    "TC_K_53" => tc_k_53,
    "TC_K_55" => tc_k_55,
    "TC_K_57" => tc_k_57,
    "TC_K_58" => tc_k_58,
    "TC_K_59" => tc_k_59,
    "TC_K_60" => tc_k_60,
    "TC_K_70" => tc_k_70,
    "TC_L_01" => tc_l_01,
    "TC_L_02" => tc_l_02,
    "TC_L_03" => tc_l_03,
    "TC_L_04" => tc_l_04,
    "TC_L_05" => tc_l_05,
    "TC_L_06" => tc_l_06,
    "TC_L_07" => tc_l_07,
    "TC_L_08" => tc_l_08,
    "TC_L_09" => tc_l_09,
    "TC_L_10" => tc_l_10,
    "TC_L_11" => tc_l_11,
    "TC_L_13" => tc_l_13,
    "TC_L_17" => tc_l_17,
    "TC_L_19" => tc_l_19,
    "TC_L_20" => tc_l_20,
    "TC_L_21" => tc_l_21,
    "TC_L_22" => tc_l_22,
    "TC_L_23" => tc_l_23,
    "TC_L_24" => tc_l_24,
    "TC_M_01" => tc_m_01,
    "TC_M_02" => tc_m_02,
    "TC_M_03" => tc_m_03,
    "TC_M_04" => tc_m_04,
    "TC_M_05" => tc_m_05,
    "TC_M_12" => tc_m_12,
    "TC_M_13" => tc_m_13,
    "TC_M_14" => tc_m_14,
    "TC_M_15" => tc_m_15,
    "TC_M_16" => tc_m_16,
    "TC_M_17" => tc_m_17,
    "TC_M_18" => tc_m_18,
    "TC_M_19" => tc_m_19,
    "TC_M_20" => tc_m_20,
    "TC_M_21" => tc_m_21,
    "TC_M_24" => tc_m_24,
    "TC_M_26" => tc_m_26,
    "TC_M_28" => tc_m_28,
    "TC_N_01" => tc_n_01,
    "TC_N_02" => tc_n_02,
    "TC_N_03" => tc_n_03,
    "TC_N_05" => tc_n_05,
    "TC_N_08" => tc_n_08,
    "TC_N_09" => tc_n_09,
    "TC_N_16" => tc_n_16,
    "TC_N_17" => tc_n_17,
    "TC_N_18" => tc_n_18,
    "TC_N_21" => tc_n_21,
    "TC_N_24" => tc_n_24,
    "TC_N_25" => tc_n_25,
    "TC_N_27" => tc_n_27,
    "TC_N_28" => tc_n_28,
    "TC_N_29" => tc_n_29,
    "TC_N_30" => tc_n_30,
    "TC_N_31" => tc_n_31,
    "TC_N_32" => tc_n_32,
    "TC_N_34" => tc_n_34,
    "TC_N_35" => tc_n_35,
    "TC_N_36" => tc_n_36,
    "TC_N_44" => tc_n_44,
    "TC_N_46" => tc_n_46,
    "TC_N_47" => tc_n_47,
    "TC_N_48" => tc_n_48,
    "TC_N_49" => tc_n_49,
    "TC_N_50" => tc_n_50,
    "TC_N_60" => tc_n_60,
    "TC_N_62" => tc_n_62,
    "TC_N_63" => tc_n_63,
    "TC_O_01" => tc_o_01,
    "TC_O_02" => tc_o_02,
    "TC_O_03" => tc_o_03,
    "TC_O_04" => tc_o_04,
    "TC_O_05" => tc_o_05,
    "TC_O_06" => tc_o_06,
    "TC_O_07" => tc_o_07,
    "TC_O_08" => tc_o_08,
    "TC_O_09" => tc_o_09,
    "TC_O_10" => tc_o_10,
    "TC_O_11" => tc_o_11,
    "TC_O_12" => tc_o_12,
    "TC_O_13" => tc_o_13,
    "TC_O_14" => tc_o_14,
    "TC_O_17" => tc_o_17,
    "TC_O_18" => tc_o_18,
    "TC_O_19" => tc_o_19,
    "TC_O_25" => tc_o_25,
    "TC_O_26" => tc_o_26,
    "TC_O_27" => tc_o_27,
    "TC_O_28" => tc_o_28,
    "TC_P_02" => tc_p_02,
    "TC_P_03" => tc_p_03,
}

/// Every case above in id order against one server and one station identity.
async fn all_201_cases_in_id_order(app: TestApp) {
    let c = C201::provision(&app, "OCTT-CS201").await;
    let failed = run_all(&c).await;
    assert!(failed.is_empty(), "failed back to back: {failed:#?}");
}
crate::dual!(all_201_cases_in_id_order, super::both);
