//! `release`: timestamped releases behind an atomic `current` link (seed 004, the layout
//! of Capistrano and Deployer). `path` holds `releases/<UTC timestamp>-<short commit>/`,
//! `shared/` and `current -> releases/NAME`. A deploy exports the commit from a git work
//! tree on the host (`src`), links the shared files and directories in, runs the build
//! step inside the new release, then switches `current` by renaming a new link over it
//! (never rm then ln), reloads PM2 and checks that the app answers from the new release.
//! A release that does not answer is marked bad, `current` goes back to the previous
//! one, and the task fails. `state: rollback` re-points `current` to the previous good
//! release; `state: list` only reads. Old releases are removed beyond `keep`, never the
//! current one, the previous good one, or one a live process runs in.

use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "release",
    args: &[
        "path",
        "src",
        "version",
        "state",
        "to",
        "keep",
        "shared_dirs",
        "shared_files",
        "build",
        "ecosystem",
        "node_version",
        "nvm_dir",
        "executable",
        "pm2_home",
        "health_url",
        "health_timeout",
    ],
    required: &["path"],
};

/// A marker inside a release that failed or was rolled back from: never switched to
/// again by a rollback.
const BAD: &str = ".tprov-bad";
/// A marker inside a release still being built: debris if a run died, removed later.
const BUILDING: &str = ".tprov-building";

#[derive(Debug, Clone)]
struct Release {
    name: String,
    bad: bool,
    building: bool,
}

/// What the host holds before the task.
#[derive(Debug, Default)]
struct State {
    /// The commit `version` names in `src` (None: not resolvable yet).
    commit: Option<String>,
    current: Option<String>,
    /// `current` exists and is no link (a directory someone made by hand).
    current_not_link: bool,
    /// Oldest first (names begin with the UTC timestamp).
    releases: Vec<Release>,
    /// Releases some process has its working directory in.
    in_use: Vec<String>,
}

impl State {
    fn release(&self, name: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.name == name)
    }

    /// The newest good release older than `current` (the rollback target).
    fn previous_good(&self) -> Option<&Release> {
        let cur = self.current.as_deref()?;
        self.releases
            .iter()
            .rev()
            .skip_while(|r| r.name != cur)
            .skip(1)
            .find(|r| !r.bad && !r.building)
    }
}

async fn probe(
    cx: &Cx<'_>,
    path: &str,
    src: Option<&str>,
    version: &str,
) -> Result<State, TaskError> {
    let rev = src.map_or(String::new(), |s| {
        format!(
            "c=$(git -C {} rev-parse --verify -q {} 2>/dev/null) && echo \"commit=$c\"; ",
            sh_quote(s),
            sh_quote(&format!("{version}^{{commit}}"))
        )
    });
    let script = format!(
        "p={p}; {rev}\
         if [ -L \"$p/current\" ]; then echo \"current=$(basename \"$(readlink \"$p/current\")\")\"; \
         elif [ -e \"$p/current\" ]; then echo current_not_link=1; fi; \
         for d in \"$p\"/releases/*/; do [ -d \"$d\" ] || continue; f=; \
         [ -e \"$d{BAD}\" ] && f=\"$f bad\"; [ -e \"$d{BUILDING}\" ] && f=\"$f building\"; \
         echo \"release=$(basename \"$d\")$f\"; done; \
         r=$(readlink -f \"$p\")/releases/; \
         for c in /proc/[0-9]*/cwd; do l=$(readlink \"$c\" 2>/dev/null) || continue; \
         case \"$l/\" in \"$r\"*) l=${{l#\"$r\"}}; echo \"in_use=${{l%%/*}}\";; esac; done; true",
        p = sh_quote(path),
    );
    let out = super::remote::query(cx, &script, &format!("read the releases in {path}")).await?;
    let mut s = State::default();
    for line in out.stdout_str().lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "commit" => s.commit = Some(v.trim().to_string()),
            "current" => s.current = Some(v.trim().to_string()),
            "current_not_link" => s.current_not_link = true,
            "in_use" if !s.in_use.iter().any(|u| u == v) => s.in_use.push(v.to_string()),
            "release" => {
                let mut words = v.split(' ');
                let name = words.next().unwrap_or_default().to_string();
                let flags: Vec<&str> = words.collect();
                s.releases.push(Release {
                    name,
                    bad: flags.contains(&"bad"),
                    building: flags.contains(&"building"),
                });
            }
            _ => {}
        }
    }
    s.releases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(s)
}

/// The release names to remove: beyond the newest `keep`, and any unfinished build;
/// never `keep_always` (the current release, the previous good one, those in use).
fn to_remove(s: &State, keep: usize, keep_always: &[&str]) -> Vec<String> {
    let finished: Vec<&Release> = s.releases.iter().filter(|r| !r.building).collect();
    let old = finished.len().saturating_sub(keep);
    finished[..old]
        .iter()
        .chain(
            s.releases
                .iter()
                .filter(|r| r.building)
                .collect::<Vec<_>>()
                .iter(),
        )
        .map(|r| r.name.clone())
        .filter(|n| !keep_always.contains(&n.as_str()) && !s.in_use.contains(n))
        .collect()
}

fn listing(s: &State, current: Option<&str>, removed: &[String], added: Option<&str>) -> String {
    let mut names: Vec<&str> = s
        .releases
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !removed.iter().any(|r| r == n))
        .collect();
    if let Some(a) = added.filter(|a| !names.contains(a)) {
        names.push(a);
    }
    names.sort_unstable();
    let mut text = format!(
        "current -> {}\n",
        current.map_or("(none)".into(), |c| format!("releases/{c}"))
    );
    for n in names {
        let bad = s.release(n).is_some_and(|r| r.bad);
        text.push_str(&format!(
            "releases/{n}{}\n",
            if bad { " (bad)" } else { "" }
        ));
    }
    text
}

fn release_value(s: &State) -> Value {
    Value::List(
        s.releases
            .iter()
            .map(|r| {
                let mut m = Map::default();
                m.insert("name".into(), Value::str(r.name.clone()));
                m.insert(
                    "current".into(),
                    Value::Bool(s.current.as_deref() == Some(&r.name)),
                );
                m.insert("bad".into(), Value::Bool(r.bad));
                m.insert("building".into(), Value::Bool(r.building));
                Value::Map(m)
            })
            .collect(),
    )
}

fn keep_arg(a: &Map) -> Result<usize, TaskError> {
    match args::str_opt(a, &["keep"]) {
        None => Ok(5),
        Some(k) => match k.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(fail(format!(
                "release: keep must be a whole number of at least 1, got {k:?}"
            ))),
        },
    }
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let path = args::str_req(a, &["path"], "release")?;
    let path = path.trim_end_matches('/').to_string();
    if !path.starts_with('/') {
        return Err(fail(format!(
            "release: path must be absolute, got {path:?}"
        )));
    }
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "present".into());
    let keep = keep_arg(a)?;
    let src = args::str_opt(a, &["src"]);
    let version = args::str_opt(a, &["version"]).unwrap_or_else(|| "HEAD".into());
    let mut s = probe(cx, &path, src.as_deref(), &version).await?;
    // Check mode: an earlier git task would move the work tree to this commit.
    if version == "HEAD"
        && let Some(c) = src.as_ref().and_then(|d| cx.sim.checkouts.get(d))
    {
        s.commit = Some(c.clone());
    }
    if s.current_not_link {
        return Err(fail(format!(
            "release: {path}/current is not a link: move it away before the first release"
        )));
    }
    let mut o = Outcome::default();
    o.result.insert("path".into(), Value::str(path.clone()));
    o.result.insert("releases".into(), release_value(&s));
    o.result.insert(
        "previous".into(),
        s.current.clone().map_or(Value::Null, Value::str),
    );
    match state.as_str() {
        "list" => {
            o.result.insert(
                "release".into(),
                s.current.clone().map_or(Value::Null, Value::str),
            );
            Ok(o)
        }
        "present" => deploy(a, cx, &path, &s, keep, src.as_deref(), &version, o).await,
        "rollback" => {
            let a = recalled(a, cx, &path).await?;
            rollback(&a, cx, &path, &s, keep, o).await
        }
        other => Err(fail(format!(
            "release: state must be one of present, rollback, list; got {other}"
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
async fn deploy(
    a: &Map,
    cx: &mut Cx<'_>,
    path: &str,
    s: &State,
    keep: usize,
    src: Option<&str>,
    version: &str,
    mut o: Outcome,
) -> Result<Outcome, TaskError> {
    let Some(src) = src else {
        return Err(fail(
            "release: state=present needs src (a git work tree on the host)",
        ));
    };
    let commit = match (&s.commit, cx.check()) {
        (Some(c), _) => c.clone(),
        // The work tree may only exist once an earlier task ran: say what would happen.
        (None, true) => {
            o.changed = true;
            o.diffs.push(Diff {
                before_header: Some(format!("{path}/current")),
                after_header: Some(format!("{path}/current")),
                before: listing(s, s.current.as_deref(), &[], None),
                after: format!("current -> releases/<UTC timestamp>-{version} (a new release of {version} from {src})\n"),
            });
            return Ok(o);
        }
        (None, false) => {
            return Err(fail(format!(
                "release: {version:?} names no commit in {src}"
            )));
        }
    };
    let short = commit.get(..7).unwrap_or(&commit).to_string();
    o.result.insert("commit".into(), Value::str(commit.clone()));
    let suffix = format!("-{short}");
    // Already live, or built before and good: switch to it instead of building again.
    let existing = s
        .releases
        .iter()
        .rev()
        .find(|r| r.name.ends_with(&suffix) && !r.bad && !r.building)
        .map(|r| r.name.clone());
    let name = existing
        .clone()
        .unwrap_or_else(|| format!("{}{suffix}", chrono::Utc::now().format("%Y%m%d%H%M%S")));
    o.result.insert("release".into(), Value::str(name.clone()));
    let switching = s.current.as_deref() != Some(name.as_str());
    let previous = if switching {
        s.current.clone()
    } else {
        s.previous_good().map(|r| r.name.clone())
    };
    let always: Vec<&str> = [Some(name.as_str()), previous.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let removed = to_remove(
        s,
        keep.saturating_sub(usize::from(existing.is_none())),
        &always,
    );
    o.result.insert(
        "removed".into(),
        Value::List(removed.iter().cloned().map(Value::str).collect()),
    );
    if !switching && removed.is_empty() {
        return Ok(o);
    }
    o.changed = true;
    o.diffs.push(Diff {
        before_header: Some(format!("{path}/current")),
        after_header: Some(format!("{path}/current")),
        before: listing(s, s.current.as_deref(), &[], None),
        after: listing(s, Some(&name), &removed, Some(&name)),
    });
    if cx.check() {
        return Ok(o);
    }
    if existing.is_none() {
        build(a, cx, path, src, &commit, &name).await?;
    }
    if switching && let Err(why) = canary(a, cx, path, &name).await? {
        let bad = format!(
            "touch {}",
            sh_quote(&format!("{path}/releases/{name}/{BAD}"))
        );
        super::remote::change(cx.writer()?, &bad).await?;
        return Err(fail(format!(
            "release: {name} did not start ({why}); it is marked bad, and nothing was switched"
        )));
    }
    if switching {
        switch(cx.writer()?, path, &name).await?;
        if let Err(why) = reload(a, cx, path, &name).await? {
            return Err(revert(a, cx, path, &name, previous.as_deref(), &why).await);
        }
    }
    remove(cx.writer()?, path, &removed).await?;
    remember(a, cx, path).await?;
    Ok(o)
}

/// The new release directory: the commit exported from the work tree, the shared paths
/// linked in, `REVISION`, then the build step; removed again when any of it fails.
async fn build(
    a: &Map,
    cx: &Cx<'_>,
    path: &str,
    src: &str,
    commit: &str,
    name: &str,
) -> Result<(), TaskError> {
    let mut links = String::new();
    for (dirs, list) in [
        (true, args::list_opt(a, &["shared_dirs"])),
        (false, args::list_opt(a, &["shared_files"])),
    ] {
        for item in list.unwrap_or_default() {
            let item = item.trim_matches('/');
            if item.is_empty() || item.split('/').any(|c| c == ".." || c == ".") {
                return Err(fail(format!(
                    "release: a shared path must be relative and plain, got {item:?}"
                )));
            }
            let q = sh_quote(item);
            if dirs {
                links.push_str(&format!("mkdir -p \"$p/shared/\"{q} && "));
            } else {
                links.push_str(&format!(
                    "{{ [ -e \"$p/shared/\"{q} ] || {{ echo \"$p/shared/\"{q}' is missing (a shared file must exist before a release)' >&2; false; }}; }} && "
                ));
            }
            links.push_str(&format!(
                "rm -rf \"$r/\"{q} && mkdir -p \"$(dirname \"$r/\"{q})\" && ln -s \"$p/shared/\"{q} \"$r/\"{q} && "
            ));
        }
    }
    let script = format!(
        "set -e; p={p}; r=\"$p/releases/\"{n}; mkdir -p \"$p/releases\" \"$p/shared\"; \
         mkdir \"$r\"; : > \"$r/{BUILDING}\"; \
         t=\"$r/.tprov-archive.tar\"; \
         if ! {{ git -C {src} archive --format=tar -o \"$t\" {c} && tar -x -C \"$r\" -f \"$t\" && rm -f \"$t\" && {links}true; }}; then rm -rf \"$r\"; exit 1; fi; \
         printf '%s\\n' {c} > \"$r/REVISION\"",
        p = sh_quote(path),
        n = sh_quote(name),
        src = sh_quote(src),
        c = sh_quote(commit),
    );
    let w = cx.writer()?;
    super::remote::change(w, &script).await?;
    let dir = format!("{path}/releases/{name}");
    if let Some(step) = args::str_opt(a, &["build"]) {
        let run = format!("cd {} && {}{step}", sh_quote(&dir), cx.env_prefix());
        let out = w.exec(&run).await?;
        if !out.ok() {
            let _ = w.exec(&format!("rm -rf {}", sh_quote(&dir))).await;
            let why = super::remote::changed_ok(out).err().map(|e| match e {
                TaskError::Failed(m) | TaskError::Unreachable(m) => m,
            });
            return Err(fail(format!(
                "release: the build step failed in {dir}, which was removed:\n{}",
                why.unwrap_or_default()
            )));
        }
    }
    super::remote::change(
        w,
        &format!("rm -f {}", sh_quote(&format!("{dir}/{BUILDING}"))),
    )
    .await?;
    Ok(())
}

/// `current` -> `releases/NAME`, atomically: a new link renamed over the old one.
async fn switch(w: &super::access::Writer<'_>, path: &str, name: &str) -> Result<(), TaskError> {
    let script = format!(
        "set -e; p={p}; t=\"$p/.current.tprov-$$\"; ln -sfn \"$p/releases/\"{n} \"$t\"; mv -T \"$t\" \"$p/current\"",
        p = sh_quote(path),
        n = sh_quote(name),
    );
    super::remote::change(w, &script).await.map(|_| ())
}

/// Before a cluster reload: one extra worker of the new release (its own name, run from
/// `releases/NAME` itself) joins the running cluster. PM2's reload replaces a worker whose
/// successor never gets ready once `listen_timeout` passes, so a release that crashes at
/// start would take every worker down one by one; the canary finds that out while the
/// old workers still serve, and it is deleted either way. `Ok(Err(why))`: it did not
/// stay up. Apps in fork mode, or not running yet, have no canary.
async fn canary(
    a: &Map,
    cx: &mut Cx<'_>,
    path: &str,
    name: &str,
) -> Result<Result<(), String>, TaskError> {
    let Some(eco) = args::str_opt(a, &["ecosystem"]) else {
        return Ok(Ok(()));
    };
    let Some(bytes) = super::remote::read(cx, &eco).await? else {
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
        || super::pm2::worker_dirs(&pm2, cx, &app_name, path)
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
    let (env, bin) = super::pm2::env_prefix(&pm2);
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
    let out = super::remote::change(cx.writer()?, &script).await?;
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
    for k in [
        "node_version",
        "nvm_dir",
        "executable",
        "pm2_home",
        "health_url",
        "health_timeout",
    ] {
        if let Some(v) = a.get(k).filter(|v| !matches!(v, Value::Null)) {
            pm2.insert(k.into(), v.clone());
        }
    }
    pm2
}

/// After a switch: PM2 reloaded from its ecosystem file (when there is one), the app
/// answering, and every worker running in `releases/NAME` (PM2 can keep a resolved
/// old directory). `Ok(Err(why))`: the release is not serving.
async fn reload(
    a: &Map,
    cx: &mut Cx<'_>,
    path: &str,
    name: &str,
) -> Result<Result<(), String>, TaskError> {
    let Some(eco) = args::str_opt(a, &["ecosystem"]) else {
        return Ok(match args::str_opt(a, &["health_url"]) {
            Some(u) if !super::pm2::healthy(cx, &u, super::pm2::health_timeout(a)).await? => {
                Err(format!("{u} did not answer"))
            }
            _ => Ok(()),
        });
    };
    let pm2 = pm2_args(a, &eco);
    let done = match super::pm2::run(&pm2, cx).await {
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
        super::pm2::worker_dirs(&pm2, cx, &app, &format!("{path}/releases/{name}")).await?;
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
async fn revert(
    a: &Map,
    cx: &mut Cx<'_>,
    path: &str,
    name: &str,
    previous: Option<&str>,
    why: &str,
) -> TaskError {
    let steps = async {
        super::remote::change(
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

async fn remove(
    w: &super::access::Writer<'_>,
    path: &str,
    names: &[String],
) -> Result<(), TaskError> {
    if names.is_empty() {
        return Ok(());
    }
    let dirs: Vec<String> = names
        .iter()
        .map(|n| sh_quote(&format!("{path}/releases/{n}")))
        .collect();
    super::remote::change(w, &format!("rm -rf -- {}", dirs.join(" ")))
        .await
        .map(|_| ())
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

async fn remember(a: &Map, cx: &Cx<'_>, path: &str) -> Result<(), TaskError> {
    let mut m = serde_json::Map::new();
    for k in RELOAD_KEYS {
        if let Some(v) = args::str_opt(a, &[k]) {
            m.insert(k.into(), v.into());
        }
    }
    let text = serde_json::Value::Object(m).to_string();
    let file = format!("{path}/{REMEMBERED}");
    if super::remote::read(cx, &file).await?.as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    cx.writer()?
        .write_file(&file, text.as_bytes(), "", false)
        .await?;
    Ok(())
}

/// The task's arguments, with what the last deploy remembered for those it lacks.
async fn recalled(a: &Map, cx: &Cx<'_>, path: &str) -> Result<Map, TaskError> {
    let mut a = a.clone();
    let Some(bytes) = super::remote::read(cx, &format!("{path}/{REMEMBERED}")).await? else {
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

async fn rollback(
    a: &Map,
    cx: &mut Cx<'_>,
    path: &str,
    s: &State,
    keep: usize,
    mut o: Outcome,
) -> Result<Outcome, TaskError> {
    let Some(current) = s.current.clone() else {
        return Err(fail(format!(
            "release: {path} has no current release to roll back from"
        )));
    };
    let target = match args::str_opt(a, &["to"]) {
        Some(to) => match s.release(&to) {
            Some(r) if r.building => return Err(fail(format!("release: {to} was never finished"))),
            Some(r) => r.name.clone(),
            None => {
                return Err(fail(format!(
                    "release: {path}/releases/{to} does not exist"
                )));
            }
        },
        None => match s.previous_good() {
            Some(r) => r.name.clone(),
            None => {
                return Err(fail(format!(
                    "release: no good release before {current} in {path} to roll back to"
                )));
            }
        },
    };
    o.result
        .insert("release".into(), Value::str(target.clone()));
    o.result.insert("removed".into(), Value::List(Vec::new()));
    if target == current {
        return Ok(o);
    }
    let _ = keep;
    o.changed = true;
    o.diffs.push(Diff {
        before_header: Some(format!("{path}/current")),
        after_header: Some(format!("{path}/current")),
        before: listing(s, Some(&current), &[], None),
        after: listing(s, Some(&target), &[], None),
    });
    let Some(w) = &cx.writer else {
        return Ok(o);
    };
    // The release rolled back from is not one to come back to by another rollback.
    let bad = format!(
        "touch {}",
        sh_quote(&format!("{path}/releases/{current}/{BAD}"))
    );
    super::remote::change(w, &bad).await?;
    switch(w, path, &target).await?;
    if let Err(why) = reload(a, cx, path, &target).await? {
        return Err(fail(format!(
            "release: rolled back to {target}, but it does not serve ({why})"
        )));
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(names: &[(&str, bool, bool)], current: &str, in_use: &[&str]) -> State {
        State {
            commit: None,
            current: Some(current.into()),
            current_not_link: false,
            releases: names
                .iter()
                .map(|(n, bad, building)| Release {
                    name: (*n).into(),
                    bad: *bad,
                    building: *building,
                })
                .collect(),
            in_use: in_use.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    #[test]
    fn rollback_skips_bad_releases() {
        let s = state(
            &[
                ("1-a", false, false),
                ("2-b", true, false),
                ("3-c", false, false),
            ],
            "3-c",
            &[],
        );
        assert_eq!(s.previous_good().map(|r| r.name.as_str()), Some("1-a"));
        let s = state(&[("1-a", false, false)], "1-a", &[]);
        assert!(s.previous_good().is_none());
    }

    #[test]
    fn cleanup_keeps_current_previous_and_live_releases() {
        let s = state(
            &[
                ("1-a", false, false),
                ("2-b", false, false),
                ("3-c", false, false),
                ("4-d", false, true),
                ("5-e", false, false),
            ],
            "5-e",
            &["2-b"],
        );
        // keep 1: 1-a goes; 2-b is in use, 3-c is the previous good one; 4-d is debris.
        assert_eq!(to_remove(&s, 1, &["5-e", "3-c"]), ["1-a", "4-d"]);
        assert!(to_remove(&s, 5, &["5-e"]).contains(&"4-d".to_string()));
    }
}
