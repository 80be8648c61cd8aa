//! `file`: directories, files, links (swapped atomically), absent, touch; owner,
//! group, mode (numeric or symbolic), recurse.

use super::attrs::{Attrs, changes, mode_str};
use super::remote::{Kind, Stat, parent, stat};
use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "file",
    args: &[
        "path",
        "dest",
        "name",
        "state",
        "owner",
        "group",
        "mode",
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
        "unsafe_writes",
        "attributes",
        "seuser",
        "serole",
        "setype",
        "selevel",
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
            let (_, _, attrs_cmd) = attr_script(dir, &fresh, attrs, true)?;
            if !attrs_cmd.is_empty() {
                script.push(attrs_cmd);
            }
            cx.sim.dirs.insert(dir.clone());
        }
        let mut after = vec![("state", Value::str("directory"))];
        if let Some(m) = &attrs.mode {
            after.push(("mode", Value::str(mode_str(m.resolve(0o755, true)?))));
        }
        if let Some(o) = &attrs.owner {
            after.push(("owner", Value::str(o.clone())));
        }
        if let Some(g) = &attrs.group {
            after.push(("group", Value::str(g.clone())));
        }
        let mut out = Outcome::changed(true);
        out.diffs.push(Diff::attrs(
            path,
            &[("state", Value::str("absent"))],
            &after,
        ));
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

/// `modification_time`/`access_time` on an existing path (state `file`): only the
/// given ones, changed when they differ (now always differs).
async fn set_times(
    cx: &mut Cx<'_>,
    path: &str,
    (mtime, atime): &(Time, Time),
    out: &mut Outcome,
) -> Result<(), TaskError> {
    let wanted = [("mtime", "-m", *mtime), ("atime", "-a", *atime)];
    if wanted
        .iter()
        .all(|(_, _, t)| matches!(t, Time::Default | Time::Preserve))
    {
        return Ok(());
    }
    let q = sh_quote(path);
    let o = cx
        .probe
        .exec(&format!("stat -L -c '%Y %X' -- {q}"), cx.read_become())
        .await?;
    let text = o.stdout_str();
    let mut have = text
        .split_whitespace()
        .map(|n| n.parse::<i64>().unwrap_or(0));
    let have = [have.next().unwrap_or(0), have.next().unwrap_or(0)];
    let now = chrono::Utc::now().timestamp();
    let (mut before, mut after, mut cmds) = (Vec::new(), Vec::new(), Vec::new());
    for ((name, flag, t), old) in wanted.iter().zip(have) {
        let new = match t {
            Time::At(secs) => *secs,
            Time::Now => now,
            _ => continue,
        };
        if new != old || *t == Time::Now {
            before.push((*name, Value::Float(old as f64)));
            after.push((*name, Value::Float(new as f64)));
            cmds.push(match t {
                Time::At(secs) => format!("touch {flag} -d @{secs} -- {q}"),
                _ => format!("touch {flag} -- {q}"),
            });
        }
    }
    if !cmds.is_empty() {
        out.changed = true;
        out.diffs.push(Diff::attrs(path, &before, &after));
        apply(cx, &cmds.join(" && ")).await?;
    }
    Ok(())
}

/// A time `touch` sets: now, the one it has (`preserve`), or a given one (epoch seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Time {
    /// Not given: now for `touch`, kept otherwise.
    Default,
    Now,
    Preserve,
    At(i64),
}

/// `modification_time` and `access_time` (with their `_format`, Python's strptime,
/// default `%Y%m%d%H%M.%S`), read as local time as Ansible's `time.mktime` does.
fn times(a: &Map) -> Result<(Time, Time), TaskError> {
    let one = |key: &str, fmt_key: &str| -> Result<Time, TaskError> {
        match args::str_opt(a, &[key]).as_deref() {
            None => Ok(Time::Default),
            Some("now") => Ok(Time::Now),
            Some("preserve") => Ok(Time::Preserve),
            Some(v) => {
                let fmt = args::str_opt(a, &[fmt_key]).unwrap_or_else(|| "%Y%m%d%H%M.%S".into());
                let naive = chrono::NaiveDateTime::parse_from_str(v, &fmt).map_err(|_| {
                    fail(format!(
                        "Error while obtaining timestamp for time {v} using format {fmt}"
                    ))
                })?;
                use chrono::TimeZone;
                chrono::Local
                    .from_local_datetime(&naive)
                    .earliest()
                    .map(|t| Time::At(t.timestamp()))
                    .ok_or_else(|| fail(format!("{v} is not a local time")))
            }
        }
    };
    Ok((
        one("modification_time", "modification_time_format")?,
        one("access_time", "access_time_format")?,
    ))
}

async fn touch(
    cx: &mut Cx<'_>,
    path: &str,
    st: &Stat,
    attrs: &Attrs,
    times: &(Time, Time),
) -> Result<Outcome, TaskError> {
    let now = |t: Time| if t == Time::Default { Time::Now } else { t };
    let (mtime, atime) = &(now(times.0), now(times.1));
    let (before, after, script) = attr_script(path, st, attrs, true)?;
    // Both times kept on an existing path: only its attributes may change.
    if st.exists && *mtime == Time::Preserve && *atime == Time::Preserve {
        let mut out = Outcome::changed(!script.is_empty());
        if out.changed {
            out.diffs.push(Diff::attrs(path, &before, &after));
            apply(cx, &script).await?;
        }
        return Ok(out);
    }
    let mut out = Outcome::changed(true);
    let b = if st.exists {
        before
    } else {
        vec![("state", Value::str("absent"))]
    };
    let mut a = after;
    a.push(("state", Value::str("touch")));
    // Ansible's check mode reports a file it would create without a diff.
    if st.exists || !cx.check() {
        out.diffs.push(Diff::attrs(path, &b, &a));
    }
    let q = sh_quote(path);
    let mut cmd = if let (Time::Now, Time::Now) = (mtime, atime) {
        format!("touch -- {q}")
    } else {
        // Create first if need be, then set each time that is not kept.
        let mut c = format!("{{ [ -e {q} ] || touch -- {q}; }}");
        for (flag, t) in [("-m", mtime), ("-a", atime)] {
            match t {
                Time::Preserve | Time::Default => {}
                Time::Now => c.push_str(&format!(" && touch {flag} -- {q}")),
                Time::At(secs) => c.push_str(&format!(" && touch {flag} -d @{secs} -- {q}")),
            }
        }
        c
    };
    if !script.is_empty() {
        cmd = if st.exists {
            format!("{cmd} && {script}")
        } else {
            // A file created here whose owner or mode cannot be set is removed again,
            // as Ansible's file module does.
            format!("{cmd} && {{ {script} || {{ rc=$?; rm -f -- {q}; exit $rc; }}; }}")
        };
    }
    apply(cx, &cmd).await?;
    cx.sim.files.entry(path.to_string()).or_default();
    Ok(out)
}

async fn link(
    cx: &mut Cx<'_>,
    path: &str,
    st: &Stat,
    attrs: &Attrs,
    src: Option<&str>,
    hard: bool,
    force: bool,
) -> Result<Outcome, TaskError> {
    // Without `src`, an existing symlink keeps its target (Ansible reads it back) and
    // only its attributes change.
    let src = match (src, &st.link_target) {
        (Some(s), _) => s,
        (None, Some(t)) if !hard && st.kind == Kind::Link => t.as_str(),
        (None, _) => {
            return Err(fail(if hard {
                "src is required for creating new hardlinks"
            } else {
                "src is required for creating new symlinks"
            }));
        }
    };
    if hard {
        let want = stat(cx, src, true, false).await?;
        if !want.exists {
            return Ok(Outcome {
                failed: true,
                msg: Some("src does not exist".into()),
                ..Outcome::default()
            }
            .with("dest", Value::str(path))
            .with("src", Value::str(src)));
        }
        if st.exists
            && st.kind == Kind::File
            && want.exists
            && want.uid == st.uid
            && want.size == st.size
            && st.link_target.is_none()
        {
            let same = cx
                .probe
                .exec(
                    &format!("[ {} -ef {} ]", sh_quote(src), sh_quote(path)),
                    cx.read_become(),
                )
                .await?;
            if same.ok() {
                return Ok(Outcome::changed(false));
            }
        }
        let mut out = Outcome::changed(true);
        out.diffs.push(Diff::attrs(
            path,
            &[("state", Value::str(st.state()))],
            &[("state", Value::str("hard"))],
        ));
        apply(
            cx,
            &format!("ln -f -- {} {}", sh_quote(src), sh_quote(path)),
        )
        .await?;
        return Ok(out);
    }
    let mut out = Outcome::default();
    if st.exists && st.kind == Kind::Link && st.link_target.as_deref() == Some(src) {
        let (before, after, script) = attr_script(path, st, attrs, false)?;
        if !script.is_empty() {
            out.changed = true;
            out.diffs.push(Diff::attrs(path, &before, &after));
            apply(cx, &script).await?;
        }
        return Ok(out);
    }
    if st.exists && st.kind != Kind::Link && !force {
        return Err(fail(format!(
            "refusing to convert from {} to symlink for {path}",
            st.state()
        )));
    }
    // Even forced, a directory with anything in it is never replaced by a link.
    if st.exists && st.kind == Kind::Dir {
        let empty = cx
            .probe
            .exec(
                &format!("[ -z \"$(ls -A -- {})\" ]", sh_quote(path)),
                cx.read_become(),
            )
            .await?;
        if !empty.ok() {
            return Err(fail(format!(
                "the directory {path} is not empty, refusing to convert it"
            )));
        }
    }
    if !force {
        // Like Ansible: the target must exist (relative targets from the link's dir),
        // or exist once earlier tasks have run (check mode).
        let abs = if src.starts_with('/') {
            src.to_string()
        } else {
            format!("{}/{src}", parent(path))
        };
        let predicted =
            cx.check() && (cx.sim.dirs.contains(&abs) || cx.sim.files.contains_key(&abs));
        if !predicted && !stat(cx, &abs, true, false).await?.exists {
            return Err(fail(format!(
                "src file does not exist, use 'force=yes' if you really want to create the link: {abs}"
            )));
        }
    }
    out.changed = true;
    let before = match &st.link_target {
        Some(t) => vec![("src", Value::str(t.clone()))],
        None => vec![("state", Value::str(st.state()))],
    };
    // Ansible names the target only when a link changes target.
    let after = if st.link_target.is_some() {
        vec![("src", Value::str(src))]
    } else {
        vec![("state", Value::str("link"))]
    };
    out.diffs.push(Diff::attrs(path, &before, &after));
    // A new link beside the old one, renamed over it: never a moment without a link.
    let tmp = crate::transport::temp_beside(path);
    let fresh = Stat {
        exists: true,
        kind: Kind::Link,
        owner: "?".into(),
        group: "?".into(),
        uid: u32::MAX,
        gid: u32::MAX,
        ..Stat::absent(path)
    };
    let (_, _, attrs_cmd) = attr_script(&tmp, &fresh, attrs, false)?;
    let mut script = format!("ln -s -- {} {t}", sh_quote(src), t = sh_quote(&tmp));
    if !attrs_cmd.is_empty() {
        script.push_str(&format!(" && {attrs_cmd}"));
    }
    if st.exists && st.kind == Kind::Dir {
        script = format!("rmdir -- {} && {script}", sh_quote(path));
    }
    script.push_str(&format!(
        " && mv -Tf -- {} {}",
        sh_quote(&tmp),
        sh_quote(path)
    ));
    apply(cx, &script).await?;
    Ok(out)
}
