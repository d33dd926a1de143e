//! The two calls the FUSE client needs beyond plain objects (DESIGN.md "The FUSE client"):
//! `UpdateObjectMetadata` (chmod, chown, utimens kept as user metadata, data untouched) and
//! `RenamePrefix` (directory rename: every key under a prefix, each one atomically).

use std::collections::{BTreeMap, HashMap};

use tessera_proto::client::ObjectClient;
use tessera_proto::object as pb;
use tessera_tests::{md5_hex, pattern};
use tonic::{Code, Status};

use crate::common::*;

fn update<'a>(
    c: &'a mut ObjectClient,
    bucket: &str,
    key: &str,
    set: &[(&str, &str)],
    remove: &[&str],
) -> impl Future<Output = Result<pb::ObjectInfo, Status>> + Send + 'a {
    let request = pb::UpdateObjectMetadataRequest {
        bucket: bucket.into(),
        key: key.into(),
        set: set
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        remove: remove.iter().map(|k| k.to_string()).collect(),
    };
    async move {
        c.update_object_metadata(request)
            .await
            .map(|r| r.into_inner())
    }
}

fn rename_prefix<'a>(
    c: &'a mut ObjectClient,
    bucket: &str,
    src: &str,
    dst: &str,
) -> impl Future<Output = Result<u64, Status>> + Send + 'a {
    let request = pb::RenamePrefixRequest {
        bucket: bucket.into(),
        src_prefix: src.into(),
        dst_prefix: dst.into(),
    };
    async move {
        c.rename_prefix(request)
            .await
            .map(|r| r.into_inner().renamed)
    }
}

fn meta(entries: &[(&str, &str)]) -> HashMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Everything of an object a metadata update must keep, and its metadata.
async fn snapshot(c: &mut ObjectClient, bucket: &str, key: &str) -> (pb::ObjectInfo, Vec<u8>) {
    let info = head(c, bucket, key).await.expect("head");
    let data = get(c, bucket, key).await.expect("get");
    (info, data)
}

#[tokio::test]
async fn update_metadata_changes_only_user_metadata_of_inline_coded_and_marker_objects() {
    let mut env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "attrs").await;
    let attributes = pb::ObjectAttributes {
        content_type: "text/x-test".into(),
        user_metadata: meta(&[("mode", "100644"), ("uid", "1000"), ("keep", "yes")]),
    };
    let small = pattern(5_000, 1);
    let large = pattern(3 << 20, 2);
    for (key, data) in [
        ("small", &small[..]),
        ("large", &large[..]),
        ("d/", &[][..]),
    ] {
        put_with(
            &mut c,
            "attrs",
            key,
            data,
            Some(data.len() as u64),
            Some(attributes.clone()),
        )
        .await
        .unwrap();
    }
    let shards_before: Vec<_> = (0..4)
        .map(|d| env.node.shard_files(d, "attrs", "large"))
        .collect();
    assert!(
        shards_before.iter().all(|s| !s.is_empty()),
        "3 MiB is erasure-coded"
    );

    for (key, data) in [("small", &small), ("large", &large), ("d/", &Vec::new())] {
        let (before, _) = snapshot(&mut c, "attrs", key).await;
        let set = [("mode", "100600"), ("mtime", "1700000000.5")];
        let updated = update(&mut c, "attrs", key, &set, &["uid", "never-set"])
            .await
            .unwrap();
        let expected = meta(&[
            ("mode", "100600"),
            ("mtime", "1700000000.5"),
            ("keep", "yes"),
        ]);
        assert_eq!(updated.user_metadata, expected, "{key}: returned metadata");
        let (after, read) = snapshot(&mut c, "attrs", key).await;
        assert_eq!(after.user_metadata, expected, "{key}: stored metadata");
        assert_eq!(&read, data, "{key}: data unchanged");
        assert_eq!(after.etag, md5_hex(data), "{key}: ETag unchanged");
        for info in [&updated, &after] {
            assert_eq!(info.size, before.size, "{key}: size unchanged");
            assert_eq!(info.etag, before.etag, "{key}: ETag unchanged");
            assert_eq!(info.modified, before.modified, "{key}: mtime unchanged");
            assert_eq!(info.content_type, "text/x-test", "{key}: content type kept");
        }
        // Listings carry the new attributes (a FUSE `ls -l` reads them from there).
        let page = c
            .list_objects(pb::ListObjectsRequest {
                bucket: "attrs".into(),
                prefix: key.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let listed = page.objects.iter().find(|o| o.key == key).expect("listed");
        assert_eq!(listed.user_metadata, expected, "{key}: listed metadata");
        assert_eq!(listed.modified, before.modified, "{key}: listed mtime");
    }
    let shards_after: Vec<_> = (0..4)
        .map(|d| env.node.shard_files(d, "attrs", "large"))
        .collect();
    assert_eq!(shards_after, shards_before, "the data was not rewritten");

    // Removing everything leaves no metadata; the update survives a restart.
    update(&mut c, "attrs", "large", &[], &["mode", "mtime", "keep"])
        .await
        .unwrap();
    drop(c);
    env.node.restart();
    let mut c = env.node.client().await;
    let (info, read) = snapshot(&mut c, "attrs", "large").await;
    assert!(info.user_metadata.is_empty(), "{:?}", info.user_metadata);
    assert_eq!(read, large);
}

#[tokio::test]
async fn update_metadata_refuses_missing_objects_and_bad_requests() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "attrs").await;
    put(&mut c, "attrs", "k", b"x").await.unwrap();
    put(&mut c, "attrs", "d/", b"").await.unwrap();
    let set = [("mode", "1")];
    assert_code(
        update(&mut c, "attrs", "nope", &set, &[]).await,
        Code::NotFound,
    );
    // The marker "d/" and the object "d" are different keys.
    assert_code(
        update(&mut c, "attrs", "d", &set, &[]).await,
        Code::NotFound,
    );
    assert_code(
        update(&mut c, "no-bucket", "k", &set, &[]).await,
        Code::NotFound,
    );
    for bad in ["", "../x", "a//b"] {
        assert_code(
            update(&mut c, "attrs", bad, &set, &[]).await,
            Code::InvalidArgument,
        );
    }
    assert_code(
        update(&mut c, "attrs", "k", &set, &["mode"]).await,
        Code::InvalidArgument,
    );
    assert!(
        head(&mut c, "attrs", "k")
            .await
            .unwrap()
            .user_metadata
            .is_empty()
    );
}

#[tokio::test]
async fn update_metadata_without_write_quorum_fails_and_keeps_the_old_metadata() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "attrs").await;
    let attributes = pb::ObjectAttributes {
        user_metadata: meta(&[("mode", "100644")]),
        ..Default::default()
    };
    for (key, size) in [("small", 1000), ("large", 3 << 20)] {
        put_with(
            &mut c,
            "attrs",
            key,
            &pattern(size, 5),
            None,
            Some(attributes.clone()),
        )
        .await
        .unwrap();
    }
    // 2+2 reads from 2 drives but needs 3 to write.
    env.node.wipe_drive(0);
    env.node.wipe_drive(3);
    for (key, size) in [("small", 1000), ("large", 3 << 20)] {
        let s = assert_code(
            update(&mut c, "attrs", key, &[("mode", "100600")], &[]).await,
            Code::Unavailable,
        );
        assert!(s.message().contains("quorum"), "{}", s.message());
        let (info, data) = snapshot(&mut c, "attrs", key).await;
        assert_eq!(info.user_metadata, meta(&[("mode", "100644")]), "{key}");
        assert_eq!(data, pattern(size, 5), "{key}");
    }
}

#[tokio::test]
async fn rename_prefix_moves_a_tree_with_its_markers_and_nothing_else() {
    // Two sets: some keys move within a set, others across sets.
    let env = Env::start(32);
    let mut c = env.node.client().await;
    mb(&mut c, "tree").await;
    let mut inside: Vec<String> = vec!["dir/".into(), "dir/sub/".into()];
    for i in 0..20 {
        inside.push(format!("dir/f{i:02}"));
    }
    for i in 0..6 {
        inside.push(format!("dir/sub/g{i}"));
    }
    inside.extend(["dir/sub/deep/er/h".into(), "dir/big".into()]);
    let outside = ["dir", "dirx/k", "dir2/k", "other/dir/k", "new-home/keep"];
    let all = inside.iter().cloned().chain(outside.map(String::from));
    let mut expected = BTreeMap::new();
    for (i, key) in all.enumerate() {
        let data = match key.as_str() {
            k if k.ends_with('/') => Vec::new(),
            "dir/big" => pattern(300_000, 77),
            _ => pattern(100 + i * 37, i as u64),
        };
        let attributes = pb::ObjectAttributes {
            content_type: format!("type/{i}"),
            user_metadata: meta(&[("mode", &format!("{i}"))]),
        };
        put_with(
            &mut c,
            "tree",
            &key,
            &data,
            Some(data.len() as u64),
            Some(attributes),
        )
        .await
        .unwrap();
        let snap = snapshot(&mut c, "tree", &key).await;
        expected.insert(key, snap);
    }

    let renamed = rename_prefix(&mut c, "tree", "dir/", "new-home/moved/")
        .await
        .unwrap();
    assert_eq!(renamed, inside.len() as u64);

    assert_eq!(
        list(&mut c, "tree", "dir/", "").await.0,
        Vec::<String>::new()
    );
    assert_code(head(&mut c, "tree", "dir/").await, Code::NotFound);
    for key in &inside {
        let dst = format!("new-home/moved/{}", &key["dir/".len()..]);
        let (before, data) = &expected[key];
        let (after, read) = snapshot(&mut c, "tree", &dst).await;
        assert_eq!(&read, data, "{key} → {dst}: bytes");
        assert_eq!(after.etag, before.etag, "{dst}: ETag");
        assert_eq!(after.size, before.size, "{dst}: size");
        assert_eq!(
            after.content_type, before.content_type,
            "{dst}: content type"
        );
        assert_eq!(after.user_metadata, before.user_metadata, "{dst}: metadata");
    }
    for key in outside {
        let (before, data) = &expected[key];
        let (after, read) = snapshot(&mut c, "tree", key).await;
        assert_eq!((&after, &read), (before, data), "{key} untouched");
    }
    let (moved, _) = list(&mut c, "tree", "new-home/", "").await;
    assert_eq!(moved.len(), inside.len() + 1, "{moved:?}");

    // Nothing left under the source: a second rename moves nothing.
    assert_eq!(
        rename_prefix(&mut c, "tree", "dir/", "elsewhere/")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn rename_prefix_refuses_overlapping_or_malformed_prefixes_and_missing_buckets() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "tree").await;
    put(&mut c, "tree", "a/b/c", b"x").await.unwrap();
    for (src, dst) in [
        ("a/", "a/b/"),
        ("a/b/", "a/"),
        ("a/", "a/"),
        ("a", "b/"),
        ("a/", "b"),
        ("", "b/"),
        ("a/", ""),
        ("/", "b/"),
        ("a/../", "b/"),
        ("a//", "b/"),
    ] {
        assert_code(
            rename_prefix(&mut c, "tree", src, dst).await,
            Code::InvalidArgument,
        );
    }
    assert_eq!(list(&mut c, "tree", "", "").await.0, ["a/b/c"]);
    assert_code(
        rename_prefix(&mut c, "no-bucket", "a/", "b/").await,
        Code::NotFound,
    );
}

#[tokio::test]
async fn rename_prefix_moves_more_keys_than_one_listing_page() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "many").await;
    // One listing page holds 1000 keys; the rename walks past it.
    let n = 1005;
    put(&mut c, "many", "src/", b"").await.unwrap();
    for i in 0..n {
        put(
            &mut c,
            "many",
            &format!("src/k{i:04}"),
            format!("{i}").as_bytes(),
        )
        .await
        .unwrap();
    }
    let renamed = rename_prefix(&mut c, "many", "src/", "dst/").await.unwrap();
    assert_eq!(renamed, n + 1);
    assert!(list(&mut c, "many", "src/", "").await.0.is_empty());
    let (keys, _) = list(&mut c, "many", "dst/", "").await;
    assert_eq!(keys.len() as u64, n + 1);
    assert_eq!(keys[0], "dst/");
    assert_eq!(get(&mut c, "many", "dst/k1004").await.unwrap(), b"1004");
}
