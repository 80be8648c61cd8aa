//! A task's keywords and arguments templated for one host: the flags (`no_log`,
//! `check_mode`...), `delegate_to`, `become`, and the module's arguments.

use super::{Cause, TaskRun};
use crate::connect::become_for;
use crate::context::OMIT;
use crate::inventory::HostId;
use crate::tasks::{self, TaskError};
use crate::template::{Scope, engine, from_mj};
use crate::transport::Become;
use crate::value::{Map, Value};
use std::sync::Arc;

/// Where a delegated task runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Delegate {
    /// The controller itself (`localhost`, `127.0.0.1`).
    Controller,
    Host(HostId),
}

impl TaskRun<'_> {
    /// The host a `delegate_to` name means: the controller for localhost (unless the
    /// inventory names it), else an inventory host, by name or short alias.
    pub(super) fn delegate_target(&self, name: &str) -> Result<Delegate, TaskError> {
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

    /// The become for this task on this host (variables win over keywords, as in Ansible).
    pub(super) fn escalation(&self, scope: &Arc<Scope>) -> Result<Option<Become>, String> {
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

    /// Which argument failed to render, in Ansible's words ("Finalization of task args
    /// for 'ansible.builtin.debug' failed: Error while resolving value for 'msg': ..."):
    /// each argument rendered alone, on the error path only.
    pub(super) fn args_cause(&self, scope: &Arc<Scope>) -> Option<Cause> {
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
    pub(super) fn template_args(&self, scope: &Arc<Scope>) -> Result<Map, String> {
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

pub(super) fn flag(v: Option<&Value>, scope: &Arc<Scope>) -> Result<Option<bool>, String> {
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
