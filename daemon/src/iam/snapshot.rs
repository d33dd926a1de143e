//! One node's compiled view of the stored state: access key → who it is (secret opened,
//! policies compiled), and bucket → policy. Built whole from a [`State`] and swapped in
//! whole, so a request sees one generation or the next, never a mix.
//!
//! Invariant: a key whose secret does not open, or a stored document that does not compile
//! (neither happens unless the root credentials changed or the record was edited by hand),
//! is left out and logged by its id: it grants nothing.

use std::collections::HashMap;
use std::sync::Arc;

use super::model::State;
use super::seal::Sealer;
use crate::policy::{Kind, Policy};

/// A user as one of its keys presents it.
#[derive(Debug)]
pub struct UserIdentity {
    /// The user's name.
    pub name: String,
    /// The access key used.
    pub access_key: String,
    /// The user's policies, compiled.
    pub policies: Vec<Arc<Policy>>,
    /// The key's own policy, compiled.
    pub key_policy: Option<Arc<Policy>>,
}

/// Who a verified request comes from.
#[derive(Debug, Clone)]
pub enum Identity {
    /// The root credentials: every right.
    Root,
    /// A user through one of its keys.
    User(Arc<UserIdentity>),
}

/// A key as the snapshot holds it.
pub(super) struct KeyView {
    pub secret: String,
    pub enabled: bool,
    pub expires: Option<i64>,
    pub identity: Arc<UserIdentity>,
}

/// The compiled state.
pub struct Snapshot {
    /// The stored state it was built from.
    pub state: State,
    pub(super) keys: HashMap<String, KeyView>,
    pub(super) bucket_policies: HashMap<String, Arc<Policy>>,
}

impl Snapshot {
    /// Compiles `state`; `builtins` are the built-in policies by name.
    pub fn build(state: State, sealer: &Sealer, builtins: &[(&'static str, Arc<Policy>)]) -> Self {
        let mut named: HashMap<&str, Arc<Policy>> =
            builtins.iter().map(|(n, p)| (*n, p.clone())).collect();
        for (name, doc) in &state.policies {
            match Policy::parse(doc, Kind::Identity) {
                Ok(p) => {
                    named.insert(name, Arc::new(p));
                }
                Err(e) => tracing::warn!(policy = %name, error = %e, "stored policy left out"),
            }
        }
        let mut keys = HashMap::new();
        for (id, key) in &state.keys {
            let Some(user) = state.users.get(&key.user) else {
                continue;
            };
            let secret = match sealer.open(id, &key.sealed_secret) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(access_key = %id, error = %e, "access key left out");
                    continue;
                }
            };
            let key_policy = match key
                .policy
                .as_deref()
                .map(|d| Policy::parse(d, Kind::Identity))
            {
                None => None,
                Some(Ok(p)) => Some(Arc::new(p)),
                Some(Err(e)) => {
                    tracing::warn!(access_key = %id, error = %e, "access key left out");
                    continue;
                }
            };
            let policies = user
                .policies
                .iter()
                .filter_map(|n| named.get(n.as_str()).cloned())
                .collect();
            keys.insert(
                id.clone(),
                KeyView {
                    secret,
                    enabled: user.enabled,
                    expires: key.expires,
                    identity: Arc::new(UserIdentity {
                        name: key.user.clone(),
                        access_key: id.clone(),
                        policies,
                        key_policy,
                    }),
                },
            );
        }
        let mut bucket_policies = HashMap::new();
        for (bucket, doc) in &state.bucket_policies {
            match Policy::parse(doc, Kind::Bucket(bucket)) {
                Ok(p) => {
                    bucket_policies.insert(bucket.clone(), Arc::new(p));
                }
                Err(e) => tracing::warn!(%bucket, error = %e, "bucket policy left out"),
            }
        }
        Self {
            state,
            keys,
            bucket_policies,
        }
    }

    /// The policy of `bucket`, if it has one.
    pub fn bucket_policy(&self, bucket: &str) -> Option<&Arc<Policy>> {
        self.bucket_policies.get(bucket)
    }
}
