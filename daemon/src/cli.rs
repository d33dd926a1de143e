//! The `tessera` command line (part of the binary, not the library): `server` starts a node;
//! every other command is a gRPC client of a node at `--endpoint`.
//!
//! Arguments name remote objects as `BUCKET/KEY`; local files are `-` (stdin/stdout) or
//! paths that start with `/`, `./`, `../` or `~/`, or that exist (see `target`).

mod admin;
mod client;
mod iam;
mod metrics;
mod target;
mod tls;
mod top;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tessera_proto::auth::{Credentials, DEFAULT_PASSWORD, DEFAULT_USER};
use tls::{certs_dir_or_default, client_tls};

#[derive(Parser, Debug)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: a distributed, erasure-coded object store"
)]
pub struct Cli {
    /// The node to talk to (client commands).
    #[arg(
        long,
        global = true,
        env = "TESSERA_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    endpoint: String,
    /// Client commands: read the access key and secret from this file (`ACCESS:SECRET`, or
    /// two lines; only its owner may read it) instead of TESSERA_ROOT_USER/PASSWORD.
    #[arg(long, global = true, env = "TESSERA_CREDENTIALS_FILE")]
    credentials_file: Option<std::path::PathBuf>,
    /// A PEM file of CA certificates to trust beside the system roots (`https://`
    /// endpoints).
    #[arg(long, global = true, env = "TESSERA_CA_CERT")]
    ca_cert: Option<PathBuf>,
    /// Accept any certificate of an `https://` endpoint (self-signed test setups): the
    /// connection is encrypted but the node unverified.
    #[arg(long, global = true)]
    insecure: bool,
    #[command(subcommand)]
    command: Command,
}

/// A feature switch on the command line (`on` / `off`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start a node on DRIVES (default: ./tessera-data/drive{1...4}).
    Server {
        /// Drive directories; `{a...b}` ranges expand.
        #[arg(env = "TESSERA_VOLUMES", value_delimiter = ' ')]
        drives: Vec<String>,
        /// Address to listen on.
        #[arg(long, env = "TESSERA_ADDRESS", default_value = "127.0.0.1:9000")]
        address: SocketAddr,
        /// Parity drives per set (default by set size: 4→2, 6→3, 8..16→4).
        #[arg(long)]
        parity: Option<usize>,
        /// Base domain for virtual-host-style S3 requests (`BUCKET.DOMAIN`).
        #[arg(long)]
        domain: Option<String>,
        /// The S3 region the node reports (GetBucketLocation, ListBuckets).
        #[arg(long, env = "TESSERA_REGION", default_value = tessera_daemon::s3::DEFAULT_REGION)]
        region: String,
        /// Seconds from the start of one background scan of every bucket (healing what
        /// drives missed) to the next; 0 turns the scanner off.
        #[arg(long, default_value_t = 300)]
        scan_interval: u64,
        /// The most client and peer connections open at once (default: half the open-file
        /// limit, which the node raises to its hard limit at start).
        #[arg(long)]
        max_connections: Option<usize>,
        /// Serve TLS with `DIR/public.crt` and `DIR/private.key` (PEM), trusting the CAs in
        /// `DIR/CAs/` beside the system roots for peers (default: ~/.tessera/certs when it
        /// exists). SIGHUP reloads the certificate.
        #[arg(long, value_name = "DIR")]
        certs_dir: Option<PathBuf>,
        /// Let anyone scrape the Prometheus metrics (`/metrics`) without a token.
        #[arg(long)]
        metrics_public: bool,
        /// Serve the web console at /console/ on the node's port (a bucket named
        /// `console` is then reachable over S3 only with virtual-host addressing).
        #[arg(long, value_enum, default_value_t = Switch::On)]
        console: Switch,
        /// Serve the web console on this address (its own port, S3 beside it for its own
        /// calls) instead of the node's port, e.g. 127.0.0.1:9001.
        #[arg(long, value_name = "ADDRESS")]
        console_address: Option<std::net::SocketAddr>,
        /// Testing only: milliseconds a PUT waits holding its commit lock.
        #[arg(long, hide = true)]
        test_commit_pause_ms: Option<u64>,
        /// Testing only: milliseconds between rereads of the identity record.
        #[arg(long, hide = true)]
        test_identity_reload_ms: Option<u64>,
        /// Testing only: seconds in a lifecycle day (rules are applied 24 times a day).
        #[arg(long, hide = true, default_value_t = 86_400)]
        test_lifecycle_day_secs: u64,
    },
    /// Make a bucket.
    Mb { bucket: String },
    /// Remove an empty bucket.
    Rb { bucket: String },
    /// List buckets, or objects under BUCKET[/PREFIX].
    Ls {
        target: Option<String>,
        /// List every key under the prefix, not one level.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Copy: local → remote, remote → local, or remote → remote (`-` is stdin/stdout).
    Cp { src: String, dst: String },
    /// Move: like cp, then remove the source (a server-side rename within a bucket).
    Mv { src: String, dst: String },
    /// Write an object to stdout.
    Cat { object: String },
    /// Show an object's metadata.
    Stat { object: String },
    /// Remove an object, or with -r every object under a prefix.
    Rm {
        target: String,
        #[arg(short, long)]
        recursive: bool,
    },
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Anonymous access to a bucket (a bucket policy for `Principal: "*"`).
    Anonymous {
        #[command(subcommand)]
        command: AnonymousCommand,
    },
}

/// Users.
#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user with a first key; prints `Access Key: …` and `Secret Key: …`.
    Add {
        name: String,
        /// A policy to attach (repeat for several).
        #[arg(long)]
        policy: Vec<String>,
        /// The access key id (made when not given).
        #[arg(long)]
        access_key: Option<String>,
        /// Read the secret from the first line of stdin (made when not given).
        #[arg(long)]
        secret_stdin: bool,
    },
    /// List the users.
    List,
    /// A user's state, policies and keys.
    Info { name: String },
    /// Let a user's keys in again.
    Enable { name: String },
    /// Refuse a user's keys.
    Disable { name: String },
    /// Remove a user and its keys.
    Remove { name: String },
}

/// Access keys.
#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Add a key to a user; prints `Access Key: …` and `Secret Key: …`.
    Add {
        user: String,
        /// A policy document (JSON file) that narrows the user's rights for this key.
        #[arg(long)]
        policy: Option<String>,
        /// The key stops working after this long (90s, 45m, 12h, 30d).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List a user's keys.
    List { user: String },
    /// Remove a key.
    Remove { access_key: String },
}

/// Prometheus scrapes.
#[derive(Subcommand, Debug)]
enum PrometheusCommand {
    /// Print a bearer token for the current key and a scrape config that uses it.
    Token {
        /// Days the token stays valid.
        #[arg(long, default_value_t = tessera_daemon::metrics::token::DEFAULT_VALIDITY_DAYS)]
        days: u64,
    },
}

/// Named policies.
#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Add or replace a policy from a JSON file.
    Add { name: String, file: String },
    /// List the policies (built-in and custom).
    List,
    /// Print a policy's document.
    Info { name: String },
    /// Remove a custom policy (not while attached).
    Remove { name: String },
    /// Attach a policy to a user.
    Attach {
        name: String,
        #[arg(long)]
        user: String,
    },
}

/// Anonymous access.
#[derive(Subcommand, Debug)]
enum AnonymousCommand {
    /// Set what anonymous callers may do under BUCKET[/PREFIX]: download, upload, public
    /// or none (replaces the bucket's policy).
    Set { mode: String, target: String },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Access keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Named policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Sets, drives, their state and capacity.
    Info,
    /// A compact view of the node's metrics, refreshed every few seconds.
    Top {
        /// Print one frame (totals) and exit.
        #[arg(long)]
        once: bool,
        /// Seconds between frames.
        #[arg(long, default_value_t = 2)]
        interval: u64,
    },
    /// Prometheus: scrape tokens.
    Prometheus {
        #[command(subcommand)]
        command: PrometheusCommand,
    },
    /// Heal BUCKET[/PREFIX], or every bucket: rebuild missing, stale or corrupt shards and
    /// metadata on every drive (a returned node, a replaced drive), remove leftovers of
    /// deleted objects.
    Heal {
        target: Option<String>,
        /// Verify every shard block's checksum (reads everything).
        #[arg(long)]
        deep: bool,
    },
}

impl Cli {
    /// The command line, with `TESSERA_OPTS` (more `tessera server` flags, split on
    /// whitespace) added to a `server` command, so a service unit needs no shell.
    pub fn from_env_and_args() -> Self {
        let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if args.get(1).is_some_and(|a| a == "server")
            && let Ok(opts) = std::env::var("TESSERA_OPTS")
        {
            args.extend(opts.split_whitespace().map(Into::into));
        }
        Self::parse_from(args)
    }

    /// Log level when TESSERA_LOG is not set: informative for the server, quiet otherwise.
    pub fn default_log_filter(&self) -> &'static str {
        match self.command {
            Command::Server { .. } => "info",
            _ => "warn",
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Runs a command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let is_server = matches!(cli.command, Command::Server { .. });
    let (creds, defaults) = match &cli.credentials_file {
        Some(file) if !is_server => (
            Credentials::from_file(file).map_err(anyhow::Error::msg)?,
            false,
        ),
        _ => Credentials::from_env(),
    };
    match cli.command {
        Command::Server {
            drives,
            address,
            parity,
            domain,
            region,
            scan_interval,
            max_connections,
            certs_dir,
            metrics_public,
            console,
            console_address,
            test_commit_pause_ms,
            test_identity_reload_ms,
            test_lifecycle_day_secs,
        } => {
            if defaults {
                tracing::warn!(
                    "\n\n    WARNING: using the built-in credentials {DEFAULT_USER}/{DEFAULT_PASSWORD}.\n    \
                     Anyone who can reach {address} can read and change everything.\n    \
                     Set TESSERA_ROOT_USER and TESSERA_ROOT_PASSWORD.\n"
                );
            }
            if creds.access_key.len() < 3 || creds.secret_key.len() < 8 {
                anyhow::bail!(
                    "TESSERA_ROOT_USER needs at least 3 characters and TESSERA_ROOT_PASSWORD at least 8"
                );
            }
            let drives = if drives.is_empty() {
                vec!["./tessera-data/drive{1...4}".to_string()]
            } else {
                drives
            };
            let config = tessera_daemon::server::ServerConfig {
                address,
                drives,
                parity,
                credentials: creds,
                domain,
                region,
                commit_pause: test_commit_pause_ms.map(std::time::Duration::from_millis),
                scan_interval: (scan_interval > 0)
                    .then(|| std::time::Duration::from_secs(scan_interval)),
                max_connections,
                certs_dir: certs_dir_or_default(certs_dir)?,
                identity_reload: test_identity_reload_ms.map(std::time::Duration::from_millis),
                metrics_public,
                console: console == Switch::On,
                console_address,
                lifecycle_day: std::time::Duration::from_secs(test_lifecycle_day_secs.max(1)),
            };
            tessera_daemon::server::run(config, shutdown_signal())
                .await
                .context("server")
        }
        Command::Admin {
            command: AdminCommand::User { command },
        } => {
            let tls = client_tls(cli.ca_cert.as_deref(), cli.insecure, &cli.endpoint)?;
            let mut a = iam::Admin::connect(&cli.endpoint, creds, &tls).await?;
            match command {
                UserCommand::Add {
                    name,
                    policy,
                    access_key,
                    secret_stdin,
                } => a.user_add(&name, policy, access_key, secret_stdin).await,
                UserCommand::List => a.user_list().await,
                UserCommand::Info { name } => a.user_info(&name).await,
                UserCommand::Enable { name } => a.user_enable(&name, true).await,
                UserCommand::Disable { name } => a.user_enable(&name, false).await,
                UserCommand::Remove { name } => a.user_remove(&name).await,
            }
        }
        Command::Admin {
            command: AdminCommand::Key { command },
        } => {
            let tls = client_tls(cli.ca_cert.as_deref(), cli.insecure, &cli.endpoint)?;
            let mut a = iam::Admin::connect(&cli.endpoint, creds, &tls).await?;
            match command {
                KeyCommand::Add {
                    user,
                    policy,
                    expires,
                } => {
                    a.key_add(&user, policy.as_deref(), expires.as_deref())
                        .await
                }
                KeyCommand::List { user } => a.key_list(&user).await,
                KeyCommand::Remove { access_key } => a.key_remove(&access_key).await,
            }
        }
        Command::Admin {
            command: AdminCommand::Policy { command },
        } => {
            let tls = client_tls(cli.ca_cert.as_deref(), cli.insecure, &cli.endpoint)?;
            let mut a = iam::Admin::connect(&cli.endpoint, creds, &tls).await?;
            match command {
                PolicyCommand::Add { name, file } => a.policy_add(&name, &file).await,
                PolicyCommand::List => a.policy_list().await,
                PolicyCommand::Info { name } => a.policy_info(&name).await,
                PolicyCommand::Remove { name } => a.policy_remove(&name).await,
                PolicyCommand::Attach { name, user } => a.policy_attach(&name, &user).await,
            }
        }
        Command::Admin {
            command:
                AdminCommand::Prometheus {
                    command: PrometheusCommand::Token { days },
                },
        } => metrics::print_token(&creds, &cli.endpoint, days),
        Command::Admin {
            command: AdminCommand::Top { once, interval },
        } => {
            let tls = client_tls(cli.ca_cert.as_deref(), cli.insecure, &cli.endpoint)?;
            let source = top::Source {
                endpoint: cli.endpoint.clone(),
                creds,
                tls,
            };
            top::run(
                &source,
                once,
                std::time::Duration::from_secs(interval.max(1)),
            )
            .await
        }
        Command::Anonymous {
            command: AnonymousCommand::Set { mode, target },
        } => {
            let tls = client_tls(cli.ca_cert.as_deref(), cli.insecure, &cli.endpoint)?;
            let mut a = iam::Admin::connect(&cli.endpoint, creds, &tls).await?;
            a.anonymous_set(&mode, &target).await
        }
        command => {
            let tls = client_tls(cli.ca_cert.as_deref(), cli.insecure, &cli.endpoint)?;
            let mut c = client::Client::connect(&cli.endpoint, creds, &tls).await?;
            match command {
                Command::Mb { bucket } => c.make_bucket(&bucket).await,
                Command::Rb { bucket } => c.remove_bucket(&bucket).await,
                Command::Ls { target, recursive } => c.list(target.as_deref(), recursive).await,
                Command::Cp { src, dst } => c.copy(&src, &dst, false).await,
                Command::Mv { src, dst } => c.copy(&src, &dst, true).await,
                Command::Cat { object } => c.cat(&object).await,
                Command::Stat { object } => c.stat(&object).await,
                Command::Rm { target, recursive } => c.remove(&target, recursive).await,
                Command::Admin {
                    command: AdminCommand::Info,
                } => c.admin_info().await,
                Command::Admin {
                    command: AdminCommand::Heal { target, deep },
                } => c.admin_heal(target.as_deref(), deep).await,
                Command::Server { .. }
                | Command::Anonymous { .. }
                | Command::Admin {
                    command:
                        AdminCommand::User { .. }
                        | AdminCommand::Key { .. }
                        | AdminCommand::Policy { .. }
                        | AdminCommand::Prometheus { .. }
                        | AdminCommand::Top { .. },
                } => unreachable!("handled above"),
            }
        }
    }
}
