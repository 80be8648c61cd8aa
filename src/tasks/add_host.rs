//! `add_host`: a host (and its groups and vars) added to the inventory for the plays
//! after this one. It runs once per play batch, not per host, as Ansible's does. The
//! result is Ansible's: `add_host: {host_name, groups, host_vars}`.

use super::{Outcome, Spec, TaskError, Trait, fail};
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "add_host",
    file_common: false,
    traits: &[Trait::Controller, Trait::Local, Trait::EditsInventory],
    args: &["name", "hostname", "host", "groups", "group", "groupname"],
    required: &["name|hostname|host"],
};

pub(super) fn run(a: &Map) -> Result<Outcome, TaskError> {
    let name = ["name", "hostname", "host"]
        .iter()
        .find_map(|k| a.get(*k))
        .map(Value::py_str)
        .ok_or_else(|| fail("name, host or hostname needs to be provided"))?;
    let (name, port) = match crate::inventory::address::parse_address(&name, false) {
        Ok((n, p)) => (n, p),
        Err(_) => (name, None),
    };
    let groups: Vec<String> = match ["groupname", "groups", "group"]
        .iter()
        .find_map(|k| a.get(*k))
    {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::List(l)) => l.iter().map(Value::py_str).collect(),
        Some(Value::Str(s)) => s.split(',').map(|g| g.trim().to_string()).collect(),
        Some(other) => {
            return Err(fail(format!(
                "Groups must be specified as a list, got {}",
                other.type_name()
            )));
        }
    };
    let mut unique: Vec<String> = Vec::new();
    for g in groups.into_iter().filter(|g| !g.is_empty()) {
        if !unique.contains(&g) {
            unique.push(g);
        }
    }
    let special = ["name", "hostname", "groupname", "groups"];
    let mut host_vars: Map = a
        .iter()
        .filter(|(k, _)| !special.contains(&k.as_str()) && k.as_str() != "_raw_params")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(p) = port {
        host_vars.insert("ansible_ssh_port".into(), Value::Int(i64::from(p)));
    }
    let mut info = Map::default();
    info.insert("host_name".into(), Value::Str(name));
    info.insert(
        "groups".into(),
        Value::List(unique.into_iter().map(Value::Str).collect()),
    );
    info.insert("host_vars".into(), Value::Map(host_vars));
    let mut out = Outcome::changed(false);
    out.result.insert("add_host".into(), Value::Map(info));
    Ok(out)
}
