//! `file`'s times: `modification_time`, `access_time`, and `state: touch`.

use super::{apply, attr_script};
use crate::tasks::attrs::Attrs;
use crate::tasks::remote::Stat;
use crate::tasks::{Cx, Diff, Outcome, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

/// `modification_time`/`access_time` on an existing path (state `file`): only the
/// given ones, changed when they differ (now always differs).
pub(super) async fn set_times(
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
pub(super) enum Time {
    /// Not given: now for `touch`, kept otherwise.
    Default,
    Now,
    Preserve,
    At(i64),
}

/// `modification_time` and `access_time` (with their `_format`, Python's strptime,
/// default `%Y%m%d%H%M.%S`), read as local time as Ansible's `time.mktime` does.
pub(super) fn times(a: &Map) -> Result<(Time, Time), TaskError> {
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

pub(super) async fn touch(
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
