//! POSIX errnos of paths and names on a real mount (README "Semantics": path errors,
//! rename): ENOTDIR through a file or a symlink to one, every rename case POSIX names,
//! and EEXIST for `O_CREAT|O_EXCL` on every kind of existing entry; and the set-user-ID
//! and set-group-ID bits writes, truncates and chown drop, as Linux does.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use crate::fuse::{FuseEnv, PrivateFile, as_nobody, errno};

/// `O_CREAT|O_EXCL`.
fn create_new(p: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create_new(true).open(p)
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_posix_a_file_or_symlink_in_a_path_is_enotdir() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    fs::write(fx.at("f"), b"file").expect("write");
    fs::create_dir(fx.at("d")).expect("mkdir");
    fs::write(fx.at("d/a"), b"a").expect("write");
    symlink("f", fx.at("lf")).expect("symlink to a file");
    symlink("d", fx.at("ld")).expect("symlink to a dir");
    fx.s3.put(&fx.bucket, "s3file", b"put over S3").await;
    for through in ["f", "lf", "s3file"] {
        let p = |rest: &str| fx.at(&format!("{through}/{rest}"));
        let why = format!("through {through}");
        assert_eq!(
            errno(fs::write(p("x"), b"x")),
            libc::ENOTDIR,
            "create {why}"
        );
        assert_eq!(errno(fs::File::open(p("x"))), libc::ENOTDIR, "open {why}");
        assert_eq!(errno(fs::metadata(p("x"))), libc::ENOTDIR, "stat {why}");
        assert_eq!(errno(fs::metadata(p(""))), libc::ENOTDIR, "stat {why}/");
        assert_eq!(errno(fs::create_dir(p("x"))), libc::ENOTDIR, "mkdir {why}");
        assert_eq!(
            errno(fs::remove_file(p("x"))),
            libc::ENOTDIR,
            "unlink {why}"
        );
        assert_eq!(errno(fs::remove_dir(p("x"))), libc::ENOTDIR, "rmdir {why}");
        assert_eq!(errno(symlink("f", p("x"))), libc::ENOTDIR, "symlink {why}");
        assert_eq!(
            errno(fs::rename(p("x"), fx.at("y"))),
            libc::ENOTDIR,
            "rename from {why}"
        );
        assert_eq!(
            errno(fs::rename(fx.at("d/a"), p("a"))),
            libc::ENOTDIR,
            "rename into {why}"
        );
        assert_eq!(errno(fs::read_dir(p(""))), libc::ENOTDIR, "opendir {why}");
    }
    // A symlink to a directory is followed.
    assert_eq!(
        fs::read(fx.at("ld/a")).expect("through a dir symlink"),
        b"a"
    );
    // Nothing of the failed calls reached the bucket.
    let mut keys = fx.s3.keys(&fx.bucket).await;
    keys.sort();
    assert_eq!(keys, ["d/", "d/a", "f", "ld", "lf", "s3file"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_posix_rename_answers_every_case_posix_names() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    for d in ["dir", "empty", "full", "dir/sub"] {
        fs::create_dir(fx.at(d)).expect("mkdir");
    }
    fs::write(fx.at("full/x"), b"x").expect("write");
    fs::write(fx.at("file"), b"file").expect("write");
    fs::write(fx.at("other"), b"other").expect("write");
    symlink("file", fx.at("link")).expect("symlink");
    let rename = |a: &str, b: &str| fs::rename(fx.at(a), fx.at(b));
    assert_eq!(errno(rename("file", "dir")), libc::EISDIR, "file onto dir");
    assert_eq!(
        errno(rename("link", "dir")),
        libc::EISDIR,
        "symlink onto dir"
    );
    assert_eq!(errno(rename("dir", "file")), libc::ENOTDIR, "dir onto file");
    assert_eq!(
        errno(rename("dir", "link")),
        libc::ENOTDIR,
        "dir onto symlink"
    );
    assert_eq!(
        errno(rename("dir", "full")),
        libc::ENOTEMPTY,
        "onto non-empty"
    );
    assert_eq!(
        errno(rename("dir", "dir/sub/in")),
        libc::EINVAL,
        "into itself"
    );
    assert_eq!(
        errno(rename("dir", "dir/sub")),
        libc::EINVAL,
        "onto its child"
    );
    assert_eq!(
        errno(rename("file", "other/")),
        libc::ENOTDIR,
        "file to dir/"
    );
    assert_eq!(
        errno(rename("missing", "x")),
        libc::ENOENT,
        "missing source"
    );
    assert_eq!(
        errno(rename("file", "nodir/x")),
        libc::ENOENT,
        "missing target dir"
    );
    // What POSIX allows.
    rename("file", "file").expect("onto itself: nothing happens");
    rename("other", "link").expect("a file replaces a symlink");
    assert_eq!(fs::read(fx.at("link")).expect("read"), b"other");
    rename("link", "file").expect("a file replaces a file");
    assert_eq!(fs::read(fx.at("file")).expect("read"), b"other");
    rename("dir", "empty").expect("a dir replaces an empty dir");
    assert!(fx.at("empty/sub").is_dir());
    let mut keys = fx.s3.keys(&fx.bucket).await;
    keys.sort();
    assert_eq!(keys, ["empty/", "empty/sub/", "file", "full/", "full/x"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_posix_o_excl_on_any_existing_entry_is_eexist() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    fs::write(fx.at("file"), b"file").expect("write");
    fs::create_dir(fx.at("dir")).expect("mkdir");
    symlink("file", fx.at("link")).expect("symlink");
    symlink("dir", fx.at("dirlink")).expect("symlink");
    symlink("nowhere", fx.at("dangling")).expect("symlink");
    fx.s3.put(&fx.bucket, "s3file", b"put over S3").await;
    fx.s3.put(&fx.bucket, "implicit/child", b"c").await;
    // Created here and not uploaded yet.
    let open = PrivateFile::create(&fx.at("open"));
    for name in [
        "file", "dir", "link", "dirlink", "dangling", "s3file", "implicit", "open",
    ] {
        let p = fx.at(name);
        assert_eq!(errno(create_new(&p)), libc::EEXIST, "O_EXCL on {name}");
        assert_eq!(errno(fs::create_dir(&p)), libc::EEXIST, "mkdir on {name}");
        assert_eq!(errno(symlink("t", &p)), libc::EEXIST, "symlink on {name}");
    }
    drop(open);
    assert_eq!(fs::read(fx.at("file")).expect("unchanged"), b"file");
    assert_eq!(fs::read(fx.at("open")).expect("uploaded empty"), b"");
    assert!(fx.s3.exists(&fx.bucket, "open").await);
    assert!(
        !fx.s3.exists(&fx.bucket, "nowhere").await,
        "O_EXCL never follows"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_posix_paths_past_the_1024_byte_key_limit_are_enametoolong() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    // Four 250-byte directories: a key of 1,004 bytes so far ("a…/b…/c…/d…/").
    let dirs: Vec<String> = ["a", "b", "c", "d"].iter().map(|c| c.repeat(250)).collect();
    let deep = dirs.join("/");
    fs::create_dir_all(fx.at(&deep)).expect("a 1,004-byte marker fits");
    let at = |name: &str| fx.at(&format!("{deep}/{name}"));
    fs::write(at(&"f".repeat(19)), b"x").expect("a 1,023-byte key fits");
    fs::write(at(&"g".repeat(20)), b"x").expect("a 1,024-byte key fits");
    assert_eq!(fs::read(at(&"g".repeat(20))).expect("and reads back"), b"x");
    assert_eq!(
        errno(fs::write(at(&"h".repeat(21)), b"x")),
        libc::ENAMETOOLONG
    );
    assert_eq!(errno(create_new(&at(&"h".repeat(21)))), libc::ENAMETOOLONG);
    assert_eq!(
        errno(fs::create_dir(at(&"i".repeat(20)))),
        libc::ENAMETOOLONG
    );
    assert_eq!(errno(symlink("t", at(&"j".repeat(21)))), libc::ENAMETOOLONG);
    assert_eq!(
        errno(fs::rename(at(&"f".repeat(19)), at(&"k".repeat(21)))),
        libc::ENAMETOOLONG
    );
    let mut keys = fx.s3.keys(&fx.bucket).await;
    keys.retain(|k| k.len() > 1_000);
    assert_eq!(
        keys.len(),
        3,
        "the marker and the two files that fit: {keys:?}"
    );
}

/// The permission bits `p` shows, set-ID bits included.
fn perm(p: &Path) -> u32 {
    fs::metadata(p).expect("stat").permissions().mode() & 0o7777
}

/// Runs the shell `script` with `$1` = `p` as the nobody user (no capabilities).
fn sh_as_nobody(script: &str, p: &Path) {
    let out = as_nobody("sh")
        .args(["-c", script, "sh"])
        .arg(p)
        .output()
        .expect("setpriv sh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} as nobody: {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_posix_writes_truncates_and_chown_drop_set_id_bits() {
    let Some(fx) = FuseEnv::start_for_all_users().await else {
        return;
    };
    let f = fx.at("f");
    fs::write(&f, b"first\n").expect("write");
    let chmod = |mode| fs::set_permissions(&f, fs::Permissions::from_mode(mode)).expect("chmod");
    let append = |line: &[u8]| {
        use std::io::Write;
        let mut file = fs::OpenOptions::new().append(true).open(&f).expect("open");
        file.write_all(line).expect("append");
    };
    // Root may keep them (CAP_FSETID).
    chmod(0o6777);
    append(b"root\n");
    assert_eq!(perm(&f), 0o6777, "written by root");
    // Anyone else's write drops both (set-group-ID with group execute); the mode shows at
    // once, to the writer and to others.
    sh_as_nobody("echo nobody >> \"$1\"; test $(stat -c %a \"$1\") = 777", &f);
    assert_eq!(perm(&f), 0o777, "written by nobody");
    // Without group execute, set-group-ID stays (it marks mandatory locking).
    chmod(0o6766);
    sh_as_nobody("echo again >> \"$1\"", &f);
    assert_eq!(perm(&f), 0o2766);
    assert_eq!(fs::read(&f).expect("read"), b"first\nroot\nnobody\nagain\n");
    // A truncate, or an open with O_TRUNC, by anyone but root drops them.
    chmod(0o4766);
    fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .and_then(|file| file.set_len(3))
        .expect("truncate by root");
    assert_eq!(perm(&f), 0o4766, "truncated by root");
    sh_as_nobody("truncate -s 2 \"$1\"", &f);
    assert_eq!(
        (perm(&f), fs::metadata(&f).expect("stat").len()),
        (0o766, 2)
    );
    chmod(0o4766);
    sh_as_nobody(": > \"$1\"", &f);
    assert_eq!(
        (perm(&f), fs::metadata(&f).expect("stat").len()),
        (0o766, 0)
    );
    // chown drops them whoever asks; a directory keeps its set-group-ID.
    chmod(0o6755);
    std::os::unix::fs::chown(&f, Some(65534), None).expect("chown");
    assert_eq!(perm(&f), 0o755, "chowned");
    fs::create_dir(fx.at("d")).expect("mkdir");
    fs::set_permissions(fx.at("d"), fs::Permissions::from_mode(0o2775)).expect("chmod d");
    std::os::unix::fs::chown(fx.at("d"), None, Some(65534)).expect("chown d");
    assert_eq!(perm(&fx.at("d")), 0o2775, "a directory keeps set-group-ID");
    // What the server keeps: another mount shows the same.
    chmod(0o4777);
    sh_as_nobody("echo last >> \"$1\"", &f);
    let other = fx.mount_another("other", &["--bucket", &fx.bucket]);
    assert_eq!(perm(&other.path.join("f")), 0o777);
}
