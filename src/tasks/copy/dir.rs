//! `copy` of a controller directory: walked as Ansible's copy action walks it, then
//! each directory, file and link put in place.

use super::{Cx, Outcome, TaskError, args, put, read_src};
use crate::value::{Map, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A controller directory as Ansible's copy action walks it: files (with the path read
/// from), directories and symlinks, each relative to the copy's root, sorted. With
/// `follow` (`local_follow`, true by default) symlinks are dereferenced, except those
/// that lead back into the tree being copied (kept as links, which breaks the cycle).
#[derive(Default)]
struct Walk {
    files: Vec<(String, PathBuf)>,
    dirs: Vec<String>,
    links: Vec<(String, String)>,
}

fn dev_ino(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

fn walk(dir: &Path, rel: &str, parents: &HashSet<(u64, u64)>, follow: bool, out: &mut Walk) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    // As os.walk gives them: a directory's files before what its subdirectories hold.
    names.sort_by_cached_key(|n| (dir.join(n).is_dir(), n.clone()));
    let link_text = |p: &Path| {
        std::fs::read_link(p)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for name in names {
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let p = dir.join(&name);
        let is_link = std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink());
        if !p.is_dir() {
            match std::fs::canonicalize(&p) {
                Ok(real) if is_link && follow && real.is_file() => out.files.push((r, real)),
                _ if is_link => out.links.push((link_text(&p), r)),
                _ => out.files.push((r, p)),
            }
            continue;
        }
        if !is_link {
            out.dirs.push(r.clone());
            walk(&p, &r, parents, follow, out);
            continue;
        }
        let target = dev_ino(&p);
        if !follow || target.is_none_or(|t| parents.contains(&t)) {
            out.links.push((link_text(&p), r));
            continue;
        }
        // The link's own ancestors up to the known tree: a link to one of them is a cycle.
        let mut ancestors = HashSet::new();
        let mut up = Some(dir);
        while let Some(d) = up {
            match dev_ino(d) {
                Some(id) if parents.contains(&id) => break,
                Some(id) => {
                    ancestors.insert(id);
                }
                None => {}
            }
            up = d.parent();
        }
        if target.is_some_and(|t| ancestors.contains(&t)) {
            out.links.push((link_text(&p), r));
            continue;
        }
        out.dirs.push(r.clone());
        let known: HashSet<(u64, u64)> = parents.union(&ancestors).copied().collect();
        let real = std::fs::canonicalize(&p).unwrap_or(p);
        walk(&real, &r, &known, follow, out);
    }
}

/// `copy` of a controller directory: `src: dir` lands as `dest/dir`, `src: dir/` puts
/// its contents in `dest`. Directories get `directory_mode` (and owner/group), files
/// the file attributes; each is changed only when it differs.
/// A source file's bytes, decrypted when it is vault data (unless `decrypt: no`).
pub(super) async fn copy_dir(
    a: &Map,
    cx: &mut Cx<'_>,
    src: &str,
    local: &Path,
    dest: &str,
) -> Result<Outcome, TaskError> {
    let base = dest.trim_end_matches('/');
    let root = if src.ends_with('/') {
        base.to_string()
    } else {
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{base}/{name}")
    };
    let follow = args::bool_opt(a, &["local_follow"])?.unwrap_or(true);
    let mut tree = Walk::default();
    let top: HashSet<(u64, u64)> = dev_ino(local).into_iter().collect();
    walk(local, "", &top, follow, &mut tree);
    let Walk { files, dirs, links } = tree;
    let mut out = Outcome::default();
    let mut dir_args = Map::default();
    dir_args.insert("state".into(), Value::str("directory"));
    for k in ["owner", "group"] {
        if let Some(v) = a.get(k) {
            dir_args.insert(k.into(), v.clone());
        }
    }
    if let Some(m) = a.get("directory_mode") {
        dir_args.insert("mode".into(), m.clone());
    }
    let mut file_args = a.clone();
    for k in ["src", "dest", "directory_mode", "content"] {
        file_args.shift_remove(k);
    }
    let merge = |out: &mut Outcome, o: Outcome| {
        out.changed |= o.changed;
        out.diffs.extend(o.diffs);
    };
    for d in std::iter::once(String::new()).chain(dirs) {
        let path = if d.is_empty() {
            root.clone()
        } else {
            format!("{root}/{d}")
        };
        let mut args = dir_args.clone();
        args.insert("path".into(), Value::str(path));
        let o = super::super::file::run(&args, cx).await?;
        merge(&mut out, o);
    }
    for (rel, path) in files {
        let data = read_src(a, &path)?;
        let o = put(
            &file_args,
            cx,
            &format!("{root}/{rel}"),
            data,
            Some(path.display().to_string()),
            None,
        )
        .await?;
        merge(&mut out, o);
    }
    for (target, rel) in links {
        let mut args = Map::default();
        for k in ["owner", "group"] {
            if let Some(v) = a.get(k) {
                args.insert(k.into(), v.clone());
            }
        }
        args.insert("path".into(), Value::str(format!("{root}/{rel}")));
        args.insert("src".into(), Value::str(target));
        args.insert("state".into(), Value::str("link"));
        args.insert("force".into(), Value::Bool(true));
        args.insert("follow".into(), Value::Bool(false));
        let o = super::super::file::run(&args, cx).await?;
        merge(&mut out, o);
    }
    out.result.insert("dest".into(), Value::str(root));
    Ok(out)
}
