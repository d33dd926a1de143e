//! `tessera-bench`: measures Tessera and prints each figure beside a baseline measured in
//! the same run on the same machine, with their ratio and target (see BENCHMARKS.md).
//!
//! What it measures, in order:
//! 1. Reed-Solomon encode and reconstruct (m data shards lost, the worst case) of 1 MiB
//!    blocks on one thread, at 2+2, 4+2, 8+4 and 12+4: through `Codec` (frames and xxh3
//!    checksums included) and through the raw `reed_solomon_erasure` crate on pre-split
//!    shards. Baseline: memcpy of the same 1 MiB.
//! 2. gRPC PUT and GET of one large object (`--large-mib`) on a 4-drive node (2+2).
//!    Baseline: writing the same bytes to a plain file (fsync at the end) and reading them
//!    back, on the same file system. When the page cache can be dropped (root), a cold GET
//!    is compared with a cold plain read, and the warm GET with a page-cache read.
//! 3. 4 KiB objects from `--clients` concurrent clients (all PUTs, then all GETs): ops/s,
//!    p50 and p99. Baseline: as many threads writing+fsyncing, then reading, 4 KiB files.
//! 4. S3 (in `bench/s3.rs`) on a fresh 4-drive node: PUT and GET of one large object
//!    (`--s3-large-mib`), then 4 KiB PUTs and GETs from `--clients` concurrent clients.
//!    Baseline: the same requests, in the same run on the same file system, against
//!    `s3s-fs` (`--s3s-fs`), a single-copy file-system S3 server on the same s3s front end.
//!    Then S3 over TLS (in `bench/s3_tls.rs`) beside plain HTTP on two fresh nodes: 2
//!    clients × `--tls-mib` PUT/GET at once, 4 KiB PUTs/GETs from `--clients` clients.
//!    Then (in `bench/scrape.rs`) the 4 KiB S3 rows on a fresh node while `/metrics` is
//!    scraped every second, beside the same rows unscraped, rounds alternating.
//! 5. Health checks (in `bench/health.rs`): `GET /health/ready` latency while a PUT of
//!    `--health-mib` streams into a fresh node. Baseline: the same probes on the idle node.
//!    Then peak server RSS (VmRSS polled every 20 ms, and VmHWM) during a PUT and then a
//!    GET of `--rss-mib` on a fresh node. Baseline: that node's idle RSS.
//! 6. A 4-node cluster (in `bench/cluster.rs`): 4 nodes × 4 drives (12+4) against one node
//!    on 16 drives (12+4) in the same run: PUT/GET of `--cluster-mib` through one node and
//!    spread over all nodes, 4 KiB PUTs/GETs through one node and spread, and the bytes
//!    crossing between nodes per object byte written.
//! 7. FUSE (in `bench/fuse.rs`) on a fresh 4-drive node: tessera-mount against s3fs on the
//!    same bucket through S3, and against the local disk: sequential write and read of a
//!    `--fuse-mib` file (also against the S3 client's PUT and GET of the same bytes),
//!    `ls -l` of `--fuse-ls-files` files, `tar x` of `--fuse-tar-files` small files; then
//!    tessera-mount's peak RSS while it writes `--fuse-rss-mib`. Printed as a table of its own.
//! 8. FUSE metadata (in `bench/fuse_meta.rs`) on a fresh 4-drive node: tessera-mount against
//!    s3fs and a local directory: `tar x` of `--meta-files` small files, `find | wc -l` and
//!    `ls -lR` of that tree (cold, warm; again with `--negative-ttl` when the mount has it),
//!    stat(2) of `--meta-stat-files` files, `rm -r` of `--meta-rm-files`, random 4 KiB reads
//!    of a 16 MiB file (`--meta-random-reads`, uncached and cached), `git clone` and `git
//!    status` of a repository of `--meta-git-files` files. Printed as a table of its own.
//!
//! This is a program, not a test: it never asserts on time, it only reports. It fails only
//! when something does not work (a node that will not start, a GET with the wrong bytes).
//! Run `cargo build --release -p tessera-tests --bins` first: it builds the node and the
//! FUSE client it starts.

use std::hint::black_box;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, ensure};
use bytes::Bytes;
use clap::Parser;
use reed_solomon_erasure::galois_8::ReedSolomon;
use tessera_daemon::erasure::{BLOCK_SIZE, Codec};
use tessera_proto::client::{ObjectClient, put_requests};
use tessera_proto::object::{
    CreateBucketRequest, GetObjectRequest, PutObjectHeader, get_object_response,
};
use tessera_tests::{Node, pattern};
use tokio::io::{AsyncRead, AsyncReadExt};

#[path = "bench/cluster.rs"]
mod cluster;
#[path = "bench/codec.rs"]
mod codec;
#[path = "bench/fuse.rs"]
mod fuse;
#[path = "bench/fuse_meta.rs"]
mod fuse_meta;
#[path = "bench/fuse_ops.rs"]
mod fuse_ops;
#[path = "bench/grpc.rs"]
mod grpc;
#[path = "bench/health.rs"]
mod health;
#[path = "bench/s3.rs"]
mod s3;
#[path = "bench/s3_tls.rs"]
mod s3_tls;
#[path = "bench/scrape.rs"]
mod scrape;
#[path = "bench/versions.rs"]
mod versions;

use grpc::{Phase, drop_caches, mib_per_s};

const MIB: usize = 1 << 20;
const BUCKET: &str = "bench";
const SMALL: usize = 4096;

/// Flags; the defaults are the full run reported in BENCHMARKS.md. A 0 skips a section.
#[derive(Parser, Debug)]
#[command(
    name = "tessera-bench",
    about = "Tessera figures beside same-run baselines"
)]
struct Args {
    /// Size of the object for the PUT/GET throughput, in MiB.
    #[arg(long, default_value_t = 256)]
    large_mib: usize,
    /// Size of the PUT that runs while the health checks are timed, in MiB.
    #[arg(long, default_value_t = 512)]
    health_mib: usize,
    /// Size of the object for the peak-RSS PUT/GET, in MiB.
    #[arg(long, default_value_t = 1024)]
    rss_mib: usize,
    /// 4 KiB operations per phase (PUT, then GET), spread over the clients.
    #[arg(long, default_value_t = 2000)]
    small_ops: usize,
    /// Concurrent clients (and baseline threads) for the 4 KiB operations.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Length of one codec measurement in ms; the best of three is kept.
    #[arg(long, default_value_t = 300)]
    codec_ms: u64,
    /// Size of the object for the S3 PUT/GET throughput, in MiB.
    #[arg(long, default_value_t = 256)]
    s3_large_mib: usize,
    /// S3 4 KiB operations per phase (PUT, then GET), spread over `--clients` clients.
    #[arg(long, default_value_t = 4000)]
    s3_small_ops: usize,
    /// 4 KiB S3 operations per phase while `/metrics` is scraped every second, and the
    /// same without scraping (two rounds of each), spread over `--clients` clients.
    #[arg(long, default_value_t = 4000)]
    scrape_small_ops: usize,
    /// 4 KiB S3 operations per phase on a versioned bucket beside an unversioned one,
    /// spread over `--clients` clients.
    #[arg(long, default_value_t = 4000)]
    versions_small_ops: usize,
    /// Keys (of 5 versions each) of the ListObjectVersions beside ListObjectsV2.
    #[arg(long, default_value_t = 10_000)]
    versions_keys: usize,
    /// S3 over TLS beside plain HTTP: each of the 2 clients' object, in MiB.
    #[arg(long, default_value_t = 64)]
    tls_mib: usize,
    /// S3 over TLS beside plain HTTP: 4 KiB operations per phase, over `--clients` clients.
    #[arg(long, default_value_t = 4000)]
    tls_small_ops: usize,
    /// The s3s-fs binary, the S3 baseline [default: $HOME/.cache/s3s-fs/bin/s3s-fs].
    #[arg(long)]
    s3s_fs: Option<PathBuf>,
    /// Size of the file written and read sequentially on each FUSE target, in MiB.
    #[arg(long, default_value_t = 1024)]
    fuse_mib: usize,
    /// Files of the directory listed with `ls -l` on each FUSE target.
    #[arg(long, default_value_t = 10_000)]
    fuse_ls_files: usize,
    /// Small files of the tarball extracted with `tar x` on each FUSE target.
    #[arg(long, default_value_t = 5000)]
    fuse_tar_files: usize,
    /// Size of the file written through tessera-mount while its peak RSS is watched, in MiB.
    #[arg(long, default_value_t = 4096)]
    fuse_rss_mib: usize,
    /// FUSE metadata: small files of the tarball extracted with `tar x`, then walked with
    /// `find` and `ls -lR`, on each target.
    #[arg(long, default_value_t = 5000)]
    meta_files: usize,
    /// FUSE metadata: files stat(2)ed on a fresh mount of each target.
    #[arg(long, default_value_t = 1000)]
    meta_stat_files: usize,
    /// FUSE metadata: files of the directory removed with `rm -r` on each target.
    #[arg(long, default_value_t = 1000)]
    meta_rm_files: usize,
    /// FUSE metadata: random 4 KiB reads of a 16 MiB file, uncached and cached.
    #[arg(long, default_value_t = 2000)]
    meta_random_reads: usize,
    /// FUSE metadata: files of the test git repository (a commit per 10) cloned into each
    /// target, where `git status` runs.
    #[arg(long, default_value_t = 3000)]
    meta_git_files: usize,
    /// Size of the large object of the cluster section, in MiB.
    #[arg(long, default_value_t = 256)]
    cluster_mib: usize,
    /// Cluster 4 KiB operations per phase, spread over `--clients` clients.
    #[arg(long, default_value_t = 2000)]
    cluster_small_ops: usize,
    /// The s3fs binary, the FUSE baseline.
    #[arg(long, default_value = "/usr/bin/s3fs")]
    s3fs: PathBuf,
    /// Directory for the drives and the baseline files (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// What a figure is expected to reach.
#[derive(Clone, Copy)]
enum Target {
    /// The tessera figure is at least this.
    AtLeast(f64),
    /// The tessera figure is below this.
    Below(f64),
    /// The tessera figure is at most this.
    AtMost(f64),
    /// tessera / baseline is at least this.
    RatioAtLeast(f64),
    /// tessera / baseline is at most this (times: lower is better).
    RatioAtMost(f64),
}

/// One line of the summary: a figure, its baseline `(name, value)` if there is one, and
/// maybe a target.
struct Row {
    measure: String,
    unit: &'static str,
    value: f64,
    base: Option<(&'static str, f64)>,
    target: Option<Target>,
}

impl Row {
    fn new(
        measure: String,
        unit: &'static str,
        value: f64,
        base: impl Into<Option<(&'static str, f64)>>,
    ) -> Row {
        let (base, target) = (base.into(), None);
        Row {
            measure,
            unit,
            value,
            base,
            target,
        }
    }

    fn target(mut self, target: Option<Target>) -> Row {
        self.target = target;
        self
    }

    fn print(&self) {
        let ratio = self.base.map(|(_, b)| self.value / b);
        let target = self.target.map_or(String::new(), |t| {
            let (text, met) = match t {
                Target::AtLeast(v) => (format!("≥ {v} {}", self.unit), Some(self.value >= v)),
                Target::Below(v) => (format!("< {v} {}", self.unit), Some(self.value < v)),
                Target::AtMost(v) => (format!("≤ {v} {}", self.unit), Some(self.value <= v)),
                Target::RatioAtLeast(v) => (format!("ratio ≥ {v}"), ratio.map(|r| r >= v)),
                Target::RatioAtMost(v) => (format!("ratio ≤ {v}"), ratio.map(|r| r <= v)),
            };
            let met = match met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "no baseline",
            };
            format!("{text}: {met}")
        });
        let (m, u, v) = (&self.measure, self.unit, num(self.value));
        let (base, ratio) = match (self.base, ratio) {
            (Some((bn, b)), Some(r)) => (format!("{} {u} ({bn})", num(b)), format!("{r:.2}")),
            _ => ("no baseline".into(), "–".into()),
        };
        println!("| {m} | {v} {u} | {base} | {ratio} | {target} |");
    }
}

/// A table cell of a figure in `unit`, or "–" for one not measured.
fn cell(v: Option<f64>, unit: &str) -> String {
    v.map_or("–".into(), |v| format!("{} {unit}", num(v)))
}

/// A table cell of a ratio, or "–" for one without both figures.
fn ratio_cell(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{r:.2}"))
}

fn num(v: f64) -> String {
    match v {
        v if v >= 100.0 => format!("{v:.0}"),
        v if v >= 10.0 => format!("{v:.1}"),
        v if v >= 1.0 => format!("{v:.2}"),
        v => format!("{v:.3}"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let node_bin = std::env::current_exe()?.with_file_name("tessera-test-node");
    ensure!(
        node_bin.exists(),
        "{} is missing: run `cargo build --release -p tessera-tests --bins` first",
        node_bin.display()
    );
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new()
        .prefix("tessera-bench-")
        .tempdir_in(&base)
        .with_context(|| format!("temp dir in {}", base.display()))?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let dir = tmp.path();
    println!("tessera-bench ({cores} cores) in {}", dir.display());

    let mut rows = Vec::new();
    if args.codec_ms > 0 {
        eprintln!("codec ...");
        rows.extend(codec::codec_rows(Duration::from_millis(args.codec_ms))?);
    }
    if args.large_mib > 0 || args.small_ops > 0 {
        let node = start_node(&node_bin, &dir.join("n"))?;
        let mut client = node.client().await;
        grpc::create_bucket(&mut client).await?;
        if args.large_mib > 0 {
            eprintln!("large ...");
            rows.extend(grpc::large_rows(&mut client, dir, args.large_mib * MIB).await?);
        }
        if args.small_ops > 0 {
            eprintln!("small ...");
            let per = args.small_ops.div_ceil(args.clients.max(1));
            rows.extend(grpc::small_rows(&node, dir, per, args.clients).await?);
        }
    }
    let mut notes = Vec::new();
    if args.s3_large_mib > 0 || args.s3_small_ops > 0 {
        eprintln!("s3 ...");
        let s3 = s3::Config {
            large: args.s3_large_mib * MIB,
            small_per_client: args.s3_small_ops.div_ceil(args.clients.max(1)),
            clients: args.clients.max(1),
            s3s_fs: args.s3s_fs.clone().unwrap_or_else(s3::default_s3s_fs),
        };
        let node = start_node(&node_bin, &dir.join("s"))?;
        let (s3_rows, note) = s3::rows(&node, dir, &s3).await?;
        rows.extend(s3_rows);
        notes.extend(note);
    }
    if args.tls_mib > 0 || args.tls_small_ops > 0 {
        eprintln!("s3 over TLS ...");
        let cfg = s3_tls::Config {
            large: args.tls_mib * MIB,
            small_per_client: args.tls_small_ops.div_ceil(args.clients.max(1)),
            clients: args.clients.max(1),
        };
        rows.extend(s3_tls::rows(&node_bin, dir, &cfg).await?);
    }
    if args.scrape_small_ops > 0 {
        eprintln!("metrics scraped ...");
        let per = args.scrape_small_ops.div_ceil(args.clients.max(1));
        let clients = args.clients.max(1);
        rows.extend(scrape::rows(&node_bin, &dir.join("scrape"), per, clients).await?);
    }
    if args.versions_small_ops > 0 || args.versions_keys > 0 {
        eprintln!("versions ...");
        let per = args.versions_small_ops.div_ceil(args.clients.max(1));
        let clients = args.clients.max(1);
        let keys = args.versions_keys;
        let dir = dir.join("versions");
        rows.extend(versions::rows(&node_bin, &dir, per, clients, keys).await?);
    }
    if args.health_mib > 0 {
        eprintln!("health ...");
        let node = start_node(&node_bin, &dir.join("h"))?;
        rows.extend(health::rows(&node, args.health_mib * MIB).await?);
    }
    if args.rss_mib > 0 {
        eprintln!("rss ...");
        let node = start_node(&node_bin, &dir.join("r"))?;
        rows.extend(grpc::rss_rows(&node, args.rss_mib * MIB).await?);
    }

    if args.cluster_mib > 0 || args.cluster_small_ops > 0 {
        eprintln!("cluster ...");
        let cfg = cluster::Config {
            large: (args.cluster_mib * MIB).max(4 * MIB),
            small_per_client: args.cluster_small_ops.div_ceil(args.clients.max(1)).max(1),
            clients: args.clients.max(1),
        };
        rows.extend(cluster::rows(&node_bin, dir, &cfg).await?);
    }

    let mut fuse_figures = Vec::new();
    if args.fuse_mib > 0
        || args.fuse_ls_files > 0
        || args.fuse_tar_files > 0
        || args.fuse_rss_mib > 0
    {
        eprintln!("fuse ...");
        let cfg = fuse::Config {
            seq: args.fuse_mib * MIB,
            ls_files: args.fuse_ls_files,
            tar_files: args.fuse_tar_files,
            rss: args.fuse_rss_mib * MIB,
            mount_bin: node_bin.with_file_name("tessera-test-mount"),
            s3fs: args.s3fs.clone(),
        };
        let (figures, note) = fuse::figures(&node_bin, dir, &cfg).await?;
        fuse_figures = figures;
        notes.extend(note);
    }

    let mut meta_figures = Vec::new();
    let meta = fuse_meta::Config {
        tar_files: args.meta_files,
        stat_files: args.meta_stat_files,
        rm_files: args.meta_rm_files,
        random_reads: args.meta_random_reads,
        git_files: args.meta_git_files,
        mount_bin: node_bin.with_file_name("tessera-test-mount"),
        s3fs: args.s3fs.clone(),
    };
    if meta.any() {
        eprintln!("fuse metadata ...");
        let (figures, note) = fuse_meta::figures(&node_bin, dir, &meta).await?;
        meta_figures = figures;
        notes.extend(note);
    }

    if !rows.is_empty() {
        println!("\n| measure | tessera | baseline | ratio | target |");
        println!("|---|---|---|---|---|");
        for row in &rows {
            row.print();
        }
    }
    if !fuse_figures.is_empty() {
        fuse::print(&fuse_figures);
    }
    if !meta_figures.is_empty() {
        fuse_meta::print(&meta_figures);
    }
    for note in &notes {
        println!("\n{note}");
    }
    Ok(())
}

/// A node on 4 fresh drives under `dir` (so 2+2).
fn start_node(bin: &Path, dir: &Path) -> anyhow::Result<Node> {
    std::fs::create_dir_all(dir)?;
    Ok(Node::start(bin, Node::drive_paths(dir, 4), &[]))
}
