//! The parts of `~/.ssh/config` tprov honours: `Host` blocks (patterns, `!` negation),
//! `HostName`, `User`, `Port`, `IdentityFile`, `UserKnownHostsFile`,
//! `StrictHostKeyChecking`, `ConnectTimeout`, `ProxyJump`. First value wins, as in
//! OpenSSH. `Key=Value` and tab-separated lines are understood; `Include` and `Match`
//! are not.

use std::path::Path;

/// The options that apply to `host`, in file order (first wins when applied).
pub fn options_for(path: &Path, host: &str) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut active = true;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(|c: char| c == '=' || c.is_whitespace()) {
            Some((k, v)) => (k.trim(), v.trim().trim_start_matches('=').trim()),
            None => (line, ""),
        };
        let value = value.trim_matches('"');
        match key.to_lowercase().as_str() {
            "host" => active = host_matches(value, host),
            "match" => active = false,
            k if active && (k == "identityfile" || !out.iter().any(|(ok, _)| ok == k)) => {
                out.push((k.to_string(), value.to_string()));
            }
            _ => {}
        }
    }
    out
}

fn host_matches(patterns: &str, host: &str) -> bool {
    let mut matched = false;
    for p in patterns.split_whitespace() {
        let (neg, p) = match p.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, p),
        };
        if glob(p, host) {
            if neg {
                return false;
            }
            matched = true;
        }
    }
    matched
}

fn glob(p: &str, s: &str) -> bool {
    match (p.chars().next(), s.chars().next()) {
        (None, None) => true,
        (Some('*'), _) => {
            glob(&p[1..], s)
                || (!s.is_empty() && glob(p, &s[s.chars().next().map_or(1, char::len_utf8)..]))
        }
        (Some('?'), Some(c)) => glob(&p[1..], &s[c.len_utf8()..]),
        (Some(a), Some(b)) if a.eq_ignore_ascii_case(&b) => {
            glob(&p[a.len_utf8()..], &s[b.len_utf8()..])
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_patterns() {
        let p = std::env::temp_dir().join(format!("sshcfg-{}", std::process::id()));
        std::fs::write(&p, "Host sandbox* !sandbox9\n  HostName 10.0.0.3\n  User=deploy\n\tPort 2222\nHost *\n  User root\n  IdentityFile ~/.ssh/a\n").unwrap();
        let o = options_for(&p, "sandbox3");
        assert_eq!(o[0], ("hostname".into(), "10.0.0.3".into()));
        assert_eq!(o[1], ("user".into(), "deploy".into()));
        assert_eq!(o[2], ("port".into(), "2222".into()));
        assert_eq!(o.len(), 4);
        let o = options_for(&p, "sandbox9");
        assert_eq!(o[0], ("user".into(), "root".into()));
    }
}
