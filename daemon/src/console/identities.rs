//! The identities page's API: users (list, add with policies and a first key whose secret
//! is answered once, enable or disable, remove, add a key whose secret is answered once)
//! a user's keys (list, remove), a named policy attached to an existing user, and named
//! policies (list, add or replace, validated by the identity store before saving). Each call is authorized by `Iam::authorize` with the admin action
//! the gRPC admin API needs for the same change (`admin:ListUsers`, `admin:CreateUser`,
//! `admin:EnableUser`/`admin:DisableUser`, `admin:DeleteUser`, `admin:CreateServiceAccount`,
//! `admin:ListServiceAccounts`, `admin:RemoveServiceAccount`, `admin:AttachUserOrGroupPolicy`,
//! `admin:ListPolicies`, `admin:CreatePolicy`) and calls the same `Iam` operations.
//!
//! Invariants: a secret appears in one answer only (the one that made it) and never in a
//! log line; a refused change changes nothing.

use bytes::Bytes;
use http::Response;
use serde::Deserialize;

use super::api::Call;
use super::session::Session;
use super::{ConsoleError, json};
use crate::policy::{Action, Check, Need};

/// A user to add.
#[derive(Deserialize)]
pub(super) struct NewUser {
    name: String,
    #[serde(default)]
    policies: Vec<String>,
}

/// A change of one user: enable or disable it (`enabled`), or name it (remove, add a key).
#[derive(Deserialize)]
pub(super) struct UserChange {
    name: String,
    #[serde(default)]
    enabled: Option<bool>,
}

/// An access key to remove.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct KeyChange {
    access_key: String,
}

/// A named policy to attach to a user.
#[derive(Deserialize)]
pub(super) struct Attachment {
    name: String,
    policy: String,
}

/// A named policy to add or replace.
#[derive(Deserialize)]
pub(super) struct NewPolicy {
    name: String,
    document: String,
}

impl Call<'_> {
    /// Checks that the session's key is allowed admin `action`.
    pub(super) async fn allowed(&self, s: &Session, action: Action) -> Result<(), ConsoleError> {
        let iam = &self.console.iam;
        let (_, identity) = iam.resolve(&s.access_key).await?;
        let need = Need {
            checks: vec![Check {
                action,
                bucket: None,
                key: None,
            }],
            listing: Default::default(),
        };
        Ok(iam.authorize(Some(&identity), &need, &self.env).await?)
    }

    pub(super) async fn users(&self, s: &Session) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::ListUsers).await?;
        let users: Vec<_> = (self.console.iam.list_users().await.into_iter())
            .map(|(name, u)| {
                serde_json::json!({ "name": name, "enabled": u.enabled, "policies": u.policies })
            })
            .collect();
        Ok(json(&serde_json::json!({ "users": users })))
    }

    pub(super) async fn add_user(
        &self,
        s: &Session,
        req: NewUser,
    ) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::CreateUser).await?;
        let key = (self.console.iam)
            .add_user(&req.name, &req.policies, None, None)
            .await?;
        tracing::info!(user = %req.name, access_key = %key.access_key, by = %s.access_key,
            "user added from the console");
        Ok(json(&serde_json::json!({
            "accessKey": key.access_key,
            "secretKey": key.secret_key,
        })))
    }

    pub(super) async fn set_enabled(
        &self,
        s: &Session,
        req: UserChange,
    ) -> Result<Response<Bytes>, ConsoleError> {
        let enabled = (req.enabled)
            .ok_or_else(|| ConsoleError::BadRequest("say enabled: true or false".into()))?;
        let action = if enabled {
            Action::EnableUser
        } else {
            Action::DisableUser
        };
        self.allowed(s, action).await?;
        (self.console.iam)
            .change(|state| state.set_enabled(&req.name, enabled))
            .await?;
        tracing::info!(user = %req.name, enabled, by = %s.access_key, "user changed from the console");
        Ok(json(
            &serde_json::json!({ "name": req.name, "enabled": enabled }),
        ))
    }

    pub(super) async fn remove_user(
        &self,
        s: &Session,
        req: UserChange,
    ) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::DeleteUser).await?;
        (self.console.iam)
            .change(|state| state.remove_user(&req.name))
            .await?;
        tracing::info!(user = %req.name, by = %s.access_key, "user removed from the console");
        Ok(json(&serde_json::json!({ "name": req.name })))
    }

    pub(super) async fn add_key(
        &self,
        s: &Session,
        req: UserChange,
    ) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::CreateServiceAccount).await?;
        let key = self.console.iam.add_key(&req.name, None, None).await?;
        tracing::info!(user = %req.name, access_key = %key.access_key, by = %s.access_key,
            "access key added from the console");
        Ok(json(&serde_json::json!({
            "accessKey": key.access_key,
            "secretKey": key.secret_key,
        })))
    }

    pub(super) async fn policies(&self, s: &Session) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::ListPolicies).await?;
        let policies: Vec<_> = (self.console.iam.list_policies().await.into_iter())
            .map(|(name, document)| {
                let builtin = crate::policy::is_builtin(&name);
                serde_json::json!({ "name": name, "document": document, "builtin": builtin })
            })
            .collect();
        Ok(json(&serde_json::json!({ "policies": policies })))
    }

    pub(super) async fn put_policy(
        &self,
        s: &Session,
        req: NewPolicy,
    ) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::CreatePolicy).await?;
        (self.console.iam)
            .change(|state| state.put_policy(&req.name, &req.document))
            .await?;
        tracing::info!(policy = %req.name, by = %s.access_key, "policy saved from the console");
        Ok(json(&serde_json::json!({ "name": req.name })))
    }

    /// The access keys of user `name` (never their secrets).
    pub(super) async fn user_keys(
        &self,
        s: &Session,
        name: &str,
    ) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::ListServiceAccounts).await?;
        let info = self.console.iam.user_info(name).await?;
        let keys: Vec<_> = (info.keys.into_iter())
            .map(|(access_key, expires, has_policy)| {
                serde_json::json!({ "accessKey": access_key, "expires": expires,
                    "hasPolicy": has_policy })
            })
            .collect();
        Ok(json(&serde_json::json!({ "name": name, "keys": keys })))
    }

    pub(super) async fn remove_key(
        &self,
        s: &Session,
        req: KeyChange,
    ) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::RemoveServiceAccount).await?;
        (self.console.iam)
            .change(|state| state.remove_key(&req.access_key))
            .await?;
        tracing::info!(access_key = %req.access_key, by = %s.access_key,
            "access key removed from the console");
        Ok(json(&serde_json::json!({ "accessKey": req.access_key })))
    }

    pub(super) async fn attach_policy(
        &self,
        s: &Session,
        req: Attachment,
    ) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::AttachPolicy).await?;
        (self.console.iam)
            .change(|state| state.attach(&req.policy, &req.name))
            .await?;
        tracing::info!(user = %req.name, policy = %req.policy, by = %s.access_key,
            "policy attached from the console");
        Ok(json(
            &serde_json::json!({ "name": req.name, "policy": req.policy }),
        ))
    }
}
