//! The cluster section: a 4-node × 4-drive cluster (one set of 16, 12+4) on this machine
//! against a single node on 16 drives (the same 12+4 sets) in the same run: a large PUT and
//! GET through one node, the same bytes spread over all nodes by concurrent clients, and
//! 4 KiB PUTs and GETs through one node and spread; plus the bytes that crossed between
//! nodes per object byte written.

use futures::future::try_join_all;
use tessera_proto::object::ClusterInfoRequest;
use tessera_tests::Cluster;

use super::grpc::{get, put, tessera_small};
use super::*;

/// What the section measures.
pub(super) struct Config {
    /// Bytes of the large object (through one node), and in total when spread.
    pub(super) large: usize,
    /// 4 KiB operations per client per phase.
    pub(super) small_per_client: usize,
    /// Concurrent clients for the 4 KiB operations.
    pub(super) clients: usize,
}

/// Throughputs of one target: (PUT, GET) MiB/s through one node and spread.
struct Large {
    one: (f64, f64),
    spread: (f64, f64),
}

/// PUT then GET of `size` bytes through `clients` concurrent clients, each `size / n`.
async fn large_phase(
    clients: &mut [ObjectClient],
    tag: &str,
    size: usize,
) -> anyhow::Result<(f64, f64)> {
    let n = clients.len();
    let each = size / n;
    let payload = Bytes::from(pattern(each, 3));
    let start = Instant::now();
    try_join_all(clients.iter_mut().enumerate().map(|(i, c)| {
        let body = std::io::Cursor::new(payload.clone());
        put(c, format!("{tag}/{i}"), each, body)
    }))
    .await?;
    let put_t = start.elapsed();
    let start = Instant::now();
    try_join_all(
        clients
            .iter_mut()
            .enumerate()
            .map(|(i, c)| get(c, format!("{tag}/{i}"), Some(payload.clone()))),
    )
    .await?;
    Ok((
        mib_per_s(each * n, put_t),
        mib_per_s(each * n, start.elapsed()),
    ))
}

async fn large(one: &[String], spread: &[String], size: usize) -> anyhow::Result<Large> {
    let mut c1 = vec![connect(&one[0]).await?];
    let one = large_phase(&mut c1, "large-one", size).await?;
    let mut cs = Vec::new();
    for e in spread {
        cs.push(connect(e).await?);
    }
    let spread = large_phase(&mut cs, "large-spread", size).await?;
    Ok(Large { one, spread })
}

async fn connect(endpoint: &str) -> anyhow::Result<ObjectClient> {
    Ok(tessera_proto::client::connect(endpoint, tessera_tests::creds()).await?)
}

/// 4 KiB PUTs then GETs from `clients` clients over `endpoints` in turn.
async fn small(endpoints: &[String], cfg: &Config) -> anyhow::Result<(f64, f64)> {
    let mut conns = Vec::new();
    for i in 0..cfg.clients {
        conns.push(connect(&endpoints[i % endpoints.len()]).await?);
    }
    let body = Bytes::from(pattern(SMALL, 5));
    let put = tessera_small(&conns, cfg.small_per_client, &body, true).await?;
    let get = tessera_small(&conns, cfg.small_per_client, &body, false).await?;
    Ok((put.ops, get.ops))
}

/// Internode bytes received plus sent, summed over the nodes.
async fn internode_bytes(endpoints: &[String]) -> anyhow::Result<u64> {
    let mut total = 0;
    for e in endpoints {
        let info = connect(e)
            .await?
            .cluster_info(ClusterInfoRequest {})
            .await?;
        let info = info.into_inner();
        total += info.internode_received_bytes + info.internode_sent_bytes;
    }
    Ok(total)
}

pub(super) async fn rows(bin: &Path, dir: &Path, cfg: &Config) -> anyhow::Result<Vec<Row>> {
    let single = Node::start(bin, Node::drive_paths(&dir.join("single16"), 16), &[]);
    let mut c = single.client().await;
    grpc::create_bucket(&mut c).await?;
    let one_single = vec![single.endpoint.clone()];
    let four_single = vec![single.endpoint.clone(); 4];
    let base_large = large(&one_single, &four_single, cfg.large).await?;
    let base_small_one = small(&one_single, cfg).await?;
    drop(single);

    let cluster = Cluster::start(bin, &dir.join("cluster"), 4, 4, &[]);
    let endpoints: Vec<String> = cluster.nodes.iter().map(|n| n.endpoint.clone()).collect();
    let mut c = cluster.node(0).client().await;
    grpc::create_bucket(&mut c).await?;
    // Internode traffic of one large PUT through node 1.
    let before = internode_bytes(&endpoints).await?;
    let payload = Bytes::from(pattern(cfg.large, 9));
    put(
        &mut c,
        "traffic".into(),
        cfg.large,
        std::io::Cursor::new(payload),
    )
    .await?;
    let moved = (internode_bytes(&endpoints).await? - before) as f64 / cfg.large as f64;
    let cl_large = large(&endpoints[..1], &endpoints, cfg.large).await?;
    let cl_small_one = small(&endpoints[..1], cfg).await?;
    let cl_small_spread = small(&endpoints, cfg).await?;

    let mib = cfg.large / MIB;
    let x = cfg.clients;
    let b1: &'static str = "1 node, 16 drives";
    Ok(vec![
        Row::new(
            format!("4 nodes: PUT {mib} MiB via 1 node"),
            "MiB/s",
            cl_large.one.0,
            (b1, base_large.one.0),
        ),
        Row::new(
            format!("4 nodes: GET {mib} MiB via 1 node"),
            "MiB/s",
            cl_large.one.1,
            (b1, base_large.one.1),
        ),
        Row::new(
            format!("4 nodes: PUT {mib} MiB spread (4 × {} MiB)", mib / 4),
            "MiB/s",
            cl_large.spread.0,
            (b1, base_large.spread.0),
        ),
        Row::new(
            format!("4 nodes: GET {mib} MiB spread"),
            "MiB/s",
            cl_large.spread.1,
            (b1, base_large.spread.1),
        ),
        Row::new(
            format!("4 nodes: 4 KiB PUT x{x} via 1 node"),
            "ops/s",
            cl_small_one.0,
            (b1, base_small_one.0),
        ),
        Row::new(
            format!("4 nodes: 4 KiB GET x{x} via 1 node"),
            "ops/s",
            cl_small_one.1,
            (b1, base_small_one.1),
        ),
        Row::new(
            format!("4 nodes: 4 KiB PUT x{x} spread"),
            "ops/s",
            cl_small_spread.0,
            (b1, base_small_one.0),
        ),
        Row::new(
            format!("4 nodes: 4 KiB GET x{x} spread"),
            "ops/s",
            cl_small_spread.1,
            (b1, base_small_one.1),
        ),
        // 12+4: each object byte becomes 16/12 shard bytes, of which the 12 shards on the
        // other three nodes (3/4) cross the network: 1.0 expected.
        Row::new(
            "4 nodes: internode bytes per object byte (PUT via 1 node)".into(),
            "B/B",
            moved,
            ("(k+m)/k × 3/4 = 16/12 × 12/16", 1.0),
        ),
    ])
}
