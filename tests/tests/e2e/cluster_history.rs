//! A register history check across nodes: clients on the four nodes write unique values
//! to a few keys and read them concurrently; every read must return a value no older than
//! the last write acknowledged before the read began, and never a value not yet written.
//! The check is shared with the partition test (`cluster_partition`), whose failed writes
//! count as writes that may or may not have taken effect.

use std::collections::HashMap;
use std::time::Instant;

use futures::future::join_all;
use tessera_tests::pattern;
use tonic::Code;

use crate::cluster::{ClusterEnv, logs};
use crate::common::{get, mb, put};

const KEYS: usize = 3;
const OPS_PER_CLIENT: usize = 60;

/// One operation of a history.
#[derive(Debug, Clone)]
pub enum Op {
    /// A write of `value`; `acked` when the node answered success (a write that failed may
    /// still have taken effect, between its start and its end).
    Write {
        key: usize,
        value: String,
        acked: bool,
    },
    /// A read that saw `value` (`None`: no such key).
    Read { key: usize, value: Option<String> },
}

/// An operation and when it ran, as its client saw it.
#[derive(Debug, Clone)]
pub struct Event {
    pub op: Op,
    pub start: Instant,
    pub end: Instant,
    pub client: usize,
}

/// The bytes stored for a value: its name, then padding that varies in size so inline and
/// erasure-coded objects both occur.
pub fn body(value: &str, n: usize) -> Vec<u8> {
    let mut b = format!("{value}\n").into_bytes();
    b.extend(pattern(
        if n.is_multiple_of(3) { 300_000 } else { 100 },
        n as u64,
    ));
    b
}

pub fn name_of(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

/// Checks every read against the writes (see the module doc); the number of reads.
pub fn check(events: &[Event]) -> Result<usize, String> {
    let writes: HashMap<(usize, String), &Event> = events
        .iter()
        .filter_map(|e| match &e.op {
            Op::Write { key, value, .. } => Some(((*key, value.clone()), e)),
            Op::Read { .. } => None,
        })
        .collect();
    let mut reads = 0;
    for r in events {
        let Op::Read { key, value } = &r.op else {
            continue;
        };
        reads += 1;
        // The writes of this key acknowledged before the read began.
        let acked: Vec<&&Event> = writes
            .iter()
            .filter(|((k, _), w)| k == key && w.end < r.start)
            .filter(|(_, w)| matches!(w.op, Op::Write { acked: true, .. }))
            .map(|(_, w)| w)
            .collect();
        match value {
            None if !acked.is_empty() => {
                return Err(format!(
                    "read by client {} saw no value after acknowledged writes",
                    r.client
                ));
            }
            None => {}
            Some(v) => {
                let w = writes
                    .get(&(*key, v.clone()))
                    .ok_or_else(|| format!("read a value never written: {v}"))?;
                if w.start > r.end {
                    return Err(format!("read {v} before its write began"));
                }
                if let Some(newer) = acked.iter().find(|a| a.start > w.end) {
                    return Err(format!(
                        "stale read by client {} of key {key}: {v}, though {:?} was acknowledged after it and before the read",
                        r.client, newer.op
                    ));
                }
            }
        }
    }
    Ok(reads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_register_history_is_never_stale() {
    let env = ClusterEnv::start(4, 4);
    let mut clients = Vec::new();
    for n in &env.cluster.nodes {
        clients.push(n.client().await);
    }
    mb(&mut clients[0], "history").await;
    let workers = clients
        .into_iter()
        .enumerate()
        .map(|(client, mut c)| async move {
            let mut events = Vec::new();
            let mut x = client as u64 * 7919 + 1;
            for i in 0..OPS_PER_CLIENT {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = (x % KEYS as u64) as usize;
                let name = format!("k{key}");
                let start = Instant::now();
                let op = if x.is_multiple_of(2) {
                    let value = format!("c{client}-{i}");
                    put(&mut c, "history", &name, &body(&value, i))
                        .await
                        .unwrap_or_else(|e| panic!("client {client} put: {e}"));
                    Op::Write {
                        key,
                        value,
                        acked: true,
                    }
                } else {
                    let value = match get(&mut c, "history", &name).await {
                        Ok(data) => Some(name_of(&data)),
                        Err(e) if e.code() == Code::NotFound => None,
                        Err(e) => panic!("client {client} get: {e}"),
                    };
                    Op::Read { key, value }
                };
                events.push(Event {
                    op,
                    start,
                    end: Instant::now(),
                    client,
                });
            }
            events
        });
    let events: Vec<Event> = join_all(workers).await.into_iter().flatten().collect();
    match check(&events) {
        Ok(reads) => assert!(reads > 20, "too few reads to mean anything: {reads}"),
        Err(e) => panic!("{e}\n{}", logs(&env)),
    }
}

#[test]
fn the_history_check_catches_a_stale_read() {
    let t = Instant::now();
    let ms = |n: u64| t + std::time::Duration::from_millis(n);
    let ev = |op, start, end| Event {
        op,
        start: ms(start),
        end: ms(end),
        client: 0,
    };
    let w = |v: &str| Op::Write {
        key: 0,
        value: v.into(),
        acked: true,
    };
    let r = |v: Option<&str>| Op::Read {
        key: 0,
        value: v.map(str::to_string),
    };
    // a then b acknowledged, then a read of a: stale.
    let stale = [ev(w("a"), 0, 1), ev(w("b"), 2, 3), ev(r(Some("a")), 4, 5)];
    assert!(check(&stale).is_err());
    // Overlapping write and read: either value is fine.
    let fine = [ev(w("a"), 0, 1), ev(w("b"), 2, 6), ev(r(Some("a")), 4, 5)];
    assert!(check(&fine).is_ok());
    // Nothing after an acknowledged write; a value from the future.
    assert!(check(&[ev(w("a"), 0, 1), ev(r(None), 2, 3)]).is_err());
    assert!(check(&[ev(r(Some("a")), 0, 1), ev(w("a"), 2, 3)]).is_err());
    // A write that failed may have taken effect, or not: reading it, or what it would have
    // replaced, is fine; it makes no later read stale.
    let failed = Op::Write {
        key: 0,
        value: "b".into(),
        acked: false,
    };
    let before = [ev(w("a"), 0, 1), ev(failed.clone(), 2, 3)];
    for seen in ["a", "b"] {
        let mut h = before.to_vec();
        h.push(ev(r(Some(seen)), 4, 5));
        assert!(check(&h).is_ok(), "{seen}");
    }
    assert!(check(&[ev(failed, 0, 1), ev(r(None), 2, 3)]).is_ok());
}
