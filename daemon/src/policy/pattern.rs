//! Wildcard patterns of policy documents: `*` (any run of characters, none included), `?`
//! (one character) and the policy variables `${aws:username}`, `${aws:userid}` and the
//! escapes `${*}`, `${?}`, `${$}`.
//!
//! Invariant: a variable's value is matched literally, never as a wildcard, so a user named
//! `a*` gains nothing from `home/${aws:username}/*`. A variable without a value in the
//! request (an anonymous caller has no user name) makes the pattern match nothing.
//! Matching is linear backtracking over characters (no regex, no recursion), so a hostile
//! pattern of many `*` costs O(pattern × input) at worst.

use super::PolicyError;

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Characters matched as they are.
    Literal(String),
    /// `*`.
    Star,
    /// `?`.
    One,
    /// `${aws:username}`.
    UserName,
    /// `${aws:userid}`.
    UserId,
}

/// The values policy variables take in one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Variables<'a> {
    /// `${aws:username}`: the user's name; none for anonymous and root callers.
    pub username: Option<&'a str>,
    /// `${aws:userid}`: the user's id (Tessera: the user's name as well).
    pub userid: Option<&'a str>,
}

/// A parsed wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
}

/// One character of an expanded pattern.
#[derive(Clone, Copy)]
enum Elem {
    Char(char),
    Star,
    One,
}

impl Pattern {
    /// Parses `text`; variables are recognised only when `variables` is set (Resource and
    /// condition values; actions have none).
    pub fn parse(text: &str, variables: bool) -> Result<Self, PolicyError> {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if variables && rest.starts_with("${") {
                let end = rest.find('}').ok_or_else(|| PolicyError::Variable {
                    text: text.to_owned(),
                })?;
                let name = &rest[2..end];
                let token = match name {
                    "*" => Token::Literal("*".into()),
                    "?" => Token::Literal("?".into()),
                    "$" => Token::Literal("$".into()),
                    n if n.eq_ignore_ascii_case("aws:username") => Token::UserName,
                    n if n.eq_ignore_ascii_case("aws:userid") => Token::UserId,
                    _ => {
                        return Err(PolicyError::Variable {
                            text: text.to_owned(),
                        });
                    }
                };
                match token {
                    Token::Literal(s) => literal.push_str(&s),
                    other => {
                        if !literal.is_empty() {
                            tokens.push(Token::Literal(std::mem::take(&mut literal)));
                        }
                        tokens.push(other);
                    }
                }
                rest = &rest[end + 1..];
                continue;
            }
            match c {
                '*' | '?' => {
                    if !literal.is_empty() {
                        tokens.push(Token::Literal(std::mem::take(&mut literal)));
                    }
                    tokens.push(if c == '*' { Token::Star } else { Token::One });
                }
                c => literal.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Self { tokens })
    }

    /// Whether `input` matches, with `vars` substituted; `fold` compares ASCII letters
    /// case-insensitively (action names).
    pub fn matches(&self, input: &str, vars: &Variables<'_>, fold: bool) -> bool {
        let Some(elems) = self.expand(vars) else {
            return false;
        };
        let input: Vec<char> = input.chars().collect();
        glob(&elems, &input, fold)
    }

    /// Whether the pattern, with `vars` substituted, equals `input` exactly (wildcards as
    /// plain characters: StringEquals).
    pub fn equals(&self, input: &str, vars: &Variables<'_>, fold: bool) -> bool {
        let Some(elems) = self.expand(vars) else {
            return false;
        };
        let text: String = elems
            .iter()
            .map(|e| match e {
                Elem::Char(c) => *c,
                Elem::Star => '*',
                Elem::One => '?',
            })
            .collect();
        if fold {
            text.to_lowercase() == input.to_lowercase()
        } else {
            text == input
        }
    }

    fn expand(&self, vars: &Variables<'_>) -> Option<Vec<Elem>> {
        let mut out = Vec::new();
        for token in &self.tokens {
            match token {
                Token::Literal(s) => out.extend(s.chars().map(Elem::Char)),
                Token::Star => out.push(Elem::Star),
                Token::One => out.push(Elem::One),
                Token::UserName => out.extend(vars.username?.chars().map(Elem::Char)),
                Token::UserId => out.extend(vars.userid?.chars().map(Elem::Char)),
            }
        }
        Some(out)
    }
}

fn same(a: char, b: char, fold: bool) -> bool {
    a == b || (fold && a.eq_ignore_ascii_case(&b))
}

/// Wildcard matching with one backtrack point (the last `*`), linear in practice.
fn glob(pattern: &[Elem], input: &[char], fold: bool) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut back: Option<(usize, usize)> = None;
    while s < input.len() {
        match pattern.get(p) {
            Some(Elem::Star) => {
                p += 1;
                back = Some((p, s));
                continue;
            }
            Some(Elem::One) => {
                p += 1;
                s += 1;
                continue;
            }
            Some(Elem::Char(c)) if same(*c, input[s], fold) => {
                p += 1;
                s += 1;
                continue;
            }
            _ => {}
        }
        match back {
            Some((bp, bs)) => {
                p = bp;
                s = bs + 1;
                back = Some((bp, bs + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|e| matches!(e, Elem::Star))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, input: &str) -> bool {
        Pattern::parse(pattern, true)
            .unwrap()
            .matches(input, &Variables::default(), false)
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(m("*", ""));
        assert!(m("a*", "abc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*c*", "xaybzc"));
        assert!(!m("a*c?b", "acdcb"));
        assert!(m("arn:aws:s3:::b/*", "arn:aws:s3:::b/k/deep"));
        assert!(!m("arn:aws:s3:::b/*", "arn:aws:s3:::bb/k"));
    }

    #[test]
    fn a_variable_matches_its_value_literally() {
        let p = Pattern::parse("home/${aws:username}/*", true).unwrap();
        let alice = Variables {
            username: Some("alice"),
            userid: None,
        };
        assert!(p.matches("home/alice/x", &alice, false));
        assert!(!p.matches("home/bob/x", &alice, false));
        let star = Variables {
            username: Some("a*"),
            userid: None,
        };
        assert!(!p.matches("home/abc/x", &star, false));
        assert!(p.matches("home/a*/x", &star, false));
        assert!(!p.matches("home/alice/x", &Variables::default(), false));
    }

    #[test]
    fn escapes_are_literal_and_unknown_variables_are_refused() {
        let p = Pattern::parse("a${*}b", true).unwrap();
        assert!(p.matches("a*b", &Variables::default(), false));
        assert!(!p.matches("axb", &Variables::default(), false));
        assert!(Pattern::parse("${aws:nope}", true).is_err());
        assert!(Pattern::parse("${aws:username", true).is_err());
        let plain = Pattern::parse("${x}", false).unwrap();
        assert!(plain.matches("${x}", &Variables::default(), false));
    }

    #[test]
    fn many_stars_do_not_blow_up() {
        let p = "*a".repeat(200);
        let input = "a".repeat(5000) + "b";
        assert!(!m(&p, &input));
    }
}
