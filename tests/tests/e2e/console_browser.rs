//! The web console in a real browser (README "Web console"): `tests/tools/console_browser.py`
//! drives headless Chromium (Debian packages `chromium`, `chromium-driver`; pip `selenium`)
//! against one node this test starts and seeds, and checks every page itself; this test
//! then checks what the node holds afterwards (with the SDK: the keys of an uploaded folder,
//! the tags and lifecycle rule set in the browser, the bytes of a resumed upload). Screenshots of each page are saved under
//! `target/console-screenshots/` (not committed) for a person to look at. The script also
//! prints how long the first page of a prefix of many objects took to render (reported,
//! never asserted).
//!
//! A missing browser is a failure, never a silent skip (DESIGN "Engineering conventions"),
//! unless TESSERA_SKIP_BROWSER=1 says so explicitly.

use std::path::PathBuf;
use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use futures::StreamExt;
use tessera_tests::{PASSWORD, USER, pattern};

use crate::iam::parse_key;
use crate::s3::S3Env;
use crate::s3_tools::script;

const INSTALL: &str = "install them with `apt-get install chromium chromium-driver` and \
                       `python3 -m pip install selenium` (or set TESSERA_SKIP_BROWSER=1 to \
                       skip this test explicitly)";

/// Objects under `p/` of the listing-speed bucket, unless `TESSERA_CONSOLE_MANY` says how
/// many (BENCHMARKS.md's console row seeds 100,000).
const MANY: usize = 3000;

fn many() -> usize {
    std::env::var("TESSERA_CONSOLE_MANY")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(MANY)
}

/// A key a careless page would turn into markup.
const HOSTILE: &str = "<img src=x onerror=alert(1)>.txt";

fn require(what: &str, program: &str, args: &[&str]) {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{what} is not usable ({program} {args:?}: {}); {INSTALL}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("{what} is not installed ({program}: {e}); {INSTALL}"),
    }
}

/// Where the screenshots go: beside the build, outside the source tree.
fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("console-screenshots")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_browser_signs_in_uploads_downloads_shares_and_deletes() {
    if std::env::var("TESSERA_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("TESSERA_SKIP_BROWSER=1: not running the browser test");
        return;
    }
    require("chromium", "chromium", &["--version"]);
    require("chromedriver", "chromedriver", &["--version"]);
    require("selenium", "python3", &["-c", "import selenium"]);

    let env = S3Env::start();
    let node = env.node();
    let reader = parse_key(&node.cli(
        &["admin", "user", "add", "reader", "--policy", "readonly"],
        None,
    ));
    env.mb("hostile").await;
    env.put("hostile", HOSTILE, b"not markup").await;
    env.mb(GAPS).await;
    (env.s3.put_object().bucket(GAPS).key("report.txt"))
        .body(ByteStream::from_static(b"quarterly\n"))
        .content_type("text/plain")
        .metadata("owner", "console-test")
        .send()
        .await
        .expect("seed put with metadata");
    seed_trash(&env).await;
    env.mb("many").await;
    futures::stream::iter(0..many())
        .map(|i| {
            let s3 = env.s3.clone();
            async move {
                s3.put_object()
                    .bucket("many")
                    .key(format!("p/object-{i:06}"))
                    .body(ByteStream::from(vec![b'x'; 16]))
                    .send()
                    .await
                    .expect("seed put");
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;

    let files = env.env.dir.path().join("upload");
    let downloads = env.env.dir.path().join("downloads");
    let shots = screenshots();
    // Only this run's screenshots (a failure's included) are left to look at.
    let _ = std::fs::remove_dir_all(&shots);
    for dir in [&files, &downloads, &shots] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(files.join("small.txt"), b"a small file\n").unwrap();
    std::fs::write(files.join("notes.md"), b"# notes\n\nfrom the console\n").unwrap();
    std::fs::write(files.join("big.bin"), pattern(20 << 20, 7)).unwrap();
    std::fs::create_dir_all(files.join("tree/sub/deeper")).unwrap();
    for (path, text) in TREE {
        std::fs::write(files.join(path), text).unwrap();
    }
    for (edition, text) in [("v1", "first version\n"), ("v2", "second version!\n")] {
        std::fs::create_dir_all(files.join(edition)).unwrap();
        std::fs::write(files.join(edition).join("v.txt"), text).unwrap();
    }

    let out = Command::new("python3")
        .arg(script("console_browser.py"))
        .env("TESSERA_CONSOLE_URL", format!("{}/console/", node.endpoint))
        .env("TESSERA_ROOT_KEY", USER)
        .env("TESSERA_ROOT_SECRET", PASSWORD)
        .env("TESSERA_READER_KEY", &reader.0)
        .env("TESSERA_READER_SECRET", &reader.1)
        .env("TESSERA_UPLOAD_DIR", &files)
        .env("TESSERA_DOWNLOAD_DIR", &downloads)
        .env("TESSERA_SCREENSHOTS", &shots)
        .env("TESSERA_HOSTILE_KEY", HOSTILE)
        .env("TESSERA_MANY_BUCKET", "many")
        .env("TESSERA_MANY_COUNT", many().to_string())
        .output()
        .expect("run console_browser.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "console_browser.py failed ({}):\n{stdout}\n{stderr}\nscreenshots in {}\nnode log:\n{}",
        out.status,
        shots.display(),
        env.log()
    );

    // What the node holds after the walk: the bucket made in the browser, its folder
    // deleted, the readonly key's upload absent, the hostile object untouched.
    assert_eq!(env.keys("console-e2e").await, Vec::<String>::new());
    assert_eq!(env.get("hostile", HOSTILE).await, b"not markup");
    let lock = (env.s3.get_object_lock_configuration())
        .bucket("console-locked")
        .send()
        .await
        .expect("the bucket made with object lock has it");
    let enabled = lock
        .object_lock_configuration()
        .and_then(|c| c.object_lock_enabled());
    assert_eq!(enabled.map(|e| e.as_str()), Some("Enabled"));
    // Two versions were uploaded, the first restored as a third, one deleted for good.
    let versions = (env.s3.list_object_versions())
        .bucket("console-versions")
        .send()
        .await
        .expect("list versions");
    assert_eq!(versions.versions().len(), 2, "{versions:?}");
    assert_eq!(
        env.get("console-versions", "v.txt").await,
        b"first version\n"
    );
    check_gaps(&env).await;
    check_trash(&env).await;
    // console_keys.py: erin's second key removed in the browser, readonly attached.
    let erin = node.cli(&["admin", "user", "info", "erin"], None);
    let erin = String::from_utf8_lossy(&erin.stdout);
    assert!(erin.contains("Policies : readonly"), "{erin}");
    assert_eq!(erin.matches("Key      : ").count(), 1, "{erin}");
    assert!(!node.log_text().contains(PASSWORD), "no secret in the log");
}

/// The bucket of `console_gaps.py`'s steps.
const GAPS: &str = "gaps";

/// The folder uploaded with the folder picker, under `tree/` of the upload directory.
const TREE: [(&str, &str); 3] = [
    ("tree/a.txt", "a\n"),
    ("tree/sub/b.txt", "bb\n"),
    ("tree/sub/deeper/c.txt", "ccc\n"),
];

/// What `console_gaps.py` left: the folders' keys under `in/`, two tags, one lifecycle rule
/// (and none on the walk's first bucket), the resumed upload's bytes and no upload pending.
async fn check_gaps(env: &S3Env) {
    let mut keys = env.keys(GAPS).await;
    keys.retain(|k| k.starts_with("in/"));
    // The chosen folder's files and the dropped folder's (drop/x.txt "x", drop/y/z.txt "zz").
    let files = [("drop/x.txt", "x"), ("drop/y/z.txt", "zz")];
    let all: Vec<(&str, &str)> = files.into_iter().chain(TREE).collect();
    let expect: Vec<String> = all.iter().map(|(p, _)| format!("in/{p}")).collect();
    assert_eq!(keys, expect, "the folders' trees kept under the prefix");
    for (path, text) in all {
        assert_eq!(env.get(GAPS, &format!("in/{path}")).await, text.as_bytes());
    }

    let tagging = (env.s3.get_object_tagging().bucket(GAPS).key("report.txt"))
        .send()
        .await
        .expect("get tags");
    let mut tags: Vec<(&str, &str)> = (tagging.tag_set().iter())
        .map(|t| (t.key(), t.value()))
        .collect();
    tags.sort();
    assert_eq!(tags, [("project", "tessera"), ("stage", "e2e")]);

    let lifecycle = (env.s3.get_bucket_lifecycle_configuration().bucket(GAPS))
        .send()
        .await
        .expect("the rule added in the browser");
    let [rule] = lifecycle.rules() else {
        panic!("one rule left: {lifecycle:?}");
    };
    assert_eq!(rule.id(), Some("expire-logs"));
    assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("logs/"));
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(30));
    let abort = rule.abort_incomplete_multipart_upload();
    assert_eq!(abort.and_then(|a| a.days_after_initiation()), Some(7));
    assert!(rule.noncurrent_version_expiration().is_none(), "{rule:?}");
    let none = (env.s3.get_bucket_lifecycle_configuration())
        .bucket("console-e2e")
        .send()
        .await;
    assert!(none.is_err(), "the rules deleted in the browser: {none:?}");

    assert_eq!(env.get(GAPS, "big.bin").await, pattern(20 << 20, 7));
    let pending = (env.s3.list_multipart_uploads().bucket(GAPS))
        .send()
        .await
        .expect("list uploads");
    assert!(
        pending.uploads().is_empty(),
        "the resumed upload completed: {pending:?}"
    );
}

/// The versioned bucket of `console_deleted.py`'s steps.
const TRASH: &str = "trash";

/// `docs/gone.txt` (deleted and restored in the browser), and two keys deleted here whose
/// markers must not show under `docs/`: one in a deeper folder, one under another prefix.
async fn seed_trash(env: &S3Env) {
    env.mb(TRASH).await;
    let on = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    (env.s3.put_bucket_versioning().bucket(TRASH))
        .versioning_configuration(on)
        .send()
        .await
        .expect("versioning on");
    for key in ["docs/gone.txt", "docs/deep/hidden.txt", "other/old.txt"] {
        env.put(TRASH, key, format!("bytes of {key}\n").as_bytes())
            .await;
    }
    for key in ["docs/deep/hidden.txt", "other/old.txt"] {
        (env.s3.delete_object().bucket(TRASH).key(key))
            .send()
            .await
            .expect("delete (a marker)");
    }
}

/// `docs/gone.txt` deleted and restored in the browser: back with its bytes, its one version
/// left and no delete marker.
async fn check_trash(env: &S3Env) {
    assert_eq!(
        env.get(TRASH, "docs/gone.txt").await,
        b"bytes of docs/gone.txt\n"
    );
    let versions = (env.s3.list_object_versions().bucket(TRASH))
        .prefix("docs/gone.txt")
        .send()
        .await
        .expect("list versions");
    assert_eq!(versions.versions().len(), 1, "{versions:?}");
    assert!(versions.delete_markers().is_empty(), "{versions:?}");
}
