//! minijinja's errors in Ansible's words: undefined variables and attributes, division
//! by zero.

use super::{Engine, Scope, TemplateError, convert, single_expression};
use crate::source::Origin;
use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;
use minijinja::{Error, ErrorKind};
use std::path::Path;
use std::sync::Arc;

impl Engine {
    pub(super) fn undefined(
        &'static self,
        expr: &str,
        scope: &Arc<Scope>,
        origin: Option<Origin>,
    ) -> TemplateError {
        if let Some(e) = scope.take_error() {
            return e;
        }
        let message = match scope.last_missing() {
            Some(name) => format!("'{name}' is undefined"),
            None => self
                .undefined_chain(expr, scope)
                .unwrap_or_else(|| format!("'{}' is undefined", expr.trim())),
        };
        TemplateError::new(message, origin)
    }

    /// Turns a minijinja error into ours, preferring what the scope recorded (a loop or
    /// an error inside another var) and naming undefined variables.
    pub(super) fn error(
        &'static self,
        e: &Error,
        scope: &Arc<Scope>,
        source: Option<&str>,
        origin: Option<Origin>,
        file: Option<&Path>,
    ) -> TemplateError {
        if let Some(recorded) = scope.take_error() {
            return recorded;
        }
        let origin = match (file, e.line()) {
            (Some(path), Some(line)) => Some(Origin::new(
                &Arc::from(path),
                crate::source::Pos::new(line, 1),
            )),
            _ => origin,
        };
        let snippet = e.range().and_then(|r| {
            let src = match file {
                Some(_) => e.template_source(),
                None => source,
            }?;
            src.get(r)
        });
        let chain = if e.kind() == ErrorKind::UndefinedError {
            source.and_then(|src| self.undefined_chain(src, scope))
        } else {
            None
        };
        let message = match (e.kind(), snippet) {
            (ErrorKind::UndefinedError, _) if chain.is_some() => chain.unwrap_or_default(),
            (kind, _)
                if (kind == ErrorKind::UndefinedError
                    || e.detail().is_some_and(|d| d.contains("undefined")))
                    && let Some(name) = scope.last_missing() =>
            {
                format!("'{name}' is undefined")
            }
            (ErrorKind::UndefinedError, Some(s)) => {
                let s = s
                    .trim()
                    .trim_start_matches("{{")
                    .trim_end_matches("}}")
                    .trim();
                match undefined_name(s, scope) {
                    Some(name) => format!("'{name}' is undefined"),
                    None => format!("'{s}' is undefined"),
                }
            }
            (ErrorKind::UndefinedError, None) => "a variable is undefined".to_string(),
            // Python's ZeroDivisionError, in Ansible's words.
            (ErrorKind::InvalidOperation, _)
                if let Some(why) = e.detail().and_then(zero_division) =>
            {
                format!("Error rendering template: {why}")
            }
            // A plugin's failure, already in Ansible's words.
            (ErrorKind::InvalidOperation, _)
                if let Some(d) = e.detail().filter(|d| d.starts_with("The lookup plugin '")) =>
            {
                return TemplateError::new(d, origin);
            }
            _ => match e.detail() {
                Some(d) => format!("{}: {d}", e.kind()),
                None => e.kind().to_string(),
            },
        };
        let message = match source {
            Some(s) if file.is_none() && s.len() < 200 => format!("{message} (in {s:?})"),
            _ => message,
        };
        TemplateError::new(message, origin)
    }
}

/// Python's message for minijinja's "unable to calculate a / 0" (and `//`, `%`).
fn zero_division(detail: &str) -> Option<&'static str> {
    let calc = detail.strip_prefix("unable to calculate ")?;
    let (lhs, rhs) = calc
        .rsplit_once(" / ")
        .map(|(l, r)| (l, (r, "/")))
        .or_else(|| calc.rsplit_once(" // ").map(|(l, r)| (l, (r, "//"))))
        .or_else(|| calc.rsplit_once(" % ").map(|(l, r)| (l, (r, "%"))))?;
    let (rhs, op) = rhs;
    if rhs.parse::<f64>().ok()? != 0.0 {
        return None;
    }
    let float = lhs.contains('.') || rhs.contains('.');
    Some(match (op, float) {
        ("/", _) => "division by zero",
        ("//", true) => "float floor division by zero",
        ("%", true) => "float modulo",
        _ => "integer division or modulo by zero",
    })
}

impl Engine {
    /// Ansible's message for the first `a.b.c` chain in an expression (or template)
    /// that is undefined: `'a' is undefined` for a variable, `object of type 'dict' has
    /// no attribute 'b'` for an attribute. Names after `|` (filters), `is` (tests) or
    /// before `(` (calls) are not variables.
    fn undefined_chain(&'static self, source: &str, scope: &Arc<Scope>) -> Option<String> {
        let in_expr =
            single_expression(source).is_none() && !source.contains("{{") && !source.contains("{%");
        let tokens: Vec<Token> = tokenize(source, in_expr, SyntaxConfig::default())
            .filter_map(|t| t.ok().map(|(t, _)| t))
            .collect();
        let mut i = 0;
        while i < tokens.len() {
            let after_pipe_or_is = i > 0
                && matches!(
                    tokens[i - 1],
                    Token::Pipe | Token::Dot | Token::Ident("is" | "not")
                );
            if let (Token::Ident(head), false) = (&tokens[i], after_pipe_or_is) {
                let mut chain = vec![head.to_string()];
                let mut j = i + 1;
                loop {
                    match (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2)) {
                        (Some(Token::Dot), Some(Token::Ident(a)), _) => {
                            chain.push(a.to_string());
                            j += 2;
                        }
                        (
                            Some(Token::BracketOpen),
                            Some(Token::Str(a)),
                            Some(Token::BracketClose),
                        ) if a.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                            chain.push(a.to_string());
                            j += 3;
                        }
                        _ => break,
                    }
                }
                let is_call = matches!(tokens.get(j), Some(Token::ParenOpen));
                let keyword = matches!(
                    *head,
                    "true"
                        | "false"
                        | "none"
                        | "True"
                        | "False"
                        | "None"
                        | "and"
                        | "or"
                        | "not"
                        | "in"
                        | "if"
                        | "else"
                        | "for"
                        | "endfor"
                        | "endif"
                        | "loop"
                        | "range"
                );
                if !is_call && !keyword {
                    for n in 1..=chain.len() {
                        let text = chain[..n].join(".");
                        if let Ok(v) = self.eval_expr(&text, scope)
                            && v.is_undefined()
                        {
                            if n == 1 {
                                return Some(format!("'{text}' is undefined"));
                            }
                            let parent = self.eval_expr(&chain[..n - 1].join("."), scope).ok();
                            let kind = parent
                                .and_then(|p| convert::from_mj(&p).ok())
                                .map_or("dict", |p| p.type_name());
                            return Some(format!(
                                "object of type '{kind}' has no attribute '{}'",
                                chain[n - 1]
                            ));
                        }
                    }
                }
                i = j;
                continue;
            }
            i += 1;
        }
        None
    }
}

/// In `a.b.c` or `a | f`, the first name that is not defined, or the attribute access.
fn undefined_name(snippet: &str, scope: &Arc<Scope>) -> Option<String> {
    let head: String = snippet
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if head.is_empty() {
        return None;
    }
    if !scope.contains(&head) {
        return Some(head);
    }
    let rest = snippet[head.len()..].trim_start();
    if let Some(attr) = rest.strip_prefix('.') {
        let attr: String = attr
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        return Some(format!("{head}.{attr}"));
    }
    None
}
