//! What an `include_tasks` or `include_role` brings in on one host.

use super::results::skip_result;
use super::{HostState, Includes, TaskRun, result_event};
use crate::run::event::{Event, Status};
use crate::template::{Scope, engine, native_frame};
use crate::value::{Map, Value};
use std::sync::Arc;

impl TaskRun<'_> {
    /// What an `include_tasks` does on this host: the files it brings in, in order (one
    /// per loop item, with the item's variables and label, or one without a loop), and
    /// the skip results to show (items `when` skipped; the whole task when nothing is
    /// included).
    pub(crate) fn include_files(&self, st: &HostState) -> Result<Includes, Box<Event>> {
        let fail = |msg: String| {
            let mut m = Map::default();
            m.insert("failed".into(), Value::Bool(true));
            m.insert("msg".into(), Value::str(msg));
            Box::new(result_event(
                &st.name,
                Status::Failed,
                None,
                m,
                true,
                Vec::new(),
            ))
        };
        let mut out = Includes::default();
        let scope = self.scope(st).map_err(fail)?;
        let skip_all = |out: &mut Includes, cond: &str| {
            out.events.push(result_event(
                &st.name,
                Status::Skipped,
                None,
                skip_result(cond),
                false,
                Vec::new(),
            ));
            out.skipped = true;
        };
        if self.task.loop_.is_none() {
            if let Some(cond) = self.when(&scope).map_err(|c| fail(c.msg()))? {
                skip_all(&mut out, &cond);
            } else {
                let path = self.include_path(&scope).map_err(fail)?;
                out.files.push((path, Map::default(), None));
            }
            return Ok(out);
        }
        // `when: false` on the task skips it before its loop is templated.
        let items = match self.items(&scope) {
            Ok(items) => items,
            Err(e) => match self.when(&scope) {
                Ok(Some(cond)) if e.contains("undefined") => {
                    skip_all(&mut out, &cond);
                    return Ok(out);
                }
                _ => return Err(fail(e)),
            },
        };
        let loop_var = self.loop_var(&scope);
        for (index, item) in items.iter().enumerate() {
            let Some(v) = item else { continue };
            let vars: Map = self
                .item_vars(&items, index, v, &loop_var)
                .into_iter()
                .collect();
            let inner = scope.with_frame(native_frame(
                vars.iter().map(|(k, v)| (k.clone(), v.clone())),
            ));
            let (label, _) = self.label(v, &inner, &mut Map::default());
            if let Some(cond) = self.when(&inner).map_err(|c| fail(c.msg()))? {
                out.events.push(result_event(
                    &st.name,
                    Status::Skipped,
                    Some(label),
                    skip_result(&cond),
                    false,
                    Vec::new(),
                ));
                continue;
            }
            let path = self.include_path(&inner).map_err(fail)?;
            out.files.push((path, vars, Some(label)));
        }
        if out.files.is_empty() {
            let mut m = Map::default();
            m.insert("changed".into(), Value::Bool(false));
            m.insert("skipped".into(), Value::Bool(true));
            m.insert("skipped_reason".into(), Value::str("No items in the list"));
            out.events.push(result_event(
                &st.name,
                Status::Skipped,
                None,
                m,
                false,
                Vec::new(),
            ));
            out.skipped = true;
        }
        Ok(out)
    }

    fn include_path(&self, scope: &Arc<Scope>) -> Result<std::path::PathBuf, String> {
        if self.task.module == "include_role" {
            // The role was read with the playbook; this is the name `included:` shows.
            let role = self
                .task
                .args
                .get("name")
                .or_else(|| self.task.args.get("role"));
            let name = engine()
                .template_to_value(
                    role.unwrap_or(&Value::Null),
                    scope,
                    Some(&self.task.args_origin),
                )
                .map_err(|e| e.to_string())?
                .py_str();
            return Ok(std::path::PathBuf::from(name));
        }
        let raw = self
            .task
            .args
            .get("file")
            .or_else(|| self.task.args.get("_raw_params"))
            .cloned()
            .unwrap_or(Value::Null);
        let name = engine()
            .template_to_value(&raw, scope, Some(&self.task.args_origin))
            .map_err(|e| e.to_string())?
            .py_str();
        let base = self
            .task
            .origin
            .file
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        // Beside the including file, else where Ansible's search path looks next: the
        // role's tasks/ (a handler including a task file) and the role itself.
        let found = std::iter::once(base.clone())
            .chain(
                self.task
                    .role
                    .iter()
                    .flat_map(|r| [r.dir.join("tasks"), r.dir.clone()]),
            )
            .map(|d| d.join(&name))
            .find(|p| p.is_file());
        Ok(found.unwrap_or_else(|| base.join(name)))
    }
}
