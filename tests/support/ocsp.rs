//! A stand-in OCSP responder (RFC 6960): it answers every certificate of a request with one
//! status, `thisUpdate` a minute ago and `nextUpdate` in an hour, under the request's CertID or,
//! as the compliance tool's responders do, under a fixed one of its own. Its signature is a
//! placeholder (csms does not check responders' signatures yet).

use std::time::{Duration, SystemTime};

use x509_cert::der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{
    BasicOcspResponse, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, ResponderId,
    ResponseData, RevokedInfo, SingleResponse, Version,
};

use super::stand_in::{Answer, StandIn};

fn at(t: SystemTime) -> OcspGeneralizedTime {
    OcspGeneralizedTime(GeneralizedTime::from_system_time(t).unwrap())
}

/// The DER OCSPResponse saying `status` ("good", "revoked" or "unknown") of every certificate
/// `request` (DER) asks about (`echo`: under the request's CertID, else under a fixed one).
pub fn respond(request: &[u8], status: &str, echo: bool) -> Vec<u8> {
    let Ok(request) = OcspRequest::from_der(request) else {
        return OcspResponse::malformed_request().to_der().unwrap();
    };
    let now = SystemTime::now();
    let responses = request
        .tbs_request
        .request_list
        .iter()
        .map(|r| SingleResponse {
            cert_id: if echo {
                r.req_cert.clone()
            } else {
                let mut fixed = r.req_cert.clone();
                fixed.issuer_name_hash = OctetString::new(vec![0xaa; 32]).unwrap();
                fixed.issuer_key_hash = OctetString::new(vec![0xbb; 32]).unwrap();
                fixed.serial_number = SerialNumber::new(&[0x42]).unwrap();
                fixed
            },
            cert_status: match status {
                "good" => CertStatus::Good(Null),
                "revoked" => CertStatus::Revoked(RevokedInfo {
                    revocation_time: at(now - Duration::from_secs(86_400)),
                    revocation_reason: None,
                }),
                _ => CertStatus::Unknown(Null),
            },
            this_update: at(now - Duration::from_secs(60)),
            next_update: Some(at(now + Duration::from_secs(3600))),
            single_extensions: None,
        })
        .collect();
    let basic = BasicOcspResponse {
        tbs_response_data: ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(OctetString::new(vec![7; 20]).unwrap()),
            produced_at: at(now),
            responses,
            response_extensions: None,
        },
        signature_algorithm: AlgorithmIdentifierOwned {
            // ecdsa-with-SHA256
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: BitString::from_bytes(&[0; 64]).unwrap(),
        certs: None,
    };
    OcspResponse::successful(basic).unwrap().to_der().unwrap()
}

/// A responder at `http://127.0.0.1:PORT/ocsp` saying `status` of everything (`echo`: under the
/// request's CertID).
pub async fn responder(status: &'static str, echo: bool) -> StandIn {
    StandIn::start("/ocsp", move |body| -> Answer {
        (
            200,
            "application/ocsp-response",
            respond(body, status, echo),
        )
    })
    .await
}
