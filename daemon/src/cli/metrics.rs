//! `tessera admin prometheus token`: a scrape token for the current key (see
//! `tessera_daemon::metrics::token`) and a Prometheus `scrape_configs` entry to paste.

use std::time::{SystemTime, UNIX_EPOCH};

use tessera_daemon::metrics::token;
use tessera_proto::auth::Credentials;

/// Prints a token of `creds` valid for `days`, inside a scrape config for `endpoint`.
pub fn print_token(creds: &Credentials, endpoint: &str, days: u64) -> anyhow::Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let expires = now.saturating_add(days.saturating_mul(86_400));
    let expires = i64::try_from(expires)?;
    let token = token::issue(&creds.access_key, &creds.secret_key, expires);
    let (scheme, target) = match endpoint.split_once("://") {
        Some((scheme, rest)) => (scheme, rest.trim_end_matches('/')),
        None => ("http", endpoint.trim_end_matches('/')),
    };
    println!(
        "# A scrape token for access key {key}, valid {days} day(s); it stops working when the\n\
         # key is removed or disabled. Paste under scrape_configs: in prometheus.yml.\n\
         - job_name: tessera\n  \
           metrics_path: /metrics\n  \
           scheme: {scheme}\n  \
           bearer_token: {token}\n  \
           static_configs:\n    \
             - targets: ['{target}']",
        key = creds.access_key,
    );
    Ok(())
}
