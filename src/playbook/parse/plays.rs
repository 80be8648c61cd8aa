//! Plays: a playbook's list (following `import_playbook`), each play's keywords,
//! sections and handlers, and the check that every `notify` names a handler.

use super::roles;
use super::tasks::tasks;
use super::{Ctx, PLAY_KEYS, boolean, check_keys, common, string, strings, vars};
use crate::playbook::{Block, Common, Item, Play};
use crate::source::{Diagnostic, Origin};
use crate::value::Value;
use crate::vars::Var;
use crate::yaml::{Node, NodeKind};
use std::path::{Path, PathBuf};

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
                dedup: None,
            })));
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
    // `collections:` is where the play's short module names are looked for first.
    cx.collections = std::rc::Rc::new(match n.get("collections").map(Node::to_value) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect(),
        Some(Value::Str(c)) => vec![c],
        _ => Vec::new(),
    });
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
    // As Ansible lists them: the handlers of the roles the playbook loads (`roles:`,
    // `import_role`) before the play's own, those of an `include_role` after (they join
    // when it runs). A notification calls the last loaded of a name.
    let play_handlers = if n
        .get("handlers")
        .is_some_and(|h| super::tasks::refused_as_handlers(cx, h))
    {
        Vec::new()
    } else {
        cx.handlers = true;
        let h = section(cx, "handlers");
        cx.handlers = false;
        h
    };
    let (dynamic, mut handlers): (Vec<Item>, Vec<Item>) = std::mem::take(&mut cx.role_handlers)
        .into_iter()
        .partition(|h| {
            crate::playbook::handler_tasks(std::slice::from_ref(h))
                .first()
                .and_then(|(t, _)| t.role.as_ref())
                .is_some_and(|r| r.dynamic)
        });
    handlers.extend(play_handlers);
    handlers.extend(dynamic);
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
    let (exported_vars, exported_defaults) = {
        let seen = cx.roles_seen.borrow();
        (
            std::sync::Arc::new(seen.exported_vars.clone()),
            std::sync::Arc::new(seen.exported_defaults.clone()),
        )
    };
    Some(Play {
        role_names,
        dependent_role_names,
        exported_vars,
        exported_defaults,
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
        ignore_unreachable: n.get("ignore_unreachable").map(Node::to_value),
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
