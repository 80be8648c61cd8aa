//! `file`: directories, files, links (swapped atomically), absent, touch; owner,
//! group, mode (numeric or symbolic), recurse.

use super::attrs::{Attrs, changes, mode_str};
use super::remote::{Kind, Stat, parent, stat};
use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

mod link;
mod times;

use link::link;
use times::{set_times, times, touch};

pub(super) const SPEC: Spec = Spec {
    name: "file",
    file_common: true,
    traits: &[],
    args: &[
        "path",
        "dest",
        "name",
        "state",
        "src",
        "recurse",
        "follow",
        "force",
        "modification_time",
        "access_time",
        "modification_time_format",
        "access_time_format",
        "_diff_peek",
        "_original_basename",
    ],
    required: &["path|dest|name"],
};

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let path = args::str_req(a, &["path", "dest", "name"], "file")?;
    let path = path.trim_end_matches('/').to_string();
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let attrs = Attrs::from_args(a)?;
    let follow = args::bool_opt(a, &["follow"])?.unwrap_or(true);
    let force = args::bool_opt(a, &["force"])?.unwrap_or(false);
    let recurse = args::bool_opt(a, &["recurse"])?.unwrap_or(false);
    let src = args::str_opt(a, &["src"]);
    let st = stat(cx, &path, false, false).await?;
    // Ansible's default state: what the path is now, else a directory to recurse into,
    // else a file.
    let state = match args::str_opt(a, &["state"]) {
        Some(s) => s,
        None if st.exists && st.kind == Kind::Dir => "directory".into(),
        None if st.exists && st.kind == Kind::Link => "link".into(),
        None if st.exists => "file".into(),
        None if recurse => "directory".into(),
        None => "file".into(),
    };
    if src.is_some() && !["link", "hard"].contains(&state.as_str()) {
        return Err(fail("src option requires state to be 'link' or 'hard'"));
    }
    if recurse && state != "directory" {
        return Err(fail("recurse option requires state to be 'directory'"));
    }
    // Check mode warns of an owner or group the host lacks (a task before may create it).
    let warnings = if cx.check() && state != "absent" {
        lookup_warnings(cx, &attrs).await?
    } else {
        Vec::new()
    };
    let mut out = match state.as_str() {
        "absent" => absent(cx, &path, &st).await?,
        "directory" => directory(cx, &path, &st, &attrs, recurse, follow).await?,
        "file" => {
            let mut o = existing_file(cx, &path, &st, &attrs, follow).await?;
            if o.failed {
                add_warnings(&mut o, &warnings);
                return Ok(o);
            }
            set_times(cx, &path, &times(a)?, &mut o).await?;
            o
        }
        "touch" => touch(cx, &path, &st, &attrs, &times(a)?).await?,
        "link" | "hard" => {
            let mut o = link(
                cx,
                &path,
                &st,
                &attrs,
                src.as_deref(),
                state == "hard",
                force,
            )
            .await?;
            // With `follow` (the default) a symlink's mode is its target's, as Ansible
            // sets it through the link.
            if follow && state == "link" && attrs.mode.is_some() {
                let target = stat(cx, &path, true, false).await?;
                if target.exists && target.kind != Kind::Link {
                    let only_mode = Attrs {
                        mode: attrs.mode.clone(),
                        ..Attrs::default()
                    };
                    let (before, after, script) = attr_script(&path, &target, &only_mode, true)?;
                    if !script.is_empty() {
                        o.changed = true;
                        o.diffs.push(Diff::attrs(&path, &before, &after));
                        apply(cx, &script).await?;
                    }
                }
            }
            o
        }
        other => {
            return Err(fail(format!(
                "value of state must be one of: absent, directory, file, hard, link, touch, got: {other}"
            )));
        }
    };
    add_warnings(&mut out, &warnings);
    let want = match state.as_str() {
        "touch" => "file",
        other => other,
    };
    // Unchanged, the first stat is the final state (unless a link is to be followed).
    let unchanged = (!out.changed && st.kind != Kind::Link).then_some(&st);
    let keys =
        super::remote::final_keys(cx, &path, want, state == "file" && follow, unchanged).await?;
    // Ansible names the path `dest` for touch and links (with the link's `src`).
    match state.as_str() {
        "touch" => {
            out.result.insert("dest".into(), Value::str(path));
        }
        "link" | "hard" => {
            out.result.insert("dest".into(), Value::str(path));
            if let Some(s) = src.clone().or_else(|| st.link_target.clone()) {
                out.result.insert("src".into(), Value::str(s));
            }
        }
        _ => {
            out.result.insert("path".into(), Value::str(path));
        }
    }
    for (k, v) in keys {
        out.result.insert(k, v);
    }
    Ok(out)
}

/// Runs a change outside check mode; in check mode there is no writer to run it with.
async fn apply(cx: &Cx<'_>, script: &str) -> Result<(), TaskError> {
    if let Some(w) = &cx.writer {
        super::remote::change(w, script).await?;
    }
    Ok(())
}

/// Attributes as the diff shows them, in order.
type Attributes = Vec<(&'static str, Value)>;

/// Ansible's check-mode warnings for an owner or group not on the host, by name or id.
async fn lookup_warnings(cx: &Cx<'_>, attrs: &Attrs) -> Result<Vec<String>, TaskError> {
    let mut out = Vec::new();
    for (db, value, word) in [
        ("passwd", &attrs.owner, "user"),
        ("group", &attrs.group, "group"),
    ] {
        let Some(v) = value else { continue };
        let found = cx
            .probe
            .exec(
                &format!("getent {db} {} >/dev/null", sh_quote(v)),
                cx.read_become(),
            )
            .await?
            .ok();
        if !found {
            let what = if v.parse::<u32>().is_ok() {
                format!(
                    "{word} with {} {v}",
                    if word == "user" { "uid" } else { "gid" }
                )
            } else {
                format!("{word} {v}")
            };
            out.push(format!(
                "failed to look up {what}. Create {word} up to this point in real play"
            ));
        }
    }
    Ok(out)
}

fn add_warnings(out: &mut Outcome, warnings: &[String]) {
    if !warnings.is_empty() {
        out.result.insert(
            "warnings".into(),
            Value::List(warnings.iter().map(|w| Value::str(w.clone())).collect()),
        );
    }
}

/// The attribute commands for `path`, joined.
fn attr_script(
    path: &str,
    st: &Stat,
    attrs: &Attrs,
    follow: bool,
) -> Result<(Attributes, Attributes, String), TaskError> {
    let c = changes(st, attrs, path, follow)?;
    let script = c.commands.join(" && ");
    Ok((c.before, c.after, script))
}

/// What a directory about to be removed holds, as Ansible's diff lists it: `os.walk`
/// order (each directory's subdirectories, then its files, then each subdirectory).
async fn path_content(cx: &Cx<'_>, path: &str) -> Result<Value, TaskError> {
    let out = cx
        .probe
        .exec(
            &format!(
                "find {} -mindepth 1 -printf '%Y\\t%h\\t%f\\n'",
                sh_quote(path)
            ),
            cx.read_become(),
        )
        .await?;
    let mut by_parent: indexmap::IndexMap<String, Vec<(bool, String)>> =
        indexmap::IndexMap::default();
    for line in out.stdout_str().lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(kind), Some(parent), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        by_parent
            .entry(parent.to_string())
            .or_default()
            .push((kind == "d", format!("{parent}/{name}")));
    }
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    let mut stack = vec![path.trim_end_matches('/').to_string()];
    while let Some(dir) = stack.pop() {
        let entries = by_parent.get(&dir).cloned().unwrap_or_default();
        let subdirs: Vec<String> = entries
            .iter()
            .filter(|e| e.0)
            .map(|e| e.1.clone())
            .collect();
        dirs.extend(subdirs.iter().cloned().map(Value::Str));
        files.extend(
            entries
                .iter()
                .filter(|e| !e.0)
                .map(|e| Value::Str(e.1.clone())),
        );
        // Symlinked directories are listed, not entered: find, like os.walk, does not
        // follow them, so they have no entries of their own.
        stack.extend(subdirs.into_iter().rev());
    }
    let mut m = Map::default();
    m.insert("directories".into(), Value::List(dirs));
    m.insert("files".into(), Value::List(files));
    Ok(Value::Map(m))
}

async fn absent(cx: &mut Cx<'_>, path: &str, st: &Stat) -> Result<Outcome, TaskError> {
    if !st.exists {
        return Ok(Outcome::changed(false));
    }
    let mut out = Outcome::changed(true);
    let mut before = vec![("state", Value::str(st.state()))];
    if st.kind == Kind::Dir && cx.diff {
        before.push(("path_content", path_content(cx, path).await?));
    }
    out.diffs.push(Diff::attrs(
        path,
        &before,
        &[("state", Value::str("absent"))],
    ));
    apply(cx, &format!("rm -rf -- {}", sh_quote(path))).await?;
    cx.sim.removed(path);
    Ok(out)
}

async fn directory(
    cx: &mut Cx<'_>,
    path: &str,
    st: &Stat,
    attrs: &Attrs,
    recurse: bool,
    follow: bool,
) -> Result<Outcome, TaskError> {
    if st.exists && st.kind != Kind::Dir && !(st.kind == Kind::Link) {
        return Err(fail(format!("{path} already exists as a {}", st.state())));
    }
    if !st.exists {
        // Create each missing component, each with the asked attributes (as Ansible).
        let mut missing = vec![path.to_string()];
        let mut p = parent(path).to_string();
        while p != "/" && p != "." {
            let s = stat(cx, &p, true, false).await?;
            if s.exists {
                if s.kind != Kind::Dir {
                    return Err(fail(format!("{p} exists and is not a directory")));
                }
                break;
            }
            missing.push(p.clone());
            p = parent(&p).to_string();
        }
        missing.reverse();
        let mut script = Vec::new();
        // The mode each created directory is given, as the last one's shows in the diff.
        let mut mode_change: Option<(Value, Value)> = None;
        for dir in &missing {
            script.push(format!("mkdir -- {}", sh_quote(dir)));
            let fresh = Stat {
                exists: true,
                kind: Kind::Dir,
                mode: 0o755,
                owner: "?".into(),
                group: "?".into(),
                uid: u32::MAX,
                gid: u32::MAX,
                ..Stat::absent(dir)
            };
            let (before, after, attrs_cmd) = attr_script(dir, &fresh, attrs, true)?;
            let mode = |a: &Attributes| a.iter().find(|(k, _)| *k == "mode").map(|kv| kv.1.clone());
            if let (Some(b), Some(a)) = (mode(&before), mode(&after)) {
                mode_change = Some((b, a));
            }
            if !attrs_cmd.is_empty() {
                script.push(attrs_cmd);
            }
            cx.sim.dirs.insert(dir.clone());
        }
        // Ansible's check mode returns before creating anything: the diff is the state
        // alone. A run adds what setting the attributes changed on the new directory.
        let mut before = vec![("state", Value::str("absent"))];
        let mut after = vec![("state", Value::str("directory"))];
        if !cx.check() {
            if let Some((b, a)) = mode_change {
                before.push(("mode", b));
                after.push(("mode", a));
            }
            if let Some(o) = &attrs.owner {
                after.push(("owner", Value::str(o.clone())));
            }
            if let Some(g) = &attrs.group {
                after.push(("group", Value::str(g.clone())));
            }
        }
        let mut out = Outcome::changed(true);
        out.diffs.push(Diff::attrs(path, &before, &after));
        apply(cx, &script.join(" && ")).await?;
        return Ok(out);
    }
    let (before, after, script) = attr_script(path, st, attrs, true)?;
    let mut changed = !script.is_empty();
    let mut out = Outcome::default();
    if changed {
        out.diffs.push(Diff::attrs(path, &before, &after));
        apply(cx, &script).await?;
    }
    if recurse && !attrs.is_empty() {
        // With `follow` (the default) the walk goes through symlinks, and the changes
        // reach their targets, as Ansible's recursive_set_attributes does.
        let deref = if follow { "-L " } else { "" };
        // Anything below that differs: owner, group, or mode.
        let mut tests = Vec::new();
        if let Some(o) = &attrs.owner {
            tests.push(format!("! -user {}", sh_quote(o)));
        }
        if let Some(g) = &attrs.group {
            tests.push(format!("! -group {}", sh_quote(g)));
        }
        if let Some(super::Mode::Octal(m)) = &attrs.mode {
            tests.push(format!("! -perm {}", mode_str(*m)));
        }
        let mut differs = false;
        if !tests.is_empty() {
            let find = format!(
                "find {deref}{} -mindepth 1 \\( {} \\) -print -quit",
                sh_quote(path),
                tests.join(" -o ")
            );
            differs = !cx
                .probe
                .exec(&find, cx.read_become())
                .await?
                .stdout
                .is_empty();
        }
        // A symbolic mode changes what it changes: each entry's mode is worked out.
        if let (false, Some(m @ super::Mode::Symbolic(_))) = (differs, &attrs.mode) {
            let list = format!(
                "find {deref}{} -mindepth 1 -printf '%m %y\\n'",
                sh_quote(path)
            );
            let out = cx.probe.exec(&list, cx.read_become()).await?;
            for line in out.stdout_str().lines() {
                let (mode, kind) = line.split_once(' ').unwrap_or((line, ""));
                let Ok(current) = u32::from_str_radix(mode, 8) else {
                    continue;
                };
                if kind != "l" && m.resolve(current, kind == "d")? != current {
                    differs = true;
                    break;
                }
            }
        }
        if differs {
            changed = true;
            // With `follow`, find walks through the links (skipping dangling ones, as
            // Ansible does) and each command follows them; chmod has no -L of its own.
            let each = |command: String| {
                if follow {
                    format!(
                        "find -L {} ! -type l -exec {command} {{}} +",
                        sh_quote(path)
                    )
                } else {
                    format!("{command} -R {}", sh_quote(path))
                }
            };
            let mut cmds = Vec::new();
            match (&attrs.owner, &attrs.group) {
                (Some(o), Some(g)) => {
                    cmds.push(each(format!("chown {}:{}", sh_quote(o), sh_quote(g))));
                }
                (Some(o), None) => cmds.push(each(format!("chown {}", sh_quote(o)))),
                (None, Some(g)) => cmds.push(each(format!("chgrp {}", sh_quote(g)))),
                _ => {}
            }
            if let Some(m) = &attrs.mode {
                let spec = match m {
                    super::Mode::Octal(m) => mode_str(*m),
                    super::Mode::Symbolic(s) => s.clone(),
                };
                cmds.push(each(format!("chmod {}", sh_quote(&spec))));
            }
            apply(cx, &cmds.join(" && ")).await?;
        }
    }
    out.changed = changed;
    Ok(out)
}

async fn existing_file(
    cx: &mut Cx<'_>,
    path: &str,
    st: &Stat,
    attrs: &Attrs,
    follow: bool,
) -> Result<Outcome, TaskError> {
    // Ansible's failure names the path and its state beside the message.
    let conflict = |state: &str| {
        let mut o = Outcome {
            failed: true,
            msg: Some(format!("file ({path}) is {state}, cannot continue")),
            ..Default::default()
        };
        o.result.insert("path".into(), Value::str(path));
        o.result.insert("state".into(), Value::str(state));
        o
    };
    if !st.exists {
        return Ok(conflict("absent"));
    }
    let st = if st.kind == Kind::Link && follow {
        stat(cx, path, true, false).await?
    } else {
        st.clone()
    };
    // Anything but a file (or a hard link to one) is a conflict, as in Ansible; a file
    // an earlier task would write counts as one in check mode.
    let conflicting = match st.kind {
        Kind::Dir => Some("directory"),
        Kind::Link => Some("link"),
        _ if !st.exists => Some("absent"),
        _ => None,
    };
    if let Some(state) = conflicting.filter(|_| !(cx.check() && cx.sim.files.contains_key(path))) {
        return Ok(conflict(state));
    }
    let (before, after, script) = attr_script(path, &st, attrs, follow)?;
    let mut out = Outcome::changed(!script.is_empty());
    if out.changed {
        out.diffs.push(Diff::attrs(path, &before, &after));
        apply(cx, &script).await?;
        if cx.check()
            && let Some(content) = cx.sim.files.get(path).cloned()
        {
            cx.sim.wrote(path, content, attrs, Some(&st));
        }
    }
    Ok(out)
}
