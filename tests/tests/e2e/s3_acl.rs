//! S3 cases: read-only ACLs (README "S3"): the owner's FULL_CONTROL on buckets and objects,
//! the `private` canned ACL accepted, `public-read` on a bucket as its public-read bucket
//! policy, other grants NotImplemented; and the rights each ACL and CORS operation needs.

use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectCannedAcl, Permission, Type,
};

use crate::iam::{admin, parse_key};
use crate::s3::*;

/// An unsigned GET: its status.
async fn anonymous_get(t: &S3Env, target: &str) -> u16 {
    let host = t.addr().to_string();
    let raw = RawRequest::new("GET", &host, target)
        .send(t.addr())
        .await
        .unwrap();
    raw.status
}

#[tokio::test]
async fn acls_show_the_owner_accept_private_and_make_public_read_a_bucket_policy() {
    let t = S3Env::start();
    t.mb("site").await;
    t.put("site", "index.html", b"<h1>hi</h1>").await;

    let acl = t.s3.get_bucket_acl().bucket("site").send().await.unwrap();
    let owner_id = acl.owner().and_then(|o| o.id()).expect("owner").to_string();
    assert_eq!(acl.grants().len(), 1, "{acl:?}");
    let grant = &acl.grants()[0];
    assert_eq!(grant.permission(), Some(&Permission::FullControl));
    assert_eq!(
        grant.grantee().and_then(|g| g.id()),
        Some(owner_id.as_str())
    );
    let object = (t.s3.get_object_acl().bucket("site").key("index.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(object.grants().len(), 1);
    assert_eq!(
        object.grants()[0].permission(),
        Some(&Permission::FullControl)
    );

    // private: accepted, nothing changes.
    (t.s3.put_bucket_acl().bucket("site"))
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    (t.s3.put_object_acl().bucket("site").key("index.html"))
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_get(&t, "/site/index.html").await, 403);

    // public-read: anyone reads and lists, through a bucket policy GetBucketAcl shows.
    (t.s3.put_bucket_acl().bucket("site"))
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_get(&t, "/site/index.html").await, 200);
    assert_eq!(anonymous_get(&t, "/site?list-type=2").await, 200);
    let policy =
        t.s3.get_bucket_policy()
            .bucket("site")
            .send()
            .await
            .unwrap();
    assert!(policy.policy().unwrap().contains("s3:GetObject"));
    let acl = t.s3.get_bucket_acl().bucket("site").send().await.unwrap();
    let all_users = acl.grants().iter().find(|g| {
        g.grantee().and_then(|w| w.uri()) == Some("http://acs.amazonaws.com/groups/global/AllUsers")
    });
    assert_eq!(
        all_users.and_then(|g| g.permission()),
        Some(&Permission::Read),
        "{acl:?}"
    );
    // private again: the policy public-read made is gone.
    (t.s3.put_bucket_acl().bucket("site"))
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_get(&t, "/site/index.html").await, 403);
    assert_s3_err(
        t.s3.get_bucket_policy().bucket("site").send().await,
        404,
        "NoSuchBucketPolicy",
    );

    // A hand-written policy is not ACL state: private leaves it.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
        "Action":"s3:GetObject","Resource":"arn:aws:s3:::site/index.html"}]}"#;
    (t.s3.put_bucket_policy().bucket("site").policy(doc))
        .send()
        .await
        .unwrap();
    (t.s3.put_bucket_acl().bucket("site"))
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_get(&t, "/site/index.html").await, 200);

    // A body granting the owner alone is private; anything more is not implemented.
    let owner_grant = Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id(&owner_id)
                .build()
                .unwrap(),
        )
        .permission(Permission::FullControl)
        .build();
    let owner = acl.owner().unwrap().clone();
    let body = |grants: Vec<Grant>| {
        AccessControlPolicy::builder()
            .set_grants(Some(grants))
            .owner(owner.clone())
            .build()
    };
    (t.s3.put_bucket_acl().bucket("site"))
        .access_control_policy(body(vec![owner_grant.clone()]))
        .send()
        .await
        .unwrap();
    let everyone_writes = Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::Group)
                .uri("http://acs.amazonaws.com/groups/global/AllUsers")
                .build()
                .unwrap(),
        )
        .permission(Permission::Write)
        .build();
    assert_s3_err(
        (t.s3.put_bucket_acl().bucket("site"))
            .access_control_policy(body(vec![owner_grant, everyone_writes]))
            .send()
            .await,
        501,
        "NotImplemented",
    );
    assert_s3_err(
        (t.s3.put_bucket_acl().bucket("site"))
            .acl(BucketCannedAcl::PublicReadWrite)
            .send()
            .await,
        501,
        "NotImplemented",
    );
    assert_s3_err(
        (t.s3.put_bucket_acl().bucket("site"))
            .grant_read("uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"")
            .send()
            .await,
        501,
        "NotImplemented",
    );
    assert_s3_err(
        (t.s3.put_object_acl().bucket("site").key("index.html"))
            .acl(ObjectCannedAcl::PublicRead)
            .send()
            .await,
        501,
        "NotImplemented",
    );
    assert_s3_err(
        (t.s3.get_object_acl().bucket("site").key("missing"))
            .send()
            .await,
        404,
        "NoSuchKey",
    );
    assert_s3_err(
        t.s3.get_bucket_acl().bucket("missing").send().await,
        404,
        "NoSuchBucket",
    );
}

#[tokio::test]
async fn acl_and_cors_operations_need_their_own_rights() {
    let t = S3Env::start();
    t.mb("bkt").await;
    t.put("bkt", "k", b"x").await;
    let node = t.node();
    let dir = tempfile::tempdir().unwrap();
    let write_policy = |name: &str, actions: &str| {
        let file = dir.path().join(format!("{name}.json"));
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":[{actions}],
              "Resource":["arn:aws:s3:::bkt","arn:aws:s3:::bkt/*"]}}]}}"#
        );
        std::fs::write(&file, doc).unwrap();
        admin(
            node,
            &["admin", "policy", "add", name, file.to_str().unwrap()],
        );
    };
    write_policy("reader", r#""s3:GetObject","s3:ListBucket""#);
    write_policy(
        "acl-cors",
        r#""s3:GetBucketAcl","s3:PutBucketAcl","s3:GetObjectAcl","s3:PutObjectAcl",
           "s3:GetBucketCORS","s3:PutBucketCORS""#,
    );
    let key_of = |user: &str, policy: &str| {
        parse_key(&node.cli(&["admin", "user", "add", user, "--policy", policy], None))
    };
    let reader = key_of("reader", "reader");
    let allowed = key_of("manager", "acl-cors");

    let cors = aws_sdk_s3::types::CorsConfiguration::builder()
        .cors_rules(
            aws_sdk_s3::types::CorsRule::builder()
                .allowed_origins("*")
                .allowed_methods("GET")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    for (key, ok) in [(&reader, false), (&allowed, true)] {
        let s3 = client(&node.endpoint, &key.0, &key.1);
        let check = |status: Result<(), (u16, Option<String>)>, what: &str| match (status, ok) {
            (Ok(()), true) => {}
            (Err((403, Some(code))), false) if code == "AccessDenied" => {}
            (other, _) => panic!("{what} as {}: {other:?}", key.0),
        };
        fn outcome<T, E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug>(
            r: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
        ) -> Result<(), (u16, Option<String>)> {
            r.map(|_| ()).map_err(|e| {
                (
                    status_of(&e),
                    e.as_service_error()
                        .and_then(|s| s.code().map(str::to_owned)),
                )
            })
        }
        check(
            outcome(s3.get_bucket_acl().bucket("bkt").send().await),
            "GetBucketAcl",
        );
        check(
            outcome(
                s3.put_bucket_acl()
                    .bucket("bkt")
                    .acl(BucketCannedAcl::Private)
                    .send()
                    .await,
            ),
            "PutBucketAcl",
        );
        check(
            outcome(s3.get_object_acl().bucket("bkt").key("k").send().await),
            "GetObjectAcl",
        );
        check(
            outcome(
                s3.put_object_acl()
                    .bucket("bkt")
                    .key("k")
                    .acl(ObjectCannedAcl::Private)
                    .send()
                    .await,
            ),
            "PutObjectAcl",
        );
        check(
            outcome(
                s3.put_bucket_cors()
                    .bucket("bkt")
                    .cors_configuration(cors.clone())
                    .send()
                    .await,
            ),
            "PutBucketCors",
        );
        check(
            outcome(s3.get_bucket_cors().bucket("bkt").send().await),
            "GetBucketCors",
        );
        check(
            outcome(s3.delete_bucket_cors().bucket("bkt").send().await),
            "DeleteBucketCors",
        );
    }
}
