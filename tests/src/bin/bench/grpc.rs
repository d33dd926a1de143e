//! The gRPC sections: a large object against plain-file writes and reads (warm and cold),
//! 4 KiB objects from concurrent clients against plain small files, and peak server RSS.

use super::*;

pub(super) async fn create_bucket(client: &mut ObjectClient) -> anyhow::Result<()> {
    let bucket = BUCKET.into();
    client.create_bucket(CreateBucketRequest { bucket }).await?;
    Ok(())
}

pub(super) async fn put<R>(
    client: &mut ObjectClient,
    key: String,
    size: usize,
    body: R,
) -> anyhow::Result<()>
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
pub(super) async fn get(
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

pub(super) fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

/// Empties the page cache (root only), so the next reads come from the disk.
pub(super) fn drop_caches() -> bool {
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

pub(super) async fn large_rows(
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
pub(super) struct Phase {
    pub(super) ops: f64,
    pub(super) p50: f64,
    pub(super) p99: f64,
}

impl Phase {
    pub(super) fn new(wall: Duration, mut lat: Vec<Duration>) -> Phase {
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
pub(super) async fn tessera_small(
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

pub(super) async fn small_rows(
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
pub(super) fn status_mib(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find_map(|l| l.strip_prefix(field));
    let kib = line
        .context("no such field")?
        .trim()
        .trim_end_matches(" kB");
    let kib: f64 = kib.parse()?;
    Ok(kib / 1024.0)
}

/// Runs `work` while a thread polls VmRSS of `pid` every 20 ms; returns its output and the
/// peak (MiB).
pub(super) async fn peak_rss<T>(
    pid: u32,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<(T, f64)> {
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
    done.map(|out| (out, peak))
}

pub(super) async fn rss_rows(node: &Node, size: usize) -> anyhow::Result<Vec<Row>> {
    let pid = node.pid().context("the node has no process")?;
    let mut client = node.client().await;
    create_bucket(&mut client).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = ("idle VmRSS", status_mib(pid, "VmRSS:")?);
    // Content does not change the server's work (no compression, no dedup): a generator
    // keeps the client from holding the whole object.
    let body = tokio::io::repeat(0x5a).take(size as u64);
    let (_, put_peak) = peak_rss(pid, put(&mut client, "rss".into(), size, body)).await?;
    let put_hwm = status_mib(pid, "VmHWM:")?;
    let (_, get_peak) = peak_rss(pid, async {
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
