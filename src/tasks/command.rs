//! `command` and `shell`: always "changed" when they run; `creates`/`removes` make them
//! idempotent and let check mode predict them; otherwise check mode skips them, as
//! Ansible does.

use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const COMMAND_SPEC: Spec = Spec {
    name: "command",
    file_common: false,
    traits: &[],
    args: &[
        "_raw_params",
        "cmd",
        "argv",
        "chdir",
        "creates",
        "removes",
        "stdin",
        "stdin_add_newline",
        "strip_empty_ends",
        "expand_argument_vars",
        "warn",
        "executable",
    ],
    required: &["_raw_params|cmd|argv"],
};

pub(super) const SHELL_SPEC: Spec = Spec {
    name: "shell",
    file_common: false,
    traits: &[],
    args: &[
        "_raw_params",
        "cmd",
        "chdir",
        "creates",
        "removes",
        "stdin",
        "stdin_add_newline",
        "strip_empty_ends",
        "executable",
        "warn",
    ],
    required: &["_raw_params|cmd"],
};

/// Whether a path (a glob) exists on the host.
async fn exists(cx: &Cx<'_>, pattern: &str) -> Result<bool, TaskError> {
    let script = format!(
        "for f in {}; do [ -e \"$f\" ] || [ -L \"$f\" ] && exit 0; done; exit 1",
        glob_words(pattern)
    );
    Ok(cx.probe.exec(&script, cx.read_become()).await?.ok())
}

/// A path for a `for` list: globs expand, everything else is quoted.
fn glob_words(p: &str) -> String {
    if p.contains(['*', '?', '[']) {
        p.split('/')
            .map(|seg| {
                if seg.contains(['*', '?', '[']) {
                    seg.to_string()
                } else {
                    sh_quote(seg)
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    } else {
        sh_quote(p)
    }
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>, shell: bool) -> Result<Outcome, TaskError> {
    let module = if shell { "shell" } else { "command" };
    let given = ["_raw_params", "cmd", "argv"]
        .iter()
        .filter(|k| a.get(**k).is_some_and(|v| !matches!(v, Value::Null)))
        .count();
    if given > 1 {
        return Err(fail(
            "parameters are mutually exclusive: _raw_params|cmd|argv",
        ));
    }
    let expand = args::bool_opt(a, &["expand_argument_vars"])?.unwrap_or(true);
    let (script, cmd_value) = if let Some(Value::List(argv)) = a.get("argv") {
        let words: Vec<String> = argv.iter().map(Value::py_str).collect();
        (
            words
                .iter()
                .map(|w| argument(w, expand))
                .collect::<Vec<_>>()
                .join(" "),
            Value::List(words.into_iter().map(Value::Str).collect()),
        )
    } else {
        let text = args::str_opt(a, &["_raw_params", "cmd"])
            .ok_or_else(|| fail(format!("no command given to {module}")))?;
        if shell {
            let exe = args::str_opt(a, &["executable"]);
            let script = match exe {
                Some(exe) => format!("{} -c {}", sh_quote(&exe), sh_quote(&text)),
                None => text.clone(),
            };
            (script, Value::str(text))
        } else {
            let words = crate::inventory::split_words(&text);
            (
                words
                    .iter()
                    .map(|w| argument(w, expand))
                    .collect::<Vec<_>>()
                    .join(" "),
                Value::List(words.into_iter().map(Value::Str).collect()),
            )
        }
    };
    let mut out = Outcome::default();
    out.result.insert("cmd".into(), cmd_value);
    if let Some(exe) = args::str_opt(a, &["executable"]).filter(|_| !shell) {
        out.result.insert(
            "warnings".into(),
            Value::List(vec![Value::str(format!("As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '{exe}'."))]),
        );
    }
    // Ansible's result keys before the command runs (start, end and delta unset).
    let unrun = |out: &mut Outcome| {
        for k in ["start", "end", "delta"] {
            out.result.insert(k.into(), Value::Null);
        }
    };
    let shoulda = if cx.check() { "Would" } else { "Did" };
    let skip = |out: &mut Outcome, why: String| {
        unrun(out);
        out.result.insert("rc".into(), Value::Int(0));
        out.result
            .insert("stdout".into(), Value::str(format!("skipped, since {why}")));
        out.result.insert(
            "stdout_lines".into(),
            Value::List(vec![Value::str(format!("skipped, since {why}"))]),
        );
        out.result.insert("stderr".into(), Value::str(""));
        out.result
            .insert("stderr_lines".into(), Value::List(Vec::new()));
        out.msg = Some(format!(
            "{shoulda} not run command since '{}'",
            why.replace(" exists", "' exists")
                .replace(" does not exist", "' does not exist")
                .trim_end_matches('\'')
        ));
    };
    let creates = args::str_opt(a, &["creates"]);
    let removes = args::str_opt(a, &["removes"]);
    if let Some(c) = &creates
        && (exists(cx, c).await? || cx.check() && cx.sim.files.contains_key(c))
    {
        skip(&mut out, format!("{c} exists"));
        out.msg = Some(format!("{shoulda} not run command since '{c}' exists"));
        return Ok(out);
    }
    if let Some(r) = &removes
        && !exists(cx, r).await?
    {
        skip(&mut out, format!("{r} does not exist"));
        out.msg = Some(format!(
            "{shoulda} not run command since '{r}' does not exist"
        ));
        return Ok(out);
    }
    let Some(w) = &cx.writer else {
        out.msg = Some("Command would have run if not in check mode".into());
        unrun(&mut out);
        out.result.insert("rc".into(), Value::Int(0));
        for k in ["stdout", "stderr"] {
            out.result.insert(k.into(), Value::str(""));
        }
        for k in ["stdout_lines", "stderr_lines"] {
            out.result.insert(k.into(), Value::List(Vec::new()));
        }
        if creates.is_none() && removes.is_none() {
            out.skipped = true;
        } else {
            out.changed = true;
        }
        return Ok(out);
    };
    let chdir = args::str_opt(a, &["chdir"]);
    let env = cx.env_prefix();
    let full = match &chdir {
        Some(d) => format!(
            "{env}cd -P -- {} 2>/dev/null || {{ printf {NO_CHDIR}; exit 1; }}; {script}",
            sh_quote(d)
        ),
        None => format!("{env}{script}"),
    };
    if let Some(jid) = &cx.background {
        let cmd = out.result.get("cmd").cloned().unwrap_or(Value::Null);
        return super::async_status::start_detached(cx, jid, &full, cmd).await;
    }
    let stdin = args::str_opt(a, &["stdin"]).map(|s| {
        let add = !matches!(a.get("stdin_add_newline"), Some(Value::Bool(false)));
        if add { format!("{s}\n") } else { s }
    });
    let start = now();
    let res = w
        .exec_with_stdin(&full, stdin.as_deref().map(str::as_bytes))
        .await?;
    let end = now();
    if let Some(d) = chdir
        .as_ref()
        .filter(|_| !res.ok() && res.stdout == NO_CHDIR.as_bytes())
    {
        return Err(fail(format!(
            "Unable to change directory before execution: [Errno 2] No such file or directory: '{d}'"
        )));
    }
    let strip = !matches!(a.get("strip_empty_ends"), Some(Value::Bool(false)));
    let clean = |b: &[u8]| {
        let s = String::from_utf8_lossy(b).into_owned();
        if strip {
            s.trim_end_matches(['\n', '\r']).to_string()
        } else {
            s
        }
    };
    let (stdout, stderr) = (clean(&res.stdout), clean(&res.stderr));
    // `command` execs its program itself: one that cannot run is Python's OSError in
    // Ansible (nothing ran, nothing changed), not the shell's 127 or 126.
    if !shell
        && stdout.is_empty()
        && !stderr.contains('\n')
        && (stderr.starts_with("/bin/sh: 1: ") || stderr.starts_with("sh: 1: "))
        && let Some(errno) = match res.status {
            Some(127) if stderr.ends_with(": not found") => Some(2),
            Some(126) if stderr.ends_with(": Permission denied") => Some(13),
            _ => None,
        }
    {
        let program = match a.get("argv") {
            Some(Value::List(argv)) => argv.first().map(Value::py_str),
            _ => args::str_opt(a, &["_raw_params", "cmd"])
                .and_then(|t| crate::inventory::split_words(&t).into_iter().next()),
        }
        .unwrap_or_default();
        if let Some(text) = args::str_opt(a, &["_raw_params", "cmd"]) {
            out.result.insert("cmd".into(), Value::str(text));
        }
        let why = if errno == 2 {
            "No such file or directory"
        } else {
            "Permission denied"
        };
        out.result.insert(
            crate::tasks::ERROR_DETAIL.into(),
            Value::str(format!(
                "Error executing command: [Errno {errno}] {why}: b{}",
                Value::str(program).py_repr()
            )),
        );
        out.failed = true;
        out.msg = Some("Error executing command.".into());
        out.result.insert("rc".into(), Value::Int(errno));
        for k in ["stdout", "stderr"] {
            out.result.insert(k.into(), Value::str(""));
            out.result
                .insert(format!("{k}_lines"), Value::List(Vec::new()));
        }
        return Ok(out);
    }
    out.changed = true;
    output_keys(&mut out.result, res.rc(), stdout, stderr);
    out.result.insert("start".into(), Value::str(start.0));
    out.result.insert("end".into(), Value::str(end.0));
    out.result
        .insert("delta".into(), Value::str(delta(end.1 - start.1)));
    if res.ok() {
        out.msg = Some(String::new());
    } else {
        out.failed = true;
        out.msg = Some("non-zero return code".into());
    }
    Ok(out)
}

/// One argument of `command` as a shell word. With `expand` (Ansible's
/// `expand_argument_vars`, on by default) `$NAME`, `${NAME}` and a leading `~` are
/// expanded on the host as Python's expandvars and expanduser do: set variables only,
/// an unset one stays as written; nothing else is interpreted.
fn argument(word: &str, expand: bool) -> String {
    if !expand || (!word.contains('$') && !word.starts_with('~')) {
        return sh_quote(word);
    }
    let mut out = String::new();
    let mut rest = word;
    if let Some(after) = rest.strip_prefix('~') {
        let end = after.find('/').unwrap_or(after.len());
        let user = &after[..end];
        if user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            out.push('~');
            out.push_str(user);
            rest = &after[end..];
        }
    }
    let name = |s: &str| {
        s.char_indices()
            .take_while(|(i, c)| {
                c.is_ascii_alphabetic() || *c == '_' || (*i > 0 && c.is_ascii_digit())
            })
            .count()
    };
    let mut literal = String::new();
    let flush = |out: &mut String, literal: &mut String| {
        if !literal.is_empty() {
            out.push_str(&sh_quote(literal));
            literal.clear();
        }
    };
    while let Some(i) = rest.find('$') {
        literal.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix('{')
            && let Some(close) = inner.find('}')
            && close > 0
            && name(&inner[..close]) == close
        {
            flush(&mut out, &mut literal);
            let n = &inner[..close];
            out.push_str(&format!("\"${{{n}-\\${{{n}\\}}}}\""));
            rest = &inner[close + 1..];
        } else if name(after) > 0 {
            flush(&mut out, &mut literal);
            let n = &after[..name(after)];
            out.push_str(&format!("\"${{{n}-\\${n}}}\""));
            rest = &after[n.len()..];
        } else {
            literal.push('$');
            rest = after;
        }
    }
    literal.push_str(rest);
    flush(&mut out, &mut literal);
    if out.is_empty() { sh_quote(word) } else { out }
}

/// What the command script prints when its `chdir` does not exist.
const NO_CHDIR: &str = "__tprov_no_chdir__";

fn now() -> (String, f64) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let secs = t as i64;
    let micros = ((t - secs as f64) * 1e6) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil(days);
    (
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06}",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        ),
        t,
    )
}

/// A command's `rc`, `stdout`, `stderr` and their `_lines`, as Ansible's result has them.
pub(super) fn output_keys(result: &mut Map, rc: i64, stdout: String, stderr: String) {
    result.insert("rc".into(), Value::Int(rc));
    result.insert(
        "stdout_lines".into(),
        Value::List(stdout.lines().map(Value::from).collect()),
    );
    result.insert(
        "stderr_lines".into(),
        Value::List(stderr.lines().map(Value::from).collect()),
    );
    result.insert("stdout".into(), Value::str(stdout));
    result.insert("stderr".into(), Value::str(stderr));
}

/// A `start`/`end` time as the command result prints it, in seconds.
pub(super) fn parse_time(t: &str) -> Option<f64> {
    let dt = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let utc = dt.and_utc();
    Some(utc.timestamp() as f64 + f64::from(utc.timestamp_subsec_micros()) / 1e6)
}

pub(super) fn delta(s: f64) -> String {
    let total = s.max(0.0);
    let secs = total as i64;
    let micros = ((total - secs as f64) * 1e6) as i64;
    format!(
        "{}:{:02}:{:02}.{micros:06}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a civil date.
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
