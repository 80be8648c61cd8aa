//! Expressions and conditionals: `when:`, `that:`, the rewritten string constants, and
//! the syntax check.

use super::{
    Engine, Scope, TemplateError, consts, from_mj, is_var_path, native_frame, py_str,
    single_expression,
};
use crate::source::Origin;
use crate::value::Value;
use minijinja::value::ValueKind;
use minijinja::{Error, Value as MjValue};
use std::sync::Arc;

impl Engine {
    /// Evaluates a bare expression (`when:`, `that:`, `changed_when:`).
    pub(crate) fn eval(
        &'static self,
        expr: &str,
        scope: &Arc<Scope>,
        origin: Option<Origin>,
    ) -> Result<MjValue, TemplateError> {
        let value = self
            .eval_expr(expr, scope)
            .map_err(|e| self.error(&e, scope, Some(expr), origin.clone(), None))?;
        if value.is_undefined() {
            return Err(self.undefined(expr, scope, origin));
        }
        Ok(value)
    }

    /// A conditional: must give a boolean, as Ansible 2.19 requires.
    pub(crate) fn eval_condition(
        &'static self,
        expr: &str,
        scope: &Arc<Scope>,
        origin: Option<Origin>,
    ) -> Result<bool, TemplateError> {
        self.judge_condition(expr, scope, origin)
            .map(|(verdict, _)| verdict)
    }

    /// `eval_condition`, and whether the condition was a template giving its verdict
    /// itself (`that: "{{ x == 1 }}"`, which Ansible 2.19 deprecates).
    pub(crate) fn judge_condition(
        &'static self,
        expr: &str,
        scope: &Arc<Scope>,
        origin: Option<Origin>,
    ) -> Result<(bool, bool), TemplateError> {
        if expr.starts_with(crate::trust::MARK) {
            return Err(TemplateError::new(crate::trust::UNTRUSTED, origin));
        }
        let trimmed = expr.trim();
        let mut templated = false;
        let value = if let Some(inner) = single_expression(trimmed) {
            let value = self.eval_consts(inner, scope, origin.clone(), false)?;
            // `when: "{{ cond }}"`: a string result is an expression in turn, when the
            // project wrote it (Ansible's indirection of trusted expressions).
            match value.as_str() {
                Some(text) if text.trim().is_empty() => {
                    return Err(TemplateError::new(
                        "Empty conditional expressions are not allowed.",
                        origin,
                    ));
                }
                // Only a variable's own value can be trusted: a string the template made
                // (`{{ '1 == 1' }}`, `{{ a ~ b }}`) never is.
                Some(text) if !is_var_path(inner) || !crate::trust::is_trusted(text) => {
                    return Err(TemplateError::new(crate::trust::UNTRUSTED, origin));
                }
                Some(text) => self.eval_consts(text.trim(), scope, origin.clone(), true)?,
                None => {
                    templated = true;
                    value
                }
            }
        } else if trimmed.starts_with("{{") && trimmed.ends_with("}}") {
            // Templates around parts of an expression (`{{ a }} == {{ b }}`): what they
            // render is a new text, which Ansible will not evaluate.
            self.render_str(trimmed, scope, origin.clone())?;
            return Err(TemplateError::new(crate::trust::UNTRUSTED, origin));
        } else {
            self.eval_consts(trimmed, scope, origin.clone(), true)?
        };
        match value.kind() {
            ValueKind::Bool => Ok((value.is_true(), templated)),
            _ => Err(TemplateError::new(
                format!(
                    "Conditional result ({}) was derived from value of type '{}' at '{expr}'. Conditionals must have a boolean result.",
                    py_str(&value).unwrap_or_default(),
                    from_mj(&value).map_or("unknown", |v| v.type_name())
                ),
                origin,
            )),
        }
    }

    /// `eval`, with the templated string constants rendered first (see `consts`):
    /// every one in a conditional expression (`all`), else a lookup's arguments.
    fn eval_consts(
        &'static self,
        expr: &str,
        scope: &Arc<Scope>,
        origin: Option<Origin>,
        all: bool,
    ) -> Result<MjValue, TemplateError> {
        let Some((rewritten, texts)) = consts::rewrite(expr, all) else {
            return self.eval(expr, scope, origin);
        };
        let inner = self.bind_consts(&texts, scope, origin.as_ref())?;
        self.eval(&rewritten, &inner, origin)
    }

    /// `scope` with each rewritten constant bound to its rendered text.
    pub(super) fn bind_consts(
        &'static self,
        texts: &[String],
        scope: &Arc<Scope>,
        origin: Option<&Origin>,
    ) -> Result<Arc<Scope>, TemplateError> {
        let mut values = Vec::with_capacity(texts.len());
        for (n, text) in texts.iter().enumerate() {
            let rendered = self.render_str(text, scope, origin.cloned())?;
            values.push((consts::name(n), Value::Str(rendered)));
        }
        Ok(scope.with_frame(native_frame(values)))
    }

    pub(super) fn eval_expr(
        &'static self,
        expr: &str,
        scope: &Arc<Scope>,
    ) -> Result<MjValue, Error> {
        scope.clear_missing();
        let compiled = {
            let cached = self.exprs.read().ok().and_then(|c| c.get(expr).cloned());
            if let Some(c) = cached {
                c
            } else {
                let c = Arc::new(self.env.compile_expression_owned(expr.to_string())?);
                if let Ok(mut cache) = self.exprs.write() {
                    cache.insert(expr.to_string(), c.clone());
                }
                c
            }
        };
        compiled.eval(self.root(scope))
    }

    /// Checks a template's syntax without rendering it.
    pub(crate) fn check_syntax(&'static self, source: &str) -> Result<(), (String, Option<usize>)> {
        match self.env.template_from_str(source) {
            Ok(_) => Ok(()),
            Err(e) => Err((e.detail().unwrap_or("syntax error").to_string(), e.line())),
        }
    }
}
