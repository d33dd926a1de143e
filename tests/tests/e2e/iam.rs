//! Identities and policies end to end (README "Users, keys and policies"): users made with
//! `tessera admin`, their keys used over S3 (aws-sdk-s3), gRPC and a real mount; each front
//! end answers a refusal its own way (S3 AccessDenied, gRPC PERMISSION_DENIED, EACCES).
//! Every test has `iam_` in its path. The cluster cases are in `iam_cluster`.

use std::fs;

use aws_sdk_s3::primitives::ByteStream;
use tessera_proto::auth::Credentials;
use tessera_proto::client::{ObjectClient, connect};
use tessera_proto::object as pb;
use tessera_tests::{Mount, Node, fuse_available};
use tonic::Code;

use crate::common::{get, list, put};
use crate::fuse::{errno, mount_bin};
use crate::s3::{RawRequest, S3Env, assert_s3_err, client};

/// A key's id and secret as `tessera admin user add` / `key add` printed them: exactly two
/// lines.
pub fn parse_key(out: &std::process::Output) -> (String, String) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "admin command failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "exactly two lines: {text}");
    let access = lines[0].strip_prefix("Access Key: ").expect("access line");
    let secret = lines[1].strip_prefix("Secret Key: ").expect("secret line");
    (access.to_owned(), secret.to_owned())
}

/// Runs `tessera ARGS` against `node` as root; panics with its output when it fails.
#[track_caller]
pub fn admin(node: &Node, args: &[&str]) -> String {
    let out = node.cli(args, None);
    assert!(
        out.status.success(),
        "tessera {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub async fn grpc_as(node: &Node, (key, secret): &(String, String)) -> ObjectClient {
    let creds = Credentials {
        access_key: key.clone(),
        secret_key: secret.clone(),
    };
    connect(&node.endpoint, creds).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_readonly_user_reads_but_cannot_write_over_s3_grpc_and_a_mount() {
    let env = S3Env::start();
    env.mb("photos").await;
    env.mb("hidden").await;
    env.put("photos", "a.txt", b"hello").await;
    let node = env.node();
    let key = parse_key(&node.cli(
        &["admin", "user", "add", "reader", "--policy", "readonly"],
        None,
    ));
    // The secret is never in the node's log, nor in the clear on its drives.
    assert!(!node.log_text().contains(&key.1));

    // S3: list and GET work; PUT, DELETE, copy and bucket changes are AccessDenied.
    let s3 = client(&node.endpoint, &key.0, &key.1);
    let listed = s3
        .list_objects_v2()
        .bucket("photos")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.contents().len(), 1);
    let body = s3
        .get_object()
        .bucket("photos")
        .key("a.txt")
        .send()
        .await
        .expect("get");
    assert_eq!(body.body.collect().await.expect("body").to_vec(), b"hello");
    let put_obj = s3
        .put_object()
        .bucket("photos")
        .key("b.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_s3_err(put_obj, 403, "AccessDenied");
    let del = s3
        .delete_object()
        .bucket("photos")
        .key("a.txt")
        .send()
        .await;
    assert_s3_err(del, 403, "AccessDenied");
    let copy = s3
        .copy_object()
        .bucket("photos")
        .key("c.txt")
        .copy_source("photos/a.txt")
        .send()
        .await;
    assert_s3_err(copy, 403, "AccessDenied");
    assert_s3_err(
        s3.create_bucket().bucket("mine").send().await,
        403,
        "AccessDenied",
    );
    assert_s3_err(
        s3.delete_bucket_policy().bucket("photos").send().await,
        403,
        "AccessDenied",
    );

    // gRPC: the same rules, PERMISSION_DENIED.
    let mut g = grpc_as(node, &key).await;
    assert_eq!(
        get(&mut g, "photos", "a.txt").await.expect("grpc get"),
        b"hello"
    );
    let (keys, _) = list(&mut g, "photos", "", "/").await;
    assert_eq!(keys, ["a.txt"]);
    let refused = put(&mut g, "photos", "b.txt", b"x").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let refused = g
        .delete_object(pb::DeleteObjectRequest {
            bucket: "photos".into(),
            key: "a.txt".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // The CLI says so in one line.
    let out = std::process::Command::new(crate::common::bin())
        .args(["rm", "photos/a.txt"])
        .env("TESSERA_ENDPOINT", &node.endpoint)
        .env("TESSERA_ROOT_USER", &key.0)
        .env("TESSERA_ROOT_PASSWORD", &key.1)
        .output()
        .expect("cli");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("access denied"));
    assert_eq!(
        env.get("photos", "a.txt").await,
        b"hello",
        "nothing changed"
    );

    // A mount made with the key reads, and every change is EACCES.
    if fuse_available() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache");
        let args = [
            "--bucket",
            "photos",
            "--cache-dir",
            cache.to_str().expect("utf-8"),
        ];
        let mnt = dir.path().join("mnt");
        let mount = Mount::try_start(mount_bin(), &node.endpoint, &mnt, &args, (&key.0, &key.1))
            .unwrap_or_else(|e| panic!("readonly mount: {e}"));
        assert_eq!(fs::read(mount.path.join("a.txt")).expect("read"), b"hello");
        // A new file goes up when it is flushed: fsync (and close) return the refusal.
        assert_eq!(
            errno(write_synced(&mount.path.join("new.txt"))),
            libc::EACCES
        );
        assert_eq!(
            errno(fs::remove_file(mount.path.join("a.txt"))),
            libc::EACCES
        );
        assert_eq!(errno(fs::create_dir(mount.path.join("dir"))), libc::EACCES);
        drop(mount);
        assert_eq!(env.get("photos", "a.txt").await, b"hello");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_prefix_policy_confines_a_user_to_its_home_in_listing_and_writing() {
    let env = S3Env::start();
    env.mb("home").await;
    env.mb("shared").await;
    env.mb("private").await;
    env.put("home", "bob/secret.txt", b"bob's").await;
    env.put("home", "alice/old.txt", b"alice's").await;
    let node = env.node();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("home.json");
    fs::write(
        &file,
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::home",
           "Condition":{"StringLike":{"s3:prefix":["${aws:username}/*"]}}},
          {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],
           "Resource":"arn:aws:s3:::home/${aws:username}/*"},
          {"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"},
          {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared"}]}"#,
    )
    .expect("write policy");
    admin(
        node,
        &[
            "admin",
            "policy",
            "add",
            "home-dir",
            file.to_str().expect("utf-8"),
        ],
    );
    let key = parse_key(&node.cli(&["admin", "user", "add", "alice"], None));
    admin(
        node,
        &["admin", "policy", "attach", "home-dir", "--user", "alice"],
    );

    let s3 = client(&node.endpoint, &key.0, &key.1);
    let mine = s3
        .list_objects_v2()
        .bucket("home")
        .prefix("alice/")
        .send()
        .await
        .expect("list own prefix");
    let keys: Vec<_> = mine.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["alice/old.txt"]);
    let other = s3
        .list_objects_v2()
        .bucket("home")
        .prefix("bob/")
        .send()
        .await;
    assert_s3_err(other, 403, "AccessDenied");
    let whole = s3.list_objects_v2().bucket("home").send().await;
    assert_s3_err(whole, 403, "AccessDenied");
    s3.put_object()
        .bucket("home")
        .key("alice/new.txt")
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .expect("write own prefix");
    let theirs = s3
        .put_object()
        .bucket("home")
        .key("bob/evil.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_s3_err(theirs, 403, "AccessDenied");
    assert_s3_err(
        s3.get_object()
            .bucket("home")
            .key("bob/secret.txt")
            .send()
            .await,
        403,
        "AccessDenied",
    );
    // ListBuckets shows only the buckets the key may list: `shared` (listable whole), not
    // `home` (only under a prefix) nor `private`.
    let buckets = s3.list_buckets().send().await.expect("list buckets");
    let names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["shared"]);
    // Over gRPC the same policy holds.
    let mut g = grpc_as(node, &key).await;
    put(&mut g, "home", "alice/g.txt", b"g")
        .await
        .expect("grpc own prefix");
    let refused = put(&mut g, "home", "bob/g.txt", b"g").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let (keys, _) = list(&mut g, "home", "alice/", "/").await;
    assert_eq!(keys.len(), 3, "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_anonymous_get_works_only_under_a_public_read_bucket_policy() {
    let env = S3Env::start();
    env.mb("site").await;
    env.put("site", "index.html", b"<h1>hi</h1>").await;
    let node = env.node();
    let anon_get = || anon(&env, "GET", "/site/index.html");
    assert_eq!(anon_get().await.0, 403, "no policy: refused");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
        "Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#;
    env.s3
        .put_bucket_policy()
        .bucket("site")
        .policy(policy)
        .send()
        .await
        .expect("put bucket policy");
    let status = env
        .s3
        .get_bucket_policy_status()
        .bucket("site")
        .send()
        .await
        .expect("policy status");
    assert_eq!(
        status.policy_status().and_then(|s| s.is_public()),
        Some(true)
    );
    assert_eq!(anon_get().await, (200, b"<h1>hi</h1>".to_vec()));
    // Everything else stays denied for anonymous callers.
    assert_eq!(anon(&env, "PUT", "/site/x").await.0, 403);
    assert_eq!(anon(&env, "GET", "/site?list-type=2").await.0, 403);
    assert_eq!(anon(&env, "DELETE", "/site/index.html").await.0, 403);
    // A malformed policy is refused and changes nothing.
    let bad = env
        .s3
        .put_bucket_policy()
        .bucket("site")
        .policy(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"arn:aws:s3:::site/*"}]}"#)
        .send()
        .await;
    let message = assert_s3_err(bad, 400, "MalformedPolicy");
    assert!(message.contains("s3:GetObjekt"), "{message}");
    assert_eq!(anon_get().await.0, 200);
    // The CLI shorthand: none takes it away, download gives it back.
    admin(node, &["anonymous", "set", "none", "site"]);
    assert_eq!(anon_get().await.0, 403);
    admin(node, &["anonymous", "set", "download", "site"]);
    assert_eq!(anon_get().await.0, 200);
    env.s3
        .delete_bucket_policy()
        .bucket("site")
        .send()
        .await
        .expect("delete policy");
    assert_eq!(anon_get().await.0, 403);
    // A bucket's policy goes with the bucket: made again, it starts without one.
    admin(node, &["anonymous", "set", "download", "site"]);
    env.s3
        .delete_object()
        .bucket("site")
        .key("index.html")
        .send()
        .await
        .expect("delete object");
    env.s3
        .delete_bucket()
        .bucket("site")
        .send()
        .await
        .expect("rb");
    env.mb("site").await;
    env.put("site", "index.html", b"again").await;
    assert_eq!(anon_get().await.0, 403);
    assert_s3_err(
        env.s3.get_bucket_policy().bucket("site").send().await,
        404,
        "NoSuchBucketPolicy",
    );
}

/// Creates `path`, writes to it and fsyncs it: the first error.
fn write_synced(path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = fs::File::create(path)?;
    f.write_all(b"x")?;
    f.sync_all()
}

/// An unsigned request: the status and body.
async fn anon(env: &S3Env, method: &'static str, target: &str) -> (u16, Vec<u8>) {
    let host = env.addr().to_string();
    let raw = RawRequest::new(method, &host, target)
        .body(if method == "PUT" { &b"x"[..] } else { &b""[..] })
        .send(env.addr())
        .await
        .expect("unsigned request");
    (raw.status, raw.body)
}
