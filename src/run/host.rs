//! One task on one host: conditions, loop, templated arguments, become, the module
//! itself, `changed_when`/`failed_when`, `until`, `register`, `notify`, and the counts.

mod attempt;
mod conditions;
mod exec;
mod include;
mod keywords;
mod loops;
mod results;

use super::event::{Event, Stats, Status};
use super::{Inherited, RunOptions};
use crate::connect::target;
use crate::context::Fleet;
use crate::inventory::HostId;
use crate::playbook::{Play, Task};
use crate::tasks::{self, Sim, Trait};
use crate::template::{Frame, Scope, engine, to_mj};
use crate::transport::Connection;
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
    /// set_fact and registered results.
    pub facts: IndexMap<String, minijinja::Value>,
    /// Gathered facts (`ansible_*`, `ansible_facts`): below the play's vars, above the
    /// inventory's, as in Ansible.
    pub gathered: IndexMap<String, minijinja::Value>,
    /// `include_vars` results, raw (templated when read), ranked just under `facts`.
    pub included: Arc<crate::vars::Vars>,
    pub notified: Vec<String>,
    pub stats: Stats,
    pub failed: bool,
    /// `meta: clear_host_errors` ran since this host's failure: an `always` it is in
    /// lets it go on after the block instead of keeping it failed.
    pub errors_cleared: bool,
    /// Roles (their dedup keys) a task ran in on this host in this play, and those it
    /// completed: a completed role is not run again by a later `roles:` entry.
    pub roles_ran: std::collections::HashSet<String>,
    pub roles_done: std::collections::HashSet<String>,
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
    /// What `hostvars` shows of this host beyond its vars: gathered facts, with set_fact
    /// and registered results over them.
    pub(super) fn published(&self) -> IndexMap<String, minijinja::Value> {
        if self.gathered.is_empty() {
            return self.facts.clone();
        }
        let mut all = self.gathered.clone();
        all.extend(self.facts.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// Host facts (a module's, the cache's, set_fact's cacheable ones): ranked as
    /// gathered ones, below the play's vars, and joining `ansible_facts` without their
    /// `ansible_` prefix, as Ansible's namespace_facts does.
    pub(super) fn add_facts(&mut self, facts: Map) {
        let mut all = self
            .gathered
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
        self.gathered
            .insert("ansible_facts".into(), to_mj(&Value::Map(all)));
        for (k, v) in facts {
            self.gathered.insert(k, to_mj(&v));
        }
    }

    /// Writes the host's facts to the fact cache, if the run keeps one; a failure to
    /// write is a warning, as in Ansible.
    pub(super) fn cache_facts(&self, opts: &RunOptions) -> Option<String> {
        let cache = opts.fact_cache.as_ref()?;
        let facts: Map = self
            .gathered
            .iter()
            .filter(|(k, _)| k.as_str() != "ansible_facts")
            .filter_map(|(k, v)| crate::template::from_mj(v).ok().map(|v| (k.clone(), v)))
            .collect();
        cache.store(&self.name, &facts).err()
    }

    pub(super) fn new(id: HostId, name: String) -> HostState {
        HostState {
            id,
            name,
            conn: None,
            delegates: std::collections::HashMap::new(),
            facts: IndexMap::new(),
            gathered: IndexMap::new(),
            included: Arc::default(),
            notified: Vec::new(),
            stats: Stats::default(),
            failed: false,
            errors_cleared: false,
            roles_ran: std::collections::HashSet::new(),
            roles_done: std::collections::HashSet::new(),
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
                st.gathered.insert(format!("ansible_{k}"), to_mj(v));
            }
            st.gathered
                .insert("ansible_facts".into(), to_mj(&Value::Map(f)));
            st.stats.ok += 1;
            if let Some(w) = st.cache_facts(opts) {
                st.notes.push(w);
            }
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
        if let Some(role) = &self.task.role
            && !role.params.is_empty()
        {
            frames.push(Frame::Raw(role.params.clone()));
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
        if st.gathered.is_empty() {
            frames.extend(all.iter().skip(1).cloned());
        } else {
            // magic, the play's vars, gathered facts, the inventory's.
            frames.extend(all.get(1).cloned());
            let play_vars = self.fleet.play_vars_of(st.id);
            if !play_vars.is_empty() {
                frames.push(Frame::Raw(play_vars.clone()));
            }
            frames.push(Frame::Native(Arc::new(st.gathered.clone())));
            let inventory = self
                .fleet
                .inventory_vars(st.id)
                .map_err(|d| d.to_string())?;
            frames.push(Frame::Raw(inventory));
        }
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
        if !self.play.exported_defaults.is_empty() {
            frames.push(Frame::Raw(self.play.exported_defaults.clone()));
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

    /// A handler's name rendered with this host's vars (Ansible renders a templated
    /// handler name when a notification is searched for); the error when it cannot be.
    pub(super) fn rendered_name(&self, st: &HostState) -> Result<Option<String>, String> {
        let Some(name) = &self.task.common.name else {
            return Ok(None);
        };
        if !crate::template::is_possibly_template(name) {
            return Ok(Some(name.clone()));
        }
        let scope = self.scope(st)?;
        crate::template::engine()
            .render_str(name, &scope, None)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// Whether the task runs on this host alone: `run_once`, or its template rendered
    /// in the host's scope (an error counts as false here; the task's run reports it).
    pub(super) fn runs_once(&self, st: &HostState) -> bool {
        if self.task.run_once {
            return true;
        }
        let Some(expr) = &self.task.run_once_expr else {
            return false;
        };
        self.scope(st)
            .ok()
            .and_then(|scope| keywords::flag(Some(&Value::str(expr.clone())), &scope).ok())
            .flatten()
            .unwrap_or(false)
    }

    /// The handler names this task notifies on this host (its `notify:` templated).
    pub(super) fn notified_names(&self, st: &HostState) -> Vec<String> {
        match self.scope(st) {
            Ok(scope) => self.notify_names(&scope),
            Err(_) => self.task.notify.clone(),
        }
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
}

/// The shown result's key for the `[ERROR]` text the callback prints before it (an
/// `_ansible_` key: never displayed as part of the result).
pub(crate) const ERROR_KEY: &str = "_ansible_tprov_error";

/// A module Ansible runs on the host: its failures are "Module failed: MSG" (an action
/// of the controller's says "Action failed", an action plugin's own failure nothing).
pub(super) fn runs_on_host(module: &str) -> bool {
    !tasks::has_trait(module, Trait::Controller) && !tasks::has_trait(module, Trait::ActionPlugin)
}

/// An action of the controller's: its failures are "Action failed: MSG".
pub(super) fn controller_action(module: &str) -> bool {
    tasks::has_trait(module, Trait::Controller)
}

/// A result key (never kept) marking a failure `failed_when` made, not the module.
pub(super) const FAILED_BY_TASK: &str = "_tprov_failed_by_task";

/// A result key (never kept) marking a failure of the task executor itself (a task
/// `timeout`): its message is the whole `[ERROR]` text.
const FAILED_BY_EXECUTOR: &str = "_tprov_failed_by_executor";

/// What Ansible 2.19 puts in a failed result's `exception` without -vvv.
const NO_TRACEBACK: &str = "(traceback unavailable)";

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
