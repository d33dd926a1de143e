//! The service examples (`examples/systemd/`): the units pass `systemd-analyze verify`
//! (where systemd is installed, as on the CI machine), and a node starts from the
//! environment file the unit reads, without systemd and without a shell: the drives, the
//! address, extra flags and the credentials all come from the environment.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tessera_tests::free_port;

use crate::common::{bin, http_status};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/systemd")
}

/// Kills and reaps the node on drop.
struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `KEY=VALUE` lines as systemd's EnvironmentFile reads them (comments, quotes).
fn environment_file(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("read the environment file");
    (text.lines().map(str::trim))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=VALUE");
            (k.to_string(), v.trim_matches('"').to_string())
        })
        .collect()
}

fn node_command(env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("server")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TESSERA_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

#[tokio::test]
async fn service_units_verify_and_a_node_starts_from_their_environment_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let has_systemd = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_systemd {
        // The unit as installed, but naming the binary under test.
        let unit = std::fs::read_to_string(examples().join("tessera.service")).expect("unit");
        let unit = unit.replace("/usr/local/bin/tessera", bin().to_str().expect("utf-8"));
        let service = dir.path().join("tessera.service");
        std::fs::write(&service, unit).expect("write the unit");
        let mount = examples().join("mnt-photos.mount");
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .args([&service, &mount])
            .output()
            .expect("systemd-analyze");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.trim().is_empty(), "{said}");
    }

    let mut env = environment_file(&examples().join("tessera.env"));
    let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "TESSERA_VOLUMES",
        "TESSERA_ADDRESS",
        "TESSERA_OPTS",
        "TESSERA_ROOT_USER",
        "TESSERA_ROOT_PASSWORD",
    ] {
        assert!(keys.contains(&key), "tessera.env sets {key}");
    }
    // This machine's drives and port; the range stays for the node to expand.
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    for (k, v) in env.iter_mut() {
        match k.as_str() {
            "TESSERA_VOLUMES" => *v = format!("{}/disk{{1...4}}", dir.path().display()),
            "TESSERA_ADDRESS" => *v = addr.to_string(),
            _ => {}
        }
    }
    let var = |key: &str| env.iter().find(|(k, _)| k == key).expect(key).1.clone();

    // TESSERA_OPTS are flags of the node: a wrong one stops it with the flag's name.
    let mut wrong = env.clone();
    wrong.retain(|(k, _)| k != "TESSERA_OPTS");
    wrong.push(("TESSERA_OPTS".into(), "--no-such-flag".into()));
    let out = node_command(&wrong).output().expect("run the node");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));

    let _node = NodeProcess(node_command(&env).spawn().expect("start the node"));
    let mut status = 0;
    for _ in 0..300 {
        status = http_status(addr, "/health/ready").await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "the node from tessera.env is ready");
    for d in 1..=4 {
        let drive = dir.path().join(format!("disk{d}/.tessera"));
        assert!(drive.is_dir(), "{} formatted", drive.display());
    }
    // The credentials of the file, and no others.
    let cli = |password: &str| {
        Command::new(bin())
            .args(["mb", "from-unit"])
            .env("TESSERA_ENDPOINT", format!("http://{addr}"))
            .env("TESSERA_ROOT_USER", var("TESSERA_ROOT_USER"))
            .env("TESSERA_ROOT_PASSWORD", password)
            .output()
            .expect("run the CLI")
    };
    assert!(!cli("not-the-password").status.success());
    let out = cli(&var("TESSERA_ROOT_PASSWORD"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
