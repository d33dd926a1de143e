//! Times on a real mount, one POSIX rule a test (README "Semantics": times): atime set by
//! utimensat and never by reads (`noatime`), UTIME_NOW and UTIME_OMIT, nanoseconds, ctime
//! on every change of data or attributes, a directory's mtime and ctime when its entries
//! change (stored on its marker, so another mount sees them), and utimensat's permission
//! rules for a user who is not the owner.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fuse::{FuseEnv, as_nobody, errno};

/// `(atime, mtime, ctime)` of `p`, to the nanosecond.
fn times(p: &Path) -> (SystemTime, SystemTime, SystemTime) {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    let at = |s: i64, ns: i64| UNIX_EPOCH + Duration::new(s as u64, ns as u32);
    (
        at(m.atime(), m.atime_nsec()),
        at(m.mtime(), m.mtime_nsec()),
        at(m.ctime(), m.ctime_nsec()),
    )
}

/// utimensat(2) of `p` through an open descriptor; `None` is UTIME_OMIT.
fn set_times(p: &Path, atime: Option<SystemTime>, mtime: Option<SystemTime>) {
    let mut t = fs::FileTimes::new();
    if let Some(a) = atime {
        t = t.set_accessed(a);
    }
    if let Some(m) = mtime {
        t = t.set_modified(m);
    }
    let f = fs::File::open(p).expect("open");
    f.set_times(t).expect("futimens");
}

fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, nanos)
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_times_atime_is_set_by_utimensat_never_by_reads() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let f = fx.at("f");
    fs::write(&f, b"data").expect("write");
    let (a, m) = (
        at(1_600_000_000, 123_456_789),
        at(1_700_000_000, 987_654_321),
    );
    set_times(&f, Some(a), Some(m));
    let (atime, mtime, _) = times(&f);
    assert_eq!((atime, mtime), (a, m), "both times, to the nanosecond");
    assert_eq!(fs::read(&f).expect("read"), b"data");
    assert_eq!(times(&f).0, a, "a read leaves atime alone (noatime)");
    // Stored: another mount (and a fresh lookup) reads the same nanoseconds.
    let other = fx.mount_another("other", &["--bucket", &fx.bucket]);
    let (atime, mtime, _) = times(&other.path.join("f"));
    assert_eq!((atime, mtime), (a, m), "seen by another mount");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_times_utime_now_and_utime_omit() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let f = fx.at("f");
    fs::write(&f, b"data").expect("write");
    let (a, m) = (at(1_500_000_000, 1), at(1_600_000_000, 2));
    set_times(&f, Some(a), Some(m));
    set_times(&f, None, Some(at(1_650_000_000, 3)));
    assert_eq!(times(&f).0, a, "UTIME_OMIT keeps atime");
    set_times(&f, Some(at(1_550_000_000, 4)), None);
    assert_eq!(times(&f).1, at(1_650_000_000, 3), "UTIME_OMIT keeps mtime");
    let before = SystemTime::now();
    // touch -a / -m: UTIME_NOW for one time, UTIME_OMIT for the other.
    let touch = |flag: &str| {
        let st = Command::new("touch")
            .arg(flag)
            .arg(&f)
            .status()
            .expect("touch");
        assert!(st.success(), "touch {flag}");
    };
    touch("-a");
    let (atime, mtime, _) = times(&f);
    assert!(atime >= before, "UTIME_NOW sets atime to now");
    assert_eq!(mtime, at(1_650_000_000, 3), "mtime omitted");
    touch("-m");
    let (atime2, mtime, _) = times(&f);
    assert!(mtime >= before, "UTIME_NOW sets mtime to now");
    assert_eq!(atime2, atime, "atime omitted");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_times_ctime_changes_with_every_change_of_data_or_attributes() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let f = fx.at("f");
    fs::write(&f, b"data").expect("write");
    let mut last = times(&f);
    let mut step = |what: &str, change: &dyn Fn(), data: bool| {
        change();
        let now = times(&fx.at("f"));
        assert!(
            now.2 > last.2,
            "{what} sets ctime: {:?} -> {:?}",
            last.2,
            now.2
        );
        if data {
            assert!(now.1 > last.1, "{what} sets mtime");
        } else {
            assert_eq!(now.1, last.1, "{what} keeps mtime");
        }
        assert_eq!(now.0, last.0, "{what} keeps atime");
        last = now;
    };
    step(
        "chmod",
        &|| fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).expect("chmod"),
        false,
    );
    step(
        "chown",
        &|| std::os::unix::fs::chown(&f, Some(1234), Some(5678)).expect("chown"),
        false,
    );
    step(
        "write",
        &|| {
            use std::io::Write;
            let mut w = fs::OpenOptions::new().append(true).open(&f).expect("open");
            w.write_all(b" more").expect("append");
        },
        true,
    );
    step(
        "truncate",
        &|| {
            let w = fs::OpenOptions::new().write(true).open(&f).expect("open");
            w.set_len(2).expect("truncate");
        },
        true,
    );
    step(
        "rename",
        &|| {
            fs::rename(&f, fx.at("g")).expect("rename");
            fs::rename(fx.at("g"), &f).expect("rename back");
        },
        false,
    );
    let before = times(&f).2;
    set_times(&f, Some(at(1, 0)), None);
    assert!(times(&f).2 > before, "utimensat sets ctime");
    // Stored: another mount reads the same ctime.
    let other = fx.mount_another("other", &["--bucket", &fx.bucket]);
    assert_eq!(
        times(&other.path.join("f")),
        times(&f),
        "seen by another mount"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_times_a_directory_changes_with_its_entries() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    fs::create_dir(fx.at("d")).expect("mkdir");
    fs::create_dir(fx.at("e")).expect("mkdir");
    let d = fx.at("d");
    let old = at(1_000_000_000, 0);
    let check = |what: &str, change: &dyn Fn(), dirs: &[&str]| {
        for dir in dirs {
            set_times(&fx.at(dir), Some(old), Some(old));
        }
        change();
        for dir in dirs {
            let (_, mtime, ctime) = times(&fx.at(dir));
            assert!(mtime > old, "{what} sets the mtime of {dir}");
            assert!(ctime >= mtime, "{what} sets the ctime of {dir}");
        }
    };
    check(
        "create",
        &|| fs::write(d.join("f"), b"x").expect("create"),
        &["d"],
    );
    check(
        "mkdir",
        &|| fs::create_dir(d.join("sub")).expect("mkdir"),
        &["d"],
    );
    check(
        "symlink",
        &|| symlink("f", d.join("l")).expect("symlink"),
        &["d"],
    );
    check(
        "unlink",
        &|| fs::remove_file(d.join("l")).expect("rm"),
        &["d"],
    );
    check(
        "rmdir",
        &|| fs::remove_dir(d.join("sub")).expect("rmdir"),
        &["d"],
    );
    check(
        "rename within",
        &|| fs::rename(d.join("f"), d.join("g")).expect("mv"),
        &["d"],
    );
    check(
        "rename across",
        &|| fs::rename(d.join("g"), fx.at("e/g")).expect("mv"),
        &["d", "e"],
    );
    // Stored on the marker: another mount sees it (within a round of 100 ms; an fsync of
    // the directory waits for it).
    fs::File::open(fx.at("e"))
        .and_then(|dir| dir.sync_all())
        .expect("fsync e");
    let other = fx.mount_another("other", &["--bucket", &fx.bucket]);
    assert_eq!(times(&other.path.join("e")).1, times(&fx.at("e")).1);
    // Rewriting an entry changes the entry, not its directory.
    let e_mtime = times(&fx.at("e")).1;
    fs::write(fx.at("e/g"), b"rewritten again").expect("rewrite");
    assert_eq!(
        times(&fx.at("e")).1,
        e_mtime,
        "rewriting an entry is no entry change"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_times_utimensat_follows_the_permission_rules() {
    let Some(fx) = FuseEnv::start_for_all_users().await else {
        return;
    };
    let writable = fx.at("writable");
    let readonly = fx.at("readonly");
    fs::write(&writable, b"w").expect("write");
    fs::write(&readonly, b"r").expect("write");
    fs::set_permissions(&writable, fs::Permissions::from_mode(0o666)).expect("chmod");
    let old = at(1_000_000_000, 0);
    set_times(&writable, Some(old), Some(old));
    set_times(&readonly, Some(old), Some(old));
    let touch_as_nobody = |args: &[&str], p: &Path| {
        let out = as_nobody("touch")
            .arg("-c")
            .args(args)
            .arg(p)
            .output()
            .expect("setpriv touch");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, err) = touch_as_nobody(&[], &writable);
    assert!(ok, "UTIME_NOW by a user who may write: {err}");
    assert!(times(&writable).1 > old);
    let (ok, err) = touch_as_nobody(&["-d", "@5"], &writable);
    assert!(!ok && err.contains("Operation not permitted"), "{err}");
    let (ok, err) = touch_as_nobody(&[], &readonly);
    assert!(!ok && err.contains("Permission denied"), "{err}");
    assert_eq!(times(&readonly).1, old, "refused calls change nothing");
    // The owner sets any time.
    set_times(&readonly, None, Some(at(5, 0)));
    assert_eq!(times(&readonly).1, at(5, 0));
    assert_eq!(errno(fs::read_link(&readonly)), libc::EINVAL);
}
