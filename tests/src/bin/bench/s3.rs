//! The S3 figures: tessera's S3 front end against `s3s-fs`, in the same run on the same
//! file system.
//!
//! `s3s-fs` is a single-copy file-system S3 server on the same s3s front end: every object
//! is one file, written without fsync. Tessera writes (k+m)/k times the bytes (2× on a
//! 4-drive node) and fsyncs them. Both are driven by the same small client: SigV4 with
//! `UNSIGNED-PAYLOAD` (so bodies stream unhashed), path-style URLs, and hyper's pooled
//! HTTP/1.1 client with TCP_NODELAY and keep-alive, one client (one connection) per worker.
//!
//! Measured on tessera and then on s3s-fs, each timed phase after a `sync` so that it does
//! not pay for the dirty pages of the one before:
//! - PUT of one large object, streamed from memory in 1 MiB chunks; then GET of it,
//!   every byte compared (nothing drops the page cache in between);
//! - 4 KiB objects: every client PUTs its share of distinct objects in turn, then GETs
//!   them back, every body compared.
//!
//! Every PUT's ETag is checked against the body's MD5.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail, ensure};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tessera_tests::{Node, PASSWORD, USER, free_port, md5_hex, pattern};

use super::{MIB, Phase, Row, SMALL, Target, drop_caches, mib_per_s};

const BUCKET: &str = "s3bench";
const BASE: &str = "s3s-fs";
/// How to get the baseline binary at its default path.
const INSTALL: &str =
    "cargo install s3s-fs --version 0.14.1 --features binary --locked --root $HOME/.cache/s3s-fs";

/// What the S3 section runs.
pub struct Config {
    /// Bytes of the large object (0 skips it).
    pub large: usize,
    /// 4 KiB objects each client PUTs and then GETs (0 skips them).
    pub small_per_client: usize,
    /// Concurrent clients for the 4 KiB objects.
    pub clients: usize,
    /// The s3s-fs binary.
    pub s3s_fs: PathBuf,
}

/// `$HOME/.cache/s3s-fs/bin/s3s-fs`, where [`INSTALL`] puts it.
pub fn default_s3s_fs() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/s3s-fs/bin/s3s-fs")
}

/// The S3 rows (tessera on `node`, s3s-fs under `dir` as the baseline), and a note when
/// the baseline could not run.
pub async fn rows(
    node: &Node,
    dir: &Path,
    cfg: &Config,
) -> anyhow::Result<(Vec<Row>, Option<String>)> {
    let (baseline, note) = if cfg.s3s_fs.is_file() {
        let server = S3sFs::start(
            &cfg.s3s_fs,
            &dir.join("s3s-fs-root"),
            &dir.join("s3s-fs.log"),
        )?;
        (Some(server), None)
    } else {
        let note = format!(
            "No S3 baseline: {} is missing. Install s3s-fs with\n`{INSTALL}`\n\
             or pass its path with --s3s-fs.",
            cfg.s3s_fs.display()
        );
        eprintln!("{note}");
        (None, Some(note))
    };
    let ours = S3Client::new(node.addr, BUCKET);
    ours.create_bucket()
        .await
        .context("tessera: create bucket")?;
    let theirs = baseline.as_ref().map(|s| S3Client::new(s.addr, BUCKET));
    if let Some(c) = &theirs {
        c.create_bucket().await.context("s3s-fs: create bucket")?;
    }

    let mut out = Vec::new();
    if cfg.large > 0 {
        let payload = Bytes::from(pattern(cfg.large, 13));
        let md5 = md5_hex(&payload);
        let (put, get) = large(&ours, "large", &payload, &md5, false)
            .await
            .context("tessera")?;
        let base = match &theirs {
            Some(c) => Some(
                large(c, "large", &payload, &md5, false)
                    .await
                    .context("s3s-fs")?,
            ),
            None => None,
        };
        let mib = cfg.large / MIB;
        let figures = [
            ("PUT", put, base.map(|b| b.0), 0.5),
            ("GET", get, base.map(|b| b.1), 0.8),
        ];
        for (op, v, b, goal) in figures {
            let name = format!("S3 {op} {mib} MiB");
            let row = Row::new(name, "MiB/s", v, b.map(|b| (BASE, b)));
            out.push(row.target(Some(Target::RatioAtLeast(goal))));
        }
    }
    if cfg.small_per_client > 0 {
        let objects = Arc::new(small_objects(cfg.clients, cfg.small_per_client));
        let (put, get) = small(&ours, &objects).await.context("tessera")?;
        let base = match &theirs {
            Some(c) => Some(small(c, &objects).await.context("s3s-fs")?),
            None => None,
        };
        let n = cfg.clients;
        let put_goal = [Some(Target::RatioAtLeast(0.5)), None, None];
        let get_goal = [None, Some(Target::AtMost(2.0)), None];
        let phases = [("PUT", put, put_goal), ("GET", get, get_goal)];
        for (i, (op, phase, goals)) in phases.into_iter().enumerate() {
            let base = base.as_ref().map(|b| if i == 0 { &b.0 } else { &b.1 });
            let figures = [
                ("", "ops/s", phase.ops, base.map(|b| b.ops)),
                (" p50", "ms", phase.p50, base.map(|b| b.p50)),
                (" p99", "ms", phase.p99, base.map(|b| b.p99)),
            ];
            for ((q, unit, v, b), goal) in figures.into_iter().zip(goals) {
                let name = format!("S3 4 KiB {op} x{n}{q}");
                out.push(Row::new(name, unit, v, b.map(|b| (BASE, b))).target(goal));
            }
        }
    }
    drop(baseline);
    sync();
    Ok((out, note))
}

/// Flushes dirty pages (s3s-fs does not fsync), so the next phase does not pay for them.
pub(super) fn sync() {
    let _ = Command::new("sync").status();
}

/// MiB/s of a PUT and then a GET (every byte checked) of `payload` as `key`; with `cold`,
/// the page cache is dropped before the GET when it can be (root).
pub(super) async fn large(
    client: &S3Client,
    key: &str,
    payload: &Bytes,
    md5: &str,
    cold: bool,
) -> anyhow::Result<(f64, f64)> {
    client.head_bucket().await?; // the connection is open before the clock starts
    sync();
    let start = Instant::now();
    client.put(key, payload.clone(), md5).await?;
    let put = mib_per_s(payload.len(), start.elapsed());
    if !(cold && drop_caches()) {
        sync();
    }
    let start = Instant::now();
    client.get(key, payload).await?;
    let get = mib_per_s(payload.len(), start.elapsed());
    Ok((put, get))
}

/// Distinct 4 KiB bodies and their MD5s, `per` for each of `clients`.
pub(super) fn small_objects(clients: usize, per: usize) -> Vec<Vec<(Bytes, String)>> {
    let one = |seed: usize| {
        let body = pattern(SMALL, 1000 + seed as u64);
        let md5 = md5_hex(&body);
        (Bytes::from(body), md5)
    };
    (0..clients)
        .map(|c| (0..per).map(|i| one(c * per + i)).collect())
        .collect()
}

/// One client (one keep-alive connection) per worker: all PUT their objects, then all GET
/// them back. Each worker is a task of its own.
pub(super) async fn small(
    client: &S3Client,
    objects: &Arc<Vec<Vec<(Bytes, String)>>>,
) -> anyhow::Result<(Phase, Phase)> {
    let clients: Vec<S3Client> = objects.iter().map(|_| client.fresh()).collect();
    let warm = clients.iter().map(S3Client::head_bucket);
    futures::future::try_join_all(warm).await?;
    let mut phases = Vec::new();
    for write in [true, false] {
        sync();
        let start = Instant::now();
        let workers: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(c, client)| {
                let (client, objects) = (client.clone(), objects.clone());
                tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(objects[c].len());
                    for (i, (body, md5)) in objects[c].iter().enumerate() {
                        let (op, key) = (Instant::now(), format!("small/c{c}/o{i}"));
                        if write {
                            client.put(&key, body.clone(), md5).await?;
                        } else {
                            client.get(&key, body).await?;
                        }
                        lat.push(op.elapsed());
                    }
                    anyhow::Ok(lat)
                })
            })
            .collect();
        let mut lat = Vec::new();
        for worker in workers {
            lat.extend(worker.await??);
        }
        phases.push(Phase::new(start.elapsed(), lat));
    }
    let get = phases.pop().expect("GET phase");
    let put = phases.pop().expect("PUT phase");
    Ok((put, get))
}

type Body = BoxBody<Bytes, Infallible>;

/// A SigV4-signing S3 client for one bucket of one endpoint, with the test credentials,
/// over plain HTTP or TLS.
#[derive(Clone)]
pub(super) struct S3Client {
    http: Client<HttpsConnector<HttpConnector>, Body>,
    /// TLS settings (no ALPN: hyper-rustls offers http/1.1): `https://` when set.
    tls: Option<Arc<rustls::ClientConfig>>,
    addr: SocketAddr,
    bucket: String,
    /// `127.0.0.1:port`: the Host header and the URL's authority.
    host: String,
    identity: Identity,
}

impl S3Client {
    pub(super) fn new(addr: SocketAddr, bucket: &str) -> S3Client {
        Self::with_tls(addr, bucket, None)
    }

    /// A client of `addr` over TLS with `tls` when given.
    pub(super) fn with_tls(
        addr: SocketAddr,
        bucket: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> S3Client {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(false);
        // Plain requests pass through; without TLS settings none is ever made.
        let config = match &tls {
            Some(config) => (**config).clone(),
            None => tessera_proto::tls::ClientTls::insecure().config_without_alpn(),
        };
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new()).build(connector);
        let identity = Credentials::new(USER, PASSWORD, None, None, "bench").into();
        S3Client {
            http,
            tls,
            addr,
            bucket: bucket.into(),
            host: addr.to_string(),
            identity,
        }
    }

    /// A client to the same endpoint with a pool (so connections) of its own.
    pub(super) fn fresh(&self) -> S3Client {
        S3Client {
            identity: self.identity.clone(),
            ..S3Client::with_tls(self.addr, &self.bucket, self.tls.clone())
        }
    }

    /// A client to the same endpoint signing with another access key.
    pub(super) fn with_key(&self, access: &str, secret: &str) -> S3Client {
        S3Client {
            identity: Credentials::new(access, secret, None, None, "bench").into(),
            ..self.fresh()
        }
    }

    /// Signs (only `host` and the SigV4 headers, payload unsigned) and sends a request to
    /// `/BUCKET{path}`; fails unless the answer has status `want`.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        len: Option<usize>,
        want: StatusCode,
    ) -> anyhow::Result<Response<Incoming>> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let uri = format!("{scheme}://{}/{}{path}", self.host, self.bucket);
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region("us-east-1")
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()?
            .into();
        let headers = [("host", self.host.as_str())];
        let signable = SignableRequest::new(
            method.as_str(),
            &uri,
            headers.into_iter(),
            SignableBody::UnsignedPayload,
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut req = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(header::HOST, &self.host);
        if let Some(len) = len {
            req = req.header(header::CONTENT_LENGTH, len);
        }
        let mut req = req.body(body)?;
        instructions.apply_to_request_http1x(&mut req);
        let resp = self
            .http
            .request(req)
            .await
            .with_context(|| format!("{method} {uri}"))?;
        if resp.status() != want {
            let status = resp.status();
            let text = resp.into_body().collect().await.map(|c| c.to_bytes());
            let text = String::from_utf8_lossy(text.as_deref().unwrap_or(b"(no body)"));
            bail!("{method} {uri}: {status} (wanted {want}): {text}");
        }
        Ok(resp)
    }

    /// Sends `method` to the bucket's `query` (`?versioning`, `?list-type=2&…`) with `body`
    /// (XML, maybe empty); returns the answer's text (fails unless 200).
    pub(super) async fn request_text(
        &self,
        method: Method,
        query: &str,
        body: &'static str,
    ) -> anyhow::Result<String> {
        let full = Full::new(Bytes::from_static(body.as_bytes())).boxed();
        let resp = self
            .send(method, query, full, Some(body.len()), StatusCode::OK)
            .await?;
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub(super) async fn create_bucket(&self) -> anyhow::Result<()> {
        let resp = self
            .send(Method::PUT, "", empty(), Some(0), StatusCode::OK)
            .await?;
        resp.into_body().collect().await?;
        Ok(())
    }

    pub(super) async fn head_bucket(&self) -> anyhow::Result<()> {
        let resp = self
            .send(Method::HEAD, "", empty(), None, StatusCode::OK)
            .await?;
        resp.into_body().collect().await?;
        Ok(())
    }

    /// PUTs `body` (streamed in 1 MiB frames) and checks the returned ETag against `md5`.
    pub(super) async fn put(&self, key: &str, body: Bytes, md5: &str) -> anyhow::Result<()> {
        let len = body.len();
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = (0..len)
            .step_by(MIB)
            .map(|at| Ok(Frame::data(body.slice(at..len.min(at + MIB)))))
            .collect();
        let body = StreamBody::new(futures::stream::iter(frames)).boxed();
        let path = format!("/{key}");
        let resp = self
            .send(Method::PUT, &path, body, Some(len), StatusCode::OK)
            .await?;
        let etag = resp.headers().get(header::ETAG).cloned();
        resp.into_body().collect().await?;
        let want = format!("\"{md5}\"");
        ensure!(
            etag.as_ref()
                .is_some_and(|e| e.as_bytes() == want.as_bytes()),
            "PUT {key}: ETag {etag:?}, wanted {want}"
        );
        Ok(())
    }

    /// GETs `key` and compares every byte with `expect`.
    pub(super) async fn get(&self, key: &str, expect: &Bytes) -> anyhow::Result<()> {
        let path = format!("/{key}");
        let resp = self
            .send(Method::GET, &path, empty(), None, StatusCode::OK)
            .await?;
        let mut body = resp.into_body();
        let mut got = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                let want = expect.get(got..got + data.len());
                ensure!(want == Some(&data[..]), "GET {key}: wrong bytes at {got}");
                got += data.len();
            }
        }
        ensure!(
            got == expect.len(),
            "GET {key}: {got} bytes of {}",
            expect.len()
        );
        Ok(())
    }
}

fn empty() -> Body {
    Empty::new().boxed()
}

/// A running s3s-fs, killed (by its pid) when dropped.
struct S3sFs {
    child: Child,
    addr: SocketAddr,
}

impl S3sFs {
    /// Starts `bin` on a free port, storing under `root`, logging to `log`; waits until it
    /// accepts connections.
    fn start(bin: &Path, root: &Path, log: &Path) -> anyhow::Result<S3sFs> {
        std::fs::create_dir_all(root)?;
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let out = std::fs::File::create(log)?;
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", USER, "--secret-key", PASSWORD])
            .arg(root)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let mut server = S3sFs { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = server.child.try_wait()? {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                bail!("s3s-fs exited ({status}):\n{text}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            ensure!(
                Instant::now() < deadline,
                "s3s-fs does not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
