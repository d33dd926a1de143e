//! Sealing of access keys' secrets: ChaCha20-Poly1305 under a key derived from the root
//! credentials (HMAC-SHA256 of the root secret over a fixed label and the root access key),
//! a random 96-bit nonce per secret, the access key as associated data (a sealed secret
//! moved to another key does not open).
//!
//! Invariant: a secret is stored only sealed; the stored form is `base64(nonce ‖ sealed)`.
//! Changing the root credentials makes every stored secret unreadable (the keys then fail
//! to resolve and must be issued again).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tessera_proto::auth::Credentials;

use super::IamError;

const LABEL: &[u8] = b"tessera iam secret seal v1\0";
const NONCE_LEN: usize = 12;

/// The cipher sealing secrets, keyed from the root credentials.
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    /// The sealer of the cluster with root credentials `root`.
    pub fn new(root: &Credentials) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(root.secret_key.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(LABEL);
        mac.update(root.access_key.as_bytes());
        let key = mac.finalize().into_bytes();
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// `secret` sealed for `access_key`.
    pub fn seal(&self, access_key: &str, secret: &str) -> Result<String, IamError> {
        let random = *uuid::Uuid::new_v4().as_bytes();
        let nonce = &random[..NONCE_LEN];
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: access_key.as_bytes(),
                },
            )
            .map_err(|_| IamError::Seal {
                access_key: access_key.to_owned(),
            })?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    /// The secret of `access_key` from its sealed form.
    pub fn open(&self, access_key: &str, sealed: &str) -> Result<String, IamError> {
        let fail = || IamError::Seal {
            access_key: access_key.to_owned(),
        };
        let bytes = STANDARD.decode(sealed).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: access_key.as_bytes(),
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(plain).map_err(|_| fail())
    }
}

/// A new random secret: 40 characters of `[A-Za-z0-9]` (about 238 bits).
pub fn new_secret() -> String {
    alphanumeric(40)
}

/// A new random access key id: 20 characters of `[A-Z0-9]`.
pub fn new_access_key() -> String {
    alphanumeric(20).to_ascii_uppercase()
}

fn alphanumeric(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in uuid::Uuid::new_v4().as_bytes() {
            // 62 * 4 = 248: bytes above are skipped so every character is equally likely.
            if usize::from(*b) < CHARS.len() * 4 && out.len() < len {
                out.push(char::from(CHARS[usize::from(*b) % CHARS.len()]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(secret: &str) -> Credentials {
        Credentials {
            access_key: "admin".into(),
            secret_key: secret.into(),
        }
    }

    #[test]
    fn a_sealed_secret_opens_only_with_the_same_root_and_access_key() {
        let s = Sealer::new(&root("root-secret"));
        let sealed = s.seal("AK1", "my-secret").unwrap();
        assert!(!sealed.contains("my-secret"));
        assert_eq!(s.open("AK1", &sealed).unwrap(), "my-secret");
        assert!(s.open("AK2", &sealed).is_err());
        assert!(Sealer::new(&root("other")).open("AK1", &sealed).is_err());
        assert!(s.open("AK1", "not base64!").is_err());
        assert!(s.open("AK1", "").is_err());
        assert_ne!(
            sealed,
            s.seal("AK1", "my-secret").unwrap(),
            "fresh nonce each time"
        );
    }

    #[test]
    fn generated_keys_and_secrets_have_their_shape() {
        let secret = new_secret();
        assert_eq!(secret.len(), 40);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
        let key = new_access_key();
        assert_eq!(key.len(), 20);
        assert_ne!(key, new_access_key());
    }
}
