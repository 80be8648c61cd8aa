//! Templated string constants. Ansible 2.19 renders the string constants of a
//! conditional expression (`"dude" == "du{{ 'de' }}"`), and in any expression the
//! constant arguments of a lookup after its name (`lookup('pipe', 'echo {{ x }}')`);
//! nowhere else (a constant inside `{{ }}` stays text). tprov rewrites such a constant
//! as a name that the caller binds to its rendered text.

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;

/// The name the n-th rewritten constant takes.
pub(super) fn name(n: usize) -> String {
    format!("__tprov_const_{n}")
}

/// `expr` with its templated constants replaced by `name(n)`, and each constant's text
/// (a template); `None` when there is none. `all`: every constant (a conditional
/// expression), else only a lookup's arguments.
pub(super) fn rewrite(expr: &str, all: bool) -> Option<(String, Vec<String>)> {
    if !expr.contains("{{") && !expr.contains("{%") {
        return None;
    }
    let wrapped = format!("{{{{ {expr} }}}}");
    const OFFSET: usize = 3;
    // Each open bracket: the function it calls (for a parenthesis after a name) and the
    // index of the argument being read.
    let mut stack: Vec<(Option<&str>, usize)> = Vec::new();
    let mut last_ident: Option<&str> = None;
    let mut found: Vec<(usize, usize, String)> = Vec::new();
    for t in tokenize(&wrapped, false, SyntaxConfig::default()) {
        let (tok, span) = t.ok()?;
        let ident = match &tok {
            Token::Ident(name) => Some(*name),
            _ => None,
        };
        match &tok {
            Token::ParenOpen => stack.push((last_ident, 0)),
            Token::BracketOpen | Token::BraceOpen => stack.push((None, 0)),
            Token::ParenClose | Token::BracketClose | Token::BraceClose => {
                stack.pop();
            }
            Token::Comma => {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
            }
            Token::Str(_) | Token::String(_) => {
                let text: &str = match &tok {
                    Token::Str(s) => s,
                    Token::String(s) => s,
                    _ => "",
                };
                let lookup_arg = matches!(
                    stack.last(),
                    Some((Some("lookup" | "query" | "q"), i)) if *i >= 1
                );
                if (all || lookup_arg) && (text.contains("{{") || text.contains("{%")) {
                    let start = (span.start_offset as usize).checked_sub(OFFSET)?;
                    let end = (span.end_offset as usize).checked_sub(OFFSET)?;
                    found.push((start, end, text.to_string()));
                }
            }
            _ => {}
        }
        last_ident = ident;
    }
    if found.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(expr.len());
    let mut at = 0;
    let mut texts = Vec::new();
    for (n, (start, end, text)) in found.into_iter().enumerate() {
        out.push_str(expr.get(at..start)?);
        out.push_str(&name(n));
        texts.push(text);
        at = end;
    }
    out.push_str(expr.get(at..)?);
    Some((out, texts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_of_a_condition_and_lookup_arguments() {
        let (e, t) = rewrite(r#""dude" == "du{{'de'}}""#, true).unwrap();
        assert_eq!(e, r#""dude" == __tprov_const_0"#);
        assert_eq!(t, vec!["du{{'de'}}".to_string()]);
        // In a template, only a lookup's arguments after its name.
        assert!(rewrite(r#"dict({"a": "{{ x }}"})["a"]"#, false).is_none());
        assert!(rewrite(r#"lookup('{{ "pipe" }}')"#, false).is_none());
        let (e, _) = rewrite(r#"lookup('pipe', 'echo {{ "dude" }}') == "dude""#, false).unwrap();
        assert_eq!(e, r#"lookup('pipe', __tprov_const_0) == "dude""#);
        assert!(rewrite("a == 1", true).is_none());
    }
}
