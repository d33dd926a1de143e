//! The admin operations on identities, as the admin API offers them: each checks its input,
//! seals what must be sealed, and goes through [`Iam::change`], so a refused operation
//! changes nothing. Secrets are returned once, to the caller that created them, and never
//! logged.

use super::IamError;
use super::cors::CorsRule;
use super::model::{AccessKey, State, User, check_access_key, check_secret};
use super::seal::{new_access_key, new_secret};
use super::store::Iam;
use crate::policy::{self, Kind, Policy};

/// A new key's id and secret.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The access key id.
    pub access_key: String,
    /// The secret (shown once).
    pub secret_key: String,
}

/// A user as `user info` shows it.
#[derive(Debug, Clone)]
pub struct UserInfo {
    /// The name.
    pub name: String,
    /// The state and policies.
    pub user: User,
    /// Its keys' ids, with their expiry and whether they carry a policy.
    pub keys: Vec<(String, Option<i64>, bool)>,
}

impl Iam {
    fn key_pair(
        &self,
        access_key: Option<String>,
        secret: Option<String>,
    ) -> Result<(NewKey, String), IamError> {
        let access_key = access_key.unwrap_or_else(new_access_key);
        check_access_key(&access_key)?;
        let secret_key = secret.unwrap_or_else(new_secret);
        check_secret(&secret_key)?;
        let sealed = self.sealer().seal(&access_key, &secret_key)?;
        Ok((
            NewKey {
                access_key,
                secret_key,
            },
            sealed,
        ))
    }

    /// Adds user `name` with `policies` and a first key (`access_key`/`secret` chosen by
    /// the caller, or made).
    pub async fn add_user(
        &self,
        name: &str,
        policies: &[String],
        access_key: Option<String>,
        secret: Option<String>,
    ) -> Result<NewKey, IamError> {
        let (key, sealed) = self.key_pair(access_key, secret)?;
        let root = self.root().access_key.clone();
        self.change(|s| s.add_user(&root, name, policies, (&key.access_key, sealed)))
            .await?;
        Ok(key)
    }

    /// Adds a key to user `user`.
    pub async fn add_key(
        &self,
        user: &str,
        policy: Option<String>,
        expires: Option<i64>,
    ) -> Result<NewKey, IamError> {
        if let Some(doc) = &policy {
            Policy::parse(doc, Kind::Identity)?;
        }
        let (key, sealed) = self.key_pair(None, None)?;
        let root = self.root().access_key.clone();
        self.change(|s| s.add_key(&root, user, (&key.access_key, sealed), policy, expires))
            .await?;
        Ok(key)
    }

    /// The users, by name.
    pub async fn list_users(&self) -> Vec<(String, User)> {
        let snapshot = self.snapshot().await;
        snapshot
            .state
            .users
            .iter()
            .map(|(n, u)| (n.clone(), u.clone()))
            .collect()
    }

    /// User `name` with its keys.
    pub async fn user_info(&self, name: &str) -> Result<UserInfo, IamError> {
        let snapshot = self.snapshot().await;
        let user = snapshot
            .state
            .users
            .get(name)
            .cloned()
            .ok_or_else(|| IamError::NoSuchUser {
                name: name.to_owned(),
            })?;
        let keys = snapshot
            .state
            .keys
            .iter()
            .filter(|(_, k)| k.user == name)
            .map(|(id, k): (&String, &AccessKey)| (id.clone(), k.expires, k.policy.is_some()))
            .collect();
        Ok(UserInfo {
            name: name.to_owned(),
            user,
            keys,
        })
    }

    /// The named policies, built-ins first, with their documents.
    pub async fn list_policies(&self) -> Vec<(String, String)> {
        let snapshot = self.snapshot().await;
        policy::BUILTIN
            .iter()
            .map(|(n, d)| ((*n).to_owned(), (*d).to_owned()))
            .chain(
                snapshot
                    .state
                    .policies
                    .iter()
                    .map(|(n, d)| (n.clone(), d.clone())),
            )
            .collect()
    }

    /// The document of policy `name`.
    pub async fn policy_info(&self, name: &str) -> Result<String, IamError> {
        self.list_policies()
            .await
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d)
            .ok_or_else(|| IamError::NoSuchPolicy {
                name: name.to_owned(),
            })
    }

    /// Drops the policy and CORS rules of a deleted `bucket`, so a bucket made again under
    /// its name starts without them. The bucket is gone already: a failure is logged, not returned.
    pub async fn forget_bucket(&self, bucket: &str) {
        let snapshot = self.snapshot().await;
        let state = &snapshot.state;
        if !state.bucket_policies.contains_key(bucket) && !state.bucket_cors.contains_key(bucket) {
            return;
        }
        let forget = |s: &mut State| {
            s.set_bucket_policy(bucket, None)?;
            s.set_bucket_cors(bucket, None)
        };
        if let Err(e) = self.change(forget).await {
            tracing::warn!(%bucket, error = %e, "the deleted bucket's policy and CORS rules stay");
        }
    }

    /// The CORS rules of `bucket`, if any.
    pub async fn bucket_cors(&self, bucket: &str) -> Option<Vec<CorsRule>> {
        self.snapshot().await.state.bucket_cors.get(bucket).cloned()
    }

    /// The policy document of `bucket`, if any.
    pub async fn bucket_policy_text(&self, bucket: &str) -> Option<String> {
        self.snapshot()
            .await
            .state
            .bucket_policies
            .get(bucket)
            .cloned()
    }
}
