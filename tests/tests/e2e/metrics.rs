//! Prometheus metrics end to end (README "Metrics"): a real node scraped over HTTP, the
//! text read back with a Prometheus parser; the request, byte, object and drive figures
//! move with a workload of known size; scrapes need a bearer token of a key allowed
//! `admin:Prometheus` (root, the built-in `diagnostics` policy) unless the node runs with
//! `--metrics-public`; a drive that cannot be used shows offline; `tessera admin top`
//! shows the same figures. Every test has
//! `metrics_` in its path.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};
use tessera_daemon::metrics::token;
use tessera_tests::Node;

use crate::common::{Env, mb, put};
use crate::console::ConsoleApi;
use crate::iam::{admin, parse_key};
use crate::s3::{RawRequest, S3Env};

const MIB: usize = 1 << 20;

/// A scrape's answer: its status and, when 200, the parsed text.
pub struct Scraped {
    pub status: u16,
    pub text: String,
}

impl Scraped {
    pub fn parse(&self) -> Scrape {
        assert_eq!(self.status, 200, "scrape refused: {}", self.text);
        Scrape::parse(self.text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text")
    }
}

/// `GET path` with `token` as a bearer token (none when `None`).
pub async fn scrape_path(node: &Node, path: &str, token: Option<&str>) -> Scraped {
    let mut req = RawRequest::new("GET", &node.addr.to_string(), path);
    if let Some(token) = token {
        req = req.header("Authorization", &format!("Bearer {token}"));
    }
    let raw = req.send(node.addr).await.expect("scrape");
    Scraped {
        status: raw.status,
        text: raw.text(),
    }
}

async fn scrape(node: &Node, token: Option<&str>) -> Scrape {
    scrape_path(node, "/metrics", token).await.parse()
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none).
pub fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)));
    match found.map(|s| &s.value) {
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        Some(other) => panic!("{name} is not a single value: {other:?}"),
        None => 0.0,
    }
}

/// The token `tessera admin prometheus token` prints (inside its scrape config).
fn token_from(out: &str) -> String {
    let line = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("bearer_token: "))
        .unwrap_or_else(|| panic!("no bearer_token line in:\n{out}"));
    line.to_owned()
}

/// Scrapes until `check` holds (responses end a moment after the client has them).
async fn eventually(node: &Node, token: &str, what: &str, check: impl Fn(&Scrape) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = scrape(node, Some(token)).await;
        if check(&s) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: never held");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_a_workload_and_need_a_token_of_a_key_allowed_prometheus() {
    let env = S3Env::start();
    let node = env.node();

    // Refused without a token, with garbage, and with a token under a wrong secret.
    let refused = scrape_path(node, "/metrics", None).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(refused.text.contains("bearer token"), "{}", refused.text);
    assert_eq!(
        scrape_path(node, "/metrics", Some("nonsense")).await.status,
        403
    );
    let far = 4_000_000_000;
    let forged = token::issue(tessera_tests::USER, "not-the-root-secret", far);
    assert_eq!(
        scrape_path(node, "/metrics", Some(&forged)).await.status,
        403
    );
    let unknown = token::issue("nosuchkey", "whatever-secret", far);
    assert_eq!(
        scrape_path(node, "/metrics", Some(&unknown)).await.status,
        403
    );

    // The root key's token, from the CLI.
    let printed = admin(node, &["admin", "prometheus", "token"]);
    assert!(printed.contains("scrape_configs") && printed.contains("job_name: tessera"));
    let root = token_from(&printed);
    let before = scrape(node, Some(&root)).await;

    // A workload of known size: 10 PUTs and 3 GETs of 1 MiB over S3, one PUT over gRPC.
    env.mb("metrics").await;
    let data = vec![7u8; MIB];
    for i in 0..10 {
        env.put("metrics", &format!("k{i}"), &data).await;
    }
    for i in 0..3 {
        assert_eq!(env.get("metrics", &format!("k{i}")).await.len(), MIB);
    }
    let mut c = node.client().await;
    put(&mut c, "metrics", "via-grpc", &data)
        .await
        .expect("gRPC put");
    // The console's page and a sign-in with a wrong secret: an API of their own.
    let mut console = ConsoleApi::new(env.addr());
    assert_eq!(console.call("GET", "/console/", "").await.status, 200);
    let wrong = console.login(tessera_tests::USER, "not-the-password").await;
    assert_eq!(wrong.status, 401);

    let put_s3 = [("api", "s3"), ("op", "PutObject"), ("class", "2xx")];
    let put_grpc = [("api", "grpc"), ("op", "PutObject"), ("class", "2xx")];
    let page = [("api", "console"), ("op", "page"), ("class", "2xx")];
    let login = [("api", "console"), ("op", "login"), ("class", "4xx")];
    let s3_before = value(&before, "tessera_requests_total", &put_s3);
    let grpc_before = value(&before, "tessera_requests_total", &put_grpc);
    let login_before = value(&before, "tessera_requests_total", &login);
    eventually(node, &root, "the workload is counted", |s| {
        value(s, "tessera_requests_total", &put_s3) >= s3_before + 10.0
            && value(s, "tessera_requests_total", &put_grpc) >= grpc_before + 1.0
            && value(s, "tessera_requests_total", &login) >= login_before + 1.0
    })
    .await;
    let after = scrape(node, Some(&root)).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let mib = MIB as f64;
    assert_eq!(grew("tessera_requests_total", &put_s3), 10.0);
    let get = [("api", "s3"), ("op", "GetObject"), ("class", "2xx")];
    assert_eq!(grew("tessera_requests_total", &get), 3.0);
    assert_eq!(grew("tessera_requests_total", &page), 1.0);
    assert_eq!(grew("tessera_requests_total", &login), 1.0);
    assert!(grew("tessera_sent_bytes_total", &[("api", "console")]) > 0.0);
    assert!(grew("tessera_received_bytes_total", &[("api", "console")]) > 0.0);
    let durations = [("api", "s3"), ("op", "PutObject")];
    assert_eq!(
        grew("tessera_request_duration_seconds_count", &durations),
        10.0
    );
    assert!(grew("tessera_received_bytes_total", &[("api", "s3")]) >= 10.0 * mib);
    assert!(grew("tessera_received_bytes_total", &[("api", "grpc")]) >= mib);
    assert!(grew("tessera_sent_bytes_total", &[("api", "s3")]) >= 3.0 * mib);
    assert_eq!(grew("tessera_objects_written_total", &[]), 11.0);
    assert_eq!(grew("tessera_object_written_bytes_total", &[]), 11.0 * mib);
    assert_eq!(grew("tessera_objects_read_total", &[]), 3.0);
    assert_eq!(grew("tessera_object_read_bytes_total", &[]), 3.0 * mib);
    // Every drive online, with its capacity; the set has all four.
    for drive in &node.drives {
        let d = drive.display().to_string();
        let online = [("drive", d.as_str()), ("state", "online")];
        assert_eq!(value(&after, "tessera_drive_state", &online), 1.0, "{d}");
        assert!(value(&after, "tessera_drive_free_bytes", &[("drive", &d)]) > 0.0);
    }
    let set = [("pool", "0"), ("set", "0")];
    assert_eq!(value(&after, "tessera_set_drives_online", &set), 4.0);
    assert!(value(&after, "tessera_process_resident_memory_bytes", &[]) > 0.0);
    assert!(value(&after, "tessera_process_open_fds", &[]) > 0.0);

    // MinIO's path serves the same text.
    let minio = scrape_path(node, "/minio/v2/metrics/cluster", Some(&root)).await;
    assert!(
        minio
            .parse()
            .samples
            .iter()
            .any(|s| s.metric == "tessera_requests_total")
    );

    // `admin top --once` reads the same figures: one frame of totals.
    let top = admin(node, &["admin", "top", "--once"]);
    let first = node.drives[0].display().to_string();
    assert!(
        top.contains("requests") && top.contains("written 11"),
        "{top}"
    );
    assert!(
        top.lines()
            .any(|l| l.contains(&first) && l.contains("online")),
        "{top}"
    );

    // A readonly user's token is refused; a diagnostics user's accepted, until disabled.
    let reader = ["admin", "user", "add", "reader", "--policy", "readonly"];
    let reader = parse_key(&node.cli(&reader, None));
    let reader_token = token::issue(&reader.0, &reader.1, far);
    let denied = scrape_path(node, "/metrics", Some(&reader_token)).await;
    assert_eq!(denied.status, 403, "{}", denied.text);
    assert!(denied.text.contains("admin:Prometheus"), "{}", denied.text);

    let diag = ["admin", "user", "add", "grafana", "--policy", "diagnostics"];
    let diag = parse_key(&node.cli(&diag, None));
    let creds = env.env.dir.path().join("grafana.creds");
    std::fs::write(&creds, format!("{}:{}", diag.0, diag.1)).unwrap();
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let creds_arg = creds.display().to_string();
    let args = [
        "admin",
        "prometheus",
        "token",
        "--credentials-file",
        &creds_arg,
    ];
    let diag_token = token_from(&admin(node, &args));
    assert_eq!(
        scrape_path(node, "/metrics", Some(&diag_token))
            .await
            .status,
        200
    );
    admin(node, &["admin", "user", "disable", "grafana"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while scrape_path(node, "/metrics", Some(&diag_token))
        .await
        .status
        != 403
    {
        assert!(
            Instant::now() < deadline,
            "a disabled user's token still works"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Tokens and secrets stay out of the log.
    let log = node.log_text();
    for secret in [&root, &diag_token, &diag.1] {
        assert!(!log.contains(secret.as_str()), "a secret in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_public_node_serves_anyone_and_shows_an_unusable_drive_offline() {
    let mut env = Env::start_with(4, &["--metrics-public"]);
    let mut c = env.node.client().await;
    mb(&mut c, "bucket").await;
    drop(c);
    let open = scrape(&env.node, None).await;
    let bad = env.node.drives[1].clone();
    let bad_label = bad.display().to_string();
    let offline = [("drive", bad_label.as_str()), ("state", "offline")];
    assert_eq!(value(&open, "tessera_drive_state", &offline), 0.0);

    // The drive's directory replaced by a file while the node is down.
    env.node.kill9();
    std::fs::remove_dir_all(&bad).unwrap();
    std::fs::write(&bad, b"not a drive").unwrap();
    env.node.restart();
    let s = scrape(&env.node, None).await;
    assert_eq!(
        value(&s, "tessera_drive_state", &offline),
        1.0,
        "{}",
        env.node.log_text()
    );
    let online = [("drive", bad_label.as_str()), ("state", "online")];
    assert_eq!(value(&s, "tessera_drive_state", &online), 0.0);
    let set = [("pool", "0"), ("set", "0")];
    assert_eq!(value(&s, "tessera_set_drives_online", &set), 3.0);
    assert_eq!(value(&s, "tessera_set_drives", &set), 4.0);
}
