//! Close-to-open consistency between the mount, S3 clients and other mounts: what one
//! closes, the others read (S3 at once with the ETag a single-part PUT gives; a mount that
//! cached the old attributes within its TTL); large files stream both ways; random reads
//! return exactly the bytes asked for, and a sequential read fetches each byte once.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::time::Duration;

use tessera_tests::{md5_hex, pattern};

use crate::fuse::{FuseEnv, PrivateFile, errno};

const TTL: Duration = Duration::from_millis(1_300);

#[tokio::test(flavor = "multi_thread")]
async fn fuse_files_written_on_the_mount_read_back_over_s3() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    for (name, len) in [
        ("empty", 0),
        ("one", 1),
        ("inline", 100_000),
        ("coded", 5 << 20 | 17),
    ] {
        let data = pattern(len, len as u64);
        let mut f = fs::File::create(fx.at(name)).expect("create");
        // Odd-sized writes, as programs do.
        for chunk in data.chunks(70_001) {
            f.write_all(chunk).expect("write");
        }
        drop(f);
        assert_eq!(fx.s3.get(&fx.bucket, name).await, data, "{name}");
        let head = fx
            .s3
            .s3
            .head_object()
            .bucket(&fx.bucket)
            .key(name)
            .send()
            .await;
        let etag = head.expect("head").e_tag.expect("etag");
        assert_eq!(etag, format!("\"{}\"", md5_hex(&data)), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_objects_put_over_s3_show_up_within_the_ttl() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    fs::create_dir(fx.at("dir")).expect("mkdir");
    assert_eq!(errno(fs::metadata(fx.at("dir/s3-made"))), libc::ENOENT);
    fx.s3.put(&fx.bucket, "dir/s3-made", b"first").await;
    std::thread::sleep(TTL);
    assert_eq!(fs::read(fx.at("dir/s3-made")).expect("read"), b"first");
    fx.s3
        .put(&fx.bucket, "dir/s3-made", b"second, longer")
        .await;
    std::thread::sleep(TTL);
    assert_eq!(
        fs::read(fx.at("dir/s3-made")).expect("read"),
        b"second, longer"
    );
    let names: Vec<_> = fs::read_dir(fx.at("dir"))
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["s3-made"]);
    fx.s3
        .s3
        .delete_object()
        .bucket(&fx.bucket)
        .key("dir/s3-made")
        .send()
        .await
        .expect("delete");
    std::thread::sleep(TTL);
    assert_eq!(errno(fs::read(fx.at("dir/s3-made"))), libc::ENOENT);
    // A 30 MiB object put over S3 streams down whole.
    let big = pattern(30 << 20, 3);
    fx.s3.put(&fx.bucket, "big", &big).await;
    std::thread::sleep(TTL);
    assert_eq!(
        md5_hex(&fs::read(fx.at("big")).expect("read big")),
        md5_hex(&big)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_two_mounts_see_each_others_closed_files() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let b = fx.mount_another("second", &["--bucket", &fx.bucket]);
    fs::create_dir(fx.at("shared")).expect("mkdir");
    fs::write(fx.at("shared/a"), b"from the first mount").expect("write");
    assert_eq!(
        fs::read(b.path.join("shared/a")).expect("read"),
        b"from the first mount"
    );
    fs::write(b.path.join("shared/b"), b"from the second").expect("write");
    assert_eq!(
        fs::read(fx.at("shared/b")).expect("read"),
        b"from the second"
    );
    // An overwrite is seen by the next open (open revalidates with the server), even while
    // an older handle of the same file stays open there.
    let held = fs::File::open(b.path.join("shared/a")).expect("open and hold");
    fs::write(fx.at("shared/a"), b"rewritten by the first mount").expect("rewrite");
    assert_eq!(
        fs::read(b.path.join("shared/a")).expect("read"),
        b"rewritten by the first mount"
    );
    drop(held);
    fs::rename(fx.at("shared/a"), fx.at("shared/c")).expect("rename");
    std::thread::sleep(TTL);
    assert_eq!(errno(fs::metadata(b.path.join("shared/a"))), libc::ENOENT);
    assert_eq!(
        fs::read(b.path.join("shared/c")).expect("read"),
        b"rewritten by the first mount"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_random_and_sequential_reads_return_exact_bytes() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let data = pattern(24 << 20, 11);
    fx.s3.put(&fx.bucket, "r", &data).await;
    let f = fs::File::open(fx.at("r")).expect("open");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = seed % data.len() as u64;
        let len = (seed >> 40) as usize % 300_000 + 1;
        let mut buf = vec![0; len];
        let n = f.read_at(&mut buf, at).expect("pread");
        let end = (at as usize + len).min(data.len());
        assert_eq!(&buf[..n], &data[at as usize..at as usize + n]);
        assert!(n > 0 && at as usize + n <= end);
    }
    // Sequential reads after a seek, through the growing read-ahead.
    let mut f = fs::File::open(fx.at("r")).expect("open");
    f.seek(SeekFrom::Start(3 << 20)).expect("seek");
    let mut rest = Vec::new();
    f.read_to_end(&mut rest).expect("read to end");
    assert_eq!(md5_hex(&rest), md5_hex(&data[3 << 20..]));
    // Past the end: nothing.
    let mut buf = [0u8; 10];
    assert_eq!(
        f.read_at(&mut buf, data.len() as u64 + 5)
            .expect("pread past end"),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_sequential_read_fetches_each_byte_once() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let data = pattern(96 << 20, 12);
    fx.s3.put(&fx.bucket, "seq", &data).await;
    let node = &fx.s3.env.node;
    let per_byte = |before: u64| {
        let read = node.bytes_read().expect("node rchar") - before;
        read as f64 / data.len() as f64
    };
    let before = node.bytes_read().expect("node rchar");
    assert!(fs::read(fx.at("seq")).expect("read") == data, "other bytes");
    let plain = per_byte(before);
    assert!(
        plain < 1.1,
        "a plain read cost {plain:.2} node bytes per byte"
    );
    // The kernel's read-ahead requests can arrive out of order. Do that on purpose: 1 MiB
    // reads (O_DIRECT, so each reaches the mount as it is), in order except that every
    // eighth pair is swapped. A late read must not cost the stream and its window.
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(fx.at("seq"))
        .expect("open O_DIRECT");
    let before = node.bytes_read().expect("node rchar");
    let mut buf = vec![0u8; 1 << 20];
    let blocks = (data.len() >> 20) as u64;
    for i in 0..blocks {
        let block = match i % 16 {
            14 => i + 1,
            15 => i - 1,
            _ => i,
        };
        let at = (block << 20) as usize;
        let n = f.read_at(&mut buf, at as u64).expect("pread");
        assert!(buf[..n] == data[at..at + (1 << 20)], "other bytes at {at}");
    }
    let swapped = per_byte(before);
    assert!(
        swapped < 1.1,
        "swapped reads cost {swapped:.2} node bytes per byte"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_a_reader_closing_does_not_cut_a_writer_short() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let data = pattern(3 << 20, 5);
    let writer = PrivateFile::create(&fx.at("growing"));
    let first = data[..1 << 20].to_vec();
    writer.run(move |f| f.write_all(&first).expect("write"));
    // Another process opens and closes the file: close-to-open is about its own writes,
    // so the writer's upload in progress is neither committed nor restarted.
    drop(fs::File::open(fx.at("growing")).expect("open for reading"));
    assert!(!fx.s3.exists(&fx.bucket, "growing").await);
    let rest = data[1 << 20..].to_vec();
    writer.run(move |f| f.write_all(&rest).expect("write the rest"));
    drop(writer);
    assert_eq!(
        md5_hex(&fx.s3.get(&fx.bucket, "growing").await),
        md5_hex(&data)
    );
}
