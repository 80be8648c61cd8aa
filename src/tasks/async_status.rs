//! Async jobs (`async:` / `poll:`) and `async_status`. A `command` or `shell` task with
//! `poll: 0` starts as a job detached on the host, its output in
//! `~/.ansible_async/JID.*`; `async_status` reads those files back into the result
//! Ansible gives. Any other module that supports async runs to its end first, and its
//! result is kept here for `async_status` (a difference recorded in docs/decisions.md).

use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;

pub(super) const SPEC: Spec = Spec {
    name: "async_status",
    file_common: false,
    traits: &[],
    args: &["jid", "mode"],
    required: &["jid"],
};

/// What the run knows of a job it started.
enum Job {
    /// Detached on the host: the command it runs (for the result's `cmd`).
    Detached { cmd: Value },
    /// Run to its end before the task returned: its result.
    Done(Map),
}

static JOBS: Mutex<Option<HashMap<String, Job>>> = Mutex::new(None);

fn with_jobs<T>(f: impl FnOnce(&mut HashMap<String, Job>) -> T) -> T {
    let mut g = JOBS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(g.get_or_insert_with(HashMap::new))
}

/// A new job id, as Ansible makes them: `j` random digits `.` the process id.
pub(crate) fn new_jid() -> String {
    let mut b = [0u8; 8];
    let n = getrandom::fill(&mut b).map_or(0, |()| u64::from_le_bytes(b) % 1_000_000_000_000);
    format!("j{n}.{}", std::process::id())
}

/// The result of a job just started: Ansible's `poll: 0` result.
pub(crate) fn started(jid: &str, results_file: &str) -> Map {
    let mut m = Map::default();
    m.insert("ansible_job_id".into(), Value::str(jid));
    m.insert("finished".into(), Value::Bool(false));
    m.insert("results_file".into(), Value::str(results_file));
    m.insert("started".into(), Value::Bool(true));
    m
}

/// Keeps the result of a job that ran to its end, for `async_status`.
pub(crate) fn record_done(jid: &str, result: Map) {
    with_jobs(|j| j.insert(jid.to_string(), Job::Done(result)));
}

/// Where jobs keep their files on the host.
pub(crate) async fn async_dir(cx: &Cx<'_>) -> Result<String, TaskError> {
    let out = cx
        .probe
        .exec(
            "printf %s \"${ANSIBLE_ASYNC_DIR:-$HOME/.ansible_async}\"",
            cx.read_become(),
        )
        .await?;
    Ok(out.stdout_str().clone())
}

/// Starts `script` (a command module's shell text) detached on the host as job `jid`.
pub(super) async fn start_detached(
    cx: &Cx<'_>,
    jid: &str,
    script: &str,
    cmd: Value,
) -> Result<Outcome, TaskError> {
    const INNER: &str = r#"f=$2; date '+%Y-%m-%d %H:%M:%S.%6N' > "$f.start"; sh -c "$1" > "$f.out" 2> "$f.err" < /dev/null; rc=$?; date '+%Y-%m-%d %H:%M:%S.%6N' > "$f.end"; printf '%s' "$rc" > "$f.rc"; printf '{"finished": 1, "rc": %s, "ansible_job_id": "%s"}\n' "$rc" "${f##*/}" > "$f""#;
    let w = cx.writer()?;
    let start = format!(
        "d=\"${{ANSIBLE_ASYNC_DIR:-$HOME/.ansible_async}}\"; mkdir -p \"$d\" && f=\"$d\"/{jid} && \
         printf '{{\"started\": 1, \"finished\": 0, \"ansible_job_id\": \"%s\"}}\\n' {jid} > \"$f\" && \
         setsid sh -c {} tprov-async {} \"$f\" < /dev/null > /dev/null 2>&1 & printf %s \"$d\"",
        sh_quote(INNER),
        sh_quote(script),
        jid = sh_quote(jid),
    );
    let out = w.exec(&start).await?;
    if !out.ok() {
        return Err(fail(format!(
            "could not start the job: {}",
            out.stderr_str().trim()
        )));
    }
    let dir = out.stdout_str().clone();
    with_jobs(|j| j.insert(jid.to_string(), Job::Detached { cmd }));
    let mut o = Outcome {
        changed: true,
        ..Outcome::default()
    };
    o.result = started(jid, &format!("{dir}/{jid}"));
    Ok(o)
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let jid = args::str_req(a, &["jid"], "async_status")?;
    let mode = args::str_opt(a, &["mode"]).unwrap_or_else(|| "status".into());
    if mode != "status" && mode != "cleanup" {
        return Err(fail(format!(
            "value of mode must be one of: status, cleanup, got: {mode}"
        )));
    }
    let dir = async_dir(cx).await?;
    let file = format!("{dir}/{jid}");
    if mode == "cleanup" {
        with_jobs(|j| j.remove(&jid));
        if let Some(w) = &cx.writer {
            let f = sh_quote(&file);
            w.exec(&format!(
                "rm -f {f} {f}.start {f}.end {f}.rc {f}.out {f}.err"
            ))
            .await?;
        }
        let mut o = Outcome::default();
        o.result.insert("ansible_job_id".into(), Value::str(&jid));
        o.result.insert("erased".into(), Value::str(file));
        return Ok(o);
    }
    let done = with_jobs(|j| match j.get(&jid) {
        Some(Job::Done(r)) => Some(r.clone()),
        _ => None,
    });
    if let Some(mut r) = done {
        r.extend(started(&jid, &file));
        r.insert("finished".into(), Value::Bool(true));
        let failed = r.get("failed").is_some_and(Value::is_truthy);
        let changed = r.get("changed").is_some_and(Value::is_truthy);
        let msg = r.get("msg").map(Value::py_str);
        return Ok(Outcome {
            changed,
            failed,
            msg,
            result: r,
            ..Outcome::default()
        });
    }
    let f = sh_quote(&file);
    let script = format!(
        "[ -e {f} ] || {{ echo missing; exit 0; }}; [ -e {f}.rc ] || {{ echo running; exit 0; }}; \
         echo done; cat {f}.rc; echo; cat {f}.start {f}.end; wc -c < {f}.out; cat {f}.out {f}.err"
    );
    let out = cx.probe.exec(&script, cx.read_become()).await?;
    let text = out.stdout_str();
    let mut o = Outcome::default();
    let base = |o: &mut Outcome| {
        o.result.extend(started(&jid, &file));
        for k in ["stdout", "stderr"] {
            o.result.insert(k.into(), Value::str(""));
            o.result
                .insert(format!("{k}_lines"), Value::List(Vec::new()));
        }
    };
    let mut lines = text.splitn(6, '\n');
    match lines.next() {
        Some("running") => {
            base(&mut o);
            return Ok(o);
        }
        Some("done") => {}
        _ => {
            o.result.insert("ansible_job_id".into(), Value::str(&jid));
            o.result.insert("started".into(), Value::Bool(true));
            o.result.insert("finished".into(), Value::Bool(true));
            o.failed = true;
            o.msg = Some("could not find job".into());
            return Ok(o);
        }
    }
    let rc: i64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(-1);
    let start = lines.next().unwrap_or_default().trim().to_string();
    let end = lines.next().unwrap_or_default().trim().to_string();
    let out_len: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let rest = lines.next().unwrap_or_default();
    let split = out_len.min(rest.len());
    let (stdout, stderr) = rest.split_at(if rest.is_char_boundary(split) {
        split
    } else {
        0
    });
    let clean = |s: &str| s.trim_end_matches(['\n', '\r']).to_string();
    let (stdout, stderr) = (clean(stdout), clean(stderr));
    base(&mut o);
    o.result.insert("finished".into(), Value::Bool(true));
    let cmd = with_jobs(|j| match j.get(&jid) {
        Some(Job::Detached { cmd }) => Some(cmd.clone()),
        _ => None,
    });
    if let Some(cmd) = cmd {
        o.result.insert("cmd".into(), cmd);
    }
    super::command::output_keys(&mut o.result, rc, stdout, stderr);
    if let (Some(s), Some(e)) = (
        super::command::parse_time(&start),
        super::command::parse_time(&end),
    ) {
        o.result
            .insert("delta".into(), Value::str(super::command::delta(e - s)));
    }
    o.result.insert("start".into(), Value::str(start));
    o.result.insert("end".into(), Value::str(end));
    o.changed = true;
    if rc == 0 {
        o.msg = Some(String::new());
    } else {
        o.failed = true;
        o.msg = Some("non-zero return code".into());
    }
    Ok(o)
}
