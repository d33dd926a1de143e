//! The admin API's refusals and bad input (README "Users, keys and policies"): every admin
//! call refuses a key whose policies do not grant it (PERMISSION_DENIED), an attached admin
//! policy grants exactly its actions, and refused input (names, documents, durations)
//! changes nothing; disabled users and expired keys are refused.

use std::fs;
use std::time::Duration;

use tessera_proto::admin as adm;
use tessera_proto::auth::Credentials;
use tessera_proto::client::connect_admin;
use tonic::Code;

use crate::iam::{admin, parse_key};
use crate::s3::{S3Env, assert_s3_err, client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_admin_calls_refuse_keys_without_admin_rights_and_bad_input_changes_nothing() {
    let env = S3Env::start();
    env.mb("bkt1").await;
    let node = env.node();
    let rw = parse_key(&node.cli(
        &["admin", "user", "add", "rw", "--policy", "readwrite"],
        None,
    ));
    let creds = Credentials {
        access_key: rw.0.clone(),
        secret_key: rw.1.clone(),
    };
    let mut a = connect_admin(&node.endpoint, creds).await.expect("connect");
    // Every admin call is refused to a key whose policies grant no admin action.
    let user = || adm::UserRequest { name: "rw".into() };
    denied(
        a.add_user(adm::AddUserRequest {
            name: "x".into(),
            ..Default::default()
        })
        .await
        .map(|_| ()),
        "AddUser",
    );
    denied(
        a.list_users(adm::ListUsersRequest {}).await.map(|_| ()),
        "ListUsers",
    );
    denied(a.user_info(user()).await.map(|_| ()), "UserInfo");
    denied(
        a.set_user_enabled(adm::SetUserEnabledRequest {
            name: "rw".into(),
            enabled: false,
        })
        .await
        .map(|_| ()),
        "SetUserEnabled",
    );
    denied(a.remove_user(user()).await.map(|_| ()), "RemoveUser");
    denied(
        a.add_key(adm::AddKeyRequest {
            user: "rw".into(),
            ..Default::default()
        })
        .await
        .map(|_| ()),
        "AddKey",
    );
    denied(a.list_keys(user()).await.map(|_| ()), "ListKeys");
    denied(
        a.remove_key(adm::RemoveKeyRequest {
            access_key: rw.0.clone(),
        })
        .await
        .map(|_| ()),
        "RemoveKey",
    );
    denied(
        a.add_policy(adm::AddPolicyRequest {
            name: "p".into(),
            document: "{}".into(),
        })
        .await
        .map(|_| ()),
        "AddPolicy",
    );
    denied(
        a.list_policies(adm::ListPoliciesRequest {})
            .await
            .map(|_| ()),
        "ListPolicies",
    );
    denied(
        a.policy_info(adm::PolicyRequest {
            name: "readonly".into(),
        })
        .await
        .map(|_| ()),
        "PolicyInfo",
    );
    denied(
        a.remove_policy(adm::PolicyRequest { name: "p".into() })
            .await
            .map(|_| ()),
        "RemovePolicy",
    );
    denied(
        a.attach_policy(adm::AttachPolicyRequest {
            policy: "readwrite".into(),
            user: "rw".into(),
        })
        .await
        .map(|_| ()),
        "AttachPolicy",
    );
    // readwrite is s3:*, which includes s3:PutBucketPolicy: the shorthand is allowed to it;
    // a readonly key is refused.
    let ro = parse_key(&node.cli(
        &["admin", "user", "add", "ro", "--policy", "readonly"],
        None,
    ));
    let mut ro_admin = connect_admin(
        &node.endpoint,
        Credentials {
            access_key: ro.0.clone(),
            secret_key: ro.1.clone(),
        },
    )
    .await
    .expect("connect");
    denied(
        ro_admin
            .set_bucket_policy(adm::SetBucketPolicyRequest {
                bucket: "bkt1".into(),
                document: String::new(),
            })
            .await
            .map(|_| ()),
        "SetBucketPolicy",
    );
    // A user holding an admin policy may do exactly what it grants.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("lister.json");
    fs::write(
        &file,
        r#"{"Statement":[{"Effect":"Allow","Action":"admin:ListUsers","Resource":"*"}]}"#,
    )
    .expect("write");
    admin(
        node,
        &[
            "admin",
            "policy",
            "add",
            "lister",
            file.to_str().expect("utf-8"),
        ],
    );
    admin(
        node,
        &["admin", "policy", "attach", "lister", "--user", "rw"],
    );
    let listed = tokio::time::timeout(
        Duration::from_secs(5),
        a.list_users(adm::ListUsersRequest {}),
    )
    .await
    .expect("in time")
    .expect("ListUsers allowed by the attached policy")
    .into_inner();
    assert_eq!(listed.users.len(), 2);
    denied(
        a.user_info(user()).await.map(|_| ()),
        "UserInfo after attach",
    );

    // Bad input: a clear error, nothing changed.
    let before = admin(node, &["admin", "user", "list"]);
    for (args, needle) in [
        (
            vec!["admin", "user", "add", "bad name"],
            "invalid user name",
        ),
        (
            vec!["admin", "user", "add", &"x".repeat(65)],
            "invalid user name",
        ),
        (vec!["admin", "user", "add", "rw"], "already exists"),
        (
            vec!["admin", "user", "add", "new", "--policy", "nope"],
            "no such policy",
        ),
        (
            vec!["admin", "user", "add", "new", "--access-key", "test-user"],
            "root credentials",
        ),
        (vec!["admin", "user", "remove", "ghost"], "no such user"),
        (vec!["admin", "policy", "remove", "readonly"], "built-in"),
        (
            vec!["admin", "key", "add", "rw", "--expires", "soon"],
            "invalid duration",
        ),
    ] {
        let out = node.cli(&args, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    let big = dir.path().join("big.json");
    fs::write(
        &big,
        format!(
            r#"{{"Statement":[{{"Sid":"{}","Effect":"Allow","Action":"s3:*","Resource":"*"}}]}}"#,
            "x".repeat(21 * 1024)
        ),
    )
    .expect("write");
    for (doc, needle) in [
        (big.clone(), "more than the 20480 allowed"),
        (
            write(&dir, "syntax.json", "{\"Statement\": ["),
            "malformed policy",
        ),
        (
            write(
                &dir,
                "unknown.json",
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:Fly","Resource":"*"}]}"#,
            ),
            "unknown action \"s3:Fly\"",
        ),
    ] {
        let out = node.cli(
            &["admin", "policy", "add", "p", doc.to_str().expect("utf-8")],
            None,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(needle),
            "{doc:?}: {err}"
        );
    }
    assert_eq!(admin(node, &["admin", "user", "list"]), before);
    assert!(!admin(node, &["admin", "policy", "list"]).contains("p\t"));

    // A disabled user's key is refused; enabled again, it works; an expired key is refused.
    admin(node, &["admin", "user", "disable", "ro"]);
    let s3 = client(&node.endpoint, &ro.0, &ro.1);
    assert_s3_err(s3.list_buckets().send().await, 403, "InvalidAccessKeyId");
    admin(node, &["admin", "user", "enable", "ro"]);
    s3.list_buckets().send().await.expect("enabled again");
    let short = parse_key(&node.cli(&["admin", "key", "add", "ro", "--expires", "1s"], None));
    let s3 = client(&node.endpoint, &short.0, &short.1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_s3_err(s3.list_buckets().send().await, 403, "InvalidAccessKeyId");
}

/// Asserts that an admin call was refused with PERMISSION_DENIED.
#[track_caller]
fn denied(r: Result<(), tonic::Status>, what: &str) {
    match r {
        Ok(()) => panic!("{what}: allowed to a key without the right"),
        Err(s) => assert_eq!(s.code(), Code::PermissionDenied, "{what}: {s:?}"),
    }
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, text).expect("write");
    path
}
