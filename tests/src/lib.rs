//! The end-to-end harness: real `tessera` processes on 127.0.0.1 (or in network namespaces
//! of their own, to cut a cluster by the network) with drives in temp dirs, signed gRPC
//! clients, the CLI, and fault verbs (kill -9, restart, wipe a drive, corrupt or remove
//! shard files, partition). Every [`Node`] kills its process on drop, even when a test
//! panics.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use tessera_proto::auth::Credentials;

mod cluster;
mod mount;
pub mod network;
mod ports;
pub mod tls;
pub mod wire;
pub use cluster::Cluster;
pub use mount::{Mount, MountLog, MountPointGuard, fuse_available};
pub use ports::{free_port, free_ports};
use tessera_proto::client::{ObjectClient, connect_with};
use tessera_proto::tls::ClientTls;
use tls::TlsClient;

/// Bytes process `pid` has read with read(2) and its kin (`rchar` in /proc/PID/io).
pub fn rchar(pid: u32) -> std::io::Result<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io"))?;
    let line = io.lines().find_map(|l| l.strip_prefix("rchar:"));
    let value = line.and_then(|v| v.trim().parse().ok());
    value.ok_or_else(|| std::io::Error::other("no rchar in /proc/PID/io"))
}

/// Credentials every test node runs with.
pub const USER: &str = "test-user";
/// Password every test node runs with.
pub const PASSWORD: &str = "test-password-123";

/// The test credentials.
pub fn creds() -> Credentials {
    Credentials {
        access_key: USER.into(),
        secret_key: PASSWORD.into(),
    }
}

/// A node that did not come up.
#[derive(Debug)]
pub struct StartFailure {
    /// Its exit status, if it exited.
    pub status: Option<ExitStatus>,
    /// What it logged.
    pub log: String,
}

/// A running `tessera server` process.
pub struct Node {
    bin: PathBuf,
    child: Option<Child>,
    /// Listening address.
    pub addr: SocketAddr,
    /// `http://addr`, or `https://addr` once [`Node::set_tls`] is called.
    pub endpoint: String,
    /// What clients trust a TLS node with.
    tls: Option<TlsClient>,
    /// This node's drive directories, in command-line order.
    pub drives: Vec<PathBuf>,
    /// The drive arguments it runs with (its drives, or a cluster's endpoints).
    drive_args: Vec<String>,
    extra_args: Vec<String>,
    /// A command the node runs under (e.g. `unshare …`), the node's command appended.
    wrapper: Vec<String>,
    log: PathBuf,
    /// Length of the log when the process was last spawned: what it logged since starts
    /// there.
    log_start: usize,
}

impl Node {
    /// Starts a node on `drives` (created under the caller's temp dir), waiting until it
    /// serves; panics with the node's log if it does not.
    pub fn start(bin: &Path, drives: Vec<PathBuf>, extra_args: &[&str]) -> Node {
        match Self::try_start(bin, drives, extra_args) {
            Ok(n) => n,
            Err(f) => panic!("node failed to start ({:?}):\n{}", f.status, f.log),
        }
    }

    /// `n` drives `d1..dn` under `dir`.
    pub fn drive_paths(dir: &Path, n: usize) -> Vec<PathBuf> {
        (1..=n).map(|i| dir.join(format!("d{i}"))).collect()
    }

    /// Starts a node, or reports why it did not come up.
    pub fn try_start(
        bin: &Path,
        drives: Vec<PathBuf>,
        extra_args: &[&str],
    ) -> Result<Node, StartFailure> {
        Self::try_start_under(&[], bin, drives, extra_args)
    }

    /// [`Node::try_start`] under a `wrapper` command (e.g. `prlimit --nofile=256`), which
    /// must exec the node so that the process is the node's.
    pub fn try_start_under(
        wrapper: &[&str],
        bin: &Path,
        drives: Vec<PathBuf>,
        extra_args: &[&str],
    ) -> Result<Node, StartFailure> {
        // The port is free when picked, but another process (a parallel test's node, an
        // outgoing connection) may take it before the node binds it: that node fails to
        // listen and exits, and another port is tried.
        let mut tries = 0;
        loop {
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
                .parse()
                .expect("address");
            let drive_args = drives.iter().map(|d| d.display().to_string()).collect();
            let mut node = Node::new(bin, addr, drives.clone(), drive_args, extra_args);
            node.set_wrapper(wrapper.iter().map(|s| s.to_string()).collect());
            match node.spawn().and_then(|()| node.wait_serving()) {
                Ok(()) => return Ok(node),
                Err(e) if tries < 3 && e.log.contains("cannot listen on") => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until a single node serves. It answers 503 ("starting") until its drives
    /// are loaded, which takes a while for many drives on a busy machine. Serving means
    /// this node says so in its log too: an answer on the port alone could come from
    /// another process that took the port first.
    fn wait_serving(&mut self) -> Result<(), StartFailure> {
        self.wait_for(Duration::from_secs(60), |node| {
            node.serves()
                && node
                    .log_text()
                    .get(node.log_start..)
                    .is_some_and(|l| l.contains("tessera node serving"))
        })
    }

    /// Polls `ready` until it holds. Fails, with the log, when the process exits, or when
    /// `timeout` passes (the process is then killed).
    fn wait_for(
        &mut self,
        timeout: Duration,
        ready: impl Fn(&Node) -> bool,
    ) -> Result<(), StartFailure> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(StartFailure {
                    status: Some(status),
                    log: self.log_text(),
                });
            }
            if ready(self) {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill9();
                return Err(StartFailure {
                    status: None,
                    log: self.log_text(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether an anonymous S3 `GET /` gets an answer other than 503. (A TLS node answers
    /// this plain request 400 at once: for it the log line of `wait_serving` decides.)
    fn serves(&self) -> bool {
        use std::io::Write;
        let Ok(mut s) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        let mut status = [0u8; 12];
        s.write_all(request).is_ok()
            && s.read_exact(&mut status).is_ok()
            && status.starts_with(b"HTTP/1.1 ")
            && !status.ends_with(b"503")
    }

    /// A node (not started) listening on `addr`, owning `drives`, started with
    /// `drive_args` (its drives, or every endpoint of a cluster).
    pub fn new(
        bin: &Path,
        addr: SocketAddr,
        drives: Vec<PathBuf>,
        drive_args: Vec<String>,
        extra_args: &[&str],
    ) -> Node {
        Node {
            bin: bin.to_path_buf(),
            child: None,
            addr,
            endpoint: format!("http://{addr}"),
            tls: None,
            log: drives[0].with_extension("log"),
            drives,
            drive_args,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            wrapper: Vec::new(),
            log_start: 0,
        }
    }

    /// Makes clients speak TLS to the node (started with `--certs-dir`), trusting `client`.
    pub fn set_tls(&mut self, client: TlsClient) {
        self.endpoint = format!("https://{}", self.addr);
        self.tls = Some(client);
    }

    /// What clients trust the node with, when it speaks TLS.
    pub fn tls(&self) -> Option<&TlsClient> {
        self.tls.as_ref()
    }

    /// The client TLS settings of the node (any when it speaks plain HTTP: unused).
    pub fn client_tls(&self) -> ClientTls {
        self.tls
            .as_ref()
            .map_or_else(ClientTls::insecure, |t| t.tls.clone())
    }

    /// The drive arguments the node runs with.
    pub fn drive_args(&self) -> &[String] {
        &self.drive_args
    }

    /// Runs the node under `wrapper` (its command line is appended to it).
    pub fn set_wrapper(&mut self, wrapper: Vec<String>) {
        self.wrapper = wrapper;
    }

    /// Starts the process; returns once it listens (a cluster node then still waits for
    /// its peers: see `Cluster::wait_ready`).
    pub fn spawn(&mut self) -> Result<(), StartFailure> {
        if let Some(parent) = self.log.parent() {
            std::fs::create_dir_all(parent).expect("create log directory");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("create log");
        self.log_start = log.metadata().map_or(0, |m| m.len() as usize);
        let mut cmd = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(&self.bin);
                cmd
            }
            None => Command::new(&self.bin),
        };
        cmd.arg("server")
            .arg("--address")
            .arg(self.addr.to_string())
            .args(&self.extra_args)
            .args(&self.drive_args)
            .env("TESSERA_ROOT_USER", USER)
            .env("TESSERA_ROOT_PASSWORD", PASSWORD)
            .env("TESSERA_LOG", "info")
            .env("NO_COLOR", "1")
            // Nothing of the tester's own set-up: no ~/.tessera/certs, no server settings.
            .env("HOME", self.log.parent().expect("log directory"))
            .env_remove("TESSERA_VOLUMES")
            .env_remove("TESSERA_ADDRESS")
            .env_remove("TESSERA_OPTS")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("spawn tessera"));
        self.wait_for(Duration::from_secs(20), |node| {
            TcpStream::connect_timeout(&node.addr, Duration::from_millis(200)).is_ok()
        })
    }

    /// What the node logged so far.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Bytes the process has read with read(2) and its kin (`rchar` in /proc/PID/io): what
    /// it read from its drives, plus the requests it received.
    pub fn bytes_read(&self) -> std::io::Result<u64> {
        let pid = self.pid().ok_or(std::io::ErrorKind::NotFound)?;
        rchar(pid)
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP: the process hangs (a frozen host) until [`Node::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGHUP: a TLS node reloads its certificate.
    pub fn signal_hup(&self) {
        self.signal("-HUP");
    }

    /// SIGCONT after [`Node::pause`].
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg(sig)
                .arg(c.id().to_string())
                .status();
        }
    }

    /// True while the process runs (or is paused).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// True when the process was started and has exited since.
    pub fn has_exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    /// Sends SIGTERM without waiting.
    pub fn signal_term(&self) {
        self.signal("-TERM");
    }

    /// SIGTERM, then waits (up to 30 s) for a clean exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        self.signal_term();
        self.wait_exit(Duration::from_secs(30))
    }

    /// Waits up to `timeout` for the process to exit (then kills it).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = c.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    /// Starts the process again on the same drives and address (a single node), and
    /// waits until it serves.
    pub fn restart(&mut self) {
        self.kill9();
        if let Err(f) = self.spawn().and_then(|()| self.wait_serving()) {
            panic!("node failed to restart ({:?}):\n{}", f.status, f.log);
        }
    }

    /// A signed gRPC client (over TLS when the node speaks it).
    pub async fn client(&self) -> ObjectClient {
        connect_with(&self.endpoint, creds(), &self.client_tls())
            .await
            .expect("connect to node")
    }

    /// Runs `tessera ARGS` as a client of this node, with `stdin` as its input.
    pub fn cli(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("TESSERA_ENDPOINT", &self.endpoint)
            .env("TESSERA_ROOT_USER", USER)
            .env("TESSERA_ROOT_PASSWORD", PASSWORD)
            .env_remove("TESSERA_CA_CERT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        if let Some(tls) = &self.tls {
            cmd.env("TESSERA_CA_CERT", &tls.ca_file);
        }
        let mut child = cmd.spawn().expect("spawn tessera cli");
        if let Some(input) = stdin {
            use std::io::Write;
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input).expect("write stdin");
        }
        child.wait_with_output().expect("cli output")
    }

    /// Removes a drive's directory entirely (a dead or wiped disk).
    pub fn wipe_drive(&self, i: usize) {
        std::fs::remove_dir_all(&self.drives[i]).expect("wipe drive");
    }

    /// The shard files (`part.N`) of an object on drive `i`.
    pub fn shard_files(&self, i: usize, bucket: &str, key: &str) -> Vec<PathBuf> {
        let dir = self.drives[i].join(bucket).join(key);
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(".tessera.") && e.path().is_dir() {
                    for p in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                        out.push(p.path());
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// The metadata file of an object on drive `i`.
    pub fn meta_file(&self, i: usize, bucket: &str, key: &str) -> PathBuf {
        self.drives[i].join(bucket).join(key).join("tessera.meta")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Flips every byte in `[at, at+len)` of a file.
pub fn flip_bytes(path: &Path, at: u64, len: usize) {
    let mut data = std::fs::read(path).expect("read file to corrupt");
    let at = at as usize;
    for b in data.iter_mut().skip(at).take(len) {
        *b ^= 0xA5;
    }
    std::fs::write(path, data).expect("write corrupted file");
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Hex MD5.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}
