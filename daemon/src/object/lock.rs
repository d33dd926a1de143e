//! S3 object lock at the object layer: buckets created with it (versioning on for good),
//! their default retention, what a write gets from them, and the retention and legal hold
//! of a version. The rule of what a lock forbids is `erasure::retention`'s.
//!
//! Invariant: a write to a bucket without object lock carries no lock headers (refused);
//! a write to one with a default retention and none of its own gets the default.

use std::borrow::Cow;

use super::versioning::{BucketState, to_record};
use super::{ObjectAttrs, ObjectError, ObjectInfo, ObjectLayer};
use crate::erasure::retention::{self, LEGAL_HOLD, LOCK_MODE, LOCK_UNTIL, LockMode, Retention};
use crate::erasure::{Versioning, now_ns};

/// A bucket's default retention: mode, and days or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultRetention {
    /// The mode.
    pub mode: LockMode,
    /// Days (0 when given in years).
    pub days: u32,
    /// Years (0 when given in days).
    pub years: u32,
}

/// The attributes a write stores on a bucket in `state`: its versioning, and its default
/// retention when the write names none.
pub(super) fn prepare<'a>(
    attrs: &'a ObjectAttrs,
    state: &BucketState,
) -> Result<Cow<'a, ObjectAttrs>, ObjectError> {
    let names_lock = [LOCK_MODE, LOCK_UNTIL, LEGAL_HOLD]
        .iter()
        .any(|h| attrs.headers.contains_key(*h));
    if names_lock && !state.object_lock {
        return Err(ObjectError::InvalidRequest(
            "Bucket is missing Object Lock Configuration".into(),
        ));
    }
    let default = state
        .default_retention
        .filter(|_| !attrs.headers.contains_key(LOCK_MODE));
    if attrs.versioning == state.versioning && default.is_none() {
        return Ok(Cow::Borrowed(attrs));
    }
    let mut attrs = attrs.clone();
    attrs.versioning = state.versioning;
    if let Some((mode, days)) = default {
        let until = now_ns().div_euclid(1_000_000_000) + i64::from(days) * 86_400;
        attrs.headers.insert(LOCK_MODE.into(), mode.as_str().into());
        attrs.headers.insert(LOCK_UNTIL.into(), until.to_string());
    }
    Ok(Cow::Owned(attrs))
}

impl ObjectLayer {
    /// Creates a bucket; with `object_lock`, versioning is enabled and stays so.
    pub async fn make_bucket_with(
        &self,
        bucket: &str,
        object_lock: bool,
    ) -> Result<(), ObjectError> {
        self.make_bucket(bucket).await?;
        if object_lock {
            self.change_bucket_record(bucket, |r| {
                r.object_lock = true;
                r.versioning = to_record(Versioning::Enabled);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Whether object lock is enabled, and the default retention.
    pub async fn object_lock_config(
        &self,
        bucket: &str,
    ) -> Result<(bool, Option<DefaultRetention>), ObjectError> {
        let r = self.bucket_record(bucket).await?;
        let default = LockMode::parse(&r.lock_mode).map(|mode| DefaultRetention {
            mode,
            days: r.lock_days,
            years: r.lock_years,
        });
        Ok((r.object_lock, default))
    }

    /// Enables object lock (on a bucket whose versioning is enabled) and sets or removes
    /// its default retention.
    pub async fn set_object_lock_config(
        &self,
        bucket: &str,
        default: Option<DefaultRetention>,
    ) -> Result<(), ObjectError> {
        if let Some(d) = default
            && ((d.days == 0) == (d.years == 0) || d.days > 36_500 || d.years > 100)
        {
            return Err(ObjectError::InvalidArgument(
                "a default retention has either Days or Years, at most 100 years".into(),
            ));
        }
        self.change_bucket_record(bucket, |r| {
            if !r.object_lock && r.versioning != to_record(Versioning::Enabled) {
                return Err(ObjectError::InvalidBucketState(
                    "object lock needs versioning enabled on the bucket".into(),
                ));
            }
            r.object_lock = true;
            r.lock_mode = default.map_or(String::new(), |d| d.mode.as_str().into());
            r.lock_days = default.map_or(0, |d| d.days);
            r.lock_years = default.map_or(0, |d| d.years);
            Ok(())
        })
        .await
    }

    /// Refuses lock operations on a bucket without object lock.
    async fn check_locking(&self, bucket: &str) -> Result<(), ObjectError> {
        match self.bucket_state(bucket).await?.object_lock {
            true => Ok(()),
            false => Err(ObjectError::InvalidRequest(
                "Bucket is missing Object Lock Configuration".into(),
            )),
        }
    }

    /// Sets (or with `None` removes) the retention of an object's `version` (its current
    /// one when `None`); `bypass` as for deletes.
    pub async fn set_retention(
        &self,
        (bucket, key, version): (&str, &str, Option<&str>),
        new: Option<Retention>,
        bypass: bool,
    ) -> Result<ObjectInfo, ObjectError> {
        Self::check(bucket, key)?;
        self.check_locking(bucket).await?;
        let set = self.set_of(bucket, key).await;
        let edit = |m: &mut crate::erasure::ObjectMeta| retention::set_retention(m, new, bypass);
        match set.writes().edit_version(bucket, key, version, edit).await {
            Ok(meta) => Ok(ObjectInfo::from_meta(bucket, key, &meta)),
            Err(e) => Err(self.explain(bucket, e).await),
        }
    }

    /// Puts a legal hold on an object's `version` (its current one when `None`), or lifts it.
    pub async fn set_legal_hold(
        &self,
        (bucket, key, version): (&str, &str, Option<&str>),
        on: bool,
    ) -> Result<ObjectInfo, ObjectError> {
        Self::check(bucket, key)?;
        self.check_locking(bucket).await?;
        let set = self.set_of(bucket, key).await;
        let edit = |m: &mut crate::erasure::ObjectMeta| {
            retention::set_legal_hold(m, on);
            Ok(())
        };
        match set.writes().edit_version(bucket, key, version, edit).await {
            Ok(meta) => Ok(ObjectInfo::from_meta(bucket, key, &meta)),
            Err(e) => Err(self.explain(bucket, e).await),
        }
    }
}
