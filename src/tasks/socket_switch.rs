//! `socket_switch`: nginx's upstream moved to a new version by renaming UNIX sockets
//! (seed 003), with no nginx reload. The new version listens on a socket of its own
//! (`new`); it must answer there first. Then the live socket gets a second name (`old`,
//! a hard link, so the old version stays reachable for what is in flight) and the new
//! socket is renamed over the live name: one rename(2), so `live` always names a
//! listening socket, where the seed's two renames leave a moment with none. The new
//! version must answer on `live`; then `stop` stops the old one (gracefully: the app
//! finishes its in-flight requests on SIGINT/SIGTERM, seed 004) and `old` goes.
//! Nothing to do when `new` is gone and `live` answers (already switched).

use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "socket_switch",
    file_common: false,
    traits: &[],
    args: &[
        "live",
        "new",
        "old",
        "health_path",
        "health_timeout",
        "stop",
    ],
    required: &["live", "new"],
};

/// Whether the socket at `path` answers an HTTP GET of `health` (2xx/3xx), asked on the
/// host for up to `timeout` seconds.
async fn answers(cx: &Cx<'_>, path: &str, health: &str, timeout: u64) -> Result<bool, TaskError> {
    let curl = format!(
        "--unix-socket {} {}",
        sh_quote(path),
        sh_quote(&format!("http://localhost{health}"))
    );
    super::remote::http_ok(cx, cx.read_become(), &curl, timeout).await
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let live = args::str_req(a, &["live"], "socket_switch")?;
    let new = args::str_req(a, &["new"], "socket_switch")?;
    let old = args::str_opt(a, &["old"]).unwrap_or_else(|| format!("{live}.old"));
    if [&live, &new, &old].iter().any(|p| !p.starts_with('/')) {
        return Err(fail(
            "socket_switch: live, new and old must be absolute paths",
        ));
    }
    if live == new || live == old || new == old {
        return Err(fail(
            "socket_switch: live, new and old must be three different paths",
        ));
    }
    let dir = |p: &str| p.rsplit_once('/').map(|(d, _)| d.to_string());
    if dir(&live) != dir(&new) || dir(&live) != dir(&old) {
        return Err(fail(
            "socket_switch: live, new and old must be in one directory (rename(2) does not cross file systems)",
        ));
    }
    let health = args::str_opt(a, &["health_path"]).unwrap_or_else(|| "/".into());
    let timeout = args::str_opt(a, &["health_timeout"])
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(10);
    let probe = format!(
        "[ -S {n} ] && echo new; [ -S {l} ] && echo live; [ -e {o} ] && echo old; true",
        n = sh_quote(&new),
        l = sh_quote(&live),
        o = sh_quote(&old),
    );
    let out = super::remote::query(cx, &probe, "look at the sockets").await?;
    let seen = out.stdout_str();
    let has = |w: &str| seen.lines().any(|l| l == w);
    let mut o = Outcome::default();
    o.result.insert("live".into(), Value::str(live.clone()));
    if !has("new") {
        if has("live") {
            return Ok(o);
        }
        return Err(fail(format!(
            "socket_switch: neither {new} nor {live} is a socket: start the new version on {new} first"
        )));
    }
    // The new version must answer before it takes the live name.
    if !answers(cx, &new, &health, timeout).await? {
        return Err(fail(format!(
            "socket_switch: the new version does not answer on {new} ({health} within {timeout}s): nothing was switched"
        )));
    }
    o.changed = true;
    o.diffs.push(Diff {
        before_header: Some(live.clone()),
        after_header: Some(live.clone()),
        before: format!(
            "{live}: {}\n{new}: the new version\n",
            if has("live") {
                "the old version"
            } else {
                "absent"
            }
        ),
        after: format!(
            "{live}: the new version\n{}",
            if has("live") {
                format!("{old}: the old version, until it is stopped\n")
            } else {
                String::new()
            }
        ),
    });
    let Some(w) = &cx.writer else {
        return Ok(o);
    };
    let switch = format!(
        "set -e; if [ -S {l} ]; then ln -f {l} {o}; fi; mv -T {n} {l}",
        n = sh_quote(&new),
        l = sh_quote(&live),
        o = sh_quote(&old),
    );
    super::remote::change(w, &switch).await?;
    if !answers(cx, &live, &health, timeout).await? {
        return Err(fail(format!(
            "socket_switch: {live} does not answer after the switch; the old version is still at {old}"
        )));
    }
    if let Some(stop) = args::str_opt(a, &["stop"]) {
        let w = cx.writer()?;
        let done = w.exec(&format!("{}{stop}", cx.env_prefix())).await?;
        let done = super::remote::changed_ok(done).map_err(|e| match e {
            TaskError::Failed(m) => fail(format!("socket_switch: switched, but stop failed: {m}")),
            other => other,
        })?;
        o.result.insert("stop_rc".into(), Value::Int(done.rc()));
        super::remote::change(w, &format!("rm -f {}", sh_quote(&old))).await?;
    }
    Ok(o)
}
