//! Block C with contract certificates (ISO 15118 Plug & Charge, TC_C_50 to TC_C_52) and block M's
//! GetCertificateStatus (TC_M_24): csms asks the OCSP responder the station or the certificate
//! names (a stand-in here, `support::ocsp`, answering under a fixed CertID as the tool's responders
//! do) and answers from its certStatus; answers are cached for their validity.

use super::*;
use crate::support::ocsp::responder;

/// EMAID001, an eMAID the operator knows.
async fn contract_token(c: &C201<'_>) {
    let body = json!({"idTag": "EMAID001", "idTokenType": "eMAID"});
    let (s, b) = c.app.post("/api/admin/id-tags", Some(&c.admin), body).await;
    assert!(s == 201 || s == 409, "{s} {b}");
}

/// The contract's chain as the station names it, with the tool's placeholder hashes (not hex).
fn hash_data(responder: &str) -> Value {
    json!([{"hashAlgorithm": "SHA256", "issuerNameHash": "issuerNameHash-EMAID001",
        "issuerKeyHash": "issuerKeyHash-EMAID001", "serialNumber": "5AE1",
        "responderURL": responder}])
}

/// Authorize EMAID001 with `contract` (hash data or a certificate): the answer.
async fn authorize_contract(st: &mut Station, contract: Value) -> Value {
    let mut body = json!({"idToken": token("EMAID001", "eMAID")});
    if let (Value::Object(b), Value::Object(extra)) = (&mut body, contract) {
        b.extend(extra);
    }
    st.call("Authorize", body).await.unwrap()
}

/// The contract is valid: Accepted twice (the second from the cache, one OCSP request in all),
/// then the transaction of EMAID001 starts Accepted and ends.
async fn accepted_contract(c: &C201<'_>, contract: impl Fn(&str) -> Value) {
    contract_token(c).await;
    let ocsp = responder("good", false).await;
    let mut st = c.booted().await;
    for _ in 0..2 {
        let a = authorize_contract(&mut st, contract(&ocsp.url)).await;
        assert_eq!(a["idTokenInfo"]["status"], "Accepted", "{a}");
        assert_eq!(a["certificateStatus"], "Accepted", "{a}");
    }
    assert_eq!(
        ocsp.bodies().len(),
        1,
        "the second answer came from the cache"
    );
    let (tx, a) = start_with(&mut st, "EMAID001", "eMAID").await;
    status_in(&a, &["Accepted"]);
    end_with(&mut st, &tx, 1, "EVCommunicationLost", "EVDisconnected").await;
}

pub async fn tc_c_50(c: &C201<'_>) {
    accepted_contract(
        c,
        |url| json!({"iso15118CertificateHashData": hash_data(url)}),
    )
    .await;
}

/// Revoked: the token is Invalid, whatever csms knows of it.
pub async fn tc_c_51(c: &C201<'_>) {
    contract_token(c).await;
    let ocsp = responder("revoked", false).await;
    let mut st = c.booted().await;
    let contract = json!({"iso15118CertificateHashData": hash_data(&ocsp.url)});
    let a = authorize_contract(&mut st, contract).await;
    assert_eq!(a["idTokenInfo"]["status"], "Invalid", "{a}");
    assert_eq!(a["certificateStatus"], "CertificateRevoked", "{a}");
    assert_eq!(ocsp.bodies().len(), 1);
}

/// The Authority Information Access extension naming `url` as the OCSP responder (DER).
fn aia(url: &str) -> Vec<u8> {
    let mut location = vec![0x86, url.len() as u8];
    location.extend_from_slice(url.as_bytes());
    let mut description = vec![0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    description.extend(location);
    let mut access = vec![0x30, description.len() as u8];
    access.extend(description);
    let mut syntax = vec![0x30, access.len() as u8];
    syntax.extend(access);
    syntax
}

/// A self-signed EC contract certificate for EMAID001 whose AIA names `url` (PEM).
fn contract_certificate(url: &str) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "EMAID001");
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 5, 5, 7, 1, 1],
            aia(url),
        ));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    params.self_signed(&key).unwrap().pem()
}

/// Only the certificate: csms checks its dates and signature, names it for OCSP itself and asks
/// the responder in its AIA.
pub async fn tc_c_52(c: &C201<'_>) {
    let url = std::sync::Mutex::new(None::<(String, String)>);
    accepted_contract(c, |responder| {
        // The same certificate both times (the cache knows it by its name).
        let mut kept = url.lock().unwrap();
        if kept.as_ref().is_none_or(|(u, _)| u != responder) {
            *kept = Some((responder.to_string(), contract_certificate(responder)));
        }
        json!({"certificate": kept.as_ref().unwrap().1})
    })
    .await;
}

/// The station asks the status of its own certificate: Accepted with the responder's OCSP
/// response, as the responder sent it (DER, base64).
pub async fn tc_m_24(c: &C201<'_>) {
    let ocsp = responder("good", false).await;
    let mut st = c.booted().await;
    let data = json!({"hashAlgorithm": "SHA256", "issuerNameHash": "0a0b0c",
        "issuerKeyHash": "0d0e0f", "serialNumber": "1234", "responderURL": ocsp.url});
    let a = st
        .call("GetCertificateStatus", json!({"ocspRequestData": data}))
        .await
        .unwrap();
    assert_eq!(a["status"], "Accepted", "{a}");
    use base64::Engine;
    let result = base64::engine::general_purpose::STANDARD
        .decode(a["ocspResult"].as_str().unwrap())
        .unwrap();
    assert_eq!(ocsp.bodies().len(), 1);
    // The responder's own answer, as it sent it: good.
    use x509_cert::der::Decode;
    let response = x509_ocsp::OcspResponse::from_der(&result).unwrap();
    let bytes = response.response_bytes.unwrap();
    let basic = x509_ocsp::BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
    let single = &basic.tbs_response_data.responses[0];
    assert!(matches!(single.cert_status, x509_ocsp::CertStatus::Good(_)));
}
