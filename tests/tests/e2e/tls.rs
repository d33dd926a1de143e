//! The TLS suite fixture and its single-node cases (README "TLS"): a node started with a
//! certs directory from a test CA, and clients that trust that CA (aws-sdk-s3, the CLI, the
//! gRPC client, awscli and boto3) or do not. `tls_cluster` holds the cluster's cases; every
//! test of the suite has `tls` in its path: `cargo test -p tessera-tests --test e2e tls`.
//!
//! One node serves the cases of one test where they can share it (node starts are most of
//! the suite's time).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use tempfile::TempDir;
use tessera_tests::tls::{TestCa, TlsClient, write_certs};
use tessera_tests::{Node, PASSWORD, USER, md5_hex, pattern};

use crate::common::bin;

/// A node serving TLS with a certificate of `ca`.
pub struct TlsNode {
    pub node: Node,
    pub ca: TestCa,
    pub client: TlsClient,
    pub dir: TempDir,
}

impl TlsNode {
    /// A 4-drive node with a fresh test CA's certificate.
    pub fn start() -> TlsNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new("Tessera test CA");
        let certs = ca.certs_dir(&dir.path().join("certs"));
        let client = ca.client(&dir.path().join("ca.pem"));
        let drives = Node::drive_paths(dir.path(), 4);
        let certs = certs.to_str().expect("utf-8 path");
        let mut node = Node::start(bin(), drives, &["--certs-dir", certs]);
        node.set_tls(client.clone());
        TlsNode {
            node,
            ca,
            client,
            dir,
        }
    }

    /// The certs directory the node reads.
    pub fn certs(&self) -> std::path::PathBuf {
        self.dir.path().join("certs")
    }
}

/// An SDK client of `endpoint` over HTTPS trusting `ca_pem` only (none: the system roots
/// only), path style, no retries.
pub fn https_client(endpoint: &str, ca_pem: Option<&str>) -> Client {
    let trust = match ca_pem {
        Some(pem) => TrustStore::empty().with_pem_certificate(pem.as_bytes()),
        None => TrustStore::default(),
    };
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("TLS context");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(USER, PASSWORD, None, None, "test"))
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// Puts `data` at `bucket/key` and reads it back through `s3`.
pub async fn put_and_get(s3: &Client, bucket: &str, key: &str, data: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {bucket}/{key} over TLS: {e:?}"));
    let got = get(s3, bucket, key).await;
    assert_eq!(md5_hex(&got), md5_hex(data), "{bucket}/{key} read back");
}

/// The whole of `bucket/key`.
pub async fn get(s3: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {bucket}/{key} over TLS: {e:?}"));
    out.body.collect().await.expect("read body").to_vec()
}

/// Asserts `s3` cannot list buckets because the node's certificate is not trusted.
pub async fn refused_for_its_certificate(s3: &Client) {
    let err = s3
        .list_buckets()
        .send()
        .await
        .expect_err("a client that does not trust the CA must be refused");
    let text = format!("{err:?}");
    assert!(
        text.contains("certificate") || text.contains("Certificate"),
        "the refusal names the certificate: {text}"
    );
}

/// What the node answers a plain HTTP/1.1 request on its TLS port.
fn plain_http_answer(node: &Node) -> String {
    let mut s = TcpStream::connect(node.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

/// How many times the node logged `line`.
fn count_in_log(node: &Node, line: &str) -> usize {
    node.log_text().matches(line).count()
}

/// Waits (bounded) until the node has logged `line` `n` times.
fn wait_for_log(node: &Node, line: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_in_log(node, line) < n {
        assert!(
            Instant::now() < deadline,
            "the node never logged {line:?}:\n{}",
            node.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_node_serves_the_sdk_grpc_and_the_cli_to_clients_trusting_its_ca() {
    let t = TlsNode::start();
    let s3 = https_client(&t.node.endpoint, Some(t.ca.pem()));
    s3.create_bucket()
        .bucket("tls")
        .send()
        .await
        .expect("create bucket over TLS");
    // Inline and erasure-coded objects, and a multi-block one.
    put_and_get(&s3, "tls", "small", b"over TLS").await;
    put_and_get(&s3, "tls", "large", &pattern(3 << 20, 7)).await;

    // The gRPC API (the client the CLI and the mount use) over the same port.
    let mut grpc = t.node.client().await;
    let info = grpc
        .head_object(tessera_proto::object::HeadObjectRequest {
            bucket: "tls".into(),
            key: "large".into(),
        })
        .await
        .expect("gRPC over TLS");
    assert_eq!(info.get_ref().size, 3 << 20);

    // The CLI, trusting the CA through TESSERA_CA_CERT.
    let out = t
        .node
        .cli(&["cp", "-", "tls/from-cli"], Some(b"cli over TLS"));
    assert!(out.status.success(), "cli cp: {out:?}");
    let out = t.node.cli(&["cat", "tls/from-cli"], None);
    assert_eq!(out.stdout, b"cli over TLS", "cli cat: {out:?}");
    assert_eq!(get(&s3, "tls", "from-cli").await, b"cli over TLS");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_node_refuses_plain_http_and_clients_that_do_not_trust_its_certificate() {
    let t = TlsNode::start();
    // Plain HTTP on the TLS port: a short 400 that says why.
    let answer = plain_http_answer(&t.node);
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("this port speaks TLS"),
        "plain HTTP answer: {answer:?}"
    );
    // An SDK client trusting only the system roots: a certificate error.
    refused_for_its_certificate(&https_client(&t.node.endpoint, None)).await;
    // Another CA's client likewise.
    let other = TestCa::new("another CA");
    refused_for_its_certificate(&https_client(&t.node.endpoint, Some(other.pem()))).await;

    // The CLI without the CA file: refused, naming the certificate and the way out.
    let endpoint = t.node.endpoint.as_str();
    let out = std::process::Command::new(bin())
        .args(["--endpoint", endpoint, "ls"])
        .env("TESSERA_ROOT_USER", USER)
        .env("TESSERA_ROOT_PASSWORD", PASSWORD)
        .env_remove("TESSERA_CA_CERT")
        .output()
        .expect("run the cli");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "cli without the CA: {out:?}");
    assert!(
        stderr.contains("certificate") && stderr.contains("--ca-cert"),
        "cli without the CA: {stderr}"
    );
    // With --insecure it connects, and warns.
    let out = std::process::Command::new(bin())
        .args(["--endpoint", endpoint, "--insecure", "ls"])
        .env("TESSERA_ROOT_USER", USER)
        .env("TESSERA_ROOT_PASSWORD", PASSWORD)
        .env_remove("TESSERA_CA_CERT")
        .output()
        .expect("run the cli");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cli --insecure: {out:?}");
    assert!(
        stderr.contains("not verified"),
        "cli --insecure warns: {stderr}"
    );
    // An http:// endpoint on the TLS port: told to use https://.
    let plain_endpoint = format!("http://{}", t.node.addr);
    let out = std::process::Command::new(bin())
        .args(["--endpoint", &plain_endpoint, "ls"])
        .env("TESSERA_ROOT_USER", USER)
        .env("TESSERA_ROOT_PASSWORD", PASSWORD)
        .output()
        .expect("run the cli");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "cli over http://: {out:?}");
    assert!(
        stderr.contains("https://"),
        "cli over http:// is told: {stderr}"
    );
    // With --ca-cert it is trusted.
    let ca = t.client.ca_file.to_str().expect("utf-8 path");
    let out = std::process::Command::new(bin())
        .args(["--endpoint", endpoint, "--ca-cert", ca, "mb", "trusted"])
        .env("TESSERA_ROOT_USER", USER)
        .env("TESSERA_ROOT_PASSWORD", PASSWORD)
        .env_remove("TESSERA_CA_CERT")
        .output()
        .expect("run the cli");
    assert!(out.status.success(), "cli --ca-cert: {out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_serves_a_new_certificate_to_new_connections_while_an_old_download_finishes() {
    let t = TlsNode::start();
    let old = https_client(&t.node.endpoint, Some(t.ca.pem()));
    old.create_bucket()
        .bucket("reload")
        .send()
        .await
        .expect("bucket");
    let data = pattern(48 << 20, 11);
    old.put_object()
        .bucket("reload")
        .key("big")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put 48 MiB");
    // A download starts on a connection made with the old certificate…
    let mut download = old
        .get_object()
        .bucket("reload")
        .key("big")
        .send()
        .await
        .expect("start the download")
        .body;
    let first = download.next().await.expect("a first chunk").expect("read");
    // …then the certificate is replaced by one of another CA (Ed25519) and reloaded.
    let renewed = TestCa::new("renewed CA");
    let (chain, key) = renewed.issue(Some(&rcgen::PKCS_ED25519));
    write_certs(&t.certs(), &chain, &key);
    let reloaded = "certificates reloaded";
    let before = count_in_log(&t.node, reloaded);
    t.node.signal_hup();
    wait_for_log(&t.node, reloaded, before + 1);
    // New connections get the new certificate: the new CA's clients are served, the old
    // CA's are refused.
    let new = https_client(&t.node.endpoint, Some(renewed.pem()));
    new.list_buckets()
        .send()
        .await
        .expect("new CA after reload");
    refused_for_its_certificate(&https_client(&t.node.endpoint, Some(t.ca.pem()))).await;
    // The download in flight finishes whole.
    let mut got = first.to_vec();
    while let Some(chunk) = download.next().await {
        got.extend_from_slice(&chunk.expect("the old download goes on"));
    }
    assert_eq!(got.len(), data.len());
    assert_eq!(md5_hex(&got), md5_hex(&data), "the old download is whole");
    // A reload that fails (a key that is not the certificate's) keeps the certificate in
    // use.
    let (_, other_key) = renewed.issue(None);
    write_certs(&t.certs(), &chain, &other_key);
    let failed = "certificate reload failed";
    let before = count_in_log(&t.node, failed);
    t.node.signal_hup();
    wait_for_log(&t.node, failed, before + 1);
    new.list_buckets()
        .send()
        .await
        .expect("still the renewed cert");
}

#[test]
fn a_certificate_that_does_not_parse_or_match_its_key_stops_the_node_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new("Tessera test CA");
    let (chain, _) = ca.issue(None);
    let (_, other_key) = ca.issue(None);
    let cases = [
        (
            "mismatch",
            chain.as_str(),
            other_key.as_str(),
            "not for this key",
        ),
        (
            "garbage",
            "not a certificate\n",
            other_key.as_str(),
            "public.crt",
        ),
        ("no-key", chain.as_str(), "", "private.key"),
    ];
    for (name, crt, key, expected) in cases {
        let certs = dir.path().join(name);
        write_certs(&certs, crt, key);
        let drives = Node::drive_paths(&dir.path().join(format!("{name}-drives")), 1);
        let args = ["--certs-dir", certs.to_str().expect("utf-8 path")];
        match Node::try_start(bin(), drives, &args) {
            Ok(_) => panic!("{name}: the node started with a bad certificate"),
            Err(f) => {
                assert!(f.status.is_some(), "{name}: the node must exit:\n{}", f.log);
                assert!(
                    f.log.contains(expected) && f.log.contains(certs.to_str().unwrap()),
                    "{name}: the error names the file ({expected}):\n{}",
                    f.log
                );
            }
        }
    }
}
