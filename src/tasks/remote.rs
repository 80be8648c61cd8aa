//! Reading a host's state: one shell round trip per question, run as the task's user.

use super::{Cx, TaskError, Writer, fail};
use crate::transport::sh_quote;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Link,
    Other,
}

/// What `stat` found at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stat {
    pub path: String,
    pub exists: bool,
    pub kind: Kind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub link_target: Option<String>,
    pub sha1: Option<String>,
}

impl Stat {
    pub(crate) fn absent(path: &str) -> Stat {
        Stat {
            path: path.to_string(),
            exists: false,
            kind: Kind::Other,
            mode: 0,
            owner: String::new(),
            group: String::new(),
            uid: 0,
            gid: 0,
            size: 0,
            link_target: None,
            sha1: None,
        }
    }

    /// Ansible's `state` for the file module.
    pub(crate) fn state(&self) -> &'static str {
        match (self.exists, self.kind) {
            (false, _) => "absent",
            (true, Kind::File) => "file",
            (true, Kind::Dir) => "directory",
            (true, Kind::Link) => "link",
            (true, Kind::Other) => "file",
        }
    }
}

/// The shell snippet that prints a path's state (`stat_script` output is parsed by
/// `parse_stat`).
pub(super) fn stat_script(path: &str, follow: bool, checksum: bool) -> String {
    format!(
        "p={p}; if [ ! -e \"$p\" ] && [ ! -L \"$p\" ]; then echo absent; exit 0; fi; \
         stat {l} -c '%F|%a|%U|%G|%u|%g|%s' -- \"$p\" || exit 1; \
         if [ -L \"$p\" ]; then printf 'link=%s\\n' \"$(readlink -- \"$p\")\"; fi; \
         {sum}",
        p = sh_quote(path),
        l = if follow { "-L" } else { "" },
        sum = if checksum {
            "if [ -f \"$p\" ] && [ -r \"$p\" ]; then printf 'sha1=%s\\n' \"$(sha1sum < \"$p\" | cut -c1-40)\"; fi"
        } else {
            ":"
        },
    )
}

pub(super) fn parse_stat(path: &str, out: &str) -> Result<Stat, TaskError> {
    let mut lines = out.lines();
    let first = lines.next().unwrap_or_default();
    if first == "absent" {
        return Ok(Stat::absent(path));
    }
    let f: Vec<&str> = first.split('|').collect();
    if f.len() != 7 {
        return Err(fail(format!("cannot read the state of {path}: {out}")));
    }
    let kind = match f[0] {
        "directory" => Kind::Dir,
        "symbolic link" => Kind::Link,
        "regular file" | "regular empty file" => Kind::File,
        _ => Kind::Other,
    };
    let mut st = Stat {
        path: path.to_string(),
        exists: true,
        kind,
        mode: u32::from_str_radix(f[1], 8).unwrap_or(0),
        owner: f[2].to_string(),
        group: f[3].to_string(),
        uid: f[4].parse().unwrap_or(0),
        gid: f[5].parse().unwrap_or(0),
        size: f[6].parse().unwrap_or(0),
        link_target: None,
        sha1: None,
    };
    for l in lines {
        if let Some(t) = l.strip_prefix("link=") {
            st.link_target = Some(t.to_string());
        } else if let Some(s) = l.strip_prefix("sha1=") {
            st.sha1 = Some(s.to_string());
        }
    }
    Ok(st)
}

/// Stats a path on the host, as the task's user.
pub(super) async fn stat(
    cx: &Cx<'_>,
    path: &str,
    follow: bool,
    checksum: bool,
) -> Result<Stat, TaskError> {
    if cx.check() && cx.sim.dirs.contains(path) {
        let mut s = Stat::absent(path);
        s.exists = true;
        s.kind = Kind::Dir;
        return Ok(s);
    }
    if let Some(content) = cx.check().then(|| cx.sim.files.get(path)).flatten() {
        let (mode, owner, group) =
            cx.sim
                .attrs
                .get(path)
                .cloned()
                .unwrap_or((0o644, "root".into(), "root".into()));
        return Ok(Stat {
            path: path.to_string(),
            exists: true,
            kind: Kind::File,
            mode,
            owner,
            group,
            uid: u32::MAX,
            gid: u32::MAX,
            size: content.len() as u64,
            link_target: None,
            sha1: Some(sha1_hex(content)),
        });
    }
    let out = query(
        cx,
        &stat_script(path, follow, checksum),
        &format!("stat {path}"),
    )
    .await?;
    parse_stat(path, &out.stdout_str())
}

/// The keys Ansible's file, copy and template results carry about the path as the task
/// left it (`state`, `mode`, `owner`, `group`, `uid`, `gid`, `size`); in check mode, the
/// state the task would leave (`want`) without asking the host again. `unchanged` is
/// the path's state when the task changed nothing (no second round trip for it).
pub(super) async fn final_keys(
    cx: &Cx<'_>,
    path: &str,
    want: &str,
    follow: bool,
    unchanged: Option<&Stat>,
) -> Result<crate::value::Map, TaskError> {
    use crate::value::Value;
    let mut m = crate::value::Map::default();
    if cx.check() {
        m.insert("state".into(), Value::str(want));
        return Ok(m);
    }
    let fresh;
    let st = if let Some(st) = unchanged {
        st
    } else {
        fresh = stat(cx, path, follow, false).await?;
        &fresh
    };
    let state = match st.kind {
        _ if !st.exists => "absent",
        Kind::Link => "link",
        Kind::Dir => "directory",
        _ if want == "hard" => "hard",
        _ => "file",
    };
    m.insert("state".into(), Value::str(state));
    if st.exists {
        m.insert("mode".into(), Value::str(super::attrs::mode_str(st.mode)));
        m.insert("owner".into(), Value::str(st.owner.clone()));
        m.insert("group".into(), Value::str(st.group.clone()));
        m.insert("uid".into(), Value::Int(i64::from(st.uid)));
        m.insert("gid".into(), Value::Int(i64::from(st.gid)));
        m.insert("size".into(), Value::Int(st.size as i64));
    }
    Ok(m)
}

/// A file's bytes, or `None` when it does not exist.
pub(super) async fn read(cx: &Cx<'_>, path: &str) -> Result<Option<Vec<u8>>, TaskError> {
    if let Some(content) = cx.check().then(|| cx.sim.files.get(path)).flatten() {
        return Ok(Some(content.clone()));
    }
    let script = format!(
        "p={}; if [ -e \"$p\" ]; then echo present; cat -- \"$p\"; else echo absent; fi",
        sh_quote(path)
    );
    let out = cx.probe.exec(&script, cx.read_become()).await?;
    if !out.ok() {
        return Err(fail(format!(
            "cannot read {path}: {}",
            out.stderr_str().trim()
        )));
    }
    let mut data = out.stdout;
    if data.starts_with(b"present\n") {
        data.drain(..b"present\n".len());
        Ok(Some(data))
    } else {
        Ok(None)
    }
}

/// Runs a command that only reads the host (as the reading user, see `read_become`);
/// its failure fails the task with "cannot WHAT: stderr".
pub(super) async fn query(
    cx: &Cx<'_>,
    script: &str,
    what: &str,
) -> Result<crate::transport::ExecOutput, TaskError> {
    let out = cx.probe.exec(script, cx.read_become()).await?;
    if !out.ok() {
        return Err(fail(format!("cannot {what}: {}", out.stderr_str().trim())));
    }
    Ok(out)
}

/// Whether `curl ARGS` (a URL, and options such as `--unix-socket PATH`) gets a 2xx/3xx
/// answer within `timeout` seconds, asked on the host as `escalate` (None: the login user).
pub(super) async fn http_ok(
    cx: &Cx<'_>,
    escalate: Option<&crate::transport::Become>,
    curl_args: &str,
    timeout: u64,
) -> Result<bool, TaskError> {
    let check = format!(
        "i=0; while [ $i -lt {n} ]; do curl -fsS -m 2 -o /dev/null {curl_args} && exit 0; i=$((i+1)); sleep 0.5; done; exit 1",
        n = timeout * 2,
    );
    Ok(cx.probe.exec(&check, escalate).await?.ok())
}

/// Runs a command that changes the host (so only with a writer: never in check mode);
/// its failure fails the task.
pub(super) async fn change(
    w: &Writer<'_>,
    script: &str,
) -> Result<crate::transport::ExecOutput, TaskError> {
    changed_ok(w.exec(script).await?)
}

/// A changing command's output, its failure the task's failure: the last lines of
/// stderr, else of stdout (where tools say what went wrong).
pub(super) fn changed_ok(
    out: crate::transport::ExecOutput,
) -> Result<crate::transport::ExecOutput, TaskError> {
    if !out.ok() {
        // The last lines of stderr, else of stdout: where tools say what went wrong.
        let err = out.stderr_str();
        let text = if err.trim().is_empty() {
            out.stdout_str()
        } else {
            err
        };
        let lines: Vec<&str> = text.trim().lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        return Err(fail(if tail.is_empty() {
            format!("command failed with status {}", out.rc())
        } else {
            tail
        }));
    }
    Ok(out)
}

/// The result of a command run for its effect (`raw`, `script`): changed, with its rc,
/// output and output lines, failed on a non-zero status.
pub(super) fn ran(out: &crate::transport::ExecOutput) -> super::Outcome {
    use crate::value::Value;
    let (stdout, stderr) = (out.stdout_str(), out.stderr_str());
    let lines = |s: &str| Value::List(s.lines().map(Value::from).collect());
    let mut o = super::Outcome::changed(true);
    o.result.insert("rc".into(), Value::Int(out.rc()));
    o.result.insert("stdout_lines".into(), lines(&stdout));
    o.result.insert("stderr_lines".into(), lines(&stderr));
    o.result.insert("stdout".into(), Value::str(stdout));
    o.result.insert("stderr".into(), Value::str(stderr));
    if !out.ok() {
        o.failed = true;
        o.msg = Some("non-zero return code".into());
    }
    o
}

pub(super) fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The permission bits Ansible's stat and find results name, with their mode bit.
pub(super) const PERMISSION_BITS: &[(&str, u32)] = &[
    ("wusr", 0o200),
    ("rusr", 0o400),
    ("xusr", 0o100),
    ("wgrp", 0o020),
    ("rgrp", 0o040),
    ("xgrp", 0o010),
    ("woth", 0o002),
    ("roth", 0o004),
    ("xoth", 0o001),
    ("isuid", 0o4000),
    ("isgid", 0o2000),
];

/// The directory part of a path.
pub(super) fn parent(path: &str) -> &str {
    match path.trim_end_matches('/').rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// `$VAR`, `${VAR}` and a leading `~` in these paths expanded on the host, as Ansible's
/// `path` argument type does (the host's home and environment, as the task's user): one
/// round trip, and none when no path needs it.
pub(super) async fn expand_paths(cx: &Cx<'_>, paths: &mut [&mut String]) -> Result<(), TaskError> {
    let needs = |p: &str| p.contains('$') || p.starts_with('~');
    if !paths.iter().any(|p| needs(p)) {
        return Ok(());
    }
    let mut names = Vec::new();
    let re = regex::Regex::new(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
        .map_err(|e| fail(e.to_string()))?;
    for path in paths.iter() {
        for c in re.captures_iter(path) {
            if let Some(m) = c.get(1).or_else(|| c.get(2)) {
                names.push(m.as_str().to_string());
            }
        }
    }
    let script = format!(
        "printf '%s\\n' ~; for v in {}; do if printenv \"$v\" >/dev/null; then printf '%s=%s\\n' \"$v\" \"$(printenv \"$v\")\"; fi; done",
        names.join(" ")
    );
    let out = query(cx, &script, "expand the path's variables").await?;
    let text = out.stdout_str();
    let mut lines = text.lines();
    let home = lines.next().unwrap_or_default().to_string();
    let env: std::collections::HashMap<&str, &str> =
        lines.filter_map(|l| l.split_once('=')).collect();
    for path in paths.iter_mut() {
        // expanduser first, then expandvars; unset variables stay as written, as in
        // Python's os.path.
        let user = match path.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
            _ => (*path).clone(),
        };
        let expanded = re.replace_all(&user, |c: &regex::Captures<'_>| {
            let name = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
            match env.get(name) {
                Some(v) => (*v).to_string(),
                None => c[0].to_string(),
            }
        });
        **path = expanded.into_owned();
    }
    Ok(())
}
