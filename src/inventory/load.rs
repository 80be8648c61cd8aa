//! Reading inventory sources: files (YAML tried first, then INI, as Ansible's plugin chain
//! does), directories of sources, and comma-separated host lists.

use super::{Inventory, address::parse_address, ini, yaml_source};
use crate::source::{Diagnostic, Origin};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Directory entries Ansible never reads as inventory.
static IGNORED: LazyLock<Regex> = LazyLock::new(|| {
    let exts = [
        ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg",
        ".retry",
    ];
    let mut alts = vec![
        r"^\.".to_string(),
        "^host_vars$".into(),
        "^group_vars$".into(),
        "^vars_plugins$".into(),
    ];
    alts.extend(exts.iter().map(|e| format!("{}$", regex::escape(e))));
    Regex::new(&alts.join("|")).expect("static regex")
});

/// Reads every source into one inventory. Unlike Ansible, a source that cannot be read
/// or parsed is an error, never a silent fallback to localhost.
pub(crate) fn load(sources: &[PathBuf]) -> Result<Inventory, Diagnostic> {
    let mut inv = Inventory::new();
    for source in sources {
        let text = source.to_string_lossy();
        if text.contains(',') && !source.exists() {
            host_list(&mut inv, &text);
        } else {
            load_source(&mut inv, source, 0)?;
        }
        inv.sources.push(source.clone());
    }
    inv.reconcile().map_err(|(origin, e)| {
        let origin = origin.or_else(|| sources.first().map(Origin::file));
        Diagnostic::error(origin.unwrap_or_else(|| Origin::file("<inventory>")), e.0)
    })?;
    Ok(inv)
}

fn host_list(inv: &mut Inventory, list: &str) {
    for h in list.split(',').map(str::trim).filter(|h| !h.is_empty()) {
        let (host, port) = parse_address(h, false).unwrap_or_else(|_| (h.to_string(), None));
        inv.add_host(&host, Some(super::UNGROUPED), port, None, None);
    }
}

fn load_source(inv: &mut Inventory, path: &Path, depth: usize) -> Result<(), Diagnostic> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::error(
            Origin::file(path),
            format!("cannot read inventory source: {e}"),
        )
    })?;
    if meta.is_dir() {
        if depth > 20 {
            return Err(Diagnostic::error(
                Origin::file(path),
                "inventory directories nested too deeply",
            ));
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| {
                Diagnostic::error(
                    Origin::file(path),
                    format!("cannot list inventory directory: {e}"),
                )
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| !IGNORED.is_match(&n.to_string_lossy()))
            })
            .collect();
        entries.sort();
        for entry in entries {
            load_source(inv, &entry, depth + 1)?;
        }
        return Ok(());
    }
    load_file(inv, path)
}

fn load_file(inv: &mut Inventory, path: &Path) -> Result<(), Diagnostic> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::error(
            Origin::file(path),
            format!("cannot read inventory source: {e}"),
        )
    })?;
    if meta.permissions().mode() & 0o111 != 0 {
        return Err(Diagnostic::error(
            Origin::file(path),
            "executable inventory scripts are not supported; make the file non-executable if it is a static inventory",
        ));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| format!(".{e}"));
    if ext.as_deref() == Some(".toml") {
        return Err(Diagnostic::error(
            Origin::file(path),
            "TOML inventories are not supported; use INI or YAML",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::error(
            Origin::file(path),
            format!("cannot read inventory source: {e}"),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        Diagnostic::error(
            Origin::new(
                &std::sync::Arc::from(path),
                crate::source::Pos::new(line, 1),
            ),
            "inventory is not valid UTF-8 text (is this a binary file?)",
        )
    })?;
    if text.contains('\0') {
        return Err(Diagnostic::error(
            Origin::file(path),
            "inventory contains NUL bytes (is this a binary file?)",
        ));
    }
    let yaml_candidate = match ext.as_deref() {
        Some(".yml" | ".yaml" | ".json") => true,
        // Ansible tries YAML on extension-less files too; only a mapping can be a YAML
        // inventory, so a file whose first line is no `key:` (an INI section, a host
        // line) is skipped without parsing it all.
        None => could_be_yaml_mapping(&text),
        Some(_) => false,
    };
    let mut yaml_error = None;
    if yaml_candidate {
        match crate::yaml::parse(&text, &std::sync::Arc::from(path)) {
            Ok(loaded) => {
                loaded.trust();
                // `Ok(false)` comes before any change: the file is not YAML inventory.
                if yaml_source::parse(inv, &loaded)? {
                    return Ok(());
                }
            }
            Err(e) => yaml_error = Some(e),
        }
    }
    match ini::parse(inv, &text, path) {
        Ok(()) => Ok(()),
        // A .yml file that is neither valid YAML nor INI: the YAML error is the useful one.
        Err(e) if matches!(ext.as_deref(), Some(".yml" | ".yaml" | ".json")) => {
            Err(yaml_error.unwrap_or(e))
        }
        Err(e) => Err(e),
    }
}

/// Whether the first content line could start a YAML mapping (`key:` or `{`).
fn could_be_yaml_mapping(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---" && !l.starts_with('%'));
    match first {
        None => true,
        Some(l) => {
            l.starts_with('{') || (!l.starts_with('[') && (l.ends_with(':') || l.contains(": ")))
        }
    }
}
