//! The reference-model test: a seeded random sequence of 400 operations applied both to a
//! mount (`--cache-ttl 200ms`) and to a local directory with `std::fs`, the model. Every
//! operation must end the same way on both (success with the same bytes read, or the same
//! errno); every 50 operations and at the end the trees must match by type, mode, size,
//! bytes and symlink target.
//!
//! Operations: create (`O_TRUNC` or `O_EXCL`), pwrite at a random offset (past the end: a
//! hole), append, truncate up and down, each closed or fsynced; whole-file reads; rename of
//! files (onto existing ones too) and of directories (elsewhere, onto empty and non-empty
//! ones, onto files, into themselves); unlink, mkdir, rmdir, chmod, symlink; mkfifo (a new
//! name each, never written or read: opening one would wait for a peer); setxattr of a
//! `user.*` name, answered with every attribute and value read back; utimensat, answered
//! with the atime and mtime read back to the nanosecond; and out of band
//! through S3, put (a new file or an overwrite) and delete, after which the test waits past
//! the TTL. Targets come from the model's tree, so most operations are valid and some fail
//! on purpose (ENOENT, EEXIST, ENOTEMPTY, EISDIR, ENOTDIR, EINVAL); names are often reused
//! (a file where a directory was).
//!
//! The model stays inside the documented behaviour: directories are made on the mount only
//! (each has its `dir/` marker), S3 touches only files in existing directories and never an
//! open one, no hard links, and an object put over S3 replaces the file's attributes with
//! the defaults (0644). `TESSERA_MODEL_SEED=<u64>` replays a run; the seed is printed.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use tessera_tests::{md5_hex, pattern};

use crate::fuse::{FuseEnv, assert_same_tree, tree};
use crate::fuse_xattr::{get_xattr, list_xattrs, remove_xattr, set_xattr};

mod ops;
use ops::*;

/// Applies an operation under `root` with `std::fs` (S3 ones as their effect on a file);
/// a read returns the bytes.
fn apply(op: &Op, root: &Path) -> io::Result<Vec<u8>> {
    let at = |p: &str| root.join(p);
    match op {
        Op::Write {
            path,
            how,
            len,
            seed,
            fsync,
        } => {
            let mut o = OpenOptions::new();
            match how {
                How::Create => o.write(true).create(true).truncate(true),
                How::CreateNew => o.write(true).create_new(true),
                How::Append => o.append(true),
                How::At(_) | How::Truncate(_) => o.write(true),
            };
            let mut f = o.open(at(path))?;
            let data = pattern(*len as usize, *seed);
            match how {
                How::At(offset) => f.write_all_at(&data, *offset)?,
                How::Truncate(size) => f.set_len(*size)?,
                _ => f.write_all(&data)?,
            }
            // fsync reports an upload's errors; a plain close (drop) cannot.
            if *fsync {
                f.sync_all()?;
            }
        }
        Op::Read(path) => return fs::read(at(path)),
        Op::Rename(from, to) => fs::rename(at(from), at(to))?,
        Op::Unlink(path) | Op::S3Delete(path) => fs::remove_file(at(path))?,
        Op::Mkdir(path) => fs::create_dir(at(path))?,
        Op::Rmdir(path) => fs::remove_dir(at(path))?,
        Op::Chmod(path, mode) => fs::set_permissions(at(path), Permissions::from_mode(mode.0))?,
        Op::Symlink(path, target) => symlink(target, at(path))?,
        Op::Mkfifo(path) => {
            let status = std::process::Command::new("mkfifo")
                .arg(at(path))
                .stderr(std::process::Stdio::null())
                .status()?;
            if !status.success() {
                // mkfifo(1) says why only in words: the model's cases are these two.
                let parent_missing = !at(path).parent().is_some_and(Path::is_dir);
                let errno = if parent_missing {
                    libc::ENOENT
                } else {
                    libc::EEXIST
                };
                return Err(io::Error::from_raw_os_error(errno));
            }
        }
        Op::SetXattr(path, name, value) => {
            set_xattr(&at(path), name, value, 0)?;
            let mut all = Vec::new();
            for n in list_xattrs(&at(path))? {
                let v = get_xattr(&at(path), &n)?;
                all.extend_from_slice(format!("{n}={}\n", md5_hex(&v)).as_bytes());
            }
            return Ok(all);
        }
        Op::Utimens(path, (a_s, a_ns), (m_s, m_ns)) => {
            let t = |s: u64, ns: u32| UNIX_EPOCH + Duration::new(s, ns);
            let times = fs::FileTimes::new()
                .set_accessed(t(*a_s, *a_ns))
                .set_modified(t(*m_s, *m_ns));
            fs::File::open(at(path))?.set_times(times)?;
            let m = fs::metadata(at(path))?;
            let read = [m.atime(), m.atime_nsec(), m.mtime(), m.mtime_nsec()];
            return Ok(format!("{read:?}").into_bytes());
        }
        Op::S3Put(path, len, seed) => {
            fs::write(at(path), pattern(*len as usize, *seed))?;
            fs::set_permissions(at(path), Permissions::from_mode(0o644))?;
            // An object put over S3 has none of the file's attributes.
            for name in list_xattrs(&at(path))? {
                remove_xattr(&at(path), &name)?;
            }
        }
    }
    Ok(Vec::new())
}

/// An S3 operation on the server.
async fn apply_s3(fx: &FuseEnv, op: &Op) {
    match op {
        Op::S3Put(path, len, seed) => {
            let data = pattern(*len as usize, *seed);
            fx.s3.put(&fx.bucket, path, &data).await;
        }
        Op::S3Delete(path) => {
            let delete = fx.s3.s3.delete_object().bucket(&fx.bucket).key(path);
            let r = delete.send().await;
            r.unwrap_or_else(|e| panic!("S3 delete {path}: {e:?}"));
        }
        _ => unreachable!("not an S3 operation: {op:?}"),
    }
}

/// An outcome as compared: the bytes read, or the errno (-1: not an OS error).
type Outcome = Result<Vec<u8>, i32>;

fn describe(r: &Outcome) -> String {
    match r {
        Ok(d) if d.is_empty() => "ok".to_string(),
        Ok(d) => format!("ok, {} bytes, md5 {}", d.len(), md5_hex(d)),
        Err(-1) => "failed without an errno".to_string(),
        Err(e) => io::Error::from_raw_os_error(*e).to_string(),
    }
}

/// The last `n` of `lines`.
fn last<S: AsRef<str>>(lines: &[S], n: usize) -> String {
    let tail = lines[lines.len().saturating_sub(n)..].iter();
    tail.map(AsRef::as_ref).collect::<Vec<_>>().join("\n")
}

/// Compares the trees, naming the seed and the operations since the last check.
fn check_trees(fx: &FuseEnv, local: &Path, seed: u64, done: usize, history: &[String]) {
    let (mounted, wanted) = (tree(fx.root(), &[], &[]), tree(local, &[], &[]));
    if let Err(panic) = std::panic::catch_unwind(|| assert_same_tree(&mounted, &wanted)) {
        let why = (panic.downcast_ref::<String>().cloned())
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let recent = last(history, CHECK_EVERY);
        panic!("seed {seed}: trees differ after {done} operations, the last:\n{recent}\n{why}");
    }
    eprintln!("fuse_model: trees match after {done} operations");
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_model_random_ops_match_a_local_directory() {
    let Some(fx) = FuseEnv::start(&["--cache-ttl", "200ms"]).await else {
        return;
    };
    let seed = std::env::var("TESSERA_MODEL_SEED").map_or(DEFAULT_SEED, |s| {
        s.parse().expect("TESSERA_MODEL_SEED must be a u64")
    });
    eprintln!("fuse_model: seed {seed} (TESSERA_MODEL_SEED={seed} replays this run)");
    let work = tempfile::tempdir().expect("tempdir");
    let local = work.path();
    let mut generator = Gen::new(seed);
    let (mut history, mut tally) = (Vec::new(), BTreeMap::<String, u32>::new());
    let outcome = |r: io::Result<Vec<u8>>| r.map_err(|e| e.raw_os_error().unwrap_or(-1));
    for i in 0..OPS {
        let op = generator.op(&State::scan(local));
        let (got, want) = if matches!(op, Op::S3Put(..) | Op::S3Delete(_)) {
            let want = outcome(apply(&op, local));
            assert_eq!(want, Ok(Vec::new()), "#{i} {op:?} locally");
            apply_s3(&fx, &op).await;
            tokio::time::sleep(PAST_TTL).await;
            (want.clone(), want)
        } else {
            (outcome(apply(&op, fx.root())), outcome(apply(&op, local)))
        };
        history.push(format!("#{i} {op:?} -> {}", describe(&want)));
        let errno = want.as_ref().err().map(|e| format!(" errno {e}"));
        *tally
            .entry(op.kind() + &errno.unwrap_or_default())
            .or_default() += 1;
        if got != want {
            panic!(
                "seed {seed}: operation #{i} {op:?} differs\n  mount: {}\n  local: {}\nthe last operations:\n{}\nmount log (tail):\n{}",
                describe(&got),
                describe(&want),
                last(&history, 20),
                last(&fx.mount.log_text().lines().collect::<Vec<_>>(), 30),
            );
        }
        if (i + 1) % CHECK_EVERY == 0 || i + 1 == OPS {
            check_trees(&fx, local, seed, i + 1, &history);
        }
    }
    eprintln!("fuse_model: seed {seed}: outcomes {tally:?}");
}
