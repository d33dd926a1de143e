//! The one place where a request is allowed or refused, for the S3 and gRPC front ends
//! alike: an access key resolves to its secret and identity ([`Iam::resolve`]), and a
//! verified caller's [`Need`] (from `policy::table`) is checked against its policies and
//! the bucket's ([`Iam::authorize`]).
//!
//! Invariants: the root credentials always resolve and are never narrowed; a key of a
//! removed or disabled user, or an expired key, does not resolve; anonymous callers are
//! allowed only what a bucket policy grants to `Principal: "*"`; a request without a row in
//! the table is for root only.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use super::snapshot::Identity;
use super::store::Iam;
use crate::policy::{self, Action, Context, Need, Principal, Variables};

/// Why an access key does not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    /// No such key (never issued, removed, or its user removed).
    #[error("the access key does not exist")]
    Unknown,
    /// The key's user is disabled.
    #[error("the access key's user is disabled")]
    Disabled,
    /// The key's expiry passed.
    #[error("the access key has expired")]
    Expired,
}

/// A refused request: the first check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access denied: {action} on {resource}")]
pub struct Denied {
    /// The action refused.
    pub action: Action,
    /// The resource's ARN.
    pub resource: String,
}

/// What the transport says about a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Env {
    /// The client's address.
    pub source_ip: Option<IpAddr>,
    /// Whether it came over TLS.
    pub secure: bool,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Iam {
    /// The secret and identity of `access_key`.
    pub async fn resolve(&self, access_key: &str) -> Result<(String, Identity), KeyRefusal> {
        if access_key == self.root().access_key {
            return Ok((self.root().secret_key.clone(), Identity::Root));
        }
        let snapshot = self.snapshot().await;
        let key = snapshot.keys.get(access_key).ok_or(KeyRefusal::Unknown)?;
        if !key.enabled {
            return Err(KeyRefusal::Disabled);
        }
        if key.expires.is_some_and(|t| t <= now_secs()) {
            return Err(KeyRefusal::Expired);
        }
        Ok((key.secret.clone(), Identity::User(key.identity.clone())))
    }

    /// Checks every action of `need` for `who` (`None`: anonymous).
    pub async fn authorize(
        &self,
        who: Option<&Identity>,
        need: &Need,
        env: &Env,
    ) -> Result<(), Denied> {
        if matches!(who, Some(Identity::Root)) {
            return Ok(());
        }
        let snapshot = self.snapshot().await;
        let user = match who {
            Some(Identity::User(u)) => Some(u.as_ref()),
            _ => None,
        };
        let vars = Variables {
            username: user.map(|u| u.name.as_str()),
            userid: user.map(|u| u.name.as_str()),
        };
        let ctx = Context {
            vars,
            source_ip: env.source_ip,
            secure_transport: env.secure,
            now: now_secs(),
            prefix: need.listing.prefix.as_deref(),
            delimiter: need.listing.delimiter.as_deref(),
            max_keys: need.listing.max_keys,
        };
        let principal = match user {
            Some(u) => Principal::User {
                name: &u.name,
                policies: &u.policies,
                key_policy: u.key_policy.as_deref(),
            },
            None => Principal::Anonymous,
        };
        for check in &need.checks {
            let resource = policy::resource_arn(check.bucket.as_deref(), check.key.as_deref());
            let bucket_policy = check
                .bucket
                .as_deref()
                .and_then(|b| snapshot.bucket_policy(b))
                .map(|p| p.as_ref());
            let decision =
                policy::authorize(principal, bucket_policy, check.action, &resource, &ctx);
            if !decision.allowed() {
                return Err(Denied {
                    action: check.action,
                    resource,
                });
            }
        }
        Ok(())
    }

    /// The buckets of `buckets` that `who` may list (ListBuckets shows only those; root
    /// sees all). `name` gives an item's bucket name.
    pub async fn listable<T>(
        &self,
        who: Option<&Identity>,
        env: &Env,
        buckets: Vec<T>,
        name: impl Fn(&T) -> &str,
    ) -> Vec<T> {
        if matches!(who, Some(Identity::Root)) {
            return buckets;
        }
        let mut shown = Vec::new();
        for b in buckets {
            if self.may_list(who, name(&b), env).await {
                shown.push(b);
            }
        }
        shown
    }

    /// Whether `who` may list `bucket`.
    async fn may_list(&self, who: Option<&Identity>, bucket: &str, env: &Env) -> bool {
        let need = Need {
            checks: vec![policy::Check {
                action: Action::ListBucket,
                bucket: Some(bucket.to_owned()),
                key: None,
            }],
            listing: policy::Listing::default(),
        };
        self.authorize(who, &need, env).await.is_ok()
    }
}
