//! format.json on restart: resume, reordered and foreign drives refused, blank replacement
//! drives formatted; staging emptied at start; graceful shutdown.

use tessera_tests::{Node, pattern};

use crate::common::*;

#[tokio::test]
async fn a_restart_with_the_same_drives_resumes() {
    let mut env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "keep").await;
    let data = pattern(2 << 20, 1);
    put(&mut c, "keep", "k", &data).await.unwrap();
    drop(c);
    let status = env.node.terminate().expect("exit status");
    assert!(
        status.success(),
        "SIGTERM must end the node cleanly: {status:?}"
    );
    env.node.restart();
    let mut c = env.node.client().await;
    assert_eq!(get(&mut c, "keep", "k").await.unwrap(), data);
}

#[tokio::test]
async fn sigterm_lets_an_upload_in_flight_finish() {
    use tessera_proto::object as pb;
    let mut env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "term").await;
    let data = pattern(6 << 20, 8);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let upload = c.put_object(tokio_stream::wrappers::ReceiverStream::new(rx));
    let node = &env.node;
    let body = async move {
        let header = pb::PutObjectHeader {
            bucket: "term".into(),
            key: "k".into(),
            attributes: None,
            size: Some(data.len() as u64),
        };
        tx.send(pb::PutObjectRequest {
            msg: Some(pb::put_object_request::Msg::Header(header)),
        })
        .await
        .unwrap();
        for (i, chunk) in data.chunks(1 << 20).enumerate() {
            if i == 2 {
                // The node is told to stop while the upload is half way.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                node.signal_term();
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            tx.send(pb::PutObjectRequest {
                msg: Some(pb::put_object_request::Msg::Data(
                    bytes::Bytes::copy_from_slice(chunk),
                )),
            })
            .await
            .unwrap();
        }
    };
    let (result, ()) = tokio::join!(upload, body);
    let info = result.expect("the upload in flight completes").into_inner();
    assert_eq!(info.etag, tessera_tests::md5_hex(&pattern(6 << 20, 8)));
    drop(c);
    let status = env
        .node
        .wait_exit(std::time::Duration::from_secs(30))
        .expect("exit");
    assert!(status.success(), "{status:?}");
    // The acknowledged object survived the shutdown.
    env.node.restart();
    let mut c = env.node.client().await;
    assert_eq!(get(&mut c, "term", "k").await.unwrap(), pattern(6 << 20, 8));
}

#[tokio::test]
async fn reordered_drives_refuse_to_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let drives = Node::drive_paths(dir.path(), 4);
    let mut node = Node::start(bin(), drives.clone(), &[]);
    node.kill9();
    let mut swapped = drives.clone();
    swapped.swap(0, 1);
    let f = Node::try_start(bin(), swapped, &[])
        .err()
        .expect("must refuse");
    assert!(f.status.is_some_and(|s| !s.success()));
    assert!(f.log.contains("reordered"), "{}", f.log);
}

#[tokio::test]
async fn a_drive_from_another_deployment_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let a = Node::drive_paths(&dir.path().join("a"), 4);
    let b = Node::drive_paths(&dir.path().join("b"), 4);
    for set in [&a, &b] {
        std::fs::create_dir_all(set[0].parent().unwrap()).unwrap();
        Node::start(bin(), set.clone(), &[]).kill9();
    }
    let mut mixed = a.clone();
    mixed[3] = b[3].clone();
    let f = Node::try_start(bin(), mixed, &[])
        .err()
        .expect("must refuse");
    assert!(f.log.contains("another deployment"), "{}", f.log);
    // A different drive count than the deployment's is refused too.
    let f = Node::try_start(bin(), a[..3].to_vec(), &[])
        .err()
        .expect("must refuse");
    assert!(f.log.contains("has 4 drives but 3 were given"), "{}", f.log);
}

#[tokio::test]
async fn a_blank_replacement_drive_is_formatted_and_objects_still_read() {
    let mut env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "repl").await;
    let data = pattern(3 << 20, 2);
    put(&mut c, "repl", "k", &data).await.unwrap();
    env.node.kill9();
    std::fs::remove_dir_all(&env.node.drives[2]).unwrap();
    std::fs::create_dir_all(env.node.drives[0].join(".tessera/tmp/leftover")).unwrap();
    env.node.restart();
    assert!(env.node.drives[2].join(".tessera/format.json").exists());
    assert!(
        !env.node.drives[0].join(".tessera/tmp/leftover").exists(),
        "tmp is emptied at start"
    );
    let mut c = env.node.client().await;
    assert_eq!(get(&mut c, "repl", "k").await.unwrap(), data);
}

#[tokio::test]
async fn bad_layouts_and_parity_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let f = Node::try_start(bin(), Node::drive_paths(dir.path(), 17), &[])
        .err()
        .expect("17 drives");
    assert!(f.log.contains("cannot be split"), "{}", f.log);
    let f = Node::try_start(
        bin(),
        Node::drive_paths(&dir.path().join("p"), 4),
        &["--parity", "3"],
    )
    .err()
    .expect("parity 3 of 4");
    assert!(f.log.contains("parity 3"), "{}", f.log);
    // An explicit parity that fits is used.
    let node = Node::start(
        bin(),
        Node::drive_paths(&dir.path().join("q"), 6),
        &["--parity", "2"],
    );
    let mut c = node.client().await;
    let info = c
        .cluster_info(tessera_proto::object::ClusterInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (info.sets[0].data_shards, info.sets[0].parity_shards),
        (4, 2)
    );
}
