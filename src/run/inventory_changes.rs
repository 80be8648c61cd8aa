//! `group_by` and `add_host`: the inventory changes their results ask for, made as
//! Ansible's strategy makes them (`_add_group`, `add_dynamic_host`).

use super::event::{Event, Status};
use crate::inventory::Inventory;
use crate::value::{Map, Value};

/// What applying one host's results did: whether any became changed, and which loop
/// items (by position) did.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub(super) newly: bool,
    pub(super) items: Vec<usize>,
}

/// Applies what one host's results ask of `inv`, reconciling after each change that
/// added something (as Ansible does); a result that added something becomes `changed`.
pub(super) fn apply(
    inv: &mut Inventory,
    host: &str,
    events: &mut [Event],
    keep_status: bool,
) -> Result<Applied, String> {
    let mut applied = Applied::default();
    let mut index = 0;
    for ev in events.iter_mut() {
        let Event::Result {
            status,
            result,
            item,
            ..
        } = ev
        else {
            continue;
        };
        let position = index;
        if item.is_some() {
            index += 1;
        }
        if !matches!(status, Status::Ok | Status::Changed) {
            continue;
        }
        let Some(change) = InvChange::from_result(host, result) else {
            continue;
        };
        if change.apply(inv) {
            inv.reconcile().map_err(|(_, e)| e.0)?;
            if *status == Status::Ok && !keep_status {
                *status = Status::Changed;
                result.insert("changed".into(), Value::Bool(true));
                applied.newly = true;
                if item.is_some() {
                    applied.items.push(position);
                }
            }
        }
    }
    Ok(applied)
}

/// Whether a result's inventory change would add something to `inv` (what Ansible's
/// strategy sets `changed` to before it judges changed_when again).
pub(super) fn would_change(inv: &Inventory, host: &str, result: &Map) -> bool {
    InvChange::from_result(host, result).is_some_and(|c| c.apply(&mut inv.clone()))
}

/// One inventory change a task asked for.
#[derive(Debug, Clone)]
enum InvChange {
    Group {
        host: String,
        group: String,
        parents: Vec<String>,
    },
    Host {
        name: String,
        groups: Vec<String>,
        vars: Map,
    },
}

impl InvChange {
    /// From a result's `add_group` / `add_host` keys (as Ansible's strategy reads them).
    fn from_result(host: &str, result: &Map) -> Option<InvChange> {
        let strings = |v: Option<&Value>| -> Vec<String> {
            match v {
                Some(Value::List(l)) => l.iter().map(Value::py_str).collect(),
                _ => Vec::new(),
            }
        };
        if let Some(Value::Map(info)) = result.get("add_host") {
            return Some(InvChange::Host {
                name: info.get("host_name")?.py_str(),
                groups: strings(info.get("groups")),
                vars: match info.get("host_vars") {
                    Some(Value::Map(m)) => m.clone(),
                    _ => Map::default(),
                },
            });
        }
        let group = result.get("add_group")?.py_str();
        Some(InvChange::Group {
            host: host.to_string(),
            group,
            parents: strings(result.get("parent_groups")),
        })
    }

    /// Makes the change, as Ansible's strategy does (`_add_group`, `add_dynamic_host`);
    /// true when something was new.
    fn apply(self, inv: &mut Inventory) -> bool {
        let mut changed = false;
        match self {
            InvChange::Group {
                host,
                group,
                parents,
            } => {
                let g = inv.add_group(&group, None);
                for p in parents {
                    changed |= inv.group_id(&p).is_none();
                    let pg = inv.add_group(&p, None);
                    if !inv.group(pg).children.contains(&g) && inv.add_child_group(pg, g).is_ok() {
                        changed = true;
                    }
                }
                if let Some(h) = inv.host_id(&host)
                    && !inv.group_hosts(g).contains(&h)
                {
                    inv.add_host_to_group(g, h);
                    changed = true;
                }
            }
            InvChange::Host { name, groups, vars } => {
                let h = if let Some(h) = inv.host_id(&name) {
                    h
                } else {
                    changed = true;
                    inv.add_host(&name, Some(crate::inventory::ALL), None, None, None)
                };
                for (k, v) in vars {
                    if inv.host(h).vars.get(&k) != Some(&v) {
                        inv.set_host_var(h, &k, v);
                        changed = true;
                    }
                }
                for group in groups {
                    changed |= inv.group_id(&group).is_none();
                    let g = inv.add_group(&group, None);
                    if !inv.group(g).hosts.contains(&h) {
                        inv.add_host_to_group(g, h);
                        changed = true;
                    }
                }
            }
        }
        changed
    }
}
