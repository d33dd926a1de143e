//! S3 object lock: the bucket's configuration (Put/GetObjectLockConfiguration), a version's
//! retention and legal hold (Put/GetObjectRetention, Put/GetObjectLegalHold), the
//! `x-amz-object-lock-*` headers of writes and reads.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::convert::{seconds, timestamp};
use super::error::{s3_err, to_s3};
use crate::object::{
    DefaultRetention as BucketDefault, LEGAL_HOLD, LOCK_MODE, LOCK_UNTIL, LockMode, ObjectAttrs,
    ObjectInfo, ObjectLayer, Retention,
};

fn mode_of(mode: &str) -> S3Result<LockMode> {
    LockMode::parse(mode).ok_or_else(|| {
        s3_err(
            S3ErrorCode::InvalidArgument,
            format!("unknown object lock mode {mode:?}"),
        )
    })
}

fn retention_of(mode: Option<&str>, until: Option<&Timestamp>) -> S3Result<Option<Retention>> {
    match (mode, until) {
        (None, None) => Ok(None),
        (Some(mode), Some(until)) => Ok(Some(Retention {
            mode: mode_of(mode)?,
            until: seconds(until)
                .ok_or_else(|| s3_err(S3ErrorCode::InvalidArgument, "invalid retain-until date"))?,
        })),
        _ => Err(s3_err(
            S3ErrorCode::InvalidArgument,
            "x-amz-object-lock-mode and x-amz-object-lock-retain-until-date go together",
        )),
    }
}

/// Stores a write's `x-amz-object-lock-*` headers with the new version; a retention
/// date must lie ahead.
pub fn set_from_request(
    attrs: &mut ObjectAttrs,
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<()> {
    for h in [LOCK_MODE, LOCK_UNTIL, LEGAL_HOLD] {
        attrs.headers.remove(h);
    }
    if let Some(r) = retention_of(mode.map(|m| m.as_str()), until)? {
        if r.until <= crate::erasure::now_ns() / 1_000_000_000 {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                "the retain-until date must be in the future",
            ));
        }
        attrs
            .headers
            .insert(LOCK_MODE.into(), r.mode.as_str().into());
        attrs.headers.insert(LOCK_UNTIL.into(), r.until.to_string());
    }
    match hold.map(|h| h.as_str()) {
        None | Some("OFF") => {}
        Some("ON") => {
            attrs.headers.insert(LEGAL_HOLD.into(), "ON".into());
        }
        Some(other) => {
            return Err(s3_err(
                S3ErrorCode::InvalidArgument,
                format!("unknown legal hold status {other:?}"),
            ));
        }
    }
    Ok(())
}

/// The `x-amz-object-lock-*` answers of a read: mode, date, legal hold.
pub fn answered(
    info: &ObjectInfo,
) -> (
    Option<ObjectLockMode>,
    Option<Timestamp>,
    Option<ObjectLockLegalHoldStatus>,
) {
    let mode = info
        .headers
        .get(LOCK_MODE)
        .map(|m| ObjectLockMode::from(m.clone()));
    let until = (info.headers.get(LOCK_UNTIL))
        .and_then(|u| u.parse::<i64>().ok())
        .map(|s| timestamp(s.saturating_mul(1_000_000_000)));
    let hold = (info.headers.get(LEGAL_HOLD)).map(|h| ObjectLockLegalHoldStatus::from(h.clone()));
    (mode, until, hold)
}

pub async fn put_object_lock_configuration(
    layer: &ObjectLayer,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    let i = req.input;
    let conf = i.object_lock_configuration.unwrap_or_default();
    if conf.object_lock_enabled.as_ref().map(|e| e.as_str()) != Some("Enabled") {
        return Err(s3_err(
            S3ErrorCode::MalformedXML,
            "ObjectLockEnabled must be Enabled",
        ));
    }
    let default = match conf.rule.and_then(|r| r.default_retention) {
        None => None,
        Some(d) => Some(BucketDefault {
            mode: mode_of(d.mode.as_ref().map_or("", |m| m.as_str()))?,
            days: u32::try_from(d.days.unwrap_or(0)).map_err(|_| bad_period())?,
            years: u32::try_from(d.years.unwrap_or(0)).map_err(|_| bad_period())?,
        }),
    };
    (layer.set_object_lock_config(&i.bucket, default))
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

fn bad_period() -> s3s::S3Error {
    s3_err(
        S3ErrorCode::InvalidArgument,
        "Days and Years must be positive",
    )
}

pub async fn get_object_lock_configuration(
    layer: &ObjectLayer,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let (enabled, default) = (layer.object_lock_config(&req.input.bucket))
        .await
        .map_err(to_s3)?;
    if !enabled {
        let mut e = s3_err(
            S3ErrorCode::Custom("ObjectLockConfigurationNotFoundError".into()),
            "Object Lock configuration does not exist for this bucket",
        );
        e.set_status_code(http::StatusCode::NOT_FOUND);
        return Err(e);
    }
    let rule = default.map(|d| ObjectLockRule {
        default_retention: Some(DefaultRetention {
            mode: Some(ObjectLockRetentionMode::from(d.mode.as_str().to_string())),
            days: (d.days > 0).then_some(d.days as i32),
            years: (d.years > 0).then_some(d.years as i32),
        }),
    });
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        }),
    }))
}

pub async fn put_object_retention(
    layer: &ObjectLayer,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let i = req.input;
    let r = i.retention.unwrap_or_default();
    let new = retention_of(
        r.mode.as_ref().map(|m| m.as_str()),
        r.retain_until_date.as_ref(),
    )?;
    let bypass = i.bypass_governance_retention.unwrap_or(false);
    let target = (i.bucket.as_str(), i.key.as_str(), i.version_id.as_deref());
    layer
        .set_retention(target, new, bypass)
        .await
        .map_err(to_s3)?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub async fn get_object_retention(
    layer: &ObjectLayer,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let i = req.input;
    let info = (layer.head_version(&i.bucket, &i.key, i.version_id.as_deref()))
        .await
        .map_err(to_s3)?;
    let (mode, until, _) = answered(&info);
    if mode.is_none() {
        let mut e = s3_err(
            S3ErrorCode::Custom("NoSuchObjectLockConfiguration".into()),
            "the version has no retention",
        );
        e.set_status_code(http::StatusCode::NOT_FOUND);
        return Err(e);
    }
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: mode.map(|m| ObjectLockRetentionMode::from(m.as_str().to_string())),
            retain_until_date: until,
        }),
    }))
}

pub async fn put_object_legal_hold(
    layer: &ObjectLayer,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let i = req.input;
    let on = match i
        .legal_hold
        .and_then(|h| h.status)
        .as_ref()
        .map(|s| s.as_str())
    {
        Some("ON") => true,
        Some("OFF") => false,
        _ => {
            return Err(s3_err(
                S3ErrorCode::MalformedXML,
                "the legal hold Status must be ON or OFF",
            ));
        }
    };
    let target = (i.bucket.as_str(), i.key.as_str(), i.version_id.as_deref());
    layer.set_legal_hold(target, on).await.map_err(to_s3)?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

pub async fn get_object_legal_hold(
    layer: &ObjectLayer,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let i = req.input;
    let info = (layer.head_version(&i.bucket, &i.key, i.version_id.as_deref()))
        .await
        .map_err(to_s3)?;
    let on = info.headers.get(LEGAL_HOLD).is_some_and(|h| h == "ON");
    let status = if on { "ON" } else { "OFF" };
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(ObjectLockLegalHoldStatus::from(status.to_string())),
        }),
    }))
}
