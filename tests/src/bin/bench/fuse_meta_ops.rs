//! The FUSE metadata section's tools: the timed operations (`find | wc -l`, `ls -lR`, stat
//! of many files, `rm -r`, random 4 KiB reads, `git clone` and `git status`) and the test
//! repository they clone.
//!
//! Each timed operation also checks what it did (entries counted, bytes compared, the clone's
//! commits counted), so a client that answers fast but wrongly fails the run. The repository
//! is made with `git fast-import` from a generated stream: the same files, commits and
//! authors every run (fixed dates), so its clone costs the same each time.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{Context as _, ensure};
use tessera_tests::pattern;

use super::super::s3::sync;

/// Files per directory of the test repository.
const GIT_PER_DIR: usize = 100;
/// Files added by each commit of the test repository (a few earlier ones change too).
const GIT_ADDED_PER_COMMIT: usize = 10;
/// Earlier files changed by each commit.
const GIT_CHANGED_PER_COMMIT: usize = 5;

/// Runs `cmd`, timed until it exits; fails with its stderr when it fails.
fn timed(cmd: &mut Command, what: &str) -> anyhow::Result<(f64, Output)> {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {what}"))?;
    let took = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "{what}: {}", err.trim());
    Ok((took, out))
}

/// Times `find DIR | wc -l` (through a shell, as typed) and checks the count.
pub(super) fn find_count(dir: &Path, expect: usize) -> anyhow::Result<f64> {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "find \"$1\" | wc -l", "sh"]).arg(dir);
    let (took, out) = timed(&mut cmd, &format!("find {} | wc -l", dir.display()))?;
    let got: usize = String::from_utf8_lossy(&out.stdout).trim().parse()?;
    ensure!(
        got == expect,
        "find {}: {got} entries of {expect}",
        dir.display()
    );
    Ok(took)
}

/// Times `ls -lR DIR` (output read and counted, not kept) and checks the files listed.
pub(super) fn ls_lr(dir: &Path, files: usize) -> anyhow::Result<f64> {
    let (took, out) = timed(
        Command::new("ls").arg("-lR").arg(dir),
        &format!("ls -lR {}", dir.display()),
    )?;
    let listed = out.stdout.split(|&b| b == b'\n');
    let listed = listed.filter(|l| l.first() == Some(&b'-')).count();
    ensure!(
        listed == files,
        "ls -lR {}: {listed} files of {files}",
        dir.display()
    );
    Ok(took)
}

/// The name of file `i` of a directory made by [`make_files`].
fn file_name(i: usize) -> String {
    format!("f{i:05}")
}

/// Creates `dir` and `n` files of 1 KiB in it (not timed).
pub(super) fn make_files(dir: &Path, n: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
    let body = pattern(1024, 31);
    for i in 0..n {
        let path = dir.join(file_name(i));
        std::fs::write(&path, &body).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// Times `std::fs::metadata` (stat(2)) of the `n` files [`make_files`] made in `dir`, one
/// after the other in this process; returns stats per second.
pub(super) fn stat_all(dir: &Path, n: usize) -> anyhow::Result<f64> {
    let paths: Vec<PathBuf> = (0..n).map(|i| dir.join(file_name(i))).collect();
    let start = Instant::now();
    for path in &paths {
        let meta = std::fs::metadata(path).with_context(|| format!("stat {}", path.display()))?;
        ensure!(
            meta.is_file() && meta.len() == 1024,
            "stat {}: not a 1 KiB file",
            path.display()
        );
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Times `rm -r dir` until it exits, and checks that `dir` is gone.
pub(super) fn rm_r(dir: &Path) -> anyhow::Result<f64> {
    let what = format!("rm -r {}", dir.display());
    let (took, _) = timed(Command::new("rm").arg("-r").arg(dir), &what)?;
    ensure!(!dir.exists(), "{what}: still there");
    Ok(took)
}

/// Times `count` reads of 4 KiB (pread) at random 4 KiB-aligned offsets of `path` (a fixed
/// seed, so every target reads the same offsets), the open included, every byte compared
/// with `expect`; returns reads per second.
pub(super) fn random_reads(path: &Path, expect: &[u8], count: usize) -> anyhow::Result<f64> {
    const PAGE: usize = 4096;
    let pages = (expect.len() / PAGE) as u64;
    ensure!(pages > 0, "{}: smaller than 4 KiB", path.display());
    let mut seed = 0x5eed_0024_u64;
    let mut buf = vec![0u8; PAGE];
    let start = Instant::now();
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    for _ in 0..count {
        let at = (splitmix64(&mut seed) % pages) as usize * PAGE;
        file.read_exact_at(&mut buf, at as u64)
            .with_context(|| format!("pread {} at {at}", path.display()))?;
        ensure!(
            buf == expect[at..at + PAGE],
            "{}: wrong bytes at {at}",
            path.display()
        );
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// The next number of a splitmix64 sequence.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `git` with no user or system configuration, any repository owner accepted.
fn git() -> Command {
    let mut cmd = Command::new("git");
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(["-c", "safe.directory=*"]);
    cmd
}

/// A local git repository made for the bench: `files` small text files in directories of
/// [`GIT_PER_DIR`], added [`GIT_ADDED_PER_COMMIT`] a commit while earlier ones change.
pub(super) struct GitRepo {
    pub(super) path: PathBuf,
    pub(super) files: usize,
    pub(super) commits: usize,
}

impl GitRepo {
    /// `git init` at `path` and one `git fast-import` of the whole history on `main`.
    pub(super) fn build(path: &Path, files: usize) -> anyhow::Result<GitRepo> {
        let commits = files.div_ceil(GIT_ADDED_PER_COMMIT);
        std::fs::create_dir_all(path)?;
        timed(
            git().args(["init", "-q", "-b", "main"]).arg(path),
            "git init",
        )?;
        let mut child = git()
            .arg("-C")
            .arg(path)
            .args(["fast-import", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("run git fast-import")?;
        let mut stream = std::io::BufWriter::new(child.stdin.take().context("stdin")?);
        let mut seed = 0x0024_617e_u64;
        for c in 0..commits {
            let when = 1_700_000_000 + c * 600;
            let who = format!("Bench <bench@tessera.invalid> {when} +0000");
            let msg = format!("commit {c}");
            writeln!(stream, "commit refs/heads/main\ncommitter {who}")?;
            writeln!(stream, "data {}\n{msg}", msg.len())?;
            let first = c * GIT_ADDED_PER_COMMIT;
            let added = first..(first + GIT_ADDED_PER_COMMIT).min(files);
            let changed = (0..GIT_CHANGED_PER_COMMIT)
                .filter(|_| first > 0)
                .map(|_| (splitmix64(&mut seed) % first as u64) as usize);
            for (i, rev) in added.map(|i| (i, 0)).chain(changed.map(|i| (i, c))) {
                let body = git_file(i, rev);
                let name = format!("src/m{:02}/file{i:05}.txt", i / GIT_PER_DIR);
                writeln!(stream, "M 100644 inline {name}\ndata {}", body.len())?;
                stream.write_all(body.as_bytes())?;
                writeln!(stream)?;
            }
        }
        drop(stream);
        let out = child.wait_with_output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.success(), "git fast-import: {}", err.trim());
        Ok(GitRepo {
            path: path.to_path_buf(),
            files,
            commits,
        })
    }

    /// Times `git clone --no-hardlinks` into the new directory `into` (with `sync_after`,
    /// until a `sync` returns too), then checks the clone's commits and files (not timed).
    pub(super) fn clone_into(&self, into: &Path, sync_after: bool) -> anyhow::Result<f64> {
        sync();
        let start = Instant::now();
        let mut cmd = git();
        cmd.args(["clone", "-q", "--no-hardlinks"])
            .arg(&self.path)
            .arg(into);
        let what = format!("git clone into {}", into.display());
        timed(&mut cmd, &what)?;
        if sync_after {
            sync();
        }
        let took = start.elapsed().as_secs_f64();
        let count = |args: &[&str]| -> anyhow::Result<usize> {
            let (_, out) = timed(git().arg("-C").arg(into).args(args), &what)?;
            Ok(String::from_utf8_lossy(&out.stdout).lines().count())
        };
        let commits = count(&["rev-list", "HEAD"])?;
        ensure!(commits == self.commits, "{what}: {commits} commits");
        let files = count(&["ls-files"])?;
        ensure!(files == self.files, "{what}: {files} files");
        Ok(took)
    }

    /// Times `git status` in the clone `dir`.
    pub(super) fn status(dir: &Path) -> anyhow::Result<f64> {
        let what = format!("git status in {}", dir.display());
        Ok(timed(git().arg("-C").arg(dir).arg("status"), &what)?.0)
    }

    /// What `git status --porcelain` lists in the clone `dir` (nothing when it is clean).
    pub(super) fn dirty(dir: &Path) -> anyhow::Result<Vec<String>> {
        let what = format!("git status --porcelain in {}", dir.display());
        let (_, out) = timed(
            git().arg("-C").arg(dir).args(["status", "--porcelain"]),
            &what,
        )?;
        let dirty = String::from_utf8_lossy(&out.stdout);
        Ok(dirty.lines().map(str::to_owned).collect())
    }
}

/// The text of file `i` at revision `rev` (200 B–2 KiB).
fn git_file(i: usize, rev: usize) -> String {
    let lines = 4 + (i * 7 + rev) % 37;
    (0..lines)
        .map(|l| format!("{i:05}.{rev:04}.{l:02} the quick brown fox jumps over the dog\n"))
        .collect()
}
