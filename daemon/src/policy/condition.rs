//! A statement's Condition block: the operators, the condition keys Tessera knows and how
//! one condition holds against a request's [`Context`].
//!
//! Rules (IAM's): operators of a block, and keys under one operator, must all hold; the
//! values under one key hold when any matches (for a negated operator such as
//! `StringNotEquals`, when none does). A key the request lacks fails the condition, except
//! under `…IfExists` and negated operators, where it holds; `Null: true` holds exactly when
//! it is absent. Unknown operators, unknown keys and values that do not parse for their
//! operator are refused when the policy is added.

use std::net::IpAddr;

use s3s_policy::model::ConditionRule;

use super::PolicyError;
use super::pattern::{Pattern, Variables};
use super::value::{Cidr, Value, parse_bool, parse_date};

/// What a request offers to conditions.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Values of `${aws:username}` and `${aws:userid}`.
    pub vars: Variables<'a>,
    /// The client's address (`aws:SourceIp`).
    pub source_ip: Option<IpAddr>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// Now, in seconds since the epoch (`aws:CurrentTime`, `aws:EpochTime`).
    pub now: i64,
    /// A listing's prefix (`s3:prefix`); empty when the listing has none.
    pub prefix: Option<&'a str>,
    /// A listing's delimiter (`s3:delimiter`).
    pub delimiter: Option<&'a str>,
    /// A listing's page size (`s3:max-keys`).
    pub max_keys: Option<i64>,
}

/// The condition keys Tessera fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Prefix,
    Delimiter,
    MaxKeys,
    SourceIp,
    SecureTransport,
    CurrentTime,
    EpochTime,
    UserName,
    UserId,
}

impl Key {
    const NAMES: &[(&'static str, Key)] = &[
        ("s3:prefix", Key::Prefix),
        ("s3:delimiter", Key::Delimiter),
        ("s3:max-keys", Key::MaxKeys),
        ("aws:SourceIp", Key::SourceIp),
        ("aws:SecureTransport", Key::SecureTransport),
        ("aws:CurrentTime", Key::CurrentTime),
        ("aws:EpochTime", Key::EpochTime),
        ("aws:username", Key::UserName),
        ("aws:userid", Key::UserId),
    ];

    fn parse(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, k)| *k)
    }

    fn value<'a>(self, ctx: &Context<'a>) -> Option<Value<'a>> {
        match self {
            Key::Prefix => ctx.prefix.map(Value::Text),
            Key::Delimiter => ctx.delimiter.map(Value::Text),
            Key::MaxKeys => ctx.max_keys.map(Value::Number),
            Key::SourceIp => ctx.source_ip.map(Value::Ip),
            Key::SecureTransport => Some(Value::Bool(ctx.secure_transport)),
            Key::CurrentTime | Key::EpochTime => Some(Value::Time(ctx.now)),
            Key::UserName => ctx.vars.username.map(Value::Text),
            Key::UserId => ctx.vars.userid.map(Value::Text),
        }
    }
}

/// How values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    StringEquals { fold: bool },
    StringLike,
    Numeric(std::cmp::Ordering, bool),
    Date(std::cmp::Ordering, bool),
    Ip,
    Bool,
    Null,
}

/// A parsed operator: its comparison, whether it is negated, whether `…IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    kind: Kind,
    negated: bool,
    if_exists: bool,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let (base, if_exists) = match name.strip_suffix("IfExists") {
            Some(base) if name != "IfExists" => (base, true),
            _ => (name, false),
        };
        let (kind, negated) = match base {
            "StringEquals" => (Kind::StringEquals { fold: false }, false),
            "StringNotEquals" => (Kind::StringEquals { fold: false }, true),
            "StringEqualsIgnoreCase" => (Kind::StringEquals { fold: true }, false),
            "StringNotEqualsIgnoreCase" => (Kind::StringEquals { fold: true }, true),
            "StringLike" => (Kind::StringLike, false),
            "StringNotLike" => (Kind::StringLike, true),
            "NumericEquals" => (Kind::Numeric(Equal, false), false),
            "NumericNotEquals" => (Kind::Numeric(Equal, false), true),
            "NumericLessThan" => (Kind::Numeric(Less, false), false),
            "NumericLessThanEquals" => (Kind::Numeric(Less, true), false),
            "NumericGreaterThan" => (Kind::Numeric(Greater, false), false),
            "NumericGreaterThanEquals" => (Kind::Numeric(Greater, true), false),
            "DateEquals" => (Kind::Date(Equal, false), false),
            "DateNotEquals" => (Kind::Date(Equal, false), true),
            "DateLessThan" => (Kind::Date(Less, false), false),
            "DateLessThanEquals" => (Kind::Date(Less, true), false),
            "DateGreaterThan" => (Kind::Date(Greater, false), false),
            "DateGreaterThanEquals" => (Kind::Date(Greater, true), false),
            "IpAddress" => (Kind::Ip, false),
            "NotIpAddress" => (Kind::Ip, true),
            "Bool" => (Kind::Bool, false),
            "Null" if !if_exists => (Kind::Null, false),
            _ => return None,
        };
        Some(Self {
            kind,
            negated,
            if_exists,
        })
    }
}

/// The policy's values under one key, parsed for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Values {
    Strings(Vec<Pattern>),
    Numbers(Vec<i64>),
    Dates(Vec<i64>),
    Cidrs(Vec<Cidr>),
    Bools(Vec<bool>),
}

/// One operator applied to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    op: Operator,
    key: Key,
    values: Values,
}

/// Parses a statement's Condition block.
pub fn compile(rule: &ConditionRule) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (op_name, keys) in &rule.0 {
        let op = Operator::parse(op_name).ok_or_else(|| PolicyError::Operator {
            operator: op_name.clone(),
        })?;
        for (key_name, values) in &keys.0 {
            let key = Key::parse(key_name).ok_or_else(|| PolicyError::ConditionKey {
                key: key_name.clone(),
            })?;
            let raw = values.as_slice();
            let bad = |value: &str| PolicyError::ConditionValue {
                operator: op_name.clone(),
                key: key_name.clone(),
                value: value.to_owned(),
            };
            let parse_all = |f: &dyn Fn(&str) -> Option<i64>| {
                raw.iter()
                    .map(|v| f(v).ok_or_else(|| bad(v)))
                    .collect::<Result<Vec<_>, _>>()
            };
            let values = match op.kind {
                Kind::StringEquals { .. } | Kind::StringLike => Values::Strings(
                    raw.iter()
                        .map(|v| Pattern::parse(v, true))
                        .collect::<Result<_, _>>()?,
                ),
                Kind::Numeric(..) => Values::Numbers(parse_all(&|v| v.parse().ok())?),
                Kind::Date(..) => Values::Dates(parse_all(&parse_date)?),
                Kind::Ip => Values::Cidrs(
                    raw.iter()
                        .map(|v| Cidr::parse(v).ok_or_else(|| bad(v)))
                        .collect::<Result<_, _>>()?,
                ),
                Kind::Bool | Kind::Null => Values::Bools(
                    raw.iter()
                        .map(|v| parse_bool(v).ok_or_else(|| bad(v)))
                        .collect::<Result<_, _>>()?,
                ),
            };
            out.push(Condition { op, key, values });
        }
    }
    Ok(out)
}

fn compare(actual: i64, wanted: i64, order: std::cmp::Ordering, or_equal: bool) -> bool {
    let got = actual.cmp(&wanted);
    got == order || (or_equal && got == std::cmp::Ordering::Equal)
}

impl Condition {
    /// Whether the condition holds for `ctx`.
    pub fn holds(&self, ctx: &Context<'_>) -> bool {
        let actual = self.key.value(ctx);
        if self.op.kind == Kind::Null {
            let Values::Bools(wanted) = &self.values else {
                return false;
            };
            return wanted.iter().any(|&null| null == actual.is_none());
        }
        let Some(actual) = actual else {
            return self.op.if_exists || self.op.negated;
        };
        let any = match (&self.values, self.op.kind) {
            (Values::Strings(ps), Kind::StringEquals { fold }) => {
                let text = actual.text();
                ps.iter().any(|p| p.equals(&text, &ctx.vars, fold))
            }
            (Values::Strings(ps), Kind::StringLike) => {
                let text = actual.text();
                ps.iter().any(|p| p.matches(&text, &ctx.vars, false))
            }
            (Values::Numbers(ns), Kind::Numeric(order, eq)) => actual
                .number()
                .is_some_and(|a| ns.iter().any(|&n| compare(a, n, order, eq))),
            (Values::Dates(ds), Kind::Date(order, eq)) => actual
                .time()
                .is_some_and(|a| ds.iter().any(|&d| compare(a, d, order, eq))),
            (Values::Cidrs(cs), Kind::Ip) => actual
                .ip()
                .is_some_and(|ip| cs.iter().any(|c| c.contains(ip))),
            (Values::Bools(bs), Kind::Bool) => actual.boolean().is_some_and(|a| bs.contains(&a)),
            _ => false,
        };
        any != self.op.negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context {
            vars: Variables {
                username: Some("alice"),
                userid: Some("alice"),
            },
            source_ip: Some("10.0.0.7".parse().unwrap()),
            secure_transport: false,
            now: 1_796_500_800,
            prefix: Some("home/alice/"),
            delimiter: Some("/"),
            max_keys: None,
        }
    }

    fn holds(json: &str) -> Result<bool, PolicyError> {
        let rule: ConditionRule = serde_json::from_str(json).unwrap();
        Ok(compile(&rule)?.iter().all(|c| c.holds(&ctx())))
    }

    #[test]
    fn operators_compare_the_request_values() {
        assert!(holds(r#"{"StringLike":{"s3:prefix":["home/${aws:username}/*"]}}"#).unwrap());
        assert!(!holds(r#"{"StringLike":{"s3:prefix":"other/*"}}"#).unwrap());
        assert!(holds(r#"{"StringEquals":{"s3:delimiter":"/"}}"#).unwrap());
        assert!(holds(r#"{"StringNotEquals":{"s3:delimiter":["|",","]}}"#).unwrap());
        assert!(holds(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#).unwrap());
        assert!(!holds(r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#).unwrap());
        assert!(holds(r#"{"Bool":{"aws:SecureTransport":"false"}}"#).unwrap());
        assert!(holds(r#"{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}"#).unwrap());
        assert!(!holds(r#"{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01"}}"#).unwrap());
        assert!(holds(r#"{"Null":{"s3:max-keys":"true"}}"#).unwrap());
    }

    #[test]
    fn a_missing_key_fails_unless_negated_or_if_exists() {
        assert!(!holds(r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#).unwrap());
        assert!(holds(r#"{"NumericLessThanIfExists":{"s3:max-keys":"10"}}"#).unwrap());
        assert!(holds(r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#).unwrap());
    }

    #[test]
    fn unknown_operators_keys_and_bad_values_are_refused() {
        assert!(matches!(
            holds(r#"{"StringSorta":{"s3:prefix":"a"}}"#),
            Err(PolicyError::Operator { .. })
        ));
        assert!(matches!(
            holds(r#"{"StringLike":{"s3:prefixx":"a"}}"#),
            Err(PolicyError::ConditionKey { .. })
        ));
        assert!(matches!(
            holds(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/40"}}"#),
            Err(PolicyError::ConditionValue { .. })
        ));
        assert!(matches!(
            holds(r#"{"DateLessThan":{"aws:CurrentTime":"soon"}}"#),
            Err(PolicyError::ConditionValue { .. })
        ));
        assert!(matches!(
            holds(r#"{"Bool":{"aws:SecureTransport":"yes"}}"#),
            Err(PolicyError::ConditionValue { .. })
        ));
    }
}
