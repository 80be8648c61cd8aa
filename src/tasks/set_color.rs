//! `set_color`: the blue/green switch (the fleet's `setColor.sh`). `path` holds `blue/`,
//! `green/` and `app -> COLOUR`. Switching reads the target colour's `.nvmrc`, makes sure
//! that Node is installed (the `node` module), swaps the `app` link atomically (the
//! `file` module: a new link renamed over the old one), and reloads PM2 gracefully (the
//! `pm2` module, health-checked). When the running PM2 daemon's Node major differs from
//! the target's, a reload would leave the cluster workers on the daemon's Node, so the
//! app is started in fork mode on the target's `node` instead. When the new release does
//! not answer, the link and the processes go back to the previous colour and the task
//! fails. Already on that colour: nothing to do.

use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "set_color",
    file_common: false,
    traits: &[],
    args: &[
        "path",
        "color",
        "ecosystem",
        "nvm_dir",
        "mirror",
        "health_url",
        "health_timeout",
    ],
    required: &["path", "color", "ecosystem"],
};

/// What the host says before the switch.
struct Probe {
    current: Option<String>,
    nvmrc: Option<String>,
    /// `vX.Y.Z` of the PM2 daemon's Node, when a daemon runs.
    daemon_node: Option<String>,
    /// The app runs from a fork-mode fallback (`ECOSYSTEM.fork.json` exists).
    forked: bool,
}

async fn probe(cx: &Cx<'_>, svc: &str, color: &str, eco: &str) -> Result<Probe, TaskError> {
    let script = format!(
        "s={svc}; printf 'current=%s\\n' \"$(readlink \"$s/app\" 2>/dev/null)\"; \
         printf 'nvmrc=%s\\n' \"$(head -n1 \"$s\"/{color}/.nvmrc 2>/dev/null)\"; \
         h=${{PM2_HOME:-$HOME/.pm2}}; p=$(cat \"$h/pm2.pid\" 2>/dev/null); \
         if [ -n \"$p\" ] && kill -0 \"$p\" 2>/dev/null; then printf 'daemon=%s\\n' \"$(\"$(readlink /proc/$p/exe)\" --version 2>/dev/null)\"; fi; \
         [ -f {fork} ] && echo forked=1; true",
        svc = sh_quote(svc),
        color = sh_quote(color),
        fork = sh_quote(&format!("{eco}.fork.json")),
    );
    let out = cx.probe.exec(&script, cx.read_become()).await?;
    let text = out.stdout_str();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    Ok(Probe {
        current: field("current").map(|c| c.trim_end_matches('/').to_string()),
        nvmrc: field("nvmrc").map(|v| v.trim_start_matches('v').to_string()),
        daemon_node: field("daemon"),
        forked: field("forked").is_some(),
    })
}

fn major(v: &str) -> &str {
    v.trim_start_matches('v')
        .split('.')
        .next()
        .unwrap_or_default()
}

fn absorb(o: &mut Outcome, step: Outcome) {
    o.changed |= step.changed;
    o.diffs.extend(step.diffs);
}

fn map(pairs: &[(&str, Option<String>)]) -> Map {
    let mut m = Map::default();
    for (k, v) in pairs {
        if let Some(v) = v {
            m.insert((*k).to_string(), Value::str(v.clone()));
        }
    }
    m
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let svc = args::str_req(a, &["path"], "set_color")?;
    let svc = svc.trim_end_matches('/').to_string();
    let color = args::str_req(a, &["color"], "set_color")?;
    if color.is_empty() || color.contains('/') || color == "." || color == ".." {
        return Err(fail(format!(
            "set_color: color must name a directory in {svc}, got {color:?}"
        )));
    }
    let eco = args::str_req(a, &["ecosystem"], "set_color")?;
    let nvm = args::str_opt(a, &["nvm_dir"]);
    let p = probe(cx, &svc, &color, &eco).await?;
    let mut o = Outcome::default();
    o.result.insert("color".into(), Value::str(color.clone()));
    o.result.insert(
        "previous".into(),
        p.current.clone().map_or(Value::Null, Value::str),
    );
    if p.current.as_deref() == Some(color.as_str()) {
        return Ok(o);
    }
    let version = match (&p.nvmrc, cx.check()) {
        (Some(v), _) => v.clone(),
        (None, true) => {
            // The colour may only exist once earlier tasks ran: say what would happen.
            o.changed = true;
            o.diffs.push(Diff {
                before_header: Some(format!("{svc}/app")),
                after_header: Some(format!("{svc}/app")),
                before: format!("{}\n", p.current.as_deref().unwrap_or("absent")),
                after: format!("{color}\n"),
            });
            return Ok(o);
        }
        (None, false) => {
            return Err(fail(format!(
                "set_color: {svc}/{color}/.nvmrc is missing: which Node does {color} need?"
            )));
        }
    };
    o.result
        .insert("node_version".into(), Value::str(version.clone()));
    // 1. The target's Node, without touching the user's default.
    let node = super::node::run_node(
        &map(&[
            ("version", Some(version.clone())),
            ("nvm_dir", nvm.clone()),
            ("mirror", args::str_opt(a, &["mirror"])),
            ("default", Some("false".into())),
        ]),
        cx,
    )
    .await?;
    absorb(&mut o, node);
    // 2. The link, swapped atomically.
    let link = |target: &str| {
        map(&[
            ("path", Some(format!("{svc}/app"))),
            ("src", Some(target.to_string())),
            ("state", Some("link".into())),
        ])
    };
    let switched = super::file::run(&link(&color), cx).await?;
    absorb(&mut o, switched);
    // 3. PM2: a graceful reload, or fork mode on the target's Node.
    let fork = p
        .daemon_node
        .as_deref()
        .is_some_and(|d| major(d) != major(&version));
    o.result.insert(
        "mode".into(),
        Value::str(if fork { "fork" } else { "reload" }),
    );
    let url = args::str_opt(a, &["health_url"]);
    let pm2_args = |v: &str| {
        map(&[
            ("ecosystem", Some(eco.clone())),
            ("state", Some("reloaded".into())),
            ("node_version", Some(v.to_string())),
            ("nvm_dir", nvm.clone()),
            ("health_url", url.clone()),
            ("health_timeout", args::str_opt(a, &["health_timeout"])),
        ])
    };
    let healthy = if fork {
        let daemon = p.daemon_node.clone().unwrap_or_default();
        o.changed = true;
        o.diffs.push(Diff {
            before_header: Some(format!("pm2 {eco}")),
            after_header: Some(format!("pm2 {eco}")),
            before: format!("daemon on Node {daemon}\n"),
            after: format!("fork mode on Node v{version} (the daemon's Node major differs)\n"),
        });
        if cx.check() {
            return Ok(o);
        }
        match start_fork(cx, &eco, nvm.as_deref(), &daemon, &version).await {
            Ok(()) => match &url {
                Some(u) => super::pm2::healthy(cx, u, super::pm2::health_timeout(a))
                    .await?
                    .then_some(())
                    .ok_or_else(|| format!("{u} did not answer")),
                None => Ok(()),
            },
            Err(TaskError::Failed(m)) => Err(m),
            Err(e) => return Err(e),
        }
    } else {
        // Leaving a fork-mode fallback: the app as the ecosystem declares it again
        // (a reload would keep the fork mode and the other Node).
        let mut reload = pm2_args(&version);
        if p.forked {
            reload.insert("state".into(), Value::str("restarted"));
        }
        let result = super::pm2::run(&reload, cx).await;
        if p.forked
            && result.is_ok()
            && let Some(w) = &cx.writer
        {
            super::remote::change(
                w,
                &format!("rm -f {}", sh_quote(&format!("{eco}.fork.json"))),
            )
            .await?;
        }
        match result {
            Ok(reload) => {
                let ok = match (reload.failed, &reload.msg) {
                    (false, _) => Ok(()),
                    (true, m) => Err(m.clone().unwrap_or_default()),
                };
                absorb(&mut o, reload);
                ok
            }
            // pm2 itself failed (a release that crashes at start): roll back too.
            Err(TaskError::Failed(m)) => Err(m),
            Err(e) => return Err(e),
        }
    };
    let why = match healthy {
        Ok(()) => return Ok(o),
        Err(_) if cx.check() => return Ok(o),
        Err(why) => why,
    };
    // 4. The new release does not answer: back to the previous colour.
    let Some(previous) = p.current else {
        return Err(fail(format!(
            "{color} did not answer after the switch ({why}), and there is no previous colour to go back to"
        )));
    };
    super::file::run(&link(&previous), cx).await?;
    let back = probe(cx, &svc, &previous, &eco).await?;
    let back_version = back.nvmrc.unwrap_or(version.clone());
    match &p.daemon_node {
        Some(d) if fork && major(d) != major(&back_version) => {
            start_fork(cx, &eco, nvm.as_deref(), d, &back_version).await?;
        }
        Some(d) if fork => {
            // Back on the daemon's own Node: the ecosystem as declared.
            let mut restart = pm2_args(d);
            restart.insert("state".into(), Value::str("restarted"));
            restart.shift_remove("health_url");
            super::pm2::run(&restart, cx).await?;
            super::remote::change(
                cx.writer()?,
                &format!("rm -f {}", sh_quote(&format!("{eco}.fork.json"))),
            )
            .await?;
        }
        _ => {
            let mut reload = pm2_args(&back_version);
            reload.shift_remove("health_url");
            super::pm2::run(&reload, cx).await?;
        }
    }
    Err(fail(format!(
        "{color} did not answer after the switch ({why}): rolled back to {previous}"
    )))
}

/// Replaces the app with a fork-mode copy of the ecosystem run by `version`'s `node`
/// (the daemon keeps running on its own Node).
async fn start_fork(
    cx: &Cx<'_>,
    eco: &str,
    nvm: Option<&str>,
    daemon: &str,
    version: &str,
) -> Result<(), TaskError> {
    let nvm = match nvm.unwrap_or("$HOME/.nvm") {
        n if n.starts_with("$HOME") => format!("\"$HOME\"{}", sh_quote(&n["$HOME".len()..])),
        n => sh_quote(n),
    };
    let bin = format!("{nvm}/versions/node/v{version}/bin");
    // pm2 from the daemon's Node (the target's may not have it), `node` from the target's.
    let daemon_bin = format!(
        "{nvm}/versions/node/v{}/bin",
        daemon.trim_start_matches('v')
    );
    let fork_eco = format!("{eco}.fork.json");
    let rewrite = "const fs=require('fs');const c=JSON.parse(fs.readFileSync(process.argv[1],'utf8'));\
                   const names=[];for(const a of c.apps||[]){a.exec_mode='fork';delete a.instances;\
                   a.interpreter=process.execPath;names.push(a.name)}\
                   fs.writeFileSync(process.argv[2]+'.tmp',JSON.stringify(c,null,2));\
                   fs.renameSync(process.argv[2]+'.tmp',process.argv[2]);console.log(names.join(' '))";
    let script = format!(
        "set -e; export PATH={daemon_bin}:{bin}:\"$PATH\"; names=$({bin}/node -e {rewrite} {eco} {fork}); \
         for n in $names; do pm2 delete \"$n\" >/dev/null 2>&1 || true; done; pm2 start {fork} >/dev/null",
        rewrite = sh_quote(rewrite),
        eco = sh_quote(eco),
        fork = sh_quote(&fork_eco),
    );
    super::remote::change(cx.writer()?, &script).await?;
    Ok(())
}
