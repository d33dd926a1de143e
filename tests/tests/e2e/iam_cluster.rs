//! Identities across a cluster (README "Users, keys and policies"): a change made through
//! one node is enforced by every node within one second, and identities live on the
//! drives (erasure set, write quorum), so they survive the loss of one node's drives.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use tonic::Code;

use crate::cluster::{ClusterEnv, logs};
use crate::common::get;
use crate::iam::{admin, grpc_as, parse_key};
use crate::s3::client;
use tessera_tests::{PASSWORD, USER};

/// Polls `probe` every 50 ms until it holds; panics after `bound`.
async fn within<F, Fut>(bound: Duration, what: &str, env: &ClusterEnv, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if probe().await {
            return;
        }
        if start.elapsed() > bound {
            panic!("{what}: not within {bound:?}\n{}", logs(env));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_cluster_changes_reach_every_node_within_a_second_and_survive_a_lost_node() {
    let mut env = ClusterEnv::start(4, 1);
    let n1 = env.cluster.node(0).endpoint.clone();
    let n3 = env.cluster.node(2).endpoint.clone();
    let root = client(&n1, USER, PASSWORD);
    root.create_bucket()
        .bucket("data")
        .send()
        .await
        .expect("mb");
    root.put_object()
        .bucket("data")
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .expect("put");

    // A user added through node 1 works through node 3 within a second.
    let bob = parse_key(&env.cluster.node(0).cli(
        &["admin", "user", "add", "bob", "--policy", "readonly"],
        None,
    ));
    let bob_s3 = client(&n3, &bob.0, &bob.1);
    within(
        Duration::from_secs(1),
        "bob known on node 3",
        &env,
        || async {
            bob_s3
                .get_object()
                .bucket("data")
                .key("k")
                .send()
                .await
                .is_ok()
        },
    )
    .await;
    let mut bob_grpc = grpc_as(env.cluster.node(2), &bob).await;
    assert_eq!(
        get(&mut bob_grpc, "data", "k").await.expect("grpc get"),
        b"v"
    );

    // Removed through node 1: refused by node 3 within one second, over S3 and gRPC.
    admin(env.cluster.node(0), &["admin", "user", "remove", "bob"]);
    within(
        Duration::from_secs(1),
        "bob refused on node 3",
        &env,
        || async {
            bob_s3
                .get_object()
                .bucket("data")
                .key("k")
                .send()
                .await
                .is_err()
        },
    )
    .await;
    let refused = get(&mut bob_grpc, "data", "k").await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // Identities survive the loss of one node's drives: node 4 dies and its drive is
    // wiped; the other nodes restart (so they read the drives, not their memory).
    let carol = parse_key(&env.cluster.node(1).cli(
        &["admin", "user", "add", "carol", "--policy", "readwrite"],
        None,
    ));
    env.cluster.node_mut(3).kill9();
    env.cluster.node(3).wipe_drive(0);
    for i in 0..3 {
        env.cluster.node_mut(i).kill9();
    }
    for i in 0..3 {
        env.cluster.spawn(i);
    }
    env.cluster.wait_ready(Duration::from_secs(60));
    let carol_s3 = client(&n1, &carol.0, &carol.1);
    within(
        Duration::from_secs(10),
        "carol known after the loss",
        &env,
        || async {
            carol_s3
                .get_object()
                .bucket("data")
                .key("k")
                .send()
                .await
                .is_ok()
        },
    )
    .await;
    carol_s3
        .put_object()
        .bucket("data")
        .key("by-carol")
        .body(ByteStream::from_static(b"c"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("carol writes: {e:?}\n{}", logs(&env)));
    // Node 4 comes back on a blank drive and knows carol too.
    env.cluster.spawn(3);
    env.cluster.wait_ready(Duration::from_secs(60));
    let n4 = env.cluster.node(3).endpoint.clone();
    let carol_on_4 = client(&n4, &carol.0, &carol.1);
    within(
        Duration::from_secs(10),
        "carol known on node 4",
        &env,
        || async {
            carol_on_4
                .get_object()
                .bucket("data")
                .key("by-carol")
                .send()
                .await
                .is_ok()
        },
    )
    .await;
    // And bob stays removed everywhere.
    assert!(
        client(&n4, &bob.0, &bob.1)
            .list_buckets()
            .send()
            .await
            .is_err()
    );
    drop(root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_cluster_nodes_are_told_of_changes_without_waiting_for_their_reload() {
    // The periodic reread is stretched to a minute: only the change notices sent to the
    // peers can make node 3 follow within a second.
    let env = ClusterEnv::start_with(3, 1, &["--test-identity-reload-ms", "60000"]);
    let n3 = env.cluster.node(2).endpoint.clone();
    let root = client(&env.cluster.node(0).endpoint, USER, PASSWORD);
    root.create_bucket()
        .bucket("data")
        .send()
        .await
        .expect("mb");
    let dan = parse_key(&env.cluster.node(0).cli(
        &["admin", "user", "add", "dan", "--policy", "readonly"],
        None,
    ));
    let dan_s3 = client(&n3, &dan.0, &dan.1);
    within(
        Duration::from_secs(1),
        "dan known on node 3",
        &env,
        || async { dan_s3.list_objects_v2().bucket("data").send().await.is_ok() },
    )
    .await;
    admin(env.cluster.node(1), &["admin", "user", "disable", "dan"]);
    within(
        Duration::from_secs(1),
        "dan refused on node 3",
        &env,
        || async {
            dan_s3
                .list_objects_v2()
                .bucket("data")
                .send()
                .await
                .is_err()
        },
    )
    .await;
}
