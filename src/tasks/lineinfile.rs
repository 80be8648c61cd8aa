//! `lineinfile` and `blockinfile`, with Ansible's rules for where a line goes.

use super::attrs::{Attrs, changes};
use super::remote::{Kind, Stat, read, stat};
use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::value::{Map, Value};
use std::borrow::Cow;

pub(super) const SPEC: Spec = Spec {
    name: "lineinfile",
    file_common: true,
    traits: &[],
    args: &[
        "path",
        "dest",
        "destfile",
        "name",
        "line",
        "value",
        "regexp",
        "regex",
        "search_string",
        "state",
        "insertafter",
        "insertbefore",
        "create",
        "backup",
        "backrefs",
        "firstmatch",
        "validate",
        "others",
    ],
    required: &["path|dest|destfile|name"],
};

pub(super) const BLOCK_SPEC: Spec = Spec {
    name: "blockinfile",
    file_common: true,
    traits: &[],
    args: &[
        "path",
        "dest",
        "destfile",
        "name",
        "block",
        "content",
        "marker",
        "marker_begin",
        "marker_end",
        "state",
        "insertafter",
        "insertbefore",
        "create",
        "backup",
        "validate",
        "append_newline",
        "prepend_newline",
    ],
    required: &["path|dest|destfile|name"],
};

/// A line as Python's `re.search` sees it for `$`: Python's `$` also matches just before
/// a final newline, the regex crate's only at the very end, so the newline goes.
fn py_line(l: &str) -> &str {
    l.strip_suffix('\n').unwrap_or(l)
}

/// A pattern with Python's `re` features the regex crate lacks (backreferences such as
/// `^(REF) .* \1$`, lookaround), through fancy-regex; a match that hits its backtracking
/// limit counts as no match.
struct Regex(fancy_regex::Regex);

impl Regex {
    fn is_match(&self, s: &str) -> bool {
        self.0.is_match(s).unwrap_or(false)
    }

    fn captures<'t>(&self, s: &'t str) -> Option<fancy_regex::Captures<'t, str>> {
        self.0.captures(s).ok().flatten()
    }
}

fn regex(p: &str) -> Result<Regex, TaskError> {
    fancy_regex::Regex::new(p)
        .map(Regex)
        .map_err(|e| fail(format!("invalid regular expression {p:?}: {e}")))
}

/// Splits into lines that keep their line ending (Python's `readlines`).
/// Lines borrow the file's text; only those a task changes are copied (a 4M-line file
/// would otherwise cost 4M allocations).
fn lines(text: &str) -> Vec<Cow<'_, str>> {
    let mut out = Vec::with_capacity(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1);
    out.extend(text.split_inclusive('\n').map(Cow::Borrowed));
    out
}

/// Bytes as text for a diff, without a copy when they are UTF-8.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

pub(super) struct Target {
    pub path: String,
    pub st: Stat,
    pub before: Vec<u8>,
}

pub(super) async fn load(cx: &Cx<'_>, path: &str, create: bool) -> Result<Target, TaskError> {
    let st = stat(cx, path, true, false).await?;
    if !st.exists {
        if !create {
            return Err(fail(format!("Destination {path} does not exist !")));
        }
        return Ok(Target {
            path: path.to_string(),
            st,
            before: Vec::new(),
        });
    }
    if st.kind == Kind::Dir {
        return Err(fail(format!("Path {path} is a directory !")));
    }
    let before = read(cx, path).await?.unwrap_or_default();
    Ok(Target {
        path: path.to_string(),
        st,
        before,
    })
}

pub(super) async fn finish(
    cx: &mut Cx<'_>,
    a: &Map,
    t: Target,
    after: Vec<u8>,
    msg: String,
) -> Result<Outcome, TaskError> {
    let attrs = Attrs::from_args(a)?;
    let mut out = Outcome::default();
    let content_changed = after != t.before || !t.st.exists;
    if content_changed {
        out.changed = true;
        out.msg = Some(msg);
        if let Some(w) = &cx.writer {
            // `backup: yes`: a timestamped copy beside the file before it changes.
            if t.st.exists && args::bool_opt(a, &["backup"])?.unwrap_or(false) {
                let q = crate::transport::sh_quote(&t.path);
                let o = super::remote::change(
                    w,
                    &format!(
                        "b={q}.$$.$(date +%Y-%m-%d@%H:%M:%S~); cp -p -- {q} \"$b\" && echo \"$b\""
                    ),
                )
                .await?;
                out.result.insert(
                    "backup_file".into(),
                    Value::str(o.stdout_str().trim().to_string()),
                );
            }
            // `create: yes` makes the missing directories too, as Ansible's os.makedirs.
            if !t.st.exists {
                let dir = super::remote::parent(&t.path);
                super::remote::change(
                    w,
                    &format!(
                        "[ -d {d} ] || mkdir -p {d}",
                        d = crate::transport::sh_quote(dir)
                    ),
                )
                .await?;
            }
            super::copy::write(
                cx,
                w,
                &t.path,
                &after,
                &attrs,
                &t.st,
                args::str_opt(a, &["validate"]).as_deref(),
            )
            .await?;
        } else {
            cx.sim.wrote(&t.path, after.clone(), &attrs, Some(&t.st));
        }
        // The contents move into the diff: a large file is not copied twice more.
        out.diffs.push(Diff {
            before_header: Some(format!("{} (content)", t.path)),
            after_header: Some(format!("{} (content)", t.path)),
            before: text(t.before),
            after: text(after),
        });
    } else if t.st.exists {
        let c = changes(&t.st, &attrs, &t.path, true)?;
        if c.changed() {
            out.changed = true;
            out.msg = Some("ownership, perms or SE linux context changed".into());
            out.diffs.push(Diff::attrs(&t.path, &c.before, &c.after));
            if let Some(w) = &cx.writer {
                super::remote::change(w, &c.commands.join(" && ")).await?;
            }
        }
    }
    out.result.insert("path".into(), Value::str(t.path));
    if out.msg.is_none() {
        out.msg = Some(String::new());
    }
    Ok(out)
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let path = args::str_req(a, &["path", "dest", "destfile", "name"], "lineinfile")?;
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "present".into());
    let re = args::str_opt(a, &["regexp", "regex"])
        .map(|r| regex(&r))
        .transpose()?;
    let search = args::str_opt(a, &["search_string"]);
    let create = args::bool_opt(a, &["create"])?.unwrap_or(false);
    let t = load(cx, &path, create && state == "present").await?;
    let src = String::from_utf8_lossy(&t.before);
    let mut lines = lines(&src);
    let empty = match (a.get("regexp").or(a.get("regex")), a.get("search_string")) {
        (Some(Value::Str(r)), _) if r.is_empty() => Some((
            "regular expression",
            " If this is desired, use '^' to match every line in the file and avoid this warning.",
        )),
        (_, Some(Value::Str(s))) if s.is_empty() => Some(("search string", "")),
        _ => None,
    };
    let matches_line = |l: &str, line: Option<&str>| -> bool {
        let bare = l.trim_end_matches(['\r', '\n']);
        match (&re, &search, line) {
            (Some(r), _, _) => r.is_match(py_line(l)),
            (None, Some(s), _) => l.contains(s.as_str()),
            (None, None, Some(line)) => bare == line,
            _ => false,
        }
    };
    if state == "absent" {
        let line = args::str_opt(a, &["line", "value"]);
        if re.is_none() && search.is_none() && line.is_none() {
            return Err(fail(
                "one of line, regexp or search_string is required with state=absent",
            ));
        }
        let n = lines.len();
        lines.retain(|l| !matches_line(l, line.as_deref()));
        let removed = n - lines.len();
        let after = lines.concat().into_bytes();
        drop(lines);
        let mut out = finish(cx, a, t, after, format!("{removed} line(s) removed")).await?;
        out.result
            .insert("found".into(), Value::Int(removed as i64));
        return Ok(out);
    }
    let line = args::str_opt(a, &["line", "value"])
        .ok_or_else(|| fail("line is required with state=present"))?;
    let backrefs = args::bool_opt(a, &["backrefs"])?.unwrap_or(false);
    let firstmatch = args::bool_opt(a, &["firstmatch"])?.unwrap_or(false);
    let insertafter = args::str_opt(a, &["insertafter"]);
    let insertbefore = args::str_opt(a, &["insertbefore"]);
    let ins_re = match (&insertafter, &insertbefore) {
        (Some(x), _) if x != "EOF" && x != "BOF" => Some(regex(x)?),
        (None, Some(x)) if x != "BOF" => Some(regex(x)?),
        _ => None,
    };
    let (mut found, mut ins_index): (Option<usize>, Option<usize>) = (None, None);
    let mut caps_line = None;
    if re.is_some() || search.is_some() {
        for (i, l) in lines.iter().enumerate() {
            if matches_line(l, None) {
                found = Some(i);
                if let Some(r) = &re {
                    caps_line = r.captures(py_line(l)).map(|c| {
                        let mut out = String::new();
                        c.expand(&crate::template::python_replacement(&line), &mut out);
                        out
                    });
                }
                if firstmatch {
                    break;
                }
            }
        }
    }
    let mut exact = false;
    if found.is_none() {
        for (i, l) in lines.iter().enumerate() {
            if l.trim_end_matches(['\r', '\n']) == line {
                found = Some(i);
                exact = true;
            } else if let Some(r) = &ins_re
                && r.is_match(py_line(l))
                && (!firstmatch || ins_index.is_none())
            {
                ins_index = Some(if insertafter.is_some() { i + 1 } else { i });
            }
        }
    }
    let _ = exact;
    let msg;
    if let Some(i) = found {
        let mut new_line = if backrefs {
            caps_line.unwrap_or_else(|| line.clone())
        } else {
            line.clone()
        };
        if !new_line.ends_with('\n') {
            new_line.push('\n');
        }
        if lines[i] == new_line {
            msg = String::new();
        } else {
            lines[i] = new_line.into();
            msg = "line replaced".to_string();
        }
    } else if backrefs {
        msg = String::new();
    } else if insertbefore.as_deref() == Some("BOF") || insertafter.as_deref() == Some("BOF") {
        lines.insert(0, format!("{line}\n").into());
        msg = "line added".into();
    } else if insertafter.as_deref() == Some("EOF") || ins_index.is_none() {
        if let Some(last) = lines.last_mut()
            && !last.ends_with('\n')
            && !last.ends_with('\r')
        {
            last.to_mut().push('\n');
        }
        lines.push(format!("{line}\n").into());
        msg = "line added".into();
    } else {
        let i = ins_index.unwrap_or(lines.len());
        if insertafter.is_some()
            && i > 0
            && i <= lines.len()
            && lines
                .get(i)
                .is_some_and(|l| l.trim_end_matches(['\r', '\n']) == line)
        {
            msg = String::new();
        } else {
            lines.insert(i.min(lines.len()), format!("{line}\n").into());
            msg = "line added".into();
        }
    }
    let after = lines.concat().into_bytes();
    drop(lines);
    let mut out = finish(cx, a, t, after, msg).await?;
    // lineinfile names its backup `backup` (blockinfile and replace: `backup_file`).
    let backup = out
        .result
        .shift_remove("backup_file")
        .unwrap_or_else(|| Value::str(""));
    out.result.insert("backup".into(), backup);
    if let Some((what, hint)) = empty {
        out.result.insert(
            "warnings".into(),
            Value::List(vec![Value::str(format!("The {what} is an empty string, which will match every line in the file. This may have unintended consequences, such as replacing the last line in the file rather than appending.{hint}"))]),
        );
    }
    Ok(out)
}

pub(super) async fn run_block(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let path = args::str_req(a, &["path", "dest", "destfile", "name"], "blockinfile")?;
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "present".into());
    let create = args::bool_opt(a, &["create"])?.unwrap_or(false);
    let marker =
        args::str_opt(a, &["marker"]).unwrap_or_else(|| "# {mark} ANSIBLE MANAGED BLOCK".into());
    let begin = marker.replace(
        "{mark}",
        &args::str_opt(a, &["marker_begin"]).unwrap_or_else(|| "BEGIN".into()),
    );
    let end = marker.replace(
        "{mark}",
        &args::str_opt(a, &["marker_end"]).unwrap_or_else(|| "END".into()),
    );
    let block = args::str_opt(a, &["block", "content"]).unwrap_or_default();
    let t = load(cx, &path, create && state == "present").await?;
    let src = String::from_utf8_lossy(&t.before);
    let mut lines = lines(&src);
    let present = state == "present";
    // Ansible's blockinfile, step for step: the last lines equal to the markers...
    let bare = |l: &str| l.trim_end_matches(['\r', '\n']).len();
    let b = lines.iter().rposition(|l| l[..bare(l)] == begin);
    let e = lines.iter().rposition(|l| l[..bare(l)] == end);
    let mut new_block: Vec<String> = Vec::new();
    if present && !block.is_empty() {
        new_block.push(format!("{begin}\n"));
        for l in block.trim_end_matches('\n').split('\n') {
            new_block.push(format!("{l}\n"));
        }
        new_block.push(format!("{end}\n"));
    }
    let at = if let (Some(b), Some(e)) = (b, e) {
        let (lo, hi) = if b < e { (b, e) } else { (e, b) };
        lines.drain(lo..=hi);
        lo
    } else {
        // ...else where insertafter/insertbefore put it: the last line a regex
        // matches, or with `(?m)` the first match in the whole file.
        let insertafter = args::str_opt(a, &["insertafter"]).filter(|x| x != "EOF");
        let insertbefore = args::str_opt(a, &["insertbefore"]).filter(|x| x != "BOF");
        let pattern = insertafter.as_ref().or(insertbefore.as_ref());
        match pattern {
            Some(p) => {
                let r = regex(p)?;
                let multiline = p.starts_with("(?")
                    && p[2..]
                        .chars()
                        .take_while(char::is_ascii_alphabetic)
                        .any(|c| c == 'm');
                let found = if multiline {
                    let text = lines.concat();
                    r.0.find(&text).ok().flatten().map(|m| {
                        let upto = if insertafter.is_some() {
                            m.end()
                        } else {
                            m.start()
                        };
                        text[..upto].matches('\n').count()
                    })
                } else {
                    lines.iter().rposition(|l| r.is_match(py_line(l)))
                };
                match found {
                    None => lines.len(),
                    Some(i) if insertafter.is_some() => i + 1,
                    Some(i) => i,
                }
            }
            None if args::str_opt(a, &["insertbefore"]).is_some() => 0,
            None => lines.len(),
        }
    };
    let mut at = at.min(lines.len());
    // A line separator before the block.
    if at > 0 && !lines[at - 1].ends_with('\n') {
        lines[at - 1].to_mut().push('\n');
    }
    if args::bool_opt(a, &["prepend_newline"])?.unwrap_or(false)
        && present
        && at != 0
        && lines[at - 1] != "\n"
    {
        lines.insert(at, "\n".into());
        at += 1;
    }
    let removing = new_block.is_empty();
    let after_block = at + new_block.len();
    let tail = lines.split_off(at);
    lines.extend(new_block.into_iter().map(Cow::Owned));
    lines.extend(tail);
    if args::bool_opt(a, &["append_newline"])?.unwrap_or(false)
        && present
        && after_block < lines.len()
        && lines[after_block] != "\n"
    {
        lines.insert(after_block, "\n".into());
    }
    let after = lines.concat().into_bytes();
    // Ansible's words: nothing changed, a new file, a block gone, a block put in.
    let msg = if !t.st.exists {
        "File created"
    } else if after == t.before {
        ""
    } else if removing {
        "Block removed"
    } else {
        "Block inserted"
    };
    finish(cx, a, t, after, msg.to_string()).await
}
