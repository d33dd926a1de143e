//! S3 lifecycle configuration: Put/Get/DeleteBucketLifecycleConfiguration, checked and
//! converted to the object layer's rules (transitions answer NotImplemented), and the
//! `x-amz-expiration` header of writes and reads.

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::convert::{seconds, timestamp};
use super::error::{s3_err, to_s3};
use crate::object::{Lifecycle, LifecycleRule as Rule, ObjectInfo, ObjectLayer};

/// Most rules a configuration holds (as S3).
const MAX_RULES: usize = 1000;

fn invalid(msg: impl Into<String>) -> s3s::S3Error {
    s3_err(S3ErrorCode::InvalidArgument, msg.into())
}

fn days(v: Option<i32>, what: &str) -> S3Result<Option<u32>> {
    match v {
        None => Ok(None),
        Some(d) if d > 0 => Ok(Some(d as u32)),
        Some(_) => Err(invalid(format!("{what} must be a positive integer"))),
    }
}

fn size(v: Option<i64>) -> S3Result<Option<u64>> {
    v.map(|n| u64::try_from(n).map_err(|_| invalid("object sizes cannot be negative")))
        .transpose()
}

fn tag_pair(t: &Tag) -> S3Result<(String, String)> {
    match (&t.key, &t.value) {
        (Some(k), v) if !k.is_empty() => Ok((k.clone(), v.clone().unwrap_or_default())),
        _ => Err(invalid("a filter's tag needs a key")),
    }
}

/// One S3 rule as ours.
fn rule_of(r: LifecycleRule) -> S3Result<Rule> {
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || r.noncurrent_version_transitions
            .as_ref()
            .is_some_and(|t| !t.is_empty())
    {
        return Err(s3_err(
            S3ErrorCode::NotImplemented,
            "transitions to other storage classes are not supported",
        ));
    }
    let id = r.id.unwrap_or_default();
    if id.len() > 255 {
        return Err(invalid("a rule ID has at most 255 characters"));
    }
    let enabled = match r.status.as_str() {
        "Enabled" => true,
        "Disabled" => false,
        other => {
            return Err(s3_err(
                S3ErrorCode::MalformedXML,
                format!("unknown Status {other:?}"),
            ));
        }
    };
    let mut out = Rule {
        id,
        enabled,
        prefix: r.prefix.unwrap_or_default(),
        ..Default::default()
    };
    if let Some(f) = r.filter {
        if let Some(p) = f.prefix {
            out.prefix = p;
        }
        if let Some(t) = &f.tag {
            let (k, v) = tag_pair(t)?;
            out.tags.insert(k, v);
        }
        out.size_greater_than = size(f.object_size_greater_than)?;
        out.size_less_than = size(f.object_size_less_than)?;
        if let Some(and) = f.and {
            if let Some(p) = and.prefix {
                out.prefix = p;
            }
            for t in and.tags.unwrap_or_default() {
                let (k, v) = tag_pair(&t)?;
                out.tags.insert(k, v);
            }
            out.size_greater_than = size(and.object_size_greater_than)?.or(out.size_greater_than);
            out.size_less_than = size(and.object_size_less_than)?.or(out.size_less_than);
        }
    }
    if let Some(e) = r.expiration {
        out.expiration_days = days(e.days, "Expiration Days")?;
        out.expiration_date = e
            .date
            .as_ref()
            .map(seconds)
            .map(|s| s.ok_or_else(|| invalid("bad Date")))
            .transpose()?;
        out.expired_object_delete_marker = e.expired_object_delete_marker.unwrap_or(false);
        if out.expiration_days.is_some() && out.expiration_date.is_some() {
            return Err(s3_err(
                S3ErrorCode::MalformedXML,
                "Expiration takes Days or Date, not both",
            ));
        }
    }
    if let Some(n) = r.noncurrent_version_expiration {
        out.noncurrent_days = days(n.noncurrent_days, "NoncurrentDays")?;
        out.newer_noncurrent_versions = n
            .newer_noncurrent_versions
            .map(|v| {
                u32::try_from(v).map_err(|_| invalid("NewerNoncurrentVersions cannot be negative"))
            })
            .transpose()?;
    }
    if let Some(a) = r.abort_incomplete_multipart_upload {
        out.abort_multipart_days = days(a.days_after_initiation, "DaysAfterInitiation")?;
    }
    let acts = out.expiration_days.is_some()
        || out.expiration_date.is_some()
        || out.expired_object_delete_marker
        || out.noncurrent_days.is_some()
        || out.abort_multipart_days.is_some();
    if !acts {
        return Err(s3_err(
            S3ErrorCode::MalformedXML,
            "a rule needs at least one action",
        ));
    }
    Ok(out)
}

/// Our rule as S3's.
fn rule_to_s3(r: &Rule) -> LifecycleRule {
    let tags: Vec<Tag> = (r.tags.iter())
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect();
    let filter = LifecycleRuleFilter {
        and: (tags.len() > 1).then(|| LifecycleRuleAndOperator {
            prefix: Some(r.prefix.clone()),
            tags: Some(tags.clone()),
            object_size_greater_than: r.size_greater_than.map(|n| n as i64),
            object_size_less_than: r.size_less_than.map(|n| n as i64),
        }),
        prefix: (tags.len() <= 1).then(|| r.prefix.clone()),
        tag: (tags.len() == 1).then(|| tags[0].clone()),
        object_size_greater_than: (tags.len() <= 1)
            .then_some(r.size_greater_than.map(|n| n as i64))
            .flatten(),
        object_size_less_than: (tags.len() <= 1)
            .then_some(r.size_less_than.map(|n| n as i64))
            .flatten(),
    };
    let expiration = (r.expiration_days.is_some()
        || r.expiration_date.is_some()
        || r.expired_object_delete_marker)
        .then(|| LifecycleExpiration {
            days: r.expiration_days.map(|d| d as i32),
            date: r
                .expiration_date
                .map(|s| timestamp(s.saturating_mul(1_000_000_000))),
            expired_object_delete_marker: r.expired_object_delete_marker.then_some(true),
        });
    LifecycleRule {
        id: Some(r.id.clone()),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        filter: Some(filter),
        expiration,
        noncurrent_version_expiration: r.noncurrent_days.map(|d| NoncurrentVersionExpiration {
            noncurrent_days: Some(d as i32),
            newer_noncurrent_versions: r.newer_noncurrent_versions.map(|n| n as i32),
        }),
        abort_incomplete_multipart_upload: r.abort_multipart_days.map(|d| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: Some(d as i32),
            }
        }),
        noncurrent_version_transitions: None,
        prefix: None,
        transitions: None,
    }
}

pub async fn put_bucket_lifecycle_configuration(
    layer: &ObjectLayer,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let i = req.input;
    let rules = i
        .lifecycle_configuration
        .map(|c| c.rules)
        .unwrap_or_default();
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(s3_err(S3ErrorCode::MalformedXML, "1 to 1000 rules"));
    }
    let mut ids = BTreeMap::new();
    let mut out = Vec::with_capacity(rules.len());
    for (n, r) in rules.into_iter().enumerate() {
        let mut r = rule_of(r)?;
        if r.id.is_empty() {
            r.id = format!("rule-{}", n + 1);
        }
        if ids.insert(r.id.clone(), ()).is_some() {
            return Err(invalid(format!("rule ID {:?} appears twice", r.id)));
        }
        out.push(r);
    }
    (layer.set_lifecycle(&i.bucket, Some(Lifecycle { rules: out })))
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

pub async fn get_bucket_lifecycle_configuration(
    layer: &ObjectLayer,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let Some(lc) = layer.lifecycle(&req.input.bucket).await.map_err(to_s3)? else {
        let mut e = s3_err(
            S3ErrorCode::NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist",
        );
        e.set_status_code(http::StatusCode::NOT_FOUND);
        return Err(e);
    };
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(lc.rules.iter().map(rule_to_s3).collect()),
        ..Default::default()
    }))
}

pub async fn delete_bucket_lifecycle(
    layer: &ObjectLayer,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    (layer.set_lifecycle(&req.input.bucket, None))
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
}

/// The `x-amz-expiration` of `info` (`expiry-date="…", rule-id="…"`), when a rule expires it.
pub async fn expiration_header(layer: &ObjectLayer, info: &ObjectInfo) -> S3Result<Option<String>> {
    let Some((at, rule)) = layer.expiration(info).await.map_err(to_s3)? else {
        return Ok(None);
    };
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64);
    let date = httpdate::fmt_http_date(when);
    Ok(Some(format!("expiry-date=\"{date}\", rule-id=\"{rule}\"")))
}
