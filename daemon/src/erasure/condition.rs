//! Conditional writes: what a write requires of the object it would replace (S3's
//! `If-Match` and `If-None-Match`).
//!
//! Invariant: a condition is checked in the commit, under the object's write lock, against
//! the version the drives' quorum holds at that moment, so of two racing writes that both
//! require the key to be absent, at most one commits.

use super::error::ErasureError;

/// An object a condition names: any object (`*`), or one with this ETag (unquoted hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ETagMatch {
    /// Any object.
    Any,
    /// An object with this ETag.
    ETag(String),
}

impl ETagMatch {
    fn matches(&self, etag: &str) -> bool {
        match self {
            ETagMatch::Any => true,
            ETagMatch::ETag(e) => e == etag,
        }
    }
}

/// What a write requires of the current object; [`WriteCondition::NONE`] requires nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteCondition {
    /// `If-Match`: the object exists and matches.
    pub if_match: Option<ETagMatch>,
    /// `If-None-Match`: no object matches (with `*`: the key is absent).
    pub if_none_match: Option<ETagMatch>,
}

impl WriteCondition {
    /// No condition.
    pub const NONE: WriteCondition = WriteCondition {
        if_match: None,
        if_none_match: None,
    };

    /// Whether the write requires anything.
    pub fn is_none(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// Checks the condition against the current object's ETag (`None`: no object).
    /// `If-Match` on a missing object is `ObjectNotFound`, as S3 answers it (404).
    pub fn check(
        &self,
        bucket: &str,
        key: &str,
        current: Option<&str>,
    ) -> Result<(), ErasureError> {
        let failed = || ErasureError::PreconditionFailed {
            bucket: bucket.into(),
            key: key.into(),
        };
        if let (Some(cond), Some(etag)) = (&self.if_none_match, current)
            && cond.matches(etag)
        {
            return Err(failed());
        }
        match (&self.if_match, current) {
            (Some(_), None) => Err(ErasureError::ObjectNotFound {
                bucket: bucket.into(),
                key: key.into(),
                delete_marker: None,
            }),
            (Some(cond), Some(etag)) if !cond.matches(etag) => Err(failed()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cond: &WriteCondition, current: Option<&str>) -> &'static str {
        match cond.check("b", "k", current) {
            Ok(()) => "ok",
            Err(ErasureError::PreconditionFailed { .. }) => "412",
            Err(ErasureError::ObjectNotFound { .. }) => "404",
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn conditions_answer_as_s3_does() {
        let etag = |e: &str| Some(ETagMatch::ETag(e.into()));
        let none_match = |m| WriteCondition {
            if_none_match: m,
            ..WriteCondition::NONE
        };
        let if_match = |m| WriteCondition {
            if_match: m,
            ..WriteCondition::NONE
        };
        let cases = [
            (WriteCondition::NONE, None, "ok"),
            (WriteCondition::NONE, Some("aa"), "ok"),
            (none_match(Some(ETagMatch::Any)), None, "ok"),
            (none_match(Some(ETagMatch::Any)), Some("aa"), "412"),
            (none_match(etag("aa")), Some("aa"), "412"),
            (none_match(etag("aa")), Some("bb"), "ok"),
            (none_match(etag("aa")), None, "ok"),
            (if_match(Some(ETagMatch::Any)), Some("aa"), "ok"),
            (if_match(Some(ETagMatch::Any)), None, "404"),
            (if_match(etag("aa")), Some("aa"), "ok"),
            (if_match(etag("aa")), Some("bb"), "412"),
            (if_match(etag("aa")), None, "404"),
        ];
        for (cond, current, want) in cases {
            assert_eq!(check(&cond, current), want, "{cond:?} against {current:?}");
        }
    }
}
