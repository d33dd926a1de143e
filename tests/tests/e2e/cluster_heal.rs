//! Healing in a cluster, checked on disk: a node that was down while objects were
//! written, overwritten and deleted gets every shard back (the writers' queues replay when
//! it returns, and the scanner finds what a dead writer's queue took with it); a wiped
//! drive is formatted as a replacement and refilled.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tessera_proto::object as pb;
use tessera_tests::pattern;

use crate::cluster::{ClusterEnv, logs};
use crate::common::{get, mb, put};

/// What a drive holds of an object: file names under its directory with their sizes
/// (`tessera.meta`, the data directory's `part.N`). Metadata files differ per drive (the
/// shard index), so only their presence counts.
fn footprint(drive: &Path, bucket: &str, key: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let dir = drive.join(bucket).join(key);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            for p in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                let size = p.metadata().map(|m| m.len()).unwrap_or(0);
                let part = p.file_name().to_string_lossy().into_owned();
                out.insert(format!("{name}/{part}"), size);
            }
        } else if name == "tessera.meta" {
            out.insert(name, 0);
        }
    }
    out
}

/// Every drive of the cluster, node by node.
fn all_drives(env: &ClusterEnv) -> Vec<std::path::PathBuf> {
    env.cluster
        .nodes
        .iter()
        .flat_map(|n| n.drives.iter().cloned())
        .collect()
}

/// Waits until every drive holds the same footprint of each live key (and a meta file),
/// and no drive holds anything of a deleted key.
fn wait_healed(env: &ClusterEnv, bucket: &str, live: &[String], gone: &[String]) {
    let drives = all_drives(env);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut missing = Vec::new();
        for key in live {
            let prints: Vec<_> = drives.iter().map(|d| footprint(d, bucket, key)).collect();
            let complete =
                prints[0].contains_key("tessera.meta") && prints.iter().all(|p| *p == prints[0]);
            if !complete {
                missing.push(key.clone());
            }
        }
        for key in gone {
            if drives.iter().any(|d| d.join(bucket).join(key).exists()) {
                missing.push(format!("{key} (deleted)"));
            }
        }
        if missing.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!("not healed after 90 s: {missing:?}\n{}", logs(env));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_node_back_gets_the_shards_it_missed() {
    let mut env = ClusterEnv::start(4, 4);
    let mut c = Vec::new();
    for n in &env.cluster.nodes {
        c.push(n.client().await);
    }
    mb(&mut c[0], "heal").await;
    let size = |i: u64| {
        if i.is_multiple_of(2) {
            700
        } else {
            (2 << 20) + 5
        }
    };
    for i in 0..6u64 {
        put(
            &mut c[0],
            "heal",
            &format!("old{i}"),
            &pattern(size(i) as usize, i),
        )
        .await
        .expect("put");
    }
    env.cluster.node_mut(3).kill9();
    // While node 4 is away: new objects, overwrites, deletes, through nodes 1-3.
    let mut live: Vec<String> = Vec::new();
    for i in 0..8u64 {
        let key = format!("new{i}");
        put(
            &mut c[(i % 3) as usize],
            "heal",
            &key,
            &pattern(size(i) as usize, 100 + i),
        )
        .await
        .unwrap_or_else(|e| panic!("put with a node down: {e}"));
        live.push(key);
    }
    for i in 0..2u64 {
        put(
            &mut c[1],
            "heal",
            &format!("old{i}"),
            &pattern(size(i + 1) as usize, 200 + i),
        )
        .await
        .expect("overwrite");
    }
    let gone: Vec<String> = (4..6).map(|i| format!("old{i}")).collect();
    for key in &gone {
        c[2].delete_object(pb::DeleteObjectRequest {
            bucket: "heal".into(),
            key: key.clone(),
        })
        .await
        .expect("delete");
    }
    live.extend((0..4).map(|i| format!("old{i}")));
    env.cluster.restart(3);
    wait_healed(&env, "heal", &live, &gone);
    // And the healed node serves what it missed.
    let mut c4 = env.cluster.node(3).client().await;
    let got = get(&mut c4, "heal", "new1").await.expect("get");
    assert!(got == pattern(size(1) as usize, 101));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_wiped_drive_is_replaced_and_refilled() {
    let mut env = ClusterEnv::start(4, 4);
    let mut c = env.cluster.node(0).client().await;
    mb(&mut c, "wipe").await;
    let keys: Vec<String> = (0..6).map(|i| format!("w/{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        put(
            &mut c,
            "wipe",
            k,
            &pattern(if i % 2 == 0 { 300 } else { 1 << 20 }, i as u64),
        )
        .await
        .expect("put");
    }
    env.cluster.node_mut(1).kill9();
    std::fs::remove_dir_all(&env.cluster.node(1).drives[2]).expect("wipe drive");
    env.cluster.restart(1);
    let log = env.cluster.node(1).log_text();
    assert!(log.contains("formatting it as a replacement"), "{log}");
    wait_healed(&env, "wipe", &keys, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_the_scanner_heals_what_a_dead_writers_queue_lost() {
    // 3 nodes × 2 drives (one set of 6, 3+3): writes go on with a node down.
    let mut env = ClusterEnv::start_with(3, 2, &["--scan-interval", "1"]);
    let mut c = env.cluster.node(0).client().await;
    mb(&mut c, "scan").await;
    env.cluster.node_mut(2).kill9();
    let keys: Vec<String> = (0..4).map(|i| format!("s/{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let size = if i % 2 == 0 { 500 } else { (1 << 20) + 3 };
        put(&mut c, "scan", k, &pattern(size, i as u64))
            .await
            .unwrap_or_else(|e| panic!("put with a node down: {e}"));
    }
    // The writer dies too, and its queue of partial writes with it.
    env.cluster.node_mut(0).kill9();
    env.cluster.spawn(2);
    env.cluster.spawn(0);
    env.cluster.wait_ready(Duration::from_secs(60));
    env.cluster.wait_all_online(Duration::from_secs(30));
    wait_healed(&env, "scan", &keys, &[]);
    let logs = env.cluster.logs();
    assert!(
        logs.contains("scanner queued objects for healing"),
        "{logs}"
    );
    // One node scans the set, not every node.
    let scanning = (0..3)
        .filter(|&i| {
            let log = env.cluster.node(i).log_text();
            log.contains("background scanner started")
        })
        .count();
    assert_eq!(scanning, 1, "nodes running the set's scanner\n{logs}");
}
