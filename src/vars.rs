//! Variables: where they are defined and how they merge, with Ansible's precedence.
//!
//! Values are kept raw (templates unrendered, as `ansible-inventory --list` shows them);
//! rendering is lazy and lives in `template`. Each var remembers where it was defined so
//! that a template error can name the file and line.

mod files;
mod layers;

use crate::source::Origin;
use crate::value::{Map, Value};
use indexmap::IndexMap;

pub(crate) use files::{VarsCache, load_vars_file};
pub(crate) use layers::{HostVarsQuery, host_vars};

/// A variable's raw value and where it was set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Var {
    pub value: Value,
    pub origin: Option<Origin>,
}

/// Vars in Python dict order: a later set keeps the key's first place.
pub(crate) type Vars = IndexMap<String, Var, crate::value::Hasher>;

/// Ansible's `combine_vars` with the default `hash_behaviour=replace`: top-level keys
/// of `b` replace those of `a`.
pub(crate) fn merge_into(a: &mut Vars, b: &Vars) {
    for (k, v) in b {
        a.insert(k.clone(), v.clone());
    }
}

/// Wraps plain values (no origin known beyond `origin`).
pub(crate) fn from_map(map: &Map, origin: Option<&Origin>) -> Vars {
    map.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Var {
                    value: v.clone(),
                    origin: origin.cloned(),
                },
            )
        })
        .collect()
}

/// Drops origins.
pub(crate) fn to_map(vars: &Vars) -> Map {
    vars.iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect()
}
