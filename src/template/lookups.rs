//! Lookups (`lookup()`, `query()`, and the `with_<name>` loops built on them): the ones
//! playbooks like the fleet's use, run on the controller as Ansible runs them.

use super::convert::py_str;
use crate::value::Value;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value as MjValue};

mod files;
mod lists;
mod native;
mod sequence;

pub(super) use files::glob_files;
use files::{FirstFound, find, find_under};
pub(super) use lists::product;
use lists::{lists_of, take_list};
use sequence::sequence;

/// The lookups tprov has (short names; `ansible.builtin.` prefixes are accepted).
pub(crate) const NAMES: &[&str] = &[
    "env",
    "file",
    "template",
    "unvault",
    "vars",
    "items",
    "list",
    "pipe",
    "lines",
    "fileglob",
    "first_found",
    "sequence",
    "dict",
    "nested",
    "together",
    "subelements",
    "indexed_items",
    "random_choice",
];

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Runs `cmd` with `sh -c` on the controller; its stdout, or an error naming the status.
fn shell(cmd: &str) -> Result<String, Error> {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map_err(|e| err(format!("lookup pipe: cannot run sh: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "lookup_plugin.pipe({cmd}) returned {}",
            out.status.code().unwrap_or(-1)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The values of lookup `name` for `terms`. A failure of the plugin is worded as
/// Ansible words it: "The lookup plugin 'NAME' failed: why".
pub(super) fn values(
    state: &minijinja::State,
    name: &str,
    terms: &[MjValue],
    k: &Kwargs,
) -> Result<Vec<MjValue>, Error> {
    let short = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    if !NAMES.contains(&short) {
        return Err(err(format!(
            "The lookup plugin '{name}' was not found: tprov does not have it ({} it has)",
            NAMES.join(", ")
        )));
    }
    plugin(state, short, terms, k).map_err(|e| match e.kind() {
        ErrorKind::InvalidOperation => {
            let why = e.detail().unwrap_or("unknown error");
            err(format!("The lookup plugin '{name}' failed: {why}"))
        }
        _ => e,
    })
}

fn plugin(
    state: &minijinja::State,
    name: &str,
    terms: &[MjValue],
    k: &Kwargs,
) -> Result<Vec<MjValue>, Error> {
    let mut out = Vec::new();
    match name {
        "env" => {
            let default: Option<MjValue> = k.get("default")?;
            for t in terms {
                let key = py_str(t)?;
                out.push(match std::env::var(&key) {
                    Ok(v) => MjValue::from(v),
                    Err(_) => default.clone().unwrap_or_else(|| MjValue::from("")),
                });
            }
        }
        "file" => {
            let rstrip: bool = k.get::<Option<bool>>("rstrip")?.unwrap_or(true);
            let lstrip: bool = k.get::<Option<bool>>("lstrip")?.unwrap_or(false);
            for t in terms {
                let rel = py_str(t)?;
                let found = find(state, &rel).filter(|p| p.is_file()).ok_or_else(|| {
                    err(format!(
                        "Unable to access the file '{rel}': File not found. Use -vvvvv to see paths searched."
                    ))
                })?;
                let mut text = crate::vault::read_text(&found)
                    .map_err(|e| err(format!("lookup file {rel}: {e}")))?;
                if rstrip {
                    text.truncate(text.trim_end().len());
                }
                if lstrip {
                    text = text.trim_start().to_string();
                }
                out.push(MjValue::from(text));
            }
        }
        "template" => {
            let mut options = super::FileOptions::default();
            for (key, slot) in [
                ("variable_start_string", &mut options.variable_start),
                ("variable_end_string", &mut options.variable_end),
                ("comment_start_string", &mut options.comment_start),
                ("comment_end_string", &mut options.comment_end),
            ] {
                if let Some(v) = k.get::<Option<String>>(key)? {
                    *slot = v;
                }
            }
            if let Some(t) = k.get::<Option<bool>>("trim_blocks")? {
                options.trim_blocks = t;
            }
            let extra: Option<MjValue> = k.get("template_vars")?;
            let _: Option<MjValue> = k.get("convert_data")?;
            let _: Option<MjValue> = k.get("jinja2_native")?;
            let root = state
                .lookup(super::scope::ROOT)
                .ok_or_else(|| err("the template lookup has no variables to render with"))?;
            let Some(root) = root.downcast_object_ref::<super::scope::Root>() else {
                return Err(err("the template lookup has no variables to render with"));
            };
            for t in terms {
                let rel = py_str(t)?;
                let found = find_under(state, "templates", &rel).ok_or_else(|| {
                    err(format!(
                        "the template file {rel} could not be found for the lookup"
                    ))
                })?;
                // A user's `ansible_managed` is not clobbered, as in the template module.
                let mut vars: Vec<(String, crate::value::Value)> = super::file_vars(&found, &rel)
                    .into_iter()
                    .filter(|(k, _)| k != "ansible_managed" || !root.0.contains(k))
                    .collect();
                if let Some(e) = &extra
                    && let crate::value::Value::Map(m) = super::convert::from_mj(e)?
                {
                    vars.extend(m);
                }
                let scope = root.0.with_frame(super::native_frame(vars));
                let text = super::engine()
                    .render_file_with(&found, &scope, &options)
                    .map_err(|e| err(e.message))?;
                let source = std::fs::read_to_string(&found).unwrap_or_default();
                let value = match native::shape(&source, &options) {
                    native::Shape::Nothing => MjValue::from(()),
                    // A condition that left its one expression out: no node either.
                    native::Shape::Expression(_)
                        if text.trim().is_empty() && source.contains("{%") =>
                    {
                        MjValue::from(())
                    }
                    native::Shape::Expression(expr) => {
                        let v = super::engine()
                            .template_to_value(
                                &Value::str(format!("{{{{ {expr} }}}}")),
                                &scope,
                                None,
                            )
                            .map_err(|e| err(e.message))?;
                        super::convert::to_mj(&v)
                    }
                    native::Shape::Computed if text.trim_start().starts_with(['{', '[']) => {
                        match crate::inventory::parse_value(text.trim()) {
                            v @ (Value::Map(_) | Value::List(_)) => super::convert::to_mj(&v),
                            _ => MjValue::from(text),
                        }
                    }
                    _ => MjValue::from(text),
                };
                out.push(value);
            }
        }
        "unvault" => {
            for t in terms {
                let rel = py_str(t)?;
                let found = find(state, &rel)
                    .filter(|p| p.is_file())
                    .ok_or_else(|| err(format!("Unable to find file matching \"{rel}\" ")))?;
                let text = crate::vault::read_text(&found).map_err(err)?;
                out.push(MjValue::from(text));
            }
        }
        "vars" => {
            let default: Option<MjValue> = k.get("default")?;
            for t in terms {
                let Some(key) = t.as_str().map(str::to_string) else {
                    return Err(err(format!(
                        "Variable name must be 'str' not '{}'",
                        super::convert::from_mj(t).map_or("unknown", |v| v.type_name())
                    )));
                };
                match state
                    .lookup(&key)
                    .filter(|v| !v.is_undefined())
                    .or_else(|| default.clone())
                {
                    Some(v) => out.push(v),
                    None => return Err(err(format!("No variable named '{key}' was found"))),
                }
            }
        }
        "items" | "list" => {
            for t in terms {
                match t.kind() {
                    ValueKind::Seq if name == "items" => out.extend(t.try_iter()?),
                    _ => out.push(t.clone()),
                }
            }
        }
        "pipe" => {
            for t in terms {
                out.push(MjValue::from(shell(&py_str(t)?)?.trim_end().to_string()));
            }
        }
        "lines" => {
            for t in terms {
                out.extend(shell(&py_str(t)?)?.lines().map(MjValue::from));
            }
        }
        "fileglob" => {
            for t in terms {
                let pat = py_str(t)?;
                let (dir, base) = match pat.rsplit_once('/') {
                    Some((d, b)) => (if d.is_empty() { "/" } else { d }, b),
                    None => (".", pat.as_str()),
                };
                let Some(dir) = find(state, dir).filter(|d| d.is_dir()) else {
                    continue;
                };
                out.extend(glob_files(&dir, base).into_iter().map(MjValue::from));
            }
        }
        "first_found" => {
            let mut opts = FirstFound::from_kwargs(k)?;
            let search = if terms.is_empty() {
                let files: Vec<MjValue> = opts
                    .files
                    .iter()
                    .map(|f| MjValue::from(f.as_str()))
                    .collect();
                opts.search(&files)?
            } else {
                opts.search(terms)?
            };
            match search.iter().find_map(|c| find(state, c)) {
                Some(p) => out.push(MjValue::from(p.display().to_string())),
                None if opts.skip => {}
                None => {
                    return Err(err("No file was found when using first_found."));
                }
            }
        }
        "sequence" => {
            // Keyword arguments are options too, under what each term says; with
            // keywords only, one empty term (Ansible's).
            let mut given = Vec::new();
            for key in ["start", "end", "stride", "count", "format"] {
                if let Some(v) = k.get::<Option<MjValue>>(key)? {
                    given.push(format!("{key}={}", py_str(&v)?));
                }
            }
            let empty = [MjValue::from("")];
            let terms = if terms.is_empty() && !given.is_empty() {
                &empty[..]
            } else {
                terms
            };
            for t in terms {
                let term = py_str(t)?;
                let text = if given.is_empty() {
                    term
                } else {
                    format!("{} {term}", given.join(" "))
                };
                out.extend(sequence(text.trim())?);
            }
        }
        "dict" => {
            for t in terms {
                if !matches!(t.kind(), ValueKind::Map) {
                    return Err(err("with_dict expects a dict"));
                }
                for key in t.try_iter()? {
                    let val = t.get_item(&key)?;
                    out.push(super::mj_map([
                        ("key".to_string(), key.clone()),
                        ("value".to_string(), val),
                    ]));
                }
            }
        }
        "nested" => {
            let lists = lists_of(terms)?;
            if lists.is_empty() {
                return Err(err(
                    "with_nested requires at least one element in the nested list",
                ));
            }
            out.extend(product(&lists).into_iter().map(MjValue::from));
        }
        "together" => {
            let lists = lists_of(terms)?;
            if lists.is_empty() {
                return Err(err(
                    "with_together requires at least one element in each list",
                ));
            }
            let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
            for i in 0..longest {
                out.push(MjValue::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or(MjValue::from(())))
                        .collect::<Vec<_>>(),
                ));
            }
        }
        "subelements" => {
            let (list, key, flags) = match terms {
                [one] if matches!(one.kind(), ValueKind::Seq) => {
                    let inner: Vec<MjValue> = one.try_iter()?.collect();
                    (
                        inner.first().cloned().unwrap_or_default(),
                        inner.get(1).cloned().unwrap_or_default(),
                        inner.get(2).cloned(),
                    )
                }
                [l, key, rest @ ..] if rest.len() <= 1 => {
                    (l.clone(), key.clone(), rest.first().cloned())
                }
                _ => {
                    return Err(err(
                        "subelements lookup expects a list of two or three items, ",
                    ));
                }
            };
            if !matches!(list.kind(), ValueKind::Seq | ValueKind::Map)
                || !matches!(key.kind(), ValueKind::String)
            {
                return Err(err(
                    "subelements lookup expects a list of two or three items, first a dict or a list, second a string pointing to the subkey",
                ));
            }
            let key = py_str(&key)?;
            if let Some(f) = &flags
                && !matches!(f.kind(), ValueKind::Map)
            {
                return Err(err(
                    "subelements lookup expects a list of two or three items, the optional third item must be a dict with flags ('skip_missing',)",
                ));
            }
            let skip_missing = flags
                .and_then(|f| f.get_attr("skip_missing").ok())
                .is_some_and(|v| v.is_true());
            let items: Vec<Value> = match super::convert::from_mj(&list)? {
                // A registered result that was skipped whole gives nothing.
                Value::Map(m) if m.get("skipped").is_some_and(Value::is_truthy) => Vec::new(),
                Value::Map(m) => m.into_values().collect(),
                Value::List(l) => l,
                _ => Vec::new(),
            };
            let parts: Vec<&str> = key.split('.').collect();
            for item in items {
                let Value::Map(mut item) = item else {
                    return Err(err(format!(
                        "subelements lookup expects a dictionary, got '{}'",
                        item.py_str()
                    )));
                };
                if item.get("skipped").is_some_and(Value::is_truthy) {
                    continue;
                }
                // Ansible's walk, its quirks kept (a missing key with skip_missing goes on
                // to the next one); the list is then taken out of the item.
                let mut path: Vec<&str> = Vec::new();
                let mut found = None;
                {
                    let mut sub = &item;
                    for (i, part) in parts.iter().enumerate() {
                        let Some(v) = sub.get(*part) else {
                            if skip_missing {
                                continue;
                            }
                            return Err(err(format!(
                                "could not find '{part}' key in iterated item '{}'",
                                Value::Map(sub.clone()).py_str()
                            )));
                        };
                        if i + 1 < parts.len() {
                            match v {
                                Value::Map(m) => {
                                    sub = m;
                                    path.push(part);
                                }
                                _ if skip_missing => {}
                                other => {
                                    return Err(err(format!(
                                        "the key {part} should point to a dictionary, got '{}'",
                                        other.py_str()
                                    )));
                                }
                            }
                        } else if let Value::List(_) = v {
                            found = Some(*part);
                        } else {
                            return Err(err(format!(
                                "the key {part} should point to a list, got '{}'",
                                v.py_str()
                            )));
                        }
                    }
                }
                let sublist = found
                    .and_then(|last| take_list(&mut item, &path, last))
                    .unwrap_or_default();
                let first = super::convert::to_mj(&Value::Map(item));
                for s in sublist {
                    out.push(MjValue::from(vec![
                        first.clone(),
                        super::convert::to_mj(&s),
                    ]));
                }
            }
        }
        "indexed_items" => {
            let items: Vec<MjValue> = match terms {
                [one] if matches!(one.kind(), ValueKind::Seq) => one.try_iter()?.collect(),
                many => many.to_vec(),
            };
            for (i, x) in items.into_iter().enumerate() {
                out.push(MjValue::from(vec![MjValue::from(i as i64), x]));
            }
        }
        "random_choice" => {
            if let Some(first) = terms.first() {
                out.push(first.clone());
            }
        }
        other => {
            return Err(err(format!("The lookup plugin '{other}' was not found.")));
        }
    }
    Ok(out)
}
