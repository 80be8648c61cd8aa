//! `tprov migrate HOST --env E`: seed 000's migration of one server from an
//! environment's old user to its new one, with no request lost. Each step is one tprov
//! command (`dns drain`, `drain-wait`, `run`, `apply`, `inventory move`, `dns restore`),
//! so `--dry-run` prints exactly what will run, a person can run any step by hand, and
//! the journal records the commands. The rules that keep traffic flowing are checked
//! against live DNS before the first change and again by every DNS step.

use super::dispatch;
use crate::cli::{Cli, MigrateCmd};
use crate::dns::{self, Record, Route53};
use crate::error::Error;
use crate::output::Printer;
use crate::settings::Settings;
use clap::Parser;
use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One environment of migrate.toml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Env {
    /// The weighted DNS name (`sandbox.tokenoftrust.com`).
    dns: String,
    /// The inventory groups the server leaves and joins.
    from: String,
    to: String,
    /// A server that takes traffic throughout; its record is added first if missing.
    leader: Option<String>,
    /// The old user, whose PM2 is stopped (commands run as the login user without it).
    old_user: Option<String>,
    #[serde(default = "default_stop_old")]
    stop_old: String,
    /// Brings the old service back when the deploy fails.
    #[serde(default = "default_start_old")]
    start_old: String,
    /// The new user's playbooks, applied with the new group's vars.
    #[serde(default = "default_playbooks")]
    playbooks: Vec<PathBuf>,
    /// A command on the server that fails unless it answers (through nginx).
    check: Option<String>,
    #[serde(default = "default_drain_timeout")]
    drain_timeout: u64,
    #[serde(default)]
    drain_threshold: u64,
}

fn default_stop_old() -> String {
    "pm2 stop all && pm2 delete all && pm2 save --force".into()
}

fn default_start_old() -> String {
    "pm2 resurrect".into()
}

fn default_playbooks() -> Vec<PathBuf> {
    vec![PathBuf::from("playbooks/site.yml")]
}

fn default_drain_timeout() -> u64 {
    180
}

/// One step: its name (the journal's key) and the tprov command it runs.
#[derive(Debug, Clone)]
struct Step {
    name: String,
    argv: Vec<String>,
}

impl Step {
    fn line(&self) -> String {
        std::iter::once("tprov".to_string())
            .chain(self.argv.iter().map(|a| crate::transport::sh_quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub(crate) fn run(cmd: &MigrateCmd, settings: &Settings, printer: &Printer) -> Result<u8, Error> {
    let env = load_env(&cmd.config, &cmd.env)?;
    let journal = Journal::new(&cmd.env);
    let rt = super::runtime()?;
    let r53 = rt
        .block_on(Route53::connect(&env.dns))
        .map_err(Error::Internal)?;
    let records = rt.block_on(r53.records()).map_err(Error::Internal)?;
    if cmd.status {
        return status(cmd, &env, &records, &journal, settings, printer);
    }
    let host = cmd.host.clone().unwrap_or_default();
    let short = host.split('.').next().unwrap_or(&host).to_string();
    let done = journal.done(&short)?;
    let steps = steps(cmd, &env, &short, &records);
    preflight(cmd, &env, &short, &records, &done, settings, printer)?;
    if cmd.dry_run {
        printer.out(&super::dns::table(r53.name(), &records));
        printer.out(&format!(
            "migrate {short} from [{}] to [{}] ({} environment), in order:\n",
            env.from, env.to, cmd.env
        ));
        for s in &steps {
            let mark = if done.contains(&s.name) {
                "done, skipped"
            } else {
                "to run"
            };
            printer.out(&format!("  {:<12} {} ({mark})\n", s.name, s.line()));
        }
        printer.out("--dry-run: nothing changed\n");
        return Ok(crate::error::exit::OK);
    }
    let _lock = journal.lock()?;
    for s in &steps {
        if done.contains(&s.name) {
            printer.out(&format!("==> {}: done in an earlier run\n", s.name));
            continue;
        }
        printer.out(&format!("==> {}: {}\n", s.name, s.line()));
        journal.record(&short, &s.name, "started", &s.line())?;
        let code = run_step(s, settings, printer)?;
        if code == crate::error::exit::OK {
            journal.record(&short, &s.name, "done", &s.line())?;
            continue;
        }
        journal.record(&short, &s.name, "failed", &s.line())?;
        if s.name.starts_with("deploy") {
            roll_back(cmd, &env, &short, &journal, settings, printer)?;
        }
        return Err(Error::Failed(format!(
            "migrate {short}: step {} failed (exit {code}); the journal {} records it: fix the cause and run the same command again to resume",
            s.name,
            journal.path.display()
        )));
    }
    printer.out(&format!(
        "{short} migrated from [{}] to [{}]\n",
        env.from, env.to
    ));
    Ok(crate::error::exit::OK)
}

/// The steps of seed 000 for one server, each a tprov command line.
fn steps(cmd: &MigrateCmd, env: &Env, host: &str, records: &[Record]) -> Vec<Step> {
    let inv = inventory_args(cmd);
    let step = |name: &str, args: &[&str]| Step {
        name: name.to_string(),
        argv: args
            .iter()
            .map(|a| (*a).to_string())
            .chain(inv.iter().cloned())
            .collect(),
    };
    let as_old = |command: &str| -> Vec<String> {
        let mut a = vec!["run".to_string(), "-l".into(), host.to_string()];
        if let Some(u) = &env.old_user {
            a.extend(["--become-user".into(), u.clone()]);
        }
        a.extend(inv.iter().cloned());
        a.extend(["--".into(), command.to_string()]);
        a
    };
    let mut out = Vec::new();
    if let Some(leader) = env.leader.as_deref().filter(|l| *l != host)
        && !has_record(leader, records)
    {
        out.push(step("leader", &["dns", "add", &env.dns, leader]));
    }
    out.push(step("drain", &["dns", "drain", &env.dns, host]));
    let (timeout, threshold) = (
        env.drain_timeout.to_string(),
        env.drain_threshold.to_string(),
    );
    out.push(step(
        "drain-wait",
        &["drain-wait", host, &timeout, &threshold],
    ));
    out.push(Step {
        name: "stop-old".into(),
        argv: as_old(&env.stop_old),
    });
    for (i, p) in env.playbooks.iter().enumerate() {
        let p = p.display().to_string();
        let name = if env.playbooks.len() == 1 {
            "deploy".to_string()
        } else {
            format!("deploy-{}", i + 1)
        };
        out.push(step(
            &name,
            &["apply", &p, "-g", &env.to, "--limit", host, "--adopt"],
        ));
    }
    out.push(step(
        "move",
        &[
            "inventory",
            "move",
            host,
            "--from",
            &env.from,
            "--to",
            &env.to,
        ],
    ));
    out.push(step("restore", &["dns", "restore", &env.dns, host]));
    if let Some(c) = &env.check {
        let mut a = vec!["run".to_string(), "-l".into(), host.to_string()];
        a.extend(inv.iter().cloned());
        a.extend(["--".into(), c.clone()]);
        out.push(Step {
            name: "check".into(),
            argv: a,
        });
    }
    out
}

/// Before any change: the server is in DNS and in the inventory's old group (or, on
/// resume, where the journal says it went), and draining it keeps two servers taking
/// traffic (counted from live DNS).
fn preflight(
    cmd: &MigrateCmd,
    env: &Env,
    host: &str,
    records: &[Record],
    done: &[String],
    settings: &Settings,
    printer: &Printer,
) -> Result<(), Error> {
    let id = dns::identifier(host, records).map_err(|e| Error::Usage(format!("{host}: {e}")))?;
    if !has_record(host, records) {
        return Err(Error::Usage(format!(
            "{host} has no record under {} (add it with `tprov dns add {} {host}`)",
            env.dns, env.dns
        )));
    }
    if !done.iter().any(|s| s == "drain") {
        // A leader about to be added counts as active, as it will be.
        let mut live = records.to_vec();
        if let Some(l) = env.leader.as_deref().filter(|l| !has_record(l, records)) {
            live.push(Record {
                id: l.to_string(),
                address: String::new(),
                weight: 100,
                ttl: 60,
            });
        }
        dns::drain(&live, &id, false).map_err(|e| Error::Usage(format!("{host}: {e}")))?;
    }
    let inv = super::load_inventory(&cmd.inv, settings, printer)?;
    let hid = inv
        .host_id(host)
        .or_else(|| {
            let prefix = format!("{host}.");
            inv.hosts().position(|h| h.name.starts_with(&prefix))
        })
        .ok_or_else(|| Error::Usage(format!("{host} is not a host of the inventory")))?;
    let in_group = |g: &str| {
        inv.group_id(g)
            .is_some_and(|gid| inv.group_hosts(gid).contains(&hid))
    };
    for g in [&env.from, &env.to] {
        if inv.group_id(g).is_none() {
            return Err(Error::Usage(format!(
                "the {} environment names group [{g}], which the inventory does not have",
                cmd.env
            )));
        }
    }
    let moved = done.iter().any(|s| s == "move");
    let expected = if moved { &env.to } else { &env.from };
    if !in_group(expected) {
        return Err(Error::Usage(format!(
            "{host} is not in [{expected}]{}: nothing to migrate from there",
            if moved {
                " although the journal says it was moved"
            } else {
                ""
            }
        )));
    }
    for p in &env.playbooks {
        if !p.exists() {
            return Err(Error::Usage(format!("playbook {} not found", p.display())));
        }
    }
    Ok(())
}

/// A failed deploy: the old service back, the weight restored (each a step of its own,
/// journaled), so the server takes traffic as before.
fn roll_back(
    cmd: &MigrateCmd,
    env: &Env,
    host: &str,
    journal: &Journal,
    settings: &Settings,
    printer: &Printer,
) -> Result<(), Error> {
    let mut start = Step {
        name: "rollback-start-old".into(),
        argv: vec!["run".into(), "-l".into(), host.into()],
    };
    if let Some(u) = &env.old_user {
        start.argv.extend(["--become-user".into(), u.clone()]);
    }
    let inv = inventory_args(cmd);
    start.argv.extend(inv.iter().cloned());
    start.argv.extend(["--".into(), env.start_old.clone()]);
    let mut restore = Step {
        name: "rollback-restore".into(),
        argv: vec!["dns".into(), "restore".into(), env.dns.clone(), host.into()],
    };
    restore.argv.extend(inv);
    for s in [start, restore] {
        printer.out(&format!(
            "==> {} (the deploy failed): {}\n",
            s.name,
            s.line()
        ));
        let code = run_step(&s, settings, printer)?;
        let state = if code == 0 { "done" } else { "failed" };
        journal.record(host, &s.name, state, &s.line())?;
    }
    // The next run starts this server's migration again from the drain.
    journal.record(host, "all", "reset", "rolled back")?;
    Ok(())
}

/// The migration's inventory sources, as each step's `-i` arguments.
fn inventory_args(cmd: &MigrateCmd) -> Vec<String> {
    cmd.inv
        .inventory
        .iter()
        .flat_map(|p| ["-i".to_string(), p.display().to_string()])
        .collect()
}

/// Whether `host` (a name, short alias or address) has a record.
fn has_record(host: &str, records: &[Record]) -> bool {
    dns::identifier(host, records).is_ok_and(|id| records.iter().any(|r| r.id == id))
}

fn run_step(step: &Step, settings: &Settings, printer: &Printer) -> Result<u8, Error> {
    let cli = Cli::try_parse_from(std::iter::once("tprov".to_string()).chain(step.argv.clone()))
        .map_err(|e| Error::Internal(format!("step {}: {e}", step.name)))?;
    match dispatch(&cli.command, settings, printer) {
        Ok(code) => Ok(code),
        Err(e) => {
            printer.err(&format!("{e}\n"));
            Ok(e.code().max(1))
        }
    }
}

/// `--status`: each server of the environment's groups, its weight and last step.
fn status(
    cmd: &MigrateCmd,
    env: &Env,
    records: &[Record],
    journal: &Journal,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, Error> {
    let inv = super::load_inventory(&cmd.inv, settings, printer)?;
    let mut text = format!(
        "{:<28} {:<16} {:>6}  {}\n",
        "server", "group", "weight", "journal"
    );
    for g in [&env.from, &env.to] {
        let Some(gid) = inv.group_id(g) else { continue };
        for h in inv.group_hosts(gid) {
            let name = &inv.host(h).name;
            let short = name.split('.').next().unwrap_or(name);
            let weight = dns::identifier(short, records)
                .ok()
                .and_then(|id| records.iter().find(|r| r.id == id))
                .map_or("-".to_string(), |r| r.weight.to_string());
            let last = journal.last(short)?.unwrap_or_else(|| "-".into());
            text.push_str(&format!("{name:<28} {g:<16} {weight:>6}  {last}\n"));
        }
    }
    printer.out(&text);
    Ok(crate::error::exit::OK)
}

fn load_env(path: &Path, name: &str) -> Result<Env, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut all: toml::Table =
        toml::from_str(&text).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    let known: Vec<String> = all.keys().cloned().collect();
    let section = all.remove(name).ok_or_else(|| {
        Error::Usage(format!(
            "{}: no environment `{name}` (it has: {})",
            path.display(),
            known.join(", ")
        ))
    })?;
    section
        .try_into()
        .map_err(|e| Error::Usage(format!("{}: [{name}]: {e}", path.display())))
}

/// `.tprov/migrate-ENV.jsonl`: one line per step start and outcome.
struct Journal {
    path: PathBuf,
}

impl Journal {
    fn new(env: &str) -> Journal {
        Journal {
            path: PathBuf::from(".tprov").join(format!("migrate-{env}.jsonl")),
        }
    }

    fn entries(&self) -> Result<Vec<serde_json::Value>, Error> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Internal(format!(
                    "cannot read {}: {e}",
                    self.path.display()
                )));
            }
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// The steps done for `host` since its last rollback.
    fn done(&self, host: &str) -> Result<Vec<String>, Error> {
        let mut done: Vec<String> = Vec::new();
        for e in self.entries()? {
            if e["host"] != host {
                continue;
            }
            let step = e["step"].as_str().unwrap_or_default().to_string();
            match e["state"].as_str() {
                Some("done") => done.push(step),
                Some("reset") => done.clear(),
                Some("failed") => done.retain(|s| *s != step),
                _ => {}
            }
        }
        Ok(done)
    }

    fn last(&self, host: &str) -> Result<Option<String>, Error> {
        Ok(self
            .entries()?
            .iter()
            .rev()
            .find(|e| e["host"] == host)
            .map(|e| {
                format!(
                    "{} {} at {}",
                    e["step"].as_str().unwrap_or_default(),
                    e["state"].as_str().unwrap_or_default(),
                    e["at"].as_str().unwrap_or_default()
                )
            }))
    }

    fn record(&self, host: &str, step: &str, state: &str, command: &str) -> Result<(), Error> {
        let line = serde_json::json!({
            "host": host,
            "step": step,
            "state": state,
            "command": command,
            "at": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        });
        let fail = |e: std::io::Error| {
            Error::Internal(format!("cannot write {}: {e}", self.path.display()))
        };
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d).map_err(fail)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        writeln!(f, "{line}").map_err(fail)?;
        f.sync_all().map_err(fail)
    }

    /// One migration of an environment at a time: a lock beside the journal, held while
    /// the returned file is open.
    fn lock(&self) -> Result<std::fs::File, Error> {
        let path = self.path.with_extension("lock");
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::Internal(format!("cannot create {}: {e}", d.display())))?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Internal(format!("cannot open {}: {e}", path.display())))?;
        f.try_lock().map_err(|_| {
            Error::Usage(format!(
                "another migration of this environment is running ({} is locked)",
                path.display()
            ))
        })?;
        Ok(f)
    }
}
