//! Ansible's `k=v` splitter (`parse_kv`, `split_args`, `join_args`, `_decode_escapes`),
//! for free-form module arguments and `-e k=v`.

use crate::value::{Map, Value};
use crate::yaml::{Node, NodeKind};

/// Parsed `k=v` pairs as mapping entries, all at the position of the string they came from.
pub(super) fn scalar_entries(
    pairs: impl IntoIterator<Item = (String, Value)>,
    pos: crate::source::Pos,
) -> Vec<(crate::yaml::Key, Node)> {
    pairs
        .into_iter()
        .map(|(name, v)| {
            (
                crate::yaml::Key { name, pos },
                Node {
                    pos,
                    kind: NodeKind::Scalar(v),
                },
            )
        })
        .collect()
}

/// Ansible's `parse_kv` with `check_raw` for command-like modules.
pub(super) fn parse_free_form(module: &str, text: &str) -> Map {
    let mut out = Map::default();
    let words = split_args(text);
    let mut raw: Vec<String> = Vec::new();
    // Ansible's parse_kv: a word with an unescaped `=` (after its first character) is
    // `key=value`, whatever the key looks like (set_fact's may be templated); for the
    // free-form commands (check_raw) only their own options are.
    let check_raw = matches!(module, "command" | "shell" | "raw" | "script");
    let command_args = [
        "creates",
        "removes",
        "chdir",
        "executable",
        "warn",
        "expand_argument_vars",
        "stdin",
        "stdin_add_newline",
        "strip_empty_ends",
    ];
    for w in &words {
        let x = decode_escapes(w);
        let pos = x
            .char_indices()
            .skip(1)
            .find(|&(i, c)| c == '=' && !x[..i].ends_with('\\'))
            .map(|(i, _)| i);
        match pos {
            Some(pos) if !check_raw || command_args.contains(&&x[..pos]) => {
                // Split out of the playbook's text, the value is the playbook's too.
                let value = unquote(x[pos + 1..].trim());
                crate::trust::trust(&value);
                out.insert(x[..pos].trim().to_string(), Value::str(value));
            }
            // Only escaped `=`: the decoded word, `\=` made `=`, as Ansible does.
            None if x.contains('=') => raw.push(x.replace("\\=", "=")),
            _ => raw.push(w.clone()),
        }
    }
    if !raw.is_empty() {
        out.insert("_raw_params".into(), Value::str(join_args(&raw)));
    }
    out
}

/// Ansible's `parse_kv` without raw params (`-e k=v ...`): each word's escapes decoded,
/// split at its first unescaped `=`, the value unquoted as a whole.
pub(crate) fn parse_kv(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for w in split_args(text) {
        let x = decode_escapes(&w);
        let pos = x
            .char_indices()
            .skip(1)
            .find(|&(i, c)| c == '=' && !x[..i].ends_with('\\'))
            .map(|(i, _)| i);
        if let Some(pos) = pos {
            out.push((x[..pos].trim().to_string(), unquote(x[pos + 1..].trim())));
        }
    }
    out
}

/// Ansible's `split_args`, step for step: split on newlines, then on single spaces,
/// putting back together what was split inside quotes or a `{{ }}`/`{% %}`/`{# #}`
/// block; a lone `\\` outside quotes continues the line; a newline stays at the end of
/// the word before it, so `join_args` gives the original text back.
fn split_args(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    fn quote_state(token: &str, mut quote: Option<char>) -> Option<char> {
        let mut prev = None;
        for c in token.chars() {
            if (c == '"' || c == '\'') && prev != Some('\\') {
                match quote {
                    Some(q) if q == c => quote = None,
                    Some(_) => {}
                    None => quote = Some(c),
                }
            }
            prev = Some(c);
        }
        quote
    }
    fn blocks(token: &str, depth: i64, open: &str, close: &str) -> i64 {
        let (o, c) = (
            token.matches(open).count() as i64,
            token.matches(close).count() as i64,
        );
        if o == c {
            depth
        } else {
            (depth + o - c).max(0)
        }
    }
    let mut params: Vec<String> = Vec::new();
    let items: Vec<&str> = text.split('\n').collect();
    let mut quote: Option<char> = None;
    let (mut print, mut block, mut comment) = (0i64, 0i64, 0i64);
    for (item_idx, item) in items.iter().enumerate() {
        let mut continued = false;
        for (idx, token) in item.split(' ').enumerate() {
            if token.is_empty() && idx != 0 {
                match params.last_mut() {
                    Some(last) => last.push(' '),
                    None => params.push(" ".into()),
                }
                continue;
            }
            if token == "\\" && quote.is_none() {
                continued = true;
                continue;
            }
            let was_inside = quote.is_some();
            quote = quote_state(token, quote);
            let inside = quote.is_some();
            let in_block = print > 0 || block > 0 || comment > 0;
            let mut appended = false;
            if inside && !was_inside && !in_block {
                params.push(token.to_string());
                appended = true;
            } else if in_block || inside || was_inside {
                let spacer = if idx == 0 { "" } else { " " };
                match params.last_mut() {
                    Some(last) => {
                        last.push_str(spacer);
                        last.push_str(token);
                    }
                    None => params.push(token.to_string()),
                }
                appended = true;
            }
            for (depth, open, close) in [
                (&mut print, "{{", "}}"),
                (&mut block, "{%", "%}"),
                (&mut comment, "{#", "#}"),
            ] {
                let before = *depth;
                *depth = blocks(token, *depth, open, close);
                if *depth != before && !appended {
                    params.push(token.to_string());
                    appended = true;
                }
            }
            if print == 0
                && block == 0
                && comment == 0
                && quote.is_none()
                && !appended
                && !token.is_empty()
            {
                params.push(token.to_string());
            }
        }
        if items.len() > 1 && item_idx != items.len() - 1 && !continued {
            match params.last_mut() {
                Some(last) => last.push('\n'),
                None => params.push("\n".into()),
            }
        }
    }
    params
}

/// Ansible's `join_args`: the words back together, a space between them except after a
/// newline.
fn join_args(words: &[String]) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Ansible's `_decode_escapes` on `k=v` words: `\n`, `\t`, `\\`, `\xHH`, `\uHHHH`...
fn decode_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars>, n: usize| -> Option<char> {
            let h: String = (0..n).filter_map(|_| chars.next()).collect();
            u32::from_str_radix(&h, 16).ok().and_then(char::from_u32)
        };
        match chars.peek().copied() {
            Some('n') => {
                chars.next();
                out.push('\n');
            }
            Some('t') => {
                chars.next();
                out.push('\t');
            }
            Some('r') => {
                chars.next();
                out.push('\r');
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            Some('\'') => {
                chars.next();
                out.push('\'');
            }
            Some('"') => {
                chars.next();
                out.push('"');
            }
            Some('a') => {
                chars.next();
                out.push('\u{7}');
            }
            Some('b') => {
                chars.next();
                out.push('\u{8}');
            }
            Some('f') => {
                chars.next();
                out.push('\u{c}');
            }
            Some('v') => {
                chars.next();
                out.push('\u{b}');
            }
            Some('x') => {
                chars.next();
                out.push(hex(&mut chars, 2).unwrap_or('?'));
            }
            Some('u') => {
                chars.next();
                out.push(hex(&mut chars, 4).unwrap_or('?'));
            }
            Some('U') => {
                chars.next();
                out.push(hex(&mut chars, 8).unwrap_or('?'));
            }
            _ => out.push('\\'),
        }
    }
    out
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_form() {
        let m = parse_free_form("command", "echo hi creates=/tmp/x chdir=/srv");
        assert_eq!(m["_raw_params"], Value::str("echo hi"));
        assert_eq!(m["creates"], Value::str("/tmp/x"));
        let m = parse_free_form("file", "path=/a state=directory mode='0755'");
        assert_eq!(m["mode"], Value::str("0755"));
        let m = parse_free_form("debug", "msg=\"{{ a }} b\"");
        assert_eq!(m["msg"], Value::str("{{ a }} b"));
    }
}
