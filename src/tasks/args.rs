//! Argument helpers shared by modules.

use super::{TaskError, fail};
use crate::value::{Map, Value};

pub(crate) fn str_opt(a: &Map, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| a.get(*k))
        .filter(|v| !matches!(v, Value::Null))
        .map(Value::py_str)
}

pub(crate) fn str_req(a: &Map, keys: &[&str], module: &str) -> Result<String, TaskError> {
    str_opt(a, keys).ok_or_else(|| {
        // Ansible's own words (its argument spec check), whatever the module.
        let _ = module;
        fail(format!("missing required arguments: {}", keys[0]))
    })
}

pub(crate) fn bool_opt(a: &Map, keys: &[&str]) -> Result<Option<bool>, TaskError> {
    match keys.iter().find_map(|k| a.get(*k)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Int(i)) => Ok(Some(*i != 0)),
        Some(Value::Str(s)) => match s.to_lowercase().as_str() {
            "yes" | "true" | "on" | "1" | "y" | "t" => Ok(Some(true)),
            "no" | "false" | "off" | "0" | "n" | "f" | "" => Ok(Some(false)),
            _ => Err(fail(format!(
                "argument `{}` is of type str and we were unable to convert to bool: {s:?}",
                keys[0]
            ))),
        },
        Some(other) => Err(fail(format!(
            "argument `{}` must be a boolean, got {}",
            keys[0],
            other.type_name()
        ))),
    }
}

pub(crate) fn list_opt(a: &Map, keys: &[&str]) -> Option<Vec<String>> {
    match keys.iter().find_map(|k| a.get(*k))? {
        Value::List(l) => Some(l.iter().map(Value::py_str).collect()),
        Value::Null => None,
        other => Some(
            other
                .py_str()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ),
    }
}

/// A string argument with a fixed set of values, refused as Ansible's argument spec
/// refuses it.
pub(crate) fn choice(a: &Map, key: &str, choices: &[&str]) -> Result<Option<String>, TaskError> {
    match str_opt(a, &[key]) {
        Some(v) if !choices.contains(&v.as_str()) => Err(fail(format!(
            "value of {key} must be one of: {}, got: {v}",
            choices.join(", ")
        ))),
        other => Ok(other),
    }
}

/// An int argument (`type='int'`), `default` when absent.
pub(crate) fn int_or(a: &Map, key: &str, default: i64) -> Result<i64, TaskError> {
    match a.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.py_str().trim().parse().map_err(|_| {
            fail(format!(
                "argument '{key}' is of type {} and we were unable to convert to int: {}",
                v.type_name(),
                v.py_str()
            ))
        }),
    }
}
