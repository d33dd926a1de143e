use bytes::Bytes;

use super::read::CACHED_READ_MAX;
use super::walk::{cached_empty_walk, walk};
use super::*;
use crate::drive::{OBJECT_META_FILE, WalkMeta, metafile};

pub(super) fn drive() -> (tempfile::TempDir, LocalDrive) {
    let dir = tempfile::tempdir().unwrap();
    let drive = LocalDrive::open(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("d/.tessera/format.json"), "{}").unwrap();
    (dir, drive)
}

async fn put_object(d: &LocalDrive, key: &str) {
    put_object_with_header(d, key, key.as_bytes()).await;
}

/// An object `key` whose metadata file holds `header`.
pub(super) async fn put_object_with_header(d: &LocalDrive, key: &str, header: &[u8]) {
    let meta = metafile::encode(header, b"", b"");
    let dir = crate::drive::object_dir(key);
    d.write_all(
        "b",
        &format!("{dir}/{OBJECT_META_FILE}"),
        meta,
        Target::Fresh,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn paths_outside_the_drive_are_refused() {
    let (_t, d) = drive();
    d.make_volume("b").await.unwrap();
    for bad in [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "a//b",
        "",
        "a/./b",
        "a\0b",
    ] {
        assert!(
            matches!(
                d.read_all("b", bad).await,
                Err(DriveError::InvalidPath { .. })
            ),
            "{bad:?} accepted"
        );
        for target in [Target::Replace, Target::Fresh] {
            assert!(d.write_all("b", bad, Bytes::new(), target).await.is_err());
        }
    }
    assert!(matches!(
        d.make_volume("..").await,
        Err(DriveError::InvalidPath { .. })
    ));
    assert!(d.read_all("../d", "x").await.is_err());
}

#[tokio::test]
async fn walk_returns_keys_in_byte_order_with_prefixes() {
    let (t, d) = drive();
    d.make_volume("b").await.unwrap();
    for key in ["a", "a/b", "a-c", "a/b/c", "b0", "z/y/x", "d/"] {
        put_object(&d, key).await;
    }
    // Empty directories (left by a crash mid-delete) are neither objects nor prefixes.
    for empty in ["c0", "z/empty", "a/b/c/e"] {
        std::fs::create_dir_all(t.path().join("d/b").join(empty)).unwrap();
    }
    let all = |opts: WalkOptions| {
        let d = d.clone();
        async move {
            d.walk("b", &opts)
                .await
                .unwrap()
                .entries
                .into_iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
        }
    };
    let rec = WalkOptions {
        recursive: true,
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        all(rec.clone()).await,
        ["a", "a-c", "a/b", "a/b/c", "b0", "d/", "z/y/x"]
    );
    let flat = WalkOptions {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        all(flat.clone()).await,
        ["a", "a-c", "a/", "b0", "d/", "z/"]
    );
    let marker = WalkOptions {
        prefix: "d/".into(),
        ..flat.clone()
    };
    assert_eq!(all(marker).await, ["d/"]);
    let under_a = WalkOptions {
        prefix: "a/".into(),
        ..flat.clone()
    };
    assert_eq!(all(under_a).await, ["a/b", "a/b/"]);
    let after = WalkOptions {
        start_after: "a/b".into(),
        ..rec.clone()
    };
    assert_eq!(all(after).await, ["a/b/c", "b0", "d/", "z/y/x"]);
    let page = d.walk("b", &WalkOptions { limit: 2, ..rec }).await.unwrap();
    assert!(page.truncated);
    assert_eq!(page.entries.len(), 2);
    // The metadata header travels with each object.
    assert_eq!(page.entries[0].meta, Some(WalkMeta::Header("a".into())));
}

#[tokio::test]
async fn large_flat_pages_read_in_parallel_and_match_a_recursive_walk() {
    let (_t, d) = drive();
    d.make_volume("b").await.unwrap();
    // Enough entries for the parallel reads, with prefixes and objects interleaved.
    let mut keys: Vec<String> = (0..150).map(|i| format!("k{i:03}")).collect();
    keys.extend((0..20).map(|i| format!("k{:03}/sub", i * 7)));
    for key in &keys {
        put_object(&d, key).await;
    }
    let names = |opts: WalkOptions| {
        let d = d.clone();
        async move {
            let page = d.walk("b", &opts).await.unwrap();
            let metas_match = page.entries.iter().all(|e| match &e.meta {
                Some(WalkMeta::Header(h)) => h == e.name.as_bytes(),
                Some(WalkMeta::Summary(_)) => false,
                None => true,
            });
            assert!(metas_match, "every object carries its own header");
            (
                page.entries.into_iter().map(|e| e.name).collect::<Vec<_>>(),
                page.truncated,
            )
        }
    };
    let flat = WalkOptions {
        limit: 1000,
        ..Default::default()
    };
    let (all, truncated) = names(flat.clone()).await;
    assert!(!truncated);
    let mut expected: Vec<String> = (0..150).map(|i| format!("k{i:03}")).collect();
    expected.extend((0..20).map(|i| format!("k{:03}/", i * 7)));
    expected.sort();
    assert_eq!(all, expected);
    // Pages of 40 from any point give the same sequence.
    let mut paged = Vec::new();
    let mut start_after = String::new();
    loop {
        let opts = WalkOptions {
            limit: 40,
            start_after: start_after.clone(),
            ..Default::default()
        };
        let (page, truncated) = names(opts).await;
        paged.extend(page.iter().cloned());
        match page.last() {
            Some(last) if truncated => start_after = last.clone(),
            _ => break,
        }
    }
    assert_eq!(paged, expected);
    let recursive = WalkOptions {
        recursive: true,
        limit: 1000,
        ..Default::default()
    };
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(names(recursive).await.0, keys_sorted);
}

#[tokio::test]
async fn walk_prefixes_that_leave_the_volume_list_nothing() {
    let (t, d) = drive();
    d.make_volume("b").await.unwrap();
    d.make_volume("other").await.unwrap();
    put_object(&d, "a/b").await;
    // Objects beside and above the volume that an escaping walk would find.
    let meta = metafile::encode(b"secret", b"", b"");
    d.write_all(
        "other",
        &format!("secret/{OBJECT_META_FILE}"),
        meta.clone(),
        Target::Replace,
    )
    .await
    .unwrap();
    std::fs::create_dir_all(t.path().join("above")).unwrap();
    std::fs::write(t.path().join("above").join(OBJECT_META_FILE), &meta).unwrap();
    for prefix in [
        "../",
        "../other/",
        "/",
        "/etc/",
        "a//",
        "a/../",
        "./a/",
        "a/./",
    ] {
        for recursive in [false, true] {
            let opts = WalkOptions {
                prefix: prefix.into(),
                recursive,
                limit: 100,
                ..Default::default()
            };
            let page = d.walk("b", &opts).await.unwrap();
            assert!(page.entries.is_empty(), "{prefix:?}: {:?}", page.entries);
        }
    }
}

#[tokio::test]
async fn delete_prunes_empty_parents_but_not_the_volume() {
    let (t, d) = drive();
    d.make_volume("b").await.unwrap();
    put_object(&d, "x/y/z").await;
    d.delete("b", "x/y/z/tessera.meta", false).await.unwrap();
    assert!(!t.path().join("d/b/x").exists());
    assert!(t.path().join("d/b").exists());
}

#[tokio::test]
async fn rename_data_moves_data_dir_and_meta() {
    let (t, d) = drive();
    d.make_volume("b").await.unwrap();
    let mut w = d
        .create_file(META_VOLUME, "tmp/u1/.tessera.dd/part.1")
        .await
        .unwrap();
    w.write(Bytes::from_static(b"shard")).await.unwrap();
    w.finish().await.unwrap();
    d.write_all(
        META_VOLUME,
        "tmp/u1/tessera.meta",
        Bytes::from_static(b"m"),
        Target::Fresh,
    )
    .await
    .unwrap();
    d.rename_data(META_VOLUME, "tmp/u1", Some(".tessera.dd"), "b", "k/ey")
        .await
        .unwrap();
    assert_eq!(
        &d.read_all("b", "k/ey/tessera.meta").await.unwrap()[..],
        b"m"
    );
    let mut r = d
        .read_file("b", "k/ey/.tessera.dd/part.1", 1, 3)
        .await
        .unwrap();
    assert_eq!(&r.read_exact(2).await.unwrap()[..], b"ha");
    assert_eq!(&r.read_exact(1).await.unwrap()[..], b"r");
    assert!(
        r.read_exact(1).await.is_err(),
        "reads stop at the end of the range"
    );
    assert!(!t.path().join("d/.tessera/tmp/u1").exists());
}

#[tokio::test]
async fn range_reads_ahead_in_any_piece_sizes_and_stop_at_a_short_file() {
    let (t, d) = drive();
    d.make_volume("b").await.unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(t.path().join("d/b/f"), &data).unwrap();
    // Pieces of one size (read ahead), then smaller and larger ones, up to the range end.
    let mut r = d.read_file("b", "f", 10, 90_000).await.unwrap();
    let mut at = 10;
    for len in [7000, 7000, 7000, 100, 20_000, 3, 48_897] {
        let got = r.read_exact(len).await.unwrap();
        assert_eq!(&got[..], &data[at..at + len], "{len} bytes at {at}");
        at += len;
    }
    assert_eq!(at, 90_010);
    assert!(
        r.read_exact(1).await.is_err(),
        "reads stop at the range end"
    );
    // A range past the end of the file: what exists reads, then a clear error.
    let mut r = d.read_file("b", "f", 90_000, 20_000).await.unwrap();
    assert_eq!(&r.read_exact(10_000).await.unwrap()[..], &data[90_000..]);
    assert!(r.read_exact(10_000).await.is_err(), "the file ends first");
}

/// Needs a file system that takes `O_DIRECT` (ext4, xfs, btrfs; not tmpfs).
#[tokio::test]
async fn large_ranges_read_past_the_page_cache_in_any_pieces() {
    let (t, d) = drive();
    d.make_volume("b").await.unwrap();
    let data: Vec<u8> = (0..(3u32 << 20) + 5000)
        .map(|i| (i * 7 % 253) as u8)
        .collect();
    // Written directly: the page cache holds only the file's last block.
    let mut w = d.create_file("b", "big").await.unwrap();
    w.write(Bytes::copy_from_slice(&data)).await.unwrap();
    w.finish().await.unwrap();
    assert!(super::read::open_direct(&t.path().join("d/b/big")).is_some());
    let cases: [(usize, &[usize]); 3] = [
        (0, &[(512 << 10) + 32; 6]),
        (4095, &[1 << 20, 3, 70_001, 1 << 20]),
        (1, &[(3 << 20) + 4999]),
    ];
    for (offset, pieces) in cases {
        let len: usize = pieces.iter().sum();
        let mut r = d
            .read_file("b", "big", offset as u64, len as u64)
            .await
            .unwrap();
        let mut at = offset;
        for &piece in pieces {
            let got = r.read_exact(piece).await.unwrap();
            assert!(got[..] == data[at..at + piece], "{piece} bytes at {at}");
            at += piece;
        }
    }
    // A range past the end of the file: what exists reads, then a clear error.
    let mut r = d.read_file("b", "big", 2 << 20, 2 << 20).await.unwrap();
    let rest = data.len() - (2 << 20);
    assert!(r.read_exact(rest).await.unwrap()[..] == data[2 << 20..]);
    assert!(r.read_exact(1).await.is_err(), "the file ends first");
}

#[tokio::test]
async fn a_wiped_drive_reports_unformatted_and_is_not_recreated() {
    let (t, d) = drive();
    d.make_volume("b").await.unwrap();
    put_object(&d, "k").await;
    std::fs::remove_dir_all(t.path().join("d")).unwrap();
    assert!(matches!(
        d.read_all("b", "k/tessera.meta").await,
        Err(DriveError::Unformatted)
    ));
    assert!(
        d.write_all("b", "k2/tessera.meta", Bytes::new(), Target::Fresh)
            .await
            .is_err()
    );
    assert!(!t.path().join("d").exists());
}

/// Needs what the fast path uses: Linux 5.12+ (`openat2` with `RESOLVE_CACHED`) and a file
/// system that honours `RWF_NOWAIT` and keeps negative entries (ext4, xfs, btrfs; not
/// tmpfs). Without them the drive still works, through the blocking pool, but this test
/// fails: the fast path would never be taken.
#[test]
fn cached_reads_return_whole_small_files_absent_ones_or_nothing() {
    let t = tempfile::tempdir().unwrap();
    let small = t.path().join("small");
    std::fs::write(&small, b"in the page cache").unwrap();
    let bytes = |r: Option<Result<Bytes, DriveError>>| r.map(|r| r.unwrap());
    assert_eq!(
        bytes(read_cached(&small)).as_deref(),
        Some(&b"in the page cache"[..])
    );
    let empty = t.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(bytes(read_cached(&empty)).as_deref(), Some(&b""[..]));
    let large = t.path().join("large");
    std::fs::write(&large, vec![1u8; CACHED_READ_MAX as usize + 1]).unwrap();
    assert!(
        read_cached(&large).is_none(),
        "too large for a worker thread"
    );
    // A name never looked up needs the disk; once a lookup failed, the kernel's negative
    // entry answers.
    let missing = t.path().join("missing");
    assert!(read_cached(&missing).is_none());
    assert!(!missing.exists());
    assert!(matches!(
        read_cached(&missing),
        Some(Err(DriveError::NotFound { .. }))
    ));
    assert!(matches!(
        read_cached(&missing.join("below")),
        Some(Err(DriveError::NotFound { .. }))
    ));
    assert!(
        read_cached(&small.join("below")).is_none(),
        "the kernel asks the disk"
    );
    assert!(matches!(cached_dir(t.path()), Cached::Open(_)));
    assert!(
        matches!(cached_dir(&small), Cached::Unknown),
        "a file is no directory, and not absent"
    );
    assert!(matches!(cached_dir(&missing), Cached::Absent));
}

#[tokio::test]
async fn walks_of_a_prefix_known_absent_answer_without_the_disk_and_alike() {
    let (t, d) = drive();
    d.make_volume("b").await.unwrap();
    put_object(&d, "dir/k").await;
    let opts = |prefix: &str| WalkOptions {
        prefix: prefix.into(),
        limit: 1,
        ..Default::default()
    };
    let volume = t.path().join("d/b");
    // Once a lookup of `dir/new` failed, the kernel knows it is absent.
    assert!(!volume.join("dir/new").exists());
    let fast = cached_empty_walk(&volume, &opts("dir/new/")).expect("answered from the caches");
    let walked = walk(&volume, &opts("dir/new/"), true).unwrap();
    assert!(fast.entries.is_empty() && !fast.truncated);
    assert!(walked.entries.is_empty() && !walked.truncated);
    let pages = LocalDrive::walk_of(&[&d], "b", &opts("dir/new/")).await;
    assert!(pages[0].as_ref().unwrap().entries.is_empty());
    // Not for a directory that is there, a missing volume, or a page of nothing.
    assert!(cached_empty_walk(&volume, &opts("dir/")).is_none());
    assert!(!t.path().join("d/gone").exists());
    assert!(cached_empty_walk(&t.path().join("d/gone"), &opts("dir/new/")).is_none());
    let none = WalkOptions {
        limit: 0,
        ..opts("dir/new/")
    };
    assert!(cached_empty_walk(&volume, &none).is_none());
    let page = LocalDrive::walk_of(&[&d], "b", &opts("dir/")).await;
    let names: Vec<_> = page[0]
        .as_ref()
        .unwrap()
        .entries
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(names, ["dir/k"]);
}

#[tokio::test]
async fn batched_writes_answer_per_drive_and_leave_no_temporary_files() {
    let t = tempfile::tempdir().unwrap();
    let drives: Vec<LocalDrive> = (0..3)
        .map(|i| {
            let d = LocalDrive::open(t.path().join(format!("d{i}"))).unwrap();
            std::fs::write(d.root().join(".tessera/format.json"), "{}").unwrap();
            d
        })
        .collect();
    // Drive 1 lacks the volume: its write fails, the others' succeed.
    drives[0].make_volume("b").await.unwrap();
    drives[2].make_volume("b").await.unwrap();
    std::fs::create_dir_all(drives[2].root().join("b/k")).unwrap();
    std::fs::write(drives[2].root().join("b/k/f"), "old").unwrap();
    let writes = drives
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let target = if i == 2 {
                Target::Replace
            } else {
                Target::Fresh
            };
            (d, Bytes::from(format!("new {i}")), target)
        })
        .collect();
    let results = LocalDrive::write_all_of(writes, "b", "k/f").await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(matches!(results[1], Err(DriveError::VolumeNotFound { .. })));
    for i in [0, 2] {
        let dir = drives[i].root().join("b/k");
        assert_eq!(
            std::fs::read(dir.join("f")).unwrap(),
            format!("new {i}").as_bytes()
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "temporary file left"
        );
    }
    let invalid =
        LocalDrive::write_all_of(vec![(&drives[0], Bytes::new(), Target::Fresh)], "b", "../x");
    assert!(matches!(
        invalid.await[0],
        Err(DriveError::InvalidPath { .. })
    ));
}
