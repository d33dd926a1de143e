//! The FUSE section: tessera-mount against s3fs and the local disk, in the same run.
//!
//! One fresh 4-drive node (2+2) serves both clients: tessera-mount over gRPC, s3fs over S3
//! (path-style, SigV4, its defaults otherwise) on the same bucket. On each target (a fresh
//! mount of each client, then a directory on the local disk), in this order:
//! - `ls -l` of a directory of `ls_files` files of 64 bytes: on a fresh mount after the
//!   page cache was dropped (cold), once more at once, then on another fresh mount with the
//!   server's page cache warm. The objects are created through S3 beforehand, so both
//!   clients list the same ones;
//! - sequential write of a `seq`-byte file from memory in 1 MiB `write`s, then `fsync` and
//!   `close`, all timed; then, the page cache dropped, a sequential read in 1 MiB `read`s,
//!   every byte compared. The client's RSS is polled during the write;
//! - `tar x` of a tarball of `tar_files` files of 1–8 KiB in directories of 100 into an
//!   empty directory, timed until tar exits (the clients upload each file when it is closed;
//!   locally a `sync` follows, inside the timing); every file is compared afterwards.
//!
//! Baselines beside tessera-mount: s3fs, the local disk, and for the sequential rows the
//! bench's S3 client (bench/s3.rs) PUTting and GETting the same bytes (GET after dropping
//! the page cache), and the bytes the node reads per byte of the sequential read. Last,
//! tessera-mount's peak RSS while a `rss`-byte file is written through it from a generator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use tessera_tests::{Mount, Node, md5_hex, pattern, rchar};

use super::fuse_ops::{
    LS_DIR, S3fs, TAR_PER_DIR, Tarball, Target, local_listing, ls_l, mount_tessera, put_listing,
    read_compare, write_file, write_generated,
};
use super::grpc::{peak_rss, status_mib};
use super::s3::{S3Client, large, sync};
use super::{MIB, cell, drop_caches, mib_per_s, ratio_cell, start_node};

const BUCKET: &str = "fusebench";
/// What a client's peak RSS must stay below while it writes `rss` bytes.
const RSS_GOAL: f64 = 256.0;

/// What the FUSE section runs; a 0 skips a part.
pub struct Config {
    /// Bytes of the sequentially written and read file.
    pub seq: usize,
    /// Files of the `ls -l` directory.
    pub ls_files: usize,
    /// Files of the tarball.
    pub tar_files: usize,
    /// Bytes written through tessera-mount while its RSS is watched.
    pub rss: usize,
    /// The tessera-mount binary.
    pub mount_bin: PathBuf,
    /// The s3fs binary, the baseline client.
    pub s3fs: PathBuf,
}

/// How a figure compares.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Higher is better; ratio = tessera-mount / baseline.
    Throughput,
    /// Lower is better; ratio = baseline / tessera-mount (how many times faster).
    Time,
    /// No ratio (memory, counts).
    Plain,
}

/// What a figure should reach.
#[derive(Clone, Copy)]
enum Goal {
    /// At least this many times s3fs's speed.
    VsS3fs(f64),
    /// At least this fraction of the S3 client's throughput.
    VsS3(f64),
    /// Below this (in the figure's unit).
    Below(f64),
}

/// One line of the FUSE table.
pub struct Figure {
    measure: String,
    unit: &'static str,
    kind: Kind,
    mount: f64,
    s3fs: Option<f64>,
    local: Option<f64>,
    s3: Option<f64>,
    goals: Vec<Goal>,
}

impl Figure {
    fn ratio(&self, base: Option<f64>) -> Option<f64> {
        match self.kind {
            Kind::Throughput => base.map(|b| self.mount / b),
            Kind::Time => base.map(|b| b / self.mount),
            Kind::Plain => None,
        }
    }
}

/// Prints the FUSE table.
pub fn print(figures: &[Figure]) {
    println!(
        "\n| FUSE measure | tessera-mount | s3fs | local disk | S3 client | × s3fs | × S3 client | target |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for f in figures {
        let u = f.unit;
        let value = |v: Option<f64>| cell(v, u);
        let ratio = ratio_cell;
        let (vs_fs, vs_s3) = (f.ratio(f.s3fs), f.ratio(f.s3));
        let goals: Vec<String> = f
            .goals
            .iter()
            .map(|g| {
                let (text, met) = match *g {
                    Goal::VsS3fs(x) => (format!("≥ {x}× s3fs"), vs_fs.map(|r| r >= x)),
                    Goal::VsS3(x) => (format!("≥ {x}× S3 client"), vs_s3.map(|r| r >= x)),
                    Goal::Below(x) => (format!("< {x} {u}"), Some(f.mount < x)),
                };
                let met = match met {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "no baseline",
                };
                format!("{text}: {met}")
            })
            .collect();
        let (m, v) = (&f.measure, value(Some(f.mount)));
        let (fs, local, s3) = (value(f.s3fs), value(f.local), value(f.s3));
        let (r_fs, r_s3, goals) = (ratio(vs_fs), ratio(vs_s3), goals.join("; "));
        println!("| {m} | {v} | {fs} | {local} | {s3} | {r_fs} | {r_s3} | {goals} |");
    }
}

/// What every target runs: the data, the tarball, the sizes.
struct Work {
    payload: Bytes,
    ls_files: usize,
    tar: Option<Tarball>,
}

/// One target's figures (`None`: not measured).
#[derive(Default)]
struct Results {
    /// Fresh mount, page cache dropped.
    ls: Option<f64>,
    /// Right after `ls`.
    ls_again: Option<f64>,
    /// Fresh mount again, the server's page cache warm from `ls`.
    ls_fresh: Option<f64>,
    write: Option<f64>,
    read: Option<f64>,
    /// The read followed a drop of the page cache.
    read_cold: bool,
    /// Bytes the node read (its `rchar`) per byte of the sequential read.
    read_amp: Option<f64>,
    write_rss: Option<f64>,
    untar: Option<f64>,
}

/// The FUSE figures, and notes when a baseline could not run.
pub async fn figures(
    node_bin: &Path,
    dir: &Path,
    cfg: &Config,
) -> anyhow::Result<(Vec<Figure>, Vec<String>)> {
    ensure!(
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: the FUSE section needs it (skip it with --fuse-mib 0 \
         --fuse-ls-files 0 --fuse-tar-files 0 --fuse-rss-mib 0)"
    );
    ensure!(
        cfg.mount_bin.exists(),
        "{} is missing: run `cargo build --release -p tessera-tests --bins` first",
        cfg.mount_bin.display()
    );
    let dir = &dir.canonicalize()?; // /proc/mounts lists absolute paths
    let node = start_node(node_bin, &dir.join("f"))?;
    let s3 = S3Client::new(node.addr, BUCKET);
    s3.create_bucket().await.context("S3: create bucket")?;

    let payload = Bytes::from(pattern(cfg.seq, 17));
    let s3_rates = if cfg.seq > 0 {
        eprintln!("fuse: S3 client PUT/GET ...");
        let md5 = md5_hex(&payload);
        Some(
            large(&s3, "s3-large", &payload, &md5, true)
                .await
                .context("S3 baseline")?,
        )
    } else {
        None
    };
    if cfg.ls_files > 0 {
        eprintln!("fuse: {} objects through S3 ...", cfg.ls_files);
        put_listing(&s3, cfg.ls_files).await?;
    }
    let tar = match cfg.tar_files {
        0 => None,
        n => Some(Tarball::build(&dir.join("tar"), n)?),
    };
    let work = Work {
        payload,
        ls_files: cfg.ls_files,
        tar,
    };

    eprintln!("fuse: local disk ...");
    let root = dir.join("local");
    if cfg.ls_files > 0 {
        local_listing(&root.join(LS_DIR), cfg.ls_files)?;
    }
    let local_dir = || {
        std::fs::create_dir_all(&root)?;
        Ok(Target::Local(root.clone()))
    };
    let local = measure(&work, "local", None, &local_dir)
        .await
        .context("local disk")?;

    eprintln!("fuse: tessera-mount ...");
    let mount = || our_mount(cfg, &node, dir, "tessera").map(Target::Tessera);
    let ours = measure(&work, "tessera", node.pid(), &mount)
        .await
        .context("tessera-mount")?;

    let mut notes = Vec::new();
    let theirs = if cfg.s3fs.is_file() {
        eprintln!("fuse: s3fs ...");
        let mount = || S3fs::start(&cfg.s3fs, &node, BUCKET, dir, "s3fs", &[]).map(Target::S3fs);
        Some(
            measure(&work, "s3fs", node.pid(), &mount)
                .await
                .context("s3fs")?,
        )
    } else {
        let note = format!(
            "No FUSE baseline: {} is missing. Install s3fs (`apt-get install s3fs`) or pass \
             its path with --s3fs.",
            cfg.s3fs.display()
        );
        eprintln!("{note}");
        notes.push(note);
        None
    };

    let mut out = rows(cfg, &work, &ours, theirs.as_ref(), &local, s3_rates);
    if cfg.rss > 0 {
        eprintln!("fuse: tessera-mount RSS ...");
        out.push(rss_figure(cfg, &node, dir).await?);
    }
    Ok((out, notes))
}

/// The comparison rows, from each target's results.
fn rows(
    cfg: &Config,
    work: &Work,
    ours: &Results,
    theirs: Option<&Results>,
    local: &Results,
    s3: Option<(f64, f64)>,
) -> Vec<Figure> {
    let mut out = Vec::new();
    let mut row = |measure: String, unit, kind, pick: fn(&Results) -> Option<f64>, s3, goals| {
        if let Some(mount) = pick(ours) {
            out.push(Figure {
                measure,
                unit,
                kind,
                mount,
                s3fs: theirs.and_then(pick),
                local: pick(local),
                s3,
                goals,
            });
        }
    };
    let mib = cfg.seq / MIB;
    let (n, seq_goals) = (cfg.ls_files, vec![Goal::VsS3fs(2.0), Goal::VsS3(0.5)]);
    let cold = if ours.read_cold {
        "cold cache"
    } else {
        "warm cache"
    };
    let (put, get) = (s3.map(|r| r.0), s3.map(|r| r.1));
    row(
        format!("sequential write {mib} MiB (1 MiB writes, fsync, close)"),
        "MiB/s",
        Kind::Throughput,
        |r| r.write,
        put,
        seq_goals.clone(),
    );
    row(
        format!("sequential read {mib} MiB ({cold})"),
        "MiB/s",
        Kind::Throughput,
        |r| r.read,
        get,
        seq_goals,
    );
    row(
        format!("node bytes read per byte of the {mib} MiB read (its rchar)"),
        "B/B",
        Kind::Plain,
        |r| r.read_amp,
        None,
        vec![],
    );
    row(
        format!("client peak RSS during the {mib} MiB write (polled)"),
        "MiB",
        Kind::Plain,
        |r| r.write_rss,
        None,
        vec![],
    );
    row(
        format!("`ls -l` of {n} files, fresh mount, page cache dropped (cold)"),
        "s",
        Kind::Time,
        |r| r.ls,
        None,
        vec![Goal::VsS3fs(5.0)],
    );
    row(
        format!("`ls -l` of {n} files, again at once"),
        "s",
        Kind::Time,
        |r| r.ls_again,
        None,
        vec![],
    );
    row(
        format!("`ls -l` of {n} files, fresh mount, server's page cache warm"),
        "s",
        Kind::Time,
        |r| r.ls_fresh,
        None,
        vec![Goal::VsS3fs(5.0)],
    );
    if let Some(tar) = &work.tar {
        let (files, dirs) = (tar.files.len(), tar.files.len().div_ceil(TAR_PER_DIR));
        row(
            format!("`tar x` of {files} files of 1–8 KiB in {dirs} dirs (local: + sync)"),
            "s",
            Kind::Time,
            |r| r.untar,
            None,
            vec![Goal::VsS3fs(3.0)],
        );
    }
    out
}

/// Runs the measurements on the target `name`, which `mount` mounts afresh (twice when
/// `ls -l` is measured) on the node `node_pid`. Both clients show the same bucket, so what
/// a target writes is named after it.
async fn measure(
    work: &Work,
    name: &str,
    node_pid: Option<u32>,
    mount: &dyn Fn() -> anyhow::Result<Target>,
) -> anyhow::Result<Results> {
    let mut r = Results::default();
    if work.ls_files == 0 && work.payload.is_empty() && work.tar.is_none() {
        return Ok(r);
    }
    if work.ls_files > 0 {
        let first = mount()?;
        let list = first.root().join(LS_DIR);
        drop_caches();
        r.ls = Some(ls_l(&list, work.ls_files)?);
        r.ls_again = Some(ls_l(&list, work.ls_files)?);
    }
    let target = mount()?;
    let (root, pid, local) = (target.root(), target.pid(), target.pid().is_none());
    if work.ls_files > 0 {
        r.ls_fresh = Some(ls_l(&root.join(LS_DIR), work.ls_files)?);
    }
    if !work.payload.is_empty() {
        let file = root.join(format!("seq-{name}"));
        let (data, len) = (work.payload.clone(), work.payload.len());
        sync();
        let write = {
            let file = file.clone();
            async move { tokio::task::spawn_blocking(move || write_file(&file, &data)).await? }
        };
        let took = match pid {
            Some(pid) => {
                let (took, peak) = peak_rss(pid, write).await?;
                r.write_rss = Some(peak);
                took
            }
            None => write.await?,
        };
        r.write = Some(mib_per_s(len, took));
        r.read_cold = drop_caches();
        if !r.read_cold {
            sync();
        }
        let before = node_pid.map(rchar).transpose()?;
        r.read = Some(mib_per_s(len, read_compare(&file, &work.payload)?));
        if let (Some(pid), Some(before)) = (node_pid, before) {
            r.read_amp = Some((rchar(pid)? - before) as f64 / len as f64);
        }
        std::fs::remove_file(&file).with_context(|| format!("rm {}", file.display()))?;
    }
    if let Some(tar) = &work.tar {
        let into = root.join(format!("untar-{name}"));
        r.untar = Some(tar.extract(&into, local)?.as_secs_f64());
        tar.verify(&into)?;
    }
    Ok(r)
}

/// A tessera-mount of the bench bucket at `dir/mnt-{name}`.
fn our_mount(cfg: &Config, node: &Node, dir: &Path, name: &str) -> anyhow::Result<Mount> {
    mount_tessera(&cfg.mount_bin, node, BUCKET, dir, name, &[])
}

/// tessera-mount's peak RSS while `cfg.rss` bytes are written through it (1 MiB writes of
/// generated blocks, then fsync and close), beside its idle RSS.
async fn rss_figure(cfg: &Config, node: &Node, dir: &Path) -> anyhow::Result<Figure> {
    let m = our_mount(cfg, node, dir, "rss")?;
    let pid = m.pid().context("tessera-mount has no process")?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = status_mib(pid, "VmRSS:")?;
    let (file, size) = (m.path.join("rss"), cfg.rss);
    let write = {
        let file = file.clone();
        async move { tokio::task::spawn_blocking(move || write_generated(&file, size)).await? }
    };
    let (took, peak) = peak_rss(pid, write).await?;
    let hwm = status_mib(pid, "VmHWM:")?;
    std::fs::remove_file(&file)?;
    let (mib, rate) = (size / MIB, mib_per_s(size, took));
    Ok(Figure {
        measure: format!(
            "tessera-mount peak RSS, {mib} MiB write at {rate:.0} MiB/s \
             (polled {peak:.0}, VmHWM {hwm:.0}, idle {idle:.1})"
        ),
        unit: "MiB",
        kind: Kind::Plain,
        mount: peak.max(hwm),
        s3fs: None,
        local: None,
        s3: None,
        goals: vec![Goal::Below(RSS_GOAL)],
    })
}
