//! The node: builds the ObjectLayer from the drives (`bootstrap`) and serves the gRPC API
//! until a shutdown signal, letting in-flight requests finish.

pub mod bootstrap;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tessera_proto::auth::Credentials;
use tessera_proto::object::object_service_server::ObjectServiceServer;

use crate::drive::DriveError;
use crate::layout::{LayoutError, expand_ellipses};
use crate::rpc::ObjectRpc;
use crate::rpc::auth::Authenticator;

/// How long requests in flight may run on after a shutdown signal.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Why the node cannot start or serve.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The drive list cannot form a layout.
    #[error("drive layout: {0}")]
    Layout(String),
    /// A drive could not be opened or formatted.
    #[error("drive {drive}: {source}")]
    Drive {
        /// The drive.
        drive: String,
        /// What failed.
        source: DriveError,
    },
    /// The drives' formats disagree.
    #[error("{0}")]
    Format(String),
    /// The listening address is unusable.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("server failed: {0}")]
    Serve(String),
}

impl From<LayoutError> for ServerError {
    fn from(e: LayoutError) -> Self {
        ServerError::Layout(e.to_string())
    }
}

/// What a node needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen.
    pub address: SocketAddr,
    /// Drive paths (already expanded).
    pub drives: Vec<PathBuf>,
    /// Parity override.
    pub parity: Option<usize>,
    /// Root credentials.
    pub credentials: Credentials,
}

/// Expands `{a...b}` patterns in drive arguments.
pub fn expand_drives(args: &[String]) -> Result<Vec<PathBuf>, ServerError> {
    let mut out = Vec::new();
    for a in args {
        out.extend(expand_ellipses(a)?.into_iter().map(PathBuf::from));
    }
    Ok(out)
}

/// Runs a node until `shutdown` resolves.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let layer = Arc::new(bootstrap::open_object_layer(&config.drives, config.parity).await?);
    let listener = tokio::net::TcpListener::bind(config.address)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.address,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.address,
        source,
    })?;
    let auth = Authenticator::new(config.credentials.clone());
    let service = tonic::service::interceptor::InterceptedService::new(
        ObjectServiceServer::new(ObjectRpc::new(layer.clone()))
            .max_decoding_message_size(tessera_proto::client::MAX_MESSAGE_SIZE)
            .max_encoding_message_size(tessera_proto::client::MAX_MESSAGE_SIZE),
        move |req| auth.check(req),
    );
    let sets: Vec<String> = layer
        .sets()
        .map(|s| format!("{}+{}", s.data_shards(), s.parity_shards()))
        .collect();
    tracing::info!(address = %local, drives = config.drives.len(), sets = ?sets, "tessera node serving");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
    };
    let serve = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, signal);
    // After the signal, requests in flight get SHUTDOWN_GRACE to finish; idle client
    // connections must not keep the node up forever.
    let grace = async move {
        let _ = stopping.wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = serve => served.map_err(|e| ServerError::Serve(e.to_string()))?,
        () = grace => tracing::warn!("requests still open {SHUTDOWN_GRACE:?} after the shutdown signal; stopping"),
    }
    tracing::info!("tessera node stopped");
    Ok(())
}
