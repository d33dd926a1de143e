//! Listing: byte order, prefix, delimiter, start-after, continuation and max-keys, checked
//! against a model computed in the test.

use std::collections::BTreeSet;

use tessera_proto::object as pb;
use tonic::Code;

use crate::common::*;

/// What S3 would list for these keys.
fn model(keys: &BTreeSet<String>, prefix: &str, delimiter: &str, after: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in keys
        .iter()
        .filter(|k| k.starts_with(prefix) && k.as_str() > after)
    {
        let rest = &k[prefix.len()..];
        let item = match (delimiter.is_empty(), rest.find(delimiter)) {
            (false, Some(i)) => format!("{prefix}{}", &rest[..i + delimiter.len()]),
            _ => k.clone(),
        };
        if item.as_str() > after && out.last() != Some(&item) {
            out.push(item);
        }
    }
    out
}

#[tokio::test]
async fn listings_match_the_s3_model_in_byte_order_across_pages() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "list").await;
    let mut keys = BTreeSet::new();
    for a in ["a", "a-b", "a.b", "ab", "b", "é", "z"] {
        for b in ["", "/x", "/y/1", "/y/2", "-q"] {
            keys.insert(format!("{a}{b}"));
        }
    }
    for i in 0..30 {
        keys.insert(format!("many/{i:03}"));
    }
    keys.insert("dir/".into());
    keys.insert("dir/inside".into());
    for k in &keys {
        put(&mut c, "list", k, k.as_bytes()).await.unwrap();
    }

    for (prefix, delimiter) in [
        ("", ""),
        ("", "/"),
        ("a", "/"),
        ("a/", "/"),
        ("a/y/", ""),
        ("many/", "/"),
        ("", "-"),
        ("a", "b"),
        ("dir/", "/"),
    ] {
        for max_keys in [1u32, 3, 7, 1000] {
            let mut seen = Vec::new();
            let mut token = String::new();
            let mut pages = 0;
            loop {
                let page = c
                    .list_objects(pb::ListObjectsRequest {
                        bucket: "list".into(),
                        prefix: prefix.into(),
                        delimiter: delimiter.into(),
                        continuation_token: token.clone(),
                        max_keys,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let mut items: Vec<String> = page.objects.iter().map(|o| o.key.clone()).collect();
                items.extend(page.common_prefixes.iter().cloned());
                items.sort();
                assert!(items.len() <= max_keys as usize);
                seen.extend(items);
                pages += 1;
                assert!(pages < 500, "listing does not end");
                if !page.truncated {
                    break;
                }
                token = page.next_continuation_token;
            }
            assert_eq!(
                seen,
                model(&keys, prefix, delimiter, ""),
                "prefix {prefix:?} delimiter {delimiter:?} max {max_keys}"
            );
        }
    }

    // start_after.
    let page = c
        .list_objects(pb::ListObjectsRequest {
            bucket: "list".into(),
            start_after: "many/020".into(),
            prefix: "many/".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let got: Vec<String> = page.objects.into_iter().map(|o| o.key).collect();
    assert_eq!(got, model(&keys, "many/", "", "many/020"));

    // Entries carry size, mtime and ETag.
    let page = c
        .list_objects(pb::ListObjectsRequest {
            bucket: "list".into(),
            prefix: "many/000".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let o = &page.objects[0];
    assert_eq!(o.size, 8);
    assert_eq!(o.etag, tessera_tests::md5_hex(b"many/000"));
    assert!(o.modified.as_ref().unwrap().seconds > 1_700_000_000);
}

#[tokio::test]
async fn a_prefix_listing_reads_only_the_prefix_directory() {
    // Cost proportional to what is listed: a listing under one prefix does not read the
    // rest of the bucket. Make the rest unreadable and the listing must still succeed.
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "scope").await;
    put(&mut c, "scope", "wanted/a", b"1").await.unwrap();
    put(&mut c, "scope", "other/deep/b", b"2").await.unwrap();
    for d in &env.node.drives {
        let other = d.join("scope/other");
        std::fs::rename(&other, d.join("scope/.tessera-hidden")).unwrap();
        std::fs::write(&other, b"not a directory").unwrap();
    }
    let (keys, _) = list(&mut c, "scope", "wanted/", "/").await;
    assert_eq!(keys, ["wanted/a"]);
    let (keys, _) = list(&mut c, "scope", "wanted/", "").await;
    assert_eq!(keys, ["wanted/a"]);
}

/// The mount's LOOKUP in one call: an object, a directory marker, a prefix with no marker,
/// a name that is both, nothing, and a missing bucket.
#[tokio::test]
async fn lookup_tells_objects_markers_and_prefixes_apart() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "lookups").await;
    for key in ["file", "dir/", "implicit/x", "both", "both/y"] {
        put(&mut c, "lookups", key, b"data").await.unwrap();
    }
    let mut lookup = async |key: &str| {
        c.lookup(pb::LookupRequest {
            bucket: "lookups".into(),
            key: key.into(),
        })
        .await
        .map(|r| r.into_inner())
    };
    let file = lookup("file").await.unwrap();
    assert_eq!(file.object.map(|o| o.size), Some(4));
    assert!(file.marker.is_none() && !file.is_prefix);
    let dir = lookup("dir").await.unwrap();
    assert_eq!(dir.marker.map(|o| o.key).as_deref(), Some("dir/"));
    assert!(dir.object.is_none() && dir.is_prefix);
    let implicit = lookup("implicit").await.unwrap();
    assert!(implicit.object.is_none() && implicit.marker.is_none() && implicit.is_prefix);
    let both = lookup("both").await.unwrap();
    assert!(both.object.is_some() && both.marker.is_none() && both.is_prefix);
    let none = lookup("nothing").await.unwrap();
    assert!(none.object.is_none() && none.marker.is_none() && !none.is_prefix);
    assert_code(lookup("bad//key").await, Code::InvalidArgument);
    assert_code(
        c.lookup(pb::LookupRequest {
            bucket: "missing".into(),
            key: "k".into(),
        })
        .await,
        Code::NotFound,
    );
}
