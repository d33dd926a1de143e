//! The one table from every S3 operation and every gRPC method to what it needs: the
//! actions and the resource (bucket, key) each is checked on, and, for listings, the
//! `s3:prefix`/`s3:delimiter`/`s3:max-keys` values conditions see.
//!
//! Invariants: every operation the front ends implement has a row; an operation without a
//! row (`None`) is for the root credentials only. A call that reads or changes two objects
//! needs both (a copy: GetObject on the source and PutObject on the target; a rename:
//! also DeleteObject on the source). A directory rename (RenamePrefix) is checked on its two
//! prefixes as resources (`bucket/src/` for GetObject and DeleteObject, `bucket/dst/` for
//! PutObject), not key by key.

use prost::Message;
use tessera_proto::object as pb;

use super::action::Action;

/// One action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The action.
    pub action: Action,
    /// The bucket, unless the action is on the service.
    pub bucket: Option<String>,
    /// The key, for object actions.
    pub key: Option<String>,
}

/// A listing's parameters, as conditions see them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// `s3:prefix` (empty when the request has none).
    pub prefix: Option<String>,
    /// `s3:delimiter`.
    pub delimiter: Option<String>,
    /// `s3:max-keys`.
    pub max_keys: Option<i64>,
}

/// What one request needs: every check must pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Need {
    /// The checks.
    pub checks: Vec<Check>,
    /// Listing parameters, for listings.
    pub listing: Listing,
}

fn on(action: Action, bucket: Option<&str>, key: Option<&str>) -> Check {
    Check {
        action,
        bucket: bucket.map(str::to_owned),
        key: key.map(str::to_owned),
    }
}

impl Need {
    fn one(action: Action, bucket: Option<&str>, key: Option<&str>) -> Self {
        Self {
            checks: vec![on(action, bucket, key)],
            listing: Listing::default(),
        }
    }

    /// This need, and `action` on `bucket`/`key` too.
    pub fn and(mut self, action: Action, bucket: Option<&str>, key: Option<&str>) -> Self {
        self.checks.push(on(action, bucket, key));
        self
    }

    fn list(action: Action, bucket: &str, listing: Listing) -> Self {
        Self {
            checks: vec![on(action, Some(bucket), None)],
            listing,
        }
    }
}

/// What an S3 request of the S3 operation `op` (s3s's name) on `bucket`/`key` needs.
/// `query` is the raw query string (listing parameters), `copy_source` the
/// `x-amz-copy-source` header, already split into bucket and key. DeleteObjects names its
/// keys in its body: its row is the bucket alone, and each key is checked with
/// [`delete_objects`] once the body is read.
pub fn s3_operation(
    op: &str,
    bucket: Option<&str>,
    key: Option<&str>,
    query: Option<&str>,
    copy_source: Option<(&str, &str)>,
) -> Option<Need> {
    use Action as A;
    let listing = || listing_of(query);
    // A request naming a version needs the version's action, as in S3.
    let versioned = query.is_some_and(|q| q.split('&').any(|p| p.starts_with("versionId=")));
    let need = match (op, bucket, key) {
        ("ListBuckets", _, _) => Need::one(A::ListAllMyBuckets, None, None),
        ("CreateBucket", Some(_), None) => Need::one(A::CreateBucket, bucket, None),
        ("HeadBucket", Some(_), None) => Need::one(A::ListBucket, bucket, None),
        ("DeleteBucket", Some(_), None) => Need::one(A::DeleteBucket, bucket, None),
        ("GetBucketLocation", Some(_), None) => Need::one(A::GetBucketLocation, bucket, None),
        ("GetBucketVersioning", Some(_), None) => Need::one(A::GetBucketVersioning, bucket, None),
        ("PutBucketVersioning", Some(_), None) => Need::one(A::PutBucketVersioning, bucket, None),
        ("GetBucketLifecycleConfiguration", Some(_), None) => {
            Need::one(A::GetLifecycleConfiguration, bucket, None)
        }
        // S3 has no DeleteLifecycleConfiguration action: removing rules is setting them.
        ("PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle", Some(_), None) => {
            Need::one(A::PutLifecycleConfiguration, bucket, None)
        }
        ("GetObjectLockConfiguration", Some(_), None) => {
            Need::one(A::GetBucketObjectLockConfiguration, bucket, None)
        }
        ("PutObjectLockConfiguration", Some(_), None) => {
            Need::one(A::PutBucketObjectLockConfiguration, bucket, None)
        }
        ("GetObjectRetention", Some(_), Some(_)) => Need::one(A::GetObjectRetention, bucket, key),
        ("PutObjectRetention", Some(_), Some(_)) => Need::one(A::PutObjectRetention, bucket, key),
        ("GetObjectLegalHold", Some(_), Some(_)) => Need::one(A::GetObjectLegalHold, bucket, key),
        ("PutObjectLegalHold", Some(_), Some(_)) => Need::one(A::PutObjectLegalHold, bucket, key),
        ("GetBucketPolicy", Some(_), None) => Need::one(A::GetBucketPolicy, bucket, None),
        ("PutBucketPolicy", Some(_), None) => Need::one(A::PutBucketPolicy, bucket, None),
        ("DeleteBucketPolicy", Some(_), None) => Need::one(A::DeleteBucketPolicy, bucket, None),
        ("GetBucketPolicyStatus", Some(_), None) => {
            Need::one(A::GetBucketPolicyStatus, bucket, None)
        }
        ("GetBucketTagging", Some(_), None) => Need::one(A::GetBucketTagging, bucket, None),
        ("PutBucketTagging" | "DeleteBucketTagging", Some(_), None) => {
            Need::one(A::PutBucketTagging, bucket, None)
        }
        ("GetObjectTagging", Some(_), Some(_)) if versioned => {
            Need::one(A::GetObjectVersionTagging, bucket, key)
        }
        ("PutObjectTagging", Some(_), Some(_)) if versioned => {
            Need::one(A::PutObjectVersionTagging, bucket, key)
        }
        ("DeleteObjectTagging", Some(_), Some(_)) if versioned => {
            Need::one(A::DeleteObjectVersionTagging, bucket, key)
        }
        ("GetObjectTagging", Some(_), Some(_)) => Need::one(A::GetObjectTagging, bucket, key),
        ("PutObjectTagging", Some(_), Some(_)) => Need::one(A::PutObjectTagging, bucket, key),
        ("DeleteObjectTagging", Some(_), Some(_)) => Need::one(A::DeleteObjectTagging, bucket, key),
        ("GetBucketAcl", Some(_), None) => Need::one(A::GetBucketAcl, bucket, None),
        ("PutBucketAcl", Some(_), None) => Need::one(A::PutBucketAcl, bucket, None),
        ("GetBucketCors", Some(_), None) => Need::one(A::GetBucketCors, bucket, None),
        // S3 has no DeleteBucketCORS action: removing rules is setting them.
        ("PutBucketCors" | "DeleteBucketCors", Some(_), None) => {
            Need::one(A::PutBucketCors, bucket, None)
        }
        ("ListObjects" | "ListObjectsV2", Some(b), None) => Need::list(A::ListBucket, b, listing()),
        ("ListObjectVersions", Some(b), None) => Need::list(A::ListBucketVersions, b, listing()),
        ("ListMultipartUploads", Some(b), None) => {
            Need::list(A::ListBucketMultipartUploads, b, listing())
        }
        ("DeleteObjects", Some(_), None) => Need {
            checks: Vec::new(),
            listing: Listing::default(),
        },
        ("GetObject" | "HeadObject" | "GetObjectAttributes", Some(_), Some(_)) if versioned => {
            Need::one(A::GetObjectVersion, bucket, key)
        }
        ("GetObject" | "HeadObject" | "GetObjectAttributes", Some(_), Some(_)) => {
            Need::one(A::GetObject, bucket, key)
        }
        ("DeleteObject", Some(_), Some(_)) if versioned => {
            Need::one(A::DeleteObjectVersion, bucket, key)
        }
        (
            "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload",
            Some(_),
            Some(_),
        ) => Need::one(A::PutObject, bucket, key),
        ("DeleteObject", Some(_), Some(_)) => Need::one(A::DeleteObject, bucket, key),
        ("GetObjectAcl", Some(_), Some(_)) => Need::one(A::GetObjectAcl, bucket, key),
        ("PutObjectAcl", Some(_), Some(_)) => Need::one(A::PutObjectAcl, bucket, key),
        ("AbortMultipartUpload", Some(_), Some(_)) => {
            Need::one(A::AbortMultipartUpload, bucket, key)
        }
        ("ListParts", Some(_), Some(_)) => Need::one(A::ListMultipartUploadParts, bucket, key),
        ("CopyObject" | "UploadPartCopy", Some(_), Some(_)) => {
            let (sb, sk) = copy_source?;
            Need {
                checks: vec![
                    on(A::GetObject, Some(sb), Some(sk)),
                    on(A::PutObject, bucket, key),
                ],
                listing: Listing::default(),
            }
        }
        _ => return None,
    };
    Some(need)
}

/// The checks of a DeleteObjects request once its keys are known.
pub fn delete_objects<'a>(bucket: &str, keys: impl IntoIterator<Item = (&'a str, bool)>) -> Need {
    Need {
        checks: keys
            .into_iter()
            .map(|(k, versioned)| {
                let action = match versioned {
                    true => Action::DeleteObjectVersion,
                    false => Action::DeleteObject,
                };
                on(action, Some(bucket), Some(k))
            })
            .collect(),
        listing: Listing::default(),
    }
}

/// The listing parameters of a query string (`prefix`, `delimiter`, `max-keys`); a listing
/// without a prefix has the prefix "" (as S3 sets `s3:prefix`).
fn listing_of(query: Option<&str>) -> Listing {
    let mut listing = Listing {
        prefix: Some(String::new()),
        ..Listing::default()
    };
    for pair in query.unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(&value.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        match name {
            "prefix" => listing.prefix = Some(value),
            "delimiter" => listing.delimiter = Some(value),
            "max-keys" => listing.max_keys = value.parse().ok(),
            _ => {}
        }
    }
    listing
}

/// The service path of the object API.
const OBJECT_SERVICE: &str = "/tessera.object.v1.ObjectService/";
/// The service path of the admin API.
const ADMIN_SERVICE: &str = "/tessera.admin.v1.AdminService/";

fn decode<M: Message + Default>(bytes: &[u8]) -> Option<M> {
    M::decode(bytes).ok()
}

fn nonempty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// What a call of the gRPC method at `path` needs, from its first message's bytes (the
/// request of a unary call, the header of a streamed upload). `None`: the method has no
/// row or its first message does not decode (root only).
pub fn grpc_method(path: &str, first: &[u8]) -> Option<Need> {
    use Action as A;
    if let Some(method) = path.strip_prefix(ADMIN_SERVICE) {
        return admin_method(method, first);
    }
    let method = path.strip_prefix(OBJECT_SERVICE)?;
    let need = match method {
        "ListBuckets" => Need::one(A::ListAllMyBuckets, None, None),
        "CreateBucket" => {
            let r: pb::CreateBucketRequest = decode(first)?;
            Need::one(A::CreateBucket, Some(&r.bucket), None)
        }
        "DeleteBucket" => {
            let r: pb::DeleteBucketRequest = decode(first)?;
            Need::one(A::DeleteBucket, Some(&r.bucket), None)
        }
        "HeadBucket" => {
            let r: pb::HeadBucketRequest = decode(first)?;
            Need::one(A::ListBucket, Some(&r.bucket), None)
        }
        "PutObject" => {
            let r: pb::PutObjectRequest = decode(first)?;
            let Some(pb::put_object_request::Msg::Header(h)) = r.msg else {
                return None;
            };
            Need::one(A::PutObject, Some(&h.bucket), Some(&h.key))
        }
        "UploadPart" => {
            let r: pb::UploadPartRequest = decode(first)?;
            let Some(pb::upload_part_request::Msg::Header(h)) = r.msg else {
                return None;
            };
            Need::one(A::PutObject, Some(&h.bucket), Some(&h.key))
        }
        "GetObject" => {
            let r: pb::GetObjectRequest = decode(first)?;
            Need::one(A::GetObject, Some(&r.bucket), Some(&r.key))
        }
        "HeadObject" => {
            let r: pb::HeadObjectRequest = decode(first)?;
            Need::one(A::GetObject, Some(&r.bucket), Some(&r.key))
        }
        // A lookup tells what lies under the name `key` (the object, its `key/` marker,
        // whether keys start with `key/`): a listing of the prefix `key`.
        "Lookup" => {
            let r: pb::LookupRequest = decode(first)?;
            let listing = Listing {
                prefix: Some(r.key),
                delimiter: Some("/".into()),
                max_keys: None,
            };
            Need::list(A::ListBucket, &r.bucket, listing)
        }
        "DeleteObject" => {
            let r: pb::DeleteObjectRequest = decode(first)?;
            Need::one(A::DeleteObject, Some(&r.bucket), Some(&r.key))
        }
        "DeleteObjects" => {
            let r: pb::DeleteObjectsRequest = decode(first)?;
            delete_objects(&r.bucket, r.keys.iter().map(|k| (k.as_str(), false)))
        }
        "CopyObject" => {
            let r: pb::CopyObjectRequest = decode(first)?;
            Need {
                checks: vec![
                    on(A::GetObject, Some(&r.src_bucket), Some(&r.src_key)),
                    on(A::PutObject, Some(&r.dst_bucket), Some(&r.dst_key)),
                ],
                listing: Listing::default(),
            }
        }
        "RenameObject" => {
            let r: pb::RenameObjectRequest = decode(first)?;
            rename(&r.bucket, &r.src_key, &r.dst_key)
        }
        "RenamePrefix" => {
            let r: pb::RenamePrefixRequest = decode(first)?;
            rename(&r.bucket, &r.src_prefix, &r.dst_prefix)
        }
        "ListObjects" => {
            let r: pb::ListObjectsRequest = decode(first)?;
            let listing = Listing {
                prefix: Some(r.prefix),
                delimiter: nonempty(&r.delimiter),
                max_keys: (r.max_keys != 0).then_some(i64::from(r.max_keys)),
            };
            Need::list(A::ListBucket, &r.bucket, listing)
        }
        "UpdateObjectMetadata" => {
            let r: pb::UpdateObjectMetadataRequest = decode(first)?;
            Need::one(A::PutObject, Some(&r.bucket), Some(&r.key))
        }
        "CreateMultipartUpload" => {
            let r: pb::CreateMultipartUploadRequest = decode(first)?;
            Need::one(A::PutObject, Some(&r.bucket), Some(&r.key))
        }
        "CompleteMultipartUpload" => {
            let r: pb::CompleteMultipartUploadRequest = decode(first)?;
            Need::one(A::PutObject, Some(&r.bucket), Some(&r.key))
        }
        "AbortMultipartUpload" => {
            let r: pb::AbortMultipartUploadRequest = decode(first)?;
            Need::one(A::AbortMultipartUpload, Some(&r.bucket), Some(&r.key))
        }
        "ListParts" => {
            let r: pb::ListPartsRequest = decode(first)?;
            Need::one(A::ListMultipartUploadParts, Some(&r.bucket), Some(&r.key))
        }
        "ListMultipartUploads" => {
            let r: pb::ListMultipartUploadsRequest = decode(first)?;
            let listing = Listing {
                prefix: Some(r.prefix),
                ..Listing::default()
            };
            Need::list(A::ListBucketMultipartUploads, &r.bucket, listing)
        }
        "ClusterInfo" => Need::one(A::ServerInfo, None, None),
        "HealBucket" => {
            let r: pb::HealBucketRequest = decode(first)?;
            Need::one(A::Heal, nonempty(&r.bucket).as_deref(), None)
        }
        _ => return None,
    };
    Some(need)
}

/// The admin API's rows: the `admin:*` actions on the whole service, except the bucket
/// policy shorthand, which needs what PutBucketPolicy (or DeleteBucketPolicy) needs.
fn admin_method(method: &str, first: &[u8]) -> Option<Need> {
    use Action as A;
    use tessera_proto::admin as adm;
    let action = match method {
        "AddUser" => A::CreateUser,
        "ListUsers" => A::ListUsers,
        "UserInfo" => A::GetUser,
        "SetUserEnabled" => {
            let r: adm::SetUserEnabledRequest = decode(first)?;
            if r.enabled {
                A::EnableUser
            } else {
                A::DisableUser
            }
        }
        "RemoveUser" => A::DeleteUser,
        "AddKey" => A::CreateServiceAccount,
        "ListKeys" => A::ListServiceAccounts,
        "RemoveKey" => A::RemoveServiceAccount,
        "AddPolicy" => A::CreatePolicy,
        "ListPolicies" => A::ListPolicies,
        "PolicyInfo" => A::GetPolicy,
        "RemovePolicy" => A::DeletePolicy,
        "AttachPolicy" => A::AttachPolicy,
        "SetBucketPolicy" => {
            let r: adm::SetBucketPolicyRequest = decode(first)?;
            let action = if r.document.is_empty() {
                A::DeleteBucketPolicy
            } else {
                A::PutBucketPolicy
            };
            return Some(Need::one(action, Some(&r.bucket), None));
        }
        _ => return None,
    };
    Some(Need::one(action, None, None))
}

fn rename(bucket: &str, src: &str, dst: &str) -> Need {
    Need {
        checks: vec![
            on(Action::GetObject, Some(bucket), Some(src)),
            on(Action::DeleteObject, Some(bucket), Some(src)),
            on(Action::PutObject, Some(bucket), Some(dst)),
        ],
        listing: Listing::default(),
    }
}
