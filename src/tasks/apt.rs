//! `apt`: Debian packages through apt-get, deciding as Ansible's apt module decides
//! (modules/apt.py): a package's status from dpkg, its candidate from apt's policy
//! (pins, `default_release`, `name=VERSION` with wildcards, `name>=VERSION`), the same
//! apt-get command lines, `--simulate` in check mode, the cache updated only when older
//! than `cache_valid_time`, apt's lock waited for (`lock_timeout`), the same results.

mod exec;
mod status;
mod version;

use exec::{apt_get, dpkg_options, failed, prepared, upgrade, with_output};
use status::{Status, decide, glob, parse_status, split_spec, status_script};

use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "apt",
    file_common: false,
    traits: &[],
    args: &[
        "state",
        "update_cache",
        "update-cache",
        "update_cache_retries",
        "update_cache_retry_max_delay",
        "cache_valid_time",
        "purge",
        "package",
        "pkg",
        "name",
        "deb",
        "default_release",
        "default-release",
        "install_recommends",
        "install-recommends",
        "force",
        "upgrade",
        "dpkg_options",
        "autoremove",
        "autoclean",
        "fail_on_autoremove",
        "policy_rc_d",
        "only_upgrade",
        "force_apt_get",
        "clean",
        "allow_unauthenticated",
        "allow-unauthenticated",
        "allow_downgrade",
        "allow-downgrade",
        "allow_downgrades",
        "allow-downgrades",
        "allow_change_held_packages",
        "lock_timeout",
        "auto_install_module_deps",
    ],
    required: &[],
};

/// `package`: Ansible's generic package action, which on Debian runs `apt` with the
/// task's arguments (less `use`).
pub(super) const PACKAGE_SPEC: Spec = Spec {
    name: "package",
    file_common: false,
    traits: &[],
    args: &[
        "use",
        "name",
        "pkg",
        "package",
        "state",
        "update_cache",
        "update-cache",
        "cache_valid_time",
        "purge",
        "default_release",
        "default-release",
        "install_recommends",
        "install-recommends",
        "force",
        "upgrade",
        "dpkg_options",
        "autoremove",
        "fail_on_autoremove",
        "policy_rc_d",
        "only_upgrade",
        "lock_timeout",
        "allow_unauthenticated",
        "allow_downgrade",
        "allow_change_held_packages",
    ],
    required: &["name"],
};

pub(super) async fn run_package(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let mut args = a.clone();
    match args.shift_remove("use").map(|v| v.py_str()) {
        None => {}
        Some(u) if u == "auto" || u == "apt" => {}
        Some(u) => {
            return Err(fail(format!(
                "tprov's package runs apt (Debian's manager), not {u}"
            )));
        }
    }
    run(&args, cx).await
}

/// Where apt records its last successful update, and the lists it falls back to.
const STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";
const LISTS: &str = "/var/lib/apt/lists";

/// The line apt-get prints when an upgrade has nothing to do.
const ZERO: &str = "\n0 upgraded, 0 newly installed, 0 to remove";

/// What apt-get runs with, as Ansible sets it (a parsable locale, no prompts).
const ENV: &str = "export DEBIAN_FRONTEND=noninteractive DEBIAN_PRIORITY=critical LANG=C.UTF-8 LC_ALL=C.UTF-8 LC_MESSAGES=C.UTF-8 LC_CTYPE=C.UTF-8 LANGUAGE=C.UTF-8; ";

fn bool_arg(a: &Map, keys: &[&str]) -> Result<bool, TaskError> {
    Ok(args::bool_opt(a, keys)?.unwrap_or(false))
}

#[allow(clippy::too_many_lines)]
pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let state = args::choice(
        a,
        "state",
        &["absent", "build-dep", "fixed", "latest", "present"],
    )?
    .unwrap_or_else(|| "present".into());
    let upgrade_mode = args::choice(a, "upgrade", &["dist", "full", "no", "safe", "yes"])?
        .unwrap_or_else(|| "no".into());
    let given = |keys: &[&str]| {
        keys.iter()
            .any(|k| !matches!(a.get(*k), None | Some(Value::Null)))
    };
    let package_keys = ["package", "pkg", "name"];
    let exclusive = [given(&["deb"]), given(&package_keys), given(&["upgrade"])];
    if exclusive.iter().filter(|b| **b).count() > 1 {
        return Err(fail(
            "parameters are mutually exclusive: deb|package|upgrade",
        ));
    }
    if !given(&[
        "autoremove",
        "deb",
        "package",
        "pkg",
        "name",
        "update_cache",
        "update-cache",
        "upgrade",
    ]) {
        return Err(fail(
            "one of the following is required: autoremove, deb, package, update_cache, upgrade",
        ));
    }
    if given(&["deb"])
        || matches!(state.as_str(), "build-dep" | "fixed")
        || bool_arg(a, &["clean"])?
        || bool_arg(a, &["autoclean"])?
    {
        return Err(fail(
            "tprov's apt does not do deb, build-dep, fixed, clean or autoclean yet",
        ));
    }
    let packages: Vec<String> = args::list_opt(a, &package_keys).unwrap_or_default();
    for p in &packages {
        if p.matches('=').count() > 1 {
            return Err(fail(format!("invalid package spec: {p}")));
        }
    }
    let release = args::str_opt(a, &["default_release", "default-release"]);
    let recommends = args::bool_opt(a, &["install_recommends", "install-recommends"])?;
    let force = bool_arg(a, &["force"])?;
    let purge = bool_arg(a, &["purge"])?;
    let autoremove = bool_arg(a, &["autoremove"])?;
    let fail_on_autoremove = bool_arg(a, &["fail_on_autoremove"])?;
    let only_upgrade = bool_arg(a, &["only_upgrade"])?;
    let unauthenticated = bool_arg(a, &["allow_unauthenticated", "allow-unauthenticated"])?;
    let downgrade = bool_arg(
        a,
        &[
            "allow_downgrade",
            "allow-downgrade",
            "allow_downgrades",
            "allow-downgrades",
        ],
    )?;
    let held = bool_arg(a, &["allow_change_held_packages"])?;
    let policy_rc_d = match a.get("policy_rc_d") {
        None | Some(Value::Null) => None,
        Some(_) => Some(args::int_or(a, "policy_rc_d", 0)?),
    };
    let update_cache = bool_arg(a, &["update_cache", "update-cache"])?;
    let valid_time = args::int_or(a, "cache_valid_time", 0)?;
    let dpkg = dpkg_options(a)?;
    let check = cx.check();
    let check_arg = if check { "--simulate" } else { "" };

    // The cache's age, and where apt-get is.
    let probe = format!(
        "command -v apt-get || exit 3; stat -c %Y {STAMP} 2>/dev/null || stat -c %Y {LISTS} 2>/dev/null || echo 0; date +%s"
    );
    let out = cx.probe.exec(&probe, cx.read_become()).await?;
    if out.rc() == 3 {
        return Ok(failed(
            "Failed to find required executable \"apt-get\" in paths: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            None,
        ));
    }
    let text = out.stdout_str();
    let mut l = text.lines();
    let apt = l.next().unwrap_or("/usr/bin/apt-get").trim().to_string();
    let mut cache_time: i64 = l.next().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let now: i64 = l.next().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let mut updated = false;
    if (update_cache || valid_time > 0) && cache_time + valid_time < now {
        if let Some(w) = &cx.writer {
            let mut ok = false;
            let mut err = String::new();
            for _ in 0..args::int_or(a, "update_cache_retries", 5)?.max(1) {
                let o = w
                    .exec(&format!(
                        "{ENV}apt-get update -q -o DPkg::Lock::Timeout={} >&2; r=$?; stat -c %Y {STAMP} 2>/dev/null || stat -c %Y {LISTS} 2>/dev/null || echo 0; exit $r",
                        args::int_or(a, "lock_timeout", 60)?
                    ))
                    .await?;
                if o.ok() {
                    let t = o.stdout_str().trim().parse().unwrap_or(cache_time);
                    updated = t != cache_time;
                    cache_time = t;
                    ok = true;
                    break;
                }
                err = o.stderr_str().trim().to_string();
            }
            if !ok {
                return Ok(failed(
                    format!(
                        "Failed to update apt cache after {} retries: {}",
                        args::int_or(a, "update_cache_retries", 5)?,
                        if err.is_empty() {
                            "unknown reason"
                        } else {
                            &err
                        }
                    ),
                    None,
                ));
            }
        } else {
            updated = true;
        }
        if packages.is_empty() && upgrade_mode == "no" {
            let mut out = Outcome::changed(updated);
            out.result
                .insert("cache_updated".into(), Value::Bool(updated));
            out.result
                .insert("cache_update_time".into(), Value::Int(cache_time));
            return Ok(out);
        }
    }
    let cache_keys = |mut out: Outcome| {
        out.result
            .insert("cache_updated".into(), Value::Bool(updated));
        out.result
            .insert("cache_update_time".into(), Value::Int(cache_time));
        out
    };

    let force_yes = if force { "--force-yes" } else { "" };
    let auto_remove = if autoremove { "--auto-remove" } else { "" };
    let no_remove = if fail_on_autoremove {
        "--no-remove"
    } else {
        ""
    };
    let release_arg = release
        .as_deref()
        .map_or(String::new(), |r| format!(" -t '{r}'"));

    let upgrade_flags = format!(
        "{dpkg} {force_yes} {no_remove} {} {} {check_arg}",
        if unauthenticated {
            "--allow-unauthenticated"
        } else {
            ""
        },
        if downgrade { "--allow-downgrades" } else { "" },
    );
    let upgrade_command = |mode: &str| {
        if matches!(mode, "dist" | "full") {
            format!("dist-upgrade {auto_remove}")
        } else {
            format!("upgrade --with-new-pkgs {auto_remove}")
        }
    };
    if upgrade_mode != "no" {
        let command = upgrade_command(&upgrade_mode);
        return upgrade(
            cx,
            &apt,
            &upgrade_flags,
            &command,
            &release_arg,
            policy_rc_d,
        )
        .await;
    }

    // Wildcards in names: every (native) package apt knows that matches.
    let mut specs: Vec<String> = Vec::new();
    let wild: Vec<&String> = packages
        .iter()
        .filter(|p| split_spec(p).0.contains(['*', '?', '[', ']', '!']))
        .collect();
    let known_names: Vec<String> = if wild.is_empty() {
        Vec::new()
    } else {
        cx.probe
            .exec("apt-cache pkgnames 2>/dev/null | sort", cx.read_become())
            .await?
            .stdout_str()
            .lines()
            .map(str::to_string)
            .collect()
    };
    for p in &packages {
        let p = p.trim();
        if p == "*" {
            continue;
        }
        let (name, _, _) = split_spec(p);
        if name.contains(['*', '?', '[', ']', '!']) {
            let m: Vec<String> = known_names
                .iter()
                .filter(|k| (name.contains(':') || !k.contains(':')) && glob(name, k))
                .cloned()
                .collect();
            if m.is_empty() {
                return Ok(failed(
                    format!("No package(s) matching '{name}' available"),
                    None,
                ));
            }
            specs.extend(m);
        } else {
            specs.push(p.to_string());
        }
    }
    if packages.iter().any(|p| p == "*") && state == "latest" {
        if !specs.is_empty() {
            return Ok(failed(
                "unable to install additional packages when upgrading all installed packages"
                    .into(),
                None,
            ));
        }
        let command = upgrade_command("yes");
        return upgrade(
            cx,
            &apt,
            &upgrade_flags,
            &command,
            &release_arg,
            policy_rc_d,
        )
        .await;
    }
    if specs.is_empty() && autoremove {
        let cmd = format!(
            "{apt} -y {dpkg} {} {force_yes} {check_arg} autoremove",
            if purge { "--purge" } else { "" }
        );
        let o = apt_get(cx, &cmd, policy_rc_d).await?;
        if !o.ok() {
            return Ok(failed(
                format!("'{cmd}' failed: {}", o.stderr_str()),
                Some(&o),
            ));
        }
        let so = o.stdout_str();
        return Ok(with_output(Outcome::changed(!so.contains(ZERO)), &o));
    }

    let names: Vec<&str> = specs.iter().map(|s| split_spec(s).0).collect();
    let report = cx
        .probe
        .exec(&status_script(&names, release.as_deref()), cx.read_become())
        .await?
        .stdout_str();
    let statuses: Vec<Status> = report.split("@@pkg\n").skip(1).map(parse_status).collect();

    if state == "absent" {
        let mut list = Vec::new();
        for (spec, st) in specs.iter().zip(&statuses) {
            let (_, cmp, want) = split_spec(spec);
            let (_, version_installed, _) = decide(st, cmp, want);
            if version_installed || (st.has_files && purge) {
                list.push(format!("'{spec}'"));
            }
        }
        if list.is_empty() {
            return Ok(Outcome::default());
        }
        let packages = list.join(" ");
        let cmd = format!(
            "{apt} -q -y {dpkg} {} {force_yes} {auto_remove} {check_arg} {} remove {packages}",
            if purge { "--purge" } else { "" },
            if held {
                "--allow-change-held-packages"
            } else {
                ""
            },
        );
        let o = apt_get(cx, &cmd, policy_rc_d).await?;
        if !o.ok() {
            return Ok(failed(
                format!("'apt-get remove {packages}' failed: {}", o.stderr_str()),
                Some(&o),
            ));
        }
        let mut out = with_output(Outcome::changed(true), &o);
        out.result
            .insert("diff".into(), prepared(cx, &o.stdout_str()));
        return Ok(out);
    }

    let upgrade = state == "latest";
    let mut list = Vec::new();
    let mut manual = Vec::new();
    for (spec, st) in specs.iter().zip(&statuses) {
        let (name, cmp, want) = split_spec(spec);
        if !st.known && !st.installed {
            return Ok(failed(
                format!("No package matching '{name}' is available"),
                None,
            ));
        }
        if st.auto {
            manual.push(name.to_string());
        }
        let (installed, version_installed, installable) = decide(st, cmp, want);
        if !installed && only_upgrade {
            continue;
        }
        if !version_installed && installable.is_none() {
            return Ok(cache_keys(failed(
                format!("no available installation candidate for {spec}"),
                None,
            )));
        }
        if let Some(v) = &installable
            && ((!installed && !only_upgrade) || upgrade || !version_installed)
        {
            list.push(match (v, want) {
                (Some(v), _) => format!("'{name}={v}'"),
                (None, Some(w)) => format!("'{name}={w}'"),
                (None, None) => format!("'{name}'"),
            });
            continue;
        }
        if version_installed && installable.is_some() && cmp == Some("=") {
            list.push(format!("'{name}={}'", want.unwrap_or_default()));
        }
    }
    let mut out = Outcome::default();
    if !list.is_empty() {
        let packages = list.join(" ");
        let mut cmd = format!(
            "{apt} -y {dpkg} {} {} {force_yes} {auto_remove} {no_remove} {check_arg} install {packages}",
            if only_upgrade { "--only-upgrade" } else { "" },
            "",
        );
        cmd.push_str(&release_arg);
        match recommends {
            Some(false) => cmd.push_str(" -o APT::Install-Recommends=no"),
            Some(true) => cmd.push_str(" -o APT::Install-Recommends=yes"),
            None => {}
        }
        if unauthenticated {
            cmd.push_str(" --allow-unauthenticated");
        }
        if downgrade {
            cmd.push_str(" --allow-downgrades");
        }
        if held {
            cmd.push_str(" --allow-change-held-packages");
        }
        let o = apt_get(cx, &cmd, policy_rc_d).await?;
        if !o.ok() {
            return Ok(cache_keys(failed(
                format!("'{cmd}' failed: {}", o.stderr_str()),
                Some(&o),
            )));
        }
        out = with_output(Outcome::changed(true), &o);
        out.result
            .insert("diff".into(), prepared(cx, &o.stdout_str()));
    }
    // Ansible marks the named packages manually installed after every run.
    if let (Some(w), false) = (&cx.writer, manual.is_empty()) {
        let q: Vec<String> = manual.iter().map(|m| sh_quote(m)).collect();
        let o = w.exec(&format!("apt-mark manual {}", q.join(" "))).await?;
        if !o.ok() {
            return Ok(failed(
                format!(
                    "'apt-mark manual {}' failed: {}",
                    manual.join(" "),
                    o.stderr_str()
                ),
                Some(&o),
            ));
        }
    }
    Ok(cache_keys(out))
}
