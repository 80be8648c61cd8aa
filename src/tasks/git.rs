//! `git`: clone or update a checkout to a version, as the task's user. The remote
//! version is read with `git ls-remote` (no fetch) so an up-to-date checkout costs one
//! round trip, and check mode changes nothing.

use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "git",
    file_common: false,
    traits: &[],
    args: &[
        "repo",
        "name",
        "dest",
        "version",
        "key_file",
        "accept_hostkey",
        "accept_newhostkey",
        "ssh_opts",
        "depth",
        "force",
        "update",
        "clone",
        "bare",
        "remote",
        "refspec",
        "reference",
        "track_submodules",
        "recursive",
        "single_branch",
        "umask",
        "executable",
        "verify_commit",
        "archive",
        "archive_prefix",
        "separate_git_dir",
        "gpg_allowlist",
        "gpg_whitelist",
    ],
    required: &["repo|name"],
};

fn is_sha(v: &str) -> bool {
    v.len() >= 7 && v.len() <= 40 && v.chars().all(|c| c.is_ascii_hexdigit())
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let repo = args::str_req(a, &["repo", "name"], "git")?;
    let version = args::str_opt(a, &["version"]).unwrap_or_else(|| "HEAD".into());
    let remote = args::str_opt(a, &["remote"]).unwrap_or_else(|| "origin".into());
    let force = args::bool_opt(a, &["force"])?.unwrap_or(false);
    let update = args::bool_opt(a, &["update"])?.unwrap_or(true);
    let clone = args::bool_opt(a, &["clone"])?.unwrap_or(true);
    // Without dest and with clone=no, only the remote's version is asked for.
    let dest = match args::str_opt(a, &["dest"]) {
        Some(d) => d,
        None if !clone => "/nonexistent/.tprov-git-no-dest".into(),
        None => {
            return Err(fail(
                "the destination directory must be specified unless clone=no",
            ));
        }
    };
    let depth = args::str_opt(a, &["depth"]);
    let git = args::str_opt(a, &["executable"]).unwrap_or_else(|| "git".into());
    // Environment: a deploy key and host key policy for ssh remotes.
    let mut ssh = Vec::new();
    if let Some(k) = args::str_opt(a, &["key_file"]) {
        ssh.push(format!("-i {} -o IdentitiesOnly=yes", sh_quote(&k)));
    }
    if args::bool_opt(a, &["accept_hostkey"])?.unwrap_or(false) {
        ssh.push("-o StrictHostKeyChecking=no".into());
    } else if args::bool_opt(a, &["accept_newhostkey"])?.unwrap_or(false) {
        ssh.push("-o StrictHostKeyChecking=accept-new".into());
    }
    if let Some(o) = args::str_opt(a, &["ssh_opts"]) {
        ssh.push(o);
    }
    let env = if ssh.is_empty() {
        String::new()
    } else {
        format!(
            "GIT_SSH_COMMAND={} ",
            sh_quote(&format!("ssh {}", ssh.join(" ")))
        )
    };
    let g = sh_quote(&git);
    let d = sh_quote(&dest);
    let r = sh_quote(&repo);
    let v = sh_quote(&version);
    // One round trip: the local HEAD (if any), local changes, and the remote's sha.
    let probe = format!(
        "if [ -d {d}/.git ] || [ -f {d}/HEAD ]; then printf 'head=%s\\n' \"$(cd {d} && {g} rev-parse HEAD 2>/dev/null)\"; \
         printf 'dirty=%s\\n' \"$(cd {d} && {g} status --porcelain --untracked-files=no 2>/dev/null | head -c 1)\"; \
         printf 'url=%s\\n' \"$(cd {d} && {g} config --get remote.{rq}.url 2>/dev/null)\"; else echo head=; fi; \
         {ls}",
        rq = sh_quote(&remote),
        ls = if is_sha(&version) {
            format!("echo remote={v}")
        } else {
            format!(
                "{env}{g} ls-remote {r} {refs} 2>/tmp/.tprov-git-err.$$ | awk '{{print \"ref=\" $1 \" \" $2}}'; s=$?; if [ -s /tmp/.tprov-git-err.$$ ]; then sed 's/^/err=/' /tmp/.tprov-git-err.$$; fi; rm -f /tmp/.tprov-git-err.$$",
                refs = if version == "HEAD" {
                    "HEAD".to_string()
                } else {
                    format!(
                        "{v} refs/heads/{0} refs/tags/{0} {1}",
                        version,
                        sh_quote(&format!("refs/tags/{version}^{{}}"))
                    )
                }
            )
        }
    );
    let out = cx.probe.exec(&probe, cx.read_become()).await?;
    let text = out.stdout_str();
    let mut head = None;
    let mut dirty = false;
    let mut url: Option<String> = None;
    let mut remote_sha = None;
    let mut errors = Vec::new();
    let mut refs: Vec<(String, String)> = Vec::new();
    for l in text.lines() {
        if let Some(h) = l.strip_prefix("head=") {
            head = Some(h.to_string()).filter(|h| !h.is_empty());
        } else if let Some(x) = l.strip_prefix("dirty=") {
            dirty = !x.is_empty();
        } else if let Some(x) = l.strip_prefix("url=") {
            url = Some(x.to_string());
        } else if let Some(x) = l.strip_prefix("remote=") {
            remote_sha = Some(x.to_string());
        } else if let Some(x) = l.strip_prefix("ref=") {
            let (sha, name) = x.split_once(' ').unwrap_or((x, ""));
            refs.push((sha.to_string(), name.to_string()));
        } else if let Some(x) = l.strip_prefix("err=") {
            errors.push(x.to_string());
        }
    }
    if remote_sha.is_none() {
        // A peeled tag (`^{}`) points at the commit; prefer it, then branches, then tags.
        remote_sha = refs
            .iter()
            .find(|(_, n)| n.ends_with("^{}"))
            .or_else(|| {
                refs.iter()
                    .find(|(_, n)| n.starts_with("refs/heads/") || n == "HEAD")
            })
            .or_else(|| refs.first())
            .map(|(s, _)| s.clone());
    }
    let mut o = Outcome::default();
    o.result.insert(
        "before".into(),
        head.clone().map_or(Value::Null, Value::Str),
    );
    let Some(want) = remote_sha else {
        // Ansible's words: git's own error (run_command's check_rc), else its own.
        return Err(fail(if errors.is_empty() {
            format!("Could not determine remote revision for {version}")
        } else {
            errors.join("\n")
        }));
    };
    o.result.insert("after".into(), Value::str(want.clone()));
    let branch_like = !is_sha(&version) && version != "HEAD";
    // A checkout of another repository: its remote is pointed at `repo` first, and that
    // alone is a change (Ansible's set_remote_url, `remote_url_changed`).
    let url_changed = head.is_some()
        && update
        && url.as_deref().is_some_and(|u| {
            !u.is_empty() && u.trim_end_matches('/') != repo.trim_end_matches('/')
        });
    if head.is_some() && update {
        o.result
            .insert("remote_url_changed".into(), Value::Bool(url_changed));
    }
    if url_changed {
        o.changed = true;
        if let Some(w) = &cx.writer {
            let rm = sh_quote(&remote);
            super::remote::change(w, &format!("cd {d} && {g} remote set-url {rm} {r}")).await?;
        }
    }
    match head {
        None => {
            // No checkout and none to make: the remote's version is the news.
            if !clone {
                o.changed = true;
                return Ok(o);
            }
            o.changed = true;
            o.diffs.push(Diff {
                before_header: Some(dest.clone()),
                after_header: Some(dest.clone()),
                before: String::new(),
                after: format!("{want}\n"),
            });
            let Some(w) = &cx.writer else {
                cx.sim.dirs.insert(dest.clone());
                cx.sim.checkouts.insert(dest.clone(), want.clone());
                return Ok(o);
            };
            let mut cmd = format!("{env}{g} clone --origin {} ", sh_quote(&remote));
            if let Some(dp) = &depth {
                cmd.push_str(&format!("--depth {} ", sh_quote(dp)));
            }
            if branch_like {
                cmd.push_str(&format!("--branch {v} "));
            }
            if args::bool_opt(a, &["single_branch"])?.unwrap_or(false) {
                cmd.push_str("--single-branch ");
            }
            // An existing empty directory (made by an earlier task) is fine for git.
            cmd.push_str(&format!("{r} {d}"));
            if is_sha(&version) {
                cmd.push_str(&format!(" && cd {d} && {g} checkout --quiet {v}"));
            }
            super::remote::change(w, &cmd).await?;
        }
        Some(h) if h == want => {}
        Some(h) => {
            if !update {
                return Ok(o);
            }
            if dirty && !force {
                return Err(fail(format!(
                    "Local modifications exist in the destination: {dest} (force=no)."
                )));
            }
            o.changed = true;
            o.diffs.push(Diff {
                before_header: Some(dest.clone()),
                after_header: Some(dest.clone()),
                before: format!("{h}\n"),
                after: format!("{want}\n"),
            });
            let Some(w) = &cx.writer else {
                cx.sim.checkouts.insert(dest.clone(), want.clone());
                return Ok(o);
            };
            let force_flag = if force { "--force " } else { "" };
            // Ansible's fetch takes --force too (a tag moved on the remote is taken).
            let rm = sh_quote(&remote);
            let deep = depth
                .as_ref()
                .map_or(String::new(), |n| format!("--depth {} ", sh_quote(n)));
            let is_tag = branch_like
                && !refs
                    .iter()
                    .any(|(_, n)| *n == format!("refs/heads/{version}"))
                && refs
                    .iter()
                    .any(|(_, n)| n.starts_with(&format!("refs/tags/{version}")));
            let cmd = if is_tag {
                // A tag: fetched as itself (a shallow clone has no other way to it).
                format!(
                    "cd {d} && {env}{g} fetch --quiet {force_flag}{deep}{rm} {refspec} && {g} checkout --quiet {force_flag}{}",
                    sh_quote(&want),
                    refspec = sh_quote(&format!("+refs/tags/{version}:refs/tags/{version}")),
                )
            } else if branch_like {
                format!(
                    "cd {d} && {env}{g} fetch --quiet {force_flag}{deep}{rm} {refspec} --tags && {g} checkout --quiet {force_flag}-B {v} {upstream}",
                    refspec = sh_quote(&format!(
                        "+refs/heads/{version}:refs/remotes/{remote}/{version}"
                    )),
                    upstream = sh_quote(&format!("{remote}/{version}")),
                )
            } else {
                format!(
                    "cd {d} && {env}{g} fetch --quiet {force_flag}{rm} --tags && {g} checkout --quiet {force_flag}{}",
                    sh_quote(&want)
                )
            };
            super::remote::change(w, &cmd).await?;
        }
    }
    // Ansible checks the signature of the version after every clone or switch (not in
    // check mode): `git verify-tag` for an annotated tag, else `git verify-commit`.
    if args::bool_opt(a, &["verify_commit"])?.unwrap_or(false) && !cx.check() {
        let allow: Vec<String> = match a.get("gpg_allowlist").or_else(|| a.get("gpg_whitelist")) {
            Some(Value::List(l)) => l.iter().map(Value::py_str).collect(),
            Some(Value::Str(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        };
        let raw = if allow.is_empty() { "" } else { " --raw" };
        let tag = sh_quote(&format!("refs/tags/{version}"));
        let script = format!(
            "cd {d} && {env}if [ \"$({g} for-each-ref --format='%(objecttype)' {tag})\" = tag ]; \
             then {g} verify-tag{raw} {v}; else {g} verify-commit{raw} {v}; fi",
            env = cx.env_prefix(),
        );
        let res = cx.probe.exec(&script, cx.read_become()).await?;
        if !res.ok() {
            return Err(fail(format!(
                "Failed to verify GPG signature of commit/tag \"{version}\""
            )));
        }
        if !allow.is_empty() {
            let err = String::from_utf8_lossy(&res.stderr);
            let fingerprint = err.lines().find_map(|l| {
                let data: Vec<&str> = l.split_whitespace().collect();
                (data.get(1) == Some(&"VALIDSIG"))
                    .then(|| {
                        data.get(if data.len() == 11 { 11 } else { 2 })
                            .map(|s| (*s).to_string())
                    })
                    .flatten()
            });
            let fingerprint = fingerprint.unwrap_or_default();
            if !allow.contains(&fingerprint) {
                return Err(fail(format!(
                    "The gpg_allowlist does not include the public key \"{fingerprint}\" for this commit"
                )));
            }
        }
    }
    Ok(o)
}
