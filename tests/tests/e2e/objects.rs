//! Every object operation over gRPC on the 4-drive (2+2), 6-drive (3+3) and 32-drive
//! (two sets of 12+4) layouts.

use tessera_proto::object as pb;
use tessera_tests::{md5_hex, pattern};
use tonic::Code;

use crate::common::*;

async fn every_object_operation_works(
    drives: usize,
    expect_sets: usize,
    expect_k: u32,
    expect_m: u32,
) {
    let env = Env::start(drives);
    let mut c = env.node.client().await;

    // Cluster info shows the layout.
    let info = c
        .cluster_info(pb::ClusterInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.sets.len(), expect_sets);
    for s in &info.sets {
        assert_eq!((s.data_shards, s.parity_shards), (expect_k, expect_m));
        assert!(
            s.drives
                .iter()
                .all(|d| d.state == pb::DriveState::Online as i32)
        );
    }
    assert!(info.total_bytes > 0 && info.usable_free_bytes > 0);

    // Buckets.
    mb(&mut c, "bucket").await;
    assert_code(
        c.create_bucket(pb::CreateBucketRequest {
            bucket: "bucket".into(),
        })
        .await,
        Code::AlreadyExists,
    );
    let head_b = c
        .head_bucket(pb::HeadBucketRequest {
            bucket: "bucket".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(head_b.name, "bucket");
    assert!(head_b.created.unwrap().seconds > 1_700_000_000);
    mb(&mut c, "other").await;
    let names: Vec<String> = c
        .list_buckets(pb::ListBucketsRequest {})
        .await
        .unwrap()
        .into_inner()
        .buckets
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["bucket", "other"]);

    // Put / get / head at every edge size, bit-exact, ETag = MD5.
    for (i, size) in edge_sizes().into_iter().enumerate() {
        let data = pattern(size, i as u64);
        let key = format!("sizes/{size}");
        let attrs = pb::ObjectAttributes {
            content_type: "application/x-test".into(),
            user_metadata: [("origin".to_string(), format!("size-{size}"))].into(),
        };
        let put = put_with(
            &mut c,
            "bucket",
            &key,
            &data,
            Some(size as u64),
            Some(attrs),
        )
        .await
        .unwrap();
        assert_eq!(put.etag, md5_hex(&data), "etag of {size}");
        assert_eq!(put.size, size as u64);
        assert_eq!(
            get(&mut c, "bucket", &key).await.unwrap(),
            data,
            "content of {size}"
        );
        let h = head(&mut c, "bucket", &key).await.unwrap();
        assert_eq!(
            (h.size, h.etag.as_str()),
            (size as u64, md5_hex(&data).as_str())
        );
        assert_eq!(h.content_type, "application/x-test");
        assert_eq!(
            h.user_metadata.get("origin").map(String::as_str),
            Some(format!("size-{size}").as_str())
        );
    }

    // Range reads at block edges touch only what they need and return exact bytes.
    let big = pattern(3 * (1 << 20) + 12345, 99);
    put(&mut c, "bucket", "big", &big).await.unwrap();
    let b = 1u64 << 20;
    for (start, end) in [
        (0, 1),
        (b - 1, b + 1),
        (b, 2 * b),
        (2 * b - 7, 3 * b + 5),
        (3 * b, big.len() as u64),
        (5, 5 + 1),
    ] {
        let (info, data) = get_range(&mut c, "bucket", "big", Some((start, Some(end))))
            .await
            .unwrap();
        assert_eq!((info.start, info.end), (start, end));
        assert_eq!(
            data,
            &big[start as usize..end as usize],
            "range {start}..{end}"
        );
    }
    let (_, tail) = get_range(&mut c, "bucket", "big", Some((3 * b, None)))
        .await
        .unwrap();
    assert_eq!(tail, &big[3 * b as usize..]);
    // A range running past the end is clamped; one starting past it is refused.
    let (_, clamped) = get_range(
        &mut c,
        "bucket",
        "big",
        Some((big.len() as u64 - 3, Some(u64::MAX))),
    )
    .await
    .unwrap();
    assert_eq!(clamped, &big[big.len() - 3..]);
    assert_code(
        get_range(&mut c, "bucket", "big", Some((big.len() as u64, None))).await,
        Code::OutOfRange,
    );

    // Overwrite replaces whole.
    let v2 = pattern(200_000, 7);
    put(&mut c, "bucket", "big", &v2).await.unwrap();
    assert_eq!(get(&mut c, "bucket", "big").await.unwrap(), v2);

    // Copy (attributes copied, or replaced) and rename (replacing the target).
    let copied = c
        .copy_object(pb::CopyObjectRequest {
            src_bucket: "bucket".into(),
            src_key: "sizes/1048577".into(),
            dst_bucket: "other".into(),
            dst_key: "copy".into(),
            attributes: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(copied.etag, md5_hex(&pattern(1048577, 7)));
    assert_eq!(
        get(&mut c, "other", "copy").await.unwrap(),
        pattern(1048577, 7)
    );
    assert_eq!(
        head(&mut c, "other", "copy").await.unwrap().content_type,
        "application/x-test"
    );
    let replaced = c
        .copy_object(pb::CopyObjectRequest {
            src_bucket: "other".into(),
            src_key: "copy".into(),
            dst_bucket: "other".into(),
            dst_key: "copy".into(),
            attributes: Some(pb::ObjectAttributes {
                content_type: "text/plain".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.content_type, "text/plain");
    assert_eq!(
        get(&mut c, "other", "copy").await.unwrap(),
        pattern(1048577, 7)
    );

    put(&mut c, "bucket", "target", b"old target")
        .await
        .unwrap();
    for (src, dst) in [
        ("sizes/1", "target"),
        ("big", "moved/big"),
        ("sizes/131072", "x/y/inline"),
    ] {
        let before = get(&mut c, "bucket", src).await.unwrap();
        let r = c
            .rename_object(pb::RenameObjectRequest {
                bucket: "bucket".into(),
                src_key: src.into(),
                dst_key: dst.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.key, dst);
        assert_eq!(get(&mut c, "bucket", dst).await.unwrap(), before);
        assert_code(head(&mut c, "bucket", src).await, Code::NotFound);
    }
    assert_code(
        c.rename_object(pb::RenameObjectRequest {
            bucket: "bucket".into(),
            src_key: "nope".into(),
            dst_key: "x".into(),
        })
        .await,
        Code::NotFound,
    );

    // Directory markers (keys ending in '/') coexist with the object of the same name.
    put(&mut c, "bucket", "dir/", b"").await.unwrap();
    put(&mut c, "bucket", "dir", b"file").await.unwrap();
    assert_eq!(get(&mut c, "bucket", "dir").await.unwrap(), b"file");
    assert_eq!(head(&mut c, "bucket", "dir/").await.unwrap().size, 0);

    // Delete, delete-many, and listing after delete.
    c.delete_object(pb::DeleteObjectRequest {
        bucket: "bucket".into(),
        key: "dir".into(),
    })
    .await
    .unwrap();
    assert_code(head(&mut c, "bucket", "dir").await, Code::NotFound);
    assert_code(
        c.delete_object(pb::DeleteObjectRequest {
            bucket: "bucket".into(),
            key: "dir".into(),
        })
        .await,
        Code::NotFound,
    );
    let (keys, _) = list(&mut c, "bucket", "sizes/", "").await;
    assert_eq!(keys.len(), edge_sizes().len() - 2, "{keys:?}");
    let mut all = keys.clone();
    all.push("never-existed".into());
    let results = c
        .delete_objects(pb::DeleteObjectsRequest {
            bucket: "bucket".into(),
            keys: all,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(results[..keys.len()].iter().all(|r| r.error.is_none()));
    assert_eq!(
        results.last().unwrap().error.as_ref().unwrap().code,
        pb::ErrorCode::NotFound as i32
    );
    assert!(list(&mut c, "bucket", "sizes/", "").await.0.is_empty());

    // A bucket with objects cannot be removed; an empty one can.
    assert_code(
        c.delete_bucket(pb::DeleteBucketRequest {
            bucket: "other".into(),
        })
        .await,
        Code::FailedPrecondition,
    );
    c.delete_object(pb::DeleteObjectRequest {
        bucket: "other".into(),
        key: "copy".into(),
    })
    .await
    .unwrap();
    c.delete_bucket(pb::DeleteBucketRequest {
        bucket: "other".into(),
    })
    .await
    .unwrap();
    assert_code(
        c.head_bucket(pb::HeadBucketRequest {
            bucket: "other".into(),
        })
        .await,
        Code::NotFound,
    );
}

#[tokio::test]
async fn every_object_operation_works_on_4_drives() {
    every_object_operation_works(4, 1, 2, 2).await;
}

#[tokio::test]
async fn every_object_operation_works_on_6_drives() {
    every_object_operation_works(6, 1, 3, 3).await;
}

#[tokio::test]
async fn every_object_operation_works_on_32_drives_in_two_sets() {
    every_object_operation_works(32, 2, 12, 4).await;
}

#[tokio::test]
async fn objects_spread_over_both_sets_of_a_32_drive_node() {
    let env = Env::start(32);
    let mut c = env.node.client().await;
    mb(&mut c, "spread").await;
    for i in 0..40 {
        put(&mut c, "spread", &format!("k{i}"), b"x").await.unwrap();
    }
    // Drives 0..16 form set 1, 16..32 set 2; each object's metadata sits on its set only.
    let in_set = |range: std::ops::Range<usize>| {
        (0..40)
            .filter(|i| {
                range
                    .clone()
                    .all(|d| env.node.meta_file(d, "spread", &format!("k{i}")).exists())
            })
            .count()
    };
    let (first, second) = (in_set(0..16), in_set(16..32));
    assert_eq!(first + second, 40);
    assert!(
        first >= 5 && second >= 5,
        "set 1 holds {first}, set 2 holds {second}"
    );
    let (keys, _) = list(&mut c, "spread", "", "").await;
    let mut expected: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    expected.sort();
    assert_eq!(keys, expected, "listing merges both sets in key order");
}

#[tokio::test]
async fn a_single_drive_node_stores_and_serves_objects() {
    let env = Env::start(1);
    let mut c = env.node.client().await;
    mb(&mut c, "solo").await;
    let data = pattern(2_500_000, 3);
    put(&mut c, "solo", "k", &data).await.unwrap();
    assert_eq!(get(&mut c, "solo", "k").await.unwrap(), data);
}
