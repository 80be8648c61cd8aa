//! Host key verification against OpenSSH known_hosts files: plain and hashed (`|1|`)
//! names, `[host]:port`, wildcards and `!` negation, `@revoked` (refuse) and
//! `@cert-authority` (ignored: certificates are not supported), comments, tabs.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::PublicKey;
use std::path::{Path, PathBuf};

/// The result of looking a host's key up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A line lists this exact key for this host.
    Known,
    /// Lines list keys of the same type for this host, none of them this one.
    Changed { file: PathBuf, line: usize },
    /// The key is marked `@revoked`.
    Revoked { file: PathBuf, line: usize },
    /// Nothing is recorded for this host with this key type.
    Unknown,
}

/// How `host` appears in known_hosts: `host`, or `[host]:port` off port 22.
pub(super) fn host_key_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Checks `key` for `host:port` against every file, in order.
pub(super) fn check(files: &[PathBuf], host: &str, port: u16, key: &PublicKey) -> Verdict {
    let name = host_key_name(host, port);
    let want_alg = key.algorithm();
    let mut changed = None;
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let mut marker = None;
            if first.starts_with('@') {
                marker = Some(first);
                first = fields.next().unwrap_or_default();
            }
            let (Some(alg), Some(b64)) = (fields.next(), fields.next()) else {
                continue;
            };
            if !hosts_match(first, &name) {
                continue;
            }
            let Ok(recorded) = PublicKey::from_openssh(&format!("{alg} {b64}")) else {
                continue;
            };
            match marker {
                Some("@revoked") if recorded.key_data() == key.key_data() => {
                    return Verdict::Revoked {
                        file: file.clone(),
                        line: i + 1,
                    };
                }
                Some(_) => continue,
                None => {}
            }
            if recorded.key_data() == key.key_data() {
                return Verdict::Known;
            }
            if recorded.algorithm() == want_alg && changed.is_none() {
                changed = Some(Verdict::Changed {
                    file: file.clone(),
                    line: i + 1,
                });
            }
        }
    }
    changed.unwrap_or(Verdict::Unknown)
}

/// A comma-separated host list (patterns, negations, hashes) against `name`.
fn hosts_match(list: &str, name: &str) -> bool {
    let mut matched = false;
    for entry in list.split(',') {
        if let Some(hashed) = entry.strip_prefix("|1|") {
            if hashed_matches(hashed, name) {
                matched = true;
            }
            continue;
        }
        let (negate, pattern) = match entry.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, entry),
        };
        if glob_match(&pattern.to_lowercase(), &name.to_lowercase()) {
            if negate {
                return false;
            }
            matched = true;
        }
    }
    matched
}

fn hashed_matches(hashed: &str, name: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut parts = hashed.split('|');
    let (Some(Ok(salt)), Some(Ok(hash))) = (
        parts.next().map(|s| b64.decode(s)),
        parts.next().map(|s| b64.decode(s)),
    ) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// OpenSSH's `match_pattern`: `*` and `?` wildcards.
fn glob_match(pattern: &str, s: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Appends a host's key (OpenSSH's accept-new).
pub(super) fn learn(file: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    let line = key.to_openssh().map_err(std::io::Error::other)?;
    writeln!(
        f,
        "{} {}",
        host_key_name(host, port),
        line.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// `SHA256:...`, as OpenSSH prints a key.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(russh::keys::HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEyjwRkVjmxbrImY+tkC6RBe7LAQEnVEgc7CcYVUj9kI";
    const OTHER: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKOtbzeA0T5Kvf0JcsYiX1+mkFKZRlM0Ra9+72aajtke";

    fn file(text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("kh-{}-{}", std::process::id(), text.len()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn verdicts() {
        let key = PublicKey::from_openssh(KEY).unwrap();
        let f = file(&format!(
            "# c\n[10.0.0.1]:2222\t{KEY}\n*.example.com,!bad.example.com {OTHER}\n"
        ));
        assert_eq!(
            check(std::slice::from_ref(&f), "10.0.0.1", 2222, &key),
            Verdict::Known
        );
        assert_eq!(
            check(std::slice::from_ref(&f), "10.0.0.1", 22, &key),
            Verdict::Unknown
        );
        assert!(matches!(
            check(std::slice::from_ref(&f), "a.example.com", 22, &key),
            Verdict::Changed { line: 3, .. }
        ));
        assert_eq!(check(&[f], "bad.example.com", 22, &key), Verdict::Unknown);
    }

    #[test]
    fn hashed_entries() {
        // `ssh-keygen -H` style entry for "127.42.1.1".
        let salt = [7u8; 20];
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"127.42.1.1");
        let b64 = base64::engine::general_purpose::STANDARD;
        let entry = format!(
            "|1|{}|{}",
            b64.encode(salt),
            b64.encode(mac.finalize().into_bytes())
        );
        let f = file(&format!("{entry} {KEY}\n@revoked * {OTHER}\n"));
        let key = PublicKey::from_openssh(KEY).unwrap();
        assert_eq!(
            check(std::slice::from_ref(&f), "127.42.1.1", 22, &key),
            Verdict::Known
        );
        let other = PublicKey::from_openssh(OTHER).unwrap();
        assert!(matches!(
            check(&[f], "x", 22, &other),
            Verdict::Revoked { .. }
        ));
    }
}
