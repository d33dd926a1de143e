//! Lookups, directories, rename, symlinks, attributes and the errno mapping.

use std::path::Path;

use super::*;
use crate::api::{ApiError, ServiceError};
use crate::fs::error::FsError;
use crate::fs::namespace::Change;

#[tokio::test]
async fn an_open_asks_the_server_for_the_object_alone() {
    let api = Memory::new(&["b"], 0);
    api.insert("b", "d/f", b"one");
    let f = mount(&api, Some("b"));
    let (ino, _) = f.lookup("d/f").await.expect("f");
    let (lookups, heads) = (api.calls("lookup"), api.calls("head"));
    api.insert("b", "d/f", b"two, longer");
    let fh = f.fs.open(ino, libc::O_RDONLY).await.expect("open");
    assert_eq!(
        f.fs.getattr(ino).await.expect("attr").size,
        11,
        "what the server has"
    );
    f.fs.release(fh).await;
    assert_eq!(api.calls("head") - heads, 1, "one HEAD");
    assert_eq!(api.calls("lookup") - lookups, 0, "no listing beside it");
    // Gone from the server since the lookup: the open fails.
    crate::api::ObjectApi::delete(&api, "b", "d/f")
        .await
        .expect("delete");
    let gone = f.fs.open(ino, libc::O_RDONLY).await.expect_err("gone");
    assert_eq!(gone.errno(), Errno::ENOENT);
}

#[tokio::test]
async fn lookup_tells_files_from_directories_and_the_directory_wins() {
    let api = Memory::new(&["b"], 0);
    api.insert("b", "a.txt", b"hello");
    api.insert("b", "d/x", b"x");
    api.insert("b", "both", b"file");
    api.insert("b", "both/y", b"y");
    let f = mount(&api, Some("b"));
    let (_, a) = f.lookup("a.txt").await.expect("file");
    assert_eq!((a.kind, a.size, a.perm), (Kind::File, 5, 0o644));
    let (d, attr) = f.lookup("d").await.expect("implicit directory");
    assert_eq!(attr.kind, Kind::Dir);
    assert_eq!(f.lookup("d/x").await.expect("file in it").1.size, 1);
    assert_eq!(f.fs.path_of(d).expect("path"), "d");
    // README: a prefix that is also a file key is a directory.
    assert_eq!(f.lookup("both").await.expect("both").1.kind, Kind::Dir);
    assert_eq!(errno(f.lookup("missing").await), Errno::ENOENT);
}

#[tokio::test]
async fn a_fresh_lookup_is_answered_from_the_inode_table() {
    let api = Memory::new(&["b"], 0);
    api.insert("b", "f", b"1");
    let f = mount(&api, Some("b"));
    f.lookup("f").await.expect("first");
    f.lookup("f").await.expect("second");
    assert_eq!(api.calls("lookup"), 1, "the TTL has not run out");
}

#[tokio::test]
async fn the_root_takes_its_times_from_the_mount_check_and_asks_nothing() {
    let api = Memory::new(&["b"], 0);
    let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let known = mount_tuned(&api, Some("b"), |s| {
        s.bucket_created = Some(created);
        s.ttl = Duration::ZERO;
    });
    for _ in 0..2 {
        let root = known.fs.getattr(ROOT).await.expect("root");
        assert_eq!(
            (root.kind, root.mtime, root.ctime),
            (Kind::Dir, created, created)
        );
    }
    assert_eq!(
        api.calls("head_bucket"),
        0,
        "a bucket's creation time never changes"
    );
    let asking = mount_tuned(&api, Some("b"), |s| s.ttl = Duration::ZERO);
    asking.fs.getattr(ROOT).await.expect("root");
    assert_eq!(api.calls("head_bucket"), 1, "not known at the start: asked");
}

#[tokio::test]
async fn mkdir_keeps_its_attributes_on_a_marker_and_rmdir_wants_it_empty() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let dir = Attr::new(Kind::Dir, 0o700, 1000, 1000);
    let (d, _) = f.fs.mkdir(ROOT, os("d"), dir).await.expect("mkdir");
    assert_eq!(api.keys("b"), ["d/"]);
    // Another mount reads the mode from the marker.
    assert_eq!(
        mount(&api, Some("b")).lookup("d").await.expect("d").1.perm,
        0o700
    );
    api.insert("b", "d/f", b"1");
    assert_eq!(errno(f.fs.rmdir(ROOT, os("d")).await), Errno::ENOTEMPTY);
    f.fs.lookup(d, os("f")).await.expect("f");
    f.fs.unlink(d, os("f")).await.expect("unlink");
    f.fs.rmdir(ROOT, os("d")).await.expect("rmdir");
    assert!(api.keys("b").is_empty());
}

#[tokio::test]
async fn the_root_of_a_mount_without_bucket_holds_buckets() {
    let api = Memory::new(&["one"], 0);
    let f = mount(&api, None);
    let dir = Attr::new(Kind::Dir, 0o755, 0, 0);
    f.fs.mkdir(ROOT, os("two"), dir.clone())
        .await
        .expect("create bucket");
    assert_eq!(errno(f.fs.mkdir(ROOT, os("two"), dir).await), Errno::EEXIST);
    api.insert("one", "k", b"v");
    assert_eq!(errno(f.fs.rmdir(ROOT, os("one")).await), Errno::ENOTEMPTY);
    f.fs.rmdir(ROOT, os("two")).await.expect("delete bucket");
    assert_eq!(f.lookup("one/k").await.expect("key").1.size, 1);
    assert_eq!(errno(f.lookup("two").await), Errno::ENOENT);
}

#[tokio::test]
async fn rename_of_a_file_is_one_server_call_replacing_the_target() {
    let api = Memory::new(&["b"], 0);
    api.insert("b", "a", b"new");
    api.insert("b", "z", b"old");
    let f = mount(&api, Some("b"));
    let (ino, _) = f.lookup("a").await.expect("a");
    f.fs.rename(ROOT, os("a"), ROOT, os("z"), false)
        .await
        .expect("rename");
    assert_eq!(api.calls("rename"), 1);
    assert_eq!(api.keys("b"), ["z"]);
    assert_eq!(api.object("b", "z").expect("z").data, "new");
    assert_eq!(f.fs.path_of(ino).expect("moved inode"), "z");
    assert_eq!(errno(f.lookup("a").await), Errno::ENOENT);
    api.insert("b", "c", b"c");
    let no_replace = f.fs.rename(ROOT, os("z"), ROOT, os("c"), true).await;
    assert_eq!(errno(no_replace), Errno::EEXIST);
}

#[tokio::test]
async fn rename_of_a_file_uploads_it_first_when_written_here() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let (_, fh) =
        f.fs.create(ROOT, os("new"), file_attr(), false)
            .await
            .expect("create");
    f.fs.write(fh, 0, b"data").await.expect("write");
    f.fs.rename(ROOT, os("new"), ROOT, os("moved"), false)
        .await
        .expect("rename");
    f.fs.release(fh).await;
    assert_eq!(api.keys("b"), ["moved"]);
    assert_eq!(api.object("b", "moved").expect("moved").data, "data");
}

#[tokio::test]
async fn rename_of_a_directory_moves_every_key_under_its_prefix() {
    let api = Memory::new(&["b", "other"], 0);
    api.insert("b", "d/", b"");
    api.insert("b", "d/a", b"a");
    api.insert("b", "d/sub/b", b"b");
    api.insert("b", "full/x", b"x");
    let f = mount(&api, None);
    let (b, _) = f.lookup("b").await.expect("bucket");
    let into_itself = f.fs.rename(b, os("d"), b, os("d"), false).await;
    assert!(into_itself.is_ok(), "same name: nothing to do");
    let (d, _) = f.lookup("b/d").await.expect("d");
    assert_eq!(
        errno(f.fs.rename(b, os("d"), d, os("in"), false).await),
        Errno::EINVAL
    );
    assert_eq!(
        errno(f.fs.rename(b, os("d"), b, os("full"), false).await),
        Errno::ENOTEMPTY
    );
    let (other, _) = f.lookup("other").await.expect("other bucket");
    assert_eq!(
        errno(f.fs.rename(b, os("d"), other, os("d"), false).await),
        Errno::EXDEV
    );
    f.fs.rename(b, os("d"), b, os("e"), false)
        .await
        .expect("rename");
    assert_eq!(api.keys("b"), ["e/", "e/a", "e/sub/b", "full/x"]);
    assert_eq!(api.calls("rename_prefix"), 1);
    assert_eq!(f.lookup("b/e/sub/b").await.expect("moved").1.size, 1);
    assert_eq!(errno(f.lookup("b/d").await), Errno::ENOENT);
}

#[tokio::test]
async fn symlinks_and_attribute_changes_live_in_object_metadata() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let (l, attr) =
        f.fs.symlink(ROOT, os("l"), Path::new("../t"), 1, 2)
            .await
            .expect("symlink");
    assert_eq!((attr.kind, attr.size), (Kind::Symlink, 4));
    assert_eq!(f.fs.readlink(l).await.expect("readlink"), "../t");
    let ino = f.put("f", b"x").await;
    let change = Change {
        mode: Some(0o600),
        uid: Some(7),
        ..Change::default()
    };
    f.fs.setattr(ino, change).await.expect("chmod, chown");
    let meta = api.object("b", "f").expect("f").meta;
    assert_eq!(
        meta.get("mode").map(String::as_str),
        Some("33152"),
        "S_IFREG | 0600"
    );
    assert_eq!(meta.get("uid").map(String::as_str), Some("7"));
    let (blocks, free) = f.fs.statfs().await.expect("statfs");
    assert_eq!((blocks, free), ((3 << 30) / 2 / 4096, (1 << 30) / 4096));
}

#[tokio::test]
async fn set_id_bits_go_on_chown_and_on_unprivileged_writes_and_truncates() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let ino = f.put("f", b"data").await;
    let chmod = |mode| Change {
        mode: Some(mode),
        ..Change::default()
    };
    let perm = |a: Attr| a.perm;
    // Set-group-ID goes with set-user-ID only when group-executable.
    f.fs.setattr(ino, chmod(0o6755)).await.expect("chmod");
    f.fs.drop_privileges(ino).await.expect("write");
    assert_eq!(perm(f.fs.getattr(ino).await.expect("stat")), 0o0755);
    f.fs.setattr(ino, chmod(0o6745)).await.expect("chmod");
    f.fs.drop_privileges(ino).await.expect("write");
    assert_eq!(perm(f.fs.getattr(ino).await.expect("stat")), 0o2745);
    let stored = api.object("b", "f").expect("f").meta;
    assert_eq!(
        stored.get("mode").map(String::as_str),
        Some("34277"),
        "S_IFREG | 02745"
    );
    // Nothing to drop: nothing sent.
    let updates = api.calls("update_metadata");
    f.fs.drop_privileges(ino).await.expect("write");
    assert_eq!(api.calls("update_metadata"), updates);
    // A truncate by root keeps them, by anyone else drops them; chown always does.
    f.fs.setattr(ino, chmod(0o4755)).await.expect("chmod");
    let truncate = |unprivileged| Change {
        size: Some(1),
        unprivileged,
        ..Change::default()
    };
    let a = f.fs.setattr(ino, truncate(false)).await.expect("truncate");
    assert_eq!(perm(a), 0o4755);
    let a = f.fs.setattr(ino, truncate(true)).await.expect("truncate");
    assert_eq!(perm(a), 0o0755);
    f.fs.setattr(ino, chmod(0o6775)).await.expect("chmod");
    let chown = Change {
        uid: Some(0),
        ..Change::default()
    };
    assert_eq!(perm(f.fs.setattr(ino, chown).await.expect("chown")), 0o0775);
    // A directory keeps them (set-group-ID there means: new entries take its group).
    let (d, _) =
        f.fs.mkdir(ROOT, os("d"), Attr::new(Kind::Dir, 0o2775, 0, 0))
            .await
            .expect("mkdir");
    let chown = Change {
        gid: Some(5),
        ..Change::default()
    };
    assert_eq!(perm(f.fs.setattr(d, chown).await.expect("chown")), 0o2775);
}

#[tokio::test]
async fn refusals_become_the_errno_posix_names() {
    let api = Memory::new(&["b"], 0);
    let f = mount(&api, Some("b"));
    let long = "x".repeat(256);
    assert_eq!(
        errno(f.fs.lookup(ROOT, os(&long)).await),
        Errno::ENAMETOOLONG
    );
    assert_eq!(
        errno(f.fs.readlink(999).await),
        Errno::ENOENT,
        "unknown inode"
    );
    let ro = mount_with(&api, Some("b"), true);
    let dir = Attr::new(Kind::Dir, 0o755, 0, 0);
    assert_eq!(errno(ro.fs.mkdir(ROOT, os("d"), dir).await), Errno::EROFS);
    assert_eq!(errno(f.fs.write(999, 0, b"x").await), Errno::EBADF);
}

#[test]
fn every_error_kind_maps_to_one_errno() {
    let service = |kind| FsError::Api(ApiError::service(kind, "x"));
    let cases = [
        (service(ServiceError::NotFound), Errno::ENOENT),
        (service(ServiceError::AlreadyExists), Errno::EEXIST),
        (service(ServiceError::NotEmpty), Errno::ENOTEMPTY),
        (service(ServiceError::NameTooLong), Errno::ENAMETOOLONG),
        (service(ServiceError::StorageFull), Errno::ENOSPC),
        (service(ServiceError::PermissionDenied), Errno::EACCES),
        (service(ServiceError::InvalidArgument), Errno::EINVAL),
        (service(ServiceError::Other), Errno::EIO),
        (
            FsError::Api(ApiError::Timeout(Duration::from_secs(1))),
            Errno::EIO,
        ),
        (FsError::Api(ApiError::Client("reset".into())), Errno::EIO),
        (
            FsError::Io(std::io::Error::from_raw_os_error(libc::ENOSPC)),
            Errno::ENOSPC,
        ),
        (FsError::Io(std::io::Error::other("no code")), Errno::EIO),
        (FsError::posix(Errno::EXDEV, "across buckets"), Errno::EXDEV),
    ];
    for (err, want) in cases {
        assert_eq!(err.errno(), want, "{err}");
    }
    assert!(service(ServiceError::NotFound).is_not_found());
    assert!(!FsError::posix(Errno::ENOENT, "local").is_not_found());
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_an_io_error() {
    let api = Memory::new(&["b"], 0);
    api.insert("b", "f", b"1");
    let f = mount(&api, Some("b"));
    api.fail_next("lookup", ApiError::Timeout(Duration::from_secs(30)));
    assert_eq!(errno(f.lookup("f").await), Errno::EIO);
    assert_eq!(
        f.lookup("f").await.expect("the next call answers").1.size,
        1
    );
}
