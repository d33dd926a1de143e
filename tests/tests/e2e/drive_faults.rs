//! Damaged drives at start: a single node on four drives (one set, 2+2) whose second drive
//! was damaged while it was stopped starts on the three good ones, names the bad drive in
//! its log, serves reads and writes, and once the drive is repaired picks it up (formats it
//! as a replacement when blank) and heals the objects onto it. A corrupt `format.json`
//! among three good ones is rewritten at start, with a log line. Too few good drives still
//! refuse the start with a message naming them.

use std::path::Path;
use std::time::{Duration, Instant};

use tessera_proto::client::ObjectClient;
use tessera_tests::{Node, pattern};

use crate::common::*;

/// The damaged drive (d2).
const BAD: usize = 1;
const BUCKET: &str = "drv";

/// A node with objects written, stopped: an inline one, one of a few blocks, one of one
/// block and a bit.
async fn stopped_node_with_objects() -> (Env, Vec<(String, Vec<u8>)>) {
    let mut env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, BUCKET).await;
    let objects = write(&mut c, "before", 0).await;
    drop(c);
    env.node.kill9();
    (env, objects)
}

async fn write(c: &mut ObjectClient, prefix: &str, seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, size) in [300, (1 << 20) + 17, 3 << 20].into_iter().enumerate() {
        let key = format!("{prefix}/{i}");
        let data = pattern(size, seed + i as u64);
        put(c, BUCKET, &key, &data)
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
        out.push((key, data));
    }
    out
}

async fn read_all(c: &mut ObjectClient, objects: &[(String, Vec<u8>)], when: &str) {
    for (key, data) in objects {
        let got = get(c, BUCKET, key)
            .await
            .unwrap_or_else(|e| panic!("{when}: get {key}: {e}"));
        assert!(got == *data, "{when}: {key}: wrong bytes");
    }
}

/// Lines of the node's log that mention `drive` and contain `what`.
fn log_lines(node: &Node, drive: &Path, what: &str) -> Vec<String> {
    let drive = drive.display().to_string();
    node.log_text()
        .lines()
        .filter(|l| l.contains(&drive) && l.contains(what))
        .map(str::to_string)
        .collect()
}

/// Whether drive `i` holds every object's metadata, and shard files for those past the
/// inline limit.
fn holds(node: &Node, i: usize, objects: &[(String, Vec<u8>)]) -> bool {
    objects.iter().all(|(key, data)| {
        node.meta_file(i, BUCKET, key).is_file()
            && (data.len() <= 128 << 10 || !node.shard_files(i, BUCKET, key).is_empty())
    })
}

/// The deployment id in a drive's `format.json`.
fn deployment_of(drive: &Path) -> String {
    let text = std::fs::read_to_string(drive.join(".tessera/format.json")).unwrap_or_default();
    let field = "\"deployment_id\": \"";
    text.split_once(field)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(id, _)| id.to_string())
        .unwrap_or_default()
}

/// Waits until the damaged drive holds every object (healed onto it), then checks that
/// the objects read back from it and one other drive alone: the two others are wiped
/// while the node runs (2+2 reads from any two).
async fn check_healed(env: &Env, c: &mut ObjectClient, objects: &[(String, Vec<u8>)]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !holds(&env.node, BAD, objects) {
        assert!(
            Instant::now() < deadline,
            "drive {} was not healed within 60 s:\n{}",
            env.node.drives[BAD].display(),
            env.node.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        deployment_of(&env.node.drives[BAD]),
        deployment_of(&env.node.drives[0]),
        "the repaired drive carries the deployment's format"
    );
    env.node.wipe_drive(0);
    env.node.wipe_drive(2);
    read_all(c, objects, "from the healed drive and d4").await;
}

/// The whole case: objects written, node stopped, `damage` applied to d2, the node starts
/// on three drives and logs one line naming d2 with `reason`; reads and writes work; then
/// `repair` (if any) and the node heals d2.
async fn damaged_drive_case(damage: impl Fn(&Path), reason: &str, repair: Option<&dyn Fn(&Path)>) {
    let (mut env, mut objects) = stopped_node_with_objects().await;
    let bad = env.node.drives[BAD].clone();
    damage(&bad);
    env.node.restart();
    let what = if repair.is_some() {
        "drive offline"
    } else {
        "formatting it as a replacement"
    };
    let lines = log_lines(&env.node, &bad, what);
    assert_eq!(
        lines.len(),
        1,
        "one log line names the bad drive:\n{}",
        env.node.log_text()
    );
    assert!(
        lines[0].contains(reason),
        "the log line says what is wrong: {}",
        lines[0]
    );
    let mut c = env.node.client().await;
    read_all(&mut c, &objects, "with d2 damaged").await;
    objects.extend(write(&mut c, "during", 10).await);
    read_all(&mut c, &objects, "after writes with d2 damaged").await;
    if let Some(repair) = repair {
        repair(&bad);
        let deadline = Instant::now() + Duration::from_secs(30);
        while log_lines(&env.node, &bad, "drive back online").is_empty() {
            assert!(
                Instant::now() < deadline,
                "the repaired drive was not picked up:\n{}",
                env.node.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    check_healed(&env, &mut c, &objects).await;
}

/// Replaces whatever is at `path` by an empty directory.
fn restore_empty_dir(path: &Path) {
    if path.is_dir() && !path.is_symlink() {
        std::fs::remove_dir_all(path).unwrap();
    } else {
        std::fs::remove_file(path).unwrap();
    }
    std::fs::create_dir(path).unwrap();
}

#[tokio::test]
async fn a_drive_replaced_by_a_file_is_offline_at_start_and_healed_once_repaired() {
    damaged_drive_case(
        |d| {
            std::fs::remove_dir_all(d).unwrap();
            std::fs::write(d, b"not a drive").unwrap();
        },
        "is not a directory",
        Some(&restore_empty_dir),
    )
    .await;
}

#[tokio::test]
async fn a_drive_that_is_a_dangling_symlink_is_offline_at_start_and_healed_once_repaired() {
    damaged_drive_case(
        |d| {
            std::fs::remove_dir_all(d).unwrap();
            std::os::unix::fs::symlink(d.with_file_name("gone/d2"), d).unwrap();
        },
        "which does not exist",
        Some(&restore_empty_dir),
    )
    .await;
}

#[tokio::test]
async fn a_drive_whose_meta_dir_is_a_file_is_offline_at_start_and_healed_once_repaired() {
    damaged_drive_case(
        |d| {
            std::fs::remove_dir_all(d.join(".tessera")).unwrap();
            std::fs::write(d.join(".tessera"), b"x").unwrap();
        },
        ".tessera is not a directory",
        Some(&|d: &Path| std::fs::remove_file(d.join(".tessera")).unwrap()),
    )
    .await;
}

#[tokio::test]
async fn a_garbage_format_json_among_good_ones_is_rewritten_at_start() {
    damaged_drive_case(
        |d| std::fs::write(d.join(".tessera/format.json"), b"\x00garbage{{").unwrap(),
        "format.json: corrupt",
        None,
    )
    .await;
}

#[tokio::test]
async fn an_empty_format_json_among_good_ones_is_rewritten_at_start() {
    damaged_drive_case(
        |d| std::fs::write(d.join(".tessera/format.json"), b"").unwrap(),
        "format.json: corrupt",
        None,
    )
    .await;
}

#[tokio::test]
async fn too_few_good_drives_refuse_to_start_naming_them() {
    let (env, _) = stopped_node_with_objects().await;
    let drives = env.node.drives.clone();
    // d2 a file, d3's meta directory a file: 2 of 4 usable, write quorum 3.
    std::fs::remove_dir_all(&drives[1]).unwrap();
    std::fs::write(&drives[1], b"x").unwrap();
    std::fs::remove_dir_all(drives[2].join(".tessera")).unwrap();
    std::fs::write(drives[2].join(".tessera"), b"x").unwrap();
    let f = Node::try_start(bin(), drives.clone(), &[])
        .err()
        .expect("two bad drives of 2+2 must refuse the start");
    assert!(f.status.is_some_and(|s| !s.success()), "{f:?}");
    for needle in [
        "only 2 of its 4 drives can be used and 3 are needed",
        &format!("{}: is not a directory", drives[1].display()),
        &format!(
            "{}: {}/.tessera is not a directory",
            drives[2].display(),
            drives[2].display()
        ),
    ] {
        assert!(
            f.log.contains(needle),
            "{needle:?} missing from:\n{}",
            f.log
        );
    }
    // d3 with a corrupt format.json instead: only two drives agree on the layout, too few
    // to rewrite it.
    std::fs::remove_file(drives[2].join(".tessera")).unwrap();
    std::fs::create_dir(drives[2].join(".tessera")).unwrap();
    std::fs::write(drives[2].join(".tessera/format.json"), b"{").unwrap();
    let f = Node::try_start(bin(), drives.clone(), &[])
        .err()
        .expect("must refuse");
    assert!(
        f.log
            .contains("only 2 of 4 drives agree on the layout, too few to rewrite it"),
        "{}",
        f.log
    );
    assert!(
        f.log.contains(&drives[2].display().to_string()),
        "{}",
        f.log
    );
}
