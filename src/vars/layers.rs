//! The order in which a host's vars are merged (Ansible's `VariableManager.get_vars` with
//! the default `VARIABLE_PRECEDENCE`): inventory-file vars of `all`, then of the host's
//! groups; `group_vars/all` beside the inventory, then beside the playbook; the groups'
//! `group_vars` beside the inventory, then beside the playbook; the host's inventory
//! vars; `host_vars` beside the inventory, then beside the playbook.
//!
//! Groups are taken by depth, then `ansible_group_priority`, then name, so an
//! inventory-file `[g:vars]` loses to any `group_vars/*` file, a trap we reproduce.

use super::{Var, Vars, VarsCache, from_map, merge_into};
use crate::inventory::{ALL, HostId, Inventory};
use crate::source::Diagnostic;
use std::path::PathBuf;

/// Where to look for `group_vars/` and `host_vars/`.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostVarsQuery {
    /// Directories of the inventory sources (a directory source is its own dir).
    pub inventory_dirs: Vec<PathBuf>,
    /// The playbook's directory, when there is a play.
    pub play_dirs: Vec<PathBuf>,
}

impl HostVarsQuery {
    pub(crate) fn for_inventory(inv: &Inventory) -> HostVarsQuery {
        let mut dirs = Vec::new();
        for s in &inv.sources {
            if s.to_string_lossy().contains(',') && !s.exists() {
                continue;
            }
            let dir = if s.is_dir() {
                s.clone()
            } else {
                s.parent().map(PathBuf::from).unwrap_or_default()
            };
            let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
            dirs.push(if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            });
        }
        HostVarsQuery {
            inventory_dirs: dirs,
            play_dirs: Vec::new(),
        }
    }
}

/// A host's merged vars, raw, without magic vars.
pub(crate) fn host_vars(
    inv: &Inventory,
    host: HostId,
    q: &HostVarsQuery,
    cache: &mut VarsCache,
) -> Result<Vars, Diagnostic> {
    let groups = inv.sorted_groups(host);
    let base = if let Some(b) = cache.group_layers.get(&groups) {
        b.clone()
    } else {
        let b = std::sync::Arc::new(group_layers(inv, &groups, q, cache)?);
        cache.group_layers.insert(groups, b.clone());
        b
    };
    let mut out = (*base).clone();
    let h = inv.host(host);
    for (k, v) in &h.vars {
        out.insert(
            k.clone(),
            Var {
                value: v.clone(),
                origin: h.origin.clone(),
            },
        );
    }
    for dirs in [&q.inventory_dirs, &q.play_dirs] {
        for dir in dirs {
            cache.merge_entity(&mut out, dir, "host_vars", &h.name)?;
        }
    }
    Ok(out)
}

/// Everything that comes from the host's groups, in precedence order.
fn group_layers(
    inv: &Inventory,
    groups: &[usize],
    q: &HostVarsQuery,
    cache: &mut VarsCache,
) -> Result<Vars, Diagnostic> {
    let all = inv.group(ALL);
    let mut out = from_map(&all.vars, all.origin.as_ref());
    for &g in groups {
        let group = inv.group(g);
        merge_into(&mut out, &from_map(&group.vars, group.origin.as_ref()));
    }
    for dir in q.inventory_dirs.iter().chain(&q.play_dirs) {
        cache.merge_entity(&mut out, dir, "group_vars", "all")?;
    }
    for dirs in [&q.inventory_dirs, &q.play_dirs] {
        // Per directory, then per group, as `get_vars_from_inventory_sources` loops.
        for dir in dirs {
            for &g in groups {
                cache.merge_entity(&mut out, dir, "group_vars", &inv.group(g).name)?;
            }
        }
    }
    Ok(out)
}
