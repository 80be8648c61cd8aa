//! One task on one host: conditions, loop, templated arguments, become, the module
//! itself, `changed_when`/`failed_when`, `until`, `register`, `notify`, and the counts.

use super::event::{Event, Stats, Status};
use super::{Inherited, RunOptions};
use crate::connect::{become_for, target};
use crate::context::{Fleet, OMIT};
use crate::inventory::HostId;
use crate::playbook::{LoopKind, Play, Task};
use crate::tasks::{self, Cx, Outcome, Sim, TaskError};
use crate::template::{Frame, Scope, engine, from_mj, native_frame, to_mj};
use crate::transport::{Become, Connection};
use crate::value::{Map, Value};
use indexmap::IndexMap;
use std::sync::Arc;

/// A host's state for the whole run.
pub(super) struct HostState {
    pub id: HostId,
    pub name: String,
    pub conn: Option<Connection>,
    /// Connections to the hosts tasks are delegated to (`delegate_to`), kept for the run.
    pub delegates: std::collections::HashMap<HostId, Connection>,
    /// set_fact and registered results (and gathered facts).
    pub facts: IndexMap<String, minijinja::Value>,
    /// `include_vars` results, raw (templated when read), ranked just under `facts`.
    pub included: Arc<crate::vars::Vars>,
    pub notified: Vec<String>,
    pub stats: Stats,
    pub failed: bool,
    pub unreachable: bool,
    pub sim: Sim,
    /// Registered results check mode could not produce (a command it skipped): tasks
    /// that need them are skipped too, instead of failing where the real run won't.
    pub unpredictable: std::collections::HashSet<String>,
    /// What made the current task fail before its module ran, for its `[ERROR]` text.
    pub cause: Option<Cause>,
    /// Warnings from opening the connection (a host key added), shown with the task.
    pub notes: Vec<String>,
}

/// A task that failed in one of its expressions (a condition, an argument), as Ansible
/// 2.19 tells it: an optional summary ("Finalization of task args for ... failed"),
/// the expression's error, and where the expression is written.
#[derive(Debug, Clone)]
pub(super) struct Cause {
    /// The summary and where it points (the module's key for task args).
    summary: Option<(String, crate::source::Origin)>,
    message: String,
    origin: crate::source::Origin,
}

impl Cause {
    /// The failed result's `msg`.
    fn msg(&self) -> String {
        match &self.summary {
            Some((s, _)) => format!("Task failed: {s}: {}", self.message),
            None => format!("Task failed: {}", self.message),
        }
    }
}

impl HostState {
    pub(super) fn new(id: HostId, name: String) -> HostState {
        HostState {
            id,
            name,
            conn: None,
            delegates: std::collections::HashMap::new(),
            facts: IndexMap::new(),
            included: Arc::default(),
            notified: Vec::new(),
            stats: Stats::default(),
            failed: false,
            unreachable: false,
            sim: Sim::default(),
            unpredictable: std::collections::HashSet::default(),
            cause: None,
            notes: Vec::new(),
        }
    }

    async fn connect(&mut self, fleet: &Arc<Fleet>, opts: &RunOptions) -> Result<(), String> {
        if self.conn.is_none() {
            let t = target(fleet, self.id, &opts.settings)?;
            let conn = Connection::open(&t).await.map_err(|e| e.to_string())?;
            self.notes.extend(conn.take_notes());
            // A run that may change the host holds its lock till the end (issue 12);
            // the controller itself (a local connection) is the user's own business.
            if !opts.check && matches!(conn, Connection::Ssh(_)) {
                conn.lock(&self.name, &lock_holder(), lock_wait())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            self.conn = Some(conn);
        }
        Ok(())
    }
}

/// Who holds a host's run lock, as a second run is told.
fn lock_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!(
        "tprov pid {} of {}@{} since {}",
        std::process::id(),
        std::env::var("USER").unwrap_or_else(|_| "?".into()),
        host.trim(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// How long a run waits for another run's lock on a host: `TPROV_LOCK_WAIT` seconds,
/// 30 by default.
fn lock_wait() -> std::time::Duration {
    std::time::Duration::from_secs(
        std::env::var("TPROV_LOCK_WAIT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
    )
}

/// What one task did on one host.
pub(super) struct HostResult {
    pub events: Vec<Event>,
    /// The host carries on (succeeded, skipped, or failed with ignore_errors).
    pub ok: bool,
}

/// One host's part of an `include_tasks` (see `TaskRun::include_files`).
#[derive(Default)]
pub(super) struct Includes {
    /// File, the loop item's variables, the item's label.
    pub files: Vec<(std::path::PathBuf, Map, Option<String>)>,
    /// Skip results to show before the `included:` lines.
    pub events: Vec<Event>,
    /// Nothing was included: the task counts as skipped.
    pub skipped: bool,
}

fn result_event(
    host: &str,
    status: Status,
    item: Option<String>,
    result: Map,
    show: bool,
    diffs: Vec<tasks::Diff>,
) -> Event {
    Event::Result {
        host: host.to_string(),
        status,
        item,
        result,
        show,
        diffs,
        action: String::new(),
    }
}

fn flag(v: Option<&Value>, scope: &Arc<Scope>) -> Result<Option<bool>, String> {
    match v {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::Str(s)) => {
            let t = engine()
                .render_native(s, scope, None)
                .map_err(|e| e.message)?;
            Ok(Some(
                t.is_true() && !matches!(t.as_str(), Some("false" | "False" | "no" | "0")),
            ))
        }
        Some(other) => Ok(Some(other.is_truthy())),
    }
}

pub(super) async fn gather_facts(
    st: &mut HostState,
    fleet: &Arc<Fleet>,
    opts: &RunOptions,
) -> Event {
    let mut m = Map::default();
    if let Err(e) = st.connect(fleet, opts).await {
        st.unreachable = true;
        st.stats.unreachable += 1;
        m.insert("changed".into(), Value::Bool(false));
        m.insert("msg".into(), Value::str(e));
        m.insert("unreachable".into(), Value::Bool(true));
        return result_event(&st.name, Status::Unreachable, None, m, true, Vec::new());
    }
    let Some(conn) = st.conn.as_ref() else {
        return result_event(&st.name, Status::Failed, None, m, true, Vec::new());
    };
    match super::facts::gather(conn).await {
        Ok(f) => {
            for (k, v) in &f {
                st.facts.insert(format!("ansible_{k}"), to_mj(v));
            }
            st.facts
                .insert("ansible_facts".into(), to_mj(&Value::Map(f)));
            st.stats.ok += 1;
            result_event(&st.name, Status::Ok, None, m, false, Vec::new())
        }
        Err(e) => {
            st.unreachable = true;
            st.stats.unreachable += 1;
            m.insert("msg".into(), Value::str(e.to_string()));
            m.insert("unreachable".into(), Value::Bool(true));
            result_event(&st.name, Status::Unreachable, None, m, true, Vec::new())
        }
    }
}

/// Where a delegated task runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Delegate {
    /// The controller itself (`localhost`, `127.0.0.1`).
    Controller,
    Host(HostId),
}

pub(super) struct TaskRun<'a> {
    pub task: &'a Task,
    pub inh: &'a Inherited,
    pub fleet: Arc<Fleet>,
    pub opts: &'a RunOptions,
    pub play: &'a Play,
}

impl TaskRun<'_> {
    /// The scope for this task on this host: extra vars > facts/registered > task and
    /// block vars > magic > inventory/group/play vars.
    fn scope(&self, st: &HostState) -> Result<Arc<Scope>, String> {
        let base = self.fleet.scope(st.id).map_err(|d| d.to_string())?;
        let mut frames: Vec<Frame> = Vec::new();
        let all = base.frames();
        if let Some(extra) = all.first() {
            frames.push(extra.clone());
        }
        for v in self.inh.include_params.iter().rev() {
            frames.push(Frame::Raw(v.clone()));
        }
        frames.push(Frame::Native(Arc::new(st.facts.clone())));
        if !st.included.is_empty() {
            frames.push(Frame::Raw(st.included.clone()));
        }
        if !self.task.common.vars.is_empty() {
            frames.push(Frame::Raw(Arc::new(self.task.common.vars.clone())));
        }
        for v in self.inh.vars.iter().rev() {
            frames.push(Frame::Raw(v.clone()));
        }
        // A role's vars rank above the play's and the inventory's; its defaults below
        // everything.
        if let Some(role) = &self.task.role {
            frames.push(Frame::Raw(role.vars.clone()));
        }
        frames.extend(all.iter().skip(1).cloned());
        // Where lookups look for relative files: the role's directory, then the task
        // file's (Ansible's Task.get_search_path).
        let task_dir = self
            .task
            .origin
            .file
            .parent()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
            .unwrap_or_default()
            .display()
            .to_string();
        let mut search: Vec<Value> = Vec::new();
        if let Some(role) = &self.task.role {
            search.push(Value::str(role.dir.display().to_string()));
        }
        if !search.contains(&Value::str(task_dir.clone())) {
            search.push(Value::str(task_dir));
        }
        frames.push(crate::template::native_frame([(
            "ansible_search_path".to_string(),
            Value::List(search),
        )]));
        if let Some(role) = &self.task.role {
            frames.push(crate::template::native_frame([
                ("role_name".to_string(), Value::str(role.name.clone())),
                (
                    "role_path".to_string(),
                    Value::str(role.dir.display().to_string()),
                ),
            ]));
            frames.push(Frame::Raw(role.defaults.clone()));
        }
        // The connection's own vars, below everything (Ansible's update_vars sets them
        // only where nothing else does): tprov's connections are `ssh` or `local`.
        frames.push(crate::template::native_frame([
            ("ansible_connection".to_string(), Value::str("ssh")),
            ("ansible_host".to_string(), Value::str(st.name.clone())),
            ("ansible_shell_type".to_string(), Value::str("sh")),
            (
                "ansible_shell_executable".to_string(),
                Value::str("/bin/sh"),
            ),
        ]));
        Ok(Scope::new(engine(), frames, base.hostvars()))
    }

    /// The host a `delegate_to` name means: the controller for localhost (unless the
    /// inventory names it), else an inventory host, by name or short alias.
    fn delegate_target(&self, name: &str) -> Result<Delegate, TaskError> {
        let inv = &self.fleet.inventory;
        if let Some(id) = inv.host_id(name) {
            return Ok(Delegate::Host(id));
        }
        if matches!(name, "localhost" | "127.0.0.1" | "::1") {
            return Ok(Delegate::Controller);
        }
        let prefix = format!("{name}.");
        let mut hits = inv
            .hosts()
            .enumerate()
            .filter(|(_, h)| h.name.starts_with(&prefix));
        match (hits.next(), hits.next()) {
            (Some((id, _)), None) => Ok(Delegate::Host(id)),
            _ => Err(TaskError::Failed(format!(
                "delegate_to: {name} is not a host of the inventory (nor localhost)"
            ))),
        }
    }

    fn when(&self, scope: &Arc<Scope>) -> Result<Option<String>, Cause> {
        for (cond, origin) in self.inh.when.iter().chain(self.task.common.when.iter()) {
            if !engine()
                .eval_condition(cond, scope, Some(origin.clone()))
                .map_err(|e| Cause {
                    summary: None,
                    message: format!("Error while evaluating conditional: {}", e.message),
                    origin: origin.clone(),
                })?
            {
                return Ok(Some(cond.clone()));
            }
        }
        Ok(None)
    }

    /// `loop_control.loop_var`, rendered when it is a template (`"{{ name }}"`).
    fn loop_var(&self, scope: &Arc<Scope>) -> String {
        let raw = &self.task.loop_var;
        if crate::template::is_possibly_template(raw) {
            engine()
                .render_str(raw, scope, Some(self.task.origin.clone()))
                .unwrap_or_else(|_| raw.clone())
        } else {
            raw.clone()
        }
    }

    /// The loop variables one item binds: the item, `index_var`, `ansible_loop` (with
    /// `extended`) and `ansible_loop_var`.
    fn item_vars(
        &self,
        items: &[Option<Value>],
        index: usize,
        v: &Value,
        loop_var: &str,
    ) -> Vec<(String, Value)> {
        let mut frame = vec![(loop_var.to_string(), v.clone())];
        if let Some(iv) = &self.task.index_var {
            frame.push((iv.clone(), Value::Int(index as i64)));
            frame.push(("ansible_index_var".into(), Value::str(iv.clone())));
        }
        if self.task.loop_extended {
            frame.push((
                "ansible_loop".into(),
                loop_info(items, index, self.task.loop_allitems),
            ));
        }
        frame.push(("ansible_loop_var".into(), Value::str(loop_var)));
        frame
    }

    /// What an `include_tasks` does on this host: the files it brings in, in order (one
    /// per loop item, with the item's variables and label, or one without a loop), and
    /// the skip results to show (items `when` skipped; the whole task when nothing is
    /// included).
    pub(super) fn include_files(&self, st: &HostState) -> Result<Includes, Box<Event>> {
        let fail = |msg: String| {
            let mut m = Map::default();
            m.insert("failed".into(), Value::Bool(true));
            m.insert("msg".into(), Value::str(msg));
            Box::new(result_event(
                &st.name,
                Status::Failed,
                None,
                m,
                true,
                Vec::new(),
            ))
        };
        let mut out = Includes::default();
        let scope = self.scope(st).map_err(fail)?;
        let skip_all = |out: &mut Includes, cond: &str| {
            out.events.push(result_event(
                &st.name,
                Status::Skipped,
                None,
                skip_result(cond),
                false,
                Vec::new(),
            ));
            out.skipped = true;
        };
        if self.task.loop_.is_none() {
            if let Some(cond) = self.when(&scope).map_err(|c| fail(c.msg()))? {
                skip_all(&mut out, &cond);
            } else {
                let path = self.include_path(&scope).map_err(fail)?;
                out.files.push((path, Map::default(), None));
            }
            return Ok(out);
        }
        // `when: false` on the task skips it before its loop is templated.
        let items = match self.items(&scope) {
            Ok(items) => items,
            Err(e) => match self.when(&scope) {
                Ok(Some(cond)) if e.contains("undefined") => {
                    skip_all(&mut out, &cond);
                    return Ok(out);
                }
                _ => return Err(fail(e)),
            },
        };
        let loop_var = self.loop_var(&scope);
        for (index, item) in items.iter().enumerate() {
            let Some(v) = item else { continue };
            let vars: Map = self
                .item_vars(&items, index, v, &loop_var)
                .into_iter()
                .collect();
            let inner = scope.with_frame(native_frame(
                vars.iter().map(|(k, v)| (k.clone(), v.clone())),
            ));
            let (label, _) = self.label(v, &inner, &mut Map::default());
            if let Some(cond) = self.when(&inner).map_err(|c| fail(c.msg()))? {
                out.events.push(result_event(
                    &st.name,
                    Status::Skipped,
                    Some(label),
                    skip_result(&cond),
                    false,
                    Vec::new(),
                ));
                continue;
            }
            let path = self.include_path(&inner).map_err(fail)?;
            out.files.push((path, vars, Some(label)));
        }
        if out.files.is_empty() {
            let mut m = Map::default();
            m.insert("changed".into(), Value::Bool(false));
            m.insert("skipped".into(), Value::Bool(true));
            m.insert("skipped_reason".into(), Value::str("No items in the list"));
            out.events.push(result_event(
                &st.name,
                Status::Skipped,
                None,
                m,
                false,
                Vec::new(),
            ));
            out.skipped = true;
        }
        Ok(out)
    }

    fn include_path(&self, scope: &Arc<Scope>) -> Result<std::path::PathBuf, String> {
        if self.task.module == "include_role" {
            // The role was read with the playbook; this is the name `included:` shows.
            let role = self
                .task
                .args
                .get("name")
                .or_else(|| self.task.args.get("role"));
            let name = engine()
                .template_to_value(
                    role.unwrap_or(&Value::Null),
                    scope,
                    Some(&self.task.args_origin),
                )
                .map_err(|e| e.to_string())?
                .py_str();
            return Ok(std::path::PathBuf::from(name));
        }
        let raw = self
            .task
            .args
            .get("file")
            .or_else(|| self.task.args.get("_raw_params"))
            .cloned()
            .unwrap_or(Value::Null);
        let name = engine()
            .template_to_value(&raw, scope, Some(&self.task.args_origin))
            .map_err(|e| e.to_string())?
            .py_str();
        let base = self
            .task
            .origin
            .file
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        Ok(base.join(name))
    }

    pub(super) async fn run(&self, st: &mut HostState) -> HostResult {
        let name = st.name.clone();
        let mut events = Vec::new();
        let scope = match self.scope(st) {
            Ok(s) => s,
            Err(e) => return self.failed(st, e, events),
        };
        let no_log = flag(
            self.task
                .common
                .no_log
                .as_ref()
                .or(self.inh.no_log.as_ref()),
            &scope,
        )
        .ok()
        .flatten()
        .unwrap_or(false);
        let ignore = flag(
            self.task
                .common
                .ignore_errors
                .as_ref()
                .or(self.inh.ignore_errors.as_ref()),
            &scope,
        )
        .ok()
        .flatten()
        .unwrap_or(false);
        // Without a loop, `when` decides for the whole task.
        if self.task.loop_.is_none() {
            match self.when(&scope) {
                Ok(Some(cond)) => return self.skipped(st, &cond, events),
                Ok(None) => {}
                Err(c) => {
                    let msg = c.msg();
                    st.cause = Some(c);
                    return self.failed_or_ignored(st, msg, events, ignore);
                }
            }
        }
        let items = match self.items(&scope) {
            Ok(i) => i,
            // A loop that cannot be templated fails the task only if `when` lets it run
            // (Ansible evaluates the condition first: `when: false` skips the task).
            Err(e) => match self.when(&scope) {
                Ok(Some(cond)) if e.contains("undefined") => {
                    return self.skipped(st, &cond, events);
                }
                _ => {
                    // Ansible names the loop's own error, where the loop is written.
                    let cause = self.task.loop_origin.clone().map(|origin| Cause {
                        summary: None,
                        message: engine()
                            .template_to_value(
                                self.task.loop_.as_ref().unwrap_or(&Value::Null),
                                &scope,
                                None,
                            )
                            .err()
                            .map_or_else(|| e.clone(), |t| t.message),
                        origin,
                    });
                    let msg = cause.as_ref().map_or(e, Cause::msg);
                    st.cause = cause;
                    return self.failed_or_ignored(st, msg, events, ignore);
                }
            },
        };
        let loop_var = self.loop_var(&scope);
        let mut results: Vec<Map> = Vec::new();
        let mut any_changed = false;
        let mut any_failed = false;
        let mut all_skipped = true;
        let mut unreachable = None;
        let mut facts = Map::default();
        let pause = match &self.task.loop_pause {
            Some(p) => engine()
                .template_to_value(p, &scope, Some(&self.task.origin))
                .ok()
                .and_then(|v| v.py_str().trim().parse::<f64>().ok())
                .filter(|s| *s > 0.0),
            None => None,
        };
        for (index, item) in items.iter().enumerate() {
            if let Some(secs) = pause
                && index > 0
            {
                tokio::time::sleep(std::time::Duration::from_secs_f64(secs.min(86_400.0))).await;
            }
            let scope = match item {
                Some(v) => {
                    // Facts set by the items before this one are seen by it (set_fact in a
                    // loop accumulates, as in Ansible).
                    // The register holds the item before's result (Ansible registers
                    // each item's result as it comes, for the label and the next items).
                    let mut frame: Vec<(String, Value)> =
                        match (&self.task.register, results.last()) {
                            (Some(r), Some(prev)) => vec![(r.clone(), Value::Map(prev.clone()))],
                            _ => Vec::new(),
                        };
                    frame.extend(facts.iter().map(|(k, v)| (k.clone(), v.clone())));
                    frame.extend(self.item_vars(&items, index, v, &loop_var));
                    scope.with_frame(native_frame(frame))
                }
                None => scope.clone(),
            };
            if let Some(v) = item {
                match self.when(&scope) {
                    Ok(Some(cond)) => {
                        let mut m = skip_result(&cond);
                        m.insert(loop_var.clone(), v.clone());
                        let (label, label_failed) = self.label(v, &scope, &mut m);
                        let status = if label_failed {
                            any_failed = true;
                            all_skipped = false;
                            Status::Failed
                        } else {
                            Status::Skipped
                        };
                        let show = status == Status::Failed;
                        let mut ev =
                            result_event(&name, status, Some(label), m.clone(), show, Vec::new());
                        if let Event::Result { action, .. } = &mut ev {
                            action.clone_from(&self.task.module);
                        }
                        events.push(ev);
                        results.push(m);
                        continue;
                    }
                    Ok(None) => {}
                    Err(c) => {
                        any_failed = true;
                        all_skipped = false;
                        let m = fail_map(&c.msg());
                        let label = Some(self.label(v, &scope, &mut m.clone()).0);
                        events.push(result_event(
                            &name,
                            Status::Failed,
                            label,
                            m.clone(),
                            true,
                            Vec::new(),
                        ));
                        results.push(m);
                        continue;
                    }
                }
            }
            all_skipped = false;
            let mut module_failed = true;
            let attempted = self.attempt(st, &scope, &mut events).await;
            events.extend(st.notes.drain(..).map(Event::Warning));
            let (status, mut result, diffs) = match attempted {
                Ok((outcome, result)) => {
                    for (k, v) in &outcome.facts {
                        facts.insert(k.clone(), v.clone());
                    }
                    if let Some(inc) = &outcome.included {
                        crate::vars::merge_into(Arc::make_mut(&mut st.included), inc);
                    }
                    let status = if outcome.skipped {
                        Status::Skipped
                    } else if outcome.failed {
                        Status::Failed
                    } else if outcome.changed {
                        Status::Changed
                    } else {
                        Status::Ok
                    };
                    (status, result, outcome.diffs)
                }
                Err(TaskError::Unreachable(msg)) => {
                    unreachable = Some(msg.clone());
                    let mut m = Map::default();
                    m.insert("changed".into(), Value::Bool(false));
                    m.insert("msg".into(), Value::str(msg));
                    m.insert("unreachable".into(), Value::Bool(true));
                    (Status::Unreachable, m, Vec::new())
                }
                Err(TaskError::Failed(msg)) => {
                    if item.is_none()
                        && let Some(dep) = self.unpredictable_dep(st, &msg)
                    {
                        return self.cannot_predict(st, &dep, events);
                    }
                    // Argument validation is the module's own in Ansible.
                    module_failed = msg.starts_with("Unsupported parameters")
                        || msg.starts_with("missing required arguments");
                    let mut m = fail_map(&msg);
                    if st.cause.is_some() && CONTROLLER_ACTIONS.contains(&self.task.module.as_str())
                    {
                        m.shift_remove("changed");
                    }
                    (Status::Failed, m, Vec::new())
                }
            };
            let detail = result.shift_remove(tasks::ERROR_DETAIL);
            // failed_when failed it, not the module: the action's failure, in Ansible's
            // words even without a message.
            let by_task = result.shift_remove(FAILED_BY_TASK).is_some();
            let by_executor = result.shift_remove(FAILED_BY_EXECUTOR).is_some();
            if by_task && status == Status::Failed && !result.contains_key("msg") {
                result.insert(
                    "msg".into(),
                    Value::str("Task failed: Action failed: Unknown error."),
                );
            }
            if status == Status::Failed {
                result
                    .entry("exception".to_string())
                    .or_insert_with(|| Value::str(NO_TRACEBACK));
            }
            let mut status = status;
            let label = match item {
                Some(v) => {
                    result.insert(loop_var.clone(), v.clone());
                    result.insert("ansible_loop_var".into(), Value::str(loop_var.clone()));
                    let (label, label_failed) = self.label(v, &scope, &mut result);
                    if label_failed {
                        status = Status::Failed;
                    }
                    Some(label)
                }
                None => None,
            };
            // A failed result may still have changed the host (a command that ran and
            // exited non-zero): Ansible counts it changed once ignored.
            any_changed |= status == Status::Changed
                || (status == Status::Failed && result.get("changed") == Some(&Value::Bool(true)));
            any_failed |= status == Status::Failed;
            let mut shown = if no_log {
                censored(&result)
            } else {
                result.clone()
            };
            shown.shift_remove(tasks::ERROR_DETAIL);
            if status == Status::Failed && !no_log {
                let msg = if by_task
                    && result.get("msg").and_then(Value::as_str)
                        == Some("Task failed: Action failed: Unknown error.")
                {
                    Some(Value::str("Unknown error."))
                } else {
                    None
                };
                let msg = msg
                    .as_ref()
                    .or(detail.as_ref())
                    .or(result.get("msg"))
                    .map(Value::py_str)
                    .unwrap_or_default();
                let cause = st.cause.take();
                let block = if by_executor {
                    format!("{msg}\n{}", self.task.origin.ansible_context())
                } else if by_task {
                    format!(
                        "Task failed: Action failed: {msg}\n{}",
                        self.task.origin.ansible_context()
                    )
                } else {
                    self.error_block(&msg, module_failed && cause.is_none(), cause)
                };
                shown.insert(ERROR_KEY.into(), Value::str(block));
            }
            let status_shown = if status == Status::Failed && ignore && item.is_none() {
                Status::Ignored
            } else {
                status
            };
            // debug's and (unless quiet) assert's results are shown whole, indented.
            let quiet = tasks::args::bool_opt(&self.task.args, &["quiet"])
                .ok()
                .flatten()
                .unwrap_or(false);
            let verbose_always = module_failed
                && (self.task.module == "debug" || (self.task.module == "assert" && !quiet));
            if verbose_always && status != Status::Skipped {
                shown.insert("_ansible_verbose_always".into(), Value::Bool(true));
            }
            let show = verbose_always || status == Status::Failed || status == Status::Unreachable;
            let mut ev = result_event(
                &name,
                status_shown,
                label,
                shown,
                show,
                if no_log { Vec::new() } else { diffs },
            );
            if let Event::Result { action, .. } = &mut ev {
                action.clone_from(&self.task.module);
            }
            events.push(ev);
            results.push(result);
            if unreachable.is_some() {
                break;
            }
        }
        // The registered value: one result, or Ansible's loop shape.
        let registered = if let [None] = items.as_slice() {
            results.pop().unwrap_or_default()
        } else {
            let mut m = Map::default();
            m.insert("changed".into(), Value::Bool(any_changed));
            m.insert(
                "msg".into(),
                Value::str(if all_skipped {
                    "All items skipped"
                } else {
                    "All items completed"
                }),
            );
            if all_skipped {
                m.insert("skipped".into(), Value::Bool(true));
            }
            if any_failed {
                m.insert("failed".into(), Value::Bool(true));
                m.insert("msg".into(), Value::str("One or more items failed"));
            }
            m.insert(
                "results".into(),
                Value::List(results.into_iter().map(Value::Map).collect()),
            );
            m
        };
        if items.is_empty() {
            events.push(result_event(
                &name,
                Status::Skipped,
                None,
                skip_result("No items in the list"),
                false,
                Vec::new(),
            ));
        }
        if let Some(r) = &self.task.register {
            let check_skipped = registered.get("msg").and_then(Value::as_str)
                == Some("Command would have run if not in check mode");
            if check_skipped {
                st.unpredictable.insert(r.clone());
            } else {
                st.unpredictable.remove(r);
            }
            st.facts.insert(r.clone(), to_mj(&Value::Map(registered)));
        }
        // A module's facts (not set_fact's or include_vars') also join `ansible_facts`,
        // without their `ansible_` prefix, as Ansible's namespace_facts does.
        if !facts.is_empty() && !matches!(self.task.module.as_str(), "set_fact" | "include_vars") {
            let mut all = st
                .facts
                .get("ansible_facts")
                .and_then(|v| crate::template::from_mj(v).ok())
                .and_then(|v| match v {
                    Value::Map(m) => Some(m),
                    _ => None,
                })
                .unwrap_or_default();
            for (k, v) in &facts {
                let key = k.strip_prefix("ansible_").unwrap_or(k);
                all.insert(key.to_string(), v.clone());
            }
            st.facts
                .insert("ansible_facts".into(), to_mj(&Value::Map(all)));
        }
        for (k, v) in facts {
            st.facts.insert(k, to_mj(&v));
        }
        if let Some(msg) = unreachable {
            let _ = msg;
            if let Some(c) = st.conn.take() {
                c.close().await;
            }
            // `ignore_unreachable`: counted ok and ignored, the host carries on (its next
            // task connects afresh), as in Ansible.
            if flag(self.task.ignore_unreachable.as_ref(), &scope)
                .ok()
                .flatten()
                == Some(true)
            {
                for e in &mut events {
                    if let Event::Result { status, .. } = e
                        && *status == Status::Unreachable
                    {
                        *status = Status::UnreachableIgnored;
                    }
                }
                st.stats.ok += 1;
                st.stats.ignored += 1;
                return HostResult { events, ok: true };
            }
            st.unreachable = true;
            st.stats.unreachable += 1;
            return HostResult { events, ok: false };
        }
        if any_failed && self.task.module == "debug" && !matches!(items.as_slice(), [None]) {
            // Ansible's callback cleans a debug result down to its `msg`, `results` and
            // all, so a failed debug loop ends with the loop's own line (its FIXME).
            let mut m = Map::default();
            m.insert("msg".into(), Value::str("One or more items failed"));
            let mut ev = result_event(
                &name,
                if ignore {
                    Status::Ignored
                } else {
                    Status::Failed
                },
                None,
                m,
                true,
                Vec::new(),
            );
            if let Event::Result { action, .. } = &mut ev {
                action.clone_from(&self.task.module);
            }
            events.push(ev);
        } else if any_failed && ignore && !matches!(items.as_slice(), [None]) {
            // A loop's ignored failure: its items show as failed, then one "...ignoring".
            events.push(Event::Ignoring);
        }
        if any_failed {
            if ignore {
                st.stats.ok += 1;
                st.stats.ignored += 1;
                if any_changed {
                    st.stats.changed += 1;
                }
                return HostResult { events, ok: true };
            }
            self.record_failure(st, &events);
            st.failed = true;
            st.stats.failed += 1;
            return HostResult { events, ok: false };
        }
        if all_skipped || items.is_empty() {
            st.stats.skipped += 1;
        } else {
            st.stats.ok += 1;
            if any_changed {
                st.stats.changed += 1;
                st.notified.extend(self.task.notify.iter().cloned());
            }
        }
        HostResult { events, ok: true }
    }

    /// A failure before the module ran (a condition or the loop's items could not be
    /// evaluated): `ignore_errors` covers it, as in Ansible.
    fn failed_or_ignored(
        &self,
        st: &mut HostState,
        msg: String,
        mut events: Vec<Event>,
        ignore: bool,
    ) -> HostResult {
        if !ignore || self.unpredictable_dep(st, &msg).is_some() {
            return self.failed(st, msg, events);
        }
        let shown = self.early_failure(st, &msg);
        events.push(result_event(
            &st.name,
            Status::Ignored,
            None,
            shown,
            true,
            Vec::new(),
        ));
        st.stats.ok += 1;
        st.stats.ignored += 1;
        HostResult { events, ok: true }
    }

    /// A task that failed before its module ran (its loop or condition could not be
    /// templated) still registers its failure, as in Ansible.
    fn register_failure(&self, st: &mut HostState, msg: &str) {
        if let Some(r) = &self.task.register {
            st.facts
                .insert(r.clone(), to_mj(&Value::Map(fail_map(msg))));
        }
    }

    /// Ansible 2.19's `[ERROR]: Task failed: ...` text for a failed result: the kind of
    /// failure (a module's on the host, an action's on the controller), the message,
    /// and where the task is written.
    fn error_block(&self, msg: &str, from_module: bool, cause: Option<Cause>) -> String {
        let task = self.task.origin.ansible_context();
        if let Some(c) = cause {
            // Each level says where it comes from; a summary at the task's own position
            // (the module is the task's first key) is told at the task's level.
            let levels = match &c.summary {
                Some((s, at)) if *at == self.task.origin => format!("Task failed: {s}.\n{task}"),
                Some((s, at)) => format!(
                    "Task failed.\n{task}\n\n<<< caused by >>>\n\n{s}.\n{}",
                    at.ansible_context()
                ),
                None => format!("Task failed.\n{task}"),
            };
            return format!(
                "{}\n\n{levels}\n\n<<< caused by >>>\n\n{}\n{}",
                c.msg(),
                c.message,
                c.origin.ansible_context()
            );
        }
        let kind = match (
            from_module,
            CONTROLLER_ACTIONS.contains(&self.task.module.as_str()),
        ) {
            (false, _) => "",
            (true, true) => "Action failed: ",
            (true, false) => "Module failed: ",
        };
        format!("Task failed: {kind}{msg}\n{task}")
    }

    /// A failure before the module ran: registered, and shown without `changed` and
    /// with its `[ERROR]` text.
    fn early_failure(&self, st: &mut HostState, msg: &str) -> Map {
        self.register_failure(st, msg);
        let mut shown = fail_map(msg);
        shown.shift_remove("changed");
        let cause = st.cause.take();
        shown.insert(
            ERROR_KEY.into(),
            Value::str(self.error_block(msg, false, cause)),
        );
        shown
    }

    fn failed(&self, st: &mut HostState, msg: String, mut events: Vec<Event>) -> HostResult {
        if let Some(dep) = self.unpredictable_dep(st, &msg) {
            return self.cannot_predict(st, &dep, events);
        }
        let shown = self.early_failure(st, &msg);
        events.push(result_event(
            &st.name,
            Status::Failed,
            None,
            shown,
            true,
            Vec::new(),
        ));
        self.record_failure(st, &events);
        st.failed = true;
        st.stats.failed += 1;
        HostResult { events, ok: false }
    }

    /// `ansible_failed_task` and `ansible_failed_result`, which a `rescue:` reads.
    fn record_failure(&self, st: &mut HostState, events: &[Event]) {
        let result = events.iter().rev().find_map(|e| match e {
            Event::Result {
                status: Status::Failed,
                result,
                ..
            } => Some(result.clone()),
            _ => None,
        });
        let mut task = Map::default();
        task.insert("name".into(), Value::str(self.task.display_name()));
        task.insert("action".into(), Value::str(self.task.module.clone()));
        task.insert("args".into(), Value::Map(self.task.args.clone()));
        st.facts.insert(
            "ansible_failed_task".into(),
            crate::template::to_mj(&Value::Map(task)),
        );
        st.facts.insert(
            "ansible_failed_result".into(),
            crate::template::to_mj(&Value::Map(result.unwrap_or_default())),
        );
    }

    /// In check mode, the registered var an error is about, if check mode skipped it.
    fn unpredictable_dep(&self, st: &HostState, msg: &str) -> Option<String> {
        if !self.opts.check {
            return None;
        }
        let start = msg.find('\'')? + 1;
        let name: String = msg[start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        st.unpredictable.contains(&name).then_some(name)
    }

    fn cannot_predict(&self, st: &mut HostState, dep: &str, mut events: Vec<Event>) -> HostResult {
        let mut m = Map::default();
        m.insert("changed".into(), Value::Bool(false));
        m.insert("skipped".into(), Value::Bool(true));
        m.insert("msg".into(), Value::str(format!("cannot predict in check mode: this task uses '{dep}', the result of a task check mode did not run")));
        if let Some(r) = &self.task.register {
            st.unpredictable.insert(r.clone());
            st.facts.insert(r.clone(), to_mj(&Value::Map(m.clone())));
        }
        if self.task.module == "set_fact" {
            st.unpredictable.extend(self.task.args.keys().cloned());
        }
        events.push(result_event(
            &st.name,
            Status::Skipped,
            None,
            m,
            self.opts.check,
            Vec::new(),
        ));
        st.stats.skipped += 1;
        HostResult { events, ok: true }
    }

    fn skipped(&self, st: &mut HostState, cond: &str, mut events: Vec<Event>) -> HostResult {
        let m = skip_result(cond);
        if let Some(r) = &self.task.register {
            st.facts.insert(r.clone(), to_mj(&Value::Map(m.clone())));
        }
        events.push(result_event(
            &st.name,
            Status::Skipped,
            None,
            m,
            false,
            Vec::new(),
        ));
        st.stats.skipped += 1;
        HostResult { events, ok: true }
    }

    /// The loop's items, or one `None` when there is no loop.
    fn items(&self, scope: &Arc<Scope>) -> Result<Vec<Option<Value>>, String> {
        let Some(raw) = &self.task.loop_ else {
            return Ok(vec![None]);
        };
        let first_found = self.task.loop_kind == LoopKind::WithLookup
            && self.task.loop_lookup.as_deref() == Some("first_found");
        let v = match raw {
            // first_found under `with_` leaves out the terms, and the elements of
            // terms, that are undefined (2.19's lazy markers).
            _ if first_found => {
                let lazy = scope.with_markers();
                match engine().template_value(raw, &lazy) {
                    Ok(v) => crate::template::from_mj_omitting_undefined(&v)
                        .map_err(|e| e.to_string())?,
                    Err(e) if e.is_undefined() => Value::List(Vec::new()),
                    Err(mut e) => {
                        if e.origin.is_none() {
                            e.origin = Some(self.task.origin.clone());
                        }
                        return Err(e.to_string());
                    }
                }
            }
            _ => engine()
                .template_to_value(raw, scope, Some(&self.task.origin))
                .map_err(|e| e.to_string())?,
        };
        if let (LoopKind::WithLookup, Some(name)) = (self.task.loop_kind, &self.task.loop_lookup) {
            let frame = crate::template::native_frame([("__tprov_terms".to_string(), v)]);
            let inner = scope.with_frame(frame);
            let out = engine()
                .eval(
                    &format!("__tprov_with({name:?}, __tprov_terms)"),
                    &inner,
                    Some(self.task.origin.clone()),
                )
                .map_err(|e| e.message)?;
            let list = crate::template::from_mj(&out).map_err(|e| e.to_string())?;
            return Ok(match list {
                Value::List(l) => l.into_iter().map(Some).collect(),
                other => vec![Some(other)],
            });
        }
        let list = match (v, self.task.loop_kind) {
            (Value::List(l), LoopKind::WithItems) => l
                .into_iter()
                .flat_map(|x| match x {
                    Value::List(inner) => inner,
                    other => vec![other],
                })
                .collect(),
            // The dict lookup takes each term as a mapping.
            (Value::List(l), LoopKind::WithDict) => {
                let mut out = Vec::new();
                for term in l {
                    let Value::Map(m) = term else {
                        return Err(format!(
                            "the 'dict' lookup plugin expects a dictionary, got '{}' of type <class '{}'>)",
                            term.py_str(),
                            term.type_name()
                        ));
                    };
                    out.extend(m.into_iter().map(|(k, v)| {
                        let mut e = Map::default();
                        e.insert("key".into(), Value::Str(k));
                        e.insert("value".into(), v);
                        Value::Map(e)
                    }));
                }
                out
            }
            (Value::List(l), _) => l,
            (Value::Map(m), LoopKind::WithDict) => m
                .into_iter()
                .map(|(k, v)| {
                    let mut e = Map::default();
                    e.insert("key".into(), Value::Str(k));
                    e.insert("value".into(), v);
                    Value::Map(e)
                })
                .collect(),
            (Value::Null, _) => Vec::new(),
            // A lookup's terms that are not a list are one term.
            (other, LoopKind::WithItems | LoopKind::WithList) => vec![other],
            (other, _) => {
                return Err(format!(
                    "Invalid data passed to 'loop', it requires a list, got this instead: {}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.",
                    other.py_str()
                ));
            }
        };
        Ok(list.into_iter().map(Some).collect())
    }

    /// An item's label, rendered once its result is known (the register names it, as
    /// in Ansible). A label that names something undefined fails the item: the second
    /// value says so.
    fn label(&self, item: &Value, scope: &Arc<Scope>, result: &mut Map) -> (String, bool) {
        let Some(l) = &self.task.loop_label else {
            return (item.py_str(), false);
        };
        let scope = match &self.task.register {
            Some(r) => scope.with_frame(native_frame([(r.clone(), Value::Map(result.clone()))])),
            None => scope.clone(),
        };
        match engine().render_str(l, &scope, None) {
            Ok(text) => (text, false),
            Err(e) if e.is_undefined() => {
                result.insert("failed".into(), Value::Bool(true));
                result.insert(
                    "msg".into(),
                    Value::str(format!(
                        "Failed to template loop_control.label: {}",
                        e.message
                    )),
                );
                (l.clone(), true)
            }
            Err(_) => (l.clone(), false),
        }
    }

    /// The become for this task on this host (variables win over keywords, as in Ansible).
    fn escalation(&self, scope: &Arc<Scope>) -> Result<Option<Become>, String> {
        let var = |n: &str| scope.resolve(n).and_then(|v| from_mj(&v).ok());
        let enabled =
            self.task
                .common
                .become_
                .or(self.inh.become_)
                .or(match var("ansible_become") {
                    Some(Value::Bool(b)) => Some(b),
                    _ => None,
                });
        let enabled = enabled.unwrap_or(self.opts.escalate.enabled);
        if !enabled {
            return Ok(None);
        }
        let user = var("ansible_become_user")
            .map(|v| v.py_str())
            .or_else(|| self.task.common.become_user.clone())
            .or_else(|| self.inh.become_user.clone())
            .or_else(|| self.opts.escalate.user.clone())
            .unwrap_or_else(|| "root".into());
        let user = engine()
            .render_str(&user, scope, Some(self.task.origin.clone()))
            .map_err(|e| e.to_string())?;
        let password = self.opts.escalate.password.clone().or_else(|| {
            var("ansible_become_password")
                .or_else(|| var("ansible_become_pass"))
                .map(|v| v.py_str())
        });
        let _ = become_for;
        Ok(Some(Become { user, password }))
    }

    /// One run of the module (with `until` retries), and its result map.
    async fn attempt(
        &self,
        st: &mut HostState,
        scope: &Arc<Scope>,
        events: &mut Vec<Event>,
    ) -> Result<(Outcome, Map), TaskError> {
        let retries = match &self.task.retries {
            Some(v) => engine()
                .template_to_value(v, scope, None)
                .map_err(|e| TaskError::Failed(e.to_string()))?
                .py_str()
                .parse::<i64>()
                .unwrap_or(3),
            None if !self.task.until.is_empty() => 3,
            None => 0,
        };
        let delay = match &self.task.delay {
            Some(v) => engine()
                .template_to_value(v, scope, None)
                .map_err(|e| TaskError::Failed(e.to_string()))?
                .py_str()
                .parse::<f64>()
                .unwrap_or(5.0),
            None => 5.0,
        };
        let mut left = retries;
        loop {
            let attempt = retries - left + 1;
            let (outcome, result) = self
                .once(st, scope, (retries > 0).then_some(attempt), events)
                .await?;
            if retries <= 0 {
                return Ok((outcome, result));
            }
            // Without `until`, retries run until the task does not fail (Ansible 2.19).
            let done = if self.task.until.is_empty() {
                !outcome.failed
            } else {
                let rscope = self.result_scope(scope, &result);
                self.conditions_true(&self.task.until, &rscope)
                    .map_err(TaskError::Failed)?
            };
            if done || left <= 0 {
                let mut result = result;
                let mut outcome = outcome;
                // Out of attempts, Ansible reports one fewer than it made.
                result.insert(
                    "attempts".into(),
                    Value::Int(if done { attempt } else { retries }),
                );
                if !done {
                    result.insert("failed".into(), Value::Bool(true));
                    // Ansible's TaskResult.is_failed: failed_when's verdict, when there
                    // is one, overrides `failed`.
                    outcome.failed = result
                        .get("failed_when_result")
                        .is_none_or(Value::is_truthy);
                }
                return Ok((outcome, result));
            }
            events.push(Event::Retry {
                host: st.name.clone(),
                task: self
                    .task
                    .common
                    .name
                    .clone()
                    .unwrap_or_else(|| self.task.banner_name()),
                left,
            });
            left -= 1;
            tokio::time::sleep(std::time::Duration::from_secs_f64(delay.max(0.0))).await;
        }
    }

    fn result_scope(&self, scope: &Arc<Scope>, result: &Map) -> Arc<Scope> {
        match &self.task.register {
            Some(r) => scope.with_frame(native_frame([(r.clone(), Value::Map(result.clone()))])),
            None => scope.clone(),
        }
    }

    fn conditions_true(
        &self,
        conds: &[(String, crate::source::Origin)],
        scope: &Arc<Scope>,
    ) -> Result<bool, String> {
        for (c, o) in conds {
            if !engine()
                .eval_condition(c, scope, Some(o.clone()))
                .map_err(|e| e.to_string())?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn once(
        &self,
        st: &mut HostState,
        scope: &Arc<Scope>,
        attempt: Option<i64>,
        events: &mut Vec<Event>,
    ) -> Result<(Outcome, Map), TaskError> {
        let args = match self.template_args(scope) {
            Ok(a) => a,
            Err(e) => {
                let cause = self.args_cause(scope);
                let msg = cause.as_ref().map_or(e, Cause::msg);
                st.cause = cause;
                return Err(TaskError::Failed(msg));
            }
        };
        let check = match flag(
            self.task
                .common
                .check_mode
                .as_ref()
                .or(self.inh.check_mode.as_ref()),
            scope,
        )
        .map_err(TaskError::Failed)?
        {
            Some(c) => c,
            None => self.opts.check,
        };
        let diff = match flag(
            self.task.common.diff.as_ref().or(self.inh.diff.as_ref()),
            scope,
        )
        .map_err(TaskError::Failed)?
        {
            // A task's own `diff:` wins over --diff either way, as in Ansible.
            Some(d) => d,
            None => self.opts.diff,
        };
        // `delegate_to`: the task runs there (the controller for localhost), with this
        // host's vars, and its result is this host's.
        let delegate = match self
            .task
            .common
            .delegate_to
            .as_ref()
            .or(self.inh.delegate_to.as_ref())
        {
            Some(raw) => {
                let name = engine()
                    .render_str(raw, scope, Some(self.task.origin.clone()))
                    .map_err(|e| TaskError::Failed(e.to_string()))?;
                Some(self.delegate_target(&name)?)
            }
            None => None,
        };
        let escalate = self.escalation(scope).map_err(TaskError::Failed)?;
        // `environment:` of the play and blocks, then the task's (later keys win, as
        // Ansible extends the list from the parents); each a mapping or a list of them.
        let mut env: Vec<(String, String)> = Vec::new();
        for raw in [&self.inh.environment, &self.task.common.environment]
            .into_iter()
            .flatten()
        {
            let v = engine()
                .template_to_value(raw, scope, Some(&self.task.origin))
                .map_err(|e| TaskError::Failed(e.to_string()))?;
            let maps = match v {
                Value::List(l) => l,
                Value::Null => Vec::new(),
                other => vec![other],
            };
            for m in maps {
                let Value::Map(m) = m else {
                    return Err(TaskError::Failed(format!(
                        "environment must be a mapping or a list of them, got {}",
                        m.type_name()
                    )));
                };
                for (k, v) in m {
                    env.retain(|(e, _)| *e != k);
                    env.push((k, v.py_str()));
                }
            }
        }
        if !self.task.arg_errors.is_empty() {
            let msgs: Vec<&str> = self
                .task
                .arg_errors
                .iter()
                .map(|(_, m)| m.as_str())
                .collect();
            return Err(TaskError::Failed(msgs.join("; ")));
        }
        let controller_only = matches!(
            self.task.module.as_str(),
            "debug" | "set_fact" | "assert" | "fail" | "pause" | "group_by" | "add_host"
        );
        match delegate {
            Some(Delegate::Host(id)) if id != st.id && !st.delegates.contains_key(&id) => {
                let t = target(&self.fleet, id, &self.opts.settings).map_err(TaskError::Failed)?;
                let c = Connection::open(&t)
                    .await
                    .map_err(|e| TaskError::Unreachable(e.to_string()))?;
                st.notes.extend(c.take_notes());
                st.delegates.insert(id, c);
            }
            None if !controller_only => {
                st.connect(&self.fleet, self.opts)
                    .await
                    .map_err(TaskError::Unreachable)?;
            }
            Some(Delegate::Host(id)) if id == st.id && !controller_only => {
                st.connect(&self.fleet, self.opts)
                    .await
                    .map_err(TaskError::Unreachable)?;
            }
            _ => {}
        }
        let local;
        let conn = match (delegate, &st.conn) {
            (Some(Delegate::Host(id)), _) if id != st.id => &st.delegates[&id],
            (Some(Delegate::Controller), _) | (_, None) => {
                local = Connection::Local(crate::transport::local_connection());
                &local
            }
            (_, Some(c)) => c,
        };
        let (probe, writer) = Cx::access(conn, escalate.as_ref(), check);
        let mut cx = Cx {
            probe,
            writer,
            escalate,
            diff,
            sim: &mut st.sim,
            // A role's own directory first (its templates/ and files/), as Ansible does.
            search: self
                .task
                .role
                .iter()
                .map(|r| r.dir.clone())
                .chain([
                    self.play.dir.clone(),
                    self.task
                        .origin
                        .file
                        .parent()
                        .map(std::path::Path::to_path_buf)
                        .unwrap_or_default(),
                ])
                .collect(),
            task_dir: self
                .task
                .origin
                .file
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default(),
            role_dir: self.task.role.as_ref().map(|r| r.dir.clone()),
            scope: scope.clone(),
            host: st.name.clone(),
            env,
            task: self.task,
            background: None,
        };
        let limit = match &self.task.timeout {
            Some(raw) => {
                let v = engine()
                    .template_to_value(raw, scope, Some(&self.task.origin))
                    .map_err(|e| TaskError::Failed(e.to_string()))?;
                match v.py_str().trim().parse::<u64>() {
                    Ok(0) => None,
                    Ok(n) => Some(n),
                    Err(_) => {
                        return Err(TaskError::Failed(format!(
                            "timeout must be a number of seconds, got {}",
                            v.py_str()
                        )));
                    }
                }
            }
            None => None,
        };
        let job = super::job::Job::of(self.task, scope)?;
        let outcome = match (&job, limit) {
            (Some(job), _) => job.run(&self.task.module, &args, &mut cx, events).await,
            (None, Some(secs)) => tokio::time::timeout(
                std::time::Duration::from_secs(secs),
                tasks::run(&self.task.module, &args, &mut cx),
            )
            .await
            .unwrap_or_else(|_| Ok(timed_out(secs))),
            (None, None) => tasks::run(&self.task.module, &args, &mut cx).await,
        };
        // A module's failure is a result like any other for `failed_when` and
        // `changed_when`, which may turn it into a success (as in Ansible).
        let mut outcome = match outcome {
            Err(TaskError::Failed(msg))
                if !self.task.failed_when.is_empty() || !self.task.changed_when.is_empty() =>
            {
                tasks::Outcome {
                    failed: true,
                    msg: Some(msg),
                    ..Default::default()
                }
            }
            other => other?,
        };
        let mut result = outcome.to_result();
        if diff && !outcome.diffs.is_empty() {
            result.insert(
                "diff".into(),
                diff_result(&self.task.module, &outcome.diffs),
            );
        } else if diff && self.task.module == "file" {
            // Ansible's file module returns its diff even when nothing changed: the path.
            if let Some(p) = tasks::args::str_opt(&args, &["path", "dest", "name"]) {
                let mut side = Map::default();
                side.insert("path".into(), Value::str(p.trim_end_matches('/')));
                let mut m = Map::default();
                m.insert("before".into(), Value::Map(side.clone()));
                m.insert("after".into(), Value::Map(side));
                result.insert("diff".into(), Value::Map(m));
            }
        }
        if let Some(n) = attempt {
            // `attempts` is there early, for changed_when and failed_when to read.
            result.insert("attempts".into(), Value::Int(n));
        }
        // add_host / group_by: Ansible's strategy judges changed_when again once it made
        // the inventory change, with `changed` saying whether something was new; that
        // judgement is the one that stands.
        if !self.task.changed_when.is_empty()
            && matches!(self.task.module.as_str(), "add_host" | "group_by")
            && !outcome.failed
            && !outcome.skipped
        {
            outcome.changed =
                super::inventory_changes::would_change(&self.fleet.inventory, &st.name, &result);
            result.insert("changed".into(), Value::Bool(outcome.changed));
        }
        if !outcome.skipped
            && (!self.task.changed_when.is_empty() || !self.task.failed_when.is_empty())
        {
            let rscope = self.result_scope(scope, &result);
            // As Ansible's TaskExecutor: changed_when, then failed_when (a list is AND'ed
            // like `when`); an error in either fails the task and is its `*_when_result`.
            let mut condition = "changed";
            let judged = (|| -> Result<(), String> {
                if !self.task.changed_when.is_empty() {
                    outcome.changed = self.conditions_true(&self.task.changed_when, &rscope)?;
                    result.insert("changed".into(), Value::Bool(outcome.changed));
                }
                condition = "failed";
                if !self.task.failed_when.is_empty() {
                    let module_failed = outcome.failed;
                    outcome.failed = self.conditions_true(&self.task.failed_when, &rscope)?;
                    result.insert("failed".into(), Value::Bool(outcome.failed));
                    if outcome.failed && !module_failed {
                        result.insert(FAILED_BY_TASK.into(), Value::Bool(true));
                    }
                    result.insert("failed_when_result".into(), Value::Bool(outcome.failed));
                    if module_failed && !outcome.failed {
                        result.insert(
                            "failed_when_suppressed_exception".into(),
                            Value::str(NO_TRACEBACK),
                        );
                    }
                }
                Ok(())
            })();
            if let Err(e) = judged {
                outcome.failed = true;
                result.insert("failed".into(), Value::Bool(true));
                result.insert(format!("{condition}_when_result"), Value::str(e));
            }
        }
        Ok((outcome, result))
    }

    /// The task's name for its banner, rendered with this host's vars as Ansible's
    /// strategy does (best effort: an undefined part becomes Ansible's numbered
    /// placeholder), and the warning for what could not be rendered.
    pub(super) fn title(&self, st: &HostState) -> (String, Option<String>) {
        let raw = self.task.banner_name();
        let Some(name) = &self.task.common.name else {
            return (raw, None);
        };
        if !crate::template::is_possibly_template(name) || self.task.module == "include_role" {
            return (raw, None);
        }
        let Ok(scope) = self.scope(st) else {
            return (raw, None);
        };
        let (text, errors) = render_best_effort(name, &scope);
        let prefix = match &self.task.role {
            Some(r) => format!("{} : ", r.name),
            None => String::new(),
        };
        let warning = (!errors.is_empty()).then(|| {
            let mut w = format!(
                "Encountered {} template error{}.",
                errors.len(),
                if errors.len() > 1 { "s" } else { "" }
            );
            for (i, e) in errors.iter().enumerate() {
                w.push_str(&format!("\nerror {} - {e}", i + 1));
            }
            if let Some(o) = &self.task.common.name_origin {
                w.push('\n');
                w.push_str(&o.ansible_context());
                w.push('\n');
            }
            w
        });
        (format!("{prefix}{text}"), warning)
    }

    /// Which argument failed to render, in Ansible's words ("Finalization of task args
    /// for 'ansible.builtin.debug' failed: Error while resolving value for 'msg': ..."):
    /// each argument rendered alone, on the error path only.
    fn args_cause(&self, scope: &Arc<Scope>) -> Option<Cause> {
        for (k, v) in &self.task.args {
            if tasks::RAW_ARGS.contains(&(self.task.module.as_str(), k.as_str())) {
                continue;
            }
            let origin = self.task.arg_origin(k);
            let message = match engine().template_to_value(v, scope, Some(origin)) {
                Err(e) => {
                    let key = if k == "_raw_params" { "_raw_params" } else { k };
                    format!("Error while resolving value for '{key}': {}", e.message)
                }
                // Arguments given as one template must give a mapping.
                Ok(v)
                    if k == crate::playbook::VARIABLE_PARAMS
                        && !matches!(v, Value::Map(_))
                        && v.as_str() != Some(OMIT) =>
                {
                    format!(
                        "Task args must resolve to a 'dict' not '{}'.",
                        v.type_name()
                    )
                }
                Ok(_) => continue,
            };
            let module = tasks::fqcn(&self.task.module);
            return Some(Cause {
                summary: Some((
                    format!("Finalization of task args for '{module}' failed"),
                    self.task.module_origin.clone(),
                )),
                message,
                origin: origin.clone(),
            });
        }
        None
    }

    /// Templated arguments; expression arguments (`debug.var`, `assert.that`) stay raw;
    /// a value equal to `omit` drops its argument.
    fn template_args(&self, scope: &Arc<Scope>) -> Result<Map, String> {
        let mut raw = self.task.args.clone();
        let mut kept = Map::default();
        for (m, k) in tasks::RAW_ARGS {
            if self.task.module == *m
                && let Some(v) = raw.shift_remove(*k)
            {
                kept.insert((*k).to_string(), v);
            }
        }
        let v = engine()
            .template_to_value(&Value::Map(raw), scope, Some(&self.task.args_origin))
            .map_err(|e| e.to_string())?;
        let Value::Map(mut m) = v else {
            return Err("arguments must be a mapping".into());
        };
        // `assert: "{{ item }}"`: the rendered mapping, under the task's other arguments.
        if let Some(params) = m.shift_remove(crate::playbook::VARIABLE_PARAMS) {
            // `args: "{{ omit }}"`: no arguments from there.
            let params = match params {
                Value::Str(s) if s == OMIT => Value::Map(Map::default()),
                other => other,
            };
            let Value::Map(mut base) = params else {
                return Err(format!(
                    "Task args must resolve to a 'dict' not '{}'.",
                    params.type_name()
                ));
            };
            base.extend(m);
            m = base;
            let errors: Vec<String> = tasks::check_args(&self.task.module, &m)
                .into_iter()
                .map(|(_, e)| e)
                .collect();
            if !errors.is_empty() {
                return Err(errors.join("; "));
            }
        }
        m.retain(|_, v| v.as_str() != Some(OMIT));
        m.extend(kept);
        Ok(m)
    }
}

/// A task stopped by its `timeout:` (Ansible's TaskTimeoutError result).
fn timed_out(secs: u64) -> Outcome {
    let mut t = Map::default();
    t.insert(
        "frame".into(),
        Value::str("Configure `DISPLAY_TRACEBACK` to see a traceback on timeout errors."),
    );
    t.insert(
        "period".into(),
        Value::Int(i64::try_from(secs).unwrap_or(i64::MAX)),
    );
    let mut o = Outcome {
        failed: true,
        msg: Some(format!("Task failed: Timed out after {secs} second(s).")),
        ..Outcome::default()
    };
    o.result.insert("timedout".into(), Value::Map(t));
    o.result
        .insert(FAILED_BY_EXECUTOR.into(), Value::Bool(true));
    o
}

fn skip_result(cond: &str) -> Map {
    let mut m = Map::default();
    m.insert("changed".into(), Value::Bool(false));
    // `when: false` is YAML's bool, and Ansible gives it back as one (conditions are
    // kept as text here, so the text of a bool stands for it).
    let cond = match cond {
        "False" | "false" => Value::Bool(false),
        other => Value::str(other),
    };
    m.insert("false_condition".into(), cond);
    m.insert(
        "skip_reason".into(),
        Value::str("Conditional result was False"),
    );
    m.insert("skipped".into(), Value::Bool(true));
    m
}

/// The shown result's key for the `[ERROR]` text the callback prints before it (an
/// `_ansible_` key: never displayed as part of the result).
pub(crate) const ERROR_KEY: &str = "_ansible_tprov_error";

/// Modules that are Ansible action plugins run on the controller: their failures are
/// "Action failed", others' "Module failed".
const CONTROLLER_ACTIONS: &[&str] = &[
    "debug",
    "assert",
    "fail",
    "set_fact",
    "include_vars",
    "add_host",
    "group_by",
    "pause",
    "meta",
];

/// A result key (never kept) marking a failure `failed_when` made, not the module.
pub(super) const FAILED_BY_TASK: &str = "_tprov_failed_by_task";

/// A result key (never kept) marking a failure of the task executor itself (a task
/// `timeout`): its message is the whole `[ERROR]` text.
const FAILED_BY_EXECUTOR: &str = "_tprov_failed_by_executor";

/// What Ansible 2.19 puts in a failed result's `exception` without -vvv.
const NO_TRACEBACK: &str = "(traceback unavailable)";

fn fail_map(msg: &str) -> Map {
    let mut m = Map::default();
    m.insert("changed".into(), Value::Bool(false));
    m.insert("failed".into(), Value::Bool(true));
    m.insert("msg".into(), Value::str(msg));
    m.insert("exception".into(), Value::str(NO_TRACEBACK));
    m
}

fn censored(result: &Map) -> Map {
    let mut m = Map::default();
    m.insert("censored".into(), Value::str("the output has been hidden due to the fact that 'no_log: true' was specified for this result"));
    m.insert(
        "changed".into(),
        result.get("changed").cloned().unwrap_or(Value::Bool(false)),
    );
    m
}

/// `ansible_loop` for item `index` of `items` (`loop_control.extended`), as Ansible's
/// task executor builds it.
fn loop_info(items: &[Option<Value>], index: usize, allitems: bool) -> Value {
    let n = items.len();
    let item = |i: usize| items.get(i).cloned().flatten().unwrap_or(Value::Null);
    let mut m = Map::default();
    if allitems {
        m.insert(
            "allitems".into(),
            Value::List(
                items
                    .iter()
                    .map(|i| i.clone().unwrap_or(Value::Null))
                    .collect(),
            ),
        );
    }
    m.insert("index".into(), Value::Int(index as i64 + 1));
    m.insert("index0".into(), Value::Int(index as i64));
    m.insert("first".into(), Value::Bool(index == 0));
    m.insert("last".into(), Value::Bool(index + 1 == n));
    m.insert("length".into(), Value::Int(n as i64));
    m.insert("revindex".into(), Value::Int((n - index) as i64));
    m.insert("revindex0".into(), Value::Int((n - index) as i64 - 1));
    if index > 0 {
        m.insert("previtem".into(), item(index - 1));
    }
    if index + 1 < n {
        m.insert("nextitem".into(), item(index + 1));
    }
    Value::Map(m)
}

/// The `diff` key of a result in diff mode, as Ansible's modules return it: before and
/// after (attributes as mappings, contents as text, with their headers); a list of them,
/// or one mapping for the file module.
fn diff_result(module: &str, diffs: &[tasks::Diff]) -> Value {
    let side = |text: &str| -> Value {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .filter(serde_json::Value::is_object)
            .map_or_else(|| Value::str(text), |j| crate::template::json_to_value(&j))
    };
    let one = |d: &tasks::Diff| -> Value {
        let mut m = Map::default();
        m.insert("before".into(), side(&d.before));
        m.insert("after".into(), side(&d.after));
        if let Some(h) = &d.before_header {
            m.insert("before_header".into(), Value::str(h.clone()));
        }
        if let Some(h) = &d.after_header {
            m.insert("after_header".into(), Value::str(h.clone()));
        }
        Value::Map(m)
    };
    match diffs {
        [d] if module == "file" => one(d),
        // lineinfile and blockinfile return [content, file attributes], the second one
        // with its headers alone when no attribute changed.
        [d] if matches!(module, "lineinfile" | "blockinfile") => {
            let path = d
                .before_header
                .as_deref()
                .and_then(|h| h.strip_suffix(" (content)"))
                .unwrap_or_default();
            let mut attrs = Map::default();
            let header = Value::str(format!("{path} (file attributes)"));
            attrs.insert("before_header".into(), header.clone());
            attrs.insert("after_header".into(), header);
            Value::List(vec![one(d), Value::Map(attrs)])
        }
        _ => Value::List(diffs.iter().map(one).collect()),
    }
}

/// Renders `text` whole, or else each `{{ ... }}` on its own, one that fails becoming
/// `<< error N - message >>` (Ansible's ReplacingMarkerBehavior); the messages in order.
fn render_best_effort(text: &str, scope: &Arc<Scope>) -> (String, Vec<String>) {
    if let Ok(t) = engine().render_str(text, scope, None) {
        return (t, Vec::new());
    }
    let mut out = String::new();
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else {
            rest = &rest[start..];
            break;
        };
        let part = &rest[start..start + len + 2];
        match engine().render_str(part, scope, None) {
            Ok(t) => out.push_str(&t),
            Err(e) => {
                // The message alone, without the expression it quotes.
                let m = e
                    .message
                    .rfind(" (in \"")
                    .map_or(e.message.as_str(), |i| &e.message[..i])
                    .to_string();
                out.push_str(&format!("<< error {} - {m} >>", errors.len() + 1));
                errors.push(m);
            }
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    (out, errors)
}
