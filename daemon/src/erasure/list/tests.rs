//! Listings answered from the drives' listing summaries match listings read from the
//! metadata files, through every change of an object and with summaries lost or damaged.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::drive::WalkMeta;
use crate::erasure::ErasureSet;
use crate::erasure::limits::INLINE_LIMIT;
use crate::erasure::meta::summary::listing_view;
use crate::erasure::tests::{set, write};
use crate::erasure::{MetadataUpdate, ObjectAttrs, WriteCondition};

fn opts(summaries: bool) -> WalkOptions {
    WalkOptions {
        limit: 1000,
        summaries,
        ..Default::default()
    }
}

/// The set's listing as (name, listing view of its metadata), read with or without the
/// summaries.
async fn listing(set: &ErasureSet, summaries: bool) -> Vec<(String, Option<ObjectMeta>)> {
    let page = set.list_page("b", &opts(summaries)).await.unwrap();
    page.entries
        .into_iter()
        .map(|e| match e {
            ListEntry::Object(name, meta) => (name, Some(listing_view(&meta))),
            ListEntry::Prefix(name) => (name, None),
        })
        .collect()
}

/// Both listings agree; returns the one from summaries.
async fn checked_listing(set: &ErasureSet) -> Vec<(String, Option<ObjectMeta>)> {
    let from_summaries = listing(set, true).await;
    assert_eq!(from_summaries, listing(set, false).await);
    from_summaries
}

/// How many of the set's drives answer a walk with `key`'s summary.
async fn summarized_on(set: &ErasureSet, key: &str) -> usize {
    let mut n = 0;
    for d in set.drives().all() {
        let page = d.walk("b", &opts(true)).await.unwrap();
        let found = page.entries.iter().find(|e| e.name == key);
        n += usize::from(matches!(found, Some(e) if matches!(e.meta, Some(WalkMeta::Summary(_)))));
    }
    n
}

/// The raw listing-summary attribute of a directory.
fn xattr(dir: &Path) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
    crate::sys::get_xattr(&c, c"user.tessera", 64).unwrap()
}

fn drive_dir(root: &Path, drive: usize, key: &str) -> std::path::PathBuf {
    root.join(format!("d{drive}")).join("b").join(key)
}

#[tokio::test]
async fn summaries_follow_every_change_of_an_object() {
    let tmp = tempfile::tempdir().unwrap();
    let set = set(tmp.path(), 4, 2).await;
    let big = vec![7u8; INLINE_LIMIT + 1];
    write(&set, "small", b"hello").await;
    write(&set, "dir/big", &big).await;
    write(&set, "dir/", b"").await;
    assert_eq!(
        summarized_on(&set, "small").await,
        4,
        "an inline write keeps one"
    );
    let listed = checked_listing(&set).await;
    let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["dir/", "small"]);

    // Metadata a summary cannot hold: the old summary must not outlive it.
    let color = MetadataUpdate {
        set: BTreeMap::from([("color".to_string(), "red".to_string())]),
        ..Default::default()
    };
    set.writes()
        .update_metadata("b", "small", &color, 2048)
        .await
        .unwrap();
    assert_eq!(summarized_on(&set, "small").await, 0);
    let listed = checked_listing(&set).await;
    let small = listed[1].1.as_ref().unwrap();
    assert_eq!(
        small.user_metadata.get("color").map(String::as_str),
        Some("red")
    );
    let plain = MetadataUpdate {
        set: BTreeMap::from([("mode".to_string(), "33188".to_string())]),
        remove: vec!["color".to_string()],
        ..Default::default()
    };
    set.writes()
        .update_metadata("b", "small", &plain, 2048)
        .await
        .unwrap();
    assert_eq!(summarized_on(&set, "small").await, 4);

    // Overwrites, inline and not, and a rename that takes the summary along.
    write(&set, "small", b"hello again").await;
    let moved = set
        .writes()
        .rename_object("b", "dir/big", "dir/moved")
        .await
        .unwrap();
    let renamed = set
        .writes()
        .rename_object("b", "small", "dir/small")
        .await
        .unwrap();
    let prefix = WalkOptions {
        prefix: "dir/".into(),
        ..opts(true)
    };
    let page = set.list_page("b", &prefix).await.unwrap();
    let names: Vec<&str> = page.entries.iter().map(ListEntry::name).collect();
    assert_eq!(names, ["dir/", "dir/moved", "dir/small"]);
    for (key, meta) in [("dir/moved", &moved), ("dir/small", &renamed)] {
        let page = set.drives().get(0).walk("b", &prefix).await.unwrap();
        let entry = page.entries.iter().find(|e| e.name == key).unwrap();
        let Some(found @ WalkMeta::Summary(_)) = &entry.meta else {
            panic!("{key}: no summary after the rename");
        };
        assert_eq!(ObjectMeta::from_walk(found).unwrap(), listing_view(meta));
    }
    assert_eq!(moved.size, big.len() as u64);
    assert_eq!(renamed.size, 11);

    // A delete leaves no summary behind, even where the directory stays.
    write(&set, "dir/moved/under", b"x").await;
    set.writes().delete_object("b", "dir/moved").await.unwrap();
    for d in 0..4 {
        let dir = drive_dir(tmp.path(), d, "dir/moved");
        assert!(dir.is_dir(), "the directory holds a key below");
        assert_eq!(xattr(&dir), None);
    }
    let page = set.list_page("b", &prefix).await.unwrap();
    let names: Vec<&str> = page.entries.iter().map(ListEntry::name).collect();
    assert_eq!(names, ["dir/", "dir/moved/", "dir/small"]);
}

#[tokio::test]
async fn lost_or_damaged_summaries_fall_back_to_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let set = set(tmp.path(), 4, 2).await;
    for i in 0..40 {
        write(&set, &format!("k{i:02}"), format!("body {i}").as_bytes()).await;
    }
    let before = checked_listing(&set).await;
    assert_eq!(before.len(), 40);
    // What a crash between a metadata change and its new summary leaves, and bit rot.
    for i in 0..40 {
        let dir = drive_dir(tmp.path(), i % 4, &format!("k{i:02}"));
        let c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        if i % 2 == 0 {
            crate::sys::remove_xattr(&c, c"user.tessera").unwrap();
        } else {
            let mut bad = xattr(&dir).expect("a summary");
            bad[5] ^= 1;
            crate::sys::set_xattr(&c, c"user.tessera", &bad).unwrap();
        }
    }
    assert_eq!(checked_listing(&set).await, before);
    // A summary left over a newer file would list the old version: writes never leave one.
    let mut reader = std::io::Cursor::new(b"newer".to_vec());
    let attrs = ObjectAttrs {
        user_metadata: BTreeMap::from([("owner".to_string(), "me".to_string())]),
        ..Default::default()
    };
    set.writes()
        .put_object(
            "b",
            "k07",
            &attrs,
            &mut reader,
            Some(5),
            &WriteCondition::NONE,
        )
        .await
        .unwrap();
    let after = checked_listing(&set).await;
    let k07 = after[7].1.as_ref().unwrap();
    assert_eq!((k07.size, k07.user_metadata.len()), (5, 1));
}
