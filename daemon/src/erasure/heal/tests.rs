//! Heal tests on sets of local drives in a temp dir (each wrapped so the test can switch it
//! offline): a drive's copy is damaged or goes missing, the heal rebuilds it byte for byte,
//! and reads then succeed with other drives gone (DESIGN.md, "Healing").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::drive::slot::LocalSlot;
use crate::drive::{Drive, format};
use crate::erasure::ErasureSet;
use crate::erasure::heal::scanner::ScannerConfig;
use crate::erasure::limits::{BLOCK_SIZE, MIN_PART_SIZE};
use crate::erasure::meta::ObjectMeta;
use crate::erasure::{CompletePart, ObjectAttrs, RangeSpec, SetConfig, WriteCondition};
use crate::layout::Placement;
use crate::lock::LocalLocks;
use crate::object::{ObjectLayer, Pool};

fn data(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i + seed).wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    drives: Vec<Arc<LocalSlot>>,
    set: Arc<ErasureSet>,
}

fn placement() -> Placement {
    Placement::new(&uuid::Uuid::from_u128(7), 1)
}

async fn fixture(n: usize, parity: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let mut drives = Vec::new();
    for i in 0..n {
        // A drive the test can switch offline, as a remote drive of a stopped node.
        let d = LocalSlot::open(root.join(format!("d{i}")));
        std::fs::write(d.root().join(".tessera").join(format::FORMAT_FILE), "{}").unwrap();
        d.make_volume("b").await.unwrap();
        drives.push(Arc::new(d));
    }
    let set = ErasureSet::new(SetConfig {
        pool: 0,
        index: 0,
        drives: drives.iter().map(|d| d.clone() as Arc<dyn Drive>).collect(),
        parity,
        placement: placement(),
        locks: Arc::new(LocalLocks::new(Duration::from_secs(5))),
        metrics: None,
        commit_pause: None,
    })
    .unwrap();
    Fixture {
        _dir: dir,
        root,
        drives,
        set: Arc::new(set),
    }
}

impl Fixture {
    fn path(&self, d: usize, rel: &str) -> PathBuf {
        self.root.join(format!("d{d}")).join(rel)
    }

    /// Every file under `b/<key>` of drive `d`, by relative path.
    fn files(&self, d: usize, key: &str) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    let rel = p.strip_prefix(base).unwrap().to_path_buf();
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        let base = self.path(d, &format!("b/{key}"));
        let mut out = BTreeMap::new();
        walk(&base, &base, &mut out);
        out
    }

    fn all_files(&self, key: &str) -> Vec<BTreeMap<PathBuf, Vec<u8>>> {
        (0..self.drives.len()).map(|d| self.files(d, key)).collect()
    }

    fn offline(&self, drives: &[usize], off: bool) {
        for &d in drives {
            let slot = &self.drives[d];
            if off {
                slot.set_offline("switched off by the test");
            } else {
                slot.set_online(slot.reopen().unwrap());
            }
        }
    }

    async fn put(&self, key: &str, body: &[u8]) -> ObjectMeta {
        let mut reader = std::io::Cursor::new(body.to_vec());
        let attrs = ObjectAttrs::default();
        let len = Some(body.len() as u64);
        self.set
            .writes()
            .put_object("b", key, &attrs, &mut reader, len, &WriteCondition::NONE)
            .await
            .unwrap()
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, ErasureError> {
        let mut r = self
            .set
            .reads()
            .get_object("b", key, RangeSpec::Full, None)
            .await?;
        let mut out = Vec::new();
        while let Some(chunk) = r.next_chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Reads `key` with every drive but `keep` offline (k of them), then switches all back.
    async fn read_with_only(&self, keep: &[usize], key: &str) -> Vec<u8> {
        let others: Vec<usize> = (0..self.drives.len())
            .filter(|d| !keep.contains(d))
            .collect();
        self.offline(&others, true);
        let got = self.read(key).await;
        self.offline(&others, false);
        got.unwrap()
    }
}

/// The drive holding shard `s` of an object.
fn holder(meta: &ObjectMeta, s: usize) -> usize {
    meta.erasure.as_ref().unwrap().distribution[s] as usize
}

#[tokio::test]
async fn heal_rebuilds_a_drive_that_lost_the_object_byte_for_byte() {
    let f = fixture(6, 2).await;
    let body = data(3 * BLOCK_SIZE + 333, 1);
    let meta = f.put("big", &body).await;
    let before = f.all_files("big");
    let lost = holder(&meta, 0);
    std::fs::remove_dir_all(f.path(lost, "b/big")).unwrap();

    let outcome = f.set.healer().heal_object("b", "big").await.unwrap();
    assert_eq!(outcome.repaired, [lost]);
    assert!(outcome.exists && outcome.is_complete());
    assert_eq!(f.all_files("big"), before);
    // Data shards 1..4 live elsewhere: a read from the healed drive and k-1 others.
    let keep: Vec<usize> = [1, 4, 5].iter().map(|&s| holder(&meta, s)).collect();
    assert_eq!(
        f.read_with_only(&[&keep[..], &[lost]].concat(), "big")
            .await,
        body
    );
    // A second heal finds nothing to do.
    assert!(
        f.set
            .healer()
            .heal_object("b", "big")
            .await
            .unwrap()
            .repaired
            .is_empty()
    );
}

#[tokio::test]
async fn a_corrupt_frame_is_found_by_a_deep_scan_and_rebuilt() {
    let f = fixture(4, 2).await;
    let body = data(2 * BLOCK_SIZE + 7, 2);
    let meta = f.put("c", &body).await;
    let before = f.all_files("c");
    let bad = holder(&meta, 1);
    let shard = f.path(bad, &format!("b/c/{}/part.1", meta.data_dir));
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[100] ^= 1; // first frame: a Normal scan only reads the last one
    std::fs::write(&shard, &bytes).unwrap();

    let normal = f
        .set
        .healer()
        .heal_object_with("b", "c", HealScan::Normal)
        .await;
    assert!(normal.unwrap().repaired.is_empty());
    let deep = f
        .set
        .healer()
        .heal_object_with("b", "c", HealScan::Deep)
        .await;
    assert_eq!(deep.unwrap().repaired, [bad]);
    assert_eq!(f.all_files("c"), before);
    let keep = [bad, holder(&meta, 3)];
    assert_eq!(f.read_with_only(&keep, "c").await, body);
}

#[tokio::test]
async fn heal_rebuilds_every_part_of_a_multipart_object() {
    let f = fixture(4, 2).await;
    let attrs = ObjectAttrs::default();
    let id = f
        .set
        .uploads()
        .create_upload("b", "mp", &attrs)
        .await
        .unwrap();
    let parts = [data(MIN_PART_SIZE as usize, 3), data(BLOCK_SIZE + 5, 4)];
    let mut listed = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let mut r = std::io::Cursor::new(p.clone());
        let number = i as u32 + 1;
        let none = Default::default();
        let up = f
            .set
            .uploads()
            .upload_part("b", "mp", &id, number, (&mut r, None), &none);
        let etag = up.await.unwrap().etag;
        listed.push(CompletePart {
            number,
            etag,
            ..Default::default()
        });
    }
    let meta = f
        .set
        .uploads()
        .complete_upload(
            "b",
            "mp",
            &id,
            &listed,
            &WriteCondition::NONE,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(meta.parts.len(), 2);
    let before = f.all_files("mp");
    // One drive loses everything, another only its shard of part 2.
    let (gone, partial) = (holder(&meta, 0), holder(&meta, 2));
    std::fs::remove_dir_all(f.path(gone, "b/mp")).unwrap();
    std::fs::remove_file(f.path(partial, &format!("b/mp/{}/part.2", meta.data_dir))).unwrap();

    let mut outcome = f.set.healer().heal_object("b", "mp").await.unwrap();
    outcome.repaired.sort_unstable();
    let mut want = vec![gone, partial];
    want.sort_unstable();
    assert_eq!(outcome.repaired, want);
    assert_eq!(f.all_files("mp"), before);
    assert_eq!(
        f.read_with_only(&[gone, partial], "mp").await,
        parts.concat()
    );
}

#[tokio::test]
async fn heal_rewrites_inline_and_stale_copies_and_a_missing_bucket_volume() {
    let f = fixture(4, 2).await;
    let meta = f.put("small", b"old").await;
    let stale = holder(&meta, 0);
    let old_meta = std::fs::read(f.path(stale, "b/small/tessera.meta")).unwrap();
    let body = data(5000, 5);
    let meta = f.put("small", &body).await;
    assert!(meta.is_inline());
    let before = f.all_files("small");
    // One drive went back to the old version; another lost the whole bucket volume.
    std::fs::write(f.path(stale, "b/small/tessera.meta"), old_meta).unwrap();
    let wiped = holder(&meta, 1);
    std::fs::remove_dir_all(f.path(wiped, "b")).unwrap();

    let mut outcome = f.set.healer().heal_object("b", "small").await.unwrap();
    outcome.repaired.sort_unstable();
    let mut want = vec![stale, wiped];
    want.sort_unstable();
    assert_eq!(outcome.repaired, want);
    assert_eq!(f.all_files("small"), before);
    assert_eq!(f.read_with_only(&[stale, wiped], "small").await, body);
}

#[tokio::test]
async fn heal_removes_the_leftover_of_an_object_deleted_while_a_drive_was_away() {
    let f = fixture(4, 2).await;
    let meta = f.put("del", &data(BLOCK_SIZE + 1, 6)).await;
    let away = holder(&meta, 3);
    f.offline(&[away], true);
    f.set.writes().delete_object("b", "del").await.unwrap();
    f.offline(&[away], false);
    assert!(!f.files(away, "del").is_empty());

    let outcome = f.set.healer().heal_object("b", "del").await.unwrap();
    assert!(!outcome.exists);
    assert_eq!(outcome.repaired, [away]);
    assert!(f.files(away, "del").is_empty());
    assert!(matches!(
        f.read("del").await,
        Err(ErasureError::ObjectNotFound { .. })
    ));
}

#[tokio::test]
async fn a_leftover_is_kept_while_offline_drives_could_still_hold_the_object() {
    let f = fixture(4, 2).await;
    let meta = f.put("keep", &data(10, 7)).await;
    // Two drives lost the object, two are offline: nobody can tell it was deleted.
    let (a, b) = (holder(&meta, 0), holder(&meta, 1));
    std::fs::remove_dir_all(f.path(a, "b/keep")).unwrap();
    std::fs::remove_dir_all(f.path(b, "b/keep")).unwrap();
    let (c, d) = (holder(&meta, 2), holder(&meta, 3));
    f.offline(&[c], true);
    let outcome = f.set.healer().heal_object("b", "keep").await.unwrap();
    assert!(!outcome.exists && outcome.repaired.is_empty());
    assert_eq!(outcome.offline, [c]);
    assert!(!f.files(d, "keep").is_empty());
}

/// Polls `done` on paused time (the healer's delays pass at once) until it holds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(start_paused = true)]
async fn a_read_that_finds_a_lost_shard_queues_a_heal_the_healer_performs() {
    let f = fixture(4, 2).await;
    let healer = HealerHandle::start([f.set.healer().clone()], HealerConfig::default());
    let body = data(BLOCK_SIZE + 99, 8);
    let meta = f.put("r", &body).await;
    let before = f.all_files("r");
    // A data shard goes missing: the GET rebuilds from parity and queues a heal.
    let lost = holder(&meta, 0);
    std::fs::remove_file(f.path(lost, &format!("b/r/{}/part.1", meta.data_dir))).unwrap();
    assert_eq!(f.read("r").await.unwrap(), body);
    eventually("shard rebuilt", async || f.all_files("r") == before).await;
    // A drive without the metadata: a HEAD queues the heal.
    let small = f.put("h", b"hello").await;
    let gone = holder(&small, 2);
    std::fs::remove_dir_all(f.path(gone, "b/h")).unwrap();
    f.set.reads().head_object("b", "h", None).await.unwrap();
    eventually("metadata rebuilt", async || !f.files(gone, "h").is_empty()).await;
    healer.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn writes_while_a_drive_is_offline_are_healed_once_it_is_back() {
    let f = fixture(4, 2).await;
    f.put("doomed", b"bye").await;
    f.put("over", b"v1").await;
    let healer = HealerHandle::start([f.set.healer().clone()], HealerConfig::default());
    let away = 3;
    f.offline(&[away], true);
    let big = data(2 * BLOCK_SIZE + 3, 9);
    f.put("big", &big).await;
    f.put("tiny", b"tiny").await;
    f.put("over", b"v2").await;
    f.set.writes().delete_object("b", "doomed").await.unwrap();
    assert_eq!(f.set.healer().queued_heals().await, 4);
    // While the drive is away the healer waits (its delays pass on paused time).
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(f.set.healer().queued_heals().await, 4);
    assert!(f.files(away, "big").is_empty());

    f.offline(&[away], false);
    eventually("queue drained", async || {
        f.set.healer().queued_heals().await == 0
    })
    .await;
    eventually("drive healed", async || {
        !f.files(away, "big").is_empty() && f.files(away, "doomed").is_empty()
    })
    .await;
    // Every object reads from the returned drive plus one other (k = 2).
    for (key, body) in [("big", &big[..]), ("tiny", b"tiny"), ("over", b"v2")] {
        assert_eq!(f.read_with_only(&[away, 0], key).await, body, "{key}");
    }
    healer.shutdown().await;
}

#[tokio::test]
async fn heal_bucket_creates_missing_volumes_and_removes_deleted_buckets() {
    let f = fixture(4, 2).await;
    let layer = ObjectLayer::new(
        uuid::Uuid::from_u128(7).to_string(),
        vec![Pool {
            sets: vec![f.set.clone()],
            placement: placement(),
        }],
    );
    let away = 2;
    layer.make_bucket("gone").await.unwrap();
    f.offline(&[away], true);
    layer.make_bucket("fresh").await.unwrap();
    for key in ["a", "b/c", "d/"] {
        let mut body = std::io::Cursor::new(data(300_000, 10));
        let attrs = ObjectAttrs::default();
        layer
            .put_object("fresh", key, &attrs, &mut body, None, &WriteCondition::NONE)
            .await
            .unwrap();
    }
    layer.delete_bucket("gone").await.unwrap();
    f.offline(&[away], false);
    assert!(f.path(away, "gone").is_dir());

    let summary = layer
        .heal_bucket("fresh", "", HealScan::Normal)
        .await
        .unwrap();
    assert_eq!((summary.scanned, summary.repaired), (3, 3));
    assert_eq!(summary.volumes_created, 1);
    assert!(f.path(away, ".tessera/buckets/fresh").is_file());
    f.offline(&[0, 1], true);
    for key in ["a", "b/c", "d/"] {
        layer.head_object("fresh", key).await.unwrap();
    }
    f.offline(&[0, 1], false);

    let removed = layer
        .heal_bucket("gone", "", HealScan::Normal)
        .await
        .unwrap();
    assert_eq!(removed.volumes_removed, 1);
    assert!(!f.path(away, "gone").exists());
    assert!(matches!(
        layer.heal_bucket("gone", "", HealScan::Normal).await,
        Err(crate::object::ObjectError::BucketNotFound { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn the_scanner_finds_damage_no_queue_entry_names_and_the_healer_repairs_it() {
    let f = fixture(4, 2).await;
    let big = data(BLOCK_SIZE + 5, 3);
    let meta = f.put("big", &big).await;
    f.put("kept", b"v1").await;
    f.put("doomed", b"bye").await;
    let before = f.all_files("big");
    let kept = f.all_files("kept");
    // Behind the set's back, as a write or a delete that missed a drive on a node that then
    // died: one drive lacks "big", and one drive still holds the deleted "doomed".
    std::fs::remove_dir_all(f.path(holder(&meta, 1), "b/big")).unwrap();
    for d in 0..3 {
        std::fs::remove_dir_all(f.path(d, "b/doomed")).unwrap();
    }
    assert_eq!(f.set.healer().queued_heals().await, 0);
    let config = HealerConfig {
        scanner: Some(ScannerConfig {
            interval: Duration::from_secs(60),
            tranquility: 1,
            retry_delay: Duration::from_secs(1),
        }),
        ..HealerConfig::default()
    };
    let healer = HealerHandle::start([f.set.healer().clone()], config);
    eventually("big rebuilt", async || f.all_files("big") == before).await;
    eventually("leftover removed", async || f.files(3, "doomed").is_empty()).await;
    assert_eq!(f.all_files("kept"), kept, "an intact object is left alone");
    assert_eq!(f.read("big").await.unwrap(), big);
    healer.shutdown().await;
}
