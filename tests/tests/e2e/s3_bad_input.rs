//! S3 cases: bad input gets a clear error, the node keeps serving and nothing is stored
//! (DESIGN "Security") — malformed XML bodies, bogus headers, huge declared lengths with
//! short bodies; unsupported operations answer NotImplemented; lost quorum answers
//! ServiceUnavailable.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use tessera_tests::pattern;

use crate::s3::*;

/// Files left in the staging directories of every drive.
fn staging_files(drives: &[std::path::PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    for d in drives {
        let mut stack = vec![d.join(".tessera/tmp")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path().display().to_string());
                }
            }
        }
    }
    out
}

/// Waits up to 5 s for the staging directories to empty (a failed write cleans up after
/// its body stream ends); returns what is left.
async fn staging_left(drives: &[std::path::PathBuf]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = staging_files(drives);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The node still answers a normal round trip.
async fn still_serving(t: &S3Env, bucket: &str) {
    t.put(bucket, "alive", b"still serving").await;
    assert_eq!(t.get(bucket, "alive").await, b"still serving");
    t.s3.delete_object()
        .bucket(bucket)
        .key("alive")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn malformed_xml_bodies_are_refused_with_malformed_xml_and_change_nothing() {
    let t = S3Env::start();
    t.mb("xml").await;
    t.put("xml", "a", b"a").await;
    t.put("xml", "b", b"b").await;
    let id =
        t.s3.create_multipart_upload()
            .bucket("xml")
            .key("mp")
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();
    let part =
        t.s3.upload_part()
            .bucket("xml")
            .key("mp")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from_static(b"part"))
            .send()
            .await
            .unwrap();
    let host = t.addr().to_string();
    let garbage = [
        "this is not xml <<<",
        "<Delete><Object><Key>a</Key>",
        "<?xml version=\"1.0\"?><Delete><Object><Key>a</Key></Object></Nope>",
        "\u{0}\u{1}\u{2}binary",
    ];
    for body in garbage {
        let raw = RawRequest::new("POST", &host, "/xml?delete")
            .body(body)
            .signed()
            .send(t.addr())
            .await
            .unwrap();
        assert_eq!(
            (raw.status, raw.code().as_deref()),
            (400, Some("MalformedXML")),
            "DeleteObjects {body:?}: {}",
            raw.text()
        );
        let raw = RawRequest::new("POST", &host, &format!("/xml/mp?uploadId={id}"))
            .body(body)
            .signed()
            .send(t.addr())
            .await
            .unwrap();
        assert_eq!(
            (raw.status, raw.code().as_deref()),
            (400, Some("MalformedXML")),
            "CompleteMultipartUpload {body:?}: {}",
            raw.text()
        );
    }
    assert_eq!(t.keys("xml").await, ["a", "b"]);
    // The upload is intact and completes.
    let parts =
        t.s3.list_parts()
            .bucket("xml")
            .key("mp")
            .upload_id(&id)
            .send()
            .await
            .unwrap();
    assert_eq!(parts.parts().len(), 1);
    t.s3.complete_multipart_upload()
        .bucket("xml")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .set_e_tag(part.e_tag)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(t.get("xml", "mp").await, b"part");
}

#[tokio::test]
async fn bogus_headers_get_a_client_error_and_store_nothing() {
    let t = S3Env::start();
    t.mb("hdr").await;
    let host = t.addr().to_string();
    let long = "v".repeat(64 << 10);
    // (header, value): each on a signed PUT of "bogus/N".
    let cases: Vec<(&str, String)> = vec![
        ("content-md5", "not base64 !!".into()),
        ("content-md5", "AAAA".into()),
        ("x-amz-checksum-crc32", "!!!".into()),
        ("x-amz-checksum-sha256", "c2hvcnQ=".into()),
        ("x-amz-sdk-checksum-algorithm", "ROT13".into()),
        ("x-amz-meta-huge", long),
        ("x-amz-copy-source", "///".into()),
    ];
    // Every case runs; the problems are reported together.
    let mut problems = Vec::new();
    for (i, (name, value)) in cases.iter().enumerate() {
        let raw = RawRequest::new("PUT", &host, &format!("/hdr/bogus/{i}"))
            .header(name, value)
            .body("payload")
            .signed()
            .send(t.addr())
            .await;
        match raw {
            Ok(raw) if (400..500).contains(&raw.status) => {}
            Ok(raw) => problems.push(format!(
                "PUT with {name}: {value:.40} answered {} {}",
                raw.status,
                raw.text()
            )),
            // A header block too large may be cut off by the HTTP layer.
            Err(_) if *name == "x-amz-meta-huge" => {}
            Err(e) => problems.push(format!("PUT with {name}: {value:.40}: {e}")),
        }
    }
    // Lengths the HTTP layer itself refuses (unsigned: refused before auth).
    for value in ["abc", "-5", "1, 2"] {
        let wire = format!(
            "PUT /hdr/raw HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {value}\r\n\r\npayload"
        );
        let status = raw_status(t.addr(), wire.as_bytes()).await;
        if !status.is_none_or(|s| (400..500).contains(&s)) {
            problems.push(format!("content-length: {value} answered {status:?}"));
        }
    }
    // Authentication headers that make no sense (replacing the signed ones).
    for (name, value) in [
        ("x-amz-date", "yesterday"),
        ("authorization", "AWS4-HMAC-SHA256 garbage"),
        ("x-amz-content-sha256", "not-a-hash"),
    ] {
        let raw = RawRequest::new("PUT", &host, "/hdr/raw")
            .body("payload")
            .signed()
            .set_header(name, value)
            .send(t.addr())
            .await
            .unwrap();
        if !(400..500).contains(&raw.status) {
            problems.push(format!(
                "PUT with {name}: {value} answered {} {}",
                raw.status,
                raw.text()
            ));
        }
    }
    // A Range that is not a byte range: S3 ignores it (RFC 9110 §14.2) and sends it all.
    t.put("hdr", "ranged", b"0123456789").await;
    let raw = RawRequest::new("GET", &host, "/hdr/ranged")
        .header("range", "bytes=abc")
        .signed()
        .send(t.addr())
        .await
        .unwrap();
    if !(raw.status == 200 && raw.body == b"0123456789" || (400..500).contains(&raw.status)) {
        problems.push(format!("GET with range: bytes=abc answered {raw:?}"));
    }
    let keys = t.keys("hdr").await;
    if keys != ["ranged"] {
        problems.push(format!("refused requests stored objects: {keys:?}"));
    }
    still_serving(&t, "hdr").await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Sends raw bytes; the status line's code, or None if the server closed without one.
async fn raw_status(addr: std::net::SocketAddr, wire: &[u8]) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(wire).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1).and_then(|c| c.parse().ok())
}

#[tokio::test]
async fn huge_declared_lengths_with_short_bodies_fail_cleanly_and_store_nothing() {
    let t = S3Env::start();
    t.mb("len").await;
    let host = t.addr().to_string();

    // Over S3's 5 TiB object limit: refused before any body is read.
    let mut req = RawRequest::new("PUT", &host, "/len/huge")
        .body("short")
        .signed();
    req.declared_length = Some(10 << 40);
    let raw = req.send(t.addr()).await.unwrap();
    assert_eq!(
        (raw.status, raw.code().as_deref()),
        (400, Some("EntityTooLarge")),
        "{}",
        raw.text()
    );

    // 1 GiB declared, 64 KiB sent, then end of input: an error or a closed connection,
    // never an object.
    for (target, size) in [("/len/short", 1u64 << 30), ("/len/small-short", 100_000)] {
        let mut req = RawRequest::new("PUT", &host, target)
            .body(pattern(64 << 10, 2))
            .signed();
        req.declared_length = Some(size);
        match req.send(t.addr()).await {
            Ok(raw) => {
                eprintln!("{target}: {} {:?}", raw.status, raw.code());
                assert!(
                    (400..500).contains(&raw.status),
                    "{target}: {} {}",
                    raw.status,
                    raw.text()
                )
            }
            Err(e) => eprintln!("{target}: closed without an answer: {e}"),
        }
    }

    // The same for a part.
    let id =
        t.s3.create_multipart_upload()
            .bucket("len")
            .key("mp")
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();
    let mut req = RawRequest::new("PUT", &host, &format!("/len/mp?partNumber=1&uploadId={id}"))
        .body("short")
        .signed();
    req.declared_length = Some(6 << 30);
    let raw = req.send(t.addr()).await.unwrap();
    assert_eq!(
        (raw.status, raw.code().as_deref()),
        (400, Some("EntityTooLarge")),
        "{}",
        raw.text()
    );
    let mut req = RawRequest::new("PUT", &host, &format!("/len/mp?partNumber=2&uploadId={id}"))
        .body("short")
        .signed();
    req.declared_length = Some(1 << 20);
    let _ = req.send(t.addr()).await;
    let parts =
        t.s3.list_parts()
            .bucket("len")
            .key("mp")
            .upload_id(&id)
            .send()
            .await
            .unwrap();
    assert!(parts.parts().is_empty(), "a short part was kept: {parts:?}");

    assert!(t.keys("len").await.is_empty(), "nothing stored");
    let left = staging_left(&t.node().drives).await;
    assert!(left.is_empty(), "staging files left behind: {left:?}");
    still_serving(&t, "len").await;
}

#[tokio::test]
async fn unsupported_operations_answer_not_implemented_never_a_silent_success() {
    let t = S3Env::start();
    t.mb("notimpl").await;
    t.put("notimpl", "k", b"v").await;
    // (Bucket policies, ACLs, CORS, versioning, object lock and lifecycle are implemented:
    // `iam_anonymous_*`, `s3_acl`, `s3_cors`, `s3_versioning`, `s3_object_lock`,
    // `s3_lifecycle`.)
    assert_s3_err(
        t.s3.get_bucket_encryption().bucket("notimpl").send().await,
        501,
        "NotImplemented",
    );
    let v =
        t.s3.get_bucket_versioning()
            .bucket("notimpl")
            .send()
            .await
            .unwrap();
    assert!(v.status().is_none(), "versioning stays off: {v:?}");
    assert_s3_err(
        t.s3.get_bucket_website().bucket("notimpl").send().await,
        501,
        "NotImplemented",
    );
    assert_s3_err(
        t.s3.get_bucket_replication().bucket("notimpl").send().await,
        501,
        "NotImplemented",
    );
    assert_eq!(t.get("notimpl", "k").await, b"v");
}

#[tokio::test]
async fn lost_quorum_answers_service_unavailable_and_writes_nothing() {
    let t = S3Env::start();
    t.mb("quorum").await;
    let data = pattern(3 << 20, 7);
    t.put("quorum", "big", &data).await;
    t.put("quorum", "small", b"small").await;
    // 2+2 writes need 3 drives: leave 2.
    t.node().wipe_drive(0);
    t.node().wipe_drive(3);
    for (key, size) in [("new-small", 100), ("new-large", 2 << 20)] {
        assert_s3_err(
            t.s3.put_object()
                .bucket("quorum")
                .key(key)
                .body(ByteStream::from(pattern(size, 1)))
                .send()
                .await,
            503,
            "ServiceUnavailable",
        );
    }
    // Reads still work with k = 2 drives.
    assert!(t.get("quorum", "big").await == data);
    // Reads need 2: leave 1.
    t.node().wipe_drive(1);
    for key in ["big", "small"] {
        assert_s3_err(
            t.s3.get_object().bucket("quorum").key(key).send().await,
            503,
            "ServiceUnavailable",
        );
    }
    assert!(
        !Path::new(&t.node().drives[2])
            .join("quorum/new-small")
            .exists()
    );
}

#[tokio::test]
async fn browser_form_posts_are_refused_before_their_body_is_read() {
    // PostObject is not implemented; s3s would read the form into memory before checking
    // who sent it, so an anonymous 1 GiB form must be refused at once, unread.
    let t = S3Env::start();
    t.mb("form").await;
    let host = t.addr().to_string();
    let mut req = RawRequest::new("POST", &host, "/form")
        .header("Content-Type", "multipart/form-data; boundary=xyz")
        .body("--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n");
    req.declared_length = Some(1 << 30);
    let raw = req.send(t.addr()).await.expect("an answer");
    assert_eq!(
        (raw.status, raw.code().as_deref()),
        (501, Some("NotImplemented")),
        "{}",
        raw.text()
    );
    assert!(t.keys("form").await.is_empty());
    t.put("form", "after", b"still serving").await;
}
