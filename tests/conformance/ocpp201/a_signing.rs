//! Block A, certificate signing: the operator's TriggerMessage SignChargingStationCertificate /
//! SignV2GCertificate / SignCombinedCertificate is relayed as given; the station's SignCertificate
//! is answered by csms's CSR rules and followed by CertificateSigned with the chain csms's CA
//! signed for the CSR's key (certificateType as asked); a station certificate then opens a
//! profile 3 connection (TC_A_11, TC_A_19). The settings trust csms's CA for client certificates
//! beside the test CA (`helpers::tls_and_csms_ca`), as the README asks an operator to do.

use super::*;

/// A CSR for a fresh key, subject `CN=<cn>`.
fn csr(cn: &str) -> (String, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    (p.serialize_request(&key).unwrap().pem().unwrap(), key)
}

/// The operator's command to `device` through the commands API.
fn command_to(
    c: &C201<'_>,
    device: &str,
    action: &str,
    body: Value,
) -> tokio::task::JoinHandle<(u16, Value)> {
    c.operator(
        reqwest::Method::POST,
        format!("/api/admin/chargers/{device}/commands/{action}"),
        body,
    )
}

/// RenewChargingStationCertificate and its V2G and combined forms on the connected station
/// `device`: TriggerMessage `requested` relayed; SignCertificate (certificateType `kind`, a CSR
/// naming `device`) → Accepted; CertificateSigned with `kind` and a chain for the CSR's key,
/// answered `answer`. Returns the chain and the key.
async fn renew(
    c: &C201<'_>,
    st: &mut Station,
    device: &str,
    requested: &str,
    kind: Option<&str>,
    answer: &str,
) -> (String, rcgen::KeyPair) {
    let body = json!({"requestedMessage": requested});
    let trigger = command_to(c, device, "TriggerMessage", body.clone());
    relayed(
        st,
        trigger,
        "TriggerMessage",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    let (pem, key) = csr(device);
    let mut sign = json!({"csr": pem});
    if let Some(k) = kind {
        sign["certificateType"] = json!(k);
    }
    let a = st.call("SignCertificate", sign).await.unwrap();
    assert_eq!(a, json!({"status": "Accepted"}));
    let (action, p) = st.answer_next_call(json!({"status": answer})).await;
    assert_eq!(action, "CertificateSigned", "{p}");
    assert_eq!(
        p.get("certificateType").and_then(Value::as_str),
        kind,
        "{p}"
    );
    let chain = p["certificateChain"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!chain.is_empty(), "{p}");
    let (_, leaf) = x509_parser::pem::parse_x509_pem(chain.as_bytes()).unwrap();
    let leaf = leaf.parse_x509().unwrap();
    assert_eq!(
        leaf.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw(),
        "for the CSR's key"
    );
    assert_eq!(
        csms::infra::ca::single_common_name(leaf.subject()).unwrap(),
        device
    );
    (chain, key)
}

/// The station's answer to CertificateSigned as csms recorded it on the newest certificate.
async fn recorded(c: &C201<'_>, device: &str, status: &str) {
    let path = format!("/api/admin/chargers/{device}/certificates");
    for _ in 0..100 {
        let (s, b) = c.app.get(&path, Some(&c.admin)).await;
        assert_eq!(s, 200, "{b}");
        if b["certificates"]["issued"][0]["status"] == status {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{device}: the newest certificate is not recorded {status}");
}

/// `chain` and `key` as rustls takes a client certificate.
fn as_client(
    chain: &str,
    key: &rcgen::KeyPair,
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    (
        CertificateDer::pem_slice_iter(chain.as_bytes())
            .map(|c| c.unwrap())
            .collect(),
        PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
}

/// The profile 3 station `device` connects with the certificate csms issued and boots.
async fn connect_issued(c: &C201<'_>, device: &str, chain: &str, key: &rcgen::KeyPair) -> Station {
    let tls = tls_client(
        c,
        rustls::DEFAULT_VERSIONS,
        None,
        Some(as_client(chain, key)),
    );
    let wss = c.app.wss.as_deref().expect("the wss:// listener");
    let (mut st, _) = Station::connect_tls(wss, device, "ocpp2.0.1", None, tls)
        .await
        .unwrap_or_else(|e| panic!("the issued certificate is refused: {e:?}"));
    boot_accepted(&mut st, device).await;
    st
}

/// The profile 3 station renews its certificate and reconnects with the new one and its key.
pub async fn tc_a_11(c: &C201<'_>) {
    let device = tls_station(c, 3).await;
    let mut st = tls_connect(c, &device, rustls::DEFAULT_VERSIONS, None)
        .await
        .unwrap();
    boot_accepted(&mut st, &device).await;
    let (chain, key) = renew(
        c,
        &mut st,
        &device,
        "SignChargingStationCertificate",
        Some("ChargingStationCertificate"),
        "Accepted",
    )
    .await;
    recorded(c, &device, "Accepted").await;
    drop(st);
    connect_issued(c, &device, &chain, &key).await;
}

pub async fn tc_a_12(c: &C201<'_>) {
    let mut st = c.booted().await;
    let device = c.device.clone();
    renew(
        c,
        &mut st,
        &device,
        "SignV2GCertificate",
        Some("V2GCertificate"),
        "Accepted",
    )
    .await;
    recorded(c, &device, "Accepted").await;
}

pub async fn tc_a_13(c: &C201<'_>) {
    let mut st = c.booted().await;
    let device = c.device.clone();
    renew(
        c,
        &mut st,
        &device,
        "SignCombinedCertificate",
        None,
        "Accepted",
    )
    .await;
    recorded(c, &device, "Accepted").await;
}

/// CertificateSigned answered Rejected: recorded so; the station's SecurityEventNotification
/// InvalidChargingStationCertificate is answered.
pub async fn tc_a_14(c: &C201<'_>) {
    let mut st = c.booted().await;
    let device = c.device.clone();
    renew(
        c,
        &mut st,
        &device,
        "SignChargingStationCertificate",
        Some("ChargingStationCertificate"),
        "Rejected",
    )
    .await;
    recorded(c, &device, "Rejected").await;
    let a = st
        .call(
            "SecurityEventNotification",
            json!({"type": "InvalidChargingStationCertificate",
                "timestamp": "2026-12-07T10:00:00.123456Z", "techInfo": "chain rejected"}),
        )
        .await
        .unwrap();
    assert_eq!(a, json!({}));
}

/// The profile 2 station renews its certificate, is sent its new network profile (slot 1,
/// profile 3), the priority naming that slot and a Reset; the operator sets it to profile 3: it
/// is accepted with the certificate csms issued, refused with its password, accepted again.
pub async fn tc_a_19(c: &C201<'_>) {
    let device = tls_station(c, 2).await;
    let mut st = tls_connect(c, &device, rustls::DEFAULT_VERSIONS, None)
        .await
        .unwrap();
    boot_accepted(&mut st, &device).await;
    let (chain, key) = renew(
        c,
        &mut st,
        &device,
        "SignChargingStationCertificate",
        Some("ChargingStationCertificate"),
        "Accepted",
    )
    .await;
    recorded(c, &device, "Accepted").await;
    let wss = c.app.wss.clone().expect("the wss:// listener");
    let profile = json!({"configurationSlot": 1, "connectionData": {"messageTimeout": 30,
        "ocppCsmsUrl": wss, "ocppInterface": "Wired0", "ocppTransport": "JSON",
        "ocppVersion": "OCPP20", "securityProfile": 3}});
    let r = command_to(c, &device, "SetNetworkProfile", profile.clone());
    relayed(
        &mut st,
        r,
        "SetNetworkProfile",
        profile,
        json!({"status": "Accepted"}),
    )
    .await;
    let (component, variable) = (
        json!({"name": "OCPPCommCtrlr"}),
        json!({"name": "NetworkConfigurationPriority"}),
    );
    let set = json!({"setVariableData": [{"component": component, "variable": variable,
        "attributeValue": "1"}]});
    let r = command_to(c, &device, "SetVariables", set.clone());
    relayed(
        &mut st,
        r,
        "SetVariables",
        set,
        json!({"setVariableResult": [{"attributeStatus": "Accepted", "component": component,
            "variable": variable}]}),
    )
    .await;
    let reset = json!({"type": "Immediate"});
    let r = command_to(c, &device, "Reset", reset.clone());
    relayed(&mut st, r, "Reset", reset, json!({"status": "Accepted"})).await;
    drop(st);
    let (s, b) = c
        .app
        .request(
            reqwest::Method::PUT,
            &format!("/api/admin/chargers/{device}"),
            Some(&c.admin),
            Some(json!({"securityProfile": 3})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let st = connect_issued(c, &device, &chain, &key).await;
    drop(st);
    let at_two = tls_connect(c, &device, rustls::DEFAULT_VERSIONS, None).await;
    assert!(at_two.is_err(), "profile 2 is refused at profile 3");
    connect_issued(c, &device, &chain, &key).await;
}
