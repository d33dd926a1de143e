//! The `tessera-mount` command: background start with a truthful exit status, failures
//! before mounting (unreachable endpoint, wrong credentials, missing bucket), unmount by
//! `fusermount3 -u` and by SIGTERM after dirty files are uploaded, and a server that dies
//! and comes back (EIO within a bounded time, then service again).

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use tessera_tests::{Mount, MountPointGuard, PASSWORD, USER};

use crate::fuse::{FuseEnv, PrivateFile, mount_bin};

fn mounted(path: &std::path::Path) -> bool {
    let mounts = fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    let p = path.to_string_lossy();
    mounts.lines().any(|l| l.split(' ').nth(1) == Some(&*p))
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_mount_goes_to_background_and_unmounts() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let mnt = fx.dir.path().join("bg");
    fs::create_dir_all(&mnt).expect("mkdir");
    let cache = fx.dir.path().join("bg.cache");
    // The mount's process is not ours once it goes to the background: this unmounts it
    // (which ends it) if the test fails before it does.
    let _guard = MountPointGuard(mnt.clone());
    let status = Command::new(mount_bin())
        .args(["--endpoint", &fx.s3.node().endpoint, "--bucket", &fx.bucket])
        .arg("--cache-dir")
        .arg(&cache)
        .arg(&mnt)
        .env("TESSERA_ROOT_USER", USER)
        .env("TESSERA_ROOT_PASSWORD", PASSWORD)
        .status()
        .expect("run tessera-mount");
    assert!(status.success(), "background mount: {status:?}");
    // Mounted by the time the command returned.
    assert!(mounted(&mnt));
    fs::write(mnt.join("bg-file"), b"from the background mount").expect("write");
    assert_eq!(
        fx.s3.get(&fx.bucket, "bg-file").await,
        b"from the background mount"
    );
    let out = Command::new("fusermount3")
        .arg("-u")
        .arg(&mnt)
        .output()
        .expect("fusermount3");
    assert!(out.status.success(), "{out:?}");
    wait_until("the unmount", Duration::from_secs(10), || !mounted(&mnt));
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_mount_fails_before_mounting_with_a_clear_message() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let mnt = fx.dir.path().join("never");
    let endpoint = fx.s3.node().endpoint.clone();
    let cases: [(&str, &str, &str, &str); 3] = [
        ("http://127.0.0.1:1", USER, PASSWORD, "cannot connect"),
        (&endpoint, USER, "wrong-password", "signature"),
        (&endpoint, USER, PASSWORD, "no-such-bucket"),
    ];
    for (endpoint, user, password, says) in cases {
        let bucket = if says == "no-such-bucket" {
            "no-such-bucket"
        } else {
            "fuse-test"
        };
        let started = Instant::now();
        let err = Mount::try_start(
            mount_bin(),
            endpoint,
            &mnt,
            &["--bucket", bucket],
            (user, password),
        )
        .err()
        .unwrap_or_else(|| panic!("mounting {endpoint} as {user}/{password} should fail"));
        assert!(started.elapsed() < Duration::from_secs(20));
        assert!(err.to_lowercase().contains(says), "{says}: {err}");
        assert!(!mounted(&mnt));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_sigterm_uploads_open_files_then_unmounts() {
    let Some(mut fx) = FuseEnv::start(&[]).await else {
        return;
    };
    // Writes out of order go to a staging file: nothing is uploaded until close, fsync...
    // or SIGTERM.
    let open = PrivateFile::create(&fx.at("still-open"));
    open.run(|f| {
        std::os::unix::fs::FileExt::write_at(f, &[7u8; 299_996], 4).expect("pwrite");
        std::os::unix::fs::FileExt::write_at(f, b"HEAD", 0).expect("pwrite");
    });
    // A child spawned now (as any test may do) must not flush the private file.
    Command::new("true").status().expect("spawn true");
    assert!(!fx.s3.exists(&fx.bucket, "still-open").await);
    fx.mount.signal_term();
    wait_until("the upload", Duration::from_secs(20), || {
        futures::executor::block_on(fx.s3.exists(&fx.bucket, "still-open"))
    });
    let mut want = vec![7u8; 300_000];
    want[..4].copy_from_slice(b"HEAD");
    assert_eq!(fx.s3.get(&fx.bucket, "still-open").await, want);
    drop(open);
    let status = fx.mount.wait_exit(Duration::from_secs(20));
    let log = fx.mount.log_text();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}; log:\n{log}"
    );
    assert!(!mounted(fx.root()));
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_server_loss_is_eio_then_the_mount_recovers() {
    let Some(mut fx) = FuseEnv::start(&[]).await else {
        return;
    };
    fs::write(fx.at("before"), b"written before the crash").expect("write");
    fx.s3.env.node.kill9();
    let started = Instant::now();
    let err = fs::read(fx.at("not-cached-yet")).expect_err("no server");
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    let err = fs::write(fx.at("new-file"), b"x").expect_err("no server");
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    fx.s3.env.node.restart();
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        fs::read(fx.at("before")).expect("read after restart"),
        b"written before the crash"
    );
    fs::write(fx.at("after"), b"written after").expect("write after restart");
    assert_eq!(fx.s3.get(&fx.bucket, "after").await, b"written after");
}
