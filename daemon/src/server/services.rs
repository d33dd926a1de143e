//! The services a node serves on its port: the internode ones a cluster node offers its
//! peers (behind the cluster key), and the client-facing ones (the gRPC object and admin
//! services behind every key of the identity store, and S3), built once the object layer
//! is open; and the web console's own listener (`--console-address`).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tessera_proto::admin::admin_service_server::AdminServiceServer;
use tessera_proto::client::MAX_MESSAGE_SIZE;
use tessera_proto::internode::identity_service_server::IdentityServiceServer;
use tessera_proto::internode::lock_service_server::LockServiceServer;
use tessera_proto::internode::storage_service_server::StorageServiceServer;
use tessera_proto::object::object_service_server::ObjectServiceServer;

use super::tls::ServerTls;
use super::{Node, SHUTDOWN_GRACE, ServerConfig, ServerError, admission, http};
use crate::auth::Authenticator;
use crate::iam::Iam;
use crate::internode::identity::IdentityRpc;
use crate::internode::locks::LockRpc;
use crate::internode::storage::StorageRpc;
use crate::metrics::Metrics;
use crate::object::ObjectLayer;
use crate::rpc::ObjectRpc;
use crate::rpc::admin::AdminRpc;
use crate::s3::S3Config;
use crate::traffic::Traffic;

/// The internode services of a cluster node.
pub(super) fn internode_routes(
    node: &Node,
    config: &ServerConfig,
    traffic: Arc<Traffic>,
    iam: Arc<OnceLock<Arc<Iam>>>,
) -> tonic::service::Routes {
    let hash = node.topology.hash(config.parity);
    let storage = StorageRpc::new(node.local.clone(), node.topology.me.clone(), hash, traffic);
    let auth = crate::auth::internode(&config.credentials);
    tonic::service::Routes::new(
        auth.guard(
            StorageServiceServer::new(storage)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        ),
    )
    .add_service(auth.guard(LockServiceServer::new(LockRpc::new(
        node.lock_table.clone(),
    ))))
    .add_service(auth.guard(IdentityServiceServer::new(IdentityRpc::new(iam))))
}

/// The client-facing services over `layer`.
pub(super) fn front(
    layer: Arc<ObjectLayer>,
    iam: Arc<Iam>,
    config: &ServerConfig,
    traffic: Arc<Traffic>,
    metrics: Arc<crate::metrics::Metrics>,
) -> Result<http::Front, ServerError> {
    let auth = Authenticator::clients(iam.clone());
    let grpc = tonic::service::Routes::new(
        auth.guard(
            ObjectServiceServer::new(ObjectRpc::new(layer.clone(), iam.clone(), traffic))
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        ),
    )
    .add_service(auth.guard(AdminServiceServer::new(AdminRpc::new(
        iam.clone(),
        layer.clone(),
    ))));
    let cors = crate::s3::Cors::new(iam.clone(), config.domain.as_deref());
    let iam_for_scrapes = iam.clone();
    let s3 = crate::s3::service(
        layer.clone(),
        iam,
        &S3Config {
            domain: config.domain.clone(),
            region: config.region.clone(),
        },
    )
    .map_err(|e| ServerError::Layout(e.to_string()))?;
    let console = config.console.then(|| {
        Arc::new(crate::console::Console::new(
            layer.clone(),
            iam_for_scrapes.clone(),
            config.region.clone(),
            metrics,
        ))
    });
    Ok(http::Front {
        console,
        layer,
        iam: iam_for_scrapes,
        grpc,
        s3,
        cors,
    })
}

/// Serves the web console's routes on `address` (`--console-address`) until told to stop.
pub(super) async fn console_listener(
    address: SocketAddr,
    config: &ServerConfig,
    ready: &Arc<OnceLock<http::Front>>,
    metrics: &Arc<Metrics>,
    tls: &Option<Arc<ServerTls>>,
) -> Result<
    (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ),
    ServerError,
> {
    let listener =
        (tokio::net::TcpListener::bind(address).await).map_err(|source| ServerError::Bind {
            addr: address,
            source,
        })?;
    tracing::info!(%address, "web console serving");
    let router = http::Router::new(None, ready.clone(), metrics.clone(), config.metrics_public);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(
        listener,
        router,
        admission::connection_limit(config.max_connections),
        tls.as_ref().map(|t| t.acceptor()),
        async {
            let _ = stopped.await;
        },
        SHUTDOWN_GRACE,
    ));
    Ok((stop, server))
}
