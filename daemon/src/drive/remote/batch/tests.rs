//! The batched calls against a real storage service, and against one of an older version
//! that does not know them (its drives are then called one by one): both answer each drive
//! as the drive itself would.

use std::collections::HashMap;
use std::mem::{Discriminant, discriminant};
use std::sync::Arc;

use tessera_proto::auth::Credentials;
use tessera_proto::internode::storage_service_server::StorageServiceServer;

use super::*;
use crate::drive::local::LocalDrive;
use crate::internode::storage::StorageRpc;
use crate::internode::testing::{Intercept, Intercepted, serve};
use crate::peer::Peer;

/// Each drive's result, its error told apart by kind only (the two ways to a peer word
/// their messages differently).
fn kinds<T: Clone>(results: &[Result<T, DriveError>]) -> Vec<Result<T, Discriminant<DriveError>>> {
    (results.iter())
        .map(|r| r.as_ref().map_err(discriminant).cloned())
        .collect()
}

fn names(
    results: &[Result<WalkPage, DriveError>],
) -> Vec<Result<Vec<String>, Discriminant<DriveError>>> {
    let pages = kinds(results);
    (pages.into_iter())
        .map(|r| r.map(|p| p.entries.into_iter().map(|e| e.name).collect()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_without_batched_calls_answers_each_drive_as_one_with_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut local = Vec::new();
    let mut by_path: HashMap<String, Arc<dyn Drive>> = HashMap::new();
    for name in ["d1", "d2"] {
        let path = tmp.path().join(name);
        let drive = LocalDrive::open(&path).unwrap();
        let path = path.to_string_lossy().into_owned();
        by_path.insert(path.clone(), Arc::new(drive.clone()));
        local.push((path, drive));
    }
    // The bucket is on d1 only.
    local[0].1.make_volume("bkt").await.unwrap();
    let rpc = || StorageRpc::new(by_path.clone(), "me".into(), "h".into(), Arc::default());
    let current = serve(StorageServiceServer::new(rpc())).await;
    // A peer from before the batched calls (`…Of`): they end `Unimplemented`, as tonic
    // answers an unknown method.
    let older = serve(Intercept {
        inner: StorageServiceServer::new(rpc()),
        rule: |path| {
            if path.ends_with("Of") {
                Intercepted::Refuse(tonic::Code::Unimplemented)
            } else {
                Intercepted::Pass
            }
        },
    })
    .await;
    let creds = Credentials {
        access_key: "cluster".into(),
        secret_key: "cluster-secret".into(),
    };
    let drives_of = |address: &str| {
        let peer = Peer::new(address, "me", creds.clone(), None).unwrap();
        (local.iter())
            .map(|(path, _)| RemoteDrive::new(peer.clone(), path))
            .collect::<Vec<_>>()
    };
    let (current, older) = (drives_of(&current), drives_of(&older));
    let (current, older): (Vec<_>, Vec<_>) = (current.iter().collect(), older.iter().collect());

    // Writes through the older peer land as they would through the current one.
    fn writes<'a>(drives: &[&'a RemoteDrive]) -> Vec<(&'a RemoteDrive, Bytes, Target)> {
        vec![
            (drives[0], Bytes::from_static(b"on d1"), Target::Fresh),
            (drives[1], Bytes::from_static(b"on d2"), Target::Fresh),
        ]
    }
    let written = RemoteDrive::write_all_of(writes(&older), "bkt", "k/tessera.meta").await;
    assert!(written[0].is_ok(), "{written:?}");
    assert!(written[1].is_err(), "d2 has no bucket: {written:?}");
    assert_eq!(
        kinds(&written),
        kinds(&RemoteDrive::write_all_of(writes(&current), "bkt", "k/tessera.meta").await)
    );
    assert_eq!(
        local[0].1.read_all("bkt", "k/tessera.meta").await.unwrap(),
        &b"on d1"[..]
    );

    let read = RemoteDrive::read_all_of(&older, "bkt", "k/tessera.meta").await;
    assert_eq!(read[0].as_deref().ok(), Some(&b"on d1"[..]));
    assert!(read[1].is_err());
    let read_current = RemoteDrive::read_all_of(&current, "bkt", "k/tessera.meta").await;
    assert_eq!(kinds(&read), kinds(&read_current));

    let stat = RemoteDrive::stat_volume_of(&older, "bkt").await;
    assert!(stat[0].is_ok() && stat[1].is_err(), "{stat:?}");
    assert_eq!(
        kinds(&stat),
        kinds(&RemoteDrive::stat_volume_of(&current, "bkt").await)
    );

    // A key below `p/` makes the prefix `p/` (`k` holds no valid metadata: not listed).
    let data = Bytes::from_static(b"x");
    local[0]
        .1
        .write_all("bkt", "p/q/tessera.meta", data, Target::Fresh)
        .await
        .unwrap();
    let opts = WalkOptions {
        limit: BATCHED_WALK_LIMIT,
        ..Default::default()
    };
    let walked = RemoteDrive::walk_of(&older, "bkt", &opts).await;
    assert_eq!(names(&walked)[0], Ok(vec!["p/".to_string()]), "{walked:?}");
    assert!(walked[1].is_err());
    assert_eq!(
        names(&walked),
        names(&RemoteDrive::walk_of(&current, "bkt", &opts).await)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drive_offline_on_its_node_fails_alone_in_a_batch() {
    use crate::drive::slot::LocalSlot;
    let tmp = tempfile::tempdir().unwrap();
    let good = LocalSlot::open(tmp.path().join("d1"));
    good.make_volume("bkt").await.unwrap();
    // d2's directory is a file: its slot starts offline.
    let bad_path = tmp.path().join("d2");
    std::fs::write(&bad_path, b"x").unwrap();
    let bad = LocalSlot::open(&bad_path);
    assert!(!bad.is_online());
    let paths: Vec<String> = [tmp.path().join("d1"), bad_path]
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let by_path: HashMap<String, Arc<dyn Drive>> = HashMap::from([
        (paths[0].clone(), Arc::new(good) as Arc<dyn Drive>),
        (paths[1].clone(), Arc::new(bad) as Arc<dyn Drive>),
    ]);
    let rpc = StorageRpc::new(by_path, "me".into(), "h".into(), Arc::default());
    let address = serve(StorageServiceServer::new(rpc)).await;
    let creds = Credentials {
        access_key: "cluster".into(),
        secret_key: "cluster-secret".into(),
    };
    let peer = Peer::new(&address, "me", creds, None).unwrap();
    let drives: Vec<RemoteDrive> = (paths.iter())
        .map(|p| RemoteDrive::new(peer.clone(), p))
        .collect();
    let drives: Vec<&RemoteDrive> = drives.iter().collect();
    fn offline<T>(r: &Result<T, DriveError>) -> bool {
        matches!(r, Err(DriveError::Offline { .. }))
    }

    let writes = vec![
        (drives[0], Bytes::from_static(b"on d1"), Target::Fresh),
        (drives[1], Bytes::from_static(b"on d2"), Target::Fresh),
    ];
    let written = RemoteDrive::write_all_of(writes, "bkt", "k/tessera.meta").await;
    assert!(written[0].is_ok() && offline(&written[1]), "{written:?}");
    let read = RemoteDrive::read_all_of(&drives, "bkt", "k/tessera.meta").await;
    assert_eq!(read[0].as_deref().ok(), Some(&b"on d1"[..]));
    assert!(offline(&read[1]), "{read:?}");
    let stat = RemoteDrive::stat_volume_of(&drives, "bkt").await;
    assert!(stat[0].is_ok() && offline(&stat[1]), "{stat:?}");
    let opts = WalkOptions {
        limit: BATCHED_WALK_LIMIT,
        ..Default::default()
    };
    let walked = RemoteDrive::walk_of(&drives, "bkt", &opts).await;
    assert!(walked[0].is_ok() && offline(&walked[1]), "{walked:?}");
    // The drive's failure is its own, not its node's.
    assert!(peer.is_online());
}
