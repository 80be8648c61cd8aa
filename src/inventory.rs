//! The inventory: hosts, groups, their tree and their inventory-file vars, built the way
//! Ansible's `InventoryData` builds them.
//!
//! This module owns the data and its invariants (every group under `all`, hosts with no
//! group in `ungrouped`, no cycles, group depths). Parsing lives in `ini`, `yaml_source`
//! and `load`; host patterns in `pattern`.

pub(crate) mod address;
pub(crate) mod edit;
mod ini;
pub(crate) mod load;
pub(crate) mod pattern;
mod range;
mod yaml_source;

use crate::source::{Diagnostic, Origin};
use crate::value::{Map, Value};
use indexmap::IndexMap;
use std::path::PathBuf;

pub(crate) use crate::python::literal::parse_value;
pub(crate) use address::parse_address;
pub(crate) use load::load;

/// Shell-like words (POSIX quoting, no comments), for `key=value` argument strings.
pub(crate) fn split_words(s: &str) -> Vec<String> {
    crate::python::shlex::split(s, false)
        .unwrap_or_else(|_| s.split_whitespace().map(str::to_string).collect())
}

pub(crate) type HostId = usize;
pub(crate) type GroupId = usize;

#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub name: String,
    /// Vars set in inventory sources, in the order first set.
    pub vars: Map,
    /// Every group the host is in, ancestors included (Ansible's `host.groups`).
    pub groups: Vec<GroupId>,
    /// The inventory source that first declared the host (`inventory_file`).
    pub source: Option<PathBuf>,
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub name: String,
    pub vars: Map,
    /// Hosts listed directly in the group, in order.
    pub hosts: Vec<HostId>,
    pub children: Vec<GroupId>,
    pub parents: Vec<GroupId>,
    pub depth: usize,
    pub priority: i64,
    pub origin: Option<Origin>,
}

/// An error building the inventory (before a file position is attached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InventoryError(pub String);

#[derive(Debug, Clone, Default)]
pub(crate) struct Inventory {
    hosts: IndexMap<String, Host>,
    groups: IndexMap<String, Group>,
    /// The sources it was read from, in order.
    pub sources: Vec<PathBuf>,
    pub warnings: Vec<Diagnostic>,
}

pub(crate) const ALL: GroupId = 0;
pub(crate) const UNGROUPED: GroupId = 1;

impl Inventory {
    pub(crate) fn new() -> Inventory {
        let mut inv = Inventory::default();
        inv.add_group("all", None);
        inv.add_group("ungrouped", None);
        // Cannot fail: two fresh groups.
        let _ = inv.add_child_group(ALL, UNGROUPED);
        inv
    }

    pub(crate) fn hosts(&self) -> impl ExactSizeIterator<Item = &Host> {
        self.hosts.values()
    }

    pub(crate) fn groups(&self) -> impl ExactSizeIterator<Item = &Group> {
        self.groups.values()
    }

    pub(crate) fn host(&self, id: HostId) -> &Host {
        &self.hosts[id]
    }

    pub(crate) fn group(&self, id: GroupId) -> &Group {
        &self.groups[id]
    }

    pub(crate) fn host_id(&self, name: &str) -> Option<HostId> {
        self.hosts.get_index_of(name)
    }

    pub(crate) fn group_id(&self, name: &str) -> Option<GroupId> {
        self.groups.get_index_of(name)
    }

    pub(crate) fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Adds a group if new; returns its id either way.
    pub(crate) fn add_group(&mut self, name: &str, origin: Option<Origin>) -> GroupId {
        if let Some(id) = self.groups.get_index_of(name) {
            return id;
        }
        let group = Group {
            name: name.to_string(),
            vars: Map::default(),
            hosts: Vec::new(),
            children: Vec::new(),
            parents: Vec::new(),
            depth: 0,
            priority: 1,
            origin,
        };
        self.groups.insert_full(name.to_string(), group).0
    }

    /// Adds a host if new (a port sets `ansible_port` only then) and puts it in `group`.
    pub(crate) fn add_host(
        &mut self,
        name: &str,
        group: Option<GroupId>,
        port: Option<u16>,
        source: Option<&PathBuf>,
        origin: Option<Origin>,
    ) -> HostId {
        let id = if let Some(id) = self.hosts.get_index_of(name) {
            id
        } else {
            let mut vars = Map::default();
            if let Some(port) = port {
                vars.insert("ansible_port".into(), Value::Int(i64::from(port)));
            }
            let host = Host {
                name: name.to_string(),
                vars,
                groups: Vec::new(),
                source: source.cloned(),
                origin,
            };
            self.hosts.insert_full(name.to_string(), host).0
        };
        if let Some(g) = group {
            self.add_host_to_group(g, id);
        }
        id
    }

    /// Ansible's implicit localhost, for a play that names `localhost` when the
    /// inventory does not: a local connection, in no group (not matched by `all`), yet
    /// reading the `all` group's vars as Ansible's does.
    pub(crate) fn add_implicit_localhost(&mut self) -> HostId {
        if let Some(id) = self.hosts.get_index_of("localhost") {
            return id;
        }
        let mut vars = Map::default();
        vars.insert("ansible_connection".into(), Value::str("local"));
        vars.insert(
            "ansible_python_interpreter".into(),
            Value::str(PLAYBOOK_PYTHON.as_str()),
        );
        let host = Host {
            name: "localhost".into(),
            vars,
            groups: vec![ALL],
            source: None,
            origin: None,
        };
        self.hosts.insert_full("localhost".into(), host).0
    }

    pub(crate) fn add_host_to_group(&mut self, group: GroupId, host: HostId) {
        if self.groups[group].hosts.contains(&host) {
            return;
        }
        self.groups[group].hosts.push(host);
        let mut new_groups = self.ancestors(group);
        new_groups.push(group);
        let h = &mut self.hosts[host];
        for g in new_groups {
            if !h.groups.contains(&g) {
                h.groups.push(g);
            }
        }
    }

    /// Takes a host out of a group's own host list; the host keeps only the groups it is
    /// still in through the lists it remains on (and their ancestors).
    pub(crate) fn remove_host_from_group(&mut self, group: GroupId, host: HostId) {
        self.groups[group].hosts.retain(|h| *h != host);
        let mut keep = vec![ALL];
        for (g, grp) in self.groups.values().enumerate() {
            if grp.hosts.contains(&host) {
                keep.push(g);
                keep.extend(self.ancestors(g));
            }
        }
        self.hosts[host].groups.retain(|g| keep.contains(g));
    }

    /// Makes a host a member of `group` as a move from its sibling groups would: it
    /// leaves each group it is listed in directly that shares a parent (other than `all`)
    /// with `group`, and is listed in `group`. Returns the groups it left.
    pub(crate) fn adopt(&mut self, group: GroupId, host: HostId) -> Vec<GroupId> {
        let parents: Vec<GroupId> = self.groups[group]
            .parents
            .iter()
            .copied()
            .filter(|p| *p != ALL)
            .collect();
        let left: Vec<GroupId> = self
            .direct_groups(host)
            .into_iter()
            .filter(|g| *g != group && self.groups[*g].parents.iter().any(|p| parents.contains(p)))
            .collect();
        for &g in &left {
            self.remove_host_from_group(g, host);
        }
        self.add_host_to_group(group, host);
        left
    }

    /// The groups a host is listed in directly (not through a child group).
    pub(crate) fn direct_groups(&self, host: HostId) -> Vec<GroupId> {
        self.hosts[host]
            .groups
            .iter()
            .copied()
            .filter(|g| self.groups[*g].hosts.contains(&host))
            .collect()
    }

    /// All ancestors of a group (not itself), nearest first.
    pub(crate) fn ancestors(&self, group: GroupId) -> Vec<GroupId> {
        walk(group, |g| &self.groups[g].parents)
    }

    /// All descendants of a group (not itself), breadth first.
    pub(crate) fn descendants(&self, group: GroupId) -> Vec<GroupId> {
        walk(group, |g| &self.groups[g].children)
    }

    /// Makes `child` a child group of `parent`, refusing cycles as Ansible does.
    pub(crate) fn add_child_group(
        &mut self,
        parent: GroupId,
        child: GroupId,
    ) -> Result<(), InventoryError> {
        if parent == child {
            return Err(InventoryError(format!(
                "can't add group '{}' to itself",
                self.groups[parent].name
            )));
        }
        if self.groups[parent].children.contains(&child) {
            return Ok(());
        }
        let parent_ancestors = self.ancestors(parent);
        if parent_ancestors.contains(&child) {
            return Err(InventoryError(format!(
                "Adding group '{}' as child to '{}' creates a recursive dependency loop.",
                self.groups[child].name, self.groups[parent].name
            )));
        }
        self.groups[parent].children.push(child);
        let depth = self.groups[parent].depth + 1;
        if self.groups[child].depth < depth {
            self.groups[child].depth = depth;
        }
        self.propagate_depth(child);
        if !self.groups[child].parents.contains(&parent) {
            self.groups[child].parents.push(parent);
            let mut new_ancestors = parent_ancestors;
            new_ancestors.push(parent);
            let hosts: Vec<HostId> = self.group_hosts(child);
            for h in hosts {
                let host = &mut self.hosts[h];
                for g in &new_ancestors {
                    if !host.groups.contains(g) {
                        host.groups.push(*g);
                    }
                }
            }
        }
        Ok(())
    }

    fn propagate_depth(&mut self, group: GroupId) {
        let mut queue = vec![group];
        while let Some(g) = queue.pop() {
            let depth = self.groups[g].depth + 1;
            for i in 0..self.groups[g].children.len() {
                let c = self.groups[g].children[i];
                if self.groups[c].depth < depth {
                    self.groups[c].depth = depth;
                    queue.push(c);
                }
            }
        }
    }

    /// Every host of a group and its descendants, in Ansible's order, without repeats.
    pub(crate) fn group_hosts(&self, group: GroupId) -> Vec<HostId> {
        let mut order = vec![group];
        order.extend(self.descendants(group));
        let mut seen = vec![false; self.hosts.len()];
        let mut out = Vec::new();
        for g in order {
            for &h in &self.groups[g].hosts {
                if !seen[h] {
                    seen[h] = true;
                    out.push(h);
                }
            }
        }
        out
    }

    pub(crate) fn set_group_var(
        &mut self,
        group: GroupId,
        key: &str,
        value: Value,
    ) -> Result<(), InventoryError> {
        if key == "ansible_group_priority" {
            let p = match &value {
                Value::Int(i) => *i,
                Value::Bool(b) => i64::from(*b),
                Value::Float(f) => *f as i64,
                Value::Str(s) => s.trim().parse().map_err(|_| {
                    InventoryError(format!("invalid literal for int() with base 10: {s:?}"))
                })?,
                other => {
                    return Err(InventoryError(format!(
                        "ansible_group_priority must be an int, got {}",
                        other.type_name()
                    )));
                }
            };
            self.groups[group].priority = p;
            return Ok(());
        }
        self.groups[group].vars.insert(key.to_string(), value);
        Ok(())
    }

    pub(crate) fn set_host_var(&mut self, host: HostId, key: &str, value: Value) {
        self.hosts[host].vars.insert(key.to_string(), value);
    }

    /// Ansible's `reconcile_inventory`: every group under `all`, hosts with no other
    /// group in `ungrouped`, and a warning for names used by both a host and a group.
    /// A group that has `all` among its children cannot go under `all`: an error, the
    /// loop Ansible reports.
    pub(crate) fn reconcile(&mut self) -> Result<(), (Option<Origin>, InventoryError)> {
        for g in 1..self.groups.len() {
            if self.groups[g].parents.is_empty() {
                self.add_child_group(ALL, g)
                    .map_err(|e| (self.groups[g].origin.clone(), e))?;
            }
        }
        for h in 0..self.hosts.len() {
            let groups = self.hosts[h].groups.clone();
            if groups.contains(&UNGROUPED) {
                let direct = self.groups[UNGROUPED].hosts.contains(&h);
                if direct && groups.iter().any(|g| *g != ALL && *g != UNGROUPED) {
                    self.groups[UNGROUPED].hosts.retain(|x| *x != h);
                    self.remove_host_group(h, UNGROUPED);
                }
            } else if groups.iter().all(|g| *g == ALL) {
                // Ansible's implicit localhost is in no group's host list: it stays so.
                let implicit = groups == [ALL] && !self.groups[ALL].hosts.contains(&h);
                if !implicit {
                    self.add_host_to_group(UNGROUPED, h);
                }
            }
        }
        let mut conflicts: Vec<String> = self
            .hosts
            .keys()
            .filter(|h| self.groups.contains_key(*h))
            .cloned()
            .collect();
        conflicts.sort();
        for name in conflicts {
            let origin = self.hosts[&name]
                .origin
                .clone()
                .unwrap_or_else(|| Origin::file("<inventory>"));
            self.warnings.push(Diagnostic::warning(
                origin,
                format!("Found both group and host with same name: {name}"),
            ));
        }
        Ok(())
    }

    /// Takes `group` from a host's groups, with the ancestors no other group of the host
    /// still has (except `all`): Ansible's `Host.remove_group`. A group that was only an
    /// ancestor of `ungrouped` thus leaves the host along with it.
    fn remove_host_group(&mut self, host: HostId, group: GroupId) {
        let Some(pos) = self.hosts[host].groups.iter().position(|g| *g == group) else {
            return;
        };
        self.hosts[host].groups.remove(pos);
        for old in self.ancestors(group) {
            if old == ALL {
                continue;
            }
            let still_needed = self.hosts[host]
                .groups
                .iter()
                .any(|g| self.ancestors(*g).contains(&old));
            if !still_needed {
                self.remove_host_group(host, old);
            }
        }
    }

    /// A host's groups other than `all`, sorted as Ansible merges their vars: by depth,
    /// then `ansible_group_priority`, then name.
    pub(crate) fn sorted_groups(&self, host: HostId) -> Vec<GroupId> {
        let mut groups: Vec<GroupId> = self.hosts[host]
            .groups
            .iter()
            .copied()
            .filter(|g| *g != ALL)
            .collect();
        groups.sort_by(|a, b| {
            let (ga, gb) = (&self.groups[*a], &self.groups[*b]);
            (ga.depth, ga.priority, &ga.name).cmp(&(gb.depth, gb.priority, &gb.name))
        });
        groups
    }

    /// `group_names`: the host's groups except `all`, sorted by name.
    pub(crate) fn group_names(&self, host: HostId) -> Vec<String> {
        let mut names: Vec<String> = self.hosts[host]
            .groups
            .iter()
            .filter(|g| **g != ALL)
            .map(|g| self.groups[*g].name.clone())
            .collect();
        names.sort();
        names
    }
}

/// Breadth-first walk over a relation, level by level, each node once.
fn walk<'a>(start: GroupId, next: impl Fn(GroupId) -> &'a Vec<GroupId>) -> Vec<GroupId> {
    let mut seen = vec![start];
    let mut out = Vec::new();
    let mut level: Vec<GroupId> = next(start).clone();
    while !level.is_empty() {
        let mut next_level = Vec::new();
        for g in level {
            if seen.contains(&g) {
                continue;
            }
            seen.push(g);
            out.push(g);
            next_level.extend(next(g).iter().copied());
        }
        level = next_level;
    }
    out
}

#[cfg(test)]
mod fuzz_tests;

/// `ansible_playbook_python`: Ansible's own interpreter. tprov has none; the first
/// `python3` on PATH is what inventories that name it (for local hosts) expect.
pub(crate) static PLAYBOOK_PYTHON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| std::path::PathBuf::from("/usr/bin/python3"))
        .display()
        .to_string()
});
