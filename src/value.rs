//! The value model shared by inventory, vars, templates and playbooks.
//!
//! It mirrors the Python objects Ansible works with (None, bool, int, float, str, list,
//! dict), so that printing a value gives the bytes Ansible would print: `str()` and
//! `repr()` as Python spells them, and JSON as Python's `json` module writes it.

mod pyfloat;
pub(crate) mod pyjson;
mod pytime;

use indexmap::IndexMap;
use std::fmt::Write as _;

pub(crate) use pyfloat::float_repr;
pub(crate) use pytime::{TimeOfDay, Timestamp};

/// The hasher for our maps: fast, and seeded per process.
pub(crate) type Hasher = foldhash::fast::RandomState;

/// A mapping that keeps insertion order, as Python dicts do.
pub(crate) type Map = IndexMap<String, Value, Hasher>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond 64 bits (Python has no limit; 128 bits is ours).
    BigInt(i128),
    Float(f64),
    Str(String),
    /// A string marked `!unsafe`: used as is, never templated.
    Unsafe(String),
    /// A YAML timestamp: Python's `datetime.date` or `datetime.datetime`.
    Time(Box<Timestamp>),
    /// A `!vault` string (Ansible's `EncryptedString`): used as its plaintext, never
    /// templated, and still known as vaulted.
    Vault(Box<Vaulted>),
    List(Vec<Value>),
    Map(Map),
}

/// A vaulted string: its vault text, and its plaintext or why it could not be decrypted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vaulted {
    pub(crate) ciphertext: String,
    pub(crate) plain: Result<String, String>,
}

impl Vaulted {
    /// Decrypts `ciphertext` with this run's vault secrets.
    pub(crate) fn new(ciphertext: String) -> Vaulted {
        let plain = crate::vault::decrypt(ciphertext.as_bytes())
            .map_err(|e| e.0)
            .and_then(|b| {
                String::from_utf8(b).map_err(|_| "the vaulted value is not UTF-8 text".to_string())
            });
        if let Ok(p) = &plain {
            crate::vault::remember(p, &ciphertext);
        }
        Vaulted { ciphertext, plain }
    }
}

impl Value {
    pub(crate) fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Unsafe(s) => Some(s),
            Value::Vault(v) => v.plain.as_deref().ok(),
            _ => None,
        }
    }

    pub(crate) fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Python's name for the type, as Ansible's `type_debug` and error messages give it.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) | Value::Unsafe(_) => "str",
            Value::Vault(_) => "EncryptedString",
            Value::Time(t) => t.type_name(),
            Value::List(_) => "list",
            Value::Map(_) => "dict",
        }
    }

    /// Python truthiness.
    pub(crate) fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::BigInt(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) | Value::Unsafe(s) => !s.is_empty(),
            Value::Vault(v) => v.plain.as_ref().is_ok_and(|s| !s.is_empty()),
            Value::Time(_) => true,
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    /// Python's `str(value)`.
    pub(crate) fn py_str(&self) -> String {
        match self {
            Value::Str(s) | Value::Unsafe(s) => s.clone(),
            Value::Vault(v) if v.plain.is_ok() => v.plain.clone().unwrap_or_default(),
            Value::Time(t) => t.py_str(),
            _ => self.py_repr(),
        }
    }

    /// Python's `repr(value)`.
    pub(crate) fn py_repr(&self) -> String {
        let mut out = String::new();
        write_repr(&mut out, self, 0);
        out
    }
}

/// Guards against pathological nesting when printing.
const MAX_REPR_DEPTH: usize = 500;

fn write_repr(out: &mut String, v: &Value, depth: usize) {
    if depth > MAX_REPR_DEPTH {
        out.push_str("...");
        return;
    }
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&float_repr(*f)),
        Value::Str(s) | Value::Unsafe(s) => out.push_str(&str_repr(s)),
        Value::Vault(v) => match &v.plain {
            Ok(s) => out.push_str(&str_repr(s)),
            Err(_) => {
                let _ = write!(
                    out,
                    "EncryptedString(ciphertext={})",
                    str_repr(&v.ciphertext)
                );
            }
        },
        Value::Time(t) => out.push_str(&t.py_repr()),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item, depth + 1);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&str_repr(k));
                out.push_str(": ");
                write_repr(out, item, depth + 1);
            }
            out.push('}');
        }
    }
}

/// Python's `repr()` of a str: single quotes unless the text holds a single quote and
/// no double quote.
pub(crate) fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_py_printable(c) => out.push(c),
            c => {
                let n = c as u32;
                if n < 0x100 {
                    let _ = write!(out, "\\x{n:02x}");
                } else if n < 0x10000 {
                    let _ = write!(out, "\\u{n:04x}");
                } else {
                    let _ = write!(out, "\\U{n:08x}");
                }
            }
        }
    }
    out.push(quote);
    out
}

/// An approximation of Python's `str.isprintable` per character: control characters,
/// separators other than the plain space, and surrogates are not printable.
fn is_py_printable(c: char) -> bool {
    let n = c as u32;
    if c == ' ' {
        return true;
    }
    if n < 0x20 || (0x7f..0xa1).contains(&n) || n == 0xad {
        return false;
    }
    !matches!(n, 0x2028 | 0x2029 | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xfeff | 0x1680 | 0x2000..=0x200a | 0x202f | 0x205f | 0x3000)
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::BigInt(i) => s.serialize_i128(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(v) | Value::Unsafe(v) => s.serialize_str(v),
            Value::Vault(v) => {
                if let Ok(p) = &v.plain {
                    return s.serialize_str(p);
                }
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("__ansible_vault", &v.ciphertext)?;
                map.end()
            }
            Value::Time(t) => s.serialize_str(&t.isoformat()),
            Value::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for item in l {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python() {
        let mut m = Map::default();
        m.insert("a".into(), Value::Int(1));
        m.insert(
            "b".into(),
            Value::List(vec![Value::Bool(true), Value::Null, Value::Float(1.0)]),
        );
        assert_eq!(Value::Map(m).py_repr(), "{'a': 1, 'b': [True, None, 1.0]}");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(str_repr("tab\there\u{1}"), "'tab\\there\\x01'");
    }
}
