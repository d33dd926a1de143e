//! S3 versioning: Put/GetBucketVersioning, versions of inline, streamed and multipart
//! objects read back by id, delete markers (404 with `x-amz-delete-marker`, 405 by id),
//! deleting versions and markers, suspended buckets writing the `null` version, objects
//! written before versioning as their `null` version, ListObjectVersions paging, DeleteBucket
//! refusing a bucket that holds versions, a drive that lost an object healed with every
//! version, and a key whose policy lacks the version actions.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, Tag, Tagging, VersioningConfiguration};

use crate::s3::*;

async fn set_versioning(t: &S3Env, bucket: &str, status: BucketVersioningStatus) {
    let conf = VersioningConfiguration::builder().status(status).build();
    (t.s3.put_bucket_versioning().bucket(bucket))
        .versioning_configuration(conf)
        .send()
        .await
        .unwrap();
}

/// Puts `data`; returns the new version's id.
async fn put_version(t: &S3Env, bucket: &str, key: &str, data: &[u8]) -> Option<String> {
    let out = (t.s3.put_object().bucket(bucket).key(key))
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap();
    out.version_id().map(str::to_string)
}

async fn send_raw(t: &S3Env, req: RawRequest) -> Raw {
    req.send(t.addr()).await.expect("raw request")
}

async fn get_version(t: &S3Env, bucket: &str, key: &str, version: &str) -> Vec<u8> {
    let out = (t
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .version_id(version))
    .send()
    .await
    .unwrap_or_else(|e| panic!("get {key}@{version}: {e:?}"));
    assert_eq!(out.version_id(), Some(version).filter(|v| *v != "null"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

/// `(key, version id, is latest, is marker)` of every version, paging `page` at a time.
async fn all_versions(t: &S3Env, bucket: &str, page: i32) -> Vec<(String, String, bool, bool)> {
    let mut out = Vec::new();
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        let resp = (t.s3.list_object_versions().bucket(bucket).max_keys(page))
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .unwrap();
        let mut got: Vec<(String, String, bool, bool, i64)> = Vec::new();
        for v in resp.versions() {
            let when = v.last_modified().unwrap().as_nanos() as i64;
            let id = v.version_id().unwrap().to_string();
            got.push((
                v.key().unwrap().into(),
                id,
                v.is_latest().unwrap(),
                false,
                when,
            ));
        }
        for m in resp.delete_markers() {
            let when = m.last_modified().unwrap().as_nanos() as i64;
            let id = m.version_id().unwrap().to_string();
            got.push((
                m.key().unwrap().into(),
                id,
                m.is_latest().unwrap(),
                true,
                when,
            ));
        }
        // The answer splits versions and markers; S3's order is by key, newest first.
        got.sort_by(|a, b| a.0.cmp(&b.0).then(b.4.cmp(&a.4)));
        assert!(got.len() <= page as usize, "a page holds at most max-keys");
        out.extend(got.into_iter().map(|(k, v, l, m, _)| (k, v, l, m)));
        if !resp.is_truncated().unwrap_or(false) {
            return out;
        }
        key_marker = resp.next_key_marker().map(str::to_string);
        version_marker = resp.next_version_id_marker().map(str::to_string);
    }
}

#[tokio::test]
async fn versions_markers_and_suspension_behave_as_in_s3() {
    let t = S3Env::start();
    t.mb("ver").await;
    // Never versioned: no status; an object written now becomes the `null` version.
    let got = t.s3.get_bucket_versioning().bucket("ver").send().await;
    assert_eq!(got.unwrap().status(), None);
    assert_eq!(put_version(&t, "ver", "k", b"before").await, None);
    set_versioning(&t, "ver", BucketVersioningStatus::Enabled).await;
    let got = t.s3.get_bucket_versioning().bucket("ver").send().await;
    assert_eq!(
        got.unwrap().status(),
        Some(&BucketVersioningStatus::Enabled)
    );

    // Versions of every kind: inline, streamed (3 MiB), multipart.
    let big = tessera_tests::pattern(3 << 20, 7);
    let v1 = put_version(&t, "ver", "k", b"one").await.expect("an id");
    let v2 = put_version(&t, "ver", "k", &big).await.expect("an id");
    let part = tessera_tests::pattern(5 << 20, 9);
    let up = (t.s3.create_multipart_upload().bucket("ver").key("k"))
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let p1 = (t.s3.upload_part().bucket("ver").key("k").upload_id(id))
        .part_number(1)
        .body(ByteStream::from(part.clone()))
        .send()
        .await
        .unwrap();
    let done = (t.s3.complete_multipart_upload().bucket("ver").key("k"))
        .upload_id(id)
        .multipart_upload(crate::s3_multipart::completed(&[(1, p1.e_tag().unwrap())]))
        .send()
        .await
        .unwrap();
    let v3 = done.version_id().expect("an id").to_string();
    assert!(
        v1 < v2 && v2 < v3,
        "ids sort by creation time: {v1} {v2} {v3}"
    );
    assert_eq!(t.get("ver", "k").await, part, "the latest reads by default");
    assert_eq!(get_version(&t, "ver", "k", &v1).await, b"one");
    assert_eq!(get_version(&t, "ver", "k", &v2).await, big);
    assert_eq!(get_version(&t, "ver", "k", "null").await, b"before");
    let head = (t.s3.head_object().bucket("ver").key("k").version_id(&v2))
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(3 << 20));
    // Tags by version: set on an old one, the current one keeps its own.
    let tags = Tagging::builder()
        .tag_set(Tag::builder().key("era").value("first").build().unwrap())
        .build()
        .unwrap();
    (t.s3
        .put_object_tagging()
        .bucket("ver")
        .key("k")
        .version_id(&v1))
    .tagging(tags)
    .send()
    .await
    .unwrap();
    let got = (t
        .s3
        .get_object_tagging()
        .bucket("ver")
        .key("k")
        .version_id(&v1))
    .send()
    .await;
    let got = got.unwrap();
    assert_eq!(got.tag_set().len(), 1);
    assert_eq!(got.version_id(), Some(v1.as_str()));
    let current =
        t.s3.get_object_tagging()
            .bucket("ver")
            .key("k")
            .send()
            .await
            .unwrap();
    assert!(current.tag_set().is_empty());
    assert_eq!(
        get_version(&t, "ver", "k", &v1).await,
        b"one",
        "the data stays"
    );
    // A copy of an old version is a new version.
    let copy = (t.s3.copy_object().bucket("ver").key("copy"))
        .copy_source(format!("ver/k?versionId={v1}"))
        .send()
        .await
        .unwrap();
    assert!(copy.version_id().is_some());
    assert_eq!(t.get("ver", "copy").await, b"one");

    // A delete adds a marker: GET and HEAD answer 404 saying so; listings skip the key.
    let del = t.s3.delete_object().bucket("ver").key("k").send().await;
    let del = del.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let marker = del.version_id().expect("the marker's id").to_string();
    let host = t.addr().to_string();
    let raw = send_raw(&t, RawRequest::new("GET", &host, "/ver/k").signed()).await;
    raw.assert_error(404, "NoSuchKey");
    assert_eq!(raw.header("x-amz-delete-marker"), Some("true"));
    assert_eq!(raw.header("x-amz-version-id"), Some(marker.as_str()));
    let target = format!("/ver/k?versionId={marker}");
    let raw = send_raw(&t, RawRequest::new("GET", &host, &target).signed()).await;
    raw.assert_error(405, "MethodNotAllowed");
    assert_eq!(t.keys("ver").await, ["copy"]);
    assert_eq!(get_version(&t, "ver", "k", &v2).await, big, "kept");
    let listed = all_versions(&t, "ver", 1000).await;
    let k: Vec<_> = listed.iter().filter(|v| v.0 == "k").collect();
    let ids: Vec<_> = k.iter().map(|v| v.1.as_str()).collect();
    assert_eq!(ids, [&marker, &v3, &v2, &v1, "null"]);
    assert!(k[0].2 && k[0].3, "the marker is latest");
    assert!(k[1..].iter().all(|v| !v.2 && !v.3));
    // A bucket holding versions is not empty.
    assert_s3_err(
        t.s3.delete_bucket().bucket("ver").send().await,
        409,
        "BucketNotEmpty",
    );

    // Removing the marker brings the object back; removing a version removes only it.
    let undo = (t
        .s3
        .delete_object()
        .bucket("ver")
        .key("k")
        .version_id(&marker))
    .send()
    .await
    .unwrap();
    assert_eq!(undo.delete_marker(), Some(true));
    assert_eq!(t.get("ver", "k").await, part);
    (t.s3.delete_object().bucket("ver").key("k").version_id(&v2))
        .send()
        .await
        .unwrap();
    assert_s3_err(
        (t.s3.get_object().bucket("ver").key("k").version_id(&v2))
            .send()
            .await,
        404,
        "NoSuchVersion",
    );
    assert_eq!(get_version(&t, "ver", "k", &v1).await, b"one");
    assert_s3_err(
        (t.s3
            .get_object()
            .bucket("ver")
            .key("k")
            .version_id("../../etc"))
        .send()
        .await,
        400,
        "InvalidArgument",
    );

    // Suspended: writes replace the `null` version and keep the others.
    set_versioning(&t, "ver", BucketVersioningStatus::Suspended).await;
    assert_eq!(put_version(&t, "ver", "k", b"null again").await, None);
    assert_eq!(get_version(&t, "ver", "k", "null").await, b"null again");
    let ids: Vec<_> = (all_versions(&t, "ver", 1000).await.into_iter())
        .filter(|v| v.0 == "k")
        .map(|v| v.1)
        .collect();
    assert_eq!(ids, ["null", v3.as_str(), v1.as_str()]);
    // A delete while suspended is a `null` marker, replacing the `null` version.
    let del =
        t.s3.delete_object()
            .bucket("ver")
            .key("k")
            .send()
            .await
            .unwrap();
    assert_eq!(
        (del.delete_marker(), del.version_id()),
        (Some(true), Some("null"))
    );
    assert_eq!(get_version(&t, "ver", "k", &v3).await, part);

    // Every version deleted by id: the bucket can go.
    for (key, version, _, _) in all_versions(&t, "ver", 1000).await {
        (t.s3
            .delete_object()
            .bucket("ver")
            .key(&key)
            .version_id(&version))
        .send()
        .await
        .unwrap();
    }
    assert!(all_versions(&t, "ver", 1000).await.is_empty());
    t.s3.delete_bucket().bucket("ver").send().await.unwrap();
}

#[tokio::test]
async fn version_listings_page_through_keys_versions_and_markers() {
    let t = S3Env::start();
    t.mb("pages").await;
    set_versioning(&t, "pages", BucketVersioningStatus::Enabled).await;
    let mut want = Vec::new();
    for key in ["a", "b/c", "d"] {
        let mut ids = Vec::new();
        for n in 0..3 {
            let data = format!("{key}{n}");
            ids.push(
                put_version(&t, "pages", key, data.as_bytes())
                    .await
                    .unwrap(),
            );
        }
        if key == "b/c" {
            let del = t.s3.delete_object().bucket("pages").key(key).send().await;
            ids.push(del.unwrap().version_id().unwrap().to_string());
        }
        ids.reverse();
        want.extend(ids.into_iter().map(|id| (key.to_string(), id)));
    }
    for page in [1, 2, 3, 1000] {
        let got: Vec<_> = (all_versions(&t, "pages", page).await.into_iter())
            .map(|(k, v, _, _)| (k, v))
            .collect();
        assert_eq!(got, want, "pages of {page}");
    }
    // With a delimiter, `b/` folds into a prefix.
    let resp = (t.s3.list_object_versions().bucket("pages").delimiter("/"))
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = resp
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["b/"]);
    assert_eq!(resp.versions().len(), 6);
    // Objects listings show the latest versions that are not markers, and a prefix only
    // while a key under it is there (nested too).
    assert_eq!(t.keys("pages").await, ["a", "d"]);
    put_version(&t, "pages", "n/m/x", b"x").await.unwrap();
    (t.s3
        .delete_object()
        .bucket("pages")
        .key("n/m/x")
        .send()
        .await)
        .unwrap();
    let listed = async || {
        let resp = (t.s3.list_objects_v2().bucket("pages").delimiter("/"))
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = (resp.contents().iter())
            .filter_map(|o| o.key().map(str::to_string))
            .collect();
        let prefixes: Vec<String> = (resp.common_prefixes().iter())
            .filter_map(|p| p.prefix().map(str::to_string))
            .collect();
        (keys, prefixes)
    };
    assert_eq!(listed().await, (vec!["a".into(), "d".into()], vec![]));
    put_version(&t, "pages", "b/live", b"here").await.unwrap();
    assert_eq!(
        listed().await,
        (vec!["a".into(), "d".into()], vec!["b/".into()])
    );
}

#[tokio::test]
async fn a_drive_that_lost_a_versioned_object_gets_every_version_back() {
    let t = S3Env::start();
    t.mb("heal").await;
    set_versioning(&t, "heal", BucketVersioningStatus::Enabled).await;
    let big = tessera_tests::pattern(3 << 20, 3);
    let v1 = put_version(&t, "heal", "obj", &big).await.unwrap();
    let v2 = put_version(&t, "heal", "obj", b"small").await.unwrap();
    let marker = t.s3.delete_object().bucket("heal").key("obj").send().await;
    let marker = marker.unwrap().version_id().unwrap().to_string();
    // Drive 2 loses the object: metadata and every version's shards.
    let node = t.node();
    std::fs::remove_dir_all(node.drives[1].join("heal/obj")).expect("remove");
    let out = node.cli(&["admin", "heal", "heal"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 repaired"), "{text}\n{}", t.log());
    assert!(node.meta_file(1, "heal", "obj").exists());
    // Two more drives lose it: what is left reads only if drive 2 was healed whole.
    for d in [2, 3] {
        std::fs::remove_dir_all(node.drives[d].join("heal/obj")).expect("remove");
    }
    assert_eq!(get_version(&t, "heal", "obj", &v1).await, big);
    assert_eq!(get_version(&t, "heal", "obj", &v2).await, b"small");
    let host = t.addr().to_string();
    let raw = send_raw(&t, RawRequest::new("HEAD", &host, "/heal/obj").signed()).await;
    assert_eq!(raw.header("x-amz-version-id"), Some(marker.as_str()));
}
