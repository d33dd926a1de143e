//! Shell workloads on the mount against the same workload on a local directory:
//! cp -r (2,000 small files and a 200 MiB file), mv, rm -r, mkdir -p, `>>`, sed -i,
//! tar x/c round trip, dd conv=notrunc, truncate, rsync -a, symlinks, chmod, find | sort,
//! and git. Then both trees must match by type, mode, size, bytes and symlink target.

use std::path::Path;
use std::process::Command;

use tessera_tests::pattern;

use crate::fuse::{FuseEnv, assert_same_tree, tree};

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 20 directories of 100 small files each (0..8 KiB), and `big` of 200 MiB.
fn source_tree(dir: &Path) {
    for d in 0..20 {
        let sub = dir.join(format!("d{d:02}"));
        std::fs::create_dir_all(&sub).expect("mkdir");
        for f in 0..100u64 {
            let len = ((d * 100 + f) * 811 % 8192) as usize;
            std::fs::write(sub.join(format!("f{f:03}.dat")), pattern(len, d * 1000 + f))
                .expect("write");
        }
    }
    std::fs::write(dir.join("big"), pattern(200 << 20, 7)).expect("write big");
}

/// A small tree with chosen modes and times, as a tar made the way the workload makes its
/// round trip (sorted names, numeric owners).
fn tarball(dir: &Path, tar: &Path) {
    for d in 0..3 {
        let sub = dir.join(format!("t{d}"));
        std::fs::create_dir_all(sub.join("deeper")).expect("mkdir");
        for f in 0..10u64 {
            std::fs::write(sub.join(format!("x{f}")), pattern(f as usize * 997, f)).expect("write");
        }
        std::fs::write(sub.join("deeper/leaf"), b"leaf\n").expect("write");
    }
    run(Command::new("chmod").arg("640").arg(dir.join("t0/x1")));
    run(Command::new("chmod").arg("750").arg(dir.join("t1")));
    run(Command::new("ln")
        .arg("-s")
        .arg("x2")
        .arg(dir.join("t2/to-x2")));
    run(Command::new("find").arg(dir).args([
        "-exec",
        "touch",
        "-h",
        "-d",
        "2025-06-01 12:34:56.5",
        "{}",
        "+",
    ]));
    run(Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(["--sort=name", "--numeric-owner", "-cf"])
        .arg(tar)
        .arg("."));
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_shell_workloads_match_a_local_directory() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    source_tree(&src);
    let tar = work.path().join("src.tar");
    tarball(&work.path().join("tarsrc"), &tar);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/fuse_workload.sh");
    let local = work.path().join("local");
    let mounted = fx.at("work");
    for target in [&local, &mounted] {
        std::fs::create_dir_all(target).expect("mkdir target");
        let out = Command::new("bash")
            .arg(&script)
            .arg(target)
            .arg(&src)
            .arg(&tar)
            .output()
            .expect("run the workload");
        assert!(
            out.status.success(),
            "workload on {} failed:\n{}\n{}\nmount log:\n{}",
            target.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            fx.mount.log_text()
        );
    }
    // .git/index holds inode numbers and ctimes: same size, different bytes by nature.
    let size_only = ["repo/.git/index"];
    let want = tree(&local, &[], &size_only);
    assert!(
        want.len() > 2000,
        "the workload made {} entries",
        want.len()
    );
    assert_same_tree(&tree(&mounted, &[], &size_only), &want);
    let log = std::fs::read_to_string(mounted.join("git-log.txt")).expect("git log");
    assert_eq!(log.lines().count(), 3, "{log}");
}
