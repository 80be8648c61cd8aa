//! The `subelements` filter: each item paired with each value of its list under a
//! (dotted) key, with Ansible's messages when the data has another shape.

use super::convert::{from_mj, to_mj};
use crate::value::Value;
use minijinja::value::Kwargs;
use minijinja::{Error, ErrorKind, Value as MjValue};

fn error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

pub(super) fn subelements(obj: MjValue, keys: MjValue, k: Kwargs) -> Result<MjValue, Error> {
    let skip_missing = k.get::<Option<bool>>("skip_missing")?.unwrap_or(false);
    k.assert_all_used()?;
    let elements: Vec<Value> = match from_mj(&obj)? {
        Value::Map(m) => m.into_values().collect(),
        Value::List(l) => l,
        _ => return Err(error("obj must be a list of dicts or a nested dict")),
    };
    let keys: Vec<String> = match from_mj(&keys)? {
        Value::List(l) => l.iter().map(Value::py_str).collect(),
        Value::Str(s) => s.split('.').map(str::to_string).collect(),
        _ => return Err(error("subelements must be a list or a string")),
    };
    let mut out = Vec::new();
    for element in elements {
        let mut values = element.clone();
        for key in &keys {
            values = match &values {
                Value::Map(m) => match m.get(key) {
                    Some(v) => v.clone(),
                    None if skip_missing => {
                        values = Value::List(Vec::new());
                        break;
                    }
                    None => {
                        return Err(error(format!(
                            "could not find {} key in iterated item {}",
                            Value::str(key.clone()).py_repr(),
                            values.py_repr()
                        )));
                    }
                },
                other => {
                    return Err(error(format!(
                        "the key {key} should point to a dictionary, got '{}'",
                        other.py_str()
                    )));
                }
            };
        }
        let Value::List(items) = values else {
            return Err(error(format!(
                "the key {} should point to a list, got {}",
                Value::str(keys.last().cloned().unwrap_or_default()).py_repr(),
                values.py_repr()
            )));
        };
        for v in items {
            out.push(MjValue::from_object(minijinja::value::Tuple::from(vec![
                to_mj(&element),
                to_mj(&v),
            ])));
        }
    }
    Ok(MjValue::from(out))
}
