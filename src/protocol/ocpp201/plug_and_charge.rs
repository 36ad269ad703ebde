//! Plug & Charge on 2.0.1 (blocks C and M, ISO 15118): what a station asks csms on behalf of the EV.
//!
//! - Get15118EVCertificate: relayed to the certificate provisioning service
//!   (`infra::provisioning`, `CSMS_ISO15118_CPS_URL`) and its `{status, exiResponse}` answered;
//!   no service configured, or one down, slow or confused: `Failed` with the reason.
//! - Authorize with the contract's `iso15118CertificateHashData` or its `certificate`: the core's
//!   verdict (`domain::contracts`, OCSP) is the answer's `certificateStatus`; any but Accepted
//!   answers the token Invalid.
//! - GetCertificateStatus: the station's own certificate chain (the V2G one) asked of the
//!   responder it names; Accepted with the responder's OCSPResponse (DER, base64) once it gave a
//!   usable one, whatever the status in it, else Failed.

use serde_json::{Value, json};

use base64::Engine;

use crate::domain::contracts::{self, Verdict};
use crate::infra::ocsp::CertRef;
use crate::infra::provisioning::EvCertificateRequest;
use crate::protocol::frame::OcppError;
use crate::protocol::ocpp201::messages;
use crate::protocol::registry::ChargerCtx;
use crate::state::State;

crate::protocol::payloads! {
    pub struct Get15118EvCertificate {
        #[serde(rename = "iso15118SchemaVersion")]
        pub iso15118_schema_version: String,
        /// Install or Update
        pub action: String,
        pub exi_request: String,
    }
}

/// Get15118EVCertificate: the provisioning service's answer, or Failed.
pub async fn ev_certificate(
    state: &State,
    ctx: &ChargerCtx,
    req: Get15118EvCertificate,
) -> Result<Value, OcppError> {
    let request = EvCertificateRequest {
        action: req.action,
        iso15118_schema_version: req.iso15118_schema_version,
        exi_request: req.exi_request,
    };
    match state
        .provisioning
        .ev_certificate(&ctx.device_id, &request)
        .await
    {
        Ok(a) => {
            log::info!(
                "{}: EV certificate {} from the provisioning service: {}",
                ctx.device_id,
                request.action,
                a.status
            );
            Ok(json!({"status": a.status, "exiResponse": a.exi_response}))
        }
        Err(e) => {
            log::warn!("{}: EV certificate {}: {e}", ctx.device_id, request.action);
            Ok(json!({"status": "Failed", "exiResponse": "",
                "statusInfo": {"reasonCode": "NoCertificateService",
                    "additionalInfo": truncate(&e.to_string(), 512)}}))
        }
    }
}

/// `s` cut to at most `max` characters (StatusInfo's additionalInfo is at most 512).
fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The contract an Authorize presents, if any: its certificateStatus and whether it is valid.
pub async fn contract_status(
    state: &State,
    req: &messages::Authorize,
) -> Option<(&'static str, bool)> {
    let verdict = match (&req.iso15118_certificate_hash_data, &req.certificate) {
        (Some(chain), _) if !chain.is_empty() => {
            let chain: Vec<_> = chain
                .iter()
                .map(messages::OcspRequestData::to_core)
                .collect();
            contracts::by_hash_data(&state.ocsp, &chain).await
        }
        (_, Some(pem)) => {
            contracts::by_certificate(&state.ocsp, pem, std::time::SystemTime::now()).await
        }
        _ => return None,
    };
    let status = match verdict {
        Verdict::Valid => "Accepted",
        Verdict::Revoked => "CertificateRevoked",
        Verdict::Expired => "CertificateExpired",
        Verdict::SignatureError => "SignatureError",
        Verdict::ChainError => "CertChainError",
        Verdict::NoStatus => "NoCertificateAvailable",
    };
    Some((status, verdict == Verdict::Valid))
}

/// GetCertificateStatus: the responder's answer for the station to staple, or Failed.
pub async fn certificate_status(
    state: &State,
    ctx: &ChargerCtx,
    req: messages::GetCertificateStatus,
) -> Result<Value, OcppError> {
    let d = req.ocsp_request_data;
    let checked = match CertRef::from_ocpp(
        &d.hash_algorithm,
        &d.issuer_name_hash,
        &d.issuer_key_hash,
        &d.serial_number,
    ) {
        Ok(cert) => state.ocsp.check(&d.responder_url, &cert).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(c) => {
            log::info!(
                "{}: certificate status from {}: {:?}",
                ctx.device_id,
                d.responder_url,
                c.status
            );
            let result = base64::engine::general_purpose::STANDARD.encode(&c.response);
            Ok(json!({"status": "Accepted", "ocspResult": result}))
        }
        Err(e) => {
            log::warn!("{}: certificate status: {e}", ctx.device_id);
            Ok(json!({"status": "Failed",
                "statusInfo": {"reasonCode": "OCSPFailed",
                    "additionalInfo": truncate(&e.to_string(), 512)}}))
        }
    }
}
