//! The files beside the inventory: group_vars and host_vars, templates.

use super::{Problems, Report};
use crate::inventory::Inventory;
use crate::schema;
use crate::source::{Diagnostic, Origin};
use crate::template::engine;
use crate::value::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every file under a `group_vars` or `host_vars` directory: YAML syntax, duplicate keys,
/// ambiguous YAML 1.1 scalars, Jinja syntax in values, names that match no group/host.
pub(super) fn check_vars_dir(base: &Path, is_group: bool, inv: &Inventory, report: &mut Report) {
    {
        let Ok(entries) = std::fs::read_dir(base) else {
            return;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for entry in entries {
            let Some(fname) = entry.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            if fname.starts_with('.') || fname.ends_with('~') {
                continue;
            }
            let stem = ["", ".yml", ".yaml", ".json"]
                .iter()
                .rev()
                .find_map(|ext| {
                    if ext.is_empty() {
                        Some(fname.as_str())
                    } else {
                        fname.strip_suffix(ext)
                    }
                })
                .unwrap_or(&fname);
            let known = if is_group {
                inv.group_id(stem).is_some()
            } else {
                inv.host_id(stem).is_some()
            };
            if !known {
                let names: Vec<String> = if is_group {
                    inv.groups().map(|g| g.name.clone()).collect()
                } else {
                    inv.hosts().map(|h| h.name.clone()).collect()
                };
                let hint = schema::did_you_mean(stem, names.iter().map(String::as_str))
                    .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
                let what = if is_group { "group" } else { "host" };
                report.add(Diagnostic::warning(Origin::file(&entry), format!("no {what} named `{stem}` in the inventory, so these vars apply to nothing{hint}")), None);
            }
            for file in walk_files(&entry) {
                check_vars_file(&file, report);
            }
        }
    }
}

fn walk_files(p: &Path) -> Vec<PathBuf> {
    if p.is_file() {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(p) {
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            if e.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
            {
                out.extend(walk_files(&e));
            }
        }
    }
    out
}

fn check_vars_file(path: &Path, report: &mut Report) {
    if let Ok(text) = std::fs::read_to_string(path) {
        for (i, line) in text.lines().enumerate() {
            let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
            if indent.contains('\t') {
                let origin = Origin::new(&Arc::from(path), crate::source::Pos::new(i + 1, 1));
                report.add(
                    Diagnostic::error(origin, "tab in indentation: YAML indents with spaces only"),
                    None,
                );
            }
        }
    }
    let loaded = match crate::yaml::load_file(path) {
        Ok(l) => l,
        Err(d) => return report.add(d, None),
    };
    for w in &loaded.warnings {
        report.add(Diagnostic::error(w.origin.clone(), w.message.clone()), None);
    }
    for a in &loaded.ambiguous {
        report.add(a.clone(), None);
    }
    match loaded.single() {
        Ok(Some(root))
            if !matches!(root.kind, crate::yaml::NodeKind::Map(_))
                && root.to_value() != Value::Null =>
        {
            report.add(
                Diagnostic::error(
                    loaded.origin(root.pos),
                    format!("vars file must be a mapping, found {}", root.type_name()),
                ),
                None,
            );
        }
        Ok(Some(root)) => {
            // Ansible warns about vars named like playbook keywords (`port`, `name`...).
            for (k, _) in root.as_map().unwrap_or_default() {
                if crate::playbook::is_reserved_name(&k.name) {
                    report.add(
                        Diagnostic::warning(
                            loaded.origin(k.pos),
                            format!(
                                "`{}` is a reserved name (a playbook keyword): Ansible warns \"Found variable using reserved name\"; rename it",
                                k.name
                            ),
                        ),
                        None,
                    );
                }
            }
            check_template_strings(&loaded, root, report);
        }
        Ok(None) => {}
        Err(d) => report.add(d, None),
    }
}

fn check_template_strings(
    loaded: &crate::yaml::Loaded,
    node: &crate::yaml::Node,
    report: &mut Report,
) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match &n.kind {
            crate::yaml::NodeKind::Scalar(Value::Str(s))
                if crate::template::is_possibly_template(s) =>
            {
                if let Err((msg, _)) = engine().check_syntax(s) {
                    report.add(
                        Diagnostic::error(
                            loaded.origin(n.pos),
                            format!("template syntax error: {msg}"),
                        ),
                        None,
                    );
                }
            }
            crate::yaml::NodeKind::Seq(items) => stack.extend(items),
            crate::yaml::NodeKind::Map(entries) => stack.extend(entries.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

pub(super) fn template_files(dir: &Path) -> Vec<PathBuf> {
    walk_files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "j2"))
        .collect()
}

pub(super) fn check_template_files(dir: &Path, report: &mut Report) {
    for t in template_files(dir) {
        match std::fs::read_to_string(&t) {
            Ok(text) => {
                if let Err((msg, line)) = engine().check_syntax(&text) {
                    let origin = Origin::new(
                        &Arc::from(t.as_path()),
                        crate::source::Pos::new(line.unwrap_or(1), 1),
                    );
                    report.add(
                        Diagnostic::error(origin, format!("template syntax error: {msg}")),
                        None,
                    );
                }
            }
            Err(e) => report.add(
                Diagnostic::error(Origin::file(&t), format!("cannot read template: {e}")),
                None,
            ),
        }
    }
}
