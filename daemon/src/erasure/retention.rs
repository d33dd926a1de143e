//! Object lock on a version: its retention (mode and date) and legal hold, kept in the
//! version's stored headers, and the one rule of what may remove or change them.
//!
//! Invariants: a version under a legal hold, or retained until a date still ahead, cannot
//! be deleted; GOVERNANCE yields to a caller that asks to bypass it (and may), COMPLIANCE
//! to nobody, not even root, and its date can only move later.

use super::error::ErasureError;
use super::meta::ObjectMeta;

/// Stored header: the retention mode (`GOVERNANCE` or `COMPLIANCE`).
pub const LOCK_MODE: &str = "x-amz-object-lock-mode";
/// Stored header: the retention date, seconds since the Unix epoch.
pub const LOCK_UNTIL: &str = "x-amz-object-lock-retain-until-date";
/// Stored header: `ON` while a legal hold is in place.
pub const LEGAL_HOLD: &str = "x-amz-object-lock-legal-hold";

/// A retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Yields to a bypass.
    Governance,
    /// Yields to nothing until its date.
    Compliance,
}

impl LockMode {
    /// S3's name.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    /// From S3's name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
}

/// A version's retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The mode.
    pub mode: LockMode,
    /// Retained until this time, seconds since the Unix epoch.
    pub until: i64,
}

impl Retention {
    /// The retention `meta` carries, if any.
    pub fn of(meta: &ObjectMeta) -> Option<Self> {
        let mode = LockMode::parse(meta.headers.get(LOCK_MODE)?)?;
        let until = meta.headers.get(LOCK_UNTIL)?.parse().ok()?;
        Some(Self { mode, until })
    }

    /// Whether it still holds at `now` (seconds).
    fn holds(&self, now: i64) -> bool {
        self.until > now
    }
}

/// Whether `meta` is under a legal hold.
pub fn legal_hold(meta: &ObjectMeta) -> bool {
    meta.headers.get(LEGAL_HOLD).is_some_and(|v| v == "ON")
}

fn now_secs() -> i64 {
    super::meta::now_ns().div_euclid(1_000_000_000)
}

fn locked(meta: &ObjectMeta, reason: &str) -> ErasureError {
    ErasureError::ObjectLocked {
        version: meta.s3_version().to_string(),
        reason: reason.to_string(),
    }
}

/// Refuses the removal of version `meta` while its lock holds (`bypass`: the caller asks
/// to bypass GOVERNANCE and may).
pub fn check_removable(meta: &ObjectMeta, bypass: bool) -> Result<(), ErasureError> {
    if legal_hold(meta) {
        return Err(locked(meta, "it is under a legal hold"));
    }
    match Retention::of(meta) {
        Some(r) if r.holds(now_secs()) => match (r.mode, bypass) {
            (LockMode::Governance, true) => Ok(()),
            (LockMode::Governance, false) => Err(locked(meta, "it is retained (GOVERNANCE)")),
            (LockMode::Compliance, _) => Err(locked(meta, "it is retained (COMPLIANCE)")),
        },
        _ => Ok(()),
    }
}

/// Sets (or with `None` removes) the retention of `meta`: shortening or removing a
/// retention that still holds needs a bypass under GOVERNANCE and is refused under
/// COMPLIANCE (as is turning COMPLIANCE into GOVERNANCE).
pub fn set_retention(
    meta: &mut ObjectMeta,
    new: Option<Retention>,
    bypass: bool,
) -> Result<(), ErasureError> {
    if let Some(old) = Retention::of(meta).filter(|r| r.holds(now_secs())) {
        let weaker = match new {
            None => true,
            Some(n) => {
                n.until < old.until
                    || (old.mode, n.mode) == (LockMode::Compliance, LockMode::Governance)
            }
        };
        if weaker {
            match (old.mode, bypass) {
                (LockMode::Governance, true) => {}
                (LockMode::Governance, false) => {
                    return Err(locked(
                        meta,
                        "its GOVERNANCE retention can be shortened only with a bypass",
                    ));
                }
                (LockMode::Compliance, _) => {
                    return Err(locked(meta, "its COMPLIANCE retention cannot be shortened"));
                }
            }
        }
    }
    match new {
        Some(r) => {
            meta.headers
                .insert(LOCK_MODE.into(), r.mode.as_str().into());
            meta.headers.insert(LOCK_UNTIL.into(), r.until.to_string());
        }
        None => {
            meta.headers.remove(LOCK_MODE);
            meta.headers.remove(LOCK_UNTIL);
        }
    }
    Ok(())
}

/// Puts a legal hold on `meta` or lifts it.
pub fn set_legal_hold(meta: &mut ObjectMeta, on: bool) {
    if on {
        meta.headers.insert(LEGAL_HOLD.into(), "ON".into());
    } else {
        meta.headers.remove(LEGAL_HOLD);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retained(mode: LockMode, until: i64) -> ObjectMeta {
        let mut m = ObjectMeta::default();
        set_retention(&mut m, Some(Retention { mode, until }), false).unwrap();
        m
    }

    #[test]
    fn compliance_yields_to_nothing_until_its_date() {
        let later = now_secs() + 3600;
        let mut m = retained(LockMode::Compliance, later);
        assert!(check_removable(&m, true).is_err());
        let shorter = Retention {
            mode: LockMode::Compliance,
            until: later - 60,
        };
        assert!(set_retention(&mut m, Some(shorter), true).is_err());
        let governance = Retention {
            mode: LockMode::Governance,
            until: later,
        };
        assert!(set_retention(&mut m, Some(governance), true).is_err());
        assert!(set_retention(&mut m, None, true).is_err());
        let longer = Retention {
            mode: LockMode::Compliance,
            until: later + 60,
        };
        assert!(set_retention(&mut m, Some(longer), false).is_ok());
        let past = retained(LockMode::Compliance, now_secs() - 1);
        assert!(check_removable(&past, false).is_ok());
    }

    #[test]
    fn governance_yields_to_a_bypass_and_holds_to_nothing() {
        let mut m = retained(LockMode::Governance, now_secs() + 3600);
        assert!(check_removable(&m, false).is_err());
        assert!(check_removable(&m, true).is_ok());
        assert!(set_retention(&mut m, None, false).is_err());
        set_legal_hold(&mut m, true);
        assert!(check_removable(&m, true).is_err());
        set_legal_hold(&mut m, false);
        assert!(set_retention(&mut m, None, true).is_ok());
        assert!(check_removable(&m, false).is_ok());
    }
}
