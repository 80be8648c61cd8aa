//! `getent`: entries of a name service database (passwd, group, hosts, services...) as
//! facts, `getent_<database>`: each key with its other fields, as Ansible's module sets.

use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "getent",
    file_common: false,
    traits: &[],
    args: &["database", "key", "split", "fail_key", "service"],
    required: &["database"],
};

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let db = args::str_req(a, &["database"], "getent")?;
    let key = args::str_opt(a, &["key"]);
    let fail_key = args::bool_opt(a, &["fail_key"])?.unwrap_or(true);
    let split = args::str_opt(a, &["split"]).unwrap_or_else(|| {
        if matches!(
            db.as_str(),
            "passwd" | "group" | "shadow" | "gshadow" | "initgroups"
        ) {
            ":".into()
        } else {
            String::new()
        }
    });
    let script = format!(
        "getent {} {}; echo \"rc=$?\"",
        sh_quote(&db),
        key.as_deref().map(sh_quote).unwrap_or_default()
    );
    let out = super::remote::query(cx, &script, "run getent").await?;
    let text = out.stdout_str();
    let rc = text
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("rc="))
        .and_then(|r| r.parse::<i64>().ok())
        .unwrap_or(1);
    match rc {
        0 => {}
        1 => return Err(fail("Missing arguments, or database unknown.")),
        2 if fail_key => {
            return Err(fail(
                "One or more supplied key could not be found in the database.",
            ));
        }
        2 => {}
        3 => return Err(fail("Enumeration not supported on this database.")),
        other => return Err(fail(format!("getent failed with status {other}"))),
    }
    let mut entries = Map::default();
    for line in text.lines().filter(|l| !l.starts_with("rc=")) {
        let fields: Vec<String> = if split.is_empty() {
            line.split_whitespace().map(str::to_string).collect()
        } else {
            line.split(split.as_str()).map(str::to_string).collect()
        };
        let Some((first, rest)) = fields.split_first() else {
            continue;
        };
        entries.insert(
            first.clone(),
            Value::List(rest.iter().map(|f| Value::str(f.clone())).collect()),
        );
    }
    if rc == 2
        && let Some(k) = &key
    {
        entries.insert(k.clone(), Value::Null);
    }
    let mut o = Outcome::default();
    o.facts.insert(format!("getent_{db}"), Value::Map(entries));
    o.result
        .insert("ansible_facts".into(), Value::Map(o.facts.clone()));
    Ok(o)
}
