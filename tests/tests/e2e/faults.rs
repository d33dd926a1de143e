//! Faults for real: wiped drives, removed and corrupted shard files, kill -9 mid-PUT, and
//! writes that cannot reach their quorum.

use std::time::Duration;

use tessera_proto::object as pb;
use tessera_tests::{flip_bytes, pattern};
use tonic::Code;

use crate::common::*;

/// Objects of every interesting size, stored under `obj/<size>`.
async fn fill(c: &mut tessera_proto::client::ObjectClient) -> Vec<(String, Vec<u8>)> {
    mb(c, "faults").await;
    let mut out = Vec::new();
    for (i, size) in edge_sizes().into_iter().enumerate() {
        let data = pattern(size, 100 + i as u64);
        let key = format!("obj/{size}");
        put(c, "faults", &key, &data).await.unwrap();
        out.push((key, data));
    }
    out
}

async fn all_read_back(c: &mut tessera_proto::client::ObjectClient, objects: &[(String, Vec<u8>)]) {
    for (key, data) in objects {
        let got = get(c, "faults", key)
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        assert!(got == *data, "{key}: wrong bytes");
    }
}

#[tokio::test]
async fn objects_read_back_bit_exact_with_m_drives_wiped() {
    for (drives, m) in [(4, 2), (6, 3)] {
        let env = Env::start(drives);
        let mut c = env.node.client().await;
        let objects = fill(&mut c).await;
        for d in 0..m {
            env.node.wipe_drive(d * 2 % drives);
        }
        all_read_back(&mut c, &objects).await;
        let (keys, _) = list(&mut c, "faults", "obj/", "").await;
        assert_eq!(
            keys.len(),
            objects.len(),
            "listing survives {m} wiped drives"
        );
        let info = c
            .cluster_info(pb::ClusterInfoRequest {})
            .await
            .unwrap()
            .into_inner();
        let unformatted = info.sets[0]
            .drives
            .iter()
            .filter(|d| d.state != pb::DriveState::Online as i32)
            .count();
        assert_eq!(unformatted, m);
    }
}

#[tokio::test]
async fn objects_read_back_with_m_drives_shard_files_deleted() {
    let env = Env::start(6);
    let mut c = env.node.client().await;
    let objects = fill(&mut c).await;
    for (key, _) in &objects {
        for d in [1, 3, 5] {
            let files = env.node.shard_files(d, "faults", key);
            if files.is_empty() {
                // Inline objects keep their shard in the metadata file: remove that instead.
                std::fs::remove_file(env.node.meta_file(d, "faults", key)).unwrap();
            }
            for f in files {
                std::fs::remove_file(f).unwrap();
            }
        }
    }
    all_read_back(&mut c, &objects).await;
}

#[tokio::test]
async fn reads_fail_clearly_never_with_wrong_data_when_more_than_m_drives_are_lost() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    let objects = fill(&mut c).await;
    // Corrupt (not delete) three drives' copies: m + 1 = 3 shards of every object lost.
    for (key, data) in &objects {
        if data.is_empty() {
            continue;
        }
        for d in 0..3 {
            let files = env.node.shard_files(d, "faults", key);
            if files.is_empty() {
                let meta = env.node.meta_file(d, "faults", key);
                let len = std::fs::metadata(&meta).unwrap().len();
                flip_bytes(&meta, len - 1, 1);
            }
            for f in files {
                flip_bytes(&f, 100, 8);
            }
        }
        let r = get(&mut c, "faults", key).await;
        assert_code(r, Code::Unavailable);
    }
    // With all but one drive wiped, reads fail as unavailable too.
    env.node.wipe_drive(0);
    env.node.wipe_drive(1);
    env.node.wipe_drive(2);
    let (key, _) = &objects[4];
    assert_code(get(&mut c, "faults", key).await, Code::Unavailable);
}

#[tokio::test]
async fn flipped_bytes_inside_shards_are_detected_and_reads_stay_correct() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    let objects = fill(&mut c).await;
    for (key, data) in &objects {
        if data.is_empty() {
            continue;
        }
        // Two drives (m) get damage in every block: data shards among them for sure.
        for d in [0, 1] {
            let files = env.node.shard_files(d, "faults", key);
            if files.is_empty() {
                // Inline: damage the shard frame at the end of the metadata file.
                let meta = env.node.meta_file(d, "faults", key);
                let len = std::fs::metadata(&meta).unwrap().len();
                flip_bytes(&meta, len - 2, 1);
            }
            for f in files {
                let len = std::fs::metadata(&f).unwrap().len();
                let mut at = 9;
                while at < len {
                    flip_bytes(&f, at, 1);
                    at += 256 * 1024;
                }
            }
        }
    }
    all_read_back(&mut c, &objects).await;
}

#[tokio::test]
async fn writes_without_write_quorum_fail_and_leave_nothing_visible() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "quorum").await;
    put(&mut c, "quorum", "existing", b"still here")
        .await
        .unwrap();
    // 2+2 needs 3 drives to write; leave 2.
    env.node.wipe_drive(0);
    env.node.wipe_drive(3);
    for (key, size) in [("small", 1000), ("large", 3 << 20)] {
        let s = assert_code(
            put(&mut c, "quorum", key, &pattern(size, 1)).await,
            Code::Unavailable,
        );
        assert!(s.message().contains("quorum"), "{}", s.message());
        assert_code(head(&mut c, "quorum", key).await, Code::NotFound);
    }
    let (keys, _) = list(&mut c, "quorum", "", "").await;
    assert_eq!(keys, ["existing"]);
    assert_eq!(
        get(&mut c, "quorum", "existing").await.unwrap(),
        b"still here"
    );
}

fn data_message(chunk: &[u8]) -> pb::PutObjectRequest {
    pb::PutObjectRequest {
        msg: Some(pb::put_object_request::Msg::Data(
            bytes::Bytes::copy_from_slice(chunk),
        )),
    }
}

#[tokio::test]
async fn kill_9_during_a_large_put_leaves_the_old_object_complete() {
    let mut env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "crash").await;
    let old = pattern(5 << 20, 1);
    put(&mut c, "crash", "k", &old).await.unwrap();
    // 24 MiB of a new version are in flight (the body stalls there) when the node dies.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut writer = env.node.client().await;
    let upload = writer.put_object(tokio_stream::wrappers::ReceiverStream::new(rx));
    let node = &mut env.node;
    let crash = async move {
        let header = pb::PutObjectRequest {
            msg: Some(pb::put_object_request::Msg::Header(pb::PutObjectHeader {
                bucket: "crash".into(),
                key: "k".into(),
                attributes: None,
                size: None,
            })),
        };
        tx.send(header).await.unwrap();
        for chunk in pattern(24 << 20, 5).chunks(1 << 20) {
            tx.send(data_message(chunk)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        node.kill9();
        drop(tx);
    };
    let (result, ()) = tokio::join!(upload, crash);
    assert!(result.is_err(), "the interrupted PUT must not succeed");
    env.node.restart();
    let mut c = env.node.client().await;
    assert_eq!(get(&mut c, "crash", "k").await.unwrap(), old);
    // Staging is reclaimed at start.
    for d in &env.node.drives {
        let tmp = d.join(".tessera/tmp");
        assert!(
            std::fs::read_dir(&tmp).map_or(true, |mut e| e.next().is_none()),
            "{} not empty",
            tmp.display()
        );
    }
}

#[tokio::test]
async fn kill_9_at_any_moment_of_a_put_leaves_old_or_new_never_a_mix() {
    let mut env = Env::start(4);
    mb(&mut env.node.client().await, "crash").await;
    let versions: Vec<Vec<u8>> = (0..6)
        .map(|i| pattern((3 << 20) + i * 1000, i as u64))
        .collect();
    let mut c = env.node.client().await;
    put(&mut c, "crash", "k", &versions[0]).await.unwrap();
    for (round, delay_ms) in [1u64, 15, 40, 80, 150].into_iter().enumerate() {
        let mut c = env.node.client().await;
        let node = &mut env.node;
        let (result, ()) = tokio::join!(
            put(&mut c, "crash", "k", &versions[round + 1]),
            async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                node.kill9();
            }
        );
        let acknowledged = result.is_ok();
        env.node.restart();
        let mut c = env.node.client().await;
        let got = get(&mut c, "crash", "k").await.unwrap();
        let i = versions
            .iter()
            .position(|v| *v == got)
            .unwrap_or_else(|| panic!("round {round}: torn object"));
        assert!(
            i == round + 1 || (i == round && !acknowledged),
            "round {round}: read version {i}, acknowledged {acknowledged}"
        );
        if i != round + 1 {
            // Keep the history simple: make the new version current before the next round.
            put(&mut c, "crash", "k", &versions[round + 1])
                .await
                .unwrap();
        }
    }
}
