//! JSON exactly as Python's `json.dumps` writes it (`ensure_ascii`, `sort_keys`, `indent`
//! and the separators), so `to_json`, `to_nice_json` and `tprov inventory --list` give
//! the bytes Ansible gives.

use super::{Value, float_repr};
use std::fmt::Write as _;

#[derive(Debug, Clone)]
pub(crate) struct JsonStyle {
    pub indent: Option<usize>,
    pub sort_keys: bool,
    pub ensure_ascii: bool,
    /// The item separator; Python uses ", " without indent and "," with it.
    pub item_sep: String,
    pub key_sep: String,
    /// `!unsafe` strings as `{"__ansible_unsafe": ...}`, as ansible-inventory prints them.
    pub unsafe_marker: bool,
}

impl JsonStyle {
    /// `json.dumps(v)`.
    pub(crate) fn compact() -> Self {
        JsonStyle {
            indent: None,
            sort_keys: false,
            ensure_ascii: true,
            item_sep: ", ".into(),
            key_sep: ": ".into(),
            unsafe_marker: false,
        }
    }

    /// `json.dumps(v, indent=n, sort_keys=True)`.
    pub(crate) fn pretty(indent: usize) -> Self {
        JsonStyle {
            indent: Some(indent),
            sort_keys: true,
            ensure_ascii: true,
            item_sep: ",".into(),
            key_sep: ": ".into(),
            unsafe_marker: false,
        }
    }
}

/// Serialises `v`; errors only on values nested deeper than Python's recursion limit.
pub(crate) fn dumps(v: &Value, style: &JsonStyle) -> Result<String, String> {
    let mut out = String::new();
    write_value(&mut out, v, style, 0)?;
    Ok(out)
}

const MAX_DEPTH: usize = 900;

fn newline(out: &mut String, style: &JsonStyle, level: usize) {
    if let Some(n) = style.indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', n * level));
    }
}

/// Writes `v` as if it sat `level` levels deep in a larger document.
pub(crate) fn write_value(
    out: &mut String,
    v: &Value,
    style: &JsonStyle,
    level: usize,
) -> Result<(), String> {
    if level > MAX_DEPTH {
        return Err("maximum recursion depth exceeded while encoding a JSON object".into());
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            if f.is_nan() {
                out.push_str("NaN");
            } else if f.is_infinite() {
                out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" });
            } else {
                out.push_str(&float_repr(*f));
            }
        }
        Value::Unsafe(s) if style.unsafe_marker => {
            let mut m = crate::value::Map::default();
            m.insert("__ansible_unsafe".into(), Value::Str(s.clone()));
            write_value(out, &Value::Map(m), style, level)?;
        }
        Value::Vault(v) if style.unsafe_marker => {
            let mut m = crate::value::Map::default();
            m.insert("__ansible_vault".into(), Value::Str(v.ciphertext.clone()));
            write_value(out, &Value::Map(m), style, level)?;
        }
        Value::Vault(v) => match &v.plain {
            Ok(s) => write_str(out, s, style.ensure_ascii),
            Err(e) => return Err(format!("Attempt to use undecryptable variable: {e}")),
        },
        Value::Str(s) | Value::Unsafe(s) => write_str(out, s, style.ensure_ascii),
        Value::Time(t) => write_str(out, &t.isoformat(), style.ensure_ascii),
        Value::List(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(out, style, level + 1);
                write_value(out, item, style, level + 1)?;
            }
            newline(out, style, level);
            out.push(']');
        }
        Value::Map(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if style.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline(out, style, level + 1);
                write_str(out, k, style.ensure_ascii);
                out.push_str(&style.key_sep);
                write_value(out, item, style, level + 1)?;
            }
            newline(out, style, level);
            out.push('}');
        }
    }
    Ok(())
}

/// A JSON string as Python writes it: `\n`, `\"`, `\\`, other control characters as
/// `\u00XX`, and with `ensure_ascii` everything past ASCII as `\uXXXX` (surrogate pairs
/// beyond the BMP).
pub(crate) fn write_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    let needs_escape =
        |c: char| c == '"' || c == '\\' || (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e);
    let mut rest = s;
    while let Some(i) = rest.find(needs_escape) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or_default();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Map;

    #[test]
    fn pretty_sorted_like_python() {
        let mut m = Map::default();
        m.insert(
            "b".into(),
            Value::List(vec![Value::Int(1), Value::Float(1e16)]),
        );
        m.insert("a".into(), Value::Map(Map::default()));
        m.insert("é".into(), Value::Str("ü\u{1F600}".into()));
        let got = dumps(&Value::Map(m), &JsonStyle::pretty(4)).unwrap();
        assert_eq!(
            got,
            "{\n    \"a\": {},\n    \"b\": [\n        1,\n        1e+16\n    ],\n    \"\\u00e9\": \"\\u00fc\\ud83d\\ude00\"\n}"
        );
    }

    #[test]
    fn compact_like_python() {
        let v = Value::List(vec![Value::Null, Value::Bool(true), Value::Str("x".into())]);
        assert_eq!(
            dumps(&v, &JsonStyle::compact()).unwrap(),
            "[null, true, \"x\"]"
        );
    }
}
