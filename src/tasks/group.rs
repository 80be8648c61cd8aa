//! `group`.

use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const GROUP_SPEC: Spec = Spec {
    name: "group",
    file_common: false,
    traits: &[],
    args: &[
        "name",
        "gid",
        "state",
        "system",
        "local",
        "non_unique",
        "force",
        "gid_min",
        "gid_max",
    ],
    required: &["name"],
};

pub(super) async fn run_group(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let name = args::str_req(a, &["name"], "group")?;
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "present".into());
    let gid = args::str_opt(a, &["gid"]);
    let non_unique = args::bool_opt(a, &["non_unique"])?.unwrap_or(false);
    if args::bool_opt(a, &["local"])?.unwrap_or(false) {
        for k in ["gid_min", "gid_max"] {
            if a.get(k).is_some_and(|v| !matches!(v, Value::Null)) {
                return Err(fail(format!("'{k}' can not be used with 'local'")));
            }
        }
    }
    if non_unique && gid.is_none() {
        return Err(fail(
            "non_unique is True but all of the following are missing: gid",
        ));
    }
    let q = sh_quote(&name);
    let exists_in_sim = cx.check() && cx.sim.groups.contains(&name);
    let out = cx
        .probe
        .exec(&format!("getent group {q} | cut -d: -f3"), None)
        .await?;
    let current = Some(out.stdout_str().trim().to_string())
        .filter(|s| !s.is_empty())
        .or(exists_in_sim.then(String::new));
    let mut o = Outcome::default();
    o.result.insert("name".into(), Value::str(name.clone()));
    o.result.insert("state".into(), Value::str(state.clone()));
    let current_gid = current.clone().unwrap_or_default();
    match (state.as_str(), current) {
        ("present", None) => {
            o.changed = true;
            let mut cmd = "groupadd".to_string();
            if let Some(g) = &gid {
                cmd.push_str(&format!(" -g {}", sh_quote(g)));
            }
            if args::bool_opt(a, &["system"])?.unwrap_or(false) {
                cmd.push_str(" -r");
            }
            if non_unique {
                cmd.push_str(" -o");
            }
            for (arg, key) in [("gid_min", "GID_MIN"), ("gid_max", "GID_MAX")] {
                if let Some(v) = args::str_opt(a, &[arg]) {
                    cmd.push_str(&format!(" -K {key}={}", sh_quote(&v)));
                }
            }
            if let Some(w) = &cx.writer {
                super::remote::change(w, &format!("{cmd} {q}")).await?;
            } else {
                cx.sim.groups.insert(name.clone());
            }
        }
        ("present", Some(cur)) => {
            if let Some(g) = gid.filter(|g| *g != cur && !cur.is_empty()) {
                o.changed = true;
                o.diffs.push(Diff::attrs(
                    &name,
                    &[("gid", Value::str(cur))],
                    &[("gid", Value::str(g.clone()))],
                ));
                if let Some(w) = &cx.writer {
                    let o = if non_unique { " -o" } else { "" };
                    super::remote::change(w, &format!("groupmod -g {}{o} {q}", sh_quote(&g)))
                        .await?;
                }
            }
        }
        ("absent", Some(_)) => {
            o.changed = true;
            if let Some(w) = &cx.writer {
                let force = if args::bool_opt(a, &["force"])?.unwrap_or(false) {
                    "-f "
                } else {
                    ""
                };
                super::remote::change(w, &format!("groupdel {force}{q}")).await?;
            }
        }
        ("absent", None) => {}
        (other, _) => {
            return Err(fail(format!(
                "value of state must be one of: absent, present, got: {other}"
            )));
        }
    }
    if state == "present" {
        o.result.insert(
            "system".into(),
            Value::Bool(args::bool_opt(a, &["system"])?.unwrap_or(false)),
        );
        // The gid the group has now (Ansible reads it back after the change).
        let now = match (&cx.writer, o.changed) {
            (Some(_), true) => cx
                .probe
                .exec(&format!("getent group {q} | cut -d: -f3"), None)
                .await?
                .stdout_str()
                .trim()
                .to_string(),
            _ => current_gid.clone(),
        };
        if let Ok(g) = now.parse::<i64>() {
            o.result.insert("gid".into(), Value::Int(g));
        }
    }
    Ok(o)
}
