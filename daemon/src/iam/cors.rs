//! A bucket's CORS rules (S3's CORSConfiguration): what they may hold, and which rule a
//! browser's request matches. The rules are stored beside the bucket's policy in the
//! identity record, so every node answers from the same rules within a second of a change
//! and a preflight costs a map lookup.
//!
//! Matching is S3's: the first rule whose origins match the `Origin` (one `*` wildcard
//! each), whose methods hold the method, and whose headers match every requested header
//! (case-insensitive, one `*` each) applies. Tested by the unit tests below and end to end
//! in `s3_cors`.

use serde::{Deserialize, Serialize};

use super::IamError;

/// The most rules a bucket holds (S3's limit).
pub const MAX_RULES: usize = 100;

/// The methods a rule may allow.
const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];

/// One CORS rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    /// The rule's name, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Origins (`https://app.example`, `*`, `https://*.example`).
    pub allowed_origins: Vec<String>,
    /// Methods: GET, PUT, POST, DELETE, HEAD.
    pub allowed_methods: Vec<String>,
    /// Headers a preflight may ask for (`*` wildcards).
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may show the page.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

fn invalid(reason: impl Into<String>) -> IamError {
    IamError::Cors {
        reason: reason.into(),
    }
}

/// Checks a bucket's rules as S3 does: 1 to [`MAX_RULES`] rules, each with an origin and a
/// known method, at most one `*` per origin or header.
pub fn check_rules(rules: &[CorsRule]) -> Result<(), IamError> {
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(invalid(format!(
            "a CORS configuration holds 1 to {MAX_RULES} rules, not {}",
            rules.len()
        )));
    }
    for rule in rules {
        if rule.allowed_origins.is_empty() || rule.allowed_methods.is_empty() {
            return Err(invalid(
                "each rule needs an AllowedOrigin and an AllowedMethod",
            ));
        }
        if let Some(m) = (rule.allowed_methods.iter()).find(|m| !METHODS.contains(&m.as_str())) {
            return Err(invalid(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
        let patterns = rule.allowed_origins.iter().chain(&rule.allowed_headers);
        if let Some(p) = patterns.into_iter().find(|p| p.matches('*').count() > 1) {
            return Err(invalid(format!(
                "{p:?} can not have more than one wildcard."
            )));
        }
        if rule.max_age_seconds.is_some_and(|s| s < 0) {
            return Err(invalid("MaxAgeSeconds cannot be negative"));
        }
    }
    Ok(())
}

/// Whether `value` matches `pattern`, which holds at most one `*`.
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.is_char_boundary(head.len())
                && value.is_char_boundary(value.len() - tail.len())
                && eq(&value[..head.len()], head)
                && eq(&value[value.len() - tail.len()..], tail)
        }
    }
}

/// The first rule that lets `origin` make a `method` request with `headers` (a
/// preflight's `Access-Control-Request-Headers`; none for an actual request).
pub fn matching<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    headers: &[&str],
) -> Option<&'a CorsRule> {
    rules.iter().find(|rule| {
        rule.allowed_origins
            .iter()
            .any(|o| wildcard(o, origin, false))
            && rule.allowed_methods.iter().any(|m| m == method)
            && headers
                .iter()
                .all(|h| (rule.allowed_headers.iter()).any(|allowed| wildcard(allowed, h, true)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            ..CorsRule::default()
        }
    }

    #[test]
    fn the_first_rule_that_allows_origin_method_and_headers_applies() {
        let rules = vec![
            rule(&["https://app.example"], &["PUT"], &["content-type"]),
            rule(&["https://*.example"], &["GET", "PUT"], &["x-amz-*"]),
            rule(&["*"], &["GET"], &[]),
        ];
        let m =
            |o, me, h: &[&str]| matching(&rules, o, me, h).map(|r| r.allowed_origins[0].clone());
        assert_eq!(
            m("https://app.example", "PUT", &["Content-Type"]).as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            m("https://app.example", "PUT", &["x-amz-date"]).as_deref(),
            Some("https://*.example")
        );
        assert_eq!(m("https://other.test", "GET", &[]).as_deref(), Some("*"));
        assert_eq!(m("https://other.test", "PUT", &[]), None);
        assert_eq!(m("https://other.test", "GET", &["x-custom"]), None);
        assert_eq!(m("http://a.example", "DELETE", &[]), None);
    }

    #[test]
    fn rules_s3_refuses_are_refused() {
        assert!(check_rules(&[rule(&["*"], &["GET"], &["*"])]).is_ok());
        assert!(check_rules(&[]).is_err());
        assert!(check_rules(&[rule(&["*"], &["PATCH"], &[])]).is_err());
        assert!(check_rules(&[rule(&[], &["GET"], &[])]).is_err());
        assert!(check_rules(&[rule(&["https://*.*.example"], &["GET"], &[])]).is_err());
        assert!(check_rules(&vec![rule(&["*"], &["GET"], &[]); MAX_RULES + 1]).is_err());
    }

    #[test]
    fn wildcards_match_one_run_of_characters() {
        assert!(wildcard("https://*.example", "https://a.b.example", false));
        assert!(!wildcard("https://*.example", "https://example", false));
        assert!(wildcard("x-amz-*", "X-Amz-Date", true));
        assert!(!wildcard(
            "https://APP.example",
            "https://app.example",
            false
        ));
    }
}
