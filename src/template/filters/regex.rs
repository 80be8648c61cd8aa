//! Ansible's `regex_*` filters and Python's `re` syntax translated to the regex crate's.

use super::err;
use crate::template::convert::py_str;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, Value as MjValue};

/// The regex filters.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter(
        "regex_escape",
        |s: MjValue, re_type: Option<String>, k: Kwargs| -> Result<String, Error> {
            let re_type = match re_type {
                Some(t) => t,
                None => k
                    .get::<Option<String>>("re_type")?
                    .unwrap_or_else(|| "python".into()),
            };
            k.assert_all_used()?;
            let text = py_str(&s)?;
            match re_type.as_str() {
                "python" => Ok(python_re_escape(&text)),
                // The BRE specials `].[^$*\`, each escaped.
                "posix_basic" => Ok(text
                    .chars()
                    .flat_map(|c| {
                        let special = "].[^$*\\".contains(c);
                        special.then_some('\\').into_iter().chain([c])
                    })
                    .collect()),
                "posix_extended" => Err(err(format!("Regex type ({re_type}) not yet implemented"))),
                _ => Err(err(format!("Invalid regex type ({re_type})"))),
            }
        },
    );
}

/// Python `re` syntax to the regex crate's, for the common subset.
fn py_regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<regex::Regex, Error> {
    let mut b = regex::RegexBuilder::new(pattern);
    b.case_insensitive(ignorecase).multi_line(multiline);
    b.build()
        .map_err(|e| err(format!("invalid regular expression {pattern:?}: {e}")))
}

/// Python replacement strings (`\1`, `\g<name>`) to the regex crate's (`${1}`).
pub(crate) fn py_replacement(rep: &str) -> String {
    let mut out = String::new();
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

fn regex_replace(
    v: MjValue,
    pattern: Option<String>,
    replacement: Option<String>,
    k: Kwargs,
) -> Result<String, Error> {
    let value = if v.is_none() {
        String::new()
    } else {
        py_str(&v)?
    };
    let ignorecase = k.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = k.get::<Option<bool>>("multiline")?.unwrap_or(false);
    let count = k.get::<Option<usize>>("count")?.unwrap_or(0);
    let mandatory = k.get::<Option<usize>>("mandatory_count")?.unwrap_or(0);
    k.assert_all_used()?;
    let pattern = pattern.unwrap_or_default();
    let re = py_regex(&pattern, ignorecase, multiline)?;
    let rep = py_replacement(&replacement.unwrap_or_default());
    if mandatory > 0 {
        let found = re.find_iter(&value).count();
        let subs = if count > 0 { found.min(count) } else { found };
        if subs != mandatory {
            // Ansible's message gives `count` where it means the matches.
            return Err(err(format!(
                "'{pattern}' should match {mandatory} times, but matches {count} times in '{value}'"
            )));
        }
    }
    Ok(re.replacen(&value, count, rep.as_str()).into_owned())
}

fn regex_search(
    v: MjValue,
    pattern: String,
    groups: minijinja::value::Rest<String>,
    k: Kwargs,
) -> Result<MjValue, Error> {
    let value = py_str(&v)?;
    // Group arguments as Ansible reads them (a prefix match): `\\g<name>` or `\\N`.
    enum Group {
        Name(String),
        Index(usize),
    }
    let mut wanted = Vec::new();
    for g in groups.iter() {
        if let Some(rest) = g.strip_prefix("\\g") {
            let name = rest
                .strip_prefix('<')
                .and_then(|r| r.split_once('>'))
                .map(|(n, _)| n)
                .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
                .ok_or_else(|| err(format!("regex_search: bad group argument {g:?}")))?;
            wanted.push(Group::Name(name.to_string()));
        } else if let Some(rest) = g.strip_prefix('\\') {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let n = digits
                .parse::<usize>()
                .map_err(|_| err(format!("regex_search: bad group argument {g:?}")))?;
            wanted.push(Group::Index(n));
        } else {
            return Err(err("Unknown argument"));
        }
    }
    let re = py_regex(
        &pattern,
        k.get::<Option<bool>>("ignorecase")?.unwrap_or(false),
        k.get::<Option<bool>>("multiline")?.unwrap_or(false),
    )?;
    let Some(c) = re.captures(&value) else {
        return Ok(MjValue::from(()));
    };
    if wanted.is_empty() {
        return Ok(MjValue::from(c.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for g in &wanted {
        let m = match g {
            Group::Name(name) => c.name(name),
            Group::Index(n) => c.get(*n),
        };
        out.push(m.map_or(MjValue::from(()), |m| MjValue::from(m.as_str())));
    }
    Ok(MjValue::from(out))
}

fn regex_findall(v: MjValue, pattern: String, k: Kwargs) -> Result<MjValue, Error> {
    let value = py_str(&v)?;
    let re = py_regex(
        &pattern,
        k.get::<Option<bool>>("ignorecase")?.unwrap_or(false),
        k.get::<Option<bool>>("multiline")?.unwrap_or(false),
    )?;
    let groups = re.captures_len() - 1;
    let out: Vec<MjValue> = re
        .captures_iter(&value)
        .map(|c| match groups {
            0 => MjValue::from(c.get(0).map_or("", |m| m.as_str())),
            1 => MjValue::from(c.get(1).map_or("", |m| m.as_str())),
            _ => MjValue::from(
                (1..=groups)
                    .map(|i| MjValue::from(c.get(i).map_or("", |m| m.as_str())))
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    Ok(MjValue::from(out))
}

/// Python's `re.escape`: escapes every special character.
fn python_re_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
