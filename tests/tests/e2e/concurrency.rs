//! Strict consistency on one node: concurrent writers and readers of one key, and
//! read-after-write, list-after-write, delete-after-write.

use std::collections::HashSet;

use tessera_tests::{md5_hex, pattern};
use tonic::Code;

use crate::common::*;

#[tokio::test]
async fn concurrent_writers_and_readers_of_one_key_always_read_a_whole_written_value() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "race").await;
    // Inline and multi-block values, so both commit paths race.
    let values: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            pattern(
                if i % 2 == 0 {
                    60_000 + i
                } else {
                    (2 << 20) + i
                },
                i as u64,
            )
        })
        .collect();
    let digests: HashSet<String> = values.iter().map(|v| md5_hex(v)).collect();
    put(&mut c, "race", "k", &values[0]).await.unwrap();
    // Writers and readers run as concurrent futures (each with its own connection).
    let writers = (0..4).map(|w| {
        let (ep, values) = (env.node.endpoint.clone(), &values);
        async move {
            let mut c = tessera_proto::client::connect(&ep, tessera_tests::creds())
                .await
                .unwrap();
            for i in 0..6 {
                let v = &values[(w * 3 + i) % values.len()];
                put(&mut c, "race", "k", v).await.unwrap();
            }
        }
    });
    let readers = (0..4).map(|_| {
        let (ep, digests) = (env.node.endpoint.clone(), &digests);
        async move {
            let mut c = tessera_proto::client::connect(&ep, tessera_tests::creds())
                .await
                .unwrap();
            for _ in 0..25 {
                let data = get(&mut c, "race", "k").await.unwrap();
                assert!(
                    digests.contains(&md5_hex(&data)),
                    "read a value nobody wrote ({} bytes)",
                    data.len()
                );
                let h = head(&mut c, "race", "k").await.unwrap();
                assert!(digests.contains(&h.etag));
            }
        }
    });
    tokio::join!(
        futures::future::join_all(writers),
        futures::future::join_all(readers)
    );
}

#[tokio::test]
async fn reads_lists_and_deletes_see_every_acknowledged_write_at_once() {
    let env = Env::start(4);
    let mut c = env.node.client().await;
    mb(&mut c, "raw").await;
    for i in 0..30 {
        let key = format!("k{i:02}");
        let data = pattern(1000 + i * 5000, i as u64);
        put(&mut c, "raw", &key, &data).await.unwrap();
        assert_eq!(get(&mut c, "raw", &key).await.unwrap(), data);
        let (keys, _) = list(&mut c, "raw", "", "").await;
        assert_eq!(keys.len(), i + 1);
        if i % 3 == 0 {
            c.delete_object(tessera_proto::object::DeleteObjectRequest {
                bucket: "raw".into(),
                key: key.clone(),
            })
            .await
            .unwrap();
            assert_code(get(&mut c, "raw", &key).await, Code::NotFound);
            assert!(!list(&mut c, "raw", "", "").await.0.contains(&key));
            put(&mut c, "raw", &key, &data).await.unwrap();
        }
    }
}
