//! TLS on the client side of every connection Tessera makes (the CLI, the mount, a node
//! calling its peers), and the PEM files every side reads. rustls with the `ring` provider
//! only, chosen explicitly (never a process-wide default).
//!
//! A [`ClientTls`] trusts the system roots (rustls-native-certs: the OS store, or
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` when set) plus the CA certificates it is given; an
//! insecure one checks only the handshake's signatures, not who signed the certificate
//! (self-signed test setups). ALPN offers `h2`: gRPC is HTTP/2.
//!
//! [`TlsConnector`] is the tonic connector of an `https://` endpoint: TCP (no Nagle),
//! then the handshake against the endpoint's host name or IP address.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tonic::codegen::Service;
use tonic::codegen::http::Uri;

/// Why TLS cannot be set up: each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file holds no PEM certificate, or one that does not parse.
    #[error("{path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file holds no PEM private key, or one that does not parse.
    #[error("{path}: {reason}")]
    PrivateKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The certificate and the key are not a pair, or rustls refuses them.
    #[error("{cert} and {key}: {reason}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The TLS configuration cannot be built.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The one crypto provider: ring, with the AES-128-GCM suites first (a node prefers its
/// own order): as safe as AES-256 for TLS and a fifth cheaper per byte, which shows on a
/// node whose cores also code and check the data.
// rustls 0.23.48 deprecates it for lacking post-quantum key exchange (which only its
// aws-lc provider has); the aws-lc build needs cmake and minutes of C on 2 cores.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    // A stable sort keeps each protocol version's suites in rustls's order otherwise.
    provider
        .cipher_suites
        .sort_by_key(|suite| !format!("{:?}", suite.suite()).contains("AES_128_GCM"));
    Arc::new(provider)
}

/// The certificates of the PEM file `path`, in file order (a chain: the leaf first).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| TlsError::Certificate {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
        ));
    }
    Ok(certs)
}

/// The private key of the PEM file `path` (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::PrivateKey {
        path: path.to_path_buf(),
        reason: format!("no usable PEM private key: {e}"),
    })
}

/// Client-side TLS settings; cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Trusts the system roots plus the certificates of each PEM file in `ca_files`.
    pub fn verified(ca_files: &[PathBuf]) -> Result<Self, TlsError> {
        let mut extra = Vec::new();
        for path in ca_files {
            for cert in read_certificates(path)? {
                // Checked here, so that the error names the file.
                RootCertStore::empty()
                    .add(cert.clone())
                    .map_err(|e| TlsError::Certificate {
                        path: path.clone(),
                        reason: format!("not a usable CA certificate: {e}"),
                    })?;
                extra.push(cert);
            }
        }
        Self::with_roots(extra)
    }

    /// Trusts the system roots plus `extra`.
    pub fn with_roots(extra: Vec<CertificateDer<'static>>) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        // A system without a store (or one unreadable) leaves the given CAs alone.
        let system = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(system.certs);
        for cert in extra {
            roots
                .add(cert)
                .map_err(|e| TlsError::Config(format!("a CA certificate is unusable: {e}")))?;
        }
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self::finish(config))
    }

    /// Accepts any certificate: the connection is encrypted but the server unverified.
    pub fn insecure() -> Self {
        let provider = provider();
        let verifier = Arc::new(AnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        });
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Self::finish(config)
    }

    fn finish(mut config: ClientConfig) -> Self {
        config.alpn_protocols = vec![b"h2".to_vec()];
        Self {
            config: Arc::new(config),
        }
    }

    /// The rustls configuration (ALPN `h2`).
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// The rustls configuration without ALPN, for HTTP clients that offer their own
    /// protocols (hyper-rustls insists on it).
    pub fn config_without_alpn(&self) -> ClientConfig {
        let mut config = (*self.config).clone();
        config.alpn_protocols.clear();
        config
    }

    /// The connector of `https://` endpoints.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector {
            tls: tokio_rustls::TlsConnector::from(self.config.clone()),
        }
    }
}

/// The verifier of [`ClientTls::insecure`]: any certificate, but valid handshake signatures.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Connects to an `https://` endpoint: TCP, then TLS against the URI's host.
#[derive(Clone)]
pub struct TlsConnector {
    tls: tokio_rustls::TlsConnector,
}

/// The port of an `https://` URI that names none.
const HTTPS_PORT: u16 = 443;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Service<Uri> for TlsConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            let host = uri.host().ok_or("an endpoint needs a host")?;
            // An IPv6 literal comes bracketed.
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(HTTPS_PORT);
            let name = ServerName::try_from(host.clone())
                .map_err(|e| format!("{host} is no TLS server name: {e}"))?;
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let stream = tls.connect(name, tcp).await?;
            Ok(TokioIo::new(stream))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_offers_aes_128_gcm_first_for_each_protocol_version() {
        let suites: Vec<String> = provider()
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert_eq!(suites[0], "TLS13_AES_128_GCM_SHA256");
        let tls12 = suites.iter().position(|s| !s.starts_with("TLS13")).unwrap();
        assert!(suites[tls12].contains("AES_128_GCM"), "{suites:?}");
        assert_eq!(suites.len(), 9);
    }
}
