//! Modules from Ansible collections (`community.general.ufw`, `ansible.posix.sysctl`),
//! for the modules tprov does not implement itself: found on the controller as Ansible's
//! collection loader finds them (the playbook's `collections/`, the collections path,
//! then `ansible_collections` on the controller Python's path), a short name searched in
//! the play's `collections:` and then followed through ansible-core's own routing table
//! (`ufw` moved to `community.general.ufw` in 2.10), and sent to the host with the
//! collection `module_utils` they import. They run as `library/` modules do.

use crate::value::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where collections are, in Ansible's order: beside the playbook (and the file naming
/// the role or module), `ANSIBLE_COLLECTIONS_PATH` (else `~/.ansible/collections` and
/// `/usr/share/ansible/collections`), then the controller Python's `sys.path` (where
/// `pip install ansible` puts them). Each is a directory holding `ansible_collections/`.
pub(crate) fn roots(play_dir: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut roots = vec![play_dir.join("collections"), dir.join("collections")];
    let configured = std::env::var("ANSIBLE_COLLECTIONS_PATH")
        .or_else(|_| std::env::var("ANSIBLE_COLLECTIONS_PATHS"))
        .ok()
        .filter(|p| !p.is_empty());
    if let Some(paths) = configured {
        roots.extend(
            paths
                .split(':')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        );
    } else {
        let home = std::env::var("HOME").unwrap_or_default();
        roots.push(PathBuf::from(home).join(".ansible/collections"));
        roots.push(PathBuf::from("/usr/share/ansible/collections"));
    }
    if let Some(site) = super::library::controller_ansible().and_then(|a| a.parent()) {
        roots.push(site.to_path_buf());
    }
    roots.dedup();
    roots
}

/// The collection `ns.coll`'s directory under the first root that has it.
fn collection_dir(roots: &[PathBuf], ns: &str, coll: &str) -> Option<PathBuf> {
    roots
        .iter()
        .map(|r| r.join("ansible_collections").join(ns).join(coll))
        .find(|d| d.is_dir())
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// A module run from a collection: its file, and its dotted name on the host's path
/// (`ansible_collections.ns.coll.plugins.modules.name`, run with `python -m` so its
/// relative imports resolve).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub path: PathBuf,
    pub dotted: String,
}

/// The collection module `name` names: a fully qualified `ns.coll.module`; a short
/// name in each collection of the play's `collections:`, then where ansible-core's
/// routing table sends it. None when there is none, or when the module has an action
/// plugin of its own (its controller half would be missing).
pub(crate) fn module(name: &str, search: &[String], roots: &[PathBuf]) -> Option<Found> {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        ["ansible", "builtin" | "legacy", short] => builtin_redirect(short)
            .and_then(|to| module(&to, &[], roots).filter(|_| to.split('.').count() == 3)),
        [ns, coll, short] => in_collection(roots, ns, coll, short, 0),
        [short] if is_name(short) => search
            .iter()
            .filter_map(|c| c.split_once('.'))
            .find_map(|(ns, coll)| in_collection(roots, ns, coll, short, 0))
            .or_else(|| {
                let to = builtin_redirect(short)?;
                match to.split('.').collect::<Vec<_>>().as_slice() {
                    [ns, coll, m] => in_collection(roots, ns, coll, m, 0),
                    _ => None,
                }
            }),
        _ => None,
    }
}

fn in_collection(
    roots: &[PathBuf],
    ns: &str,
    coll: &str,
    short: &str,
    depth: usize,
) -> Option<Found> {
    if ![ns, coll, short].iter().all(|p| is_name(p)) || (ns == "ansible" && coll == "builtin") {
        return None;
    }
    let dir = collection_dir(roots, ns, coll)?;
    let plugins = dir.join("plugins");
    let path = plugins.join("modules").join(format!("{short}.py"));
    if !path.is_file() {
        // The collection's own routing (meta/runtime.yml), as for a renamed module.
        let to = routing(&dir.join("meta/runtime.yml"), short)?;
        let parts: Vec<&str> = to.split('.').collect();
        return match parts.as_slice() {
            [n, c, m] if depth < 5 => in_collection(roots, n, c, m, depth + 1),
            _ => None,
        };
    }
    if plugins.join("action").join(format!("{short}.py")).is_file() {
        return None;
    }
    Some(Found {
        path,
        dotted: format!("ansible_collections.{ns}.{coll}.plugins.modules.{short}"),
    })
}

/// The collection module at `path` (`ROOT/ansible_collections/ns/coll/plugins/modules/
/// name.py`), with ROOT: how it is named and where its collections are. None for a
/// module outside a collection.
pub(crate) fn found_at(path: &Path) -> Option<(Found, PathBuf)> {
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    let at = parts.iter().rposition(|p| *p == "ansible_collections")?;
    let ["ansible_collections", ns, coll, "plugins", "modules", file] = &parts[at..] else {
        return None;
    };
    let short = file.strip_suffix(".py")?;
    if ![ns, coll, &short].iter().all(|p| is_name(p)) {
        return None;
    }
    let root = path.ancestors().nth(6)?.to_path_buf();
    Some((
        Found {
            path: path.to_path_buf(),
            dotted: format!("ansible_collections.{ns}.{coll}.plugins.modules.{short}"),
        },
        root,
    ))
}

/// `plugin_routing.modules.NAME.redirect` of a runtime.yml file.
fn routing(file: &Path, name: &str) -> Option<String> {
    redirects(file).remove(name)
}

/// Every module redirect of a runtime.yml file (empty when it cannot be read).
fn redirects(file: &Path) -> HashMap<String, String> {
    let Ok(loaded) = crate::yaml::load_file(file) else {
        return HashMap::new();
    };
    match loaded.single() {
        Ok(Some(doc)) => redirects_in(&doc.to_value()),
        _ => HashMap::new(),
    }
}

fn redirects_in(doc: &Value) -> HashMap<String, String> {
    let Value::Map(m) = doc else {
        return HashMap::new();
    };
    let Some(Value::Map(routing)) = m.get("plugin_routing") else {
        return HashMap::new();
    };
    let Some(Value::Map(modules)) = routing.get("modules") else {
        return HashMap::new();
    };
    modules
        .iter()
        .filter_map(|(name, entry)| match entry {
            Value::Map(e) => match e.get("redirect") {
                Some(Value::Str(to)) => Some((name.clone(), to.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Where ansible-core's `config/ansible_builtin_runtime.yml` sends a module that left it.
fn builtin_redirect(name: &str) -> Option<String> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            super::library::controller_ansible()
                .map(|a| redirects(&a.join("config/ansible_builtin_runtime.yml")))
                .unwrap_or_default()
        })
        .get(name)
        .cloned()
}

/// The collection `module_utils` files a module imports, directly or through each other,
/// named by their place on the host's path (`ansible_collections/ns/coll/plugins/...`),
/// with the packages' `__init__.py` files above them.
/// Found once per module and run: every task and loop item of it sends the same files.
pub(crate) fn module_utils(
    module: &Found,
    data: &[u8],
    roots: &[PathBuf],
) -> Vec<(String, Vec<u8>)> {
    type Files = Vec<(String, Vec<u8>)>;
    static FOUND: OnceLock<std::sync::Mutex<HashMap<PathBuf, Files>>> = OnceLock::new();
    let cache = FOUND.get_or_init(Default::default);
    if let Some(files) = cache.lock().ok().and_then(|c| c.get(&module.path).cloned()) {
        return files;
    }
    let files = find_module_utils(module, data, roots);
    if let Ok(mut c) = cache.lock() {
        c.insert(module.path.clone(), files.clone());
    }
    files
}

fn find_module_utils(module: &Found, data: &[u8], roots: &[PathBuf]) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut queue: Vec<(String, bool, Vec<u8>)> =
        vec![(module.dotted.clone(), false, data.to_vec())];
    while let Some((dotted, is_package, text)) = queue.pop() {
        for target in imports(&dotted, is_package, &String::from_utf8_lossy(&text)) {
            for (name, path) in resolve(&target, roots) {
                if seen.insert(name.clone())
                    && let Ok(body) = std::fs::read(&path)
                {
                    let stem = name.trim_end_matches(".py");
                    let package = stem.strip_suffix("/__init__");
                    let module_name = package.unwrap_or(stem).replace('/', ".");
                    queue.push((module_name, package.is_some(), body.clone()));
                    files.push((name, body));
                }
            }
        }
    }
    files.sort();
    files
}

/// The dotted names a Python file imports under `ansible_collections`: absolute
/// imports, and relative ones made absolute from the file's own package. For `from P
/// import a, b`, both `P` and `P.a`, `P.b` (either may be a module).
fn imports(dotted: &str, is_package: bool, text: &str) -> Vec<String> {
    static ABS: OnceLock<regex::Regex> = OnceLock::new();
    static REL: OnceLock<regex::Regex> = OnceLock::new();
    let abs = ABS.get_or_init(|| {
        regex::Regex::new(
            r"(?m)^[ \t]*(?:from[ \t]+(ansible_collections(?:\.\w+)+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)|import[ \t]+(ansible_collections(?:\.\w+)+))",
        )
        .expect("a valid regex")
    });
    let rel = REL.get_or_init(|| {
        regex::Regex::new(
            r"(?m)^[ \t]*from[ \t]+(\.+)((?:\w+)(?:\.\w+)*)?[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)",
        )
        .expect("a valid regex")
    });
    let names = |list: &str| -> Vec<String> {
        list.split([',', '(', ')', '\\', '\n', '#'])
            .filter_map(|n| n.split_whitespace().next())
            .filter(|n| is_name(n))
            .map(str::to_string)
            .collect()
    };
    let mut out = Vec::new();
    for c in abs.captures_iter(text) {
        if let Some(base) = c.get(1) {
            out.push(base.as_str().to_string());
            for n in names(c.get(2).map_or("", |m| m.as_str())) {
                out.push(format!("{}.{n}", base.as_str()));
            }
        } else if let Some(m) = c.get(3) {
            out.push(m.as_str().to_string());
        }
    }
    let package: Vec<&str> = {
        let mut p: Vec<&str> = dotted.split('.').collect();
        if !is_package {
            p.pop();
        }
        p
    };
    for c in rel.captures_iter(text) {
        let dots = c.get(1).map_or(1, |m| m.as_str().len());
        if dots > package.len() {
            continue;
        }
        let mut base: Vec<&str> = package[..=package.len() - dots].to_vec();
        if let Some(rest) = c.get(2) {
            base.extend(rest.as_str().split('.'));
        }
        let base = base.join(".");
        out.push(base.clone());
        for n in names(c.get(3).map_or("", |m| m.as_str())) {
            out.push(format!("{base}.{n}"));
        }
    }
    out.retain(|d| d.starts_with("ansible_collections.") && d.contains(".plugins.module_utils"));
    out
}

/// The files a dotted name needs on the host: its module (`X.py`) or package
/// (`X/__init__.py`), and the `__init__.py` of each package above it inside the
/// collection's `plugins/`.
fn resolve(dotted: &str, roots: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let parts: Vec<&str> = dotted.split('.').collect();
    let ["ansible_collections", ns, coll, "plugins", rest @ ..] = parts.as_slice() else {
        return Vec::new();
    };
    let Some(dir) = collection_dir(roots, ns, coll) else {
        return Vec::new();
    };
    let prefix = format!("ansible_collections/{ns}/{coll}/plugins");
    let mut out = Vec::new();
    let mut rel = PathBuf::new();
    let mut name = prefix.clone();
    for (i, part) in rest.iter().enumerate() {
        rel.push(part);
        name = format!("{name}/{part}");
        let pkg = dir.join("plugins").join(&rel);
        if pkg.is_dir() {
            let init = pkg.join("__init__.py");
            if init.is_file() {
                out.push((format!("{name}/__init__.py"), init));
            }
        } else if i + 1 == rest.len() {
            let file = dir.join("plugins").join(&rel).with_extension("py");
            if file.is_file() {
                out.push((format!("{name}.py"), file));
            }
        } else {
            return out;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_absolute_and_relative_from_the_files_package() {
        let text = "from ansible.module_utils.basic import AnsibleModule\n\
            from ansible_collections.community.general.plugins.module_utils.mh.module_helper import (\n    ModuleHelper, cause,\n)\n\
            from ..module_utils import cmd_runner\n\
            from ..module_utils.locale import get_best as g\n";
        let got = imports(
            "ansible_collections.community.general.plugins.modules.ufw",
            false,
            text,
        );
        let p = "ansible_collections.community.general.plugins.module_utils";
        for want in [
            format!("{p}.mh.module_helper"),
            format!("{p}.mh.module_helper.ModuleHelper"),
            format!("{p}.cmd_runner"),
            format!("{p}.locale"),
            format!("{p}.locale.get_best"),
        ] {
            assert!(got.contains(&want), "{want} in {got:?}");
        }
        assert!(!got.iter().any(|g| g.contains("ansible.module_utils")));
    }

    #[test]
    fn a_short_name_follows_the_routing_of_a_runtime_file() {
        let doc = crate::yaml::parse(
            "plugin_routing:\n  modules:\n    ufw:\n      redirect: community.general.ufw\n",
            &std::sync::Arc::from(Path::new("runtime.yml")),
        )
        .expect("yaml");
        let doc = doc.single().expect("one").expect("doc").to_value();
        let table = redirects_in(&doc);
        assert_eq!(
            table.get("ufw").map(String::as_str),
            Some("community.general.ufw")
        );
        assert_eq!(table.get("sysctl"), None);
    }
}
