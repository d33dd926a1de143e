//! Typed values of condition keys and policy values: dates (ISO 8601 or epoch seconds),
//! CIDR ranges, booleans, numbers. Parsing never panics on any input (slices are taken with
//! `get`), and a value that does not parse is `None`, which the caller turns into an error
//! (in a policy) or a non-match (in a request).

use std::net::IpAddr;

use crate::calendar::{civil_from_days, days_from_civil};

/// A request's value for a condition key.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Text (`s3:prefix`, `aws:username`).
    Text(&'a str),
    /// A whole number (`s3:max-keys`).
    Number(i64),
    /// Seconds since the Unix epoch (`aws:CurrentTime`, `aws:EpochTime`).
    Time(i64),
    /// An address (`aws:SourceIp`).
    Ip(IpAddr),
    /// A flag (`aws:SecureTransport`).
    Bool(bool),
}

impl Value<'_> {
    /// The value as string operators see it.
    pub fn text(&self) -> String {
        match self {
            Value::Text(s) => (*s).to_owned(),
            Value::Number(n) => n.to_string(),
            Value::Time(t) => format_date(*t),
            Value::Ip(ip) => ip.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }

    /// The value as date operators see it.
    pub fn time(&self) -> Option<i64> {
        match self {
            Value::Time(t) | Value::Number(t) => Some(*t),
            Value::Text(s) => parse_date(s),
            _ => None,
        }
    }

    /// The value as IP operators see it.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Value::Ip(ip) => Some(*ip),
            Value::Text(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// The value as the Bool operator sees it.
    pub fn boolean(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Text(s) => parse_bool(s),
            _ => None,
        }
    }

    /// The value as numeric operators see it.
    pub fn number(&self) -> Option<i64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// `true` or `false`, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `a.b.c.d[/n]` or an IPv6 form.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Self { addr, bits })
    }

    /// Whether `ip` lies in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of an epoch second.
pub fn format_date(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

fn num(s: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = s.get(range)?;
    part.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| part.parse().ok())?
}

/// Epoch seconds of `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.frac]][Z|±HH:MM]` or a plain
/// number of seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(s, 0..4)?, num(s, 5..7)?, num(s, 8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(secs);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (hh, mm) = (num(rest, 0..2)?, num(rest, 3..5)?);
    if rest.as_bytes().get(2) != Some(&b':') || hh > 23 || mm > 59 {
        return None;
    }
    secs += hh * 3600 + mm * 60;
    let mut rest = &rest[5..];
    if let Some(r) = rest.strip_prefix(':') {
        let ss = num(r, 0..2)?;
        if ss > 60 {
            return None;
        }
        secs += ss;
        rest = &r[2..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            rest = &frac[digits..];
        }
    }
    match rest {
        "" | "Z" | "z" => Some(secs),
        zone => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (zh, zm) = (num(zone, 1..3)?, num(zone, 4..6)?);
            if zone.len() != 6 || zone.as_bytes()[3] != b':' {
                return None;
            }
            Some(secs - sign * (zh * 3600 + zm * 60))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_in_iso_and_epoch_forms() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-12-05T20:00:00Z"), Some(1_796_500_800));
        assert_eq!(parse_date("2026-12-05T21:00:00+01:00"), Some(1_796_500_800));
        assert_eq!(parse_date("2026-12-05T20:00:00.123Z"), Some(1_796_500_800));
        assert_eq!(parse_date("1796500800"), Some(1_796_500_800));
        assert_eq!(format_date(1_796_500_800), "2026-12-05T20:00:00Z");
        for bad in [
            "",
            "2026-13-01",
            "2026-1é-01",
            "2026-12-05T25:00",
            "2026-12-05Tx",
            "é",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidr_ranges_contain_their_addresses() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("nonsense"), None);
    }
}
