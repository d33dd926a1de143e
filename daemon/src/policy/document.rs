//! Policy documents: IAM JSON checked and compiled into [`Policy`], the form the evaluator
//! reads. `s3s-policy` parses the grammar (one-or-many values, `*`, the Action/NotAction and
//! Resource/NotResource pairs); this module first checks what its lenient, flattened model
//! lets through (unknown fields, both `Action` and `NotAction`), then resolves every action
//! against Tessera's list, parses patterns and conditions, and checks principals and
//! resources for the document's kind.
//!
//! Invariants: a compiled policy never names an unknown action, operator or condition key;
//! an identity policy has no Principal, a bucket policy has one and names only its own
//! bucket; a document over [`MAX_POLICY_SIZE`] bytes is refused before it is parsed.

use s3s_policy::model::{self, ActionRule, ResourceRule, WildcardOneOrMore};
use serde_json::Value as Json;

use super::PolicyError;
use super::action::Action;
use super::condition::{self, Condition, Context};
use super::pattern::Pattern;

/// The largest policy document accepted, in bytes (20 KiB, S3's bucket policy limit).
pub const MAX_POLICY_SIZE: usize = 20 * 1024;

/// The ARN prefix of every S3 resource.
pub const ARN_PREFIX: &str = "arn:aws:s3:::";

/// What a document is attached to, which decides its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// Attached to a user or an access key: no Principal.
    Identity,
    /// The policy of bucket `.0`: a Principal, resources inside the bucket only.
    Bucket(&'a str),
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else grants.
    Deny,
}

/// A set of actions, resolved when the policy is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ActionSet(u64);

const _: () = assert!(Action::ALL.len() <= 64, "ActionSet is one u64");

impl ActionSet {
    fn index(action: Action) -> u32 {
        Action::ALL.iter().position(|a| *a == action).unwrap_or(0) as u32
    }
    fn contains(self, action: Action) -> bool {
        self.0 & (1 << Self::index(action)) != 0
    }
    fn all() -> Self {
        Self(Action::ALL.iter().fold(0, |m, a| m | 1 << Self::index(*a)))
    }
}

/// Who a bucket policy statement speaks to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Principals {
    /// Everyone, anonymous callers included.
    Anyone,
    /// The named users (by name or `arn:aws:iam:::user/NAME`).
    Users(Vec<String>),
}

/// Which resources a statement covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resources {
    /// `Resource: [...]` (`*` is the pattern `*`).
    Only(Vec<Pattern>),
    /// `NotResource: [...]`.
    AllBut(Vec<Pattern>),
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    effect: Effect,
    actions: ActionSet,
    resources: Resources,
    principals: Option<Principals>,
    conditions: Vec<Condition>,
}

/// A checked, compiled policy document, with its source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
    source: String,
}

/// Who asks, as a bucket policy's Principal sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who<'a> {
    /// No credentials.
    Anonymous,
    /// The user of this name.
    User(&'a str),
}

const TOP_FIELDS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_FIELDS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn malformed(reason: impl Into<String>) -> PolicyError {
    PolicyError::Malformed {
        reason: reason.into(),
    }
}

/// What the flattened s3s-policy model does not check: field names, and one of each pair.
fn check_shape(doc: &Json) -> Result<(), PolicyError> {
    let top = doc
        .as_object()
        .ok_or_else(|| malformed("a policy is a JSON object"))?;
    if let Some(field) = top.keys().find(|k| !TOP_FIELDS.contains(&k.as_str())) {
        return Err(PolicyError::UnknownField {
            field: field.clone(),
        });
    }
    let statements = match top.get("Statement") {
        Some(Json::Array(list)) => list.iter().collect(),
        Some(one @ Json::Object(_)) => vec![one],
        Some(_) => return Err(malformed("Statement is an object or a list of objects")),
        None => return Err(malformed("the policy has no Statement")),
    };
    for statement in statements {
        let fields = statement
            .as_object()
            .ok_or_else(|| malformed("each statement is a JSON object"))?;
        if let Some(field) = fields
            .keys()
            .find(|k| !STATEMENT_FIELDS.contains(&k.as_str()))
        {
            return Err(PolicyError::UnknownField {
                field: field.clone(),
            });
        }
        for (a, b) in [("Action", "NotAction"), ("Resource", "NotResource")] {
            match (fields.contains_key(a), fields.contains_key(b)) {
                (true, true) => return Err(malformed(format!("a statement has both {a} and {b}"))),
                (false, false) => return Err(malformed(format!("a statement has no {a} or {b}"))),
                _ => {}
            }
        }
        if fields.contains_key("NotPrincipal") {
            return Err(PolicyError::Principal {
                reason: "NotPrincipal is not supported".into(),
            });
        }
    }
    Ok(())
}

fn names(values: &WildcardOneOrMore<String>) -> Vec<&str> {
    match values.as_slice() {
        None => vec!["*"],
        Some(list) => list.iter().map(String::as_str).collect(),
    }
}

fn compile_actions(rule: &ActionRule) -> Result<ActionSet, PolicyError> {
    let (list, negated) = match rule {
        ActionRule::Action(v) => (v, false),
        ActionRule::NotAction(v) => (v, true),
    };
    let mut set = ActionSet::default();
    for name in names(list) {
        let pattern = Pattern::parse(name, false)?;
        let vars = Default::default();
        let matched = ActionSet(Action::ALL.iter().fold(0, |m, a| {
            if pattern.matches(a.name(), &vars, true) {
                m | 1 << ActionSet::index(*a)
            } else {
                m
            }
        }));
        if matched.0 == 0 {
            return Err(PolicyError::UnknownAction {
                action: name.to_owned(),
            });
        }
        set.0 |= matched.0;
    }
    Ok(if negated {
        ActionSet(ActionSet::all().0 & !set.0)
    } else {
        set
    })
}

fn compile_resources(rule: &ResourceRule, kind: Kind<'_>) -> Result<Resources, PolicyError> {
    let (list, negated) = match rule {
        ResourceRule::Resource(v) => (v, false),
        ResourceRule::NotResource(v) => (v, true),
    };
    let mut patterns = Vec::new();
    for name in names(list) {
        let bad = |reason: &str| PolicyError::Resource {
            resource: name.to_owned(),
            reason: reason.to_owned(),
        };
        match kind {
            Kind::Identity if name != "*" && !name.starts_with(ARN_PREFIX) => {
                return Err(bad("expected * or arn:aws:s3:::BUCKET[/KEY]"));
            }
            Kind::Bucket(bucket) => {
                let inside = name
                    .strip_prefix(ARN_PREFIX)
                    .and_then(|rest| rest.strip_prefix(bucket))
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
                if !inside {
                    return Err(bad(&format!(
                        "a policy of bucket {bucket} names only arn:aws:s3:::{bucket} and \
                         arn:aws:s3:::{bucket}/KEY"
                    )));
                }
            }
            Kind::Identity => {}
        }
        patterns.push(Pattern::parse(name, true)?);
    }
    Ok(if negated {
        Resources::AllBut(patterns)
    } else {
        Resources::Only(patterns)
    })
}

fn compile_principal(
    rule: Option<&model::PrincipalRule>,
    kind: Kind<'_>,
) -> Result<Option<Principals>, PolicyError> {
    let bad = |reason: &str| PolicyError::Principal {
        reason: reason.to_owned(),
    };
    let principal = match (rule, kind) {
        (None, Kind::Identity) => return Ok(None),
        (Some(_), Kind::Identity) => {
            return Err(bad("a user's or key's policy has no Principal"));
        }
        (None, Kind::Bucket(_)) => {
            return Err(bad("each statement of a bucket policy needs a Principal"));
        }
        (Some(model::PrincipalRule::NotPrincipal(_)), _) => {
            return Err(bad("NotPrincipal is not supported"));
        }
        (Some(model::PrincipalRule::Principal(p)), Kind::Bucket(_)) => p,
    };
    let map = match principal {
        model::Principal::Wildcard => return Ok(Some(Principals::Anyone)),
        model::Principal::Map(map) => map,
    };
    let mut users = Vec::new();
    for (kind, values) in map {
        if kind != "AWS" {
            return Err(bad(&format!(
                "principal type {kind} is not supported (only AWS)"
            )));
        }
        for value in values.as_slice() {
            if value == "*" {
                return Ok(Some(Principals::Anyone));
            }
            let name = value
                .strip_prefix("arn:aws:iam:::user/")
                .unwrap_or(value.as_str());
            users.push(name.to_owned());
        }
    }
    Ok(Some(Principals::Users(users)))
}

impl Policy {
    /// Checks and compiles `text` as a policy of `kind`.
    pub fn parse(text: &str, kind: Kind<'_>) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_SIZE {
            return Err(PolicyError::TooLarge {
                size: text.len(),
                limit: MAX_POLICY_SIZE,
            });
        }
        let doc: Json = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        check_shape(&doc)?;
        let parsed: model::Policy =
            serde_json::from_value(doc).map_err(|e| malformed(e.to_string()))?;
        let mut statements = Vec::new();
        for s in parsed.statement.as_slice() {
            statements.push(Statement {
                effect: match s.effect {
                    model::Effect::Allow => Effect::Allow,
                    model::Effect::Deny => Effect::Deny,
                },
                actions: compile_actions(&s.action)?,
                resources: compile_resources(&s.resource, kind)?,
                principals: compile_principal(s.principal.as_ref(), kind)?,
                conditions: match &s.condition {
                    Some(rule) => condition::compile(rule)?,
                    None => Vec::new(),
                },
            });
        }
        Ok(Self {
            statements,
            source: text.to_owned(),
        })
    }

    /// The document as it was given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// What the policy says about `action` on `resource` (an ARN) for `who`: `Deny` when a
    /// matching statement denies, else `Allow` when one allows, else nothing.
    pub fn effect(
        &self,
        action: Action,
        resource: &str,
        who: Who<'_>,
        ctx: &Context<'_>,
    ) -> Option<Effect> {
        let mut allowed = false;
        for s in &self.statements {
            if !s.actions.contains(action) || !s.covers(resource, ctx) || !s.speaks_to(who) {
                continue;
            }
            if !s.conditions.iter().all(|c| c.holds(ctx)) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Some(Effect::Deny),
                Effect::Allow => allowed = true,
            }
        }
        allowed.then_some(Effect::Allow)
    }

    /// Whether some statement allows anonymous callers anything (GetBucketPolicyStatus).
    pub fn is_public(&self) -> bool {
        self.statements
            .iter()
            .any(|s| s.effect == Effect::Allow && s.principals == Some(Principals::Anyone))
    }
}

impl Statement {
    fn covers(&self, resource: &str, ctx: &Context<'_>) -> bool {
        let hit = |ps: &[Pattern]| ps.iter().any(|p| p.matches(resource, &ctx.vars, false));
        match &self.resources {
            Resources::Only(ps) => hit(ps),
            Resources::AllBut(ps) => !hit(ps),
        }
    }

    fn speaks_to(&self, who: Who<'_>) -> bool {
        match (&self.principals, who) {
            (None, _) => true,
            (Some(Principals::Anyone), _) => true,
            (Some(Principals::Users(names)), Who::User(name)) => names.iter().any(|n| n == name),
            (Some(Principals::Users(_)), Who::Anonymous) => false,
        }
    }
}
