//! A network partition with both sides alive: a 4-node cluster (each node in a network
//! namespace of its own, see `tessera_tests::network`) is cut 1 | 3 while clients keep
//! using every node. The three commit; the lone node refuses every write and read, and
//! refuses quickly once it has seen its peers miss a deadline; after the cut heals, every
//! node reads what the register history allows (the check of `cluster_history`).

use std::time::{Duration, Instant};

use tempfile::TempDir;
use tessera_proto::client::ObjectClient;
use tessera_tests::Cluster;
use tessera_tests::network::in_private_network;
use tonic::Code;

use crate::cluster_history::{Event, Op, body, check, name_of};
use crate::common::{bin, get, mb, put};

const BUCKET: &str = "split";
const KEYS: usize = 3;
/// How long the cut lasts.
const CUT: Duration = Duration::from_secs(12);
/// Pause between two requests of the lone node's client, so fast refusals do not flood
/// the machine.
const PACE: Duration = Duration::from_millis(100);
/// Refusals the lone node must give during the cut (it gives about 8 a second once it
/// knows its peers are gone).
const MIN_REFUSALS: usize = 15;
/// Bound on the first refusal: the requests waiting on the peers when the cut comes end
/// once the node finds them gone (a missed probe: at most `PROBE_INTERVAL + PROBE_TIMEOUT`
/// = 4 s, about 3 s measured), not when their own 10 s deadlines pass (as they did).
const FIRST_REFUSAL: Duration = Duration::from_secs(7);
/// Bound on every later refusal: the peers are known to be gone, so they are refused at
/// once (a few ms measured); generous for a loaded machine.
const LATER_REFUSAL: Duration = Duration::from_secs(3);

/// Fails the test when a request hangs (a liveness bound, far above any deadline).
async fn within<T>(request: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), request)
        .await
        .expect("a request got no answer within 60 s")
}

/// What one operation did: its event for the history (a failed read tells nothing, so it
/// has none), whether it succeeded, and how long it took.
struct Outcome {
    event: Option<Event>,
    ok: bool,
    took: Duration,
}

/// One history operation on a key through `c`: a write of a fresh value, or a read.
async fn operate(c: &mut ObjectClient, client: usize, i: usize, write: bool) -> Outcome {
    let key = i % KEYS;
    let name = format!("k{key}");
    let start = Instant::now();
    let (op, ok) = if write {
        let value = format!("c{client}-{i}");
        let acked = within(put(c, BUCKET, &name, &body(&value, i)))
            .await
            .is_ok();
        (Some(Op::Write { key, value, acked }), acked)
    } else {
        match within(get(c, BUCKET, &name)).await {
            Ok(data) => {
                let value = Some(name_of(&data));
                (Some(Op::Read { key, value }), true)
            }
            Err(e) if e.code() == Code::NotFound => (Some(Op::Read { key, value: None }), true),
            Err(_) => (None, false),
        }
    };
    let end = Instant::now();
    Outcome {
        event: op.map(|op| Event {
            op,
            start,
            end,
            client,
        }),
        ok,
        took: end - start,
    }
}

/// Clients of the majority side: history operations until `until`; their events, and how
/// many writes were acknowledged.
async fn majority(mut c: ObjectClient, client: usize, until: Instant) -> (Vec<Event>, usize) {
    let (mut events, mut acked) = (Vec::new(), 0);
    let mut i = 1000;
    while Instant::now() < until {
        i += 1;
        let write = i % 3 != 0;
        let done = operate(&mut c, client, i, write).await;
        acked += usize::from(write && done.ok);
        events.extend(done.event);
    }
    (events, acked)
}

/// The lone node's client: alternating writes and reads from the moment of the cut until
/// `until`, each of which must be refused; how long each refusal took. The first is a
/// write large enough to stream its shards, so it waits on the peers when the cut comes.
async fn minority(mut c: ObjectClient, until: Instant) -> (Vec<Event>, Vec<Duration>) {
    let (mut events, mut took) = (Vec::new(), Vec::new());
    let mut i = 0;
    while Instant::now() < until {
        let done = operate(&mut c, 0, i, i % 2 == 0).await;
        assert!(
            !done.ok,
            "the lone node answered {:?} during the cut",
            done.event
        );
        took.push(done.took);
        events.extend(done.event);
        tokio::time::sleep(PACE).await;
        i += 1;
    }
    (events, took)
}

#[test]
fn cluster_partition_one_three_majority_commits_minority_refuses_fast() {
    in_private_network(|hub| {
        let dir = TempDir::new().expect("tempdir");
        let cluster = Cluster::start_private(hub, bin(), dir.path(), 4, 4, &[]);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(partitioned_history(&cluster));
    });
}

async fn partitioned_history(cluster: &Cluster) {
    let mut clients = Vec::new();
    for n in &cluster.nodes {
        clients.push(n.client().await);
    }
    mb(&mut clients[0], BUCKET).await;
    let mut events = Vec::new();
    for (i, c) in clients.iter_mut().enumerate().take(KEYS) {
        let done = operate(c, i, i, true).await;
        assert!(done.ok, "write before the cut\n{}", cluster.logs());
        events.extend(done.event);
    }

    cluster.cut(&[0]);
    let until = Instant::now() + CUT;
    let mut clients = clients.into_iter();
    let lone = clients.next().expect("client of node 1");
    let three = clients.enumerate().map(|(i, c)| majority(c, i + 1, until));
    let (lone, three) = tokio::join!(minority(lone, until), futures::future::join_all(three));
    cluster.reconnect();

    let (lone_events, took) = lone;
    let committed: usize = three.iter().map(|(_, acked)| acked).sum();
    events.extend(lone_events);
    events.extend(three.into_iter().flat_map(|(e, _)| e));
    let first = took.first().copied().unwrap_or_default();
    let later = took.iter().skip(1).max().copied().unwrap_or_default();
    eprintln!(
        "cut 1 | 3 for {CUT:?}: the three committed {committed} writes; the lone node refused \
         {} requests, the first in {first:?}, the slowest later one in {later:?}",
        took.len(),
    );
    assert!(
        committed >= 10,
        "the majority committed only {committed} writes\n{}",
        cluster.logs()
    );
    assert!(
        took.len() >= MIN_REFUSALS,
        "the lone node refused only {} requests in {CUT:?} ({took:?})\n{}",
        took.len(),
        cluster.logs()
    );
    assert!(
        first < FIRST_REFUSAL && later < LATER_REFUSAL,
        "the lone node refused slowly: the first refusal in {first:?}, a later one in \
         {later:?}\n{}",
        cluster.logs()
    );

    // Healed: every node reads what the history allows, and all read the same.
    cluster.wait_all_online(Duration::from_secs(60));
    let mut clients = Vec::new();
    for n in &cluster.nodes {
        clients.push(n.client().await);
    }
    for key in 0..KEYS {
        let mut seen = Vec::new();
        for (n, c) in clients.iter_mut().enumerate() {
            let start = Instant::now();
            let data = get(c, BUCKET, &format!("k{key}"))
                .await
                .unwrap_or_else(|e| panic!("read k{key} via node {}: {e}", n + 1));
            let value = name_of(&data);
            seen.push(value.clone());
            events.push(Event {
                op: Op::Read {
                    key,
                    value: Some(value),
                },
                start,
                end: Instant::now(),
                client: n,
            });
        }
        assert!(
            seen.windows(2).all(|w| w[0] == w[1]),
            "the nodes disagree on k{key} after the cut healed: {seen:?}"
        );
    }
    if let Err(e) = check(&events) {
        panic!("{e}\n{}", cluster.logs());
    }
}
