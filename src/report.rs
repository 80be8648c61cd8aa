//! Reporters: the only code that prints a run. `Ansible` keeps ansible-playbook's
//! default output (banners, `changed: [host]`, the RECAP line format log scrapers
//! read); `Json` prints one event per line for CI.

mod diff;
pub(crate) use diff::colored;

use crate::output::Printer;
use crate::run::event::{AsyncState, Event, Stats, Status};
use crate::value::pyjson::{JsonStyle, dumps};
use crate::value::{Map, Value};

pub(crate) use diff::unified;

pub(crate) trait Reporter: Send {
    fn event(&mut self, e: &Event);
}

/// ansible-playbook's default callback.
pub(crate) struct Ansible {
    pub printer: Printer,
    pub diff: bool,
    /// How many `-v`: results from 1, META lines from 2.
    pub verbosity: u8,
    /// Whether Ansible's once-per-run hint on turning deprecations off was shown.
    pub deprecation_hint_shown: std::cell::Cell<bool>,
}

impl Ansible {
    /// A deprecation, after Ansible's hint the first time.
    fn deprecate(&self, text: &str) {
        if !self.deprecation_hint_shown.replace(true) {
            self.printer.warn(
                "Deprecation warnings can be disabled by setting `deprecation_warnings=False` in ansible.cfg.",
            );
        }
        self.printer.deprecate(text);
    }
}

fn banner(msg: &str) -> String {
    // Ansible fills to 79 columns when not on a terminal.
    let stars = 79usize.saturating_sub(msg.chars().count()).max(3);
    format!("\n{msg} {}\n", "*".repeat(stars))
}

/// What `-vv` shows before the first play: the playbook's banner and its play count
/// (ansible-playbook's `PLAYBOOK: site.yml` and `2 plays in playbooks/site.yml`).
pub(crate) fn playbook_start(printer: &Printer, path: &std::path::Path, plays: usize) {
    let base = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    printer.out(&banner(&format!("PLAYBOOK: {base}")));
    printer.out(&format!("{plays} plays in {}\n", path.display()));
}

/// Python's `json.dumps(result, sort_keys=True)` as the callback prints results.
fn dump(m: &Map, indent: bool) -> String {
    let mut style = if indent {
        JsonStyle::pretty(4)
    } else {
        JsonStyle::compact()
    };
    style.sort_keys = true;
    style.ensure_ascii = false;
    dumps(&Value::Map(m.clone()), &style).unwrap_or_default()
}

impl Reporter for Ansible {
    fn event(&mut self, e: &Event) {
        let p = &self.printer;
        match e {
            Event::PlayStart { name, .. } => p.out(&banner(&format!("PLAY [{name}]"))),
            Event::TaskStart { name, handler } => p.out(&banner(&format!(
                "{} [{name}]",
                if *handler { "RUNNING HANDLER" } else { "TASK" }
            ))),
            Event::Result {
                host,
                status,
                item,
                result,
                show,
                diffs,
                action,
            } => {
                // Ansible's order: the diff (v2_on_file_diff), the module's warnings and
                // deprecations, where a failure comes from, then the result.
                if self.diff {
                    let mut text: String = diffs
                        .iter()
                        .map(|d| diff::colored(&unified(d), p))
                        .collect();
                    // A module's own `prepared` diff (apt's plan), shown as it is.
                    if *status == Status::Changed
                        && let Some(Value::Map(d)) = result.get("diff")
                        && let Some(Value::Str(prep)) = d.get("prepared")
                        && !prep.is_empty()
                    {
                        text.push_str(prep);
                        text.push('\n');
                    }
                    if !text.is_empty() {
                        p.out(&text);
                    }
                }
                let (warnings, deprecations) = notices(result);
                for w in &warnings {
                    p.warn(w);
                }
                for d in &deprecations {
                    self.deprecate(d);
                }
                let mut text = String::new();
                if matches!(status, Status::Failed | Status::Ignored)
                    && let Some(Value::Str(e)) = result.get(crate::run::ERROR_KEY)
                {
                    text.push_str(&p.paint(&format!("[ERROR]: {e}"), "31"));
                    text.push_str("\n\n");
                }
                let item = item
                    .as_ref()
                    .map(|i| format!(" => (item={i})"))
                    .unwrap_or_default();
                let body =
                    |indent: bool| dump(&display_result(result, action, self.verbosity), indent);
                let line = match status {
                    Status::Ok | Status::Changed => {
                        let (word, color) = if *status == Status::Changed {
                            ("changed", "33")
                        } else {
                            ("ok", "32")
                        };
                        let mut l = format!("{word}: [{host}]{item}");
                        if *show || self.verbosity > 0 {
                            l.push_str(&format!(" => {}", body(true)));
                        }
                        p.paint(&l, color)
                    }
                    // Ansible's item skip line ends with a space.
                    // From -v, Ansible shows why (`=> {"skip_reason": ...}`).
                    Status::Skipped if self.verbosity > 0 => p.paint(
                        &format!("skipping: [{host}]{item} => {}", body(false)),
                        "36",
                    ),
                    Status::Skipped if !item.is_empty() => {
                        p.paint(&format!("skipping: [{host}]{item} "), "36")
                    }
                    Status::Skipped => p.paint(&format!("skipping: [{host}]{item}"), "36"),
                    Status::Failed | Status::Ignored => {
                        let indent = result.contains_key("_ansible_verbose_always");
                        let mut l = if item.is_empty() {
                            format!("fatal: [{host}]: FAILED! => {}", body(indent))
                        } else {
                            format!(
                                "failed: [{host}]{} => {}",
                                item.replacen(" => ", " ", 1),
                                body(indent)
                            )
                        };
                        if *status == Status::Ignored {
                            l.push_str("\n...ignoring");
                        }
                        p.paint(&l, "31")
                    }
                    Status::Unreachable | Status::UnreachableIgnored => {
                        let mut l = format!("fatal: [{host}]: UNREACHABLE! => {}", body(false));
                        if *status == Status::UnreachableIgnored {
                            l.push_str("\n...ignoring");
                        }
                        p.paint(&l, "31")
                    }
                };
                text.push_str(&line);
                text.push('\n');
                p.out(&text);
            }
            Event::Included { path, hosts, item } => {
                let item = item
                    .as_ref()
                    .map(|i| format!(" => (item={i})"))
                    .unwrap_or_default();
                p.out(&p.paint(
                    &format!("included: {path} for {}{item}\n", hosts.join(", ")),
                    "36",
                ));
            }
            Event::Retry { host, task, left } => p.out(&p.paint(
                &format!("FAILED - RETRYING: [{host}]: {task} ({left} retries left).\n"),
                "31",
            )),
            Event::Warning(w) => p.warn(w),
            Event::Fatal(m) => p.err(&format!("{}\n", p.paint(&format!("[ERROR]: {m}"), "31"))),
            Event::Meta(m) if self.verbosity >= 2 => p.out(&format!("META: {m}\n")),
            Event::Meta(_) => {}
            Event::Deprecation(d) => self.deprecate(d),
            Event::Ignoring => p.out(&p.paint("...ignoring\n", "36")),
            Event::Async { host, jid, state } => p.out(&p.paint(
                &match state {
                    AsyncState::Ok => format!("ASYNC OK on {host}: jid={jid}\n"),
                    AsyncState::Failed => format!("ASYNC FAILED on {host}: jid={jid}\n"),
                    AsyncState::Poll => {
                        format!("ASYNC POLL on {host}: jid={jid} started=True finished=False\n")
                    }
                },
                "1;30",
            )),
            Event::Recap { stats } => {
                let mut text = banner("PLAY RECAP");
                for (host, s) in stats {
                    text.push_str(&recap_line(host, s));
                    text.push('\n');
                }
                text.push('\n');
                p.out(&text);
            }
        }
    }
}

/// The recap line, in ansible-playbook's exact layout.
pub(crate) fn recap_line(host: &str, s: &Stats) -> String {
    format!(
        "{host:<26} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={:<4}",
        s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
    )
}

/// A module's warnings and deprecations, from its result, in Ansible's words.
pub(crate) fn notices(result: &Map) -> (Vec<String>, Vec<String>) {
    let warnings = match result.get("warnings") {
        Some(Value::List(ws)) => ws.iter().map(Value::py_str).collect(),
        _ => Vec::new(),
    };
    let deprecations = match result.get("deprecations") {
        Some(Value::List(ds)) => ds
            .iter()
            .filter_map(|d| match d {
                Value::Map(d) => Some(d),
                _ => None,
            })
            .map(|d| {
                let msg = d.get("msg").map(Value::py_str).unwrap_or_default();
                let deprecator = d.get("deprecator").and_then(Value::as_map);
                let plugin = deprecator.and_then(|p| {
                    Some((p.get("type")?.as_str()?, p.get("resolved_name")?.as_str()?))
                });
                let from = match (plugin, d.get("collection_name").and_then(Value::as_str)) {
                    (Some((kind, resolved)), Some(collection))
                        if collection != "ansible.builtin" =>
                    {
                        let short = resolved.rsplit('.').next().unwrap_or(resolved);
                        format!("{kind} '{short}' in collection '{collection}'")
                    }
                    _ => "ansible-core".to_string(),
                };
                match (d.get("version"), d.get("date")) {
                    (Some(v), _) => format!(
                        "{msg} This feature will be removed from {from} version {}.",
                        v.py_str()
                    ),
                    (None, Some(date)) => format!(
                        "{msg} This feature will be removed from {from} in a release after {}.",
                        date.py_str()
                    ),
                    _ => msg,
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    (warnings, deprecations)
}

/// The result as the callback shows it: without internal keys, and for `debug` only
/// the message (or the variable).
fn display_result(m: &Map, action: &str, verbosity: u8) -> Map {
    let mut out = m.clone();
    out.retain(|k, _| !k.starts_with("_ansible_"));
    // A module's `invocation` (its arguments, defaults filled) is shown from -vvv.
    if verbosity < 3 || action == "debug" {
        out.shift_remove("invocation");
    }
    for k in ["diff", "exception", "warnings", "deprecations", "failed"] {
        out.shift_remove(k);
    }
    if action == "debug" {
        if out.contains_key("msg") {
            out.retain(|k, _| k == "msg");
        } else {
            for k in [
                "changed",
                "failed",
                "skipped",
                "invocation",
                "skip_reason",
                "ansible_loop_var",
                "ansible_index_var",
                "ansible_loop",
            ] {
                out.shift_remove(k);
            }
        }
    }
    out
}

/// One JSON object per event, for machines.
pub(crate) struct Json {
    pub printer: Printer,
}

impl Reporter for Json {
    fn event(&mut self, e: &Event) {
        // A module's warnings and deprecations come before its result.
        if let Event::Result { result, .. } = e {
            let (warnings, deprecations) = notices(result);
            for w in warnings {
                self.event(&Event::Warning(w));
            }
            for d in deprecations {
                self.event(&Event::Deprecation(d));
            }
        }
        let mut m = Map::default();
        match e {
            Event::PlayStart { name, check } => {
                m.insert("event".into(), Value::str("play"));
                m.insert("name".into(), Value::str(name.clone()));
                m.insert("check".into(), Value::Bool(*check));
            }
            Event::TaskStart { name, handler } => {
                m.insert(
                    "event".into(),
                    Value::str(if *handler { "handler" } else { "task" }),
                );
                m.insert("name".into(), Value::str(name.clone()));
            }
            Event::Result {
                host,
                status,
                item,
                result,
                diffs,
                action,
                ..
            } => {
                m.insert("event".into(), Value::str("result"));
                m.insert("action".into(), Value::str(action.clone()));
                m.insert("host".into(), Value::str(host.clone()));
                let name = match status {
                    Status::UnreachableIgnored => "unreachable_ignored".to_string(),
                    other => format!("{other:?}").to_lowercase(),
                };
                m.insert("status".into(), Value::str(name));
                if let Some(i) = item {
                    m.insert("item".into(), Value::str(i.clone()));
                }
                m.insert(
                    "result".into(),
                    Value::Map(display_result(result, action, 0)),
                );
                if !diffs.is_empty() {
                    m.insert(
                        "diff".into(),
                        Value::List(diffs.iter().map(|d| Value::str(unified(d))).collect()),
                    );
                }
            }
            Event::Included { path, hosts, item } => {
                m.insert("event".into(), Value::str("included"));
                m.insert("path".into(), Value::str(path.clone()));
                m.insert(
                    "hosts".into(),
                    Value::List(hosts.iter().map(|h| Value::str(h.clone())).collect()),
                );
                if let Some(i) = item {
                    m.insert("item".into(), Value::str(i.clone()));
                }
            }
            Event::Retry { host, task, left } => {
                m.insert("event".into(), Value::str("retry"));
                m.insert("host".into(), Value::str(host.clone()));
                m.insert("task".into(), Value::str(task.clone()));
                m.insert("retries_left".into(), Value::Int(*left));
            }
            Event::Warning(w) => {
                m.insert("event".into(), Value::str("warning"));
                m.insert("msg".into(), Value::str(w.clone()));
            }
            Event::Fatal(msg) => {
                m.insert("event".into(), Value::str("error"));
                m.insert("msg".into(), Value::str(msg.clone()));
            }
            Event::Meta(msg) => {
                m.insert("event".into(), Value::str("meta"));
                m.insert("msg".into(), Value::str(msg.clone()));
            }
            Event::Deprecation(d) => {
                m.insert("event".into(), Value::str("deprecation"));
                m.insert("msg".into(), Value::str(d.clone()));
            }
            Event::Async { host, jid, state } => {
                m.insert("event".into(), Value::str("async"));
                m.insert("host".into(), Value::str(host.clone()));
                m.insert("jid".into(), Value::str(jid.clone()));
                let state = match state {
                    AsyncState::Ok => "ok",
                    AsyncState::Failed => "failed",
                    AsyncState::Poll => "poll",
                };
                m.insert("state".into(), Value::str(state));
            }
            Event::Ignoring => {
                m.insert("event".into(), Value::str("ignoring"));
            }
            Event::Recap { stats } => {
                m.insert("event".into(), Value::str("recap"));
                let mut hosts = Map::default();
                for (h, s) in stats {
                    let mut sm = Map::default();
                    for (k, v) in [
                        ("ok", s.ok),
                        ("changed", s.changed),
                        ("unreachable", s.unreachable),
                        ("failed", s.failed),
                        ("skipped", s.skipped),
                        ("rescued", s.rescued),
                        ("ignored", s.ignored),
                    ] {
                        sm.insert(k.into(), Value::Int(i64::from(v)));
                    }
                    hosts.insert(h.clone(), Value::Map(sm));
                }
                m.insert("hosts".into(), Value::Map(hosts));
            }
        }
        self.printer.out(&format!(
            "{}\n",
            dumps(&Value::Map(m), &JsonStyle::compact()).unwrap_or_default()
        ));
    }
}
