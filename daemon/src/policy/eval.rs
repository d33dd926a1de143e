//! The decision: who asks, what they hold, what the bucket's policy says → allow or deny.
//!
//! Rules: the root credentials may do everything and are never evaluated. For a user, an
//! explicit Deny in any policy that applies (the user's, the key's, the bucket's) wins; else
//! the request is allowed when the user's policies or the bucket's policy allow it, and,
//! when the key carries a policy of its own, that policy allows it too (a key's policy only
//! narrows). Anonymous callers get exactly what bucket policies grant to `Principal: "*"`.
//! Anything not allowed is denied.

use std::sync::Arc;

use super::action::Action;
use super::condition::Context;
use super::document::{ARN_PREFIX, Effect, Policy, Who};

/// The caller, with the policies that speak for it.
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    /// The root credentials.
    Root,
    /// A user through one of its keys.
    User {
        /// The user's name (`${aws:username}`).
        name: &'a str,
        /// The user's attached policies.
        policies: &'a [Arc<Policy>],
        /// The key's own policy, if it has one.
        key_policy: Option<&'a Policy>,
    },
    /// No credentials.
    Anonymous,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// Nothing allows it.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may go on.
    pub fn allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// The ARN of a bucket, an object, or (neither) everything: `arn:aws:s3:::*`, which the
/// resource patterns `*` and `arn:aws:s3:::*` match.
pub fn resource_arn(bucket: Option<&str>, key: Option<&str>) -> String {
    match (bucket, key) {
        (Some(b), Some(k)) => format!("{ARN_PREFIX}{b}/{k}"),
        (Some(b), None) => format!("{ARN_PREFIX}{b}"),
        (None, _) => format!("{ARN_PREFIX}*"),
    }
}

/// Decides `action` on `resource` for `principal`; `bucket_policy` is the policy of the
/// bucket named in the request, if any.
pub fn authorize(
    principal: Principal<'_>,
    bucket_policy: Option<&Policy>,
    action: Action,
    resource: &str,
    ctx: &Context<'_>,
) -> Decision {
    let (who, identity, key_policy): (Who<'_>, &[Arc<Policy>], Option<&Policy>) = match principal {
        Principal::Root => return Decision::Allow,
        Principal::User {
            name,
            policies,
            key_policy,
        } => (Who::User(name), policies, key_policy),
        Principal::Anonymous => (Who::Anonymous, &[], None),
    };
    let effect = |p: &Policy| p.effect(action, resource, who, ctx);
    let mut identity_allows = false;
    for p in identity {
        match effect(p) {
            Some(Effect::Deny) => return Decision::ExplicitDeny,
            Some(Effect::Allow) => identity_allows = true,
            None => {}
        }
    }
    let bucket_allows = match bucket_policy.and_then(effect) {
        Some(Effect::Deny) => return Decision::ExplicitDeny,
        Some(Effect::Allow) => true,
        None => false,
    };
    let key_allows = match key_policy.map(effect) {
        Some(Some(Effect::Deny)) => return Decision::ExplicitDeny,
        Some(Some(Effect::Allow)) | None => true,
        Some(None) => false,
    };
    if (identity_allows || bucket_allows) && key_allows {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}
