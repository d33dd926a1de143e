//! The versioning section, on one fresh 4-drive node: 4 KiB S3 PUTs and GETs on a versioned
//! bucket beside an unversioned one (the scraped section's timed 5 s phases and clients;
//! rounds alternate, three of each, best kept; every versioned PUT adds a version, so the
//! versioned keys end with several each), target ≥ 0.85×; and ListObjectVersions of a
//! prefix of `--versions-keys` keys × 5 versions in pages of 1000, beside ListObjectsV2 of
//! the same keys in pages of 1000, target ≤ 6× its time (cost follows what is listed).

use http::Method;

use super::s3::{S3Client, small, small_objects};
use super::scrape::phase;
use super::*;

const WINDOW: Duration = Duration::from_secs(5);
const ROUNDS: usize = 3;
/// Versions of each listed key.
const VERSIONS: usize = 5;

const ENABLE: &str = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";

/// The text between `<tag>` and `</tag>` at its first occurrence.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// Percent-encodes a query value.
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Lists `prefix` to its end in pages of 1000 (versions, or current objects); returns the
/// entries seen and the seconds it took.
async fn list_all(c: &S3Client, prefix: &str, versions: bool) -> anyhow::Result<(usize, f64)> {
    let start = Instant::now();
    let (mut seen, mut next) = (0, None::<(String, String)>);
    loop {
        let mut query = match versions {
            true => format!("?versions&max-keys=1000&prefix={}", enc(prefix)),
            false => format!("?list-type=2&max-keys=1000&prefix={}", enc(prefix)),
        };
        match (&next, versions) {
            (Some((k, v)), true) => {
                query += &format!("&key-marker={}&version-id-marker={}", enc(k), enc(v));
            }
            (Some((token, _)), false) => query += &format!("&continuation-token={}", enc(token)),
            (None, _) => {}
        }
        let xml = c.request_text(Method::GET, &query, "").await?;
        seen += xml.matches("<Key>").count();
        if element(&xml, "IsTruncated") != Some("true") {
            return Ok((seen, start.elapsed().as_secs_f64()));
        }
        next = Some(match versions {
            true => (
                element(&xml, "NextKeyMarker")
                    .unwrap_or_default()
                    .to_string(),
                element(&xml, "NextVersionIdMarker")
                    .unwrap_or_default()
                    .to_string(),
            ),
            false => (
                element(&xml, "NextContinuationToken")
                    .unwrap_or_default()
                    .to_string(),
                String::new(),
            ),
        });
    }
}

pub(super) async fn rows(
    bin: &Path,
    dir: &Path,
    per_client: usize,
    clients: usize,
    keys: usize,
) -> anyhow::Result<Vec<Row>> {
    std::fs::create_dir_all(dir)?;
    let node = Node::start(bin, Node::drive_paths(dir, 4), &[]);
    let plain = S3Client::new(node.addr, "plain");
    let versioned = S3Client::new(node.addr, "versioned");
    plain.create_bucket().await.context("create bucket")?;
    versioned.create_bucket().await.context("create bucket")?;
    versioned
        .request_text(Method::PUT, "?versioning", ENABLE)
        .await?;
    let mut out = Vec::new();
    if per_client > 0 {
        let objects = Arc::new(small_objects(clients, per_client));
        let pools: Vec<Vec<S3Client>> = [&plain, &versioned]
            .iter()
            .map(|c| objects.iter().map(|_| c.fresh()).collect())
            .collect();
        for (client, pool) in [&plain, &versioned].into_iter().zip(&pools) {
            futures::future::try_join_all(pool.iter().map(S3Client::head_bucket)).await?;
            let (_, gets) = small(client, &objects).await?;
            ensure!(gets.ops > 0.0, "no object read back");
        }
        // [plain, versioned] × [PUT, GET]: the best ops/s of the rounds.
        let mut best = [[0f64; 2]; 2];
        for round in 0..2 * ROUNDS {
            let side = round % 2;
            let put = phase(&pools[side], &objects, true, WINDOW).await?;
            let get = phase(&pools[side], &objects, false, WINDOW).await?;
            best[side][0] = best[side][0].max(put);
            best[side][1] = best[side][1].max(get);
        }
        for (i, op) in ["PUT", "GET"].into_iter().enumerate() {
            let name = format!("S3 4 KiB {op} x{clients} on a versioned bucket");
            let row = Row::new(name, "ops/s", best[1][i], Some(("unversioned", best[0][i])));
            out.push(row.target(Some(Target::RatioAtLeast(0.85))));
        }
    }
    if keys > 0 {
        let body = Bytes::from_static(b"v");
        let md5 = tessera_tests::md5_hex(&body);
        let writers: Vec<S3Client> = (0..clients).map(|_| versioned.fresh()).collect();
        for _ in 0..VERSIONS {
            let per = keys.div_ceil(clients);
            let jobs = writers.iter().enumerate().map(|(w, c)| {
                let (body, md5) = (body.clone(), md5.clone());
                async move {
                    for i in (w * per..((w + 1) * per).min(keys)).map(|i| format!("l/k{i:06}")) {
                        c.put(&i, body.clone(), &md5).await?;
                    }
                    anyhow::Ok(())
                }
            });
            futures::future::try_join_all(jobs).await?;
        }
        // Warm both listings once, then the best of three each.
        list_all(&versioned, "l/", false).await?;
        list_all(&versioned, "l/", true).await?;
        let (mut objects, mut versions) = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            let (n, t) = list_all(&versioned, "l/", false).await?;
            ensure!(n == keys, "ListObjectsV2 saw {n} keys of {keys}");
            objects = objects.min(t);
            let (n, t) = list_all(&versioned, "l/", true).await?;
            ensure!(
                n == keys * VERSIONS,
                "ListObjectVersions saw {n} of {}",
                keys * VERSIONS
            );
            versions = versions.min(t);
        }
        let name =
            format!("ListObjectVersions of {keys} keys x {VERSIONS} versions, pages of 1000");
        let row = Row::new(
            name,
            "s",
            versions,
            Some(("ListObjectsV2 of the keys", objects)),
        );
        out.push(row.target(Some(Target::RatioAtMost(6.0))));
    }
    Ok(out)
}
