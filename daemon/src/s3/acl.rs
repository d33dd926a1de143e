//! Read-only ACLs, so tools that ask don't fail: Tessera's rights are policies, and an ACL
//! is a view of them. GetBucketAcl and GetObjectAcl show the one owner with FULL_CONTROL
//! (and, for a bucket whose policy is the one `public-read` set, AllUsers with READ).
//! PutBucketAcl and PutObjectAcl accept the `private` canned ACL (or a body granting only
//! the owner FULL_CONTROL, which is the same); `public-read` on a bucket sets the bucket
//! policy that lets anyone list the bucket and read its objects, and `private` removes that
//! policy again (never a policy written by hand). Every other grant is NotImplemented.
//! Tested end to end in `s3_acl`.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::bucket::owner;
use super::error::{iam_to_s3, s3_err, to_s3};
use crate::iam::Iam;
use crate::object::ObjectLayer;

/// The AllUsers group's URI.
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

/// The bucket policy the `public-read` canned ACL stands for.
fn public_read_policy(bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:ListBucket"],
                "Resource": [format!("arn:aws:s3:::{bucket}")],
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [format!("arn:aws:s3:::{bucket}/*")],
            },
        ],
    })
    .to_string()
}

fn owner_full_control() -> Grant {
    let o = owner();
    Grant {
        grantee: Some(Grantee {
            display_name: o.display_name,
            email_address: None,
            id: o.id,
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }
}

fn all_users_read() -> Grant {
    Grant {
        grantee: Some(Grantee {
            display_name: None,
            email_address: None,
            id: None,
            type_: Type::from_static(Type::GROUP),
            uri: Some(ALL_USERS.into()),
        }),
        permission: Some(Permission::from_static(Permission::READ)),
    }
}

fn not_implemented() -> s3s::S3Error {
    s3_err(
        S3ErrorCode::NotImplemented,
        "Only the private canned ACL (and public-read on a bucket) is supported; \
         grant rights with policies.",
    )
}

/// What a Put*Acl request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Private,
    PublicRead,
}

/// The canned ACL a request names, or the body that grants the owner alone; anything
/// else (grant headers, other grantees) is NotImplemented.
fn asked(
    canned: Option<&str>,
    body: Option<&AccessControlPolicy>,
    grant_headers: bool,
) -> S3Result<Asked> {
    if grant_headers {
        return Err(not_implemented());
    }
    match (canned, body) {
        (Some("private"), None) => Ok(Asked::Private),
        (Some("public-read"), None) => Ok(Asked::PublicRead),
        (None, Some(policy)) => {
            let grants = policy.grants.as_deref().unwrap_or_default();
            let only_owner = grants.iter().all(|g| {
                g.permission.as_ref().map(Permission::as_str) == Some(Permission::FULL_CONTROL)
                    && g.grantee
                        .as_ref()
                        .is_some_and(|who| who.id.is_some() && who.id == owner().id)
            });
            if only_owner {
                Ok(Asked::Private)
            } else {
                Err(not_implemented())
            }
        }
        (None, None) => Err(s3_err(
            S3ErrorCode::MissingSecurityHeader,
            "Your request was missing a required header: x-amz-acl or an AccessControlPolicy.",
        )),
        _ => Err(not_implemented()),
    }
}

pub async fn get_bucket_acl(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let bucket = req.input.bucket;
    layer.head_bucket(&bucket).await.map_err(to_s3)?;
    let mut grants = vec![owner_full_control()];
    if iam.bucket_policy_text(&bucket).await == Some(public_read_policy(&bucket)) {
        grants.push(all_users_read());
    }
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(grants),
        owner: Some(owner()),
    }))
}

pub async fn put_bucket_acl(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let i = req.input;
    let grant_headers = i.grant_full_control.is_some()
        || i.grant_read.is_some()
        || i.grant_read_acp.is_some()
        || i.grant_write.is_some()
        || i.grant_write_acp.is_some();
    let asked = asked(
        i.acl.as_ref().map(BucketCannedACL::as_str),
        i.access_control_policy.as_ref(),
        grant_headers,
    )?;
    let bucket = i.bucket;
    layer.head_bucket(&bucket).await.map_err(to_s3)?;
    let public = public_read_policy(&bucket);
    let current = iam.bucket_policy_text(&bucket).await;
    let change = match asked {
        Asked::PublicRead => Some(Some(public)),
        // Only the policy public-read set is ACL state; a hand-written one stays.
        Asked::Private if current.as_deref() == Some(public.as_str()) => Some(None),
        Asked::Private => None,
    };
    if let Some(doc) = change {
        iam.change(|s| s.set_bucket_policy(&bucket, doc.as_deref()))
            .await
            .map_err(iam_to_s3)?;
    }
    Ok(S3Response::new(PutBucketAclOutput {}))
}

pub async fn get_object_acl(
    layer: &ObjectLayer,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let i = req.input;
    super::convert::check_version(i.version_id.as_deref())?;
    layer.head_object(&i.bucket, &i.key).await.map_err(to_s3)?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(vec![owner_full_control()]),
        owner: Some(owner()),
        request_charged: None,
    }))
}

pub async fn put_object_acl(
    layer: &ObjectLayer,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let i = req.input;
    super::convert::check_version(i.version_id.as_deref())?;
    let grant_headers = i.grant_full_control.is_some()
        || i.grant_read.is_some()
        || i.grant_read_acp.is_some()
        || i.grant_write.is_some()
        || i.grant_write_acp.is_some();
    let asked = asked(
        i.acl.as_ref().map(ObjectCannedACL::as_str),
        i.access_control_policy.as_ref(),
        grant_headers,
    )?;
    if asked != Asked::Private {
        return Err(not_implemented());
    }
    layer.head_object(&i.bucket, &i.key).await.map_err(to_s3)?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_private_and_public_read_are_understood() {
        assert_eq!(asked(Some("private"), None, false).unwrap(), Asked::Private);
        assert_eq!(
            asked(Some("public-read"), None, false).unwrap(),
            Asked::PublicRead
        );
        assert!(asked(Some("public-read-write"), None, false).is_err());
        assert!(asked(Some("private"), None, true).is_err());
        let body = |grants| AccessControlPolicy {
            grants: Some(grants),
            owner: Some(owner()),
        };
        let owner_only = body(vec![owner_full_control()]);
        assert_eq!(
            asked(None, Some(&owner_only), false).unwrap(),
            Asked::Private
        );
        let public = body(vec![owner_full_control(), all_users_read()]);
        assert!(asked(None, Some(&public), false).is_err());
        assert!(asked(None, None, false).is_err());
    }

    #[test]
    fn the_public_read_policy_is_a_bucket_policy_the_store_accepts() {
        let doc = public_read_policy("site");
        crate::policy::Policy::parse(&doc, crate::policy::Kind::Bucket("site")).unwrap();
    }
}
