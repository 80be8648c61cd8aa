//! Reading playbooks and task files, with positions, and checking every keyword,
//! module name and module argument before anything runs.

use super::{Block, Common, Item, LoopKind, Play, Task};
use crate::schema::did_you_mean;
use crate::source::{Diagnostic, Origin};
use crate::value::{Map, Value};
use crate::vars::{Var, Vars};
use crate::yaml::{Loaded, Node, NodeKind};
use std::path::{Path, PathBuf};

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

mod roles;

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
    depth: usize,
    /// Vars known while the playbook is read (an `import_playbook`'s `vars:`, the play's
    /// own): what a static role name may be templated with.
    known: std::rc::Rc<Vec<(String, Value)>>,
}

impl Ctx<'_> {
    fn role_seen(&self, key: &str) -> bool {
        self.roles_seen.borrow().keys.iter().any(|k| k == key)
    }

    fn see_role(&self, key: String) {
        self.roles_seen.borrow_mut().keys.push(key);
    }

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
    keys: Vec<String>,
    names: Vec<(String, bool)>,
}

/// Whether `name` is one of Ansible's reserved names (a play, block or task keyword),
/// which Ansible warns about when a variable uses it.
pub(crate) fn is_reserved_name(name: &str) -> bool {
    PLAY_KEYS.contains(&name) || TASK_KEYS.contains(&name) || BLOCK_KEYS.contains(&name)
}

/// Loads a playbook (following `import_playbook`); every problem found is returned.
pub(crate) fn load(path: &Path) -> Result<Vec<Play>, Vec<Diagnostic>> {
    let mut plays = Vec::new();
    let mut errors = Vec::new();
    load_into(path, &mut plays, &mut errors, 0, &[]);
    if errors.is_empty() {
        Ok(plays)
    } else {
        Err(errors)
    }
}

fn load_into(
    path: &Path,
    plays: &mut Vec<Play>,
    errors: &mut Vec<Diagnostic>,
    depth: usize,
    import_vars: &[(String, Value)],
) {
    if depth > 20 {
        errors.push(Diagnostic::error(
            Origin::file(path),
            "import_playbook nested more than 20 deep (a cycle?)",
        ));
        return;
    }
    let loaded = match crate::yaml::load_file(path) {
        Ok(l) => l,
        Err(d) => return errors.push(d),
    };
    // The playbook's directory, absolute as Ansible's `playbook_dir` is, whatever path
    // the playbook was given by (`p.yml`, `../x/p.yml`).
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(parent)
        .or_else(|_| std::path::absolute(parent))
        .unwrap_or_else(|_| parent.to_path_buf());
    let root = match loaded.single() {
        Ok(Some(r)) => r,
        Ok(None) => return errors.push(Diagnostic::error(Origin::file(path), "empty playbook")),
        Err(d) => return errors.push(d),
    };
    let NodeKind::Seq(items) = &root.kind else {
        return errors.push(Diagnostic::error(
            loaded.origin(root.pos),
            format!("a playbook is a list of plays, found {}", root.type_name()),
        ));
    };
    for item in items {
        if let Some(target) = item
            .get("import_playbook")
            .or_else(|| item.get("ansible.builtin.import_playbook"))
            .or_else(|| item.get("ansible.legacy.import_playbook"))
        {
            let Some(file) = target.as_str() else {
                errors.push(Diagnostic::error(
                    loaded.origin(target.pos),
                    "import_playbook takes a file name",
                ));
                continue;
            };
            let origin = loaded.origin(target.pos);
            let file = match import_name(file, item, &origin) {
                Ok(f) => f,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            };
            let first = plays.len();
            let mut vars = import_vars.to_vec();
            if let Some(Value::Map(m)) = item.get("vars").map(Node::to_value) {
                vars.extend(m);
            }
            load_into(&dir.join(&file), plays, errors, depth + 1, &vars);
            import_keywords(&loaded, item, &mut plays[first..], errors);
            continue;
        }
        let mut cx = Ctx::top(&loaded, dir.clone());
        cx.known = std::rc::Rc::new(import_vars.to_vec());
        if let Some(play) = play(&mut cx, item) {
            plays.push(play);
        }
        errors.extend(cx.errors);
    }
}

/// An `import_playbook` name, templated (it is read with the playbook, so only the
/// import's own `vars:` are there to render it).
fn import_name(file: &str, item: &Node, origin: &Origin) -> Result<String, Diagnostic> {
    if !crate::template::is_possibly_template(file) {
        return Ok(file.to_string());
    }
    let vars: Vec<(String, Value)> = match item.get("vars").map(Node::to_value) {
        Some(Value::Map(m)) => m.into_iter().collect(),
        _ => Vec::new(),
    };
    let scope = crate::template::Scope::new(
        crate::template::engine(),
        vec![crate::template::native_frame(vars)],
        None,
    );
    crate::template::engine()
        .render_str(file, &scope, Some(origin.clone()))
        .map_err(|e| Diagnostic::error(origin.clone(), e.message))
}

/// The keywords of an `import_playbook` on the plays it brought: `vars:` over each
/// play's own, `tags:` added, `when:` on every task (as Ansible's included conditional).
fn import_keywords(
    loaded: &crate::yaml::Loaded,
    item: &Node,
    plays: &mut [Play],
    errors: &mut Vec<Diagnostic>,
) {
    let mut cx = Ctx::top(loaded, PathBuf::new());
    let c = common(&mut cx, item);
    errors.extend(cx.errors);
    for p in plays {
        for (k, v) in &c.vars {
            p.vars.insert(k.clone(), v.clone());
        }
        p.tags.extend(c.tags.iter().cloned());
        if c.when.is_empty() {
            continue;
        }
        for list in [&mut p.pre_tasks, &mut p.tasks, &mut p.post_tasks] {
            let items = std::mem::take(list);
            let common = Common {
                when: c.when.clone(),
                ..Common::default()
            };
            list.push(Item::Block(Box::new(Block {
                common,
                block: items,
                rescue: Vec::new(),
                always: Vec::new(),
                include: None,
            })));
        }
    }
}

/// Loads a task file (for `include_tasks` at run time). Included from a role's task,
/// its tasks are the role's too (its defaults, vars, templates/ and files/), exactly as
/// with `import_tasks`.
pub(crate) fn load_tasks_file(
    path: &Path,
    role: Option<&std::sync::Arc<crate::playbook::Role>>,
    parent_roles: &[(String, String)],
) -> Result<Vec<Item>, Vec<Diagnostic>> {
    let loaded = crate::yaml::load_file(path).map_err(|d| vec![d])?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut cx = Ctx::top(&loaded, dir);
    cx.role_dir = role.map(|r| r.dir.clone());
    cx.role_name = role.map(|r| r.name.clone());
    cx.parent_roles = parent_roles.to_vec();
    let mut items = match loaded.single().map_err(|d| vec![d])? {
        Some(root) => tasks(&mut cx, root),
        None => Vec::new(),
    };
    if let Some(role) = role {
        roles::set_role(&mut items, role);
    }
    if cx.errors.is_empty() {
        Ok(items)
    } else {
        Err(cx.errors)
    }
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

fn play(cx: &mut Ctx, n: &Node) -> Option<Play> {
    if n.as_map().is_none() {
        cx.err(
            n.pos,
            format!("a play is a mapping, found {}", n.type_name()),
        );
        return None;
    }
    // The play's vars are known to its static role names, under an import's.
    if let Some(Value::Map(m)) = n.get("vars").map(Node::to_value) {
        let mut known: Vec<(String, Value)> = m.into_iter().collect();
        known.extend(cx.known.iter().cloned());
        cx.known = std::rc::Rc::new(known);
    }
    check_keys(cx, n, PLAY_KEYS, "play");
    let hosts = if let Some(h) = n.get("hosts") {
        match &h.kind {
            NodeKind::Seq(items) => items
                .iter()
                .filter_map(|i| string(cx, i, "hosts"))
                .collect::<Vec<_>>()
                .join(","),
            _ => string(cx, h, "hosts").unwrap_or_default(),
        }
    } else {
        cx.err(n.pos, "the play has no `hosts`");
        String::new()
    };
    let name = n
        .get("name")
        .and_then(|v| string(cx, v, "name"))
        .unwrap_or_else(|| hosts.clone());
    let mut vars_files = Vec::new();
    if let Some(vf) = n.get("vars_files") {
        match &vf.kind {
            NodeKind::Seq(items) => {
                for i in items {
                    // A list inside the list: the first of its files that exists.
                    let names: Vec<String> = match &i.kind {
                        NodeKind::Seq(alts) => alts
                            .iter()
                            .filter_map(|a| string(cx, a, "vars_files"))
                            .collect(),
                        _ => string(cx, i, "vars_files").into_iter().collect(),
                    };
                    if !names.is_empty() {
                        vars_files.push((names, cx.origin(i)));
                    }
                }
            }
            _ => {
                if let Some(s) = string(cx, vf, "vars_files") {
                    vars_files.push((vec![s], cx.origin(vf)));
                }
            }
        }
    }
    let serial = match n.get("serial") {
        Some(s) => match s.to_value() {
            Value::List(l) => l,
            Value::Null => Vec::new(),
            other => vec![other],
        },
        None => Vec::new(),
    };
    let max_fail_percentage = n
        .get("max_fail_percentage")
        .and_then(|v| match v.to_value() {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            Value::Str(s) => s.trim_end_matches('%').parse().ok(),
            _ => None,
        });
    if let Some(m) = n.get("become_method").and_then(|v| v.as_str())
        && m != "sudo"
    {
        cx.err(
            n.get("become_method").map_or(n.pos, |v| v.pos),
            format!("become_method {m} is not supported (sudo)"),
        );
    }
    let section = |cx: &mut Ctx, key: &str| n.get(key).map(|t| tasks(cx, t)).unwrap_or_default();
    let pre_tasks = section(cx, "pre_tasks");
    // Roles run after pre_tasks (and their handlers), before the play's tasks.
    let mut play_tasks = n
        .get("roles")
        .map(|r| roles::roles_list(cx, r))
        .unwrap_or_default();
    play_tasks.extend(section(cx, "tasks"));
    let post_tasks = section(cx, "post_tasks");
    let mut handlers = section(cx, "handlers");
    // Role handlers come after the play's own, as Ansible lists them.
    handlers.extend(std::mem::take(&mut cx.role_handlers));
    // A notification nothing answers is a mistake Ansible reports only when the task
    // runs; here it is reported before any host is contacted.
    let mut known = std::collections::HashSet::new();
    for (t, _) in crate::playbook::handler_tasks(&handlers) {
        if let Some(n) = &t.common.name {
            known.insert(n.clone());
            if let Some(r) = &t.role {
                known.insert(format!("{} : {n}", r.name));
            }
        }
        known.extend(t.listen.iter().cloned());
    }
    for section in [&pre_tasks, &play_tasks, &post_tasks, &handlers] {
        check_notify(section, &known, &mut cx.errors);
    }
    let mut play_vars = n.get("vars").map(|v| vars(cx, v)).unwrap_or_default();
    // `connection: local` for the play: every host is worked on from the controller.
    if let Some(c) = n.get("connection").and_then(Node::as_str) {
        if c == "local" {
            play_vars
                .entry("ansible_connection".into())
                .or_insert_with(|| Var {
                    value: Value::str("local"),
                    origin: Some(cx.origin(n)),
                });
        } else if c != "ssh" && c != "smart" && c != "paramiko" {
            cx.err(
                n.get("connection").map_or(n.pos, |v| v.pos),
                format!("connection {c} is not supported (ssh, local)"),
            );
        }
    }
    let (role_names, dependent_role_names) = {
        let seen = cx.roles_seen.borrow();
        let pick = |dep: bool| -> Vec<String> {
            seen.names
                .iter()
                .filter(|(_, d)| *d == dep)
                .map(|(n, _)| n.clone())
                .collect()
        };
        (pick(false), pick(true))
    };
    Some(Play {
        role_names,
        dependent_role_names,
        name,
        hosts,
        vars: play_vars,
        vars_files,
        become_: n.get("become").and_then(|v| boolean(cx, v, "become")),
        become_user: n
            .get("become_user")
            .and_then(|v| string(cx, v, "become_user")),
        serial,
        max_fail_percentage,
        any_errors_fatal: n
            .get("any_errors_fatal")
            .and_then(|v| boolean(cx, v, "any_errors_fatal"))
            .unwrap_or(false),
        force_handlers: n
            .get("force_handlers")
            .and_then(|v| boolean(cx, v, "force_handlers")),
        gather_facts: n
            .get("gather_facts")
            .and_then(|v| boolean(cx, v, "gather_facts"))
            .unwrap_or(true),
        check_mode: n
            .get("check_mode")
            .and_then(|v| boolean(cx, v, "check_mode")),
        ignore_errors: n.get("ignore_errors").map(Node::to_value),
        no_log: n.get("no_log").map(Node::to_value),
        diff: n.get("diff").map(Node::to_value),
        environment: n.get("environment").map(Node::to_value),
        tags: n
            .get("tags")
            .map(|v| strings(cx, v, "tags", true))
            .unwrap_or_default(),
        pre_tasks,
        tasks: play_tasks,
        post_tasks,
        handlers,
        dir: cx.dir.clone(),
        origin: cx.origin(n),
    })
}

/// The tasks of a file an import (or a role) brings in, read with `role_dir` as the
/// current role; its problems and role handlers join the importer's.
fn load_task_file(
    cx: &mut Ctx,
    path: &Path,
    role: Option<(PathBuf, String)>,
    parent_roles: Vec<(String, String)>,
) -> Vec<Item> {
    let loaded = match crate::yaml::load_file(path) {
        Ok(l) => l,
        Err(d) => {
            cx.errors.push(d);
            return Vec::new();
        }
    };
    let mut sub = Ctx {
        l: &loaded,
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        play_dir: cx.play_dir.clone(),
        role_dir: role.as_ref().map(|r| r.0.clone()),
        role_name: role.map(|r| r.1),
        parent_roles,
        errors: Vec::new(),
        role_handlers: Vec::new(),
        roles_seen: cx.roles_seen.clone(),
        dependency: cx.dependency,
        depth: cx.depth + 1,
        known: cx.known.clone(),
    };
    let items = match loaded.single() {
        Ok(Some(root)) => tasks(&mut sub, root),
        Ok(None) => Vec::new(),
        Err(d) => {
            sub.errors.push(d);
            Vec::new()
        }
    };
    cx.errors.extend(sub.errors);
    cx.role_handlers.extend(sub.role_handlers);
    items
}

/// Every `notify` under `items` names a handler or a topic one listens to.
fn check_notify(
    items: &[Item],
    known: &std::collections::HashSet<String>,
    errors: &mut Vec<Diagnostic>,
) {
    for item in items {
        match item {
            Item::Task(t) => {
                for n in &t.notify {
                    if !known.contains(n) && !crate::template::is_possibly_template(n) {
                        errors.push(Diagnostic::error(
                            t.origin.clone(),
                            format!("The requested handler '{n}' was not found in either the main handlers list nor in the listening handlers list"),
                        ));
                    }
                }
            }
            Item::Block(b) => {
                for list in [&b.block, &b.rescue, &b.always] {
                    check_notify(list, known, errors);
                }
            }
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
            depth: 0,
            known: std::rc::Rc::default(),
        }
    }
}

fn tasks(cx: &mut Ctx, n: &Node) -> Vec<Item> {
    match &n.kind {
        NodeKind::Seq(items) => items.iter().flat_map(|i| item(cx, i)).collect(),
        NodeKind::Scalar(Value::Null) => Vec::new(),
        _ => {
            cx.err(
                n.pos,
                format!("expected a list of tasks, found {}", n.type_name()),
            );
            Vec::new()
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
    }
}

fn item(cx: &mut Ctx, n: &Node) -> Vec<Item> {
    let Some(entries) = n.as_map() else {
        cx.err(
            n.pos,
            format!("a task is a mapping, found {}", n.type_name()),
        );
        return Vec::new();
    };
    if n.get("block").is_some() {
        check_keys(cx, n, BLOCK_KEYS, "block");
        cx.depth += 1;
        let b = Block {
            common: common(cx, n),
            block: n.get("block").map(|v| tasks(cx, v)).unwrap_or_default(),
            rescue: n.get("rescue").map(|v| tasks(cx, v)).unwrap_or_default(),
            always: n.get("always").map(|v| tasks(cx, v)).unwrap_or_default(),
            include: None,
        };
        cx.depth -= 1;
        return vec![Item::Block(Box::new(b))];
    }
    // The module is the one key that is not a task keyword.
    let mut module_keys: Vec<&(crate::yaml::Key, Node)> = entries
        .iter()
        .filter(|(k, _)| !TASK_KEYS.contains(&k.name.as_str()) && !k.name.starts_with("with_"))
        .collect();
    let (mut module, mut raw_args, module_pos) = match (
        module_keys.len(),
        n.get("action").or_else(|| n.get("local_action")),
    ) {
        (0, Some(action)) => match action.as_str() {
            Some(text) => {
                let (m, rest) = text
                    .trim()
                    .split_once(char::is_whitespace)
                    .unwrap_or((text.trim(), ""));
                (
                    m.to_string(),
                    Node {
                        pos: action.pos,
                        kind: NodeKind::Scalar(Value::str(rest)),
                    },
                    action.pos,
                )
            }
            None => {
                if let Some(m) = action.get("module").and_then(Node::as_str) {
                    // The mapping's other keys are the arguments, and so are those of an
                    // `args:` inside it (Ansible's _normalize_parameters).
                    let mut entries: Vec<(crate::yaml::Key, Node)> = Vec::new();
                    for (k, v) in action.as_map().unwrap_or_default() {
                        match (k.name.as_str(), &v.kind) {
                            ("module", _) => {}
                            ("args", NodeKind::Map(inner)) => entries.extend(inner.iter().cloned()),
                            ("args", NodeKind::Scalar(Value::Str(text))) => {
                                entries.extend(scalar_entries(parse_free_form(m, text), v.pos));
                            }
                            _ => entries.push((k.clone(), v.clone())),
                        }
                    }
                    let args = Node {
                        pos: action.pos,
                        kind: NodeKind::Map(entries),
                    };
                    (m.to_string(), args, action.pos)
                } else {
                    cx.err(action.pos, "`action` needs a module");
                    return Vec::new();
                }
            }
        },
        (1, _) => {
            let (k, v) = module_keys.remove(0);
            (k.name.clone(), v.clone(), k.pos)
        }
        (0, None) => {
            cx.err(
                n.pos,
                "this task has no module (or the module name is misspelt as a keyword)",
            );
            return Vec::new();
        }
        _ => {
            let names: Vec<&str> = module_keys.iter().map(|(k, _)| k.name.as_str()).collect();
            let first_unknown = module_keys
                .iter()
                .find(|(k, _)| !crate::tasks::is_module(crate::tasks::canonical(&k.name)));
            let pos = first_unknown.map_or(n.pos, |(k, _)| k.pos);
            let hint = first_unknown
                .and_then(|(k, _)| {
                    did_you_mean(
                        &k.name,
                        TASK_KEYS
                            .iter()
                            .copied()
                            .chain(crate::tasks::module_names()),
                    )
                })
                .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
            cx.err(
                pos,
                format!(
                    "a task has one module, this one has {} ({}){hint}",
                    names.len(),
                    names.join(", ")
                ),
            );
            return Vec::new();
        }
    };
    module = crate::tasks::canonical(&module).to_string();
    // `include_role`: the role read now, run behind the include task (see Block::include).
    let mut role: Option<Vec<Item>> = None;
    if module == "import_role" || module == "include_role" {
        // Free-form `include_role: name=x tasks_from=y`, as Ansible's parse_kv reads it.
        if let NodeKind::Scalar(Value::Str(text)) = &raw_args.kind {
            let entries = scalar_entries(
                parse_kv(text).into_iter().map(|(k, v)| (k, Value::Str(v))),
                raw_args.pos,
            );
            raw_args = Node {
                pos: raw_args.pos,
                kind: NodeKind::Map(entries),
            };
        }
        if raw_args.as_map().is_none() {
            cx.err(
                module_pos,
                format!("{module} takes arguments (`name:`, `tasks_from:`...)"),
            );
            return Vec::new();
        }
        cx.depth += 1;
        let mut items = roles::role_items(cx, n, Some(&raw_args));
        cx.depth -= 1;
        if module == "import_role" {
            return items;
        }
        // A dynamic include's `when` and `tags` are its own, not its tasks' (they are
        // judged once, by the include task).
        if let Some(Item::Block(b)) = items.last_mut() {
            b.common.when.clear();
            b.common.tags.clear();
        }
        role = Some(items);
    }
    if module == "import_tasks" || module == "include" {
        let Some(file) = raw_args.as_str().map(str::to_string).or_else(|| {
            raw_args
                .get("file")
                .and_then(Node::as_str)
                .map(str::to_string)
        }) else {
            cx.err(module_pos, "import_tasks takes a file name");
            return Vec::new();
        };
        if crate::template::is_possibly_template(&file) {
            cx.err(
                module_pos,
                "import_tasks is static: its file name cannot be templated (use include_tasks)",
            );
            return Vec::new();
        }
        if cx.depth > 30 {
            cx.err(
                module_pos,
                "import_tasks nested more than 30 deep (a cycle?)",
            );
            return Vec::new();
        }
        // Beside the importing file, else where Ansible's search path looks next: the
        // role's tasks/ and the role itself, then the playbook's directory.
        let path = [
            Some(cx.dir.clone()),
            cx.role_dir.as_ref().map(|r| r.join("tasks")),
            cx.role_dir.clone(),
            Some(cx.play_dir.clone()),
        ]
        .into_iter()
        .flatten()
        .map(|d| d.join(&file))
        .find(|p| p.is_file())
        .unwrap_or_else(|| cx.dir.join(&file));
        let role = cx.role_dir.clone().zip(cx.role_name.clone());
        let parents = cx.parent_roles.clone();
        let mut items = load_task_file(cx, &path, role, parents);
        // `notify:` on the import notifies from each imported task, as in Ansible.
        if let Some(v) = n.get("notify") {
            let names = strings(cx, v, "notify", false);
            add_notify(&mut items, &names);
        }
        // The import's own keywords (when, tags, vars, become) apply to each task.
        let c = common(cx, n);
        return vec![Item::Block(Box::new(Block {
            common: c,
            block: items,
            rescue: Vec::new(),
            always: Vec::new(),
            include: None,
        }))];
    }
    let library_dirs: Vec<PathBuf> = [
        Some(cx.play_dir.clone()),
        cx.role_dir.clone(),
        Some(cx.dir.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let unsupported = role.is_none()
        && !crate::tasks::is_module(&module)
        && crate::tasks::is_unsupported_module(&module, &library_dirs);
    if role.is_none() && !crate::tasks::is_module(&module) && !unsupported {
        let hint = did_you_mean(
            &module,
            crate::tasks::module_names().chain(TASK_KEYS.iter().copied()),
        )
        .map_or(String::new(), |s| format!("; did you mean `{s}`?"));
        cx.err(module_pos, format!("unknown module `{module}`{hint}"));
        return Vec::new();
    }
    // `args:` merges into the module's arguments; one template (`args: "{{ x }}"`) is a
    // mapping once rendered, under the task's own arguments.
    let splat = n
        .get("args")
        .and_then(Node::as_str)
        .filter(|t| crate::template::is_single_expression(t))
        .map(str::to_string);
    if let Some(extra) = n.get("args") {
        if let (NodeKind::Map(a), NodeKind::Map(b)) = (&raw_args.kind, &extra.kind) {
            let mut merged = a.clone();
            merged.extend(b.iter().cloned());
            raw_args = Node {
                pos: raw_args.pos,
                kind: NodeKind::Map(merged),
            };
        } else if let NodeKind::Map(_) = &extra.kind {
            // The free-form string is split as Ansible's parse_kv splits it; `args:`
            // wins over what it names.
            let mut merged = match &raw_args.kind {
                NodeKind::Scalar(Value::Str(s)) => {
                    scalar_entries(parse_free_form(&module, s), raw_args.pos)
                }
                _ => Vec::new(),
            };
            merged.extend(extra.as_map().unwrap_or_default().iter().cloned());
            raw_args = Node {
                pos: raw_args.pos,
                kind: NodeKind::Map(merged),
            };
        }
    }
    let mut args = module_args(cx, &module, &raw_args);
    if let Some(text) = splat {
        args.insert(VARIABLE_PARAMS.into(), Value::Str(text));
    }
    // Arguments given as one template (`assert: "{{ item }}"`): a mapping once rendered,
    // checked when the task runs (Ansible's `_variable_params`).
    if let Some(Value::Str(text)) = args.get("_raw_params").cloned()
        && !matches!(
            module.as_str(),
            "command" | "shell" | "raw" | "script" | "include_tasks" | "include_vars" | "meta"
        )
        && crate::template::is_single_expression(&text)
    {
        args.shift_remove("_raw_params");
        args.insert(VARIABLE_PARAMS.into(), Value::Str(text));
    }
    let arg_errors: Vec<(Origin, String)> = if args.contains_key(VARIABLE_PARAMS) {
        Vec::new()
    } else {
        crate::tasks::check_args(&module, &args)
            .into_iter()
            .map(|(key, msg)| {
                let pos = raw_args
                    .as_map()
                    .and_then(|m| m.iter().find(|(k, _)| k.name == key))
                    .map_or(raw_args.pos, |(k, _)| k.pos);
                (cx.l.origin(pos), msg)
            })
            .collect()
    };
    let mut loop_lookup = None;
    let (loop_, loop_kind) = if let Some(l) = n.get("loop") {
        (Some(l.to_value()), LoopKind::Loop)
    } else if let Some(l) = n.get("with_items") {
        (Some(l.to_value()), LoopKind::WithItems)
    } else if let Some(l) = n.get("with_list") {
        (Some(l.to_value()), LoopKind::WithList)
    } else if let Some(l) = n.get("with_dict") {
        (Some(l.to_value()), LoopKind::WithDict)
    } else if let Some((k, l)) = entries.iter().find(|(k, _)| k.name.starts_with("with_")) {
        let name = &k.name["with_".len()..];
        if !crate::template::LOOKUPS.contains(&name) {
            cx.err(
                k.pos,
                format!(
                    "with_{name}: no lookup named {name} (tprov has {})",
                    crate::template::LOOKUPS.join(", ")
                ),
            );
        }
        loop_lookup = Some(name.to_string());
        (Some(l.to_value()), LoopKind::WithLookup)
    } else {
        (None, LoopKind::Loop)
    };
    let lc = n.get("loop_control");
    let lc_str =
        |cx: &mut Ctx, key: &str| lc.and_then(|c| c.get(key)).and_then(|v| string(cx, v, key));
    let loop_var = lc_str(cx, "loop_var").unwrap_or_else(|| "item".into());
    let index_var = lc_str(cx, "index_var");
    let loop_label = lc_str(cx, "label");
    if let Some(r) = n.get("register") {
        let name = r.to_value().py_str();
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid {
            cx.err(
                r.pos,
                format!("Invalid variable name in 'register' specified: '{name}'"),
            );
        }
    }
    let lc_bool = |cx: &mut Ctx, key: &str| {
        lc.and_then(|c| c.get(key))
            .and_then(|v| boolean(cx, v, key))
    };
    let loop_extended = lc_bool(cx, "extended").unwrap_or(false);
    let loop_allitems = lc_bool(cx, "extended_allitems").unwrap_or(true);
    let loop_pause = lc.and_then(|c| c.get("pause")).map(Node::to_value);
    let task = Task {
        common: common(cx, n),
        module,
        args,
        args_origin: cx.origin(&raw_args),
        module_origin: cx.l.origin(module_pos),
        loop_origin: ["loop", "with_items", "with_list", "with_dict"]
            .iter()
            .find_map(|k| n.get(k))
            .or_else(|| {
                entries
                    .iter()
                    .find(|(k, _)| k.name.starts_with("with_"))
                    .map(|(_, v)| v)
            })
            .map(|v| cx.origin(v)),
        arg_origins: raw_args
            .as_map()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.name.clone(), cx.origin(v)))
                    .collect()
            })
            .unwrap_or_default(),
        arg_errors,
        loop_,
        loop_kind,
        loop_lookup,
        loop_var,
        index_var,
        loop_label,
        loop_extended,
        loop_allitems,
        loop_pause,
        register: n.get("register").and_then(|v| string(cx, v, "register")),
        changed_when: n
            .get("changed_when")
            .map(|v| conditions(cx, v))
            .unwrap_or_default(),
        failed_when: n
            .get("failed_when")
            .map(|v| conditions(cx, v))
            .unwrap_or_default(),
        notify: n
            .get("notify")
            .map(|v| strings(cx, v, "notify", false))
            .unwrap_or_default(),
        listen: n
            .get("listen")
            .map(|v| strings(cx, v, "listen", false))
            .unwrap_or_default(),
        run_once: n
            .get("run_once")
            .and_then(|v| boolean(cx, v, "run_once"))
            .unwrap_or(false),
        until: n
            .get("until")
            .map(|v| conditions(cx, v))
            .unwrap_or_default(),
        retries: n.get("retries").map(Node::to_value),
        delay: n.get("delay").map(Node::to_value),
        timeout: n.get("timeout").map(Node::to_value),
        async_: n.get("async").map(Node::to_value),
        poll: n.get("poll").map(Node::to_value),
        ignore_unreachable: n.get("ignore_unreachable").map(Node::to_value),
        role: None,
        parent_roles: cx.parent_roles.clone(),
        origin: cx.origin(n),
    };
    for k in ["delegate_facts", "module_defaults"] {
        if let Some(v) = n.get(k) {
            cx.err(v.pos, format!("`{k}` is not supported yet"));
        }
    }
    let _ = IGNORED_KEYS;
    if let Some(items) = role {
        return vec![Item::Block(Box::new(Block {
            common: Common::default(),
            block: items,
            rescue: Vec::new(),
            always: Vec::new(),
            include: Some(Box::new(task)),
        }))];
    }
    vec![Item::Task(Box::new(task))]
}

/// The argument key of a task whose arguments are one template to render into a mapping.
pub(crate) const VARIABLE_PARAMS: &str = "_variable_params";

/// Adds handler names to every task under `items`.
fn add_notify(items: &mut [Item], names: &[String]) {
    for item in items {
        match item {
            Item::Task(t) => {
                for name in names {
                    if !t.notify.contains(name) {
                        t.notify.push(name.clone());
                    }
                }
            }
            Item::Block(b) => {
                add_notify(&mut b.block, names);
                add_notify(&mut b.rescue, names);
                add_notify(&mut b.always, names);
            }
        }
    }
}

/// Module arguments: a mapping, or Ansible's free-form `k=v` text (for command and
/// shell, the non-`k=v` part is the command).
fn module_args(cx: &mut Ctx, module: &str, n: &Node) -> Map {
    match &n.kind {
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| (k.name.clone(), v.to_value()))
            .collect(),
        NodeKind::Scalar(Value::Null) => Map::default(),
        NodeKind::Scalar(v) => parse_free_form(module, &v.py_str()),
        NodeKind::Seq(_) => {
            cx.err(
                n.pos,
                format!("arguments of `{module}` must be a mapping or a string"),
            );
            Map::default()
        }
    }
}

/// Parsed `k=v` pairs as mapping entries, all at the position of the string they came from.
fn scalar_entries(
    pairs: impl IntoIterator<Item = (String, Value)>,
    pos: crate::source::Pos,
) -> Vec<(crate::yaml::Key, Node)> {
    pairs
        .into_iter()
        .map(|(name, v)| {
            (
                crate::yaml::Key { name, pos },
                Node {
                    pos,
                    kind: NodeKind::Scalar(v),
                },
            )
        })
        .collect()
}

/// Ansible's `parse_kv` with `check_raw` for command-like modules.
pub(super) fn parse_free_form(module: &str, text: &str) -> Map {
    let mut out = Map::default();
    let words = split_args(text);
    let mut raw: Vec<String> = Vec::new();
    // Ansible's parse_kv: a word with an unescaped `=` (after its first character) is
    // `key=value`, whatever the key looks like (set_fact's may be templated); for the
    // free-form commands (check_raw) only their own options are.
    let check_raw = matches!(module, "command" | "shell" | "raw" | "script");
    let command_args = [
        "creates",
        "removes",
        "chdir",
        "executable",
        "warn",
        "expand_argument_vars",
        "stdin",
        "stdin_add_newline",
        "strip_empty_ends",
    ];
    for w in &words {
        let x = decode_escapes(w);
        let pos = x
            .char_indices()
            .skip(1)
            .find(|&(i, c)| c == '=' && !x[..i].ends_with('\\'))
            .map(|(i, _)| i);
        match pos {
            Some(pos) if !check_raw || command_args.contains(&&x[..pos]) => {
                // Split out of the playbook's text, the value is the playbook's too.
                let value = unquote(x[pos + 1..].trim());
                crate::trust::trust(&value);
                out.insert(x[..pos].trim().to_string(), Value::str(value));
            }
            // Only escaped `=`: the decoded word, `\=` made `=`, as Ansible does.
            None if x.contains('=') => raw.push(x.replace("\\=", "=")),
            _ => raw.push(w.clone()),
        }
    }
    if !raw.is_empty() {
        out.insert("_raw_params".into(), Value::str(join_args(&raw)));
    }
    out
}

/// Ansible's `parse_kv` without raw params (`-e k=v ...`): each word's escapes decoded,
/// split at its first unescaped `=`, the value unquoted as a whole.
pub(crate) fn parse_kv(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for w in split_args(text) {
        let x = decode_escapes(&w);
        let pos = x
            .char_indices()
            .skip(1)
            .find(|&(i, c)| c == '=' && !x[..i].ends_with('\\'))
            .map(|(i, _)| i);
        if let Some(pos) = pos {
            out.push((x[..pos].trim().to_string(), unquote(x[pos + 1..].trim())));
        }
    }
    out
}

/// Ansible's `split_args`, step for step: split on newlines, then on single spaces,
/// putting back together what was split inside quotes or a `{{ }}`/`{% %}`/`{# #}`
/// block; a lone `\\` outside quotes continues the line; a newline stays at the end of
/// the word before it, so `join_args` gives the original text back.
fn split_args(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    fn quote_state(token: &str, mut quote: Option<char>) -> Option<char> {
        let mut prev = None;
        for c in token.chars() {
            if (c == '"' || c == '\'') && prev != Some('\\') {
                match quote {
                    Some(q) if q == c => quote = None,
                    Some(_) => {}
                    None => quote = Some(c),
                }
            }
            prev = Some(c);
        }
        quote
    }
    fn blocks(token: &str, depth: i64, open: &str, close: &str) -> i64 {
        let (o, c) = (
            token.matches(open).count() as i64,
            token.matches(close).count() as i64,
        );
        if o == c {
            depth
        } else {
            (depth + o - c).max(0)
        }
    }
    let mut params: Vec<String> = Vec::new();
    let items: Vec<&str> = text.split('\n').collect();
    let mut quote: Option<char> = None;
    let (mut print, mut block, mut comment) = (0i64, 0i64, 0i64);
    for (item_idx, item) in items.iter().enumerate() {
        let mut continued = false;
        for (idx, token) in item.split(' ').enumerate() {
            if token.is_empty() && idx != 0 {
                match params.last_mut() {
                    Some(last) => last.push(' '),
                    None => params.push(" ".into()),
                }
                continue;
            }
            if token == "\\" && quote.is_none() {
                continued = true;
                continue;
            }
            let was_inside = quote.is_some();
            quote = quote_state(token, quote);
            let inside = quote.is_some();
            let in_block = print > 0 || block > 0 || comment > 0;
            let mut appended = false;
            if inside && !was_inside && !in_block {
                params.push(token.to_string());
                appended = true;
            } else if in_block || inside || was_inside {
                let spacer = if idx == 0 { "" } else { " " };
                match params.last_mut() {
                    Some(last) => {
                        last.push_str(spacer);
                        last.push_str(token);
                    }
                    None => params.push(token.to_string()),
                }
                appended = true;
            }
            for (depth, open, close) in [
                (&mut print, "{{", "}}"),
                (&mut block, "{%", "%}"),
                (&mut comment, "{#", "#}"),
            ] {
                let before = *depth;
                *depth = blocks(token, *depth, open, close);
                if *depth != before && !appended {
                    params.push(token.to_string());
                    appended = true;
                }
            }
            if print == 0
                && block == 0
                && comment == 0
                && quote.is_none()
                && !appended
                && !token.is_empty()
            {
                params.push(token.to_string());
            }
        }
        if items.len() > 1 && item_idx != items.len() - 1 && !continued {
            match params.last_mut() {
                Some(last) => last.push('\n'),
                None => params.push("\n".into()),
            }
        }
    }
    params
}

/// Ansible's `join_args`: the words back together, a space between them except after a
/// newline.
fn join_args(words: &[String]) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Ansible's `_decode_escapes` on `k=v` words: `\n`, `\t`, `\\`, `\xHH`, `\uHHHH`...
fn decode_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars>, n: usize| -> Option<char> {
            let h: String = (0..n).filter_map(|_| chars.next()).collect();
            u32::from_str_radix(&h, 16).ok().and_then(char::from_u32)
        };
        match chars.peek().copied() {
            Some('n') => {
                chars.next();
                out.push('\n');
            }
            Some('t') => {
                chars.next();
                out.push('\t');
            }
            Some('r') => {
                chars.next();
                out.push('\r');
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            Some('\'') => {
                chars.next();
                out.push('\'');
            }
            Some('"') => {
                chars.next();
                out.push('"');
            }
            Some('a') => {
                chars.next();
                out.push('\u{7}');
            }
            Some('b') => {
                chars.next();
                out.push('\u{8}');
            }
            Some('f') => {
                chars.next();
                out.push('\u{c}');
            }
            Some('v') => {
                chars.next();
                out.push('\u{b}');
            }
            Some('x') => {
                chars.next();
                out.push(hex(&mut chars, 2).unwrap_or('?'));
            }
            Some('u') => {
                chars.next();
                out.push(hex(&mut chars, 4).unwrap_or('?'));
            }
            Some('U') => {
                chars.next();
                out.push(hex(&mut chars, 8).unwrap_or('?'));
            }
            _ => out.push('\\'),
        }
    }
    out
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_form() {
        let m = parse_free_form("command", "echo hi creates=/tmp/x chdir=/srv");
        assert_eq!(m["_raw_params"], Value::str("echo hi"));
        assert_eq!(m["creates"], Value::str("/tmp/x"));
        let m = parse_free_form("file", "path=/a state=directory mode='0755'");
        assert_eq!(m["mode"], Value::str("0755"));
        let m = parse_free_form("debug", "msg=\"{{ a }} b\"");
        assert_eq!(m["msg"], Value::str("{{ a }} b"));
    }
}
