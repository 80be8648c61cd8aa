//! Jinja's `int`, `float`, `abs` and `filesizeformat`, and Python's `int()`/`float()`
//! parsing of strings they rest on.

use super::{err, ours};
use crate::value::Value;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, Value as MjValue};

/// The number filters.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter(
        "filesizeformat",
        |v: MjValue, binary: Option<bool>| -> Result<String, Error> {
            Ok(minijinja_contrib::filters::filesizeformat(
                float_of(&v)?,
                binary,
            ))
        },
    );
    // Python's abs(): bools are ints.
    env.add_filter("abs", |v: MjValue| -> Result<MjValue, Error> {
        match ours(&v)? {
            Value::Bool(b) => Ok(MjValue::from(i64::from(b))),
            Value::Int(i) => Ok(MjValue::from(i128::from(i.unsigned_abs()))),
            Value::BigInt(i) => Ok(MjValue::from(i.unsigned_abs() as i128)),
            Value::Float(f) => Ok(MjValue::from(f.abs())),
            other => Err(err(format!(
                "bad operand type for abs(): '{}'",
                other.type_name()
            ))),
        }
    });
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
}

/// Python's `int(s, base)` on a string: surrounding whitespace, a sign, the base's
/// prefix, underscores between digits.
fn py_int(s: &str, base: u32) -> Option<i64> {
    let t = s.trim();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = t.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (16 | 0, Some("0x")) => (16, &t[2..]),
        (8 | 0, Some("0o")) => (8, &t[2..]),
        (2 | 0, Some("0b")) => (2, &t[2..]),
        (0, _)
            if t.len() > 1 && t.starts_with('0') && t.trim_start_matches(['0', '_']).is_empty() =>
        {
            (10, t)
        }
        (0, _) if t.len() > 1 && t.starts_with('0') => return None,
        (0, _) => (10, t),
        (b, _) => (b, t),
    };
    let digits = digits
        .strip_prefix('_')
        .filter(|_| t.len() != digits.len())
        .unwrap_or(digits);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let v = i64::from_str_radix(&digits.replace('_', ""), base).ok()?;
    Some(if neg { -v } else { v })
}

/// Python's `float(s)`: whitespace, underscores between digits, inf and nan.
pub(super) fn py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let b = t.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'_'
            && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            return None;
        }
    }
    let t = t.replace('_', "");
    let word = t.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if !["inf", "infinity", "nan"].contains(&word.as_str())
        && !t
            .bytes()
            .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c))
    {
        return None;
    }
    t.parse().ok()
}

/// Jinja's `int`: `int(value, base)`, else `int(float(value))`, else the default.
fn to_int(v: MjValue, default: Option<MjValue>, k: Kwargs) -> Result<MjValue, Error> {
    let base: Option<u32> = k.get("base")?;
    let default = match (default, k.get::<Option<MjValue>>("default")?) {
        (Some(d), _) | (None, Some(d)) => d,
        _ => MjValue::from(0),
    };
    k.assert_all_used()?;
    let from_float = |f: f64| -> Result<MjValue, Error> {
        if f.is_finite() {
            Ok(MjValue::from(f.trunc() as i64))
        } else if f.is_nan() {
            Err(err("cannot convert float NaN to integer"))
        } else {
            Err(err("cannot convert float infinity to integer"))
        }
    };
    match v.kind() {
        ValueKind::Bool => Ok(MjValue::from(i64::from(v.is_true()))),
        ValueKind::Number if v.is_integer() => Ok(v),
        ValueKind::Number => from_float(f64::try_from(v).unwrap_or(0.0)),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            if let Some(i) = py_int(s, base.unwrap_or(10)) {
                return Ok(MjValue::from(i));
            }
            match py_float(s) {
                Some(f) if f.is_nan() => Ok(default),
                Some(f) => from_float(f),
                None => Ok(default),
            }
        }
        _ => Ok(default),
    }
}

/// Jinja's `float`: `float(value)`, else the default (0.0).
fn to_float(v: MjValue, default: Option<MjValue>) -> MjValue {
    let default = default.unwrap_or_else(|| MjValue::from(0.0));
    match v.kind() {
        ValueKind::Bool => MjValue::from(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => MjValue::from(f64::try_from(v).unwrap_or(0.0)),
        ValueKind::String => {
            py_float(v.as_str().unwrap_or_default()).map_or(default, MjValue::from)
        }
        _ => default,
    }
}

/// Python's `float(value)` for a filter's input: numbers, bools, numeric strings.
fn float_of(v: &MjValue) -> Result<f64, Error> {
    match ours(v)? {
        Value::Bool(b) => Ok(f64::from(u8::from(b))),
        Value::Int(i) => Ok(i as f64),
        Value::BigInt(i) => Ok(i as f64),
        Value::Float(f) => Ok(f),
        Value::Str(s) | Value::Unsafe(s) => {
            py_float(&s).ok_or_else(|| err(format!("could not convert string to float: {s:?}")))
        }
        other => Err(err(format!(
            "float() argument must be a string or a real number, not '{}'",
            other.type_name()
        ))),
    }
}
