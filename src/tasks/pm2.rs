//! `pm2`: apps under the become user's own PM2 daemon, from an ecosystem file. State is
//! read from `pm2 jlist` (which holds every app's environment, secrets included: only
//! names, statuses and Node versions leave the host's answer). After a start or reload
//! the service must answer `health_url`, since `pm2 reload` reports success even when
//! the new release never listens. A change of Node version restarts the daemon (cluster
//! workers run on the daemon's Node).

use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "pm2",
    file_common: false,
    traits: &[],
    args: &[
        "name",
        "ecosystem",
        "state",
        "node_version",
        "nvm_dir",
        "executable",
        "health_url",
        "health_timeout",
        "pm2_home",
    ],
    required: &["name|ecosystem"],
};

#[derive(Debug, Clone)]
struct Proc {
    status: String,
    node: String,
    exec_mode: String,
    script: String,
}

pub(super) fn env_prefix(a: &Map) -> (String, String) {
    let nvm = args::str_opt(a, &["nvm_dir"]).unwrap_or_else(|| "$HOME/.nvm".into());
    let nvm = match nvm.strip_prefix("$HOME") {
        Some(rest) => format!("\"$HOME\"{}", sh_quote(rest)),
        None => sh_quote(&nvm),
    };
    let home = args::str_opt(a, &["pm2_home"])
        .map(|h| format!("PM2_HOME={} ", sh_quote(&h)))
        .unwrap_or_default();
    match (
        args::str_opt(a, &["executable"]),
        args::str_opt(a, &["node_version"]),
    ) {
        (Some(e), _) => (
            format!("{home}PATH=\"$(dirname {}):$PATH\"", sh_quote(&e)),
            sh_quote(&e),
        ),
        (None, Some(v)) => {
            let bin = format!("{nvm}/versions/node/v{}/bin", v.trim_start_matches('v'));
            (format!("{home}PATH={bin}:\"$PATH\""), format!("{bin}/pm2"))
        }
        (None, None) => (home, "pm2".into()),
    }
}

/// The daemon's processes for `name`, without starting a daemon that is not running.
async fn processes(cx: &Cx<'_>, env: &str, pm2: &str, name: &str) -> Result<Vec<Proc>, TaskError> {
    let script = format!(
        "h=${{PM2_HOME:-$HOME/.pm2}}; {env} sh -c 'h=${{PM2_HOME:-$HOME/.pm2}}; [ -f \"$h/pm2.pid\" ] && kill -0 \"$(cat \"$h/pm2.pid\")\" 2>/dev/null' || {{ echo '[]'; exit 0; }}; {env} {pm2} jlist"
    );
    let out = cx.probe.exec(&script, cx.read_become()).await?;
    let text = out.stdout_str();
    let start = text
        .find('[')
        .ok_or_else(|| fail(format!("pm2 jlist gave no JSON (status {})", out.rc())))?;
    let list: serde_json::Value =
        serde_json::from_str(text[start..].trim()).map_err(|e| fail(format!("pm2 jlist: {e}")))?;
    Ok(list
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|p| p["name"].as_str() == Some(name))
                .map(|p| Proc {
                    status: p["pm2_env"]["status"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    node: p["pm2_env"]["node_version"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    exec_mode: p["pm2_env"]["exec_mode"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_end_matches("_mode")
                        .to_string(),
                    script: p["pm2_env"]["pm_exec_path"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The working directories (resolved) of `name`'s processes, and `dir` resolved, for
/// checking that a reload moved every worker into a new release.
pub(super) async fn worker_dirs(
    a: &Map,
    cx: &Cx<'_>,
    name: &str,
    dir: &str,
) -> Result<(String, Vec<String>), TaskError> {
    let (env, pm2) = env_prefix(a);
    let script = format!(
        "readlink -f {d}; for p in $({env} {pm2} pid {n}); do [ \"$p\" -gt 0 ] 2>/dev/null && readlink -f /proc/$p/cwd; done; true",
        d = sh_quote(dir),
        n = sh_quote(name),
    );
    let out = super::remote::query(cx, &script, &format!("read the workers of {name}")).await?;
    let text = out.stdout_str();
    let mut lines = text.lines().map(str::to_string);
    let want = lines.next().unwrap_or_else(|| dir.to_string());
    Ok((want, lines.filter(|l| !l.is_empty()).collect()))
}

/// Seconds to wait for `health_url` (30 by default).
pub(super) fn health_timeout(a: &Map) -> u64 {
    args::str_opt(a, &["health_timeout"])
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(30)
}

/// Whether `url` answers (2xx/3xx) within `timeout` seconds, asked from the host.
pub(super) async fn healthy(cx: &Cx<'_>, url: &str, timeout: u64) -> Result<bool, TaskError> {
    super::remote::http_ok(cx, None, &sh_quote(url), timeout).await
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "started".into());
    let eco = args::str_opt(a, &["ecosystem"]);
    let (env, pm2) = env_prefix(a);
    // The app as the ecosystem file declares it.
    let declared: Option<serde_json::Value> = match &eco {
        Some(path) => match super::remote::read(cx, path).await? {
            Some(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| fail(format!("{path} is not valid JSON: {e}")))?;
                v["apps"].get(0).cloned()
            }
            None if cx.check() => None,
            None => return Err(fail(format!("ecosystem file {path} does not exist"))),
        },
        None => None,
    };
    let name = args::str_opt(a, &["name"])
        .or_else(|| {
            declared
                .as_ref()
                .and_then(|d| d["name"].as_str().map(str::to_string))
        })
        .ok_or_else(|| fail("pm2: name is required (or an ecosystem file naming its app)"))?;
    let procs = processes(cx, &env, &pm2, &name).await?;
    let want_node =
        args::str_opt(a, &["node_version"]).map(|v| format!("v{}", v.trim_start_matches('v')));
    let summary = |p: &[Proc]| -> String {
        if p.is_empty() {
            return "absent\n".into();
        }
        p.iter()
            .map(|x| format!("{} {} {}\n", x.status, x.exec_mode, x.node))
            .collect()
    };
    let eco_q = eco.as_deref().map(sh_quote).unwrap_or_default();
    let (action, cmd): (&str, String) = match state.as_str() {
        "absent" if procs.is_empty() => ("", String::new()),
        "absent" => ("delete", format!("{env} {pm2} delete {}", sh_quote(&name))),
        "stopped" if procs.iter().all(|p| p.status == "stopped") => ("", String::new()),
        "stopped" => ("stop", format!("{env} {pm2} stop {}", sh_quote(&name))),
        "reloaded" | "restarted" if eco.is_none() => {
            return Err(fail("pm2: reloaded/restarted need the ecosystem file"));
        }
        "reloaded" if procs.is_empty() => ("start", format!("{env} {pm2} start {eco_q}")),
        "reloaded" => ("reload", format!("{env} {pm2} reload {eco_q} --update-env")),
        "restarted" => (
            "restart",
            format!(
                "{env} {pm2} delete {} >/dev/null 2>&1; {env} {pm2} start {eco_q}",
                sh_quote(&name)
            ),
        ),
        "started" => {
            let eco_q = if eco.is_some() {
                eco_q.clone()
            } else {
                return Err(fail("pm2: started needs the ecosystem file"));
            };
            let want_mode = declared
                .as_ref()
                .and_then(|d| d["exec_mode"].as_str())
                .unwrap_or("fork")
                .trim_end_matches("_mode")
                .to_string();
            let want_instances = declared
                .as_ref()
                .and_then(|d| d["instances"].as_u64())
                .unwrap_or(1) as usize;
            let want_script = declared
                .as_ref()
                .and_then(|d| d["script"].as_str())
                .map(str::to_string);
            // PM2 reports "20.17.0"; the wanted version may be spelt "v20.17.0".
            let node_differs = want_node.as_ref().is_some_and(|w| {
                procs
                    .iter()
                    .any(|p| p.node.trim_start_matches('v') != w.trim_start_matches('v'))
            });
            if procs.is_empty() {
                ("start", format!("{env} {pm2} start {eco_q}"))
            } else if node_differs {
                // Cluster workers run on the daemon's Node: restart the daemon on the new one.
                (
                    "restart daemon",
                    format!("{env} {pm2} kill; {env} {pm2} start {eco_q}"),
                )
            } else if procs.iter().any(|p| p.exec_mode != want_mode)
                || procs.len() != want_instances
                || want_script
                    .as_ref()
                    .is_some_and(|s| procs.iter().any(|p| &p.script != s))
            {
                (
                    "replace",
                    format!(
                        "{env} {pm2} delete {} && {env} {pm2} start {eco_q}",
                        sh_quote(&name)
                    ),
                )
            } else if procs.iter().any(|p| p.status != "online") {
                (
                    "restart",
                    format!("{env} {pm2} restart {}", sh_quote(&name)),
                )
            } else {
                ("", String::new())
            }
        }
        other => {
            return Err(fail(format!(
                "pm2: state must be one of started, reloaded, restarted, stopped, absent; got {other}"
            )));
        }
    };
    let mut o = Outcome::default();
    o.result.insert("name".into(), Value::str(name.clone()));
    o.result.insert("state".into(), Value::str(state.clone()));
    if action.is_empty() {
        o.result.insert("action".into(), Value::str("none"));
        return Ok(o);
    }
    o.changed = true;
    o.result.insert("action".into(), Value::str(action));
    let after = match action {
        "delete" => "absent\n".to_string(),
        "stop" => "stopped\n".to_string(),
        _ => format!(
            "online ({action}){}\n",
            want_node
                .as_ref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default()
        ),
    };
    o.diffs.push(Diff {
        before_header: Some(format!("pm2 {name}")),
        after_header: Some(format!("pm2 {name}")),
        before: summary(&procs),
        after,
    });
    let Some(w) = &cx.writer else {
        return Ok(o);
    };
    let out = w.exec(&format!("{cmd} >/dev/null")).await?;
    if !out.ok() {
        return Err(fail(format!(
            "pm2 {action} failed: {}",
            out.stderr_str().trim()
        )));
    }
    if let (Some(url), true) = (
        args::str_opt(a, &["health_url"]),
        matches!(
            action,
            "start" | "reload" | "restart" | "restart daemon" | "replace"
        ),
    ) {
        let timeout = health_timeout(a);
        if !healthy(cx, &url, timeout).await? {
            o.failed = true;
            o.msg = Some(format!(
                "pm2 {action} of {name} finished, but {url} did not answer within {timeout}s"
            ));
        }
    }
    let now = processes(cx, &env, &pm2, &name).await?;
    o.result.insert(
        "processes".into(),
        Value::List(
            now.iter()
                .map(|p| {
                    let mut m = Map::default();
                    m.insert("status".into(), Value::str(p.status.clone()));
                    m.insert("exec_mode".into(), Value::str(p.exec_mode.clone()));
                    m.insert("node_version".into(), Value::str(p.node.clone()));
                    Value::Map(m)
                })
                .collect(),
        ),
    );
    Ok(o)
}
