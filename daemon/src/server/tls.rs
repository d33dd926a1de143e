//! TLS on the node's one port, from a certs directory (MinIO's convention):
//! `public.crt` (the certificate, then its chain), `private.key` (PEM; RSA, ECDSA or
//! Ed25519) and `CAs/` (more CA certificates to trust, one or more per file).
//!
//! Owns: loading and checking those files ([`ServerTls::load`]: a certificate that does not
//! parse or does not match its key is an error naming the file, and nothing is served),
//! the certificate in use ([`ServerTls::reload`] swaps it for new connections only; a
//! connection keeps the certificate it was opened with), the acceptor (ALPN `h2` and
//! `http/1.1`), the client settings a node calls its peers with (system roots plus `CAs/`),
//! what a port says to a client speaking the wrong protocol ([`refuse_plain`]), the
//! cluster rule (all TLS or all plain: [`check_cluster`]) and the SIGHUP reloader.
//!
//! Invariant: nothing is logged of a key's content.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tessera_proto::tls::{ClientTls, TlsError, provider, read_certificates, read_private_key};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ServerError;
use super::topology::Topology;
use crate::sync::BlockingRwLock;

/// The certificate file of a certs directory.
pub const PUBLIC_CRT: &str = "public.crt";
/// The key file of a certs directory.
pub const PRIVATE_KEY: &str = "private.key";
/// The directory of extra trusted CAs in a certs directory.
pub const CAS_DIR: &str = "CAs";

/// The first byte of a TLS handshake record: what a TLS client sends first.
pub const TLS_HANDSHAKE: u8 = 0x16;

/// The certificate new connections get; swapped by a reload.
#[derive(Debug)]
struct CurrentCert {
    key: BlockingRwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A poisoned lock still holds a whole certificate: writers only swap an Arc.
        let key = self
            .key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(key.clone())
    }
}

/// A node's TLS: its certificate (reloadable), acceptor and peer-client settings.
pub struct ServerTls {
    dir: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Arc<CurrentCert>,
    acceptor: tokio_rustls::TlsAcceptor,
    peers: ClientTls,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The certificate and key of `dir`, checked to be a pair.
fn load_pair(dir: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let (cert, key) = (dir.join(PUBLIC_CRT), dir.join(PRIVATE_KEY));
    let chain = read_certificates(&cert)?;
    let der = read_private_key(&key)?;
    let pair = |reason: String| TlsError::Pair {
        cert: cert.clone(),
        key: key.clone(),
        reason,
    };
    let certified = CertifiedKey::from_der(chain, der, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => pair("the certificate is not for this key".into()),
        e => pair(e.to_string()),
    })?;
    // `from_der` lets a key whose public half it cannot tell pass; the certificate must
    // still parse.
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => return Err(pair(e.to_string())),
    }
    Ok(certified)
}

/// Every certificate of the files in `dir/CAs` (none when it does not exist).
fn load_cas(dir: &Path) -> Result<Vec<PathBuf>, TlsError> {
    let cas = dir.join(CAS_DIR);
    let entries = match std::fs::read_dir(&cas) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(TlsError::Read { path: cas, source }),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| TlsError::Read {
            path: cas.clone(),
            source,
        })?;
        let path = entry.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl ServerTls {
    /// Loads `dir`: its certificate and key, and `CAs/`.
    pub fn load(dir: &Path) -> Result<Self, TlsError> {
        let provider = provider();
        let key = load_pair(dir, &provider)?;
        let peers = ClientTls::verified(&load_cas(dir)?)?;
        let current = Arc::new(CurrentCert {
            key: BlockingRwLock::new(Arc::new(key)),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // The provider's suite order (AES-128-GCM first), whatever the client prefers.
        config.ignore_client_order = true;
        Ok(Self {
            dir: dir.to_path_buf(),
            provider,
            current,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            peers,
        })
    }

    /// The certs directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the certificate and key again; on success new connections get them, on an
    /// error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = load_pair(&self.dir, &self.provider)?;
        let mut current =
            (self.current.key.write()).unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Arc::new(key);
        Ok(())
    }

    /// The acceptor of the node's port.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.acceptor.clone()
    }

    /// What the node calls its peers with: the system roots plus `CAs/`.
    pub fn peers(&self) -> &ClientTls {
        &self.peers
    }
}

/// What a TLS port answers a client that speaks plain HTTP.
const PLAIN_REFUSAL: &str = "this port speaks TLS: use https://\n";

/// Answers a plain-HTTP client on a TLS port with a short 400 and closes. What the client
/// sent so far is read first (up to a bound, briefly), so that closing does not reset the
/// connection before the answer arrives.
pub async fn refuse_plain(mut socket: TcpStream) {
    let mut sink = [0u8; 8 << 10];
    let _ = tokio::time::timeout(Duration::from_millis(100), socket.read(&mut sink)).await;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{PLAIN_REFUSAL}",
        PLAIN_REFUSAL.len()
    );
    if socket.write_all(answer.as_bytes()).await.is_ok() {
        let _ = socket.shutdown().await;
        // Wait (briefly) for the client to close after reading the answer.
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.read(&mut sink)).await;
    }
}

/// Whether `socket`'s first byte opens a TLS handshake (`socket` has data: see
/// `admission::first_bytes`).
pub async fn starts_tls(socket: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(socket.peek(&mut first).await, Ok(1) if first[0] == TLS_HANDSHAKE)
}

/// A cluster is all TLS or all plain: `https://` endpoints need certificates, and a node
/// with certificates needs `https://` endpoints (its peers would speak plain HTTP to it).
pub(super) fn check_cluster(
    topology: &Topology,
    certs_dir: Option<&Path>,
) -> Result<(), ServerError> {
    if !topology.is_distributed() {
        return Ok(());
    }
    match (certs_dir, topology.tls) {
        (None, true) => Err(ServerError::Tls(
            "the endpoints are https:// but this node has no certificates: give --certs-dir \
             (public.crt, private.key), or use http:// endpoints on every node"
                .into(),
        )),
        (Some(dir), false) => Err(ServerError::Tls(format!(
            "this node has certificates ({}) but the endpoints are http://: a cluster with \
             certificates names its nodes with https:// endpoints, on every node",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

/// Logs loudly that a node off loopback serves in clear text.
pub(super) fn warn_plain(address: SocketAddr) {
    if !address.ip().is_loopback() {
        tracing::warn!(
            "\n\n    WARNING: serving plain HTTP on {address}: requests, data and signatures \
             travel in clear text.\n    Give --certs-dir (public.crt, private.key) to serve \
             TLS.\n"
        );
    }
}

/// Reloads the certificate on every SIGHUP; connections already open keep theirs. Without
/// certificates a SIGHUP is logged and ignored (the node does not stop, as the signal's
/// default would have it).
pub(super) fn spawn_reloader(tls: Option<Arc<ServerTls>>) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered before this returns, so a SIGHUP right after never meets the default.
    let hup = signal(SignalKind::hangup());
    tokio::spawn(async move {
        let mut hup = match hup {
            Ok(hup) => hup,
            Err(e) => {
                tracing::warn!(error = %e, "cannot handle SIGHUP: certificates will not reload");
                return;
            }
        };
        while hup.recv().await.is_some() {
            let Some(tls) = &tls else {
                tracing::info!("SIGHUP: no certificates to reload (plain HTTP)");
                continue;
            };
            match tls.reload() {
                Ok(()) => tracing::info!(dir = %tls.dir().display(), "certificates reloaded"),
                Err(e) => tracing::error!(
                    error = %e,
                    "certificate reload failed; new connections keep the certificate in use"
                ),
            }
        }
    })
}
