//! The simulator's side of `wss://`: a rustls client that trusts the given CA and, for security
//! profile 3, presents a client certificate.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

use crate::protocol::stream::MaybeTls;

/// The simulator's connection: plain TCP, or TLS as a client.
pub type SimStream = MaybeTls<tokio_rustls::client::TlsStream<TcpStream>>;

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A client configuration trusting `ca`, with a client certificate when both files are given.
pub fn client_config(
    ca: &Path,
    client_cert: Option<&Path>,
    client_key: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca)? {
        roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots);
    let config = match (client_cert, client_key) {
        (Some(cert), Some(key)) => {
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(certs(cert)?, key)
                .map_err(|e| e.to_string())?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Opens TCP (and TLS for `wss`) to the request's host.
pub async fn connect(
    uri: &tokio_tungstenite::tungstenite::http::Uri,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<SimStream, String> {
    let host = uri.host().ok_or("the URL has no host")?.to_string();
    let secure = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| e.to_string())?;
    // Nagle off, as on the server: an answer followed at once by the next CALL would otherwise wait
    // for a delayed ACK, ~40 ms on Linux.
    let _ = tcp.set_nodelay(true);
    if !secure {
        return Ok(SimStream::Plain(tcp));
    }
    let config =
        tls.ok_or("a wss:// URL needs --ca-cert (the CA that signed csms's certificate)")?;
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
        .map_err(|e| e.to_string())?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(SimStream::Tls(Box::new(stream)))
}
