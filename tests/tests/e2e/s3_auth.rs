//! S3 cases: SigV4 authentication (unknown key, wrong secret, anonymous), presigned GET
//! and PUT used by a plain HTTP client (hyper), presign expiry, and virtual-host-style
//! addressing with `--domain`.

use std::time::Duration;

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use tessera_tests::{PASSWORD, USER, pattern};

use crate::s3::*;

#[tokio::test]
async fn requests_with_a_wrong_secret_or_no_signature_are_refused_and_change_nothing() {
    let t = S3Env::start();
    t.mb("auth").await;
    t.put("auth", "k", b"secret").await;
    let endpoint = &t.node().endpoint;

    let wrong = client(endpoint, USER, "not-the-password");
    assert_s3_err(
        wrong.get_object().bucket("auth").key("k").send().await,
        403,
        "SignatureDoesNotMatch",
    );
    assert_s3_err(
        wrong
            .put_object()
            .bucket("auth")
            .key("forged")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        "SignatureDoesNotMatch",
    );
    assert_s3_err(
        wrong.create_bucket().bucket("forged").send().await,
        403,
        "SignatureDoesNotMatch",
    );

    let host = t.addr().to_string();
    for (method, target, body) in [
        ("GET", "/", ""),
        ("GET", "/auth/k", ""),
        ("GET", "/auth?list-type=2", ""),
        ("PUT", "/auth/anonymous", "anonymous data"),
        ("PUT", "/anonbucket", ""),
        ("DELETE", "/auth/k", ""),
    ] {
        let raw = RawRequest::new(method, &host, target)
            .body(body)
            .send(t.addr())
            .await
            .unwrap();
        assert_eq!(
            (raw.status, raw.code().as_deref()),
            (403, Some("AccessDenied")),
            "anonymous {method} {target}: {}",
            raw.text()
        );
    }
    assert_eq!(
        t.keys("auth").await,
        ["k"],
        "refused requests changed nothing"
    );
    assert_eq!(t.get("auth", "k").await, b"secret");
    let buckets = t.s3.list_buckets().send().await.unwrap();
    assert_eq!(buckets.buckets().len(), 1);
    // A client's mistakes are not the node's errors: nothing at ERROR for them (s3s logs
    // each at ERROR; its lines stay out unless asked for).
    let log = t.node().log_text();
    let loud: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" ERROR ") || l.contains("s3s::"))
        .collect();
    assert!(loud.is_empty(), "refused requests logged loudly: {loud:#?}");
}

#[tokio::test]
async fn requests_with_an_unknown_access_key_are_refused_with_invalid_access_key_id() {
    // As S3 answers: "The AWS Access Key Id you provided does not exist in our records."
    let t = S3Env::start();
    t.mb("auth").await;
    let unknown = client(&t.node().endpoint, "nobody", PASSWORD);
    assert_s3_err(
        unknown
            .put_object()
            .bucket("auth")
            .key("forged")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        403,
        "InvalidAccessKeyId",
    );
    assert_s3_err(
        unknown.list_buckets().send().await,
        403,
        "InvalidAccessKeyId",
    );
    assert!(t.keys("auth").await.is_empty());
}

/// Sends a presigned request with hyper (no SDK), with `body`.
async fn send_presigned(p: &PresignedRequest, uri: &str, body: Vec<u8>) -> (u16, Bytes) {
    let http: HttpClient<_, Full<Bytes>> = HttpClient::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::builder().method(p.method()).uri(uri);
    for (name, value) in p.headers() {
        req = req.header(name, value);
    }
    let resp = http
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .expect("HTTP exchange");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

fn code(body: &[u8]) -> String {
    let raw = Raw {
        status: 0,
        headers: Vec::new(),
        body: body.to_vec(),
    };
    raw.code().unwrap_or_default()
}

#[tokio::test]
async fn presigned_put_and_get_work_with_a_plain_http_client() {
    let t = S3Env::start();
    t.mb("pre").await;
    let data = pattern(3 << 20, 8);
    let five_minutes = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();

    let put =
        t.s3.put_object()
            .bucket("pre")
            .key("dir/upload.bin")
            .content_type("application/x-presigned")
            .presigned(five_minutes.clone())
            .await
            .unwrap();
    let (status, body) = send_presigned(&put, put.uri(), data.clone()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let head =
        t.s3.head_object()
            .bucket("pre")
            .key("dir/upload.bin")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert_eq!(head.content_type(), Some("application/x-presigned"));

    let get =
        t.s3.get_object()
            .bucket("pre")
            .key("dir/upload.bin")
            .presigned(five_minutes.clone())
            .await
            .unwrap();
    let (status, body) = send_presigned(&get, get.uri(), Vec::new()).await;
    assert_eq!(status, 200);
    assert!(body == data, "presigned GET returned other bytes");

    // A tampered signature, or a URL for another key, is refused.
    let uri = get.uri().to_string();
    let sig_at = uri.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = uri.clone();
    let flipped = if &uri[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(sig_at..sig_at + 1, flipped);
    let (status, body) = send_presigned(&get, &tampered, Vec::new()).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    let other = uri.replace("dir/upload.bin", "dir/other.bin");
    let (status, body) = send_presigned(&get, &other, Vec::new()).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // A presigned PUT cannot be replayed onto another key.
    let other = put.uri().replace("dir/upload.bin", "dir/forged.bin");
    let (status, _) = send_presigned(&put, &other, b"forged".to_vec()).await;
    assert_eq!(status, 403);
    assert!(!t.exists("pre", "dir/forged.bin").await);
}

#[tokio::test]
async fn a_presigned_url_used_after_its_expiry_is_refused_with_access_denied() {
    let t = S3Env::start();
    t.mb("pre").await;
    t.put("pre", "k", b"expiring").await;
    let one_second = PresigningConfig::expires_in(Duration::from_secs(1)).unwrap();
    let get =
        t.s3.get_object()
            .bucket("pre")
            .key("k")
            .presigned(one_second.clone())
            .await
            .unwrap();
    let put =
        t.s3.put_object()
            .bucket("pre")
            .key("late")
            .presigned(one_second)
            .await
            .unwrap();
    // The server judges expiry by the wall clock; this is what the test is about.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = send_presigned(&get, get.uri(), Vec::new()).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (403, "AccessDenied"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, body) = send_presigned(&put, put.uri(), b"late".to_vec()).await;
    assert_eq!((status, code(&body).as_str()), (403, "AccessDenied"));
    assert!(!t.exists("pre", "late").await);
}

#[tokio::test]
async fn virtual_host_style_requests_name_the_bucket_in_the_host_header() {
    let t = S3Env::start_with(4, &["--domain", "s3.test"]);
    t.mb("vhost").await;
    let addr = t.addr();
    let port = addr.port();

    // Host without a port (as behind a proxy on port 80).
    let raw = RawRequest::new("PUT", "vhost.s3.test", "/dir/key.txt")
        .header("content-type", "text/plain")
        .body("virtual host")
        .signed()
        .send(addr)
        .await
        .unwrap();
    assert_eq!(raw.status, 200, "{}", raw.text());
    // Path style keeps working next to it.
    assert_eq!(t.get("vhost", "dir/key.txt").await, b"virtual host");
    let raw = RawRequest::new("GET", "vhost.s3.test", "/dir/key.txt")
        .signed()
        .send(addr)
        .await
        .unwrap();
    assert_eq!(
        (raw.status, raw.body.as_slice()),
        (200, b"virtual host".as_slice())
    );
    // The bucket root lists the bucket.
    let raw = RawRequest::new("GET", "vhost.s3.test", "/?list-type=2")
        .signed()
        .send(addr)
        .await
        .unwrap();
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert!(
        raw.text().contains("<Key>dir/key.txt</Key>"),
        "{}",
        raw.text()
    );
    // The bare domain is the service: ListBuckets.
    let raw = RawRequest::new("GET", "s3.test", "/")
        .signed()
        .send(addr)
        .await
        .unwrap();
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert!(raw.text().contains("<Name>vhost</Name>"), "{}", raw.text());

    // Host with the port, as every client sends it to a non-default port.
    let host = format!("vhost.s3.test:{port}");
    let raw = RawRequest::new("GET", &host, "/dir/key.txt")
        .signed()
        .send(addr)
        .await
        .unwrap();
    assert_eq!(
        (raw.status, raw.text().as_str()),
        (200, "virtual host"),
        "GET with Host: {host}"
    );
}
