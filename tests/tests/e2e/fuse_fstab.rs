//! Mounting at boot: `mount -t fuse.tessera` and `mount -a -T FSTAB` through the helper
//! `mount.fuse.tessera` (linked into /sbin for the test, where mount(8) looks for it), with
//! a credentials file and the ownership and mode options of an fstab line; a credentials
//! file other users may read is refused before anything is mounted.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tessera_tests::{MountPointGuard, PASSWORD, USER};

use crate::fuse::{FuseEnv, mount_bin};

/// Where mount(8) looks for the helper of `-t fuse.tessera`.
const HELPER: &str = "/sbin/mount.fuse.tessera";

/// `/sbin/mount.fuse.tessera` linked to the client under test while it lives; removed on
/// drop. Refuses to replace a helper that is not a link left by this test.
struct HelperLink;

impl HelperLink {
    fn install() -> HelperLink {
        let helper = Path::new(HELPER);
        if let Ok(old) = fs::read_link(helper) {
            assert!(
                old.file_name() == mount_bin().file_name(),
                "{HELPER} is installed ({}): remove it to run this test",
                old.display()
            );
            fs::remove_file(helper).expect("remove the old test link");
        }
        assert!(
            fs::symlink_metadata(helper).is_err(),
            "{HELPER} is installed: remove it to run this test"
        );
        std::os::unix::fs::symlink(mount_bin(), helper).expect("link the helper into /sbin");
        HelperLink
    }
}

impl Drop for HelperLink {
    fn drop(&mut self) {
        let _ = fs::remove_file(HELPER);
    }
}

fn mounted(path: &Path) -> bool {
    let mounts = fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    let p = path.to_string_lossy();
    mounts.lines().any(|l| l.split(' ').nth(1) == Some(&*p))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run mount(8)");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Unmounts `mnt` and waits until it is gone.
fn umount(mnt: &Path) {
    run(Command::new("umount").arg(mnt));
    let deadline = Instant::now() + Duration::from_secs(20);
    while mounted(mnt) {
        assert!(Instant::now() < deadline, "{} stays mounted", mnt.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn credentials_file(dir: &Path, mode: u32) -> PathBuf {
    let file = dir.join("creds");
    fs::write(&file, format!("{USER}:{PASSWORD}\n")).expect("write the credentials");
    fs::set_permissions(&file, fs::Permissions::from_mode(mode)).expect("chmod");
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_fstab_mounts_through_mount_8_with_a_credentials_file() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let _helper = HelperLink::install();
    let dir = fx.dir.path();
    let creds = credentials_file(dir, 0o600);
    fx.s3.put(&fx.bucket, "from-s3", b"no attributes").await;
    let options = |cache: &str| {
        format!(
            "endpoint={},credentials={},cache_dir={},uid=1234,gid=2345,file_mode=0640,_netdev,nofail",
            fx.s3.node().endpoint,
            creds.display(),
            dir.join(cache).display()
        )
    };

    // `mount -t fuse.tessera`, as a shell or a unit would call it.
    let mnt = dir.join("by-type");
    fs::create_dir_all(&mnt).expect("mkdir");
    let _guard = MountPointGuard(mnt.clone());
    run(Command::new("mount")
        .args(["-t", "fuse.tessera", &fx.bucket])
        .arg(&mnt)
        .args(["-o", &options("cache1")])
        .env_remove("TESSERA_ROOT_USER")
        .env_remove("TESSERA_ROOT_PASSWORD"));
    assert!(mounted(&mnt), "mounted when mount(8) returns");
    let meta = fs::metadata(mnt.join("from-s3")).expect("stat an object put over S3");
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (1234, 2345, 0o640)
    );
    fs::write(mnt.join("via-mount-8"), b"written through fstab's path").expect("write");
    umount(&mnt);
    // The background mount logged to its (bounded) file in the cache dir, without colours.
    let log = fs::read_to_string(dir.join("cache1/tessera-mount.log")).expect("the mount's log");
    assert!(log.contains("mounted"), "{log}");
    assert!(!log.contains('\x1b'), "plain text: {log:?}");
    assert_eq!(
        fx.s3.get(&fx.bucket, "via-mount-8").await,
        b"written through fstab's path"
    );

    // An fstab line, mounted by `mount -a -T` as at boot.
    let mnt = dir.join("by-fstab");
    fs::create_dir_all(&mnt).expect("mkdir");
    let _guard = MountPointGuard(mnt.clone());
    let fstab = dir.join("fstab");
    let line = format!(
        "{} {} fuse.tessera {} 0 0\n",
        fx.bucket,
        mnt.display(),
        options("cache2")
    );
    fs::write(&fstab, line).expect("write the fstab");
    run(Command::new("mount").args(["-a", "-T"]).arg(&fstab));
    assert!(mounted(&mnt), "mounted by mount -a");
    assert_eq!(
        fs::read(mnt.join("via-mount-8")).expect("read"),
        b"written through fstab's path"
    );
    umount(&mnt);

    // A credentials file others may read is refused, and nothing is mounted.
    fs::set_permissions(&creds, fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = Command::new("mount")
        .args(["-t", "fuse.tessera", &fx.bucket])
        .arg(&mnt)
        .args(["-o", &options("cache3")])
        .output()
        .expect("run mount(8)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a readable credentials file: {stderr}"
    );
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(!mounted(&mnt));

    // An option the helper does not know is named, not dropped.
    let out = Command::new(HELPER)
        .args([
            &fx.bucket,
            mnt.to_str().expect("utf-8"),
            "-o",
            "colour=blue",
        ])
        .output()
        .expect("run the helper");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown mount option colour"));
}
