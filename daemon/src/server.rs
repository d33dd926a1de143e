//! The node: reads the topology from the drive arguments, serves the internode services at
//! once (peers need them to start), builds the ObjectLayer (`bootstrap`, and `cluster` for
//! the agreement of several nodes), then serves the gRPC API and S3 (built in `services`)
//! on the same port (`http`) until a shutdown signal, letting in-flight requests finish.
//! This node's drives that cannot be used at start run offline and are probed until they
//! are back (`probe`).
//! With a certs directory the port speaks TLS, peers are called over TLS, and SIGHUP
//! reloads the certificate (`tls`).

mod admission;
mod banner;
pub mod bootstrap;
mod cluster;
mod health;
mod http;
mod probe;
mod scrape;
mod services;
pub mod tls;
pub mod topology;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tessera_proto::auth::{Credentials, cluster_credentials};
use tessera_proto::tls::{ClientTls, TlsError};

use crate::drive::local::purge_trash_every;
use crate::drive::remote::RemoteDrive;
use crate::drive::slot::LocalSlot;
use crate::drive::{Drive, DriveError, TRASH_GRACE};
use crate::erasure::{HealerConfig, ScannerConfig};
use crate::iam::Iam;
use crate::layout::LayoutError;
use crate::lock::distributed::{DistributedLocks, Voter};
use crate::lock::lease::LeaseTable;
use crate::lock::{LocalLocks, NamespaceLock};
use crate::metrics::Metrics;
use crate::object::ObjectLayer;
use crate::peer::PROBE_TIMEOUT;
use crate::peer::Peer;
use bootstrap::Formatted;
use tessera_proto::internode::IdentityChanged;
use tls::ServerTls;
use topology::Topology;

/// How long requests in flight may run on after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long a lock request waits before the operation fails as busy.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a node purges its drives' trash of what is older than `TRASH_GRACE`.
const TRASH_PURGE_EVERY: Duration = Duration::from_secs(60);
/// The lease of a distributed lock: a dead holder blocks its names at most this long.
pub const LOCK_LEASE: Duration = Duration::from_secs(15);
/// How long a node of a cluster waits for its peers at start.
const START_TIMEOUT: Duration = Duration::from_secs(300);

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
    /// Too few drives of a set can be used to start.
    #[error(
        "set {set} of pool {pool}: only {usable} of its {size} drives can be used and {quorum} \
         are needed to write ({down}): refusing to start"
    )]
    Quorum {
        /// The pool (from 1).
        pool: usize,
        /// The set in the pool (from 1).
        set: usize,
        /// Drives of the set that can be used.
        usable: usize,
        /// Drives in the set.
        size: usize,
        /// The set's write quorum.
        quorum: usize,
        /// The drives that cannot be used, and why.
        down: String,
    },
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
    /// The certs directory is unusable (names the file at fault).
    #[error("certificates: {0}")]
    Certificates(#[from] TlsError),
    /// The endpoints' scheme and this node's certificates disagree.
    #[error("{0}")]
    Tls(String),
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
    /// Drive arguments: paths, or `http://host:port/path` endpoints of a cluster, with
    /// `{a...b}` ranges (see `topology`).
    pub drives: Vec<String>,
    /// Parity override.
    pub parity: Option<usize>,
    /// Root credentials.
    pub credentials: Credentials,
    /// Base domain for virtual-host-style S3 requests.
    pub domain: Option<String>,
    /// The S3 region the node reports (`us-east-1` by default).
    pub region: String,
    /// Testing only: a pause between taking a commit lock and committing (see
    /// `SetConfig::commit_pause`).
    pub commit_pause: Option<Duration>,
    /// How often the background scanner starts a round over every bucket; `None`: never.
    pub scan_interval: Option<Duration>,
    /// The most connections open at once; `None`: half the open-file limit.
    pub max_connections: Option<usize>,
    /// The certs directory (`public.crt`, `private.key`, `CAs/`); `None`: plain HTTP.
    pub certs_dir: Option<PathBuf>,
    /// How often the identity record is reread (the backstop of peers' change notices);
    /// `None`: [`crate::iam::RELOAD_EVERY`]. Tests stretch it to check the notices alone.
    pub identity_reload: Option<Duration>,
    /// Whether anyone may scrape `/metrics` (else a bearer token of a key allowed
    /// `admin:Prometheus`).
    pub metrics_public: bool,
    /// Whether the web console is served at `/console/` (`--console on`).
    pub console: bool,
    /// Where the console is served instead of the node's port (`--console-address`):
    /// a listener with the same routes (S3 for the console's own calls) but no internode
    /// services.
    pub console_address: Option<SocketAddr>,
    /// A lifecycle day (a day but in tests); lifecycle rules are applied every
    /// [`LIFECYCLE_ROUNDS_PER_DAY`]th of one.
    pub lifecycle_day: Duration,
}

/// How many lifecycle rounds run per lifecycle day.
pub const LIFECYCLE_ROUNDS_PER_DAY: u32 = 24;

/// What this node runs with before its object layer exists.
struct Node {
    topology: Topology,
    /// Every drive of the deployment, in set order.
    drives: Vec<Arc<dyn Drive>>,
    /// This node's drives, by path.
    local: HashMap<String, Arc<dyn Drive>>,
    /// This node's drives, with their places in `drives`.
    slots: Vec<(usize, Arc<LocalSlot>)>,
    peers: HashMap<String, Arc<Peer>>,
    lock_table: Arc<LeaseTable>,
}

fn open_node(
    config: &ServerConfig,
    tls: Option<&ClientTls>,
    metrics: &Metrics,
) -> Result<Node, ServerError> {
    let topology = topology::parse(&config.drives, config.address)?;
    tls::check_cluster(&topology, config.certs_dir.as_deref())?;
    let cluster = cluster_credentials(&config.credentials);
    let mut peers = HashMap::new();
    for address in topology.peers() {
        let peer =
            Peer::new(address, &topology.me, cluster.clone(), tls).map_err(ServerError::Layout)?;
        peer.report_to(metrics.peer(address));
        peers.insert(address.clone(), peer);
    }
    let mut drives: Vec<Arc<dyn Drive>> = Vec::new();
    let mut local = HashMap::new();
    let mut slots = Vec::new();
    for (place, spec) in topology.drives().enumerate() {
        let drive: Arc<dyn Drive> = if spec.local {
            // A drive that does not open starts offline (see `bootstrap` and `probe`).
            let slot = Arc::new(LocalSlot::open(&spec.path));
            slots.push((place, slot.clone()));
            local.insert(spec.path.clone(), slot.clone() as Arc<dyn Drive>);
            slot
        } else {
            let peer = peers
                .get(&spec.node)
                .ok_or_else(|| ServerError::Layout(format!("no peer for {}", spec.name())))?;
            Arc::new(RemoteDrive::new(peer.clone(), &spec.path))
        };
        drives.push(drive);
    }
    Ok(Node {
        topology,
        drives,
        local,
        slots,
        peers,
        lock_table: Arc::new(LeaseTable::new()),
    })
}

/// Builds the object layer: formats or checks the drives (waiting for the peers in a
/// cluster) and picks local or distributed locks. Takes this node's drives that cannot be
/// used offline and returns them, to probe.
async fn open_layer(
    node: &Node,
    config: &ServerConfig,
    metrics: &Arc<Metrics>,
) -> Result<Opened, ServerError> {
    let parity = config.parity;
    let formatted = if node.topology.is_distributed() {
        cluster::agree_format(
            &node.topology,
            &node.drives,
            &node.peers,
            parity,
            START_TIMEOUT,
        )
        .await?
    } else {
        bootstrap::single_node_format(&node.drives, &node.topology, parity).await?
    };
    let locks: Arc<dyn NamespaceLock> = if node.topology.is_distributed() {
        let mut voters = vec![Voter::Local(node.lock_table.clone())];
        voters.extend(node.peers.values().cloned().map(Voter::Remote));
        Arc::new(
            DistributedLocks::new(voters, LOCK_LEASE, LOCK_TIMEOUT).reporting_to(&metrics.locks),
        )
    } else {
        Arc::new(LocalLocks::new(LOCK_TIMEOUT).reporting_to(&metrics.locks))
    };
    let layer = bootstrap::build_layer(
        node.drives.clone(),
        &formatted.format,
        locks.clone(),
        config.commit_pause,
        metrics,
    )?;
    let standby = probe::mark_offline(&node.slots, &formatted.offline, &formatted.format);
    let layer = Arc::new(layer.with_lifecycle_day(config.lifecycle_day));
    let iam = Iam::open(
        layer.clone(),
        locks,
        config.credentials.clone(),
        Some(notify_peers(node)),
    )
    .await;
    Ok((layer, iam, formatted, standby))
}

/// Tells every peer that the identity record changed (each in a task of its own, with the
/// probe deadline: a peer that misses it rereads the record at its next periodic reload).
fn notify_peers(node: &Node) -> crate::iam::Notify {
    let peers: Vec<Arc<Peer>> = node.peers.values().cloned().collect();
    Box::new(move |generation| {
        for peer in &peers {
            let peer = peer.clone();
            tokio::spawn(async move {
                let mut client = peer.identities();
                let notice = IdentityChanged { generation };
                let _ = peer.call(PROBE_TIMEOUT, client.changed(notice)).await;
            });
        }
    })
}

/// What [`open_layer`] opens: the object layer, the identity store over it, the format,
/// and the drives to probe.
type Opened = (Arc<ObjectLayer>, Arc<Iam>, Formatted, Vec<probe::Standby>);

/// Runs a node until `shutdown` resolves.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let tls = match &config.certs_dir {
        Some(dir) => Some(Arc::new(ServerTls::load(dir)?)),
        None => None,
    };
    let metrics = Arc::new(Metrics::new());
    let node = open_node(&config, tls.as_ref().map(|t| t.peers()), &metrics)?;
    if tls.is_none() {
        tls::warn_plain(config.address);
    }
    // Staging left by an earlier run goes before the port opens: once it is open, peers
    // stage their shards here.
    let own: Vec<Arc<dyn Drive>> = node.local.values().cloned().collect();
    bootstrap::empty_tmp_and_trash(&own).await;
    // A single node opens its drives before it listens, so an open port means it serves;
    // a cluster node must listen first, for its peers to reach its drives.
    let early = if node.topology.is_distributed() {
        None
    } else {
        Some(open_layer(&node, &config, &metrics).await?)
    };
    let cert_reloader = tls::spawn_reloader(tls.clone());
    let listener = tokio::net::TcpListener::bind(config.address)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.address,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.address,
        source,
    })?;
    let traffic = metrics.traffic.clone();
    // The identity store, for peers' change notices once the drives are open.
    let iam_cell: Arc<OnceLock<Arc<Iam>>> = Arc::new(OnceLock::new());
    let internode = node
        .topology
        .is_distributed()
        .then(|| services::internode_routes(&node, &config, traffic.clone(), iam_cell.clone()));
    let ready: Arc<OnceLock<http::Front>> = Arc::new(OnceLock::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(
        listener,
        {
            let router = http::Router::new(
                internode,
                ready.clone(),
                metrics.clone(),
                config.metrics_public,
            );
            match config.console_address {
                Some(_) => router.without_console(),
                None => router,
            }
        },
        admission::connection_limit(config.max_connections),
        tls.as_ref().map(|t| t.acceptor()),
        async {
            let _ = stopped.await;
        },
        SHUTDOWN_GRACE,
    ));
    let mut shutdown = std::pin::pin!(shutdown);
    let opened = match early {
        Some(opened) => Ok(opened),
        None => tokio::select! {
            opened = open_layer(&node, &config, &metrics) => opened,
            () = &mut shutdown => {
                let _ = stop.send(());
                let _ = server.await;
                return Ok(());
            }
        },
    };
    let opened = opened.and_then(|(layer, iam, formatted, standby)| {
        Ok((
            layer.clone(),
            services::front(layer, iam.clone(), &config, traffic, metrics.clone())?,
            iam,
            formatted,
            standby,
        ))
    });
    let (layer, iam, formatted, standby) = match opened {
        Ok((layer, front, iam, formatted, standby)) => {
            let _ = ready.set(front);
            let _ = iam_cell.set(iam.clone());
            (layer, iam, formatted, standby)
        }
        Err(e) => {
            let _ = stop.send(());
            let _ = server.await;
            return Err(e);
        }
    };
    let sets: Vec<String> = layer
        .sets()
        .map(|s| {
            format!(
                "{}+{}",
                s.drives().data_shards(),
                s.drives().parity_shards()
            )
        })
        .collect();
    tracing::info!(
        address = %local_addr,
        drives = node.drives.len(),
        nodes = node.topology.nodes.len().max(1),
        sets = ?sets,
        offline = standby.len(),
        tls = tls.is_some(),
        "tessera node serving"
    );
    let banner = banner::Banner {
        address: local_addr,
        tls: tls.is_some(),
        nodes: node.topology.nodes.len().max(1),
        sets: (layer.sets())
            .map(|s| (s.drives().data_shards(), s.drives().parity_shards()))
            .collect(),
        region: config.region.clone(),
    };
    eprintln!("\n{}\n", banner.render());
    let console = match config.console_address.filter(|_| config.console) {
        Some(address) => {
            Some(services::console_listener(address, &config, &ready, &metrics, &tls).await?)
        }
        None => None,
    };
    // Replays the writes that missed drives, and heals what reads found damaged.
    let healer = layer.spawn_healer(HealerConfig {
        scanner: config.scan_interval.map(|interval| ScannerConfig {
            interval,
            tranquility: 1,
            retry_delay: Duration::from_secs(5),
        }),
        figures: metrics.heal.clone(),
        ..HealerConfig::default()
    });
    // Grants whose holder died (or whose release never arrived) expire; this drops them.
    let sweeper = node.topology.is_distributed().then(|| {
        let table = node.lock_table.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(LOCK_LEASE / 2);
            loop {
                every.tick().await;
                table.sweep();
            }
        })
    });
    if formatted.replaced > 0 {
        // Which drives were blank is not kept: none reports `healing`.
        tokio::spawn(probe::heal_all(layer.clone(), Vec::new()));
    }
    let prober = probe::spawn(standby, formatted.format, layer.clone(), metrics.clone());
    // Changes of identities made through other nodes reach this one within a second.
    let identity_reloader =
        iam.spawn_reloader(config.identity_reload.unwrap_or(crate::iam::RELOAD_EVERY));
    // Lifecycle rules expire objects and abort uploads, round after round.
    let expiry = layer.spawn_expiry(crate::object::ExpiryConfig {
        interval: config.lifecycle_day / LIFECYCLE_ROUNDS_PER_DAY,
        day: config.lifecycle_day,
    });
    // Trashed data directories go once no GET can still be reading them.
    let trash = tokio::spawn(purge_trash_every(own, TRASH_GRACE, TRASH_PURGE_EVERY));
    shutdown.await;
    let _ = stop.send(());
    let _ = server.await;
    if let Some((stop, server)) = console {
        let _ = stop.send(());
        let _ = server.await;
    }
    healer.shutdown().await;
    expiry.abort();
    if let Some(sweeper) = sweeper {
        sweeper.abort();
    }
    trash.abort();
    cert_reloader.abort();
    identity_reloader.abort();
    if let Some(prober) = prober {
        prober.abort();
    }
    tracing::info!("tessera node stopped");
    Ok(())
}
