//! Ansible's data filters: JSON and YAML in and out, `combine` (`merge_hash`),
//! `dict2items`/`items2dict`, `flatten`, `extract`.

use super::{err, ours};
use crate::template::convert::to_mj;
use crate::value::pyjson::{JsonStyle, dumps};
use crate::value::{Map, Value};
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, Value as MjValue};

/// The data filters.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter(
        "to_yaml",
        |v: MjValue, k: Kwargs| -> Result<String, Error> {
            let opts = yaml_options(&k, crate::yaml::emit::DumpOptions::to_yaml())?;
            Ok(crate::yaml::emit::dump(&ours(&v)?, &opts))
        },
    );
    env.add_filter(
        "to_nice_yaml",
        |v: MjValue, k: Kwargs| -> Result<String, Error> {
            let opts = yaml_options(&k, crate::yaml::emit::DumpOptions::to_nice_yaml())?;
            Ok(crate::yaml::emit::dump(&ours(&v)?, &opts))
        },
    );
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("flatten", flatten);
    // Text is parsed; anything else (None included) comes back as it is.
    env.add_filter("from_yaml", |s: MjValue| -> Result<MjValue, Error> {
        let Some(text) = s.as_str() else {
            return Ok(s);
        };
        let loaded = crate::yaml::parse(
            text,
            &std::sync::Arc::from(std::path::Path::new("<from_yaml>")),
        )
        .map_err(|d| err(format!("from_yaml: {}", d.message)))?;
        let node = loaded
            .single()
            .map_err(|d| err(format!("from_yaml: {}", d.message)))?;
        Ok(node.map_or(MjValue::from(()), |n| to_mj(&n.to_value())))
    });
    env.add_filter("from_yaml_all", |s: MjValue| -> Result<MjValue, Error> {
        if s.is_none() {
            return Ok(MjValue::from(Vec::<MjValue>::new()));
        }
        let Some(text) = s.as_str() else {
            return Ok(s);
        };
        let loaded = crate::yaml::parse(
            text,
            &std::sync::Arc::from(std::path::Path::new("<from_yaml_all>")),
        )
        .map_err(|d| err(format!("from_yaml_all: {}", d.message)))?;
        Ok(MjValue::from(
            loaded
                .docs
                .iter()
                .map(|n| to_mj(&n.to_value()))
                .collect::<Vec<_>>(),
        ))
    });
    env.add_filter(
        "extract",
        |item: MjValue, container: MjValue, morekeys: Option<MjValue>| -> Result<MjValue, Error> {
            // A missing key gives undefined, which `default` can still replace.
            let mut v = container.get_item(&item).unwrap_or(MjValue::UNDEFINED);
            if let Some(keys) = morekeys {
                let keys: Vec<MjValue> = if matches!(keys.kind(), ValueKind::Seq) {
                    keys.try_iter()?.collect()
                } else {
                    vec![keys]
                };
                for k in keys {
                    v = v.get_item(&k).unwrap_or(MjValue::UNDEFINED);
                }
            }
            Ok(v)
        },
    );
}

fn json_filter(v: &MjValue, style: &JsonStyle) -> Result<String, Error> {
    dumps(&ours(v)?, style).map_err(err)
}

fn to_json(v: MjValue, k: Kwargs) -> Result<String, Error> {
    let mut style = JsonStyle::compact();
    if let Some(indent) = k.get::<Option<usize>>("indent")? {
        style.indent = Some(indent);
        style.item_sep = ",".into();
    }
    if let Some(s) = k.get::<Option<bool>>("sort_keys")? {
        style.sort_keys = s;
    }
    if let Some(a) = k.get::<Option<bool>>("ensure_ascii")? {
        style.ensure_ascii = a;
    }
    k.assert_all_used()?;
    json_filter(&v, &style)
}

fn to_nice_json(v: MjValue, k: Kwargs) -> Result<String, Error> {
    let mut style = JsonStyle::pretty(k.get::<Option<usize>>("indent")?.unwrap_or(4));
    if let Some(s) = k.get::<Option<bool>>("sort_keys")? {
        style.sort_keys = s;
    }
    if let Some(a) = k.get::<Option<bool>>("ensure_ascii")? {
        style.ensure_ascii = a;
    }
    json_filter(&v, &style)
}

fn from_json(s: String) -> Result<MjValue, Error> {
    let parsed: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| err(format!("from_json: {e}")))?;
    Ok(to_mj(&json_to_value(&parsed)))
}

pub(crate) fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

/// Ansible's `merge_hash`: dicts merge only when `recursive`, lists by `list_merge`
/// at every level it reaches.
pub(crate) fn merge_hash(a: &mut Map, b: &Map, recursive: bool, list_merge: &str) {
    for (k, v) in b {
        match (a.get_mut(k), v) {
            (Some(Value::Map(am)), Value::Map(bm)) if recursive => {
                merge_hash(am, bm, recursive, list_merge);
            }
            (Some(Value::List(al)), Value::List(bl)) if list_merge != "replace" => {
                let merged = match list_merge {
                    "keep" => al.clone(),
                    "append" => al.iter().chain(bl).cloned().collect(),
                    "prepend" => bl.iter().chain(al.iter()).cloned().collect(),
                    "append_rp" => al
                        .iter()
                        .filter(|x| !bl.contains(x))
                        .chain(bl)
                        .cloned()
                        .collect(),
                    "prepend_rp" => bl
                        .iter()
                        .cloned()
                        .chain(al.iter().filter(|x| !bl.contains(x)).cloned())
                        .collect(),
                    _ => bl.clone(),
                };
                *al = merged;
            }
            _ => {
                a.insert(k.clone(), v.clone());
            }
        }
    }
}

fn combine(
    first: MjValue,
    rest: minijinja::value::Rest<MjValue>,
    k: Kwargs,
) -> Result<MjValue, Error> {
    let recursive: bool = k.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge: String = k
        .get::<Option<String>>("list_merge")?
        .unwrap_or_else(|| "replace".into());
    if k.assert_all_used().is_err() {
        return Err(err(
            "'recursive' and 'list_merge' are the only valid keyword arguments",
        ));
    }
    // Ansible's flatten(terms, levels=1): lists opened one level, None dropped.
    let mut dicts = Vec::new();
    for term in std::iter::once(first).chain(rest.iter().cloned()) {
        match ours(&term)? {
            Value::List(items) => dicts.extend(items.into_iter().filter(|v| *v != Value::Null)),
            Value::Null => {}
            other => dicts.push(other),
        }
    }
    if dicts.len() <= 1 {
        return Ok(to_mj(&dicts.pop().unwrap_or(Value::Map(Map::default()))));
    }
    let mut out = Map::default();
    let mut prev = "dict";
    for d in dicts {
        let Value::Map(m) = d else {
            return Err(err(format!(
                "failed to combine variables, expected dicts but got a '{prev}' and a '{}'.",
                d.type_name()
            )));
        };
        merge_hash(&mut out, &m, recursive, &list_merge);
        prev = "dict";
    }
    Ok(to_mj(&Value::Map(out)))
}

fn dict2items(v: MjValue, k: Kwargs) -> Result<MjValue, Error> {
    let key_name: String = k
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name: String = k
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    let Value::Map(m) = ours(&v)? else {
        return Err(err(format!(
            "dict2items requires a dictionary, got {} instead.",
            ours(&v)?.type_name()
        )));
    };
    let items = m
        .into_iter()
        .map(|(key, value)| {
            let mut item = Map::default();
            item.insert(key_name.clone(), Value::Str(key));
            item.insert(value_name.clone(), value);
            Value::Map(item)
        })
        .collect();
    Ok(to_mj(&Value::List(items)))
}

fn items2dict(v: MjValue, k: Kwargs) -> Result<MjValue, Error> {
    let key_name: String = k
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name: String = k
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    let Value::List(items) = ours(&v)? else {
        return Err(err("items2dict requires a list"));
    };
    let mut out = Map::default();
    for item in items {
        let m = item
            .as_map()
            .ok_or_else(|| err("items2dict requires a list of dictionaries"))?;
        let (Some(key), Some(value)) = (m.get(&key_name), m.get(&value_name)) else {
            return Err(err(format!(
                "items2dict requires each dictionary in the list to contain the keys '{key_name}' and '{value_name}'"
            )));
        };
        out.insert(key.py_str(), value.clone());
    }
    Ok(to_mj(&Value::Map(out)))
}

fn flatten(v: MjValue, levels: Option<i64>, k: Kwargs) -> Result<MjValue, Error> {
    let skip_nulls = k.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    let levels = levels.or(k.get::<Option<i64>>("levels")?);
    fn go(items: &[Value], levels: Option<i64>, skip_nulls: bool, out: &mut Vec<Value>) {
        for item in items {
            if skip_nulls
                && (matches!(item, Value::Null) || matches!(item.as_str(), Some("None" | "null")))
            {
                continue;
            }
            match item {
                Value::List(inner) if levels.is_none_or(|l| l >= 1) => {
                    go(inner, levels.map(|l| l - 1), skip_nulls, out);
                }
                other => out.push(other.clone()),
            }
        }
    }
    let Some(items) = iterated(ours(&v)?) else {
        return Err(err("flatten expects a list"));
    };
    let mut out = Vec::new();
    go(&items, levels, skip_nulls, &mut out);
    Ok(to_mj(&Value::List(out)))
}

/// The `yaml.dump` keywords `to_yaml` and `to_nice_yaml` accept.
fn yaml_options(
    k: &Kwargs,
    mut o: crate::yaml::emit::DumpOptions,
) -> Result<crate::yaml::emit::DumpOptions, Error> {
    if let Some(i) = k.get::<Option<usize>>("indent")? {
        o.indent = i;
    }
    if let Some(w) = k.get::<Option<i64>>("width")? {
        o.width = w;
    }
    if let Some(f) = k.get::<Option<MjValue>>("default_flow_style")? {
        o.flow = if f.is_none() { None } else { Some(f.is_true()) };
    }
    if let Some(s) = k.get::<Option<bool>>("sort_keys")? {
        o.sort_keys = s;
    }
    if let Some(s) = k.get::<Option<bool>>("explicit_start")? {
        o.explicit_start = s;
    }
    if let Some(s) = k.get::<Option<bool>>("explicit_end")? {
        o.explicit_end = s;
    }
    // Always on in Ansible's filters; accepted, changes nothing.
    let _ = k.get::<Option<MjValue>>("allow_unicode");
    k.assert_all_used()?;
    Ok(o)
}

/// What iterating a value gives in Python: a list's items, a string's characters, a
/// dict's keys; None for what cannot be iterated.
pub(super) fn iterated(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::List(items) => Some(items),
        Value::Str(s) | Value::Unsafe(s) => Some(s.chars().map(|c| Value::Str(c.into())).collect()),
        Value::Map(m) => Some(m.into_keys().map(Value::Str).collect()),
        _ => None,
    }
}
