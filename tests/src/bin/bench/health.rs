//! The health section: how long `GET /health/ready` takes on a fresh node while a large
//! gRPC PUT streams into it (`--health-mib`), against the same probes on the idle node in
//! the same run. Target: every answer under 10 ms (the checks read kept state, no drive
//! I/O, so a busy node answers at once).

use super::*;

/// One probe: connect, `GET /health/ready`, read the answer; its duration.
async fn probe(addr: std::net::SocketAddr) -> anyhow::Result<Duration> {
    use tokio::io::AsyncWriteExt;
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let req = format!("GET /health/ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    let took = start.elapsed();
    ensure!(answer.starts_with(b"HTTP/1.1 200"), "health: {answer:?}");
    Ok(took)
}

fn ms(mut v: Vec<Duration>, q: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1000.0
}

pub(super) async fn rows(node: &Node, size: usize) -> anyhow::Result<Vec<Row>> {
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(probe(node.addr).await?);
    }
    let mut client = node.client().await;
    grpc::create_bucket(&mut client).await?;
    let body = tokio::io::repeat(0x5a).take(size as u64);
    let done = AtomicBool::new(false);
    let load = async {
        let r = grpc::put(&mut client, "load".into(), size, body).await;
        done.store(true, Ordering::Release);
        r
    };
    let probes = async {
        let mut busy = Vec::new();
        while !done.load(Ordering::Acquire) {
            busy.push(probe(node.addr).await?);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        anyhow::Ok(busy)
    };
    let (put, busy) = tokio::join!(load, probes);
    put?;
    let busy = busy?;
    ensure!(
        !busy.is_empty(),
        "the PUT ended before a probe: raise --health-mib"
    );
    let n = busy.len();
    let row = |what: &str, q: f64, target: Option<Target>| {
        let measure = format!(
            "health ready {what}, during a {} MiB PUT ({n} probes)",
            size / MIB
        );
        Row::new(
            measure,
            "ms",
            ms(busy.clone(), q),
            ("idle", ms(idle.clone(), q)),
        )
        .target(target)
    };
    Ok(vec![
        row("p50", 0.5, None),
        row("p99", 0.99, None),
        row("max", 1.0, Some(Target::Below(10.0))),
    ])
}
