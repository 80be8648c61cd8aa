//! Reading playbooks and task files, with positions, and checking every keyword,
//! module name and module argument before anything runs. Here: the keyword tables,
//! the reading context and the readers of keyword values every part shares.

use super::{Common, Item};
use crate::schema::did_you_mean;
use crate::source::{Diagnostic, Origin};
use crate::value::Value;
use crate::vars::{Var, Vars};
use crate::yaml::{Loaded, Node, NodeKind};
use std::path::PathBuf;

pub(crate) use kv::parse_kv;
pub(crate) use plays::load;
pub(crate) use tasks::{VARIABLE_PARAMS, load_dynamic_role, load_tasks_file};

const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "become",
    "become_user",
    "become_method",
    "serial",
    "max_fail_percentage",
    "any_errors_fatal",
    "gather_facts",
    "check_mode",
    "tags",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "environment",
    "remote_user",
    "connection",
    "strategy",
    "order",
    "ignore_errors",
    "no_log",
    "diff",
    "collections",
    "force_handlers",
    "gather_subset",
    "gather_timeout",
    "ignore_unreachable",
    "run_once",
    "throttle",
    "timeout",
    "port",
    "vars_prompt",
    "module_defaults",
    "become_flags",
    "become_exe",
    "debugger",
    "fact_path",
    "roles",
];

const TASK_KEYS: &[&str] = &[
    "name",
    "action",
    "args",
    "async",
    "poll",
    "changed_when",
    "failed_when",
    "delay",
    "delegate_to",
    "delegate_facts",
    "loop",
    "loop_control",
    "notify",
    "register",
    "retries",
    "until",
    "when",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_exe",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "diff",
    "environment",
    "ignore_errors",
    "ignore_unreachable",
    "module_defaults",
    "no_log",
    "port",
    "remote_user",
    "run_once",
    "tags",
    "throttle",
    "timeout",
    "vars",
    "listen",
    "local_action",
    "with_items",
    "with_list",
    "with_dict",
    "any_errors_fatal",
];

const BLOCK_KEYS: &[&str] = &[
    "name",
    "block",
    "notify",
    "rescue",
    "always",
    "when",
    "become",
    "become_user",
    "become_method",
    "tags",
    "vars",
    "ignore_errors",
    "check_mode",
    "diff",
    "no_log",
    "any_errors_fatal",
    "environment",
    "delegate_to",
    "run_once",
    "collections",
    "module_defaults",
    "ignore_unreachable",
    "throttle",
    "timeout",
    "port",
    "remote_user",
    "debugger",
    "connection",
];

/// Keywords we read but do not act on: accepted, so Ansible playbooks load.
const IGNORED_KEYS: &[&str] = &[
    "collections",
    "strategy",
    "debugger",
    "throttle",
    "gather_timeout",
    "gather_subset",
    "fact_path",
    "order",
    "force_handlers",
];

mod kv;
mod plays;
mod roles;
mod tasks;

struct Ctx<'a> {
    l: &'a Loaded,
    /// The directory of the file being read.
    dir: PathBuf,
    /// The playbook's directory (roles are looked up beside it too).
    play_dir: PathBuf,
    /// The role whose files are being read, if any.
    role_dir: Option<PathBuf>,
    role_name: Option<String>,
    /// `ansible_parent_role_names` and `_paths` for the tasks being read: the roles
    /// whose `include_role`/`import_role` led here, innermost first.
    parent_roles: Vec<(String, String)>,
    errors: Vec<Diagnostic>,
    /// Handlers of the roles met so far: they join the play's.
    role_handlers: Vec<Item>,
    /// Roles already added to the play being read (a role runs once per play), shared
    /// with the contexts of the files the play brings in.
    roles_seen: std::rc::Rc<std::cell::RefCell<RolesSeen>>,
    /// Reading a role's meta dependencies (their names are `ansible_dependent_role_names`).
    dependency: bool,
    /// Reading handlers (a play's `handlers:`, a role's handlers/, a file they import):
    /// each entry is a block of handler tasks, with no role or block inside.
    handlers: bool,
    depth: usize,
    /// Vars known while the playbook is read (an `import_playbook`'s `vars:`, the play's
    /// own): what a static role name may be templated with.
    known: std::rc::Rc<Vec<(String, Value)>>,
    /// The role parameters of the roles that led here (a dependency, or a role imported
    /// from a role's tasks, inherits its parents' parameters under its own).
    role_params: std::rc::Rc<Vars>,
    /// Reading a role `include_role` brings in (private: its vars are not exported).
    private_role: bool,
    /// The play's `collections:`: where a short module name is looked for first.
    collections: std::rc::Rc<Vec<String>>,
}

impl Ctx<'_> {
    /// A role added to the play: its name, and whether only as a dependency.
    fn name_role(&self, name: &str) {
        let mut seen = self.roles_seen.borrow_mut();
        let dependency = self.dependency;
        if !seen
            .names
            .iter()
            .any(|(n, d)| n == name && *d == dependency)
        {
            seen.names.push((name.to_string(), dependency));
        }
    }

    fn err(&mut self, n_pos: crate::source::Pos, msg: impl Into<String>) {
        self.errors
            .push(Diagnostic::error(self.l.origin(n_pos), msg));
    }

    fn origin(&self, n: &Node) -> Origin {
        self.l.origin(n.pos)
    }
}

/// The roles a play has taken in so far: their keys (a role with the same parameters
/// runs once per play) and names.
#[derive(Debug, Default)]
struct RolesSeen {
    names: Vec<(String, bool)>,
    /// The vars and defaults of the play's public roles (`roles:`, `import_role`, and
    /// their dependencies), merged in load order: every task of the play sees them.
    exported_vars: Vars,
    exported_defaults: Vars,
}

/// Whether `name` is one of Ansible's reserved names (a play, block or task keyword),
/// which Ansible warns about when a variable uses it.
pub(crate) fn is_reserved_name(name: &str) -> bool {
    PLAY_KEYS.contains(&name) || TASK_KEYS.contains(&name) || BLOCK_KEYS.contains(&name)
}

fn check_keys(cx: &mut Ctx, n: &Node, allowed: &[&str], what: &str) {
    let Some(entries) = n.as_map() else { return };
    for (k, _) in entries {
        if !allowed.contains(&k.name.as_str()) {
            let hint = did_you_mean(&k.name, allowed.iter().copied())
                .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
            cx.err(
                k.pos,
                format!("`{}` is not a valid {what} keyword{hint}", k.name),
            );
        }
    }
}

fn string(cx: &mut Ctx, n: &Node, what: &str) -> Option<String> {
    match &n.kind {
        NodeKind::Scalar(Value::Null) => None,
        NodeKind::Scalar(v) if !matches!(v, Value::List(_) | Value::Map(_)) => Some(v.py_str()),
        _ => {
            cx.err(
                n.pos,
                format!("`{what}` must be a string, found {}", n.type_name()),
            );
            None
        }
    }
}

fn boolean(cx: &mut Ctx, n: &Node, what: &str) -> Option<bool> {
    match n.to_value() {
        Value::Bool(b) => Some(b),
        Value::Str(s) if crate::template::is_possibly_template(&s) => {
            cx.err(
                n.pos,
                format!("`{what}` must be a boolean; templated values are not supported here"),
            );
            None
        }
        Value::Str(s) => match s.to_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            _ => {
                cx.err(n.pos, format!("`{what}` must be a boolean, found {s:?}"));
                None
            }
        },
        Value::Int(i) => Some(i != 0),
        other => {
            cx.err(
                n.pos,
                format!("`{what}` must be a boolean, found {}", other.type_name()),
            );
            None
        }
    }
}

/// A string, or a list of strings (`tags`, `notify`, `listen`).
fn strings(cx: &mut Ctx, n: &Node, what: &str, split_commas: bool) -> Vec<String> {
    match &n.kind {
        NodeKind::Seq(items) => items.iter().filter_map(|i| string(cx, i, what)).collect(),
        _ => match string(cx, n, what) {
            Some(s) if split_commas => s
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            Some(s) => vec![s],
            None => Vec::new(),
        },
    }
}

/// `when:`-like conditions: a string, a boolean, or a list of them.
fn conditions(cx: &mut Ctx, n: &Node) -> Vec<(String, Origin)> {
    let one = |cx: &mut Ctx, n: &Node| -> Option<(String, Origin)> {
        match &n.kind {
            NodeKind::Scalar(Value::Bool(b)) => {
                Some((if *b { "True" } else { "False" }.to_string(), cx.origin(n)))
            }
            NodeKind::Scalar(Value::Null) => None,
            NodeKind::Scalar(Value::Unsafe(s)) => {
                Some((format!("{}{s}", crate::trust::MARK), cx.origin(n)))
            }
            NodeKind::Scalar(v) => Some((v.py_str(), cx.origin(n))),
            _ => {
                cx.err(n.pos, "a condition must be a string or a boolean");
                None
            }
        }
    };
    match &n.kind {
        NodeKind::Seq(items) => items.iter().filter_map(|i| one(cx, i)).collect(),
        _ => one(cx, n).into_iter().collect(),
    }
}

fn vars(cx: &mut Ctx, n: &Node) -> Vars {
    match &n.kind {
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                (
                    k.name.clone(),
                    Var {
                        value: v.to_value(),
                        origin: Some(cx.l.origin(k.pos)),
                    },
                )
            })
            .collect(),
        NodeKind::Scalar(Value::Null) => Vars::default(),
        NodeKind::Seq(items) => {
            // Ansible accepts a list of mappings too.
            let mut out = Vars::default();
            for i in items {
                for (k, v) in i.as_map().unwrap_or_default() {
                    out.insert(
                        k.name.clone(),
                        Var {
                            value: v.to_value(),
                            origin: Some(cx.l.origin(k.pos)),
                        },
                    );
                }
            }
            out
        }
        _ => {
            cx.err(n.pos, "`vars` must be a mapping");
            Vars::default()
        }
    }
}

impl<'a> Ctx<'a> {
    /// The context for a file read on its own (a playbook, or a task file included at
    /// run time): `dir` is its directory and the playbook's.
    fn top(l: &'a Loaded, dir: PathBuf) -> Ctx<'a> {
        Ctx {
            l,
            play_dir: dir.clone(),
            dir,
            role_dir: None,
            role_name: None,
            parent_roles: Vec::new(),
            errors: Vec::new(),
            role_handlers: Vec::new(),
            roles_seen: std::rc::Rc::default(),
            dependency: false,
            handlers: false,
            depth: 0,
            known: std::rc::Rc::default(),
            role_params: std::rc::Rc::default(),
            private_role: false,
            collections: std::rc::Rc::default(),
        }
    }
}

fn common(cx: &mut Ctx, n: &Node) -> Common {
    Common {
        name: n.get("name").and_then(|v| string(cx, v, "name")),
        name_origin: n.get("name").map(|v| cx.origin(v)),
        when: n.get("when").map(|v| conditions(cx, v)).unwrap_or_default(),
        become_: n.get("become").and_then(|v| boolean(cx, v, "become")),
        become_user: n
            .get("become_user")
            .and_then(|v| string(cx, v, "become_user")),
        // `local_action` and `connection: local` run the task on the controller.
        delegate_to: n
            .get("delegate_to")
            .and_then(|v| string(cx, v, "delegate_to"))
            .or_else(|| {
                let local = n.get("local_action").is_some()
                    || n.get("connection").and_then(Node::as_str) == Some("local");
                local.then(|| "localhost".to_string())
            }),
        tags: n
            .get("tags")
            .map(|v| strings(cx, v, "tags", true))
            .unwrap_or_default(),
        vars: n.get("vars").map(|v| vars(cx, v)).unwrap_or_default(),
        ignore_errors: n.get("ignore_errors").map(Node::to_value),
        check_mode: n.get("check_mode").map(Node::to_value),
        diff: n.get("diff").map(Node::to_value),
        no_log: n.get("no_log").map(Node::to_value),
        any_errors_fatal: n
            .get("any_errors_fatal")
            .is_some_and(|v| matches!(v.to_value(), Value::Bool(true))),
        environment: n.get("environment").map(Node::to_value),
        ignore_unreachable: n.get("ignore_unreachable").map(Node::to_value),
    }
}
