//! One function per subcommand; each takes resolved settings and a printer.

pub(crate) mod apply;
pub(crate) mod dns;
pub(crate) mod drain_wait;
pub(crate) mod eip;
pub(crate) mod eval;
pub(crate) mod inventory;
pub(crate) mod inventory_move;
pub(crate) mod lab;
pub(crate) mod list;
pub(crate) mod migrate;
pub(crate) mod release;
pub(crate) mod run;
pub(crate) mod validate;
pub(crate) mod vault;

use crate::cli::InventoryArgs;
use crate::error::Error;
use crate::inventory::{HostId, Inventory, pattern};
use crate::output::Printer;
use crate::settings::Settings;
use crate::source::{Diagnostic, Origin};
use crate::value::{Map, Value};
use crate::vars::{HostVarsQuery, Var, Vars, VarsCache};
use std::path::Path;

/// The inventory named by the command line (or the config), fully read.
pub(crate) fn load_inventory(
    args: &InventoryArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<Inventory, Error> {
    let sources = settings.inventory_sources(&args.inventory)?;
    let inv = crate::inventory::load(&sources)?;
    for w in &inv.warnings {
        printer.diagnostic(w);
    }
    Ok(inv)
}

/// The inventory for a playbook run: with none given anywhere, an empty one (Ansible's
/// implicit localhost stays available), as ansible-playbook does, with its warning.
pub(crate) fn load_inventory_for_play(
    args: &InventoryArgs,
    settings: &Settings,
    printer: &Printer,
) -> Result<Inventory, Error> {
    if args.inventory.is_empty() && settings.inventory.is_empty() {
        printer.warn("No inventory was parsed, only implicit localhost is available");
        printer.warn("provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'");
        let mut inv = Inventory::new();
        inv.reconcile().map_err(|(_, e)| Error::Usage(e.0))?;
        return Ok(inv);
    }
    load_inventory(args, settings, printer)
}

/// Hosts selected by `pattern` and `--limit`; selecting none is an error.
pub(crate) fn select_hosts(
    inv: &Inventory,
    pattern: &str,
    limit: Option<&str>,
    printer: &Printer,
) -> Result<Vec<HostId>, Error> {
    let limit = match limit {
        Some(l) => Some(pattern::limit_patterns(l, Path::new(".")).map_err(|e| Error::Usage(e.0))?),
        None => None,
    };
    let sel = pattern::select(inv, pattern, limit.as_deref()).map_err(|e| Error::Usage(e.0))?;
    for w in &sel.warnings {
        printer.warn(w);
    }
    if sel.hosts.is_empty() {
        return Err(Error::Usage(format!(
            "no hosts matched: pattern '{pattern}'{}",
            limit.map_or(String::new(), |l| format!(
                " with --limit '{}'",
                l.join(",")
            ))
        )));
    }
    Ok(sel.hosts)
}

/// `-e` values: `k=v` pairs (strings), YAML/JSON text, or `@file`.
pub(crate) fn extra_vars(args: &InventoryArgs) -> Result<Vars, Error> {
    let mut out = Vars::default();
    if let Some(g) = &args.group {
        out.insert(
            "hostGroup".into(),
            Var {
                value: Value::str(g.clone()),
                origin: None,
            },
        );
    }
    for (i, e) in args.extra_vars.iter().enumerate() {
        let origin = Origin::file(format!("<-e #{}>", i + 1));
        if let Some(file) = e.strip_prefix('@') {
            let (vars, _) = crate::vars::load_vars_file(Path::new(file))?;
            crate::vars::merge_into(&mut out, &vars);
        } else if e.trim_start().starts_with(['{', '[']) {
            let loaded = crate::yaml::parse(e, &std::sync::Arc::from(Path::new("<-e>")))?;
            loaded.trust();
            match loaded.single()?.map(crate::yaml::Node::to_value) {
                Some(Value::Map(m)) => {
                    crate::vars::merge_into(&mut out, &crate::vars::from_map(&m, Some(&origin)));
                }
                _ => {
                    return Err(Error::User(vec![Diagnostic::error(
                        origin,
                        "extra vars must be a mapping",
                    )]));
                }
            }
        } else {
            for (k, v) in crate::playbook::parse_kv(e) {
                crate::trust::trust(&v);
                out.insert(
                    k,
                    Var {
                        value: Value::Str(v),
                        origin: Some(origin.clone()),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Every host's raw merged vars (as `ansible-inventory` prints them), extra vars last.
pub(crate) fn raw_host_vars(
    inv: &Inventory,
    host: HostId,
    q: &HostVarsQuery,
    cache: &mut VarsCache,
    extra: &Vars,
) -> Result<Map, Error> {
    let mut vars = crate::vars::host_vars(inv, host, q, cache)?;
    crate::vars::merge_into(&mut vars, extra);
    Ok(crate::vars::to_map(&vars))
}

/// The query for group_vars/host_vars: beside the inventory, and beside the playbook.
pub(crate) fn vars_query(inv: &Inventory, args: &InventoryArgs) -> HostVarsQuery {
    let mut q = HostVarsQuery::for_inventory(inv);
    // Like ansible-inventory: the playbook dir defaults to the current directory, whose
    // group_vars/ and host_vars/ are then read as the play's.
    let dir = args
        .playbook_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    q.play_dirs.push(std::fs::canonicalize(&dir).unwrap_or(dir));
    q
}

/// The become settings from the command line, asking for the password once if `-K`.
pub(crate) fn become_args(
    c: &crate::cli::ConnectArgs,
) -> Result<crate::connect::BecomeArgs, Error> {
    let password = if c.ask_become_pass {
        Some(
            rpassword::prompt_password("BECOME password: ")
                .map_err(|e| Error::Usage(format!("cannot read the become password: {e}")))?,
        )
    } else {
        std::env::var("TPROV_BECOME_PASSWORD").ok()
    };
    Ok(crate::connect::BecomeArgs {
        enabled: c.become_ || c.become_user.is_some(),
        user: c.become_user.clone(),
        password,
    })
}

/// A tokio runtime for commands that talk to hosts.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}

/// Runs one parsed command (the binary's, or a step of `migrate`).
pub(crate) fn dispatch(
    command: &crate::cli::Command,
    settings: &Settings,
    printer: &Printer,
) -> Result<u8, Error> {
    use crate::cli::Command;
    match command {
        Command::Inventory(cmd) => inventory::run(cmd, settings, printer),
        Command::Validate(cmd) => validate::run(cmd, settings, printer),
        Command::Eval(cmd) => eval::run(cmd, settings, printer),
        Command::Lab(cmd) => lab::run(cmd, printer),
        Command::Run(cmd) => run::run(cmd, settings, printer),
        Command::Apply(cmd) => apply::run(cmd, false, settings, printer),
        Command::Diff(cmd) => apply::run(cmd, true, settings, printer),
        Command::Dns(cmd) => dns::run(cmd, settings, printer),
        Command::DrainWait(cmd) => drain_wait::run(cmd, settings, printer),
        Command::Migrate(cmd) => migrate::run(cmd, settings, printer),
        Command::Vault(cmd) => vault::run(cmd, printer),
        Command::Release(cmd) => release::run(cmd, settings, printer),
        Command::Eip(cmd) => eip::run(cmd, printer),
    }
}
