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

mod build;
mod reload;

use build::{build, remove, switch};
use reload::{canary, recalled, reload, remember, revert};

pub(super) const SPEC: Spec = Spec {
    name: "release",
    file_common: false,
    traits: &[],
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
            rollback(&a, cx, &path, &s, o).await
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

async fn rollback(
    a: &Map,
    cx: &mut Cx<'_>,
    path: &str,
    s: &State,
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
