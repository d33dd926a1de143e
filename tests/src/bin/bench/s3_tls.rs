//! S3 over TLS beside plain HTTP, in the same run: two fresh 4-drive nodes (2+2), one
//! plain and one serving a test CA's certificate (ECDSA P-256) from `--certs-dir`, driven
//! by the same client (`bench/s3.rs`'s: SigV4 with `UNSIGNED-PAYLOAD`, hyper HTTP/1.1, one
//! keep-alive connection per worker; rustls with ring for TLS, trusting the test CA):
//! - large: 2 clients at once each PUT an object of `--tls-mib`, then GET it back
//!   (MiB/s of both together); three rounds, plain and TLS in turn, the best of each kept;
//! - 4 KiB: `--clients` clients PUT their share of `--tls-small-ops` objects, then GET them;
//!   then the same over TLS with a user's key whose policy has ten statements (conditions
//!   on addresses, dates, prefixes; denies) beside the root key, which no policy is
//!   evaluated for (issue 21: ≥ 0.95, policy evaluation must not show).
//!
//! Plain runs first, then TLS, each timed phase after a `sync`. Ratio: TLS /
//! plain. Targets (issue 21): large ≥ 0.8, 4 KiB ≥ 0.7. Every body is compared and every
//! ETag checked, as in the S3 section.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use bytes::Bytes;
use tessera_tests::tls::TestCa;
use tessera_tests::{Node, md5_hex, pattern};

use super::s3::{S3Client, small, small_objects, sync};
use super::{MIB, Row, Target, mib_per_s};

const BUCKET: &str = "tlsbench";
const BASE: &str = "plain";
/// Clients of the large objects.
const LARGE_CLIENTS: usize = 2;
/// Rounds of the large PUT and GET (the best of each is kept).
const LARGE_ROUNDS: usize = 3;
/// Rounds of the 4 KiB PUT and GET with each key (the best of each is kept).
const POLICY_ROUNDS: usize = 4;

/// What the TLS section runs.
pub struct Config {
    /// Bytes of each client's large object (0 skips them).
    pub large: usize,
    /// 4 KiB objects each client PUTs and then GETs (0 skips them).
    pub small_per_client: usize,
    /// Concurrent clients for the 4 KiB objects.
    pub clients: usize,
}

/// The TLS rows, each against the same figure over plain HTTP.
pub async fn rows(node_bin: &Path, dir: &Path, cfg: &Config) -> anyhow::Result<Vec<Row>> {
    let ca = TestCa::new("Tessera bench CA");
    let certs = ca.certs_dir(&dir.join("tls-certs"));
    let trust = ca.client(&dir.join("tls-ca.pem"));
    let certs = certs.to_str().context("utf-8 temp path")?;
    let plain = start(node_bin, &dir.join("tp"), &[])?;
    let mut tls = start(node_bin, &dir.join("tt"), &["--certs-dir", certs])?;
    tls.set_tls(ca.client(&dir.join("tls-ca-cli.pem")));
    let ours = S3Client::with_tls(
        tls.addr,
        BUCKET,
        Some(Arc::new(trust.tls.config_without_alpn())),
    );
    let base = S3Client::new(plain.addr, BUCKET);
    ours.create_bucket().await.context("TLS: create bucket")?;
    base.create_bucket().await.context("plain: create bucket")?;

    let mut out = Vec::new();
    if cfg.large > 0 {
        let payloads: Vec<(Bytes, String)> = (0..LARGE_CLIENTS)
            .map(|i| {
                let body = pattern(cfg.large, 40 + i as u64);
                let md5 = md5_hex(&body);
                (Bytes::from(body), md5)
            })
            .collect();
        // Best of rounds alternating plain and TLS: one round of 64 MiB GETs lasts ~0.1 s.
        let (mut bp, mut bg, mut tp, mut tg) = (0f64, 0f64, 0f64, 0f64);
        for _ in 0..LARGE_ROUNDS {
            let (p, g) = large(&base, &payloads).await.context("plain")?;
            (bp, bg) = (bp.max(p), bg.max(g));
            let (p, g) = large(&ours, &payloads).await.context("TLS")?;
            (tp, tg) = (tp.max(p), tg.max(g));
        }
        let mib = cfg.large / MIB;
        for (op, v, b) in [("PUT", tp, bp), ("GET", tg, bg)] {
            let name = format!("S3 over TLS {op} {mib} MiB x{LARGE_CLIENTS}");
            let row = Row::new(name, "MiB/s", v, (BASE, b));
            out.push(row.target(Some(Target::RatioAtLeast(0.8))));
        }
    }
    if cfg.small_per_client > 0 {
        let objects = Arc::new(small_objects(cfg.clients, cfg.small_per_client));
        let (bp, bg) = small(&base, &objects).await.context("plain")?;
        let (tp, tg) = small(&ours, &objects).await.context("TLS")?;
        let n = cfg.clients;
        for (op, v, b) in [("PUT", tp, bp), ("GET", tg, bg)] {
            let name = format!("S3 over TLS 4 KiB {op} x{n}");
            let row = Row::new(name.clone(), "ops/s", v.ops, (BASE, b.ops));
            out.push(row.target(Some(Target::RatioAtLeast(0.7))));
            out.push(Row::new(format!("{name} p50"), "ms", v.p50, (BASE, b.p50)));
        }
        // Rounds of the two keys, which goes first alternating, each overwriting the
        // objects written before; the best of each kept (a phase lasts a second or less).
        let (access, secret) = policy_user(&tls, dir)?;
        let user = ours.with_key(&access, &secret);
        let (mut root_best, mut user_best) = ((0f64, 0f64), (0f64, 0f64));
        for round in 0..POLICY_ROUNDS {
            let mut turns = [(&ours, &mut root_best), (&user, &mut user_best)];
            if round % 2 == 1 {
                turns.reverse();
            }
            for (client, best) in turns {
                let (p, g) = small(client, &objects)
                    .await
                    .context("4 KiB, policy rows")?;
                *best = (best.0.max(p.ops), best.1.max(g.ops));
            }
        }
        let ((rp, rg), (up, ug)) = (root_best, user_best);
        for (op, v, b) in [("PUT", up, rp), ("GET", ug, rg)] {
            let name = format!("S3 over TLS 4 KiB {op} x{n}, ten-statement policy");
            let row = Row::new(name, "ops/s", v, ("root key", b));
            out.push(row.target(Some(Target::RatioAtLeast(0.95))));
        }
    }
    sync();
    Ok(out)
}

/// Ten statements, the last two of which allow the benchmark's calls; the others are
/// evaluated and do not match (other buckets, a condition that does not hold) or deny what
/// the benchmark does not do.
const TEN_STATEMENTS: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::logs"],
  "Condition":{"StringLike":{"s3:prefix":["2026/*","2027/*"]}}},
 {"Effect":"Deny","Action":["s3:DeleteObject"],"Resource":["arn:aws:s3:::tlsbench/protected/*"]},
 {"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::static/*"]},
 {"Effect":"Deny","Action":["s3:*"],"Resource":["arn:aws:s3:::secret","arn:aws:s3:::secret/*"]},
 {"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::uploads/${aws:username}/*"]},
 {"Effect":"Deny","Action":["s3:PutObject","s3:GetObject"],"Resource":["arn:aws:s3:::tlsbench/*"],
  "Condition":{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}},
 {"Effect":"Deny","Action":["s3:*"],"Resource":["arn:aws:s3:::tlsbench/*"],
  "Condition":{"Bool":{"aws:SecureTransport":"false"}}},
 {"Effect":"Allow","Action":["s3:ListAllMyBuckets","s3:GetBucketLocation"],"Resource":["arn:aws:s3:::*"]},
 {"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::tlsbench"],
  "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8"]}}},
 {"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":["arn:aws:s3:::tlsbench/small/*"],
  "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8"]}}}]}"#;

/// A user of `node` with the ten-statement policy: its access key and secret.
fn policy_user(node: &Node, dir: &Path) -> anyhow::Result<(String, String)> {
    let file = dir.join("ten-statements.json");
    std::fs::write(&file, TEN_STATEMENTS)?;
    let file = file.to_str().context("utf-8 temp path")?;
    let cli = |args: &[&str]| -> anyhow::Result<String> {
        let out = node.cli(args, None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        anyhow::ensure!(out.status.success(), "tessera {args:?}: {out:?}");
        Ok(text)
    };
    cli(&["admin", "policy", "add", "ten-statements", file])?;
    let said = cli(&[
        "admin",
        "user",
        "add",
        "bench",
        "--policy",
        "ten-statements",
    ])?;
    let line = |name: &str| {
        (said.lines())
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .with_context(|| format!("no {name} in {said}"))
    };
    Ok((line("Access Key:")?, line("Secret Key:")?))
}

/// A node on 4 fresh drives under `dir` with `args`.
fn start(bin: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<Node> {
    std::fs::create_dir_all(dir)?;
    Ok(Node::start(bin, Node::drive_paths(dir, 4), args))
}

/// MiB/s of all `payloads` PUT at once (one client each), then of their GETs at once.
async fn large(client: &S3Client, payloads: &[(Bytes, String)]) -> anyhow::Result<(f64, f64)> {
    let clients: Vec<S3Client> = payloads.iter().map(|_| client.fresh()).collect();
    futures::future::try_join_all(clients.iter().map(S3Client::head_bucket)).await?;
    let total: usize = payloads.iter().map(|(b, _)| b.len()).sum();
    let key = |i: usize| format!("large-{i}");
    sync();
    let start = Instant::now();
    let puts = clients
        .iter()
        .zip(payloads)
        .enumerate()
        .map(|(i, (c, (body, md5)))| async move { c.put(&key(i), body.clone(), md5).await });
    futures::future::try_join_all(puts).await?;
    let put = mib_per_s(total, start.elapsed());
    sync();
    let start = Instant::now();
    let gets = clients
        .iter()
        .zip(payloads)
        .enumerate()
        .map(|(i, (c, (body, _)))| async move { c.get(&key(i), body).await });
    futures::future::try_join_all(gets).await?;
    let get = mib_per_s(total, start.elapsed());
    Ok((put, get))
}
