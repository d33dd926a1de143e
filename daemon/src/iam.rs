//! Identities: users, their access keys and named policies, and bucket policies and CORS
//! rules (`cors`); where they
//! are stored (`store`: a record in the cluster's system area, reloaded by every node), how
//! they are checked and changed (`model`, `admin`), how secrets are sealed (`seal`), each
//! node's compiled view (`snapshot`), and the one place requests are authorized (`access`).
//!
//! Tested by unit tests of the model and the sealing, and end to end by the e2e `iam_`
//! tests (real nodes, the S3 SDK, gRPC, a mount).

mod access;
mod admin;
pub mod cors;
mod model;
mod seal;
mod snapshot;
mod store;

pub use access::{Denied, Env, KeyRefusal};
pub use admin::{NewKey, UserInfo};
pub use model::{AccessKey, State, User, check_user_name};
pub use snapshot::{Identity, UserIdentity};
pub use store::{Iam, Notify, RELOAD_EVERY};

use crate::object::ObjectError;
use crate::policy::PolicyError;

/// Why an identity operation failed. Each message names what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// A user name outside `[A-Za-z0-9+=,.@_-]{1,64}`.
    #[error("invalid user name {name:?}: use 1 to 64 of A-Z a-z 0-9 + = , . @ _ -")]
    InvalidUserName {
        /// The name given.
        name: String,
    },
    /// A policy name outside the user-name rules.
    #[error("invalid policy name {name:?}: use 1 to 64 of A-Z a-z 0-9 + = , . @ _ -")]
    InvalidPolicyName {
        /// The name given.
        name: String,
    },
    /// An access key id outside `[A-Za-z0-9+=,.@_-]{3,128}`.
    #[error("invalid access key {key:?}: use 3 to 128 of A-Z a-z 0-9 + = , . @ _ -")]
    InvalidAccessKey {
        /// The id given.
        key: String,
    },
    /// A secret that is too short, too long or not printable ASCII.
    #[error("invalid secret key: use 8 to 128 printable ASCII characters without spaces")]
    InvalidSecret,
    /// The user exists already.
    #[error("user {name} already exists")]
    UserExists {
        /// The name.
        name: String,
    },
    /// No such user.
    #[error("no such user: {name}")]
    NoSuchUser {
        /// The name.
        name: String,
    },
    /// The access key exists already.
    #[error("access key {key} already exists")]
    KeyExists {
        /// The id.
        key: String,
    },
    /// No such access key.
    #[error("no such access key: {key}")]
    NoSuchKey {
        /// The id.
        key: String,
    },
    /// No such named policy.
    #[error("no such policy: {name}")]
    NoSuchPolicy {
        /// The name.
        name: String,
    },
    /// A built-in policy cannot be replaced or removed.
    #[error("{name} is a built-in policy: it cannot be replaced or removed")]
    BuiltinPolicy {
        /// The name.
        name: String,
    },
    /// A policy still attached to a user cannot be removed.
    #[error("policy {name} is attached to user {user}")]
    PolicyInUse {
        /// The policy.
        name: String,
        /// A user holding it.
        user: String,
    },
    /// The root credentials (or the cluster key) cannot be taken, removed or narrowed.
    #[error("the root credentials cannot be changed, removed or narrowed")]
    Root,
    /// The policy document is refused.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A bucket's CORS rules are refused.
    #[error("invalid CORS configuration: {reason}")]
    Cors {
        /// What is wrong.
        reason: String,
    },
    /// A secret could not be sealed or opened (the root credentials changed?).
    #[error("the secret of access key {access_key} cannot be opened")]
    Seal {
        /// The key.
        access_key: String,
    },
    /// The stored record does not parse.
    #[error("the identity record is unreadable: {0}")]
    Corrupt(String),
    /// The change lock was not granted.
    #[error("identities are being changed elsewhere: {0}")]
    Busy(String),
    /// Reading or writing the record failed.
    #[error(transparent)]
    Storage(#[from] ObjectError),
}

#[cfg(test)]
mod tests;
