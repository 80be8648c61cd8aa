//! A package as dpkg and apt's policy see it, and Ansible's package_status decision.

use super::version;
use crate::transport::sh_quote;
use std::cmp::Ordering;

/// One package as dpkg and apt's policy see it.
#[derive(Debug, Default)]
pub(super) struct Status {
    /// Known to apt (a version table, or installed).
    pub(super) known: bool,
    pub(super) installed: bool,
    pub(super) installed_version: Option<String>,
    /// Something of it is on disk (installed, or removed with its conffiles left).
    pub(super) has_files: bool,
    /// Marked automatically installed.
    pub(super) auto: bool,
    pub(super) candidate: Option<String>,
    /// Every version apt knows, highest first.
    pub(super) versions: Vec<String>,
}

/// `name`, `name=VERSION` or `name>=VERSION` (Ansible's package_split).
pub(super) fn split_spec(spec: &str) -> (&str, Option<&str>, Option<&str>) {
    if let Some(i) = spec.find('=') {
        if i > 0 && spec.as_bytes()[i - 1] == b'>' {
            return (&spec[..i - 1], Some(">="), Some(&spec[i + 1..]));
        }
        return (&spec[..i], Some("="), Some(&spec[i + 1..]));
    }
    (spec, None, None)
}

pub(super) fn glob(pattern: &str, s: &str) -> bool {
    globset::Glob::new(pattern).map_or(pattern == s, |g| g.compile_matcher().is_match(s))
}

/// The script that prints, for each package, dpkg's status line and apt's policy.
pub(super) fn status_script(names: &[&str], release: Option<&str>) -> String {
    let t = release.map_or(String::new(), |r| format!("-t {} ", sh_quote(r)));
    let mut s = String::from("auto=\" $(apt-mark showauto 2>/dev/null | tr '\\n' ' ') \"; ");
    for n in names {
        let q = sh_quote(n);
        s.push_str(&format!(
            "echo '@@pkg'; dpkg-query -W -f='${{db:Status-Abbrev}}|${{Version}}\\n' {q} 2>/dev/null | head -n1; case \"$auto\" in *\" \"{q}\" \"*) echo '@@auto';; esac; echo '@@policy'; apt-cache {t}policy {q} 2>/dev/null; "
        ));
    }
    s
}

pub(super) fn parse_status(block: &str) -> Status {
    let mut st = Status::default();
    let (dpkg, policy) = block.split_once("@@policy\n").unwrap_or((block, ""));
    for l in dpkg.lines() {
        if l == "@@auto" {
            st.auto = true;
        } else if let Some((abbrev, ver)) = l.split_once('|') {
            let b = abbrev.as_bytes();
            st.installed = b.get(1) == Some(&b'i');
            st.has_files = b.get(1).is_some_and(|c| *c != b'n');
            if st.installed {
                st.installed_version = Some(ver.trim().to_string());
            }
        }
    }
    let mut in_table = false;
    for l in policy.lines() {
        let t = l.trim();
        if l.ends_with(':') && !l.starts_with(' ') {
            st.known = true;
        } else if let Some(c) = t.strip_prefix("Candidate:") {
            let c = c.trim();
            st.candidate = (c != "(none)").then(|| c.to_string());
        } else if t == "Version table:" {
            in_table = true;
        } else if in_table {
            // `     2.0 500` or ` *** 1.0 100`; the lines under it name the sources.
            let t = t.strip_prefix("*** ").unwrap_or(t);
            let parts: Vec<&str> = t.split_whitespace().collect();
            if parts.len() == 2
                && parts[1].bytes().all(|c| c.is_ascii_digit() || c == b'-')
                && !l.starts_with("        ")
            {
                st.versions.push(parts[0].to_string());
            }
        }
    }
    st
}

/// Ansible's package_status: (installed, installed version matching, version to
/// install: Some(None) for "whatever apt picks").
pub(super) fn decide(
    st: &Status,
    cmp: Option<&str>,
    want: Option<&str>,
) -> (bool, bool, Option<Option<String>>) {
    if !st.known && !st.installed {
        return (false, false, Some(None));
    }
    let best = match (cmp, want) {
        (Some("="), Some(w)) => st.versions.iter().find(|v| glob(w, v)).cloned(),
        _ => st.candidate.clone(),
    };
    let Some(inst) = st.installed_version.as_deref().filter(|_| st.installed) else {
        return (false, false, best.map(Some));
    };
    let matches = |v: &str| match (cmp, want) {
        (Some("="), Some(w)) => glob(w, v),
        (Some(">="), Some(w)) => version::compare(v, w) != Ordering::Less,
        _ => true,
    };
    let installable = best.filter(|b| b != inst && matches(b)).map(Some);
    (true, matches(inst), installable)
}

#[cfg(test)]
mod tests {
    use super::{decide, parse_status, split_spec};

    const POLICY: &str = "ii |1.0\n@@policy\ntprov-dummy:\n  Installed: 1.0\n  Candidate: 2.0\n  Version table:\n     2.0 500\n        500 file:/srv/repo ./ Packages\n *** 1.0 100\n        100 /var/lib/dpkg/status\n";

    #[test]
    fn reads_dpkg_and_the_policy() {
        let st = parse_status(POLICY);
        assert!(st.known && st.installed && st.has_files);
        assert_eq!(st.installed_version.as_deref(), Some("1.0"));
        assert_eq!(st.candidate.as_deref(), Some("2.0"));
        assert_eq!(st.versions, ["2.0", "1.0"]);
        // present: installed, nothing to do unless upgrading
        assert_eq!(
            decide(&st, None, None),
            (true, true, Some(Some("2.0".into())))
        );
        assert_eq!(decide(&st, Some("="), Some("1.*")), (true, true, None));
        assert_eq!(
            decide(&st, Some("="), Some("2.0")),
            (true, false, Some(Some("2.0".into())))
        );
        assert_eq!(
            decide(&st, Some(">="), Some("1.5")),
            (true, false, Some(Some("2.0".into())))
        );
        assert_eq!(split_spec("a>=1.2"), ("a", Some(">="), Some("1.2")));
        assert_eq!(split_spec("a=1.*"), ("a", Some("="), Some("1.*")));
        let gone = parse_status("un |\n@@policy\n");
        assert!(!gone.known && !gone.installed && !gone.has_files);
        let conf = parse_status("rc |1.0\n@@policy\nx:\n  Installed: (none)\n  Candidate: 1.0\n");
        assert!(conf.has_files && !conf.installed);
    }
}
