//! Python's printf-style string formatting (`'%s-%02d' % (a, b)`), which Ansible's
//! templates reach through the `%` operator and the `format` filter.

use crate::value::Value;

/// The arguments of one `%` operation: positional, or a mapping for `%(name)s`.
pub(crate) enum Args<'a> {
    Positional(Vec<&'a Value>),
    Mapping(&'a crate::value::Map),
}

#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
}

/// How many arguments `fmt` consumes (`*` widths included), or None with `%(key)`.
pub(crate) fn arg_count(fmt: &str) -> Option<usize> {
    let chars: Vec<char> = fmt.chars().collect();
    let (mut n, mut i) = (0, 0);
    while i < chars.len() {
        if chars[i] != '%' {
            i += 1;
            continue;
        }
        i += 1;
        if chars.get(i) == Some(&'(') {
            return None;
        }
        while let Some(&c) = chars.get(i) {
            if c == '*' {
                n += 1;
            } else if !"-0+ #.123456789hlL".contains(c) {
                break;
            }
            i += 1;
        }
        if chars.get(i).is_some_and(|c| *c != '%') {
            n += 1;
        }
        i += 1;
    }
    Some(n)
}

/// `fmt % rhs` as Python reads the right side: a tuple spreads (a Jinja list does when
/// it has as many items as the format takes, which is how a tuple literal arrives), a
/// dict feeds `%(key)s`, anything else is the one argument.
pub(crate) fn percent(fmt: &str, rhs: &Value) -> Result<String, String> {
    match (rhs, arg_count(fmt)) {
        (Value::Map(m), None) => format(fmt, &Args::Mapping(m)),
        (Value::List(items), Some(n)) if items.len() == n && n != 1 => {
            format(fmt, &Args::Positional(items.iter().collect()))
        }
        // A list or dict is a mapping to Python: no conversion, no complaint.
        (Value::Map(_) | Value::List(_), Some(0)) => format(fmt, &Args::Positional(vec![])),
        _ => format(fmt, &Args::Positional(vec![rhs])),
    }
}

/// `fmt % args`, with Python's errors.
pub(crate) fn format(fmt: &str, args: &Args<'_>) -> Result<String, String> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut next = 0;
    let mut i = 0;
    let positional = |next: &mut usize| -> Result<&Value, String> {
        match args {
            Args::Positional(list) => {
                let v = list
                    .get(*next)
                    .ok_or("not enough arguments for format string")?;
                *next += 1;
                Ok(v)
            }
            Args::Mapping(_) => Err("format requires a mapping".into()),
        }
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut value: Option<&Value> = None;
        if chars.get(i) == Some(&'(') {
            let mut depth = 1;
            let start = i + 1;
            let mut j = start;
            while j < chars.len() && depth > 0 {
                match chars[j] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            if depth > 0 {
                return Err("incomplete format key".into());
            }
            let key: String = chars[start..j - 1].iter().collect();
            let Args::Mapping(m) = args else {
                return Err("format requires a mapping".into());
            };
            value = Some(m.get(&key).ok_or_else(|| format!("KeyError: '{key}'"))?);
            i = j;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'*') {
            i += 1;
            let w = positional(&mut next)?;
            spec.width = match w {
                Value::Int(n) if *n < 0 => {
                    spec.left = true;
                    n.unsigned_abs() as usize
                }
                Value::Int(n) => *n as usize,
                _ => return Err("* wants int".into()),
            };
        } else {
            spec.width = number(&chars, &mut i);
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            if chars.get(i) == Some(&'*') {
                i += 1;
                spec.precision = match positional(&mut next)? {
                    Value::Int(n) => Some((*n).max(0) as usize),
                    _ => return Err("* wants int".into()),
                };
            } else {
                spec.precision = Some(number(&chars, &mut i));
            }
        }
        while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            return Err("incomplete format".into());
        };
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let v = match value {
            Some(v) => v,
            None => positional(&mut next)?,
        };
        let body = convert(conv, v, &spec, i - 1)?;
        pad(
            &mut out,
            &body,
            &spec,
            matches!(conv, 's' | 'r' | 'a' | 'c'),
        );
    }
    if let Args::Positional(list) = args
        && next < list.len()
    {
        return Err("not all arguments converted during string formatting".into());
    }
    Ok(out)
}

fn number(chars: &[char], i: &mut usize) -> usize {
    let mut n = 0usize;
    while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
        n = n.saturating_mul(10).saturating_add(d as usize);
        *i += 1;
    }
    n
}

fn as_int(v: &Value, conv: char) -> Result<i128, String> {
    match v {
        Value::Int(i) => Ok(i128::from(*i)),
        Value::BigInt(i) => Ok(*i),
        Value::Bool(b) => Ok(i128::from(*b)),
        Value::Float(f) if matches!(conv, 'd' | 'i' | 'u') && f.is_finite() => {
            Ok(f.trunc() as i128)
        }
        Value::Float(_) if matches!(conv, 'd' | 'i' | 'u') => {
            Err("cannot convert float infinity to integer".into())
        }
        other => Err(format!(
            "%{conv} format: {} is required, not {}",
            if matches!(conv, 'd' | 'i' | 'u') {
                "a real number"
            } else {
                "an integer"
            },
            other.type_name()
        )),
    }
}

fn as_float(v: &Value, conv: char) -> Result<f64, String> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::BigInt(i) => Ok(*i as f64),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Float(f) => Ok(*f),
        other => Err(format!(
            "must be real number, not {} (in %{conv})",
            other.type_name()
        )),
    }
}

fn sign(neg: bool, spec: &Spec) -> &'static str {
    if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn convert(conv: char, v: &Value, spec: &Spec, at: usize) -> Result<String, String> {
    Ok(match conv {
        's' => truncate(v.py_str(), spec.precision),
        'r' | 'a' => truncate(v.py_repr(), spec.precision),
        'c' => match v {
            Value::Int(i) => char::from_u32(*i as u32)
                .ok_or("%c arg not in range(0x110000)")?
                .to_string(),
            Value::Str(s) if s.chars().count() == 1 => s.clone(),
            _ => return Err("%c requires an int or a unicode character".into()),
        },
        'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
            let n = as_int(v, conv)?;
            let digits = match conv {
                'x' => format!("{:x}", n.unsigned_abs()),
                'X' => format!("{:X}", n.unsigned_abs()),
                'o' => format!("{:o}", n.unsigned_abs()),
                _ => n.unsigned_abs().to_string(),
            };
            let digits = match spec.precision {
                Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
                _ => digits,
            };
            let prefix = match (spec.alt, conv) {
                (true, 'x') => "0x",
                (true, 'X') => "0X",
                (true, 'o') => "0o",
                _ => "",
            };
            format!("{}{prefix}{digits}", sign(n < 0, spec))
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let f = as_float(v, conv)?;
            let p = spec.precision.unwrap_or(6);
            let body = if f.is_nan() {
                "nan".to_string()
            } else if f.is_infinite() {
                "inf".to_string()
            } else {
                match conv.to_ascii_lowercase() {
                    'f' => format!("{:.p$}", f.abs()),
                    'e' => exp_form(f.abs(), p),
                    _ => general(f.abs(), p, spec.alt),
                }
            };
            let body = if conv.is_ascii_uppercase() {
                body.to_uppercase()
            } else {
                body
            };
            format!("{}{body}", sign(f.is_sign_negative() && !f.is_nan(), spec))
        }
        other => {
            return Err(format!(
                "unsupported format character '{other}' (0x{:x}) at index {at}",
                other as u32
            ));
        }
    })
}

fn truncate(s: String, precision: Option<usize>) -> String {
    match precision {
        Some(p) => s.chars().take(p).collect(),
        None => s,
    }
}

/// `%e`: one digit, the fraction, and a signed exponent of at least two digits.
fn exp_form(f: f64, p: usize) -> String {
    let s = format!("{f:.p$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

/// `%g`: `%e` or `%f` by the exponent, trailing zeros dropped (unless `#`).
fn general(f: f64, p: usize, alt: bool) -> String {
    let p = p.max(1);
    if f == 0.0 {
        return if alt {
            format!("{:.*}", p - 1, 0.0)
        } else {
            "0".into()
        };
    }
    let exp = format!("{f:.*e}", p - 1)
        .split_once('e')
        .and_then(|(_, e)| e.parse::<i32>().ok())
        .unwrap_or(0);
    let s = if exp < -4 || exp >= p as i32 {
        exp_form(f, p - 1)
    } else {
        format!("{f:.*}", (p as i32 - 1 - exp).max(0) as usize)
    };
    if alt {
        return s;
    }
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{e}", strip_zeros(m)),
        None => strip_zeros(&s).to_string(),
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn pad(out: &mut String, body: &str, spec: &Spec, text: bool) {
    let len = body.chars().count();
    if len >= spec.width {
        out.push_str(body);
        return;
    }
    let fill = spec.width - len;
    if spec.left {
        out.push_str(body);
        out.push_str(&" ".repeat(fill));
    } else if spec.zero && !text {
        let split = body
            .find(|c: char| c.is_ascii_digit() || c == 'n' || c == 'i')
            .unwrap_or(0);
        let (head, tail) = body.split_at(split);
        let (head, tail) = match tail
            .strip_prefix("0x")
            .or(tail.strip_prefix("0X"))
            .or(tail.strip_prefix("0o"))
        {
            Some(rest) if spec.alt => (&body[..split + 2], rest),
            _ => (head, tail),
        };
        out.push_str(head);
        out.push_str(&"0".repeat(fill));
        out.push_str(tail);
    } else {
        out.push_str(&" ".repeat(fill));
        out.push_str(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[Value]) -> String {
        format(fmt, &Args::Positional(args.iter().collect())).unwrap_or_else(|e| e)
    }

    #[test]
    fn like_python() {
        assert_eq!(
            f(
                "%s-%05.1f|%r|%x",
                &[
                    Value::str("a"),
                    Value::Float(2.25),
                    Value::str("q"),
                    Value::Int(255)
                ]
            ),
            "a-002.2|'q'|ff"
        );
        assert_eq!(
            f(
                "%-4d|%+d|% d",
                &[Value::Int(7), Value::Int(3), Value::Int(3)]
            ),
            "7   |+3| 3"
        );
        assert_eq!(
            f(
                "%#x %#o %08.3f",
                &[Value::Int(255), Value::Int(8), Value::Float(-3.14259)]
            ),
            "0xff 0o10 -003.143"
        );
        assert_eq!(
            f(
                "%g %g %g %G",
                &[
                    Value::Float(0.0001),
                    Value::Float(1e-5),
                    Value::Float(123_456_789.0),
                    Value::Float(1.5e300)
                ]
            ),
            "0.0001 1e-05 1.23457e+08 1.5E+300"
        );
        assert_eq!(f("%e", &[Value::Float(12345.678)]), "1.234568e+04");
        assert_eq!(f("%s %s", &[Value::Bool(true), Value::Null]), "True None");
        assert_eq!(f("%.2s%%", &[Value::str("abc")]), "ab%");
        assert_eq!(f("%s", &[]), "not enough arguments for format string");
        assert_eq!(
            f("x", &[Value::Int(1)]),
            "not all arguments converted during string formatting"
        );
        assert_eq!(f("%d", &[Value::Float(3.9)]), "3");
        assert_eq!(
            f("%5s|%-5s|", &[Value::str("ab"), Value::str("ab")]),
            "   ab|ab   |"
        );
    }
}
