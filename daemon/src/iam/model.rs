//! The stored identity state: users, access keys (secrets sealed), named policies, bucket
//! policies and buckets' CORS rules, as one versioned JSON record, and every change to it as a pure function that
//! checks its input first and changes nothing when it fails.
//!
//! Invariants: user names match `[A-Za-z0-9+=,.@_-]{1,64}`; every key belongs to an existing
//! user; every policy a user names exists (built-in or stored) and every stored document
//! compiles; no user or key takes the root access key; removing a user removes its keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::IamError;
use super::cors::{CorsRule, check_rules};
use crate::policy::{self, Kind, Policy};

/// The record's format version.
pub const STATE_VERSION: u32 = 1;

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// A disabled user's keys are refused.
    pub enabled: bool,
    /// Names of the attached policies.
    pub policies: Vec<String>,
}

/// An access key of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    /// The user it belongs to.
    pub user: String,
    /// The secret, sealed (see `seal`).
    pub sealed_secret: String,
    /// The key's own policy document, which only narrows the user's rights.
    pub policy: Option<String>,
    /// When the key stops working, in seconds since the epoch.
    pub expires: Option<i64>,
}

/// Everything stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Raised by every change; nodes reload when it differs from theirs.
    pub generation: u64,
    /// Users by name.
    pub users: BTreeMap<String, User>,
    /// Access keys by id.
    pub keys: BTreeMap<String, AccessKey>,
    /// Named policies' documents by name (built-ins are not stored).
    pub policies: BTreeMap<String, String>,
    /// Bucket policies' documents by bucket.
    pub bucket_policies: BTreeMap<String, String>,
    /// Buckets' CORS rules by bucket (absent from records written before they existed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bucket_cors: BTreeMap<String, Vec<CorsRule>>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            generation: 0,
            users: BTreeMap::new(),
            keys: BTreeMap::new(),
            policies: BTreeMap::new(),
            bucket_policies: BTreeMap::new(),
            bucket_cors: BTreeMap::new(),
        }
    }
}

/// Checks a user name against `[A-Za-z0-9+=,.@_-]{1,64}`.
pub fn check_user_name(name: &str) -> Result<(), IamError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IamError::InvalidUserName {
            name: name.to_owned(),
        })
    }
}

/// Checks an access key id: 3 to 128 characters of `[A-Za-z0-9+=,.@_-]`.
pub fn check_access_key(key: &str) -> Result<(), IamError> {
    let ok = (3..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IamError::InvalidAccessKey {
            key: key.to_owned(),
        })
    }
}

/// Checks a secret: 8 to 128 printable ASCII characters.
pub fn check_secret(secret: &str) -> Result<(), IamError> {
    if (8..=128).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(IamError::InvalidSecret)
    }
}

/// Checks a named policy's name (the user-name rules).
pub fn check_policy_name(name: &str) -> Result<(), IamError> {
    check_user_name(name).map_err(|_| IamError::InvalidPolicyName {
        name: name.to_owned(),
    })
}

impl State {
    fn user_mut(&mut self, name: &str) -> Result<&mut User, IamError> {
        self.users
            .get_mut(name)
            .ok_or_else(|| IamError::NoSuchUser {
                name: name.to_owned(),
            })
    }

    fn check_policy_exists(&self, name: &str) -> Result<(), IamError> {
        if policy::is_builtin(name) || self.policies.contains_key(name) {
            Ok(())
        } else {
            Err(IamError::NoSuchPolicy {
                name: name.to_owned(),
            })
        }
    }

    /// Adds user `name` with the policies `policies` and its first key.
    pub fn add_user(
        &mut self,
        root_key: &str,
        name: &str,
        policies: &[String],
        key: (&str, String),
    ) -> Result<(), IamError> {
        check_user_name(name)?;
        if self.users.contains_key(name) {
            return Err(IamError::UserExists {
                name: name.to_owned(),
            });
        }
        for p in policies {
            self.check_policy_exists(p)?;
        }
        self.check_new_key(root_key, key.0)?;
        self.users.insert(
            name.to_owned(),
            User {
                enabled: true,
                policies: policies.to_vec(),
            },
        );
        self.keys.insert(
            key.0.to_owned(),
            AccessKey {
                user: name.to_owned(),
                sealed_secret: key.1,
                policy: None,
                expires: None,
            },
        );
        Ok(())
    }

    fn check_new_key(&self, root_key: &str, key: &str) -> Result<(), IamError> {
        check_access_key(key)?;
        if key == root_key || key == tessera_proto::auth::CLUSTER_ACCESS_KEY {
            return Err(IamError::Root);
        }
        if self.keys.contains_key(key) {
            return Err(IamError::KeyExists {
                key: key.to_owned(),
            });
        }
        Ok(())
    }

    /// Enables or disables user `name`.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> Result<(), IamError> {
        self.user_mut(name)?.enabled = enabled;
        Ok(())
    }

    /// Removes user `name` and its keys.
    pub fn remove_user(&mut self, name: &str) -> Result<(), IamError> {
        self.user_mut(name)?;
        self.users.remove(name);
        self.keys.retain(|_, k| k.user != name);
        Ok(())
    }

    /// Adds an access key to user `user`, with an optional narrowing policy and expiry.
    pub fn add_key(
        &mut self,
        root_key: &str,
        user: &str,
        key: (&str, String),
        policy: Option<String>,
        expires: Option<i64>,
    ) -> Result<(), IamError> {
        self.user_mut(user)?;
        self.check_new_key(root_key, key.0)?;
        if let Some(doc) = &policy {
            Policy::parse(doc, Kind::Identity)?;
        }
        self.keys.insert(
            key.0.to_owned(),
            AccessKey {
                user: user.to_owned(),
                sealed_secret: key.1,
                policy,
                expires,
            },
        );
        Ok(())
    }

    /// Removes access key `key`.
    pub fn remove_key(&mut self, key: &str) -> Result<(), IamError> {
        self.keys
            .remove(key)
            .map(|_| ())
            .ok_or_else(|| IamError::NoSuchKey {
                key: key.to_owned(),
            })
    }

    /// Adds or replaces the named policy `name`.
    pub fn put_policy(&mut self, name: &str, document: &str) -> Result<(), IamError> {
        check_policy_name(name)?;
        if policy::is_builtin(name) {
            return Err(IamError::BuiltinPolicy {
                name: name.to_owned(),
            });
        }
        Policy::parse(document, Kind::Identity)?;
        self.policies.insert(name.to_owned(), document.to_owned());
        Ok(())
    }

    /// Removes the named policy `name`; refused while a user has it attached.
    pub fn remove_policy(&mut self, name: &str) -> Result<(), IamError> {
        if policy::is_builtin(name) {
            return Err(IamError::BuiltinPolicy {
                name: name.to_owned(),
            });
        }
        if !self.policies.contains_key(name) {
            return Err(IamError::NoSuchPolicy {
                name: name.to_owned(),
            });
        }
        if let Some((user, _)) = self
            .users
            .iter()
            .find(|(_, u)| u.policies.iter().any(|p| p == name))
        {
            return Err(IamError::PolicyInUse {
                name: name.to_owned(),
                user: user.clone(),
            });
        }
        self.policies.remove(name);
        Ok(())
    }

    /// Attaches policy `name` to user `user` (once).
    pub fn attach(&mut self, name: &str, user: &str) -> Result<(), IamError> {
        self.check_policy_exists(name)?;
        let u = self.user_mut(user)?;
        if !u.policies.iter().any(|p| p == name) {
            u.policies.push(name.to_owned());
        }
        Ok(())
    }

    /// Sets (or with `None` removes) the policy of `bucket`.
    pub fn set_bucket_policy(
        &mut self,
        bucket: &str,
        document: Option<&str>,
    ) -> Result<(), IamError> {
        match document {
            Some(doc) => {
                Policy::parse(doc, Kind::Bucket(bucket))?;
                self.bucket_policies
                    .insert(bucket.to_owned(), doc.to_owned());
            }
            None => {
                self.bucket_policies.remove(bucket);
            }
        }
        Ok(())
    }

    /// Sets (or with `None` removes) the CORS rules of `bucket`.
    pub fn set_bucket_cors(
        &mut self,
        bucket: &str,
        rules: Option<Vec<CorsRule>>,
    ) -> Result<(), IamError> {
        match rules {
            Some(rules) => {
                check_rules(&rules)?;
                self.bucket_cors.insert(bucket.to_owned(), rules);
            }
            None => {
                self.bucket_cors.remove(bucket);
            }
        }
        Ok(())
    }
}
