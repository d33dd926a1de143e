//! The cluster from the command line: drive arguments (paths, or `http://host:port/path`
//! endpoints, `https://` for a cluster with certificates; `{a...b}` ranges) become pools of drives in set order, the nodes that hold
//! them, and which of them are this node's.
//!
//! Rules (DESIGN.md "Distributed mode"): every argument with `{a...b}` is a pool of its
//! own; the plain arguments together form one pool. Paths alone make a single-node
//! deployment; endpoints a cluster, where this node owns the endpoints whose `host:port`
//! is its listen address. Inside a pool, drives are taken node by node in turn (the first
//! drive of every node, then the second …), so chunking that order into sets spreads each
//! set evenly over the nodes. Every node computes the same topology from the same
//! arguments, and the same [`Topology::hash`].

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use sha2::{Digest, Sha256};

use crate::layout::{LayoutError, expand_ellipses, has_ellipses, set_size};

/// Port of an endpoint that names none.
const DEFAULT_PORT: u16 = 9000;

/// One drive of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveSpec {
    /// `host:port` of the owning node; empty in a single-node deployment.
    pub node: String,
    /// The drive's directory on that node.
    pub path: String,
    /// Owned by this node.
    pub local: bool,
    /// Its node is reached over TLS (an `https://` endpoint).
    pub tls: bool,
}

impl DriveSpec {
    /// How logs and errors name the drive.
    pub fn name(&self) -> String {
        if self.node.is_empty() {
            self.path.clone()
        } else {
            let scheme = if self.tls { "https" } else { "http" };
            format!("{scheme}://{}{}", self.node, self.path)
        }
    }
}

/// One pool: its drives in set order and its set size.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// Drives, in set order (set i is `drives[i*set_size..(i+1)*set_size]`).
    pub drives: Vec<DriveSpec>,
    /// Drives per set.
    pub set_size: usize,
}

/// Every pool, node and drive of the deployment.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Pools in argument order.
    pub pools: Vec<PoolSpec>,
    /// Every node (`host:port`), in order of first appearance; empty for a single node.
    pub nodes: Vec<String>,
    /// This node's `host:port` as the endpoints name it (single node: empty).
    pub me: String,
    /// The endpoints are `https://`: nodes talk over TLS.
    pub tls: bool,
}

impl Topology {
    /// True for a cluster of several nodes (endpoints given).
    pub fn is_distributed(&self) -> bool {
        !self.nodes.is_empty()
    }

    /// Every drive, pool after pool, in set order.
    pub fn drives(&self) -> impl Iterator<Item = &DriveSpec> {
        self.pools.iter().flat_map(|p| p.drives.iter())
    }

    /// The other nodes.
    pub fn peers(&self) -> impl Iterator<Item = &String> {
        self.nodes.iter().filter(|n| **n != self.me)
    }

    /// The node that formats a fresh deployment: the owner of the first drive.
    pub fn leader(&self) -> &str {
        self.pools
            .first()
            .and_then(|p| p.drives.first())
            .map_or("", |d| d.node.as_str())
    }

    /// A digest of the layout and parity: equal on every node started with the same
    /// command, so nodes can refuse a peer started with another.
    pub fn hash(&self, parity: Option<usize>) -> String {
        let mut h = Sha256::new();
        for pool in &self.pools {
            h.update(format!("pool {}\n", pool.set_size));
            for d in &pool.drives {
                h.update(format!("{}\n", d.name()));
            }
        }
        h.update(format!("parity {parity:?}\n"));
        hex::encode(&h.finalize()[..16])
    }
}

/// The scheme of an endpoint argument, if it is one: `Some(true)` for `https://`.
fn endpoint_scheme(arg: &str) -> Option<bool> {
    if arg.starts_with("https://") {
        Some(true)
    } else if arg.starts_with("http://") {
        Some(false)
    } else {
        None
    }
}

/// Parses `http(s)://host[:port]/path` into (`host:port`, `/path`).
fn parse_endpoint(arg: &str) -> Result<(String, String), LayoutError> {
    let bad = |reason: &str| LayoutError::BadPattern {
        arg: arg.to_string(),
        reason: reason.to_string(),
    };
    let rest = arg
        .strip_prefix("https://")
        .or_else(|| arg.strip_prefix("http://"))
        .ok_or_else(|| bad("endpoints start with http:// or https://"))?;
    let slash = rest
        .find('/')
        .ok_or_else(|| bad("an endpoint needs a drive path after host:port"))?;
    let (authority, path) = rest.split_at(slash);
    if authority.is_empty() || path.len() < 2 {
        return Err(bad("an endpoint is http://host:port/path"));
    }
    let authority = match authority.rsplit_once(':') {
        Some((_, port)) => {
            port.parse::<u16>().map_err(|_| bad("bad port"))?;
            authority.to_string()
        }
        None => format!("{authority}:{DEFAULT_PORT}"),
    };
    Ok((authority, path.trim_end_matches('/').to_string()))
}

/// True when `node` (`host:port`) names `address`, this node's listen address.
fn is_local(node: &str, address: SocketAddr) -> bool {
    let Ok(resolved) = node.to_socket_addrs() else {
        return false;
    };
    resolved.into_iter().any(|a| {
        a.port() == address.port()
            && (a.ip() == address.ip()
                || (address.ip().is_unspecified() && UdpSocket::bind((a.ip(), 0)).is_ok()))
    })
}

/// Orders a pool's drives node by node in turn, and picks its set size.
fn pool(drives: Vec<DriveSpec>) -> Result<PoolSpec, LayoutError> {
    let mut nodes: Vec<&str> = Vec::new();
    for d in &drives {
        if !nodes.contains(&d.node.as_str()) {
            nodes.push(&d.node);
        }
    }
    let per_node: Vec<Vec<&DriveSpec>> = nodes
        .iter()
        .map(|n| drives.iter().filter(|d| d.node == *n).collect())
        .collect();
    let counts: Vec<usize> = per_node.iter().map(Vec::len).collect();
    let size = set_size(&counts)?;
    let depth = counts.iter().copied().max().unwrap_or(0);
    let ordered = (0..depth)
        .flat_map(|i| per_node.iter().filter_map(move |n| n.get(i)))
        .map(|d| (*d).clone())
        .collect();
    Ok(PoolSpec {
        drives: ordered,
        set_size: size,
    })
}

/// The topology of `args` for a node listening on `address`.
pub fn parse(args: &[String], address: SocketAddr) -> Result<Topology, LayoutError> {
    let schemes: Vec<Option<bool>> = args.iter().map(|a| endpoint_scheme(a)).collect();
    let distributed = schemes.iter().any(Option::is_some);
    if distributed && schemes.iter().any(Option::is_none) {
        return Err(LayoutError::BadPattern {
            arg: args.join(" "),
            reason: "either every drive is an http(s):// endpoint or none is".into(),
        });
    }
    let tls = schemes.contains(&Some(true));
    if tls && schemes.contains(&Some(false)) {
        return Err(LayoutError::BadPattern {
            arg: args.join(" "),
            reason: "a cluster is all TLS or all plain: every endpoint is https:// or every \
                     one is http://"
                .into(),
        });
    }
    // Pools in argument order; the plain arguments' pool sits where the first one is.
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut plain: Option<usize> = None;
    for arg in args {
        let expanded = expand_ellipses(arg)?;
        if has_ellipses(arg) {
            groups.push(expanded);
        } else if let Some(i) = plain {
            groups[i].extend(expanded);
        } else {
            plain = Some(groups.len());
            groups.push(expanded);
        }
    }
    let mut nodes: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut pools = Vec::new();
    let mut me = String::new();
    for group in groups {
        let mut drives = Vec::new();
        for arg in group {
            let spec = if distributed {
                let (node, path) = parse_endpoint(&arg)?;
                if !nodes.contains(&node) {
                    if is_local(&node, address) {
                        me = node.clone();
                    }
                    nodes.push(node.clone());
                }
                DriveSpec {
                    local: node == me,
                    node,
                    path,
                    tls,
                }
            } else {
                DriveSpec {
                    node: String::new(),
                    path: arg.clone(),
                    local: true,
                    tls: false,
                }
            };
            if !seen.insert(spec.name()) {
                return Err(LayoutError::Duplicate(spec.name()));
            }
            drives.push(spec);
        }
        pools.push(pool(drives)?);
    }
    if distributed && me.is_empty() {
        return Err(LayoutError::BadPattern {
            arg: address.to_string(),
            reason: "no endpoint names this node's --address; give the address the endpoints use"
                .into(),
        });
    }
    Ok(Topology {
        pools,
        nodes,
        me,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    const ME: &str = "127.0.0.1:9002";

    #[test]
    fn paths_make_a_single_node_with_a_pool_per_ellipsis_argument() {
        let t = parse(&args(&["/d{1...4}", "/e{1...4}"]), ME.parse().unwrap()).unwrap();
        assert!(!t.is_distributed());
        assert_eq!(t.pools.len(), 2);
        assert_eq!(t.pools[1].drives[0].path, "/e1");
        let t = parse(&args(&["/a", "/b", "/c", "/d"]), ME.parse().unwrap()).unwrap();
        assert_eq!(t.pools.len(), 1);
        assert_eq!(t.pools[0].set_size, 4);
        assert!(t.drives().all(|d| d.local));
        let t = parse(&args(&["/d{1...32}"]), ME.parse().unwrap()).unwrap();
        assert_eq!((t.pools.len(), t.pools[0].set_size), (1, 16));
        assert!(parse(&args(&["/a", "/a"]), ME.parse().unwrap()).is_err());
    }

    #[test]
    fn endpoints_make_a_cluster_with_sets_spread_over_nodes() {
        let explicit: Vec<String> = (1..=4)
            .flat_map(|n| (1..=4).map(move |d| format!("http://127.0.0.1:900{n}/t/n{n}/d{d}")))
            .collect();
        let t = parse(&explicit, ME.parse().unwrap()).unwrap();
        assert!(t.is_distributed());
        assert_eq!(t.me, ME);
        assert_eq!(t.nodes.len(), 4);
        assert_eq!(t.leader(), "127.0.0.1:9001");
        assert_eq!((t.pools.len(), t.pools[0].set_size), (1, 16));
        // Node by node in turn.
        let order: Vec<String> = t.pools[0].drives[..5].iter().map(DriveSpec::name).collect();
        assert_eq!(
            order,
            [
                "http://127.0.0.1:9001/t/n1/d1",
                "http://127.0.0.1:9002/t/n2/d1",
                "http://127.0.0.1:9003/t/n3/d1",
                "http://127.0.0.1:9004/t/n4/d1",
                "http://127.0.0.1:9001/t/n1/d2"
            ]
        );
        assert_eq!(t.drives().filter(|d| d.local).count(), 4);
        assert_eq!(t.peers().count(), 3);
        // The same command on another node: same hash.
        let other = parse(&explicit, "127.0.0.1:9003".parse().unwrap()).unwrap();
        assert_eq!(t.hash(None), other.hash(None));
        assert_ne!(t.hash(None), t.hash(Some(2)));
        // 4 nodes × 8 drives: two sets of 16, each with 4 drives of every node.
        let t = parse(
            &args(&["http://127.0.0.1:900{1...4}/x/d{1...8}"]),
            ME.parse().unwrap(),
        )
        .unwrap();
        assert_eq!(t.pools[0].set_size, 16);
        for set in t.pools[0].drives.chunks(16) {
            for n in &t.nodes {
                assert_eq!(set.iter().filter(|d| &d.node == n).count(), 4);
            }
        }
        // Two ellipsis arguments: two pools.
        let t = parse(
            &args(&[
                "http://127.0.0.1:900{1...2}/p1/d{1...2}",
                "http://127.0.0.1:900{1...2}/p2/d{1...2}",
            ]),
            ME.parse().unwrap(),
        )
        .unwrap();
        assert_eq!(t.pools.len(), 2);
        assert_eq!(t.nodes.len(), 2);
    }

    #[test]
    fn bad_endpoints_are_refused() {
        let me: SocketAddr = ME.parse().unwrap();
        assert!(parse(&args(&["http://127.0.0.1:9002/d", "/local"]), me).is_err());
        assert!(parse(&args(&["http://127.0.0.1:9002"]), me).is_err());
        assert!(parse(&args(&["http://127.0.0.1:notaport/d"]), me).is_err());
        // Not one of the nodes.
        assert!(
            parse(
                &args(&["http://127.0.0.1:9005/d1", "http://127.0.0.1:9006/d1"]),
                me
            )
            .is_err()
        );
        // Uneven nodes.
        assert!(
            parse(
                &args(&[
                    "http://127.0.0.1:9002/a",
                    "http://127.0.0.1:9002/b",
                    "http://127.0.0.1:9003/a"
                ]),
                me
            )
            .is_err()
        );
    }

    #[test]
    fn https_endpoints_make_a_tls_cluster_and_mixed_schemes_are_refused() {
        let me: SocketAddr = ME.parse().unwrap();
        let t = parse(&args(&["https://127.0.0.1:900{1...2}/t/d{1...2}"]), me).unwrap();
        assert!(t.tls && t.is_distributed());
        assert!(t.drives().all(|d| d.name().starts_with("https://")));
        let plain = parse(&args(&["http://127.0.0.1:900{1...2}/t/d{1...2}"]), me).unwrap();
        assert!(!plain.tls);
        // A node started plain and one started with TLS refuse each other's layout.
        assert_ne!(t.hash(None), plain.hash(None));
        let mixed = args(&["https://127.0.0.1:9002/a", "http://127.0.0.1:9003/a"]);
        let err = parse(&mixed, me).unwrap_err().to_string();
        assert!(err.contains("all TLS or all plain"), "{err}");
    }
}
