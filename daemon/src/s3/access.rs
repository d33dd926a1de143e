//! Who may call S3: the access key resolves through the identity store ([`KeyAuth`], for
//! s3s's signature checks), and every request is authorized before s3s reads its body
//! ([`Gate`], s3s's access hook) with what `policy::s3_operation` says it needs. The
//! verified caller goes into the request's extensions ([`Caller`]) for ListBuckets'
//! filter. DeleteObjects names its keys in its body: each is checked once it is read.
//!
//! Refusals: an unknown, removed, disabled or expired key → InvalidAccessKeyId (s3s asks
//! for the secret first); a request its caller may not make → 403 AccessDenied.

use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::DeleteObjectsInput;
use s3s::path::S3Path;
use s3s::{S3ErrorCode, S3Request, S3Result};

use super::error::s3_err;
use crate::auth::Caller;
use crate::iam::{Env, Iam, Identity};
use crate::metrics::OpSlot;
use crate::policy::{self, Action, Need};

/// Resolves access keys to their secrets through the identity store.
pub struct KeyAuth {
    iam: Arc<Iam>,
}

impl KeyAuth {
    /// Auth over `iam`.
    pub fn new(iam: Arc<Iam>) -> Self {
        Self { iam }
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.iam.resolve(access_key).await {
            Ok((secret, _)) => Ok(SecretKey::from(secret.as_str())),
            Err(refusal) => Err(s3_err(
                S3ErrorCode::InvalidAccessKeyId,
                format!("The AWS Access Key Id you provided cannot be used: {refusal}."),
            )),
        }
    }
}

/// Authorizes every S3 request.
pub struct Gate {
    iam: Arc<Iam>,
}

impl Gate {
    /// The gate over `iam`.
    pub fn new(iam: Arc<Iam>) -> Self {
        Self { iam }
    }

    async fn identity(&self, access_key: Option<&str>) -> S3Result<Option<Identity>> {
        let Some(access_key) = access_key else {
            return Ok(None);
        };
        match self.iam.resolve(access_key).await {
            Ok((_, identity)) => Ok(Some(identity)),
            Err(refusal) => Err(s3_err(S3ErrorCode::AccessDenied, refusal.to_string())),
        }
    }

    async fn authorize(&self, who: Option<&Identity>, need: &Need, env: &Env) -> S3Result<()> {
        self.iam
            .authorize(who, need, env)
            .await
            .map_err(|_| s3_err(S3ErrorCode::AccessDenied, "Access Denied"))
    }
}

/// The bucket and key of an `x-amz-copy-source` value (`[/]bucket/key[?versionId=…]`,
/// percent-encoded).
fn copy_source(value: &str) -> Option<(String, String)> {
    let value = value.split('?').next().unwrap_or(value);
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .ok()?;
    let trimmed = decoded.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key.to_owned()))
}

#[async_trait::async_trait]
impl S3Access for Gate {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        // The front door counts the request by this name.
        if let Some(slot) = cx.extensions_mut().get::<OpSlot>().cloned() {
            slot.set(cx.s3_op().name());
        }
        let who = self
            .identity(cx.credentials().map(|c| c.access_key.as_str()))
            .await?;
        let env = cx
            .extensions_mut()
            .get::<Env>()
            .copied()
            .unwrap_or_default();
        if let Some(identity) = &who {
            cx.extensions_mut().insert(Caller(identity.clone()));
        }
        if matches!(who, Some(Identity::Root)) {
            return Ok(());
        }
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.as_ref()), None),
            S3Path::Object { bucket, key } => (Some(bucket.as_ref()), Some(key.as_ref())),
        };
        let source = cx
            .headers()
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
            .and_then(copy_source);
        let need = policy::s3_operation(
            cx.s3_op().name(),
            bucket,
            key,
            cx.uri().query(),
            source.as_ref().map(|(b, k)| (b.as_str(), k.as_str())),
        );
        // Asking to bypass GOVERNANCE retention needs its own right, as in S3.
        let bypass = (cx.headers().get("x-amz-bypass-governance-retention"))
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
        let need = need.map(|n| match bypass {
            true => n.and(Action::BypassGovernanceRetention, bucket, key),
            false => n,
        });
        match need {
            Some(need) => self.authorize(who.as_ref(), &need, &env).await,
            None => Err(s3_err(S3ErrorCode::AccessDenied, "Access Denied")),
        }
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let who = self
            .identity(req.credentials.as_ref().map(|c| c.access_key.as_str()))
            .await?;
        let env = req.extensions.get::<Env>().copied().unwrap_or_default();
        let keys =
            (req.input.delete.objects.iter()).map(|o| (o.key.as_str(), o.version_id.is_some()));
        let mut need = policy::delete_objects(&req.input.bucket, keys);
        if req.input.bypass_governance_retention == Some(true) {
            let bucket = Some(req.input.bucket.as_str());
            need = need.and(Action::BypassGovernanceRetention, bucket, None);
        }
        self.authorize(who.as_ref(), &need, &env).await
    }
}

#[cfg(test)]
mod tests {
    use super::copy_source;

    #[test]
    fn copy_sources_split_into_bucket_and_key() {
        assert_eq!(
            copy_source("/b/a%20b/c?versionId=null"),
            Some(("b".into(), "a b/c".into()))
        );
        assert_eq!(copy_source("b/k"), Some(("b".into(), "k".into())));
        assert_eq!(copy_source("b"), None);
        assert_eq!(copy_source("/%FF/k"), None);
    }
}
