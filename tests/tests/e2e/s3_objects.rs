//! S3 cases: PutObject, GetObject, HeadObject, DeleteObject(s) — bodies at the storage
//! edges, stored metadata and standard headers, Content-MD5 and x-amz-checksum-*
//! verification (headers and aws-chunked trailers), key validation, idempotent deletes.

use std::collections::HashMap;

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ChecksumAlgorithm, Delete, ObjectIdentifier};
use aws_sigv4::http_request::SignableBody;
use tessera_tests::{md5_hex, pattern};

use crate::common::edge_sizes;
use crate::s3::*;

fn quoted_md5(data: &[u8]) -> String {
    format!("\"{}\"", md5_hex(data))
}

#[tokio::test]
async fn put_then_get_and_head_return_the_same_bytes_at_every_edge_size() {
    let t = S3Env::start();
    t.mb("sizes").await;
    for (i, size) in edge_sizes().into_iter().enumerate() {
        let data = pattern(size, i as u64);
        let key = format!("size/{size}");
        let etag = t.put("sizes", &key, &data).await;
        assert_eq!(etag, quoted_md5(&data), "ETag is the MD5 (size {size})");
        assert!(t.get("sizes", &key).await == data, "bytes differ at {size}");
        let head =
            t.s3.head_object()
                .bucket("sizes")
                .key(&key)
                .send()
                .await
                .unwrap();
        assert_eq!(head.content_length(), Some(size as i64));
        assert_eq!(head.e_tag(), Some(etag.as_str()));
        assert_eq!(head.accept_ranges(), Some("bytes"));
        assert!(head.last_modified().is_some());
    }
}

#[tokio::test]
async fn put_stores_user_metadata_and_standard_headers_that_get_and_head_return() {
    let t = S3Env::start();
    t.mb("meta").await;
    let expires = DateTime::from_secs(2_000_000_000);
    let data = pattern(300_000, 1);
    t.s3.put_object()
        .bucket("meta")
        .key("doc.html")
        .body(ByteStream::from(data.clone()))
        .content_type("text/html; charset=utf-8")
        .metadata("Origin", "s3-test")
        .metadata("multi-word-key", "value with spaces")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"doc.html\"")
        .content_encoding("identity")
        .content_language("de-CH")
        .expires(expires)
        .send()
        .await
        .unwrap();

    let want_meta: HashMap<String, String> = [
        ("origin".to_string(), "s3-test".to_string()),
        (
            "multi-word-key".to_string(),
            "value with spaces".to_string(),
        ),
    ]
    .into();
    let got =
        t.s3.get_object()
            .bucket("meta")
            .key("doc.html")
            .send()
            .await
            .unwrap();
    assert_eq!(got.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(got.metadata(), Some(&want_meta));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(
        got.content_disposition(),
        Some("attachment; filename=\"doc.html\"")
    );
    assert_eq!(got.content_encoding(), Some("identity"));
    assert_eq!(got.content_language(), Some("de-CH"));
    assert_eq!(got.expires_string(), Some("Wed, 18 May 2033 03:33:20 GMT"));
    assert_eq!(got.e_tag(), Some(quoted_md5(&data).as_str()));
    assert!(got.body.collect().await.unwrap().to_vec() == data);

    let head =
        t.s3.head_object()
            .bucket("meta")
            .key("doc.html")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_type(), Some("text/html; charset=utf-8"));
    assert_eq!(head.metadata(), Some(&want_meta));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(head.content_encoding(), Some("identity"));
    assert_eq!(head.content_language(), Some("de-CH"));
    assert_eq!(head.expires_string(), Some("Wed, 18 May 2033 03:33:20 GMT"));
    assert_eq!(head.content_length(), Some(data.len() as i64));

    // Overwrite without attributes: the old ones are gone, the type is S3's default.
    t.put("meta", "doc.html", b"plain").await;
    let head =
        t.s3.head_object()
            .bucket("meta")
            .key("doc.html")
            .send()
            .await
            .unwrap();
    assert!(head.metadata().is_none_or(|m| m.is_empty()), "{head:?}");
    assert!(head.cache_control().is_none(), "{head:?}");
    assert_eq!(head.content_length(), Some(5));
}

#[tokio::test]
async fn a_content_encoding_survives_an_aws_chunked_upload_without_the_chunked_marker() {
    // A streamed body with an SDK checksum goes up aws-chunked; the stored
    // Content-Encoding must be the client's, not "aws-chunked".
    let t = S3Env::start();
    t.mb("enc").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body.gz");
    let data = pattern(20_000, 9);
    std::fs::write(&path, &data).unwrap();
    t.s3.put_object()
        .bucket("enc")
        .key("body.gz")
        .body(ByteStream::from_path(&path).await.unwrap())
        .content_encoding("gzip")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}\nnode log:\n{}", t.log()));
    let head =
        t.s3.head_object()
            .bucket("enc")
            .key("body.gz")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_encoding(), Some("gzip"), "{head:?}");
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert!(t.get("enc", "body.gz").await == data);
}

#[tokio::test]
async fn a_wrong_content_md5_is_refused_with_bad_digest_and_stores_nothing() {
    let t = S3Env::start();
    t.mb("md5").await;
    assert_s3_err(
        t.s3.put_object()
            .bucket("md5")
            .key("k")
            .body(ByteStream::from_static(b"123456789"))
            // MD5 of "12345678" instead.
            .content_md5("JdVa0vZB1pBt3hLfq3tSUQ==")
            .send()
            .await,
        400,
        "BadDigest",
    );
    assert!(!t.exists("md5", "k").await);
    t.s3.put_object()
        .bucket("md5")
        .key("k")
        .body(ByteStream::from_static(b"123456789"))
        .content_md5("JfnnlDI7RTiF9RgfG2JNCw==")
        .send()
        .await
        .unwrap();
    assert_eq!(t.get("md5", "k").await, b"123456789");
}

/// The checksums of "123456789" (the standard check input), base64 as S3 sends them.
pub(crate) const CHECKS: [(&str, &str); 5] = [
    ("crc32", "y/Q5Jg=="),
    ("crc32c", "4waSgw=="),
    ("crc64nvme", "rosUhgp5mIg="),
    ("sha1", "98O8HYCOBHMq32eZZczDTKeuNEE="),
    ("sha256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="),
];

pub(crate) fn algorithm(name: &str) -> ChecksumAlgorithm {
    match name {
        "crc32" => ChecksumAlgorithm::Crc32,
        "crc32c" => ChecksumAlgorithm::Crc32C,
        "crc64nvme" => ChecksumAlgorithm::Crc64Nvme,
        "sha1" => ChecksumAlgorithm::Sha1,
        _ => ChecksumAlgorithm::Sha256,
    }
}

fn returned(
    out: &aws_sdk_s3::operation::put_object::PutObjectOutput,
    name: &str,
) -> Option<String> {
    match name {
        "crc32" => out.checksum_crc32.clone(),
        "crc32c" => out.checksum_crc32_c.clone(),
        "crc64nvme" => out.checksum_crc64_nvme.clone(),
        "sha1" => out.checksum_sha1.clone(),
        _ => out.checksum_sha256.clone(),
    }
}

#[tokio::test]
async fn checksums_of_every_algorithm_are_verified_and_returned_on_put() {
    let t = S3Env::start();
    t.mb("sums").await;
    let body = b"123456789";
    for (name, value) in CHECKS {
        // The SDK computes the checksum (header or aws-chunked trailer, its choice).
        let out =
            t.s3.put_object()
                .bucket("sums")
                .key(format!("sdk/{name}"))
                .body(ByteStream::from_static(body))
                .checksum_algorithm(algorithm(name))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            returned(&out, name).as_deref(),
            Some(value),
            "{name}: {out:?}"
        );

        // A wrong checksum in a header: BadDigest, nothing stored.
        let wrong = CHECKS.iter().find(|(n, _)| *n != name).unwrap().1;
        let key = format!("header/{name}");
        let r =
            t.s3.put_object()
                .bucket("sums")
                .key(&key)
                .body(ByteStream::from_static(body))
                .customize()
                .mutate_request(move |req| {
                    // Replace whatever the SDK computed by a declared wrong value.
                    let names: Vec<String> = req
                        .headers()
                        .iter()
                        .map(|(n, _)| n.to_string())
                        .filter(|n| {
                            n.starts_with("x-amz-checksum-") || n == "x-amz-sdk-checksum-algorithm"
                        })
                        .collect();
                    for n in names {
                        req.headers_mut().remove(n);
                    }
                    req.headers_mut()
                        .insert(format!("x-amz-checksum-{name}"), wrong.to_string());
                })
                .send()
                .await;
        assert_s3_err(r, 400, "BadDigest");
        assert!(
            !t.exists("sums", &key).await,
            "{name}: a refused PUT stored the object"
        );

        // A wrong checksum in the trailer of an aws-chunked body: BadDigest, nothing stored.
        let key = format!("trailer/{name}");
        let chunked = |value: &str| {
            let header = format!("x-amz-checksum-{name}");
            RawRequest::new("PUT", &t.addr().to_string(), &format!("/sums/{key}"))
                .header("content-encoding", "aws-chunked")
                .header("x-amz-decoded-content-length", "9")
                .header("x-amz-trailer", &header)
                .body(format!("9\r\n123456789\r\n0\r\n{header}:{value}\r\n\r\n"))
                .signed_as(SignableBody::StreamingUnsignedPayloadTrailer)
        };
        let resp = chunked(wrong).send(t.addr()).await.unwrap();
        assert_eq!(
            (resp.status, resp.code().as_deref()),
            (400, Some("BadDigest")),
            "{name}: {}",
            resp.text()
        );
        assert!(
            !t.exists("sums", &key).await,
            "{name}: a refused PUT stored the object"
        );
        let resp = chunked(value).send(t.addr()).await.unwrap();
        assert_eq!(resp.status, 200, "{name}: {}", resp.text());
        assert_eq!(
            resp.header(&format!("x-amz-checksum-{name}")),
            Some(value),
            "{name}: the verified trailer checksum is returned"
        );
        assert_eq!(t.get("sums", &key).await, body);
    }
}

#[tokio::test]
async fn missing_keys_answer_no_such_key_and_deletes_are_idempotent() {
    let t = S3Env::start();
    t.mb("del").await;
    assert_s3_err(
        t.s3.get_object().bucket("del").key("missing").send().await,
        404,
        "NoSuchKey",
    );
    assert_status(
        t.s3.head_object().bucket("del").key("missing").send().await,
        404,
    );
    t.put("del", "k", b"v").await;
    for _ in 0..2 {
        t.s3.delete_object()
            .bucket("del")
            .key("k")
            .send()
            .await
            .expect("deleting, even what is gone, succeeds");
    }
    assert!(!t.exists("del", "k").await);
    t.s3.delete_object()
        .bucket("del")
        .key("never/was")
        .send()
        .await
        .unwrap();
    assert_s3_err(
        t.s3.delete_object()
            .bucket("nobucket")
            .key("k")
            .send()
            .await,
        404,
        "NoSuchBucket",
    );
}

fn ids(keys: &[&str]) -> Delete {
    Delete::builder()
        .set_objects(Some(
            keys.iter()
                .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                .collect(),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn delete_objects_reports_every_key_verbose_and_only_errors_when_quiet() {
    let t = S3Env::start();
    t.mb("batch").await;
    for k in ["a", "b", "c/d", "e"] {
        t.put("batch", k, k.as_bytes()).await;
    }
    let out =
        t.s3.delete_objects()
            .bucket("batch")
            .delete(ids(&["a", "c/d", "missing", "a//b"]))
            .send()
            .await
            .unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    assert_eq!(deleted, ["a", "c/d", "missing"], "{out:?}");
    assert_eq!(out.errors().len(), 1, "{out:?}");
    assert_eq!(out.errors()[0].key(), Some("a//b"));
    assert_eq!(out.errors()[0].code(), Some("InvalidArgument"));
    assert_eq!(t.keys("batch").await, ["b", "e"]);

    let mut quiet = ids(&["b", "missing"]);
    quiet.quiet = Some(true);
    let out =
        t.s3.delete_objects()
            .bucket("batch")
            .delete(quiet)
            .send()
            .await
            .unwrap();
    assert!(
        out.deleted().is_empty() && out.errors().is_empty(),
        "{out:?}"
    );
    assert_eq!(t.keys("batch").await, ["e"]);

    let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_s3_err(
        t.s3.delete_objects()
            .bucket("batch")
            .delete(ids(&many))
            .send()
            .await,
        400,
        "MalformedXML",
    );
    assert_eq!(t.keys("batch").await, ["e"]);
}

#[tokio::test]
async fn keys_that_cannot_be_paths_are_refused_and_long_keys_are_too_long() {
    // DESIGN "On-disk format": keys are validated at the edge.
    let t = S3Env::start();
    t.mb("keys").await;
    for key in ["a//b", "a/./b", "a/../b", "x/tessera.meta", "dir/"] {
        let r =
            t.s3.put_object()
                .bucket("keys")
                .key(key)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await;
        if key == "dir/" {
            // A directory marker is a valid key.
            r.unwrap();
            continue;
        }
        assert_s3_err(r, 400, "InvalidArgument");
    }
    let long_key = "k".repeat(1025);
    let long_segment = format!("a/{}", "s".repeat(256));
    for key in [&long_key, &long_segment] {
        assert_s3_err(
            t.s3.put_object()
                .bucket("keys")
                .key(key)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await,
            400,
            "KeyTooLongError",
        );
    }
    // Keys S3 allows: spaces, unicode, reserved URL characters, 1024 bytes.
    // 1024 bytes in segments of at most 255 (DESIGN "On-disk format").
    let max = format!("{}/{}", vec!["m".repeat(200); 4].join("/"), "m".repeat(220));
    assert_eq!(max.len(), 1024);
    for key in [
        "with space",
        "ünïcødé/ключ",
        "a+b=c&d?e#f%g",
        "semi;colon",
        &max,
    ] {
        let data = key.as_bytes();
        t.put("keys", key, data).await;
        assert_eq!(t.get("keys", key).await, data, "{key}");
    }
    let mut want = vec![
        "a+b=c&d?e#f%g".to_string(),
        "dir/".to_string(),
        max.clone(),
        "semi;colon".to_string(),
        "with space".to_string(),
        "ünïcødé/ключ".to_string(),
    ];
    want.sort();
    assert_eq!(t.keys("keys").await, want);
}
