//! Ansible's INI inventory dialect (`plugins/inventory/ini.py`), which is not standard INI:
//! host lines are shell-split with `key=value` vars, values go through Python's
//! `literal_eval`, `[g:vars]` values are not shell-split (a trailing comment stays unless
//! Python swallows it), and `[g:children]` may name groups declared later in the file.

use super::Inventory;
use crate::python::literal::parse_value;
use crate::python::shlex;
use crate::source::{Diagnostic, Origin, Pos};
use crate::value::Value;
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

static SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").expect("static regex"));
static GROUPNAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").expect("static regex"));

#[derive(PartialEq, Clone, Copy)]
enum State {
    Hosts,
    Children,
    Vars,
}

struct Pending {
    pos: Pos,
    state: State,
    parents: Vec<String>,
}

const LINE_BREAKS: [char; 10] = [
    '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}',
];

/// Python's `str.splitlines()` (after "\r\n" has been made one break).
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(LINE_BREAKS)
        .map(|l| l.strip_suffix(LINE_BREAKS).unwrap_or(l))
}

/// Parses an INI inventory into `inv`. Every error names the file and line.
pub(super) fn parse(inv: &mut Inventory, text: &str, path: &Path) -> Result<(), Diagnostic> {
    let file: Arc<Path> = Arc::from(path);
    let source = PathBuf::from(path);
    let mut pending: indexmap::IndexMap<String, Pending> = indexmap::IndexMap::default();
    let mut group = String::from("ungrouped");
    let mut state = State::Hosts;

    let lines = normalise_crlf(text);
    for (n, raw) in split_lines(&lines).enumerate() {
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim();
        let pos = Pos::new(n + 1, raw[..indent].chars().count() + 1);
        let here = || Origin::new(&file, pos);
        let err = |msg: String| Diagnostic::error(Origin::new(&file, pos), msg);
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(c) = SECTION.captures(line) {
            let name = c.get(1).map_or("", |m| m.as_str()).to_string();
            let tag = c.get(2).map(|m| m.as_str());
            state = match tag {
                None | Some("hosts") => State::Hosts,
                Some("children") => State::Children,
                Some("vars") => State::Vars,
                Some(other) => {
                    return Err(err(format!(
                        "Section [{name}:{other}] has unknown type: {other}"
                    )));
                }
            };
            if inv.group_id(&name).is_none() {
                if state == State::Vars && !pending.contains_key(&name) {
                    pending.insert(
                        name.clone(),
                        Pending {
                            pos,
                            state,
                            parents: Vec::new(),
                        },
                    );
                }
                inv.add_group(&name, Some(here()));
            }
            if state != State::Vars
                && let Some(p) = pending.get(&name)
            {
                if p.state == State::Children {
                    add_pending_children(inv, &name, &mut pending).map_err(|e| err(e.0))?;
                } else {
                    pending.shift_remove(&name);
                }
            }
            group = name;
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(err(format!(
                "Invalid section entry: '{line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters"
            )));
        }
        let gid = inv.group_id(&group).unwrap_or(super::UNGROUPED);
        match state {
            State::Hosts => {
                let tokens = shlex::split(line, true)
                    .map_err(|e| err(format!("Error parsing host definition '{line}': {e}")))?;
                let Some(first) = tokens.first() else {
                    continue;
                };
                let (names, port) = super::range::expand_host_pattern(first).map_err(&err)?;
                if first.trim().ends_with(':') && port.is_none() {
                    return Err(err(format!(
                        "Invalid host pattern '{first}' supplied, ending in ':' is not allowed, this character is reserved to provide a port."
                    )));
                }
                if names.iter().any(|n| n.trim() == "---") {
                    return Err(err(format!(
                        "Invalid host pattern '{first}' supplied, '---' is normally a sign this is a YAML file."
                    )));
                }
                let mut vars = Vec::new();
                for t in &tokens[1..] {
                    let Some((k, v)) = t.split_once('=') else {
                        return Err(err(format!(
                            "Expected key=value host variable assignment, got: {t}"
                        )));
                    };
                    vars.push((k.to_string(), ini_value(v)));
                }
                for name in names {
                    let h = inv.add_host(&name, Some(gid), port, Some(&source), Some(here()));
                    for (k, v) in &vars {
                        inv.set_host_var(h, k, v.clone());
                    }
                }
            }
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(err(format!("Expected key=value, got: {line}")));
                };
                inv.set_group_var(gid, k.trim(), ini_value(v.trim()))
                    .map_err(|e| err(e.0))?;
            }
            State::Children => {
                let child = GROUPNAME
                    .captures(line)
                    .and_then(|c| c.get(1))
                    .map(|m| m.as_str().to_string())
                    .ok_or_else(|| err(format!("Expected group name, got: {line}")))?;
                match inv.group_id(&child) {
                    Some(cid) => inv.add_child_group(gid, cid).map_err(|e| err(e.0))?,
                    None => pending
                        .entry(child)
                        .or_insert_with(|| Pending {
                            pos,
                            state: State::Children,
                            parents: Vec::new(),
                        })
                        .parents
                        .push(group.clone()),
                }
            }
        }
    }
    if let Some((name, p)) = pending.into_iter().next() {
        let origin = Origin::new(&file, p.pos);
        return Err(match p.state {
            State::Vars => Diagnostic::error(
                origin,
                format!("Section [{name}:vars] not valid for undefined group '{name}'."),
            ),
            _ => Diagnostic::error(
                origin,
                format!(
                    "Section [{}:children] includes undefined group '{name}'.",
                    p.parents.last().map_or("", String::as_str)
                ),
            ),
        });
    }
    Ok(())
}

/// "\r\n" counts as one line break, as in Python.
fn normalise_crlf(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\r\n") {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

fn add_pending_children(
    inv: &mut Inventory,
    group: &str,
    pending: &mut indexmap::IndexMap<String, Pending>,
) -> Result<(), super::InventoryError> {
    let Some(p) = pending.shift_remove(group) else {
        return Ok(());
    };
    let child = inv.group_id(group).unwrap_or(super::UNGROUPED);
    for parent in p.parents {
        let pid = inv.add_group(&parent, None);
        inv.add_child_group(pid, child)?;
        if pending
            .get(&parent)
            .is_some_and(|pp| pp.state == State::Children)
        {
            add_pending_children(inv, &parent, pending)?;
        }
    }
    Ok(())
}

/// A value of the INI inventory: a Python literal or the raw text, which the project
/// wrote and so is trusted as a template or an expression (Ansible's ini plugin tags it).
fn ini_value(v: &str) -> Value {
    let value = parse_value(v);
    if let Value::Str(s) = &value {
        crate::trust::trust(s);
    }
    value
}
