//! Versioning in a cluster: a node killed in the middle of a versioned upload, versions and
//! delete markers written while it is away, then its return: no version or marker is lost,
//! every drive ends up with every version's shards (healed version by version), and the
//! returned node serves each version's bytes.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use tessera_tests::pattern;

use crate::cluster::{ClusterEnv, logs};
use crate::cluster_heal::{all_drives, footprint};
use crate::s3::client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_versions_survive_a_node_killed_mid_upload_and_heal_per_version() {
    let mut env = ClusterEnv::start(3, 2);
    let nodes: Vec<_> = (0..3)
        .map(|i| env.cluster.node(i).endpoint.clone())
        .collect();
    let s3: Vec<_> = nodes
        .iter()
        .map(|e| client(e, tessera_tests::USER, tessera_tests::PASSWORD))
        .collect();
    s3[0].create_bucket().bucket("vers").send().await.unwrap();
    let on = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    (s3[0].put_bucket_versioning().bucket("vers"))
        .versioning_configuration(on)
        .send()
        .await
        .unwrap();
    // Every node reads the state within a second.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let mut written: Vec<(String, String, Vec<u8>)> = Vec::new();
    let put = |c: usize, key: &str, data: Vec<u8>| {
        let req = (s3[c].put_object().bucket("vers").key(key)).body(ByteStream::from(data.clone()));
        let key = key.to_string();
        async move {
            let out = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
            (
                key,
                out.version_id().expect("a version id").to_string(),
                data,
            )
        }
    };
    for (i, key) in ["a", "b", "a"].into_iter().enumerate() {
        written.push(put(i % 3, key, pattern(3000 + i, i as u64)).await);
    }
    // Node 3 dies while a 24 MiB version streams in through node 1.
    let big = pattern(24 << 20, 77);
    let upload = tokio::spawn(put(0, "big", big));
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.cluster.node_mut(2).kill9();
    written.push(upload.await.expect("the upload task"));
    // While it is away: more versions and a delete marker, through nodes 1 and 2.
    written.push(put(1, "a", pattern(2 << 20, 9)).await);
    written.push(put(0, "big", pattern(5000, 10)).await);
    let del = s3[1]
        .delete_object()
        .bucket("vers")
        .key("b")
        .send()
        .await
        .unwrap();
    let marker = del.version_id().expect("a marker id").to_string();

    env.cluster.restart(2);
    // Healed when every drive holds the same files of every key (each version's data).
    let drives = all_drives(&env);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let pending: Vec<&str> = ["a", "b", "big"]
            .into_iter()
            .filter(|key| {
                let prints: Vec<_> = drives.iter().map(|d| footprint(d, "vers", key)).collect();
                !(prints[0].contains_key("tessera.meta") && prints.iter().all(|p| *p == prints[0]))
            })
            .collect();
        if pending.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not healed after 90 s: {pending:?}\n{}",
            logs(&env)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The returned node lists every version and marker and serves every version's bytes.
    let back = &s3[2];
    let listed = back
        .list_object_versions()
        .bucket("vers")
        .send()
        .await
        .unwrap();
    let mut ids: Vec<_> = listed
        .versions()
        .iter()
        .map(|v| v.version_id().unwrap())
        .collect();
    ids.sort();
    let mut want: Vec<_> = written.iter().map(|(_, v, _)| v.as_str()).collect();
    want.sort();
    assert_eq!(ids, want, "every version listed");
    let markers: Vec<_> = listed
        .delete_markers()
        .iter()
        .map(|m| m.version_id().unwrap())
        .collect();
    assert_eq!(markers, [marker.as_str()]);
    for (key, version, data) in &written {
        let got = back
            .get_object()
            .bucket("vers")
            .key(key)
            .version_id(version)
            .send()
            .await;
        let got = got.unwrap_or_else(|e| panic!("{key}@{version}: {e:?}"));
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body[..] == data[..], "{key}@{version}: bytes differ");
    }
}

/// Lifecycle in a cluster: every node runs the rules, yet each expiring object gets one
/// delete marker, not one per node (a set is walked by the node holding its first drive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_lifecycle_expires_each_object_once() {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
        LifecycleRuleFilter,
    };
    let env = ClusterEnv::start_with(3, 2, &["--test-lifecycle-day-secs", "2"]);
    let s3 = client(
        &env.cluster.node(1).endpoint,
        tessera_tests::USER,
        tessera_tests::PASSWORD,
    );
    s3.create_bucket().bucket("aging").send().await.unwrap();
    let on = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    (s3.put_bucket_versioning().bucket("aging"))
        .versioning_configuration(on)
        .send()
        .await
        .unwrap();
    let rule = LifecycleRule::builder()
        .id("tmp")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
        .expiration(LifecycleExpiration::builder().days(1).build())
        .build()
        .unwrap();
    let conf = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .unwrap();
    (s3.put_bucket_lifecycle_configuration().bucket("aging"))
        .lifecycle_configuration(conf)
        .send()
        .await
        .unwrap();
    for key in ["tmp/a", "tmp/b", "keep/c"] {
        (s3.put_object().bucket("aging").key(key))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    // Past a day and several rounds of every node.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = s3
            .list_object_versions()
            .bucket("aging")
            .send()
            .await
            .unwrap();
        if listed.delete_markers().len() >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not expired after 60 s\n{}",
            logs(&env)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let listed = s3
        .list_object_versions()
        .bucket("aging")
        .send()
        .await
        .unwrap();
    let mut marked: Vec<_> = listed
        .delete_markers()
        .iter()
        .filter_map(|m| m.key())
        .collect();
    marked.sort();
    assert_eq!(marked, ["tmp/a", "tmp/b"], "one marker per expired object");
    assert_eq!(listed.versions().len(), 3, "no version removed");
}
