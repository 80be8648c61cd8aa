//! Roles: `roles:` in a play, `import_role` and `include_role` in tasks. A role is a
//! directory (`tasks/`, `handlers/`, `defaults/`, `vars/`, `meta/`, `templates/`,
//! `files/`) found beside the playbook (`roles/NAME`), in the roles path, or by path.
//! It is read when the playbook is, so its mistakes are reported before any host is
//! contacted; its tasks run as a block carrying the role's keywords, and each task knows
//! its role (defaults at the lowest rank, vars above the play's, its directory first when
//! files and templates are looked up).

use super::{Ctx, common, vars};
use crate::playbook::{Block, Item, Role};
use crate::source::Diagnostic;
use crate::value::Value;
use crate::vars::{Var, Vars};
use crate::yaml::{Node, NodeKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Keys of a `roles:` entry that are keywords; any other key is a role parameter.
const ENTRY_KEYWORDS: &[&str] = &[
    "role",
    "name",
    "when",
    "tags",
    "become",
    "become_user",
    "vars",
    "ignore_errors",
    "environment",
    "no_log",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "delegate_to",
];

/// Arguments of `import_role` / `include_role`.
const ROLE_ARGS: &[&str] = &[
    "name",
    "role",
    "tasks_from",
    "vars_from",
    "defaults_from",
    "handlers_from",
    "public",
    "apply",
    "allow_duplicates",
    "rolespec_validate",
];

/// Where a role named `name` is: beside the file that names it and the playbook
/// (`roles/NAME`, then `NAME` as a path), beside the role that depends on it, then the
/// roles path (`ANSIBLE_ROLES_PATH`, Ansible's defaults).
fn find_role(cx: &Ctx, name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    // A collection's role, `namespace.collection.role`: under the playbook's
    // collections/ and the collections path, as Ansible's collection loader finds it.
    let parts: Vec<&str> = name.split('.').collect();
    if let [ns, col, role] = parts.as_slice()
        && [ns, col, role]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        let roots = crate::tasks::collection::roots(&cx.play_dir, &cx.dir);
        for root in roots {
            dirs.push(
                root.join("ansible_collections")
                    .join(ns)
                    .join(col)
                    .join("roles")
                    .join(role),
            );
        }
    }
    if !name.contains('/') {
        dirs.push(cx.dir.join("roles").join(name));
        dirs.push(cx.play_dir.join("roles").join(name));
        if let Some(r) = &cx.role_dir
            && let Some(parent) = r.parent()
        {
            dirs.push(parent.join(name));
        }
        let path = std::env::var("ANSIBLE_ROLES_PATH").unwrap_or_default();
        let home = std::env::var("HOME").unwrap_or_default();
        for p in path
            .split(':')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .chain([
                format!("{home}/.ansible/roles"),
                "/usr/share/ansible/roles".into(),
                "/etc/ansible/roles".into(),
            ])
        {
            dirs.push(Path::new(&p).join(name));
        }
    }
    dirs.push(cx.dir.join(name));
    dirs.push(cx.play_dir.join(name));
    dirs.into_iter().find(|d| d.is_dir())
}

/// `DIR/SUB/BASE` with `.yml`, `.yaml`, `.json` or no extension, the first that exists.
fn role_file(dir: &Path, sub: &str, base: &str) -> Option<PathBuf> {
    ["", ".yml", ".yaml", ".json"]
        .iter()
        .map(|ext| dir.join(sub).join(format!("{base}{ext}")))
        .find(|p| p.is_file())
}

fn load_vars(cx: &mut Ctx, path: Option<PathBuf>) -> Vars {
    let Some(path) = path else {
        return Vars::default();
    };
    match crate::vars::load_vars_file(&path) {
        Ok((v, _)) => v,
        Err(d) => {
            cx.errors.push(d);
            Vars::default()
        }
    }
}

/// Parses a role file's tasks (or handlers) with the role as the current one.
fn load_items(
    cx: &mut Ctx,
    path: &Path,
    role: &Role,
    parent_roles: Vec<(String, String)>,
) -> Vec<Item> {
    super::tasks::load_task_file(
        cx,
        path,
        Some((role.dir.clone(), role.name.clone())),
        parent_roles,
    )
}

/// Marks every task under `items` that has no role yet as the role's.
pub(crate) fn set_role(items: &mut [Item], role: &Arc<Role>) {
    for item in items {
        match item {
            Item::Task(t) => {
                if t.role.is_none() {
                    t.role = Some(role.clone());
                }
            }
            Item::Block(b) => {
                if let Some(t) = &mut b.include
                    && t.role.is_none()
                {
                    t.role = Some(role.clone());
                }
                set_role(&mut b.block, role);
                set_role(&mut b.rescue, role);
                set_role(&mut b.always, role);
            }
        }
    }
}

/// A role as items to run: its dependencies' blocks, then its own. `entry` is a
/// `roles:` entry (a name, or a mapping with `role:`), or, for `import_role` and
/// `include_role`, the task node with its `args` given separately.
pub(super) fn role_items(cx: &mut Ctx, entry: &Node, task_args: Option<&Node>) -> Vec<Item> {
    if cx.depth > 20 {
        cx.err(
            entry.pos,
            "roles nested more than 20 deep (a dependency cycle?)",
        );
        return Vec::new();
    }
    let (name, spec) = match (task_args, &entry.kind) {
        (Some(args), _) => (
            args.get("name")
                .or_else(|| args.get("role"))
                .and_then(Node::as_str)
                .map(str::to_string),
            args,
        ),
        (None, NodeKind::Scalar(v)) => (Some(v.py_str()), entry),
        (None, NodeKind::Map(_)) => (
            entry
                .get("role")
                .or_else(|| entry.get("name"))
                .and_then(Node::as_str)
                .map(str::to_string),
            entry,
        ),
        (None, _) => (None, entry),
    };
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        cx.err(entry.pos, "a role needs a name (`role:` or `name:`)");
        return Vec::new();
    };
    let Some(name) = static_name(cx, &name) else {
        cx.err(entry.pos, "a role's name cannot be templated here");
        return Vec::new();
    };
    let Some(dir) = find_role(cx, &name) else {
        cx.err(
            entry.pos,
            format!(
                "the role '{name}' was not found in {}/roles, {}/roles or the roles path",
                cx.dir.display(),
                cx.play_dir.display()
            ),
        );
        return Vec::new();
    };
    let from = |key: &str| -> String {
        task_args
            .and_then(|a| a.get(key))
            .and_then(Node::as_str)
            .map_or_else(|| "main".to_string(), str::to_string)
    };
    if let Some(args) = task_args
        && let Some(map) = args.as_map()
    {
        for (k, _) in map {
            if !ROLE_ARGS.contains(&k.name.as_str()) {
                cx.err(
                    k.pos,
                    format!("`{}` is not an argument of import_role", k.name),
                );
            }
        }
    }
    // Role parameters: a `roles:` entry's keys that are not keywords.
    let mut params = Vars::default();
    if task_args.is_none()
        && let Some(map) = spec.as_map()
    {
        for (k, v) in map {
            if !ENTRY_KEYWORDS.contains(&k.name.as_str()) {
                params.insert(
                    k.name.clone(),
                    Var {
                        value: v.to_value(),
                        origin: Some(cx.l.origin(k.pos)),
                    },
                );
            }
        }
    }
    // `roles:` and `import_role` are public (their vars and defaults are the whole
    // play's), `include_role` is private unless `public: true`; dependencies follow.
    let include_entry = task_args.is_some()
        && entry.as_map().is_some_and(|m| {
            m.iter()
                .any(|(k, _)| crate::tasks::canonical(&k.name) == "include_role")
        });
    let private = match task_args {
        None => cx.private_role,
        Some(args) => match args
            .get("public")
            .and_then(|v| super::boolean(cx, v, "public"))
        {
            Some(public) => !public,
            None => include_entry,
        },
    };
    let defaults = load_vars(cx, role_file(&dir, "defaults", &from("defaults_from")));
    let role_vars = load_vars(cx, role_file(&dir, "vars", &from("vars_from")));
    // Ansible's get_role_params(dep_chain): the parents' parameters, then the role's own.
    let mut all_params = cx.role_params.as_ref().clone();
    crate::vars::merge_into(&mut all_params, &params);
    let all_params = std::rc::Rc::new(all_params);
    // Each distinct role (and parameters) runs once per play and host, dependencies
    // included, unless its meta says allow_duplicates (include/import_role always may).
    let key = format!("{}|{params:?}", dir.display());
    let allow_duplicates = task_args.is_some() || meta_allows_duplicates(&dir);
    let role = Arc::new(Role {
        // A role named by its path keeps the path as its name (Ansible finds it in its
        // first search directory, as an absolute path or relative to the playbook).
        name: name.clone(),
        dir: dir.clone(),
        defaults: Arc::new(defaults),
        vars: Arc::new(role_vars),
        params: Arc::new(all_params.as_ref().clone()),
        key: key.clone(),
        dynamic: include_entry || (task_args.is_none() && cx.private_role),
    });
    // Tasks an include_role or import_role brings in see the roles that led there.
    let parents: Vec<(String, String)> = match (task_args, &cx.role_name, &cx.role_dir) {
        (Some(_), Some(n), Some(d)) => std::iter::once((n.clone(), d.display().to_string()))
            .chain(cx.parent_roles.iter().cloned())
            .collect(),
        _ => cx.parent_roles.clone(),
    };
    let mut out = Vec::new();
    // meta/main.yml: dependencies first.
    if let Some(meta) = role_file(&dir, "meta", "main") {
        match crate::yaml::load_file(&meta) {
            Ok(loaded) => {
                if let Ok(Some(root)) = loaded.single()
                    && let Some(deps) = root.get("dependencies")
                    && let NodeKind::Seq(list) = &deps.kind
                {
                    let mut sub = Ctx {
                        l: &loaded,
                        dir: dir.clone(),
                        play_dir: cx.play_dir.clone(),
                        role_dir: Some(dir.clone()),
                        role_name: Some(role.name.clone()),
                        // A dependency runs under its dependent's include.
                        parent_roles: parents.clone(),
                        errors: Vec::new(),
                        role_handlers: Vec::new(),
                        roles_seen: cx.roles_seen.clone(),
                        dependency: true,
                        handlers: false,
                        depth: cx.depth + 1,
                        known: cx.known.clone(),
                        collections: cx.collections.clone(),
                        role_params: all_params.clone(),
                        private_role: private,
                    };
                    for d in list {
                        out.extend(role_items(&mut sub, d, None));
                    }
                    cx.errors.extend(sub.errors);
                    cx.role_handlers.extend(sub.role_handlers);
                }
            }
            Err(d) => cx.errors.push(d),
        }
    }
    cx.name_role(&name);
    if !private {
        let mut seen = cx.roles_seen.borrow_mut();
        crate::vars::merge_into(&mut seen.exported_vars, &role.vars);
        crate::vars::merge_into(&mut seen.exported_defaults, &role.defaults);
    }
    // The role's own files see its parameters as their parents' (an import_role there).
    let outer_params = std::mem::replace(&mut cx.role_params, all_params.clone());
    let mut block = match role_file(&dir, "tasks", &from("tasks_from")) {
        Some(p) => load_items(cx, &p, &role, parents.clone()),
        None if task_args.is_some() && from("tasks_from") != "main" => {
            cx.err(
                entry.pos,
                format!("the role '{name}' has no tasks/{}", from("tasks_from")),
            );
            Vec::new()
        }
        None => Vec::new(),
    };
    set_role(&mut block, &role);
    if let Some(h) = role_file(&dir, "handlers", &from("handlers_from")) {
        let was = std::mem::replace(&mut cx.handlers, true);
        let mut handlers = load_items(cx, &h, &role, parents.clone());
        cx.handlers = was;
        set_role(&mut handlers, &role);
        cx.role_handlers.extend(handlers);
    }
    cx.role_params = outer_params;
    // The entry's (or the task's) keywords apply to every task of the role.
    let mut c = common(cx, entry);
    if task_args.is_none() {
        c.name = None;
        if let Some(v) = entry.get("vars") {
            c.vars = vars(cx, v);
        }
    }
    if !parents.is_empty() {
        for (key, pick) in [
            ("ansible_parent_role_names", 0),
            ("ansible_parent_role_paths", 1),
        ] {
            let list = parents
                .iter()
                .map(|p| Value::str(if pick == 0 { &p.0 } else { &p.1 }))
                .collect();
            c.vars.insert(
                key.into(),
                Var {
                    value: Value::List(list),
                    origin: None,
                },
            );
        }
    }
    out.push(Item::Block(Box::new(Block {
        common: c,
        block,
        rescue: Vec::new(),
        always: Vec::new(),
        include: None,
        dedup: (!allow_duplicates).then_some(key),
    })));
    out
}

/// A role's `meta/main.yml` says `allow_duplicates: true`.
fn meta_allows_duplicates(dir: &Path) -> bool {
    let Some(meta) = role_file(dir, "meta", "main") else {
        return false;
    };
    let Ok(loaded) = crate::yaml::load_file(&meta) else {
        return false;
    };
    matches!(
        loaded
            .single()
            .ok()
            .flatten()
            .and_then(|r| r.get("allow_duplicates"))
            .map(Node::to_value),
        Some(Value::Bool(true))
    )
}

/// Whether an `include_role`'s name needs the host's vars (it is templated with more
/// than what is known while the playbook is read).
pub(super) fn needs_run_time(cx: &Ctx, args: &Node) -> bool {
    args.get("name")
        .or_else(|| args.get("role"))
        .and_then(Node::as_str)
        .is_some_and(|name| static_name(cx, name).is_none())
}

/// Checks for a `roles:` list.
pub(super) fn roles_list(cx: &mut Ctx, n: &Node) -> Vec<Item> {
    match &n.kind {
        NodeKind::Seq(entries) => entries
            .iter()
            .flat_map(|e| role_items(cx, e, None))
            .collect(),
        NodeKind::Scalar(Value::Null) => Vec::new(),
        _ => {
            cx.errors.push(Diagnostic::error(
                cx.origin(n),
                format!("roles is a list, found {}", n.type_name()),
            ));
            Vec::new()
        }
    }
}

/// A role name as written, or with `role_path` and `playbook_dir` (all that is known
/// while the playbook is read) rendered in; `None` when it needs anything else.
fn static_name(cx: &Ctx, name: &str) -> Option<String> {
    if !crate::template::is_possibly_template(name) {
        return Some(name.to_string());
    }
    let mut known = cx.known.as_ref().clone();
    known.push((
        "playbook_dir".to_string(),
        Value::str(cx.play_dir.display().to_string()),
    ));
    if let Some(d) = &cx.role_dir {
        known.push(("role_path".into(), Value::str(d.display().to_string())));
    }
    let engine = crate::template::engine();
    let scope =
        crate::template::Scope::new(engine, vec![crate::template::native_frame(known)], None);
    engine.render_str(name, &scope, None).ok()
}
