//! Template source text: YAML's backslashes, single `{{ expr }}` templates, variable
//! paths and trailing newlines.

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;

/// Ansible 2.19 takes the string constants inside `{{ }}` of a template that comes from
/// YAML (vars, task arguments) as written: their backslashes were already YAML's to
/// read, so `regex_replace('(a)', '\1')` means a backreference, not the byte 0x01.
/// Template files, `{% %}` statements and conditionals keep Jinja's escapes. Doubling
/// each backslash in those constants before minijinja unescapes them does the same.
pub(super) fn literal_backslashes(source: &str, in_expr: bool) -> std::borrow::Cow<'_, str> {
    if !source.contains('\\') {
        return std::borrow::Cow::Borrowed(source);
    }
    #[derive(PartialEq)]
    enum At {
        Data,
        Var,
        Block,
        Comment,
    }
    let b = source.as_bytes();
    let mut out = String::with_capacity(source.len() + 8);
    let mut at = if in_expr { At::Var } else { At::Data };
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        match at {
            At::Data => {
                if b[i] == b'{' && i + 1 < b.len() {
                    at = match b[i + 1] {
                        b'{' => At::Var,
                        b'%' => At::Block,
                        b'#' => At::Comment,
                        _ => At::Data,
                    };
                    if at != At::Data {
                        i += 1;
                    }
                    // `{% raw %}`: nothing up to `{% endraw %}` is a template.
                    if at == At::Block
                        && source[i + 1..]
                            .trim_start_matches(['-', '+'])
                            .trim_start()
                            .starts_with("raw")
                        && let Some(end) = source[i..].find("endraw")
                    {
                        i += end;
                    }
                }
                i += 1;
            }
            At::Comment => {
                if b[i..].starts_with(b"#}") {
                    at = At::Data;
                    i += 1;
                }
                i += 1;
            }
            At::Var | At::Block => {
                let c = b[i];
                if c == b'\'' || c == b'"' {
                    let start = i + 1;
                    let mut j = start;
                    while j < b.len() && b[j] != c {
                        j += if b[j] == b'\\' { 2 } else { 1 };
                    }
                    let end = j.min(b.len());
                    if at == At::Var && source[start..end].contains('\\') {
                        out.push_str(&source[copied..start]);
                        // The constant's text is its value (Jinja doubles backslashes
                        // after lexing): a quote that was escaped stays escaped.
                        let quote = if c == b'"' { "\\\"" } else { "\\'" };
                        out.push_str(
                            &source[start..end]
                                .replace('\\', "\\\\")
                                .replace(c as char, quote),
                        );
                        copied = end;
                    }
                    i = end + 1;
                    continue;
                }
                let close = if at == At::Var { "}}" } else { "%}" };
                if b[i..].starts_with(close.as_bytes()) && !in_expr {
                    at = At::Data;
                    i += 1;
                }
                i += 1;
            }
        }
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(source);
    }
    out.push_str(&source[copied..]);
    std::borrow::Cow::Owned(out)
}

/// Whether `source` is exactly one `{{ ... }}` block (its value keeps its type).
pub(crate) fn is_single_expression(source: &str) -> bool {
    single_expression(source.trim()).is_some()
}

/// The inner expression when `source` is exactly one `{{ ... }}` block.
/// Whether `expr` only names a variable (`a`, `a.b`, `a[0]`, `a['b']`): what it gives
/// is that variable's value itself, not a string the template made.
pub(crate) fn is_var_path(expr: &str) -> bool {
    let wrapped = format!("{{{{ {expr} }}}}");
    let mut tokens = tokenize(&wrapped, false, SyntaxConfig::default());
    let mut want_name = true;
    let mut in_index = false;
    let mut seen = false;
    let _ = tokens.next();
    for t in tokens {
        let Ok((tok, _)) = t else { return false };
        match tok {
            Token::Ident(_) if want_name => {
                want_name = false;
                seen = true;
            }
            Token::Dot if !want_name && !in_index => want_name = true,
            Token::BracketOpen if !want_name && !in_index => in_index = true,
            Token::Int(_) | Token::Str(_) | Token::String(_) if in_index => {}
            Token::BracketClose if in_index => in_index = false,
            Token::VariableEnd => return seen && !want_name && !in_index,
            _ => return false,
        }
    }
    false
}

pub(crate) fn single_expression(source: &str) -> Option<&str> {
    let mut tokens = tokenize(source, false, SyntaxConfig::default());
    let (first, first_span) = tokens.next()?.ok()?;
    if !matches!(first, Token::VariableStart) || first_span.start_offset != 0 {
        return None;
    }
    let mut start = None;
    let mut end = 0;
    for t in tokens {
        let (tok, span) = t.ok()?;
        match tok {
            Token::VariableEnd => {
                if span.end_offset as usize != source.len() {
                    return None;
                }
                let start = start?;
                return source.get(start..end);
            }
            Token::TemplateData(_) | Token::VariableStart | Token::BlockStart | Token::BlockEnd => {
                return None;
            }
            _ => {
                if start.is_none() {
                    start = Some(span.start_offset as usize);
                }
                end = span.end_offset as usize;
            }
        }
    }
    None
}

/// Ansible's post-render rule: a result ends in at least as many newlines as its
/// template (trim_blocks may have eaten the one after a closing block tag).
pub(super) fn trailing_newlines(source: &str, mut text: String) -> String {
    let count = |s: &str| s.len() - s.trim_end_matches('\n').len();
    let (want, have) = (count(source), count(&text));
    if want > have {
        text.push_str(&"\n".repeat(want - have));
    }
    text
}
