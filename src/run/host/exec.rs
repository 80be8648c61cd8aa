//! A task on one host from start to end: `when`, the loop's items each run and shown,
//! the registered result, the facts, and the counts.

use super::keywords::flag;
use super::results::{fail_map, skip_result};
use super::{
    Cause, ERROR_KEY, FAILED_BY_EXECUTOR, FAILED_BY_TASK, HostResult, HostState, NO_TRACEBACK,
    TaskRun, controller_action, result_event, runs_on_host,
};
use crate::run::event::{Event, Status};
use crate::tasks::{self, TaskError};
use crate::template::{engine, native_frame, to_mj};
use crate::value::{Map, Value};
use std::sync::Arc;

impl TaskRun<'_> {
    pub(crate) async fn run(&self, st: &mut HostState) -> HostResult {
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
        let mut cacheable = false;
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
            let mut module_failed = true;
            let attempted = self.attempt(st, &scope, &mut events).await;
            events.extend(st.notes.drain(..).map(Event::Warning));
            let (status, mut result, diffs) = match attempted {
                Ok((outcome, result)) => {
                    for (k, v) in &outcome.facts {
                        facts.insert(k.clone(), v.clone());
                    }
                    cacheable |= outcome.facts_cacheable;
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
                    // Argument validation is the module's own in Ansible, and so is
                    // every failure of a module that runs on the host (fail_json).
                    module_failed = msg.starts_with("Unsupported parameters")
                        || msg.starts_with("missing required arguments")
                        || (runs_on_host(&self.task.module)
                            && !msg.starts_with("become failed:")
                            && !msg.starts_with("tprov cannot run"));
                    let mut m = fail_map(&msg);
                    if st.cause.is_some() && controller_action(&self.task.module) {
                        m.shift_remove("changed");
                    }
                    (Status::Failed, m, Vec::new())
                }
            };
            // A module that skipped itself (check mode unsupported, creates= met) leaves
            // the task skipped, as a skipped `when` does.
            if status != Status::Skipped {
                all_skipped = false;
            }
            let detail = result.shift_remove(tasks::ERROR_DETAIL);
            let action_cause = result.shift_remove(tasks::ACTION_CAUSE);
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
                let block = if let Some(c) = &action_cause {
                    format!(
                        "Task failed: Action failed: {msg}\n\nTask failed: Action failed.\n{}\n\n<<< caused by >>>\n\n{}",
                        self.task.origin.ansible_context(),
                        c.py_str()
                    )
                } else if by_executor {
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
            // `break_when` sees the item and its result (under the register's name).
            let stop = item.is_some()
                && !self.task.loop_break_when.is_empty()
                && self
                    .conditions_true(
                        &self.task.loop_break_when,
                        &self.result_scope(&scope, &result),
                    )
                    .unwrap_or(false);
            results.push(result);
            if unreachable.is_some() || stop {
                break;
            }
        }
        // The registered value: one result, or Ansible's loop shape.
        let registered = if let [None] = items.as_slice() {
            results.pop().unwrap_or_default()
        } else {
            // Keys in the order Ansible's task executor adds them (a registered
            // result's `dict2items` shows it): results, skipped, then changed and
            // failed as the first item that is so is met, msg, changed.
            let mut m = Map::default();
            m.insert("results".into(), Value::Null);
            m.insert("skipped".into(), Value::Bool(all_skipped));
            for r in &results {
                if r.get("changed").is_some_and(Value::is_truthy) {
                    m.entry("changed".to_string()).or_insert(Value::Bool(true));
                }
                if r.get("failed").is_some_and(Value::is_truthy) && !m.contains_key("failed") {
                    m.insert("failed".into(), Value::Bool(true));
                    m.insert("msg".into(), Value::str("One or more items failed"));
                }
            }
            if any_failed && !m.contains_key("failed") {
                m.insert("failed".into(), Value::Bool(true));
                m.insert("msg".into(), Value::str("One or more items failed"));
            }
            if !any_failed {
                m.insert("msg".into(), Value::str("All items completed"));
            }
            if all_skipped {
                m.insert("msg".into(), Value::str("All items skipped"));
            }
            m.entry("changed".to_string())
                .or_insert(Value::Bool(any_changed));
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
            // A module's `invocation` is for the callback, never registered (Ansible's
            // strategy drops it).
            let mut registered = registered;
            registered.shift_remove("invocation");
            st.facts.insert(r.clone(), to_mj(&Value::Map(registered)));
        }
        // A module's facts (not set_fact's or include_vars') are host facts
        // (`HostState::add_facts`); set_fact's with `cacheable` are both, as in Ansible:
        // the set_fact rank for this run, host facts for the cache and later runs.
        let set_fact = tasks::has_trait(&self.task.module, tasks::Trait::SetsFacts);
        let host_facts = !facts.is_empty() && (cacheable || !set_fact);
        if host_facts {
            st.add_facts(facts.clone());
        }
        if set_fact {
            for (k, v) in facts {
                st.facts.insert(k, to_mj(&v));
            }
        }
        if host_facts && let Some(w) = st.cache_facts(self.opts) {
            events.push(Event::Warning(w));
        }
        if let Some(msg) = unreachable {
            let _ = msg;
            if let Some(c) = st.conn.take() {
                c.close().await;
            }
            // `ignore_unreachable`: counted ok and ignored, the host carries on (its next
            // task connects afresh), as in Ansible.
            let ignore_unreachable = self
                .task
                .ignore_unreachable
                .as_ref()
                .or(self.inh.ignore_unreachable.as_ref());
            if flag(ignore_unreachable, &scope).ok().flatten() == Some(true) {
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
                let names = self.notify_names(&scope);
                st.notified.extend(names);
            }
        }
        HostResult { events, ok: true }
    }
}

impl TaskRun<'_> {
    /// The handler names the task notifies, templated with its vars as Ansible's
    /// post-validation templates `notify:` (an entry rendering to a list names each).
    pub(super) fn notify_names(&self, scope: &Arc<crate::template::Scope>) -> Vec<String> {
        let mut out = Vec::new();
        for n in &self.task.notify {
            if !crate::template::is_possibly_template(n) {
                out.push(n.clone());
                continue;
            }
            match engine().template_to_value(&Value::str(n), scope, Some(&self.task.origin)) {
                Ok(Value::List(items)) => out.extend(items.iter().map(Value::py_str)),
                Ok(v) => out.push(v.py_str()),
                Err(_) => out.push(n.clone()),
            }
        }
        out
    }
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
