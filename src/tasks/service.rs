//! `service` and `systemd`: a service started, stopped, restarted or reloaded, and
//! enabled or not at boot, through the host's own service manager. With systemd running
//! (`/run/systemd/system`) that is `systemctl`; otherwise the SysV init script under
//! `/etc/init.d`, run through `service`, with `update-rc.d` for boot links: what
//! Ansible's `sysvinit` module does on such a host, down to how it reads the status
//! command's answer. One round trip reads the state; the change runs only when needed.

use super::{Cx, Outcome, Spec, TaskError, Writer, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "service",
    file_common: false,
    traits: &[],
    args: &[
        "name",
        "service",
        "state",
        "enabled",
        "pattern",
        "sleep",
        "arguments",
        "args",
        "runlevel",
        "runlevels",
        "daemonize",
        "use",
    ],
    required: &["name|service"],
};

pub(super) const SYSTEMD_SPEC: Spec = Spec {
    name: "systemd",
    file_common: false,
    traits: &[],
    args: &[
        "name",
        "service",
        "unit",
        "state",
        "enabled",
        "daemon_reload",
        "daemon-reload",
        "no_block",
        "scope",
    ],
    required: &[],
};

/// The service's state as the host reports it.
#[derive(Debug, Default, PartialEq)]
struct Probe {
    systemd: bool,
    /// systemd: the unit is known. SysV: its init script exists.
    exists: bool,
    running: bool,
    enabled: bool,
    /// SysV: the service has boot links of either kind (`defaults` was run once).
    any_links: bool,
}

/// Reads `systemctl show` properties.
fn parse_systemd(text: &str) -> Probe {
    let prop = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    Probe {
        systemd: true,
        exists: !matches!(prop("LoadState").as_str(), "not-found" | ""),
        running: matches!(prop("ActiveState").as_str(), "active" | "activating"),
        // The states for which `systemctl is-enabled` exits 0.
        enabled: matches!(
            prop("UnitFileState").as_str(),
            "enabled" | "enabled-runtime" | "static" | "indirect" | "generated" | "alias"
        ),
        any_links: false,
    }
}

/// Whether a SysV service runs, read from `service NAME status` the way Ansible's
/// sysvinit module reads it: the words of a one-line answer first, then the LSB exit
/// codes, then exit code 0.
fn sysv_running(name: &str, out: &str, rc: i64) -> Option<bool> {
    if out.matches('\n').count() <= 1 {
        let clean = out.to_lowercase().replace(&name.to_lowercase(), "");
        let stopped = [
            "stop",
            "is dead ",
            "dead but ",
            "could not access pid file",
            "inactive",
        ];
        if stopped.iter().any(|s| clean.contains(s)) {
            return Some(false);
        }
        if ["run", "start", "active"].iter().any(|s| clean.contains(s)) && !clean.contains("not ") {
            return Some(true);
        }
    }
    if [1, 2, 3, 4, 69].contains(&rc) {
        return Some(false);
    }
    (rc == 0).then_some(true)
}

/// `ps auxww` lines that show `pattern`, leaving out the probe itself.
fn ps_matches(ps: &str, pattern: &str) -> bool {
    ps.lines()
        .any(|l| l.contains(pattern) && !l.contains("tprov-probe"))
}

async fn probe(cx: &Cx<'_>, name: &str, pattern: Option<&str>) -> Result<Probe, TaskError> {
    let n = sh_quote(name);
    let status = match pattern {
        Some(_) => "echo '--ps'; ps auxww".to_string(),
        None => format!(
            "echo '--status'; if command -v service >/dev/null 2>&1; then service {n} status; else \"/etc/init.d/\"{n} status; fi </dev/null 2>/dev/null; echo \"--rc=$?\""
        ),
    };
    let script = format!(
        ": tprov-probe; n={n}
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo '--systemd'; systemctl show --no-pager -p LoadState -p ActiveState -p UnitFileState -- \"$n\"
else
  echo '--sysv'
  [ -f \"/etc/init.d/$n\" ] && echo script
  for f in /etc/rc?.d/S??\"$n\"; do [ -e \"$f\" ] && {{ echo S; break; }}; done
  for f in /etc/rc?.d/[SK]??\"$n\"; do [ -e \"$f\" ] && {{ echo links; break; }}; done
  [ -f \"/etc/init.d/$n\" ] && {{ {status}; }}
fi"
    );
    let out = cx.probe.exec(&script, cx.read_become()).await?;
    let text = out.stdout_str();
    if let Some(rest) = text.strip_prefix("--systemd\n") {
        return Ok(parse_systemd(rest));
    }
    let Some(rest) = text.strip_prefix("--sysv\n") else {
        return Err(fail(format!(
            "cannot read the state of service {name}: {}",
            out.stderr_str().trim()
        )));
    };
    let (head, tail) = rest
        .split_once("--status\n")
        .or_else(|| rest.split_once("--ps\n"))
        .unwrap_or((rest, ""));
    let flags: Vec<&str> = head.lines().collect();
    let mut p = Probe {
        exists: flags.contains(&"script"),
        enabled: flags.contains(&"S"),
        any_links: flags.contains(&"links"),
        ..Probe::default()
    };
    p.running = if let Some(pat) = pattern {
        ps_matches(tail, pat)
    } else {
        let (said, rc) = tail.rsplit_once("--rc=").unwrap_or((tail, "-1"));
        let rc = rc.trim().parse().unwrap_or(-1);
        sysv_running(name, said, rc).unwrap_or(false)
    };
    Ok(p)
}

/// What `state` asks of a service in this state: the action to run, if any.
fn action(state: &str, running: bool) -> Option<&'static str> {
    match (state, running) {
        ("started" | "reloaded", false) => Some("start"),
        ("stopped", true) => Some("stop"),
        ("reloaded", true) => Some("reload"),
        ("restarted", _) => Some("restart"),
        _ => None,
    }
}

/// Runs `cmd` detached from the connection (a daemon it starts must not hold the
/// channel open), its output captured; an error names the action.
async fn control(w: &Writer<'_>, cmd: &str, what: &str) -> Result<(), TaskError> {
    let script = format!(
        "f=$(mktemp) || exit 1; setsid -w {cmd} </dev/null >\"$f\" 2>&1; rc=$?; cat \"$f\"; rm -f \"$f\"; exit $rc"
    );
    let out = w.exec(&script).await?;
    if out.ok() {
        Ok(())
    } else {
        Err(fail(format!(
            "Failed to {what}: {}",
            out.stdout_str().trim()
        )))
    }
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>, module: &str) -> Result<Outcome, TaskError> {
    let name = args::str_req(a, &["name", "service", "unit"], module)?;
    if name.is_empty() || name.contains('/') || name.starts_with('-') {
        return Err(fail(format!("{module}: {name:?} is not a service name")));
    }
    let state = args::str_opt(a, &["state"]);
    if let Some(s) = &state
        && !["started", "stopped", "restarted", "reloaded"].contains(&s.as_str())
    {
        return Err(fail(format!(
            "value of state must be one of: started, stopped, restarted, reloaded, got: {s}"
        )));
    }
    let enabled = args::bool_opt(a, &["enabled"])?;
    let daemon_reload = args::bool_opt(a, &["daemon_reload", "daemon-reload"])?.unwrap_or(false);
    if module == "service" && state.is_none() && enabled.is_none() {
        return Err(fail("one of the following is required: state, enabled"));
    }
    let pattern = args::str_opt(a, &["pattern"]);
    let arguments = args::str_opt(a, &["arguments", "args"]).unwrap_or_default();
    let pause = args::str_opt(a, &["sleep"])
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| fail(format!("sleep: {s:?} is not an int")))
        })
        .transpose()?;

    let mut p = probe(cx, &name, pattern.as_deref()).await?;
    if module == "systemd" && !p.systemd {
        return Err(fail(format!(
            "systemd: {} is not run by systemd (no /run/systemd/system); use the service module",
            cx.host
        )));
    }
    if !p.exists {
        // In check mode, an init script an earlier task would write counts as there.
        let pending =
            !p.systemd && cx.check() && cx.sim.files.contains_key(&format!("/etc/init.d/{name}"));
        if !pending && (state.is_some() || enabled.is_some()) {
            return Err(fail(format!(
                "Could not find the requested service {name}: host"
            )));
        }
        p = Probe::default();
    }
    // In check mode, what earlier tasks of the run would have done to it.
    if cx.check()
        && let Some((running, on)) = cx.sim.services.get(&name)
    {
        p.running = running.unwrap_or(p.running);
        p.enabled = on.unwrap_or(p.enabled);
    }
    if cx.check() {
        let after = (state.as_deref().map(|s| s != "stopped"), enabled);
        let entry = cx.sim.services.entry(name.clone()).or_default();
        entry.0 = after.0.or(entry.0);
        entry.1 = after.1.or(entry.1);
    }
    let mut out = Outcome::default().with("name", Value::str(name.clone()));
    let n = sh_quote(&name);
    if p.systemd
        && daemon_reload
        && let Some(w) = &cx.writer
    {
        control(w, "systemctl daemon-reload", "reload systemd").await?;
    }

    if let Some(want) = enabled {
        if want != p.enabled {
            out.changed = true;
            if let Some(w) = &cx.writer {
                let cmd = match (p.systemd, want) {
                    (true, true) => format!("systemctl enable {n}"),
                    (true, false) => format!("systemctl disable {n}"),
                    (false, true) if !p.any_links => {
                        format!(
                            "sh -c 'update-rc.d \"$0\" defaults && update-rc.d \"$0\" enable' {n}"
                        )
                    }
                    (false, true) => format!("update-rc.d {n} enable"),
                    (false, false) => format!("update-rc.d {n} disable"),
                };
                let what = if want { "enable" } else { "disable" };
                control(w, &cmd, &format!("{what} service {name}")).await?;
            }
        }
        out.result.insert("enabled".into(), Value::Bool(want));
    }

    if let Some(state) = &state {
        if let Some(act) = action(state, p.running) {
            out.changed = true;
            if let Some(w) = &cx.writer {
                let extra = if arguments.is_empty() {
                    String::new()
                } else {
                    format!(" {arguments}")
                };
                let what = format!("{act} service {name}");
                let cmd = |verb: &str| {
                    if p.systemd {
                        format!("systemctl {verb} {n}")
                    } else {
                        format!("service {n} {verb}{extra}")
                    }
                };
                if act == "restart" && !p.systemd {
                    // Not every init script restarts: stop, wait, start.
                    let _ = control(w, &cmd("stop"), &what).await;
                    let secs = pause.unwrap_or(1);
                    if secs > 0 {
                        tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
                    }
                    control(w, &cmd("start"), &what).await?;
                } else {
                    control(w, &cmd(act), &what).await?;
                }
            }
        }
        let shown = if state == "stopped" {
            "stopped"
        } else {
            "started"
        };
        out.result.insert("state".into(), Value::str(shown));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sysv_status_answers_as_ansible_does() {
        assert_eq!(sysv_running("nginx", "nginx is running.\n", 0), Some(true));
        assert_eq!(
            sysv_running("nginx", "nginx is not running ... failed!\n", 3),
            Some(false)
        );
        assert_eq!(sysv_running("cron", "cron is stopped\n", 0), Some(false));
        assert_eq!(sysv_running("x", "", 3), Some(false));
        assert_eq!(sysv_running("x", "", 0), Some(true));
        assert_eq!(sysv_running("x", "line\nline\nline\n", 5), None);
        // Only the words of a one-line answer count.
        assert_eq!(sysv_running("x", "starting\nerror: stop\n", 0), Some(true));
    }

    #[test]
    fn reads_systemctl_show() {
        let p = parse_systemd("LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n");
        assert!(p.exists && p.running && p.enabled);
        let p = parse_systemd("LoadState=not-found\nActiveState=inactive\nUnitFileState=\n");
        assert!(!p.exists && !p.running && !p.enabled);
        let p = parse_systemd("LoadState=loaded\nActiveState=failed\nUnitFileState=disabled\n");
        assert!(p.exists && !p.running && !p.enabled);
    }

    #[test]
    fn decides_the_action() {
        assert_eq!(action("started", true), None);
        assert_eq!(action("started", false), Some("start"));
        assert_eq!(action("reloaded", false), Some("start"));
        assert_eq!(action("reloaded", true), Some("reload"));
        assert_eq!(action("stopped", false), None);
        assert_eq!(action("restarted", false), Some("restart"));
        assert!(ps_matches("root 1 /usr/bin/demo -d\n", "demo -d"));
        assert!(!ps_matches(
            "root 9 sh -c : tprov-probe; demo -d\n",
            "demo -d"
        ));
    }
}
