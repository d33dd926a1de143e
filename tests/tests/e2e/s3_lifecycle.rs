//! S3 lifecycle, on a node whose lifecycle "day" is 2 s (the hidden test setting):
//! Put/Get/DeleteBucketLifecycleConfiguration and their errors, `x-amz-expiration` on
//! writes and reads, current versions expiring by prefix, noncurrent versions and a delete
//! marker left alone going on a versioned bucket, abandoned uploads aborted, and a locked
//! version kept.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, ObjectLockMode, Transition, TransitionStorageClass,
    VersioningConfiguration,
};

use crate::s3::*;

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

async fn set_rules(t: &S3Env, bucket: &str, rules: Vec<LifecycleRule>) {
    let conf = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .unwrap();
    (t.s3.put_bucket_lifecycle_configuration().bucket(bucket))
        .lifecycle_configuration(conf)
        .send()
        .await
        .unwrap();
}

/// Waits (up to 30 s) until `cond` holds.
async fn eventually<F, Fut>(what: &str, t: &S3Env, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "{what}: not after 30 s\n{}",
            t.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn version_ids(t: &S3Env, bucket: &str) -> Vec<String> {
    let out =
        t.s3.list_object_versions()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
    let versions = out.versions().iter().filter_map(|v| v.version_id());
    let markers = out.delete_markers().iter().filter_map(|m| m.version_id());
    versions.chain(markers).map(str::to_string).collect()
}

#[tokio::test]
async fn lifecycle_rules_expire_versions_markers_and_uploads_on_their_days() {
    let t = S3Env::start_with(4, &["--test-lifecycle-day-secs", "2"]);
    t.mb("lcu").await;
    // No configuration yet; a transition is not supported; a rule must act.
    let r =
        t.s3.get_bucket_lifecycle_configuration()
            .bucket("lcu")
            .send()
            .await;
    assert_s3_err(r, 404, "NoSuchLifecycleConfiguration");
    let transition = rule("t", "").transitions(
        Transition::builder()
            .days(30)
            .storage_class(TransitionStorageClass::Glacier)
            .build(),
    );
    let conf = BucketLifecycleConfiguration::builder()
        .rules(transition.build().unwrap())
        .build()
        .unwrap();
    let r = (t.s3.put_bucket_lifecycle_configuration().bucket("lcu"))
        .lifecycle_configuration(conf)
        .send()
        .await;
    assert_s3_err(r, 501, "NotImplemented");

    // Unversioned: `tmp/` expires after a day; `keep/` stays.
    let expire = LifecycleExpiration::builder().days(1).build();
    set_rules(
        &t,
        "lcu",
        vec![rule("tmp-1d", "tmp/").expiration(expire).build().unwrap()],
    )
    .await;
    let got =
        t.s3.get_bucket_lifecycle_configuration()
            .bucket("lcu")
            .send()
            .await
            .unwrap();
    assert_eq!(got.rules().len(), 1);
    assert_eq!(got.rules()[0].id(), Some("tmp-1d"));
    assert_eq!(got.rules()[0].expiration().and_then(|e| e.days()), Some(1));
    let put = (t.s3.put_object().bucket("lcu").key("tmp/a"))
        .body(ByteStream::from_static(b"short-lived"))
        .send()
        .await
        .unwrap();
    let header = put.expiration().expect("x-amz-expiration on the PUT");
    assert!(header.contains("rule-id=\"tmp-1d\""), "{header}");
    let head =
        t.s3.head_object()
            .bucket("lcu")
            .key("tmp/a")
            .send()
            .await
            .unwrap();
    assert!(
        head.expiration()
            .is_some_and(|e| e.contains("expiry-date="))
    );
    t.put("lcu", "keep/b", b"kept").await;
    let head =
        t.s3.head_object()
            .bucket("lcu")
            .key("keep/b")
            .send()
            .await
            .unwrap();
    assert_eq!(head.expiration(), None, "no rule takes keep/");
    eventually("tmp/a expired", &t, || async {
        !t.exists("lcu", "tmp/a").await
    })
    .await;
    assert!(t.exists("lcu", "keep/b").await);

    // Abandoned uploads are aborted.
    let abort = AbortIncompleteMultipartUpload::builder()
        .days_after_initiation(1)
        .build();
    set_rules(
        &t,
        "lcu",
        vec![
            rule("uploads", "")
                .abort_incomplete_multipart_upload(abort)
                .build()
                .unwrap(),
        ],
    )
    .await;
    (t.s3.create_multipart_upload().bucket("lcu").key("big"))
        .send()
        .await
        .unwrap();
    eventually("the upload aborted", &t, || async {
        let out =
            t.s3.list_multipart_uploads()
                .bucket("lcu")
                .send()
                .await
                .unwrap();
        out.uploads().is_empty()
    })
    .await;
    t.s3.delete_bucket_lifecycle()
        .bucket("lcu")
        .send()
        .await
        .unwrap();
    let r =
        t.s3.get_bucket_lifecycle_configuration()
            .bucket("lcu")
            .send()
            .await;
    assert_s3_err(r, 404, "NoSuchLifecycleConfiguration");

    // Versioned: noncurrent versions go a day after they were replaced, then the marker
    // left alone.
    t.mb("lcv").await;
    let on = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    (t.s3.put_bucket_versioning().bucket("lcv"))
        .versioning_configuration(on)
        .send()
        .await
        .unwrap();
    let noncurrent = NoncurrentVersionExpiration::builder()
        .noncurrent_days(1)
        .build();
    let marker = LifecycleExpiration::builder()
        .expired_object_delete_marker(true)
        .build();
    set_rules(
        &t,
        "lcv",
        vec![
            rule("old", "")
                .noncurrent_version_expiration(noncurrent)
                .build()
                .unwrap(),
            rule("markers", "").expiration(marker).build().unwrap(),
        ],
    )
    .await;
    let mut last = String::new();
    for n in 0..3 {
        let out = (t.s3.put_object().bucket("lcv").key("k"))
            .body(ByteStream::from(format!("v{n}").into_bytes()))
            .send()
            .await
            .unwrap();
        last = out.version_id().unwrap().to_string();
    }
    eventually("noncurrent versions expired", &t, || async {
        version_ids(&t, "lcv").await == [last.clone()]
    })
    .await;
    assert_eq!(t.get("lcv", "k").await, b"v2");
    t.s3.delete_object()
        .bucket("lcv")
        .key("k")
        .send()
        .await
        .unwrap();
    eventually("the version and then the lone marker gone", &t, || async {
        version_ids(&t, "lcv").await.is_empty()
    })
    .await;

    // A locked version outlives the rule that would remove it.
    (t.s3.create_bucket().bucket("lcl"))
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let noncurrent = NoncurrentVersionExpiration::builder()
        .noncurrent_days(1)
        .build();
    set_rules(
        &t,
        "lcl",
        vec![
            rule("old", "")
                .noncurrent_version_expiration(noncurrent)
                .build()
                .unwrap(),
        ],
    )
    .await;
    let until = aws_sdk_s3::primitives::DateTime::from(
        std::time::SystemTime::now() + Duration::from_secs(3600),
    );
    let locked = (t.s3.put_object().bucket("lcl").key("k"))
        .body(ByteStream::from_static(b"locked"))
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .send()
        .await
        .unwrap();
    let locked = locked.version_id().unwrap().to_string();
    t.put("lcl", "k", b"newer").await;
    // Several lifecycle days pass: the noncurrent locked version stays.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        version_ids(&t, "lcl").await.contains(&locked),
        "{}",
        t.log()
    );
}
