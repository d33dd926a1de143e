//! S3 cases: the tools users have. `tests/tools/s3_tools.sh` (awscli: `aws s3 cp/ls/sync/
//! rm/rb`, `aws s3api` for multipart and metadata) and `tests/tools/s3_tools.py` (boto3)
//! run against a real node and check every result themselves; these tests start the node,
//! run them and fail with their output.
//!
//! A missing tool is a failure, never a silent skip (DESIGN "Engineering conventions"),
//! unless TESSERA_SKIP_S3_TOOLS=1 says so explicitly.

use std::path::PathBuf;
use std::process::Command;

use tessera_tests::{PASSWORD, USER};

use crate::s3::S3Env;

const INSTALL: &str = "install them with `python3 -m pip install awscli boto3` \
                       (or set TESSERA_SKIP_S3_TOOLS=1 to skip these tests explicitly)";

pub(crate) fn skipped() -> bool {
    let skip = std::env::var("TESSERA_SKIP_S3_TOOLS").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("TESSERA_SKIP_S3_TOOLS=1: not running the awscli/boto3 scripts");
    }
    skip
}

/// Panics unless `program args` runs and exits 0.
pub(crate) fn require(what: &str, program: &str, args: &[&str]) {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{what} is not usable ({program} {args:?} failed: {}); {INSTALL}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("{what} is not installed ({program}: {e}); {INSTALL}"),
    }
}

pub(crate) fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tools")
        .join(name)
}

/// Runs a tools script against a fresh node and asserts it passed all its checks.
fn run_against_a_node(program: &str, name: &str) {
    let t = S3Env::start();
    let out = Command::new(program)
        .arg(script(name))
        .env("TESSERA_S3_ENDPOINT", &t.node().endpoint)
        .env("AWS_ACCESS_KEY_ID", USER)
        .env("AWS_SECRET_ACCESS_KEY", PASSWORD)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "{name} failed ({}):\n{stdout}\n{stderr}\nnode log:\n{}",
        out.status,
        t.log()
    );
}

#[test]
fn the_awscli_script_passes_against_a_node() {
    if skipped() {
        return;
    }
    require("awscli", "aws", &["--version"]);
    run_against_a_node("bash", "s3_tools.sh");
}

#[test]
fn the_boto3_script_passes_against_a_node() {
    if skipped() {
        return;
    }
    require("boto3", "python3", &["-c", "import boto3"]);
    run_against_a_node("python3", "s3_tools.py");
}

#[test]
fn the_awscli_versions_script_passes_against_a_node() {
    if skipped() {
        return;
    }
    require("awscli", "aws", &["--version"]);
    run_against_a_node("bash", "s3_versions.sh");
}

#[test]
fn a_backup_tools_versions_and_locks_survive_its_workflow_with_boto3() {
    if skipped() {
        return;
    }
    require("boto3", "python3", &["-c", "import boto3"]);
    run_against_a_node("python3", "s3_versions.py");
}
