//! S3 cases: the protocol corners SDKs and tools meet (README "S3"): request ids on every
//! answer and in every error's XML, ListBuckets' paginated form, GetBucketLocation of the
//! node's `--region`, reads by part number past the last part or of a single-part object,
//! presigned URLs with a bad or spent `X-Amz-Expires`, plain chunked PUT bodies, and a
//! retried CompleteMultipartUpload.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::types::BucketLocationConstraint;
use tessera_tests::pattern;

use crate::s3::*;
use crate::s3_multipart::{MIB, completed, create, part};

/// The `<RequestId>` of an S3 error body.
fn xml_request_id(raw: &Raw) -> Option<String> {
    let text = raw.text();
    let start = text.find("<RequestId>")? + "<RequestId>".len();
    let end = text[start..].find("</RequestId>")? + start;
    Some(text[start..end].to_string())
}

/// Asserts that `raw` carries a well-formed request id and a host id, and returns the id.
#[track_caller]
fn request_id(raw: &Raw) -> String {
    let id = raw.header("x-amz-request-id").expect("x-amz-request-id");
    assert!(
        id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id:?}"
    );
    assert!(
        raw.header("x-amz-id-2").is_some_and(|h| !h.is_empty()),
        "{:?}",
        raw.headers
    );
    id.to_string()
}

#[tokio::test]
async fn every_answer_carries_a_request_id_that_an_error_repeats_in_its_xml() {
    let t = S3Env::start();
    t.mb("ids").await;
    let host = t.addr().to_string();
    let addr = t.addr();
    let send = |req: RawRequest| async move { req.send(addr).await.unwrap() };

    let put = send(
        RawRequest::new("PUT", &host, "/ids/k")
            .body(&b"hello"[..])
            .signed(),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let get = send(RawRequest::new("GET", &host, "/ids/k").signed()).await;
    assert_eq!((get.status, get.body.as_slice()), (200, &b"hello"[..]));
    assert_ne!(
        request_id(&put),
        request_id(&get),
        "each request its own id"
    );

    // An error of the object layer, one of s3s's own (no signature), and one the edge
    // answers before s3s (a presigned URL valid past a week).
    let missing = send(RawRequest::new("GET", &host, "/ids/missing").signed()).await;
    missing.assert_error(404, "NoSuchKey");
    let anonymous = send(RawRequest::new("GET", &host, "/ids/k")).await;
    anonymous.assert_error(403, "AccessDenied");
    let week = Duration::from_secs(7 * 24 * 3600 + 1);
    let edge = send(RawRequest::new("GET", &host, "/ids/k").presigned(week)).await;
    edge.assert_error(400, "AuthorizationQueryParametersError");
    for raw in [&missing, &anonymous, &edge] {
        let id = request_id(raw);
        assert_eq!(xml_request_id(raw), Some(id), "{}", raw.text());
        assert!(raw.text().contains("<HostId>"), "{}", raw.text());
        let length: usize = raw.header("content-length").unwrap().parse().unwrap();
        assert_eq!(length, raw.body.len(), "the length counts the added ids");
    }
    // A HEAD's error has no body, but its headers.
    let head = send(RawRequest::new("HEAD", &host, "/ids/missing").signed()).await;
    assert_eq!(head.status, 404);
    request_id(&head);
}

#[tokio::test]
async fn list_buckets_pages_by_max_buckets_and_filters_by_prefix_and_region() {
    let t = S3Env::start();
    for b in ["alpha1", "alpha2", "alpha3", "beta1"] {
        t.mb(b).await;
    }
    let names = |out: &aws_sdk_s3::operation::list_buckets::ListBucketsOutput| -> Vec<String> {
        out.buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect()
    };
    let all = t.s3.list_buckets().send().await.unwrap();
    assert_eq!(names(&all), ["alpha1", "alpha2", "alpha3", "beta1"]);
    assert_eq!(all.continuation_token(), None);

    let first = t.s3.list_buckets().max_buckets(2).send().await.unwrap();
    assert_eq!(names(&first), ["alpha1", "alpha2"]);
    let token = first.continuation_token().expect("a token for the rest");
    let second = (t.s3.list_buckets().max_buckets(2))
        .continuation_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(names(&second), ["alpha3", "beta1"]);
    assert_eq!(second.continuation_token(), None, "the last page");

    let a = t.s3.list_buckets().prefix("alp").send().await.unwrap();
    assert_eq!(names(&a), ["alpha1", "alpha2", "alpha3"]);
    assert_eq!(a.prefix(), Some("alp"));
    let here = (t.s3.list_buckets().bucket_region("us-east-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(names(&here).len(), 4);
    assert!(
        here.buckets()
            .iter()
            .all(|b| b.bucket_region() == Some("us-east-1"))
    );
    let elsewhere = (t.s3.list_buckets().bucket_region("eu-west-1"))
        .send()
        .await
        .unwrap();
    assert!(names(&elsewhere).is_empty());

    assert_s3_err(
        t.s3.list_buckets().max_buckets(0).send().await,
        400,
        "InvalidArgument",
    );
    assert_s3_err(
        t.s3.list_buckets().continuation_token("%%%").send().await,
        400,
        "InvalidArgument",
    );
}

#[tokio::test]
async fn get_bucket_location_reports_the_region_the_node_is_started_with() {
    let t = S3Env::start_with(4, &["--region", "eu-west-3"]);
    t.mb("paris").await;
    let loc = (t.s3.get_bucket_location().bucket("paris"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        loc.location_constraint(),
        Some(&BucketLocationConstraint::EuWest3)
    );
    let listed = t.s3.list_buckets().send().await.unwrap();
    assert_eq!(listed.buckets()[0].bucket_region(), Some("eu-west-3"));
    let here = (t.s3.list_buckets().bucket_region("eu-west-3"))
        .send()
        .await
        .unwrap();
    assert_eq!(here.buckets().len(), 1);
    assert_s3_err(
        t.s3.get_bucket_location().bucket("nowhere").send().await,
        404,
        "NoSuchBucket",
    );
    assert!(t.log().contains("region eu-west-3"), "the banner names it");
}

#[tokio::test]
async fn a_part_past_the_last_is_invalid_and_a_single_put_is_its_own_part_one() {
    let t = S3Env::start();
    t.mb("parts").await;
    t.put("parts", "single", b"0123456789").await;
    let whole =
        t.s3.get_object()
            .bucket("parts")
            .key("single")
            .part_number(1)
            .send()
            .await
            .unwrap();
    assert_eq!(whole.content_length(), Some(10));
    assert_eq!(whole.content_range(), None, "the whole object, not a range");
    assert_eq!(
        whole.parts_count(),
        None,
        "S3 counts parts of multipart objects"
    );
    assert_eq!(whole.body.collect().await.unwrap().to_vec(), b"0123456789");
    let head =
        t.s3.head_object()
            .bucket("parts")
            .key("single")
            .part_number(1)
            .send()
            .await
            .unwrap();
    assert_eq!(head.content_length(), Some(10));
    let get = |key: &'static str, n: i32| t.s3.get_object().bucket("parts").key(key).part_number(n);
    assert_s3_err(get("single", 2).send().await, 400, "InvalidPart");
    assert_status(
        (t.s3.head_object().bucket("parts").key("single"))
            .part_number(2)
            .send()
            .await,
        400,
    );
    assert_s3_err(get("single", 0).send().await, 400, "InvalidArgument");

    // Two parts: 1 and 2 are ranges, 3 is past the last.
    let id = create(&t, "parts", "multi").await;
    let first = pattern(5 * MIB, 5);
    let e1 = part(&t, "parts", "multi", &id, 1, &first).await;
    let e2 = part(&t, "parts", "multi", &id, 2, b"tail").await;
    (t.s3
        .complete_multipart_upload()
        .bucket("parts")
        .key("multi"))
    .upload_id(&id)
    .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
    .send()
    .await
    .unwrap();
    let p2 = get("multi", 2).send().await.unwrap();
    assert_eq!(p2.parts_count(), Some(2));
    assert_eq!(p2.body.collect().await.unwrap().to_vec(), b"tail");
    assert_s3_err(get("multi", 3).send().await, 400, "InvalidPart");
    assert_status(
        (t.s3.head_object().bucket("parts").key("multi"))
            .part_number(3)
            .send()
            .await,
        400,
    );
}

#[tokio::test]
async fn a_retried_completion_answers_the_same_until_the_key_is_written_again() {
    let t = S3Env::start();
    t.mb("mpu").await;
    let id = create(&t, "mpu", "k").await;
    let first = pattern(5 * MIB, 7);
    let e1 = part(&t, "mpu", "k", &id, 1, &first).await;
    let e2 = part(&t, "mpu", "k", &id, 2, b"end").await;
    let complete = |parts: Vec<(i32, String)>| {
        let parts: Vec<(i32, &str)> = parts.iter().map(|(n, e)| (*n, e.as_str())).collect();
        (t.s3.complete_multipart_upload().bucket("mpu").key("k"))
            .upload_id(&id)
            .multipart_upload(completed(&parts))
            .send()
    };
    let both = vec![(1, e1.clone()), (2, e2.clone())];
    let done = complete(both.clone()).await.unwrap();
    let again = complete(both.clone()).await.expect("a retry succeeds");
    assert_eq!(again.e_tag(), done.e_tag());
    assert_eq!(again.key(), Some("k"));
    assert_eq!(t.get("mpu", "k").await.len(), first.len() + 3);

    // Another list is another request: the upload is gone.
    assert_s3_err(complete(vec![(1, e1.clone())]).await, 404, "NoSuchUpload");
    let wrong = vec![(1, e1.clone()), (2, format!("\"{}\"", "0".repeat(32)))];
    assert_s3_err(complete(wrong).await, 404, "NoSuchUpload");
    // A key written since no longer is what the upload made.
    t.put("mpu", "k", b"new").await;
    assert_s3_err(complete(both).await, 404, "NoSuchUpload");
    assert_eq!(t.get("mpu", "k").await, b"new");
}

#[tokio::test]
async fn presigned_urls_with_a_negative_expiry_are_invalid_and_spent_ones_denied() {
    let t = S3Env::start();
    t.mb("pre").await;
    t.put("pre", "k", b"data").await;
    let host = t.addr().to_string();
    let day = Duration::from_secs(24 * 3600);
    let mut negative = RawRequest::new("GET", &host, "/pre/k").presigned(day);
    assert!(negative.target.contains("X-Amz-Expires=86400"));
    negative.target = negative
        .target
        .replace("X-Amz-Expires=86400", "X-Amz-Expires=-1");
    let raw = negative.send(t.addr()).await.unwrap();
    raw.assert_error(400, "AuthorizationQueryParametersError");

    // Signed an hour ago for a minute.
    let spent = RawRequest::new("GET", &host, "/pre/k")
        .signed_at(SystemTime::now() - Duration::from_secs(3600))
        .presigned(Duration::from_secs(60))
        .send(t.addr())
        .await
        .unwrap();
    spent.assert_error(403, "AccessDenied");
    let fresh = RawRequest::new("GET", &host, "/pre/k")
        .presigned(Duration::from_secs(60))
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!((fresh.status, fresh.body.as_slice()), (200, &b"data"[..]));
}

#[tokio::test]
async fn a_plain_chunked_put_without_a_length_is_stored_whole() {
    let t = S3Env::start();
    t.mb("chunks").await;
    let host = t.addr().to_string();
    // Larger than a block and the inline limit, in uneven chunks.
    let data = pattern(3 * MIB + 12_345, 9);
    let raw = RawRequest::new("PUT", &host, "/chunks/big")
        .body(data.clone())
        .signed()
        .chunked(100_000)
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert!(t.get("chunks", "big").await == data, "bytes differ");
    let head = (t.s3.head_object().bucket("chunks").key("big"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(data.len() as i64));
    // A small one stays inline; an empty one is an empty object.
    for (key, body) in [("small", b"abc".to_vec()), ("empty", Vec::new())] {
        let raw = RawRequest::new("PUT", &host, &format!("/chunks/{key}"))
            .body(body.clone())
            .signed()
            .chunked(2)
            .send(t.addr())
            .await
            .unwrap();
        assert_eq!(raw.status, 200, "{key}: {}", raw.text());
        assert_eq!(t.get("chunks", key).await, body);
    }
}

#[tokio::test]
async fn metadata_values_beyond_printable_ascii_come_back_rfc_2047_encoded() {
    // gRPC and the mount take any UTF-8 metadata value; S3 answers such values as AWS does,
    // as RFC 2047 encoded words (s3s encodes them), and an encoded word an S3 client sends
    // is stored decoded, so gRPC reads the text and S3 the same encoded word.
    use tessera_proto::object as pb;
    let t = S3Env::start();
    t.mb("meta").await;
    let mut c = t.node().client().await;
    let attributes = pb::ObjectAttributes {
        content_type: String::new(),
        user_metadata: [
            ("name", "crème brûlée"),
            ("padded", " x "),
            ("plain", "a b"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    };
    crate::common::put_with(&mut c, "meta", "utf8", b"x", Some(1), Some(attributes))
        .await
        .unwrap();
    let head =
        t.s3.head_object()
            .bucket("meta")
            .key("utf8")
            .send()
            .await
            .unwrap();
    let got = |k: &str| head.metadata().and_then(|m| m.get(k)).cloned();
    assert_eq!(
        got("name").as_deref(),
        Some("=?UTF-8?B?Y3LDqG1lIGJyw7tsw6ll?=")
    );
    assert_eq!(got("padded").as_deref(), Some("=?UTF-8?B?IHgg?="));
    assert_eq!(got("plain").as_deref(), Some("a b"));
    let get =
        t.s3.get_object()
            .bucket("meta")
            .key("utf8")
            .send()
            .await
            .unwrap();
    assert_eq!(get.metadata(), head.metadata());

    (t.s3.put_object().bucket("meta").key("encoded"))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"y"))
        .metadata("name", "=?UTF-8?B?Y3LDqG1l?=")
        .send()
        .await
        .unwrap();
    let head =
        t.s3.head_object()
            .bucket("meta")
            .key("encoded")
            .send()
            .await
            .unwrap();
    let name = head
        .metadata()
        .and_then(|m| m.get("name"))
        .map(String::as_str);
    assert_eq!(name, Some("=?UTF-8?B?Y3LDqG1l?="));
}
