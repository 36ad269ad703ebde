//! csms's charger CA: a small certificate authority whose key and certificate live in a directory
//! (`CSMS_CA_DIR`, created on first use; the key file is readable by its owner only). It signs the
//! chargers' certificate signing requests (OCPP 1.6 security extension, SignCertificate) and can
//! issue a certificate with a fresh key (servers and clients for TLS, tests, tools).
//!
//! Keys are ECDSA P-256 (the security whitepaper asks for RSA ≥ 2048 or EC ≥ 224 bits).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use sha2::{Digest, Sha256};

/// A client certificate from csms's charger CA: its serial (as stored in `charger_certificates`)
/// and its bytes.
#[derive(Clone, Debug)]
pub struct FromCsms {
    pub serial: String,
    pub der: Vec<u8>,
}

/// The CA key's file name in its directory.
pub const KEY_FILE: &str = "ca.key";
/// The CA certificate's file name in its directory.
pub const CERT_FILE: &str = "ca.crt";

/// The subject csms gives every charger CA it creates: `CN=csms charger CA, O=csms`.
pub const CA_COMMON_NAME: &str = "csms charger CA";
/// See [`CA_COMMON_NAME`].
pub const CA_ORGANIZATION: &str = "csms";

/// Longest validity csms gives a certificate it issues (10 years).
pub const MAX_DAYS: u32 = 3650;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("CA directory {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("Invalid certificate signing request: {0}")]
    InvalidCsr(String),
    #[error("The CSR's common name {found:?} is not the charger's identity {expected:?}")]
    WrongCommonName { expected: String, found: String },
    #[error("Invalid certificate: {0}")]
    InvalidCertificate(String),
    #[error("{0}")]
    Invalid(String),
    #[error("Certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |error| CaError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// The charger CA (its key in memory once opened).
pub struct Ca {
    dir: PathBuf,
    key: KeyPair,
    cert_pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("dir", &self.dir).finish()
    }
}

/// A certificate signed for a CSR.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate alone
    pub cert_pem: String,
    /// The certificate followed by the CA certificate (what CertificateSigned carries)
    pub chain_pem: String,
    /// Hexadecimal, lower case, no leading zeros (as in OCPP's CertificateHashData)
    pub serial: String,
    pub common_name: String,
    pub not_after: NaiveDateTime,
}

/// Validity from yesterday (clocks differ) to `days` from today, at midnight UTC.
fn validity(params: &mut CertificateParams, days: u32) -> Result<NaiveDateTime, CaError> {
    if days == 0 || days > MAX_DAYS {
        return Err(CaError::Invalid(format!(
            "The validity must be 1 to {MAX_DAYS} days"
        )));
    }
    Ok(dates(params, days))
}

/// Sets the validity dates (see [`validity`]) without bounds.
fn dates(params: &mut CertificateParams, days: u32) -> NaiveDateTime {
    let ymd = |d: NaiveDate| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    let today = chrono::Utc::now().date_naive();
    let start = today - chrono::Days::new(1);
    let end = today + chrono::Days::new(u64::from(days));
    params.not_before = ymd(start);
    params.not_after = ymd(end);
    end.and_time(chrono::NaiveTime::MIN)
}

/// A random positive serial number (120 bits) and its hexadecimal form without leading zeros.
fn serial() -> (SerialNumber, String) {
    let mut bytes = *uuid::Uuid::new_v4().as_bytes();
    // Positive and without a leading zero byte.
    bytes[0] = (bytes[0] & 0x7f) | 0x10;
    (SerialNumber::from_slice(&bytes), hex_serial(&bytes))
}

/// Makes `params` those of an end-entity certificate for `cn`: not a CA, for digital signature and
/// key agreement and `usage` (TLS client or server), with a fresh serial number and `days` days of
/// validity. Returns the serial number (OCPP's form) and the end of the validity.
fn end_entity(
    params: &mut CertificateParams,
    cn: &str,
    usage: Vec<ExtendedKeyUsagePurpose>,
    days: u32,
) -> Result<(String, NaiveDateTime), CaError> {
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, cn);
    params.distinguished_name = subject;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyAgreement,
    ];
    params.extended_key_usages = usage;
    params.use_authority_key_identifier_extension = true;
    let (sn, serial) = serial();
    params.serial_number = Some(sn);
    let not_after = validity(params, days)?;
    Ok((serial, not_after))
}

/// OCPP's form of a serial number: hexadecimal, lower case, without leading zeros.
pub fn hex_serial(bytes: &[u8]) -> String {
    let h = hex::encode(bytes);
    let t = h.trim_start_matches('0');
    if t.is_empty() {
        "0".to_string()
    } else {
        t.to_string()
    }
}

impl Ca {
    /// Opens the CA in `dir`, creating the directory, key and certificate when they do not exist
    /// yet. A key file readable by others is made private again.
    pub fn open(dir: impl AsRef<Path>) -> Result<Ca, CaError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(pem) => {
                let mode = std::fs::metadata(&key_path)
                    .map_err(io(&key_path))?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
                        .map_err(io(&key_path))?;
                }
                KeyPair::from_pem(&pem).map_err(|e| CaError::Io {
                    path: key_path.display().to_string(),
                    error: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate()?;
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&key_path)
                {
                    Ok(mut f) => {
                        f.write_all(key.serialize_pem().as_bytes())
                            .and_then(|_| f.sync_all())
                            .map_err(io(&key_path))?;
                        key
                    }
                    // Another process created it meanwhile: theirs counts.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Self::open(dir);
                    }
                    Err(e) => return Err(io(&key_path)(e)),
                }
            }
            Err(e) => return Err(io(&key_path)(e)),
        };
        let cert_pem = match std::fs::read_to_string(&cert_path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut params = CertificateParams::new(Vec::<String>::new())?;
                let mut dn = DistinguishedName::new();
                dn.push(DnType::CommonName, CA_COMMON_NAME);
                dn.push(DnType::OrganizationName, CA_ORGANIZATION);
                params.distinguished_name = dn;
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = vec![
                    KeyUsagePurpose::KeyCertSign,
                    KeyUsagePurpose::CrlSign,
                    KeyUsagePurpose::DigitalSignature,
                ];
                params.serial_number = Some(serial().0);
                // The CA outlives what it signs: 20 years.
                dates(&mut params, 20 * 365);
                let pem = params.self_signed(&key)?.pem();
                // Written whole or not at all.
                let tmp = dir.join(format!("{CERT_FILE}.{}", uuid::Uuid::new_v4().simple()));
                std::fs::write(&tmp, &pem).map_err(io(&tmp))?;
                std::fs::rename(&tmp, &cert_path).map_err(io(&cert_path))?;
                std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?
            }
            Err(e) => return Err(io(&cert_path)(e)),
        };
        Ok(Ca { dir, key, cert_pem })
    }

    /// The CA certificate (PEM): what chargers and TLS clients trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// What marks the certificates this CA signs (see [`CaMark`]).
    pub fn mark(&self) -> Result<CaMark, CaError> {
        CaMark::of_pem(&self.cert_pem)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, CaError> {
        Ok(Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)?)
    }

    /// Signs a certificate signing request (PEM) whose signature is valid and whose subject names
    /// `expected_cn` alone (see [`csr_common_name`]): a client certificate valid `days` days, for
    /// the CSR's key, whose subject csms builds from `expected_cn` alone (`CN=<expected_cn>`).
    /// Nothing else is taken from the CSR: not its other subject attributes, not the extensions it
    /// asks for (no CA flag, no other usage, no alternative names).
    pub fn sign_csr(&self, csr_pem: &str, expected_cn: &str, days: u32) -> Result<Issued, CaError> {
        self.sign_csr_for(csr_pem, expected_cn, days, CertUse::ChargingStation)
    }

    /// [`Ca::sign_csr`] for the use an OCPP 2.0.1 station asked for ([`CertUse`]). The subject is
    /// always csms's `CN=<expected_cn>`. A V2G certificate's CSR names the SECC as ISO 15118 wants
    /// it (often the EVSE id, with O/C/DC), so its subject is not checked, only ignored; what csms
    /// signs for it is a TLS server certificate (for the EV), never a client one, so it cannot
    /// open a profile 3 connection.
    pub fn sign_csr_for(
        &self,
        csr_pem: &str,
        expected_cn: &str,
        days: u32,
        use_: CertUse,
    ) -> Result<Issued, CaError> {
        // Parses and verifies the CSR's signature with its own key.
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| CaError::InvalidCsr(e.to_string()))?;
        let cn = match use_ {
            CertUse::V2g => None,
            _ => Some(csr_common_name(csr_pem)?),
        };
        csr_key_strength(csr_pem)?;
        if let Some(cn) = cn.filter(|cn| cn != expected_cn) {
            return Err(CaError::WrongCommonName {
                expected: expected_cn.to_string(),
                found: cn,
            });
        }
        let usage = match use_ {
            CertUse::ChargingStation => vec![ExtendedKeyUsagePurpose::ClientAuth],
            CertUse::V2g => vec![ExtendedKeyUsagePurpose::ServerAuth],
            CertUse::Combined => vec![
                ExtendedKeyUsagePurpose::ClientAuth,
                ExtendedKeyUsagePurpose::ServerAuth,
            ],
        };
        let mut params = CertificateParams::default();
        let (serial, not_after) = end_entity(&mut params, expected_cn, usage, days)?;
        let request = CertificateSigningRequestParams {
            params,
            public_key: csr.public_key,
        };
        let cert_pem = request.signed_by(&self.issuer()?)?.pem();
        Ok(Issued {
            chain_pem: format!("{cert_pem}{}", self.cert_pem),
            cert_pem,
            serial,
            common_name: expected_cn.to_string(),
            not_after,
        })
    }

    /// A certificate and a fresh key (both PEM) for `cn` and the DNS names, valid `days` days: for a
    /// TLS client with `client_auth`, else for a TLS server.
    pub fn issue(
        &self,
        cn: &str,
        dns_names: &[String],
        days: u32,
        client_auth: bool,
    ) -> Result<(String, String), CaError> {
        if cn.trim().is_empty() {
            return Err(CaError::Invalid("The common name is empty".into()));
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(dns_names.to_vec())?;
        let usage = if client_auth {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        };
        end_entity(&mut params, cn, vec![usage], days)?;
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// What a certificate csms signs is for (OCPP 2.0.1's SignCertificate `certificateType`; 1.6 asks
/// for the station's only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertUse {
    /// ChargingStationCertificate: the station's TLS client certificate towards csms
    ChargingStation,
    /// V2GCertificate: the SECC's TLS server certificate towards the EV (ISO 15118)
    V2g,
    /// No certificateType: one certificate for both
    Combined,
}

/// What marks a certificate as issued by csms's charger CA: its issuer is the CA certificate's
/// subject, or its authority key identifier is the CA's subject key identifier, or its issuer is the
/// name csms gives every charger CA it creates ([`CA_COMMON_NAME`]; a CA directory replaced by a
/// new one keeps that name, and so does the mark when the CA certificate cannot be read). A mark
/// that is too wide refuses more, never less: a certificate that carries it must be on csms's
/// record of what it issued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaMark {
    /// The CA certificate's subject (DER): the issuer name of what it signs
    subject: Option<Vec<u8>>,
    /// The CA certificate's subject key identifier: the authority key identifier of what it signs
    key_id: Option<Vec<u8>>,
}

impl CaMark {
    /// The mark of the CA certificate `pem`.
    pub fn of_pem(pem: &str) -> Result<CaMark, CaError> {
        use x509_parser::extensions::ParsedExtension;
        let der = pem_der(pem, "The CA certificate")?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| CaError::InvalidCertificate(e.to_string()))?;
        let key_id = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            });
        Ok(CaMark {
            subject: Some(cert.subject().as_raw().to_vec()),
            key_id,
        })
    }

    /// The mark of the CA in `dir` (`CSMS_CA_DIR`), read without creating anything: without a CA
    /// certificate there, only the name csms gives its CAs marks a certificate as csms's.
    pub fn read(dir: impl AsRef<Path>) -> Result<CaMark, CaError> {
        let path = dir.as_ref().join(CERT_FILE);
        match std::fs::read_to_string(&path) {
            Ok(pem) => Self::of_pem(&pem),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CaMark::default()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Whether `cert` carries the mark of csms's charger CA.
    pub fn issued(&self, cert: &x509_parser::certificate::X509Certificate<'_>) -> bool {
        use x509_parser::extensions::ParsedExtension;
        let issuer = cert.issuer();
        if self.subject.as_deref() == Some(issuer.as_raw()) || is_csms_ca_name(issuer) {
            return true;
        }
        let Some(key_id) = self.key_id.as_deref() else {
            return false;
        };
        cert.extensions()
            .iter()
            .any(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().is_some_and(|k| k.0 == key_id)
                }
                _ => false,
            })
    }
}

/// Whether `name` is exactly the name csms gives the charger CAs it creates.
fn is_csms_ca_name(name: &x509_parser::x509::X509Name<'_>) -> bool {
    use x509_parser::oid_registry::{OID_X509_COMMON_NAME, OID_X509_ORGANIZATION_NAME};
    let attrs: Vec<_> = name.iter_attributes().collect();
    let [cn, o] = attrs.as_slice() else {
        return false;
    };
    *cn.attr_type() == OID_X509_COMMON_NAME
        && cn.as_str().ok() == Some(CA_COMMON_NAME)
        && *o.attr_type() == OID_X509_ORGANIZATION_NAME
        && o.as_str().ok() == Some(CA_ORGANIZATION)
}

/// The DER of the first certificate in `pem`.
pub fn cert_der(pem: &str) -> Result<Vec<u8>, CaError> {
    pem_der(pem, "The certificate")
}

fn pem_der(pem: &str, what: &str) -> Result<Vec<u8>, CaError> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| CaError::InvalidCertificate(format!("{what} is not PEM: {e}")))?;
    Ok(p.contents)
}

/// The one common name of a certificate's or CSR's subject, or why it names no single identity:
/// no common name, more than one (`CN=A, CN=B` reads as A to one library and as B to another), or
/// one that is not a string.
pub fn single_common_name(name: &x509_parser::x509::X509Name<'_>) -> Result<String, String> {
    let cns: Vec<_> = name.iter_common_name().collect();
    match cns.as_slice() {
        [] => Err("the subject has no common name".into()),
        [cn] => cn
            .as_str()
            .map(str::to_string)
            .map_err(|_| "the subject's common name is not a string".into()),
        more => Err(format!(
            "the subject has {} common names (exactly one is allowed)",
            more.len()
        )),
    }
}

/// Subject attributes a CSR may carry besides its common name, at most once each, and that csms
/// ignores (the certificate's subject is its own): organizationName, which the security whitepaper
/// asks a charger to fill with the operator's name, and the other descriptive attributes CSR tools
/// put there.
const IGNORED_CSR_ATTRIBUTES: [(&x509_parser::der_parser::Oid<'static>, &str); 5] = [
    (&x509_parser::oid_registry::OID_X509_ORGANIZATION_NAME, "O"),
    (
        &x509_parser::oid_registry::OID_X509_ORGANIZATIONAL_UNIT,
        "OU",
    ),
    (&x509_parser::oid_registry::OID_X509_COUNTRY_NAME, "C"),
    (
        &x509_parser::oid_registry::OID_X509_STATE_OR_PROVINCE_NAME,
        "ST",
    ),
    (&x509_parser::oid_registry::OID_X509_LOCALITY_NAME, "L"),
];

/// The identity a CSR (PEM) asks for: its subject's one common name. Refused: a subject with no
/// common name or more than one, or with any attribute other than the common name and those csms
/// ignores ([`IGNORED_CSR_ATTRIBUTES`]), or one of those twice.
pub fn csr_common_name(csr_pem: &str) -> Result<String, CaError> {
    use x509_parser::prelude::FromDer;
    let der = pem_der(csr_pem, "The CSR").map_err(|e| CaError::InvalidCsr(e.to_string()))?;
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|e| CaError::InvalidCsr(e.to_string()))?;
    let subject = &csr.certification_request_info.subject;
    let cn = single_common_name(subject).map_err(CaError::InvalidCsr)?;
    let mut seen = [false; IGNORED_CSR_ATTRIBUTES.len()];
    for attr in subject.iter_attributes() {
        let oid = attr.attr_type();
        if *oid == x509_parser::oid_registry::OID_X509_COMMON_NAME {
            continue;
        }
        let Some(i) = IGNORED_CSR_ATTRIBUTES.iter().position(|(o, _)| *o == oid) else {
            return Err(CaError::InvalidCsr(format!(
                "the subject carries attribute {} (csms accepts CN, and O, OU, C, ST, L once each)",
                oid.to_id_string()
            )));
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(CaError::InvalidCsr(format!(
                "the subject carries {} more than once",
                IGNORED_CSR_ATTRIBUTES[i].1
            )));
        }
    }
    Ok(cn)
}

/// The security whitepaper's minimum key sizes: RSA ≥ 2048 bits, EC ≥ 224 bits (Ed25519 and other
/// keys rcgen can read pass).
fn csr_key_strength(csr_pem: &str) -> Result<(), CaError> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey;
    let der = pem_der(csr_pem, "The CSR").map_err(|e| CaError::InvalidCsr(e.to_string()))?;
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|e| CaError::InvalidCsr(e.to_string()))?;
    let key = csr
        .certification_request_info
        .subject_pki
        .parsed()
        .map_err(|e| CaError::InvalidCsr(format!("unreadable public key: {e}")))?;
    let (bits, min) = match &key {
        PublicKey::RSA(_) => (key.key_size(), 2048),
        PublicKey::EC(_) => (key.key_size(), 224),
        _ => return Ok(()),
    };
    if bits < min {
        return Err(CaError::InvalidCsr(format!(
            "a {bits}-bit key is too weak (at least {min} bits)"
        )));
    }
    Ok(())
}

/// OCPP's CertificateHashData of a certificate (SHA-256): of its issuer's name (DER), of its
/// issuer's public key, and its serial number. `issuer_pem` is the issuing certificate; `None` for a
/// self-signed one (a root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashData {
    pub issuer_name_hash: String,
    pub issuer_key_hash: String,
    pub serial_number: String,
    /// The certificate's validity end
    pub not_after: NaiveDateTime,
}

pub fn hash_data(cert_pem: &str, issuer_pem: Option<&str>) -> Result<HashData, CaError> {
    let der = pem_der(cert_pem, "The certificate")?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| CaError::InvalidCertificate(e.to_string()))?;
    let issuer_der = match issuer_pem {
        Some(p) => pem_der(p, "The issuer certificate")?,
        None => der.clone(),
    };
    let (_, issuer) = x509_parser::parse_x509_certificate(&issuer_der)
        .map_err(|e| CaError::InvalidCertificate(e.to_string()))?;
    let not_after = chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .map(|t| t.naive_utc())
        .ok_or_else(|| CaError::InvalidCertificate("validity out of range".into()))?;
    Ok(HashData {
        issuer_name_hash: hex::encode(&Sha256::digest(cert.tbs_certificate.issuer.as_raw())[..]),
        issuer_key_hash: hex::encode(
            &Sha256::digest(&issuer.public_key().subject_public_key.data)[..],
        ),
        serial_number: hex_serial(cert.raw_serial()),
        not_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(cn: &str) -> (KeyPair, String) {
        csr_with(&[(DnType::CommonName, cn)])
    }

    #[test]
    fn created_once_with_a_private_key() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ca");
        let ca = Ca::open(&path).expect("created");
        let mode = std::fs::metadata(path.join(KEY_FILE))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Ca::open(&path).expect("reopened");
        assert_eq!(ca.cert_pem(), again.cert_pem(), "the same CA");
        // A key made readable by others is made private again.
        std::fs::set_permissions(path.join(KEY_FILE), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        Ca::open(&path).expect("reopened");
        let mode = std::fs::metadata(path.join(KEY_FILE))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn v2g_and_combined_certificates() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::open(dir.path()).expect("ca");
        let ekus = |issued: &Issued| {
            let (_, leaf) =
                x509_parser::pem::parse_x509_pem(issued.cert_pem.as_bytes()).expect("pem");
            let leaf = leaf.parse_x509().expect("cert");
            assert_eq!(single_common_name(leaf.subject()).expect("cn"), "CP1");
            let eku = leaf
                .extended_key_usage()
                .expect("eku")
                .expect("present")
                .value
                .clone();
            (eku.client_auth, eku.server_auth)
        };
        // V2G: the SECC's subject (an EVSE id) is not the station's, and not copied either.
        let (_, pem) = csr("DE*CSM*E1");
        let v2g = ca
            .sign_csr_for(&pem, "CP1", 30, CertUse::V2g)
            .expect("signed");
        assert_eq!(ekus(&v2g), (false, true), "a TLS server certificate only");
        assert!(matches!(
            ca.sign_csr_for(&pem, "CP1", 30, CertUse::Combined),
            Err(CaError::WrongCommonName { .. })
        ));
        let (_, pem) = csr("CP1");
        let both = ca
            .sign_csr_for(&pem, "CP1", 30, CertUse::Combined)
            .expect("signed");
        assert_eq!(ekus(&both), (true, true));
        assert!(matches!(
            ca.sign_csr_for("garbage", "CP1", 30, CertUse::V2g),
            Err(CaError::InvalidCsr(_))
        ));
    }

    #[test]
    fn signs_a_csr_for_the_expected_name_only() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::open(dir.path()).expect("ca");
        let (key, pem) = csr("CP1");
        let issued = ca.sign_csr(&pem, "CP1", 30).expect("signed");
        assert!(issued.chain_pem.ends_with(ca.cert_pem()));
        let (_, leaf) = x509_parser::pem::parse_x509_pem(issued.cert_pem.as_bytes()).expect("pem");
        let leaf = leaf.parse_x509().expect("cert");
        assert_eq!(
            leaf.public_key().subject_public_key.data.as_ref(),
            key.public_key_raw(),
            "for the CSR's key"
        );
        let (_, root) = x509_parser::pem::parse_x509_pem(ca.cert_pem().as_bytes()).expect("pem");
        let root = root.parse_x509().expect("cert");
        leaf.verify_signature(Some(root.public_key()))
            .expect("signed by the CA");
        assert!(!leaf.is_ca());
        let h = hash_data(&issued.cert_pem, Some(ca.cert_pem())).expect("hash");
        assert_eq!(h.serial_number, issued.serial);
        assert_eq!(h.not_after, issued.not_after);
        assert!(matches!(
            ca.sign_csr(&pem, "CP2", 30),
            Err(CaError::WrongCommonName { .. })
        ));
        assert!(matches!(
            ca.sign_csr("garbage", "CP1", 30),
            Err(CaError::InvalidCsr(_))
        ));
        assert!(matches!(
            ca.sign_csr(&pem, "CP1", 0),
            Err(CaError::Invalid(_))
        ));
    }

    /// A CSR (PEM) whose subject is `entries`, in order. rcgen keeps one value per attribute type,
    /// so a second common name goes in under CN's OID as a custom type: `CN=M, CN=VICTIM` on the
    /// wire.
    fn csr_with(entries: &[(DnType, &str)]) -> (KeyPair, String) {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = DistinguishedName::new();
        for (ty, value) in entries {
            params.distinguished_name.push(ty.clone(), *value);
        }
        let pem = params
            .serialize_request(&key)
            .expect("csr")
            .pem()
            .expect("pem");
        (key, pem)
    }

    /// Another common name (see [`csr_with`]).
    fn cn_again() -> DnType {
        DnType::CustomDnType(vec![2, 5, 4, 3])
    }

    /// The subject of a CSR as (OID, value) pairs, in order.
    fn csr_subject(pem: &str) -> Vec<(String, String)> {
        use x509_parser::prelude::FromDer;
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&p.contents)
                .expect("csr");
        csr.certification_request_info
            .subject
            .iter_attributes()
            .map(|a| {
                (
                    a.attr_type().to_id_string(),
                    a.as_str().expect("string").to_string(),
                )
            })
            .collect()
    }

    /// Issue 19, item 1: the accepted charger M asks for `CN=M, CN=VICTIM`. The first common name
    /// is M's, and rcgen would keep the last one in the certificate: csms must refuse it, in
    /// either order.
    #[test]
    fn refuses_a_csr_with_two_common_names() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::open(dir.path()).expect("ca");
        let (_, pem) = csr_with(&[(DnType::CommonName, "M"), (cn_again(), "VICTIM")]);
        assert_eq!(
            csr_subject(&pem),
            vec![
                ("2.5.4.3".to_string(), "M".to_string()),
                ("2.5.4.3".to_string(), "VICTIM".to_string())
            ],
            "exactly CN=M, CN=VICTIM"
        );
        let e = ca.sign_csr(&pem, "M", 30).expect_err("refused");
        assert!(matches!(e, CaError::InvalidCsr(_)), "{e}");
        assert!(e.to_string().contains("2 common names"), "{e}");
        let (_, pem) = csr_with(&[(DnType::CommonName, "VICTIM"), (cn_again(), "M")]);
        assert!(matches!(
            ca.sign_csr(&pem, "M", 30),
            Err(CaError::InvalidCsr(_))
        ));
        let (_, pem) = csr_with(&[(DnType::CommonName, "M"), (cn_again(), "M")]);
        assert!(matches!(
            ca.sign_csr(&pem, "M", 30),
            Err(CaError::InvalidCsr(_))
        ));
        let (_, pem) = csr_with(&[(DnType::OrganizationName, "CPO")]);
        let e = ca.sign_csr(&pem, "M", 30).expect_err("refused");
        assert!(e.to_string().contains("no common name"), "{e}");
    }

    /// Besides its one common name a CSR may carry the descriptive attributes the whitepaper and
    /// CSR tools put there (O, OU, C, ST, L, once each), which csms ignores; anything else is
    /// refused.
    #[test]
    fn csr_subject_attributes() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::open(dir.path()).expect("ca");
        let (_, pem) = csr_with(&[
            (DnType::CountryName, "IN"),
            (DnType::StateOrProvinceName, "KA"),
            (DnType::LocalityName, "Bengaluru"),
            (DnType::OrganizationName, "Some CPO"),
            (DnType::OrganizationalUnitName, "Chargers"),
            (DnType::CommonName, "CP1"),
        ]);
        ca.sign_csr(&pem, "CP1", 30).expect("accepted");
        for (ty, value, why) in [
            // emailAddress
            (
                DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
                "a@b.c",
                "1.2.840.113549.1.9.1",
            ),
            // serialNumber
            (DnType::CustomDnType(vec![2, 5, 4, 5]), "SN-1", "2.5.4.5"),
            // UID
            (
                DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 1]),
                "u",
                "0.9.2342.19200300.100.1.1",
            ),
            (
                DnType::CustomDnType(vec![1, 3, 6, 1, 4, 1, 99999, 1]),
                "x",
                "1.3.6.1.4.1.99999.1",
            ),
            (
                DnType::CustomDnType(vec![2, 5, 4, 10]),
                "second O",
                "O more than once",
            ),
        ] {
            let (_, pem) = csr_with(&[
                (DnType::CommonName, "CP1"),
                (DnType::OrganizationName, "Some CPO"),
                (ty, value),
            ]);
            let e = ca.sign_csr(&pem, "CP1", 30).expect_err("refused");
            assert!(matches!(e, CaError::InvalidCsr(_)), "{value}: {e}");
            assert!(e.to_string().contains(why), "{value}: {e}");
        }
    }

    /// The certificate names the expected identity alone and takes nothing from the CSR but its
    /// public key: not its other subject attributes, not the extensions it asks for.
    #[test]
    fn issued_certificate_names_the_charger_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::open(dir.path()).expect("ca");
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(vec!["victim.example".to_string()]).expect("params");
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Some CPO");
        params.distinguished_name.push(DnType::CommonName, "CP1");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let pem = params
            .serialize_request(&key)
            .expect("csr")
            .pem()
            .expect("pem");
        let issued = ca.sign_csr(&pem, "CP1", 30).expect("signed");
        assert_eq!(issued.common_name, "CP1");
        let (_, leaf) = x509_parser::pem::parse_x509_pem(issued.cert_pem.as_bytes()).expect("pem");
        let leaf = leaf.parse_x509().expect("cert");
        let subject: Vec<(String, String)> = leaf
            .subject()
            .iter_attributes()
            .map(|a| {
                (
                    a.attr_type().to_id_string(),
                    a.as_str().expect("string").to_string(),
                )
            })
            .collect();
        assert_eq!(subject, vec![("2.5.4.3".to_string(), "CP1".to_string())]);
        assert_eq!(
            leaf.public_key().subject_public_key.data.as_ref(),
            key.public_key_raw()
        );
        assert!(!leaf.is_ca());
        assert!(leaf.subject_alternative_name().expect("san").is_none());
        let ku = leaf.key_usage().expect("ku").expect("present").value;
        assert!(ku.digital_signature() && !ku.key_cert_sign());
        let eku = leaf
            .extended_key_usage()
            .expect("eku")
            .expect("present")
            .value;
        assert!(eku.client_auth && !eku.server_auth);
        // An extension request rcgen cannot read makes the CSR unreadable: refused.
        params.is_ca = IsCa::NoCa;
        params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 99999, 2],
            vec![0x05, 0x00],
        )];
        let pem = params
            .serialize_request(&key)
            .expect("csr")
            .pem()
            .expect("pem");
        assert!(matches!(
            ca.sign_csr(&pem, "CP1", 30),
            Err(CaError::InvalidCsr(_))
        ));
    }

    #[test]
    fn issues_server_and_client_certificates() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::open(dir.path()).expect("ca");
        let (cert, key) = ca
            .issue("localhost", &["localhost".into()], 10, false)
            .expect("issued");
        assert!(key.contains("PRIVATE KEY"));
        let (_, c) = x509_parser::pem::parse_x509_pem(cert.as_bytes()).expect("pem");
        let c = c.parse_x509().expect("cert");
        let eku = c.extended_key_usage().expect("eku").expect("present").value;
        assert!(eku.server_auth && !eku.client_auth);
        let (cert, _) = ca.issue("CP1", &[], 10, true).expect("issued");
        let (_, c) = x509_parser::pem::parse_x509_pem(cert.as_bytes()).expect("pem");
        let c = c.parse_x509().expect("cert");
        let eku = c.extended_key_usage().expect("eku").expect("present").value;
        assert!(eku.client_auth && !eku.server_auth);
    }

    fn parsed(pem: &str) -> Vec<u8> {
        cert_der(pem).expect("der")
    }

    /// csms's mark is on what its CA signs, and on what any CA csms created signs (same name); not
    /// on a certificate from a CA of another name and key. A CA csms did not create (an operator's
    /// own, in `CSMS_CA_DIR`) is recognised by its name and its key identifier.
    #[test]
    fn the_mark_of_csms_charger_ca() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::open(dir.path().join("a")).expect("ca");
        let mark = ca.mark().expect("mark");
        assert_eq!(CaMark::read(ca.dir()).expect("read"), mark);
        assert_eq!(
            CaMark::read(dir.path().join("none")).expect("read"),
            CaMark::default()
        );
        assert!(!dir.path().join("none").exists(), "nothing created");
        let marked = |mark: &CaMark, pem: &str| {
            let der = parsed(pem);
            let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("cert");
            mark.issued(&cert)
        };
        let (_, csr_pem) = csr("CP1");
        let issued = ca.sign_csr(&csr_pem, "CP1", 30).expect("signed");
        assert!(marked(&mark, &issued.cert_pem));
        let (client, _) = ca.issue("CP1", &[], 10, true).expect("issued");
        assert!(marked(&mark, &client));
        // Another CA csms created (a replaced CA directory): the same name.
        let other = Ca::open(dir.path().join("b")).expect("ca");
        let (client, _) = other.issue("CP1", &[], 10, true).expect("issued");
        assert!(marked(&mark, &client));
        assert!(marked(&CaMark::default(), &client));
        // A CA of another name and key.
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name.push(DnType::CommonName, "maker CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let maker_pem = p.self_signed(&key).expect("ca").pem();
        let maker = Issuer::from_ca_cert_pem(&maker_pem, &key).expect("issuer");
        let leaf_key = KeyPair::generate().expect("key");
        let mut lp = CertificateParams::new(Vec::<String>::new()).expect("params");
        lp.distinguished_name.push(DnType::CommonName, "CP1");
        lp.use_authority_key_identifier_extension = true;
        let leaf = lp.signed_by(&leaf_key, &maker).expect("leaf").pem();
        assert!(!marked(&mark, &leaf));
        assert!(!marked(&CaMark::default(), &leaf));
        // An operator's own CA in CSMS_CA_DIR: its name, or its key identifier under another name.
        let own = CaMark::of_pem(&maker_pem).expect("mark");
        assert!(own.key_id.is_some(), "rcgen writes the CA's key identifier");
        assert!(marked(&own, &leaf));
        let renamed = CaMark {
            subject: None,
            key_id: own.key_id.clone(),
        };
        assert!(marked(&renamed, &leaf));
        let other_key = CaMark {
            subject: None,
            key_id: Some(vec![1, 2, 3]),
        };
        assert!(!marked(&other_key, &leaf));
    }

    #[test]
    fn hash_data_of_a_root_uses_its_own_name_and_key() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = Ca::open(dir.path()).expect("ca");
        let h = hash_data(ca.cert_pem(), None).expect("hash");
        assert_eq!(h.issuer_name_hash.len(), 64);
        assert_eq!(h.issuer_key_hash.len(), 64);
        assert!(!h.serial_number.starts_with('0'));
        assert_eq!(hex_serial(&[0, 0, 0x0a, 0xbc]), "abc");
        assert_eq!(hex_serial(&[0]), "0");
    }
}
