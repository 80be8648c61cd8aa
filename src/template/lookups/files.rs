//! Controller files for lookups: the search path, `fileglob`'s globs and `first_found`.

use super::err;
use super::lists::list_of;
use crate::template::convert::py_str;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, Value as MjValue};
use std::path::{Path, PathBuf};

/// The playbook's directory (relative lookups start there), else the current one.
fn base_dir(state: &minijinja::State) -> PathBuf {
    state
        .lookup("playbook_dir")
        .and_then(|v| v.as_str().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A controller file for `rel`: itself when absolute, else under `files/` and then
/// directly in each directory of the task's `ansible_search_path` (its role's, its
/// file's), then the playbook's (Ansible's path_dwim_relative_stack).
pub(super) fn find(state: &minijinja::State, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    let dirs = search_dirs(state);
    let under_files = rel.split('/').next() == Some("files");
    dirs.iter()
        .flat_map(|d| {
            let first = (!under_files).then(|| d.join("files").join(p));
            first.into_iter().chain([d.join(p)])
        })
        .find(|c| c.exists())
}

/// The task's `ansible_search_path` (its role's directory, its file's), then the
/// playbook's directory.
fn search_dirs(state: &minijinja::State) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = state
        .lookup("ansible_search_path")
        .and_then(|v| v.try_iter().ok().map(Iterator::collect::<Vec<_>>))
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(PathBuf::from))
        .collect();
    dirs.push(base_dir(state));
    dirs
}

/// A controller file for `rel` under `sub` (`templates/`) of each search directory,
/// then directly in it (Ansible's find_file_in_search_path).
pub(super) fn find_under(state: &minijinja::State, sub: &str, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    search_dirs(state)
        .iter()
        .flat_map(|d| [d.join(sub).join(p), d.join(p)])
        .find(|c| c.is_file())
}

/// A shell-style pattern (`*`, `?`, `[...]`) as an anchored regex.
/// The files in `dir` whose names match the glob `base`, in the directory's own order
/// as Python's glob gives them (both read it with readdir).
pub(in crate::template) fn glob_files(dir: &Path, base: &str) -> Vec<String> {
    let Some(re) = glob_regex(base) else {
        return Vec::new();
    };
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| re.is_match(&n.to_string_lossy()))
                })
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn glob_regex(pattern: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let mut class = String::from("[");
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    if d == '\\' {
                        class.push('\\');
                    }
                    class.push(d);
                }
                class.push(']');
                re.push_str(&class);
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

/// first_found's options: given as keywords, and replaced by each term that is a
/// mapping (Ansible's `set_options(direct=term)`; the last one's `skip` counts).
pub(super) struct FirstFound {
    pub(super) files: Vec<String>,
    paths: Vec<String>,
    pub(super) skip: bool,
}

impl FirstFound {
    pub(super) fn from_kwargs(k: &Kwargs) -> Result<FirstFound, Error> {
        Ok(FirstFound {
            files: option_list(k.get::<Option<MjValue>>("files")?.as_ref(), ",;")?,
            paths: option_list(k.get::<Option<MjValue>>("paths")?.as_ref(), ",:;")?,
            skip: k.get::<Option<bool>>("skip")?.unwrap_or(false),
        })
    }

    fn from_map(term: &MjValue) -> Result<FirstFound, Error> {
        let get = |key: &str| -> Result<Option<MjValue>, Error> {
            Ok(term
                .get_attr(key)
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_none()))
        };
        Ok(FirstFound {
            files: option_list(get("files")?.as_ref(), ",;")?,
            paths: option_list(get("paths")?.as_ref(), ",:;")?,
            skip: get("skip")?.is_some_and(|v| v.is_true()),
        })
    }

    /// The paths to try, in order (the plugin's `_process_terms`).
    pub(super) fn search(&mut self, terms: &[MjValue]) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for term in terms {
            let files = match term.kind() {
                ValueKind::Map => {
                    *self = FirstFound::from_map(term)?;
                    self.files.clone()
                }
                ValueKind::String => vec![py_str(term)?],
                ValueKind::Seq | ValueKind::Iterable => {
                    let inner: Vec<MjValue> = term.try_iter()?.collect();
                    out.extend(self.search(&inner)?);
                    continue;
                }
                _ => {
                    return Err(err(format!(
                        "Invalid term supplied. A string, dict or list is required, not '{}').",
                        crate::template::convert::from_mj(term)
                            .map_or_else(|_| "object".to_string(), |v| v.type_name().to_string())
                    )));
                }
            };
            if self.paths.is_empty() {
                out.extend(files);
            } else {
                for p in &self.paths {
                    // os.path.join: an absolute name stands alone.
                    out.extend(files.iter().map(|f| {
                        if f.starts_with('/') {
                            f.clone()
                        } else {
                            format!("{p}/{f}")
                        }
                    }));
                }
            }
        }
        Ok(out)
    }
}

/// A list option of first_found: a string or each string of a list, split on `seps`
/// (the plugin's deprecated "magic" splitting).
fn option_list(v: Option<&MjValue>, seps: &str) -> Result<Vec<String>, Error> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for item in list_of(v)? {
        if item.is_undefined() {
            continue;
        }
        out.extend(
            py_str(&item)?
                .split(|c| seps.contains(c))
                .map(str::to_string),
        );
    }
    Ok(out)
}
