//! Unit tests of a set on local drives in a temp dir: encode/decode round trips at the edge
//! sizes, range reads at block edges, and detection of corrupt shards.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::drive::local::LocalDrive;
use crate::drive::{Drive, format};
use crate::layout::Placement;
use crate::lock::LocalLocks;

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

pub(super) async fn set(dir: &std::path::Path, n: usize, parity: usize) -> ErasureSet {
    let mut drives: Vec<Arc<dyn Drive>> = Vec::new();
    for i in 0..n {
        let d = LocalDrive::open(dir.join(format!("d{i}"))).unwrap();
        std::fs::write(d.root().join(".tessera").join(format::FORMAT_FILE), "{}").unwrap();
        d.make_volume("b").await.unwrap();
        drives.push(Arc::new(d));
    }
    ErasureSet::new(SetConfig {
        pool: 0,
        index: 0,
        drives,
        parity,
        placement: Placement::new(&uuid::Uuid::from_u128(1), 1),
        locks: Arc::new(LocalLocks::new(Duration::from_secs(5))),
        metrics: None,
        commit_pause: None,
    })
    .unwrap()
}

async fn read(set: &ErasureSet, key: &str, range: RangeSpec) -> Result<Vec<u8>, ErasureError> {
    let mut r = set.reads().get_object("b", key, range, None).await?;
    let mut out = Vec::new();
    while let Some(chunk) = r.next_chunk().await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

pub(super) async fn write(set: &ErasureSet, key: &str, body: &[u8]) -> ObjectMeta {
    let mut reader = std::io::Cursor::new(body.to_vec());
    set.writes()
        .put_object(
            "b",
            key,
            &ObjectAttrs::default(),
            &mut reader,
            Some(body.len() as u64),
            &WriteCondition::NONE,
        )
        .await
        .unwrap()
}

const SIZES: [usize; 10] = [
    0,
    1,
    INLINE_LIMIT - 1,
    INLINE_LIMIT,
    INLINE_LIMIT + 1,
    BLOCK_SIZE - 1,
    BLOCK_SIZE,
    BLOCK_SIZE + 1,
    5 * BLOCK_SIZE + 333,
    2 * BLOCK_SIZE,
];

#[tokio::test]
async fn objects_round_trip_at_every_edge_size() {
    for (n, m) in [(4, 2), (6, 3), (5, 2), (1, 0)] {
        let dir = tempfile::tempdir().unwrap();
        let set = set(dir.path(), n, m).await;
        for size in SIZES {
            let body = data(size);
            let key = format!("k{size}");
            let meta = write(&set, &key, &body).await;
            assert_eq!(meta.size, size as u64);
            assert_eq!(meta.is_inline(), size <= INLINE_LIMIT, "{size}");
            assert_eq!(
                read(&set, &key, RangeSpec::Full).await.unwrap(),
                body,
                "{n}+{m} size {size}"
            );
        }
    }
}

#[tokio::test]
async fn range_reads_at_block_edges_return_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let set = set(dir.path(), 4, 2).await;
    let body = data(3 * BLOCK_SIZE + 100);
    write(&set, "r", &body).await;
    let b = BLOCK_SIZE as u64;
    let len = body.len() as u64;
    for (s, e) in [
        (0, 1),
        (b - 1, b),
        (b - 1, b + 1),
        (b, b + 1),
        (b + 1, 3 * b),
        (3 * b, len),
        (len - 1, len),
    ] {
        let got = read(&set, "r", RangeSpec::Bounded(s, e)).await.unwrap();
        assert_eq!(got, &body[s as usize..e as usize], "{s}..{e}");
    }
    assert_eq!(
        read(&set, "r", RangeSpec::Suffix(10)).await.unwrap(),
        &body[body.len() - 10..]
    );
    assert_eq!(
        read(&set, "r", RangeSpec::From(2 * b)).await.unwrap(),
        &body[2 * BLOCK_SIZE..]
    );
    assert!(matches!(
        read(&set, "r", RangeSpec::From(len)).await,
        Err(ErasureError::InvalidRange { .. })
    ));
}

#[tokio::test]
async fn a_corrupt_shard_is_detected_and_rebuilt_from_parity() {
    let dir = tempfile::tempdir().unwrap();
    let set = set(dir.path(), 4, 2).await;
    let body = data(2 * BLOCK_SIZE + 7);
    let meta = write(&set, "c", &body).await;
    // Flip a byte in the shard file of the drive holding data shard 0, in every block.
    let dist = &meta.erasure.as_ref().unwrap().distribution;
    let drive0 = dir.path().join(format!("d{}", dist[0]));
    let shard = drive0.join("b/c").join(&meta.data_dir).join("part.1");
    let mut bytes = std::fs::read(&shard).unwrap();
    let frame = 8 + BLOCK_SIZE / 2;
    for at in [20, frame + 20, 2 * frame + 9] {
        bytes[at] ^= 1;
    }
    std::fs::write(&shard, &bytes).unwrap();
    assert_eq!(read(&set, "c", RangeSpec::Full).await.unwrap(), body);
    // A third lost shard (beyond m = 2): a clear error, never wrong bytes.
    for s in [1usize, 2] {
        let p = dir
            .path()
            .join(format!("d{}", dist[s]))
            .join("b/c")
            .join(&meta.data_dir)
            .join("part.1");
        std::fs::write(&p, Bytes::from_static(b"garbage")).unwrap();
    }
    assert!(matches!(
        read(&set, "c", RangeSpec::Full).await,
        Err(ErasureError::TooFewShards { .. })
    ));
}

/// What a crash leaves of an unacknowledged new object written with one flush
/// (`Target::Fresh`): metadata files renamed into place whose bytes never reached the disk.
#[tokio::test]
async fn torn_metadata_files_read_as_no_object() {
    let dir = tempfile::tempdir().unwrap();
    let set = set(dir.path(), 4, 2).await;
    let body = data(1000);
    write(&set, "t", &body).await;
    let meta_file = |d: usize| dir.path().join(format!("d{d}/b/t/tessera.meta"));
    // A crash leaves no listing summary beside a torn file: the summary is removed before
    // the file changes and set again only once it is durable.
    let tear = |d: usize, bytes: Vec<u8>| {
        let object_dir = std::ffi::CString::new(format!("{}/d{d}/b/t", dir.path().display()));
        let _ = crate::sys::remove_xattr(&object_dir.unwrap(), c"user.tessera");
        std::fs::write(meta_file(d), bytes).unwrap();
    };
    // One torn drive of four: the object still reads, from the three others.
    tear(0, Vec::new());
    assert_eq!(read(&set, "t", RangeSpec::Full).await.unwrap(), body);
    // All torn (empty, or zero-filled as some file systems leave them): no object at all,
    // neither to reads nor to listings, and the key takes a new write.
    for d in 1..4 {
        tear(d, vec![0u8; 4096 * (d % 2)]);
    }
    assert!(matches!(
        set.reads().head_object("b", "t", None).await,
        Err(ErasureError::ObjectNotFound { .. })
    ));
    let opts = crate::drive::WalkOptions {
        recursive: true,
        limit: 100,
        ..Default::default()
    };
    assert!(set.list_page("b", &opts).await.unwrap().entries.is_empty());
    // A delete of the key clears them away.
    assert!(matches!(
        set.writes().delete_object("b", "t").await,
        Err(ErasureError::ObjectNotFound { .. })
    ));
    for d in 0..4 {
        assert!(
            !meta_file(d).parent().unwrap().exists(),
            "torn file left on d{d}"
        );
    }
    let again = data(5000);
    write(&set, "t", &again).await;
    assert_eq!(read(&set, "t", RangeSpec::Full).await.unwrap(), again);
    // A file that fails its checks otherwise is corrupt, not absent.
    for d in 0..4 {
        std::fs::write(meta_file(d), b"not a metadata file").unwrap();
    }
    assert!(!matches!(
        set.reads().head_object("b", "t", None).await,
        Err(ErasureError::ObjectNotFound { .. }) | Ok(_)
    ));
}

#[tokio::test]
async fn racing_writes_that_require_a_new_key_commit_once() {
    let dir = tempfile::tempdir().unwrap();
    let set = set(dir.path(), 4, 2).await;
    let absent = WriteCondition {
        if_none_match: Some(ETagMatch::Any),
        ..WriteCondition::NONE
    };
    // Inline and streamed bodies commit by different paths; each races eight writers.
    for (key, len) in [("small", 1000), ("large", BLOCK_SIZE + 7)] {
        let bodies: Vec<Vec<u8>> = (0..8u8)
            .map(|i| data(len).into_iter().map(|b| b ^ i).collect())
            .collect();
        let results = futures::future::join_all(bodies.iter().map(|body| {
            let (set, absent) = (&set, &absent);
            async move {
                let mut reader = std::io::Cursor::new(body.clone());
                let attrs = ObjectAttrs::default();
                set.writes()
                    .put_object("b", key, &attrs, &mut reader, None, absent)
                    .await
            }
        }))
        .await;
        let won: Vec<usize> = (0..8).filter(|&i| results[i].is_ok()).collect();
        assert_eq!(
            won.len(),
            1,
            "{key}: exactly one writer commits: {results:?}"
        );
        for r in results.iter().filter(|r| r.is_err()) {
            assert!(
                matches!(r, Err(ErasureError::PreconditionFailed { .. })),
                "{key}: {r:?}"
            );
        }
        let got = read(&set, key, RangeSpec::Full).await.unwrap();
        assert!(
            got == bodies[won[0]],
            "{key}: the winner's bytes are stored"
        );
    }
}

/// A multipart object of two parts (5 MiB and a bit), and its bytes.
async fn write_multipart(set: &ErasureSet, key: &str, seed: u8) -> Vec<u8> {
    let id = set
        .uploads()
        .create_upload("b", key, &ObjectAttrs::default())
        .await
        .unwrap();
    let parts = [MIN_PART_SIZE as usize, BLOCK_SIZE + 5].map(|len| {
        data(len)
            .into_iter()
            .map(|b| b.wrapping_add(seed))
            .collect::<Vec<u8>>()
    });
    let mut listed = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let number = i as u32 + 1;
        let mut r = std::io::Cursor::new(p.clone());
        let up = set
            .uploads()
            .upload_part("b", key, &id, number, (&mut r, None), &Default::default())
            .await;
        let etag = up.unwrap().etag;
        listed.push(CompletePart {
            number,
            etag,
            ..Default::default()
        });
    }
    set.uploads()
        .complete_upload(
            "b",
            key,
            &id,
            &listed,
            &WriteCondition::NONE,
            &Default::default(),
        )
        .await
        .unwrap();
    parts.concat()
}

#[tokio::test]
async fn a_get_streaming_a_multipart_object_outlives_its_overwrite_and_its_delete() {
    // A GET opens a part's shards when it reaches the part; the version it streams may be
    // replaced or deleted before then, and its data must still be there.
    let dir = tempfile::tempdir().unwrap();
    let set = set(dir.path(), 4, 2).await;
    for replace in [true, false] {
        let old = write_multipart(&set, "mp", 1).await;
        let mut reader = set
            .reads()
            .get_object("b", "mp", RangeSpec::Full, None)
            .await
            .unwrap();
        let mut got = reader.next_chunk().await.unwrap().unwrap().to_vec();
        if replace {
            write_multipart(&set, "mp", 2).await;
        } else {
            set.writes().delete_object("b", "mp").await.unwrap();
        }
        while let Some(chunk) = reader.next_chunk().await.unwrap() {
            got.extend_from_slice(&chunk);
        }
        assert!(
            got == old,
            "replace {replace}: the GET returns the version it began"
        );
    }
}
