//! S3 cases: tagging — `x-amz-tagging` on PUT, multipart uploads and copies (with the
//! tagging directive), `x-amz-tagging-count` on GET and HEAD, the object and bucket tagging
//! operations, S3's limits (InvalidTag), and a key whose policy lacks the tagging actions.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging, TaggingDirective};

use crate::iam::parse_key;
use crate::s3::*;
use crate::s3_multipart::completed;

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let tags = pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
        .collect();
    Tagging::builder().set_tag_set(Some(tags)).build().unwrap()
}

async fn tags_of(t: &S3Env, bucket: &str, key: &str) -> Vec<(String, String)> {
    let out = (t.s3.get_object_tagging().bucket(bucket).key(key).send())
        .await
        .unwrap();
    let mut tags: Vec<_> = (out.tag_set().iter())
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    tags.sort();
    tags
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = p
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn object_tags_are_set_on_writes_read_changed_and_removed_without_touching_the_data() {
    let t = S3Env::start();
    t.mb("bkt").await;
    // On PUT, with encoded characters; counted on GET and HEAD.
    let put = (t.s3.put_object().bucket("bkt").key("k"))
        .body(ByteStream::from_static(b"tagged"))
        .tagging("project=alpha%20one&stage=&caf%C3%A9=cr%C3%A8me")
        .send()
        .await
        .unwrap();
    let want = pairs(&[("project", "alpha one"), ("stage", ""), ("café", "crème")]);
    assert_eq!(tags_of(&t, "bkt", "k").await, want);
    let got =
        t.s3.get_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .unwrap();
    assert_eq!(got.tag_count(), Some(3));
    let modified = got.last_modified().cloned();
    let raw = (RawRequest::new("HEAD", &t.addr().to_string(), "/bkt/k").signed())
        .send(t.addr())
        .await
        .unwrap();
    assert_eq!(raw.header("x-amz-tagging-count"), Some("3"));

    // Replaced by PutObjectTagging: the bytes, ETag and Last-Modified stay.
    (t.s3.put_object_tagging().bucket("bkt").key("k"))
        .tagging(tagging(&[("owner", "ops")]))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&t, "bkt", "k").await, pairs(&[("owner", "ops")]));
    let got =
        t.s3.get_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .unwrap();
    assert_eq!(got.e_tag(), put.e_tag());
    assert_eq!(got.last_modified().cloned(), modified);
    assert_eq!(got.tag_count(), Some(1));
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b"tagged");

    // Removed: no tags, no count.
    (t.s3.delete_object_tagging().bucket("bkt").key("k").send())
        .await
        .unwrap();
    assert!(tags_of(&t, "bkt", "k").await.is_empty());
    let got =
        t.s3.get_object()
            .bucket("bkt")
            .key("k")
            .send()
            .await
            .unwrap();
    assert_eq!(got.tag_count(), None);

    // A missing object, and a version id on an unversioned bucket.
    let r = (t.s3.put_object_tagging().bucket("bkt").key("missing"))
        .tagging(tagging(&[("a", "1")]))
        .send()
        .await;
    assert_s3_err(r, 404, "NoSuchKey");
    let r = (t.s3.get_object_tagging().bucket("bkt").key("k"))
        .version_id("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
        .send()
        .await;
    assert_s3_err(r, 400, "InvalidArgument");
}

#[tokio::test]
async fn tag_sets_beyond_s3_limits_are_invalid_tags_and_change_nothing() {
    let t = S3Env::start();
    t.mb("bkt").await;
    t.put("bkt", "k", b"x").await;
    (t.s3.put_object_tagging().bucket("bkt").key("k"))
        .tagging(tagging(&[("keep", "me")]))
        .send()
        .await
        .unwrap();
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
    let eleven: Vec<(&str, &str)> = eleven
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    for bad in [
        eleven.clone(),
        vec![("a", "1"), ("a", "2")],
        vec![(long_key.as_str(), "v")],
        vec![("k", long_value.as_str())],
        vec![("aws:reserved", "v")],
    ] {
        let r = (t.s3.put_object_tagging().bucket("bkt").key("k"))
            .tagging(tagging(&bad))
            .send()
            .await;
        assert_s3_err(r, 400, "InvalidTag");
    }
    assert_eq!(tags_of(&t, "bkt", "k").await, pairs(&[("keep", "me")]));
    // The same limits on a PUT's header: nothing stored.
    let r = (t.s3.put_object().bucket("bkt").key("new"))
        .body(ByteStream::from_static(b"x"))
        .tagging("a=1&a=2")
        .send()
        .await;
    assert_s3_err(r, 400, "InvalidTag");
    assert!(!t.exists("bkt", "new").await);
    // 128-character keys and 256-character values are allowed.
    let (key, value) = ("é".repeat(128), "é".repeat(256));
    (t.s3.put_object_tagging().bucket("bkt").key("k"))
        .tagging(tagging(&[(key.as_str(), value.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&t, "bkt", "k").await, vec![(key, value)]);
}

#[tokio::test]
async fn copies_and_multipart_uploads_carry_tags_as_their_directives_say() {
    let t = S3Env::start();
    t.mb("bkt").await;
    (t.s3.put_object().bucket("bkt").key("src"))
        .body(ByteStream::from_static(b"source"))
        .tagging("from=source")
        .metadata("m", "1")
        .send()
        .await
        .unwrap();
    // COPY (the default) keeps the source's tags, whatever the metadata directive.
    let copy = |dst: &'static str| {
        t.s3.copy_object()
            .copy_source("bkt/src")
            .bucket("bkt")
            .key(dst)
    };
    copy("same").send().await.unwrap();
    assert_eq!(
        tags_of(&t, "bkt", "same").await,
        pairs(&[("from", "source")])
    );
    (copy("meta-replaced"))
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&t, "bkt", "meta-replaced").await,
        pairs(&[("from", "source")])
    );
    // REPLACE takes the request's tags, or none.
    (copy("retagged"))
        .tagging_directive(TaggingDirective::Replace)
        .tagging("to=copy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&t, "bkt", "retagged").await,
        pairs(&[("to", "copy")])
    );
    let got =
        t.s3.head_object()
            .bucket("bkt")
            .key("retagged")
            .send()
            .await
            .unwrap();
    assert_eq!(
        got.metadata().and_then(|m| m.get("m")).map(String::as_str),
        Some("1")
    );
    (copy("untagged"))
        .tagging_directive(TaggingDirective::Replace)
        .send()
        .await
        .unwrap();
    assert!(tags_of(&t, "bkt", "untagged").await.is_empty());

    // A multipart upload's tags are given at its creation.
    let upload = (t.s3.create_multipart_upload().bucket("bkt").key("mp"))
        .tagging("parts=two")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap().to_string();
    let part = (t.s3.upload_part().bucket("bkt").key("mp").upload_id(&id))
        .part_number(1)
        .body(ByteStream::from_static(b"only part"))
        .send()
        .await
        .unwrap();
    (t.s3
        .complete_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .upload_id(&id))
    .multipart_upload(completed(&[(1, part.e_tag().unwrap())]))
    .send()
    .await
    .unwrap();
    assert_eq!(tags_of(&t, "bkt", "mp").await, pairs(&[("parts", "two")]));
}

#[tokio::test]
async fn bucket_tags_are_set_read_and_removed_and_a_key_without_the_actions_is_refused() {
    let t = S3Env::start();
    t.mb("bkt").await;
    let r = t.s3.get_bucket_tagging().bucket("bkt").send().await;
    assert_s3_err(r, 404, "NoSuchTagSet");
    (t.s3.put_bucket_tagging().bucket("bkt"))
        .tagging(tagging(&[("team", "storage"), ("cost", "42")]))
        .send()
        .await
        .unwrap();
    let out =
        t.s3.get_bucket_tagging()
            .bucket("bkt")
            .send()
            .await
            .unwrap();
    let mut got: Vec<_> = (out.tag_set().iter())
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    got.sort();
    assert_eq!(got, pairs(&[("cost", "42"), ("team", "storage")]));
    // The bucket still lists and takes objects.
    t.put("bkt", "k", b"x").await;
    assert_eq!(t.keys("bkt").await, ["k"]);
    let r = (t.s3.put_bucket_tagging().bucket("nope"))
        .tagging(tagging(&[("a", "1")]))
        .send()
        .await;
    assert_s3_err(r, 404, "NoSuchBucket");

    // A readonly user (no tagging action) may not change tags; a readwrite one (s3:*) may.
    let ro = parse_key(&t.node().cli(
        &["admin", "user", "add", "reader", "--policy", "readonly"],
        None,
    ));
    let reader = client(&t.node().endpoint, &ro.0, &ro.1);
    let r = (reader.put_object_tagging().bucket("bkt").key("k"))
        .tagging(tagging(&[("a", "1")]))
        .send()
        .await;
    assert_s3_err(r, 403, "AccessDenied");
    let r = reader.delete_bucket_tagging().bucket("bkt").send().await;
    assert_s3_err(r, 403, "AccessDenied");
    let rw = parse_key(&t.node().cli(
        &["admin", "user", "add", "writer", "--policy", "readwrite"],
        None,
    ));
    let writer = client(&t.node().endpoint, &rw.0, &rw.1);
    (writer.put_object_tagging().bucket("bkt").key("k"))
        .tagging(tagging(&[("by", "writer")]))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&t, "bkt", "k").await, pairs(&[("by", "writer")]));
    (t.s3.delete_bucket_tagging().bucket("bkt").send())
        .await
        .unwrap();
    let r = t.s3.get_bucket_tagging().bucket("bkt").send().await;
    assert_s3_err(r, 404, "NoSuchTagSet");
}
