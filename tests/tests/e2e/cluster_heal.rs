//! Healing in a cluster, checked on disk: a node that was down while objects were
//! written, overwritten and deleted gets every shard back (the writers' queues replay when
//! it returns, and the scanner finds what a dead writer's queue took with it); a wiped
//! drive is formatted as a replacement and refilled; a drive damaged while its node was
//! down starts offline and is refilled once repaired.

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
pub(crate) fn footprint(drive: &Path, bucket: &str, key: &str) -> BTreeMap<String, u64> {
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
pub(crate) fn all_drives(env: &ClusterEnv) -> Vec<std::path::PathBuf> {
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
async fn cluster_a_damaged_drive_starts_offline_and_is_refilled_once_repaired() {
    // 2 nodes × 2 drives (one set, 2+2): three good drives hold the write quorum.
    let mut env = ClusterEnv::start(2, 2);
    let mut c = env.cluster.node(0).client().await;
    mb(&mut c, "dmg").await;
    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    let object = |prefix: &str, i: u64| {
        let size = if i.is_multiple_of(2) {
            300
        } else {
            (1 << 20) + 9
        };
        (format!("{prefix}/{i}"), pattern(size, i))
    };
    for i in 0..4 {
        let (key, data) = object("before", i);
        put(&mut c, "dmg", &key, &data).await.expect("put");
        objects.push((key, data));
    }
    env.cluster.node_mut(1).kill9();
    let bad = env.cluster.node(1).drives[1].clone();
    std::fs::remove_dir_all(&bad).expect("remove drive");
    std::fs::write(&bad, b"not a drive").expect("a file in its place");
    env.cluster.spawn(1);
    env.cluster.wait_ready(Duration::from_secs(60));
    let lines = |env: &ClusterEnv, what: &str| {
        let drive = bad.display().to_string();
        (env.cluster.node(1).log_text().lines())
            .filter(|l| l.contains(&drive) && l.contains(what))
            .count()
    };
    assert_eq!(lines(&env, "drive offline"), 1, "{}", logs(&env));
    let mut c2 = env.cluster.node(1).client().await;
    for i in 10..14 {
        let (key, data) = object("during", i);
        put(&mut c2, "dmg", &key, &data)
            .await
            .unwrap_or_else(|e| panic!("put with a drive offline: {e}\n{}", logs(&env)));
        objects.push((key, data));
    }
    for (key, data) in &objects {
        let got = get(&mut c, "dmg", key).await.expect("get");
        assert!(got == *data, "{key} differs");
    }
    std::fs::remove_file(&bad).expect("remove the file");
    std::fs::create_dir(&bad).expect("an empty drive in its place");
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines(&env, "drive back online") == 0 {
        assert!(Instant::now() < deadline, "not picked up:\n{}", logs(&env));
        std::thread::sleep(Duration::from_millis(100));
    }
    let keys: Vec<String> = objects.into_iter().map(|(k, _)| k).collect();
    wait_healed(&env, "dmg", &keys, &[]);
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
