//! TLS cases of a cluster (README "TLS"): three nodes named by `https://` endpoints, each
//! serving a test CA's certificate and verifying its peers against the CA in `CAs/`; the
//! SDK, the CLI, a real mount, awscli and boto3 (with a user's key) over `https://`. And the refusal of a
//! cluster that mixes plain and TLS.

use std::process::Command;

use tessera_tests::tls::TestCa;
use tessera_tests::{Cluster, Mount, Node, USER, free_ports, fuse_available, pattern};

use crate::common::bin;
use crate::fuse::mount_bin;
use crate::s3_tools::{require, script, skipped};
use crate::tls::{get, https_client, put_and_get};

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_cluster_serves_the_sdk_the_cli_a_mount_and_the_s3_tools_over_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new("Tessera test CA");
    let certs = ca.certs_dir(&dir.path().join("certs"));
    let client = ca.client(&dir.path().join("ca.pem"));
    let cluster = Cluster::start_tls(bin(), dir.path(), (3, 2), &certs, &client);
    let (n1, n2, n3) = (cluster.node(0), cluster.node(1), cluster.node(2));
    assert!(n1.endpoint.starts_with("https://"));

    // Written through node 1, read through node 3: the shards cross the nodes over TLS.
    let s1 = https_client(&n1.endpoint, Some(ca.pem()));
    let s3 = https_client(&n3.endpoint, Some(ca.pem()));
    s1.create_bucket()
        .bucket("tls")
        .send()
        .await
        .expect("create bucket over TLS");
    let large = pattern(5 << 20, 3);
    put_and_get(&s1, "tls", "large", &large).await;
    assert_eq!(get(&s3, "tls", "large").await, large, "read through node 3");

    // The CLI through node 2.
    let out = n2.cli(&["cp", "-", "tls/cli"], Some(b"cli over TLS"));
    assert!(out.status.success(), "cli cp: {out:?}");
    assert_eq!(get(&s3, "tls", "cli").await, b"cli over TLS");

    // A real mount of node 1, trusting the CA with --ca-cert.
    if fuse_available() {
        let ca_file = client.ca_file.to_str().expect("utf-8 path");
        let cache = dir.path().join("mount-cache");
        let args = [
            "--bucket",
            "tls",
            "--ca-cert",
            ca_file,
            "--cache-dir",
            cache.to_str().expect("utf-8 path"),
        ];
        let mount = Mount::start(mount_bin(), &n1.endpoint, &dir.path().join("mnt"), &args);
        let cli = std::fs::read(mount.path.join("cli")).expect("read through the mount");
        assert_eq!(cli, b"cli over TLS");
        std::fs::write(mount.path.join("from-mount"), b"mount over TLS").expect("write");
        assert_eq!(get(&s3, "tls", "from-mount").await, b"mount over TLS");
    }

    // awscli, boto3, rclone and s3fs with the CA and a user's key (not the root's), made
    // over TLS.
    if !skipped() {
        require("awscli", "aws", &["--version"]);
        require("boto3", "python3", &["-c", "import boto3"]);
        require("rclone (apt-get install rclone)", "rclone", &["version"]);
        require("s3fs (apt-get install s3fs)", "s3fs", &["--version"]);
        let made = n1.cli(
            &["admin", "user", "add", "tools", "--policy", "readwrite"],
            None,
        );
        let said = String::from_utf8_lossy(&made.stdout).into_owned();
        assert!(made.status.success(), "user add over TLS: {made:?}");
        let line = |name: &str| {
            (said.lines())
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {said}"))
                .trim()
                .to_string()
        };
        let (access, secret) = (line("Access Key:"), line("Secret Key:"));
        assert_ne!(access, USER);
        let out = Command::new("bash")
            .arg(script("s3_tls.sh"))
            .env("TESSERA_S3_ENDPOINT", &n1.endpoint)
            .env("TESSERA_CA_FILE", &client.ca_file)
            .env("AWS_ACCESS_KEY_ID", &access)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .expect("run s3_tls.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("all checks passed"),
            "s3_tls.sh failed ({}):\n{stdout}\n{}\nnode log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            n1.log_text()
        );
    }
}

#[test]
fn a_cluster_that_mixes_plain_and_tls_refuses_to_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new("Tessera test CA");
    let certs = ca.certs_dir(&dir.path().join("certs"));
    let certs = certs.to_str().expect("utf-8 path");
    let ports = free_ports(2);
    let (a, b) = (ports[0], ports[1]);
    let endpoints = |scheme_a: &str, scheme_b: &str, case: &str| -> Vec<String> {
        let d = dir.path().join(case);
        vec![
            format!("{scheme_a}://127.0.0.1:{a}{}/a", d.display()),
            format!("{scheme_b}://127.0.0.1:{b}{}/b", d.display()),
        ]
    };
    let cases = [
        ("https", "https", &[][..], "no certificates"),
        (
            "http",
            "http",
            &["--certs-dir", certs][..],
            "https:// endpoints",
        ),
        (
            "https",
            "http",
            &["--certs-dir", certs][..],
            "all TLS or all plain",
        ),
    ];
    for (i, (scheme_a, scheme_b, args, expected)) in cases.into_iter().enumerate() {
        let case = format!("case{i}");
        let drive = dir.path().join(&case).join("a");
        let addr = format!("127.0.0.1:{a}").parse().expect("address");
        let drive_args = endpoints(scheme_a, scheme_b, &case);
        let mut node = Node::new(bin(), addr, vec![drive], drive_args, args);
        match node.spawn() {
            Ok(()) => panic!("case {i}: a node started in a mixed cluster"),
            Err(f) => assert!(
                f.status.is_some() && f.log.contains(expected),
                "case {i}: the node must exit saying {expected:?}:\n{}",
                f.log
            ),
        }
    }
}
