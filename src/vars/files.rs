//! `group_vars/` and `host_vars/` files, found as Ansible's `host_group_vars` plugin
//! finds them: `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` or a directory `NAME/`,
//! the first that exists winning (a directory silently shadows `NAME.yml` in Ansible;
//! we warn).

use super::{Var, Vars};
use crate::source::{Diagnostic, Origin};
use crate::yaml::NodeKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const EXTENSIONS: [&str; 4] = ["", ".yml", ".yaml", ".json"];

/// A vars file's top-level variables, each with its position.
pub(crate) fn load_vars_file(path: &Path) -> Result<(Vars, Vec<Diagnostic>), Diagnostic> {
    load(path, false)
}

/// A play's `vars_files` entry: a mapping, or (as Ansible's preprocess_vars takes it) a
/// list of mappings merged in order.
pub(crate) fn load_play_vars_file(path: &Path) -> Result<(Vars, Vec<Diagnostic>), Diagnostic> {
    load(path, true)
}

fn load(path: &Path, list_of_maps: bool) -> Result<(Vars, Vec<Diagnostic>), Diagnostic> {
    let loaded = crate::yaml::load_file(path)?;
    let mut vars = Vars::default();
    let mut add = |entries: &[(crate::yaml::Key, crate::yaml::Node)]| {
        for (k, v) in entries {
            vars.insert(
                k.name.clone(),
                Var {
                    value: v.to_value(),
                    origin: Some(loaded.origin(k.pos)),
                },
            );
        }
    };
    if let Some(root) = loaded.single()? {
        match &root.kind {
            NodeKind::Map(entries) => add(entries),
            NodeKind::Scalar(crate::value::Value::Null) => {}
            NodeKind::Seq(items) if list_of_maps => {
                for item in items {
                    let NodeKind::Map(entries) = &item.kind else {
                        return Err(Diagnostic::error(
                            loaded.origin(item.pos),
                            "variable files must contain either a dictionary of variables, or a list of dictionaries",
                        ));
                    };
                    add(entries);
                }
            }
            _ => {
                return Err(Diagnostic::error(
                    loaded.origin(root.pos),
                    format!(
                        "vars file must be a mapping of variable names to values, found {}",
                        root.type_name()
                    ),
                ));
            }
        }
    }
    Ok((vars, loaded.warnings))
}

/// Loads each vars file once, however many hosts and groups use it.
#[derive(Default, Debug)]
pub(crate) struct VarsCache {
    files: HashMap<PathBuf, Arc<Vars>>,
    found: HashMap<(usize, String), Arc<Vec<PathBuf>>>,
    /// Vars directories asked for (dir, subdir) and their canonical path, `None` when
    /// missing. Few entries: a linear scan beats hashing paths once per host.
    dirs: Vec<(PathBuf, &'static str, Option<PathBuf>)>,
    /// Merged group layers by the host's sorted group list: hosts of the same groups
    /// share one merge. A cache serves one `HostVarsQuery`.
    pub(super) group_layers: HashMap<Vec<usize>, Arc<Vars>>,
    /// Each vars directory's entries, read once (name -> is a directory); `None` when it
    /// is not a directory. Thousands of hosts then cost no `stat` each.
    listings: HashMap<PathBuf, Option<HashMap<String, bool>>>,
    pub warnings: Vec<Diagnostic>,
}

impl VarsCache {
    pub(crate) fn new() -> VarsCache {
        VarsCache::default()
    }

    /// The merged vars of `dir/subdir/name*` (subdir is `group_vars` or `host_vars`).
    pub(crate) fn entity_vars(
        &mut self,
        dir: &Path,
        subdir: &'static str,
        name: &str,
    ) -> Result<Vars, Diagnostic> {
        let mut out = Vars::default();
        for vars in self.entity_files(dir, subdir, name)? {
            super::merge_into(&mut out, &vars);
        }
        Ok(out)
    }

    /// Merges `dir/subdir/name*` into `out`, file by file.
    pub(crate) fn merge_entity(
        &mut self,
        out: &mut Vars,
        dir: &Path,
        subdir: &'static str,
        name: &str,
    ) -> Result<(), Diagnostic> {
        for vars in self.entity_files(dir, subdir, name)? {
            super::merge_into(out, &vars);
        }
        Ok(())
    }

    fn entity_files(
        &mut self,
        dir: &Path,
        subdir: &'static str,
        name: &str,
    ) -> Result<Vec<Arc<Vars>>, Diagnostic> {
        // Ansible skips names that look like absolute paths (chroot-style hosts).
        if name.starts_with('/') {
            return Ok(Vec::new());
        }
        let index = if let Some(i) = self
            .dirs
            .iter()
            .position(|(d, s, _)| *s == subdir && d == dir)
        {
            i
        } else {
            let asked = dir.join(subdir);
            // One directory reached through a symlink is still one directory.
            let canonical = asked
                .is_dir()
                .then(|| std::fs::canonicalize(&asked).unwrap_or(asked));
            self.dirs.push((dir.to_path_buf(), subdir, canonical));
            self.dirs.len() - 1
        };
        let Some(vars_dir) = self.dirs[index].2.clone() else {
            return Ok(Vec::new());
        };
        let key = (index, name.to_string());
        let files = if let Some(f) = self.found.get(&key) {
            f.clone()
        } else {
            let found = Arc::new(self.find(&vars_dir, name));
            self.found.insert(key, found.clone());
            found
        };
        files.iter().map(|f| self.file(f)).collect()
    }

    pub(crate) fn file(&mut self, path: &Path) -> Result<Arc<Vars>, Diagnostic> {
        if let Some(v) = self.files.get(path) {
            return Ok(v.clone());
        }
        let (vars, warnings) = load_vars_file(path)?;
        self.warnings.extend(warnings);
        let vars = Arc::new(vars);
        self.files.insert(path.to_path_buf(), vars.clone());
        Ok(vars)
    }

    /// Every vars file for `name` under `dir`, in the order Ansible loads them.
    pub(crate) fn find(&mut self, dir: &Path, name: &str) -> Vec<PathBuf> {
        let listing = self
            .listings
            .entry(dir.to_path_buf())
            .or_insert_with(|| list_dir(dir));
        let Some(listing) = listing.as_ref() else {
            return Vec::new();
        };
        // A name with a `/` reaches below the directory: ask the filesystem.
        let kind = |entry: &str| -> Option<bool> {
            if entry.contains('/') {
                let p = dir.join(entry);
                return p.exists().then(|| p.is_dir());
            }
            listing.get(entry).copied()
        };
        let base = dir.join(name);
        let mut found = Vec::new();
        for (i, ext) in EXTENSIONS.iter().enumerate() {
            let candidate = PathBuf::from(format!("{}{ext}", base.display()));
            let Some(is_dir) = kind(&format!("{name}{ext}")) else {
                continue;
            };
            if is_dir {
                found.extend(dir_files(&candidate, 0));
            } else {
                found.push(candidate.clone());
            }
            for other in &EXTENSIONS[i + 1..] {
                let shadowed = PathBuf::from(format!("{}{other}", base.display()));
                if kind(&format!("{name}{other}")).is_some() {
                    self.warnings.push(Diagnostic::warning(
                        Origin::file(&shadowed),
                        format!("ignored: Ansible reads only the first of {name}, {name}.yml, {name}.yaml, {name}.json or {name}/ that exists, here {}", candidate.display()),
                    ));
                }
            }
            break;
        }
        found
    }
}

/// A directory's entries and whether each is a directory (following symlinks).
fn list_dir(dir: &Path) -> Option<HashMap<String, bool>> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut out = HashMap::new();
    for e in entries.flatten() {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        let is_dir = match e.file_type() {
            // A symlink counts as what it points to; a dangling one not at all.
            Ok(t) if t.is_symlink() => match std::fs::metadata(e.path()) {
                Ok(m) => m.is_dir(),
                Err(_) => continue,
            },
            Ok(t) => t.is_dir(),
            Err(_) => false,
        };
        out.insert(name, is_dir);
    }
    Some(out)
}

/// Files in a vars directory, sorted, recursing into subdirectories; hidden files,
/// backups (`~`) and unknown extensions are skipped.
fn dir_files(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let ext = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()));
        if path.is_dir() && ext.is_none() {
            if depth < 20 {
                out.extend(dir_files(&path, depth + 1));
            }
        } else if path.is_file() && ext.as_deref().is_none_or(|e| EXTENSIONS.contains(&e)) {
            out.push(path);
        }
    }
    out
}
