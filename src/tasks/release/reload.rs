//! The PM2 side of a release: the canary worker, the reload after a switch, the revert
//! of a release that does not serve, and the reload arguments a deploy remembers.

use super::BAD;
use super::build::switch;
use crate::tasks::{Cx, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

/// Before a cluster reload: one extra worker of the new release (its own name, run from
/// `releases/NAME` itself) joins the running cluster. PM2's reload replaces a worker whose
/// successor never gets ready once `listen_timeout` passes, so a release that crashes at
/// start would take every worker down one by one; the canary finds that out while the
/// old workers still serve, and it is deleted either way. `Ok(Err(why))`: it did not
/// stay up. Apps in fork mode, or not running yet, have no canary.
pub(super) async fn canary(
    a: &Map,
    cx: &mut Cx<'_>,
    path: &str,
    name: &str,
) -> Result<Result<(), String>, TaskError> {
    let Some(eco) = args::str_opt(a, &["ecosystem"]) else {
        return Ok(Ok(()));
    };
    let Some(bytes) = crate::tasks::remote::read(cx, &eco).await? else {
        return Ok(Ok(()));
    };
    let declared: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| fail(format!("{eco} is not valid JSON: {e}")))?;
    let Some(app) = declared["apps"].get(0) else {
        return Ok(Ok(()));
    };
    let cluster = app["exec_mode"]
        .as_str()
        .is_some_and(|m| m.starts_with("cluster"));
    let app_name = app["name"].as_str().unwrap_or_default().to_string();
    let pm2 = pm2_args(a, &eco);
    if !cluster
        || app_name.is_empty()
        || crate::tasks::pm2::worker_dirs(&pm2, cx, &app_name, path)
            .await?
            .1
            .is_empty()
    {
        return Ok(Ok(()));
    }
    let dir = format!("{path}/releases/{name}");
    let live = format!("{path}/current");
    let moved = |v: &serde_json::Value| {
        v.as_str().map(|s| match s.strip_prefix(&live) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{dir}{rest}"),
            _ => s.to_string(),
        })
    };
    let mut one = app.clone();
    let canary_name = format!("{app_name}-canary");
    one["name"] = canary_name.clone().into();
    one["instances"] = 1.into();
    for k in ["cwd", "script"] {
        if let Some(v) = moved(&one[k]) {
            one[k] = v.into();
        }
    }
    one["autorestart"] = false.into();
    let file = format!("{dir}/.tprov-canary.json");
    let text = serde_json::json!({ "apps": [one] }).to_string();
    cx.writer()?
        .write_file(&file, text.as_bytes(), "", false)
        .await?;
    let wait = app["listen_timeout"]
        .as_u64()
        .unwrap_or(8000)
        .div_ceil(1000)
        .max(3);
    let (env, bin) = crate::tasks::pm2::env_prefix(&pm2);
    let n = sh_quote(&canary_name);
    // Up and never restarted for `wait` seconds (a crash at start exits at once; PM2
    // then lists a cluster worker as online with pid 0).
    let judge = "let d='';process.stdin.on('data',c=>d+=c).on('end',()=>{\
                 const l=JSON.parse(d.slice(d.indexOf('[')));\
                 const p=l.filter(x=>x.name===process.argv[1]);\
                 console.log(p.length&&p.every(x=>x.pm2_env.status==='online'&&x.pid>0&&!x.pm2_env.restart_time)?'up':'down')})";
    let script = format!(
        "{env} {bin} start {f} >/dev/null || exit 1; i=0; \
         while [ $i -lt {wait} ]; do sleep 1; i=$((i+1)); \
           s=$({env} {bin} jlist 2>/dev/null | {env} node -e {judge} {n}); \
           [ \"$s\" = up ] || {{ {env} {bin} delete {n} >/dev/null 2>&1; echo down; exit 0; }}; done; \
         {env} {bin} delete {n} >/dev/null 2>&1; echo up",
        f = sh_quote(&file),
        judge = sh_quote(judge),
    );
    let out = crate::tasks::remote::change(cx.writer()?, &script).await?;
    Ok(if out.stdout_str().trim().ends_with("up") {
        Ok(())
    } else {
        Err(format!("a canary worker of it did not stay up for {wait}s"))
    })
}

/// The pm2 module's arguments for the app of `eco`, from the task's.
fn pm2_args(a: &Map, eco: &str) -> Map {
    let mut pm2 = Map::default();
    pm2.insert("ecosystem".into(), Value::str(eco));
    pm2.insert("state".into(), Value::str("reloaded"));
    for k in RELOAD_KEYS.into_iter().filter(|k| *k != "ecosystem") {
        if let Some(v) = a.get(k).filter(|v| !matches!(v, Value::Null)) {
            pm2.insert(k.into(), v.clone());
        }
    }
    pm2
}

/// After a switch: PM2 reloaded from its ecosystem file (when there is one), the app
/// answering, and every worker running in `releases/NAME` (PM2 can keep a resolved
/// old directory). `Ok(Err(why))`: the release is not serving.
pub(super) async fn reload(
    a: &Map,
    cx: &mut Cx<'_>,
    path: &str,
    name: &str,
) -> Result<Result<(), String>, TaskError> {
    let Some(eco) = args::str_opt(a, &["ecosystem"]) else {
        return Ok(match args::str_opt(a, &["health_url"]) {
            Some(u)
                if !crate::tasks::pm2::healthy(cx, &u, crate::tasks::pm2::health_timeout(a))
                    .await? =>
            {
                Err(format!("{u} did not answer"))
            }
            _ => Ok(()),
        });
    };
    let pm2 = pm2_args(a, &eco);
    let done = match crate::tasks::pm2::run(&pm2, cx).await {
        Ok(done) if done.failed => return Ok(Err(done.msg.unwrap_or_default())),
        Ok(done) => done,
        Err(TaskError::Failed(m)) => return Ok(Err(m)),
        Err(e) => return Err(e),
    };
    let app = done
        .result
        .get("name")
        .map(Value::py_str)
        .unwrap_or_default();
    let (want, dirs) =
        crate::tasks::pm2::worker_dirs(&pm2, cx, &app, &format!("{path}/releases/{name}")).await?;
    let stale = dirs
        .iter()
        .find(|d| *d != &want && !d.starts_with(&format!("{want}/")));
    Ok(match stale {
        _ if dirs.is_empty() => Err(format!("pm2 runs no process of {app} after the reload")),
        Some(d) => Err(format!("pm2 kept a worker of {app} in {d}, not in {want}")),
        None => Ok(()),
    })
}

/// A release that does not serve: marked bad, `current` back on `previous` (reloaded),
/// and the task's failure saying so.
pub(super) async fn revert(
    a: &Map,
    cx: &mut Cx<'_>,
    path: &str,
    name: &str,
    previous: Option<&str>,
    why: &str,
) -> TaskError {
    let steps = async {
        crate::tasks::remote::change(
            cx.writer()?,
            &format!(
                "touch {}",
                sh_quote(&format!("{path}/releases/{name}/{BAD}"))
            ),
        )
        .await?;
        let Some(prev) = previous else {
            return Ok(format!(
                "{name} did not serve ({why}), and there is no previous release to go back to"
            ));
        };
        switch(cx.writer()?, path, prev).await?;
        match reload(a, cx, path, prev).await? {
            Ok(()) => Ok(format!(
                "{name} did not serve ({why}): rolled back to {prev}"
            )),
            Err(again) => Ok(format!(
                "{name} did not serve ({why}): rolled back to {prev}, which does not serve either ({again})"
            )),
        }
    };
    match steps.await {
        Ok(msg) => fail(format!("release: {msg}")),
        Err(e) => e,
    }
}

/// Where a deploy records how its app is reloaded, so a rollback (`tprov release
/// rollback PATH`) needs no more than the path.
const REMEMBERED: &str = ".tprov-release.json";
const RELOAD_KEYS: [&str; 7] = [
    "ecosystem",
    "node_version",
    "nvm_dir",
    "executable",
    "pm2_home",
    "health_url",
    "health_timeout",
];

pub(super) async fn remember(a: &Map, cx: &Cx<'_>, path: &str) -> Result<(), TaskError> {
    let mut m = serde_json::Map::new();
    for k in RELOAD_KEYS {
        if let Some(v) = args::str_opt(a, &[k]) {
            m.insert(k.into(), v.into());
        }
    }
    let text = serde_json::Value::Object(m).to_string();
    let file = format!("{path}/{REMEMBERED}");
    if crate::tasks::remote::read(cx, &file).await?.as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    cx.writer()?
        .write_file(&file, text.as_bytes(), "", false)
        .await?;
    Ok(())
}

/// The task's arguments, with what the last deploy remembered for those it lacks.
pub(super) async fn recalled(a: &Map, cx: &Cx<'_>, path: &str) -> Result<Map, TaskError> {
    let mut a = a.clone();
    let Some(bytes) = crate::tasks::remote::read(cx, &format!("{path}/{REMEMBERED}")).await? else {
        return Ok(a);
    };
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(&bytes) {
        for (k, v) in m {
            if RELOAD_KEYS.contains(&k.as_str())
                && args::str_opt(&a, &[&k]).is_none()
                && let Some(v) = v.as_str()
            {
                a.insert(k, Value::str(v));
            }
        }
    }
    Ok(a)
}
