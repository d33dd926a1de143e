//! The node: builds the ObjectLayer from the drives (`bootstrap`) and serves the gRPC API
//! and S3 on one port (`http`) until a shutdown signal, letting in-flight requests finish.

pub mod bootstrap;
mod http;

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
use crate::s3::S3Config;

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
    /// Base domain for virtual-host-style S3 requests.
    pub domain: Option<String>,
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
    let s3 = crate::s3::service(
        layer.clone(),
        &S3Config {
            credentials: config.credentials.clone(),
            domain: config.domain.clone(),
        },
    )
    .map_err(|e| ServerError::Layout(e.to_string()))?;
    let grpc = tonic::service::Routes::new(service);
    http::serve(listener, grpc, s3, shutdown, SHUTDOWN_GRACE).await;
    tracing::info!("tessera node stopped");
    Ok(())
}
