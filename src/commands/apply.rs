//! `tprov apply` (and `tprov diff`, its `--check --diff` short form).

use super::{become_args, extra_vars, runtime};
use crate::cli::{ApplyCmd, Format};
use crate::error::Error;
use crate::inventory::{Inventory, pattern};
use crate::output::Printer;
use crate::report::{Ansible, Json, Reporter};
use crate::run::{RunOptions, run as run_plays};
use crate::settings::Settings;
use crate::vars::HostVarsQuery;
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) fn run(
    cmd: &ApplyCmd,
    dry: bool,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, Error> {
    run_with(cmd, dry, settings, printer, None)
}

/// `apply` whose events go to `reporter` instead of the `--format` one (commands that
/// run a play of their own and print its results their way).
pub(crate) fn run_reporting(
    cmd: &ApplyCmd,
    dry: bool,
    settings: &Settings,
    printer: &Printer,
    reporter: Box<dyn Reporter>,
) -> Result<u8, Error> {
    run_with(cmd, dry, settings, printer, Some(reporter))
}

fn run_with(
    cmd: &ApplyCmd,
    dry: bool,
    settings: &Settings,
    printer: &Printer,
    reporter: Option<Box<dyn Reporter>>,
) -> Result<u8, Error> {
    // Signals are watched from the start: a Ctrl-C while the files load stops the run
    // before any host is contacted, as ansible-playbook's does.
    let rt = runtime()?;
    let (ready, registered) = std::sync::mpsc::channel();
    rt.spawn(watch_signals(printer.clone(), ready));
    let _ = registered.recv_timeout(std::time::Duration::from_secs(5));
    let playbook = cmd
        .playbook
        .clone()
        .unwrap_or_else(|| PathBuf::from("playbooks/site.yml"));
    if !playbook.exists() {
        return Err(Error::Usage(format!(
            "playbook {} not found",
            playbook.display()
        )));
    }
    // Every playbook problem is reported before any host is contacted.
    let plays = crate::playbook::load(&playbook).map_err(Error::User)?;
    if cmd.syntax_check {
        printer.out(&format!("\nplaybook: {}\n", playbook.display()));
        return Ok(0);
    }
    let mut inv = super::load_inventory_for_play(&cmd.inv, settings, printer)?;
    let limit = match &cmd.inv.limit {
        Some(l) => Some(
            pattern::limit_patterns(l, std::path::Path::new(".")).map_err(|e| Error::Usage(e.0))?,
        ),
        None => None,
    };
    if let Some(l) = &limit {
        let sel = pattern::select(&inv, "all", Some(l)).map_err(|e| Error::Usage(e.0))?;
        if sel.hosts.is_empty() {
            return Err(Error::Usage(format!(
                "--limit '{}' selects no host",
                l.join(",")
            )));
        }
    }
    if let Some(c) = &cmd.connection
        && !inv
            .group(crate::inventory::ALL)
            .vars
            .contains_key("ansible_connection")
    {
        inv.set_group_var(
            crate::inventory::ALL,
            "ansible_connection",
            crate::value::Value::str(c.clone()),
        )
        .map_err(|e| Error::Usage(e.0))?;
    }
    if let (true, Some(group), Some(limit)) = (cmd.adopt, &cmd.inv.group, &limit) {
        adopt(&mut inv, group, limit, printer)?;
    }
    let fact_cache =
        crate::run::fact_cache::FactCache::from_settings(settings).map_err(Error::Usage)?;
    if let (true, Some(cache)) = (cmd.flush_cache, &fact_cache) {
        for h in inv.hosts() {
            cache.flush(&h.name);
        }
    }
    let mut settings = settings.clone();
    if let Some(t) = cmd.connect.timeout {
        settings.timeout = t;
    }
    let opts = RunOptions {
        check: cmd.check || dry,
        force_handlers: cmd.force_handlers
            || std::env::var("ANSIBLE_FORCE_HANDLERS")
                .is_ok_and(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes" | "on")),
        diff: cmd.diff || dry,
        limit,
        tags: cmd.tags.clone(),
        skip_tags: cmd.skip_tags.clone(),
        forks: cmd.connect.forks.unwrap_or(settings.forks),
        escalate: become_args(&cmd.connect)?,
        settings,
        extra: extra_vars(&cmd.inv)?,
        query: HostVarsQuery::for_inventory(&inv),
        progress: matches!(cmd.format, Format::Text)
            && !printer.quiet
            && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        fact_cache,
    };
    if cmd.list_tasks || cmd.list_tags || cmd.list_hosts {
        let what = super::list::What {
            tasks: cmd.list_tasks,
            tags: cmd.list_tags,
            hosts: cmd.list_hosts,
        };
        let mut warnings = Vec::new();
        let text = super::list::render(&playbook, &plays, &inv, &opts, what, &mut warnings)?;
        for w in warnings {
            printer.warn(&w);
        }
        printer.out(&text);
        return Ok(0);
    }
    if reporter.is_none() && matches!(cmd.format, Format::Text) && cmd.verbose >= 2 {
        crate::report::playbook_start(printer, &playbook, plays.len());
    }
    let mut reporter: Box<dyn Reporter> = match (reporter, cmd.format) {
        (Some(r), _) => r,
        (None, Format::Text) => Box::new(Ansible {
            printer: printer.clone(),
            diff: opts.diff,
            verbosity: cmd.verbose,
            deprecation_hint_shown: std::cell::Cell::new(false),
        }),
        (None, Format::Json) => Box::new(Json {
            printer: printer.clone(),
        }),
    };
    let interrupted = || {
        let stop = crate::run::interrupted();
        if stop {
            printer.err("[ERROR]: User interrupted execution\n");
        }
        stop
    };
    if interrupted() {
        return Ok(crate::error::exit::INTERRUPTED);
    }
    let summary = rt.block_on(run_plays(&plays, Arc::new(inv), &opts, reporter.as_mut()))?;
    if interrupted() {
        return Ok(crate::error::exit::INTERRUPTED);
    }
    Ok(summary.exit_code())
}

/// `--adopt`: the hosts of `--limit` outside `group` become its members for this run.
fn adopt(
    inv: &mut Inventory,
    group: &str,
    limit: &[String],
    printer: &Printer,
) -> Result<(), Error> {
    let Some(g) = inv.group_id(group) else {
        return Err(Error::Usage(format!(
            "--adopt: group '{group}' is not in the inventory"
        )));
    };
    let hosts = pattern::select(inv, "all", Some(limit))
        .map_err(|e| Error::Usage(e.0))?
        .hosts;
    for h in hosts {
        if inv.host(h).groups.contains(&g) {
            continue;
        }
        let left = inv.adopt(g, h);
        let names: Vec<&str> = left.iter().map(|l| inv.group(*l).name.as_str()).collect();
        printer.err(&format!(
            "[NOTE]: {} runs as a member of {group} (--adopt){}; the inventory file is unchanged\n",
            inv.host(h).name,
            if names.is_empty() {
                String::new()
            } else {
                format!(", out of {}", names.join(", "))
            }
        ));
    }
    inv.reconcile().map_err(|(_, e)| Error::Usage(e.0))
}

/// The first Ctrl-C or SIGTERM stops the run between tasks (the running ones finish, so
/// no file is left half-written, and the recap still prints); a second one ends it at
/// once.
async fn watch_signals(printer: Printer, ready: std::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let _ = ready.send(());
    for n in 0.. {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        if n > 0 {
            printer.err("[ERROR]: User interrupted execution (aborted)\n");
            std::process::exit(i32::from(crate::error::exit::INTERRUPTED));
        }
        crate::run::interrupt();
        printer.err(
            "[WARNING]: interrupted: stopping after the running task (interrupt again to abort now)\n",
        );
    }
}
