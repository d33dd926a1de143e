//! S3 cases: buckets — ListBuckets, CreateBucket (BucketAlreadyOwnedByYou, InvalidBucketName),
//! HeadBucket, DeleteBucket (BucketNotEmpty), GetBucketLocation, GetBucketVersioning, and
//! NoSuchBucket from the operations that name a missing bucket.

use aws_sdk_s3::primitives::ByteStream;

use crate::s3::*;

#[tokio::test]
async fn buckets_are_created_listed_headed_located_and_deleted() {
    let t = S3Env::start();
    t.mb("alpha").await;
    t.mb("beta").await;
    assert_s3_err(
        t.s3.create_bucket().bucket("alpha").send().await,
        409,
        "BucketAlreadyOwnedByYou",
    );

    let listed = t.s3.list_buckets().send().await.unwrap();
    let names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    for b in listed.buckets() {
        let created = b.creation_date().expect("creation date").secs();
        assert!(created > 1_700_000_000, "{b:?}");
    }
    assert!(listed.owner().and_then(|o| o.id()).is_some());

    t.s3.head_bucket().bucket("alpha").send().await.unwrap();
    assert_status(t.s3.head_bucket().bucket("missing").send().await, 404);

    // us-east-1 answers an empty LocationConstraint.
    let loc =
        t.s3.get_bucket_location()
            .bucket("alpha")
            .send()
            .await
            .unwrap();
    assert!(
        loc.location_constraint()
            .is_none_or(|c| c.as_str().is_empty()),
        "{loc:?}"
    );
    // Unversioned: no Status, as S3 shows a bucket that never had versioning.
    let v =
        t.s3.get_bucket_versioning()
            .bucket("alpha")
            .send()
            .await
            .unwrap();
    assert!(v.status().is_none(), "{v:?}");
    assert_s3_err(
        t.s3.get_bucket_versioning().bucket("missing").send().await,
        404,
        "NoSuchBucket",
    );

    t.put("alpha", "dir/file", b"x").await;
    assert_s3_err(
        t.s3.delete_bucket().bucket("alpha").send().await,
        409,
        "BucketNotEmpty",
    );
    assert!(
        t.exists("alpha", "dir/file").await,
        "refused delete kept the object"
    );
    t.s3.delete_object()
        .bucket("alpha")
        .key("dir/file")
        .send()
        .await
        .unwrap();
    t.s3.delete_bucket().bucket("alpha").send().await.unwrap();
    assert_status(t.s3.head_bucket().bucket("alpha").send().await, 404);
    assert_s3_err(
        t.s3.delete_bucket().bucket("alpha").send().await,
        404,
        "NoSuchBucket",
    );
    let names: Vec<String> =
        t.s3.list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name.clone())
            .collect();
    assert_eq!(names, ["beta"]);
}

#[tokio::test]
async fn operations_on_a_missing_bucket_answer_no_such_bucket() {
    let t = S3Env::start();
    assert_s3_err(
        t.s3.put_object()
            .bucket("nobucket")
            .key("k")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await,
        404,
        "NoSuchBucket",
    );
    assert_s3_err(
        t.s3.get_object().bucket("nobucket").key("k").send().await,
        404,
        "NoSuchBucket",
    );
    assert_s3_err(
        t.s3.list_objects_v2().bucket("nobucket").send().await,
        404,
        "NoSuchBucket",
    );
    assert_s3_err(
        t.s3.create_multipart_upload()
            .bucket("nobucket")
            .key("k")
            .send()
            .await,
        404,
        "NoSuchBucket",
    );
    assert!(
        t.s3.list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .is_empty()
    );
}

#[tokio::test]
async fn invalid_bucket_names_are_refused_and_create_nothing() {
    let t = S3Env::start();
    for name in ["ab", "Bad_Name", "a..b", "-x-", "192.168.0.1"] {
        assert_s3_err(
            t.s3.create_bucket().bucket(name).send().await,
            400,
            "InvalidBucketName",
        );
    }
    assert!(
        t.s3.list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .is_empty()
    );
}
