//! Bearer tokens for scrapes (Prometheus's `authorization` / `bearer_token` setting):
//! `tsm1.<access key, base64url>.<expiry, Unix seconds>.<HMAC-SHA256, base64url>`, the MAC
//! taken under the access key's secret over the version, the key and the expiry.
//!
//! Invariants: a node keeps no token: it checks one by resolving the key's secret (so a
//! token dies with its key: removed, disabled, expired, or a changed secret) and its
//! expiry; the comparison of MACs is constant-time; errors never repeat the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The token format's version tag.
const VERSION: &str = "tsm1";

/// How long a token is valid unless asked otherwise: one year.
pub const DEFAULT_VALIDITY_DAYS: u64 = 365;

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format.
    #[error("not a tessera metrics token (make one with `tessera admin prometheus token`)")]
    Malformed,
    /// Its expiry passed.
    #[error("the token has expired")]
    Expired,
    /// Its MAC does not hold under the key's secret.
    #[error("the token's signature does not match its access key")]
    BadSignature,
}

/// A parsed token, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The access key it names.
    pub access_key: String,
    /// Its expiry, Unix seconds.
    pub expires: i64,
    mac: Vec<u8>,
}

fn mac(secret: &str, access_key: &str, expires: i64) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("{VERSION}\n{access_key}\n{expires}").as_bytes());
    mac
}

/// A token for `access_key` (whose secret is `secret`) valid until `expires`.
pub fn issue(access_key: &str, secret: &str, expires: i64) -> String {
    let tag = mac(secret, access_key, expires).finalize().into_bytes();
    format!(
        "{VERSION}.{}.{expires}.{}",
        URL_SAFE_NO_PAD.encode(access_key),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Reads a token's parts.
pub fn parse(token: &str) -> Result<Claim, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(VERSION), Some(key), Some(expires), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenError::Malformed);
    };
    let key = URL_SAFE_NO_PAD
        .decode(key)
        .map_err(|_| TokenError::Malformed)?;
    Ok(Claim {
        access_key: String::from_utf8(key).map_err(|_| TokenError::Malformed)?,
        expires: expires.parse().map_err(|_| TokenError::Malformed)?,
        mac: URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?,
    })
}

impl Claim {
    /// Checks the claim against the key's `secret` at `now` (Unix seconds).
    pub fn verify(&self, secret: &str, now: i64) -> Result<(), TokenError> {
        if self.expires <= now {
            return Err(TokenError::Expired);
        }
        mac(secret, &self.access_key, self.expires)
            .verify_slice(&self.mac)
            .map_err(|_| TokenError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_under_its_secret_until_it_expires() {
        let token = issue("user.one@x", "s3cr3t-key", 2_000);
        assert!(!token.contains("user.one"), "the key is encoded: {token}");
        let claim = parse(&token).unwrap();
        assert_eq!(claim.access_key, "user.one@x");
        assert_eq!(claim.verify("s3cr3t-key", 1_999), Ok(()));
        assert_eq!(claim.verify("s3cr3t-key", 2_000), Err(TokenError::Expired));
        assert_eq!(
            claim.verify("other-secret", 1_000),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn altered_or_foreign_tokens_are_refused() {
        let token = issue("alice", "secret-one", 5_000);
        // A longer expiry under the same MAC.
        let forged = token.replace(".5000.", ".9000.");
        assert_eq!(
            parse(&forged).unwrap().verify("secret-one", 0),
            Err(TokenError::BadSignature)
        );
        for bad in [
            "",
            "tsm1",
            "tsm2.YQ.1.AA",
            "tsm1.YQ.x.AA",
            "tsm1.YQ.1.AA.extra",
            "a.b.c.d",
        ] {
            assert!(
                parse(bad).is_err() || parse(bad).unwrap().verify("s", 0).is_err(),
                "{bad}"
            );
        }
        assert_eq!(parse("tsm1.!!.1.AA"), Err(TokenError::Malformed));
    }
}
