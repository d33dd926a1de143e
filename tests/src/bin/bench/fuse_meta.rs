//! The FUSE metadata section (issue 24): tessera-mount against s3fs and a local directory on
//! metadata-heavy work, in the same run.
//!
//! One fresh 4-drive node (2+2) serves both clients on one bucket: tessera-mount over gRPC,
//! s3fs over S3 (the options of `bench/fuse.rs`). Each target works in a directory of its
//! own (`tessera/`, `tessera-neg/`, `s3fs/` in the bucket; `local/` under `--dir`), and
//! every step mounts afresh, so no step sees another's cache ("cold" also drops the page
//! cache, which empties the local directory's and the node's caches too). In order:
//! - `tar x` of `tar_files` files of 1–8 KiB in directories of 100 into an empty directory,
//!   timed until tar exits (locally, + `sync`), every file compared afterwards;
//! - `find DIR | wc -l` over that tree on a fresh mount after dropping the page cache
//!   (cold), then at once again (warm); the same for `ls -lR DIR` on another fresh mount;
//! - with `--negative-ttl 5s` when tessera-mount's `--help` lists it, those rows again for
//!   tessera-mount alone (beside the same s3fs and local figures);
//! - `stat_files` and `rm_files` files of 1 KiB written in two directories; on a fresh mount,
//!   the page cache dropped: stat(2) of each stat file from this process, then `rm -r` of
//!   the other directory, timed until it exits (locally, + `sync`);
//! - a 16 MiB file written; `random_reads` preads of 4 KiB at random aligned offsets (fixed
//!   seed), on a fresh mount after dropping the page cache (uncached: the median of five
//!   such runs, each on a fresh mount); then cached: a fresh tessera-mount with
//!   `--cache-size 1G` (when `--help` lists it, else "not supported by this build") or
//!   s3fs with `use_cache=DIR`, the file read once, then the random reads in
//!   a new open (the page cache as each client leaves it), then again after dropping the
//!   page cache (from the clients' disk caches; locally from the disk);
//! - `git clone --no-hardlinks` of a repository made beforehand in a local directory
//!   (`git_files` files, a commit per 10 of them), timed until git exits (locally, +
//!   `sync`), then, from the next second of the clock on (see [`next_second`]), `git
//!   status` in the clone twice on the same mount (first, again).
//!
//! Every operation checks what it did (see `fuse_meta_ops.rs`). Figures are times, or
//! operations per second; "× s3fs" is how many times as fast as s3fs, "× local" how many
//! times slower than the local directory.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, ensure};
use tessera_tests::pattern;

use super::fuse_ops::{
    S3fs, TAR_PER_DIR, Tarball, Target, mount_tessera, read_compare, write_file,
};
use super::s3::{S3Client, sync};
use super::{MIB, drop_caches, start_node};

#[path = "fuse_meta_ops.rs"]
mod ops;
#[path = "fuse_meta_rows.rs"]
mod rows;
use ops::{GitRepo, find_count, ls_lr, make_files, random_reads, rm_r, stat_all};
pub use rows::{Figure, print};

const BUCKET: &str = "metabench";
/// Size of the file read at random offsets.
const RANDOM_FILE: usize = 16 * MIB;
/// Cold random-read runs per client, each on a fresh mount; the row shows their median.
const COLD_RANDOM_RUNS: usize = 5;

/// What the FUSE metadata section runs; a 0 skips a part.
pub struct Config {
    /// Files of the tarball (`tar x`, `find`, `ls -lR`).
    pub tar_files: usize,
    /// Files stat(2)ed.
    pub stat_files: usize,
    /// Files removed by `rm -r`.
    pub rm_files: usize,
    /// Random 4 KiB reads of the 16 MiB file, uncached and cached.
    pub random_reads: usize,
    /// Files of the test repository cloned with git.
    pub git_files: usize,
    /// The tessera-mount binary.
    pub mount_bin: std::path::PathBuf,
    /// The s3fs binary, the baseline client.
    pub s3fs: std::path::PathBuf,
}

impl Config {
    /// Whether any part runs.
    pub fn any(&self) -> bool {
        self.tar_files + self.stat_files + self.rm_files + self.random_reads + self.git_files > 0
    }
}

/// How a target is mounted for one step.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Plain,
    /// tessera-mount with `--negative-ttl 5s`.
    NegativeTtl,
    /// tessera-mount with `--cache-size 1G`; s3fs with `use_cache`.
    Cache,
}

/// One target's figures (`None`: not measured).
#[derive(Default)]
struct Results {
    untar: Option<f64>,
    find_cold: Option<f64>,
    find_warm: Option<f64>,
    ls_cold: Option<f64>,
    ls_warm: Option<f64>,
    /// stat(2) per second.
    stat: Option<f64>,
    rm: Option<f64>,
    /// Random reads per second, uncached.
    random: Option<f64>,
    /// Random reads per second, cached (the page cache as the client leaves it).
    cached: Option<f64>,
    /// Random reads per second, cached, the page cache dropped.
    disk_cached: Option<f64>,
    clone: Option<f64>,
    status_first: Option<f64>,
    status_again: Option<f64>,
}

/// What every target runs on.
struct Work {
    tar: Option<Tarball>,
    stat_files: usize,
    rm_files: usize,
    reads: usize,
    payload: Vec<u8>,
    git: Option<GitRepo>,
}

/// A target: the directory it works in, whether it is the local one, and how it mounts for
/// a step (named, so that each mount has its own mount point and log).
struct Client<'a> {
    label: &'a str,
    local: bool,
    /// Whether [`Variant::Cache`] is supported.
    cache: bool,
    mount: &'a dyn Fn(&str, Variant) -> anyhow::Result<Target>,
}

/// The section's figures, and notes (a missing s3fs, a clone that `git status` finds dirty).
pub async fn figures(
    node_bin: &Path,
    dir: &Path,
    cfg: &Config,
) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    ensure!(
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: the FUSE metadata section needs it (skip it with all the \
         --meta-* flags 0)"
    );
    ensure!(
        cfg.mount_bin.exists(),
        "{} is missing: run `cargo build --release -p tessera-tests --bins` first",
        cfg.mount_bin.display()
    );
    let started = Instant::now();
    let dir = &dir.canonicalize()?.join("meta"); // /proc/mounts lists absolute paths
    std::fs::create_dir_all(dir)?;
    let node = start_node(node_bin, &dir.join("node"))?;
    let s3 = S3Client::new(node.addr, BUCKET);
    s3.create_bucket().await.context("S3: create bucket")?;
    let help = Command::new(&cfg.mount_bin).arg("--help").output()?;
    let help = String::from_utf8_lossy(&help.stdout);
    let (negative, cache) = (
        help.contains("--negative-ttl"),
        help.contains("--cache-size"),
    );

    eprintln!("fuse meta: fixtures ...");
    let tar = match cfg.tar_files {
        0 => None,
        n => Some(Tarball::build(&dir.join("tar"), n)?),
    };
    let git = match cfg.git_files {
        0 => None,
        n => Some(GitRepo::build(&dir.join("git-src"), n)?),
    };
    let payload = match cfg.random_reads {
        0 => Vec::new(),
        _ => pattern(RANDOM_FILE, 29),
    };
    let work = Work {
        tar,
        stat_files: cfg.stat_files,
        rm_files: cfg.rm_files,
        reads: cfg.random_reads,
        payload,
        git,
    };
    let mut notes = Vec::new();

    let root = dir.join("local");
    std::fs::create_dir_all(&root)?;
    let mount = |_: &str, _: Variant| Ok(Target::Local(root.clone()));
    let local = measure(&work, &client("local", true, true, &mount), &mut notes)?;

    let mount = |step: &str, v: Variant| {
        let (suffix, extra): (_, &[&str]) = match v {
            Variant::Plain => ("", &[]),
            Variant::NegativeTtl => ("-neg", &["--negative-ttl", "5s"]),
            Variant::Cache => ("-cache", &["--cache-size", "1G"]),
        };
        let name = format!("tessera-{step}{suffix}");
        mount_tessera(&cfg.mount_bin, &node, BUCKET, dir, &name, extra).map(Target::Tessera)
    };
    let ours = measure(&work, &client("tessera", false, cache, &mount), &mut notes)
        .context("tessera-mount")?;
    let ours_neg = match (&work.tar, negative) {
        (Some(tar), true) => {
            let mut r = Results::default();
            let c = client("tessera-neg", false, cache, &mount);
            tree(tar, &c, Variant::NegativeTtl, &mut r).context("tessera-mount, negative TTL")?;
            Some(r)
        }
        _ => None,
    };

    let theirs = if cfg.s3fs.is_file() {
        let cache_dir = dir.join("s3fs-cache");
        std::fs::create_dir_all(&cache_dir)?;
        let use_cache = vec![format!("use_cache={}", cache_dir.display())];
        let mount = |step: &str, v: Variant| {
            let opts: &[String] = if v == Variant::Cache { &use_cache } else { &[] };
            let name = format!("s3fs-{step}");
            S3fs::start(&cfg.s3fs, &node, BUCKET, dir, &name, opts).map(Target::S3fs)
        };
        Some(measure(&work, &client("s3fs", false, true, &mount), &mut notes).context("s3fs")?)
    } else {
        notes.push(format!(
            "No FUSE metadata baseline: {} is missing (`apt-get install s3fs`, or --s3fs).",
            cfg.s3fs.display()
        ));
        None
    };
    let figures = rows::rows(
        &work,
        &ours,
        (negative, ours_neg.as_ref()),
        cache,
        theirs.as_ref(),
        &local,
    );
    eprintln!("fuse meta: {:.0} s", started.elapsed().as_secs_f64());
    Ok((figures, notes))
}

fn client<'a>(
    label: &'a str,
    local: bool,
    cache: bool,
    mount: &'a dyn Fn(&str, Variant) -> anyhow::Result<Target>,
) -> Client<'a> {
    Client {
        label,
        local,
        cache,
        mount,
    }
}

/// Runs every step on one target.
fn measure(work: &Work, c: &Client, notes: &mut Vec<String>) -> anyhow::Result<Results> {
    let mut r = Results::default();
    if let Some(tar) = &work.tar {
        tree(tar, c, Variant::Plain, &mut r)?;
    }
    stat_rm(work, c, &mut r)?;
    random(work, c, &mut r)?;
    if let Some(repo) = &work.git {
        eprintln!("fuse meta: {}: git ...", c.label);
        let t = (c.mount)("git", Variant::Plain)?;
        let base = t.root().join(c.label);
        std::fs::create_dir_all(&base)?;
        let clone = base.join("clone");
        r.clone = Some(repo.clone_into(&clone, c.local)?);
        next_second();
        r.status_first = Some(GitRepo::status(&clone)?);
        r.status_again = Some(GitRepo::status(&clone)?);
        let dirty = GitRepo::dirty(&clone)?;
        if !dirty.is_empty() {
            let n = dirty.len();
            let some = dirty.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
            notes.push(format!(
                "FUSE metadata: on {}, `git status` finds the fresh clone dirty: {n} entries \
                 ({some} …)",
                c.label
            ));
        }
    }
    Ok(r)
}

/// Sleeps into the next second of the clock. git compares a file's mtime with its index's
/// in whole seconds: the files written in the second the index was written are "racily
/// clean", and each `git status` run in that second reads them again (and writes the index
/// in it too). A first `git status` started in the next second reads them once and writes
/// an index they are older than, so the second reads none; without the wait, whether the
/// second read them again depended on where in a second the clone ended.
fn next_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    let into = now.map_or(0, |d| d.subsec_nanos());
    let rest = Duration::from_nanos(u64::from(1_000_000_000 - into));
    std::thread::sleep(rest + Duration::from_millis(10));
}

/// `tar x`, then `find | wc -l` and `ls -lR`, each on a fresh mount, cold then warm.
fn tree(tar: &Tarball, c: &Client, v: Variant, r: &mut Results) -> anyhow::Result<()> {
    eprintln!("fuse meta: {}: tar x, find, ls -lR ...", c.label);
    let files = tar.files.len();
    let entries = files + files.div_ceil(TAR_PER_DIR) + 2; // + the target dir and tree/
    let t = (c.mount)("tar", v)?;
    let base = t.root().join(c.label);
    std::fs::create_dir_all(&base)?;
    r.untar = Some(tar.extract(&base.join("untar"), c.local)?.as_secs_f64());
    tar.verify(&base.join("untar"))?;
    drop(t);
    let t = (c.mount)("find", v)?;
    let into = t.root().join(c.label).join("untar");
    drop_caches();
    r.find_cold = Some(find_count(&into, entries)?);
    r.find_warm = Some(find_count(&into, entries)?);
    drop(t);
    let t = (c.mount)("ls", v)?;
    let into = t.root().join(c.label).join("untar");
    drop_caches();
    r.ls_cold = Some(ls_lr(&into, files)?);
    r.ls_warm = Some(ls_lr(&into, files)?);
    Ok(())
}

/// stat(2) of the stat files, then `rm -r` of the others, on a fresh mount, page cache
/// dropped.
fn stat_rm(work: &Work, c: &Client, r: &mut Results) -> anyhow::Result<()> {
    if work.stat_files == 0 && work.rm_files == 0 {
        return Ok(());
    }
    eprintln!("fuse meta: {}: stat, rm -r ...", c.label);
    let t = (c.mount)("mkfiles", Variant::Plain)?;
    let base = t.root().join(c.label);
    make_files(&base.join("stat"), work.stat_files)?;
    make_files(&base.join("rm"), work.rm_files)?;
    drop(t);
    let t = (c.mount)("stat", Variant::Plain)?;
    let base = t.root().join(c.label);
    drop_caches();
    if work.stat_files > 0 {
        r.stat = Some(stat_all(&base.join("stat"), work.stat_files)?);
    }
    if work.rm_files > 0 {
        let start = Instant::now();
        rm_r(&base.join("rm"))?;
        if c.local {
            sync();
        }
        r.rm = Some(start.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Random 4 KiB reads of the 16 MiB file: uncached, then cached.
fn random(work: &Work, c: &Client, r: &mut Results) -> anyhow::Result<()> {
    if work.reads == 0 {
        return Ok(());
    }
    eprintln!("fuse meta: {}: random reads ...", c.label);
    let t = (c.mount)("write", Variant::Plain)?;
    let base = t.root().join(c.label);
    std::fs::create_dir_all(&base)?;
    write_file(&base.join("random"), &work.payload)?;
    drop(t);
    // A cold run takes tens of milliseconds, where one stray wake-up shows: the median.
    let mut rates = Vec::with_capacity(COLD_RANDOM_RUNS);
    for _ in 0..COLD_RANDOM_RUNS {
        let t = (c.mount)("random", Variant::Plain)?;
        let file = t.root().join(c.label).join("random");
        drop_caches();
        rates.push(random_reads(&file, &work.payload, work.reads)?);
    }
    rates.sort_by(f64::total_cmp);
    r.random = Some(rates[COLD_RANDOM_RUNS / 2]);
    if c.cache {
        let t = (c.mount)("random", Variant::Cache)?;
        let file = t.root().join(c.label).join("random");
        read_compare(&file, &work.payload)?;
        r.cached = Some(random_reads(&file, &work.payload, work.reads)?);
        drop_caches();
        r.disk_cached = Some(random_reads(&file, &work.payload, work.reads)?);
    }
    Ok(())
}
