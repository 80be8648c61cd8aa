//! `include_vars`: vars from YAML/JSON files on the controller, as facts of the host
//! (a file, or every matching file of a directory, sorted), optionally under one `name`.
//! Relative paths are looked up in the playbook's `vars/`, then beside the playbook.
//! Values are templated when the task runs, in the task's scope.

use super::{Cx, Outcome, Spec, TaskError, Trait, args, fail};
use crate::value::{Map, Value};
use std::path::{Path, PathBuf};

pub(super) const SPEC: Spec = Spec {
    name: "include_vars",
    file_common: false,
    traits: &[Trait::Controller, Trait::SetsFacts],
    args: &[
        "_raw_params",
        "file",
        "dir",
        "name",
        "depth",
        "files_matching",
        "ignore_files",
        "extensions",
        "ignore_unknown_extensions",
        "hash_behaviour",
    ],
    required: &["_raw_params|file|dir"],
};

/// Files of `dir` as Ansible walks it: directories in the order of their path string,
/// each one's files sorted, down to `depth` levels (0: all, 1: `dir` itself).
fn dir_files(
    dir: &Path,
    depth: usize,
    exts: &[String],
    matching: Option<&regex::Regex>,
    ignore: &[regex::Regex],
    unknown_ok: bool,
) -> Result<Vec<PathBuf>, TaskError> {
    let mut roots = vec![(dir.to_path_buf(), 1usize)];
    let mut i = 0;
    while i < roots.len() {
        let (root, level) = roots[i].clone();
        if let Ok(entries) = std::fs::read_dir(&root) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    roots.push((e.path(), level + 1));
                }
            }
        }
        i += 1;
    }
    roots.sort_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    let mut out = Vec::new();
    for (root, level) in roots {
        if depth != 0 && level > depth {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| !p.is_dir())
            .collect();
        files.sort();
        for p in files {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default();
            if matching.is_some_and(|re| !re.is_match(&name))
                || ignore.iter().any(|re| re.is_match(&name))
            {
                continue;
            }
            if !exts.contains(&ext) {
                if unknown_ok {
                    continue;
                }
                return Err(fail(format!(
                    "{} does not have a valid extension: {}",
                    p.display(),
                    exts.join(", ")
                )));
            }
            out.push(p);
        }
    }
    Ok(out)
}

/// Ansible's include_vars reports its failures under `message`, not `msg`.
pub(super) fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    match load(a, cx) {
        Err(TaskError::Failed(m)) => {
            let mut out = Outcome {
                failed: true,
                ..Default::default()
            };
            out.result.insert("message".into(), Value::str(m));
            Ok(out)
        }
        other => other,
    }
}

fn load(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let mut files = Vec::new();
    if let Some(dir) = args::str_opt(a, &["dir"]) {
        // As Ansible resolves `dir`: in a role, under the role's vars/ (or the role's
        // own `vars/...` when named so); elsewhere, beside the file the task is in.
        let base = match &cx.role_dir {
            Some(role) if dir.split('/').next() == Some("vars") && role.join(&dir).exists() => {
                role.join(&dir)
            }
            Some(role) => role.join("vars").join(&dir),
            None => cx.task_dir.join(&dir),
        };
        if !base.exists() {
            return Err(fail(format!("{} directory does not exist", base.display())));
        }
        if !base.is_dir() {
            return Err(fail(format!("{} is not a directory", base.display())));
        }
        let depth = args::str_opt(a, &["depth"])
            .map(|d| {
                d.parse::<usize>()
                    .map_err(|_| fail(format!("depth {d:?} is not an int")))
            })
            .transpose()?
            .unwrap_or(0);
        let exts = args::list_opt(a, &["extensions"])
            .unwrap_or_else(|| vec!["yaml".into(), "yml".into(), "json".into()]);
        let unknown_ok = args::bool_opt(a, &["ignore_unknown_extensions"])?.unwrap_or(false);
        let matching = args::str_opt(a, &["files_matching"])
            .map(|r| regex::Regex::new(&r).map_err(|e| fail(format!("files_matching: {e}"))))
            .transpose()?;
        let ignore = args::list_opt(a, &["ignore_files"])
            .unwrap_or_default()
            .iter()
            .map(|p| {
                regex::Regex::new(&format!("{p}$"))
                    .map_err(|_| fail(format!("Invalid regular expression: {p}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        files = dir_files(&base, depth, &exts, matching.as_ref(), &ignore, unknown_ok)?;
    } else {
        let file = args::str_opt(a, &["file", "_raw_params"]).unwrap_or_default();
        files.push(cx.find_file("vars", file.trim())?);
    }
    let mut vars = crate::vars::Vars::default();
    for f in &files {
        let (loaded, _) = crate::vars::load_vars_file(f).map_err(|d| fail(d.to_string()))?;
        crate::vars::merge_into(&mut vars, &loaded);
    }
    let raw = crate::vars::to_map(&vars);
    let mut out = Outcome::default();
    let included = if let Some(name) = args::str_opt(a, &["name"]) {
        let mut one = crate::vars::Vars::default();
        one.insert(
            name.clone(),
            crate::vars::Var {
                value: Value::Map(raw.clone()),
                origin: None,
            },
        );
        let mut shown = Map::default();
        shown.insert(name, Value::Map(raw));
        out.result.insert("ansible_facts".into(), Value::Map(shown));
        one
    } else {
        out.result.insert("ansible_facts".into(), Value::Map(raw));
        vars
    };
    let mut included = included;
    match args::str_opt(a, &["hash_behaviour"]).as_deref() {
        None | Some("replace") => {}
        Some("merge") => {
            // Dicts merge into the host's current value of the same name, as with
            // Ansible's `merge_hashes`.
            for (k, var) in &mut included {
                let Value::Map(new) = &var.value else {
                    continue;
                };
                let current = cx
                    .scope
                    .resolve(k)
                    .and_then(|v| crate::template::from_mj(&v).ok());
                if let Some(Value::Map(mut merged)) = current {
                    crate::template::merge_hash(&mut merged, new, true, "replace");
                    var.value = Value::Map(merged);
                }
            }
            out.result.insert(
                "ansible_facts".into(),
                Value::Map(crate::vars::to_map(&included)),
            );
        }
        Some(other) => {
            return Err(fail(format!(
                "value of hash_behaviour must be one of: replace, merge, got: {other}"
            )));
        }
    }
    out.included = Some(included);
    out.result.insert(
        "ansible_included_var_files".into(),
        Value::List(
            files
                .iter()
                .map(|f| Value::str(f.display().to_string()))
                .collect(),
        ),
    );
    Ok(out)
}
