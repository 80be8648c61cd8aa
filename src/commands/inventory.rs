//! `tprov inventory`: the inventory as Ansible reads it, printed as `ansible-inventory`
//! prints it (`--list`, `--graph`, `--host`), plus `--list-hosts`.

use super::{extra_vars, load_inventory, raw_host_vars, select_hosts, vars_query};
use crate::cli::InventoryCmd;
use crate::error::Error;
use crate::inventory::{ALL, GroupId, Inventory};
use crate::output::Printer;
use crate::settings::Settings;
use crate::value::pyjson::{JsonStyle, dumps, write_value};
use crate::value::{Map, Value};
use crate::vars::VarsCache;
use std::collections::HashSet;

/// Vars Ansible keeps to itself and `ansible-inventory` never prints.
const INTERNAL_VARS: &[&str] = &[
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "role_uuid",
];

pub(crate) fn run(cmd: &InventoryCmd, settings: &Settings, printer: &Printer) -> Result<u8, Error> {
    if let Some(crate::cli::InventoryEdit::Move(m)) = &cmd.edit {
        return super::inventory_move::run(m, &cmd.inv, settings, printer);
    }
    let inv = load_inventory(&cmd.inv, settings, printer)?;
    let extra = extra_vars(&cmd.inv)?;
    let q = vars_query(&inv, &cmd.inv);
    let mut cache = VarsCache::new();
    let host_vars = |h, cache: &mut VarsCache| -> Result<Map, Error> {
        let mut m = raw_host_vars(&inv, h, &q, cache, &extra)?;
        m.retain(|k, _| !INTERNAL_VARS.contains(&k.as_str()));
        Ok(m)
    };
    let text = if let Some(host) = &cmd.host {
        let hosts = select_hosts(&inv, host, None, printer)?;
        let [h] = hosts.as_slice() else {
            return Err(Error::Usage(
                "You must pass a single valid host to --host parameter".into(),
            ));
        };
        // `--host` prints `!unsafe` values as plain strings, `--list` marks them.
        let mut style = list_style();
        style.unsafe_marker = false;
        dumps(&Value::Map(host_vars(*h, &mut cache)?), &style).map_err(Error::Internal)?
    } else if let Some(start) = &cmd.graph {
        let gid = inv.group_id(start).ok_or_else(|| {
            Error::Usage("Pattern must be valid group name when using --graph".into())
        })?;
        let available: Option<HashSet<usize>> = match &cmd.inv.limit {
            Some(l) => Some(
                select_hosts(&inv, "all", Some(l), printer)?
                    .into_iter()
                    .collect(),
            ),
            None => None,
        };
        let mut lines = Vec::new();
        let mut group_cache = VarsCache::new();
        let mut group_vars = |g: GroupId| -> Result<Map, Error> {
            // ansible-inventory's `_get_group_variables`: inventory-file vars, then the
            // group_vars beside the inventory (and the playbook's only if given).
            let group = inv.group(g);
            let mut vars = crate::vars::from_map(&group.vars, None);
            let dirs = q.inventory_dirs.iter().chain(
                q.play_dirs
                    .iter()
                    .filter(|_| cmd.inv.playbook_dir.is_some()),
            );
            for dir in dirs {
                crate::vars::merge_into(
                    &mut vars,
                    &group_cache.entity_vars(dir, "group_vars", &group.name)?,
                );
            }
            let mut m = crate::vars::to_map(&vars);
            if group.priority != 1 {
                m.insert("ansible_group_priority".into(), Value::Int(group.priority));
            }
            Ok(m)
        };
        graph(
            &inv,
            gid,
            0,
            cmd.vars,
            available.as_ref(),
            &mut lines,
            &mut |h| host_vars(h, &mut cache),
            &mut group_vars,
        )?;
        lines.join("\n")
    } else if cmd.list_hosts {
        let pattern = cmd
            .pattern
            .clone()
            .or_else(|| cmd.inv.group.clone())
            .unwrap_or_else(|| "all".into());
        let hosts = select_hosts(&inv, &pattern, cmd.inv.limit.as_deref(), printer)?;
        hosts
            .iter()
            .map(|h| inv.host(*h).name.clone())
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        let hosts = match &cmd.inv.limit {
            Some(l) => select_hosts(&inv, "all", Some(l), printer)?,
            None => inv.group_hosts(ALL),
        };
        // Each host's vars are written as soon as they are merged, so memory stays
        // at the size of the output, not of every host's vars at once.
        let mut hostvars: Vec<(String, String)> = Vec::with_capacity(hosts.len());
        for &h in &hosts {
            let vars = host_vars(h, &mut cache)?;
            if !vars.is_empty() {
                let mut text = String::new();
                write_value(&mut text, &Value::Map(vars), &list_style(), 3)
                    .map_err(Error::Internal)?;
                hostvars.push((inv.host(h).name.clone(), text));
            }
        }
        hostvars.sort_by(|a, b| a.0.cmp(&b.0));
        let available: HashSet<usize> = hosts.into_iter().collect();
        let mut groups = Map::default();
        let mut seen = HashSet::new();
        format_group(&inv, ALL, &available, &mut seen, &mut groups);
        list_json(groups, &hostvars)?
    };
    for w in &cache.warnings {
        printer.diagnostic(w);
    }
    printer.out(&format!("{text}\n"));
    Ok(0)
}

/// `ansible-inventory`'s JSON: its encoder profile writes UTF-8, not `\uXXXX`.
fn list_style() -> JsonStyle {
    let mut style = JsonStyle::pretty(4);
    style.ensure_ascii = false;
    style.unsafe_marker = true;
    style
}

/// `--list`: the groups and `_meta`, keys sorted as Python's `sort_keys` does, with the
/// host vars already rendered.
fn list_json(groups: Map, hostvars: &[(String, String)]) -> Result<String, Error> {
    let style = list_style();
    let mut keys: Vec<&str> = groups.keys().map(String::as_str).chain(["_meta"]).collect();
    keys.sort_unstable();
    let mut out = String::from("{");
    for (i, key) in keys.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        crate::value::pyjson::write_str(&mut out, key, false);
        out.push_str(": ");
        if *key == "_meta" {
            out.push_str("{\n        \"hostvars\": ");
            if hostvars.is_empty() {
                out.push_str("{}");
            } else {
                out.push('{');
                for (j, (name, text)) in hostvars.iter().enumerate() {
                    out.push_str(if j == 0 {
                        "\n            "
                    } else {
                        ",\n            "
                    });
                    crate::value::pyjson::write_str(&mut out, name, false);
                    out.push_str(": ");
                    out.push_str(text);
                }
                out.push_str("\n        }");
            }
            out.push_str(",\n        \"profile\": \"inventory_legacy\"\n    }");
        } else if let Some(v) = groups.get(*key) {
            write_value(&mut out, v, &style, 1).map_err(Error::Internal)?;
        }
    }
    out.push_str("\n}");
    Ok(out)
}

/// `ansible-inventory --list`'s group entries: hosts (not for `all`), then children.
fn format_group(
    inv: &Inventory,
    gid: GroupId,
    available: &HashSet<usize>,
    seen: &mut HashSet<GroupId>,
    out: &mut Map,
) {
    let g = inv.group(gid);
    let mut entry = Map::default();
    if gid != ALL {
        let hosts: Vec<Value> = g
            .hosts
            .iter()
            .filter(|h| available.contains(h))
            .map(|h| Value::str(inv.host(*h).name.clone()))
            .collect();
        if !hosts.is_empty() {
            entry.insert("hosts".into(), Value::List(hosts));
        }
    }
    let children: Vec<Value> = g
        .children
        .iter()
        .map(|c| Value::str(inv.group(*c).name.clone()))
        .collect();
    if !children.is_empty() {
        entry.insert("children".into(), Value::List(children));
    }
    // The entry goes in before its children, as Ansible's dict update does.
    let name = g.name.clone();
    if !entry.is_empty() {
        out.insert(name.clone(), Value::Map(entry));
    }
    for &c in &g.children {
        if seen.insert(c) {
            format_group(inv, c, available, seen, out);
        }
    }
}

type VarsFn<'a> = dyn FnMut(usize) -> Result<Map, Error> + 'a;

#[allow(clippy::too_many_arguments)]
fn graph(
    inv: &Inventory,
    gid: GroupId,
    depth: usize,
    show_vars: bool,
    available: Option<&HashSet<usize>>,
    lines: &mut Vec<String>,
    host_vars: &mut VarsFn<'_>,
    group_vars: &mut VarsFn<'_>,
) -> Result<(), Error> {
    let name = |n: &str, d: usize| {
        if d == 0 {
            n.to_string()
        } else {
            format!("{}--{n}", "  |".repeat(d))
        }
    };
    let g = inv.group(gid);
    lines.push(name(&format!("@{}:", g.name), depth));
    for &c in &g.children {
        graph(
            inv,
            c,
            depth + 1,
            show_vars,
            available,
            lines,
            host_vars,
            group_vars,
        )?;
    }
    if gid != ALL {
        for &h in &g.hosts {
            if available.is_some_and(|a| !a.contains(&h)) {
                continue;
            }
            lines.push(name(&inv.host(h).name, depth + 1));
            if show_vars {
                let mut vars: Vec<(String, Value)> = host_vars(h)?.into_iter().collect();
                vars.sort_by(|a, b| a.0.cmp(&b.0));
                for (k, v) in vars {
                    lines.push(name(&format!("{{{k} = {}}}", v.py_str()), depth + 2));
                }
            }
        }
    }
    if show_vars {
        let mut vars: Vec<(String, Value)> = group_vars(gid)?.into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in vars {
            lines.push(name(&format!("{{{k} = {}}}", v.py_str()), depth + 1));
        }
    }
    Ok(())
}
