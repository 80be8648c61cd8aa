//! YAML 1.1 plain-scalar resolution, as PyYAML's `SafeLoader` (and so Ansible) does it.
//!
//! `yes`/`on` are booleans, `0644` is octal 420, `1:30` is sexagesimal 90, `1_000` is
//! 1000, while `0o644` and `1e3` stay strings. Quoted scalars never come here.

use crate::value::{TimeOfDay, Timestamp, Value};
use regex::Regex;
use std::sync::LazyLock;

static FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
        r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
        r"|[-+]?\.(?:inf|Inf|INF)",
        r"|\.(?:nan|NaN|NAN))$"
    ))
    .expect("static regex")
});

static INT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:[-+]?0b[0-1_]+",
        r"|[-+]?0[0-7_]+",
        r"|[-+]?(?:0|[1-9][0-9_]*)",
        r"|[-+]?0x[0-9a-fA-F_]+",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
    ))
    .expect("static regex")
});

static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})",
        r"|(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})",
        r"(?:[Tt]|[ \t]+)(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]*))?",
        r"(?:[ \t]*(?P<tz>Z|(?P<tzs>[-+])(?P<tzh>[0-9]{1,2})(?::(?P<tzm>[0-9]{2}))?))?)$"
    ))
    .expect("static regex")
});

/// Why a plain scalar could not be constructed (PyYAML would raise too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ResolveError(pub String);

/// Resolves a plain (unquoted) scalar to its YAML 1.1 value.
pub(super) fn resolve_plain(s: &str) -> Result<Value, ResolveError> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Ok(Value::Bool(true));
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Ok(Value::Bool(false));
        }
        "=" => {
            return Err(ResolveError(
                "could not determine a constructor for the tag 'tag:yaml.org,2002:value'".into(),
            ));
        }
        _ => {}
    }
    let first = s.as_bytes()[0];
    if matches!(first, b'-' | b'+' | b'.' | b'0'..=b'9') {
        if FLOAT.is_match(s) {
            return construct_float(s).map(Value::Float);
        }
        if INT.is_match(s) {
            return construct_int(s);
        }
        if let Some(ts) = construct_timestamp(s) {
            return ts.map(|t| Value::Time(Box::new(t)));
        }
    }
    Ok(Value::Str(s.to_string()))
}

fn construct_int(s: &str) -> Result<Value, ResolveError> {
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let (sign, digits) = match clean.as_bytes().first() {
        Some(b'-') => (-1i128, &clean[1..]),
        Some(b'+') => (1, &clean[1..]),
        _ => (1, clean.as_str()),
    };
    let too_big = || ResolveError(format!("integer {s} does not fit in 128 bits"));
    let bad = || ResolveError(format!("invalid literal for int(): {s:?}"));
    let magnitude: i128 = if digits == "0" {
        0
    } else if let Some(bin) = digits.strip_prefix("0b") {
        parse_radix(bin, 2).ok_or_else(bad)?.ok_or_else(too_big)?
    } else if let Some(hex) = digits.strip_prefix("0x") {
        parse_radix(hex, 16).ok_or_else(bad)?.ok_or_else(too_big)?
    } else if digits.starts_with('0') {
        parse_radix(digits, 8)
            .ok_or_else(bad)?
            .ok_or_else(too_big)?
    } else if digits.contains(':') {
        let mut value: i128 = 0;
        for part in digits.split(':') {
            let d: i128 = part.parse().map_err(|_| bad())?;
            value = value
                .checked_mul(60)
                .and_then(|v| v.checked_add(d))
                .ok_or_else(too_big)?;
        }
        value
    } else {
        parse_radix(digits, 10)
            .ok_or_else(bad)?
            .ok_or_else(too_big)?
    };
    let v = sign * magnitude;
    Ok(i64::try_from(v).map_or(Value::BigInt(v), Value::Int))
}

/// `None` when the digits are invalid, `Some(None)` on overflow.
fn parse_radix(digits: &str, radix: u32) -> Option<Option<i128>> {
    if digits.is_empty() {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        let d = i128::from(c.to_digit(radix)?);
        value = match value
            .checked_mul(i128::from(radix))
            .and_then(|v| v.checked_add(d))
        {
            Some(v) => v,
            None => return Some(None),
        };
    }
    Some(Some(value))
}

fn construct_float(s: &str) -> Result<f64, ResolveError> {
    let clean: String = s
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_lowercase();
    let (sign, body) = match clean.as_bytes().first() {
        Some(b'-') => (-1.0, &clean[1..]),
        Some(b'+') => (1.0, &clean[1..]),
        _ => (1.0, clean.as_str()),
    };
    let bad = || ResolveError(format!("could not convert string to float: {s:?}"));
    if body == ".inf" {
        return Ok(sign * f64::INFINITY);
    }
    if body == ".nan" {
        return Ok(f64::NAN);
    }
    if body.contains(':') {
        let mut value = 0.0;
        for part in body.split(':') {
            let d: f64 = part.parse().map_err(|_| bad())?;
            value = value * 60.0 + d;
        }
        return Ok(sign * value);
    }
    // Python's float() accepts "1." and ".5"; Rust's parser accepts both too.
    body.parse::<f64>().map(|v| sign * v).map_err(|_| bad())
}

/// PyYAML turns timestamps into `datetime.date`/`datetime.datetime`; an impossible date
/// (month 13) is an error there too.
fn construct_timestamp(s: &str) -> Option<Result<Timestamp, ResolveError>> {
    let c = TIMESTAMP.captures(s)?;
    let num = |n: &str| {
        c.name(n)
            .map_or(0, |m| m.as_str().parse::<u32>().unwrap_or(0))
    };
    let (year, month, day, time) = if let Some(date) = c.name("date") {
        let d = date.as_str();
        let part = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
        (part(0..4), part(5..7), part(8..10), None)
    } else {
        let microsecond = c.name("f").map_or(0, |m| {
            let mut frac: String = m.as_str().chars().take(6).collect();
            while frac.len() < 6 {
                frac.push('0');
            }
            frac.parse().unwrap_or(0)
        });
        let offset = match c.name("tz").map(|m| m.as_str()) {
            None => None,
            Some("Z") => Some(0),
            Some(_) => {
                let secs = (num("tzh") * 3600 + num("tzm") * 60) as i32;
                Some(if c.name("tzs").is_some_and(|m| m.as_str() == "-") {
                    -secs
                } else {
                    secs
                })
            }
        };
        let time = TimeOfDay {
            hour: num("h"),
            minute: num("mi"),
            second: num("s"),
            microsecond,
            offset,
        };
        (num("y"), num("mo"), num("d"), Some(time))
    };
    let ts = Timestamp {
        year: year as i32,
        month,
        day,
        time,
    };
    Some(check_timestamp(&ts).map(|()| ts))
}

/// Python's datetime range checks, with its messages.
fn check_timestamp(ts: &Timestamp) -> Result<(), ResolveError> {
    let fail = |m: &str| Err(ResolveError(m.to_string()));
    if ts.year < 1 {
        return fail(&format!("year {} is out of range", ts.year));
    }
    if !(1..=12).contains(&ts.month) {
        return fail("month must be in 1..12");
    }
    if chrono::NaiveDate::from_ymd_opt(ts.year, ts.month, ts.day).is_none() {
        return fail("day is out of range for month");
    }
    if let Some(t) = &ts.time {
        if t.hour > 23 {
            return fail("hour must be in 0..23");
        }
        if t.minute > 59 {
            return fail("minute must be in 0..59");
        }
        if t.second > 59 {
            return fail("second must be in 0..59");
        }
        if t.offset.is_some_and(|o| o.abs() >= 86_400) {
            return fail(
                "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24).",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Value {
        resolve_plain(s).unwrap()
    }

    #[test]
    fn pyyaml_scalars() {
        assert_eq!(r("0644"), Value::Int(420));
        assert_eq!(r("yes"), Value::Bool(true));
        assert_eq!(r("NO"), Value::Bool(false));
        assert_eq!(r("on"), Value::Bool(true));
        assert_eq!(r("y"), Value::str("y"));
        assert_eq!(r("1:30"), Value::Int(90));
        assert_eq!(r("20.10"), Value::Float(20.1));
        assert_eq!(r("~"), Value::Null);
        assert_eq!(r("2024-01-02").py_str(), "2024-01-02");
        assert_eq!(r("2024-01-02").type_name(), "date");
        assert_eq!(r("0x1F"), Value::Int(31));
        assert_eq!(r("0o644"), Value::str("0o644"));
        assert_eq!(r("1e3"), Value::str("1e3"));
        assert_eq!(r("1.0e+3"), Value::Float(1000.0));
        assert_eq!(r("1_000"), Value::Int(1000));
        assert_eq!(r("09"), Value::str("09"));
        assert_eq!(r("-0b101"), Value::Int(-5));
        assert_eq!(r("16.14.2"), Value::str("16.14.2"));
        assert_eq!(r("20.17.0"), Value::str("20.17.0"));
        assert_eq!(r(".5"), Value::Float(0.5));
        assert_eq!(r("1."), Value::Float(1.0));
        assert_eq!(
            r("2001-12-14t21:59:43.10-05:00").py_str(),
            "2001-12-14 21:59:43.100000-05:00"
        );
        assert!(resolve_plain("2001-13-01").is_err());
        assert!(resolve_plain("2001-02-29").is_err());
    }
}
