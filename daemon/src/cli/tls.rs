//! The CLI's TLS settings: a client command's roots (system plus `--ca-cert`, or
//! `--insecure`), and the certs directory a server uses.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The certs directory a server uses: the one given (which must exist), else
/// `~/.tessera/certs` when it exists, else none (plain HTTP).
pub(super) fn certs_dir_or_default(given: Option<PathBuf>) -> anyhow::Result<Option<PathBuf>> {
    if let Some(dir) = given {
        if !dir.is_dir() {
            anyhow::bail!("--certs-dir {}: no such directory", dir.display());
        }
        return Ok(Some(dir));
    }
    let default = std::env::var_os("HOME").map(|home| Path::new(&home).join(".tessera/certs"));
    Ok(default.filter(|dir| dir.is_dir()))
}

/// The TLS settings of a client command: the system roots plus `ca_cert`, or none checked
/// with `insecure` (with a warning when the endpoint is `https://`).
pub(super) fn client_tls(
    ca_cert: Option<&Path>,
    insecure: bool,
    endpoint: &str,
) -> anyhow::Result<tessera_proto::tls::ClientTls> {
    use tessera_proto::tls::ClientTls;
    if insecure {
        if tessera_proto::client::is_https(endpoint) {
            eprintln!(
                "tessera: warning: --insecure: the certificate of {endpoint} is not verified"
            );
        }
        return Ok(ClientTls::insecure());
    }
    let files: Vec<PathBuf> = ca_cert.map(Path::to_path_buf).into_iter().collect();
    ClientTls::verified(&files).context("--ca-cert")
}
