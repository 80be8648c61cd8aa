//! `group_by`: puts the host in a group made from a key (`os_{{ distro }}`), for the
//! plays after this one. The change itself is the runner's: this says what it is, in
//! Ansible's result keys (`add_group`, `parent_groups`).

use super::{Outcome, Spec, TaskError, Trait, args};
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "group_by",
    file_common: false,
    traits: &[Trait::Controller, Trait::Local, Trait::EditsInventory],
    args: &["key", "parents"],
    required: &["key"],
};

pub(super) fn run(a: &Map) -> Result<Outcome, TaskError> {
    let key = args::str_req(a, &["key"], "group_by")?;
    let parents: Vec<String> = match a.get("parents") {
        None | Some(Value::Null) => vec!["all".into()],
        Some(Value::List(l)) => l.iter().map(Value::py_str).collect(),
        Some(v) => vec![v.py_str()],
    };
    let mut out = Outcome::changed(false);
    out.result
        .insert("add_group".into(), Value::Str(key.replace(' ', "-")));
    out.result.insert(
        "parent_groups".into(),
        Value::List(
            parents
                .iter()
                .map(|p| Value::Str(p.replace(' ', "-")))
                .collect(),
        ),
    );
    Ok(out)
}
