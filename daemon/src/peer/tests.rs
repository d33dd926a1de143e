//! A peer's deadlines against two real servers that misbehave: one that accepts
//! connections and never answers (a node cut off by the network, or hung), and a storage
//! service that answers probes but never a call (a flaky link).

use std::collections::HashMap;
use std::time::Instant;

use tessera_proto::internode as pb;
use tessera_proto::internode::storage_service_server::StorageServiceServer;

use super::*;
use crate::internode::storage::StorageRpc;
use crate::internode::testing::{Intercept, Intercepted, serve};

fn creds() -> Credentials {
    Credentials {
        access_key: "cluster".into(),
        secret_key: "cluster-secret".into(),
    }
}

fn read_all(peer: &Peer) -> impl Future<Output = Result<Response<pb::ReadAllResponse>, Status>> {
    let mut client = peer.storage();
    async move {
        let req = pb::PathRequest {
            drive: "/d".into(),
            volume: "v".into(),
            path: "p".into(),
        };
        client.read_all(req).await
    }
}

/// A listener that takes connections and never says a word; its `host:port`.
async fn silent() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_waiting_on_a_peer_end_as_soon_as_it_is_found_offline() {
    let peer = Peer::new(&silent().await, "me", creds(), None).unwrap();
    let started = Instant::now();
    let long = tokio::spawn({
        let peer = peer.clone();
        async move { peer.call(CALL_TIMEOUT, read_all(&peer)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Another call misses its (short) deadline: the peer is offline, and the long call
    // ends with it instead of waiting out its own 10 s.
    let short = peer.call(Duration::from_millis(200), read_all(&peer)).await;
    assert_eq!(short.unwrap_err().code(), tonic::Code::DeadlineExceeded);
    assert!(!peer.is_online());
    let long = long.await.unwrap().unwrap_err();
    assert_eq!(long.code(), tonic::Code::Unavailable, "{long}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the waiting call ended after {:?}",
        started.elapsed()
    );
    // And a new call fails at once.
    let at = Instant::now();
    let err = peer.call(CALL_TIMEOUT, read_all(&peer)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert!(
        at.elapsed() < Duration::from_millis(100),
        "{:?}",
        at.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_back_from_offline_gets_short_deadlines_until_a_call_answers() {
    let rpc = StorageRpc::new(HashMap::new(), "peer".into(), "h".into(), Arc::default());
    // Its calls never answer, but for `Hello`.
    let address = serve(Intercept {
        inner: StorageServiceServer::new(rpc),
        rule: |path| {
            if path.ends_with("/Hello") {
                Intercepted::Pass
            } else {
                Intercepted::Hang
            }
        },
    })
    .await;

    let peer = Peer::new(&address, "me", creds(), None).unwrap();
    assert!(peer.hello().await.is_ok(), "the probe answers");
    let missed = peer.call(Duration::from_millis(300), read_all(&peer)).await;
    assert_eq!(missed.unwrap_err().code(), tonic::Code::DeadlineExceeded);
    // The monitor's probe answers, so the peer is back at once, but suspect: a call now
    // waits one short deadline, not its own.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !peer.is_online() {
        assert!(
            Instant::now() < deadline,
            "the probe did not bring the peer back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at = Instant::now();
    let err = peer.call(CALL_TIMEOUT, read_all(&peer)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::DeadlineExceeded, "{err}");
    let took = at.elapsed();
    assert!(
        took >= PROBE_TIMEOUT && took < CALL_TIMEOUT / 2,
        "a call to a suspect peer took {took:?}"
    );
}
