//! Charger certificates (OCPP 1.6 security extension). A charger asks for a certificate with
//! SignCertificate (by itself, or after ExtendedTriggerMessage SignChargePointCertificate): csms
//! checks the CSR (its signature with its own key, and a subject whose one common name is the
//! charger's identity: see `Ca::sign_csr`), answers Accepted and, once that answer has gone out,
//! sends CertificateSigned with the chain its charger CA (`crate::infra::ca`, in `CSMS_CA_DIR`) signed,
//! for `CN=<identity>` alone; a CSR it refuses is answered Rejected and recorded as a security
//! event. Every issued certificate is stored with the charger's
//! answer to CertificateSigned, and that record is what the profile-3 handshake trusts: a
//! certificate from csms's CA identifies only the charger it was recorded for ([`not_issued_to`]).
//! Certificates signed before the CSR subject fix that name another charger are reported at
//! start-up ([`audit_issued`]).
//!
//! csms also keeps what a charger said it has installed: its last GetInstalledCertificateIds answer
//! per certificate type, plus root certificates it accepted with InstallCertificate, less what it
//! deleted with DeleteCertificate.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::station_commands::{Command, StationCommands};
use crate::error::AppError;
use crate::infra::ca::{Ca, CaError, CertUse, Issued};
use crate::infra::db::schema::{charger_certificates, chargers, installed_certificates};
use crate::infra::db::{Db, DbConnection, now, write_tx};
use crate::infra::timestamps::format_timestamp;

/// Validity of the certificates issued to chargers.
pub const CHARGER_CERT_DAYS: u32 = 365;

impl From<CaError> for AppError {
    fn from(e: CaError) -> Self {
        match e {
            CaError::InvalidCsr(_)
            | CaError::WrongCommonName { .. }
            | CaError::InvalidCertificate(_)
            | CaError::Invalid(_) => AppError::BadRequest(e.to_string()),
            CaError::Io { .. } | CaError::Rcgen(_) => AppError::Internal(e.to_string()),
        }
    }
}

/// The charger CA in `dir`, opened once per process (created on first use).
pub async fn ca(dir: &str) -> Result<Arc<Ca>, AppError> {
    static OPEN: OnceLock<Mutex<HashMap<PathBuf, Arc<Ca>>>> = OnceLock::new();
    let dir = PathBuf::from(dir);
    tokio::task::spawn_blocking(move || {
        let mut open = OPEN
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(ca) = open.get(&dir) {
            return Ok(ca.clone());
        }
        let ca = Arc::new(Ca::open(&dir)?);
        open.insert(dir, ca.clone());
        Ok(ca)
    })
    .await
    .map_err(|e| AppError::Internal(format!("CA task: {e}")))?
}

/// A certificate csms issued to a charger.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCertificate {
    pub id: i64,
    /// Hexadecimal
    pub serial: String,
    pub common_name: String,
    pub not_after: String,
    /// Whether it expired
    pub expired: bool,
    /// Pending (CertificateSigned not answered yet), Accepted, Rejected or Failed: <why>
    pub status: String,
    pub pem: String,
    pub created_at: String,
}

/// A certificate the charger said it has installed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstalledCertificate {
    /// CentralSystemRootCertificate or ManufacturerRootCertificate
    pub certificate_type: String,
    pub hash_algorithm: String,
    pub issuer_name_hash: String,
    pub issuer_key_hash: String,
    pub serial_number: String,
    pub reported_at: String,
}

/// A charger's certificates: those csms issued (newest first) and those it reported installed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChargerCertificates {
    pub device_id: String,
    pub issued: Vec<IssuedCertificate>,
    pub installed: Vec<InstalledCertificate>,
}

type IssuedRow = (
    i64,
    String,
    String,
    NaiveDateTime,
    String,
    String,
    NaiveDateTime,
);

pub fn list(c: &mut DbConnection, device_id: &str) -> Result<ChargerCertificates, AppError> {
    let cid = crate::domain::chargers::id_of(c, device_id)?;
    let t = now();
    let issued: Vec<IssuedRow> = charger_certificates::table
        .filter(charger_certificates::charger_id.eq(cid))
        .order(charger_certificates::id.desc())
        .limit(100)
        .select((
            charger_certificates::id,
            charger_certificates::serial,
            charger_certificates::common_name,
            charger_certificates::not_after,
            charger_certificates::status,
            charger_certificates::pem,
            charger_certificates::created_at,
        ))
        .load(c)?;
    let installed: Vec<(String, String, String, String, String, NaiveDateTime)> =
        installed_certificates::table
            .filter(installed_certificates::charger_id.eq(cid))
            .order(installed_certificates::id.asc())
            .select((
                installed_certificates::certificate_type,
                installed_certificates::hash_algorithm,
                installed_certificates::issuer_name_hash,
                installed_certificates::issuer_key_hash,
                installed_certificates::serial_number,
                installed_certificates::reported_at,
            ))
            .load(c)?;
    Ok(ChargerCertificates {
        device_id: device_id.to_string(),
        issued: issued
            .into_iter()
            .map(
                |(id, serial, common_name, not_after, status, pem, created)| IssuedCertificate {
                    id,
                    serial,
                    common_name,
                    not_after: format_timestamp(not_after),
                    expired: not_after <= t,
                    status,
                    pem,
                    created_at: format_timestamp(created),
                },
            )
            .collect(),
        installed: installed
            .into_iter()
            .map(
                |(certificate_type, hash_algorithm, inh, ikh, serial_number, at)| {
                    InstalledCertificate {
                        certificate_type,
                        hash_algorithm,
                        issuer_name_hash: inh,
                        issuer_key_hash: ikh,
                        serial_number,
                        reported_at: format_timestamp(at),
                    }
                },
            )
            .collect(),
    })
}

/// What signing chargers' certificates works with (built once in `startup.rs`).
pub struct Certificates {
    pub db: Db,
    pub stations: Arc<dyn StationCommands>,
    pub call_timeout: std::time::Duration,
    /// Where csms's CA keeps its key and certificate (`CSMS_CA_DIR`).
    pub ca_dir: String,
}

/// SignCertificate from a charger: `Accepted` (and CertificateSigned follows once the answer went
/// out) or `Rejected` (recorded as a security event). `use_`: what the certificate is for
/// ([`CertUse`]: 1.6 asks for the station's own); `certificate_type`: the 2.0.1 certificateType
/// CertificateSigned carries back (1.6 and a combined certificate: none).
pub async fn sign_certificate(
    desk: &Arc<Certificates>,
    charger_id: i64,
    device_id: &str,
    csr: String,
    use_: CertUse,
    certificate_type: Option<String>,
) -> Result<&'static str, AppError> {
    let ca = ca(&desk.ca_dir).await?;
    let device = device_id.to_string();
    let signed: Result<Issued, CaError> = tokio::task::spawn_blocking(move || {
        ca.sign_csr_for(&csr, &device, CHARGER_CERT_DAYS, use_)
    })
    .await
    .map_err(|e| AppError::Internal(format!("CA task: {e}")))?;
    let issued = match signed {
        Ok(i) => i,
        Err(e @ (CaError::Io { .. } | CaError::Rcgen(_))) => return Err(e.into()),
        Err(e) => {
            let why = e.to_string();
            log::warn!("{device_id}: SignCertificate rejected: {why}");
            desk.db
                .run(move |c| {
                    crate::domain::security_events::record_csms(
                        c,
                        charger_id,
                        "InvalidCertificateSigningRequest",
                        Some(&why),
                    )
                })
                .await?;
            return Ok("Rejected");
        }
    };
    let chain = issued.chain_pem.clone();
    let id = desk
        .db
        .run(move |c| {
            let t = now();
            let id: i64 = write_tx(c, |c| {
                diesel::insert_into(charger_certificates::table)
                    .values((
                        charger_certificates::charger_id.eq(charger_id),
                        charger_certificates::serial.eq(&issued.serial),
                        charger_certificates::common_name.eq(&issued.common_name),
                        charger_certificates::not_after.eq(issued.not_after),
                        charger_certificates::pem.eq(&issued.cert_pem),
                        charger_certificates::status.eq("Pending"),
                        charger_certificates::created_at.eq(t),
                        charger_certificates::updated_at.eq(t),
                    ))
                    .returning(charger_certificates::id)
                    .get_result(c)
            })?;
            Ok(id)
        })
        .await?;
    // The connection sends our CALL only after the answer to the charger's CALL went out.
    let (desk, device) = (desk.clone(), device_id.to_string());
    tokio::spawn(
        async move { send_certificate(&desk, &device, id, chain, certificate_type).await },
    );
    Ok("Accepted")
}

/// Why the client certificate `cert`, from csms's charger CA, may not identify the charger
/// `charger_id` at the profile-3 handshake, or `None` when csms recorded issuing this very
/// certificate (its serial, and the same bytes) to that charger. One read by the serial, which is
/// unique (indexed). A certificate csms's CA signed before the CSR subject fix, whose subject names
/// another charger than the one that asked for it, fails here for every charger: the one it names
/// has no record of it, and the one that asked is not the one it names.
pub fn not_issued_to(
    c: &mut DbConnection,
    charger_id: i64,
    cert: &crate::infra::ca::FromCsms,
) -> Result<Option<String>, AppError> {
    let serial = &cert.serial;
    let row: Option<(i64, String, String)> = charger_certificates::table
        .inner_join(chargers::table)
        .filter(charger_certificates::serial.eq(serial))
        .select((
            charger_certificates::charger_id,
            chargers::device_id,
            charger_certificates::pem,
        ))
        .first(c)
        .optional()?;
    Ok(match row {
        None => Some(format!(
            "client certificate from csms's charger CA (serial {serial}) was not issued by csms \
             to this charger: csms has no record of it"
        )),
        Some((owner, device, _)) if owner != charger_id => Some(format!(
            "client certificate (serial {serial}) was issued by csms to another charger, {device:?}"
        )),
        Some((_, _, pem))
            if crate::infra::ca::cert_der(&pem).ok().as_deref() != Some(&cert.der[..]) =>
        {
            Some(format!(
                "client certificate (serial {serial}) is not the certificate csms issued to this \
                 charger with that serial"
            ))
        }
        Some(_) => None,
    })
}

/// The security event of an issued certificate whose subject is not its recorded identity.
const MISISSUED: &str = "InvalidChargePointCertificate";

/// Finds the certificates csms issued whose subject is not `CN=<the identity recorded for them>`
/// alone: certificates signed before the CSR subject fix for a CSR like `CN=M, CN=VICTIM`, which
/// read `CN=VICTIM` while csms recorded them for M. Each is logged and recorded once as a security
/// event (`InvalidChargePointCertificate`, source csms) of the charger it was issued to, and of the
/// charger it names when that one exists. The profile-3 handshake refuses them anyway
/// ([`not_issued_to`]); this tells the operator which charger asked for one. Returns their serials.
pub fn audit_issued(c: &mut DbConnection) -> Result<Vec<String>, AppError> {
    type Row = (i64, i64, String, String, String, NaiveDateTime, String);
    let mut found = Vec::new();
    let mut after = 0i64;
    loop {
        let rows: Vec<Row> = charger_certificates::table
            .inner_join(chargers::table)
            .filter(charger_certificates::id.gt(after))
            .order(charger_certificates::id.asc())
            .limit(500)
            .select((
                charger_certificates::id,
                charger_certificates::charger_id,
                charger_certificates::serial,
                charger_certificates::common_name,
                charger_certificates::pem,
                charger_certificates::created_at,
                chargers::device_id,
            ))
            .load(c)?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.0;
        for (_, owner, serial, common_name, pem, created, device) in rows {
            let subject = crate::infra::ca::cert_der(&pem).ok().and_then(|der| {
                let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
                Some((
                    crate::infra::ca::single_common_name(cert.subject()),
                    cert.subject().to_string(),
                ))
            });
            let (named, subject) = match subject {
                Some((Ok(cn), _)) if cn == common_name && cn == device => continue,
                Some((Ok(cn), subject)) => (Some(cn), subject),
                Some((Err(_), subject)) => (None, subject),
                None => (None, "an unreadable subject".to_string()),
            };
            log::warn!(
                "certificate serial {serial} that csms issued to {device} on {created} reads \
                 {subject:?}: refused at the profile-3 handshake"
            );
            let created = format_timestamp(created);
            record_once(
                c,
                owner,
                &format!(
                    "certificate serial {serial} that csms issued to this charger on {created} \
                     reads {subject:?}, not CN={device}: refused at the profile-3 handshake"
                ),
            )?;
            if let Some(named) = named.filter(|n| *n != device) {
                let victim: Option<i64> = chargers::table
                    .filter(chargers::device_id.eq(&named))
                    .select(chargers::id)
                    .first(c)
                    .optional()?;
                if let Some(victim) = victim {
                    record_once(
                        c,
                        victim,
                        &format!(
                            "certificate serial {serial} names this charger but csms issued it \
                             to {device:?} on {created}: refused at the profile-3 handshake"
                        ),
                    )?;
                }
            }
            found.push(serial);
        }
    }
    Ok(found)
}

/// Records csms's `MISISSUED` event unless the charger already has it with the same text.
fn record_once(c: &mut DbConnection, charger_id: i64, tech_info: &str) -> Result<(), AppError> {
    use crate::domain::security_events::{Unless, record_csms_unless};
    record_csms_unless(c, charger_id, MISISSUED, tech_info, Unless::SameText)?;
    Ok(())
}

/// [`audit_issued`] at start-up: logged, never fatal.
pub async fn audit_at_startup(db: Db) {
    match db.run(audit_issued).await {
        Ok(found) if found.is_empty() => {}
        Ok(found) => log::warn!(
            "{} issued certificate(s) name another charger than the one csms issued them to \
             (security events InvalidChargePointCertificate): {}",
            found.len(),
            found.join(", ")
        ),
        Err(e) => log::error!("issued certificates not audited: {e}"),
    }
}

/// CertificateSigned with the chain; the charger's answer is stored with the certificate.
async fn send_certificate(
    desk: &Certificates,
    device: &str,
    id: i64,
    chain: String,
    certificate_type: Option<String>,
) {
    let answer = desk
        .stations
        .send(
            device,
            Command::CertificateSigned {
                chain,
                certificate_type,
            },
            desk.call_timeout,
        )
        .await;
    let status = match answer {
        Ok(r) => r.status_or("Rejected").to_string(),
        Err(e) => format!("Failed: {}", AppError::from(e)),
    };
    log::info!("{device}: CertificateSigned answered {status}");
    let stored = desk
        .db
        .run(move |c| {
            write_tx(c, |c| {
                diesel::update(charger_certificates::table.find(id))
                    .set((
                        charger_certificates::status.eq(status),
                        charger_certificates::updated_at.eq(now()),
                    ))
                    .execute(c)
            })?;
            Ok(())
        })
        .await;
    if let Err(e) = stored {
        log::error!("{device}: CertificateSigned answer not stored: {e}");
    }
}

fn hash_field(h: &Value, f: &str) -> String {
    h[f].as_str().unwrap_or_default().to_string()
}

/// The charger's answer to GetInstalledCertificateIds for `certificate_type`: what it reported
/// replaces what csms knew of that type (NotFound: it has none).
///
/// `found`: the charger reported its certificates of that type (none when it found none);
/// `hashes`: their hash data (hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber: the same
/// in every OCPP version).
pub fn installed_reported(
    c: &mut DbConnection,
    device_id: &str,
    certificate_type: &str,
    found: bool,
    hashes: &[Value],
) -> Result<(), AppError> {
    let cid = crate::domain::chargers::id_of(c, device_id)?;
    write_tx(c, |c| {
        diesel::delete(
            installed_certificates::table
                .filter(installed_certificates::charger_id.eq(cid))
                .filter(installed_certificates::certificate_type.eq(certificate_type)),
        )
        .execute(c)?;
        if found {
            let t = now();
            for h in hashes {
                diesel::insert_into(installed_certificates::table)
                    .values((
                        installed_certificates::charger_id.eq(cid),
                        installed_certificates::certificate_type.eq(certificate_type),
                        installed_certificates::hash_algorithm.eq(hash_field(h, "hashAlgorithm")),
                        installed_certificates::issuer_name_hash
                            .eq(hash_field(h, "issuerNameHash")),
                        installed_certificates::issuer_key_hash.eq(hash_field(h, "issuerKeyHash")),
                        installed_certificates::serial_number.eq(hash_field(h, "serialNumber")),
                        installed_certificates::reported_at.eq(t),
                    ))
                    .execute(c)?;
            }
        }
        Ok(())
    })
}

/// A root certificate the charger accepted with InstallCertificate: known as installed (its hash
/// data computed as the charger does, for a self-signed certificate).
pub fn installed(
    c: &mut DbConnection,
    device_id: &str,
    certificate_type: &str,
    pem: &str,
) -> Result<(), AppError> {
    let cid = crate::domain::chargers::id_of(c, device_id)?;
    let h = match crate::infra::ca::hash_data(pem, None) {
        Ok(h) => h,
        Err(e) => {
            log::info!("{device_id}: installed certificate not recorded: {e}");
            return Ok(());
        }
    };
    write_tx(c, |c| {
        let same = installed_certificates::table
            .filter(installed_certificates::charger_id.eq(cid))
            .filter(installed_certificates::issuer_name_hash.eq(&h.issuer_name_hash))
            .filter(installed_certificates::issuer_key_hash.eq(&h.issuer_key_hash))
            .filter(installed_certificates::serial_number.eq(&h.serial_number));
        diesel::delete(same).execute(c)?;
        diesel::insert_into(installed_certificates::table)
            .values((
                installed_certificates::charger_id.eq(cid),
                installed_certificates::certificate_type.eq(certificate_type),
                installed_certificates::hash_algorithm.eq("SHA256"),
                installed_certificates::issuer_name_hash.eq(&h.issuer_name_hash),
                installed_certificates::issuer_key_hash.eq(&h.issuer_key_hash),
                installed_certificates::serial_number.eq(&h.serial_number),
                installed_certificates::reported_at.eq(now()),
            ))
            .execute(c)?;
        Ok(())
    })
}

/// DeleteCertificate answered Accepted: the certificate is no longer installed.
pub fn deleted(c: &mut DbConnection, device_id: &str, hash: &Value) -> Result<(), AppError> {
    let cid = crate::domain::chargers::id_of(c, device_id)?;
    write_tx(c, |c| {
        diesel::delete(
            installed_certificates::table
                .filter(installed_certificates::charger_id.eq(cid))
                .filter(
                    installed_certificates::issuer_name_hash.eq(hash_field(hash, "issuerNameHash")),
                )
                .filter(
                    installed_certificates::issuer_key_hash.eq(hash_field(hash, "issuerKeyHash")),
                )
                .filter(installed_certificates::serial_number.eq(hash_field(hash, "serialNumber"))),
        )
        .execute(c)?;
        Ok(())
    })
}
