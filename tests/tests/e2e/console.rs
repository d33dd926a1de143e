//! The web console (README "Web console"), end to end against a real node: its JSON API's
//! refusals without a browser (sessions, cookie flags, CSRF, rate limit, security headers,
//! `--console off`, authorization of the cluster page and of presigned S3 calls), and one
//! headless-Chromium run of the pages (`console_browser`). Every test has `console` in its
//! path, so `cargo test -p tessera-tests --test e2e console` runs exactly them.

use std::net::SocketAddr;

use tessera_tests::{PASSWORD, USER};

use crate::iam::{admin, parse_key};
use crate::s3::{Raw, RawRequest, S3Env};

/// A console client: raw HTTP/1.1 requests with the session's cookie and CSRF token.
pub struct ConsoleApi {
    addr: SocketAddr,
    host: String,
    /// `tessera_console=<id>` once signed in.
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

/// The `name=value` of a `Set-Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

/// A string field of a JSON body.
pub fn field(raw: &Raw, name: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(&raw.body).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

impl ConsoleApi {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: addr.to_string(),
            cookie: None,
            csrf: None,
        }
    }

    /// Sends `method path` with `body` (JSON), the cookie and the CSRF token as set.
    pub async fn call(&self, method: &'static str, path: &str, body: &str) -> Raw {
        let mut req = RawRequest::new(method, &self.host, path);
        if !body.is_empty() {
            req = req.header("content-type", "application/json").body(body);
        }
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie);
        }
        if let Some(csrf) = &self.csrf {
            req = req.header("x-tessera-csrf", csrf);
        }
        req.send(self.addr).await.expect("console request")
    }

    /// Signs in; keeps the cookie and token on success.
    pub async fn login(&mut self, key: &str, secret: &str) -> Raw {
        let body = serde_json::json!({ "accessKey": key, "secretKey": secret }).to_string();
        let raw = self.call("POST", "/console/api/login", &body).await;
        if raw.status == 200 {
            self.cookie = raw.header("set-cookie").map(cookie_pair);
            self.csrf = field(&raw, "csrf");
        }
        raw
    }

    /// Presigns `method bucket/key` with `query`; gives the raw answer.
    pub async fn presign(&self, method: &str, bucket: &str, key: &str, query: &str) -> Raw {
        let body =
            format!(r#"{{"method":"{method}","bucket":"{bucket}","key":"{key}","query":{query}}}"#);
        self.call("POST", "/console/api/presign", &body).await
    }
}

/// Sends `method target` (a presigned path) to the node, with `body`.
pub async fn plain(addr: SocketAddr, method: &'static str, target: &str, body: &[u8]) -> Raw {
    RawRequest::new(method, &addr.to_string(), target)
        .body(body.to_vec())
        .send(addr)
        .await
        .expect("request")
}

/// Asserts a console answer's status, naming `what` and the body when it differs.
#[track_caller]
pub fn assert_status(raw: &Raw, status: u16, what: &str) {
    assert_eq!(raw.status, status, "{what}: {}", raw.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_login_refuses_a_wrong_secret_and_sets_a_strict_session_cookie() {
    let env = S3Env::start();
    let mut api = ConsoleApi::new(env.addr());
    let wrong = api.login(USER, "not-the-password").await;
    assert_status(&wrong, 401, "wrong secret");
    assert_eq!(field(&wrong, "error").as_deref(), Some("BadLogin"));
    assert!(wrong.header("set-cookie").is_none());
    let unknown = api.login("nobody-at-all", PASSWORD).await;
    assert_status(&unknown, 401, "unknown key");
    // What a cross-site form could post (text/plain) is no sign-in.
    let form = RawRequest::new("POST", &env.addr().to_string(), "/console/api/login")
        .header("content-type", "text/plain")
        .body(format!(
            r#"{{"accessKey":"{USER}","secretKey":"{PASSWORD}"}}"#
        ))
        .send(env.addr())
        .await
        .expect("request");
    assert_status(&form, 415, "a text/plain sign-in");
    assert!(form.header("set-cookie").is_none());

    let ok = api.login(USER, PASSWORD).await;
    assert_status(&ok, 200, "right secret");
    let cookie = ok.header("set-cookie").expect("a session cookie");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains(PASSWORD),
        "the cookie never holds the secret"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag");
    assert_eq!(field(&ok, "accessKey").as_deref(), Some(USER));
    assert!(api.csrf.as_ref().is_some_and(|t| t.len() >= 32));
    assert!(!env.log().contains(PASSWORD), "the secret is never logged");

    // The session is the cookie's: it answers who is signed in, and its token.
    let mut again = ConsoleApi::new(env.addr());
    again.cookie = api.cookie.clone();
    let session = again.call("GET", "/console/api/session", "").await;
    assert_status(&session, 200, "session");
    assert_eq!(field(&session, "csrf"), api.csrf);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_api_refuses_calls_without_a_session_or_without_the_csrf_token() {
    let env = S3Env::start();
    env.mb("photos").await;
    let mut api = ConsoleApi::new(env.addr());
    for (method, path) in [
        ("GET", "/console/api/session"),
        ("GET", "/console/api/cluster"),
        ("POST", "/console/api/presign"),
        ("POST", "/console/api/logout"),
    ] {
        let raw = api.call(method, path, "").await;
        assert_status(&raw, 401, path);
        assert_eq!(field(&raw, "error").as_deref(), Some("NoSession"));
    }
    // A made-up session id is no session.
    api.cookie = Some(format!("tessera_console={}", "a".repeat(64)));
    assert_status(
        &api.call("GET", "/console/api/session", "").await,
        401,
        "made-up session",
    );

    api.login(USER, PASSWORD).await;
    let csrf = api.csrf.take();
    let raw = api.presign("GET", "photos", "", "[]").await;
    assert_status(&raw, 403, "presign without the CSRF token");
    assert_eq!(field(&raw, "error").as_deref(), Some("BadCsrfToken"));
    api.csrf = Some("0".repeat(64));
    assert_status(
        &api.presign("GET", "photos", "", "[]").await,
        403,
        "presign with a wrong CSRF token",
    );
    assert_status(
        &api.call("POST", "/console/api/logout", "").await,
        403,
        "logout with a wrong CSRF token",
    );

    // With the token: a URL S3 accepts, signed for this host.
    api.csrf = csrf;
    let raw = api.presign("PUT", "photos", "dir/a b+é.txt", "[]").await;
    assert_status(&raw, 200, "presign");
    let path = field(&raw, "path").expect("path");
    assert!(
        path.starts_with("/photos/dir/a%20b%2B%C3%A9.txt?"),
        "{path}"
    );
    let url = field(&raw, "url").expect("url");
    assert_eq!(url, format!("http://{}{path}", env.addr()));
    assert_status(&plain(env.addr(), "PUT", &path, b"hello").await, 200, "PUT");
    assert_eq!(env.get("photos", "dir/a b+é.txt").await, b"hello");

    // A copy: its source header is signed into the URL, which is good for that source only.
    let source = "/photos/dir/a%20b%2B%C3%A9.txt";
    let body = format!(
        r#"{{"method":"PUT","bucket":"photos","key":"copy.txt","headers":[["x-amz-copy-source","{source}"]]}}"#
    );
    let copy = api.call("POST", "/console/api/presign", &body).await;
    let path = field(&copy, "path").expect("path");
    assert!(
        path.contains("X-Amz-SignedHeaders=host%3Bx-amz-copy-source"),
        "{path}"
    );
    let other = RawRequest::new("PUT", &env.addr().to_string(), &path)
        .header("x-amz-copy-source", "/photos/other.txt")
        .send(env.addr())
        .await
        .expect("copy");
    assert_eq!(other.status, 403, "another source: {}", other.text());
    let copied = RawRequest::new("PUT", &env.addr().to_string(), &path)
        .header("x-amz-copy-source", source)
        .send(env.addr())
        .await
        .expect("copy");
    assert_status(&copied, 200, "the signed copy");
    assert_eq!(env.get("photos", "copy.txt").await, b"hello");
    let bad = r#"{"method":"PUT","bucket":"photos","key":"k","headers":[["content-type","x"]]}"#;
    assert_status(
        &api.call("POST", "/console/api/presign", bad).await,
        400,
        "a header that is not x-amz-*",
    );
    let list = api
        .presign(
            "GET",
            "photos",
            "",
            r#"[["list-type","2"],["prefix","dir/"]]"#,
        )
        .await;
    let listed = plain(env.addr(), "GET", &field(&list, "path").unwrap(), b"").await;
    assert_status(&listed, 200, "list");
    assert!(
        listed.text().contains("<Key>dir/a b+é.txt</Key>"),
        "{}",
        listed.text()
    );

    // Share links: at most 7 days.
    let long = r#"{"method":"GET","bucket":"photos","key":"k","expires":604801}"#;
    assert_status(
        &api.call("POST", "/console/api/presign", long).await,
        400,
        "an expiry past 7 days",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_logout_ends_the_session() {
    let env = S3Env::start();
    let mut api = ConsoleApi::new(env.addr());
    api.login(USER, PASSWORD).await;
    let out = api.call("POST", "/console/api/logout", "").await;
    assert_status(&out, 204, "logout");
    let cleared = out.header("set-cookie").expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie names no session any more, wherever it is replayed from.
    assert_status(
        &api.call("GET", "/console/api/session", "").await,
        401,
        "session after logout",
    );
    assert_status(
        &api.presign("GET", "", "", "[]").await,
        401,
        "presign after logout",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_answers_carry_the_security_headers() {
    let env = S3Env::start();
    let api = ConsoleApi::new(env.addr());
    let page = api.call("GET", "/console/", "").await;
    assert_status(&page, 200, "index");
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text();
    // No inline script: every <script> loads a file.
    for tag in html.split("<script").skip(1) {
        assert!(tag.split('>').next().unwrap().contains("src="), "{html}");
    }
    let refusal = api.call("GET", "/console/api/session", "").await;
    let module = api.call("GET", "/console/js/app.js", "").await;
    assert_status(&module, 200, "app.js");
    assert!(
        module
            .header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    for raw in [&page, &refusal, &module] {
        let csp = raw.header("content-security-policy").expect("CSP");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(raw.header("x-frame-options"), Some("DENY"));
        assert_eq!(raw.header("x-content-type-options"), Some("nosniff"));
    }
    assert_eq!(refusal.header("cache-control"), Some("no-store"));
    let bare = api.call("GET", "/console", "").await;
    assert_status(&bare, 308, "/console");
    assert_eq!(bare.header("location"), Some("/console/"));
    assert_status(
        &api.call("GET", "/console/nothing.js", "").await,
        404,
        "unknown file",
    );
    assert_status(
        &api.call("GET", "/console/api/nothing", "").await,
        404,
        "unknown call",
    );
    assert_status(
        &api.call("GET", "/console/api/login", "").await,
        405,
        "GET login",
    );
    // A signed request of the console's paths is S3's: a bucket named `console` works.
    env.mb("console").await;
    env.put("console", "api/login", b"an object").await;
    assert_eq!(env.get("console", "api/login").await, b"an object");
    // The health checks still answer beside it.
    assert_status(&api.call("GET", "/health/live", "").await, 200, "health");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_login_is_rate_limited_per_source_address() {
    let env = S3Env::start();
    let mut api = ConsoleApi::new(env.addr());
    for i in 0..5 {
        assert_status(
            &api.login(USER, "wrong-secret").await,
            401,
            &format!("try {i}"),
        );
    }
    // Past the limit even the right secret is refused, without being checked.
    let limited = api.login(USER, PASSWORD).await;
    assert_status(&limited, 429, "sixth try");
    assert_eq!(field(&limited, "error").as_deref(), Some("RateLimited"));
    // S3 itself is not affected.
    env.mb("still-works").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_off_leaves_its_paths_to_s3() {
    let env = S3Env::start_with(4, &["--console", "off"]);
    let api = ConsoleApi::new(env.addr());
    let page = api.call("GET", "/console/", "").await;
    // The path is S3's: an anonymous request for bucket `console`.
    assert!(page.status == 403 || page.status == 404, "{page:?}");
    assert!(page.code().is_some(), "an S3 error: {}", page.text());
    assert!(page.header("content-security-policy").is_none());
    let login = api.call("POST", "/console/api/login", "{}").await;
    assert!(login.code().is_some(), "an S3 error: {}", login.text());
}

/// What `/console/api/access?QUERY` says the key may do: (put, delete).
async fn may(api: &ConsoleApi, query: &str) -> (bool, bool) {
    let path = format!("/console/api/access?{query}");
    let raw = api.call("GET", &path, "").await;
    assert_status(&raw, 200, &path);
    let v: serde_json::Value = serde_json::from_slice(&raw.body).expect("JSON");
    (v["put"].as_bool().unwrap(), v["delete"].as_bool().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_authorizes_like_s3_and_the_cluster_page_like_the_admin_api() {
    let env = S3Env::start();
    env.mb("photos").await;
    let node = env.node();
    let reader = parse_key(&node.cli(
        &["admin", "user", "add", "reader", "--policy", "readonly"],
        None,
    ));

    let mut root = ConsoleApi::new(env.addr());
    root.login(USER, PASSWORD).await;
    let cluster = root.call("GET", "/console/api/cluster", "").await;
    assert_status(&cluster, 200, "root's cluster page");
    let v: serde_json::Value = serde_json::from_slice(&cluster.body).unwrap();
    let drives = v["sets"][0]["drives"].as_array().expect("drives");
    assert_eq!(drives.len(), 4);
    assert!(drives.iter().all(|d| d["state"] == "online"), "{v}");
    assert_eq!(v["writable"], true);

    // The live figures: this node's counters, S3's requests among them.
    let traffic = root.call("GET", "/console/api/traffic", "").await;
    assert_status(&traffic, 200, "root's figures");
    let t: serde_json::Value = serde_json::from_slice(&traffic.body).unwrap();
    assert!(t["requests"]["s3"].as_f64().unwrap() >= 1.0, "{t}");
    assert!(
        t["received"].as_f64().is_some() && t["sent"].as_f64().is_some(),
        "{t}"
    );

    let mut ro = ConsoleApi::new(env.addr());
    assert_status(
        &ro.login(&reader.0, &reader.1).await,
        200,
        "reader signs in",
    );
    let refused = ro.call("GET", "/console/api/traffic", "").await;
    assert_status(&refused, 403, "reader's figures");
    let refused = ro.call("GET", "/console/api/cluster", "").await;
    assert_status(&refused, 403, "reader's cluster page");
    assert_eq!(field(&refused, "error").as_deref(), Some("AccessDenied"));
    // A reader gets a URL for a PUT, and S3 refuses it: the console grants nothing itself.
    let put = ro.presign("PUT", "photos", "forced.txt", "[]").await;
    let answer = plain(env.addr(), "PUT", &field(&put, "path").unwrap(), b"x").await;
    answer.assert_error(403, "AccessDenied");
    assert!(!env.exists("photos", "forced.txt").await);
    let list = ro
        .presign("GET", "photos", "", r#"[["list-type","2"]]"#)
        .await;
    assert_status(
        &plain(env.addr(), "GET", &field(&list, "path").unwrap(), b"").await,
        200,
        "reader lists",
    );

    // The page's hint of what a key may do comes from the same check.
    assert_eq!(may(&root, "bucket=photos&prefix=a%2F").await, (true, true));
    assert_eq!(may(&ro, "bucket=photos&prefix=a%2F").await, (false, false));
    assert_status(
        &ro.call("GET", "/console/api/access?prefix=a", "").await,
        400,
        "access without a bucket",
    );
    assert_status(
        &ConsoleApi::new(env.addr())
            .call("GET", "/console/api/access?bucket=photos", "")
            .await,
        401,
        "access without a session",
    );

    // A removed user's session signs nothing more.
    admin(node, &["admin", "user", "remove", "reader"]);
    let after = ro.presign("GET", "photos", "", "[]").await;
    assert_status(&after, 401, "presign for a removed key");
}

/// The drive states `/console/api/cluster` reports, by endpoint.
async fn drive_states(api: &ConsoleApi) -> Vec<(String, String)> {
    let raw = api.call("GET", "/console/api/cluster", "").await;
    assert_status(&raw, 200, "cluster");
    let v: serde_json::Value = serde_json::from_slice(&raw.body).expect("JSON");
    (v["sets"].as_array().expect("sets").iter())
        .flat_map(|s| s["drives"].as_array().cloned().unwrap_or_default())
        .map(|d| {
            let field = |n: &str| d[n].as_str().unwrap_or_default().to_owned();
            (field("endpoint"), field("state"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_cluster_page_shows_a_killed_node_offline_within_seconds() {
    let mut env = crate::cluster::ClusterEnv::start(3, 2);
    let mut api = ConsoleApi::new(env.cluster.node(0).addr);
    assert_status(&api.login(USER, PASSWORD).await, 200, "sign in");
    let states = drive_states(&api).await;
    assert_eq!(states.len(), 6, "{states:?}");
    assert!(states.iter().all(|(_, s)| s == "online"), "{states:?}");

    let killed_port = format!(":{}/", env.cluster.node(2).addr.port());
    env.cluster.node_mut(2).kill9();
    let started = std::time::Instant::now();
    let offline = loop {
        let states = drive_states(&api).await;
        let gone: Vec<_> = (states.iter())
            .filter(|(e, _)| e.contains(&killed_port))
            .collect();
        assert_eq!(gone.len(), 2, "the killed node's drives: {states:?}");
        if gone.iter().all(|(_, s)| s == "offline") {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the killed node's drives still shown {states:?} after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // The other nodes' drives stay online.
    let states = drive_states(&api).await;
    let others = states.iter().filter(|(e, _)| !e.contains(&killed_port));
    assert!(others.clone().all(|(_, s)| s == "online"), "{states:?}");
    println!("the killed node's drives were reported offline after {offline:?}");
}
