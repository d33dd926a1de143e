//! The metrics section: 4 KiB S3 PUTs and GETs from `--clients` clients (the S3 section's
//! client, each over its own connection, cycling over its share of `--scrape-small-ops`
//! objects) on a fresh 4-drive node started with `--metrics-public`, for 5 s per phase,
//! while `GET /metrics` is scraped every second, beside the same phases without scraping,
//! in the same run. Rounds alternate (plain, scraped, three of each) and the best of each
//! is kept, so a slow moment of the machine does not land on one side only. Target: the
//! scraped figures ≥ 0.97× the plain ones (counting must not show in the hot path).

use super::s3::{self, S3Client, small, small_objects};
use super::*;

const BUCKET: &str = "scrapebench";
/// How often the scraper asks.
const EVERY: Duration = Duration::from_secs(1);
/// How long each timed phase (PUTs, then GETs) runs.
const WINDOW: Duration = Duration::from_secs(5);
/// Rounds of each kind (plain, scraped), alternating.
const ROUNDS: usize = 3;

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

/// Ops/s of `clients` each PUTting (or GETting) its objects in turn, round and round,
/// for `window`; every GET's body is compared.
pub(super) async fn phase(
    clients: &[S3Client],
    objects: &Arc<Vec<Vec<(Bytes, String)>>>,
    write: bool,
    window: Duration,
) -> anyhow::Result<f64> {
    s3::sync();
    let start = Instant::now();
    let workers: Vec<_> = (clients.iter().enumerate())
        .map(|(c, client)| {
            let (client, objects) = (client.clone(), objects.clone());
            tokio::spawn(async move {
                let mut done = 0usize;
                while start.elapsed() < window {
                    let i = done % objects[c].len();
                    let (body, md5) = &objects[c][i];
                    let key = format!("small/c{c}/o{i}");
                    if write {
                        client.put(&key, body.clone(), md5).await?;
                    } else {
                        client.get(&key, body).await?;
                    }
                    done += 1;
                }
                anyhow::Ok(done)
            })
        })
        .collect();
    let mut ops = 0;
    for worker in workers {
        ops += worker.await??;
    }
    Ok(ops as f64 / start.elapsed().as_secs_f64())
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
    let pool: Vec<S3Client> = objects.iter().map(|_| client.fresh()).collect();
    futures::future::try_join_all(pool.iter().map(S3Client::head_bucket)).await?;
    // Every object exists before the first timed GET (and the node is warm).
    let (_, gets) = small(&client, &objects).await?;
    ensure!(gets.ops > 0.0, "no object read back");
    // [plain, scraped] × [PUT, GET]: the best ops/s of the rounds.
    let mut best = [[0f64; 2]; 2];
    let mut scrapes = 0;
    for round in 0..2 * ROUNDS {
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
        let put = phase(&pool, &objects, true, WINDOW).await?;
        let get = phase(&pool, &objects, false, WINDOW).await?;
        stop.store(true, Ordering::Release);
        if let Some(scraper) = scraper {
            scrapes += scraper.await??;
        }
        let side = &mut best[usize::from(scraped)];
        side[0] = side[0].max(put);
        side[1] = side[1].max(get);
    }
    ensure!(scrapes > 0, "no scrape ran");
    let mut out = Vec::new();
    for (i, op) in ["PUT", "GET"].into_iter().enumerate() {
        let name = format!("S3 4 KiB {op} x{clients}, /metrics scraped every 1 s");
        let row = Row::new(name, "ops/s", best[1][i], Some(("not scraped", best[0][i])));
        out.push(row.target(Some(Target::RatioAtLeast(0.97))));
    }
    Ok(out)
}
