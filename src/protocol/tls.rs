//! TLS for the OCPP endpoint (security profiles 2 and 3), with rustls.
//!
//! The OCPP 1.6 security whitepaper asks for TLS 1.2 or later with these suites:
//! `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`, `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384` and, for
//! RSA certificates, `TLS_RSA_WITH_AES_128_GCM_SHA256` / `TLS_RSA_WITH_AES_256_GCM_SHA384`. rustls has
//! no static-RSA key exchange (it gives no forward secrecy), so the RSA pair is offered in its ECDHE
//! form (`TLS_ECDHE_RSA_WITH_AES_{128,256}_GCM_SHA384`); TLS 1.3 offers AES-GCM only. Nothing else
//! is enabled, and TLS 1.0/1.1 do not exist in rustls.
//!
//! The configuration is rebuilt from its files on SIGHUP and when a file changes; a listener takes
//! the current configuration for each new connection, so connected chargers are never dropped.
//!
//! A client certificate that carries the mark of csms's own charger CA (`CSMS_CA_DIR`, see
//! [`crate::infra::ca::CaMark`]) is one csms must have recorded issuing to the charger that presents it:
//! [`ClientCert::from_csms`] says so to the handshake.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::cipher_suite;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::infra::ca::CaMark;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{0}: {1}")]
    File(PathBuf, String),
    #[error("{0}")]
    Config(String),
}

/// Where the listener's key material lives.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Client certificates are verified against these CAs (security profile 3).
    pub client_ca: Option<PathBuf>,
    /// csms's charger CA directory (`CSMS_CA_DIR`): its certificate marks the client certificates
    /// csms issued. Read, never created, here.
    pub charger_ca_dir: Option<PathBuf>,
}

impl TlsFiles {
    fn paths(&self) -> Vec<&Path> {
        let mut v = vec![self.cert.as_path(), self.key.as_path()];
        if let Some(ca) = &self.client_ca {
            v.push(ca.as_path());
        }
        v
    }

    /// The mark of csms's charger CA; when its certificate cannot be read, the name csms gives its
    /// CAs alone (logged).
    fn charger_ca_mark(&self) -> CaMark {
        let Some(dir) = &self.charger_ca_dir else {
            return CaMark::default();
        };
        CaMark::read(dir).unwrap_or_else(|e| {
            log::error!(
                "OCPP TLS: csms's charger CA certificate unreadable ({e}); client certificates \
                 under the name csms gives its CAs are still checked against what csms issued"
            );
            CaMark::default()
        })
    }
}

/// The TLS configuration in use, replaced as a whole on reload.
pub struct Tls {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
    charger_ca: RwLock<Arc<CaMark>>,
    stamps: Mutex<Vec<Option<SystemTime>>>,
}

/// The suites of the whitepaper that rustls has (see the module documentation).
fn provider() -> CryptoProvider {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites = vec![
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ];
    p
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |e: String| TlsError::File(path.to_path_buf(), e);
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

/// The key must be strong enough for the whitepaper: RSA ≥ 2048 bits or EC ≥ 224 bits.
fn check_key_strength(path: &Path, leaf: &CertificateDer<'_>) -> Result<(), TlsError> {
    use x509_parser::public_key::PublicKey;
    let err = |e: String| TlsError::File(path.to_path_buf(), e);
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf).map_err(|e| err(format!("not X.509: {e}")))?;
    let key = cert
        .public_key()
        .parsed()
        .map_err(|e| err(format!("unreadable public key: {e}")))?;
    match key {
        PublicKey::RSA(rsa) if rsa.key_size() >= 2048 => Ok(()),
        PublicKey::RSA(rsa) => Err(err(format!(
            "an RSA key of {} bits is too weak (at least 2048)",
            rsa.key_size()
        ))),
        PublicKey::EC(ec) if ec.key_size() >= 224 => Ok(()),
        PublicKey::EC(ec) => Err(err(format!(
            "an EC key of {} bits is too weak (at least 224)",
            ec.key_size()
        ))),
        _ => Err(err(
            "the certificate's key must be RSA (>= 2048 bits) or EC (>= 224 bits)".into(),
        )),
    }
}

fn build(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(provider());
    let certs = read_certs(&files.cert)?;
    check_key_strength(&files.cert, &certs[0])?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| TlsError::File(files.key.clone(), e.to_string()))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in read_certs(path)? {
                roots
                    .add(ca)
                    .map_err(|e| TlsError::File(path.clone(), e.to_string()))?;
            }
            // A client certificate is optional at the TLS layer (profile 2 chargers share the
            // listener); one that is presented must chain to these CAs. Profile 3 is enforced at
            // the WebSocket handshake, where the charger's identity is known.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::File(path.clone(), e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(format!("certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn stamps(files: &TlsFiles) -> Vec<Option<SystemTime>> {
    let ca_cert = files
        .charger_ca_dir
        .as_ref()
        .map(|d| d.join(crate::infra::ca::CERT_FILE));
    files
        .paths()
        .into_iter()
        .chain(ca_cert.as_deref())
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

impl Tls {
    /// Loads the files; an error here stops start-up with the reason.
    pub fn load(files: TlsFiles) -> Result<Arc<Tls>, TlsError> {
        let config = build(&files)?;
        Ok(Arc::new(Tls {
            stamps: Mutex::new(stamps(&files)),
            current: RwLock::new(Arc::new(config)),
            charger_ca: RwLock::new(Arc::new(files.charger_ca_mark())),
            files,
        }))
    }

    pub fn client_auth(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        let config = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        TlsAcceptor::from(config)
    }

    /// Rebuilds the configuration from the files. On failure the one in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = build(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        *self.charger_ca.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(self.files.charger_ca_mark());
        *self.stamps.lock().unwrap_or_else(|e| e.into_inner()) = stamps(&self.files);
        metrics::counter!("csms_ocpp_tls_reloads_total").increment(1);
        log::info!("OCPP TLS: certificates reloaded");
        Ok(())
    }

    fn changed(&self) -> bool {
        *self.stamps.lock().unwrap_or_else(|e| e.into_inner()) != stamps(&self.files)
    }

    /// Reloads on SIGHUP and when a file's modification time changes.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            #[cfg(unix)]
            let by_signal = match hup.as_mut() {
                Some(h) => tokio::select! {
                    _ = h.recv() => true,
                    _ = tick.tick() => false,
                },
                None => {
                    tick.tick().await;
                    false
                }
            };
            #[cfg(not(unix))]
            let by_signal = {
                tick.tick().await;
                false
            };
            if !by_signal && !self.changed() {
                continue;
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.reload()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    // Tried again when a file changes again (a file caught mid-write) or on SIGHUP.
                    log::error!("OCPP TLS: reload failed, the previous certificates stay: {e}");
                    *self.stamps.lock().unwrap_or_else(|e| e.into_inner()) = stamps(&self.files);
                }
                Err(e) => log::error!("OCPP TLS: reload task failed: {e}"),
            }
        }
    }

    /// What the handshake needs of a client certificate that chained to the client CAs.
    pub fn client_cert(&self, der: &CertificateDer<'_>) -> ClientCert {
        let cert = match x509_parser::parse_x509_certificate(der) {
            Ok((_, cert)) => cert,
            Err(e) => {
                return ClientCert {
                    cn: Err(format!("the certificate is not X.509: {e}")),
                    from_csms: None,
                };
            }
        };
        let mark = self
            .charger_ca
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        ClientCert {
            cn: crate::infra::ca::single_common_name(cert.subject()),
            from_csms: mark.issued(&cert).then(|| FromCsms {
                serial: crate::infra::ca::hex_serial(cert.raw_serial()),
                der: der.to_vec(),
            }),
        }
    }
}

/// A client certificate that chained to the configured client CAs, as the handshake sees it.
#[derive(Clone, Debug)]
pub struct ClientCert {
    /// Its subject's one common name, or why it names no single charger (none, more than one, not
    /// a string; see [`crate::infra::ca::single_common_name`]).
    pub cn: Result<String, String>,
    /// Set when it carries the mark of csms's charger CA: csms must have recorded issuing this very
    /// certificate to the charger that presents it.
    pub from_csms: Option<FromCsms>,
}

pub use crate::infra::ca::FromCsms;
