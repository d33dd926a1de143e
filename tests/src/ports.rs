//! Ports for test nodes on 127.0.0.1: each handed out once per test process, from a range
//! the kernel never picks for a connection's local port.

use std::net::TcpListener;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// Ports the tests hand out: below the kernel's ephemeral range (32768 and up), so no
/// connection's local port takes one between its choice and the node's bind.
const TEST_PORTS: Range<u32> = 16_000..32_000;

/// `n` distinct free ports on 127.0.0.1, none handed out twice by this process (a port the
/// kernel chose and the test released could be chosen again by a concurrent test before
/// its node binds it, and a node started there would find the other test's node answering
/// as its peer). Each process starts at its own offset in [`TEST_PORTS`]; a port some
/// other program holds is skipped.
pub fn free_ports(n: usize) -> Vec<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = TEST_PORTS.end - TEST_PORTS.start;
    let offset = std::process::id().wrapping_mul(1009) % span;
    let mut ports = Vec::with_capacity(n);
    for _ in 0..span {
        if ports.len() == n {
            break;
        }
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = TEST_PORTS.start + (offset + step) % span;
        let port = u16::try_from(port).expect("test ports fit in u16");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
    }
    assert_eq!(ports.len(), n, "no {n} free ports left in {TEST_PORTS:?}");
    ports
}
