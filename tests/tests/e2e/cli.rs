//! The `tessera` CLI against a real node: every command, and clear failures.

use tessera_tests::{md5_hex, pattern};

use crate::common::*;

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(o: &std::process::Output) -> String {
    assert!(
        !o.status.success(),
        "command should fail: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn every_cli_command_works_against_a_node() {
    let env = Env::start(4);
    let n = &env.node;
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("big.bin");
    let data = pattern((5 << 20) + 17, 4);
    std::fs::write(&local, &data).unwrap();
    let local_s = local.to_str().unwrap();

    // A plain node ignores SIGHUP (a TLS node reloads its certificate): it goes on serving.
    n.signal_hup();
    assert!(ok(&n.cli(&["mb", "cli"], None)).contains("cli"));
    ok(&n.cli(&["cp", local_s, "cli/dir/"], None));
    ok(&n.cli(&["cp", "-", "cli/stdin.txt"], Some(b"from stdin\n")));
    let ls = ok(&n.cli(&["ls", "cli"], None));
    assert!(ls.contains("PRE dir/") && ls.contains("stdin.txt"), "{ls}");
    let ls = ok(&n.cli(&["ls", "-r", "cli"], None));
    assert!(ls.contains("dir/big.bin") && ls.contains("5.0MiB"), "{ls}");
    assert!(ok(&n.cli(&["ls"], None)).contains("cli/"));

    let stat = ok(&n.cli(&["stat", "cli/dir/big.bin"], None));
    assert!(
        stat.contains(&md5_hex(&data)) && stat.contains(&format!("{} bytes", data.len())),
        "{stat}"
    );
    let out = n.cli(&["cat", "cli/dir/big.bin"], None);
    assert!(out.status.success());
    assert!(out.stdout == data, "cat returned other bytes");
    assert_eq!(
        ok(&n.cli(&["cp", "cli/stdin.txt", "-"], None)),
        "from stdin\n"
    );

    let back = work.path().join("back.bin");
    ok(&n.cli(&["cp", "cli/dir/big.bin", back.to_str().unwrap()], None));
    assert!(std::fs::read(&back).unwrap() == data);
    // Into an existing local directory: the key's base name.
    ok(&n.cli(
        &["cp", "cli/stdin.txt", work.path().to_str().unwrap()],
        None,
    ));
    assert_eq!(
        std::fs::read(work.path().join("stdin.txt")).unwrap(),
        b"from stdin\n"
    );

    // Server-side copy and move.
    ok(&n.cli(&["cp", "cli/stdin.txt", "cli/copy.txt"], None));
    ok(&n.cli(&["mv", "cli/copy.txt", "cli/moved/copy.txt"], None));
    let ls = ok(&n.cli(&["ls", "-r", "cli"], None));
    assert!(
        ls.contains("moved/copy.txt") && !ls.contains(" copy.txt"),
        "{ls}"
    );
    // Local → remote move removes the local file.
    ok(&n.cli(&["mv", back.to_str().unwrap(), "cli/back.bin"], None));
    assert!(!back.exists());

    let info = ok(&n.cli(&["admin", "info"], None));
    assert!(
        info.contains("2 data + 2 parity; reads survive 2 drive(s) lost, writes 1")
            && info.contains(&format!("Endpoint   : {}", n.endpoint))
            && info.matches("online").count() == 4,
        "{info}"
    );

    // Failures: clear message, non-zero exit, nothing changed.
    assert!(fails(&n.cli(&["cat", "cli/missing"], None)).contains("no such key"));
    assert!(fails(&n.cli(&["rb", "cli"], None)).contains("not empty"));
    assert!(fails(&n.cli(&["mb", "Bad_Name"], None)).contains("invalid bucket name"));
    assert!(
        fails(&n.cli(
            &["cp", "cli/missing", work.path().join("x").to_str().unwrap()],
            None
        ))
        .contains("no such key")
    );
    assert!(
        !work.path().join("x").exists(),
        "a failed download leaves no file"
    );
    let wrong = std::process::Command::new(bin())
        .args(["ls"])
        .env("TESSERA_ENDPOINT", &n.endpoint)
        .env("TESSERA_ROOT_USER", tessera_tests::USER)
        .env("TESSERA_ROOT_PASSWORD", "wrong-password")
        .output()
        .unwrap();
    assert!(fails(&wrong).contains("authentication failed"));
    // A credentials file instead of the environment; refused when others may read it.
    let creds = work.path().join("creds");
    let with_file = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let line = format!("{}:{}\n", tessera_tests::USER, tessera_tests::PASSWORD);
        std::fs::write(&creds, line).unwrap();
        std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(mode)).unwrap();
        std::process::Command::new(bin())
            .args(["ls", "--credentials-file", creds.to_str().unwrap()])
            .env("TESSERA_ENDPOINT", &n.endpoint)
            .env("TESSERA_ROOT_PASSWORD", "wrong-password")
            .output()
            .unwrap()
    };
    assert!(ok(&with_file(0o600)).contains("cli/"));
    let refused = fails(&with_file(0o644));
    assert!(
        refused.contains("chmod 600") && !refused.contains(tessera_tests::PASSWORD),
        "{refused}"
    );
    let unreachable = std::process::Command::new(bin())
        .args(["ls", "--endpoint", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(fails(&unreachable).contains("cannot connect"));

    // rm and rm -r, then rb.
    ok(&n.cli(&["rm", "cli/stdin.txt"], None));
    assert!(ok(&n.cli(&["rm", "-r", "cli/"], None)).contains("Removed 3 object(s)"));
    assert!(ok(&n.cli(&["ls", "-r", "cli"], None)).trim().is_empty());
    ok(&n.cli(&["rb", "cli"], None));
    assert!(!ok(&n.cli(&["ls"], None)).contains("cli/"));
}

#[tokio::test]
async fn the_shell_walkthrough_example_runs() {
    let env = Env::start(4);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/walkthrough.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .env("TESSERA_BIN", bin())
        .env("TESSERA_ENDPOINT", &env.node.endpoint)
        .env("TESSERA_ROOT_USER", tessera_tests::USER)
        .env("TESSERA_ROOT_PASSWORD", tessera_tests::PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("round trip: identical") && stdout.contains("walkthrough done"),
        "{stdout}"
    );
}

#[tokio::test]
async fn admin_heal_goes_on_past_broken_entries_and_names_them() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "bkt").await;
    for key in ["a", "c", "d", "e"] {
        put(&mut c, "bkt", key, key.repeat(100).as_bytes())
            .await
            .expect("put");
    }
    // `c`'s metadata became a directory on drives 1 and 2, `d`'s on drives 3 and 4: each
    // object still reads (two good copies), but every drive's walk meets a broken entry.
    // Drive 3 lost `e`'s metadata: that is healable.
    for (key, drives) in [("c", [0, 1]), ("d", [2, 3])] {
        for i in drives {
            let meta = env.node.meta_file(i, "bkt", key);
            std::fs::remove_file(&meta).expect("remove metadata");
            std::fs::create_dir(&meta).expect("a directory in its place");
        }
    }
    std::fs::remove_file(env.node.meta_file(2, "bkt", "e")).expect("remove");
    let out = env.node.cli(&["admin", "heal", "bkt"], None);
    let stderr = fails(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains("2 object(s) are not fully healed"),
        "{stderr}\n{stdout}"
    );
    assert!(
        stdout.contains("4 object(s) checked, 1 repaired") && stdout.contains("2 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("not healed: bkt/c: "), "{stdout}");
    assert!(stdout.contains("not healed: bkt/d: "), "{stdout}");
    assert!(env.node.meta_file(2, "bkt", "e").is_file(), "e healed");
    for key in ["a", "c", "d", "e"] {
        let (_, data) = get_range(&mut c, "bkt", key, None).await.expect("get");
        assert_eq!(data, key.repeat(100).as_bytes(), "{key} still reads");
    }
}

#[tokio::test]
async fn admin_heal_rebuilds_what_a_drive_lost() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "mend").await;
    let big = tessera_tests::pattern(3 << 20, 5);
    put(&mut c, "mend", "dir/big", &big).await.expect("put");
    put(&mut c, "mend", "dir/small", b"tiny")
        .await
        .expect("put");
    // Drive 2 loses both objects (metadata and shards); drive 3 loses one shard file.
    std::fs::remove_dir_all(env.node.drives[1].join("mend/dir")).expect("remove");
    let shard = env.node.shard_files(2, "mend", "dir/big");
    std::fs::remove_file(&shard[0]).expect("remove shard");
    let out = env.node.cli(&["admin", "heal", "mend/dir/"], None);
    let text = ok(&out);
    assert!(text.contains("2 object(s) checked, 2 repaired"), "{text}");
    assert!(env.node.meta_file(1, "mend", "dir/big").exists());
    assert!(env.node.meta_file(1, "mend", "dir/small").exists());
    assert_eq!(
        env.node.shard_files(2, "mend", "dir/big").len(),
        shard.len()
    );
    // Healed: nothing left to do, and every bucket is checked without a target.
    let text = ok(&env.node.cli(&["admin", "heal"], None));
    assert!(
        text.contains("mend/: 2 object(s) checked, 0 repaired"),
        "{text}"
    );
    let text = fails(&env.node.cli(&["admin", "heal", "nosuchbucket"], None));
    assert!(
        text.contains("NoSuchBucket") || text.contains("no such bucket"),
        "{text}"
    );
    assert!(get(&mut c, "mend", "dir/big").await.expect("get") == big);
}
