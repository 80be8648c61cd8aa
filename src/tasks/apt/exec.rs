//! Running apt-get as Ansible's apt module runs it, and its results.

use super::{ENV, ZERO};
use crate::tasks::{Cx, Outcome, TaskError, args};
use crate::value::{Map, Value};

pub(super) fn lines(s: &str) -> Value {
    Value::List(
        crate::python::strings::splitlines(s)
            .into_iter()
            .map(Value::str)
            .collect(),
    )
}

/// A command's result keys (`stdout`, `stderr` and their lines).
pub(super) fn with_output(mut out: Outcome, o: &crate::transport::ExecOutput) -> Outcome {
    let (so, se) = (o.stdout_str(), o.stderr_str());
    out.result.insert("stdout".into(), Value::str(so.clone()));
    out.result.insert("stderr".into(), Value::str(se.clone()));
    out.result.insert("stdout_lines".into(), lines(&so));
    out.result.insert("stderr_lines".into(), lines(&se));
    out
}

/// Ansible's parse_diff: what apt-get says it will do, between "Reading state
/// information..." and the "N upgraded" line (the result's `diff`, `{}` without
/// `--diff`).
pub(super) fn prepared(cx: &Cx<'_>, stdout: &str) -> Value {
    let mut m = Map::default();
    if !cx.diff {
        return Value::Map(m);
    }
    let lines = crate::python::strings::splitlines(stdout);
    let start = lines
        .iter()
        .position(|l| *l == "Resolving dependencies...")
        .or_else(|| {
            lines
                .iter()
                .position(|l| *l == "Reading state information...")
        })
        .map_or(0, |i| i + 1);
    let upgraded = regex::Regex::new(r"^[0-9]+ (packages )?upgraded").ok();
    let end = lines
        .iter()
        .position(|l| upgraded.as_ref().is_some_and(|r| r.is_match(l)))
        .map_or(lines.len(), |i| i + 1);
    let text = lines
        .get(start..end.max(start))
        .unwrap_or_default()
        .join("\n");
    m.insert("prepared".into(), Value::str(text));
    Value::Map(m)
}

pub(super) fn failed(msg: String, o: Option<&crate::transport::ExecOutput>) -> Outcome {
    let mut out = Outcome::failure(msg);
    if let Some(o) = o {
        out = with_output(out, o);
        out.result.insert("rc".into(), Value::Int(o.rc()));
    }
    out
}

/// Runs an apt-get command line: read-only (`--simulate`) through the probe in check
/// mode, else through the writer, with `policy_rc_d` in place for its length.
pub(super) async fn apt_get(
    cx: &Cx<'_>,
    cmd: &str,
    policy_rc_d: Option<i64>,
) -> Result<crate::transport::ExecOutput, TaskError> {
    let Some(w) = &cx.writer else {
        return Ok(cx
            .probe
            .exec(&format!("{ENV}{cmd}"), cx.escalate.as_ref())
            .await?);
    };
    let script = match policy_rc_d {
        Some(code) => format!(
            "{ENV}p=/usr/sbin/policy-rc.d; b=; if [ -e $p ]; then b=$(mktemp -d /tmp/ansibleXXXXXXXX) && mv $p \"$b/\"; fi; printf '#!/bin/sh\\nexit {code}\\n' > $p && chmod 0755 $p; {cmd}; rc=$?; rm -f $p; if [ -n \"$b\" ]; then mv \"$b/policy-rc.d\" $p && rmdir \"$b\"; fi; exit $rc"
        ),
        None => format!("{ENV}{cmd}"),
    };
    Ok(w.exec(&script).await?)
}

/// Ansible's upgrade(): `apt-get upgrade --with-new-pkgs` or `dist-upgrade`, changed
/// unless apt-get says nothing was to do.
pub(super) async fn upgrade(
    cx: &Cx<'_>,
    apt: &str,
    flags: &str,
    command: &str,
    release: &str,
    policy_rc_d: Option<i64>,
) -> Result<Outcome, TaskError> {
    let o = apt_get(
        cx,
        &format!("{apt} -y {flags} {command}{release}"),
        policy_rc_d,
    )
    .await?;
    if !o.ok() {
        let mut f = failed(
            format!("'{apt} {command}' failed: {}", o.stderr_str()),
            Some(&o),
        );
        f.result.shift_remove("stderr");
        f.result.shift_remove("stderr_lines");
        return Ok(f);
    }
    let so = o.stdout_str();
    let changed = !so.contains(ZERO);
    let mut out = with_output(Outcome::changed(changed), &o);
    if changed {
        out.result.insert("diff".into(), prepared(cx, &so));
    }
    out.msg = Some(so);
    Ok(out)
}

/// Ansible's expand_dpkg_options, and the lock wait.
pub(super) fn dpkg_options(a: &Map) -> Result<String, TaskError> {
    let opts =
        args::str_opt(a, &["dpkg_options"]).unwrap_or_else(|| "force-confdef,force-confold".into());
    let expanded: Vec<String> = opts
        .split(',')
        .map(|o| format!("-o \"Dpkg::Options::=--{o}\""))
        .collect();
    Ok(format!(
        "{} -o DPkg::Lock::Timeout={}",
        expanded.join(" "),
        args::int_or(a, "lock_timeout", 60)?
    ))
}
