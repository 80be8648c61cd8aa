//! YAML output as PyYAML's `yaml.dump` writes it for `to_yaml` / `to_nice_yaml`: keys
//! sorted, strings quoted when they would read back as something else.

use super::resolve::resolve_plain;
use crate::value::{Value, float_repr};

/// `to_nice_yaml`: block style with the given indent.
pub fn to_nice_yaml(v: &Value, indent: usize) -> String {
    dump(v, indent.max(2), false)
}

/// `to_yaml`: PyYAML's `default_flow_style=None` (collections of scalars inline).
pub fn to_yaml(v: &Value, indent: Option<usize>) -> String {
    dump(v, indent.unwrap_or(2).max(2), true)
}

fn dump(v: &Value, indent: usize, flow_leaves: bool) -> String {
    let mut out = String::new();
    let e = Emitter {
        indent,
        flow_leaves,
    };
    if e.inline(v) {
        // Ansible's dumper ends a lone scalar without PyYAML's `...` marker.
        out.push_str(&e.flow(v));
        out.push('\n');
    } else {
        match v {
            Value::Map(_) => e.block_map(&mut out, v, 0),
            _ => e.block_seq(&mut out, v, 0),
        }
    }
    out
}

struct Emitter {
    indent: usize,
    flow_leaves: bool,
}

impl Emitter {
    /// Written on the same line as its key or dash.
    fn inline(&self, v: &Value) -> bool {
        match v {
            Value::Map(m) => {
                m.is_empty() || self.flow_leaves && m.values().all(|x| !is_collection(x))
            }
            Value::List(l) => {
                l.is_empty() || self.flow_leaves && l.iter().all(|x| !is_collection(x))
            }
            _ => true,
        }
    }

    fn flow(&self, v: &Value) -> String {
        match v {
            Value::Map(m) => {
                let items: Vec<String> = sorted(m)
                    .into_iter()
                    .map(|(k, v)| format!("{}: {}", key(k), self.flow(v)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            Value::List(l) => format!(
                "[{}]",
                l.iter()
                    .map(|x| self.flow(x))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => scalar(other),
        }
    }

    fn block_map(&self, out: &mut String, v: &Value, level: usize) {
        let Value::Map(m) = v else { return };
        for (k, item) in sorted(m) {
            out.push_str(&" ".repeat(level));
            out.push_str(&key(k));
            out.push(':');
            if self.inline(item) {
                out.push(' ');
                out.push_str(&self.flow(item));
                out.push('\n');
            } else if let Value::Map(_) = item {
                out.push('\n');
                self.block_map(out, item, level + self.indent);
            } else {
                // PyYAML writes sequences in mappings "indentless".
                out.push('\n');
                self.block_seq(out, item, level);
            }
        }
    }

    fn block_seq(&self, out: &mut String, v: &Value, level: usize) {
        let Value::List(l) = v else { return };
        for item in l {
            out.push_str(&" ".repeat(level));
            out.push('-');
            if self.inline(item) {
                out.push(' ');
                out.push_str(&self.flow(item));
                out.push('\n');
                continue;
            }
            out.push_str(&" ".repeat(self.indent - 1));
            let mut inner = String::new();
            match item {
                Value::Map(_) => self.block_map(&mut inner, item, level + self.indent),
                _ => self.block_seq(&mut inner, item, level + self.indent),
            }
            out.push_str(inner.trim_start_matches(' '));
        }
    }
}

fn is_collection(v: &Value) -> bool {
    matches!(v, Value::Map(m) if !m.is_empty()) || matches!(v, Value::List(l) if !l.is_empty())
}

fn sorted(m: &crate::value::Map) -> Vec<(&String, &Value)> {
    let mut e: Vec<_> = m.iter().collect();
    e.sort_by(|a, b| a.0.cmp(b.0));
    e
}

fn key(k: &str) -> String {
    scalar(&Value::Str(k.to_string()))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                ".nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    ".inf".into()
                } else {
                    "-.inf".into()
                }
            } else {
                float_repr(*f)
            }
        }
        Value::Str(s) | Value::Unsafe(s) => string(s),
        Value::List(_) => "[]".into(),
        Value::Map(_) => "{}".into(),
    }
}

fn string(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let needs_double = s.chars().any(|c| c.is_control() && c != '\n' || c == '\n');
    if needs_double {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        return out;
    }
    let plain_ok = !matches!(resolve_plain(s), Ok(ref v) if !matches!(v, Value::Str(_)))
        && resolve_plain(s).is_ok()
        && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        && !s.ends_with(|c: char| c.is_whitespace() || c == ':')
        && !s.contains(": ")
        && !s.contains(" #");
    if plain_ok
        || (s.starts_with(['-', '?', ':'])
            && s.len() > 1
            && !s[1..].starts_with(' ')
            && resolve_plain(s).is_ok_and(|v| matches!(v, Value::Str(_)))
            && !s.contains(": ")
            && !s.contains(" #"))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Map;

    #[test]
    fn nice_yaml_like_pyyaml() {
        let mut m = Map::default();
        m.insert(
            "b".into(),
            Value::List(vec![Value::str("x"), Value::str("yes")]),
        );
        m.insert("a".into(), Value::Int(1));
        assert_eq!(
            to_nice_yaml(&Value::Map(m.clone()), 4),
            "a: 1\nb:\n- x\n- 'yes'\n"
        );
        assert_eq!(
            to_yaml(&Value::Map(m.clone()), None),
            "a: 1\nb: [x, 'yes']\n"
        );
        let mut inner = Map::default();
        inner.insert("x".into(), Value::List(vec![Value::Int(1), Value::Int(2)]));
        let v = Value::List(vec![
            Value::Map(inner),
            Value::List(vec![Value::str("a"), Value::str("b")]),
            Value::str("c"),
        ]);
        assert_eq!(
            to_nice_yaml(&v, 4),
            "-   x:\n    - 1\n    - 2\n-   - a\n    - b\n- c\n"
        );
    }
}
