//! The console's cluster page in a real browser (README "Web console"): in a 3-node
//! cluster, a node killed while the page is open is shown offline, with its drives, within
//! seconds, and the other nodes stay online (`tests/tools/console_cluster.py`, headless
//! Chromium over selenium, as `console_browser`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use tessera_tests::{PASSWORD, USER};

use crate::s3_tools::script;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_cluster_browser_shows_a_killed_node_offline_within_seconds() {
    if std::env::var("TESSERA_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("TESSERA_SKIP_BROWSER=1: not running the browser test");
        return;
    }
    let mut env = crate::cluster::ClusterEnv::start(3, 2);
    let shots = env._dir.path().join("screenshots");
    std::fs::create_dir_all(&shots).expect("mkdir");
    let killed = format!("http://{}", env.cluster.node(2).addr);
    let mut child = Command::new("python3")
        .arg(script("console_cluster.py"))
        .env(
            "TESSERA_CONSOLE_URL",
            format!("http://{}/console/", env.cluster.node(0).addr),
        )
        .env("TESSERA_ROOT_KEY", USER)
        .env("TESSERA_ROOT_SECRET", PASSWORD)
        .env("TESSERA_KILLED_NODE", &killed)
        .env("TESSERA_SCREENSHOTS", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run console_cluster.py (python3 and selenium, as console_browser needs)");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("read");
    if line.trim() != "ready" {
        let status = child.wait().expect("wait");
        panic!("console_cluster.py did not get ready ({status}): {line}");
    }
    env.cluster.node_mut(2).kill9();
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"killed\n").expect("tell the page");
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).expect("read");
    let status = child.wait().expect("wait");
    println!("{rest}");
    assert!(
        status.success() && rest.contains("offline after"),
        "console_cluster.py failed ({status}): {rest}\nscreenshots in {}",
        shots.display()
    );
}
