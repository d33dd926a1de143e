//! S3 lifecycle rules of a bucket (kept in its record) and what they make due: which
//! version of an object expires at a given time. The judging is pure; the background task
//! that applies it is `expiry`'s; the S3 conversion is the front end's.
//!
//! Invariants: a disabled rule makes nothing due; a version is judged by its own time
//! (the current one from its creation, a noncurrent one from the creation of the version
//! that replaced it), and `Days` and `NoncurrentDays` end at the midnight UTC after that
//! many days, as in S3; a lifecycle "day" is [`Clock::day`] seconds (86,400 but in tests),
//! and its midnights are its multiples since the epoch.

use std::collections::BTreeMap;

use std::sync::Arc;

use prost::Message;

use super::{ObjectError, ObjectInfo, ObjectLayer};
use crate::erasure::ObjectMeta;

/// The stored header of an object's tags (the `x-amz-tagging` form).
const TAGGING: &str = "x-amz-tagging";

/// One lifecycle rule: a filter and what expires under it.
#[derive(Clone, PartialEq, Message)]
pub struct LifecycleRule {
    /// The rule's id (S3's `ID`).
    #[prost(string, tag = "1")]
    pub id: String,
    /// `Status` is Enabled.
    #[prost(bool, tag = "2")]
    pub enabled: bool,
    /// Only keys starting with this.
    #[prost(string, tag = "3")]
    pub prefix: String,
    /// Only objects carrying every one of these tags.
    #[prost(btree_map = "string, string", tag = "4")]
    pub tags: BTreeMap<String, String>,
    /// Only objects larger than this many bytes.
    #[prost(uint64, optional, tag = "5")]
    pub size_greater_than: Option<u64>,
    /// Only objects smaller than this many bytes.
    #[prost(uint64, optional, tag = "6")]
    pub size_less_than: Option<u64>,
    /// The current version expires this many days after its creation…
    #[prost(uint32, optional, tag = "7")]
    pub expiration_days: Option<u32>,
    /// …or at this time (seconds since the Unix epoch).
    #[prost(int64, optional, tag = "8")]
    pub expiration_date: Option<i64>,
    /// A delete marker left without versions goes.
    #[prost(bool, tag = "9")]
    pub expired_object_delete_marker: bool,
    /// A noncurrent version goes this many days after it became noncurrent…
    #[prost(uint32, optional, tag = "10")]
    pub noncurrent_days: Option<u32>,
    /// …unless it is one of this many newest noncurrent versions.
    #[prost(uint32, optional, tag = "11")]
    pub newer_noncurrent_versions: Option<u32>,
    /// Multipart uploads are aborted this many days after they started.
    #[prost(uint32, optional, tag = "12")]
    pub abort_multipart_days: Option<u32>,
}

/// A bucket's lifecycle configuration.
#[derive(Clone, PartialEq, Message)]
pub struct Lifecycle {
    /// The rules, in the order given.
    #[prost(message, repeated, tag = "1")]
    pub rules: Vec<LifecycleRule>,
}

/// The time rules are judged at.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Now, seconds since the Unix epoch.
    pub now: i64,
    /// Seconds in a lifecycle day.
    pub day: i64,
}

/// What a rule makes due on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// The current version expires: deleted (a delete marker on a versioned bucket).
    Current {
        /// The rule.
        rule: String,
    },
    /// This version (noncurrent, or a delete marker left alone) is removed.
    Version {
        /// The version's S3 id.
        id: String,
        /// The rule.
        rule: String,
    },
}

/// The tags of `meta` (from its `x-amz-tagging` header).
fn tags_of(meta: &ObjectMeta) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let Some(tagging) = meta.headers.get(TAGGING) else {
        return BTreeMap::new();
    };
    (tagging.split('&').filter(|p| !p.is_empty()))
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn secs(ns: i64) -> i64 {
    ns.div_euclid(1_000_000_000)
}

/// `days` lifecycle days after `from` (seconds), rounded up to the next midnight UTC (the
/// next multiple of a day), as S3 computes the expiration of `Days` and `NoncurrentDays`:
/// created at 10:30 with one day, a version expires at midnight two nights later.
fn days_after(from: i64, days: u32, clock: &Clock) -> i64 {
    (from + (i64::from(days) + 1) * clock.day).div_euclid(clock.day) * clock.day
}

impl LifecycleRule {
    /// Whether the rule's filter takes version `v` of `key`.
    fn takes(&self, key: &str, v: &ObjectMeta) -> bool {
        if !self.enabled || !key.starts_with(&self.prefix) {
            return false;
        }
        if self.size_greater_than.is_some_and(|n| v.size <= n)
            || self.size_less_than.is_some_and(|n| v.size >= n)
        {
            return false;
        }
        if self.tags.is_empty() {
            return true;
        }
        let tags = tags_of(v);
        (self.tags.iter()).all(|(k, want)| tags.get(k).is_some_and(|got| got == want))
    }

    /// When the current version `v` expires under this rule, if it does.
    fn expires_at(&self, v: &ObjectMeta, clock: &Clock) -> Option<i64> {
        let by_days = self
            .expiration_days
            .map(|d| days_after(secs(v.mod_time_ns), d, clock));
        by_days.or(self.expiration_date)
    }
}

impl Lifecycle {
    /// When the current version `v` of `key` expires (the earliest rule), and by which
    /// rule: what `x-amz-expiration` says.
    pub fn expiration(&self, key: &str, v: &ObjectMeta, clock: &Clock) -> Option<(i64, String)> {
        (self.rules.iter())
            .filter(|r| r.takes(key, v))
            .filter_map(|r| Some((r.expires_at(v, clock)?, r.id.clone())))
            .min()
    }

    /// What is due now on `key`, whose metadata file (current version and older ones) is
    /// `journal`. At most one entry per version.
    pub fn due(&self, key: &str, journal: &ObjectMeta, clock: &Clock) -> Vec<Due> {
        let mut due = Vec::new();
        let current = journal;
        if current.delete_marker {
            let alone = journal.older.is_empty();
            let rule = (self.rules.iter())
                .find(|r| alone && r.expired_object_delete_marker && r.takes(key, current));
            if let Some(r) = rule {
                due.push(Due::Version {
                    id: current.s3_version().to_string(),
                    rule: r.id.clone(),
                });
            }
        } else if let Some((at, rule)) = self.expiration(key, current, clock)
            && at <= clock.now
        {
            due.push(Due::Current { rule });
        }
        // Noncurrent versions: each from the creation of the version that replaced it.
        let versions: Vec<&ObjectMeta> = journal.versions().collect();
        for (i, v) in versions.iter().enumerate().skip(1) {
            let since = secs(versions[i - 1].mod_time_ns);
            let newer = i - 1;
            let rule = self.rules.iter().find(|r| {
                r.takes(key, v)
                    && r.noncurrent_days
                        .is_some_and(|d| days_after(since, d, clock) <= clock.now)
                    && newer >= r.newer_noncurrent_versions.unwrap_or(0) as usize
            });
            if let Some(r) = rule {
                due.push(Due::Version {
                    id: v.s3_version().to_string(),
                    rule: r.id.clone(),
                });
            }
        }
        due
    }

    /// Whether an upload of `key` that started at `initiated_ns` is to be aborted.
    pub fn abort_due(&self, key: &str, initiated_ns: i64, clock: &Clock) -> bool {
        self.rules.iter().any(|r| {
            r.enabled
                && key.starts_with(&r.prefix)
                && (r.abort_multipart_days)
                    .is_some_and(|d| secs(initiated_ns) + i64::from(d) * clock.day <= clock.now)
        })
    }
}

impl ObjectLayer {
    /// The bucket's lifecycle rules, if it has any (from the cache while fresh).
    pub async fn lifecycle(&self, bucket: &str) -> Result<Option<Arc<Lifecycle>>, ObjectError> {
        Ok(self.bucket_state(bucket).await?.lifecycle)
    }

    /// Sets (or with `None` removes) the bucket's lifecycle rules.
    pub async fn set_lifecycle(
        &self,
        bucket: &str,
        lifecycle: Option<Lifecycle>,
    ) -> Result<(), ObjectError> {
        self.change_bucket_record(bucket, |r| {
            r.lifecycle = lifecycle;
            Ok(())
        })
        .await
    }

    /// When `info`'s version expires under its bucket's rules, and by which rule (what
    /// `x-amz-expiration` tells).
    pub async fn expiration(
        &self,
        info: &ObjectInfo,
    ) -> Result<Option<(i64, String)>, ObjectError> {
        let Some(lc) = self.lifecycle(&info.bucket).await? else {
            return Ok(None);
        };
        let v = ObjectMeta {
            size: info.size,
            mod_time_ns: info.mod_time_ns,
            headers: info.headers.clone(),
            ..Default::default()
        };
        let clock = Clock {
            now: 0,
            day: self.lifecycle_day(),
        };
        Ok(lc.expiration(&info.key, &v, &clock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 10;

    fn version(id: &str, at: i64, size: u64) -> ObjectMeta {
        ObjectMeta {
            s3_version_id: id.into(),
            mod_time_ns: at * 1_000_000_000,
            size,
            ..Default::default()
        }
    }

    fn journal(mut versions: Vec<ObjectMeta>) -> ObjectMeta {
        let mut top = versions.remove(0);
        top.older = versions;
        top
    }

    fn rule(id: &str) -> LifecycleRule {
        LifecycleRule {
            id: id.into(),
            enabled: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_current_version_expires_after_its_days_within_the_filter() {
        let lc = Lifecycle {
            rules: vec![LifecycleRule {
                prefix: "logs/".into(),
                expiration_days: Some(2),
                size_greater_than: Some(10),
                tags: [("k".to_string(), "v w".to_string())].into(),
                ..rule("r")
            }],
        };
        let mut v = version("", 100, 11);
        v.headers.insert(TAGGING.into(), "k=v%20w&x=1".into());
        let at = |now| Clock { now, day: DAY };
        // Created at 100 (a midnight): two days on is 120, and the next midnight 130.
        assert_eq!(lc.due("logs/a", &v, &at(129)), []);
        assert_eq!(
            lc.due("logs/a", &v, &at(130)),
            [Due::Current { rule: "r".into() }]
        );
        assert_eq!(lc.expiration("logs/a", &v, &at(0)), Some((130, "r".into())));
        // Created within a day: the same midnight.
        let mut later = version("", 109, 11);
        later.headers = v.headers.clone();
        assert_eq!(
            lc.expiration("logs/a", &later, &at(0)),
            Some((130, "r".into()))
        );
        assert_eq!(lc.due("other/a", &v, &at(500)), [], "prefix");
        let small = ObjectMeta {
            size: 10,
            ..v.clone()
        };
        assert_eq!(lc.due("logs/a", &small, &at(500)), [], "size");
        let untagged = version("", 100, 11);
        assert_eq!(lc.due("logs/a", &untagged, &at(500)), [], "tags");
        let disabled = Lifecycle {
            rules: vec![LifecycleRule {
                enabled: false,
                ..lc.rules[0].clone()
            }],
        };
        assert_eq!(disabled.due("logs/a", &v, &at(500)), []);
    }

    #[test]
    fn noncurrent_versions_go_after_their_days_keeping_the_newest_ones() {
        let lc = Lifecycle {
            rules: vec![LifecycleRule {
                noncurrent_days: Some(1),
                newer_noncurrent_versions: Some(1),
                ..rule("nc")
            }],
        };
        // c (current, t=300) replaced b at 300; b replaced a at 200.
        let j = journal(vec![
            version("c", 300, 1),
            version("b", 200, 1),
            version("a", 100, 1),
        ]);
        let now = |now| Clock { now, day: DAY };
        // b is the newest noncurrent version: kept; a went noncurrent at 200, so it goes at
        // the midnight after one day from then: 220.
        assert_eq!(lc.due("k", &j, &now(219)), []);
        let due = lc.due("k", &j, &now(220));
        assert_eq!(
            due,
            [Due::Version {
                id: "a".into(),
                rule: "nc".into()
            }]
        );
    }

    #[test]
    fn a_delete_marker_left_alone_goes_and_uploads_are_aborted() {
        let lc = Lifecycle {
            rules: vec![LifecycleRule {
                expired_object_delete_marker: true,
                abort_multipart_days: Some(1),
                ..rule("m")
            }],
        };
        let mut marker = version("m1", 100, 0);
        marker.delete_marker = true;
        let clock = Clock { now: 100, day: DAY };
        assert_eq!(
            lc.due("k", &marker, &clock),
            [Due::Version {
                id: "m1".into(),
                rule: "m".into()
            }]
        );
        let with_versions = journal(vec![marker, version("a", 50, 1)]);
        assert_eq!(lc.due("k", &with_versions, &clock), []);
        assert!(!lc.abort_due("k", 95 * 1_000_000_000, &clock));
        assert!(lc.abort_due("k", 90 * 1_000_000_000, &clock));
    }
}
