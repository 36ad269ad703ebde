//! Block A's certificate signing for OCPP 2.0.1 stations: SignCertificate (sent by the station on
//! its own or after the operator's TriggerMessage SignChargingStationCertificate /
//! SignV2GCertificate / SignCombinedCertificate, which the commands API relays as given) is
//! checked by the core's CSR rules (`domain::certificates::sign_certificate`): answered Accepted
//! or Rejected, and once Accepted has gone out, CertificateSigned follows with the chain csms's CA
//! signed and the certificateType the station asked for. The station's answer is stored on the
//! issued certificate (Accepted, Rejected, or Failed: why). The subject is always csms's
//! `CN=<station id>`:
//! - ChargingStationCertificate: the CSR must name the station alone (as for 1.6); a TLS client
//!   certificate, the one profile 3 accepts.
//! - V2GCertificate: ISO 15118's SECC certificate names what the operator's V2G PKI wants (often the
//!   EVSE id), so the CSR's subject is not held against it but not copied either; csms signs a TLS
//!   server certificate (for the EV), which cannot open a profile 3 connection.
//! - no certificateType (combined): the station's rules, and both usages.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::infra::ca::CertUse;
use crate::protocol::frame::OcppError;
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

/// 2.0.1's CertificateSigningUseEnumType.
#[derive(Debug, Clone, Copy, Deserialize)]
pub enum CertificateType {
    ChargingStationCertificate,
    V2GCertificate,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignCertificate {
    pub csr: String,
    pub certificate_type: Option<CertificateType>,
}

/// SignCertificate: the core's answer (Accepted / Rejected); CertificateSigned follows on its own.
pub async fn sign_certificate(
    state: &State,
    ctx: &ChargerCtx,
    req: SignCertificate,
) -> Result<Value, OcppError> {
    let (use_, certificate_type) = match req.certificate_type {
        Some(CertificateType::ChargingStationCertificate) => (
            CertUse::ChargingStation,
            Some("ChargingStationCertificate".to_string()),
        ),
        Some(CertificateType::V2GCertificate) => (CertUse::V2g, Some("V2GCertificate".to_string())),
        None => (CertUse::Combined, None),
    };
    let status = crate::domain::certificates::sign_certificate(
        &state.certificates,
        ctx.charger_id,
        &ctx.device_id,
        req.csr,
        use_,
        certificate_type,
    )
    .await?;
    log::info!(
        "{}: SignCertificate ({:?}) answered {status}",
        ctx.device_id,
        use_
    );
    Ok(json!({ "status": status }))
}
