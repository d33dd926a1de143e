//! The console's identities API (README "Web console"): users and named policies, each call
//! authorized with the admin action the gRPC admin API needs, changes behind the CSRF
//! token, policy documents validated before they are saved, a new secret answered once.

use tessera_tests::{PASSWORD, USER};

use crate::console::{ConsoleApi, field};
use crate::iam::parse_key;
use crate::s3::{Raw, S3Env};

#[track_caller]
fn assert_status(raw: &Raw, status: u16, what: &str) {
    assert_eq!(raw.status, status, "{what}: {}", raw.text());
}

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
    let bad = (root.call("POST", "/console/api/policies", &policy_body("broken", "{"))).await;
    assert_status(&bad, 400, "an unparsable policy");
    let wrong_action = ONLY_PHOTOS.replace("s3:GetObject", "s3:NoSuchAction");
    let bad = root
        .call(
            "POST",
            "/console/api/policies",
            &policy_body("broken", &wrong_action),
        )
        .await;
    assert_status(&bad, 400, "a policy naming no real action");
    let builtin = root
        .call(
            "POST",
            "/console/api/policies",
            &policy_body("readonly", ONLY_PHOTOS),
        )
        .await;
    assert_status(&builtin, 409, "replacing a built-in");
    let saved = root
        .call(
            "POST",
            "/console/api/policies",
            &policy_body("only-photos", ONLY_PHOTOS),
        )
        .await;
    assert_status(&saved, 200, "a valid policy");
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
