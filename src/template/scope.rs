//! The variables a template sees, resolved lazily: a var is templated only when a
//! template reads it, in the scope of the reader (Ansible 2.19's lazy templating),
//! with reference loops reported by name instead of overflowing the stack.

use super::{Engine, TemplateError, convert::to_mj};
use crate::vars::Vars;
use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Error, ErrorKind, Value as MjValue};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One layer of variables, highest precedence first in a `Scope`.
#[derive(Clone, Debug)]
pub(crate) enum Frame {
    /// Raw values from files, templated on first read.
    Raw(Arc<Vars>),
    /// Values already templated (loop items, registered results, set_fact).
    Native(Arc<IndexMap<String, MjValue>>),
}

/// Gives `hostvars[name]` for other hosts.
pub(crate) trait HostvarsSource: Send + Sync + std::fmt::Debug {
    fn host_names(&self) -> Vec<String>;
    fn scope_for(&self, host: &str) -> Option<Arc<Scope>>;
}

const MAX_NESTING: usize = 64;

#[derive(Debug)]
pub(crate) struct Scope {
    frames: Vec<Frame>,
    hostvars: Option<Arc<dyn HostvarsSource>>,
    cache: Mutex<HashMap<String, MjValue>>,
    resolving: Mutex<Vec<String>>,
    /// The first error met while resolving a var, reported in place of minijinja's
    /// less precise one.
    pub(super) error: Mutex<Option<TemplateError>>,
    /// Names looked up and not found, to name the culprit of an undefined error.
    missing: Mutex<Vec<String>>,
    /// Ansible 2.19's undefined markers: an element of a container var that is
    /// undefined stays an undefined value instead of failing the whole var (what
    /// `with_first_found` reads, dropping them).
    pub(super) markers: bool,
    pub(super) engine: &'static Engine,
}

impl Scope {
    pub(crate) fn new(
        engine: &'static Engine,
        frames: Vec<Frame>,
        hostvars: Option<Arc<dyn HostvarsSource>>,
    ) -> Arc<Scope> {
        Arc::new(Scope {
            frames,
            hostvars,
            cache: Mutex::new(HashMap::default()),
            resolving: Mutex::new(Vec::new()),
            error: Mutex::new(None),
            missing: Mutex::new(Vec::new()),
            markers: false,
            engine,
        })
    }

    /// This scope, with undefined elements of containers kept as markers.
    pub(crate) fn with_markers(self: &Arc<Self>) -> Arc<Scope> {
        let mut scope = Scope::new(self.engine, self.frames.clone(), self.hostvars.clone());
        if let Some(s) = Arc::get_mut(&mut scope) {
            s.markers = true;
        }
        scope
    }

    /// A scope with one more frame on top (same hostvars, fresh cache).
    pub(crate) fn with_frame(self: &Arc<Self>, frame: Frame) -> Arc<Scope> {
        let mut frames = vec![frame];
        frames.extend(self.frames.iter().cloned());
        let mut scope = Scope::new(self.engine, frames, self.hostvars.clone());
        if self.markers
            && let Some(s) = Arc::get_mut(&mut scope)
        {
            s.markers = true;
        }
        scope
    }

    pub(crate) fn hostvars(&self) -> Option<Arc<dyn HostvarsSource>> {
        self.hostvars.clone()
    }

    pub(crate) fn frames(&self) -> &[Frame] {
        &self.frames
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        name == "hostvars" && self.hostvars.is_some()
            || self.frames.iter().any(|f| match f {
                Frame::Raw(v) => v.contains_key(name),
                Frame::Native(v) => v.contains_key(name),
            })
    }

    pub(super) fn take_error(&self) -> Option<TemplateError> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    /// The last name a template looked up and did not find.
    pub(super) fn last_missing(&self) -> Option<String> {
        self.missing.lock().ok().and_then(|mut m| m.pop())
    }

    pub(super) fn clear_missing(&self) {
        if let Ok(mut m) = self.missing.lock() {
            m.clear();
        }
    }

    fn record(&self, err: TemplateError) {
        if let Ok(mut slot) = self.error.lock()
            && slot.is_none()
        {
            *slot = Some(err);
        }
    }

    /// Resolves one variable, templating it if it is raw.
    pub(crate) fn resolve(self: &Arc<Self>, name: &str) -> Option<MjValue> {
        if let Some(v) = self.cache.lock().ok()?.get(name) {
            return Some(v.clone());
        }
        let frame = self.frames.iter().find(|f| match f {
            Frame::Raw(v) => v.contains_key(name),
            Frame::Native(v) => v.contains_key(name),
        });
        let value = match frame {
            None if name == "hostvars" => MjValue::from_object(Hostvars(self.hostvars.clone()?)),
            None if name == "vars" => MjValue::from_object(VarsView(self.clone())),
            None => {
                if let Ok(mut m) = self.missing.lock() {
                    m.push(name.to_string());
                }
                return None;
            }
            Some(Frame::Native(v)) => v.get(name)?.clone(),
            Some(Frame::Raw(v)) => {
                let var = v.get(name)?;
                {
                    let mut resolving = self.resolving.lock().ok()?;
                    if let Some(i) = resolving.iter().position(|n| n == name) {
                        let mut chain: Vec<String> = resolving[i..].to_vec();
                        chain.push(name.to_string());
                        let msg = format!(
                            "recursive loop detected in template: {}",
                            chain.join(" -> ")
                        );
                        self.record(TemplateError::new(msg, var.origin.clone()));
                        return Some(MjValue::from(Error::new(
                            ErrorKind::InvalidOperation,
                            "recursive loop detected in template",
                        )));
                    }
                    if resolving.len() >= MAX_NESTING {
                        self.record(TemplateError::new(format!("variables nested more than {MAX_NESTING} deep while resolving '{name}'"), var.origin.clone()));
                        return Some(MjValue::from(Error::new(
                            ErrorKind::InvalidOperation,
                            "variables nested too deeply",
                        )));
                    }
                    resolving.push(name.to_string());
                }
                let result = self.engine.template_value(&var.value, self);
                if let Ok(mut r) = self.resolving.lock() {
                    r.pop();
                }
                match result {
                    Ok(v) => v,
                    Err(mut e) => {
                        if e.origin.is_none() {
                            e.origin.clone_from(&var.origin);
                        }
                        self.record(e);
                        return Some(MjValue::from(Error::new(
                            ErrorKind::InvalidOperation,
                            format!("cannot template '{name}'"),
                        )));
                    }
                }
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(name.to_string(), value.clone());
        }
        Some(value)
    }

    /// Every var name visible in this scope.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut seen = indexmap::IndexSet::new();
        for f in &self.frames {
            match f {
                Frame::Raw(v) => seen.extend(v.keys().cloned()),
                Frame::Native(v) => seen.extend(v.keys().cloned()),
            }
        }
        seen.into_iter().collect()
    }
}

/// The root object templates are rendered against.
#[derive(Debug)]
pub(crate) struct Root(pub Arc<Scope>);

/// A name filters may look up for the last variable found undefined (`mandatory`
/// names it, as Ansible's undefined markers carry their name).
pub(crate) const LAST_MISSING: &str = "__tprov_last_missing";

/// A name lookups may use to reach the whole scope (the `template` lookup renders a
/// file with it).
pub(crate) const ROOT: &str = "__tprov_scope";

/// The prefix of the name `undef(hint)` looks up to leave its hint as the error.
pub(crate) const UNDEF_HINT: &str = "__tprov_undef_hint:";

impl Object for Root {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let key = key.as_str()?;
        if key == ROOT {
            return Some(MjValue::from_object(Root(self.0.clone())));
        }
        if key == LAST_MISSING {
            let m = self.0.missing.lock().ok()?;
            return m.last().map(|n| MjValue::from(n.as_str()));
        }
        if let Some(hint) = key.strip_prefix(UNDEF_HINT) {
            // `undef(hint)`: the undefined value's message is the hint.
            let mut e = super::TemplateError::new(hint, None);
            e.undefined = true;
            self.0.record(e);
            return None;
        }
        self.0.resolve(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.names().into_iter().map(MjValue::from).collect())
    }
}

/// `vars`: every variable, each resolved on access.
#[derive(Debug)]
struct VarsView(Arc<Scope>);

impl Object for VarsView {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.0.resolve(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.names().into_iter().map(MjValue::from).collect())
    }
}

/// `hostvars`: other hosts' variables, resolved in their own scope.
#[derive(Debug)]
struct Hostvars(Arc<dyn HostvarsSource>);

impl Object for Hostvars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let scope = self.0.scope_for(key.as_str()?)?;
        Some(MjValue::from_object(VarsView(scope)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.host_names().into_iter().map(MjValue::from).collect())
    }
}

/// Native values for a `Frame::Native`.
pub(crate) fn native_frame(
    values: impl IntoIterator<Item = (String, crate::value::Value)>,
) -> Frame {
    Frame::Native(Arc::new(
        values.into_iter().map(|(k, v)| (k, to_mj(&v))).collect(),
    ))
}
