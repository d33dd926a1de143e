//! The attributes stored beside an object are bounded and valid as HTTP headers, whichever
//! front end sends them: user metadata ≤ 2 KiB with token names, everything ≤ 8 KiB, no
//! control characters (README "What works"). A refused request stores nothing.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream;
use tessera_proto::object as pb;
use tonic::Code;

use crate::common::*;
use crate::s3::{S3Env, assert_s3_err};

fn attrs(content_type: &str, meta: &[(&str, String)]) -> pb::ObjectAttributes {
    pb::ObjectAttributes {
        content_type: content_type.into(),
        user_metadata: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

#[tokio::test]
async fn grpc_attributes_out_of_bounds_are_refused_and_store_nothing() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "attrs").await;
    let cases = [
        (
            "space in name",
            attrs("", &[("a b", "v".into())]),
            "InvalidArgument",
        ),
        (
            "empty name",
            attrs("", &[("", "v".into())]),
            "InvalidArgument",
        ),
        (
            "newline in value",
            attrs("", &[("k", "a\nb".into())]),
            "InvalidArgument",
        ),
        (
            "control in type",
            attrs("text/\u{1}plain", &[]),
            "InvalidArgument",
        ),
        (
            "2 KiB + 1",
            attrs("", &[("k", "v".repeat(2048))]),
            "MetadataTooLarge",
        ),
        (
            "8 KiB + 1",
            attrs(&"t".repeat(8193), &[]),
            "MetadataTooLarge",
        ),
    ];
    for (what, a, name) in cases {
        let s = assert_code(
            put_with(&mut c, "attrs", "k", b"x", None, Some(a)).await,
            Code::InvalidArgument,
        );
        assert_eq!(s.metadata().get("x-tessera-error").unwrap(), name, "{what}");
    }
    assert_code(head(&mut c, "attrs", "k").await, Code::NotFound);
    // Within bounds: stored and returned; an update may not grow it past them.
    let ok = attrs(
        "text/plain",
        &[("k", "v".repeat(2000)), ("tab", "a\tb".into())],
    );
    put_with(&mut c, "attrs", "k", b"x", None, Some(ok))
        .await
        .expect("put within bounds");
    let grow = c
        .update_object_metadata(pb::UpdateObjectMetadataRequest {
            bucket: "attrs".into(),
            key: "k".into(),
            set: [("more".to_string(), "m".repeat(100))].into(),
            remove: vec![],
        })
        .await;
    let s = assert_code(grow, Code::InvalidArgument);
    assert_eq!(
        s.metadata().get("x-tessera-error").unwrap(),
        "MetadataTooLarge"
    );
    let bad_name = c
        .update_object_metadata(pb::UpdateObjectMetadataRequest {
            bucket: "attrs".into(),
            key: "k".into(),
            set: [("x:y".to_string(), "1".into())].into(),
            remove: vec![],
        })
        .await;
    assert_code(bad_name, Code::InvalidArgument);
    let info = head(&mut c, "attrs", "k").await.expect("head");
    assert_eq!(info.user_metadata.len(), 2);
    assert!(!info.user_metadata.contains_key("more"));
}

#[tokio::test]
async fn s3_headers_over_the_attribute_bounds_answer_metadata_too_large() {
    let t = S3Env::start();
    t.mb("attrs").await;
    let big_meta: HashMap<String, String> = [("k".to_string(), "v".repeat(2100))].into();
    let r =
        t.s3.put_object()
            .bucket("attrs")
            .key("meta")
            .set_metadata(Some(big_meta))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
    assert_s3_err(r, 400, "MetadataTooLarge");
    // Standard headers count too: 9 KB of Cache-Control is more than the 8 KiB allowed.
    let r =
        t.s3.put_object()
            .bucket("attrs")
            .key("headers")
            .cache_control("x".repeat(9000))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
    assert_s3_err(r, 400, "MetadataTooLarge");
    let r =
        t.s3.create_multipart_upload()
            .bucket("attrs")
            .key("mp")
            .content_disposition("x".repeat(9000))
            .send()
            .await;
    assert_s3_err(r, 400, "MetadataTooLarge");
    assert!(t.keys("attrs").await.is_empty());
}
