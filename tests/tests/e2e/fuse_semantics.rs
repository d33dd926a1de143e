//! FUSE semantics, one test per README row: POSIX errnos, read-only mounts, the bucket
//! list at the root, statfs, attributes, symlinks, hard links, and directory listings
//! that carry attributes.

use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use crate::fuse::{FuseEnv, errno};

#[tokio::test(flavor = "multi_thread")]
async fn fuse_errors_are_posix_errnos() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    fs::create_dir_all(fx.at("d/sub")).expect("mkdir -p");
    fs::write(fx.at("d/file"), b"x").expect("write");
    assert_eq!(errno(fs::remove_dir(fx.at("d"))), libc::ENOTEMPTY);
    assert_eq!(errno(fs::File::open(fx.at("missing"))), libc::ENOENT);
    assert_eq!(errno(fs::metadata(fx.at("d/missing/deeper"))), libc::ENOENT);
    let long = "n".repeat(256);
    assert_eq!(errno(fs::write(fx.at(&long), b"x")), libc::ENAMETOOLONG);
    assert_eq!(errno(fs::create_dir(fx.at(&long))), libc::ENAMETOOLONG);
    fs::write(fx.at(&"n".repeat(255)), b"255 is fine").expect("a 255-byte name");
    let not_utf8 = std::ffi::OsStr::from_bytes(b"bad-\xff-name");
    assert_eq!(
        errno(fs::write(fx.root().join(not_utf8), b"x")),
        libc::EINVAL
    );
    assert_eq!(
        errno(fs::hard_link(fx.at("d/file"), fx.at("hard"))),
        libc::EPERM
    );
    assert_eq!(errno(fs::create_dir(fx.at("d"))), libc::EEXIST);
    assert_eq!(
        errno(fs::rename(fx.at("d"), fx.at("d/sub/inside"))),
        libc::EINVAL
    );
    assert_eq!(errno(fs::remove_file(fx.at("d"))), libc::EISDIR);
    assert_eq!(errno(fs::remove_dir(fx.at("d/file"))), libc::ENOTDIR);
    assert_eq!(
        errno(fs::rename(fx.at("d/sub"), fx.at("d/file"))),
        libc::ENOTDIR
    );
    fs::write(fx.at("d/sub/x"), b"x").expect("write");
    fs::create_dir(fx.at("other")).expect("mkdir");
    fs::write(fx.at("other/y"), b"y").expect("write");
    assert_eq!(
        errno(fs::rename(fx.at("d/sub"), fx.at("other"))),
        libc::ENOTEMPTY
    );
    // Nothing of the failed calls reached the bucket.
    let mut keys = fx.s3.keys(&fx.bucket).await;
    keys.sort();
    let long_key = "n".repeat(255);
    let want = [
        "d/", "d/file", "d/sub/", "d/sub/x", &long_key, "other/", "other/y",
    ];
    assert_eq!(keys, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_read_only_mount_refuses_every_change() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    fs::write(fx.at("f"), b"data").expect("write");
    fs::create_dir(fx.at("d")).expect("mkdir");
    let ro = fx.mount_another("ro", &["--bucket", &fx.bucket, "--read-only"]);
    let p = |rel: &str| ro.path.join(rel);
    assert_eq!(fs::read(p("f")).expect("reads work"), b"data");
    assert_eq!(errno(fs::write(p("f"), b"new")), libc::EROFS);
    assert_eq!(errno(fs::write(p("g"), b"new")), libc::EROFS);
    assert_eq!(errno(fs::create_dir(p("e"))), libc::EROFS);
    assert_eq!(errno(fs::remove_file(p("f"))), libc::EROFS);
    assert_eq!(errno(fs::remove_dir(p("d"))), libc::EROFS);
    assert_eq!(errno(fs::rename(p("f"), p("h"))), libc::EROFS);
    let perms = fs::Permissions::from_mode(0o600);
    assert_eq!(errno(fs::set_permissions(p("f"), perms)), libc::EROFS);
    assert_eq!(fs::read(fx.at("f")).expect("unchanged"), b"data");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_root_without_bucket_lists_buckets() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let all = fx.mount_another("all", &[]);
    let names = |m: &std::path::Path| {
        let mut v: Vec<String> = fs::read_dir(m)
            .expect("readdir root")
            .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&all.path), ["fuse-test"]);
    fs::create_dir(all.path.join("made-by-mkdir")).expect("mkdir makes a bucket");
    let buckets = fx.s3.s3.list_buckets().send().await.expect("list buckets");
    let listed: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(listed.contains(&"made-by-mkdir"), "{listed:?}");
    fs::write(all.path.join("made-by-mkdir/obj"), b"in a bucket").expect("write");
    assert_eq!(fx.s3.get("made-by-mkdir", "obj").await, b"in a bucket");
    assert_eq!(
        errno(fs::remove_dir(all.path.join("made-by-mkdir"))),
        libc::ENOTEMPTY
    );
    fs::remove_file(all.path.join("made-by-mkdir/obj")).expect("rm");
    fs::remove_dir(all.path.join("made-by-mkdir")).expect("rmdir removes the bucket");
    assert_eq!(names(&all.path), ["fuse-test"]);
    assert_eq!(
        errno(fs::create_dir(all.path.join("Bad_Name"))),
        libc::EINVAL
    );
    assert_eq!(
        errno(fs::write(all.path.join("file-at-root"), b"x")),
        libc::EISDIR
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_attributes_symlinks_and_statfs() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    fs::write(fx.at("f"), b"hello").expect("write");
    fs::set_permissions(fx.at("f"), fs::Permissions::from_mode(0o640)).expect("chmod");
    let out = Command::new("chown")
        .arg("1234:5678")
        .arg(fx.at("f"))
        .output()
        .expect("chown");
    assert!(out.status.success(), "{out:?}");
    let out = Command::new("touch")
        .args(["-m", "-d", "2024-02-03 04:05:06.789"])
        .arg(fx.at("f"))
        .output()
        .expect("touch");
    assert!(out.status.success(), "{out:?}");
    fs::create_dir(fx.at("d")).expect("mkdir");
    fs::set_permissions(fx.at("d"), fs::Permissions::from_mode(0o700)).expect("chmod dir");
    std::os::unix::fs::symlink("f", fx.at("l")).expect("symlink");
    // As tar does: attributes set on the open file before close. A small file goes up
    // with them in its one PutObject; a large one's PutObject started before them.
    let late_mtime = UNIX_EPOCH + Duration::new(1_600_000_000, 5_000);
    for (name, len) in [("small", 10), ("large", 3 << 20)] {
        let mut f = fs::File::create(fx.at(name)).expect("create");
        f.write_all(&vec![7u8; len]).expect("write");
        f.set_modified(late_mtime).expect("futimens");
        std::os::unix::fs::fchown(&f, Some(4321), Some(8765)).expect("fchown");
        f.set_permissions(fs::Permissions::from_mode(0o604))
            .expect("fchmod");
    }
    // A second mount sees what the first stored (not its caches).
    let other = fx.mount_another("other", &["--bucket", &fx.bucket]);
    for (name, len) in [("small", 10), ("large", 3 << 20)] {
        let m = fs::metadata(other.path.join(name)).expect("stat");
        let got = (m.mode() & 0o7777, m.uid(), m.gid(), m.len());
        assert_eq!(got, (0o604, 4321, 8765, len), "{name}");
        assert_eq!(m.modified().expect("mtime"), late_mtime, "{name}");
    }
    let m = fs::metadata(other.path.join("f")).expect("stat");
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid(), m.len()),
        (0o640, 1234, 5678, 5)
    );
    let mtime = UNIX_EPOCH + Duration::new(1_706_933_106, 789_000_000);
    assert_eq!(m.modified().expect("mtime"), mtime);
    let d = fs::metadata(other.path.join("d")).expect("stat dir");
    assert!(d.is_dir());
    assert_eq!(d.mode() & 0o7777, 0o700);
    // A nominal size, as ext4's, for `du` and the tools that compare.
    assert_eq!((d.len(), d.blocks()), (4096, 8));
    // The TCGETS ioctl of every buffered Python open() is answered ENOTTY, unlogged.
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; f = open(sys.argv[1]); print(f.isatty(), f.read())",
        ])
        .arg(other.path.join("f"))
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "False hello",
        "{out:?}"
    );
    assert!(!other.log_text().contains("ioctl"), "{}", other.log_text());
    let l = fs::symlink_metadata(other.path.join("l")).expect("lstat");
    assert!(l.file_type().is_symlink());
    assert_eq!(
        fs::read_link(other.path.join("l"))
            .expect("readlink")
            .to_str(),
        Some("f")
    );
    assert_eq!(
        fs::read(other.path.join("l")).expect("through the link"),
        b"hello"
    );
    // The data was not rewritten by the attribute changes: same ETag as a fresh PUT.
    let head = fx
        .s3
        .s3
        .head_object()
        .bucket(&fx.bucket)
        .key("f")
        .send()
        .await;
    let etag = head.expect("head").e_tag.expect("etag");
    assert_eq!(etag, format!("\"{}\"", tessera_tests::md5_hex(b"hello")));
    // statfs: the cluster's capacity.
    let out = Command::new("stat")
        .args(["-f", "-c", "%b %f %S %l"])
        .arg(fx.root())
        .output()
        .expect("stat -f");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<u64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(v.len(), 4, "{text}");
    assert!(v[0] > 0 && v[1] > 0 && v[1] <= v[0], "{text}");
    assert_eq!((v[2], v[3]), (4096, 255));
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_listing_carries_attributes_and_pages() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    // 2,500 entries, files and directories mixed (the 100k test below takes ten pages).
    for i in 0..2_400 {
        fx.s3
            .put(&fx.bucket, &format!("big/f{i:05}"), &[b'x'; 3])
            .await;
    }
    for i in 0..100 {
        fx.s3
            .put(&fx.bucket, &format!("big/d{i:03}/inner"), b"y")
            .await;
    }
    let out = Command::new("ls")
        .arg("-l")
        .arg(fx.at("big"))
        .output()
        .expect("ls -l");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let files = text.lines().filter(|l| l.starts_with("-rw-r--r--")).count();
    let dirs = text.lines().filter(|l| l.starts_with("drwxr-xr-x")).count();
    assert_eq!(
        (files, dirs),
        (2_400, 100),
        "{}",
        &text[..text.len().min(500)]
    );
    assert!(
        text.lines()
            .filter(|l| l.starts_with('-'))
            .all(|l| l.contains(" 3 "))
    );

    // The kernel takes the attributes with the names (READDIRPLUS); what a listing does
    // not carry, a directory's mode on its marker, is still right in `ls -l` of a mount
    // that has never looked the directory up.
    fs::create_dir_all(fx.at("modes/private")).expect("mkdir -p");
    fs::set_permissions(fx.at("modes/private"), fs::Permissions::from_mode(0o700)).expect("chmod");
    fs::write(fx.at("modes/script"), b"#!/bin/sh\n").expect("write");
    fs::set_permissions(fx.at("modes/script"), fs::Permissions::from_mode(0o750)).expect("chmod");
    let other = fx.mount_another("other", &["--bucket", &fx.bucket]);
    let out = Command::new("ls")
        .arg("-l")
        .arg(other.path.join("modes"))
        .output()
        .expect("ls -l");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        let suffix = format!(" {name}");
        let found = text.lines().find(|l| l.ends_with(&suffix));
        found
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .to_string()
    };
    assert!(line("private").starts_with("drwx------"), "{text}");
    assert!(line("script").starts_with("-rwxr-x---"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_directory_of_100k_entries_lists_fully() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    const N: usize = 100_000;
    const WRITERS: usize = 32;
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (s3, bucket) = (fx.s3.s3.clone(), fx.bucket.clone());
        tasks.push(tokio::spawn(async move {
            for i in (w..N).step_by(WRITERS) {
                s3.put_object()
                    .bucket(&bucket)
                    .key(format!("huge/{i:06}"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("put {i}: {e:?}"));
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    eprintln!("{N} objects put in {:?}", started.elapsed());
    let started = std::time::Instant::now();
    let mut count = 0;
    let mut last = String::new();
    for e in fs::read_dir(fx.at("huge")).expect("readdir") {
        let e = e.expect("entry");
        assert!(e.file_type().expect("d_type").is_file());
        let name = e.file_name().to_string_lossy().to_string();
        assert!(name > last, "sorted, no repeats: {last} then {name}");
        last = name;
        count += 1;
    }
    eprintln!("readdir of {N} entries in {:?}", started.elapsed());
    assert_eq!((count, last.as_str()), (N, "099999"));
    assert_eq!(fs::metadata(fx.at("huge/054321")).expect("stat").len(), 0);
}
