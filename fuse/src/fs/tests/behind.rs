//! What the mount does behind its answers or keeps for later: deferred, batched deletes,
//! directory times written once per round, negative lookups in directories made here
//! (`--negative-ttl`), a listing instead of many lookups, one stream for reads anywhere in
//! a small file, and the read cache (`--cache-size`).

use super::*;
use crate::fs::cache::BLOCK;

/// A directory `d` holding `n` files `f0`…, made through the mount `f`; its inode.
async fn dir_of_files(f: &Fixture, n: usize) -> u64 {
    let dir = Attr::new(Kind::Dir, 0o755, 1000, 1000);
    let (d, _) = f.fs.mkdir(ROOT, os("d"), dir).await.expect("mkdir");
    for i in 0..n {
        let (_, fh) = (f.fs.create(d, os(&format!("f{i}")), file_attr(), false))
            .await
            .expect("create");
        f.fs.write(fh, 0, b"x").await.expect("write");
        f.fs.flush(fh).await.expect("flush");
        f.fs.release(fh).await;
    }
    d
}

#[tokio::test]
async fn unlinks_after_the_first_go_behind_in_batches_and_rmdir_waits_for_them() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let d = dir_of_files(&f, 22).await;
    // A lone unlink waits for the server.
    f.fs.unlink(d, os("f20")).await.expect("unlink");
    f.fs.unlink(d, os("f21")).await.expect("unlink");
    assert_eq!((api.calls("delete"), api.calls("delete_many")), (2, 0));
    // A tree walk holds the directory open while it unlinks.
    let walk = f.fs.opendir(d).await.expect("opendir");
    for i in 0..20 {
        f.fs.unlink(d, os(&format!("f{i}"))).await.expect("unlink");
        // Gone for this mount at once, whether the server knows yet or not.
        assert_eq!(
            errno(f.fs.lookup(d, os(&format!("f{i}"))).await),
            Errno::ENOENT
        );
    }
    assert_eq!(api.calls("delete"), 2, "no more single deletes");
    f.fs.releasedir(walk);
    f.fs.rmdir(ROOT, os("d"))
        .await
        .expect("rmdir settles the queue first");
    assert!(api.keys("b").is_empty(), "{:?}", api.keys("b"));
    let batches = api.calls("delete_many");
    assert!(
        (1..=20).contains(&batches),
        "{batches} batches for 20 deletes"
    );
}

#[tokio::test]
async fn a_refused_deferred_delete_brings_the_file_back() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let d = dir_of_files(&f, 2).await;
    let walk = f.fs.opendir(d).await.expect("opendir");
    f.fs.unlink(d, os("f0")).await.expect("first unlink");
    let refusal = crate::api::ApiError::service(crate::api::ServiceError::PermissionDenied, "no");
    api.fail_next("delete_many", refusal);
    f.fs.unlink(d, os("f1")).await.expect("deferred unlink");
    f.fs.fsyncdir().await;
    f.fs.releasedir(walk);
    assert_eq!(api.keys("b"), ["d/", "d/f1"]);
    assert_eq!(errno(f.fs.rmdir(ROOT, os("d")).await), Errno::ENOTEMPTY);
    f.fs.lookup(d, os("f1")).await.expect("back");
}

#[tokio::test]
async fn directory_times_are_written_once_for_many_entries() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let before = api.calls("update_metadata");
    let d = dir_of_files(&f, 1).await;
    // As `tar x` does: one entry after another, the queue's task running in between.
    for i in 1..30 {
        let (_, fh) = (f.fs.create(d, os(&format!("f{i}")), file_attr(), false))
            .await
            .expect("create");
        f.fs.release(fh).await;
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }
    f.fs.behind.settle().await;
    let writes = api.calls("update_metadata") - before;
    // One round, or two if the first began before the last entries came.
    assert!(
        (1..=2).contains(&writes),
        "{writes} marker writes for 30 entries"
    );
    let marker = mount(&api, Some("b")).lookup("d").await.expect("d").1;
    let here = f.lookup("d").await.expect("d").1;
    assert_eq!(marker.mtime, here.mtime, "the marker holds the latest time");
}

#[tokio::test]
async fn a_directory_made_here_answers_missing_names_itself_with_a_negative_ttl() {
    let api = Memory::new(&["b"], 0);
    let f = mount_tuned(&api, Some("b"), |s| {
        s.negative_ttl = Duration::from_secs(60)
    });
    let d = dir_of_files(&f, 3).await;
    let lookups = api.calls("lookup");
    assert_eq!(errno(f.fs.lookup(d, os("new")).await), Errno::ENOENT);
    assert_eq!(
        api.calls("lookup"),
        lookups,
        "no call for a name not made here"
    );
    f.fs.forget(f.fs.lookup(d, os("f1")).await.expect("made here").0, 2);
    f.fs.lookup(d, os("f1"))
        .await
        .expect("still known after the kernel forgot it");
    // Without the flag, the server is asked.
    let plain = mount(&api, Some("b"));
    let (d2, _) = (plain
        .fs
        .mkdir(ROOT, os("e"), Attr::new(Kind::Dir, 0o755, 0, 0)))
    .await
    .expect("mkdir");
    let lookups = api.calls("lookup");
    assert_eq!(errno(plain.fs.lookup(d2, os("new")).await), Errno::ENOENT);
    assert_eq!(api.calls("lookup"), lookups + 1);
}

#[tokio::test]
async fn the_read_cache_serves_a_block_read_before_and_not_another_version() {
    let api = Memory::new(&["b"], 0);
    let data: Vec<u8> = (0..3 * BLOCK).map(|i| (i % 251) as u8).collect();
    api.insert("b", "big", &data);
    let f = mount_tuned(&api, Some("b"), |s| s.cache_size = 64 * BLOCK);
    let (ino, _) = f.lookup("big").await.expect("big");
    let at = BLOCK + 4096;
    let read = |fh| f.fs.read(fh, at, 4096);
    let fh = f.fs.open(ino, libc::O_RDONLY).await.expect("open");
    assert_eq!(
        &read(fh).await.expect("read")[..],
        &data[at as usize..][..4096]
    );
    let gets = api.calls("get");
    f.fs.release(fh).await;
    let fh = f.fs.open(ino, libc::O_RDONLY).await.expect("open again");
    assert_eq!(
        &read(fh).await.expect("read")[..],
        &data[at as usize..][..4096]
    );
    assert_eq!(api.calls("get"), gets, "served from the cache");
    f.fs.release(fh).await;
    // Another client changes the file: the next open reads the new bytes.
    let new: Vec<u8> = data.iter().map(|b| b ^ 0xff).collect();
    api.insert("b", "big", &new);
    let fh =
        f.fs.open(ino, libc::O_RDONLY)
            .await
            .expect("open after the change");
    assert_eq!(
        &read(fh).await.expect("read")[..],
        &new[at as usize..][..4096]
    );
    assert_eq!(api.calls("get"), gets + 1, "the new version is fetched");
}

#[tokio::test]
async fn lookups_of_many_names_in_a_directory_become_one_listing() {
    let api = Memory::new(&["b"], 0);
    let (f, d) = mount_over_files(&api, 50).await;
    let lookups = api.calls("lookup");
    for i in 0..50 {
        let (_, attr) = f.fs.lookup(d, os(&format!("f{i}"))).await.expect("file");
        assert_eq!(attr.size, 1);
    }
    assert_eq!(
        api.calls("lookup") - lookups,
        2,
        "two misses, then a listing"
    );
    assert_eq!(api.calls("list"), 1);
}

#[tokio::test]
async fn attributes_asked_after_the_ttl_in_one_directory_become_one_listing() {
    let api = Memory::new(&["b"], 0);
    for i in 0..50 {
        api.insert("b", &format!("d/f{i}"), b"x");
    }
    let ttl = Duration::from_millis(200);
    let f = mount_tuned(&api, Some("b"), |s| s.ttl = ttl);
    let (d, _) = f.lookup("d").await.expect("d");
    let mut inos = Vec::new();
    for i in 0..50 {
        inos.push(f.fs.lookup(d, os(&format!("f{i}"))).await.expect("file").0);
    }
    // The kernel keeps the names and, once the TTL is over, asks for the attributes.
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    api.insert("b", "d/f7", b"new");
    let (lookups, lists) = (api.calls("lookup"), api.calls("list"));
    for (i, &ino) in inos.iter().enumerate() {
        let attr = f.fs.getattr(ino).await.expect("attributes");
        assert_eq!(
            attr.size,
            if i == 7 { 3 } else { 1 },
            "f{i} as the server has it"
        );
    }
    assert_eq!(
        api.calls("lookup") - lookups,
        2,
        "two misses, then a listing"
    );
    assert_eq!(api.calls("list") - lists, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_while_the_listing_for_lookups_is_on_its_way_wait_for_it() {
    let api = Memory::new(&["b"], 0);
    let (f, d) = mount_over_files(&api, 50).await;
    api.slow_lists(Duration::from_millis(200));
    let lookups = api.calls("lookup");
    for i in 0..2 {
        f.fs.lookup(d, os(&format!("f{i}"))).await.expect("file");
    }
    // The third miss starts the listing; the lookups meanwhile wait for it.
    let waiting: Vec<_> = (2..30)
        .map(|i| {
            let fs = f.fs.clone();
            tokio::spawn(async move { fs.lookup(d, os(&format!("f{i}"))).await })
        })
        .collect();
    for w in waiting {
        let (_, attr) = w.await.expect("task").expect("file");
        assert_eq!(attr.size, 1);
    }
    assert_eq!(api.calls("lookup") - lookups, 2, "none went to the server");
    assert_eq!(api.calls("list"), 1);
}

#[tokio::test]
async fn reads_anywhere_in_a_small_file_cost_one_stream() {
    let api = Memory::new(&["b"], 0);
    let data: Vec<u8> = (0..(4u32 << 20)).map(|i| (i % 249) as u8).collect();
    api.insert("b", "small", &data);
    let f = mount(&api, Some("b"));
    let (ino, _) = f.lookup("small").await.expect("small");
    let fh = f.fs.open(ino, libc::O_RDONLY).await.expect("open");
    for at in [3 << 20, 8192, 2 << 20, 1 << 20, 4096 * 777] {
        let got = f.fs.read(fh, at, 4096).await.expect("read");
        assert_eq!(&got[..], &data[at as usize..][..4096], "at {at}");
    }
    assert_eq!(api.calls("get"), 1, "one GET of the whole file");
}
