//! The gRPC admin service: users, keys, named policies and bucket policies, each call a
//! conversion to an `Iam` operation and back. Who may call what was decided before the
//! call reached here (the authenticator, with the `admin:*` rows of the policy table).

use std::sync::Arc;

use tessera_proto::admin as pb;
use tessera_proto::admin::admin_service_server::AdminService;
use tonic::{Request, Response, Status};

use crate::iam::{Iam, User};
use crate::object::ObjectLayer;
use crate::policy;

/// The admin service over the identity store.
pub struct AdminRpc {
    iam: Arc<Iam>,
    layer: Arc<ObjectLayer>,
}

impl AdminRpc {
    /// The service over `iam` (`layer` checks buckets named by bucket policies).
    pub fn new(iam: Arc<Iam>, layer: Arc<ObjectLayer>) -> Self {
        Self { iam, layer }
    }
}

fn nonempty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn summary(name: String, user: User) -> pb::UserSummary {
    pb::UserSummary {
        name,
        enabled: user.enabled,
        policies: user.policies,
    }
}

fn new_key(k: crate::iam::NewKey) -> pb::NewKey {
    pb::NewKey {
        access_key: k.access_key,
        secret_key: k.secret_key,
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl AdminService for AdminRpc {
    async fn add_user(&self, r: Request<pb::AddUserRequest>) -> Reply<pb::NewKey> {
        let r = r.into_inner();
        let key = self
            .iam
            .add_user(
                &r.name,
                &r.policies,
                nonempty(r.access_key),
                nonempty(r.secret_key),
            )
            .await?;
        tracing::info!(user = %r.name, access_key = %key.access_key, "user added");
        Ok(Response::new(new_key(key)))
    }

    async fn list_users(&self, _r: Request<pb::ListUsersRequest>) -> Reply<pb::ListUsersResponse> {
        let users = self.iam.list_users().await;
        Ok(Response::new(pb::ListUsersResponse {
            users: users.into_iter().map(|(n, u)| summary(n, u)).collect(),
        }))
    }

    async fn user_info(&self, r: Request<pb::UserRequest>) -> Reply<pb::UserInfoResponse> {
        let info = self.iam.user_info(&r.into_inner().name).await?;
        let user = info.name.clone();
        Ok(Response::new(pb::UserInfoResponse {
            user: Some(summary(info.name, info.user)),
            keys: info
                .keys
                .into_iter()
                .map(|(access_key, expires, has_policy)| pb::KeySummary {
                    access_key,
                    user: user.clone(),
                    expires: expires.unwrap_or(0),
                    has_policy,
                })
                .collect(),
        }))
    }

    async fn set_user_enabled(&self, r: Request<pb::SetUserEnabledRequest>) -> Reply<pb::Empty> {
        let r = r.into_inner();
        self.iam
            .change(|s| s.set_enabled(&r.name, r.enabled))
            .await?;
        tracing::info!(user = %r.name, enabled = r.enabled, "user changed");
        Ok(Response::new(pb::Empty {}))
    }

    async fn remove_user(&self, r: Request<pb::UserRequest>) -> Reply<pb::Empty> {
        let name = r.into_inner().name;
        self.iam.change(|s| s.remove_user(&name)).await?;
        tracing::info!(user = %name, "user removed");
        Ok(Response::new(pb::Empty {}))
    }

    async fn add_key(&self, r: Request<pb::AddKeyRequest>) -> Reply<pb::NewKey> {
        let r = r.into_inner();
        let expires = (r.expires != 0).then_some(r.expires);
        let key = self
            .iam
            .add_key(&r.user, nonempty(r.policy), expires)
            .await?;
        tracing::info!(user = %r.user, access_key = %key.access_key, "access key added");
        Ok(Response::new(new_key(key)))
    }

    async fn list_keys(&self, r: Request<pb::UserRequest>) -> Reply<pb::ListKeysResponse> {
        let info = self.user_info(r).await?.into_inner();
        Ok(Response::new(pb::ListKeysResponse { keys: info.keys }))
    }

    async fn remove_key(&self, r: Request<pb::RemoveKeyRequest>) -> Reply<pb::Empty> {
        let key = r.into_inner().access_key;
        self.iam.change(|s| s.remove_key(&key)).await?;
        tracing::info!(access_key = %key, "access key removed");
        Ok(Response::new(pb::Empty {}))
    }

    async fn add_policy(&self, r: Request<pb::AddPolicyRequest>) -> Reply<pb::Empty> {
        let r = r.into_inner();
        self.iam
            .change(|s| s.put_policy(&r.name, &r.document))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn list_policies(
        &self,
        _r: Request<pb::ListPoliciesRequest>,
    ) -> Reply<pb::ListPoliciesResponse> {
        let policies = self.iam.list_policies().await;
        Ok(Response::new(pb::ListPoliciesResponse {
            policies: policies
                .into_iter()
                .map(|(name, _)| pb::PolicySummary {
                    builtin: policy::is_builtin(&name),
                    name,
                })
                .collect(),
        }))
    }

    async fn policy_info(&self, r: Request<pb::PolicyRequest>) -> Reply<pb::PolicyInfoResponse> {
        let document = self.iam.policy_info(&r.into_inner().name).await?;
        Ok(Response::new(pb::PolicyInfoResponse { document }))
    }

    async fn remove_policy(&self, r: Request<pb::PolicyRequest>) -> Reply<pb::Empty> {
        let name = r.into_inner().name;
        self.iam.change(|s| s.remove_policy(&name)).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn attach_policy(&self, r: Request<pb::AttachPolicyRequest>) -> Reply<pb::Empty> {
        let r = r.into_inner();
        self.iam.change(|s| s.attach(&r.policy, &r.user)).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn set_bucket_policy(&self, r: Request<pb::SetBucketPolicyRequest>) -> Reply<pb::Empty> {
        let r = r.into_inner();
        self.layer.head_bucket(&r.bucket).await?;
        let doc = nonempty(r.document);
        self.iam
            .change(|s| s.set_bucket_policy(&r.bucket, doc.as_deref()))
            .await?;
        Ok(Response::new(pb::Empty {}))
    }
}
