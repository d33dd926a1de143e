//! S3 object lock: buckets created with it (versioning enabled for good), COMPLIANCE and
//! GOVERNANCE retention on writes and by PutObjectRetention, legal holds, the bucket's
//! default retention, the bypass and the right it needs, and deletes from the other front
//! ends (gRPC, the mount) that add delete markers and never remove a locked version.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled,
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};
use tessera_proto::object as pb;

use crate::fuse::FuseEnv;
use crate::iam::parse_key;
use crate::s3::*;

fn in_secs(s: u64) -> DateTime {
    DateTime::from(SystemTime::now() + Duration::from_secs(s))
}

fn retention(mode: ObjectLockRetentionMode, secs: u64) -> ObjectLockRetention {
    ObjectLockRetention::builder()
        .mode(mode)
        .retain_until_date(in_secs(secs))
        .build()
}

async fn put_locked(t: &S3Env, key: &str, mode: Option<ObjectLockMode>) -> String {
    let out = (t.s3.put_object().bucket("vault").key(key))
        .body(ByteStream::from_static(b"kept"))
        .set_object_lock_mode(mode.clone())
        .set_object_lock_retain_until_date(mode.map(|_| in_secs(3600)))
        .send()
        .await
        .unwrap();
    out.version_id().expect("a version id").to_string()
}

async fn delete_version(t: &S3Env, key: &str, version: &str, bypass: bool) -> u16 {
    let r = (t
        .s3
        .delete_object()
        .bucket("vault")
        .key(key)
        .version_id(version))
    .bypass_governance_retention(bypass)
    .send()
    .await;
    match r {
        Ok(_) => 204,
        Err(e) => status_of(&e),
    }
}

#[tokio::test]
async fn locked_versions_stay_until_their_date_whoever_asks() {
    let t = S3Env::start();
    (t.s3.create_bucket().bucket("vault"))
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let v = t.s3.get_bucket_versioning().bucket("vault").send().await;
    assert_eq!(v.unwrap().status(), Some(&BucketVersioningStatus::Enabled));
    let suspend = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Suspended)
        .build();
    let r = (t.s3.put_bucket_versioning().bucket("vault"))
        .versioning_configuration(suspend)
        .send()
        .await;
    assert_s3_err(r, 409, "InvalidBucketState");
    // A bucket without object lock takes no lock headers and has no configuration.
    t.mb("plain").await;
    let r = (t.s3.put_object().bucket("plain").key("k"))
        .body(ByteStream::from_static(b"x"))
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_secs(60))
        .send()
        .await;
    assert_s3_err(r, 400, "InvalidRequest");
    let r =
        t.s3.get_object_lock_configuration()
            .bucket("plain")
            .send()
            .await;
    assert_s3_err(r, 404, "ObjectLockConfigurationNotFoundError");

    // COMPLIANCE: no delete of the version, no shortening, even by root with a bypass.
    let v1 = put_locked(&t, "c", Some(ObjectLockMode::Compliance)).await;
    let head = (t.s3.head_object().bucket("vault").key("c"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert!(head.object_lock_retain_until_date().is_some());
    assert_eq!(delete_version(&t, "c", &v1, true).await, 403);
    let r = (t
        .s3
        .put_object_retention()
        .bucket("vault")
        .key("c")
        .version_id(&v1))
    .retention(retention(ObjectLockRetentionMode::Compliance, 60))
    .bypass_governance_retention(true)
    .send()
    .await;
    assert_s3_err(r, 403, "AccessDenied");
    (t.s3
        .put_object_retention()
        .bucket("vault")
        .key("c")
        .version_id(&v1))
    .retention(retention(ObjectLockRetentionMode::Compliance, 7200))
    .send()
    .await
    .expect("extending is allowed");
    // A delete without a version adds a marker; the version stays and reads.
    let del = t.s3.delete_object().bucket("vault").key("c").send().await;
    assert_eq!(del.unwrap().delete_marker(), Some(true));
    let got = (t.s3.get_object().bucket("vault").key("c").version_id(&v1))
        .send()
        .await;
    let body = got.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"kept");

    // GOVERNANCE: yields to a bypass, which needs its own right.
    let v2 = put_locked(&t, "g", Some(ObjectLockMode::Governance)).await;
    assert_eq!(delete_version(&t, "g", &v2, false).await, 403);
    let key = parse_key(&t.node().cli(
        &["admin", "user", "add", "app", "--policy", "readwrite"],
        None,
    ));
    let deny = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:*","Resource":"*"},
        {"Effect":"Deny","Action":"s3:BypassGovernanceRetention","Resource":"*"}]}"#;
    let file = t.env.dir.path().join("nobypass.json");
    std::fs::write(&file, deny).unwrap();
    let out = t.node().cli(
        &["admin", "policy", "add", "nobypass", file.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let out = t.node().cli(
        &["admin", "policy", "attach", "nobypass", "--user", "app"],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let app = client(&t.node().endpoint, &key.0, &key.1);
    let r = (app.delete_object().bucket("vault").key("g").version_id(&v2))
        .bypass_governance_retention(true)
        .send()
        .await;
    assert_s3_err(r, 403, "AccessDenied");
    assert_eq!(delete_version(&t, "g", &v2, true).await, 204);

    // A legal hold yields to nothing while it is on.
    let v3 = put_locked(&t, "h", None).await;
    let hold = |on: bool| {
        let status = match on {
            true => ObjectLockLegalHoldStatus::On,
            false => ObjectLockLegalHoldStatus::Off,
        };
        (t.s3
            .put_object_legal_hold()
            .bucket("vault")
            .key("h")
            .version_id(&v3))
        .legal_hold(ObjectLockLegalHold::builder().status(status).build())
        .send()
    };
    hold(true).await.unwrap();
    let got = (t.s3.get_object_legal_hold().bucket("vault").key("h"))
        .send()
        .await;
    let status = got.unwrap().legal_hold().and_then(|h| h.status().cloned());
    assert_eq!(status, Some(ObjectLockLegalHoldStatus::On));
    assert_eq!(delete_version(&t, "h", &v3, true).await, 403);
    hold(false).await.unwrap();
    assert_eq!(delete_version(&t, "h", &v3, false).await, 204);

    // The default retention applies to writes that name none.
    let rule = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .days(1)
                .build(),
        )
        .build();
    let conf = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(rule)
        .build();
    (t.s3.put_object_lock_configuration().bucket("vault"))
        .object_lock_configuration(conf)
        .send()
        .await
        .unwrap();
    let got =
        t.s3.get_object_lock_configuration()
            .bucket("vault")
            .send()
            .await;
    let days = got
        .unwrap()
        .object_lock_configuration()
        .and_then(|c| c.rule().cloned());
    assert_eq!(
        days.and_then(|r| r.default_retention().and_then(|d| d.days())),
        Some(1)
    );
    let v4 = put_locked(&t, "d", None).await;
    let r = (t.s3.get_object_retention().bucket("vault").key("d"))
        .send()
        .await;
    let r = r.unwrap().retention().cloned().expect("a retention");
    assert_eq!(r.mode(), Some(&ObjectLockRetentionMode::Governance));
    let until = r.retain_until_date().unwrap().secs();
    let day = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 86_400;
    assert!((until - day).abs() < 120, "{until} vs {day}");
    assert_eq!(delete_version(&t, "d", &v4, false).await, 403);

    // gRPC deletes add markers: the locked version stays.
    let mut c = t.node().client().await;
    c.delete_object(pb::DeleteObjectRequest {
        bucket: "vault".into(),
        key: "d".into(),
    })
    .await
    .expect("a delete adds a marker");
    assert!(!t.exists("vault", "d").await);
    let got = (t.s3.get_object().bucket("vault").key("d").version_id(&v4))
        .send()
        .await;
    assert!(got.is_ok(), "the version stays");
}

#[tokio::test]
async fn the_mount_of_a_versioned_bucket_shows_the_latest_and_deletes_add_markers() {
    let Some(f) = FuseEnv::start(&[]).await else {
        return;
    };
    let t = &f.s3;
    let enabled = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    (t.s3.put_bucket_versioning().bucket(&f.bucket))
        .versioning_configuration(enabled)
        .send()
        .await
        .unwrap();
    let conf = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(
                    DefaultRetention::builder()
                        .mode(ObjectLockRetentionMode::Compliance)
                        .days(1)
                        .build(),
                )
                .build(),
        )
        .build();
    (t.s3.put_object_lock_configuration().bucket(&f.bucket))
        .object_lock_configuration(conf)
        .send()
        .await
        .unwrap();
    // Let the mount's node forget nothing: the state is this node's own, at once.
    let path = f.at("notes.txt");
    std::fs::write(&path, b"first").unwrap();
    std::fs::write(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    std::fs::remove_file(&path).expect("rm adds a marker");
    assert!(!path.exists());
    let listed = (t
        .s3
        .list_object_versions()
        .bucket(&f.bucket)
        .prefix("notes.txt"))
    .send()
    .await
    .unwrap();
    assert_eq!(listed.delete_markers().len(), 1);
    let versions = listed.versions();
    assert_eq!(versions.len(), 2, "{versions:?}");
    for v in versions {
        let id = v.version_id().unwrap();
        let r = (t
            .s3
            .delete_object()
            .bucket(&f.bucket)
            .key("notes.txt")
            .version_id(id))
        .send()
        .await;
        assert_s3_err(r, 403, "AccessDenied");
    }
    let first = versions.last().unwrap().version_id().unwrap();
    let got = (t
        .s3
        .get_object()
        .bucket(&f.bucket)
        .key("notes.txt")
        .version_id(first))
    .send()
    .await;
    let body = got.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"first");
}
