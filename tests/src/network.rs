//! A private network for a cluster, so that a test can cut it in two while both sides stay
//! alive: each node runs in a network namespace of its own with one address
//! (`10.77.0.N/24` on a veth), the veths meet on a bridge in a namespace made for the test
//! (the hub, where the test's own client talks from `10.77.0.254`), and a partition is an
//! nftables rule on that bridge that drops, silently, every IPv4 packet between the two
//! sides (no reset, no ICMP: a peer just stops answering, as across a broken link).
//!
//! Invariants: nothing is made in the machine's own network namespace. The hub is a
//! namespace of the test's thread alone ([`in_private_network`]); each node's namespace is
//! held by a small holder process whose standard input is a pipe from the test, so it ends
//! when the test drops it or dies. Every namespace, veth, bridge and rule goes away with
//! the last process in it: a test that panics or is killed leaves nothing behind but the
//! node processes a killed test always leaves.
//!
//! Needs root, `ip` (iproute2), `unshare` and `nsenter` (util-linux) and `nft` (nftables);
//! a missing one fails the test with a message saying so.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The address of node `i` (from 0) in a private network.
pub fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, i as u8 + 1)
}

/// The hub's own address: where the test's clients connect from.
const HUB_ADDRESS: &str = "10.77.0.254/24";
/// The bridge the nodes' veths join.
const BRIDGE: &str = "tsr-br0";
/// The nftables table of a partition (in the hub).
const TABLE: &str = "tessera_partition";

/// Proof that the calling thread runs in a network namespace of its own (see
/// [`in_private_network`]); what makes the hub's bridge and rules safe to create.
pub struct PrivateNetwork {
    _private: (),
}

/// Runs `f` on a thread of its own in a new, empty network namespace (the hub: its
/// loopback up, a bridge for the nodes' veths) and returns what `f` returns; a panic in `f`
/// is the caller's panic. Threads and processes started inside (a tokio runtime's workers,
/// the nodes) are in the hub too; the rest of the test process is not.
#[allow(unsafe_code)] // unshare(2): the one way to a network namespace of the thread's own
pub fn in_private_network<R: Send + 'static>(
    f: impl FnOnce(&PrivateNetwork) -> R + Send + 'static,
) -> R {
    let thread = std::thread::spawn(move || {
        // SAFETY: unshare(2) changes only the calling thread's network namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            panic!(
                "cannot make a network namespace (unshare(CLONE_NEWNET): {}): the \
                 partition tests need root",
                std::io::Error::last_os_error()
            );
        }
        run("ip", &["link", "set", "lo", "up"]);
        run("ip", &["link", "add", BRIDGE, "type", "bridge"]);
        run("ip", &["addr", "add", HUB_ADDRESS, "dev", BRIDGE]);
        run("ip", &["link", "set", BRIDGE, "up"]);
        f(&PrivateNetwork { _private: () })
    });
    match thread.join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Panics unless the calling thread is in a namespace of its own: the test process's main
/// thread stays in the machine's, which no bridge or rule may touch.
fn assert_in_hub() {
    let ns = |path: String| std::fs::read_link(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let main = ns(format!("/proc/self/task/{}/ns/net", std::process::id()));
    assert_ne!(
        ns("/proc/thread-self/ns/net".into()),
        main,
        "network changes belong inside in_private_network"
    );
}

/// Runs a command of the hub, panicking with its output when it fails.
fn run(program: &str, args: &[&str]) {
    run_with_input(program, args, None);
}

fn run_with_input(program: &str, args: &[&str], input: Option<&str>) {
    assert_in_hub();
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}", missing(program, &e)));
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .expect("write to the command");
    }
    let out = child.wait_with_output().expect("wait for the command");
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn missing(program: &str, e: &std::io::Error) -> String {
    let package = match program {
        "nft" => "nftables",
        "ip" => "iproute2",
        _ => "util-linux",
    };
    format!(
        "cannot run `{program}` ({e}): the partition tests need it (Debian package \
         {package}; .ci/run installs it)"
    )
}

/// The network namespace of one node: held by a process that lives until dropped, with a
/// veth on the hub's bridge and the node's address.
pub(crate) struct NodeNetwork {
    holder: Child,
    /// Closed on drop: the holder then exits (and so it does when the test dies).
    _stdin: ChildStdin,
}

impl NodeNetwork {
    /// The namespace of node `i`, its veth on the bridge, its address up.
    pub(crate) fn new(_hub: &PrivateNetwork, i: usize) -> NodeNetwork {
        let mut holder = Command::new("unshare")
            .args([
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up && echo ready && exec cat >/dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{}", missing("unshare", &e)));
        let stdin = holder.stdin.take().expect("holder stdin");
        let mut ready = String::new();
        let stdout = holder.stdout.take().expect("holder stdout");
        let _ = BufReader::new(stdout).read_line(&mut ready);
        assert_eq!(
            ready.trim(),
            "ready",
            "the namespace holder of node {i} failed"
        );
        let net = NodeNetwork {
            holder,
            _stdin: stdin,
        };
        let pid = net.holder.id().to_string();
        let veth = format!("tsr-v{i}");
        run(
            "ip",
            &[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &pid,
            ],
        );
        run("ip", &["link", "set", &veth, "master", BRIDGE, "up"]);
        let address = format!("{}/24", node_ip(i));
        let namespace = net.namespace();
        for args in [
            &["addr", "add", &address, "dev", "eth0"][..],
            &["link", "set", "eth0", "up"],
        ] {
            let mut all = vec![namespace.as_str(), "--", "ip"];
            all.extend_from_slice(args);
            run("nsenter", &all);
        }
        net
    }

    /// nsenter's option naming the namespace.
    fn namespace(&self) -> String {
        format!("--net=/proc/{}/ns/net", self.holder.id())
    }

    /// The command a node runs under to be in this namespace (its command appended).
    pub(crate) fn wrapper(&self) -> Vec<String> {
        vec!["nsenter".into(), self.namespace(), "--".into()]
    }
}

impl Drop for NodeNetwork {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Drops every IPv4 packet between the nodes of `side` and the others (`addresses`: every
/// node's address, in order); replaces any earlier cut.
pub(crate) fn cut(addresses: &[SocketAddr], side: &[usize]) {
    let set = |inside: bool| -> String {
        let ips: Vec<String> = addresses
            .iter()
            .enumerate()
            .filter(|(i, _)| side.contains(i) == inside)
            .map(|(_, a)| a.ip().to_string())
            .collect();
        format!("{{ {} }}", ips.join(", "))
    };
    let (a, b) = (set(true), set(false));
    let rules = format!(
        "table bridge {TABLE} {{}}\n\
         delete table bridge {TABLE}\n\
         table bridge {TABLE} {{\n\
           chain forward {{\n\
             type filter hook forward priority filter; policy accept;\n\
             ip saddr {a} ip daddr {b} drop\n\
             ip saddr {b} ip daddr {a} drop\n\
           }}\n\
         }}\n"
    );
    run_with_input("nft", &["-f", "-"], Some(&rules));
}

/// Lets every packet through again.
pub(crate) fn reconnect() {
    run_with_input(
        "nft",
        &["-f", "-"],
        Some(&format!(
            "table bridge {TABLE} {{}}\ndelete table bridge {TABLE}\n"
        )),
    );
}
