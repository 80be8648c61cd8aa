//! Jinja templating with Ansible 2.19's meaning, on minijinja.
//!
//! - One process-wide environment with Ansible's filters and tests, strict undefined.
//! - A template that is a single `{{ expr }}` keeps its native type (`"{{ port }}"` is an
//!   int); anything else renders to a string, printing values as Python's `str()` does.
//! - Vars are resolved lazily through [`Scope`]; errors name the variable and the file
//!   and line that defined the template.

mod consts;
mod convert;
mod errors;
mod eval;
mod file_vars;
mod filters;
mod groupby;
mod jinja_tests;
mod lookups;
mod methods;
mod password_hash;
mod scope;
mod subelements;
mod syntax;
mod vault_filters;
mod version;
pub(crate) use file_vars::file_vars;

use crate::source::Origin;
use crate::value::Value;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Expression, UndefinedBehavior, Value as MjValue};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, RwLock};

pub(crate) use convert::{from_mj, from_mj_omitting_undefined, mj_map, py_str, to_mj};
pub(crate) use filters::{encode_text, json_to_value, merge_hash};
pub(crate) use lookups::NAMES as LOOKUPS;
pub(crate) use scope::{Frame, HostvarsSource, Scope, native_frame};
pub(crate) use syntax::{is_single_expression, is_var_path, single_expression};
use syntax::{literal_backslashes, trailing_newlines};

/// A template failure: what went wrong and, when known, where the template came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    pub message: String,
    pub origin: Option<Origin>,
    /// An undefined value's error (`undef(hint)`'s, whatever its words): shown as a
    /// placeholder where Ansible shows one.
    pub undefined: bool,
}

impl TemplateError {
    /// Whether this is an undefined variable's error.
    pub(crate) fn is_undefined(&self) -> bool {
        self.undefined
            || self.message.contains("is undefined")
            || self.message.contains("has no attribute")
    }

    pub(crate) fn new(message: impl Into<String>, origin: Option<Origin>) -> TemplateError {
        TemplateError {
            message: message.into(),
            origin,
            undefined: false,
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(o) => write!(f, "{o}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The `template` module's Jinja options (its arguments, or a `#jinja2:` first line).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FileOptions {
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    pub block_start: String,
    pub block_end: String,
    pub variable_start: String,
    pub variable_end: String,
    pub comment_start: String,
    pub comment_end: String,
    /// `\n` unless `newline_sequence` says otherwise.
    pub newline: String,
    /// Jinja's line statements and line comments (`#jinja2: line_statement_prefix: ':'`).
    pub line_statement_prefix: Option<String>,
    pub line_comment_prefix: Option<String>,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            trim_blocks: true,
            lstrip_blocks: false,
            block_start: "{%".into(),
            block_end: "%}".into(),
            variable_start: "{{".into(),
            variable_end: "}}".into(),
            comment_start: "{#".into(),
            comment_end: "#}".into(),
            newline: "\n".into(),
            line_statement_prefix: None,
            line_comment_prefix: None,
        }
    }
}

impl FileOptions {
    /// Applies a template's `#jinja2: trim_blocks: False, lstrip_blocks: True` line (Python
    /// literals) and returns the source without it, as Ansible's template action does.
    pub(crate) fn apply_header<'a>(&mut self, source: &'a str) -> Result<(&'a str, bool), String> {
        let Some(rest) = source.strip_prefix("#jinja2:") else {
            return Ok((source, false));
        };
        // Ansible's _extract_template_overrides, its checks and messages.
        let (line, body) = rest
            .split_once('\n')
            .ok_or_else(|| "Missing newline after '#jinja2:' override.".to_string())?;
        for pair in line.split(',') {
            if pair.trim().is_empty() {
                return Err("Empty '#jinja2:' override pair not allowed.".into());
            }
            let (key, val) = pair.split_once(':').ok_or_else(|| {
                format!(
                    "Missing key-value separator `:` in '#jinja2:' override pair {}.",
                    crate::value::str_repr(pair)
                )
            })?;
            let val = crate::inventory::parse_value(val.trim());
            let flag = || val.is_truthy();
            let text = || val.py_str();
            match key.trim() {
                "trim_blocks" => self.trim_blocks = flag(),
                "lstrip_blocks" => self.lstrip_blocks = flag(),
                "block_start_string" => self.block_start = text(),
                "block_end_string" => self.block_end = text(),
                "variable_start_string" => self.variable_start = text(),
                "variable_end_string" => self.variable_end = text(),
                "comment_start_string" => self.comment_start = text(),
                "comment_end_string" => self.comment_end = text(),
                "newline_sequence" => self.newline = text(),
                // Accepted by Ansible; tprov's templates keep trailing newlines as its
                // `template` module does, and has no line statements.
                "line_statement_prefix" => self.line_statement_prefix = Some(text()),
                "line_comment_prefix" => self.line_comment_prefix = Some(text()),
                // Accepted by Ansible; tprov's templates keep trailing newlines as its
                // `template` module does.
                "keep_trailing_newline" => {}
                other => {
                    return Err(format!(
                        "Invalid '#jinja2:' override key {}.",
                        crate::value::str_repr(other)
                    ));
                }
            }
        }
        Ok((body, true))
    }
}

pub(crate) struct Engine {
    env: Environment<'static>,
    /// Environments for other template options, made on first use.
    variants: std::sync::Mutex<HashMap<FileOptions, &'static Environment<'static>>>,
    exprs: RwLock<HashMap<String, Arc<Expression<'static, 'static>>>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Engine")
    }
}

static ENGINE: LazyLock<&'static Engine> = LazyLock::new(|| Box::leak(Box::new(Engine::build())));

/// The process-wide engine.
pub(crate) fn engine() -> &'static Engine {
    &ENGINE
}

/// A Python `re.sub` replacement (`\1`, `\g<name>`) in the regex crate's syntax.
pub(crate) fn python_replacement(rep: &str) -> String {
    filters::py_replacement(rep)
}

/// What Python's `re` says of a replacement it refuses: an escape of an ASCII letter
/// it does not know (`\D`), in its words (`bad escape \D at position 0`).
pub(crate) fn python_replacement_error(rep: &str) -> Option<String> {
    let chars: Vec<char> = rep.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            match chars.get(i + 1) {
                Some(c) if c.is_ascii_alphabetic() && !"ntrfvabg".contains(*c) => {
                    return Some(format!("bad escape \\{c} at position {i}"));
                }
                Some('g') if chars.get(i + 2) != Some(&'<') => {
                    return Some(format!("missing < at position {}", i + 2));
                }
                _ => {}
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

/// Ansible's `is_possibly_template`: holds a Jinja start string.
pub(crate) fn is_possibly_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

const FILE_PREFIX: &str = "file:";
const STR_PREFIX: &str = "str:";

impl Engine {
    fn build() -> Engine {
        Engine {
            env: Self::make_env(&FileOptions::default()),
            variants: std::sync::Mutex::new(HashMap::default()),
            exprs: RwLock::new(HashMap::default()),
        }
    }

    fn make_env(o: &FileOptions) -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::AnsibleMarkers);
        env.set_debug(true);
        env.set_fuel(Some(50_000_000));
        let mut builder = SyntaxConfig::builder();
        builder
            .block_delimiters(o.block_start.clone(), o.block_end.clone())
            .variable_delimiters(o.variable_start.clone(), o.variable_end.clone())
            .comment_delimiters(o.comment_start.clone(), o.comment_end.clone())
            .trim_blocks(o.trim_blocks)
            .lstrip_blocks(o.lstrip_blocks)
            .keep_trailing_newline(true);
        if let Some(p) = &o.line_statement_prefix {
            builder.line_statement_prefix(p.clone());
        }
        if let Some(p) = &o.line_comment_prefix {
            builder.line_comment_prefix(p.clone());
        }
        let syntax = builder.build();
        match syntax {
            Ok(syntax) => env.set_syntax(syntax),
            // Delimiters minijinja refuses: keep Jinja's, the render then says why.
            Err(_) => {
                if let Ok(syntax) = SyntaxConfig::builder()
                    .trim_blocks(o.trim_blocks)
                    .lstrip_blocks(o.lstrip_blocks)
                    .keep_trailing_newline(true)
                    .build()
                {
                    env.set_syntax(syntax);
                }
            }
        }
        env.set_loader(|name| {
            if let Some(path) = name.strip_prefix(FILE_PREFIX) {
                // Jinja drops one trailing newline of every file it loads, so
                // `Hello {% include 'world.txt' %}!` is one line; the file rendered
                // itself gets its newlines back (see trailing_newlines).
                return crate::vault::read_text(Path::new(path))
                    .map(|mut text| {
                        if text.ends_with('\n') {
                            text.pop();
                            if text.ends_with('\r') {
                                text.pop();
                            }
                        }
                        Some(text)
                    })
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::TemplateNotFound,
                            format!("cannot read template {path}: {e}"),
                        )
                    });
            }
            Ok(name.strip_prefix(STR_PREFIX).map(str::to_string))
        });
        // `{% include 'bar' %}` / `{% import 'qux' %}` in a template file: found beside
        // that file (its templates/ directory), as Jinja's search path finds it.
        env.set_path_join_callback(|name, parent| {
            if let Some(file) = parent.strip_prefix(FILE_PREFIX)
                && !name.starts_with(FILE_PREFIX)
            {
                let candidate = if Path::new(name).is_absolute() {
                    PathBuf::from(name)
                } else {
                    Path::new(file)
                        .parent()
                        .unwrap_or(Path::new("."))
                        .join(name)
                };
                if candidate.is_file() {
                    return format!("{FILE_PREFIX}{}", candidate.display()).into();
                }
            }
            name.into()
        });
        env.set_formatter(|out, _state, value| {
            // An if-expression without an else prints nothing when its test is false.
            if value.is_silent_undefined() {
                return Ok(());
            }
            if value.is_undefined() {
                return Err(Error::from(ErrorKind::UndefinedError));
            }
            // Ansible drops None-valued output nodes: `a={{ none }}` renders `a=`.
            if value.is_none() {
                return Ok(());
            }
            let text = py_str(value)?;
            out.write_str(&text)
                .map_err(|_| Error::new(ErrorKind::WriteFailure, "write failed"))
        });
        env.set_unknown_method_callback(methods::unknown_method);
        filters::register(&mut env);
        jinja_tests::register(&mut env);
        vault_filters::register(&mut env);
        env
    }

    fn env_for(&'static self, o: &FileOptions) -> &'static Environment<'static> {
        let mut plain = o.clone();
        plain.newline = "\n".into();
        if plain == FileOptions::default() {
            return &self.env;
        }
        let Ok(mut variants) = self.variants.lock() else {
            return &self.env;
        };
        variants
            .entry(plain.clone())
            .or_insert_with(|| Box::leak(Box::new(Self::make_env(&plain))))
    }

    fn root(&self, scope: &Arc<Scope>) -> MjValue {
        MjValue::from_object(scope::Root(scope.clone()))
    }

    /// Renders a template file with the `template` module's options (a `#jinja2:` first
    /// line of the file overrides them).
    pub(crate) fn render_file_with(
        &'static self,
        path: &Path,
        scope: &Arc<Scope>,
        options: &FileOptions,
    ) -> Result<String, TemplateError> {
        let origin = Some(Origin::file(path));
        let source = crate::vault::read_text(path).map_err(|e| {
            TemplateError::new(format!("cannot read template: {e}"), origin.clone())
        })?;
        let mut o = options.clone();
        let (body, header) = o
            .apply_header(&source)
            .map_err(|m| TemplateError::new(m, origin.clone()))?;
        if !header && o == FileOptions::default() {
            return self.render_file(path, scope);
        }
        let env = self.env_for(&o);
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let name = format!("{FILE_PREFIX}{}", abs.display());
        scope.clear_missing();
        // With the header line gone, the file's lines are one further down.
        let shift = |mut e: TemplateError| {
            if header
                && let Some(orig) = &mut e.origin
                && orig.pos.line > 0
            {
                orig.pos.line += 1;
            }
            e
        };
        let tmpl = env
            .template_from_named_str(&name, body)
            .map_err(|e| shift(self.error(&e, scope, None, origin.clone(), Some(path))))?;
        let text = tmpl
            .render(self.root(scope))
            .map_err(|e| shift(self.error(&e, scope, None, origin, Some(path))))?;
        let text = trailing_newlines(body, text);
        Ok(if o.newline == "\n" {
            text
        } else {
            text.replace('\n', &o.newline)
        })
    }

    /// Renders a template file to text (the `template` module).
    pub(crate) fn render_file(
        &'static self,
        path: &Path,
        scope: &Arc<Scope>,
    ) -> Result<String, TemplateError> {
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let name = format!("{FILE_PREFIX}{}", abs.display());
        let origin = Some(Origin::file(path));
        scope.clear_missing();
        let tmpl = self
            .env
            .get_template(&name)
            .map_err(|e| self.error(&e, scope, None, origin.clone(), Some(path)))?;
        let text = tmpl
            .render(self.root(scope))
            .map_err(|e| self.error(&e, scope, None, origin, Some(path)))?;
        let source = std::fs::read_to_string(path).unwrap_or_default();
        Ok(trailing_newlines(&source, text))
    }

    /// Renders a string to text, whatever its single value would be.
    pub(crate) fn render_str(
        &'static self,
        source: &str,
        scope: &Arc<Scope>,
        origin: Option<Origin>,
    ) -> Result<String, TemplateError> {
        if !is_possibly_template(source) {
            return Ok(source.to_string());
        }
        let name = format!("{STR_PREFIX}{}", literal_backslashes(source, false));
        scope.clear_missing();
        let tmpl = self
            .env
            .get_template(&name)
            .map_err(|e| self.error(&e, scope, Some(source), origin.clone(), None))?;
        tmpl.render(self.root(scope))
            .map_err(|e| self.error(&e, scope, Some(source), origin, None))
    }

    /// Templates a raw value deeply with Ansible 2.19's native types.
    pub(crate) fn template_value(
        &'static self,
        v: &Value,
        scope: &Arc<Scope>,
    ) -> Result<MjValue, TemplateError> {
        match v {
            Value::Str(s) if is_possibly_template(s) => self.render_native(s, scope, None),
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.template_element(item, scope)?);
                }
                Ok(MjValue::from(out))
            }
            Value::Map(m) => {
                let mut out = Vec::with_capacity(m.len());
                for (k, item) in m {
                    out.push((k.clone(), self.template_element(item, scope)?));
                }
                Ok(convert::mj_map(out))
            }
            other => Ok(to_mj(other)),
        }
    }

    /// One element of a container: with markers on, an undefined one stays undefined.
    fn template_element(
        &'static self,
        v: &Value,
        scope: &Arc<Scope>,
    ) -> Result<MjValue, TemplateError> {
        match self.template_value(v, scope) {
            Err(e) if scope.markers && e.is_undefined() => {
                scope.take_error();
                Ok(MjValue::UNDEFINED)
            }
            other => other,
        }
    }

    /// Templates a raw value and converts the result back to our model.
    pub(crate) fn template_to_value(
        &'static self,
        v: &Value,
        scope: &Arc<Scope>,
        origin: Option<&Origin>,
    ) -> Result<Value, TemplateError> {
        let out = self.template_value(v, scope).map_err(|mut e| {
            if e.origin.is_none() {
                e.origin = origin.cloned();
            }
            e
        })?;
        from_mj(&out).map_err(|e| self.error(&e, scope, v.as_str(), origin.cloned(), None))
    }

    /// One template string: a lone `{{ expr }}` keeps the expression's type.
    pub(crate) fn render_native(
        &'static self,
        source: &str,
        scope: &Arc<Scope>,
        origin: Option<Origin>,
    ) -> Result<MjValue, TemplateError> {
        // Jinja drops one trailing newline of the source: `"{{ port }}\n"` is one
        // expression (an int); a string result gets its newlines back (Ansible's
        // preserve_trailing_newlines).
        let body = source.strip_suffix('\n').unwrap_or(source);
        match single_expression(body) {
            Some(expr) => {
                // A lookup's templated constant arguments are rendered first.
                let (expr_scope, rewritten) = match consts::rewrite(expr, false) {
                    Some((rewritten, texts)) => (
                        self.bind_consts(&texts, scope, origin.as_ref())?,
                        Some(rewritten),
                    ),
                    None => (scope.clone(), None),
                };
                let value = self
                    .eval_expr(
                        &literal_backslashes(rewritten.as_deref().unwrap_or(expr), true),
                        &expr_scope,
                    )
                    .map_err(|e| self.error(&e, &expr_scope, Some(expr), origin.clone(), None))?;
                if value.is_undefined() {
                    return Err(self.undefined(expr, scope, origin));
                }
                if value.kind() == ValueKind::Invalid {
                    return Err(scope.take_error().unwrap_or_else(|| {
                        TemplateError::new(format!("cannot template {source:?}"), origin)
                    }));
                }
                if body.len() != source.len()
                    && let Some(text) = value.as_str()
                {
                    let want = source.len() - source.trim_end_matches('\n').len();
                    let have = text.len() - text.trim_end_matches('\n').len();
                    if want > have {
                        return Ok(MjValue::from(format!("{text}{}", "\n".repeat(want - have))));
                    }
                }
                Ok(value)
            }
            None => self.render_str(source, scope, origin).map(MjValue::from),
        }
    }
}

#[cfg(test)]
mod tests;
