//! S3 cases: CopyObject — metadata directive COPY and REPLACE, copy onto itself, the
//! `x-amz-copy-source-if-*` conditions, and the errors S3 gives (no source range, missing
//! source); UploadPartCopy with source ranges.

use std::collections::HashMap;

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::MetadataDirective;
use tessera_tests::{md5_hex, pattern};

use crate::s3::*;
use crate::s3_multipart::{MIB, completed, create};

async fn put_source(t: &S3Env, key: &str, data: &[u8]) {
    t.s3.put_object()
        .bucket("src")
        .key(key)
        .body(ByteStream::from(data.to_vec()))
        .content_type("image/png")
        .metadata("origin", "camera")
        .cache_control("max-age=1")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn copy_object_copies_bytes_and_metadata_or_replaces_the_metadata() {
    let t = S3Env::start();
    t.mb("src").await;
    t.mb("dst").await;
    // Multi-block, to copy more than the inline case.
    let data = pattern((2 << 20) + 77, 5);
    let key = "dir/a b+c.png";
    put_source(&t, key, &data).await;

    let out =
        t.s3.copy_object()
            .copy_source(format!("src/{}", "dir/a%20b%2Bc.png"))
            .bucket("dst")
            .key("copy.png")
            .send()
            .await
            .unwrap();
    let result = out.copy_object_result().expect("CopyObjectResult");
    assert_eq!(
        result.e_tag(),
        Some(format!("\"{}\"", md5_hex(&data)).as_str())
    );
    assert!(result.last_modified().is_some());
    let head =
        t.s3.head_object()
            .bucket("dst")
            .key("copy.png")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.cache_control(), Some("max-age=1"));
    let origin: HashMap<String, String> = [("origin".into(), "camera".into())].into();
    assert_eq!(head.metadata(), Some(&origin));
    assert!(t.get("dst", "copy.png").await == data);

    // REPLACE: the request's attributes, none of the source's.
    t.s3.copy_object()
        .copy_source(format!("src/{}", "dir/a%20b%2Bc.png"))
        .bucket("dst")
        .key("replaced.png")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("text/plain")
        .metadata("new", "yes")
        .send()
        .await
        .unwrap();
    let head =
        t.s3.head_object()
            .bucket("dst")
            .key("replaced.png")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert!(head.cache_control().is_none(), "{head:?}");
    let new: HashMap<String, String> = [("new".into(), "yes".into())].into();
    assert_eq!(head.metadata(), Some(&new));
    assert!(t.get("dst", "replaced.png").await == data);
    // The source is untouched.
    assert!(t.get("src", key).await == data);
}

#[tokio::test]
async fn copying_an_object_onto_itself_needs_the_replace_directive() {
    let t = S3Env::start();
    t.mb("src").await;
    put_source(&t, "self", b"self data").await;
    assert_s3_err(
        t.s3.copy_object()
            .copy_source("src/self")
            .bucket("src")
            .key("self")
            .send()
            .await,
        400,
        "InvalidRequest",
    );
    t.s3.copy_object()
        .copy_source("src/self")
        .bucket("src")
        .key("self")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("origin", "edited")
        .content_type("text/plain")
        .send()
        .await
        .unwrap();
    let head =
        t.s3.head_object()
            .bucket("src")
            .key("self")
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("edited")
    );
    assert_eq!(t.get("src", "self").await, b"self data");
}

#[tokio::test]
async fn copy_source_conditions_that_fail_answer_412_and_copy_nothing() {
    let t = S3Env::start();
    t.mb("src").await;
    put_source(&t, "k", b"conditional").await;
    let etag = format!("\"{}\"", md5_hex(b"conditional"));
    let past = DateTime::from_secs(1_000_000_000);
    let future = DateTime::from_secs(4_000_000_000);
    let copy = || {
        t.s3.copy_object()
            .copy_source("src/k")
            .bucket("src")
            .key("copy")
    };
    for (i, r) in [
        copy()
            .copy_source_if_match("\"ffffffffffffffffffffffffffffffff\"")
            .send()
            .await,
        copy().copy_source_if_none_match(&etag).send().await,
        copy().copy_source_if_modified_since(future).send().await,
        copy().copy_source_if_unmodified_since(past).send().await,
    ]
    .into_iter()
    .enumerate()
    {
        let msg = format!("case {i}");
        assert_s3_err(r, 412, "PreconditionFailed");
        assert!(!t.exists("src", "copy").await, "{msg}: a failed copy wrote");
    }
    copy()
        .copy_source_if_match(&etag)
        .copy_source_if_unmodified_since(future)
        .send()
        .await
        .unwrap();
    copy()
        .copy_source_if_none_match("\"ffffffffffffffffffffffffffffffff\"")
        .copy_source_if_modified_since(past)
        .send()
        .await
        .unwrap();
    assert_eq!(t.get("src", "copy").await, b"conditional");
}

#[tokio::test]
async fn copy_object_refuses_a_source_range_and_reports_a_missing_source() {
    let t = S3Env::start();
    t.mb("src").await;
    put_source(&t, "k", b"0123456789").await;
    let r =
        t.s3.copy_object()
            .copy_source("src/k")
            .bucket("src")
            .key("ranged")
            .customize()
            .mutate_request(|req| {
                req.headers_mut()
                    .insert("x-amz-copy-source-range", "bytes=0-4");
            })
            .send()
            .await;
    assert_s3_err(r, 400, "InvalidRequest");
    assert!(!t.exists("src", "ranged").await);
    assert_s3_err(
        t.s3.copy_object()
            .copy_source("src/missing")
            .bucket("src")
            .key("x")
            .send()
            .await,
        404,
        "NoSuchKey",
    );
    assert_s3_err(
        t.s3.copy_object()
            .copy_source("nobucket/k")
            .bucket("src")
            .key("x")
            .send()
            .await,
        404,
        "NoSuchBucket",
    );
    assert_s3_err(
        t.s3.copy_object()
            .copy_source("src/k")
            .bucket("nobucket")
            .key("x")
            .send()
            .await,
        404,
        "NoSuchBucket",
    );
}

#[tokio::test]
async fn upload_part_copy_copies_ranges_of_existing_objects_into_parts() {
    let t = S3Env::start();
    t.mb("multi").await;
    let src = pattern(11 * MIB + 100, 6);
    t.put("multi", "source", &src).await;
    t.put("multi", "tail", b"tail object").await;
    let id = create(&t, "multi", "assembled").await;
    let copy = |n: i32, source: &str, range: Option<String>| {
        t.s3.upload_part_copy()
            .bucket("multi")
            .key("assembled")
            .upload_id(&id)
            .part_number(n)
            .copy_source(source)
            .set_copy_source_range(range)
            .send()
    };
    let first = copy(1, "multi/source", Some(format!("bytes=0-{}", 5 * MIB - 1)))
        .await
        .unwrap();
    let e1 = first
        .copy_part_result()
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    assert_eq!(e1, format!("\"{}\"", md5_hex(&src[..5 * MIB])));
    let second = copy(
        2,
        "multi/source",
        Some(format!("bytes={}-{}", 5 * MIB, src.len() - 1)),
    )
    .await
    .unwrap();
    let e2 = second
        .copy_part_result()
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    let third = copy(3, "multi/tail", None).await.unwrap();
    let e3 = third
        .copy_part_result()
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();

    assert_s3_err(
        copy(4, "multi/source", Some(format!("bytes=0-{}", src.len()))).await,
        416,
        "InvalidRange",
    );
    assert_s3_err(
        copy(4, "multi/source", Some("bytes=9-1".into())).await,
        400,
        "InvalidArgument",
    );
    assert_s3_err(copy(4, "multi/missing", None).await, 404, "NoSuchKey");
    assert_s3_err(
        t.s3.upload_part_copy()
            .bucket("multi")
            .key("assembled")
            .upload_id(&id)
            .part_number(4)
            .copy_source("multi/tail")
            .copy_source_if_match("\"ffffffffffffffffffffffffffffffff\"")
            .send()
            .await,
        412,
        "PreconditionFailed",
    );

    t.s3.complete_multipart_upload()
        .bucket("multi")
        .key("assembled")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2), (3, &e3)]))
        .send()
        .await
        .unwrap();
    let mut want = src.clone();
    want.extend_from_slice(b"tail object");
    assert!(t.get("multi", "assembled").await == want);
}
