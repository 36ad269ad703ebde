//! M Certificate Management, the operator's side: InstallCertificate (placeholder certificate text
//! relayed as given), GetInstalledCertificateIds and DeleteCertificate. csms keeps what the station
//! reports installed (`GET /api/admin/chargers/{id}/certificates`, `installed`): the answer to
//! GetInstalledCertificateIds replaces what it knew of the types asked for, an accepted
//! DeleteCertificate removes one. OCSP (TC_M_24) and the contract certificate provider (TC_M_26,
//! TC_M_28) are not here yet.

use super::k_smart_charging::{refused_with, relay_as_given};
use super::*;

/// The compliance tool's placeholder certificate text: not parseable, forwarded as given.
const PLACEHOLDER: &str = "MIICaTCCAdKgAwIBAgIUXzo...placeholder-root-certificate";

/// InstallCertificate of `kind` with the placeholder text, answered `answer`.
async fn install(c: &C201<'_>, st: &mut Station, kind: &str, answer: &str) {
    let body = json!({"certificateType": kind, "certificate": PLACEHOLDER});
    let b = relay_as_given(c, st, "InstallCertificate", body, json!({"status": answer})).await;
    assert_eq!(b["response"]["status"], answer);
}

async fn install_root(c: &C201<'_>, kind: &str, answer: &str) {
    let mut st = c.booted().await;
    install(c, &mut st, kind, answer).await;
}

pub async fn tc_m_01(c: &C201<'_>) {
    install_root(c, "CSMSRootCertificate", "Accepted").await;
}

pub async fn tc_m_02(c: &C201<'_>) {
    install_root(c, "ManufacturerRootCertificate", "Accepted").await;
}

pub async fn tc_m_03(c: &C201<'_>) {
    install_root(c, "V2GRootCertificate", "Accepted").await;
}

pub async fn tc_m_04(c: &C201<'_>) {
    install_root(c, "MORootCertificate", "Accepted").await;
}

pub async fn tc_m_05(c: &C201<'_>) {
    install_root(c, "CSMSRootCertificate", "Failed").await;
}

/// Certificate hash data in `algorithm` (hashes of its length), serial `serial`.
fn hash(algorithm: &str, serial: &str) -> Value {
    let n = match algorithm {
        "SHA256" => 64,
        "SHA384" => 96,
        _ => 128,
    };
    json!({"hashAlgorithm": algorithm, "issuerNameHash": "a".repeat(n),
        "issuerKeyHash": "b".repeat(n), "serialNumber": serial})
}

/// A serial number no other case reports.
fn serial(case: &str) -> String {
    format!("{case}-{}", uuid_like())
}

/// What csms knows is installed on the station: (certificateType, hashAlgorithm, serialNumber).
async fn known(c: &C201<'_>) -> Vec<(String, String, String)> {
    let path = format!("/api/admin/chargers/{}/certificates", c.device);
    let (s, b) = c.app.get(&path, Some(&c.admin)).await;
    assert_eq!(s, 200, "{b}");
    b["certificates"]["installed"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let f = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            (f("certificateType"), f("hashAlgorithm"), f("serialNumber"))
        })
        .collect()
}

/// GetInstalledCertificateIds for `types` (all when None), answered with `chain` (NotFound when
/// empty): the station's answer relayed, and csms knows exactly that of the types asked.
async fn installed_ids(c: &C201<'_>, st: &mut Station, types: Option<&[&str]>, chain: Vec<Value>) {
    let body = match types {
        Some(t) => json!({"certificateType": t}),
        None => json!({}),
    };
    let answer = match chain.is_empty() {
        true => json!({"status": "NotFound"}),
        false => json!({"status": "Accepted", "certificateHashDataChain": chain}),
    };
    relay_as_given(c, st, "GetInstalledCertificateIds", body, answer).await;
    let asked: Vec<String> = match types {
        Some(t) => t.iter().map(|t| t.to_string()).collect(),
        None => [
            "V2GRootCertificate",
            "MORootCertificate",
            "CSMSRootCertificate",
            "V2GCertificateChain",
            "ManufacturerRootCertificate",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect(),
    };
    let mut expected: Vec<(String, String, String)> = chain
        .iter()
        .map(|h| {
            let d = &h["certificateHashData"];
            let f = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                f(&h["certificateType"]),
                f(&d["hashAlgorithm"]),
                f(&d["serialNumber"]),
            )
        })
        .collect();
    let mut got: Vec<_> = known(c)
        .await
        .into_iter()
        .filter(|(t, _, _)| asked.contains(t))
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "what csms knows is installed");
}

/// One entry of a GetInstalledCertificateIds answer.
fn entry(kind: &str, hash: Value) -> Value {
    json!({"certificateType": kind, "certificateHashData": hash})
}

/// Three requests for CSMSRootCertificate, answered in SHA256, SHA384, then SHA512.
pub async fn tc_m_12(c: &C201<'_>) {
    let mut st = c.booted().await;
    for algorithm in ["SHA256", "SHA384", "SHA512"] {
        let h = hash(algorithm, &serial("M12"));
        let chain = vec![entry("CSMSRootCertificate", h)];
        installed_ids(c, &mut st, Some(&["CSMSRootCertificate"]), chain).await;
    }
}

/// One request for `kind`, answered with one certificate of it.
async fn one_type(c: &C201<'_>, kind: &str, case: &str) {
    let mut st = c.booted().await;
    let chain = vec![entry(kind, hash("SHA256", &serial(case)))];
    installed_ids(c, &mut st, Some(&[kind]), chain).await;
}

pub async fn tc_m_13(c: &C201<'_>) {
    one_type(c, "ManufacturerRootCertificate", "M13").await;
}

pub async fn tc_m_14(c: &C201<'_>) {
    one_type(c, "V2GRootCertificate", "M14").await;
}

/// The V2G chain: the leaf with its sub-CA certificates (childCertificateHashData).
pub async fn tc_m_15(c: &C201<'_>) {
    let mut st = c.booted().await;
    let mut e = entry("V2GCertificateChain", hash("SHA256", &serial("M15")));
    e["childCertificateHashData"] = json!([
        hash("SHA256", &serial("M15a")),
        hash("SHA256", &serial("M15b"))
    ]);
    installed_ids(c, &mut st, Some(&["V2GCertificateChain"]), vec![e]).await;
}

pub async fn tc_m_16(c: &C201<'_>) {
    one_type(c, "MORootCertificate", "M16").await;
}

pub async fn tc_m_17(c: &C201<'_>) {
    let mut st = c.booted().await;
    let types = ["CSMSRootCertificate", "ManufacturerRootCertificate"];
    let chain = types
        .iter()
        .map(|t| entry(t, hash("SHA256", &serial("M17"))))
        .collect();
    installed_ids(c, &mut st, Some(&types), chain).await;
}

/// No certificateType: every type the station has.
pub async fn tc_m_18(c: &C201<'_>) {
    let mut st = c.booted().await;
    let chain = [
        "CSMSRootCertificate",
        "ManufacturerRootCertificate",
        "V2GRootCertificate",
    ]
    .iter()
    .map(|t| entry(t, hash("SHA384", &serial("M18"))))
    .collect();
    installed_ids(c, &mut st, None, chain).await;
}

/// NotFound: csms knows of no ManufacturerRootCertificate any more.
pub async fn tc_m_19(c: &C201<'_>) {
    let mut st = c.booted().await;
    let kind = "ManufacturerRootCertificate";
    let chain = vec![entry(kind, hash("SHA256", &serial("M19")))];
    installed_ids(c, &mut st, Some(&[kind]), chain).await;
    installed_ids(c, &mut st, Some(&[kind]), vec![]).await;
}

/// Install a CSMS root, read its hash data (in `algorithm`), delete it with exactly that hash
/// data, answered `answer`: csms knows it gone only when Accepted.
async fn install_and_delete(c: &C201<'_>, st: &mut Station, algorithm: &str, answer: &str) {
    let kind = "CSMSRootCertificate";
    install(c, st, kind, "Accepted").await;
    let h = hash(algorithm, &serial("M20"));
    installed_ids(c, st, Some(&[kind]), vec![entry(kind, h.clone())]).await;
    let body = json!({"certificateHashData": h});
    relay_as_given(c, st, "DeleteCertificate", body, json!({"status": answer})).await;
    let still = known(c)
        .await
        .iter()
        .any(|(_, _, s)| s == h["serialNumber"].as_str().unwrap());
    assert_eq!(
        still,
        answer != "Accepted",
        "{answer}: still known installed"
    );
}

pub async fn tc_m_20(c: &C201<'_>) {
    let mut st = c.booted().await;
    for algorithm in ["SHA256", "SHA384", "SHA512"] {
        install_and_delete(c, &mut st, algorithm, "Accepted").await;
    }
}

pub async fn tc_m_21(c: &C201<'_>) {
    let mut st = c.booted().await;
    install_and_delete(c, &mut st, "SHA256", "Failed").await;
    // A station that does not know the command at all: the operator's 502.
    let body = json!({"certificateHashData": hash("SHA256", &serial("M21"))});
    refused_with(c, &mut st, "DeleteCertificate", body, "NotImplemented").await;
}

/// The certificate provisioning service every 2.0.1 case's server relays to (`both`): a stand-in
/// that answers an EV certificate request Accepted with the EXI it was sent, reversed (base64).
pub fn provisioning_service() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        crate::support::stand_in::for_the_process("/cps", |body| {
            let asked: Value = serde_json::from_slice(body).unwrap_or_default();
            let exi: String = asked["request"]["exiRequest"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .rev()
                .collect();
            let answer = json!({"status": "Accepted", "exiResponse": exi});
            (200, "application/json", answer.to_string().into_bytes())
        })
    })
    .clone()
}

/// The EV asks for its contract certificate (`action` Install or Update): the station relays it,
/// csms passes it to the provisioning service and answers Accepted with the service's EXI.
async fn ev_certificate(c: &C201<'_>, action: &str) {
    let mut st = c.booted().await;
    let exi = format!("{action}Req{}", uuid_like());
    let body = json!({"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "action": action, "exiRequest": exi});
    let a = st.call("Get15118EVCertificate", body).await.unwrap();
    assert_eq!(a["status"], "Accepted", "{a}");
    let reversed: String = exi.chars().rev().collect();
    assert_eq!(
        a["exiResponse"],
        reversed.as_str(),
        "the service's EXI: {a}"
    );
}

pub async fn tc_m_26(c: &C201<'_>) {
    ev_certificate(c, "Install").await;
}

pub async fn tc_m_28(c: &C201<'_>) {
    ev_certificate(c, "Update").await;
}
