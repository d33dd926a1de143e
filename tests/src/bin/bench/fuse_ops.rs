//! The FUSE sections' tools (`bench/fuse.rs`, `bench/fuse_meta.rs`): the timed operations
//! (sequential write and read, `ls -l`, `tar x`), the fixtures they run on (the `ls -l`
//! directory, the tarball), the targets, a tessera-mount of a bench bucket and the s3fs mount
//! guard. The mounts are unmounted when their guard drops, also when the bench fails.

use std::fs::{File, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use bytes::Bytes;
use tessera_tests::{Mount, MountLog, Node, PASSWORD, USER, md5_hex, pattern};

use super::MIB;
use super::s3::{S3Client, sync};

/// The `ls -l` directory, on every target.
pub(super) const LS_DIR: &str = "list";
/// Size of each file of the `ls -l` directory.
const LS_SIZE: usize = 64;
/// Concurrent S3 clients creating the `ls -l` directory's objects.
const LS_CLIENTS: usize = 16;
/// Files per directory of the tarball.
pub(super) const TAR_PER_DIR: usize = 100;

/// Writes `data` in 1 MiB writes, fsyncs and closes; returns the time of all three.
pub(super) fn write_file(path: &Path, data: &[u8]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut out = File::create(path).with_context(|| format!("create {}", path.display()))?;
    for chunk in data.chunks(MIB) {
        out.write_all(chunk)
            .with_context(|| format!("write {}", path.display()))?;
    }
    out.sync_all()
        .with_context(|| format!("fsync {}", path.display()))?;
    drop(out);
    Ok(start.elapsed())
}

/// Reads `path` in 1 MiB reads, comparing every byte with `expect`; returns the time.
pub(super) fn read_compare(path: &Path, expect: &[u8]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut input = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let (mut buf, mut at) = (vec![0u8; MIB], 0);
    while let n @ 1.. = input.read(&mut buf)? {
        let want = expect.get(at..at + n);
        ensure!(
            want == Some(&buf[..n]),
            "{}: wrong bytes at {at}",
            path.display()
        );
        at += n;
    }
    let took = start.elapsed();
    ensure!(
        at == expect.len(),
        "{}: {at} bytes of {}",
        path.display(),
        expect.len()
    );
    Ok(took)
}

/// Times `ls -l dir` (output captured, every file line counted).
pub(super) fn ls_l(dir: &Path, files: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    let out = Command::new("ls").arg("-l").arg(dir).output()?;
    let took = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "ls -l {}: {err}", dir.display());
    let listed = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| l.first() == Some(&b'-'));
    let listed = listed.count();
    ensure!(
        listed == files,
        "ls -l {}: {listed} files of {files}",
        dir.display()
    );
    Ok(took)
}

/// `n` objects of [`LS_SIZE`] bytes under [`LS_DIR`]/, from [`LS_CLIENTS`] clients.
pub(super) async fn put_listing(s3: &S3Client, n: usize) -> anyhow::Result<()> {
    let body = Bytes::from(pattern(LS_SIZE, 5));
    let md5 = md5_hex(&body);
    let workers: Vec<_> = (0..LS_CLIENTS)
        .map(|c| {
            let (client, body, md5) = (s3.fresh(), body.clone(), md5.clone());
            tokio::spawn(async move {
                for i in (c..n).step_by(LS_CLIENTS) {
                    let key = format!("{LS_DIR}/f{i:05}");
                    client.put(&key, body.clone(), &md5).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// The same directory on the local disk.
pub(super) fn local_listing(dir: &Path, n: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let body = pattern(LS_SIZE, 5);
    for i in 0..n {
        std::fs::write(dir.join(format!("f{i:05}")), &body)?;
    }
    sync();
    Ok(())
}

/// A tarball of small files, and what it holds.
pub(super) struct Tarball {
    file: PathBuf,
    /// Relative path and content of every file.
    pub(super) files: Vec<(String, Vec<u8>)>,
}

impl Tarball {
    /// Writes `n` files of 1–8 KiB as `tree/dNN/fNNNN` under `dir/src`, then `tar c`s them.
    pub(super) fn build(dir: &Path, n: usize) -> anyhow::Result<Tarball> {
        let src = dir.join("src");
        let files: Vec<(String, Vec<u8>)> = (0..n)
            .map(|i| {
                let size = 1024 + (i * 2_654_435_761) % (7 * 1024 + 1);
                let name = format!("tree/d{:02}/f{i:04}", i / TAR_PER_DIR);
                (name, pattern(size, 100 + i as u64))
            })
            .collect();
        for (name, data) in &files {
            let path = src.join(name);
            std::fs::create_dir_all(path.parent().context("parent")?)?;
            std::fs::write(&path, data)?;
        }
        let file = dir.join("tree.tar");
        let out = Command::new("tar")
            .arg("cf")
            .arg(&file)
            .arg("-C")
            .arg(&src)
            .arg("tree")
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.success(), "tar c: {err}");
        Ok(Tarball { file, files })
    }

    /// `tar x` into the new directory `into`, timed until tar exits (and, with `sync_after`,
    /// until `sync` returns).
    pub(super) fn extract(&self, into: &Path, sync_after: bool) -> anyhow::Result<Duration> {
        std::fs::create_dir(into).with_context(|| format!("mkdir {}", into.display()))?;
        sync();
        let start = Instant::now();
        let out = Command::new("tar")
            .arg("xf")
            .arg(&self.file)
            .arg("-C")
            .arg(into)
            .output()?;
        if sync_after {
            sync();
        }
        let took = start.elapsed();
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.success(), "tar x into {}: {err}", into.display());
        Ok(took)
    }

    /// Every file is there with its bytes, and nothing else.
    pub(super) fn verify(&self, into: &Path) -> anyhow::Result<()> {
        for (name, data) in &self.files {
            let path = into.join(name);
            let got = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
            ensure!(&got == data, "{}: wrong bytes after tar x", path.display());
        }
        let mut found = 0;
        for d in std::fs::read_dir(into.join("tree"))? {
            found += std::fs::read_dir(d?.path())?.count();
        }
        ensure!(
            found == self.files.len(),
            "tar x: {found} files of {}",
            self.files.len()
        );
        Ok(())
    }
}

/// Writes `size` bytes of 1 MiB blocks, each numbered in its first 8 bytes, then fsyncs and
/// closes; returns the time.
pub(super) fn write_generated(path: &Path, size: usize) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut out = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut block = pattern(MIB, 23);
    for i in 0..size.div_ceil(MIB) {
        block[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let len = (size - i * MIB).min(MIB);
        out.write_all(&block[..len])?;
    }
    out.sync_all()?;
    drop(out);
    Ok(start.elapsed())
}

/// A target: a directory on the local disk, or a mount (unmounted when dropped).
pub(super) enum Target {
    Local(PathBuf),
    Tessera(Mount),
    S3fs(S3fs),
}

impl Target {
    pub(super) fn root(&self) -> &Path {
        match self {
            Target::Local(p) => p,
            Target::Tessera(m) => &m.path,
            Target::S3fs(m) => &m.path,
        }
    }

    /// The client's process.
    pub(super) fn pid(&self) -> Option<u32> {
        match self {
            Target::Local(_) => None,
            Target::Tessera(m) => m.pid(),
            Target::S3fs(m) => Some(m.child.id()),
        }
    }
}

/// A tessera-mount of `bucket` at `dir/mnt-{name}` (staging in `dir/cache-{name}`), with
/// `extra` flags, logging at its own level as a user runs it (s3fs runs with
/// `dbglevel=err`).
pub(super) fn mount_tessera(
    bin: &Path,
    node: &Node,
    bucket: &str,
    dir: &Path,
    name: &str,
    extra: &[&str],
) -> anyhow::Result<Mount> {
    let cache = dir.join(format!("cache-{name}"));
    let cache = cache.to_str().context("non-UTF-8 path")?;
    let mut args = vec!["--bucket", bucket, "--cache-dir", cache];
    args.extend_from_slice(extra);
    let path = dir.join(format!("mnt-{name}"));
    Mount::try_start_logging(
        bin,
        &node.endpoint,
        &path,
        &args,
        (USER, PASSWORD),
        MountLog::AsUsersDo,
    )
    .map_err(|e| anyhow!("tessera-mount: {e}"))
}

/// s3fs in the foreground, mounted on a bench bucket at `dir/mnt-{name}`; unmounted and
/// ended when dropped (also when the bench fails or panics).
pub(super) struct S3fs {
    pub(super) child: Child,
    pub(super) path: PathBuf,
}

impl S3fs {
    /// Mounts `bucket` with the bench's options and `-o OPT` for each of `opts`; its temp
    /// dir is `dir/{name}-tmp`, its log `dir/{name}.log`.
    pub(super) fn start(
        bin: &Path,
        node: &Node,
        bucket: &str,
        dir: &Path,
        name: &str,
        opts: &[String],
    ) -> anyhow::Result<S3fs> {
        let (path, tmp) = (
            dir.join(format!("mnt-{name}")),
            dir.join(format!("{name}-tmp")),
        );
        std::fs::create_dir_all(&path)?;
        std::fs::create_dir_all(&tmp)?;
        let passwd = dir.join("s3fs.passwd");
        std::fs::write(&passwd, format!("{USER}:{PASSWORD}\n"))?;
        std::fs::set_permissions(&passwd, Permissions::from_mode(0o600))?;
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log)?;
        let child = Command::new(bin)
            .arg(bucket)
            .arg(&path)
            .arg("-f")
            .args(["-o", &format!("passwd_file={}", passwd.display())])
            .args(["-o", &format!("url={}", node.endpoint)])
            .args(["-o", "use_path_request_style"])
            .args(["-o", &format!("tmpdir={}", tmp.display())])
            .args(["-o", "dbglevel=err"])
            .args(opts.iter().flat_map(|o| ["-o", o]))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let mut s3fs = S3fs { child, path };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = || std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(status) = s3fs.child.try_wait()? {
                bail!(
                    "s3fs exited ({status}) before mounting; its log:\n{}",
                    text()
                );
            }
            if mounted(&s3fs.path) {
                return Ok(s3fs);
            }
            ensure!(
                Instant::now() < deadline,
                "s3fs did not mount in 20 s; its log:\n{}",
                text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether `path` is a mount point in /proc/mounts.
fn mounted(path: &Path) -> bool {
    let Some(path) = path.to_str() else {
        return false;
    };
    std::fs::read_to_string("/proc/mounts")
        .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(1) == Some(path)))
}

impl Drop for S3fs {
    fn drop(&mut self) {
        if mounted(&self.path) {
            let unmounted = Command::new("fusermount3")
                .arg("-u")
                .arg(&self.path)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !unmounted {
                let _ = Command::new("umount").arg("-l").arg(&self.path).status();
            }
        }
        // s3fs exits once unmounted; kill it if it does not.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
