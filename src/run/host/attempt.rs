//! One run of the module with its `until` retries: keywords resolved for the host
//! (check mode, diff, `delegate_to`, become, `environment`, `timeout`), then
//! `changed_when` and `failed_when`.

use super::keywords::{Delegate, flag};
use super::{Cause, FAILED_BY_EXECUTOR, FAILED_BY_TASK, HostState, NO_TRACEBACK, TaskRun};
use crate::connect::target;
use crate::run::event::Event;
use crate::tasks::{self, Cx, Outcome, TaskError};
use crate::template::{Scope, engine};
use crate::transport::Connection;
use crate::value::{Map, Value};
use std::sync::Arc;

impl TaskRun<'_> {
    /// One run of the module (with `until` retries), and its result map.
    pub(super) async fn attempt(
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
        let controller_only = tasks::has_trait(&self.task.module, tasks::Trait::Local);
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
            play_dir: self.play.dir.clone(),
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
        let job = crate::run::job::Job::of(self.task, scope)?;
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
        // An action plugin's skip (script or fetch in check mode) has no `failed`.
        if outcome.skipped && !super::runs_on_host(&self.task.module) {
            result.shift_remove("failed");
        }
        // A custom module's own `diff` is its result's, as it returned it.
        if diff && !outcome.diffs.is_empty() && !outcome.result.contains_key("diff") {
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
            && tasks::has_trait(&self.task.module, tasks::Trait::EditsInventory)
            && !outcome.failed
            && !outcome.skipped
        {
            outcome.changed = crate::run::inventory_changes::would_change(
                &self.fleet.inventory,
                &st.name,
                &result,
            );
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
        [d] if matches!(module, "file" | "cron" | "hostname") => one(d),
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
