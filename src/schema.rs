//! The fleet's vars contract (`schema/fleet.yaml`): required vars, their types and
//! ranges, and group pairs a host may not be in at once. Checked by `tprov validate`
//! against each host's templated vars.

use crate::source::{Diagnostic, Origin};
use crate::value::Value;
use crate::yaml::{Loaded, Node, NodeKind};
use indexmap::IndexMap;
use regex::Regex;
use std::path::Path;

#[derive(Debug, Clone)]
pub(crate) struct Schema {
    pub groups: Vec<String>,
    pub exclusive: Vec<Vec<String>>,
    pub vars: IndexMap<String, Rule>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub kind: Kind,
    pub optional: bool,
    pub pattern: Option<Regex>,
    pub choices: Option<Vec<Value>>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub items: Option<Box<Rule>>,
    pub keys: Option<IndexMap<String, Rule>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Int,
    Bool,
    Float,
    List,
    Dict,
    Version,
    Hostname,
    Path,
    Any,
}

fn err(l: &Loaded, n: &Node, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(l.origin(n.pos), msg)
}

pub(crate) fn load(path: &Path) -> Result<Schema, Diagnostic> {
    let l = crate::yaml::load_file(path)?;
    let root = l
        .single()?
        .ok_or_else(|| Diagnostic::error(Origin::file(path), "empty schema"))?;
    let strings = |n: &Node| -> Result<Vec<String>, Diagnostic> {
        match &n.kind {
            NodeKind::Seq(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| err(&l, i, "expected a string"))
                })
                .collect(),
            _ => Err(err(&l, n, "expected a list of strings")),
        }
    };
    let groups = root
        .get("groups")
        .map(strings)
        .transpose()?
        .unwrap_or_default();
    let mut exclusive = Vec::new();
    if let Some(NodeKind::Seq(pairs)) = root.get("exclusive").map(|n| &n.kind) {
        for p in pairs {
            exclusive.push(strings(p)?);
        }
    }
    let vars = match root.get("vars") {
        Some(n) => rules(&l, n)?,
        None => IndexMap::default(),
    };
    Ok(Schema {
        groups,
        exclusive,
        vars,
        origin: l.origin(root.pos),
    })
}

fn rules(l: &Loaded, n: &Node) -> Result<IndexMap<String, Rule>, Diagnostic> {
    let entries = n
        .as_map()
        .ok_or_else(|| err(l, n, "expected a mapping of names to rules"))?;
    entries
        .iter()
        .map(|(k, v)| Ok((k.name.clone(), rule(l, v)?)))
        .collect()
}

fn rule(l: &Loaded, n: &Node) -> Result<Rule, Diagnostic> {
    let entries = n
        .as_map()
        .ok_or_else(|| err(l, n, "expected a rule mapping like {type: str}"))?;
    let mut r = Rule {
        kind: Kind::Any,
        optional: false,
        pattern: None,
        choices: None,
        min: None,
        max: None,
        items: None,
        keys: None,
    };
    for (k, v) in entries {
        match k.name.as_str() {
            "type" => {
                r.kind = match v.as_str().unwrap_or_default() {
                    "str" => Kind::Str,
                    "int" => Kind::Int,
                    "bool" => Kind::Bool,
                    "float" => Kind::Float,
                    "list" => Kind::List,
                    "dict" => Kind::Dict,
                    "version" => Kind::Version,
                    "hostname" => Kind::Hostname,
                    "path" => Kind::Path,
                    "any" => Kind::Any,
                    other => return Err(err(l, v, format!("unknown type `{other}`"))),
                }
            }
            "optional" => r.optional = matches!(v.to_value(), Value::Bool(true)),
            "pattern" => {
                let p = v
                    .as_str()
                    .ok_or_else(|| err(l, v, "pattern must be a string"))?;
                r.pattern =
                    Some(Regex::new(p).map_err(|e| err(l, v, format!("bad pattern: {e}")))?);
            }
            "choices" => r.choices = v.to_value().as_list().map(<[Value]>::to_vec),
            "min" => r.min = int(&v.to_value()),
            "max" => r.max = int(&v.to_value()),
            "items" => r.items = Some(Box::new(rule(l, v)?)),
            "keys" => r.keys = Some(rules(l, v)?),
            other => return Err(err(l, v, format!("unknown rule key `{other}`"))),
        }
    }
    Ok(r)
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

static VERSION: std::sync::LazyLock<Regex> =
    std::sync::LazyLock::new(|| Regex::new(r"^\d+\.\d+\.\d+$").expect("static regex"));
static HOSTNAME: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
    Regex::new(r"^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
        .expect("static regex")
});

/// Checks `value` (the var `path`) against `rule`; problems as plain messages.
pub(crate) fn check(path: &str, value: &Value, rule: &Rule, out: &mut Vec<String>) {
    let type_ok = match rule.kind {
        Kind::Any => true,
        Kind::Str | Kind::Version | Kind::Hostname | Kind::Path => value.as_str().is_some(),
        Kind::Int => matches!(value, Value::Int(_)),
        Kind::Bool => matches!(value, Value::Bool(_)),
        Kind::Float => matches!(value, Value::Float(_) | Value::Int(_)),
        Kind::List => matches!(value, Value::List(_)),
        Kind::Dict => matches!(value, Value::Map(_)),
    };
    if !type_ok {
        let want = format!("{:?}", rule.kind).to_lowercase();
        out.push(format!(
            "`{path}` must be a {want}, got {} {}",
            value.type_name(),
            value.py_repr()
        ));
        return;
    }
    if let Some(s) = value.as_str() {
        match rule.kind {
            Kind::Version if !VERSION.is_match(s) => out.push(format!(
                "`{path}` must be a version like 20.17.0, got '{s}'"
            )),
            Kind::Hostname if !HOSTNAME.is_match(s) => {
                out.push(format!("`{path}` must be a host name, got '{s}'"));
            }
            Kind::Path if !s.starts_with('/') => {
                out.push(format!("`{path}` must be an absolute path, got '{s}'"));
            }
            _ => {}
        }
        if let Some(p) = &rule.pattern
            && !p.is_match(s)
        {
            out.push(format!(
                "`{path}` is '{s}', which does not match /{}/",
                p.as_str()
            ));
        }
    }
    if let Value::Int(i) = value
        && (rule.min.is_some_and(|m| *i < m) || rule.max.is_some_and(|m| *i > m))
    {
        out.push(format!(
            "`{path}` is {i}, outside {}..={}",
            rule.min.map_or(String::new(), |m| m.to_string()),
            rule.max.map_or(String::new(), |m| m.to_string())
        ));
    }
    if let Some(choices) = &rule.choices
        && !choices.contains(value)
    {
        let list: Vec<String> = choices.iter().map(Value::py_repr).collect();
        out.push(format!(
            "`{path}` is {}, expected one of {}",
            value.py_repr(),
            list.join(", ")
        ));
    }
    if let (Some(item_rule), Value::List(items)) = (&rule.items, value) {
        for (i, item) in items.iter().enumerate() {
            check(&format!("{path}[{i}]"), item, item_rule, out);
        }
    }
    if let (Some(keys), Value::Map(m)) = (&rule.keys, value) {
        for (k, r) in keys {
            match m.get(k) {
                Some(v) => check(&format!("{path}.{k}"), v, r, out),
                None if !r.optional => out.push(format!("`{path}.{k}` is missing")),
                None => {}
            }
        }
        for k in m.keys().filter(|k| !keys.contains_key(*k)) {
            let hint = did_you_mean(k, keys.keys().map(String::as_str))
                .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
            out.push(format!("`{path}.{k}` is not a known key{hint}"));
        }
    }
}

/// The closest known name, if it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    known: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    known
        .map(|k| {
            (
                strsim::damerau_levenshtein(&name.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 5) && *d > 0)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}
