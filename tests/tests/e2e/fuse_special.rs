//! FIFOs, device and socket nodes on a real mount (README "Semantics": special files):
//! empty objects whose type, mode and device number are in their metadata; stat shows
//! them right whether looked up or listed, on this mount and another; chmod, chown,
//! rename and unlink work; a FIFO carries data between two processes; a tar round trip of
//! a tree holding them matches a local directory.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;

use crate::fuse::FuseEnv;

fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// `(kind, mode, rdev)` of `p` as stat shows it.
fn node(p: &Path) -> (char, u32, u64) {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    (kind(&m.file_type()), m.mode(), m.rdev())
}

fn kind(t: &fs::FileType) -> char {
    if t.is_fifo() {
        'p'
    } else if t.is_char_device() {
        'c'
    } else if t.is_block_device() {
        'b'
    } else if t.is_socket() {
        's'
    } else if t.is_symlink() {
        'l'
    } else if t.is_dir() {
        'd'
    } else {
        '-'
    }
}

/// Every entry under `root` as `(path, kind, mode, rdev, size)`, from a listing.
fn listed(root: &Path) -> Vec<(String, char, u32, u64, u64)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in fs::read_dir(&dir).expect("readdir") {
            let e = e.expect("entry");
            let m = e.metadata().expect("stat");
            let t = e.file_type().expect("type");
            assert_eq!(
                kind(&t),
                kind(&m.file_type()),
                "readdir's type and stat's agree"
            );
            let rel = e
                .path()
                .strip_prefix(root)
                .expect("under")
                .display()
                .to_string();
            let size = if t.is_dir() { 0 } else { m.len() };
            out.push((rel, kind(&t), m.mode(), m.rdev(), size));
            if t.is_dir() {
                dirs.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_special_files_are_created_stated_changed_renamed_and_removed() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let mnt = fx.root().display().to_string();
    sh(&format!(
        "cd {mnt} && mkfifo -m 640 fifo && mknod chr c 1 3 && mknod blk b 8 1"
    ));
    let sock = UnixListener::bind(fx.at("sock")).expect("bind a socket on the mount");
    let rdev = |major: u64, minor: u64| libc::makedev(major as u32, minor as u32);
    assert_eq!(node(&fx.at("fifo")), ('p', libc::S_IFIFO | 0o640, 0));
    assert_eq!(node(&fx.at("chr")).0, 'c');
    assert_eq!(node(&fx.at("chr")).2, rdev(1, 3));
    assert_eq!(node(&fx.at("blk")).0, 'b');
    assert_eq!(node(&fx.at("blk")).2, rdev(8, 1));
    assert_eq!(node(&fx.at("sock")).0, 's');
    // S3 sees empty objects with their type in `mode`, s3fs's way.
    for key in ["fifo", "chr", "blk", "sock"] {
        assert_eq!(fx.s3.get(&fx.bucket, key).await, b"", "{key} is empty");
    }
    let head = (fx.s3.s3.head_object())
        .bucket(&fx.bucket)
        .key("chr")
        .send()
        .await
        .expect("head");
    let meta = head.metadata().expect("metadata");
    assert_eq!(meta.get("mode").map(String::as_str), Some("8612")); // S_IFCHR | 0644
    assert_eq!(meta.get("rdev"), Some(&rdev(1, 3).to_string()));
    // chmod, chown, rename, unlink.
    fs::set_permissions(fx.at("fifo"), fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::chown(fx.at("chr"), Some(42), Some(43)).expect("chown");
    fs::rename(fx.at("blk"), fx.at("blk2")).expect("rename");
    assert_eq!(node(&fx.at("fifo")), ('p', libc::S_IFIFO | 0o600, 0));
    let m = fs::symlink_metadata(fx.at("chr")).expect("stat");
    assert_eq!((m.uid(), m.gid()), (42, 43));
    assert_eq!(node(&fx.at("blk2")).2, rdev(8, 1));
    // Listed, on another mount: the same types, modes and numbers.
    let other = fx.mount_another("other", &["--bucket", &fx.bucket]);
    assert_eq!(listed(&other.path), listed(fx.root()));
    assert_eq!(node(&other.path.join("chr")), node(&fx.at("chr")));
    drop(sock);
    for name in ["fifo", "chr", "blk2", "sock"] {
        fs::remove_file(fx.at(name)).expect("unlink");
    }
    assert!(fx.s3.keys(&fx.bucket).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_special_a_fifo_carries_data_between_two_processes() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let fifo = fx.at("pipe");
    sh(&format!("mkfifo {}", fifo.display()));
    let writer = Command::new("sh")
        .args(["-c", &format!("seq 1 1000 > {}", fifo.display())])
        .spawn()
        .expect("writer");
    let got = sh(&format!("cat {}", fifo.display()));
    let mut writer = writer;
    assert!(writer.wait().expect("wait").success());
    let want: String = (1..=1000).map(|i| format!("{i}\n")).collect();
    assert_eq!(got, want);
    assert_eq!(fx.s3.get(&fx.bucket, "pipe").await, b"", "nothing stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_special_tar_round_trip_matches_a_local_directory() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let base = fx.dir.path().display().to_string();
    let mnt = fx.root().display().to_string();
    sh(&format!(
        "set -e; mkdir -p {base}/local/d; cd {base}/local; echo hi > d/file; \
         mkfifo -m 600 d/fifo; mknod -m 620 chr c 4 5; mknod blk b 7 9; ln -s d/file link; \
         chmod 750 d; tar -cf {base}/tree.tar .; cd {mnt}; tar -xpf {base}/tree.tar; \
         mkdir {base}/back; cd {base}/back; tar -C {mnt} -cf - . | tar -xpf -"
    ));
    let local = listed(&fx.dir.path().join("local"));
    assert_eq!(listed(fx.root()), local, "extracted onto the mount");
    assert_eq!(
        listed(&fx.dir.path().join("back")),
        local,
        "archived from the mount"
    );
}
