//! `tessera-mount`: flags, the checks made before mounting (endpoint reachable,
//! credentials accepted, bucket present), going to the background once mounted, and a clean
//! unmount on SIGTERM/SIGINT after dirty files are uploaded.
//!
//! Background mode re-runs the program in the foreground as a child in its own process
//! group, logging to `<cache-dir>/tessera-mount.log` (rotated past 8 MiB, see
//! [`crate::log_file`]); the child writes one line to its
//! stdout, `ready` or `error: …`, and the parent exits 0 or 1 accordingly.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Parser;
use fuser::{MountOption, SessionACL};
use tessera_proto::auth::Credentials;
use tessera_proto::tls::ClientTls;

use crate::adapter::TesseraFs;
use crate::api::ObjectApi;
use crate::fs::attr::Defaults;
use crate::fs::state::{Inner, Settings};
use crate::log_file::{BoundedLog, LOG_MAX};
use crate::metrics::MountMetrics;
use crate::remote::Remote;

/// Set in the environment of the background child.
const NOTIFY_ENV: &str = "TESSERA_MOUNT_NOTIFY";

/// Mount a Tessera bucket (or every bucket) as a directory, over the gRPC object API.
#[derive(Parser, Debug, Clone)]
#[command(name = "tessera-mount", version)]
pub struct Args {
    /// The node to talk to.
    #[arg(
        long,
        env = "TESSERA_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoint: String,
    /// A PEM file of CA certificates to trust beside the system roots (`https://`
    /// endpoints).
    #[arg(long, env = "TESSERA_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate of an `https://` endpoint (self-signed test setups): the
    /// connection is encrypted but the node unverified.
    #[arg(long)]
    pub insecure: bool,
    /// The bucket to mount as the root; without it the root lists buckets.
    #[arg(long)]
    pub bucket: Option<String>,
    /// Refuse every change (EROFS).
    #[arg(long)]
    pub read_only: bool,
    /// How long lookups and attributes are cached, e.g. `1s`, `500ms`, `0`.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub cache_ttl: Duration,
    /// How long "no such file" answers are cached (0: never). A name another client
    /// creates stays invisible here for up to this long; names created through this mount
    /// are seen at once.
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub negative_ttl: Duration,
    /// Keep up to this much of the files read on the local disk (under --cache-dir), e.g.
    /// `1G`, `512M`; 0: no read cache. Blocks are checked against the object's version at
    /// each open, so a file changed elsewhere is read anew.
    #[arg(long, default_value = "0", value_parser = parse_size)]
    pub cache_size: u64,
    /// Stay in the foreground instead of going to the background once mounted.
    #[arg(long)]
    pub foreground: bool,
    /// Let other users use the mount (permissions still apply).
    #[arg(long)]
    pub allow_other: bool,
    /// Read the access key and secret from this file (`ACCESS:SECRET`, or two lines; only
    /// its owner may read it) instead of TESSERA_ROOT_USER / TESSERA_ROOT_PASSWORD.
    #[arg(long, env = "TESSERA_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Owner of files and directories without stored attributes [default: the mount's user].
    #[arg(long)]
    pub uid: Option<u32>,
    /// Group of files and directories without stored attributes [default: the mount's group].
    #[arg(long)]
    pub gid: Option<u32>,
    /// Taken from 0666 (files) and 0777 (directories) for those without stored attributes.
    #[arg(long, default_value = "022", value_parser = parse_mode)]
    pub umask: u16,
    /// Permission bits of files without stored attributes (octal) [default: 0666 & !umask].
    #[arg(long, value_parser = parse_mode)]
    pub file_mode: Option<u16>,
    /// Permission bits of directories without stored attributes (octal) [default: 0777 & !umask].
    #[arg(long, value_parser = parse_mode)]
    pub dir_mode: Option<u16>,
    /// Where staging files of files being edited go [default: $TMPDIR/tessera-mount].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Serve the mount's Prometheus metrics at `http://ADDRESS/metrics` (no credentials:
    /// keep it on loopback, e.g. 127.0.0.1:9101).
    #[arg(long, value_name = "ADDRESS")]
    pub metrics_address: Option<std::net::SocketAddr>,
    /// The directory to mount on.
    pub mountpoint: PathBuf,
}

/// `500ms`, `2s`, `1m`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s}: {e}"))
}

/// A size: a number of bytes, or with `K`, `M`, `G` or `T` (binary units).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("unknown unit in {s} (use K, M, G or T)")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("not a size: {s}"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s} is too large"))
}

/// Octal permission bits, `0644` or `644` (at most `07777`).
fn parse_mode(s: &str) -> Result<u16, String> {
    u16::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("not an octal mode: {s}"))
}

/// The program.
pub fn main() -> ExitCode {
    start(Args::parse(), std::env::args_os().skip(1).collect())
}

/// The program under the name mount(8) calls (`mount.fuse.tessera`): see `mount_helper`.
pub fn helper_main() -> ExitCode {
    if std::env::var_os(NOTIFY_ENV).is_some() {
        // The background child: its arguments are `tessera-mount`'s already.
        return main();
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let request = match crate::mount_helper::translate(&argv) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mount.fuse.tessera: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shown: Vec<_> = request.args.iter().map(|a| a.to_string_lossy()).collect();
    if request.verbose {
        eprintln!("mount.fuse.tessera: tessera-mount {}", shown.join(" "));
    }
    let program = std::iter::once(OsString::from("tessera-mount"));
    let args = match Args::try_parse_from(program.chain(request.args.iter().cloned())) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::FAILURE;
        }
    };
    if request.fake {
        return ExitCode::SUCCESS;
    }
    start(args, request.args)
}

/// Mounts as `args` say; `raw` are the arguments to give the background child.
fn start(args: Args, raw: Vec<OsString>) -> ExitCode {
    let notify = std::env::var_os(NOTIFY_ENV).is_some();
    if !args.foreground {
        return background(&args, raw);
    }
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "tessera_fuse=info,warn".into())
    };
    let log_path = cache_dir(&args).join("tessera-mount.log");
    // The background child logs to its bounded file; in the foreground, stderr.
    match notify.then(|| BoundedLog::open(&log_path, LOG_MAX)) {
        Some(Ok(log)) => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_ansi(false)
            .with_writer(log)
            .init(),
        _ => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init(),
    }
    match run(&args, notify) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-mount: {e}");
            if notify {
                println!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn cache_dir(args: &Args) -> PathBuf {
    args.cache_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("tessera-mount"))
}

/// Starts the mount as a child and reports whether it came up.
fn background(args: &Args, raw: Vec<OsString>) -> ExitCode {
    let dir = cache_dir(args);
    let log = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("tessera-mount.log"))
    });
    let log = match log {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "tessera-mount: cannot use the cache dir {}: {e}",
                dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let child = std::env::current_exe().and_then(|exe| {
        use std::os::unix::process::CommandExt;
        Command::new(exe)
            .arg0("tessera-mount")
            .args(raw)
            .arg("--foreground")
            .env(NOTIFY_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .spawn()
    });
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tessera-mount: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    if line.trim() == "ready" {
        return ExitCode::SUCCESS;
    }
    let _ = child.wait();
    let why = line
        .trim()
        .strip_prefix("error: ")
        .unwrap_or("the mount process ended");
    eprintln!("tessera-mount: {why}");
    ExitCode::FAILURE
}

/// The TLS settings of `args`: the system roots plus `--ca-cert`, or `--insecure` (with a
/// warning for an `https://` endpoint).
fn client_tls(args: &Args) -> Result<ClientTls, String> {
    if args.insecure {
        if tessera_proto::client::is_https(&args.endpoint) {
            tracing::warn!(
                endpoint = %args.endpoint,
                "--insecure: the node's certificate is not verified"
            );
        }
        return Ok(ClientTls::insecure());
    }
    let files: Vec<PathBuf> = args.ca_cert.iter().cloned().collect();
    ClientTls::verified(&files).map_err(|e| format!("--ca-cert: {e}"))
}

/// Checks the endpoint, mounts, and serves until unmounted.
fn run(args: &Args, notify: bool) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(runtime_workers())
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let creds = match &args.credentials_file {
        Some(file) => Credentials::from_file(file)?,
        None => {
            let (creds, defaults) = Credentials::from_env();
            if defaults {
                tracing::warn!(
                    "using the built-in credentials; set TESSERA_ROOT_USER and \
                     TESSERA_ROOT_PASSWORD, or give --credentials-file"
                );
            }
            creds
        }
    };
    let tls = client_tls(args)?;
    let remote = rt
        .block_on(Remote::connect(&args.endpoint, creds, &tls))
        .map_err(|e| format!("{}: {e}", args.endpoint))?;
    let bucket_created = match &args.bucket {
        Some(bucket) => rt
            .block_on(remote.head_bucket(bucket))
            .map_err(|e| format!("bucket {bucket}: {e}"))?
            .created
            .as_ref()
            .map(crate::fs::attr::time_of),
        None => None,
    };
    let dir = cache_dir(args);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cache dir {}: {e}", dir.display()))?;
    let metrics = Arc::new(MountMetrics::new(dir.clone()));
    let remote = remote.reporting_to(metrics.uploads());
    if let Some(address) = args.metrics_address {
        let listener = (rt.block_on(crate::metrics::bind(address)))
            .map_err(|e| format!("--metrics-address {address}: {e}"))?;
        rt.spawn(crate::metrics::serve(listener, metrics.clone()));
    }
    let me = std::fs::metadata("/proc/self").map_err(|e| format!("/proc/self: {e}"))?;
    let settings = Settings {
        bucket: args.bucket.clone(),
        bucket_created,
        ttl: args.cache_ttl,
        negative_ttl: args.negative_ttl,
        cache_size: args.cache_size,
        read_only: args.read_only,
        cache_dir: dir,
        defaults: Defaults {
            uid: (args.uid).unwrap_or_else(|| std::os::unix::fs::MetadataExt::uid(&me)),
            gid: (args.gid).unwrap_or_else(|| std::os::unix::fs::MetadataExt::gid(&me)),
            file_perm: args.file_mode.unwrap_or(0o666 & !args.umask),
            dir_perm: args.dir_mode.unwrap_or(0o777 & !args.umask),
            time: SystemTime::now(),
        },
    };
    let inner = Arc::new(Inner::new(Arc::new(remote), settings));
    let fs = TesseraFs::new(inner.clone(), rt.handle().clone(), metrics);
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::FSName(format!("tessera:{}", args.bucket.as_deref().unwrap_or("*"))),
        MountOption::Subtype("tessera".into()),
        MountOption::DefaultPermissions,
        MountOption::NoAtime,
        if args.read_only {
            MountOption::RO
        } else {
            MountOption::RW
        },
    ];
    if args.allow_other {
        config.acl = SessionACL::All;
    }
    let mut session = fuser::Session::new(fs, &args.mountpoint, &config)
        .map_err(|e| format!("cannot mount on {}: {e}", args.mountpoint.display()))?;
    raise_readahead(&args.mountpoint);
    (inner.pages).connect(Box::new(crate::adapter::KernelPages(session.notifier())));
    let mut unmounter = session.unmount_callable();
    let mountpoint = args.mountpoint.clone();
    rt.spawn(async move {
        stop_signal().await;
        tracing::info!("unmounting: uploading open files first");
        inner.flush_all().await;
        // Files still open keep working until closed: detach lazily when busy.
        if let Err(e) = unmounter.unmount() {
            tracing::info!("unmount: {e}; detaching lazily");
            lazy_unmount(&mountpoint);
        }
    });
    tracing::info!(
        "mounted {} on {}",
        args.bucket.as_deref().unwrap_or("all buckets"),
        args.mountpoint.display()
    );
    if notify {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "ready").and_then(|()| out.flush());
    }
    session.run().map_err(|e| format!("session: {e}"))
}

/// The runtime's worker threads: half the cores, at least one. A kernel request's own
/// work here is small (the data is copied on the request's thread, uploads and pushes have
/// threads of their own); what costs is waking threads, and every extra worker adds
/// wake-ups between them (on 2 cores, with one worker a new name's lookup took 13 % less
/// time and a `git clone` 6 % less, with a quarter less of the mount's CPU).
fn runtime_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Kernel read-ahead of the mount, in KiB: up to 8 MiB in flight (in 1 MiB requests)
/// instead of 128 KiB, so the handle's GET stream waits less for the next request.
const READ_AHEAD_KB: u32 = 8192;

/// The kernel keeps a FUSE mount's read-ahead at the 128 KiB default whatever the client
/// asks; as root, raise it through the mount's backing device in sysfs (best effort).
fn raise_readahead(mountpoint: &std::path::Path) {
    let Ok(path) = mountpoint.canonicalize() else {
        return;
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let path = path.to_string_lossy().replace(' ', "\\040");
    // Fields: id parent major:minor root mountpoint ...; the last mount wins.
    let device = info
        .lines()
        .rev()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.len() > 4 && f[4] == path)
        .map(|f| f[2].to_string());
    if let Some(device) = device {
        let knob = format!("/sys/class/bdi/{device}/read_ahead_kb");
        if let Err(e) = std::fs::write(&knob, READ_AHEAD_KB.to_string()) {
            tracing::debug!("{knob}: {e} (read-ahead stays at the kernel's default)");
        }
    }
}

/// `umount -l` (root), else `fusermount3 -uz`.
fn lazy_unmount(path: &std::path::Path) {
    if nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH).is_ok() {
        return;
    }
    let status = Command::new("fusermount3").arg("-uz").arg(path).status();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        tracing::error!("cannot unmount {}: {status:?}", path.display());
    }
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("G").is_err());
    }

    #[test]
    fn modes_parse_as_octal() {
        assert_eq!(parse_mode("0644"), Ok(0o644));
        assert_eq!(parse_mode("755"), Ok(0o755));
        assert_eq!(parse_mode("0o022"), Ok(0o022));
        assert!(parse_mode("0888").is_err());
        assert!(parse_mode("17777").is_err());
    }
}
