//! From a host's vars to a connection: Ansible's behavioural inventory parameters,
//! `~/.ssh/config`, and the project settings, in that order of precedence.

use crate::context::Fleet;
use crate::inventory::HostId;
use crate::settings::Settings;
use crate::template::{engine, from_mj};
use crate::transport::{Become, StrictHostKeys, Target, ssh_config};
use crate::value::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Per-run become settings from the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct BecomeArgs {
    /// `--become` / `-b`.
    pub enabled: bool,
    /// `--become-user`.
    pub user: Option<String>,
    /// The password `-K` asked for.
    pub password: Option<String>,
}

/// One templated var of a host, if defined.
fn var(
    fleet: &Arc<Fleet>,
    scope: &Arc<crate::template::Scope>,
    name: &str,
) -> Result<Option<Value>, String> {
    let Some(v) = scope.resolve(name) else {
        return Ok(None);
    };
    let _ = fleet;
    from_mj(&v).map(Some).map_err(|e| format!("{name}: {e}"))
}

fn text(v: Option<Value>) -> Option<String> {
    v.map(|v| v.py_str()).filter(|s| !s.is_empty())
}

/// Where and as whom to connect to `host`.
pub(crate) fn target(
    fleet: &Arc<Fleet>,
    host: HostId,
    settings: &Settings,
) -> Result<Target, String> {
    let name = fleet.inventory.host(host).name.clone();
    let scope = fleet.scope(host).map_err(|d| d.to_string())?;
    let mut t = Target::new(&name);
    if let Some(u) = &settings.remote_user {
        t.user.clone_from(u);
    }
    if let Some(k) = &settings.private_key_file {
        t.identity_files.insert(0, k.clone());
    }
    if let Some(kh) = &settings.known_hosts {
        t.known_hosts = vec![kh.clone()];
    }
    if !settings.host_key_checking {
        t.strict = StrictHostKeys::No;
    }
    t.connect_timeout = Duration::from_secs(settings.timeout);
    let alias = text(var(fleet, &scope, "ansible_host")?).unwrap_or_else(|| name.clone());
    let home = std::env::var("HOME").map_or_else(|_| PathBuf::from("/root"), PathBuf::from);
    for (k, v) in ssh_config::options_for(&home.join(".ssh/config"), &alias) {
        t.apply_option(&k, &v);
    }
    if t.host == name || t.host == alias {
        t.host = alias;
    }
    for args in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(a) = text(var(fleet, &scope, args)?) {
            t.apply_ssh_args(&a);
        }
    }
    if let Some(p) = var(fleet, &scope, "ansible_port")? {
        t.port = match p {
            Value::Int(i) => {
                u16::try_from(i).map_err(|_| format!("ansible_port {i} is not a port"))?
            }
            other => other
                .py_str()
                .trim()
                .parse()
                .map_err(|_| format!("ansible_port {} is not a port", other.py_repr()))?,
        };
    }
    if let Some(u) = text(var(fleet, &scope, "ansible_user")?) {
        t.user = u;
    }
    if let Some(k) = text(var(fleet, &scope, "ansible_ssh_private_key_file")?.or(var(
        fleet,
        &scope,
        "ansible_private_key_file",
    )?)) {
        t.identity_files
            .insert(0, crate::transport::target::expand_tilde(&k));
    }
    if let Some(c) = text(var(fleet, &scope, "ansible_connection")?) {
        match c.as_str() {
            "local" => t.local = true,
            "ssh" | "paramiko" | "smart" => {}
            other => {
                return Err(format!(
                    "ansible_connection={other} is not supported (ssh or local)"
                ));
            }
        }
    }
    Ok(t)
}

/// Become for a host: the command line's, else the host's `ansible_become*` vars.
pub(crate) fn become_for(
    fleet: &Arc<Fleet>,
    host: HostId,
    args: &BecomeArgs,
) -> Result<Option<Become>, String> {
    let scope = fleet.scope(host).map_err(|d| d.to_string())?;
    let enabled = args.enabled
        || matches!(
            var(fleet, &scope, "ansible_become")?,
            Some(Value::Bool(true))
        );
    if !enabled {
        return Ok(None);
    }
    if let Some(m) = text(var(fleet, &scope, "ansible_become_method")?)
        && m != "sudo"
    {
        return Err(format!("ansible_become_method={m} is not supported (sudo)"));
    }
    let user = args
        .user
        .clone()
        .or(text(var(fleet, &scope, "ansible_become_user")?))
        .unwrap_or_else(|| "root".into());
    let password = args.password.clone().or(text(
        var(fleet, &scope, "ansible_become_password")?.or(var(
            fleet,
            &scope,
            "ansible_become_pass",
        )?),
    ));
    let _ = engine();
    Ok(Some(Become { user, password }))
}
