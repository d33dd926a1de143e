//! The property test: the evaluator against a reference model written as plainly as
//! possible (and the wildcard matcher against its naive definition).

use proptest::prelude::*;

use super::*;

/// A naive recursive wildcard matcher: the definition of `*` and `?`.
fn ref_glob(p: &[char], s: &[char], fold: bool) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => ref_glob(&p[1..], s, fold) || (!s.is_empty() && ref_glob(p, &s[1..], fold)),
        Some('?') => !s.is_empty() && ref_glob(&p[1..], &s[1..], fold),
        Some(c) => {
            s.first()
                .is_some_and(|x| x == c || (fold && x.eq_ignore_ascii_case(c)))
                && ref_glob(&p[1..], &s[1..], fold)
        }
    }
}

fn glob_str(p: &str, s: &str, fold: bool) -> bool {
    ref_glob(
        &p.chars().collect::<Vec<_>>(),
        &s.chars().collect::<Vec<_>>(),
        fold,
    )
}

#[derive(Debug, Clone)]
struct RefStatement {
    allow: bool,
    not_action: bool,
    actions: Vec<&'static str>,
    not_resource: bool,
    resources: Vec<&'static str>,
    /// (operator, values) on s3:prefix.
    condition: Option<(&'static str, Vec<&'static str>)>,
}

const ACTION_PATTERNS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:Get*",
    "s3:*",
    "*",
    "s3:List*",
    "s3:?etObject",
    "S3:getobject",
];
const ACTIONS: &[Action] = &[
    Action::GetObject,
    Action::PutObject,
    Action::ListBucket,
    Action::DeleteObject,
    Action::GetBucketLocation,
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b?/a*",
    "arn:aws:s3:::*/x",
    "arn:aws:s3:::b2/a/b",
];
const OPERATORS: &[&str] = &[
    "StringLike",
    "StringEquals",
    "StringNotLike",
    "StringNotEquals",
];
const VALUES: &[&str] = &["a*", "", "a/b", "*"];

fn statement() -> impl Strategy<Value = RefStatement> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(prop::sample::select(ACTION_PATTERNS), 1..3),
        any::<bool>(),
        prop::collection::vec(prop::sample::select(RESOURCES), 1..3),
        prop::option::of((
            prop::sample::select(OPERATORS),
            prop::collection::vec(prop::sample::select(VALUES), 1..3),
        )),
    )
        .prop_map(
            |(allow, not_action, actions, not_resource, resources, condition)| RefStatement {
                allow,
                not_action,
                actions,
                not_resource,
                resources,
                condition,
            },
        )
}

fn to_json(statements: &[RefStatement]) -> String {
    let list: Vec<serde_json::Value> = statements
        .iter()
        .map(|s| {
            let mut m = serde_json::Map::new();
            m.insert(
                "Effect".into(),
                (if s.allow { "Allow" } else { "Deny" }).into(),
            );
            let a = if s.not_action { "NotAction" } else { "Action" };
            m.insert(a.into(), s.actions.clone().into());
            let r = if s.not_resource {
                "NotResource"
            } else {
                "Resource"
            };
            m.insert(r.into(), s.resources.clone().into());
            if let Some((op, values)) = &s.condition {
                m.insert(
                    "Condition".into(),
                    serde_json::json!({ *op: { "s3:prefix": values } }),
                );
            }
            serde_json::Value::Object(m)
        })
        .collect();
    serde_json::json!({ "Version": "2012-10-17", "Statement": list }).to_string()
}

/// The reference: Some(true) allow, Some(false) deny, None no statement applies.
fn ref_effect(
    statements: &[RefStatement],
    action: Action,
    resource: &str,
    prefix: Option<&str>,
) -> Option<bool> {
    let mut allowed = None;
    for s in statements {
        let named = s.actions.iter().any(|p| glob_str(p, action.name(), true));
        if named == s.not_action {
            continue;
        }
        let covered = s.resources.iter().any(|p| glob_str(p, resource, false));
        if covered == s.not_resource {
            continue;
        }
        if let Some((op, values)) = &s.condition {
            let negated = op.contains("Not");
            let holds = match prefix {
                None => negated,
                Some(prefix) => {
                    let any = values.iter().any(|v| {
                        if op.ends_with("Like") {
                            glob_str(v, prefix, false)
                        } else {
                            v == &prefix
                        }
                    });
                    any != negated
                }
            };
            if !holds {
                continue;
            }
        }
        if !s.allow {
            return Some(false);
        }
        allowed = Some(true);
    }
    allowed
}

fn ref_decision(
    user: &[Vec<RefStatement>],
    key: Option<&Vec<RefStatement>>,
    action: Action,
    resource: &str,
    prefix: Option<&str>,
) -> Decision {
    let effects: Vec<_> = user
        .iter()
        .map(|p| ref_effect(p, action, resource, prefix))
        .collect();
    let key_effect = key.map(|k| ref_effect(k, action, resource, prefix));
    if effects.contains(&Some(false)) || key_effect == Some(Some(false)) {
        return Decision::ExplicitDeny;
    }
    let user_allows = effects.contains(&Some(true));
    let key_allows = key_effect.is_none_or(|e| e == Some(true));
    if user_allows && key_allows {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn evaluator_agrees_with_the_reference_model(
        user in prop::collection::vec(prop::collection::vec(statement(), 1..4), 0..3),
        key in prop::option::of(prop::collection::vec(statement(), 1..3)),
        action in prop::sample::select(ACTIONS),
        bucket in prop::sample::select(&["b1", "b2", "c"][..]),
        key_name in prop::option::of(prop::sample::select(&["a", "a/b", "x", "ab/x", "b"][..])),
        prefix in prop::option::of(prop::sample::select(&["", "a", "a/b", "a*"][..])),
    ) {
        let compiled: Vec<Arc<Policy>> = user
            .iter()
            .map(|p| Arc::new(Policy::parse(&to_json(p), Kind::Identity).unwrap()))
            .collect();
        let key_policy = key.as_ref().map(|k| Policy::parse(&to_json(k), Kind::Identity).unwrap());
        let resource = resource_arn(Some(bucket), key_name);
        let c = Context { prefix, ..ctx() };
        let principal = Principal::User {
            name: "alice",
            policies: &compiled,
            key_policy: key_policy.as_ref(),
        };
        let got = authorize(principal, None, action, &resource, &c);
        let want = ref_decision(&user, key.as_ref(), action, &resource, prefix);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn pattern_matching_agrees_with_the_naive_definition(
        pattern in "[ab*?/]{0,8}",
        input in "[ab/]{0,10}",
    ) {
        let p = pattern::Pattern::parse(&pattern, false).unwrap();
        prop_assert_eq!(
            p.matches(&input, &Variables::default(), false),
            glob_str(&pattern, &input, false)
        );
    }

    #[test]
    fn no_document_text_panics_the_parser(text in ".{0,200}") {
        let _ = Policy::parse(&text, Kind::Identity);
        let _ = Policy::parse(&text, Kind::Bucket("b"));
    }
}
