//! Connections that never finish a request: silent sockets, half request lines, half
//! HTTP/2 prefaces are closed within the header timeout (10 s) while requests keep being
//! served; at the connection bound new connections wait (and the log says so) instead of
//! failing; the node raises its open-file limit, and under a low hard limit a flood of
//! idle connections does not make ordinary requests fail.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tessera_tests::Node;

use crate::common::bin;
use crate::s3::*;

/// Opens `n` connections to `node` and sends `prefix` on each.
fn open_stalled(node: &Node, n: usize, prefix: &[u8]) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = TcpStream::connect(node.addr).expect("connect");
            s.write_all(prefix).expect("send");
            s
        })
        .collect()
}

/// Waits until the server has closed `s` (end of input or a reset), at most `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).expect("timeout");
        match s.read(&mut buf) {
            Ok(0) => return true,
            // An answer (a 408, say) is fine; the close must follow.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

/// A plain request over a fresh connection; its status.
fn status_of_get(node: &Node) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(node.addr)?;
    s.set_read_timeout(Some(Duration::from_secs(90)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    text.get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not HTTP: {text:?}")))
}

// Multi-threaded: the waits below block their thread, and the SDK's pooled connections
// must see the node close them meanwhile (as in any client that is not blocked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_finish_their_headers_are_closed() {
    let t = S3Env::start();
    let node = t.node();
    let mut stalled = open_stalled(node, 4, b"");
    stalled.extend(open_stalled(node, 4, b"GET /bkt/k HTTP/1.1\r\nHost: x\r\n"));
    stalled.extend(open_stalled(node, 4, b"GE"));
    stalled.extend(open_stalled(node, 4, b"PRI * HTTP/2.0\r\n"));
    // Meanwhile requests are served.
    t.mb("live").await;
    t.put("live", "k", b"v").await;
    assert_eq!(t.get("live", "k").await, b"v");
    for (i, s) in stalled.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(40)),
            "stalled connection {i} still open\n{}",
            t.log()
        );
    }
    // An idle keep-alive connection is closed too, after its request was answered.
    let mut idle = TcpStream::connect(node.addr).expect("connect");
    idle.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send");
    assert!(closed_within(&mut idle, Duration::from_secs(40)));
    assert_eq!(t.get("live", "k").await, b"v");
}

#[tokio::test]
async fn at_the_connection_bound_new_connections_wait_for_a_place() {
    let t = S3Env::start_with(4, &["--max-connections", "4"]);
    let node = t.node();
    let _stalled = open_stalled(node, 4, b"GET / HTTP/1.1\r\n");
    // The four stalled connections hold every place until the header timeout frees them:
    // the request waits, then is served.
    let status = status_of_get(node).expect("a request at the bound is served");
    assert_eq!(status, 403, "anonymous GET /");
    let log = t.log();
    assert!(log.contains("connection limit reached"), "{log}");
}

#[tokio::test]
async fn a_flood_of_idle_connections_under_a_low_file_limit_does_not_fail_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The hard limit is what the node may raise its soft limit to.
    let raised = Node::try_start_under(
        &["prlimit", "--nofile=256:4096", "--"],
        bin(),
        Node::drive_paths(&dir.path().join("raised"), 4),
        &[],
    )
    .unwrap_or_else(|f| panic!("start: {}", f.log));
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", raised.pid().unwrap())).expect("limits");
    let files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a file limit");
    assert_eq!(
        files.split_whitespace().collect::<Vec<_>>()[3..5],
        ["4096", "4096"],
        "{files}"
    );
    drop(raised);

    // With 256 files at most, 300 idle connections would exhaust them: the bound (half
    // the limit) keeps the rest for the drives, and ordinary requests are answered.
    let low = Node::try_start_under(
        &["prlimit", "--nofile=256:256", "--"],
        bin(),
        Node::drive_paths(&dir.path().join("low"), 4),
        &[],
    )
    .unwrap_or_else(|f| panic!("start: {}", f.log));
    let _idle = open_stalled(&low, 300, b"");
    for _ in 0..3 {
        let status = status_of_get(&low).expect("answered");
        assert_eq!(status, 403, "{}", low.log_text());
    }
    assert!(!low.log_text().contains("Too many open files"));
}
