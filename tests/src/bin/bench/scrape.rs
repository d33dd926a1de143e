//! The metrics section: 4 KiB S3 PUTs and GETs from `--clients` clients (the S3 section's
//! client and workload) on a fresh 4-drive node started with `--metrics-public`, while
//! `GET /metrics` is scraped every second, beside the same rows without scraping, in the
//! same run. Rounds alternate (plain, scraped, plain, scraped) and the best of each is
//! kept, so a slow moment of the machine does not land on one side only. Target: the
//! scraped figures ≥ 0.97× the plain ones (counting must not show in the hot path).

use super::s3::{S3Client, small, small_objects};
use super::*;

const BUCKET: &str = "scrapebench";
/// How often the scraper asks.
const EVERY: Duration = Duration::from_secs(1);

/// One scrape: connect, `GET /metrics`, read the answer to its end.
async fn scrape(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    ensure!(answer.starts_with(b"HTTP/1.1 200"), "scrape refused");
    Ok(())
}

pub(super) async fn rows(
    bin: &Path,
    dir: &Path,
    per_client: usize,
    clients: usize,
) -> anyhow::Result<Vec<Row>> {
    std::fs::create_dir_all(dir)?;
    let node = Node::start(bin, Node::drive_paths(dir, 4), &["--metrics-public"]);
    let client = S3Client::new(node.addr, BUCKET);
    client.create_bucket().await.context("create bucket")?;
    let objects = Arc::new(small_objects(clients, per_client));
    // [plain, scraped] × [PUT, GET]: the best ops/s of the rounds.
    let mut best = [[0f64; 2]; 2];
    let mut scrapes = 0;
    for round in 0..4 {
        let scraped = round % 2 == 1;
        let stop = Arc::new(AtomicBool::new(false));
        let scraper = scraped.then(|| {
            let (stop, addr) = (stop.clone(), node.addr);
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Acquire) {
                    scrape(addr).await?;
                    n += 1;
                    tokio::time::sleep(EVERY).await;
                }
                anyhow::Ok(n)
            })
        });
        let (put, get) = small(&client, &objects).await?;
        stop.store(true, Ordering::Release);
        if let Some(scraper) = scraper {
            scrapes += scraper.await??;
        }
        let side = &mut best[usize::from(scraped)];
        side[0] = side[0].max(put.ops);
        side[1] = side[1].max(get.ops);
    }
    ensure!(scrapes > 0, "no scrape ran: raise --scrape-small-ops");
    let mut out = Vec::new();
    for (i, op) in ["PUT", "GET"].into_iter().enumerate() {
        let name = format!("S3 4 KiB {op} x{clients}, /metrics scraped every 1 s");
        let row = Row::new(name, "ops/s", best[1][i], Some(("not scraped", best[0][i])));
        out.push(row.target(Some(Target::RatioAtLeast(0.97))));
    }
    Ok(out)
}
