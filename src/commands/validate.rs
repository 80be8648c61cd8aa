//! `tprov validate`: everything that can be checked without a host, in one run, each
//! problem as `file:line:col: severity: message`. Nothing is connected to or changed.

use super::{extra_vars, select_hosts, vars_query};
use crate::cli::{Format, ValidateCmd};
use crate::context::Fleet;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::output::Printer;
use crate::schema::{self, Schema};
use crate::settings::Settings;
use crate::source::{Diagnostic, Origin, Severity};
use crate::template::{engine, native_frame};
use crate::value::pyjson::{JsonStyle, dumps};
use crate::value::{Map, Value};
use indexmap::IndexMap;
use std::path::PathBuf;
use std::sync::Arc;

mod files;

use files::{check_template_files, check_vars_dir, template_files};

/// Problems, merged when many hosts hit the same one.
#[derive(Default)]
struct Report {
    problems: IndexMap<(Origin, String), (bool, Vec<String>)>,
}

/// Where checks put what they find: the report, or one thread's list of it.
trait Problems {
    fn add(&mut self, d: Diagnostic, host: Option<&str>);
}

impl Problems for Vec<(Diagnostic, Option<String>)> {
    fn add(&mut self, d: Diagnostic, host: Option<&str>) {
        self.push((d, host.map(str::to_string)));
    }
}

impl Problems for Report {
    fn add(&mut self, d: Diagnostic, host: Option<&str>) {
        let is_error = d.severity == Severity::Error;
        let entry = self.problems.entry((d.origin, d.message)).or_default();
        entry.0 |= is_error;
        if let Some(h) = host {
            entry.1.push(h.to_string());
        }
    }
}

impl Report {
    fn diagnostics(&self, strict: bool) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> = self
            .problems
            .iter()
            .map(|((origin, message), (is_error, hosts))| {
                let message = match hosts.as_slice() {
                    [] => message.clone(),
                    [one] => format!("{message} (host {one})"),
                    [first, rest @ ..] => {
                        format!("{message} (host {first} and {} more)", rest.len())
                    }
                };
                let severity = if *is_error || strict {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                Diagnostic {
                    origin: origin.clone(),
                    message,
                    severity,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.origin.file, a.origin.pos).cmp(&(&b.origin.file, b.origin.pos)));
        out
    }
}

pub(crate) fn run(cmd: &ValidateCmd, settings: &Settings, printer: &Printer) -> Result<u8, Error> {
    let mut report = Report::default();
    let sources = settings.inventory_sources(&cmd.inv.inventory)?;
    match crate::inventory::load(&sources) {
        Ok(inv) => check_inventory(cmd, inv, &mut report, printer)?,
        Err(d) => report.add(d, None),
    }
    check_template_files(&cmd.templates, &mut report);
    check_playbooks(cmd, &mut report);
    let diags = report.diagnostics(cmd.strict);
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    match cmd.format {
        Format::Json => {
            let items: Vec<Value> = diags
                .iter()
                .map(|d| {
                    let mut m = Map::default();
                    m.insert("file".into(), Value::str(d.origin.display_path()));
                    m.insert("line".into(), Value::Int(i64::from(d.origin.pos.line)));
                    m.insert("col".into(), Value::Int(i64::from(d.origin.pos.col)));
                    m.insert(
                        "severity".into(),
                        Value::str(if d.severity == Severity::Error {
                            "error"
                        } else {
                            "warning"
                        }),
                    );
                    m.insert("message".into(), Value::str(d.message.clone()));
                    Value::Map(m)
                })
                .collect();
            let mut m = Map::default();
            m.insert("errors".into(), Value::Int(errors as i64));
            m.insert("warnings".into(), Value::Int(warnings as i64));
            m.insert("problems".into(), Value::List(items));
            printer.out(&format!(
                "{}\n",
                dumps(&Value::Map(m), &JsonStyle::pretty(2)).map_err(Error::Internal)?
            ));
        }
        Format::Text => {
            let mut text: String = diags.iter().map(|d| format!("{d}\n")).collect();
            text.push_str(&format!("{errors} error(s), {warnings} warning(s)\n"));
            printer.out(&text);
        }
    }
    Ok(if errors > 0 {
        crate::error::exit::ERROR
    } else {
        0
    })
}

fn check_inventory(
    cmd: &ValidateCmd,
    inv: Inventory,
    report: &mut Report,
    printer: &Printer,
) -> Result<(), Error> {
    for w in &inv.warnings {
        report.add(w.clone(), None);
    }
    let q = vars_query(&inv, &cmd.inv);
    let dirs: Vec<PathBuf> = q
        .inventory_dirs
        .iter()
        .chain(q.play_dirs.iter())
        .cloned()
        .collect();
    let mut seen_dirs = Vec::new();
    for dir in dirs {
        for sub in ["group_vars", "host_vars"] {
            let canon = std::fs::canonicalize(dir.join(sub)).unwrap_or_else(|_| dir.join(sub));
            if !seen_dirs.contains(&canon) {
                check_vars_dir(&canon, sub == "group_vars", &inv, report);
                seen_dirs.push(canon);
            }
        }
    }
    let schema = if cmd.schema.exists() {
        match schema::load(&cmd.schema) {
            Ok(s) => Some(s),
            Err(d) => {
                report.add(d, None);
                None
            }
        }
    } else {
        None
    };
    let pattern = cmd.inv.group.clone().unwrap_or_else(|| "all".into());
    let hosts = select_hosts(&inv, &pattern, cmd.inv.limit.as_deref(), printer)?;
    let extra = extra_vars(&cmd.inv)?;
    let inv = Arc::new(inv);
    let fleet = Fleet::new(inv.clone(), q, extra);
    // Templates that do not even parse are reported once, not rendered per host.
    let templates: Vec<PathBuf> = template_files(&cmd.templates)
        .into_iter()
        .filter(|t| {
            std::fs::read_to_string(t).is_ok_and(|text| engine().check_syntax(&text).is_ok())
        })
        .collect();
    // Hosts are independent: check them on every core, then report in host order.
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(8);
    let chunk = hosts.len().div_ceil(threads).max(1);
    let found: Vec<Vec<(Diagnostic, Option<String>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = hosts
            .chunks(chunk)
            .map(|part| {
                let (inv, schema, templates) = (&inv, &schema, &templates);
                // Each worker has its own vars caches: no lock shared per host.
                let fleet = fleet.for_play(
                    crate::vars::Vars::default(),
                    std::collections::HashMap::default(),
                    None,
                    fleet.query.clone(),
                    false,
                    false,
                );
                s.spawn(move || {
                    let mut out = Vec::new();
                    for &h in part {
                        check_host(h, inv, &fleet, schema.as_ref(), templates, &mut out);
                        fleet.forget(h);
                    }
                    out.extend(fleet.warnings().into_iter().map(|w| (w, None)));
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    for (d, host) in found.into_iter().flatten() {
        report.add(d, host.as_deref());
    }
    for w in fleet.warnings() {
        report.add(w, None);
    }
    Ok(())
}

/// Everything about one host: its vars render, its schema holds, every template renders.
fn check_host(
    h: usize,
    inv: &Inventory,
    fleet: &Arc<Fleet>,
    schema: Option<&Schema>,
    templates: &[PathBuf],
    out: &mut Vec<(Diagnostic, Option<String>)>,
) {
    let name = inv.host(h).name.clone();
    if let Some(s) = &schema {
        check_exclusive(inv, h, s, out);
    }
    let scope = match fleet.scope(h) {
        Ok(s) => s,
        Err(d) => {
            out.push((d, Some(name)));
            return;
        }
    };
    let raw = match fleet.raw_vars(h) {
        Ok(r) => r,
        Err(d) => {
            out.push((d, Some(name)));
            return;
        }
    };
    let schema_here = schema
        .as_ref()
        .filter(|s| inv.group_names(h).iter().any(|g| s.groups.contains(g)));
    let mut resolved = Map::default();
    for (var, def) in raw.iter() {
        // A value with no template in it cannot fail: only templates are rendered.
        if !has_template(&def.value) {
            if schema_here.is_some() {
                resolved.insert(var.clone(), def.value.clone());
            }
            continue;
        }
        let origin = def
            .origin
            .clone()
            .unwrap_or_else(|| Origin::file("<inventory>"));
        match engine().template_to_value(&def.value, &scope, Some(&origin)) {
            Ok(v) => {
                if schema_here.is_some() {
                    resolved.insert(var.clone(), v);
                }
            }
            Err(e) => out.push((
                Diagnostic::error(e.origin.unwrap_or(origin), e.message),
                Some(name.clone()),
            )),
        }
    }
    if let Some(s) = schema_here {
        check_schema(s, &raw, &resolved, out, &name);
    }
    for t in templates {
        let tscope = scope.with_frame(native_frame(crate::template::file_vars(
            t,
            &t.display().to_string(),
        )));
        if let Err(e) =
            engine().render_file_with(t, &tscope, &crate::template::FileOptions::default())
        {
            out.push((
                Diagnostic::error(e.origin.unwrap_or_else(|| Origin::file(t)), e.message),
                Some(name.clone()),
            ));
        }
    }
}

fn check_exclusive(inv: &Inventory, host: usize, s: &Schema, report: &mut impl Problems) {
    let groups = inv.group_names(host);
    for pair in &s.exclusive {
        let inside: Vec<&String> = pair.iter().filter(|g| groups.contains(g)).collect();
        if inside.len() > 1 {
            let origin = inv
                .host(host)
                .origin
                .clone()
                .unwrap_or_else(|| Origin::file("<inventory>"));
            let names: Vec<&str> = inside.iter().map(|g| g.as_str()).collect();
            report.add(
                Diagnostic::error(origin, format!("{} is in both {}: a host belongs to the old or the new group of an environment, never both", inv.host(host).name, names.join(" and "))),
                None,
            );
        }
    }
}

fn check_schema(
    s: &Schema,
    raw: &crate::vars::Vars,
    resolved: &Map,
    report: &mut impl Problems,
    host: &str,
) {
    for (var, rule) in &s.vars {
        let origin = raw
            .get(var)
            .and_then(|v| v.origin.clone())
            .unwrap_or_else(|| s.origin.clone());
        match resolved.get(var) {
            Some(v) => {
                let mut msgs = Vec::new();
                schema::check(var, v, rule, &mut msgs);
                for m in msgs {
                    report.add(Diagnostic::error(origin.clone(), m), Some(host));
                }
            }
            None if raw.contains_key(var) => {} // already reported as a template error
            None if !rule.optional => report.add(
                Diagnostic::error(
                    s.origin.clone(),
                    format!("required var `{var}` is not defined"),
                ),
                Some(host),
            ),
            None => {}
        }
    }
    for (var, def) in raw {
        if s.vars.contains_key(var) {
            continue;
        }
        if let Some(known) = schema::did_you_mean(var, s.vars.keys().map(String::as_str)) {
            let origin = def.origin.clone().unwrap_or_else(|| s.origin.clone());
            report.add(
                Diagnostic::error(
                    origin,
                    format!("unknown var `{var}`; did you mean `{known}`?"),
                ),
                None,
            );
        }
    }
}

/// Every playbook parses, with known keywords, modules and module arguments.
fn check_playbooks(cmd: &ValidateCmd, report: &mut Report) {
    let mut books = cmd.playbooks.clone();
    if books.is_empty()
        && let Ok(entries) = std::fs::read_dir("playbooks")
    {
        books = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
            .collect();
        books.sort();
    }
    for book in books {
        match crate::playbook::load(&book) {
            Err(diags) => {
                for d in diags {
                    report.add(d, None);
                }
            }
            Ok(plays) => {
                for play in &plays {
                    for section in [
                        &play.pre_tasks,
                        &play.tasks,
                        &play.post_tasks,
                        &play.handlers,
                    ] {
                        task_problems(section, report);
                    }
                    let known = crate::playbook::handler_keys(&play.handlers);
                    for section in [
                        &play.pre_tasks,
                        &play.tasks,
                        &play.post_tasks,
                        &play.handlers,
                    ] {
                        missing_handlers(section, &known, report);
                    }
                }
            }
        }
    }
}

/// A `notify` no handler of the play answers (by name or `listen`): Ansible ends the run
/// when the task changes (a warning with `ANSIBLE_ERROR_ON_MISSING_HANDLER=false`).
fn missing_handlers(
    items: &[crate::playbook::Item],
    known: &std::collections::HashSet<String>,
    report: &mut Report,
) {
    for item in items {
        match item {
            crate::playbook::Item::Task(t) => {
                for n in &t.notify {
                    if !known.contains(n) && !crate::template::is_possibly_template(n) {
                        report.add(
                            Diagnostic::warning(
                                t.origin.clone(),
                                format!("The requested handler '{n}' was not found in either the main handlers list nor in the listening handlers list (the run ends there when this task changes)"),
                            ),
                            None,
                        );
                    }
                }
            }
            crate::playbook::Item::Block(b) => {
                for part in [&b.block, &b.rescue, &b.always] {
                    missing_handlers(part, known, report);
                }
            }
        }
    }
}

/// What loads but fails where it runs, said before any run: argument errors (Ansible
/// raises them at run time), and modules tprov cannot run (a `when:` may skip them).
fn task_problems(items: &[crate::playbook::Item], report: &mut Report) {
    for item in items {
        match item {
            crate::playbook::Item::Task(t) => {
                for (origin, msg) in &t.arg_errors {
                    report.add(Diagnostic::error(origin.clone(), msg.clone()), None);
                }
                if !crate::tasks::is_module(&t.module) && t.custom_module.is_none() {
                    report.add(
                        Diagnostic::warning(
                            t.origin.clone(),
                            crate::tasks::unsupported_message(&t.module),
                        ),
                        None,
                    );
                }
            }
            crate::playbook::Item::Block(b) => {
                for part in [&b.block, &b.rescue, &b.always] {
                    task_problems(part, report);
                }
            }
        }
    }
}

/// Whether a value holds a template anywhere.
fn has_template(v: &Value) -> bool {
    match v {
        Value::Str(s) => crate::template::is_possibly_template(s),
        Value::List(l) => l.iter().any(has_template),
        Value::Map(m) => m.values().any(has_template),
        _ => false,
    }
}
