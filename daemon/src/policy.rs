//! Policies: IAM JSON documents, their evaluation, and the table of what each S3 operation
//! and gRPC method needs. This is the one place where a request becomes allow or deny; the
//! front ends ask it and map the answer (S3 AccessDenied, gRPC PERMISSION_DENIED).
//!
//! - `document`: a policy checked and compiled (size, fields, actions, resources,
//!   principals, conditions); `condition`, `pattern`, `value`: its parts.
//! - `eval`: the decision (explicit deny wins, then allow, else deny; a key's policy only
//!   narrows; root is never evaluated).
//! - `table`: operation → actions and resources. `builtin`: `readwrite`, `readonly`,
//!   `writeonly`, `diagnostics`. `action`: the actions that exist.
//!
//! Tested by unit tests per module and a property test of the evaluator against a small
//! reference model (`tests.rs`).

mod action;
mod builtin;
mod condition;
mod document;
mod eval;
mod pattern;
mod table;
mod value;

pub use action::Action;
pub use builtin::{BUILTIN, builtins, is_builtin};
pub use condition::Context;
pub use document::{Effect, Kind, MAX_POLICY_SIZE, Policy, Who};
pub use eval::{Decision, Principal, authorize, resource_arn};
pub use pattern::Variables;
pub use table::{Check, Listing, Need, delete_objects, grpc_method, s3_operation};

/// Why a policy document is refused. Each message names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is larger than [`MAX_POLICY_SIZE`].
    #[error("the policy is {size} bytes, more than the {limit} allowed")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON, or not the shape of a policy.
    #[error("malformed policy: {reason}")]
    Malformed {
        /// What the parser says.
        reason: String,
    },
    /// A field a policy or statement does not have.
    #[error("unknown field {field:?} in the policy")]
    UnknownField {
        /// The field.
        field: String,
    },
    /// An action (or wildcard) that names no action Tessera knows.
    #[error("unknown action {action:?}")]
    UnknownAction {
        /// The action as written.
        action: String,
    },
    /// A resource this kind of policy cannot name.
    #[error("invalid resource {resource:?}: {reason}")]
    Resource {
        /// The resource as written.
        resource: String,
        /// Why.
        reason: String,
    },
    /// A `${...}` variable that is unknown or not closed.
    #[error("unknown or unclosed policy variable in {text:?}")]
    Variable {
        /// The text holding it.
        text: String,
    },
    /// A condition operator Tessera does not know.
    #[error("unknown condition operator {operator:?}")]
    Operator {
        /// The operator.
        operator: String,
    },
    /// A condition key Tessera does not fill in.
    #[error("unknown condition key {key:?}")]
    ConditionKey {
        /// The key.
        key: String,
    },
    /// A condition value that does not parse for its operator (a date, a CIDR, a bool).
    #[error("condition {operator} on {key}: invalid value {value:?}")]
    ConditionValue {
        /// The operator.
        operator: String,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// A Principal that is missing, misplaced or unsupported.
    #[error("invalid principal: {reason}")]
    Principal {
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests;
