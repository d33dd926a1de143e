//! `tessera`: runs a node (`tessera server`) or talks to one over gRPC (`mb`, `ls`, `cp` …).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::from_env_and_args();
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(args.default_log_filter()));
    // s3s logs every refused request (no signature, a wrong one, a malformed request) at
    // ERROR, a malformed XML body whole: a client's mistake would flood the log. The node
    // logs S3 refusals at DEBUG (method, path, status) and server-side failures itself;
    // `TESSERA_LOG=…,s3s=debug` brings s3s's lines back.
    if !std::env::var("TESSERA_LOG").is_ok_and(|v| v.contains("s3s")) {
        filter = filter.add_directive("s3s=off".parse().expect("a valid directive"));
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tessera: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            ExitCode::FAILURE
        }
    }
}
