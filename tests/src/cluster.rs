//! A cluster of real `tessera` nodes on 127.0.0.1: every node runs the same endpoint list
//! (`http://127.0.0.1:PORT/DIR/nN/dD`), each owning its own drive directories. Fault verbs
//! act on one node (kill -9, SIGSTOP/SIGCONT, restart, wipe a drive), or on the network
//! of a cluster started in a private network (cut, reconnect: see `network`); every node
//! is killed when the cluster drops, even when a test panics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tessera_proto::object::{ClusterInfoRequest, DriveState, ListBucketsRequest};

use tessera_proto::client::connect_with;
use tessera_proto::tls::ClientTls;

use crate::network::{self, NodeNetwork, PrivateNetwork};
use crate::tls::TlsClient;
use crate::{Node, creds, free_port, free_ports};

/// What [`Cluster::wait_until`] waits for on each node.
#[derive(Clone, Copy)]
enum Probe {
    /// The object API answers.
    Serves,
    /// The node sees this many drives online.
    DrivesOnline(usize),
}

impl Probe {
    async fn holds(self, endpoint: &str, tls: &ClientTls) -> bool {
        let Ok(mut c) = connect_with(endpoint, creds(), tls).await else {
            return false;
        };
        match self {
            Probe::Serves => c.list_buckets(ListBucketsRequest {}).await.is_ok(),
            Probe::DrivesOnline(n) => {
                c.cluster_info(ClusterInfoRequest {})
                    .await
                    .is_ok_and(|info| {
                        let online = DriveState::Online as i32;
                        let drives = info.get_ref().sets.iter().flat_map(|s| &s.drives);
                        drives.filter(|d| d.state == online).count() == n
                    })
            }
        }
    }
}

/// N nodes serving one deployment.
pub struct Cluster {
    /// The nodes, in endpoint order.
    pub nodes: Vec<Node>,
    /// Each node's network namespace, when the cluster runs in a private network (dropped
    /// after the nodes).
    networks: Vec<NodeNetwork>,
}

impl Cluster {
    /// One pool of `nodes` × `drives` drives under `dir` (`DIR/nN/dD`, explicit
    /// endpoints), started and ready.
    pub fn start(bin: &Path, dir: &Path, nodes: usize, drives: usize, extra: &[&str]) -> Cluster {
        let mut cluster = Self::prepare(bin, dir, nodes, drives, extra);
        for i in 0..nodes {
            cluster.spawn(i);
        }
        cluster.wait_ready(Duration::from_secs(60));
        cluster
    }

    /// The nodes of [`Cluster::start`], not started yet (see [`Cluster::spawn`]).
    pub fn prepare(bin: &Path, dir: &Path, nodes: usize, drives: usize, extra: &[&str]) -> Cluster {
        let addrs = local_addrs(nodes);
        Self::on(bin, dir, &addrs, drives, extra)
    }

    /// [`Cluster::start`] over TLS: `https://` endpoints, every node serving the
    /// certificate of `certs` (a certs directory, see `tls::TestCa::certs_dir`) and the test
    /// clients trusting `client`.
    pub fn start_tls(
        bin: &Path,
        dir: &Path,
        (nodes, drives): (usize, usize),
        certs: &Path,
        client: &TlsClient,
    ) -> Cluster {
        let addrs = local_addrs(nodes);
        let certs = certs.to_str().expect("utf-8 certs path");
        let extra = ["--certs-dir", certs];
        let mut cluster = Self::on_scheme("https", bin, dir, &addrs, drives, &extra);
        for node in &mut cluster.nodes {
            node.set_tls(client.clone());
        }
        for i in 0..nodes {
            cluster.spawn(i);
        }
        cluster.wait_ready(Duration::from_secs(60));
        cluster
    }

    /// Nodes (not started) listening on `addrs`, `drives` drives each under `dir`.
    fn on(bin: &Path, dir: &Path, addrs: &[SocketAddr], drives: usize, extra: &[&str]) -> Cluster {
        Self::on_scheme("http", bin, dir, addrs, drives, extra)
    }

    /// [`Cluster::on`] with endpoints of `scheme`.
    fn on_scheme(
        scheme: &str,
        bin: &Path,
        dir: &Path,
        addrs: &[SocketAddr],
        drives: usize,
        extra: &[&str],
    ) -> Cluster {
        let drive = |n: usize, d: usize| -> PathBuf {
            dir.join(format!("n{}", n + 1)).join(format!("d{}", d + 1))
        };
        let args: Vec<String> = addrs
            .iter()
            .enumerate()
            .flat_map(|(n, a)| (0..drives).map(move |d| (n, d, a)))
            .map(|(n, d, a)| format!("{scheme}://{a}{}", drive(n, d).display()))
            .collect();
        let nodes = addrs
            .iter()
            .enumerate()
            .map(|(n, a)| {
                let own: Vec<PathBuf> = (0..drives).map(|d| drive(n, d)).collect();
                Node::new(bin, *a, own, args.clone(), extra)
            })
            .collect();
        Cluster {
            nodes,
            networks: Vec::new(),
        }
    }

    /// One pool of `nodes` × `drives` drives under `dir`, each node in a network namespace
    /// of its own on `hub` (`http://10.77.0.N:9000/DIR/nN/dD`), started and ready: a
    /// cluster that [`Cluster::cut`] can partition while every node stays up.
    pub fn start_private(
        hub: &PrivateNetwork,
        bin: &Path,
        dir: &Path,
        nodes: usize,
        drives: usize,
        extra: &[&str],
    ) -> Cluster {
        let networks: Vec<NodeNetwork> = (0..nodes).map(|i| NodeNetwork::new(hub, i)).collect();
        let addrs: Vec<SocketAddr> = (0..nodes)
            .map(|i| SocketAddr::from((network::node_ip(i), 9000)))
            .collect();
        let mut cluster = Self::on(bin, dir, &addrs, drives, extra);
        for (node, net) in cluster.nodes.iter_mut().zip(&networks) {
            node.set_wrapper(net.wrapper());
        }
        cluster.networks = networks;
        for i in 0..nodes {
            cluster.spawn(i);
        }
        cluster.wait_ready(Duration::from_secs(60));
        cluster
    }

    /// Cuts the network between the nodes of `side` and the others: every packet between
    /// them is dropped, while every node still answers the test's clients. Replaces an
    /// earlier cut. Only for a cluster of [`Cluster::start_private`].
    pub fn cut(&self, side: &[usize]) {
        assert!(
            !self.networks.is_empty(),
            "only a cluster in a private network can be cut"
        );
        let addrs: Vec<SocketAddr> = self.nodes.iter().map(|n| n.addr).collect();
        network::cut(&addrs, side);
    }

    /// Undoes [`Cluster::cut`].
    pub fn reconnect(&self) {
        assert!(
            !self.networks.is_empty(),
            "not a cluster in a private network"
        );
        network::reconnect();
    }

    /// Two pools over two nodes, given MinIO style as one `{a...b}` argument per pool:
    /// `http://127.0.0.{1...2}:PORT/DIR/mnt/pP-d{1...2}`. The nodes listen on 127.0.0.1 and
    /// 127.0.0.2 with one port, as two hosts would, and see the same drive paths: each runs
    /// in a mount namespace of its own where `DIR/mnt` is its own `DIR/nN` (bind mount).
    pub fn start_two_pools(bin: &Path, dir: &Path) -> Cluster {
        let port = free_port();
        let mnt = dir.join("mnt");
        std::fs::create_dir_all(&mnt).expect("mount point");
        let args: Vec<String> = (1..=2)
            .map(|p| {
                format!(
                    "http://127.0.0.{{1...2}}:{port}{}/p{p}-d{{1...2}}",
                    mnt.display()
                )
            })
            .collect();
        let mut nodes = Vec::new();
        for n in 1..=2 {
            let own_dir = dir.join(format!("n{n}"));
            std::fs::create_dir_all(&own_dir).expect("node dir");
            let own: Vec<PathBuf> = (1..=2)
                .flat_map(|p| (1..=2).map(move |d| (p, d)))
                .map(|(p, d)| own_dir.join(format!("p{p}-d{d}")))
                .collect();
            let addr: SocketAddr = format!("127.0.0.{n}:{port}").parse().expect("address");
            let mut node = Node::new(bin, addr, own, args.clone(), &[]);
            node.set_wrapper(vec![
                "unshare".into(),
                "--mount".into(),
                "--propagation".into(),
                "private".into(),
                "sh".into(),
                "-c".into(),
                r#"mount --bind "$1" "$2" && shift 2 && exec "$@""#.into(),
                "sh".into(),
                own_dir.display().to_string(),
                mnt.display().to_string(),
            ]);
            nodes.push(node);
        }
        let mut cluster = Cluster {
            nodes,
            networks: Vec::new(),
        };
        for i in 0..2 {
            cluster.spawn(i);
        }
        cluster.wait_ready(Duration::from_secs(60));
        cluster
    }

    /// Starts node `i`'s process (returns once it listens).
    pub fn spawn(&mut self, i: usize) {
        if let Err(f) = self.nodes[i].spawn() {
            panic!(
                "node {} failed to start ({:?}):\n{}",
                i + 1,
                f.status,
                f.log
            );
        }
    }

    /// Waits until every running node serves the object API.
    pub fn wait_ready(&self, timeout: Duration) {
        self.wait_until(timeout, "not ready", Probe::Serves);
    }

    /// Waits until every running node sees the drives of every running node online
    /// (after a node came back, its peers notice it within their probe backoff).
    pub fn wait_all_online(&self, timeout: Duration) {
        let running_drives = self
            .nodes
            .iter()
            .filter(|n| n.is_running())
            .map(|n| n.drives.len())
            .sum();
        self.wait_until(
            timeout,
            "does not see every drive online",
            Probe::DrivesOnline(running_drives),
        );
    }

    /// Polls every running node until `probe` holds for it (on a thread of its own, so it
    /// works from sync and async tests alike); panics with the logs after `timeout`.
    fn wait_until(&self, timeout: Duration, failure: &str, probe: Probe) {
        let endpoints: Vec<(usize, String, ClientTls)> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.is_running())
            .map(|(i, n)| (i, n.endpoint.clone(), n.client_tls()))
            .collect();
        let waited = std::thread::spawn(move || -> Result<(), usize> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                for (i, endpoint, tls) in endpoints {
                    let deadline = Instant::now() + timeout;
                    while !probe.holds(&endpoint, &tls).await {
                        if Instant::now() > deadline {
                            return Err(i);
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                Ok(())
            })
        })
        .join()
        .expect("wait thread");
        if let Err(i) = waited {
            panic!(
                "node {} {failure} after {timeout:?}:\n{}",
                i + 1,
                self.logs()
            );
        }
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// Node `i`, mutably (to kill or restart it).
    pub fn node_mut(&mut self, i: usize) -> &mut Node {
        &mut self.nodes[i]
    }

    /// Restarts node `i` (kill -9, then the same command) and waits until it serves.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].kill9();
        if let Err(f) = self.nodes[i].spawn() {
            panic!(
                "node {} failed to restart ({:?}):\n{}",
                i + 1,
                f.status,
                f.log
            );
        }
        self.wait_ready(Duration::from_secs(60));
        self.wait_all_online(Duration::from_secs(30));
    }

    /// Every node's log, for a failure message.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("==== node {} ====\n{}", i + 1, n.log_text()))
            .collect()
    }
}

/// `n` free loopback addresses.
fn local_addrs(n: usize) -> Vec<SocketAddr> {
    (free_ports(n).into_iter())
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .collect()
}
