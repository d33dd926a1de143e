//! `tessera admin top`: a compact terminal view of a node's `/metrics` (scraped with a
//! token of the current key), refreshed every `--interval` seconds with rates since the
//! last frame; `--once` prints one frame of totals (for scripts).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use prometheus_parse::{Scrape, Value};
use tessera_daemon::metrics::{sum, token};
use tessera_proto::auth::Credentials;
use tessera_proto::tls::ClientTls;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::client::human;

/// Where and how to scrape.
pub struct Source {
    /// `http[s]://host:port`.
    pub endpoint: String,
    /// The current key.
    pub creds: Credentials,
    /// TLS for `https://`.
    pub tls: ClientTls,
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    request: &str,
) -> anyhow::Result<Vec<u8>> {
    s.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    Ok(answer)
}

impl Source {
    /// One scrape, parsed.
    async fn scrape(&self) -> anyhow::Result<Scrape> {
        let (https, authority) = match self.endpoint.split_once("://") {
            Some((scheme, rest)) => (scheme == "https", rest.trim_end_matches('/')),
            None => (false, self.endpoint.trim_end_matches('/')),
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        // A short-lived token: valid for this scrape only.
        let bearer = token::issue(
            &self.creds.access_key,
            &self.creds.secret_key,
            i64::try_from(now + 60)?,
        );
        let request = format!(
            "GET /metrics HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {bearer}\r\n\
             Connection: close\r\n\r\n"
        );
        let tcp = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("cannot connect to {authority}"))?;
        let answer = if https {
            let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())?;
            let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(
                self.tls.config_without_alpn(),
            ));
            exchange(connector.connect(name, tcp).await?, &request).await?
        } else {
            exchange(tcp, &request).await?
        };
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        if !head.starts_with("HTTP/1.1 200") {
            let status = head.lines().next().unwrap_or_default();
            bail!("{authority}/metrics: {status}: {}", body.trim());
        }
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Ok(Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))?)
    }
}

/// The body of a chunked answer.
fn dechunk(mut data: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = data.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        data = rest[size..].trim_start_matches("\r\n");
    }
    out
}

fn bytes(v: f64) -> String {
    human(v.max(0.0) as u64)
}

/// One frame: totals, or rates over `since` when a previous scrape is given.
fn frame(endpoint: &str, s: &Scrape, before: Option<(&Scrape, Duration)>) -> String {
    let mut out = String::new();
    let rate = |name: &str, labels: &[(&str, &str)]| match before {
        Some((b, dt)) => (sum(s, name, labels) - sum(b, name, labels)) / dt.as_secs_f64(),
        None => sum(s, name, labels),
    };
    let unit = if before.is_some() { "/s" } else { "" };
    out.push_str(&format!(
        "tessera top: {endpoint} ({})\n",
        if before.is_some() {
            "rates per second"
        } else {
            "totals"
        }
    ));
    let requests = "tessera_requests_total";
    out.push_str(&format!(
        "requests{unit:<3} s3 {:.1}  grpc {:.1}  internode {:.1}  | 4xx {:.1}  5xx {:.1}\n",
        rate(requests, &[("api", "s3")]),
        rate(requests, &[("api", "grpc")]),
        rate(requests, &[("api", "internode")]),
        rate(requests, &[("class", "4xx")]),
        rate(requests, &[("class", "5xx")]),
    ));
    out.push_str(&format!(
        "bytes{unit:<6} in {}  out {}\n",
        bytes(rate("tessera_received_bytes_total", &[])),
        bytes(rate("tessera_sent_bytes_total", &[])),
    ));
    out.push_str(&format!(
        "objects{unit:<4} written {:.1} ({})  read {:.1} ({})\n",
        rate("tessera_objects_written_total", &[]),
        bytes(rate("tessera_object_written_bytes_total", &[])),
        rate("tessera_objects_read_total", &[]),
        bytes(rate("tessera_object_read_bytes_total", &[])),
    ));
    out.push_str(&format!(
        "heal          queue {}  healed {}  failed {}  scanned {}\n",
        sum(s, "tessera_heal_queue_depth", &[]),
        sum(s, "tessera_heal_objects_healed_total", &[]),
        sum(s, "tessera_heal_failures_total", &[]),
        sum(s, "tessera_scanner_objects_scanned_total", &[]),
    ));
    out.push_str(&format!(
        "locks         waits {}  timeouts {}  | process rss {}  open files {}\n",
        sum(s, "tessera_lock_waits_total", &[]),
        sum(s, "tessera_lock_timeouts_total", &[]),
        bytes(sum(s, "tessera_process_resident_memory_bytes", &[])),
        sum(s, "tessera_process_open_fds", &[]),
    ));
    let mut drives: BTreeMap<&str, &str> = BTreeMap::new();
    for x in &s.samples {
        if x.metric == "tessera_drive_state"
            && matches!(x.value, Value::Gauge(v) | Value::Untyped(v) if v == 1.0)
            && let (Some(d), Some(state)) = (x.labels.get("drive"), x.labels.get("state"))
        {
            drives.insert(d, state);
        }
    }
    out.push_str("drives\n");
    for (d, state) in drives {
        let one = [("drive", d)];
        out.push_str(&format!(
            "  {d}  {state}  free {} of {}  io errors {}  checksum mismatches {}\n",
            bytes(sum(s, "tessera_drive_free_bytes", &one)),
            bytes(sum(s, "tessera_drive_total_bytes", &one)),
            sum(s, "tessera_drive_io_errors_total", &one),
            sum(s, "tessera_drive_checksum_mismatches_total", &one),
        ));
    }
    out
}

/// Runs the view: one frame with `once`, else a frame every `interval` until interrupted.
pub async fn run(source: &Source, once: bool, interval: Duration) -> anyhow::Result<()> {
    let mut last = source.scrape().await?;
    if once {
        print!("{}", frame(&source.endpoint, &last, None));
        return Ok(());
    }
    let mut at = Instant::now();
    loop {
        tokio::time::sleep(interval).await;
        let now = source.scrape().await?;
        let text = frame(&source.endpoint, &now, Some((&last, at.elapsed())));
        // Clear the screen, then draw.
        print!("\x1b[2J\x1b[H{text}");
        std::io::stdout().flush()?;
        (last, at) = (now, Instant::now());
    }
}
