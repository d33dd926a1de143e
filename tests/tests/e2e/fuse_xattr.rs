//! Extended attributes on a real mount (README "Semantics": extended attributes): `user.*`
//! set, get, list and remove, stored with the object (another mount and S3 see them, a
//! rename keeps them), `cp -a` and `rsync -X` round trips, the size bounds, and the other
//! namespaces answering ENOTSUP quietly.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use crate::fuse::{FuseEnv, errno};

fn c_path(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in paths")
}

fn c_name(name: &str) -> CString {
    CString::new(name).expect("no NUL in names")
}

/// lsetxattr(2).
#[allow(unsafe_code)] // the xattr system calls have no std wrapper
pub fn set_xattr(p: &Path, name: &str, value: &[u8], flags: i32) -> std::io::Result<()> {
    let (p, n) = (c_path(p), c_name(name));
    // SAFETY: both strings are NUL-terminated and live across the call; `value` is a valid
    // slice of `value.len()` bytes.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// lgetxattr(2), with the size asked first as programs do.
#[allow(unsafe_code)] // the xattr system calls have no std wrapper
pub fn get_xattr(p: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let (p, n) = (c_path(p), c_name(name));
    // SAFETY: NUL-terminated strings; a null buffer of size 0 asks for the size.
    let len = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0) };
    if len < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut buf = vec![0u8; len as usize];
    // SAFETY: `buf` holds `buf.len()` writable bytes.
    let got =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if got < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(got as usize);
    Ok(buf)
}

/// llistxattr(2): the names, sorted.
#[allow(unsafe_code)] // the xattr system calls have no std wrapper
pub fn list_xattrs(p: &Path) -> std::io::Result<Vec<String>> {
    let p = c_path(p);
    // SAFETY: a NUL-terminated path; a null buffer of size 0 asks for the size.
    let len = unsafe { libc::llistxattr(p.as_ptr(), std::ptr::null_mut(), 0) };
    if len < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut buf = vec![0u8; len as usize];
    // SAFETY: `buf` holds `buf.len()` writable bytes.
    let got = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if got < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(got as usize);
    let mut names: Vec<String> = buf
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).to_string())
        .collect();
    names.sort();
    Ok(names)
}

/// lremovexattr(2).
#[allow(unsafe_code)] // the xattr system calls have no std wrapper
pub fn remove_xattr(p: &Path, name: &str) -> std::io::Result<()> {
    let (p, n) = (c_path(p), c_name(name));
    // SAFETY: both strings are NUL-terminated and live across the call.
    let rc = unsafe { libc::lremovexattr(p.as_ptr(), n.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_xattr_user_attributes_are_set_got_listed_and_removed() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let f = fx.at("f");
    fs::write(&f, b"data").expect("write");
    fs::create_dir(fx.at("d")).expect("mkdir");
    assert_eq!(list_xattrs(&f).expect("list"), Vec::<String>::new());
    set_xattr(&f, "user.color", b"blue", 0).expect("set");
    set_xattr(&f, "user.bin", &[0, 1, 255, b'\n'], 0).expect("set binary");
    set_xattr(&f, "user.empty", b"", 0).expect("set empty");
    set_xattr(&fx.at("d"), "user.dir", b"yes", 0).expect("set on a directory");
    assert_eq!(get_xattr(&f, "user.color").expect("get"), b"blue");
    assert_eq!(get_xattr(&f, "user.bin").expect("get"), [0, 1, 255, b'\n']);
    assert_eq!(get_xattr(&f, "user.empty").expect("get"), b"");
    assert_eq!(get_xattr(&fx.at("d"), "user.dir").expect("get"), b"yes");
    assert_eq!(
        list_xattrs(&f).expect("list"),
        ["user.bin", "user.color", "user.empty"]
    );
    assert_eq!(errno(get_xattr(&f, "user.missing")), libc::ENODATA);
    assert_eq!(
        errno(set_xattr(&f, "user.color", b"red", libc::XATTR_CREATE)),
        libc::EEXIST
    );
    assert_eq!(
        errno(set_xattr(&f, "user.new", b"x", libc::XATTR_REPLACE)),
        libc::ENODATA
    );
    set_xattr(&f, "user.color", b"green", libc::XATTR_REPLACE).expect("replace");
    remove_xattr(&f, "user.empty").expect("remove");
    assert_eq!(errno(remove_xattr(&f, "user.empty")), libc::ENODATA);
    assert_eq!(errno(get_xattr(&f, "user.empty")), libc::ENODATA);
    // Rewriting the data keeps them; a rename keeps them.
    fs::write(&f, b"new data").expect("rewrite");
    fs::rename(&f, fx.at("g")).expect("rename");
    let g = fx.at("g");
    assert_eq!(list_xattrs(&g).expect("list"), ["user.bin", "user.color"]);
    assert_eq!(get_xattr(&g, "user.color").expect("get"), b"green");
    // Stored with the object: another mount and S3 see them (s3fs's `xattr` entry).
    let other = fx.mount_another("other", &["--bucket", &fx.bucket]);
    assert_eq!(
        get_xattr(&other.path.join("g"), "user.color").expect("get"),
        b"green"
    );
    assert_eq!(
        get_xattr(&other.path.join("d"), "user.dir").expect("get"),
        b"yes"
    );
    let head = (fx.s3.s3.head_object())
        .bucket(&fx.bucket)
        .key("g")
        .send()
        .await
        .expect("head");
    let stored = head
        .metadata()
        .and_then(|m| m.get("xattr"))
        .expect("xattr entry");
    assert!(stored.starts_with("%7B%22user."), "{stored}");
    // Other namespaces: ENOTSUP, without a line in the log.
    // A valid access ACL (the kernel parses it before asking): user::rw- group::r-- other::r--.
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm) in [(0x01u16, 6u16), (0x04, 4), (0x20, 4)] {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&perm.to_le_bytes());
        acl.extend_from_slice(&u32::MAX.to_le_bytes());
    }
    for (name, value) in [
        ("security.selinux", &b"x"[..]),
        ("trusted.x", b"x"),
        ("system.posix_acl_access", &acl),
    ] {
        assert_eq!(errno(get_xattr(&g, name)), libc::ENOTSUP, "get {name}");
        assert_eq!(
            errno(set_xattr(&g, name, value, 0)),
            libc::ENOTSUP,
            "set {name}"
        );
    }
    let log = fx.mount.log_text();
    let loud =
        |l: &&str| l.contains("WARN") || l.contains("ERROR") || l.contains("Not Implemented");
    let loud: Vec<&str> = log.lines().filter(loud).collect();
    assert!(loud.is_empty(), "no warning in the log: {loud:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_xattr_bounds_answer_enospc_and_e2big() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let f = fx.at("f");
    fs::write(&f, b"data").expect("write");
    let big = vec![b'v'; 1_200];
    set_xattr(&f, "user.one", &big, 0).expect("1,200 bytes fit");
    assert_eq!(
        errno(set_xattr(&f, "user.two", &big, 0)),
        libc::ENOSPC,
        "past the object's 2 KiB of metadata"
    );
    assert_eq!(
        errno(set_xattr(&f, "user.huge", &vec![b'v'; 70_000], 0)),
        libc::E2BIG,
        "past the kernel's 64 KiB"
    );
    assert_eq!(
        list_xattrs(&f).expect("list"),
        ["user.one"],
        "nothing changed"
    );
    remove_xattr(&f, "user.one").expect("remove");
    set_xattr(&f, "user.two", &big, 0).expect("room again");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_xattr_survive_cp_a_and_rsync_x_round_trips() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let local = fx.dir.path().join("local");
    fs::create_dir_all(local.join("sub")).expect("mkdir");
    fs::write(local.join("a"), b"a").expect("write");
    fs::write(local.join("sub/b"), b"b").expect("write");
    set_xattr(&local.join("a"), "user.tag", b"alpha", 0).expect("local xattrs");
    set_xattr(&local.join("sub/b"), "user.tag", b"beta", 0).expect("local xattrs");
    set_xattr(&local.join("sub"), "user.tag", b"dir", 0).expect("local xattrs");
    let run = |cmd: &str, args: &[&Path]| {
        let out = Command::new(cmd)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let check = |root: &Path| {
        assert_eq!(get_xattr(&root.join("a"), "user.tag").expect("a"), b"alpha");
        assert_eq!(
            get_xattr(&root.join("sub/b"), "user.tag").expect("b"),
            b"beta"
        );
        assert_eq!(
            get_xattr(&root.join("sub"), "user.tag").expect("sub"),
            b"dir"
        );
    };
    // cp -a there and back.
    let cp_dir = fx.at("cp");
    run("cp", &[Path::new("-a"), &local, &cp_dir]);
    check(&cp_dir);
    let back = fx.dir.path().join("cp-back");
    run("cp", &[Path::new("-a"), &cp_dir, &back]);
    check(&back);
    // rsync -X there and back.
    let src = format!("{}/", local.display());
    let rs = fx.at("rsync");
    run("rsync", &[Path::new("-aX"), Path::new(&src), &rs]);
    check(&rs);
    let src = format!("{}/", rs.display());
    let back = fx.dir.path().join("rsync-back");
    run("rsync", &[Path::new("-aX"), Path::new(&src), &back]);
    check(&back);
}
