//! Plug & Charge contract certificates (ISO 15118): is the contract an EV presents valid? The
//! station sends either the OCSP names of the contract certificate's chain (hash data with each
//! issuer's responder) or the contract certificate itself. csms asks the responders (RFC 6960,
//! `infra::ocsp`) and gives one verdict; any verdict but `Valid` refuses the token, whatever the
//! token's own status.

use std::time::SystemTime;

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::infra::ocsp::{CertRef, HashAlgorithm, Ocsp, OcspError, Status};

/// One certificate of the contract's chain as the station names it, with its responder.
#[derive(Debug, Clone)]
pub struct HashData {
    pub hash_algorithm: String,
    pub issuer_name_hash: String,
    pub issuer_key_hash: String,
    pub serial_number: String,
    pub responder_url: String,
}

/// The verdict on a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every certificate is good
    Valid,
    /// A certificate of the chain is revoked
    Revoked,
    /// The certificate is outside its validity dates
    Expired,
    /// The certificate's signature does not hold
    SignatureError,
    /// The chain cannot be checked: an issuer csms cannot name, no responder, a responder that
    /// does not know the certificate
    ChainError,
    /// No responder gave a usable answer (down, slow, refusing, garbled)
    NoStatus,
}

fn from_ocsp(e: &OcspError) -> Verdict {
    match e {
        OcspError::BadCertificate(_) => Verdict::ChainError,
        _ => Verdict::NoStatus,
    }
}

/// The verdict on a chain named by its hash data: revoked if any is revoked, valid only if every
/// one is good.
pub async fn by_hash_data(ocsp: &Ocsp, chain: &[HashData]) -> Verdict {
    if chain.is_empty() {
        return Verdict::ChainError;
    }
    let mut verdict = Verdict::Valid;
    for h in chain {
        let checked = match CertRef::from_ocpp(
            &h.hash_algorithm,
            &h.issuer_name_hash,
            &h.issuer_key_hash,
            &h.serial_number,
        ) {
            Ok(cert) => ocsp.check(&h.responder_url, &cert).await,
            Err(e) => Err(e),
        };
        let this = match checked {
            Ok(c) if c.status == Status::Good => Verdict::Valid,
            Ok(c) if c.status == Status::Revoked => return Verdict::Revoked,
            Ok(_) => Verdict::ChainError,
            Err(e) => {
                log::warn!("OCSP at {}: {e}", h.responder_url);
                from_ocsp(&e)
            }
        };
        if verdict == Verdict::Valid {
            verdict = this;
        }
    }
    verdict
}

/// The verdict on a bare contract certificate (PEM): its dates, its signature when it is its own
/// issuer, then its OCSP responder (from its Authority Information Access).
pub async fn by_certificate(ocsp: &Ocsp, pem: &str, now: SystemTime) -> Verdict {
    let der = match x509_parser::pem::parse_x509_pem(pem.as_bytes()) {
        Ok((_, p)) if p.label == "CERTIFICATE" => p.contents,
        _ => return Verdict::ChainError,
    };
    let checked = {
        let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(&der) else {
            return Verdict::ChainError;
        };
        let now_secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let validity = cert.validity();
        if now_secs < validity.not_before.timestamp() || now_secs > validity.not_after.timestamp() {
            return Verdict::Expired;
        }
        let self_issued = cert.issuer() == cert.subject();
        if !self_issued {
            // Its issuer is needed to name it for OCSP and to check its signature: csms holds no
            // MO roots to find it among.
            return Verdict::ChainError;
        }
        if cert.verify_signature(None).is_err() {
            return Verdict::SignatureError;
        }
        responder_of(&cert)
    };
    let Some(responder) = checked else {
        return Verdict::ChainError;
    };
    let cert = match CertRef::of_certificate(HashAlgorithm::Sha256, &der, &der) {
        Ok(c) => c,
        Err(e) => return from_ocsp(&e),
    };
    match ocsp.check(&responder, &cert).await {
        Ok(c) => match c.status {
            Status::Good => Verdict::Valid,
            Status::Revoked => Verdict::Revoked,
            Status::Unknown => Verdict::ChainError,
        },
        Err(e) => {
            log::warn!("OCSP at {responder}: {e}");
            from_ocsp(&e)
        }
    }
}

/// The OCSP responder a certificate names in its Authority Information Access.
fn responder_of(cert: &x509_parser::certificate::X509Certificate<'_>) -> Option<String> {
    let ocsp = x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
    cert.extensions().iter().find_map(|ext| {
        let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() else {
            return None;
        };
        aia.accessdescs
            .iter()
            .find_map(|d| match &d.access_location {
                GeneralName::URI(uri) if d.access_method == ocsp => Some(uri.to_string()),
                _ => None,
            })
    })
}
