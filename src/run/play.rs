//! What a play is set up from: its vars, `serial:` batches, host pattern and tags.

use crate::context::Fleet;
use crate::error::Error;
use crate::inventory::{HostId, Inventory, pattern};
use crate::playbook::Play;
use crate::template::engine;
use crate::value::Value;
use crate::vars::{Var, Vars};
use std::sync::Arc;

/// Why no play selected a host, and what to do: the groups the limited hosts are in, and
/// `--adopt` when a play targets a group they are outside of (seed 000's migration step).
pub(super) fn no_hosts_message(
    inv: &Inventory,
    patterns: &[String],
    limit: Option<&[String]>,
) -> String {
    let mut msg = format!(
        "no play selected any host: the plays target '{}'",
        patterns.join("', '")
    );
    let Some(limit) = limit else {
        msg.push_str(", which selects no host of the inventory");
        return msg;
    };
    let limit_text = limit.join(",");
    let hosts = pattern::select(inv, "all", Some(limit)).map_or_else(|_| Vec::new(), |s| s.hosts);
    if hosts.is_empty() {
        msg.push_str(&format!(" and --limit '{limit_text}' selects no host"));
        return msg;
    }
    msg.push_str(&format!(
        ", and --limit '{limit_text}' selects only hosts outside them:"
    ));
    for &h in hosts.iter().take(10) {
        let groups = inv.group_names(h);
        msg.push_str(&format!(
            "\n  {} is in {}",
            inv.host(h).name,
            if groups.is_empty() {
                "no group".to_string()
            } else {
                groups.join(", ")
            }
        ));
    }
    if hosts.len() > 10 {
        msg.push_str(&format!("\n  ... and {} more", hosts.len() - 10));
    }
    if let Some(group) = patterns.iter().find(|p| inv.group_id(p).is_some()) {
        msg.push_str(&format!(
            "\nTo deploy {group}'s service onto a host the inventory still lists in another group (seed 000's migration step, before the inventory move), run with -g {group} --limit {limit_text} --adopt: the host then runs as a member of {group}, with its vars."
        ));
    }
    msg
}

/// A play's vars: the global ones, each host's own where a `vars_files` name needs
/// host vars to be templated, and the warnings to show.
pub(super) struct PlayVars {
    pub all: Vars,
    pub per_host: std::collections::HashMap<HostId, Arc<Vars>>,
    pub warnings: Vec<String>,
}

/// Play vars, then each `vars_files` file (templated names, found under the play's
/// `vars/` directory or beside it), then the public roles' exported vars. A name that
/// needs a host's vars (`vars/{{ foo }}.yml` with `foo` from the inventory) is
/// templated for each host, as Ansible does; one that stays undefined is skipped with
/// Ansible's warning.
pub(super) fn play_vars(
    play: &Play,
    base: &Arc<Fleet>,
    hosts: &[HostId],
) -> Result<PlayVars, Error> {
    let mut warnings = Vec::new();
    let (all, needs_host) = files_vars(play, base, None, &mut warnings)?;
    let mut per_host = std::collections::HashMap::new();
    if needs_host {
        warnings.clear();
        for &h in hosts {
            let (vars, _) = files_vars(play, base, Some(h), &mut warnings)?;
            per_host.insert(h, Arc::new(vars));
        }
        let mut seen = std::collections::HashSet::new();
        warnings.retain(|w| seen.insert(w.clone()));
    }
    Ok(PlayVars {
        all,
        per_host,
        warnings,
    })
}

/// The play's vars with its vars_files read, templated with `host`'s vars when given;
/// whether a name needed vars the play alone does not have.
fn files_vars(
    play: &Play,
    base: &Arc<Fleet>,
    host: Option<HostId>,
    warnings: &mut Vec<String>,
) -> Result<(Vars, bool), Error> {
    let mut vars = play.vars.clone();
    let mut needs_host = false;
    let host_frames = match host {
        Some(h) => base
            .scope(h)
            .map_err(|d| Error::User(vec![d]))?
            .frames()
            .iter()
            .skip(1)
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    for (names, origin) in &play.vars_files {
        let mut frames = vec![
            crate::template::Frame::Raw(base.extra.clone()),
            crate::template::Frame::Raw(Arc::new(vars.clone())),
        ];
        frames.extend(host_frames.iter().cloned());
        let scope = crate::template::Scope::new(engine(), frames, None);
        let mut found = None;
        let mut tried = Vec::new();
        let mut undefined = false;
        for name in names {
            let file = match engine().render_str(name, &scope, Some(origin.clone())) {
                Ok(f) => f,
                Err(e) if e.message.contains("is undefined") => {
                    undefined = true;
                    break;
                }
                Err(e) => {
                    return Err(Error::User(vec![crate::source::Diagnostic::error(
                        origin.clone(),
                        e.message,
                    )]));
                }
            };
            // Ansible's path_dwim_relative_stack: the play's vars/ first, then beside it.
            let path = std::path::Path::new(&file);
            let mut candidates = Vec::new();
            if path.is_absolute() {
                candidates.push(path.to_path_buf());
            } else {
                if !file.starts_with("vars/") {
                    candidates.push(play.dir.join("vars").join(&file));
                }
                candidates.push(play.dir.join(&file));
            }
            if let Some(p) = candidates.iter().find(|p| p.is_file()) {
                found = Some(p.clone());
                break;
            }
            tried.extend(candidates);
        }
        if undefined {
            needs_host = needs_host || host.is_none();
            if host.is_some() {
                warnings.push(format!(
                    "{origin}: skipping vars_files item due to an undefined variable"
                ));
            }
            continue;
        }
        // Ansible 2.19 goes on without a vars file it cannot find; tprov says so.
        let Some(path) = found else {
            warnings.push(format!(
                "{origin}: vars file {} was not found (looked for {}): skipped, as Ansible does",
                names.join(", "),
                tried
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        };
        let (loaded, _) = crate::vars::load_play_vars_file(&path)?;
        for (k, v) in loaded {
            vars.insert(
                k,
                Var {
                    value: v.value,
                    origin: v.origin,
                },
            );
        }
    }
    // The public roles' vars, above vars_files (Ansible's "exported vars").
    crate::vars::merge_into(&mut vars, &play.exported_vars);
    Ok((vars, needs_host))
}

/// `serial:` batches: ints, percentages, or a list whose last entry repeats.
pub(super) fn batches(hosts: &[HostId], serial: &[Value]) -> Vec<Vec<HostId>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let n = hosts.len();
    let size = |v: &Value| -> usize {
        let s = match v {
            Value::Int(i) => *i,
            Value::Str(s) if s.ends_with('%') => {
                let pct: f64 = s.trim_end_matches('%').trim().parse().unwrap_or(100.0);
                ((pct / 100.0) * n as f64) as i64
            }
            Value::Str(s) => s.trim().parse().unwrap_or(0),
            _ => 0,
        };
        if s <= 0 {
            if matches!(v, Value::Str(x) if x.ends_with('%')) {
                1
            } else {
                n
            }
        } else {
            s as usize
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < hosts.len() {
        let s = size(&serial[k.min(serial.len() - 1)]).max(1);
        out.push(hosts[i..(i + s).min(hosts.len())].to_vec());
        i += s;
        k += 1;
    }
    out
}

/// Whether a task with these tags runs under `--tags ONLY` and `--skip-tags SKIP`, as
/// Ansible's `Taggable.evaluate_tags` decides (`always`, `never`, `tagged`, `untagged`,
/// `all`; no tags is `untagged`).
pub(crate) fn tags_allow(tags: &[String], only: &[String], skip: &[String]) -> bool {
    let untagged = [String::from("untagged")];
    let tags: &[String] = if tags.is_empty() { &untagged } else { tags };
    let has = |t: &str| tags.iter().any(|x| x == t);
    let is_untagged = tags == untagged;
    let all = [String::from("all")];
    let only: &[String] = if only.is_empty() { &all } else { only };
    let mut run = has("always")
        || (only.iter().any(|t| t == "all") && !has("never"))
        || only.iter().any(|t| has(t))
        || (only.iter().any(|t| t == "tagged") && !is_untagged && !has("never"));
    if run && !skip.is_empty() {
        if skip.iter().any(|t| t == "all") {
            if !has("always") || skip.iter().any(|t| t == "always") {
                run = false;
            }
        } else if skip.iter().any(|t| has(t))
            || (skip.iter().any(|t| t == "tagged") && !is_untagged)
        {
            run = false;
        }
    }
    run
}

/// A play's host pattern, templated with the extra and play vars (`"{{ hostGroup }}"`).
pub(crate) fn play_pattern(play: &Play, extra: &Vars) -> Result<String, Error> {
    let scope = play_scope(play, extra);
    engine()
        .render_str(&play.hosts, &scope, Some(play.origin.clone()))
        .map_err(|e| {
            Error::User(vec![crate::source::Diagnostic::error(
                play.origin.clone(),
                e.message,
            )])
        })
}

/// The extra and play vars, for what is templated per play (host patterns, tags).
fn play_scope(play: &Play, extra: &Vars) -> Arc<crate::template::Scope> {
    let mut frame = extra.clone();
    for (k, v) in &play.vars {
        frame.entry(k.clone()).or_insert_with(|| v.clone());
    }
    crate::template::Scope::new(
        engine(),
        vec![crate::template::Frame::Raw(Arc::new(frame))],
        None,
    )
}

/// Tags with templates in them rendered with the play's vars (`tags: "{{ the_tags }}"`),
/// a list or a comma-separated string becoming several; one that cannot be rendered
/// stays as written.
pub(crate) fn render_tags(tags: &[String], play: &Play, extra: &Vars) -> Vec<String> {
    if !tags
        .iter()
        .any(|t| crate::template::is_possibly_template(t))
    {
        return tags.to_vec();
    }
    let scope = play_scope(play, extra);
    let mut out = Vec::new();
    for t in tags {
        if !crate::template::is_possibly_template(t) {
            out.push(t.clone());
            continue;
        }
        match engine().template_to_value(&Value::str(t.clone()), &scope, None) {
            Ok(Value::List(l)) => out.extend(l.iter().map(Value::py_str)),
            Ok(v) => out.extend(
                v.py_str()
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            ),
            Err(_) => out.push(t.clone()),
        }
    }
    out
}
