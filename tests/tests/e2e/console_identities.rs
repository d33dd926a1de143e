//! The console's identities API (README "Web console"): users and named policies, each call
//! authorized with the admin action the gRPC admin API needs, changes behind the CSRF
//! token, policy documents validated before they are saved, a new secret answered once; a
//! user's keys listed and removed, a policy attached to an existing user.

use tessera_tests::{PASSWORD, USER};

use crate::console::{ConsoleApi, assert_status, field};
use crate::iam::parse_key;
use crate::s3::{S3Env, client, status_of};

const ONLY_PHOTOS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}]}"#;

fn policy_body(name: &str, document: &str) -> String {
    serde_json::json!({ "name": name, "document": document }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_identities_add_users_and_policies_for_admins_only() {
    let env = S3Env::start();
    let node = env.node();
    let reader = parse_key(&node.cli(
        &["admin", "user", "add", "reader", "--policy", "readonly"],
        None,
    ));
    let mut ro = ConsoleApi::new(env.addr());
    ro.login(&reader.0, &reader.1).await;
    for path in ["/console/api/users", "/console/api/policies"] {
        let raw = ro.call("GET", path, "").await;
        assert_status(&raw, 403, path);
        assert_eq!(field(&raw, "error").as_deref(), Some("AccessDenied"));
    }
    let refused = (ro.call("POST", "/console/api/users", r#"{"name":"mallory"}"#)).await;
    assert_status(&refused, 403, "a reader adds a user");

    let mut root = ConsoleApi::new(env.addr());
    root.login(USER, PASSWORD).await;
    let csrf = root.csrf.take();
    assert_status(
        &root
            .call("POST", "/console/api/users", r#"{"name":"carol"}"#)
            .await,
        403,
        "add a user without the CSRF token",
    );
    root.csrf = csrf;

    // Policies: validated before saving; built-ins cannot be replaced.
    let wrong_action = ONLY_PHOTOS.replace("s3:GetObject", "s3:NoSuchAction");
    let cases = [
        ("broken", "{", 400, "an unparsable policy"),
        (
            "broken",
            wrong_action.as_str(),
            400,
            "a policy naming no real action",
        ),
        ("readonly", ONLY_PHOTOS, 409, "replacing a built-in"),
        ("only-photos", ONLY_PHOTOS, 200, "a valid policy"),
    ];
    for (name, policy, status, what) in cases {
        let body = policy_body(name, policy);
        let answer = root.call("POST", "/console/api/policies", &body).await;
        assert_status(&answer, status, what);
    }
    let listed = root.call("GET", "/console/api/policies", "").await;
    assert!(
        listed.text().contains(r#""name":"only-photos""#),
        "{}",
        listed.text()
    );
    assert!(
        !listed.text().contains(r#""name":"broken""#),
        "{}",
        listed.text()
    );

    // Users: the secret is answered once, works, and is never logged.
    let body = r#"{"name":"carol","policies":["only-photos"]}"#;
    let added = root.call("POST", "/console/api/users", body).await;
    assert_status(&added, 200, "add a user");
    let (key, secret) = (
        field(&added, "accessKey").unwrap(),
        field(&added, "secretKey").unwrap(),
    );
    assert!(
        !node.log_text().contains(&secret),
        "the secret is not logged"
    );
    let users = root.call("GET", "/console/api/users", "").await;
    assert!(
        users.text().contains(r#""name":"carol""#),
        "{}",
        users.text()
    );
    assert!(!users.text().contains(&secret), "listing shows no secret");
    assert_status(
        &root.call("POST", "/console/api/users", body).await,
        409,
        "the same user again",
    );
    let unknown = r#"{"name":"dave","policies":["no-such-policy"]}"#;
    assert_status(
        &root.call("POST", "/console/api/users", unknown).await,
        404,
        "a user with a policy that does not exist",
    );
    let mut carol = ConsoleApi::new(env.addr());
    assert_status(
        &carol.login(&key, &secret).await,
        200,
        "the new key signs in",
    );
    env.mb("photos").await;
    let mut may = carol
        .call("GET", "/console/api/access?bucket=photos&prefix=", "")
        .await;
    assert_status(&may, 200, "access");
    assert!(may.text().contains(r#""put":false"#), "{}", may.text());
    may = carol.call("GET", "/console/api/users", "").await;
    assert_status(&may, 403, "carol lists users");

    // Disable, enable, a second key, removal: each takes effect on the key at once.
    let off = r#"{"name":"carol","enabled":false}"#;
    let mut forged = ConsoleApi::new(env.addr());
    forged.cookie = root.cookie.clone();
    assert_status(
        &forged.call("POST", "/console/api/users/enable", off).await,
        403,
        "disable without the CSRF token",
    );
    assert_status(
        &ro.call("POST", "/console/api/users/enable", off).await,
        403,
        "a reader disables a user",
    );
    assert_status(
        &root
            .call("POST", "/console/api/users/enable", r#"{"name":"carol"}"#)
            .await,
        400,
        "enable without saying which way",
    );
    assert_status(
        &root.call("POST", "/console/api/users/enable", off).await,
        200,
        "disable",
    );
    assert_status(
        &carol.presign("GET", "photos", "", "[]").await,
        401,
        "a disabled user's session presigns nothing",
    );
    assert_status(
        &ConsoleApi::new(env.addr()).login(&key, &secret).await,
        401,
        "disabled",
    );
    let on = r#"{"name":"carol","enabled":true}"#;
    assert_status(
        &root.call("POST", "/console/api/users/enable", on).await,
        200,
        "enable",
    );
    assert_status(
        &ConsoleApi::new(env.addr()).login(&key, &secret).await,
        200,
        "enabled",
    );
    let second = root
        .call("POST", "/console/api/users/keys", r#"{"name":"carol"}"#)
        .await;
    assert_status(&second, 200, "a second key");
    let key2 = (
        field(&second, "accessKey").unwrap(),
        field(&second, "secretKey").unwrap(),
    );
    assert_status(
        &ConsoleApi::new(env.addr()).login(&key2.0, &key2.1).await,
        200,
        "key 2",
    );
    assert_status(
        &ro.call("POST", "/console/api/users/remove", r#"{"name":"carol"}"#)
            .await,
        403,
        "a reader removes a user",
    );
    let removed = root
        .call("POST", "/console/api/users/remove", r#"{"name":"carol"}"#)
        .await;
    assert_status(&removed, 200, "remove");
    assert_status(
        &ConsoleApi::new(env.addr()).login(&key2.0, &key2.1).await,
        401,
        "removed",
    );
    assert_status(
        &root
            .call("POST", "/console/api/users/remove", r#"{"name":"carol"}"#)
            .await,
        404,
        "removing again",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_identities_list_and_remove_keys_attach_policies() {
    let env = S3Env::start();
    let node = env.node();
    env.mb("docs").await;
    let reader = parse_key(&node.cli(
        &["admin", "user", "add", "reader", "--policy", "readonly"],
        None,
    ));
    let mut ro = ConsoleApi::new(env.addr());
    ro.login(&reader.0, &reader.1).await;
    let mut root = ConsoleApi::new(env.addr());
    root.login(USER, PASSWORD).await;
    let added = (root.call("POST", "/console/api/users", r#"{"name":"erin"}"#)).await;
    assert_status(&added, 200, "add erin");
    let key1 = (
        field(&added, "accessKey").unwrap(),
        field(&added, "secretKey").unwrap(),
    );
    let more = (root.call("POST", "/console/api/users/keys", r#"{"name":"erin"}"#)).await;
    assert_status(&more, 200, "a second key");
    let key2 = (
        field(&more, "accessKey").unwrap(),
        field(&more, "secretKey").unwrap(),
    );
    let remove2 = serde_json::json!({ "accessKey": key2.0 }).to_string();
    let attach = r#"{"name":"erin","policy":"readwrite"}"#;

    // Refused without the admin action, and without the CSRF token.
    let path = "/console/api/users/keys?name=erin";
    assert_status(&ro.call("GET", path, "").await, 403, "a reader lists keys");
    let denied = ro
        .call("POST", "/console/api/users/keys/remove", &remove2)
        .await;
    assert_status(&denied, 403, "a reader removes a key");
    let denied = ro.call("POST", "/console/api/users/policies", attach).await;
    assert_status(&denied, 403, "a reader attaches a policy");
    let mut forged = ConsoleApi::new(env.addr());
    forged.cookie = root.cookie.clone();
    let denied = forged
        .call("POST", "/console/api/users/keys/remove", &remove2)
        .await;
    assert_status(&denied, 403, "remove a key without the CSRF token");
    let denied = forged
        .call("POST", "/console/api/users/policies", attach)
        .await;
    assert_status(&denied, 403, "attach without the CSRF token");

    // The list shows both keys and no secret.
    let listed = root.call("GET", path, "").await;
    assert_status(&listed, 200, "list erin's keys");
    for key in [&key1.0, &key2.0] {
        assert!(listed.text().contains(key.as_str()), "{}", listed.text());
    }
    for secret in [&key1.1, &key2.1] {
        assert!(!listed.text().contains(secret.as_str()), "no secret listed");
    }
    let nobody = root
        .call("GET", "/console/api/users/keys?name=nobody", "")
        .await;
    assert_status(&nobody, 404, "keys of a user that does not exist");

    // Attaching a policy changes what the user may do over S3.
    let s3 = client(&node.endpoint, &key1.0, &key1.1);
    let put = || {
        s3.put_object()
            .bucket("docs")
            .key("a.txt")
            .body(b"hi".to_vec().into())
    };
    let e = put().send().await.expect_err("no policy yet");
    assert_eq!(status_of(&e), 403, "{e:?}");
    let attached = root
        .call("POST", "/console/api/users/policies", attach)
        .await;
    assert_status(&attached, 200, "attach readwrite");
    put().send().await.expect("readwrite attached");
    let users = root.call("GET", "/console/api/users", "").await;
    assert!(
        users.text().contains(r#""policies":["readwrite"]"#),
        "{}",
        users.text()
    );
    let missing = r#"{"name":"erin","policy":"no-such-policy"}"#;
    let refused = root
        .call("POST", "/console/api/users/policies", missing)
        .await;
    assert_status(&refused, 404, "attach a policy that does not exist");

    // Removing a key makes it fail S3 authentication at once; the other key still works.
    let s3_2 = client(&node.endpoint, &key2.0, &key2.1);
    s3_2.list_buckets()
        .send()
        .await
        .expect("key 2 before removal");
    let removed = root
        .call("POST", "/console/api/users/keys/remove", &remove2)
        .await;
    assert_status(&removed, 200, "remove key 2");
    let e = s3_2.list_buckets().send().await.expect_err("key 2 removed");
    assert_eq!(status_of(&e), 403, "{e:?}");
    s3.list_buckets().send().await.expect("key 1 still works");
    let listed = root.call("GET", path, "").await;
    assert!(
        !listed.text().contains(key2.0.as_str()),
        "{}",
        listed.text()
    );
    let again = root
        .call("POST", "/console/api/users/keys/remove", &remove2)
        .await;
    assert_status(&again, 404, "removing the key again");
}
