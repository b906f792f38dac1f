//! Serving a router over TLS: rustls with the ring provider, HTTP/1.1 and HTTP/2
//! (ALPN), a handshake timeout per connection.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::AdmissionError;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Serves `app` over TLS on `listener` until `shutdown` resolves. Each connection
/// runs on its own task; a failed handshake only closes that connection.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let service = TowerToHyperService::new(app);
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "serving connection");
            }
        });
    }
}
