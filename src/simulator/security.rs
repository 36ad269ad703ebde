//! The simulator's side of the OCPP 1.6 security extension: a charger certificate (key and CSR made
//! here, signed by the central system), root certificates installed and deleted by their
//! CertificateHashData, GetLog (upload over HTTP), SignedUpdateFirmware (with a signature that is
//! valid unless a test scripts otherwise) and SecurityEventNotification.

use serde_json::{Value, json};

use super::{Simulator, lock};
use crate::infra::ca::{HashData, hash_data};
use crate::infra::timestamps::now_timestamp;

#[derive(Default)]
pub(super) struct SecurityState {
    /// The key of the last CSR sent (PEM), waiting for its certificate.
    pending_key: Option<String>,
    /// The charger certificate chain received with CertificateSigned, and its key (PEM).
    certificate: Option<(String, String)>,
    /// The common name of the next CSR (None: the charger's id).
    csr_common_name: Option<String>,
    /// Root certificates installed: (certificateType, PEM, hash data).
    installed: Vec<(String, String, HashData)>,
    /// Whether the next signed firmware's signature is found invalid even if it verifies.
    invalid_signature: bool,
    /// Every SignCertificate answer: status.
    sign_answers: Vec<String>,
    /// Logs uploaded: (requestId, file name).
    uploaded_logs: Vec<(i64, String)>,
}

/// Whether `signature` (base64) is the signature of `image` by the key of `certificate` (PEM):
/// ECDSA with SHA-256 for an EC key, RSA PKCS#1 v1.5 with SHA-256 for an RSA key.
fn signature_verifies(certificate: &str, signature: &str, image: &[u8]) -> bool {
    use base64::Engine;
    use x509_parser::oid_registry::{OID_PKCS1_SHA256WITHRSA, OID_SIG_ECDSA_WITH_SHA256};
    use x509_parser::public_key::PublicKey;
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Some(Ok(pem)) = x509_parser::pem::Pem::iter_from_buffer(certificate.as_bytes()).next()
    else {
        return false;
    };
    let Ok(cert) = pem.parse_x509() else {
        return false;
    };
    let spki = cert.public_key();
    let algorithm = match spki.parsed() {
        Ok(PublicKey::EC(_)) => OID_SIG_ECDSA_WITH_SHA256,
        Ok(PublicKey::RSA(_)) => OID_PKCS1_SHA256WITHRSA,
        _ => return false,
    };
    let algorithm = x509_parser::x509::AlgorithmIdentifier::new(algorithm, None);
    let value = x509_parser::asn1_rs::BitString::new(0, &sig);
    x509_parser::verify::verify_signature(spki, &algorithm, &value, image).is_ok()
}

fn leaf_public_key(chain: &str) -> Option<Vec<u8>> {
    let pem = x509_parser::pem::Pem::iter_from_buffer(chain.as_bytes())
        .next()?
        .ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

impl Simulator {
    /// Makes a key and a CSR (common name: the charger's id, or the scripted one) and sends
    /// SignCertificate; returns the central system's status.
    pub async fn sign_certificate(&self) -> Result<String, super::SimError> {
        let cn = lock(&self.shared)
            .security
            .csr_common_name
            .clone()
            .unwrap_or_else(|| self.id());
        let made = (|| -> Result<(String, String), rcgen::Error> {
            let key = rcgen::KeyPair::generate()?;
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationName, "csms simulator");
            let csr = params.serialize_request(&key)?.pem()?;
            Ok((key.serialize_pem(), csr))
        })();
        let (key, csr) = made.map_err(|e| super::SimError::Connect(format!("CSR: {e}")))?;
        lock(&self.shared).security.pending_key = Some(key);
        let answer = self.call("SignCertificate", json!({ "csr": csr })).await?;
        let status = answer["status"].as_str().unwrap_or_default().to_string();
        lock(&self.shared)
            .security
            .sign_answers
            .push(status.clone());
        Ok(status)
    }

    /// The common name of the next CSR (`None`: the charger's id).
    pub fn set_csr_common_name(&self, cn: Option<&str>) {
        lock(&self.shared).security.csr_common_name = cn.map(str::to_string);
    }

    /// The charger certificate chain the central system sent (CertificateSigned) and its key.
    pub fn certificate(&self) -> Option<(String, String)> {
        lock(&self.shared).security.certificate.clone()
    }

    /// The central system's answers to SignCertificate.
    pub fn sign_answers(&self) -> Vec<String> {
        lock(&self.shared).security.sign_answers.clone()
    }

    /// Root certificates installed: (certificateType, PEM).
    pub fn installed_certificates(&self) -> Vec<(String, String)> {
        lock(&self.shared)
            .security
            .installed
            .iter()
            .map(|(t, p, _)| (t.clone(), p.clone()))
            .collect()
    }

    /// The next SignedUpdateFirmware's signature is found invalid (InvalidSignature, and the
    /// security event InvalidFirmwareSignature).
    pub fn set_invalid_firmware_signature(&self, invalid: bool) {
        lock(&self.shared).security.invalid_signature = invalid;
    }

    /// Logs uploaded after GetLog: (requestId, file name).
    pub fn uploaded_logs(&self) -> Vec<(i64, String)> {
        lock(&self.shared).security.uploaded_logs.clone()
    }

    /// Sends SecurityEventNotification.
    pub async fn security_event(
        &self,
        kind: &str,
        tech_info: Option<&str>,
    ) -> Result<Value, super::SimError> {
        let mut p = json!({"type": kind, "timestamp": now_timestamp()});
        if let Some(t) = tech_info {
            p["techInfo"] = json!(t);
        }
        self.call("SecurityEventNotification", p).await
    }

    /// The security extension's CALLs; false for any other action.
    pub(super) async fn on_security_call(&self, id: &str, action: &str, payload: &Value) -> bool {
        match action {
            "ExtendedTriggerMessage" => {
                let requested = self
                    .answer_trigger(
                        id,
                        payload,
                        &[
                            "SignChargePointCertificate",
                            "Heartbeat",
                            "LogStatusNotification",
                            "FirmwareStatusNotification",
                        ],
                    )
                    .await;
                match requested.as_str() {
                    "SignChargePointCertificate" => {
                        if let Err(e) = self.sign_certificate().await {
                            log::warn!("simulator {}: SignCertificate failed: {e}", self.id());
                        }
                    }
                    "Heartbeat" => {
                        let _ = self.call("Heartbeat", json!({})).await;
                    }
                    "LogStatusNotification" => self.report_idle("LogStatusNotification").await,
                    "FirmwareStatusNotification" => {
                        self.report_idle("SignedFirmwareStatusNotification").await;
                    }
                    _ => {}
                }
            }
            "CertificateSigned" => {
                let chain = payload["certificateChain"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let accepted = {
                    let mut shared = lock(&self.shared);
                    let key = shared.security.pending_key.clone();
                    let matches = key.as_deref().is_some_and(|k| {
                        rcgen::KeyPair::from_pem(k).ok().is_some_and(|k| {
                            leaf_public_key(&chain).as_deref() == Some(k.public_key_raw())
                        })
                    });
                    if matches && let Some(k) = key {
                        shared.security.pending_key = None;
                        shared.security.certificate = Some((chain, k));
                    }
                    matches
                };
                let status = if accepted { "Accepted" } else { "Rejected" };
                self.reply(id, json!({ "status": status })).await;
            }
            "InstallCertificate" => {
                let kind = payload["certificateType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let pem = payload["certificate"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let status = match hash_data(&pem, None) {
                    Ok(h) => {
                        let mut shared = lock(&self.shared);
                        shared.security.installed.retain(|(_, _, x)| *x != h);
                        shared.security.installed.push((kind, pem, h));
                        "Accepted"
                    }
                    Err(_) => "Rejected",
                };
                self.reply(id, json!({ "status": status })).await;
            }
            "GetInstalledCertificateIds" => {
                let kind = payload["certificateType"].as_str().unwrap_or_default();
                let hashes: Vec<Value> = lock(&self.shared)
                    .security
                    .installed
                    .iter()
                    .filter(|(t, _, _)| t == kind)
                    .map(|(_, _, h)| {
                        json!({"hashAlgorithm": "SHA256", "issuerNameHash": h.issuer_name_hash,
                            "issuerKeyHash": h.issuer_key_hash, "serialNumber": h.serial_number})
                    })
                    .collect();
                let answer = if hashes.is_empty() {
                    json!({"status": "NotFound"})
                } else {
                    json!({"status": "Accepted", "certificateHashData": hashes})
                };
                self.reply(id, answer).await;
            }
            "DeleteCertificate" => {
                let h = &payload["certificateHashData"];
                let removed = {
                    let mut shared = lock(&self.shared);
                    let before = shared.security.installed.len();
                    shared.security.installed.retain(|(_, _, x)| {
                        !(h["hashAlgorithm"] == "SHA256"
                            && h["issuerNameHash"] == x.issuer_name_hash.as_str()
                            && h["issuerKeyHash"] == x.issuer_key_hash.as_str()
                            && h["serialNumber"] == x.serial_number.as_str())
                    });
                    before != shared.security.installed.len()
                };
                let status = if removed { "Accepted" } else { "NotFound" };
                self.reply(id, json!({ "status": status })).await;
            }
            "GetLog" => {
                let request_id = payload["requestId"].as_i64().unwrap_or(0);
                let kind = payload["logType"].as_str().unwrap_or("DiagnosticsLog");
                let file = format!("{}-{}.log", kind, self.id());
                self.reply(id, json!({"status": "Accepted", "filename": file}))
                    .await;
                let location = payload["log"]["remoteLocation"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let sim = self.clone();
                tokio::spawn(async move { sim.upload_log(&location, &file, request_id).await });
            }
            "SignedUpdateFirmware" => {
                let request_id = payload["requestId"].as_i64().unwrap_or(0);
                self.reply(id, json!({"status": "Accepted"})).await;
                let field = |f: &str| {
                    payload["firmware"][f]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                };
                let (location, certificate, signature) = (
                    field("location"),
                    field("signingCertificate"),
                    field("signature"),
                );
                let sim = self.clone();
                tokio::spawn(async move {
                    sim.install_signed_firmware(&location, request_id, &certificate, &signature)
                        .await
                });
            }
            _ => return false,
        }
        true
    }

    async fn signed_status(&self, status: &str, request_id: i64) {
        let _ = self
            .call(
                "SignedFirmwareStatusNotification",
                json!({"status": status, "requestId": request_id}),
            )
            .await;
    }

    /// GetLog: upload the log over HTTP (PUT `location` + file name) and report it.
    async fn upload_log(&self, location: &str, file: &str, request_id: i64) {
        let _ = self
            .call(
                "LogStatusNotification",
                json!({"status": "Uploading", "requestId": request_id}),
            )
            .await;
        let ok = super::upload(location, file, format!("security log of {}\n", self.id())).await;
        if ok {
            lock(&self.shared)
                .security
                .uploaded_logs
                .push((request_id, file.to_string()));
        }
        let status = if ok { "Uploaded" } else { "UploadFailure" };
        let _ = self
            .call(
                "LogStatusNotification",
                json!({"status": status, "requestId": request_id}),
            )
            .await;
    }

    /// SignedUpdateFirmware: download, verify the signature with the signing certificate's key
    /// (or find it invalid when scripted), install, reboot.
    async fn install_signed_firmware(
        &self,
        location: &str,
        request_id: i64,
        certificate: &str,
        signature: &str,
    ) {
        self.signed_status("Downloading", request_id).await;
        let image = match reqwest::get(location).await {
            Ok(r) if r.status().is_success() => r.bytes().await.ok(),
            _ => None,
        };
        let Some(image) = image else {
            self.signed_status("DownloadFailed", request_id).await;
            return;
        };
        lock(&self.shared).downloaded.push(image.to_vec());
        self.signed_status("Downloaded", request_id).await;
        let scripted = std::mem::take(&mut lock(&self.shared).security.invalid_signature);
        if scripted || !signature_verifies(certificate, signature, &image) {
            self.signed_status("InvalidSignature", request_id).await;
            let _ = self
                .security_event(
                    "InvalidFirmwareSignature",
                    Some("the firmware signature does not verify"),
                )
                .await;
            return;
        }
        self.signed_status("SignatureVerified", request_id).await;
        self.signed_status("Installing", request_id).await;
        let version = lock(&self.shared)
            .next_firmware
            .clone()
            .map(|f| f.0)
            .unwrap_or_else(|| "installed-signed".to_string());
        lock(&self.shared).firmware_version = Some(version);
        if self.reboot(false).await.is_ok() {
            self.signed_status("Installed", request_id).await;
        }
    }
}
