//! Cluster faults on a 4-node × 4-drive cluster (one set of 16, 12+4): a node killed or
//! hung, two nodes down (and what the health checks say meanwhile), a node lost during a stream of writes and reads, a partition made
//! with SIGSTOP, a lock left behind by a dead holder. Hang detectors (`within`) bound each
//! step so a regression fails instead of hanging; no test asserts on speed.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tessera_proto::auth::{Credentials, cluster_credentials};
use tessera_proto::client::{Signed, put_requests};
use tessera_proto::internode::lock_service_client::LockServiceClient;
use tessera_proto::internode::{LockMode, LockRequest};
use tessera_tests::{PASSWORD, USER, pattern};
use tonic::Code;

use crate::cluster::{ClusterEnv, logs};
use crate::common::{get, http_status, mb, put};

/// Fails the test when `fut` hangs (a liveness bound, far above any normal duration).
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(90), fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 90 s"))
}

/// A value that names its key and version and carries a checksum, so a torn read shows.
fn value(key: &str, version: u64, size: usize) -> Vec<u8> {
    let mut v = format!("{key}#{version}#").into_bytes();
    v.extend(pattern(size, version ^ key.len() as u64));
    v
}

async fn clients(env: &ClusterEnv) -> Vec<tessera_proto::client::ObjectClient> {
    let mut out = Vec::new();
    for n in &env.cluster.nodes {
        out.push(n.client().await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_one_node_dead_or_hung_reads_and_writes_go_on() {
    let mut env = ClusterEnv::start(4, 4);
    let mut c = clients(&env).await;
    mb(&mut c[0], "fault1").await;
    let before: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| {
            (
                format!("old{i}"),
                value("old", i, if i % 2 == 0 { 500 } else { 2 << 20 }),
            )
        })
        .collect();
    for (k, v) in &before {
        put(&mut c[0], "fault1", k, v).await.expect("put");
    }
    // kill -9 node 4, then SIGSTOP node 3 after node 4 is back.
    for (victim, hang) in [(3usize, false), (2usize, true)] {
        if hang {
            env.cluster.node(victim).pause();
        } else {
            env.cluster.node_mut(victim).kill9();
        }
        for (n, cl) in c.iter_mut().enumerate().filter(|(n, _)| *n != victim) {
            for (k, v) in &before {
                let got = within("get", get(cl, "fault1", k))
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "get {k} via node {} with node {} down: {e}\n{}",
                            n + 1,
                            victim + 1,
                            logs(&env)
                        )
                    });
                assert!(&got == v);
            }
            let key = format!("new-{victim}-{n}");
            let data = value(&key, 1, 3 << 20);
            within("put", put(cl, "fault1", &key, &data))
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "put via node {} with node {} down: {e}\n{}",
                        n + 1,
                        victim + 1,
                        logs(&env)
                    )
                });
            assert!(
                within("get", get(cl, "fault1", &key))
                    .await
                    .expect("get new")
                    == data
            );
        }
        if hang {
            env.cluster.node(victim).resume();
            env.cluster.wait_all_online(Duration::from_secs(30));
        } else {
            env.cluster.restart(victim);
            c[victim] = env.cluster.node(victim).client().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_two_nodes_down_refuse_writes_and_lose_nothing() {
    let mut env = ClusterEnv::start(4, 4);
    let mut c = clients(&env).await;
    mb(&mut c[0], "fault2").await;
    let kept = value("kept", 1, 1 << 20);
    put(&mut c[0], "fault2", "kept", &kept).await.expect("put");
    // Health (no credentials): all up, even taking one node down keeps the quorum.
    for n in 0..4 {
        let addr = env.cluster.node(n).addr;
        for path in ["/health/live", "/minio/health/ready", "/health/cluster"] {
            assert_eq!(http_status(addr, path).await, 200, "node {}: {path}", n + 1);
        }
        assert_eq!(http_status(addr, MAINTENANCE).await, 200, "node {}", n + 1);
    }
    env.cluster.node_mut(2).kill9();
    // One node down: 12 of 16 drives, still the write quorum, but not without another.
    for n in [0, 1, 3] {
        let addr = env.cluster.node(n).addr;
        health_becomes(addr, MAINTENANCE, 503).await;
        for path in ["/health/live", "/health/ready", "/minio/health/cluster"] {
            assert_eq!(http_status(addr, path).await, 200, "node {}: {path}", n + 1);
        }
    }
    env.cluster.node_mut(3).kill9();
    for n in [0, 1] {
        let addr = env.cluster.node(n).addr;
        health_becomes(addr, "/health/cluster", 503).await;
        assert_eq!(http_status(addr, "/minio/health/ready").await, 503);
        assert_eq!(http_status(addr, "/minio/health/live").await, 200);
    }
    // 8 of 16 drives: below the write quorum (12) and the read quorum (12).
    let err = within("put", put(&mut c[0], "fault2", "refused", b"never stored"))
        .await
        .expect_err("a write with half the drives");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    let err = within("get", get(&mut c[1], "fault2", "kept"))
        .await
        .expect_err("a read with 8 of 16 shards");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    // Over S3: ServiceUnavailable.
    let s3 = crate::s3::client(&env.cluster.node(1).endpoint, USER, PASSWORD);
    let err = within(
        "s3 put",
        s3.put_object()
            .bucket("fault2")
            .key("refused-s3")
            .body(b"x".to_vec().into())
            .send(),
    )
    .await
    .expect_err("s3 write with half the drives");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    env.cluster.restart(2);
    env.cluster.restart(3);
    let mut c = clients(&env).await;
    assert!(
        within("get", get(&mut c[3], "fault2", "kept"))
            .await
            .expect("kept")
            == kept
    );
    for key in ["refused", "refused-s3"] {
        let err = within("get", get(&mut c[2], "fault2", key))
            .await
            .expect_err("a refused write is not stored");
        assert_eq!(err.code(), Code::NotFound, "{key}: {err}");
    }
    put(&mut c[2], "fault2", "after", b"back")
        .await
        .expect("writes work again");
    health_becomes(env.cluster.node(0).addr, "/health/cluster", 200).await;
}

const MAINTENANCE: &str = "/minio/health/cluster?maintenance=true";

/// Waits until `path` answers `want` (peers' probes notice a node gone within seconds).
async fn health_becomes(addr: std::net::SocketAddr, path: &str, want: u16) {
    let mut last = 0;
    for _ in 0..300 {
        last = within(path, http_status(addr, path)).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{addr}{path}: still {last}, not {want}, after 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_node_loss_during_puts_and_gets_loses_no_acknowledged_write() {
    let mut env = ClusterEnv::start(4, 4);
    let mut c = clients(&env).await;
    mb(&mut c[0], "fault3").await;
    let mut acked: HashMap<String, u64> = HashMap::new();
    let mut version = 0u64;
    for round in 0..60u64 {
        if round == 20 {
            env.cluster.node_mut(3).kill9();
        }
        if round == 40 {
            env.cluster.restart(3);
            c[3] = env.cluster.node(3).client().await;
        }
        // Writers and readers on the nodes that are up; a write lands on one of 8 keys.
        let up: Vec<usize> = (0..4)
            .filter(|n| env.cluster.node(*n).is_running())
            .collect();
        let n = up[(round as usize) % up.len()];
        let key = format!("k{}", round % 8);
        version += 1;
        let size = if round % 3 == 0 { 200 } else { (1 << 20) + 17 };
        let data = value(&key, version, size);
        match within("put", put(&mut c[n], "fault3", &key, &data)).await {
            Ok(_) => {
                acked.insert(key.clone(), version);
            }
            Err(e) => panic!(
                "put via node {} failed with one node down at most: {e}",
                n + 1
            ),
        }
        let r = up[(round as usize + 1) % up.len()];
        let got = within("get", get(&mut c[r], "fault3", &key))
            .await
            .unwrap_or_else(|e| panic!("get {key} via node {}: {e}\n{}", r + 1, logs(&env)));
        let head = format!("{key}#{}#", acked[&key]);
        assert!(
            got.starts_with(head.as_bytes()),
            "read-after-write of {key} via node {}",
            r + 1
        );
        assert!(
            got == value(&key, acked[&key], got.len() - head.len()),
            "torn read of {key}"
        );
    }
    // Every acknowledged write reads back whole from every node.
    for (key, v) in &acked {
        for (n, cl) in c.iter_mut().enumerate() {
            let got = within("get", get(cl, "fault3", key))
                .await
                .expect("final get");
            let head = format!("{key}#{v}#");
            assert!(got.starts_with(head.as_bytes()), "{key} via node {}", n + 1);
            assert!(got == value(key, *v, got.len() - head.len()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_partition_minority_refuses_writes() {
    let env = ClusterEnv::start(4, 4);
    let mut c = clients(&env).await;
    mb(&mut c[0], "fault4").await;
    put(&mut c[0], "fault4", "reg", b"v1")
        .await
        .expect("put v1");
    // 2 | 2: no side holds a majority of nodes (3 of 4): both refuse.
    env.cluster.node(2).pause();
    env.cluster.node(3).pause();
    for n in [0usize, 1] {
        let err = within("put", put(&mut c[n], "fault4", "reg", b"split"))
            .await
            .expect_err("a write on a side without majority");
        assert_eq!(err.code(), Code::Unavailable, "{err}");
    }
    env.cluster.node(2).resume();
    env.cluster.node(3).resume();
    env.cluster.wait_all_online(Duration::from_secs(30));
    // 1 | 3: the single node refuses, the three commit.
    env.cluster.node(0).pause();
    within("put", put(&mut c[1], "fault4", "reg", b"v2"))
        .await
        .unwrap_or_else(|e| panic!("majority side write: {e}\n{}", logs(&env)));
    env.cluster.node(0).resume();
    env.cluster.node(1).pause();
    env.cluster.node(2).pause();
    env.cluster.node(3).pause();
    let err = within("put", put(&mut c[0], "fault4", "reg", b"minority"))
        .await
        .expect_err("a lone node must refuse");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    for n in 1..4 {
        env.cluster.node(n).resume();
    }
    env.cluster.wait_all_online(Duration::from_secs(30));
    // Everyone agrees on the majority's value; nothing of the refused writes shows.
    for (n, cl) in c.iter_mut().enumerate() {
        let got = within("get", get(cl, "fault4", "reg"))
            .await
            .unwrap_or_else(|e| panic!("get via node {}: {e}\n{}", n + 1, logs(&env)));
        assert_eq!(got, b"v2", "node {}", n + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_lock_of_a_dead_holder_expires() {
    let mut env = ClusterEnv::start(4, 4);
    let mut c = clients(&env).await;
    mb(&mut c[0], "fault5").await;
    put(&mut c[0], "fault5", "held", b"old").await.expect("put");
    // A holder takes the write lock of fault5/held (the object layer's name for the key) on
    // every node and dies without releasing or refreshing it: the lease runs out and
    // writers get through.
    let root = Credentials {
        access_key: USER.into(),
        secret_key: PASSWORD.into(),
    };
    for n in &env.cluster.nodes {
        let channel = tonic::transport::Endpoint::from_shared(n.endpoint.clone())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let mut locks = LockServiceClient::new(Signed::new(channel, cluster_credentials(&root)));
        let granted = locks
            .lock(LockRequest {
                uid: "dead-holder".into(),
                resources: vec!["fault5/held".into()],
                mode: LockMode::Write as i32,
                lease_ms: 5_000,
            })
            .await
            .expect("lock")
            .into_inner()
            .granted;
        assert!(granted);
    }
    // Other keys are not blocked.
    within("put", put(&mut c[1], "fault5", "free", b"x"))
        .await
        .expect("other key");
    // The held key waits for the lease (5 s from the lock, a bound from below: the lock
    // holds), then commits.
    let waiting = std::time::Instant::now();
    within("put", put(&mut c[2], "fault5", "held", b"new"))
        .await
        .unwrap_or_else(|e| panic!("put after the lease: {e}\n{}", logs(&env)));
    assert!(
        waiting.elapsed() >= Duration::from_secs(3),
        "the put went through the dead holder's lock after {:?}",
        waiting.elapsed()
    );
    assert_eq!(
        within("get", get(&mut c[3], "fault5", "held"))
            .await
            .expect("get"),
        b"new"
    );

    // kill -9 of a writer in the middle of a PUT's stream: the key is never blocked for
    // good and holds the old value, whole. The client sends 8 MiB of the 64 it declared,
    // then nothing, so the kill always lands while the node still waits for data. (A kill
    // during the commit, the instant after the last byte, can leave the 12 live drives of
    // this 12+4 set split between the two versions, below the read quorum of either: not
    // what this step checks.)
    let old = value("mid", 1, 3 << 20);
    put(&mut c[0], "fault5", "mid", &old)
        .await
        .expect("put old");
    {
        let (_open, stalled) = tokio::io::duplex(64);
        let sent = std::io::Cursor::new(value("mid", 2, 8 << 20));
        let header = tessera_proto::object::PutObjectHeader {
            bucket: "fault5".into(),
            key: "mid".into(),
            attributes: None,
            size: Some(64 << 20),
        };
        let requests = put_requests(header, tokio::io::AsyncReadExt::chain(sent, stalled));
        let writing = c[0].put_object(requests);
        let killer = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            env.cluster.node_mut(0).kill9();
        };
        let (result, ()) = tokio::join!(writing, killer);
        assert!(result.is_err(), "a PUT whose stream stalled cannot succeed");
        let got = within("get", get(&mut c[1], "fault5", "mid"))
            .await
            .expect("get");
        assert!(got == old, "the old value, whole, after kill -9");
    }
    let newest = value("mid", 3, 1000);
    within("put", put(&mut c[2], "fault5", "mid", &newest))
        .await
        .expect("put after the kill");
    assert!(
        within("get", get(&mut c[3], "fault5", "mid"))
            .await
            .expect("get")
            == newest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_writer_paused_past_its_lease_never_commits_over_a_newer_write() {
    // Node 1 waits 3 s holding its commit lock (a testing flag), so the test can freeze
    // it there: the lock's lease runs out, another node's write goes through, and when
    // node 1 resumes its write must fail rather than overwrite the acknowledged one.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = tessera_tests::Cluster::prepare(crate::common::bin(), dir.path(), 4, 2, &[]);
    let first = &cluster.nodes[0];
    cluster.nodes[0] = tessera_tests::Node::new(
        crate::common::bin(),
        first.addr,
        first.drives.clone(),
        first.drive_args().to_vec(),
        &["--test-commit-pause-ms", "3000"],
    );
    for i in 0..4 {
        cluster.spawn(i);
    }
    cluster.wait_ready(Duration::from_secs(60));
    let env = ClusterEnv { cluster, _dir: dir };
    let mut c = clients(&env).await;
    mb(&mut c[1], "fault6").await;
    put(&mut c[1], "fault6", "reg", b"v1")
        .await
        .expect("put v1");
    let (c0, rest) = c.split_at_mut(1);
    let stale = put(&mut c0[0], "fault6", "reg", b"stale");
    let newer = async {
        // Node 1 now holds the lock, pausing before its commit: freeze it past the lease.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        env.cluster.node(0).pause();
        let acked = within("put v2", put(&mut rest[0], "fault6", "reg", b"v2")).await;
        env.cluster.node(0).resume();
        acked
    };
    let (stale, acked) = within("both writes", async { tokio::join!(stale, newer) }).await;
    acked.unwrap_or_else(|e| panic!("the write after the lease: {e}\n{}", logs(&env)));
    let err = stale.expect_err("a writer that lost its lock must not commit");
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    env.cluster.wait_all_online(Duration::from_secs(30));
    for (n, cl) in c.iter_mut().enumerate() {
        let got = within("get", get(cl, "fault6", "reg")).await.expect("get");
        assert_eq!(got, b"v2", "node {}", n + 1);
    }
}
