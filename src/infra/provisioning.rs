//! The ISO 15118 certificate provisioning service (CPS): a 2.0.1 station's Get15118EVCertificate
//! (the EV's CertificateInstallationReq or CertificateUpdateReq, EXI, base64) is POSTed there as
//! JSON `{stationId, request: {action, iso15118SchemaVersion, exiRequest}}` and the service's
//! `{status, exiResponse}` relayed to the station. Every call is time-limited; a service that is
//! down, slow or answers nonsense is the station's `Failed`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the EV asked, as the station relays it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvCertificateRequest {
    /// Install or Update
    pub action: String,
    pub iso15118_schema_version: String,
    pub exi_request: String,
}

/// The service's answer.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EvCertificateAnswer {
    /// Accepted or Failed
    pub status: String,
    #[serde(default)]
    pub exi_response: String,
}

/// Why the service gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error("no certificate provisioning service is configured (CSMS_ISO15118_CPS_URL)")]
    NotConfigured,
    #[error("the certificate provisioning service did not answer: {0}")]
    Unreachable(String),
    #[error("the certificate provisioning service answered HTTP {0}")]
    Status(u16),
    #[error("the certificate provisioning service's answer is not understood: {0}")]
    Invalid(String),
}

/// The configured service, if any.
pub struct Provisioning {
    url: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
}

impl Provisioning {
    pub fn new(url: Option<String>, http: reqwest::Client, timeout: Duration) -> Self {
        let url = url.filter(|u| !u.trim().is_empty());
        Provisioning { url, http, timeout }
    }

    /// Relays `request` of `station_id` to the service.
    pub async fn ev_certificate(
        &self,
        station_id: &str,
        request: &EvCertificateRequest,
    ) -> Result<EvCertificateAnswer, ProvisioningError> {
        let url = self
            .url
            .as_deref()
            .ok_or(ProvisioningError::NotConfigured)?;
        let body = serde_json::json!({"stationId": station_id, "request": request});
        let sent = self
            .http
            .post(url)
            .json(&body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| ProvisioningError::Unreachable(e.to_string()))?;
        if !sent.status().is_success() {
            return Err(ProvisioningError::Status(sent.status().as_u16()));
        }
        let answer: EvCertificateAnswer = sent
            .json()
            .await
            .map_err(|e| ProvisioningError::Invalid(e.to_string()))?;
        if !["Accepted", "Failed"].contains(&answer.status.as_str()) {
            return Err(ProvisioningError::Invalid(format!(
                "status {:?}",
                answer.status
            )));
        }
        Ok(answer)
    }
}
