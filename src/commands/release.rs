//! `tprov release list|rollback PATH`: the `release` module run on the selected hosts,
//! as a one-task play (so inventory, become, check mode and the run lock are apply's),
//! with the releases printed per host.

use crate::cli::{Cli, Command, ReleaseAction, ReleaseCmd};
use crate::error::Error;
use crate::output::Printer;
use crate::report::Reporter;
use crate::run::event::{Event, Status};
use crate::settings::Settings;
use crate::value::{Map, Value};
use clap::Parser;
use std::fmt::Write as _;

pub(crate) fn run(cmd: &ReleaseCmd, settings: &Settings, printer: &Printer) -> Result<u8, Error> {
    let mut task = Map::default();
    let (path, check) = match &cmd.action {
        ReleaseAction::List { path } => {
            task.insert("state".into(), Value::str("list"));
            (path, false)
        }
        ReleaseAction::Rollback { path, to, check } => {
            task.insert("state".into(), Value::str("rollback"));
            if let Some(to) = to {
                task.insert("to".into(), Value::str(to.clone()));
            }
            (path, *check)
        }
    };
    task.insert("path".into(), Value::str(path.clone()));
    // JSON is YAML: the task's arguments cannot break the play's syntax.
    let play = format!(
        "- hosts: \"{{{{ hostGroup | default('all') }}}}\"\n  gather_facts: false\n  tasks:\n    - name: release\n      release: {}\n",
        crate::value::pyjson::dumps(
            &Value::Map(task),
            &crate::value::pyjson::JsonStyle::compact()
        )
        .map_err(Error::Usage)?
    );
    // In a directory of its own: no group_vars/ beside the playbook but the project's.
    let dir = Removed(std::env::temp_dir().join(format!(
        "tprov-release-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )));
    let book = dir.0.join("release.yml");
    std::fs::create_dir(&dir.0)
        .and_then(|()| std::fs::write(&book, play))
        .map_err(|e| Error::Usage(format!("{}: {e}", book.display())))?;
    let book_path = book.to_string_lossy().into_owned();
    let parsed = Cli::try_parse_from(["tprov", "apply", &book_path])
        .map_err(|e| Error::Usage(e.to_string()))?;
    let Command::Apply(mut apply) = parsed.command else {
        return Err(Error::Usage("internal error: not an apply command".into()));
    };
    apply.inv = cmd.inv.clone();
    apply.connect = cmd.connect.clone();
    apply.check = check;
    apply.diff = check;
    let reporter = Listing {
        printer: printer.clone(),
        path: path.clone(),
        failed: 0,
    };
    super::apply::run_reporting(&apply, false, settings, printer, Box::new(reporter))
}

/// A directory removed when dropped.
struct Removed(std::path::PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Prints each host's releases (newest last, `*` on the current one) or its failure.
struct Listing {
    printer: Printer,
    path: String,
    failed: usize,
}

impl Reporter for Listing {
    fn event(&mut self, e: &Event) {
        let Event::Result {
            host,
            status,
            result,
            ..
        } = e
        else {
            return;
        };
        let mut text = format!("{host}  {}\n", self.path);
        match status {
            Status::Failed | Status::Unreachable => {
                self.failed += 1;
                let msg = result.get("msg").map(Value::py_str).unwrap_or_default();
                let _ = writeln!(text, "  error: {msg}");
            }
            _ => {
                // After a rollback: the list as it is now (the release left is bad).
                let mut moved = None;
                if matches!(status, Status::Changed) {
                    let to = result.get("release").map(Value::py_str).unwrap_or_default();
                    let from = result
                        .get("previous")
                        .map(Value::py_str)
                        .unwrap_or_default();
                    let _ = writeln!(text, "  current: {from} -> {to}");
                    moved = Some((from, to));
                }
                let list = match result.get("releases") {
                    Some(Value::List(l)) => l.clone(),
                    _ => Vec::new(),
                };
                if list.is_empty() {
                    text.push_str("  (no releases)\n");
                }
                for r in list {
                    let Value::Map(m) = r else { continue };
                    let flag = |k: &str| matches!(m.get(k), Some(Value::Bool(true)));
                    let name = m.get("name").map(Value::py_str).unwrap_or_default();
                    let (current, bad) = match &moved {
                        Some((from, to)) => (*to == name, flag("bad") || *from == name),
                        None => (flag("current"), flag("bad")),
                    };
                    let mark = if current { "*" } else { " " };
                    let note = match (bad, flag("building")) {
                        (_, true) => "  (unfinished)",
                        (true, _) => "  (bad)",
                        _ => "",
                    };
                    let _ = writeln!(text, "  {mark} {name}{note}");
                }
            }
        }
        self.printer.out(&text);
    }
}
