//! The mount's metadata and read speed-ups, on a real mount (README "Metadata and read
//! caching"): `rm -r` sends its deletes in batches while a lone `rm` deletes at once;
//! `--negative-ttl` keeps "no such file" answers, and only with the flag; `--cache-size`
//! serves reads again from the local disk and reads a changed file anew; the kernel keeps
//! the pages of a file unchanged since the last open, and a small file read once is in its
//! page cache whole, yet writes, truncates and changes over S3 still show. Two mounts
//! appending to one file get what the README promises across mounts. What went over the
//! wire is read from the node's request counters (`/metrics`).

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tessera_tests::{Node, pattern};

use crate::fuse::{FuseEnv, errno};
use crate::metrics::{scrape_path, value};

const MIB: usize = 1 << 20;

/// The node's count of answered gRPC `op` calls.
async fn grpc_calls(node: &Node, op: &str) -> f64 {
    let scrape = scrape_path(node, "/metrics", None).await.parse();
    value(
        &scrape,
        "tessera_requests_total",
        &[("api", "grpc"), ("op", op), ("class", "2xx")],
    )
}

/// The count of `op` once it stopped moving (a request is counted as its answer ends).
async fn settled_calls(node: &Node, op: &str) -> f64 {
    let mut last = grpc_calls(node, op).await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = grpc_calls(node, op).await;
        if now == last {
            return now;
        }
        last = now;
    }
}

fn run(cmd: &str, args: &[&Path]) {
    let status = Command::new(cmd).args(args).status().expect("spawn");
    assert!(status.success(), "{cmd} {args:?}: {status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_caching_rm_r_deletes_in_batches_and_a_lone_rm_at_once() {
    let Some(fx) = FuseEnv::start_on(&["--metrics-public"], &[]).await else {
        return;
    };
    let node = fx.s3.node();
    let keys: Vec<String> = (0..300).map(|i| format!("tree/d{}/f{i}", i % 3)).collect();
    futures::future::join_all(keys.iter().map(|k| fx.s3.put(&fx.bucket, k, b"x"))).await;
    for name in ["lone1", "lone2"] {
        fx.s3.put(&fx.bucket, name, b"1").await;
    }
    // A lone rm is on the server when it returns.
    for name in ["lone1", "lone2"] {
        fs::remove_file(fx.at(name)).expect("rm");
        assert!(!fx.s3.exists(&fx.bucket, name).await, "{name} still there");
    }
    let singles = settled_calls(node, "DeleteObject").await;
    let batches = settled_calls(node, "DeleteObjects").await;

    run("rm", &[Path::new("-r"), &fx.at("tree")]);
    // Its last rmdir waited for every delete: nothing is left for anyone.
    assert_eq!(fx.s3.keys(&fx.bucket).await, Vec::<String>::new());
    assert_eq!(errno(fs::metadata(fx.at("tree"))), libc::ENOENT);
    let singles = settled_calls(node, "DeleteObject").await - singles;
    let batches = settled_calls(node, "DeleteObjects").await - batches;
    assert!(batches >= 1.0, "no DeleteObjects call");
    // The first delete of each directory walk may go alone; the 300 files do not.
    assert!(singles <= 10.0, "{singles} single deletes for 300 files");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_caching_negative_entries_are_kept_only_with_the_flag() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let mut negative = fx.mount_another("neg", &["--bucket", &fx.bucket, "--negative-ttl", "60s"]);
    let neg = negative.path.clone();
    // Missing for both mounts, then made over S3.
    assert_eq!(errno(fs::metadata(fx.at("late"))), libc::ENOENT);
    assert_eq!(errno(fs::metadata(neg.join("late"))), libc::ENOENT);
    fx.s3.put(&fx.bucket, "late", b"here").await;
    assert_eq!(
        fs::read(fx.at("late")).expect("the plain mount sees it"),
        b"here"
    );
    assert_eq!(
        errno(fs::metadata(neg.join("late"))),
        libc::ENOENT,
        "the negative entry holds for --negative-ttl"
    );
    // A directory made there: names made elsewhere in it stay unseen, its own show.
    fs::create_dir(neg.join("made")).expect("mkdir");
    fx.s3.put(&fx.bucket, "made/other", b"o").await;
    fs::write(neg.join("made/own"), b"own").expect("write");
    assert_eq!(fs::read(neg.join("made/own")).expect("own"), b"own");
    assert_eq!(errno(fs::metadata(neg.join("made/other"))), libc::ENOENT);
    assert_eq!(fs::read(fx.at("made/other")).expect("plain mount"), b"o");
    // What the mount creates over a negative entry is there at once.
    fs::write(neg.join("late"), b"mine").expect("write over the negative entry");
    assert_eq!(fs::read(neg.join("late")).expect("read"), b"mine");
    negative.unmount();
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_caching_reads_come_again_from_the_page_and_disk_caches_until_the_file_changes() {
    let Some(fx) = FuseEnv::start_on(&["--metrics-public"], &["--cache-size", "64M"]).await else {
        return;
    };
    let node = fx.s3.node();
    let data = pattern(8 * MIB, 7);
    fx.s3.put(&fx.bucket, "big", &data).await;
    // A whole read streams the file (and fills the disk cache block by block).
    assert!(fs::read(fx.at("big")).expect("read") == data);
    let gets = settled_calls(node, "GetObject").await;

    // Opened again unchanged: the kernel keeps its pages, nothing is fetched.
    assert!(fs::read(fx.at("big")).expect("read again") == data);
    assert_eq!(
        settled_calls(node, "GetObject").await,
        gets,
        "page cache kept"
    );

    // The pages dropped: random reads come from the disk cache.
    fs::write("/proc/sys/vm/drop_caches", "1").expect("drop the page cache");
    let file = fs::File::open(fx.at("big")).expect("open");
    let mut buf = [0u8; 4096];
    let mut seed = 0x9e37_79b9_u64;
    for _ in 0..300 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let at = (seed >> 33) as usize % (data.len() / 4096) * 4096;
        file.read_exact_at(&mut buf, at as u64).expect("pread");
        assert!(buf[..] == data[at..at + 4096], "bytes at {at}");
    }
    drop(file);
    assert_eq!(settled_calls(node, "GetObject").await, gets, "disk cache");

    // Changed over S3: the next open reads the new bytes, whatever the caches held.
    let new = pattern(8 * MIB, 8);
    fx.s3.put(&fx.bucket, "big", &new).await;
    let file = fs::File::open(fx.at("big")).expect("open");
    file.read_exact_at(&mut buf, 4 * MIB as u64 + 8192)
        .expect("pread");
    assert!(
        buf[..] == new[4 * MIB + 8192..][..4096],
        "a stale block served"
    );
    drop(file);
    assert!(fs::read(fx.at("big")).expect("read") == new);
    assert!(settled_calls(node, "GetObject").await > gets);
}

/// Appends `line` to `path` (open with O_APPEND, write, close).
fn append(path: &Path, line: &str) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open for append");
    f.write_all(line.as_bytes()).expect("append");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_caching_two_mounts_appending_get_close_to_open_and_whole_lines() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let mut other = fx.mount_another("other", &["--bucket", &fx.bucket]);
    let (a, b) = (fx.at("turns.log"), other.path.join("turns.log"));
    // Taking turns: each open sees the last close, so every line lands, in order.
    let mut expect = String::new();
    for i in 0..20 {
        let (path, who) = if i % 2 == 0 { (&a, "a") } else { (&b, "b") };
        let line = format!("{who} {i}\n");
        append(path, &line);
        expect.push_str(&line);
    }
    assert_eq!(fs::read_to_string(&a).expect("read"), expect);
    assert_eq!(fs::read_to_string(&b).expect("read"), expect);

    // At the same time: the last close wins, so lines may be lost, but none is torn and
    // both mounts and S3 agree once the writers are done.
    let (a, b) = (fx.at("race.log"), other.path.join("race.log"));
    let writers: Vec<_> = [(a.clone(), "a"), (b.clone(), "b")]
        .into_iter()
        .map(|(path, who)| {
            std::thread::spawn(move || {
                for i in 0..100 {
                    append(&path, &format!("{who} {i} the quick brown fox\n"));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let (x, y) = (fs::read(&a).expect("read"), fs::read(&b).expect("read"));
        if x == y || Instant::now() > deadline {
            assert_eq!(x, y, "the mounts disagree after the ttl");
            break String::from_utf8(x).expect("utf-8");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(!text.is_empty());
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert!(
            fields.len() == 6 && ["a", "b"].contains(&fields[0]) && fields[5] == "fox",
            "torn line {line:?}"
        );
    }
    assert_eq!(fx.s3.get(&fx.bucket, "race.log").await, text.as_bytes());
    other.unmount();
}

/// How many of `path`'s pages the kernel holds (util-linux's `fincore`, which maps the
/// file and asks mincore(2)).
fn resident_pages(path: &Path) -> usize {
    let out = Command::new("fincore")
        .args(["--noheadings", "--raw", "--output", "PAGES"])
        .arg(path)
        .output()
        .expect("fincore");
    assert!(out.status.success(), "fincore: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().expect("a page count")
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_caching_a_small_file_read_once_lands_in_the_page_cache_and_changes_still_show() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let len = 3 * MIB + 100;
    let data = pattern(len, 11);
    fx.s3.put(&fx.bucket, "paged", &data).await;
    let path = fx.at("paged");
    let pages = len.div_ceil(4096);

    // One 4 KiB read in the middle: the mount streams the file and hands all of it to the
    // kernel, so the other pages are there without being read.
    let reader = fs::File::open(&path).expect("open");
    let mut buf = [0u8; 4096];
    reader.read_exact_at(&mut buf, MIB as u64).expect("pread");
    assert!(buf[..] == data[MIB..][..4096]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while resident_pages(&path) < pages && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(resident_pages(&path), pages, "every page pushed");
    let mut all = vec![0u8; len];
    reader.read_exact_at(&mut all, 0).expect("read all");
    assert!(all == data, "the pushed pages hold the file's bytes");

    // A write through the mount wins over the pushed pages, for every reader.
    let writer = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open to write");
    writer
        .write_all_at(b"written", 2 * MIB as u64)
        .expect("pwrite");
    drop(writer);
    let mut expect = data.clone();
    expect[2 * MIB..][..7].copy_from_slice(b"written");
    reader
        .read_exact_at(&mut all, 0)
        .expect("read after the write");
    assert!(all == expect, "the open reader sees the write");
    assert!(fs::read(&path).expect("read") == expect);
    assert_eq!(fx.s3.get(&fx.bucket, "paged").await, expect);

    // A truncate through the mount while a reader is open.
    run("truncate", &[Path::new("-s"), Path::new("5000"), &path]);
    assert_eq!(fs::metadata(&path).expect("stat").len(), 5000);
    assert!(fs::read(&path).expect("read") == expect[..5000]);
    drop(reader);

    // Changed over S3 (same size): the next open reads the new bytes, not the pushed ones.
    let new = pattern(len, 12);
    fx.s3.put(&fx.bucket, "paged", &new).await;
    assert!(
        fs::read(&path).expect("read") == new,
        "stale bytes after the change"
    );
}
