//! Tasks and blocks: a task's module and arguments (free-form, `action:`, `args:`),
//! its loop and keywords; `import_tasks` read in place; task files read at run time.

use super::kv::{parse_free_form, parse_kv, scalar_entries};
use super::roles;
use super::{
    BLOCK_KEYS, Ctx, IGNORED_KEYS, TASK_KEYS, boolean, check_keys, common, conditions, string,
    strings,
};
use crate::playbook::{Block, Common, Item, LoopKind, Task};
use crate::schema::did_you_mean;
use crate::source::{Diagnostic, Origin};
use crate::value::{Map, Value};
use crate::yaml::{Node, NodeKind};
use std::path::{Path, PathBuf};

/// Loads a task file (for `include_tasks` at run time). Included from a role's task,
/// its tasks are the role's too (its defaults, vars, templates/ and files/), exactly as
/// with `import_tasks`.
pub(crate) fn load_tasks_file(
    path: &Path,
    role: Option<&std::sync::Arc<crate::playbook::Role>>,
    parent_roles: &[(String, String)],
    handlers: bool,
) -> Result<Vec<Item>, Vec<Diagnostic>> {
    let loaded = crate::yaml::load_file(path).map_err(|d| vec![d])?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut cx = Ctx::top(&loaded, dir);
    cx.role_dir = role.map(|r| r.dir.clone());
    cx.role_name = role.map(|r| r.name.clone());
    cx.parent_roles = parent_roles.to_vec();
    cx.handlers = handlers;
    let mut items = match loaded.single().map_err(|d| vec![d])? {
        Some(root) if handlers && refused_as_handlers(&mut cx, root) => Vec::new(),
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

/// The role an `include_role` with a templated name brings in, read when the task runs:
/// `args` are the include's arguments with the name rendered, `task_file` the file the
/// task is written in, `play_dir` the play's directory.
pub(crate) fn load_dynamic_role(
    task_file: &Path,
    play_dir: &Path,
    args: &crate::value::Map,
    role: Option<&std::sync::Arc<crate::playbook::Role>>,
    parent_roles: &[(String, String)],
) -> Result<Vec<Item>, Vec<Diagnostic>> {
    let mut entry = crate::value::Map::default();
    entry.insert("include_role".into(), Value::Map(args.clone()));
    let text = crate::value::pyjson::dumps(
        &Value::List(vec![Value::Map(entry)]),
        &crate::value::pyjson::JsonStyle::compact(),
    )
    .map_err(|e| {
        vec![Diagnostic::error(
            crate::source::Origin::file(task_file),
            format!("include_role: {e}"),
        )]
    })?;
    let file: std::sync::Arc<Path> = std::sync::Arc::from(task_file);
    let loaded = crate::yaml::parse(&text, &file).map_err(|d| vec![d])?;
    let abs = std::path::absolute(task_file).unwrap_or_else(|_| task_file.to_path_buf());
    let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut cx = Ctx::top(&loaded, dir);
    cx.play_dir = play_dir.to_path_buf();
    cx.role_dir = role.map(|r| r.dir.clone());
    cx.role_name = role.map(|r| r.name.clone());
    cx.parent_roles = parent_roles.to_vec();
    cx.private_role = true;
    let mut items = Vec::new();
    if let Ok(Some(root)) = loaded.single()
        && let NodeKind::Seq(list) = &root.kind
        && let Some(n) = list.first()
        && let Some(a) = n.get("include_role")
    {
        items = roles::role_items(&mut cx, n, Some(a));
    }
    if cx.errors.is_empty() {
        Ok(items)
    } else {
        Err(cx.errors)
    }
}

/// The tasks of a file an import (or a role) brings in, read with `role_dir` as the
/// current role; its problems and role handlers join the importer's.
pub(super) fn load_task_file(
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
        handlers: cx.handlers,
        depth: cx.depth + 1,
        known: cx.known.clone(),
        collections: cx.collections.clone(),
        role_params: cx.role_params.clone(),
        private_role: cx.private_role,
    };
    let items = match loaded.single() {
        Ok(Some(root)) if sub.handlers && refused_as_handlers(&mut sub, root) => Vec::new(),
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

pub(super) fn tasks(cx: &mut Ctx, n: &Node) -> Vec<Item> {
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
        let mut b = Block {
            common: common(cx, n),
            block: n.get("block").map(|v| tasks(cx, v)).unwrap_or_default(),
            rescue: n.get("rescue").map(|v| tasks(cx, v)).unwrap_or_default(),
            always: n.get("always").map(|v| tasks(cx, v)).unwrap_or_default(),
            include: None,
            dedup: None,
        };
        cx.depth -= 1;
        if let Some(v) = n.get("notify") {
            let names = strings(cx, v, "notify", false);
            add_notify(&mut b.block, &names);
            add_notify(&mut b.rescue, &names);
            add_notify(&mut b.always, &names);
        }
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
        // `include_role: name: "{{ item }}"`: the role is found and read when the task
        // runs, once per host and item (load_dynamic_role).
        if module == "include_role" && roles::needs_run_time(cx, &raw_args) {
            role = Some(Vec::new());
        }
        cx.depth += 1;
        let mut items = if role.is_some() {
            Vec::new()
        } else {
            roles::role_items(cx, n, Some(&raw_args))
        };
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
        if role.is_none() {
            role = Some(items);
        }
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
            dedup: None,
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
    let custom_module = (role.is_none() && !crate::tasks::is_module(&module))
        .then(|| {
            crate::tasks::library::find(&module, &library_dirs)
                .or_else(|| crate::tasks::library::ansible_core_module(&module))
                .or_else(|| {
                    let roots = crate::tasks::collection::roots(&cx.play_dir, &cx.dir);
                    crate::tasks::collection::module(&module, &cx.collections, &roots)
                        .map(|found| found.path)
                })
        })
        .flatten();
    let unsupported = role.is_none()
        && !crate::tasks::is_module(&module)
        && (custom_module.is_some() || crate::tasks::is_unsupported_module(&module, &library_dirs));
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
    let loop_break_when = lc
        .and_then(|c| c.get("break_when"))
        .map(|v| conditions(cx, v))
        .unwrap_or_default();
    let task = Task {
        common: common(cx, n),
        module,
        custom_module,
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
        loop_break_when,
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
            .filter(|v| !is_template(v))
            .and_then(|v| boolean(cx, v, "run_once"))
            .unwrap_or(false),
        run_once_expr: n
            .get("run_once")
            .filter(|v| is_template(v))
            .and_then(Node::as_str)
            .map(str::to_string),
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
            dedup: None,
        }))];
    }
    vec![Item::Task(Box::new(task))]
}

/// The argument key of a task whose arguments are one template to render into a mapping.
pub(crate) const VARIABLE_PARAMS: &str = "_variable_params";

/// A block's or an import's `notify:` for every task under `items` that names none of
/// its own (Ansible inherits the keyword; a task's own list wins, it is not merged).
fn add_notify(items: &mut [Item], names: &[String]) {
    for item in items {
        match item {
            Item::Task(t) => {
                if t.notify.is_empty() {
                    t.notify = names.to_vec();
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

/// A keyword value that is a template, decided where the task runs.
fn is_template(n: &Node) -> bool {
    n.as_str()
        .is_some_and(crate::template::is_possibly_template)
}

/// Ansible refuses, at parse time, a handler that is a role (`include_role`,
/// `import_role`: its tasks would be run as handlers) or a block inside a handler block
/// (each entry of `handlers:` is a block, explicit or implicit, of handler tasks). True
/// when one is found (and said).
pub(super) fn refused_as_handlers(cx: &mut Ctx, handlers: &Node) -> bool {
    fn refused(cx: &mut Ctx, h: &Node) -> bool {
        if h.get("block").is_some() {
            cx.err(
                h.pos,
                "Using a block as a handler is not supported.".to_string(),
            );
            return true;
        }
        let action = ["include_role", "import_role"].into_iter().find_map(|a| {
            [
                a.to_string(),
                format!("ansible.builtin.{a}"),
                format!("ansible.legacy.{a}"),
            ]
            .into_iter()
            .find(|k| h.get(k).is_some())
        });
        if let Some(a) = action {
            cx.err(h.pos, format!("Using '{a}' as a handler is not supported."));
            return true;
        }
        false
    }
    let NodeKind::Seq(list) = &handlers.kind else {
        return false;
    };
    let mut found = false;
    for h in list {
        if h.get("block").is_none() {
            found |= refused(cx, h);
            continue;
        }
        for part in ["block", "rescue", "always"] {
            if let Some(NodeKind::Seq(tasks)) = h.get(part).map(|p| &p.kind) {
                for t in tasks {
                    found |= refused(cx, t);
                }
            }
        }
    }
    found
}
