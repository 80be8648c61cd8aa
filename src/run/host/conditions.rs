//! A task's conditions: `when`, and the lists `until`, `changed_when` and `failed_when`
//! judge against the result.

use super::{Cause, TaskRun};
use crate::template::{Scope, engine, native_frame};
use crate::value::{Map, Value};
use std::sync::Arc;

impl TaskRun<'_> {
    pub(super) fn when(&self, scope: &Arc<Scope>) -> Result<Option<String>, Cause> {
        for (cond, origin) in self.inh.when.iter().chain(self.task.common.when.iter()) {
            if !engine()
                .eval_condition(cond, scope, Some(origin.clone()))
                .map_err(|e| Cause {
                    summary: None,
                    message: format!("Error while evaluating conditional: {}", e.message),
                    origin: origin.clone(),
                })?
            {
                return Ok(Some(cond.clone()));
            }
        }
        Ok(None)
    }

    /// Whether this task's `when` (with its blocks') holds on this host: a meta task's
    /// question, asked without running anything. A condition that cannot be evaluated
    /// is the error's text.
    pub(crate) fn condition_holds(&self, st: &super::HostState) -> Result<bool, String> {
        let scope = self.scope(st)?;
        self.when(&scope).map(|c| c.is_none()).map_err(|c| c.msg())
    }

    pub(super) fn result_scope(&self, scope: &Arc<Scope>, result: &Map) -> Arc<Scope> {
        match &self.task.register {
            Some(r) => scope.with_frame(native_frame([(r.clone(), Value::Map(result.clone()))])),
            None => scope.clone(),
        }
    }

    pub(super) fn conditions_true(
        &self,
        conds: &[(String, crate::source::Origin)],
        scope: &Arc<Scope>,
    ) -> Result<bool, String> {
        for (c, o) in conds {
            if !engine()
                .eval_condition(c, scope, Some(o.clone()))
                .map_err(|e| e.to_string())?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
