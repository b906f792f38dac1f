//! The webhook's TLS configuration: rustls with the ring provider, HTTP/1.1
//! and HTTP/2 (ALPN). Serving (timeouts, connection limits, graceful
//! shutdown) is `caisson_http::serve`.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::AdmissionError;

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, AdmissionError> {
    fs_err::read(path).map_err(|source| AdmissionError::ReadPem {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// A server configuration from PEM files: the certificate chain (leaf first) and
/// its private key (PKCS#8, PKCS#1 or SEC1).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, AdmissionError> {
    server_config_from_pem(
        &read("certificate", cert)?,
        &cert.display().to_string(),
        &read("private key", key)?,
        &key.display().to_string(),
    )
}

/// As [`server_config`], from PEM bytes; `*_origin` name them in errors.
pub fn server_config_from_pem(
    cert_pem: &[u8],
    cert_origin: &str,
    key_pem: &[u8],
    key_origin: &str,
) -> Result<Arc<ServerConfig>, AdmissionError> {
    let pem_err = |what: &'static str, origin: &str, message: String| AdmissionError::Pem {
        what,
        origin: origin.to_string(),
        message,
    };
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err("certificate", cert_origin, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_err(
            "certificate",
            cert_origin,
            "no CERTIFICATE block".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| pem_err("private key", key_origin, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(AdmissionError::Tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(AdmissionError::Tls)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
