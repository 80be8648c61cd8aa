//! Variables: where they are defined and how they merge, with Ansible's precedence.
//!
//! Values are kept raw (templates unrendered, as `ansible-inventory --list` shows them);
//! rendering is lazy and lives in `template`. Each var remembers where it was defined so
//! that a template error can name the file and line.

mod files;
mod layers;

use crate::source::Origin;
use crate::value::{Map, Value};
use indexmap::IndexMap;

pub(crate) use files::{VarsCache, load_play_vars_file, load_vars_file};
pub(crate) use layers::{HostVarsQuery, host_vars};

/// A variable's raw value and where it was set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Var {
    pub value: Value,
    pub origin: Option<Origin>,
}

/// Vars in Python dict order: a later set keeps the key's first place.
pub(crate) type Vars = IndexMap<String, Var, crate::value::Hasher>;

/// Ansible's `combine_vars` with the default `hash_behaviour=replace`: top-level keys
/// of `b` replace those of `a`.
/// Ansible 2.19's `validate_variable_name`: an ASCII identifier that is not one of
/// Jinja's names (`true`, `none`, `not`, ...); else its error, naming the value and, for
/// a value that is not a string, its type.
pub(crate) fn validate_name(name: &Value) -> Result<String, String> {
    const JINJA_KEYWORDS: &[&str] = &["true", "false", "none", "True", "False", "None", "not"];
    if let Value::Str(s) = name
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !JINJA_KEYWORDS.contains(&s.as_str())
    {
        return Ok(s.clone());
    }
    let described = match name {
        Value::Str(_) => format!("name '{}'", name.py_str()),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null => {
            format!("name '{}' of type '{}'", name.py_str(), name.type_name())
        }
        other => format!("name of type '{}'", other.type_name()),
    };
    Err(format!("Invalid variable {described}."))
}

pub(crate) fn merge_into(a: &mut Vars, b: &Vars) {
    for (k, v) in b {
        a.insert(k.clone(), v.clone());
    }
}

/// Wraps plain values (no origin known beyond `origin`).
pub(crate) fn from_map(map: &Map, origin: Option<&Origin>) -> Vars {
    map.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Var {
                    value: v.clone(),
                    origin: origin.cloned(),
                },
            )
        })
        .collect()
}

/// Drops origins.
pub(crate) fn to_map(vars: &Vars) -> Map {
    vars.iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect()
}
