//! S3 cases decided at the edge, before s3s routes a request: `x-amz-*` headers outside a
//! signature (presigned and header-signed), SigV2's date and expiry, presigned URLs valid
//! for more than a week, XML bodies over the limit, and `Range` headers S3 ignores. The
//! requests SDKs really send (aws-sdk-s3 with its default checksums and trailers, boto3's
//! and awscli's, presigned GET/PUT) pass: the rest of the S3 suite and `s3_tools` send them.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use tessera_tests::USER;

use crate::s3::*;

/// The path and query of a presigned URL.
fn target_of(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    rest.find('/')
        .map_or("/".into(), |at| rest[at..].to_string())
}

#[tokio::test]
async fn a_presigned_put_with_unsigned_amz_headers_is_refused_and_writes_nothing() {
    let t = S3Env::start();
    t.mb("private").await;
    t.put("private", "secret.txt", b"the signer's private bytes")
        .await;
    t.mb("bkt").await;
    let five_minutes = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let url =
        t.s3.put_object()
            .bucket("bkt")
            .key("uploads/slot-42")
            .presigned(five_minutes)
            .await
            .unwrap();
    let target = target_of(url.uri());
    let host = t.addr().to_string();
    for (name, value) in [
        ("x-amz-copy-source", "/private/secret.txt"),
        ("X-Amz-Copy-Source", "/private/secret.txt"),
        ("x-amz-meta-owner", "mallory"),
        ("x-amz-tagging", "a=b"),
        ("x-amz-storage-class", "GLACIER"),
        ("x-amz-website-redirect-location", "/elsewhere"),
    ] {
        let raw = RawRequest::new("PUT", &host, &target)
            .header(name, value)
            .send(t.addr())
            .await
            .unwrap();
        assert_eq!(
            (raw.status, raw.code().as_deref()),
            (403, Some("AccessDenied")),
            "{name}: {}",
            raw.text()
        );
        assert!(
            raw.text()
                .to_ascii_lowercase()
                .contains(&name.to_ascii_lowercase()),
            "the refusal names the header: {}",
            raw.text()
        );
        assert!(!t.exists("bkt", "uploads/slot-42").await, "{name} wrote");
    }
    // The URL itself is good: as it was signed, it uploads.
    let raw = RawRequest::new("PUT", &host, &target)
        .body("the upload")
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(t.get("bkt", "uploads/slot-42").await, b"the upload");
}

#[tokio::test]
async fn a_header_signed_request_with_an_extra_unsigned_amz_header_is_refused() {
    let t = S3Env::start();
    t.mb("bkt").await;
    let host = t.addr().to_string();
    let replayed = RawRequest::new("PUT", &host, "/bkt/k")
        .body("data")
        .signed()
        .header("x-amz-meta-added", "later");
    let raw = replayed.send(t.addr()).await.unwrap();
    raw.assert_error(403, "AccessDenied");
    assert!(!t.exists("bkt", "k").await);
    // Signed, the same header is taken.
    let raw = RawRequest::new("PUT", &host, "/bkt/k")
        .header("x-amz-meta-added", "signed")
        .body("data")
        .signed()
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(raw.status, 200, "{}", raw.text());
    let head =
        t.s3.head_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .unwrap();
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("added"))
            .map(String::as_str),
        Some("signed")
    );
}

#[tokio::test]
async fn presigned_urls_past_a_week_and_stale_sigv2_requests_are_refused() {
    let t = S3Env::start();
    t.mb("bkt").await;
    t.put("bkt", "k", b"0123456789").await;
    let host = t.addr().to_string();
    let week = Duration::from_secs(7 * 24 * 3600);
    let raw = RawRequest::new("GET", &host, "/bkt/k")
        .presigned(week)
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!((raw.status, raw.body.as_slice()), (200, &b"0123456789"[..]));
    let longer = week + Duration::from_secs(1);
    let raw = RawRequest::new("GET", &host, "/bkt/k")
        .presigned(longer)
        .send(t.addr())
        .await
        .unwrap();
    raw.assert_error(400, "AuthorizationQueryParametersError");

    // SigV2: a header-signed request from 2007, and a presigned URL for 8 days.
    let raw = RawRequest::new("GET", &host, "/bkt/k")
        .header("date", "Tue, 27 Mar 2007 21:20:26 GMT")
        .header(
            "authorization",
            &format!("AWS {USER}:bWq2s1WEIj+Ydj0vQ697zp+IXMU="),
        )
        .send(t.addr())
        .await
        .unwrap();
    raw.assert_error(403, "RequestTimeTooSkewed");
    let in_8_days = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 8 * 24 * 3600;
    let target = format!("/bkt/k?AWSAccessKeyId={USER}&Expires={in_8_days}&Signature=x");
    let raw = RawRequest::new("GET", &host, &target)
        .send(t.addr())
        .await
        .unwrap();
    raw.assert_error(400, "AuthorizationQueryParametersError");
}

#[tokio::test]
async fn ranges_s3_cannot_use_are_ignored_and_the_whole_object_returned() {
    let t = S3Env::start();
    t.mb("bkt").await;
    t.put("bkt", "k", b"0123456789").await;
    let host = t.addr().to_string();
    let day = Duration::from_secs(24 * 3600);
    let get = RawRequest::new("GET", &host, "/bkt/k").presigned(day);
    for range in [
        "bytes=0-1,5-6",
        "items=0-5",
        "bytes=0-9223372036854775808",
        "bytes=7-2",
    ] {
        let raw = (get.clone())
            .header("range", range)
            .send(t.addr())
            .await
            .unwrap();
        assert_eq!(
            (raw.status, raw.body.as_slice()),
            (200, &b"0123456789"[..]),
            "{range}: {}",
            raw.text()
        );
    }
    let raw = (get.clone())
        .header("range", "bytes=2-4")
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!((raw.status, raw.body.as_slice()), (206, &b"234"[..]));
}

#[tokio::test]
async fn xml_bodies_over_the_limit_are_the_clients_fault_and_logged_briefly() {
    let t = S3Env::start();
    t.mb("bkt").await;
    let host = t.addr().to_string();
    let upload =
        t.s3.create_multipart_upload()
            .bucket("bkt")
            .key("big")
            .send()
            .await
            .unwrap();
    let upload_id = upload.upload_id().unwrap();
    for target in [
        "/bkt?delete".to_string(),
        format!("/bkt/big?uploadId={upload_id}"),
    ] {
        let mut request = RawRequest::new("POST", &host, &target)
            .body("<Delete>")
            .signed();
        request.declared_length = Some(50 << 20);
        let raw = request.send(t.addr()).await.unwrap();
        assert_eq!(
            (raw.status, raw.code().as_deref()),
            (400, Some("MaxMessageLengthExceeded")),
            "{target}: {}",
            raw.text()
        );
    }
    // Signed, well within the limit, but not XML: refused, and the log keeps it short.
    let garbage = "<Delete><Object><Key>".repeat(30_000);
    let raw = RawRequest::new("POST", &host, "/bkt?delete")
        .body(garbage.clone())
        .signed()
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(raw.status, 400, "{}", raw.text());
    let log = t.log();
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 4096, "a log line of {longest} bytes");
    assert!(
        !log.lines().any(|l| l.contains(" ERROR ")),
        "client mistakes at ERROR:\n{log}"
    );
    // Nothing was deleted or completed: the upload is still there.
    let parts =
        t.s3.list_parts()
            .bucket("bkt")
            .key("big")
            .upload_id(upload_id)
            .send()
            .await;
    assert!(parts.is_ok(), "{parts:?}");
    let put =
        t.s3.put_object()
            .bucket("bkt")
            .key("after")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
    assert!(put.is_ok(), "{put:?}");
}
