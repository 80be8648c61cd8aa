//! Host patterns and `--limit`, with Ansible's grammar (`inventory/manager.py`): `,` or
//! `:` separated unions, `&` intersections and `!` exclusions applied in that order
//! whatever order they were written in, fnmatch globs, `~regex`, `group[0]` / `[1:]`
//! subscripts, and `@file` limits.
//!
//! Beyond Ansible: a short alias (`sandbox3`) selects `sandbox3.tokenoftrust.com` when
//! exactly one host has that first label, and a limit that leaves no host is an error.

use super::{HostId, Inventory, parse_address};
use regex::Regex;
use std::collections::HashSet;
use std::path::Path;
use std::sync::LazyLock;

static SUBSCRIPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").expect("static regex")
});
static COLON_SPLIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("static regex"));

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError(pub String);

/// The hosts a pattern selected, and what the user should be told about it.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    pub hosts: Vec<HostId>,
    pub warnings: Vec<String>,
}

/// Ansible's `split_host_pattern`: commas win; otherwise one address (`host:port`,
/// IPv6, a range) stays whole; otherwise split on `:` outside brackets.
pub(crate) fn split_host_pattern(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if parse_address(pattern, true).is_ok() {
        vec![pattern.to_string()]
    } else {
        COLON_SPLIT
            .find_iter(pattern)
            .map(|m| m.as_str().to_string())
            .collect()
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Splits a `--limit` value, reading `@file` entries (one pattern per line).
pub(crate) fn limit_patterns(limit: &str, base: &Path) -> Result<Vec<String>, PatternError> {
    let mut out = Vec::new();
    for p in split_host_pattern(limit) {
        if let Some(file) = p.strip_prefix('@') {
            let path = base.join(file);
            if !path.exists() {
                return Err(PatternError(format!("Unable to find limit file {file}")));
            }
            if !path.is_file() {
                return Err(PatternError(format!(
                    "Limit starting with \"@\" must be a file, not a directory: {file}"
                )));
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| PatternError(format!("cannot read limit file {file}: {e}")))?;
            out.extend(
                text.split('\n')
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty()),
            );
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// Python's `fnmatch.translate`, for the regex crate, anchored at both ends.
pub(crate) fn fnmatch_to_regex(pat: &str) -> String {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let mut class: String = String::from("[");
                    let mut k = i;
                    if chars[k] == '!' {
                        class.push('^');
                        k += 1;
                    } else if chars[k] == '^' {
                        class.push_str("\\^");
                        k += 1;
                    }
                    for &ch in &chars[k..j] {
                        match ch {
                            '\\' | '[' | '&' | '~' | ']' => {
                                class.push('\\');
                                class.push(ch);
                            }
                            _ => class.push(ch),
                        }
                    }
                    class.push(']');
                    out.push_str(&class);
                    i = j + 1;
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    out
}

enum Matcher {
    Exact(String),
    Re(Regex),
}

impl Matcher {
    fn new(pattern: &str) -> Result<Matcher, PatternError> {
        let bad =
            |e: regex::Error| PatternError(format!("Invalid host list pattern: {pattern}: {e}"));
        if let Some(re) = pattern.strip_prefix('~') {
            // Python's `re.match`: anchored at the start only.
            return Regex::new(&format!("^(?:{re})"))
                .map(Matcher::Re)
                .map_err(bad);
        }
        if !pattern.contains(['*', '?', '[']) {
            return Ok(Matcher::Exact(pattern.to_string()));
        }
        Regex::new(&fnmatch_to_regex(pattern))
            .map(Matcher::Re)
            .map_err(bad)
    }

    fn is_match(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(p) => p == s,
            Matcher::Re(re) => re.is_match(s),
        }
    }
}

/// Ansible's `order_patterns`: plain, then `&`, then `!`; `all` if only `&`/`!` given.
fn order_patterns(patterns: &[String]) -> Vec<String> {
    let mut regular = Vec::new();
    let mut and = Vec::new();
    let mut not = Vec::new();
    for p in patterns.iter().filter(|p| !p.is_empty()) {
        match p.chars().next() {
            Some('!') => not.push(p.clone()),
            Some('&') => and.push(p.clone()),
            _ => regular.push(p.clone()),
        }
    }
    if regular.is_empty() {
        regular.push("all".into());
    }
    regular.into_iter().chain(and).chain(not).collect()
}

struct Resolver<'a> {
    inv: &'a Inventory,
    warnings: Vec<String>,
}

impl Resolver<'_> {
    fn evaluate(&mut self, patterns: &[String]) -> Result<Vec<HostId>, PatternError> {
        let mut hosts: Vec<HostId> = Vec::new();
        for p in order_patterns(patterns) {
            if let Some(h) = self.inv.host_id(&p) {
                hosts.push(h);
                continue;
            }
            let that = self.match_one(&p)?;
            match p.chars().next() {
                Some('!') => {
                    let that: HashSet<HostId> = that.into_iter().collect();
                    hosts.retain(|h| !that.contains(h));
                }
                Some('&') => {
                    let that: HashSet<HostId> = that.into_iter().collect();
                    hosts.retain(|h| that.contains(h));
                }
                _ => {
                    let existing: HashSet<HostId> = hosts.iter().copied().collect();
                    hosts.extend(that.into_iter().filter(|h| !existing.contains(h)));
                }
            }
        }
        Ok(hosts)
    }

    fn match_one(&mut self, pattern: &str) -> Result<Vec<HostId>, PatternError> {
        let pattern = pattern.strip_prefix(['&', '!']).unwrap_or(pattern);
        let (expr, subscript) = split_subscript(pattern);
        let hosts = self.enumerate(&expr)?;
        apply_subscript(hosts, subscript).ok_or_else(|| {
            PatternError(format!(
                "No hosts matched the subscripted pattern '{pattern}'"
            ))
        })
    }

    fn enumerate(&mut self, pattern: &str) -> Result<Vec<HostId>, PatternError> {
        let m = Matcher::new(pattern)?;
        let mut results = Vec::new();
        let mut matched_group = false;
        for (gid, g) in self.inv.groups().enumerate() {
            if m.is_match(&g.name) {
                matched_group = true;
                results.extend(self.inv.group_hosts(gid));
            }
        }
        if !matched_group || pattern.starts_with('~') || pattern.contains(['.', '?', '*', '[']) {
            for (hid, h) in self.inv.hosts().enumerate() {
                if m.is_match(&h.name) {
                    results.push(hid);
                }
            }
        }
        if results.is_empty() && !matched_group && matches!(m, Matcher::Exact(_)) {
            results.extend(self.short_alias(pattern)?);
        }
        if results.is_empty() && !matched_group && pattern != "all" {
            self.warnings.push(format!(
                "Could not match supplied host pattern, ignoring: {pattern}"
            ));
        }
        Ok(results)
    }

    /// `sandbox3` for `sandbox3.tokenoftrust.com`, when exactly one host fits.
    fn short_alias(&self, alias: &str) -> Result<Option<HostId>, PatternError> {
        if alias.contains('.') || alias.starts_with('~') {
            return Ok(None);
        }
        let candidates: Vec<HostId> = (0..self.inv.host_count())
            .filter(|h| {
                self.inv.host(*h).name.split('.').next() == Some(alias)
                    && self.inv.host(*h).name != alias
            })
            .collect();
        match candidates.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(PatternError(format!(
                "'{alias}' is ambiguous: it could be any of {}",
                many.iter()
                    .map(|h| self.inv.host(*h).name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

fn split_subscript(pattern: &str) -> (String, Option<(i64, Option<i64>)>) {
    if pattern.starts_with('~') {
        return (pattern.to_string(), None);
    }
    let Some(c) = SUBSCRIPT.captures(pattern) else {
        return (pattern.to_string(), None);
    };
    let expr = c.get(1).map_or("", |m| m.as_str()).to_string();
    if let Some(idx) = c.get(2) {
        return (expr, Some((idx.as_str().parse().unwrap_or(0), None)));
    }
    let start = c.get(3).map_or(0, |m| m.as_str().parse().unwrap_or(0));
    let end = c
        .get(5)
        .map(|m| m.as_str())
        .filter(|s| !s.is_empty())
        .map_or(-1, |s| s.parse().unwrap_or(-1));
    (expr, Some((start, Some(end))))
}

/// Python slicing semantics; `None` when a single index is out of range.
fn apply_subscript(
    hosts: Vec<HostId>,
    subscript: Option<(i64, Option<i64>)>,
) -> Option<Vec<HostId>> {
    let Some((start, end)) = subscript else {
        return Some(hosts);
    };
    if hosts.is_empty() {
        return Some(hosts);
    }
    let len = hosts.len() as i64;
    match end {
        // Python treats end == 0 as falsy: a single index.
        Some(end) if end != 0 => {
            let end = if end == -1 { len - 1 } else { end };
            let norm = |i: i64| if i < 0 { (i + len).max(0) } else { i.min(len) };
            let (s, e) = (norm(start), norm(end + 1));
            Some(if s < e {
                hosts[s as usize..e as usize].to_vec()
            } else {
                Vec::new()
            })
        }
        _ => {
            let i = if start < 0 { start + len } else { start };
            (0..len).contains(&i).then(|| vec![hosts[i as usize]])
        }
    }
}

/// Selects hosts for `pattern`, restricted by `limit` (already split, see
/// [`limit_patterns`]). Hosts come in inventory order, each once.
pub(crate) fn select(
    inv: &Inventory,
    pattern: &str,
    limit: Option<&[String]>,
) -> Result<Selection, PatternError> {
    let mut r = Resolver {
        inv,
        warnings: Vec::new(),
    };
    let mut hosts = r.evaluate(&split_host_pattern(pattern))?;
    if let Some(limit) = limit {
        let subset: HashSet<HostId> = r.evaluate(limit)?.into_iter().collect();
        hosts.retain(|h| subset.contains(h));
    }
    let mut seen = HashSet::new();
    hosts.retain(|h| seen.insert(*h));
    Ok(Selection {
        hosts,
        warnings: r.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(split_host_pattern("web:&db,app1"), ["web:&db", "app1"]);
        assert_eq!(split_host_pattern("web:&db:!app1"), ["web", "&db", "!app1"]);
        assert_eq!(split_host_pattern("app1:2222"), ["app1:2222"]);
        assert_eq!(split_host_pattern("web[1:3]"), ["web[1:3]"]);
        assert_eq!(split_host_pattern(" a , b "), ["a", "b"]);
    }

    #[test]
    fn fnmatch() {
        let re = Regex::new(&fnmatch_to_regex("app0[1:7]*")).unwrap();
        assert!(re.is_match("app01"));
        assert!(re.is_match("app07"));
        assert!(!re.is_match("app04"));
        let re = Regex::new(&fnmatch_to_regex("web*.com")).unwrap();
        assert!(re.is_match("web1.example.com"));
        let re = Regex::new(&fnmatch_to_regex("h[!a]")).unwrap();
        assert!(re.is_match("hb") && !re.is_match("ha"));
    }
}
