//! The `sequence` lookup's terms and Python's `%` formats.

use super::err;
use minijinja::{Error, Value as MjValue};

/// `sequence`: `start=1 end=5 stride=1 format=%d`, or the shortcut `[start-]end[/stride][:format]`.
pub(super) fn sequence(term: &str) -> Result<Vec<MjValue>, Error> {
    let (mut start, mut end, mut stride, mut count, mut format) =
        (1i64, None::<i64>, 1i64, None::<i64>, "%d".to_string());
    // An option that is no integer, in Ansible's config wording.
    let num = |key: &str, s: &str| -> Result<i64, Error> {
        let s = s.trim();
        let v = if let Some(h) = s.strip_prefix("0x") {
            i64::from_str_radix(h, 16)
        } else if let Some(o) = s
            .strip_prefix("0o")
            .or_else(|| s.strip_prefix('0').filter(|r| !r.is_empty()))
        {
            i64::from_str_radix(o, 8)
        } else {
            s.parse()
        };
        v.map_err(|_| {
            err(format!(
                "Config '{key}' for 'sequence' lookup plugin from 'direct' has an invalid value."
            ))
        })
    };
    if term.contains('=') {
        for part in term.split_whitespace() {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| err(format!("can't parse arg {part:?} in sequence")))?;
            match k {
                "start" => start = num("start", v)?,
                "end" => end = Some(num("end", v)?),
                "stride" => stride = num("stride", v)?,
                "count" => count = Some(num("count", v)?),
                "format" => format = v.to_string(),
                other => {
                    return Err(err(format!(
                        "unrecognized arguments to with_sequence: {other}"
                    )));
                }
            }
        }
    } else {
        let (body, fmt) = match term.split_once(':') {
            Some((b, f)) => (b, Some(f)),
            None => (term, None),
        };
        let (range, st) = match body.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (body, None),
        };
        match range.split_once('-') {
            Some((a, b)) => {
                start = num("start", a)?;
                end = Some(num("end", b)?);
            }
            None => end = Some(num("end", range)?),
        }
        if let Some(s) = st {
            stride = num("stride", s)?;
        }
        if let Some(f) = fmt {
            format = f.to_string();
        }
    }
    if let Some(c) = count {
        if end.is_some() {
            return Err(err("can't specify both count and end in with_sequence"));
        }
        if c == 0 {
            return Ok(Vec::new());
        }
        // Ansible's own arithmetic (`- 1`, whatever the stride).
        end = Some(start + c * stride - 1);
    }
    let end = end.ok_or_else(|| err("must specify count or end in with_sequence"))?;
    if stride > 0 && end < start {
        return Err(err("to count backwards make stride negative"));
    }
    if stride < 0 && end > start {
        return Err(err("to count forward don't make stride negative"));
    }
    if stride == 0 {
        return Ok(Vec::new());
    }
    if format.matches('%').count() != 1 {
        return Err(err(format!("bad formatting string: {format}")));
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(MjValue::from(printf_int(&format, i)));
        i += stride;
        if out.len() > 1_000_000 {
            return Err(err("with_sequence: more than a million items"));
        }
    }
    Ok(out)
}

/// Python's `format % i` for the integer conversions sequence formats use.
fn printf_int(format: &str, i: i64) -> String {
    let Some(pos) = format.find('%') else {
        return format.to_string();
    };
    let rest = &format[pos + 1..];
    let spec_end = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let (flags, conv) = (
        &rest[..spec_end],
        rest[spec_end..].chars().next().unwrap_or('d'),
    );
    let zero = flags.starts_with('0');
    let width: usize = flags.trim_start_matches('0').parse().unwrap_or(0);
    let body = match conv {
        'x' => format!("{i:x}"),
        'X' => format!("{i:X}"),
        'o' => format!("{i:o}"),
        _ => i.to_string(),
    };
    let padded = if zero {
        format!("{body:0>width$}")
    } else {
        format!("{body:>width$}")
    };
    let tail = &rest[(spec_end + conv.len_utf8()).min(rest.len())..];
    format!("{}{padded}{tail}", &format[..pos])
}
