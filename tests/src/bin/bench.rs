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
//! 5. Peak server RSS (VmRSS polled every 20 ms, and VmHWM) during a PUT and then a GET of
//!    `--rss-mib` on a fresh node. Baseline: that node's idle RSS.
//!
//! This is a program, not a test: it never asserts on time, it only reports. It fails only
//! when something does not work (a node that will not start, a GET with the wrong bytes).
//! Run `cargo build --release -p tessera-tests --bins` first: it builds the node it starts.

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

#[path = "bench/s3.rs"]
mod s3;

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
    /// The s3s-fs binary, the S3 baseline [default: $HOME/.cache/s3s-fs/bin/s3s-fs].
    #[arg(long)]
    s3s_fs: Option<PathBuf>,
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
        rows.extend(codec_rows(Duration::from_millis(args.codec_ms))?);
    }
    if args.large_mib > 0 || args.small_ops > 0 {
        let node = start_node(&node_bin, &dir.join("n"))?;
        let mut client = node.client().await;
        create_bucket(&mut client).await?;
        if args.large_mib > 0 {
            eprintln!("large ...");
            rows.extend(large_rows(&mut client, dir, args.large_mib * MIB).await?);
        }
        if args.small_ops > 0 {
            eprintln!("small ...");
            let per = args.small_ops.div_ceil(args.clients.max(1));
            rows.extend(small_rows(&node, dir, per, args.clients).await?);
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
    if args.rss_mib > 0 {
        eprintln!("rss ...");
        let node = start_node(&node_bin, &dir.join("r"))?;
        rows.extend(rss_rows(&node, args.rss_mib * MIB).await?);
    }

    println!("\n| measure | tessera | baseline | ratio | target |");
    println!("|---|---|---|---|---|");
    for row in &rows {
        row.print();
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

/// GB/s (1e9 bytes/s) of `op` handling `bytes` per call: the best of three runs of `each`.
fn gbps(bytes: usize, each: Duration, mut op: impl FnMut()) -> f64 {
    for _ in 0..4 {
        op();
    }
    let run = |_| {
        let (start, mut n) = (Instant::now(), 0u64);
        while start.elapsed() < each {
            for _ in 0..8 {
                op();
            }
            n += 8;
        }
        (n * bytes as u64) as f64 / start.elapsed().as_secs_f64() / 1e9
    };
    (0..3).map(run).fold(0.0, f64::max)
}

fn codec_rows(each: Duration) -> anyhow::Result<Vec<Row>> {
    let block = pattern(BLOCK_SIZE, 1);
    let mut dst = vec![0u8; BLOCK_SIZE];
    let memcpy = ("memcpy", {
        gbps(BLOCK_SIZE, each, || {
            dst.copy_from_slice(black_box(&block));
            black_box(&mut dst);
        })
    });
    let mut out = Vec::new();
    for (k, m) in [(2, 2), (4, 2), (8, 4), (12, 4)] {
        let codec = Codec::new(k, m)?;
        let rs = ReedSolomon::new(k, m).map_err(|e| anyhow!("{k}+{m}: {e:?}"))?;
        let framed = gbps(BLOCK_SIZE, each, || {
            black_box(codec.encode_block(black_box(&block)).expect("encode"));
        });
        // The unframed shards: the block split and padded, then parity.
        let frames = codec.encode_block(&block)?;
        let unframed: Vec<Vec<u8>> = frames.iter().map(|f| f[8..].to_vec()).collect();
        let mut shards = unframed.clone();
        let raw = gbps(BLOCK_SIZE, each, || {
            rs.encode(black_box(&mut shards)).expect("encode");
        });

        // Reconstruct with the first m shards (data shards) lost: through the codec ...
        let mut present: Vec<Option<Vec<u8>>> = unframed.iter().cloned().map(Some).collect();
        present[..m].fill(None);
        codec.reconstruct_data(&mut present)?;
        let rebuilt: Vec<u8> = present[..k].iter().flatten().flatten().copied().collect();
        ensure!(rebuilt[..BLOCK_SIZE] == block[..], "{k}+{m}: bad rebuild");
        let rec = gbps(BLOCK_SIZE, each, || {
            present[..m].fill(None);
            codec
                .reconstruct_data(black_box(&mut present))
                .expect("reconstruct");
        });
        // ... and raw, into buffers allocated once.
        let raw_rec = gbps(BLOCK_SIZE, each, || {
            let mut slices: Vec<(&mut [u8], bool)> = shards
                .iter_mut()
                .enumerate()
                .map(|(i, b)| (&mut b[..], i >= m))
                .collect();
            rs.reconstruct_data(black_box(&mut slices))
                .expect("reconstruct");
        });

        let goal = ((k, m) == (8, 4)).then_some(Target::AtLeast(10.0));
        let figures = [
            ("encode, Codec (frames+xxh3)", framed, goal),
            ("encode, raw crate", raw, goal),
            ("reconstruct (lost), Codec", rec, None),
            ("reconstruct (lost), raw crate", raw_rec, None),
        ];
        for (what, v, goal) in figures {
            let what = what.replace("lost", &format!("{m} data shards lost"));
            out.push(Row::new(format!("RS {k}+{m} {what}"), "GB/s", v, memcpy).target(goal));
        }
    }
    Ok(out)
}

async fn create_bucket(client: &mut ObjectClient) -> anyhow::Result<()> {
    let bucket = BUCKET.into();
    client.create_bucket(CreateBucketRequest { bucket }).await?;
    Ok(())
}

async fn put<R>(client: &mut ObjectClient, key: String, size: usize, body: R) -> anyhow::Result<()>
where
    R: AsyncRead + Send + 'static,
{
    let (bucket, size64) = (BUCKET.into(), size as u64);
    let header = PutObjectHeader {
        bucket,
        key: key.clone(),
        attributes: None,
        size: Some(size64),
    };
    let stored = client.put_object(put_requests(header, body)).await?;
    ensure!(stored.get_ref().size == size64, "PUT {key}: size differs");
    Ok(())
}

/// GETs `key`, checking its bytes against `expect` when given; returns its length.
async fn get(
    client: &mut ObjectClient,
    key: String,
    expect: Option<Bytes>,
) -> anyhow::Result<usize> {
    let req = GetObjectRequest {
        bucket: BUCKET.into(),
        key: key.clone(),
        range: None,
    };
    let mut stream = client.get_object(req).await?.into_inner();
    let mut got = 0;
    while let Some(msg) = stream.message().await? {
        if let Some(get_object_response::Msg::Data(data)) = msg.msg {
            let want = expect.as_ref().map(|e| e.get(got..got + data.len()));
            ensure!(want.is_none_or(|w| w == Some(&data)), "GET {key}: bad data");
            got += data.len();
        }
    }
    ensure!(expect.is_none_or(|e| e.len() == got), "GET {key}: short");
    Ok(got)
}

fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

/// Empties the page cache (root only), so the next reads come from the disk.
fn drop_caches() -> bool {
    let synced = std::process::Command::new("sync")
        .status()
        .is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// Durations of the plain-file baseline.
struct Plain {
    write: Duration,
    read: Duration,
    /// A read after the page cache was dropped, when that is allowed.
    cold_read: Option<Duration>,
}

fn read_back(file: &Path, len: usize) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let (mut input, mut buf, mut at) = (std::fs::File::open(file)?, vec![0u8; MIB], 0);
    while let n @ 1.. = input.read(&mut buf)? {
        at += n;
    }
    ensure!(at == len, "plain read: short");
    Ok(start.elapsed())
}

/// Writes `data` to `file` and fsyncs it, then reads it back warm and cold (unchecked).
fn plain_write_read(file: &Path, data: &[u8]) -> anyhow::Result<Plain> {
    let start = Instant::now();
    let mut out = std::fs::File::create(file)?;
    for chunk in data.chunks(MIB) {
        out.write_all(chunk)?;
    }
    out.sync_all()?;
    let write = start.elapsed();
    let read = read_back(file, data.len())?;
    let cold_read = if drop_caches() {
        Some(read_back(file, data.len())?)
    } else {
        None
    };
    std::fs::remove_file(file)?;
    Ok(Plain {
        write,
        read,
        cold_read,
    })
}

async fn large_rows(
    client: &mut ObjectClient,
    dir: &Path,
    size: usize,
) -> anyhow::Result<Vec<Row>> {
    let payload = Bytes::from(pattern(size, 7));
    let (p, file) = (payload.clone(), dir.join("plain-large"));
    let plain = tokio::task::spawn_blocking(move || plain_write_read(&file, &p)).await??;

    let start = Instant::now();
    let body = std::io::Cursor::new(payload.clone());
    put(client, "large".into(), size, body).await?;
    let put_t = start.elapsed();
    let start = Instant::now();
    get(client, "large".into(), Some(payload.clone())).await?;
    let get_t = start.elapsed();
    let mib = size / MIB;
    let (w, r) = (mib_per_s(size, plain.write), mib_per_s(size, plain.read));
    let (put, get_warm) = (mib_per_s(size, put_t), mib_per_s(size, get_t));
    let (pw, pr) = (("file write+fsync", w), ("file read, page cache", r));
    let (put_goal, get_goal) = (Target::RatioAtLeast(0.3), Target::RatioAtLeast(0.5));
    let mut rows =
        vec![Row::new(format!("gRPC PUT {mib} MiB"), "MiB/s", put, pw).target(Some(put_goal))];
    // Disk against disk: both reads start with an empty page cache.
    match plain.cold_read {
        Some(cold) if drop_caches() => {
            let start = Instant::now();
            get(client, "large".into(), Some(payload)).await?;
            let get_cold = mib_per_s(size, start.elapsed());
            let base = ("file read, cold cache", mib_per_s(size, cold));
            rows.push(
                Row::new(format!("gRPC GET {mib} MiB, cold"), "MiB/s", get_cold, base)
                    .target(Some(get_goal)),
            );
            rows.push(Row::new(
                format!("gRPC GET {mib} MiB, warm"),
                "MiB/s",
                get_warm,
                pr,
            ));
        }
        _ => rows.push(
            Row::new(format!("gRPC GET {mib} MiB"), "MiB/s", get_warm, pr).target(Some(get_goal)),
        ),
    }
    Ok(rows)
}

/// Ops/s, p50 and p99 (ms) of one phase of 4 KiB operations.
struct Phase {
    ops: f64,
    p50: f64,
    p99: f64,
}

impl Phase {
    fn new(wall: Duration, mut lat: Vec<Duration>) -> Phase {
        lat.sort();
        let at = |q: usize| lat[(lat.len() * q / 100).min(lat.len() - 1)].as_secs_f64() * 1e3;
        Phase {
            ops: lat.len() as f64 / wall.as_secs_f64(),
            p50: at(50),
            p99: at(99),
        }
    }

    fn rows(&self, name: &str, b: &'static str, base: &Phase) -> [Row; 3] {
        [
            ("", "ops/s", self.ops, base.ops),
            (" p50", "ms", self.p50, base.p50),
            (" p99", "ms", self.p99, base.p99),
        ]
        .map(|(q, unit, v, bv)| Row::new(format!("4 KiB {name}{q}"), unit, v, (b, bv)))
    }
}

/// `threads` threads each writing+fsyncing (or reading back) `per` 4 KiB files.
fn plain_small(
    dir: &Path,
    threads: usize,
    per: usize,
    body: &[u8],
    write: bool,
) -> anyhow::Result<Phase> {
    let start = Instant::now();
    let lat = std::thread::scope(|s| {
        let one = |t: usize| -> anyhow::Result<Vec<Duration>> {
            let dir = dir.join(format!("t{t}"));
            std::fs::create_dir_all(&dir)?;
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let (op, f) = (Instant::now(), dir.join(format!("f{i}")));
                if write {
                    let mut out = std::fs::File::create(&f)?;
                    out.write_all(body)?;
                    out.sync_all()?;
                } else {
                    ensure!(std::fs::read(&f)? == body, "plain read of {}", f.display());
                }
                lat.push(op.elapsed());
            }
            Ok(lat)
        };
        let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || one(t))).collect();
        let joined = handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("thread panicked"))?);
        joined.collect::<anyhow::Result<Vec<_>>>()
    })?;
    Ok(Phase::new(start.elapsed(), lat.concat()))
}

/// One client per connection, each doing `per` PUTs (or GETs) of 4 KiB in turn.
async fn tessera_small(
    conns: &[ObjectClient],
    per: usize,
    body: &Bytes,
    write: bool,
) -> anyhow::Result<Phase> {
    let start = Instant::now();
    let clients = conns.iter().enumerate().map(|(c, client)| {
        let (mut client, body) = (client.clone(), body.clone());
        async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let (op, key) = (Instant::now(), format!("small/c{c}/o{i}"));
                if write {
                    put(&mut client, key, SMALL, std::io::Cursor::new(body.clone())).await?;
                } else {
                    get(&mut client, key, Some(body.clone())).await?;
                }
                lat.push(op.elapsed());
            }
            anyhow::Ok(lat)
        }
    });
    // Polled together on this task: `tokio::spawn` needs a `Send` proof that rustc cannot
    // make for tonic's client-streaming future ("higher-ranked lifetime error").
    let lat = futures::future::try_join_all(clients).await?.concat();
    Ok(Phase::new(start.elapsed(), lat))
}

async fn small_rows(
    node: &Node,
    dir: &Path,
    per: usize,
    clients: usize,
) -> anyhow::Result<Vec<Row>> {
    let body = Bytes::from(pattern(SMALL, 11));
    let files = dir.join("plain-small");
    let plain_put = plain_small(&files, clients, per, &body, true)?;
    let plain_get = plain_small(&files, clients, per, &body, false)?;
    std::fs::remove_dir_all(&files)?;
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(node.client().await);
    }
    let put = tessera_small(&conns, per, &body, true).await?;
    let get = tessera_small(&conns, per, &body, false).await?;
    let mut out = Vec::from(put.rows(&format!("PUT x{clients}"), "file write+fsync", &plain_put));
    out.extend(get.rows(&format!("GET x{clients}"), "file read", &plain_get));
    Ok(out)
}

/// A `/proc/<pid>/status` field (`VmRSS:`, `VmHWM:`), in MiB.
fn status_mib(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find_map(|l| l.strip_prefix(field));
    let kib = line
        .context("no such field")?
        .trim()
        .trim_end_matches(" kB");
    let kib: f64 = kib.parse()?;
    Ok(kib / 1024.0)
}

/// Runs `work` while a thread polls VmRSS of `pid` every 20 ms; returns the peak (MiB).
async fn peak_rss<T>(
    pid: u32,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let poller = std::thread::spawn(move || {
        let mut peak = 0.0f64;
        while !flag.load(Ordering::Relaxed) {
            peak = peak.max(status_mib(pid, "VmRSS:").unwrap_or(0.0));
            std::thread::sleep(Duration::from_millis(20));
        }
        peak.max(status_mib(pid, "VmRSS:").unwrap_or(0.0))
    });
    let done = work.await;
    stop.store(true, Ordering::Relaxed);
    let peak = poller.join().map_err(|_| anyhow!("RSS poller panicked"))?;
    done.map(|_| peak)
}

async fn rss_rows(node: &Node, size: usize) -> anyhow::Result<Vec<Row>> {
    let pid = node.pid().context("the node has no process")?;
    let mut client = node.client().await;
    create_bucket(&mut client).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = ("idle VmRSS", status_mib(pid, "VmRSS:")?);
    // Content does not change the server's work (no compression, no dedup): a generator
    // keeps the client from holding the whole object.
    let body = tokio::io::repeat(0x5a).take(size as u64);
    let put_peak = peak_rss(pid, put(&mut client, "rss".into(), size, body)).await?;
    let put_hwm = status_mib(pid, "VmHWM:")?;
    let get_peak = peak_rss(pid, async {
        let got = get(&mut client, "rss".into(), None).await?;
        ensure!(got == size, "GET rss: {got} bytes of {size}");
        Ok(())
    })
    .await?;
    let get_hwm = status_mib(pid, "VmHWM:")?;
    // VmHWM also catches a spike between two polls; on a fresh node it covers startup too.
    let mib = size / MIB;
    let (put_m, get_m) = (put_peak.max(put_hwm), get_peak.max(get_hwm));
    let put = format!("server peak RSS, {mib} MiB PUT (polled {put_peak:.0}, VmHWM {put_hwm:.0})");
    let get = format!("server peak RSS, {mib} MiB GET (polled {get_peak:.0}, VmHWM {get_hwm:.0})");
    let goal = Some(Target::Below(128.0));
    Ok(vec![
        Row::new(put, "MiB", put_m, idle).target(goal),
        Row::new(get, "MiB", get_m, idle),
    ])
}
