//! A task's loop: its items (`loop`, `with_<lookup>`), the variables each item binds
//! (`loop_control`), and its label.

use super::TaskRun;
use crate::playbook::LoopKind;
use crate::template::{Scope, engine, native_frame};
use crate::value::{Map, Value};
use std::sync::Arc;

impl TaskRun<'_> {
    /// `loop_control.loop_var`, rendered when it is a template (`"{{ name }}"`).
    pub(super) fn loop_var(&self, scope: &Arc<Scope>) -> String {
        let raw = &self.task.loop_var;
        if crate::template::is_possibly_template(raw) {
            engine()
                .render_str(raw, scope, Some(self.task.origin.clone()))
                .unwrap_or_else(|_| raw.clone())
        } else {
            raw.clone()
        }
    }

    /// The loop variables one item binds: the item, `index_var`, `ansible_loop` (with
    /// `extended`) and `ansible_loop_var`.
    pub(super) fn item_vars(
        &self,
        items: &[Option<Value>],
        index: usize,
        v: &Value,
        loop_var: &str,
    ) -> Vec<(String, Value)> {
        let mut frame = vec![(loop_var.to_string(), v.clone())];
        if let Some(iv) = &self.task.index_var {
            frame.push((iv.clone(), Value::Int(index as i64)));
            frame.push(("ansible_index_var".into(), Value::str(iv.clone())));
        }
        if self.task.loop_extended {
            frame.push((
                "ansible_loop".into(),
                loop_info(items, index, self.task.loop_allitems),
            ));
        }
        frame.push(("ansible_loop_var".into(), Value::str(loop_var)));
        frame
    }

    /// The loop's items, or one `None` when there is no loop.
    pub(super) fn items(&self, scope: &Arc<Scope>) -> Result<Vec<Option<Value>>, String> {
        let Some(raw) = &self.task.loop_ else {
            return Ok(vec![None]);
        };
        let first_found = self.task.loop_kind == LoopKind::WithLookup
            && self.task.loop_lookup.as_deref() == Some("first_found");
        let v = match raw {
            // first_found under `with_` leaves out the terms, and the elements of
            // terms, that are undefined (2.19's lazy markers).
            _ if first_found => {
                let lazy = scope.with_markers();
                match engine().template_value(raw, &lazy) {
                    Ok(v) => crate::template::from_mj_omitting_undefined(&v)
                        .map_err(|e| e.to_string())?,
                    Err(e) if e.is_undefined() => Value::List(Vec::new()),
                    Err(mut e) => {
                        if e.origin.is_none() {
                            e.origin = Some(self.task.origin.clone());
                        }
                        return Err(e.to_string());
                    }
                }
            }
            _ => engine()
                .template_to_value(raw, scope, Some(&self.task.origin))
                .map_err(|e| e.to_string())?,
        };
        if let (LoopKind::WithLookup, Some(name)) = (self.task.loop_kind, &self.task.loop_lookup) {
            let frame = crate::template::native_frame([("__tprov_terms".to_string(), v)]);
            let inner = scope.with_frame(frame);
            let out = engine()
                .eval(
                    &format!("__tprov_with({name:?}, __tprov_terms)"),
                    &inner,
                    Some(self.task.origin.clone()),
                )
                .map_err(|e| e.message)?;
            let list = crate::template::from_mj(&out).map_err(|e| e.to_string())?;
            return Ok(match list {
                Value::List(l) => l.into_iter().map(Some).collect(),
                other => vec![Some(other)],
            });
        }
        let list = match (v, self.task.loop_kind) {
            (Value::List(l), LoopKind::WithItems) => l
                .into_iter()
                .flat_map(|x| match x {
                    Value::List(inner) => inner,
                    other => vec![other],
                })
                .collect(),
            // The dict lookup takes each term as a mapping.
            (Value::List(l), LoopKind::WithDict) => {
                let mut out = Vec::new();
                for term in l {
                    let Value::Map(m) = term else {
                        return Err(format!(
                            "the 'dict' lookup plugin expects a dictionary, got '{}' of type <class '{}'>)",
                            term.py_str(),
                            term.type_name()
                        ));
                    };
                    out.extend(m.into_iter().map(|(k, v)| {
                        let mut e = Map::default();
                        e.insert("key".into(), Value::Str(k));
                        e.insert("value".into(), v);
                        Value::Map(e)
                    }));
                }
                out
            }
            (Value::List(l), _) => l,
            (Value::Map(m), LoopKind::WithDict) => m
                .into_iter()
                .map(|(k, v)| {
                    let mut e = Map::default();
                    e.insert("key".into(), Value::Str(k));
                    e.insert("value".into(), v);
                    Value::Map(e)
                })
                .collect(),
            (Value::Null, _) => Vec::new(),
            // A lookup's terms that are not a list are one term.
            (other, LoopKind::WithItems | LoopKind::WithList) => vec![other],
            (other, _) => {
                return Err(format!(
                    "Invalid data passed to 'loop', it requires a list, got this instead: {}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.",
                    other.py_str()
                ));
            }
        };
        Ok(list.into_iter().map(Some).collect())
    }

    /// An item's label, rendered once its result is known (the register names it, as
    /// in Ansible). A label that names something undefined fails the item: the second
    /// value says so.
    pub(super) fn label(
        &self,
        item: &Value,
        scope: &Arc<Scope>,
        result: &mut Map,
    ) -> (String, bool) {
        let Some(l) = &self.task.loop_label else {
            return (item.py_str(), false);
        };
        let scope = match &self.task.register {
            Some(r) => scope.with_frame(native_frame([(r.clone(), Value::Map(result.clone()))])),
            None => scope.clone(),
        };
        match engine().render_str(l, &scope, None) {
            Ok(text) => (text, false),
            Err(e) if e.is_undefined() => {
                result.insert("failed".into(), Value::Bool(true));
                result.insert(
                    "msg".into(),
                    Value::str(format!(
                        "Failed to template loop_control.label: {}",
                        e.message
                    )),
                );
                (l.clone(), true)
            }
            Err(_) => (l.clone(), false),
        }
    }
}

/// `ansible_loop` for item `index` of `items` (`loop_control.extended`), as Ansible's
/// task executor builds it.
fn loop_info(items: &[Option<Value>], index: usize, allitems: bool) -> Value {
    let n = items.len();
    let item = |i: usize| items.get(i).cloned().flatten().unwrap_or(Value::Null);
    let mut m = Map::default();
    if allitems {
        m.insert(
            "allitems".into(),
            Value::List(
                items
                    .iter()
                    .map(|i| i.clone().unwrap_or(Value::Null))
                    .collect(),
            ),
        );
    }
    m.insert("index".into(), Value::Int(index as i64 + 1));
    m.insert("index0".into(), Value::Int(index as i64));
    m.insert("first".into(), Value::Bool(index == 0));
    m.insert("last".into(), Value::Bool(index + 1 == n));
    m.insert("length".into(), Value::Int(n as i64));
    m.insert("revindex".into(), Value::Int((n - index) as i64));
    m.insert("revindex0".into(), Value::Int((n - index) as i64 - 1));
    if index > 0 {
        m.insert("previtem".into(), item(index - 1));
    }
    if index + 1 < n {
        m.insert("nextitem".into(), item(index + 1));
    }
    Value::Map(m)
}
