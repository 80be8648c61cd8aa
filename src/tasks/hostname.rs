//! `hostname`: the host's name as Ansible's hostname module sets it on Debian
//! (modules/hostname.py): through hostnamectl where systemd runs, else /etc/hostname
//! alone (its FileStrategy, which never renames the running kernel), with the same
//! diff and facts.

use super::attrs::Attrs;
use super::remote::Stat;
use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "hostname",
    file_common: false,
    traits: &[],
    args: &["name", "use"],
    required: &["name"],
};

const FILE: &str = "/etc/hostname";

/// How the name is kept: systemd's hostnamectl, or the file.
#[derive(PartialEq)]
enum Strategy {
    Systemd,
    File,
}

/// `hostnamectl WHICH status`, failing as Ansible's SystemdStrategy does.
async fn hostnamectl(cx: &Cx<'_>, which: &str) -> Result<String, TaskError> {
    let o = cx
        .probe
        .exec(&format!("hostnamectl {which} status"), cx.read_become())
        .await?;
    if !o.ok() {
        return Err(fail(format!(
            "Command failed rc={}, out={}, err={}",
            o.rc(),
            o.stdout_str(),
            o.stderr_str()
        )));
    }
    Ok(o.stdout_str().trim().to_string())
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let name = args::str_req(a, &["name"], "hostname")?;
    let strategy = match args::str_opt(a, &["use"]).as_deref() {
        // Ansible's STRATS: `debian` means its systemd strategy.
        Some("systemd" | "debian") => Some(Strategy::Systemd),
        None => None,
        Some(other) => {
            return Err(fail(format!(
                "tprov's hostname knows systemd and debian (hostnamectl), not {other}"
            )));
        }
    };
    // One round trip: whether systemd runs (Ansible's is_systemd_managed), the names,
    // and the fully qualified name as Python's socket.getfqdn() finds it.
    let script = "if command -v systemctl >/dev/null 2>&1 && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ]; }; then echo systemd; else echo file; fi
if [ -f /etc/hostname ]; then echo present; echo \"$(cat /etc/hostname)\"; else echo absent; echo; fi
python3 -c 'import socket; print(socket.getfqdn())' 2>/dev/null || hostname -f 2>/dev/null || hostname";
    let out = cx.probe.exec(script, cx.read_become()).await?;
    let text = out.stdout_str();
    let l: Vec<&str> = text.lines().collect();
    let line = |i: usize| l.get(i).map_or("", |s| s.trim());
    let strategy = strategy.unwrap_or(if line(0) == "systemd" {
        Strategy::Systemd
    } else {
        Strategy::File
    });
    let file_present = line(1) == "present";
    let file_name = if file_present {
        cx.sim.files.get(FILE).filter(|_| cx.check()).map_or_else(
            || line(2).to_string(),
            |c| String::from_utf8_lossy(c).trim().to_string(),
        )
    } else {
        String::new()
    };
    let (current, permanent) = match strategy {
        Strategy::Systemd => (
            hostnamectl(cx, "--transient").await?,
            hostnamectl(cx, "--static").await?,
        ),
        // FileStrategy: the current name is the file's too.
        Strategy::File => (file_name.clone(), file_name),
    };
    if strategy == Strategy::Systemd && name.len() > 64 && (current != name || permanent != name) {
        return Err(fail(
            "name cannot be longer than 64 characters on systemd servers, try a shorter name",
        ));
    }
    let changed = current != name || permanent != name;
    if changed {
        if let Some(w) = &cx.writer {
            match strategy {
                Strategy::Systemd => {
                    let q = sh_quote(&name);
                    let mut cmds = Vec::new();
                    if permanent != name {
                        cmds.push(format!("hostnamectl --pretty --static set-hostname {q}"));
                    }
                    if current != name {
                        cmds.push(format!("hostnamectl --transient set-hostname {q}"));
                    }
                    super::remote::change(w, &cmds.join(" && ")).await?;
                }
                Strategy::File => {
                    let st = Stat {
                        exists: file_present,
                        ..Stat::absent(FILE)
                    };
                    super::copy::write(
                        cx,
                        w,
                        FILE,
                        format!("{name}\n").as_bytes(),
                        &Attrs::default(),
                        &st,
                        None,
                    )
                    .await?;
                }
            }
        } else if strategy == Strategy::File {
            let st = Stat {
                exists: file_present,
                ..Stat::absent(FILE)
            };
            cx.sim.wrote(
                FILE,
                format!("{name}\n").into_bytes(),
                &Attrs::default(),
                Some(&st),
            );
        }
    }
    let before = if name == current {
        &permanent
    } else {
        &current
    };
    let fqdn = line(3).to_string();
    let mut facts = Map::default();
    facts.insert(
        "ansible_hostname".into(),
        Value::str(name.split('.').next().unwrap_or_default()),
    );
    facts.insert("ansible_nodename".into(), Value::str(name.clone()));
    facts.insert("ansible_fqdn".into(), Value::str(fqdn.clone()));
    facts.insert(
        "ansible_domain".into(),
        Value::str(fqdn.split('.').skip(1).collect::<Vec<_>>().join(".")),
    );
    let mut o = Outcome::changed(changed);
    o.result.insert("name".into(), Value::str(name.clone()));
    o.result
        .insert("ansible_facts".into(), Value::Map(facts.clone()));
    o.facts = facts;
    if changed {
        o.diffs.push(Diff {
            before_header: None,
            after_header: None,
            before: format!("hostname = {before}\n"),
            after: format!("hostname = {name}\n"),
        });
    }
    Ok(o)
}
