//! Playbooks: plays, tasks, blocks and handlers as Ansible's playbook language defines
//! them, parsed with positions so that every mistake is reported at its file:line:col
//! before any host is contacted.

mod parse;

use crate::source::Origin;
use crate::value::{Map, Value};
use crate::vars::Vars;
use std::path::PathBuf;

pub(crate) use parse::{
    VARIABLE_PARAMS, is_reserved_name, load, load_dynamic_role, load_tasks_file, parse_kv,
};

#[derive(Debug, Clone)]
pub(crate) struct Play {
    pub name: String,
    /// The roles the play takes in itself (`roles:`, import/include_role), and those
    /// that come only as another role's dependencies.
    pub role_names: Vec<String>,
    pub dependent_role_names: Vec<String>,
    /// The public roles' vars (above the play's vars and vars_files) and defaults (below
    /// the inventory), as Ansible exports them to every task of the play.
    pub exported_vars: std::sync::Arc<Vars>,
    pub exported_defaults: std::sync::Arc<Vars>,
    /// The host pattern, raw (may be templated: `"{{ hostGroup }}"`).
    pub hosts: String,
    pub vars: Vars,
    /// Each entry: its candidates, the first that exists is read (one for a plain name).
    pub vars_files: Vec<(Vec<String>, Origin)>,
    pub become_: Option<bool>,
    pub become_user: Option<String>,
    pub serial: Vec<Value>,
    pub max_fail_percentage: Option<f64>,
    pub any_errors_fatal: bool,
    /// `force_handlers`: a failed host's notified handlers still run.
    pub force_handlers: Option<bool>,
    pub gather_facts: bool,
    pub check_mode: Option<bool>,
    /// Keywords every task of the play inherits (ignore_errors, no_log, diff,
    /// environment), raw as a task's are.
    pub ignore_errors: Option<Value>,
    pub no_log: Option<Value>,
    pub diff: Option<Value>,
    pub environment: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    pub tags: Vec<String>,
    pub pre_tasks: Vec<Item>,
    pub tasks: Vec<Item>,
    pub post_tasks: Vec<Item>,
    pub handlers: Vec<Item>,
    /// The playbook's directory (group_vars, templates, files are found from it).
    pub dir: PathBuf,
    pub origin: Origin,
}

/// A role: where it is, and its defaults and vars (with the entry's parameters).
#[derive(Debug)]
pub(crate) struct Role {
    pub name: String,
    pub dir: PathBuf,
    pub defaults: std::sync::Arc<Vars>,
    pub vars: std::sync::Arc<Vars>,
    /// Its parameters (a `roles:` entry's non-keyword keys) over those of the roles
    /// that led to it: above set_fact, below include params.
    pub params: std::sync::Arc<Vars>,
    /// What makes two entries the same role for deduplication: its directory and
    /// parameters.
    pub key: String,
    /// Brought in by an `include_role` (or a dependency of one): its handlers join the
    /// play's when the include runs, not when the playbook loads.
    pub dynamic: bool,
}

/// A task or a block.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Task(Box<Task>),
    Block(Box<Block>),
}

/// Keywords shared by tasks and blocks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Common {
    pub name: Option<String>,
    /// Where the name is written (a templated name's warnings point there).
    pub name_origin: Option<Origin>,
    pub when: Vec<(String, Origin)>,
    pub become_: Option<bool>,
    pub become_user: Option<String>,
    /// `delegate_to` of a task, a block or an import (blocks pass it to their tasks);
    /// a task's `local_action` or `connection: local` means localhost.
    pub delegate_to: Option<String>,
    pub tags: Vec<String>,
    pub vars: Vars,
    pub ignore_errors: Option<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub no_log: Option<Value>,
    pub any_errors_fatal: bool,
    pub environment: Option<Value>,
    /// A block's (or a task's) `ignore_unreachable`, inherited by its tasks.
    pub ignore_unreachable: Option<Value>,
}

/// The handler tasks of a `handlers:` list, with the blocks (and imports) each is in,
/// outermost first: a handler may be a task of a block or of an imported file.
/// Every name a notification may call among `handlers`: their names (plain and
/// role-prefixed) and the topics they listen to.
pub(crate) fn handler_keys(handlers: &[Item]) -> std::collections::HashSet<String> {
    let mut known = std::collections::HashSet::new();
    for (t, _) in handler_tasks(handlers) {
        known.extend(t.handler_names());
        known.extend(t.handler_topics());
    }
    known
}

pub(crate) fn handler_tasks(items: &[Item]) -> Vec<(&Task, Vec<&Common>)> {
    fn walk<'a>(
        items: &'a [Item],
        outer: &[&'a Common],
        out: &mut Vec<(&'a Task, Vec<&'a Common>)>,
    ) {
        for item in items {
            match item {
                Item::Task(t) => out.push((t, outer.to_vec())),
                Item::Block(b) => {
                    let mut inner = outer.to_vec();
                    inner.push(&b.common);
                    walk(&b.block, &inner, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(items, &[], &mut out);
    out
}

#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub common: Common,
    pub block: Vec<Item>,
    pub rescue: Vec<Item>,
    pub always: Vec<Item>,
    /// For `include_role`: the include task itself (its banner, condition and loop as
    /// Ansible shows a dynamic include); the block holds the role, read with the play.
    pub include: Option<Box<Task>>,
    /// A role's block (a `roles:` entry or a dependency) that runs once per host and
    /// play: its role's dedup key. A host that completed it skips it silently.
    pub dedup: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub common: Common,
    /// The canonical module name (`copy`, not `ansible.builtin.copy`).
    pub module: String,
    /// A module that is no module of tprov's but a file in a `library/` directory: run
    /// as Ansible runs custom modules.
    pub custom_module: Option<std::path::PathBuf>,
    /// The module's arguments, raw; free-form text is under `_raw_params`.
    pub args: Map,
    pub args_origin: Origin,
    /// Where the module's name is written (its key).
    pub module_origin: Origin,
    /// Where each argument's value is written (empty for free-form arguments, which
    /// are all at `args_origin`).
    pub arg_origins: Vec<(String, Origin)>,
    /// Where the loop's value is written.
    pub loop_origin: Option<Origin>,
    /// Argument errors (a missing required one, an unknown one): as in Ansible, they fail
    /// the task when it runs, not the playbook's load; `validate` reports them.
    pub arg_errors: Vec<(Origin, String)>,
    pub loop_: Option<Value>,
    pub loop_kind: LoopKind,
    /// For `with_<lookup>:`, the lookup's name.
    pub loop_lookup: Option<String>,
    pub loop_var: String,
    pub index_var: Option<String>,
    pub loop_label: Option<String>,
    /// `loop_control.extended`: `ansible_loop` (index, first, last, previtem...) per item;
    /// `extended_allitems: false` leaves out its `allitems`.
    pub loop_extended: bool,
    /// `loop_control.pause`: seconds between items.
    pub loop_pause: Option<Value>,
    /// `loop_control.break_when`: conditions judged after each item; the loop stops at
    /// the first item that meets them (its result kept).
    pub loop_break_when: Vec<(String, Origin)>,
    pub loop_allitems: bool,
    pub register: Option<String>,
    pub changed_when: Vec<(String, Origin)>,
    pub failed_when: Vec<(String, Origin)>,
    pub notify: Vec<String>,
    /// For handlers: the topics they listen to.
    pub listen: Vec<String>,
    pub run_once: bool,
    /// A templated `run_once:`, decided per host as the task starts (Ansible's linear
    /// strategy templates it for each host in turn, and the first true one runs alone).
    pub run_once_expr: Option<String>,
    /// `until:` retry condition, with `retries` and `delay` (seconds).
    pub until: Vec<(String, Origin)>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    /// `timeout:` seconds the task may take on a host.
    pub timeout: Option<Value>,
    /// `async:` seconds the task may run as a job on the host, and `poll:` seconds
    /// between looks at it (0: start it and go on).
    pub async_: Option<Value>,
    pub poll: Option<Value>,
    /// `ignore_unreachable:` a host this task cannot reach stays in the play.
    pub ignore_unreachable: Option<Value>,
    /// The role the task comes from, if any.
    pub role: Option<std::sync::Arc<Role>>,
    /// The roles whose include_role or import_role led to this task (innermost first,
    /// name and path): what a file it includes at run time inherits.
    pub parent_roles: Vec<(String, String)>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoopKind {
    /// `loop:`: the list as is.
    Loop,
    /// `with_items:`: flattened one level.
    WithItems,
    /// `with_list:`
    WithList,
    /// `with_dict:`: `{key, value}` items.
    WithDict,
    /// `with_<lookup>:` (sequence, fileglob, nested, subelements...): the lookup's values.
    WithLookup,
}

impl Task {
    /// The name shown in output: `name`, else the module name (Ansible's default).
    pub(crate) fn display_name(&self) -> String {
        self.common
            .name
            .clone()
            .unwrap_or_else(|| self.module.clone())
    }

    /// Where the value of argument `key` is written.
    pub(crate) fn arg_origin(&self, key: &str) -> &Origin {
        self.arg_origins
            .iter()
            .find(|(k, _)| k == key)
            .map_or(&self.args_origin, |(_, o)| o)
    }

    /// The notifications that call a handler by name: its name, also prefixed with its
    /// role's name (`role : name`), short or fully qualified (`ns.col.role : name`).
    pub(crate) fn handler_names(&self) -> Vec<String> {
        self.role_prefixed(self.common.name.iter())
    }

    /// The topics a handler listens to, plain and prefixed with its role's name.
    pub(crate) fn handler_topics(&self) -> Vec<String> {
        self.role_prefixed(self.listen.iter())
    }

    /// `names` as this handler's names: plain and prefixed with its role's name.
    pub(crate) fn role_prefixed<'a>(&self, names: impl Iterator<Item = &'a String>) -> Vec<String> {
        let mut out: Vec<String> = names.cloned().collect();
        if let Some(r) = &self.role {
            let short = r.name.rsplit('.').next().unwrap_or(&r.name).to_string();
            let bare = out.clone();
            for role in [r.name.clone(), short] {
                for n in &bare {
                    let prefixed = format!("{role} : {n}");
                    if !out.contains(&prefixed) {
                        out.push(prefixed);
                    }
                }
            }
        }
        out
    }

    /// The name Ansible's banners show: `role : name` (or `role : module`) in a role.
    pub(crate) fn banner_name(&self) -> String {
        if self.module == "include_role" {
            let role = self.args.get("name").or_else(|| self.args.get("role"));
            return self.common.name.clone().unwrap_or_else(|| {
                format!(
                    "include_role : {}",
                    role.map(Value::py_str).unwrap_or_default()
                )
            });
        }
        match &self.role {
            Some(r) => format!("{} : {}", r.name, self.display_name()),
            None => self.display_name(),
        }
    }
}
