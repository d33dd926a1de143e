//! Several processes appending to one file through one mount (README "Semantics":
//! consistency): every handle of an inode shares one staging state, so appends from
//! `>>` (open, write, close per line) and from O_APPEND descriptors held open all land at
//! the end; no line is lost or torn, on the mount and over S3.

use std::collections::HashSet;
use std::process::{Child, Command};

use crate::fuse::FuseEnv;

/// Lines each writer appends.
const LINES: usize = 150;

/// A writer appending `LINES` lines tagged `tag` to `log`: with `>>` per line, or through
/// one O_APPEND descriptor.
fn writer(log: &str, tag: &str, per_line_open: bool) -> Child {
    let body = format!("echo \"{tag} $i the quick brown fox jumps over the lazy dog\"");
    let script = if per_line_open {
        format!("for i in $(seq 1 {LINES}); do {body} >> {log}; done")
    } else {
        format!("exec 3>>{log}; for i in $(seq 1 {LINES}); do {body} >&3; done")
    };
    Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .expect("spawn a writer")
}

fn check(text: &str, tags: &[String]) {
    let mut seen = HashSet::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let (tag, i, rest) = (parts.next(), parts.next(), parts.next());
        assert_eq!(
            rest,
            Some("the quick brown fox jumps over the lazy dog"),
            "torn line {line:?}"
        );
        let key = format!("{} {}", tag.unwrap_or(""), i.unwrap_or(""));
        assert!(seen.insert(key), "line twice: {line:?}");
    }
    for tag in tags {
        for i in 1..=LINES {
            assert!(seen.contains(&format!("{tag} {i}")), "lost: {tag} {i}");
        }
    }
    assert_eq!(seen.len(), tags.len() * LINES);
}

#[tokio::test(flavor = "multi_thread")]
async fn fuse_shared_writers_appends_from_several_processes_all_land() {
    let Some(fx) = FuseEnv::start(&[]).await else {
        return;
    };
    for (n, name) in [(2, "two.log"), (4, "four.log")] {
        let log = fx.at(name).display().to_string();
        // Half append with `>>` per line, half through a descriptor held open.
        let tags: Vec<String> = (0..n).map(|k| format!("w{k}")).collect();
        let mut children: Vec<Child> = tags
            .iter()
            .enumerate()
            .map(|(k, tag)| writer(&log, tag, k % 2 == 0))
            .collect();
        for c in &mut children {
            assert!(c.wait().expect("wait").success(), "a writer failed");
        }
        let text = std::fs::read_to_string(&log).expect("read the log");
        check(&text, &tags);
        let over_s3 = fx.s3.get(&fx.bucket, name).await;
        assert_eq!(
            over_s3,
            text.as_bytes(),
            "{name}: S3 sees what the mount shows"
        );
    }
}
