//! The actions Tessera authorizes: every S3 action a request can need and the `admin:*`
//! actions of the admin API, each with its IAM name.
//!
//! Invariant: a policy names only actions listed here (or wildcards that match at least one
//! of them); anything else is refused when the policy is added, so a typo never silently
//! grants or denies nothing.

use std::fmt;

macro_rules! actions {
    ($($variant:ident = $name:literal, $doc:literal;)*) => {
        /// One authorizable action.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $(#[doc = $doc] $variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The IAM name (`s3:GetObject`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    ListAllMyBuckets = "s3:ListAllMyBuckets", "List the buckets (each shown only when the caller may list it).";
    CreateBucket = "s3:CreateBucket", "Create a bucket.";
    DeleteBucket = "s3:DeleteBucket", "Delete an empty bucket.";
    ListBucket = "s3:ListBucket", "List a bucket's keys, or see that it exists (HeadBucket).";
    ListBucketVersions = "s3:ListBucketVersions", "List a bucket's object versions.";
    ListBucketMultipartUploads = "s3:ListBucketMultipartUploads", "List a bucket's multipart uploads.";
    GetBucketLocation = "s3:GetBucketLocation", "Read a bucket's region.";
    GetBucketVersioning = "s3:GetBucketVersioning", "Read a bucket's versioning state.";
    PutBucketVersioning = "s3:PutBucketVersioning", "Enable or suspend a bucket's versioning.";
    GetLifecycleConfiguration = "s3:GetLifecycleConfiguration", "Read a bucket's lifecycle rules.";
    PutLifecycleConfiguration = "s3:PutLifecycleConfiguration", "Set or remove a bucket's lifecycle rules.";
    GetBucketObjectLockConfiguration = "s3:GetBucketObjectLockConfiguration", "Read a bucket's object lock configuration.";
    PutBucketObjectLockConfiguration = "s3:PutBucketObjectLockConfiguration", "Enable object lock and set a bucket's default retention.";
    GetBucketPolicy = "s3:GetBucketPolicy", "Read a bucket's policy.";
    PutBucketPolicy = "s3:PutBucketPolicy", "Set a bucket's policy.";
    DeleteBucketPolicy = "s3:DeleteBucketPolicy", "Remove a bucket's policy.";
    GetBucketPolicyStatus = "s3:GetBucketPolicyStatus", "Read whether a bucket's policy makes it public.";
    GetBucketTagging = "s3:GetBucketTagging", "Read a bucket's tags.";
    PutBucketTagging = "s3:PutBucketTagging", "Set or remove a bucket's tags.";
    GetBucketAcl = "s3:GetBucketAcl", "Read a bucket's ACL (the owner's full control, and public reads).";
    PutBucketAcl = "s3:PutBucketAcl", "Set a bucket's canned ACL (private or public-read).";
    GetBucketCors = "s3:GetBucketCORS", "Read a bucket's CORS rules.";
    PutBucketCors = "s3:PutBucketCORS", "Set or remove a bucket's CORS rules.";
    GetObjectAcl = "s3:GetObjectAcl", "Read an object's ACL (the owner's full control).";
    PutObjectAcl = "s3:PutObjectAcl", "Set an object's canned ACL (private only).";
    GetObject = "s3:GetObject", "Read an object (GET, HEAD, a copy's source).";
    PutObject = "s3:PutObject", "Write an object (PUT, a copy's target, multipart uploads).";
    DeleteObject = "s3:DeleteObject", "Delete an object (and a rename's source).";
    GetObjectVersion = "s3:GetObjectVersion", "Read an object's version named by its id.";
    DeleteObjectVersion = "s3:DeleteObjectVersion", "Delete an object's version named by its id.";
    GetObjectVersionTagging = "s3:GetObjectVersionTagging", "Read the tags of a version named by its id.";
    PutObjectVersionTagging = "s3:PutObjectVersionTagging", "Set the tags of a version named by its id.";
    DeleteObjectVersionTagging = "s3:DeleteObjectVersionTagging", "Remove the tags of a version named by its id.";
    GetObjectRetention = "s3:GetObjectRetention", "Read a version's retention.";
    PutObjectRetention = "s3:PutObjectRetention", "Set a version's retention.";
    GetObjectLegalHold = "s3:GetObjectLegalHold", "Read a version's legal hold.";
    PutObjectLegalHold = "s3:PutObjectLegalHold", "Put or lift a version's legal hold.";
    BypassGovernanceRetention = "s3:BypassGovernanceRetention", "Delete or shorten what GOVERNANCE retention protects.";
    GetObjectTagging = "s3:GetObjectTagging", "Read an object's tags.";
    PutObjectTagging = "s3:PutObjectTagging", "Set an object's tags.";
    DeleteObjectTagging = "s3:DeleteObjectTagging", "Remove an object's tags.";
    AbortMultipartUpload = "s3:AbortMultipartUpload", "Abort a multipart upload.";
    ListMultipartUploadParts = "s3:ListMultipartUploadParts", "List an upload's parts.";
    ServerInfo = "admin:ServerInfo", "Read the cluster's sets, drives and capacity.";
    Heal = "admin:Heal", "Start a heal of a bucket or prefix.";
    Prometheus = "admin:Prometheus", "Read the metrics.";
    CreateUser = "admin:CreateUser", "Add a user.";
    DeleteUser = "admin:DeleteUser", "Remove a user.";
    ListUsers = "admin:ListUsers", "List the users.";
    GetUser = "admin:GetUser", "Read a user's state, policies and keys.";
    EnableUser = "admin:EnableUser", "Enable a user.";
    DisableUser = "admin:DisableUser", "Disable a user.";
    CreateServiceAccount = "admin:CreateServiceAccount", "Add an access key to a user.";
    ListServiceAccounts = "admin:ListServiceAccounts", "List a user's access keys.";
    RemoveServiceAccount = "admin:RemoveServiceAccount", "Remove an access key.";
    CreatePolicy = "admin:CreatePolicy", "Add or replace a named policy.";
    DeletePolicy = "admin:DeletePolicy", "Remove a named policy.";
    GetPolicy = "admin:GetPolicy", "Read a named policy.";
    ListPolicies = "admin:ListPolicies", "List the named policies.";
    AttachPolicy = "admin:AttachUserOrGroupPolicy", "Attach a policy to a user.";
}

impl Action {
    /// The action named `name` (case-insensitive, as in IAM).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Whether the action is one of the admin API's (`admin:*`).
    pub fn is_admin(self) -> bool {
        self.name().starts_with("admin:")
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_distinct_name_that_parses_back() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(*a));
            assert_eq!(Action::from_name(&a.name().to_uppercase()), Some(*a));
        }
        assert_eq!(Action::from_name("s3:GetObjekt"), None);
    }
}
