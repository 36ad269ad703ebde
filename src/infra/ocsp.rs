//! An OCSP client (RFC 6960): is a certificate good, revoked or unknown to its issuer's responder?
//!
//! - The certificate is named as OCSP names it ([`CertRef`]: the hash algorithm, the hashes of its
//!   issuer's name and key, its serial number), from OCPP's `OCSPRequestData` (hex) or from the
//!   certificate itself and its issuer ([`CertRef::of_certificate`]).
//! - One request is POSTed (`application/ocsp-request`) to the responder's URL, time-limited; the
//!   answer must be a successful basic response whose `thisUpdate` is not in the future and whose
//!   `nextUpdate`, if any, has not passed, about that very certificate (or its only answer, under
//!   whatever CertID: some responders answer a fixed one).
//! - Answers are cached for their validity (until `nextUpdate`, at most an hour); one without a
//!   `nextUpdate` is not cached, as RFC 6960 means by it that newer information is always there.
//!
//! Not checked yet: the responder's signature and its authority (that needs the issuers' roots,
//! the V2G and MO trust anchors, which csms does not hold); see the README.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use sha2::Digest;
use x509_cert::der::asn1::{Null, ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    TbsRequest,
};

/// The hash algorithms OCPP names (HashAlgorithmEnumType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "SHA256" => Some(HashAlgorithm::Sha256),
            "SHA384" => Some(HashAlgorithm::Sha384),
            "SHA512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            HashAlgorithm::Sha256 => ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
            HashAlgorithm::Sha384 => ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2"),
            HashAlgorithm::Sha512 => ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3"),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// A certificate as OCSP names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertRef {
    pub hash: HashAlgorithm,
    pub issuer_name_hash: Vec<u8>,
    pub issuer_key_hash: Vec<u8>,
    /// Big-endian, positive
    pub serial: Vec<u8>,
}

/// What a responder said of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Good,
    Revoked,
    Unknown,
}

/// A responder's answer: the certificate's status and the whole OCSPResponse (DER) it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub status: Status,
    pub response: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum OcspError {
    #[error("the certificate cannot be named for OCSP: {0}")]
    BadCertificate(String),
    #[error("the OCSP responder did not answer: {0}")]
    Unreachable(String),
    #[error("the OCSP responder answered HTTP {0}")]
    Http(u16),
    #[error("the OCSP responder refused the request: {0:?}")]
    Refused(OcspResponseStatus),
    #[error("the OCSP responder's answer is not usable: {0}")]
    Invalid(String),
}

/// Hex as OCPP writes it (any case, odd length allowed); a value that is not hex (some tools send
/// placeholders) is taken as its bytes, so that a request still goes out.
fn hex_or_bytes(s: &str) -> Vec<u8> {
    let padded = if s.len() % 2 == 1 {
        format!("0{s}")
    } else {
        s.to_string()
    };
    hex::decode(&padded).unwrap_or_else(|_| s.as_bytes().to_vec())
}

impl CertRef {
    /// From OCPP's OCSPRequestData.
    pub fn from_ocpp(
        algorithm: &str,
        issuer_name_hash: &str,
        issuer_key_hash: &str,
        serial: &str,
    ) -> Result<CertRef, OcspError> {
        let hash = HashAlgorithm::parse(algorithm)
            .ok_or_else(|| OcspError::BadCertificate(format!("hash algorithm {algorithm:?}")))?;
        Ok(CertRef {
            hash,
            issuer_name_hash: hex_or_bytes(issuer_name_hash),
            issuer_key_hash: hex_or_bytes(issuer_key_hash),
            serial: hex_or_bytes(serial),
        })
    }

    /// Of a certificate (DER) issued by `issuer` (DER; the certificate itself when self-signed).
    pub fn of_certificate(
        hash: HashAlgorithm,
        certificate: &[u8],
        issuer: &[u8],
    ) -> Result<CertRef, OcspError> {
        let bad = |e: x509_cert::der::Error| OcspError::BadCertificate(e.to_string());
        let cert = x509_cert::Certificate::from_der(certificate).map_err(bad)?;
        let issuer = x509_cert::Certificate::from_der(issuer).map_err(bad)?;
        let name = issuer.tbs_certificate.subject.to_der().map_err(bad)?;
        let key = issuer
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        Ok(CertRef {
            hash,
            issuer_name_hash: hash.digest(&name),
            issuer_key_hash: hash.digest(key),
            serial: cert.tbs_certificate.serial_number.as_bytes().to_vec(),
        })
    }

    fn cert_id(&self) -> Result<CertId, OcspError> {
        let bad = |e: x509_cert::der::Error| OcspError::BadCertificate(e.to_string());
        // A serial is at most 20 octets, without leading zeros.
        let serial: Vec<u8> = self
            .serial
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .take(20)
            .collect();
        let serial = if serial.is_empty() { vec![0] } else { serial };
        Ok(CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: self.hash.oid(),
                parameters: Some(Null.into()),
            },
            issuer_name_hash: OctetString::new(self.issuer_name_hash.clone()).map_err(bad)?,
            issuer_key_hash: OctetString::new(self.issuer_key_hash.clone()).map_err(bad)?,
            serial_number: SerialNumber::new(&serial).map_err(bad)?,
        })
    }

    /// The DER OCSPRequest asking about this certificate alone.
    pub fn request(&self) -> Result<Vec<u8>, OcspError> {
        let request = OcspRequest {
            tbs_request: TbsRequest {
                request_list: vec![Request {
                    req_cert: self.cert_id()?,
                    single_request_extensions: None,
                }],
                ..Default::default()
            },
            optional_signature: None,
        };
        request
            .to_der()
            .map_err(|e| OcspError::BadCertificate(e.to_string()))
    }
}

/// Allowed clock difference with a responder.
const SKEW: Duration = Duration::from_secs(300);
/// The longest an answer is cached.
const CACHE_MAX: Duration = Duration::from_secs(3600);

/// Reads a responder's OCSPResponse (DER) about `cert` at `now`: its status, and how long it may
/// be cached (`None`: not at all).
pub fn read_response(
    cert: &CertRef,
    der: &[u8],
    now: SystemTime,
) -> Result<(Status, Option<Duration>), OcspError> {
    let invalid = |e: x509_cert::der::Error| OcspError::Invalid(e.to_string());
    let response = OcspResponse::from_der(der).map_err(invalid)?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(OcspError::Refused(response.response_status));
    }
    let bytes = response
        .response_bytes
        .ok_or_else(|| OcspError::Invalid("a successful response without its bytes".into()))?;
    let basic_oid = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
    if bytes.response_type != basic_oid {
        return Err(OcspError::Invalid(format!(
            "response type {}",
            bytes.response_type
        )));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(invalid)?;
    let asked = cert.cert_id()?;
    let responses = &basic.tbs_response_data.responses;
    let matching = responses.iter().find(|r| {
        r.cert_id.issuer_name_hash == asked.issuer_name_hash
            && r.cert_id.issuer_key_hash == asked.issuer_key_hash
            && r.cert_id.serial_number == asked.serial_number
    });
    // A responder answering one certificate under another CertID (the compliance tool's fixed
    // answer does) is taken at its word: without the responder's signature checked, the CertID
    // proves nothing more. Several answers, none about the certificate: not usable.
    let single = match (matching, responses.as_slice()) {
        (Some(single), _) => single,
        (None, [only]) => {
            log::warn!("OCSP: the answer names another certificate than the one asked; taken");
            only
        }
        (None, _) => {
            return Err(OcspError::Invalid(
                "no answer about the certificate asked".into(),
            ));
        }
    };
    let this_update = single.this_update.0.to_system_time();
    if this_update > now + SKEW {
        return Err(OcspError::Invalid("thisUpdate is in the future".into()));
    }
    let fresh_for = match &single.next_update {
        None => None,
        Some(next) => {
            let next = next.0.to_system_time();
            let left = next
                .duration_since(now)
                .map_err(|_| OcspError::Invalid("nextUpdate has passed".into()))?;
            Some(left.min(CACHE_MAX))
        }
    };
    let status = match single.cert_status {
        CertStatus::Good(_) => Status::Good,
        CertStatus::Revoked(_) => Status::Revoked,
        CertStatus::Unknown(_) => Status::Unknown,
    };
    Ok((status, fresh_for))
}

/// The client, with its cache of answers.
pub struct Ocsp {
    http: reqwest::Client,
    timeout: Duration,
    cache: Mutex<HashMap<(String, CertRef), (Checked, Instant)>>,
}

impl Ocsp {
    pub fn new(http: reqwest::Client, timeout: Duration) -> Self {
        Ocsp {
            http,
            timeout,
            cache: Default::default(),
        }
    }

    fn cached(&self, key: &(String, CertRef)) -> Option<Checked> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(key) {
            Some((checked, until)) if *until > Instant::now() => Some(checked.clone()),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    /// Asks `responder` (an http:// or https:// URL) about `cert`, or answers from the cache.
    pub async fn check(&self, responder: &str, cert: &CertRef) -> Result<Checked, OcspError> {
        let key = (responder.trim().to_ascii_lowercase(), cert.clone());
        if let Some(checked) = self.cached(&key) {
            return Ok(checked);
        }
        let request = cert.request()?;
        let sent = self
            .http
            .post(responder.trim())
            .header("content-type", "application/ocsp-request")
            .header("accept", "application/ocsp-response")
            .body(request)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| OcspError::Unreachable(e.to_string()))?;
        if !sent.status().is_success() {
            return Err(OcspError::Http(sent.status().as_u16()));
        }
        let der = sent
            .bytes()
            .await
            .map_err(|e| OcspError::Unreachable(e.to_string()))?
            .to_vec();
        let (status, fresh_for) = read_response(cert, &der, SystemTime::now())?;
        let checked = Checked {
            status,
            response: der,
        };
        if let Some(fresh_for) = fresh_for {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            // Bounded: a full cache starts over rather than grow without end.
            if cache.len() >= 10_000 {
                cache.clear();
            }
            cache.insert(key, (checked.clone(), Instant::now() + fresh_for));
        }
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocpp_hex_and_placeholders_both_make_a_request() {
        let hex = CertRef::from_ocpp("SHA256", "0a1B", "ff", "1").unwrap();
        assert_eq!(hex.issuer_name_hash, vec![0x0a, 0x1b]);
        assert_eq!(hex.serial, vec![1]);
        let odd = CertRef::from_ocpp("SHA256", "issuerName!", "key?", "serial-xyz").unwrap();
        assert_eq!(odd.issuer_name_hash, b"issuerName!".to_vec());
        assert!(odd.request().is_ok());
        assert!(CertRef::from_ocpp("MD5", "00", "00", "01").is_err());
    }

    #[test]
    fn a_request_decodes_as_one_for_that_certificate() {
        let cert = CertRef::from_ocpp("SHA384", "0102", "0304", "00ff10").unwrap();
        let der = cert.request().unwrap();
        let back = OcspRequest::from_der(&der).unwrap();
        let id = &back.tbs_request.request_list[0].req_cert;
        assert_eq!(id.issuer_name_hash.as_bytes(), [1, 2]);
        assert_eq!(id.issuer_key_hash.as_bytes(), [3, 4]);
        // A positive INTEGER: its sign octet first.
        assert_eq!(id.serial_number.as_bytes(), [0, 0xff, 0x10]);
        assert_eq!(id.hash_algorithm.oid, HashAlgorithm::Sha384.oid());
    }

    #[test]
    fn garbage_is_not_an_answer() {
        let cert = CertRef::from_ocpp("SHA256", "01", "02", "03").unwrap();
        assert!(read_response(&cert, b"not der", SystemTime::now()).is_err());
        let refused = OcspResponse::internal_error().to_der().unwrap();
        assert!(matches!(
            read_response(&cert, &refused, SystemTime::now()),
            Err(OcspError::Refused(OcspResponseStatus::InternalError))
        ));
    }
}
