//! The cluster suite: real 4-node (and 2-, 3-node) clusters on 127.0.0.1. This module is
//! the fixture and the basic cases: start, read-after-write and delete-after-write across
//! nodes over gRPC and S3, the internode key. Faults are in `cluster_faults`, the register
//! history check in `cluster_history`. Every test has `cluster_` in its path.

use aws_sdk_s3::primitives::ByteStream;
use tempfile::TempDir;
use tessera_proto::object as pb;
use tessera_tests::{Cluster, PASSWORD, USER, pattern};
use tonic::Code;

use crate::common::{bin, get, head, list, mb, put};

/// A running cluster and the temp dir of its drives.
pub struct ClusterEnv {
    pub cluster: Cluster,
    pub _dir: TempDir,
}

impl ClusterEnv {
    /// `nodes` × `drives` drives, one pool.
    pub fn start(nodes: usize, drives: usize) -> ClusterEnv {
        Self::start_with(nodes, drives, &[])
    }

    /// `nodes` × `drives` drives, one pool, every node started with `extra` arguments.
    pub fn start_with(nodes: usize, drives: usize, extra: &[&str]) -> ClusterEnv {
        let dir = tempfile::tempdir().expect("tempdir");
        let cluster = Cluster::start(bin(), dir.path(), nodes, drives, extra);
        ClusterEnv { cluster, _dir: dir }
    }
}

/// What a node logs, in a failure message.
pub fn logs(env: &ClusterEnv) -> String {
    env.cluster.logs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_read_after_write_and_delete_across_nodes() {
    let env = ClusterEnv::start(4, 4);
    let c = &env.cluster;
    let mut clients = Vec::new();
    for n in &c.nodes {
        clients.push(n.client().await);
    }
    mb(&mut clients[0], "raw").await;
    // A bucket made on node 1 exists on every node.
    for cl in clients.iter_mut() {
        cl.head_bucket(pb::HeadBucketRequest {
            bucket: "raw".into(),
        })
        .await
        .unwrap_or_else(|e| panic!("head bucket: {e}\n{}", logs(&env)));
    }
    for round in 0..20u64 {
        let writer = (round % 4) as usize;
        let key = format!("k/{round}");
        // Inline (small) and erasure-coded (multi-block) objects.
        let size = if round % 2 == 0 { 1000 } else { 3 << 20 };
        let data = pattern(size, round);
        put(&mut clients[writer], "raw", &key, &data)
            .await
            .unwrap_or_else(|e| panic!("put via node {}: {e}\n{}", writer + 1, logs(&env)));
        for (r, cl) in clients.iter_mut().enumerate() {
            let got = get(cl, "raw", &key)
                .await
                .unwrap_or_else(|e| panic!("get {key} via node {}: {e}", r + 1));
            assert!(got == data, "{key} via node {} differs", r + 1);
            let info = head(cl, "raw", &key).await.expect("head");
            assert_eq!(info.size, size as u64);
            let (keys, _) = list(cl, "raw", "k/", "").await;
            assert!(keys.contains(&key), "list via node {} misses {key}", r + 1);
        }
        // Overwrite on another node, read the new version everywhere at once.
        let newer = pattern(size / 2 + 1, round + 100);
        put(&mut clients[(writer + 1) % 4], "raw", &key, &newer)
            .await
            .expect("overwrite");
        for cl in clients.iter_mut() {
            assert!(get(cl, "raw", &key).await.expect("get") == newer);
        }
        // Delete on a third node: gone everywhere at once.
        clients[(writer + 2) % 4]
            .delete_object(pb::DeleteObjectRequest {
                bucket: "raw".into(),
                key: key.clone(),
            })
            .await
            .expect("delete");
        for cl in clients.iter_mut() {
            let err = get(cl, "raw", &key).await.expect_err("deleted");
            assert_eq!(err.code(), Code::NotFound);
            let (keys, _) = list(cl, "raw", "k/", "").await;
            assert!(!keys.contains(&key));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_s3_on_one_node_reads_on_another() {
    let env = ClusterEnv::start(4, 4);
    let s3: Vec<_> = env
        .cluster
        .nodes
        .iter()
        .map(|n| crate::s3::client(&n.endpoint, USER, PASSWORD))
        .collect();
    s3[1]
        .create_bucket()
        .bucket("s3c")
        .send()
        .await
        .expect("mb");
    let data = pattern(5 << 20, 7);
    s3[2]
        .put_object()
        .bucket("s3c")
        .key("big")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put: {e:?}\n{}", logs(&env)));
    for (i, c) in s3.iter().enumerate() {
        let got = c
            .get_object()
            .bucket("s3c")
            .key("big")
            .send()
            .await
            .unwrap_or_else(|e| panic!("get via node {}: {e:?}", i + 1))
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes();
        assert!(got.as_ref() == data.as_slice(), "node {}", i + 1);
    }
    let listed = s3[3]
        .list_objects_v2()
        .bucket("s3c")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.key_count(), Some(1));
    s3[0]
        .delete_object()
        .bucket("s3c")
        .key("big")
        .send()
        .await
        .expect("delete");
    let err = s3[1]
        .head_object()
        .bucket("s3c")
        .key("big")
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_two_and_three_node_layouts_serve() {
    for (nodes, drives) in [(2, 2), (3, 2)] {
        let env = ClusterEnv::start(nodes, drives);
        let mut a = env.cluster.node(0).client().await;
        let mut b = env.cluster.node(nodes - 1).client().await;
        mb(&mut a, "small").await;
        let data = pattern(2 << 20, nodes as u64);
        put(&mut a, "small", "x", &data)
            .await
            .unwrap_or_else(|e| panic!("{nodes} nodes: put: {e}\n{}", logs(&env)));
        assert!(get(&mut b, "small", "x").await.expect("get") == data);
        let info = b
            .cluster_info(pb::ClusterInfoRequest {})
            .await
            .expect("info")
            .into_inner();
        let total: usize = info.sets.iter().map(|s| s.drives.len()).sum();
        assert_eq!(total, nodes * drives, "{info:?}");
        // A restart with the same command resumes the deployment.
        let mut env = env;
        env.cluster.restart(0);
        let mut a = env.cluster.node(0).client().await;
        assert!(get(&mut a, "small", "x").await.expect("get after restart") == data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_internode_calls_need_the_cluster_key() {
    use tessera_proto::auth::{Credentials, cluster_credentials};
    use tessera_proto::client::Signed;
    use tessera_proto::internode::create_file_request::Msg;
    use tessera_proto::internode::storage_service_client::StorageServiceClient;
    use tessera_proto::internode::{CreateFileRequest, HelloRequest, PathRequest};
    use tessera_tests::wire::{Change, Tampered};

    let env = ClusterEnv::start(2, 2);
    let node = env.cluster.node(0);
    let channel = tonic::transport::Endpoint::from_shared(node.endpoint.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    // No signature at all.
    let mut bare = StorageServiceClient::new(channel.clone());
    let err = bare
        .hello(HelloRequest::default())
        .await
        .expect_err("unsigned");
    assert_eq!(err.code(), Code::Unauthenticated);
    // Signed with the client (root) credentials: refused too.
    let root = Credentials {
        access_key: USER.into(),
        secret_key: PASSWORD.into(),
    };
    let mut as_client = StorageServiceClient::new(Signed::new(channel.clone(), root.clone()));
    let err = as_client
        .read_all(PathRequest {
            drive: node.drives[0].display().to_string(),
            volume: ".tessera".into(),
            path: "format.json".into(),
        })
        .await
        .expect_err("client credentials");
    assert_eq!(err.code(), Code::Unauthenticated);
    // With the cluster key, and a path outside the drive refused.
    let mut peer =
        StorageServiceClient::new(Signed::new(channel.clone(), cluster_credentials(&root)));
    peer.hello(HelloRequest::default()).await.expect("hello");
    // A file's data is covered by the call's signature: changed on the wire, it is refused
    // before a byte of it is written.
    let file = |path: &str| {
        let header = CreateFileRequest {
            msg: Some(Msg::Header(PathRequest {
                drive: node.drives[0].display().to_string(),
                volume: ".tessera".into(),
                path: path.into(),
            })),
        };
        let data = CreateFileRequest {
            msg: Some(Msg::Data(vec![9u8; 100_000].into())),
        };
        futures::stream::iter([header, data])
    };
    let written = |path: &str| {
        let at = node.drives[0].join(".tessera").join(path);
        std::fs::metadata(at).map(|m| m.len()).unwrap_or(0)
    };
    peer.create_file(file("tmp/signed"))
        .await
        .expect("signed file");
    assert_eq!(written("tmp/signed"), 100_000);
    let tampered = Tampered::new(channel.clone(), Change::FlipByte);
    let mut attacker = StorageServiceClient::new(Signed::new(tampered, cluster_credentials(&root)));
    let err = attacker
        .create_file(file("tmp/tampered"))
        .await
        .expect_err("tampered data");
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    assert_eq!(written("tmp/tampered"), 0);
    let err = peer
        .read_all(PathRequest {
            drive: node.drives[0].display().to_string(),
            volume: ".tessera".into(),
            path: "../../etc/passwd".into(),
        })
        .await
        .expect_err("escape");
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = peer
        .read_all(PathRequest {
            drive: "/etc".into(),
            volume: "x".into(),
            path: "passwd".into(),
        })
        .await
        .expect_err("not a drive");
    assert_eq!(err.code(), Code::Unavailable);
    // The client API refuses the cluster key.
    let mut obj = tessera_proto::client::connect(&node.endpoint, cluster_credentials(&root))
        .await
        .expect("connect");
    let err = obj
        .list_buckets(pb::ListBucketsRequest {})
        .await
        .expect_err("cluster key on the client API");
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_nodes_started_in_any_order_agree_on_one_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::prepare(bin(), dir.path(), 4, 2, &[]);
    // The leader (node 1, owner of the first drive) comes last: the others wait for it,
    // and nobody formats on its own.
    for i in [3, 1, 2] {
        cluster.spawn(i);
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    cluster.spawn(0);
    cluster.wait_ready(std::time::Duration::from_secs(60));
    let log = cluster.node(1).log_text();
    assert!(
        log.contains("waiting for"),
        "no progress in the log:\n{log}"
    );
    let mut ids = std::collections::BTreeSet::new();
    for node in &cluster.nodes {
        for d in &node.drives {
            let text = std::fs::read_to_string(d.join(".tessera/format.json")).expect("format");
            let deployment = text
                .lines()
                .find(|l| l.contains("deployment_id"))
                .expect("deployment id")
                .to_string();
            ids.insert(deployment);
        }
    }
    assert_eq!(ids.len(), 1, "one deployment across all drives: {ids:?}");
    let mut c = cluster.node(2).client().await;
    mb(&mut c, "order").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_node_with_another_command_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::prepare(bin(), dir.path(), 2, 2, &[]);
    // Node 2 runs with another parity than node 1: it refuses to start.
    let other = &cluster.nodes[1];
    let args = other.drive_args().to_vec();
    cluster.nodes[1] = tessera_tests::Node::new(
        bin(),
        other.addr,
        other.drives.clone(),
        args,
        &["--parity", "1"],
    );
    cluster.spawn(0);
    let log = match cluster.nodes[1].spawn() {
        Err(failure) => failure.log,
        Ok(()) => {
            let status = cluster.nodes[1]
                .wait_exit(std::time::Duration::from_secs(30))
                .expect("exit status");
            assert!(!status.success());
            cluster.nodes[1].log_text()
        }
    };
    assert!(log.contains("another drive list or parity"), "{log}");
    // Node 1 either keeps waiting for a peer that agrees or, if it met node 2 before node 2
    // gave up, refuses to start for the same reason; either way it formats nothing.
    std::thread::sleep(std::time::Duration::from_secs(1));
    if cluster.nodes[0].has_exited() {
        let log = cluster.nodes[0].log_text();
        assert!(log.contains("another drive list or parity"), "{log}");
    }
    assert!(!dir.path().join("n1/d1/.tessera/format.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_first_format_cut_short_is_finished_by_the_leader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::prepare(bin(), dir.path(), 2, 2, &[]);
    // Two of four drives formatted, two blank: what a leader killed half way through the
    // first format leaves (no drive agrees with a majority yet).
    let (format, ids) = fresh_format_of(&cluster);
    // Set order takes the nodes in turn: node 1's drives are places 0 and 2.
    for (d, id) in cluster.nodes[0].drives.iter().zip([&ids[0], &ids[2]]) {
        std::fs::create_dir_all(d.join(".tessera")).expect("meta dir");
        std::fs::write(d.join(".tessera/format.json"), format.replace("@THIS@", id))
            .expect("format");
    }
    for i in [1, 0] {
        cluster.spawn(i);
    }
    cluster.wait_ready(std::time::Duration::from_secs(60));
    for node in &cluster.nodes {
        for d in &node.drives {
            let text = std::fs::read_to_string(d.join(".tessera/format.json")).expect("format");
            assert!(text.contains(DEPLOYMENT), "{}: {text}", d.display());
        }
    }
    let mut c = cluster.node(1).client().await;
    mb(&mut c, "finished").await;
    put(&mut c, "finished", "k", b"v").await.expect("put");
    assert_eq!(
        get(&mut cluster.node(0).client().await, "finished", "k")
            .await
            .expect("get"),
        b"v"
    );
}

const DEPLOYMENT: &str = "6f1d2a8e-0b4c-4f4e-9a51-3c2d7e9b1a00";

/// A `format.json` for the 2 × 2 cluster (one set of 4, 2+2) with `@THIS@` for the
/// drive's own id, and the four drive ids in set order.
fn fresh_format_of(cluster: &Cluster) -> (String, Vec<String>) {
    assert_eq!(cluster.nodes.len() * cluster.nodes[0].drives.len(), 4);
    let ids: Vec<String> = (0..4)
        .map(|i| format!("00000000-0000-4000-8000-00000000000{i}"))
        .collect();
    let format = format!(
        r#"{{"version":1,"deployment_id":"{DEPLOYMENT}","this":"@THIS@","distribution":"sipmod-2-4","pools":[{{"parity":2,"sets":[[{}]]}}]}}"#,
        ids.iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    (format, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_two_pools_given_with_ellipses_start_and_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = Cluster::start_two_pools(bin(), dir.path());
    let mut a = cluster.node(0).client().await;
    let mut b = cluster.node(1).client().await;
    let info = a
        .cluster_info(pb::ClusterInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    let pools: std::collections::BTreeSet<u32> = info.sets.iter().map(|s| s.pool).collect();
    assert_eq!(pools.len(), 2, "{info:?}");
    mb(&mut a, "pools").await;
    let mut stored = Vec::new();
    for i in 0..12u64 {
        let data = pattern(if i % 2 == 0 { 100 } else { 1 << 20 }, i);
        put(&mut a, "pools", &format!("k{i}"), &data)
            .await
            .unwrap_or_else(|e| panic!("put: {e}\n{}", cluster.logs()));
        stored.push(data);
    }
    for (i, data) in stored.iter().enumerate() {
        assert!(get(&mut b, "pools", &format!("k{i}")).await.expect("get") == *data);
    }
    let (keys, _) = list(&mut b, "pools", "", "").await;
    assert_eq!(keys.len(), 12);
    // Each node's drives of both pools live in its own directory.
    for n in 1..=2 {
        for p in 1..=2 {
            assert!(
                dir.path()
                    .join(format!("n{n}/p{p}-d1/.tessera/format.json"))
                    .exists()
            );
        }
    }
}

/// A GET through one node reads several shards from each peer over one connection, in
/// lockstep. Shards that a peer sends ahead must not take the connection's whole flow-
/// control window from the shard the reader waits for: that stalled each starved stream
/// until its deadline, marked a healthy peer offline and read parity instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_large_gets_never_starve_a_shard_stream() {
    // One set of 16 drives (12+4), four on each node: four shard streams per peer.
    let env = ClusterEnv::start(4, 4);
    let mut c = env.cluster.node(0).client().await;
    mb(&mut c, "big").await;
    let data = pattern(96 << 20, 11);
    put(&mut c, "big", "object", &data)
        .await
        .unwrap_or_else(|e| panic!("put: {e}\n{}", logs(&env)));
    for round in 0..2 {
        let got = get(&mut c, "big", "object")
            .await
            .unwrap_or_else(|e| panic!("get {round}: {e}\n{}", logs(&env)));
        assert!(got == data, "get {round} returned other bytes");
    }
    // Starvation shows as a stream whose deadline passed ("stopped sending") and as shards
    // lost on healthy drives (a read error or a bad checksum). A connection dropped under
    // load, its drive then offline, is not starvation: the GET still read parity correctly.
    let logs = logs(&env);
    let starved: Vec<&str> = logs
        .lines()
        .filter(|l| {
            l.contains("stopped sending")
                || (l.contains("shard lost") && !l.contains("drive offline"))
        })
        .collect();
    // The lines that matter come last: a failure's output may be cut in the middle.
    assert!(
        starved.is_empty(),
        "{logs}\n\nstarved:\n{}",
        starved.join("\n")
    );
}
