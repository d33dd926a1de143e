//! S3 cases: ListObjects (v1: marker, NextMarker), ListObjectsV2 (continuation-token,
//! start-after, fetch-owner, encoding-type=url, KeyCount, max-keys ≤ 1000) and
//! ListObjectVersions (every object is version "null"), ordered by key bytes.

use aws_sdk_s3::types::EncodingType;

use crate::s3::*;

/// Keys whose byte order differs from a naive order (case, `-` < `/` < `0`, UTF-8 last).
const KEYS: [&str; 14] = [
    "B", "a", "a-b", "a/b", "a/c/d", "a/c/e", "a0", "dir/x 1", "dir/x+2", "dir/y/z", "top", "zz/1",
    "zz/2", "é",
];

async fn fill(t: &S3Env) {
    t.mb("list").await;
    // Written out of order.
    for k in KEYS.iter().rev() {
        t.put("list", k, k.as_bytes()).await;
    }
}

fn sorted_keys() -> Vec<String> {
    let mut keys: Vec<String> = KEYS.iter().map(|s| s.to_string()).collect();
    keys.sort(); // String order is byte order.
    keys
}

#[tokio::test]
async fn list_objects_v2_pages_through_every_key_in_byte_order() {
    let t = S3Env::start();
    fill(&t).await;
    assert_eq!(t.keys("list").await, sorted_keys());

    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page =
            t.s3.list_objects_v2()
                .bucket("list")
                .max_keys(4)
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap();
        pages += 1;
        assert_eq!(page.continuation_token(), token.as_deref());
        assert_eq!(page.max_keys(), Some(4));
        assert_eq!(page.key_count(), Some(page.contents().len() as i32));
        for o in page.contents() {
            assert!(o.owner().is_none(), "no owner without fetch-owner");
            assert_eq!(o.size(), Some(o.key().unwrap().len() as i64));
            assert!(o.e_tag().is_some() && o.last_modified().is_some());
            seen.push(o.key().unwrap().to_string());
        }
        if page.is_truncated() != Some(true) {
            assert!(page.next_continuation_token().is_none());
            break;
        }
        token = page.next_continuation_token.clone();
        assert!(token.is_some());
    }
    assert_eq!(seen, sorted_keys());
    assert_eq!(pages, KEYS.len().div_ceil(4));

    // start-after, prefix, fetch-owner.
    let page =
        t.s3.list_objects_v2()
            .bucket("list")
            .start_after("a/c/d")
            .prefix("a")
            .fetch_owner(true)
            .send()
            .await
            .unwrap();
    let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a/c/e", "a0"]);
    assert_eq!(page.start_after(), Some("a/c/d"));
    assert!(page.contents().iter().all(|o| o.owner().is_some()));

    // max-keys is capped at 1000.
    let page =
        t.s3.list_objects_v2()
            .bucket("list")
            .max_keys(5000)
            .send()
            .await
            .unwrap();
    assert_eq!(page.max_keys(), Some(1000));
    assert_eq!(page.key_count(), Some(KEYS.len() as i32));
    assert_s3_err(
        t.s3.list_objects_v2()
            .bucket("list")
            .max_keys(-1)
            .send()
            .await,
        400,
        "InvalidArgument",
    );
}

#[tokio::test]
async fn list_objects_v2_with_a_delimiter_groups_common_prefixes() {
    let t = S3Env::start();
    fill(&t).await;
    let page =
        t.s3.list_objects_v2()
            .bucket("list")
            .delimiter("/")
            .send()
            .await
            .unwrap();
    let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = page
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["B", "a", "a-b", "a0", "top", "é"]);
    assert_eq!(prefixes, ["a/", "dir/", "zz/"]);
    assert_eq!(page.key_count(), Some(9), "KeyCount counts prefixes too");

    let page =
        t.s3.list_objects_v2()
            .bucket("list")
            .prefix("a/")
            .delimiter("/")
            .send()
            .await
            .unwrap();
    let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = page
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!((keys, prefixes), (vec!["a/b"], vec!["a/c/"]));

    // Paging by 2 with a delimiter still yields each prefix once.
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page =
            t.s3.list_objects_v2()
                .bucket("list")
                .delimiter("/")
                .max_keys(2)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
        names.extend(page.contents().iter().filter_map(|o| o.key.clone()));
        names.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix.clone()),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token;
    }
    names.sort();
    assert_eq!(
        names,
        ["B", "a", "a-b", "a/", "a0", "dir/", "top", "zz/", "é"]
    );
}

#[tokio::test]
async fn list_objects_v2_with_url_encoding_encodes_keys_and_prefixes() {
    let t = S3Env::start();
    fill(&t).await;
    let page =
        t.s3.list_objects_v2()
            .bucket("list")
            .prefix("dir/")
            .encoding_type(EncodingType::Url)
            .send()
            .await
            .unwrap();
    assert_eq!(page.encoding_type(), Some(&EncodingType::Url));
    // The Rust SDK does not decode: the wire form is visible.
    let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["dir/x%201", "dir/x%2B2", "dir/y/z"]);
    let page =
        t.s3.list_objects_v2()
            .bucket("list")
            .prefix("é")
            .encoding_type(EncodingType::Url)
            .send()
            .await
            .unwrap();
    assert_eq!(page.prefix(), Some("%C3%A9"));
    let keys: Vec<&str> = page.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["%C3%A9"]);
}

#[tokio::test]
async fn list_objects_v1_pages_with_marker_and_next_marker() {
    let t = S3Env::start();
    fill(&t).await;
    // Without a delimiter: the next marker is the last key of the page.
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page =
            t.s3.list_objects()
                .bucket("list")
                .max_keys(5)
                .set_marker(marker.clone())
                .send()
                .await
                .unwrap();
        assert_eq!(page.marker().unwrap_or(""), marker.as_deref().unwrap_or(""));
        assert!(page.contents().iter().all(|o| o.owner().is_some()));
        let keys: Vec<String> = page
            .contents()
            .iter()
            .filter_map(|o| o.key.clone())
            .collect();
        seen.extend(keys.iter().cloned());
        if page.is_truncated() != Some(true) {
            break;
        }
        let next = page
            .next_marker()
            .map(str::to_string)
            .or_else(|| keys.last().cloned());
        assert_eq!(next.as_deref(), keys.last().map(String::as_str));
        marker = next;
    }
    assert_eq!(seen, sorted_keys());

    // With a delimiter: NextMarker names the last key or prefix, and paging resumes after it.
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page =
            t.s3.list_objects()
                .bucket("list")
                .delimiter("/")
                .max_keys(3)
                .set_marker(marker)
                .send()
                .await
                .unwrap();
        names.extend(page.contents().iter().filter_map(|o| o.key.clone()));
        names.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix.clone()),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        marker = Some(
            page.next_marker()
                .expect("a truncated delimited v1 page has a NextMarker")
                .to_string(),
        );
    }
    names.sort();
    assert_eq!(
        names,
        ["B", "a", "a-b", "a/", "a0", "dir/", "top", "zz/", "é"]
    );
}

#[tokio::test]
async fn list_object_versions_shows_every_object_as_the_null_version() {
    let t = S3Env::start();
    fill(&t).await;
    let mut seen = Vec::new();
    let mut key_marker: Option<String> = None;
    loop {
        let page =
            t.s3.list_object_versions()
                .bucket("list")
                .max_keys(6)
                .set_key_marker(key_marker)
                .send()
                .await
                .unwrap();
        assert!(page.delete_markers().is_empty());
        for v in page.versions() {
            assert_eq!(v.version_id(), Some("null"));
            assert_eq!(v.is_latest(), Some(true));
            assert_eq!(v.size(), Some(v.key().unwrap().len() as i64));
            seen.push(v.key().unwrap().to_string());
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        assert_eq!(page.next_version_id_marker(), Some("null"));
        key_marker = page.next_key_marker.clone();
        assert!(key_marker.is_some());
    }
    assert_eq!(seen, sorted_keys());

    // Cleanup tools delete by version "null".
    let del =
        t.s3.delete_object()
            .bucket("list")
            .key("top")
            .version_id("null")
            .send()
            .await;
    del.unwrap();
    assert!(!t.exists("list", "top").await);
    let page =
        t.s3.list_object_versions()
            .bucket("list")
            .prefix("zz/")
            .delimiter("/")
            .send()
            .await
            .unwrap();
    assert_eq!(page.versions().len(), 2);
}

#[tokio::test]
async fn a_version_id_other_than_null_names_no_object_and_deletes_nothing() {
    // Every object is version "null" (unversioned buckets); S3 refuses other version ids
    // there, and a DELETE naming one must not remove the null version.
    let t = S3Env::start();
    t.mb("vers").await;
    t.put("vers", "k", b"kept").await;
    let other = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY";
    // Every case runs; the problems are reported together.
    let mut problems = Vec::new();
    let get = t.s3.get_object().bucket("vers").key("k").version_id(other);
    if get.send().await.is_ok() {
        problems.push(format!(
            "GET ?versionId={other} answered 200 with the null version"
        ));
    }
    let head = t.s3.head_object().bucket("vers").key("k").version_id(other);
    if head.send().await.is_ok() {
        problems.push(format!("HEAD ?versionId={other} answered 200"));
    }
    let delete =
        t.s3.delete_object()
            .bucket("vers")
            .key("k")
            .version_id(other);
    let answer = match delete.send().await {
        Ok(_) => "success".to_string(),
        Err(e) => format!("HTTP {}", status_of(&e)),
    };
    if !t.exists("vers", "k").await {
        problems.push(format!(
            "DELETE ?versionId={other} removed the null version (answered {answer})"
        ));
        t.put("vers", "k", b"kept").await;
    }
    let null = t.s3.get_object().bucket("vers").key("k").version_id("null");
    let got = null.send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().to_vec(), b"kept");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
