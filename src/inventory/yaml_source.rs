//! Ansible's YAML inventory format: groups at the top, each with `hosts`, `vars` and
//! `children` mappings.

use super::Inventory;
use crate::source::{Diagnostic, Origin};
use crate::yaml::{Loaded, Node, NodeKind};
use std::path::PathBuf;

/// Parses a loaded YAML inventory. Returns `Ok(false)` when the file is not a YAML
/// inventory at all (so the INI reader may try it), as Ansible's plugin chain does.
pub(super) fn parse(inv: &mut Inventory, loaded: &Loaded) -> Result<bool, Diagnostic> {
    let Some(root) = loaded.single()? else {
        return Err(Diagnostic::error(
            Origin::file(loaded.file.to_path_buf()),
            "Parsed empty YAML file",
        ));
    };
    let Some(entries) = root.as_map() else {
        return Ok(false);
    };
    if root.get("plugin").is_some() {
        return Err(Diagnostic::error(
            loaded.origin(root.pos),
            "inventory plugin configuration files (`plugin:`) are not supported; list hosts and groups instead",
        ));
    }
    let source = loaded.file.to_path_buf();
    for (key, data) in entries {
        parse_group(inv, loaded, &source, &key.name, data, 0)?;
    }
    Ok(true)
}

fn parse_group(
    inv: &mut Inventory,
    loaded: &Loaded,
    source: &PathBuf,
    name: &str,
    data: &Node,
    depth: usize,
) -> Result<Option<usize>, Diagnostic> {
    let err = |node: &Node, msg: String| Diagnostic::error(loaded.origin(node.pos), msg);
    if depth > crate::yaml::MAX_DEPTH {
        return Err(err(data, "groups nested too deeply".into()));
    }
    let entries = match &data.kind {
        NodeKind::Map(m) => m.as_slice(),
        NodeKind::Scalar(crate::value::Value::Null) => &[],
        _ => {
            inv.warnings.push(Diagnostic::warning(
                loaded.origin(data.pos),
                format!("Skipping '{name}' as this is not a valid group definition"),
            ));
            return Ok(None);
        }
    };
    let gid = inv.add_group(name, Some(loaded.origin(data.pos)));
    for (key, section) in entries {
        let items: Vec<(String, Option<&Node>, crate::source::Pos)> = match &section.kind {
            NodeKind::Scalar(crate::value::Value::Null) => continue,
            NodeKind::Scalar(v)
                if v.as_str().is_some()
                    && matches!(key.name.as_str(), "vars" | "children" | "hosts") =>
            {
                vec![(v.py_str(), None, section.pos)]
            }
            NodeKind::Map(m) => m
                .iter()
                .map(|(k, v)| (k.name.clone(), Some(v), k.pos))
                .collect(),
            _ => {
                if matches!(key.name.as_str(), "vars" | "children" | "hosts") {
                    return Err(err(
                        section,
                        format!(
                            "Invalid \"{}\" entry for \"{name}\" group, requires a dictionary, found \"{}\" instead.",
                            key.name,
                            section.type_name()
                        ),
                    ));
                }
                inv.warnings.push(Diagnostic::warning(
                    loaded.origin(key.pos),
                    format!(
                        "Skipping key ({}) in group ({name}) as it is not a mapping, it is a {}",
                        key.name,
                        section.type_name()
                    ),
                ));
                continue;
            }
        };
        match key.name.as_str() {
            "vars" => {
                for (var, value, pos) in items {
                    let value = value.map_or(crate::value::Value::Null, Node::to_value);
                    inv.set_group_var(gid, &var, value).map_err(|e| Diagnostic::error(loaded.origin(pos), e.0))?;
                }
            }
            "children" => {
                for (child, value, pos) in items {
                    let null = Node { pos, kind: NodeKind::Scalar(crate::value::Value::Null) };
                    if let Some(cid) = parse_group(inv, loaded, source, &child, value.unwrap_or(&null), depth + 1)? {
                        inv.add_child_group(gid, cid).map_err(|e| Diagnostic::error(loaded.origin(pos), e.0))?;
                    }
                }
            }
            "hosts" => {
                for (pattern, value, pos) in items {
                    let origin = loaded.origin(pos);
                    let (names, port) = super::range::expand_host_pattern(&pattern).map_err(|e| Diagnostic::error(origin.clone(), e))?;
                    let vars = match value.map(|v| &v.kind) {
                        None | Some(NodeKind::Scalar(crate::value::Value::Null)) => Vec::new(),
                        Some(NodeKind::Map(m)) => m.iter().map(|(k, v)| (k.name.clone(), v.to_value())).collect(),
                        Some(_) => {
                            return Err(Diagnostic::error(origin, format!("Invalid data from file, expected dictionary for host '{pattern}'")));
                        }
                    };
                    for host in names {
                        let h = inv.add_host(&host, Some(gid), port, Some(source), Some(origin.clone()));
                        for (k, v) in &vars {
                            inv.set_host_var(h, k, v.clone());
                        }
                    }
                }
            }
            other => inv.warnings.push(Diagnostic::warning(
                loaded.origin(key.pos),
                format!("Skipping unexpected key ({other}) in group ({name}), only \"vars\", \"children\" and \"hosts\" are valid"),
            )),
        }
    }
    Ok(Some(gid))
}
