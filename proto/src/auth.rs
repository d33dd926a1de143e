//! Request signatures for the gRPC API, shared by the server (verify) and every client
//! (sign): three metadata entries per call.
//!
//! `x-tessera-signature` = hex(HMAC-SHA256(secret, "tessera-v3\n" + access key + "\n" +
//! date + "\n" + method path + "\n" + hex(SHA-256(first message)))), with the date (Unix
//! seconds) in `x-tessera-date`, the method path as HTTP/2 carries it
//! (`/tessera.object.v1.ObjectService/GetObject`), and the first message of the request
//! body as it travels (see [`crate::first_message`]): the request of a unary call, the
//! header of a streamed upload. The secret never travels; a signature is valid for
//! [`MAX_SKEW_SECS`] around its date, for its method and for its arguments only: one seen
//! on the wire can repeat that very call within those minutes, but names no other object
//! and calls no other method. The rest of the body (the data messages of a streamed
//! upload) is chained to this signature ([`crate::chain`]): it cannot be exchanged either.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Metadata key of the access key.
pub const ACCESS_KEY: &str = "x-tessera-access-key";
/// Metadata key of the signing date.
pub const DATE: &str = "x-tessera-date";
/// Metadata key of the signature.
pub const SIGNATURE: &str = "x-tessera-signature";
/// How far a signature's date may be from the server's clock.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Built-in access key, for a first start on a laptop; servers warn loudly when used.
pub const DEFAULT_USER: &str = "tesseraadmin";
/// Built-in secret (see [`DEFAULT_USER`]).
pub const DEFAULT_PASSWORD: &str = "tesseraadmin";

/// Access key and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key (user name).
    pub access_key: String,
    /// The secret key (password).
    pub secret_key: String,
}

impl Credentials {
    /// Credentials from `TESSERA_ROOT_USER` / `TESSERA_ROOT_PASSWORD`, and whether they are
    /// the built-in defaults (neither variable set).
    pub fn from_env() -> (Self, bool) {
        let var = |name| std::env::var(name).ok().filter(|s: &String| !s.is_empty());
        let (user, password) = (var("TESSERA_ROOT_USER"), var("TESSERA_ROOT_PASSWORD"));
        let defaults = user.is_none() && password.is_none();
        let creds = Self {
            access_key: user.unwrap_or_else(|| DEFAULT_USER.into()),
            secret_key: password.unwrap_or_else(|| DEFAULT_PASSWORD.into()),
        };
        (creds, defaults)
    }
}

impl Credentials {
    /// Credentials from a file holding `ACCESS:SECRET` on one line, or the access key and
    /// the secret on two lines (s3fs's passwd file and MinIO's convention). Refused when
    /// users other than its owner may read it. The error names the file, never the secret.
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        use std::os::unix::fs::PermissionsExt;
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{shown}: other users may read it (mode {:o}); run `chmod 600 {shown}`",
                mode & 0o777
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        let lines: Vec<&str> = (text.lines().map(str::trim))
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let (access, secret) = match lines.as_slice() {
            [one] => one.split_once(':').unwrap_or((one, "")),
            [access, secret] => (*access, *secret),
            _ => ("", ""),
        };
        if access.is_empty() || secret.is_empty() {
            return Err(format!(
                "{shown}: expected ACCESS:SECRET on one line, or the access key and the secret on two lines"
            ));
        }
        Ok(Self {
            access_key: access.to_string(),
            secret_key: secret.to_string(),
        })
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"…")
            .finish()
    }
}

/// The access key internode calls are signed with.
pub const CLUSTER_ACCESS_KEY: &str = "tessera-internode";

/// The credentials nodes sign internode calls with: the secret is derived from the root
/// credentials (HMAC-SHA256 of the access key under the root secret), so every node started
/// with the same root credentials shares it, and no client credential is accepted for
/// internode services, nor the other way round.
pub fn cluster_credentials(root: &Credentials) -> Credentials {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(root.secret_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(b"tessera-cluster-key-v1\n");
    mac.update(root.access_key.as_bytes());
    Credentials {
        access_key: CLUSTER_ACCESS_KEY.into(),
        secret_key: hex::encode(mac.finalize().into_bytes()),
    }
}

/// What a signature covers, besides the secret it is made with.
struct Signed<'a> {
    access_key: &'a str,
    date: &'a str,
    path: &'a str,
    /// Hex SHA-256 of the first message.
    message: &'a str,
}

fn mac(secret: &str, what: &Signed<'_>) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(b"tessera-v3");
    for part in [what.access_key, what.date, what.path, what.message] {
        mac.update(b"\n");
        mac.update(part.as_bytes());
    }
    mac
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The three metadata values (access key, date, signature) for a call made now of the
/// method at `path` whose first message hashes to `message` (hex SHA-256).
pub fn sign(creds: &Credentials, path: &str, message: &str) -> (String, String, String) {
    let date = now_secs().to_string();
    let what = Signed {
        access_key: &creds.access_key,
        date: &date,
        path,
        message,
    };
    let sig = hex::encode(mac(&creds.secret_key, &what).finalize().into_bytes());
    (creds.access_key.clone(), date, sig)
}

/// Why a call's signature was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// A metadata entry is missing.
    Missing(&'static str),
    /// Unknown access key.
    UnknownAccessKey,
    /// The date is malformed or too far from now.
    Expired,
    /// The signature does not match.
    BadSignature,
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthFailure::Missing(what) => write!(f, "missing {what}"),
            AuthFailure::UnknownAccessKey => write!(f, "unknown access key"),
            AuthFailure::Expired => write!(f, "request date is too far from the server's clock"),
            AuthFailure::BadSignature => write!(f, "signature does not match"),
        }
    }
}

/// Checks the access key and the date of a call against `creds`: what can be refused
/// before its body is read.
pub fn precheck(creds: &Credentials, access_key: &str, date: &str) -> Result<(), AuthFailure> {
    if access_key != creds.access_key {
        return Err(AuthFailure::UnknownAccessKey);
    }
    let when: i64 = date.parse().map_err(|_| AuthFailure::Expired)?;
    if now_secs().abs_diff(when) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(AuthFailure::Expired);
    }
    Ok(())
}

/// Checks a call's (access key, date, signature) for the method at `path` with a first
/// message hashing to `message` against `creds`.
pub fn verify(
    creds: &Credentials,
    access_key: &str,
    date: &str,
    path: &str,
    message: &str,
    signature: &str,
) -> Result<(), AuthFailure> {
    precheck(creds, access_key, date)?;
    let sig = hex::decode(signature).map_err(|_| AuthFailure::BadSignature)?;
    let what = Signed {
        access_key,
        date,
        path,
        message,
    };
    mac(&creds.secret_key, &what)
        .verify_slice(&sig)
        .map_err(|_| AuthFailure::BadSignature)
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_files_are_read_in_both_forms_and_refused_when_others_may_read_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("creds");
        let write = |text: &str, mode: u32| {
            std::fs::write(&file, text).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("app:s3cr:et\n", 0o600);
        let c = Credentials::from_file(&file).unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.secret_key.as_str()),
            ("app", "s3cr:et")
        );
        write("# app key\napp\n  secret  \n", 0o400);
        let c = Credentials::from_file(&file).unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.secret_key.as_str()),
            ("app", "secret")
        );
        let refused = [
            ("app:hunter2", 0o644),
            ("app:hunter2", 0o640),
            ("hunter2", 0o600),
            ("a\nb\nhunter2", 0o600),
            ("", 0o600),
        ];
        for (text, mode) in refused {
            write(text, mode);
            let e = Credentials::from_file(&file).unwrap_err();
            assert!(e.contains("creds") && !e.contains("hunter2"), "{e}");
        }
    }

    use super::*;

    #[test]
    fn signatures_verify_only_with_the_right_secret() {
        let creds = Credentials {
            access_key: "a".into(),
            secret_key: "s".into(),
        };
        let path = "/tessera.object.v1.ObjectService/GetObject";
        let (a, d, s) = sign(&creds, path, "m1");
        assert_eq!(verify(&creds, &a, &d, path, "m1", &s), Ok(()));
        let other = Credentials {
            secret_key: "t".into(),
            ..creds.clone()
        };
        assert_eq!(
            verify(&other, &a, &d, path, "m1", &s),
            Err(AuthFailure::BadSignature)
        );
        assert_eq!(
            verify(&creds, "b", &d, path, "m1", &s),
            Err(AuthFailure::UnknownAccessKey)
        );
        assert_eq!(
            verify(&creds, &a, "0", path, "m1", &s),
            Err(AuthFailure::Expired)
        );
        // A signature calls its own method, with its own arguments, only.
        let delete = "/tessera.object.v1.ObjectService/DeleteObject";
        assert_eq!(
            verify(&creds, &a, &d, delete, "m1", &s),
            Err(AuthFailure::BadSignature)
        );
        assert_eq!(
            verify(&creds, &a, &d, path, "m2", &s),
            Err(AuthFailure::BadSignature)
        );
    }

    #[test]
    fn cluster_credentials_are_derived_and_distinct() {
        let root = Credentials {
            access_key: "a".into(),
            secret_key: "s".into(),
        };
        let cluster = cluster_credentials(&root);
        assert_eq!(cluster, cluster_credentials(&root.clone()));
        assert_ne!(cluster.secret_key, root.secret_key);
        let other = cluster_credentials(&Credentials {
            secret_key: "t".into(),
            ..root.clone()
        });
        assert_ne!(cluster.secret_key, other.secret_key);
        // Root credentials do not sign internode calls.
        let (a, d, s) = sign(&root, "/p", "m");
        assert!(verify(&cluster, &a, &d, "/p", "m", &s).is_err());
    }
}
